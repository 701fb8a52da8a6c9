//! An address the operator put on the interface before the agent started,
//! and which is also a VIP: the agent says in one warning what it will do
//! with it, and then never gives it a lifetime (a refresh would make it
//! expire with the agent) nor removes it, as Master or leaving Master.

use std::{process::Command, time::Duration};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tests::{
    agent::{wait_for_state, AgentSpec},
    run, wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);

/// The kernel's "forever".
const INFINITY_LIFE_TIME: u64 = u32::MAX as u64;

/// `valid_life_time` of `address` on the node's eth0, if it is there.
fn valid_lifetime(lab: &Lab, node: usize, address: &str) -> Result<Option<u64>> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "addr", "show", "dev", "eth0"])?;
    let json: Value = serde_json::from_slice(&out.stdout)?;
    Ok(json[0]["addr_info"]
        .as_array()
        .context("no addr_info")?
        .iter()
        .find(|a| a["local"] == address)
        .and_then(|a| a["valid_life_time"].as_u64()))
}

#[test]
fn an_operators_permanent_vip_keeps_its_lifetime_and_stays_after_master() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.4.0.1/24"])?;
    lab.node(a)
        .ns
        .ip(&["addr", "add", "10.4.0.100/24", "dev", "eth0"])?;
    let conf = lab.work_dir().join("a.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 65\n    priority 150\n    \
         advert_int 1\n    virtual_ipaddress {\n        10.4.0.100/24\n    }\n}\n",
    )?;
    // A short VIP lifetime: refreshes come every second, so the loop below
    // passes several of them.
    let agent = lab.start_agent(
        &AgentSpec::with_config(a, "a", &conf)
            .arg("--vip-lifetime")
            .arg("3"),
    )?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    let sent = agent.counter("VI_1", "adverts_sent")?;
    wait_for("five adverts as Master", BOUND, || {
        let now = agent.counter("VI_1", "adverts_sent").ok()?;
        ensure_permanent(&lab, a).ok()?;
        (now >= sent + 5).then_some(())
    })?;
    ensure_permanent(&lab, a)?;
    let log = agent.log_text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("an operator's address"))
        .collect();
    ensure!(warnings.len() == 1, "warnings: {warnings:?}\n{log}");

    // Leaving Master (a maintenance resign) leaves it as it is.
    agent.control("resign", Some("VI_1"))?;
    wait_for_state(&agent, "VI_1", "RESIGNED", BOUND)?;
    ensure_permanent(&lab, a)?;
    // And so does a clean stop.
    drop(run(Command::new(tests::agent_bin())
        .args(["stop", "--control-socket"])
        .arg(&agent.control_socket))?);
    let mut agent = agent;
    agent.wait_exit(BOUND)?;
    ensure_permanent(&lab, a)?;
    lab.passed();
    Ok(())
}

fn ensure_permanent(lab: &Lab, node: usize) -> Result<()> {
    let lifetime = valid_lifetime(lab, node, "10.4.0.100")?;
    ensure!(
        lifetime == Some(INFINITY_LIFE_TIME),
        "10.4.0.100 valid lifetime {lifetime:?}"
    );
    Ok(())
}
