//! The two systems under comparison, started the same way on a lab node
//! from equivalent keepalived.conf text.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result};
use nix::{
    sys::signal::{self, Signal},
    unistd::Pid,
};

use super::{
    lab::{run, Lab, IFACE},
    wait_until,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    VipAgent,
    Keepalived,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::VipAgent => "vip-agent",
            System::Keepalived => "keepalived",
        }
    }
}

/// The VIP of the Master/Backup pairs the benchmarks run.
pub const VIP: &str = "10.0.0.100";
pub const PRIO_MASTER: u8 = 150;
pub const PRIO_BACKUP: u8 = 100;

/// Starts `system` on node `a` as Master (priority [`PRIO_MASTER`]) and on
/// node `b` as Backup ([`PRIO_BACKUP`]), one VRRP instance, VRID 51, for
/// [`VIP`]; returns once `a` holds the VIP.
#[allow(clippy::too_many_arguments)]
pub fn start_pair(
    lab: &mut Lab,
    agent_bin: &Path,
    system: System,
    (a, b): (usize, usize),
    version: u8,
    advert_int: &str,
    xdp_mode: &str,
) -> Result<(Daemon, Daemon)> {
    let conf = |priority, master| pair_config(version, advert_int, priority, master);
    let master = start(
        lab,
        agent_bin,
        system,
        a,
        "a",
        &conf(PRIO_MASTER, true),
        xdp_mode,
    )?;
    let backup = start(
        lab,
        agent_bin,
        system,
        b,
        "b",
        &conf(PRIO_BACKUP, false),
        xdp_mode,
    )?;
    wait_until("A to hold the VIP", Duration::from_secs(15), || {
        holds(lab, a, VIP)
    })?;
    Ok((master, backup))
}

/// One node's file of a Master/Backup pair: VRID 51 for [`VIP`].
pub fn pair_config(version: u8, advert_int: &str, priority: u8, master: bool) -> String {
    config(
        version,
        advert_int,
        None,
        &[Inst {
            vrid: 51,
            priority,
            master,
            vip: format!("{VIP}/24"),
        }],
    )
}

/// One VRRP instance of a generated configuration.
pub struct Inst {
    pub vrid: u8,
    pub priority: u8,
    pub master: bool,
    pub vip: String,
}

/// keepalived.conf text both systems read.
pub fn config(version: u8, advert_int: &str, garp_delay: Option<u32>, insts: &[Inst]) -> String {
    let mut s = String::from("global_defs {\n");
    s += &format!("    vrrp_version {version}\n");
    if let Some(d) = garp_delay {
        s += &format!("    vrrp_garp_master_delay {d}\n");
    }
    s += "}\n";
    for i in insts {
        s += &format!(
            "vrrp_instance VI_{vrid} {{\n    state {state}\n    interface {IFACE}\n    \
             virtual_router_id {vrid}\n    priority {prio}\n    advert_int {advert_int}\n    \
             virtual_ipaddress {{\n        {vip}\n    }}\n}}\n",
            vrid = i.vrid,
            state = if i.master { "MASTER" } else { "BACKUP" },
            prio = i.priority,
            vip = i.vip,
        );
    }
    s
}

pub struct Daemon {
    pub system: System,
    pub pid: i32,
    pub control: PathBuf,
    pub log: PathBuf,
    /// The lab's index of the process ([`Lab::process`]).
    process: usize,
    node: usize,
    role: String,
    xdp_mode: String,
}

/// Starts `system` on `node` with configuration `conf`. `xdp_mode` applies
/// to vip-agent only.
pub fn start(
    lab: &mut Lab,
    agent_bin: &Path,
    system: System,
    node: usize,
    role: &str,
    conf: &str,
    xdp_mode: &str,
) -> Result<Daemon> {
    fs::write(conf_path(lab, role), conf)?;
    spawn(lab, agent_bin, system, node, role, xdp_mode)
}

fn conf_path(lab: &Lab, role: &str) -> PathBuf {
    lab.work_dir().join(format!("{role}.conf"))
}

/// Starts `system` on `node` from the configuration [`start`] wrote for
/// `role`, with `role`'s control socket, pid files, log (appended to) and,
/// for vip-agent, bpffs directory.
fn spawn(
    lab: &mut Lab,
    agent_bin: &Path,
    system: System,
    node: usize,
    role: &str,
    xdp_mode: &str,
) -> Result<Daemon> {
    let dir = lab.work_dir().to_path_buf();
    let conf_path = conf_path(lab, role);
    let control = dir.join(format!("{role}.sock"));
    let log = dir.join(format!("{role}.log"));
    let mut cmd = match system {
        System::VipAgent => {
            let bpffs = lab.bpffs_dir(role);
            let mut cmd = lab.node(node).ns.command(agent_bin);
            cmd.arg("run")
                .arg("--config")
                .arg(&conf_path)
                .arg("--control-socket")
                .arg(&control)
                .arg("--pid-file")
                .arg(dir.join(format!("{role}.pid")))
                .arg("--bpffs-dir")
                .arg(bpffs)
                .args(["--xdp-mode", xdp_mode])
                .env("VIP_AGENT_LOG", "info");
            cmd
        }
        System::Keepalived => {
            let mut cmd = lab.node(node).ns.command("/usr/sbin/keepalived");
            cmd.args(["-n", "-l", "-D", "-f"])
                .arg(&conf_path)
                .arg("-p")
                .arg(dir.join(format!("{role}.pid")))
                .arg("-r")
                .arg(dir.join(format!("{role}.vrrp.pid")));
            cmd
        }
    };
    let process = lab.spawn_logged(&mut cmd, &log)?;
    let pid = lab.process(process).id() as i32;
    Ok(Daemon {
        system,
        pid,
        control,
        log,
        process,
        node,
        role: role.to_string(),
        xdp_mode: xdp_mode.to_string(),
    })
}

impl Daemon {
    /// `vip-agent status --json` (vip-agent only).
    pub fn status(&self, agent_bin: &Path) -> Option<serde_json::Value> {
        let out = run(Command::new(agent_bin)
            .args(["status", "--json", "--control-socket"])
            .arg(&self.control))
        .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// State changes to Master so far: vip-agent's `became_master` summed
    /// over instances; keepalived's "Entering MASTER STATE" log lines.
    /// A failed read is an error: counting it as zero would report a run
    /// with unknown state changes as a run without any.
    pub fn became_master(&self, agent_bin: &Path) -> Result<u64> {
        match self.system {
            System::VipAgent => {
                let status = self
                    .status(agent_bin)
                    .with_context(|| format!("`vip-agent status` on the {}", self.role))?;
                let instances = status["instances"]
                    .as_array()
                    .with_context(|| format!("no instances in {}'s status", self.role))?;
                instances
                    .iter()
                    .map(|i| {
                        i["became_master"].as_u64().with_context(|| {
                            format!(
                                "an instance without became_master in {}'s status",
                                self.role
                            )
                        })
                    })
                    .sum()
            }
            System::Keepalived => Ok(fs::read_to_string(&self.log)
                .with_context(|| format!("reading {}", self.log.display()))?
                .matches("Entering MASTER STATE")
                .count() as u64),
        }
    }

    /// SIGKILL to this process and its descendants (a crash: no
    /// priority-0 advert, nothing cleaned up); returns once all are gone.
    /// All are stopped first: keepalived's VRRP child gets SIGTERM when its
    /// parent dies and would otherwise send priority 0 before its own
    /// SIGKILL lands.
    pub fn kill(&self, lab: &mut Lab) -> Result<()> {
        let tree = self.tree();
        for signal in [Signal::SIGSTOP, Signal::SIGKILL] {
            for &pid in &tree {
                let _ = signal::kill(Pid::from_raw(pid), signal);
            }
        }
        let _ = lab.process(self.process).wait();
        wait_until(
            "the killed daemon's processes to be gone",
            Duration::from_secs(5),
            || tree.iter().all(|&pid| gone(pid)),
        )
    }

    /// Starts the same daemon again after [`Daemon::kill`]: same node,
    /// configuration, control socket, log and (vip-agent) bpffs directory,
    /// fresh pid files (a crashed keepalived leaves its own behind).
    pub fn restart(&self, lab: &mut Lab, agent_bin: &Path) -> Result<Daemon> {
        anyhow::ensure!(gone(self.pid), "restart of a daemon that still runs");
        for name in [
            format!("{}.pid", self.role),
            format!("{}.vrrp.pid", self.role),
        ] {
            let _ = fs::remove_file(lab.work_dir().join(name));
        }
        spawn(
            lab,
            agent_bin,
            self.system,
            self.node,
            &self.role,
            &self.xdp_mode,
        )
    }

    /// This process and its descendants (keepalived forks a VRRP child).
    pub fn tree(&self) -> Vec<i32> {
        let mut all = vec![self.pid];
        let mut i = 0;
        while i < all.len() {
            let parent = all[i];
            all.extend(children(parent));
            i += 1;
        }
        all
    }
}

/// No such process, or only its zombie (an orphan init has not reaped yet).
fn gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(format!("/proc/{pid}/task")) {
        for task in entries.flatten() {
            if let Ok(text) = fs::read_to_string(task.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    out
}

/// Addresses on the node's `eth0`.
pub fn addresses(lab: &Lab, node: usize) -> Vec<String> {
    let Ok(out) = lab.node(node).ns.ip(&["-j", "addr", "show", "dev", IFACE]) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json.as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str().map(str::to_string))
        .collect()
}

pub fn holds(lab: &Lab, node: usize, vip: &str) -> bool {
    addresses(lab, node).iter().any(|a| a == vip)
}
