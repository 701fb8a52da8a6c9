//! The contract between the XDP program and the daemon: map names, keys and
//! values. Every type is `#[repr(C)]` with explicit padding so that both
//! sides, and `bpftool` reading the BTF, agree byte for byte.
#![no_std]

/// IP protocol number of VRRP (IPv4 protocol / IPv6 next header).
pub const IPPROTO_VRRP: u8 = 112;

/// Name of the per-CPU hash map of VRRP counters, keyed by [`VrrpKey`].
/// It is also the file name of its pin under the agent's bpffs directory.
pub const MAP_VRRP_STATS: &str = "VRRP_STATS";

/// Capacity of [`MAP_VRRP_STATS`]: 255 VRIDs on a handful of interfaces.
pub const VRRP_STATS_MAX_ENTRIES: u32 = 4096;

/// Name of the XDP program inside the object.
pub const PROGRAM_NAME: &str = "vip_xdp";

/// Key of the VRRP counters: one entry per interface and virtual router.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VrrpKey {
    /// Interface index the frame arrived on.
    pub ifindex: u32,
    /// Virtual router id (1..=255) read from the VRRP header.
    pub vrid: u8,
    /// Address family of the carrying IP header: 4 or 6.
    pub family: u8,
    pub _pad: [u8; 2],
}

impl VrrpKey {
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        }
    }
}

/// Per-CPU VRRP counters. Userspace sums the CPUs' copies.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpStats {
    /// VRRP frames seen (IPv4 protocol / IPv6 next header 112 with a
    /// readable VRRP version/type byte and VRID).
    pub frames: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, `#[repr(C)]`, no implicit padding (asserted by
    // the layout tests below), every bit pattern is valid.
    unsafe impl aya::Pod for super::VrrpKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::VrrpStats {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn vrrp_key_layout_has_no_implicit_padding() {
        assert_eq!(size_of::<VrrpKey>(), 8);
        assert_eq!(align_of::<VrrpKey>(), 4);
        assert_eq!(offset_of!(VrrpKey, ifindex), 0);
        assert_eq!(offset_of!(VrrpKey, vrid), 4);
        assert_eq!(offset_of!(VrrpKey, family), 5);
        assert_eq!(offset_of!(VrrpKey, _pad), 6);
    }

    #[test]
    fn vrrp_stats_layout() {
        assert_eq!(size_of::<VrrpStats>(), 8);
        assert_eq!(offset_of!(VrrpStats, frames), 0);
    }
}
