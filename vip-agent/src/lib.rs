//! vip-agent: a VRRP (RFC 3768 / RFC 5798) virtual-IP agent with an XDP fast
//! path. The protocol core (`vrrp`) and the configuration (`config`) are pure
//! code; `dataplane` loads the XDP program; `agent` wires them to the kernel.

pub mod agent;
pub mod cli;
pub mod control;
pub mod dataplane;
pub mod net;
pub mod vrrp;

/// The keepalived.conf reader lives in its own crate (xtask and the test
/// scaffold read the scenarios through it without building the agent).
pub use vip_config as config;
