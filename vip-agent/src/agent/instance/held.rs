//! The part of an instance that exists while it holds its VIPs: where each
//! is installed, the announcements planned for them, their next refresh.

use std::{net::IpAddr, time::Duration};

use super::{Context, Slot};
use crate::{
    agent::{announce::AnnounceSchedule, effect::Effect, routing::resolve_route},
    config::{Rule, VrrpInstance},
    net::{
        announce::{gratuitous_arp, unsolicited_na},
        netlink::{Address, Requester},
        routes::{self, RemovedRoute, RemovedRule, RouteSpec},
    },
    vrrp::{Event, State},
};

/// A VIP as installed: where, with which MAC, answered for where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub ifindex: u32,
    /// Its own interface's MAC: a VMAC's for an address on one.
    pub mac: [u8; 6],
    /// Where the fast path answers for it: the VMAC's base.
    pub xdp_ifindex: u32,
}

/// The instance holds its VIPs.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) placements: Vec<Placement>,
    /// One announcement frame per VIP that can be announced, with the
    /// interface it leaves on: the schedule's round.
    pub(super) frames: Vec<(u32, Vec<u8>)>,
    pub(super) announce: Option<AnnounceSchedule>,
    pub(super) next_vip_refresh: Duration,
    /// The virtual routes and rules installed with the VIPs.
    pub(super) routes: Vec<RouteSpec>,
    pub(super) rules: Vec<Rule>,
}

/// What a Master stepping aside for a successor (a reload) leaves installed
/// for it.
#[derive(Clone, Debug, Default)]
pub struct Handed {
    pub placements: Vec<Placement>,
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<Rule>,
}

impl Slot {
    /// Becoming Master: ownership into XDP first (so the fast path answers
    /// ARP/NS as soon as anyone asks), then the addresses.
    pub(super) fn install_vips(
        &mut self,
        ctx: &Context,
        now: Duration,
        accept: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &self.run else {
            return;
        };
        let mut placements = Vec::new();
        let config = &self.spec.config;
        for vip in self.spec.all_vips() {
            let installed_on = config.vip_interface(vip);
            let base = config.vip_base(vip);
            let on = |name: &str| {
                if name == config.interface {
                    Some(&run.link)
                } else {
                    ctx.system.link_by_name(name)
                }
            };
            let (Some(link), Some(base_link)) = (on(installed_on), on(base)) else {
                tracing::error!(instance = %self.name(), vip = %vip.address, dev = installed_on, "VIP interface does not exist");
                continue;
            };
            placements.push(Placement {
                address: vip.address,
                prefix_len: vip.prefix_len,
                label: vip.label().map(str::to_string),
                ifindex: link.ifindex,
                mac: link.mac,
                xdp_ifindex: base_link.ifindex,
            });
        }
        let vrid = self.spec.config.virtual_router_id;
        for p in &placements {
            out.push(Effect::SetOwned {
                ifindex: p.xdp_ifindex,
                vip: p.address,
                mac: p.mac,
                vrid,
                accept,
            });
        }
        push_vips(&placements, ctx.vip_lifetime, out);
        // keepalived's order: the VIPs, the virtual routes (which may use a
        // VIP as source), then the virtual rules.
        let mut routes = Vec::new();
        for route in &self.spec.config.virtual_routes {
            match resolve_route(route, ctx.system) {
                Ok(spec) => {
                    out.push(Effect::AddRoute(Box::new(spec.clone())));
                    routes.push(spec);
                }
                Err(why) => {
                    tracing::error!(instance = %self.name(), route = %route.destination, "virtual route not installed: {why}")
                }
            }
        }
        let rules = self.spec.config.virtual_rules.clone();
        for rule in &rules {
            out.push(Effect::AddRule(Box::new(rule.clone())));
        }
        let frames = placements
            .iter()
            .filter_map(|p| {
                let frame = match p.address {
                    IpAddr::V4(v4) => gratuitous_arp(p.mac, v4),
                    // A VMAC sending from its base has no link-local address.
                    IpAddr::V6(v6) => {
                        let source = ctx
                            .system
                            .link_local(p.ifindex)
                            .or_else(|| ctx.system.link_local(p.xdp_ifindex))?;
                        unsolicited_na(p.mac, source, v6)
                    }
                };
                Some((p.ifindex, frame))
            })
            .collect();
        if let Some(run) = &mut self.run {
            run.held = Some(Held {
                placements,
                frames,
                announce: None,
                next_vip_refresh: now + ctx.vip_lifetime / 3,
                routes,
                rules,
            });
        }
    }

    /// Leaving Master: the virtual rules, then the virtual routes go (the
    /// reverse of keepalived's order of installing them); then XDP stops
    /// answering, then the addresses go. Addresses in `keep` stay
    /// untouched: another instance takes them over; so do the routes and
    /// rules `successor` has too. Returns what was kept.
    pub(super) fn remove_vips(
        &mut self,
        keep: &[IpAddr],
        successor: Option<&VrrpInstance>,
        out: &mut Vec<Effect>,
    ) -> Handed {
        let Some(held) = self.run.as_mut().and_then(|r| r.held.take()) else {
            return Handed::default();
        };
        let (kept_rules, released_rules): (Vec<Rule>, Vec<Rule>) = held
            .rules
            .into_iter()
            .partition(|r| successor.is_some_and(|s| s.virtual_rules.contains(r)));
        for rule in released_rules {
            out.push(Effect::DelRule(Box::new(rule)));
        }
        let (kept_routes, released_routes): (Vec<RouteSpec>, Vec<RouteSpec>) = held
            .routes
            .into_iter()
            .partition(|r| successor.is_some_and(|s| s.virtual_routes.contains(&r.route)));
        for route in released_routes {
            out.push(Effect::DelRoute(Box::new(route)));
        }
        let (kept, released): (Vec<Placement>, Vec<Placement>) = held
            .placements
            .into_iter()
            .partition(|p| keep.contains(&p.address));
        for p in &released {
            out.push(Effect::ClearOwned {
                ifindex: p.xdp_ifindex,
                vip: p.address,
            });
        }
        for p in released {
            out.push(Effect::DelVip {
                ifindex: p.ifindex,
                address: p.address,
                prefix_len: p.prefix_len,
            });
        }
        Handed {
            placements: kept,
            routes: kept_routes,
            rules: kept_rules,
        }
    }

    /// The virtual routes and rules installed right now.
    pub fn held_routing(&self) -> (Vec<RouteSpec>, Vec<Rule>) {
        self.held()
            .map(|h| (h.routes.clone(), h.rules.clone()))
            .unwrap_or_default()
    }

    /// keepalived's `set_vrrp_backup` on a route removal: a Master whose
    /// tracked virtual route someone else removed steps down to Backup (and
    /// takes over again after Skew_Time unless another router does).
    /// Returns whether it stepped down.
    pub fn on_route_removed(
        &mut self,
        removed: &RemovedRoute,
        by: &Requester,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) -> bool {
        let lost = *by != Requester::Agent
            && self.state() == Some(State::Master)
            && self.held().is_some_and(|h| {
                h.routes
                    .iter()
                    .any(|spec| spec.route.track && routes::is_route(spec, removed, false))
            });
        if lost {
            tracing::warn!(
                instance = %self.name(),
                route = %removed.destination,
                prefix_len = removed.prefix_len,
                by = %by,
                "a virtual route was removed; stepping down to Backup, as keepalived does"
            );
            self.step_down(ctx, now, out);
        }
        lost
    }

    /// The same for a virtual rule.
    pub fn on_rule_removed(
        &mut self,
        removed: &RemovedRule,
        by: &Requester,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) -> bool {
        let lost = *by != Requester::Agent
            && self.state() == Some(State::Master)
            && self.held().is_some_and(|h| {
                h.rules
                    .iter()
                    .any(|rule| rule.track && routes::is_rule(rule, removed))
            });
        if lost {
            tracing::warn!(
                instance = %self.name(),
                priority = ?removed.priority,
                by = %by,
                "a virtual rule was removed; stepping down to Backup, as keepalived does"
            );
            self.step_down(ctx, now, out);
        }
        lost
    }

    /// A sync-group member ready to be Master ([`crate::vrrp::Instance::wants_master`]).
    pub fn wants_master(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.fsm.wants_master())
    }

    /// Goes Master with its sync group ([`Event::GroupMaster`]).
    pub fn group_master(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        self.feed(Event::GroupMaster, ctx, now, out);
    }

    /// Steps down from Master for a moment ([`Event::StepDown`]); a sync
    /// group's other Masters follow.
    pub fn step_down(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        if self.handing_over() {
            return;
        }
        self.feed(Event::StepDown, ctx, now, out);
    }

    /// Plans the announcements and sends the first slice with the decision
    /// itself: a client learns the new MAC before the new Master's first
    /// advert (which follows it) makes a resigning Master let go.
    pub(super) fn schedule_announcements(&mut self, now: Duration, out: &mut Vec<Effect>) {
        let garp = self.spec.config.garp;
        let spacing = self.spec.announce_spacing();
        if let Some(held) = self.run.as_mut().and_then(|r| r.held.as_mut()) {
            let mut schedule = AnnounceSchedule::start(now, garp, spacing, held.frames.len());
            push_frames(&held.frames, &schedule.take_due(now), out);
            held.announce = Some(schedule);
        }
    }

    /// A lower-priority Master was heard while this one is Master: announce
    /// again ([`AnnounceSchedule::lower_priority_heard`]).
    pub fn announce_after_lower_priority(&mut self, now: Duration, out: &mut Vec<Effect>) {
        if let Some(held) = self.run.as_mut().and_then(|r| r.held.as_mut()) {
            if let Some(schedule) = &mut held.announce {
                schedule.lower_priority_heard(now);
                push_frames(&held.frames, &schedule.take_due(now), out);
            }
        }
    }

    /// A reload kept this instance with other gratuitous ARP settings (its
    /// own, or the `global_defs` ones it inherits): a running Master's
    /// announcements follow them from now on.
    pub fn retune_announcements(&mut self, now: Duration) {
        let garp = self.spec.config.garp;
        let spacing = self.spec.announce_spacing();
        if let Some(schedule) = self
            .run
            .as_mut()
            .and_then(|r| r.held.as_mut())
            .and_then(|h| h.announce.as_mut())
        {
            schedule.retune(garp, spacing, now);
        }
    }

    /// A VIP this Master holds was removed from the interface by someone
    /// else: put it back at once and announce again. The agent's own
    /// removals (a leftover of a crashed run, a release) are no loss.
    pub fn on_address_removed(
        &mut self,
        removed: &Address,
        by: &Requester,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        if *by == Requester::Agent {
            return;
        }
        let Some(held) = self.run.as_ref().and_then(|r| r.held.as_ref()) else {
            return;
        };
        let Some(p) = held.placements.iter().find(|p| {
            p.ifindex == removed.ifindex
                && p.address == removed.address
                && p.prefix_len == removed.prefix_len
        }) else {
            return;
        };
        tracing::warn!(
            instance = %self.spec.config.name,
            vip = %p.address,
            ifindex = p.ifindex,
            by = %by,
            "a held VIP was removed from the interface; restoring it"
        );
        push_vips(std::slice::from_ref(p), ctx.vip_lifetime, out);
        // The kernel drops an IPv4 route using the address as its source
        // without a notification: the routes go back too.
        for route in &held.routes {
            out.push(Effect::AddRoute(Box::new(route.clone())));
        }
        self.schedule_announcements(now, out);
    }
}

/// Adds the VIPs, or renews their lifetime when they are there already.
pub(super) fn push_vips(placements: &[Placement], lifetime: Duration, out: &mut Vec<Effect>) {
    for p in placements {
        out.push(Effect::AddVip {
            ifindex: p.ifindex,
            address: p.address,
            prefix_len: p.prefix_len,
            label: p.label.clone(),
            lifetime,
        });
    }
}

/// The due frames of a round, one effect per run of frames on one interface.
pub(super) fn push_frames(frames: &[(u32, Vec<u8>)], due: &[usize], out: &mut Vec<Effect>) {
    let mut current: Option<(u32, Vec<Vec<u8>>)> = None;
    for &index in due {
        let (ifindex, frame) = &frames[index];
        match &mut current {
            Some((i, batch)) if i == ifindex => batch.push(frame.clone()),
            _ => {
                if let Some((ifindex, frames)) = current.take() {
                    out.push(Effect::SendFrames { ifindex, frames });
                }
                current = Some((*ifindex, vec![frame.clone()]));
            }
        }
    }
    if let Some((ifindex, frames)) = current {
        out.push(Effect::SendFrames { ifindex, frames });
    }
}
