//! keepalived (Debian's 2.2.7) as a real peer in a lab node: started in the
//! foreground with its log on the console (captured to a file), its own pid
//! files, and killed with everything it forked on drop.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};

use crate::{wait_for, Lab};

/// keepalived's messages when it rejects or distrusts an advertisement
/// (strings of keepalived 2.2.7's vrrp.c): a peer that interoperates
/// produces none of them.
pub const COMPLAINTS: &[&str] = &[
    "Invalid VRRPv2 checksum",
    "Invalid VRRPv3 checksum",
    "received an invalid passwd",
    "auth, expecting",
    "Invalid auth type",
    "auth bit is set",
    "AH header",
    "advertisement interval mismatch",
    "advertisement interval updated from",
    "invalid TTL/HL",
    "not in range",
    "wrong version",
    "Invalid packet type",
    "unexpected ip number count",
    "not present in MASTER advert",
    "Setting unicast VRRPv3 checksum to old version",
];

/// The keepalived binary (Debian's path).
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// One keepalived in a lab node's namespace.
pub struct Keepalived {
    pub role: String,
    pub ns: String,
    pub log: PathBuf,
    conf: PathBuf,
    pid_files: [PathBuf; 2],
    child: Option<Child>,
}

impl Keepalived {
    /// Writes `config` and starts `ip netns exec NS keepalived -n -l -D -G
    /// -R -f CONF -p PID -r VRRP_PID` (foreground, console log, no syslog,
    /// no respawn), its output appended to `<role>.keepalived.log`.
    pub fn start(lab: &mut Lab, node: usize, role: &str, config: &str) -> Result<Self> {
        assert!(
            Path::new(KEEPALIVED).is_file(),
            "{KEEPALIVED} is missing: run `cargo xtask setup`"
        );
        let dir = lab.work_dir().to_path_buf();
        let conf = dir.join(format!("{role}.keepalived.conf"));
        fs::write(&conf, config)?;
        let log = dir.join(format!("{role}.keepalived.log"));
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let ns = lab.node(node).ns.name.clone();
        let pid_files = [
            dir.join(format!("{role}.keepalived.pid")),
            dir.join(format!("{role}.keepalived-vrrp.pid")),
        ];
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns, KEEPALIVED])
            .args(["-n", "-l", "-D", "-G", "-R", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(&pid_files[0])
            .arg("-r")
            .arg(&pid_files[1])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        lab.register_log(&format!("{role} (keepalived)"), &log);
        Ok(Self {
            role: role.to_string(),
            ns,
            log,
            conf,
            pid_files,
            child: Some(child),
        })
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines matching one of [`COMPLAINTS`].
    pub fn complaints(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| COMPLAINTS.iter().any(|c| l.contains(c)))
            .map(str::to_string)
            .collect()
    }

    /// The state keepalived last announced for `instance` ("MASTER",
    /// "BACKUP", "FAULT"), from its "(NAME) Entering X STATE" lines.
    pub fn state(&self, instance: &str) -> Option<String> {
        let prefix = format!("({instance}) Entering ");
        self.log_text().lines().rev().find_map(|l| {
            let rest = l.split(&prefix).nth(1)?;
            Some(rest.split_whitespace().next()?.to_string())
        })
    }

    /// SIGKILLs keepalived and the children it forked (every keepalived
    /// process in its namespace), and reaps it. Once: a later call (drop)
    /// leaves a keepalived restarted in the same namespace alone.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut killed = Vec::new();
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let Ok(pid) = pid.parse::<i32>() else {
                    continue;
                };
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "keepalived" {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                    killed.push(pid);
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        // The forked child is reaped by whoever adopts it: until then its
        // pid is live and a restarted keepalived would find its pid file
        // and refuse to start ("daemon is already running").
        let _ = wait_for(
            "killed keepalived processes to be gone",
            Duration::from_secs(20),
            || {
                killed
                    .iter()
                    .all(|pid| {
                        fs::read_to_string(format!("/proc/{pid}/stat"))
                            .map(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
                            .unwrap_or(true)
                    })
                    .then_some(())
            },
        );
        for file in &self.pid_files {
            let _ = fs::remove_file(file);
        }
    }

    /// A clean stop: SIGTERM to keepalived's parent process (what
    /// `systemctl stop` sends), then waits for it to exit. keepalived
    /// restores what it installed on the way out.
    pub fn terminate(&mut self, timeout: Duration) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM)?;
        wait_for("keepalived to exit after SIGTERM", timeout, || {
            child.try_wait().ok().flatten()
        })?;
        self.child = None;
        for file in &self.pid_files {
            let _ = fs::remove_file(file);
        }
        Ok(())
    }

    /// Replaces its configuration with `config` and sends SIGHUP to the
    /// parent process (what `systemctl reload` sends).
    pub fn reload(&self, config: &str) -> Result<()> {
        let child = self.child.as_ref().context("keepalived is not running")?;
        fs::write(&self.conf, config)?;
        nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP)?;
        Ok(())
    }

    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.kill();
    }
}
