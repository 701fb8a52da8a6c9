//! Parsing of single values (numbers, decimal seconds, addresses, booleans)
//! with the messages keepalived users expect.

use std::net::IpAddr;
use std::str::FromStr;

use super::{interpret::VmacAddress, model::AddressFamily};

/// Parses an integer in `min..=max`.
pub fn integer<T>(text: &str, min: i64, max: i64) -> Result<T, String>
where
    T: TryFrom<i64>,
{
    let value: i64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if value < min || value > max {
        return Err(format!("{value} is outside the range {min}..{max}"));
    }
    T::try_from(value).map_err(|_| format!("{value} is outside the range {min}..{max}"))
}

/// Parses a non-negative decimal number of seconds ("2", "0.5", "1.25")
/// into microseconds, the resolution keepalived keeps for its timers.
pub fn seconds_as_micros(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a number of seconds");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut micros_text: String = fraction.chars().take(7).collect();
    while micros_text.len() < 7 {
        micros_text.push('0');
    }
    let tenths_of_micros: u64 = micros_text.parse().map_err(|_| bad())?;
    let fraction_micros = (tenths_of_micros + 5) / 10;
    whole
        .checked_mul(1_000_000)
        .and_then(|micros| micros.checked_add(fraction_micros))
        .ok_or_else(bad)
}

/// keepalived's <BOOL>: on|off|true|false|yes|no.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!(
            "'{text}' is not one of on, off, true, false, yes, no"
        )),
    }
}

pub fn address(text: &str) -> Result<IpAddr, String> {
    IpAddr::from_str(text).map_err(|_| format!("'{text}' is not an IP address"))
}

/// `ADDR[/PREFIX]`; without a prefix the address is a host route (/32, /128).
pub fn address_with_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    let (address_text, prefix_text) = match text.split_once('/') {
        Some((address_text, prefix_text)) => (address_text, Some(prefix_text)),
        None => (text, None),
    };
    let parsed = address(address_text)?;
    let max = AddressFamily::of(&parsed).max_prefix_len();
    let prefix_len = match prefix_text {
        None => max,
        Some(prefix_text) => prefix_text
            .parse::<u8>()
            .ok()
            .filter(|prefix_len| *prefix_len <= max)
            .ok_or_else(|| {
                format!(
                    "'{prefix_text}' is not a prefix length of an {} address (0..{max})",
                    AddressFamily::of(&parsed)
                )
            })?,
    };
    Ok((parsed, prefix_len))
}

/// An interface name the kernel accepts (its `dev_valid_name`): 1 to 15
/// bytes, not `.` or `..`, without `/`, `:` or white space.
pub fn interface_name(text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > 15 {
        return Err(format!("'{text}' is not 1 to 15 bytes long"));
    }
    if text == "."
        || text == ".."
        || text.contains(['/', ':'])
        || text.contains(char::is_whitespace)
    {
        return Err(format!("'{text}' is not a valid interface name"));
    }
    Ok(())
}

/// The MAC of `use_vmac`: six hex octets separated by ':', or five (the
/// VRID is the sixth); neither multicast nor the RFC 5798 virtual MAC,
/// which is what `use_vmac` without a MAC uses.
pub fn vmac_address(text: &str) -> Result<VmacAddress, String> {
    let bad = || format!("'{text}' is not a MAC address");
    let trimmed = text.strip_suffix(':').unwrap_or(text);
    let octets: Vec<u8> = trimmed
        .split(':')
        .map(|part| {
            if part.is_empty() || part.len() > 2 {
                return Err(bad());
            }
            u8::from_str_radix(part, 16).map_err(|_| bad())
        })
        .collect::<Result<_, _>>()?;
    if trimmed.len() != text.len() && octets.len() != 5 {
        return Err(bad());
    }
    let mac = match octets.len() {
        5 => VmacAddress::WithVrid([octets[0], octets[1], octets[2], octets[3], octets[4]]),
        6 => {
            let mut mac = [0; 6];
            mac.copy_from_slice(&octets);
            VmacAddress::Full(mac)
        }
        _ => return Err(bad()),
    };
    let first = match mac {
        VmacAddress::Full(mac) => [mac[0], mac[1], mac[2], mac[3], mac[4]],
        VmacAddress::WithVrid(prefix) => prefix,
    };
    if first[0] & 1 != 0 {
        return Err(format!("'{text}' is a multicast address"));
    }
    if first[..4] == [0, 0, 0x5e, 0] && matches!(first[4], 1 | 2) {
        return Err(format!(
            "'{text}' is an RFC 5798 virtual MAC, which use_vmac without an address uses"
        ));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(seconds_as_micros("3"), Ok(3_000_000));
        assert_eq!(seconds_as_micros("0.001"), Ok(1_000));
        assert_eq!(seconds_as_micros(".5"), Ok(500_000));
        assert_eq!(seconds_as_micros("0.0000015"), Ok(2));
        assert!(seconds_as_micros("-1").is_err());
        assert!(seconds_as_micros("1e3").is_err());
        assert!(seconds_as_micros(".").is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(address_with_prefix("10.0.0.1").unwrap().1, 32);
        assert_eq!(address_with_prefix("fe80::1").unwrap().1, 128);
        assert_eq!(address_with_prefix("10.0.0.1/24").unwrap().1, 24);
        assert!(address_with_prefix("10.0.0.1/33").is_err());
        assert!(address_with_prefix("10.0.0.300").is_err());
    }

    #[test]
    fn interface_names_as_the_kernel_takes_them() {
        assert!(interface_name("vrrp.51").is_ok());
        assert!(interface_name("a23456789012345").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "a23456789012345x"] {
            assert!(interface_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn vmac_addresses_as_keepalived_reads_them() {
        assert_eq!(
            vmac_address("02:11:22:33:44:55"),
            Ok(VmacAddress::Full([2, 0x11, 0x22, 0x33, 0x44, 0x55]))
        );
        assert_eq!(
            vmac_address("02:11:22:33:44"),
            Ok(VmacAddress::WithVrid([2, 0x11, 0x22, 0x33, 0x44]))
        );
        assert_eq!(
            vmac_address("2:1:2:3:4:"),
            Ok(VmacAddress::WithVrid([2, 1, 2, 3, 4]))
        );
        for bad in [
            "02:11:22",
            "02:11:22:33:44:55:66",
            "02:11:22:33:44:55:",
            "02:111:22:33:44:55",
            "0g:11:22:33:44:55",
            "01:00:5e:00:00:12",
            "00:00:5e:00:01:05",
            "00:00:5e:00:02",
        ] {
            assert!(vmac_address(bad).is_err(), "{bad:?}");
        }
    }
}
