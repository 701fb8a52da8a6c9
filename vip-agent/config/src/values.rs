//! Parsing of single values (numbers, decimal seconds, addresses, booleans)
//! with the messages keepalived users expect.

use std::net::IpAddr;
use std::str::FromStr;

use super::model::AddressFamily;

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
}
