//! The messages keepalived's netlink_route / netlink_rule would send, and
//! the matching of removal notifications against configured entries.

use super::*;
use crate::config::{self, LoadOptions};

fn instance(routes: &str, rules: &str) -> config::VrrpInstance {
    let text = format!(
        "vrrp_instance V {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n\
         virtual_routes {{\n{routes}\n}}\n virtual_rules {{\n{rules}\n}}\n}}\n"
    );
    config::load_str(&text, "t.conf", LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:#?}"))
        .config
        .instances
        .remove(0)
}

fn spec(route: Route) -> RouteSpec {
    RouteSpec {
        route,
        oif: Some(2),
        hop_ifindexes: Vec::new(),
    }
}

#[test]
fn a_route_as_keepalived_sends_it() {
    let route = instance(
        "10.1.0.0/16 via 10.0.0.254 dev eth0 table 300 metric 7 src 10.0.0.1 onlink mtu lock 1400 advmss 1360",
        "",
    )
    .virtual_routes
    .remove(0);
    let message = route_message(&spec(route.clone()), false);
    let h = &message.header;
    assert_eq!(h.address_family, KernelFamily::Inet);
    assert_eq!(h.destination_prefix_length, 16);
    // Tables above 255 go in RTA_TABLE.
    assert_eq!(h.table, RouteHeader::RT_TABLE_UNSPEC);
    assert_eq!(h.scope, RouteScope::Universe);
    assert_eq!(h.kind, RouteType::Unicast);
    assert_eq!(h.protocol, RouteProtocol::KeepAlived);
    assert_eq!(h.flags.bits(), ONLINK);
    let a = &message.attributes;
    assert!(a.contains(&RouteAttribute::Table(300)));
    assert!(a.contains(&RouteAttribute::Destination(RouteAddress::Inet(
        "10.1.0.0".parse().unwrap()
    ))));
    assert!(a.contains(&RouteAttribute::Gateway(RouteAddress::Inet(
        "10.0.0.254".parse().unwrap()
    ))));
    assert!(a.contains(&RouteAttribute::PrefSource(RouteAddress::Inet(
        "10.0.0.1".parse().unwrap()
    ))));
    assert!(a.contains(&RouteAttribute::Oif(2)));
    assert!(a.contains(&RouteAttribute::Priority(7)));
    assert!(a.contains(&RouteAttribute::Metrics(vec![
        RouteMetric::Mtu(1400),
        RouteMetric::Advmss(1360),
        RouteMetric::Lock(1 << 2),
    ])));
    // Deleting matches any scope but carries everything else.
    let delete = route_message(&spec(route), true);
    assert_eq!(u8::from(delete.header.scope), SCOPE_NOWHERE);
    assert_eq!(delete.attributes, message.attributes);
}

#[test]
fn route_types_scopes_and_multipath() {
    let mut routes = instance(
        "blackhole 10.9.0.0/16 table 100\n\
         10.2.0.0/16 dev eth0 scope link\n\
         10.4.0.0/16 nexthop via 10.0.0.253 dev eth0 weight 3 onlink nexthop via 10.0.0.252",
        "",
    )
    .virtual_routes;
    let blackhole = route_message(&spec(routes.remove(0)), false);
    assert_eq!(blackhole.header.kind, RouteType::BlackHole);
    assert_eq!(blackhole.header.table, 100);
    let link = route_message(&spec(routes.remove(0)), false);
    assert_eq!(link.header.scope, RouteScope::Link);
    let multipath = RouteSpec {
        route: routes.remove(0),
        oif: None,
        hop_ifindexes: vec![2, 0],
    };
    let message = route_message(&multipath, false);
    let hops = message
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::MultiPath(hops) => Some(hops.clone()),
            _ => None,
        })
        .expect("RTA_MULTIPATH");
    assert_eq!(hops.len(), 2);
    assert_eq!((hops[0].interface_index, hops[0].hops), (2, 2));
    assert_eq!(hops[0].flags, RouteNextHopFlags::Onlink);
    assert_eq!((hops[1].interface_index, hops[1].hops), (0, 0));
}

#[test]
fn add_flags_by_mode() {
    assert_eq!(route_add_flags(RouteMode::Prepend), NLM_F_CREATE);
    assert_eq!(route_add_flags(RouteMode::Add), NLM_F_CREATE | NLM_F_EXCL);
    assert_eq!(
        route_add_flags(RouteMode::Append),
        NLM_F_CREATE | NLM_F_APPEND
    );
}

fn removed(spec: &RouteSpec) -> RemovedRoute {
    // What the kernel reports back: the same message, keepalived's protocol.
    RemovedRoute::from_message(&route_message(spec, false)).unwrap()
}

#[test]
fn a_removed_route_is_recognised_by_table_destination_metric_and_interface() {
    let routes = instance(
        "10.1.0.0/16 via 10.0.0.254 dev eth0 table 300 metric 7\n2001:db8:5::/48 dev eth0",
        "",
    )
    .virtual_routes;
    let v4 = spec(routes[0].clone());
    assert!(is_route(&v4, &removed(&v4), false));
    let mut other = removed(&v4);
    other.metric = 8;
    assert!(!is_route(&v4, &other, false));
    // A static route is known without its metric and interface.
    assert!(is_route(&v4, &other, true));
    let mut other = removed(&v4);
    other.oif = Some(3);
    assert!(!is_route(&v4, &other, false));
    let mut other = removed(&v4);
    other.protocol = 4;
    assert!(!is_route(&v4, &other, false));
    let mut other = removed(&v4);
    other.table = 254;
    assert!(!is_route(&v4, &other, true));

    // The kernel holds an IPv6 route added without a metric at 1024.
    let v6 = spec(routes[1].clone());
    let mut reported = removed(&v6);
    assert_eq!(reported.metric, 0);
    assert!(!is_route(&v6, &reported, false));
    reported.metric = 1024;
    assert!(is_route(&v6, &reported, false));
}

#[test]
fn rules_as_keepalived_sends_them() {
    let rules = instance(
        "",
        "from 10.0.0.1/32 to 192.168.0.0/16 table 300 priority 100 not fwmark 0x10/0xff iif eth0 \
         oif eth1 ipproto tcp dport 80-90 uidrange 1-2\n\
         from all blackhole priority 200\n\
         priority 10 goto 20",
    )
    .virtual_rules;
    let table = rule_message(&rules[0]);
    assert_eq!(table.header.action, KernelRuleAction::ToTable);
    assert_eq!(table.header.table, RouteHeader::RT_TABLE_UNSPEC);
    assert_eq!((table.header.src_len, table.header.dst_len), (32, 16));
    assert!(table.header.flags.contains(RuleFlags::Invert));
    let a = &table.attributes;
    assert!(a.contains(&RuleAttribute::Table(300)));
    assert!(a.contains(&RuleAttribute::Priority(100)));
    assert!(a.contains(&RuleAttribute::FwMark(0x10)));
    assert!(a.contains(&RuleAttribute::FwMask(0xff)));
    assert!(a.contains(&RuleAttribute::Iifname("eth0".into())));
    assert!(a.contains(&RuleAttribute::Oifname("eth1".into())));
    assert!(a.contains(&RuleAttribute::Protocol(RouteProtocol::KeepAlived)));
    assert!(
        a.contains(&RuleAttribute::DestinationPortRange(RulePortRange {
            start: 80,
            end: 90
        }))
    );
    let blackhole = rule_message(&rules[1]);
    assert_eq!(blackhole.header.action, KernelRuleAction::Blackhole);
    assert_eq!(blackhole.header.table, RouteHeader::RT_TABLE_UNSPEC);
    let goto = rule_message(&rules[2]);
    assert!(goto.attributes.contains(&RuleAttribute::Goto(20)));
}

#[test]
fn a_removed_rule_is_recognised_by_every_attribute() {
    let rules = instance(
        "",
        "from 10.0.0.1/32 table 100 priority 100 fwmark 7\n\
         from all blackhole priority 200",
    )
    .virtual_rules;
    for rule in &rules {
        let reported = RemovedRule::from_message(&rule_message(rule)).unwrap();
        assert!(is_rule(rule, &reported), "{rule:?} vs {reported:?}");
    }
    let mut reported = RemovedRule::from_message(&rule_message(&rules[0])).unwrap();
    // The kernel reports the mask it applies for a mark given alone.
    reported.fwmask = Some(u32::MAX);
    assert!(is_rule(&rules[0], &reported));
    reported.priority = Some(101);
    assert!(!is_rule(&rules[0], &reported));
    let mut reported = RemovedRule::from_message(&rule_message(&rules[0])).unwrap();
    reported.table = 101;
    assert!(!is_rule(&rules[0], &reported));
    let mut reported = RemovedRule::from_message(&rule_message(&rules[0])).unwrap();
    reported.protocol = Some(4);
    assert!(!is_rule(&rules[0], &reported));
}
