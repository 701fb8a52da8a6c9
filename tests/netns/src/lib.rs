//! The network-namespace scaffold the integration tests, `cargo xtask lab`
//! and `cargo xtask bench` share.
//!
//! A [`Lab`] owns network namespaces named `<prefix><pid>-...` (the tests use
//! `vipa-`, the lab `vipl-`, the benchmarks `vipb-`): a "switch" namespace
//! with a bridge, and nodes joined to it by veth pairs. Dropping it (also
//! while unwinding) kills every process inside its namespaces and deletes
//! them with its bpffs and work directories. Because every name carries the
//! owner's pid, [`remove_leftovers`] can tell what a dead run left behind
//! from what a live one still uses. Nothing here touches the root
//! namespace's interfaces: addresses, links and processes all go into
//! namespaces the lab created.
//!
//! [`probe::Probe`] measures an outage as a client sees it, and
//! [`scenario`] reads the deployments of `examples/scenarios` through
//! vip-config.

mod lab;
mod netns;
pub mod probe;
pub mod scenario;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Output},
    sync::atomic::{AtomicU32, Ordering},
};

use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

pub use lab::{Ipv6, Lab, Node, Removed};
pub use netns::Netns;

/// Where `ip netns add` puts its namespaces.
pub const NETNS_DIR: &str = "/run/netns";
/// Where the agents under test pin their maps (one directory each).
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("starting {command}: {source}")]
    Start {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {output}")]
    Failed {
        command: String,
        status: ExitStatus,
        output: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("entering network namespace {namespace}: {source}")]
    Setns {
        namespace: String,
        #[source]
        source: nix::Error,
    },
    #[error("the thread in network namespace {0} panicked")]
    ThreadPanicked(String),
    #[error("unexpected output of {command}: {detail}")]
    Output { command: String, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs `cmd`, failing with its output if it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().map_err(|source| Error::Start {
        command: format!("{cmd:?}"),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Failed {
            command: format!("{cmd:?}"),
            status: out.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(out)
}

/// `ip ARGS` (in the caller's namespace: only ever used for commands that
/// name the namespaces they act on, like `netns add` or `link add ... netns`).
pub fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new("ip").args(args))
}

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// `<prefix><pid>-<n>`: for callers that make several labs per process
/// (each test, each benchmark repetition).
pub fn numbered_id(prefix: &str) -> String {
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::SeqCst)
    )
}

/// `<prefix><pid>`: for a caller with one lab per process (`cargo xtask lab`,
/// whose names users type while it runs).
pub fn process_id(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id())
}

/// Owner pid encoded in a name `<prefix><pid>-...` (or `<prefix><pid>`).
pub fn owner_pid(prefix: &str, name: &str) -> Option<i32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Kills what runs in namespace `name` (it would keep the namespace alive
/// after `ip netns del`), then deletes it. Errors are ignored: this runs on
/// cleanup paths, where the namespace may already be gone.
pub fn delete_netns(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Which leftovers [`remove_leftovers`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Those whose owning process is gone; live runs are left alone.
    OfDeadRuns,
    /// Every one with the prefix except this process's own (`lab --clean`:
    /// a lab kept with `--keep` outlives the process that made it anyway).
    All,
}

/// Removes namespaces, bpffs directories and temporary work directories
/// named `<prefix><pid>-...` and returns their paths.
pub fn remove_leftovers(prefix: &str, which: Leftovers) -> Vec<PathBuf> {
    let me = std::process::id() as i32;
    let doomed = |name: &str| {
        owner_pid(prefix, name)
            .is_some_and(|pid| pid != me && (which == Leftovers::All || !pid_alive(pid)))
    };
    let mut removed = Vec::new();
    for root in [
        PathBuf::from(NETNS_DIR),
        PathBuf::from(BPFFS_ROOT),
        std::env::temp_dir(),
    ] {
        let Ok(entries) = fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !doomed(&name) {
                continue;
            }
            if root == Path::new(NETNS_DIR) {
                delete_netns(&name);
            } else {
                let _ = fs::remove_dir_all(entry.path());
            }
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_reads_both_id_forms() {
        assert_eq!(owner_pid("vipa-", "vipa-123-4-sw"), Some(123));
        assert_eq!(owner_pid("vipl-", "vipl-77-cube01"), Some(77));
        assert_eq!(owner_pid("vipl-", "vipl-77"), Some(77));
        assert_eq!(owner_pid("vipa-", "vipl-77-cube01"), None);
        assert_eq!(owner_pid("vipa-", "vipa-x-1"), None);
    }

    #[test]
    fn ids_carry_the_prefix_and_this_process() {
        let me = std::process::id() as i32;
        let a = numbered_id("vipt-");
        let b = numbered_id("vipt-");
        assert_ne!(a, b);
        assert_eq!(owner_pid("vipt-", &a), Some(me));
        assert_eq!(owner_pid("vipt-", &process_id("vipt-")), Some(me));
    }
}
