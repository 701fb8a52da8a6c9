//! `cargo xtask setup`: installs what is missing, one line per item.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Debian packages the build, the tests, the lab and the benchmarks use.
const PACKAGES: &[&str] = &[
    // Debian's rustc 1.96 with a prebuilt `core` for the BPF targets.
    "rustc-web",
    "cargo-web",
    "rust-web-clippy",
    "libstd-rust-web-dev-bpf",
    // bpf-linker links against LLVM 22, the LLVM of that rustc.
    "llvm-22-dev",
    "libpolly-22-dev",
    "bpftool",
    "iproute2",
    "iputils-ping",
    "arping",
    "tshark",
    "tcpdump",
    "keepalived",
    // cargo xtask bench: GRO on a veth gives it the NAPI that frames
    // redirected from the live-frames generator need.
    "ethtool",
    // setpriv: the systemd tests run the agent with the unit's capabilities.
    "util-linux",
    // promtool, which lints the agent's `--metrics-listen` scrapes in the tests.
    "prometheus",
    // cargo xtask dist: dpkg-shlibdeps (Depends) and strip (binutils).
    "dpkg-dev",
    // The package test reads the installed man pages.
    "man-db",
    // systemd-analyze verifies the unit.
    "systemd",
    // libfuzzer-sys compiles libFuzzer (cargo xtask fuzz, and the fuzz
    // crate's clippy step of cargo xtask test).
    "g++",
    // The container tests: podman builds and runs the image of
    // vip-agent/dist/container (with runc: Debian 12's crun refuses hybrid
    // cgroup hosts) on a Debian base made with debootstrap.
    "podman",
    "runc",
    "debootstrap",
];

const BPF_LINKER_VERSION: &str = "0.13.0";
const BPF_FS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0xCAFE_4A11);

fn package_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn exec(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn install_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            let present = package_installed(p);
            if present {
                println!("found      package {p}");
            }
            !present
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing packages {}: run `sudo cargo xtask setup`",
            missing.join(" ")
        );
    }
    exec(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    for p in missing {
        println!("installed  package {p}");
    }
    Ok(())
}

fn bpf_linker_version() -> Option<String> {
    let out = Command::new("bpf-linker").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn install_bpf_linker() -> Result<()> {
    if let Some(version) = bpf_linker_version() {
        if version.contains(BPF_LINKER_VERSION) {
            println!("found      {version}");
            return Ok(());
        }
    }
    // Linked against LLVM 22 (the LLVM of Debian's rustc 1.96): llvm-22's bin
    // directory must come first or the build picks an older llvm-config.
    let path = format!(
        "/usr/lib/llvm-22/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    exec(
        Command::new("cargo")
            .args(["install", "bpf-linker", "--version"])
            .arg(BPF_LINKER_VERSION)
            .args(["--no-default-features", "--features", "llvm-22"])
            .env("PATH", path)
            .env("LLVM_SYS_221_PREFIX", "/usr/lib/llvm-22"),
    )?;
    println!("installed  bpf-linker {BPF_LINKER_VERSION} (LLVM 22)");
    Ok(())
}

fn mount_bpffs() -> Result<()> {
    let mounted = nix::sys::statfs::statfs("/sys/fs/bpf")
        .map(|fs| fs.filesystem_type() == BPF_FS_MAGIC)
        .unwrap_or(false);
    if mounted {
        println!("found      bpffs on /sys/fs/bpf");
        return Ok(());
    }
    if !is_root() {
        bail!("bpffs is not mounted on /sys/fs/bpf: run `sudo cargo xtask setup`");
    }
    exec(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]))?;
    println!("mounted    bpffs on /sys/fs/bpf");
    Ok(())
}

pub fn run() -> Result<()> {
    install_packages()?;
    install_bpf_linker()?;
    mount_bpffs()?;
    let toolchain = crate::ebpf_build::select_toolchain().map_err(anyhow::Error::msg)?;
    println!("eBPF toolchain: {toolchain}");
    Ok(())
}
