//! The VRRP codec against advertisements captured from keepalived 2.2.7
//! (tests/fixtures/vrrp/keepalived-2.2.7.pcap, see the README there), plus
//! malformed input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use frames::{
    ethernet, ipv4_packet, ipv6_packet, multicast_mac, parse_ethernet_frame, parse_ip_packet,
};
use vip_agent::vrrp::packet::{
    check_ttl, internet_checksum, pseudo_header, IPPROTO_VRRP, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6,
};
use vip_agent::vrrp::{
    Advertisement, Auth, ChecksumKind, ChecksumMode, DecodeError, EncodeError, Version,
};

// The workspace's one set of frame builders, shared with the `tests` crate
// (which this crate cannot depend on); each test binary uses part of it.
#[path = "../../tests/src/frames.rs"]
#[allow(dead_code)]
mod frames;

const FIXTURE: &[u8] = include_bytes!("fixtures/vrrp/keepalived-2.2.7.pcap");

/// The records of a classic pcap file (microsecond or nanosecond, either
/// byte order), as (timestamp seconds, frame bytes).
fn pcap_records(file: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let magic = u32::from_le_bytes(file[0..4].try_into().unwrap());
    let little = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        other => panic!("not a pcap file: magic {other:#x}"),
    };
    let read_u32 = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(read_u32(&file[20..24]), 1, "linktype must be Ethernet");
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= file.len() {
        let seconds = read_u32(&file[at..at + 4]);
        let caplen = read_u32(&file[at + 8..at + 12]) as usize;
        records.push((seconds, file[at + 16..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    records
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn keepalived_fixtures_decode_to_expected_fields_and_reencode_byte_for_byte() {
    let records = pcap_records(FIXTURE);
    assert!(records.len() >= 20, "fixture has {} frames", records.len());
    let mut seen = std::collections::BTreeMap::<(u8, bool), usize>::new();
    for (_, frame) in &records {
        let ip = parse_ethernet_frame(frame).expect("an IP packet carrying VRRP");
        check_ttl(ip.ttl).expect("keepalived sends TTL 255");
        let (advert, kind) = Advertisement::decode(ip.payload, ip.src, ip.dst)
            .unwrap_or_else(|e| panic!("decode failed: {e}"));

        // Re-encoding with the default checksum mode reproduces keepalived's
        // bytes exactly, checksum included.
        let encoded = advert
            .encode(ip.src, ip.dst, ChecksumMode::Standard)
            .unwrap();
        assert_eq!(encoded, ip.payload, "re-encoding {advert:?}");

        let stopping = advert.priority == 0;
        *seen.entry((advert.vrid, stopping)).or_default() += 1;
        match advert.vrid {
            10 => {
                assert_eq!(kind, ChecksumKind::MessageOnly);
                assert_eq!(
                    advert.version,
                    Version::V2 {
                        adver_int_s: 1,
                        auth: Auth::None
                    }
                );
                assert!(advert.priority == 150 || stopping);
                assert_eq!(advert.addresses, vec![v4("192.0.2.10"), v4("192.0.2.11")]);
                advert.verify_auth(&Auth::None).unwrap();
            }
            11 => {
                assert_eq!(kind, ChecksumKind::MessageOnly);
                // auth_pass "mypassword": keepalived keeps the first 8 bytes.
                assert_eq!(
                    advert.version,
                    Version::V2 {
                        adver_int_s: 2,
                        auth: Auth::SimpleText(*b"mypasswo")
                    }
                );
                assert!(advert.priority == 100 || stopping);
                assert_eq!(advert.addresses, vec![v4("192.0.2.20")]);
                advert
                    .verify_auth(&Auth::simple_text("mypassword"))
                    .unwrap();
                assert_eq!(
                    advert.verify_auth(&Auth::simple_text("other")),
                    Err(DecodeError::AuthMismatch)
                );
                assert_eq!(
                    advert.verify_auth(&Auth::None),
                    Err(DecodeError::AuthTypeMismatch {
                        expected: 0,
                        received: 1
                    })
                );
            }
            12 => {
                // keepalived 2.2.7 sends VRRPv3/IPv4 with the pseudo-header.
                assert_eq!(kind, ChecksumKind::PseudoHeader);
                assert_eq!(
                    advert.version,
                    Version::V3 {
                        max_adver_int_cs: 50
                    }
                );
                assert!(advert.priority == 200 || stopping);
                assert_eq!(
                    advert.addresses,
                    vec![v4("192.0.2.30"), v4("192.0.2.31"), v4("192.0.2.32")]
                );
                assert_eq!(ip.dst, IpAddr::V4(VRRP_MULTICAST_V4));
            }
            13 => {
                assert_eq!(kind, ChecksumKind::PseudoHeader);
                assert_eq!(
                    advert.version,
                    Version::V3 {
                        max_adver_int_cs: 100
                    }
                );
                assert!(advert.priority == 120 || stopping);
                assert_eq!(advert.addresses, vec![v4("fe80::13"), v4("2001:db8::13")]);
                assert_eq!(ip.dst, IpAddr::V6(VRRP_MULTICAST_V6));
                assert!(matches!(ip.src, IpAddr::V6(a) if a.segments()[0] == 0xfe80));
            }
            other => panic!("unexpected VRID {other}"),
        }
    }
    // Every instance was captured both running and resigning (priority 0).
    for vrid in 10..=13 {
        assert!(
            seen.contains_key(&(vrid, false)),
            "no advert for VRID {vrid}"
        );
        assert!(
            seen.contains_key(&(vrid, true)),
            "no priority 0 for VRID {vrid}"
        );
    }
}

#[test]
fn v3_ipv4_checksum_without_pseudo_header_is_accepted_and_recorded() {
    let advert = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 100,
        },
        vrid: 7,
        priority: 100,
        addresses: vec![v4("10.0.0.70")],
    };
    let (src, dst) = (v4("10.0.0.60"), IpAddr::V4(VRRP_MULTICAST_V4));
    let compat = advert.encode(src, dst, ChecksumMode::V3AsV2).unwrap();
    let standard = advert.encode(src, dst, ChecksumMode::Standard).unwrap();
    assert_ne!(compat, standard);
    assert_eq!(
        Advertisement::decode(&compat, src, dst).unwrap(),
        (advert.clone(), ChecksumKind::MessageOnly)
    );
    assert_eq!(
        Advertisement::decode(&standard, src, dst).unwrap(),
        (advert.clone(), ChecksumKind::PseudoHeader)
    );
    // The pseudo-header binds the addresses: another source fails.
    assert!(matches!(
        Advertisement::decode(&standard, v4("10.0.0.61"), dst),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn ipv6_always_uses_the_pseudo_header() {
    let advert = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 1,
        },
        vrid: 1,
        priority: 255,
        addresses: vec![v4("fe80::1")],
    };
    let (src, dst) = (v4("fe80::2"), IpAddr::V6(VRRP_MULTICAST_V6));
    let a = advert.encode(src, dst, ChecksumMode::V3AsV2).unwrap();
    let b = advert.encode(src, dst, ChecksumMode::Standard).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        Advertisement::decode(&a, src, dst).unwrap().1,
        ChecksumKind::PseudoHeader
    );
}

/// Fields the RFCs say to ignore on receive are not kept, so an advert
/// re-encoded from a decoded one carries zeros there (found by the
/// `vrrp_decode` fuzz target's re-encode property).
#[test]
fn fields_ignored_on_receive_are_not_kept() {
    let with_checksum = |mut message: Vec<u8>, pseudo: Option<Vec<u8>>| {
        message[6..8].fill(0);
        let sum = match pseudo {
            Some(pseudo) => internet_checksum(&[&pseudo, &message]),
            None => internet_checksum(&[&message]),
        };
        message[6..8].copy_from_slice(&sum);
        message
    };
    let (src, dst) = (v4("192.0.2.1"), IpAddr::V4(VRRP_MULTICAST_V4));

    // RFC 3768 section 5.3.10: the authentication data is ignored (type 0).
    let advert = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::None,
        },
        vrid: 10,
        priority: 150,
        addresses: vec![v4("192.0.2.10"), v4("192.0.2.11")],
    };
    let sent = advert.encode(src, dst, ChecksumMode::Standard).unwrap();
    let mut received = sent.clone();
    received[17..21].fill(0xff);
    let received = with_checksum(received, None);
    assert_eq!(
        Advertisement::decode(&received, src, dst).unwrap(),
        (advert.clone(), ChecksumKind::MessageOnly)
    );
    assert_eq!(
        advert.encode(src, dst, ChecksumMode::Standard).unwrap(),
        sent
    );

    // RFC 5798 section 5.2.6: the 4 reserved bits before Max Adver Int.
    let advert = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 0x0123,
        },
        vrid: 12,
        priority: 200,
        addresses: vec![v4("192.0.2.30")],
    };
    let sent = advert.encode(src, dst, ChecksumMode::Standard).unwrap();
    assert_eq!(sent[4] & 0xf0, 0, "sent as zero");
    let mut received = sent.clone();
    received[4] |= 0xa0;
    let pseudo = pseudo_header(src, dst, IPPROTO_VRRP, received.len());
    let received = with_checksum(received, Some(pseudo));
    assert_eq!(
        Advertisement::decode(&received, src, dst).unwrap(),
        (advert, ChecksumKind::PseudoHeader)
    );
}

#[test]
fn each_malformation_has_its_own_error() {
    let advert = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::None,
        },
        vrid: 50,
        priority: 100,
        addresses: vec![v4("192.168.200.11")],
    };
    let (src, dst) = (v4("172.17.0.2"), IpAddr::V4(VRRP_MULTICAST_V4));
    let good = advert.encode(src, dst, ChecksumMode::Standard).unwrap();
    assert_eq!(good.len(), 20);

    let mut bad = good.clone();
    bad[0] = 0x41;
    assert_eq!(
        Advertisement::decode(&bad, src, dst),
        Err(DecodeError::BadVersion(4))
    );
    bad[0] = 0x22;
    assert_eq!(
        Advertisement::decode(&bad, src, dst),
        Err(DecodeError::BadType(2))
    );
    assert_eq!(
        Advertisement::decode(&good[..7], src, dst),
        Err(DecodeError::Truncated { len: 7 })
    );
    assert_eq!(
        Advertisement::decode(&good[..19], src, dst),
        Err(DecodeError::LengthMismatch {
            count: 1,
            len: 19,
            expected: 20
        })
    );
    let mut bad = good.clone();
    bad[3] = 2;
    assert!(matches!(
        Advertisement::decode(&bad, src, dst),
        Err(DecodeError::LengthMismatch { count: 2, .. })
    ));
    let mut bad = good.clone();
    bad[2] = 101;
    assert!(matches!(
        Advertisement::decode(&bad, src, dst),
        Err(DecodeError::BadChecksum { .. })
    ));
    assert_eq!(
        Advertisement::decode(&good, v4("fe80::1"), dst),
        Err(DecodeError::AddressFamilyMismatch)
    );
    assert_eq!(check_ttl(254), Err(DecodeError::BadTtl(254)));
    assert_eq!(check_ttl(255), Ok(()));
    assert_eq!(
        advert.verify_version(3),
        Err(DecodeError::VersionMismatch {
            expected: 3,
            received: 2
        })
    );
}

#[test]
fn encode_rejects_what_the_wire_cannot_carry() {
    let (src, dst) = (v4("fe80::2"), IpAddr::V6(VRRP_MULTICAST_V6));
    let v2 = Advertisement {
        version: Version::V2 {
            adver_int_s: 1,
            auth: Auth::None,
        },
        vrid: 1,
        priority: 1,
        addresses: vec![v4("fe80::1")],
    };
    assert_eq!(
        v2.encode(src, dst, ChecksumMode::Standard),
        Err(EncodeError::V2OverIpv6)
    );
    let v3 = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 4096,
        },
        addresses: vec![v4("fe80::1")],
        ..v2.clone()
    };
    assert_eq!(
        v3.encode(src, dst, ChecksumMode::Standard),
        Err(EncodeError::IntervalTooLarge(4096))
    );
    let mixed = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 100,
        },
        addresses: vec![v4("10.0.0.1")],
        ..v2
    };
    assert_eq!(
        mixed.encode(src, dst, ChecksumMode::Standard),
        Err(EncodeError::AddressFamilyMismatch)
    );
}

#[test]
fn full_packets_and_frames_round_trip() {
    let advert = Advertisement {
        version: Version::V3 {
            max_adver_int_cs: 1,
        },
        vrid: 9,
        priority: 90,
        addresses: vec![v4("2001:db8::9")],
    };
    let src: Ipv6Addr = "fe80::9".parse().unwrap();
    let payload = advert
        .encode(src.into(), VRRP_MULTICAST_V6.into(), ChecksumMode::Standard)
        .unwrap();
    let packet = ipv6_packet(
        src.octets(),
        VRRP_MULTICAST_V6.octets(),
        IPPROTO_VRRP,
        255,
        &[],
        &payload,
    );
    let mut frame = ethernet(
        multicast_mac(VRRP_MULTICAST_V6.into()),
        [0, 0, 0x5e, 0, 2, 9],
        None,
        0x86DD,
    );
    frame.extend_from_slice(&packet);
    let parsed = parse_ethernet_frame(&frame).unwrap();
    assert_eq!(parsed.payload, &payload[..]);
    assert_eq!(parsed.ttl, 255);

    let src4 = Ipv4Addr::new(10, 0, 0, 60);
    let packet = ipv4_packet(
        src4.octets(),
        VRRP_MULTICAST_V4.octets(),
        IPPROTO_VRRP,
        255,
        &[],
        &payload[..8],
    );
    let parsed = parse_ip_packet(&packet).unwrap();
    assert_eq!(parsed.src, IpAddr::V4(src4));
    assert_eq!(parsed.payload, &payload[..8]);
}

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn decode_everything(bytes: &[u8]) {
    let pairs: [(IpAddr, IpAddr); 3] = [
        (v4("192.0.2.1"), IpAddr::V4(VRRP_MULTICAST_V4)),
        (v4("fe80::1"), IpAddr::V6(VRRP_MULTICAST_V6)),
        (v4("192.0.2.1"), IpAddr::V6(VRRP_MULTICAST_V6)),
    ];
    for (src, dst) in pairs {
        if let Ok((advert, _)) = Advertisement::decode(bytes, src, dst) {
            let _ = advert.verify_auth(&Auth::simple_text("x"));
        }
    }
    let _ = parse_ethernet_frame(bytes);
    let _ = parse_ip_packet(bytes);
}

#[test]
fn no_panic_on_any_truncation_mutation_or_noise() {
    for (_, frame) in pcap_records(FIXTURE) {
        for end in 0..=frame.len() {
            decode_everything(&frame[..end]);
            decode_everything(&frame[14.min(end)..end]);
            decode_everything(&frame[34.min(end)..end]);
        }
    }
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let frames = pcap_records(FIXTURE);
    for round in 0..20_000 {
        let len = (noise.next() % 120) as usize;
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| noise.next() as u8).collect()
        } else {
            // Fixture bytes with a few random byte flips, so that the
            // version/type/length checks often pass and deeper code runs.
            let (_, frame) = &frames[round % frames.len()];
            let mut f = frame.clone();
            for _ in 0..(noise.next() % 4) {
                let i = (noise.next() as usize) % f.len();
                f[i] = noise.next() as u8;
            }
            f
        };
        if round % 3 == 0 && !bytes.is_empty() {
            bytes[0] = 0x21 + (noise.next() % 2) as u8 * 0x10;
        }
        decode_everything(&bytes);
        if bytes.len() > 34 {
            decode_everything(&bytes[14..]);
            decode_everything(&bytes[34..]);
        }
    }
}
