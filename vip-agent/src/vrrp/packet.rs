//! VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798, updated
//! by RFC 9568), IPv4 and IPv6.
//!
//! The codec works on the VRRP message itself (the IP payload). The source and
//! destination addresses of the enclosing IP packet are passed in because the
//! VRRPv3 checksum covers a pseudo-header built from them.
//!
//! Nothing here panics on any input: every length is checked before use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use internet_checksum::Checksum;

/// IP protocol number of VRRP (both versions, both families).
pub const IPPROTO_VRRP: u8 = 112;
/// TTL / hop limit every VRRP packet is sent with and must arrive with
/// (RFC 3768 section 7.1, RFC 5798 section 7.1).
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP (RFC 5798 section 5.1.1.2).
pub const VRRP_MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 section 5.1.2.2).
pub const VRRP_MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The only VRRP message type: ADVERTISEMENT.
pub const VRRP_TYPE_ADVERTISEMENT: u8 = 1;
/// Length of the fixed part of the header, both versions.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data trailer.
pub const V2_AUTH_DATA_LEN: usize = 8;
/// Largest VRRPv3 Max Adver Int (12 bits), in centiseconds.
pub const V3_MAX_ADVER_INT_CS: u16 = 0x0fff;

/// Why a received VRRP message is dropped. The same reasons are counted by the
/// XDP program, per (ifindex, vrid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The version nibble is neither 2 nor 3.
    #[error("bad VRRP version {0}")]
    BadVersion(u8),
    /// The version is valid but not the one configured for this instance.
    #[error("VRRP version {received} received, version {expected} configured")]
    VersionMismatch { expected: u8, received: u8 },
    /// The type nibble is not 1 (ADVERTISEMENT).
    #[error("bad VRRP type {0}")]
    BadType(u8),
    /// Shorter than the fixed 8-byte header.
    #[error("truncated VRRP message: {len} bytes")]
    Truncated { len: usize },
    /// The length does not match the address count (and auth trailer for v2).
    #[error(
        "VRRP message of {len} bytes does not match {count} addresses (expected {expected} bytes)"
    )]
    LengthMismatch {
        count: u8,
        len: usize,
        expected: usize,
    },
    /// Neither checksum form verifies.
    #[error("bad VRRP checksum {received:#06x}")]
    BadChecksum { received: u16 },
    /// The authentication type differs from the configured one (VRRPv2).
    #[error("authentication type {received} received, {expected} configured")]
    AuthTypeMismatch { expected: u8, received: u8 },
    /// The simple text password differs from the configured one (VRRPv2).
    #[error("authentication data mismatch")]
    AuthMismatch,
    /// TTL / hop limit is not 255: the packet crossed a router.
    #[error("TTL/hop limit {0} is not 255")]
    BadTtl(u8),
    /// Source and destination families differ, or VRRPv2 over IPv6.
    #[error("address family mismatch")]
    AddressFamilyMismatch,
}

/// Why an advertisement cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("more than 255 addresses")]
    TooManyAddresses,
    #[error("addresses of both families, or of another family than the packet")]
    AddressFamilyMismatch,
    #[error("VRRPv2 carries IPv4 only")]
    V2OverIpv6,
    #[error("VRRPv3 Max Adver Int {0} cs does not fit 12 bits")]
    IntervalTooLarge(u16),
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6; type 1 comes from RFC 2338
/// and is what keepalived's `auth_type PASS` sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0: no authentication; the 8 data bytes are zero.
    None,
    /// Type 1: simple text password, NUL-padded to 8 bytes.
    SimpleText([u8; 8]),
    /// Any other type (2 is the historical IP AH), kept as received.
    Other { auth_type: u8, data: [u8; 8] },
}

impl Auth {
    /// A simple text password as keepalived stores it: the first 8 bytes,
    /// NUL-padded (keepalived warns "Truncating auth_pass to 8 characters").
    pub fn simple_text(password: &str) -> Auth {
        let mut data = [0u8; 8];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Auth::SimpleText(data)
    }

    /// The Auth Type field value.
    pub fn auth_type(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::SimpleText(_) => 1,
            Auth::Other { auth_type, .. } => *auth_type,
        }
    }

    fn data(&self) -> [u8; 8] {
        match self {
            Auth::None => [0; 8],
            Auth::SimpleText(data) | Auth::Other { data, .. } => *data,
        }
    }
}

/// The version-specific fields of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// RFC 3768: interval in whole seconds, authentication trailer.
    V2 { adver_int_s: u8, auth: Auth },
    /// RFC 5798: 12-bit interval in centiseconds, no authentication.
    V3 { max_adver_int_cs: u16 },
}

impl Version {
    /// The value of the version nibble.
    pub fn number(&self) -> u8 {
        match self {
            Version::V2 { .. } => 2,
            Version::V3 { .. } => 3,
        }
    }

    /// The advertised interval in centiseconds, whatever the version.
    pub fn interval_cs(&self) -> u32 {
        match self {
            Version::V2 { adver_int_s, .. } => u32::from(*adver_int_s) * 100,
            Version::V3 { max_adver_int_cs } => u32::from(*max_adver_int_cs),
        }
    }
}

/// Which checksum form verified on receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    /// Over the VRRP message only (VRRPv2, or VRRPv3/IPv4 from a sender in
    /// keepalived's `vrrp_checksum_compatibility` mode).
    MessageOnly,
    /// Over the IP pseudo-header plus the message (VRRPv3 as RFC 5798 says).
    PseudoHeader,
}

/// How to compute the checksum when sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// What the RFC says: message only for VRRPv2, pseudo-header for VRRPv3
    /// (keepalived 2.2.7's default).
    #[default]
    Standard,
    /// VRRPv3 over IPv4 without the pseudo-header, like VRRPv2
    /// (`v3_checksum_as_v2`, keepalived's `vrrp_checksum_compatibility`).
    /// IPv6 always uses the pseudo-header: its checksum is mandatory there.
    V3AsV2,
}

//  VRRPv2 advertisement (RFC 3768 section 5.1), after the IPv4 header:
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-------+-------+---------------+---------------+---------------+
//  |Ver = 2|Type= 1| Virtual Rtr ID|   Priority    | Count IP Addrs|
//  +-------+-------+---------------+---------------+---------------+
//  |   Auth Type   | Adver Int (s) |           Checksum            |
//  +---------------+---------------+-------------------------------+
//  |                  IPv4 Address (1) ... (Count)                 |
//  +---------------------------------------------------------------+
//  |                Authentication Data (bytes 0-3)                |
//  +---------------------------------------------------------------+
//  |                Authentication Data (bytes 4-7)                |
//  +---------------------------------------------------------------+
//
//  Checksum: 16-bit one's complement of the one's complement sum of the
//  VRRP message, starting with the version field.
//
//  VRRPv3 advertisement (RFC 5798 section 5.1, RFC 9568 section 5.1):
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-------+-------+---------------+---------------+---------------+
//  |Ver = 3|Type= 1| Virtual Rtr ID|   Priority    |Count IPvX Addr|
//  +-------+-------+---------------+---------------+---------------+
//  | Rsvd  |  Max Adver Int (cs, 12 bits)  |       Checksum        |
//  +-------+-------------------------------+-----------------------+
//  |       IPvX Address (1) ... (Count): 4 bytes each for IPv4,    |
//  |       16 bytes each for IPv6, same family as the packet       |
//  +---------------------------------------------------------------+
//
//  Checksum: as above, but over the IPv4 or IPv6 pseudo-header (source,
//  destination, upper-layer length, protocol 112) followed by the message.

/// One VRRP advertisement, either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// Version and the fields that differ between versions.
    pub version: Version,
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    /// Sender's priority: 255 address owner, 0 Master resigning.
    pub priority: u8,
    /// The virtual addresses; all of the packet's family.
    pub addresses: Vec<IpAddr>,
}

impl Advertisement {
    /// Encodes the VRRP message (the IP payload). `src` and `dst` are the IP
    /// addresses the packet is sent with (for the VRRPv3 pseudo-header).
    pub fn encode(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, EncodeError> {
        let count =
            u8::try_from(self.addresses.len()).map_err(|_| EncodeError::TooManyAddresses)?;
        let ipv6 = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => false,
            (IpAddr::V6(_), IpAddr::V6(_)) => true,
            _ => return Err(EncodeError::AddressFamilyMismatch),
        };
        if self.addresses.iter().any(|a| a.is_ipv6() != ipv6) {
            return Err(EncodeError::AddressFamilyMismatch);
        }
        let mut buf = Vec::with_capacity(HEADER_LEN + 16 * self.addresses.len() + 8);
        buf.push((self.version.number() << 4) | VRRP_TYPE_ADVERTISEMENT);
        buf.push(self.vrid);
        buf.push(self.priority);
        buf.push(count);
        match self.version {
            Version::V2 { adver_int_s, auth } => {
                if ipv6 {
                    return Err(EncodeError::V2OverIpv6);
                }
                buf.push(auth.auth_type());
                buf.push(adver_int_s);
            }
            Version::V3 { max_adver_int_cs } => {
                if max_adver_int_cs > V3_MAX_ADVER_INT_CS {
                    return Err(EncodeError::IntervalTooLarge(max_adver_int_cs));
                }
                buf.extend_from_slice(&max_adver_int_cs.to_be_bytes());
            }
        }
        buf.extend_from_slice(&[0, 0]);
        for address in &self.addresses {
            match address {
                IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
        }
        if let Version::V2 { auth, .. } = self.version {
            buf.extend_from_slice(&auth.data());
        }
        let use_pseudo = match self.version {
            Version::V2 { .. } => false,
            Version::V3 { .. } => ipv6 || mode == ChecksumMode::Standard,
        };
        let sum = if use_pseudo {
            internet_checksum(&[&pseudo_header(src, dst, IPPROTO_VRRP, buf.len()), &buf])
        } else {
            internet_checksum(&[&buf])
        };
        buf[6..8].copy_from_slice(&sum);
        Ok(buf)
    }

    /// Decodes and checksums a VRRP message (the IP payload) received from
    /// `src` to `dst`. TTL and authentication are separate checks
    /// ([`check_ttl`], [`Advertisement::verify_auth`]).
    pub fn decode(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Advertisement, ChecksumKind), DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { len: bytes.len() });
        }
        let version = bytes[0] >> 4;
        let kind = bytes[0] & 0x0f;
        if version != 2 && version != 3 {
            return Err(DecodeError::BadVersion(version));
        }
        if kind != VRRP_TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(kind));
        }
        let ipv6 = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => false,
            (IpAddr::V6(_), IpAddr::V6(_)) => true,
            _ => return Err(DecodeError::AddressFamilyMismatch),
        };
        if version == 2 && ipv6 {
            return Err(DecodeError::AddressFamilyMismatch);
        }
        let vrid = bytes[1];
        let priority = bytes[2];
        let count = bytes[3];
        let address_len = if ipv6 { 16 } else { 4 };
        let trailer = if version == 2 { V2_AUTH_DATA_LEN } else { 0 };
        let expected = HEADER_LEN + usize::from(count) * address_len + trailer;
        if bytes.len() != expected {
            return Err(DecodeError::LengthMismatch {
                count,
                len: bytes.len(),
                expected,
            });
        }
        let received = u16::from_be_bytes([bytes[6], bytes[7]]);
        let verifies = |parts: &[&[u8]]| internet_checksum(parts) == [0, 0];
        let pseudo = pseudo_header(src, dst, IPPROTO_VRRP, bytes.len());
        let checksum_kind = if version == 2 && verifies(&[bytes]) {
            ChecksumKind::MessageOnly
        } else if version == 3 && verifies(&[&pseudo, bytes]) {
            ChecksumKind::PseudoHeader
        } else if version == 3 && !ipv6 && verifies(&[bytes]) {
            ChecksumKind::MessageOnly
        } else {
            return Err(DecodeError::BadChecksum { received });
        };
        let body = &bytes[HEADER_LEN..HEADER_LEN + usize::from(count) * address_len];
        let addresses = body
            .chunks_exact(address_len)
            .map(|chunk| match <[u8; 16]>::try_from(chunk) {
                Ok(octets) => IpAddr::V6(Ipv6Addr::from(octets)),
                Err(_) => IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3])),
            })
            .collect();
        let version = if version == 2 {
            let mut data = [0u8; 8];
            data.copy_from_slice(&bytes[expected - V2_AUTH_DATA_LEN..]);
            let auth = match bytes[4] {
                0 => Auth::None,
                1 => Auth::SimpleText(data),
                auth_type => Auth::Other { auth_type, data },
            };
            Version::V2 {
                adver_int_s: bytes[5],
                auth,
            }
        } else {
            Version::V3 {
                max_adver_int_cs: u16::from_be_bytes([bytes[4], bytes[5]]) & V3_MAX_ADVER_INT_CS,
            }
        };
        Ok((
            Advertisement {
                version,
                vrid,
                priority,
                addresses,
            },
            checksum_kind,
        ))
    }

    /// RFC 3768 section 7.1 / RFC 2338 section 10: the authentication type
    /// must be the configured one, and for type 1 the password must match.
    /// VRRPv3 has no authentication: it always passes.
    pub fn verify_auth(&self, configured: &Auth) -> Result<(), DecodeError> {
        let Version::V2 { auth, .. } = &self.version else {
            return Ok(());
        };
        if auth.auth_type() != configured.auth_type() {
            return Err(DecodeError::AuthTypeMismatch {
                expected: configured.auth_type(),
                received: auth.auth_type(),
            });
        }
        match (auth, configured) {
            (Auth::None, Auth::None) => Ok(()),
            _ if auth.data() == configured.data() => Ok(()),
            _ => Err(DecodeError::AuthMismatch),
        }
    }

    /// RFC 5798 section 7.1: the version must be the configured one.
    pub fn verify_version(&self, configured: u8) -> Result<(), DecodeError> {
        if self.version.number() == configured {
            Ok(())
        } else {
            Err(DecodeError::VersionMismatch {
                expected: configured,
                received: self.version.number(),
            })
        }
    }
}

/// RFC 3768 / RFC 5798 section 7.1: a VRRP packet whose TTL (hop limit) is not
/// 255 may have been forwarded by a router and must be discarded.
pub fn check_ttl(ttl: u8) -> Result<(), DecodeError> {
    if ttl == VRRP_TTL {
        Ok(())
    } else {
        Err(DecodeError::BadTtl(ttl))
    }
}

/// The IPv4 (RFC 768 style) or IPv6 (RFC 8200 section 8.1) pseudo-header an
/// upper-layer checksum covers, for a message of `len` bytes of `protocol`
/// (112 for VRRPv3, 58 for ICMPv6).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            out.extend_from_slice(&(len as u32).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, protocol]);
        }
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            out.extend_from_slice(&[0, protocol]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        // Callers check the families first; an empty pseudo-header cannot verify.
        _ => {}
    }
    out
}

/// Internet checksum (RFC 1071) over the concatenation of `parts`, in network
/// byte order: the value to store when the checksum field is zero, and
/// `[0, 0]` when verifying a message whose checksum field is filled in.
pub fn internet_checksum(parts: &[&[u8]]) -> [u8; 2] {
    let mut sum = Checksum::new();
    for part in parts {
        sum.add_bytes(part);
    }
    sum.checksum()
}
