//! Virtual routes and rules (with the Master's VIPs, in keepalived's
//! order), the static blocks (for the agent's whole run), and what happens
//! when someone else removes one of them.

use super::*;
use crate::agent::notify::{NotifyKind, NotifyState};
use crate::net::routes::{route_message, rule_message, RemovedRoute, RemovedRule, RouteSpec};

const ROUTING: &str = "  virtual_routes {\n    10.1.0.0/16 via 10.0.0.254 dev eth0\n    \
                       10.2.0.0/16 dev eth1 no_track\n  }\n  virtual_rules {\n    \
                       from 10.0.0.100/32 table 100 priority 100\n  }\n";

/// One line per address, route and rule change, in order.
fn trace(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::AddVip { address, .. } => Some(format!("vip+ {address}")),
            Effect::DelVip { address, .. } => Some(format!("vip- {address}")),
            Effect::AddRoute(spec) => Some(format!("route+ {}", spec.route.destination)),
            Effect::DelRoute(spec) => Some(format!("route- {}", spec.route.destination)),
            Effect::AddRule(rule) => Some(format!("rule+ {}", rule.priority)),
            Effect::DelRule(rule) => Some(format!("rule- {}", rule.priority)),
            Effect::AddStaticAddress { address, .. } => Some(format!("static+ {address}")),
            Effect::DelStaticAddress { address, .. } => Some(format!("static- {address}")),
            _ => None,
        })
        .collect()
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// A priority-200 Master of 10.0.0.100 with the routes and rules of
/// [`ROUTING`] plus `extra`, Master after its Master_Down_Interval.
fn master(extra: &str) -> (Harness, Vec<Effect>) {
    let mut h = Harness::started(&format!(
        "{}{extra}",
        instance("VI_1", 51, 200, "10.0.0.100/24", ROUTING)
    ));
    let effects = h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    (h, effects)
}

fn route_spec(effects: &[Effect], destination: &str) -> RouteSpec {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::AddRoute(spec) if spec.route.destination.to_string() == destination => {
                Some((**spec).clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no route {destination} added: {effects:#?}"))
}

fn route_removed(h: &mut Harness, spec: &RouteSpec, by: Requester) -> Vec<Effect> {
    let route = RemovedRoute::from_message(&route_message(spec, false)).unwrap();
    h.net_event(NetEvent::RouteRemoved { route, by })
}

fn other() -> Requester {
    Requester::Other("netlink port 4242".into())
}

/// Entering Master: VIPs, routes, rules (keepalived's order), each route
/// with its interface's index; a Backup installs none of them.
#[test]
fn a_master_installs_vips_then_routes_then_rules() {
    let mut h = Harness::started(&instance("VI_1", 51, 200, "10.0.0.100/24", ROUTING));
    assert!(
        trace(&h.log.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>())
            .iter()
            .all(|l| !l.contains('+'))
    );
    let effects = h.run_until(secs(4));
    assert_eq!(
        trace(&effects),
        strings(&[
            "vip+ 10.0.0.100",
            "route+ 10.1.0.0/16",
            "route+ 10.2.0.0/16",
            "rule+ 100"
        ])
    );
    assert_eq!(route_spec(&effects, "10.1.0.0/16").oif, Some(ETH0));
    assert_eq!(route_spec(&effects, "10.2.0.0/16").oif, Some(ETH1));
}

/// Leaving Master: rules, then routes, then the VIPs.
#[test]
fn leaving_master_removes_rules_then_routes_then_vips() {
    let (mut h, _) = master("");
    let effects = h.advert("10.0.0.2", 51, 250, &["10.0.0.100"]);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert_eq!(
        trace(&effects),
        strings(&[
            "rule- 100",
            "route- 10.1.0.0/16",
            "route- 10.2.0.0/16",
            "vip- 10.0.0.100"
        ])
    );
    // Stopping a Backup touches nothing more.
    let effects = h.core.shutdown(h.now);
    assert!(trace(&effects).is_empty(), "{effects:#?}");
}

/// A watched virtual route removed by someone else: the Master steps down
/// (priority 0, everything removed) and is Master again after Skew_Time,
/// with the route back. Its own removals, and those of an unwatched route,
/// change nothing.
#[test]
fn a_removed_virtual_route_makes_the_master_step_down_and_come_back() {
    let (mut h, installed) = master("");
    let watched = route_spec(&installed, "10.1.0.0/16");
    let unwatched = route_spec(&installed, "10.2.0.0/16");
    assert!(route_removed(&mut h, &watched, Requester::Agent).is_empty());
    assert!(route_removed(&mut h, &unwatched, other()).is_empty());
    assert_eq!(h.state("VI_1"), Some(State::Master));

    let effects = route_removed(&mut h, &watched, other());
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert_eq!(sent_adverts(&effects), vec![(ip("224.0.0.18"), 0)]);
    assert_eq!(
        trace(&effects),
        strings(&[
            "rule- 100",
            "route- 10.1.0.0/16",
            "route- 10.2.0.0/16",
            "vip- 10.0.0.100"
        ])
    );
    let transitions = &h.slot("VI_1").counters.transitions;
    let stepped = crate::agent::instance::counters::Transition {
        from: "MASTER",
        to: "BACKUP",
        reason: "route_removed",
    };
    assert_eq!(transitions.get(&stepped), Some(&1), "{transitions:?}");

    // Skew_Time at priority 200: 56/256 s.
    let back = h.now + Duration::from_micros(218_750);
    let effects = h.run_until(back);
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(
        trace(&effects),
        strings(&[
            "vip+ 10.0.0.100",
            "route+ 10.1.0.0/16",
            "route+ 10.2.0.0/16",
            "rule+ 100"
        ])
    );
}

/// The same for a rule; a Backup ignores the removal of a rule it does
/// not hold.
#[test]
fn a_removed_virtual_rule_makes_the_master_step_down() {
    let (mut h, _) = master("");
    let rule = h.core.config().instances[0].virtual_rules[0].clone();
    let removed = RemovedRule::from_message(&rule_message(&rule)).unwrap();
    let effects = h.net_event(NetEvent::RuleRemoved {
        rule: removed.clone(),
        by: other(),
    });
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert!(trace(&effects).contains(&"vip- 10.0.0.100".to_string()));
    let effects = h.net_event(NetEvent::RuleRemoved {
        rule: removed,
        by: other(),
    });
    assert!(effects.is_empty(), "{effects:#?}");
    assert_eq!(h.state("VI_1"), Some(State::Backup));
}

/// keepalived's set_vrrp_backup takes the sync group's other Masters down
/// with it.
#[test]
fn a_sync_group_steps_down_together() {
    let text = format!(
        "vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n{}\
         vrrp_instance VI_2 {{\n  interface eth1\n  virtual_router_id 52\n  priority 200\n  advert_int 1\n  \
         virtual_ipaddress {{\n    192.168.1.100/24\n  }}\n}}\n",
        instance("VI_1", 51, 200, "10.0.0.100/24", ROUTING)
    );
    let mut h = Harness::started(&text);
    let installed = h.run_until(secs(4));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    let effects = route_removed(&mut h, &route_spec(&installed, "10.1.0.0/16"), other());
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Backup), Some(State::Backup))
    );
    assert!(trace(&effects).contains(&"vip- 192.168.1.100".to_string()));
    assert_ownership_moves_before_frames(&effects, &["10.0.0.100", "192.168.1.100"]);
    // The group's own notification goes with its members'.
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Notify { kind: NotifyKind::Group, name, state: NotifyState::Backup, .. }
                if name == "G"
        )),
        "{effects:?}"
    );
}

/// The interface of a watched route or rule is tracked with weight 0: its
/// going down puts the instance in FAULT (an unwatched one's does not).
#[test]
fn a_routes_interface_going_down_is_a_fault() {
    let routing = "  virtual_routes {\n    10.1.0.0/16 dev eth1\n  }\n";
    let mut h = Harness::started(&instance("VI_1", 51, 200, "10.0.0.100/24", routing));
    h.run_until(secs(4));
    h.link_change(link(ETH1, "eth1", MAC1, false));
    assert_eq!(h.state("VI_1"), Some(State::Fault));
    h.link_change(link(ETH1, "eth1", MAC1, true));
    assert_ne!(h.state("VI_1"), Some(State::Fault));

    let (mut h, _) = master("");
    // ROUTING's eth1 route is no_track.
    h.link_change(link(ETH1, "eth1", MAC1, false));
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

/// A VIP someone removed comes back with the routes (the kernel may have
/// dropped one using it without a word).
#[test]
fn a_restored_vip_brings_the_routes_back() {
    let (mut h, _) = master("");
    let effects = h.net_event(NetEvent::AddressRemoved {
        address: address(ETH0, "10.0.0.100", 24, Some(5)),
        by: other(),
    });
    assert_eq!(
        trace(&effects),
        strings(&[
            "vip+ 10.0.0.100",
            "route+ 10.1.0.0/16",
            "route+ 10.2.0.0/16"
        ])
    );
}

const STATICS: &str =
    "static_ipaddress {\n  192.168.1.50/24 dev eth1\n  192.168.1.51/24 dev eth1 no_track\n}\n\
                       static_routes {\n  192.168.50.0/24 via 192.168.1.254 dev eth1\n}\n\
                       static_rules {\n  from 192.168.1.50/32 table 200 priority 300\n}\n";

/// Static entries go in at start, before any instance acts (addresses,
/// routes, rules), stay while the instances change state, and go at stop
/// after the instances' own (rules, routes, addresses).
#[test]
fn static_entries_for_the_whole_run() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&format!(
        "{STATICS}{}",
        instance("VI_1", 51, 255, "10.0.0.100/24", "")
    ));
    assert_eq!(
        trace(&effects),
        strings(&[
            "static+ 192.168.1.50",
            "static+ 192.168.1.51",
            "route+ 192.168.50.0/24",
            "rule+ 300",
            "vip+ 10.0.0.100"
        ])
    );
    let effects = h.advert("10.0.0.2", 51, 0, &["10.0.0.100"]);
    assert!(trace(&effects).is_empty(), "{effects:#?}");
    let effects = h.core.shutdown(h.now);
    let effects = h.record(effects);
    assert_eq!(
        trace(&effects),
        strings(&[
            "vip- 10.0.0.100",
            "rule- 300",
            "route- 192.168.50.0/24",
            "static- 192.168.1.50",
            "static- 192.168.1.51"
        ])
    );
}

/// keepalived reinstates a tracked static address, route or rule someone
/// else removes; `no_track` ones stay removed.
#[test]
fn removed_static_entries_are_put_back() {
    let mut h = Harness::new(two_interfaces());
    let started = h.start(&format!(
        "{STATICS}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", "")
    ));
    let effects = h.net_event(NetEvent::AddressRemoved {
        address: address(ETH1, "192.168.1.50", 24, None),
        by: other(),
    });
    assert_eq!(
        trace(&effects),
        strings(&["static+ 192.168.1.50", "route+ 192.168.50.0/24"])
    );
    let effects = h.net_event(NetEvent::AddressRemoved {
        address: address(ETH1, "192.168.1.51", 24, None),
        by: other(),
    });
    assert!(trace(&effects).is_empty());
    let spec = route_spec(&started, "192.168.50.0/24");
    assert!(route_removed(&mut h, &spec, Requester::Agent).is_empty());
    let effects = route_removed(&mut h, &spec, Requester::Kernel);
    assert_eq!(trace(&effects), strings(&["route+ 192.168.50.0/24"]));
    let rule = h.core.config().static_rules[0].clone();
    let effects = h.net_event(NetEvent::RuleRemoved {
        rule: RemovedRule::from_message(&rule_message(&rule)).unwrap(),
        by: other(),
    });
    assert_eq!(trace(&effects), strings(&["rule+ 300"]));
    // A Backup's state is untouched by all of it.
    assert_eq!(h.state("VI_1"), Some(State::Backup));
}

/// A static entry whose interface is missing waits for it; one whose
/// interface went away comes back with it.
#[test]
fn static_entries_wait_for_their_interface() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&format!(
        "static_routes {{\n  192.168.60.0/24 dev eth2\n}}\n{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", "")
    ));
    assert!(trace(&effects).is_empty());
    let effects = h.link_change(link(9, "eth2", [2, 0, 0, 0, 0, 9], true));
    let added = route_spec(&effects, "192.168.60.0/24");
    assert_eq!(added.oif, Some(9));
    let effects = h.net_event(NetEvent::Link(LinkEvent::Removed {
        ifindex: 9,
        name: "eth2".into(),
    }));
    assert!(trace(&effects).is_empty());
    let effects = h.link_change(link(10, "eth2", [2, 0, 0, 0, 0, 9], true));
    assert_eq!(route_spec(&effects, "192.168.60.0/24").oif, Some(10));
}

/// A reload removes the static entries no longer configured and adds the
/// new ones; those that stay are not touched.
#[test]
fn a_reload_changes_only_what_changed_in_the_static_blocks() {
    let mut h = Harness::new(two_interfaces());
    let vi = instance("VI_1", 51, 100, "10.0.0.100/24", "");
    h.start(&format!("{STATICS}{vi}"));
    let changed = STATICS
        .replace(
            "192.168.1.51/24 dev eth1 no_track",
            "192.168.1.52/24 dev eth1",
        )
        .replace("priority 300", "priority 301");
    let effects = h.reload(&format!("{changed}{vi}"));
    assert_eq!(
        trace(&effects),
        strings(&[
            "rule- 300",
            "static- 192.168.1.51",
            "static+ 192.168.1.52",
            "rule+ 301"
        ])
    );
}

/// A Master whose instance a reload changes keeps the routes and rules its
/// successor has, removes the others, and the successor adds its new ones.
#[test]
fn a_reload_of_a_master_keeps_the_routes_that_stay() {
    let (mut h, _) = master("");
    let routing = ROUTING
        .replace(
            "10.2.0.0/16 dev eth1 no_track",
            "10.3.0.0/16 dev eth1 no_track",
        )
        .replace("priority 100", "priority 101");
    let effects = h.reload(&instance("VI_1", 51, 200, "10.0.0.100/24", &routing));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let trace = trace(&effects);
    assert!(
        trace.contains(&"route- 10.2.0.0/16".to_string()),
        "{trace:?}"
    );
    assert!(trace.contains(&"rule- 100".to_string()), "{trace:?}");
    assert!(
        !trace.contains(&"route- 10.1.0.0/16".to_string()),
        "{trace:?}"
    );
    assert!(
        trace.contains(&"route+ 10.3.0.0/16".to_string()),
        "{trace:?}"
    );
    assert!(trace.contains(&"rule+ 101".to_string()), "{trace:?}");
}

/// At start, the virtual routes and rules of every instance that does not
/// resume as Master are removed, in case a crashed run left them.
#[test]
fn a_start_removes_virtual_routes_a_crash_may_have_left() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&instance("VI_1", 51, 100, "10.0.0.100/24", ROUTING));
    assert_eq!(
        trace(&effects),
        strings(&["rule- 100", "route- 10.1.0.0/16", "route- 10.2.0.0/16"])
    );
}

/// A static route the kernel refused (its gateway not reachable while the
/// link is down at boot) is tried again on the next link event.
#[test]
fn a_refused_static_route_is_tried_again_on_a_link_event() {
    let mut h = Harness::new(two_interfaces());
    let started = h.start(&format!(
        "{STATICS}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", "")
    ));
    let spec = route_spec(&started, "192.168.50.0/24");
    let effects = h.core.feedback(
        Feedback::RouteFailed {
            route: Box::new(spec.clone()),
        },
        h.now,
    );
    assert!(effects.is_empty());
    let effects = h.link_change(link(ETH1, "eth1", MAC1, true));
    assert_eq!(trace(&effects), strings(&["route+ 192.168.50.0/24"]));
    // Installed now: the next link event adds nothing.
    let effects = h.link_change(link(ETH1, "eth1", MAC1, true));
    assert!(trace(&effects).is_empty());
}
