//! The XDP program counts VRRP frames per (interface, VRID) in a per-CPU BTF
//! map pinned under the agent's bpffs directory; read through aya and through
//! bpftool, the count equals the number of frames a peer really sent.

use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::{Context, Result};
use aya::maps::{Map, MapData, PerCpuHashMap};
use tests::{agent::AgentSpec, bpftool_dump, frames, run, wait_for, Lab};
use vip_common::{VrrpKey, VrrpStats, MAP_VRRP_STATS};

const FRAMES_VRID_51: u64 = 25;
const FRAMES_VRID_52: u64 = 3;

/// Sum over CPUs, per (ifindex, vrid, family), read through aya.
fn counts_via_aya(pin: &Path) -> Result<BTreeMap<(u32, u8, u8), u64>> {
    let map = Map::PerCpuHashMap(MapData::from_pin(pin)?);
    let map: PerCpuHashMap<_, VrrpKey, VrrpStats> = PerCpuHashMap::try_from(map)?;
    let mut counts = BTreeMap::new();
    for entry in map.iter() {
        let (key, values) = entry?;
        let total: u64 = values.iter().map(|v| v.frames).sum();
        counts.insert((key.ifindex, key.vrid, key.family), total);
    }
    Ok(counts)
}

/// Sum over CPUs, per (ifindex, vrid, family), read through bpftool's
/// BTF-formatted output (named fields, not raw bytes).
fn counts_via_bpftool(pin: &Path) -> Result<BTreeMap<(u32, u8, u8), u64>> {
    let dump = bpftool_dump(pin)?;
    let mut counts = BTreeMap::new();
    for entry in dump.as_array().context("bpftool output is not a list")? {
        let formatted = &entry["formatted"];
        let key = &formatted["key"];
        let ifindex = key["ifindex"].as_u64().context("no ifindex field")? as u32;
        let vrid = key["vrid"].as_u64().context("no vrid field")? as u8;
        let family = key["family"].as_u64().context("no family field")? as u8;
        let mut total = 0;
        for cpu in formatted["values"].as_array().context("no values")? {
            total += cpu["value"]["frames"].as_u64().context("no frames field")?;
        }
        counts.insert((ifindex, vrid, family), total);
    }
    Ok(counts)
}

fn xdp_attached(lab: &Lab, node: usize) -> bool {
    let n = lab.node(node);
    n.ns.ip(&["-j", "link", "show", "dev", &n.interface])
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("\"xdp\""))
        .unwrap_or(false)
}

#[test]
fn xdp_counts_each_vrrp_frame_per_interface_and_vrid() -> Result<()> {
    let mut lab = Lab::new()?;
    let agent = lab.add_node("agent", "eth0", &["10.0.0.1/24"])?;
    let peer = lab.add_node("peer", "enp0s4", &["10.0.0.2/24"])?;
    let bpffs = lab.bpffs_dir("agent");
    let pin = bpffs.join(MAP_VRRP_STATS);

    // A one-instance agent on VRID 60; the frames below are for other VRIDs.
    let spec = AgentSpec {
        node: agent,
        role: "agent".to_string(),
        config: None,
        extra_args: [
            "--interface",
            "eth0",
            "--vrid",
            "60",
            "--vip",
            "10.0.0.60/32",
            "--xdp-mode",
            "skb",
        ]
        .map(String::from)
        .to_vec(),
        ..AgentSpec::default()
    };
    let mut proc = lab.start_agent(&spec)?;
    wait_for(
        "XDP attached and map pinned",
        Duration::from_secs(20),
        || (pin.exists() && xdp_attached(&lab, agent)).then_some(()),
    )?;

    let ifindex = lab.node(agent).ns.ifindex("eth0")?;
    let peer_mac = lab.node(peer).ns.mac("enp0s4")?;
    lab.node(peer).ns.in_thread(move || -> Result<()> {
        let socket = frames::PacketSocket::bind("enp0s4")?;
        let vrid_51 =
            frames::V2Advert::multicast(peer_mac, [10, 0, 0, 2], 51, 100, &[[10, 0, 0, 70]]);
        let vrid_52 =
            frames::V2Advert::multicast(peer_mac, [10, 0, 0, 2], 52, 90, &[[10, 0, 0, 71]]);
        for _ in 0..FRAMES_VRID_51 {
            socket.send(&vrid_51.frame())?;
        }
        for _ in 0..FRAMES_VRID_52 {
            socket.send(&vrid_52.frame())?;
        }
        Ok(())
    })?;
    // Unrelated traffic in between must not be counted.
    run(lab
        .node(peer)
        .ns
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "2", "10.0.0.1"]))?;

    let expected = BTreeMap::from([
        ((ifindex, 51, 4), FRAMES_VRID_51),
        ((ifindex, 52, 4), FRAMES_VRID_52),
    ]);
    let via_aya = wait_for("every frame counted", Duration::from_secs(10), || {
        counts_via_aya(&pin).ok().filter(|c| {
            c.get(&(ifindex, 51, 4)) >= Some(&FRAMES_VRID_51)
                && c.get(&(ifindex, 52, 4)) >= Some(&FRAMES_VRID_52)
        })
    })?;
    assert_eq!(via_aya, expected, "per-CPU sums read through aya");
    let via_bpftool = counts_via_bpftool(&pin)?;
    assert_eq!(via_bpftool, expected, "per-CPU sums read through bpftool");
    println!("bpftool map dump pinned {}:", pin.display());
    println!("{}", serde_json::to_string(&bpftool_dump(&pin)?)?);

    // SIGTERM: detach, unpin, exit 0.
    proc.signal(nix::sys::signal::Signal::SIGTERM)?;
    let status = proc.wait_exit(Duration::from_secs(10))?;
    assert!(status.success(), "agent exit status {status}");
    assert!(!pin.exists(), "the map pin is removed on exit");
    assert!(!xdp_attached(&lab, agent), "XDP is detached on exit");
    lab.passed();
    Ok(())
}
