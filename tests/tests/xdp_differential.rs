//! Differential test of the XDP program against the reference model of
//! `tests::xdp_model`: random and mutated frames (VRRP v2/v3 over IPv4 and
//! IPv6 with one field changed, every truncation, VLAN tags and QinQ, IPv6
//! extension and fragment headers, ARP and NS variants for held, foreign and
//! fenced VIPs, junk) run through `BPF_PROG_TEST_RUN` on the loaded program,
//! on two ingress interfaces, under policies (unicast ones with random
//! per-peer TTL ranges, the TTLs drawn around their edges), VIP ownership
//! and fencing drawn from the same seed. Each frame's verdict and output bytes are compared
//! with the model's; counters (read through `Dataplane::counters`) in
//! batches, and a batch that disagrees is replayed frame by frame to name
//! the first frame whose counters differ.
//!
//! `VIP_XDP_DIFF_FRAMES` (default 100000), `VIP_XDP_DIFF_SEED` (decimal or
//! 0x-hex) and `VIP_XDP_DIFF_BATCH` (frames per counter comparison, default
//! 1000) change the run; a failure prints the seed and frame index that
//! reproduce it.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use aya::programs::{TestRun, TestRunOptions};
use tests::{
    frames::{internet_checksum, pseudo_header, solicited_node},
    xdp_model::{self, Expected, Family, State, Totals, VrrpPolicy, XDP_DROP, XDP_PASS, XDP_TX},
    Lab,
};
use vip_agent::dataplane::Dataplane;
use vip_common::{MAX_PEERS, PEER_TTL_ANY};

const DEFAULT_FRAMES: u64 = 100_000;
const DEFAULT_SEED: u64 = 0x5EED_0D1F;
const DEFAULT_BATCH: usize = 1000;
/// Frames between two draws of policies, ownership and fencing.
const EPOCH: u64 = 4000;
/// Disagreements reported before the run stops.
const MAX_REPORTED: usize = 12;

fn env_u64(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => {
            let v = v.trim().replace('_', "");
            let n = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            Ok(Some(
                n.with_context(|| format!("{name}={v}: not a number"))?,
            ))
        }
    }
}

// ------------------------------------------------------------------- PRNG

/// splitmix64: small, seedable, good enough to draw test frames from.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// True with `percent` % probability.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// One of `items`, or now and then any byte.
    fn either_u8(&mut self, items: &[u8]) -> u8 {
        match self.below(items.len() + 1) {
            i if i < items.len() => items[i],
            _ => self.byte(),
        }
    }

    fn either_u16(&mut self, items: &[u16]) -> u16 {
        match self.below(items.len() + 1) {
            i if i < items.len() => items[i],
            _ => self.next() as u16,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn mac(&mut self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.iter_mut().for_each(|b| *b = self.byte());
        m[0] = (m[0] & 0xFE) | 0x02;
        m
    }

    fn v4(&mut self) -> [u8; 4] {
        [10, 0, self.range(0, 1) as u8, self.byte()]
    }

    fn v6(&mut self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[14] = self.range(0, 1) as u8;
        a[15] = self.byte();
        a
    }
}

// ------------------------------------------------------------ the world

const MCAST4: [u8; 4] = [224, 0, 0, 18];
const MCAST6: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn v6_from(last: u16, link_local: bool) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0..2].copy_from_slice(if link_local {
        &[0xfe, 0x80]
    } else {
        &[0xfd, 0x00]
    });
    a[14..].copy_from_slice(&last.to_be_bytes());
    a
}

/// Address pools and what the maps hold now.
struct World {
    ifaces: [u32; 2],
    vrids: Vec<u8>,
    vip4: Vec<[u8; 4]>,
    vip6: Vec<[u8; 16]>,
    src4: Vec<[u8; 4]>,
    src6: Vec<[u8; 16]>,
    macs: Vec<[u8; 6]>,
    state: State,
    heartbeaten: bool,
}

impl World {
    fn new(rng: &mut Rng, ifaces: [u32; 2]) -> Self {
        Self {
            ifaces,
            vrids: Vec::new(),
            vip4: vec![[10, 0, 0, 100], [10, 0, 0, 101], [10, 0, 1, 100], rng.v4()],
            vip6: vec![
                v6_from(0x64, false),
                v6_from(0x65, false),
                v6_from(0x64, true),
                rng.v6(),
            ],
            src4: vec![[10, 0, 0, 2], [10, 0, 0, 3], [10, 0, 0, 4], rng.v4()],
            src6: vec![
                v6_from(2, true),
                v6_from(3, true),
                v6_from(2, false),
                v6_from(3, false),
            ],
            macs: (0..6).map(|_| rng.mac()).collect(),
            state: State::default(),
            heartbeaten: false,
        }
    }

    fn random_policy(&self, rng: &mut Rng, family: Family) -> VrrpPolicy {
        let version = match family {
            Family::V4 => rng.pick(&[0, 2, 2, 3, 3]),
            Family::V6 => rng.pick(&[0, 2, 3, 3, 3]),
        };
        let auth_pass = match version {
            3 => rng.chance(10),
            _ => rng.chance(50),
        }
        .then(|| {
            let mut pass = [0u8; 8];
            for b in pass.iter_mut().take(rng.range(1, 8)) {
                *b = rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789");
            }
            pass
        });
        let mut peers: Vec<IpAddr> = Vec::new();
        if rng.chance(35) {
            for _ in 0..rng.range(1, 8) {
                let peer = match family {
                    Family::V4 => IpAddr::from(if rng.chance(70) {
                        rng.pick(&self.src4)
                    } else {
                        rng.v4()
                    }),
                    Family::V6 => IpAddr::from(if rng.chance(70) {
                        rng.pick(&self.src6)
                    } else {
                        rng.v6()
                    }),
                };
                if !peers.contains(&peer) {
                    peers.push(peer);
                }
            }
        }
        // Per peer: mostly keepalived's default 0..=255, else 255 only,
        // narrow ranges, any pair, or min > max (takes nothing).
        let mut peer_ttl = [PEER_TTL_ANY; MAX_PEERS];
        for range in peer_ttl.iter_mut().take(peers.len()) {
            *range = match rng.below(100) {
                0..=44 => PEER_TTL_ANY,
                45..=54 => [255, 255],
                55..=64 => {
                    // Ending at a usual initial TTL, a few hops deep.
                    let max = rng.pick(&[64, 128, 255]);
                    [max - rng.range(0, 4) as u8, max]
                }
                65..=74 => {
                    let min = rng.range(0, 250) as u8;
                    [min, min + rng.range(0, 5) as u8]
                }
                75..=89 => {
                    let (a, b) = (rng.byte(), rng.byte());
                    [a.min(b), a.max(b)]
                }
                _ => {
                    let min = rng.range(1, 255) as u8;
                    [min, rng.range(0, usize::from(min) - 1) as u8]
                }
            };
        }
        VrrpPolicy {
            version,
            auth_pass,
            peers,
            peer_ttl,
        }
    }

    /// Draws policies, ownership and fencing and writes them through the
    /// agent's own dataplane API.
    fn configure(&mut self, rng: &mut Rng, dp: &mut Dataplane) -> Result<()> {
        let mut vrids = Vec::new();
        while vrids.len() < 4 {
            let vrid = if rng.chance(3) {
                0
            } else {
                rng.range(1, 255) as u8
            };
            if !vrids.contains(&vrid) {
                vrids.push(vrid);
            }
        }
        self.vrids = vrids;
        let mut policies = BTreeMap::new();
        for &ifindex in &self.ifaces {
            for &vrid in &self.vrids {
                for family in [Family::V4, Family::V6] {
                    if rng.chance(75) {
                        policies.insert((ifindex, vrid, family), self.random_policy(rng, family));
                    }
                }
            }
        }
        for &(ifindex, vrid, family) in self.state.policies.keys() {
            if !policies.contains_key(&(ifindex, vrid, family)) {
                dp.remove_vrrp_policy(ifindex, vrid, family)?;
            }
        }
        for (&(ifindex, vrid, family), policy) in &policies {
            dp.set_vrrp_policy(ifindex, vrid, family, policy)
                .with_context(|| format!("policy {policy:?}"))?;
        }
        self.state.policies = policies;

        self.state.owned.clear();
        self.state.no_accept.clear();
        let vips: Vec<IpAddr> = self
            .vip4
            .iter()
            .map(|a| IpAddr::from(*a))
            .chain(self.vip6.iter().map(|a| IpAddr::from(*a)))
            .collect();
        for &ifindex in &self.ifaces {
            for &vip in &vips {
                if rng.chance(50) {
                    let mac = rng.pick(&self.macs);
                    let accept = rng.chance(50);
                    dp.set_owned(ifindex, vip, mac, rng.pick(&self.vrids), accept)?;
                    self.state.owned.insert((ifindex, vip), mac);
                    if !accept {
                        self.state.no_accept.insert((ifindex, vip));
                    }
                } else {
                    dp.clear_owned(ifindex, vip)?;
                }
            }
        }

        // Fenced: a heartbeat older than a zero bound (or none ever);
        // fresh: a heartbeat now and an hour's bound.
        self.state.fenced = rng.chance(25);
        if self.state.fenced {
            if self.heartbeaten || rng.chance(50) {
                dp.heartbeat()?;
                self.heartbeaten = true;
            }
            dp.set_fence_bound(Duration::ZERO)?;
        } else {
            dp.set_fence_bound(Duration::from_secs(3600))?;
            dp.heartbeat()?;
            self.heartbeaten = true;
        }
        Ok(())
    }

    fn describe(&self, ifindex: u32) -> String {
        let mut s = format!("fenced: {}\n", self.state.fenced);
        for ((i, vrid, family), p) in &self.state.policies {
            if *i == ifindex {
                let _ = writeln!(s, "policy ({i}, {vrid}, {family:?}): {p:?}");
            }
        }
        for ((i, vip), mac) in &self.state.owned {
            if *i == ifindex {
                let accept = !self.state.no_accept.contains(&(*i, *vip));
                let _ = writeln!(s, "held on {i}: {vip} at {mac:02x?}, accept {accept}");
            }
        }
        s
    }

    fn owned_on(&self, ifindex: u32, v6: bool) -> Vec<IpAddr> {
        self.state
            .owned
            .keys()
            .filter(|(i, vip)| *i == ifindex && vip.is_ipv6() == v6)
            .map(|(_, vip)| *vip)
            .collect()
    }
}

// ------------------------------------------------------------- builders

/// A frame under construction, without VLAN tags (those go in last), and
/// where its parts start, so mutations can find their fields.
struct Pkt {
    frame: Vec<u8>,
    /// Start of the upper layer (VRRP / ICMPv6 message).
    l4: usize,
    /// Length of that message as built.
    msg_len: usize,
    v6: bool,
    /// How the upper-layer checksum is recomputed after a mutation.
    sum: Sum,
}

#[derive(Clone, Copy, PartialEq)]
enum Sum {
    /// VRRPv2 or VRRPv3 without the pseudo-header.
    MessageOnly,
    /// VRRPv3 or ICMPv6 with it.
    Pseudo(u8),
}

const L3: usize = 14;

fn eth(dst: [u8; 6], src: [u8; 6], ether_type: u16) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f
}

impl Pkt {
    fn src(&self) -> IpAddr {
        let f = &self.frame;
        if self.v6 {
            IpAddr::from(<[u8; 16]>::try_from(&f[L3 + 8..L3 + 24]).unwrap())
        } else {
            IpAddr::from(<[u8; 4]>::try_from(&f[L3 + 12..L3 + 16]).unwrap())
        }
    }

    fn dst(&self) -> IpAddr {
        let f = &self.frame;
        if self.v6 {
            IpAddr::from(<[u8; 16]>::try_from(&f[L3 + 24..L3 + 40]).unwrap())
        } else {
            IpAddr::from(<[u8; 4]>::try_from(&f[L3 + 16..L3 + 20]).unwrap())
        }
    }

    fn fix_ip_checksum(&mut self) {
        if self.v6 {
            return;
        }
        let hlen = usize::from(self.frame[L3] & 0x0F) * 4;
        if hlen < 20 || L3 + hlen > self.frame.len() {
            return;
        }
        self.frame[L3 + 10..L3 + 12].fill(0);
        let c = internet_checksum(&[&self.frame[L3..L3 + hlen]]);
        self.frame[L3 + 10..L3 + 12].copy_from_slice(&c);
    }

    fn fix_l4_checksum(&mut self) {
        let end = (self.l4 + self.msg_len).min(self.frame.len());
        if self.l4 + 8 > end {
            return;
        }
        let field = self.l4 + if self.sum == Sum::Pseudo(58) { 2 } else { 6 };
        self.frame[field..field + 2].fill(0);
        let c = match self.sum {
            Sum::MessageOnly => internet_checksum(&[&self.frame[self.l4..end]]),
            Sum::Pseudo(next) => {
                let p = pseudo_header(self.src(), self.dst(), next, end - self.l4);
                internet_checksum(&[&p, &self.frame[self.l4..end]])
            }
        };
        self.frame[field..field + 2].copy_from_slice(&c);
    }

    /// Sets the IP length field to cover the frame as it is now.
    fn fix_ip_length(&mut self) {
        if self.v6 {
            let plen = (self.frame.len() - L3 - 40) as u16;
            self.frame[L3 + 4..L3 + 6].copy_from_slice(&plen.to_be_bytes());
        } else {
            let total = (self.frame.len() - L3) as u16;
            self.frame[L3 + 2..L3 + 4].copy_from_slice(&total.to_be_bytes());
            self.fix_ip_checksum();
        }
    }

    /// Puts extension headers `(type, body)` between the IPv6 header and
    /// the upper layer (the chain's last next header is the old first one).
    fn insert_ext(&mut self, chain: &[(u8, Vec<u8>)]) {
        if !self.v6 || chain.is_empty() {
            return;
        }
        let upper = self.frame[L3 + 6];
        let mut bytes = Vec::new();
        for (i, (_, body)) in chain.iter().enumerate() {
            let next = chain.get(i + 1).map(|(t, _)| *t).unwrap_or(upper);
            let mut h = vec![next, 0];
            h.extend_from_slice(body);
            while h.len() % 8 != 0 {
                h.push(0);
            }
            h[1] = (h.len() / 8 - 1) as u8;
            bytes.extend_from_slice(&h);
        }
        self.frame[L3 + 6] = chain[0].0;
        let at = L3 + 40;
        self.frame.splice(at..at, bytes.iter().copied());
        self.l4 += bytes.len();
        let plen = u16::from_be_bytes([self.frame[L3 + 4], self.frame[L3 + 5]]);
        let plen = plen.wrapping_add(bytes.len() as u16);
        self.frame[L3 + 4..L3 + 6].copy_from_slice(&plen.to_be_bytes());
    }

    /// A Fragment header in front of the upper layer.
    fn insert_fragment(&mut self, rng: &mut Rng) {
        if !self.v6 {
            return;
        }
        let upper = self.frame[L3 + 6];
        let offset_flags: u16 = match rng.below(3) {
            0 => 0, // atomic
            1 => 1, // first fragment, more to come
            _ => (rng.range(1, 200) as u16) << 3,
        };
        let mut h = vec![upper, 0];
        h.extend_from_slice(&offset_flags.to_be_bytes());
        h.extend_from_slice(&rng.bytes(4));
        // Behind whatever extension headers are there already.
        let mut next_at = L3 + 6;
        let mut at = L3 + 40;
        while at < self.l4 {
            next_at = at;
            at += (usize::from(self.frame[at + 1]) + 1) * 8;
        }
        self.frame[next_at] = 44;
        self.frame.splice(at..at, h.iter().copied());
        self.l4 += 8;
        let plen = u16::from_be_bytes([self.frame[L3 + 4], self.frame[L3 + 5]]).wrapping_add(8);
        self.frame[L3 + 4..L3 + 6].copy_from_slice(&plen.to_be_bytes());
    }
}

fn ipv4_header(rng: &mut Rng, src: [u8; 4], dst: [u8; 4], proto: u8, payload: usize) -> Vec<u8> {
    let options = if rng.chance(85) {
        Vec::new()
    } else {
        let n = rng.range(1, 10) * 4;
        let mut o = rng.bytes(n);
        if rng.chance(50) {
            o.fill(1); // NOPs
        }
        o
    };
    let hlen = 20 + options.len();
    let mut ip = vec![0x40 | (hlen / 4) as u8, rng.pick(&[0, 0xC0])];
    ip.extend_from_slice(&((hlen + payload) as u16).to_be_bytes());
    ip.extend_from_slice(&rng.bytes(2));
    ip.extend_from_slice(&[rng.pick(&[0, 0x40]), 0, 255, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&options);
    let c = internet_checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c);
    ip
}

fn ipv6_header(src: [u8; 16], dst: [u8; 16], next: u8, payload: usize) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(payload as u16).to_be_bytes());
    ip.extend_from_slice(&[next, 255]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip
}

/// A legal chain of skippable extension headers: Hop-by-Hop only first,
/// Routing with no segments left.
fn ext_chain(rng: &mut Rng) -> Vec<(u8, Vec<u8>)> {
    let mut chain = Vec::new();
    for i in 0..rng.range(1, 3) {
        let kind = if i == 0 {
            rng.pick(&[0, 60, 43])
        } else {
            rng.pick(&[60, 43])
        };
        let mut body = match kind {
            // Routing type, segments left 0, then type-specific data.
            43 => vec![rng.pick(&[0, 2, 3, 4]), 0, 0, 0, 0, 0],
            // One PadN option filling the rest.
            _ => vec![1, 4, 0, 0, 0, 0],
        };
        let extra = rng.pick(&[0, 0, 8, 16, 64]);
        body.extend(std::iter::repeat_n(0, extra));
        if kind != 43 && extra > 0 {
            body[1] += extra as u8;
        }
        chain.push((kind, body));
    }
    chain
}

/// Extension header chains the model must refuse or stop at.
fn odd_chain(rng: &mut Rng) -> Vec<(u8, Vec<u8>)> {
    let pad = || vec![1, 4, 0, 0, 0, 0];
    match rng.below(3) {
        // Hop-by-Hop after another header.
        0 => vec![(60, pad()), (0, pad())],
        // More headers than the walk takes.
        1 => (0..rng.range(4, 6)).map(|_| (60, pad())).collect(),
        // A long one, past the walk's bound.
        _ => {
            let mut body = vec![1, 0];
            let n = rng.range(60, 250) * 2;
            body[1] = (n - 2 + 6) as u8;
            body.extend(std::iter::repeat_n(0, n + 4));
            vec![(60, body)]
        }
    }
}

// -------------------------------------------------------------- generator

struct Gen {
    rng: Rng,
    queue: Vec<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Kind {
    V2v4,
    V3v4,
    V3v6,
    V2v6,
    Arp,
    Ns,
    ToVip,
    Junk,
}

impl Gen {
    fn frame(&mut self, w: &World, ifindex: u32) -> Vec<u8> {
        if let Some(f) = self.queue.pop() {
            return f;
        }
        if self.rng.chance(1) && self.rng.chance(10) {
            // Every prefix of one well-formed frame, longest last.
            let kind = self
                .rng
                .pick(&[Kind::V2v4, Kind::V3v4, Kind::V3v6, Kind::Arp, Kind::Ns]);
            let full = self.build(w, ifindex, kind, false);
            let full = self.tags(full);
            self.queue = (14..=full.len())
                .rev()
                .map(|n| full[..n].to_vec())
                .collect();
            return self.queue.pop().expect("a prefix");
        }
        let kind = match self.rng.below(100) {
            0..=19 => Kind::V2v4,
            20..=33 => Kind::V3v4,
            34..=47 => Kind::V3v6,
            48..=49 => Kind::V2v6,
            50..=69 => Kind::Arp,
            70..=87 => Kind::Ns,
            88..=94 => Kind::ToVip,
            _ => Kind::Junk,
        };
        let mutate = self.rng.chance(60);
        let mut f = self.build(w, ifindex, kind, mutate);
        if self.rng.chance(8) {
            let n = self.rng.range(1, 64);
            f.extend(self.rng.bytes(n));
        }
        let mut f = self.tags(f);
        if self.rng.chance(10) && f.len() > 14 {
            f.truncate(self.rng.range(14, f.len() - 1));
        }
        f.truncate(2000);
        f
    }

    /// VLAN tags: one 802.1Q or 802.1ad tag, or two (QinQ).
    fn tags(&mut self, mut f: Vec<u8>) -> Vec<u8> {
        let tags: &[u16] = match self.rng.below(100) {
            0..=11 => &[0x8100],
            12..=14 => &[0x88A8],
            15..=17 => &[0x88A8, 0x8100],
            18..=19 => &[0x8100, 0x8100],
            _ => &[],
        };
        for tpid in tags.iter().rev() {
            let mut tag = tpid.to_be_bytes().to_vec();
            tag.extend_from_slice(&((self.rng.below(4095) as u16 + 1).to_be_bytes()));
            f.splice(12..12, tag);
        }
        f
    }

    fn build(&mut self, w: &World, ifindex: u32, kind: Kind, mutate: bool) -> Vec<u8> {
        match kind {
            Kind::V2v4 => self.vrrp(w, ifindex, 2, false, mutate),
            Kind::V3v4 => self.vrrp(w, ifindex, 3, false, mutate),
            Kind::V3v6 => self.vrrp(w, ifindex, 3, true, mutate),
            Kind::V2v6 => self.vrrp(w, ifindex, 2, true, mutate),
            Kind::Arp => self.arp(w, ifindex, mutate),
            Kind::Ns => self.ns(w, ifindex, mutate),
            Kind::ToVip => self.vip_traffic(w, mutate),
            Kind::Junk => self.junk(),
        }
    }

    fn vrrp(&mut self, w: &World, ifindex: u32, version: u8, v6: bool, mutate: bool) -> Vec<u8> {
        let r = &mut self.rng;
        let family = if v6 { Family::V6 } else { Family::V4 };
        let vrid = if r.chance(92) {
            r.pick(&w.vrids)
        } else {
            r.byte()
        };
        let policy = w.state.policies.get(&(ifindex, vrid, family));
        let src: IpAddr = match policy {
            Some(p) if !p.peers.is_empty() && r.chance(85) => r.pick(&p.peers),
            _ if v6 => r.pick(&w.src6).into(),
            _ => r.pick(&w.src4).into(),
        };
        // TTL / hop limit: a unicast policy's adverts often arrive below
        // 255 (a kernel default of 64, routed hops) and at the edges of the
        // sending peer's range; a multicast policy's now and then.
        let ttl = match policy {
            Some(p) if !p.peers.is_empty() && r.chance(60) => {
                let range = p
                    .peers
                    .iter()
                    .position(|a| *a == src)
                    .map(|i| p.peer_ttl[i]);
                match range {
                    Some([min, max]) if r.chance(60) => {
                        r.pick(&[min, max, min.wrapping_sub(1), max.wrapping_add(1)])
                    }
                    _ => r.either_u8(&[255, 64, 63, 1, 0, 128, 254]),
                }
            }
            _ if r.chance(5) => r.either_u8(&[64, 1, 0, 128, 254]),
            _ => 255,
        };
        let dst: IpAddr = match (v6, r.chance(85)) {
            (false, true) => MCAST4.into(),
            (false, false) => r.v4().into(),
            (true, true) => MCAST6.into(),
            (true, false) => r.v6().into(),
        };
        let count = match r.below(100) {
            0..=3 => r.below(if v6 { 100 } else { 256 }),
            4..=8 => 0,
            _ => r.range(1, 3),
        };
        let mut msg = vec![(version << 4) | 1, vrid, r.byte(), count as u8];
        let mut sum = Sum::MessageOnly;
        if version == 2 {
            let (auth_type, data) = match policy.and_then(|p| p.auth_pass) {
                Some(pass) if r.chance(92) => (1, pass.to_vec()),
                _ if r.chance(5) => (1, r.bytes(8)),
                _ if r.chance(30) => (0, r.bytes(8)),
                _ => (0, vec![0; 8]),
            };
            msg.extend_from_slice(&[auth_type, 1, 0, 0]);
            for _ in 0..count {
                let a = if r.chance(50) {
                    r.pick(&w.vip4)
                } else {
                    r.v4()
                };
                msg.extend_from_slice(&a);
            }
            msg.extend_from_slice(&data);
        } else {
            msg.extend_from_slice(&[0, 100, 0, 0]);
            for _ in 0..count {
                if v6 {
                    msg.extend_from_slice(&if r.chance(50) {
                        r.pick(&w.vip6)
                    } else {
                        r.v6()
                    });
                } else {
                    msg.extend_from_slice(&if r.chance(50) {
                        r.pick(&w.vip4)
                    } else {
                        r.v4()
                    });
                }
            }
            if r.chance(if v6 { 97 } else { 70 }) {
                sum = Sum::Pseudo(112);
            }
        }
        let c = match sum {
            Sum::MessageOnly => internet_checksum(&[&msg]),
            Sum::Pseudo(next) => {
                internet_checksum(&[&pseudo_header(src, dst, next, msg.len()), &msg])
            }
        };
        msg[6..8].copy_from_slice(&c);
        let src_mac = r.pick(&w.macs);
        let mut pkt = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut f = eth([1, 0, 0x5e, 0, 0, 0x12], src_mac, 0x0800);
                f.extend(ipv4_header(r, s.octets(), d.octets(), 112, msg.len()));
                let l4 = f.len();
                f.extend_from_slice(&msg);
                Pkt {
                    frame: f,
                    l4,
                    msg_len: msg.len(),
                    v6: false,
                    sum,
                }
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut f = eth([0x33, 0x33, 0, 0, 0, 0x12], src_mac, 0x86DD);
                f.extend(ipv6_header(s.octets(), d.octets(), 112, msg.len()));
                let l4 = f.len();
                f.extend_from_slice(&msg);
                let mut p = Pkt {
                    frame: f,
                    l4,
                    msg_len: msg.len(),
                    v6: true,
                    sum,
                };
                if r.chance(20) {
                    let chain = ext_chain(r);
                    p.insert_ext(&chain);
                }
                p
            }
            _ => unreachable!(),
        };
        pkt.frame[if pkt.v6 { L3 + 7 } else { L3 + 8 }] = ttl;
        pkt.fix_ip_checksum();
        if mutate {
            self.mutate_vrrp(&mut pkt, version);
        }
        pkt.frame
    }

    fn mutate_vrrp(&mut self, p: &mut Pkt, version: u8) {
        let r = &mut self.rng;
        let l4 = p.l4;
        let mut fix_l4 = r.chance(50);
        let mut fix_ip = r.chance(85);
        match r.below(23) {
            0 => {
                let ttl = r.either_u8(&[0, 1, 64, 128, 254]);
                p.frame[if p.v6 { L3 + 7 } else { L3 + 8 }] = ttl;
            }
            1 => p.frame[l4] = (r.byte() << 4) | (p.frame[l4] & 0x0F),
            2 => p.frame[l4] = (p.frame[l4] & 0xF0) | (r.byte() & 0x0F),
            3 => p.frame[l4 + 1] = r.byte(),
            4 => p.frame[l4 + 2] = r.byte(),
            5 => {
                let c = p.frame[l4 + 3];
                p.frame[l4 + 3] = r.either_u8(&[c.wrapping_add(1), c.wrapping_sub(1)]);
            }
            6 => p.frame[l4 + 4] = r.either_u8(&[0, 1, 2, 3]),
            7 => p.frame[l4 + 5] = r.byte(),
            8 if version == 2 => {
                let i = l4 + p.msg_len - 1 - r.below(8);
                p.frame[i] ^= 1 << r.below(8);
            }
            8 | 9 if p.msg_len > 8 + (if version == 2 { 8 } else { 0 }) => {
                let i = l4 + 8 + r.below(p.msg_len - 8 - if version == 2 { 8 } else { 0 });
                p.frame[i] ^= 1 << r.below(8);
            }
            10 => {
                p.frame[l4 + 6 + r.below(2)] ^= 1 << r.below(8);
                fix_l4 = false;
            }
            11 | 12 => {
                let at = match (p.v6, r.below(2) == 0) {
                    (false, true) => L3 + 12,
                    (false, false) => L3 + 16,
                    (true, true) => L3 + 8,
                    (true, false) => L3 + 24,
                };
                let n = if p.v6 { 16 } else { 4 };
                let i = at + n - 1 - r.below(2);
                p.frame[i] = r.byte();
            }
            13 => {
                // The message shorter than its count says.
                let cut = r.range(1, p.msg_len.min(24));
                p.frame.truncate(p.frame.len() - cut);
                p.fix_ip_length();
                fix_l4 = false;
            }
            14 => {
                // Bytes after the message inside the IP payload.
                let n = r.range(1, 16);
                p.frame.extend(r.bytes(n));
                p.fix_ip_length();
            }
            15 => {
                let at = if p.v6 { L3 + 4 } else { L3 + 2 };
                let v = u16::from_be_bytes([p.frame[at], p.frame[at + 1]]);
                let d = r.range(1, 8) as u16;
                let v = r.either_u16(&[v.wrapping_add(d), v.wrapping_sub(d), 0]);
                p.frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
            16 if !p.v6 => p.frame[L3] = 0x40 | (r.byte() & 0x0F),
            16 => p.frame[L3] = (r.byte() << 4) | (p.frame[L3] & 0x0F),
            17 if !p.v6 => {
                let (hi, lo) = match r.below(5) {
                    0 => (0x20, 0),                       // more fragments
                    1 => (r.byte() & 0x1F, r.byte() | 1), // an offset
                    2 => (0x20 | (r.byte() & 0x1F), r.byte()),
                    3 => (0x40, 0), // don't fragment
                    _ => (0x80, 0), // reserved bit
                };
                p.frame[L3 + 6] = hi;
                p.frame[L3 + 7] = lo;
            }
            17 => p.insert_fragment(r),
            18 if !p.v6 => {
                p.frame[L3 + 10 + r.below(2)] ^= 1 << r.below(8);
                fix_ip = false;
            }
            18 => {
                let chain = odd_chain(r);
                p.insert_ext(&chain);
            }
            19 if !p.v6 => p.frame[L3 + 9] = r.either_u8(&[17, 6, 111, 113]),
            19 => p.frame[L3 + 6] = r.either_u8(&[58, 17, 44, 0, 59]),
            20 if !p.v6 => p.frame[L3] = (r.byte() << 4) | (p.frame[L3] & 0x0F),
            20 => {
                let i = L3 + 1 + r.below(3);
                p.frame[i] = r.byte();
            }
            21 if !p.v6 => {
                let i = L3 + r.pick(&[1, 4, 5]);
                p.frame[i] = r.byte();
            }
            _ => {
                let t: u16 = r.either_u16(&[0x0800, 0x86DD, 0x0806, 0x8100]);
                p.frame[12..14].copy_from_slice(&t.to_be_bytes());
            }
        }
        if fix_ip {
            p.fix_ip_checksum();
        }
        if fix_l4 {
            p.fix_l4_checksum();
        }
    }

    fn arp(&mut self, w: &World, ifindex: u32, mutate: bool) -> Vec<u8> {
        let r = &mut self.rng;
        let sha = if r.chance(80) {
            r.pick(&w.macs)
        } else {
            r.mac()
        };
        let held = w.owned_on(ifindex, false);
        let other = w.owned_on(w.ifaces[0] + w.ifaces[1] - ifindex, false);
        let tpa: [u8; 4] = match r.below(100) {
            0..=44 if !held.is_empty() => v4_octets(r.pick(&held)),
            45..=54 if !other.is_empty() => v4_octets(r.pick(&other)),
            55..=79 => r.pick(&w.vip4),
            _ => r.v4(),
        };
        let spa = match r.below(100) {
            0..=9 => tpa,
            10..=14 => [0; 4],
            15..=84 => r.pick(&w.src4),
            _ => r.v4(),
        };
        let dst = if r.chance(85) { [0xFF; 6] } else { r.mac() };
        let src = if r.chance(90) { sha } else { r.mac() };
        let mut f = eth(dst, src, 0x0806);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&if r.chance(80) { [0; 6] } else { r.mac() });
        f.extend_from_slice(&tpa);
        if r.chance(50) {
            f.resize(60, 0);
        }
        if mutate && r.chance(60) {
            let a = L3;
            match r.below(6) {
                0 => {
                    let op: u16 = r.either_u16(&[0, 2, 2, 3, 4, 8, 9, 0x0100]);
                    f[a + 6..a + 8].copy_from_slice(&op.to_be_bytes());
                }
                1 => {
                    let h: u16 = r.either_u16(&[0, 6, 0x0100]);
                    f[a..a + 2].copy_from_slice(&h.to_be_bytes());
                }
                2 => {
                    let p: u16 = r.either_u16(&[0x86DD, 0x0801, 0]);
                    f[a + 2..a + 4].copy_from_slice(&p.to_be_bytes());
                }
                3 => f[a + 4] = r.either_u8(&[0, 4, 8, 16]),
                4 => f[a + 5] = r.either_u8(&[0, 6, 16]),
                _ => {
                    let i = a + 8 + r.below(20);
                    f[i] ^= 1 << r.below(8);
                }
            }
        }
        f
    }

    fn ns(&mut self, w: &World, ifindex: u32, mutate: bool) -> Vec<u8> {
        let r = &mut self.rng;
        let src_mac = r.pick(&w.macs);
        let held = w.owned_on(ifindex, true);
        let other = w.owned_on(w.ifaces[0] + w.ifaces[1] - ifindex, true);
        let target: [u8; 16] = match r.below(100) {
            0..=44 if !held.is_empty() => v6_octets(r.pick(&held)),
            45..=49 if !other.is_empty() => v6_octets(r.pick(&other)),
            50..=74 => r.pick(&w.vip6),
            75..=96 => r.v6(),
            _ => solicited_node(r.v6()),
        };
        let dad = r.chance(20);
        let src = if dad {
            [0; 16]
        } else if r.chance(85) {
            r.pick(&w.src6)
        } else {
            r.v6()
        };
        let dst = match r.below(100) {
            0..=79 => solicited_node(target),
            80..=87 => solicited_node(r.v6()),
            88..=93 => target,
            94..=96 => ALL_NODES,
            _ => r.v6(),
        };
        let mut options: Vec<Vec<u8>> = Vec::new();
        if r.chance(if dad { 8 } else { 80 }) {
            let mut o = vec![1, 1];
            o.extend_from_slice(&if r.chance(85) { src_mac } else { r.mac() });
            options.push(o);
        }
        if r.chance(25) {
            let mut o = vec![14, 1];
            o.extend(r.bytes(6));
            options.push(o);
        }
        if r.chance(10) {
            let units = r.range(1, 3);
            let mut o = vec![r.either_u8(&[3, 5, 15, 200]) | 2, units as u8];
            o.extend(r.bytes(units * 8 - 2));
            options.push(o);
        }
        if r.chance(5) {
            let mut o = vec![1, 1];
            o.extend_from_slice(&r.mac());
            options.push(o);
        }
        if r.chance(5) {
            for _ in 0..r.range(3, 6) {
                let mut o = vec![14, 1];
                o.extend(r.bytes(6));
                options.push(o);
            }
        }
        if r.chance(20) && options.len() > 1 {
            options.rotate_left(1);
        }
        let mut icmp = vec![135, 0, 0, 0];
        icmp.extend_from_slice(&if r.chance(95) {
            [0; 4]
        } else {
            [r.byte(), 0, 0, r.byte()]
        });
        icmp.extend_from_slice(&target);
        for o in &options {
            icmp.extend_from_slice(o);
        }
        let p = pseudo_header(src.into(), dst.into(), 58, icmp.len());
        let c = internet_checksum(&[&p, &icmp]);
        icmp[2..4].copy_from_slice(&c);
        let mut f = eth(multicast_mac(dst), src_mac, 0x86DD);
        f.extend(ipv6_header(src, dst, 58, icmp.len()));
        let l4 = f.len();
        f.extend_from_slice(&icmp);
        let mut pkt = Pkt {
            frame: f,
            l4,
            msg_len: icmp.len(),
            v6: true,
            sum: Sum::Pseudo(58),
        };
        if r.chance(8) {
            let chain = ext_chain(r);
            pkt.insert_ext(&chain);
        }
        if mutate {
            self.mutate_ns(&mut pkt);
        }
        pkt.frame
    }

    fn mutate_ns(&mut self, p: &mut Pkt) {
        let r = &mut self.rng;
        let l4 = p.l4;
        let mut fix = r.chance(50);
        match r.below(15) {
            0 => p.frame[L3 + 7] = r.either_u8(&[0, 1, 64, 254]),
            1 => p.frame[l4 + 1] = r.either_u8(&[1]),
            2 => p.frame[l4] = r.either_u8(&[136, 134, 133, 128]),
            3 => {
                p.frame[l4 + 2 + r.below(2)] ^= 1 << r.below(8);
                fix = false;
            }
            4 if p.msg_len > 24 => {
                // An option's length byte.
                let mut o = l4 + 24;
                let mut starts = Vec::new();
                while o + 1 < l4 + p.msg_len {
                    starts.push(o);
                    o += (usize::from(p.frame[o + 1]).max(1)) * 8;
                }
                let at = r.pick(&starts) + 1;
                p.frame[at] = r.either_u8(&[0, 2, 3, 7]);
            }
            5 => p.frame[l4 + 8] = 0xFF,
            6 => {
                // The message cut short, IP length following.
                let cut = r.range(1, 8);
                p.frame.truncate(p.frame.len() - cut);
                p.msg_len -= cut.min(p.msg_len);
                p.fix_ip_length();
            }
            7 => {
                let v = u16::from_be_bytes([p.frame[L3 + 4], p.frame[L3 + 5]]);
                let d = r.range(1, 16) as u16;
                let v = r.either_u16(&[v.wrapping_add(d), v.wrapping_sub(d)]);
                p.frame[L3 + 4..L3 + 6].copy_from_slice(&v.to_be_bytes());
            }
            8 => p.frame[L3] = (r.byte() << 4) | (p.frame[L3] & 0x0F),
            9 => {
                let a = if r.chance(50) { [0; 16] } else { r.v6() };
                p.frame[L3 + 8..L3 + 24].copy_from_slice(&a);
            }
            10 => {
                let (other, group) = (r.v6(), solicited_node(r.v6()));
                let a = r.pick(&[ALL_NODES, other, group]);
                p.frame[L3 + 24..L3 + 40].copy_from_slice(&a);
            }
            11 => p.insert_fragment(r),
            12 => {
                let chain = odd_chain(r);
                p.insert_ext(&chain);
            }
            13 => p.frame[6..12].copy_from_slice(&r.mac()),
            _ if p.msg_len >= 32 => {
                let i = l4 + 24 + r.below(p.msg_len - 24);
                p.frame[i] = r.byte();
            }
            _ => p.frame[l4 + 4] = r.byte(),
        }
        if fix {
            p.fix_l4_checksum();
        }
    }

    /// Traffic for the hosts behind a VIP (what the accept rule is about):
    /// ICMP, TCP, UDP and other protocols, mostly to a VIP, over IPv6 now
    /// and then behind extension headers or a Fragment header.
    fn vip_traffic(&mut self, w: &World, mutate: bool) -> Vec<u8> {
        let r = &mut self.rng;
        let (dst_mac, src_mac) = (r.mac(), r.mac());
        let n = r.below(60);
        let body = r.bytes(n);
        if r.chance(50) {
            let dst = if r.chance(80) {
                r.pick(&w.vip4)
            } else {
                r.v4()
            };
            let proto = r.either_u8(&[1, 6, 17, 2, 47]);
            let mut f = eth(dst_mac, src_mac, 0x0800);
            let src = r.pick(&w.src4);
            let mut ip = ipv4_header(r, src, dst, proto, body.len());
            if mutate && r.chance(30) {
                // Not a header the stack takes: the rule does not look.
                ip[0] = r.byte();
            }
            f.extend(ip);
            f.extend(body);
            return f;
        }
        let dst = if r.chance(80) {
            r.pick(&w.vip6)
        } else {
            r.v6()
        };
        let src = r.pick(&w.src6);
        let next = r.either_u8(&[58, 58, 58, 6, 17, 59]);
        let mut upper = body;
        if next == 58 {
            let kind = r.either_u8(&[128, 129, 133, 134, 135, 136, 137, 1]);
            upper.splice(0..0, [kind, 0, 0, 0]);
            if r.chance(5) {
                upper.truncate(r.below(2));
            }
        }
        let mut frame = eth(dst_mac, src_mac, 0x86DD);
        frame.extend(ipv6_header(src, dst, next, upper.len()));
        let hop_limit = r.pick(&[255, 64]);
        frame[L3 + 7] = hop_limit;
        let l4 = frame.len();
        let msg_len = upper.len();
        frame.extend(upper);
        let mut pkt = Pkt {
            frame,
            l4,
            msg_len,
            v6: true,
            sum: Sum::Pseudo(next),
        };
        if next == 58 {
            pkt.fix_l4_checksum();
        }
        match r.below(100) {
            0..=19 => pkt.insert_ext(&ext_chain(r)),
            20..=29 => pkt.insert_ext(&odd_chain(r)),
            30..=39 => pkt.insert_fragment(r),
            _ => {}
        }
        pkt.frame
    }

    fn junk(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        let (dst, src) = (r.mac(), r.mac());
        match r.below(5) {
            0 => {
                let t: u16 = r.either_u16(&[0x88CC, 0x8847, 0x0842, 0x9000]);
                let mut f = eth(dst, src, t);
                let n = r.below(100);
                f.extend(r.bytes(n));
                f
            }
            1 => {
                let proto = r.either_u8(&[1, 6, 17, 2, 89]);
                let n = r.below(80);
                let mut f = eth(dst, src, 0x0800);
                let (src, dst) = (r.v4(), r.v4());
                f.extend(ipv4_header(r, src, dst, proto, n));
                f.extend(r.bytes(n));
                f
            }
            2 => {
                let mut f = eth(dst, src, 0x86DD);
                let kind = r.pick(&[128, 129, 133, 134, 136, 137, 1]);
                let mut icmp = vec![kind, 0, 0, 0];
                let n = r.range(4, 40);
                icmp.extend(r.bytes(n));
                let (s, d) = (r.v6(), r.v6());
                let (s, d) = (r.pick(&[v6_from(2, true), s]), r.pick(&[ALL_NODES, d]));
                let c =
                    internet_checksum(&[&pseudo_header(s.into(), d.into(), 58, icmp.len()), &icmp]);
                icmp[2..4].copy_from_slice(&c);
                let next = if r.chance(80) { 58 } else { 17 };
                f.extend(ipv6_header(s, d, next, icmp.len()));
                f.extend(icmp);
                f
            }
            3 => {
                let n = r.range(14, 200);
                r.bytes(n)
            }
            _ => {
                let t: u16 = r.pick(&[0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8]);
                let mut f = eth(dst, src, t);
                let n = r.below(120);
                f.extend(r.bytes(n));
                f
            }
        }
    }
}

fn v4_octets(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(_) => unreachable!(),
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v6) => v6.octets(),
        IpAddr::V4(_) => unreachable!(),
    }
}

fn multicast_mac(group: [u8; 16]) -> [u8; 6] {
    if group[0] == 0xff {
        [0x33, 0x33, group[12], group[13], group[14], group[15]]
    } else {
        [0x02, 0, 0, 0, 0, 0x99]
    }
}

// ----------------------------------------------------------------- runner

/// One `BPF_PROG_TEST_RUN` with `ifindex` as the ingress interface: the
/// verdict and the frame as the program left it.
fn test_run(
    dp: &mut Dataplane,
    frame: &[u8],
    ifindex: u32,
    out: &mut [u8],
) -> Result<(u32, usize)> {
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
    // rx_queue_index, egress_ifindex.
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    opts.data_out = Some(out);
    opts.ctx_in = Some(&ctx);
    let result = dp
        .program()?
        .test_run(opts)
        .with_context(|| format!("test run of {} bytes", frame.len()))?;
    Ok((result.return_value, result.data_size_out as usize))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn verdict_name(v: u32) -> &'static str {
    match v {
        XDP_DROP => "DROP",
        XDP_PASS => "PASS",
        XDP_TX => "TX",
        _ => "other",
    }
}

struct Config {
    frames: u64,
    seed: u64,
    batch: usize,
}

struct Sent {
    index: u64,
    ifindex: u32,
    frame: Vec<u8>,
    expected: Expected,
}

struct Run<'a> {
    cfg: &'a Config,
    dp: &'a mut Dataplane,
    expected: Totals,
    batch: Vec<Sent>,
    batch_no: u64,
    disagreements: Vec<String>,
    frames_disagreeing: u64,
    out: Vec<u8>,
}

impl Run<'_> {
    fn describe(&self, what: &str, s: &Sent, world: &World) -> String {
        let e = &s.expected;
        format!(
            "{what}\n  reproduce: VIP_XDP_DIFF_SEED={:#x} VIP_XDP_DIFF_FRAMES={}\n  frame {} \
             (batch {}), ingress ifindex {}, {} bytes: {}\n  model: {} ({}), effects {:?}\n  \
             model output: {}\n  state:\n{}",
            self.cfg.seed,
            s.index + 1,
            s.index,
            self.batch_no,
            s.ifindex,
            s.frame.len(),
            hex(&s.frame),
            verdict_name(e.verdict),
            e.why,
            e.effects,
            hex(&e.output),
            world.describe(s.ifindex),
        )
    }

    fn report(&mut self, message: String) {
        eprintln!("DISAGREEMENT: {message}");
        self.disagreements.push(message);
    }

    fn counters(&self) -> Result<Totals> {
        Ok(Totals::from_counters(&self.dp.counters()?))
    }

    /// Compares the counters with the model's totals; on a difference
    /// replays the batch one frame at a time to find the first frame whose
    /// counter deltas differ, then carries on from the measured counters.
    fn flush(&mut self, world: &World) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let actual = self.counters()?;
        if actual != self.expected {
            let diff = self.expected.diff(&actual).join("\n    ");
            let first = self.batch[0].index;
            let mut found = None;
            let mut before = actual;
            let batch = std::mem::take(&mut self.batch);
            for s in &batch {
                test_run(self.dp, &s.frame, s.ifindex, &mut self.out)?;
                let after = self.counters()?;
                let mut want = before.clone();
                want.apply(&s.expected.effects);
                let want = want.normalized();
                if found.is_none() && want != after {
                    found = Some(format!(
                        "{}\n  counters after it: {}",
                        self.describe("counters differ", s, world),
                        want.diff(&after).join("\n    ")
                    ));
                }
                before = after;
            }
            let message = format!(
                "batch {} (frames {first}..={}) counters differ:\n    {diff}\n  replayed one by one: {}",
                self.batch_no,
                first + batch.len() as u64 - 1,
                found.unwrap_or_else(|| "every frame agreed on replay".into()),
            );
            self.frames_disagreeing += 1;
            self.report(message);
            self.expected = before;
        }
        self.batch.clear();
        self.batch_no += 1;
        Ok(())
    }
}

fn differential(dp: &mut Dataplane, cfg: &Config, ifaces: [u32; 2]) -> Result<()> {
    let mut rng = Rng(cfg.seed);
    let mut world = World::new(&mut rng, ifaces);
    let mut generator = Gen {
        rng: Rng(rng.next()),
        queue: Vec::new(),
    };
    let start = Instant::now();
    let mut run = Run {
        cfg,
        expected: Totals::from_counters(&dp.counters()?),
        dp,
        batch: Vec::new(),
        batch_no: 0,
        disagreements: Vec::new(),
        frames_disagreeing: 0,
        out: vec![0u8; 4096],
    };
    let mut coverage: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut verdicts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for index in 0..cfg.frames {
        if index % EPOCH == 0 {
            run.flush(&world)?;
            world.configure(&mut rng, run.dp)?;
        }
        let ifindex = rng.pick(&world.ifaces);
        let frame = generator.frame(&world, ifindex);
        let expected = xdp_model::expect(&frame, ifindex, &world.state);
        let (verdict, len) = test_run(run.dp, &frame, ifindex, &mut run.out)?;
        let sent = Sent {
            index,
            ifindex,
            frame,
            expected,
        };
        if verdict != sent.expected.verdict || run.out[..len] != sent.expected.output[..] {
            let message = format!(
                "{}\n  program: {}, output {}",
                run.describe("verdict or bytes differ", &sent, &world),
                verdict_name(verdict),
                hex(&run.out[..len])
            );
            run.frames_disagreeing += 1;
            run.report(message);
        }
        *coverage.entry(sent.expected.why).or_default() += 1;
        *verdicts.entry(verdict_name(verdict)).or_default() += 1;
        run.expected.apply(&sent.expected.effects);
        run.batch.push(sent);
        if run.batch.len() >= cfg.batch || (index + 1) % EPOCH == 0 {
            run.flush(&world)?;
        }
        if run.disagreements.len() >= MAX_REPORTED {
            eprintln!("stopping after {MAX_REPORTED} disagreements");
            break;
        }
    }
    run.flush(&world)?;
    let elapsed = start.elapsed();

    // Every frame counted landed in exactly one outcome, and every request
    // in exactly one of answered / passed / fenced.
    let counters = run.dp.counters()?;
    for c in &counters.vrrp {
        let outcomes = c.adverts_valid
            + c.drop_ttl
            + c.drop_version
            + c.drop_type
            + c.drop_length
            + c.drop_checksum
            + c.drop_auth
            + c.drop_not_peer
            + c.unconfigured;
        if c.frames != outcomes {
            run.report(format!("VRRP frames != sum of outcomes: {c:?}"));
        }
    }
    for c in &counters.l2 {
        if c.arp_requests_seen != c.arp_replies_sent + c.arp_passed + c.arp_fenced
            || c.ns_seen != c.na_sent + c.ns_passed + c.ns_fenced
        {
            run.report(format!("seen != sent + passed + fenced: {c:?}"));
        }
    }

    let total: u64 = coverage.values().sum();
    println!(
        "xdp differential: seed {:#x}, {total} frames in {:.1} s ({:.0} frames/s), counters compared in {} batches",
        cfg.seed,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        run.batch_no
    );
    println!(
        "agreement: {} of {total} frames ({:.4} %)",
        total - run.frames_disagreeing,
        100.0 * (total - run.frames_disagreeing) as f64 / total.max(1) as f64
    );
    println!("verdicts: {verdicts:?}");
    println!("model decisions:");
    for (why, n) in &coverage {
        println!("  {n:>8}  {why}");
    }
    if !run.disagreements.is_empty() {
        bail!(
            "{} disagreement(s) between the XDP program and the model (seed {:#x}); the first:\n{}",
            run.disagreements.len(),
            cfg.seed,
            run.disagreements[0]
        );
    }
    // The generator must keep reaching every rule, or agreement means little.
    if total >= 50_000 {
        let missing: Vec<&str> = EVERY_DECISION
            .iter()
            .copied()
            .filter(|why| !coverage.contains_key(why))
            .collect();
        if !missing.is_empty() {
            bail!("the frames never reached these rules of the model: {missing:?}");
        }
    }
    Ok(())
}

/// Decisions of the model each CI-sized run must reach at least once.
const EVERY_DECISION: &[&str] = &[
    "second VLAN tag",
    "other EtherType",
    "truncated ARP",
    "ARP: not Ethernet/IPv4",
    "ARP: not a request",
    "ARP: gratuitous",
    "ARP: target not held",
    "ARP: fenced",
    "ARP: answered",
    "IPv4: not VRRP",
    "IPv4: malformed header",
    "VRRP/IPv4: header truncated",
    "IPv4: bad header checksum",
    "VRRP/IPv4: fragment",
    "IPv6: version not 6",
    "IPv6: hop-by-hop not first",
    "IPv6: extension headers too long",
    "IPv6: too many extension headers",
    "VRRP/IPv6: fragment",
    "IPv6: fragment, not VRRP",
    "ICMPv6: hop limit not 255",
    "VRRP: too short for the VRID",
    "VRRP: unconfigured",
    "VRRP: multicast TTL not 255",
    "VRRP: version not 2 or 3",
    "VRRP: not the configured version",
    "VRRP: version 2 over IPv6",
    "VRRP: type not 1",
    "VRRP: message longer than payload or frame",
    "VRRP: bad checksum",
    "VRRP: authentication",
    "VRRP: not a peer",
    "VRRP: unicast TTL below the peer's min_ttl",
    "VRRP: unicast TTL above the peer's max_ttl",
    "VRRP: valid",
    "VRRP: valid from a unicast peer, TTL below 255",
    "ICMPv6: not an NS",
    "NS: multicast target",
    "NS: options do not fill the message",
    "NS: long, passed",
    "NS: long, fenced",
    "NS: truncated",
    "NS: bad checksum",
    "NS: option of length 0",
    "NS: option overruns the message",
    "NS: source link-layer option not 8 bytes",
    "NS: DAD not to a solicited-node address",
    "NS: DAD with a source link-layer option",
    "NS: target not held",
    "NS: fenced",
    "NS: answered",
    "NS: answered to all-nodes (DAD)",
    "to a VIP held without accept",
    "ICMPv6: not NS or NA",
    "IPv6: other next header",
];

#[test]
fn xdp_program_agrees_with_the_rfc_model() -> Result<()> {
    let cfg = Config {
        frames: env_u64("VIP_XDP_DIFF_FRAMES")?.unwrap_or(DEFAULT_FRAMES),
        seed: env_u64("VIP_XDP_DIFF_SEED")?.unwrap_or(DEFAULT_SEED),
        batch: env_u64("VIP_XDP_DIFF_BATCH")?
            .map(|b| b.max(1) as usize)
            .unwrap_or(DEFAULT_BATCH),
    };
    println!(
        "VIP_XDP_DIFF_FRAMES={} VIP_XDP_DIFF_SEED={:#x} VIP_XDP_DIFF_BATCH={}",
        cfg.frames, cfg.seed, cfg.batch
    );
    let mut lab = Lab::new()?;
    let node = lab.add_node("dut", "eth0", &["10.0.0.1/24"])?;
    let dir = lab.bpffs_dir("dut");
    lab.node(node).ns.in_thread(move || {
        let eth0 = nix::net::if_::if_nametoindex("eth0").context("eth0 in the namespace")?;
        let mut dp = Dataplane::load(&dir).context("loading the XDP program")?;
        let result = differential(&mut dp, &cfg, [1, eth0]);
        dp.shutdown()?;
        result
    })
}
