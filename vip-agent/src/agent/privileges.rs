//! What `vip-agent run` needs from the kernel's capability checks, checked
//! before the run touches anything: without it the kernel would refuse
//! halfway (a map created, a directory made) with a bare EPERM.

use std::fmt;

/// A capability the agent uses, with the bit number `capability(7)` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    NetAdmin = 12,
    NetRaw = 13,
    SysAdmin = 21,
    Perfmon = 38,
    Bpf = 39,
}

impl Capability {
    fn held_in(self, effective: u64) -> bool {
        effective & (1u64 << self as u32) != 0
    }

    fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::Bpf => "CAP_BPF",
        }
    }
}

/// One thing the agent cannot do, and the capability that would let it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing {
    pub capability: Capability,
    pub needed_for: &'static str,
}

/// Everything missing, for one line of error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingCapabilities(pub Vec<Missing>);

impl fmt::Display for MissingCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs: Vec<String> = self
            .0
            .iter()
            .map(|m| format!("{} ({})", m.capability.name(), m.needed_for))
            .collect();
        write!(
            f,
            "missing {}: run it as root or grant {} \
             (systemd AmbientCapabilities=, or `setcap`)",
            needs.join(", "),
            if self.0.len() == 1 { "it" } else { "them" }
        )
    }
}

impl std::error::Error for MissingCapabilities {}

/// What is missing from the `effective` capability set (CapEff of
/// /proc/self/status) for a run with or without the XDP program. CAP_BPF
/// and CAP_PERFMON came out of CAP_SYS_ADMIN in Linux 5.8; either form does.
pub fn missing(effective: u64, xdp: bool) -> Vec<Missing> {
    let mut missing = Vec::new();
    let mut need = |capability: Capability, needed_for: &'static str| {
        if !capability.held_in(effective) {
            missing.push(Missing {
                capability,
                needed_for,
            });
        }
    };
    need(Capability::NetAdmin, "VIPs, routes and XDP attachment");
    need(Capability::NetRaw, "VRRP sockets");
    if xdp && !Capability::SysAdmin.held_in(effective) {
        need(Capability::Bpf, "loading the XDP program");
        need(Capability::Perfmon, "loading the XDP program");
    }
    missing
}

/// The effective capability set of this process.
pub fn effective() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "/proc/self/status has no CapEff line",
        )
    })
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// Fails with one line naming every missing capability. When the set
/// cannot be read the run goes on and the kernel has the last word.
pub fn check(xdp: bool) -> Result<(), MissingCapabilities> {
    let Ok(effective) = effective() else {
        return Ok(());
    };
    let missing = missing(effective, xdp);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingCapabilities(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Capability]) -> u64 {
        caps.iter().fold(0, |acc, c| acc | 1u64 << *c as u32)
    }

    #[test]
    fn root_lacks_nothing() {
        // CapEff of root on a 6.x kernel: every bit up to CAP_CHECKPOINT_RESTORE.
        assert!(missing(0x000001ffffffffff, true).is_empty());
    }

    #[test]
    fn an_unprivileged_user_lacks_every_capability_with_a_reason() {
        let missing = missing(0, true);
        let names: Vec<Capability> = missing.iter().map(|m| m.capability).collect();
        assert_eq!(
            names,
            [
                Capability::NetAdmin,
                Capability::NetRaw,
                Capability::Bpf,
                Capability::Perfmon
            ]
        );
        let line = MissingCapabilities(missing).to_string();
        assert!(!line.contains('\n'));
        assert!(line.contains("CAP_NET_RAW (VRRP sockets)"), "{line}");
        assert!(line.contains("grant them"), "{line}");
    }

    #[test]
    fn without_xdp_the_bpf_capabilities_are_not_needed() {
        let net = set(&[Capability::NetAdmin, Capability::NetRaw]);
        assert!(missing(net, false).is_empty());
        assert_eq!(missing(net, true).len(), 2);
    }

    #[test]
    fn cap_sys_admin_stands_in_for_bpf_and_perfmon() {
        let old_style = set(&[
            Capability::NetAdmin,
            Capability::NetRaw,
            Capability::SysAdmin,
        ]);
        assert!(missing(old_style, true).is_empty());
    }

    #[test]
    fn one_missing_capability_is_named_alone() {
        let caps = set(&[Capability::NetAdmin, Capability::Bpf, Capability::Perfmon]);
        let line = MissingCapabilities(missing(caps, true)).to_string();
        assert!(
            line.starts_with("missing CAP_NET_RAW (VRRP sockets): "),
            "{line}"
        );
        assert!(line.contains("grant it"), "{line}");
    }

    #[test]
    fn cap_eff_is_read_from_the_status_text() {
        let status = "Name:\tvip-agent\nCapInh:\t0000000000000000\nCapEff:\t0000008000003000\n";
        assert_eq!(
            parse_cap_eff(status),
            Some(set(&[
                Capability::NetAdmin,
                Capability::NetRaw,
                Capability::Bpf
            ]))
        );
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }
}
