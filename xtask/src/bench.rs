//! `cargo xtask bench [--quick] [--only SECTION,...]`: failover outage,
//! planned handover, crash + restart, the ARP answer under a live-frames
//! flood, ARP flood end to end, election under both floods and footprint,
//! each against a
//! baseline measured in the same run with the runs interleaved (A B A B).
//! Everything runs in network namespaces this process creates (`vipb-*`)
//! and removes, also on failure and Ctrl-C. Writes `bench/results.json`
//! (raw samples), `bench/results.md` and `bench/failover.svg`.

mod daemon;
mod failover;
mod flood;
mod footprint;
mod handover;
mod lab;
mod live_election;
mod live_flood;
mod report;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{self, SigHandler, Signal};
use serde_json::{json, Value};

use crate::workspace_root;

/// One benchmark section: its raw samples.
type Section = dyn Fn(&Env) -> Result<Value>;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: std::ffi::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Fails once Ctrl-C (or SIGTERM) arrived, so every lab unwinds and cleans up.
pub fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps, failing early on Ctrl-C.
pub fn pause(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    loop {
        check_interrupt()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// Polls `check` every 10 ms until true or `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Result<()> {
    let end = Instant::now() + timeout;
    loop {
        check_interrupt()?;
        if check() {
            return Ok(());
        }
        if Instant::now() >= end {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run sizes.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub quick: bool,
    pub failover_reps: usize,
    /// Repetitions of the planned handover and of the crash + restart.
    pub handover_reps: usize,
    pub live_flood_reps: usize,
    pub live_flood_secs: f64,
    pub live_election_reps: usize,
    pub live_election_secs: f64,
    pub flood_reps: usize,
    pub flood_secs: f64,
    pub footprint_reps: usize,
    pub footprint_secs: f64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                failover_reps: 2,
                handover_reps: 2,
                live_flood_reps: 1,
                live_flood_secs: 2.0,
                live_election_reps: 1,
                live_election_secs: 4.0,
                flood_reps: 2,
                flood_secs: 3.0,
                // Each footprint run waits for its instances to become
                // Master first: one repetition keeps --quick under 5 min.
                footprint_reps: 1,
                footprint_secs: 1.0,
            }
        } else {
            Plan {
                quick,
                failover_reps: 7,
                handover_reps: 5,
                live_flood_reps: 3,
                live_flood_secs: 5.0,
                live_election_reps: 3,
                live_election_secs: 10.0,
                flood_reps: 4,
                flood_secs: 8.0,
                footprint_reps: 3,
                footprint_secs: 5.0,
            }
        }
    }
}

/// What every section needs.
pub struct Env {
    pub agent_bin: PathBuf,
    pub baselines_obj: PathBuf,
    pub plan: Plan,
}

/// Median and p95 (nearest rank) of `v`.
pub fn median_p95(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    let median = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (median, rank(0.95))
}

fn build(quick: bool) -> Result<Env> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--release", "--package", "vip-agent"])
        .status()
        .context("starting cargo build")?;
    if !status.success() {
        bail!("building vip-agent failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let agent_bin = target.join("release").join("vip-agent");
    if !agent_bin.is_file() {
        bail!("{} missing after the build", agent_bin.display());
    }
    let baselines =
        crate::ebpf_build::build_bin(&root, "bench_baselines", &mut |l| eprintln!("{l}"))
            .map_err(anyhow::Error::msg)?;
    Ok(Env {
        agent_bin,
        baselines_obj: baselines.object,
        plan: Plan::new(quick),
    })
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let keepalived = Command::new("/usr/sbin/keepalived")
        .arg("--version")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stderr).to_string()
                + &String::from_utf8_lossy(&o.stdout);
            text.lines().next().unwrap_or_default().to_string()
        })
        .unwrap_or_default();
    json!({
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": cpu_model,
        "keepalived": keepalived,
        "vip_agent_commit": Command::new("git").args(["rev-parse", "--short", "HEAD"])
            .current_dir(workspace_root()).output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default(),
    })
}

/// The sections in the order they run (names for `--only`, keys of
/// `bench/results.json`).
pub const SECTIONS: [&str; 7] = [
    "footprint",
    "live_flood",
    "failover",
    "handover",
    "crash_restart",
    "flood",
    "live_election",
];

/// Runs the benchmark: every section, or only those named in `only`.
/// Writes `bench/results.md` and `bench/failover.svg` again from the
/// committed `bench/results.json`, running nothing: after a change to how
/// the samples are rendered.
pub fn render() -> Result<()> {
    let dir = workspace_root().join("bench");
    let path = dir.join("results.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let results: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    write(&dir.join("results.md"), &report::markdown(&results))?;
    write(&dir.join("failover.svg"), &report::svg(&results))?;
    eprintln!("bench: wrote bench/results.md and bench/failover.svg from bench/results.json");
    Ok(())
}

pub fn run(quick: bool, only: &[String]) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the benchmark needs root (network namespaces, XDP): run it as root");
    }
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { signal::signal(sig, SigHandler::Handler(on_signal)) }?;
    }
    lab::remove_leftovers();
    let started = Instant::now();
    let env = build(quick)?;
    eprintln!("bench: agent {}", env.agent_bin.display());
    let dir = workspace_root().join("bench");
    // `--only` re-measures the named sections into the committed results.
    let mut results = match only.is_empty() {
        true => json!({}),
        false => std::fs::read_to_string(dir.join("results.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| json!({})),
    };
    results["quick"] = json!(quick);
    results["plan"] = json!(format!("{:?}", env.plan));
    results["machine"] = machine();
    if !only.is_empty() {
        results["only"] = json!(only);
    }
    let mut timed = |name: &str, f: &Section| -> Result<()> {
        let t = Instant::now();
        eprintln!("bench: {name} ...");
        let value = f(&env).with_context(|| format!("bench section {name}"))?;
        results[name] = value;
        results["seconds"][name] = json!(t.elapsed().as_secs_f64());
        eprintln!("bench: {name} done in {:.1} s", t.elapsed().as_secs_f64());
        Ok(())
    };
    let sections: [&Section; SECTIONS.len()] = [
        &footprint::run,
        &live_flood::run,
        &failover::run,
        &handover::run_handover,
        &handover::run_crash_restart,
        &flood::run,
        &live_election::run,
    ];
    for (name, f) in SECTIONS.into_iter().zip(sections) {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        timed(name, f)?;
    }
    if only.is_empty() {
        results["seconds"]["total"] = json!(started.elapsed().as_secs_f64());
    }
    std::fs::create_dir_all(&dir)?;
    write(
        &dir.join("results.json"),
        &serde_json::to_string_pretty(&results)?,
    )?;
    write(&dir.join("results.md"), &report::markdown(&results))?;
    write(&dir.join("failover.svg"), &report::svg(&results))?;
    eprintln!(
        "bench: finished in {:.0} s; wrote bench/results.{{json,md}}, bench/failover.svg",
        started.elapsed().as_secs_f64()
    );
    lab::remove_leftovers();
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
