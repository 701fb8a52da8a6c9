//! Gratuitous ARP / NA and VIP refresh as the core schedules them.

use super::*;
use crate::agent::announce::FRAMES_PER_SLICE;
use crate::net::netlink::Requester;

fn owner(global: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n{global}\n}}\n{}",
        instance("VI_1", 51, 255, "10.0.0.100/24\n    10.0.0.101/24", extra)
    )
}

/// Frames sent per instant of the log.
fn frames_by_time(h: &Harness) -> Vec<(Duration, usize)> {
    let mut out: Vec<(Duration, usize)> = Vec::new();
    for (t, n) in h.logged(|e| match e {
        Effect::SendFrames { frames, .. } => Some(frames.len()),
        _ => None,
    }) {
        match out.last_mut() {
            Some((last, total)) if *last == t => *total += n,
            _ => out.push((t, n)),
        }
    }
    out
}

/// Ownership first, then the addresses, then the announcements:
/// `garp_master_repeat` rounds at once and again after `garp_master_delay`.
#[test]
fn a_new_master_owns_adds_then_announces_its_vips() {
    let mut h = Harness::new(two_interfaces());
    let effects = h.start(&owner("", "  garp_master_repeat 3\n  garp_master_delay 4"));
    let owned = position(&effects, |e| matches!(e, Effect::SetOwned { .. })).unwrap();
    let added = position(&effects, |e| matches!(e, Effect::AddVip { .. })).unwrap();
    assert!(owned < added, "{effects:?}");
    assert_eq!(
        frames_sent(&effects),
        6,
        "the unspaced first burst leaves with the decision"
    );
    h.run_until(secs(10));
    assert_eq!(frames_by_time(&h), vec![(Duration::ZERO, 6), (secs(4), 6)]);
    let frames = h.logged(|e| match e {
        Effect::SendFrames { ifindex, frames } => Some((*ifindex, frames[0].clone())),
        _ => None,
    });
    let (ifindex, first) = &frames[0].1;
    assert_eq!(*ifindex, ETH0);
    assert_eq!(
        first.as_slice(),
        crate::net::announce::gratuitous_arp(MAC0, "10.0.0.100".parse().unwrap()).as_slice()
    );
}

/// `garp_master_refresh_repeat` rounds are spaced by `vrrp_garp_interval`
/// like the first burst, not sent back-to-back.
#[test]
fn refresh_bursts_are_spaced_by_the_garp_interval() {
    let mut h = Harness::new(two_interfaces());
    h.start(&owner(
        "vrrp_garp_interval 0.01",
        "  garp_master_repeat 1\n  garp_master_delay 0\n  garp_master_refresh 2\n  garp_master_refresh_repeat 3",
    ));
    h.run_until(ms(2500));
    assert_eq!(
        frames_by_time(&h),
        vec![
            (Duration::ZERO, 2),
            (secs(2), 2),
            (ms(2010), 2),
            (ms(2020), 2)
        ]
    );
}

/// `garp_master_repeat 1000000` is sent in slices: no wakeup sends more
/// than FRAMES_PER_SLICE frames, the heartbeat keeps its period and the
/// adverts their interval while the million frames go out.
#[test]
fn a_million_announcements_never_stall_the_heartbeat_or_the_adverts() {
    let mut h = Harness::new(two_interfaces());
    // Each wakeup costs 50 us of virtual time, as sending a slice would.
    h.wakeup_cost = Duration::from_micros(50);
    h.start(&owner(
        "",
        "  garp_master_repeat 1000000\n  garp_master_delay 0",
    ));
    h.run_until(secs(4));
    let per_wakeup = frames_by_time(&h);
    assert!(
        per_wakeup.iter().all(|&(_, n)| n <= FRAMES_PER_SLICE),
        "a wakeup sent more than a slice"
    );
    let total: usize = per_wakeup.iter().map(|&(_, n)| n).sum();
    assert_eq!(total, 2_000_000, "a million rounds of two VIPs");
    let last_frame = per_wakeup.last().unwrap().0;
    assert!(
        last_frame > secs(1),
        "the burst spans adverts: {last_frame:?}"
    );
    let beats: Vec<Duration> = h
        .logged(|e| (*e == Effect::Heartbeat).then_some(()))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let longest = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest <= FENCE_BOUND / 4 + h.wakeup_cost,
        "heartbeat gap {longest:?}"
    );
    let adverts: Vec<Duration> = h
        .logged(|e| matches!(e, Effect::SendAdvert { .. }).then_some(()))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let gaps: Vec<Duration> = adverts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|&g| g <= secs(1) + h.wakeup_cost),
        "advert gaps {gaps:?}"
    );
    assert!(adverts.len() >= 4, "{adverts:?}");
}

#[test]
fn a_master_renews_its_vips_every_third_of_their_lifetime() {
    let mut h = Harness::started(&owner("", ""));
    h.run_until(secs(10));
    let renewals: Vec<Duration> = h
        .logged(|e| match e {
            Effect::AddVip {
                address, lifetime, ..
            } if *address == ip("10.0.0.100") => {
                assert_eq!(*lifetime, VIP_LIFETIME);
                Some(())
            }
            _ => None,
        })
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(renewals, vec![Duration::ZERO, secs(3), secs(6), secs(9)]);
}

/// A Master that steps down stops announcing: the delayed burst and the
/// refreshes it had planned are not sent; XDP lets go before the address.
#[test]
fn a_master_that_steps_down_stops_announcing() {
    let mut h = Harness::new(two_interfaces());
    h.start(&instance(
        "VI_1",
        51,
        100,
        "10.0.0.100/24",
        "  garp_master_refresh 1",
    ));
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let became = h.log.len();
    let effects = h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    let cleared = position(&effects, |e| matches!(e, Effect::ClearOwned { .. })).unwrap();
    let deleted = position(&effects, |e| matches!(e, Effect::DelVip { .. })).unwrap();
    assert!(cleared < deleted);
    // The new Master goes on advertising.
    for t in 5..20 {
        h.run_until(secs(t));
        h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    }
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    assert_eq!(
        frames_sent(
            &h.log[became..]
                .iter()
                .map(|(_, e)| e.clone())
                .collect::<Vec<_>>()
        ),
        0
    );
}

/// IPv6: unsolicited NAs leave from the interface's link-local address.
#[test]
fn an_ipv6_master_announces_with_neighbour_advertisements() {
    let mut h = Harness::new(two_interfaces());
    h.start(&instance(
        "VI_6",
        56,
        255,
        "fd00::100/64",
        "  version 3\n  garp_master_repeat 1\n  garp_master_delay 0",
    ));
    h.run_until(ms(1));
    let frames = h.logged(|e| match e {
        Effect::SendFrames { frames, .. } => Some(frames.clone()),
        _ => None,
    });
    assert_eq!(h.state("VI_6"), Some(State::Master));
    let expected = crate::net::announce::unsolicited_na(
        MAC0,
        "fe80::1".parse().unwrap(),
        "fd00::100".parse().unwrap(),
    );
    assert_eq!(frames, vec![(Duration::ZERO, vec![expected])]);
}

/// A VIP removed by hand from a Master goes back at once and is announced
/// again; the status never claims it while it is gone.
#[test]
fn a_vip_removed_by_hand_is_restored_and_announced_again() {
    let mut h = Harness::started(&owner("", "  garp_master_repeat 1\n  garp_master_delay 0"));
    h.run_until(secs(1));
    assert!(h.status("VI_1").holds_vips);
    let removed = address(ETH0, "10.0.0.101", 24, Some(9));
    let effects = h.core.on_net_event(
        &NetEvent::AddressRemoved {
            address: removed,
            by: Requester::Other("netlink port 4242".into()),
        },
        h.now,
    );
    assert!(
        !h.slot("VI_1").status(h.core.system()).holds_vips,
        "not claimed while gone"
    );
    assert_eq!(
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::AddVip { address, .. } => Some(*address),
                _ => None,
            })
            .collect::<Vec<_>>(),
        vec![ip("10.0.0.101")]
    );
    assert_eq!(
        frames_sent(&effects),
        2,
        "a new round for both VIPs at once"
    );
    h.record(effects);
    assert!(h.status("VI_1").holds_vips);
}

/// Only a held VIP is restored: one a Backup lists, or one the agent
/// removed itself, is left alone.
#[test]
fn an_address_not_held_is_not_restored() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    let effects = h.net_event(NetEvent::AddressRemoved {
        address: address(ETH0, "10.0.0.100", 24, Some(9)),
        by: Requester::Kernel,
    });
    assert!(!effects.iter().any(|e| matches!(e, Effect::AddVip { .. })));
}

/// The agent's own removal (a crashed run's leftover going just before the
/// instance takes the VIP again) is not someone else's: nothing to restore.
#[test]
fn the_agents_own_removal_is_not_restored() {
    let mut h = Harness::started(&owner("", ""));
    let effects = h.core.on_net_event(
        &NetEvent::AddressRemoved {
            address: address(ETH0, "10.0.0.100", 24, Some(9)),
            by: Requester::Agent,
        },
        h.now,
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::AddVip { .. })));
}

/// keepalived: a Master hearing a lower-priority Master sends
/// `garp_lower_prio_repeat` rounds at once and again after
/// `garp_lower_prio_delay` (the other router may hold the switches' MAC
/// entries of the VIPs); by default the global master burst's settings.
#[test]
fn a_master_hearing_a_lower_priority_master_announces_again() {
    let mut h = Harness::new(two_interfaces());
    h.start(&owner(
        "",
        "  garp_master_repeat 1\n  garp_master_delay 0\n  garp_lower_prio_repeat 2\n  \
         garp_lower_prio_delay 3",
    ));
    h.run_until(secs(10));
    assert_eq!(frames_by_time(&h), vec![(Duration::ZERO, 2)]);
    let effects = h.advert("10.0.0.9", 51, 100, &["10.0.0.100", "10.0.0.101"]);
    assert_eq!(frames_sent(&effects), 4, "two rounds of two VIPs at once");
    h.run_until(secs(20));
    assert_eq!(
        frames_by_time(&h),
        vec![(Duration::ZERO, 2), (secs(10), 4), (secs(13), 4)]
    );

    // Unset, it is the global one: vrrp_garp_lower_prio_repeat, else
    // vrrp_garp_master_repeat (5), not the instance's garp_master_repeat.
    let mut h = Harness::new(two_interfaces());
    h.start(&owner("", "  garp_master_repeat 1\n  garp_master_delay 0"));
    h.run_until(secs(10));
    let effects = h.advert("10.0.0.9", 51, 100, &["10.0.0.100", "10.0.0.101"]);
    assert_eq!(frames_sent(&effects), 5 * 2);
}
