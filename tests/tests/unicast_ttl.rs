//! Unicast VRRP between two routers in different subnets, with a router
//! namespace forwarding between them (so every advert arrives with its TTL
//! lowered by one), side by side with keepalived 2.2.7 in both roles:
//! - `unicast_ttl 64` on the Master: its adverts arrive with TTL 63, under
//!   either implementation;
//! - the Backup accepts them (a unicast advert need not carry 255; the
//!   Backup's `unicast_peer` line allows exactly 63 with `min_ttl` /
//!   `max_ttl`): one holder, the Backup never Master;
//! - a Backup whose peer line allows only 64 discards them (keepalived with
//!   `check_unicast_src`, which its range needs; vip-agent always checks the
//!   source) and becomes Master too: both hold the VIP. vip-agent counts the
//!   discards as TTL drops.

use std::{net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{holders, wait_for_state, AgentProcess},
    frames::{parse_ethernet_frame, PacketSocket},
    side_by_side::{Implementation, Router},
    wait_for, Lab,
};

/// Generous: two noisy cores; a VRRPv2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
const VRID: u8 = 67;
const VIP: &str = "10.66.1.100";
const A: &str = "10.66.1.1";
const B: &str = "10.66.2.1";

/// `a` on br0, `b` on br1, and `r` forwarding between them.
fn routed_lab() -> Result<(Lab, usize, usize)> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &[&format!("{A}/24")])?;
    let r = lab.add_node("r", "eth0", &["10.66.1.254/24"])?;
    lab.add_link(r, "br1", "eth1", &["10.66.2.254/24"])?;
    let b = lab.add_node_on("br1", "b", "eth0", &[&format!("{B}/24")])?;
    lab.node(r).ns.sysctl("net.ipv4.ip_forward", "1")?;
    lab.node(a)
        .ns
        .ip(&["route", "add", "10.66.2.0/24", "via", "10.66.1.254"])?;
    lab.node(b)
        .ns
        .ip(&["route", "add", "10.66.1.0/24", "via", "10.66.2.254"])?;
    Ok((lab, a, b))
}

/// A unicast instance from `own` to `peer` (with `peer_options` on its
/// line) and `extra` lines.
fn config(priority: u8, own: &str, peer: &str, peer_options: &str, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    advert_int 1\n    unicast_src_ip {own}\n    unicast_peer {{\n        \
         {peer} {peer_options}\n    }}\n{extra}    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn agent(router: &Router) -> Option<&AgentProcess> {
    match router {
        Router::Agent(agent) => Some(agent),
        Router::Keepalived(_) => None,
    }
}

/// The TTLs of the next `count` adverts the Master (on `a`) sends, as
/// they arrive on `b`'s eth0. Counting six adverts after the Backup starts
/// waits past its Master_Down_Interval, so a Backup that discarded them is
/// Master by then.
fn adverts_from_master(lab: &Lab, b: usize, count: usize) -> Result<Vec<u8>> {
    let socket = lab.node(b).ns.in_thread(|| PacketSocket::bind("eth0"))?;
    let from: IpAddr = A.parse()?;
    let mut ttls = Vec::new();
    for n in 0..count {
        let frame = socket
            .recv_matching(BOUND, |frame| {
                parse_ethernet_frame(frame).is_ok_and(|p| {
                    p.src == from && p.payload.get(1) == Some(&VRID) && p.payload.get(2) != Some(&0)
                })
            })?
            .with_context(|| format!("advert {n} of {count} from the Master never arrived"))?;
        ttls.push(
            parse_ethernet_frame(&frame)
                .map_err(anyhow::Error::msg)?
                .ttl,
        );
    }
    Ok(ttls)
}

/// The Master on `a`, with `unicast_ttl 64`, once it holds the VIP.
fn start_master(
    lab: &mut Lab,
    a: usize,
    b: usize,
    implementation: Implementation,
    name: &str,
) -> Result<Router> {
    let master = Router::start(
        lab,
        a,
        "a",
        implementation,
        &config(150, A, B, "", "    unicast_ttl 64\n"),
    )?;
    let vip: IpAddr = VIP.parse()?;
    wait_for(&format!("{name}: a to hold the VIP"), BOUND, || {
        (holders(lab, &[a, b], "eth0", vip) == [a]).then_some(())
    })?;
    Ok(master)
}

fn accepted_across_the_router(master: Implementation, backup: Implementation) -> Result<()> {
    let name = format!("{} Master, {} Backup", master.name(), backup.name());
    let (mut lab, a, b) = routed_lab()?;
    let vip: IpAddr = VIP.parse()?;
    let _master = start_master(&mut lab, a, b, master, &name)?;
    let backup_router = Router::start(
        &mut lab,
        b,
        "b",
        backup,
        &config(100, B, A, "min_ttl 63 max_ttl 63", ""),
    )?;
    // Adverts counted on the wire before the agent listens would not be
    // counted by it.
    if let Some(agent) = agent(&backup_router) {
        wait_for_state(agent, "VI_1", "BACKUP", BOUND)?;
    }
    let ttls = adverts_from_master(&lab, b, 6)?;
    ensure!(
        ttls.iter().all(|ttl| *ttl == 63),
        "{name}: the Master's adverts arrive with TTLs {ttls:?}, not 63"
    );
    let now = holders(&lab, &[a, b], "eth0", vip);
    ensure!(now == [a], "{name}: holders of {VIP}: {now:?}");
    if let Some(agent) = agent(&backup_router) {
        ensure!(
            agent.state("VI_1").as_deref() == Some("BACKUP"),
            "{name}: vip-agent is {:?}",
            agent.state("VI_1")
        );
        ensure!(
            agent.counter("VI_1", "became_master")? == 0,
            "{name}: the Backup was Master"
        );
        let received = agent.counter("VI_1", "adverts_received")?;
        ensure!(
            received >= 5,
            "{name}: the Backup received {received} adverts"
        );
    }
    println!("{name}: adverts arrive with TTL 63 and are accepted; one holder");
    lab.passed();
    Ok(())
}

fn refused_outside_the_range(backup: Implementation) -> Result<()> {
    let name = format!(
        "keepalived Master, {} Backup allowing TTL 64 only",
        backup.name()
    );
    let (mut lab, a, b) = routed_lab()?;
    let vip: IpAddr = VIP.parse()?;
    let _master = start_master(&mut lab, a, b, Implementation::Keepalived, &name)?;
    // keepalived checks a peer's range only with check_unicast_src.
    let extra = match backup {
        Implementation::Keepalived => "    check_unicast_src\n",
        Implementation::VipAgent => "",
    };
    let backup_router = Router::start(
        &mut lab,
        b,
        "b",
        backup,
        &config(100, B, A, "min_ttl 64 max_ttl 64", extra),
    )?;
    wait_for(&format!("{name}: both to hold the VIP"), BOUND, || {
        (holders(&lab, &[a, b], "eth0", vip) == [a, b]).then_some(())
    })?;
    if let Some(agent) = agent(&backup_router) {
        let status = agent.status()?;
        let instance = &status["instances"][0];
        let xdp_drops = instance["xdp"]["vrrp"]["drop_ttl"].as_u64().unwrap_or(0);
        let discarded = instance["adverts_discarded"].as_u64().unwrap_or(0);
        let counted = if instance["xdp"]["vrrp"].is_object() {
            xdp_drops
        } else {
            discarded
        };
        ensure!(
            counted > 0,
            "{name}: no TTL drop counted (XDP drop_ttl {xdp_drops}, discarded {discarded}): {instance:#}"
        );
        println!("{name}: {counted} adverts dropped for their TTL");
    }
    println!("{name}: adverts with TTL 63 discarded; both Master");
    lab.passed();
    Ok(())
}

#[test]
fn unicast_adverts_across_a_router_as_with_keepalived() -> Result<()> {
    tests::require_root();
    for (master, backup) in [
        (Implementation::Keepalived, Implementation::Keepalived),
        (Implementation::VipAgent, Implementation::Keepalived),
        (Implementation::Keepalived, Implementation::VipAgent),
        (Implementation::VipAgent, Implementation::VipAgent),
    ] {
        accepted_across_the_router(master, backup)?;
    }
    for backup in Implementation::BOTH {
        refused_outside_the_range(backup)?;
    }
    Ok(())
}
