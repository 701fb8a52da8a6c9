//! The VRRP receive path: what a raw socket delivers, split and decoded as
//! the agent does, then re-encoded.
//!
//! Input: one selector byte, then
//! - `0`: an IPv4 packet with its header, as the IPv4 raw socket delivers it
//!   (`parse_ipv4`, then `Advertisement::decode` on its payload);
//! - `1`: 16 bytes of source and 16 of destination address, then the VRRP
//!   message, as the IPv6 socket delivers it (addresses as ancillary data);
//! - `2`: a 4-byte IPv4 source, a 16-byte IPv6 destination, then the message:
//!   families that differ, which must not decode.
//!
//! Beyond not panicking: whatever decodes re-encodes to the same bytes (but
//! for what is ignored on receive: the VRRPv3 reserved bits, the VRRPv2
//! authentication data when there is no authentication) and decodes again to
//! the same advertisement with the same checksum form.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vip_agent::{
    net::vrrp_socket::parse_ipv4,
    vrrp::packet::{Advertisement, Auth, ChecksumKind, ChecksumMode, DecodeError, Version},
};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    match selector {
        0 => {
            if let Some(packet) = parse_ipv4(rest) {
                decode_and_reencode(&packet.payload, packet.source, packet.destination);
            }
        }
        1 => {
            let Some((addresses, message)) = rest.split_at_checked(32) else {
                return;
            };
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&addresses[..16]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&addresses[16..]).unwrap());
            decode_and_reencode(message, src.into(), dst.into());
        }
        2 => {
            let Some((addresses, message)) = rest.split_at_checked(20) else {
                return;
            };
            let src = Ipv4Addr::from(<[u8; 4]>::try_from(&addresses[..4]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&addresses[4..]).unwrap());
            for (src, dst) in [(src.into(), dst.into()), (dst.into(), src.into())] {
                match Advertisement::decode(message, src, dst) {
                    Ok(decoded) => panic!("decoded across families: {decoded:?}"),
                    Err(DecodeError::AddressFamilyMismatch)
                    | Err(DecodeError::Truncated { .. })
                    | Err(DecodeError::BadVersion(_))
                    | Err(DecodeError::BadType(_)) => {}
                    Err(other) => panic!("families differ, yet: {other}"),
                }
            }
        }
        _ => {}
    }
});

fn decode_and_reencode(message: &[u8], src: IpAddr, dst: IpAddr) {
    let Ok((advert, kind)) = Advertisement::decode(message, src, dst) else {
        return;
    };
    // The checks the state machine makes next take any decoded advert.
    for configured in [Auth::None, Auth::simple_text("secret")] {
        let _ = advert.verify_auth(&configured);
    }
    let _ = advert.verify_version(advert.version.number());

    let mode = match (advert.version, kind) {
        (Version::V3 { .. }, ChecksumKind::MessageOnly) => ChecksumMode::V3AsV2,
        _ => ChecksumMode::Standard,
    };
    let encoded = advert
        .encode(src, dst, mode)
        .unwrap_or_else(|err| panic!("{advert:?} decoded but does not encode: {err}"));
    assert_eq!(encoded.len(), message.len(), "{advert:?}");
    // What the RFCs say to ignore on receive is not kept, and is sent as
    // zeros: the VRRPv3 reserved bits, and the authentication data of a
    // VRRPv2 advert without authentication (RFC 3768 section 5.3.10).
    let mut expected = message.to_vec();
    let ignored_bits_set = match advert.version {
        Version::V3 { .. } => {
            let set = expected[4] & 0xf0 != 0;
            expected[4] &= 0x0f;
            set
        }
        Version::V2 {
            auth: Auth::None, ..
        } => {
            let data = expected.len() - 8..;
            let set = expected[data.clone()].iter().any(|&b| b != 0);
            expected[data].fill(0);
            set
        }
        Version::V2 { .. } => false,
    };
    // The checksum field changes with those bits; otherwise only between its
    // two one's complement forms of zero (0x0000 and 0xffff).
    let checksum = |bytes: &[u8]| u16::from_be_bytes([bytes[6], bytes[7]]);
    if !ignored_bits_set {
        let (ours, theirs) = (checksum(&encoded), checksum(&expected));
        assert!(
            ours == theirs || (ours == 0 || ours == 0xffff) && (theirs == 0 || theirs == 0xffff),
            "checksum {ours:#06x} re-encoded, {theirs:#06x} received"
        );
    }
    expected[6..8].copy_from_slice(&encoded[6..8]);
    assert_eq!(encoded, expected, "{advert:?}");

    let again = Advertisement::decode(&encoded, src, dst)
        .unwrap_or_else(|err| panic!("{advert:?} re-encoded does not decode: {err}"));
    assert_eq!(again, (advert, kind));
}
