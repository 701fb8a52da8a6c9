//! The control socket under misuse: it is its owner's only (mode 0600), a
//! request without end is cut at its bound and costs no memory, idle clients
//! beyond the connection bound neither stall the election nor keep `status`
//! away for longer than their timeout, and a `--control-socket` that names a
//! file which is not a socket is refused and left as it was.

use std::{
    io::{Read, Write},
    os::unix::{fs::FileTypeExt, fs::PermissionsExt, net::UnixStream},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{wait_for_state, AgentProcess, AgentSpec},
    wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);

/// Idle connections opened at once: more than the agent serves (32), fewer
/// than the listen backlog holds, so every connect returns.
const IDLE_CLIENTS: usize = 100;

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 61\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        10.6.0.100/24\n    }}\n}}\n"
    )
}

fn rss_kib(agent: &AgentProcess) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid()))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

fn counter(agent: &AgentProcess, key: &str) -> Option<u64> {
    agent.counter("VI_1", key).ok()
}

#[test]
fn the_control_socket_is_bounded_in_access_size_connections_and_time() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.6.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.6.0.2/24"])?;
    let conf_a = lab.work_dir().join("a.conf");
    let conf_b = lab.work_dir().join("b.conf");
    std::fs::write(&conf_a, config(200))?;
    std::fs::write(&conf_b, config(100))?;
    let master = lab.start_agent(&AgentSpec::with_config(a, "a", &conf_a))?;
    let backup = lab.start_agent(&AgentSpec::with_config(b, "b", &conf_b))?;
    wait_for_state(&master, "VI_1", "MASTER", BOUND)?;
    wait_for_state(&backup, "VI_1", "BACKUP", BOUND)?;

    // Access: the owner's only.
    let meta = std::fs::metadata(&master.control_socket)?;
    ensure!(meta.file_type().is_socket());
    ensure!(
        meta.permissions().mode() & 0o777 == 0o600,
        "mode {:o}",
        meta.permissions().mode() & 0o777
    );

    // Size: 8 MiB without a newline is cut at the bound and answered with an error.
    let rss_before = rss_kib(&master)?;
    let mut stream = UnixStream::connect(&master.control_socket)?;
    stream.set_read_timeout(Some(BOUND))?;
    stream.set_write_timeout(Some(BOUND))?;
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..128 {
        // The agent stops reading at its bound and closes: the rest fails.
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    ensure!(
        answer.contains("request longer than 65536 bytes"),
        "answer to an endless request: {answer:?}"
    );
    let rss_after = rss_kib(&master)?;
    ensure!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );

    // Connections: idle clients beyond the bound wait in the backlog; the
    // election goes on (the Backup hears the Master all along and never
    // takes over), and each idle client is dropped after its timeout.
    // (Counted from here: at start the Backup may have been Master for a
    // moment, when its agent came up first and its timer ran out before
    // the Master's first advert.)
    let took_over = counter(&backup, "became_master").context("became_master")?;
    let idle: Vec<UnixStream> = (0..IDLE_CLIENTS)
        .map(|_| UnixStream::connect(&master.control_socket))
        .collect::<std::io::Result<_>>()?;
    let heard = counter(&backup, "adverts_received").context("adverts_received")?;
    wait_for(
        "the Backup to hear six more adverts while the clients are idle",
        BOUND,
        || (counter(&backup, "adverts_received")? >= heard + 6).then_some(()),
    )?;
    ensure!(counter(&backup, "became_master") == Some(took_over));
    ensure!(master.state("VI_1").as_deref() == Some("MASTER"));
    let mut first = idle.into_iter().next().context("no idle client")?;
    first.set_read_timeout(Some(BOUND))?;
    let mut rest = Vec::new();
    ensure!(
        first.read_to_end(&mut rest)? == 0,
        "an idle client got an answer"
    );
    // Once the idle ones are gone, status answers again.
    wait_for("status to answer after the idle clients", BOUND, || {
        master.state("VI_1").filter(|s| s == "MASTER")
    })?;
    ensure!(counter(&master, "became_master") == Some(1));
    lab.passed();
    Ok(())
}

#[test]
fn a_control_socket_path_that_is_a_regular_file_is_refused_and_kept() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.6.0.1/24"])?;
    let conf = lab.work_dir().join("a.conf");
    std::fs::write(&conf, config(200))?;
    let file = lab.work_dir().join("not-a-socket");
    std::fs::write(&file, "an operator's file\n")?;
    let out = lab
        .node(a)
        .ns
        .command(tests::agent_bin())
        .args(["run", "--config"])
        .arg(&conf)
        .arg("--control-socket")
        .arg(&file)
        .arg("--pid-file")
        .arg(lab.work_dir().join("a.pid"))
        .arg("--bpffs-dir")
        .arg(lab.bpffs_dir("a"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "started: {stderr}");
    ensure!(
        stderr.contains("exists and is not a socket"),
        "stderr: {stderr}"
    );
    ensure!(std::fs::read_to_string(&file)? == "an operator's file\n");
    lab.passed();
    Ok(())
}
