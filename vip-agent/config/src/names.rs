//! The names `ip` (and keepalived) accept for tables, protocols, scopes,
//! DS fields, realms and interface groups: a number (decimal, `0x` hex or
//! `0` octal), a built-in name, or a name from `/etc/iproute2/<file>`,
//! read once, as keepalived 2.2.7 reads them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

const IPROUTE2_DIR: &str = "/etc/iproute2";

/// One kind of name, with its file, built-in entries and largest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Table,
    Protocol,
    Scope,
    DsField,
    Realm,
    Group,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Table => "rt_tables",
            Kind::Protocol => "rt_protos",
            Kind::Scope => "rt_scopes",
            Kind::DsField => "rt_dsfield",
            Kind::Realm => "rt_realms",
            Kind::Group => "group",
        }
    }

    pub fn max(self) -> u64 {
        match self {
            Kind::Table => u64::from(u32::MAX),
            Kind::Group => i32::MAX as u64,
            Kind::Protocol | Kind::Scope | Kind::DsField | Kind::Realm => 255,
        }
    }

    /// keepalived's defaults, used for values the file does not name.
    fn defaults(self) -> &'static [(u32, &'static str)] {
        match self {
            Kind::Table => &[(253, "default"), (254, "main"), (255, "local")],
            Kind::Protocol => &[
                (0, "none"),
                (1, "redirect"),
                (2, "kernel"),
                (3, "boot"),
                (4, "static"),
                (8, "gated"),
                (9, "ra"),
                (10, "mrt"),
                (11, "zebra"),
                (12, "bird"),
                (42, "babel"),
                (13, "dnrouted"),
                (14, "xorp"),
                (15, "ntk"),
                (16, "dhcp"),
            ],
            Kind::Scope => &[
                (0, "global"),
                (255, "nowhere"),
                (254, "host"),
                (253, "link"),
                (200, "site"),
            ],
            Kind::DsField | Kind::Realm | Kind::Group => &[],
        }
    }
}

/// C's `strtoul(text, &end, 0)` over the whole text: `0x` hex, a leading
/// `0` octal, else decimal. None when anything else is left over.
pub fn c_number(text: &str) -> Option<u64> {
    let text = text.trim_start_matches([' ', '\t']);
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The value of `name`: a number up to the kind's maximum, or a name.
pub fn lookup(kind: Kind, name: &str) -> Option<u32> {
    if let Some(number) = c_number(name) {
        return (number <= kind.max()).then_some(number as u32);
    }
    table(kind).get(name).copied()
}

fn table(kind: Kind) -> &'static HashMap<String, u32> {
    static TABLES: OnceLock<HashMap<Kind, HashMap<String, u32>>> = OnceLock::new();
    let all = TABLES.get_or_init(|| {
        [
            Kind::Table,
            Kind::Protocol,
            Kind::Scope,
            Kind::DsField,
            Kind::Realm,
            Kind::Group,
        ]
        .into_iter()
        .map(|kind| {
            let path = Path::new(IPROUTE2_DIR).join(kind.file());
            let text = std::fs::read_to_string(path).unwrap_or_default();
            (kind, parse(kind, &text))
        })
        .collect()
    });
    &all[&kind]
}

/// Lines of exactly two words, `NUMBER NAME`; `#` starts a comment. The
/// built-in names fill in values the file does not give a name.
fn parse(kind: Kind, text: &str) -> HashMap<String, u32> {
    let mut names = HashMap::new();
    let mut values = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', '!']).next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [number, name] = words[..] else {
            continue;
        };
        let Some(value) = c_number(number).filter(|v| *v <= kind.max()) else {
            continue;
        };
        let value = value as u32;
        values.push(value);
        names.entry(name.to_string()).or_insert(value);
    }
    for (value, name) in kind.defaults() {
        if !values.contains(value) {
            names.entry((*name).to_string()).or_insert(*value);
        }
    }
    names
}

/// IP protocol numbers by name (`/etc/protocols`, plus the common ones).
fn ip_protocols() -> &'static HashMap<String, u8> {
    static PROTOCOLS: OnceLock<HashMap<String, u8>> = OnceLock::new();
    PROTOCOLS.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u8>() else {
                continue;
            };
            for alias in std::iter::once(name).chain(words) {
                map.entry(alias.to_string()).or_insert(number);
            }
        }
        for (name, number) in [("icmp", 1), ("tcp", 6), ("udp", 17), ("ipv6-icmp", 58)] {
            map.entry(name.to_string()).or_insert(number);
        }
        map
    })
}

/// The number of an IP protocol name, for `ipproto`.
pub fn ip_protocol(name: &str) -> Option<u8> {
    ip_protocols().get(name).copied()
}

/// A name of IP protocol `number`, for writing a configuration back.
pub fn ip_protocol_name(number: u8) -> Option<String> {
    ip_protocols()
        .iter()
        .filter(|(_, n)| **n == number)
        .map(|(name, _)| name.clone())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_c_reads_them() {
        assert_eq!(c_number("100"), Some(100));
        assert_eq!(c_number("0x64"), Some(100));
        assert_eq!(c_number("0144"), Some(100));
        assert_eq!(c_number("0"), Some(0));
        assert_eq!(c_number("-1"), None);
        assert_eq!(c_number("10a"), None);
        assert_eq!(c_number(""), None);
    }

    #[test]
    fn files_and_defaults() {
        let names = parse(
            Kind::Table,
            "# comment\n100 isp1\n254 main2 extra\n255\tlocal\n",
        );
        assert_eq!(names.get("isp1"), Some(&100));
        // Three words: not an entry, so main keeps its default.
        assert_eq!(names.get("main"), Some(&254));
        assert_eq!(names.get("local"), Some(&255));
        assert_eq!(names.get("default"), Some(&253));
        let scopes = parse(Kind::Scope, "");
        assert_eq!(scopes.get("link"), Some(&253));
    }

    #[test]
    fn lookup_bounds() {
        assert_eq!(lookup(Kind::Protocol, "256"), None);
        assert_eq!(lookup(Kind::Protocol, "255"), Some(255));
        assert_eq!(lookup(Kind::Table, "main"), Some(254));
        assert_eq!(lookup(Kind::Table, "4294967295"), Some(u32::MAX));
    }
}
