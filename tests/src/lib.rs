//! The namespace harness every integration test uses.
//!
//! A [`Lab`] owns network namespaces named `vipa-<pid>-<n>-<role>`: a
//! "switch" namespace with a bridge, and nodes joined to it by veth pairs
//! with the interface names and addresses a test asks for. Dropping the lab
//! (also while unwinding from a failed assertion) kills every process inside
//! its namespaces and deletes them. At start, namespaces of earlier runs whose
//! owning process is gone are removed too, so a crashed run leaves nothing
//! behind for the next. Nothing here touches the root namespace's interfaces.

pub mod agent;
pub mod frames;
pub mod keepalived;
pub mod probe;

use std::{
    ffi::OsStr,
    fs,
    os::fd::AsFd,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Once,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

/// Every namespace and bpffs directory the tests create starts with this.
pub const PREFIX: &str = "vipa-";
const NETNS_DIR: &str = "/run/netns";
const BPFFS_ROOT: &str = "/sys/fs/bpf";

static NEXT_ID: AtomicU32 = AtomicU32::new(0);
static CLEANUP: Once = Once::new();

/// Fails (not skips) when the tests cannot run: they need root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "integration tests need root (network namespaces, XDP): run `sudo cargo xtask test`"
    );
}

/// Runs `cmd`, failing with its output if it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new("ip").args(args))
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Owner pid encoded in a harness name `vipa-<pid>-...`.
fn owner_pid(name: &str) -> Option<i32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Removes namespaces and bpffs directories left by harness runs whose
/// process is gone. Live runs (another test binary, a lab) are left alone.
pub fn remove_leftovers() {
    CLEANUP.call_once(|| {
        if let Ok(entries) = fs::read_dir(NETNS_DIR) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if owner_pid(&name).is_some_and(|pid| !pid_alive(pid)) {
                    eprintln!("harness: removing leftover namespace {name}");
                    delete_netns(&name);
                }
            }
        }
        if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if owner_pid(&name).is_some_and(|pid| !pid_alive(pid)) {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        if let Ok(entries) = fs::read_dir(BPFFS_ROOT) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if owner_pid(&name).is_some_and(|pid| !pid_alive(pid)) {
                    eprintln!("harness: removing leftover bpffs directory {name}");
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    });
}

fn delete_netns(name: &str) {
    // Processes inside keep the namespace alive after `ip netns del`: kill them.
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Polls `check` until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One network namespace.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    fn create(name: String) -> Result<Self> {
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// `ip -n NS ...`
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command that runs inside this network namespace only (`nsenter
    /// --net`): the mount namespace stays the host's, so the bpffs pins a
    /// process makes are visible to `bpftool` and to the test.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs `program args` in the namespace, failing on a non-zero exit.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        run(self.command(program).args(args))
    }

    /// Runs `f` on a thread that has entered this namespace (sockets it
    /// opens live there).
    pub fn in_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let file = fs::File::open(self.path())
            .with_context(|| format!("opening {}", self.path().display()))?;
        std::thread::spawn(move || {
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .context("setns")?;
            f()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("thread in namespace panicked"))?
    }

    /// `sysctl -w KEY=VALUE` in this namespace (net.* keys are per namespace).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")])?;
        Ok(())
    }

    pub fn ifindex(&self, interface: &str) -> Result<u32> {
        let out = self.ip(&["-j", "link", "show", "dev", interface])?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        json[0]["ifindex"]
            .as_u64()
            .map(|i| i as u32)
            .context("no ifindex in `ip -j link`")
    }

    pub fn mac(&self, interface: &str) -> Result<[u8; 6]> {
        let out = self.ip(&["-j", "link", "show", "dev", interface])?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let text = json[0]["address"].as_str().context("no address")?;
        let mut mac = [0u8; 6];
        for (byte, part) in mac.iter_mut().zip(text.split(':')) {
            *byte = u8::from_str_radix(part, 16)?;
        }
        Ok(mac)
    }
}

/// A node namespace and the interface that joins it to the switch.
#[derive(Debug)]
pub struct Node {
    pub ns: Netns,
    pub interface: String,
}

/// A set of namespaces on one bridge. Drop removes all of it.
pub struct Lab {
    id: String,
    switch: Netns,
    nodes: Vec<Node>,
    processes: Vec<Child>,
    bpffs_dirs: Vec<PathBuf>,
    next_port: u32,
    work_dir: PathBuf,
    logs: Vec<(String, PathBuf)>,
    passed: bool,
}

impl Lab {
    pub fn new() -> Result<Self> {
        require_root();
        remove_leftovers();
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::SeqCst)
        );
        let switch = Netns::create(format!("{id}-sw"))?;
        switch.ip(&["link", "add", "br0", "type", "bridge", "stp_state", "0"])?;
        // No multicast snooping: VRRP to 224.0.0.18 must reach every port.
        switch.ip(&[
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        switch.ip(&["link", "set", "br0", "up"])?;
        let work_dir = std::env::temp_dir().join(&id);
        fs::create_dir_all(&work_dir)?;
        Ok(Lab {
            id,
            switch,
            nodes: Vec::new(),
            processes: Vec::new(),
            bpffs_dirs: Vec::new(),
            next_port: 0,
            work_dir,
            logs: Vec::new(),
            passed: false,
        })
    }

    /// Creates namespace `<id>-<role>` with `interface` on bridge `br0` and
    /// `addresses` (CIDR) on it; returns the node's index.
    pub fn add_node(&mut self, role: &str, interface: &str, addresses: &[&str]) -> Result<usize> {
        self.add_node_on("br0", role, interface, addresses)
    }

    /// Like [`Lab::add_node`], on another bridge (created on first use).
    pub fn add_node_on(
        &mut self,
        bridge: &str,
        role: &str,
        interface: &str,
        addresses: &[&str],
    ) -> Result<usize> {
        let ns = Netns::create(format!("{}-{role}", self.id))?;
        self.nodes.push(Node {
            ns,
            interface: interface.to_string(),
        });
        let node = self.nodes.len() - 1;
        self.add_link(node, bridge, interface, addresses)?;
        Ok(node)
    }

    /// Marks the test as passed: the agents' logs are not printed on drop.
    pub fn passed(&mut self) {
        self.passed = true;
    }

    /// A directory for this lab's sockets, pid files and logs; removed with it.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// A log printed if the test fails while the lab is alive.
    pub fn register_log(&mut self, role: &str, path: &Path) {
        if !self.logs.iter().any(|(_, p)| p == path) {
            self.logs.push((role.to_string(), path.to_path_buf()));
        }
    }

    /// Creates a second bridge in the switch namespace and joins `node` to
    /// it with `interface` and `addresses` (e.g. a server network behind
    /// gateways).
    pub fn add_link(
        &mut self,
        node: usize,
        bridge: &str,
        interface: &str,
        addresses: &[&str],
    ) -> Result<()> {
        if self.switch.ip(&["link", "show", "dev", bridge]).is_err() {
            self.switch
                .ip(&["link", "add", bridge, "type", "bridge", "stp_state", "0"])?;
            self.switch.ip(&[
                "link",
                "set",
                bridge,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ])?;
            self.switch.ip(&["link", "set", bridge, "up"])?;
        }
        let port = self.next_port;
        self.next_port += 1;
        let tmp_node = format!("vn{}x{port}", std::process::id() % 100_000);
        let tmp_sw = format!("vs{}x{port}", std::process::id() % 100_000);
        let ns_name = self.nodes[node].ns.name.clone();
        ip(&[
            "link",
            "add",
            &tmp_node,
            "netns",
            &ns_name,
            "type",
            "veth",
            "peer",
            "name",
            &tmp_sw,
            "netns",
            &self.switch.name,
        ])?;
        let ns = &self.nodes[node].ns;
        ns.ip(&["link", "set", &tmp_node, "name", interface])?;
        let sw_port = format!("p{port}");
        self.switch
            .ip(&["link", "set", &tmp_sw, "name", &sw_port])?;
        self.switch
            .ip(&["link", "set", &sw_port, "master", bridge, "up"])?;
        for address in addresses {
            if address.contains(':') {
                ns.ip(&["addr", "add", address, "dev", interface, "nodad"])?;
            } else {
                ns.ip(&["addr", "add", address, "dev", interface])?;
            }
        }
        ns.sysctl(&format!("net.ipv6.conf.{interface}.accept_dad"), "0")?;
        ns.ip(&["link", "set", interface, "up"])?;
        Ok(())
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// A bpffs directory for one agent, removed with the lab.
    pub fn bpffs_dir(&mut self, role: &str) -> PathBuf {
        let dir = Path::new(BPFFS_ROOT).join(format!("{}-{role}", self.id));
        self.bpffs_dirs.push(dir.clone());
        dir
    }

    /// Starts `cmd` (built with [`Netns::command`]) and keeps it so the lab
    /// kills it on drop. Returns its index for [`Lab::process`].
    pub fn spawn(&mut self, cmd: &mut Command) -> Result<usize> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        self.processes.push(child);
        Ok(self.processes.len() - 1)
    }

    pub fn process(&mut self, index: usize) -> &mut Child {
        &mut self.processes[index]
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.passed {
            for (role, path) in &self.logs {
                let text = fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(80)..];
                eprintln!("----- log of {role} (last {} lines) -----", tail.len());
                for line in tail {
                    eprintln!("{line}");
                }
            }
        }
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
        for node in &self.nodes {
            delete_netns(&node.ns.name);
        }
        delete_netns(&self.switch.name);
        for dir in &self.bpffs_dirs {
            let _ = fs::remove_dir_all(dir);
        }
        let _ = fs::remove_dir_all(&self.work_dir);
    }
}

/// The vip-agent binary under test: `VIP_AGENT_BIN` (set by `cargo xtask
/// test`), else the workspace's debug build.
pub fn agent_bin() -> PathBuf {
    let path = std::env::var_os("VIP_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/vip-agent"));
    assert!(
        path.is_file(),
        "vip-agent binary not found at {}: run `cargo xtask test` (it builds it)",
        path.display()
    );
    path
}

/// `bpftool -j map dump pinned PATH` as JSON.
pub fn bpftool_dump(pin: &Path) -> Result<serde_json::Value> {
    let out = run(Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(pin))?;
    Ok(serde_json::from_slice(&out.stdout)?)
}
