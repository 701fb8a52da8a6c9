//! The `vip-agent` command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, Result};
use clap::Parser;
use vip_agent::{
    agent::RunOptions,
    cli::{AgentSocket, CheckConfigArgs, Cli, Command, RunArgs, StatusArgs},
    config::{self, LoadOptions},
    control,
    dataplane::XdpModeChoice,
};

fn main() -> ExitCode {
    fix_mmap_threshold();
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

/// Large allocations (a configuration's address lists, the XDP object while
/// it loads) come straight from mmap, always. glibc otherwise raises its
/// threshold to the size of the largest block freed, after which blocks up
/// to 32 MiB come from the heap: growing one copies it (both copies
/// resident) and freeing it may not give the memory back.
fn fix_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn check_config(args: CheckConfigArgs) -> ExitCode {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
    let written = config::check::write_check(
        &args.file.config,
        args.file.strict,
        args.json,
        &mut stdout,
        &mut stderr,
    );
    let flushed = std::io::Write::flush(&mut stdout).and(std::io::Write::flush(&mut stderr));
    match written.and_then(|code| flushed.map(|()| code)) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(_) => ExitCode::from(1),
    }
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
        metrics_listen: args.metrics_listen,
        // Before the runtime starts any thread: it changes the environment.
        service: vip_agent::agent::ServiceEnvironment::take_from_process(),
    };
    // Before anything is created: a run the kernel would refuse halfway
    // says so in one line and leaves nothing behind.
    vip_agent::agent::privileges::check(options.xdp_mode != XdpModeChoice::Off)?;
    let created = CreatedDirs::for_files(&[&args.pid_file, &options.control_socket]);
    let result = (|| {
        if let Some(dir) = args.pid_file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Locked while the agent runs, removed (still locked) as it exits.
        let _pid_file = vip_agent::agent::ownership::PidFile::claim(&args.pid_file)?;
        runtime()?.block_on(vip_agent::agent::run(options, config))
    })();
    created.remove_if_empty();
    result.map(|()| ExitCode::SUCCESS)
}

/// The directories a run creates for its files, removed again (when empty)
/// as it exits; a directory that was there before is left alone.
struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    fn for_files(files: &[&std::path::Path]) -> Self {
        let mut missing: Vec<PathBuf> = files
            .iter()
            .filter_map(|file| file.parent())
            .flat_map(|dir| dir.ancestors())
            .filter(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(std::path::Path::to_path_buf)
            .collect();
        // Deepest first, so a parent is tried after its children.
        missing.sort_by(|a, b| {
            (b.components().count(), b.as_path()).cmp(&(a.components().count(), a.as_path()))
        });
        missing.dedup();
        Self(missing)
    }

    fn remove_if_empty(&self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
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
