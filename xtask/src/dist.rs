//! `cargo xtask dist`: the Debian package of vip-agent.
//!
//! The package is staged by hand and built with `dpkg-deb --build
//! --root-owner-group`, with the tools every Debian build machine has
//! (dpkg-dev, binutils, gzip): no cargo-deb to compile in CI, and every
//! file of the package is named here. What goes in:
//!
//! | path | from |
//! |---|---|
//! | `/usr/sbin/vip-agent` | the binary (embeds the XDP program), stripped |
//! | `/lib/systemd/system/vip-agent.service` | `vip-agent/dist/vip-agent.service` |
//! | `/etc/vip-agent/keepalived.conf` (conffile) | `vip-agent/dist/keepalived.conf` |
//! | `/usr/share/man/man8/vip-agent*.8.gz` | generated from the clap definition |
//! | bash, zsh and fish completions | generated from the clap definition |
//! | `/usr/share/doc/vip-agent/copyright` | `vip-agent/dist/debian/copyright` |
//!
//! The maintainer scripts are `vip-agent/dist/debian/{postinst,prerm,postrm}`;
//! `Depends` comes from `dpkg-shlibdeps` on the staged binary.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

const PACKAGE: &str = "vip-agent";
/// The binary's name and the name of its generated pages and completions.
const BIN: &str = "vip-agent";
/// The generator of the man pages and completions (vip-agent/examples).
const ASSETS_EXAMPLE: &str = "dist-assets";
const MAINTAINER: &str = "vip-agent developers <dev@vip-agent.invalid>";
const HOMEPAGE: &str = "https://github.com/vip-agent/vip-agent";
/// Only for conffiles: dpkg keeps an operator's edits to these on upgrade
/// and removes them on purge.
const CONFFILE: &str = "etc/vip-agent/keepalived.conf";
const DESCRIPTION: &str = "\
VRRP virtual-IP agent with an XDP fast path
 vip-agent keeps a virtual IP address alive across two or more Linux hosts
 with VRRP (RFC 3768 v2, RFC 5798 v3): the highest-priority live host holds
 the address and another takes it within seconds when that host dies. It
 reads the vrrp_* sections of an existing keepalived.conf.
 .
 An XDP program answers ARP and IPv6 Neighbour Solicitations for the
 virtual addresses, validates and counts VRRP adverts before the network
 stack sees them, and stops answering when the agent hangs.
 .
 The service is installed disabled: edit /etc/vip-agent/keepalived.conf,
 then run systemctl enable --now vip-agent.";

/// The cargo profile the packaged binary is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The package to install: optimised.
    Release,
    /// The debug build `cargo xtask test` already has, to test the package
    /// itself without compiling everything a second time.
    Dev,
}

impl Profile {
    fn cargo_name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "dev",
        }
    }

    /// Where cargo writes this profile's artifacts, under `target/`.
    fn target_subdir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "debug",
        }
    }

    /// Where the .deb goes: `target/dist` for the release package (the path
    /// other tooling installs from), `target/dist/dev` for the test package,
    /// so a debug build never takes the release package's place.
    fn out_dir(self, target: &Path) -> PathBuf {
        match self {
            Profile::Release => target.join("dist"),
            Profile::Dev => target.join("dist/dev"),
        }
    }
}

/// `cargo xtask dist`: builds the package and prints its path.
pub fn run(profile: Profile) -> Result<()> {
    let deb = build(profile)?;
    println!("{}", deb.display());
    Ok(())
}

/// Builds `vip-agent_<version>_<arch>.deb` and returns its path.
pub fn build(profile: Profile) -> Result<PathBuf> {
    let root = workspace_root();
    let target = root.join("target");
    let artifacts = target.join(profile.target_subdir());

    // Two invocations: the binary alone is built exactly as `cargo xtask
    // test` builds it (same features), so the dev package reuses that build.
    cargo_build(profile, &["--bin", BIN])?;
    cargo_build(profile, &["--example", ASSETS_EXAMPLE])?;

    let work = target.join(format!("dist/work-{}", profile.cargo_name()));
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    // dpkg-shlibdeps expects the debian/<package> layout of a source tree.
    let stage = work.join("debian").join(PACKAGE);
    let assets = work.join("assets");
    create_dir(&stage)?;

    exec(
        Command::new(artifacts.join("examples").join(ASSETS_EXAMPLE)).arg(&assets),
        "generating the man pages and completions",
    )?;

    let binary = stage.join("usr/sbin").join(BIN);
    install(&artifacts.join(BIN), &binary, 0o755)?;
    // Debian ships stripped binaries (dh_strip): the debug build's DWARF is
    // most of its size. The XDP program lives in .rodata and is kept.
    exec(
        Command::new("strip")
            .args(["--strip-unneeded", "--remove-section=.comment"])
            .arg(&binary),
        "stripping the binary",
    )?;
    let version = binary_version(&binary)?;

    let dist = root.join("vip-agent/dist");
    install(
        &dist.join("vip-agent.service"),
        &stage.join("lib/systemd/system/vip-agent.service"),
        0o644,
    )?;
    install(&dist.join("keepalived.conf"), &stage.join(CONFFILE), 0o644)?;
    install(
        &dist.join("debian/copyright"),
        &stage.join("usr/share/doc").join(PACKAGE).join("copyright"),
        0o644,
    )?;
    install_man_pages(&assets.join("man"), &stage.join("usr/share/man"))?;
    let completions = assets.join("completions");
    for (generated, installed) in [
        (
            format!("{BIN}.bash"),
            format!("usr/share/bash-completion/completions/{BIN}"),
        ),
        (
            format!("_{BIN}"),
            format!("usr/share/zsh/vendor-completions/_{BIN}"),
        ),
        (
            format!("{BIN}.fish"),
            format!("usr/share/fish/vendor_completions.d/{BIN}.fish"),
        ),
    ] {
        install(&completions.join(generated), &stage.join(installed), 0o644)?;
    }

    let control_dir = stage.join("DEBIAN");
    create_dir(&control_dir)?;
    for script in ["postinst", "prerm", "postrm"] {
        install(
            &dist.join("debian").join(script),
            &control_dir.join(script),
            0o755,
        )?;
    }
    write(&control_dir.join("conffiles"), &format!("/{CONFFILE}\n"))?;
    write(&control_dir.join("md5sums"), &md5sums(&stage)?)?;
    set_dir_permissions(&stage)?;

    let arch = dpkg_architecture()?;
    let control = format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {size}\n\
         Depends: {depends}\n\
         Recommends: iproute2\n\
         Suggests: bpftool\n\
         Section: net\n\
         Priority: optional\n\
         Homepage: {HOMEPAGE}\n\
         Description: {DESCRIPTION}\n",
        size = installed_size_kib(&stage)?,
        depends = shlib_depends(&work, &binary)?,
    );
    write(&control_dir.join("control"), &control)?;

    let out_dir = profile.out_dir(&target);
    create_dir(&out_dir)?;
    let deb = out_dir.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    exec(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&stage)
            .arg(&deb),
        "building the package",
    )?;
    Ok(deb)
}

fn cargo_build(profile: Profile, targets: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    exec(
        Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--locked", "--profile", profile.cargo_name()])
            .args(["-p", "vip-agent"])
            .args(targets),
        "building vip-agent",
    )
}

fn exec(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{what}: starting {cmd:?}"))?;
    ensure!(status.success(), "{what}: {cmd:?} failed ({status})");
    Ok(())
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: starting {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{what}: {cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8(out.stdout).with_context(|| format!("{what}: {cmd:?} printed non-UTF-8"))
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    set_mode(path, 0o644)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
}

/// Copies `from` to `to` (creating its directory) with `mode`, whatever the
/// umask and the source's own mode.
fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    create_dir(to.parent().expect("staged paths have a parent"))?;
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    set_mode(to, mode)
}

/// Every directory of the staged tree 0755, as dpkg expects of system
/// directories (the umask decided what `create_dir_all` made).
fn set_dir_permissions(dir: &Path) -> Result<()> {
    set_mode(dir, 0o755)?;
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            set_dir_permissions(&entry)?;
        }
    }
    Ok(())
}

/// The entries of `dir`, sorted (the order of md5sums and sizes is stable).
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

/// The staged files below `dir`, outside `DEBIAN`, relative to `stage`.
fn staged_files(stage: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            if entry != stage.join("DEBIAN") {
                staged_files(stage, &entry, files)?;
            }
        } else {
            files.push(
                entry
                    .strip_prefix(stage)
                    .expect("below stage")
                    .to_path_buf(),
            );
        }
    }
    Ok(())
}

/// `vip-agent 0.1.0` -> `0.1.0`: the version of what is packaged, asked of
/// the staged binary itself (which also shows that it runs).
fn binary_version(binary: &Path) -> Result<String> {
    let printed = output(
        Command::new(binary).arg("--version"),
        "asking the binary its version",
    )?;
    let version = printed
        .trim()
        .strip_prefix(&format!("{BIN} "))
        .with_context(|| format!("unexpected `{BIN} --version` output: {printed:?}"))?;
    let valid = !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~-".contains(c));
    ensure!(valid, "`{version}` is not a Debian version");
    Ok(version.to_string())
}

fn dpkg_architecture() -> Result<String> {
    let arch = output(
        Command::new("dpkg").arg("--print-architecture"),
        "asking dpkg the architecture",
    )?;
    Ok(arch.trim().to_string())
}

/// `libc6 (>= 2.34), libgcc-s1 (>= 4.2)`: the libraries the binary links
/// and the oldest versions that have every symbol it uses, as
/// dpkg-shlibdeps reads them from the binary and the installed packages.
fn shlib_depends(work: &Path, binary: &Path) -> Result<String> {
    let control = work.join("debian/control");
    write(
        &control,
        &format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"),
    )?;
    let printed = output(
        Command::new("dpkg-shlibdeps")
            .current_dir(work)
            .args(["-O", "-e"])
            .arg(binary),
        "computing Depends (dpkg-shlibdeps, from dpkg-dev)",
    )?;
    let depends = printed
        .lines()
        .find_map(|line| line.strip_prefix("shlibs:Depends="))
        .map(str::trim)
        .filter(|depends| !depends.is_empty());
    match depends {
        Some(depends) => Ok(depends.to_string()),
        None => bail!("dpkg-shlibdeps found no library dependency: {printed:?}"),
    }
}

/// Installed-Size in KiB, counted as dpkg-gencontrol does: each file
/// rounded up to a KiB, one per directory.
fn installed_size_kib(stage: &Path) -> Result<u64> {
    fn walk(stage: &Path, dir: &Path, total: &mut u64) -> Result<()> {
        for entry in read_dir(dir)? {
            if entry == stage.join("DEBIAN") {
                continue;
            }
            let meta = fs::symlink_metadata(&entry)
                .with_context(|| format!("reading {}", entry.display()))?;
            if meta.is_dir() {
                *total += 1;
                walk(stage, &entry, total)?;
            } else {
                *total += meta.len().div_ceil(1024).max(1);
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(stage, stage, &mut total)?;
    Ok(total)
}

/// DEBIAN/md5sums: what `dpkg --verify` checks; conffiles are tracked by
/// dpkg separately and left out, as dh_md5sums does.
fn md5sums(stage: &Path) -> Result<String> {
    let mut files = Vec::new();
    staged_files(stage, stage, &mut files)?;
    files.retain(|file| file != Path::new(CONFFILE));
    let sums = output(
        Command::new("md5sum").current_dir(stage).args(&files),
        "computing md5sums",
    )?;
    Ok(sums)
}

/// Each generated page, compressed as Debian ships them (gzip -9n: no name
/// or time stamp, so the same page gives the same file), into the
/// `man<section>` directory its extension names.
fn install_man_pages(generated: &Path, man_dir: &Path) -> Result<()> {
    let pages = read_dir(generated)?;
    ensure!(
        !pages.is_empty(),
        "no man page generated in {}",
        generated.display()
    );
    for page in pages {
        let name = page
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("unexpected page {}", page.display()))?;
        let section = name
            .rsplit_once('.')
            .map(|(_, section)| section)
            .filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))
            .with_context(|| format!("{name}: no man section in its name"))?;
        let dir = man_dir.join(format!("man{section}"));
        create_dir(&dir)?;
        let compressed = dir.join(format!("{name}.gz"));
        let file = fs::File::create(&compressed)
            .with_context(|| format!("creating {}", compressed.display()))?;
        exec(
            Command::new("gzip")
                .args(["-9n", "-c"])
                .arg(&page)
                .stdout(file),
            "compressing a man page",
        )?;
        set_mode(&compressed, 0o644)?;
    }
    Ok(())
}
