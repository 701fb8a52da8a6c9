//! Network namespaces for the benchmark, named `vipb-<pid>-<n>-<role>`: a
//! switch namespace with bridge `br0` and nodes joined to it by veth pairs
//! (interface `eth0`). Dropping a [`Lab`] kills every process in its
//! namespaces and deletes them with their bpffs and work directories; a run
//! that died leaves names whose pid is gone, removed by [`remove_leftovers`].
//! Nothing here touches the root namespace's interfaces.

use std::{
    fs,
    os::fd::AsFd,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use anyhow::{bail, Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};

pub const PREFIX: &str = "vipb-";
const NETNS_DIR: &str = "/run/netns";
const BPFFS_ROOT: &str = "/sys/fs/bpf";
pub const IFACE: &str = "eth0";

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

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

fn owner_pid(name: &str) -> Option<i32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills what runs in namespace `name` and deletes it.
fn delete_netns(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Removes namespaces, bpffs and work directories of benchmark runs whose
/// process is gone.
pub fn remove_leftovers() {
    let roots = [
        PathBuf::from(NETNS_DIR),
        PathBuf::from(BPFFS_ROOT),
        std::env::temp_dir(),
    ];
    for (i, root) in roots.iter().enumerate() {
        let Ok(entries) = fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if owner_pid(&name).is_some_and(|pid| !pid_alive(pid)) {
                eprintln!("bench: removing leftover {}", entry.path().display());
                if i == 0 {
                    delete_netns(&name);
                } else {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

/// `nsenter --net=NS -- program`: runs in the namespace's network stack only.
pub fn ns_command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={NETNS_DIR}/{ns}"))
        .arg("--")
        .arg(program);
    cmd
}

/// Runs `f` on a thread that entered namespace `ns`.
pub fn in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::thread::JoinHandle<Result<T>> {
    let path = Path::new(NETNS_DIR).join(ns);
    std::thread::spawn(move || {
        let file = fs::File::open(&path).with_context(|| format!("{}", path.display()))?;
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        f()
    })
}

pub struct Lab {
    id: String,
    switch: String,
    pub nodes: Vec<String>,
    children: Vec<Child>,
    bpffs: Vec<PathBuf>,
    work: PathBuf,
}

impl Lab {
    pub fn new() -> Result<Self> {
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::SeqCst)
        );
        let work = std::env::temp_dir().join(&id);
        fs::create_dir_all(&work)?;
        let switch = format!("{id}-sw");
        let lab = Lab {
            id,
            switch: switch.clone(),
            nodes: Vec::new(),
            children: Vec::new(),
            bpffs: Vec::new(),
            work,
        };
        ip(&["netns", "add", &switch])?;
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "add", "br0", "type", "bridge", "stp_state", "0"],
            &[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
            &["link", "set", "br0", "up"],
        ] {
            lab.ip_sw(args)?;
        }
        Ok(lab)
    }

    fn ip_sw(&self, args: &[&str]) -> Result<Output> {
        let mut full = vec!["-n", &self.switch];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// `ip -n NODE args`.
    pub fn ip(&self, node: usize, args: &[&str]) -> Result<Output> {
        let mut full = vec!["-n", &self.nodes[node]];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A node with `eth0` on the bridge carrying `addresses`.
    pub fn add_node(&mut self, role: &str, addresses: &[&str]) -> Result<usize> {
        let ns = format!("{}-{role}", self.id);
        ip(&["netns", "add", &ns])?;
        self.nodes.push(ns.clone());
        let node = self.nodes.len() - 1;
        let port = format!("p{node}");
        let tmp = format!("vb{}x{node}", std::process::id() % 100_000);
        ip(&[
            "link",
            "add",
            &tmp,
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.switch,
        ])?;
        self.ip(node, &["link", "set", "lo", "up"])?;
        self.ip(node, &["link", "set", &tmp, "name", IFACE])?;
        self.ip_sw(&["link", "set", &port, "master", "br0", "up"])?;
        for a in addresses {
            self.ip(node, &["addr", "add", a, "dev", IFACE])?;
        }
        run(ns_command(&ns, "sysctl").args([
            "-q",
            "-w",
            &format!("net.ipv6.conf.{IFACE}.disable_ipv6=1"),
        ]))?;
        self.ip(node, &["link", "set", IFACE, "up"])?;
        Ok(node)
    }

    pub fn ns(&self, node: usize) -> &str {
        &self.nodes[node]
    }

    pub fn command(&self, node: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        ns_command(&self.nodes[node], program)
    }

    pub fn work(&self) -> &Path {
        &self.work
    }

    pub fn bpffs_dir(&mut self, role: &str) -> PathBuf {
        let dir = Path::new(BPFFS_ROOT).join(format!("{}-{role}", self.id));
        self.bpffs.push(dir.clone());
        dir
    }

    /// Starts `cmd` with stdout and stderr to `log`; the lab kills it on drop.
    pub fn spawn(&mut self, cmd: &mut Command, log: &Path) -> Result<u32> {
        let out = fs::File::create(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Every process in node's namespace.
    pub fn pids(&self, node: usize) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.nodes[node]])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.nodes {
            delete_netns(ns);
        }
        delete_netns(&self.switch);
        for dir in &self.bpffs {
            let _ = fs::remove_dir_all(dir);
        }
        let _ = fs::remove_dir_all(&self.work);
    }
}
