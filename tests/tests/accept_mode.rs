//! `accept` / `no_accept` side by side with keepalived 2.2.7 (which puts
//! the VIPs of a `no_accept` instance in an nftables drop set; vip-agent's
//! XDP program drops the frames instead): on a Master that is not the
//! address owner,
//! - with `no_accept`, a client's pings to the IPv4 and the IPv6 VIP get no
//!   answer, while the client still resolves both VIPs to the Master's MAC
//!   (ARP and NS are answered) and pings to the Master's own addresses are
//!   answered; vip-agent counts each dropped frame in `L2_STATS`;
//! - with `accept`, the same pings are answered and nothing is counted.

use std::{net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use tests::{
    agent::{holders, mac_text, neighbour_mac},
    l2_stats,
    side_by_side::{Implementation, Router},
    stat, wait_for, Lab,
};

/// Generous: two noisy cores.
const BOUND: Duration = Duration::from_secs(40);
const VIP4: &str = "10.65.0.100";
const VIP6: &str = "2001:db8:65::100";
/// Echo requests sent to each VIP that must go unanswered.
const REFUSED_PINGS: u64 = 5;

fn config(mode: &str) -> String {
    format!(
        "vrrp_instance V4 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 65\n    \
         priority 150\n    advert_int 1\n    {mode}\n    virtual_ipaddress {{\n        {VIP4}/24\n    }}\n}}\n\
         vrrp_instance V6 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 66\n    \
         priority 150\n    advert_int 1\n    version 3\n    {mode}\n    virtual_ipaddress {{\n        \
         {VIP6}/64\n    }}\n}}\n"
    )
}

/// `ping -c COUNT` from the client: the number of replies, and ping's output.
fn ping(lab: &Lab, client: usize, to: &str, count: u64) -> Result<(u64, String)> {
    let out = lab
        .node(client)
        .ns
        .command("ping")
        .args(["-n", "-i", "0.2", "-W", "1", "-c", &count.to_string(), to])
        .output()
        .context("running ping")?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // "5 packets transmitted, 0 received, 100% packet loss, time 817ms"
    let received = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no summary in ping's output: {text}"))?;
    Ok((received, text))
}

/// The router's `no_accept_dropped` counter (vip-agent only).
fn no_accept_dropped(lab: &mut Lab, router: usize) -> Result<u64> {
    let ifindex = lab.node(router).ns.ifindex("eth0")?;
    let pin = lab.bpffs_dir("r").join("L2_STATS");
    Ok(stat(&l2_stats(&pin, ifindex)?, "no_accept_dropped"))
}

fn run(implementation: Implementation, accept: bool) -> Result<()> {
    let mode = if accept { "accept" } else { "no_accept" };
    let name = format!("{} {mode}", implementation.name());
    let mut lab = Lab::new()?;
    let router = lab.add_node("r", "eth0", &["10.65.0.1/24", "2001:db8:65::1/64"])?;
    let client = lab.add_node("c", "eth0", &["10.65.0.2/24", "2001:db8:65::2/64"])?;
    let running = Router::start(&mut lab, router, "r", implementation, &config(mode))?;
    let vips: [IpAddr; 2] = [VIP4.parse()?, VIP6.parse()?];
    wait_for(
        &format!("{name}: the router to hold both VIPs"),
        BOUND,
        || {
            vips.iter()
                .all(|vip| holders(&lab, &[router], "eth0", *vip) == [router])
                .then_some(())
        },
    )?;

    // The path works: the router's own addresses answer.
    for own in ["10.65.0.1", "2001:db8:65::1"] {
        let (received, text) = ping(&lab, client, own, 1)?;
        ensure!(received == 1, "{name}: no answer from {own}: {text}");
    }

    let dropped_before = match running {
        Router::Agent(_) => Some(no_accept_dropped(&mut lab, router)?),
        Router::Keepalived(_) => None,
    };
    let router_mac = mac_text(lab.node(router).ns.mac("eth0")?);
    for vip in [VIP4, VIP6] {
        if accept {
            // The first echo may wait on address resolution: retried, bounded.
            let mut last = String::new();
            wait_for(&format!("{name}: an answer from {vip}"), BOUND, || {
                let (received, text) = ping(&lab, client, vip, 1).ok()?;
                last = text;
                (received == 1).then_some(())
            })
            .with_context(|| last.clone())?;
        } else {
            let (received, text) = ping(&lab, client, vip, REFUSED_PINGS)?;
            ensure!(
                received == 0,
                "{name}: {vip} answered {received} of {REFUSED_PINGS} echo requests: {text}"
            );
        }
        // ARP / NS answered either way: the echo requests reached the router.
        let neighbour = neighbour_mac(&lab, client, vip);
        ensure!(
            neighbour.as_deref() == Some(router_mac.as_str()),
            "{name}: the client resolves {vip} to {neighbour:?}, not to the router's {router_mac}"
        );
    }

    if let Some(before) = dropped_before {
        let dropped = no_accept_dropped(&mut lab, router)? - before;
        if accept {
            ensure!(
                dropped == 0,
                "{name}: {dropped} frames counted as no_accept drops"
            );
        } else {
            ensure!(
                dropped >= 2 * REFUSED_PINGS,
                "{name}: {dropped} frames counted as no_accept drops, sent {}",
                2 * REFUSED_PINGS
            );
        }
        println!("{name}: {dropped} frames dropped by the XDP accept rule");
    }
    println!(
        "{name}: pings to the VIPs {}",
        if accept { "answered" } else { "dropped" }
    );
    drop(running);
    lab.passed();
    Ok(())
}

#[test]
fn no_accept_drops_traffic_to_the_vips_and_accept_lets_it_through_as_with_keepalived() -> Result<()>
{
    tests::require_root();
    ensure!(
        std::env::var("VIP_AGENT_TEST_XDP_MODE").as_deref() != Ok("off"),
        "no_accept is enforced by the XDP program: this test needs it on"
    );
    for implementation in Implementation::BOTH {
        for accept in [false, true] {
            run(implementation, accept)?;
        }
    }
    Ok(())
}
