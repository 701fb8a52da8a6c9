//! What instances count for `status` and the metrics: state changes by
//! kind and time, discards by cause, priority-0 adverts, VIPs held; and
//! the snapshot a scrape gets from the core.

use super::*;
use crate::agent::{
    instance::{counters::Transition, DiscardCause},
    metrics,
};

fn transition(from: &'static str, to: &'static str, reason: &'static str) -> Transition {
    Transition { from, to, reason }
}

/// The priority-200 Master of 10.0.0.100 takes over at Master_Down_Interval
/// (3 s + (256 - 200) / 256 s) and then resigns.
#[test]
fn state_changes_count_by_kind_with_the_time_of_the_last() {
    let mut h = Harness::started(&instance("VI_1", 51, 200, "10.0.0.100/24", ""));
    h.run_until(secs(4));
    let took_over = secs(3) + Duration::from_secs(56) / 256;
    let c = &h.slot("VI_1").counters;
    assert_eq!(
        c.transitions.clone().into_iter().collect::<Vec<_>>(),
        vec![
            (transition("BACKUP", "MASTER", "master_down"), 1),
            (transition("INIT", "BACKUP", "startup"), 1),
        ]
    );
    assert_eq!(c.last_transition, Some(took_over));
    assert_eq!(c.became_master, 1);
    assert_eq!(c.priority_zero_sent, 0);

    let effects = h.core.resign(Some("VI_1"), h.now).unwrap();
    h.record(effects);
    let c = &h.slot("VI_1").counters;
    assert_eq!(c.transitions[&transition("MASTER", "INIT", "shutdown")], 1);
    assert_eq!(c.last_transition, Some(secs(4)));
    assert_eq!(c.priority_zero_sent, 1);
}

#[test]
fn discarded_adverts_count_by_cause() {
    let mut h = Harness::started(&instance("VI_1", 51, 100, "10.0.0.100/24", ""));
    h.run_until(secs(1));
    // Our own advert looped back.
    h.advert("10.0.0.1", 51, 100, &["10.0.0.100"]);
    // TTL 64: it crossed a router.
    let advert = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::None,
        },
        vrid: 51,
        priority: 100,
        addresses: vec![ip("10.0.0.100")],
    };
    let group = ip("224.0.0.18");
    let mut packet = ReceivedPacket {
        source: ip("10.0.0.2"),
        destination: group,
        ttl: 64,
        payload: advert
            .encode(ip("10.0.0.2"), group, ChecksumMode::Standard)
            .unwrap(),
    };
    let effects = h.core.on_packet(&v4_key(), &packet, h.now);
    h.record(effects);
    // A corrupted checksum.
    packet.ttl = 255;
    packet.payload[6] ^= 0xff;
    let effects = h.core.on_packet(&v4_key(), &packet, h.now);
    h.record(effects);
    // VRRPv2 with another interval.
    let other_interval = Advertisement {
        version: Version::V2 {
            adver_int_s: 2,
            auth: Auth::None,
        },
        ..advert
    };
    packet.payload = other_interval
        .encode(ip("10.0.0.2"), group, ChecksumMode::Standard)
        .unwrap();
    let effects = h.core.on_packet(&v4_key(), &packet, h.now);
    h.record(effects);

    let c = &h.slot("VI_1").counters;
    for (cause, count) in [
        (DiscardCause::OwnAdvert, 1),
        (DiscardCause::Ttl, 1),
        (DiscardCause::Checksum, 1),
        (DiscardCause::IntervalMismatch, 1),
        (DiscardCause::NotPeer, 0),
    ] {
        assert_eq!(c.discarded(cause), count, "{cause:?}");
    }
    assert_eq!(c.adverts_discarded, 4);
    assert_eq!(h.status("VI_1").adverts_discarded, 4);
}

/// What a scrape gets: the status's state and priorities, the counters, and
/// each VIP held only while the system shows it on the interface.
#[test]
fn a_snapshot_shows_each_vip_held_while_it_is_on_the_interface() {
    let mut h = Harness::started(&instance(
        "VI_1",
        51,
        200,
        "10.0.0.100/24\n    10.0.0.101/24",
        "",
    ));
    let snapshot = metrics::snapshot(&h.core, None, h.now);
    assert_eq!(snapshot.instances[0].state, "BACKUP");
    assert_eq!(
        snapshot.instances[0].vips,
        vec![
            ("10.0.0.100/24".to_string(), false),
            ("10.0.0.101/24".to_string(), false)
        ]
    );
    assert!(snapshot.xdp.is_none(), "no fast path");
    h.run_until(secs(5));
    let took_over = secs(3) + Duration::from_secs(56) / 256;
    let snapshot = metrics::snapshot(&h.core, None, h.now);
    let i = &snapshot.instances[0];
    assert_eq!(i.state, "MASTER");
    assert_eq!((i.priority, i.effective_priority), (200, 200));
    assert_eq!(i.since_transition, Some(secs(5) - took_over));
    assert!(i.vips.iter().all(|(_, held)| *held), "{:?}", i.vips);
    // Someone removes one by hand: not held until it is back.
    h.core.on_net_event(
        &NetEvent::AddressRemoved {
            address: address(ETH0, "10.0.0.101", 24, Some(9)),
            by: Requester::Other("port 4242".into()),
        },
        h.now,
    );
    let snapshot = metrics::snapshot(&h.core, None, h.now);
    assert_eq!(
        snapshot.instances[0].vips,
        vec![
            ("10.0.0.100/24".to_string(), true),
            ("10.0.0.101/24".to_string(), false)
        ]
    );
}
