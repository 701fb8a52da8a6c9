//! The daemon beyond the three deployments: IPv6 (VRRPv3), several
//! instances on several interfaces in one process, link failure, an
//! interface that appears later, and reloads that keep what stays.

use std::{net::IpAddr, path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{
        addresses, holders, mac_text, neighbour_mac, wait_for_sole_holder, wait_for_state,
        AddressMonitor, AgentSpec,
    },
    agent_bin, run, wait_for, Lab,
};
use vip_agent::dataplane;

const BOUND: Duration = Duration::from_secs(30);

fn write_config(lab: &Lab, name: &str, text: &str) -> Result<PathBuf> {
    let path = lab.work_dir().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn instance(
    name: &str,
    interface: &str,
    vrid: u8,
    priority: u8,
    advert_int: &str,
    vips: &[&str],
) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface {interface}\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    advert_int {advert_int}\n    virtual_ipaddress {{\n{}    }}\n}}\n",
        vips.iter().map(|v| format!("        {v}\n")).collect::<String>()
    )
}

#[test]
fn ipv6_vip_fails_over_with_vrrp_v3_and_unsolicited_na() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["2001:db8:1::1/64"])?;
    let b = lab.add_node("b", "eth0", &["2001:db8:1::2/64"])?;
    let client = lab.add_node("client", "eth0", &["2001:db8:1::99/64"])?;
    let vip = "2001:db8:1::70";
    let conf_a = write_config(
        &lab,
        "a.conf",
        &instance("V6", "eth0", 60, 150, "0.5", &[&format!("{vip}/64")]),
    )?;
    let conf_b = write_config(
        &lab,
        "b.conf",
        &instance("V6", "eth0", 60, 100, "0.5", &[&format!("{vip}/64")]),
    )?;
    let mut agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
    let agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    let vip_addr: IpAddr = vip.parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip_addr, a, BOUND)?;
    wait_for_state(&agent_b, "V6", "BACKUP", BOUND)?;
    let status = agent_a.status()?;
    assert_eq!(status["instances"][0]["version"], 3, "IPv6 runs VRRPv3");
    run(lab
        .node(client)
        .ns
        .command("ping")
        .args(["-6", "-n", "-c", "2", "-W", "2", vip]))?;
    let mac_a = mac_text(lab.node(a).ns.mac("eth0")?);
    assert_eq!(
        neighbour_mac(&lab, client, vip).as_deref(),
        Some(mac_a.as_str())
    );

    agent_a.signal(Signal::SIGTERM)?;
    assert!(agent_a.wait_exit(BOUND)?.success());
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip_addr, b, BOUND)?;
    // The new Master's unsolicited NA moves the client's neighbour entry.
    let mac_b = mac_text(lab.node(b).ns.mac("eth0")?);
    wait_for(
        "the client's neighbour entry to follow the VIP",
        BOUND,
        || (neighbour_mac(&lab, client, vip).as_deref() == Some(mac_b.as_str())).then_some(()),
    )?;
    run(lab
        .node(client)
        .ns
        .command("ping")
        .args(["-6", "-n", "-c", "2", "-W", "2", vip]))?;
    lab.passed();
    Ok(())
}

#[test]
fn one_agent_runs_three_instances_on_two_interfaces() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.1.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.1.0.2/24"])?;
    lab.add_link(a, "br1", "eth1", &["10.2.0.1/24"])?;
    lab.add_link(b, "br1", "eth1", &["10.2.0.2/24"])?;
    // Same VRID 10 on both interfaces: the two must never mix.
    let config = |p_a: u8, p_b: u8, p_c: u8| {
        instance("VI_A", "eth0", 10, p_a, "1", &["10.1.0.100/24"])
            + &instance("VI_B", "eth0", 11, p_b, "1", &["10.1.0.101/24"])
            + &instance("VI_C", "eth1", 10, p_c, "1", &["10.2.0.100/24"])
    };
    let conf_a = write_config(&lab, "a.conf", &config(200, 100, 200))?;
    let conf_b = write_config(&lab, "b.conf", &config(100, 200, 100))?;
    let agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
    let agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    wait_for_sole_holder(&lab, &[a, b], "eth0", ip("10.1.0.100"), a, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", ip("10.1.0.101"), b, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", ip("10.2.0.100"), a, BOUND)?;
    let states = |agent: &tests::agent::AgentProcess| -> Result<Vec<String>> {
        let status = agent.status()?;
        Ok(status["instances"]
            .as_array()
            .context("instances")?
            .iter()
            .map(|i| {
                format!(
                    "{}={}",
                    i["name"].as_str().unwrap_or("?"),
                    i["state"].as_str().unwrap_or("?")
                )
            })
            .collect())
    };
    wait_for("both agents to settle", BOUND, || {
        let sa = states(&agent_a).ok()?;
        let sb = states(&agent_b).ok()?;
        (sa == ["VI_A=MASTER", "VI_B=BACKUP", "VI_C=MASTER"]
            && sb == ["VI_A=BACKUP", "VI_B=MASTER", "VI_C=BACKUP"])
        .then_some(())
    })?;
    // A's node dies: B holds all three, each on its own interface.
    agent_a.signal(Signal::SIGKILL)?;
    lab.node(a).ns.ip(&["link", "set", "eth0", "down"])?;
    lab.node(a).ns.ip(&["link", "set", "eth1", "down"])?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", ip("10.1.0.100"), b, BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth1", ip("10.2.0.100"), b, BOUND)?;
    assert!(addresses(&lab, b, "eth0").contains(&ip("10.1.0.101")));
    assert!(
        !addresses(&lab, b, "eth1").contains(&ip("10.1.0.100")),
        "VIPs stay on their own interface"
    );
    lab.passed();
    Ok(())
}

#[test]
fn master_link_down_faults_and_link_up_takes_back() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.4.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.4.0.2/24"])?;
    let conf_a = write_config(
        &lab,
        "a.conf",
        &instance("VI_1", "eth0", 40, 150, "1", &["10.4.0.100/24"]),
    )?;
    let conf_b = write_config(
        &lab,
        "b.conf",
        &instance("VI_1", "eth0", 40, 100, "1", &["10.4.0.100/24"]),
    )?;
    let agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
    let _agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    let vip: IpAddr = "10.4.0.100".parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;

    lab.node(a).ns.ip(&["link", "set", "eth0", "down"])?;
    wait_for_state(&agent_a, "VI_1", "FAULT", BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, b, BOUND)?;

    lab.node(a).ns.ip(&["link", "set", "eth0", "up"])?;
    // Back from Fault as Backup, then it preempts the lower priority.
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;
    wait_for_state(&agent_a, "VI_1", "MASTER", BOUND)?;
    assert!(
        agent_a.log_text().contains("to=\"FAULT\""),
        "the fault is logged"
    );
    lab.passed();
    Ok(())
}

#[test]
fn an_interface_that_appears_later_is_picked_up() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.5.0.1/24"])?;
    let conf = write_config(
        &lab,
        "a.conf",
        &instance("LATE", "eth7", 70, 100, "1", &["10.6.0.100/24"]),
    )?;
    let agent = lab.start_agent(&AgentSpec::with_config(a, "a", conf))?;
    wait_for("the agent to report the missing interface", BOUND, || {
        let status = agent.status().ok()?;
        let note = status["instances"][0]["note"].as_str()?.to_string();
        (status["instances"][0]["state"] == "INIT" && note.contains("eth7")).then_some(())
    })?;
    lab.add_link(a, "br1", "eth7", &["10.6.0.1/24"])?;
    // Alone on its segment: Master after Master_Down_Interval.
    wait_for_state(&agent, "LATE", "MASTER", BOUND)?;
    wait_for("the VIP on the new interface", BOUND, || {
        addresses(&lab, a, "eth7")
            .contains(&"10.6.0.100".parse().unwrap())
            .then_some(())
    })?;
    lab.passed();
    Ok(())
}

#[test]
fn reload_keeps_vips_that_stay_and_rejects_a_broken_file() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.7.0.1/24"])?;
    let first = instance("KEEP", "eth0", 71, 100, "1", &["10.7.0.100/24"]);
    let conf = write_config(&lab, "a.conf", &first)?;
    let agent = lab.start_agent(&AgentSpec::with_config(a, "a", conf.clone()))?;
    wait_for_state(&agent, "KEEP", "MASTER", BOUND)?;

    // Every address change on the node from now on.
    let monitor = AddressMonitor::start(&lab, a)?;

    // Add an instance: the kept one must not blink.
    let second = first.clone() + &instance("ADDED", "eth0", 72, 100, "1", &["10.7.0.101/24"]);
    std::fs::write(&conf, &second)?;
    run(Command::new(agent_bin())
        .args(["reload", "--control-socket"])
        .arg(&agent.control_socket))?;
    wait_for_state(&agent, "ADDED", "MASTER", BOUND)?;
    // SIGHUP does the same as `vip-agent reload`.
    agent.signal(Signal::SIGHUP)?;
    wait_for("the added VIP", BOUND, || {
        addresses(&lab, a, "eth0")
            .contains(&"10.7.0.101".parse().unwrap())
            .then_some(())
    })?;

    // Change the running Master's priority and interval: it stays Master
    // and its VIP stays where it is.
    let changed = instance("KEEP", "eth0", 71, 120, "2", &["10.7.0.100/24"])
        + &instance("ADDED", "eth0", 72, 100, "1", &["10.7.0.101/24"]);
    std::fs::write(&conf, &changed)?;
    run(Command::new(agent_bin())
        .args(["reload", "--control-socket"])
        .arg(&agent.control_socket))?;
    wait_for("the new priority in force", BOUND, || {
        let status = agent.status().ok()?;
        let keep = status["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == "KEEP")?
            .clone();
        (keep["priority"] == 120 && keep["state"] == "MASTER").then_some(())
    })?;
    assert!(
        agent.log_text().contains("stays Master"),
        "the changed Master continued"
    );
    let second = changed;

    // A broken file: reload fails with file:line:col, nothing changes.
    std::fs::write(&conf, second.replace("priority 120", "priority 300"))?;
    let out = Command::new(agent_bin())
        .args(["reload", "--control-socket"])
        .arg(&agent.control_socket)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "reload of a broken file fails");
    let located = format!("{}:5:", conf.display());
    assert!(
        stderr.contains(&located),
        "error names file:line:col: {stderr}"
    );
    assert_eq!(agent.state("KEEP").as_deref(), Some("MASTER"));
    assert_eq!(agent.state("ADDED").as_deref(), Some("MASTER"));

    let events = monitor.drain();
    assert!(
        !events
            .iter()
            .any(|l| l.starts_with("Deleted") && l.contains("10.7.0.100")),
        "the kept VIP was never removed: {events:?}"
    );
    let addrs = addresses(&lab, a, "eth0");
    assert!(addrs.contains(&"10.7.0.100".parse()?) && addrs.contains(&"10.7.0.101".parse()?));
    lab.passed();
    Ok(())
}

#[test]
fn track_script_weight_moves_the_vip_and_weight_zero_faults() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.8.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.8.0.2/24"])?;
    let flag = lab.work_dir().join("service-up");
    let fault_flag = lab.work_dir().join("link-ok");
    std::fs::write(&flag, "")?;
    std::fs::write(&fault_flag, "")?;
    // A: 150, minus 60 while its service check fails -> 90 < B's 100.
    let conf_a = format!(
        "vrrp_script chk_service {{\n    script \"test -f {}\"\n    interval 1\n    fall 6\n    rise 1\n    weight -60\n}}\n\
         vrrp_script chk_hard {{\n    script \"test -f {}\"\n    interval 1\n    fall 1\n    rise 1\n    weight 0\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 80\n    priority 150\n    advert_int 1\n    \
         virtual_ipaddress {{\n        10.8.0.100/24\n    }}\n    track_script {{\n        chk_service\n        chk_hard\n    }}\n}}\n",
        flag.display(),
        fault_flag.display()
    );
    let conf_a = write_config(&lab, "a.conf", &conf_a)?;
    let conf_b = write_config(
        &lab,
        "b.conf",
        &instance("VI_1", "eth0", 80, 100, "1", &["10.8.0.100/24"]),
    )?;
    let agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
    let _agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    let vip: IpAddr = "10.8.0.100".parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;

    // The service check fails: A advertises 90, B (100) preempts.
    std::fs::remove_file(&flag)?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, b, BOUND)?;
    let status = agent_a.status()?;
    assert_eq!(status["instances"][0]["effective_priority"], 90);
    assert_eq!(status["instances"][0]["state"], "BACKUP");

    // A reload keeps the failing verdict: A must not come back to 150 and
    // preempt for a moment (with `fall 6`, a check restarted as succeeding
    // would take 6 s to fail again, longer than Master_Down_Interval). More
    // adverts than Master_Down_Interval lasts.
    let received = |agent: &tests::agent::AgentProcess| -> Option<u64> {
        agent.status().ok()?["instances"][0]["adverts_received"].as_u64()
    };
    let before = received(&agent_a).context("adverts_received")?;
    agent_a.signal(Signal::SIGHUP)?;
    wait_for(
        "A to hear five more adverts after the reload",
        BOUND,
        || (received(&agent_a)? >= before + 5).then_some(()),
    )?;
    let status = agent_a.status()?;
    assert_eq!(
        status["instances"][0]["became_master"], 1,
        "no preemption across the reload"
    );
    assert_eq!(status["instances"][0]["effective_priority"], 90);
    assert_eq!(holders(&lab, &[a, b], "eth0", vip), vec![b]);

    // It recovers: 150 again, A preempts back.
    std::fs::write(&flag, "")?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;

    // A weight-0 check fails: FAULT.
    std::fs::remove_file(&fault_flag)?;
    wait_for_state(&agent_a, "VI_1", "FAULT", BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, b, BOUND)?;
    std::fs::write(&fault_flag, "")?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;
    lab.passed();
    Ok(())
}

#[test]
fn a_restarted_agent_removes_the_vip_its_crashed_run_left() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.10.0.1/24"])?;
    let conf = write_config(
        &lab,
        "a.conf",
        &instance("VI_1", "eth0", 100, 100, "1", &["10.10.0.100/24"]),
    )?;
    let spec = AgentSpec::with_config(a, "a", conf)
        .arg("--vip-lifetime")
        .arg("60");
    let first = lab.start_agent(&spec)?;
    wait_for_state(&first, "VI_1", "MASTER", BOUND)?;
    first.signal(Signal::SIGKILL)?;
    drop(first);
    let vip: IpAddr = "10.10.0.100".parse()?;
    assert!(
        addresses(&lab, a, "eth0").contains(&vip),
        "a crash leaves the VIP behind"
    );
    // A restart within Master_Down_Interval less one advert interval and a
    // start-up allowance of the crashed run's last heartbeat resumes as
    // Master instead. Restart once that heartbeat, pinned with the attachment
    // the crash left, is older than the whole Master_Down_Interval
    // (3 x 1 s + (256 - 100) / 256 s at priority 100, advert_int 1).
    let pins = lab.bpffs_dir("a");
    let master_down = Duration::from_secs(3) + Duration::from_secs(156) / 256;
    wait_for(
        "the crashed run's heartbeat to be older than Master_Down_Interval",
        BOUND,
        || {
            let heartbeat = dataplane::inherit(&pins).ok()??.heartbeat_ns;
            let age = Duration::from_nanos(dataplane::monotonic_ns().saturating_sub(heartbeat));
            (age > master_down).then_some(())
        },
    )?;
    assert!(
        addresses(&lab, a, "eth0").contains(&vip),
        "the VIP is still there (60 s lifetime)"
    );

    let monitor = AddressMonitor::start(&lab, a)?;
    let second = lab.start_agent(&spec)?;
    let deleted = monitor.next(BOUND)?;
    assert!(
        deleted.starts_with("Deleted") && deleted.contains("10.10.0.100"),
        "the leftover VIP is removed first: {deleted}"
    );
    assert!(second.log_text().contains("left behind by an earlier run"));
    assert!(
        !second.log_text().contains("resuming as Master"),
        "too late to resume as Master"
    );
    // Then the election runs as usual and the VIP comes back, owned again.
    wait_for_state(&second, "VI_1", "MASTER", BOUND)?;
    assert!(addresses(&lab, a, "eth0").contains(&vip));
    lab.passed();
    Ok(())
}

#[test]
fn the_control_socket_answers_a_bad_request_with_its_error() -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.11.0.1/24"])?;
    let conf = write_config(
        &lab,
        "a.conf",
        &instance("CTL", "eth0", 91, 100, "1", &["10.11.0.100/24"]),
    )?;
    let agent = lab.start_agent(&AgentSpec::with_config(a, "a", conf))?;
    wait_for_state(&agent, "CTL", "MASTER", BOUND)?;

    let cases: [(&[u8], &str); 3] = [
        // Not UTF-8: answered, not dropped.
        (
            b"{\"version\":1,\"command\":\"resign\",\"instance\":\"CT\xff\"}\n",
            "unicode",
        ),
        (b"{\"version\":1,\"command\":\"launch\"}\n", "launch"),
        (b"not json\n", "expected"),
    ];
    for (line, fragment) in cases {
        let mut stream = UnixStream::connect(&agent.control_socket)
            .with_context(|| format!("connecting to {}", agent.control_socket.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(line)?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .with_context(|| format!("reading the answer to {line:?}"))?;
        let response: serde_json::Value = serde_json::from_str(&answer)
            .with_context(|| format!("the answer to {line:?}: {answer:?}"))?;
        assert_eq!(response["ok"], false, "{answer}");
        let error = response["errors"][0].as_str().unwrap_or_default();
        assert!(
            error.starts_with("bad request: ") && error.contains(fragment),
            "{line:?} answered {answer}"
        );
    }
    // None of them reached the instance.
    assert_eq!(agent.state("CTL").as_deref(), Some("MASTER"));
    lab.passed();
    Ok(())
}
