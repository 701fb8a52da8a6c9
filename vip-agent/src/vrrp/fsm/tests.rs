//! One test per protocol rule, on a virtual clock (plain `Duration`s).
//!
//! keepalived 2.2.7 findings (observed against /usr/sbin/keepalived in
//! network namespaces, scripts and raw output under
//! tests/fixtures/vrrp/keepalived-behaviour/):
//! (a) `state MASTER`, priority 100, advert_int 1: "Entering BACKUP STATE
//!     (init)", first advert 3.637 s after start; `state BACKUP`: 3.639 s.
//!     Master_Down_Interval is 3.609 s: `state MASTER` changes nothing below
//!     priority 255. With priority 255, `state MASTER` sends at 0.016 s, but
//!     `state BACKUP` waits 3.023 s (keepalived departs from RFC 5798 6.4.1
//!     there; we follow the RFC: an owner is Master at once).
//! (b) `state MASTER` + `nopreempt`: "Warning - nopreempt will not work with
//!     initial state MASTER - clearing"; the instance starts as Backup and
//!     preempts a priority-50 Master ("received lower priority (50) advert -
//!     discarding", Master after 3.63 s). The same with `state BACKUP`
//!     stays Backup behind the priority-50 Master: nopreempt is what was
//!     cleared.
//! (c) a priority-100 Master receiving priority-50 adverts answers each at
//!     once ("forcing new election", 1 ms later) and its next periodic advert
//!     comes one interval after that answer, not after the previous one.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::vrrp::packet::{Auth, DecodeError, Version};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v2_params(priority: u8) -> Params {
    Params {
        vrid: 50,
        version: ProtocolVersion::V2,
        priority,
        adver_int: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        accept_mode: false,
        primary_address: ip("172.17.0.2"),
        vips: vec![ip("192.168.200.11")],
        initial_state: InitialState::Backup,
        auth: Auth::None,
        sync_group: false,
        unicast_peers: Vec::new(),
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        down_timer_adverts: DOWN_TIMER_ADVERTS,
    }
}

fn v3_params(priority: u8, interval: Duration) -> Params {
    Params {
        version: ProtocolVersion::V3,
        adver_int: interval,
        ..v2_params(priority)
    }
}

fn started(params: Params) -> Instance {
    let mut instance = Instance::new(params).unwrap();
    instance.handle(Event::Start, Duration::ZERO);
    instance
}

/// An advertisement as the other router of the same instance would send it.
fn advert_from(instance: &Instance, priority: u8) -> Advertisement {
    Advertisement {
        priority,
        ..instance.advertisement(priority)
    }
}

fn rx(instance: &mut Instance, advert: Advertisement, src: &str, now: Duration) -> Vec<Action> {
    instance.handle(
        Event::Advert {
            advert,
            src: ip(src),
            ttl: 255,
        },
        now,
    )
}

fn rx_prio(instance: &mut Instance, priority: u8, src: &str, now: Duration) -> Vec<Action> {
    let advert = advert_from(instance, priority);
    rx(instance, advert, src, now)
}

fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some(adv.priority),
            _ => None,
        })
        .collect()
}

fn armed(actions: &[Action], timer: Timer) -> Option<Duration> {
    actions.iter().rev().find_map(|a| match a {
        Action::ArmTimer { timer: t, deadline } if *t == timer => Some(*deadline),
        _ => None,
    })
}

fn notified(actions: &[Action]) -> Option<(State, State, TransitionReason)> {
    actions.iter().find_map(|a| match a {
        Action::Notify { from, to, reason } => Some((*from, *to, *reason)),
        _ => None,
    })
}

#[test]
fn rfc5798_6_4_1_owner_priority_255_becomes_master_at_startup() {
    let mut instance = Instance::new(v2_params(255)).unwrap();
    let actions = instance.handle(Event::Start, ms(5));
    assert_eq!(instance.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![255]);
    assert_eq!(armed(&actions, Timer::Adver), Some(ms(1005)));
    assert!(actions.contains(&Action::AnnounceVips(vec![ip("192.168.200.11")])));
    assert_eq!(
        notified(&actions),
        Some((
            State::Initialize,
            State::Master,
            TransitionReason::AddressOwner
        ))
    );
}

#[test]
fn rfc5798_6_4_1_non_owner_starts_backup_with_master_down_timer() {
    let mut instance = Instance::new(v2_params(100)).unwrap();
    let actions = instance.handle(Event::Start, ms(5));
    assert_eq!(instance.state(), State::Backup);
    assert!(sent_priorities(&actions).is_empty());
    // 3 * 1 s + (256 - 100) / 256 s = 3.609375 s
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(ms(5) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn rfc3768_6_1_v2_skew_time_is_256_minus_priority_over_256_seconds() {
    let instance = started(Params {
        adver_int: Duration::from_secs(2),
        ..v2_params(100)
    });
    // Independent of the advertisement interval in VRRPv2.
    assert_eq!(instance.skew_time(), Duration::from_micros(609_375));
    assert_eq!(
        instance.master_down_interval(),
        Duration::from_micros(6_609_375)
    );
}

#[test]
fn rfc5798_6_1_v3_skew_time_scales_with_master_adver_interval() {
    let instance = started(v3_params(100, ms(10)));
    // ((256 - 100) * 10 ms) / 256 = 6.09375 ms
    assert_eq!(instance.skew_time(), Duration::from_nanos(6_093_750));
    assert_eq!(
        instance.master_down_interval(),
        ms(30) + Duration::from_nanos(6_093_750)
    );
}

#[test]
fn rfc5798_6_4_2_backup_adopts_the_masters_advertised_interval() {
    let mut instance = started(v3_params(100, ms(100)));
    let mut advert = advert_from(&instance, 200);
    advert.version = Version::V3 {
        max_adver_int_cs: 50,
    };
    let actions = rx(&mut instance, advert, "172.17.0.3", ms(1000));
    assert_eq!(instance.master_adver_interval(), ms(500));
    // 3 * 500 ms + 156 * 500 ms / 256
    let expected = ms(1000) + ms(1500) + Duration::from_nanos(304_687_500);
    assert_eq!(armed(&actions, Timer::MasterDown), Some(expected));
}

#[test]
fn rfc5798_6_4_2_master_down_timer_fires_backup_becomes_master() {
    let mut instance = started(v2_params(100));
    let deadline = instance.timer_deadline(Timer::MasterDown).unwrap();
    let actions = instance.handle(Event::TimerFired(Timer::MasterDown), deadline);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(
        armed(&actions, Timer::Adver),
        Some(deadline + Duration::from_secs(1))
    );
    // Addresses go in (and to XDP) before they are announced.
    let add = actions
        .iter()
        .position(|a| matches!(a, Action::AddVips { .. }))
        .unwrap();
    let announce = actions
        .iter()
        .position(|a| matches!(a, Action::AnnounceVips(_)))
        .unwrap();
    assert!(add < announce);
    // Announced before the advert: a Master that resigned (make-before-break)
    // lets go of the addresses on that advert.
    let advert = actions
        .iter()
        .position(|a| matches!(a, Action::SendAdvert(_)))
        .unwrap();
    assert!(announce < advert);
}

#[test]
fn rfc5798_6_4_2_stale_timer_is_ignored() {
    let mut instance = started(v2_params(100));
    let first = instance.timer_deadline(Timer::MasterDown).unwrap();
    rx_prio(&mut instance, 150, "172.17.0.3", ms(1000));
    // The old deadline fires after the advert re-armed the timer.
    let actions = instance.handle(Event::TimerFired(Timer::MasterDown), first);
    assert!(actions.is_empty());
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn rfc5798_6_4_2_backup_priority_zero_sets_master_down_timer_to_skew_time() {
    let mut instance = started(v2_params(100));
    let actions = rx_prio(&mut instance, 0, "172.17.0.3", ms(2000));
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(ms(2000) + Duration::from_micros(609_375))
    );
}

#[test]
fn rfc5798_6_4_2_backup_with_preempt_discards_lower_priority_advert() {
    let mut instance = started(v2_params(100));
    let before = instance.timer_deadline(Timer::MasterDown);
    let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(1000));
    assert!(actions.is_empty());
    assert_eq!(instance.timer_deadline(Timer::MasterDown), before);
}

#[test]
fn rfc5798_6_4_2_backup_without_preempt_accepts_lower_priority_advert() {
    let mut instance = started(Params {
        preempt: false,
        ..v2_params(100)
    });
    let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(1000));
    // Skew follows the local priority: 3 s + 156/256 s.
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(ms(1000) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn rfc5798_6_4_2_backup_accepts_equal_or_higher_priority_advert() {
    let mut instance = started(v2_params(100));
    for (priority, at) in [(100, 1000), (101, 2000)] {
        let actions = rx_prio(&mut instance, priority, "172.17.0.1", ms(at));
        assert_eq!(
            armed(&actions, Timer::MasterDown),
            Some(ms(at) + Duration::from_micros(3_609_375))
        );
    }
}

fn master(params: Params) -> Instance {
    let mut instance = started(params);
    let deadline = instance.timer_deadline(Timer::MasterDown).unwrap();
    instance.handle(Event::TimerFired(Timer::MasterDown), deadline);
    assert_eq!(instance.state(), State::Master);
    instance
}

#[test]
fn rfc5798_6_4_3_adver_timer_fires_master_sends_and_rearms() {
    let mut instance = master(v2_params(100));
    let deadline = instance.timer_deadline(Timer::Adver).unwrap();
    let actions = instance.handle(Event::TimerFired(Timer::Adver), deadline);
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(
        armed(&actions, Timer::Adver),
        Some(deadline + Duration::from_secs(1))
    );
}

#[test]
fn rfc5798_6_4_3_master_answers_priority_zero_at_once() {
    let mut instance = master(v2_params(100));
    let actions = rx_prio(&mut instance, 0, "172.17.0.3", ms(5000));
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(armed(&actions, Timer::Adver), Some(ms(6000)));
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc5798_6_4_3_master_steps_down_on_higher_priority() {
    let mut instance = master(v3_params(100, ms(100)));
    let actions = rx_prio(&mut instance, 101, "172.17.0.1", ms(5000));
    assert_eq!(instance.state(), State::Backup);
    assert!(actions.contains(&Action::CancelTimer(Timer::Adver)));
    assert!(actions.contains(&Action::RemoveVips(vec![ip("192.168.200.11")])));
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(ms(5300) + Duration::from_nanos(156 * 100_000_000 / 256))
    );
    assert_eq!(
        notified(&actions),
        Some((
            State::Master,
            State::Backup,
            TransitionReason::HigherPriorityMaster
        ))
    );
}

#[test]
fn rfc5798_6_4_3_equal_priority_higher_primary_address_wins() {
    let mut instance = master(v2_params(100));
    // From 172.17.0.1 (lower than ours, .2): we stay Master.
    rx_prio(&mut instance, 100, "172.17.0.1", ms(5000));
    assert_eq!(instance.state(), State::Master);
    // From 172.17.0.3 (higher): we step down.
    rx_prio(&mut instance, 100, "172.17.0.3", ms(5100));
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn keepalived_master_answers_lower_priority_advert_at_once() {
    // Finding (c): keepalived sends at once and restarts the Adver_Timer;
    // RFC 5798 6.4.3 only says to discard.
    let mut instance = master(v2_params(100));
    let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(5120));
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(armed(&actions, Timer::Adver), Some(ms(6120)));
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc5798_6_4_3_shutdown_master_sends_priority_zero() {
    let mut instance = master(v2_params(100));
    let actions = instance.handle(Event::Shutdown, ms(9000));
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::CancelTimer(Timer::Adver)));
    assert!(actions.contains(&Action::RemoveVips(vec![ip("192.168.200.11")])));
    assert_eq!(instance.state(), State::Initialize);
}

#[test]
fn rfc5798_6_4_2_shutdown_backup_cancels_master_down_timer() {
    let mut instance = started(v2_params(100));
    let actions = instance.handle(Event::Shutdown, ms(1000));
    assert!(actions.contains(&Action::CancelTimer(Timer::MasterDown)));
    assert!(sent_priorities(&actions).is_empty());
    assert_eq!(instance.state(), State::Initialize);
}

#[test]
fn rfc5798_7_1_receive_checks_discard_bad_adverts() {
    let mut instance = started(Params {
        auth: Auth::simple_text("1212"),
        ..v2_params(100)
    });
    let good = advert_from(&instance, 150);
    let before = instance.timer_deadline(Timer::MasterDown);

    let actions = instance.handle(
        Event::Advert {
            advert: good.clone(),
            src: ip("172.17.0.3"),
            ttl: 254,
        },
        ms(1),
    );
    assert_eq!(
        actions,
        vec![Action::Discard(DiscardReason::Invalid(
            DecodeError::BadTtl(254)
        ))]
    );

    let wrong_vrid = Advertisement {
        vrid: 51,
        ..good.clone()
    };
    assert_eq!(
        rx(&mut instance, wrong_vrid, "172.17.0.3", ms(2)),
        vec![Action::Discard(DiscardReason::WrongVrid(51))]
    );

    let wrong_pass = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::simple_text("1213"),
        },
        ..good.clone()
    };
    assert_eq!(
        rx(&mut instance, wrong_pass, "172.17.0.3", ms(3)),
        vec![Action::Discard(DiscardReason::Invalid(
            DecodeError::AuthMismatch
        ))]
    );

    let v3 = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 100,
        },
        ..good.clone()
    };
    assert!(matches!(
        rx(&mut instance, v3, "172.17.0.3", ms(4)).as_slice(),
        [Action::Discard(DiscardReason::Invalid(
            DecodeError::VersionMismatch { .. }
        ))]
    ));
    assert_eq!(instance.timer_deadline(Timer::MasterDown), before);
}

#[test]
fn rfc3768_7_1_v2_advert_interval_must_match() {
    let mut instance = started(v2_params(100));
    let other = Advertisement {
        version: Version::V2 {
            adver_int_s: 2,
            auth: Auth::None,
        },
        ..advert_from(&instance, 150)
    };
    assert_eq!(
        rx(&mut instance, other, "172.17.0.3", ms(1)),
        vec![Action::Discard(DiscardReason::IntervalMismatch {
            ours_s: 1,
            theirs_s: 2
        })]
    );
}

#[test]
fn own_looped_back_advert_is_ignored() {
    let mut instance = master(v2_params(100));
    let actions = rx_prio(&mut instance, 100, "172.17.0.2", ms(5000));
    assert_eq!(actions, vec![Action::Discard(DiscardReason::OwnAdvert)]);
}

#[test]
fn keepalived_state_master_below_255_starts_as_backup() {
    // Finding (a).
    let mut instance = Instance::new(Params {
        initial_state: InitialState::Master,
        ..v2_params(100)
    })
    .unwrap();
    let actions = instance.handle(Event::Start, Duration::ZERO);
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(Duration::from_micros(3_609_375))
    );
}

#[test]
fn keepalived_state_master_clears_nopreempt() {
    // Finding (b): the docker-pair node1 configuration.
    let mut instance = started(Params {
        initial_state: InitialState::Master,
        preempt: false,
        ..v2_params(100)
    });
    assert!(instance.params().preempt);
    let before = instance.timer_deadline(Timer::MasterDown);
    rx_prio(&mut instance, 50, "172.17.0.3", ms(500));
    assert_eq!(instance.timer_deadline(Timer::MasterDown), before);
}

#[test]
fn tracker_weight_sets_effective_priority_but_never_an_owners_255() {
    let mut instance = started(v2_params(100));
    instance.handle(Event::TrackerWeight(-30), ms(1));
    assert_eq!(instance.effective_priority(), 70);
    instance.handle(Event::TrackerWeight(500), ms(2));
    assert_eq!(instance.effective_priority(), 254);
    instance.handle(Event::TrackerWeight(-500), ms(3));
    assert_eq!(instance.effective_priority(), 1);

    let mut owner = started(v2_params(255));
    owner.handle(Event::TrackerWeight(-50), ms(1));
    assert_eq!(owner.effective_priority(), 255);
    let deadline = owner.timer_deadline(Timer::Adver).unwrap();
    let actions = owner.handle(Event::TimerFired(Timer::Adver), deadline);
    assert_eq!(sent_priorities(&actions), vec![255]);
}

#[test]
fn tracker_weight_lowers_a_masters_advertised_priority() {
    let mut instance = master(v2_params(100));
    instance.handle(Event::TrackerWeight(-20), ms(4000));
    let deadline = instance.timer_deadline(Timer::Adver).unwrap();
    let actions = instance.handle(Event::TimerFired(Timer::Adver), deadline);
    assert_eq!(sent_priorities(&actions), vec![80]);
}

#[test]
fn keepalived_preempt_delay_tolerates_lower_priority_master_then_preempts() {
    let mut instance = started(Params {
        preempt_delay: Duration::from_secs(5),
        ..v2_params(100)
    });
    // A lower-priority Master is accepted for 5 s after it is first seen...
    for at in [1000, 2000, 3000, 4000, 5000] {
        let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(at));
        assert_eq!(
            armed(&actions, Timer::MasterDown),
            Some(ms(at) + Duration::from_micros(3_609_375)),
            "at {at} ms"
        );
    }
    // ...then discarded, so the Master_Down_Timer runs out.
    let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(6000));
    assert!(actions.is_empty());
    let deadline = instance.timer_deadline(Timer::MasterDown).unwrap();
    assert_eq!(deadline, ms(5000) + Duration::from_micros(3_609_375));
    instance.handle(Event::TimerFired(Timer::MasterDown), deadline);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc5798_6_1_accept_mode_is_passed_with_the_addresses() {
    let accepts = |params: Params| {
        let mut instance = started(params);
        let deadline = instance.timer_deadline(Timer::MasterDown);
        let actions = match deadline {
            Some(d) => instance.handle(Event::TimerFired(Timer::MasterDown), d),
            None => instance.handle(Event::Start, Duration::ZERO),
        };
        actions.iter().find_map(|a| match a {
            Action::AddVips { accept, .. } => Some(*accept),
            _ => None,
        })
    };
    assert_eq!(accepts(v2_params(100)), Some(false));
    assert_eq!(
        accepts(Params {
            accept_mode: true,
            ..v2_params(100)
        }),
        Some(true)
    );
    // The owner always accepts (it owns the addresses).
    let mut owner = Instance::new(v2_params(255)).unwrap();
    let actions = owner.handle(Event::Start, Duration::ZERO);
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::AddVips { accept: true, .. })));
}

#[test]
fn fault_makes_a_master_resign_and_clearing_it_restarts_as_backup() {
    let mut instance = master(v2_params(100));
    let actions = instance.handle(Event::FaultRaised, ms(5000));
    assert_eq!(instance.state(), State::Fault);
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::RemoveVips(vec![ip("192.168.200.11")])));
    // Adverts are not processed in Fault.
    let actions = rx_prio(&mut instance, 50, "172.17.0.3", ms(5500));
    assert_eq!(actions, vec![Action::Discard(DiscardReason::NotRunning)]);
    let actions = instance.handle(Event::FaultCleared, ms(6000));
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        armed(&actions, Timer::MasterDown),
        Some(ms(6000) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn fault_before_start_starts_in_fault() {
    let mut instance = Instance::new(v2_params(100)).unwrap();
    instance.handle(Event::FaultRaised, ms(0));
    instance.handle(Event::Start, ms(1));
    assert_eq!(instance.state(), State::Fault);
}

#[test]
fn params_are_validated() {
    let bad = |p: Params| Instance::new(p).unwrap_err();
    assert_eq!(
        bad(Params {
            vrid: 0,
            ..v2_params(100)
        }),
        ParamsError::ZeroVrid
    );
    assert_eq!(bad(v2_params(0)), ParamsError::ZeroPriority);
    assert!(matches!(
        bad(Params {
            adver_int: ms(500),
            ..v2_params(100)
        }),
        ParamsError::BadV2Interval(_)
    ));
    assert!(matches!(
        bad(v3_params(100, ms(5))),
        ParamsError::BadV3Interval(_)
    ));
    assert!(matches!(
        bad(v3_params(100, Duration::from_secs(41))),
        ParamsError::BadV3Interval(_)
    ));
    assert_eq!(
        bad(Params {
            auth: Auth::simple_text("x"),
            ..v3_params(100, ms(10))
        }),
        ParamsError::AuthWithV3
    );
    assert!(matches!(
        bad(Params {
            vips: vec![ip("2001:db8::1")],
            ..v3_params(100, ms(10))
        }),
        ParamsError::MixedFamilies(_)
    ));
}

/// A reload that changes a running Master's parameters: the replacement
/// instance continues as Master at once with the new priority, keeps its
/// addresses (no priority-0 resignation, no RemoveVips), and re-announces.
#[test]
fn reload_resumes_a_master_without_resigning() {
    let mut instance = Instance::new(v2_params(120)).unwrap();
    let actions = instance.resume_as_master(ms(5_000));
    assert_eq!(instance.state(), State::Master);
    assert_eq!(
        sent_priorities(&actions),
        vec![120],
        "advertises the new priority at once"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::RemoveVips(_))));
    assert!(actions.iter().any(|a| matches!(a, Action::AddVips { .. })));
    assert!(actions.iter().any(|a| matches!(a, Action::AnnounceVips(_))));
    assert_eq!(armed(&actions, Timer::Adver), Some(ms(6_000)));
    assert_eq!(
        notified(&actions),
        Some((State::Initialize, State::Master, TransitionReason::Reload))
    );
    // A higher priority elsewhere still wins by the ordinary rules.
    let actions = rx_prio(&mut instance, 200, "10.0.0.9", ms(5_500));
    assert_eq!(instance.state(), State::Backup);
    assert!(actions.iter().any(|a| matches!(a, Action::RemoveVips(_))));
}

#[test]
fn reload_resume_is_ignored_once_running() {
    let mut instance = started(v2_params(100));
    assert_eq!(instance.state(), State::Backup);
    assert!(instance.resume_as_master(ms(1)).is_empty());
    assert_eq!(instance.state(), State::Backup);
}

/// keepalived's `set_vrrp_backup` (a watched virtual route or rule was
/// removed): the Master resigns with priority 0 and becomes Backup with its
/// Master_Down_Timer at Skew_Time, so it is Master again, and installs
/// everything again, after Skew_Time unless another router takes over.
#[test]
fn step_down_makes_a_master_backup_for_skew_time() {
    let mut instance = master(v2_params(100));
    let actions = instance.handle(Event::StepDown, ms(5000));
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::RemoveVips(vec![ip("192.168.200.11")])));
    assert!(actions.contains(&Action::Notify {
        from: State::Master,
        to: State::Backup,
        reason: TransitionReason::RouteRemoved,
    }));
    // Skew_Time at priority 100, VRRPv2: (256 - 100) / 256 s.
    let back = ms(5000) + Duration::from_micros(609_375);
    assert_eq!(armed(&actions, Timer::MasterDown), Some(back));
    let actions = instance.handle(Event::TimerFired(Timer::MasterDown), back);
    assert_eq!(instance.state(), State::Master);
    assert!(actions.iter().any(|a| matches!(a, Action::AddVips { .. })));
    // Anything but a Master ignores it.
    let mut backup = started(v2_params(100));
    assert!(backup.handle(Event::StepDown, ms(100)).is_empty());
    assert_eq!(backup.state(), State::Backup);
}

/// keepalived's vrrp_sync_can_goto_master: a sync-group member whose
/// Master_Down_Timer expires stays Backup, says it is ready, and runs the
/// timer again; only Event::GroupMaster makes it Master.
#[test]
fn sync_group_member_waits_for_its_group_before_becoming_master() {
    let mut instance = started(Params {
        sync_group: true,
        ..v2_params(100)
    });
    let down = instance.master_down_interval();
    let actions = instance.handle(Event::TimerFired(Timer::MasterDown), down);
    assert_eq!(instance.state(), State::Backup);
    assert!(actions.contains(&Action::GroupReady), "{actions:?}");
    assert_eq!(armed(&actions, Timer::MasterDown), Some(down + down));
    assert!(instance.wants_master());

    // An advertisement heard since: no longer ready.
    rx_prio(&mut instance, 150, "172.17.0.9", down + ms(10));
    assert!(!instance.wants_master());

    instance.handle(Event::TimerFired(Timer::MasterDown), down + ms(10) + down);
    assert!(instance.wants_master());
    let actions = instance.handle(Event::GroupMaster, down + ms(20) + down);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(
        notified(&actions),
        Some((State::Backup, State::Master, TransitionReason::SyncGroup))
    );
    assert!(!instance.wants_master());
    // A Master ignores it.
    assert!(instance.handle(Event::GroupMaster, down * 3).is_empty());
}

/// Outside a sync group the timer makes a Backup Master at once.
#[test]
fn rfc5798_6_4_2_master_down_timer_makes_a_backup_master() {
    let mut instance = started(v2_params(100));
    let down = instance.master_down_interval();
    let actions = instance.handle(Event::TimerFired(Timer::MasterDown), down);
    assert_eq!(instance.state(), State::Master);
    assert!(!actions.contains(&Action::GroupReady));
}

fn rx_ttl(instance: &mut Instance, priority: u8, src: &str, ttl: u8) -> Vec<Action> {
    let advert = advert_from(instance, priority);
    instance.handle(
        Event::Advert {
            advert,
            src: ip(src),
            ttl,
        },
        ms(1000),
    )
}

#[test]
fn rfc5798_7_1_multicast_adverts_must_arrive_with_ttl_255() {
    let mut instance = started(v2_params(100));
    assert_eq!(
        rx_ttl(&mut instance, 150, "172.17.0.3", 64),
        vec![Action::Discard(DiscardReason::Invalid(
            DecodeError::BadTtl(64)
        ))]
    );
}

#[test]
fn keepalived_unicast_adverts_come_from_a_peer_within_its_ttl_range() {
    // keepalived checks a unicast advert's source and the peer's
    // min_ttl..max_ttl, not the RFC's 255: its own IPv6 unicast adverts
    // leave with the kernel's hop limit, and routed peers arrive lower.
    let peers = vec![
        UnicastPeer {
            address: ip("172.17.0.3"),
            min_ttl: 0,
            max_ttl: 255,
        },
        UnicastPeer {
            address: ip("172.17.0.4"),
            min_ttl: 60,
            max_ttl: 64,
        },
    ];
    let params = Params {
        unicast_peers: peers,
        ..v2_params(100)
    };
    let mut instance = started(params.clone());
    let accepted = rx_ttl(&mut instance, 150, "172.17.0.3", 64);
    assert!(
        armed(&accepted, Timer::MasterDown).is_some(),
        "{accepted:?}"
    );
    let accepted = rx_ttl(&mut instance, 150, "172.17.0.4", 63);
    assert!(
        armed(&accepted, Timer::MasterDown).is_some(),
        "{accepted:?}"
    );
    assert_eq!(
        rx_ttl(&mut instance, 150, "172.17.0.4", 255),
        vec![Action::Discard(DiscardReason::Invalid(
            DecodeError::BadTtl(255)
        ))]
    );
    assert_eq!(
        rx_ttl(&mut instance, 150, "172.17.0.9", 255),
        vec![Action::Discard(DiscardReason::NotPeer)]
    );
}

#[test]
fn keepalived_master_answers_equal_priority_from_a_lower_address_too() {
    // keepalived's vrrp_state_master_rx: "lower priority" includes equal
    // priority from a lower address ("forcing new election").
    let mut instance = master(v2_params(100));
    let actions = rx_prio(&mut instance, 100, "172.17.0.1", ms(5120));
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(armed(&actions, Timer::Adver), Some(ms(6120)));
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn keepalived_lower_prio_no_advert_discards_as_the_rfc_says() {
    let mut instance = master(Params {
        lower_prio_no_advert: true,
        ..v2_params(100)
    });
    for (priority, src) in [(50, "172.17.0.3"), (100, "172.17.0.1")] {
        let actions = rx_prio(&mut instance, priority, src, ms(5120));
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(instance.state(), State::Master);
    }
}

#[test]
fn keepalived_higher_prio_send_advert_sends_one_before_yielding() {
    let mut instance = master(Params {
        higher_prio_send_advert: true,
        ..v2_params(100)
    });
    let actions = rx_prio(&mut instance, 150, "172.17.0.3", ms(5120));
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(instance.state(), State::Backup);
    // Without it the Master yields silently.
    let mut instance = master(v2_params(100));
    let actions = rx_prio(&mut instance, 150, "172.17.0.3", ms(5120));
    assert!(sent_priorities(&actions).is_empty());
}

#[test]
fn keepalived_down_timer_adverts_replaces_the_rfcs_three() {
    let instance = started(Params {
        down_timer_adverts: 5,
        ..v2_params(100)
    });
    // 5 * 1 s + Skew_Time (156/256 s).
    assert_eq!(
        instance.master_down_interval(),
        Duration::from_secs(5) + Duration::from_micros(609_375)
    );
    assert_eq!(
        Instance::new(Params {
            down_timer_adverts: 0,
            ..v2_params(100)
        })
        .err(),
        Some(ParamsError::BadDownTimerAdverts(0))
    );
}
