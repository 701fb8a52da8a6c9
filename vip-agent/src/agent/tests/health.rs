//! Trackers and sync groups through the core.

use super::*;
use crate::agent::{scripts::ScriptResult, trackers::TrackerReport};

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
    assert_ownership_moves_before_frames(&effects, &["10.0.0.100", "192.168.1.100"]);
    assert!(h.slot("VI_2").health.own_fault() && !h.slot("VI_1").health.own_fault());
    let effects = h.link_change(link(ETH1, "eth1", MAC1, true));
    let effects = [effects, h.run_until(h.now + secs(4))].concat();
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    assert_ownership_moves_before_frames(&effects, &["10.0.0.100", "192.168.1.100"]);
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
    assert_ownership_moves_before_frames(&effects, &["10.0.0.100", "10.0.0.101"]);
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

fn file_report(h: &mut Harness, name: &str, value: i64) {
    let effects = h.core.on_tracker(
        TrackerReport::File {
            name: name.into(),
            value,
        },
        h.now,
    );
    h.record(effects);
}

fn process_report(h: &mut Harness, name: &str, up: bool) {
    let effects = h.core.on_tracker(
        TrackerReport::Process {
            name: name.into(),
            up,
        },
        h.now,
    );
    h.record(effects);
}

/// The file's value times the weight goes into the priority the Master
/// advertises; a value that takes it to -254 or below is a fault.
#[test]
fn a_tracked_file_value_weighs_on_the_advertised_priority() {
    let conf = format!(
        "track_file f {{\n  file /run/f\n  weight -10\n}}\n{}",
        instance(
            "VI_1",
            51,
            100,
            "10.0.0.100/24",
            "  track_file {\n    f\n  }"
        )
    );
    let mut h = Harness::started(&conf);
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    file_report(&mut h, "f", 3);
    assert_eq!(h.status("VI_1").effective_priority, 70);
    let next = h.run_until(secs(5));
    assert_eq!(sent_adverts(&next), vec![(ip("224.0.0.18"), 70)]);
    file_report(&mut h, "f", -500);
    assert_eq!(
        h.status("VI_1").effective_priority,
        254,
        "at most 253 added, and the priority stays below 255"
    );
    file_report(&mut h, "f", -10);
    assert_eq!(h.status("VI_1").effective_priority, 200);
    file_report(&mut h, "f", 26);
    assert_eq!(h.state("VI_1"), Some(State::Fault));
    file_report(&mut h, "f", 0);
    assert_ne!(h.state("VI_1"), Some(State::Fault));
    assert_eq!(h.status("VI_1").effective_priority, 100);
}

/// A weight-0 file (the instance's line overriding the file's weight) puts
/// the instance in FAULT while it holds a non-zero value.
#[test]
fn a_weight_zero_file_with_a_non_zero_value_is_a_fault() {
    let conf = format!(
        "track_file f {{\n  file /run/f\n}}\n{}",
        instance(
            "VI_1",
            51,
            100,
            "10.0.0.100/24",
            "  track_file {\n    f weight 0\n  }"
        )
    );
    let mut h = Harness::started(&conf);
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    file_report(&mut h, "f", 1);
    assert_eq!(h.state("VI_1"), Some(State::Fault));
    file_report(&mut h, "f", 0);
    h.run_until(secs(8));
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

/// A process tracker (weight 0 by default) faults while its quorum is
/// lost; a sync group's counts for every member; a weighted one lowers.
#[test]
fn a_process_tracker_without_quorum_faults_or_weighs() {
    let conf = format!(
        "vrrp_track_process p {{\n  process sleep\n}}\n\
         vrrp_track_process q {{\n  process nginx\n  weight -30\n}}\n{}",
        sync_pair("  track_process {\n    p\n  }")
    )
    .replace(
        "  advert_int 1\n  virtual_ipaddress {\n    10.0.0.100/24",
        "  advert_int 1\n  track_process {\n    q\n  }\n  virtual_ipaddress {\n    10.0.0.100/24",
    );
    let conf = conf.replace("priority 255", "priority 200");
    let mut h = Harness::started(&conf);
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    process_report(&mut h, "q", false);
    assert_eq!(h.status("VI_1").effective_priority, 170);
    assert_eq!(h.status("VI_2").effective_priority, 200);
    process_report(&mut h, "p", false);
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Fault), Some(State::Fault))
    );
    process_report(&mut h, "p", true);
    process_report(&mut h, "q", true);
    h.run_until(secs(8));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    assert_eq!(h.status("VI_1").effective_priority, 200);
}

/// Only the files and processes something tracks get a runner; a reload
/// keeps what a staying tracker reported and tells the runner it reloads.
#[test]
fn tracker_runners_start_with_what_is_tracked_and_restart_on_reload() {
    let sections = "track_file f {\n  file /run/f\n}\ntrack_file unused {\n  file /run/u\n}\n\
                    vrrp_track_process p {\n  process sleep\n}\n";
    let conf = format!(
        "{sections}{}",
        instance(
            "VI_1",
            51,
            100,
            "10.0.0.100/24",
            "  track_file {\n    f weight -10\n  }\n  track_process {\n    p\n  }"
        )
    );
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&conf);
    let runs: Vec<(Vec<String>, Vec<String>, bool)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::RunTrackers {
                files,
                processes,
                reload,
            } => Some((
                files.iter().map(|f| f.name.clone()).collect(),
                processes.iter().map(|p| p.name.clone()).collect(),
                *reload,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(runs, vec![(vec!["f".into()], vec!["p".into()], false)]);
    file_report(&mut h, "f", 2);
    assert_eq!(h.status("VI_1").effective_priority, 80);
    let effects = h.reload(&conf);
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::RunTrackers { reload: true, .. })));
    assert_eq!(
        h.status("VI_1").effective_priority,
        80,
        "kept across the reload"
    );
}
