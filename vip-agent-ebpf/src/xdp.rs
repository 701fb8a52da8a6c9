use core::mem::size_of;

use aya_ebpf::{
    bindings::xdp_action,
    btf_maps::PerCpuHashMap,
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
    vlan::VlanHdr,
};
use vip_agent_ebpf::{
    ipv4_header_len, is_vlan_tag, ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, IPV6_HLEN, VLAN_HLEN,
};
use vip_common::{VrrpKey, VrrpStats, IPPROTO_VRRP, VRRP_STATS_MAX_ENTRIES};

#[btf_map]
static VRRP_STATS: PerCpuHashMap<VrrpKey, VrrpStats, { VRRP_STATS_MAX_ENTRIES as usize }> =
    PerCpuHashMap::new();

/// Why the program stopped looking at a frame. Each variant maps to a verdict
/// on purpose in [`vip_xdp`].
#[derive(Clone, Copy)]
enum Error {
    /// The frame ends before a header we need; the stack judges runts.
    Truncated,
    /// The IP header is not one we can walk (bad IHL); the stack drops it.
    MalformedIp,
}

#[xdp]
pub fn vip_xdp(ctx: XdpContext) -> u32 {
    match try_vip_xdp(&ctx) {
        Ok(action) => action,
        Err(Error::Truncated) | Err(Error::MalformedIp) => xdp_action::XDP_PASS,
    }
}

/// Pointer to a `T` at `offset` bytes into the frame, after checking that the
/// whole `T` lies before `data_end`.
///
/// # Safety
/// The returned pointer is in bounds of the packet buffer (the verifier sees
/// the same comparison), but `T` must be a plain byte-layout header type
/// (alignment 1 or read unaligned) for dereferencing it to be sound.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*const T, Error> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + size_of::<T>() > end {
        return Err(Error::Truncated);
    }
    Ok((start + offset) as *const T)
}

#[inline(always)]
fn try_vip_xdp(ctx: &XdpContext) -> Result<u32, Error> {
    let eth: *const EthHdr = ptr_at(ctx, 0)?;
    // SAFETY: in bounds (ptr_at); EthHdr read unaligned.
    let mut ether_type = u16::from_be(unsafe { core::ptr::read_unaligned(eth) }.ether_type);
    let mut l3 = ETH_HLEN;
    if is_vlan_tag(ether_type) {
        let vlan: *const VlanHdr = ptr_at(ctx, l3)?;
        // SAFETY: in bounds (ptr_at).
        ether_type = u16::from_be(unsafe { core::ptr::read_unaligned(vlan) }.ether_type);
        l3 += VLAN_HLEN;
    }

    let (family, l4) = match ether_type {
        ETH_P_IPV4 => {
            let ip: *const Ipv4Hdr = ptr_at(ctx, l3)?;
            // SAFETY: in bounds (ptr_at).
            let ip = unsafe { core::ptr::read_unaligned(ip) };
            if ip.proto != IPPROTO_VRRP {
                return Ok(xdp_action::XDP_PASS);
            }
            let hlen = ipv4_header_len(ip.vihl).ok_or(Error::MalformedIp)?;
            (4u8, l3 + hlen)
        }
        ETH_P_IPV6 => {
            let ip: *const Ipv6Hdr = ptr_at(ctx, l3)?;
            // SAFETY: in bounds (ptr_at).
            if unsafe { (*ip).next_hdr } != IPPROTO_VRRP {
                return Ok(xdp_action::XDP_PASS);
            }
            (6u8, l3 + IPV6_HLEN)
        }
        _ => return Ok(xdp_action::XDP_PASS),
    };

    // Version/type byte and VRID: the first two bytes of every VRRP version.
    let head: *const [u8; 2] = ptr_at(ctx, l4)?;
    // SAFETY: in bounds (ptr_at).
    let vrid = unsafe { (*head)[1] };
    let key = VrrpKey::new(ctx.ingress_ifindex() as u32, vrid, family);
    count_frame(&key);
    Ok(xdp_action::XDP_PASS)
}

#[inline(always)]
fn count_frame(key: &VrrpKey) {
    if let Some(stats) = VRRP_STATS.get_ptr_mut(key) {
        // SAFETY: per-CPU slot, only this CPU writes it while we run.
        unsafe { (*stats).frames += 1 };
        return;
    }
    // First frame for this key on this CPU: other CPUs' slots start zeroed.
    let _ = VRRP_STATS.insert(key, VrrpStats { frames: 1 }, 0);
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
