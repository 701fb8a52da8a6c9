//! Advertisements encoded by vip-agent, dissected by tshark's VRRP dissector:
//! the checksum must be "Good" and the fields what we meant to send.
//!
//! Needs `tshark` (Wireshark 4.x). As root (the CI and lab runs) a missing
//! tshark fails the test; otherwise it is skipped with a message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;

use frames::{ethernet, ipv4_packet, ipv6_packet, multicast_mac, virtual_mac, write_pcap};
use vip_agent::vrrp::packet::{IPPROTO_VRRP, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6};
use vip_agent::vrrp::{Advertisement, Auth, ChecksumMode, Version};

// The workspace's one set of frame builders, shared with the `tests` crate
// (which this crate cannot depend on); each test binary uses part of it.
#[path = "../../tests/src/frames.rs"]
#[allow(dead_code)]
mod frames;

fn frame(advert: &Advertisement, src: IpAddr, mode: ChecksumMode) -> Vec<u8> {
    let ipv6 = src.is_ipv6();
    let dst: IpAddr = if ipv6 {
        VRRP_MULTICAST_V6.into()
    } else {
        VRRP_MULTICAST_V4.into()
    };
    let payload = advert.encode(src, dst, mode).unwrap();
    let (ether_type, packet) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (
            0x0800,
            ipv4_packet(s.octets(), d.octets(), IPPROTO_VRRP, 255, &[], &payload),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => (
            0x86DD,
            ipv6_packet(s.octets(), d.octets(), IPPROTO_VRRP, 255, &[], &payload),
        ),
        _ => unreachable!(),
    };
    let src_mac = virtual_mac(advert.vrid, ipv6);
    let mut frame = ethernet(multicast_mac(dst), src_mac, None, ether_type);
    frame.extend_from_slice(&packet);
    frame
}

/// Runs `tshark -V` on the frames; returns the text of each frame.
fn dissect(name: &str, frames: &[Vec<u8>], prefs: &[&str]) -> Option<Vec<String>> {
    let path: PathBuf =
        std::env::temp_dir().join(format!("vip-agent-{name}-{}.pcap", std::process::id()));
    write_pcap(&path, frames).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-V").arg("-r").arg(&path);
    for pref in prefs {
        cmd.arg("-o").arg(pref);
    }
    let output = match cmd.output() {
        Ok(output) => output,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                panic!("tshark is required when running as root (install tshark): {e}");
            }
            eprintln!("skipping: tshark not runnable ({e}) and not root");
            return None;
        }
    };
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let per_frame: Vec<String> = text
        .split("\nFrame ")
        .map(|s| s.to_string())
        .filter(|s| s.contains("Virtual Router Redundancy Protocol"))
        .collect();
    assert_eq!(per_frame.len(), frames.len(), "tshark output:\n{text}");
    Some(per_frame)
}

fn assert_lines(frame_text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            frame_text.lines().any(|l| l.trim() == *line),
            "tshark did not print {line:?} in:\n{frame_text}"
        );
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn tshark_accepts_our_adverts_with_good_checksums_and_expected_fields() {
    let v2_plain = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::None,
        },
        vrid: 50,
        priority: 100,
        addresses: vec![ip("192.168.200.11")],
    };
    let v2_pass = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::simple_text("mypassword"),
        },
        vrid: 51,
        priority: 90,
        addresses: vec![ip("10.0.0.70")],
    };
    let v3_v4 = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 1,
        },
        vrid: 150,
        priority: 0,
        addresses: vec![ip("192.168.1.13"), ip("192.168.1.14")],
    };
    let v3_v6 = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 4095,
        },
        vrid: 13,
        priority: 255,
        addresses: vec![ip("fe80::13"), ip("2001:db8::13")],
    };
    let src4 = IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2));
    let src6 = IpAddr::V6("fe80::2".parse::<Ipv6Addr>().unwrap());
    let frames = vec![
        frame(&v2_plain, src4, ChecksumMode::Standard),
        frame(&v2_pass, src4, ChecksumMode::Standard),
        frame(&v3_v4, src4, ChecksumMode::Standard),
        frame(&v3_v6, src6, ChecksumMode::Standard),
    ];
    let Some(text) = dissect("adverts", &frames, &[]) else {
        return;
    };
    assert_lines(
        &text[0],
        &[
            "Version 2, Packet type 1 (Advertisement)",
            "Virtual Rtr ID: 50",
            "Priority: 100 (Default priority for a backup VRRP router)",
            "Addr Count: 1",
            "Auth Type: No Authentication (0)",
            "Adver Int: 1",
            "[Checksum Status: Good]",
            "IP Address: 192.168.200.11",
        ],
    );
    assert_lines(
        &text[1],
        &[
            "Version 2, Packet type 1 (Advertisement)",
            "Virtual Rtr ID: 51",
            "Authentication String: mypasswo",
            "[Checksum Status: Good]",
            "IP Address: 10.0.0.70",
        ],
    );
    assert_lines(
        &text[2],
        &[
            "Version 3, Packet type 1 (Advertisement)",
            "Virtual Rtr ID: 150",
            "Priority: 0 (Current Master has stopped participating in VRRP)",
            "Addr Count: 2",
            ".... 0000 0000 0001 = Adver Int: 1",
            "[Checksum Status: Good]",
            "IP Address: 192.168.1.13",
            "IP Address: 192.168.1.14",
        ],
    );
    assert_lines(
        &text[3],
        &[
            "Version 3, Packet type 1 (Advertisement)",
            "Virtual Rtr ID: 13",
            ".... 1111 1111 1111 = Adver Int: 4095",
            "[Checksum Status: Good]",
            "IPv6 Address: fe80::13",
            "IPv6 Address: 2001:db8::13",
        ],
    );
    for t in &text[..3] {
        assert_lines(t, &["Time to Live: 255"]);
    }
    assert_lines(&text[3], &["Hop Limit: 255"]);
}

#[test]
fn tshark_checks_v3_ipv4_without_pseudo_header_only_in_that_mode() {
    let advert = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 100,
        },
        vrid: 7,
        priority: 100,
        addresses: vec![ip("10.0.0.70")],
    };
    let frames = vec![frame(&advert, ip("10.0.0.60"), ChecksumMode::V3AsV2)];
    // Wireshark's own switch for the same keepalived compatibility mode.
    let Some(compat) = dissect("compat", &frames, &["vrrp.v3_checksum_as_in_v2:TRUE"]) else {
        return;
    };
    assert_lines(&compat[0], &["[Checksum Status: Good]"]);
    // Negative control: read as RFC 5798 says, the same bytes are bad, so
    // the "Good" above is not tshark ignoring checksums.
    let Some(rfc) = dissect("rfc", &frames, &[]) else {
        return;
    };
    assert_lines(&rfc[0], &["[Checksum Status: Bad]"]);
}
