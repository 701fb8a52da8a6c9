//! `cargo xtask test`: the whole check, in the order CI runs it.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{dist, ebpf_build, workspace_root};

fn step(title: &str, cmd: &mut Command) -> Result<()> {
    println!("==> {title}");
    let status = cmd
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{title}: failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// clippy for the XDP program on its own target, with the toolchain that
/// builds it (Debian's cargo-clippy must win over rustup's proxy on PATH).
fn clippy_ebpf() -> Result<()> {
    let toolchain = ebpf_build::select_toolchain().map_err(anyhow::Error::msg)?;
    let mut cmd = match toolchain {
        ebpf_build::Toolchain::Nightly => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", "nightly", "cargo", "clippy", "-Z", "build-std=core"]);
            cmd
        }
        ebpf_build::Toolchain::Debian => {
            let mut cmd = Command::new("/usr/bin/cargo");
            let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
            cmd.arg("clippy")
                .env("PATH", path)
                .env("RUSTC", "/usr/bin/rustc")
                .env("RUSTC_BOOTSTRAP", "1");
            cmd
        }
    };
    cmd.args([
        "--package",
        ebpf_build::EBPF_PACKAGE,
        "--release",
        "--locked",
    ])
    .args(["--target", ebpf_build::EBPF_TARGET])
    .arg("--target-dir")
    .arg(workspace_root().join("target/bpf-clippy"))
    .args(["--", "-D", "warnings"]);
    step("clippy (XDP program, bpfel-unknown-none)", &mut cmd)
}

pub fn run(unit_only: bool, filter: Option<&str>) -> Result<()> {
    step("rustfmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    let fuzz_manifest = workspace_root().join("vip-agent/fuzz/Cargo.toml");
    step(
        "rustfmt (fuzz targets)",
        cargo()
            .args(["fmt", "--manifest-path"])
            .arg(&fuzz_manifest)
            .args(["--", "--check"]),
    )?;
    step(
        "clippy (host crates)",
        cargo().args([
            "clippy",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "clippy (pure parts of the XDP crate, host)",
        cargo().args([
            "clippy",
            "-p",
            ebpf_build::EBPF_PACKAGE,
            "--lib",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    clippy_ebpf()?;
    // The fuzz crate is its own workspace (see vip-agent/fuzz/Cargo.toml):
    // linting it keeps the targets compiling against the code they call.
    // Running them is `cargo xtask fuzz`, too slow for here. Not --locked:
    // its lock file follows the main one, and a dependency added there
    // should not fail here.
    step(
        "clippy (fuzz targets)",
        cargo()
            .args(["clippy", "--manifest-path"])
            .arg(&fuzz_manifest)
            .args(["--bins", "--target-dir"])
            .arg(workspace_root().join("target/fuzz/clippy"))
            .args(["--", "-D", "warnings"]),
    )?;
    step(
        "unit tests",
        cargo().args(["test", "--locked", "--workspace", "--exclude", "tests"]),
    )?;
    step(
        "unit tests (pure parts of the XDP crate)",
        cargo().args(["test", "--locked", "-p", ebpf_build::EBPF_PACKAGE, "--lib"]),
    )?;
    if unit_only {
        println!("==> integration tests: not run (--unit-only)");
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the integration tests create network namespaces and need root: \
             run `sudo cargo xtask test` (or `--unit-only`)"
        );
    }
    step(
        "build vip-agent for the integration tests",
        cargo().args(["build", "--locked", "-p", "vip-agent", "--bin", "vip-agent"]),
    )?;
    let agent = workspace_root().join("target/debug/vip-agent");
    // The package test installs what `cargo xtask dist` builds; packaging the
    // debug build just built takes seconds, a release build would take minutes.
    println!("==> Debian package of that build, for the package test");
    let deb = dist::build(dist::Profile::Dev)?;
    let mut cmd = cargo();
    cmd.args(["test", "--locked", "-p", "tests", "--"])
        .args(filter)
        // Namespace tests share the machine's two cores and its timers: one at a time.
        .args(["--test-threads=1", "--nocapture"])
        .env("VIP_AGENT_BIN", agent)
        .env("VIP_AGENT_DEB", deb)
        // A failing test's error is its message: a captured backtrace of the
        // test thread pushes it out of a log's tail.
        .env("RUST_LIB_BACKTRACE", "0");
    step("integration tests (root, network namespaces)", &mut cmd)
}
