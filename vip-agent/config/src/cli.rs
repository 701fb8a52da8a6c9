//! Command-line flags that describe one VRRP instance, for running without a
//! keepalived.conf. They are turned into keepalived text and read by the same
//! reader, so a flag means exactly what the keyword of the same name means.

use std::fmt::Write;
use std::net::IpAddr;

use super::diagnostic::{Diagnostic, Severity};
use super::printer::quote;
use super::{load_str, Config, LoadOptions};

/// Name given to diagnostics about these flags.
pub const COMMAND_LINE: &str = "<command line>";

/// Name of the instance built from the flags (seen by notify scripts and in status).
pub const INSTANCE_NAME: &str = "cli";

#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct InstanceArgs {
    /// Interface to run VRRP on (keepalived: interface)
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,

    /// Virtual router ID, 1-255, the same on every router of the group (keepalived: virtual_router_id)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=255))]
    pub vrid: Option<u8>,

    /// Priority, 1-255; the highest live router is master, 255 means address owner [default: 100]
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=255))]
    pub priority: Option<u8>,

    /// Virtual address to hold while master, ADDR[/PREFIX] (no prefix: /32 or /128); repeat for several
    #[arg(long = "vip", value_name = "CIDR")]
    pub vips: Vec<String>,

    /// Seconds between advertisements: whole seconds for VRRPv2, 0.01-40.95 for VRRPv3 [default: 1]
    #[arg(long, value_name = "SECONDS")]
    pub advert_int: Option<String>,

    /// Send advertisements by unicast to this peer instead of multicast; repeat for several
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<IpAddr>,

    /// Source address of unicast advertisements (needs --peer)
    #[arg(long, value_name = "ADDR")]
    pub unicast_src: Option<IpAddr>,

    /// VRRP version; IPv6 always uses 3 [default: 2]
    #[arg(long = "version", value_name = "2|3", value_parser = clap::value_parser!(u8).range(2..=3))]
    pub vrrp_version: Option<u8>,

    /// Do not take over from a lower-priority master that is already running
    #[arg(long)]
    pub nopreempt: bool,
}

impl InstanceArgs {
    /// True when any of the instance flags was given.
    pub fn is_given(&self) -> bool {
        *self != InstanceArgs::default()
    }

    /// The configuration these flags describe, with keepalived's defaults for
    /// everything else.
    pub fn to_config(&self) -> Result<Config, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let missing = |flag: &str| Diagnostic {
            file: COMMAND_LINE.to_string().into(),
            line: 0,
            col: 0,
            severity: Severity::Error,
            message: format!("{flag} is required to run without a configuration file"),
        };
        if self.interface.is_none() {
            errors.push(missing("--interface"));
        }
        if self.vrid.is_none() {
            errors.push(missing("--vrid"));
        }
        if self.vips.is_empty() {
            errors.push(missing("--vip"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let text = self.to_keepalived_text();
        match load_str(&text, COMMAND_LINE, LoadOptions::default()) {
            Ok(loaded) => Ok(loaded.config),
            Err(diagnostics) => Err(diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .map(|diagnostic| Diagnostic {
                    line: 0,
                    col: 0,
                    ..diagnostic
                })
                .collect()),
        }
    }

    fn to_keepalived_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "vrrp_instance {INSTANCE_NAME} {{");
        if let Some(interface) = &self.interface {
            let _ = writeln!(text, "interface {}", quote(interface));
        }
        if let Some(vrid) = self.vrid {
            let _ = writeln!(text, "virtual_router_id {vrid}");
        }
        if let Some(priority) = self.priority {
            let _ = writeln!(text, "priority {priority}");
        }
        if let Some(advert_int) = &self.advert_int {
            let _ = writeln!(text, "advert_int {}", quote(advert_int));
        }
        if let Some(version) = self.vrrp_version {
            let _ = writeln!(text, "version {version}");
        }
        if self.nopreempt {
            text.push_str("nopreempt\n");
        }
        if let Some(source) = self.unicast_src {
            let _ = writeln!(text, "unicast_src_ip {source}");
        }
        if !self.peers.is_empty() {
            text.push_str("unicast_peer {\n");
            for peer in &self.peers {
                let _ = writeln!(text, "{peer}");
            }
            text.push_str("}\n");
        }
        text.push_str("virtual_ipaddress {\n");
        for vip in &self.vips {
            let _ = writeln!(text, "{}", quote(vip));
        }
        text.push_str("}\n}\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::{AddressFamily, InitialState};

    /// Like the agent's `run` subcommand; it must not get a `--version` flag of its
    /// own (no `propagate_version`), since `--version` selects the VRRP version.
    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        instance: InstanceArgs,
    }

    fn run(args: &[&str]) -> InstanceArgs {
        let mut all = vec!["run"];
        all.extend(args);
        Run::try_parse_from(all).expect("flags parse").instance
    }

    #[test]
    fn flags_are_consistent() {
        Run::command().debug_assert();
    }

    #[test]
    fn nothing_given() {
        assert!(!run(&[]).is_given());
        assert!(run(&["--nopreempt"]).is_given());
    }

    #[test]
    fn builds_an_instance_with_defaults() {
        let config = run(&[
            "--interface",
            "eth0",
            "--vrid",
            "7",
            "--vip",
            "192.0.2.1/24",
            "--vip",
            "192.0.2.2",
        ])
        .to_config()
        .expect("valid");
        let instance = &config.instances[0];
        assert_eq!(instance.interface, "eth0");
        assert_eq!(instance.virtual_router_id, 7);
        assert_eq!(instance.priority, 100);
        assert_eq!(instance.version, 2);
        assert_eq!(instance.state, InitialState::Backup);
        assert_eq!(instance.advert_int_ms, 1000);
        assert_eq!(instance.virtual_ipaddresses[1].prefix_len, 32);
    }

    #[test]
    fn ipv6_unicast_instance() {
        let config = run(&[
            "--interface",
            "eth1",
            "--vrid",
            "9",
            "--priority",
            "200",
            "--vip",
            "2001:db8::1/64",
            "--peer",
            "fe80::2",
            "--unicast-src",
            "fe80::1",
            "--advert-int",
            "0.25",
            "--nopreempt",
        ])
        .to_config()
        .expect("valid");
        let instance = &config.instances[0];
        assert_eq!(instance.family, AddressFamily::Ipv6);
        assert_eq!(instance.version, 3);
        assert_eq!(instance.advert_int_ms, 250);
        assert!(instance.nopreempt);
        assert_eq!(instance.unicast_peers.len(), 1);
    }

    #[test]
    fn errors_name_the_command_line() {
        let errors = run(&["--vrid", "7"]).to_config().unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "<command line>: --interface is required to run without a configuration file",
                "<command line>: --vip is required to run without a configuration file",
            ]
        );
        let errors = run(&[
            "--interface",
            "eth0",
            "--vrid",
            "7",
            "--vip",
            "10.0.0.1",
            "--vip",
            "fe80::1/64",
        ])
        .to_config()
        .unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .starts_with("<command line>: vrrp_instance cli: fe80::1 is an IPv6 address"),
            "{errors:?}"
        );
        assert!(Run::try_parse_from(["run", "--vrid", "0"]).is_err());
        assert!(Run::try_parse_from(["run", "--version", "4"]).is_err());
    }
}
