//! The Debian package `cargo xtask dist` builds, installed on this machine
//! with dpkg as an operator installs it: the binary runs and checks the
//! example configuration, the man pages and bash completion work, the unit
//! is installed but neither enabled nor started; then it is removed (the
//! configuration stays), installed again and purged.
//!
//! This test touches the host's filesystem (never its network), and leaves
//! it as it found it: it refuses to run over an installed vip-agent or over
//! any file the package would own, purges on failure too, and compares the
//! package's paths and vip-agent's systemd state before and after.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use clap::CommandFactory;
use tests::{require_root, run};

const PACKAGE: &str = "vip-agent";
const BINARY: &str = "/usr/sbin/vip-agent";
const CONFIG: &str = "/etc/vip-agent/keepalived.conf";
const UNIT: &str = "/lib/systemd/system/vip-agent.service";
const BASH_COMPLETION: &str = "/usr/share/bash-completion/completions/vip-agent";

/// What the package must ship, whatever else it does.
const EXPECTED: &[&str] = &[
    BINARY,
    UNIT,
    CONFIG,
    BASH_COMPLETION,
    "/usr/share/man/man8/vip-agent.8.gz",
    "/usr/share/zsh/vendor-completions/_vip-agent",
    "/usr/share/fish/vendor_completions.d/vip-agent.fish",
    "/usr/share/doc/vip-agent/copyright",
];

/// Where systemd and deb-systemd-helper keep what enables or masks a unit.
const SYSTEMD_STATE_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/var/lib/systemd/deb-systemd-helper-enabled",
    "/var/lib/systemd/deb-systemd-helper-masked",
];

/// How long dpkg may wait for another package manager's lock.
const DPKG_LOCK_BOUND: Duration = Duration::from_secs(300);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests is inside the workspace")
        .to_path_buf()
}

/// The package under test: `VIP_AGENT_DEB` (set by `cargo xtask test`, which
/// builds it), else what `cargo xtask dist --profile dev` writes.
fn deb_path() -> Result<PathBuf> {
    let path = match std::env::var_os("VIP_AGENT_DEB") {
        Some(path) => PathBuf::from(path),
        None => {
            let arch = stdout(Command::new("dpkg").arg("--print-architecture"))?;
            workspace_root().join(format!(
                "target/dist/dev/{PACKAGE}_{}_{}.deb",
                env!("CARGO_PKG_VERSION"),
                arch.trim()
            ))
        }
    };
    ensure!(
        path.is_file(),
        "package not found at {}: run `cargo xtask test` (it builds it) or \
         `cargo xtask dist --profile dev`",
        path.display()
    );
    Ok(path)
}

fn stdout(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    Ok(String::from_utf8(out.stdout)?)
}

/// `dpkg ARGS`, waiting (bounded) while another package manager holds the
/// dpkg lock.
fn dpkg(args: &[&str]) -> Result<Output> {
    let deadline = Instant::now() + DPKG_LOCK_BOUND;
    loop {
        let out = Command::new("dpkg")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .context("starting dpkg")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return Ok(out);
        }
        // "dpkg frontend lock was locked by another process with pid N"
        let locked = stderr.contains("locked by another process");
        if !locked || Instant::now() >= deadline {
            bail!(
                "dpkg {}: {}\n{}{stderr}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// dpkg's status of the package (`install ok installed`, `deinstall ok
/// config-files`, ...), or None when dpkg has nothing of it.
fn package_status() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .ok()?;
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !status.ends_with("not-installed")).then_some(status)
}

fn package_field(field: &str) -> Result<String> {
    stdout(Command::new("dpkg-query").args(["-W", &format!("-f=${{{field}}}"), PACKAGE]))
}

/// A path of the package: a directory (that other packages may share) or
/// anything else (the package's own).
#[derive(Debug)]
struct PackagePath {
    path: PathBuf,
    is_dir: bool,
}

/// Every path of the package, as `dpkg-deb --contents` lists them.
fn package_paths(deb: &Path) -> Result<Vec<PackagePath>> {
    let listing = stdout(Command::new("dpkg-deb").arg("--contents").arg(deb))?;
    let mut paths = Vec::new();
    for line in listing.lines() {
        // drwxr-xr-x root/root 0 2025-01-01 00:00 ./etc/vip-agent/
        let name = line
            .split_whitespace()
            .nth(5)
            .with_context(|| format!("unexpected dpkg-deb --contents line {line:?}"))?;
        let is_dir = name.ends_with('/');
        let name = name.trim_start_matches('.').trim_end_matches('/');
        if !name.is_empty() {
            paths.push(PackagePath {
                path: PathBuf::from(name),
                is_dir,
            });
        }
    }
    Ok(paths)
}

/// Entries under `dir` (not following symlinks) whose name mentions vip-agent.
fn collect_vip_agent_entries(dir: &Path, found: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(PACKAGE) {
            found.insert(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_vip_agent_entries(&path, found);
        }
    }
}

/// What the package can change on the host: which of its paths exist, and
/// vip-agent's enable and mask state (symlinks and deb-systemd-helper files).
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    present: BTreeSet<PathBuf>,
    systemd: BTreeSet<PathBuf>,
}

fn host_state(paths: &[PackagePath]) -> HostState {
    let present = paths
        .iter()
        .filter(|p| p.path.symlink_metadata().is_ok())
        .map(|p| p.path.clone())
        .collect();
    let mut systemd = BTreeSet::new();
    for dir in SYSTEMD_STATE_DIRS {
        collect_vip_agent_entries(Path::new(dir), &mut systemd);
    }
    HostState { present, systemd }
}

/// Purges the package when dropped, also while unwinding from a failed
/// assertion, if dpkg has anything of it. Made only once the test has seen
/// that the package was not there before.
struct PurgeOnDrop;

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        if package_status().is_some() {
            if let Err(err) = dpkg(&["--purge", PACKAGE]) {
                eprintln!("package test: purging {PACKAGE} failed: {err:#}");
            }
        }
    }
}

/// vip-agent's systemd entries under /etc/systemd/system: an enable symlink
/// or a mask.
fn unit_links() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    collect_vip_agent_entries(Path::new("/etc/systemd/system"), &mut found);
    found
}

fn assert_installed_and_working(paths: &[PackagePath]) -> Result<()> {
    let status = package_status();
    ensure!(
        status.as_deref() == Some("install ok installed"),
        "dpkg status after install: {status:?}"
    );
    for p in paths {
        ensure!(
            p.path.symlink_metadata().is_ok(),
            "{} is in the package but not on disk",
            p.path.display()
        );
    }
    // Every installed file has the checksum the package recorded.
    let verify = dpkg(&["--verify", PACKAGE])?;
    ensure!(
        verify.stdout.is_empty(),
        "dpkg --verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    ensure!(
        package_field("Conffiles")?.contains(CONFIG),
        "{CONFIG} is not a conffile"
    );
    let depends = package_field("Depends")?;
    ensure!(
        depends.contains("libc6 (>= "),
        "Depends does not name libc6 with a version: {depends:?}"
    );

    // The installed unit and example are the repository's files.
    let dist = workspace_root().join("vip-agent/dist");
    for (installed, source) in [
        (UNIT, dist.join("vip-agent.service")),
        (CONFIG, dist.join("keepalived.conf")),
    ] {
        ensure!(
            std::fs::read(installed)? == std::fs::read(&source)?,
            "{installed} differs from {}: rebuild the package",
            source.display()
        );
    }
    ensure!(
        unit_links().is_empty(),
        "installing enabled or masked the unit: {:?}",
        unit_links()
    );

    let version = stdout(Command::new(BINARY).arg("--version"))?;
    ensure!(
        version.trim() == format!("vip-agent {}", env!("CARGO_PKG_VERSION")),
        "{BINARY} --version printed {version:?}"
    );
    let checked = stdout(Command::new(BINARY).args(["check-config", "--config", CONFIG]))?;
    ensure!(
        checked.contains("configuration OK"),
        "check-config on the example: {checked}"
    );

    assert_man_pages()?;
    assert_bash_completion()?;
    Ok(())
}

/// Runs of whitespace as one space: man wraps and indents as it likes.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `man` printing plain text, not justified nor hyphenated.
fn man() -> Command {
    let mut cmd = Command::new("man");
    cmd.args(["--nj", "--nh"])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "200")
        .env_remove("MANPATH");
    cmd
}

/// `man vip-agent` and one page per subcommand of the clap definition.
fn assert_man_pages() -> Result<()> {
    let cli = vip_agent::cli::Cli::command();
    let mut pages = vec![("vip-agent".to_string(), cli.clone())];
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push((format!("vip-agent-{}", sub.get_name()), sub.clone()));
    }
    for (page, cmd) in &pages {
        let found = stdout(man().args(["-w", page])).with_context(|| {
            format!(
                "man -w {page} (a path-exclude for /usr/share/man in \
                 /etc/dpkg/dpkg.cfg.d would drop the pages)"
            )
        })?;
        ensure!(
            found.trim() == format!("/usr/share/man/man8/{page}.8.gz"),
            "man -w {page} found {found:?}"
        );
        let rendered = words(&stdout(man().arg(page))?);
        let about = cmd
            .get_about()
            .context("command without about")?
            .to_string();
        ensure!(
            rendered.contains(&words(&format!("{page} - {about}"))),
            "man {page} has no NAME line for {about:?}:\n{rendered}"
        );
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                ensure!(
                    rendered.contains(&format!("--{long}")),
                    "man {page} does not document --{long}:\n{rendered}"
                );
            }
        }
    }
    let main_page = stdout(man().arg("vip-agent"))?;
    for (page, _) in &pages[1..] {
        ensure!(
            main_page.contains(&format!("{page}(8)")),
            "man vip-agent does not refer to {page}(8):\n{main_page}"
        );
    }
    Ok(())
}

/// Sources the installed bash completion and asks it, as bash does on Tab,
/// for a subcommand, a subcommand's flag and a flag's values.
fn assert_bash_completion() -> Result<()> {
    let script = format!(
        r#"set -e
source {BASH_COMPLETION}
spec=$(complete -p vip-agent)
fn=${{spec#*-F }}
fn=${{fn%% *}}
complete_words() {{
    COMP_WORDS=("$@")
    COMP_CWORD=$(( $# - 1 ))
    COMPREPLY=()
    "$fn" vip-agent "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    echo "$*: ${{COMPREPLY[*]}}"
}}
complete_words vip-agent check-c
complete_words vip-agent check-config --st
complete_words vip-agent run --xdp-mode ''
"#
    );
    let replies = stdout(Command::new("bash").args(["--norc", "--noprofile", "-c", &script]))?;
    for expected in [
        "vip-agent check-c: check-config",
        "vip-agent check-config --st: --strict",
        "vip-agent run --xdp-mode : auto native skb off",
    ] {
        ensure!(
            replies.lines().any(|line| line == expected),
            "bash completion: expected {expected:?}, got:\n{replies}"
        );
    }
    Ok(())
}

#[test]
fn package_installs_works_and_purges_leaving_the_machine_as_found() -> Result<()> {
    require_root();
    let deb = deb_path()?;
    let paths = package_paths(&deb)?;
    for expected in EXPECTED {
        ensure!(
            paths.iter().any(|p| p.path == Path::new(expected)),
            "{} does not ship {expected}",
            deb.display()
        );
    }

    if let Some(status) = package_status() {
        bail!(
            "{PACKAGE} is already known to dpkg ({status}): this test installs and purges \
             the package, and will not purge an install it did not make. Purge it first \
             (dpkg --purge {PACKAGE}) to run the test here."
        );
    }
    let owned: Vec<_> = paths
        .iter()
        .filter(|p| !p.is_dir || p.path.starts_with("/etc/vip-agent"))
        .filter(|p| p.path.symlink_metadata().is_ok())
        .map(|p| p.path.display().to_string())
        .collect();
    ensure!(
        owned.is_empty(),
        "files the package owns exist already ({}): not installing over them",
        owned.join(", ")
    );
    let before = host_state(&paths);

    let _purge = PurgeOnDrop;
    let deb_arg = deb.to_str().context("package path is not UTF-8")?;
    dpkg(&["--install", deb_arg])?;
    assert_installed_and_working(&paths)?;

    // Removed, not purged: the binary goes, the operator's configuration stays.
    dpkg(&["--remove", PACKAGE])?;
    let status = package_status();
    ensure!(
        status.as_deref() == Some("deinstall ok config-files"),
        "dpkg status after remove: {status:?}"
    );
    ensure!(!Path::new(BINARY).exists(), "{BINARY} is left after remove");
    ensure!(Path::new(CONFIG).is_file(), "remove took {CONFIG}");

    // Installed again over the kept configuration: the unit is usable again
    // (not left masked by the remove).
    dpkg(&["--install", deb_arg])?;
    assert_installed_and_working(&paths)?;

    dpkg(&["--purge", PACKAGE])?;
    let status = package_status();
    ensure!(status.is_none(), "dpkg status after purge: {status:?}");
    ensure!(
        !Path::new("/etc/vip-agent").exists(),
        "purge left /etc/vip-agent"
    );
    let after = host_state(&paths);
    ensure!(
        after == before,
        "the machine is not as the test found it:\nbefore {before:#?}\nafter {after:#?}"
    );
    Ok(())
}
