//! Planned and unplanned handovers of each `examples/scenarios` deployment,
//! each node's keepalived.conf unchanged (swarm-four: its two highest
//! priorities), with a client pinging the VIP every 5 ms and counting every
//! probe that got no answer:
//!
//! - a VIP deleted by hand on the Master is put back (and how fast);
//! - `vip-agent resign` on the Master hands over losing no probe, and
//!   `vip-agent resume` brings it back (preempting if the scenario says so)
//!   losing none;
//! - a Master SIGKILLed and restarted at once resumes as Master: no probe
//!   lost, and the Backup never became Master;
//! - SIGTERM of the Master loses no probe, and the agent exits 0;
//! - a Master SIGKILLed for good is fenced: once its fencing bound has
//!   passed, its MAC answers no ARP request for the VIP, although its kernel
//!   still has the address.
//!
//! One lab per scenario runs the checks in that order.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tests::{
    agent::{
        addresses, arping_macs, holders, wait_for_sole_holder, wait_for_state, watch_fencing,
        AddressMonitor, FenceWatch,
    },
    l2_stats,
    scenario_lab::{
        expected_holder, start, start_probe, wait_until_settled_backup, Case, Running, ELECTION,
    },
    stat, wait_for,
};
use vip_netns::{probe::Probe, scenario::Scenario};

/// The client probes the VIP this often.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// The agent's default `--xdp-fence-ms` (the scenarios run without it).
const FENCE_BOUND: Duration = Duration::from_millis(2000);

/// Slack on top of the fencing bound and one heartbeat period (bound / 4).
/// The clock is read after kill(2) returned, so the dead agent's last
/// heartbeat is older than that reading, and each ARP request leaves at or
/// after the time recorded for it: XDP must drop every request recorded
/// after bound + period. What remains is the moment between kill(2)
/// returning and the clock being read, and a heartbeat write under way in
/// the killed process: well under a millisecond; 50 ms covers the test
/// thread being descheduled there on this loaded 2-core machine.
const FENCE_ALLOWANCE: Duration = Duration::from_millis(50);

/// The restarted agent of the crash check starts within this of the kill.
const QUICK_RESTART: Duration = Duration::from_millis(500);

/// A VIP deleted by hand is back within this (asked for by the issue; the
/// agent's own latency is about 5 ms).
const RESTORE_BOUND: Duration = Duration::from_millis(100);

/// How long a window's last probes may take to be answered (a reply can wait
/// for the new Master to resolve the client's address).
const LATE_ANSWERS: Duration = Duration::from_secs(2);

/// The scenario with only its two highest priorities (file order kept).
fn pair(mut scenario: Scenario) -> Scenario {
    let mut by_priority: Vec<u8> = scenario.nodes.iter().map(|n| n.priority).collect();
    by_priority.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(&second) = by_priority.get(1) {
        scenario.nodes.retain(|n| n.priority >= second);
    }
    assert_eq!(
        scenario.nodes.len(),
        2,
        "{}: the two highest priorities are distinct nodes",
        scenario.name
    );
    scenario
}

/// One scenario's lab and what the checks report.
struct Handover {
    r: Running,
    scenario: Scenario,
    vip: IpAddr,
    interface: String,
    instance: String,
    report: Vec<String>,
}

impl Handover {
    fn name(&self, i: usize) -> &str {
        &self.scenario.nodes[i].name
    }

    fn other(&self, i: usize) -> usize {
        1 - i
    }

    fn holders(&self) -> Vec<usize> {
        holders(&self.r.lab, &self.r.nodes, &self.interface, self.vip)
    }

    fn wait_sole_holder(&self, i: usize) -> Result<Duration> {
        wait_for_sole_holder(
            &self.r.lab,
            &self.r.nodes,
            &self.interface,
            self.vip,
            self.r.nodes[i],
            ELECTION,
        )
    }

    fn state(&self, i: usize) -> Option<String> {
        self.r.agent(i).ok()?.state(&self.instance)
    }

    fn counter(&self, i: usize, key: &str) -> Result<u64> {
        self.r.agent(i)?.counter(&self.instance, key)
    }

    /// Whether node `i` takes the VIP back from the other once it runs.
    fn retakes(&self, i: usize) -> bool {
        let (me, other) = (&self.scenario.nodes[i], &self.scenario.nodes[self.other(i)]);
        me.preempt && me.priority > other.priority
    }

    /// A probe of the VIP from the client, already getting answers.
    fn probe(&self) -> Result<Probe> {
        let probe = start_probe(&self.r, self.vip, PROBE_INTERVAL)?;
        wait_for("the probe to get answers", ELECTION, || {
            (probe.answered() > 20).then_some(())
        })?;
        Ok(probe)
    }

    /// The probes between `first` and the latest one that got no answer,
    /// once the answers to the window's last probes had time to come.
    /// Recorded in the report under `what`; returns them.
    fn lost(&mut self, probe: &Probe, first: u64, what: &str, took: Duration) -> Vec<u64> {
        let last = probe.sent();
        let _ = wait_for("the window's probes to be answered", LATE_ANSWERS, || {
            probe.unanswered_in(first, last).is_empty().then_some(())
        });
        let lost = probe.unanswered_in(first, last);
        let line = format!(
            "{} {what}: {} of {} probes lost (one every {} ms), window {} ms",
            self.scenario.name,
            lost.len(),
            last.saturating_sub(first) + 1,
            PROBE_INTERVAL.as_millis(),
            took.as_millis()
        );
        println!("HANDOVER {line}");
        self.report.push(line);
        lost
    }

    fn note(&mut self, line: String) {
        println!("HANDOVER {line}");
        self.report.push(line);
    }
}

fn start_handover(name: &str) -> Result<(Handover, usize)> {
    let scenario = pair(Scenario::load(name)?);
    let case = Case::plain(scenario.clone());
    let r = start(&case)?;
    let mut h = Handover {
        vip: scenario.vip,
        interface: scenario.nodes[0].interface.clone(),
        instance: String::new(),
        r,
        scenario,
        report: Vec::new(),
    };
    // Who holds the VIP once the election settled: the higher priority, or
    // with equal priorities whoever was first (neither preempts the other).
    let master = match expected_holder(&h.scenario, &[0, 1]) {
        Some(expected) => {
            h.wait_sole_holder(expected)?;
            expected
        }
        None => wait_for(
            "one holder of the VIP",
            ELECTION,
            || match h.holders()[..] {
                [one] => h.r.nodes.iter().position(|&n| n == one),
                _ => None,
            },
        )?,
    };
    let backup = h.other(master);
    wait_until_settled_backup(&h.r, backup, h.name(backup), 2)?;
    assert_eq!(h.holders(), [h.r.nodes[master]], "one holder");
    h.instance = h.r.agent(master)?.status()?["instances"][0]["name"]
        .as_str()
        .context("instance name")?
        .to_string();
    Ok((h, master))
}

/// (e) The VIP is deleted by hand on the Master: it is back at once.
fn vip_deleted_by_hand(h: &mut Handover, master: usize) -> Result<()> {
    let node = h.r.nodes[master];
    let became = h.counter(master, "became_master")?;
    let log_before = h.r.agent(master)?.log_text().len();
    let monitor = AddressMonitor::start(&h.r.lab, node)?;
    let cidr = format!("{}/{}", h.vip, h.scenario.vip_prefix_len);
    let needle = format!(" {}/", h.vip);
    let started = Instant::now();
    h.r.lab
        .node(node)
        .ns
        .ip(&["addr", "del", &cidr, "dev", &h.interface])?;
    let deadline = started + ELECTION;
    let next = |what: &str, deleted: bool| -> Result<Instant> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = monitor
                .next(left)
                .with_context(|| format!("waiting for {what}"))?;
            if line.contains(&needle) && line.starts_with("Deleted") == deleted {
                return Ok(Instant::now());
            }
        }
    };
    let deleted_at = next("the deletion", true)?;
    let restored_at = next("the VIP to be added back", false)?;
    // An upper bound of the time the VIP was gone: from before `ip` was
    // started to delete it until the monitor delivered the address back.
    let gone = restored_at - started;
    h.note(format!(
        "{} VIP deleted by hand on {}: back within {:.1} ms of starting `ip addr del` \
         ({:.1} ms between the two events as `ip monitor` delivered them); bound {} ms",
        h.scenario.name,
        h.name(master),
        gone.as_secs_f64() * 1e3,
        (restored_at - deleted_at).as_secs_f64() * 1e3,
        RESTORE_BOUND.as_millis()
    ));
    assert!(
        addresses(&h.r.lab, node, &h.interface).contains(&h.vip),
        "the VIP is on the Master's interface again"
    );
    assert!(
        gone <= RESTORE_BOUND,
        "the VIP came back {gone:?} after `ip addr del` started (bound {RESTORE_BOUND:?})"
    );
    let log = h.r.agent(master)?.log_text();
    assert!(
        log[log_before..].contains("a held VIP was removed from the interface; restoring it"),
        "the agent says it restored the VIP"
    );
    assert_eq!(h.state(master).as_deref(), Some("MASTER"));
    assert_eq!(
        h.counter(master, "became_master")?,
        became,
        "no re-election"
    );
    assert_eq!(h.holders(), [node], "still the only holder");
    Ok(())
}

/// (b) `vip-agent resign` on the Master, then `vip-agent resume`. Returns
/// the Master afterwards.
fn resign_and_resume(h: &mut Handover, master: usize) -> Result<usize> {
    let backup = h.other(master);
    let probe = h.probe()?;
    let first = probe.sent();
    let started = Instant::now();
    h.r.agent(master)?.control("resign", Some(&h.instance))?;
    // Make-before-break as the status shows it: RESIGNING (VIPs kept) for as
    // long as the Backup is not Master, then RESIGNED.
    let mut seen: Vec<String> = Vec::new();
    wait_for("the resigning Master to be RESIGNED", ELECTION, || {
        let state = h.state(master)?;
        let backup_state = h.state(backup)?;
        if backup_state != "MASTER" {
            assert_eq!(
                state, "RESIGNING",
                "while the Backup is not Master yet, the resigning Master keeps its VIPs"
            );
        }
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        (state == "RESIGNED").then_some(())
    })?;
    h.wait_sole_holder(backup)?;
    wait_for_state(h.r.agent(backup)?, &h.instance, "MASTER", ELECTION)?;
    let took = started.elapsed();
    assert!(
        seen.iter().all(|s| s == "RESIGNING" || s == "RESIGNED"),
        "states seen: {seen:?}"
    );
    let lost = h.lost(
        &probe,
        first,
        &format!(
            "resign of {} (states {seen:?}), VIP on {}",
            h.name(master),
            h.name(backup)
        ),
        took,
    );
    assert!(lost.is_empty(), "probes lost in the resign: {lost:?}");

    // Resume: back in the election as Backup; it preempts if it may.
    let first = probe.sent();
    let started = Instant::now();
    let heard = h.counter(master, "adverts_received")?;
    h.r.agent(master)?.control("resume", Some(&h.instance))?;
    let retakes = h.retakes(master);
    let now_master = if retakes {
        h.wait_sole_holder(master)?;
        wait_for_state(h.r.agent(master)?, &h.instance, "MASTER", ELECTION)?;
        wait_for_state(h.r.agent(backup)?, &h.instance, "BACKUP", ELECTION)?;
        master
    } else {
        // More adverts than a Master_Down_Interval lasts: it would have
        // acted by now.
        wait_for("the resumed node to settle as Backup", ELECTION, || {
            let adverts = h.counter(master, "adverts_received").ok()?;
            (h.state(master)? == "BACKUP" && adverts >= heard + 5).then_some(())
        })?;
        assert_eq!(h.holders(), [h.r.nodes[backup]], "no take-back");
        backup
    };
    let took = started.elapsed();
    let lost = h.lost(
        &probe,
        first,
        &format!(
            "resume of {}: {}",
            h.name(master),
            if retakes {
                "preempted back"
            } else {
                "stays Backup (no preemption)"
            }
        ),
        took,
    );
    assert!(lost.is_empty(), "probes lost in the resume: {lost:?}");
    Ok(now_master)
}

/// (c) SIGKILL of the Master and a restart at once: it resumes as Master and
/// the Backup never takes over.
fn crash_and_quick_restart(h: &mut Handover, master: usize) -> Result<()> {
    let backup = h.other(master);
    let became = h.counter(backup, "became_master")?;
    let probe = h.probe()?;
    let first = probe.sent();
    let log_before = h.r.agent(master)?.log_text().len();
    h.r.agent(master)?.signal(Signal::SIGKILL)?;
    let killed = Instant::now();
    h.r.agent_mut(master)?.wait_exit(ELECTION)?;
    h.r.restart(master)?;
    let restarted_after = killed.elapsed();
    assert!(
        restarted_after < QUICK_RESTART,
        "restarted {restarted_after:?} after the kill"
    );
    wait_for_state(h.r.agent(master)?, &h.instance, "MASTER", ELECTION)?;
    h.wait_sole_holder(master)?;
    // The Backup hears the restarted Master: its Master_Down_Timer was reset
    // before it could fire, or it fired and became_master shows it.
    let heard = h.counter(backup, "adverts_received")?;
    wait_for("the Backup to hear the restarted Master", ELECTION, || {
        (h.counter(backup, "adverts_received").ok()? >= heard + 2).then_some(())
    })?;
    let took = killed.elapsed();
    let lost = h.lost(
        &probe,
        first,
        &format!(
            "SIGKILL of {} and restart after {} ms",
            h.name(master),
            restarted_after.as_millis()
        ),
        took,
    );
    let log = h.r.agent(master)?.log_text();
    let restart_log = &log[log_before..];
    assert!(
        restart_log.contains("resuming as Master"),
        "the restarted agent resumes as Master; it said: {}",
        restart_log
            .lines()
            .filter(|l| l.contains("earlier run") || l.contains("state change"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        h.counter(backup, "became_master")?,
        became,
        "the Backup never became Master"
    );
    assert_eq!(h.state(backup).as_deref(), Some("BACKUP"));
    assert!(lost.is_empty(), "probes lost in the crash: {lost:?}");
    Ok(())
}

/// (a) SIGTERM of the Master: the Backup takes over, the agent exits 0.
/// Then the stopped node's agent starts again. Returns the Master after that.
fn sigterm(h: &mut Handover, master: usize) -> Result<usize> {
    let backup = h.other(master);
    let probe = h.probe()?;
    let first = probe.sent();
    let started = Instant::now();
    h.r.agent(master)?.signal(Signal::SIGTERM)?;
    let status = h.r.agent_mut(master)?.wait_exit(ELECTION)?;
    let exited = started.elapsed();
    h.wait_sole_holder(backup)?;
    let took = started.elapsed();
    let lost = h.lost(
        &probe,
        first,
        &format!(
            "SIGTERM of {} (exited after {} ms), VIP on {}",
            h.name(master),
            exited.as_millis(),
            h.name(backup)
        ),
        took,
    );
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert!(lost.is_empty(), "probes lost in the SIGTERM: {lost:?}");
    drop(probe);

    h.r.restart(master)?;
    if h.retakes(master) {
        h.wait_sole_holder(master)?;
        wait_for_state(h.r.agent(master)?, &h.instance, "MASTER", ELECTION)?;
        wait_until_settled_backup(&h.r, backup, h.name(backup), 2)?;
        Ok(master)
    } else {
        wait_until_settled_backup(&h.r, master, h.name(master), 5)?;
        assert_eq!(h.holders(), [h.r.nodes[backup]], "no take-back");
        Ok(backup)
    }
}

/// (d) SIGKILL of the Master for good: once its fencing bound has passed,
/// its MAC answers no ARP request for the VIP; the Backup's does.
fn crash_is_fenced(h: &mut Handover, master: usize) -> Result<()> {
    let backup = h.other(master);
    let node = h.r.nodes[master];
    let mac = h.r.lab.node(node).ns.mac(&h.interface)?;
    let backup_mac = h.r.lab.node(h.r.nodes[backup]).ns.mac(&h.interface)?;
    let ifindex = h.r.lab.node(node).ns.ifindex(&h.interface)?;
    let role = h.name(master).to_string();
    let pin = h.r.lab.bpffs_dir(&role).join("L2_STATS");
    let client_interface = h.scenario.client.interface.clone();
    let (macs, text) = arping_macs(&h.r.lab, h.r.client, &client_interface, h.vip, 1, "0.5")?;
    assert_eq!(macs, [mac], "the Master's XDP answers before: {text}");
    let before = l2_stats(&pin, ifindex)?;

    h.r.agent(master)?.signal(Signal::SIGKILL)?;
    let killed = Instant::now();
    h.r.agent_mut(master)?.wait_exit(ELECTION)?;
    let limit = FENCE_BOUND + FENCE_BOUND / 4 + FENCE_ALLOWANCE;
    let watch = FenceWatch {
        client: h.r.client,
        interface: &client_interface,
        vip: h.vip,
        mac,
    };
    let fencing = watch_fencing(&h.r.lab, &watch, killed, limit, 5)?;
    let vip_still_there = addresses(&h.r.lab, node, &h.interface).contains(&h.vip);
    let after = l2_stats(&pin, ifindex)?;
    h.note(format!(
        "{} SIGKILL of {} without restart: {}; VIP still in its kernel: {vip_still_there}; \
         arp_fenced {} -> {}",
        h.scenario.name,
        h.name(master),
        fencing.summary(),
        stat(&before, "arp_fenced"),
        stat(&after, "arp_fenced")
    ));
    let (late, answered) = fencing.after_limit();
    assert!(late >= 5);
    assert_eq!(
        answered, 0,
        "the dead node answers no ARP request after its fencing bound: {:?}",
        fencing.requests
    );
    assert!(
        stat(&after, "arp_fenced") > stat(&before, "arp_fenced"),
        "XDP counted the dropped requests as fenced: {before:?} -> {after:?}"
    );

    // The Backup takes over; ARP finds it, and only it.
    wait_for("the Backup to take the VIP", ELECTION, || {
        holders(&h.r.lab, &[h.r.nodes[backup]], &h.interface, h.vip)
            .first()
            .copied()
    })?;
    let taken_over = killed.elapsed();
    let (macs, text) = arping_macs(&h.r.lab, h.r.client, &client_interface, h.vip, 1, "0.5")?;
    assert!(!macs.is_empty(), "the new Master answers ARP: {text}");
    assert!(
        macs.iter().all(|m| *m == backup_mac),
        "only the new Master answers: {text}"
    );
    h.note(format!(
        "{} VIP on {} {} ms after the kill; ARP answered by it alone",
        h.scenario.name,
        h.name(backup),
        taken_over.as_millis()
    ));
    Ok(())
}

fn run_handovers(name: &str) -> Result<()> {
    let started = Instant::now();
    let (mut h, master) = start_handover(name)?;
    vip_deleted_by_hand(&mut h, master)?;
    let master = resign_and_resume(&mut h, master)?;
    crash_and_quick_restart(&mut h, master)?;
    let master = sigterm(&mut h, master)?;
    crash_is_fenced(&mut h, master)?;
    println!("==== {name}: {} s", started.elapsed().as_secs());
    for line in &h.report {
        println!("  {line}");
    }
    h.r.lab.passed();
    Ok(())
}

#[test]
fn docker_pair_hands_over_without_losing_a_probe() -> Result<()> {
    run_handovers("docker-pair")
}

#[test]
fn swarm_four_hands_over_without_losing_a_probe() -> Result<()> {
    run_handovers("swarm-four")
}

#[test]
fn unicast_gateway_hands_over_without_losing_a_probe() -> Result<()> {
    run_handovers("unicast-gateway")
}
