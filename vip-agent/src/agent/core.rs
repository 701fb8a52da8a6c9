//! The agent's logic without I/O: every instance, the sockets they share,
//! tracker verdicts and the heartbeat, driven by inputs (packets, link and
//! address events, script verdicts, timers, executor feedback) at a time
//! the caller gives, answering with the [`Effect`]s to carry out in order.
//! The event loop ([`super::event_loop`]) feeds it; unit tests drive it on a
//! virtual clock.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::IpAddr,
    time::Duration,
};

use crate::{
    config::Config,
    dataplane::OwnedVip,
    net::{
        netlink::{Address, Link, LinkEvent, NetEvent},
        vmac::VmacSpec,
        vrrp_socket::ReceivedPacket,
    },
};

use super::{
    effect::{Effect, Feedback, SocketKey, SocketSpec},
    health,
    instance::{Context, Slot},
    notify::{NotifyKind, NotifyState},
    routing::Statics,
    scripts::ScriptResult,
    system::SystemView,
    trackers::TrackerReport,
};

/// How often instances that cannot start yet (missing interface or address,
/// a socket that failed to open) are retried, besides on every link and
/// address event.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Start-up time a restarted agent allows itself before its first advert,
/// in the decision to resume as Master (see `resumes_after_restart`).
pub const RESTART_ALLOWANCE: Duration = Duration::from_millis(250);

/// What a run that ended without a clean stop left: how long ago it last
/// beat, and the VIPs its fast path owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreviousRun {
    pub heartbeat_age: Duration,
    pub owned: Vec<OwnedVip>,
    /// Interfaces its pinned attachments ran on (taken over by this run).
    pub interfaces: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreOptions {
    /// Valid lifetime of installed VIPs; the Master refreshes them.
    pub vip_lifetime: Duration,
    /// XDP stops answering ARP/NS when the heartbeat is older than this.
    pub fence_bound: Duration,
}

/// A VMAC asked for: made (with its index), pending, or failed (asked for
/// again on the next retry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct VmacState {
    spec: VmacSpec,
    ifindex: Option<u32>,
    failed: bool,
}

pub struct Core {
    pub(super) options: CoreOptions,
    pub(super) config: Config,
    pub(super) system: SystemView,
    pub(super) slots: Vec<Slot>,
    /// Sockets the executor reported open, with the spec they were opened with.
    pub(super) sockets: BTreeMap<SocketKey, SocketSpec>,
    /// Sockets asked for and not answered yet.
    pub(super) requested: BTreeMap<SocketKey, SocketSpec>,
    /// The VMACs asked for, by name.
    pub(super) vmacs: BTreeMap<String, VmacState>,
    /// Verdict of every running `vrrp_script`.
    pub(super) scripts: HashMap<String, bool>,
    /// What the file and process trackers last reported.
    pub(super) observed: health::Observed,
    /// The tracker runners were started once (a reload does not overwrite
    /// an `init_file ... overwrite` file again).
    pub(super) trackers_started: bool,
    /// The state each instance was last notified in.
    pub(super) member_states: HashMap<String, NotifyState>,
    /// The state each sync group was last notified in.
    pub(super) group_states: BTreeMap<String, NotifyState>,
    /// The `static_*` addresses, routes and rules.
    pub(super) statics: Statics,
    next_heartbeat: Duration,
    next_retry: Duration,
}

impl Core {
    pub fn new(options: CoreOptions, system: SystemView) -> Self {
        Self {
            options,
            config: Config::default(),
            system,
            slots: Vec::new(),
            sockets: BTreeMap::new(),
            requested: BTreeMap::new(),
            vmacs: BTreeMap::new(),
            scripts: HashMap::new(),
            observed: health::Observed::default(),
            trackers_started: false,
            member_states: HashMap::new(),
            group_states: BTreeMap::new(),
            statics: Statics::default(),
            next_heartbeat: Duration::ZERO,
            next_retry: Duration::ZERO,
        }
    }

    /// The first configuration. An instance the previous run was Master of
    /// moments ago resumes as Master; what a crashed run left of the others
    /// goes; the static addresses, routes and rules go in; then the
    /// instances start.
    pub fn start(
        &mut self,
        config: Config,
        previous: Option<&PreviousRun>,
        now: Duration,
    ) -> Vec<Effect> {
        let restarted = self.restarted_masters(&config, previous);
        let mut out = self.remove_crash_leftovers(&config, &restarted);
        let unused = previous
            .iter()
            .flat_map(|p| p.interfaces.iter())
            .filter(|i| !config.instances.iter().any(|c| c.interface == **i))
            .map(|interface| Effect::DetachXdp {
                interface: interface.clone(),
            });
        out.extend(unused);
        out.extend(self.install(config, &restarted, now));
        self.with_groups(out)
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The configuration running.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn next_deadline(&self) -> Duration {
        self.slots
            .iter()
            .filter_map(Slot::next_deadline)
            .fold(self.next_heartbeat.min(self.next_retry), Duration::min)
    }

    /// Runs `f` on every slot with the context it acts in.
    fn each_slot(
        &mut self,
        mut f: impl FnMut(&mut Slot, &Context, &mut Vec<Effect>),
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        let ctx = Context::of(&self.system, &self.options);
        for slot in &mut self.slots {
            f(slot, &ctx, &mut out);
        }
        out
    }

    pub fn on_packet(
        &mut self,
        key: &SocketKey,
        packet: &ReceivedPacket,
        now: Duration,
    ) -> Vec<Effect> {
        let Some(&vrid) = packet.payload.get(1) else {
            return Vec::new();
        };
        let mut out = self.each_slot(|slot, ctx, out| {
            if slot.started()
                && slot.spec.socket_key() == *key
                && slot.spec.config.virtual_router_id == vrid
            {
                slot.on_packet(packet, ctx, now, out);
            }
        });
        out.extend(self.announce_sync_peers_after_lower_priority(&out, now));
        self.with_groups(out)
    }

    /// keepalived also announces the VIPs of the other Master members of the
    /// sync groups of an instance that heard a lower-priority Master.
    fn announce_sync_peers_after_lower_priority(
        &mut self,
        effects: &[Effect],
        now: Duration,
    ) -> Vec<Effect> {
        let heard: Vec<&str> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notify {
                    kind: NotifyKind::Instance,
                    name,
                    state: NotifyState::MasterRxLowerPri,
                    ..
                } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        if heard.is_empty() {
            return Vec::new();
        }
        let peers: BTreeSet<String> = self
            .config
            .sync_groups
            .iter()
            .filter(|g| g.instances.iter().any(|m| heard.contains(&m.as_str())))
            .flat_map(|g| g.instances.iter().cloned())
            .filter(|m| !heard.contains(&m.as_str()))
            .collect();
        self.each_slot(|slot, _, out| {
            if peers.contains(slot.name()) && slot.is_master() {
                slot.announce_after_lower_priority(now, out);
            }
        })
    }

    pub fn system(&self) -> &SystemView {
        &self.system
    }

    pub fn on_net_event(&mut self, event: &NetEvent, now: Duration) -> Vec<Effect> {
        self.system.apply(event);
        let mut out = Vec::new();
        match event {
            NetEvent::AddressRemoved { address, by } => {
                out.extend(self.each_slot(|slot, ctx, out| {
                    slot.on_address_removed(address, by, ctx, now, out)
                }));
                out.extend(self.statics.address_removed(
                    address.ifindex,
                    address.address,
                    address.prefix_len,
                    by,
                ));
            }
            NetEvent::RouteRemoved { route, by } => {
                let ctx = Context::of(&self.system, &self.options);
                let mut stepped = Vec::new();
                for slot in &mut self.slots {
                    if slot.on_route_removed(route, by, &ctx, now, &mut out) {
                        stepped.push(slot.name().to_string());
                    }
                }
                out.extend(self.step_down_sync_peers(&stepped, now));
                out.extend(self.statics.route_removed(route, by));
                return self.with_groups(out);
            }
            NetEvent::RuleRemoved { rule, by } => {
                let ctx = Context::of(&self.system, &self.options);
                let mut stepped = Vec::new();
                for slot in &mut self.slots {
                    if slot.on_rule_removed(rule, by, &ctx, now, &mut out) {
                        stepped.push(slot.name().to_string());
                    }
                }
                out.extend(self.step_down_sync_peers(&stepped, now));
                out.extend(self.statics.rule_removed(rule, by));
                return self.with_groups(out);
            }
            NetEvent::Link(crate::net::netlink::LinkEvent::Removed { ifindex, .. }) => {
                self.statics.link_removed(*ifindex);
            }
            NetEvent::Link(_) => out.extend(self.statics.install_pending(&self.system)),
            NetEvent::AddressAdded(_) => {}
        }
        if let NetEvent::Link(link_event) = event {
            use crate::net::netlink::LinkEvent;
            match link_event {
                LinkEvent::Removed { ifindex, name } => {
                    if self
                        .vmacs
                        .get(name)
                        .is_some_and(|v| v.ifindex == Some(*ifindex))
                    {
                        tracing::warn!(interface = %name, "a VMAC was deleted; making it again");
                        self.vmacs.remove(name);
                    }
                    out.push(Effect::ForgetXdp {
                        interface: name.clone(),
                    });
                    out.push(Effect::LinkGone { ifindex: *ifindex });
                    let gone: Vec<SocketKey> = self
                        .sockets
                        .keys()
                        .chain(self.requested.keys())
                        .filter(|k| k.interface == *name)
                        .cloned()
                        .collect();
                    for key in gone {
                        self.sockets.remove(&key);
                        self.requested.remove(&key);
                        out.push(Effect::CloseSocket { key });
                    }
                }
                LinkEvent::Changed(link) if link.up => {
                    // The interface may have been re-created: a new index
                    // needs a new socket and a new XDP attachment.
                    let started = || self.slots.iter().filter(|s| s.started());
                    if started().any(|s| s.spec.config.interface == link.name) {
                        out.push(Effect::AttachXdp {
                            interface: link.name.clone(),
                        });
                    }
                    self.ensure_sockets_on(link, &mut out);
                }
                LinkEvent::Changed(_) => {}
            }
            out.extend(self.each_slot(|slot, ctx, out| {
                if slot.spec.config.interface == link_name(link_event) {
                    slot.on_link_event(link_event, ctx, now, out);
                }
            }));
            self.ensure_lost_vmacs(&mut out);
        }
        out.extend(self.start_pending(now));
        out.extend(self.refresh_health(now));
        self.with_groups(out)
    }

    /// Link and address events were lost (the event socket overflowed);
    /// `links` and `addresses` were read afresh since. What changed
    /// meanwhile is taken in as the lost events would have been: a VIP
    /// removed is restored, a link that went down faults its instances.
    /// Returns the effects and how many changes were missed.
    pub fn resync(
        &mut self,
        links: Vec<Link>,
        addresses: Vec<Address>,
        now: Duration,
    ) -> (Vec<Effect>, usize) {
        let missed = self.system.missed_events(&links, &addresses);
        let mut out = Vec::new();
        for event in &missed {
            out.extend(self.on_net_event(event, now));
        }
        // Exactly the kernel's view, lifetimes included.
        self.system = SystemView::new(links, addresses);
        (out, missed.len())
    }

    /// keepalived's `set_vrrp_backup` also makes the other Masters of the
    /// sync groups of the instances in `stepped` step down.
    fn step_down_sync_peers(&mut self, stepped: &[String], now: Duration) -> Vec<Effect> {
        let peers: BTreeSet<String> = self
            .config
            .sync_groups
            .iter()
            .filter(|g| g.instances.iter().any(|m| stepped.contains(m)))
            .flat_map(|g| g.instances.iter().cloned())
            .filter(|m| !stepped.contains(m))
            .collect();
        self.each_slot(|slot, ctx, out| {
            if peers.contains(slot.name()) && slot.is_master() {
                tracing::info!(instance = %slot.name(), "a sync group peer stepped down; so does this instance");
                slot.step_down(ctx, now, out);
            }
        })
    }

    pub fn on_script(&mut self, result: ScriptResult, now: Duration) -> Vec<Effect> {
        self.scripts.insert(result.name, result.ok);
        let out = self.refresh_health(now);
        self.with_groups(out)
    }

    /// A file tracker's value or a process tracker's quorum changed.
    pub fn on_tracker(&mut self, report: TrackerReport, now: Duration) -> Vec<Effect> {
        match report {
            TrackerReport::File { name, value } => {
                self.observed.files.insert(name, value);
            }
            TrackerReport::Process { name, up } => {
                self.observed.processes.insert(name, up);
            }
        }
        let out = self.refresh_health(now);
        self.with_groups(out)
    }

    pub fn on_timers(&mut self, now: Duration) -> Vec<Effect> {
        let mut out = Vec::new();
        if now >= self.next_heartbeat {
            out.push(Effect::Heartbeat);
            // Four beats per bound: one late wakeup never fences a live agent.
            self.next_heartbeat = now + self.options.fence_bound / 4;
        }
        if now >= self.next_retry {
            self.next_retry = now + RETRY_INTERVAL;
            // A VMAC that could not be made is asked for again.
            self.vmacs.retain(|_, v| !v.failed);
            self.ensure_lost_vmacs(&mut out);
            out.extend(self.reopen_lost_sockets());
            if self.slots.iter().any(|s| !s.started()) {
                out.extend(self.start_pending(now));
            }
        }
        out.extend(self.each_slot(|slot, ctx, out| slot.on_timers(ctx, now, out)));
        out.extend(self.sync_groups_to_master(now));
        self.with_groups(out)
    }

    /// keepalived's `vrrp_sync_master`: a sync group whose members are all
    /// Master or ready to be (each one's Master_Down_Timer expired) goes
    /// Master as one; until then its ready members wait as Backup, so that
    /// one member lowered by a tracker does not take its VIPs to another
    /// router while the group's other VIPs stay here.
    fn sync_groups_to_master(&mut self, now: Duration) -> Vec<Effect> {
        let ready: BTreeSet<String> = self
            .config
            .sync_groups
            .iter()
            .filter(|group| group.instances.len() > 1)
            .filter(|group| {
                let members = || {
                    self.slots
                        .iter()
                        .filter(|s| group.instances.iter().any(|m| m == s.name()))
                };
                members().count() == group.instances.len()
                    && members().any(Slot::wants_master)
                    && members().all(|s| s.is_master() || s.wants_master())
            })
            .flat_map(|group| group.instances.iter().cloned())
            .collect();
        if ready.is_empty() {
            return Vec::new();
        }
        self.each_slot(|slot, ctx, out| {
            if ready.contains(slot.name()) && slot.state() == Some(crate::vrrp::State::Backup) {
                tracing::info!(instance = %slot.name(), "its sync group goes Master");
                slot.group_master(ctx, now, out);
            }
        })
    }

    pub fn feedback(&mut self, feedback: Feedback, now: Duration) -> Vec<Effect> {
        match feedback {
            Feedback::SocketOpened { key, spec } => {
                if self.requested.get(&key) == Some(&spec) {
                    self.requested.remove(&key);
                    self.sockets.insert(key, spec);
                }
                let mut out = self.start_pending(now);
                out.extend(self.refresh_health(now));
                self.with_groups(out)
            }
            Feedback::SocketFailed { key, error } => {
                self.requested.remove(&key);
                self.sockets.remove(&key);
                for slot in &mut self.slots {
                    if !slot.started() && slot.spec.socket_key() == key {
                        slot.set_note(format!("cannot open the VRRP socket: {error}"));
                    }
                }
                Vec::new()
            }
            Feedback::RouteFailed { route } => {
                self.statics.route_failed(&route);
                Vec::new()
            }
            Feedback::StaticAddressFailed { ifindex, address } => {
                self.statics.address_failed(ifindex, address);
                Vec::new()
            }
            Feedback::VmacReady { link } => {
                match self.vmacs.get_mut(&link.name) {
                    Some(vmac) => {
                        vmac.ifindex = Some(link.ifindex);
                        vmac.failed = false;
                    }
                    // Not wanted any more (a reload in between).
                    None => return Vec::new(),
                }
                // The executor saw it made; the link events follow.
                self.system
                    .apply(&NetEvent::Link(LinkEvent::Changed(link.clone())));
                let mut out = Vec::new();
                self.ensure_sockets_on(&link, &mut out);
                out.extend(self.start_pending(now));
                out.extend(self.refresh_health(now));
                self.with_groups(out)
            }
            Feedback::VmacFailed { name, error } => {
                if let Some(vmac) = self.vmacs.get_mut(&name) {
                    vmac.failed = true;
                }
                for slot in &mut self.slots {
                    if slot
                        .spec
                        .config
                        .vmac
                        .as_ref()
                        .is_some_and(|v| v.interface == name)
                    {
                        slot.set_note(format!("cannot make the VMAC {name}: {error}"));
                    }
                }
                Vec::new()
            }
            Feedback::XdpFailed { interface, error } => {
                for slot in &mut self.slots {
                    if slot.spec.config.interface == interface {
                        slot.set_note(format!("XDP: {error}"));
                    }
                }
                Vec::new()
            }
        }
    }

    /// The instances `name` designates: that one, or every one for `None`.
    fn designated(&self, name: Option<&str>) -> Result<Vec<usize>, String> {
        let found: Vec<usize> = (0..self.slots.len())
            .filter(|&i| name.is_none_or(|n| self.slots[i].name() == n))
            .collect();
        match name {
            Some(n) if found.is_empty() => Err(format!("no instance named {n}")),
            _ => Ok(found),
        }
    }

    /// `vip-agent resign [INSTANCE]`: out of the election, make-before-break.
    pub fn resign(&mut self, name: Option<&str>, now: Duration) -> Result<Vec<Effect>, String> {
        let chosen = self.designated(name)?;
        let mut out = Vec::new();
        let ctx = Context::of(&self.system, &self.options);
        for i in chosen {
            self.slots[i].resign(&ctx, now, &mut out);
        }
        Ok(self.with_groups(out))
    }

    /// `vip-agent resume [INSTANCE]`: back into the election, from Backup
    /// (or Master at once for an owner), as a fresh start.
    pub fn resume(&mut self, name: Option<&str>, now: Duration) -> Result<Vec<Effect>, String> {
        for i in self.designated(name)? {
            self.slots[i].resigned = false;
        }
        let mut out = self.start_pending(now);
        out.extend(self.refresh_health(now));
        Ok(self.with_groups(out))
    }

    /// SIGTERM: every instance resigns, make-before-break; the agent stops
    /// once [`Core::handing_over`] is false.
    pub fn begin_shutdown(&mut self, now: Duration) -> Vec<Effect> {
        // keepalived ends the FIFO scripts first; other readers still get
        // the STOP lines.
        let mut out = vec![Effect::EndFifoScripts];
        out.extend(self.each_slot(|slot, ctx, out| slot.resign(ctx, now, out)));
        self.with_groups(out)
    }

    /// Sockets were asked for and the executor has not answered yet.
    pub fn sockets_pending(&self) -> bool {
        !self.requested.is_empty()
    }

    /// A resigning Master still holds its VIPs for its successor.
    pub fn handing_over(&self) -> bool {
        self.slots.iter().any(Slot::handing_over)
    }

    /// The end: whatever still runs stops at once (a Master resigns with
    /// priority 0), VIPs go, sockets close, scripts stop.
    pub fn shutdown(&mut self, now: Duration) -> Vec<Effect> {
        let mut out = vec![Effect::EndFifoScripts];
        out.extend(self.each_slot(|slot, ctx, out| slot.stop(ctx, now, &[], out)));
        let mut out = self.with_groups(out);
        self.slots.clear();
        out.extend(self.remove_unused_vmacs());
        // keepalived clears the static entries after the instances.
        out.extend(self.statics.remove_all());
        let keys: BTreeSet<SocketKey> = self
            .sockets
            .keys()
            .chain(self.requested.keys())
            .cloned()
            .collect();
        self.sockets.clear();
        self.requested.clear();
        out.extend(keys.into_iter().map(|key| Effect::CloseSocket { key }));
        out.push(Effect::RunScripts {
            scripts: Vec::new(),
            default_user: None,
        });
        out.push(Effect::CloseFifos);
        out
    }

    /// `effects` with the notifications of the sync groups whose state
    /// they change, each after the instance notification that changed it
    /// (before it for a group's first state, as keepalived announces a
    /// group before its members at start).
    pub(super) fn with_groups(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut out = Vec::with_capacity(effects.len());
        for effect in effects {
            let member = match &effect {
                Effect::Notify {
                    kind: NotifyKind::Instance,
                    name,
                    state,
                    ..
                } if state.is_state() => Some((name.clone(), *state)),
                _ => None,
            };
            let Some((name, state)) = member else {
                out.push(effect);
                continue;
            };
            self.member_states.insert(name.clone(), state);
            let mut before = Vec::new();
            let mut after = Vec::new();
            for group in self
                .config
                .sync_groups
                .iter()
                .filter(|g| g.instances.contains(&name))
            {
                let previous = self.group_states.get(&group.name).copied();
                let Some(next) = health::group_state(group, &self.member_states) else {
                    continue;
                };
                if previous == Some(next) {
                    continue;
                }
                self.group_states.insert(group.name.clone(), next);
                let notify = self.group_notify(group, next);
                if previous.is_none() {
                    before.push(notify);
                } else {
                    after.push(notify);
                }
            }
            out.extend(before);
            out.push(effect);
            out.extend(after);
        }
        self.group_ownership_first(out)
    }

    /// A sync group's XDP ownership moves as one: the ownership changes of
    /// every member's VIPs in a batch go before the batch's first frame
    /// (an advert, priority 0 included, a gratuitous ARP, an NA). The
    /// executor writes them in a row, and no router hears of the group's
    /// change, and takes a member over, while another member's VIP still
    /// answers here as before. Each instance alone sends its priority-0
    /// advert first, as RFC 5798 section 6.4.3 orders it.
    fn group_ownership_first(&self, effects: Vec<Effect>) -> Vec<Effect> {
        let grouped: BTreeSet<IpAddr> = self
            .config
            .sync_groups
            .iter()
            .filter(|g| g.instances.len() > 1)
            .flat_map(|g| g.instances.iter())
            .filter_map(|name| self.config.instances.iter().find(|i| i.name == *name))
            .flat_map(|i| {
                i.virtual_ipaddresses
                    .iter()
                    .chain(&i.virtual_ipaddresses_excluded)
            })
            .map(|v| v.address)
            .collect();
        let moves = |e: &Effect| match e {
            Effect::SetOwned { vip, .. } | Effect::ClearOwned { vip, .. } => grouped.contains(vip),
            _ => false,
        };
        let is_frame =
            |e: &Effect| matches!(e, Effect::SendAdvert { .. } | Effect::SendFrames { .. });
        let Some(first_frame) = effects.iter().position(is_frame) else {
            return effects;
        };
        if !effects[first_frame..].iter().any(moves) {
            return effects;
        }
        let mut effects = effects;
        let tail = effects.split_off(first_frame);
        let (moved, rest): (Vec<Effect>, Vec<Effect>) = tail.into_iter().partition(moves);
        effects.extend(moved);
        effects.extend(rest);
        effects
    }

    pub(super) fn group_notify(
        &self,
        group: &crate::config::SyncGroup,
        state: NotifyState,
    ) -> Effect {
        Effect::Notify {
            scripts: Box::new(group.notify.clone()),
            default_user: self.config.global.script_user.clone(),
            kind: NotifyKind::Group,
            name: group.name.clone(),
            state,
            // keepalived tells a group's priority as 0.
            priority: 0,
        }
    }

    /// The socket `key` wants: on this interface index, joined to the
    /// multicast group when any instance on it is multicast.
    fn socket_spec(&self, key: &SocketKey, ifindex: u32) -> SocketSpec {
        let group = self
            .slots
            .iter()
            .find(|s| s.spec.socket_key() == *key && s.spec.multicast())
            .map(|s| s.spec.group());
        SocketSpec { ifindex, group }
    }

    /// Asks for the sockets the started instances on `link` need, at its
    /// current index (a re-created interface or a VMAC just made).
    fn ensure_sockets_on(&mut self, link: &crate::net::netlink::Link, out: &mut Vec<Effect>) {
        let keys: BTreeSet<SocketKey> = self
            .slots
            .iter()
            .filter(|s| s.started())
            .map(|s| s.spec.socket_key())
            .filter(|key| key.interface == link.name)
            .collect();
        for key in keys {
            self.ensure_socket(&key, link.ifindex, out);
        }
    }

    /// Asks for the socket unless it is open or asked for with that spec.
    /// Returns whether it is open already.
    fn ensure_socket(&mut self, key: &SocketKey, ifindex: u32, out: &mut Vec<Effect>) -> bool {
        let spec = self.socket_spec(key, ifindex);
        if self.sockets.get(key) == Some(&spec) {
            return true;
        }
        if self.requested.get(key) != Some(&spec) {
            self.requested.insert(key.clone(), spec);
            out.push(Effect::OpenSocket {
                key: key.clone(),
                spec,
            });
        }
        false
    }

    /// Starts every instance that is not running yet and can now. The
    /// instance's policy, then XDP, come before its socket, so every advert
    /// the socket sees has been validated.
    pub(super) fn start_pending(&mut self, now: Duration) -> Vec<Effect> {
        let mut out = Vec::new();
        for index in 0..self.slots.len() {
            if self.slots[index].started() || self.slots[index].resigned {
                continue;
            }
            let Some(prepared) = self.slots[index].prepare(&self.system) else {
                continue;
            };
            let socket_ifindex = match self.slots[index]
                .spec
                .vmac_spec(&prepared.link, prepared.source)
            {
                None => prepared.link.ifindex,
                Some(vmac) => {
                    // The VMAC first: the socket and the VIPs go on it.
                    let Some(vmac_ifindex) = self.ensure_vmac(vmac, &mut out) else {
                        continue;
                    };
                    if self.slots[index].spec.socket_vmac().is_some() {
                        vmac_ifindex
                    } else {
                        prepared.link.ifindex
                    }
                }
            };
            let spec = &self.slots[index].spec;
            let key = spec.socket_key();
            // The policy first: the program checks adverts from the moment
            // it is attached.
            out.push(Effect::SetPolicy {
                ifindex: prepared.link.ifindex,
                vrid: spec.config.virtual_router_id,
                ipv6: spec.ipv6(),
                policy: spec.policy(),
            });
            out.push(Effect::AttachXdp {
                interface: spec.config.interface.clone(),
            });
            if !self.ensure_socket(&key, socket_ifindex, &mut out) {
                // Starts when the executor reports the socket open.
                continue;
            }
            let ctx = Context::of(&self.system, &self.options);
            self.slots[index].start(prepared, &ctx, now, &mut out);
        }
        out
    }

    /// The index of the VMAC made for `spec`; else asks for it (unless it
    /// is asked for already) and returns `None`.
    fn ensure_vmac(&mut self, spec: VmacSpec, out: &mut Vec<Effect>) -> Option<u32> {
        if let Some(vmac) = self.vmacs.get(&spec.name) {
            if vmac.spec == spec {
                return vmac.ifindex;
            }
        }
        self.vmacs.insert(
            spec.name.clone(),
            VmacState {
                spec: spec.clone(),
                ifindex: None,
                failed: false,
            },
        );
        out.push(Effect::EnsureVmac(Box::new(spec)));
        None
    }

    /// Asks again for the VMAC of a running instance that lost it (deleted,
    /// or gone with its base), once its base is there.
    fn ensure_lost_vmacs(&mut self, out: &mut Vec<Effect>) {
        let wanted: Vec<VmacSpec> = self
            .slots
            .iter()
            .filter_map(|s| s.running_vmac_spec())
            .filter(|spec| self.system.link(spec.base_ifindex).is_some())
            .collect();
        for spec in wanted {
            self.ensure_vmac(spec, out);
        }
    }

    /// VMACs no instance uses any more go.
    pub(super) fn remove_unused_vmacs(&mut self) -> Vec<Effect> {
        let used: BTreeSet<&str> = self
            .slots
            .iter()
            .filter_map(|s| s.spec.config.vmac.as_ref())
            .map(|v| v.interface.as_str())
            .collect();
        let unused: Vec<String> = self
            .vmacs
            .keys()
            .filter(|name| !used.contains(name.as_str()))
            .cloned()
            .collect();
        unused
            .into_iter()
            .map(|name| {
                self.vmacs.remove(&name);
                Effect::RemoveVmac { name }
            })
            .collect()
    }

    /// The index the instance's socket is opened on: its VMAC's, or its
    /// interface's.
    fn socket_ifindex(&self, slot: &Slot) -> Option<u32> {
        match slot.spec.socket_vmac() {
            Some(vmac) => self.vmacs.get(&vmac.interface)?.ifindex,
            None => slot.ifindex(),
        }
    }

    /// Sockets no running or starting instance uses any more.
    pub(super) fn close_unused_sockets(&mut self) -> Vec<Effect> {
        let used: BTreeSet<SocketKey> = self
            .slots
            .iter()
            .filter(|s| s.started())
            .map(|s| s.spec.socket_key())
            .collect();
        let unused: Vec<SocketKey> = self
            .sockets
            .keys()
            .filter(|k| !used.contains(*k) && !self.requested.contains_key(*k))
            .cloned()
            .collect();
        unused
            .into_iter()
            .map(|key| {
                self.sockets.remove(&key);
                Effect::CloseSocket { key }
            })
            .collect()
    }

    /// Asks again for the socket of a running instance that has none (its
    /// re-opening failed). An interface that is gone gets its socket when it
    /// comes back, from the link event.
    fn reopen_lost_sockets(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        let lost: BTreeMap<SocketKey, u32> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.spec.socket_key(), self.socket_ifindex(s)?)))
            .filter(|(_, ifindex)| self.system.link(*ifindex).is_some())
            .filter(|(key, _)| !self.sockets.contains_key(key) && !self.requested.contains_key(key))
            .collect();
        for (key, ifindex) in lost {
            self.ensure_socket(&key, ifindex, &mut out);
        }
        out
    }

    /// Re-opens open sockets whose spec changed (a new multicast group).
    pub(super) fn reopen_changed_sockets(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        let open: Vec<(SocketKey, SocketSpec)> =
            self.sockets.iter().map(|(k, s)| (k.clone(), *s)).collect();
        for (key, spec) in open {
            let used = self.slots.iter().any(|s| s.spec.socket_key() == key);
            if used && self.socket_spec(&key, spec.ifindex) != spec {
                self.sockets.remove(&key);
                self.ensure_socket(&key, spec.ifindex, &mut out);
            }
        }
        out
    }

    /// Recomputes every instance's tracker weight and fault (sync groups
    /// pass a member's fault on to the others) and tells the state machines.
    pub(super) fn refresh_health(&mut self, now: Duration) -> Vec<Effect> {
        for slot in &mut self.slots {
            let trackers = health::trackers_of(
                &slot.spec.config,
                &self.config,
                &self.system,
                &self.scripts,
                &self.observed,
            );
            slot.set_trackers(&trackers);
        }
        for slot in &mut self.slots {
            slot.health.vmac_fault = slot.spec.config.vmac.as_ref().is_some_and(|v| {
                let made = self.vmacs.get(&v.interface).and_then(|m| m.ifindex);
                made.is_none_or(|ifindex| !self.system.link(ifindex).is_some_and(|l| l.up))
            });
        }
        let faulty: BTreeSet<String> = self
            .slots
            .iter()
            .filter(|s| s.started() && s.health.own_fault())
            .map(|s| s.name().to_string())
            .collect();
        let sync_faults = health::sync_faults(&self.config, &faulty);
        for slot in &mut self.slots {
            slot.health.sync_fault = sync_faults.contains(slot.name());
        }
        self.each_slot(|slot, ctx, out| slot.apply_health(ctx, now, out))
    }

    /// `effects` without the address changes that would touch an
    /// operator's address: one that is on the interface permanently (the
    /// agent only ever adds VIPs with a finite lifetime, so a permanent one
    /// is not its own) is never given a lifetime and never removed. Every
    /// effect the core decides passes through here on its way out.
    pub fn spare_permanent_addresses(&self, mut effects: Vec<Effect>) -> Vec<Effect> {
        effects.retain(|effect| match effect {
            Effect::AddVip {
                ifindex,
                address,
                prefix_len,
                ..
            }
            | Effect::DelVip {
                ifindex,
                address,
                prefix_len,
            } => self
                .system
                .address(*ifindex, *address, *prefix_len)
                .is_none_or(|a| a.valid_lft.is_some()),
            _ => true,
        });
        effects
    }

    /// The addresses some running instance holds.
    pub(super) fn held_vips(&self) -> BTreeSet<IpAddr> {
        self.slots.iter().flat_map(Slot::held_vips).collect()
    }
}

fn link_name(event: &crate::net::netlink::LinkEvent) -> &str {
    use crate::net::netlink::LinkEvent;
    match event {
        LinkEvent::Changed(link) => &link.name,
        LinkEvent::Removed { name, .. } => name,
    }
}
