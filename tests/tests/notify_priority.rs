//! `notify_priority_changes` and `notify_deleted` on the notify FIFO, side
//! by side with keepalived 2.2.7: the same keepalived.conf runs under each,
//! through the same steps, and the FIFO gets the same lines:
//! - VI_1 (with `notify_priority_changes` and a `track_file` of weight 10)
//!   becomes Master; writing 2 into the file raises its priority to 120,
//!   told as `MASTER_PRIORITY 120`; writing 0 lowers it back;
//! - VI_2 (with `notify_deleted`) and VI_3 (without) are removed by a
//!   reload: VI_2 is told as `DELETED`, VI_3 as `FAULT`, as keepalived
//!   tells them;
//! - the stop tells VI_1 `STOP`.

use std::{fs, path::Path, time::Duration};

use anyhow::{ensure, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{AgentProcess, AgentSpec},
    fifo::FifoLines,
    keepalived::Keepalived,
    Lab,
};

/// Generous: two noisy cores; a VRRPv2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);

fn instance(name: &str, vrid: u8, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    \
         priority 100\n    advert_int 1\n{extra}    virtual_ipaddress {{\n        10.69.0.{vrid}/24\n    }}\n}}\n"
    )
}

/// The configuration, with VI_2 and VI_3 or without them.
fn config(dir: &Path, all: bool) -> String {
    let mut text = format!(
        "global_defs {{\n    vrrp_notify_fifo {dir}/vrrp.fifo\n}}\n\
         track_file level {{\n    file {dir}/level\n    weight 10\n}}\n",
        dir = dir.display()
    );
    text += &instance(
        "VI_1",
        71,
        "    notify_priority_changes\n    track_file {\n        level\n    }\n",
    );
    if all {
        text += &instance("VI_2", 72, "    notify_deleted\n");
        text += &instance("VI_3", 73, "");
    }
    text
}

enum Subject {
    Keepalived(Keepalived),
    Agent(AgentProcess),
}

/// The FIFO lines of each instance under keepalived (`true`) or vip-agent.
fn run(lab: &mut Lab, node: usize, keepalived: bool) -> Result<[Vec<String>; 3]> {
    let who = if keepalived {
        "keepalived"
    } else {
        "vip-agent"
    };
    let dir = lab.work_dir().join(format!("{who}-priority"));
    fs::create_dir_all(&dir)?;
    let level = dir.join("level");
    fs::write(&level, "0\n")?;
    let path = dir.join("keepalived.conf");
    fs::write(&path, config(&dir, true))?;
    let mut lines = FifoLines::read(dir.join("vrrp.fifo"), BOUND);
    let subject = if keepalived {
        Subject::Keepalived(Keepalived::start(lab, node, who, &config(&dir, true))?)
    } else {
        Subject::Agent(lab.start_agent(&AgentSpec::with_config(node, who, &path))?)
    };
    for name in ["VI_1", "VI_2", "VI_3"] {
        lines.wait(&format!("INSTANCE \"{name}\" MASTER 100"))?;
    }

    fs::write(&level, "2\n")?;
    lines.wait("INSTANCE \"VI_1\" MASTER_PRIORITY 120")?;
    fs::write(&level, "0\n")?;
    lines.wait("INSTANCE \"VI_1\" MASTER_PRIORITY 100")?;

    match &subject {
        Subject::Keepalived(k) => k.reload(&config(&dir, false))?,
        Subject::Agent(a) => {
            fs::write(&path, config(&dir, false))?;
            a.control("reload", None)?;
        }
    }
    lines.wait("INSTANCE \"VI_2\" DELETED 100")?;
    lines.wait("INSTANCE \"VI_3\" FAULT 100")?;

    match subject {
        Subject::Keepalived(mut k) => k.terminate(BOUND)?,
        Subject::Agent(mut a) => {
            a.signal(Signal::SIGTERM)?;
            let status = a.wait_exit(BOUND)?;
            ensure!(status.success(), "vip-agent exited with {status}");
        }
    }
    lines.finish()?;
    println!("{who}: {:#?}", lines.seen);
    Ok([
        lines.of_instance("VI_1"),
        lines.of_instance("VI_2"),
        lines.of_instance("VI_3"),
    ])
}

#[test]
fn priority_changes_and_deleted_instances_on_the_fifo_as_keepalived_writes_them() -> Result<()> {
    let mut lab = Lab::new()?;
    let node = lab.add_node("subject", "eth0", &["10.69.0.1/24"])?;
    let keepalived = run(&mut lab, node, true)?;
    let agent = run(&mut lab, node, false)?;
    ensure!(
        agent == keepalived,
        "vip-agent's lines differ from keepalived's:\nvip-agent: {agent:#?}\nkeepalived: {keepalived:#?}"
    );
    ensure!(
        keepalived[0].last().map(String::as_str) == Some("INSTANCE \"VI_1\" STOP 100"),
        "VI_1's last line: {:?}",
        keepalived[0]
    );
    lab.passed();
    Ok(())
}
