//! Reference XDP programs for `cargo xtask bench`: the cheapest possible
//! answer (swap the Ethernet addresses and bounce the frame, `XDP_TX`) and
//! the cheapest possible non-answer (`XDP_PASS`). The benchmark reports the
//! real program's cost against these floors. Not part of the product.
//!
//! Also the two ends of the live-frames flood: a generator run by
//! `BPF_PROG_TEST_RUN` in live-frames mode, whose `XDP_TX` sends an ARP
//! request for the VIP out of the generator's veth, and a counter attached
//! to that veth that counts and drops what comes back.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{
        bindings::xdp_action,
        macros::{map, xdp},
        maps::PerCpuArray,
        programs::XdpContext,
    };

    /// The generator's ARP request: who has 10.0.0.100, tell 10.0.0.9
    /// (02:00:00:00:00:09), broadcast.
    const REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x09, 0x08, 0x06, // Ethernet
        0, 1, 0x08, 0x00, 6, 4, 0, 1, // ARP, IPv4, request
        0x02, 0, 0, 0, 0, 0x09, 10, 0, 0, 9, // sender
        0, 0, 0, 0, 0, 0, 10, 0, 0, 100, // target
    ];

    /// Unicast ARP frames that came back to the generator's veth.
    #[map]
    static ARP_RETURNED: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

    /// Writes the whole request on every run: live-frames mode recycles
    /// pages with the responder's edits in them.
    #[xdp]
    pub fn bench_arp_gen(ctx: XdpContext) -> u32 {
        let start = ctx.data();
        if start + REQUEST.len() > ctx.data_end() {
            return xdp_action::XDP_ABORTED;
        }
        // SAFETY: the verifier-checked bounds above cover the request.
        unsafe { *(start as *mut [u8; 42]) = REQUEST };
        xdp_action::XDP_TX
    }

    /// Counts and drops unicast ARP frames (the answers, whoever sent
    /// them: a reply, or the floor's request with its addresses swapped);
    /// passes everything else, broadcast gratuitous ARPs and VRRP included.
    #[xdp]
    pub fn bench_count_arp(ctx: XdpContext) -> u32 {
        let start = ctx.data();
        if start + 14 > ctx.data_end() {
            return xdp_action::XDP_PASS;
        }
        // SAFETY: the verifier-checked bounds above cover the Ethernet header.
        let (group, ether_type) = unsafe {
            let b = start as *const u8;
            (*b & 1, [*b.add(12), *b.add(13)])
        };
        if group != 0 || ether_type != [0x08, 0x06] {
            return xdp_action::XDP_PASS;
        }
        if let Some(count) = ARP_RETURNED.get_ptr_mut(0) {
            // SAFETY: a per-CPU slot, written only from this CPU.
            unsafe { *count += 1 };
        }
        xdp_action::XDP_DROP
    }

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
