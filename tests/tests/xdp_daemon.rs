//! The XDP fast path driven by the real daemon, through real interfaces:
//! forged VRRP adverts (wrong TTL, wrong password, bad checksum, a source
//! that is not a unicast peer) are dropped in XDP on every node, counted per
//! reason, never reach the daemon and cause no failover; a stopped (hung)
//! daemon stops answering ARP for its VIP within the fencing bound and
//! answers again once it runs, and so does a crashed one, whose pinned
//! attachment keeps XDP on the interface; `vip-agent status` shows each
//! instance's XDP counters.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use tests::{
    agent::{
        addresses, holders, wait_for_sole_holder, wait_for_state, watch_fencing, AgentProcess,
        AgentSpec, FenceWatch, Fencing,
    },
    agent_bin, bpftool_dump,
    frames::{PacketSocket, V2Advert},
    l2_stats, run, stat, wait_for, Lab,
};

/// Generous bounds: the machine is small and shared.
const BOUND: Duration = Duration::from_secs(30);

/// Forged frames sent per attack.
const FORGED: u64 = 20;

/// Valid adverts a Backup must receive after the forged frames before "no
/// failover" is concluded: at `advert_int 1` they span at least 5 s, more
/// than the Backup's Master_Down_Interval (3 + (256 - 100) / 256 = 3.61 s).
const ADVERTS_AFTER_ATTACK: u64 = 6;

/// `--xdp-fence-ms` of the fencing tests.
const FENCE_BOUND: Duration = Duration::from_millis(500);

/// Slack on top of the fencing bound and one heartbeat period (bound / 4).
/// The clock is read after kill(2) returned, so the agent's last heartbeat
/// is older than that reading, and each ARP request leaves at or after the
/// time recorded for it: XDP must drop every request recorded after bound +
/// period. What remains is the moment between kill(2) returning and the
/// clock being read, and a heartbeat write under way in the process being
/// stopped: well under a millisecond; 50 ms covers the test thread being
/// descheduled there on this loaded 2-core machine.
const FENCE_ALLOWANCE: Duration = Duration::from_millis(50);

/// ARP requests sent after the limit, all of which must go unanswered.
const REQUESTS_AFTER_LIMIT: usize = 3;

const INSTANCE: &str = "VI_1";
const VRID: u8 = 51;
const VIP: [u8; 4] = [10, 0, 0, 100];
const PASS: &str = "secret1";

fn vip_addr(vip: [u8; 4]) -> IpAddr {
    IpAddr::from(vip)
}

fn write_config(lab: &Lab, name: &str, text: &str) -> Result<PathBuf> {
    let path = lab.work_dir().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn pair_config(priority: u8) -> String {
    format!(
        "vrrp_instance {INSTANCE} {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id {VRID}\n    priority {priority}\n    advert_int 1\n    \
         authentication {{\n        auth_type PASS\n        auth_pass {PASS}\n    }}\n    \
         virtual_ipaddress {{\n        10.0.0.100/24\n    }}\n}}\n"
    )
}

/// The instance `name` in a `status --json` answer.
fn instance<'a>(status: &'a Value, name: &str) -> Result<&'a Value> {
    status["instances"]
        .as_array()
        .context("no instances in status")?
        .iter()
        .find(|i| i["name"] == name)
        .with_context(|| format!("no instance {name} in {status}"))
}

/// What the tests watch of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    state: String,
    became_master: u64,
    adverts_received: u64,
    adverts_discarded: u64,
    /// The instance's XDP VRRP counters (`frames`, `drop_ttl`, ...).
    xdp: Value,
}

impl Snapshot {
    fn take(agent: &AgentProcess, name: &str) -> Result<Self> {
        let status = agent.status()?;
        let i = instance(&status, name)?;
        let number = |key: &str| i[key].as_u64().with_context(|| format!("no {key} in {i}"));
        Ok(Self {
            state: i["state"].as_str().context("no state")?.to_string(),
            became_master: number("became_master")?,
            adverts_received: number("adverts_received")?,
            adverts_discarded: number("adverts_discarded")?,
            xdp: i["xdp"]["vrrp"].clone(),
        })
    }

    /// XDP VRRP counter `field` (0 while XDP has seen no frame for the VRID).
    fn xdp(&self, field: &str) -> u64 {
        self.xdp[field].as_u64().unwrap_or(0)
    }
}

const DROP_REASONS: [&str; 7] = [
    "drop_ttl",
    "drop_version",
    "drop_type",
    "drop_length",
    "drop_checksum",
    "drop_auth",
    "drop_not_peer",
];

/// Sends `frames` from `node`'s interface, 10 ms apart.
fn send_frames(lab: &Lab, node: usize, frames: Vec<Vec<u8>>) -> Result<()> {
    let interface = lab.node(node).interface.clone();
    lab.node(node).ns.in_thread(move || {
        let socket = PacketSocket::bind(&interface)?;
        for frame in &frames {
            socket.send(frame)?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })
}

/// A pair on one segment plus an attacker: A (priority 150) Master, B
/// (priority 100) Backup, VRRPv2 with a password, XDP in skb mode.
struct Pair {
    lab: Lab,
    a: usize,
    b: usize,
    attacker: usize,
    agent_a: AgentProcess,
    agent_b: AgentProcess,
}

fn start_pair() -> Result<Pair> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let b = lab.add_node("b", "eth0", &["10.0.0.2/24"])?;
    let attacker = lab.add_node("attacker", "eth0", &["10.0.0.66/24"])?;
    let conf_a = write_config(&lab, "a.conf", &pair_config(150))?;
    let conf_b = write_config(&lab, "b.conf", &pair_config(100))?;
    let agent_a = lab.start_agent(
        &AgentSpec::with_config(a, "a", conf_a)
            .arg("--xdp-mode")
            .arg("skb"),
    )?;
    let agent_b = lab.start_agent(
        &AgentSpec::with_config(b, "b", conf_b)
            .arg("--xdp-mode")
            .arg("skb"),
    )?;
    wait_for_state(&agent_a, INSTANCE, "MASTER", BOUND)?;
    wait_for_state(&agent_b, INSTANCE, "BACKUP", BOUND)?;
    wait_for_sole_holder(&lab, &[a, b], "eth0", vip_addr(VIP), a, BOUND)?;
    // XDP validates the Master's real adverts on B and passes them on.
    wait_for("B's XDP to pass A's adverts", BOUND, || {
        let s = Snapshot::take(&agent_b, INSTANCE).ok()?;
        (s.xdp("adverts_valid") >= 2 && s.adverts_received >= 2).then_some(())
    })?;
    Ok(Pair {
        lab,
        a,
        b,
        attacker,
        agent_a,
        agent_b,
    })
}

/// Sends `FORGED` copies of `frame` from `attacker` and checks, on every
/// agent in `watched` (with the state it must keep): exactly `FORGED` more in
/// XDP counter `reason` on those in `counted` (and no other drop reason),
/// the daemons never saw the frames, and no state change for longer than
/// the Backup's Master_Down_Interval, proven by `backup` receiving
/// `ADVERTS_AFTER_ATTACK` valid adverts after the attack.
fn forged_frames_change_nothing(
    lab: &Lab,
    attacker: usize,
    frame: Vec<u8>,
    reason: &str,
    watched: &[(&AgentProcess, &str, bool)],
    backup: &AgentProcess,
) -> Result<()> {
    let before: Vec<Snapshot> = watched
        .iter()
        .map(|(agent, _, _)| Snapshot::take(agent, INSTANCE))
        .collect::<Result<_>>()?;
    for (s, (agent, state, _)) in before.iter().zip(watched) {
        ensure!(
            s.state == *state,
            "{} is {} before the attack",
            agent.role,
            s.state
        );
    }

    send_frames(lab, attacker, vec![frame; FORGED as usize])?;
    let sent_at = Snapshot::take(backup, INSTANCE)?.adverts_received;

    for (s, (agent, _, counted)) in before.iter().zip(watched) {
        if !counted {
            continue;
        }
        wait_for(
            &format!("{} to count {FORGED} more {reason}", agent.role),
            BOUND,
            || {
                let now = Snapshot::take(agent, INSTANCE).ok()?;
                (now.xdp(reason) >= s.xdp(reason) + FORGED).then_some(())
            },
        )?;
    }
    // Time passes: the Backup keeps receiving the Master's adverts.
    wait_for(
        &format!(
            "{} to receive {ADVERTS_AFTER_ATTACK} valid adverts after the attack",
            backup.role
        ),
        BOUND,
        || {
            let now = Snapshot::take(backup, INSTANCE).ok()?;
            (now.adverts_received >= sent_at + ADVERTS_AFTER_ATTACK).then_some(())
        },
    )?;

    for (s, (agent, state, counted)) in before.iter().zip(watched) {
        let now = Snapshot::take(agent, INSTANCE)?;
        let role = &agent.role;
        println!(
            "{role}: {reason} {} -> {}, adverts_received {} -> {}, adverts_discarded {} -> {}, \
             state {} -> {}, became_master {} -> {}",
            s.xdp(reason),
            now.xdp(reason),
            s.adverts_received,
            now.adverts_received,
            s.adverts_discarded,
            now.adverts_discarded,
            s.state,
            now.state,
            s.became_master,
            now.became_master,
        );
        if *counted {
            assert_eq!(
                now.xdp(reason),
                s.xdp(reason) + FORGED,
                "{role}: XDP counts each forged frame once in {reason}: {}",
                now.xdp
            );
            for other in DROP_REASONS.iter().filter(|r| **r != reason) {
                assert_eq!(
                    now.xdp(other),
                    s.xdp(other),
                    "{role}: no forged frame counted in {other}: {}",
                    now.xdp
                );
            }
        }
        assert_eq!(
            now.adverts_discarded, s.adverts_discarded,
            "{role}: the daemon never saw the forged adverts"
        );
        assert_eq!(&now.state, state, "{role}: no state change");
        assert_eq!(
            now.became_master, s.became_master,
            "{role}: no transition to Master in between"
        );
    }
    Ok(())
}

/// The pair version: A and B both see (and count) the multicast frames.
fn forged_adverts_change_nothing(pair: &Pair, advert: &V2Advert, reason: &str) -> Result<()> {
    forged_frames_change_nothing(
        &pair.lab,
        pair.attacker,
        advert.frame(),
        reason,
        &[
            (&pair.agent_a, "MASTER", true),
            (&pair.agent_b, "BACKUP", true),
        ],
        &pair.agent_b,
    )?;
    assert_eq!(
        holders(&pair.lab, &[pair.a, pair.b], "eth0", vip_addr(VIP)),
        [pair.a],
        "the VIP stays on A only"
    );
    Ok(())
}

fn bpffs(lab: &mut Lab, role: &str) -> PathBuf {
    // The same directory the harness gave the agent.
    lab.bpffs_dir(role)
}

/// Bytes of a BTF byte array as bpftool prints it (numbers or hex strings).
fn bytes(value: &Value) -> Vec<u8> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            b.as_u64().map(|n| n as u8).or_else(|| {
                b.as_str()
                    .and_then(|s| u8::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            })
        })
        .collect()
}

fn dump_maps(dir: &Path, role: &str) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for map in ["OWNERSHIP", "VRRP_POLICY", "VRRP_STATS"] {
        let pin = dir.join(map);
        let dump = bpftool_dump(&pin)?;
        println!("{role}: bpftool -j map dump pinned {}:", pin.display());
        // The typed view (bpftool also prints the raw bytes).
        let formatted: Vec<&Value> = dump
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| &e["formatted"])
            .collect();
        println!("{}", serde_json::to_string(&formatted)?);
        out.push((map.to_string(), dump));
    }
    Ok(out)
}

#[test]
fn forged_adverts_are_dropped_in_xdp_and_cause_no_failover() -> Result<()> {
    let mut pair = start_pair()?;
    let attacker_mac = pair.lab.node(pair.attacker).ns.mac("eth0")?;
    let forged = V2Advert::multicast(attacker_mac, [10, 0, 0, 66], VRID, 255, &[VIP]);

    // Priority 255 with the right password, but sent from further away
    // than the link (TTL 64).
    let mut ttl = forged.clone().with_pass(PASS);
    ttl.ttl = 64;
    forged_adverts_change_nothing(&pair, &ttl, "drop_ttl")?;

    // TTL 255, the wrong password.
    let wrong_pass = forged.clone().with_pass("guessed");
    forged_adverts_change_nothing(&pair, &wrong_pass, "drop_auth")?;

    // TTL 255, the right password, a damaged checksum.
    let mut bad_checksum = forged.clone().with_pass(PASS);
    bad_checksum.corrupt_checksum = true;
    forged_adverts_change_nothing(&pair, &bad_checksum, "drop_checksum")?;

    // What the fast path holds after the attacks, as bpftool shows it.
    let ifindex_a = u64::from(pair.lab.node(pair.a).ns.ifindex("eth0")?);
    let mac_a = pair.lab.node(pair.a).ns.mac("eth0")?;
    let dir_a = bpffs(&mut pair.lab, "a");
    let dir_b = bpffs(&mut pair.lab, "b");
    let maps_a = dump_maps(&dir_a, "a")?;
    let maps_b = dump_maps(&dir_b, "b")?;

    let ownership_a = maps_a[0].1.as_array().context("OWNERSHIP dump")?;
    let held: Vec<&Value> = ownership_a
        .iter()
        .map(|e| &e["formatted"])
        .filter(|e| e["key"]["ifindex"].as_u64() == Some(ifindex_a))
        .filter(|e| bytes(&e["key"]["vip"]).starts_with(&VIP))
        .collect();
    assert_eq!(held.len(), 1, "A's OWNERSHIP has the VIP: {ownership_a:?}");
    assert_eq!(
        bytes(&held[0]["value"]["mac"]),
        mac_a,
        "answered with eth0's MAC"
    );
    assert_eq!(held[0]["value"]["vrid"].as_u64(), Some(u64::from(VRID)));
    assert_eq!(held[0]["value"]["flags"].as_u64().map(|f| f & 1), Some(1));
    let ownership_b = maps_b[0].1.as_array().context("OWNERSHIP dump")?;
    assert!(
        !ownership_b
            .iter()
            .any(|e| e["formatted"]["value"]["flags"].as_u64().unwrap_or(0) & 1 == 1),
        "the Backup answers for nothing: {ownership_b:?}"
    );
    for (role, maps) in [("a", &maps_a), ("b", &maps_b)] {
        let policies = maps[1].1.as_array().context("VRRP_POLICY dump")?;
        let policy = policies
            .iter()
            .map(|e| &e["formatted"])
            .find(|e| e["key"]["vrid"].as_u64() == Some(u64::from(VRID)))
            .with_context(|| format!("{role}: no policy for VRID {VRID}: {policies:?}"))?;
        assert_eq!(policy["value"]["version"].as_u64(), Some(2), "{role}");
        assert_eq!(policy["value"]["auth_type"].as_u64(), Some(1), "{role}");
        assert_eq!(
            bytes(&policy["value"]["auth_pass"]),
            tests::frames::auth_pass(PASS),
            "{role}"
        );
        assert_eq!(policy["value"]["peer_count"].as_u64(), Some(0), "{role}");

        let stats = maps[2].1.as_array().context("VRRP_STATS dump")?;
        let entry = stats
            .iter()
            .map(|e| &e["formatted"])
            .find(|e| e["key"]["vrid"].as_u64() == Some(u64::from(VRID)))
            .with_context(|| format!("{role}: no stats for VRID {VRID}"))?;
        let sum = |field: &str| -> u64 {
            entry["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["value"][field].as_u64())
                .sum()
        };
        for reason in ["drop_ttl", "drop_auth", "drop_checksum"] {
            assert_eq!(sum(reason), FORGED, "{role}: bpftool {reason}");
        }
    }
    pair.lab.passed();
    Ok(())
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios")
}

#[test]
fn unicast_advert_from_a_non_peer_is_dropped_in_xdp() -> Result<()> {
    const VIP: [u8; 4] = [192, 168, 1, 13];
    let mut lab = Lab::new()?;
    let dent2 = lab.add_node("dent2", "enp0s4", &["192.168.1.11/24"])?;
    let dent3 = lab.add_node("dent3", "enp0s4", &["192.168.1.12/24"])?;
    let attacker = lab.add_node("attacker", "enp0s4", &["192.168.1.66/24"])?;
    let dir = scenarios_dir().join("unicast-gateway");
    let agent2 = lab.start_agent(
        &AgentSpec::with_config(dent2, "dent2", dir.join("dent2.conf"))
            .arg("--xdp-mode")
            .arg("skb"),
    )?;
    let agent3 = lab.start_agent(
        &AgentSpec::with_config(dent3, "dent3", dir.join("dent3.conf"))
            .arg("--xdp-mode")
            .arg("skb"),
    )?;
    wait_for_state(&agent2, INSTANCE, "MASTER", BOUND)?;
    wait_for_state(&agent3, INSTANCE, "BACKUP", BOUND)?;
    wait_for_sole_holder(&lab, &[dent2, dent3], "enp0s4", vip_addr(VIP), dent2, BOUND)?;
    wait_for("dent3's XDP to pass dent2's unicast adverts", BOUND, || {
        let s = Snapshot::take(&agent3, INSTANCE).ok()?;
        (s.xdp("adverts_valid") >= 2 && s.adverts_received >= 2).then_some(())
    })?;

    // Everything right (TTL 255, checksum, password 1212, priority 255),
    // unicast to dent3, but from an address that is not dent3's peer.
    let attacker_mac = lab.node(attacker).ns.mac("enp0s4")?;
    let dent3_mac = lab.node(dent3).ns.mac("enp0s4")?;
    let forged = V2Advert::multicast(attacker_mac, [192, 168, 1, 66], 150, 255, &[VIP])
        .with_pass("1212")
        .unicast_to(dent3_mac, [192, 168, 1, 12]);
    // dent2 may see a copy while the bridge has not learned dent3's MAC:
    // its counters are not asserted, its state is.
    forged_frames_change_nothing(
        &lab,
        attacker,
        forged.frame(),
        "drop_not_peer",
        &[(&agent2, "MASTER", false), (&agent3, "BACKUP", true)],
        &agent3,
    )?;
    assert_eq!(
        holders(&lab, &[dent2, dent3], "enp0s4", vip_addr(VIP)),
        [dent2],
        "the VIP stays on dent2 only"
    );
    let policy = bpftool_dump(&lab.bpffs_dir("dent3").join("VRRP_POLICY"))?;
    let formatted = &policy[0]["formatted"];
    println!("dent3 VRRP_POLICY: {}", serde_json::to_string(formatted)?);
    assert_eq!(formatted["value"]["peer_count"].as_u64(), Some(1));
    assert!(bytes(&formatted["value"]["peers"][0]).starts_with(&[192, 168, 1, 11]));
    lab.passed();
    Ok(())
}

/// Replies from `mac` for 10.0.0.100 to `arping -c COUNT -w WAIT` from `client`.
fn arping_replies(
    lab: &Lab,
    client: usize,
    mac: [u8; 6],
    count: &str,
    wait: &str,
) -> Result<usize> {
    let out = lab
        .node(client)
        .ns
        .command("arping")
        .args(["-c", count, "-w", wait, "-I", "eth0", "10.0.0.100"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    // "42 bytes from aa:bb:cc:dd:ee:ff (10.0.0.100): index=0 time=..."
    Ok(text
        .lines()
        .filter(|l| l.contains(&format!("bytes from {mac} (10.0.0.100)")))
        .count())
}

/// A lone Master with a [`FENCE_BOUND`] fencing bound and a 60 s VIP
/// lifetime (the VIP stays on the interface while the agent is stopped or
/// dead), and a client on its segment. With `no_kernel_arp`, the kernel never answers ARP on the
/// Master's eth0 (`arp_ignore=8`), so only XDP can.
fn fenced_master(no_kernel_arp: bool) -> Result<(Lab, usize, usize, AgentProcess)> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.0.0.1/24"])?;
    let client = lab.add_node("client", "eth0", &["10.0.0.2/24"])?;
    if no_kernel_arp {
        lab.node(a)
            .ns
            .sysctl("net.ipv4.conf.eth0.arp_ignore", "8")?;
    }
    let conf = write_config(
        &lab,
        "a.conf",
        &format!(
            "vrrp_instance {INSTANCE} {{\n    state MASTER\n    interface eth0\n    \
             virtual_router_id {VRID}\n    priority 150\n    advert_int 1\n    \
             virtual_ipaddress {{\n        10.0.0.100/24\n    }}\n}}\n"
        ),
    )?;
    let agent = lab.start_agent(
        &AgentSpec::with_config(a, "a", conf)
            .arg("--xdp-mode")
            .arg("skb")
            .arg("--xdp-fence-ms")
            .arg(FENCE_BOUND.as_millis().to_string())
            .arg("--vip-lifetime")
            .arg("60"),
    )?;
    wait_for_state(&agent, INSTANCE, "MASTER", BOUND)?;
    wait_for_sole_holder(&lab, &[a], "eth0", vip_addr(VIP), a, BOUND)?;
    Ok((lab, a, client, agent))
}

/// From `since` (just after the agent was stopped or killed): the client's
/// ARP requests for the VIP, until [`REQUESTS_AFTER_LIMIT`] were sent after
/// the bound plus one heartbeat period plus [`FENCE_ALLOWANCE`]; none of those
/// may be answered by `mac`.
fn assert_fenced_in_time(
    lab: &Lab,
    client: usize,
    mac: [u8; 6],
    since: Instant,
    what: &str,
) -> Result<Fencing> {
    let limit = FENCE_BOUND + FENCE_BOUND / 4 + FENCE_ALLOWANCE;
    let watch = FenceWatch {
        client,
        interface: "eth0",
        vip: vip_addr(VIP),
        mac,
    };
    let fencing = watch_fencing(lab, &watch, since, limit, REQUESTS_AFTER_LIMIT)?;
    println!("FENCING {what}: {}", fencing.summary());
    let (late, answered) = fencing.after_limit();
    ensure!(
        late >= REQUESTS_AFTER_LIMIT && answered == 0,
        "{what}: fenced within {limit:?} (bound {FENCE_BOUND:?} + heartbeat period + \
         {FENCE_ALLOWANCE:?}): {}; {:?}",
        fencing.summary(),
        fencing.requests
    );
    Ok(fencing)
}

/// Where a fenced VIP is watched: the client asking, the node that still
/// holds the address, and that node's pinned L2 counters.
struct Fence<'a> {
    lab: &'a Lab,
    client: usize,
    mac: [u8; 6],
    holder: usize,
    pin: &'a Path,
    ifindex: u32,
}

impl Fence<'_> {
    /// Asserts that XDP fenced the VIP in time and then: no request is
    /// answered, the address is still on the holder's eth0 (only the fast
    /// path went quiet), and each request counts as fenced. Returns the
    /// counters after.
    fn assert_silent(
        &self,
        since: Instant,
        what: &str,
        whose: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        assert_fenced_in_time(self.lab, self.client, self.mac, since, what)?;
        let fenced = l2_stats(self.pin, self.ifindex)?;
        let replies = arping_replies(self.lab, self.client, self.mac, "3", "3")?;
        let later = l2_stats(self.pin, self.ifindex)?;
        assert_eq!(replies, 0, "{whose}'s VIP is not answered");
        assert!(
            addresses(self.lab, self.holder, "eth0").contains(&vip_addr(VIP)),
            "the VIP is still on eth0 ({whose})"
        );
        assert!(
            stat(&later, "arp_fenced") > stat(&fenced, "arp_fenced"),
            "requests for {whose}'s VIP are counted as fenced: {fenced:?} -> {later:?}"
        );
        assert_eq!(
            stat(&later, "arp_replies_sent"),
            stat(&fenced, "arp_replies_sent"),
            "nothing answered while fenced"
        );
        Ok(later)
    }
}

#[test]
fn a_stopped_daemon_is_fenced_in_xdp_and_answers_again_when_continued() -> Result<()> {
    // The kernel never answers ARP on eth0: only XDP can.
    let (mut lab, a, client, agent) = fenced_master(true)?;
    let mac = lab.node(a).ns.mac("eth0")?;
    let ifindex = lab.node(a).ns.ifindex("eth0")?;
    let pin = lab.bpffs_dir("a").join("L2_STATS");

    // Running: XDP answers with eth0's MAC.
    wait_for("XDP to answer arping", BOUND, || {
        (arping_replies(&lab, client, mac, "2", "3").ok()? >= 1).then_some(())
    })?;
    let status = agent.status()?;
    let sent = instance(&status, INSTANCE)?["xdp"]["interface"]["arp_replies_sent"]
        .as_u64()
        .context("arp_replies_sent in status")?;
    assert!(sent >= 1, "{status}");
    let running = l2_stats(&pin, ifindex)?;
    println!("running: {running:?}");
    assert!(stat(&running, "arp_replies_sent") >= 1);

    // Stopped: no heartbeat, so within the bound XDP stops answering,
    // although the VIP is still on the interface.
    agent.signal(Signal::SIGSTOP)?;
    let since = Instant::now();
    let stopped = (|| -> Result<()> {
        let fence = Fence {
            lab: &lab,
            client,
            mac,
            holder: a,
            pin: &pin,
            ifindex,
        };
        let later = fence.assert_silent(since, "SIGSTOP, no kernel ARP", "a stopped agent")?;
        println!("fenced: {later:?}");
        assert!(stat(&later, "arp_fenced") > stat(&running, "arp_fenced"));
        Ok(())
    })();
    // Never leave the agent stopped, whatever happened.
    agent.signal(Signal::SIGCONT)?;
    stopped?;

    // Continued: heartbeats resume, and so do the answers.
    wait_for("XDP to answer arping again", BOUND, || {
        (arping_replies(&lab, client, mac, "2", "3").ok()? >= 1).then_some(())
    })?;
    let resumed = l2_stats(&pin, ifindex)?;
    println!("resumed: {resumed:?}");
    assert!(stat(&resumed, "arp_replies_sent") > stat(&running, "arp_replies_sent"));
    let s = Snapshot::take(&agent, INSTANCE)?;
    assert_eq!(s.state, "MASTER");
    assert_eq!(s.became_master, 1, "Master throughout, once");
    lab.passed();
    Ok(())
}

#[test]
fn status_table_shows_each_instances_xdp_counters() -> Result<()> {
    let mut pair = start_pair()?;
    let attacker_mac = pair.lab.node(pair.attacker).ns.mac("eth0")?;
    let mut forged =
        V2Advert::multicast(attacker_mac, [10, 0, 0, 66], VRID, 255, &[VIP]).with_pass(PASS);
    forged.ttl = 1;
    send_frames(
        &pair.lab,
        pair.attacker,
        vec![forged.frame(); FORGED as usize],
    )?;
    for agent in [&pair.agent_a, &pair.agent_b] {
        wait_for(&format!("{} to drop the frames", agent.role), BOUND, || {
            (Snapshot::take(agent, INSTANCE).ok()?.xdp("drop_ttl") >= FORGED).then_some(())
        })?;
    }
    // An ARP request for the VIP, answered by A's XDP.
    let mac_a = pair.lab.node(pair.a).ns.mac("eth0")?;
    let attacker = pair.attacker;
    let lab = &pair.lab;
    wait_for("A's XDP to answer arping", BOUND, || {
        let out = lab
            .node(attacker)
            .ns
            .command("arping")
            .args(["-c", "1", "-w", "3", "-I", "eth0", "10.0.0.100"])
            .output()
            .ok()?;
        let mac = mac_a
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        String::from_utf8_lossy(&out.stdout)
            .to_lowercase()
            .contains(&format!("bytes from {mac}"))
            .then_some(())
    })?;

    for (agent, state) in [(&pair.agent_a, "MASTER"), (&pair.agent_b, "BACKUP")] {
        let out = run(Command::new(agent_bin())
            .arg("status")
            .arg("--control-socket")
            .arg(&agent.control_socket))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{} status:\n{text}", agent.role);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.split_whitespace().next() == Some(INSTANCE))
            .with_context(|| format!("no {INSTANCE} line:\n{text}"))?;
        assert!(lines[at].contains(state), "{}", lines[at]);
        // The instance's own lines: its row and the indented ones below it.
        let block: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .copied()
            .collect();
        let vrrp = block
            .iter()
            .find(|l| l.trim_start().starts_with("xdp vrrp:"))
            .with_context(|| format!("no `xdp vrrp:` line for {INSTANCE}:\n{text}"))?;
        let interface = block
            .iter()
            .find(|l| l.trim_start().starts_with("xdp eth0:"))
            .with_context(|| format!("no `xdp eth0:` line for {INSTANCE}:\n{text}"))?;
        let words = |line: &str| -> Vec<(String, u64)> {
            line.split_whitespace()
                .filter_map(|w| {
                    let (k, v) = w.split_once('=')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect()
        };
        let vrrp = words(vrrp);
        let interface = words(interface);
        let get = |list: &[(String, u64)], name: &str| {
            list.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
        };
        assert_eq!(get(&vrrp, "drop_ttl"), Some(FORGED), "{text}");
        for name in DROP_REASONS
            .iter()
            .chain(&["frames", "adverts_valid", "unconfigured"])
        {
            assert!(get(&vrrp, name).is_some(), "{name} missing:\n{text}");
        }
        for name in [
            "arp_requests_seen",
            "arp_replies_sent",
            "arp_passed",
            "arp_fenced",
            "ns_seen",
            "na_sent",
        ] {
            assert!(get(&interface, name).is_some(), "{name} missing:\n{text}");
        }
        if state == "MASTER" {
            assert!(get(&interface, "arp_replies_sent") >= Some(1), "{text}");
        } else {
            assert!(get(&vrrp, "adverts_valid") >= Some(1), "{text}");
        }
    }
    pair.lab.passed();
    Ok(())
}

/// Fencing with the kernel's default ARP settings: once XDP has fenced the
/// stopped agent's VIP (arp_fenced moves), nobody may answer for it, not even
/// the kernel, which still has the VIP as a local address until its lifetime
/// runs out: XDP drops those requests.
#[test]
fn a_stopped_daemon_is_fenced_with_default_kernel_arp_settings() -> Result<()> {
    let (mut lab, a, client, agent) = fenced_master(false)?;
    let mac = lab.node(a).ns.mac("eth0")?;
    let ifindex = lab.node(a).ns.ifindex("eth0")?;
    let pin = lab.bpffs_dir("a").join("L2_STATS");
    wait_for("XDP to answer arping", BOUND, || {
        (arping_replies(&lab, client, mac, "2", "3").ok()? >= 1).then_some(())
    })?;

    let start = stat(&l2_stats(&pin, ifindex)?, "arp_fenced");
    agent.signal(Signal::SIGSTOP)?;
    let since = Instant::now();
    let result = (|| -> Result<usize> {
        assert_fenced_in_time(&lab, client, mac, since, "SIGSTOP, default kernel ARP")?;
        // XDP dropped those requests as fenced (the kernel would have
        // answered them).
        let fenced = stat(&l2_stats(&pin, ifindex)?, "arp_fenced");
        ensure!(fenced > start, "arp_fenced moved: {start} -> {fenced}");
        let replies = arping_replies(&lab, client, mac, "3", "3")?;
        println!(
            "fenced, default arp_ignore: {replies} replies; {:?}",
            l2_stats(&pin, ifindex)?
        );
        Ok(replies)
    })();
    agent.signal(Signal::SIGCONT)?;
    assert_eq!(
        result?, 0,
        "a fenced VIP is not answered (here the kernel answered for it)"
    );
    lab.passed();
    Ok(())
}

/// A crash: the pinned attachment keeps the program on the interface after
/// SIGKILL, so the dead agent's stale heartbeat fences its VIP within the
/// bound, although the kernel (default ARP settings) still has the address
/// and would answer for it.
#[test]
fn a_crashed_daemon_is_fenced_by_its_pinned_attachment() -> Result<()> {
    let (mut lab, a, client, mut agent) = fenced_master(false)?;
    let mac = lab.node(a).ns.mac("eth0")?;
    let ifindex = lab.node(a).ns.ifindex("eth0")?;
    let dir = lab.bpffs_dir("a");
    let pin = dir.join("L2_STATS");
    wait_for("XDP to answer arping", BOUND, || {
        (arping_replies(&lab, client, mac, "2", "3").ok()? >= 1).then_some(())
    })?;
    let before = l2_stats(&pin, ifindex)?;

    agent.signal(Signal::SIGKILL)?;
    let since = Instant::now();
    agent.wait_exit(BOUND)?;
    assert!(
        dir.join("link_eth0").exists(),
        "the attachment stays pinned after the crash"
    );
    let fence = Fence {
        lab: &lab,
        client,
        mac,
        holder: a,
        pin: &pin,
        ifindex,
    };
    let later = fence.assert_silent(since, "SIGKILL, default kernel ARP", "a crashed agent")?;
    println!("crashed: {before:?} -> {later:?}");
    lab.passed();
    Ok(())
}
