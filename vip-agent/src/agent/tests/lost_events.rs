//! Link and address events the kernel dropped (the event socket overflowed):
//! the core catches up from a fresh dump as the lost events would have had
//! it act.

use super::*;

/// Two owners on eth0: VI_1, and VI_2 which tracks eth1.
fn owners() -> String {
    instance("VI_1", 51, 255, "10.0.0.100/24", "")
        + &instance(
            "VI_2",
            52,
            255,
            "10.0.0.101/24",
            "  track_interface {\n    eth1\n  }",
        )
}

fn vips_added(effects: &[Effect]) -> Vec<IpAddr> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::AddVip { address, .. } => Some(*address),
            _ => None,
        })
        .collect()
}

fn vips_removed(effects: &[Effect]) -> Vec<IpAddr> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::DelVip { address, .. } => Some(*address),
            _ => None,
        })
        .collect()
}

/// What the kernel holds for [`owners`] once both are Master: the
/// interfaces' own addresses and the VIPs (with a lifetime that has run
/// down since), with eth1 up or not and VI_1's VIP there or not.
fn dump(eth1_up: bool, with_vip_1: bool) -> (Vec<Link>, Vec<Address>) {
    let mut addresses = vec![
        address(ETH0, "10.0.0.1", 24, None),
        address(ETH0, "fe80::1", 64, None),
        address(ETH1, "192.168.1.1", 24, None),
        address(ETH0, "10.0.0.101", 24, Some(4)),
    ];
    if with_vip_1 {
        addresses.push(address(ETH0, "10.0.0.100", 24, Some(4)));
    }
    (
        vec![
            link(ETH0, "eth0", MAC0, true),
            link(ETH1, "eth1", MAC1, eth1_up),
        ],
        addresses,
    )
}

/// A VIP deleted and a tracked interface taken down while their events were
/// lost: the VIP goes back, the tracking instance faults and lets its VIP go.
#[test]
fn a_dump_after_lost_events_restores_the_vip_and_faults_the_tracker() {
    let mut h = Harness::started(&owners());
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
    let (links, addresses) = dump(false, false);
    let (effects, missed) = h.core.resync(links, addresses, h.now);
    assert_eq!(missed, 2, "eth1 went down, VI_1's VIP went");
    let effects = h.record(effects);
    assert_eq!(vips_added(&effects), vec![ip("10.0.0.100")]);
    assert_eq!(vips_removed(&effects), vec![ip("10.0.0.101")]);
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Fault))
    );
    assert!(h.status("VI_1").holds_vips);
    assert!(!h.status("VI_2").holds_vips);
}

/// Nothing changed meanwhile (only lifetimes ran down): nothing to do.
#[test]
fn a_dump_that_matches_the_view_changes_nothing() {
    let mut h = Harness::started(&owners());
    let (links, addresses) = dump(true, true);
    let (effects, missed) = h.core.resync(links, addresses, h.now);
    assert_eq!(missed, 0);
    assert!(
        vips_added(&effects).is_empty() && vips_removed(&effects).is_empty(),
        "{effects:?}"
    );
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (Some(State::Master), Some(State::Master))
    );
}

/// eth0 deleted and created again while the events were lost: the old
/// index is forgotten and the new one gets its socket, policy and XDP.
#[test]
fn an_interface_recreated_while_events_were_lost_is_taken_up_again() {
    let mut h = Harness::started(&owners());
    let (mut links, mut addresses) = dump(true, false);
    links[0].ifindex = 12;
    addresses.retain(|a| a.ifindex != ETH0);
    addresses.push(address(12, "10.0.0.1", 24, None));
    let (effects, _) = h.core.resync(links, addresses, h.now);
    let effects = h.record(effects);
    assert!(effects.contains(&Effect::ForgetXdp {
        interface: "eth0".into()
    }));
    assert!(effects.contains(&Effect::LinkGone { ifindex: ETH0 }));
    assert!(effects.contains(&Effect::AttachXdp {
        interface: "eth0".into()
    }));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::OpenSocket { spec, .. } if spec.ifindex == 12)));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::SetPolicy { ifindex: 12, .. })));
    assert_eq!(
        h.core.system().link_by_name("eth0").map(|l| l.ifindex),
        Some(12)
    );
}
