//! The daemon's I/O with the kernel: VRRP sockets, rtnetlink (addresses,
//! links), and gratuitous ARP / unsolicited NA.

pub mod announce;
pub mod netlink;
pub mod vrrp_socket;
