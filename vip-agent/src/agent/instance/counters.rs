//! What an instance counts: adverts sent, received and discarded (by why),
//! state changes (by from, to and reason) and when the last one happened.
//! `vip-agent status` shows them and `--metrics-listen` exports them.

use std::{collections::BTreeMap, time::Duration};

use super::state_name;
use crate::vrrp::{DecodeError, DiscardReason, State, TransitionReason};

/// Why an advert was discarded before or by the election. Each kind is a
/// stable, snake_case name (a metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiscardCause {
    /// Unicast: the source is not one of the `unicast_peer`s.
    NotPeer,
    /// TTL / hop limit not 255 (multicast), or outside the unicast
    /// peer's `min_ttl`..`max_ttl`.
    Ttl,
    /// Not VRRP version 2 or 3, or not the configured one.
    Version,
    /// Not an ADVERTISEMENT.
    Type,
    /// Truncated, or its length does not match its address count.
    Length,
    Checksum,
    /// VRRPv2 authentication type or password mismatch.
    Auth,
    /// Source and destination of different families, or VRRPv2 over IPv6.
    Family,
    /// Another virtual router's advert on this instance's socket.
    WrongVrid,
    /// VRRPv2: the advertised interval differs from ours.
    IntervalMismatch,
    /// Our own advert looped back.
    OwnAdvert,
    /// The instance was in Initialize or Fault.
    NotRunning,
}

impl DiscardCause {
    pub const ALL: [DiscardCause; 12] = [
        DiscardCause::NotPeer,
        DiscardCause::Ttl,
        DiscardCause::Version,
        DiscardCause::Type,
        DiscardCause::Length,
        DiscardCause::Checksum,
        DiscardCause::Auth,
        DiscardCause::Family,
        DiscardCause::WrongVrid,
        DiscardCause::IntervalMismatch,
        DiscardCause::OwnAdvert,
        DiscardCause::NotRunning,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DiscardCause::NotPeer => "not_peer",
            DiscardCause::Ttl => "ttl",
            DiscardCause::Version => "version",
            DiscardCause::Type => "type",
            DiscardCause::Length => "length",
            DiscardCause::Checksum => "checksum",
            DiscardCause::Auth => "auth",
            DiscardCause::Family => "family",
            DiscardCause::WrongVrid => "wrong_vrid",
            DiscardCause::IntervalMismatch => "interval_mismatch",
            DiscardCause::OwnAdvert => "own_advert",
            DiscardCause::NotRunning => "not_running",
        }
    }

    pub fn of_decode_error(error: &DecodeError) -> Self {
        match error {
            DecodeError::BadVersion(_) | DecodeError::VersionMismatch { .. } => {
                DiscardCause::Version
            }
            DecodeError::BadType(_) => DiscardCause::Type,
            DecodeError::Truncated { .. } | DecodeError::LengthMismatch { .. } => {
                DiscardCause::Length
            }
            DecodeError::BadChecksum { .. } => DiscardCause::Checksum,
            DecodeError::AuthTypeMismatch { .. } | DecodeError::AuthMismatch => DiscardCause::Auth,
            DecodeError::BadTtl(_) => DiscardCause::Ttl,
            DecodeError::AddressFamilyMismatch => DiscardCause::Family,
        }
    }

    pub fn of_discard(reason: &DiscardReason) -> Self {
        match reason {
            DiscardReason::Invalid(error) => Self::of_decode_error(error),
            DiscardReason::WrongVrid(_) => DiscardCause::WrongVrid,
            DiscardReason::IntervalMismatch { .. } => DiscardCause::IntervalMismatch,
            DiscardReason::OwnAdvert => DiscardCause::OwnAdvert,
            DiscardReason::NotRunning => DiscardCause::NotRunning,
            DiscardReason::NotPeer => DiscardCause::NotPeer,
        }
    }
}

/// The snake_case name of a transition's reason (a metric label).
pub fn reason_name(reason: TransitionReason) -> &'static str {
    match reason {
        TransitionReason::Startup => "startup",
        TransitionReason::AddressOwner => "address_owner",
        TransitionReason::MasterDown => "master_down",
        TransitionReason::HigherPriorityMaster => "higher_priority_master",
        TransitionReason::Shutdown => "shutdown",
        TransitionReason::FaultRaised => "fault_raised",
        TransitionReason::FaultCleared => "fault_cleared",
        TransitionReason::Reload => "reload",
        TransitionReason::Restart => "restart",
        TransitionReason::RouteRemoved => "route_removed",
        TransitionReason::SyncGroup => "sync_group",
    }
}

/// One kind of state change: from, to (as `status` names states) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Transition {
    pub from: &'static str,
    pub to: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    /// Every discarded advert, whatever the cause (the sum of `discarded`).
    pub adverts_discarded: u64,
    pub became_master: u64,
    /// Priority-0 adverts sent (resigning) and received (a Master resigned).
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub discarded: BTreeMap<DiscardCause, u64>,
    pub transitions: BTreeMap<Transition, u64>,
    /// When the last state change happened, on the agent's clock.
    pub last_transition: Option<Duration>,
}

impl Counters {
    pub fn discard(&mut self, cause: DiscardCause) {
        self.adverts_discarded += 1;
        *self.discarded.entry(cause).or_default() += 1;
    }

    pub fn discarded(&self, cause: DiscardCause) -> u64 {
        self.discarded.get(&cause).copied().unwrap_or(0)
    }

    pub fn transition(&mut self, from: State, to: State, reason: TransitionReason, now: Duration) {
        let key = Transition {
            from: state_name(from),
            to: state_name(to),
            reason: reason_name(reason),
        };
        *self.transitions.entry(key).or_default() += 1;
        self.last_transition = Some(now);
        if to == State::Master {
            self.became_master += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discard_causes_have_distinct_names_and_all_lists_each_once() {
        let names: std::collections::BTreeSet<&str> =
            DiscardCause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), DiscardCause::ALL.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn a_discard_counts_in_the_total_and_under_its_cause() {
        let mut counters = Counters::default();
        counters.discard(DiscardCause::of_decode_error(&DecodeError::BadChecksum {
            received: 1,
        }));
        counters.discard(DiscardCause::of_discard(&DiscardReason::OwnAdvert));
        counters.discard(DiscardCause::of_discard(&DiscardReason::Invalid(
            DecodeError::BadTtl(64),
        )));
        assert_eq!(counters.adverts_discarded, 3);
        assert_eq!(counters.discarded(DiscardCause::Checksum), 1);
        assert_eq!(counters.discarded(DiscardCause::OwnAdvert), 1);
        assert_eq!(counters.discarded(DiscardCause::Ttl), 1);
        assert_eq!(counters.discarded(DiscardCause::NotPeer), 0);
    }

    #[test]
    fn transitions_count_by_kind_and_remember_the_last_time() {
        let mut counters = Counters::default();
        let t = |s| Duration::from_secs(s);
        counters.transition(
            State::Initialize,
            State::Backup,
            TransitionReason::Startup,
            t(1),
        );
        counters.transition(
            State::Backup,
            State::Master,
            TransitionReason::MasterDown,
            t(4),
        );
        counters.transition(
            State::Master,
            State::Backup,
            TransitionReason::HigherPriorityMaster,
            t(9),
        );
        counters.transition(
            State::Backup,
            State::Master,
            TransitionReason::MasterDown,
            t(20),
        );
        let to_master = Transition {
            from: "BACKUP",
            to: "MASTER",
            reason: "master_down",
        };
        assert_eq!(counters.transitions[&to_master], 2);
        assert_eq!(counters.transitions.len(), 3);
        assert_eq!(counters.became_master, 2);
        assert_eq!(counters.last_transition, Some(t(20)));
    }
}
