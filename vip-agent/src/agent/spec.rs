//! What the configuration says of one instance, and what follows from it
//! alone: the state machine's parameters, the fast path's policy, where
//! its adverts go.

use std::{net::IpAddr, time::Duration};

use vip_common::PEER_TTL_ANY;

use super::effect::SocketKey;
use crate::{
    config::{
        max_advertised_addresses, AddressFamily, GlobalDefs, InitialState as ConfigInitialState,
        VirtualAddress, Vmac, VrrpInstance, DEFAULT_MTU,
    },
    dataplane::VrrpPolicy,
    net::{netlink::Link, vmac::VmacSpec},
    vrrp::{Auth, ChecksumMode, InitialState, Params, ProtocolVersion, UnicastPeer},
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

    /// The socket is on the VMAC unless `vmac_xmit_base`, as keepalived
    /// opens it: the other routers' adverts carry the same source MAC as
    /// this router's VMAC, and a private macvlan takes those from its base.
    pub fn socket_key(&self) -> SocketKey {
        SocketKey {
            interface: self
                .socket_vmac()
                .map_or(&self.config.interface, |v| &v.interface)
                .clone(),
            ipv6: self.ipv6(),
        }
    }

    /// The VMAC the socket is on, if it is on one.
    pub fn socket_vmac(&self) -> Option<&Vmac> {
        self.config.vmac.as_ref().filter(|v| !v.xmit_base)
    }

    /// What the VMAC needs, for the instance on `base` sending from `source`.
    pub fn vmac_spec(&self, base: &Link, source: IpAddr) -> Option<VmacSpec> {
        let vmac = self.config.vmac.as_ref()?;
        let ipv6_vips = self
            .all_vips()
            .any(|v| v.address.is_ipv6() && self.config.vip_interface(v) == vmac.interface);
        Some(VmacSpec {
            name: vmac.interface.clone(),
            base: base.name.clone(),
            base_ifindex: base.ifindex,
            mac: vmac.mac,
            ipv4: !self.ipv6(),
            ipv6: self.ipv6() || ipv6_vips,
            link_local: match source {
                IpAddr::V6(v6) if self.ipv6() && !vmac.xmit_base => Some(v6),
                _ => None,
            },
        })
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
            && self.config.vmac.as_ref().map(|v| &v.interface)
                == other.vmac.as_ref().map(|v| &v.interface)
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
            unicast_peers: c
                .unicast_peers
                .iter()
                .map(|address| {
                    let ttl = c.peer_ttl(address);
                    UnicastPeer {
                        address: *address,
                        min_ttl: ttl.min,
                        max_ttl: ttl.max,
                    }
                })
                .collect(),
            lower_prio_no_advert: c.lower_prio_no_advert,
            higher_prio_send_advert: c.higher_prio_send_advert,
            down_timer_adverts: c.down_timer_adverts,
        }
    }

    /// The TTL (hop limit) of this instance's adverts: `unicast_ttl` for
    /// IPv4 (multicast too, as keepalived sends them) and for IPv6
    /// unicast; IPv6 multicast always 255, as in keepalived.
    pub fn advert_ttl(&self) -> u8 {
        if self.ipv6() && self.multicast() {
            255
        } else {
            self.config.advert_ttl()
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
            peer_ttl: std::array::from_fn(|i| {
                self.config
                    .unicast_peers
                    .get(i)
                    .map_or(PEER_TTL_ANY, |peer| {
                        let ttl = self.config.peer_ttl(peer);
                        [ttl.min, ttl.max]
                    })
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Spec {
        let loaded = crate::config::load_str(text, "test.conf", Default::default())
            .unwrap_or_else(|errors| panic!("{errors:?}"));
        Spec {
            config: loaded.config.instances[0].clone(),
            global: loaded.config.global,
            sync_group: false,
        }
    }

    #[test]
    fn unicast_peers_ttl_ranges_reach_the_fast_path_and_the_election() {
        let spec = spec(
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n unicast_ttl 64\n \
             unicast_peer {\n  10.0.0.2 min_ttl 60 max_ttl 64\n  10.0.0.3\n }\n \
             virtual_ipaddress {\n  10.0.0.10/24\n }\n}\n",
        );
        let policy = spec.policy();
        assert_eq!(policy.peer_ttl[0], [60, 64]);
        assert_eq!(policy.peer_ttl[1], PEER_TTL_ANY);
        let params = spec.params("10.0.0.1".parse().unwrap(), DEFAULT_MTU);
        assert_eq!(
            params.unicast_peers[0],
            UnicastPeer {
                address: "10.0.0.2".parse().unwrap(),
                min_ttl: 60,
                max_ttl: 64
            }
        );
        assert_eq!(spec.advert_ttl(), 64);
    }

    #[test]
    fn ipv6_multicast_adverts_always_leave_with_hop_limit_255() {
        let spec = spec(
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n unicast_ttl 64\n \
             virtual_ipaddress {\n  fe80::10/64\n }\n}\n",
        );
        assert_eq!(spec.advert_ttl(), 255);
    }
}
