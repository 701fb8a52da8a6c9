//! The notify FIFOs, side by side with keepalived 2.2.7: the same
//! keepalived.conf (a sync group of two instances and one instance alone,
//! `notify_fifo` owned by nobody:nogroup with a reader script running as
//! nobody, and `vrrp_notify_fifo` read by the test) runs under keepalived,
//! then under vip-agent, through the same transitions: alone (BACKUP then
//! MASTER), a higher-priority peer takes over (BACKUP), the peer stops
//! (MASTER), a lower-priority Master is heard (MASTER_RX_LOWER_PRI), the
//! node stops (STOP). Both write the same lines for each instance and the
//! group, make the FIFO with the same mode and owner, start the script
//! with the FIFO's path as its argument, and remove the FIFO when they stop.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{AgentProcess, AgentSpec},
    fifo::FifoLines,
    frames::{PacketSocket, V2Advert},
    keepalived::Keepalived,
    wait_for, Lab,
};

/// Generous: two noisy cores; a VRRPv2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
const IFACE: &str = "eth0";
const SUBJECT_ADDR: &str = "10.61.0.1/24";
const PEER_IP: [u8; 4] = [10, 61, 0, 2];
/// (name, VRID, VIP) of each instance; VI_1 and VI_2 form sync group G.
const INSTANCES: [(&str, u8, [u8; 4]); 3] = [
    ("VI_1", 61, [10, 61, 0, 101]),
    ("VI_2", 62, [10, 61, 0, 102]),
    ("VI_3", 63, [10, 61, 0, 103]),
];

fn instances(priority: u8) -> String {
    INSTANCES
        .iter()
        .map(|(name, vrid, [a, b, c, d])| {
            format!(
                "vrrp_instance {name} {{\n    state BACKUP\n    interface {IFACE}\n    \
                 virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    \
                 virtual_ipaddress {{\n        {a}.{b}.{c}.{d}/24\n    }}\n}}\n"
            )
        })
        .collect()
}

/// The configuration under test, the same text for both implementations.
fn subject_config(dir: &Path) -> String {
    format!(
        "global_defs {{\n    notify_fifo {dir}/notify.fifo nobody nogroup\n    \
         notify_fifo_script {dir}/reader.sh nobody\n    vrrp_notify_fifo {dir}/vrrp.fifo\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}",
        instances(100),
        dir = dir.display()
    )
}

fn state_lines(state: &str, instances: &[&str], group: bool) -> Vec<String> {
    let mut lines: Vec<String> = instances
        .iter()
        .map(|i| format!("INSTANCE \"{i}\" {state} 100"))
        .collect();
    if group {
        lines.push(format!("GROUP \"G\" {state} 0"));
    }
    lines
}

/// The node under test.
enum Subject {
    Keepalived(Keepalived),
    Agent(AgentProcess),
}

impl Subject {
    fn stop(&mut self) -> Result<()> {
        match self {
            Subject::Keepalived(k) => k.terminate(BOUND)?,
            Subject::Agent(a) => {
                a.signal(Signal::SIGTERM)?;
                let status = a.wait_exit(BOUND)?;
                ensure!(status.success(), "vip-agent exited with {status}");
            }
        }
        Ok(())
    }
}

/// What one implementation did.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The lines of the FIFO the test read, by INSTANCE/GROUP name.
    by_name: BTreeMap<String, Vec<String>>,
    /// Every line, in order.
    lines: Vec<String>,
    /// File type and mode, owner and group of `notify_fifo`.
    fifo: (u32, u32, u32),
    /// The reader script's `$# $1 uid:gid`.
    script_args: String,
    /// What the reader script read from `notify_fifo`.
    script_lines: Vec<String>,
}

fn by_name(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let name = line.split('"').nth(1).unwrap_or_default().to_string();
        map.entry(name).or_default().push(line.clone());
    }
    map
}

fn run(lab: &mut Lab, subject: usize, peer: usize, keepalived: bool) -> Result<Outcome> {
    let who = if keepalived {
        "keepalived"
    } else {
        "vip-agent"
    };
    let dir = lab.work_dir().join(format!("{who}-fifos"));
    fs::create_dir_all(&dir)?;
    // The reader runs as nobody: it writes what it reads here.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))?;
    let reader = dir.join("reader.sh");
    fs::write(
        &reader,
        format!(
            "#!/bin/sh\nprintf '%s %s %s\\n' \"$#\" \"$1\" \"$(id -u):$(id -g)\" > {dir}/reader.args\n\
             exec cat \"$1\" >> {dir}/reader.lines\n",
            dir = dir.display()
        ),
    )?;
    fs::set_permissions(&reader, fs::Permissions::from_mode(0o755))?;
    let config = subject_config(&dir);
    let mut node = if keepalived {
        Subject::Keepalived(Keepalived::start(lab, subject, "subject-ka", &config)?)
    } else {
        let path = dir.join("keepalived.conf");
        fs::write(&path, &config)?;
        Subject::Agent(lab.start_agent(&AgentSpec::with_config(subject, "subject-va", &path))?)
    };
    let mut lines = FifoLines::read(dir.join("vrrp.fifo"), BOUND);
    let all = ["VI_1", "VI_2", "VI_3"];

    // Alone: Backup, then Master once no advert came.
    lines.wait_all(&state_lines("MASTER", &all, true), 1)?;
    let meta = fs::symlink_metadata(dir.join("notify.fifo")).context("notify_fifo")?;
    let fifo = (meta.mode(), meta.uid(), meta.gid());

    // A peer with a higher priority takes every instance over.
    let peer_conf = lab.work_dir().join(format!("{who}-peer.conf"));
    fs::write(&peer_conf, instances(200))?;
    let mut peer_agent = lab.start_agent(&AgentSpec::with_config(
        peer,
        &format!("{who}-peer"),
        &peer_conf,
    ))?;
    lines.wait_all(&state_lines("BACKUP", &all, true), 2)?;

    // The peer stops (priority 0): the subject takes over again.
    peer_agent.signal(Signal::SIGTERM)?;
    peer_agent.wait_exit(BOUND)?;
    lines.wait_all(&state_lines("MASTER", &all, true), 2)?;

    // A Master of lower priority for VI_3 is heard (one advert).
    let interface = lab.node(peer).interface.clone();
    let socket = lab
        .node(peer)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let mac = lab.node(peer).ns.mac(IFACE)?;
    let (_, vrid, vip) = INSTANCES[2];
    socket.send(&V2Advert::multicast(mac, PEER_IP, vrid, 50, &[vip]).frame())?;
    let lower = "INSTANCE \"VI_3\" MASTER_RX_LOWER_PRI 100".to_string();
    lines.wait_all(std::slice::from_ref(&lower), 1)?;
    // The script has read it too before the node stops.
    wait_for("the reader script to read every line", BOUND, || {
        fs::read_to_string(dir.join("reader.lines"))
            .ok()
            .filter(|t| t.contains(&lower))
    })?;

    node.stop()?;
    lines.finish()?;
    for fifo in ["notify.fifo", "vrrp.fifo"] {
        ensure!(
            !dir.join(fifo).exists(),
            "{who} left {fifo} behind when it stopped"
        );
    }
    let script_args = fs::read_to_string(dir.join("reader.args"))?
        .trim()
        .replace(&dir.display().to_string(), "DIR");
    let script_lines = fs::read_to_string(dir.join("reader.lines"))?
        .lines()
        .map(str::to_string)
        .collect();
    Ok(Outcome {
        by_name: by_name(&lines.seen),
        lines: lines.seen,
        fifo,
        script_args,
        script_lines,
    })
}

#[test]
fn notify_fifo_lines_are_keepalived_s() -> Result<()> {
    let mut lab = Lab::new()?;
    let subject = lab.add_node("subject", IFACE, &[SUBJECT_ADDR])?;
    let peer = lab.add_node("peer", IFACE, &["10.61.0.2/24"])?;
    let keepalived = run(&mut lab, subject, peer, true)?;
    let agent = run(&mut lab, subject, peer, false)?;
    println!(
        "keepalived: {:#?}\nvip-agent: {:#?}",
        keepalived.lines, agent.lines
    );

    let member = |name: &str| -> Vec<String> {
        ["BACKUP", "MASTER", "BACKUP", "MASTER", "STOP"]
            .iter()
            .map(|s| format!("INSTANCE \"{name}\" {s} 100"))
            .collect()
    };
    let mut vi_3 = member("VI_3");
    vi_3.insert(4, "INSTANCE \"VI_3\" MASTER_RX_LOWER_PRI 100".to_string());
    let expected = BTreeMap::from([
        (
            "G".to_string(),
            ["BACKUP", "MASTER", "BACKUP", "MASTER", "STOP"]
                .iter()
                .map(|s| format!("GROUP \"G\" {s} 0"))
                .collect(),
        ),
        ("VI_1".to_string(), member("VI_1")),
        ("VI_2".to_string(), member("VI_2")),
        ("VI_3".to_string(), vi_3),
    ]);
    assert_eq!(keepalived.by_name, expected, "keepalived's lines");
    assert_eq!(agent.by_name, keepalived.by_name, "vip-agent's lines");
    // At start keepalived names the group before its members.
    for outcome in [&keepalived, &agent] {
        assert_eq!(
            outcome.lines[0], "GROUP \"G\" BACKUP 0",
            "{:?}",
            outcome.lines
        );
    }

    // A FIFO for the owner only, given to USER GROUP (nobody:nogroup).
    assert_eq!(keepalived.fifo, (0o010600, 65534, 65534));
    assert_eq!(agent.fifo, keepalived.fifo);
    // The script runs as its user, with the FIFO's path; it is ended when
    // the node stops, so it reads every line but the STOP ones.
    assert_eq!(keepalived.script_args, "1 DIR/notify.fifo 65534:65534");
    assert_eq!(agent.script_args, keepalived.script_args);
    let before_stop: Vec<String> = keepalived
        .lines
        .iter()
        .filter(|l| !l.contains(" STOP "))
        .cloned()
        .collect();
    assert_eq!(by_name(&keepalived.script_lines), by_name(&before_stop));
    let before_stop: Vec<String> = agent
        .lines
        .iter()
        .filter(|l| !l.contains(" STOP "))
        .cloned()
        .collect();
    assert_eq!(agent.script_lines, before_stop);
    lab.passed();
    Ok(())
}
