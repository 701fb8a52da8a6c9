//! The fast path on real (veth) interfaces in namespaces: a client's arping
//! and Neighbour Solicitation are answered by XDP (the kernel's own ARP is
//! switched off, so only XDP can answer), the answers stop when the
//! heartbeat goes stale (fencing) and come back with it; the verifier
//! accepts the program in native and in skb mode.

use std::{net::IpAddr, process::Command, time::Duration};

use anyhow::{Context, Result};
use tests::{frames::*, run, wait_for, Lab};
use vip_agent::dataplane::{Dataplane, DataplaneError, XdpModeChoice};

const OWNER_MAC: [u8; 6] = [0x00, 0x00, 0x5E, 0x00, 0x01, 0x07];
const VIP4: [u8; 4] = [10, 0, 0, 100];
const VIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
const CLIENT6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];

/// `arping -c COUNT -w WAIT` from the client; true when a reply came from
/// the owner MAC (only XDP uses it: the kernel would answer with eth0's).
fn arping(lab: &Lab, client: usize, count: &str, wait: &str) -> Result<bool> {
    let out = lab
        .node(client)
        .ns
        .command("arping")
        .args(["-c", count, "-w", wait, "-I", "eth0", "10.0.0.100"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    // iputils: "Unicast reply from 10.0.0.100 [00:00:5E:00:01:07]";
    // Habets' arping: "58 bytes from 00:00:5e:00:01:07 (10.0.0.100): ...".
    Ok(text.lines().any(|line| {
        line.contains("from") && line.contains("00:00:5e:00:01:07") && line.contains("10.0.0.100")
    }))
}

/// Sends an NS for the IPv6 VIP from the client and waits for the NA.
fn ns_answered(lab: &Lab, client: usize, timeout: Duration) -> Result<bool> {
    let mac = lab.node(client).ns.mac("eth0")?;
    lab.node(client).ns.in_thread(move || {
        let socket = PacketSocket::bind("eth0")?;
        socket.send(&neighbour_solicitation(mac, None, CLIENT6, VIP6, true))?;
        let na = socket.recv_matching(timeout, |f| {
            f.len() >= 86
                && f[12..14] == [0x86, 0xDD]
                && f[20] == 58
                && f[54] == 136
                && f[62..78] == VIP6
                && f[0..6] == mac
                && f[6..12] == OWNER_MAC
        })?;
        Ok(na.is_some())
    })
}

#[test]
fn xdp_answers_arping_and_ns_on_veth_and_fencing_stops_it() -> Result<()> {
    let mut lab = Lab::new()?;
    let agent = lab.add_node("agent", "eth0", &["10.0.0.1/24", "fd00::1/64"])?;
    let client = lab.add_node("client", "eth0", &["10.0.0.2/24", "fd00::2/64"])?;
    // The VIPs are local addresses (services need them) but the kernel does
    // not answer ARP for them on eth0: only XDP can.
    lab.node(agent)
        .ns
        .ip(&["addr", "add", "10.0.0.100/32", "dev", "eth0"])?;
    run(Command::new("ip").args([
        "netns",
        "exec",
        &lab.node(agent).ns.name,
        "sysctl",
        "-qw",
        "net.ipv4.conf.eth0.arp_ignore=8",
    ]))?;
    let dir = lab.bpffs_dir("agent");
    let ifindex = lab.node(agent).ns.ifindex("eth0")?;
    let mut dp = lab.node(agent).ns.in_thread(move || -> Result<Dataplane> {
        let mut dp = Dataplane::load(&dir)?;
        let attachment = dp.attach("eth0", XdpModeChoice::Auto, false)?.clone();
        assert_eq!(
            attachment.mode,
            XdpModeChoice::Skb,
            "auto picks skb on veth, where native XDP_TX replies are lost"
        );
        Ok(dp)
    })?;

    // Not held yet: nobody answers.
    assert!(
        !arping(&lab, client, "1", "2")?,
        "no answer before ownership"
    );

    dp.set_owned(ifindex, IpAddr::from(VIP4), OWNER_MAC, 7, true)?;
    dp.set_owned(ifindex, IpAddr::from(VIP6), OWNER_MAC, 7, true)?;
    dp.set_fence_bound(Duration::from_secs(3600))?;
    dp.heartbeat()?;
    assert!(arping(&lab, client, "3", "5")?, "XDP answers arping");
    assert!(
        ns_answered(&lab, client, Duration::from_secs(5))?,
        "XDP answers the NS with an NA that reaches the client"
    );
    let c = dp.counters()?;
    let l2 = c.l2_for(ifindex).context("L2 counters")?;
    assert!(l2.arp_replies_sent >= 1, "{l2:?}");
    assert!(l2.na_sent >= 1, "{l2:?}");

    // Stop heartbeating: within the bound the answers stop.
    dp.set_fence_bound(Duration::from_millis(500))?;
    dp.heartbeat()?;
    wait_for("ARP answers to stop", Duration::from_secs(20), || {
        (!arping(&lab, client, "1", "1").ok()?).then_some(())
    })?;
    assert!(!ns_answered(&lab, client, Duration::from_secs(1))?);
    let l2 = dp
        .counters()?
        .l2_for(ifindex)
        .cloned()
        .context("L2 counters")?;
    assert!(l2.arp_fenced >= 1 && l2.ns_fenced >= 1, "{l2:?}");

    // Heartbeat again: answers are back.
    dp.set_fence_bound(Duration::from_secs(3600))?;
    dp.heartbeat()?;
    assert!(arping(&lab, client, "3", "5")?, "answers resume");
    assert!(ns_answered(&lab, client, Duration::from_secs(5))?);

    // Released: the kernel's rules apply again (and it is told to stay quiet).
    dp.clear_owned(ifindex, IpAddr::from(VIP4))?;
    assert!(!arping(&lab, client, "1", "2")?, "no answer once released");

    println!("{}", serde_json::to_string_pretty(&dp.counters()?)?);
    for map in vip_common::MAP_NAMES {
        let pin = dp.pin_dir().join(map);
        println!("bpftool -j map dump pinned {}:", pin.display());
        println!("{}", serde_json::to_string(&tests::bpftool_dump(&pin)?)?);
    }
    let out = run(Command::new("bpftool").args(["-j", "prog", "show", "name", "vip_xdp"]))?;
    println!("{}", String::from_utf8_lossy(&out.stdout));
    dp.shutdown()?;
    Ok(())
}

#[test]
fn xdp_verifier_accepts_native_and_skb_and_a_second_program_is_refused() -> Result<()> {
    let mut lab = Lab::new()?;
    let node = lab.add_node("dut", "eth0", &["10.0.0.1/24"])?;
    let _peer = lab.add_node("peer", "eth0", &["10.0.0.2/24"])?;
    let first = lab.bpffs_dir("first");
    let second = lab.bpffs_dir("second");
    lab.node(node).ns.in_thread(move || {
        for mode in [XdpModeChoice::Native, XdpModeChoice::Skb] {
            let mut dp = Dataplane::load(&first)?;
            let attachment = dp.attach("eth0", mode, false)?.clone();
            assert_eq!(attachment.mode, mode);
            let link = run(Command::new("ip").args(["-j", "link", "show", "dev", "eth0"]))?;
            let text = String::from_utf8_lossy(&link.stdout).into_owned();
            // iproute2's XDP_ATTACHED_*: 1 driver, 2 generic (skb).
            let expected = match mode {
                XdpModeChoice::Native => "\"xdp\":{\"mode\":1",
                _ => "\"xdp\":{\"mode\":2",
            };
            assert!(text.contains(expected), "{mode:?}: {text}");

            // A second agent must not replace the program silently.
            let mut other = Dataplane::load(&second)?;
            match other.attach("eth0", mode, false) {
                Err(DataplaneError::XdpInUse { .. }) => {}
                Err(other) => panic!("{mode:?}: expected XdpInUse, got {other}"),
                Ok(_) => panic!("{mode:?}: a second program was attached over the first"),
            }
            other.shutdown()?;
            dp.shutdown()?;
        }
        Ok(())
    })
}
