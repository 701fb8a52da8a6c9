//! Frames built byte by byte, and a raw AF_PACKET sender.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Result};

/// Internet checksum (RFC 1071) over `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += u32::from(word);
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying a VRRPv2 advertisement in IPv4 to 224.0.0.18.
pub fn vrrp_v2_frame(
    src_mac: [u8; 6],
    src_ip: [u8; 4],
    vrid: u8,
    priority: u8,
    ttl: u8,
    vip: [u8; 4],
) -> Vec<u8> {
    let mut vrrp = vec![0x21, vrid, priority, 1, 0, 1, 0, 0];
    vrrp.extend_from_slice(&vip);
    vrrp.extend_from_slice(&[0; 8]); // auth data (type 0)
    let csum = internet_checksum(&vrrp);
    vrrp[6..8].copy_from_slice(&csum.to_be_bytes());

    let total_len = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xC0];
    ip.extend_from_slice(&total_len.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0]);
    ip.extend_from_slice(&src_ip);
    ip.extend_from_slice(&[224, 0, 0, 18]);
    let csum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());

    let mut frame = vec![0x01, 0x00, 0x5E, 0x00, 0x00, 0x12];
    frame.extend_from_slice(&src_mac);
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&vrrp);
    frame
}

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
