//! Tests that run one keepalived.conf under keepalived 2.2.7 and under
//! vip-agent and compare what each does: which of the two runs a router.

use anyhow::Result;

use crate::{
    agent::{AgentProcess, AgentSpec},
    keepalived::Keepalived,
    Lab,
};

/// The program a side-by-side test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    Keepalived,
    VipAgent,
}

impl Implementation {
    /// Both, keepalived first: the reference before the subject.
    pub const BOTH: [Implementation; 2] = [Implementation::Keepalived, Implementation::VipAgent];

    pub fn name(self) -> &'static str {
        match self {
            Implementation::Keepalived => "keepalived",
            Implementation::VipAgent => "vip-agent",
        }
    }
}

/// One router running `config` under an [`Implementation`]; stopped (with
/// everything it started) when dropped.
pub enum Router {
    Agent(AgentProcess),
    Keepalived(Keepalived),
}

impl Router {
    /// Starts `config` on `node` (files named after `role` in the lab's
    /// work directory).
    pub fn start(
        lab: &mut Lab,
        node: usize,
        role: &str,
        implementation: Implementation,
        config: &str,
    ) -> Result<Self> {
        Ok(match implementation {
            Implementation::VipAgent => {
                let path = lab.work_dir().join(format!("{role}.conf"));
                std::fs::write(&path, config)?;
                Router::Agent(lab.start_agent(&AgentSpec::with_config(node, role, &path))?)
            }
            Implementation::Keepalived => {
                Router::Keepalived(Keepalived::start(lab, node, role, config)?)
            }
        })
    }

    /// Replaces the configuration of the router started as `role` with
    /// `config` and sends SIGHUP, as `systemctl reload` does.
    pub fn reload(&self, lab: &Lab, role: &str, config: &str) -> Result<()> {
        match self {
            Router::Agent(agent) => {
                std::fs::write(lab.work_dir().join(format!("{role}.conf")), config)?;
                agent.signal(nix::sys::signal::Signal::SIGHUP)
            }
            Router::Keepalived(keepalived) => keepalived.reload(config),
        }
    }
}
