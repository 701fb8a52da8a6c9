//! A deployment of `examples/scenarios` running in a lab: one namespace per
//! node on one bridge plus a client, one `vip-agent run` per node with the
//! node's keepalived.conf unchanged, and what the scenario tests ask of it
//! (who must hold the VIP, the client's view). Names, interfaces,
//! priorities, preemption, VIP and advert interval come from the .conf
//! files ([`vip_netns::scenario`]).

use std::{net::IpAddr, time::Duration};

use anyhow::{Context, Result};
use vip_netns::{probe::Probe, scenario::Scenario};

use crate::{
    agent::{arping, holders, AgentProcess, AgentSpec},
    wait_for, Lab,
};

/// Generous bound for an election or a takeover: the machine is small and
/// shared.
pub const ELECTION: Duration = Duration::from_secs(30);

/// A scenario of examples/scenarios and what its test adds to it.
pub struct Case {
    pub scenario: Scenario,
    /// Builds what the test needs beyond the scenario's segment (networks
    /// behind the gateways) before the agents start.
    pub prepare: fn(&mut Lab, &[usize], usize) -> Result<()>,
    /// Checked with the current holder after each election.
    pub traffic_check: Option<fn(&Running, usize) -> Result<()>>,
}

impl Case {
    /// The scenario as it is, nothing added.
    pub fn plain(scenario: Scenario) -> Self {
        Self {
            scenario,
            prepare: no_preparation,
            traffic_check: None,
        }
    }
}

pub fn no_preparation(_: &mut Lab, _: &[usize], _: usize) -> Result<()> {
    Ok(())
}

/// RFC 3768 section 6.1 (VRRPv2): Skew_Time = (256 - priority) / 256 s.
pub fn skew_time(priority: u8) -> Duration {
    Duration::from_secs(1) * (256 - u32::from(priority)) / 256
}

pub fn master_down_interval(advert_int: Duration, priority: u8) -> Duration {
    advert_int * 3 + skew_time(priority)
}

/// The scenario's lab with one agent per node.
pub struct Running {
    pub lab: Lab,
    /// Lab node of each scenario node, in the scenario's order.
    pub nodes: Vec<usize>,
    pub client: usize,
    /// The agent of each scenario node, while it runs.
    pub agents: Vec<Option<AgentProcess>>,
    pub specs: Vec<AgentSpec>,
}

impl Running {
    /// The running agent of scenario node `i`.
    pub fn agent(&self, i: usize) -> Result<&AgentProcess> {
        self.agents[i]
            .as_ref()
            .with_context(|| format!("the agent of node {i} is not running"))
    }

    pub fn agent_mut(&mut self, i: usize) -> Result<&mut AgentProcess> {
        self.agents[i]
            .as_mut()
            .with_context(|| format!("the agent of node {i} is not running"))
    }

    /// Starts (again) the agent of scenario node `i` with its spec.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        let spec = self.specs[i].clone();
        self.agents[i] = Some(self.lab.start_agent(&spec)?);
        Ok(())
    }
}

/// The scenario's namespaces without agents: the lab, the lab node of each
/// scenario node (in the scenario's order) and the client's.
pub struct Layout {
    pub lab: Lab,
    pub nodes: Vec<usize>,
    pub client: usize,
}

/// Builds the lab for `case`: one namespace per node and the client on one
/// bridge, the client's routes and what `case.prepare` adds.
pub fn lay_out(case: &Case) -> Result<Layout> {
    let scenario = &case.scenario;
    let mut lab = Lab::new()?;
    let mut nodes = Vec::new();
    for node in &scenario.nodes {
        nodes.push(lab.add_node(&node.name, &node.interface, &[&node.address])?);
    }
    let client = lab.add_node(
        "client",
        &scenario.client.interface,
        &[&scenario.client.address],
    )?;
    for route in &scenario.client.routes {
        let mut args = vec!["route", "add"];
        args.extend(route.iter().map(String::as_str));
        lab.node(client).ns.ip(&args)?;
    }
    (case.prepare)(&mut lab, &nodes, client)?;
    Ok(Layout { lab, nodes, client })
}

/// Builds the lab for `case` and starts every node's agent.
pub fn start(case: &Case) -> Result<Running> {
    let Layout {
        mut lab,
        nodes,
        client,
    } = lay_out(case)?;
    let mut specs = Vec::new();
    let mut agents = Vec::new();
    for (i, node) in case.scenario.nodes.iter().enumerate() {
        let spec = AgentSpec::with_config(nodes[i], &node.name, &node.config);
        agents.push(Some(lab.start_agent(&spec)?));
        specs.push(spec);
    }
    Ok(Running {
        lab,
        nodes,
        client,
        agents,
        specs,
    })
}

/// `ping` every `interval` from the client to `target`, for at most a
/// minute.
pub fn start_probe(r: &Running, target: IpAddr, interval: Duration) -> Result<Probe> {
    Ok(Probe::start(
        r.lab.node(r.client).ns.command("ping"),
        target,
        interval,
        Duration::from_secs(60),
    )?)
}

/// The node that must hold the VIP among `alive`: the highest priority;
/// `None` when the highest priority is shared (either may win).
pub fn expected_holder(scenario: &Scenario, alive: &[usize]) -> Option<usize> {
    let best = alive.iter().map(|&i| scenario.nodes[i].priority).max()?;
    let top: Vec<usize> = alive
        .iter()
        .copied()
        .filter(|&i| scenario.nodes[i].priority == best)
        .collect();
    (top.len() == 1).then(|| top[0])
}

/// Waits until exactly one node holds the VIP; returns its scenario index.
pub fn sole_holder(r: &Running, scenario: &Scenario, vip: IpAddr) -> Result<usize> {
    let iface = &scenario.nodes[0].interface;
    let found = wait_for("exactly one holder of the VIP", ELECTION, || {
        let h = holders(&r.lab, &r.nodes, iface, vip);
        (h.len() == 1).then(|| h[0])
    })?;
    Ok(r.nodes
        .iter()
        .position(|&n| n == found)
        .expect("a lab node"))
}

pub fn client_reaches(r: &Running, target: IpAddr) -> Result<()> {
    lab_client_reaches(&r.lab, r.client, target)
}

/// Waits until one `ping` from lab node `client` to `target` is answered.
pub fn lab_client_reaches(lab: &Lab, client: usize, target: IpAddr) -> Result<()> {
    wait_for("the client to reach the VIP", ELECTION, || {
        lab.node(client)
            .ns
            .command("ping")
            .args(["-n", "-c", "1", "-W", "1"])
            .arg(target.to_string())
            .output()
            .ok()
            .filter(|o| o.status.success())
    })?;
    Ok(())
}

pub fn assert_arping_finds(
    r: &Running,
    scenario: &Scenario,
    vip: IpAddr,
    holder: usize,
) -> Result<()> {
    let expected = r
        .lab
        .node(r.nodes[holder])
        .ns
        .mac(&scenario.nodes[holder].interface)?;
    let got = arping(&r.lab, r.client, &scenario.client.interface, vip)?;
    assert_eq!(
        got, expected,
        "arping answer comes from the holder {}",
        scenario.nodes[holder].name
    );
    Ok(())
}

/// Waits until the agent of node `i` has heard enough adverts from the
/// holder that, had it wanted to take over, it would have (more than
/// Master_Down_Interval worth).
pub fn wait_until_settled_backup(r: &Running, i: usize, name: &str, adverts: u64) -> Result<()> {
    let agent = r.agent(i)?;
    wait_for(&format!("{name} to settle as backup"), ELECTION, || {
        let status = agent.status().ok()?;
        let inst = &status["instances"][0];
        (inst["state"] == "BACKUP" && inst["adverts_received"].as_u64()? >= adverts).then_some(())
    })
}
