//! Reload: what stays, what goes, what is handed over.

use super::*;

fn owner(extra_global: &str) -> String {
    format!(
        "global_defs {{\n{extra_global}\n}}\n{}",
        instance("VI_1", 51, 255, "10.0.0.100/24", "")
    )
}

fn vip_removals(effects: &[Effect], vip: IpAddr) -> (usize, usize) {
    let cleared = effects
        .iter()
        .filter(|e| matches!(e, Effect::ClearOwned { vip: v, .. } if *v == vip))
        .count();
    let deleted = effects
        .iter()
        .filter(|e| matches!(e, Effect::DelVip { address, .. } if *address == vip))
        .count();
    (cleared, deleted)
}

#[test]
fn an_unchanged_instance_keeps_running_untouched() {
    let mut h = Harness::started(&owner(""));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let effects = h.reload(&owner(""));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert!(
        !effects.iter().any(|e| matches!(
            e,
            Effect::DelVip { .. }
                | Effect::ClearOwned { .. }
                | Effect::Notify { .. }
                | Effect::SendAdvert { .. }
                | Effect::OpenSocket { .. }
        )),
        "{effects:?}"
    );
    assert_eq!(h.slot("VI_1").counters.became_master, 1);
}

/// An instance the reload does not change runs under the new global_defs:
/// a new multicast group re-opens the socket on it and the next adverts go
/// there, without a restart of the instance.
#[test]
fn an_unchanged_instance_takes_the_new_global_defs() {
    let mut h = Harness::started(&owner(""));
    let effects = h.reload(&owner("vrrp_mcast_group4 224.0.0.99"));
    let reopened: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenSocket { spec, .. } => Some(spec.group),
            _ => None,
        })
        .collect();
    assert_eq!(reopened, vec![Some(ip("224.0.0.99"))]);
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::Notify { .. } | Effect::DelVip { .. })));
    let next = h.run_until(secs(1));
    assert_eq!(sent_adverts(&next), vec![(ip("224.0.0.99"), 255)]);
    assert_eq!(h.slot("VI_1").counters.became_master, 1, "not restarted");
}

/// v3_checksum_as_v2 from a reload applies to the running instance's next
/// advert (its checksum changes, nothing else).
#[test]
fn an_unchanged_instance_takes_the_new_checksum_mode() {
    let conf = |global: &str| {
        format!(
            "global_defs {{\n{global}\n}}\n{}",
            instance("VI_1", 51, 255, "10.0.0.100/24", "version 3")
        )
    };
    let mut h = Harness::started(&conf(""));
    let payload = |effects: &[Effect]| {
        effects
            .iter()
            .find_map(|e| match e {
                Effect::SendAdvert { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .unwrap()
    };
    let before = payload(&h.run_until(secs(1)));
    h.reload(&conf("v3_checksum_as_v2"));
    let after = payload(&h.run_until(secs(2)));
    assert_eq!(before[..6], after[..6]);
    assert_ne!(before[6..8], after[6..8], "checksum computed another way");
}

/// A Master removed by a reload while a new instance merely lists its VIP
/// releases the VIP entirely: the XDP ownership entry and the address go,
/// since the new instance starts as Backup and holds nothing.
#[test]
fn a_removed_master_releases_a_vip_another_instance_only_lists() {
    let mut h = Harness::started(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let effects = h.reload(&instance("VI_2", 52, 100, "10.0.0.100/24", ""));
    assert_eq!(h.state("VI_2"), Some(State::Backup));
    assert_eq!(vip_removals(&effects, ip("10.0.0.100")), (1, 1));
    assert!(!h.status("VI_2").holds_vips);
}

/// A changed Master hands its VIPs to its successor without a blink: no
/// removal, no priority-0 advert; the successor is Master at once.
#[test]
fn a_changed_master_hands_over_to_its_successor() {
    let mut h = Harness::started(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    let effects = h.reload(&instance(
        "VI_1",
        51,
        254,
        "10.0.0.100/24\n    10.0.0.101/24",
        "",
    ));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(vip_removals(&effects, ip("10.0.0.100")), (0, 0));
    assert!(
        sent_adverts(&effects).iter().all(|&(_, p)| p != 0),
        "{effects:?}"
    );
    let added: Vec<IpAddr> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::AddVip { address, .. } => Some(*address),
            _ => None,
        })
        .collect();
    assert_eq!(added, vec![ip("10.0.0.100"), ip("10.0.0.101")]);
}

/// A successor that comes up in fault takes no VIP, so the handed-over
/// ones are released rather than left installed.
#[test]
fn a_successor_in_fault_releases_the_handed_over_vips() {
    let mut h = Harness::started(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    let faulty = instance(
        "VI_1",
        51,
        254,
        "10.0.0.100/24",
        "  track_interface {\n    eth9\n  }",
    );
    let effects = h.reload(&faulty);
    assert_eq!(h.state("VI_1"), Some(State::Fault));
    assert_eq!(vip_removals(&effects, ip("10.0.0.100")), (1, 1));
}

/// A removed Backup stops quietly; its socket closes with the last user.
#[test]
fn a_removed_instance_stops_and_its_socket_closes() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    let effects = h.reload(&instance("VI_6", 56, 100, "fd00::100/64", "  native_ipv6"));
    assert!(effects.contains(&Effect::RemovePolicy {
        ifindex: ETH0,
        vrid: 51,
        ipv6: false
    }));
    assert!(
        effects.contains(&Effect::CloseSocket { key: v4_key() }),
        "{effects:#?}"
    );
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::DetachXdp { .. })),
        "eth0 is still in use"
    );
    assert!(
        sent_adverts(&effects).is_empty(),
        "a Backup sends no priority 0"
    );
}

/// A script keeps its verdict across a reload; a new one starts as
/// `init_fail` says.
#[test]
fn script_verdicts_survive_a_reload() {
    let conf = |scripts: &str, tracked: &str| {
        format!(
            "{scripts}\n{}",
            instance(
                "VI_1",
                51,
                100,
                "10.0.0.100/24",
                &format!("  track_script {{\n{tracked}\n  }}")
            )
        )
    };
    let chk = "vrrp_script chk {\n  script \"/bin/true\"\n}\n";
    let new = "vrrp_script new {\n  script \"/bin/true\"\n  init_fail\n}\n";
    let mut h = Harness::started(&conf(chk, "    chk"));
    h.core.on_script(
        crate::agent::scripts::ScriptResult {
            name: "chk".into(),
            ok: false,
        },
        h.now,
    );
    let effects = h.reload(&conf(&format!("{chk}{new}"), "    chk\n    new"));
    let started: Vec<(String, bool)> = effects
        .iter()
        .find_map(|e| match e {
            Effect::RunScripts { scripts, .. } => Some(
                scripts
                    .iter()
                    .map(|(s, ok)| (s.name.clone(), *ok))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        started,
        vec![("chk".to_string(), false), ("new".to_string(), false)]
    );
}

/// A reload that leaves an interface without instances detaches XDP there.
#[test]
fn an_interface_no_instance_uses_any_more_is_detached() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    let eth1 = instance("VI_2", 52, 100, "192.168.1.100/24", "").replace("eth0", "eth1");
    let effects = h.reload(&eth1);
    assert!(
        effects.contains(&Effect::DetachXdp {
            interface: "eth0".into()
        }),
        "{effects:#?}"
    );
    let removed = position(&effects, |e| matches!(e, Effect::RemovePolicy { .. })).unwrap();
    let detached = position(&effects, |e| matches!(e, Effect::DetachXdp { .. })).unwrap();
    assert!(removed < detached);
}

/// A reload that puts two running instances into a sync group restarts
/// them as members: the one that was Master alone does not stay Master
/// while the other hears a better router (the group's VIPs stay together).
#[test]
fn a_reload_adding_a_sync_group_makes_its_members_wait_for_each_other() {
    let instances = format!(
        "{}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", ""),
        instance("VI_2", 52, 100, "10.0.0.101/24", "")
    );
    let mut h = Harness::started(&instances);
    for second in 1..=6 {
        h.run_until(secs(second));
        h.advert("10.0.0.9", 51, 150, &["10.0.0.100"]);
    }
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Backup), Some(State::Master))
    );
    let grouped =
        format!("vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n{instances}");
    h.reload(&grouped);
    assert!(h.slot("VI_1").spec.sync_group && h.slot("VI_2").spec.sync_group);
    for second in 7..=20 {
        h.run_until(secs(second));
        h.advert("10.0.0.9", 51, 150, &["10.0.0.100"]);
    }
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Backup), Some(State::Backup))
    );

    // Out of the group again: VI_2 is on its own and becomes Master.
    h.reload(&instances);
    assert!(!h.slot("VI_2").spec.sync_group);
    for second in 21..=30 {
        h.run_until(secs(second));
        h.advert("10.0.0.9", 51, 150, &["10.0.0.100"]);
    }
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Backup), Some(State::Master))
    );
}
