//! Planned handover, make-before-break: SIGTERM and `vip-agent resign`.

use super::*;

/// A priority-200 Master of 10.0.0.100 on eth0, Master after its
/// Master_Down_Interval (no peer).
fn master() -> Harness {
    let mut h = Harness::started(&instance("VI_1", 51, 200, "10.0.0.100/24", ""));
    h.run_until(secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    h
}

fn releases(effects: &[Effect]) -> (Option<usize>, Option<usize>) {
    (
        position(effects, |e| matches!(e, Effect::ClearOwned { .. })),
        position(effects, |e| matches!(e, Effect::DelVip { .. })),
    )
}

/// RFC 5798 section 6.4.3 Shutdown's priority-0 advert goes out at once,
/// but the VIPs and the fast path's ownership stay until the new Master's
/// first advert; then XDP lets go, then the address.
#[test]
fn shutdown_keeps_the_vips_until_the_new_master_advertises() {
    let mut h = master();
    let effects = h.core.begin_shutdown(h.now);
    let effects = h.record(effects);
    assert_eq!(sent_adverts(&effects), vec![(ip("224.0.0.18"), 0)]);
    assert_eq!(releases(&effects), (None, None));
    assert!(h.core.handing_over());
    assert_eq!(h.status("VI_1").state, "RESIGNING");
    assert!(h.status("VI_1").holds_vips);
    // The Backup's Skew_Time later, its first advert as Master.
    h.run_until(h.now + ms(200));
    let effects = h.advert("10.0.0.2", 51, 100, &["10.0.0.100"]);
    let (cleared, deleted) = releases(&effects);
    assert!(cleared.unwrap() < deleted.unwrap(), "{effects:?}");
    assert!(!h.core.handing_over());
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Notify {
            state: crate::agent::notify::NotifyState::Stop,
            ..
        }
    )));
}

/// Another resigning router's priority-0 advert is no successor; without
/// one the VIPs go after one Master_Down_Interval.
#[test]
fn the_handover_waits_at_most_one_master_down_interval() {
    let mut h = master();
    let start = h.now;
    let effects = h.core.begin_shutdown(h.now);
    h.record(effects);
    let effects = h.advert("10.0.0.2", 51, 0, &["10.0.0.100"]);
    assert_eq!(releases(&effects), (None, None));
    // 3 x 1 s + (256 - 200) / 256 s
    let bound = secs(3) + Duration::from_secs(56) / 256;
    let effects = h.run_until(start + bound - ms(1));
    assert_eq!(releases(&effects), (None, None));
    assert!(h.core.handing_over());
    let effects = h.run_until(start + bound);
    assert!(releases(&effects).0.is_some());
    assert!(!h.core.handing_over());
}

/// A Backup resigns at once: nothing to hand over.
#[test]
fn a_backup_resigns_at_once() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    let effects = h.core.resign(Some("VI_1"), h.now).unwrap();
    let effects = h.record(effects);
    assert!(sent_adverts(&effects).is_empty());
    assert!(!h.core.handing_over());
    assert_eq!(h.status("VI_1").state, "RESIGNED");
}

/// A resigned instance stays out (retries do not restart it, nor does a
/// reload that changes it) until resumed; then it starts as Backup and
/// becomes Master after its Master_Down_Interval when nobody else is.
#[test]
fn a_resigned_instance_stays_out_until_resumed() {
    let mut h = master();
    let effects = h.core.resign(None, h.now).unwrap();
    h.record(effects);
    h.advert("10.0.0.2", 51, 100, &["10.0.0.100"]);
    assert_eq!(h.status("VI_1").state, "RESIGNED");
    h.run_until(h.now + secs(10));
    assert_eq!(h.state("VI_1"), None);
    h.reload(&instance("VI_1", 51, 201, "10.0.0.100/24", ""));
    assert_eq!(h.status("VI_1").state, "RESIGNED");
    let effects = h.core.resume(Some("VI_1"), h.now).unwrap();
    h.record(effects);
    assert_eq!(h.state("VI_1"), Some(State::Backup));
    h.run_until(h.now + secs(4));
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

#[test]
fn resigning_an_unknown_instance_is_an_error() {
    let mut h = master();
    assert_eq!(
        h.core.resign(Some("nope"), h.now),
        Err("no instance named nope".to_string())
    );
    assert_eq!(h.state("VI_1"), Some(State::Master));
}

/// The Backup that takes over announces its VIPs before its first advert:
/// that advert makes the resigning Master let go of them, so a client must
/// already have the new MAC by then, or what it sends in between is lost.
#[test]
fn the_successor_announces_before_its_first_advert() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    h.advert("10.0.0.2", 51, 200, &["10.0.0.100"]);
    h.advert("10.0.0.2", 51, 0, &["10.0.0.100"]);
    let effects = h.run_until(h.now + secs(1));
    assert_eq!(h.state("VI_1"), Some(State::Master));
    let announced = position(&effects, |e| matches!(e, Effect::SendFrames { .. })).unwrap();
    let advertised = position(&effects, |e| matches!(e, Effect::SendAdvert { .. })).unwrap();
    assert!(announced < advertised, "{effects:?}");
}
