//! `cargo xtask <task>`: everything a developer or CI runs besides cargo itself.

mod bench;
mod dist;
mod ebpf_build;
mod fuzz;
mod lab;
mod setup;
mod test;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "vip-agent developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need (Debian packages, bpf-linker on
    /// LLVM 22) and mount bpffs. Idempotent; needs root when something is missing.
    Setup,
    /// Build the XDP object and print the toolchain used and the object's path.
    BuildEbpf {
        /// Accepted for familiarity: the XDP object is always built optimised
        /// (the verifier rejects unoptimised BPF code) and with BTF.
        #[arg(long)]
        release: bool,
    },
    /// Formatting, clippy (host crates and the BPF target), unit tests, then the
    /// root-only integration tests in network namespaces.
    Test {
        /// Stop after the unit tests (for non-root development).
        #[arg(long)]
        unit_only: bool,
        /// Only run integration tests whose name contains this string.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Build the Debian package target/dist/vip-agent_<version>_<arch>.deb
    /// (binary, systemd unit, example configuration, man pages, completions)
    /// and print its path.
    Dist {
        /// Cargo profile of the packaged binary. `dev` packages the debug
        /// build into target/dist/dev/ instead (what the package test uses).
        #[arg(long, value_enum, default_value_t = dist::Profile::Release)]
        profile: dist::Profile,
    },
    /// Benchmarks in network namespaces (root): failover, planned handover,
    /// crash + restart, XDP cost, ARP flood, election under flood, footprint;
    /// writes bench/results.{json,md} and bench/failover.svg.
    Bench {
        /// Fewer and shorter repetitions (under 5 minutes).
        #[arg(long)]
        quick: bool,
        /// Run only these sections (comma-separated). The files written then
        /// hold only them: for development, not for the committed results.
        #[arg(
            long,
            env = "VIP_BENCH_ONLY",
            value_name = "SECTION,...",
            value_delimiter = ',',
            value_parser = clap::builder::PossibleValuesParser::new(bench::SECTIONS),
        )]
        only: Vec<String>,
        /// Run nothing: write bench/results.md and bench/failover.svg again
        /// from the committed bench/results.json.
        #[arg(long, conflicts_with_all = ["quick", "only"])]
        render: bool,
    },
    /// Build the libFuzzer targets (vip-agent/fuzz) and run each: the VRRP
    /// decoder, the configuration reader, the control protocol. Fails on a
    /// crash or hang, naming the reproducer.
    Fuzz {
        /// Seconds per target (the default when --runs is not given: 60).
        #[arg(long, conflicts_with = "runs", value_parser = clap::value_parser!(u64).range(1..))]
        secs: Option<u64>,
        /// Executions per target instead of a time.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        runs: Option<u64>,
        /// Only this target.
        #[arg(
            long,
            value_parser = clap::builder::PossibleValuesParser::new(fuzz::TARGETS),
        )]
        target: Option<String>,
        /// Build with AddressSanitizer (RUSTC_BOOTSTRAP=1 on stable; slower).
        #[arg(long)]
        asan: bool,
    },
    /// Run a scenario of examples/scenarios in network namespaces and narrate a
    /// failover (root). Leaves nothing behind unless --keep.
    Lab {
        /// Folder name under examples/scenarios.
        #[arg(default_value = "swarm-four")]
        scenario: String,
        /// Keep the namespaces and agents running to look around.
        #[arg(long)]
        keep: bool,
        /// Remove everything earlier labs left (after --keep) and exit.
        #[arg(long)]
        clean: bool,
    },
}

/// Root of the cargo workspace (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Setup => setup::run(),
        Task::BuildEbpf { release: _ } => build_ebpf(),
        Task::Test { unit_only, filter } => test::run(unit_only, filter.as_deref()),
        Task::Dist { profile } => dist::run(profile),
        Task::Bench { render: true, .. } => bench::render(),
        Task::Bench { quick, only, .. } => bench::run(quick, &only),
        Task::Fuzz {
            secs,
            runs,
            target,
            asan,
        } => fuzz::run(fuzz::Args {
            budget: match runs {
                Some(runs) => fuzz::Budget::Runs(runs),
                None => fuzz::Budget::Seconds(secs.unwrap_or(60)),
            },
            target,
            asan,
        }),
        Task::Lab {
            scenario,
            keep,
            clean,
        } => lab::run(lab::Args {
            scenario: Some(scenario),
            keep,
            clean,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn build_ebpf() -> anyhow::Result<()> {
    let built = ebpf_build::build(&workspace_root(), &mut |line| println!("{line}"))
        .map_err(anyhow::Error::msg)?;
    println!("toolchain: {}", built.toolchain);
    println!("object: {}", built.object.display());
    Ok(())
}
