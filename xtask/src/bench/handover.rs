//! Planned handover and crash survival, as the client sees them: the
//! failover section's pair, probe and interleaving ([`failover::run_cases`])
//! with other events. *Planned handover*: SIGTERM to the Master.
//! *Crash + restart*: SIGKILL to the Master daemon, the same daemon started
//! again [`RESTART_AFTER_S`] later (same configuration; vip-agent with the
//! same bpffs directory). Each sample also counts the probes lost and
//! whether the Backup became Master.

use anyhow::Result;
use serde_json::Value;

use super::{
    failover::{self, Case, Event},
    Env,
};

/// How long a crashed Master stays down before it is started again.
pub const RESTART_AFTER_S: f64 = 0.3;

/// The failover section's two settings.
pub const HANDOVER_CASES: [Case; 2] = [
    Case {
        version: 3,
        advert: 0.05,
        event: Event::Term,
    },
    Case {
        version: 2,
        advert: 1.0,
        event: Event::Term,
    },
];

pub const CRASH_CASES: [Case; 2] = [
    Case {
        version: 3,
        advert: 0.05,
        event: Event::Crash {
            restart_after_s: RESTART_AFTER_S,
        },
    },
    Case {
        version: 2,
        advert: 1.0,
        event: Event::Crash {
            restart_after_s: RESTART_AFTER_S,
        },
    },
];

pub fn run_handover(env: &Env) -> Result<Value> {
    failover::run_cases(env, "handover", &HANDOVER_CASES, env.plan.handover_reps)
}

pub fn run_crash_restart(env: &Env) -> Result<Value> {
    failover::run_cases(env, "crash_restart", &CRASH_CASES, env.plan.handover_reps)
}
