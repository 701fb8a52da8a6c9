//! How `vip-agent run` starts where the environment is not a root shell on
//! a host with /sys/fs/bpf: under `ip netns exec` (a private /sys without a
//! bpf filesystem) it mounts its own and runs the fast path; without the
//! capabilities it needs it says which in one line and creates nothing.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tests::{
    agent::{arping, parse_mac},
    agent_bin, run, wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);

/// `vip-agent status --json` through `socket`, once it answers.
fn status(socket: &Path) -> Result<Value> {
    let out = run(Command::new(agent_bin())
        .args(["status", "--json", "--control-socket"])
        .arg(socket))?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn instance_field(status: &Value, field: &str) -> Value {
    status["instances"][0][field].clone()
}

fn interface_mac(lab: &Lab, node: usize, interface: &str) -> Result<[u8; 6]> {
    let out = lab.node(node).ns.ip(&["-j", "link", "show", interface])?;
    let json: Value = serde_json::from_slice(&out.stdout)?;
    parse_mac(json[0]["address"].as_str().context("no address")?)
}

#[test]
fn under_ip_netns_exec_the_agent_mounts_its_own_bpffs_and_answers_arp_in_xdp() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let client = lab.add_node("client", "eth0", &["10.0.0.9/24"])?;
    let dir = lab.work_dir().to_path_buf();
    let socket = dir.join("a.sock");
    let log = dir.join("a.log");
    // The default --bpffs-dir, under /sys/fs/bpf: inside `ip netns exec`
    // that is the namespace's own sysfs, where no bpf filesystem is mounted.
    let pin_dir = lab.bpffs_dir("a");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.node(a).ns.name])
        .arg(agent_bin())
        .args(["run", "--interface", "eth0", "--vrid", "77"])
        .args(["--vip", "10.0.0.100/24", "--priority", "200"])
        .arg("--control-socket")
        .arg(&socket)
        .arg("--pid-file")
        .arg(dir.join("a.pid"))
        .arg("--bpffs-dir")
        .arg(&pin_dir)
        .env("VIP_AGENT_LOG", "info");
    let agent = lab.spawn_logged(&mut cmd, &log)?;
    lab.register_log("a", &log);

    wait_for("the agent under ip netns exec to be MASTER", BOUND, || {
        let status = status(&socket).ok()?;
        (instance_field(&status, "state") == "MASTER").then_some(())
    })?;
    let text = std::fs::read_to_string(&log)?;
    ensure!(
        text.contains("mounted one in this process's own mount namespace"),
        "no warning about the private bpf filesystem in:\n{text}"
    );
    // The pins are in the agent's mount namespace, not in the test's.
    ensure!(
        !pin_dir.exists(),
        "{} is visible outside the agent's mount namespace",
        pin_dir.display()
    );

    // The client's ARP request is answered by XDP with a's MAC.
    let mac = arping(&lab, client, "eth0", "10.0.0.100".parse()?)?;
    ensure!(
        mac == interface_mac(&lab, a, "eth0")?,
        "reply from {mac:02x?}"
    );
    wait_for("XDP to count the ARP reply it sent", BOUND, || {
        let status = status(&socket).ok()?;
        let sent = instance_field(&status, "xdp")["interface"]["arp_replies_sent"].as_u64()?;
        (sent > 0).then_some(())
    })?;

    // A clean stop still detaches and ends cleanly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(lab.process(agent).id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    let child = lab.process(agent);
    let exit = wait_for("the agent to exit", BOUND, || {
        child.try_wait().ok().flatten()
    })?;
    ensure!(exit.success(), "exit {exit}");
    let links = lab.node(a).ns.ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        !String::from_utf8_lossy(&links.stdout).contains("prog/xdp"),
        "XDP still attached after the stop"
    );
    lab.passed();
    Ok(())
}

/// A directory any user may write to, and a copy of the binary any user may
/// run (the checkout may be where only root can), so that only capabilities
/// stand between an unprivileged run and its files.
fn open_dir(lab: &Lab, name: &str) -> Result<(PathBuf, PathBuf)> {
    let work = lab.work_dir();
    let mode = std::fs::metadata(work)?.permissions().mode();
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(mode | 0o711))?;
    let dir = work.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))?;
    let bin = work.join("vip-agent");
    std::fs::copy(agent_bin(), &bin)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    Ok((dir, bin))
}

/// `vip-agent run` in node `a`'s namespace under `setpriv ARGS`, with every
/// path under `dir`; what it printed and how it exited.
fn run_restricted(
    lab: &mut Lab,
    a: usize,
    (dir, bin): &(PathBuf, PathBuf),
    setpriv: &[&str],
) -> Result<Output> {
    let pin_dir = lab.bpffs_dir("restricted");
    let out = lab
        .node(a)
        .ns
        .command("setpriv")
        .args(setpriv)
        .arg("--")
        .arg(bin)
        .args(["run", "--interface", "eth0", "--vrid", "78"])
        .args(["--vip", "10.0.0.100/24"])
        .arg("--control-socket")
        .arg(dir.join("run/control.sock"))
        .arg("--pid-file")
        .arg(dir.join("run/vip-agent.pid"))
        .arg("--bpffs-dir")
        .arg(&pin_dir)
        .env("VIP_AGENT_LOG", "info")
        .output()
        .context("running setpriv")?;
    ensure!(
        !pin_dir.exists(),
        "a refused start left {}",
        pin_dir.display()
    );
    Ok(out)
}

fn only_line(out: &Output) -> Result<String> {
    ensure!(!out.status.success(), "the run did not fail: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    ensure!(lines.len() == 1, "expected one line, got:\n{stderr}");
    Ok(lines[0].to_string())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?)
}

#[test]
fn without_capabilities_the_run_names_what_is_missing_and_leaves_nothing() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let open = open_dir(&lab, "unprivileged")?;
    let dir = open.0.clone();

    // An ordinary user: every capability the agent uses is missing.
    let nobody = [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ];
    let out = run_restricted(&mut lab, a, &open, &nobody)?;
    let line = only_line(&out)?;
    for cap in ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF", "CAP_PERFMON"] {
        ensure!(line.contains(cap), "{cap} not named in: {line}");
    }
    ensure!(entries(&dir)?.is_empty(), "left {:?}", entries(&dir)?);

    // Root without CAP_NET_RAW: that one is named, and only that one.
    let no_raw = ["--bounding-set=-net_raw", "--inh-caps=-net_raw"];
    let line = only_line(&run_restricted(&mut lab, a, &open, &no_raw)?)?;
    ensure!(line.contains("CAP_NET_RAW"), "{line}");
    for cap in ["CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON"] {
        ensure!(!line.contains(cap), "{cap} named in: {line}");
    }
    ensure!(entries(&dir)?.is_empty(), "left {:?}", entries(&dir)?);

    // Root without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (which would stand
    // in for both): the XDP program's capabilities are named, no others.
    let no_bpf = [
        "--bounding-set=-bpf,-sys_admin,-perfmon",
        "--inh-caps=-bpf,-sys_admin,-perfmon",
    ];
    let line = only_line(&run_restricted(&mut lab, a, &open, &no_bpf)?)?;
    ensure!(
        line.contains("CAP_BPF") && line.contains("CAP_PERFMON"),
        "{line}"
    );
    ensure!(!line.contains("CAP_NET_"), "{line}");
    ensure!(entries(&dir)?.is_empty(), "left {:?}", entries(&dir)?);
    lab.passed();
    Ok(())
}
