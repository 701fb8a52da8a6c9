//! The systemd unit (`vip-agent/dist/vip-agent.service`) and the agent's
//! side of it: the unit passes `systemd-analyze verify`; the notify protocol
//! through a real `NOTIFY_SOCKET` (READY=1 only once XDP is attached and the
//! VRRP sockets are open, STATUS= following the instances' states, WATCHDOG=1
//! pings that stop while the agent is stopped, RELOADING=1 and STOPPING=1);
//! and the unit's capability set, which is enough for a Master with XDP
//! answering ARP and scripts run as another user, while each capability
//! left out breaks something with a clear error.
//!
//! systemd is not PID 1 where these tests run, so the unit itself is not
//! started: the agent runs with what the unit gives it, as far as a process
//! can be given it without systemd (the bounding set, no-new-privileges and
//! the kernel's own memory-deny-write-execute).

use std::{
    collections::BTreeSet,
    net::IpAddr,
    os::unix::net::UnixDatagram,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{arping, wait_for_state, AgentProcess, AgentSpec},
    agent_bin, run, wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);

/// Where the Debian package installs the binary the unit starts.
const INSTALLED_BIN: &str = "/usr/sbin/vip-agent";

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vip-agent/dist/vip-agent.service")
}

fn unit_text() -> Result<String> {
    std::fs::read_to_string(unit_path())
        .with_context(|| format!("reading {}", unit_path().display()))
}

/// Every value of `key=` in the unit, in order (comments skipped).
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
        .collect()
}

/// The unit's `CapabilityBoundingSet=` as setpriv names them (`net_admin`).
fn unit_capabilities(text: &str) -> Result<Vec<String>> {
    let values = unit_values(text, "CapabilityBoundingSet");
    ensure!(
        values.len() == 1,
        "one CapabilityBoundingSet= expected, found {values:?}"
    );
    values[0]
        .split_whitespace()
        .map(|cap| {
            cap.strip_prefix("CAP_")
                .map(str::to_lowercase)
                .with_context(|| format!("{cap} in CapabilityBoundingSet= is not a CAP_ name"))
        })
        .collect()
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("vipa-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unit_passes_systemd_analyze_verify() -> Result<()> {
    let text = unit_text()?;
    // What the unit is for: a notify service restarted at once, whatever
    // ended it, started from the installed binary.
    for (key, value) in [
        ("Type", "notify"),
        ("Restart", "always"),
        ("RestartSec", "100ms"),
        ("StartLimitIntervalSec", "0"),
    ] {
        assert_eq!(unit_values(&text, key), [value], "{key}=");
    }
    assert!(
        unit_values(&text, "ExecStop").is_empty(),
        "no ExecStop (see the unit's comment)"
    );
    assert!(
        !unit_values(&text, "WatchdogSec").is_empty(),
        "WatchdogSec="
    );
    for key in ["ExecStart", "ExecStartPre", "ExecReload"] {
        let values = unit_values(&text, key);
        assert!(
            values.iter().all(|v| v.starts_with(INSTALLED_BIN)) && !values.is_empty(),
            "{key}= runs {INSTALLED_BIN}: {values:?}"
        );
    }
    // systemd-analyze checks that the programs exist: verify a copy that
    // starts the binary under test.
    let dir = TempDir::new("unit")?;
    let copy = dir.0.join("vip-agent.service");
    std::fs::write(
        &copy,
        text.replace(INSTALLED_BIN, &agent_bin().display().to_string()),
    )?;
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .context("running systemd-analyze (package systemd)")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    // Warnings (an unknown key, a bad value ignored) do not fail the
    // command; every one of them names the unit.
    let about_unit: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("vip-agent.service"))
        .collect();
    assert!(
        about_unit.is_empty(),
        "systemd-analyze verify warns:\n{}",
        about_unit.join("\n")
    );
    Ok(())
}

/// The service manager's end of the notify protocol: a datagram socket in
/// a directory of its own.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    _dir: TempDir,
    /// Every datagram received, in order.
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(name: &str) -> Result<Self> {
        let dir = TempDir::new(name)?;
        let path = dir.0.join("notify");
        let socket =
            UnixDatagram::bind(&path).with_context(|| format!("binding {}", path.display()))?;
        Ok(Self {
            socket,
            path,
            _dir: dir,
            seen: Vec::new(),
        })
    }

    /// The next datagram, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<Option<String>> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut buf = vec![0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(text.clone());
                Ok(Some(text))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads datagrams until one satisfies `check`; returns it.
    fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "no datagram with {what} within {timeout:?}; received: {:?}",
                    self.seen
                );
            }
            if let Some(message) = self.next(left)? {
                if check(&message) {
                    return Ok(message);
                }
            }
        }
    }

    /// Whatever is queued now.
    fn drain(&mut self) -> Result<Vec<String>> {
        self.socket.set_nonblocking(true)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.socket.set_nonblocking(false)?;
                    return Err(e.into());
                }
            }
        }
        self.socket.set_nonblocking(false)?;
        self.seen.extend(out.iter().cloned());
        Ok(out)
    }
}

/// The `STATUS=` line of a datagram.
fn status_of(message: &str) -> Option<&str> {
    message.lines().find_map(|l| l.strip_prefix("STATUS="))
}

fn has(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// SIGSTOPs the agent and waits until the kernel shows it stopped.
fn freeze(agent: &AgentProcess) -> Result<()> {
    agent.signal(Signal::SIGSTOP)?;
    let stat = format!("/proc/{}/stat", agent.pid());
    wait_for("the agent to be stopped", BOUND, || {
        let text = std::fs::read_to_string(&stat).ok()?;
        // "pid (comm) S ...": the state follows the last ')'.
        let state = text.rsplit_once(')')?.1.split_whitespace().next()?;
        (state == "T" || state == "t").then_some(())
    })
}

/// The id of the XDP program on `interface` in the node, if any.
fn xdp_program(lab: &Lab, node: usize, interface: &str) -> Result<Option<u64>> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "link", "show", "dev", interface])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(json[0]["xdp"]["prog"]["id"].as_u64())
}

/// Whether the process has a raw socket for IP protocol 112 (VRRP) open:
/// /proc/net/raw shows a raw socket's protocol as its local port.
fn has_vrrp_socket(pid: nix::unistd::Pid) -> Result<bool> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/raw"))?;
    let inodes: BTreeSet<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let port = fields.get(1)?.rsplit_once(':')?.1;
            (u16::from_str_radix(port, 16).ok()? == 112)
                .then(|| fields.get(9).map(|s| s.to_string()))?
        })
        .collect();
    // The table lists the namespace's sockets: count only the agent's own.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?;
    Ok(fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:[")?.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        }))
}

fn two_instances(first: u8, second: u8) -> String {
    [
        ("VI_1", 51, first, "10.0.0.51/24"),
        ("VI_2", 52, second, "10.0.0.52/24"),
    ]
    .iter()
    .map(|(name, vrid, priority, vip)| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    \
                 virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    \
                 virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    })
    .collect()
}

fn write_config(lab: &Lab, name: &str, text: &str) -> Result<PathBuf> {
    let path = lab.work_dir().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Pings every 200 ms.
const WATCHDOG_USEC: &str = "400000";

#[test]
fn notify_socket_gets_ready_status_watchdog_reloading_and_stopping() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.0.0.2/24"])?;
    // b holds VI_2 before a starts; a takes VI_1 once it runs.
    let conf_b = write_config(&lab, "b.conf", &two_instances(100, 150))?;
    let agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    wait_for_state(&agent_b, "VI_2", "MASTER", BOUND)?;

    let mut notify = NotifySocket::bind("notify")?;
    let conf_a = write_config(&lab, "a.conf", &two_instances(150, 100))?;
    let mut agent_a = lab.start_agent(
        &AgentSpec::with_config(a, "a", conf_a)
            .env("NOTIFY_SOCKET", notify.path.display().to_string())
            .env("WATCHDOG_USEC", WATCHDOG_USEC),
    )?;

    // READY=1, then the agent is frozen at once: what the kernel shows
    // now is what the agent had when it said it was ready.
    let ready = notify.until("READY=1", BOUND, |m| has(m, "READY=1"))?;
    freeze(&agent_a)?;
    let program = xdp_program(&lab, a, "eth0")?;
    let vrrp_socket = has_vrrp_socket(agent_a.pid())?;
    agent_a.signal(Signal::SIGCONT)?;
    assert!(program.is_some(), "READY=1 before XDP was attached to eth0");
    assert!(vrrp_socket, "READY=1 before the VRRP socket was open");
    let before: Vec<&String> = notify.seen.iter().take(notify.seen.len() - 1).collect();
    assert!(
        before.iter().all(|m| !has(m, "READY=1")),
        "READY=1 said twice: {:?}",
        notify.seen
    );
    // The status said with readiness (or just before it) names both
    // instances; both start as Backup.
    let first_status = std::iter::once(&ready)
        .chain(before.iter().rev().copied())
        .find_map(|m| status_of(m))
        .context("no STATUS= by READY=1")?
        .to_string();
    assert_eq!(first_status, "2 instances: VI_1 BACKUP, VI_2 BACKUP");

    // VI_1 becomes Master (a has the higher priority), VI_2 stays Backup.
    notify.until("the status of VI_1 as Master", BOUND, |m| {
        status_of(m) == Some("2 instances: VI_1 MASTER, VI_2 BACKUP")
    })?;
    assert_eq!(agent_a.state("VI_1").as_deref(), Some("MASTER"));
    assert_eq!(agent_a.state("VI_2").as_deref(), Some("BACKUP"));

    // The watchdog pings repeat...
    for n in 0..3 {
        notify.until(&format!("WATCHDOG=1 (ping {n})"), BOUND, |m| {
            has(m, "WATCHDOG=1")
        })?;
    }
    // ...stop while the agent is stopped (what it sent before it stopped
    // is drained first; 6 periods of silence are asked for, no timing)...
    freeze(&agent_a)?;
    notify.drain()?;
    let window = Duration::from_millis(1200);
    let deadline = Instant::now() + window;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(message) = notify.next(left)? {
            agent_a.signal(Signal::SIGCONT)?;
            bail!("a stopped agent sent {message:?}");
        }
    }
    // ...and resume when it continues.
    agent_a.signal(Signal::SIGCONT)?;
    notify.until("WATCHDOG=1 after SIGCONT", BOUND, |m| has(m, "WATCHDOG=1"))?;

    // A reload is bracketed by RELOADING=1 (with the monotonic time) and
    // READY=1.
    agent_a.signal(Signal::SIGHUP)?;
    let reloading = notify.until("RELOADING=1", BOUND, |m| has(m, "RELOADING=1"))?;
    assert!(
        reloading.lines().any(|l| l
            .strip_prefix("MONOTONIC_USEC=")
            .is_some_and(|v| v.parse::<u64>().is_ok())),
        "RELOADING=1 without MONOTONIC_USEC: {reloading:?}"
    );
    notify.until("READY=1 after the reload", BOUND, |m| has(m, "READY=1"))?;

    // SIGTERM: STOPPING=1 as the handover begins, then a clean exit.
    agent_a.signal(Signal::SIGTERM)?;
    let stopping = notify.until("STOPPING=1", BOUND, |m| has(m, "STOPPING=1"))?;
    assert!(
        status_of(&stopping).is_some_and(|s| s.starts_with("stopping")),
        "{stopping:?}"
    );
    assert!(
        agent_a.wait_exit(BOUND)?.success(),
        "the agent exits 0 after SIGTERM"
    );
    lab.passed();
    Ok(())
}

#[test]
fn after_a_crash_ready_waits_for_the_new_runs_xdp_program() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let conf = write_config(&lab, "a.conf", &two_instances(150, 150))?;
    let mut first = lab.start_agent(&AgentSpec::with_config(a, "a", conf.clone()))?;
    wait_for_state(&first, "VI_1", "MASTER", BOUND)?;
    let crashed = xdp_program(&lab, a, "eth0")?.context("no XDP program on eth0")?;
    first.signal(Signal::SIGKILL)?;
    first.wait_exit(BOUND)?;
    drop(first);
    // The crashed run's program stays attached (pinned).
    assert_eq!(xdp_program(&lab, a, "eth0")?, Some(crashed));

    // The restarted run loads its own program in the background and must
    // not say READY=1 before it has replaced the crashed run's.
    let mut notify = NotifySocket::bind("crash")?;
    let second = lab.start_agent(
        &AgentSpec::with_config(a, "a", conf)
            .env("NOTIFY_SOCKET", notify.path.display().to_string()),
    )?;
    notify.until("READY=1", BOUND, |m| has(m, "READY=1"))?;
    freeze(&second)?;
    let program = xdp_program(&lab, a, "eth0")?;
    second.signal(Signal::SIGCONT)?;
    let program = program.context("READY=1 with no XDP program on eth0")?;
    assert_ne!(
        program, crashed,
        "READY=1 while the crashed run's program still answered"
    );
    lab.passed();
    Ok(())
}

/// What an agent run with a set of capabilities showed.
struct CapabilityRun {
    lab: Lab,
    agent: AgentProcess,
    node: usize,
    client: usize,
    /// Where the scripts (run as `nobody`) write: `notified` (the uid the
    /// notify_master script ran as), `pids` (one line per track script run).
    shared: PathBuf,
}

const VIP: &str = "10.0.0.100";

impl CapabilityRun {
    /// A lone Master-to-be with a notify_master script and a track script
    /// that always times out, both as user nobody, run under exactly
    /// `caps` as the unit runs it: root with that bounding set, no
    /// inheritable capabilities, no new privileges, and no memory that is
    /// both writable and executable. The kernel of its node never answers
    /// ARP (`arp_ignore=8`), so only its XDP program can.
    fn start(caps: &[String]) -> Result<Self> {
        let mut lab = Lab::new()?;
        let node = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
        let client = lab.add_node("client", "eth0", &["10.0.0.2/24"])?;
        lab.node(node)
            .ns
            .sysctl("net.ipv4.conf.eth0.arp_ignore", "8")?;
        let work = lab.work_dir().to_path_buf();
        let shared = work.join("shared");
        std::fs::create_dir_all(&shared)?;
        let track = work.join("hangs.sh");
        std::fs::write(
            &track,
            format!(
                "#!/bin/sh\necho $$ >> {}/pids\nexec sleep 600\n",
                shared.display()
            ),
        )?;
        let notify = work.join("notified.sh");
        std::fs::write(
            &notify,
            format!("#!/bin/sh\nid -u > {}/notified\n", shared.display()),
        )?;
        // nobody must reach the scripts and write beside them.
        run(Command::new("chmod")
            .arg("755")
            .arg(&work)
            .arg(&track)
            .arg(&notify))?;
        run(Command::new("chmod").arg("1777").arg(&shared))?;
        let conf = write_config(
            &lab,
            "a.conf",
            &format!(
                "vrrp_script hangs {{\n    script \"{}\"\n    interval 2\n    timeout 1\n    \
                 weight 10\n    user nobody\n}}\n\
                 vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    \
                 virtual_router_id 51\n    priority 150\n    advert_int 1\n    \
                 virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
                 track_script {{\n        hangs\n    }}\n    notify_master \"{}\" nobody\n}}\n",
                track.display(),
                notify.display()
            ),
        )?;
        let bounding = std::iter::once("-all".to_string())
            .chain(caps.iter().map(|c| format!("+{c}")))
            .collect::<Vec<_>>()
            .join(",");
        let mut spec = AgentSpec::with_config(node, "a", conf)
            .arg("--xdp-mode")
            .arg("skb");
        spec.wrapper = [
            "setpriv",
            "--bounding-set",
            &bounding,
            "--inh-caps",
            "-all",
            "--no-new-privs",
            "--",
        ]
        .map(String::from)
        .to_vec();
        spec.memory_deny_write_execute = true;
        let agent = lab.start_agent(&spec)?;
        Ok(Self {
            lab,
            agent,
            node,
            client,
            shared,
        })
    }

    /// The pids of the track script's runs so far.
    fn script_runs(&self) -> Vec<i32> {
        std::fs::read_to_string(self.shared.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Waits for `runs` runs of the track script; returns their pids.
    fn wait_for_script_runs(&self, runs: usize) -> Result<Vec<i32>> {
        wait_for(&format!("{runs} runs of the track script"), BOUND, || {
            let pids = self.script_runs();
            (pids.len() >= runs).then_some(pids)
        })
    }

    /// Waits for the agent to exit; fails if it exits 0 or runs on.
    fn wait_for_failure(&mut self) -> Result<String> {
        let status = self.agent.wait_exit(BOUND)?;
        ensure!(!status.success(), "the agent exited 0");
        Ok(self.agent.log_text())
    }

    fn finish(mut self) {
        // The scripts run as nobody; the lab kills what runs in its
        // namespaces, and these are in the node's.
        for pid in self.script_runs() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        self.lab.passed();
    }
}

fn alive(pid: i32) -> bool {
    // A killed script is a zombie until its parent (the shell the agent
    // started, or init) reaps it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            t.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        == Some(false)
}

fn log_lines<'a>(log: &'a str, words: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .collect()
}

/// With every capability of the unit: Master, XDP answering ARP, the
/// notify script run as nobody, a timed-out track script killed.
fn full_set_works(caps: &[String]) -> Result<()> {
    let run = CapabilityRun::start(caps)?;
    wait_for_state(&run.agent, "VI_1", "MASTER", BOUND)?;
    let vip: IpAddr = VIP.parse()?;
    ensure!(
        xdp_program(&run.lab, run.node, "eth0")?.is_some(),
        "no XDP program on eth0"
    );
    let mac = run.lab.node(run.node).ns.mac("eth0")?;
    let answered = wait_for("XDP to answer ARP for the VIP", BOUND, || {
        arping(&run.lab, run.client, "eth0", vip)
            .ok()
            .filter(|m| *m == mac)
    })?;
    assert_eq!(answered, mac);
    let notified = wait_for("the notify_master script to run", BOUND, || {
        std::fs::read_to_string(run.shared.join("notified"))
            .ok()
            .filter(|t| !t.is_empty())
    })?;
    assert_eq!(notified.trim(), "65534", "notify_master runs as nobody");
    // Every run but the newest timed out and was killed.
    wait_for("the timed-out track scripts to be killed", BOUND, || {
        let pids = run.script_runs();
        (pids.len() >= 3 && pids[..pids.len() - 1].iter().all(|&p| !alive(p))).then_some(())
    })
    .with_context(|| format!("agent log:\n{}", run.agent.log_text()))?;
    run.finish();
    Ok(())
}

/// With `missing` left out of `caps`: what breaks, and that it says so.
fn without(caps: &[String], missing: &str) -> Result<()> {
    let reduced: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
    let mut run = CapabilityRun::start(&reduced)?;
    match missing {
        // The agent checks these before it touches anything and refuses to
        // start, naming the capability and what it is for.
        "net_admin" | "net_raw" | "bpf" | "perfmon" => {
            let log = run.wait_for_failure()?;
            let named = format!("missing CAP_{} (", missing.to_uppercase());
            let expected = [named.as_str(), "run it as root or grant it"];
            ensure!(
                !log_lines(&log, &expected).is_empty(),
                "no line with {expected:?} in:\n{log}"
            );
        }
        // No script can run as its user: each start fails with EPERM.
        "setuid" | "setgid" => {
            wait_for_state(&run.agent, "VI_1", "MASTER", BOUND)?;
            let expected = ["could not start notify script", "Operation not permitted"];
            wait_for("the notify script's failure in the log", BOUND, || {
                (!log_lines(&run.agent.log_text(), &expected).is_empty()).then_some(())
            })?;
            let expected = ["could not start the script", "Operation not permitted"];
            wait_for("the track script's failure in the log", BOUND, || {
                (!log_lines(&run.agent.log_text(), &expected).is_empty()).then_some(())
            })?;
            ensure!(
                !run.shared.join("notified").exists(),
                "the notify script ran"
            );
            ensure!(run.script_runs().is_empty(), "the track script ran");
        }
        // A timed-out script of another user cannot be killed.
        "kill" => {
            let pids = run.wait_for_script_runs(3)?;
            let expected = ["could not kill the timed-out script", "EPERM"];
            ensure!(
                !log_lines(&run.agent.log_text(), &expected).is_empty(),
                "no line with {expected:?} in:\n{}",
                run.agent.log_text()
            );
            ensure!(alive(pids[0]), "the first timed-out script was killed");
        }
        other => bail!(
            "CAP_{} is in the unit but this test has no check of what needs it",
            other.to_uppercase()
        ),
    }
    run.finish();
    Ok(())
}

#[test]
fn the_units_capabilities_are_enough_and_each_one_is_needed() -> Result<()> {
    let caps = unit_capabilities(&unit_text()?)?;
    full_set_works(&caps).context("with the unit's capabilities")?;
    for missing in &caps {
        without(&caps, missing)
            .with_context(|| format!("without CAP_{}", missing.to_uppercase()))?;
    }
    Ok(())
}
