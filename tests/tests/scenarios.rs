//! The deployments of `examples/scenarios`, each node's keepalived.conf
//! unchanged, one namespace per node on one bridge plus a client: the real
//! `vip-agent` binary elects, moves the VIP, and fails over. Names,
//! interfaces, priorities, preemption, VIP and advert interval come from the
//! .conf files (`vip_netns::scenario`), as do the expectations below.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{holders, wait_for_sole_holder},
    run,
    scenario_lab::{
        assert_arping_finds, client_reaches, expected_holder, master_down_interval, no_preparation,
        skew_time, sole_holder, start, wait_until_settled_backup, Case, Running, ELECTION,
    },
    wait_for, Lab,
};
use vip_netns::scenario::Scenario;

/// The client probes the VIP this often.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

fn start_probe(r: &Running, target: IpAddr) -> Result<vip_netns::probe::Probe> {
    tests::scenario_lab::start_probe(r, target, PROBE_INTERVAL)
}

fn run_scenario(case: &Case) -> Result<()> {
    let scenario = &case.scenario;
    let gateway_check = case.traffic_check;
    let vip = scenario.vip;
    let iface = scenario.nodes[0].interface.as_str();
    let mut r = start(case)?;
    let all: Vec<usize> = (0..scenario.nodes.len()).collect();

    // 1. One holder, the highest priority; the client's ARP finds it.
    //    (Agents start at slightly different times, so a lower priority may
    //    hold the VIP until the highest one preempts it.)
    let holder = match expected_holder(scenario, &all) {
        Some(expected) => {
            wait_for_sole_holder(&r.lab, &r.nodes, iface, vip, r.nodes[expected], ELECTION)?;
            expected
        }
        None => sole_holder(&r, scenario, vip)?,
    };
    for i in all.iter().copied().filter(|&i| i != holder) {
        wait_until_settled_backup(&r, i, &scenario.nodes[i].name, 2)?;
    }
    assert_eq!(
        holders(&r.lab, &r.nodes, iface, vip),
        vec![r.nodes[holder]],
        "still exactly one holder"
    );
    assert_arping_finds(&r, scenario, vip, holder)?;
    client_reaches(&r, vip)?;
    if let Some(check) = gateway_check {
        check(&r, holder)?;
    }

    // 2. The holder's node dies: its agent is SIGKILLed and its link goes
    //    silent. The next priority takes over; the client measures the outage.
    let probe = start_probe(&r, vip)?;
    wait_for("the probe to get answers", ELECTION, || {
        (probe.answered() > 5).then_some(())
    })?;
    r.agents[holder].as_ref().unwrap().signal(Signal::SIGKILL)?;
    r.lab
        .node(r.nodes[holder])
        .ns
        .ip(&["link", "set", iface, "down"])?;
    let killed_at = Instant::now();
    r.agents[holder].as_mut().unwrap().wait_exit(ELECTION)?;
    let rest: Vec<usize> = all.iter().copied().filter(|&i| i != holder).collect();
    let successor = wait_for("a successor to take the VIP", ELECTION, || {
        rest.iter()
            .copied()
            .find(|&i| holders(&r.lab, &r.nodes, iface, vip).contains(&r.nodes[i]))
    })?;
    if let Some(expected) = expected_holder(scenario, &rest) {
        assert_eq!(successor, expected, "the next priority takes over");
    }
    let takeover = killed_at.elapsed();
    let before = probe.answered();
    wait_for("the client's probes to be answered again", ELECTION, || {
        (probe.answered() > before + 5).then_some(())
    })?;
    let outage = probe.finish();
    println!(
        "OUTAGE {} SIGKILL of {} (node silent): {} ms client-measured (probe every 10 ms), VIP on {} after {} ms; \
         bound 3 x advert_int + Skew_Time = {} ms",
        scenario.name,
        scenario.nodes[holder].name,
        outage.as_millis(),
        scenario.nodes[successor].name,
        takeover.as_millis(),
        master_down_interval(scenario.advert_int, scenario.nodes[successor].priority).as_millis()
    );
    // The node comes back without its agent: the VIP the crashed agent left
    // expires by its finite lifetime, then only the successor holds it.
    r.lab
        .node(r.nodes[holder])
        .ns
        .ip(&["link", "set", iface, "up"])?;
    let expired = wait_for_sole_holder(&r.lab, &r.nodes, iface, vip, r.nodes[successor], ELECTION)?;
    println!(
        "EXPIRY {}: the crashed agent's VIP was gone {} ms after its node came back",
        scenario.name,
        expired.as_millis()
    );
    assert_arping_finds(&r, scenario, vip, successor)?;
    if let Some(check) = gateway_check {
        check(&r, successor)?;
    }

    // 3. Restart the old holder: it takes the VIP back if it preempts a
    //    lower priority, otherwise the successor keeps it.
    let spec = r.specs[holder].clone();
    r.agents[holder] = Some(r.lab.start_agent(&spec)?);
    let retakes = scenario.nodes[holder].preempt
        && scenario.nodes[holder].priority > scenario.nodes[successor].priority;
    let current = if retakes {
        wait_for_sole_holder(&r.lab, &r.nodes, iface, vip, r.nodes[holder], ELECTION)?;
        holder
    } else {
        // More adverts than Master_Down_Interval lasts: it would have acted by now.
        wait_until_settled_backup(&r, holder, &scenario.nodes[holder].name, 5)?;
        assert_eq!(
            holders(&r.lab, &r.nodes, iface, vip),
            vec![r.nodes[successor]],
            "no take-back"
        );
        successor
    };
    println!(
        "RESTART {} of {}: holder is now {} ({})",
        scenario.name,
        scenario.nodes[holder].name,
        scenario.nodes[current].name,
        if retakes {
            "preempted back"
        } else {
            "no preemption"
        }
    );
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != current).collect();
    for &i in &others {
        wait_until_settled_backup(&r, i, &scenario.nodes[i].name, 2)?;
    }

    // 4. SIGTERM the holder: it resigns with priority 0, so the next one
    //    takes over after Skew_Time instead of Master_Down_Interval.
    let next = expected_holder(scenario, &others);
    let probe = start_probe(&r, vip)?;
    wait_for("the probe to get answers", ELECTION, || {
        (probe.answered() > 5).then_some(())
    })?;
    let agent = r.agents[current].as_mut().unwrap();
    agent.signal(Signal::SIGTERM)?;
    let term_at = Instant::now();
    let new_holder = wait_for("a holder after SIGTERM", ELECTION, || {
        others
            .iter()
            .copied()
            .find(|&i| holders(&r.lab, &r.nodes, iface, vip).contains(&r.nodes[i]))
    })?;
    let handover = term_at.elapsed();
    let before = probe.answered();
    wait_for("the client's probes to be answered again", ELECTION, || {
        (probe.answered() > before + 5).then_some(())
    })?;
    let outage = probe.finish();
    if let Some(next) = next {
        assert_eq!(
            new_holder, next,
            "the next priority takes over after SIGTERM"
        );
    }
    let status = r.agents[current].as_mut().unwrap().wait_exit(ELECTION)?;
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert!(
        !holders(&r.lab, &r.nodes, iface, vip).contains(&r.nodes[current]),
        "the stopped agent removed its VIP"
    );
    let mdi = master_down_interval(scenario.advert_int, scenario.nodes[new_holder].priority);
    println!(
        "OUTAGE {} SIGTERM of {}: {} ms client-measured (probe every 10 ms), VIP on {} after {} ms \
         (Skew_Time {} ms, Master_Down_Interval {} ms)",
        scenario.name,
        scenario.nodes[current].name,
        outage.as_millis(),
        scenario.nodes[new_holder].name,
        handover.as_millis(),
        skew_time(scenario.nodes[new_holder].priority).as_millis(),
        mdi.as_millis()
    );
    // Behaviour, not speed: without the priority-0 advert the takeover could
    // not happen before Master_Down_Interval.
    assert!(
        handover < mdi,
        "takeover after SIGTERM ({handover:?}) comes before Master_Down_Interval ({mdi:?})"
    );
    r.lab.passed();
    Ok(())
}

#[test]
fn swarm_four_elects_fails_over_and_preempts_back() -> Result<()> {
    run_scenario(&Case {
        scenario: Scenario::load("swarm-four")?,
        prepare: no_preparation,
        traffic_check: None,
    })
}

#[test]
fn docker_pair_equal_priority_keeps_the_current_master() -> Result<()> {
    // node1: state MASTER + nopreempt (keepalived clears nopreempt); node2:
    // BACKUP + nopreempt. Equal priority: neither takes the VIP from a
    // running Master. The client's route to the VIP's subnet on its link
    // comes with the scenario.
    run_scenario(&Case {
        scenario: Scenario::load("docker-pair")?,
        prepare: no_preparation,
        traffic_check: None,
    })
}

/// Packets the node's kernel forwarded (`Ip: ForwDatagrams` of /proc/net/snmp).
fn forwarded(lab: &Lab, node: usize) -> Result<u64> {
    let out = run(lab.node(node).ns.command("cat").arg("/proc/net/snmp"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().filter(|l| l.starts_with("Ip:"));
    let names: Vec<&str> = lines
        .next()
        .context("Ip header")?
        .split_whitespace()
        .collect();
    let values: Vec<&str> = lines
        .next()
        .context("Ip values")?
        .split_whitespace()
        .collect();
    let at = names
        .iter()
        .position(|n| *n == "ForwDatagrams")
        .context("ForwDatagrams")?;
    Ok(values[at].parse()?)
}

#[test]
fn unicast_gateway_routes_client_traffic_through_the_holder() -> Result<()> {
    run_scenario(&Case {
        scenario: Scenario::load("unicast-gateway")?,
        prepare: build_server_network,
        traffic_check: Some(traffic_flows_through_holder),
    })
}

/// Client pings sent through the gateway in each check.
const GATEWAY_PINGS: u64 = 10;
const SERVER: &str = "192.168.2.100";

/// A server network behind dent2/dent3 (eth1, 192.168.2.0/24); the gateways
/// forward. (The client's default route via the VIP comes with the scenario.)
fn build_server_network(lab: &mut Lab, nodes: &[usize], _client: usize) -> Result<()> {
    let server = lab.add_node_on("br1", "server", "eth0", &[&format!("{SERVER}/24")])?;
    for (i, &node) in nodes.iter().enumerate() {
        lab.add_link(node, "br1", "eth1", &[&format!("192.168.2.{}/24", 11 + i)])?;
        lab.node(node).ns.sysctl("net.ipv4.ip_forward", "1")?;
    }
    lab.node(server)
        .ns
        .ip(&["route", "add", "192.168.1.0/24", "via", "192.168.2.11"])?;
    Ok(())
}

/// The client's traffic to the server is forwarded by the holder.
fn traffic_flows_through_holder(r: &Running, holder: usize) -> Result<()> {
    let holder_node = r.nodes[holder];
    let before = forwarded(&r.lab, holder_node)?;
    run(r.lab.node(r.client).ns.command("ping").args([
        "-n",
        "-c",
        &GATEWAY_PINGS.to_string(),
        "-i",
        "0.05",
        "-W",
        "2",
        SERVER,
    ]))?;
    let after = forwarded(&r.lab, holder_node)?;
    assert!(
        after - before >= GATEWAY_PINGS,
        "the holder {} forwarded the client's packets ({before} -> {after})",
        r.lab.node(holder_node).ns.name
    );
    println!(
        "GATEWAY {} forwarded {} packets for {GATEWAY_PINGS} client pings to {SERVER}",
        r.lab.node(holder_node).ns.name,
        after - before
    );
    Ok(())
}
