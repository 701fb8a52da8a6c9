//! Notifications as keepalived 2.2.7 sends them: instance and sync-group
//! lines for the notify FIFOs (in keepalived's order), the priority they
//! tell, the Master that hears a lower priority, what a reload changes;
//! and the virtual addresses past what one advert carries.

use super::*;
use crate::agent::notify::{fifo_line, NotifyKind, NotifyState};

/// The FIFO lines of `effects`, in order.
fn lines(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify {
                kind,
                name,
                state,
                priority,
                ..
            } => Some(
                fifo_line(*kind, name, *state, *priority)
                    .trim_end()
                    .to_string(),
            ),
            _ => None,
        })
        .collect()
}

fn group_of_two(extra_global: &str) -> String {
    format!(
        "global_defs {{\n  notify_fifo /run/test.fifo\n{extra_global}\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n  notify /bin/group-notify\n}}\n{}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", ""),
        instance("VI_2", 52, 100, "10.0.0.101/24", "")
    )
}

#[test]
fn a_sync_group_is_announced_around_its_members_as_keepalived_does() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&group_of_two(""));
    // The FIFOs are set up before anything is written to them.
    let fifos = position(&effects, |e| matches!(e, Effect::NotifyFifos(_))).unwrap();
    assert!(fifos < position(&effects, |e| matches!(e, Effect::Notify { .. })).unwrap());
    assert_eq!(
        lines(&effects),
        [
            "GROUP \"G\" BACKUP 0",
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_2\" BACKUP 100",
        ]
    );
    let effects = h.run_until(secs(5));
    assert_eq!(
        lines(&effects),
        [
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_2\" MASTER 100",
            "GROUP \"G\" MASTER 0",
        ]
    );
    // The group's own notify script is told with GROUP and priority 0.
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Notify { kind: NotifyKind::Group, scripts, state: NotifyState::Master, .. }
            if scripts.any.as_ref().is_some_and(|c| c.command == "/bin/group-notify")
    )));
    // A higher priority for VI_1 elsewhere: the group is no longer Master.
    let effects = h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    assert_eq!(
        lines(&effects),
        ["INSTANCE \"VI_1\" BACKUP 100", "GROUP \"G\" BACKUP 0"]
    );
    // Stopping: every member, then the group.
    let mut effects = h.core.begin_shutdown(h.now);
    assert_eq!(effects[0], Effect::EndFifoScripts);
    effects.extend(h.core.shutdown(h.now));
    assert_eq!(
        lines(&effects),
        [
            "INSTANCE \"VI_1\" STOP 100",
            "INSTANCE \"VI_2\" STOP 100",
            "GROUP \"G\" STOP 0",
        ]
    );
    assert_eq!(effects.last(), Some(&Effect::CloseFifos));
}

#[test]
fn a_member_in_fault_faults_the_group() {
    let mut h = Harness::new(two_interfaces());
    h.start(&group_of_two(""));
    h.run_until(secs(5));
    let effects = h.link_change(link(ETH0, "eth0", MAC0, false));
    let lines = lines(&effects);
    assert_eq!(lines[0], "INSTANCE \"VI_1\" FAULT 100", "{lines:?}");
    assert_eq!(lines[1], "GROUP \"G\" FAULT 0", "{lines:?}");
    assert!(lines.contains(&"INSTANCE \"VI_2\" FAULT 100".to_string()));
}

#[test]
fn a_group_of_address_owners_starts_as_master_without_a_line() {
    let mut h = Harness::new(two_interfaces());
    let text = group_of_two("").replace("priority 100", "priority 255");
    let effects = h.start(&text);
    assert_eq!(
        lines(&effects),
        [
            "INSTANCE \"VI_1\" MASTER 255",
            "INSTANCE \"VI_2\" MASTER 255"
        ]
    );
}

/// keepalived tells the priority the instance runs with, trackers included.
#[test]
fn stop_tells_the_effective_priority() {
    let text = format!(
        "vrrp_script up {{\n  script /bin/true\n  weight 20\n}}\n{}",
        instance(
            "VI_1",
            51,
            100,
            "10.0.0.100/24",
            "  track_script {\n    up\n  }"
        )
    );
    let mut h = Harness::started(&text);
    h.run_until(secs(5));
    let effects = h.core.shutdown(h.now);
    assert_eq!(lines(&effects), ["INSTANCE \"VI_1\" STOP 120"]);
}

#[test]
fn a_master_that_hears_a_lower_priority_master_says_so() {
    let mut h = Harness::started(&instance("VI_1", 51, 150, "10.0.0.100/24", ""));
    h.run_until(secs(5));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let effects = h.advert("10.0.0.2", 51, 100, &["10.0.0.100"]);
    assert_eq!(
        lines(&effects),
        ["INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150"]
    );
    // Only the FIFO hears it: no script is told.
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Notify {
            state: NotifyState::MasterRxLowerPri,
            ..
        }
    )));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    // A higher one takes over; a resigning one (priority 0) is no Master.
    assert!(lines(&h.advert("10.0.0.2", 51, 0, &["10.0.0.100"])).is_empty());
}

#[test]
fn reload_gives_running_instances_the_new_script_user_and_fifos() {
    let base = instance("VI_1", 51, 100, "10.0.0.100/24", "  notify /bin/notify");
    let mut h = Harness::started(&base);
    h.run_until(secs(5));
    let with_globals = format!(
        "global_defs {{\n  script_user nobody nogroup\n  vrrp_notify_fifo /run/v.fifo\n  \
         fifo_write_vrrp_states_on_reload\n}}\n{base}"
    );
    let effects = h.reload(&with_globals);
    let settings = effects
        .iter()
        .find_map(|e| match e {
            Effect::NotifyFifos(settings) => Some(settings.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(settings.fifos[0].path, "/run/v.fifo");
    assert_eq!(
        settings.default_user.as_ref().map(|u| u.user.as_str()),
        Some("nobody")
    );
    // The instance kept running; its state goes to the FIFO, no script runs.
    assert_eq!(h.slot("VI_1").counters.became_master, 1);
    assert_eq!(lines(&effects), ["INSTANCE \"VI_1\" MASTER 100"]);
    assert!(effects.iter().all(|e| !matches!(
        e,
        Effect::Notify { scripts, .. } if scripts.any.is_some()
    )));
    // Its next notification runs the script as the new script_user.
    let effects = h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    let users: Vec<Option<String>> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify { default_user, .. } => {
                Some(default_user.as_ref().map(|u| u.user.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(users, [Some("nobody".to_string())]);
    // Without the FIFOs in the file, they are closed.
    let effects = h.reload(&base);
    assert!(effects.contains(&Effect::NotifyFifos(Box::default())));
}

/// `vrrp_garp_master_refresh` from a reload reaches a running Master
/// without a restart (no new MASTER notification, no new burst).
#[test]
fn reload_retunes_a_running_masters_refresh() {
    let text = |global: &str| {
        format!(
            "global_defs {{\n{global}\n}}\n{}",
            instance("VI_1", 51, 255, "10.0.0.100/24", "")
        )
    };
    let mut h = Harness::started(&text("  vrrp_garp_master_delay 0"));
    h.run_until(secs(10));
    assert_eq!(frames_sent(&h.run_until(secs(20))), 0, "no refresh yet");
    let effects = h.reload(&text(
        "  vrrp_garp_master_delay 0\n  vrrp_garp_master_refresh 2\n  vrrp_garp_master_refresh_repeat 3",
    ));
    assert!(lines(&effects).is_empty(), "{effects:?}");
    assert_eq!(frames_sent(&effects), 0);
    assert_eq!(h.slot("VI_1").counters.became_master, 1);
    // Every 2 s, 3 frames for the one VIP.
    assert_eq!(frames_sent(&h.run_until(secs(20) + ms(2100))), 3);
    assert_eq!(frames_sent(&h.run_until(secs(20) + ms(6100))), 6);
}

fn many_vips(count: usize, v6: bool) -> String {
    let vips: Vec<String> = (0..count)
        .map(|i| {
            if v6 {
                format!("    2001:db8::{:x}/64", i + 0x100)
            } else {
                format!("    10.1.{}.{}/16", i / 250, i % 250 + 1)
            }
        })
        .collect();
    format!(
        "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  priority 255\n  \
         advert_int 1\n  virtual_ipaddress {{\n{}\n  }}\n}}\n",
        vips.join("\n")
    )
}

fn advertised_count(effects: &[Effect]) -> Vec<u8> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SendAdvert { payload, .. } => Some(payload[3]),
            _ => None,
        })
        .collect()
}

fn installed(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::AddVip { .. }))
        .count()
}

/// 300 addresses: the adverts carry the first 255 and are sent; all 300 are
/// installed (the rest as excluded ones), so no Master goes silent.
#[test]
fn a_master_with_more_vips_than_an_advert_carries_still_advertises() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&many_vips(300, false));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(advertised_count(&effects), [255]);
    assert_eq!(installed(&effects), 300);
    assert_eq!(h.slot("VI_1").counters.adverts_sent, 1);
    let effects = h.run_until(secs(3));
    assert_eq!(advertised_count(&effects), [255, 255, 255]);
}

/// IPv6 on a 1500-byte MTU: 89 addresses per advert, as keepalived counts;
/// a jumbo MTU carries no more than the fast path validates (90).
#[test]
fn ipv6_adverts_carry_what_the_interfaces_mtu_allows() {
    let v6 = |mtu: u32| {
        let mut system = two_interfaces();
        system.apply(&NetEvent::Link(LinkEvent::Changed(Link {
            mtu,
            ..link(ETH0, "eth0", MAC0, true)
        })));
        let mut h = Harness::new(system);
        let effects = h.start(&many_vips(120, true).replace("advert_int 1", "version 3"));
        (advertised_count(&effects), installed(&effects))
    };
    assert_eq!(v6(1500), (vec![89], 120));
    assert_eq!(v6(9000), (vec![90], 120));
    assert_eq!(v6(1280), (vec![((1280 - 62) / 16) as u8], 120));
}

/// keepalived's notify_priority_changes: each change of the effective
/// priority is a FIFO line, MASTER_PRIORITY from a Master and
/// BACKUP_PRIORITY from any other state; without it, none.
#[test]
fn priority_changes_are_told_with_notify_priority_changes() {
    let conf = |extra: &str| {
        format!(
            "vrrp_script chk {{\n  script /bin/true\n  weight -30\n}}\n{}",
            instance(
                "VI_1",
                51,
                150,
                "10.0.0.100/24",
                &format!("  track_script {{\n    chk\n  }}\n{extra}")
            )
        )
    };
    let verdict = |h: &mut Harness, ok: bool| {
        let effects = h.core.on_script(
            crate::agent::scripts::ScriptResult {
                name: "chk".into(),
                ok,
            },
            h.now,
        );
        lines(&h.record(effects))
    };
    let mut h = Harness::started(&conf("  notify_priority_changes"));
    h.run_until(secs(5));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(
        verdict(&mut h, false),
        ["INSTANCE \"VI_1\" MASTER_PRIORITY 120"]
    );
    assert_eq!(
        verdict(&mut h, true),
        ["INSTANCE \"VI_1\" MASTER_PRIORITY 150"]
    );
    assert!(verdict(&mut h, true).is_empty(), "no change, no line");

    let mut h = Harness::started(&conf(""));
    h.run_until(secs(5));
    assert!(verdict(&mut h, false).is_empty());
}

/// keepalived's clear_diff_vrrp: an instance a reload removes is told as
/// FAULT (the old way, kept as the default), as DELETED with
/// notify_deleted (running its script), and not at all when it was in
/// FAULT already; an instance the reload only changes is told as STOP.
#[test]
fn an_instance_removed_by_reload_is_told_as_fault_or_deleted() {
    let kept = instance("VI_1", 51, 150, "10.0.0.100/24", "");
    let removed = |extra: &str| instance("VI_2", 52, 100, "10.0.0.101/24", extra);
    let mut h = Harness::started(&format!("{kept}{}", removed("")));
    h.run_until(secs(5));
    assert_eq!(lines(&h.reload(&kept)), ["INSTANCE \"VI_2\" FAULT 100"]);

    let mut h = Harness::started(&format!(
        "{kept}{}",
        removed("  notify_deleted \"/bin/deleted VI_2\"")
    ));
    h.run_until(secs(5));
    let effects = h.reload(&kept);
    assert_eq!(lines(&effects), ["INSTANCE \"VI_2\" DELETED 100"]);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Notify { scripts, state: NotifyState::Deleted, .. }
            if scripts.deleted.as_ref().map(|c| c.command.as_str()) == Some("/bin/deleted VI_2")
    )));

    // A change is not a removal.
    let mut h = Harness::started(&format!("{kept}{}", removed("")));
    h.run_until(secs(5));
    let changed = kept.replace("priority 150", "priority 160");
    let effects = h.reload(&format!("{changed}{}", removed("")));
    assert!(
        lines(&effects)
            .iter()
            .all(|l| !l.contains("FAULT") && !l.contains("DELETED")),
        "{:?}",
        lines(&effects)
    );
}
