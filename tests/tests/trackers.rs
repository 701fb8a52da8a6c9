//! File and process trackers between two nodes, A (priority 150) and B
//! (100), VRRPv2 on one segment, B preempting:
//!
//! - vip-agent pair, `track_file` (weight -10) on A: writing 6 into the file
//!   takes A to 90, so B takes the VIP; writing 0 brings it back to A;
//! - vip-agent pair, `vrrp_track_process` (weight 0) on A tracking a
//!   `sleep` the test started with a distinctive argument: killing it puts
//!   A in FAULT and B takes the VIP; starting it again brings it back;
//! - keepalived 2.2.7 as A, vip-agent as B: the same `track_file` case
//!   gives the same outcome;
//! - keepalived 2.2.7 as A with the same `vrrp_track_process`: run with
//!   `ip netns exec`, the kernel refuses it the process connector (which
//!   serves only the initial network namespace), so it never counts the
//!   running process and stays in FAULT: B holds the VIP.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{wait_for_sole_holder, AgentProcess, AgentSpec},
    keepalived::Keepalived,
    wait_for, Lab,
};

/// Generous: two noisy cores; a v2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
const IFACE: &str = "eth0";
const VIP_TEXT: &str = "10.9.4.70/24";

fn vip() -> IpAddr {
    "10.9.4.70".parse().unwrap()
}

/// The instance, with `extra` lines (its trackers) inside it.
fn instance(vrid: u8, priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {IFACE}\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    advert_int 1\n{extra}    virtual_ipaddress {{\n        {VIP_TEXT}\n    }}\n}}\n"
    )
}

/// A's configuration tracking `path` with weight -10, starting from 0.
fn file_config(vrid: u8, path: &Path) -> String {
    format!(
        "track_file weight_file {{\n    file {}\n    weight -10\n    init_file 0 overwrite\n}}\n{}",
        path.display(),
        instance(vrid, 150, "    track_file {\n        weight_file\n    }\n")
    )
}

/// A's configuration tracking `sleep 1000 MARKER` (weight 0: FAULT without it).
fn process_config(vrid: u8, marker: &str) -> String {
    format!(
        "vrrp_track_process sleeper {{\n    process sleep 1000 {marker}\n    weight 0\n}}\n{}",
        instance(vrid, 150, "    track_process {\n        sleeper\n    }\n")
    )
}

/// A `sleep 1000 MARKER` (sleep adds its arguments up, so the marker is a
/// small number no other process is likely to use), killed on drop.
struct Sleeper(Child);

impl Sleeper {
    fn start(marker: &str) -> Result<Self> {
        let child = Command::new("sleep")
            .args(["1000", marker])
            .stdin(Stdio::null())
            .spawn()
            .context("starting sleep")?;
        Ok(Self(child))
    }

    fn kill(mut self) -> Result<()> {
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn marker(case: u32) -> String {
    format!("0.{:06}{case}", std::process::id() % 1_000_000)
}

/// Two nodes, A and B, on one segment.
fn lab() -> Result<(Lab, usize, usize)> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", IFACE, &["10.9.4.1/24"])?;
    let b = lab.add_node("b", IFACE, &["10.9.4.2/24"])?;
    Ok((lab, a, b))
}

fn start_agent(lab: &mut Lab, node: usize, role: &str, config: &str) -> Result<AgentProcess> {
    let path: PathBuf = lab.work_dir().join(format!("{role}.conf"));
    std::fs::write(&path, config)?;
    lab.start_agent(&AgentSpec::with_config(node, role, &path))
}

fn effective_priority(agent: &AgentProcess) -> Option<u64> {
    agent.status().ok()?["instances"][0]["effective_priority"].as_u64()
}

/// Writes `value` as a program would: the whole file, then close.
fn write_value(path: &Path, value: i64) -> Result<()> {
    std::fs::write(path, format!("{value}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

#[test]
fn a_tracked_file_value_moves_the_vip_and_back() -> Result<()> {
    let (mut lab, a, b) = lab()?;
    let nodes = [a, b];
    let path = lab.work_dir().join("a.weight");
    let agent_a = start_agent(&mut lab, a, "a", &file_config(81, &path))?;
    let _agent_b = start_agent(&mut lab, b, "b", &instance(81, 100, ""))?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;
    ensure!(
        std::fs::read_to_string(&path)? == "0\n",
        "init_file wrote 0"
    );

    write_value(&path, 6)?;
    let written = Instant::now();
    wait_for("A's priority to be 150 - 60", BOUND, || {
        (effective_priority(&agent_a)? == 90).then_some(())
    })?;
    println!(
        "track_file: the write seen in A's status after {} ms",
        written.elapsed().as_millis()
    );
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), b, BOUND)?;

    write_value(&path, 0)?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;
    ensure!(effective_priority(&agent_a) == Some(150));
    lab.passed();
    Ok(())
}

#[test]
fn a_tracked_process_exit_moves_the_vip_and_its_return_brings_it_back() -> Result<()> {
    let marker = marker(1);
    let sleeper = Sleeper::start(&marker)?;
    let (mut lab, a, b) = lab()?;
    let nodes = [a, b];
    let agent_a = start_agent(&mut lab, a, "a", &process_config(82, &marker))?;
    let _agent_b = start_agent(&mut lab, b, "b", &instance(82, 100, ""))?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;

    sleeper.kill()?;
    let killed = Instant::now();
    wait_for("A to be in FAULT", BOUND, || {
        (agent_a.state("VI_1")? == "FAULT").then_some(())
    })?;
    println!(
        "track_process: the exit seen in A's status after {} ms",
        killed.elapsed().as_millis()
    );
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), b, BOUND)?;

    let _sleeper = Sleeper::start(&marker)?;
    let started = Instant::now();
    wait_for("A to leave FAULT", BOUND, || {
        (agent_a.state("VI_1")? != "FAULT").then_some(())
    })?;
    println!(
        "track_process: the new process seen in A's status after {} ms",
        started.elapsed().as_millis()
    );
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;
    ensure!(agent_a.state("VI_1").as_deref() == Some("MASTER"));
    lab.passed();
    Ok(())
}

#[test]
fn keepalived_moves_the_vip_on_a_tracked_file_value_the_same_way() -> Result<()> {
    let (mut lab, a, b) = lab()?;
    let nodes = [a, b];
    let path = lab.work_dir().join("ka.weight");
    let keepalived = Keepalived::start(&mut lab, a, "ka", &file_config(83, &path))?;
    let _agent_b = start_agent(&mut lab, b, "b", &instance(83, 100, ""))?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;

    write_value(&path, 6)?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), b, BOUND)?;
    write_value(&path, 0)?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), a, BOUND)?;
    ensure!(
        keepalived.state("VI_1").as_deref() == Some("MASTER"),
        "keepalived: {:?}",
        keepalived.state("VI_1")
    );
    lab.passed();
    Ok(())
}

/// keepalived inside a network namespace cannot track processes at all:
/// the kernel refuses it the process connector (ECONNREFUSED: it serves
/// only the initial network namespace), keepalived then never counts the
/// running process, and a weight-0 tracker keeps it in FAULT, so B holds
/// the VIP although the tracked process runs all along.
#[test]
fn keepalived_in_a_network_namespace_cannot_track_a_process() -> Result<()> {
    let marker = marker(2);
    let _sleeper = Sleeper::start(&marker)?;
    let (mut lab, a, b) = lab()?;
    let nodes = [a, b];
    let mut keepalived = Keepalived::start(&mut lab, a, "ka", &process_config(84, &marker))?;
    let agent_b = start_agent(&mut lab, b, "b", &instance(84, 100, ""))?;
    // keepalived logs this start-up fault in lower case.
    wait_for("keepalived to enter FAULT", BOUND, || {
        keepalived
            .log_text()
            .contains("(VI_1) entering FAULT state")
            .then_some(())
    })?;
    let log = keepalived.log_text();
    ensure!(
        log.contains("process event listen - errno 111")
            && log.contains("tracked process sleeper quorum not achieved"),
        "keepalived's reasons:\n{log}"
    );
    wait_for_sole_holder(&lab, &nodes, IFACE, vip(), b, BOUND)?;
    // B keeps it: keepalived sends no advert from FAULT.
    let sent = agent_b.counter("VI_1", "adverts_sent")?;
    wait_for("B to send five more adverts", BOUND, || {
        (agent_b.counter("VI_1", "adverts_sent").ok()? >= sent + 5).then_some(())
    })?;
    ensure!(
        tests::agent::holders(&lab, &nodes, IFACE, vip()) == [b]
            && keepalived.state("VI_1").is_none()
            && keepalived.running(),
        "keepalived left FAULT: {:?}\n{}",
        keepalived.state("VI_1"),
        keepalived.log_text()
    );
    lab.passed();
    Ok(())
}
