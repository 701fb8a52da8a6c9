//! One agent per pid file, bpffs directory, control socket and VRRP router:
//! a second `vip-agent run` that would share any of them with a live agent
//! refuses in one line, and the live agent, its VIP, its pins, its pid file
//! and its socket are exactly as they were (no VIP removed as "left by an
//! earlier run", no priority-0 advert that makes the Backup Master).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use tests::{
    agent::{holders, wait_for_sole_holder, wait_for_state, AgentProcess, AgentSpec},
    agent_bin, wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);

fn config(vrid: u8, priority: u8, vip: &str) -> String {
    format!(
        "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

/// What a refused start must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct LiveAgent {
    pid_file: String,
    pins: BTreeSet<String>,
    socket_exists: bool,
}

impl LiveAgent {
    fn read(pid_file: &Path, pin_dir: &Path, socket: &Path) -> Result<Self> {
        Ok(Self {
            pid_file: std::fs::read_to_string(pid_file).context("reading the pid file")?,
            pins: std::fs::read_dir(pin_dir)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<_>>()?,
            socket_exists: socket.exists(),
        })
    }
}

/// `vip-agent run` with `paths` in node `node`; it must exit (bounded) with
/// an error; returns its stderr.
fn refused_run(lab: &Lab, node: usize, config: &Path, paths: [&Path; 3]) -> Result<String> {
    let log = lab.work_dir().join("refused.log");
    let mut child = lab
        .node(node)
        .ns
        .command(agent_bin())
        .args(["run", "--config"])
        .arg(config)
        .arg("--control-socket")
        .arg(paths[0])
        .arg("--pid-file")
        .arg(paths[1])
        .arg("--bpffs-dir")
        .arg(paths[2])
        .env("VIP_AGENT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let exit = wait_for("the second agent to give up", BOUND, || {
        child.try_wait().ok().flatten()
    });
    let exit = match exit {
        Ok(exit) => exit,
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{err}: it runs beside the live agent");
        }
    };
    let stderr = std::fs::read_to_string(&log)?;
    ensure!(!exit.success(), "the second agent exited 0: {stderr}");
    Ok(stderr)
}

#[test]
fn a_second_agent_sharing_anything_with_a_live_one_refuses_and_changes_nothing() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.5.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.5.0.2/24"])?;
    let dir = lab.work_dir().to_path_buf();
    let conf_a = dir.join("a.conf");
    let conf_b = dir.join("b.conf");
    let other_vrid = dir.join("other.conf");
    std::fs::write(&conf_a, config(63, 200, "10.5.0.100/24"))?;
    std::fs::write(&conf_b, config(63, 100, "10.5.0.100/24"))?;
    std::fs::write(&other_vrid, config(64, 100, "10.5.0.200/24"))?;
    let live: AgentProcess = lab.start_agent(&AgentSpec::with_config(a, "a", &conf_a))?;
    // The Backup starts once A is Master: started together, a slow start of
    // A lets B take over first and be preempted, which is not what is tested.
    wait_for_state(&live, "VI_63", "MASTER", BOUND)?;
    let backup = lab.start_agent(&AgentSpec::with_config(b, "b", &conf_b))?;
    let vip = "10.5.0.100".parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;
    wait_for_state(&backup, "VI_63", "BACKUP", BOUND)?;
    let (socket, pid_file, pin_dir) = (
        live.control_socket.clone(),
        dir.join("a.pid"),
        lab.bpffs_dir("a"),
    );
    let before = LiveAgent::read(&pid_file, &pin_dir, &socket)?;
    ensure!(!before.pins.is_empty(), "the live agent pinned nothing");
    let takeovers = backup.counter("VI_63", "became_master")?;

    let fresh = |name: &str| -> PathBuf { dir.join(name) };
    let fresh_pins = lab.bpffs_dir("second");
    let cases: [(&str, &Path, [&Path; 3], &str); 4] = [
        (
            "the same pid file",
            &other_vrid,
            [&fresh("2.sock"), &pid_file, &fresh_pins],
            "runs with pid file",
        ),
        (
            "the same bpffs directory",
            &other_vrid,
            [&fresh("2.sock"), &fresh("2.pid"), &pin_dir],
            "runs with bpffs directory",
        ),
        (
            "the same control socket",
            &other_vrid,
            [&socket, &fresh("2.pid"), &fresh_pins],
            "another agent is running with control socket",
        ),
        (
            "the same interface and VRID",
            &conf_a,
            [&fresh("2.sock"), &fresh("2.pid"), &fresh_pins],
            "runs VRID 63 (IPv4) on eth0",
        ),
    ];
    for (what, config, paths, expected) in cases {
        let stderr = refused_run(&lab, a, config, paths)?;
        ensure!(
            stderr.contains(expected),
            "{what}: expected {expected:?} in:\n{stderr}"
        );
        ensure!(
            stderr.lines().count() == 1,
            "{what}: more than one line:\n{stderr}"
        );
        let after = LiveAgent::read(&pid_file, &pin_dir, &socket)?;
        ensure!(after == before, "{what}: {before:?} became {after:?}");
        ensure!(
            !fresh_pins.exists() && !fresh("2.pid").exists() && !fresh("2.sock").exists(),
            "{what}: the refused run left files"
        );
        ensure!(
            holders(&lab, &[a, b], "eth0", vip) == [a],
            "{what}: the VIP moved"
        );
        ensure!(live.state("VI_63").as_deref() == Some("MASTER"), "{what}");
    }
    // Nothing the refused runs did reached the Backup: more adverts than a
    // Master_Down_Interval lasts, and it never took over.
    let heard = backup.counter("VI_63", "adverts_received")?;
    wait_for("the Backup to hear five more adverts", BOUND, || {
        (backup.counter("VI_63", "adverts_received").ok()? >= heard + 5).then_some(())
    })?;
    ensure!(backup.counter("VI_63", "became_master")? == takeovers);
    lab.passed();
    Ok(())
}
