//! The contract between the XDP program and the daemon: map names, keys and
//! values. Every type is `#[repr(C)]` with explicit padding so that both
//! sides, and `bpftool` reading the BTF, agree byte for byte. Addresses and
//! MACs are byte arrays in network order; IPv4 addresses fill the first four
//! bytes of a `[u8; 16]` and leave the rest zero.
#![no_std]

/// IP protocol number of VRRP (IPv4 protocol / IPv6 next header).
pub const IPPROTO_VRRP: u8 = 112;

/// `family` value of IPv4 keys.
pub const FAMILY_V4: u8 = 4;
/// `family` value of IPv6 keys.
pub const FAMILY_V6: u8 = 6;

/// Name of the XDP program inside the object.
pub const PROGRAM_NAME: &str = "vip_xdp";

/// Hash map (ifindex, family, VIP) -> [`Ownership`]: the VIPs the program
/// answers ARP/NS for. Also the file name of its pin under the bpffs dir.
pub const MAP_OWNERSHIP: &str = "OWNERSHIP";
/// Hash map [`VrrpKey`] -> [`VrrpPolicy`]: how adverts for a VRID are validated.
pub const MAP_VRRP_POLICY: &str = "VRRP_POLICY";
/// Per-CPU hash map [`VrrpKey`] -> [`VrrpStats`].
pub const MAP_VRRP_STATS: &str = "VRRP_STATS";
/// Per-CPU hash map [`IfKey`] -> [`L2Stats`]: ARP/NDP counters per interface.
pub const MAP_L2_STATS: &str = "L2_STATS";
/// Array of one [`Liveness`]: the daemon's heartbeat and the fencing bound.
pub const MAP_LIVENESS: &str = "LIVENESS";

/// Every map of the program, in the order they are pinned.
pub const MAP_NAMES: [&str; 5] = [
    MAP_OWNERSHIP,
    MAP_VRRP_POLICY,
    MAP_VRRP_STATS,
    MAP_L2_STATS,
    MAP_LIVENESS,
];

/// Capacity of [`MAP_OWNERSHIP`].
pub const OWNERSHIP_MAX_ENTRIES: u32 = 4096;
/// Capacity of [`MAP_VRRP_POLICY`] and [`MAP_VRRP_STATS`]: 255 VRIDs, two
/// families, on a handful of interfaces.
pub const VRRP_STATS_MAX_ENTRIES: u32 = 4096;
/// Capacity of [`MAP_L2_STATS`].
pub const L2_STATS_MAX_ENTRIES: u32 = 256;

/// Unicast peers a [`VrrpPolicy`] can list.
pub const MAX_PEERS: usize = 8;

/// A unicast peer's TTL / hop limit range that accepts every value
/// ([`VrrpPolicy::peer_ttl`]): keepalived's default `min_ttl 0 max_ttl 255`.
pub const PEER_TTL_ANY: [u8; 2] = [0, 255];

/// [`Ownership::flags`]: this node is master; the program answers for the VIP.
pub const OWNERSHIP_FLAG_MASTER: u8 = 1;
/// [`Ownership::flags`]: a non-owner master without Accept_Mode (RFC 5798
/// section 6.1, keepalived's `no_accept`): IPv4/IPv6 packets addressed to the
/// VIP are dropped, except VRRP and ICMPv6 neighbour discovery.
pub const OWNERSHIP_FLAG_NO_ACCEPT: u8 = 2;

/// The [`Ownership::flags`] of a VIP held by a master that does (`accept`)
/// or does not accept packets addressed to it. Written in the same map
/// update as the ownership itself.
pub const fn ownership_flags(accept: bool) -> u8 {
    if accept {
        OWNERSHIP_FLAG_MASTER
    } else {
        OWNERSHIP_FLAG_MASTER | OWNERSHIP_FLAG_NO_ACCEPT
    }
}

/// Whether a packet to a VIP held with `flags` is dropped by the accept
/// rule (the VIP is held, as master, without Accept_Mode).
pub const fn refuses_traffic(flags: u8) -> bool {
    flags & OWNERSHIP_FLAG_MASTER != 0 && flags & OWNERSHIP_FLAG_NO_ACCEPT != 0
}

/// VRRPv2 authentication types ([`VrrpPolicy::auth_type`]).
pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;

/// Key of [`MAP_OWNERSHIP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OwnershipKey {
    /// Interface the VIP lives on (the frame's ingress ifindex).
    pub ifindex: u32,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    pub _pad: [u8; 3],
    /// The VIP, network order; IPv4 in the first four bytes.
    pub vip: [u8; 16],
}

impl OwnershipKey {
    pub const fn new(ifindex: u32, family: u8, vip: [u8; 16]) -> Self {
        Self {
            ifindex,
            family,
            _pad: [0; 3],
            vip,
        }
    }
}

/// Value of [`MAP_OWNERSHIP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Source MAC of the replies (the interface's or the VRRP virtual MAC).
    pub mac: [u8; 6],
    /// The virtual router holding the VIP.
    pub vrid: u8,
    /// [`OWNERSHIP_FLAG_MASTER`], [`OWNERSHIP_FLAG_NO_ACCEPT`].
    pub flags: u8,
}

/// Key of the VRRP maps: one entry per interface, virtual router and family.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VrrpKey {
    /// Interface index the frame arrived on.
    pub ifindex: u32,
    /// Virtual router id (1..=255) read from the VRRP header.
    pub vrid: u8,
    /// Address family of the carrying IP header: 4 or 6.
    pub family: u8,
    pub _pad: [u8; 2],
}

impl VrrpKey {
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        }
    }
}

/// Value of [`MAP_VRRP_POLICY`]: what a valid advert for this VRID looks like.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpPolicy {
    /// Expected VRRP version (2 or 3); 0 accepts either. Version 2 is only
    /// valid over IPv4 (RFC 3768), whatever this says.
    pub version: u8,
    /// VRRPv2 authentication type: [`AUTH_NONE`] or [`AUTH_PASS`].
    pub auth_type: u8,
    /// Number of valid entries in `peers` (and `peer_ttl`). 0: a multicast
    /// instance, any source, TTL / hop limit 255. Above 0: a unicast
    /// instance, the source must be one of the peers and the TTL / hop
    /// limit within that peer's `peer_ttl` range.
    pub peer_count: u8,
    pub _pad: [u8; 5],
    /// VRRPv2 simple-text password, zero padded.
    pub auth_pass: [u8; 8],
    /// Allowed sources (unicast peers), network order; IPv4 in the first four bytes.
    pub peers: [[u8; 16]; MAX_PEERS],
    /// For `peers[i]`, the IPv4 TTL / IPv6 hop limit its adverts may arrive
    /// with: `[min, max]`, both inclusive (keepalived's `unicast_peer { ADDR
    /// min_ttl N max_ttl M }`; [`PEER_TTL_ANY`] is its default). A range
    /// with `min > max` accepts nothing. Entries from `peer_count` on are
    /// not read.
    pub peer_ttl: [[u8; 2]; MAX_PEERS],
}

/// Per-CPU VRRP counters. Userspace sums the CPUs' copies (and takes the
/// newest `last_seen_ns` with its `last_source`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpStats {
    /// VRRP frames seen for this key (every outcome below adds to it).
    pub frames: u64,
    /// Adverts that passed every check and went on to the daemon.
    pub adverts_valid: u64,
    /// Dropped: IPv4 TTL / IPv6 hop limit not 255 (multicast policy), or
    /// outside the sending peer's [`VrrpPolicy::peer_ttl`] range (unicast).
    pub drop_ttl: u64,
    /// Dropped: version not 2 or 3, or not the configured one, or 2 over IPv6.
    pub drop_version: u64,
    /// Dropped: type not 1 (advertisement).
    pub drop_type: u64,
    /// Dropped: message shorter than its address count says, or longer than
    /// the IP payload, or truncated frame.
    pub drop_length: u64,
    /// Dropped: VRRP checksum wrong.
    pub drop_checksum: u64,
    /// Dropped: VRRPv2 authentication type or password mismatch.
    pub drop_auth: u64,
    /// Dropped: source is not one of the configured unicast peers.
    pub drop_not_peer: u64,
    /// Passed unvalidated: no policy for this (ifindex, vrid, family).
    pub unconfigured: u64,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the last valid advert.
    pub last_seen_ns: u64,
    /// Source address of the last valid advert; IPv4 in the first four bytes.
    pub last_source: [u8; 16],
}

/// Key of [`MAP_L2_STATS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IfKey {
    pub ifindex: u32,
}

/// Per-CPU ARP/NDP counters of one interface. For requests,
/// `seen = replies sent + passed + fenced`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L2Stats {
    /// ARP requests (Ethernet/IPv4) seen, gratuitous ones included.
    pub arp_requests_seen: u64,
    /// ARP replies the program sent (XDP_TX) for a held VIP.
    pub arp_replies_sent: u64,
    /// ARP requests passed to the kernel: VIP not held here, or gratuitous.
    pub arp_passed: u64,
    /// ARP requests for a held VIP passed because the heartbeat is stale.
    pub arp_fenced: u64,
    /// Other ARP frames (replies, other hardware/protocol types), passed.
    pub arp_other: u64,
    /// Neighbour Solicitations seen: valid as RFC 4861 section 7.1.1 asks
    /// (hop limit 255, code 0, checksum, options, unicast target, the rules
    /// for `::` sources), or longer than the program verifies (64 bytes).
    /// Invalid ones are the kernel's to discard and are not counted.
    pub ns_seen: u64,
    /// Neighbour Advertisements the program sent (XDP_TX) for a held VIP.
    pub na_sent: u64,
    /// NS passed to the kernel: target not held here, or longer than the
    /// program verifies.
    pub ns_passed: u64,
    /// NS for a held VIP passed because the heartbeat is stale.
    pub ns_fenced: u64,
    /// VRRP frames too short to read the VRID (or ending inside the IPv4
    /// header), passed to the kernel.
    pub vrrp_short: u64,
    /// Fragments of VRRP packets (adverts are never fragmented), dropped:
    /// IPv4 with More Fragments or an offset, IPv6 with a Fragment header
    /// naming VRRP.
    pub vrrp_fragments: u64,
    /// IPv4/IPv6 packets addressed to a VIP this node holds as a non-owner
    /// master without `accept`, dropped (VRRP and neighbour discovery are
    /// not counted here: they are handled as always).
    pub no_accept_dropped: u64,
}

/// Value of [`MAP_LIVENESS`] (index 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Liveness {
    /// CLOCK_MONOTONIC nanoseconds of the daemon's last heartbeat; 0 = never.
    pub heartbeat_ns: u64,
    /// The program answers ARP/NS only while `now - heartbeat_ns <= bound_ns`.
    pub bound_ns: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all impls): plain-old-data, `#[repr(C)]`, no implicit padding
    // (asserted by the layout tests below), every bit pattern is valid.
    unsafe impl aya::Pod for super::OwnershipKey {}
    unsafe impl aya::Pod for super::Ownership {}
    unsafe impl aya::Pod for super::VrrpKey {}
    unsafe impl aya::Pod for super::VrrpPolicy {}
    unsafe impl aya::Pod for super::VrrpStats {}
    unsafe impl aya::Pod for super::IfKey {}
    unsafe impl aya::Pod for super::L2Stats {}
    unsafe impl aya::Pod for super::Liveness {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn ownership_layout() {
        assert_eq!(size_of::<OwnershipKey>(), 24);
        assert_eq!(align_of::<OwnershipKey>(), 4);
        assert_eq!(offset_of!(OwnershipKey, ifindex), 0);
        assert_eq!(offset_of!(OwnershipKey, family), 4);
        assert_eq!(offset_of!(OwnershipKey, _pad), 5);
        assert_eq!(offset_of!(OwnershipKey, vip), 8);
        assert_eq!(size_of::<Ownership>(), 8);
        assert_eq!(align_of::<Ownership>(), 1);
        assert_eq!(offset_of!(Ownership, mac), 0);
        assert_eq!(offset_of!(Ownership, vrid), 6);
        assert_eq!(offset_of!(Ownership, flags), 7);
    }

    #[test]
    fn vrrp_key_layout_has_no_implicit_padding() {
        assert_eq!(size_of::<VrrpKey>(), 8);
        assert_eq!(align_of::<VrrpKey>(), 4);
        assert_eq!(offset_of!(VrrpKey, ifindex), 0);
        assert_eq!(offset_of!(VrrpKey, vrid), 4);
        assert_eq!(offset_of!(VrrpKey, family), 5);
        assert_eq!(offset_of!(VrrpKey, _pad), 6);
    }

    #[test]
    fn vrrp_policy_layout() {
        assert_eq!(size_of::<VrrpPolicy>(), 16 + 16 * MAX_PEERS + 2 * MAX_PEERS);
        assert_eq!(align_of::<VrrpPolicy>(), 1);
        assert_eq!(offset_of!(VrrpPolicy, version), 0);
        assert_eq!(offset_of!(VrrpPolicy, auth_type), 1);
        assert_eq!(offset_of!(VrrpPolicy, peer_count), 2);
        assert_eq!(offset_of!(VrrpPolicy, _pad), 3);
        assert_eq!(offset_of!(VrrpPolicy, auth_pass), 8);
        assert_eq!(offset_of!(VrrpPolicy, peers), 16);
        assert_eq!(offset_of!(VrrpPolicy, peer_ttl), 16 + 16 * MAX_PEERS);
    }

    #[test]
    fn vrrp_stats_layout() {
        assert_eq!(size_of::<VrrpStats>(), 11 * 8 + 16);
        assert_eq!(align_of::<VrrpStats>(), 8);
        assert_eq!(offset_of!(VrrpStats, frames), 0);
        assert_eq!(offset_of!(VrrpStats, unconfigured), 72);
        assert_eq!(offset_of!(VrrpStats, last_seen_ns), 80);
        assert_eq!(offset_of!(VrrpStats, last_source), 88);
    }

    #[test]
    fn l2_and_liveness_layout() {
        assert_eq!(size_of::<IfKey>(), 4);
        assert_eq!(size_of::<L2Stats>(), 12 * 8);
        assert_eq!(offset_of!(L2Stats, arp_requests_seen), 0);
        assert_eq!(offset_of!(L2Stats, vrrp_fragments), 80);
        assert_eq!(offset_of!(L2Stats, no_accept_dropped), 88);
        assert_eq!(size_of::<Liveness>(), 16);
        assert_eq!(offset_of!(Liveness, heartbeat_ns), 0);
        assert_eq!(offset_of!(Liveness, bound_ns), 8);
    }

    #[test]
    fn ownership_flags_carry_the_accept_policy() {
        assert_eq!(ownership_flags(true), OWNERSHIP_FLAG_MASTER);
        assert_eq!(
            ownership_flags(false),
            OWNERSHIP_FLAG_MASTER | OWNERSHIP_FLAG_NO_ACCEPT
        );
        assert!(!refuses_traffic(ownership_flags(true)));
        assert!(refuses_traffic(ownership_flags(false)));
        // Not master: nothing is held, nothing refused.
        assert!(!refuses_traffic(OWNERSHIP_FLAG_NO_ACCEPT));
        assert!(!refuses_traffic(0));
    }
}
