//! Rendering a snapshot, and what a request gets.

use std::time::{Duration, SystemTime};

use hyper::Method;

use super::{render, route, InstanceSnapshot, Route, Snapshot, XdpSnapshot};
use crate::{
    agent::instance::{Counters, DiscardCause},
    dataplane::{Counters as XdpCounters, Family, L2Counters, VrrpCounters},
    vrrp::{State, TransitionReason},
};

const ETH0: u32 = 2;

fn master() -> InstanceSnapshot {
    let mut counters = Counters {
        adverts_sent: 40,
        adverts_received: 3,
        priority_zero_received: 1,
        ..Counters::default()
    };
    counters.transition(
        State::Initialize,
        State::Backup,
        TransitionReason::Startup,
        Duration::from_secs(1),
    );
    counters.transition(
        State::Backup,
        State::Master,
        TransitionReason::MasterDown,
        Duration::from_secs(4),
    );
    counters.discard(DiscardCause::Checksum);
    counters.discard(DiscardCause::Checksum);
    counters.discard(DiscardCause::NotPeer);
    InstanceSnapshot {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid: 51,
        state: "MASTER".into(),
        priority: 150,
        effective_priority: 140,
        vips: vec![
            ("10.0.0.70/24".into(), true),
            ("10.0.0.71/24".into(), false),
        ],
        counters,
        since_transition: Some(Duration::from_millis(2500)),
    }
}

fn fresh() -> InstanceSnapshot {
    InstanceSnapshot {
        name: "VI_2".into(),
        interface: "eth1".into(),
        vrid: 52,
        state: "INIT".into(),
        priority: 100,
        effective_priority: 100,
        vips: vec![("2001:db8::70/64".into(), false)],
        ..InstanceSnapshot::default()
    }
}

fn xdp(heartbeat_age: Option<Duration>) -> XdpSnapshot {
    XdpSnapshot {
        counters: XdpCounters {
            vrrp: vec![
                VrrpCounters {
                    ifindex: ETH0,
                    vrid: 51,
                    family: Some(Family::V4),
                    frames: 12,
                    adverts_valid: 9,
                    drop_ttl: 1,
                    drop_checksum: 2,
                    ..VrrpCounters::default()
                },
                // An interface the agent no longer knows: not exported.
                VrrpCounters {
                    ifindex: 99,
                    vrid: 7,
                    family: Some(Family::V6),
                    frames: 5,
                    ..VrrpCounters::default()
                },
            ],
            l2: vec![L2Counters {
                ifindex: ETH0,
                arp_requests_seen: 10,
                arp_replies_sent: 6,
                arp_passed: 3,
                arp_fenced: 1,
                ns_seen: 4,
                na_sent: 4,
                vrrp_fragments: 2,
                ..L2Counters::default()
            }],
        },
        interfaces: [(ETH0, "eth0".to_string())].into_iter().collect(),
        heartbeat_age,
        fence_bound: Duration::from_secs(2),
    }
}

fn rendered(snapshot: &Snapshot) -> String {
    let wall_clock = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    render(snapshot, wall_clock).expect("renders")
}

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{text}"
    );
}

fn lacks(text: &str, fragment: &str) {
    assert!(
        !text.contains(fragment),
        "unexpected {fragment:?} in:\n{text}"
    );
}

#[test]
fn instance_state_is_one_hot_over_every_state() {
    let text = rendered(&Snapshot {
        instances: vec![master(), fresh()],
        xdp: None,
    });
    // The encoder sorts labels by name.
    let line = |state: &str, value: u8| {
        format!(
            "vip_agent_vrrp_state{{interface=\"eth0\",state=\"{state}\",vrid=\"51\",vrrp_instance=\"VI_1\"}} {value}"
        )
    };
    for state in ["INIT", "BACKUP", "FAULT", "RESIGNING", "RESIGNED"] {
        has_line(&text, &line(state, 0));
    }
    has_line(&text, &line("MASTER", 1));
    has_line(
        &text,
        r#"vip_agent_vrrp_state{interface="eth1",state="INIT",vrid="52",vrrp_instance="VI_2"} 1"#,
    );
    has_line(&text, "# TYPE vip_agent_vrrp_state gauge");
}

#[test]
fn priorities_counters_and_vips_of_an_instance() {
    let text = rendered(&Snapshot {
        instances: vec![master()],
        xdp: None,
    });
    let l = r#"interface="eth0",vrid="51",vrrp_instance="VI_1""#;
    has_line(&text, &format!("vip_agent_vrrp_priority{{{l}}} 150"));
    has_line(
        &text,
        &format!("vip_agent_vrrp_effective_priority{{{l}}} 140"),
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_adverts_sent_total{{{l}}} 40"),
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_adverts_received_total{{{l}}} 3"),
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_priority_zero_adverts_received_total{{{l}}} 1"),
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_priority_zero_adverts_sent_total{{{l}}} 0"),
    );
    has_line(
        &text,
        r#"vip_agent_vrrp_transitions_total{from="BACKUP",interface="eth0",reason="master_down",to="MASTER",vrid="51",vrrp_instance="VI_1"} 1"#,
    );
    has_line(
        &text,
        r#"vip_agent_vrrp_transitions_total{from="INIT",interface="eth0",reason="startup",to="BACKUP",vrid="51",vrrp_instance="VI_1"} 1"#,
    );
    has_line(
        &text,
        r#"vip_agent_vrrp_adverts_discarded_total{interface="eth0",reason="checksum",vrid="51",vrrp_instance="VI_1"} 2"#,
    );
    has_line(
        &text,
        r#"vip_agent_vrrp_adverts_discarded_total{interface="eth0",reason="not_peer",vrid="51",vrrp_instance="VI_1"} 1"#,
    );
    // Every reason has its series, so a rate over it exists from the start.
    for cause in DiscardCause::ALL {
        assert!(
            text.contains(&format!(
                "vip_agent_vrrp_adverts_discarded_total{{interface=\"eth0\",reason=\"{}\"",
                cause.name()
            )),
            "{cause:?}"
        );
    }
    has_line(
        &text,
        r#"vip_agent_vrrp_vip_held{interface="eth0",vip="10.0.0.70/24",vrid="51",vrrp_instance="VI_1"} 1"#,
    );
    has_line(
        &text,
        r#"vip_agent_vrrp_vip_held{interface="eth0",vip="10.0.0.71/24",vrid="51",vrrp_instance="VI_1"} 0"#,
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_last_transition_age_seconds{{{l}}} 2.5"),
    );
    has_line(
        &text,
        &format!("vip_agent_vrrp_last_transition_timestamp_seconds{{{l}}} 1699999997.5"),
    );
}

#[test]
fn an_instance_that_never_changed_state_has_no_transition_age() {
    let text = rendered(&Snapshot {
        instances: vec![fresh()],
        xdp: None,
    });
    lacks(&text, "vip_agent_vrrp_last_transition_age_seconds{");
    lacks(&text, "vip_agent_vrrp_last_transition_timestamp_seconds{");
    lacks(&text, "vip_agent_vrrp_transitions_total{");
    has_line(
        &text,
        r#"vip_agent_vrrp_vip_held{interface="eth1",vip="2001:db8::70/64",vrid="52",vrrp_instance="VI_2"} 0"#,
    );
}

#[test]
fn xdp_counters_are_per_interface_with_its_name() {
    let text = rendered(&Snapshot {
        instances: vec![master()],
        xdp: Some(xdp(Some(Duration::from_millis(250)))),
    });
    has_line(&text, "vip_agent_xdp_enabled 1");
    has_line(&text, "vip_agent_xdp_fenced 0");
    has_line(&text, "vip_agent_xdp_heartbeat_age_seconds 0.25");
    has_line(&text, "vip_agent_xdp_fence_bound_seconds 2");
    for (name, value) in [
        ("vip_agent_xdp_arp_requests_total", 10),
        ("vip_agent_xdp_arp_replies_sent_total", 6),
        ("vip_agent_xdp_arp_requests_passed_total", 3),
        ("vip_agent_xdp_arp_requests_fenced_total", 1),
        ("vip_agent_xdp_arp_other_frames_total", 0),
        ("vip_agent_xdp_neighbor_solicitations_total", 4),
        ("vip_agent_xdp_neighbor_advertisements_sent_total", 4),
        ("vip_agent_xdp_neighbor_solicitations_passed_total", 0),
        ("vip_agent_xdp_neighbor_solicitations_fenced_total", 0),
        ("vip_agent_xdp_vrrp_short_frames_total", 0),
        ("vip_agent_xdp_vrrp_fragments_dropped_total", 2),
    ] {
        has_line(&text, &format!("{name}{{interface=\"eth0\"}} {value}"));
    }
    let key = r#"family="ipv4",interface="eth0""#;
    has_line(
        &text,
        &format!("vip_agent_xdp_vrrp_frames_total{{{key},vrid=\"51\"}} 12"),
    );
    has_line(
        &text,
        &format!("vip_agent_xdp_vrrp_adverts_valid_total{{{key},vrid=\"51\"}} 9"),
    );
    has_line(
        &text,
        &format!("vip_agent_xdp_vrrp_dropped_total{{{key},reason=\"checksum\",vrid=\"51\"}} 2"),
    );
    has_line(
        &text,
        &format!("vip_agent_xdp_vrrp_dropped_total{{{key},reason=\"ttl\",vrid=\"51\"}} 1"),
    );
    has_line(
        &text,
        &format!("vip_agent_xdp_vrrp_dropped_total{{{key},reason=\"not_peer\",vrid=\"51\"}} 0"),
    );
    lacks(&text, "vrid=\"7\"");
}

#[test]
fn fencing_follows_the_heartbeat_age() {
    let fenced = |age| xdp(age).fenced();
    assert!(!fenced(Some(Duration::from_millis(500))));
    assert!(!fenced(Some(Duration::from_secs(2))), "at the bound");
    assert!(fenced(Some(Duration::from_millis(2001))));
    assert!(fenced(None), "a heartbeat never written answers nothing");
    let text = rendered(&Snapshot {
        instances: Vec::new(),
        xdp: Some(xdp(None)),
    });
    has_line(&text, "vip_agent_xdp_fenced 1");
    lacks(&text, "vip_agent_xdp_heartbeat_age_seconds");
}

#[test]
fn without_a_fast_path_there_are_no_xdp_series() {
    let text = rendered(&Snapshot {
        instances: vec![master()],
        xdp: None,
    });
    has_line(&text, "vip_agent_xdp_enabled 0");
    lacks(&text, "vip_agent_xdp_fenced");
    lacks(&text, "vip_agent_xdp_arp");
    has_line(
        &text,
        &format!(
            "vip_agent_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
    );
}

/// The conventions `promtool check metrics` lints (the integration test
/// runs promtool itself): every family has HELP and TYPE, counters end in
/// `_total` and nothing else does, names are snake_case.
#[test]
fn every_family_has_help_and_a_conventional_name() {
    let text = rendered(&Snapshot {
        instances: vec![master(), fresh()],
        xdp: Some(xdp(Some(Duration::from_millis(250)))),
    });
    let mut families = 0;
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line.split(' ').skip(2);
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        families += 1;
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} ")) && l.len() > name.len() + 12),
            "{name} has no HELP"
        );
        assert!(name.starts_with("vip_agent_"), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}"
        );
    }
    assert!(families >= 30, "{families} families:\n{text}");
}

#[test]
fn label_values_are_escaped() {
    let mut odd = fresh();
    odd.name = "a \"quoted\" \\ name".into();
    let text = rendered(&Snapshot {
        instances: vec![odd],
        xdp: None,
    });
    assert!(
        text.contains(r#"vrrp_instance="a \"quoted\" \\ name""#),
        "{text}"
    );
}

#[test]
fn only_get_metrics_is_served() {
    assert_eq!(route(&Method::GET, "/metrics"), Route::Metrics);
    assert_eq!(route(&Method::POST, "/metrics"), Route::MethodNotAllowed);
    assert_eq!(route(&Method::GET, "/"), Route::NotFound);
    assert_eq!(route(&Method::GET, "/metrics/"), Route::NotFound);
    assert_eq!(route(&Method::GET, "/status"), Route::NotFound);
}
