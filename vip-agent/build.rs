//! Builds the XDP object on every build of vip-agent (cargo's own freshness
//! check makes an unchanged object a no-op), so the binary never embeds a
//! stale program. Without a BPF toolchain the build fails and says how to
//! install one.

#[path = "build/ebpf.rs"]
mod ebpf;

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace_root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in ["vip-agent-ebpf", "vip-common", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(watched).display()
        );
    }
    println!("cargo:rerun-if-changed=build/ebpf.rs");
    println!("cargo:rerun-if-env-changed=VIP_AGENT_EBPF_TOOLCHAIN");

    match ebpf::build(&workspace_root, &mut |line| eprintln!("{line}")) {
        Ok(built) => {
            println!(
                "cargo:rustc-env=VIP_AGENT_EBPF_OBJECT={}",
                built.object.display()
            );
            println!("cargo:rerun-if-changed={}", built.object.display());
        }
        Err(message) => {
            // cargo prints build-script stderr on failure.
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    }
}
