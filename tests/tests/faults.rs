//! Faults injected into running agents, each in its own lab:
//!
//! - the Master's link flapping at 20 Hz for 30 s: no crash, no descriptor
//!   or memory leak, and one Master once it stops;
//! - a partition between two nodes that heals: both are Master while it
//!   lasts, then the lower priority lets go (VIP, state, XDP answers);
//! - the interface deleted just as the agent becomes Master, again and
//!   again: the agent says the interface is gone and resumes on the
//!   re-created one (Master, VIP, XDP answering ARP);
//! - the agent's rtnetlink event socket overflowing (ENOBUFS) while it is
//!   stopped, with its VIP deleted and a tracked interface taken down
//!   meanwhile: it notices, reads links and addresses again, and acts on
//!   what it missed.
//!
//! Where only XDP may answer ARP for a VIP, the nodes run with
//! `arp_ignore=8` (the kernel answers no ARP), so an answer the client gets
//! is the fast path's.

use std::{
    io::Write,
    net::IpAddr,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{addresses, arping_macs, holders, wait_for_state, AgentProcess, AgentSpec, Resources},
    bpftool_dump, wait_for, Lab,
};
use vip_agent::vrrp::{fsm::master_down_interval, ProtocolVersion, DOWN_TIMER_ADVERTS};

/// Bound of any wait that is not about how fast the agent is.
const BOUND: Duration = Duration::from_secs(30);

/// Slack on top of a protocol interval: the machine has two shared cores.
const SLACK: Duration = Duration::from_secs(5);

/// The advert interval of the VRRPv2 pairs.
const ADVERT_INT: Duration = Duration::from_secs(1);

/// Growth of resident memory allowed across a fault (allocator caches,
/// log buffers), far below what a per-event leak would add.
const RSS_GROWTH_KIB: u64 = 8 * 1024;

fn write_config(lab: &Lab, name: &str, text: &str) -> Result<PathBuf> {
    let path = lab.work_dir().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A `vrrp_instance` block.
struct Instance<'a> {
    name: &'a str,
    interface: &'a str,
    vrid: u8,
    priority: u8,
    version: u8,
    advert_int: &'a str,
    vip: &'a str,
    track_interfaces: &'a [&'a str],
}

impl Instance<'_> {
    fn text(&self) -> String {
        let track = if self.track_interfaces.is_empty() {
            String::new()
        } else {
            format!(
                "    track_interface {{\n{}    }}\n",
                self.track_interfaces
                    .iter()
                    .map(|i| format!("        {i}\n"))
                    .collect::<String>()
            )
        };
        format!(
            "vrrp_instance {} {{\n    state BACKUP\n    interface {}\n    virtual_router_id {}\n    \
             priority {}\n    version {}\n    advert_int {}\n{track}    virtual_ipaddress {{\n        {}\n    }}\n}}\n",
            self.name, self.interface, self.vrid, self.priority, self.version, self.advert_int, self.vip
        )
    }
}

fn v2<'a>(name: &'a str, vrid: u8, priority: u8, vip: &'a str) -> Instance<'a> {
    Instance {
        name,
        interface: "eth0",
        vrid,
        priority,
        version: 2,
        advert_int: "1",
        vip,
        track_interfaces: &[],
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// The kernel of `node` answers no ARP request on any interface: only XDP can.
fn only_xdp_answers_arp(lab: &Lab, node: usize) -> Result<()> {
    lab.node(node)
        .ns
        .sysctl("net.ipv4.conf.all.arp_ignore", "8")?;
    Ok(())
}

/// Lines of the agent's log written after byte `from` that contain `needle`.
fn log_lines_since(agent: &AgentProcess, from: usize, needle: &str) -> Vec<String> {
    let log = agent.log_text();
    log.get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// The instance `name` in the agent's `status --json`.
fn instance_status(agent: &AgentProcess, name: &str) -> Option<serde_json::Value> {
    agent.status().ok()?["instances"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
}

/// Who among `macs` answers `arping -c COUNT` for `vip` from the client.
fn arp_answers(lab: &Lab, client: usize, vip: IpAddr, count: u32) -> Result<Vec<[u8; 6]>> {
    let (mut macs, _) = arping_macs(lab, client, "eth0", vip, count, "2")?;
    macs.sort_unstable();
    macs.dedup();
    Ok(macs)
}

/// Two nodes on one segment, A (priority 150) and B (100), VRRPv2 with a
/// 1 s advert interval, one VIP, and a client.
struct Pair {
    lab: Lab,
    a: usize,
    b: usize,
    client: usize,
    agent_a: AgentProcess,
    agent_b: AgentProcess,
    vip: IpAddr,
    mac_a: [u8; 6],
    mac_b: [u8; 6],
}

impl Pair {
    fn start(net: u8, xdp_only_arp: bool) -> Result<Self> {
        let mut lab = Lab::new()?;
        let a = lab.add_node("a", "eth0", &[&format!("10.{net}.0.1/24")])?;
        let b = lab.add_node("b", "eth0", &[&format!("10.{net}.0.2/24")])?;
        let client = lab.add_node("client", "eth0", &[&format!("10.{net}.0.9/24")])?;
        if xdp_only_arp {
            only_xdp_answers_arp(&lab, a)?;
            only_xdp_answers_arp(&lab, b)?;
        }
        let vip = format!("10.{net}.0.100/24");
        let conf_a = write_config(&lab, "a.conf", &v2("VI_1", 51, 150, &vip).text())?;
        let conf_b = write_config(&lab, "b.conf", &v2("VI_1", 51, 100, &vip).text())?;
        let agent_a = lab.start_agent(&AgentSpec::with_config(a, "a", conf_a))?;
        let agent_b = lab.start_agent(&AgentSpec::with_config(b, "b", conf_b))?;
        let mac_a = lab.node(a).ns.mac("eth0")?;
        let mac_b = lab.node(b).ns.mac("eth0")?;
        let pair = Pair {
            lab,
            a,
            b,
            client,
            agent_a,
            agent_b,
            vip: ip(&format!("10.{net}.0.100")),
            mac_a,
            mac_b,
        };
        pair.wait_settled(BOUND)?;
        Ok(pair)
    }

    fn holders(&self) -> Vec<usize> {
        holders(&self.lab, &[self.a, self.b], "eth0", self.vip)
    }

    fn states(&self) -> (Option<String>, Option<String>) {
        (self.agent_a.state("VI_1"), self.agent_b.state("VI_1"))
    }

    /// A the one Master holding the VIP, B a Backup without it; returns how
    /// long that took.
    fn wait_settled(&self, bound: Duration) -> Result<Duration> {
        let started = Instant::now();
        wait_for("A to be the one Master, B Backup", bound, || {
            let (a, b) = self.states();
            (a.as_deref() == Some("MASTER")
                && b.as_deref() == Some("BACKUP")
                && self.holders() == [self.a])
            .then_some(())
        })
        .with_context(|| {
            format!(
                "states now {:?}, VIP holders {:?}",
                self.states(),
                self.holders()
            )
        })?;
        Ok(started.elapsed())
    }

    /// A's Master_Down_Interval: how long A, back as Backup, waits before
    /// it takes over.
    fn master_down_a(&self) -> Duration {
        master_down_interval(ProtocolVersion::V2, 150, ADVERT_INT, DOWN_TIMER_ADVERTS)
    }
}

/// Toggles `interface` of `node` down and up `toggles` times, one every
/// `period`, from one `ip -batch` process in the node's namespace (no
/// process start between two toggles). The first toggle takes it down; an
/// even count leaves it up. Returns how long it took.
fn flap(
    lab: &Lab,
    node: usize,
    interface: &str,
    toggles: u32,
    period: Duration,
) -> Result<Duration> {
    let mut child = lab
        .node(node)
        .ns
        .command("ip")
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting ip -batch")?;
    let mut stdin = child.stdin.take().context("ip -batch stdin")?;
    let started = Instant::now();
    for k in 0..toggles {
        let at = started + period * k;
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let state = if k % 2 == 0 { "down" } else { "up" };
        writeln!(stdin, "link set dev {interface} {state}")?;
    }
    drop(stdin);
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "ip -batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(started.elapsed())
}

/// Waits until the agent has sent `more` adverts beyond what it has sent now
/// for `instance`: a few rounds of its steady state.
fn wait_adverts(agent: &AgentProcess, instance: &str, more: u64) -> Result<()> {
    let sent = agent.counter(instance, "adverts_sent")?;
    wait_for("a few more adverts", BOUND, || {
        (agent.counter(instance, "adverts_sent").ok()? >= sent + more).then_some(())
    })
}

fn assert_no_leak(role: &str, before: &Resources, after: &Resources) {
    let kinds = |r: &Resources| {
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for target in &r.fd_targets {
            let kind = target.split(':').next().unwrap_or_default().to_string();
            *kinds.entry(kind).or_default() += 1;
        }
        kinds
    };
    assert_eq!(
        after.fds,
        before.fds,
        "{role}: descriptors before {before}, after {after}: by kind {:?} -> {:?}",
        kinds(before),
        kinds(after)
    );
    assert!(
        after.rss_kib <= before.rss_kib + RSS_GROWTH_KIB,
        "{role}: resident memory before {before}, after {after} (allowed +{} MiB)",
        RSS_GROWTH_KIB / 1024
    );
}

#[test]
fn link_flapping_at_20_hz_leaks_nothing_and_ends_with_one_master() -> Result<()> {
    let mut p = Pair::start(31, false)?;
    // One whole fault cycle first, so that both agents have been through
    // every path the flapping takes (B Master with its announcements, A in
    // Fault and back) before the baseline is taken.
    p.lab
        .node(p.a)
        .ns
        .ip(&["link", "set", "dev", "eth0", "down"])?;
    wait_for_state(&p.agent_a, "VI_1", "FAULT", BOUND)?;
    wait_for_state(&p.agent_b, "VI_1", "MASTER", BOUND)?;
    p.lab
        .node(p.a)
        .ns
        .ip(&["link", "set", "dev", "eth0", "up"])?;
    p.wait_settled(BOUND)?;
    wait_adverts(&p.agent_a, "VI_1", 2)?;
    let before_a = p.agent_a.resources()?;
    let before_b = p.agent_b.resources()?;
    let log_from = p.agent_a.log_text().len();
    let b_became = p.agent_b.counter("VI_1", "became_master")?;

    const TOGGLES: u32 = 600;
    let flapped = flap(&p.lab, p.a, "eth0", TOGGLES, Duration::from_millis(50))?;
    let stopped = Instant::now();
    assert!(p.agent_a.running(), "A survived the flapping");
    assert!(p.agent_b.running(), "B survived the flapping");
    let faults = log_lines_since(&p.agent_a, log_from, "to=\"FAULT\"").len();
    let b_took_over = p.agent_b.counter("VI_1", "became_master")? - b_became;

    // Once the link stays up, A is Backup and takes over after its
    // Master_Down_Interval (it has the higher priority and preempts).
    let bound = p.master_down_a() + SLACK;
    p.wait_settled(bound)?;
    let converged = stopped.elapsed();
    let answers = arp_answers(&p.lab, p.client, p.vip, 3)?;
    assert_eq!(answers, [p.mac_a], "only A answers ARP for the VIP");

    wait_adverts(&p.agent_a, "VI_1", 3)?;
    let after_a = p.agent_a.resources()?;
    let after_b = p.agent_b.resources()?;
    println!(
        "FAULTS flapping: {TOGGLES} toggles of A's eth0 in {:.1} s, A went to FAULT {faults} times, \
         B became Master {b_took_over} times meanwhile; one Master (A) {} ms after the flapping \
         stopped (Master_Down_Interval {} ms, bound {} ms); A {before_a} -> {after_a}; \
         B {before_b} -> {after_b}",
        flapped.as_secs_f64(),
        converged.as_millis(),
        p.master_down_a().as_millis(),
        bound.as_millis()
    );
    assert!(
        faults >= TOGGLES as usize / 4,
        "A saw the flapping: {faults} faults for {} downs",
        TOGGLES / 2
    );
    assert_no_leak("A", &before_a, &after_a);
    assert_no_leak("B", &before_b, &after_b);
    p.lab.passed();
    Ok(())
}

/// The bridge port in the switch namespace that `interface` of `node` is
/// plugged into (the peer of its veth).
fn switch_port(lab: &Lab, node: usize, interface: &str) -> Result<String> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "link", "show", "dev", interface])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let peer = json[0]["link_index"]
        .as_u64()
        .with_context(|| format!("no veth peer of {interface}: {json}"))?;
    let out = lab.switch().ip(&["-j", "link", "show"])?;
    let links: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    links
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["ifindex"].as_u64() == Some(peer))
        .and_then(|l| l["ifname"].as_str())
        .map(str::to_string)
        .with_context(|| format!("no switch port with ifindex {peer}"))
}

/// Bridge port isolation: isolated ports forward to the others (the
/// client) but not to each other, and every carrier stays up.
fn isolate(lab: &Lab, port: &str, on: bool) -> Result<()> {
    lab.switch().exec(
        "bridge",
        &[
            "link",
            "set",
            "dev",
            port,
            "isolated",
            if on { "on" } else { "off" },
        ],
    )?;
    Ok(())
}

/// Entries of the agent's pinned OWNERSHIP map that tell XDP to answer.
fn answering_entries(lab: &mut Lab, role: &str) -> Result<Vec<serde_json::Value>> {
    let dump = bpftool_dump(&lab.bpffs_dir(role).join("OWNERSHIP"))?;
    Ok(dump
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["formatted"].clone())
        .filter(|e| e["value"]["flags"].as_u64().unwrap_or(0) & 1 == 1)
        .collect())
}

#[test]
fn a_healed_partition_leaves_one_master_and_the_other_lets_go() -> Result<()> {
    let mut p = Pair::start(32, true)?;
    let answers = arp_answers(&p.lab, p.client, p.vip, 3)?;
    assert_eq!(answers, [p.mac_a], "before: A's XDP alone answers");
    let port_a = switch_port(&p.lab, p.a, "eth0")?;
    let port_b = switch_port(&p.lab, p.b, "eth0")?;

    isolate(&p.lab, &port_a, true)?;
    isolate(&p.lab, &port_b, true)?;
    let cut = Instant::now();
    wait_for("both nodes to be Master", BOUND, || {
        let (a, b) = p.states();
        (a.as_deref() == Some("MASTER")
            && b.as_deref() == Some("MASTER")
            && p.holders() == [p.a, p.b])
        .then_some(())
    })
    .with_context(|| format!("states {:?}, holders {:?}", p.states(), p.holders()))?;
    let split = cut.elapsed();
    // The client still reaches both: both fast paths answer for the VIP.
    let answers = wait_for("both XDP programs to answer ARP", BOUND, || {
        let macs = arp_answers(&p.lab, p.client, p.vip, 3).ok()?;
        (macs.contains(&p.mac_a) && macs.contains(&p.mac_b)).then_some(macs)
    })?;
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answering_entries(&mut p.lab, "b")?.len(),
        1,
        "B owns the VIP in XDP"
    );

    isolate(&p.lab, &port_a, false)?;
    isolate(&p.lab, &port_b, false)?;
    let healed = Instant::now();
    // A's next advert (at most one interval away) sends B back to Backup.
    let bound = ADVERT_INT + SLACK;
    p.wait_settled(bound)?;
    let merged = healed.elapsed();
    let b = instance_status(&p.agent_b, "VI_1").context("B's status")?;
    assert_eq!(b["holds_vips"], false, "{b}");
    assert!(
        !addresses(&p.lab, p.b, "eth0").contains(&p.vip),
        "the VIP is gone from B"
    );
    let owned_b = answering_entries(&mut p.lab, "b")?;
    assert!(owned_b.is_empty(), "B's XDP owns nothing: {owned_b:?}");
    let answers = arp_answers(&p.lab, p.client, p.vip, 3)?;
    assert_eq!(answers, [p.mac_a], "after: A's XDP alone answers");
    let log_b = p.agent_b.log_text();
    assert!(
        log_b.contains("from=\"MASTER\" to=\"BACKUP\""),
        "B says it left Master"
    );
    println!(
        "FAULTS partition: both Master {} ms after the cut; one Master {} ms after the heal \
         (advert interval {} ms, bound {} ms); B: VIP removed, XDP ownership cleared, \
         ARP answered by A alone",
        split.as_millis(),
        merged.as_millis(),
        ADVERT_INT.as_millis(),
        bound.as_millis()
    );
    p.lab.passed();
    Ok(())
}

/// Reads an agent's log as it grows.
struct LogTail {
    path: PathBuf,
    offset: usize,
}

impl LogTail {
    fn new(agent: &AgentProcess) -> Self {
        Self {
            path: agent.log.clone(),
            offset: agent.log_text().len(),
        }
    }

    /// Polls (every millisecond, at most `bound`) for a whole new line
    /// containing `needle`; moves past it.
    fn wait_line(&mut self, needle: &str, bound: Duration) -> Result<String> {
        let deadline = Instant::now() + bound;
        loop {
            let text = std::fs::read(&self.path).unwrap_or_default();
            let new = &text[self.offset.min(text.len())..];
            let mut consumed = 0;
            for line in new.split_inclusive(|&b| b == b'\n') {
                if !line.ends_with(b"\n") {
                    break;
                }
                consumed += line.len();
                let line = String::from_utf8_lossy(line);
                if line.contains(needle) {
                    self.offset += consumed;
                    return Ok(line.trim_end().to_string());
                }
            }
            self.offset += consumed;
            if Instant::now() >= deadline {
                bail!("no log line with {needle:?} within {bound:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// When the agent wrote a log line: its leading UTC timestamp
/// (`2026-12-02T14:36:33.380724Z`).
fn log_time(line: &str) -> Result<SystemTime> {
    let stamp = line.split_whitespace().next().unwrap_or_default();
    let parse = || -> Option<SystemTime> {
        let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
        let mut d = date.split('-').map(|n| n.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let (hms, fraction) = time.split_once('.')?;
        let mut t = hms.split(':').map(|n| n.parse::<u64>().ok());
        let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
        let micros: u64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
        // Days since 1970-01-01 of a proleptic Gregorian date.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros))
    };
    parse().with_context(|| format!("no timestamp at the start of {line:?}"))
}

/// Whether `interface` of `node` runs an XDP program (`ip -j link`).
fn xdp_attached(lab: &Lab, node: usize, interface: &str) -> bool {
    let Ok(out) = lab
        .node(node)
        .ns
        .ip(&["-j", "link", "show", "dev", interface])
    else {
        return false;
    };
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json[0]["xdp"]["prog"]["id"].as_u64().is_some()
        || json[0]["xdp"]["attached"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

/// When a round deletes the interface.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    Now,
    /// Microseconds after the agent logs its Master transition.
    AfterMaster(u64),
    /// Microseconds from when the Master transition is due.
    DueIn(i64),
}

/// VIPs of the instance whose interface is deleted: adding them one
/// request after the other takes long enough for a deletion to land in the
/// middle.
const MANY_VIPS: u8 = 40;

#[test]
fn an_interface_deleted_as_the_agent_becomes_master_is_picked_up_again() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.33.0.1/24"])?;
    let client = lab.add_node("client", "eth0", &["10.33.0.9/24"])?;
    only_xdp_answers_arp(&lab, a)?;
    let vip = ip("10.33.0.100");
    let vips: Vec<String> = (0..MANY_VIPS)
        .map(|i| format!("10.33.0.{}/24", 100 + u16::from(i)))
        .collect();
    let vips = vips.join("\n        ");
    // VRRPv3 with 100 ms adverts: Master 0.36 s after each (re)start.
    let conf = Instance {
        name: "VI_1",
        interface: "eth0",
        vrid: 52,
        priority: 100,
        version: 3,
        advert_int: "0.1",
        vip: &vips,
        track_interfaces: &[],
    }
    .text();
    let conf = write_config(&lab, "a.conf", &conf)?;
    let mut agent = lab.start_agent(&AgentSpec::with_config(a, "a", conf))?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    let mac = lab.node(a).ns.mac("eth0")?;
    wait_for("XDP to answer ARP for the VIP", BOUND, || {
        (arp_answers(&lab, client, vip, 1).ok()? == [mac]).then_some(())
    })?;
    wait_adverts(&agent, "VI_1", 3)?;
    let before = agent.resources()?;

    // A deletion as fast as the kernel takes it: one `ip -batch` process
    // waits in the namespace for the word.
    let mut deleter = lab
        .node(a)
        .ns
        .command("ip")
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting ip -batch")?;
    let mut deleter_in = deleter.stdin.take().context("ip -batch stdin")?;
    let mut tail = LogTail::new(&agent);
    // Each round re-creates the interface and deletes it again around the
    // moment the agent becomes Master: `delay` after the first sign of the
    // transition (its log line, written before the VIPs are added), or at
    // `offset` from when the transition is due (one Master_Down_Interval
    // after the instance came back as Backup). Round 0 deletes it under a
    // steady Master.
    let master_down = master_down_interval(
        ProtocolVersion::V3,
        100,
        Duration::from_millis(100),
        DOWN_TIMER_ADVERTS,
    );
    let mut rounds = vec![Trigger::Now];
    rounds.extend([0, 0, 0, 500, 2000, 30000].map(Trigger::AfterMaster));
    rounds.extend(
        [
            -30000, -10000, -2000, -500, 0, 500, 1000, 1500, 2000, 3000, 5000,
        ]
        .map(Trigger::DueIn),
    );
    let mut gone_notes = Vec::new();
    let (mut in_flight, mut before_master) = (0, 0);
    for (round, trigger) in rounds.iter().enumerate() {
        let round_from = agent.log_text().len();
        if round > 0 {
            // The same name again, on a new veth (new index, new MAC).
            lab.add_link(a, "br0", "eth0", &["10.33.0.1/24"])?;
        }
        match *trigger {
            Trigger::Now => {}
            Trigger::AfterMaster(delay_us) => {
                tail.wait_line("to=\"MASTER\"", BOUND)?;
                std::thread::sleep(Duration::from_micros(delay_us));
            }
            Trigger::DueIn(offset_us) => {
                let line = tail.wait_line("to=\"BACKUP\"", BOUND)?;
                let due = log_time(&line)? + master_down;
                let at = if offset_us < 0 {
                    due - Duration::from_micros(offset_us.unsigned_abs())
                } else {
                    due + Duration::from_micros(offset_us as u64)
                };
                let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                std::thread::sleep(wait);
            }
        }
        writeln!(deleter_in, "link del dev eth0")?;
        let note = wait_for("the status to say eth0 is gone", BOUND, || {
            let status = instance_status(&agent, "VI_1")?;
            let note = status["note"].as_str()?.to_string();
            (status["state"] == "FAULT" && note.contains("eth0") && note.contains("gone"))
                .then_some(note)
        })
        .with_context(|| {
            format!(
                "round {round}: status {:?}",
                instance_status(&agent, "VI_1")
            )
        })?;
        assert!(agent.running(), "round {round}: the agent runs");
        if !log_lines_since(&agent, round_from, "adding or refreshing the VIP").is_empty() {
            in_flight += 1;
        } else if round > 0 && log_lines_since(&agent, round_from, "to=\"MASTER\"").is_empty() {
            before_master += 1;
        }
        // Past the Master line of this round, whatever the trigger.
        tail.offset = agent.log_text().len();
        gone_notes.push(note);
    }
    drop(deleter_in);
    let _ = deleter.wait();

    // Back for good.
    lab.add_link(a, "br0", "eth0", &["10.33.0.1/24"])?;
    let back = Instant::now();
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    let mac = lab.node(a).ns.mac("eth0")?;
    wait_for("every VIP on the new eth0", BOUND, || {
        let on = addresses(&lab, a, "eth0");
        (0..MANY_VIPS)
            .all(|i| on.contains(&ip(&format!("10.33.0.{}", 100 + u16::from(i)))))
            .then_some(())
    })?;
    assert!(xdp_attached(&lab, a, "eth0"), "XDP runs on the new eth0");
    wait_for("XDP to answer ARP on the new eth0", BOUND, || {
        (arp_answers(&lab, client, vip, 1).ok()? == [mac]).then_some(())
    })?;
    let resumed = back.elapsed();
    let status = instance_status(&agent, "VI_1").context("status")?;
    assert!(status["note"].is_null(), "no note once back: {status}");
    assert_eq!(status["holds_vips"], true, "{status}");
    wait_adverts(&agent, "VI_1", 5)?;
    let after = agent.resources()?;
    println!(
        "FAULTS interface deleted: {} deletions ({rounds:?}): {in_flight} while the {MANY_VIPS} \
         VIPs were being added, {before_master} before the agent became Master; status said \
         {:?}; Master with every VIP and XDP answering {} ms after the last re-creation; \
         {before} -> {after}",
        rounds.len(),
        gone_notes.first(),
        resumed.as_millis()
    );
    assert!(
        in_flight >= 1,
        "at least one deletion landed while the VIPs were being added"
    );
    assert_no_leak("the agent", &before, &after);
    lab.passed();
    Ok(())
}

/// `ip -batch` lines adding `count` /32 addresses to `interface`, then
/// removing them: two netlink events each.
fn address_churn(interface: &str, first: u32, count: u32) -> String {
    let address = |i: u32| format!("10.200.{}.{}/32", (i / 250) % 250, i % 250 + 1);
    let mut text = String::new();
    for i in first..first + count {
        text.push_str(&format!("address add {} dev {interface}\n", address(i)));
    }
    for i in first..first + count {
        text.push_str(&format!("address del {} dev {interface}\n", address(i)));
    }
    text
}

fn ip_batch(lab: &Lab, node: usize, script: &str) -> Result<()> {
    let path = lab.work_dir().join("churn.batch");
    std::fs::write(&path, script)?;
    let path = path.to_string_lossy().into_owned();
    lab.node(node).ns.ip(&["-batch", &path])?;
    Ok(())
}

#[test]
fn an_overflowed_event_socket_is_noticed_and_the_agent_catches_up() -> Result<()> {
    let mut lab = Lab::new()?;
    let a = lab.add_node("a", "eth0", &["10.34.0.1/24"])?;
    lab.add_link(a, "br1", "eth1", &["10.35.0.1/24"])?;
    let client = lab.add_node("client", "eth0", &["10.34.0.9/24"])?;
    only_xdp_answers_arp(&lab, a)?;
    // The interface the address churn happens on: a veth pair of its own.
    lab.node(a).ns.ip(&[
        "link", "add", "churn0", "type", "veth", "peer", "name", "churn1",
    ])?;
    let (vip_1, vip_2) = (ip("10.34.0.100"), ip("10.34.0.101"));
    let conf = v2("VI_1", 53, 100, "10.34.0.100/24").text()
        + &Instance {
            track_interfaces: &["eth1"],
            ..v2("VI_2", 54, 100, "10.34.0.101/24")
        }
        .text();
    let conf = write_config(&lab, "a.conf", &conf)?;
    // A 60 s lifetime: the VIPs are refreshed every 20 s, long after the
    // checks below; what the agent does here it does because of the resync.
    let agent = lab.start_agent(
        &AgentSpec::with_config(a, "a", conf)
            .arg("--vip-lifetime")
            .arg("60"),
    )?;
    wait_for_state(&agent, "VI_1", "MASTER", BOUND)?;
    wait_for_state(&agent, "VI_2", "MASTER", BOUND)?;
    wait_for("both VIPs on eth0", BOUND, || {
        let on = addresses(&lab, a, "eth0");
        (on.contains(&vip_1) && on.contains(&vip_2)).then_some(())
    })?;
    let mac = lab.node(a).ns.mac("eth0")?;
    let log_from = agent.log_text().len();

    const CHURN: u32 = 6000;
    agent.signal(Signal::SIGSTOP)?;
    let stopped_at = Instant::now();
    let churned = (|| -> Result<()> {
        ip_batch(&lab, a, &address_churn("churn0", 0, CHURN))?;
        // Both missed while the socket is full.
        lab.node(a)
            .ns
            .ip(&["addr", "del", "10.34.0.100/24", "dev", "eth0"])?;
        lab.node(a).ns.ip(&["link", "set", "dev", "eth1", "down"])?;
        ip_batch(&lab, a, &address_churn("churn0", CHURN, CHURN))?;
        // Stopped past its heartbeat bound, the agent is fenced: XDP no
        // longer answers for the VIP still on eth0.
        wait_for("XDP to fence the stopped agent", BOUND, || {
            arp_answers(&lab, client, vip_2, 1)
                .ok()?
                .is_empty()
                .then_some(())
        })?;
        Ok(())
    })();
    // Never leave the agent stopped, whatever happened.
    agent.signal(Signal::SIGCONT)?;
    let continued = Instant::now();
    let stopped_for = stopped_at.elapsed();
    churned?;

    let bound = SLACK * 2;
    wait_for(
        "VI_1's VIP back and VI_2 in Fault without its VIP",
        bound,
        || {
            let on = addresses(&lab, a, "eth0");
            (on.contains(&vip_1)
                && !on.contains(&vip_2)
                && agent.state("VI_1").as_deref() == Some("MASTER")
                && agent.state("VI_2").as_deref() == Some("FAULT"))
            .then_some(())
        },
    )
    .with_context(|| {
        format!(
            "eth0 has {:?}; VI_1 {:?}, VI_2 {:?}",
            addresses(&lab, a, "eth0"),
            agent.state("VI_1"),
            agent.state("VI_2")
        )
    })?;
    let converged = continued.elapsed();
    let overflow = log_lines_since(&agent, log_from, "ENOBUFS");
    assert!(
        !overflow.is_empty(),
        "the agent logs the overflow of its event socket"
    );
    let caught_up = log_lines_since(&agent, log_from, "caught up");
    assert!(
        !caught_up.is_empty(),
        "the agent read links and addresses again"
    );
    let restored = log_lines_since(
        &agent,
        log_from,
        "a held VIP was removed from the interface",
    );
    assert!(
        restored.iter().any(|l| l.contains("its event was lost")),
        "the agent restores the VIP whose removal it missed: {restored:?}"
    );
    // The heartbeat resumed with the agent: XDP answers for VI_1's VIP again,
    // and for VI_2's no more.
    wait_for("XDP to answer ARP for VI_1's VIP again", BOUND, || {
        (arp_answers(&lab, client, vip_1, 1).ok()? == [mac]).then_some(())
    })?;
    assert!(
        arp_answers(&lab, client, vip_2, 2)?.is_empty(),
        "nothing answers for the VIP of the instance in Fault"
    );
    // Events flow again: the tracked interface coming back is seen as usual.
    lab.node(a).ns.ip(&["link", "set", "dev", "eth1", "up"])?;
    wait_for_state(&agent, "VI_2", "MASTER", BOUND)?;
    wait_for("VI_2's VIP back", BOUND, || {
        addresses(&lab, a, "eth0").contains(&vip_2).then_some(())
    })?;
    println!(
        "FAULTS event overflow: agent stopped {} ms during {} address events; caught up {} ms \
         after SIGCONT (bound {} ms; VIP refresh every 20 s); it said: {} / {}",
        stopped_for.as_millis(),
        CHURN * 4,
        converged.as_millis(),
        bound.as_millis(),
        overflow.first().map(String::as_str).unwrap_or_default(),
        caught_up.first().map(String::as_str).unwrap_or_default()
    );
    lab.passed();
    Ok(())
}
