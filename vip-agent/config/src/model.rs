//! The typed configuration. Every value is the effective one: defaults and
//! values inherited from `global_defs` are already filled in, so the rest of
//! the agent never needs to know keepalived's defaulting rules.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::routing::{Route, Rule, StaticAddress};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Config {
    pub global: GlobalDefs,
    pub scripts: Vec<VrrpScript>,
    /// `track_file` (and its older name `vrrp_track_file`) sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackFile>,
    /// `vrrp_track_process` sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackProcess>,
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    /// `static_ipaddress`: added at start, kept while the agent runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_addresses: Vec<StaticAddress>,
    /// `static_routes`: added at start (after the static addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<Route>,
    /// `static_rules`: added at start (after the static routes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<Rule>,
}

impl Config {
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|instance| instance.name == name)
    }

    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|script| script.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalDefs {
    /// keepalived uses the host name when unset; resolving it is left to the agent.
    pub router_id: Option<String>,
    /// Default VRRP version of instances (2 or 3).
    pub vrrp_version: u8,
    pub garp: GarpSettings,
    /// Delay between gratuitous ARPs sent on one interface, microseconds.
    pub garp_interval_us: u64,
    /// Delay between unsolicited neighbour advertisements on one interface, microseconds.
    pub gna_interval_us: u64,
    pub mcast_group4: Ipv4Addr,
    pub mcast_group6: Ipv6Addr,
    pub vrrp_strict: bool,
    /// Compute the VRRPv3 IPv4 checksum without the pseudo-header, as VRRPv2 does.
    pub v3_checksum_as_v2: bool,
    pub enable_script_security: bool,
    pub script_user: Option<ScriptUser>,
    /// `notify_fifo`: every state change is written to it as one line.
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo`: the same lines, on a FIFO of its own.
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// After a reload, write every instance's and sync group's state to the FIFOs.
    pub fifo_write_vrrp_states_on_reload: bool,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: 2,
            garp: GarpSettings::default(),
            garp_interval_us: 0,
            gna_interval_us: 0,
            mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_strict: false,
            v3_checksum_as_v2: false,
            enable_script_security: false,
            script_user: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            fifo_write_vrrp_states_on_reload: false,
        }
    }
}

/// A FIFO state changes are written to as keepalived writes them
/// (`INSTANCE "VI_1" MASTER 100`), created when missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyFifo {
    pub path: String,
    /// Owner (and group) given to the FIFO when the agent creates it.
    pub user: Option<String>,
    pub group: Option<String>,
    /// `notify_fifo_script` / `vrrp_notify_fifo_script`: started with the
    /// FIFO's path as its last argument, to read the lines.
    pub script: Option<Command>,
}

/// keepalived's `DEFAULT_MTU`: what it assumes of an interface it does not know.
pub const DEFAULT_MTU: u32 = 1500;

/// How many virtual addresses one advert carries on an interface of `mtu`
/// bytes, counted as keepalived 2.2.7 counts them (`vrrp_complete_instance`):
/// what fits after the Ethernet, IP and VRRP headers (and VRRPv2's
/// authentication data), and at most 255, the width of the count field.
/// keepalived moves the addresses past this to `virtual_ipaddress_excluded`.
pub fn max_advertised_addresses(family: AddressFamily, version: u8, mtu: u32) -> usize {
    const ETHER: u32 = 14;
    const VRRP_HEADER: u32 = 8;
    const VRRP_V2_AUTH: u32 = 8;
    let (ip_header, address_len) = match family {
        AddressFamily::Ipv4 => (20, 4),
        AddressFamily::Ipv6 => (40, 16),
    };
    let mut header = ETHER + ip_header + VRRP_HEADER;
    if family == AddressFamily::Ipv4 && version == 2 {
        header += VRRP_V2_AUTH;
    }
    let fit = mtu.saturating_sub(header) / address_len;
    (fit as usize).min(usize::from(u8::MAX))
}

/// Gratuitous ARP / unsolicited NA behaviour of a master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpSettings {
    /// Seconds after becoming master before the second burst; 0 = no second burst.
    pub master_delay_s: u32,
    /// Messages per burst when becoming master.
    pub master_repeat: u32,
    /// Seconds between refresh bursts while master; 0 = no refresh.
    pub master_refresh_s: u32,
    /// Messages per refresh burst.
    pub master_refresh_repeat: u32,
    /// Messages per burst when a Master hears a lower-priority Master
    /// (keepalived's `garp_lower_prio_repeat`); 0 = none.
    #[serde(default)]
    pub lower_prio_repeat: u32,
    /// Seconds after that before a second such burst; 0 = no second burst.
    #[serde(default)]
    pub lower_prio_delay_s: u32,
}

impl Default for GarpSettings {
    fn default() -> Self {
        GarpSettings {
            master_delay_s: 5,
            master_repeat: 5,
            master_refresh_s: 0,
            master_refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay_s: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

impl AddressFamily {
    pub fn of(address: &IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => AddressFamily::Ipv4,
            IpAddr::V6(_) => AddressFamily::Ipv6,
        }
    }

    pub fn max_prefix_len(self) -> u8 {
        match self {
            AddressFamily::Ipv4 => 32,
            AddressFamily::Ipv6 => 128,
        }
    }
}

impl std::fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressFamily::Ipv4 => "IPv4",
            AddressFamily::Ipv6 => "IPv6",
        })
    }
}

/// The state an instance starts in (keepalived's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub virtual_router_id: u8,
    pub family: AddressFamily,
    /// 2 or 3; IPv6 instances are always 3.
    pub version: u8,
    pub state: InitialState,
    pub priority: u8,
    /// Advertisement interval in milliseconds: whole seconds for VRRPv2,
    /// a multiple of 10 ms between 10 and 40950 for VRRPv3.
    pub advert_int_ms: u32,
    pub nopreempt: bool,
    pub preempt_delay_ms: u32,
    /// Whether a backup-turned-master accepts packets addressed to the VIPs.
    pub accept: bool,
    pub unicast_src_ip: Option<IpAddr>,
    /// Unicast peers; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// The TTL (hop limit) range accepted from the unicast peers whose
    /// line sets `min_ttl` / `max_ttl`; any other peer: [`PeerTtl::default`].
    /// A unicast advert need not arrive with 255: it may have been routed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unicast_peer_ttl: BTreeMap<IpAddr, PeerTtl>,
    /// `unicast_ttl`: the TTL of IPv4 adverts (multicast too, as in
    /// keepalived) and the hop limit of IPv6 unicast ones; `None`: 255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_ttl: Option<u8>,
    /// keepalived's strict mode for this instance: `strict_mode`, else the
    /// global `vrrp_strict`. What it changes is resolved into the other
    /// fields; kept for status and reloads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    /// A Master does not answer a lower-priority advert with its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lower_prio_no_advert: bool,
    /// A Master sends one more advert before yielding to a higher priority.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub higher_prio_send_advert: bool,
    /// Adverts missed before the Master is down: 3 unless
    /// `down_timer_adverts` says otherwise (1..=100).
    #[serde(
        default = "default_down_timer_adverts",
        skip_serializing_if = "is_default_down_timer_adverts"
    )]
    pub down_timer_adverts: u8,
    /// PASS authentication password, at most 8 bytes; only with VRRPv2.
    pub auth_pass: Option<String>,
    pub virtual_ipaddresses: Vec<VirtualAddress>,
    pub virtual_ipaddresses_excluded: Vec<VirtualAddress>,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackedFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackedProcess>,
    pub notify: NotifyScripts,
    pub garp: GarpSettings,
    /// Ignore faults of the instance's own interface.
    pub dont_track_primary: bool,
    /// keepalived's `notify_priority_changes` (its own, else its sync
    /// group's, else `vrrp_notify_priority_changes`): a change of the
    /// effective priority is written to the notify FIFOs
    /// (`MASTER_PRIORITY` / `BACKUP_PRIORITY`).
    #[serde(default)]
    pub notify_priority_changes: bool,
    /// keepalived's `notify_deleted`: an instance a reload removes is told
    /// as `DELETED` (and `notify.deleted` runs), not as `FAULT`.
    #[serde(default)]
    pub notify_deleted: bool,
    /// `use_vmac`: the VIPs live on a macvlan with the virtual router's MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmac: Option<Vmac>,
    /// Installed on becoming Master, after the VIPs; removed on leaving it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<Route>,
    /// Installed on becoming Master, after the virtual routes; removed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "VirtualAddressFields", into = "VirtualAddressFields")]
pub struct VirtualAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
    /// `dev` and `label`, shared by every address that gives the same ones,
    /// and one pointer wide: an instance may hold millions of addresses,
    /// most with the same `dev` or none, and each address's size counts.
    names: Option<Arc<AddressNames>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AddressNames {
    dev: Option<String>,
    label: Option<String>,
}

/// The RFCs' three missed adverts.
pub const DEFAULT_DOWN_TIMER_ADVERTS: u8 = 3;

fn default_down_timer_adverts() -> u8 {
    DEFAULT_DOWN_TIMER_ADVERTS
}

fn is_default_down_timer_adverts(value: &u8) -> bool {
    *value == DEFAULT_DOWN_TIMER_ADVERTS
}

/// keepalived's `use_vmac`: a private-mode macvlan on the instance's
/// interface, with the virtual router MAC of RFC 5798 section 7.3
/// (00-00-5E-00-01-VRID, 00-00-5E-00-02-VRID for IPv6) unless another is
/// given. The VIPs live on it, so ARP replies, gratuitous ARPs and the
/// traffic to the VIPs carry that MAC, the same on every router; the
/// adverts leave from it too, unless `vmac_xmit_base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vmac {
    /// `use_vmac NAME`, else keepalived's `vrrp.VRID` (see
    /// [`vmac_names`](crate::resolve)).
    pub interface: String,
    pub mac: [u8; 6],
    /// Whether the MAC was given (printed back only then).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mac_given: bool,
    /// `vmac_xmit_base`: adverts leave from the instance's interface.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub xmit_base: bool,
}

/// The TTL range, both ends included, accepted from one unicast peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerTtl {
    pub min: u8,
    pub max: u8,
}

impl Default for PeerTtl {
    fn default() -> Self {
        PeerTtl { min: 0, max: 255 }
    }
}

impl PeerTtl {
    pub fn accepts(self, ttl: u8) -> bool {
        (self.min..=self.max).contains(&ttl)
    }
}

impl VrrpInstance {
    /// The interface the VIP's traffic arrives on, where the fast path
    /// answers for it: its `dev`, else the instance's interface.
    pub fn vip_base<'a>(&'a self, vip: &'a VirtualAddress) -> &'a str {
        vip.dev().unwrap_or(&self.interface)
    }

    /// The interface the VIP is installed on: the VMAC for an address of
    /// the instance's family on the instance's interface (as keepalived
    /// places them), else [`Self::vip_base`].
    pub fn vip_interface<'a>(&'a self, vip: &'a VirtualAddress) -> &'a str {
        let base = self.vip_base(vip);
        match &self.vmac {
            Some(vmac)
                if base == self.interface
                    && vip.address.is_ipv6() == (self.family == AddressFamily::Ipv6) =>
            {
                &vmac.interface
            }
            _ => base,
        }
    }

    /// The TTL range accepted from unicast peer `peer`.
    pub fn peer_ttl(&self, peer: &IpAddr) -> PeerTtl {
        self.unicast_peer_ttl.get(peer).copied().unwrap_or_default()
    }

    /// The TTL / hop limit of the adverts this instance sends.
    pub fn advert_ttl(&self) -> u8 {
        self.unicast_ttl.unwrap_or(255)
    }

    /// Whether its Master accepts packets addressed to the VIPs: with
    /// `accept`, or as the address owner (priority 255), which always does
    /// (RFC 5798 section 6.4.3; keepalived ignores `no_accept` there too).
    pub fn accepts_traffic(&self) -> bool {
        self.accept || self.priority == 255
    }
}

impl VirtualAddress {
    pub fn new(address: IpAddr, prefix_len: u8) -> Self {
        VirtualAddress {
            address,
            prefix_len,
            names: None,
        }
    }

    /// The address with these `dev` and `label`.
    pub fn with_names(mut self, dev: Option<String>, label: Option<String>) -> Self {
        self.names =
            (dev.is_some() || label.is_some()).then(|| Arc::new(AddressNames { dev, label }));
        self
    }

    /// The address with the names of `other` (sharing them).
    pub fn with_names_of(mut self, other: &VirtualAddress) -> Self {
        self.names = other.names.clone();
        self
    }

    /// Interface to put the address on; None = the instance's interface.
    pub fn dev(&self) -> Option<&str> {
        self.names.as_ref()?.dev.as_deref()
    }

    pub fn label(&self) -> Option<&str> {
        self.names.as_ref()?.label.as_deref()
    }
}

/// [`VirtualAddress`] as it is written in JSON.
#[derive(Serialize, Deserialize)]
struct VirtualAddressFields {
    address: IpAddr,
    prefix_len: u8,
    dev: Option<String>,
    label: Option<String>,
}

impl From<VirtualAddressFields> for VirtualAddress {
    fn from(fields: VirtualAddressFields) -> Self {
        VirtualAddress::new(fields.address, fields.prefix_len).with_names(fields.dev, fields.label)
    }
}

impl From<VirtualAddress> for VirtualAddressFields {
    fn from(address: VirtualAddress) -> Self {
        VirtualAddressFields {
            address: address.address,
            prefix_len: address.prefix_len,
            dev: address.dev().map(str::to_string),
            label: address.label().map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedInterface {
    pub name: String,
    /// 0: the instance goes to FAULT while the interface is down; otherwise
    /// the priority is adjusted by this amount.
    pub weight: i32,
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedScript {
    pub name: String,
    /// Effective weight: the one written here, else the script's own.
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_file` line: the file's name, its effective weight (the one
/// written here, else the file's own) and direction.
pub type TrackedFile = TrackedScript;

/// A `track_process` line: the process tracker's name, its effective weight
/// (the one written here, else the tracker's own) and direction.
pub type TrackedProcess = TrackedScript;

/// `track_file NAME { file PATH; weight W [reverse]; init_file [VALUE] [overwrite] }`:
/// an integer read from a file, multiplied by the weight, adjusts the priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackFile {
    pub name: String,
    pub path: String,
    /// Default weight of the `track_file` lines naming it (keepalived: 1).
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file`: write a value into the file when the agent starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<TrackFileInit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackFileInit {
    pub value: i32,
    /// Also write it over a file that exists (only at start, not on a reload).
    pub overwrite: bool,
}

/// How a process's parameters must match those of a `vrrp_track_process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// The same parameters, no more.
    Exact,
    /// The configured parameters first, any more after them.
    Partial,
    /// As partial, and the last configured one may be a prefix.
    Initial,
}

/// `vrrp_track_process NAME { ... }`: the number of running processes that
/// match decides whether the tracker is up (`quorum` ..= `quorum_max`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackProcess {
    pub name: String,
    /// The process name (`/proc/PID/comm`), or with `full_command` or
    /// parameters, the command's first word (`argv[0]`).
    pub process: String,
    pub params: Vec<String>,
    /// None: parameters are not looked at.
    pub param_match: Option<ParamMatch>,
    pub full_command: bool,
    /// Default weight of the `track_process` lines naming it (keepalived 2.2.7: 0).
    pub weight: i32,
    pub weight_reverse: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    /// Quorum gained counts only after this long (microseconds).
    pub fork_delay_us: u64,
    /// Quorum lost counts only after this long (microseconds).
    pub terminate_delay_us: u64,
}

impl TrackProcess {
    /// Whether the command line (argv, NUL-separated words) is one of the
    /// tracked processes; `comm` is the kernel's process name.
    pub fn matches(&self, comm: &str, argv: &[&str]) -> bool {
        if !(self.full_command || self.param_match.is_some()) {
            return comm == self.process;
        }
        let Some((first, params)) = argv.split_first() else {
            return false;
        };
        if *first != self.process {
            return false;
        }
        let Some(mode) = self.param_match else {
            return true;
        };
        let wanted = &self.params;
        match mode {
            ParamMatch::Exact => {
                params.len() == wanted.len() && params.iter().zip(wanted).all(|(a, b)| a == b)
            }
            ParamMatch::Partial | ParamMatch::Initial if params.len() < wanted.len() => false,
            ParamMatch::Partial => params.iter().zip(wanted).all(|(a, b)| a == b),
            ParamMatch::Initial => {
                let Some((last, before)) = wanted.split_last() else {
                    return true;
                };
                params.iter().zip(before).all(|(a, b)| a == b)
                    && params[before.len()].starts_with(last.as_str())
            }
        }
    }

    /// Whether `count` matching processes make the quorum.
    pub fn has_quorum(&self, count: usize) -> bool {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        u64::from(self.quorum) <= count && count <= u64::from(self.quorum_max)
    }
}

/// A program to run with its user and group (keepalived's
/// `notify_* COMMAND [USER [GROUP]]`). The command is split on spaces when run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotifyScripts {
    pub master: Option<Command>,
    pub backup: Option<Command>,
    pub fault: Option<Command>,
    pub stop: Option<Command>,
    /// `notify_deleted SCRIPT`: run when a reload removes the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Command>,
    /// Run on every transition with TYPE NAME STATE PRIORITY appended.
    pub any: Option<Command>,
    /// `notify_master_rx_lower_pri`: run when the Master hears a Master of
    /// lower priority (instances only), without arguments, as keepalived runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_rx_lower_pri: Option<Command>,
}

impl NotifyScripts {
    /// Each script with the keyword that sets it, in keepalived's order.
    pub fn by_keyword(&self) -> [(&'static str, &Option<Command>); 7] {
        [
            ("notify_master", &self.master),
            ("notify_backup", &self.backup),
            ("notify_fault", &self.fault),
            ("notify_stop", &self.stop),
            ("notify_deleted", &self.deleted),
            ("notify", &self.any),
            ("notify_master_rx_lower_pri", &self.master_rx_lower_pri),
        ]
    }

    /// [`Self::by_keyword`], to change a script in place.
    pub fn by_keyword_mut(&mut self) -> [(&'static str, &mut Option<Command>); 7] {
        [
            ("notify_master", &mut self.master),
            ("notify_backup", &mut self.backup),
            ("notify_fault", &mut self.fault),
            ("notify_stop", &mut self.stop),
            ("notify_deleted", &mut self.deleted),
            ("notify", &mut self.any),
            ("notify_master_rx_lower_pri", &mut self.master_rx_lower_pri),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpScript {
    pub name: String,
    pub script: String,
    pub interval_s: u32,
    /// Seconds after which a running check counts as failed; defaults to the interval.
    pub timeout_s: u32,
    pub weight: i32,
    pub weight_reverse: bool,
    /// Successes needed to become up.
    pub rise: u32,
    /// Failures needed to become down.
    pub fall: u32,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Start in the failed state instead of up.
    pub init_fail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackedFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackedProcess>,
    pub notify: NotifyScripts,
    /// `sync_group_tracking_weight`: the members' own trackers keep their
    /// weights. Without it (keepalived's default) a member's tracked
    /// interface weights become 0 and its weighted scripts are ignored, so
    /// that no member's priority moves apart from the others'.
    #[serde(default)]
    pub tracking_weight: bool,
}
