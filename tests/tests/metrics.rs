//! `--metrics-listen`: two agents in namespaces, each scraped from inside its
//! own namespace over real TCP; every scrape passes `promtool check metrics`
//! (lint included), and what it says follows a failover. Then the server's
//! bounds: idle connections are cut, and a scrape waits for a free slot
//! without the election waiting on anyone.

use std::{
    io::Read,
    net::{IpAddr, SocketAddr, TcpStream},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context, Result};
use tests::{
    agent::{arping, wait_for_sole_holder, wait_for_state, AgentProcess, AgentSpec},
    metrics::{http, promtool_check, request, scrape, Scrape},
    wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(30);
/// The same address in every node: each namespace has its own loopback.
const METRICS: &str = "127.0.0.1:9650";
const NAME: &str = "VI_1";
const VIP: &str = "10.7.0.100";

fn metrics_address() -> SocketAddr {
    METRICS.parse().expect("a socket address")
}

fn write_config(lab: &Lab, name: &str, priority: u8) -> Result<PathBuf> {
    let path = lab.work_dir().join(name);
    std::fs::write(
        &path,
        format!(
            "vrrp_instance {NAME} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 70\n    \
             priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
        ),
    )?;
    Ok(path)
}

fn start(lab: &mut Lab, node: usize, role: &str, priority: u8) -> Result<AgentProcess> {
    let config = write_config(lab, &format!("{role}.conf"), priority)?;
    lab.start_agent(
        &AgentSpec::with_config(node, role, config)
            .arg("--metrics-listen")
            .arg(METRICS),
    )
}

/// A scrape of node `node`, linted by promtool.
fn checked_scrape(lab: &Lab, node: usize) -> Result<Scrape> {
    let scrape = scrape(lab, node, metrics_address())?;
    promtool_check(&scrape.text)?;
    Ok(scrape)
}

const INSTANCE: (&str, &str) = ("vrrp_instance", NAME);
const ETH0: (&str, &str) = ("interface", "eth0");

fn state(scrape: &Scrape, state: &str) -> Result<f64> {
    scrape.value("vip_agent_vrrp_state", &[INSTANCE, ("state", state)])
}

fn instance_value(scrape: &Scrape, name: &str) -> Result<f64> {
    scrape.value(name, &[INSTANCE])
}

fn vip_held(scrape: &Scrape) -> Result<f64> {
    scrape.value(
        "vip_agent_vrrp_vip_held",
        &[INSTANCE, ("vip", &format!("{VIP}/24"))],
    )
}

fn interface_value(scrape: &Scrape, name: &str) -> Result<f64> {
    scrape.value(name, &[ETH0])
}

/// Transitions of the instance to `to` (any origin and reason).
fn transitions_to(scrape: &Scrape, to: &str) -> f64 {
    scrape.sum("vip_agent_vrrp_transitions_total", &[INSTANCE, ("to", to)])
}

#[test]
fn a_scrape_passes_promtool_and_follows_a_failover() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.7.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.7.0.2/24"])?;
    let client = lab.add_node("client", "eth0", &["10.7.0.99/24"])?;
    let agent_a = start(&mut lab, a, "a", 150)?;
    let agent_b = start(&mut lab, b, "b", 100)?;
    let vip: IpAddr = VIP.parse()?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, a, BOUND)?;
    wait_for_state(&agent_a, NAME, "MASTER", BOUND)?;
    wait_for_state(&agent_b, NAME, "BACKUP", BOUND)?;
    let mac_a = lab.node(a).ns.mac("eth0")?;
    let mac_b = lab.node(b).ns.mac("eth0")?;
    // One ARP request each node's XDP sees: A answers it, B passes it.
    assert_eq!(arping(&lab, client, "eth0", vip)?, mac_a);

    let before_a = checked_scrape(&lab, a)?;
    let before_b = checked_scrape(&lab, b)?;
    eprintln!(
        "scrape of the Master before the failover:\n{}",
        before_a.text
    );
    assert_eq!(state(&before_a, "MASTER")?, 1.0);
    assert_eq!(state(&before_a, "BACKUP")?, 0.0);
    assert_eq!(state(&before_b, "BACKUP")?, 1.0);
    assert_eq!(state(&before_b, "MASTER")?, 0.0);
    assert_eq!(vip_held(&before_a)?, 1.0);
    assert_eq!(vip_held(&before_b)?, 0.0);
    assert_eq!(instance_value(&before_a, "vip_agent_vrrp_priority")?, 150.0);
    assert_eq!(
        instance_value(&before_a, "vip_agent_vrrp_effective_priority")?,
        150.0
    );
    assert_eq!(instance_value(&before_b, "vip_agent_vrrp_priority")?, 100.0);
    assert_eq!(transitions_to(&before_a, "MASTER"), 1.0);
    assert!(instance_value(&before_a, "vip_agent_vrrp_adverts_sent_total")? > 0.0);
    assert!(instance_value(&before_b, "vip_agent_vrrp_adverts_received_total")? > 0.0);
    assert!(instance_value(&before_a, "vip_agent_vrrp_last_transition_age_seconds")? >= 0.0);
    for scrape in [&before_a, &before_b] {
        assert_eq!(scrape.value("vip_agent_xdp_enabled", &[])?, 1.0);
        assert_eq!(scrape.value("vip_agent_xdp_fenced", &[])?, 0.0);
        assert_eq!(scrape.value("vip_agent_xdp_fence_bound_seconds", &[])?, 2.0);
        assert!(interface_value(scrape, "vip_agent_xdp_arp_requests_total")? >= 1.0);
    }
    assert!(interface_value(&before_a, "vip_agent_xdp_arp_replies_sent_total")? >= 1.0);
    assert_eq!(
        interface_value(&before_b, "vip_agent_xdp_arp_replies_sent_total")?,
        0.0,
        "the Backup answers no ARP"
    );
    assert!(interface_value(&before_b, "vip_agent_xdp_arp_requests_passed_total")? >= 1.0);
    // The Backup's XDP validated the Master's adverts before its socket got them.
    assert!(
        before_b.value(
            "vip_agent_xdp_vrrp_adverts_valid_total",
            &[ETH0, ("vrid", "70"), ("family", "ipv4")]
        )? > 0.0
    );
    assert_eq!(
        before_b.sum("vip_agent_xdp_vrrp_dropped_total", &[ETH0, ("vrid", "70")]),
        0.0
    );

    // The Master resigns: B takes over after Skew_Time.
    agent_a.control("resign", Some(NAME))?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip, b, BOUND)?;
    wait_for_state(&agent_b, NAME, "MASTER", BOUND)?;
    wait_for_state(&agent_a, NAME, "RESIGNED", BOUND)?;
    wait_for("B's XDP to answer ARP for the VIP", BOUND, || {
        (arping(&lab, client, "eth0", vip).ok()? == mac_b).then_some(())
    })?;

    let after_a = checked_scrape(&lab, a)?;
    let after_b = checked_scrape(&lab, b)?;
    eprintln!(
        "scrape of the new Master after the failover:\n{}",
        after_b.text
    );
    assert_eq!(state(&after_b, "MASTER")?, 1.0);
    assert_eq!(state(&after_b, "BACKUP")?, 0.0);
    assert_eq!(state(&after_a, "RESIGNED")?, 1.0);
    assert_eq!(state(&after_a, "MASTER")?, 0.0);
    assert_eq!(vip_held(&after_b)?, 1.0);
    assert_eq!(vip_held(&after_a)?, 0.0);
    assert_eq!(
        after_b.value(
            "vip_agent_vrrp_transitions_total",
            &[
                INSTANCE,
                ("from", "BACKUP"),
                ("to", "MASTER"),
                ("reason", "master_down")
            ]
        )?,
        before_b.sum(
            "vip_agent_vrrp_transitions_total",
            &[
                INSTANCE,
                ("from", "BACKUP"),
                ("to", "MASTER"),
                ("reason", "master_down")
            ]
        ) + 1.0
    );
    assert_eq!(
        after_a.value(
            "vip_agent_vrrp_transitions_total",
            &[
                INSTANCE,
                ("from", "MASTER"),
                ("to", "INIT"),
                ("reason", "shutdown")
            ]
        )?,
        1.0,
        "the resignation is the Master's one state change since it took over"
    );
    assert_eq!(transitions_to(&after_a, "MASTER"), 1.0);
    assert!(instance_value(&after_a, "vip_agent_vrrp_priority_zero_adverts_sent_total")? >= 1.0);
    assert!(
        instance_value(
            &after_b,
            "vip_agent_vrrp_priority_zero_adverts_received_total"
        )? >= 1.0
    );
    assert!(
        instance_value(&after_b, "vip_agent_vrrp_adverts_sent_total")?
            > instance_value(&before_b, "vip_agent_vrrp_adverts_sent_total")?
    );
    let changed_at =
        |s: &Scrape| instance_value(s, "vip_agent_vrrp_last_transition_timestamp_seconds");
    assert!(changed_at(&after_b)? > changed_at(&before_b)?);
    assert!(interface_value(&after_b, "vip_agent_xdp_arp_replies_sent_total")? >= 1.0);
    assert_eq!(after_b.value("vip_agent_xdp_fenced", &[])?, 0.0);
    assert_eq!(after_a.value("vip_agent_xdp_fenced", &[])?, 0.0);

    // Anything but GET /metrics.
    let address = metrics_address();
    let not_found = http(&lab, a, address, request("GET", address, "/"))?;
    assert_eq!(not_found.status, 404, "{not_found:?}");
    let post = http(&lab, a, address, request("POST", address, "/metrics"))?;
    assert_eq!(post.status, 405, "{post:?}");
    assert_eq!(post.headers.get("allow").map(String::as_str), Some("GET"));
    lab.passed();
    Ok(())
}

/// As many connections as the server serves at once (MAX_CONNECTIONS in
/// `agent/metrics.rs`), none of which sends a byte.
const IDLE_CONNECTIONS: usize = 8;

#[test]
fn idle_and_oversized_requests_are_cut_and_hold_up_nothing() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.7.0.1/24"])?;
    let agent = start(&mut lab, a, "a", 150)?;
    wait_for_state(&agent, NAME, "MASTER", BOUND)?;
    let address = metrics_address();
    checked_scrape(&lab, a)?;

    // Request headers past the server's buffer are refused, not buffered.
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "x".repeat(64 * 1024)
    );
    let refused = http(&lab, a, address, huge)?;
    assert_eq!(refused.status, 431, "{refused:?}");

    let idle = lab
        .node(a)
        .ns
        .in_thread(move || -> Result<Vec<TcpStream>> {
            (0..IDLE_CONNECTIONS)
                .map(|_| {
                    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
                    stream.set_read_timeout(Some(BOUND))?;
                    Ok(stream)
                })
                .collect()
        })?;
    // While every slot is taken, the election goes on: the Master keeps
    // advertising and answers its control socket.
    let sent = agent.counter(NAME, "adverts_sent")?;
    wait_for("the Master to advertise while scrapers hang", BOUND, || {
        (agent.counter(NAME, "adverts_sent").ok()? > sent).then_some(())
    })?;
    // A scrape waits for a slot: the idle connections are cut at the
    // server's header timeout, then it is answered.
    let scrape = checked_scrape(&lab, a)?;
    assert_eq!(state(&scrape, "MASTER")?, 1.0);
    for mut stream in idle {
        let mut rest = Vec::new();
        // The server closes (EOF) or answers 408 and closes; either way
        // the read ends before its own timeout.
        let read = stream.read_to_end(&mut rest);
        assert!(
            read.is_ok(),
            "an idle connection was not closed by the server: {read:?}"
        );
    }
    assert_eq!(agent.state(NAME).as_deref(), Some("MASTER"));
    lab.passed();
    Ok(())
}

#[test]
fn a_taken_metrics_port_stops_the_start_with_a_clear_error() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.7.0.1/24"])?;
    let address = metrics_address();
    // Something else listens on the port, inside the node's namespace.
    let _holder = lab
        .node(a)
        .ns
        .in_thread(move || -> Result<std::net::TcpListener> {
            std::net::TcpListener::bind(address).context("binding the port first")
        })?;
    let mut agent = start(&mut lab, a, "a", 150)?;
    let status = agent.wait_exit(BOUND)?;
    assert!(
        !status.success(),
        "the agent must not run without its metrics port"
    );
    let log = agent.log_text();
    assert!(
        log.contains(&format!("binding the metrics listener on {METRICS}")),
        "{log}"
    );
    lab.passed();
    Ok(())
}
