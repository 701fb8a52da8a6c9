//! `enable_script_security`, as keepalived 2.2.7 checks its scripts
//! (`check_script_secure` in lib/notify.c) when it reads a configuration:
//! a script that runs as root (its user or group is root, or the file is
//! set-uid/gid root) must not be replaceable by anyone else: the file and
//! every directory on its path are owned by root and writable by no other
//! user or group (a directory with the sticky bit, like /tmp, may be).
//! With `enable_script_security` such a script is disabled: a
//! `vrrp_script` is tracked by nobody, a notify script is not run.
//! Without it the script runs and a warning says it is unsafe; and, as
//! keepalived does, that scripts run without script security at all.

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use super::run_as::{self, RunAs};
use crate::config::{Command, Config, ScriptUser};

/// Why a script is unsafe to run as root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsafe {
    pub path: PathBuf,
    pub reason: String,
}

/// The executable a command starts: its first word, looked up in `PATH`
/// when it has no `/`. `None`: no executable to check (a shell builtin,
/// a redirection test, nothing found).
fn executable(command: &str) -> Option<PathBuf> {
    let first = command.split_whitespace().next()?;
    if first.starts_with('<') {
        return None;
    }
    if first.contains('/') {
        return Some(PathBuf::from(first));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
    path.split(':')
        .map(|dir| Path::new(dir).join(first))
        .find(|candidate| candidate.metadata().is_ok_and(|m| m.is_file()))
}

/// keepalived's `check_security`: every component of `path`, the last
/// one included, is owned by root and writable by no one else.
fn check_path(path: &Path) -> Result<(), Unsafe> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        let meta = std::fs::symlink_metadata(&prefix).map_err(|err| Unsafe {
            path: prefix.clone(),
            reason: err.to_string(),
        })?;
        let mode = meta.permissions().mode();
        let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
        let writable = (meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0;
        let reason = if meta.uid() != 0 {
            Some(format!("owned by uid {}", meta.uid()))
        } else if (meta.is_file() || (meta.is_dir() && !sticky_dir)) && writable {
            Some(format!("writable by others (mode {:o})", mode & 0o7777))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Unsafe {
                path: prefix,
                reason,
            });
        }
    }
    Ok(())
}

/// Whether `command` run as `run_as` is unsafe; `Ok` when it is safe or
/// needs no protection (it runs as neither root user nor root group).
pub fn check(command: &str, run_as: RunAs) -> Result<(), Unsafe> {
    let Some(file) = executable(command) else {
        return Ok(());
    };
    let Ok(meta) = file.metadata() else {
        return Ok(());
    };
    let mode = meta.permissions().mode();
    let setuid_root = meta.uid() == 0 && mode & 0o4100 == 0o4100;
    let setgid_root = meta.gid() == 0 && mode & 0o2010 == 0o2010;
    if run_as.uid != 0 && run_as.gid != 0 && !setuid_root && !setgid_root {
        return Ok(());
    }
    check_path(&file)?;
    match std::fs::canonicalize(&file) {
        Ok(real) if real != file => check_path(&real),
        _ => Ok(()),
    }
}

/// Runs the checks over every script of `config`, as keepalived does when
/// it reads one, and disables the unsafe ones when
/// `enable_script_security` is on. Returns what was found unsafe, by
/// script (for the log and for tests).
pub fn vet(config: &mut Config) -> Vec<(String, Unsafe)> {
    let enabled = config.global.enable_script_security;
    let default = config.global.script_user.clone();
    let mut found = Vec::new();
    let mut any = false;

    let mut disabled_scripts = Vec::new();
    for script in &config.scripts {
        any = true;
        let verdict = verdict(
            &script.script,
            script.user.as_deref(),
            script.group.as_deref(),
            default.as_ref(),
        );
        if let Err(problem) = verdict {
            report(&format!("vrrp_script {}", script.name), &problem, enabled);
            found.push((script.name.clone(), problem));
            if enabled {
                disabled_scripts.push(script.name.clone());
            }
        }
    }
    if !disabled_scripts.is_empty() {
        config
            .scripts
            .retain(|s| !disabled_scripts.contains(&s.name));
        for instance in &mut config.instances {
            instance
                .track_scripts
                .retain(|t| !disabled_scripts.contains(&t.name));
        }
        for group in &mut config.sync_groups {
            group
                .track_scripts
                .retain(|t| !disabled_scripts.contains(&t.name));
        }
    }

    let mut notify_commands: Vec<(String, &mut Option<Command>)> = Vec::new();
    for instance in &mut config.instances {
        for (what, slot) in instance.notify.by_keyword_mut() {
            notify_commands.push((format!("vrrp_instance {} {what}", instance.name), slot));
        }
    }
    for group in &mut config.sync_groups {
        for (what, slot) in group.notify.by_keyword_mut() {
            notify_commands.push((format!("vrrp_sync_group {} {what}", group.name), slot));
        }
    }
    for (what, fifo) in [
        ("notify_fifo_script", &mut config.global.notify_fifo),
        (
            "vrrp_notify_fifo_script",
            &mut config.global.vrrp_notify_fifo,
        ),
    ] {
        if let Some(fifo) = fifo {
            notify_commands.push((what.to_string(), &mut fifo.script));
        }
    }
    for (what, slot) in notify_commands {
        let Some(command) = slot else { continue };
        any = true;
        let verdict = verdict(
            &command.command,
            command.user.as_deref(),
            command.group.as_deref(),
            default.as_ref(),
        );
        if let Err(problem) = verdict {
            report(&what, &problem, enabled);
            found.push((what, problem));
            if enabled {
                *slot = None;
            }
        }
    }
    if any && !enabled {
        tracing::warn!(
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled{}",
            if found.is_empty() {
                ""
            } else {
                ". There are insecure scripts."
            }
        );
    }
    found
}

fn verdict(
    command: &str,
    user: Option<&str>,
    group: Option<&str>,
    default: Option<&ScriptUser>,
) -> Result<(), Unsafe> {
    // A user that does not resolve never runs the script: nothing to check.
    match run_as::for_script(user, group, default) {
        Ok(run_as) => check(command, run_as.unwrap_or_else(run_as::own)),
        Err(_) => Ok(()),
    }
}

fn report(what: &str, problem: &Unsafe, enabled: bool) {
    tracing::warn!(
        script = what,
        path = %problem.path.display(),
        reason = %problem.reason,
        "unsafe permissions found for the script (it runs as root){}",
        if enabled {
            ": enable_script_security disables it"
        } else {
            ""
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    const ROOT: RunAs = RunAs { uid: 0, gid: 0 };

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A root-owned directory under /tmp (sticky) with one script in it.
    fn dir_with_script(name: &str, dir_mode: u32) -> (Dir, PathBuf) {
        let dir = std::env::temp_dir().join(format!("vip-agent-sec-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(dir_mode)).unwrap();
        let script = dir.join("check.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        (Dir(dir), script)
    }

    #[test]
    fn a_root_script_anyone_could_replace_is_unsafe() {
        let (_safe, script) = dir_with_script("safe", 0o755);
        assert_eq!(check(&format!("{} arg", script.display()), ROOT), Ok(()));
        // Path search, and a shell builtin with nothing to check.
        assert_eq!(check("sh -c true", ROOT), Ok(()));
        assert_eq!(check("exit 0", ROOT), Ok(()));

        let (_open, script) = dir_with_script("open", 0o777);
        let problem = check(&script.display().to_string(), ROOT).unwrap_err();
        assert_eq!(problem.path, script.parent().unwrap());
        assert!(problem.reason.contains("writable by others"), "{problem:?}");
        // Run as another user, the same file needs no protection.
        assert_eq!(
            check(&script.display().to_string(), RunAs { uid: 1, gid: 1 }),
            Ok(())
        );
        // A file that is not root's.
        let (_owned, script) = dir_with_script("owned", 0o755);
        nix::unistd::chown(&script, Some(nix::unistd::Uid::from_raw(1)), None).unwrap();
        let problem = check(&script.display().to_string(), ROOT).unwrap_err();
        assert_eq!(problem.path, script);
        assert_eq!(problem.reason, "owned by uid 1");
    }

    fn config(script: &Path, security: bool) -> Config {
        let text = format!(
            "global_defs {{\n{}\n}}\nvrrp_script chk {{\n  script {s}\n}}\n\
             vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n  track_script {{\n    chk\n  }}\n  \
             notify_master {s}\n  notify \"{s} arg\" daemon\n}}\n",
            if security {
                "  enable_script_security"
            } else {
                ""
            },
            s = script.display()
        );
        load_str(&text, "test.conf", LoadOptions::default())
            .unwrap()
            .config
    }

    #[test]
    fn enable_script_security_disables_the_unsafe_scripts_only() {
        let (_open, script) = dir_with_script("vet", 0o777);
        let mut without = config(&script, false);
        let before = without.clone();
        let found = vet(&mut without);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(without, before, "without script security nothing changes");

        let mut with = config(&script, true);
        let found = vet(&mut with);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["chk", "vrrp_instance VI_1 notify_master"]);
        assert!(with.scripts.is_empty());
        assert!(with.instances[0].track_scripts.is_empty());
        assert_eq!(with.instances[0].notify.master, None);
        // The one that runs as daemon is no danger to root: it stays.
        assert!(with.instances[0].notify.any.is_some());
    }
}
