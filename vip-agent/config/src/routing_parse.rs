//! Reads one line of `virtual_routes` / `static_routes` or `virtual_rules` /
//! `static_rules` the way keepalived 2.2.7's `alloc_route` and `alloc_rule`
//! do (vrrp_iproute.c, vrrp_iprule.c): the same keywords, the same
//! defaults and the same refusals. Where keepalived logs an error and
//! drops the line (or part of it) while running on, the configuration is
//! refused here with the error at its `file:line:col`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::diagnostic::{Diagnostics, Location};
use super::model::AddressFamily;
use super::names::{self, c_number, Kind};
use super::parser::Word;
use super::routing::{
    rtax, NextHop, PortRange, Prefix, Route, RouteMetrics, RouteMode, RouteType, Rule, RuleAction,
    PROTOCOL_KEEPALIVED, TABLE_MAIN,
};
use super::values;

/// Rule preferences keepalived gives rules written without one, counted
/// down per family across the whole file.
#[derive(Debug)]
pub struct RulePriorities {
    next_ipv4: u32,
    next_ipv6: u32,
}

impl Default for RulePriorities {
    fn default() -> Self {
        // RULE_START_PRIORITY in vrrp_iprule.c.
        Self {
            next_ipv4: 16384,
            next_ipv6: 16384,
        }
    }
}

/// The words of one line, read front to back.
struct Line<'a, 'd> {
    words: Vec<&'a Word<'a>>,
    next: usize,
    diagnostics: &'d mut Diagnostics,
    what: &'static str,
    failed: bool,
}

impl<'a, 'd> Line<'a, 'd> {
    /// The words of one line, `what` naming its block in messages.
    fn new(
        keyword: &'a Word<'a>,
        args: &'a [Word<'a>],
        what: &'static str,
        diagnostics: &'d mut Diagnostics,
    ) -> Self {
        Line {
            words: std::iter::once(keyword).chain(args).collect(),
            next: 0,
            diagnostics,
            what,
            failed: false,
        }
    }

    fn peek(&self) -> Option<&'a Word<'a>> {
        self.words.get(self.next).copied()
    }

    fn take(&mut self) -> Option<&'a Word<'a>> {
        let word = self.peek();
        if word.is_some() {
            self.next += 1;
        }
        word
    }

    fn take_if(&mut self, text: &str) -> bool {
        if self.peek().is_some_and(|w| w.text == text) {
            self.next += 1;
            return true;
        }
        false
    }

    fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.diagnostics
            .error(at, format!("{}: {}", self.what, message.into()));
        self.failed = true;
    }

    fn warning(&mut self, at: &Location, message: impl Into<String>) {
        self.diagnostics
            .warning(at, format!("{}: {}", self.what, message.into()));
    }

    /// The value after `option`.
    fn value(&mut self, option: &Word) -> Option<&'a Word<'a>> {
        let value = self.take();
        if value.is_none() {
            self.error(&option.at, format!("'{}' needs a value", option.text));
        }
        value
    }

    fn parsed<T>(
        &mut self,
        option: &Word,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.value(option)?;
        match parse(value.text) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(&value.at, format!("{}: {message}", option.text));
                None
            }
        }
    }

    /// An address after `option`, with the word it was read from.
    fn address(&mut self, option: &Word) -> Option<(IpAddr, &'a Word<'a>)> {
        let value = self.value(option)?;
        match values::address(value.text) {
            Ok(address) => Some((address, value)),
            Err(message) => {
                self.error(&value.at, format!("{}: {message}", option.text));
                None
            }
        }
    }

    fn named(&mut self, option: &Word, kind: Kind, what: &str) -> Option<u32> {
        self.parsed(option, |text| {
            names::lookup(kind, text).ok_or_else(|| {
                format!(
                    "'{text}' is neither a number up to {} nor a {what} name (see /etc/iproute2/)",
                    kind.max()
                )
            })
        })
    }

    /// An optional `lock` before a metric's value.
    fn lock(&mut self, metrics: &mut RouteMetrics, rtax: u32) {
        if self.take_if("lock") {
            metrics.lock |= 1 << rtax;
        }
    }

    /// keepalived 2.2.7 steps over the word after `inet`/`inet6` (its
    /// parser advances twice there): that word is ignored, as keepalived
    /// ignores it.
    fn skip_after_family(&mut self, family_word: &Word) {
        if let Some(skipped) = self.take() {
            self.warning(
                &skipped.at,
                format!(
                    "'{}' is ignored: keepalived 2.2.7 skips the word after '{}' \
                     (write '{}' last on the line, or leave it out: the addresses give the family)",
                    skipped.text, family_word.text, family_word.text
                ),
            );
        }
    }

    fn family(
        &mut self,
        family: &mut Option<AddressFamily>,
        wanted: AddressFamily,
        at: &Location,
        message: &str,
    ) {
        match family {
            None => *family = Some(wanted),
            Some(current) if *current == wanted => {}
            Some(_) => self.error(at, message.to_string()),
        }
    }
}

/// A 32-bit decimal number (keepalived's `get_u32`).
fn u32_decimal(text: &str) -> Result<u32, String> {
    values::integer(text, 0, i64::from(u32::MAX))
}

/// `ADDRESS/LENGTH`, or `default`/`any`/`all` (keepalived's `parse_route`):
/// None family for the three words, whose family is the route's.
fn route_prefix(text: &str) -> Result<(Option<AddressFamily>, Prefix), String> {
    if matches!(text, "default" | "any" | "all") {
        return Ok((
            None,
            Prefix {
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix_len: 0,
            },
        ));
    }
    if text == "default6" {
        return Ok((
            Some(AddressFamily::Ipv6),
            Prefix {
                address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix_len: 0,
            },
        ));
    }
    let (address, prefix_len) = values::address_with_prefix(text)?;
    Ok((
        Some(AddressFamily::of(&address)),
        Prefix {
            address,
            prefix_len,
        },
    ))
}

/// A prefix with the family it takes once the line's family is known.
fn in_family(prefix: Prefix, family: AddressFamily) -> Prefix {
    if prefix.prefix_len == 0 && prefix.address.is_unspecified() {
        let address = match family {
            AddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            AddressFamily::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        return Prefix {
            address,
            prefix_len: 0,
        };
    }
    prefix
}

/// `REALM` or `FROM/TO` (keepalived's `get_realms`), each a number up to
/// 255 or an `rt_realms` name.
fn realms(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a realm or FROM/TO realms (see /etc/iproute2/rt_realms)");
    match text.split_once('/') {
        Some((from, to)) => {
            let from = names::lookup(Kind::Realm, from).ok_or_else(bad)?;
            let to = names::lookup(Kind::Realm, to).ok_or_else(bad)?;
            Ok(from << 16 | to)
        }
        None => names::lookup(Kind::Realm, text).ok_or_else(bad),
    }
}

/// keepalived's `get_time_rtt`: a decimal number, raw in the kernel's unit
/// (`unit_per_ms` per millisecond), or with `ms`/`msec`/`msecs` or
/// `s`/`sec`/`secs`; kept within 200 ms..120 s.
fn rtt(text: &str, unit_per_ms: u32, line: &mut Line, at: &Location) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a time (a number, or with ms or s)");
    let lower = text.to_ascii_lowercase();
    let (number, shift, raw) = match lower.find('s') {
        Some(s_at) => {
            if !matches!(&lower[s_at..], "s" | "sec" | "secs") {
                return Err(bad());
            }
            if s_at > 0 && lower.as_bytes()[s_at - 1] == b'm' {
                (&lower[..s_at - 1], 0u32, false)
            } else {
                (&lower[..s_at], 3u32, false)
            }
        }
        None => (lower.as_str(), 0, true),
    };
    if number.is_empty() || number.contains(['e', '-']) {
        return Err(bad());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > shift as usize {
        return Err(format!("'{text}' has too many decimal places"));
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let mut digits = format!("{whole}{fraction}");
    for _ in fraction.len()..shift as usize {
        digits.push('0');
    }
    let value: u64 = digits.parse().map_err(|_| bad())?;
    let value = if raw {
        value
    } else {
        value.saturating_mul(u64::from(unit_per_ms))
    };
    let (min, max) = (
        200 * u64::from(unit_per_ms),
        120_000 * u64::from(unit_per_ms),
    );
    let kept = value.clamp(min, max);
    if kept != value {
        line.warning(
            at,
            format!(
                "'{text}' is outside 200 ms..120 s; {kept} (in units of 1/{unit_per_ms} ms) is used, as keepalived does"
            ),
        );
    }
    Ok(kept as u32)
}

/// One line of `virtual_routes` (`is_static` false) or `static_routes`.
pub fn route(
    keyword: &Word,
    args: &[Word],
    is_static: bool,
    diagnostics: &mut Diagnostics,
) -> Option<Route> {
    let what = if is_static {
        "static route"
    } else {
        "virtual route"
    };
    let mut line = Line::new(keyword, args, what, diagnostics);
    let mut family: Option<AddressFamily> = None;
    let mut kind = RouteType::Unicast;
    let mut destination: Option<(Prefix, &Word)> = None;
    let mut from = None;
    let mut src = None;
    let mut via: Option<IpAddr> = None;
    let mut dev = None;
    let mut table = TABLE_MAIN;
    let mut metric = None;
    let mut scope = None;
    let mut protocol: Option<(u8, &Word)> = None;
    let mut tos = 0;
    let mut onlink = false;
    let mut route_realms = None;
    let mut expires = None;
    let mut metrics = RouteMetrics::default();
    let mut pref = None;
    let mut ttl_propagate = None;
    let mut nexthops: Vec<NextHop> = Vec::new();
    let mut mode = RouteMode::Prepend;
    let mut no_track = false;
    const MIXED: &str = "cannot mix IPv4 and IPv6 addresses in one route";

    while let Some(word) = line.take() {
        if line.failed {
            break;
        }
        match word.text {
            "inet" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv4,
                    &word.at,
                    "'inet' on an IPv6 route",
                );
                line.skip_after_family(word);
            }
            "inet6" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv6,
                    &word.at,
                    "'inet6' on an IPv4 route",
                );
                line.skip_after_family(word);
            }
            "src" => {
                if let Some((address, at)) = line.address(word) {
                    line.family(&mut family, AddressFamily::of(&address), &at.at, MIXED);
                    src = Some(address);
                }
            }
            "as" => {
                line.take_if("to");
                line.take();
                line.warning(
                    &word.at,
                    "'as [to]' (NAT) is for MPLS routes only and is ignored, as keepalived does",
                );
            }
            "via" | "gw" => {
                if word.text == "gw" {
                    line.warning(
                        &word.at,
                        "'gw' is deprecated (keepalived says so too); write 'via'",
                    );
                }
                let stated = if line.take_if("inet") {
                    Some(AddressFamily::Ipv4)
                } else if line.take_if("inet6") {
                    Some(AddressFamily::Ipv6)
                } else {
                    None
                };
                if let Some(stated) = stated {
                    line.family(&mut family, stated, &word.at, MIXED);
                }
                if let Some((address, at)) = line.address(word) {
                    line.family(&mut family, AddressFamily::of(&address), &at.at, MIXED);
                    via = Some(address);
                }
            }
            "from" => {
                if let Some(value) = line.value(word) {
                    match route_prefix(value.text) {
                        Ok((Some(AddressFamily::Ipv6), prefix)) => {
                            line.family(&mut family, AddressFamily::Ipv6, &value.at, MIXED);
                            from = Some(prefix);
                        }
                        Ok(_) => line.error(
                            &value.at,
                            format!(
                                "'from {}': a source prefix is only supported for IPv6 routes",
                                value.text
                            ),
                        ),
                        Err(message) => line.error(&value.at, format!("from: {message}")),
                    }
                }
            }
            "tos" | "dsfield" => {
                if let Some(value) = line.named(word, Kind::DsField, "DS field") {
                    tos = value as u8;
                }
            }
            "table" => {
                if let Some(value) = line.named(word, Kind::Table, "routing table") {
                    table = value;
                }
            }
            "protocol" => {
                let at = line.peek();
                if let (Some(value), Some(at)) =
                    (line.named(word, Kind::Protocol, "route protocol"), at)
                {
                    protocol = Some((value as u8, at));
                }
            }
            "scope" => {
                if let Some(value) = line.named(word, Kind::Scope, "scope") {
                    scope = Some(value as u8);
                }
            }
            "metric" | "priority" | "preference" => metric = line.parsed(word, u32_decimal),
            "dev" | "oif" => dev = line.value(word).map(|w| w.text.to_string()),
            "onlink" => onlink = true,
            "encap" => line.error(
                &word.at,
                "'encap' (lightweight tunnel encapsulation) is not supported by vip-agent",
            ),
            "expires" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv6,
                    &word.at,
                    "'expires' is only valid for IPv6 routes",
                );
                expires = line.parsed(word, u32_decimal);
            }
            "mtu" => {
                line.lock(&mut metrics, rtax::MTU);
                metrics.mtu = line.parsed(word, u32_decimal);
            }
            "hoplimit" => {
                metrics.hoplimit = line.parsed(word, |text| values::integer::<u32>(text, 0, 255));
            }
            "advmss" => {
                line.lock(&mut metrics, rtax::ADVMSS);
                metrics.advmss = line.parsed(word, u32_decimal);
            }
            "rtt" | "rttvar" | "rto_min" => {
                let (index, unit) = match word.text {
                    "rtt" => (rtax::RTT, 8),
                    "rttvar" => (rtax::RTTVAR, 4),
                    _ => (rtax::RTO_MIN, 1),
                };
                line.lock(&mut metrics, index);
                if let Some(value) = line.value(word) {
                    match rtt(value.text, unit, &mut line, &value.at) {
                        Ok(time) => match index {
                            rtax::RTT => metrics.rtt = Some(time),
                            rtax::RTTVAR => metrics.rttvar = Some(time),
                            _ => metrics.rto_min = Some(time),
                        },
                        Err(message) => line.error(&value.at, format!("{}: {message}", word.text)),
                    }
                }
            }
            "reordering" => {
                line.lock(&mut metrics, rtax::REORDERING);
                metrics.reordering = line.parsed(word, u32_decimal);
            }
            "window" => metrics.window = line.parsed(word, u32_decimal),
            "cwnd" => {
                line.lock(&mut metrics, rtax::CWND);
                metrics.cwnd = line.parsed(word, u32_decimal);
            }
            "ssthresh" => {
                line.lock(&mut metrics, rtax::SSTHRESH);
                metrics.ssthresh = line.parsed(word, u32_decimal);
            }
            "realms" => {
                route_realms = line.parsed(word, realms);
                line.family(
                    &mut family,
                    AddressFamily::Ipv4,
                    &word.at,
                    "realms are only valid for IPv4 routes",
                );
            }
            "initcwnd" => metrics.initcwnd = line.parsed(word, u32_decimal),
            "initrwnd" => metrics.initrwnd = line.parsed(word, u32_decimal),
            "features" => {
                if let Some(value) = line.value(word) {
                    if value.text == "ecn" {
                        metrics.features_ecn = true;
                    } else {
                        line.error(
                            &value.at,
                            format!("features: '{}' is not supported (only ecn)", value.text),
                        );
                    }
                }
            }
            "quickack" => {
                metrics.quickack = line.parsed(word, |text| values::integer::<u32>(text, 0, 1))
            }
            "fastopen_no_cookie" => {
                metrics.fastopen_no_cookie =
                    line.parsed(word, |text| values::integer::<u32>(text, 0, 1))
            }
            "congctl" => {
                line.lock(&mut metrics, rtax::CC_ALGO);
                metrics.congctl = line.value(word).map(|w| w.text.to_string());
            }
            "pref" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv6,
                    &word.at,
                    "pref is only valid for IPv6 routes",
                );
                pref = line.parsed(word, |text| match text {
                    "low" => Ok(3),
                    "medium" => Ok(0),
                    "high" => Ok(1),
                    _ => values::integer::<u8>(text, 0, 255)
                        .map_err(|_| format!("'{text}' is neither low, medium, high nor 0..255")),
                });
            }
            "ttl-propagate" => {
                ttl_propagate = line.parsed(word, |text| match text {
                    "enabled" => Ok(true),
                    "disabled" => Ok(false),
                    _ => Err(format!("'{text}' is neither enabled nor disabled")),
                })
            }
            "add" => mode = RouteMode::Add,
            "prepend" => mode = RouteMode::Prepend,
            "append" => mode = RouteMode::Append,
            "or" => {
                line.warning(
                    &word.at,
                    "'or' is deprecated (keepalived says so too); write 'nexthop via A nexthop via B'",
                );
                if !nexthops.is_empty() {
                    line.warning(
                        &word.at,
                        "a second 'or' is ignored, as keepalived ignores it",
                    );
                    line.take();
                    continue;
                }
                if let Some((address, at)) = line.address(word) {
                    line.family(&mut family, AddressFamily::of(&address), &at.at, MIXED);
                    nexthops.push(NextHop {
                        via: via.take(),
                        ..NextHop::default()
                    });
                    nexthops.push(NextHop {
                        via: Some(address),
                        ..NextHop::default()
                    });
                }
            }
            "nexthop" => {
                if !nexthops.is_empty() {
                    line.error(&word.at, "'nexthop' cannot follow 'or'");
                    break;
                }
                line.next -= 1;
                next_hops(&mut line, &mut family, &mut nexthops);
                break;
            }
            "no_track" => no_track = true,
            "track_group" if is_static => {
                line.take();
                line.warning(
                    &word.at,
                    "'track_group' is not supported by vip-agent and is ignored",
                );
            }
            "vrf" => line.error(
                &word.at,
                "'vrf' is not supported by vip-agent; give its table with 'table'",
            ),
            _ => {
                // keepalived: an optional `to`, then a route type, then the
                // destination (a type straight after `to` is not read as one).
                let mut dest_word = word;
                if word.text == "to" {
                    match line.take() {
                        Some(next) => dest_word = next,
                        None => {
                            line.error(&word.at, "'to' needs a destination");
                            break;
                        }
                    }
                } else if let Some(found) = route_type(word.text) {
                    kind = found;
                    match line.take() {
                        Some(next) => dest_word = next,
                        None => {
                            line.error(
                                &word.at,
                                format!("route type '{}' needs a destination after it", word.text),
                            );
                            break;
                        }
                    }
                }
                match route_prefix(dest_word.text) {
                    Ok((prefix_family, prefix)) => {
                        if let Some(prefix_family) = prefix_family {
                            line.family(&mut family, prefix_family, &dest_word.at, MIXED);
                        }
                        if destination.is_some() {
                            line.warning(
                                &dest_word.at,
                                "a second destination replaces the first, as keepalived does",
                            );
                        }
                        destination = Some((prefix, dest_word));
                    }
                    Err(_) => {
                        let hint = if dest_word.text == "proto" {
                            " (the keyword is 'protocol')"
                        } else {
                            ""
                        };
                        line.error(
                            &dest_word.at,
                            format!(
                                "unknown route keyword '{}'{hint}: neither an option nor a destination",
                                dest_word.text
                            ),
                        );
                    }
                }
            }
        }
    }
    if line.failed {
        return None;
    }
    let Some((destination, dest_word)) = destination else {
        line.error(&keyword.at, "a route needs a destination");
        return None;
    };
    let family = family.unwrap_or(AddressFamily::Ipv4);
    let destination = in_family(destination, family);
    if let IpAddr::V4(address) = destination.address {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(destination.prefix_len))
            .unwrap_or(0);
        if u32::from(address) & !mask != 0 {
            line.error(
                &dest_word.at,
                format!(
                    "{destination} has host bits set; the kernel refuses such a route (write {}/{})",
                    Ipv4Addr::from(u32::from(address) & mask),
                    destination.prefix_len
                ),
            );
            return None;
        }
    }
    let mut track = !no_track;
    let mut protocol_value = protocol.map(|(p, _)| p).unwrap_or(PROTOCOL_KEEPALIVED);
    if track {
        if let Some((p, at)) = protocol {
            if p != PROTOCOL_KEEPALIVED {
                line.warning(
                    &at.at,
                    format!(
                        "a tracked route must have protocol keepalived ({PROTOCOL_KEEPALIVED}); it is reset, \
                         as keepalived does (add no_track to keep protocol {p})"
                    ),
                );
            }
        }
        protocol_value = PROTOCOL_KEEPALIVED;
        if dev.is_none() {
            line.warning(
                &keyword.at,
                format!(
                    "{destination} has no 'dev', so its removal by someone else is not watched, \
                     as with keepalived (add 'dev IF', or 'no_track' to say so)"
                ),
            );
            track = false;
        }
    }
    Some(Route {
        family,
        kind,
        destination,
        from,
        src,
        via,
        dev,
        table,
        metric,
        scope,
        protocol: protocol_value,
        tos,
        onlink,
        realms: route_realms,
        expires,
        metrics,
        pref,
        ttl_propagate,
        nexthops,
        mode,
        track,
    })
}

/// A route type word: a name keepalived knows, or a number up to 255.
fn route_type(text: &str) -> Option<RouteType> {
    if let Some((_, kind)) = RouteType::NAMED.iter().find(|(name, _)| *name == text) {
        return Some(*kind);
    }
    c_number(text)
        .filter(|n| *n <= 255)
        .map(|n| RouteType::from_number(n as u8))
}

/// `nexthop via A [dev D] [weight W] [onlink] [realms R] nexthop ...` to the
/// end of the line (keepalived's `parse_nexthops`).
fn next_hops(line: &mut Line, family: &mut Option<AddressFamily>, out: &mut Vec<NextHop>) {
    while line.take_if("nexthop") {
        let mut hop = NextHop::default();
        while let Some(word) = line.peek() {
            match word.text {
                "via" => {
                    line.next += 1;
                    let stated = if line.take_if("inet") {
                        Some(AddressFamily::Ipv4)
                    } else if line.take_if("inet6") {
                        Some(AddressFamily::Ipv6)
                    } else {
                        None
                    };
                    if let Some(stated) = stated {
                        line.family(family, stated, &word.at, "IPv4/IPv6 mismatch for nexthop");
                    }
                    if let Some((address, at)) = line.address(word) {
                        line.family(
                            family,
                            AddressFamily::of(&address),
                            &at.at,
                            "address family mismatch for next hop",
                        );
                        hop.via = Some(address);
                    }
                }
                "dev" => {
                    line.next += 1;
                    hop.dev = line.value(word).map(|w| w.text.to_string());
                }
                "weight" => {
                    line.next += 1;
                    hop.weight = line.parsed(word, |text| values::integer::<u16>(text, 1, 256));
                }
                "onlink" => {
                    line.next += 1;
                    hop.onlink = true;
                }
                "realms" => {
                    line.next += 1;
                    hop.realms = line.parsed(word, realms);
                    line.family(
                        family,
                        AddressFamily::Ipv4,
                        &word.at,
                        "realms are only supported for IPv4",
                    );
                }
                "encap" => {
                    line.next += 1;
                    line.error(
                        &word.at,
                        "'encap' (lightweight tunnel encapsulation) is not supported by vip-agent",
                    );
                    return;
                }
                "as" => {
                    line.next += 1;
                    line.error(&word.at, "'as [to]' (NAT) is not supported for a nexthop");
                    return;
                }
                _ => break,
            }
            if line.failed {
                return;
            }
        }
        out.push(hop);
    }
    if let Some(word) = line.peek() {
        line.error(
            &word.at,
            format!(
                "'{}' after the nexthops: a nexthop takes via, dev, weight, onlink and realms; \
                 the route's own options come before the first nexthop",
                word.text
            ),
        );
    }
}

/// One line of `virtual_rules` (`is_static` false) or `static_rules`.
pub fn rule(
    keyword: &Word,
    args: &[Word],
    is_static: bool,
    priorities: &mut RulePriorities,
    diagnostics: &mut Diagnostics,
) -> Option<Rule> {
    let what = if is_static {
        "static rule"
    } else {
        "virtual rule"
    };
    let mut line = Line::new(keyword, args, what, diagnostics);
    let mut family: Option<AddressFamily> = None;
    let mut from = None;
    let mut to = None;
    let mut action: Option<RuleAction> = None;
    let mut priority = None;
    let mut invert = false;
    let mut tos = 0;
    let mut fwmark = None;
    let mut fwmask = None;
    let mut rule_realms = None;
    let mut suppress_prefixlength = None;
    let mut suppress_ifgroup = None;
    let mut iif = None;
    let mut oif = None;
    let mut tunnel_id = None;
    let mut uid_range = None;
    let mut protocol: Option<(u8, &Word)> = None;
    let mut ip_proto = None;
    let mut sport = None;
    let mut dport = None;
    let mut no_track = false;
    let mut table_option: Option<&Word> = None;
    const MIXED: &str = "a rule cannot mix IPv4 and IPv6";
    const ONE_ACTION: &str =
        "only one of table/lookup, goto, nop, blackhole, prohibit, unreachable, l3mdev per rule";

    while let Some(word) = line.take() {
        if line.failed {
            break;
        }
        match word.text {
            "inet" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv4,
                    &word.at,
                    "'inet' on an IPv6 rule",
                );
                line.skip_after_family(word);
            }
            "inet6" => {
                line.family(
                    &mut family,
                    AddressFamily::Ipv6,
                    &word.at,
                    "'inet6' on an IPv4 rule",
                );
                line.skip_after_family(word);
            }
            "from" | "to" => {
                if let Some(value) = line.value(word) {
                    match route_prefix(value.text) {
                        Ok((prefix_family, prefix)) => {
                            if let Some(prefix_family) = prefix_family {
                                line.family(&mut family, prefix_family, &value.at, MIXED);
                            }
                            if word.text == "from" {
                                from = Some(prefix);
                            } else {
                                to = Some(prefix);
                            }
                        }
                        Err(message) => line.error(&value.at, format!("{}: {message}", word.text)),
                    }
                }
            }
            "table" | "lookup" => {
                if let Some(table) = line.named(word, Kind::Table, "routing table") {
                    if table == 0 {
                        line.error(&word.at, "table 0 is not valid for a rule");
                    } else if action.is_some() {
                        line.error(&word.at, ONE_ACTION);
                    } else {
                        action = Some(RuleAction::Table(table));
                    }
                }
            }
            "not" => invert = true,
            "preference" | "order" | "priority" => {
                priority = line.parsed(word, |text| {
                    c_number(text)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| format!("'{text}' is not a number 0..{}", u32::MAX))
                })
            }
            "tos" | "dsfield" => {
                if let Some(value) = line.named(word, Kind::DsField, "DS field") {
                    tos = value as u8;
                }
            }
            "fwmark" => {
                if let Some((mark, mask)) = line.parsed(word, fwmark_value) {
                    fwmark = Some(mark);
                    fwmask = mask;
                }
            }
            "realms" => {
                rule_realms = line.parsed(word, realms);
                table_option.get_or_insert(word);
                line.family(
                    &mut family,
                    AddressFamily::Ipv4,
                    &word.at,
                    "realms are only valid for IPv4 rules",
                );
            }
            "suppress_prefixlength" | "sup_pl" => {
                suppress_prefixlength = line.parsed(word, |text| {
                    values::integer::<u32>(text, 0, i64::from(i32::MAX))
                });
                table_option.get_or_insert(word);
            }
            "suppress_ifgroup" | "sup_group" => {
                suppress_ifgroup = line.named(word, Kind::Group, "interface group");
                table_option.get_or_insert(word);
            }
            "dev" | "iif" => iif = line.value(word).map(|w| w.text.to_string()),
            "oif" => oif = line.value(word).map(|w| w.text.to_string()),
            "tunnel-id" => {
                tunnel_id = line.parsed(word, |text| {
                    text.parse::<u64>()
                        .map_err(|_| format!("'{text}' is not a number 0..{}", u64::MAX))
                })
            }
            "uidrange" => {
                uid_range = line.parsed(word, |text| {
                    let bad = || format!("'{text}' is not a range START-END of user ids");
                    let (start, end) = text.split_once('-').ok_or_else(bad)?;
                    Ok((
                        start.parse::<u32>().map_err(|_| bad())?,
                        end.parse::<u32>().map_err(|_| bad())?,
                    ))
                })
            }
            "l3mdev" => {
                if action.is_some() {
                    line.error(&word.at, ONE_ACTION);
                } else {
                    action = Some(RuleAction::L3mdev);
                }
            }
            "protocol" => {
                let at = line.peek();
                if let (Some(value), Some(at)) = (
                    line.parsed(word, |text| values::integer::<u8>(text, 0, 255)),
                    at,
                ) {
                    protocol = Some((value, at));
                }
            }
            "ipproto" => {
                ip_proto = line.parsed(word, |text| {
                    match text.parse::<u8>() {
                        // keepalived reads a number only up to 127 (INT8_MAX).
                        Ok(number) if number <= 127 => Ok(number),
                        Ok(_) => Err(format!("'{text}': give protocols above 127 by name")),
                        Err(_) => names::ip_protocol(text).ok_or_else(|| {
                            format!("'{text}' is not an IP protocol (see /etc/protocols)")
                        }),
                    }
                })
            }
            "sport" | "dport" => {
                let range = line.parsed(word, |text| {
                    let bad = || {
                        format!(
                            "'{text}' is not a port range START-END (keepalived 2.2.7 refuses a single port: write {text}-{text})"
                        )
                    };
                    let (start, end) = text.split_once('-').ok_or_else(bad)?;
                    Ok(PortRange {
                        start: start.parse().map_err(|_| bad())?,
                        end: end.parse().map_err(|_| bad())?,
                    })
                });
                if word.text == "sport" {
                    sport = range;
                } else {
                    dport = range;
                }
            }
            "no_track" => no_track = true,
            "track_group" if is_static => {
                line.take();
                line.warning(
                    &word.at,
                    "'track_group' is not supported by vip-agent and is ignored",
                );
            }
            other => {
                let (name_word, name) = if other == "type" {
                    match line.take() {
                        Some(next) => (next, next.text),
                        None => {
                            line.error(&word.at, "'type' needs an action");
                            break;
                        }
                    }
                } else {
                    (word, other)
                };
                let found = match name {
                    "goto" => line.parsed(name_word, u32_decimal).map(RuleAction::Goto),
                    "nop" => Some(RuleAction::Nop),
                    _ => match route_type(name) {
                        Some(RouteType::Blackhole) => Some(RuleAction::Blackhole),
                        Some(RouteType::Unreachable) => Some(RuleAction::Unreachable),
                        Some(RouteType::Prohibit) => Some(RuleAction::Prohibit),
                        Some(_) => {
                            line.error(
                                &name_word.at,
                                format!("'{name}' is not a rule action (blackhole, unreachable, prohibit)"),
                            );
                            None
                        }
                        None => {
                            line.error(&name_word.at, format!("unknown rule option '{name}'"));
                            None
                        }
                    },
                };
                if let Some(found) = found {
                    if action.is_some() {
                        line.error(&name_word.at, ONE_ACTION);
                    } else {
                        action = Some(found);
                    }
                }
            }
        }
    }
    if line.failed {
        return None;
    }
    let Some(action) = action else {
        line.error(
            &keyword.at,
            "a rule needs an action: table (or lookup), goto, nop, blackhole, prohibit or unreachable",
        );
        return None;
    };
    if let RuleAction::Goto(target) = action {
        match priority {
            Some(p) if p >= target => {
                line.error(
                    &keyword.at,
                    format!("preference {p} is not below the goto target {target}"),
                );
                return None;
            }
            Some(_) => {}
            None => {
                line.error(&keyword.at, format!("goto {target} needs a preference"));
                return None;
            }
        }
    }
    if let (Some(option), false) = (table_option, matches!(action, RuleAction::Table(_))) {
        line.error(
            &option.at,
            format!("'{}' needs a table action", option.text),
        );
        return None;
    }
    let track = !no_track;
    let protocol = if track {
        if let Some((p, at)) = protocol {
            if p != PROTOCOL_KEEPALIVED {
                line.warning(
                    &at.at,
                    format!(
                        "a tracked rule must have protocol keepalived ({PROTOCOL_KEEPALIVED}); it is reset, \
                         as keepalived does (add no_track to keep protocol {p})"
                    ),
                );
            }
        }
        Some(PROTOCOL_KEEPALIVED)
    } else {
        protocol.map(|(p, _)| p)
    };
    let family = family.unwrap_or(AddressFamily::Ipv4);
    let priority = match priority {
        Some(priority) => priority,
        None => {
            let next = match family {
                AddressFamily::Ipv4 => &mut priorities.next_ipv4,
                AddressFamily::Ipv6 => &mut priorities.next_ipv6,
            };
            let given = *next;
            *next = next.saturating_sub(1);
            line.warning(
                &keyword.at,
                format!(
                    "the rule has no preference; {given} is used, as keepalived counts them down from 16384 \
                     (give each rule its own 'preference')"
                ),
            );
            given
        }
    };
    Some(Rule {
        family,
        from: from.map(|p| in_family(p, family)),
        to: to.map(|p| in_family(p, family)),
        action,
        priority,
        invert,
        tos,
        fwmark,
        fwmask,
        realms: rule_realms,
        suppress_prefixlength,
        suppress_ifgroup,
        iif,
        oif,
        tunnel_id,
        uid_range,
        protocol,
        ip_proto,
        sport,
        dport,
        track,
    })
}

/// `MARK[/MASK]`, each as C's strtoul reads them.
fn fwmark_value(text: &str) -> Result<(u32, Option<u32>), String> {
    let bad = || format!("'{text}' is not MARK or MARK/MASK");
    let number = |part: &str| {
        c_number(part)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad)
    };
    match text.split_once('/') {
        Some((mark, mask)) => Ok((number(mark)?, Some(number(mask)?))),
        None => Ok((number(text)?, None)),
    }
}
