//! vip-agent: a VRRP (RFC 3768 / RFC 5798) virtual-IP agent with an XDP fast
//! path. The protocol core (`vrrp`) and the configuration (`config`) are pure
//! code; `dataplane` loads the XDP program; `agent` wires them to the kernel.

pub mod agent;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod net;
pub mod vrrp;
