//! A Master with 300 IPv4 VIPs, more than the 255 one advert carries: as
//! keepalived 2.2.7 does, it advertises the first 255 and installs all 300
//! (the rest as excluded addresses), so it never goes silent. A vip-agent
//! Backup and a keepalived Backup with the same configuration hear it and
//! stay Backup (keepalived with no complaint about the addresses), and
//! `check-config` warns about the addresses moved.

use std::{
    fmt::Write,
    net::{IpAddr, Ipv4Addr},
    process::Command,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{addresses, wait_for_state, AgentSpec},
    agent_bin,
    frames::{parse_ethernet_frame, PacketSocket},
    keepalived::Keepalived,
    wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(40);
const IFACE: &str = "eth0";
const VRID: u8 = 71;
const COUNT: usize = 300;

fn vips() -> Vec<IpAddr> {
    (0..COUNT)
        .map(|i| {
            IpAddr::V4(Ipv4Addr::new(
                10,
                71,
                1 + (i / 200) as u8,
                1 + (i % 200) as u8,
            ))
        })
        .collect()
}

fn config(priority: u8) -> String {
    let mut text = format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {IFACE}\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n"
    );
    for vip in vips() {
        let _ = writeln!(text, "        {vip}/16");
    }
    text + "    }\n}\n"
}

#[test]
fn a_master_with_300_vips_keeps_advertising_and_holds_them_all() -> Result<()> {
    let mut lab = Lab::new()?;
    let master = lab.add_node("master", IFACE, &["10.71.0.1/16"])?;
    let backup = lab.add_node("backup", IFACE, &["10.71.0.2/16"])?;
    let ka = lab.add_node("ka", IFACE, &["10.71.0.3/16"])?;

    let master_conf = lab.work_dir().join("master.conf");
    std::fs::write(&master_conf, config(200))?;
    let backup_conf = lab.work_dir().join("backup.conf");
    std::fs::write(&backup_conf, config(100))?;

    // check-config: valid, with the warning keepalived gives.
    let out = Command::new(agent_bin())
        .args(["check-config", "--config"])
        .arg(&master_conf)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "check-config failed: {stderr}");
    ensure!(
        stderr.contains(
            ":263:9: warning: vrrp_instance VI_1: 300 virtual addresses, but an advert carries at most 255: \
             the 45 from here on are moved to virtual_ipaddress_excluded"
        ),
        "check-config: {stderr}"
    );

    let keepalived = Keepalived::start(&mut lab, ka, "ka", &config(150))?;
    let backup_agent = lab.start_agent(&AgentSpec::with_config(backup, "backup", &backup_conf))?;
    let master_agent = lab.start_agent(&AgentSpec::with_config(master, "master", &master_conf))?;
    wait_for_state(&master_agent, "VI_1", "MASTER", BOUND)?;

    // Every VIP on the Master's interface, none on the Backups'.
    let all = vips();
    wait_for("the Master to hold all 300 VIPs", BOUND, || {
        let held = addresses(&lab, master, IFACE);
        all.iter().all(|v| held.contains(v)).then_some(())
    })
    .with_context(|| format!("{} held", addresses(&lab, master, IFACE).len()))?;

    // What goes on the wire: adverts with the first 255 addresses.
    let interface = lab.node(ka).interface.clone();
    let socket = lab
        .node(ka)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let advert = socket
        .recv_matching(BOUND, |frame| {
            parse_ethernet_frame(frame).is_ok_and(|p| {
                p.src == "10.71.0.1".parse::<IpAddr>().unwrap()
                    && p.payload.len() > 8
                    && p.payload[1] == VRID
            })
        })?
        .context("no advert from the Master")?;
    let packet = parse_ethernet_frame(&advert).map_err(anyhow::Error::msg)?;
    let vrrp = packet.payload;
    ensure!(
        vrrp[2] == 200 && vrrp[3] == 255,
        "priority {}, count {}",
        vrrp[2],
        vrrp[3]
    );
    ensure!(
        vrrp.len() == 8 + 255 * 4 + 8,
        "advert of {} bytes",
        vrrp.len()
    );
    let carried: Vec<IpAddr> = vrrp[8..8 + 255 * 4]
        .chunks(4)
        .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
        .collect();
    ensure!(carried == all[..255], "the advert carries other addresses");

    // The Backups keep hearing it over more than a Master_Down_Interval.
    let heard = backup_agent.counter("VI_1", "adverts_received")?;
    wait_for("the vip-agent Backup to hear 5 more adverts", BOUND, || {
        let now = backup_agent.counter("VI_1", "adverts_received").ok()?;
        (now >= heard + 5).then_some(())
    })?;
    ensure!(
        backup_agent.state("VI_1").as_deref() == Some("BACKUP"),
        "the vip-agent Backup is {:?}",
        backup_agent.state("VI_1")
    );
    ensure!(backup_agent.counter("VI_1", "adverts_discarded")? == 0);
    ensure!(backup_agent.counter("VI_1", "became_master")? == 0);
    ensure!(master_agent.state("VI_1").as_deref() == Some("MASTER"));
    ensure!(
        keepalived.state("VI_1").as_deref() == Some("BACKUP"),
        "keepalived is {:?}:\n{}",
        keepalived.state("VI_1"),
        keepalived.log_text()
    );
    let log = keepalived.log_text();
    ensure!(
        log.contains(
            "Number of VIPs (300) exceeds maximum/space available in packet (max 255 addresses)"
        ),
        "keepalived did not move its excess VIPs as expected:\n{log}"
    );
    let complaints = keepalived.complaints();
    ensure!(
        complaints.is_empty(),
        "keepalived complained: {complaints:?}"
    );
    for node in [backup, ka] {
        let held = addresses(&lab, node, IFACE);
        ensure!(
            !all.iter().any(|v| held.contains(v)),
            "a Backup holds VIPs: {held:?}"
        );
    }
    let master_status = master_agent.status()?;
    ensure!(master_status["instances"][0]["holds_vips"] == true);
    println!(
        "Master holds {} VIPs, advertises 255; the vip-agent Backup heard {} adverts",
        all.len(),
        backup_agent.counter("VI_1", "adverts_received")?
    );
    lab.passed();
    Ok(())
}
