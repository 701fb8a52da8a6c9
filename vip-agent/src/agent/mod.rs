//! The daemon: one event loop that owns every instance's state machine and
//! carries out what they decide against the kernel.
//!
//! The decisions are data: [`core::Core`] (with [`instance`], [`reload`],
//! [`health`] and [`announce`]) turns inputs into [`effect::Effect`]s without
//! any I/O, the way `vrrp::fsm` turns events into actions, and is unit-tested
//! on a virtual clock. [`executor`] carries the effects out; [`event_loop`]
//! feeds the core from sockets ([`sockets`]), netlink, scripts ([`scripts`]),
//! the control socket ([`control_server`]), scrapes ([`metrics`]), signals
//! and timers, and tells systemd how it is doing ([`service_notify`]). The
//! loop is
//! the only place state changes, so instances, sync groups, the fast path
//! and status answers never race each other.

mod announce;
mod control_server;
mod core;
mod effect;
mod event_loop;
mod executor;
mod fastpath;
mod health;
mod instance;
mod metrics;
mod notify;
pub mod ownership;
pub mod privileges;
mod reload;
mod routing;
mod run_as;
mod script_security;
mod scripts;
mod service_notify;
mod sockets;
mod spec;
mod system;
#[cfg(test)]
mod tests;
mod trackers;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::dataplane::XdpModeChoice;

pub use event_loop::run;
pub use fastpath::FastPath;
pub use service_notify::ServiceEnvironment;

/// Everything `vip-agent run` was told.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The file to (re)load; `None` when the instance came from flags.
    pub config_path: Option<PathBuf>,
    pub strict: bool,
    pub control_socket: PathBuf,
    pub bpffs_dir: PathBuf,
    pub xdp_mode: XdpModeChoice,
    pub force_xdp: bool,
    /// Valid lifetime of installed VIPs; the Master refreshes them.
    pub vip_lifetime: Duration,
    /// XDP stops answering ARP/NS when the heartbeat is older than this.
    pub fence_bound: Duration,
    /// Where to serve Prometheus metrics (`GET /metrics`); off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// What systemd set for a `Type=notify` service (nothing otherwise).
    pub service: ServiceEnvironment,
}
