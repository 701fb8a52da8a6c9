//! `use_vmac`, and side by side with keepalived 2.2.7 on the same
//! configuration. Under both, the VIP lives on a private-mode macvlan
//! `vrrp.51` with 00:00:5e:00:01:33 and keepalived's sysctls, ARP requests
//! for the VIP are answered with that MAC, the adverts leave from it (from
//! the base interface with `vmac_xmit_base`), and the two interoperate
//! through failover and back. vip-agent answers ARP from its XDP program on
//! the base interface, with the VMAC; a VMAC an operator deletes is made
//! again; a clean stop deletes it and gives the base its sysctls back.
//!
//! Between two vip-agent routers a client's ARP cache holds the VMAC and
//! keeps it through failover and back while it pings the VIP. keepalived
//! differs there, and vip-agent on purpose: keepalived's base interface
//! resolves the client for a reply sent from the VIP with an ARP request
//! naming the VIP and the base's MAC, so the client's cache takes that MAC
//! (the test prints what it saw); vip-agent sets the base's `arp_announce`
//! to 2, so its requests name the base's own address.
//!
//! IPv6: the VMAC has 00:00:5e:00:02:VRID and the base's link-local
//! address; NS for the VIP are answered with the VMAC, the adverts leave
//! from it, with keepalived as the other router too.

use std::{net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{arping, mac_text, neighbour_mac, wait_for_sole_holder, AgentProcess},
    frames::{parse_ethernet_frame, PacketSocket},
    l2_stats,
    side_by_side::{Implementation, Router},
    stat, wait_for, Lab,
};

/// Generous: two noisy cores; a VRRPv2 election at 1 s takes about 3.6 s.
const BOUND: Duration = Duration::from_secs(40);
const VRID: u8 = 51;
const VMAC_NAME: &str = "vrrp.51";
const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, VRID];
const VIP: &str = "10.51.0.100";

fn config(priority: u8, xmit_base: bool) -> String {
    let xmit_base = if xmit_base {
        "    vmac_xmit_base\n"
    } else {
        ""
    };
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    advert_int 1\n    use_vmac\n{xmit_base}    virtual_ipaddress {{\n        \
         {VIP}/24\n    }}\n}}\n"
    )
}

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

/// `/proc/sys/net/ipv4/conf/IF/NAME` in the node's namespace.
fn sysctl(lab: &Lab, node: usize, interface: &str, name: &str) -> Result<String> {
    let out = lab.node(node).ns.exec(
        "cat",
        &[&format!("/proc/sys/net/ipv4/conf/{interface}/{name}")],
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The node's VMAC as `ip -d` shows it: kind, macvlan mode, MAC, base.
fn vmac_link(lab: &Lab, node: usize) -> Result<(String, String, String, String)> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-d", "-j", "link", "show", "dev", VMAC_NAME])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let link = &json[0];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Ok((
        text(&link["linkinfo"]["info_kind"]),
        text(&link["linkinfo"]["info_data"]["mode"]),
        text(&link["address"]),
        text(&link["link"]),
    ))
}

/// The VMAC exists on `node` as keepalived makes it.
fn check_vmac(lab: &Lab, node: usize, who: &str) -> Result<()> {
    let (kind, mode, mac, base) = vmac_link(lab, node)?;
    ensure!(
        (kind.as_str(), mode.as_str(), base.as_str()) == ("macvlan", "private", "eth0")
            && mac == mac_text(VMAC),
        "{who}: {VMAC_NAME} is {kind} mode {mode} with {mac} on {base}"
    );
    for (interface, name, want) in [
        (VMAC_NAME, "arp_ignore", "1"),
        (VMAC_NAME, "accept_local", "1"),
        (VMAC_NAME, "rp_filter", "0"),
        (VMAC_NAME, "promote_secondaries", "1"),
        ("eth0", "arp_ignore", "1"),
        ("eth0", "arp_filter", "1"),
        // keepalived's clear_rp_filter: the routers start strict.
        ("all", "rp_filter", "0"),
        ("default", "rp_filter", "1"),
        ("eth0", "rp_filter", "1"),
    ] {
        let value = sysctl(lab, node, interface, name)?;
        ensure!(
            value == want,
            "{who}: {interface} {name} is {value}, not {want}"
        );
    }
    Ok(())
}

/// The source MAC of the next VRRP advert for [`VRID`] the client sees.
fn advert_source_mac(lab: &Lab, client: usize) -> Result<[u8; 6]> {
    let interface = lab.node(client).interface.clone();
    let socket = lab
        .node(client)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let frame = socket
        .recv_matching(BOUND, |frame| {
            parse_ethernet_frame(frame).is_ok_and(|p| p.payload.get(1) == Some(&VRID))
        })?
        .context("no advert seen")?;
    Ok(frame[6..12].try_into()?)
}

/// The client pings the VIP; returns the MAC its ARP cache then holds.
fn client_pings_vip(lab: &Lab, client: usize, when: &str) -> Result<String> {
    let out = lab
        .node(client)
        .ns
        .command("ping")
        .args(["-c", "2", "-i", "0.2", "-W", "2", VIP])
        .output()?;
    ensure!(
        out.status.success(),
        "{when}: the client cannot reach the VIP: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    neighbour_mac(lab, client, VIP).with_context(|| format!("{when}: no neighbour entry"))
}

/// The client reaches the VIP and its ARP cache holds the VMAC.
fn client_keeps_vmac(lab: &Lab, client: usize, when: &str) -> Result<()> {
    let mac = client_pings_vip(lab, client, when)?;
    ensure!(
        mac == mac_text(VMAC),
        "{when}: the client's ARP cache holds {mac} for the VIP, not the VMAC"
    );
    Ok(())
}

/// ARP requests for the VIP get the VMAC.
fn arp_answers_vmac(lab: &Lab, client: usize, when: &str) -> Result<()> {
    let replied = arping(lab, client, "eth0", vip())?;
    ensure!(
        replied == VMAC,
        "{when}: ARP for the VIP is answered with {}",
        mac_text(replied)
    );
    Ok(())
}

fn advert_from(lab: &Lab, client: usize, want: [u8; 6], when: &str) -> Result<()> {
    let source = advert_source_mac(lab, client)?;
    ensure!(
        source == want,
        "{when}: the adverts leave from {}, not from {}",
        mac_text(source),
        mac_text(want)
    );
    Ok(())
}

struct Pair {
    lab: Lab,
    routers: [usize; 2],
    client: usize,
}

impl Pair {
    fn new() -> Result<Self> {
        let mut lab = Lab::new()?;
        let high = lab.add_node("a", "eth0", &["10.51.0.1/24"])?;
        let low = lab.add_node("b", "eth0", &["10.51.0.2/24"])?;
        let client = lab.add_node("c", "eth0", &["10.51.0.9/24"])?;
        // Strict reverse-path filtering, as a hardened gateway has it: the
        // VMAC's own rp_filter 0 counts only once `all` is 0.
        for node in [high, low] {
            lab.node(node)
                .ns
                .sysctl("net.ipv4.conf.all.rp_filter", "1")?;
        }
        Ok(Pair {
            lab,
            routers: [high, low],
            client,
        })
    }

    fn start(
        &mut self,
        node: usize,
        implementation: Implementation,
        config: &str,
    ) -> Result<Router> {
        let role = if node == self.routers[0] { "a" } else { "b" };
        Router::start(&mut self.lab, node, role, implementation, config)
    }

    fn holder_is(&self, node: usize, when: &str) -> Result<()> {
        wait_for_sole_holder(&self.lab, &self.routers, VMAC_NAME, vip(), node, BOUND)
            .with_context(|| format!("{when}: waiting for node {node} to hold the VIP"))?;
        Ok(())
    }

    /// The node's eth0 goes down (up).
    fn set_link(&self, node: usize, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        self.lab.node(node).ns.ip(&["link", "set", "eth0", state])?;
        Ok(())
    }
}

fn agent(router: Router) -> AgentProcess {
    match router {
        Router::Agent(agent) => agent,
        Router::Keepalived(_) => unreachable!("started as vip-agent"),
    }
}

/// Two vip-agent routers: the client's ARP cache holds the VMAC through
/// failover and back; vip-agent's XDP answers ARP with it; a deleted VMAC
/// is made again; a clean stop removes it and restores the base.
#[test]
fn vmac_pair_keeps_the_clients_arp_cache_through_failover() -> Result<()> {
    tests::require_root();
    let mut pair = Pair::new()?;
    let [high, low] = pair.routers;
    let client = pair.client;
    let mut master = agent(pair.start(high, Implementation::VipAgent, &config(150, false))?);
    let _backup = pair.start(low, Implementation::VipAgent, &config(100, false))?;
    pair.holder_is(high, "start")?;
    let lab = &pair.lab;
    check_vmac(lab, high, "vip-agent Master")?;
    check_vmac(lab, low, "vip-agent Backup")?;
    for node in [high, low] {
        let value = sysctl(lab, node, "eth0", "arp_announce")?;
        ensure!(
            value == "2",
            "node {node}: eth0 arp_announce is {value}, not 2"
        );
    }
    advert_from(lab, client, VMAC, "vip-agent Master")?;

    let ifindex = lab.node(high).ns.ifindex("eth0")?;
    let pin = pair.lab.bpffs_dir("a").join("L2_STATS");
    let lab = &pair.lab;
    arp_answers_vmac(lab, client, "vip-agent Master")?;
    // The client is the only one asking for the VIP.
    let sent = stat(&l2_stats(&pin, ifindex)?, "arp_replies_sent");
    ensure!(sent > 0, "the ARP reply did not come from XDP on eth0");
    client_keeps_vmac(lab, client, "Master a")?;

    pair.set_link(high, false)?;
    pair.holder_is(low, "a's link down")?;
    client_keeps_vmac(&pair.lab, client, "after the failover to b")?;
    pair.set_link(high, true)?;
    pair.holder_is(high, "a's link up")?;
    client_keeps_vmac(&pair.lab, client, "after the take-back by a")?;

    // An operator deletes the Master's VMAC: the VIP moves to the Backup
    // meanwhile; the VMAC is made again and the Master takes the VIP back.
    let lab = &pair.lab;
    let old_index = lab.node(high).ns.ifindex(VMAC_NAME)?;
    lab.node(high).ns.ip(&["link", "del", VMAC_NAME])?;
    wait_for("vip-agent to make its VMAC again", BOUND, || {
        lab.node(high)
            .ns
            .ifindex(VMAC_NAME)
            .ok()
            .filter(|&i| i != old_index)
    })?;
    pair.holder_is(high, "VMAC made again")?;
    check_vmac(&pair.lab, high, "vip-agent, VMAC made again")?;
    client_keeps_vmac(&pair.lab, client, "VMAC made again")?;

    master.signal(Signal::SIGTERM)?;
    master.wait_exit(BOUND)?;
    let lab = &pair.lab;
    ensure!(
        lab.node(high).ns.ifindex(VMAC_NAME).is_err(),
        "the VMAC is still there after vip-agent stopped"
    );
    for (interface, name, was) in [
        ("eth0", "arp_ignore", "0"),
        ("eth0", "arp_filter", "0"),
        ("eth0", "arp_announce", "0"),
        ("eth0", "rp_filter", "0"),
        ("default", "rp_filter", "0"),
        ("all", "rp_filter", "1"),
    ] {
        let value = sysctl(lab, high, interface, name)?;
        ensure!(
            value == was,
            "{interface} {name} is {value} after the stop, not {was} again"
        );
    }
    pair.holder_is(low, "a stopped")?;
    client_keeps_vmac(&pair.lab, client, "b Master after a stopped")?;
    pair.lab.passed();
    Ok(())
}

/// vip-agent Master and keepalived Backup on the same configuration, and
/// the reverse with `vmac_xmit_base`: both make the VMAC alike, answer ARP
/// with it, send adverts from it (from the base with `vmac_xmit_base`), and
/// hand the VIP to each other and back.
#[test]
fn vmac_side_by_side_with_keepalived() -> Result<()> {
    tests::require_root();
    for xmit_base in [false, true] {
        let mut pair = Pair::new()?;
        let [high, low] = pair.routers;
        let client = pair.client;
        let (high_impl, low_impl) = if xmit_base {
            (Implementation::Keepalived, Implementation::VipAgent)
        } else {
            (Implementation::VipAgent, Implementation::Keepalived)
        };
        let _high = pair.start(high, high_impl, &config(150, xmit_base))?;
        let _low = pair.start(low, low_impl, &config(100, xmit_base))?;
        pair.holder_is(high, "start")?;
        let lab = &pair.lab;
        check_vmac(lab, high, high_impl.name())?;
        check_vmac(lab, low, low_impl.name())?;
        for (node, implementation) in [(high, high_impl), (low, low_impl)] {
            let when = format!(
                "{} Master (vmac_xmit_base {xmit_base})",
                implementation.name()
            );
            if node == low {
                pair.set_link(high, false)?;
                pair.holder_is(low, &when)?;
            }
            let lab = &pair.lab;
            let want = if xmit_base {
                lab.node(node).ns.mac("eth0")?
            } else {
                VMAC
            };
            advert_from(lab, client, want, &when)?;
            arp_answers_vmac(lab, client, &when)?;
            let cached = client_pings_vip(lab, client, &when)?;
            println!("{when}: the client's ARP cache holds {cached} for the VIP");
            if implementation == Implementation::VipAgent {
                ensure!(
                    cached == mac_text(VMAC),
                    "{when}: the client's ARP cache holds {cached}, not the VMAC"
                );
            }
        }
        pair.set_link(high, true)?;
        pair.holder_is(high, "the first Master's link up again")?;
        arp_answers_vmac(&pair.lab, client, "after the take-back")?;
        pair.lab.passed();
    }
    Ok(())
}

const VMAC6: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x02, VRID];
const VIP6: &str = "2001:db8:51::100";

fn config6(priority: u8) -> String {
    format!(
        "vrrp_instance VI_6 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    advert_int 1\n    use_vmac\n    virtual_ipaddress {{\n        \
         {VIP6}/64\n    }}\n}}\n"
    )
}

/// The IPv6 link-local addresses on `interface` in the node's namespace.
fn link_locals(lab: &Lab, node: usize, interface: &str) -> Result<Vec<IpAddr>> {
    let out = lab.node(node).ns.ip(&[
        "-j", "-6", "addr", "show", "dev", interface, "scope", "link",
    ])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(json[0]["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["local"].as_str()?.parse().ok())
        .collect())
}

/// The next VRRP advert for [`VRID`] the client sees: source MAC and
/// source address.
fn advert_source(lab: &Lab, client: usize) -> Result<([u8; 6], IpAddr)> {
    let interface = lab.node(client).interface.clone();
    let socket = lab
        .node(client)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let frame = socket
        .recv_matching(BOUND, |frame| {
            parse_ethernet_frame(frame)
                .is_ok_and(|p| p.src.is_ipv6() && p.payload.get(1) == Some(&VRID))
        })?
        .context("no IPv6 advert seen")?;
    let source = parse_ethernet_frame(&frame)
        .map_err(anyhow::Error::msg)?
        .src;
    Ok((frame[6..12].try_into()?, source))
}

/// The client reaches the IPv6 VIP (one ping at a time, for up to
/// [`BOUND`]) and its neighbour entry holds the VMAC. Not at once: a
/// router that leaves Master deletes the VIP from its VMAC and its kernel
/// reports leaving the VIP's solicited-node group (MLD) from the VMAC, so
/// the bridge forwards the VMAC to that router until the new Master's next
/// frame; keepalived's VMAC does the same. The test prints how long the
/// client waited.
fn client_keeps_vmac6(lab: &Lab, client: usize, when: &str) -> Result<()> {
    let start = std::time::Instant::now();
    wait_for(
        &format!("{when}: the client to reach the VIP"),
        BOUND,
        || {
            let out = lab
                .node(client)
                .ns
                .command("ping")
                .args(["-6", "-n", "-c", "1", "-W", "1", VIP6])
                .output()
                .ok()?;
            out.status.success().then_some(())
        },
    )?;
    println!(
        "{when}: the client reached the VIP after {:?}",
        start.elapsed()
    );
    let mac =
        neighbour_mac(lab, client, VIP6).with_context(|| format!("{when}: no neighbour entry"))?;
    ensure!(
        mac == mac_text(VMAC6),
        "{when}: the client's neighbour entry holds {mac} for the VIP, not the VMAC"
    );
    Ok(())
}

/// IPv6 `use_vmac` between two vip-agent routers, then with keepalived as
/// the low router: the VMAC carries
/// 00:00:5e:00:02:VRID and the base's link-local address, so the adverts
/// leave from the VMAC with the same source address as without one
/// (RFC 5798 section 5.1.2.1); XDP on the base answers NS for the VIP with
/// the VMAC; the client's neighbour entry keeps it through failover.
#[test]
fn ipv6_vmac_pair_answers_neighbour_solicitations_with_the_vmac() -> Result<()> {
    tests::require_root();
    for low_impl in [Implementation::VipAgent, Implementation::Keepalived] {
        ipv6_vmac_pair(low_impl)?;
    }
    Ok(())
}

fn ipv6_vmac_pair(low_impl: Implementation) -> Result<()> {
    let mut lab = Lab::new()?;
    let high = lab.add_node("a", "eth0", &["2001:db8:51::1/64"])?;
    let low = lab.add_node("b", "eth0", &["2001:db8:51::2/64"])?;
    let client = lab.add_node("c", "eth0", &["2001:db8:51::9/64"])?;
    let vip6: IpAddr = VIP6.parse()?;
    let _high = Router::start(&mut lab, high, "a", Implementation::VipAgent, &config6(150))?;
    let _low = Router::start(&mut lab, low, "b", low_impl, &config6(100))?;
    let low_name = low_impl.name();
    let routers = [high, low];
    wait_for_sole_holder(&lab, &routers, VMAC_NAME, vip6, high, BOUND)?;
    for node in routers {
        let (kind, mode, mac, base) = vmac_link(&lab, node)?;
        ensure!(
            (kind.as_str(), mode.as_str(), base.as_str()) == ("macvlan", "private", "eth0")
                && mac == mac_text(VMAC6),
            "node {node} ({low_name} low): {VMAC_NAME} is {kind} mode {mode} with {mac} on {base}"
        );
        let accept_ra = lab.node(node).ns.exec(
            "cat",
            &[&format!("/proc/sys/net/ipv6/conf/{VMAC_NAME}/accept_ra")],
        )?;
        let accept_ra = String::from_utf8_lossy(&accept_ra.stdout)
            .trim()
            .to_string();
        if node == high || low_impl == Implementation::VipAgent {
            ensure!(
                accept_ra == "0",
                "node {node}: {VMAC_NAME} accept_ra is {accept_ra}, not 0"
            );
        }
        let base_link_local = link_locals(&lab, node, "eth0")?;
        let vmac_link_local = link_locals(&lab, node, VMAC_NAME)?;
        ensure!(
            !base_link_local.is_empty() && vmac_link_local == base_link_local,
            "node {node} ({low_name} low): {VMAC_NAME} has link-local {vmac_link_local:?}, eth0 {base_link_local:?}"
        );
    }
    let (mac, source) = advert_source(&lab, client)?;
    let high_link_local = link_locals(&lab, high, "eth0")?;
    ensure!(
        mac == VMAC6 && high_link_local.contains(&source),
        "the Master's adverts leave from {} {source}, not from the VMAC with {high_link_local:?}",
        mac_text(mac)
    );

    let ifindex = lab.node(high).ns.ifindex("eth0")?;
    let pin = lab.bpffs_dir("a").join("L2_STATS");
    client_keeps_vmac6(&lab, client, "Master a")?;
    let sent = stat(&l2_stats(&pin, ifindex)?, "na_sent");
    ensure!(sent > 0, "the NA for the VIP did not come from XDP on eth0");

    lab.node(high).ns.ip(&["link", "set", "eth0", "down"])?;
    wait_for_sole_holder(&lab, &routers, VMAC_NAME, vip6, low, BOUND)?;
    let (mac, source) = advert_source(&lab, client)?;
    let low_link_local = link_locals(&lab, low, "eth0")?;
    ensure!(
        mac == VMAC6 && low_link_local.contains(&source),
        "{low_name} Master's adverts leave from {} {source}, not from the VMAC with {low_link_local:?}",
        mac_text(mac)
    );
    client_keeps_vmac6(&lab, client, &format!("after the failover to {low_name}"))?;
    lab.node(high).ns.ip(&["link", "set", "eth0", "up"])?;
    wait_for_sole_holder(&lab, &routers, VMAC_NAME, vip6, high, BOUND)?;
    client_keeps_vmac6(&lab, client, "after the take-back by a")?;
    lab.passed();
    Ok(())
}
