//! Start, waiting for the system, crash leftovers, re-created interfaces,
//! shutdown and the heartbeat.

use super::*;

/// XDP and the instance's policy come before its socket; nothing is sent
/// before the socket is reported open.
#[test]
fn the_policy_comes_before_xdp_xdp_before_the_socket_and_the_socket_before_any_advert() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    let attach = position(&effects, |e| matches!(e, Effect::AttachXdp { .. })).unwrap();
    let policy = position(&effects, |e| {
        matches!(e, Effect::SetPolicy { vrid: 51, .. })
    })
    .unwrap();
    let socket = position(&effects, |e| matches!(e, Effect::OpenSocket { .. })).unwrap();
    let advert = position(&effects, |e| matches!(e, Effect::SendAdvert { .. })).unwrap();
    assert!(
        policy < attach && attach < socket && socket < advert,
        "{effects:#?}"
    );
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

/// A socket that cannot be opened leaves the instance waiting, with a note
/// in its status, and is asked for again on the retry interval.
#[test]
fn a_socket_that_fails_waits_with_a_note_and_is_retried() {
    let mut h = Harness::new(two_interfaces());
    h.refuse_sockets.push("eth0".into());
    h.start(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    assert_eq!(h.state("VI_1"), None);
    assert!(h
        .status("VI_1")
        .note
        .unwrap()
        .contains("cannot open the VRRP socket"));
    h.refuse_sockets.clear();
    h.run_until(crate::agent::core::RETRY_INTERVAL);
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(h.status("VI_1").note, None);
    let opens = h.logged(|e| matches!(e, Effect::OpenSocket { .. }).then_some(()));
    assert_eq!(opens.len(), 2);
}

/// At start, a VIP with a finite lifetime is a crashed run's leftover and
/// goes before anything else; a permanent one is the operator's and stays.
#[test]
fn crash_leftovers_go_first_permanent_addresses_stay() {
    let mut system = two_interfaces();
    for a in [
        address(ETH0, "10.0.0.100", 24, Some(7)),
        address(ETH0, "10.0.0.200", 24, None),
    ] {
        system.apply(&NetEvent::AddressAdded(a));
    }
    let mut h = Harness::new(system);
    let effects = h.start(&format!(
        "{}{}",
        instance("VI_1", 51, 100, "10.0.0.100/24", ""),
        instance("VI_2", 52, 100, "10.0.0.200/24", "")
    ));
    assert_eq!(
        effects[0],
        Effect::DelVip {
            ifindex: ETH0,
            address: ip("10.0.0.100"),
            prefix_len: 24
        }
    );
    let deleted = effects
        .iter()
        .filter(|e| matches!(e, Effect::DelVip { .. }))
        .count();
    assert_eq!(deleted, 1, "{effects:#?}");
}

/// An operator's permanent address that is also a VIP: the Master
/// announces it and XDP answers for it, but its lifetime is never touched
/// (a refresh would make it expire with the agent) and leaving Master does
/// not remove it.
#[test]
fn a_permanent_vip_is_never_given_a_lifetime_nor_removed() {
    let mut system = two_interfaces();
    system.apply(&NetEvent::AddressAdded(address(
        ETH0,
        "10.0.0.200",
        24,
        None,
    )));
    let mut h = Harness::new(system);
    h.start(&instance("VI_2", 52, 100, "10.0.0.200/24", ""));
    h.run_until(secs(5));
    assert_eq!(h.state("VI_2"), Some(State::Master));
    // Past several lifetime refreshes.
    h.run_until(secs(60));
    h.advert("10.0.0.2", 52, 200, &["10.0.0.200"]);
    assert_eq!(h.state("VI_2"), Some(State::Backup));
    let touched = h.logged(|e| match e {
        Effect::AddVip { address, .. } | Effect::DelVip { address, .. } => Some(*address),
        _ => None,
    });
    assert!(touched.is_empty(), "{touched:?}");
    let owned = h.logged(|e| match e {
        Effect::SetOwned { vip, .. } => Some(*vip),
        _ => None,
    });
    assert!(
        owned.iter().any(|(_, vip)| *vip == ip("10.0.0.200")),
        "{owned:?}"
    );
    let kept = h.core.system().address(ETH0, ip("10.0.0.200"), 24).cloned();
    assert_eq!(kept.map(|a| a.valid_lft), Some(None));
}

/// An instance whose interface does not exist waits (noting why) and
/// starts as soon as the interface and its address appear.
#[test]
fn an_instance_waits_for_its_interface_and_its_address() {
    let mut h = Harness::new(two_interfaces());
    let conf = instance("VI_1", 51, 255, "10.0.0.100/24", "").replace("eth0", "eth7");
    h.start(&conf);
    assert!(h
        .status("VI_1")
        .note
        .unwrap()
        .contains("eth7 does not exist"));
    h.link_change(link(9, "eth7", [2, 0, 0, 0, 0, 9], true));
    assert!(h.status("VI_1").note.unwrap().contains("no IPv4 address"));
    assert_eq!(h.state("VI_1"), None);
    h.net_event(NetEvent::AddressAdded(address(9, "10.9.0.1", 24, None)));
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

/// Shutdown: the Master resigns with priority 0, XDP lets go before the
/// address, the policy and the socket go, notify_stop runs.
#[test]
fn shutdown_resigns_and_releases_everything() {
    let mut h = Harness::started(&instance("VI_1", 51, 255, "10.0.0.100/24", ""));
    let effects = h.core.shutdown(h.now);
    assert_eq!(sent_adverts(&effects), vec![(ip("224.0.0.18"), 0)]);
    let cleared = position(&effects, |e| matches!(e, Effect::ClearOwned { .. })).unwrap();
    let deleted = position(&effects, |e| matches!(e, Effect::DelVip { .. })).unwrap();
    assert!(cleared < deleted);
    assert!(effects.contains(&Effect::RemovePolicy {
        ifindex: ETH0,
        vrid: 51,
        ipv6: false
    }));
    assert!(effects.contains(&Effect::CloseSocket { key: v4_key() }));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Notify {
            state: crate::agent::notify::NotifyState::Stop,
            ..
        }
    )));
}

/// A re-created interface (same name, new index) gets a new socket, its
/// policy under the new index and a new XDP attachment.
#[test]
fn a_recreated_interface_gets_a_new_socket_policy_and_attachment() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    let removed = h.net_event(NetEvent::Link(LinkEvent::Removed {
        ifindex: ETH0,
        name: "eth0".into(),
    }));
    assert!(removed.contains(&Effect::ForgetXdp {
        interface: "eth0".into()
    }));
    assert!(removed.contains(&Effect::CloseSocket { key: v4_key() }));
    assert!(
        removed.contains(&Effect::LinkGone { ifindex: ETH0 }),
        "the packet socket of the old index goes"
    );
    let status = h.status("VI_1");
    assert_eq!(
        status.note.as_deref(),
        Some("interface eth0 is gone; waiting for it to come back")
    );
    assert_eq!(status.state, "FAULT");
    // No socket is asked for while there is no interface to bind it to.
    let waiting = h.run_until(h.now + crate::agent::core::RETRY_INTERVAL * 3);
    assert!(
        !waiting
            .iter()
            .any(|e| matches!(e, Effect::OpenSocket { .. })),
        "{waiting:?}"
    );
    let effects = h.link_change(link(12, "eth0", MAC0, true));
    assert_eq!(h.status("VI_1").note, None, "back: no note");
    assert!(effects.contains(&Effect::AttachXdp {
        interface: "eth0".into()
    }));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::OpenSocket { spec, .. } if spec.ifindex == 12)));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetPolicy {
            ifindex: 12,
            vrid: 51,
            ..
        }
    )));
}

#[test]
fn the_heartbeat_beats_four_times_per_fence_bound() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    h.run_until(secs(2));
    let beats: Vec<Duration> = h
        .logged(|e| (*e == Effect::Heartbeat).then_some(()))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        beats,
        vec![Duration::ZERO, ms(500), ms(1000), ms(1500), ms(2000)]
    );
}

/// Unicast: adverts from an address that is not a peer are counted and
/// take no part in the election.
#[test]
fn unicast_adverts_from_non_peers_are_counted_and_ignored() {
    let conf = instance(
        "VI_1",
        51,
        100,
        "10.0.0.100/24",
        "  unicast_peer {\n    10.0.0.2\n  }",
    );
    let mut h = Harness::started(&conf);
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    h.advert("10.0.0.9", 51, 200, &["10.0.0.100"]);
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert_eq!(h.slot("VI_1").counters.adverts_discarded, 1);
    h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
}

/// A running instance whose socket could not be re-opened (a new multicast
/// group from a reload) gets it asked for again on the retry interval.
#[test]
fn a_lost_socket_of_a_running_instance_is_asked_for_again() {
    let conf = |group: &str| {
        format!(
            "global_defs {{\n  vrrp_mcast_group4 {group}\n}}\n{}",
            instance("VI_1", 51, 255, "10.0.0.100/24", "")
        )
    };
    let mut h = Harness::started(&conf("224.0.0.18"));
    h.refuse_sockets.push("eth0".into());
    h.reload(&conf("224.0.0.99"));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    h.refuse_sockets.clear();
    let effects = h.run_until(crate::agent::core::RETRY_INTERVAL);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::OpenSocket { spec, .. } if spec.group == Some(ip("224.0.0.99"))
    )));
    assert_eq!(
        h.core.sockets.get(&v4_key()).map(|s| s.group),
        Some(Some(ip("224.0.0.99")))
    );
}

/// A crashed Master's state as its pinned fast path and the interface
/// show it: VIP 10.0.0.100/24 on eth0 with a finite lifetime, owned by
/// VRID 51, last heartbeat `age` ago.
fn after_a_crash(age: Duration, lifetime: Option<u32>) -> (Harness, PreviousRun) {
    let mut system = two_interfaces();
    system.apply(&NetEvent::AddressAdded(address(
        ETH0,
        "10.0.0.100",
        24,
        lifetime,
    )));
    let previous = PreviousRun {
        heartbeat_age: age,
        owned: vec![crate::dataplane::OwnedVip {
            ifindex: ETH0,
            vip: ip("10.0.0.100"),
            vrid: 51,
        }],
        interfaces: vec!["eth0".into(), "eth1".into()],
    };
    (Harness::new(system), previous)
}

/// Restarted within Master_Down_Interval less the margin, with its VIPs in
/// place: Master at once, its advert and the VIPs' renewal in the first
/// batch, nothing removed.
#[test]
fn a_quick_restart_resumes_as_master_without_failover() {
    let (mut h, previous) = after_a_crash(ms(400), Some(6));
    let effects = h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    assert_eq!(h.state("VI_1"), Some(State::Master));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::DelVip { .. })),
        "{effects:#?}"
    );
    assert_eq!(sent_adverts(&effects), vec![(ip("224.0.0.18"), 200)]);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::AddVip { .. })),
        "lifetimes renewed"
    );
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::SetOwned { vrid: 51, .. })));
}

/// The margin: at advert_int 1 and priority 200, Master_Down_Interval is
/// 3.219 s; less one interval and the 250 ms allowance, a heartbeat up to
/// 1.969 s old resumes, an older one does not (the leftover goes and the
/// instance starts as Backup).
#[test]
fn a_restart_after_the_margin_removes_the_leftover_and_starts_as_backup() {
    let (mut h, previous) = after_a_crash(ms(1968), Some(6));
    h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    assert_eq!(h.state("VI_1"), Some(State::Master));

    let (mut h, previous) = after_a_crash(ms(1970), Some(6));
    let effects = h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert_eq!(
        effects[0],
        Effect::DelVip {
            ifindex: ETH0,
            address: ip("10.0.0.100"),
            prefix_len: 24
        }
    );
}

/// Anything inconsistent means no resume: a VIP missing, a permanent
/// address (not the agent's), ownership of another VRID.
#[test]
fn an_inconsistent_previous_run_is_not_resumed() {
    let conf = instance("VI_1", 51, 200, "10.0.0.100/24\n    10.0.0.101/24", "");
    let (mut h, previous) = after_a_crash(ms(100), Some(6));
    h.start_after(&conf, Some(&previous));
    assert_eq!(
        h.state("VI_1"),
        Some(State::Backup),
        "10.0.0.101 is missing"
    );

    let (mut h, previous) = after_a_crash(ms(100), None);
    h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    assert_eq!(h.state("VI_1"), Some(State::Backup), "a permanent address");

    let (mut h, mut previous) = after_a_crash(ms(100), Some(6));
    previous.owned[0].vrid = 52;
    h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    assert_eq!(
        h.state("VI_1"),
        Some(State::Backup),
        "another VRID owned it"
    );
}

/// A resumed Master still yields to a higher priority by the RFC's rules.
#[test]
fn a_resumed_master_yields_to_a_higher_priority() {
    let (mut h, previous) = after_a_crash(ms(100), Some(6));
    h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    let effects = h.advert("10.0.0.2", 51, 250, &["10.0.0.100"]);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert!(effects.iter().any(|e| matches!(e, Effect::DelVip { .. })));
}

/// The previous run's attachment to an interface this configuration no
/// longer uses is detached; the one in use is kept.
#[test]
fn a_taken_over_attachment_nobody_uses_is_detached() {
    let (mut h, previous) = after_a_crash(ms(100), Some(6));
    let effects = h.start_after(
        &instance("VI_1", 51, 200, "10.0.0.100/24", ""),
        Some(&previous),
    );
    let detached: Vec<&Effect> = effects
        .iter()
        .filter(|e| matches!(e, Effect::DetachXdp { .. }))
        .collect();
    assert_eq!(
        detached,
        vec![&Effect::DetachXdp {
            interface: "eth1".into()
        }]
    );
}

/// The accept policy goes into XDP with the ownership itself: a non-owner
/// Master without `accept` refuses traffic to its VIPs; `accept`, or the
/// owner at 255, accepts it.
#[test]
fn the_ownership_carries_the_accept_policy() {
    let accept_of = |priority: u8, extra: &str| {
        let mut h = Harness::new(two_interfaces());
        h.start(&instance("VI_1", 51, priority, "10.0.0.100/24", extra));
        h.run_until(secs(5));
        assert_eq!(h.state("VI_1"), Some(State::Master));
        let owned = h.logged(|e| match e {
            Effect::SetOwned { vip, accept, .. } => Some((*vip, *accept)),
            _ => None,
        });
        assert!(!owned.is_empty());
        assert!(owned.iter().all(|(_, (vip, _))| *vip == ip("10.0.0.100")));
        owned[0].1 .1
    };
    // keepalived's default outside vrrp_strict is to accept.
    assert!(accept_of(100, ""));
    assert!(!accept_of(100, "  no_accept"));
    assert!(accept_of(100, "  accept"));
    assert!(accept_of(255, ""));
    assert!(accept_of(255, "  no_accept"));
}
