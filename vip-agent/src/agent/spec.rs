//! What the configuration says of one instance, and what follows from it
//! alone: the state machine's parameters, the fast path's policy, where
//! its adverts go.

use std::{net::IpAddr, time::Duration};

use super::effect::SocketKey;
use crate::{
    config::{
        max_advertised_addresses, AddressFamily, GlobalDefs, InitialState as ConfigInitialState,
        VirtualAddress, VrrpInstance, DEFAULT_MTU,
    },
    dataplane::VrrpPolicy,
    vrrp::{Auth, ChecksumMode, InitialState, Params, ProtocolVersion},
};

/// What the configuration says of an instance, with the global settings it
/// runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub config: VrrpInstance,
    pub global: GlobalDefs,
    /// A member of a sync group with other members: Master only with all
    /// of them ([`Params::sync_group`]).
    pub sync_group: bool,
}

impl Spec {
    pub fn ipv6(&self) -> bool {
        self.config.family == AddressFamily::Ipv6
    }

    pub fn multicast(&self) -> bool {
        self.config.unicast_peers.is_empty()
    }

    pub fn group(&self) -> IpAddr {
        if self.ipv6() {
            IpAddr::V6(self.global.mcast_group6)
        } else {
            IpAddr::V4(self.global.mcast_group4)
        }
    }

    pub fn socket_key(&self) -> SocketKey {
        SocketKey {
            interface: self.config.interface.clone(),
            ipv6: self.ipv6(),
        }
    }

    /// The virtual addresses, excluded ones included (they are installed,
    /// only not advertised).
    pub fn all_vips(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.config
            .virtual_ipaddresses
            .iter()
            .chain(&self.config.virtual_ipaddresses_excluded)
    }

    /// Same virtual router (interface, VRID, family) under the same name:
    /// a reload that changes anything else replaces it by a successor.
    pub fn same_router(&self, other: &VrrpInstance) -> bool {
        self.config.name == other.name
            && self.config.interface == other.interface
            && self.config.virtual_router_id == other.virtual_router_id
            && self.config.family == other.family
    }

    /// How many of the virtual addresses the adverts carry on an interface
    /// of `mtu` bytes (0: not known): what fits, as keepalived counts it,
    /// and no more than the fast path validates (an IPv6 advert of 90
    /// addresses). The rest are installed but not advertised, as keepalived
    /// treats them.
    pub fn advertised_count(&self, mtu: u32) -> usize {
        /// `MAX_VRRP_LEN` of the XDP program: 8 + 16 * 90 bytes.
        const FAST_PATH_MAX_VRRP_LEN: usize = 8 + 16 * 90;
        let c = &self.config;
        let mtu = if mtu == 0 { DEFAULT_MTU } else { mtu };
        let address_len = if self.ipv6() { 16 } else { 4 };
        let trailer = if c.version == 2 { 8 } else { 0 };
        let fast_path = (FAST_PATH_MAX_VRRP_LEN - 8 - trailer) / address_len;
        max_advertised_addresses(c.family, c.version, mtu)
            .min(fast_path)
            .min(c.virtual_ipaddresses.len())
    }

    pub(super) fn params(&self, source: IpAddr, mtu: u32) -> Params {
        let c = &self.config;
        let version = if c.version == 3 {
            ProtocolVersion::V3
        } else {
            ProtocolVersion::V2
        };
        let auth = match (&c.auth_pass, version) {
            (Some(pass), ProtocolVersion::V2) => Auth::simple_text(pass),
            _ => Auth::None,
        };
        Params {
            vrid: c.virtual_router_id,
            version,
            priority: c.priority,
            adver_int: Duration::from_millis(u64::from(c.advert_int_ms)),
            preempt: !c.nopreempt,
            preempt_delay: Duration::from_millis(u64::from(c.preempt_delay_ms)),
            accept_mode: c.accept,
            primary_address: source,
            vips: c
                .virtual_ipaddresses
                .iter()
                .take(self.advertised_count(mtu))
                .map(|v| v.address)
                .collect(),
            initial_state: match c.state {
                ConfigInitialState::Master => InitialState::Master,
                ConfigInitialState::Backup => InitialState::Backup,
            },
            auth,
            sync_group: self.sync_group,
        }
    }

    /// What the fast path validates this instance's adverts against.
    pub fn policy(&self) -> VrrpPolicy {
        let auth_pass = match (&self.config.auth_pass, self.config.version) {
            (Some(pass), 2) => {
                let mut bytes = [0u8; 8];
                for (slot, byte) in bytes.iter_mut().zip(pass.bytes()) {
                    *slot = byte;
                }
                Some(bytes)
            }
            _ => None,
        };
        VrrpPolicy {
            version: self.config.version,
            auth_pass,
            peers: self.config.unicast_peers.clone(),
        }
    }

    pub(super) fn checksum_mode(&self) -> ChecksumMode {
        if self.global.v3_checksum_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::Standard
        }
    }

    /// `vrrp_garp_interval` / `vrrp_gna_interval`.
    pub(super) fn announce_spacing(&self) -> Duration {
        Duration::from_micros(if self.ipv6() {
            self.global.gna_interval_us
        } else {
            self.global.garp_interval_us
        })
    }
}
