//! `cargo xtask fuzz`: builds the libFuzzer targets of `vip-agent/fuzz` and
//! runs each for a time or a number of executions.
//!
//! No cargo-fuzz and no nightly: the machine's stable rustc instruments the
//! code for libFuzzer with stable `-C` flags (the ones cargo-fuzz passes),
//! and `libfuzzer-sys` builds libFuzzer itself with the C++ compiler.
//! AddressSanitizer (`--asan`) is a nightly flag, unlocked on stable with
//! `RUSTC_BOOTSTRAP=1`; the fuzzed code is safe Rust, so it is opt-in.
//!
//! Everything a run writes is under `target/fuzz`: the builds, the corpus each
//! target grows (`corpus/<target>`), crash reproducers (`artifacts/<target>`)
//! and libFuzzer's full output (`logs/<target>.log`). The committed seeds are
//! in `vip-agent/fuzz/seeds/<target>`; the config target also starts from
//! every `.conf` fixture of the repository.

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// The targets, in the order they run.
pub const TARGETS: &[&str] = &["vrrp_decode", "config_load", "control_request"];

/// Directories whose `.conf` files seed `config_load`.
const CONFIG_FIXTURES: &[&str] = &[
    "vip-agent/config/tests/fixtures",
    "examples/scenarios",
    "vip-agent/tests/fixtures/vrrp",
];

/// What cargo-fuzz passes: coverage counters, the PC table and comparison
/// tracing for libFuzzer, `cfg(fuzzing)`, and the checks of a debug build.
const COVERAGE_FLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg=fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
    "-Cforce-frame-pointers",
];

/// An input that takes longer than this is reported as a hang.
const HANG_SECS: u32 = 10;

pub enum Budget {
    Seconds(u64),
    Runs(u64),
}

pub struct Args {
    pub budget: Budget,
    pub target: Option<String>,
    pub asan: bool,
}

struct Outcome {
    executions: u64,
    seconds: u64,
}

pub fn run(args: Args) -> Result<()> {
    let root = workspace_root();
    let targets: Vec<&str> = match &args.target {
        Some(name) => vec![TARGETS
            .iter()
            .copied()
            .find(|t| t == name)
            .with_context(|| format!("no fuzz target {name}; there are {TARGETS:?}"))?],
        None => TARGETS.to_vec(),
    };
    let fuzz_dir = root.join("target/fuzz");
    // Separate builds: switching the sanitizer would rebuild everything.
    let build_dir = fuzz_dir.join(if args.asan { "build-asan" } else { "build" });
    let host = host_triple()?;
    build(&root, &build_dir, &host, &targets, args.asan)?;
    let bin_dir = build_dir.join(&host).join("release");

    let mut results = Vec::new();
    for target in &targets {
        let outcome = run_target(&root, &fuzz_dir, &bin_dir, target, &args.budget)?;
        results.push((*target, outcome));
    }
    println!(
        "==> fuzzing: no crash or hang{}",
        if args.asan {
            ", no memory error or leak"
        } else {
            ""
        }
    );
    for (target, outcome) in &results {
        println!(
            "{target:<16} {:>12} executions in {:>5} s ({} exec/s)",
            outcome.executions,
            outcome.seconds,
            outcome.executions / outcome.seconds.max(1)
        );
    }
    Ok(())
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV names no host")
}

fn build(root: &Path, build_dir: &Path, host: &str, targets: &[&str], asan: bool) -> Result<()> {
    let mut flags = COVERAGE_FLAGS.join(" ");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    cmd.current_dir(root)
        .args(["build", "--release", "--manifest-path"])
        .arg(root.join("vip-agent/fuzz/Cargo.toml"))
        // With an explicit target the flags apply to the fuzzed code only,
        // not to build scripts (vip-agent's builds the XDP object).
        .args(["--target", host])
        .arg("--target-dir")
        .arg(build_dir);
    for target in targets {
        cmd.args(["--bin", target]);
    }
    if asan {
        flags.push_str(" -Zsanitizer=address");
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    cmd.env("RUSTFLAGS", &flags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    println!(
        "==> building the fuzz targets (stable rustc, libFuzzer from libfuzzer-sys{})",
        if asan { ", AddressSanitizer" } else { "" }
    );
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    Ok(())
}

/// Copies the `.conf` files under `dirs` into `into` (emptied first), so
/// that libFuzzer reads those and not the fixtures' other files.
fn gather_conf_files(root: &Path, dirs: &[&str], into: &Path) -> Result<usize> {
    if into.exists() {
        fs::remove_dir_all(into).with_context(|| format!("emptying {}", into.display()))?;
    }
    fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let mut pending: Vec<PathBuf> = dirs.iter().map(|d| root.join(d)).collect();
    let mut copied = 0;
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "conf") {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let name = relative.to_string_lossy().replace('/', "_");
                fs::copy(&path, into.join(name))
                    .with_context(|| format!("copying {}", path.display()))?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}

fn run_target(
    root: &Path,
    fuzz_dir: &Path,
    bin_dir: &Path,
    target: &str,
    budget: &Budget,
) -> Result<Outcome> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let logs = fuzz_dir.join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // The first directory is the one libFuzzer adds new inputs to.
    let mut corpora = vec![corpus, root.join("vip-agent/fuzz/seeds").join(target)];
    if target == "config_load" {
        let fixtures = fuzz_dir.join("fixture-seeds").join(target);
        gather_conf_files(root, CONFIG_FIXTURES, &fixtures)?;
        corpora.push(fixtures);
    }
    let log_path = logs.join(format!("{target}.log"));
    let mut log =
        fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;

    let mut cmd = Command::new(bin_dir.join(target));
    cmd.args(&corpora)
        .arg(format!("-timeout={HANG_SECS}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1");
    match budget {
        Budget::Seconds(secs) => cmd.arg(format!("-max_total_time={secs}")),
        Budget::Runs(runs) => cmd.arg(format!("-runs={runs}")),
    };
    println!("==> fuzzing {target}: {cmd:?}");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin_dir.join(target).display()))?;
    let stderr = child.stderr.take().context("libFuzzer's stderr")?;

    let mut executions = None;
    let mut seconds = None;
    let mut reproducer = None;
    let mut tail: Vec<String> = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading libFuzzer's output")?;
        writeln!(log, "{line}").with_context(|| format!("writing {}", log_path.display()))?;
        // libFuzzer's own progress lines (every power of two executions,
        // then every few seconds), not one per new input.
        if matches!(
            line.split_whitespace().nth(1),
            Some("pulse" | "INITED" | "DONE")
        ) {
            println!("{target}: {line}");
        }
        if let Some(value) = line.strip_prefix("stat::number_of_executed_units: ") {
            executions = value.trim().parse().ok();
        }
        if let Some(value) = line.strip_prefix("stat::peak_rss_mb: ") {
            println!("{target}: peak RSS {} MB", value.trim());
        }
        if let Some(rest) = line.strip_prefix("Done ") {
            // "Done 1872393 runs in 11 second(s)"
            seconds = rest
                .split_once(" runs in ")
                .and_then(|(_, s)| s.split(' ').next())
                .and_then(|s| s.parse().ok());
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            reproducer = Some(path.trim().to_string());
        }
        tail.push(line);
        if tail.len() > 40 {
            tail.remove(0);
        }
    }
    let status = child.wait().context("waiting for libFuzzer")?;
    if !status.success() || reproducer.is_some() {
        for line in &tail {
            eprintln!("{target}: {line}");
        }
        let replay = reproducer
            .as_deref()
            .map(|path| format!("; replay it with {} {path}", bin_dir.join(target).display()))
            .unwrap_or_default();
        bail!(
            "{target} failed ({status}): reproducer {}{replay}; full output in {}",
            reproducer.as_deref().unwrap_or("(none written)"),
            log_path.display()
        );
    }
    let executions = executions.with_context(|| {
        format!(
            "{target}: libFuzzer printed no final statistics; see {}",
            log_path.display()
        )
    })?;
    Ok(Outcome {
        executions,
        seconds: seconds.unwrap_or(0),
    })
}
