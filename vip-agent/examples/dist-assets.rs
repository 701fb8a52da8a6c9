//! Writes the man pages and shell completions of `vip-agent`, generated from
//! its clap definition (`vip_agent::cli`), into a directory:
//!
//! ```text
//! OUT/man/vip-agent.8, OUT/man/vip-agent-<subcommand>.8, ...
//! OUT/completions/vip-agent.bash, OUT/completions/_vip-agent (zsh),
//! OUT/completions/vip-agent.fish
//! ```
//!
//! `cargo xtask dist` runs it and packages what it writes. It is an example,
//! not part of the binary, so the installed agent carries no generator code.
//!
//! Usage: `cargo run -p vip-agent --example dist-assets -- OUT`

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use vip_agent::cli::Cli;

/// A daemon an administrator runs: "System Administration tools and Daemons".
const MAN_SECTION: &str = "8";
const BIN_NAME: &str = "vip-agent";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dist-assets: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        bail!("usage: dist-assets OUT_DIR");
    };
    let out = PathBuf::from(out);
    write_man_pages(&out.join("man"))?;
    write_completions(&out.join("completions"))?;
    Ok(())
}

/// One page for `vip-agent` and one per (visible) subcommand, named
/// `vip-agent-<subcommand>.8`: the names clap gives the subcommands once
/// built, which is also how the main page's SUBCOMMANDS section refers to them.
fn write_man_pages(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    write_man_page(cmd, dir)
}

fn write_man_page(cmd: clap::Command, dir: &Path) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man_page(sub.clone(), dir)?;
    }
    // Every page's footer names the program and its version (clap_mangen's
    // default is the subcommand's own name and version, which it has none of).
    let page = clap_mangen::Man::new(cmd)
        .section(MAN_SECTION)
        .source(format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("vip-agent manual");
    let path = dir.join(page.get_filename());
    write_file(&path, |w| page.render(w))
}

fn write_completions(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    for (shell, file_name) in [
        (Shell::Bash, "vip-agent.bash"),
        (Shell::Zsh, "_vip-agent"),
        (Shell::Fish, "vip-agent.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut script);
        let mut script = String::from_utf8(script).context("completion script is not UTF-8")?;
        if shell == Shell::Bash {
            script = fix_bash_hyphenated_bin_name(&script);
        }
        write_file(&dir.join(file_name), |w| w.write_all(script.as_bytes()))?;
    }
    Ok(())
}

/// clap_complete's bash script names the state of `vip-agent <sub>` one way
/// where it walks the words typed (`vip__agent__subcmd__<sub>`) and another in
/// the case arms that complete each subcommand (`vip__subcmd__agent__...`,
/// the bin name's hyphen taken for a subcommand separator), so no
/// subcommand's flags ever complete (clap-rs/clap#6421, still in 4.6.12).
/// The arms are renamed to the walk's spelling; once clap spells both alike
/// this finds nothing to rename.
fn fix_bash_hyphenated_bin_name(script: &str) -> String {
    const SEPARATOR: &str = "__subcmd__";
    let walked = format!("{}{SEPARATOR}", BIN_NAME.replace('-', "__"));
    let arms = format!("{}{SEPARATOR}", BIN_NAME.replace('-', SEPARATOR));
    script.replace(&arms, &walked)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn write_file(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = BufWriter::new(file);
    render(&mut writer)
        .and_then(|()| writer.flush())
        .with_context(|| format!("writing {}", path.display()))
}
