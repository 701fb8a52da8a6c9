//! `virtual_routes` / `virtual_rules` and the `static_ipaddress`,
//! `static_routes` and `static_rules` blocks in the kernel, read back with
//! `ip -j route show table all` and `ip -j rule` in each node's namespace:
//! - virtual routes and rules exist only on the Master, move with it when
//!   it resigns or its link fails, and go when the agent stops;
//! - static ones are there from the start on every node and go at stop;
//! - someone else removing a watched one: a virtual route or rule makes the
//!   Master step down and come back with everything installed again; a
//!   static one is put back;
//! - keepalived 2.2.7 and vip-agent, given the same configuration side by
//!   side, leave the same routes, rules and static addresses in the kernel,
//!   while Master and after a clean stop.

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use tests::{
    agent::{wait_for_state, AgentProcess, AgentSpec},
    keepalived::Keepalived,
    wait_for, Lab,
};

/// Generous: two noisy cores; a VRRPv2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);

/// The routing part of the configuration every test uses; `{vip}` is the
/// instance's VIP, which one route takes as its source.
const VIRTUAL_ROUTING: &str = "\
    virtual_routes {
        10.61.0.0/16 via 10.60.0.254 dev eth0
        src 10.60.0.100 to 10.62.0.0/16 via 10.60.0.254 dev eth0 metric 20
        blackhole 10.63.0.0/16 table 100
        2001:db8:61::/48 via 2001:db8:60::254 dev eth0
    }
    virtual_rules {
        from 10.60.0.100/32 table 100 priority 100
        from 2001:db8:60::/64 table 100 priority 110
    }
";

const STATIC: &str = "\
static_ipaddress {
    192.168.60.50/24 dev eth1
}
static_routes {
    192.168.61.0/24 via 192.168.60.254 dev eth1
}
static_rules {
    from 192.168.60.50/32 table 200 priority 300
}
";

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 61\n    priority {priority}\n    \
         advert_int 1\n    virtual_ipaddress {{\n        10.60.0.100/24\n    }}\n{VIRTUAL_ROUTING}}}\n{STATIC}"
    )
}

/// The routes nobody but the routing daemons put there: every table, both
/// families, without the kernel's own (`proto kernel`: connected, local,
/// broadcast, link-local, multicast).
fn routes(lab: &Lab, node: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let dump = lab
            .node(node)
            .ns
            .ip(&["-j", family, "route", "show", "table", "all"])?;
        let json: Value = serde_json::from_slice(&dump.stdout).context("ip -j route")?;
        out.extend(
            json.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r["protocol"] != "kernel"),
        );
    }
    Ok(out)
}

/// The rules, both families, without the kernel's three defaults.
fn rules(lab: &Lab, node: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let dump = lab.node(node).ns.ip(&["-j", family, "rule", "show"])?;
        let json: Value = serde_json::from_slice(&dump.stdout).context("ip -j rule")?;
        out.extend(
            json.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| {
                    let default = matches!(
                        (r["priority"].as_u64(), r["table"].as_str()),
                        (Some(0), Some("local"))
                            | (Some(32766), Some("main"))
                            | (Some(32767), Some("default"))
                    );
                    !(default && r["src"] == "all" && r.get("protocol").is_none())
                }),
        );
    }
    Ok(out)
}

/// The addresses of `interface` (`local/prefixlen label`), lifetimes left out.
fn addresses(lab: &Lab, node: usize, interface: &str) -> Result<BTreeSet<String>> {
    let dump = lab
        .node(node)
        .ns
        .ip(&["-j", "addr", "show", "dev", interface])?;
    let json: Value = serde_json::from_slice(&dump.stdout)?;
    Ok(json[0]["addr_info"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|a| a["scope"] != "link")
        .map(|a| {
            format!(
                "{}/{} {} {}",
                a["local"].as_str().unwrap_or("?"),
                a["prefixlen"],
                a["label"].as_str().unwrap_or(""),
                if a["deprecated"] == true {
                    "deprecated"
                } else {
                    ""
                }
            )
            .trim()
            .to_string()
        })
        .collect())
}

fn has_route(routes: &[Value], dst: &str) -> bool {
    routes.iter().any(|r| r["dst"] == dst)
}

fn has_rule(rules: &[Value], priority: u64) -> bool {
    rules.iter().any(|r| r["priority"] == priority)
}

const VIRTUAL_ROUTES: [&str; 4] = [
    "10.61.0.0/16",
    "10.62.0.0/16",
    "10.63.0.0/16",
    "2001:db8:61::/48",
];
const VIRTUAL_RULES: [u64; 2] = [100, 110];

/// Whether the node holds every virtual route and rule (`Some(true)`),
/// none of them (`Some(false)`), or some only (`None`); and whether it
/// holds the static ones (all of them or not).
fn holdings(lab: &Lab, node: usize) -> Result<(Option<bool>, bool)> {
    let routes = routes(lab, node)?;
    let rules = rules(lab, node)?;
    let held: Vec<bool> = VIRTUAL_ROUTES
        .iter()
        .map(|d| has_route(&routes, d))
        .chain(VIRTUAL_RULES.iter().map(|p| has_rule(&rules, *p)))
        .collect();
    let virtual_state = if held.iter().all(|h| *h) {
        Some(true)
    } else if held.iter().all(|h| !*h) {
        Some(false)
    } else {
        None
    };
    let statics = has_route(&routes, "192.168.61.0/24")
        && has_rule(&rules, 300)
        && addresses(lab, node, "eth1")?.contains("192.168.60.50/24 eth1");
    Ok((virtual_state, statics))
}

/// Waits until the virtual routes and rules are on `master` only, and the
/// static ones on every node of `nodes`.
fn wait_routing_on(lab: &Lab, nodes: &[usize], master: Option<usize>) -> Result<()> {
    let mut last = Vec::new();
    wait_for(
        &format!("virtual routes and rules on {master:?} only, static ones everywhere"),
        BOUND,
        || {
            last = nodes
                .iter()
                .map(|&n| holdings(lab, n).ok())
                .collect::<Vec<_>>();
            nodes
                .iter()
                .zip(&last)
                .all(|(&n, h)| *h == Some((Some(Some(n) == master), true)))
                .then_some(())
        },
    )
    .with_context(|| format!("holdings (virtual, static) per node now: {last:?}"))
}

fn two_nodes(lab: &mut Lab) -> Result<(usize, usize)> {
    let a = lab.add_node("a", "eth0", &["10.60.0.1/24", "2001:db8:60::1/64"])?;
    let b = lab.add_node("b", "eth0", &["10.60.0.2/24", "2001:db8:60::2/64"])?;
    lab.add_link(a, "br1", "eth1", &["192.168.60.1/24"])?;
    lab.add_link(b, "br1", "eth1", &["192.168.60.2/24"])?;
    for node in [a, b] {
        // A link going down would otherwise take the node's IPv6 address
        // (and with it the IPv6 route's gateway) away for good.
        lab.node(node)
            .ns
            .sysctl("net.ipv6.conf.eth0.keep_addr_on_down", "1")?;
    }
    Ok((a, b))
}

fn start(lab: &mut Lab, node: usize, role: &str, priority: u8) -> Result<AgentProcess> {
    let path: PathBuf = lab.work_dir().join(format!("{role}.conf"));
    std::fs::write(&path, config(priority))?;
    lab.start_agent(&AgentSpec::with_config(node, role, &path))
}

fn stop(agent: &mut AgentProcess) -> Result<()> {
    agent.signal(Signal::SIGTERM)?;
    let status = agent.wait_exit(BOUND)?;
    ensure!(status.success(), "{} exited with {status}", agent.role);
    Ok(())
}

#[test]
fn virtual_routes_and_rules_live_on_the_master_and_static_ones_everywhere() -> Result<()> {
    let mut lab = Lab::new()?;
    let (a, b) = two_nodes(&mut lab)?;
    let nodes = [a, b];
    let agent_a = start(&mut lab, a, "a", 150)?;
    let mut agent_b = start(&mut lab, b, "b", 100)?;
    wait_for_state(&agent_a, "VI_1", "MASTER", BOUND)?;
    wait_for_state(&agent_b, "VI_1", "BACKUP", BOUND)?;
    wait_routing_on(&lab, &nodes, Some(a))?;

    // What the kernel holds on the Master, field by field.
    let on_a = routes(&lab, a)?;
    let find = |dst: &str| {
        on_a.iter()
            .find(|r| r["dst"] == dst)
            .cloned()
            .unwrap_or_default()
    };
    let r = find("10.61.0.0/16");
    ensure!(
        r["gateway"] == "10.60.0.254" && r["dev"] == "eth0" && r["protocol"] == "keepalived",
        "{r}"
    );
    let r = find("10.62.0.0/16");
    ensure!(r["prefsrc"] == "10.60.0.100" && r["metric"] == 20, "{r}");
    let r = find("10.63.0.0/16");
    ensure!(r["type"] == "blackhole" && r["table"] == "100", "{r}");
    let r = find("2001:db8:61::/48");
    ensure!(
        r["gateway"] == "2001:db8:60::254" && r["metric"] == 1024,
        "{r}"
    );
    let on_a = rules(&lab, a)?;
    ensure!(
        on_a.iter().any(|r| r["priority"] == 100
            && r["src"] == "10.60.0.100"
            && r["table"] == "100"
            && r["protocol"] == "keepalived"),
        "{on_a:?}"
    );

    // The Master resigns: everything virtual moves to the other node.
    agent_a.control("resign", Some("VI_1"))?;
    wait_for_state(&agent_b, "VI_1", "MASTER", BOUND)?;
    wait_routing_on(&lab, &nodes, Some(b))?;
    // Back: the higher priority preempts.
    agent_a.control("resume", Some("VI_1"))?;
    wait_for_state(&agent_a, "VI_1", "MASTER", BOUND)?;
    wait_routing_on(&lab, &nodes, Some(a))?;

    // The Master's link fails: FAULT there (the kernel also drops the
    // routes through eth0; the rules are the agent's to remove), Master on b.
    lab.node(a).ns.ip(&["link", "set", "eth0", "down"])?;
    wait_for_state(&agent_a, "VI_1", "FAULT", BOUND)?;
    wait_for_state(&agent_b, "VI_1", "MASTER", BOUND)?;
    wait_routing_on(&lab, &nodes, Some(b))?;
    lab.node(a).ns.ip(&["link", "set", "eth0", "up"])?;
    wait_for_state(&agent_a, "VI_1", "MASTER", BOUND)?;
    wait_routing_on(&lab, &nodes, Some(a))?;

    // A clean stop of the Master hands over; b then holds everything virtual.
    let mut agent_a = agent_a;
    stop(&mut agent_a)?;
    wait_for_state(&agent_b, "VI_1", "MASTER", BOUND)?;
    ensure!(
        holdings(&lab, a)? == (Some(false), false),
        "a stopped agent left routes, rules or its static address: {:?} {:?} {:?}",
        routes(&lab, a)?,
        rules(&lab, a)?,
        addresses(&lab, a, "eth1")?
    );
    wait_routing_on(&lab, &[b], Some(b))?;
    stop(&mut agent_b)?;
    for node in nodes {
        ensure!(
            routes(&lab, node)?.is_empty() && rules(&lab, node)?.is_empty(),
            "node {node} after both stopped: {:?} {:?}",
            routes(&lab, node)?,
            rules(&lab, node)?
        );
        ensure!(
            !addresses(&lab, node, "eth1")?.contains("192.168.60.50/24 eth1"),
            "static address left on node {node}"
        );
    }
    lab.passed();
    Ok(())
}

/// How often the instance became Master.
fn became_master(agent: &AgentProcess) -> Result<u64> {
    agent.counter("VI_1", "became_master")
}

#[test]
fn removed_routes_rules_and_addresses_are_handled_as_keepalived_handles_them() -> Result<()> {
    let mut lab = Lab::new()?;
    let (a, _) = two_nodes(&mut lab)?;
    let agent = start(&mut lab, a, "a", 150)?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    wait_routing_on(&lab, &[a], Some(a))?;
    let ns = &lab.node(a).ns;

    // A watched virtual route removed by hand: the Master steps down, is
    // Master again after Skew_Time, and the route is back.
    let before = became_master(&agent)?;
    ns.ip(&[
        "route",
        "del",
        "10.61.0.0/16",
        "via",
        "10.60.0.254",
        "dev",
        "eth0",
    ])?;
    wait_for("the instance to be Master once more", BOUND, || {
        (became_master(&agent).ok()? > before && agent.state("VI_1")? == "MASTER").then_some(())
    })?;
    wait_routing_on(&lab, &[a], Some(a))?;
    let log = agent.log_text();
    ensure!(
        log.contains("a virtual route was removed; stepping down to Backup"),
        "{log}"
    );

    // The same for a virtual rule.
    let before = became_master(&agent)?;
    ns.ip(&["rule", "del", "priority", "100"])?;
    wait_for(
        "the instance to be Master again after the rule",
        BOUND,
        || (became_master(&agent).ok()? > before && agent.state("VI_1")? == "MASTER").then_some(()),
    )?;
    wait_routing_on(&lab, &[a], Some(a))?;

    // A blackhole has no dev: keepalived does not watch it, neither does the
    // agent; it stays removed and the instance stays Master.
    let before = became_master(&agent)?;
    let sent = agent.counter("VI_1", "adverts_sent")?;
    ns.ip(&["route", "del", "blackhole", "10.63.0.0/16", "table", "100"])?;
    // Three adverts later a step-down (and its return after Skew_Time, a
    // fraction of a second) would have shown in the count.
    wait_for("three more adverts", BOUND, || {
        (agent.counter("VI_1", "adverts_sent").ok()? >= sent + 3).then_some(())
    })?;
    ensure!(
        became_master(&agent)? == before && agent.state("VI_1").as_deref() == Some("MASTER"),
        "an unwatched route's removal changed the state"
    );
    ensure!(
        !has_route(&routes(&lab, a)?, "10.63.0.0/16"),
        "the blackhole came back"
    );

    // Static entries are put back, the state untouched.
    let before = became_master(&agent)?;
    ns.ip(&[
        "route",
        "del",
        "192.168.61.0/24",
        "via",
        "192.168.60.254",
        "dev",
        "eth1",
    ])?;
    wait_for("the static route back", BOUND, || {
        has_route(&routes(&lab, a).ok()?, "192.168.61.0/24").then_some(())
    })?;
    ns.ip(&["rule", "del", "priority", "300"])?;
    wait_for("the static rule back", BOUND, || {
        has_rule(&rules(&lab, a).ok()?, 300).then_some(())
    })?;
    ns.ip(&["addr", "del", "192.168.60.50/24", "dev", "eth1"])?;
    wait_for("the static address back", BOUND, || {
        addresses(&lab, a, "eth1")
            .ok()?
            .contains("192.168.60.50/24 eth1")
            .then_some(())
    })?;
    ensure!(
        became_master(&agent)? == before,
        "a static entry changed the state"
    );
    let mut agent = agent;
    stop(&mut agent)?;
    lab.passed();
    Ok(())
}

/// Every route and rule option that changes what the kernel gets, as far as
/// the kernel here takes it; the VIP first (one route has it as source).
const INTEROP: &str = "\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 62
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.60.0.100/24
    }
    virtual_ipaddress_excluded {
        2001:db8:60::100/64
    }
    virtual_routes {
        10.61.0.0/16 via 10.60.0.254 dev eth0
        src 10.60.0.100 to 10.62.0.0/16 via 10.60.0.254 dev eth0 metric 20
        10.64.0.0/16 via 10.60.0.254 dev eth0 table 100 metric 5
        10.65.0.0/16 dev eth0 scope link
        10.66.0.0/16 via 10.99.0.1 dev eth0 onlink
        10.67.0.0/16 via 10.60.0.254 dev eth0 tos 0x10
        10.68.0.0/16 via 10.60.0.254 dev eth0 mtu lock 1400 advmss 1360 hoplimit 9 window 2000 rtt 300ms rttvar 100ms rto_min 250ms initcwnd 10 initrwnd 20 ssthresh lock 30 cwnd 40 reordering 5 quickack 1 features ecn congctl cubic
        10.69.0.0/16 nexthop via 10.60.0.253 dev eth0 weight 2 nexthop via 10.60.0.252 dev eth0
        10.70.0.0/16 via 10.60.0.251 or 10.60.0.250
        blackhole 10.71.0.0/16 table 100
        unreachable 10.72.0.0/16 table 100
        prohibit 10.73.0.0/16 table 100
        throw 10.74.0.0/16 table 100
        10.75.0.0/16 via 10.60.0.254 dev eth0 protocol static no_track
        10.76.0.0/16 via 10.60.0.254 dev eth0 table 4000
        10.77.0.0/16 via 10.60.0.254 dev eth0 append
        2001:db8:61::/48 via 2001:db8:60::254 dev eth0
        2001:db8:62::/48 via 2001:db8:60::254 dev eth0 metric 10 pref high
        2001:db8:63::/48 dev eth0 table 100 mtu 1400
        blackhole 2001:db8:64::/48
    }
    virtual_rules {
        from 10.60.0.100/32 table 100 priority 100
        not to 10.80.0.0/16 lookup main priority 110
        fwmark 0x10/0xff table 101 priority 120
        iif eth0 oif eth1 table 100 priority 130
        from 10.60.0.0/24 ipproto tcp dport 80-80 sport 1000-2000 table 102 priority 140
        from 10.60.0.0/24 uidrange 100-200 table 102 priority 150
        from 10.60.0.0/24 tos 0x10 table 103 priority 160
        to 10.81.0.0/16 blackhole priority 170
        to 10.82.0.0/16 prohibit priority 180
        to 10.83.0.0/16 unreachable priority 190
        priority 200 goto 300
        to 10.84.0.0/16 nop priority 210
        from 10.60.0.0/24 table 104 suppress_prefixlength 0 priority 220
        from 10.60.0.0/24 table 4000 priority 230
        from 10.60.0.0/24 table 105 no_track priority 240
        from 2001:db8:60::/64 table 100 priority 250
        to 2001:db8:65::/48 prohibit priority 260
        from 10.60.0.0/24 table 106
    }
}
static_ipaddress {
    192.168.60.50/24 dev eth1 label eth1:st
    2001:db8:66::50/64 dev eth1
    2001:db8:67::50/128 dev eth1
}
static_routes {
    192.168.61.0/24 via 192.168.60.254 dev eth1
    2001:db8:68::/48 via 2001:db8:66::254 dev eth1
    blackhole 192.168.62.0/24
}
static_rules {
    from 192.168.60.50/32 table 200 priority 300
    from 2001:db8:66::/64 table 200 priority 310
}
";

/// What the kernel holds of routes, rules and the static addresses, in a
/// form two nodes can be compared in (sorted).
fn kernel_state(lab: &Lab, node: usize) -> Result<Vec<String>> {
    let mut state: Vec<String> = routes(lab, node)?
        .iter()
        .map(|r| format!("route {r}"))
        .chain(rules(lab, node)?.iter().map(|r| format!("rule {r}")))
        .chain(
            addresses(lab, node, "eth1")?
                .into_iter()
                .map(|a| format!("eth1 address {a}")),
        )
        .collect();
    state.sort();
    Ok(state)
}

fn differences(keepalived: &[String], agent: &[String]) -> String {
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|x| !b.contains(x)).cloned().collect()
    };
    format!(
        "only with keepalived:\n  {}\nonly with vip-agent:\n  {}",
        only(keepalived, agent).join("\n  "),
        only(agent, keepalived).join("\n  ")
    )
}

/// keepalived on one node, vip-agent on another with the same addresses on
/// a segment of its own: each is Master alone, and the kernel ends up with
/// the same routes, rules and static addresses on both; a watched virtual
/// route removed on both comes back on both; after a clean stop neither
/// leaves anything.
#[test]
fn keepalived_and_the_agent_give_the_kernel_the_same_routes_and_rules() -> Result<()> {
    let mut lab = Lab::new()?;
    let node_addresses = ["10.60.0.1/24", "2001:db8:60::1/64"];
    let k = lab.add_node_on("brk", "k", "eth0", &node_addresses)?;
    let v = lab.add_node_on("brv", "v", "eth0", &node_addresses)?;
    lab.add_link(k, "brk1", "eth1", &["192.168.60.1/24"])?;
    lab.add_link(v, "brv1", "eth1", &["192.168.60.1/24"])?;
    let mut keepalived = Keepalived::start(&mut lab, k, "k", INTEROP)?;
    let path = lab.work_dir().join("v.conf");
    std::fs::write(&path, INTEROP)?;
    let agent = lab.start_agent(&AgentSpec::with_config(v, "v", &path))?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    wait_for("keepalived to be Master", BOUND, || {
        (keepalived.state("VI_1")? == "MASTER").then_some(())
    })?;

    // keepalived installs in the moment after it logs the state: wait for
    // both sides to settle on the same picture.
    let mut last = (Vec::new(), Vec::new());
    let settled = wait_for("the same routes, rules and addresses", BOUND, || {
        let ks = kernel_state(&lab, k).ok()?;
        let vs = kernel_state(&lab, v).ok()?;
        let same = ks == vs;
        last = (ks, vs);
        same.then_some(())
    });
    if settled.is_err() {
        anyhow::bail!(
            "the kernels differ\n{}\nkeepalived log:\n{}",
            differences(&last.0, &last.1),
            keepalived.log_text()
        );
    }
    let (state, _) = &last;
    // The comparison compared something: every configured entry is there.
    let routes_seen = state.iter().filter(|l| l.starts_with("route ")).count();
    let rules_seen = state.iter().filter(|l| l.starts_with("rule ")).count();
    ensure!(
        routes_seen >= 23 && rules_seen >= 20,
        "only {routes_seen} routes and {rules_seen} rules installed:\n{}",
        state.join("\n")
    );
    println!("same kernel state: {routes_seen} routes, {rules_seen} rules, static addresses");

    // A watched virtual route removed on both: both step down and come
    // back with it (keepalived: "Entering BACKUP STATE" once more).
    let backups = |k: &Keepalived| k.log_text().matches("(VI_1) Entering BACKUP STATE").count();
    let keepalived_backups = backups(&keepalived);
    let agent_masters = became_master(&agent)?;
    for node in [k, v] {
        lab.node(node).ns.ip(&[
            "route",
            "del",
            "10.61.0.0/16",
            "via",
            "10.60.0.254",
            "dev",
            "eth0",
        ])?;
    }
    wait_for("keepalived to step down and come back", BOUND, || {
        (backups(&keepalived) > keepalived_backups
            && keepalived.state("VI_1")? == "MASTER"
            && has_route(&routes(&lab, k).ok()?, "10.61.0.0/16"))
        .then_some(())
    })?;
    wait_for("vip-agent to step down and come back", BOUND, || {
        (became_master(&agent).ok()? > agent_masters
            && agent.state("VI_1")? == "MASTER"
            && has_route(&routes(&lab, v).ok()?, "10.61.0.0/16"))
        .then_some(())
    })?;
    let settled = wait_for("the same state once more", BOUND, || {
        let ks = kernel_state(&lab, k).ok()?;
        let vs = kernel_state(&lab, v).ok()?;
        let same = ks == vs;
        last = (ks, vs);
        same.then_some(())
    });
    if settled.is_err() {
        anyhow::bail!(
            "after the removal the kernels differ\n{}",
            differences(&last.0, &last.1)
        );
    }

    // A clean stop: both remove everything they installed.
    keepalived.terminate(BOUND)?;
    let mut agent = agent;
    stop(&mut agent)?;
    let (ks, vs) = (kernel_state(&lab, k)?, kernel_state(&lab, v)?);
    ensure!(
        ks == vs,
        "after a clean stop the kernels differ\n{}",
        differences(&ks, &vs)
    );
    ensure!(
        ks.iter()
            .all(|l| !l.starts_with("rule ") && !l.starts_with("route ")),
        "routes or rules left after stop: {ks:?}"
    );
    println!("after a clean stop, both left: {ks:?}");
    lab.passed();
    Ok(())
}
