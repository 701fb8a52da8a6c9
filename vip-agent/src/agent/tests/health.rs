//! Trackers and sync groups through the core.

use super::*;
use crate::agent::scripts::ScriptResult;

/// Two owners, VI_1 on eth0 and VI_2 on eth1, in one sync group.
fn sync_pair(group_extra: &str) -> String {
    format!(
        "vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n{group_extra}\n}}\n{}\
         vrrp_instance VI_2 {{\n  interface eth1\n  virtual_router_id 52\n  priority 255\n  advert_int 1\n  \
         virtual_ipaddress {{\n    192.168.1.100/24\n  }}\n}}\n",
        instance("VI_1", 51, 255, "10.0.0.100/24", "")
    )
}

/// A member whose interface goes down takes the whole group to FAULT (its
/// VIPs and the other member's go); the link coming back brings both back.
#[test]
fn a_member_in_fault_takes_its_sync_group_to_fault_and_back() {
    let mut h = Harness::started(&sync_pair(""));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    let effects = h.link_change(link(ETH1, "eth1", MAC1, false));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Fault), Some(State::Fault))
    );
    let released: Vec<IpAddr> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::DelVip { address, .. } => Some(*address),
            _ => None,
        })
        .collect();
    assert_eq!(released.len(), 2, "{released:?}");
    assert!(released.contains(&ip("10.0.0.100")) && released.contains(&ip("192.168.1.100")));
    assert!(h.slot("VI_2").health.own_fault() && !h.slot("VI_1").health.own_fault());
    h.link_change(link(ETH1, "eth1", MAC1, true));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
}

/// A sync group's weight-0 script counts for every member.
#[test]
fn a_sync_group_script_failing_faults_every_member() {
    let conf = format!(
        "vrrp_script chk {{\n  script \"/bin/true\"\n  weight 0\n}}\n{}",
        sync_pair("  track_script {\n    chk\n  }")
    );
    let mut h = Harness::started(&conf);
    assert_eq!(h.state("VI_1"), Some(State::Master));
    h.core.on_script(
        ScriptResult {
            name: "chk".into(),
            ok: false,
        },
        h.now,
    );
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Fault), Some(State::Fault))
    );
    let effects = h.core.on_script(
        ScriptResult {
            name: "chk".into(),
            ok: true,
        },
        h.now,
    );
    h.record(effects);
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
}

/// A failing script with a negative weight lowers the priority the Master
/// advertises; its recovery restores it.
#[test]
fn a_failing_weighted_script_lowers_the_advertised_priority() {
    let conf = format!(
        "vrrp_script chk {{\n  script \"/bin/true\"\n  weight -20\n}}\n{}",
        instance(
            "VI_1",
            51,
            100,
            "10.0.0.100/24",
            "  track_script {\n    chk\n  }"
        )
    );
    let mut h = Harness::started(&conf);
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let effects = h.core.on_script(
        ScriptResult {
            name: "chk".into(),
            ok: false,
        },
        h.now,
    );
    h.record(effects);
    assert_eq!(h.status("VI_1").effective_priority, 80);
    let next = h.run_until(secs(5));
    assert_eq!(sent_adverts(&next), vec![(ip("224.0.0.18"), 80)]);
    let effects = h.core.on_script(
        ScriptResult {
            name: "chk".into(),
            ok: true,
        },
        h.now,
    );
    h.record(effects);
    let next = h.run_until(secs(6));
    assert_eq!(sent_adverts(&next), vec![(ip("224.0.0.18"), 100)]);
}

/// track_interface: weight 0 faults while the interface is down, a
/// positive weight adds while it is up; `reverse` swaps the two.
#[test]
fn tracked_interfaces_fault_or_weigh() {
    let conf = instance(
        "VI_1",
        51,
        100,
        "10.0.0.100/24",
        "  track_interface {\n    eth1 weight 10\n    eth2\n  }",
    );
    let mut h = Harness::new(SystemView::new(
        vec![
            link(ETH0, "eth0", MAC0, true),
            link(ETH1, "eth1", MAC1, true),
            link(4, "eth2", [2, 0, 0, 0, 0, 4], true),
        ],
        vec![address(ETH0, "10.0.0.1", 24, None)],
    ));
    h.start(&conf);
    assert_eq!(h.status("VI_1").effective_priority, 110);
    h.link_change(link(ETH1, "eth1", MAC1, false));
    assert_eq!(h.status("VI_1").effective_priority, 100);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    h.link_change(link(4, "eth2", [2, 0, 0, 0, 0, 4], false));
    assert_eq!(h.state("VI_1"), Some(State::Fault));
    h.link_change(link(4, "eth2", [2, 0, 0, 0, 0, 4], true));
    assert_eq!(h.state("VI_1"), Some(State::Backup));
}

/// keepalived's vrrp_sync_can_goto_master: a member whose Master is gone
/// waits while another member still hears its Master (the group's VIPs stay
/// together on the other router), and the group goes Master as one when
/// every member can.
#[test]
fn a_sync_group_goes_master_only_when_every_member_can() {
    let conf = format!(
        "vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n{}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", ""),
        instance("VI_2", 52, 100, "10.0.0.101/24", "")
    );
    let mut h = Harness::started(&conf);
    for second in 1..=12 {
        h.run_until(secs(second));
        h.advert("10.0.0.9", 51, 150, &["10.0.0.100"]);
        assert_eq!(
            (h.state("VI_1"), h.state("VI_2")),
            (Some(State::Backup), Some(State::Backup)),
            "at {second} s"
        );
    }
    assert!(h.slot("VI_2").wants_master() && !h.slot("VI_1").wants_master());

    // The other router goes quiet: VI_1's timer expires, and both go Master.
    let effects = h.run_until(secs(17));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    let added: Vec<IpAddr> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::AddVip { address, .. } => Some(*address),
            _ => None,
        })
        .collect();
    assert!(added.contains(&ip("10.0.0.100")) && added.contains(&ip("10.0.0.101")));
    let reasons: Vec<&str> = h
        .slot("VI_2")
        .counters
        .transitions
        .keys()
        .filter(|t| t.to == "MASTER")
        .map(|t| t.reason)
        .collect();
    assert_eq!(reasons, ["sync_group"]);
}
