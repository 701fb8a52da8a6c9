//! The XDP fast path driven by the real daemon, through real interfaces:
//! forged VRRP adverts (wrong TTL, wrong password, bad checksum, a source
//! that is not a unicast peer) are dropped in XDP on every node, counted per
//! reason, never reach the daemon and cause no failover; a stopped daemon
//! stops answering ARP for its VIP within the fencing bound and answers again
//! once it runs; `vip-agent status` shows each instance's XDP counters.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use tests::{
    agent::{addresses, holders, wait_for_sole_holder, wait_for_state, AgentProcess, AgentSpec},
    agent_bin, bpftool_dump,
    frames::{PacketSocket, V2Advert},
    run, wait_for, Lab,
};

/// Generous bounds: the machine is small and shared.
const BOUND: Duration = Duration::from_secs(30);

/// Forged frames sent per attack.
const FORGED: u64 = 20;

/// Valid adverts a Backup must receive after the forged frames before "no
/// failover" is concluded: at `advert_int 1` they span at least 5 s, more
/// than the Backup's Master_Down_Interval (3 + (256 - 100) / 256 = 3.61 s).
const ADVERTS_AFTER_ATTACK: u64 = 6;

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

/// Sends `FORGED` copies of `advert` from the attacker and checks, on A
/// and B: exactly `FORGED` more in XDP counter `reason` (and no other drop
/// reason), the daemons never saw them, and no state change for longer than
/// the Backup's Master_Down_Interval.
fn forged_adverts_change_nothing(pair: &Pair, advert: &V2Advert, reason: &str) -> Result<()> {
    let agents = [(&pair.agent_a, "MASTER"), (&pair.agent_b, "BACKUP")];
    let before: Vec<Snapshot> = agents
        .iter()
        .map(|(agent, _)| Snapshot::take(agent, INSTANCE))
        .collect::<Result<_>>()?;
    for (s, (agent, state)) in before.iter().zip(&agents) {
        ensure!(
            s.state == *state,
            "{} is {} before the attack",
            agent.role,
            s.state
        );
    }

    let frame = advert.frame();
    send_frames(&pair.lab, pair.attacker, vec![frame; FORGED as usize])?;
    let sent_at_b = Snapshot::take(&pair.agent_b, INSTANCE)?.adverts_received;

    for (s, (agent, _)) in before.iter().zip(&agents) {
        wait_for(
            &format!("{} to count {FORGED} more {reason}", agent.role),
            BOUND,
            || {
                let now = Snapshot::take(agent, INSTANCE).ok()?;
                (now.xdp(reason) >= s.xdp(reason) + FORGED).then_some(())
            },
        )?;
    }
    // Time passes: B keeps receiving A's adverts and stays Backup.
    wait_for(
        "B to receive enough valid adverts after the attack",
        BOUND,
        || {
            let now = Snapshot::take(&pair.agent_b, INSTANCE).ok()?;
            (now.adverts_received >= sent_at_b + ADVERTS_AFTER_ATTACK).then_some(())
        },
    )?;

    for (s, (agent, state)) in before.iter().zip(&agents) {
        let now = Snapshot::take(agent, INSTANCE)?;
        let role = &agent.role;
        println!(
            "{role}: {reason} {} -> {}, adverts_received {} -> {}, adverts_discarded {} -> {}",
            s.xdp(reason),
            now.xdp(reason),
            s.adverts_received,
            now.adverts_received,
            s.adverts_discarded,
            now.adverts_discarded
        );
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
