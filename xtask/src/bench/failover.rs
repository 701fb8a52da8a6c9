//! What a client sees when the Master goes away: a ping every 5 ms to the
//! VIP from a third namespace while the Master dies (link down and SIGKILL
//! of every process in its namespace: a dead host), stops (SIGTERM:
//! priority-0 advert) or crashes and is restarted. The outage is the
//! longest gap between consecutive replies. The failover section runs the
//! first two; `handover` runs the stop and the crash with its restart
//! through the same [`run_cases`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::{json, Value};
use vip_netns::probe::Probe;

use super::{
    check_interrupt,
    daemon::{self, holds, System, PRIO_BACKUP, VIP},
    lab::{self, IFACE},
    pause, wait_until, Env,
};

/// The client pings the VIP this often.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// What happens to the Master.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Its link goes down and every process in its namespace gets SIGKILL.
    Kill,
    /// SIGTERM to the daemon.
    Term,
    /// SIGKILL to the daemon's process tree, and the same daemon started
    /// again this long after the kill.
    Crash { restart_after_s: f64 },
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Kill => "kill",
            Event::Term => "term",
            Event::Crash { .. } => "crash",
        }
    }
}

#[derive(Clone, Copy)]
pub struct Case {
    pub version: u8,
    pub advert: f64,
    pub event: Event,
}

impl Case {
    /// RFC bound: Master_Down_Interval (3 x interval + Skew_Time) after a
    /// silent death (also a crash: the bound should the Backup take over),
    /// Skew_Time after a priority-0 advert.
    pub fn bound_s(self) -> f64 {
        let skew = match self.version {
            2 => (256.0 - PRIO_BACKUP as f64) / 256.0,
            _ => (256.0 - PRIO_BACKUP as f64) * self.advert / 256.0,
        };
        match self.event {
            Event::Term => skew,
            Event::Kill | Event::Crash { .. } => 3.0 * self.advert + skew,
        }
    }

    /// How long after the event the client is watched at most. A crash is
    /// watched for all of it: long enough for the Backup's timer to fire and
    /// for the restarted Master (Backup first, for keepalived) to preempt.
    fn watch_s(self) -> f64 {
        match self.event {
            Event::Crash { restart_after_s } => restart_after_s + 2.0 * self.bound_s() + 1.0,
            Event::Kill | Event::Term => 2.0 * self.bound_s() + 3.0,
        }
    }

    fn advert_text(self) -> String {
        if self.version == 2 {
            format!("{}", self.advert as u32)
        } else {
            format!("{}", self.advert)
        }
    }
}

pub const CASES: [Case; 4] = [
    Case {
        version: 3,
        advert: 0.05,
        event: Event::Kill,
    },
    Case {
        version: 3,
        advert: 0.05,
        event: Event::Term,
    },
    Case {
        version: 2,
        advert: 1.0,
        event: Event::Kill,
    },
    Case {
        version: 2,
        advert: 1.0,
        event: Event::Term,
    },
];

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn one(env: &Env, case: Case, system: System, phase: f64) -> Result<Value> {
    let mut lab = lab::new_lab()?;
    let client = lab::add_node(&mut lab, "client", &["10.0.0.9/24"])?;
    let a = lab::add_node(&mut lab, "a", &["10.0.0.1/24"])?;
    let b = lab::add_node(&mut lab, "b", &["10.0.0.2/24"])?;
    let (da, db) = daemon::start_pair(
        &mut lab,
        &env.agent_bin,
        system,
        (a, b),
        case.version,
        &case.advert_text(),
        "auto",
    )?;
    // The Backup has heard adverts and its down timer runs from the last one.
    pause(Duration::from_secs_f64(case.advert + 0.3))?;
    anyhow::ensure!(!holds(&lab, b, VIP), "B holds the VIP before the event");
    let b_master_before = db
        .became_master(&env.agent_bin)
        .context("reading B's state changes")?;

    let max_s = 3.0 + case.watch_s() + case.advert + 3.0;
    let probe_started = now_s();
    let mut probe = Probe::start(
        lab.node(client).ns.command("ping"),
        VIP.parse()?,
        PROBE_INTERVAL,
        Duration::from_secs(max_s.ceil() as u64),
    )?;
    pause(Duration::from_millis(600))?;
    // Spread the event over the advert interval across repetitions: the
    // Backup's timer runs from the last advert it heard.
    pause(Duration::from_secs_f64(case.advert * phase))?;
    let before = probe.answered();
    anyhow::ensure!(
        before > 50,
        "client gets no replies before the event ({before})"
    );

    let t0 = now_s();
    let watch = Duration::from_secs_f64(case.watch_s());
    let mut restarted_after_s = None;
    let recovered = match case.event {
        Event::Kill | Event::Term => {
            if case.event == Event::Kill {
                lab.node(a).ns.ip(&["link", "set", IFACE, "down"])?;
                for pid in lab.node(a).ns.pids() {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            } else {
                nix::sys::signal::kill(Pid::from_raw(da.pid), Signal::SIGTERM)?;
            }
            wait_until("the client to get replies from B", watch, || {
                holds(&lab, b, VIP) && probe.last_reply_time().is_some_and(|s| s > t0 + 0.001)
            })
        }
        Event::Crash { restart_after_s } => {
            let start = Instant::now();
            da.kill(&mut lab)?;
            pause(Duration::from_secs_f64(restart_after_s).saturating_sub(start.elapsed()))?;
            restarted_after_s = Some(now_s() - t0);
            let _restarted = da.restart(&mut lab, &env.agent_bin)?;
            pause(watch.saturating_sub(start.elapsed()))?;
            // Settled: replies flow again.
            if probe.last_reply_time().is_some_and(|s| s > now_s() - 0.1) {
                Ok(())
            } else {
                Err(anyhow::anyhow!("no replies at the end of the watch"))
            }
        }
    };
    pause(Duration::from_millis(300))?;
    probe.stop();
    let probe_stopped = now_s();
    check_interrupt()?;
    let all = probe.reply_times();
    let window: Vec<f64> = all.iter().copied().filter(|&s| s >= t0 - 0.3).collect();
    let mut outage = window
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0f64, f64::max);
    let complete = recovered.is_ok() && window.last().is_some_and(|&s| s > t0);
    if !complete {
        // No reply after the event within the wait: the outage is at least that long.
        outage = outage.max(probe_stopped - all.last().copied().unwrap_or(t0).max(t0));
    }
    let b_master_after = db.became_master(&env.agent_bin).ok();
    let mut sample = json!({
        "system": system.name(),
        "version": case.version,
        "advert_int_s": case.advert,
        "event": case.event.name(),
        "outage_ms": outage * 1000.0,
        "complete": complete,
        "bound_ms": case.bound_s() * 1000.0,
        "phase_of_advert_int": phase,
        "probes_sent": probe.sent(),
        "probes_answered": probe.answered(),
        "probes_lost": probe.lost(),
        "probes_expected": ((probe_stopped - probe_started) / PROBE_INTERVAL.as_secs_f64()).floor(),
        "backup_became_master": b_master_after.map(|n| n.saturating_sub(b_master_before)),
        "master_holds_vip_after": holds(&lab, a, VIP),
        "backup_holds_vip_after": holds(&lab, b, VIP),
        "replies_ms": window.iter().map(|s| ((s - t0) * 1e5).round() / 100.0).collect::<Vec<_>>(),
    });
    if let Some(after) = restarted_after_s {
        sample["restarted_after_ms"] = json!(after * 1000.0);
        if system == System::VipAgent {
            let log = std::fs::read_to_string(&da.log).unwrap_or_default();
            sample["resumed_as_master"] = json!(log.contains("resuming as Master"));
        }
    }
    if let Err(error) = recovered {
        sample["note"] = json!(format!("{error:#}"));
    }
    Ok(sample)
}

/// Every case `reps` times, the two systems interleaved (A B A B). A run
/// that fails is kept as a sample with its `error`: the report says so.
pub fn run_cases(env: &Env, section: &str, cases: &[Case], reps: usize) -> Result<Value> {
    let mut samples = Vec::new();
    for &case in cases {
        for rep in 0..reps {
            for system in [System::VipAgent, System::Keepalived] {
                check_interrupt()?;
                let phase = (rep as f64 * 0.618_034).fract();
                let what = format!(
                    "{section} {} v{} advert {} {} rep {rep}",
                    system.name(),
                    case.version,
                    case.advert,
                    case.event.name()
                );
                let mut s = match one(env, case, system, phase) {
                    Ok(s) => {
                        eprintln!(
                            "  {what}: {:.0} ms, {} of {} probes lost",
                            s["outage_ms"].as_f64().unwrap_or(f64::NAN),
                            s["probes_lost"],
                            s["probes_sent"],
                        );
                        s
                    }
                    Err(error) => {
                        check_interrupt()?;
                        eprintln!("  {what}: FAILED: {error:#}");
                        json!({
                            "system": system.name(),
                            "version": case.version,
                            "advert_int_s": case.advert,
                            "event": case.event.name(),
                            "error": format!("{error:#}"),
                        })
                    }
                };
                s["rep"] = json!(rep);
                samples.push(s);
            }
        }
    }
    Ok(Value::Array(samples))
}

pub fn run(env: &Env) -> Result<Value> {
    run_cases(env, "failover", &CASES, env.plan.failover_reps)
}
