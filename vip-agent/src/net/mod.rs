//! The daemon's I/O with the kernel: VRRP sockets, rtnetlink (addresses,
//! links, routes and rules), and gratuitous ARP / unsolicited NA.

pub mod announce;
pub mod netlink;
pub mod routes;
pub mod vmac;
pub mod vrrp_socket;
