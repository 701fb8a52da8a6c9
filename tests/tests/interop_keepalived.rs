//! keepalived 2.2.7 and vip-agent as peers on one segment and VRID, with
//! the same configuration semantics: each cell (VRRPv2 without auth, v2 PASS
//! with a 10-character password, v3 IPv4 at 100 ms, v3 IPv6, unicast peers
//! over IPv4 and IPv6)
//! runs in both directions (keepalived Master + vip-agent Backup, and the
//! reverse). In each: exactly one holder; the Master's node dies (SIGKILL,
//! link down) and the other takes over; the Master comes back and takes the
//! VIP back. keepalived logs no checksum, auth, interval, TTL or version
//! complaint; vip-agent discards nothing and its XDP counters show no drop.

use std::{
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{holders, wait_for_sole_holder, AgentProcess, AgentSpec},
    keepalived::Keepalived,
    wait_for, Lab,
};

/// Generous: two noisy cores; a v2 election takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
const IFACE: &str = "eth0";
const HIGH: u8 = 150;
const LOW: u8 = 100;

#[derive(Clone, Copy)]
struct Cell {
    name: &'static str,
    version: u8,
    v6: bool,
    advert_int: &'static str,
    auth: Option<&'static str>,
    unicast: bool,
    vrid: u8,
}

impl Cell {
    fn addresses(&self) -> (&'static str, &'static str) {
        if self.v6 {
            ("2001:db8:9::1/64", "2001:db8:9::2/64")
        } else {
            ("10.9.0.1/24", "10.9.0.2/24")
        }
    }

    fn vip(&self) -> (&'static str, IpAddr) {
        if self.v6 {
            ("2001:db8:9::70/64", "2001:db8:9::70".parse().unwrap())
        } else {
            ("10.9.0.70/24", "10.9.0.70".parse().unwrap())
        }
    }

    /// The same keepalived.conf text for both implementations; only the
    /// priority and the unicast source/peer differ per node.
    fn config(&self, priority: u8, own: &str, peer: &str) -> String {
        let mut c = format!(
            "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {IFACE}\n    \
             virtual_router_id {}\n    priority {priority}\n    advert_int {}\n    version {}\n",
            self.vrid, self.advert_int, self.version
        );
        if self.unicast {
            let own = own.split('/').next().unwrap();
            let peer = peer.split('/').next().unwrap();
            c +=
                &format!("    unicast_src_ip {own}\n    unicast_peer {{\n        {peer}\n    }}\n");
        }
        if let Some(pass) = self.auth {
            c += &format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}\n"
            );
        }
        c += &format!(
            "    virtual_ipaddress {{\n        {}\n    }}\n}}\n",
            self.vip().0
        );
        c
    }
}

#[derive(Default, Debug)]
struct Timings {
    election: Duration,
    takeover: Duration,
    takeback: Duration,
    adverts_checked: u64,
}

/// vip-agent's view of the exchange: nothing discarded, no XDP drop.
/// Returns the adverts it received and validated. `restarted`: the agent
/// was killed and started again, so its program's counters start from
/// zero; a restarted Master whose Backup never advertised since has none.
fn check_agent_counters(agent: &AgentProcess, restarted: bool) -> Result<u64> {
    // A restarted agent loads its XDP program in the background.
    let status = wait_for("the agent's fast path to be loaded", BOUND, || {
        let status = agent.status().ok()?;
        (status["xdp_mode"] != "loading").then_some(status)
    })?;
    let inst = &status["instances"][0];
    let discarded = inst["adverts_discarded"]
        .as_u64()
        .context("adverts_discarded")?;
    ensure!(
        discarded == 0,
        "{} discarded {discarded} adverts: {inst:#}",
        agent.role
    );
    if restarted && inst["state"] == "MASTER" && inst["xdp"]["vrrp"].is_null() {
        println!(
            "  {}: VRID {}: restarted as Master, its program has seen no advert since",
            agent.role, inst["vrid"]
        );
        return Ok(0);
    }
    let vrrp = inst["xdp"]["vrrp"]
        .as_object()
        .with_context(|| format!("{}: no XDP VRRP counters in status: {inst:#}", agent.role))?;
    for (key, value) in vrrp {
        if key.starts_with("drop_") {
            ensure!(
                value.as_u64() == Some(0),
                "{}: XDP counter {key} = {value} for VRID {}: {inst:#}",
                agent.role,
                inst["vrid"]
            );
        }
    }
    let received = inst["adverts_received"].as_u64().unwrap_or(0);
    let valid = vrrp
        .get("adverts_valid")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    println!(
        "  {}: VRID {}: received {received} adverts, XDP validated {valid}, discarded 0, XDP drops 0",
        agent.role, inst["vrid"]
    );
    Ok(received)
}

fn check_keepalived(keepalived: &Keepalived) -> Result<()> {
    let complaints = keepalived.complaints();
    ensure!(
        complaints.is_empty(),
        "keepalived complained:\n{}",
        complaints.join("\n")
    );
    ensure!(
        keepalived.log_text().contains("Entering"),
        "keepalived's log shows no state change; is it logging? {}",
        keepalived.log_text()
    );
    Ok(())
}

fn agent_state(agent: &AgentProcess) -> Option<(String, u64, u64)> {
    let status = agent.status().ok()?;
    let inst = &status["instances"][0];
    Some((
        inst["state"].as_str()?.to_string(),
        inst["adverts_sent"].as_u64()?,
        inst["adverts_received"].as_u64()?,
    ))
}

/// Waits until vip-agent is a Backup that has heard `n` adverts.
fn agent_settled_backup(agent: &AgentProcess, n: u64) -> Result<()> {
    wait_for("vip-agent to settle as Backup", BOUND, || {
        let (state, _, received) = agent_state(agent)?;
        (state == "BACKUP" && received >= n).then_some(())
    })
}

/// Waits until vip-agent, Master, has sent `n` more adverts than `from`
/// (more than keepalived's Master_Down_Interval: had keepalived rejected
/// them, it would have taken over).
fn agent_master_for(agent: &AgentProcess, from: u64, n: u64) -> Result<()> {
    wait_for("vip-agent to advertise as Master", BOUND, || {
        let (state, sent, _) = agent_state(agent)?;
        (state == "MASTER" && sent >= from + n).then_some(())
    })
}

fn run_direction(cell: &Cell, keepalived_master: bool) -> Result<Timings> {
    let mut lab = Lab::new()?;
    let (ka_addr, va_addr) = cell.addresses();
    let ka = lab.add_node("ka", IFACE, &[ka_addr])?;
    let va = lab.add_node("va", IFACE, &[va_addr])?;
    let nodes = [ka, va];
    let (ka_prio, va_prio) = if keepalived_master {
        (HIGH, LOW)
    } else {
        (LOW, HIGH)
    };
    let (master, backup) = if keepalived_master {
        (ka, va)
    } else {
        (va, ka)
    };
    let ka_conf = cell.config(ka_prio, ka_addr, va_addr);
    let va_conf = cell.config(va_prio, va_addr, ka_addr);
    let va_path: PathBuf = lab.work_dir().join("va.conf");
    std::fs::write(&va_path, &va_conf)?;
    let va_spec = AgentSpec::with_config(va, "va", &va_path);
    let (vip_text, vip) = cell.vip();
    let mut t = Timings::default();

    // 1. Election: the higher priority holds the VIP, alone.
    let start = Instant::now();
    let mut keepalived = Keepalived::start(&mut lab, ka, "ka", &ka_conf)?;
    let mut agent = lab.start_agent(&va_spec)?;
    wait_for_sole_holder(&lab, &nodes, IFACE, vip, master, BOUND)?;
    t.election = start.elapsed();
    if keepalived_master {
        agent_settled_backup(&agent, 5)?;
    } else {
        let sent = agent_state(&agent).map(|s| s.1).unwrap_or(0);
        agent_master_for(&agent, sent, 6)?;
        ensure!(
            keepalived.state("VI_1").as_deref() == Some("BACKUP"),
            "keepalived is {:?}, expected BACKUP",
            keepalived.state("VI_1")
        );
    }
    ensure!(
        holders(&lab, &nodes, IFACE, vip) == [master],
        "exactly one holder after the election"
    );
    t.adverts_checked += check_agent_counters(&agent, false)?;
    check_keepalived(&keepalived)?;

    // 2. The Master's node dies: SIGKILL, link down. The other takes over.
    if keepalived_master {
        keepalived.kill();
    } else {
        agent.signal(Signal::SIGKILL)?;
        agent.wait_exit(BOUND)?;
    }
    lab.node(master).ns.ip(&["link", "set", IFACE, "down"])?;
    let killed = Instant::now();
    wait_for("the Backup to take the VIP", BOUND, || {
        holders(&lab, &[backup], IFACE, vip)
            .contains(&backup)
            .then_some(())
    })?;
    t.takeover = killed.elapsed();
    if keepalived_master {
        wait_for("vip-agent to be Master", BOUND, || {
            (agent_state(&agent)?.0 == "MASTER").then_some(())
        })?;
    } else {
        wait_for("keepalived to be Master", BOUND, || {
            (keepalived.state("VI_1")? == "MASTER").then_some(())
        })?;
    }

    // 3. It comes back (a rebooted host has no leftover VIP) and, with the
    //    higher priority, takes the VIP back.
    lab.node(master).ns.ip(&["link", "set", IFACE, "up"])?;
    // Its own address, as at boot: the kernel flushes IPv6 addresses on
    // link down, and a unicast instance needs its unicast_src_ip.
    let own_addr = if keepalived_master { ka_addr } else { va_addr };
    lab.node(master)
        .ns
        .ip(&["addr", "replace", own_addr, "dev", IFACE])?;
    let _ = lab
        .node(master)
        .ns
        .ip(&["addr", "del", vip_text, "dev", IFACE]);
    let restarted = Instant::now();
    if keepalived_master {
        keepalived = Keepalived::start(&mut lab, ka, "ka", &ka_conf)?;
    } else {
        agent = lab.start_agent(&va_spec)?;
    }
    wait_for_sole_holder(&lab, &nodes, IFACE, vip, master, BOUND)?;
    t.takeback = restarted.elapsed();
    if keepalived_master {
        let received = agent_state(&agent).map(|s| s.2).unwrap_or(0);
        wait_for("vip-agent to hear the new Master", BOUND, || {
            let (state, _, r) = agent_state(&agent)?;
            (state == "BACKUP" && r >= received + 5).then_some(())
        })?;
    } else {
        let sent = agent_state(&agent).map(|s| s.1).unwrap_or(0);
        agent_master_for(&agent, sent, 6)?;
        wait_for("keepalived to be Backup", BOUND, || {
            (keepalived.state("VI_1")? == "BACKUP").then_some(())
        })?;
    }
    ensure!(
        holders(&lab, &nodes, IFACE, vip) == [master],
        "exactly one holder after the take-back"
    );
    t.adverts_checked += check_agent_counters(&agent, true)?;
    check_keepalived(&keepalived)?;
    ensure!(
        t.adverts_checked > 0,
        "vip-agent never received keepalived's adverts: nothing was checked"
    );
    if cell.auth.is_some_and(|p| p.len() > 8) {
        ensure!(
            keepalived
                .log_text()
                .contains("Truncating auth_pass to 8 characters"),
            "keepalived cut the 10-character password to 8"
        );
        ensure!(
            agent
                .log_text()
                .contains("auth_pass is longer than 8 bytes; only 'mypasswo' is used"),
            "vip-agent warns about the cut password:\n{}",
            agent.log_text()
        );
    }
    if !keepalived.running() {
        bail!("keepalived exited:\n{}", keepalived.log_text());
    }
    lab.passed();
    Ok(t)
}

fn run_cell(cell: Cell) {
    tests::require_root();
    let mut failures = Vec::new();
    for keepalived_master in [true, false] {
        let direction = if keepalived_master {
            "keepalived Master + vip-agent Backup"
        } else {
            "vip-agent Master + keepalived Backup"
        };
        let started = Instant::now();
        match run_direction(&cell, keepalived_master) {
            Ok(t) => println!(
                "INTEROP {:<22} | {direction} | PASS | election {} ms, takeover {} ms, take-back {} ms, \
                 {} keepalived adverts checked by vip-agent | {:.1} s",
                cell.name,
                t.election.as_millis(),
                t.takeover.as_millis(),
                t.takeback.as_millis(),
                t.adverts_checked,
                started.elapsed().as_secs_f64()
            ),
            Err(err) => {
                println!(
                    "INTEROP {:<22} | {direction} | FAIL | {err:#}",
                    cell.name
                );
                failures.push(format!("{direction}: {err:#}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}: {failures:#?}", cell.name);
}

#[test]
fn v2_without_auth() {
    run_cell(Cell {
        name: "v2 no auth",
        version: 2,
        v6: false,
        advert_int: "1",
        auth: None,
        unicast: false,
        vrid: 71,
    });
}

#[test]
fn v2_pass_auth_with_a_ten_character_password() {
    run_cell(Cell {
        name: "v2 PASS (10 chars)",
        version: 2,
        v6: false,
        advert_int: "1",
        auth: Some("mypassword"),
        unicast: false,
        vrid: 72,
    });
}

#[test]
fn v3_ipv4_at_100_ms() {
    run_cell(Cell {
        name: "v3 IPv4 0.1 s",
        version: 3,
        v6: false,
        advert_int: "0.1",
        auth: None,
        unicast: false,
        vrid: 73,
    });
}

#[test]
fn v3_ipv6() {
    run_cell(Cell {
        name: "v3 IPv6 0.1 s",
        version: 3,
        v6: true,
        advert_int: "0.1",
        auth: None,
        unicast: false,
        vrid: 74,
    });
}

#[test]
fn v2_unicast_peers() {
    run_cell(Cell {
        name: "v2 unicast PASS",
        version: 2,
        v6: false,
        advert_int: "1",
        auth: Some("1212"),
        unicast: true,
        vrid: 75,
    });
}

/// keepalived's IPv6 unicast adverts leave with the kernel's default hop
/// limit (64), not 255: a unicast peer is checked by its address instead.
#[test]
fn v3_ipv6_unicast_peers() {
    run_cell(Cell {
        name: "v3 IPv6 unicast 0.1 s",
        version: 3,
        v6: true,
        advert_int: "0.1",
        auth: None,
        unicast: true,
        vrid: 76,
    });
}
