//! Scripts run as `USER GROUP` (a `vrrp_script`'s `user`, a notify
//! script's words after the command, `script_user`), uid and gid both,
//! each script writing its `id -u`:`id -g`; and a reload that changes only
//! `global_defs` reaches the instance that keeps running: the scripts
//! without a user of their own run as the new `script_user`, the new
//! notify FIFO gets the instance's state and its next change.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::Path,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{wait_for_state, AgentSpec},
    wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(40);

fn script(dir: &Path, name: &str, body: &str) -> Result<()> {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n"))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn config(dir: &Path, global: &str) -> String {
    format!(
        "global_defs {{\n{global}\n}}\n\
         vrrp_script own_user {{\n    script {dir}/check.sh\n    interval 1\n    user bin disk\n}}\n\
         vrrp_script default_user {{\n    script {dir}/check2.sh\n    interval 1\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 81\n    priority 100\n    \
         advert_int 1\n    virtual_ipaddress {{\n        10.81.0.100/24\n    }}\n    \
         track_script {{\n        own_user\n        default_user\n    }}\n    \
         notify {dir}/notify.sh bin disk\n    notify_stop {dir}/stop.sh\n}}\n",
        dir = dir.display()
    )
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn wait_file(dir: &Path, name: &str, expected: &str) -> Result<()> {
    wait_for(&format!("{name} to say {expected:?}"), BOUND, || {
        (read(dir, name) == expected).then_some(())
    })
    .with_context(|| format!("{name} says {:?}", read(dir, name)))
}

#[test]
fn scripts_run_as_user_and_group_and_a_reload_changes_the_default_user() -> Result<()> {
    let mut lab = Lab::new()?;
    let node = lab.add_node("node", "eth0", &["10.81.0.1/24"])?;
    let dir = lab.work_dir().join("scripts");
    fs::create_dir_all(&dir)?;
    // The scripts run as other users and write here.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))?;
    let d = dir.display();
    script(
        &dir,
        "check.sh",
        &format!("echo \"$(id -u):$(id -g)\" > {d}/check.id"),
    )?;
    // Its user changes: each run replaces the file (another user's file
    // cannot be written, but in this directory it can be replaced).
    script(
        &dir,
        "check2.sh",
        &format!(
            "t=$(mktemp {d}/.check2.XXXXXX) && echo \"$(id -u):$(id -g)\" > \"$t\" && mv -f \"$t\" {d}/check2.id"
        ),
    )?;
    script(
        &dir,
        "notify.sh",
        &format!("echo \"$3 $(id -u):$(id -g)\" >> {d}/notify.id"),
    )?;
    script(
        &dir,
        "stop.sh",
        &format!("echo \"$(id -u):$(id -g)\" > {d}/stop.id"),
    )?;
    let conf = lab.work_dir().join("keepalived.conf");
    fs::write(&conf, config(&dir, ""))?;
    let agent = lab.start_agent(&AgentSpec::with_config(node, "node", &conf))?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;

    // bin is 2:2 and disk 6 in Debian's base files: the group named wins.
    wait_file(&dir, "check.id", "2:6")?;
    // Without script_user: the agent's own user.
    wait_file(&dir, "check2.id", "0:0")?;
    wait_for("the MASTER notification", BOUND, || {
        read(&dir, "notify.id").contains("MASTER 2:6").then_some(())
    })?;

    // A reload that changes only global_defs; daemon is 1:1, adm is 4.
    let fifo = dir.join("v.fifo");
    fs::write(
        &conf,
        config(
            &dir,
            &format!(
                "    script_user daemon adm\n    vrrp_notify_fifo {}\n    fifo_write_vrrp_states_on_reload",
                fifo.display()
            ),
        ),
    )?;
    agent.control("reload", None)?;
    wait_file(&dir, "check2.id", "1:4")?;
    wait_file(&dir, "check.id", "2:6")?;
    ensure!(
        agent.counter("VI_1", "became_master")? == 1,
        "the instance was restarted"
    );
    ensure!(agent.state("VI_1").as_deref() == Some("MASTER"));
    // The new FIFO: made by the reload, with the state it found.
    let meta = fs::symlink_metadata(&fifo).context("the reload made no FIFO")?;
    ensure!(meta.file_type().is_fifo());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let Ok(file) = fs::File::open(&fifo) else {
                return;
            };
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
    };
    let first = rx.recv_timeout(BOUND).context("no line on the FIFO")?;
    ensure!(
        first == "INSTANCE \"VI_1\" MASTER 100",
        "first line {first:?}"
    );

    // The next change: notify_stop runs as the new script_user, notify as
    // its own user, and the FIFO hears it.
    agent.control("resign", Some("VI_1"))?;
    wait_file(&dir, "stop.id", "1:4")?;
    wait_for("the STOP notification", BOUND, || {
        read(&dir, "notify.id").contains("STOP 2:6").then_some(())
    })?;
    let next = rx.recv_timeout(BOUND).context("no STOP line on the FIFO")?;
    ensure!(next == "INSTANCE \"VI_1\" STOP 100", "next line {next:?}");

    // Reloading back: the FIFO goes (the agent made it), and the default
    // user is the agent's again.
    fs::write(&conf, config(&dir, ""))?;
    agent.control("reload", None)?;
    wait_file(&dir, "check2.id", "0:0")?;
    ensure!(!fifo.exists(), "the FIFO is still there");
    let ended = wait_for("the FIFO reader to see the end", BOUND, || {
        reader.is_finished().then_some(())
    });
    ensure!(ended.is_ok(), "the FIFO was not closed");
    lab.passed();
    Ok(())
}

/// `enable_script_security` from a reload: a failing check that runs as
/// root from a directory anyone can write to keeps the instance in FAULT;
/// with script security it is disabled (as keepalived disables it), so
/// nothing tracks it any more, it stops running, and the instance becomes
/// Master; without script security again, it runs and faults the instance.
#[test]
fn a_reload_that_enables_script_security_disables_an_unsafe_script() -> Result<()> {
    let mut lab = Lab::new()?;
    let node = lab.add_node("node", "eth0", &["10.82.0.1/24"])?;
    let dir = lab.work_dir().join("unsafe");
    fs::create_dir_all(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))?;
    script(
        &dir,
        "check.sh",
        &format!("echo run >> {}/runs\nexit 1", dir.display()),
    )?;
    let conf = lab.work_dir().join("keepalived.conf");
    let text = |global: &str| {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_script chk {{\n    script {}/check.sh\n    interval 1\n}}\n\
             vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 82\n    priority 100\n    \
             advert_int 1\n    virtual_ipaddress {{\n        10.82.0.100/24\n    }}\n    \
             track_script {{\n        chk\n    }}\n}}\n",
            dir.display()
        )
    };
    let runs = || read(&dir, "runs").lines().count();
    fs::write(&conf, text(""))?;
    let agent = lab.start_agent(&AgentSpec::with_config(node, "node", &conf))?;
    wait_for_state(&agent, "VI_1", "FAULT", BOUND)?;

    fs::write(&conf, text("    enable_script_security"))?;
    agent.control("reload", None)?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    // No longer run: the count stands still over three intervals.
    let count = runs();
    std::thread::sleep(Duration::from_secs(3));
    ensure!(runs() == count, "the disabled script still runs");
    ensure!(
        agent
            .log_text()
            .contains("enable_script_security disables it"),
        "no warning in the log"
    );

    fs::write(&conf, text(""))?;
    agent.control("reload", None)?;
    wait_for_state(&agent, "VI_1", "FAULT", BOUND)?;
    ensure!(runs() > count, "the script does not run again");
    lab.passed();
    Ok(())
}
