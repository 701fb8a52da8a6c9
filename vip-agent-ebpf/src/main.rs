//! vip-agent's XDP program. The kernel side lives in `xdp.rs` and only exists
//! for the BPF target; on the host this binary is a stub that says how to
//! build it.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod xdp;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("vip-agent-ebpf is an XDP program: build it with `cargo xtask build-ebpf`");
    std::process::exit(1);
}
