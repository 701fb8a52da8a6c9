//! One configured `vrrp_instance` at run time: its state machine, and the
//! kernel side of its actions (adverts, VIPs, ARP/NA, XDP ownership).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    time::Duration,
};

use super::{fastpath::FastPath, notify, SocketEntry, SocketKey};
use crate::{
    config::{AddressFamily, GlobalDefs, InitialState as ConfigInitialState, VrrpInstance},
    control::InstanceStatus,
    dataplane::VrrpPolicy,
    net::{
        announce::{gratuitous_arp, unsolicited_na, FrameSender},
        netlink::{Link, LinkEvent, Netlink},
        vrrp_socket::ReceivedPacket,
    },
    vrrp::{
        Action, Advertisement, Auth, ChecksumMode, Event, InitialState, Instance, Params,
        ProtocolVersion, State, Timer, TransitionReason,
    },
};

/// What an instance needs of the agent to carry out its actions.
pub struct Io<'a> {
    pub netlink: &'a Netlink,
    pub fastpath: &'a mut FastPath,
    pub sockets: &'a HashMap<SocketKey, SocketEntry>,
    pub vip_lifetime: Duration,
}

/// Found on the system when an instance can start.
pub struct Prepared {
    pub link: Link,
    pub ipv6: bool,
    pub source: IpAddr,
    /// IPv6 link-local address, the source of unsolicited NAs.
    pub link_local: Option<Ipv6Addr>,
}

/// A VIP as installed: where, with which MAC for the fast path.
#[derive(Clone, Debug)]
struct Placement {
    address: IpAddr,
    prefix_len: u8,
    label: Option<String>,
    ifindex: u32,
    mac: [u8; 6],
}

/// A pending gratuitous ARP / NA transmission.
#[derive(Clone, Copy, Debug)]
struct Announcement {
    at: Duration,
    count: u32,
}

pub struct Slot {
    pub config: VrrpInstance,
    global: GlobalDefs,
    fsm: Option<Instance>,
    link: Option<Link>,
    source: Option<IpAddr>,
    link_local: Option<Ipv6Addr>,
    frames: Option<FrameSender>,
    installed: Vec<Placement>,
    announcements: Vec<Announcement>,
    next_garp_refresh: Option<Duration>,
    next_vip_refresh: Option<Duration>,
    master: Option<IpAddr>,
    note: Option<String>,
    /// Set by a reload: the instance this one replaces was Master, so this
    /// one starts as Master instead of from Initialize.
    pub resume_as_master: bool,
    /// The instance's own interface is down (unless `dont_track_primary`).
    link_fault: bool,
    /// A weight-0 tracker failed.
    tracker_fault: bool,
    /// Another member of a sync group is in fault.
    sync_fault: bool,
    tracker_weight: i32,
    /// The trackers' adjustment not yet told to the state machine.
    pending_weight: i32,
    /// The fault state the state machine was last told.
    fault_fed: bool,
    adverts_sent: u64,
    adverts_received: u64,
    adverts_discarded: u64,
    became_master: u64,
}

impl Slot {
    pub fn new(config: VrrpInstance, global: GlobalDefs) -> Self {
        Self {
            config,
            global,
            fsm: None,
            link: None,
            source: None,
            link_local: None,
            frames: None,
            installed: Vec::new(),
            announcements: Vec::new(),
            next_garp_refresh: None,
            next_vip_refresh: None,
            master: None,
            note: None,
            resume_as_master: false,
            link_fault: false,
            tracker_fault: false,
            sync_fault: false,
            tracker_weight: 0,
            pending_weight: 0,
            fault_fed: false,
            adverts_sent: 0,
            adverts_received: 0,
            adverts_discarded: 0,
            became_master: 0,
        }
    }

    pub fn started(&self) -> bool {
        self.fsm.is_some()
    }

    pub fn ipv6(&self) -> bool {
        self.config.family == AddressFamily::Ipv6
    }

    pub fn multicast(&self) -> bool {
        self.config.unicast_peers.is_empty()
    }

    pub fn set_note(&mut self, note: String) {
        if self.note.as_deref() != Some(note.as_str()) {
            tracing::warn!(instance = %self.config.name, "{note}");
        }
        self.note = Some(note);
    }

    /// Looks up what starting needs; `None` (with a note) while something is
    /// missing, e.g. the interface does not exist yet.
    pub async fn prepare(&mut self, netlink: &Netlink) -> Option<Prepared> {
        let interface = self.config.interface.clone();
        let link = match netlink.link_by_name(&interface).await {
            Ok(Some(link)) => link,
            Ok(None) => {
                self.set_note(format!(
                    "interface {interface} does not exist; waiting for it"
                ));
                return None;
            }
            Err(err) => {
                self.set_note(format!("looking up {interface}: {err}"));
                return None;
            }
        };
        let addresses = match netlink.addresses(link.ifindex).await {
            Ok(addresses) => addresses,
            Err(err) => {
                self.set_note(format!("reading addresses of {interface}: {err}"));
                return None;
            }
        };
        let ipv6 = self.ipv6();
        let vips: Vec<IpAddr> = self.all_vips().map(|v| v.address).collect();
        let link_local = addresses.iter().find_map(|a| match a.address {
            IpAddr::V6(v6) if a.link_scope => Some(v6),
            _ => None,
        });
        let source = match self.config.unicast_src_ip {
            Some(source) => Some(source),
            // RFC 5798 section 5.1.2.1/5.1.3.1: the primary address; for
            // IPv6 the link-local address.
            None if ipv6 => link_local.map(IpAddr::V6),
            None => addresses
                .iter()
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
        Some(Prepared {
            link,
            ipv6,
            source,
            link_local,
        })
    }

    fn params(&self, source: IpAddr) -> Params {
        let version = if self.config.version == 3 {
            ProtocolVersion::V3
        } else {
            ProtocolVersion::V2
        };
        let auth = match (&self.config.auth_pass, version) {
            (Some(pass), ProtocolVersion::V2) => Auth::simple_text(pass),
            _ => Auth::None,
        };
        Params {
            vrid: self.config.virtual_router_id,
            version,
            priority: self.config.priority,
            adver_int: Duration::from_millis(u64::from(self.config.advert_int_ms)),
            preempt: !self.config.nopreempt,
            preempt_delay: Duration::from_millis(u64::from(self.config.preempt_delay_ms)),
            accept_mode: self.config.accept,
            primary_address: source,
            vips: self
                .config
                .virtual_ipaddresses
                .iter()
                .map(|v| v.address)
                .collect(),
            initial_state: match self.config.state {
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

    pub async fn start(&mut self, prepared: Prepared, io: &mut Io<'_>, now: Duration) {
        let fsm = match Instance::new(self.params(prepared.source)) {
            Ok(fsm) => fsm,
            Err(err) => {
                self.set_note(format!("cannot run: {err}"));
                return;
            }
        };
        match FrameSender::open(prepared.link.ifindex) {
            Ok(frames) => self.frames = Some(frames),
            Err(err) => {
                self.set_note(format!("packet socket for ARP/NA: {err}"));
                return;
            }
        }
        self.note = None;
        self.source = Some(prepared.source);
        self.link_local = prepared.link_local;
        let up = prepared.link.up;
        self.link = Some(prepared.link);
        self.fsm = Some(fsm);
        tracing::info!(
            instance = %self.config.name,
            interface = %self.config.interface,
            vrid = self.config.virtual_router_id,
            version = self.config.version,
            priority = self.config.priority,
            source = %prepared.source,
            "instance starting"
        );
        self.link_fault = !up && !self.config.dont_track_primary;
        self.fault_fed = false;
        self.tracker_weight = self.pending_weight;
        if self.tracker_weight != 0 {
            self.feed(Event::TrackerWeight(self.tracker_weight), io, now)
                .await;
        }
        if self.wants_fault() {
            self.fault_fed = true;
            self.feed(Event::FaultRaised, io, now).await;
        }
        if std::mem::take(&mut self.resume_as_master) {
            let actions = self
                .fsm
                .as_mut()
                .map(|f| f.resume_as_master(now))
                .unwrap_or_default();
            for action in actions {
                self.carry_out(action, io, now).await;
            }
        } else {
            self.feed(Event::Start, io, now).await;
        }
    }

    pub fn is_master(&self) -> bool {
        self.fsm
            .as_ref()
            .is_some_and(|f| f.state() == State::Master)
    }

    /// A reload replaces this instance by one with the same interface, VRID
    /// and family while it is Master: step aside without resigning, removing
    /// only the VIPs the successor does not keep.
    pub async fn hand_over(&mut self, io: &mut Io<'_>, keep: &[IpAddr]) {
        self.remove_vips(io, keep).await;
        self.fsm = None;
        self.frames = None;
    }

    /// Stops the instance: a Master resigns with priority 0 (RFC 5798 section
    /// 6.4.3 Shutdown) and releases its VIPs, except `keep`.
    pub async fn stop(&mut self, io: &mut Io<'_>, now: Duration, keep: &[IpAddr]) {
        if self.fsm.is_none() {
            return;
        }
        let actions = self
            .fsm
            .as_mut()
            .map(|f| f.handle(Event::Shutdown, now))
            .unwrap_or_default();
        for action in actions {
            match action {
                Action::RemoveVips(_) => self.remove_vips(io, keep).await,
                other => self.carry_out(other, io, now).await,
            }
        }
        // Whatever the state machine did, nothing of ours stays installed.
        self.remove_vips(io, keep).await;
        if let Some(link) = &self.link {
            let _ =
                io.fastpath
                    .remove_policy(link.ifindex, self.config.virtual_router_id, self.ipv6());
        }
        notify::run(
            &self.config.notify,
            &self.config.name,
            notify::NotifyState::Stop,
            self.config.priority,
        );
        self.fsm = None;
        self.frames = None;
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        let fsm = self.fsm.as_ref()?;
        [
            fsm.timer_deadline(Timer::Adver),
            fsm.timer_deadline(Timer::MasterDown),
            self.announcements.iter().map(|a| a.at).min(),
            self.next_garp_refresh,
            self.next_vip_refresh,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub async fn on_timers(&mut self, io: &mut Io<'_>, now: Duration) {
        let Some(fsm) = &self.fsm else {
            return;
        };
        let fired: Vec<Timer> = [Timer::Adver, Timer::MasterDown]
            .into_iter()
            .filter(|&timer| fsm.timer_deadline(timer).is_some_and(|d| d <= now))
            .collect();
        for timer in fired {
            self.feed(Event::TimerFired(timer), io, now).await;
        }
        let due: Vec<Announcement> = self
            .announcements
            .iter()
            .copied()
            .filter(|a| a.at <= now)
            .collect();
        self.announcements.retain(|a| a.at > now);
        for announcement in due {
            self.announce(announcement.count);
        }
        if self.next_garp_refresh.is_some_and(|t| t <= now) {
            self.announce(self.config.garp.master_refresh_repeat.max(1));
            self.next_garp_refresh =
                Some(now + Duration::from_secs(u64::from(self.config.garp.master_refresh_s)));
        }
        if self.next_vip_refresh.is_some_and(|t| t <= now) {
            self.refresh_vips(io).await;
            self.next_vip_refresh = Some(now + io.vip_lifetime / 3);
        }
    }

    pub async fn on_packet(&mut self, packet: &ReceivedPacket, io: &mut Io<'_>, now: Duration) {
        if !self.multicast() {
            // Unicast: only the configured peers take part in the election.
            if !self.config.unicast_peers.contains(&packet.source) {
                self.adverts_discarded += 1;
                tracing::debug!(instance = %self.config.name, source = %packet.source, "advert from a non-peer dropped");
                return;
            }
        } else {
            let group = if self.ipv6() {
                IpAddr::V6(self.global.mcast_group6)
            } else {
                IpAddr::V4(self.global.mcast_group4)
            };
            if packet.destination != group && Some(packet.destination) != self.source {
                return;
            }
        }
        let advert = match Advertisement::decode(&packet.payload, packet.source, packet.destination)
        {
            Ok((advert, _checksum)) => advert,
            Err(err) => {
                self.adverts_discarded += 1;
                tracing::debug!(instance = %self.config.name, source = %packet.source, error = %err, "advert dropped");
                return;
            }
        };
        self.adverts_received += 1;
        let before = self.adverts_discarded;
        self.feed(
            Event::Advert {
                advert,
                src: packet.source,
                ttl: packet.ttl,
            },
            io,
            now,
        )
        .await;
        let accepted = self.adverts_discarded == before;
        if accepted
            && self
                .fsm
                .as_ref()
                .is_some_and(|f| f.state() == State::Backup)
        {
            self.master = Some(packet.source);
        }
    }

    pub async fn on_link_event(&mut self, event: &LinkEvent, io: &mut Io<'_>, now: Duration) {
        if self.fsm.is_none() {
            return;
        }
        match event {
            LinkEvent::Changed(link) => {
                let recreated = self
                    .link
                    .as_ref()
                    .is_some_and(|l| l.ifindex != link.ifindex);
                if recreated {
                    match FrameSender::open(link.ifindex) {
                        Ok(frames) => self.frames = Some(frames),
                        Err(err) => {
                            tracing::warn!(instance = %self.config.name, error = %err, "packet socket")
                        }
                    }
                    if let Err(err) = io.fastpath.set_policy(
                        link.ifindex,
                        self.config.virtual_router_id,
                        self.ipv6(),
                        &self.policy(),
                    ) {
                        tracing::warn!(instance = %self.config.name, error = %format!("{err:#}"), "pushing the VRRP policy to XDP");
                    }
                }
                self.link = Some(link.clone());
                self.link_fault = !link.up && !self.config.dont_track_primary;
                self.apply_health(io, now).await;
            }
            LinkEvent::Removed { .. } => {
                if let Some(link) = &mut self.link {
                    link.up = false;
                }
                self.link_fault = !self.config.dont_track_primary;
                self.apply_health(io, now).await;
            }
        }
    }

    fn wants_fault(&self) -> bool {
        self.own_fault() || self.sync_fault
    }

    /// Fault of the instance itself (link or a weight-0 tracker), which a
    /// sync group passes on to its other members.
    pub fn own_fault(&self) -> bool {
        self.link_fault || self.tracker_fault
    }

    /// Takes in the trackers' states (interfaces by name: up; scripts by
    /// name: succeeding), including the trackers of its sync groups.
    pub fn set_trackers(&mut self, trackers: &[super::trackers::TrackerState]) {
        let (weight, fault) = super::trackers::combine(trackers);
        self.tracker_fault = fault;
        self.pending_weight = weight;
    }

    pub fn set_sync_fault(&mut self, fault: bool) {
        self.sync_fault = fault;
    }

    /// Tells the state machine what changed in priority and fault.
    pub async fn apply_health(&mut self, io: &mut Io<'_>, now: Duration) {
        if self.fsm.is_none() {
            self.tracker_weight = self.pending_weight;
            return;
        }
        if self.pending_weight != self.tracker_weight {
            self.tracker_weight = self.pending_weight;
            self.feed(Event::TrackerWeight(self.tracker_weight), io, now)
                .await;
        }
        let fault = self.wants_fault();
        if fault != self.fault_fed {
            self.fault_fed = fault;
            let event = if fault {
                Event::FaultRaised
            } else {
                Event::FaultCleared
            };
            self.feed(event, io, now).await;
        }
    }

    async fn feed(&mut self, event: Event, io: &mut Io<'_>, now: Duration) {
        let Some(fsm) = &mut self.fsm else {
            return;
        };
        let actions = fsm.handle(event, now);
        for action in actions {
            self.carry_out(action, io, now).await;
        }
    }

    async fn carry_out(&mut self, action: Action, io: &mut Io<'_>, now: Duration) {
        match action {
            Action::SendAdvert(advert) => self.send_advert(&advert, io).await,
            // The state machine keeps its own deadlines (Instance::timer_deadline).
            Action::ArmTimer { .. } | Action::CancelTimer(_) => {}
            Action::AddVips { .. } => self.install_vips(io, now).await,
            Action::RemoveVips(_) => self.remove_vips(io, &[]).await,
            Action::AnnounceVips(_) => self.schedule_announcements(now),
            Action::Notify { from, to, reason } => self.on_transition(from, to, reason),
            Action::Discard(reason) => {
                self.adverts_discarded += 1;
                tracing::debug!(instance = %self.config.name, ?reason, "advert discarded");
            }
        }
    }

    async fn send_advert(&mut self, advert: &Advertisement, io: &mut Io<'_>) {
        let Some(source) = self.source else {
            return;
        };
        let key = (self.config.interface.clone(), self.ipv6());
        let Some(entry) = io.sockets.get(&key) else {
            return;
        };
        let destinations: Vec<IpAddr> = if self.multicast() {
            vec![if self.ipv6() {
                IpAddr::V6(self.global.mcast_group6)
            } else {
                IpAddr::V4(self.global.mcast_group4)
            }]
        } else {
            self.config.unicast_peers.clone()
        };
        let mode = if self.global.v3_checksum_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::Standard
        };
        for destination in destinations {
            let payload = match advert.encode(source, destination, mode) {
                Ok(payload) => payload,
                Err(err) => {
                    tracing::error!(instance = %self.config.name, error = %err, "encoding the advert");
                    return;
                }
            };
            match entry.socket.send(&payload, source, destination).await {
                Ok(()) => self.adverts_sent += 1,
                Err(err) => {
                    tracing::warn!(instance = %self.config.name, %destination, error = %err, "sending the advert")
                }
            }
        }
    }

    fn all_vips(&self) -> impl Iterator<Item = &crate::config::VirtualAddress> {
        self.config
            .virtual_ipaddresses
            .iter()
            .chain(&self.config.virtual_ipaddresses_excluded)
    }

    /// Becoming Master: ownership into XDP first (so the fast path answers
    /// ARP/NS as soon as anyone asks), then the addresses.
    async fn install_vips(&mut self, io: &mut Io<'_>, now: Duration) {
        let Some(link) = self.link.clone() else {
            return;
        };
        let mut placements = Vec::new();
        let vips: Vec<_> = self.all_vips().cloned().collect();
        for vip in vips {
            let (ifindex, mac) = match vip.dev.as_deref() {
                Some(dev) if dev != self.config.interface => {
                    match io.netlink.link_by_name(dev).await {
                        Ok(Some(other)) => (other.ifindex, other.mac),
                        _ => {
                            tracing::error!(instance = %self.config.name, vip = %vip.address, dev, "VIP interface does not exist");
                            continue;
                        }
                    }
                }
                _ => (link.ifindex, link.mac),
            };
            placements.push(Placement {
                address: vip.address,
                prefix_len: vip.prefix_len,
                label: vip.label.clone(),
                ifindex,
                mac,
            });
        }
        for p in &placements {
            if let Err(err) =
                io.fastpath
                    .set_owned(p.ifindex, p.address, p.mac, self.config.virtual_router_id)
            {
                tracing::warn!(instance = %self.config.name, vip = %p.address, error = %format!("{err:#}"), "XDP ownership");
            }
        }
        self.installed = placements;
        self.refresh_vips(io).await;
        self.next_vip_refresh = Some(now + io.vip_lifetime / 3);
    }

    /// Adds the installed VIPs, or renews their lifetime when they are
    /// there already (netlink replace).
    async fn refresh_vips(&mut self, io: &mut Io<'_>) {
        for p in &self.installed {
            if let Err(err) = io
                .netlink
                .add_vip(
                    p.ifindex,
                    p.address,
                    p.prefix_len,
                    p.label.as_deref(),
                    io.vip_lifetime,
                )
                .await
            {
                tracing::warn!(instance = %self.config.name, vip = %p.address, error = %err, "adding or refreshing the VIP");
            }
        }
    }

    /// Leaving Master: XDP stops answering first, then the addresses go.
    /// Addresses in `keep` stay untouched: another instance takes them over.
    async fn remove_vips(&mut self, io: &mut Io<'_>, keep: &[IpAddr]) {
        for p in self.installed.iter().filter(|p| !keep.contains(&p.address)) {
            if let Err(err) = io.fastpath.clear_owned(p.ifindex, p.address) {
                tracing::warn!(instance = %self.config.name, vip = %p.address, error = %format!("{err:#}"), "clearing XDP ownership");
            }
        }
        for p in std::mem::take(&mut self.installed) {
            if keep.contains(&p.address) {
                continue;
            }
            if let Err(err) = io.netlink.del_vip(p.ifindex, p.address, p.prefix_len).await {
                tracing::error!(instance = %self.config.name, vip = %p.address, error = %err, "removing the VIP");
            }
        }
        self.announcements.clear();
        self.next_garp_refresh = None;
        self.next_vip_refresh = None;
    }

    /// keepalived's schedule: `garp_master_repeat` announcements at once,
    /// the same again after `garp_master_delay`, then every
    /// `garp_master_refresh` seconds `garp_master_refresh_repeat` of them.
    /// With `vrrp_garp_interval`/`vrrp_gna_interval` the announcements of
    /// one burst are spread out by that interval.
    fn schedule_announcements(&mut self, now: Duration) {
        let garp = self.config.garp;
        let spacing = Duration::from_micros(if self.ipv6() {
            self.global.gna_interval_us
        } else {
            self.global.garp_interval_us
        });
        let burst = |start: Duration, count: u32, out: &mut Vec<Announcement>| {
            if spacing.is_zero() {
                out.push(Announcement { at: start, count });
            } else {
                for i in 0..count {
                    out.push(Announcement {
                        at: start + spacing * i,
                        count: 1,
                    });
                }
            }
        };
        self.announcements.clear();
        let mut planned = Vec::new();
        burst(now, garp.master_repeat.max(1), &mut planned);
        if garp.master_delay_s > 0 {
            burst(
                now + Duration::from_secs(u64::from(garp.master_delay_s)),
                garp.master_repeat.max(1),
                &mut planned,
            );
        }
        self.announcements = planned;
        self.next_garp_refresh = (garp.master_refresh_s > 0)
            .then(|| now + Duration::from_secs(u64::from(garp.master_refresh_s)));
    }

    fn announce(&mut self, count: u32) {
        let Some(frames) = &self.frames else {
            return;
        };
        for p in &self.installed {
            let frame = match p.address {
                IpAddr::V4(v4) => gratuitous_arp(p.mac, v4),
                IpAddr::V6(v6) => {
                    let Some(source) = self.link_local else {
                        continue;
                    };
                    unsolicited_na(p.mac, source, v6)
                }
            };
            for _ in 0..count {
                if let Err(err) = frames.send(&frame) {
                    tracing::warn!(instance = %self.config.name, vip = %p.address, error = %err, "sending gratuitous ARP/NA");
                    break;
                }
            }
        }
    }

    fn on_transition(&mut self, from: State, to: State, reason: TransitionReason) {
        let priority = self
            .fsm
            .as_ref()
            .map(Instance::effective_priority)
            .unwrap_or(self.config.priority);
        tracing::info!(
            instance = %self.config.name,
            interface = %self.config.interface,
            vrid = self.config.virtual_router_id,
            from = state_name(from),
            to = state_name(to),
            reason = ?reason,
            priority,
            "state change"
        );
        match to {
            State::Master => {
                self.became_master += 1;
                self.master = self.source;
                notify::run(
                    &self.config.notify,
                    &self.config.name,
                    notify::NotifyState::Master,
                    priority,
                );
            }
            State::Backup => {
                if from == State::Master {
                    self.master = None;
                }
                notify::run(
                    &self.config.notify,
                    &self.config.name,
                    notify::NotifyState::Backup,
                    priority,
                );
            }
            State::Fault => {
                self.master = None;
                notify::run(
                    &self.config.notify,
                    &self.config.name,
                    notify::NotifyState::Fault,
                    priority,
                );
            }
            State::Initialize => {}
        }
    }

    pub fn status(&self) -> InstanceStatus {
        let (state, effective) = match &self.fsm {
            Some(fsm) => (
                state_name(fsm.state()).to_string(),
                fsm.effective_priority(),
            ),
            None => ("INIT".to_string(), self.config.priority),
        };
        InstanceStatus {
            name: self.config.name.clone(),
            interface: self.config.interface.clone(),
            ifindex: self.link.as_ref().map(|l| l.ifindex),
            vrid: self.config.virtual_router_id,
            version: self.config.version,
            state,
            priority: self.config.priority,
            effective_priority: effective,
            master: self.master.map(|m| m.to_string()),
            vips: self
                .all_vips()
                .map(|v| format!("{}/{}", v.address, v.prefix_len))
                .collect(),
            holds_vips: !self.installed.is_empty(),
            adverts_sent: self.adverts_sent,
            adverts_received: self.adverts_received,
            adverts_discarded: self.adverts_discarded,
            became_master: self.became_master,
            note: self.note.clone(),
            xdp: None,
        }
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}
