//! The XDP program run through `BPF_PROG_TEST_RUN` on frames built byte by
//! byte: every verdict, every drop reason, the bytes of every reply (decoded
//! independently by tshark) and the counter each outcome moves.
//!
//! Without a context, test runs see the loopback device of the caller's
//! network namespace as the ingress interface (ifindex 1); the runs happen on
//! a thread inside a fresh namespace, and map entries are keyed with it.

use std::{net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use aya::programs::{TestRun, TestRunOptions};
use serde_json::Value;
use tests::{frames::*, wait_for, Lab};
use vip_agent::dataplane::{Dataplane, Family, VrrpPolicy};
use vip_common::{MAX_PEERS, PEER_TTL_ANY};

const IF: u32 = 1;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

const OWNER_MAC: [u8; 6] = [0x00, 0x00, 0x5E, 0x00, 0x01, 0x07];
const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const VIP4: [u8; 4] = [10, 0, 0, 100];
const CLIENT4: [u8; 4] = [10, 0, 0, 2];
const VIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
const CLIENT6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];
const PASSWORD: [u8; 8] = *b"secret\0\0";
const VRRP_MCAST4: [u8; 4] = [224, 0, 0, 18];
const VRRP_MCAST6: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
const LINK_LOCAL6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];

/// Loads the program on a thread inside a fresh namespace and runs `f`.
fn with_dataplane<T: Send + 'static>(
    f: impl FnOnce(&mut Dataplane) -> Result<T> + Send + 'static,
) -> Result<T> {
    let mut lab = Lab::new()?;
    let node = lab.add_node("dut", "eth0", &["10.0.0.1/24"])?;
    let dir = lab.bpffs_dir("dut");
    lab.node(node).ns.in_thread(move || {
        let mut dp = Dataplane::load(&dir).context("loading the XDP program")?;
        let result = f(&mut dp);
        dp.shutdown()?;
        result
    })
}

/// One test run: the verdict and the frame as the program left it.
fn run(dp: &mut Dataplane, frame: &[u8]) -> Result<(u32, Vec<u8>)> {
    let mut out = vec![0u8; 4096];
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    opts.data_out = Some(&mut out);
    let result = dp.program()?.test_run(opts)?;
    out.truncate(result.data_size_out as usize);
    Ok((result.return_value, out))
}

fn counters_json(dp: &Dataplane) -> Result<Value> {
    Ok(serde_json::to_value(dp.counters()?)?)
}

/// Numeric fields of the VRRP counters of (IF, vrid, family), zero if absent.
fn vrrp_fields(c: &Value, vrid: u8, family: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for e in c["vrrp"].as_array().into_iter().flatten() {
        if e["ifindex"] == IF && e["vrid"] == vrid && e["family"] == family {
            for (k, v) in e.as_object().unwrap() {
                if let (Some(n), false) = (
                    v.as_u64(),
                    matches!(k.as_str(), "ifindex" | "vrid" | "last_seen_ns"),
                ) {
                    out.insert(k.clone(), n);
                }
            }
        }
    }
    out
}

fn l2_fields(c: &Value) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for e in c["l2"].as_array().into_iter().flatten() {
        if e["ifindex"] == IF {
            for (k, v) in e.as_object().unwrap() {
                if k != "ifindex" {
                    out.insert(k.clone(), v.as_u64().unwrap_or(0));
                }
            }
        }
    }
    out
}

/// Fields that grew between two snapshots, with the growth.
fn delta(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d != 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn map(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Recomputes the IPv4 header checksum of an untagged frame after a header
/// field was changed.
fn fix_ipv4_checksum(frame: &mut [u8]) {
    let hlen = usize::from(frame[14] & 0x0F) * 4;
    frame[24..26].fill(0);
    let c = internet_checksum(&[&frame[14..14 + hlen]]);
    frame[24..26].copy_from_slice(&c);
}

fn key16(a: [u8; 4]) -> Vec<u8> {
    a.to_vec()
}

// ------------------------------------------------------------------- ARP

#[test]
fn xdp_arp_for_a_held_vip_becomes_a_reply_checked_by_tshark() -> Result<()> {
    with_dataplane(|dp| {
        dp.set_owned(IF, IpAddr::from(VIP4), OWNER_MAC, 7, true)?;
        dp.set_fence_bound(Duration::from_secs(3600))?;
        dp.heartbeat()?;
        let mut replies = Vec::new();
        for vlan in [None, Some(42)] {
            let before = l2_fields(&counters_json(dp)?);
            let request = arp_request(CLIENT_MAC, vlan, CLIENT4, VIP4);
            let (action, out) = run(dp, &request)?;
            assert_eq!(action, XDP_TX, "vlan {vlan:?}");
            let mut expected = ethernet(CLIENT_MAC, OWNER_MAC, vlan, 0x0806);
            expected.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
            expected.extend_from_slice(&OWNER_MAC);
            expected.extend_from_slice(&VIP4);
            expected.extend_from_slice(&CLIENT_MAC);
            expected.extend_from_slice(&CLIENT4);
            assert_eq!(out, expected, "reply bytes, vlan {vlan:?}");
            let after = l2_fields(&counters_json(dp)?);
            assert_eq!(
                delta(&before, &after),
                map(&[("arp_requests_seen", 1), ("arp_replies_sent", 1)])
            );
            replies.push(out);
        }
        let text = tshark_decode(&replies)?;
        println!("{text}");
        assert_eq!(text.matches("Opcode: reply (2)").count(), 2, "{text}");
        assert_eq!(
            text.matches("Sender MAC address: IETF-VRRP-VRID_07 (00:00:5e:00:01:07)")
                .count(),
            2,
            "{text}"
        );
        assert_eq!(
            text.matches("Sender IP address: 10.0.0.100").count(),
            2,
            "{text}"
        );
        assert_eq!(
            text.matches("Target MAC address: 02:00:00:00:00:02 (02:00:00:00:00:02)")
                .count(),
            2,
            "{text}"
        );
        assert_eq!(
            text.matches("Target IP address: 10.0.0.2").count(),
            2,
            "{text}"
        );
        assert!(text.contains("ID: 42"), "{text}");
        Ok(())
    })
}

#[test]
fn xdp_arp_not_for_us_passes_untouched() -> Result<()> {
    with_dataplane(|dp| {
        dp.set_owned(IF, IpAddr::from(VIP4), OWNER_MAC, 7, true)?;
        dp.set_owned(IF, IpAddr::from([10, 0, 0, 101]), OWNER_MAC, 7, true)?;
        dp.clear_owned(IF, IpAddr::from([10, 0, 0, 101]))?;
        dp.set_fence_bound(Duration::from_secs(3600))?;
        dp.heartbeat()?;
        let mut reply = arp_request(CLIENT_MAC, None, CLIENT4, VIP4);
        reply[21] = 2;
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "other target",
                arp_request(CLIENT_MAC, None, CLIENT4, [10, 0, 0, 1]),
                "arp_passed",
            ),
            (
                "cleared VIP",
                arp_request(CLIENT_MAC, None, CLIENT4, [10, 0, 0, 101]),
                "arp_passed",
            ),
            (
                "gratuitous",
                arp_request(CLIENT_MAC, None, VIP4, VIP4),
                "arp_passed",
            ),
            (
                "gratuitous, vlan",
                arp_request(CLIENT_MAC, Some(5), VIP4, VIP4),
                "arp_passed",
            ),
            ("an ARP reply", reply, "arp_other"),
        ];
        for (what, frame, counter) in cases {
            let before = l2_fields(&counters_json(dp)?);
            let (action, out) = run(dp, &frame)?;
            assert_eq!(action, XDP_PASS, "{what}");
            assert_eq!(out, frame, "{what}: frame untouched");
            let d = delta(&before, &l2_fields(&counters_json(dp)?));
            let mut expected = map(&[(counter, 1)]);
            if counter == "arp_passed" {
                expected.insert("arp_requests_seen".into(), 1);
            }
            assert_eq!(d, expected, "{what}");
        }
        Ok(())
    })
}

#[test]
fn xdp_stale_heartbeat_fences_arp_and_ns_answers() -> Result<()> {
    with_dataplane(|dp| {
        dp.set_owned(IF, IpAddr::from(VIP4), OWNER_MAC, 7, true)?;
        dp.set_owned(IF, IpAddr::from(VIP6), OWNER_MAC, 7, true)?;
        let arp = arp_request(CLIENT_MAC, None, CLIENT4, VIP4);
        let ns = neighbour_solicitation(CLIENT_MAC, None, CLIENT6, VIP6, true);

        // Never heartbeaten: fenced, and dropped, so that not even the
        // kernel (which still has the VIP) answers.
        let before = l2_fields(&counters_json(dp)?);
        assert_eq!(run(dp, &arp)?.0, XDP_DROP);
        assert_eq!(run(dp, &ns)?.0, XDP_DROP);
        let d = delta(&before, &l2_fields(&counters_json(dp)?));
        assert_eq!(
            d,
            map(&[
                ("arp_requests_seen", 1),
                ("arp_fenced", 1),
                ("ns_seen", 1),
                ("ns_fenced", 1)
            ])
        );

        // Fresh heartbeat: answered.
        dp.set_fence_bound(Duration::from_millis(300))?;
        dp.heartbeat()?;
        assert_eq!(run(dp, &arp)?.0, XDP_TX);
        assert_eq!(run(dp, &ns)?.0, XDP_TX);

        // The bound passes without a heartbeat: fenced again.
        wait_for("answers to stop", Duration::from_secs(10), || {
            (run(dp, &arp).ok()?.0 == XDP_DROP).then_some(())
        })?;
        assert_eq!(run(dp, &ns)?.0, XDP_DROP);

        // Heartbeat again: answers come back.
        dp.heartbeat()?;
        dp.set_fence_bound(Duration::from_secs(3600))?;
        assert_eq!(run(dp, &arp)?.0, XDP_TX);
        assert_eq!(run(dp, &ns)?.0, XDP_TX);
        Ok(())
    })
}

// ------------------------------------------------------------------- NDP

#[test]
fn xdp_ns_for_a_held_vip_becomes_an_na_checked_by_tshark() -> Result<()> {
    with_dataplane(|dp| {
        dp.set_owned(IF, IpAddr::from(VIP6), OWNER_MAC, 7, true)?;
        dp.set_fence_bound(Duration::from_secs(3600))?;
        dp.heartbeat()?;
        let mut answers = Vec::new();
        let cases = [
            ("with SLLAO", None, CLIENT6, true),
            ("without SLLAO", None, CLIENT6, false),
            ("vlan, without SLLAO", Some(42), LINK_LOCAL6, false),
            ("DAD from ::", None, [0u8; 16], false),
        ];
        for (what, vlan, src, sllao) in cases {
            let before = l2_fields(&counters_json(dp)?);
            let ns = neighbour_solicitation(CLIENT_MAC, vlan, src, VIP6, sllao);
            let (action, out) = run(dp, &ns)?;
            assert_eq!(action, XDP_TX, "{what}");
            let dad = src == [0u8; 16];
            let (dst_mac, dst_ip, flags) = if dad {
                (
                    [0x33, 0x33, 0, 0, 0, 1],
                    [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    0x20,
                )
            } else {
                (CLIENT_MAC, src, 0x60)
            };
            let mut na = vec![136, 0, 0, 0, flags, 0, 0, 0];
            na.extend_from_slice(&VIP6);
            na.extend_from_slice(&[2, 1]);
            na.extend_from_slice(&OWNER_MAC);
            let pseudo = pseudo_header(VIP6.into(), dst_ip.into(), 58, na.len());
            let c = internet_checksum(&[&pseudo, &na]);
            na[2..4].copy_from_slice(&c);
            let mut expected = ethernet(dst_mac, OWNER_MAC, vlan, 0x86DD);
            expected.extend_from_slice(&ipv6_packet(VIP6, dst_ip, 58, 255, &[], &na));
            assert_eq!(out, expected, "{what}: NA bytes");
            let d = delta(&before, &l2_fields(&counters_json(dp)?));
            assert_eq!(d, map(&[("ns_seen", 1), ("na_sent", 1)]), "{what}");
            answers.push(out);
        }
        let text = tshark_decode(&answers)?;
        println!("{text}");
        assert_eq!(
            text.matches("Type: Neighbor Advertisement (136)").count(),
            4,
            "{text}"
        );
        assert_eq!(text.matches("[Checksum Status: Good]").count(), 4, "{text}");
        assert_eq!(
            text.matches("Flags: 0x60000000, Solicited, Override")
                .count(),
            3,
            "{text}"
        );
        assert_eq!(
            text.matches("Flags: 0x20000000, Override").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("Target Address: fd00::64").count(),
            4,
            "{text}"
        );
        assert_eq!(
            text.matches("Link-layer address: IETF-VRRP-VRID_07 (00:00:5e:00:01:07)")
                .count(),
            4,
            "{text}"
        );
        assert!(text.contains("Destination Address: ff02::1"), "{text}");
        assert!(text.contains("Hop Limit: 255"), "{text}");
        Ok(())
    })
}

#[test]
fn xdp_ns_not_for_us_passes_untouched() -> Result<()> {
    with_dataplane(|dp| {
        dp.set_owned(IF, IpAddr::from(VIP6), OWNER_MAC, 7, true)?;
        dp.set_fence_bound(Duration::from_secs(3600))?;
        dp.heartbeat()?;
        let other = neighbour_solicitation(CLIENT_MAC, None, CLIENT6, CLIENT6, true);
        let mut bad_sum = neighbour_solicitation(CLIENT_MAC, None, CLIENT6, VIP6, true);
        let n = bad_sum.len();
        bad_sum[n - 1] ^= 1;
        let mut hop64 = neighbour_solicitation(CLIENT_MAC, None, CLIENT6, VIP6, true);
        hop64[21] = 64;
        for (what, frame, expected) in [
            (
                "other target",
                other,
                map(&[("ns_seen", 1), ("ns_passed", 1)]),
            ),
            ("bad checksum", bad_sum, map(&[])),
            ("hop limit 64", hop64, map(&[])),
        ] {
            let before = l2_fields(&counters_json(dp)?);
            let (action, out) = run(dp, &frame)?;
            assert_eq!(action, XDP_PASS, "{what}");
            assert_eq!(out, frame, "{what}");
            assert_eq!(
                delta(&before, &l2_fields(&counters_json(dp)?)),
                expected,
                "{what}"
            );
        }
        Ok(())
    })
}

// ------------------------------------------------------------------ VRRP

fn v4_frame(vlan: Option<u16>, src: [u8; 4], ttl: u8, options: &[u8], vrrp: &[u8]) -> Vec<u8> {
    let mut f = ethernet([1, 0, 0x5e, 0, 0, 0x12], CLIENT_MAC, vlan, 0x0800);
    f.extend_from_slice(&ipv4_packet(src, VRRP_MCAST4, 112, ttl, options, vrrp));
    f
}

fn v6_frame(hop: u8, ext: &[(u8, Vec<u8>)], vrrp: &[u8]) -> Vec<u8> {
    let mut f = ethernet([0x33, 0x33, 0, 0, 0, 0x12], CLIENT_MAC, None, 0x86DD);
    f.extend_from_slice(&ipv6_packet(LINK_LOCAL6, VRRP_MCAST6, 112, hop, ext, vrrp));
    f
}

fn v3_over_v4(vrid: u8, src: [u8; 4], pseudo: bool) -> Vec<u8> {
    let len = 8 + 4;
    let p = pseudo.then(|| pseudo_header(src.into(), VRRP_MCAST4.into(), 112, len));
    vrrp_v3(vrid, 100, &[key16(VIP4)], p.as_deref())
}

fn v3_over_v6(vrid: u8, pseudo: bool) -> Vec<u8> {
    let p = pseudo.then(|| pseudo_header(LINK_LOCAL6.into(), VRRP_MCAST6.into(), 112, 8 + 16));
    vrrp_v3(vrid, 100, &[VIP6.to_vec()], p.as_deref())
}

/// (what, frame, verdict, vrid, family, the counter that moves besides `frames`).
type Case = (&'static str, Vec<u8>, u32, u8, &'static str, &'static str);

fn policies(dp: &mut Dataplane) -> Result<()> {
    // VRID 10: VRRPv2 with a password. VRID 20: VRRPv3, unicast peer 10.0.0.2.
    // VRID 30: VRRPv3 over IPv6.
    dp.set_vrrp_policy(
        IF,
        10,
        Family::V4,
        &VrrpPolicy {
            version: 2,
            auth_pass: Some(PASSWORD),
            peers: vec![],
            peer_ttl: [PEER_TTL_ANY; MAX_PEERS],
        },
    )?;
    dp.set_vrrp_policy(
        IF,
        20,
        Family::V4,
        &VrrpPolicy {
            version: 3,
            auth_pass: None,
            peers: vec![IpAddr::from(CLIENT4)],
            peer_ttl: [PEER_TTL_ANY; MAX_PEERS],
        },
    )?;
    dp.set_vrrp_policy(
        IF,
        30,
        Family::V6,
        &VrrpPolicy {
            version: 3,
            auth_pass: None,
            peers: vec![],
            peer_ttl: [PEER_TTL_ANY; MAX_PEERS],
        },
    )?;
    Ok(())
}

#[test]
fn xdp_vrrp_every_verdict_and_drop_reason() -> Result<()> {
    with_dataplane(|dp| {
        policies(dp)?;
        let good_v2 = vrrp_v2(10, 100, &[VIP4], 1, PASSWORD);
        let mut bad_sum = good_v2.clone();
        bad_sum[7] ^= 0xFF;
        let wrong_pass = vrrp_v2(10, 100, &[VIP4], 1, *b"secreT\0\0");
        let no_auth = vrrp_v2(10, 100, &[VIP4], 0, [0; 8]);
        let mut v4_version = vrrp_v2(10, 100, &[VIP4], 1, PASSWORD);
        v4_version[0] = 0x41;
        let mut type2 = vrrp_v2(10, 100, &[VIP4], 1, PASSWORD);
        type2[0] = 0x22;
        let mut count2 = vrrp_v2(10, 100, &[VIP4], 1, PASSWORD);
        count2[3] = 2;
        let mut padded = v4_frame(None, CLIENT4, 255, &[], &v3_over_v4(20, CLIENT4, true));
        padded.resize(60, 0);
        let hbh = (0u8, vec![1, 4, 0, 0, 0, 0]); // PadN
        let dst_opts = (60u8, vec![1, 4, 0, 0, 0, 0]);
        let mut fragment = v4_frame(None, CLIENT4, 255, &[], &good_v2);
        fragment[20] = 0x20; // more fragments
        fix_ipv4_checksum(&mut fragment);
        let mut bad_header = v4_frame(None, CLIENT4, 255, &[], &good_v2);
        bad_header[24] ^= 0x01; // header checksum

        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("v2 with password", v4_frame(None, CLIENT4, 255, &[], &good_v2), XDP_PASS, 10, "v4", "adverts_valid"),
            ("v2, vlan tag", v4_frame(Some(7), CLIENT4, 255, &[], &good_v2), XDP_PASS, 10, "v4", "adverts_valid"),
            ("v2, IPv4 options (IHL 6)", v4_frame(None, CLIENT4, 255, &[0x94, 4, 0, 0], &good_v2), XDP_PASS, 10, "v4", "adverts_valid"),
            ("v2, IPv4 options (IHL 15), vlan", v4_frame(Some(7), CLIENT4, 255, &[1; 40], &good_v2), XDP_PASS, 10, "v4", "adverts_valid"),
            ("TTL 64", v4_frame(None, CLIENT4, 64, &[], &good_v2), XDP_DROP, 10, "v4", "drop_ttl"),
            ("v3 for a v2 VRID", v4_frame(None, CLIENT4, 255, &[], &v3_over_v4(10, CLIENT4, true)), XDP_DROP, 10, "v4", "drop_version"),
            ("version 4", v4_frame(None, CLIENT4, 255, &[], &v4_version), XDP_DROP, 10, "v4", "drop_version"),
            ("type 2", v4_frame(None, CLIENT4, 255, &[], &type2), XDP_DROP, 10, "v4", "drop_type"),
            ("count says 2, carries 1", v4_frame(None, CLIENT4, 255, &[], &count2), XDP_DROP, 10, "v4", "drop_length"),
            ("bad checksum", v4_frame(None, CLIENT4, 255, &[], &bad_sum), XDP_DROP, 10, "v4", "drop_checksum"),
            ("wrong password", v4_frame(None, CLIENT4, 255, &[], &wrong_pass), XDP_DROP, 10, "v4", "drop_auth"),
            ("no auth where PASS is set", v4_frame(None, CLIENT4, 255, &[], &no_auth), XDP_DROP, 10, "v4", "drop_auth"),
            ("v3/IPv4 with pseudo-header", v4_frame(None, CLIENT4, 255, &[], &v3_over_v4(20, CLIENT4, true)), XDP_PASS, 20, "v4", "adverts_valid"),
            ("v3/IPv4 without pseudo-header", v4_frame(None, CLIENT4, 255, &[], &v3_over_v4(20, CLIENT4, false)), XDP_PASS, 20, "v4", "adverts_valid"),
            ("v3/IPv4 padded to 60 bytes", padded, XDP_PASS, 20, "v4", "adverts_valid"),
            ("v3 from a non-peer", v4_frame(None, [10, 0, 0, 3], 255, &[], &v3_over_v4(20, [10, 0, 0, 3], true)), XDP_DROP, 20, "v4", "drop_not_peer"),
            ("v3/IPv6", v6_frame(255, &[], &v3_over_v6(30, true)), XDP_PASS, 30, "v6", "adverts_valid"),
            ("v3/IPv6 behind hop-by-hop and destination options", v6_frame(255, &[hbh.clone(), dst_opts.clone()], &v3_over_v6(30, true)), XDP_PASS, 30, "v6", "adverts_valid"),
            ("v3/IPv6 without pseudo-header", v6_frame(255, &[], &v3_over_v6(30, false)), XDP_DROP, 30, "v6", "drop_checksum"),
            ("v3/IPv6 hop limit 1", v6_frame(1, &[], &v3_over_v6(30, true)), XDP_DROP, 30, "v6", "drop_ttl"),
            ("unconfigured VRID", v4_frame(None, CLIENT4, 64, &[], &vrrp_v2(99, 100, &[VIP4], 0, [0; 8])), XDP_PASS, 99, "v4", "unconfigured"),
        ];
        for (what, frame, verdict, vrid, family, counter) in cases {
            let before = vrrp_fields(&counters_json(dp)?, vrid, family);
            let (action, out) = run(dp, &frame)?;
            assert_eq!(action, verdict, "{what}");
            assert_eq!(out, frame, "{what}: VRRP frames are never modified");
            let after = vrrp_fields(&counters_json(dp)?, vrid, family);
            let d = delta(&before, &after);
            assert_eq!(
                d,
                map(&[("frames", 1), (counter, 1)]),
                "{what}: counter deltas"
            );
        }

        // A fragment never reaches validation: dropped, counted per interface.
        let before = l2_fields(&counters_json(dp)?);
        assert_eq!(run(dp, &fragment)?.0, XDP_DROP);
        assert_eq!(
            delta(&before, &l2_fields(&counters_json(dp)?)),
            map(&[("vrrp_fragments", 1)])
        );

        // An IPv4 header with a wrong checksum is the stack's to discard:
        // passed, and counted nowhere (not as a valid advert of VRID 10).
        let before = counters_json(dp)?;
        assert_eq!(run(dp, &bad_header)?, (XDP_PASS, bad_header.clone()));
        let after = counters_json(dp)?;
        assert_eq!(delta(&l2_fields(&before), &l2_fields(&after)), map(&[]));
        assert_eq!(
            delta(
                &vrrp_fields(&before, 10, "v4"),
                &vrrp_fields(&after, 10, "v4")
            ),
            map(&[])
        );

        // The last valid advert's source and time.
        let now = vip_agent::dataplane::monotonic_ns();
        let counters = dp.counters()?;
        let v4 = counters.vrrp_for(IF, 20, Family::V4).context("VRID 20")?;
        assert_eq!(v4.last_source, Some(IpAddr::from(CLIENT4)));
        let seen = v4.last_seen_ns.context("last_seen_ns")?;
        ensure!(seen <= now && seen > 0, "last_seen_ns {seen} vs now {now}");
        let v6 = counters.vrrp_for(IF, 30, Family::V6).context("VRID 30")?;
        assert_eq!(v6.last_source, Some(IpAddr::from(LINK_LOCAL6)));

        // Removing a policy makes the VRID unconfigured.
        dp.remove_vrrp_policy(IF, 10, Family::V4)?;
        let before = vrrp_fields(&counters_json(dp)?, 10, "v4");
        assert_eq!(
            run(dp, &v4_frame(None, CLIENT4, 64, &[], &good_v2))?.0,
            XDP_PASS
        );
        let d = delta(&before, &vrrp_fields(&counters_json(dp)?, 10, "v4"));
        assert_eq!(d, map(&[("frames", 1), ("unconfigured", 1)]));
        println!("{}", serde_json::to_string_pretty(&dp.counters()?)?);
        Ok(())
    })
}

/// This node's addresses, where unicast adverts are sent.
const SELF4: [u8; 4] = [10, 0, 0, 1];
const SELF6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];

/// A VRRPv3 advert for `vrid` sent unicast from `src` to this node with
/// TTL / hop limit `ttl` (IPv4 when `src` is, else IPv6).
fn unicast_v3(vrid: u8, src: IpAddr, ttl: u8) -> Vec<u8> {
    match src {
        IpAddr::V4(src) => {
            let src = src.octets();
            let p = pseudo_header(src.into(), SELF4.into(), 112, 8 + 4);
            let vrrp = vrrp_v3(vrid, 100, &[key16(VIP4)], Some(&p));
            let mut f = ethernet(OWNER_MAC, CLIENT_MAC, None, 0x0800);
            f.extend_from_slice(&ipv4_packet(src, SELF4, 112, ttl, &[], &vrrp));
            f
        }
        IpAddr::V6(src) => {
            let src = src.octets();
            let p = pseudo_header(src.into(), SELF6.into(), 112, 8 + 16);
            let vrrp = vrrp_v3(vrid, 100, &[VIP6.to_vec()], Some(&p));
            let mut f = ethernet(OWNER_MAC, CLIENT_MAC, None, 0x86DD);
            f.extend_from_slice(&ipv6_packet(src, SELF6, 112, ttl, &[], &vrrp));
            f
        }
    }
}

/// keepalived 2.2.7 checks TTL / hop limit 255 only for multicast
/// instances; a unicast instance checks the peer's `min_ttl`..`max_ttl`
/// (defaults 0 and 255) once the source is known to be a peer. Its own
/// IPv6 unicast adverts leave with the kernel's default hop limit (64).
#[test]
fn xdp_unicast_ttl_is_checked_against_the_peers_range() -> Result<()> {
    with_dataplane(|dp| {
        let unicast = |peers: Vec<IpAddr>, ranges: &[[u8; 2]]| {
            let mut peer_ttl = [PEER_TTL_ANY; MAX_PEERS];
            peer_ttl[..ranges.len()].copy_from_slice(ranges);
            VrrpPolicy {
                version: 3,
                auth_pass: None,
                peers,
                peer_ttl,
            }
        };
        let other4 = IpAddr::from([10, 0, 0, 3]);
        let peer4 = IpAddr::from(CLIENT4);
        let peer6 = IpAddr::from(LINK_LOCAL6);
        // VRID 40: unicast, keepalived's default range. VRID 41: the same
        // peer, 255 only. VRID 42: multicast. VRID 43 (IPv6): two peers,
        // the second 60..=64.
        dp.set_vrrp_policy(IF, 40, Family::V4, &unicast(vec![peer4], &[[0, 255]]))?;
        dp.set_vrrp_policy(IF, 41, Family::V4, &unicast(vec![peer4], &[[255, 255]]))?;
        dp.set_vrrp_policy(IF, 42, Family::V4, &unicast(vec![], &[]))?;
        let other6 = IpAddr::from(CLIENT6);
        dp.set_vrrp_policy(
            IF,
            43,
            Family::V6,
            &unicast(vec![other6, peer6], &[[255, 255], [60, 64]]),
        )?;
        let mut bad_sum = unicast_v3(41, peer4, 64);
        let n = bad_sum.len();
        bad_sum[n - 1] ^= 1;

        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("unicast peer, TTL 64, range 0..=255", unicast_v3(40, peer4, 64), XDP_PASS, 40, "v4", "adverts_valid"),
            ("unicast peer, TTL 1, range 0..=255", unicast_v3(40, peer4, 1), XDP_PASS, 40, "v4", "adverts_valid"),
            ("unicast peer, TTL 255, range 0..=255", unicast_v3(40, peer4, 255), XDP_PASS, 40, "v4", "adverts_valid"),
            ("not a peer, TTL 64", unicast_v3(40, other4, 64), XDP_DROP, 40, "v4", "drop_not_peer"),
            ("unicast peer, TTL 64, range 255..=255", unicast_v3(41, peer4, 64), XDP_DROP, 41, "v4", "drop_ttl"),
            ("unicast peer, TTL 255, range 255..=255", unicast_v3(41, peer4, 255), XDP_PASS, 41, "v4", "adverts_valid"),
            ("not a peer, TTL 64, range 255..=255", unicast_v3(41, other4, 64), XDP_DROP, 41, "v4", "drop_not_peer"),
            ("TTL out of range and a bad checksum", bad_sum, XDP_DROP, 41, "v4", "drop_checksum"),
            ("multicast, TTL 64", v4_frame(None, CLIENT4, 64, &[], &v3_over_v4(42, CLIENT4, true)), XDP_DROP, 42, "v4", "drop_ttl"),
            ("multicast, TTL 255", v4_frame(None, CLIENT4, 255, &[], &v3_over_v4(42, CLIENT4, true)), XDP_PASS, 42, "v4", "adverts_valid"),
            ("IPv6 peer, hop limit 64, range 60..=64", unicast_v3(43, peer6, 64), XDP_PASS, 43, "v6", "adverts_valid"),
            ("IPv6 peer, hop limit 60, range 60..=64", unicast_v3(43, peer6, 60), XDP_PASS, 43, "v6", "adverts_valid"),
            ("IPv6 peer, hop limit 65, range 60..=64", unicast_v3(43, peer6, 65), XDP_DROP, 43, "v6", "drop_ttl"),
            ("IPv6 peer, hop limit 255, range 60..=64", unicast_v3(43, peer6, 255), XDP_DROP, 43, "v6", "drop_ttl"),
            ("IPv6 peer, hop limit 59, range 60..=64", unicast_v3(43, peer6, 59), XDP_DROP, 43, "v6", "drop_ttl"),
            ("other IPv6 peer, hop limit 64, range 255..=255", unicast_v3(43, other6, 64), XDP_DROP, 43, "v6", "drop_ttl"),
            ("other IPv6 peer, hop limit 255, range 255..=255", unicast_v3(43, other6, 255), XDP_PASS, 43, "v6", "adverts_valid"),
        ];
        for (what, frame, verdict, vrid, family, counter) in cases {
            let before = vrrp_fields(&counters_json(dp)?, vrid, family);
            let (action, out) = run(dp, &frame)?;
            assert_eq!(action, verdict, "{what}");
            assert_eq!(out, frame, "{what}: VRRP frames are never modified");
            let after = vrrp_fields(&counters_json(dp)?, vrid, family);
            assert_eq!(
                delta(&before, &after),
                map(&[("frames", 1), (counter, 1)]),
                "{what}: counter deltas"
            );
        }
        Ok(())
    })
}

#[test]
fn xdp_every_prefix_of_a_vrrp_frame_passes_or_drops_consistently() -> Result<()> {
    with_dataplane(|dp| {
        policies(dp)?;
        let frames = [
            (
                10u8,
                "v4",
                v4_frame(
                    Some(3),
                    CLIENT4,
                    255,
                    &[0x94, 4, 0, 0],
                    &vrrp_v2(10, 100, &[VIP4, [10, 0, 0, 101]], 1, PASSWORD),
                ),
            ),
            (
                30u8,
                "v6",
                v6_frame(255, &[(0u8, vec![1, 4, 0, 0, 0, 0])], &v3_over_v6(30, true)),
            ),
        ];
        for (vrid, family, full) in frames {
            assert_eq!(run(dp, &full)?.0, XDP_PASS, "the full frame is valid");
            // The kernel refuses test runs shorter than an Ethernet header.
            for len in 14..full.len() {
                let prefix = &full[..len];
                let before_v = vrrp_fields(&counters_json(dp)?, vrid, family);
                let before_l2 = l2_fields(&counters_json(dp)?);
                let (action, _) = run(dp, prefix)?;
                let dv = delta(&before_v, &vrrp_fields(&counters_json(dp)?, vrid, family));
                let dl2 = delta(&before_l2, &l2_fields(&counters_json(dp)?));
                match action {
                    XDP_PASS => {
                        // Either not recognisably VRRP yet, or too short to
                        // read the VRID (counted per interface).
                        assert!(dv.is_empty(), "prefix {len}: PASS must not count {dv:?}");
                        assert!(
                            dl2.is_empty() || dl2 == map(&[("vrrp_short", 1)]),
                            "prefix {len}: {dl2:?}"
                        );
                    }
                    XDP_DROP => {
                        assert_eq!(dv.len(), 2, "prefix {len}: {dv:?}");
                        assert_eq!(dv.get("frames"), Some(&1), "prefix {len}: {dv:?}");
                        assert!(
                            dv.keys().any(|k| k.starts_with("drop_")),
                            "prefix {len}: {dv:?}"
                        );
                        assert!(dl2.is_empty(), "prefix {len}: {dl2:?}");
                    }
                    other => panic!("prefix {len}: verdict {other}"),
                }
            }
        }
        // Every frame counted landed in exactly one outcome.
        for c in dp.counters()?.vrrp {
            let outcomes = c.adverts_valid
                + c.drop_ttl
                + c.drop_version
                + c.drop_type
                + c.drop_length
                + c.drop_checksum
                + c.drop_auth
                + c.drop_not_peer
                + c.unconfigured;
            assert_eq!(c.frames, outcomes, "{c:?}");
        }
        Ok(())
    })
}
