//! The `vip-agent` command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use vip_agent::{
    agent::RunOptions,
    config::{self, cli::InstanceArgs, LoadOptions},
    control,
    dataplane::XdpModeChoice,
};

const DEFAULT_CONTROL_SOCKET: &str = "/run/vip-agent/control.sock";

/// VRRP virtual-IP agent with an XDP fast path.
///
/// Keeps a virtual IP address (VIP) alive across two or more hosts: the
/// highest-priority live host holds it and another takes it within seconds
/// when that host dies. Reads the `vrrp_*` sections of keepalived.conf.
#[derive(Debug, Parser)]
#[command(name = "vip-agent", version)]
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
struct RunArgs {
    #[command(flatten)]
    file: ConfigFile,

    /// One instance without a configuration file.
    #[command(flatten)]
    instance: InstanceArgs,

    /// Control socket that `vip-agent status` and `vip-agent reload` talk to.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    control_socket: PathBuf,

    /// bpffs directory where the XDP program's maps are pinned (inspect them
    /// with `bpftool map dump pinned DIR/<MAP>`).
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf/vip-agent")]
    bpffs_dir: PathBuf,

    /// XDP attach mode. auto: native where XDP_TX replies really leave the
    /// interface (skb on veth), falling back to skb; off: no XDP, the kernel
    /// answers ARP/NS.
    #[arg(long, value_enum, default_value_t = XdpModeChoice::Auto)]
    xdp_mode: XdpModeChoice,

    /// Replace an XDP program another tool attached to the interface.
    #[arg(long)]
    force: bool,

    /// Valid lifetime of the VIPs the agent adds, in seconds. The Master
    /// refreshes it; if the agent dies, the kernel removes the VIP after at
    /// most this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(3..=86400))]
    vip_lifetime: u64,

    /// Fencing bound in milliseconds: when the agent has not refreshed its
    /// heartbeat for this long (hung, stopped), XDP stops answering ARP/NS.
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600000))]
    xdp_fence_ms: u64,

    /// File to write the agent's pid to (removed on exit).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/vip-agent/vip-agent.pid"
    )]
    pid_file: PathBuf,
}

/// The keepalived.conf to read, for `run` and `check-config`.
#[derive(Debug, Args)]
struct ConfigFile {
    /// keepalived.conf (its `vrrp_*` sections and `global_defs`). `run`
    /// ignores it when the instance is given by flags (--interface, --vrid, ...).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/vip-agent/keepalived.conf"
    )]
    config: PathBuf,

    /// Treat configuration warnings (ignored or unknown keywords) as errors.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
struct CheckConfigArgs {
    #[command(flatten)]
    file: ConfigFile,
    /// Print the normalized configuration as JSON.
    #[arg(long)]
    json: bool,
}

/// Where a command reaches the running agent.
#[derive(Debug, Args)]
struct AgentSocket {
    /// Control socket of the running agent.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    control_socket: PathBuf,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    agent: AgentSocket,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct InstanceCommandArgs {
    /// The instance (vrrp_instance name); every instance when omitted.
    instance: Option<String>,
    #[command(flatten)]
    agent: AgentSocket,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::CheckConfig(args) => Ok(check_config(args)),
        Command::Status(args) => status(args),
        Command::Reload(args) => reload(args),
        Command::Resign(args) => instance_command(
            args.agent.control_socket,
            control::Command::Resign {
                instance: args.instance,
            },
            "resigned",
        ),
        Command::Stop(args) => {
            instance_command(args.control_socket, control::Command::Stop, "stopping")
        }
        Command::Resume(args) => instance_command(
            args.agent.control_socket,
            control::Command::Resume {
                instance: args.instance,
            },
            "resumed",
        ),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vip-agent: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn check_config(args: CheckConfigArgs) -> ExitCode {
    let outcome = config::check::check_config(&args.file.config, args.file.strict, args.json);
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    ExitCode::from(outcome.exit_code.clamp(0, 255) as u8)
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let (config, config_path) = if args.instance.is_given() {
        match args.instance.to_config() {
            Ok(config) => (config, None),
            Err(diagnostics) => {
                for d in &diagnostics {
                    eprintln!("{d}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    } else {
        match config::load(
            &args.file.config,
            LoadOptions {
                strict: args.file.strict,
            },
        ) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                (loaded.config, Some(args.file.config.clone()))
            }
            Err(diagnostics) => {
                for d in &diagnostics {
                    eprintln!("{d}");
                }
                eprintln!(
                    "vip-agent: {} is not valid; not starting",
                    args.file.config.display()
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    let options = RunOptions {
        config_path,
        strict: args.file.strict,
        control_socket: args.control_socket,
        bpffs_dir: args.bpffs_dir,
        xdp_mode: args.xdp_mode,
        force_xdp: args.force,
        vip_lifetime: Duration::from_secs(args.vip_lifetime),
        fence_bound: Duration::from_millis(args.xdp_fence_ms),
        // Before the runtime starts any thread: it changes the environment.
        service: vip_agent::agent::ServiceEnvironment::take_from_process(),
    };
    if let Some(dir) = args.pid_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", args.pid_file.display()))?;
    let result = runtime()?.block_on(vip_agent::agent::run(options, config));
    let _ = std::fs::remove_file(&args.pid_file);
    result.map(|()| ExitCode::SUCCESS)
}

fn status(args: StatusArgs) -> Result<ExitCode> {
    let response = runtime()?.block_on(control::request(
        &args.agent.control_socket,
        control::Command::Status,
    ))?;
    let Some(status) = response.status else {
        anyhow::bail!(
            "the agent answered without a status: {}",
            response.errors.join("; ")
        );
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", control::format_status(&status));
    }
    Ok(ExitCode::SUCCESS)
}

fn reload(args: AgentSocket) -> Result<ExitCode> {
    let response = runtime()?.block_on(control::request(
        &args.control_socket,
        control::Command::Reload,
    ))?;
    if response.ok {
        println!("configuration reloaded");
        Ok(ExitCode::SUCCESS)
    } else {
        for error in &response.errors {
            eprintln!("{error}");
        }
        eprintln!("vip-agent: reload rejected; the agent keeps its running configuration");
        Ok(ExitCode::FAILURE)
    }
}

fn instance_command(socket: PathBuf, command: control::Command, done: &str) -> Result<ExitCode> {
    let response = runtime()?.block_on(control::request(&socket, command))?;
    if response.ok {
        println!("{done}");
        Ok(ExitCode::SUCCESS)
    } else {
        for error in &response.errors {
            eprintln!("vip-agent: {error}");
        }
        Ok(ExitCode::FAILURE)
    }
}
