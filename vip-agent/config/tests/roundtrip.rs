//! Printing a typed configuration in keepalived syntax and reading it back
//! gives the same configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use vip_config::{
    load_str, rtax, AddressFamily, Command, Config, GarpSettings, GlobalDefs, InitialState,
    LoadOptions, NextHop, NotifyFifo, NotifyScripts, ParamMatch, PeerTtl, PortRange, Prefix, Route,
    RouteMetrics, RouteMode, RouteType, Rule, RuleAction, ScriptUser, StaticAddress, SyncGroup,
    TrackFile, TrackFileInit, TrackProcess, TrackedInterface, TrackedScript, VirtualAddress, Vmac,
    VrrpInstance, VrrpScript, PROTOCOL_KEEPALIVED,
};

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.:-]{0,8}"
}

/// Free text as found in script commands: spaces, quotes, comment and brace
/// characters, backslashes, tabs, non-ASCII.
fn free_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/ ._'\"#!{}\\\\\t$@é-]{1,24}"
}

fn command() -> impl Strategy<Value = Command> {
    (free_text(), option::of((name(), option::of(name())))).prop_map(|(command, user)| Command {
        command,
        user: user.as_ref().map(|(user, _)| user.clone()),
        group: user.and_then(|(_, group)| group),
    })
}

fn notify() -> impl Strategy<Value = NotifyScripts> {
    (
        option::of(command()),
        option::of(command()),
        option::of(command()),
        option::of(command()),
        option::of(command()),
    )
        .prop_map(|(master, backup, fault, stop, any)| NotifyScripts {
            master,
            backup,
            fault,
            stop,
            // An instance's, set below: a sync group has none.
            deleted: None,
            any,
            master_rx_lower_pri: None,
        })
}

/// A FIFO under `dir` (the two FIFOs of one configuration never share a path).
fn fifo(dir: &'static str) -> impl Strategy<Value = NotifyFifo> {
    (
        free_text(),
        option::of((name(), option::of(name()))),
        option::of(command()),
    )
        .prop_map(move |(path, owner, script)| NotifyFifo {
            path: format!("{dir}/{path}"),
            user: owner.as_ref().map(|(user, _)| user.clone()),
            group: owner.and_then(|(_, group)| group),
            script,
        })
}

fn garp() -> impl Strategy<Value = GarpSettings> {
    (
        0u32..100,
        0u32..10,
        0u32..100,
        0u32..10,
        0u32..10,
        0u32..100,
    )
        .prop_map(
            |(
                master_delay_s,
                master_repeat,
                master_refresh_s,
                master_refresh_repeat,
                lower_prio_repeat,
                lower_prio_delay_s,
            )| GarpSettings {
                master_delay_s,
                master_repeat,
                master_refresh_s,
                master_refresh_repeat,
                lower_prio_repeat,
                lower_prio_delay_s,
            },
        )
}

fn global() -> impl Strategy<Value = GlobalDefs> {
    (
        option::of(name()),
        2u8..=3,
        garp(),
        0u64..3_000_000,
        0u64..3_000_000,
        (0u8..=255, 1u16..0xff),
        any::<[bool; 5]>(),
        option::of((name(), option::of(name()))),
        option::of(fifo("/run/global")),
        option::of(fifo("/run/vrrp")),
    )
        .prop_map(
            |(
                router_id,
                vrrp_version,
                garp,
                garp_interval_us,
                gna_interval_us,
                (group4, group6),
                flags,
                script_user,
                notify_fifo,
                vrrp_notify_fifo,
            )| {
                GlobalDefs {
                    router_id,
                    vrrp_version,
                    garp,
                    garp_interval_us,
                    gna_interval_us,
                    mcast_group4: Ipv4Addr::new(224, 0, 0, group4),
                    mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, group6),
                    vrrp_strict: flags[0],
                    v3_checksum_as_v2: flags[1],
                    enable_script_security: flags[2],
                    script_user: script_user.map(|(user, group)| ScriptUser { user, group }),
                    notify_fifo,
                    vrrp_notify_fifo,
                    fifo_write_vrrp_states_on_reload: flags[4],
                }
            },
        )
}

fn script(index: usize) -> impl Strategy<Value = VrrpScript> {
    (
        free_text(),
        1u32..100,
        1u32..100,
        -253i32..=253,
        any::<bool>(),
        1u32..10,
        1u32..10,
        option::of((name(), option::of(name()))),
        any::<bool>(),
    )
        .prop_map(
            move |(
                script,
                interval_s,
                timeout_s,
                weight,
                weight_reverse,
                rise,
                fall,
                user,
                init_fail,
            )| VrrpScript {
                name: format!("chk{index}"),
                script,
                interval_s,
                timeout_s,
                weight,
                weight_reverse,
                rise,
                fall,
                user: user.as_ref().map(|(user, _)| user.clone()),
                group: user.and_then(|(_, group)| group),
                init_fail,
            },
        )
}

fn track_file(index: usize) -> impl Strategy<Value = TrackFile> {
    (
        free_text(),
        -254i32..=254,
        any::<bool>(),
        option::of((-1000i32..1000, any::<bool>())),
    )
        .prop_map(move |(path, weight, weight_reverse, init)| TrackFile {
            name: format!("file{index}"),
            path,
            weight,
            weight_reverse,
            init: init.map(|(value, overwrite)| TrackFileInit { value, overwrite }),
        })
}

fn track_process(index: usize) -> impl Strategy<Value = TrackProcess> {
    let matching = prop_oneof![
        Just((None, false)),
        Just((None, true)),
        Just((Some(ParamMatch::Exact), true)),
        Just((Some(ParamMatch::Partial), true)),
        Just((Some(ParamMatch::Initial), true)),
    ];
    (
        free_text(),
        vec(free_text(), 0..3),
        matching,
        (-254i32..=254, any::<bool>()),
        prop_oneof![
            Just((1u32, u32::MAX)),
            Just((0u32, 0u32)),
            (1u32..5, 0u32..5).prop_map(|(quorum, extra)| (quorum, quorum + extra)),
            (1u32..5).prop_map(|quorum| (quorum, u32::MAX)),
        ],
        (0u64..3_600_000_000, 0u64..3_600_000_000),
    )
        .prop_map(
            move |(process, params, (param_match, full_command), weight, quorum, delays)| {
                // Parameters need a way of matching them (the process line gives one).
                let param_match = if params.is_empty() {
                    param_match
                } else {
                    param_match.or(Some(ParamMatch::Exact))
                };
                TrackProcess {
                    name: format!("proc{index}"),
                    process,
                    full_command: full_command || param_match.is_some(),
                    params,
                    param_match,
                    weight: weight.0,
                    weight_reverse: weight.1,
                    quorum: quorum.0,
                    quorum_max: quorum.1,
                    fork_delay_us: delays.0,
                    terminate_delay_us: delays.1,
                }
            },
        )
}

/// Addresses of one family; `block` keeps VIPs and peers apart.
fn address(family: AddressFamily, block: u8) -> impl Strategy<Value = IpAddr> {
    any::<u16>().prop_map(move |host| match family {
        AddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::new(10, block, (host >> 8) as u8, host as u8)),
        AddressFamily::Ipv6 => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            u16::from(block),
            0,
            0,
            0,
            0,
            host,
        )),
    })
}

fn virtual_address(family: AddressFamily, block: u8) -> impl Strategy<Value = VirtualAddress> {
    (
        address(family, block),
        0..=family.max_prefix_len(),
        option::of(name()),
        option::of(name()),
    )
        .prop_map(|(address, prefix_len, dev, label)| {
            VirtualAddress::new(address, prefix_len).with_names(dev, label)
        })
}

/// A destination the kernel accepts: no host bits for IPv4.
fn prefix(family: AddressFamily, block: u8) -> impl Strategy<Value = Prefix> {
    (address(family, block), 0..=family.max_prefix_len()).prop_map(|(address, prefix_len)| {
        let address = match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(prefix_len))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            v6 => v6,
        };
        Prefix {
            address,
            prefix_len,
        }
    })
}

fn route_type() -> impl Strategy<Value = RouteType> {
    prop_oneof![
        Just(RouteType::Unicast),
        Just(RouteType::Blackhole),
        Just(RouteType::Unreachable),
        Just(RouteType::Prohibit),
        Just(RouteType::Throw),
        Just(RouteType::Local),
        Just(RouteType::Other(42)),
    ]
}

fn metrics() -> impl Strategy<Value = RouteMetrics> {
    (
        (
            option::of(0u32..10_000),
            any::<bool>(),
            option::of(1600u32..960_000),
        ),
        (
            option::of(200u32..120_000),
            option::of(0u32..=255),
            option::of(0u32..=1),
        ),
        (any::<bool>(), option::of("[a-z]{3,8}"), any::<bool>()),
    )
        .prop_map(
            |((mtu, lock_mtu, rtt), (rto_min, hoplimit, quickack), (ecn, congctl, lock_cc))| {
                let mut lock = 0;
                if lock_mtu && mtu.is_some() {
                    lock |= 1 << rtax::MTU;
                }
                if lock_cc && congctl.is_some() {
                    lock |= 1 << rtax::CC_ALGO;
                }
                RouteMetrics {
                    mtu,
                    rtt,
                    rto_min,
                    hoplimit,
                    quickack,
                    features_ecn: ecn,
                    congctl,
                    lock,
                    ..RouteMetrics::default()
                }
            },
        )
}

fn route(family: AddressFamily) -> impl Strategy<Value = Route> {
    let v4 = family == AddressFamily::Ipv4;
    (
        (
            route_type(),
            prefix(family, 5),
            option::of(prefix(family, 6)),
        ),
        (
            option::of(address(family, 7)),
            option::of(address(family, 8)),
            option::of(name()),
        ),
        (
            any::<u32>(),
            option::of(any::<u32>()),
            option::of(any::<u8>()),
            any::<u8>(),
        ),
        (
            any::<u8>(),
            any::<bool>(),
            option::of((any::<u8>(), any::<u8>())),
            option::of(any::<u32>()),
        ),
        (metrics(), option::of(0u8..=3), option::of(any::<bool>())),
        (
            vec(
                (
                    option::of(address(family, 9)),
                    option::of(name()),
                    option::of(1u16..=256),
                    any::<bool>(),
                ),
                0..3,
            ),
            prop_oneof![
                Just(RouteMode::Prepend),
                Just(RouteMode::Add),
                Just(RouteMode::Append)
            ],
            any::<bool>(),
        ),
    )
        .prop_map(
            move |(
                (kind, destination, from),
                (src, via, dev),
                (table, metric, scope, protocol),
                (tos, onlink, realms, expires),
                (metrics, pref, ttl_propagate),
                (hops, mode, track),
            )| {
                let track = track && dev.is_some();
                Route {
                    family,
                    kind,
                    destination,
                    from: if v4 { None } else { from },
                    src,
                    via,
                    dev,
                    table,
                    metric,
                    scope,
                    protocol: if track { PROTOCOL_KEEPALIVED } else { protocol },
                    tos,
                    onlink,
                    realms: if v4 {
                        realms.map(|(a, b)| u32::from(a) << 16 | u32::from(b))
                    } else {
                        None
                    },
                    expires: if v4 { None } else { expires },
                    metrics,
                    pref: if v4 { None } else { pref },
                    ttl_propagate,
                    nexthops: hops
                        .into_iter()
                        .map(|(via, dev, weight, onlink)| NextHop {
                            via,
                            dev,
                            weight,
                            onlink,
                            realms: None,
                        })
                        .collect(),
                    mode,
                    track,
                }
            },
        )
}

fn rule_action() -> impl Strategy<Value = RuleAction> {
    prop_oneof![
        (1u32..).prop_map(RuleAction::Table),
        (50_000u32..60_000).prop_map(RuleAction::Goto),
        Just(RuleAction::Nop),
        Just(RuleAction::Blackhole),
        Just(RuleAction::Unreachable),
        Just(RuleAction::Prohibit),
        Just(RuleAction::L3mdev),
    ]
}

fn rule(family: AddressFamily) -> impl Strategy<Value = Rule> {
    let v4 = family == AddressFamily::Ipv4;
    (
        (
            option::of(prefix(family, 10)),
            option::of(prefix(family, 11)),
            rule_action(),
        ),
        (
            0u32..50_000,
            any::<bool>(),
            any::<u8>(),
            option::of(any::<u32>()),
            option::of(any::<u32>()),
        ),
        (
            option::of((any::<u8>(), any::<u8>())),
            option::of(0u32..1000),
            option::of(0u32..1000),
        ),
        (
            option::of(name()),
            option::of(name()),
            option::of(any::<u64>()),
            option::of((any::<u32>(), any::<u32>())),
        ),
        (
            option::of(any::<u8>()),
            option::of(0u8..=127),
            option::of((any::<u16>(), any::<u16>())),
        ),
        any::<bool>(),
    )
        .prop_map(
            move |(
                (from, to, action),
                (priority, invert, tos, fwmark, fwmask),
                (realms, suppress_prefixlength, suppress_ifgroup),
                (iif, oif, tunnel_id, uid_range),
                (protocol, ip_proto, ports),
                track,
            )| {
                let table = matches!(action, RuleAction::Table(_));
                Rule {
                    family,
                    from,
                    to,
                    action,
                    priority,
                    invert,
                    tos,
                    fwmark,
                    fwmask: fwmark.and(fwmask),
                    realms: if v4 && table {
                        realms.map(|(a, b)| u32::from(a) << 16 | u32::from(b))
                    } else {
                        None
                    },
                    suppress_prefixlength: suppress_prefixlength.filter(|_| table),
                    suppress_ifgroup: suppress_ifgroup.filter(|_| table),
                    iif,
                    oif,
                    tunnel_id,
                    uid_range,
                    protocol: if track {
                        Some(PROTOCOL_KEEPALIVED)
                    } else {
                        protocol
                    },
                    ip_proto,
                    sport: ports.map(|(start, end)| PortRange { start, end }),
                    dport: ports.map(|(start, end)| PortRange {
                        start: end,
                        end: start,
                    }),
                    track,
                }
            },
        )
}

fn static_address() -> impl Strategy<Value = StaticAddress> {
    (
        any_family().prop_flat_map(|f| address(f, 12)),
        0u8..=32,
        name(),
        option::of(name()),
        any::<bool>(),
    )
        .prop_map(|(address, prefix_len, dev, label, track)| StaticAddress {
            address,
            prefix_len,
            dev,
            label,
            track,
        })
}

fn any_family() -> impl Strategy<Value = AddressFamily> {
    prop_oneof![Just(AddressFamily::Ipv4), Just(AddressFamily::Ipv6)]
}

fn instance(index: usize, script_count: usize) -> impl Strategy<Value = VrrpInstance> {
    (any_family(), any_family()).prop_flat_map(move |(family, excluded_family)| {
        let identity = (
            prop_oneof![
                Just("eth0".to_string()),
                Just("bond0.10".to_string()),
                name()
            ],
            prop_oneof![Just(2u8), Just(3u8)],
            prop_oneof![Just(InitialState::Master), Just(InitialState::Backup)],
            1u8..=254,
            1u32..=255,
            1u32..=4095,
            any::<[bool; 3]>(),
            0u32..1_000_000,
        );
        let addresses = (
            btree_set(address(family, 2), 0..3),
            any::<bool>(),
            option::of("[a-zA-Z0-9 #!\"]{1,8}"),
            vec(virtual_address(family, 1), 1..4),
            vec(virtual_address(excluded_family, 3), 0..3),
        );
        let tracking = (
            vec((name(), -253i32..=253, any::<bool>()), 0..3),
            vec(
                (0..script_count.max(1), -253i32..=253, any::<bool>()),
                0..=script_count.min(3),
            ),
            notify(),
            garp(),
        );
        let routing = (
            vec(any_family().prop_flat_map(route), 0..3),
            vec(any_family().prop_flat_map(rule), 0..3),
        );
        let ttl = (
            // 0 cannot be sent over IPv4.
            option::of(1u8..=255),
            option::of(any::<(u8, u8)>()),
            any::<[bool; 2]>(),
            1u8..=100,
        );
        (identity, addresses, tracking, routing, ttl).prop_map(
            move |(
                (interface, version, state, priority, advert_s, advert_cs, flags, preempt_delay_ms),
                (peers, with_source, password, vips, excluded),
                (track_interfaces, track_scripts, notify, garp),
                (virtual_routes, virtual_rules),
                (unicast_ttl, first_peer_ttl, advert_flags, down_timer_adverts),
            )| {
                let version = if family == AddressFamily::Ipv6 {
                    3
                } else {
                    version
                };
                let unicast_peers: Vec<IpAddr> = peers.into_iter().collect();
                let unicast_peer_ttl = unicast_peers
                    .first()
                    .zip(first_peer_ttl)
                    .map(|(peer, (a, b))| {
                        (
                            *peer,
                            PeerTtl {
                                min: a.min(b),
                                max: a.max(b),
                            },
                        )
                    })
                    .into_iter()
                    .collect();
                let unicast_src_ip =
                    (with_source && !unicast_peers.is_empty()).then(|| match family {
                        AddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
                        AddressFamily::Ipv6 => {
                            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9))
                        }
                    });
                let unicast = !unicast_peers.is_empty();
                VrrpInstance {
                    name: format!("VI_{index}"),
                    interface,
                    virtual_router_id: u8::try_from(index + 1).unwrap_or(255),
                    family,
                    version,
                    state,
                    priority,
                    advert_int_ms: if version == 2 {
                        advert_s * 1000
                    } else {
                        advert_cs * 10
                    },
                    // keepalived clears nopreempt on a MASTER, so only a BACKUP keeps it.
                    nopreempt: flags[0] && state == InitialState::Backup,
                    // keepalived clears a preempt_delay that cannot work:
                    // with state MASTER or nopreempt.
                    preempt_delay_ms: if state == InitialState::Backup && !flags[0] {
                        preempt_delay_ms
                    } else {
                        0
                    },
                    accept: flags[1],
                    unicast_src_ip,
                    unicast_peers,
                    unicast_peer_ttl,
                    unicast_ttl,
                    strict: false,
                    lower_prio_no_advert: advert_flags[0],
                    higher_prio_send_advert: advert_flags[1],
                    down_timer_adverts,
                    auth_pass: if version == 2 { password } else { None },
                    virtual_ipaddresses: vips,
                    virtual_ipaddresses_excluded: excluded,
                    track_interfaces: track_interfaces
                        .into_iter()
                        .map(|(name, weight, reverse)| TrackedInterface {
                            name,
                            weight,
                            reverse,
                        })
                        .collect(),
                    track_scripts: if script_count == 0 {
                        Vec::new()
                    } else {
                        track_scripts
                            .into_iter()
                            .map(|(script, weight, reverse)| TrackedScript {
                                name: format!("chk{script}"),
                                weight,
                                reverse,
                            })
                            .collect()
                    },
                    notify: NotifyScripts {
                        deleted: if flags[0] != flags[1] {
                            notify.stop.clone()
                        } else {
                            None
                        },
                        master_rx_lower_pri: if flags[2] {
                            notify.master.clone()
                        } else {
                            None
                        },
                        ..notify
                    },
                    garp,
                    dont_track_primary: flags[2],
                    notify_priority_changes: flags[1] != flags[2],
                    notify_deleted: flags[0] != flags[1],
                    // Derived from what was drawn: a VMAC on a third of the
                    // instances, its MAC given on half of those; unicast
                    // needs vmac_xmit_base.
                    vmac: (priority % 3 == 0).then(|| {
                        let vrid = u8::try_from(index + 1).unwrap_or(255);
                        let mac_given = priority % 2 == 0;
                        Vmac {
                            interface: format!("vm{index}"),
                            mac: if mac_given {
                                [0x02, 0x42, 0, 0, 7, vrid]
                            } else {
                                let family_octet =
                                    if family == AddressFamily::Ipv6 { 2 } else { 1 };
                                [0, 0, 0x5e, 0, family_octet, vrid]
                            },
                            mac_given,
                            xmit_base: with_source || unicast,
                        }
                    }),
                    track_files: Vec::new(),
                    track_processes: Vec::new(),
                    virtual_routes,
                    virtual_rules,
                }
            },
        )
    })
}

fn config() -> impl Strategy<Value = Config> {
    (0usize..3, 1usize..4).prop_flat_map(|(script_count, instance_count)| {
        let scripts: Vec<_> = (0..script_count).map(script).collect();
        let instances: Vec<_> = (0..instance_count)
            .map(|index| instance(index, script_count).boxed())
            .collect();
        // Boxed: the unboxed value trees of this many fields overflow a
        // test thread's stack in a debug build.
        (
            global().boxed(),
            scripts,
            instances,
            any::<bool>(),
            notify(),
            vec((name(), -253i32..=253, any::<bool>()), 0..2),
            (
                vec(static_address(), 0..3),
                vec(any_family().prop_flat_map(route), 0..3),
                vec(any_family().prop_flat_map(rule), 0..3),
            )
                .boxed(),
            (vec(0usize..3, 0..3), vec(-254i32..=254, 6)).prop_flat_map(|(used, weights)| {
                (
                    (0..2usize).map(track_file).collect::<Vec<_>>(),
                    (0..2usize).map(track_process).collect::<Vec<_>>(),
                    Just(used),
                    Just(weights),
                )
            }),
        )
            .prop_map(
                move |(
                    global,
                    scripts,
                    mut instances,
                    with_group,
                    group_notify,
                    group_tracks,
                    (static_addresses, static_routes, static_rules),
                    (track_files, track_processes, used, weights),
                )| {
                    // Each instance tracks some of the files and processes,
                    // with the section's weight or one of its own.
                    for (index, instance) in instances.iter_mut().enumerate() {
                        let pick = used.get(index).copied().unwrap_or(0);
                        instance.track_files = track_files
                            .iter()
                            .take(pick)
                            .map(|file| TrackedScript {
                                name: file.name.clone(),
                                weight: weights[index],
                                reverse: index % 2 == 1,
                            })
                            .collect();
                        instance.track_processes = track_processes
                            .iter()
                            .take(pick)
                            .map(|process| TrackedScript {
                                name: process.name.clone(),
                                weight: weights[index + 3],
                                reverse: index % 2 == 0,
                            })
                            .collect();
                    }
                    let sync_groups = if with_group {
                        vec![SyncGroup {
                            name: "G1".into(),
                            instances: instances
                                .iter()
                                .map(|instance| instance.name.clone())
                                .collect(),
                            track_interfaces: group_tracks
                                .into_iter()
                                .map(|(name, weight, reverse)| TrackedInterface {
                                    name,
                                    weight,
                                    reverse,
                                })
                                .collect(),
                            track_scripts: scripts
                                .iter()
                                .take(1)
                                .map(|script| TrackedScript {
                                    name: script.name.clone(),
                                    weight: 7,
                                    reverse: false,
                                })
                                .collect(),
                            track_files: track_files
                                .iter()
                                .take(1)
                                .map(|file| TrackedScript {
                                    name: file.name.clone(),
                                    weight: 0,
                                    reverse: true,
                                })
                                .collect(),
                            track_processes: track_processes
                                .iter()
                                .skip(1)
                                .map(|process| TrackedScript {
                                    name: process.name.clone(),
                                    weight: -5,
                                    reverse: false,
                                })
                                .collect(),
                            notify: group_notify,
                            // Without it the members' weights would be
                            // dropped on reading, which the property's
                            // members do not model.
                            tracking_weight: true,
                        }]
                    } else {
                        Vec::new()
                    };
                    let mut instances = instances;
                    if global.vrrp_strict {
                        // What strict mode allows: no lower-priority bursts,
                        // no accept with VRRPv2 for a non-owner, state
                        // MASTER only as the owner (never here), no unicast,
                        // no authentication, no preempt_delay, the RFC's
                        // answers to other priorities and its 3 adverts, no
                        // vmac_xmit_base.
                        for instance in &mut instances {
                            instance.strict = true;
                            instance.garp.lower_prio_repeat = 0;
                            instance.garp.lower_prio_delay_s = 0;
                            if instance.version == 2 && instance.priority != 255 {
                                instance.accept = false;
                            }
                            instance.state = InitialState::Backup;
                            instance.unicast_peers.clear();
                            instance.unicast_peer_ttl.clear();
                            instance.unicast_src_ip = None;
                            instance.auth_pass = None;
                            instance.preempt_delay_ms = 0;
                            instance.lower_prio_no_advert = true;
                            instance.higher_prio_send_advert = false;
                            instance.down_timer_adverts = 3;
                            if let Some(vmac) = &mut instance.vmac {
                                vmac.xmit_base = false;
                            }
                        }
                    }
                    Config {
                        global,
                        scripts,
                        track_files,
                        track_processes,
                        instances,
                        sync_groups,
                        static_addresses,
                        static_routes,
                        static_rules,
                    }
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_configuration_reads_back_the_same(config in config()) {
        let printed = config.to_keepalived_string();
        let read = load_str(&printed, "printed.conf", LoadOptions::default());
        let loaded = match read {
            Ok(loaded) => loaded,
            Err(errors) => panic!("{printed}\n{errors:#?}"),
        };
        prop_assert_eq!(&loaded.config, &config, "{}", printed);
        // And the printed form is stable.
        prop_assert_eq!(loaded.config.to_keepalived_string(), printed);
    }
}
