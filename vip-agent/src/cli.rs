//! The `vip-agent` command line: its clap definition, shared by the binary
//! and by the generator of the man pages and shell completions
//! (`examples/dist-assets.rs`), so both always describe the same flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{config::cli::InstanceArgs, dataplane::XdpModeChoice};

pub const DEFAULT_CONTROL_SOCKET: &str = "/run/vip-agent/control.sock";

/// VRRP virtual-IP agent with an XDP fast path.
///
/// Keeps a virtual IP address (VIP) alive across two or more hosts: the
/// highest-priority live host holds it and another takes it within seconds
/// when that host dies. Reads the `vrrp_*` sections of keepalived.conf.
#[derive(Debug, Parser)]
#[command(name = "vip-agent", version)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `vip_agent=debug`.
    #[arg(long, global = true, env = "VIP_AGENT_LOG", default_value = "info")]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: elect, hold or release the VIPs, run the XDP fast path.
    ///
    /// Stops cleanly on SIGTERM or SIGINT (detaches XDP, removes its pins).
    Run(Box<RunArgs>),
    /// Check a keepalived.conf and print what vip-agent would run.
    CheckConfig(CheckConfigArgs),
    /// Ask a running agent for the state of each instance.
    Status(StatusArgs),
    /// Ask a running agent to re-read its configuration (like SIGHUP).
    Reload(AgentSocket),
    /// Take an instance (all without INSTANCE) out of the election for
    /// maintenance: a Master hands over make-before-break (priority 0, VIPs
    /// kept until the new Master advertises).
    Resign(InstanceCommandArgs),
    /// Put resigned instances back into the election (as Backup; they
    /// preempt back if priority and preempt say so).
    Resume(InstanceCommandArgs),
    /// Stop a running agent as SIGTERM does: Masters hand over
    /// make-before-break, then XDP is detached and its pins removed.
    Stop(AgentSocket),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub file: ConfigFile,

    /// One instance without a configuration file.
    #[command(flatten)]
    pub instance: InstanceArgs,

    /// Control socket that `vip-agent status` and `vip-agent reload` talk to.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,

    /// bpffs directory where the XDP program's maps are pinned (inspect them
    /// with `bpftool map dump pinned DIR/<MAP>`).
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf/vip-agent")]
    pub bpffs_dir: PathBuf,

    /// XDP attach mode. auto: native where XDP_TX replies really leave the
    /// interface, falling back to skb; on veth, skb (native replies reach a
    /// veth peer only when the peer runs an XDP program: choose native there
    /// when it does); off: no XDP, the kernel answers ARP/NS.
    #[arg(long, value_enum, default_value_t = XdpModeChoice::Auto)]
    pub xdp_mode: XdpModeChoice,

    /// Replace an XDP program another tool attached to the interface.
    #[arg(long)]
    pub force: bool,

    /// Valid lifetime of the VIPs the agent adds, in seconds. The Master
    /// refreshes it; if the agent dies, the kernel removes the VIP after at
    /// most this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(3..=86400))]
    pub vip_lifetime: u64,

    /// Fencing bound in milliseconds: when the agent has not refreshed its
    /// heartbeat for this long (hung, stopped), XDP stops answering ARP/NS.
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600000))]
    pub xdp_fence_ms: u64,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics, e.g.
    /// 127.0.0.1:9650 (off by default; bind to localhost or a management
    /// network: the page has no authentication).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// File to write the agent's pid to (removed on exit).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/vip-agent/vip-agent.pid"
    )]
    pub pid_file: PathBuf,
}

/// The keepalived.conf to read, for `run` and `check-config`.
#[derive(Debug, Args)]
pub struct ConfigFile {
    /// keepalived.conf (its `vrrp_*` sections and `global_defs`). `run`
    /// ignores it when the instance is given by flags (--interface, --vrid, ...).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/vip-agent/keepalived.conf"
    )]
    pub config: PathBuf,

    /// Treat configuration warnings (ignored or unknown keywords) as errors.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// Print the normalized configuration as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where a command reaches the running agent.
#[derive(Debug, Args)]
pub struct AgentSocket {
    /// Control socket of the running agent.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub agent: AgentSocket,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InstanceCommandArgs {
    /// The instance (vrrp_instance name); every instance when omitted.
    pub instance: Option<String>,
    #[command(flatten)]
    pub agent: AgentSocket,
}
