//! `cargo xtask lab [SCENARIO] [--keep] [--clean]`: one deployment of
//! `examples/scenarios` brought up in network namespaces on a bridge, each
//! node running `vip-agent` with its keepalived.conf unchanged, a client
//! pinging the VIP every 10 ms, and a narrated failover: the Master dies
//! (SIGKILL, link down), the next node takes over, the old Master comes
//! back and takes the VIP back (or not, under `nopreempt` / equal priority).
//!
//! Everything lives in namespaces named `vipl-<pid>-<role>`, bpffs
//! directories `/sys/fs/bpf/vipl-<pid>-<node>` and a work directory
//! `/tmp/vipl-<pid>`; a guard removes all of it on success, failure and
//! Ctrl-C. Leftovers of earlier runs whose process is gone are removed at
//! start (and by `--clean`). Nothing touches the root namespace's interfaces.

use std::{
    fs,
    io::{BufRead, BufReader, IsTerminal, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::netns::{self, delete_netns, BPFFS_ROOT};
use nix::sys::signal::{self, SigHandler, Signal};

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

// ---------------------------------------------------------------- scenarios

struct NodeDef {
    name: &'static str,
    interface: &'static str,
    address: &'static str,
    priority: u8,
    /// Takes the VIP back from a lower priority (no `nopreempt` in force;
    /// keepalived clears `nopreempt` on a `state MASTER` node).
    preempt: bool,
}

struct ScenarioDef {
    dir: &'static str,
    nodes: Vec<NodeDef>,
    vip: &'static str,
    client_interface: &'static str,
    client_address: &'static str,
    /// `ip route add ...` arguments for the client.
    client_routes: &'static [&'static [&'static str]],
}

/// The deployments of examples/scenarios/README.md.
fn scenarios() -> Vec<ScenarioDef> {
    let node = |name, interface, address, priority, preempt| NodeDef {
        name,
        interface,
        address,
        priority,
        preempt,
    };
    vec![
        ScenarioDef {
            dir: "swarm-four",
            nodes: vec![
                node("cube01", "eth0", "10.0.0.60/24", 100, true),
                node("cube02", "eth0", "10.0.0.61/24", 90, true),
                node("cube03", "eth0", "10.0.0.62/24", 80, true),
                node("cube04", "eth0", "10.0.0.63/24", 70, true),
            ],
            vip: "10.0.0.70",
            client_interface: "eth0",
            client_address: "10.0.0.99/24",
            client_routes: &[],
        },
        ScenarioDef {
            dir: "docker-pair",
            nodes: vec![
                node("node1", "eth0", "172.17.0.2/16", 100, true),
                node("node2", "eth0", "172.17.0.3/16", 100, false),
            ],
            vip: "192.168.200.11",
            client_interface: "eth0",
            client_address: "172.17.0.10/16",
            client_routes: &[&["192.168.200.0/24", "dev", "eth0"]],
        },
        ScenarioDef {
            dir: "unicast-gateway",
            nodes: vec![
                node("dent2", "enp0s4", "192.168.1.11/24", 101, true),
                node("dent3", "enp0s4", "192.168.1.12/24", 100, true),
            ],
            vip: "192.168.1.13",
            client_interface: "eth0",
            client_address: "192.168.1.2/24",
            client_routes: &[&["default", "via", "192.168.1.13"]],
        },
    ]
}

fn scenarios_dir() -> PathBuf {
    workspace_root().join("examples/scenarios")
}

fn find_scenario(name: &str) -> Result<ScenarioDef> {
    let known: Vec<&str> = scenarios().iter().map(|s| s.dir).collect();
    let scenario = scenarios().into_iter().find(|s| s.dir == name);
    match scenario {
        Some(s) => {
            for node in &s.nodes {
                let conf = scenarios_dir()
                    .join(s.dir)
                    .join(format!("{}.conf", node.name));
                if !conf.is_file() {
                    bail!("{} is missing", conf.display());
                }
            }
            Ok(s)
        }
        None if scenarios_dir().join(name).is_dir() => bail!(
            "scenario `{name}` exists in examples/scenarios but the lab has no topology for it \
             (interfaces, addresses, client); known: {}",
            known.join(", ")
        ),
        None => bail!("unknown scenario `{name}`; known: {}", known.join(", ")),
    }
}

// ------------------------------------------------------------ shell helpers

fn sh(cmd: &mut Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&netns::run(cmd)?.stdout).into_owned())
}

fn ns_ip(ns: &str, args: &[&str]) -> Result<String> {
    sh(Command::new("ip").arg("-n").arg(ns).args(args))
}

/// A command in namespace `ns` (see [`netns::ns_command`]), in its own
/// process group: a Ctrl-C at the terminal reaches only the lab.
fn ns_command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = netns::ns_command(ns, program);
    cmd.process_group(0);
    cmd
}

/// Removes lab namespaces, bpffs directories and work directories; with
/// `only_dead`, only those whose owning lab process is gone.
fn remove_leftovers(only_dead: bool) -> usize {
    let removed = netns::remove_leftovers(PREFIX, only_dead);
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
    name: &'static str,
    interface: &'static str,
    address: &'static str,
    priority: u8,
    preempt: bool,
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
    id: String,
    keep: bool,
    work_dir: PathBuf,
    namespaces: Vec<String>,
    nodes: Vec<NodeRt>,
    client_ns: String,
    probe: Option<Probe>,
    agent_bin: PathBuf,
    next_port: u32,
}

impl Drop for Topology {
    fn drop(&mut self) {
        if self.keep {
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
        for ns in self.namespaces.iter().rev() {
            delete_netns(ns);
        }
        for node in &self.nodes {
            let _ = fs::remove_dir_all(&node.bpffs);
        }
        let _ = fs::remove_dir_all(&self.work_dir);
        println!(
            "removed    {} namespaces, {} bpffs directories, {}",
            self.namespaces.len(),
            self.nodes.len(),
            self.work_dir.display()
        );
    }
}

impl Topology {
    fn new(agent_bin: PathBuf, keep: bool) -> Result<Self> {
        let id = format!("{PREFIX}{}", std::process::id());
        let work_dir = std::env::temp_dir().join(&id);
        fs::create_dir_all(&work_dir)?;
        let mut topo = Topology {
            id: id.clone(),
            keep,
            work_dir,
            namespaces: Vec::new(),
            nodes: Vec::new(),
            client_ns: String::new(),
            probe: None,
            agent_bin,
            next_port: 0,
        };
        let sw = topo.add_ns("sw")?;
        netns::add_bridge(&sw, "br0")?;
        Ok(topo)
    }

    fn add_ns(&mut self, role: &str) -> Result<String> {
        let name = format!("{}-{role}", self.id);
        netns::add_netns(&name)?;
        self.namespaces.push(name.clone());
        Ok(name)
    }

    /// Joins namespace `ns` to the bridge with `interface` and `address`.
    fn plug(&mut self, ns: &str, interface: &str, address: &str) -> Result<()> {
        let port = format!("p{}", self.next_port);
        self.next_port += 1;
        netns::plug(&self.namespaces[0], "br0", &port, ns, interface)?;
        ns_ip(ns, &["addr", "add", address, "dev", interface])?;
        ns_ip(ns, &["link", "set", interface, "up"])?;
        Ok(())
    }

    fn build(&mut self, scenario: &ScenarioDef) -> Result<()> {
        for def in &scenario.nodes {
            interrupted()?;
            let ns = self.add_ns(def.name)?;
            self.plug(&ns, def.interface, def.address)?;
            self.nodes.push(NodeRt {
                name: def.name,
                interface: def.interface,
                address: def.address,
                priority: def.priority,
                preempt: def.preempt,
                config: scenarios_dir()
                    .join(scenario.dir)
                    .join(format!("{}.conf", def.name)),
                socket: self.work_dir.join(format!("{}.sock", def.name)),
                pid_file: self.work_dir.join(format!("{}.pid", def.name)),
                log: self.work_dir.join(format!("{}.log", def.name)),
                bpffs: Path::new(BPFFS_ROOT).join(&ns),
                ns,
                agent: None,
                link_up: true,
            });
        }
        let client = self.add_ns("client")?;
        self.plug(&client, scenario.client_interface, scenario.client_address)?;
        for route in scenario.client_routes {
            let mut args = vec!["route", "add"];
            args.extend_from_slice(route);
            ns_ip(&client, &args)?;
        }
        self.client_ns = client;
        Ok(())
    }

    fn start_agent(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let child = ns_command(&node.ns, &self.agent_bin)
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

/// `ping -D -O -i 0.01` from the client: replies with their kernel
/// timestamps, and the probes ping reported unanswered.
struct Probe {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    state: Arc<Mutex<ProbeState>>,
}

#[derive(Default)]
struct ProbeState {
    /// (icmp_seq, timestamp in s) of each reply.
    replies: Vec<(u64, f64)>,
    /// Highest icmp_seq ping mentioned (sent at least this many).
    sent: u64,
    /// icmp_seq ping reported as unanswered when sending the next probe.
    unanswered: std::collections::BTreeSet<u64>,
}

fn seq_of(line: &str) -> Option<u64> {
    line.split("icmp_seq=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

impl Probe {
    fn start(ns: &str, target: &str) -> Result<Self> {
        let mut child = ns_command(ns, "ping")
            .args([
                "-n", "-D", "-O", "-i", "0.01", "-W", "1", "-c", "30000", target,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ping")?;
        let stdout = child.stdout.take().context("ping stdout")?;
        let state = Arc::new(Mutex::new(ProbeState::default()));
        let sink = state.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // "[1732190000.123456] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.05 ms"
                // "[1732190000.133456] no answer yet for icmp_seq=2"
                let Some(seq) = seq_of(&line) else {
                    continue;
                };
                let mut st = sink.lock().unwrap();
                st.sent = st.sent.max(seq);
                if line.contains("no answer yet") {
                    st.unanswered.insert(seq);
                } else if line.contains("bytes from") {
                    let stamp = line
                        .strip_prefix('[')
                        .and_then(|l| l.split(']').next())
                        .and_then(|s| s.parse::<f64>().ok());
                    if let Some(stamp) = stamp {
                        st.replies.push((seq, stamp));
                        st.unanswered.remove(&seq);
                    }
                }
            }
        });
        Ok(Probe {
            child,
            reader: Some(reader),
            state,
        })
    }

    /// (probes sent, answered, lost so far).
    fn counts(&self) -> (u64, u64, u64) {
        let st = self.state.lock().unwrap();
        (st.sent, st.replies.len() as u64, st.unanswered.len() as u64)
    }

    fn answered(&self) -> u64 {
        self.state.lock().unwrap().replies.len() as u64
    }

    /// Longest gap between two consecutive answers after reply number `from`.
    fn longest_gap_since(&self, from: usize) -> Duration {
        let st = self.state.lock().unwrap();
        let slice = &st.replies[from.saturating_sub(1).min(st.replies.len())..];
        let gap = slice
            .windows(2)
            .map(|w| w[1].1 - w[0].1)
            .fold(0.0f64, f64::max);
        Duration::from_secs_f64(gap)
    }

    fn line(&self, client: &str, vip: &str) -> String {
        let (sent, answered, lost) = self.counts();
        format!(
            "client {client} -> VIP {vip}: ping every 10 ms: sent {sent}, answered {answered}, lost {lost}"
        )
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop();
    }
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
        let probe = topo.probe.as_ref().map(|p| p.line(&self.client, &self.vip));
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
        let n = remove_leftovers(false);
        println!("lab: removed {n} leftover namespaces/directories");
        return Ok(());
    }
    let scenario = find_scenario(args.scenario.as_deref().unwrap_or("swarm-four"))?;
    println!("==> setup");
    crate::setup::run()?;
    println!("==> build");
    let agent_bin = build_agent()?;
    let removed = remove_leftovers(true);
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
        scenario.dir,
        if result.is_ok() { "done" } else { "failed" },
        started.elapsed().as_secs_f64()
    );
    result
}

fn story(scenario: &ScenarioDef, agent_bin: PathBuf, keep: bool) -> Result<()> {
    let mut topo = Topology::new(agent_bin, false)?;
    let vip = scenario.vip;
    println!(
        "==> scenario {}: {} nodes on one bridge + client {}, VIP {vip}",
        scenario.dir,
        scenario.nodes.len(),
        scenario.client_address
    );
    topo.build(scenario)?;
    for (i, node) in topo.nodes.iter().enumerate() {
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
        let _ = i;
    }
    println!(
        "  client   namespace {:<22} {} {}",
        topo.client_ns, scenario.client_interface, scenario.client_address
    );
    let mut screen = Screen {
        tty: std::io::stdout().is_terminal(),
        drawn: 0,
        last_snapshot: Vec::new(),
        last_printed: Vec::new(),
        facts: Vec::new(),
        client: scenario
            .client_address
            .split('/')
            .next()
            .unwrap_or("")
            .to_string(),
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
    topo.probe = Some(Probe::start(&topo.client_ns, vip)?);
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
    let answered_before = topo.probe.as_ref().map(|p| p.answered()).unwrap_or(0) as usize;
    let node = &mut topo.nodes[master];
    if let Some(mut child) = node.agent.take() {
        child.kill()?;
        let _ = child.wait();
    }
    ns_ip(&node.ns, &["link", "set", node.interface, "down"])?;
    node.link_up = false;
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
            (p.answered() as usize > answered_before + 100
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
    let answered_before = topo.probe.as_ref().map(|p| p.answered()).unwrap_or(0) as usize;
    let node = &mut topo.nodes[master];
    ns_ip(&node.ns, &["link", "set", node.interface, "up"])?;
    node.link_up = true;
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
            (t.probe.as_ref()?.answered() as usize > before + 100).then_some(())
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
        let line = p.line(&screen.client, &screen.vip);
        p.stop();
        screen.say(&format!("    {line}"));
    }
    topo.probe = None;
    println!("==> summary ({})", scenario.dir);
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
