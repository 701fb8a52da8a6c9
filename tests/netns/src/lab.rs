//! The RAII guard over a lab's namespaces, processes and directories.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use crate::{delete_netns, ip, Error, Netns, Result, BPFFS_ROOT};

/// What a node does with IPv6 on the links the lab makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ipv6 {
    /// On, without duplicate address detection: IPv6 addresses are usable
    /// at once (the VRRPv3 / NDP tests need that).
    #[default]
    NoDad,
    /// Off before the link goes up: no router solicitations or MLD reports
    /// on the segment (the benchmarks count what crosses it).
    Off,
}

/// A node namespace and the interface that joined it to the switch first.
#[derive(Debug)]
pub struct Node {
    pub ns: Netns,
    pub interface: String,
}

/// What [`Lab::remove`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub namespaces: usize,
    pub bpffs_dirs: usize,
}

/// A set of namespaces on one switch. Dropping it (also while unwinding)
/// kills every process in them and deletes them, its bpffs directories and
/// its work directory, unless [`Lab::keep`] was called.
#[derive(Debug)]
pub struct Lab {
    id: String,
    switch: Netns,
    nodes: Vec<Node>,
    processes: Vec<Child>,
    bpffs_dirs: Vec<PathBuf>,
    work_dir: PathBuf,
    ipv6: Ipv6,
    next_port: u32,
    logs: Vec<(String, PathBuf)>,
    passed: bool,
    keep: bool,
    removed: bool,
}

/// Both ends of a veth pair are created straight in their namespaces, so
/// the temporary names only need to be unique there.
static NEXT_VETH: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// Creates namespace `<id>-sw` with bridge `br0`, and the work directory
    /// `<tmp>/<id>`. `id` is `<prefix><pid>...` ([`crate::numbered_id`],
    /// [`crate::process_id`]) so that [`crate::remove_leftovers`] can tell
    /// whether its owner still runs.
    pub fn new(id: String) -> Result<Self> {
        let work_dir = std::env::temp_dir().join(&id);
        fs::create_dir_all(&work_dir).map_err(|source| Error::Io {
            what: format!("creating {}", work_dir.display()),
            source,
        })?;
        let switch = match Netns::create(format!("{id}-sw")) {
            Ok(switch) => switch,
            Err(error) => {
                delete_netns(&format!("{id}-sw"));
                let _ = fs::remove_dir_all(&work_dir);
                return Err(error);
            }
        };
        // From here on Drop removes what exists.
        let lab = Lab {
            id,
            switch,
            nodes: Vec::new(),
            processes: Vec::new(),
            bpffs_dirs: Vec::new(),
            work_dir,
            ipv6: Ipv6::default(),
            next_port: 0,
            logs: Vec::new(),
            passed: false,
            keep: false,
            removed: false,
        };
        lab.add_bridge("br0")?;
        Ok(lab)
    }

    /// IPv6 on the links made from now on.
    pub fn with_ipv6(mut self, ipv6: Ipv6) -> Self {
        self.ipv6 = ipv6;
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace holding the bridges.
    pub fn switch(&self) -> &Netns {
        &self.switch
    }

    /// `bridge` in the switch namespace, up, with STP off and without
    /// multicast snooping (VRRP to 224.0.0.18 must reach every port).
    fn add_bridge(&self, bridge: &str) -> Result<()> {
        let sw = &self.switch;
        sw.ip(&["link", "add", bridge, "type", "bridge", "stp_state", "0"])?;
        sw.ip(&[
            "link",
            "set",
            bridge,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        sw.ip(&["link", "set", bridge, "up"])?;
        Ok(())
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

    /// Joins `node` to `bridge` (created on first use) with `interface`
    /// carrying `addresses`, and sets it up.
    pub fn add_link(
        &mut self,
        node: usize,
        bridge: &str,
        interface: &str,
        addresses: &[&str],
    ) -> Result<()> {
        if self.switch.ip(&["link", "show", "dev", bridge]).is_err() {
            self.add_bridge(bridge)?;
        }
        let port = format!("p{}", self.next_port);
        self.next_port += 1;
        let n = NEXT_VETH.fetch_add(1, Ordering::SeqCst);
        let (node_end, switch_end) = (format!("vxa{n}"), format!("vxb{n}"));
        let ns = &self.nodes[node].ns;
        ip(&[
            "link",
            "add",
            &node_end,
            "netns",
            &ns.name,
            "type",
            "veth",
            "peer",
            "name",
            &switch_end,
            "netns",
            &self.switch.name,
        ])?;
        ns.ip(&["link", "set", &node_end, "name", interface])?;
        self.switch
            .ip(&["link", "set", &switch_end, "name", &port])?;
        self.switch
            .ip(&["link", "set", &port, "master", bridge, "up"])?;
        match self.ipv6 {
            Ipv6::NoDad => ns.sysctl(&format!("net.ipv6.conf.{interface}.accept_dad"), "0")?,
            Ipv6::Off => ns.sysctl(&format!("net.ipv6.conf.{interface}.disable_ipv6"), "1")?,
        }
        for address in addresses {
            if address.contains(':') {
                ns.ip(&["addr", "add", address, "dev", interface, "nodad"])?;
            } else {
                ns.ip(&["addr", "add", address, "dev", interface])?;
            }
        }
        ns.ip(&["link", "set", interface, "up"])?;
        Ok(())
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// A directory for this lab's sockets, pid files and logs; removed with it.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// A bpffs directory `<id>-<role>` for one agent, removed with the lab.
    pub fn bpffs_dir(&mut self, role: &str) -> PathBuf {
        let dir = Path::new(BPFFS_ROOT).join(format!("{}-{role}", self.id));
        if !self.bpffs_dirs.contains(&dir) {
            self.bpffs_dirs.push(dir.clone());
        }
        dir
    }

    /// Starts `cmd` (built with [`Netns::command`]) and keeps it so the lab
    /// kills it on drop. Returns its index for [`Lab::process`].
    pub fn spawn(&mut self, cmd: &mut Command) -> Result<usize> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .map_err(|source| Error::Start {
                command: format!("{cmd:?}"),
                source,
            })?;
        self.processes.push(child);
        Ok(self.processes.len() - 1)
    }

    /// Like [`Lab::spawn`], with stdout and stderr appended to `log`.
    pub fn spawn_logged(&mut self, cmd: &mut Command, log: &Path) -> Result<usize> {
        let io = |source| Error::Io {
            what: format!("opening {}", log.display()),
            source,
        };
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io)?;
        cmd.stdout(out.try_clone().map_err(io)?).stderr(out);
        self.spawn(cmd)
    }

    pub fn process(&mut self, index: usize) -> &mut Child {
        &mut self.processes[index]
    }

    /// A log whose tail is printed if the lab is dropped before
    /// [`Lab::passed`] (a failed test shows what its agents said).
    pub fn register_log(&mut self, role: &str, path: &Path) {
        if !self.logs.iter().any(|(_, p)| p == path) {
            self.logs.push((role.to_string(), path.to_path_buf()));
        }
    }

    /// Marks the run as passed: the registered logs are not printed on drop.
    pub fn passed(&mut self) {
        self.passed = true;
    }

    /// Leaves everything in place on drop, to look around;
    /// [`crate::remove_leftovers`] removes it later.
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// Kills the lab's processes and everything else running in its
    /// namespaces, deletes the namespaces, the bpffs and work directories.
    /// Drop does this too; calling it first tells what was removed.
    pub fn remove(&mut self) -> Removed {
        if self.removed {
            return Removed::default();
        }
        self.removed = true;
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
        Removed {
            namespaces: self.nodes.len() + 1,
            bpffs_dirs: self.bpffs_dirs.len(),
        }
    }

    fn print_logs(&self) {
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
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if !self.passed {
            self.print_logs();
        }
        self.remove();
    }
}
