//! No advert meets the fast path before its policy: under a steady stream
//! of adverts for the instance's VRID, neither a fresh start nor a restart
//! after a crash (whose program takes over the pinned attachment) lets the
//! program see one it has no policy for: its `unconfigured` count stays 0
//! while it validates the stream.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{ensure, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use tests::{
    agent::{wait_for_state, AgentProcess, AgentSpec},
    frames::{PacketSocket, V2Advert},
    wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);
const VRID: u8 = 66;

/// The stream stops after this long even if the test does not stop it.
const STREAM_LIMIT: Duration = Duration::from_secs(120);

/// Valid adverts the new program must have validated before its counters
/// are read.
const VALIDATED: u64 = 200;

/// The instance's XDP VRRP counters in `status --json`.
fn xdp_vrrp(agent: &AgentProcess) -> Option<Value> {
    let status = agent.status().ok()?;
    let vrrp = status["instances"][0]["xdp"]["vrrp"].clone();
    vrrp.is_object().then_some(vrrp)
}

fn count(vrrp: &Value, key: &str) -> u64 {
    vrrp[key].as_u64().unwrap_or(0)
}

/// Waits until the agent's own program has validated [`VALIDATED`] frames
/// of the stream; its counters then.
fn after_the_stream_met_the_program(agent: &AgentProcess) -> Result<Value> {
    wait_for("the program to validate the stream", BOUND, || {
        let vrrp = xdp_vrrp(agent)?;
        (count(&vrrp, "adverts_valid") >= VALIDATED).then_some(vrrp)
    })
}

#[test]
fn the_program_meets_no_advert_before_its_policy_at_start_or_after_a_crash() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.3.0.1/24"])?;
    let sender = lab.add_node("sender", "eth0", &["10.3.0.3/24"])?;
    let conf = lab.work_dir().join("a.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id {VRID}\n    \
             priority 200\n    advert_int 1\n    virtual_ipaddress {{\n        10.3.0.100/24\n    }}\n}}\n"
        ),
    )?;

    // A lower-priority router advertising every millisecond.
    let interface = lab.node(sender).interface.clone();
    let socket = lab
        .node(sender)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let mac = lab.node(sender).ns.mac("eth0")?;
    let frame = V2Advert::multicast(mac, [10, 3, 0, 3], VRID, 50, &[[10, 3, 0, 100]]).frame();
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<u64> {
            let started = Instant::now();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < STREAM_LIMIT {
                socket.send(&frame)?;
                sent += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(sent)
        })
    };

    let spec = AgentSpec::with_config(a, "a", &conf);
    let agent = lab.start_agent(&spec)?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    let fresh = after_the_stream_met_the_program(&agent)?;
    ensure!(
        count(&fresh, "unconfigured") == 0,
        "fresh start: the program saw adverts without a policy: {fresh}"
    );

    // A crash and a restart at once: the new program takes over the pinned
    // attachment while the stream goes on.
    agent.signal(Signal::SIGKILL)?;
    let mut agent = agent;
    agent.wait_exit(BOUND)?;
    let agent = lab.start_agent(&spec)?;
    let restarted = wait_for("the restarted agent's own fast path", BOUND, || {
        let status = agent.status().ok()?;
        (status["xdp_mode"] != "loading").then_some(())
    })
    .and_then(|()| after_the_stream_met_the_program(&agent))?;
    ensure!(
        count(&restarted, "unconfigured") == 0,
        "after a crash: the program saw adverts without a policy: {restarted}"
    );

    stop.store(true, Ordering::Relaxed);
    let sent = stream
        .join()
        .map_err(|_| anyhow::anyhow!("the stream thread panicked"))??;
    ensure!(sent > 2 * VALIDATED, "only {sent} adverts sent");
    drop(agent);
    lab.passed();
    Ok(())
}
