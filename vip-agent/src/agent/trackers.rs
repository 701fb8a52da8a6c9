//! keepalived's trackers: `vrrp_script` checks run on their interval, and
//! tracked interfaces follow link events. Each instance turns their states
//! into a priority adjustment or a fault, as keepalived does:
//! - weight 0: the tracker failing puts the instance in FAULT;
//! - weight > 0: added to the priority while the tracker succeeds;
//! - weight < 0: added (lowering it) while the tracker fails;
//! - `reverse` swaps success and failure.

use std::{process::Stdio, time::Duration};

use tokio::sync::mpsc;

use crate::config::{ScriptUser, VrrpScript};

/// A script's verdict changed (after `rise` successes or `fall` failures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptResult {
    pub name: String,
    pub ok: bool,
}

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

/// Runs `script` every `interval_s` (at most `timeout_s` each), reporting
/// each change of its rise/fall-filtered verdict, starting from `ok` (the
/// state the agent already holds for it: `!init_fail` for a new script, the
/// last verdict across a reload).
pub fn spawn_script(
    script: VrrpScript,
    default_user: Option<ScriptUser>,
    mut ok: bool,
    results: mpsc::Sender<ScriptResult>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(u64::from(script.interval_s.max(1)));
        let timeout = Duration::from_secs(u64::from(script.timeout_s.max(1)));
        let (mut successes, mut failures) = (0u32, 0u32);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let passed = run_once(&script, default_user.as_ref(), timeout).await;
            if passed {
                successes += 1;
                failures = 0;
            } else {
                failures += 1;
                successes = 0;
            }
            let verdict = if !ok && successes >= script.rise.max(1) {
                Some(true)
            } else if ok && failures >= script.fall.max(1) {
                Some(false)
            } else {
                None
            };
            if let Some(verdict) = verdict {
                ok = verdict;
                tracing::info!(script = %script.name, ok, "vrrp_script state change");
                if results
                    .send(ScriptResult {
                        name: script.name.clone(),
                        ok,
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    })
}

async fn run_once(
    script: &VrrpScript,
    default_user: Option<&ScriptUser>,
    timeout: Duration,
) -> bool {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&script.script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let user = script
        .user
        .clone()
        .or_else(|| default_user.map(|u| u.user.clone()));
    if let Some(user) = user {
        match nix::unistd::User::from_name(&user) {
            Ok(Some(found)) => {
                cmd.uid(found.uid.as_raw()).gid(found.gid.as_raw());
            }
            _ => {
                tracing::warn!(script = %script.name, user, "script user does not exist; counting as failed");
                return false;
            }
        }
    }
    let Ok(mut child) = cmd.spawn() else {
        tracing::warn!(script = %script.name, "could not start the script");
        return false;
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!(script = %script.name, ?timeout, "script timed out");
            let _ = child.kill().await;
            false
        }
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
