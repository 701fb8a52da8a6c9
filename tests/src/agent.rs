//! Running the real `vip-agent` binary inside a lab node, and asking it
//! (and the kernel) what it holds.

use std::{
    fs,
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};

use crate::{agent_bin, run, wait_for, Lab};

/// One `vip-agent run` process in a node namespace. Killed on drop.
pub struct AgentProcess {
    pub node: usize,
    pub role: String,
    pub control_socket: PathBuf,
    pub log: PathBuf,
    child: Child,
}

/// How an agent is started.
#[derive(Clone, Debug, Default)]
pub struct AgentSpec {
    pub node: usize,
    pub role: String,
    pub config: Option<PathBuf>,
    pub extra_args: Vec<String>,
    /// A command the agent runs under (`setpriv ... --`), inside the
    /// namespace: it must exec the agent, so the pid stays the agent's.
    pub wrapper: Vec<String>,
    /// Environment variables set for the agent.
    pub env: Vec<(String, String)>,
    /// Starts the agent with `PR_SET_MDWE` (the kernel's own form of
    /// systemd's `MemoryDenyWriteExecute=`): no mapping may become both
    /// writable and executable, in it or anything it starts.
    pub memory_deny_write_execute: bool,
}

impl AgentSpec {
    pub fn with_config(node: usize, role: &str, config: impl Into<PathBuf>) -> Self {
        Self {
            node,
            role: role.to_string(),
            config: Some(config.into()),
            ..Self::default()
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl Lab {
    /// Starts `vip-agent run` for `spec` in its node's namespace, with its
    /// own control socket, pid file and bpffs directory.
    pub fn start_agent(&mut self, spec: &AgentSpec) -> Result<AgentProcess> {
        let dir = self.work_dir().to_path_buf();
        let control_socket = dir.join(format!("{}.sock", spec.role));
        let log = dir.join(format!("{}.log", spec.role));
        let bpffs = self.bpffs_dir(&spec.role);
        let mut cmd = match spec.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = self.node(spec.node).ns.command(program);
                cmd.args(args).arg(agent_bin());
                cmd
            }
            None => self.node(spec.node).ns.command(agent_bin()),
        };
        cmd.arg("run");
        if let Some(config) = &spec.config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("--control-socket")
            .arg(&control_socket)
            .arg("--pid-file")
            .arg(dir.join(format!("{}.pid", spec.role)))
            .arg("--bpffs-dir")
            .arg(&bpffs)
            .args(&spec.extra_args)
            .env("VIP_AGENT_LOG", "info,vip_agent=debug")
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        if spec.memory_deny_write_execute {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches no memory of
            // the parent; the flag outlives the exec of nsenter and the agent.
            unsafe {
                cmd.pre_exec(|| {
                    let refuse = libc::PR_MDWE_REFUSE_EXEC_GAIN as libc::c_ulong;
                    if libc::prctl(
                        libc::PR_SET_MDWE,
                        refuse,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        // Lets a developer run the whole suite on the kernel path only.
        if let Ok(mode) = std::env::var("VIP_AGENT_TEST_XDP_MODE") {
            cmd.args(["--xdp-mode", &mode]);
        }
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        self.register_log(&spec.role, &log);
        Ok(AgentProcess {
            node: spec.node,
            role: spec.role.clone(),
            control_socket,
            log,
            child,
        })
    }
}

impl AgentProcess {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, signal: Signal) -> Result<()> {
        nix::sys::signal::kill(self.pid(), signal)?;
        Ok(())
    }

    /// Waits for the process to exit; returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let child = &mut self.child;
        wait_for("the agent to exit", timeout, || {
            child.try_wait().ok().flatten()
        })
    }

    /// Whether the process still runs (it has not exited, or been killed).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Descriptors and resident memory of the process now.
    pub fn resources(&self) -> Result<Resources> {
        Resources::of(self.pid().as_raw())
    }

    /// `vip-agent status --json` of this agent.
    pub fn status(&self) -> Result<serde_json::Value> {
        let out = run(Command::new(agent_bin())
            .args(["status", "--json", "--control-socket"])
            .arg(&self.control_socket))?;
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// State of instance `name` as the agent reports it ("MASTER", ...).
    pub fn state(&self, name: &str) -> Option<String> {
        let status = self.status().ok()?;
        status["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["state"].as_str().map(str::to_string))
    }

    /// `vip-agent COMMAND [INSTANCE] --control-socket ...` (`resign`,
    /// `resume`, `reload`, `stop`) against this agent; fails unless it exits 0.
    pub fn control(&self, command: &str, instance: Option<&str>) -> Result<()> {
        run(Command::new(agent_bin())
            .arg(command)
            .args(instance)
            .arg("--control-socket")
            .arg(&self.control_socket))?;
        Ok(())
    }

    /// Counter `key` (`became_master`, `adverts_received`, ...) of instance
    /// `name` in `status --json`.
    pub fn counter(&self, name: &str, key: &str) -> Result<u64> {
        let status = self.status()?;
        status["instances"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["name"] == name)
            .and_then(|i| i[key].as_u64())
            .with_context(|| format!("no {key} of instance {name} in {status}"))
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What a process holds: open descriptors (`/proc/PID/fd`) and resident
/// memory (`VmRSS` of `/proc/PID/status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    pub fds: usize,
    pub rss_kib: u64,
    /// What each descriptor is (`socket:[123]`, a path, `anon_inode:...`).
    pub fd_targets: Vec<String>,
}

impl Resources {
    pub fn of(pid: i32) -> Result<Self> {
        let mut fd_targets: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
            .with_context(|| format!("listing the descriptors of process {pid}"))?
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .map(|t| t.display().to_string())
            .collect();
        fd_targets.sort();
        let fds = fd_targets.len();
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading the status of process {pid}"))?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS for process {pid}"))?;
        Ok(Self {
            fds,
            rss_kib,
            fd_targets,
        })
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} fds, VmRSS {:.1} MiB",
            self.fds,
            self.rss_kib as f64 / 1024.0
        )
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Addresses on `interface` in the node's namespace (`ip -j addr`).
pub fn addresses(lab: &Lab, node: usize, interface: &str) -> Vec<IpAddr> {
    let Ok(out) = lab
        .node(node)
        .ns
        .ip(&["-j", "addr", "show", "dev", interface])
    else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    json.as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// The nodes (among `nodes`) whose `interface` carries `vip`.
pub fn holders(lab: &Lab, nodes: &[usize], interface: &str, vip: IpAddr) -> Vec<usize> {
    nodes
        .iter()
        .copied()
        .filter(|&n| addresses(lab, n, interface).contains(&vip))
        .collect()
}

/// Waits until exactly `expected` holds `vip` among `nodes`.
pub fn wait_for_sole_holder(
    lab: &Lab,
    nodes: &[usize],
    interface: &str,
    vip: IpAddr,
    expected: usize,
    timeout: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    wait_for(
        &format!("node {expected} to be the only holder of {vip}"),
        timeout,
        || (holders(lab, nodes, interface, vip) == [expected]).then_some(()),
    )
    .with_context(|| format!("holders now: {:?}", holders(lab, nodes, interface, vip)))?;
    Ok(start.elapsed())
}

/// The link-layer address in the node's neighbour entry for `address`.
pub fn neighbour_mac(lab: &Lab, node: usize, address: &str) -> Option<String> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "neigh", "show", address])
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json.as_array()?.first()?["lladdr"]
        .as_str()
        .map(str::to_string)
}

/// `aa:bb:cc:dd:ee:ff`, as `ip` and arping print it.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// MAC address the client's `arping` gets for `vip` (first reply).
pub fn arping(lab: &Lab, client: usize, interface: &str, vip: IpAddr) -> Result<[u8; 6]> {
    let (macs, text) = arping_macs(lab, client, interface, vip, 1, "3")?;
    macs.first()
        .copied()
        .with_context(|| format!("no ARP reply for {vip}: {text}"))
}

/// The MAC of every reply the client's `arping -c COUNT -w DEADLINE` got for
/// `vip` (a reply per line, in order), and arping's output.
pub fn arping_macs(
    lab: &Lab,
    client: usize,
    interface: &str,
    vip: IpAddr,
    count: u32,
    deadline: &str,
) -> Result<(Vec<[u8; 6]>, String)> {
    let out = lab
        .node(client)
        .ns
        .command("arping")
        .args(["-c", &count.to_string(), "-w", deadline, "-I", interface])
        .arg(vip.to_string())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let macs = text
        .lines()
        .filter_map(parse_arping_mac)
        .map(parse_mac)
        .collect::<Result<Vec<_>>>()?;
    Ok((macs, text))
}

/// "aa:bb:cc:dd:ee:ff" (either case) as bytes.
pub fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    anyhow::ensure!(parts.len() == 6, "not a MAC address: {text}");
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).with_context(|| format!("in MAC {text}"))?;
    }
    Ok(mac)
}

/// One ARP request of [`watch_fencing`]: when it was sent (the clock was
/// read before arping started, so the request left at that time or later)
/// and whether the watched MAC answered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRequest {
    pub sent: Duration,
    pub answered: bool,
}

/// What a client saw while an agent's VIP was being fenced: every request,
/// in order.
#[derive(Clone, Debug)]
pub struct Fencing {
    pub requests: Vec<ArpRequest>,
    /// Requests `limit` or more after the start, none of which may be answered.
    pub limit: Duration,
}

impl Fencing {
    /// When the last request the watched MAC answered was sent.
    pub fn last_answered(&self) -> Option<Duration> {
        self.requests
            .iter()
            .rev()
            .find(|r| r.answered)
            .map(|r| r.sent)
    }

    /// When the first request after the last answered one was sent: by then
    /// the fence was up.
    pub fn fenced_by(&self) -> Option<Duration> {
        let after = self.requests.iter().rposition(|r| r.answered);
        self.requests
            .get(after.map_or(0, |i| i + 1))
            .map(|r| r.sent)
    }

    /// Requests sent at or after the limit, and how many of them were answered.
    pub fn after_limit(&self) -> (usize, usize) {
        let late: Vec<&ArpRequest> = self
            .requests
            .iter()
            .filter(|r| r.sent >= self.limit)
            .collect();
        (late.len(), late.iter().filter(|r| r.answered).count())
    }

    /// `fenced_by` in ms, as the tests print it.
    pub fn summary(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or("-".to_string(), |d| d.as_millis().to_string());
        let (late, answered) = self.after_limit();
        format!(
            "last answered request sent at {} ms, fenced by {} ms (limit {} ms); \
             {} requests, {late} after the limit, {answered} of those answered",
            ms(self.last_answered()),
            ms(self.fenced_by()),
            self.limit.as_millis(),
            self.requests.len()
        )
    }
}

/// Whose ARP answers [`watch_fencing`] watches: `mac`'s, for `vip`, asked
/// by node `client` on its `interface`.
#[derive(Clone, Copy, Debug)]
pub struct FenceWatch<'a> {
    pub client: usize,
    pub interface: &'a str,
    pub vip: IpAddr,
    pub mac: [u8; 6],
}

/// From `since` (just after the agent was stopped or killed) on, sends one
/// ARP request for the VIP at a time from the client (`arping -c 1`,
/// waiting 0.1 s for every reply: arping waits out its deadline) and
/// records whether the watched MAC answered, until `after` requests have
/// been sent `limit` or more after `since`. Replies from other MACs (a
/// Backup that took over) are not the watched MAC's.
pub fn watch_fencing(
    lab: &Lab,
    watch: &FenceWatch,
    since: Instant,
    limit: Duration,
    after: usize,
) -> Result<Fencing> {
    let mut fencing = Fencing {
        requests: Vec::new(),
        limit,
    };
    while fencing.after_limit().0 < after {
        let sent = since.elapsed();
        let (macs, _) = arping_macs(lab, watch.client, watch.interface, watch.vip, 1, "0.1")?;
        fencing.requests.push(ArpRequest {
            sent,
            answered: macs.contains(&watch.mac),
        });
    }
    Ok(fencing)
}

/// The replying MAC in `arping` output: Debian's `arping` prints
/// "42 bytes from aa:bb:cc:dd:ee:ff (10.0.0.70): index=0 ...", iputils'
/// "Unicast reply from 10.0.0.70 [AA:BB:CC:DD:EE:FF]  0.6ms".
pub fn parse_arping_mac(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        if let Some(rest) = line.split(" bytes from ").nth(1) {
            rest.split_whitespace().next()
        } else if line.contains("reply from") {
            line.split('[').nth(1)?.split(']').next()
        } else {
            None
        }
    })
}

/// Polls `vip-agent status` until instance `name` is in `state`.
pub fn wait_for_state(
    agent: &AgentProcess,
    name: &str,
    state: &str,
    timeout: Duration,
) -> Result<()> {
    wait_for(
        &format!("{} instance {name} to be {state}", agent.role),
        timeout,
        || (agent.state(name).as_deref() == Some(state)).then_some(()),
    )
}

pub fn read_to_string(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// `ip -o monitor address` in a node: every address added or deleted while
/// it runs, in order. Stopped on drop.
pub struct AddressMonitor {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl AddressMonitor {
    pub fn start(lab: &Lab, node: usize) -> Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = lab
            .node(node)
            .ns
            .command("ip")
            .args(["-o", "monitor", "address"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting ip monitor")?;
        let stdout = child.stdout.take().context("ip monitor stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // `ip monitor` subscribes right after it starts; give it that moment.
        std::thread::sleep(Duration::from_millis(200));
        Ok(Self { child, lines })
    }

    /// The next event, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Result<String> {
        self.lines
            .recv_timeout(timeout)
            .context("waiting for an address event")
    }

    /// Every event seen so far.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for AddressMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
