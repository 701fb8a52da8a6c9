//! Which XDP attach mode to use on an interface.

/// `--xdp-mode`: what the operator asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpModeChoice {
    /// Native where replies really leave the interface, skb otherwise.
    Auto,
    /// Driver (native) mode; fails if the driver lacks XDP support.
    Native,
    /// Generic (skb) mode: works on every interface, slower.
    Skb,
    /// No XDP: the kernel answers ARP/NS and VRRP goes unvalidated to the socket.
    Off,
}

/// The mode to try first, and why it differs from what was asked, if it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedMode {
    pub mode: XdpModeChoice,
    pub note: Option<String>,
}

/// The kernel driver behind `interface` (`veth`, `virtio_net`, `bridge`, ...),
/// as `ethtool -i` reports it, or `None` if the ioctl fails.
pub fn driver_name(interface: &str) -> Option<String> {
    const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;
    #[repr(C)]
    struct EthtoolDrvinfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }
    let name = interface.as_bytes();
    if name.len() >= libc::IFNAMSIZ {
        return None;
    }
    // SAFETY: all-zero is a valid value of both plain C structs.
    let mut info: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    // SAFETY: as above.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut info as *mut EthtoolDrvinfo).cast();
    // SAFETY: plain socket call; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: ifr points at a live ethtool_drvinfo for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut ifr) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return None;
    }
    let len = info.driver.iter().position(|&b| b == 0).unwrap_or(32);
    Some(String::from_utf8_lossy(&info.driver[..len]).into_owned())
}

/// Resolves `auto`: native XDP_TX on a veth is silently lost unless the peer
/// also runs an XDP program, so replies would never leave; on veth, auto
/// means skb. Elsewhere auto tries native first (and the caller falls back to
/// skb if the driver refuses).
pub fn resolve_xdp_mode(interface: &str, choice: XdpModeChoice) -> ResolvedMode {
    match choice {
        XdpModeChoice::Auto if driver_name(interface).as_deref() == Some("veth") => ResolvedMode {
            mode: XdpModeChoice::Skb,
            note: Some(
                "veth interface: native XDP_TX replies are lost unless the peer runs XDP; \
                 using skb (generic) mode"
                    .to_string(),
            ),
        },
        XdpModeChoice::Auto => ResolvedMode {
            mode: XdpModeChoice::Native,
            note: None,
        },
        other => ResolvedMode {
            mode: other,
            note: None,
        },
    }
}
