//! The namespace harness every integration test uses: the scaffold of
//! `vip-netns` under the prefix `vipa-`.
//!
//! A [`Lab`] owns network namespaces named `vipa-<pid>-<n>-<role>`: a
//! "switch" namespace with a bridge, and nodes joined to it by veth pairs
//! with the interface names and addresses a test asks for. Dropping the lab
//! (also while unwinding from a failed assertion) kills every process inside
//! its namespaces and deletes them. At start, namespaces of earlier runs whose
//! owning process is gone are removed too, so a crashed run leaves nothing
//! behind for the next. Nothing here touches the root namespace's interfaces.

pub mod agent;
pub mod container;
pub mod fifo;
pub mod frames;
pub mod keepalived;
pub mod metrics;
pub mod scenario_lab;
pub mod side_by_side;
pub mod xdp_model;

use std::{
    ops::{Deref, DerefMut},
    path::{Path, PathBuf},
    process::Command,
    sync::Once,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
pub use vip_netns::{run, Netns, Node};

/// Every namespace and bpffs directory the tests create starts with this.
pub const PREFIX: &str = "vipa-";

static CLEANUP: Once = Once::new();

/// Fails (not skips) when the tests cannot run: they need root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "integration tests need root (network namespaces, XDP): run `sudo cargo xtask test`"
    );
}

/// Removes namespaces and bpffs directories left by harness runs whose
/// process is gone. Live runs (another test binary, a lab) are left alone.
pub fn remove_leftovers() {
    CLEANUP.call_once(|| {
        for path in vip_netns::remove_leftovers(PREFIX, vip_netns::Leftovers::OfDeadRuns) {
            eprintln!("harness: removed leftover {}", path.display());
        }
    });
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

/// The scaffold's [`vip_netns::Lab`] (namespaces on a bridge, removed on
/// drop, logs printed when a test fails) under the tests' prefix, plus what
/// only the tests do with it: running the agent under test ([`agent`]) and
/// keepalived ([`keepalived`]). It derefs to the scaffold's lab, so its
/// methods (`add_node`, `node`, `bpffs_dir`, ...) are called directly.
pub struct Lab(vip_netns::Lab);

impl Lab {
    pub fn new() -> Result<Self> {
        require_root();
        remove_leftovers();
        Ok(Lab(vip_netns::Lab::new(vip_netns::numbered_id(PREFIX))?))
    }
}

impl Deref for Lab {
    type Target = vip_netns::Lab;

    fn deref(&self) -> &vip_netns::Lab {
        &self.0
    }
}

impl DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut vip_netns::Lab {
        &mut self.0
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

/// A pinned per-CPU `L2_STATS` entry of `ifindex` read with bpftool (the
/// agent may be stopped or dead), summed over CPUs.
pub fn l2_stats(pin: &Path, ifindex: u32) -> Result<serde_json::Map<String, serde_json::Value>> {
    let dump = bpftool_dump(pin)?;
    let entry = dump
        .as_array()
        .context("L2_STATS dump")?
        .iter()
        .map(|e| &e["formatted"])
        .find(|e| e["key"]["ifindex"].as_u64() == Some(u64::from(ifindex)))
        .with_context(|| format!("no L2_STATS for ifindex {ifindex}: {dump}"))?;
    let mut total = serde_json::Map::new();
    for cpu in entry["values"].as_array().context("values")? {
        for (field, value) in cpu["value"].as_object().context("value")? {
            let sum = total
                .get(field)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
                + value.as_u64().unwrap_or(0);
            total.insert(field.clone(), serde_json::Value::from(sum));
        }
    }
    Ok(total)
}

/// Field `name` of an [`l2_stats`] answer (0 when absent).
pub fn stat(map: &serde_json::Map<String, serde_json::Value>, name: &str) -> u64 {
    map.get(name)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}
