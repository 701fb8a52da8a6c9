//! `cargo xtask lab [SCENARIO] [--keep] [--clean]`: one deployment of
//! `examples/scenarios` brought up in network namespaces on a bridge, each
//! node running `vip-agent` with its keepalived.conf unchanged, a client
//! pinging the VIP every 10 ms, and a narrated failover: the Master dies
//! (SIGKILL, link down), the next node takes over, the old Master comes
//! back and takes the VIP back (or not, under `nopreempt` / equal priority).
//!
//! Nodes, interfaces, priorities, preemption and the VIP come from the
//! scenario's .conf files (`vip_netns::scenario`). Everything lives in
//! namespaces named `vipl-<pid>-<role>`, bpffs directories
//! `/sys/fs/bpf/vipl-<pid>-<node>` and a work directory `/tmp/vipl-<pid>`;
//! the scaffold's guard (`vip_netns::Lab`) removes all of it on success,
//! failure and Ctrl-C. Leftovers of earlier runs whose process is gone are
//! removed at start (and by `--clean`). Nothing touches the root namespace's
//! interfaces.

use std::{
    fs,
    io::{BufRead, BufReader, IsTerminal, Write},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{self, SigHandler, Signal};
use vip_netns::{probe::Probe, scenario::Scenario, Lab, Leftovers, Netns};

use crate::workspace_root;

/// Every namespace, bpffs directory and work directory of the lab starts with this.
const PREFIX: &str = "vipl-";
/// Bound of every wait (elections at advert_int 1 take a few seconds).
const BOUND: Duration = Duration::from_secs(30);
/// Table refresh period.
const TICK: Duration = Duration::from_millis(250);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: std::ffi::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: removing the lab");
    }
    Ok(())
}

/// Sleeps `d` in small steps, failing as soon as Ctrl-C arrives.
fn pause(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        interrupted()?;
        std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
    }
    interrupted()
}

// ------------------------------------------------------------ shell helpers

/// A command in namespace `ns` (see [`Netns::command`]), in its own process
/// group: a Ctrl-C at the terminal reaches only the lab, which then removes
/// everything in order.
fn ns_command(ns: &Netns, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = ns.command(program);
    cmd.process_group(0);
    cmd
}

/// Removes lab namespaces, bpffs directories and work directories: those of
/// dead labs, or (`--clean`) all of them.
fn remove_leftovers(which: Leftovers) -> usize {
    let removed = vip_netns::remove_leftovers(PREFIX, which);
    for path in &removed {
        println!("lab: removed {}", path.display());
    }
    removed.len()
}

// ---------------------------------------------------------------- the build

/// `cargo build --release -p vip-agent` (its build script builds the XDP
/// object) behind a spinner; prints cargo's output only on failure.
fn build_agent() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "vip-agent",
            "--bin",
            "vip-agent",
        ])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo build")?;
    let stderr = child.stderr.take().context("cargo stderr")?;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let frames = ['|', '/', '-', '\\'];
    let mut shown = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let all = lines.lock().unwrap().clone();
        if tty {
            let last = all
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim())
                .unwrap_or("starting cargo");
            let last: String = last.chars().take(60).collect();
            let frame = frames[(started.elapsed().as_millis() / 100) as usize % frames.len()];
            print!(
                "\r\x1b[2K{frame} building vip-agent + XDP object (release) {:>4.0} s  {last}",
                started.elapsed().as_secs_f64()
            );
        } else {
            for line in &all[shown..] {
                if line.trim_start().starts_with("Compiling") {
                    println!("  {}", line.trim());
                }
            }
            shown = all.len();
        }
        std::io::stdout().flush()?;
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    if tty {
        print!("\r\x1b[2K");
    }
    if !status.success() {
        for line in lines.lock().unwrap().iter() {
            eprintln!("{line}");
        }
        bail!("cargo build --release -p vip-agent failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let target = if target.is_relative() {
        workspace_root().join(target)
    } else {
        target
    };
    let bin = target.join("release/vip-agent");
    if !bin.is_file() {
        bail!("built, but {} is not there", bin.display());
    }
    println!(
        "built      {} in {:.1} s (XDP object built by its build script)",
        bin.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bin)
}

// ------------------------------------------------------------ the topology

struct NodeRt {
    name: String,
    interface: String,
    address: String,
    priority: u8,
    preempt: bool,
    /// Index in the scaffold's lab.
    lab_node: usize,
    ns: String,
    config: PathBuf,
    socket: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    bpffs: PathBuf,
    agent: Option<Child>,
    link_up: bool,
}

/// The lab's namespaces, processes and directories. Drop removes them all
/// unless `keep` is set (then `--clean` or the next run does).
struct Topology {
    net: Lab,
    keep: bool,
    nodes: Vec<NodeRt>,
    client: usize,
    client_ns: String,
    probe: Option<Probe>,
    agent_bin: PathBuf,
}

impl Drop for Topology {
    fn drop(&mut self) {
        if self.keep {
            self.net.keep();
            return;
        }
        if let Some(mut probe) = self.probe.take() {
            probe.stop();
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.agent.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let removed = self.net.remove();
        println!(
            "removed    {} namespaces, {} bpffs directories, {}",
            removed.namespaces,
            removed.bpffs_dirs,
            self.net.work_dir().display()
        );
    }
}

impl Topology {
    fn new(agent_bin: PathBuf) -> Result<Self> {
        Ok(Topology {
            net: Lab::new(vip_netns::process_id(PREFIX))?,
            keep: false,
            nodes: Vec::new(),
            client: 0,
            client_ns: String::new(),
            probe: None,
            agent_bin,
        })
    }

    fn build(&mut self, scenario: &Scenario) -> Result<()> {
        for def in &scenario.nodes {
            interrupted()?;
            let lab_node = self
                .net
                .add_node(&def.name, &def.interface, &[&def.address])?;
            let work_dir = self.net.work_dir().to_path_buf();
            self.nodes.push(NodeRt {
                name: def.name.clone(),
                interface: def.interface.clone(),
                address: def.address.clone(),
                priority: def.priority,
                preempt: def.preempt,
                lab_node,
                ns: self.net.node(lab_node).ns.name.clone(),
                config: def.config.clone(),
                socket: work_dir.join(format!("{}.sock", def.name)),
                pid_file: work_dir.join(format!("{}.pid", def.name)),
                log: work_dir.join(format!("{}.log", def.name)),
                bpffs: self.net.bpffs_dir(&def.name),
                agent: None,
                link_up: true,
            });
        }
        let client = &scenario.client;
        self.client = self
            .net
            .add_node("client", &client.interface, &[&client.address])?;
        let client_ns = &self.net.node(self.client).ns;
        for route in &client.routes {
            let mut args = vec!["route", "add"];
            args.extend(route.iter().map(String::as_str));
            client_ns.ip(&args)?;
        }
        self.client_ns = client_ns.name.clone();
        Ok(())
    }

    /// Sets node `i`'s link down or up.
    fn set_link(&mut self, i: usize, up: bool) -> Result<()> {
        let node = &mut self.nodes[i];
        self.net.node(node.lab_node).ns.ip(&[
            "link",
            "set",
            &node.interface,
            if up { "up" } else { "down" },
        ])?;
        node.link_up = up;
        Ok(())
    }

    fn start_agent(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let child = ns_command(&self.net.node(node.lab_node).ns, &self.agent_bin)
            .arg("run")
            .arg("--config")
            .arg(&node.config)
            .arg("--control-socket")
            .arg(&node.socket)
            .arg("--pid-file")
            .arg(&node.pid_file)
            .arg("--bpffs-dir")
            .arg(&node.bpffs)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting vip-agent")?;
        node.agent = Some(child);
        Ok(())
    }

    fn status(&self, i: usize) -> Option<serde_json::Value> {
        let node = &self.nodes[i];
        node.agent.as_ref()?;
        let out = Command::new(&self.agent_bin)
            .args(["status", "--json", "--control-socket"])
            .arg(&node.socket)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Checks no agent died on its own.
    fn check_agents(&mut self) -> Result<()> {
        for node in &mut self.nodes {
            if let Some(child) = node.agent.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let log = fs::read_to_string(&node.log).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    bail!(
                        "vip-agent on {} exited ({status}); its log ends with:\n{}",
                        node.name,
                        tail.join("\n")
                    );
                }
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------------- the probe

/// The client pings the VIP this often...
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// ... for at most this long (a lab run takes well under a minute).
const PROBE_MAX: Duration = Duration::from_secs(300);

fn probe_line(probe: &Probe, client: &str, vip: &str) -> String {
    format!(
        "client {client} -> VIP {vip}: ping every 10 ms: sent {}, answered {}, lost {}",
        probe.sent(),
        probe.answered(),
        probe.unanswered()
    )
}

// --------------------------------------------------------------- the table

#[derive(Clone, PartialEq)]
struct Row {
    node: String,
    address: String,
    state: String,
    priority: String,
    holds: String,
    adverts: String,
    arp_replies: String,
}

struct Screen {
    tty: bool,
    drawn: usize,
    last_snapshot: Vec<Row>,
    last_printed: Vec<String>,
    /// The narrated results, repeated as a summary at the end.
    facts: Vec<String>,
    client: String,
    vip: String,
}

impl Screen {
    fn rows(topo: &Topology) -> Vec<Row> {
        (0..topo.nodes.len())
            .map(|i| {
                let node = &topo.nodes[i];
                let mut row = Row {
                    node: node.name.to_string(),
                    address: node.address.to_string(),
                    state: "-".into(),
                    priority: node.priority.to_string(),
                    holds: "".into(),
                    adverts: "".into(),
                    arp_replies: "".into(),
                };
                if node.agent.is_none() {
                    row.state = if node.link_up {
                        "(no agent)".into()
                    } else {
                        "DEAD (killed, link down)".into()
                    };
                    return row;
                }
                let Some(status) = topo.status(i) else {
                    row.state = "(starting)".into();
                    return row;
                };
                let inst = &status["instances"][0];
                row.state = inst["state"].as_str().unwrap_or("?").to_string();
                row.priority = format!(
                    "{}",
                    inst["effective_priority"]
                        .as_u64()
                        .or(inst["priority"].as_u64())
                        .unwrap_or(0)
                );
                row.holds = if inst["holds_vips"].as_bool() == Some(true) {
                    "yes".into()
                } else {
                    "no".into()
                };
                row.adverts = format!(
                    "{}/{}",
                    inst["adverts_sent"].as_u64().unwrap_or(0),
                    inst["adverts_received"].as_u64().unwrap_or(0)
                );
                row.arp_replies = inst["xdp"]["interface"]["arp_replies_sent"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into());
                row
            })
            .collect()
    }

    fn render(&self, rows: &[Row], probe: Option<String>) -> Vec<String> {
        let mut lines = vec![format!(
            "  {:<8} {:<16} {:<24} {:>4} {:<9} {:>13} {:>10}",
            "node", "address", "state", "prio", "holds VIP", "adverts tx/rx", "XDP ARP tx"
        )];
        for r in rows {
            lines.push(format!(
                "  {:<8} {:<16} {:<24} {:>4} {:<9} {:>13} {:>10}",
                r.node, r.address, r.state, r.priority, r.holds, r.adverts, r.arp_replies
            ));
        }
        lines.push(format!(
            "  {}",
            probe.unwrap_or_else(|| format!(
                "client {} -> VIP {}: probe not running",
                self.client, self.vip
            ))
        ));
        lines
    }

    /// Redraws in place on a TTY; otherwise prints a snapshot when the
    /// table (states, holders) changed, or when `force`.
    fn show(&mut self, topo: &Topology, force: bool) {
        let rows = Self::rows(topo);
        let probe = topo
            .probe
            .as_ref()
            .map(|p| probe_line(p, &self.client, &self.vip));
        let lines = self.render(&rows, probe);
        if self.tty {
            let mut out = String::new();
            if self.drawn > 0 {
                out.push_str(&format!("\x1b[{}A", self.drawn));
            }
            for line in &lines {
                out.push_str("\r\x1b[2K");
                out.push_str(line);
                out.push('\n');
            }
            print!("{out}");
            let _ = std::io::stdout().flush();
            self.drawn = lines.len();
        } else {
            let key: Vec<Row> = rows
                .iter()
                .map(|r| Row {
                    adverts: String::new(),
                    arp_replies: String::new(),
                    ..r.clone()
                })
                .collect();
            if key != self.last_snapshot || (force && lines != self.last_printed) {
                println!("{}", lines.join("\n"));
                self.last_snapshot = key;
                self.last_printed = lines;
            }
        }
    }

    /// Ends the live table: the next output goes below it.
    fn freeze(&mut self, topo: &Topology) {
        self.show(topo, true);
        self.drawn = 0;
    }

    fn say(&mut self, text: &str) {
        println!("{text}");
        if let Some(fact) = text.strip_prefix("    ") {
            self.facts.push(fact.to_string());
        }
        self.drawn = 0;
    }
}

/// Refreshes the table until `check` returns `Some`, failing after BOUND.
fn watch<T>(
    topo: &mut Topology,
    screen: &mut Screen,
    what: &str,
    mut check: impl FnMut(&Topology, &[Row]) -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + BOUND;
    loop {
        interrupted()?;
        topo.check_agents()?;
        let rows = Screen::rows(topo);
        screen.show(topo, false);
        if let Some(v) = check(topo, &rows) {
            screen.freeze(topo);
            return Ok(v);
        }
        if Instant::now() >= deadline {
            screen.freeze(topo);
            bail!("timed out after {BOUND:?} waiting for {what}");
        }
        pause(TICK)?;
    }
}

/// The single node whose agent reports MASTER and holding the VIP, with
/// every other live agent BACKUP.
fn sole_master(rows: &[Row]) -> Option<usize> {
    let masters: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.state == "MASTER" && r.holds == "yes")
        .map(|(i, _)| i)
        .collect();
    let settled = rows
        .iter()
        .all(|r| r.state == "MASTER" || r.state == "BACKUP" || r.state.starts_with("DEAD"));
    (masters.len() == 1 && settled).then(|| masters[0])
}

// -------------------------------------------------------------- the story

pub struct Args {
    pub scenario: Option<String>,
    pub keep: bool,
    pub clean: bool,
}

pub fn run(args: Args) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the lab creates network namespaces, runs vip-agent in them and attaches XDP: \
             it needs root. Run `sudo -E cargo xtask lab` (or as root)"
        );
    }
    if args.clean {
        let n = remove_leftovers(Leftovers::All);
        println!("lab: removed {n} leftover namespaces/directories");
        return Ok(());
    }
    let scenario = Scenario::load(args.scenario.as_deref().unwrap_or("swarm-four"))?;
    println!("==> setup");
    crate::setup::run()?;
    println!("==> build");
    let agent_bin = build_agent()?;
    let removed = remove_leftovers(Leftovers::OfDeadRuns);
    if removed > 0 {
        println!("lab: removed {removed} leftovers of earlier labs");
    }
    // Ctrl-C / SIGTERM set a flag; every wait checks it and unwinds, and the
    // topology's Drop removes everything.
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { signal::signal(sig, SigHandler::Handler(on_signal)) }?;
    }
    let started = Instant::now();
    let result = story(&scenario, agent_bin, args.keep);
    println!(
        "==> lab {} {} in {:.1} s",
        scenario.name,
        if result.is_ok() { "done" } else { "failed" },
        started.elapsed().as_secs_f64()
    );
    result
}

fn story(scenario: &Scenario, agent_bin: PathBuf, keep: bool) -> Result<()> {
    let mut topo = Topology::new(agent_bin)?;
    let vip = scenario.vip;
    println!(
        "==> scenario {}: {} nodes on one bridge + client {}, VIP {vip}",
        scenario.name,
        scenario.nodes.len(),
        scenario.client.address
    );
    topo.build(scenario)?;
    for node in &topo.nodes {
        println!(
            "  {:<8} namespace {:<22} {} {:<16} config {}",
            node.name,
            node.ns,
            node.interface,
            node.address,
            node.config
                .strip_prefix(workspace_root())
                .unwrap_or(&node.config)
                .display()
        );
    }
    println!(
        "  client   namespace {:<22} {} {}",
        topo.client_ns, scenario.client.interface, scenario.client.address
    );
    let mut screen = Screen {
        tty: std::io::stdout().is_terminal(),
        drawn: 0,
        last_snapshot: Vec::new(),
        last_printed: Vec::new(),
        facts: Vec::new(),
        client: scenario.client.ip().to_string(),
        vip: vip.to_string(),
    };

    // 1. Election.
    screen.say("==> starting one vip-agent per node (keepalived.conf unchanged); election:");
    let t0 = Instant::now();
    for i in 0..topo.nodes.len() {
        topo.start_agent(i)?;
    }
    let master = watch(
        &mut topo,
        &mut screen,
        "one Master holding the VIP",
        |_, rows| sole_master(rows),
    )?;
    screen.say(&format!(
        "    {} is Master after {} ms (priority {})",
        topo.nodes[master].name,
        t0.elapsed().as_millis(),
        topo.nodes[master].priority
    ));

    // 2. The client pings the VIP.
    topo.probe = Some(Probe::start(
        ns_command(&topo.net.node(topo.client).ns, "ping"),
        vip,
        PROBE_INTERVAL,
        PROBE_MAX,
    )?);
    watch(
        &mut topo,
        &mut screen,
        "the client's probes to be answered",
        |t, _| (t.probe.as_ref()?.answered() >= 50).then_some(()),
    )?;

    // 3. The Master dies like a host losing power.
    screen.say(&format!(
        "==> SIGKILL vip-agent on {} and set its link down (the node goes silent)",
        topo.nodes[master].name
    ));
    let answered_before = topo.probe.as_ref().map(|p| p.answered()).unwrap_or(0);
    if let Some(mut child) = topo.nodes[master].agent.take() {
        child.kill()?;
        let _ = child.wait();
    }
    topo.set_link(master, false)?;
    let killed = Instant::now();
    let successor = watch(&mut topo, &mut screen, "a new Master", |_, rows| {
        sole_master(rows)
    })?;
    let takeover = killed.elapsed();
    watch(
        &mut topo,
        &mut screen,
        "the client's probes to be answered again",
        |t, _| {
            let p = t.probe.as_ref()?;
            (p.answered() > answered_before + 100
                && p.longest_gap_since(answered_before) > Duration::ZERO)
                .then_some(())
        },
    )?;
    let outage = topo
        .probe
        .as_ref()
        .map(|p| p.longest_gap_since(answered_before))
        .unwrap_or_default();
    screen.say(&format!(
        "    {} took over {} ms after the kill; the client saw an outage of {} ms \
         (longest gap between answered probes)",
        topo.nodes[successor].name,
        takeover.as_millis(),
        outage.as_millis()
    ));

    // 4. The node comes back with a new agent.
    screen.say(&format!(
        "==> {} comes back: link up, new vip-agent",
        topo.nodes[master].name
    ));
    let answered_before = topo.probe.as_ref().map(|p| p.answered()).unwrap_or(0);
    topo.set_link(master, true)?;
    let restarted = Instant::now();
    topo.start_agent(master)?;
    let (back, prio_back, prio_succ) = (
        &topo.nodes[master],
        topo.nodes[master].priority,
        topo.nodes[successor].priority,
    );
    let retakes = back.preempt && prio_back > prio_succ;
    if retakes {
        let holder = watch(
            &mut topo,
            &mut screen,
            "the restarted node to take the VIP back",
            |_, rows| sole_master(rows).filter(|&m| m == master),
        )?;
        let before = answered_before;
        watch(&mut topo, &mut screen, "answered probes", |t, _| {
            (t.probe.as_ref()?.answered() > before + 100).then_some(())
        })?;
        let gap = topo
            .probe
            .as_ref()
            .map(|p| p.longest_gap_since(answered_before))
            .unwrap_or_default();
        screen.say(&format!(
            "    preemption: {} (priority {prio_back} > {prio_succ}) took the VIP back {} ms after restart; \
             longest gap between answered probes meanwhile {} ms",
            topo.nodes[holder].name,
            restarted.elapsed().as_millis(),
            gap.as_millis()
        ));
    } else {
        let reason = if !topo.nodes[master].preempt {
            "nopreempt".to_string()
        } else {
            format!("priority {prio_back} is not above {prio_succ}")
        };
        // More adverts than Master_Down_Interval lasts: it would have acted.
        watch(
            &mut topo,
            &mut screen,
            "the restarted node to settle as Backup",
            |t, rows| {
                let st = t.status(master)?;
                let inst = &st["instances"][0];
                (inst["state"] == "BACKUP"
                    && inst["adverts_received"].as_u64()? >= 5
                    && sole_master(rows) == Some(successor))
                .then_some(())
            },
        )?;
        screen.say(&format!(
            "    no preemption ({reason}): {} stays Backup, {} keeps the VIP",
            topo.nodes[master].name, topo.nodes[successor].name
        ));
    }
    if let Some(p) = topo.probe.as_mut() {
        let line = probe_line(p, &screen.client, &screen.vip);
        p.stop();
        screen.say(&format!("    {line}"));
    }
    topo.probe = None;
    println!("==> summary ({})", scenario.name);
    for fact in &screen.facts {
        println!("  - {fact}");
    }

    if keep {
        topo.keep = true;
        print_keep_help(&topo);
    }
    Ok(())
}

fn print_keep_help(topo: &Topology) {
    let bin = topo.agent_bin.display();
    println!("==> kept running (--keep). Look around:");
    for node in &topo.nodes {
        println!("  {bin} status --control-socket {}", node.socket.display());
    }
    let first = &topo.nodes[0];
    println!(
        "  ip netns exec {} ip addr show dev {}",
        first.ns, first.interface
    );
    println!(
        "  ip netns exec {} arping -c 3 -I eth0 <VIP>",
        topo.client_ns
    );
    println!("  ls {}    # pinned maps", first.bpffs.display());
    println!("  bpftool map dump pinned {}/<map>", first.bpffs.display());
    println!("  tail -f {}", first.log.display());
    println!("Remove it all: sudo cargo xtask lab --clean  (the next `cargo xtask lab` also does)");
}
