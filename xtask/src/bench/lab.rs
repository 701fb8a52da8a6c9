//! Network namespaces for the benchmark, named `vipb-<pid>-<n>-<role>`: a
//! switch namespace with bridge `br0` and nodes joined to it by veth pairs
//! (interface `eth0`). Dropping a [`Lab`] kills every process in its
//! namespaces and deletes them with their bpffs and work directories; a run
//! that died leaves names whose pid is gone, removed by [`remove_leftovers`].
//! Nothing here touches the root namespace's interfaces.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use anyhow::{Context, Result};

pub const PREFIX: &str = "vipb-";
pub const IFACE: &str = "eth0";

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

use crate::netns::{self, delete_netns, ip, BPFFS_ROOT};
pub use crate::netns::{in_ns, ns_command, run};

/// Removes namespaces, bpffs and work directories of benchmark runs whose
/// process is gone.
pub fn remove_leftovers() {
    for path in crate::netns::remove_leftovers(PREFIX, true) {
        eprintln!("bench: removed leftover {}", path.display());
    }
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
        netns::add_netns(&switch)?;
        netns::add_bridge(&switch, "br0")?;
        Ok(lab)
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
        netns::add_netns(&ns)?;
        self.nodes.push(ns.clone());
        let node = self.nodes.len() - 1;
        netns::plug(&self.switch, "br0", &format!("p{node}"), &ns, IFACE)?;
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
