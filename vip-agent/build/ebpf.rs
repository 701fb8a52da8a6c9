//! Builds the XDP object. One implementation, included by vip-agent's build
//! script (so `cargo build -p vip-agent` always embeds a fresh object) and by
//! `cargo xtask build-ebpf` (so operators can build and inspect it alone).
//!
//! Two toolchains can build `bpfel-unknown-none`:
//! - a rustup nightly that has the `rust-src` component (`-Z build-std=core`);
//! - Debian's `rustc-web` 1.96 with `libstd-rust-web-dev-bpf`, which ships a
//!   prebuilt `core` for the BPF targets (`RUSTC_BOOTSTRAP=1` unlocks the
//!   nightly features aya-ebpf uses).
//!
//! The nightly is preferred when it is complete; `VIP_AGENT_EBPF_TOOLCHAIN=debian|nightly`
//! forces one. Either way the object is linked by `bpf-linker` with BTF.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::Command,
};

pub const EBPF_TARGET: &str = "bpfel-unknown-none";
pub const EBPF_PACKAGE: &str = "vip-agent-ebpf";

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_BPF_CORE: &str = "/usr/lib/rustlib/bpfel-unknown-none";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup nightly with rust-src, building `core` from source.
    Nightly,
    /// Debian's rustc-web with the prebuilt BPF `core`.
    Debian,
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Toolchain::Nightly => write!(f, "rustup nightly with rust-src (-Z build-std=core)"),
            Toolchain::Debian => write!(
                f,
                "Debian rustc-web ({DEBIAN_RUSTC}, prebuilt core in {DEBIAN_BPF_CORE}, RUSTC_BOOTSTRAP=1)"
            ),
        }
    }
}

#[allow(dead_code)] // the build script only needs the object path
pub struct Built {
    pub toolchain: Toolchain,
    pub object: PathBuf,
}

fn nightly_has_rust_src() -> bool {
    let Ok(out) = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
    else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .exists()
}

fn debian_toolchain_present() -> bool {
    Path::new(DEBIAN_RUSTC).exists()
        && Path::new(DEBIAN_CARGO).exists()
        && Path::new(DEBIAN_BPF_CORE).join("lib").exists()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Picks the toolchain, or says what is missing and how to get it.
pub fn select_toolchain() -> Result<Toolchain, String> {
    let forced = std::env::var("VIP_AGENT_EBPF_TOOLCHAIN").ok();
    let toolchain = match forced.as_deref() {
        Some("nightly") => Toolchain::Nightly,
        Some("debian") => Toolchain::Debian,
        Some(other) => {
            return Err(format!(
                "VIP_AGENT_EBPF_TOOLCHAIN={other}: expected `nightly` or `debian`"
            ))
        }
        None if nightly_has_rust_src() => Toolchain::Nightly,
        None if debian_toolchain_present() => Toolchain::Debian,
        None => {
            return Err(format!(
                "no toolchain can build the XDP program for {EBPF_TARGET}: neither a rustup \
                 nightly with rust-src nor Debian's rustc-web with libstd-rust-web-dev-bpf is \
                 installed. Run `cargo xtask setup` (as root), then `cargo xtask build-ebpf`."
            ))
        }
    };
    if !on_path("bpf-linker") {
        return Err(
            "bpf-linker is not on PATH (expected in ~/.cargo/bin). Run `cargo xtask setup`."
                .to_string(),
        );
    }
    Ok(toolchain)
}

/// Builds the XDP object (always the release profile: the verifier needs
/// optimised code) into `<workspace>/target/bpf`, returning its path.
/// `log` receives the toolchain line before the build starts.
pub fn build(workspace_root: &Path, log: &mut dyn FnMut(&str)) -> Result<Built, String> {
    build_bin(workspace_root, EBPF_PACKAGE, log)
}

/// Like [`build`], for another binary target of the XDP crate (e.g. the
/// benchmark's reference programs).
pub fn build_bin(
    workspace_root: &Path,
    bin: &str,
    log: &mut dyn FnMut(&str),
) -> Result<Built, String> {
    let toolchain = select_toolchain()?;
    log(&format!("building the XDP program {bin} with {toolchain}"));
    let target_dir = workspace_root.join("target").join("bpf");
    let mut cmd = match toolchain {
        Toolchain::Nightly => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", "nightly", "cargo", "build", "-Z", "build-std=core"]);
            cmd
        }
        Toolchain::Debian => {
            let mut cmd = Command::new(DEBIAN_CARGO);
            cmd.arg("build")
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1");
            cmd
        }
    };
    // The caller may be a cargo build script or clippy: none of its compiler
    // settings apply to the BPF target.
    for var in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        if !(var == "RUSTC" && toolchain == Toolchain::Debian) {
            cmd.env_remove(var);
        }
    }
    cmd.current_dir(workspace_root.join(EBPF_PACKAGE))
        .args(["--package", EBPF_PACKAGE, "--bin", bin])
        .args(["--release", "--locked", "--target", EBPF_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // BTF for the maps comes from DWARF; bpf-linker turns it into .BTF.
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            ["-Cdebuginfo=2", "-Clink-arg=--btf"].join("\x1f"),
        );
    let status = cmd
        .status()
        .map_err(|e| format!("could not start the eBPF build ({toolchain}): {e}"))?;
    if !status.success() {
        return Err(format!(
            "the eBPF build failed ({status}) with {toolchain}; see the compiler output above"
        ));
    }
    let object = target_dir.join(EBPF_TARGET).join("release").join(bin);
    if !object.is_file() {
        return Err(format!(
            "the eBPF build succeeded but {} is missing",
            object.display()
        ));
    }
    Ok(Built { toolchain, object })
}
