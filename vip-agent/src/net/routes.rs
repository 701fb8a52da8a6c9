//! Routes and policy rules as rtnetlink messages, built the way keepalived
//! 2.2.7 builds them (vrrp_iproute.c `netlink_route`, vrrp_iprule.c
//! `netlink_rule`), and what the kernel's notifications of removed routes
//! and rules say, to tell whether one of them is the agent's (keepalived's
//! `route_is_ours`, `compare_rule`). Pure data and functions: the netlink
//! socket is in [`super::netlink`].

use std::net::IpAddr;

use rtnetlink::packet_route::{
    route::{
        RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric,
        RouteMplsTtlPropagation, RouteNextHop, RouteNextHopFlags, RoutePreference, RouteProtocol,
        RouteRealm, RouteScope, RouteType,
    },
    rule::{
        RuleAction as KernelRuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange,
        RuleUidRange,
    },
    AddressFamily as KernelFamily,
};

use crate::config::{AddressFamily, Route, RouteMode, Rule, RuleAction, PROTOCOL_KEEPALIVED};

/// `RTNH_F_ONLINK`, in `rtm_flags` and `rtnh_flags`.
const ONLINK: u32 = 4;
/// `RT_SCOPE_NOWHERE`: what keepalived puts in a deletion, matching any scope.
const SCOPE_NOWHERE: u8 = 255;
/// The metric the kernel gives an IPv6 route added without one.
const IPV6_DEFAULT_METRIC: u32 = 1024;
/// `NLM_F_CREATE`, `NLM_F_EXCL`, `NLM_F_APPEND`.
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_APPEND: u16 = 0x800;

/// A configured route with its interfaces resolved to indices, as it is
/// (or is to be) in the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    pub route: Route,
    /// Index of `dev`.
    pub oif: Option<u32>,
    /// Index of each nexthop's `dev` (0: none).
    pub hop_ifindexes: Vec<u32>,
}

fn kernel_family(family: AddressFamily) -> KernelFamily {
    match family {
        AddressFamily::Ipv4 => KernelFamily::Inet,
        AddressFamily::Ipv6 => KernelFamily::Inet6,
    }
}

fn realm(realms: u32) -> RouteRealm {
    RouteRealm {
        source: (realms >> 16) as u16,
        destination: (realms & 0xffff) as u16,
    }
}

/// The request flags keepalived adds a route with: `prepend` (its default)
/// is `NLM_F_CREATE` alone, `add` refuses an existing route, `append` goes
/// after the existing ones.
pub fn route_add_flags(mode: RouteMode) -> u16 {
    match mode {
        RouteMode::Prepend => NLM_F_CREATE,
        RouteMode::Add => NLM_F_CREATE | NLM_F_EXCL,
        RouteMode::Append => NLM_F_CREATE | NLM_F_APPEND,
    }
}

/// `RTM_NEWROUTE` / `RTM_DELROUTE` for `spec`. A deletion carries the same
/// attributes with scope nowhere (any scope), so it removes only this
/// route, not another with the same destination.
pub fn route_message(spec: &RouteSpec, delete: bool) -> RouteMessage {
    let route = &spec.route;
    let mut message = RouteMessage::default();
    let header = &mut message.header;
    header.address_family = kernel_family(route.family);
    if route.table < 256 {
        header.table = route.table as u8;
    } else {
        header.table = RouteHeader::RT_TABLE_UNSPEC;
        message.attributes.push(RouteAttribute::Table(route.table));
    }
    let header = &mut message.header;
    header.scope = if delete {
        RouteScope::from(SCOPE_NOWHERE)
    } else {
        RouteScope::Universe
    };
    if let Some(scope) = route.scope {
        header.scope = RouteScope::from(scope);
    }
    header.kind = RouteType::from(route.kind.number());
    header.protocol = RouteProtocol::from(route.protocol);
    header.destination_prefix_length = route.destination.prefix_len;
    header.tos = route.tos;
    header.flags = RouteFlags::from_bits_retain(if route.onlink { ONLINK } else { 0 });
    let attributes = &mut message.attributes;
    attributes.push(RouteAttribute::Destination(RouteAddress::from(
        route.destination.address,
    )));
    if let Some(from) = &route.from {
        message.header.source_prefix_length = from.prefix_len;
        message
            .attributes
            .push(RouteAttribute::Source(RouteAddress::from(from.address)));
    }
    let attributes = &mut message.attributes;
    if let Some(src) = route.src {
        attributes.push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    if let Some(via) = route.via {
        attributes.push(RouteAttribute::Gateway(RouteAddress::from(via)));
    }
    if let Some(oif) = spec.oif {
        attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = route.metric {
        attributes.push(RouteAttribute::Priority(metric));
    }
    if let Some(realms) = route.realms {
        attributes.push(RouteAttribute::Realm(realm(realms)));
    }
    if let Some(expires) = route.expires {
        attributes.push(RouteAttribute::Expires(expires));
    }
    let metrics = metrics(route);
    if !metrics.is_empty() {
        attributes.push(RouteAttribute::Metrics(metrics));
    }
    if let Some(pref) = route.pref {
        attributes.push(RouteAttribute::Preference(RoutePreference::from(pref)));
    }
    if let Some(ttl_propagate) = route.ttl_propagate {
        attributes.push(RouteAttribute::TtlPropagate(RouteMplsTtlPropagation::from(
            u8::from(ttl_propagate),
        )));
    }
    if !route.nexthops.is_empty() {
        let hops = route
            .nexthops
            .iter()
            .enumerate()
            .map(|(index, hop)| {
                let mut next_hop = RouteNextHop::default();
                next_hop.interface_index = spec.hop_ifindexes.get(index).copied().unwrap_or(0);
                next_hop.hops = hop.weight.map_or(0, |w| (w.saturating_sub(1) & 0xff) as u8);
                if hop.onlink {
                    next_hop.flags = RouteNextHopFlags::Onlink;
                }
                if let Some(via) = hop.via {
                    next_hop
                        .attributes
                        .push(RouteAttribute::Gateway(RouteAddress::from(via)));
                }
                if let Some(realms) = hop.realms {
                    next_hop
                        .attributes
                        .push(RouteAttribute::Realm(realm(realms)));
                }
                next_hop
            })
            .collect();
        message.attributes.push(RouteAttribute::MultiPath(hops));
    }
    message
}

/// `RTA_METRICS` in keepalived's order, `RTAX_LOCK` last and only with
/// some metric to lock.
fn metrics(route: &Route) -> Vec<RouteMetric> {
    let m = &route.metrics;
    let mut out = Vec::new();
    if let Some(congctl) = &m.congctl {
        out.push(RouteMetric::CcAlgo(congctl.clone()));
    }
    let values = [
        (m.rtt, RouteMetric::Rtt as fn(u32) -> RouteMetric),
        (m.rttvar, RouteMetric::RttVar),
        (m.rto_min, RouteMetric::RtoMin),
    ];
    for (value, make) in values {
        if let Some(value) = value {
            out.push(make(value));
        }
    }
    if m.features_ecn {
        // RTAX_FEATURE_ECN
        out.push(RouteMetric::Features(1));
    }
    let values = [
        (m.mtu, RouteMetric::Mtu as fn(u32) -> RouteMetric),
        (m.window, RouteMetric::Window),
        (m.ssthresh, RouteMetric::SsThresh),
        (m.cwnd, RouteMetric::Cwnd),
        (m.advmss, RouteMetric::Advmss),
        (m.reordering, RouteMetric::Reordering),
        (m.hoplimit, RouteMetric::Hoplimit),
        (m.initcwnd, RouteMetric::InitCwnd),
        (m.initrwnd, RouteMetric::InitRwnd),
        (m.quickack, RouteMetric::QuickAck),
        (m.fastopen_no_cookie, RouteMetric::FastopenNoCookie),
    ];
    for (value, make) in values {
        if let Some(value) = value {
            out.push(make(value));
        }
    }
    if !out.is_empty() && m.lock != 0 {
        out.push(RouteMetric::Lock(m.lock));
    }
    out
}

/// `RTM_NEWRULE` / `RTM_DELRULE` for `rule` (the same message for both,
/// as keepalived sends).
pub fn rule_message(rule: &Rule) -> RuleMessage {
    let mut message = RuleMessage::default();
    let header = &mut message.header;
    header.family = kernel_family(rule.family);
    header.tos = rule.tos;
    header.table = RouteHeader::RT_TABLE_UNSPEC;
    if let RuleAction::Table(table) = rule.action {
        if table < 256 {
            header.table = table as u8;
        } else {
            message.attributes.push(RuleAttribute::Table(table));
        }
    }
    let header = &mut message.header;
    header.action = KernelRuleAction::from(rule.action.number());
    if rule.invert {
        header.flags = RuleFlags::Invert;
    }
    if let Some(from) = &rule.from {
        header.src_len = from.prefix_len;
    }
    if let Some(to) = &rule.to {
        header.dst_len = to.prefix_len;
    }
    let attributes = &mut message.attributes;
    if let Some(from) = &rule.from {
        attributes.push(RuleAttribute::Source(from.address));
    }
    if let Some(to) = &rule.to {
        attributes.push(RuleAttribute::Destination(to.address));
    }
    attributes.push(RuleAttribute::Priority(rule.priority));
    if let Some(mark) = rule.fwmark {
        attributes.push(RuleAttribute::FwMark(mark));
    }
    if let Some(mask) = rule.fwmask {
        attributes.push(RuleAttribute::FwMask(mask));
    }
    if let Some(realms) = rule.realms {
        attributes.push(RuleAttribute::Realm(realm(realms)));
    }
    if let Some(length) = rule.suppress_prefixlength {
        attributes.push(RuleAttribute::SuppressPrefixLen(length));
    }
    if let Some(group) = rule.suppress_ifgroup {
        attributes.push(RuleAttribute::SuppressIfGroup(group));
    }
    if let Some(iif) = &rule.iif {
        attributes.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(oif) = &rule.oif {
        attributes.push(RuleAttribute::Oifname(oif.clone()));
    }
    if let Some(id) = rule.tunnel_id {
        attributes.push(RuleAttribute::TunId(id));
    }
    if let Some((start, end)) = rule.uid_range {
        attributes.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if rule.action == RuleAction::L3mdev {
        attributes.push(RuleAttribute::L3MDev(true));
    }
    if let Some(protocol) = rule.protocol {
        attributes.push(RuleAttribute::Protocol(RouteProtocol::from(protocol)));
    }
    if let Some(proto) = rule.ip_proto {
        attributes.push(RuleAttribute::IpProtocol(proto.into()));
    }
    for (range, source) in [(rule.sport, true), (rule.dport, false)] {
        if let Some(range) = range {
            let ports = RulePortRange {
                start: range.start,
                end: range.end,
            };
            attributes.push(if source {
                RuleAttribute::SourcePortRange(ports)
            } else {
                RuleAttribute::DestinationPortRange(ports)
            });
        }
    }
    if let RuleAction::Goto(target) = rule.action {
        attributes.push(RuleAttribute::Goto(target));
    }
    message
}

/// What a route removal notification says, as far as telling the agent's
/// routes apart needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedRoute {
    pub family: AddressFamily,
    pub table: u32,
    pub destination: IpAddr,
    pub prefix_len: u8,
    pub tos: u8,
    /// `RTA_PRIORITY`, 0 when absent.
    pub metric: u32,
    pub oif: Option<u32>,
    pub protocol: u8,
}

fn route_address(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl RemovedRoute {
    pub fn from_message(message: &RouteMessage) -> Option<Self> {
        let family = match message.header.address_family {
            KernelFamily::Inet => AddressFamily::Ipv4,
            KernelFamily::Inet6 => AddressFamily::Ipv6,
            _ => return None,
        };
        let mut table = u32::from(message.header.table);
        let mut destination = None;
        let mut metric = 0;
        let mut oif = None;
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(d) => destination = route_address(d),
                RouteAttribute::Priority(p) => metric = *p,
                RouteAttribute::Oif(o) => oif = Some(*o),
                _ => {}
            }
        }
        let destination = destination.unwrap_or(match family {
            AddressFamily::Ipv4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            AddressFamily::Ipv6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        });
        Some(Self {
            family,
            table,
            destination,
            prefix_len: message.header.destination_prefix_length,
            tos: message.header.tos,
            metric,
            oif,
            protocol: u8::from(message.header.protocol),
        })
    }
}

/// The metric the kernel holds the route under: IPv6 gives a route added
/// without one 1024.
fn kernel_metric(route: &Route) -> u32 {
    match (route.metric, route.family) {
        (Some(metric), _) => metric,
        (None, AddressFamily::Ipv4) => 0,
        (None, AddressFamily::Ipv6) => IPV6_DEFAULT_METRIC,
    }
}

/// Whether `removed` is `spec` (keepalived's `route_is_ours`): same table,
/// family, destination and TOS, with the protocol keepalived marks its
/// routes with; a virtual route also by metric and interface, a static
/// one without.
pub fn is_route(spec: &RouteSpec, removed: &RemovedRoute, is_static: bool) -> bool {
    let route = &spec.route;
    let same = removed.protocol == PROTOCOL_KEEPALIVED
        && removed.table == route.table
        && removed.family == route.family
        && removed.prefix_len == route.destination.prefix_len
        && removed.tos == route.tos
        && removed.destination == route.destination.address;
    if is_static {
        return same;
    }
    same && removed.metric == kernel_metric(route) && removed.oif == spec.oif
}

/// What a rule removal notification says (every attribute
/// keepalived's `compare_rule` looks at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedRule {
    pub family: AddressFamily,
    pub priority: Option<u32>,
    pub action: u8,
    pub goto: Option<u32>,
    pub table: u32,
    pub invert: bool,
    pub source: Option<(IpAddr, u8)>,
    pub destination: Option<(IpAddr, u8)>,
    pub tos: u8,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub realms: Option<u32>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tunnel_id: Option<u64>,
    pub uid_range: Option<(u32, u32)>,
    pub l3mdev: bool,
    pub protocol: Option<u8>,
    pub ip_proto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
}

impl RemovedRule {
    pub fn from_message(message: &RuleMessage) -> Option<Self> {
        let family = match message.header.family {
            KernelFamily::Inet => AddressFamily::Ipv4,
            KernelFamily::Inet6 => AddressFamily::Ipv6,
            _ => return None,
        };
        let header = &message.header;
        let mut rule = Self {
            family,
            priority: None,
            action: u8::from(header.action),
            goto: None,
            table: u32::from(header.table),
            invert: header.flags.contains(RuleFlags::Invert),
            source: None,
            destination: None,
            tos: header.tos,
            fwmark: None,
            fwmask: None,
            realms: None,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            iif: None,
            oif: None,
            tunnel_id: None,
            uid_range: None,
            l3mdev: false,
            protocol: None,
            ip_proto: None,
            sport: None,
            dport: None,
        };
        for attribute in &message.attributes {
            match attribute {
                RuleAttribute::Priority(p) => rule.priority = Some(*p),
                RuleAttribute::Goto(g) => rule.goto = Some(*g),
                RuleAttribute::Table(t) => rule.table = *t,
                // A prefix of length 0 matches everything: no prefix.
                RuleAttribute::Source(a) if header.src_len > 0 => {
                    rule.source = Some((*a, header.src_len))
                }
                RuleAttribute::Destination(a) if header.dst_len > 0 => {
                    rule.destination = Some((*a, header.dst_len))
                }
                RuleAttribute::FwMark(m) => rule.fwmark = Some(*m),
                RuleAttribute::FwMask(m) => rule.fwmask = Some(*m),
                RuleAttribute::Realm(r) => {
                    rule.realms = Some(u32::from(r.source) << 16 | u32::from(r.destination))
                }
                // The kernel reports "none" as -1.
                RuleAttribute::SuppressPrefixLen(l) if *l != u32::MAX => {
                    rule.suppress_prefixlength = Some(*l)
                }
                RuleAttribute::SuppressIfGroup(g) if *g != u32::MAX => {
                    rule.suppress_ifgroup = Some(*g)
                }
                RuleAttribute::Iifname(n) => rule.iif = Some(n.clone()),
                RuleAttribute::Oifname(n) => rule.oif = Some(n.clone()),
                RuleAttribute::TunId(id) => rule.tunnel_id = Some(*id),
                RuleAttribute::UidRange(r) => rule.uid_range = Some((r.start, r.end)),
                RuleAttribute::L3MDev(on) => rule.l3mdev = *on,
                RuleAttribute::Protocol(p) => rule.protocol = Some(u8::from(*p)),
                RuleAttribute::IpProtocol(p) => rule.ip_proto = Some(u8::from(*p)),
                RuleAttribute::SourcePortRange(r) => rule.sport = Some((r.start, r.end)),
                RuleAttribute::DestinationPortRange(r) => rule.dport = Some((r.start, r.end)),
                _ => {}
            }
        }
        Some(rule)
    }
}

/// Whether `removed` is `rule` (keepalived's `compare_rule`, with a
/// prefix of length 0 read as no prefix, as the kernel reports it).
pub fn is_rule(rule: &Rule, removed: &RemovedRule) -> bool {
    let prefix = |p: &Option<crate::config::Prefix>| {
        p.filter(|p| p.prefix_len > 0)
            .map(|p| (p.address, p.prefix_len))
    };
    let table = match rule.action {
        RuleAction::Table(table) => table,
        _ => 0,
    };
    let goto = match rule.action {
        RuleAction::Goto(target) => Some(target),
        _ => None,
    };
    let fwmask_matches = match (rule.fwmask, removed.fwmask) {
        (Some(mask), Some(theirs)) => mask == theirs,
        (Some(_), None) => false,
        (None, Some(theirs)) => theirs == u32::MAX,
        (None, None) => true,
    };
    removed.protocol.is_none_or(|p| p == PROTOCOL_KEEPALIVED)
        && removed.family == rule.family
        && removed.priority == Some(rule.priority)
        && removed.action == rule.action.number()
        && (goto.is_none() || removed.goto == goto)
        && removed.table == table
        && removed.invert == rule.invert
        && removed.source == prefix(&rule.from)
        && removed.destination == prefix(&rule.to)
        && removed.tos == rule.tos
        && removed.fwmark == rule.fwmark
        && fwmask_matches
        && removed.realms == rule.realms
        && removed.suppress_prefixlength == rule.suppress_prefixlength
        && removed.suppress_ifgroup == rule.suppress_ifgroup
        && removed.iif == rule.iif
        && removed.oif == rule.oif
        && removed.tunnel_id == rule.tunnel_id
        && removed.uid_range == rule.uid_range
        && removed.l3mdev == (rule.action == RuleAction::L3mdev)
        && removed.ip_proto == rule.ip_proto
        && removed.sport == rule.sport.map(|r| (r.start, r.end))
        && removed.dport == rule.dport.map(|r| (r.start, r.end))
}

#[cfg(test)]
mod tests;
