//! Raw IP sockets for VRRP (IPv4 protocol / IPv6 next header 112).
//!
//! One socket per instance, bound to its interface (SO_BINDTODEVICE) so two
//! interfaces never mix. Multicast instances join the group on that
//! interface; unicast instances send to each peer. Adverts leave with TTL /
//! hop limit 255 (the socket's default), because RFC 5798 section 7.1 makes
//! the receiver discard anything else, unless the sender asks for another
//! (keepalived's `unicast_ttl`, set per message); the receive path hands the
//! TTL up.

use std::{
    io::{self, IoSlice, IoSliceMut},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use tokio::io::unix::AsyncFd;

use vip_common::IPPROTO_VRRP;

/// IPv4 type of service keepalived uses for adverts: network control.
const IPTOS_PREC_INTERNETCONTROL: libc::c_int = 0xC0;
/// Large enough for any VRRP packet with its IPv4 header.
const RECV_BUFFER: usize = 4096;

/// An advert as it arrived, before decoding.
#[derive(Clone, Debug)]
pub struct ReceivedPacket {
    pub source: IpAddr,
    pub destination: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) of the carrying IP header.
    pub ttl: u8,
    /// The VRRP message: the bytes after the IP header.
    pub payload: Vec<u8>,
}

pub struct VrrpSocket {
    fd: AsyncFd<OwnedFd>,
    ifindex: u32,
    ipv6: bool,
}

fn last_os_error(what: &str) -> io::Error {
    let err = io::Error::last_os_error();
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// `setsockopt` for the options nix does not model (ip_mreqn with an
/// interface index, IPv6 membership on an interface).
fn setsockopt_raw<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    what: &str,
) -> io::Result<()> {
    // SAFETY: value points at a live T of the given size for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_os_error(what))
    }
}

impl VrrpSocket {
    /// Opens the socket for an instance on `interface`. `group` is the
    /// multicast group to join (None for a unicast instance).
    pub fn open(
        interface: &str,
        ifindex: u32,
        ipv6: bool,
        group: Option<IpAddr>,
    ) -> io::Result<Self> {
        let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain socket call; the fd is owned right after.
        let raw = unsafe {
            libc::socket(
                domain,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(IPPROTO_VRRP),
            )
        };
        if raw < 0 {
            return Err(last_os_error("socket(SOCK_RAW, 112)"));
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(
            &fd,
            sockopt::BindToDevice,
            &std::ffi::OsString::from(interface),
        )
        .map_err(|e| io::Error::other(format!("SO_BINDTODEVICE {interface}: {e}")))?;
        let ttl: libc::c_int = 255;
        let off: libc::c_int = 0;
        let on: libc::c_int = 1;
        if ipv6 {
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                &ttl,
                "IPV6_MULTICAST_HOPS",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_UNICAST_HOPS,
                &ttl,
                "IPV6_UNICAST_HOPS",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_LOOP,
                &off,
                "IPV6_MULTICAST_LOOP",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_IF,
                &(ifindex as libc::c_int),
                "IPV6_MULTICAST_IF",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVHOPLIMIT,
                &on,
                "IPV6_RECVHOPLIMIT",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVPKTINFO,
                &on,
                "IPV6_RECVPKTINFO",
            )?;
            if let Some(IpAddr::V6(group)) = group {
                let mreq = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: group.octets(),
                    },
                    ipv6mr_interface: ifindex,
                };
                setsockopt_raw(
                    &fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_ADD_MEMBERSHIP,
                    &mreq,
                    "IPV6_ADD_MEMBERSHIP",
                )?;
            }
        } else {
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_TTL,
                &ttl,
                "IP_MULTICAST_TTL",
            )?;
            setsockopt_raw(&fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl, "IP_TTL")?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_LOOP,
                &off,
                "IP_MULTICAST_LOOP",
            )?;
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_TOS,
                &IPTOS_PREC_INTERNETCONTROL,
                "IP_TOS",
            )?;
            let ifreq = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr { s_addr: 0 },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex as libc::c_int,
            };
            setsockopt_raw(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_IF,
                &ifreq,
                "IP_MULTICAST_IF",
            )?;
            if let Some(IpAddr::V4(group)) = group {
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(group.octets()),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as libc::c_int,
                };
                setsockopt_raw(
                    &fd,
                    libc::IPPROTO_IP,
                    libc::IP_ADD_MEMBERSHIP,
                    &mreq,
                    "IP_ADD_MEMBERSHIP",
                )?;
            }
        }
        // SAFETY: fd is an open socket owned by the AsyncFd from here on; an
        // OwnedFd always reports the same descriptor.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self { fd, ifindex, ipv6 })
    }

    /// Sends one VRRP message from `source` to `destination` with TTL (hop
    /// limit) `ttl`.
    pub async fn send(
        &self,
        payload: &[u8],
        source: IpAddr,
        destination: IpAddr,
        ttl: u8,
    ) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| self.send_now(fd.get_ref(), payload, source, destination, ttl))
            {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    fn send_now(
        &self,
        fd: &OwnedFd,
        payload: &[u8],
        source: IpAddr,
        destination: IpAddr,
        ttl: u8,
    ) -> io::Result<()> {
        let iov = [IoSlice::new(payload)];
        let ttl = libc::c_int::from(ttl);
        let result = match (source, destination) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.ifindex as libc::c_int,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(src.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
                sendmsg(
                    fd.as_raw_fd(),
                    &iov,
                    &[
                        ControlMessage::Ipv4PacketInfo(&info),
                        ControlMessage::Ipv4Ttl(&ttl),
                    ],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let scope = if is_link_local_scope(&dst) {
                    self.ifindex
                } else {
                    0
                };
                let to = SockaddrIn6::from(std::net::SocketAddrV6::new(dst, 0, 0, scope));
                sendmsg(
                    fd.as_raw_fd(),
                    &iov,
                    &[
                        ControlMessage::Ipv6PacketInfo(&info),
                        ControlMessage::Ipv6HopLimit(&ttl),
                    ],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "source and destination families differ",
                ))
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }

    /// Waits for the next packet on the socket.
    pub async fn recv(&self) -> io::Result<ReceivedPacket> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| self.recv_now(fd.get_ref())) {
                Ok(Ok(Some(packet))) => return Ok(packet),
                // Not a parseable IP packet: nothing for the election.
                Ok(Ok(None)) => continue,
                Ok(Err(err)) => return Err(err),
                Err(_would_block) => continue,
            }
        }
    }

    fn recv_now(&self, fd: &OwnedFd) -> io::Result<Option<ReceivedPacket>> {
        let mut buffer = [0u8; RECV_BUFFER];
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let msg = recvmsg::<SockaddrStorage>(
            fd.as_fd().as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let len = msg.bytes;
        if self.ipv6 {
            let mut ttl = None;
            let mut destination = None;
            for c in msg.cmsgs().map_err(io::Error::from)? {
                match c {
                    ControlMessageOwned::Ipv6HopLimit(hops) => ttl = Some(hops as u8),
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)))
                    }
                    _ => {}
                }
            }
            let source = msg
                .address
                .as_ref()
                .and_then(|a| a.as_sockaddr_in6())
                .map(|a| IpAddr::V6(a.ip()));
            let (Some(source), Some(destination), Some(ttl)) = (source, destination, ttl) else {
                return Ok(None);
            };
            Ok(Some(ReceivedPacket {
                source,
                destination,
                ttl,
                payload: buffer[..len].to_vec(),
            }))
        } else {
            // IPv4 raw sockets deliver the IP header too.
            Ok(parse_ipv4(&buffer[..len]))
        }
    }
}

fn is_link_local_scope(address: &Ipv6Addr) -> bool {
    let first = address.segments()[0];
    (first & 0xFFC0) == 0xFE80 || (first & 0xFF0F) == 0xFF02
}

/// Splits an IPv4 packet into the fields VRRP needs, or None if it is not a
/// well-formed IPv4 header.
pub fn parse_ipv4(packet: &[u8]) -> Option<ReceivedPacket> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0F) * 4;
    if header_len < 20 || packet.len() < header_len {
        return None;
    }
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let end = total_len.clamp(header_len, packet.len());
    Some(ReceivedPacket {
        source: IpAddr::V4(Ipv4Addr::new(
            packet[12], packet[13], packet[14], packet[15],
        )),
        destination: IpAddr::V4(Ipv4Addr::new(
            packet[16], packet[17], packet[18], packet[19],
        )),
        ttl: packet[8],
        payload: packet[header_len..end].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ipv4_splits_header_and_payload() {
        let mut packet = vec![
            0x46, 0xC0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        packet.extend_from_slice(&[1, 4, 0, 0]); // 4 bytes of IPv4 options
        packet.extend_from_slice(&[0x21, 51, 100, 1, 0, 1, 0, 0]);
        let parsed = parse_ipv4(&packet).expect("valid");
        assert_eq!(parsed.source, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parsed.destination, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
        assert_eq!(parsed.ttl, 255);
        assert_eq!(parsed.payload, vec![0x21, 51, 100, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn parse_ipv4_rejects_garbage() {
        assert!(parse_ipv4(&[]).is_none());
        assert!(parse_ipv4(&[0x45, 0, 0]).is_none());
        assert!(parse_ipv4(&[0x65; 40]).is_none());
        assert!(parse_ipv4(&[0x44; 40]).is_none());
    }
}
