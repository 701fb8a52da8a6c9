//! Pure parts of the XDP program: header arithmetic with no kernel access, so
//! the same code is unit-tested on the host and runs in the verifier-checked
//! program.
#![no_std]

use vip_common::{VrrpPolicy, MAX_PEERS};

/// EtherType of IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86DD;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of an IEEE 802.1Q VLAN tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// EtherType of an IEEE 802.1ad service tag (accepted as the single tag).
pub const ETH_P_8021AD: u16 = 0x88A8;

/// Length in bytes of the Ethernet header without a tag.
pub const ETH_HLEN: usize = 14;
/// Length in bytes of one VLAN tag.
pub const VLAN_HLEN: usize = 4;
/// Smallest IPv4 header.
pub const IPV4_MIN_HLEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HLEN: usize = 40;

/// True if `ether_type` announces one VLAN tag in front of the real EtherType.
#[inline(always)]
pub const fn is_vlan_tag(ether_type: u16) -> bool {
    ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD
}

/// Length in bytes of an IPv4 header from its version/IHL byte, or `None`
/// when the byte does not describe a valid IPv4 header (version not 4, or
/// IHL below 5 words).
#[inline(always)]
pub const fn ipv4_header_len(version_ihl: u8) -> Option<usize> {
    if version_ihl >> 4 != 4 {
        return None;
    }
    let len = (version_ihl & 0x0F) as usize * 4;
    if len < IPV4_MIN_HLEN {
        None
    } else {
        Some(len)
    }
}

/// Splits the first VRRP byte into (version, type).
#[inline(always)]
pub const fn vrrp_version_type(byte: u8) -> (u8, u8) {
    (byte >> 4, byte & 0x0F)
}

/// ARP operation: request.
pub const ARP_OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_OP_REPLY: u16 = 2;
/// Length of an Ethernet/IPv4 ARP message.
pub const ARP_LEN: usize = 28;

/// IPv6 next header: ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 Neighbour Solicitation.
pub const ICMPV6_NS: u8 = 135;
/// ICMPv6 Neighbour Advertisement.
pub const ICMPV6_NA: u8 = 136;
/// NS/NA fixed part: type, code, checksum, flags/reserved, target.
pub const ND_HLEN: usize = 24;
/// NA we send: fixed part plus one target link-layer address option.
pub const NA_LEN: usize = ND_HLEN + 8;
/// NDP option: source link-layer address.
pub const ND_OPT_SOURCE_LL: u8 = 1;
/// NDP option: target link-layer address.
pub const ND_OPT_TARGET_LL: u8 = 2;
/// NA flags byte: Solicited.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// NA flags byte: Override.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// ff02::1, the all-nodes multicast address.
pub const IPV6_ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// 33:33:00:00:00:01, the MAC of ff02::1.
pub const MAC_ALL_NODES: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

/// IPv6 extension headers skipped on the way to VRRP / ICMPv6 (Hop-by-Hop
/// only right after the IPv6 header, RFC 8200 section 4.3).
pub const IPV6_EXT_HOP_BY_HOP: u8 = 0;
pub const IPV6_EXT_ROUTING: u8 = 43;
pub const IPV6_EXT_DEST_OPTS: u8 = 60;
/// IPv6 Fragment header: where the walk stops.
pub const IPV6_EXT_FRAGMENT: u8 = 44;
/// At most this many extension headers are walked.
pub const IPV6_MAX_EXT_HEADERS: usize = 4;
/// Extension headers may not push the upper-layer header further than this
/// from the start of the frame (keeps offsets bounded for the verifier).
pub const MAX_L4_OFFSET: usize = 512;

/// VRRP fixed header (both versions).
pub const VRRP_HLEN: usize = 8;
/// VRRPv2 authentication data after the addresses.
pub const VRRP_V2_AUTH_LEN: usize = 8;
/// Largest VRRP message validated: a VRRPv3/IPv6 advert with as many
/// addresses as a 1500-byte MTU carries (90), or a VRRPv2 advert with 255
/// addresses. Longer ones are dropped as `drop_length`.
pub const MAX_VRRP_LEN: usize = VRRP_HLEN + 16 * 90;
/// `MAX_VRRP_LEN` in 32-bit words (every valid VRRP length is a multiple of 4).
pub const MAX_VRRP_WORDS: usize = MAX_VRRP_LEN / 4;

/// What the walk does with extension header `next_header` found as the
/// `index`-th header after the IPv6 header (0 = first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Ext {
    /// Hop-by-Hop (first only), Routing, Destination Options: skipped.
    Skip,
    /// Hop-by-Hop anywhere but first: RFC 8200 section 4.3 makes the packet
    /// one the stack discards.
    Misplaced,
    /// Anything else ends the walk: the upper layer or a header not skipped.
    Stop,
}

#[inline(always)]
pub const fn ipv6_ext(next_header: u8, index: usize) -> Ipv6Ext {
    match next_header {
        IPV6_EXT_HOP_BY_HOP if index > 0 => Ipv6Ext::Misplaced,
        IPV6_EXT_HOP_BY_HOP | IPV6_EXT_ROUTING | IPV6_EXT_DEST_OPTS => Ipv6Ext::Skip,
        _ => Ipv6Ext::Stop,
    }
}

/// True for a fragment of an IPv4 packet: More Fragments set or an offset
/// (`flags_offset` = bytes 6 and 7 of the header).
#[inline(always)]
pub const fn ipv4_is_fragment(flags_offset: [u8; 2]) -> bool {
    flags_offset[0] & 0x3F != 0 || flags_offset[1] != 0
}

/// Length of an IPv6 extension header from its `Hdr Ext Len` byte.
#[inline(always)]
pub const fn ipv6_ext_len(hdr_ext_len: u8) -> usize {
    (hdr_ext_len as usize + 1) * 8
}

/// Folds a one's-complement sum of big-endian words into 16 bits.
#[inline(always)]
pub const fn fold(mut sum: u64) -> u16 {
    // Four rounds bring any u64 down to 16 bits (no data-dependent loop).
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum as u16
}

/// One's-complement sum of `bytes` as big-endian 16-bit words (an odd last
/// byte is padded with zero), not folded.
#[inline(always)]
pub fn sum_be16(bytes: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while i + 1 < bytes.len() {
        sum += u16::from_be_bytes([bytes[i], bytes[i + 1]]) as u64;
        i += 2;
    }
    if i < bytes.len() {
        sum += (bytes[i] as u64) << 8;
    }
    sum
}

/// Sum of the IPv4 pseudo-header (RFC 768 / RFC 5798 section 5.2.8).
#[inline(always)]
pub fn ipv4_pseudo_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u64 {
    sum_be16(&src) + sum_be16(&dst) + protocol as u64 + length as u64
}

/// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
#[inline(always)]
pub fn ipv6_pseudo_sum(src: &[u8; 16], dst: &[u8; 16], next_header: u8, length: u32) -> u64 {
    sum_be16(src)
        + sum_be16(dst)
        + (length >> 16) as u64
        + (length & 0xFFFF) as u64
        + next_header as u64
}

/// True if a sum over a message *including its checksum field* verifies.
#[inline(always)]
pub const fn checksum_verifies(sum: u64) -> bool {
    fold(sum) == 0xFFFF
}

/// Why a VRRP advert is dropped (RFC 5798 section 7.1 order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpDrop {
    /// Multicast: TTL / hop limit not 255 (checked first). Unicast: outside
    /// the sending peer's range (checked last, once the peer is known).
    Ttl,
    Version,
    Type,
    Length,
    Checksum,
    Auth,
    NotPeer,
}

/// Header checks on values already read from the frame. Returns the VRRP
/// message length (fixed header, addresses and, for v2, auth data) to
/// checksum, or why the advert is dropped.
///
/// - `ttl`: IPv4 TTL / IPv6 hop limit; must be 255 when `multicast` (a
///   policy without unicast peers). A unicast policy's TTL is checked
///   against the sending peer's range by [`vrrp_peer_check`], after the
///   other checks, as keepalived does.
/// - `version_type`: first VRRP byte; version 2 or 3 (and `policy_version`
///   unless that is 0; 2 only over IPv4), type 1.
/// - `count`: address count; `addr_len` is 4 (IPv4) or 16 (IPv6).
/// - `ip_payload_len`: bytes of IP payload from the VRRP header on.
/// - `frame_avail`: bytes of frame from the VRRP header on.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub const fn vrrp_header_check(
    ttl: u8,
    multicast: bool,
    version_type: u8,
    policy_version: u8,
    count: u8,
    addr_len: usize,
    ip_payload_len: usize,
    frame_avail: usize,
) -> Result<usize, VrrpDrop> {
    if multicast && ttl != 255 {
        return Err(VrrpDrop::Ttl);
    }
    let (version, kind) = vrrp_version_type(version_type);
    if version != 2 && version != 3 {
        return Err(VrrpDrop::Version);
    }
    if policy_version != 0 && version != policy_version {
        return Err(VrrpDrop::Version);
    }
    if version == 2 && addr_len != 4 {
        // RFC 3768 defines VRRPv2 for IPv4 only.
        return Err(VrrpDrop::Version);
    }
    if kind != 1 {
        return Err(VrrpDrop::Type);
    }
    let len = if version == 2 {
        VRRP_HLEN + 4 * count as usize + VRRP_V2_AUTH_LEN
    } else {
        VRRP_HLEN + addr_len * count as usize
    };
    if len > MAX_VRRP_LEN || len > ip_payload_len || len > frame_avail {
        return Err(VrrpDrop::Length);
    }
    Ok(len)
}

/// True if `ttl` lies in the inclusive range `[min, max]` (empty when
/// `min > max`).
#[inline(always)]
pub const fn ttl_in_range(range: [u8; 2], ttl: u8) -> bool {
    range[0] <= ttl && ttl <= range[1]
}

/// The source rule, the last check: a policy without peers (multicast)
/// takes any source (its TTL was checked by [`vrrp_header_check`]). With
/// peers (unicast) the source must be one of the first `peer_count`
/// (`NotPeer`), and the TTL / hop limit within that peer's `peer_ttl`
/// range (`Ttl`); the first matching entry counts. At most [`MAX_PEERS`]
/// entries are looked at (a bounded loop for the verifier).
#[inline(always)]
pub fn vrrp_peer_check(policy: &VrrpPolicy, src: &[u8; 16], ttl: u8) -> Result<(), VrrpDrop> {
    let count = policy.peer_count as usize;
    if count == 0 {
        return Ok(());
    }
    let mut i = 0;
    while i < MAX_PEERS && i < count {
        // `get`, not indexing: no panic path (the verifier refuses a
        // program whose last instruction is the call to it).
        let (Some(peer), Some(range)) = (policy.peers.get(i), policy.peer_ttl.get(i)) else {
            break;
        };
        if *peer == *src {
            return if ttl_in_range(*range, ttl) {
                Ok(())
            } else {
                Err(VrrpDrop::Ttl)
            };
        }
        i += 1;
    }
    Err(VrrpDrop::NotPeer)
}

/// Checksum decision. `msg_sum` is the unfolded sum over the whole VRRP
/// message, `pseudo_sum` the sum of the carrying IP pseudo-header.
/// v2: message only. v3 over IPv6: with the pseudo-header. v3 over IPv4:
/// either (keepalived's `v3_checksum_as_v2` leaves the pseudo-header out).
#[inline(always)]
pub const fn vrrp_checksum_ok(version: u8, family: u8, msg_sum: u64, pseudo_sum: u64) -> bool {
    if version == 2 {
        return checksum_verifies(msg_sum);
    }
    if family == 6 {
        return checksum_verifies(msg_sum + pseudo_sum);
    }
    checksum_verifies(msg_sum + pseudo_sum) || checksum_verifies(msg_sum)
}

/// VRRPv2 authentication (RFC 3768 section 7.1): the advert's type must be
/// the configured one, and with simple-text passwords the 8 bytes must match.
#[inline(always)]
pub fn vrrp_v2_auth_ok(
    policy_type: u8,
    policy_pass: &[u8; 8],
    advert_type: u8,
    advert_pass: &[u8; 8],
) -> bool {
    if advert_type != policy_type {
        return false;
    }
    if policy_type == 1 {
        let mut diff = 0u8;
        let mut i = 0;
        while i < 8 {
            diff |= policy_pass[i] ^ advert_pass[i];
            i += 1;
        }
        return diff == 0;
    }
    true
}

/// Fencing: true when the program must stop answering for VIPs because the
/// daemon's heartbeat is missing or older than `bound_ns`.
#[inline(always)]
pub const fn fenced(now_ns: u64, heartbeat_ns: u64, bound_ns: u64) -> bool {
    if heartbeat_ns == 0 {
        return true;
    }
    // A heartbeat written just after `now` was read is fresh, not ancient.
    now_ns > heartbeat_ns && now_ns - heartbeat_ns > bound_ns
}

/// ICMPv6 checksum of the Neighbour Advertisement the program sends:
/// flags, target, and a target link-layer address option carrying `mac`.
#[inline(always)]
pub fn na_checksum(
    src: &[u8; 16],
    dst: &[u8; 16],
    flags: u8,
    target: &[u8; 16],
    mac: &[u8; 6],
) -> u16 {
    let sum = ipv6_pseudo_sum(src, dst, IPPROTO_ICMPV6, NA_LEN as u32)
        + ((ICMPV6_NA as u64) << 8)
        + ((flags as u64) << 8)
        + sum_be16(target)
        + ((ND_OPT_TARGET_LL as u64) << 8)
        + 1
        + sum_be16(mac);
    !fold(sum)
}

/// NA flags for an answer: Solicited + Override, or only Override when the
/// NS came from the unspecified address (RFC 4861 section 7.2.4: the answer
/// goes to all-nodes and is not solicited).
#[inline(always)]
pub const fn na_flags(ns_source_unspecified: bool) -> u8 {
    if ns_source_unspecified {
        NA_FLAG_OVERRIDE
    } else {
        NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE
    }
}

/// True for a solicited-node multicast address, ff02::1:ff00:0/104
/// (RFC 4291 section 2.7.1).
#[inline(always)]
pub fn is_solicited_node(addr: &[u8; 16]) -> bool {
    const PREFIX: [u8; 13] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
    let mut diff = 0u8;
    let mut i = 0;
    while i < PREFIX.len() {
        diff |= addr[i] ^ PREFIX[i];
        i += 1;
    }
    diff == 0
}

/// One step of the walk over an NS's options (RFC 4861 section 4.6): the
/// option at `offset` (of `units` x 8 bytes) in a message of `len` bytes.
/// Returns where the next option starts, or `None` when the message is
/// invalid (section 7.1.1: an option of length 0, or one that overruns it).
#[inline(always)]
pub const fn nd_option_next(offset: usize, units: u8, len: usize) -> Option<usize> {
    let next = offset + units as usize * 8;
    if units == 0 || next > len {
        None
    } else {
        Some(next)
    }
}

/// True for `::`.
#[inline(always)]
pub fn is_unspecified(addr: &[u8; 16]) -> bool {
    let mut acc = 0u8;
    let mut i = 0;
    while i < 16 {
        acc |= addr[i];
        i += 1;
    }
    acc == 0
}

/// IPv4 address in the 16-byte key form (first four bytes).
#[inline(always)]
pub const fn v4_key(addr: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0] = addr[0];
    out[1] = addr[1];
    out[2] = addr[2];
    out[3] = addr[3];
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_len_accepts_5_to_15_words() {
        assert_eq!(ipv4_header_len(0x45), Some(20));
        assert_eq!(ipv4_header_len(0x46), Some(24));
        assert_eq!(ipv4_header_len(0x4F), Some(60));
    }

    #[test]
    fn ipv4_header_len_rejects_short_ihl_and_other_versions() {
        assert_eq!(ipv4_header_len(0x44), None);
        assert_eq!(ipv4_header_len(0x40), None);
        assert_eq!(ipv4_header_len(0x65), None);
    }

    #[test]
    fn vlan_tags() {
        assert!(is_vlan_tag(0x8100));
        assert!(is_vlan_tag(0x88A8));
        assert!(!is_vlan_tag(ETH_P_IPV4));
    }

    #[test]
    fn vrrp_first_byte() {
        assert_eq!(vrrp_version_type(0x21), (2, 1));
        assert_eq!(vrrp_version_type(0x31), (3, 1));
    }
    fn rfc1071(bytes: &[u8]) -> u16 {
        !fold(sum_be16(bytes))
    }

    #[test]
    fn fold_carries_all_the_way() {
        assert_eq!(fold(0), 0);
        assert_eq!(fold(0xFFFF), 0xFFFF);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0x1_FFFE), 0xFFFF);
        assert_eq!(fold(u64::MAX), 0xFFFF);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_be16(&data)), 0xddf2);
        assert_eq!(sum_be16(&[0xAB]), 0xAB00);
    }

    #[test]
    fn a_message_with_its_checksum_verifies() {
        let mut msg = [
            0x21, 51, 100, 1, 0, 1, 0, 0, 10, 0, 0, 70, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let c = rfc1071(&msg).to_be_bytes();
        msg[6] = c[0];
        msg[7] = c[1];
        assert!(checksum_verifies(sum_be16(&msg)));
        assert!(vrrp_checksum_ok(2, 4, sum_be16(&msg), 12345));
        msg[2] = 101;
        assert!(!vrrp_checksum_ok(2, 4, sum_be16(&msg), 0));
    }

    #[test]
    fn v3_ipv4_accepts_both_checksum_styles_v3_ipv6_needs_pseudo_header() {
        let src = [10, 0, 0, 2];
        let dst = [224, 0, 0, 18];
        let base = [0x31u8, 7, 100, 1, 0, 100, 0, 0, 10, 0, 0, 9];
        let pseudo = ipv4_pseudo_sum(src, dst, 112, base.len() as u16);
        let mut with = base;
        let c = (!fold(sum_be16(&base) + pseudo)).to_be_bytes();
        with[6..8].copy_from_slice(&c);
        let mut without = base;
        without[6..8].copy_from_slice(&rfc1071(&base).to_be_bytes());
        assert!(vrrp_checksum_ok(3, 4, sum_be16(&with), pseudo));
        assert!(vrrp_checksum_ok(3, 4, sum_be16(&without), pseudo));
        // IPv6: only with the pseudo-header.
        let s6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let d6 = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
        let p6 = ipv6_pseudo_sum(&s6, &d6, 112, base.len() as u32);
        assert!(!vrrp_checksum_ok(3, 6, sum_be16(&without), p6));
        let mut with6 = base;
        with6[6..8].copy_from_slice(&(!fold(sum_be16(&base) + p6)).to_be_bytes());
        assert!(vrrp_checksum_ok(3, 6, sum_be16(&with6), p6));
    }

    #[test]
    fn vrrp_header_checks_in_rfc_order() {
        // v2, one address: 8 + 4 + 8 = 20 bytes.
        assert_eq!(vrrp_header_check(255, true, 0x21, 2, 1, 4, 20, 20), Ok(20));
        assert_eq!(vrrp_header_check(255, true, 0x21, 0, 1, 4, 20, 26), Ok(20));
        assert_eq!(
            vrrp_header_check(64, true, 0x41, 2, 1, 4, 0, 0),
            Err(VrrpDrop::Ttl)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x41, 0, 1, 4, 20, 20),
            Err(VrrpDrop::Version)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x31, 2, 1, 4, 20, 20),
            Err(VrrpDrop::Version)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x22, 2, 1, 4, 20, 20),
            Err(VrrpDrop::Type)
        );
        // VRRPv2 over IPv6 does not exist, whatever the policy accepts.
        assert_eq!(
            vrrp_header_check(255, true, 0x21, 0, 1, 16, 20, 20),
            Err(VrrpDrop::Version)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x21, 2, 1, 16, 20, 20),
            Err(VrrpDrop::Version)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x21, 2, 2, 4, 20, 20),
            Err(VrrpDrop::Length)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x21, 2, 1, 4, 20, 19),
            Err(VrrpDrop::Length)
        );
        // v3: 8 + 16 * count over IPv6; 91 addresses do not fit.
        assert_eq!(vrrp_header_check(255, true, 0x31, 3, 2, 16, 40, 40), Ok(40));
        assert_eq!(
            vrrp_header_check(255, true, 0x31, 3, 91, 16, 2000, 2000),
            Err(VrrpDrop::Length)
        );
        assert_eq!(
            vrrp_header_check(255, true, 0x21, 2, 255, 4, 1036, 1036),
            Ok(1036)
        );
        assert_eq!(MAX_VRRP_LEN % 4, 0);
    }

    #[test]
    fn unicast_leaves_the_ttl_to_the_peer_check() {
        // Not multicast: no TTL rule here, the other checks as before.
        for ttl in [0, 1, 64, 254, 255] {
            assert_eq!(vrrp_header_check(ttl, false, 0x21, 2, 1, 4, 20, 20), Ok(20));
            assert_eq!(
                vrrp_header_check(ttl, false, 0x41, 0, 1, 4, 20, 20),
                Err(VrrpDrop::Version)
            );
            assert_eq!(
                vrrp_header_check(ttl, false, 0x31, 3, 2, 16, 40, 39),
                Err(VrrpDrop::Length)
            );
        }
        // Multicast: 255 only, checked first.
        assert_eq!(
            vrrp_header_check(254, true, 0x31, 3, 2, 16, 40, 40),
            Err(VrrpDrop::Ttl)
        );
        assert_eq!(vrrp_header_check(255, true, 0x31, 3, 2, 16, 40, 40), Ok(40));
    }

    fn peer(last: u8) -> [u8; 16] {
        v4_key([10, 0, 0, last])
    }

    fn unicast(peers: &[([u8; 16], [u8; 2])]) -> VrrpPolicy {
        let mut policy = VrrpPolicy {
            peer_count: peers.len() as u8,
            ..VrrpPolicy::default()
        };
        for (i, (addr, range)) in peers.iter().enumerate() {
            policy.peers[i] = *addr;
            policy.peer_ttl[i] = *range;
        }
        policy
    }

    #[test]
    fn ttl_ranges_are_inclusive_and_empty_when_reversed() {
        assert!(ttl_in_range(vip_common::PEER_TTL_ANY, 0));
        assert!(ttl_in_range(vip_common::PEER_TTL_ANY, 255));
        assert!(ttl_in_range([60, 64], 60));
        assert!(ttl_in_range([60, 64], 64));
        assert!(!ttl_in_range([60, 64], 59));
        assert!(!ttl_in_range([60, 64], 65));
        assert!(ttl_in_range([255, 255], 255));
        assert!(!ttl_in_range([255, 255], 254));
        for ttl in [0, 9, 10, 11, 255] {
            assert!(
                !ttl_in_range([11, 10], ttl),
                "min > max takes nothing: {ttl}"
            );
        }
    }

    #[test]
    fn multicast_policies_take_any_source() {
        let policy = VrrpPolicy::default();
        for ttl in [0, 64, 255] {
            assert_eq!(vrrp_peer_check(&policy, &peer(9), ttl), Ok(()));
        }
    }

    #[test]
    fn unicast_policies_take_a_peer_within_its_range() {
        let policy = unicast(&[
            (peer(2), vip_common::PEER_TTL_ANY),
            (peer(3), [255, 255]),
            (peer(4), [60, 64]),
            (peer(5), [64, 60]),
        ]);
        assert_eq!(vrrp_peer_check(&policy, &peer(2), 1), Ok(()));
        assert_eq!(vrrp_peer_check(&policy, &peer(2), 64), Ok(()));
        assert_eq!(vrrp_peer_check(&policy, &peer(3), 255), Ok(()));
        assert_eq!(vrrp_peer_check(&policy, &peer(3), 64), Err(VrrpDrop::Ttl));
        assert_eq!(vrrp_peer_check(&policy, &peer(4), 60), Ok(()));
        assert_eq!(vrrp_peer_check(&policy, &peer(4), 64), Ok(()));
        assert_eq!(vrrp_peer_check(&policy, &peer(4), 59), Err(VrrpDrop::Ttl));
        assert_eq!(vrrp_peer_check(&policy, &peer(4), 65), Err(VrrpDrop::Ttl));
        assert_eq!(vrrp_peer_check(&policy, &peer(5), 62), Err(VrrpDrop::Ttl));
        // Not a peer: named as such whatever the TTL.
        assert_eq!(
            vrrp_peer_check(&policy, &peer(6), 255),
            Err(VrrpDrop::NotPeer)
        );
        assert_eq!(
            vrrp_peer_check(&policy, &peer(6), 64),
            Err(VrrpDrop::NotPeer)
        );
    }

    #[test]
    fn only_the_counted_peers_and_the_first_match_count() {
        let mut policy = unicast(&[(peer(2), [255, 255]), (peer(2), vip_common::PEER_TTL_ANY)]);
        // The first entry for an address decides.
        assert_eq!(vrrp_peer_check(&policy, &peer(2), 64), Err(VrrpDrop::Ttl));
        // Entries past peer_count are not peers.
        policy.peers[2] = peer(7);
        policy.peer_ttl[2] = vip_common::PEER_TTL_ANY;
        assert_eq!(
            vrrp_peer_check(&policy, &peer(7), 255),
            Err(VrrpDrop::NotPeer)
        );
        // A full list: the last slot is looked at.
        let all: [([u8; 16], [u8; 2]); MAX_PEERS] =
            core::array::from_fn(|i| (peer(10 + i as u8), [i as u8, 255]));
        let full = unicast(&all);
        let last = MAX_PEERS as u8 - 1;
        assert_eq!(vrrp_peer_check(&full, &peer(10 + last), last), Ok(()));
        assert_eq!(
            vrrp_peer_check(&full, &peer(10 + last), last - 1),
            Err(VrrpDrop::Ttl)
        );
        // A peer_count beyond the array is bounded by it.
        let mut over = full;
        over.peer_count = 200;
        assert_eq!(
            vrrp_peer_check(&over, &peer(99), 255),
            Err(VrrpDrop::NotPeer)
        );
    }

    #[test]
    fn v2_auth() {
        let pass = *b"secret\0\0";
        assert!(vrrp_v2_auth_ok(0, &[0; 8], 0, &[1; 8]));
        assert!(!vrrp_v2_auth_ok(0, &[0; 8], 1, &pass));
        assert!(vrrp_v2_auth_ok(1, &pass, 1, &pass));
        assert!(!vrrp_v2_auth_ok(1, &pass, 1, b"secreT\0\0"));
        assert!(!vrrp_v2_auth_ok(1, &pass, 0, &pass));
    }

    #[test]
    fn fencing() {
        assert!(fenced(10, 0, u64::MAX), "never heartbeaten");
        assert!(!fenced(1_000, 900, 100));
        assert!(fenced(1_001, 900, 100));
        assert!(!fenced(900, 1_000, 0), "heartbeat newer than now");
    }

    #[test]
    fn na_checksum_matches_a_full_computation() {
        let src = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
        let dst = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];
        let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        for flags in [na_flags(false), na_flags(true)] {
            let mut na = [0u8; NA_LEN];
            na[0] = ICMPV6_NA;
            na[4] = flags;
            na[8..24].copy_from_slice(&src);
            na[24] = ND_OPT_TARGET_LL;
            na[25] = 1;
            na[26..32].copy_from_slice(&mac);
            let expected = !fold(sum_be16(&na) + ipv6_pseudo_sum(&src, &dst, 58, 32));
            assert_eq!(na_checksum(&src, &dst, flags, &src, &mac), expected);
            // The host side (the agent's own unsolicited NAs) computes the same.
            let mut host = internet_checksum::Checksum::new();
            host.add_bytes(&src);
            host.add_bytes(&dst);
            host.add_bytes(&[0, 0, 0, 32, 0, 0, 0, 58]);
            host.add_bytes(&na);
            assert_eq!(host.checksum(), expected.to_be_bytes());
            na[2..4].copy_from_slice(&expected.to_be_bytes());
            assert!(checksum_verifies(
                sum_be16(&na) + ipv6_pseudo_sum(&src, &dst, 58, 32)
            ));
        }
        assert_eq!(na_flags(false), 0x60);
        assert_eq!(na_flags(true), 0x20);
    }

    #[test]
    fn ipv6_ext_headers() {
        assert_eq!(ipv6_ext(0, 0), Ipv6Ext::Skip);
        assert_eq!(ipv6_ext(0, 1), Ipv6Ext::Misplaced, "hop-by-hop only first");
        assert_eq!(ipv6_ext(43, 0), Ipv6Ext::Skip);
        assert_eq!(ipv6_ext(60, 3), Ipv6Ext::Skip);
        assert_eq!(ipv6_ext(112, 0), Ipv6Ext::Stop);
        assert_eq!(
            ipv6_ext(44, 1),
            Ipv6Ext::Stop,
            "fragments are looked at, not skipped"
        );
        assert_eq!(ipv6_ext_len(0), 8);
        assert_eq!(ipv6_ext_len(1), 16);
    }

    #[test]
    fn ipv4_fragments() {
        assert!(!ipv4_is_fragment([0, 0]));
        assert!(!ipv4_is_fragment([0x40, 0]), "don't fragment");
        assert!(!ipv4_is_fragment([0x80, 0]), "reserved bit");
        assert!(ipv4_is_fragment([0x20, 0]), "more fragments");
        assert!(ipv4_is_fragment([0, 1]), "an offset");
        assert!(ipv4_is_fragment([0x01, 0]), "an offset's high bits");
    }

    #[test]
    fn nd_options() {
        assert!(is_solicited_node(&[
            0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x64
        ]));
        assert!(!is_solicited_node(&IPV6_ALL_NODES));
        assert_eq!(nd_option_next(24, 1, 32), Some(32));
        assert_eq!(nd_option_next(24, 0, 32), None, "length 0");
        assert_eq!(nd_option_next(24, 2, 32), None, "overruns");
        assert_eq!(nd_option_next(24, 2, 40), Some(40));
    }

    #[test]
    fn addresses() {
        assert!(is_unspecified(&[0; 16]));
        assert!(!is_unspecified(&IPV6_ALL_NODES));
        assert_eq!(v4_key([1, 2, 3, 4])[..5], [1, 2, 3, 4, 0]);
    }
}
