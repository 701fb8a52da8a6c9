//! Network namespaces for the lab and the benchmarks: creation through `ip`,
//! commands inside them, and removal of what a dead run left behind.
//!
//! Names are `<prefix><pid>-...`, so a run can tell its own leftovers (owner
//! process gone) from a live run's. (The integration tests have the same
//! harness in the `tests` crate; xtask cannot depend on it, because that
//! crate depends on vip-agent, whose build script needs the BPF toolchain
//! that `cargo xtask setup` installs.)

use std::{
    fs,
    os::fd::AsFd,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{bail, Context, Result};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

pub const NETNS_DIR: &str = "/run/netns";
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

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

/// `ip ARGS`
pub fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new("ip").args(args))
}

/// `nsenter --net=NS -- program`: the network namespace only; the mount
/// namespace stays the host's, so bpffs pins stay visible to bpftool.
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

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills what runs in namespace `name` (it would keep the namespace alive),
/// then deletes it.
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

fn owner_pid(prefix: &str, name: &str) -> Option<i32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Removes namespaces, bpffs directories and temporary work directories
/// named `<prefix><pid>-...`: with `only_dead`, those whose owning process is
/// gone; otherwise every one of them. Returns what was removed.
pub fn remove_leftovers(prefix: &str, only_dead: bool) -> Vec<PathBuf> {
    let me = std::process::id() as i32;
    let doomed = |name: &str| {
        owner_pid(prefix, name).is_some_and(|pid| !only_dead || (pid != me && !pid_alive(pid)))
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

/// `ip -n NS ARGS`
pub fn ns_ip(ns: &str, args: &[&str]) -> Result<Output> {
    run(Command::new("ip").arg("-n").arg(ns).args(args))
}

/// Creates network namespace `name` with its loopback up.
pub fn add_netns(name: &str) -> Result<()> {
    ip(&["netns", "add", name])?;
    ns_ip(name, &["link", "set", "lo", "up"])?;
    Ok(())
}

/// Creates `bridge` in namespace `switch`, up, with STP off and without
/// multicast snooping (VRRP to 224.0.0.18 must reach every port).
pub fn add_bridge(switch: &str, bridge: &str) -> Result<()> {
    ns_ip(
        switch,
        &["link", "add", bridge, "type", "bridge", "stp_state", "0"],
    )?;
    ns_ip(
        switch,
        &[
            "link",
            "set",
            bridge,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ],
    )?;
    ns_ip(switch, &["link", "set", bridge, "up"])?;
    Ok(())
}

static NEXT_VETH: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Joins namespace `ns` to `bridge` in namespace `switch` with a veth pair:
/// `interface` in `ns` (left down, for the caller to address), `port` on
/// the bridge (up).
pub fn plug(switch: &str, bridge: &str, port: &str, ns: &str, interface: &str) -> Result<()> {
    // Both ends are created straight in their namespaces; the temporary
    // names only need to be unique in them.
    let n = NEXT_VETH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let (a, b) = (format!("vxa{n}"), format!("vxb{n}"));
    ip(&[
        "link", "add", &a, "netns", ns, "type", "veth", "peer", "name", &b, "netns", switch,
    ])?;
    ns_ip(ns, &["link", "set", &a, "name", interface])?;
    ns_ip(switch, &["link", "set", &b, "name", port])?;
    ns_ip(switch, &["link", "set", port, "master", bridge, "up"])?;
    Ok(())
}
