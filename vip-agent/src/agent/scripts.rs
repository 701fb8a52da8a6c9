//! `vrrp_script` runners: each check runs on its interval (bounded by its
//! timeout) in a task of its own and reports only changes of its rise/fall
//! filtered verdict, which [`super::health`] turns into priority or fault.

use std::{process::Stdio, time::Duration};

use tokio::sync::mpsc;

use crate::config::{ScriptUser, VrrpScript};

/// A script's verdict changed (after `rise` successes or `fall` failures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptResult {
    pub name: String,
    pub ok: bool,
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
        // Its own process group: `sh -c` forks the script rather than
        // exec it, so a timeout must end the group, not just the shell.
        .process_group(0)
        .kill_on_drop(true);
    match super::run_as::for_script(
        script.user.as_deref(),
        script.group.as_deref(),
        default_user,
    ) {
        Ok(run_as) => super::run_as::apply(&mut cmd, run_as),
        Err(err) => {
            tracing::warn!(script = %script.name, error = %err, "not running the script; counting as failed");
            return false;
        }
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            tracing::warn!(script = %script.name, error = %err, "could not start the script");
            return false;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!(script = %script.name, ?timeout, "script timed out");
            kill_group(&script.name, child.id());
            let _ = child.kill().await;
            false
        }
    }
}

/// Ends a timed-out script and whatever it started (its process group). A
/// script running as another user can only be killed with CAP_KILL.
fn kill_group(name: &str, pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let group = nix::unistd::Pid::from_raw(pid);
    if let Err(err) = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL) {
        tracing::warn!(script = %name, error = %err, "could not kill the timed-out script (another user's script needs CAP_KILL)");
    }
}
