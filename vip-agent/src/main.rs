//! The `vip-agent` command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use vip_agent::dataplane::{Dataplane, XdpModeChoice};

/// VRRP virtual-IP agent with an XDP fast path.
///
/// Keeps a virtual IP address (VIP) alive across two or more hosts: the
/// highest-priority live host holds it and another takes it within seconds
/// when that host dies. Reads the `vrrp_*` sections of keepalived.conf.
#[derive(Debug, Parser)]
#[command(name = "vip-agent", version, propagate_version = true)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `vip_agent=debug`.
    #[arg(long, global = true, env = "VIP_AGENT_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: elect, hold or release the VIPs, run the XDP fast path.
    ///
    /// Stops cleanly on SIGTERM or SIGINT (detaches XDP, removes its pins).
    Run(RunArgs),
    /// Check a keepalived.conf and print what vip-agent would run.
    CheckConfig(CheckConfigArgs),
    /// Ask a running agent for the state of each instance.
    Status(StatusArgs),
    /// Ask a running agent to re-read its configuration (like SIGHUP).
    Reload(ReloadArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Interface to attach the XDP program to.
    #[arg(long, value_name = "IF")]
    interface: String,

    /// bpffs directory where the program's maps are pinned (inspect them
    /// with `bpftool map dump pinned DIR/VRRP_STATS`).
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf/vip-agent")]
    bpffs_dir: PathBuf,

    /// XDP attach mode: auto picks native where XDP_TX replies really leave
    /// the interface (skb on veth), falling back to skb.
    #[arg(long, value_enum, default_value_t = XdpModeChoice::Auto)]
    xdp_mode: XdpModeChoice,
}

#[derive(Debug, Args)]
struct CheckConfigArgs {
    /// Configuration file (keepalived.conf syntax).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/vip-agent/keepalived.conf"
    )]
    config: PathBuf,
    /// Print the normalized configuration as JSON.
    #[arg(long)]
    json: bool,
    /// Treat warnings (ignored or unknown keywords) as errors.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Control socket of the running agent.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/vip-agent/control.sock"
    )]
    control_socket: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ReloadArgs {
    /// Control socket of the running agent.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/vip-agent/control.sock"
    )]
    control_socket: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::CheckConfig(_) | Command::Status(_) | Command::Reload(_) => {
            Err(anyhow::anyhow!("not available in this build yet"))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vip-agent: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut dataplane = Dataplane::load(&args.bpffs_dir).context("loading the XDP program")?;
        if args.xdp_mode != XdpModeChoice::Off {
            dataplane
                .attach(&args.interface, args.xdp_mode, false)
                .with_context(|| format!("attaching to {}", args.interface))?;
        }
        wait_for_shutdown_signal().await?;
        dataplane.shutdown().context("detaching the XDP program")?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}
