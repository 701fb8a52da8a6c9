//! The container files of `vip-agent/dist/container` run for real with
//! podman: a Debian base image made here with debootstrap (no image registry
//! is reachable), the Dockerfile's runtime stage built on it with a Debian
//! package of the agent, and containers started with the settings of a
//! `compose.yaml` service, each joined to a lab namespace instead of the
//! host's network.
//!
//! Everything created is named `<lab id>-...` (`vipa-<pid>-<n>-...`) and
//! removed on drop; [`remove_leftovers`] removes what a dead run left.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use yaml_rust2::{Yaml, YamlLoader};

use crate::{agent_bin, run, Lab, PREFIX};

/// The directory of the Dockerfile, compose.yaml and seccomp.json.
pub fn container_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vip-agent/dist/container")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// `podman --runtime runc`: Debian 12's crun (1.8) refuses a host whose
/// cgroup v2 hierarchy has controllers while v1 hierarchies are mounted
/// ("cgroups in hybrid mode not supported"), as on the machines this runs
/// on; runc runs there and everywhere else.
pub fn podman() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc"]);
    cmd
}

/// `podman ARGS`, failing on a non-zero exit with podman's output.
pub fn podman_run(args: &[&str]) -> Result<Output> {
    Ok(run(podman().args(args))?)
}

/// `--ulimit` flags within this process's hard limits. Podman's defaults
/// for root (1048576 open files and processes) are above them where this
/// process lacks CAP_SYS_RESOURCE, and podman 4.3 lowers its own
/// RLIMIT_NPROC to 32768 when it starts.
pub fn ulimit_args() -> Result<Vec<String>> {
    use nix::sys::resource::{getrlimit, Resource};
    let (_, files) = getrlimit(Resource::RLIMIT_NOFILE).context("RLIMIT_NOFILE")?;
    let (_, procs) = getrlimit(Resource::RLIMIT_NPROC).context("RLIMIT_NPROC")?;
    let procs = procs.min(32_768);
    Ok(vec![
        "--ulimit".into(),
        format!("nofile={files}:{files}"),
        "--ulimit".into(),
        format!("nproc={procs}:{procs}"),
    ])
}

/// Fails (not skips) when podman is missing: `cargo xtask setup` installs it.
pub fn require_podman() -> Result<()> {
    podman_run(&["version", "--format", "{{.Client.Version}}"])
        .context("podman is needed for the container tests: run `cargo xtask setup`")?;
    Ok(())
}

/// Removes containers and images named `<PREFIX><pid>-...` whose run is gone.
pub fn remove_leftovers() {
    let dead = |name: &str| {
        let name = name.trim_start_matches("localhost/");
        vip_netns::owner_pid(PREFIX, name)
            .is_some_and(|pid| pid != std::process::id() as i32 && !vip_netns::pid_alive(pid))
    };
    if let Ok(out) = podman_run(&["ps", "-a", "--format", "{{.Names}}"]) {
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            if dead(name) {
                let _ = podman_run(&["rm", "-f", "-t", "0", name]);
                eprintln!("harness: removed leftover container {name}");
            }
        }
    }
    if let Ok(out) = podman_run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            if dead(name) {
                let _ = podman_run(&["rmi", "-f", name]);
                eprintln!("harness: removed leftover image {name}");
            }
        }
    }
}

/// An image this run made; removed on drop with the intermediate images its
/// build left (the build stages it copied from).
pub struct Image {
    pub name: String,
    intermediates: Vec<String>,
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = podman_run(&["rmi", "-f", &self.name]);
        for id in &self.intermediates {
            let _ = podman_run(&["rmi", "-f", id]);
        }
    }
}

fn image_ids() -> Result<BTreeSet<String>> {
    let out = podman_run(&["images", "-a", "-q", "--no-trunc"])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The Debian mirror debootstrap uses: `VIP_AGENT_DEBIAN_MIRROR`, else the
/// one the machine's apt sources name.
fn debian_mirror() -> String {
    std::env::var("VIP_AGENT_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".to_string())
}

/// What the official `debian:bookworm` image has in its apt sources, so the
/// base made here stands for it.
const DEBIAN_SOURCES: &str = "\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

/// A Debian 12 minbase root filesystem as a tar file, made once with
/// debootstrap from the Debian mirror and kept under `target/container/`
/// (delete it to make a fresh one).
pub fn debian_rootfs_tar() -> Result<PathBuf> {
    let dir = target_dir().join("container");
    let tar = dir.join("debian-bookworm-minbase.tar");
    if tar.is_file() {
        return Ok(tar);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rootfs = TempDir(dir.join(format!("rootfs-{}", std::process::id())));
    let _ = fs::remove_dir_all(&rootfs.0);
    let started = Instant::now();
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs.0)
        .arg(debian_mirror()))
    .context("debootstrap of the base image (`cargo xtask setup` installs debootstrap)")?;
    let root = &rootfs.0;
    let _ = fs::remove_file(root.join("etc/apt/sources.list"));
    fs::write(
        root.join("etc/apt/sources.list.d/debian.sources"),
        DEBIAN_SOURCES,
    )?;
    // Like the official image: no package lists, no downloaded packages.
    for emptied in ["var/lib/apt/lists", "var/cache/apt/archives"] {
        for entry in fs::read_dir(root.join(emptied))?.flatten() {
            if entry.path().is_file() {
                fs::remove_file(entry.path())?;
            }
        }
    }
    let partial = dir.join(format!(
        "debian-bookworm-minbase.tar.{}",
        std::process::id()
    ));
    run(Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&partial)
        .arg("."))?;
    fs::rename(&partial, &tar)?;
    println!(
        "container: made the Debian base with debootstrap in {} s ({})",
        started.elapsed().as_secs(),
        tar.display()
    );
    Ok(tar)
}

/// [`debian_rootfs_tar`] imported as `localhost/<id>-debian:bookworm`.
pub fn debian_base_image(id: &str) -> Result<Image> {
    let tar = debian_rootfs_tar()?;
    let name = format!("localhost/{id}-debian:bookworm");
    run(podman().arg("import").arg(&tar).arg(&name))?;
    Ok(Image {
        name,
        intermediates: Vec::new(),
    })
}

/// The Debian package installed in the image: `VIP_AGENT_DEB` (what `cargo
/// xtask dist` makes), else the binary under test packed here with the same
/// layout (`/usr/sbin/vip-agent`) under `work`.
pub fn agent_package(work: &Path) -> Result<PathBuf> {
    if let Some(deb) = std::env::var_os("VIP_AGENT_DEB") {
        let deb = PathBuf::from(deb);
        ensure!(
            deb.is_file(),
            "VIP_AGENT_DEB {} is not a file",
            deb.display()
        );
        return Ok(deb);
    }
    let version = env!("CARGO_PKG_VERSION");
    let root = work.join("package");
    fs::create_dir_all(root.join("DEBIAN"))?;
    fs::create_dir_all(root.join("usr/sbin"))?;
    fs::copy(agent_bin(), root.join("usr/sbin/vip-agent"))?;
    fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: vip-agent\nVersion: {version}\nArchitecture: amd64\n\
             Maintainer: vip-agent tests <root@localhost>\nDepends: libc6, libgcc-s1\n\
             Description: VRRP virtual-IP agent (the binary under test)\n"
        ),
    )?;
    let deb = work.join(format!("vip-agent_{version}_amd64.deb"));
    // gzip -1: xz, dpkg-deb's default, takes a minute on a debug binary.
    run(Command::new("dpkg-deb")
        .args(["-Zgzip", "-z1", "--root-owner-group", "--build"])
        .arg(&root)
        .arg(&deb))?;
    Ok(deb)
}

/// The Dockerfile's `runtime` stage on `base` with `deb` taken from the
/// build context (`DEB_SOURCE=context`), as `localhost/<id>-vip-agent:test`.
/// The build runs without a network: the runtime stage must not need one.
pub fn build_runtime_image(id: &str, base: &Image, deb: &Path, work: &Path) -> Result<Image> {
    // A context of its own holding only target/dist/<package>: the
    // workspace's target/dist may hold `cargo xtask dist`'s package.
    let context = work.join("context");
    let dist = context.join("target/dist");
    fs::create_dir_all(&dist)?;
    let file_name = deb.file_name().context("package file name")?;
    fs::copy(deb, dist.join(file_name))?;
    let name = format!("localhost/{id}-vip-agent:test");
    let before = image_ids()?;
    let built = run(podman()
        .args([
            "build",
            "--pull=never",
            "--network=none",
            "--target",
            "runtime",
        ])
        .args(ulimit_args()?)
        .arg("--build-arg")
        .arg(format!("DEBIAN_IMAGE={}", base.name))
        .args(["--build-arg", "DEB_SOURCE=context", "-t", &name, "-f"])
        .arg(container_dir().join("Dockerfile"))
        .arg(&context));
    let intermediates = image_ids()?.difference(&before).cloned().collect();
    let image = Image {
        name,
        intermediates,
    };
    built.context("building the runtime stage of vip-agent/dist/container/Dockerfile")?;
    Ok(image)
}

/// One volume of a compose service: `SOURCE:TARGET[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub source: String,
    pub target: String,
    pub options: Option<String>,
}

/// What the tests use of one service of `compose.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub network_mode: String,
    pub restart: String,
    pub stop_grace_period: Duration,
    pub cap_drop: Vec<String>,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub volumes: Vec<Volume>,
}

fn strings(service: &Yaml, key: &str) -> Result<Vec<String>> {
    match &service[key] {
        Yaml::BadValue => Ok(Vec::new()),
        Yaml::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .with_context(|| format!("{key}: {item:?} is not a string"))
            })
            .collect(),
        other => bail!("{key}: a list expected, found {other:?}"),
    }
}

fn string(service: &Yaml, key: &str) -> Result<String> {
    service[key]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{key}: a string expected, found {:?}", service[key]))
}

/// A compose duration as this file writes it: `30s`, `2m`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits
            .parse()
            .with_context(|| format!("duration {text:?}: a number before {c:?}"))?;
        total += match c {
            's' => Duration::from_secs(n),
            'm' => Duration::from_secs(n * 60),
            'h' => Duration::from_secs(n * 3600),
            _ => bail!("duration {text:?}: unit {c:?} (s, m or h)"),
        };
        digits.clear();
    }
    ensure!(
        digits.is_empty() && !text.is_empty(),
        "duration {text:?}: a unit (s, m or h) after each number"
    );
    Ok(total)
}

fn parse_volume(text: &str) -> Result<Volume> {
    let mut parts = text.splitn(3, ':');
    let source = parts.next().unwrap_or_default().to_string();
    let target = parts
        .next()
        .with_context(|| format!("volume {text:?}: SOURCE:TARGET expected"))?
        .to_string();
    Ok(Volume {
        source,
        target,
        options: parts.next().map(str::to_string),
    })
}

/// The services of a compose file by name.
pub fn compose_services(text: &str) -> Result<BTreeMap<String, Service>> {
    let docs = YamlLoader::load_from_str(text).context("compose.yaml is not valid YAML")?;
    let doc = docs.first().context("compose.yaml is empty")?;
    let services = doc["services"]
        .as_hash()
        .context("compose.yaml has no `services` map")?;
    let mut out = BTreeMap::new();
    for (name, service) in services {
        let name = name.as_str().context("a service name")?.to_string();
        let parsed = (|| -> Result<Service> {
            Ok(Service {
                network_mode: string(service, "network_mode")?,
                restart: string(service, "restart")?,
                stop_grace_period: parse_duration(&string(service, "stop_grace_period")?)?,
                cap_drop: strings(service, "cap_drop")?,
                cap_add: strings(service, "cap_add")?,
                security_opt: strings(service, "security_opt")?,
                volumes: strings(service, "volumes")?
                    .iter()
                    .map(|v| parse_volume(v))
                    .collect::<Result<_>>()?,
            })
        })()
        .with_context(|| format!("service {name}"))?;
        out.insert(name, parsed);
    }
    Ok(out)
}

/// `compose.yaml` of [`container_dir`].
pub fn compose_file() -> Result<BTreeMap<String, Service>> {
    let path = container_dir().join("compose.yaml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    compose_services(&text).with_context(|| path.display().to_string())
}

/// Where bpffs is in the container; the tests bind a lab bpffs directory
/// there instead of the host's.
pub const BPFFS: &str = "/sys/fs/bpf";

/// A container this run started; removed (killed first) on drop.
pub struct Container {
    pub name: String,
    pub log: PathBuf,
}

impl Container {
    /// Starts `image` as `service` says, in lab node `node`'s namespace:
    /// `network_mode: host` becomes that namespace, the bpffs volume a lab
    /// bpffs directory, relative paths are the compose file's directory's
    /// (as compose reads them).
    pub fn start(
        lab: &mut Lab,
        node: usize,
        role: &str,
        service: &Service,
        image: &Image,
    ) -> Result<Container> {
        ensure!(
            service.network_mode == "host",
            "the compose service of {role} must use host networking, has {:?}",
            service.network_mode
        );
        let compose_dir = container_dir();
        let name = format!("{}-{role}", lab.id());
        let log = lab.work_dir().join(format!("{role}.log"));
        let mut cmd = podman();
        cmd.args(["run", "-d", "--name", &name])
            .arg(format!(
                "--network=ns:{}",
                lab.node(node).ns.path().display()
            ))
            .arg(format!("--log-opt=path={}", log.display()))
            .args(["--restart", &service.restart])
            .args(ulimit_args()?);
        for cap in &service.cap_drop {
            cmd.args(["--cap-drop", cap]);
        }
        for cap in &service.cap_add {
            cmd.args(["--cap-add", cap]);
        }
        for opt in &service.security_opt {
            let opt = match opt.strip_prefix("seccomp=") {
                Some(profile) if profile != "unconfined" => {
                    format!("seccomp={}", compose_dir.join(profile).display())
                }
                _ => opt.clone(),
            };
            cmd.args(["--security-opt", &opt]);
        }
        for volume in &service.volumes {
            let source = if volume.target == BPFFS {
                let dir = lab.bpffs_dir(role);
                fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                dir
            } else {
                compose_dir.join(&volume.source)
            };
            let mut spec = format!("{}:{}", source.display(), volume.target);
            if let Some(options) = &volume.options {
                spec = format!("{spec}:{options}");
            }
            cmd.arg("-v").arg(spec);
        }
        cmd.arg(&image.name);
        lab.register_log(role, &log);
        // Guarded before it exists: a failed `run` may leave it created.
        let container = Container { name, log };
        run(&mut cmd).with_context(|| format!("starting the container of {role}"))?;
        Ok(container)
    }

    /// `podman exec NAME ARGS`.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["exec", &self.name];
        all.extend_from_slice(args);
        podman_run(&all)
    }

    /// `vip-agent status --json` run inside the container.
    pub fn status(&self) -> Result<serde_json::Value> {
        let out = self.exec(&["vip-agent", "status", "--json"])?;
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// State of the first instance, as the agent in the container says.
    pub fn state(&self) -> Option<String> {
        let status = self.status().ok()?;
        status["instances"][0]["state"].as_str().map(str::to_string)
    }

    /// `podman inspect --format FORMAT NAME`, trimmed.
    pub fn inspect(&self, format: &str) -> Result<String> {
        let out = podman_run(&["inspect", "--format", format, &self.name])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// What the container's processes wrote.
    pub fn logs(&self) -> String {
        podman_run(&["logs", &self.name])
            .map(|out| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .unwrap_or_default()
    }

    /// `podman stop -t SECONDS`: SIGTERM, SIGKILL after the grace period.
    pub fn stop(&self, grace: Duration) -> Result<()> {
        podman_run(&["stop", "-t", &grace.as_secs().to_string(), &self.name])?;
        Ok(())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman_run(&["rm", "-f", "-t", "0", &self.name]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_compose_writes_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn a_service_is_read_with_its_capabilities_and_volumes() {
        let services = compose_services(
            "services:\n  a:\n    network_mode: host\n    restart: always\n    \
             stop_grace_period: 30s\n    cap_drop: [ALL]\n    cap_add: [NET_ADMIN]\n    \
             volumes:\n      - ./x.conf:/etc/x.conf:ro\n      - /sys/fs/bpf:/sys/fs/bpf\n",
        )
        .unwrap();
        let a = &services["a"];
        assert_eq!(a.cap_add, ["NET_ADMIN"]);
        assert_eq!(a.cap_drop, ["ALL"]);
        assert!(a.security_opt.is_empty());
        assert_eq!(
            a.volumes[0],
            Volume {
                source: "./x.conf".into(),
                target: "/etc/x.conf".into(),
                options: Some("ro".into())
            }
        );
        assert_eq!(a.volumes[1].options, None);
    }

    #[test]
    fn a_service_without_network_mode_is_an_error() {
        let error = compose_services("services:\n  a:\n    restart: always\n").unwrap_err();
        assert!(format!("{error:#}").contains("network_mode"), "{error:#}");
    }
}
