//! The VRRP state machine of one virtual router instance (RFC 5798 section 6,
//! RFC 3768 section 6 for VRRPv2 timers), without I/O and without a clock.
//!
//! The caller feeds [`Event`]s with the current time (a [`Duration`] since any
//! fixed epoch: the daemon uses its start time, tests a virtual clock) and
//! carries out the returned [`Action`]s in order. Timer deadlines are absolute
//! times on that same scale; the caller fires [`Event::TimerFired`] when one
//! is reached. A timer that fires after it was re-armed or cancelled is
//! ignored, so the caller need not be exact about cancellation.
//!
//! Where the RFCs leave room, the machine does what keepalived 2.2.7 does, as
//! observed against the real daemon (see the `keepalived_*` tests below and
//! `tests/fixtures/vrrp/keepalived-behaviour/`):
//! - `state MASTER` with a priority below 255 starts in Backup and waits a full
//!   Master_Down_Interval, like `state BACKUP`.
//! - `state MASTER` together with `nopreempt` clears `nopreempt`
//!   ("nopreempt will not work with initial state MASTER - clearing").
//! - a Master that receives an advertisement of lower priority sends its own
//!   advertisement at once and restarts its Adver_Timer ("forcing new
//!   election").
//! - `preempt_delay`: a Backup with preemption tolerates a lower-priority
//!   Master for `preempt_delay` after it first sees it, then preempts.

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{check_ttl, Advertisement, Auth, DecodeError, Version, V3_MAX_ADVER_INT_CS};

/// Protocol version of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// RFC 3768.
    V2,
    /// RFC 5798 / RFC 9568.
    V3,
}

impl ProtocolVersion {
    fn number(self) -> u8 {
        match self {
            ProtocolVersion::V2 => 2,
            ProtocolVersion::V3 => 3,
        }
    }
}

/// keepalived's `state MASTER` / `state BACKUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    #[default]
    Backup,
    Master,
}

/// Everything the state machine needs from the configuration of one
/// `vrrp_instance`; the daemon maps its parsed configuration into this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    pub version: ProtocolVersion,
    /// Configured priority, 1..=255; 255 means this node owns the addresses.
    pub priority: u8,
    /// Advertisement_Interval: whole seconds (1..=255) for VRRPv2, a multiple
    /// of 10 ms (10 ms..=40.95 s) for VRRPv3.
    pub adver_int: Duration,
    /// Preempt_Mode (keepalived: true unless `nopreempt`).
    pub preempt: bool,
    /// keepalived's `preempt_delay`; zero preempts at once.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 5798 section 6.1): a non-owner Master accepts packets
    /// addressed to the virtual addresses.
    pub accept_mode: bool,
    /// This node's primary address on the interface: the source of its
    /// advertisements and the tie-breaker between equal priorities.
    pub primary_address: IpAddr,
    /// The virtual addresses, all of the family of `primary_address`.
    pub vips: Vec<IpAddr>,
    /// keepalived's `state`.
    pub initial_state: InitialState,
    /// VRRPv2 authentication; must be [`Auth::None`] for VRRPv3.
    pub auth: Auth,
    /// A member of a `vrrp_sync_group` with other members: it becomes
    /// Master only with all of them (keepalived's `vrrp_sync_can_goto_master`),
    /// so that the group's addresses never sit on two routers.
    pub sync_group: bool,
    /// The unicast peers, each with the TTL range accepted from it; empty
    /// for a multicast instance, whose adverts must arrive with TTL 255.
    pub unicast_peers: Vec<UnicastPeer>,
    /// keepalived's `lower_prio_no_advert`: a Master does not answer a
    /// lower-priority advert with its own (always so under `vrrp_strict`).
    pub lower_prio_no_advert: bool,
    /// keepalived's `higher_prio_send_advert`: a Master sends one more
    /// advert before yielding to a higher-priority one.
    pub higher_prio_send_advert: bool,
    /// keepalived's `down_timer_adverts`: the adverts a Backup misses
    /// before the Master is down (3 in the RFCs), 1..=100.
    pub down_timer_adverts: u8,
}

/// A unicast peer and the TTL (hop limit) range, both ends included,
/// accepted from it (keepalived's `min_ttl` / `max_ttl`): a unicast advert
/// may have crossed routers, so the RFC's 255 is not required of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    pub address: IpAddr,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// Why [`Params`] are rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("virtual_router_id must be 1..=255")]
    ZeroVrid,
    #[error("priority must be 1..=255")]
    ZeroPriority,
    #[error("advert interval {0:?} is not whole seconds in 1..=255 (VRRPv2)")]
    BadV2Interval(Duration),
    #[error("advert interval {0:?} is not a multiple of 10 ms in 10 ms..=40.95 s (VRRPv3)")]
    BadV3Interval(Duration),
    #[error("VRRPv2 runs over IPv4 only")]
    V2OverIpv6,
    #[error("virtual address {0} is not of the family of the primary address")]
    MixedFamilies(IpAddr),
    #[error("VRRPv3 has no authentication")]
    AuthWithV3,
    #[error("down_timer_adverts {0} is not in 1..=100")]
    BadDownTimerAdverts(u8),
}

/// Protocol state (RFC 5798 section 6.4) plus keepalived's Fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Initialize,
    Backup,
    Master,
    /// A tracked interface or script failed: not participating.
    Fault,
}

/// The two timers of RFC 5798 section 6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Master: time to send the next advertisement.
    Adver,
    /// Backup: the Master is declared down when it fires.
    MasterDown,
}

/// Inputs of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// RFC 5798 section 6.4.1 "Startup".
    Start,
    /// A decoded advertisement, with the IP source and TTL/hop limit it came with.
    Advert {
        advert: Advertisement,
        src: IpAddr,
        ttl: u8,
    },
    /// A timer armed by [`Action::ArmTimer`] reached its deadline.
    TimerFired(Timer),
    /// RFC 5798 section 6.4 "Shutdown".
    Shutdown,
    /// The sum of the weights of the trackers currently applying (keepalived
    /// `track_*` with `weight`); replaces the previous sum.
    TrackerWeight(i32),
    /// A tracked interface or script failed.
    FaultRaised,
    /// All tracked interfaces and scripts are healthy again.
    FaultCleared,
    /// keepalived's `set_vrrp_backup`: something the Master installed and
    /// watches (a virtual route or rule) was removed by someone else. A
    /// Master resigns with priority 0, becomes Backup and arms its
    /// Master_Down_Timer to Skew_Time, so that it takes over again (and
    /// installs everything again) unless another router does first.
    StepDown,
    /// keepalived's `vrrp_sync_master`: the sync group goes Master, so a
    /// Backup member becomes Master now; any other state ignores it.
    GroupMaster,
}

/// Why an advertisement was dropped before reaching the protocol rules
/// (RFC 5798 section 7.1, RFC 3768 section 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscardReason {
    /// TTL, version or authentication check failed.
    Invalid(DecodeError),
    /// Another virtual router's advertisement.
    WrongVrid(u8),
    /// VRRPv2: the advertised interval differs from ours.
    IntervalMismatch { ours_s: u8, theirs_s: u8 },
    /// Our own advertisement looped back.
    OwnAdvert,
    /// Not participating (Initialize or Fault).
    NotRunning,
    /// A unicast instance's advert from an address that is not a peer.
    NotPeer,
}

/// Why the state changed, for logs and notify scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionReason {
    /// Initialize -> Backup at startup.
    Startup,
    /// Initialize -> Master at startup: priority 255 owns the addresses.
    AddressOwner,
    /// Backup -> Master: no advertisement within Master_Down_Interval.
    MasterDown,
    /// Master -> Backup: an advertisement of higher priority (or equal
    /// priority from a higher primary address).
    HigherPriorityMaster,
    Shutdown,
    FaultRaised,
    FaultCleared,
    /// A configuration reload replaced the parameters of a running Master,
    /// which goes on as Master under the new ones.
    Reload,
    /// The agent restarted within Master_Down_Interval of its last
    /// heartbeat as Master, its VIPs still in place: it goes on as Master
    /// before any Backup's timer fires.
    Restart,
    /// Master -> Backup: a virtual route or rule it watches was removed by
    /// someone else ([`Event::StepDown`]).
    RouteRemoved,
    /// Backup -> Master together with its sync group, once every member's
    /// Master_Down_Timer expired ([`Event::GroupMaster`]).
    SyncGroup,
}

/// Outputs of the state machine, to be carried out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (to the multicast group or unicast peers, from
    /// the primary address, TTL 255).
    SendAdvert(Advertisement),
    /// (Re)arm a timer; replaces any earlier deadline of the same timer.
    ArmTimer {
        timer: Timer,
        deadline: Duration,
    },
    CancelTimer(Timer),
    /// Install the virtual addresses (netlink, XDP ownership). `accept` is
    /// false when a non-owner Master without Accept_Mode must drop packets
    /// addressed to them (RFC 5798 section 6.4.3).
    AddVips {
        addresses: Vec<IpAddr>,
        accept: bool,
    },
    RemoveVips(Vec<IpAddr>),
    /// Gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) for
    /// each address, with the virtual router MAC.
    AnnounceVips(Vec<IpAddr>),
    /// The state changed.
    Notify {
        from: State,
        to: State,
        reason: TransitionReason,
    },
    /// A received advertisement was dropped.
    Discard(DiscardReason),
    /// A sync-group member's Master_Down_Timer expired: it stays Backup
    /// (the timer re-armed) until the whole group can go Master, which
    /// the caller decides and tells with [`Event::GroupMaster`].
    GroupReady,
}

/// One VRRP instance (virtual router) on one interface.
#[derive(Debug, Clone)]
pub struct Instance {
    params: Params,
    state: State,
    tracker_weight: i32,
    fault: bool,
    /// Master_Adver_Interval: the interval the current Master advertises
    /// (VRRPv3 learns it; VRRPv2 always uses its own).
    master_adver_int: Duration,
    adver_deadline: Option<Duration>,
    master_down_deadline: Option<Duration>,
    /// While a lower-priority Master is tolerated under `preempt_delay`: the
    /// time preemption becomes allowed.
    preempt_allowed_at: Option<Duration>,
    /// A sync-group member whose Master_Down_Timer expired with no
    /// advertisement since: it would be Master but for its group.
    wants_master: bool,
}

/// Skew_Time of a router of `priority` when the Master advertises every
/// `master_adver_int`: RFC 3768 section 6.1 `(256 - Priority) / 256` seconds
/// for VRRPv2; RFC 5798 section 6.1 `((256 - Priority) * Master_Adver_Interval)
/// / 256` for VRRPv3.
pub fn skew_time(version: ProtocolVersion, priority: u8, master_adver_int: Duration) -> Duration {
    let weight = 256 - u32::from(priority);
    match version {
        ProtocolVersion::V2 => Duration::from_secs(1) * weight / 256,
        ProtocolVersion::V3 => master_adver_int * weight / 256,
    }
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 5798
/// section 6.1; RFC 3768 section 6.1 with Advertisement_Interval), with
/// keepalived's `down_timer_adverts` in place of the 3.
pub fn master_down_interval(
    version: ProtocolVersion,
    priority: u8,
    master_adver_int: Duration,
    down_timer_adverts: u8,
) -> Duration {
    master_adver_int * u32::from(down_timer_adverts)
        + skew_time(version, priority, master_adver_int)
}

/// The RFCs' count of missed adverts before a Master is down.
pub const DOWN_TIMER_ADVERTS: u8 = 3;

impl Instance {
    /// Validates the parameters and builds an instance in Initialize.
    pub fn new(mut params: Params) -> Result<Instance, ParamsError> {
        if params.vrid == 0 {
            return Err(ParamsError::ZeroVrid);
        }
        if params.priority == 0 {
            return Err(ParamsError::ZeroPriority);
        }
        if !(1..=100).contains(&params.down_timer_adverts) {
            return Err(ParamsError::BadDownTimerAdverts(params.down_timer_adverts));
        }
        let family_v6 = params.primary_address.is_ipv6();
        match params.version {
            ProtocolVersion::V2 => {
                let secs = params.adver_int.as_secs();
                if params.adver_int.subsec_nanos() != 0 || !(1..=255).contains(&secs) {
                    return Err(ParamsError::BadV2Interval(params.adver_int));
                }
                if family_v6 {
                    return Err(ParamsError::V2OverIpv6);
                }
            }
            ProtocolVersion::V3 => {
                let nanos = params.adver_int.as_nanos();
                let cs = nanos / 10_000_000;
                if !nanos.is_multiple_of(10_000_000)
                    || cs == 0
                    || cs > u128::from(V3_MAX_ADVER_INT_CS)
                {
                    return Err(ParamsError::BadV3Interval(params.adver_int));
                }
                if params.auth != Auth::None {
                    return Err(ParamsError::AuthWithV3);
                }
            }
        }
        if let Some(vip) = params.vips.iter().find(|v| v.is_ipv6() != family_v6) {
            return Err(ParamsError::MixedFamilies(*vip));
        }
        // keepalived 2.2.7: "nopreempt will not work with initial state
        // MASTER - clearing" -- the instance then preempts (observed).
        if params.initial_state == InitialState::Master {
            params.preempt = true;
        }
        Ok(Instance {
            master_adver_int: params.adver_int,
            params,
            state: State::Initialize,
            tracker_weight: 0,
            fault: false,
            adver_deadline: None,
            master_down_deadline: None,
            preempt_allowed_at: None,
            wants_master: false,
        })
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// A reload replaced the parameters of an instance that was Master: this
    /// fresh instance (still in Initialize) continues as Master under the new
    /// parameters, without the priority-0 resignation of a shutdown, so the
    /// addresses that stay never move. A higher priority elsewhere still
    /// preempts it by the ordinary rules of RFC 5798 section 6.4.3.
    pub fn resume_as_master(&mut self, now: Duration) -> Vec<Action> {
        self.resume_as_master_after(now, TransitionReason::Reload)
    }

    /// [`Instance::resume_as_master`], for `reason` (a reload, a restart).
    pub fn resume_as_master_after(
        &mut self,
        now: Duration,
        reason: TransitionReason,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Initialize {
            if self.fault {
                self.transition(State::Fault, TransitionReason::FaultRaised, &mut out);
            } else {
                self.become_master(now, reason, &mut out);
            }
        }
        out
    }

    /// The parameters in force (after keepalived's normalisation).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Priority after trackers: base + weights clamped to 1..=254, except
    /// that an owner (255) stays 255 whatever the trackers say (keepalived).
    pub fn effective_priority(&self) -> u8 {
        if self.params.priority == 255 {
            return 255;
        }
        (i32::from(self.params.priority) + self.tracker_weight).clamp(1, 254) as u8
    }

    /// Master_Adver_Interval (RFC 5798 section 6.1).
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_int
    }

    /// Skew_Time: RFC 3768 section 6.1 `(256 - Priority) / 256` seconds for
    /// VRRPv2; RFC 5798 section 6.1 `((256 - Priority) * Master_Adver_Interval)
    /// / 256` for VRRPv3.
    pub fn skew_time(&self) -> Duration {
        skew_time(
            self.params.version,
            self.effective_priority(),
            self.master_adver_int,
        )
    }

    /// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time
    /// (RFC 5798 section 6.1; RFC 3768 section 6.1 with Advertisement_Interval).
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.params.version,
            self.effective_priority(),
            self.master_adver_int,
            self.params.down_timer_adverts,
        )
    }

    /// The deadline of a timer while it is armed.
    pub fn timer_deadline(&self, timer: Timer) -> Option<Duration> {
        match timer {
            Timer::Adver => self.adver_deadline,
            Timer::MasterDown => self.master_down_deadline,
        }
    }

    /// Feeds one event at time `now`; returns the actions to carry out.
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => self.on_start(now, &mut out),
            Event::Advert { advert, src, ttl } => self.on_advert(&advert, src, ttl, now, &mut out),
            Event::TimerFired(timer) => self.on_timer(timer, now, &mut out),
            Event::Shutdown => self.on_shutdown(&mut out),
            Event::TrackerWeight(weight) => self.tracker_weight = weight,
            Event::FaultRaised => self.on_fault_raised(&mut out),
            Event::FaultCleared => self.on_fault_cleared(now, &mut out),
            Event::StepDown => self.on_step_down(now, &mut out),
            Event::GroupMaster => {
                if self.state == State::Backup {
                    self.become_master(now, TransitionReason::SyncGroup, &mut out);
                }
            }
        }
        out
    }

    /// A sync-group member ready to be Master ([`Action::GroupReady`]) and
    /// not told otherwise by an advertisement since.
    pub fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// [`Event::StepDown`]; any other state than Master ignores it.
    fn on_step_down(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return;
        }
        self.cancel_adver(out);
        self.send_advert(0, out);
        out.push(Action::RemoveVips(self.params.vips.clone()));
        self.preempt_allowed_at = None;
        self.master_adver_int = self.params.adver_int;
        self.arm_master_down(now + self.skew_time(), out);
        self.transition(State::Backup, TransitionReason::RouteRemoved, out);
    }

    /// RFC 5798 section 6.4.1 (Initialize, "Startup"); RFC 3768 section 6.4.1.
    fn on_start(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.fault {
            self.transition(State::Fault, TransitionReason::FaultRaised, out);
            return;
        }
        self.enter_from_init(now, TransitionReason::Startup, out);
    }

    /// The common part of startup and fault recovery: the owner becomes Master,
    /// everybody else Backup with Master_Down_Timer = Master_Down_Interval.
    fn enter_from_init(&mut self, now: Duration, reason: TransitionReason, out: &mut Vec<Action>) {
        if self.params.priority == 255 {
            // "If the Priority = 255 ... Send an ADVERTISEMENT, broadcast a
            // gratuitous ARP ..., set the Adver_Timer ..., transition to Master"
            let reason = if reason == TransitionReason::Startup {
                TransitionReason::AddressOwner
            } else {
                reason
            };
            self.become_master(now, reason, out);
        } else {
            // "Set Master_Adver_Interval to Advertisement_Interval, set the
            // Master_Down_Timer to Master_Down_Interval, transition to Backup"
            self.master_adver_int = self.params.adver_int;
            self.preempt_allowed_at = None;
            self.arm_master_down(now + self.master_down_interval(), out);
            self.transition(State::Backup, reason, out);
        }
    }

    /// RFC 5798 section 7.1 / RFC 3768 section 7.1 receive checks, then the
    /// per-state rules of sections 6.4.2 and 6.4.3.
    fn on_advert(
        &mut self,
        advert: &Advertisement,
        src: IpAddr,
        ttl: u8,
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        if let Err(reason) = self.validate(advert, src, ttl) {
            out.push(Action::Discard(reason));
            return;
        }
        match self.state {
            State::Backup => self.backup_on_advert(advert, now, out),
            State::Master => self.master_on_advert(advert, src, now, out),
            State::Initialize | State::Fault => {
                out.push(Action::Discard(DiscardReason::NotRunning))
            }
        }
    }

    /// RFC 5798 section 7.1 (TTL 255, version, VRID) and RFC 3768 section 7.1
    /// (authentication, Adver Int equal to ours). A unicast instance takes
    /// part only with its peers, each within its TTL range, as keepalived
    /// checks them, instead of the TTL 255 rule (which keepalived applies
    /// to multicast only: its own IPv6 unicast adverts leave with the
    /// kernel's default hop limit).
    fn validate(&self, advert: &Advertisement, src: IpAddr, ttl: u8) -> Result<(), DiscardReason> {
        if self.params.unicast_peers.is_empty() {
            check_ttl(ttl).map_err(DiscardReason::Invalid)?;
        } else {
            let peer = self
                .params
                .unicast_peers
                .iter()
                .find(|peer| peer.address == src)
                .ok_or(DiscardReason::NotPeer)?;
            if !(peer.min_ttl..=peer.max_ttl).contains(&ttl) {
                return Err(DiscardReason::Invalid(DecodeError::BadTtl(ttl)));
            }
        }
        advert
            .verify_version(self.params.version.number())
            .map_err(DiscardReason::Invalid)?;
        if advert.vrid != self.params.vrid {
            return Err(DiscardReason::WrongVrid(advert.vrid));
        }
        advert
            .verify_auth(&self.params.auth)
            .map_err(DiscardReason::Invalid)?;
        if let Version::V2 { adver_int_s, .. } = advert.version {
            let ours_s = self.params.adver_int.as_secs() as u8;
            if adver_int_s != ours_s {
                return Err(DiscardReason::IntervalMismatch {
                    ours_s,
                    theirs_s: adver_int_s,
                });
            }
        }
        if src == self.params.primary_address {
            return Err(DiscardReason::OwnAdvert);
        }
        Ok(())
    }

    /// RFC 5798 section 6.4.2 (Backup), "If an ADVERTISEMENT is received".
    fn backup_on_advert(&mut self, advert: &Advertisement, now: Duration, out: &mut Vec<Action>) {
        let local = self.effective_priority();
        if advert.priority == 0 {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time"
            self.arm_master_down(now + self.skew_time(), out);
            return;
        }
        let accept = if !self.params.preempt || advert.priority >= local {
            self.preempt_allowed_at = None;
            true
        } else if !self.params.preempt_delay.is_zero() {
            // keepalived's preempt_delay: tolerate the lower-priority Master
            // for preempt_delay after first seeing it.
            let allowed_at = *self
                .preempt_allowed_at
                .get_or_insert(now + self.params.preempt_delay);
            now < allowed_at
        } else {
            false
        };
        if accept {
            // "Set Master_Adver_Interval to Adver Interval contained in the
            // ADVERTISEMENT, recompute the Skew_Time, recompute the
            // Master_Down_Interval, reset the Master_Down_Timer"
            self.learn_master_interval(advert);
            self.arm_master_down(now + self.master_down_interval(), out);
        }
        // Otherwise "discard the ADVERTISEMENT": the Master_Down_Timer keeps
        // running and this node preempts when it fires.
    }

    /// RFC 5798 section 6.4.3 (Master), "If an ADVERTISEMENT is received".
    fn master_on_advert(
        &mut self,
        advert: &Advertisement,
        src: IpAddr,
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        let local = self.effective_priority();
        if advert.priority == 0 {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an
            // ADVERTISEMENT, reset the Adver_Timer to Advertisement_Interval"
            self.send_advert(local, out);
            self.arm_adver(now + self.params.adver_int, out);
            return;
        }
        let sender_wins = advert.priority > local
            || (advert.priority == local && address_greater(src, self.params.primary_address));
        if sender_wins && self.params.higher_prio_send_advert {
            // keepalived's higher_prio_send_advert: one last advert, so a
            // peer that missed ours learns of this router before it yields.
            self.send_advert(local, out);
        }
        if sender_wins {
            // "Cancel Adver_Timer, set Master_Adver_Interval to Adver Interval
            // contained in the ADVERTISEMENT, recompute the Skew_Time and
            // Master_Down_Interval, set Master_Down_Timer to
            // Master_Down_Interval, transition to the Backup state"
            self.cancel_adver(out);
            out.push(Action::RemoveVips(self.params.vips.clone()));
            self.learn_master_interval(advert);
            self.preempt_allowed_at = None;
            self.arm_master_down(now + self.master_down_interval(), out);
            self.transition(State::Backup, TransitionReason::HigherPriorityMaster, out);
        } else if !self.params.lower_prio_no_advert {
            // Lower priority, or equal from a lower primary address: the RFC
            // discards it. keepalived 2.2.7 sends an advertisement at once
            // and restarts its Adver_Timer ("forcing new election"), so the
            // other sender steps down without waiting; not with
            // lower_prio_no_advert (vrrp_strict), which follows the RFC.
            self.send_advert(local, out);
            self.arm_adver(now + self.params.adver_int, out);
        }
    }

    /// VRRPv3 Backups adopt the Master's advertised interval (RFC 5798
    /// section 6.4.2); VRRPv2 intervals are equal by the section 7.1 check.
    fn learn_master_interval(&mut self, advert: &Advertisement) {
        if let Version::V3 { max_adver_int_cs } = advert.version {
            // A zero interval would make Master_Down_Interval zero and the
            // timer spin; one centisecond is the smallest that can be sent.
            self.master_adver_int = Duration::from_millis(10 * u64::from(max_adver_int_cs.max(1)));
        }
    }

    /// RFC 5798 sections 6.4.2 ("If the Master_Down_Timer fires") and 6.4.3
    /// ("If the Adver_Timer fires"). Stale timers are ignored.
    fn on_timer(&mut self, timer: Timer, now: Duration, out: &mut Vec<Action>) {
        match (timer, self.state) {
            (Timer::MasterDown, State::Backup)
                if self.master_down_deadline.is_some_and(|d| d <= now) =>
            {
                self.master_down_deadline = None;
                if self.params.sync_group {
                    // keepalived's vrrp_sync_can_goto_master: "only sync to
                    // master if everyone wants to, i.e. prefer backup state
                    // to avoid thrashing"; the timer runs again meanwhile.
                    self.arm_master_down(now + self.master_down_interval(), out);
                    self.wants_master = true;
                    out.push(Action::GroupReady);
                } else {
                    self.become_master(now, TransitionReason::MasterDown, out);
                }
            }
            (Timer::Adver, State::Master) if self.adver_deadline.is_some_and(|d| d <= now) => {
                // "Send an ADVERTISEMENT, reset the Adver_Timer to
                // Advertisement_Interval"
                self.send_advert(self.effective_priority(), out);
                self.arm_adver(now + self.params.adver_int, out);
            }
            _ => {}
        }
    }

    /// RFC 5798 sections 6.4.2 and 6.4.3, "If a Shutdown event is received".
    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                // "Cancel the Adver_Timer, send an ADVERTISEMENT with Priority
                // = 0, transition to the Initialize state"
                self.cancel_adver(out);
                self.send_advert(0, out);
                out.push(Action::RemoveVips(self.params.vips.clone()));
            }
            State::Backup => self.cancel_master_down(out),
            State::Fault | State::Initialize => {}
        }
        if self.state != State::Initialize {
            self.transition(State::Initialize, TransitionReason::Shutdown, out);
        }
    }

    /// keepalived's FAULT state: a Master resigns with a priority-0
    /// advertisement (like a shutdown, so a Backup takes over after
    /// Skew_Time); every timer stops until the fault clears.
    fn on_fault_raised(&mut self, out: &mut Vec<Action>) {
        self.fault = true;
        match self.state {
            State::Master => {
                self.cancel_adver(out);
                self.send_advert(0, out);
                out.push(Action::RemoveVips(self.params.vips.clone()));
            }
            State::Backup => self.cancel_master_down(out),
            State::Fault | State::Initialize => return,
        }
        self.transition(State::Fault, TransitionReason::FaultRaised, out);
    }

    /// Leaving Fault is a restart: section 6.4.1 again.
    fn on_fault_cleared(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.fault = false;
        if self.state == State::Fault {
            self.enter_from_init(now, TransitionReason::FaultCleared, out);
        }
    }

    /// RFC 5798 sections 6.4.1 and 6.4.2: "Send an ADVERTISEMENT, broadcast a
    /// gratuitous ARP request / unsolicited ND Neighbor Advertisement for each
    /// IP address, set the Adver_Timer to Advertisement_Interval, transition
    /// to the Master state". The addresses go in before they are announced,
    /// and are announced before the advertisement: a resigning Master keeps
    /// them (make-before-break) until it hears that advertisement, so the
    /// hosts on the link must have the new MAC by then, or what they send to
    /// the old one in between is lost.
    fn become_master(&mut self, now: Duration, reason: TransitionReason, out: &mut Vec<Action>) {
        self.cancel_master_down(out);
        self.master_adver_int = self.params.adver_int;
        self.preempt_allowed_at = None;
        out.push(Action::AddVips {
            addresses: self.params.vips.clone(),
            accept: self.params.priority == 255 || self.params.accept_mode,
        });
        out.push(Action::AnnounceVips(self.params.vips.clone()));
        self.send_advert(self.effective_priority(), out);
        self.arm_adver(now + self.params.adver_int, out);
        self.transition(State::Master, reason, out);
    }

    fn transition(&mut self, to: State, reason: TransitionReason, out: &mut Vec<Action>) {
        self.wants_master = false;
        let from = self.state;
        self.state = to;
        out.push(Action::Notify { from, to, reason });
    }

    /// The advertisement this instance sends with `priority`.
    pub fn advertisement(&self, priority: u8) -> Advertisement {
        let version = match self.params.version {
            ProtocolVersion::V2 => Version::V2 {
                adver_int_s: self.params.adver_int.as_secs() as u8,
                auth: self.params.auth,
            },
            ProtocolVersion::V3 => Version::V3 {
                max_adver_int_cs: (self.params.adver_int.as_millis() / 10) as u16,
            },
        };
        Advertisement {
            version,
            vrid: self.params.vrid,
            priority,
            addresses: self.params.vips.clone(),
        }
    }

    fn send_advert(&self, priority: u8, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert(self.advertisement(priority)));
    }

    fn arm_adver(&mut self, deadline: Duration, out: &mut Vec<Action>) {
        self.adver_deadline = Some(deadline);
        out.push(Action::ArmTimer {
            timer: Timer::Adver,
            deadline,
        });
    }

    fn cancel_adver(&mut self, out: &mut Vec<Action>) {
        if self.adver_deadline.take().is_some() {
            out.push(Action::CancelTimer(Timer::Adver));
        }
    }

    fn arm_master_down(&mut self, deadline: Duration, out: &mut Vec<Action>) {
        // Armed anew (an advertisement heard, a state entered): not ready.
        self.wants_master = false;
        self.master_down_deadline = Some(deadline);
        out.push(Action::ArmTimer {
            timer: Timer::MasterDown,
            deadline,
        });
    }

    fn cancel_master_down(&mut self, out: &mut Vec<Action>) {
        if self.master_down_deadline.take().is_some() {
            out.push(Action::CancelTimer(Timer::MasterDown));
        }
    }
}

/// RFC 5798 section 6.4.3: the tie-break compares primary addresses as
/// unsigned integers in network byte order. Addresses of different families
/// never compare greater.
fn address_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
