//! Reference XDP programs for `cargo xtask bench`: the cheapest possible
//! answer (swap the Ethernet addresses and bounce the frame, `XDP_TX`) and
//! the cheapest possible non-answer (`XDP_PASS`). The benchmark reports the
//! real program's cost against these floors. Not part of the product.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

    /// Swaps destination and source MAC, returns `XDP_TX`.
    #[xdp]
    pub fn bench_tx_floor(ctx: XdpContext) -> u32 {
        let start = ctx.data();
        if start + 12 > ctx.data_end() {
            return xdp_action::XDP_PASS;
        }
        let eth = start as *mut [u8; 6];
        // SAFETY: the verifier-checked bounds above cover both addresses.
        unsafe {
            let dst = *eth;
            let src = *eth.add(1);
            *eth = src;
            *eth.add(1) = dst;
        }
        xdp_action::XDP_TX
    }

    /// Returns `XDP_PASS` without looking at the frame.
    #[xdp]
    pub fn bench_pass(_ctx: XdpContext) -> u32 {
        xdp_action::XDP_PASS
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        loop {}
    }

    #[unsafe(link_section = "license")]
    #[unsafe(no_mangle)]
    static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
}

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("bench_baselines is an XDP object for `cargo xtask bench`");
    std::process::exit(1);
}
