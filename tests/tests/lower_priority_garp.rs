//! `garp_lower_prio_repeat` side by side with keepalived 2.2.7: a Master
//! that hears a lower-priority Master (the two routers did not hear each
//! other for a while) answers with its advert and announces its VIP again,
//! `garp_lower_prio_repeat` gratuitous ARPs, under both implementations.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::{
    frames::{is_gratuitous_arp_for, parse_ethernet_frame, PacketSocket, V2Advert},
    side_by_side::{Implementation, Router},
    Lab,
};

/// Generous: two noisy cores.
const BOUND: Duration = Duration::from_secs(40);
const VRID: u8 = 95;
const VIP: [u8; 4] = [10, 65, 0, 100];
/// How long after the lower-priority advert the announcements are counted.
const AFTER: Duration = Duration::from_millis(1500);
const CONFIG: &str = "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    \
                      virtual_router_id 95\n    priority 150\n    advert_int 1\n    \
                      garp_master_repeat 1\n    garp_master_delay 0\n    \
                      garp_lower_prio_repeat 3\n    garp_lower_prio_delay 0\n    \
                      virtual_ipaddress {\n        10.65.0.100/24\n    }\n}\n";

fn is_vip_garp(frame: &[u8]) -> bool {
    is_gratuitous_arp_for(frame, VIP)
}

fn is_our_advert(frame: &[u8]) -> bool {
    parse_ethernet_frame(frame).is_ok_and(|p| p.payload.get(1) == Some(&VRID))
}

/// Gratuitous ARPs for the VIP the router sends after it hears `priority`.
fn garps_after_lower_priority_advert(lab: &Lab, watcher: usize) -> Result<usize> {
    let interface = lab.node(watcher).interface.clone();
    let socket = lab
        .node(watcher)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    // Master, and past the announcement of becoming it (one message).
    socket
        .recv_matching(BOUND, is_vip_garp)?
        .context("the Master's first gratuitous ARP")?;
    socket
        .recv_matching(BOUND, is_our_advert)?
        .context("an advert of the Master")?;
    let mac = lab.node(watcher).ns.mac("eth0")?;
    socket.send(&V2Advert::multicast(mac, [10, 65, 0, 2], VRID, 50, &[VIP]).frame())?;
    let start = Instant::now();
    let mut garps = 0;
    while let Some(left) = AFTER.checked_sub(start.elapsed()) {
        if socket.recv_matching(left, is_vip_garp)?.is_some() {
            garps += 1;
        }
    }
    Ok(garps)
}

fn run(implementation: Implementation) -> Result<usize> {
    let mut lab = Lab::new()?;
    let router = lab.add_node("r", "eth0", &["10.65.0.1/24"])?;
    let watcher = lab.add_node("w", "eth0", &["10.65.0.2/24"])?;
    let _router = Router::start(&mut lab, router, "r", implementation, CONFIG)?;
    let garps = garps_after_lower_priority_advert(&lab, watcher)?;
    println!(
        "{}: {garps} gratuitous ARPs after the lower-priority advert",
        implementation.name()
    );
    lab.passed();
    Ok(garps)
}

#[test]
fn a_master_hearing_a_lower_priority_master_announces_again_as_keepalived_does() -> Result<()> {
    tests::require_root();
    let keepalived = run(Implementation::Keepalived)?;
    let agent = run(Implementation::VipAgent)?;
    ensure!(keepalived == 3, "keepalived sent {keepalived}, expected 3");
    ensure!(
        agent == keepalived,
        "vip-agent sent {agent}, keepalived {keepalived}"
    );
    Ok(())
}
