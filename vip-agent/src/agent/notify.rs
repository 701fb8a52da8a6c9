//! keepalived-style notify scripts: `notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop` run without arguments; `notify` runs with
//! `INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>`. Scripts run
//! detached from the event loop; a failing script is logged, never fatal.

use std::process::Stdio;

use crate::config::{Command, NotifyScripts};

/// keepalived's names of the states a notify script is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl NotifyState {
    pub fn keyword(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        }
    }
}

fn spawn(command: &Command, args: &[String]) {
    // `"$@"` hands the arguments over without a second round of word splitting.
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{} \"$@\"", command.command))
        .arg("vip-agent-notify")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(false);
    if let Some(user) = &command.user {
        match nix::unistd::User::from_name(user) {
            Ok(Some(user)) => {
                let group = command
                    .group
                    .as_deref()
                    .and_then(|g| nix::unistd::Group::from_name(g).ok().flatten())
                    .map(|g| g.gid)
                    .unwrap_or(user.gid);
                cmd.uid(user.uid.as_raw()).gid(group.as_raw());
            }
            _ => {
                tracing::warn!(user, script = %command.command, "notify script user does not exist; not running it");
                return;
            }
        }
    }
    let script = command.command.clone();
    match cmd.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if !status.success() => {
                        tracing::warn!(script, %status, "notify script failed")
                    }
                    Err(err) => tracing::warn!(script, error = %err, "notify script"),
                    Ok(_) => {}
                }
            });
        }
        Err(err) => tracing::warn!(script, error = %err, "could not start notify script"),
    }
}

/// Runs the scripts configured for `state` of instance `name`.
pub fn run(scripts: &NotifyScripts, name: &str, state: NotifyState, priority: u8) {
    let specific = match state {
        NotifyState::Master => &scripts.master,
        NotifyState::Backup => &scripts.backup,
        NotifyState::Fault => &scripts.fault,
        NotifyState::Stop => &scripts.stop,
    };
    if let Some(command) = specific {
        spawn(command, &[]);
    }
    if let Some(command) = &scripts.any {
        spawn(
            command,
            &[
                "INSTANCE".to_string(),
                name.to_string(),
                state.keyword().to_string(),
                priority.to_string(),
            ],
        );
    }
}
