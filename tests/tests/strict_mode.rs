//! What a Master does when it hears a lower-priority Master, side by side
//! with keepalived 2.2.7, in three configurations: keepalived's defaults
//! (it answers at once with its own advert, "forcing new election", and
//! announces its VIP again with `vrrp_garp_master_repeat` gratuitous ARPs),
//! `lower_prio_no_advert` (no answer, the announcements still), and
//! `vrrp_strict` (neither: RFC 5798 says to discard the advert). In each,
//! `notify_master_rx_lower_pri` runs. vip-agent must do what keepalived
//! does in each.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::{
    frames::{is_gratuitous_arp_for, parse_ethernet_frame, PacketSocket, V2Advert},
    side_by_side::{Implementation, Router},
    wait_for, Lab,
};

/// Generous: two noisy cores.
const BOUND: Duration = Duration::from_secs(40);
const VRID: u8 = 68;
const VIP: [u8; 4] = [10, 68, 0, 100];
/// Adverts go out every second: one within this long of the forged advert
/// answers it.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);
/// How long after the forged advert the gratuitous ARPs are counted.
const AFTER: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug)]
enum Mode {
    Defaults,
    LowerPrioNoAdvert,
    Strict,
}

fn config(mode: Mode, marker: &std::path::Path) -> String {
    let (global, instance) = match mode {
        Mode::Defaults => ("", ""),
        Mode::LowerPrioNoAdvert => ("", "    lower_prio_no_advert\n"),
        Mode::Strict => ("global_defs {\n    vrrp_strict\n}\n", ""),
    };
    format!(
        "{global}vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id {VRID}\n    priority 150\n    advert_int 1\n    \
         garp_master_repeat 1\n    garp_master_delay 0\n    \
         notify_master_rx_lower_pri \"/usr/bin/touch {marker}\"\n{instance}    \
         virtual_ipaddress {{\n        10.68.0.100/24\n    }}\n}}\n",
        marker = marker.display()
    )
}

fn is_vip_garp(frame: &[u8]) -> bool {
    is_gratuitous_arp_for(frame, VIP)
}

fn is_master_advert(frame: &[u8]) -> bool {
    parse_ethernet_frame(frame).is_ok_and(|p| {
        p.src == std::net::IpAddr::from([10, 68, 0, 1]) && p.payload.get(1) == Some(&VRID)
    })
}

/// Whether the Master answered the forged lower-priority advert with one
/// of its own, and how many gratuitous ARPs for the VIP followed it.
fn reaction_to_a_lower_priority_master(lab: &Lab, watcher: usize) -> Result<(bool, usize)> {
    let socket = lab
        .node(watcher)
        .ns
        .in_thread(|| PacketSocket::bind("eth0"))?;
    // Master, and past the announcement of becoming it (one message).
    socket
        .recv_matching(BOUND, is_vip_garp)?
        .context("the Master's first gratuitous ARP")?;
    // Just after one of its adverts, the next regular one is a second away.
    socket
        .recv_matching(BOUND, is_master_advert)?
        .context("an advert of the Master")?;
    let mac = lab.node(watcher).ns.mac("eth0")?;
    socket.send(&V2Advert::multicast(mac, [10, 68, 0, 2], VRID, 50, &[VIP]).frame())?;
    let start = Instant::now();
    let (mut answered, mut garps) = (false, 0);
    while let Some(left) = AFTER.checked_sub(start.elapsed()) {
        let Some(frame) = socket.recv_matching(left, |f| is_vip_garp(f) || is_master_advert(f))?
        else {
            break;
        };
        if is_vip_garp(&frame) {
            garps += 1;
        } else if start.elapsed() < ANSWER_WITHIN {
            answered = true;
        }
    }
    Ok((answered, garps))
}

fn run(implementation: Implementation, mode: Mode) -> Result<(bool, usize)> {
    let mut lab = Lab::new()?;
    let router = lab.add_node("r", "eth0", &["10.68.0.1/24"])?;
    let watcher = lab.add_node("w", "eth0", &["10.68.0.2/24"])?;
    let marker = lab.work_dir().join("rx_lower_pri.ran");
    let _router = Router::start(
        &mut lab,
        router,
        "r",
        implementation,
        &config(mode, &marker),
    )?;
    let reaction = reaction_to_a_lower_priority_master(&lab, watcher)?;
    wait_for(
        &format!(
            "{} {mode:?}: notify_master_rx_lower_pri to run",
            implementation.name()
        ),
        BOUND,
        || marker.exists().then_some(()),
    )?;
    println!(
        "{} {mode:?}: answered {}, {} gratuitous ARPs",
        implementation.name(),
        reaction.0,
        reaction.1
    );
    lab.passed();
    Ok(reaction)
}

#[test]
fn a_master_hearing_a_lower_priority_answers_as_keepalived_does_strict_or_not() -> Result<()> {
    tests::require_root();
    for (mode, expected) in [
        (Mode::Defaults, (true, 5)),
        (Mode::LowerPrioNoAdvert, (false, 5)),
        (Mode::Strict, (false, 0)),
    ] {
        let keepalived = run(Implementation::Keepalived, mode)?;
        let agent = run(Implementation::VipAgent, mode)?;
        ensure!(
            keepalived == expected,
            "{mode:?}: keepalived (answered, gratuitous ARPs) = {keepalived:?}, expected {expected:?}"
        );
        ensure!(
            agent == keepalived,
            "{mode:?}: vip-agent {agent:?}, keepalived {keepalived:?}"
        );
    }
    Ok(())
}
