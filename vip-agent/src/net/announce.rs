//! Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisement (IPv6): how
//! a new Master tells the segment that the VIP now lives at its MAC, sent
//! through a packet socket on the instance's interface.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use crate::vrrp::packet::{internet_checksum, pseudo_header};

pub const BROADCAST_MAC: [u8; 6] = [0xFF; 6];
/// Ethernet address of the all-nodes group ff02::1.
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86DD;
const IPPROTO_ICMPV6: u8 = 58;

/// Gratuitous ARP announcing `vip` at `mac`: a broadcast ARP request whose
/// sender and target protocol addresses are both the VIP (RFC 5227
/// "announcement"), the form every host and switch updates its cache from.
pub fn gratuitous_arp(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&BROADCAST_MAC);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    frame.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&vip.octets());
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&vip.octets());
    frame
}

/// Unsolicited Neighbour Advertisement (RFC 4861 section 7.2.6) for `vip`
/// at `mac`, from `source` (the interface's link-local address) to all
/// nodes: Override set, Solicited clear, with the target link-layer option.
pub fn unsolicited_na(mac: [u8; 6], source: Ipv6Addr, vip: Ipv6Addr) -> Vec<u8> {
    let destination: Ipv6Addr = "ff02::1".parse().expect("literal");
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0]); // type NA, code, checksum
    icmp.extend_from_slice(&[0x20, 0, 0, 0]); // flags: Override
    icmp.extend_from_slice(&vip.octets());
    icmp.extend_from_slice(&[2, 1]); // option: target link-layer address, 8 bytes
    icmp.extend_from_slice(&mac);

    let pseudo = pseudo_header(
        source.into(),
        destination.into(),
        IPPROTO_ICMPV6,
        icmp.len(),
    );
    let checksum = internet_checksum(&[&pseudo, &icmp]);
    icmp[2..4].copy_from_slice(&checksum);

    let mut frame = Vec::with_capacity(14 + 40 + icmp.len());
    frame.extend_from_slice(&ALL_NODES_MAC);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[58, 255]); // next header ICMPv6, hop limit 255
    frame.extend_from_slice(&source.octets());
    frame.extend_from_slice(&destination.octets());
    frame.extend_from_slice(&icmp);
    frame
}

/// A packet socket that sends whole Ethernet frames out of one interface.
pub struct FrameSender {
    fd: OwnedFd,
    ifindex: u32,
}

impl FrameSender {
    pub fn open(ifindex: u32) -> io::Result<Self> {
        // Protocol 0: send only, so the socket never queues received frames.
        // SAFETY: plain socket call; the fd is owned right after.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Self { fd, ifindex })
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: all-zero sockaddr_ll is valid; the fields used are set.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and addr are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gratuitous_arp_announces_the_vip() {
        let mac = [2, 0, 0, 0, 0, 1];
        let frame = gratuitous_arp(mac, Ipv4Addr::new(10, 0, 0, 70));
        assert_eq!(frame.len(), 42);
        assert_eq!(&frame[0..6], &BROADCAST_MAC);
        assert_eq!(&frame[6..12], &mac);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        assert_eq!(&frame[20..22], &[0, 1], "request");
        assert_eq!(&frame[22..28], &mac, "sender hardware address");
        assert_eq!(&frame[28..32], &[10, 0, 0, 70], "sender protocol address");
        assert_eq!(&frame[38..42], &[10, 0, 0, 70], "target protocol address");
    }

    #[test]
    fn unsolicited_na_checksum_verifies() {
        let mac = [2, 0, 0, 0, 0, 1];
        let source: Ipv6Addr = "fe80::1".parse().unwrap();
        let vip: Ipv6Addr = "2001:db8::70".parse().unwrap();
        let frame = unsolicited_na(mac, source, vip);
        let icmp = &frame[54..];
        assert_eq!(icmp.len(), 32);
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0x20, "override only");
        // Summing a correct message including its checksum gives 0xFFFF.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&source.octets());
        pseudo.extend_from_slice(&"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        pseudo.extend_from_slice(&32u32.to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(internet_checksum(&[&pseudo, icmp]), [0, 0]);
    }
}
