//! The agent's logic on a virtual clock: a [`Harness`] drives the [`Core`]
//! with inputs a test chooses (configurations written as keepalived.conf,
//! links and addresses, adverts from peers, script verdicts), answers its
//! socket requests as the executor would, and records every effect with
//! the time it was decided.

mod announcements;
mod counting;
mod handover;
mod health;
mod lifecycle;
mod lost_events;
mod notifications;
mod reload;
mod routing;

use std::{net::IpAddr, time::Duration};

use super::{
    core::{Core, CoreOptions, PreviousRun},
    effect::{Effect, Feedback, SocketKey},
    system::SystemView,
};
use crate::{
    config::{self, Config, LoadOptions},
    net::{
        netlink::{Address, Link, LinkEvent, NetEvent, Requester},
        vrrp_socket::ReceivedPacket,
    },
    vrrp::{Advertisement, Auth, ChecksumMode, State, Version},
};

pub const ETH0: u32 = 2;
pub const ETH1: u32 = 3;
pub const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 3];
pub const FENCE_BOUND: Duration = Duration::from_secs(2);
pub const VIP_LIFETIME: Duration = Duration::from_secs(9);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn parse(text: &str) -> Config {
    match config::load_str(text, "test.conf", LoadOptions::default()) {
        Ok(loaded) => loaded.config,
        Err(errors) => panic!("test configuration rejected: {errors:?}"),
    }
}

pub fn link(ifindex: u32, name: &str, mac: [u8; 6], up: bool) -> Link {
    Link {
        ifindex,
        name: name.to_string(),
        mac,
        up,
        mtu: 1500,
    }
}

pub fn address(ifindex: u32, addr: &str, prefix_len: u8, valid_lft: Option<u32>) -> Address {
    let address = ip(addr);
    Address {
        ifindex,
        address,
        prefix_len,
        label: None,
        valid_lft,
        link_scope: matches!(address, IpAddr::V6(v6) if v6.segments()[0] == 0xfe80),
        secondary: false,
    }
}

/// eth0 (10.0.0.1/24, fe80::1) and eth1 (192.168.1.1/24), both up.
pub fn two_interfaces() -> SystemView {
    SystemView::new(
        vec![
            link(ETH0, "eth0", MAC0, true),
            link(ETH1, "eth1", MAC1, true),
        ],
        vec![
            address(ETH0, "10.0.0.1", 24, None),
            address(ETH0, "fe80::1", 64, None),
            address(ETH1, "192.168.1.1", 24, None),
        ],
    )
}

/// A VRRPv2 instance on eth0 with one VIP, plus `extra` lines.
pub fn instance(name: &str, vrid: u8, priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  \
         advert_int 1\n  virtual_ipaddress {{\n    {vip}\n  }}\n{extra}\n}}\n"
    )
}

pub fn v4_key() -> SocketKey {
    SocketKey {
        interface: "eth0".to_string(),
        ipv6: false,
    }
}

pub struct Harness {
    pub core: Core,
    pub now: Duration,
    /// Every effect with the time it was decided.
    pub log: Vec<(Duration, Effect)>,
    /// Socket opens the fake executor refuses (by interface).
    pub refuse_sockets: Vec<String>,
    /// How long one wakeup of the loop takes on the virtual clock.
    pub wakeup_cost: Duration,
}

impl Harness {
    pub fn new(system: SystemView) -> Self {
        Self {
            core: Core::new(
                CoreOptions {
                    vip_lifetime: VIP_LIFETIME,
                    fence_bound: FENCE_BOUND,
                },
                system,
            ),
            now: Duration::ZERO,
            log: Vec::new(),
            refuse_sockets: Vec::new(),
            wakeup_cost: Duration::ZERO,
        }
    }

    /// A harness whose agent started `text` on [`two_interfaces`] at 0.
    pub fn started(text: &str) -> Self {
        let mut h = Self::new(two_interfaces());
        h.start(text);
        h
    }

    pub fn start(&mut self, text: &str) -> Vec<Effect> {
        self.start_after(text, None)
    }

    /// Starts `text` as a restarted agent whose previous run left `previous`.
    pub fn start_after(&mut self, text: &str, previous: Option<&PreviousRun>) -> Vec<Effect> {
        let effects = self.core.start(parse(text), previous, self.now);
        let effects = self.record(effects);
        self.now += self.wakeup_cost;
        effects
    }

    pub fn reload(&mut self, text: &str) -> Vec<Effect> {
        let effects = self.core.apply_config(parse(text), self.now);
        self.record(effects)
    }

    /// Logs the effects, answers socket requests as the executor does and
    /// reports address changes as the kernel's events would; returns
    /// everything decided, the answers' effects included.
    pub fn record(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut all = Vec::new();
        let mut pending = effects;
        while !pending.is_empty() {
            pending = self.core.spare_permanent_addresses(pending);
            let mut feedback = Vec::new();
            let mut events = Vec::new();
            for effect in &pending {
                match effect {
                    Effect::AddVip {
                        ifindex,
                        address: a,
                        prefix_len,
                        lifetime,
                        ..
                    } => events.push(NetEvent::AddressAdded(address(
                        *ifindex,
                        &a.to_string(),
                        *prefix_len,
                        Some(lifetime.as_secs() as u32),
                    ))),
                    Effect::DelVip {
                        ifindex,
                        address: a,
                        prefix_len,
                    }
                    | Effect::DelStaticAddress {
                        ifindex,
                        address: a,
                        prefix_len,
                    } => events.push(NetEvent::AddressRemoved {
                        address: address(*ifindex, &a.to_string(), *prefix_len, None),
                        by: Requester::Agent,
                    }),
                    Effect::AddStaticAddress {
                        ifindex,
                        address: a,
                        prefix_len,
                        ..
                    } => events.push(NetEvent::AddressAdded(address(
                        *ifindex,
                        &a.to_string(),
                        *prefix_len,
                        None,
                    ))),
                    _ => {}
                }
            }
            for effect in &pending {
                if let Effect::OpenSocket { key, spec } = effect {
                    feedback.push(if self.refuse_sockets.contains(&key.interface) {
                        Feedback::SocketFailed {
                            key: key.clone(),
                            error: "refused".to_string(),
                        }
                    } else {
                        Feedback::SocketOpened {
                            key: key.clone(),
                            spec: *spec,
                        }
                    });
                }
            }
            for effect in &pending {
                self.log.push((self.now, effect.clone()));
            }
            all.append(&mut pending);
            for fb in feedback {
                pending.extend(self.core.feedback(fb, self.now));
            }
            for event in events {
                pending.extend(self.core.on_net_event(&event, self.now));
            }
        }
        all
    }

    pub fn status(&self, name: &str) -> crate::control::InstanceStatus {
        self.slot(name).status(self.core.system())
    }

    /// Wakes the agent at every deadline up to `until` (each wakeup taking
    /// `wakeup_cost`), then sets the clock to `until`.
    pub fn run_until(&mut self, until: Duration) -> Vec<Effect> {
        let mut all = Vec::new();
        for _ in 0..10_000_000 {
            let deadline = self.core.next_deadline().max(self.now);
            if deadline > until {
                self.now = until;
                return all;
            }
            self.now = deadline;
            let effects = self.core.on_timers(self.now);
            all.extend(self.record(effects));
            self.now += self.wakeup_cost;
        }
        panic!("the agent never went idle before {until:?}");
    }

    pub fn net_event(&mut self, event: NetEvent) -> Vec<Effect> {
        let effects = self.core.on_net_event(&event, self.now);
        self.record(effects)
    }

    pub fn link_change(&mut self, link: Link) -> Vec<Effect> {
        self.net_event(NetEvent::Link(LinkEvent::Changed(link)))
    }

    /// A VRRPv2 advert from `source` to the IPv4 group.
    pub fn advert(&mut self, source: &str, vrid: u8, priority: u8, vips: &[&str]) -> Vec<Effect> {
        let advert = Advertisement {
            version: Version::V2 {
                adver_int_s: 1,
                auth: Auth::None,
            },
            vrid,
            priority,
            addresses: vips.iter().map(|v| ip(v)).collect(),
        };
        let destination = ip("224.0.0.18");
        let packet = ReceivedPacket {
            source: ip(source),
            destination,
            ttl: 255,
            payload: advert
                .encode(ip(source), destination, ChecksumMode::Standard)
                .unwrap(),
        };
        let effects = self.core.on_packet(&v4_key(), &packet, self.now);
        self.record(effects)
    }

    pub fn state(&self, name: &str) -> Option<State> {
        self.slot(name).state()
    }

    pub fn slot(&self, name: &str) -> &super::instance::Slot {
        self.core
            .slots()
            .iter()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("no instance {name}"))
    }

    /// Effects of the log matching `pick`, with their times.
    pub fn logged<T>(&self, pick: impl Fn(&Effect) -> Option<T>) -> Vec<(Duration, T)> {
        self.log
            .iter()
            .filter_map(|(t, e)| pick(e).map(|v| (*t, v)))
            .collect()
    }
}

/// The priority of an encoded advert.
pub fn advert_priority(payload: &[u8]) -> u8 {
    payload[2]
}

pub fn sent_adverts(effects: &[Effect]) -> Vec<(IpAddr, u8)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SendAdvert {
                destination,
                payload,
                ..
            } => Some((*destination, advert_priority(payload))),
            _ => None,
        })
        .collect()
}

pub fn frames_sent(effects: &[Effect]) -> usize {
    effects
        .iter()
        .map(|e| match e {
            Effect::SendFrames { frames, .. } => frames.len(),
            _ => 0,
        })
        .sum()
}

/// Position of the first effect matching `pick`.
pub fn position(effects: &[Effect], pick: impl Fn(&Effect) -> bool) -> Option<usize> {
    effects.iter().position(pick)
}

/// A sync group's XDP ownership moves as one: in `effects`, each of `vips`
/// changes ownership (SetOwned / ClearOwned), and every one of those
/// changes comes before the first frame sent (advert, gratuitous ARP, NA),
/// so no router hears of the change while a member's VIP still answers
/// here the old way.
pub fn assert_ownership_moves_before_frames(effects: &[Effect], vips: &[&str]) {
    let first_frame = position(effects, |e| {
        matches!(e, Effect::SendAdvert { .. } | Effect::SendFrames { .. })
    })
    .unwrap_or(effects.len());
    for vip in vips {
        let vip = ip(vip);
        let at = effects.iter().position(|e| {
            matches!(e, Effect::SetOwned { vip: v, .. } | Effect::ClearOwned { vip: v, .. } if *v == vip)
        });
        let at = at.unwrap_or_else(|| panic!("no ownership change of {vip}: {effects:?}"));
        assert!(
            at < first_frame,
            "the ownership of {vip} changes at {at}, after the first frame at {first_frame}: {effects:?}"
        );
    }
}
