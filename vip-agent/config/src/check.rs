//! `vip-agent check-config`: reads a configuration and reports on it.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;

use super::model::{Command, Config, InitialState, VrrpInstance};
use super::{load, Diagnostic, LoadOptions};

/// What the command prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// 0 when the configuration is valid, 1 otherwise.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Checks `path`: on success prints a summary (or with `json` the normalized
/// configuration) on stdout; every warning and error goes to stderr as
/// `file:line:col: message`.
pub fn check_config(path: &Path, strict: bool, json: bool) -> CheckOutcome {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let exit_code = match write_check(path, strict, json, &mut stdout, &mut stderr) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(stderr, "cannot write the report: {error}");
            1
        }
    };
    CheckOutcome {
        exit_code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// [`check_config`] written as it goes, so that a file with millions of
/// findings is not held a second time as text; returns the exit code.
pub fn write_check(
    path: &Path,
    strict: bool,
    json: bool,
    stdout: &mut dyn io::Write,
    stderr: &mut dyn io::Write,
) -> io::Result<i32> {
    match load(path, LoadOptions { strict }) {
        Ok(loaded) => {
            write_diagnostics(&loaded.warnings, stderr)?;
            if json {
                if let Err(error) = serde_json::to_writer_pretty(&mut *stdout, &loaded.config) {
                    writeln!(stderr, "cannot write the configuration as JSON: {error}")?;
                    return Ok(1);
                }
                writeln!(stdout)?;
            } else {
                stdout
                    .write_all(summary(path, &loaded.config, loaded.warnings.len()).as_bytes())?;
            }
            Ok(0)
        }
        Err(diagnostics) => {
            let errors = diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.is_error())
                .count();
            write_diagnostics(&diagnostics, stderr)?;
            writeln!(
                stderr,
                "{}: configuration is not valid ({errors} error{})",
                path.display(),
                if errors == 1 { "" } else { "s" }
            )?;
            Ok(1)
        }
    }
}

fn write_diagnostics(diagnostics: &[Diagnostic], out: &mut dyn io::Write) -> io::Result<()> {
    for diagnostic in diagnostics {
        writeln!(out, "{}", diagnostic.with_severity())?;
    }
    Ok(())
}

/// A human-readable overview of what the agent would run.
pub fn summary(path: &Path, config: &Config, warnings: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: configuration OK ({} instance{}, {} script{}, {} sync group{}, {warnings} warning{})",
        path.display(),
        config.instances.len(),
        plural(config.instances.len()),
        config.scripts.len(),
        plural(config.scripts.len()),
        config.sync_groups.len(),
        plural(config.sync_groups.len()),
        plural(warnings),
    );
    let global = &config.global;
    let _ = writeln!(
        out,
        "global: router_id {}, default VRRP version {}, multicast {} / {}{}",
        global.router_id.as_deref().unwrap_or("(host name)"),
        global.vrrp_version,
        global.mcast_group4,
        global.mcast_group6,
        if global.vrrp_strict { ", strict" } else { "" },
    );
    for (keyword, fifo) in [
        ("notify_fifo", &global.notify_fifo),
        ("vrrp_notify_fifo", &global.vrrp_notify_fifo),
    ] {
        if let Some(fifo) = fifo {
            let script = fifo
                .script
                .as_ref()
                .map(|s| format!(", read by '{}'", s.command))
                .unwrap_or_default();
            let _ = writeln!(out, "{keyword}: {}{script}", fifo.path);
        }
    }
    for instance in &config.instances {
        instance_summary(&mut out, config, instance);
    }
    for script in &config.scripts {
        let _ = writeln!(
            out,
            "vrrp_script {}: '{}' every {} s, timeout {} s, weight {}, rise {}, fall {}",
            script.name,
            script.script,
            script.interval_s,
            script.timeout_s,
            script.weight,
            script.rise,
            script.fall
        );
    }
    for file in &config.track_files {
        let init = match &file.init {
            Some(init) if init.overwrite => format!(", set to {} at start", init.value),
            Some(init) => format!(", created with {} when missing", init.value),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "track_file {}: {}, weight {}{}{init}",
            file.name,
            file.path,
            file.weight,
            if file.weight_reverse { " reverse" } else { "" },
        );
    }
    for process in &config.track_processes {
        let mut command = process.process.clone();
        for param in &process.params {
            command.push(' ');
            command.push_str(param);
        }
        let matching = match process.param_match {
            Some(mode) => format!(", parameters {}", format!("{mode:?}").to_lowercase()),
            None if process.full_command => ", full command".to_string(),
            None => String::new(),
        };
        let quorum = if process.quorum_max == u32::MAX {
            format!("at least {}", process.quorum)
        } else {
            format!("{}..{}", process.quorum, process.quorum_max)
        };
        let _ = writeln!(
            out,
            "vrrp_track_process {}: '{command}'{matching}, quorum {quorum}, weight {}{}",
            process.name,
            process.weight,
            if process.weight_reverse {
                " reverse"
            } else {
                ""
            },
        );
    }
    for group in &config.sync_groups {
        let _ = writeln!(
            out,
            "vrrp_sync_group {}: {}",
            group.name,
            group.instances.join(", ")
        );
    }
    let statics = [
        ("address", "addresses", config.static_addresses.len()),
        ("route", "routes", config.static_routes.len()),
        ("rule", "rules", config.static_rules.len()),
    ];
    if statics.iter().any(|(_, _, count)| *count > 0) {
        let listed: Vec<String> = statics
            .iter()
            .map(|(one, many, count)| format!("{count} {}", if *count == 1 { one } else { many }))
            .collect();
        let _ = writeln!(out, "static (kept while running): {}", listed.join(", "));
    }
    out
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn instance_summary(out: &mut String, config: &Config, instance: &VrrpInstance) {
    let state = match instance.state {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    };
    let _ = writeln!(
        out,
        "vrrp_instance {}: interface {}, vrid {}, {} VRRPv{}, priority {}, state {}, advert_int {} ms",
        instance.name,
        instance.interface,
        instance.virtual_router_id,
        instance.family,
        instance.version,
        instance.priority,
        state,
        instance.advert_int_ms,
    );
    // Written straight into the output: an instance may have millions of
    // (excluded) addresses, and a string for each would cost more than
    // the configuration itself.
    out.push_str("  VIPs: ");
    if instance.virtual_ipaddresses.is_empty() {
        out.push_str("(none)");
    }
    for (index, vip) in instance.virtual_ipaddresses.iter().enumerate() {
        let separator = if index == 0 { "" } else { ", " };
        let _ = write!(out, "{separator}{}/{}", vip.address, vip.prefix_len);
        if let Some(dev) = vip.dev() {
            let _ = write!(out, " dev {dev}");
        }
        if let Some(label) = vip.label() {
            let _ = write!(out, " label {label}");
        }
    }
    out.push('\n');
    if !instance.virtual_ipaddresses_excluded.is_empty() {
        out.push_str("  excluded VIPs: ");
        for (index, vip) in instance.virtual_ipaddresses_excluded.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            let _ = write!(out, "{separator}{}/{}", vip.address, vip.prefix_len);
        }
        out.push('\n');
    }
    if instance.unicast_peers.is_empty() {
        let group = match instance.family {
            super::AddressFamily::Ipv4 => config.global.mcast_group4.to_string(),
            super::AddressFamily::Ipv6 => config.global.mcast_group6.to_string(),
        };
        let _ = writeln!(out, "  adverts: multicast to {group}");
    } else {
        let peers: Vec<String> = instance
            .unicast_peers
            .iter()
            .map(ToString::to_string)
            .collect();
        let source = instance
            .unicast_src_ip
            .map(|source| format!(" from {source}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  adverts: unicast{source} to {}", peers.join(", "));
    }
    let preempt = if instance.nopreempt {
        "no".to_string()
    } else if instance.preempt_delay_ms > 0 {
        format!("after {} ms", instance.preempt_delay_ms)
    } else {
        "yes".to_string()
    };
    let _ = writeln!(
        out,
        "  preempt: {preempt}, accept: {}, authentication: {}",
        if instance.accept { "yes" } else { "no" },
        if instance.auth_pass.is_some() {
            "PASS"
        } else {
            "none"
        },
    );
    if !instance.virtual_routes.is_empty() || !instance.virtual_rules.is_empty() {
        let _ = writeln!(
            out,
            "  while Master: {} virtual route{}, {} virtual rule{}",
            instance.virtual_routes.len(),
            plural(instance.virtual_routes.len()),
            instance.virtual_rules.len(),
            plural(instance.virtual_rules.len()),
        );
    }
    for track in &instance.track_interfaces {
        let _ = writeln!(
            out,
            "  tracks interface {} (weight {})",
            track.name, track.weight
        );
    }
    for track in &instance.track_scripts {
        let _ = writeln!(
            out,
            "  tracks script {} (weight {})",
            track.name, track.weight
        );
    }
    for (kind, tracks) in [
        ("file", &instance.track_files),
        ("process", &instance.track_processes),
    ] {
        for track in tracks {
            let reverse = if track.reverse { " reverse" } else { "" };
            let _ = writeln!(
                out,
                "  tracks {kind} {} (weight {}{reverse})",
                track.name, track.weight
            );
        }
    }
    let notifies: [(&str, &Option<Command>); 5] = [
        ("master", &instance.notify.master),
        ("backup", &instance.notify.backup),
        ("fault", &instance.notify.fault),
        ("stop", &instance.notify.stop),
        ("any", &instance.notify.any),
    ];
    for (event, command) in notifies {
        if let Some(command) = command {
            let _ = writeln!(out, "  notify {event}: {}", command.command);
        }
    }
}
