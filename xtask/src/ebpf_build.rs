//! The same builder vip-agent's build script uses: one implementation.
#[path = "../../vip-agent/build/ebpf.rs"]
mod shared;
pub use shared::*;
