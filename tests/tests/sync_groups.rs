//! Sync groups side by side with keepalived 2.2.7: the same keepalived.conf
//! (an outside and an inside instance in one `vrrp_sync_group`) on two
//! routers, run once under vip-agent and once under keepalived.
//!
//! With `sync_group_tracking_weight`, a tracked script lowers the Master's
//! inside instance below the other router's. keepalived keeps the group
//! together: the other router's inside instance, though it would win alone,
//! waits for its outside instance, which still hears the better Master, so
//! both VIPs stay on the Master and nothing flaps. Before vip-agent held a
//! ready member back, the inside VIP moved alone and the two routers then
//! took the group from each other in turn.
//!
//! A reload that puts a router's Master instance and Backup instance into
//! one group: keepalived keeps the group's Masters only when every member
//! was Master, so the Master member steps back and both VIPs end up on the
//! other router, and stay there.
//!
//! The Master's inside link fails: the whole group moves to the other
//! router and back when the link returns, never one VIP on each router.

use std::{
    net::IpAddr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{ensure, Result};
use tests::{
    agent::{holders, wait_for_sole_holder, wait_for_state},
    side_by_side::{Implementation, Router},
    wait_for, Lab,
};

/// Generous: two noisy cores; a VRRPv2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
/// How long the lowered group is watched for a split: two of the other
/// router's Master_Down_Intervals (3 x 1 s + 156/256 s at priority 100).
const WATCH: Duration = Duration::from_millis(2 * 3610 + 1000);

const OUTSIDE_VIP: &str = "10.62.0.100";
const INSIDE_VIP: &str = "10.62.1.100";

/// Which nodes hold the outside and the inside VIP.
type Holders = (Vec<usize>, Vec<usize>);

fn sample(lab: &Lab, nodes: &[usize]) -> Result<Holders> {
    Ok((
        holders(lab, nodes, "eth0", OUTSIDE_VIP.parse()?),
        holders(lab, nodes, "eth1", INSIDE_VIP.parse()?),
    ))
}

/// Samples the holders every `every` until `done` accepts a sample or, when
/// `done` is `None`, for `watch`; fails on the first sample `allowed`
/// rejects, naming it. Returns how many samples were taken.
fn watch_holders(
    lab: &Lab,
    nodes: &[usize],
    what: &str,
    watch: Duration,
    every: Duration,
    allowed: impl Fn(&Holders) -> bool,
    done: Option<&dyn Fn(&Holders) -> bool>,
) -> Result<usize> {
    let start = Instant::now();
    let mut samples = 0;
    loop {
        let seen = sample(lab, nodes)?;
        samples += 1;
        ensure!(
            allowed(&seen),
            "{what}: after {:?}, the outside VIP is on {:?} and the inside VIP on {:?} \
             (nodes {nodes:?})",
            start.elapsed(),
            seen.0,
            seen.1
        );
        match done {
            Some(done) if done(&seen) => return Ok(samples),
            Some(_) => ensure!(
                start.elapsed() < watch,
                "{what}: not done within {watch:?}; last: outside on {:?}, inside on {:?}",
                seen.0,
                seen.1
            ),
            None if start.elapsed() >= watch => return Ok(samples),
            None => {}
        }
        std::thread::sleep(every);
    }
}

/// The group is split when each VIP has a holder and no router holds both:
/// traffic entering on one router cannot leave on the other side.
fn split(seen: &Holders) -> bool {
    !seen.0.is_empty() && !seen.1.is_empty() && seen.0.iter().all(|n| !seen.1.contains(n))
}

/// The configuration of one router; `flag` lowers its inside instance by
/// 60 while it exists.
fn config(priority: u8, flag: &Path) -> String {
    let flag = flag.display();
    let instance = |name: &str, interface: &str, vrid: u8, vip: &str, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface {interface}\n    \
             virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    \
             virtual_ipaddress {{\n        {vip}/24\n    }}\n{extra}}}\n"
        )
    };
    format!(
        "vrrp_script lowered {{\n    script \"/usr/bin/test ! -e {flag}\"\n    interval 1\n    \
         weight -60\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        OUTSIDE\n        INSIDE\n    }}\n    \
         sync_group_tracking_weight\n}}\n{}{}",
        instance("OUTSIDE", "eth0", 92, OUTSIDE_VIP, ""),
        instance(
            "INSIDE",
            "eth1",
            93,
            INSIDE_VIP,
            "    track_script {\n        lowered\n    }\n"
        ),
    )
}

/// Whether the script of this router's inside instance has failed,
/// lowering it: vip-agent's effective priority, keepalived's log.
fn lowered(router: &Router) -> bool {
    match router {
        Router::Agent(agent) => agent.status().ok().is_some_and(|status| {
            status["instances"].as_array().is_some_and(|instances| {
                instances
                    .iter()
                    .any(|i| i["name"] == "INSIDE" && i["effective_priority"].as_u64() == Some(90))
            })
        }),
        Router::Keepalived(keepalived) => keepalived
            .log_text()
            .contains("VRRP_Script(lowered) failed"),
    }
}

/// Two routers, each with an outside (`eth0`) and an inside (`eth1`) link.
fn gateway_lab() -> Result<(Lab, usize, usize)> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.62.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.62.0.2/24"])?;
    lab.add_link(a, "br1", "eth1", &["10.62.1.1/24"])?;
    lab.add_link(b, "br1", "eth1", &["10.62.1.2/24"])?;
    Ok((lab, a, b))
}

/// Starts router a and router b under `implementation` with these files.
fn start_pair(
    lab: &mut Lab,
    (a, b): (usize, usize),
    implementation: Implementation,
    (config_a, config_b): (&str, &str),
) -> Result<(Router, Router)> {
    Ok((
        Router::start(lab, a, "a", implementation, config_a)?,
        Router::start(lab, b, "b", implementation, config_b)?,
    ))
}

/// Starts both routers under `implementation`, lowers the Master's inside
/// instance and watches the group; returns what was seen.
fn run(implementation: Implementation) -> Result<()> {
    let (mut lab, a, b) = gateway_lab()?;
    let flag_a = lab.work_dir().join("a.lowered");
    let flag_b = lab.work_dir().join("b.lowered");
    let (router_a, _router_b) = start_pair(
        &mut lab,
        (a, b),
        implementation,
        (&config(150, &flag_a), &config(100, &flag_b)),
    )?;
    let agent = implementation == Implementation::VipAgent;
    let implementation = implementation.name();
    let outside: IpAddr = OUTSIDE_VIP.parse()?;
    let inside: IpAddr = INSIDE_VIP.parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", outside, a, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", inside, a, BOUND)?;

    // A's inside instance drops to 90, below B's 100.
    std::fs::write(&flag_a, "")?;
    wait_for(
        &format!("{implementation}: a's inside instance to be lowered"),
        BOUND,
        || lowered(&router_a).then_some(()),
    )?;
    let samples = watch_holders(
        &lab,
        &[a, b],
        &format!("{implementation}: with a's inside instance lowered (both should stay on a)"),
        WATCH,
        Duration::from_millis(100),
        |seen| *seen == (vec![a], vec![a]),
        None,
    )?;
    println!("{implementation}: both VIPs stayed on a in {samples} samples over {WATCH:?}");

    // Back to 150: still one router, a.
    std::fs::remove_file(&flag_a)?;
    wait_for(
        &format!("{implementation}: a's inside instance to recover"),
        BOUND,
        || (!lowered(&router_a) || !agent).then_some(()),
    )?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", outside, a, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", inside, a, BOUND)?;
    lab.passed();
    Ok(())
}

#[test]
fn a_lowered_member_keeps_its_sync_group_together_as_keepalived_does() -> Result<()> {
    tests::require_root();
    for implementation in Implementation::BOTH {
        run(implementation)?;
    }
    Ok(())
}

/// Router a's file before and after the reload: its inside instance is
/// the better one (150 against b's 100), its outside instance the worse
/// (100 against b's 150); `grouped` puts both into one sync group.
fn split_config(outside: u8, inside: u8, grouped: bool) -> String {
    let instance = |name: &str, interface: &str, vrid: u8, priority: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface {interface}\n    \
             virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    \
             virtual_ipaddress {{\n        {vip}/24\n    }}\n}}\n"
        )
    };
    let group = if grouped {
        "vrrp_sync_group G {\n    group {\n        OUTSIDE\n        INSIDE\n    }\n}\n"
    } else {
        ""
    };
    format!(
        "{group}{}{}",
        instance("OUTSIDE", "eth0", 94, outside, OUTSIDE_VIP),
        instance("INSIDE", "eth1", 95, inside, INSIDE_VIP)
    )
}

/// A reload that groups a router's two instances, one Master and one
/// Backup: keepalived keeps a group's Masters only when all of its members
/// were Master (`restore_vrrp_state`), so the Master member steps back, the
/// other router takes that VIP too, and the group waits there as Backup
/// though its inside instance would win alone.
fn reload_forms_group(implementation: Implementation) -> Result<()> {
    let (mut lab, a, b) = gateway_lab()?;
    let (router_a, _router_b) = start_pair(
        &mut lab,
        (a, b),
        implementation,
        (
            &split_config(100, 150, false),
            &split_config(150, 100, false),
        ),
    )?;
    let name = implementation.name();
    let outside: IpAddr = OUTSIDE_VIP.parse()?;
    let inside: IpAddr = INSIDE_VIP.parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", outside, b, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", inside, a, BOUND)?;

    router_a.reload(&lab, "a", &split_config(100, 150, true))?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", inside, b, BOUND).map_err(|e| {
        e.context(format!(
            "{name}: the inside VIP to join the outside VIP on b"
        ))
    })?;
    let samples = watch_holders(
        &lab,
        &[a, b],
        &format!("{name}: after the inside VIP moved (both should stay on b)"),
        WATCH,
        Duration::from_millis(100),
        |seen| *seen == (vec![b], vec![b]),
        None,
    )?;
    println!("{name}: both VIPs on b after the reload, {samples} samples over {WATCH:?}");
    drop(router_a);
    lab.passed();
    Ok(())
}

#[test]
fn a_reload_forming_a_sync_group_keeps_its_vips_together_as_keepalived_does() -> Result<()> {
    tests::require_root();
    for implementation in Implementation::BOTH {
        reload_forms_group(implementation)?;
    }
    Ok(())
}

/// The gateway case: the Master's inside link fails. keepalived puts the
/// whole group into FAULT, the outside instance too, and the other router
/// takes both VIPs together (both implementations took about one
/// Master_Down_Interval, 3.6 s); when the link returns, the better router
/// takes both back. Sampled every 20 ms throughout: the VIPs may be on no
/// router or briefly on both, never one here and one there.
fn inside_link_fails(implementation: Implementation) -> Result<()> {
    let (mut lab, a, b) = gateway_lab()?;
    let (router_a, _router_b) = start_pair(
        &mut lab,
        (a, b),
        implementation,
        (&split_config(150, 150, true), &split_config(100, 100, true)),
    )?;
    let name = implementation.name();
    let every = Duration::from_millis(20);
    watch_holders(
        &lab,
        &[a, b],
        &format!("{name}: start-up (both should come to a)"),
        BOUND,
        every,
        |seen| !split(seen),
        Some(&|seen| *seen == (vec![a], vec![a])),
    )?;

    lab.node(a).ns.ip(&["link", "set", "eth1", "down"])?;
    let moved = Instant::now();
    let failover = watch_holders(
        &lab,
        &[a, b],
        &format!("{name}: a's inside link down (both should move to b)"),
        BOUND,
        every,
        |seen| !split(seen),
        Some(&|seen| *seen == (vec![b], vec![b])),
    )?;
    let took = moved.elapsed();
    if let Router::Agent(agent) = &router_a {
        for member in ["INSIDE", "OUTSIDE"] {
            wait_for_state(agent, member, "FAULT", BOUND)?;
        }
    }
    let stable = watch_holders(
        &lab,
        &[a, b],
        &format!("{name}: a's inside link still down (both should stay on b)"),
        WATCH,
        Duration::from_millis(100),
        |seen| *seen == (vec![b], vec![b]),
        None,
    )?;

    lab.node(a).ns.ip(&["link", "set", "eth1", "up"])?;
    let back = Instant::now();
    let takeback = watch_holders(
        &lab,
        &[a, b],
        &format!("{name}: a's inside link up again (both should return to a)"),
        BOUND,
        every,
        |seen| !split(seen),
        Some(&|seen| *seen == (vec![a], vec![a])),
    )?;
    println!(
        "{name}: both VIPs on b {took:?} after a's inside link failed ({failover} samples, \
         none split), stayed there ({stable} samples over {WATCH:?}), back on a {:?} after the \
         link returned ({takeback} samples, none split)",
        back.elapsed()
    );
    lab.passed();
    Ok(())
}

#[test]
fn a_failed_inside_link_moves_the_whole_group_as_keepalived_does() -> Result<()> {
    tests::require_root();
    for implementation in Implementation::BOTH {
        inside_link_fails(implementation)?;
    }
    Ok(())
}
