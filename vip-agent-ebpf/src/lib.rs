//! Pure parts of the XDP program: header arithmetic with no kernel access, so
//! the same code is unit-tested on the host and runs in the verifier-checked
//! program.
#![no_std]

/// EtherType of IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86DD;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of an IEEE 802.1Q VLAN tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// EtherType of an IEEE 802.1ad service tag (accepted as the single tag).
pub const ETH_P_8021AD: u16 = 0x88A8;

/// Length in bytes of the Ethernet header without a tag.
pub const ETH_HLEN: usize = 14;
/// Length in bytes of one VLAN tag.
pub const VLAN_HLEN: usize = 4;
/// Smallest IPv4 header.
pub const IPV4_MIN_HLEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HLEN: usize = 40;

/// True if `ether_type` announces one VLAN tag in front of the real EtherType.
#[inline(always)]
pub const fn is_vlan_tag(ether_type: u16) -> bool {
    ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD
}

/// Length in bytes of an IPv4 header from its version/IHL byte, or `None`
/// when the byte does not describe a valid IPv4 header (version not 4, or
/// IHL below 5 words).
#[inline(always)]
pub const fn ipv4_header_len(version_ihl: u8) -> Option<usize> {
    if version_ihl >> 4 != 4 {
        return None;
    }
    let len = (version_ihl & 0x0F) as usize * 4;
    if len < IPV4_MIN_HLEN {
        None
    } else {
        Some(len)
    }
}

/// Splits the first VRRP byte into (version, type).
#[inline(always)]
pub const fn vrrp_version_type(byte: u8) -> (u8, u8) {
    (byte >> 4, byte & 0x0F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_len_accepts_5_to_15_words() {
        assert_eq!(ipv4_header_len(0x45), Some(20));
        assert_eq!(ipv4_header_len(0x46), Some(24));
        assert_eq!(ipv4_header_len(0x4F), Some(60));
    }

    #[test]
    fn ipv4_header_len_rejects_short_ihl_and_other_versions() {
        assert_eq!(ipv4_header_len(0x44), None);
        assert_eq!(ipv4_header_len(0x40), None);
        assert_eq!(ipv4_header_len(0x65), None);
    }

    #[test]
    fn vlan_tags() {
        assert!(is_vlan_tag(0x8100));
        assert!(is_vlan_tag(0x88A8));
        assert!(!is_vlan_tag(ETH_P_IPV4));
    }

    #[test]
    fn vrrp_first_byte() {
        assert_eq!(vrrp_version_type(0x21), (2, 1));
        assert_eq!(vrrp_version_type(0x31), (3, 1));
    }
}
