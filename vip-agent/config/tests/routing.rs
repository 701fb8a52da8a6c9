//! `virtual_routes`, `virtual_rules`, `static_ipaddress`, `static_routes`
//! and `static_rules` read as keepalived 2.2.7 reads them: the values the
//! kernel will be sent, keepalived's defaults filled in, and its warnings.

use std::net::IpAddr;

use vip_config::{
    load_str, rtax, AddressFamily, Diagnostic, LoadOptions, NextHop, PortRange, Prefix, Route,
    RouteMode, RouteType, Rule, RuleAction, Severity, PROTOCOL_KEEPALIVED, TABLE_MAIN,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn prefix(text: &str) -> Prefix {
    let (address, len) = text.split_once('/').unwrap();
    Prefix {
        address: ip(address),
        prefix_len: len.parse().unwrap(),
    }
}

fn instance_with(routes: &str, rules: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    \
         virtual_ipaddress {{\n        10.0.0.100/24\n    }}\n    \
         virtual_routes {{\n{routes}\n    }}\n    virtual_rules {{\n{rules}\n    }}\n}}\n"
    )
}

fn load(text: &str) -> (vip_config::Config, Vec<Diagnostic>) {
    match load_str(text, "t.conf", LoadOptions::default()) {
        Ok(loaded) => (loaded.config, loaded.warnings),
        Err(errors) => panic!("rejected:\n{errors:#?}"),
    }
}

fn warned(warnings: &[Diagnostic], line: u32, fragment: &str) {
    assert!(
        warnings.iter().any(|w| w.severity == Severity::Warning
            && w.line == line
            && w.message.contains(fragment)),
        "no warning at line {line} containing {fragment:?}: {warnings:#?}"
    );
}

/// A plain route with keepalived's defaults: main table, universe scope
/// (keepalived sends universe even for a route without a gateway),
/// protocol keepalived, prepended, tracked because it has a dev.
#[test]
fn route_defaults() {
    let (config, warnings) = load(&instance_with("10.1.0.0/16 dev eth0", ""));
    assert!(warnings.is_empty(), "{warnings:#?}");
    let route = &config.instances[0].virtual_routes[0];
    assert_eq!(
        *route,
        Route {
            family: AddressFamily::Ipv4,
            kind: RouteType::Unicast,
            destination: prefix("10.1.0.0/16"),
            from: None,
            src: None,
            via: None,
            dev: Some("eth0".into()),
            table: TABLE_MAIN,
            metric: None,
            scope: None,
            protocol: PROTOCOL_KEEPALIVED,
            tos: 0,
            onlink: false,
            realms: None,
            expires: None,
            metrics: Default::default(),
            pref: None,
            ttl_propagate: None,
            nexthops: Vec::new(),
            mode: RouteMode::Prepend,
            track: true,
        }
    );
}

#[test]
fn route_options() {
    let routes = "\
        src 10.0.0.100 to 192.168.50.0/24 via 10.0.0.254 dev eth0 table 100 metric 7 scope link onlink tos 0x10\n\
        blackhole 10.9.0.0/16 table main no_track\n\
        10.3.0.0/16 via 10.0.0.254 dev eth0 mtu lock 1400 advmss 1360 hoplimit 9 rtt 300ms rttvar 1s rto_min 250 \
            initcwnd 10 window 2000 features ecn quickack 1 congctl lock cubic append\n\
        ::/0 via 2001:db8::1 dev eth0 pref high expires 600 metric 1024\n\
        2001:db8:7::/48 from 2001:db8:8::/48 dev eth0\n\
        10.4.0.0/16 nexthop via 10.0.0.253 dev eth0 weight 2 onlink nexthop via 10.0.0.252 dev eth1\n\
        10.5.0.0/16 via 10.0.0.251 or 10.0.0.250 dev eth0\n\
        throw 10.6.0.0/16 table 0x65 protocol static no_track add\n\
        unreachable 10.8.0.0/16 dev eth0 realms 1/2";
    let (config, warnings) = load(&instance_with(routes, ""));
    let r = &config.instances[0].virtual_routes;
    assert_eq!(r.len(), 9);

    assert_eq!(r[0].src, Some(ip("10.0.0.100")));
    assert_eq!(r[0].destination, prefix("192.168.50.0/24"));
    assert_eq!(r[0].via, Some(ip("10.0.0.254")));
    assert_eq!(
        (r[0].table, r[0].metric, r[0].scope),
        (100, Some(7), Some(253))
    );
    assert!(r[0].onlink);
    assert_eq!(r[0].tos, 0x10);

    assert_eq!(r[1].kind, RouteType::Blackhole);
    assert_eq!(r[1].table, TABLE_MAIN);
    assert!(!r[1].track);
    // no_track without a protocol: keepalived still sends its own.
    assert_eq!(r[1].protocol, PROTOCOL_KEEPALIVED);

    let m = &r[2].metrics;
    assert_eq!(m.mtu, Some(1400));
    assert!(m.locked(rtax::MTU) && m.locked(rtax::CC_ALGO) && !m.locked(rtax::ADVMSS));
    assert_eq!(m.advmss, Some(1360));
    assert_eq!(m.hoplimit, Some(9));
    // 1/8 ms and 1/4 ms units; a bare number is in the kernel's unit and
    // 250 (below 200 ms for rtt) is kept as is for rto_min, in ms.
    assert_eq!(m.rtt, Some(300 * 8));
    assert_eq!(m.rttvar, Some(1000 * 4));
    assert_eq!(m.rto_min, Some(250));
    assert_eq!(
        (m.initcwnd, m.window, m.quickack),
        (Some(10), Some(2000), Some(1))
    );
    assert!(m.features_ecn);
    assert_eq!(m.congctl.as_deref(), Some("cubic"));
    assert_eq!(r[2].mode, RouteMode::Append);

    assert_eq!(r[3].family, AddressFamily::Ipv6);
    assert_eq!(r[3].destination, prefix("::/0"));
    assert_eq!(
        (r[3].pref, r[3].expires, r[3].metric),
        (Some(1), Some(600), Some(1024))
    );

    assert_eq!(r[4].from, Some(prefix("2001:db8:8::/48")));

    assert_eq!(
        r[5].nexthops,
        vec![
            NextHop {
                via: Some(ip("10.0.0.253")),
                dev: Some("eth0".into()),
                weight: Some(2),
                onlink: true,
                realms: None,
            },
            NextHop {
                via: Some(ip("10.0.0.252")),
                dev: Some("eth1".into()),
                ..NextHop::default()
            },
        ]
    );
    // `or`: the gateway becomes the first of two nexthops.
    assert_eq!(r[6].via, None);
    assert_eq!(
        r[6].nexthops
            .iter()
            .map(|h| h.via.unwrap())
            .collect::<Vec<_>>(),
        vec![ip("10.0.0.251"), ip("10.0.0.250")]
    );
    warned(&warnings, 14, "'or' is deprecated");

    assert_eq!(r[7].kind, RouteType::Throw);
    assert_eq!((r[7].table, r[7].protocol), (101, 4));
    assert_eq!(r[7].mode, RouteMode::Add);

    assert_eq!(r[8].kind, RouteType::Unreachable);
    assert_eq!(r[8].realms, Some(1 << 16 | 2));
}

/// keepalived's warnings: `gw`, a tracked route's protocol reset, a route
/// that cannot be watched for lack of `dev`.
#[test]
fn route_warnings() {
    let routes = "\
        10.1.0.0/16 gw 10.0.0.254 dev eth0\n\
        10.2.0.0/16 via 10.0.0.254 dev eth0 protocol static\n\
        10.3.0.0/16 via 10.0.0.254";
    let (config, warnings) = load(&instance_with(routes, ""));
    let r = &config.instances[0].virtual_routes;
    warned(&warnings, 8, "'gw' is deprecated");
    warned(&warnings, 9, "must have protocol keepalived");
    assert_eq!(r[1].protocol, PROTOCOL_KEEPALIVED);
    assert!(r[1].track);
    warned(&warnings, 10, "has no 'dev'");
    assert!(!r[2].track);
    assert_eq!(r[2].protocol, PROTOCOL_KEEPALIVED);
}

#[test]
fn rules() {
    let rules = "\
        from 10.0.0.100/32 table 100 priority 100\n\
        not to 192.168.50.0/24 lookup main preference 200\n\
        fwmark 0x10/0xff table 101 priority 0x12c\n\
        iif eth0 oif eth1 table 100 priority 400 ipproto tcp dport 80-80 sport 1000-2000 uidrange 100-200\n\
        from all prohibit priority 500\n\
        from 2001:db8::/64 table 100\n\
        priority 600 goto 700\n\
        from 10.0.0.0/8 table 100 priority 800 suppress_prefixlength 0 realms 3 protocol 4 no_track\n\
        from 10.0.0.0/8 table 100 priority 900 protocol 4\n\
        to 10.0.0.0/8 type nop priority 1000 tos 8 tunnel-id 7\n\
        from 10.0.0.0/8 table 100";
    let (config, warnings) = load(&instance_with("", rules));
    let r = &config.instances[0].virtual_rules;
    assert_eq!(r.len(), 11);
    assert_eq!(
        r[0],
        Rule {
            family: AddressFamily::Ipv4,
            from: Some(prefix("10.0.0.100/32")),
            to: None,
            action: RuleAction::Table(100),
            priority: 100,
            invert: false,
            tos: 0,
            fwmark: None,
            fwmask: None,
            realms: None,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            iif: None,
            oif: None,
            tunnel_id: None,
            uid_range: None,
            protocol: Some(PROTOCOL_KEEPALIVED),
            ip_proto: None,
            sport: None,
            dport: None,
            track: true,
        }
    );
    assert!(r[1].invert);
    assert_eq!(r[1].action, RuleAction::Table(TABLE_MAIN));
    assert_eq!(
        (r[2].fwmark, r[2].fwmask, r[2].priority),
        (Some(0x10), Some(0xff), 300)
    );
    assert_eq!(
        (r[3].iif.as_deref(), r[3].oif.as_deref()),
        (Some("eth0"), Some("eth1"))
    );
    assert_eq!(r[3].ip_proto, Some(6));
    assert_eq!(r[3].dport, Some(PortRange { start: 80, end: 80 }));
    assert_eq!(
        r[3].sport,
        Some(PortRange {
            start: 1000,
            end: 2000
        })
    );
    assert_eq!(r[3].uid_range, Some((100, 200)));
    assert_eq!(r[4].from, Some(prefix("0.0.0.0/0")));
    assert_eq!(r[4].action, RuleAction::Prohibit);
    // Without a preference: keepalived's count down from 16384, per family.
    assert_eq!((r[5].family, r[5].priority), (AddressFamily::Ipv6, 16384));
    warned(&warnings, 16, "no preference; 16384 is used");
    assert_eq!(r[6].action, RuleAction::Goto(700));
    assert_eq!((r[7].protocol, r[7].track), (Some(4), false));
    assert_eq!(
        (r[7].suppress_prefixlength, r[7].realms),
        (Some(0), Some(3))
    );
    warned(&warnings, 19, "must have protocol keepalived");
    assert_eq!(r[8].protocol, Some(PROTOCOL_KEEPALIVED));
    assert_eq!(
        (r[9].action, r[9].tos, r[9].tunnel_id),
        (RuleAction::Nop, 8, Some(7))
    );
    assert_eq!((r[10].family, r[10].priority), (AddressFamily::Ipv4, 16384));
}

/// keepalived 2.2.7 steps over the word after `inet`/`inet6`: that word is
/// ignored with a warning, so the line means here what it means there.
#[test]
fn the_word_after_inet6_is_skipped_as_keepalived_skips_it() {
    let (config, warnings) = load(&instance_with(
        "inet6 default ::/0 via 2001:db8::1 dev eth0",
        "table 100 priority 5 inet6\ninet6 not to 2001:db8::/32 table 100 priority 6",
    ));
    warned(
        &warnings,
        8,
        "'default' is ignored: keepalived 2.2.7 skips the word after 'inet6'",
    );
    let route = &config.instances[0].virtual_routes[0];
    assert_eq!(route.destination, prefix("::/0"));
    let rules = &config.instances[0].virtual_rules;
    assert_eq!(rules[0].family, AddressFamily::Ipv6);
    // `not` went unread.
    assert!(!rules[1].invert);
    warned(&warnings, 12, "'not' is ignored");
}

/// The static blocks: every block adds to the list; a static address
/// without dev goes on `default_interface` (else eth0); rules without a
/// preference continue keepalived's count across the file.
#[test]
fn static_blocks() {
    let text = format!(
        "global_defs {{\n    default_interface eth9\n}}\n{}\
         static_ipaddress {{\n    192.168.99.1/24 dev eth1 label eth1:s\n    192.168.98.1/24 no_track\n}}\n\
         static_routes {{\n    192.168.97.0/24 dev eth1\n}}\n\
         static_routes {{\n    192.168.96.0/24 via 192.168.99.254 dev eth1 no_track\n}}\n\
         static_rules {{\n    from 192.168.99.0/24 table 200\n}}\n",
        instance_with("", "from 10.0.0.0/8 table 100")
    );
    let (config, _) = load(&text);
    assert_eq!(config.static_addresses.len(), 2);
    assert_eq!(config.static_addresses[0].dev, "eth1");
    assert_eq!(config.static_addresses[0].label.as_deref(), Some("eth1:s"));
    assert!(config.static_addresses[0].track);
    assert_eq!(config.static_addresses[1].dev, "eth9");
    assert!(!config.static_addresses[1].track);
    assert_eq!(config.static_routes.len(), 2);
    assert!(config.static_routes[0].track);
    assert!(!config.static_routes[1].track);
    assert_eq!(config.instances[0].virtual_rules[0].priority, 16384);
    assert_eq!(config.static_rules[0].priority, 16383);

    let (config, _) = load(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
         static_ipaddress {\n 192.168.98.1/24\n}\n",
    );
    assert_eq!(config.static_addresses[0].dev, "eth0");
}

/// The printed form of routes and rules reads back as the same values
/// (the property test covers random ones; this one reads the text).
#[test]
fn printed_routes_and_rules() {
    let (config, _) = load(&instance_with(
        "blackhole 10.9.0.0/16 table 100 no_track\n10.3.0.0/16 via 10.0.0.254 dev eth0 mtu lock 1400",
        "from 10.0.0.100/32 table 100 priority 100",
    ));
    let printed = config.to_keepalived_string();
    assert!(
        printed.contains("blackhole 10.9.0.0/16 table 100 protocol 18 no_track"),
        "{printed}"
    );
    assert!(
        printed.contains("10.3.0.0/16 via 10.0.0.254 dev eth0 table 254 protocol 18 mtu lock 1400"),
        "{printed}"
    );
    assert!(
        printed.contains("from 10.0.0.100/32 preference 100 protocol 18 table 100"),
        "{printed}"
    );
    let (again, _) = load(&printed);
    assert_eq!(again, config);
}
