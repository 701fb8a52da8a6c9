//! tshark as an independent decoder of everything vip-agent puts on the
//! wire. Two agents run an IPv4 VRRPv2 instance with PASS authentication
//! and an IPv6 VRRPv3 instance; a third namespace on the same bridge
//! captures with tcpdump while the Master resigns (priority 0) and the
//! Backup takes over (gratuitous ARP, unsolicited NA), then the new Master
//! resigns too. tshark then decodes the capture: every VRRP checksum is
//! good and every field is the configuration; the ARP and NA frames
//! announce the VIPs with the Master's MAC.

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};
use tests::{
    agent::{mac_text, AgentProcess, AgentSpec},
    run, wait_for, Lab,
};

const BOUND: Duration = Duration::from_secs(40);
const VIP4: &str = "10.8.0.70";
const VIP6: &str = "2001:db8:8::70";
const VRID4: u8 = 81;
const VRID6: u8 = 82;
const PASS: &str = "mypassword";
/// keepalived keeps the first 8 characters; so does vip-agent.
const PASS_SENT: &str = "mypasswo";
const PRIO_A: u8 = 150;
const PRIO_B: u8 = 100;

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance V4 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID4}\n    \
         priority {priority}\n    advert_int 1\n    authentication {{\n        auth_type PASS\n        \
         auth_pass {PASS}\n    }}\n    virtual_ipaddress {{\n        {VIP4}/24\n    }}\n}}\n\
         vrrp_instance V6 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID6}\n    \
         priority {priority}\n    advert_int 0.5\n    version 3\n    virtual_ipaddress {{\n        {VIP6}/64\n    }}\n}}\n"
    )
}

fn states(agent: &AgentProcess) -> Option<BTreeMap<String, (String, u64)>> {
    let status = agent.status().ok()?;
    Some(
        status["instances"]
            .as_array()?
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap_or("").to_string(),
                    (
                        i["state"].as_str().unwrap_or("").to_string(),
                        i["adverts_sent"].as_u64().unwrap_or(0),
                    ),
                )
            })
            .collect(),
    )
}

fn wait_both(agent: &AgentProcess, state: &str, min_sent: u64) -> Result<()> {
    wait_for(
        &format!("{} to be {state} in V4 and V6", agent.role),
        BOUND,
        || {
            let s = states(agent)?;
            (s.len() == 2
                && s.values()
                    .all(|(st, sent)| st == state && *sent >= min_sent))
            .then_some(())
        },
    )
}

/// `tshark -r FILE -Y FILTER -T fields -e ...`: one map per frame.
fn tshark_fields(
    file: &Path,
    filter: &str,
    fields: &[&str],
) -> Result<Vec<BTreeMap<String, String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-o", "ip.check_checksum:TRUE", "-Y", filter])
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = run(&mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            fields
                .iter()
                .zip(line.split('|'))
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect()
        })
        .collect())
}

/// A checksum status as tshark prints it in fields mode ("1"/"Good").
fn good(status: &str) -> bool {
    status == "1" || status.eq_ignore_ascii_case("good")
}

#[test]
fn tshark_decodes_every_vrrp_arp_and_na_frame_as_configured() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.8.0.1/24", "2001:db8:8::1/64"])?;
    let b = lab.add_node("b", "eth0", &["10.8.0.2/24", "2001:db8:8::2/64"])?;
    let tap = lab.add_node("tap", "eth0", &[])?;
    let mac_a = mac_text(lab.node(a).ns.mac("eth0")?);
    let mac_b = mac_text(lab.node(b).ns.mac("eth0")?);
    let priority_of = |mac: &str| -> Option<u8> {
        if mac == mac_a {
            Some(PRIO_A)
        } else if mac == mac_b {
            Some(PRIO_B)
        } else {
            None
        }
    };

    // Capture on the segment: VRRP and ARP are multicast/broadcast and the
    // unsolicited NA goes to ff02::1, so the bridge floods them to the tap.
    let pcap = lab.work_dir().join("capture.pcap");
    let tcpdump_log = lab.work_dir().join("tcpdump.log");
    let log = std::fs::File::create(&tcpdump_log)?;
    let mut tcpdump = lab
        .node(tap)
        .ns
        .command("tcpdump")
        .args(["-i", "eth0", "-U", "-n", "-w"])
        .arg(&pcap)
        .arg("ip proto 112 or ip6 proto 112 or arp or icmp6")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting tcpdump")?;
    lab.register_log("tcpdump", &tcpdump_log);
    wait_for("tcpdump to listen", BOUND, || {
        std::fs::read_to_string(&tcpdump_log)
            .ok()?
            .contains("listening on")
            .then_some(())
    })?;

    let write = |name: &str, text: String| -> Result<std::path::PathBuf> {
        let p = lab.work_dir().join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    };
    let conf_a = write("a.conf", config(PRIO_A))?;
    let conf_b = write("b.conf", config(PRIO_B))?;
    let mut agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
    wait_both(&agent_a, "MASTER", 3)?;
    let mut agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
    wait_for("b to settle as Backup", BOUND, || {
        let status = agent_b.status().ok()?;
        status["instances"]
            .as_array()?
            .iter()
            .all(|i| i["state"] == "BACKUP" && i["adverts_received"].as_u64() >= Some(3))
            .then_some(())
    })?;
    // a resigns (priority 0), b takes over (gratuitous ARP, unsolicited NA).
    agent_a.signal(Signal::SIGTERM)?;
    ensure!(agent_a.wait_exit(BOUND)?.success(), "a exits 0 on SIGTERM");
    wait_both(&agent_b, "MASTER", 4)?;
    agent_b.signal(Signal::SIGTERM)?;
    ensure!(agent_b.wait_exit(BOUND)?.success(), "b exits 0 on SIGTERM");
    // Let the last frames reach the tap, then stop the capture cleanly.
    // (tshark may complain about a last frame being written: look at what
    // it decoded regardless of its exit status.)
    let resignations = |mac: &str| -> usize {
        Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-Y", "vrrp.prio == 0", "-T", "fields", "-e", "eth.src"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| l.trim() == mac)
                    .count()
            })
            .unwrap_or(0)
    };
    wait_for("the capture file to hold b's resignations", BOUND, || {
        (resignations(&mac_b) >= 2).then_some(())
    })
    .with_context(|| {
        format!(
            "b's priority-0 adverts in the capture: {}",
            resignations(&mac_b)
        )
    })?;
    nix::sys::signal::kill(Pid::from_raw(tcpdump.id() as i32), Signal::SIGINT)?;
    wait_for("tcpdump to exit", BOUND, || {
        tcpdump.try_wait().ok().flatten()
    })?;

    // --- VRRP ------------------------------------------------------------
    let vrrp = tshark_fields(
        &pcap,
        "vrrp",
        &[
            "frame.number",
            "eth.src",
            "eth.dst",
            "ip.src",
            "ip.dst",
            "ip.ttl",
            "ip.checksum.status",
            "ipv6.src",
            "ipv6.dst",
            "ipv6.hlim",
            "vrrp.version",
            "vrrp.type",
            "vrrp.virt_rtr_id",
            "vrrp.prio",
            "vrrp.addr_count",
            "vrrp.checksum.status",
            "vrrp.auth_type",
            "vrrp.adver_int",
            "vrrp.short_adver_int",
            "vrrp.auth_string",
            "vrrp.ip_addr",
            "vrrp.ipv6_addr",
        ],
    )?;
    let mut seen: BTreeMap<(String, u8, String), usize> = BTreeMap::new();
    for f in &vrrp {
        let n = &f["frame.number"];
        let src = f["eth.src"].as_str();
        let configured = priority_of(src)
            .with_context(|| format!("frame {n}: VRRP from an unknown MAC {src}: {f:?}"))?;
        ensure!(
            good(&f["vrrp.checksum.status"]),
            "frame {n}: VRRP checksum not good: {f:?}"
        );
        ensure!(
            f["vrrp.type"] == "1",
            "frame {n}: not an advertisement: {f:?}"
        );
        let prio: u8 = f["vrrp.prio"].parse()?;
        ensure!(
            prio == configured || prio == 0,
            "frame {n}: priority {prio}, configured {configured}: {f:?}"
        );
        ensure!(f["vrrp.addr_count"] == "1", "frame {n}: one address: {f:?}");
        let vrid: u8 = f["vrrp.virt_rtr_id"].parse()?;
        match vrid {
            VRID4 => {
                ensure!(f["vrrp.version"] == "2", "frame {n}: version 2: {f:?}");
                ensure!(f["ip.ttl"] == "255", "frame {n}: TTL 255: {f:?}");
                ensure!(
                    good(&f["ip.checksum.status"]),
                    "frame {n}: IPv4 header checksum: {f:?}"
                );
                ensure!(
                    f["ip.dst"] == "224.0.0.18",
                    "frame {n}: to 224.0.0.18: {f:?}"
                );
                ensure!(f["eth.dst"] == "01:00:5e:00:00:12", "frame {n}: {f:?}");
                ensure!(
                    f["vrrp.auth_type"] == "1",
                    "frame {n}: auth type PASS: {f:?}"
                );
                ensure!(
                    f["vrrp.auth_string"] == PASS_SENT,
                    "frame {n}: auth string {PASS_SENT:?}: {f:?}"
                );
                ensure!(f["vrrp.adver_int"] == "1", "frame {n}: advert_int 1: {f:?}");
                ensure!(f["vrrp.ip_addr"] == VIP4, "frame {n}: VIP {VIP4}: {f:?}");
                let own = if src == mac_a { "10.8.0.1" } else { "10.8.0.2" };
                ensure!(f["ip.src"] == own, "frame {n}: source {own}: {f:?}");
                *seen
                    .entry((src.to_string(), prio, "v4".into()))
                    .or_default() += 1;
            }
            VRID6 => {
                ensure!(f["vrrp.version"] == "3", "frame {n}: version 3: {f:?}");
                ensure!(f["ipv6.hlim"] == "255", "frame {n}: hop limit 255: {f:?}");
                ensure!(f["ipv6.dst"] == "ff02::12", "frame {n}: to ff02::12: {f:?}");
                ensure!(f["eth.dst"] == "33:33:00:00:00:12", "frame {n}: {f:?}");
                ensure!(
                    f["ipv6.src"].starts_with("fe80::"),
                    "frame {n}: from a link-local address (RFC 5798 5.1.2.1): {f:?}"
                );
                ensure!(
                    f["vrrp.short_adver_int"] == "50",
                    "frame {n}: advert_int 0.5 s = 50 cs: {f:?}"
                );
                ensure!(f["vrrp.ipv6_addr"] == VIP6, "frame {n}: VIP {VIP6}: {f:?}");
                *seen
                    .entry((src.to_string(), prio, "v6".into()))
                    .or_default() += 1;
            }
            other => anyhow::bail!("frame {n}: unexpected VRID {other}: {f:?}"),
        }
    }
    for (mac, prio) in [(&mac_a, PRIO_A), (&mac_a, 0), (&mac_b, PRIO_B), (&mac_b, 0)] {
        for family in ["v4", "v6"] {
            ensure!(
                seen.get(&(mac.clone(), prio, family.to_string())).copied() >= Some(1),
                "no {family} advert with priority {prio} from {mac}; seen {seen:?}"
            );
        }
    }

    // --- gratuitous ARP ----------------------------------------------------
    let arp = tshark_fields(
        &pcap,
        &format!("arp.src.proto_ipv4 == {VIP4} || arp.dst.proto_ipv4 == {VIP4}"),
        &[
            "frame.number",
            "eth.src",
            "eth.dst",
            "arp.opcode",
            "arp.src.hw_mac",
            "arp.src.proto_ipv4",
            "arp.dst.proto_ipv4",
        ],
    )?;
    let mut garps: BTreeMap<String, usize> = BTreeMap::new();
    for f in &arp {
        let n = &f["frame.number"];
        ensure!(f["arp.opcode"] == "1", "frame {n}: an ARP request: {f:?}");
        ensure!(
            f["arp.src.proto_ipv4"] == VIP4 && f["arp.dst.proto_ipv4"] == VIP4,
            "frame {n}: sender = target = VIP: {f:?}"
        );
        ensure!(
            f["arp.src.hw_mac"] == f["eth.src"] && priority_of(&f["eth.src"]).is_some(),
            "frame {n}: sender MAC is the Master's interface MAC: {f:?}"
        );
        ensure!(
            f["eth.dst"] == "ff:ff:ff:ff:ff:ff",
            "frame {n}: broadcast: {f:?}"
        );
        *garps.entry(f["eth.src"].clone()).or_default() += 1;
    }
    ensure!(
        garps.get(&mac_a) >= Some(&1) && garps.get(&mac_b) >= Some(&1),
        "gratuitous ARP from both Masters (a {mac_a}, b {mac_b}): {garps:?}"
    );

    // --- unsolicited NA --------------------------------------------------
    let na = tshark_fields(
        &pcap,
        &format!("icmpv6.type == 136 && icmpv6.nd.na.target_address == {VIP6}"),
        &[
            "frame.number",
            "eth.src",
            "ipv6.dst",
            "ipv6.hlim",
            "icmpv6.checksum.status",
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.s",
            "icmpv6.nd.na.flag.o",
            "icmpv6.nd.na.target_address",
            "icmpv6.opt.type",
            "icmpv6.opt.linkaddr",
        ],
    )?;
    let mut nas: BTreeMap<String, usize> = BTreeMap::new();
    for f in &na {
        let n = &f["frame.number"];
        ensure!(
            good(&f["icmpv6.checksum.status"]),
            "frame {n}: ICMPv6 checksum: {f:?}"
        );
        ensure!(f["ipv6.hlim"] == "255", "frame {n}: hop limit 255: {f:?}");
        ensure!(
            f["icmpv6.nd.na.flag.o"] == "1",
            "frame {n}: Override set: {f:?}"
        );
        ensure!(
            f["icmpv6.nd.na.flag.s"] == "0",
            "frame {n}: unsolicited (S clear): {f:?}"
        );
        ensure!(
            f["icmpv6.opt.type"].split(',').any(|t| t == "2"),
            "frame {n}: a target link-layer address option: {f:?}"
        );
        ensure!(
            f["icmpv6.opt.linkaddr"] == f["eth.src"] && priority_of(&f["eth.src"]).is_some(),
            "frame {n}: target link-layer address = the Master's MAC: {f:?}"
        );
        *nas.entry(f["eth.src"].clone()).or_default() += 1;
    }
    ensure!(
        nas.get(&mac_a) >= Some(&1) && nas.get(&mac_b) >= Some(&1),
        "unsolicited NA for {VIP6} from both Masters (a {mac_a}, b {mac_b}): {nas:?}"
    );
    println!(
        "TSHARK {} VRRP frames (per sender, priority, family: {seen:?}), gratuitous ARP {garps:?}, \
         unsolicited NA {nas:?}: all checksums good, fields as configured",
        vrrp.len()
    );
    lab.passed();
    Ok(())
}
