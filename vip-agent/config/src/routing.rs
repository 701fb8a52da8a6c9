//! Routes, policy rules and static addresses: keepalived's `virtual_routes`,
//! `virtual_rules` (installed while an instance is Master) and the
//! `static_routes`, `static_rules` and `static_ipaddress` blocks (installed
//! for as long as the agent runs). Every value is what the kernel is sent:
//! keepalived's defaults (protocol `keepalived`, rule preferences counted
//! down from 16384, ...) are filled in.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::model::AddressFamily;

/// The protocol keepalived marks its routes and rules with (`RTPROT_KEEPALIVED`).
pub const PROTOCOL_KEEPALIVED: u8 = 18;

/// The main routing table.
pub const TABLE_MAIN: u32 = 254;

/// `ADDRESS/LENGTH`; `default`, `any` and `all` are the zero address with length 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prefix {
    pub address: IpAddr,
    pub prefix_len: u8,
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// The route types of `ip route` (`RTN_*`); keepalived writes the name
/// (or a number) before the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
    /// A type given by number that has no name here.
    Other(u8),
}

impl RouteType {
    /// The names keepalived 2.2.7 knows (`brd` is `broadcast`).
    pub const NAMED: [(&'static str, RouteType); 12] = [
        ("unicast", RouteType::Unicast),
        ("local", RouteType::Local),
        ("broadcast", RouteType::Broadcast),
        ("brd", RouteType::Broadcast),
        ("anycast", RouteType::Anycast),
        ("multicast", RouteType::Multicast),
        ("blackhole", RouteType::Blackhole),
        ("unreachable", RouteType::Unreachable),
        ("prohibit", RouteType::Prohibit),
        ("throw", RouteType::Throw),
        ("nat", RouteType::Nat),
        ("xresolve", RouteType::Xresolve),
    ];

    /// The kernel's `RTN_*` number.
    pub fn number(self) -> u8 {
        match self {
            RouteType::Unicast => 1,
            RouteType::Local => 2,
            RouteType::Broadcast => 3,
            RouteType::Anycast => 4,
            RouteType::Multicast => 5,
            RouteType::Blackhole => 6,
            RouteType::Unreachable => 7,
            RouteType::Prohibit => 8,
            RouteType::Throw => 9,
            RouteType::Nat => 10,
            RouteType::Xresolve => 11,
            RouteType::Other(n) => n,
        }
    }

    pub fn from_number(number: u8) -> Self {
        Self::NAMED
            .iter()
            .map(|(_, kind)| *kind)
            .find(|kind| kind.number() == number)
            .unwrap_or(RouteType::Other(number))
    }

    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(_, kind)| *kind == self)
            .map(|(name, _)| *name)
    }
}

/// How a route is added when one with the same destination, TOS and
/// metric exists (keepalived's `prepend`, the default, `add`, `append`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    /// Before the existing ones (`NLM_F_CREATE`).
    #[default]
    Prepend,
    /// Refused if one exists (`NLM_F_CREATE | NLM_F_EXCL`), as `ip route add`.
    Add,
    /// After the existing ones (`NLM_F_CREATE | NLM_F_APPEND`).
    Append,
}

/// Route metrics (`RTA_METRICS`); `lock` holds `1 << RTAX_*` of the locked ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// In the kernel's unit, 1/8 ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<u32>,
    /// In the kernel's unit, 1/4 ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rttvar: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reordering: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoplimit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initcwnd: Option<u32>,
    /// Milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrwnd: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quickack: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fastopen_no_cookie: Option<u32>,
    /// `features ecn`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub features_ecn: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub congctl: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub lock: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Kernel indices of the metrics (`RTAX_*`), for [`RouteMetrics::lock`].
pub mod rtax {
    pub const MTU: u32 = 2;
    pub const WINDOW: u32 = 3;
    pub const RTT: u32 = 4;
    pub const RTTVAR: u32 = 5;
    pub const SSTHRESH: u32 = 6;
    pub const CWND: u32 = 7;
    pub const ADVMSS: u32 = 8;
    pub const REORDERING: u32 = 9;
    pub const HOPLIMIT: u32 = 10;
    pub const INITCWND: u32 = 11;
    pub const FEATURES: u32 = 12;
    pub const RTO_MIN: u32 = 13;
    pub const INITRWND: u32 = 14;
    pub const QUICKACK: u32 = 15;
    pub const CC_ALGO: u32 = 16;
    pub const FASTOPEN_NO_COOKIE: u32 = 17;
}

impl RouteMetrics {
    pub fn is_empty(&self) -> bool {
        *self == RouteMetrics::default()
    }

    pub fn locked(&self, rtax: u32) -> bool {
        self.lock & (1 << rtax) != 0
    }
}

/// One `nexthop` of a multipath route (or the two hops of the old `or`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct NextHop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// `weight W` (1-256), sent as W - 1 (`rtnh_hops`).
    pub weight: Option<u16>,
    pub onlink: bool,
    pub realms: Option<u32>,
}

/// A route as keepalived sends it to the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Route {
    pub family: AddressFamily,
    #[serde(rename = "type")]
    pub kind: RouteType,
    pub destination: Prefix,
    /// `from PREFIX` (IPv6 source routing, `RTA_SRC`).
    pub from: Option<Prefix>,
    /// `src ADDRESS`, the preferred source (`RTA_PREFSRC`).
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub table: u32,
    pub metric: Option<u32>,
    /// None: universe (keepalived sends universe whatever the route).
    pub scope: Option<u8>,
    pub protocol: u8,
    pub tos: u8,
    pub onlink: bool,
    pub realms: Option<u32>,
    /// IPv6 only: seconds until the kernel removes the route.
    pub expires: Option<u32>,
    pub metrics: RouteMetrics,
    /// IPv6 router preference (`RTA_PREF`).
    pub pref: Option<u8>,
    pub ttl_propagate: Option<bool>,
    pub nexthops: Vec<NextHop>,
    pub mode: RouteMode,
    /// Watched for removal by someone else (keepalived: unless `no_track`,
    /// and only for a route with `dev`).
    pub track: bool,
}

/// What a policy rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// `table N` / `lookup N`.
    Table(u32),
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    /// `l3mdev`: the table of the packet's VRF device.
    L3mdev,
}

impl RuleAction {
    /// The kernel's `FR_ACT_*` number.
    pub fn number(self) -> u8 {
        match self {
            RuleAction::Table(_) | RuleAction::L3mdev => 1,
            RuleAction::Goto(_) => 2,
            RuleAction::Nop => 3,
            RuleAction::Blackhole => 6,
            RuleAction::Unreachable => 7,
            RuleAction::Prohibit => 8,
        }
    }
}

/// A port range of `sport`/`dport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// A policy rule as keepalived sends it to the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub family: AddressFamily,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    pub action: RuleAction,
    /// Always set: keepalived gives a rule without one the next of 16384,
    /// 16383, ... (per family).
    pub priority: u32,
    /// `not`.
    pub invert: bool,
    pub tos: u8,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub realms: Option<u32>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tunnel_id: Option<u64>,
    pub uid_range: Option<(u32, u32)>,
    /// `keepalived` (18) for a tracked rule; an untracked one carries the
    /// one written, or none.
    pub protocol: Option<u8>,
    pub ip_proto: Option<u8>,
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    /// Watched for removal by someone else (keepalived: unless `no_track`).
    pub track: bool,
}

/// A `static_ipaddress` line: kept on its interface while the agent runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StaticAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
    /// `dev`, else `global_defs` `default_interface`, else eth0 (keepalived's rule).
    pub dev: String,
    pub label: Option<String>,
    /// Put back when someone else removes it (keepalived: unless `no_track`).
    pub track: bool,
}
