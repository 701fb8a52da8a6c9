//! One configured `vrrp_instance` at run time: its state machine and what
//! its actions mean for the kernel, returned as [`Effect`]s. Nothing here
//! performs I/O; the link and address facts come from the [`SystemView`].
//!
//! A [`Slot`] is made of parts that change together: the [`Spec`] (what the
//! configuration says, fixed for the slot's life), [`Running`] (exists from
//! start to stop: state machine, link, source address), [`Held`] (exists
//! while the VIPs are installed: placements, announcements, refresh),
//! [`Health`] and the counters.

use std::{net::IpAddr, time::Duration};

use super::{
    announce::AnnounceSchedule,
    effect::{Effect, SocketKey},
    health::{self, Health, TrackerState},
    notify::NotifyState,
    system::SystemView,
};
use crate::{
    config::{
        AddressFamily, GlobalDefs, InitialState as ConfigInitialState, VirtualAddress, VrrpInstance,
    },
    control::InstanceStatus,
    dataplane::VrrpPolicy,
    net::{
        announce::{gratuitous_arp, unsolicited_na},
        netlink::{Link, LinkEvent},
        vrrp_socket::ReceivedPacket,
    },
    vrrp::{
        Action, Advertisement, Auth, ChecksumMode, Event, InitialState, Instance, Params,
        ProtocolVersion, State, Timer, TransitionReason,
    },
};

/// What the configuration says of an instance, with the global settings it
/// runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub config: VrrpInstance,
    pub global: GlobalDefs,
}

impl Spec {
    pub fn ipv6(&self) -> bool {
        self.config.family == AddressFamily::Ipv6
    }

    pub fn multicast(&self) -> bool {
        self.config.unicast_peers.is_empty()
    }

    pub fn group(&self) -> IpAddr {
        if self.ipv6() {
            IpAddr::V6(self.global.mcast_group6)
        } else {
            IpAddr::V4(self.global.mcast_group4)
        }
    }

    pub fn socket_key(&self) -> SocketKey {
        SocketKey {
            interface: self.config.interface.clone(),
            ipv6: self.ipv6(),
        }
    }

    /// The virtual addresses, excluded ones included (they are installed,
    /// only not advertised).
    pub fn all_vips(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.config
            .virtual_ipaddresses
            .iter()
            .chain(&self.config.virtual_ipaddresses_excluded)
    }

    /// Same virtual router (interface, VRID, family) under the same name:
    /// a reload that changes anything else replaces it by a successor.
    pub fn same_router(&self, other: &VrrpInstance) -> bool {
        self.config.name == other.name
            && self.config.interface == other.interface
            && self.config.virtual_router_id == other.virtual_router_id
            && self.config.family == other.family
    }

    fn params(&self, source: IpAddr) -> Params {
        let c = &self.config;
        let version = if c.version == 3 {
            ProtocolVersion::V3
        } else {
            ProtocolVersion::V2
        };
        let auth = match (&c.auth_pass, version) {
            (Some(pass), ProtocolVersion::V2) => Auth::simple_text(pass),
            _ => Auth::None,
        };
        Params {
            vrid: c.virtual_router_id,
            version,
            priority: c.priority,
            adver_int: Duration::from_millis(u64::from(c.advert_int_ms)),
            preempt: !c.nopreempt,
            preempt_delay: Duration::from_millis(u64::from(c.preempt_delay_ms)),
            accept_mode: c.accept,
            primary_address: source,
            vips: c.virtual_ipaddresses.iter().map(|v| v.address).collect(),
            initial_state: match c.state {
                ConfigInitialState::Master => InitialState::Master,
                ConfigInitialState::Backup => InitialState::Backup,
            },
            auth,
        }
    }

    /// What the fast path validates this instance's adverts against.
    pub fn policy(&self) -> VrrpPolicy {
        let auth_pass = match (&self.config.auth_pass, self.config.version) {
            (Some(pass), 2) => {
                let mut bytes = [0u8; 8];
                for (slot, byte) in bytes.iter_mut().zip(pass.bytes()) {
                    *slot = byte;
                }
                Some(bytes)
            }
            _ => None,
        };
        VrrpPolicy {
            version: self.config.version,
            auth_pass,
            peers: self.config.unicast_peers.clone(),
        }
    }

    fn checksum_mode(&self) -> ChecksumMode {
        if self.global.v3_checksum_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::Standard
        }
    }

    /// `vrrp_garp_interval` / `vrrp_gna_interval`.
    fn announce_spacing(&self) -> Duration {
        Duration::from_micros(if self.ipv6() {
            self.global.gna_interval_us
        } else {
            self.global.garp_interval_us
        })
    }
}

/// Found in the system view when an instance can start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub link: Link,
    pub source: IpAddr,
}

/// What an instance's effects depend on besides itself.
pub struct Context<'a> {
    pub system: &'a SystemView,
    /// Valid lifetime of installed VIPs; the Master refreshes them.
    pub vip_lifetime: Duration,
}

/// A VIP as installed: where, with which MAC for the fast path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub ifindex: u32,
    pub mac: [u8; 6],
}

/// The instance holds its VIPs.
#[derive(Clone, Debug)]
struct Held {
    placements: Vec<Placement>,
    /// One announcement frame per VIP that can be announced, with the
    /// interface it leaves on: the schedule's round.
    frames: Vec<(u32, Vec<u8>)>,
    announce: Option<AnnounceSchedule>,
    next_vip_refresh: Duration,
}

#[derive(Clone, Debug)]
struct Running {
    fsm: Instance,
    link: Link,
    source: IpAddr,
    /// The current Master, as far as this node knows.
    master: Option<IpAddr>,
    held: Option<Held>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub adverts_discarded: u64,
    pub became_master: u64,
}

#[derive(Clone, Debug)]
pub struct Slot {
    pub spec: Spec,
    run: Option<Running>,
    pub health: Health,
    pub counters: Counters,
    note: Option<String>,
    /// Set by a reload: the instance this one replaces was Master, so this
    /// one starts as Master instead of from Initialize.
    pub resume_as_master: bool,
}

impl Slot {
    pub fn new(config: VrrpInstance, global: GlobalDefs) -> Self {
        Self {
            spec: Spec { config, global },
            run: None,
            health: Health::default(),
            counters: Counters::default(),
            note: None,
            resume_as_master: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.config.name
    }

    pub fn started(&self) -> bool {
        self.run.is_some()
    }

    pub fn is_master(&self) -> bool {
        self.state() == Some(State::Master)
    }

    pub fn state(&self) -> Option<State> {
        self.run.as_ref().map(|r| r.fsm.state())
    }

    pub fn ifindex(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.link.ifindex)
    }

    /// The addresses installed right now.
    pub fn held_vips(&self) -> Vec<IpAddr> {
        self.held()
            .map(|h| h.placements.iter().map(|p| p.address).collect())
            .unwrap_or_default()
    }

    fn held(&self) -> Option<&Held> {
        self.run.as_ref().and_then(|r| r.held.as_ref())
    }

    pub fn set_note(&mut self, note: String) {
        if self.note.as_deref() != Some(note.as_str()) {
            tracing::warn!(instance = %self.name(), "{note}");
        }
        self.note = Some(note);
    }

    /// Looks up what starting needs; `None` (with a note) while something is
    /// missing, e.g. the interface does not exist yet.
    pub fn prepare(&mut self, system: &SystemView) -> Option<Prepared> {
        let interface = self.spec.config.interface.clone();
        let Some(link) = system.link_by_name(&interface).cloned() else {
            self.set_note(format!(
                "interface {interface} does not exist; waiting for it"
            ));
            return None;
        };
        let ipv6 = self.spec.ipv6();
        let vips: Vec<IpAddr> = self.spec.all_vips().map(|v| v.address).collect();
        let source = match self.spec.config.unicast_src_ip {
            Some(source) => Some(source),
            // RFC 5798 section 5.1.2.1/5.1.3.1: the primary address; for
            // IPv6 the link-local address.
            None if ipv6 => system.link_local(link.ifindex).map(IpAddr::V6),
            None => system
                .addresses(link.ifindex)
                .filter(|a| a.address.is_ipv4() && !a.secondary && !vips.contains(&a.address))
                .map(|a| a.address)
                .next(),
        };
        let Some(source) = source else {
            let what = if ipv6 { "IPv6 link-local" } else { "IPv4" };
            self.set_note(format!(
                "{interface} has no {what} address yet; waiting for one"
            ));
            return None;
        };
        Some(Prepared { link, source })
    }

    pub fn start(
        &mut self,
        prepared: Prepared,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        let fsm = match Instance::new(self.spec.params(prepared.source)) {
            Ok(fsm) => fsm,
            Err(err) => {
                self.set_note(format!("cannot run: {err}"));
                return;
            }
        };
        self.note = None;
        let c = &self.spec.config;
        tracing::info!(
            instance = %c.name,
            interface = %c.interface,
            vrid = c.virtual_router_id,
            version = c.version,
            priority = c.priority,
            source = %prepared.source,
            "instance starting"
        );
        self.health.link_fault = !prepared.link.up && !c.dont_track_primary;
        self.health.fault_fed = false;
        self.health.weight_fed = self.health.weight;
        self.run = Some(Running {
            fsm,
            link: prepared.link,
            source: prepared.source,
            master: None,
            held: None,
        });
        if self.health.weight != 0 {
            self.feed(Event::TrackerWeight(self.health.weight), ctx, now, out);
        }
        if self.health.fault() {
            self.health.fault_fed = true;
            self.feed(Event::FaultRaised, ctx, now, out);
        }
        if std::mem::take(&mut self.resume_as_master) {
            let actions = self
                .run
                .as_mut()
                .map(|r| r.fsm.resume_as_master(now))
                .unwrap_or_default();
            self.carry_out(actions, ctx, now, out);
        } else {
            self.feed(Event::Start, ctx, now, out);
        }
    }

    /// A reload replaces this instance by one with the same interface, VRID
    /// and family while it is Master: step aside without resigning, removing
    /// only the VIPs the successor does not keep.
    /// Returns the placements left installed for the successor.
    pub fn hand_over(&mut self, keep: &[IpAddr], out: &mut Vec<Effect>) -> Vec<Placement> {
        let kept = self.remove_vips(keep, out);
        self.run = None;
        kept
    }

    /// Stops the instance: a Master resigns with priority 0 (RFC 5798 section
    /// 6.4.3 Shutdown) and releases its VIPs, except `keep`.
    pub fn stop(&mut self, ctx: &Context, now: Duration, keep: &[IpAddr], out: &mut Vec<Effect>) {
        let Some(run) = &mut self.run else {
            return;
        };
        let actions = run.fsm.handle(Event::Shutdown, now);
        for action in actions {
            match action {
                Action::RemoveVips(_) => {
                    self.remove_vips(keep, out);
                }
                other => self.carry_out(vec![other], ctx, now, out),
            }
        }
        // Whatever the state machine did, nothing of ours stays installed.
        self.remove_vips(keep, out);
        if let Some(ifindex) = self.ifindex() {
            out.push(Effect::RemovePolicy {
                ifindex,
                vrid: self.spec.config.virtual_router_id,
                ipv6: self.spec.ipv6(),
            });
        }
        out.push(self.notify(NotifyState::Stop, self.spec.config.priority));
        self.run = None;
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        let run = self.run.as_ref()?;
        let held = run.held.as_ref();
        [
            run.fsm.timer_deadline(Timer::Adver),
            run.fsm.timer_deadline(Timer::MasterDown),
            held.and_then(|h| h.announce.as_ref()?.next_deadline()),
            held.map(|h| h.next_vip_refresh),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timers(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        let Some(run) = &self.run else {
            return;
        };
        let fired: Vec<Timer> = [Timer::Adver, Timer::MasterDown]
            .into_iter()
            .filter(|&timer| run.fsm.timer_deadline(timer).is_some_and(|d| d <= now))
            .collect();
        for timer in fired {
            self.feed(Event::TimerFired(timer), ctx, now, out);
        }
        let Some(held) = self.run.as_mut().and_then(|r| r.held.as_mut()) else {
            return;
        };
        if let Some(schedule) = &mut held.announce {
            let due = schedule.take_due(now);
            push_frames(&held.frames, &due, out);
        }
        if held.next_vip_refresh <= now {
            held.next_vip_refresh = now + ctx.vip_lifetime / 3;
            push_vips(&held.placements, ctx.vip_lifetime, out);
        }
    }

    pub fn on_packet(
        &mut self,
        packet: &ReceivedPacket,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &self.run else {
            return;
        };
        if !self.spec.multicast() {
            // Unicast: only the configured peers take part in the election.
            if !self.spec.config.unicast_peers.contains(&packet.source) {
                self.counters.adverts_discarded += 1;
                tracing::debug!(instance = %self.name(), source = %packet.source, "advert from a non-peer dropped");
                return;
            }
        } else if packet.destination != self.spec.group() && packet.destination != run.source {
            return;
        }
        let advert = match Advertisement::decode(&packet.payload, packet.source, packet.destination)
        {
            Ok((advert, _checksum)) => advert,
            Err(err) => {
                self.counters.adverts_discarded += 1;
                tracing::debug!(instance = %self.name(), source = %packet.source, error = %err, "advert dropped");
                return;
            }
        };
        self.counters.adverts_received += 1;
        let before = self.counters.adverts_discarded;
        let event = Event::Advert {
            advert,
            src: packet.source,
            ttl: packet.ttl,
        };
        self.feed(event, ctx, now, out);
        let accepted = self.counters.adverts_discarded == before;
        if let Some(run) = &mut self.run {
            if accepted && run.fsm.state() == State::Backup {
                run.master = Some(packet.source);
            }
        }
    }

    /// The instance's interface changed or went away.
    pub fn on_link_event(
        &mut self,
        event: &LinkEvent,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &mut self.run else {
            return;
        };
        let dont_track = self.spec.config.dont_track_primary;
        match event {
            LinkEvent::Changed(link) => {
                if run.link.ifindex != link.ifindex {
                    // Re-created: the fast path keys its policy by index.
                    out.push(Effect::SetPolicy {
                        ifindex: link.ifindex,
                        vrid: self.spec.config.virtual_router_id,
                        ipv6: self.spec.ipv6(),
                        policy: self.spec.policy(),
                    });
                }
                run.link = link.clone();
                self.health.link_fault = !link.up && !dont_track;
            }
            LinkEvent::Removed { .. } => {
                run.link.up = false;
                self.health.link_fault = !dont_track;
            }
        }
        self.apply_health(ctx, now, out);
    }

    /// Takes in the trackers' states, its sync groups' included.
    pub fn set_trackers(&mut self, trackers: &[TrackerState]) {
        let (weight, fault) = health::combine(trackers);
        self.health.tracker_fault = fault;
        self.health.weight = weight;
    }

    /// Tells the state machine what changed in priority and fault.
    pub fn apply_health(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        if self.run.is_none() {
            return;
        }
        if self.health.weight != self.health.weight_fed {
            self.health.weight_fed = self.health.weight;
            self.feed(Event::TrackerWeight(self.health.weight), ctx, now, out);
        }
        let fault = self.health.fault();
        if fault != self.health.fault_fed {
            self.health.fault_fed = fault;
            let event = if fault {
                Event::FaultRaised
            } else {
                Event::FaultCleared
            };
            self.feed(event, ctx, now, out);
        }
    }

    fn feed(&mut self, event: Event, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        let Some(run) = &mut self.run else {
            return;
        };
        let actions = run.fsm.handle(event, now);
        self.carry_out(actions, ctx, now, out);
    }

    fn carry_out(
        &mut self,
        actions: Vec<Action>,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        for action in actions {
            match action {
                Action::SendAdvert(advert) => self.send_advert(&advert, out),
                // The state machine keeps its own deadlines (Instance::timer_deadline).
                Action::ArmTimer { .. } | Action::CancelTimer(_) => {}
                Action::AddVips { .. } => self.install_vips(ctx, now, out),
                Action::RemoveVips(_) => {
                    self.remove_vips(&[], out);
                }
                Action::AnnounceVips(_) => self.schedule_announcements(now),
                Action::Notify { from, to, reason } => self.on_transition(from, to, reason, out),
                Action::Discard(reason) => {
                    self.counters.adverts_discarded += 1;
                    tracing::debug!(instance = %self.name(), ?reason, "advert discarded");
                }
            }
        }
    }

    fn send_advert(&mut self, advert: &Advertisement, out: &mut Vec<Effect>) {
        let Some(run) = &self.run else {
            return;
        };
        let destinations: Vec<IpAddr> = if self.spec.multicast() {
            vec![self.spec.group()]
        } else {
            self.spec.config.unicast_peers.clone()
        };
        for destination in destinations {
            match advert.encode(run.source, destination, self.spec.checksum_mode()) {
                Ok(payload) => {
                    self.counters.adverts_sent += 1;
                    out.push(Effect::SendAdvert {
                        key: self.spec.socket_key(),
                        source: run.source,
                        destination,
                        payload,
                    });
                }
                Err(err) => {
                    tracing::error!(instance = %self.name(), error = %err, "encoding the advert");
                    return;
                }
            }
        }
    }

    /// Becoming Master: ownership into XDP first (so the fast path answers
    /// ARP/NS as soon as anyone asks), then the addresses.
    fn install_vips(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        let Some(run) = &self.run else {
            return;
        };
        let mut placements = Vec::new();
        for vip in self.spec.all_vips() {
            let (ifindex, mac) = match vip.dev.as_deref() {
                Some(dev) if dev != self.spec.config.interface => {
                    match ctx.system.link_by_name(dev) {
                        Some(other) => (other.ifindex, other.mac),
                        None => {
                            tracing::error!(instance = %self.name(), vip = %vip.address, dev, "VIP interface does not exist");
                            continue;
                        }
                    }
                }
                _ => (run.link.ifindex, run.link.mac),
            };
            placements.push(Placement {
                address: vip.address,
                prefix_len: vip.prefix_len,
                label: vip.label.clone(),
                ifindex,
                mac,
            });
        }
        let vrid = self.spec.config.virtual_router_id;
        for p in &placements {
            out.push(Effect::SetOwned {
                ifindex: p.ifindex,
                vip: p.address,
                mac: p.mac,
                vrid,
            });
        }
        push_vips(&placements, ctx.vip_lifetime, out);
        let frames = placements
            .iter()
            .filter_map(|p| {
                let frame = match p.address {
                    IpAddr::V4(v4) => gratuitous_arp(p.mac, v4),
                    IpAddr::V6(v6) => unsolicited_na(p.mac, ctx.system.link_local(p.ifindex)?, v6),
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
            });
        }
    }

    /// Leaving Master: XDP stops answering first, then the addresses go.
    /// Addresses in `keep` stay untouched: another instance takes them over.
    /// Returns the placements kept.
    fn remove_vips(&mut self, keep: &[IpAddr], out: &mut Vec<Effect>) -> Vec<Placement> {
        let Some(held) = self.run.as_mut().and_then(|r| r.held.take()) else {
            return Vec::new();
        };
        let (kept, released): (Vec<Placement>, Vec<Placement>) = held
            .placements
            .into_iter()
            .partition(|p| keep.contains(&p.address));
        for p in &released {
            out.push(Effect::ClearOwned {
                ifindex: p.ifindex,
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
        kept
    }

    fn schedule_announcements(&mut self, now: Duration) {
        let garp = self.spec.config.garp;
        let spacing = self.spec.announce_spacing();
        if let Some(held) = self.run.as_mut().and_then(|r| r.held.as_mut()) {
            held.announce = Some(AnnounceSchedule::start(
                now,
                garp,
                spacing,
                held.frames.len(),
            ));
        }
    }

    fn notify(&self, state: NotifyState, priority: u8) -> Effect {
        Effect::Notify {
            scripts: Box::new(self.spec.config.notify.clone()),
            instance: self.spec.config.name.clone(),
            state,
            priority,
        }
    }

    fn on_transition(
        &mut self,
        from: State,
        to: State,
        reason: TransitionReason,
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &mut self.run else {
            return;
        };
        let priority = run.fsm.effective_priority();
        let c = &self.spec.config;
        tracing::info!(
            instance = %c.name,
            interface = %c.interface,
            vrid = c.virtual_router_id,
            from = state_name(from),
            to = state_name(to),
            reason = ?reason,
            priority,
            "state change"
        );
        let state = match to {
            State::Master => {
                self.counters.became_master += 1;
                run.master = Some(run.source);
                NotifyState::Master
            }
            State::Backup => {
                if from == State::Master {
                    run.master = None;
                }
                NotifyState::Backup
            }
            State::Fault => {
                run.master = None;
                NotifyState::Fault
            }
            State::Initialize => return,
        };
        out.push(self.notify(state, priority));
    }

    pub fn status(&self) -> InstanceStatus {
        let c = &self.spec.config;
        let (state, effective) = match &self.run {
            Some(run) => (
                state_name(run.fsm.state()).to_string(),
                run.fsm.effective_priority(),
            ),
            None => ("INIT".to_string(), c.priority),
        };
        InstanceStatus {
            name: c.name.clone(),
            interface: c.interface.clone(),
            ifindex: self.ifindex(),
            vrid: c.virtual_router_id,
            version: c.version,
            state,
            priority: c.priority,
            effective_priority: effective,
            master: self
                .run
                .as_ref()
                .and_then(|r| r.master)
                .map(|m| m.to_string()),
            vips: self
                .spec
                .all_vips()
                .map(|v| format!("{}/{}", v.address, v.prefix_len))
                .collect(),
            holds_vips: self.held().is_some_and(|h| !h.placements.is_empty()),
            adverts_sent: self.counters.adverts_sent,
            adverts_received: self.counters.adverts_received,
            adverts_discarded: self.counters.adverts_discarded,
            became_master: self.counters.became_master,
            note: self.note.clone(),
            xdp: None,
        }
    }
}

/// Adds the VIPs, or renews their lifetime when they are there already.
fn push_vips(placements: &[Placement], lifetime: Duration, out: &mut Vec<Effect>) {
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
fn push_frames(frames: &[(u32, Vec<u8>)], due: &[usize], out: &mut Vec<Effect>) {
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

pub fn state_name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}
