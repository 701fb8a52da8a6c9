//! A reference model of what the XDP program must do with one frame: its
//! verdict, the bytes it leaves (the ARP reply or Neighbour Advertisement it
//! sends back), and the counters it moves. Written from the RFCs and the
//! documented contract of the fast path (README "Inspecting the fast path",
//! `vip-agent/docs/DESIGN.md`, the field docs of the counters), not from the
//! program: `tests/tests/xdp_differential.rs` runs the real program on random
//! and mutated frames and compares it with this, frame by frame.
//!
//! The rules, in the order the model applies them:
//!
//! - Ethernet with at most one VLAN tag (802.1Q or 802.1ad); a second tag
//!   (QinQ) and any other EtherType pass untouched and uncounted.
//! - ARP (RFC 826): only Ethernet/IPv4 requests (hardware type 1, protocol
//!   0x0800, lengths 6 and 4, opcode 1) are looked at; other ARP frames count
//!   as `arp_other`. A request is `arp_requests_seen` and then exactly one of:
//!   passed (gratuitous: sender IP = target IP; or the target is not a VIP
//!   held on the ingress interface), fenced (held, heartbeat stale: dropped),
//!   or answered in place: RFC 826's swap, the owner's MAC as sender, sent to
//!   the requester's hardware address.
//! - IPv4 carrying protocol 112: a header that is not IPv4 (version, IHL < 5)
//!   or whose header checksum is wrong (RFC 791) is the stack's to discard:
//!   passed, uncounted. A frame that ends inside the header is `vrrp_short`
//!   (passed); a fragment (MF or an offset) is dropped as `vrrp_fragments`:
//!   adverts are never fragmented. Then, as over IPv6, a frame that ends
//!   before the VRID is `vrrp_short` (passed).
//! - IPv6 (RFC 8200): version 6; Hop-by-Hop (only first), Routing and
//!   Destination Options headers are skipped, at most 4 of them and never
//!   past byte 512 of the frame (the documented walk bound: deeper packets
//!   pass unexamined). A Fragment header in front of VRRP is `vrrp_fragments`
//!   (dropped); in front of anything else the frame passes.
//! - VRRP (RFC 3768 / RFC 5798 section 7.1), for (ingress interface, VRID,
//!   family) with a policy; without one: `unconfigured`, passed. Checked in
//!   this order, the first failure names the drop: TTL / hop limit 255, for
//!   a multicast policy (no peers) only; version 2 or 3, the policy's unless it accepts either, and version 2
//!   only over IPv4 (RFC 3768 is IPv4 only); type 1; the message its count
//!   announces (8 + count x 4 or 16, + 8 bytes of v2 authentication) fits in
//!   the IP payload, in the frame and in the 1448 bytes validated; checksum
//!   over that message (v2: the message; v3: with the pseudo-header, over
//!   IPv4 also without it); v2 authentication type and simple-text password
//!   (a v3 advert never satisfies a policy with a password); then, for a
//!   unicast policy (one that lists peers), the source among its peers and
//!   the TTL / hop limit within the first matching peer's `min..=max`
//!   (keepalived 2.2.7's `unicast_peer { ADDR min_ttl N max_ttl M }`: a
//!   `min > max` takes nothing), dropped as `drop_ttl` otherwise. Valid
//!   adverts pass and record their source; the rest are dropped.
//! - The accept rule (RFC 5798 section 6.4.3, keepalived's `no_accept`): on
//!   a VIP held by a Master that is not its owner and has no Accept_Mode,
//!   IPv4 that is not VRRP (with at least its 20-byte header in the frame)
//!   and IPv6 that is neither VRRP nor ICMPv6 type 135/136 is dropped as
//!   `no_accept_dropped`, whatever it carries; this includes IPv6 whose
//!   extension header walk stopped at a bound (misplaced Hop-by-Hop, past
//!   byte 512, more than 4 headers), non-VRRP fragments and ICMPv6 too
//!   short for its type and code. A frame that ends inside the IPv4 header
//!   or an IPv6 extension or Fragment header passes: the stack discards it.
//! - Neighbour Solicitations (RFC 4861 section 7.1.1), hop limit 255, type
//!   135, code 0, at least 24 bytes, target not multicast, options filling
//!   the message in units of 8 bytes: messages longer than 64 bytes are not
//!   verified in XDP (counted seen, passed, or dropped while fenced if their
//!   target is held). Shorter ones need a valid checksum, options of non-zero
//!   length that fit, a source link-layer option (the first, if repeated)
//!   of length 1 (RFC 2464 section 6), and from `::` a solicited-node
//!   destination and no source link-layer option. Anything invalid passes
//!   uncounted. A valid NS is `ns_seen` and then passed (target not held),
//!   fenced (dropped) or answered: a Neighbour Advertisement from the target
//!   (RFC 4861 section 7.2.4) with Solicited + Override to the solicitation's
//!   source and link-layer address (its source link-layer option if present,
//!   else the frame's source), or with Override only to all-nodes when the
//!   NS came from `::`; the target link-layer option carries the owner's MAC
//!   and the frame ends after it. Router stays clear, as in the agent's own
//!   unsolicited NA (a documented choice: RFC 5798 section 6.4.2 sets it).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use vip_agent::dataplane::{Counters, Family, L2Counters, VrrpCounters, VrrpPolicy};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// Largest VRRP message validated (documented: a VRRPv3/IPv6 advert with
/// the 90 addresses a 1500-byte MTU carries).
pub const MAX_VRRP_LEN: usize = 8 + 16 * 90;
/// NS longer than this are not verified (checksum, options) in XDP.
pub const MAX_NS_LEN: usize = 64;
/// The extension header walk: at most this many headers ...
pub const MAX_EXT_HEADERS: usize = 4;
/// ... and the upper-layer header at most this far into the frame.
pub const MAX_L4_OFFSET: usize = 512;

/// What userspace pushed into the maps, as the model sees it.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub policies: BTreeMap<(u32, u8, Family), VrrpPolicy>,
    /// (ifindex, VIP) -> reply MAC, for the VIPs held (master).
    pub owned: BTreeMap<(u32, IpAddr), [u8; 6]>,
    /// The held VIPs whose Master is not the owner and has no Accept_Mode.
    pub no_accept: BTreeSet<(u32, IpAddr)>,
    /// The heartbeat is missing or older than the bound.
    pub fenced: bool,
}

/// The counter one frame moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum L2 {
    ArpRequestsSeen,
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

/// Outcome of a VRRP frame counted for its (interface, VRID, family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vrrp {
    Valid,
    Ttl,
    Version,
    Type,
    Length,
    Checksum,
    Auth,
    NotPeer,
    Unconfigured,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    L2 {
        ifindex: u32,
        counter: L2,
    },
    Vrrp {
        ifindex: u32,
        vrid: u8,
        family: Family,
        outcome: Vrrp,
        source: IpAddr,
    },
}

/// The model's answer for one frame.
#[derive(Clone, Debug)]
pub struct Expected {
    pub verdict: u32,
    /// The frame as the program must leave it.
    pub output: Vec<u8>,
    pub effects: Vec<Effect>,
    /// Which rule decided (for failure messages and coverage).
    pub why: &'static str,
}

impl Expected {
    fn untouched(frame: &[u8], verdict: u32, why: &'static str) -> Self {
        Self {
            verdict,
            output: frame.to_vec(),
            effects: Vec::new(),
            why,
        }
    }

    fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }
}

// ----------------------------------------------------------------- helpers

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn bytes(frame: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    frame.get(offset..offset.checked_add(len)?)
}

/// RFC 1071: the one's-complement sum of big-endian 16-bit words, folded.
fn ones_sum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u64::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u64::from(hi) << 8;
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// A message whose checksum field is included verifies when it sums to all ones.
fn verifies(parts: &[&[u8]]) -> bool {
    ones_sum(parts) == 0xFFFF
}

fn checksum(parts: &[&[u8]]) -> [u8; 2] {
    (!ones_sum(parts)).to_be_bytes()
}

/// The pseudo-header of RFC 768 (IPv4) / RFC 8200 section 8.1 (IPv6).
fn pseudo(src: IpAddr, dst: IpAddr, next_header: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, next_header]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, next_header]);
        }
        _ => unreachable!("mixed families"),
    }
    p
}

fn v6(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    Ipv6Addr::from(o)
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

// ------------------------------------------------------------------- model

/// What the program must do with `frame` arriving on `ifindex`.
pub fn expect(frame: &[u8], ifindex: u32, state: &State) -> Expected {
    let Some(eth) = bytes(frame, 0, 14) else {
        return Expected::untouched(frame, XDP_PASS, "runt");
    };
    let mut ether_type = be16(&eth[12..]);
    let mut l3 = 14;
    if ether_type == 0x8100 || ether_type == 0x88A8 {
        let Some(tag) = bytes(frame, 14, 4) else {
            return Expected::untouched(frame, XDP_PASS, "truncated VLAN tag");
        };
        ether_type = be16(&tag[2..]);
        l3 = 18;
        if ether_type == 0x8100 || ether_type == 0x88A8 {
            return Expected::untouched(frame, XDP_PASS, "second VLAN tag");
        }
    }
    match ether_type {
        0x0806 => arp(frame, l3, ifindex, state),
        0x0800 => ipv4(frame, l3, ifindex, state),
        0x86DD => ipv6(frame, l3, ifindex, state),
        _ => Expected::untouched(frame, XDP_PASS, "other EtherType"),
    }
}

fn l2(ifindex: u32, counter: L2) -> Effect {
    Effect::L2 { ifindex, counter }
}

fn arp(frame: &[u8], l3: usize, ifindex: u32, state: &State) -> Expected {
    let Some(a) = bytes(frame, l3, 28) else {
        return Expected::untouched(frame, XDP_PASS, "truncated ARP");
    };
    let (htype, ptype, hlen, plen, op) = (be16(&a[0..]), be16(&a[2..]), a[4], a[5], be16(&a[6..]));
    if htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 {
        return Expected::untouched(frame, XDP_PASS, "ARP: not Ethernet/IPv4")
            .with(l2(ifindex, L2::ArpOther));
    }
    if op != 1 {
        return Expected::untouched(frame, XDP_PASS, "ARP: not a request")
            .with(l2(ifindex, L2::ArpOther));
    }
    let seen = l2(ifindex, L2::ArpRequestsSeen);
    let sha = &a[8..14];
    let spa = &a[14..18];
    let tpa = &a[24..28];
    if spa == tpa {
        return Expected::untouched(frame, XDP_PASS, "ARP: gratuitous")
            .with(seen)
            .with(l2(ifindex, L2::ArpPassed));
    }
    let vip = IpAddr::V4(Ipv4Addr::new(tpa[0], tpa[1], tpa[2], tpa[3]));
    let Some(owner) = state.owned.get(&(ifindex, vip)) else {
        return Expected::untouched(frame, XDP_PASS, "ARP: target not held")
            .with(seen)
            .with(l2(ifindex, L2::ArpPassed));
    };
    if state.fenced {
        return Expected::untouched(frame, XDP_DROP, "ARP: fenced")
            .with(seen)
            .with(l2(ifindex, L2::ArpFenced));
    }
    // RFC 826: swap sender and target, the local addresses become the
    // sender's, opcode reply, sent to the requester's hardware address.
    let mut out = frame.to_vec();
    out[0..6].copy_from_slice(sha);
    out[6..12].copy_from_slice(owner);
    let r = &mut out[l3..l3 + 28];
    r[6..8].copy_from_slice(&2u16.to_be_bytes());
    r[8..14].copy_from_slice(owner);
    r[14..18].copy_from_slice(tpa);
    r[18..24].copy_from_slice(sha);
    r[24..28].copy_from_slice(spa);
    Expected {
        verdict: XDP_TX,
        output: out,
        effects: vec![seen, l2(ifindex, L2::ArpRepliesSent)],
        why: "ARP: answered",
    }
}

fn ipv4(frame: &[u8], l3: usize, ifindex: u32, state: &State) -> Expected {
    let Some(ip) = bytes(frame, l3, 20) else {
        return Expected::untouched(frame, XDP_PASS, "truncated IPv4 header");
    };
    if ip[9] != 112 {
        let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
        return accept_rule(frame, ifindex, dst, state, "IPv4: not VRRP");
    }
    let ihl = usize::from(ip[0] & 0x0F);
    if ip[0] >> 4 != 4 || ihl < 5 {
        return Expected::untouched(frame, XDP_PASS, "IPv4: malformed header");
    }
    let hlen = ihl * 4;
    if frame.len() < l3 + hlen {
        return Expected::untouched(frame, XDP_PASS, "VRRP/IPv4: header truncated")
            .with(l2(ifindex, L2::VrrpShort));
    }
    if !verifies(&[&frame[l3..l3 + hlen]]) {
        return Expected::untouched(frame, XDP_PASS, "IPv4: bad header checksum");
    }
    let more_fragments = ip[6] & 0x20 != 0;
    let offset = be16(&ip[6..]) & 0x1FFF;
    if more_fragments || offset != 0 {
        return Expected::untouched(frame, XDP_DROP, "VRRP/IPv4: fragment")
            .with(l2(ifindex, L2::VrrpFragments));
    }
    let payload = usize::from(be16(&ip[2..])).saturating_sub(hlen);
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    let carrier = Carrier {
        family: Family::V4,
        ttl: ip[8],
        l4: l3 + hlen,
        payload,
        src,
        dst,
    };
    vrrp(frame, ifindex, &carrier, state)
}

fn ipv6(frame: &[u8], l3: usize, ifindex: u32, state: &State) -> Expected {
    let Some(ip) = bytes(frame, l3, 40) else {
        return Expected::untouched(frame, XDP_PASS, "truncated IPv6 header");
    };
    if ip[0] >> 4 != 6 {
        return Expected::untouched(frame, XDP_PASS, "IPv6: version not 6");
    }
    let payload_len = usize::from(be16(&ip[4..]));
    let hop_limit = ip[7];
    let src = v6(&ip[8..]);
    let dst = v6(&ip[24..]);
    let mut next = ip[6];
    let mut l4 = l3 + 40;
    for i in 0..MAX_EXT_HEADERS {
        match next {
            0 if i > 0 => {
                // RFC 8200 section 4.3: Hop-by-Hop only right after the IPv6 header.
                return accept_rule(
                    frame,
                    ifindex,
                    dst.into(),
                    state,
                    "IPv6: hop-by-hop not first",
                );
            }
            0 | 43 | 60 => {
                let Some(h) = bytes(frame, l4, 2) else {
                    return Expected::untouched(
                        frame,
                        XDP_PASS,
                        "IPv6: truncated extension header",
                    );
                };
                next = h[0];
                l4 += (usize::from(h[1]) + 1) * 8;
                if l4 > MAX_L4_OFFSET {
                    return accept_rule(
                        frame,
                        ifindex,
                        dst.into(),
                        state,
                        "IPv6: extension headers too long",
                    );
                }
            }
            _ => break,
        }
    }
    let payload = payload_len.saturating_sub(l4 - l3 - 40);
    match next {
        0 | 43 | 60 => accept_rule(
            frame,
            ifindex,
            dst.into(),
            state,
            "IPv6: too many extension headers",
        ),
        44 => match bytes(frame, l4, 8).map(|h| h[0]) {
            None => Expected::untouched(frame, XDP_PASS, "IPv6: truncated fragment header"),
            Some(112) => Expected::untouched(frame, XDP_DROP, "VRRP/IPv6: fragment")
                .with(l2(ifindex, L2::VrrpFragments)),
            Some(_) => accept_rule(
                frame,
                ifindex,
                dst.into(),
                state,
                "IPv6: fragment, not VRRP",
            ),
        },
        112 => {
            let carrier = Carrier {
                family: Family::V6,
                ttl: hop_limit,
                l4,
                payload,
                src: src.into(),
                dst: dst.into(),
            };
            vrrp(frame, ifindex, &carrier, state)
        }
        58 if !bytes(frame, l4, 2).is_some_and(|h| h[0] == 135 || h[0] == 136) => {
            accept_rule(frame, ifindex, dst.into(), state, "ICMPv6: not NS or NA")
        }
        58 if hop_limit == 255 => {
            neighbour_solicitation(frame, ifindex, l3, l4, payload, src, dst, state)
        }
        58 => Expected::untouched(frame, XDP_PASS, "ICMPv6: hop limit not 255"),
        _ => accept_rule(frame, ifindex, dst.into(), state, "IPv6: other next header"),
    }
}

/// RFC 5798 section 6.4.3: a Master that is not the address owner and has
/// no Accept_Mode does not accept packets addressed to the VIP. What is
/// neither VRRP nor an NS/NA (the VIP stays resolvable) and reaches here is
/// dropped when `dst` is such a VIP on the interface, else passed.
fn accept_rule(
    frame: &[u8],
    ifindex: u32,
    dst: IpAddr,
    state: &State,
    why: &'static str,
) -> Expected {
    if state.owned.contains_key(&(ifindex, dst)) && state.no_accept.contains(&(ifindex, dst)) {
        Expected::untouched(frame, XDP_DROP, "to a VIP held without accept")
            .with(l2(ifindex, L2::NoAcceptDropped))
    } else {
        Expected::untouched(frame, XDP_PASS, why)
    }
}

/// What VRRP validation takes from the IP header.
struct Carrier {
    family: Family,
    ttl: u8,
    l4: usize,
    payload: usize,
    src: IpAddr,
    dst: IpAddr,
}

fn vrrp(frame: &[u8], ifindex: u32, c: &Carrier, state: &State) -> Expected {
    let Some(head) = bytes(frame, c.l4, 2) else {
        return Expected::untouched(frame, XDP_PASS, "VRRP: too short for the VRID")
            .with(l2(ifindex, L2::VrrpShort));
    };
    let vrid = head[1];
    let count = |outcome: Vrrp| Effect::Vrrp {
        ifindex,
        vrid,
        family: c.family,
        outcome,
        source: c.src,
    };
    let Some(policy) = state.policies.get(&(ifindex, vrid, c.family)) else {
        return Expected::untouched(frame, XDP_PASS, "VRRP: unconfigured")
            .with(count(Vrrp::Unconfigured));
    };
    let drop = |outcome: Vrrp, why| Expected::untouched(frame, XDP_DROP, why).with(count(outcome));
    let multicast = policy.peers.is_empty();
    if multicast && c.ttl != 255 {
        return drop(Vrrp::Ttl, "VRRP: multicast TTL not 255");
    }
    let (version, kind) = (head[0] >> 4, head[0] & 0x0F);
    if version != 2 && version != 3 {
        return drop(Vrrp::Version, "VRRP: version not 2 or 3");
    }
    if policy.version != 0 && version != policy.version {
        return drop(Vrrp::Version, "VRRP: not the configured version");
    }
    if version == 2 && c.family == Family::V6 {
        return drop(Vrrp::Version, "VRRP: version 2 over IPv6");
    }
    if kind != 1 {
        return drop(Vrrp::Type, "VRRP: type not 1");
    }
    let Some(&n) = frame.get(c.l4 + 3) else {
        return drop(Vrrp::Length, "VRRP: no count");
    };
    let addr_len = if c.family == Family::V4 { 4 } else { 16 };
    let auth_len = if version == 2 { 8 } else { 0 };
    let len = 8 + usize::from(n) * addr_len + auth_len;
    if len > MAX_VRRP_LEN || len > c.payload || c.l4 + len > frame.len() {
        return drop(Vrrp::Length, "VRRP: message longer than payload or frame");
    }
    let msg = &frame[c.l4..c.l4 + len];
    let with_pseudo = || verifies(&[&pseudo(c.src, c.dst, 112, len), msg]);
    let checksum_ok = match (version, c.family) {
        (2, _) => verifies(&[msg]),
        (_, Family::V6) => with_pseudo(),
        (_, Family::V4) => with_pseudo() || verifies(&[msg]),
    };
    if !checksum_ok {
        return drop(Vrrp::Checksum, "VRRP: bad checksum");
    }
    let auth_ok = if version == 2 {
        let advert_type = msg[4];
        let data = &msg[len - 8..];
        match &policy.auth_pass {
            None => advert_type == 0,
            Some(pass) => advert_type == 1 && data == pass,
        }
    } else {
        policy.auth_pass.is_none()
    };
    if !auth_ok {
        return drop(Vrrp::Auth, "VRRP: authentication");
    }
    if multicast {
        return Expected::untouched(frame, XDP_PASS, "VRRP: valid").with(count(Vrrp::Valid));
    }
    let Some(peer) = policy.peers.iter().position(|p| *p == c.src) else {
        return drop(Vrrp::NotPeer, "VRRP: not a peer");
    };
    let [min_ttl, max_ttl] = policy.peer_ttl[peer];
    if c.ttl < min_ttl {
        return drop(Vrrp::Ttl, "VRRP: unicast TTL below the peer's min_ttl");
    }
    if c.ttl > max_ttl {
        return drop(Vrrp::Ttl, "VRRP: unicast TTL above the peer's max_ttl");
    }
    let why = if c.ttl == 255 {
        "VRRP: valid"
    } else {
        "VRRP: valid from a unicast peer, TTL below 255"
    };
    Expected::untouched(frame, XDP_PASS, why).with(count(Vrrp::Valid))
}

fn is_solicited_node(a: &Ipv6Addr) -> bool {
    // ff02::1:ff00:0/104 (RFC 4291 section 2.7.1).
    a.octets()[..13] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

#[allow(clippy::too_many_arguments)]
fn neighbour_solicitation(
    frame: &[u8],
    ifindex: u32,
    l3: usize,
    l4: usize,
    icmp_len: usize,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    state: &State,
) -> Expected {
    let pass = |why| Expected::untouched(frame, XDP_PASS, why);
    let Some(head) = bytes(frame, l4, 24) else {
        return pass("ICMPv6: truncated");
    };
    if head[0] != 135 || head[1] != 0 || icmp_len < 24 {
        return pass("ICMPv6: not an NS");
    }
    let target = v6(&head[8..]);
    if target.is_multicast() {
        return pass("NS: multicast target");
    }
    if !(icmp_len - 24).is_multiple_of(8) {
        return pass("NS: options do not fill the message");
    }
    let seen = l2(ifindex, L2::NsSeen);
    let owner = state.owned.get(&(ifindex, IpAddr::V6(target)));
    if icmp_len > MAX_NS_LEN {
        return match owner {
            Some(_) if state.fenced => Expected::untouched(frame, XDP_DROP, "NS: long, fenced")
                .with(seen)
                .with(l2(ifindex, L2::NsFenced)),
            _ => pass("NS: long, passed")
                .with(seen)
                .with(l2(ifindex, L2::NsPassed)),
        };
    }
    let Some(msg) = bytes(frame, l4, icmp_len) else {
        return pass("NS: truncated");
    };
    if !verifies(&[&pseudo(src.into(), dst.into(), 58, icmp_len), msg]) {
        return pass("NS: bad checksum");
    }
    let mut sllao: Option<[u8; 6]> = None;
    let mut any_sllao = false;
    let mut o = 24;
    while o < icmp_len {
        let (kind, units) = (msg[o], usize::from(msg[o + 1]));
        if units == 0 {
            return pass("NS: option of length 0");
        }
        if o + units * 8 > icmp_len {
            return pass("NS: option overruns the message");
        }
        if kind == 1 {
            if !any_sllao {
                if units != 1 {
                    return pass("NS: source link-layer option not 8 bytes");
                }
                sllao = Some(mac(&msg[o + 2..]));
            }
            any_sllao = true;
        }
        o += units * 8;
    }
    let dad = src.is_unspecified();
    if dad && !is_solicited_node(&dst) {
        return pass("NS: DAD not to a solicited-node address");
    }
    if dad && any_sllao {
        return pass("NS: DAD with a source link-layer option");
    }
    let Some(owner) = owner else {
        return pass("NS: target not held")
            .with(seen)
            .with(l2(ifindex, L2::NsPassed));
    };
    if state.fenced {
        return Expected::untouched(frame, XDP_DROP, "NS: fenced")
            .with(seen)
            .with(l2(ifindex, L2::NsFenced));
    }
    // RFC 4861 section 7.2.4.
    let all_nodes: Ipv6Addr = "ff02::1".parse().expect("literal");
    let (dst_mac, dst_ip, flags) = if dad {
        ([0x33, 0x33, 0, 0, 0, 1], all_nodes, 0x20)
    } else {
        (sllao.unwrap_or_else(|| mac(&frame[6..])), src, 0x60)
    };
    let mut na = vec![136, 0, 0, 0, flags, 0, 0, 0];
    na.extend_from_slice(&target.octets());
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(owner);
    let c = checksum(&[&pseudo(target.into(), dst_ip.into(), 58, na.len()), &na]);
    na[2..4].copy_from_slice(&c);
    let mut out = Vec::with_capacity(l3 + 40 + na.len());
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(owner);
    out.extend_from_slice(&frame[12..l3]);
    out.extend_from_slice(&[0x60, 0, 0, 0, 0, na.len() as u8, 58, 255]);
    out.extend_from_slice(&target.octets());
    out.extend_from_slice(&dst_ip.octets());
    out.extend_from_slice(&na);
    Expected {
        verdict: XDP_TX,
        output: out,
        effects: vec![seen, l2(ifindex, L2::NaSent)],
        why: if dad {
            "NS: answered to all-nodes (DAD)"
        } else {
            "NS: answered"
        },
    }
}

// ---------------------------------------------------------------- counters

/// Counter totals in the shape of the agent's counter API, keyed like it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub vrrp: BTreeMap<(u32, u8, Family), VrrpCounters>,
    pub l2: BTreeMap<u32, L2Counters>,
}

impl Totals {
    /// What `dp.counters()` reports, in comparable form: the time of the
    /// last valid advert is the kernel's clock and left out (its presence
    /// is kept: it comes with `last_source`).
    pub fn from_counters(c: &Counters) -> Self {
        let mut t = Totals::default();
        for v in &c.vrrp {
            let family = v.family.unwrap_or(Family::V4);
            let mut v = v.clone();
            v.last_seen_ns = None;
            t.vrrp.insert((v.ifindex, v.vrid, family), v);
        }
        for l in &c.l2 {
            t.l2.insert(l.ifindex, l.clone());
        }
        t.normalized()
    }

    /// Entries with nothing counted removed (a missing entry is all zeros).
    pub fn normalized(mut self) -> Self {
        self.vrrp
            .retain(|_, v| v.frames != 0 || v.last_source.is_some());
        self.l2.retain(|_, l| {
            *l != L2Counters {
                ifindex: l.ifindex,
                ..Default::default()
            }
        });
        self
    }

    pub fn apply(&mut self, effects: &[Effect]) {
        for e in effects {
            match *e {
                Effect::L2 { ifindex, counter } => {
                    let l = self.l2.entry(ifindex).or_insert_with(|| L2Counters {
                        ifindex,
                        ..Default::default()
                    });
                    let field = match counter {
                        L2::ArpRequestsSeen => &mut l.arp_requests_seen,
                        L2::ArpRepliesSent => &mut l.arp_replies_sent,
                        L2::ArpPassed => &mut l.arp_passed,
                        L2::ArpFenced => &mut l.arp_fenced,
                        L2::ArpOther => &mut l.arp_other,
                        L2::NsSeen => &mut l.ns_seen,
                        L2::NaSent => &mut l.na_sent,
                        L2::NsPassed => &mut l.ns_passed,
                        L2::NsFenced => &mut l.ns_fenced,
                        L2::VrrpShort => &mut l.vrrp_short,
                        L2::VrrpFragments => &mut l.vrrp_fragments,
                        L2::NoAcceptDropped => &mut l.no_accept_dropped,
                    };
                    *field += 1;
                }
                Effect::Vrrp {
                    ifindex,
                    vrid,
                    family,
                    outcome,
                    source,
                } => {
                    let v =
                        self.vrrp
                            .entry((ifindex, vrid, family))
                            .or_insert_with(|| VrrpCounters {
                                ifindex,
                                vrid,
                                family: Some(family),
                                ..Default::default()
                            });
                    v.frames += 1;
                    let field = match outcome {
                        Vrrp::Valid => {
                            v.last_source = Some(source);
                            &mut v.adverts_valid
                        }
                        Vrrp::Ttl => &mut v.drop_ttl,
                        Vrrp::Version => &mut v.drop_version,
                        Vrrp::Type => &mut v.drop_type,
                        Vrrp::Length => &mut v.drop_length,
                        Vrrp::Checksum => &mut v.drop_checksum,
                        Vrrp::Auth => &mut v.drop_auth,
                        Vrrp::NotPeer => &mut v.drop_not_peer,
                        Vrrp::Unconfigured => &mut v.unconfigured,
                    };
                    *field += 1;
                }
            }
        }
    }

    /// Human-readable differences, `self` expected, `actual` measured.
    pub fn diff(&self, actual: &Totals) -> Vec<String> {
        let mut out = Vec::new();
        let keys: std::collections::BTreeSet<_> = self
            .vrrp
            .keys()
            .chain(actual.vrrp.keys())
            .copied()
            .collect();
        for k in keys {
            let (e, a) = (self.vrrp.get(&k), actual.vrrp.get(&k));
            if e != a {
                out.push(format!("VRRP {k:?}: expected {e:?}, actual {a:?}"));
            }
        }
        let keys: std::collections::BTreeSet<_> =
            self.l2.keys().chain(actual.l2.keys()).copied().collect();
        for k in keys {
            let (e, a) = (self.l2.get(&k), actual.l2.get(&k));
            if e != a {
                out.push(format!("L2 ifindex {k}: expected {e:?}, actual {a:?}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_sum(&[&data]), 0xddf2);
        assert_eq!(ones_sum(&[&data[..3], &data[3..]]), 0xddf2, "split parts");
    }

    #[test]
    fn solicited_node_prefix() {
        assert!(is_solicited_node(&"ff02::1:ff00:64".parse().unwrap()));
        assert!(!is_solicited_node(&"ff02::1".parse().unwrap()));
        assert!(!is_solicited_node(&"ff02::2:ff00:64".parse().unwrap()));
    }
}
