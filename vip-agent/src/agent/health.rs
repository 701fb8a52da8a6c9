//! keepalived's trackers and sync-group faults, as pure functions of the
//! configuration, the link view and the scripts' verdicts.
//!
//! Each tracker turns into a priority adjustment or a fault:
//! - weight 0: the tracker failing puts the instance in FAULT;
//! - weight > 0: added to the priority while the tracker succeeds;
//! - weight < 0: added (lowering it) while the tracker fails;
//! - `reverse` swaps success and failure.
//!
//! A `track_file` is the exception: its value times the weight is added
//! (see [`file_tracker`]); a `track_process` is up while its quorum is met.
//!
//! A sync group's trackers count for every member, and a member in fault
//! (its own interface down, or a weight-0 tracker failing) puts the other
//! members in fault too.

use std::collections::{BTreeSet, HashMap};

use crate::config::{Config, SyncGroup, TrackFile, TrackProcess, VrrpInstance};

use super::{notify::NotifyState, system::SystemView};

/// One tracker as an instance sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerState {
    pub weight: i32,
    pub reverse: bool,
    /// The tracked thing is up / the script succeeds.
    pub ok: bool,
}

/// What the file and process trackers last reported, by tracker name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The integer each `track_file` holds (0 until read).
    pub files: HashMap<String, i64>,
    /// Whether each `vrrp_track_process` has its quorum (after its delays).
    pub processes: HashMap<String, bool>,
}

/// keepalived's limits of one file tracker's adjustment: at most 253, and
/// -254 or below puts the instance in FAULT.
const FILE_FAULT: i64 = -254;
const FILE_MAX: i64 = 253;

/// A `track_file` holding `value`, as a tracker [`combine`] understands.
/// keepalived 2.2.7: with weight 0 a non-zero value is a fault (with
/// `reverse`, a zero value); otherwise `value * weight` (negated with
/// `reverse`), at most 253, is added, and -254 or below is a fault.
pub fn file_tracker(weight: i32, reverse: bool, value: i64) -> TrackerState {
    if weight == 0 {
        return TrackerState {
            weight: 0,
            reverse,
            ok: value == 0,
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let status = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(sign)
        .clamp(FILE_FAULT, FILE_MAX);
    if status == FILE_FAULT {
        return TrackerState {
            weight: 0,
            reverse: false,
            ok: false,
        };
    }
    // An adjustment that always applies: positive ones while "ok",
    // negative ones while "failed".
    TrackerState {
        weight: i32::try_from(status).unwrap_or_default(),
        reverse: false,
        ok: status >= 0,
    }
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
    observed: &Observed,
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
    let files = instance
        .track_files
        .iter()
        .chain(groups.iter().flat_map(|g| g.track_files.iter()))
        .map(|t| {
            let value = observed.files.get(&t.name).copied().unwrap_or(0);
            file_tracker(t.weight, t.reverse, value)
        });
    // A process tracker not reported yet counts as up, as a script does.
    let processes = instance
        .track_processes
        .iter()
        .chain(groups.iter().flat_map(|g| g.track_processes.iter()))
        .map(|t| TrackerState {
            weight: t.weight,
            reverse: t.reverse,
            ok: observed.processes.get(&t.name).copied().unwrap_or(true),
        });
    interfaces
        .into_iter()
        .chain(routing)
        .chain(scripts)
        .chain(files)
        .chain(processes)
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

/// The `track_file` and `vrrp_track_process` sections some instance or
/// sync group uses.
pub fn tracked_files_and_processes(config: &Config) -> (Vec<TrackFile>, Vec<TrackProcess>) {
    let owners = || {
        config
            .instances
            .iter()
            .map(|i| (&i.track_files, &i.track_processes))
            .chain(
                config
                    .sync_groups
                    .iter()
                    .map(|g| (&g.track_files, &g.track_processes)),
            )
    };
    let files: BTreeSet<&str> = owners()
        .flat_map(|(files, _)| files.iter().map(|t| t.name.as_str()))
        .collect();
    let processes: BTreeSet<&str> = owners()
        .flat_map(|(_, processes)| processes.iter().map(|t| t.name.as_str()))
        .collect();
    (
        config
            .track_files
            .iter()
            .filter(|f| files.contains(f.name.as_str()))
            .cloned()
            .collect(),
        config
            .track_processes
            .iter()
            .filter(|p| processes.contains(p.name.as_str()))
            .cloned()
            .collect(),
    )
}

/// What an instance's health is made of, and what its state machine was
/// last told of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// The instance's own interface is down (unless `dont_track_primary`).
    pub link_fault: bool,
    /// The instance's VMAC is not there, not up, or not made yet.
    pub vmac_fault: bool,
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
        self.link_fault || self.vmac_fault || self.tracker_fault
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
    fn a_file_value_times_the_weight_adjusts_the_priority() {
        assert_eq!(combine(&[file_tracker(10, false, 3)]), (30, false));
        assert_eq!(combine(&[file_tracker(10, false, -3)]), (-30, false));
        assert_eq!(
            combine(&[file_tracker(10, true, 3)]),
            (-30, false),
            "reverse"
        );
        assert_eq!(combine(&[file_tracker(-2, false, 5)]), (-10, false));
        assert_eq!(combine(&[file_tracker(7, false, 0)]), (0, false));
    }

    #[test]
    fn a_file_adjustment_stops_at_253_and_faults_from_minus_254() {
        assert_eq!(combine(&[file_tracker(100, false, 3)]), (253, false));
        assert_eq!(combine(&[file_tracker(1, false, -253)]), (-253, false));
        assert_eq!(combine(&[file_tracker(1, false, -254)]), (0, true));
        assert_eq!(combine(&[file_tracker(254, false, -1)]), (0, true));
        assert_eq!(combine(&[file_tracker(254, false, i64::MIN)]), (0, true));
        assert_eq!(combine(&[file_tracker(254, true, i64::MIN)]), (253, false));
    }

    #[test]
    fn a_weight_zero_file_faults_on_a_non_zero_value() {
        assert_eq!(combine(&[file_tracker(0, false, 0)]), (0, false));
        assert_eq!(combine(&[file_tracker(0, false, 1)]), (0, true));
        assert_eq!(combine(&[file_tracker(0, false, -7)]), (0, true));
        assert_eq!(combine(&[file_tracker(0, true, 0)]), (0, true), "reverse");
        assert_eq!(combine(&[file_tracker(0, true, 5)]), (0, false), "reverse");
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
