//! The XDP program: Ethernet (at most one VLAN tag) -> ARP / IPv4 / IPv6 ->
//! VRRP or ICMPv6 NS.
//!
//! - ARP requests and NS for a VIP that `OWNERSHIP` marks as held (master) on
//!   the ingress interface are answered in place (`XDP_TX`) while the
//!   daemon's heartbeat in `LIVENESS` is fresh; everything else goes on to
//!   the kernel.
//! - VRRP adverts for a (ifindex, vrid, family) with a `VRRP_POLICY` entry are
//!   validated as RFC 5798 section 7.1 asks; invalid ones are dropped, every
//!   outcome is counted in `VRRP_STATS`. Adverts without a policy pass. As
//!   in keepalived, TTL / hop limit 255 is asked of multicast policies
//!   (first); a unicast policy asks instead, last, for a source among its
//!   peers and a TTL within that peer's `peer_ttl` range.
//! - What the stack itself would discard (an IPv4 header with a bad
//!   checksum, IPv6 of another version or with Hop-by-Hop not first, an NS
//!   that RFC 4861 section 7.1.1 calls invalid) passes uncounted: the kernel
//!   drops it, and nothing here answers or counts it as an advert.
//!
//! `tests/tests/xdp_differential.rs` holds this program to a model written
//! from the RFCs (`tests/src/xdp_model.rs`) on random and mutated frames.

use aya_ebpf::{
    bindings::{xdp_action, BPF_NOEXIST},
    btf_maps::{Array, HashMap, PerCpuHashMap},
    helpers::{bpf_csum_diff, bpf_ktime_get_ns, bpf_xdp_adjust_tail},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vip_agent_ebpf::{
    checksum_verifies, fenced, fold, ipv4_header_len, ipv4_is_fragment, ipv4_pseudo_sum, ipv6_ext,
    ipv6_ext_len, ipv6_pseudo_sum, is_solicited_node, is_unspecified, is_vlan_tag, na_checksum,
    na_flags, nd_option_next, v4_key, vrrp_checksum_ok, vrrp_header_check, vrrp_peer_check,
    vrrp_v2_auth_ok, vrrp_version_type, Ipv6Ext, VrrpDrop, ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST,
    ETH_HLEN, ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6, ICMPV6_NA, ICMPV6_NS, IPPROTO_ICMPV6,
    IPV6_ALL_NODES, IPV6_EXT_FRAGMENT, IPV6_HLEN, IPV6_MAX_EXT_HEADERS, MAC_ALL_NODES,
    MAX_L4_OFFSET, MAX_VRRP_LEN, NA_LEN, ND_HLEN, ND_OPT_SOURCE_LL, ND_OPT_TARGET_LL, VLAN_HLEN,
    VRRP_HLEN,
};
use vip_common::{
    refuses_traffic, IfKey, L2Stats, Liveness, Ownership, OwnershipKey, VrrpKey, VrrpPolicy,
    VrrpStats, AUTH_NONE, FAMILY_V4, FAMILY_V6, IPPROTO_VRRP, L2_STATS_MAX_ENTRIES,
    OWNERSHIP_FLAG_MASTER, OWNERSHIP_MAX_ENTRIES, VRRP_STATS_MAX_ENTRIES,
};

#[btf_map]
static OWNERSHIP: HashMap<OwnershipKey, Ownership, { OWNERSHIP_MAX_ENTRIES as usize }> =
    HashMap::new();

#[btf_map]
static VRRP_POLICY: HashMap<VrrpKey, VrrpPolicy, { VRRP_STATS_MAX_ENTRIES as usize }> =
    HashMap::new();

#[btf_map]
static VRRP_STATS: PerCpuHashMap<VrrpKey, VrrpStats, { VRRP_STATS_MAX_ENTRIES as usize }> =
    PerCpuHashMap::new();

#[btf_map]
static L2_STATS: PerCpuHashMap<IfKey, L2Stats, { L2_STATS_MAX_ENTRIES as usize }> =
    PerCpuHashMap::new();

#[btf_map]
static LIVENESS: Array<Liveness, 1> = Array::new();

/// NDP messages checked (and answered) are at most this long: an NS with up
/// to five 8-byte options (a source link-layer option and a nonce need two).
const MAX_NS_LEN: usize = 64;

/// Why the program stopped looking at a frame. Each variant maps to a verdict
/// on purpose in [`vip_xdp`].
#[derive(Clone, Copy)]
enum Error {
    /// The frame ends before a header we need; the stack judges runts.
    Truncated,
    /// The IP header is not one we can walk (bad version or IHL, header
    /// checksum, extension headers misplaced or too long); the stack drops
    /// or handles it.
    MalformedIp,
    /// Growing or shrinking the frame for an NA failed; the kernel answers.
    TailAdjust,
    /// A fragment of a VRRP packet (IPv4, or IPv6 with a Fragment header
    /// naming VRRP): adverts are never fragmented, and a reassembled one
    /// would bypass validation.
    Fragment,
}

#[xdp]
pub fn vip_xdp(ctx: XdpContext) -> u32 {
    verdict(try_vip_xdp(&ctx))
}

/// The verdict for each way of stopping early, chosen on purpose.
#[inline(always)]
fn verdict(result: Result<u32, Error>) -> u32 {
    match result {
        Ok(action) => action,
        Err(Error::Truncated) | Err(Error::MalformedIp) | Err(Error::TailAdjust) => {
            xdp_action::XDP_PASS
        }
        Err(Error::Fragment) => xdp_action::XDP_DROP,
    }
}

/// Pointer to a `T` at `offset` bytes into the frame, after checking that the
/// whole `T` lies before `data_end`. The only way the program touches packet
/// memory.
///
/// # Safety
/// The returned pointer is in bounds of the packet buffer (the verifier sees
/// the same comparison) until the frame is resized. Callers only use it for
/// `read_unaligned`/`write_unaligned` of byte-array types, so alignment does
/// not matter.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*mut T, Error> {
    let (start, end) = bounds(ctx);
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(Error::Truncated);
    }
    Ok((start + offset) as *mut T)
}

/// `data` and `data_end` of the frame, read from the context itself every
/// time: volatile loads keep the compiler from hoisting them into a caller and
/// passing them to a BPF subprogram as plain integers, which the verifier
/// would no longer recognise as packet pointers.
#[inline(always)]
fn bounds(ctx: &XdpContext) -> (usize, usize) {
    // SAFETY: `ctx.ctx` is the kernel's xdp_md for this run.
    unsafe {
        (
            core::ptr::read_volatile(&(*ctx.ctx).data) as usize,
            core::ptr::read_volatile(&(*ctx.ctx).data_end) as usize,
        )
    }
}

#[inline(always)]
fn frame_len(ctx: &XdpContext) -> usize {
    let (start, end) = bounds(ctx);
    end - start
}

#[inline(always)]
fn read<T: Copy>(ctx: &XdpContext, offset: usize) -> Result<T, Error> {
    let p = ptr_at::<T>(ctx, offset)?;
    // SAFETY: in bounds (ptr_at); unaligned read of a byte-array type.
    Ok(unsafe { core::ptr::read_unaligned(p) })
}

#[inline(always)]
fn write<T>(ctx: &XdpContext, offset: usize, value: T) -> Result<(), Error> {
    let p = ptr_at::<T>(ctx, offset)?;
    // SAFETY: in bounds (ptr_at); unaligned write of a byte-array type.
    unsafe { core::ptr::write_unaligned(p, value) };
    Ok(())
}

#[inline(always)]
fn be16(bytes: [u8; 2]) -> u16 {
    u16::from_be_bytes(bytes)
}

#[inline(always)]
fn try_vip_xdp(ctx: &XdpContext) -> Result<u32, Error> {
    let eth: [u8; ETH_HLEN] = read(ctx, 0)?;
    let mut ether_type = be16([eth[12], eth[13]]);
    let ifindex = ctx.ingress_ifindex() as u32;
    if is_vlan_tag(ether_type) {
        let tag: [u8; VLAN_HLEN] = read(ctx, ETH_HLEN)?;
        ether_type = be16([tag[2], tag[3]]);
        match ether_type {
            ETH_P_ARP => Ok(arp(ctx, ifindex, ETH_HLEN + VLAN_HLEN)),
            ETH_P_IPV4 => Ok(ipv4(ctx, ifindex, ETH_HLEN + VLAN_HLEN)),
            ETH_P_IPV6 => Ok(ipv6(ctx, ifindex, ETH_HLEN + VLAN_HLEN)),
            _ => Ok(xdp_action::XDP_PASS),
        }
    } else {
        match ether_type {
            ETH_P_ARP => Ok(arp(ctx, ifindex, ETH_HLEN)),
            ETH_P_IPV4 => Ok(ipv4(ctx, ifindex, ETH_HLEN)),
            ETH_P_IPV6 => Ok(ipv6(ctx, ifindex, ETH_HLEN)),
            _ => Ok(xdp_action::XDP_PASS),
        }
    }
}

// ---------------------------------------------------------------- counters

/// Index of a counter in [`L2Stats`] seen as `[u64; N]`.
#[derive(Clone, Copy)]
#[repr(u32)]
enum L2 {
    ArpRequestsSeen = 0,
    ArpRepliesSent,
    ArpPassed,
    ArpFenced,
    ArpOther,
    NsSeen,
    NaSent,
    NsPassed,
    NsFenced,
    VrrpShort,
    VrrpFragments,
    NoAcceptDropped,
}
const L2_COUNTERS: u32 = L2::NoAcceptDropped as u32 + 1;
const _: () = assert!(L2_COUNTERS as usize * 8 == core::mem::size_of::<L2Stats>());

/// Adds one to `counter` of `ifindex`.
#[inline(always)]
fn count_l2(ifindex: u32, counter: L2) {
    bump_l2(ifindex, counter as u32, L2_COUNTERS);
}

/// Counts a request that was seen and what became of it: both counters in
/// one map access.
#[inline(always)]
fn count_l2_seen(ifindex: u32, seen: L2, outcome: L2) {
    bump_l2(ifindex, seen as u32, outcome as u32);
}

/// Adds one to counters `first` and `second` (`L2_COUNTERS`: none) of
/// `ifindex`. Its own BPF function: one copy of the zeroed value on one
/// small stack frame.
#[inline(never)]
fn bump_l2(ifindex: u32, first: u32, second: u32) {
    let key = IfKey { ifindex };
    let stats = match L2_STATS.get_ptr_mut(key) {
        Some(p) => p,
        None => {
            let _ = L2_STATS.insert(key, L2Stats::default(), BPF_NOEXIST as u64);
            match L2_STATS.get_ptr_mut(key) {
                Some(p) => p,
                None => return,
            }
        }
    };
    // SAFETY: this CPU's slot of a per-CPU map (nothing else writes it
    // meanwhile); each index is checked to name one of its u64 fields.
    unsafe {
        if first < L2_COUNTERS {
            *(stats as *mut u64).add(first as usize) += 1;
        }
        if second < L2_COUNTERS {
            *(stats as *mut u64).add(second as usize) += 1;
        }
    }
}

/// Outcome of one VRRP frame: index of its counter in [`VrrpStats`].
#[derive(Clone, Copy)]
enum Outcome {
    Valid,
    Drop(VrrpDrop),
    Unconfigured,
}

impl Outcome {
    #[inline(always)]
    fn index(self) -> u32 {
        match self {
            Outcome::Valid => 1,
            Outcome::Drop(VrrpDrop::Ttl) => 2,
            Outcome::Drop(VrrpDrop::Version) => 3,
            Outcome::Drop(VrrpDrop::Type) => 4,
            Outcome::Drop(VrrpDrop::Length) => 5,
            Outcome::Drop(VrrpDrop::Checksum) => 6,
            Outcome::Drop(VrrpDrop::Auth) => 7,
            Outcome::Drop(VrrpDrop::NotPeer) => 8,
            Outcome::Unconfigured => 9,
        }
    }
}

/// Counts one frame for `key` and its outcome (index from [`Outcome::index`]);
/// a valid advert also records its time and source.
#[inline(never)]
fn count_vrrp(key: &VrrpKey, outcome: u32, src: &[u8; 16]) {
    if outcome == 0 || outcome > 9 {
        return;
    }
    let stats = match VRRP_STATS.get_ptr_mut(key) {
        Some(p) => p,
        None => {
            let _ = VRRP_STATS.insert(key, VrrpStats::default(), BPF_NOEXIST as u64);
            match VRRP_STATS.get_ptr_mut(key) {
                Some(p) => p,
                None => return,
            }
        }
    };
    // SAFETY: this CPU's slot of a per-CPU map; `outcome` indexes one of
    // the leading u64 counters (frames is index 0).
    unsafe {
        (*stats).frames += 1;
        *(stats as *mut u64).add(outcome as usize) += 1;
        if outcome == 1 {
            (*stats).last_seen_ns = bpf_ktime_get_ns();
            (*stats).last_source = *src;
        }
    }
}

/// True when the daemon's heartbeat is missing or stale.
#[inline(always)]
fn is_fenced() -> bool {
    match LIVENESS.get(0) {
        // SAFETY: plain helper call.
        Some(live) => fenced(
            unsafe { bpf_ktime_get_ns() },
            live.heartbeat_ns,
            live.bound_ns,
        ),
        None => true,
    }
}

/// The ownership entry for `vip` if this node is master for it.
#[inline(always)]
fn held(ifindex: u32, family: u8, vip: [u8; 16]) -> Option<Ownership> {
    let key = OwnershipKey::new(ifindex, family, vip);
    let own = OWNERSHIP.get_ptr(key)?;
    // SAFETY: map value pointer from a successful lookup.
    let own = unsafe { *own };
    if own.flags & OWNERSHIP_FLAG_MASTER != 0 {
        Some(own)
    } else {
        None
    }
}

/// RFC 5798 section 6.4.3: a master that is not the address owner and has
/// no Accept_Mode does not accept packets addressed to the VIP. True (and
/// counted) when `dst` is such a VIP on `ifindex`; the caller drops.
#[inline(never)]
fn refused(ifindex: u32, family: u8, dst: [u8; 16]) -> bool {
    let key = OwnershipKey::new(ifindex, family, dst);
    let Some(own) = OWNERSHIP.get_ptr(key) else {
        return false;
    };
    // SAFETY: map value pointer from a successful lookup.
    let flags = unsafe { (*own).flags };
    if refuses_traffic(flags) {
        count_l2(ifindex, L2::NoAcceptDropped);
        true
    } else {
        false
    }
}

// --------------------------------------------------------------------- ARP

#[inline(never)]
fn arp(ctx: &XdpContext, ifindex: u32, l3: usize) -> u32 {
    verdict(try_arp(ctx, ifindex, l3))
}

#[inline(always)]
fn try_arp(ctx: &XdpContext, ifindex: u32, l3: usize) -> Result<u32, Error> {
    let a: [u8; ARP_LEN] = read(ctx, l3)?;
    let ethernet_ipv4 =
        be16([a[0], a[1]]) == 1 && be16([a[2], a[3]]) == ETH_P_IPV4 && a[4] == 6 && a[5] == 4;
    if !ethernet_ipv4 || be16([a[6], a[7]]) != ARP_OP_REQUEST {
        count_l2(ifindex, L2::ArpOther);
        return Ok(xdp_action::XDP_PASS);
    }
    let sha = [a[8], a[9], a[10], a[11], a[12], a[13]];
    let spa = [a[14], a[15], a[16], a[17]];
    let tpa = [a[24], a[25], a[26], a[27]];
    if spa == tpa {
        // Gratuitous ARP: an announcement, nothing to answer.
        count_l2_seen(ifindex, L2::ArpRequestsSeen, L2::ArpPassed);
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(own) = held(ifindex, FAMILY_V4, v4_key(tpa)) else {
        count_l2_seen(ifindex, L2::ArpRequestsSeen, L2::ArpPassed);
        return Ok(xdp_action::XDP_PASS);
    };
    // Fenced: the agent stopped heartbeating, so nobody may answer for the
    // VIP from here, not even the kernel, which still has the address until
    // its lifetime runs out. Dropping lets the new Master own it.
    if is_fenced() {
        count_l2_seen(ifindex, L2::ArpRequestsSeen, L2::ArpFenced);
        return Ok(xdp_action::XDP_DROP);
    }
    let m = own.mac;
    let [op_hi, op_lo] = ARP_OP_REPLY.to_be_bytes();
    let reply: [u8; ARP_LEN] = [
        a[0], a[1], a[2], a[3], a[4], a[5], op_hi, op_lo, // htype, ptype, hlen, plen, op
        m[0], m[1], m[2], m[3], m[4], m[5], // sender MAC: owner
        tpa[0], tpa[1], tpa[2], tpa[3], // sender IP: the VIP
        sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], // target MAC: requester
        spa[0], spa[1], spa[2], spa[3], // target IP: requester
    ];
    write(ctx, l3, reply)?;
    write(
        ctx,
        0,
        [
            sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], m[0], m[1], m[2], m[3], m[4], m[5],
        ],
    )?;
    count_l2_seen(ifindex, L2::ArpRequestsSeen, L2::ArpRepliesSent);
    Ok(xdp_action::XDP_TX)
}

// -------------------------------------------------------------------- IPv4

#[inline(never)]
fn ipv4(ctx: &XdpContext, ifindex: u32, l3: usize) -> u32 {
    verdict(try_ipv4(ctx, ifindex, l3))
}

#[inline(always)]
fn try_ipv4(ctx: &XdpContext, ifindex: u32, l3: usize) -> Result<u32, Error> {
    let ip: [u8; 20] = read(ctx, l3)?;
    if ip[9] != IPPROTO_VRRP {
        if refused(ifindex, FAMILY_V4, v4_key([ip[16], ip[17], ip[18], ip[19]])) {
            return Ok(xdp_action::XDP_DROP);
        }
        return Ok(xdp_action::XDP_PASS);
    }
    let hlen = ipv4_header_len(ip[0]).ok_or(Error::MalformedIp)?;
    if frame_len(ctx) < l3 + hlen {
        // The frame ends inside the options: no VRID to read.
        count_l2(ifindex, L2::VrrpShort);
        return Ok(xdp_action::XDP_PASS);
    }
    // RFC 791: the stack discards a header whose checksum is wrong; counted
    // here, its advert would be "valid" and its source recorded.
    if !checksum_verifies(sum_bytes(ctx, l3, hlen)?) {
        return Err(Error::MalformedIp);
    }
    if ipv4_is_fragment([ip[6], ip[7]]) {
        count_l2(ifindex, L2::VrrpFragments);
        return Err(Error::Fragment);
    }
    let total = be16([ip[2], ip[3]]) as usize;
    let payload = total.saturating_sub(hlen);
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    let head = Vrrp {
        family: FAMILY_V4,
        ttl: ip[8],
        l4: l3 + hlen,
        payload,
        src: v4_key(src),
        dst: v4_key(dst),
    };
    Ok(vrrp(ctx, ifindex, &head))
}

// -------------------------------------------------------------------- IPv6

#[inline(never)]
fn ipv6(ctx: &XdpContext, ifindex: u32, l3: usize) -> u32 {
    verdict(try_ipv6(ctx, ifindex, l3))
}

#[inline(always)]
fn try_ipv6(ctx: &XdpContext, ifindex: u32, l3: usize) -> Result<u32, Error> {
    // Version/class/flow, payload length, next header, hop limit.
    let fixed: [u8; 8] = read(ctx, l3)?;
    if fixed[0] >> 4 != 6 {
        return Err(Error::MalformedIp);
    }
    let src: [u8; 16] = read(ctx, l3 + 8)?;
    let dst: [u8; 16] = read(ctx, l3 + 24)?;
    let hop_limit = fixed[7];
    let mut next = fixed[6];
    let mut l4 = l3 + IPV6_HLEN;
    for index in 0..IPV6_MAX_EXT_HEADERS {
        match ipv6_ext(next, index) {
            Ipv6Ext::Stop => break,
            // Not examined further, but not a way past the accept rule.
            Ipv6Ext::Misplaced => return Ok(accept_rule(ifindex, dst)),
            Ipv6Ext::Skip => {
                let ext: [u8; 2] = read(ctx, l4)?;
                next = ext[0];
                l4 += ipv6_ext_len(ext[1]);
                if l4 > MAX_L4_OFFSET {
                    return Ok(accept_rule(ifindex, dst));
                }
            }
        }
    }
    let ext_len = l4 - l3 - IPV6_HLEN;
    let payload = (be16([fixed[4], fixed[5]]) as usize).saturating_sub(ext_len);
    match next {
        IPPROTO_VRRP => {
            let head = Vrrp {
                family: FAMILY_V6,
                ttl: hop_limit,
                l4,
                payload,
                src,
                dst,
            };
            Ok(vrrp(ctx, ifindex, &head))
        }
        IPV6_EXT_FRAGMENT => {
            // Every fragment's Fragment header names the first header of the
            // fragmented packet. NDP in fragments is ignored (RFC 6980), and
            // the kernel's: only VRRP fragments are ours to drop.
            let fragment: [u8; 8] = read(ctx, l4)?;
            if fragment[0] == IPPROTO_VRRP {
                count_l2(ifindex, L2::VrrpFragments);
                return Err(Error::Fragment);
            }
            Ok(accept_rule(ifindex, dst))
        }
        IPPROTO_ICMPV6 if !is_neighbour_solicitation_or_advert(ctx, l4) => {
            Ok(accept_rule(ifindex, dst))
        }
        IPPROTO_ICMPV6 if hop_limit == 255 => {
            let nd = Nd {
                l3,
                l4,
                icmp_len: payload,
                src,
                dst,
            };
            let mut answer = Answer::default();
            match neighbour_solicitation(ctx, ifindex, &nd, &mut answer) {
                ANSWER => Ok(neighbour_advertisement(ctx, ifindex, &nd, &answer)),
                action => Ok(action),
            }
        }
        // Neighbour discovery without hop limit 255: the kernel's to discard.
        IPPROTO_ICMPV6 => Ok(xdp_action::XDP_PASS),
        _ => Ok(accept_rule(ifindex, dst)),
    }
}

/// The verdict on an IPv6 packet that is neither VRRP nor neighbour
/// discovery: dropped when addressed to a VIP held without Accept_Mode.
#[inline(always)]
fn accept_rule(ifindex: u32, dst: [u8; 16]) -> u32 {
    if refused(ifindex, FAMILY_V6, dst) {
        xdp_action::XDP_DROP
    } else {
        xdp_action::XDP_PASS
    }
}

/// ICMPv6 types 135 and 136 (RFC 4861): the VIP must stay resolvable, so
/// these are exempt from the accept rule whatever their hop limit, as
/// keepalived's `no_accept` firewall exempts them. A message without its
/// type and code is not one of them (two bytes read: a one-byte bound check
/// is compiled into a form the verifier does not follow).
#[inline(always)]
fn is_neighbour_solicitation_or_advert(ctx: &XdpContext, l4: usize) -> bool {
    match read::<[u8; 2]>(ctx, l4) {
        Ok([t, _]) => t == ICMPV6_NS || t == ICMPV6_NA,
        Err(_) => false,
    }
}

/// What an NA for a held VIP carries, and where it goes.
#[derive(Default)]
struct Answer {
    target: [u8; 16],
    mac: [u8; 6],
    /// The requester's link-layer address: its source link-layer option,
    /// else the frame's source.
    lladdr: [u8; 6],
}

/// [`neighbour_solicitation`]'s "answer it" (not an XDP action).
const ANSWER: u32 = u32::MAX;

/// Where an ICMPv6 message sits and what its IPv6 header said.
struct Nd {
    l3: usize,
    l4: usize,
    icmp_len: usize,
    src: [u8; 16],
    dst: [u8; 16],
}

/// One's-complement sum of the `N` bytes at `offset` (a multiple of 4), by
/// the kernel's `bpf_csum_diff`, as big-endian 16-bit words.
#[inline(always)]
fn sum_chunk<const N: usize>(ctx: &XdpContext, offset: usize) -> Result<u64, Error> {
    let p = ptr_at::<[u8; N]>(ctx, offset)?;
    // SAFETY: `p` covers N readable bytes (ptr_at); nothing is written.
    let sum = unsafe { bpf_csum_diff(core::ptr::null_mut(), 0, p.cast(), N as u32, 0) };
    if sum < 0 {
        return Err(Error::Truncated);
    }
    // csum_diff sums memory in host order (little-endian here): fold, then
    // swap into the big-endian sums the rest of the code adds to.
    Ok(fold(sum as u64).swap_bytes() as u64)
}

/// One's-complement sum (unfolded) of the `len` bytes at `offset`; `len` is
/// a multiple of 4 and at most [`MAX_VRRP_LEN`]. Whole 256-byte chunks, then
/// the rest by powers of two: a handful of fixed-size, bounds-checked helper
/// calls instead of a loop over words the verifier would walk one by one.
#[inline(always)]
fn sum_bytes(ctx: &XdpContext, offset: usize, len: usize) -> Result<u64, Error> {
    if !len.is_multiple_of(4) || len > MAX_VRRP_LEN {
        return Err(Error::Truncated);
    }
    let mut sum = 0u64;
    let mut off = offset;
    let mut left = len;
    for _ in 0..MAX_VRRP_LEN / 256 {
        if left < 256 {
            break;
        }
        sum += sum_chunk::<256>(ctx, off)?;
        off += 256;
        left -= 256;
    }
    if left & 128 != 0 {
        sum += sum_chunk::<128>(ctx, off)?;
        off += 128;
    }
    if left & 64 != 0 {
        sum += sum_chunk::<64>(ctx, off)?;
        off += 64;
    }
    if left & 32 != 0 {
        sum += sum_chunk::<32>(ctx, off)?;
        off += 32;
    }
    if left & 16 != 0 {
        sum += sum_chunk::<16>(ctx, off)?;
        off += 16;
    }
    if left & 8 != 0 {
        sum += sum_chunk::<8>(ctx, off)?;
        off += 8;
    }
    if left & 4 != 0 {
        sum += sum_chunk::<4>(ctx, off)?;
    }
    Ok(sum)
}

/// Checks an ICMPv6 message: a valid NS for a VIP held here while the
/// heartbeat is fresh fills `answer` and returns [`ANSWER`]; anything else
/// returns the verdict. Separate from the rewrite to keep each BPF stack
/// frame small.
#[inline(never)]
fn neighbour_solicitation(ctx: &XdpContext, ifindex: u32, nd: &Nd, answer: &mut Answer) -> u32 {
    verdict(try_neighbour_solicitation(ctx, ifindex, nd, answer))
}

#[inline(always)]
fn try_neighbour_solicitation(
    ctx: &XdpContext,
    ifindex: u32,
    nd: &Nd,
    answer: &mut Answer,
) -> Result<u32, Error> {
    let (l4, icmp_len) = (nd.l4, nd.icmp_len);
    let head: [u8; 8] = read(ctx, l4)?;
    if head[0] != ICMPV6_NS || head[1] != 0 || icmp_len < ND_HLEN {
        return Ok(xdp_action::XDP_PASS);
    }
    let target: [u8; 16] = read(ctx, l4 + 8)?;
    // RFC 4861 section 7.1.1: a multicast target, or options that cannot
    // fill the message (each is a multiple of 8 bytes), make it invalid:
    // the kernel discards it, nothing to count.
    if target[0] == 0xFF || !(icmp_len - ND_HLEN).is_multiple_of(8) {
        return Ok(xdp_action::XDP_PASS);
    }
    if icmp_len > MAX_NS_LEN {
        // More options than checked here: the kernel judges and answers it,
        // but not for a held VIP while fenced.
        if held(ifindex, FAMILY_V6, target).is_some() && is_fenced() {
            count_l2_seen(ifindex, L2::NsSeen, L2::NsFenced);
            return Ok(xdp_action::XDP_DROP);
        }
        count_l2_seen(ifindex, L2::NsSeen, L2::NsPassed);
        return Ok(xdp_action::XDP_PASS);
    }
    let sum = sum_bytes(ctx, l4, icmp_len)?
        + ipv6_pseudo_sum(&nd.src, &nd.dst, IPPROTO_ICMPV6, icmp_len as u32);
    if !checksum_verifies(sum) {
        // Not a valid NS: the kernel discards it.
        return Ok(xdp_action::XDP_PASS);
    }
    if nd_options(ctx, nd, answer) != OPTIONS_VALID {
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(own) = held(ifindex, FAMILY_V6, target) else {
        count_l2_seen(ifindex, L2::NsSeen, L2::NsPassed);
        return Ok(xdp_action::XDP_PASS);
    };
    // Fenced: as for ARP, nobody answers for a VIP a stalled agent holds.
    // An NS to answer is counted as seen with its answer (or its failure).
    if is_fenced() {
        count_l2_seen(ifindex, L2::NsSeen, L2::NsFenced);
        return Ok(xdp_action::XDP_DROP);
    }
    answer.target = target;
    answer.mac = own.mac;
    Ok(ANSWER)
}

/// [`nd_options`]: the NS may be answered.
const OPTIONS_VALID: u32 = 0;

/// Checks the options of an NS whose `icmp_len` bytes are in the frame and
/// sets `answer.lladdr`; returns [`OPTIONS_VALID`] or not. Its own BPF
/// function: the unrolled walk would otherwise grow the caller's frame past
/// the combined stack limit.
///
/// RFC 4861 section 7.1.1: no option of length 0, none overrunning the
/// message; from `::` (duplicate address detection) a solicited-node
/// destination and no source link-layer option. The first source
/// link-layer option (the kernel ignores repeats) must hold an Ethernet
/// address (RFC 2464 section 6): the answer goes there (section 7.2.4: it
/// is the requester's neighbour cache entry), else to the frame's source.
#[inline(never)]
fn nd_options(ctx: &XdpContext, nd: &Nd, answer: &mut Answer) -> u32 {
    match try_nd_options(ctx, nd, answer) {
        Ok(true) => OPTIONS_VALID,
        _ => 1,
    }
}

#[inline(always)]
fn try_nd_options(ctx: &XdpContext, nd: &Nd, answer: &mut Answer) -> Result<bool, Error> {
    let (l4, icmp_len) = (nd.l4, nd.icmp_len);
    answer.lladdr = read(ctx, 6)?;
    let mut has_sllao = false;
    let mut offset = ND_HLEN;
    for _ in 0..(MAX_NS_LEN - ND_HLEN) / 8 {
        if offset >= icmp_len {
            break;
        }
        let option: [u8; 8] = read(ctx, l4 + offset)?;
        let Some(next) = nd_option_next(offset, option[1], icmp_len) else {
            return Ok(false);
        };
        if option[0] == ND_OPT_SOURCE_LL {
            if !has_sllao {
                if option[1] != 1 {
                    return Ok(false);
                }
                answer.lladdr = [
                    option[2], option[3], option[4], option[5], option[6], option[7],
                ];
            }
            has_sllao = true;
        }
        offset = next;
    }
    let dad = is_unspecified(&nd.src);
    Ok(!(dad && (has_sllao || !is_solicited_node(&nd.dst))))
}

/// Rewrites the NS in place into the Neighbour Advertisement for
/// `answer` and sends it back (XDP_TX).
#[inline(never)]
fn neighbour_advertisement(ctx: &XdpContext, ifindex: u32, nd: &Nd, answer: &Answer) -> u32 {
    verdict(try_neighbour_advertisement(ctx, ifindex, nd, answer))
}

#[inline(always)]
fn try_neighbour_advertisement(
    ctx: &XdpContext,
    ifindex: u32,
    nd: &Nd,
    answer: &Answer,
) -> Result<u32, Error> {
    let l3 = nd.l3;
    let target = answer.target;
    let m = answer.mac;
    let unspecified = is_unspecified(&nd.src);
    let (reply_ip, reply_mac) = if unspecified {
        (IPV6_ALL_NODES, MAC_ALL_NODES)
    } else {
        (nd.src, answer.lladdr)
    };
    let flags = na_flags(unspecified);
    let csum = na_checksum(&target, &reply_ip, flags, &target, &m).to_be_bytes();

    // The NA replaces everything after the IPv6 header (extension headers too).
    let new_len = (l3 + IPV6_HLEN + NA_LEN) as i32;
    let cur_len = frame_len(ctx) as i32;
    if new_len != cur_len {
        // SAFETY: helper call on our own context; every packet pointer is
        // re-derived (and re-checked by ptr_at) afterwards.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, new_len - cur_len) } != 0 {
            count_l2_seen(ifindex, L2::NsSeen, L2::NsPassed);
            return Err(Error::TailAdjust);
        }
    }
    write(ctx, 0, reply_mac)?;
    write(ctx, 6, m)?;
    // IPv6: version 6, payload = the NA, next header ICMPv6, hop limit 255.
    write(
        ctx,
        l3,
        [0x60, 0, 0, 0, 0, NA_LEN as u8, IPPROTO_ICMPV6, 255],
    )?;
    write(ctx, l3 + 8, target)?;
    write(ctx, l3 + 24, reply_ip)?;
    let na = l3 + IPV6_HLEN;
    write(ctx, na, [ICMPV6_NA, 0, csum[0], csum[1], flags, 0, 0, 0])?;
    write(ctx, na + 8, target)?;
    write(
        ctx,
        na + ND_HLEN,
        [ND_OPT_TARGET_LL, 1, m[0], m[1], m[2], m[3], m[4], m[5]],
    )?;
    count_l2_seen(ifindex, L2::NsSeen, L2::NaSent);
    Ok(xdp_action::XDP_TX)
}

// -------------------------------------------------------------------- VRRP

/// What VRRP validation needs from the carrying IP header.
struct Vrrp {
    family: u8,
    ttl: u8,
    /// Offset of the VRRP header in the frame.
    l4: usize,
    /// IP payload bytes from the VRRP header on.
    payload: usize,
    src: [u8; 16],
    dst: [u8; 16],
}

#[inline(never)]
fn vrrp(ctx: &XdpContext, ifindex: u32, h: &Vrrp) -> u32 {
    let Ok(first) = read::<[u8; 2]>(ctx, h.l4) else {
        count_l2(ifindex, L2::VrrpShort);
        return xdp_action::XDP_PASS;
    };
    let key = VrrpKey::new(ifindex, first[1], h.family);
    let (outcome, action) = match VRRP_POLICY.get_ptr(key) {
        None => (Outcome::Unconfigured, xdp_action::XDP_PASS),
        Some(policy) => {
            // SAFETY: map value pointer from a successful lookup.
            let policy: &VrrpPolicy = unsafe { &*policy };
            match validate(ctx, h, first[0], policy) {
                Ok(()) => (Outcome::Valid, xdp_action::XDP_PASS),
                Err(reason) => (Outcome::Drop(reason), xdp_action::XDP_DROP),
            }
        }
    };
    count_vrrp(&key, outcome.index(), &h.src);
    action
}

#[inline(always)]
fn validate(
    ctx: &XdpContext,
    h: &Vrrp,
    version_type: u8,
    policy: &VrrpPolicy,
) -> Result<(), VrrpDrop> {
    let avail = frame_len(ctx).saturating_sub(h.l4);
    // The count byte may be missing in a truncated frame: the length check
    // below then fails on `avail` whatever count we assume.
    let count = match read::<[u8; 4]>(ctx, h.l4) {
        Ok(b) => b[3],
        Err(_) => 0,
    };
    let addr_len = if h.family == FAMILY_V4 { 4 } else { 16 };
    let len = vrrp_header_check(
        h.ttl,
        policy.peer_count == 0,
        version_type,
        policy.version,
        count,
        addr_len,
        h.payload,
        avail,
    )?;
    let (version, _) = vrrp_version_type(version_type);

    // Cheap checks first; reported below in RFC order (checksum first).
    let auth_ok = if version == 2 {
        let head: [u8; VRRP_HLEN] = read(ctx, h.l4).map_err(|_| VrrpDrop::Length)?;
        let pass: [u8; 8] =
            read(ctx, h.l4 + VRRP_HLEN + 4 * count as usize).map_err(|_| VrrpDrop::Length)?;
        vrrp_v2_auth_ok(policy.auth_type, &policy.auth_pass, head[4], &pass)
    } else {
        // VRRPv3 has no authentication; a policy asking for it never matches.
        policy.auth_type == AUTH_NONE
    };
    // Unicast: the source among the peers (NotPeer), then the TTL within
    // that peer's range (Ttl). Multicast: Ok, its TTL was checked first.
    let peer = vrrp_peer_check(policy, &h.src, h.ttl);

    let msg_sum = sum_bytes(ctx, h.l4, len).map_err(|_| VrrpDrop::Length)?;
    let pseudo = if h.family == FAMILY_V4 {
        ipv4_pseudo_sum(
            [h.src[0], h.src[1], h.src[2], h.src[3]],
            [h.dst[0], h.dst[1], h.dst[2], h.dst[3]],
            IPPROTO_VRRP,
            len as u16,
        )
    } else {
        ipv6_pseudo_sum(&h.src, &h.dst, IPPROTO_VRRP, len as u32)
    };
    if !vrrp_checksum_ok(version, h.family, msg_sum, pseudo) {
        return Err(VrrpDrop::Checksum);
    }
    if !auth_ok {
        return Err(VrrpDrop::Auth);
    }
    peer?;
    Ok(())
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
