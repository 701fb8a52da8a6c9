//! Frames built byte by byte and parsed back, and a raw AF_PACKET sender.
//!
//! The agent's own integration tests (vip-agent/tests) include this file
//! too, so each frame kind has one builder across the workspace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Result};
pub use vip_agent::vrrp::packet::{internet_checksum, pseudo_header};

/// A raw packet socket bound to one interface of the calling thread's
/// network namespace.
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    pub fn bind(interface: &str) -> Result<Self> {
        let ifindex = nix::net::if_::if_nametoindex(interface)?;
        // SAFETY: plain socket call; the fd is owned below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                (libc::ETH_P_ALL as u16).to_be() as i32,
            )
        };
        if raw < 0 {
            bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: all-zero sockaddr_ll is valid; fields set below.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: addr is a valid sockaddr_ll of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            bail!(
                "bind(AF_PACKET, {interface}): {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(Self { fd })
    }

    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: frame is a valid buffer of frame.len() bytes.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n != frame.len() as isize {
            bail!("send: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------
// Builders for the XDP tests: every header byte by byte.

/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xFF; 6];

/// Ethernet header, with one 802.1Q tag when `vlan` is set.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ether_type: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(18);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(id) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&(id & 0x0FFF).to_be_bytes());
    }
    f.extend_from_slice(&ether_type.to_be_bytes());
    f
}

/// IPv4 header (with `options`, a multiple of 4 bytes) followed by `payload`.
pub fn ipv4_packet(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hlen = 20 + options.len();
    let total = (hlen + payload.len()) as u16;
    let mut ip = vec![0x40 | (hlen / 4) as u8, 0xC0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, ttl, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(options);
    let c = internet_checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c);
    ip.extend_from_slice(payload);
    ip
}

/// IPv6 header, extension headers `(type, body)` (each body padded so the
/// header is a multiple of 8 bytes), then `payload` with next header `next`.
pub fn ipv6_packet(
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
    hop_limit: u8,
    ext: &[(u8, Vec<u8>)],
    payload: &[u8],
) -> Vec<u8> {
    let mut chain = Vec::new();
    for (i, (_, body)) in ext.iter().enumerate() {
        let following = ext.get(i + 1).map(|(t, _)| *t).unwrap_or(next);
        let mut h = vec![following, 0];
        h.extend_from_slice(body);
        while h.len() % 8 != 0 {
            h.push(0);
        }
        h[1] = (h.len() / 8 - 1) as u8;
        chain.extend_from_slice(&h);
    }
    let first = ext.first().map(|(t, _)| *t).unwrap_or(next);
    let plen = (chain.len() + payload.len()) as u16;
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&plen.to_be_bytes());
    ip.extend_from_slice(&[first, hop_limit]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&chain);
    ip.extend_from_slice(payload);
    ip
}

/// VRRPv2 advert (RFC 3768) with its checksum.
pub fn vrrp_v2(vrid: u8, priority: u8, vips: &[[u8; 4]], auth_type: u8, auth: [u8; 8]) -> Vec<u8> {
    let mut v = vec![0x21, vrid, priority, vips.len() as u8, auth_type, 1, 0, 0];
    for vip in vips {
        v.extend_from_slice(vip);
    }
    v.extend_from_slice(&auth);
    let c = internet_checksum(&[&v]);
    v[6..8].copy_from_slice(&c);
    v
}

/// VRRPv3 advert (RFC 5798) over the given addresses (4 or 16 bytes each);
/// the checksum covers `pseudo` (the pseudo-header) when given.
pub fn vrrp_v3(vrid: u8, priority: u8, addrs: &[Vec<u8>], pseudo: Option<&[u8]>) -> Vec<u8> {
    let mut v = vec![0x31, vrid, priority, addrs.len() as u8, 0, 100, 0, 0];
    for a in addrs {
        v.extend_from_slice(a);
    }
    let c = internet_checksum(&[pseudo.unwrap_or_default(), &v]);
    v[6..8].copy_from_slice(&c);
    v
}

/// An Ethernet/IPv4 ARP request.
pub fn arp_request(src_mac: [u8; 6], vlan: Option<u16>, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = ethernet(BROADCAST, src_mac, vlan, 0x0806);
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa);
    f
}

/// Solicited-node multicast address of `target`.
pub fn solicited_node(target: [u8; 16]) -> [u8; 16] {
    let mut a = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    a[13..].copy_from_slice(&target[13..]);
    a
}

/// The virtual router MAC address (RFC 5798 section 7.3):
/// 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The Ethernet multicast address of an IP multicast group
/// (RFC 1112 section 6.4, RFC 2464 section 7).
pub fn multicast_mac(group: IpAddr) -> [u8; 6] {
    match group {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
    }
}

/// An Ethernet/IPv6 Neighbour Solicitation for `target` from `src` (`::`
/// for DAD), to the solicited-node address, with a source link-layer
/// address option when `sllao`.
pub fn neighbour_solicitation(
    src_mac: [u8; 6],
    vlan: Option<u16>,
    src: [u8; 16],
    target: [u8; 16],
    sllao: bool,
) -> Vec<u8> {
    let dst = solicited_node(target);
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target);
    if sllao {
        icmp.extend_from_slice(&[1, 1]);
        icmp.extend_from_slice(&src_mac);
    }
    let pseudo = pseudo_header(src.into(), dst.into(), 58, icmp.len());
    let c = internet_checksum(&[&pseudo, &icmp]);
    icmp[2..4].copy_from_slice(&c);
    let mut f = ethernet(multicast_mac(dst.into()), src_mac, vlan, 0x86DD);
    f.extend_from_slice(&ipv6_packet(src, dst, 58, 255, &[], &icmp));
    f
}

/// Writes `frames` as a classic pcap file (Ethernet link type).
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// `tshark -V -r` of `frames`: tshark's own full decode, as text.
pub fn tshark_decode(frames: &[Vec<u8>]) -> Result<String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "vipa-{}-{}.pcap",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    write_pcap(&path, frames)?;
    let out = std::process::Command::new("tshark")
        .args(["-o", "ip.check_checksum:TRUE", "-V", "-r"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out?;
    if !out.status.success() {
        bail!("tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl PacketSocket {
    /// Waits up to `timeout` for a frame `accept` likes; returns it.
    pub fn recv_matching(
        &self,
        timeout: std::time::Duration,
        mut accept: impl FnMut(&[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
            if rc <= 0 {
                continue;
            }
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 && accept(&buf[..n as usize]) {
                return Ok(Some(buf[..n as usize].to_vec()));
            }
        }
    }
}

/// The 8 bytes of a VRRPv2 simple-text password (RFC 3768 section 5.3.10),
/// zero-padded.
pub fn auth_pass(pass: &str) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(pass.bytes()) {
        *slot = byte;
    }
    bytes
}

/// A VRRPv2 advertisement frame (RFC 3768) with every field a test may
/// want to forge: TTL, source, destination (multicast or unicast),
/// priority, authentication, and a deliberately wrong checksum.
#[derive(Clone, Debug)]
pub struct V2Advert {
    pub src_mac: [u8; 6],
    /// `None`: the VRRP group's multicast MAC 01:00:5e:00:00:12.
    pub dst_mac: Option<[u8; 6]>,
    pub src_ip: [u8; 4],
    /// 224.0.0.18 unless sent unicast.
    pub dst_ip: [u8; 4],
    pub ttl: u8,
    pub vrid: u8,
    pub priority: u8,
    pub vips: Vec<[u8; 4]>,
    /// 0 none, 1 simple text.
    pub auth_type: u8,
    pub auth: [u8; 8],
    /// Flips bits of the VRRP checksum after computing it.
    pub corrupt_checksum: bool,
}

impl V2Advert {
    /// A well-formed multicast advert (TTL 255, no authentication, advert
    /// interval 1 s).
    pub fn multicast(
        src_mac: [u8; 6],
        src_ip: [u8; 4],
        vrid: u8,
        priority: u8,
        vips: &[[u8; 4]],
    ) -> Self {
        Self {
            src_mac,
            dst_mac: None,
            src_ip,
            dst_ip: [224, 0, 0, 18],
            ttl: 255,
            vrid,
            priority,
            vips: vips.to_vec(),
            auth_type: 0,
            auth: [0; 8],
            corrupt_checksum: false,
        }
    }

    /// Simple-text authentication with `pass`.
    pub fn with_pass(mut self, pass: &str) -> Self {
        self.auth_type = 1;
        self.auth = auth_pass(pass);
        self
    }

    /// Sent to one address (unicast peers) instead of the group.
    pub fn unicast_to(mut self, dst_mac: [u8; 6], dst_ip: [u8; 4]) -> Self {
        self.dst_mac = Some(dst_mac);
        self.dst_ip = dst_ip;
        self
    }

    pub fn frame(&self) -> Vec<u8> {
        let mut vrrp = vrrp_v2(
            self.vrid,
            self.priority,
            &self.vips,
            self.auth_type,
            self.auth,
        );
        if self.corrupt_checksum {
            vrrp[6] ^= 0x5A;
            vrrp[7] ^= 0xA5;
        }
        let dst_mac = self.dst_mac.unwrap_or([0x01, 0x00, 0x5E, 0x00, 0x00, 0x12]);
        let mut frame = ethernet(dst_mac, self.src_mac, None, 0x0800);
        frame.extend_from_slice(&ipv4_packet(
            self.src_ip,
            self.dst_ip,
            112,
            self.ttl,
            &[],
            &vrrp,
        ));
        frame
    }
}

// ------------------------------------------------------------------------
// Reading frames back.

/// Whether `frame` is a gratuitous ARP for `vip`: sender and target address
/// both the VIP.
pub fn is_gratuitous_arp_for(frame: &[u8], vip: [u8; 4]) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x06]
        && frame[28..32] == vip
        && frame[38..42] == vip
}

/// A VRRP message with the IP fields the receive path needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// The IP payload (the VRRP message), without link padding.
    pub payload: &'a [u8],
}

/// Parses an IPv4 or IPv6 packet carrying VRRP (IPv4 options are skipped;
/// IPv6 extension headers are not, VRRP must be the first next header).
/// The error says why the bytes are not one.
pub fn parse_ip_packet(bytes: &[u8]) -> Result<IpPacket<'_>, &'static str> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => {
            if bytes.len() < 20 {
                return Err("truncated IPv4 header");
            }
            let ihl = usize::from(bytes[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
            if ihl < 20 || total < ihl || total > bytes.len() {
                return Err("bad IPv4 lengths");
            }
            if bytes[9] != 112 {
                return Err("IPv4 protocol is not 112");
            }
            let src = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
            let dst = Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
            Ok(IpPacket {
                src: src.into(),
                dst: dst.into(),
                ttl: bytes[8],
                payload: &bytes[ihl..total],
            })
        }
        Some(6) => {
            if bytes.len() < 40 {
                return Err("truncated IPv6 header");
            }
            let len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
            if 40 + len > bytes.len() {
                return Err("bad IPv6 payload length");
            }
            if bytes[6] != 112 {
                return Err("IPv6 next header is not 112");
            }
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&bytes[8..24]);
            dst.copy_from_slice(&bytes[24..40]);
            Ok(IpPacket {
                src: Ipv6Addr::from(src).into(),
                dst: Ipv6Addr::from(dst).into(),
                ttl: bytes[7],
                payload: &bytes[40..40 + len],
            })
        }
        _ => Err("not IPv4 or IPv6"),
    }
}

/// Parses an Ethernet II frame (optionally one 802.1Q tag) carrying VRRP.
pub fn parse_ethernet_frame(frame: &[u8]) -> Result<IpPacket<'_>, &'static str> {
    if frame.len() < 14 {
        return Err("truncated Ethernet header");
    }
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    if ethertype == 0x8100 {
        if frame.len() < 18 {
            return Err("truncated VLAN tag");
        }
        offset = 16;
        ethertype = u16::from_be_bytes([frame[16], frame[17]]);
    }
    match ethertype {
        0x0800 | 0x86dd => parse_ip_packet(&frame[offset + 2..]),
        _ => Err("ethertype is not IPv4 or IPv6"),
    }
}
