//! Failover outage as a client sees it: a ping every 5 ms to the VIP from a
//! third namespace while the Master dies (link down and SIGKILL of every
//! process in its namespace: a dead host) or stops (SIGTERM: priority-0
//! advert). The outage is the longest gap between consecutive replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
const PROBE_INTERVAL: Duration = Duration::from_millis(5);

#[derive(Clone, Copy)]
pub struct Case {
    pub version: u8,
    pub advert: f64,
    pub event: &'static str,
}

impl Case {
    /// RFC bound: Master_Down_Interval (3 x interval + Skew_Time) after a
    /// silent death, Skew_Time after a priority-0 advert.
    pub fn bound_s(self) -> f64 {
        let skew = match self.version {
            2 => (256.0 - PRIO_BACKUP as f64) / 256.0,
            _ => (256.0 - PRIO_BACKUP as f64) * self.advert / 256.0,
        };
        match self.event {
            "kill" => 3.0 * self.advert + skew,
            _ => skew,
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
        event: "kill",
    },
    Case {
        version: 3,
        advert: 0.05,
        event: "term",
    },
    Case {
        version: 2,
        advert: 1.0,
        event: "kill",
    },
    Case {
        version: 2,
        advert: 1.0,
        event: "term",
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
    let (da, _db) = daemon::start_pair(
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

    let max_s = 3.0 + 2.0 * case.bound_s() + 3.0;
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
    if case.event == "kill" {
        lab.node(a).ns.ip(&["link", "set", IFACE, "down"])?;
        for pid in lab.node(a).ns.pids() {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    } else {
        nix::sys::signal::kill(Pid::from_raw(da.pid), Signal::SIGTERM)?;
    }
    let recovered = wait_until(
        "the client to get replies from B",
        Duration::from_secs_f64(2.0 * case.bound_s() + 3.0),
        || holds(&lab, b, VIP) && probe.last_reply_time().is_some_and(|s| s > t0 + 0.001),
    );
    pause(Duration::from_millis(300))?;
    probe.stop();
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
        outage = outage.max(now_s() - t0);
    }
    Ok(json!({
        "system": system.name(),
        "version": case.version,
        "advert_int_s": case.advert,
        "event": case.event,
        "outage_ms": outage * 1000.0,
        "complete": complete,
        "bound_ms": case.bound_s() * 1000.0,
        "phase_of_advert_int": phase,
        "replies_ms": window.iter().map(|s| ((s - t0) * 1e5).round() / 100.0).collect::<Vec<_>>(),
    }))
}

pub fn run(env: &Env) -> Result<Value> {
    let mut samples = Vec::new();
    for case in CASES {
        for rep in 0..env.plan.failover_reps {
            for system in [System::VipAgent, System::Keepalived] {
                check_interrupt()?;
                let phase = (rep as f64 * 0.618_034).fract();
                let mut s = one(env, case, system, phase).with_context(|| {
                    format!(
                        "{} v{} {} rep {rep}",
                        system.name(),
                        case.version,
                        case.event
                    )
                })?;
                s["rep"] = json!(rep);
                eprintln!(
                    "  failover {} v{} advert {} {} rep {rep}: {:.0} ms",
                    system.name(),
                    case.version,
                    case.advert,
                    case.event,
                    s["outage_ms"].as_f64().unwrap_or(f64::NAN)
                );
                samples.push(s);
            }
        }
    }
    Ok(Value::Array(samples))
}
