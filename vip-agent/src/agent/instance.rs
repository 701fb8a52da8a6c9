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

pub mod counters;
mod held;

pub use counters::{Counters, DiscardCause};
pub use held::Handed;
use held::{push_frames, push_vips, Held};

pub use super::spec::Spec;
use super::{
    effect::Effect,
    health::{self, Health, TrackerState},
    notify::{NotifyKind, NotifyState},
    system::SystemView,
};
use crate::{
    config::{GlobalDefs, VrrpInstance},
    control::InstanceStatus,
    net::{
        netlink::{Link, LinkEvent},
        vmac::VmacSpec,
        vrrp_socket::ReceivedPacket,
    },
    vrrp::{Action, Advertisement, Event, Instance, State, Timer, TransitionReason},
};

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

#[derive(Clone, Debug)]
struct Running {
    fsm: Instance,
    link: Link,
    source: IpAddr,
    /// The current Master, as far as this node knows.
    master: Option<IpAddr>,
    held: Option<Held>,
    /// Resigning Master: priority 0 was sent; the VIPs stay until the new
    /// Master's first advert, or this deadline.
    handover_until: Option<Duration>,
}

impl<'a> Context<'a> {
    /// From the core's parts, borrowed apart from its instances.
    pub fn of(system: &'a SystemView, options: &super::core::CoreOptions) -> Self {
        Self {
            system,
            vip_lifetime: options.vip_lifetime,
        }
    }
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
    pub resume_as_master: Option<TransitionReason>,
    /// Taken out of the election (`vip-agent resign`) until resumed.
    pub resigned: bool,
}

impl Slot {
    pub fn new(config: VrrpInstance, global: GlobalDefs) -> Self {
        Self {
            spec: Spec {
                config,
                global,
                sync_group: false,
            },
            run: None,
            health: Health::default(),
            counters: Counters::default(),
            note: None,
            resume_as_master: None,
            resigned: false,
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

    /// What the VMAC of the running instance needs (none without one).
    pub fn running_vmac_spec(&self) -> Option<VmacSpec> {
        let run = self.run.as_ref()?;
        self.spec.vmac_spec(&run.link, run.source)
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
        let advertised = self.spec.advertised_count(prepared.link.mtu);
        let configured = self.spec.config.virtual_ipaddresses.len();
        if advertised < configured {
            tracing::warn!(
                instance = %self.name(),
                interface = %prepared.link.name,
                mtu = prepared.link.mtu,
                configured,
                advertised,
                "more virtual addresses than one advert carries on this interface: the rest are \
                 installed but not advertised (as keepalived moves them to virtual_ipaddress_excluded)"
            );
        }
        let fsm = match Instance::new(self.spec.params(prepared.source, prepared.link.mtu)) {
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
            handover_until: None,
        });
        if self.health.weight != 0 {
            self.feed(Event::TrackerWeight(self.health.weight), ctx, now, out);
        }
        if self.health.fault() {
            self.health.fault_fed = true;
            self.feed(Event::FaultRaised, ctx, now, out);
        }
        if let Some(reason) = self.resume_as_master.take() {
            let actions = self
                .run
                .as_mut()
                .map(|r| r.fsm.resume_as_master_after(now, reason))
                .unwrap_or_default();
            self.carry_out(actions, ctx, now, out);
        } else {
            self.feed(Event::Start, ctx, now, out);
        }
    }

    /// A reload replaces this instance by one with the same interface, VRID
    /// and family while it is Master: step aside without resigning, removing
    /// only the VIPs, routes and rules the successor does not keep.
    /// Returns what is left installed for the successor.
    pub fn hand_over(
        &mut self,
        keep: &[IpAddr],
        successor: &VrrpInstance,
        out: &mut Vec<Effect>,
    ) -> Handed {
        let kept = self.remove_vips(keep, Some(successor), out);
        self.run = None;
        kept
    }

    /// Stops the instance: a Master resigns with priority 0 (RFC 5798 section
    /// 6.4.3 Shutdown) and releases its VIPs, except `keep`.
    pub fn stop(&mut self, ctx: &Context, now: Duration, keep: &[IpAddr], out: &mut Vec<Effect>) {
        self.stop_telling(Some(NotifyState::Stop), ctx, now, keep, out);
    }

    /// [`Self::stop`] for an instance a reload removed, told as keepalived
    /// tells it (clear_diff_vrrp): `DELETED` with `notify_deleted`, else
    /// `FAULT`, unless it was in FAULT already.
    pub fn delete(&mut self, ctx: &Context, now: Duration, keep: &[IpAddr], out: &mut Vec<Effect>) {
        let notice = if self.spec.config.notify_deleted {
            Some(NotifyState::Deleted)
        } else if self.state() == Some(State::Fault) {
            None
        } else {
            Some(NotifyState::Fault)
        };
        self.stop_telling(notice, ctx, now, keep, out);
    }

    fn stop_telling(
        &mut self,
        notice: Option<NotifyState>,
        ctx: &Context,
        now: Duration,
        keep: &[IpAddr],
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &mut self.run else {
            return;
        };
        // keepalived reports the priority the instance ran with.
        let priority = run.fsm.effective_priority();
        let actions = run.fsm.handle(Event::Shutdown, now);
        for action in actions {
            match action {
                Action::RemoveVips(_) => {
                    self.remove_vips(keep, None, out);
                }
                other => self.carry_out(vec![other], ctx, now, out),
            }
        }
        // Whatever the state machine did, nothing of ours stays installed.
        self.remove_vips(keep, None, out);
        if let Some(ifindex) = self.ifindex() {
            out.push(Effect::RemovePolicy {
                ifindex,
                vrid: self.spec.config.virtual_router_id,
                ipv6: self.spec.ipv6(),
            });
        }
        if let Some(notice) = notice {
            out.push(self.notify(notice, priority));
        }
        self.run = None;
    }

    /// Resigning Master that still holds its VIPs for the successor.
    pub fn handing_over(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|r| r.handover_until.is_some())
    }

    /// Takes the instance out of the election, make-before-break: a Master
    /// sends its priority-0 advert (RFC 5798 section 6.4.3 Shutdown) but
    /// keeps its VIPs and the fast path answering for them until it hears
    /// the new Master's first advert, at most one Master_Down_Interval
    /// (when every Backup would have taken over anyway); any other state
    /// stops at once.
    pub fn resign(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        self.resigned = true;
        let Some(run) = &mut self.run else {
            return;
        };
        if run.handover_until.is_some() {
            return;
        }
        if run.fsm.state() != State::Master || run.held.is_none() {
            self.stop(ctx, now, &[], out);
            return;
        }
        let bound = run.fsm.master_down_interval();
        let actions = run.fsm.handle(Event::Shutdown, now);
        let keep_vips = actions
            .into_iter()
            .filter(|a| !matches!(a, Action::RemoveVips(_)))
            .collect();
        self.carry_out(keep_vips, ctx, now, out);
        if let Some(run) = &mut self.run {
            run.handover_until = Some(now + bound);
            if let Some(held) = &mut run.held {
                held.announce = None;
            }
        }
        tracing::info!(
            instance = %self.name(),
            ?bound,
            "resigning: priority 0 sent, the VIPs stay until the new Master advertises"
        );
    }

    /// An advert that tells a resigning Master its successor is there:
    /// valid, this VRID, priority above 0, from another router (a peer, for
    /// unicast).
    fn is_successor_advert(&self, packet: &ReceivedPacket, source: IpAddr) -> bool {
        if !self.spec.multicast() && !self.spec.config.unicast_peers.contains(&packet.source) {
            return false;
        }
        match Advertisement::decode(&packet.payload, packet.source, packet.destination) {
            Ok((advert, _)) => {
                advert.vrid == self.spec.config.virtual_router_id
                    && advert.priority > 0
                    && packet.source != source
            }
            Err(_) => false,
        }
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        let run = self.run.as_ref()?;
        let held = run.held.as_ref();
        [
            run.handover_until,
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
        if run.handover_until.is_some_and(|t| t <= now) {
            tracing::info!(instance = %self.name(), "no new Master heard within Master_Down_Interval; releasing the VIPs");
            self.stop(ctx, now, &[], out);
            return;
        }
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
        if run.handover_until.is_some() {
            if self.is_successor_advert(packet, run.source) {
                tracing::info!(instance = %self.name(), master = %packet.source, "the new Master advertises; releasing the VIPs");
                self.stop(ctx, now, &[], out);
            }
            return;
        }
        // Multicast: to the group or to this router (the election checks a
        // unicast advert's source against the peers).
        if self.spec.multicast()
            && packet.destination != self.spec.group()
            && packet.destination != run.source
        {
            return;
        }
        let advert = match Advertisement::decode(&packet.payload, packet.source, packet.destination)
        {
            Ok((advert, _checksum)) => advert,
            Err(err) => {
                self.counters.discard(DiscardCause::of_decode_error(&err));
                tracing::debug!(instance = %self.name(), source = %packet.source, error = %err, "advert dropped");
                return;
            }
        };
        self.counters.adverts_received += 1;
        if advert.priority == 0 {
            self.counters.priority_zero_received += 1;
        }
        let before = self.counters.adverts_discarded;
        let was_master = run.fsm.state() == State::Master;
        let ours = run.fsm.effective_priority();
        let lower = advert.priority != 0
            && (advert.priority < ours || (advert.priority == ours && packet.source < run.source));
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
            // Another Master with a lower priority: keepalived tells its
            // FIFOs (MASTER_RX_LOWER_PRI), so a script can take back what
            // the other one took while the two did not hear each other.
            if accepted && lower && was_master && run.fsm.state() == State::Master {
                let priority = run.fsm.effective_priority();
                out.push(self.notify(NotifyState::MasterRxLowerPri, priority));
                self.announce_after_lower_priority(now, out);
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
                // Back under its name: the status stops saying it is gone.
                if self.note.as_deref() == Some(gone_note(&link.name).as_str()) {
                    self.note = None;
                }
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
            LinkEvent::Removed { name, .. } => {
                run.link.up = false;
                self.health.link_fault = !dont_track;
                self.set_note(gone_note(name));
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
        if self.run.is_none() || self.handing_over() {
            return;
        }
        if self.health.weight != self.health.weight_fed {
            self.health.weight_fed = self.health.weight;
            let before = self.run.as_ref().map(|r| r.fsm.effective_priority());
            self.feed(Event::TrackerWeight(self.health.weight), ctx, now, out);
            self.notify_priority_change(before, out);
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

    /// keepalived's `send_instance_priority_notifies`: with
    /// `notify_priority_changes`, a new effective priority goes to the
    /// FIFOs, as `MASTER_PRIORITY` from a Master and `BACKUP_PRIORITY` from
    /// any other state.
    fn notify_priority_change(&self, before: Option<u8>, out: &mut Vec<Effect>) {
        let Some(run) = &self.run else {
            return;
        };
        let now = run.fsm.effective_priority();
        if !self.spec.config.notify_priority_changes || before == Some(now) {
            return;
        }
        let state = if run.fsm.state() == State::Master {
            NotifyState::MasterPriority
        } else {
            NotifyState::BackupPriority
        };
        out.push(self.notify(state, now));
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
                Action::AddVips { accept, .. } => self.install_vips(ctx, now, accept, out),
                Action::RemoveVips(_) => {
                    self.remove_vips(&[], None, out);
                }
                Action::AnnounceVips(_) => self.schedule_announcements(now, out),
                Action::Notify { from, to, reason } => {
                    self.on_transition(from, to, reason, now, out)
                }
                Action::GroupReady => {
                    tracing::debug!(instance = %self.name(), "Master_Down_Timer expired; Master once its sync group is");
                }
                Action::Discard(reason) => {
                    self.counters.discard(DiscardCause::of_discard(&reason));
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
                    if advert.priority == 0 {
                        self.counters.priority_zero_sent += 1;
                    }
                    out.push(Effect::SendAdvert {
                        key: self.spec.socket_key(),
                        source: run.source,
                        destination,
                        ttl: self.spec.advert_ttl(),
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

    fn notify(&self, state: NotifyState, priority: u8) -> Effect {
        Effect::Notify {
            scripts: Box::new(self.spec.config.notify.clone()),
            // The global one in force now: a reload may have changed it.
            default_user: self.spec.global.script_user.clone(),
            kind: NotifyKind::Instance,
            name: self.spec.config.name.clone(),
            state,
            priority,
        }
    }

    fn on_transition(
        &mut self,
        from: State,
        to: State,
        reason: TransitionReason,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        let Some(run) = &mut self.run else {
            return;
        };
        self.counters.transition(from, to, reason, now);
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

    /// The state a notification would tell now, with the priority.
    pub fn notify_state(&self) -> Option<(NotifyState, u8)> {
        let run = self.run.as_ref()?;
        let state = match run.fsm.state() {
            State::Master => NotifyState::Master,
            State::Backup => NotifyState::Backup,
            State::Fault => NotifyState::Fault,
            State::Initialize => return None,
        };
        Some((state, run.fsm.effective_priority()))
    }

    /// Every configured VIP (`address/prefix`) and whether this instance
    /// holds it: installed by it and on its interface now.
    pub fn vips_held(&self, system: &SystemView) -> Vec<(String, bool)> {
        let placements = self.held().map(|h| h.placements.as_slice()).unwrap_or(&[]);
        self.spec
            .all_vips()
            .map(|v| {
                let held = placements.iter().any(|p| {
                    p.address == v.address
                        && p.prefix_len == v.prefix_len
                        && system.address(p.ifindex, p.address, p.prefix_len).is_some()
                });
                (format!("{}/{}", v.address, v.prefix_len), held)
            })
            .collect()
    }

    /// The state `status` reports: the state machine's, or RESIGNING while a
    /// Master hands over, RESIGNED or INIT while not running.
    pub fn state_label(&self) -> &'static str {
        match &self.run {
            Some(run) if run.handover_until.is_some() => "RESIGNING",
            Some(run) => state_name(run.fsm.state()),
            None if self.resigned => "RESIGNED",
            None => "INIT",
        }
    }

    /// The status as the system shows it: the VIPs count as held only while
    /// every one of them is on its interface.
    pub fn status(&self, system: &SystemView) -> InstanceStatus {
        let c = &self.spec.config;
        let state = self.state_label().to_string();
        let effective = match &self.run {
            Some(run) if run.handover_until.is_some() => 0,
            Some(run) => run.fsm.effective_priority(),
            None => c.priority,
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
            holds_vips: self.held().is_some_and(|h| {
                !h.placements.is_empty()
                    && h.placements
                        .iter()
                        .all(|p| system.address(p.ifindex, p.address, p.prefix_len).is_some())
            }),
            adverts_sent: self.counters.adverts_sent,
            adverts_received: self.counters.adverts_received,
            adverts_discarded: self.counters.adverts_discarded,
            became_master: self.counters.became_master,
            note: self.note.clone(),
            xdp: None,
        }
    }
}

/// What the status says of a running instance whose interface was deleted.
fn gone_note(interface: &str) -> String {
    format!("interface {interface} is gone; waiting for it to come back")
}

pub fn state_name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}
