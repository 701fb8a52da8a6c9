//! Addresses, links, routes and rules through rtnetlink.
//!
//! VIPs are added with a finite lifetime that the Master refreshes: if the
//! agent dies without removing them, the kernel removes them by itself once
//! the lifetime runs out. The finite lifetime is also how a restarted agent
//! recognises VIPs a crashed run left behind (an operator's static address
//! has an infinite one).

use std::{net::IpAddr, time::Duration};

use futures::{StreamExt, TryStreamExt};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST},
    packet_route::{
        address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope, CacheInfo},
        link::{
            InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
            MacVlanMode,
        },
        RouteNetlinkMessage,
    },
    sys::AsyncSocket,
    Handle, LinkMacVlan, LinkUnspec, MulticastGroup,
};
use thiserror::Error;
use tokio::sync::mpsc;

use super::routes::{self, RemovedRoute, RemovedRule, RouteSpec};
use crate::config::{Rule, PROTOCOL_KEEPALIVED};

/// Kernel value of an infinite address lifetime.
const INFINITY_LIFE_TIME: u32 = u32::MAX;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("netlink: {0}")]
    Request(#[from] rtnetlink::Error),
    #[error("{0} exists and is not a macvlan: it is left alone")]
    NotMacvlan(String),
    #[error("{0} was created but the kernel does not list it")]
    Vanished(String),
}

/// What the agent needs to know of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    pub name: String,
    pub mac: [u8; 6],
    /// Administratively up and with carrier.
    pub up: bool,
    /// 0 when the kernel did not say.
    pub mtu: u32,
}

/// One address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub ifindex: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    /// Seconds left, `None` for a permanent address.
    pub valid_lft: Option<u32>,
    pub link_scope: bool,
    pub secondary: bool,
}

#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
    /// Port of the request socket: what the kernel's notifications of this
    /// agent's own changes carry.
    port: u32,
}

fn link_from_message(msg: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = [0u8; 6];
    let mut mtu = 0;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Address(a) if a.len() == 6 => mac.copy_from_slice(a),
            _ => {}
        }
    }
    let flags = msg.header.flags;
    Link {
        ifindex: msg.header.index,
        name,
        mac,
        up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp),
        mtu,
    }
}

/// What a macvlan's link message says of it.
struct Macvlan {
    base: Option<u32>,
    private: bool,
}

/// `None` when the link is not a macvlan.
fn macvlan_of(msg: &LinkMessage) -> Option<Macvlan> {
    let mut kind = false;
    let mut private = false;
    let mut base = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Link(index) => base = Some(*index),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::MacVlan) => kind = true,
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            private |= data.contains(&InfoMacVlan::Mode(MacVlanMode::Private))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    kind.then_some(Macvlan { base, private })
}

fn address_from_message(msg: &AddressMessage) -> Option<Address> {
    let mut address = None;
    let mut local = None;
    let mut label = None;
    let mut valid_lft = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::CacheInfo(info) => {
                valid_lft = (info.ifa_valid != INFINITY_LIFE_TIME).then_some(info.ifa_valid)
            }
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address on point-to-point links.
    let address = local.or(address)?;
    Some(Address {
        ifindex: msg.header.index,
        address,
        prefix_len: msg.header.prefix_len,
        label,
        valid_lft,
        link_scope: msg.header.scope == AddressScope::Link,
        secondary: flags.contains(AddressFlags::Secondary),
    })
}

impl Netlink {
    /// Opens a request socket; its connection runs on the current runtime.
    pub fn connect() -> Result<Self, NetlinkError> {
        let (mut connection, handle, _) = rtnetlink::new_connection()?;
        // Bound now (port chosen by the kernel) rather than on first send,
        // so the port is known before any change is requested.
        let socket = connection.socket_mut().socket_mut();
        socket.bind(&rtnetlink::sys::SocketAddr::new(0, 0))?;
        let mut address = rtnetlink::sys::SocketAddr::new(0, 0);
        socket.get_address(&mut address)?;
        tokio::spawn(connection);
        Ok(Self {
            handle,
            port: address.port_number(),
        })
    }

    pub fn port(&self) -> u32 {
        self.port
    }

    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>, NetlinkError> {
        Ok(self
            .link_message_by_name(name)
            .await?
            .map(|msg| link_from_message(&msg)))
    }

    /// Every link and every address in the namespace.
    pub async fn dump(&self) -> Result<(Vec<Link>, Vec<Address>), NetlinkError> {
        let links: Vec<LinkMessage> = self.handle.link().get().execute().try_collect().await?;
        let addresses: Vec<AddressMessage> =
            self.handle.address().get().execute().try_collect().await?;
        Ok((
            links.iter().map(link_from_message).collect(),
            addresses.iter().filter_map(address_from_message).collect(),
        ))
    }

    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<Address>, NetlinkError> {
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute()
            .try_collect()
            .await?;
        Ok(messages
            .iter()
            .filter_map(address_from_message)
            .filter(|a| a.ifindex == ifindex)
            .collect())
    }

    /// Adds `address/prefix_len` to the interface, or refreshes its lifetime
    /// if it is there already (replace semantics).
    pub async fn add_vip(
        &self,
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
        lifetime: Duration,
    ) -> Result<(), NetlinkError> {
        let seconds = lifetime
            .as_secs()
            .clamp(1, u64::from(INFINITY_LIFE_TIME - 1)) as u32;
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_preferred = seconds;
        lifetimes.ifa_valid = seconds;
        self.replace_address(ifindex, address, prefix_len, label, Some(lifetimes))
            .await
    }

    /// Removes `address/prefix_len` from the interface (a VIP or a static
    /// address); absent is fine.
    pub async fn del_vip(
        &self,
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        for existing in self.address_messages(ifindex).await? {
            let Some(found) = address_from_message(&existing) else {
                continue;
            };
            if found.address == address && found.prefix_len == prefix_len {
                match self.handle.address().del(existing).execute().await {
                    Ok(()) => {}
                    Err(rtnetlink::Error::NetlinkError(e))
                        if e.raw_code() == -libc::EADDRNOTAVAIL => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Adds a `static_ipaddress` as keepalived does: permanent, without
    /// duplicate address detection for IPv6, and an IPv6 /128 deprecated
    /// (preferred lifetime 0) so that it is not chosen as a source.
    pub async fn add_static_address(
        &self,
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<(), NetlinkError> {
        let lifetimes = (address.is_ipv6() && prefix_len == 128).then(|| {
            let mut lifetimes = CacheInfo::default();
            lifetimes.ifa_preferred = 0;
            lifetimes.ifa_valid = INFINITY_LIFE_TIME;
            lifetimes
        });
        self.replace_address(ifindex, address, prefix_len, label, lifetimes)
            .await
    }

    /// Adds or replaces an address with its label and lifetimes (none:
    /// permanent). IPv6 skips duplicate address detection: a VIP moves
    /// between hosts by design and would stay tentative for a second after
    /// takeover; keepalived adds static addresses the same way.
    async fn replace_address(
        &self,
        ifindex: u32,
        address: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
        lifetimes: Option<CacheInfo>,
    ) -> Result<(), NetlinkError> {
        let mut request = self
            .handle
            .address()
            .add(ifindex, address, prefix_len)
            .replace();
        let message = request.message_mut();
        if let Some(label) = label {
            message
                .attributes
                .push(AddressAttribute::Label(label.to_string()));
        }
        if let Some(lifetimes) = lifetimes {
            message
                .attributes
                .push(AddressAttribute::CacheInfo(lifetimes));
        }
        if address.is_ipv6() {
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        request.execute().await?;
        Ok(())
    }

    /// Sends one request and waits for its acknowledgement.
    async fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), rtnetlink::Error> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut responses = handle.request(request)?;
        while let Some(response) = responses.next().await {
            if let NetlinkPayload::Error(error) = response.payload {
                if error.code.is_some() {
                    return Err(rtnetlink::Error::NetlinkError(error));
                }
            }
        }
        Ok(())
    }

    /// Adds a route with keepalived's flags for its mode; one that is
    /// there already (the same in every respect) counts as added, as
    /// keepalived counts it.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::NewRoute(routes::route_message(spec, false));
        match self
            .request(message, routes::route_add_flags(spec.route.mode))
            .await
        {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
            other => Ok(other?),
        }
    }

    /// Removes the route; absent is fine.
    pub async fn del_route(&self, spec: &RouteSpec) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::DelRoute(routes::route_message(spec, true));
        match self.request(message, 0).await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            other => Ok(other?),
        }
    }

    /// Adds a rule (`NLM_F_EXCL`, as keepalived); the same rule there
    /// already counts as added.
    pub async fn add_rule(&self, rule: &Rule) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::NewRule(routes::rule_message(rule));
        match self
            .request(message, routes::NLM_F_CREATE | routes::NLM_F_EXCL)
            .await
        {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
            other => Ok(other?),
        }
    }

    /// Removes the rule; absent is fine.
    pub async fn del_rule(&self, rule: &Rule) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::DelRule(routes::rule_message(rule));
        match self.request(message, 0).await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENOENT => Ok(()),
            other => Ok(other?),
        }
    }

    /// A private-mode macvlan `name` on `base` with `mac`, as keepalived
    /// makes a VMAC: one there already with those settings is kept (a
    /// restarted agent takes its predecessor's over), a macvlan with other
    /// settings is replaced, and any other kind of interface under that
    /// name is an error, never touched. The link is left down.
    pub async fn ensure_macvlan(
        &self,
        name: &str,
        base: u32,
        mac: [u8; 6],
    ) -> Result<Link, NetlinkError> {
        if let Some(existing) = self.link_message_by_name(name).await? {
            let Some(found) = macvlan_of(&existing) else {
                return Err(NetlinkError::NotMacvlan(name.to_string()));
            };
            let link = link_from_message(&existing);
            if found.base == Some(base) && found.private && link.mac == mac {
                return Ok(link);
            }
            tracing::info!(
                interface = name,
                "replacing a macvlan of that name whose base, MAC or mode differ"
            );
            self.delete_link(link.ifindex).await?;
        }
        let message = LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        self.handle.link().add(message).execute().await?;
        self.link_by_name(name)
            .await?
            .ok_or_else(|| NetlinkError::Vanished(name.to_string()))
    }

    /// Sets the link administratively up.
    pub async fn set_link_up(&self, ifindex: u32) -> Result<(), NetlinkError> {
        let message = LinkUnspec::new_with_index(ifindex).up().build();
        self.handle.link().set(message).execute().await?;
        Ok(())
    }

    /// Deletes the link; one that is gone already is fine.
    pub async fn delete_link(&self, ifindex: u32) -> Result<(), NetlinkError> {
        match self.handle.link().del(ifindex).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(()),
            other => Ok(other?),
        }
    }

    async fn link_message_by_name(&self, name: &str) -> Result<Option<LinkMessage>, NetlinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(found) => Ok(found),
            // ENODEV: no such interface (yet).
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn address_messages(&self, ifindex: u32) -> Result<Vec<AddressMessage>, NetlinkError> {
        Ok(self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute()
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter(|m| m.header.index == ifindex)
            .collect())
    }
}

/// A link appeared, changed or disappeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    Changed(Link),
    Removed { ifindex: u32, name: String },
}

/// What the kernel reports of links, addresses, routes and rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    Link(LinkEvent),
    AddressAdded(Address),
    AddressRemoved {
        address: Address,
        by: Requester,
    },
    /// A route with keepalived's protocol was removed.
    RouteRemoved {
        route: RemovedRoute,
        by: Requester,
    },
    /// A rule that may be the agent's (keepalived's protocol, or none) was removed.
    RuleRemoved {
        rule: RemovedRule,
        by: Requester,
    },
}

/// Who asked for a change, as far as netlink tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The kernel itself (an expired lifetime, a link going away).
    Kernel,
    /// This agent's own request socket.
    Agent,
    /// Another socket: its port (usually its process id) and that
    /// process's name while it still runs.
    Other(String),
    /// Not known: the change was found by re-reading the addresses after
    /// its event was lost.
    Unknown,
}

impl Requester {
    /// From a notification's port number; `own_port` is the agent's.
    fn of(port: u32, own_port: u32) -> Self {
        match port {
            0 => Requester::Kernel,
            p if p == own_port => Requester::Agent,
            p => Requester::Other(match std::fs::read_to_string(format!("/proc/{p}/comm")) {
                Ok(comm) => format!("netlink port {p} (process {p}, {})", comm.trim()),
                Err(_) => format!("netlink port {p}"),
            }),
        }
    }
}

impl std::fmt::Display for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requester::Kernel => f.write_str("the kernel"),
            Requester::Agent => f.write_str("this agent"),
            Requester::Other(who) => f.write_str(who),
            Requester::Unknown => f.write_str("unknown (its event was lost)"),
        }
    }
}

/// What the event subscription delivers.
// Nearly every message is an event; boxing them would add an allocation per
// event to save space only in the rare `Lost`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Monitored {
    Event(NetEvent),
    /// Events were lost: the kernel found the subscription's receive buffer
    /// full (ENOBUFS) or the socket failed. A new subscription is in place
    /// and every event after this one arrives; what happened before it must
    /// be read again (a dump of links and addresses).
    Lost,
}

/// Why [`forward`] stopped.
enum Stopped {
    /// The receiver is gone: the agent is stopping.
    Receiver,
    /// The kernel dropped events (ENOBUFS).
    Overrun,
    /// The socket failed (its connection ended).
    Closed,
}

type Subscription = (
    tokio::task::JoinHandle<()>,
    futures::channel::mpsc::UnboundedReceiver<(
        NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
);

fn subscribe() -> Result<Subscription, NetlinkError> {
    let (connection, _handle, messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])?;
    Ok((tokio::spawn(connection), messages))
}

/// Subscribes to link and address changes (like `ip monitor link address`);
/// events arrive on the returned channel until it is dropped.
/// `own_port` is the agent's request socket ([`Netlink::port`]), so its own
/// changes are told apart from anyone else's.
///
/// When the kernel drops events because the subscription's buffer is full
/// (ENOBUFS on receive, which netlink-proto turns into an overrun message),
/// the subscription is replaced by a new one, so that the events still
/// queued from before the gap are not applied over a fresh dump, and
/// [`Monitored::Lost`] tells the agent to read links and addresses again.
pub fn monitor(own_port: u32) -> Result<mpsc::UnboundedReceiver<Monitored>, NetlinkError> {
    let mut subscription = subscribe()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let stopped = forward(&mut subscription.1, own_port, &tx).await;
            subscription.0.abort();
            match stopped {
                Stopped::Receiver => return,
                Stopped::Overrun => tracing::warn!(
                    "the kernel dropped link and address events (ENOBUFS: the event socket's \
                     buffer was full); subscribing again and re-reading links and addresses"
                ),
                Stopped::Closed => {
                    tracing::warn!(
                        "the link and address event socket failed; subscribing again and \
                         re-reading links and addresses"
                    );
                    // A socket that keeps failing at once must not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            subscription = loop {
                match subscribe() {
                    Ok(subscription) => break subscription,
                    Err(err) => {
                        tracing::error!(error = %err, "subscribing to link and address events; retrying in 1 s");
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            if tx.send(Monitored::Lost).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Passes the subscription's link and address events on until it ends.
async fn forward(
    messages: &mut futures::channel::mpsc::UnboundedReceiver<(
        NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
    own_port: u32,
    tx: &mpsc::UnboundedSender<Monitored>,
) -> Stopped {
    while let Some((message, _)) = messages.next().await {
        let NetlinkMessage {
            header, payload, ..
        } = message;
        let message = match payload {
            NetlinkPayload::InnerMessage(message) => message,
            NetlinkPayload::Overrun(_) => return Stopped::Overrun,
            _ => continue,
        };
        let event = match message {
            RouteNetlinkMessage::NewLink(link) => {
                NetEvent::Link(LinkEvent::Changed(link_from_message(&link)))
            }
            RouteNetlinkMessage::DelLink(link) => {
                let link = link_from_message(&link);
                NetEvent::Link(LinkEvent::Removed {
                    ifindex: link.ifindex,
                    name: link.name,
                })
            }
            RouteNetlinkMessage::NewAddress(address) => match address_from_message(&address) {
                Some(address) => NetEvent::AddressAdded(address),
                None => continue,
            },
            RouteNetlinkMessage::DelAddress(address) => match address_from_message(&address) {
                Some(address) => NetEvent::AddressRemoved {
                    address,
                    by: Requester::of(header.port_number, own_port),
                },
                None => continue,
            },
            _ => continue,
        };
        if tx.send(Monitored::Event(event)).is_err() {
            return Stopped::Receiver;
        }
    }
    if tx.is_closed() {
        Stopped::Receiver
    } else {
        Stopped::Closed
    }
}

/// Subscribes to route and rule changes of both families, on a socket of
/// their own (a burst of routing changes elsewhere cannot crowd out link
/// and address events), and passes on the removals that can concern the
/// agent: routes with keepalived's protocol, rules with it or none.
pub fn monitor_routes(own_port: u32) -> Result<mpsc::UnboundedReceiver<NetEvent>, NetlinkError> {
    let (connection, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Rule,
    ])?;
    tokio::spawn(connection);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((message, _)) = messages.next().await {
            let NetlinkMessage {
                header,
                payload: NetlinkPayload::InnerMessage(message),
                ..
            } = message
            else {
                continue;
            };
            let by = || Requester::of(header.port_number, own_port);
            let event = match message {
                RouteNetlinkMessage::DelRoute(route)
                    if u8::from(route.header.protocol) == PROTOCOL_KEEPALIVED =>
                {
                    match RemovedRoute::from_message(&route) {
                        Some(route) => NetEvent::RouteRemoved { route, by: by() },
                        None => continue,
                    }
                }
                RouteNetlinkMessage::DelRule(rule) => match RemovedRule::from_message(&rule) {
                    Some(rule) if rule.protocol.is_none_or(|p| p == PROTOCOL_KEEPALIVED) => {
                        NetEvent::RuleRemoved { rule, by: by() }
                    }
                    _ => continue,
                },
                _ => continue,
            };
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
