//! keepalived's trackers and sync-group faults, as pure functions of the
//! configuration, the link view and the scripts' verdicts.
//!
//! Each tracker turns into a priority adjustment or a fault:
//! - weight 0: the tracker failing puts the instance in FAULT;
//! - weight > 0: added to the priority while the tracker succeeds;
//! - weight < 0: added (lowering it) while the tracker fails;
//! - `reverse` swaps success and failure.
//!
//! A sync group's trackers count for every member, and a member in fault
//! (its own interface down, or a weight-0 tracker failing) puts the other
//! members in fault too.

use std::collections::{BTreeSet, HashMap};

use crate::config::{Config, SyncGroup, VrrpInstance};

use super::{notify::NotifyState, system::SystemView};

/// One tracker as an instance sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerState {
    pub weight: i32,
    pub reverse: bool,
    /// The tracked thing is up / the script succeeds.
    pub ok: bool,
}

/// The priority adjustment and whether a weight-0 tracker failed.
pub fn combine(trackers: &[TrackerState]) -> (i32, bool) {
    let mut weight = 0;
    let mut fault = false;
    for t in trackers {
        let ok = t.ok != t.reverse;
        match t.weight {
            0 if !ok => fault = true,
            w if w > 0 && ok => weight += w,
            w if w < 0 && !ok => weight += w,
            _ => {}
        }
    }
    (weight, fault)
}

fn groups_of<'a>(config: &'a Config, instance: &'a str) -> impl Iterator<Item = &'a SyncGroup> {
    config
        .sync_groups
        .iter()
        .filter(move |g| g.instances.iter().any(|m| m == instance))
}

/// The trackers of `instance`, its sync groups' included, resolved: an
/// interface is ok while up, a script while its verdict is success (an
/// unknown script counts as succeeding until it reports).
pub fn trackers_of(
    instance: &VrrpInstance,
    config: &Config,
    system: &SystemView,
    scripts: &HashMap<String, bool>,
) -> Vec<TrackerState> {
    let groups: Vec<&SyncGroup> = groups_of(config, &instance.name).collect();
    let routing = routing_interfaces(instance);
    // keepalived: an interface a watched virtual route or rule uses is
    // tracked with weight 0, whatever weight track_interface gives it.
    let interfaces = instance
        .track_interfaces
        .iter()
        .chain(groups.iter().flat_map(|g| g.track_interfaces.iter()))
        .map(|t| TrackerState {
            weight: if routing.contains(&t.name) {
                0
            } else {
                t.weight
            },
            reverse: t.reverse,
            ok: system.link_up(&t.name),
        })
        .collect::<Vec<_>>();
    let tracked: BTreeSet<&str> = instance
        .track_interfaces
        .iter()
        .chain(groups.iter().flat_map(|g| g.track_interfaces.iter()))
        .map(|t| t.name.as_str())
        .collect();
    let routing = routing
        .iter()
        .filter(|name| !tracked.contains(name.as_str()))
        .map(|name| TrackerState {
            weight: 0,
            reverse: false,
            ok: system.link_up(name),
        });
    let scripts = instance
        .track_scripts
        .iter()
        .chain(groups.iter().flat_map(|g| g.track_scripts.iter()))
        .map(|t| TrackerState {
            weight: t.weight,
            reverse: t.reverse,
            ok: scripts.get(&t.name).copied().unwrap_or(true),
        });
    interfaces
        .into_iter()
        .chain(routing)
        .chain(scripts)
        .collect()
}

/// The interfaces of an instance's watched virtual routes (`dev`) and
/// rules (`iif`, `oif`): keepalived puts the instance in fault while one
/// of them is down.
pub fn routing_interfaces(instance: &VrrpInstance) -> BTreeSet<String> {
    let routes = instance
        .virtual_routes
        .iter()
        .filter(|r| r.track)
        .filter_map(|r| r.dev.clone());
    let rules = instance
        .virtual_rules
        .iter()
        .filter(|r| r.track)
        .flat_map(|r| [r.iif.clone(), r.oif.clone()])
        .flatten();
    routes.chain(rules).collect()
}

/// The instances a sync group puts in fault because another member of one
/// of their groups is in fault itself (`faulty`).
pub fn sync_faults(config: &Config, faulty: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for group in &config.sync_groups {
        for member in &group.instances {
            if group
                .instances
                .iter()
                .any(|m| m != member && faulty.contains(m))
            {
                out.insert(member.clone());
            }
        }
    }
    out
}

/// The state of a sync group as keepalived announces it, from the states
/// its members were last announced in (a member not announced yet does not
/// count): FAULT while one is in fault, MASTER once all are Master, STOP
/// once all have stopped (while only some have, nothing changes), BACKUP
/// otherwise.
pub fn group_state(
    group: &SyncGroup,
    members: &HashMap<String, NotifyState>,
) -> Option<NotifyState> {
    let states: Vec<NotifyState> = group
        .instances
        .iter()
        .filter_map(|m| members.get(m).copied())
        .collect();
    if states.is_empty() {
        return None;
    }
    if states.contains(&NotifyState::Stop) {
        return states
            .iter()
            .all(|s| *s == NotifyState::Stop)
            .then_some(NotifyState::Stop);
    }
    Some(if states.contains(&NotifyState::Fault) {
        NotifyState::Fault
    } else if states.iter().all(|s| *s == NotifyState::Master) {
        NotifyState::Master
    } else {
        NotifyState::Backup
    })
}

/// Every script some instance or sync group tracks, by name.
pub fn tracked_scripts(config: &Config) -> BTreeSet<String> {
    config
        .instances
        .iter()
        .flat_map(|i| i.track_scripts.iter())
        .chain(
            config
                .sync_groups
                .iter()
                .flat_map(|g| g.track_scripts.iter()),
        )
        .map(|t| t.name.clone())
        .collect()
}

/// What an instance's health is made of, and what its state machine was
/// last told of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// The instance's own interface is down (unless `dont_track_primary`).
    pub link_fault: bool,
    /// A weight-0 tracker failed.
    pub tracker_fault: bool,
    /// Another member of a sync group is in fault.
    pub sync_fault: bool,
    /// The trackers' priority adjustment.
    pub weight: i32,
    /// The adjustment the state machine was last told.
    pub weight_fed: i32,
    /// The fault the state machine was last told.
    pub fault_fed: bool,
}

impl Health {
    /// Fault of the instance itself, which a sync group passes on.
    pub fn own_fault(&self) -> bool {
        self.link_fault || self.tracker_fault
    }

    pub fn fault(&self) -> bool {
        self.own_fault() || self.sync_fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(weight: i32, reverse: bool, ok: bool) -> TrackerState {
        TrackerState {
            weight,
            reverse,
            ok,
        }
    }

    #[test]
    fn weight_zero_failure_is_a_fault() {
        assert_eq!(combine(&[t(0, false, false)]), (0, true));
        assert_eq!(combine(&[t(0, false, true)]), (0, false));
        assert_eq!(
            combine(&[t(0, true, true)]),
            (0, true),
            "reverse: success is failure"
        );
    }

    #[test]
    fn positive_weight_adds_while_ok_negative_while_failed() {
        assert_eq!(
            combine(&[t(10, false, true), t(-20, false, true)]),
            (10, false)
        );
        assert_eq!(
            combine(&[t(10, false, false), t(-20, false, false)]),
            (-20, false)
        );
        assert_eq!(combine(&[t(-20, true, true)]), (-20, false), "reverse");
    }
}
