//! The agent's decisions as data. The core ([`super::core::Core`]) returns
//! effects in the order they must happen; the executor
//! ([`super::executor::Executor`]) carries them out against netlink, the
//! VRRP and packet sockets, the XDP maps and child processes, and reports
//! the few outcomes the core must know back as [`Feedback`].

use std::{net::IpAddr, time::Duration};

use crate::{
    config::{NotifyScripts, Rule, ScriptUser, TrackFile, TrackProcess, VrrpScript},
    dataplane::VrrpPolicy,
    net::{netlink::Link, routes::RouteSpec, vmac::VmacSpec},
};

use super::notify::{FifoSettings, NotifyKind, NotifyState};

/// A VRRP socket is shared by every instance on one interface and family.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub interface: String,
    pub ipv6: bool,
}

/// How a socket is opened: on which interface index, joined to which
/// multicast group (none when only unicast instances use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketSpec {
    pub ifindex: u32,
    pub group: Option<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Attach the XDP program to the interface (no-op when attached or off).
    AttachXdp {
        interface: String,
    },
    /// The interface is gone and its attachment with it.
    ForgetXdp {
        interface: String,
    },
    /// The interface with this index is gone: what the executor holds for
    /// it (its packet socket for ARP/NA) is closed. A re-created interface
    /// has a new index.
    LinkGone {
        ifindex: u32,
    },
    /// No instance uses the interface any more: detach and unpin.
    DetachXdp {
        interface: String,
    },
    SetPolicy {
        ifindex: u32,
        vrid: u8,
        ipv6: bool,
        policy: VrrpPolicy,
    },
    RemovePolicy {
        ifindex: u32,
        vrid: u8,
        ipv6: bool,
    },
    /// Create (or take over) and configure an instance's VMAC; answered by
    /// [`Feedback::VmacReady`] or [`Feedback::VmacFailed`].
    EnsureVmac(Box<VmacSpec>),
    /// The instance stopped: its VMAC goes.
    RemoveVmac {
        name: String,
    },
    /// Open (or re-open with a new spec) the socket; answered by
    /// [`Feedback::SocketOpened`] or [`Feedback::SocketFailed`].
    OpenSocket {
        key: SocketKey,
        spec: SocketSpec,
    },
    CloseSocket {
        key: SocketKey,
    },
    /// One encoded advertisement to one destination.
    SendAdvert {
        key: SocketKey,
        source: IpAddr,
        destination: IpAddr,
        /// IPv4 TTL / IPv6 hop limit (255 unless `unicast_ttl`).
        ttl: u8,
        payload: Vec<u8>,
    },
    /// Make the fast path answer ARP/NS for the VIP; without `accept` it
    /// also drops the other packets addressed to it (RFC 5798 section 6.1).
    SetOwned {
        ifindex: u32,
        vip: IpAddr,
        mac: [u8; 6],
        vrid: u8,
        accept: bool,
    },
    ClearOwned {
        ifindex: u32,
        vip: IpAddr,
    },
    /// Add the VIP, or renew its lifetime when it is there (replace).
    AddVip {
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
        label: Option<String>,
        lifetime: Duration,
    },
    DelVip {
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
    },
    /// A virtual route (after the VIPs, on becoming Master) or a static
    /// one; one that is there already counts as added.
    AddRoute(Box<RouteSpec>),
    /// Absent is fine.
    DelRoute(Box<RouteSpec>),
    /// A virtual rule (after the virtual routes) or a static one.
    AddRule(Box<Rule>),
    DelRule(Box<Rule>),
    /// A `static_ipaddress`: permanent, kept while the agent runs.
    AddStaticAddress {
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
        label: Option<String>,
    },
    DelStaticAddress {
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
    },
    /// Gratuitous ARP / unsolicited NA frames, sent on the interface's
    /// packet socket. One effect never carries more than
    /// [`super::announce::FRAMES_PER_SLICE`] frames.
    SendFrames {
        ifindex: u32,
        frames: Vec<Vec<u8>>,
    },
    /// A state change of an instance or sync group: its line to the notify
    /// FIFOs, then its scripts (as `default_user` unless they name a user).
    Notify {
        scripts: Box<NotifyScripts>,
        default_user: Option<ScriptUser>,
        kind: NotifyKind,
        name: String,
        state: NotifyState,
        priority: u8,
    },
    /// Use these notify FIFOs (and their scripts) from now on.
    NotifyFifos(Box<FifoSettings>),
    /// End the FIFOs' reader scripts: the agent is stopping.
    EndFifoScripts,
    /// Close the notify FIFOs: the agent stops.
    CloseFifos,
    /// Replace every running `vrrp_script` runner by these, each starting
    /// from the verdict given.
    RunScripts {
        scripts: Vec<(VrrpScript, bool)>,
        default_user: Option<ScriptUser>,
    },
    /// Replace the file and process tracker runners by ones for these
    /// (`reload`: not the first start, so `init_file ... overwrite` leaves
    /// an existing file alone).
    RunTrackers {
        files: Vec<TrackFile>,
        processes: Vec<TrackProcess>,
        reload: bool,
    },
    /// Write the liveness heartbeat into the fast path.
    Heartbeat,
}

impl Effect {
    /// Carried out against the XDP program and its maps.
    pub fn needs_fast_path(&self) -> bool {
        matches!(
            self,
            Effect::AttachXdp { .. }
                | Effect::ForgetXdp { .. }
                | Effect::DetachXdp { .. }
                | Effect::SetPolicy { .. }
                | Effect::RemovePolicy { .. }
                | Effect::SetOwned { .. }
                | Effect::ClearOwned { .. }
                | Effect::Heartbeat
        )
    }
}

/// What the executor reports back, fed to [`super::core::Core::feedback`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    SocketOpened {
        key: SocketKey,
        spec: SocketSpec,
    },
    SocketFailed {
        key: SocketKey,
        error: String,
    },
    XdpFailed {
        interface: String,
        error: String,
    },
    /// The VMAC is up and configured, as the link shows it.
    VmacReady {
        link: Link,
    },
    VmacFailed {
        name: String,
        error: String,
    },
    /// The kernel refused a route (a gateway not reachable yet, an
    /// interface down): a static one is tried again on the next link event.
    RouteFailed {
        route: Box<RouteSpec>,
    },
    /// The same for a static address.
    StaticAddressFailed {
        ifindex: u32,
        address: IpAddr,
    },
}
