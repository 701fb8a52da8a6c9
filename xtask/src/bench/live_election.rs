//! The election under a live-frames flood. A Master (VRRPv3, advert_int
//! 0.05 s, priority 150) holds the VIP on the flooded veth; the Backup
//! (priority 100) listens on the generator's end of the same veth pair, so
//! the Master's adverts leave through the flooded link. The offered load
//! lies between the kernel path's capacity and the fast path's, both
//! measured first in the same run ([`live_flood`] runs of the kernel path
//! and of native XDP): their geometric mean, so neither end decides it.
//! NAPI runs as a gateway runs it, in softirq on whichever CPU scheduled it
//! (the generator's); the daemons are not pinned. Counted: state changes to
//! Master of both nodes during the flood, and who holds the VIP after it.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use super::{
    check_interrupt,
    daemon::{self, holds, System, VIP},
    lab::IFACE,
    live_flood::{self, generate, pin_baselines, veth_lab, xdp_attachment, Responder},
    pause, wait_until, Env,
};

pub const VARIANTS: [(&str, System, &str); 4] = [
    ("vip-agent, native XDP", System::VipAgent, "native"),
    ("vip-agent, skb XDP", System::VipAgent, "skb"),
    ("vip-agent, --xdp-mode off", System::VipAgent, "off"),
    ("keepalived", System::Keepalived, ""),
];

/// The load offered between two capacities (answers per second): their
/// geometric mean.
pub fn load_between(kernel: f64, fast: f64) -> f64 {
    (kernel * fast).sqrt()
}

fn one(env: &Env, variant: (&str, System, &str), rate: f64) -> Result<Value> {
    let (label, system, mode) = variant;
    // The Backup's interface is the generator's end of the pair.
    let (mut lab, gen, dut) = veth_lab(IFACE)?;
    let conf = |priority, master| daemon::pair_config(3, "0.05", priority, master);
    let master = daemon::start(
        &mut lab,
        &env.agent_bin,
        system,
        dut,
        "master",
        &conf(daemon::PRIO_MASTER, true),
        mode,
    )?;
    let backup = daemon::start(
        &mut lab,
        &env.agent_bin,
        system,
        gen,
        "backup",
        &conf(daemon::PRIO_BACKUP, false),
        mode,
    )?;
    wait_until(
        "the Master to hold the VIP",
        Duration::from_secs(15),
        || holds(&lab, dut, VIP) && !holds(&lab, gen, VIP),
    )?;
    if mode != "native" {
        // NAPI for the frames the generator redirects, and for the answers.
        for node in [dut, gen] {
            live_flood::exec_in(&lab, node, &format!("ethtool -K {IFACE} gro on"))?;
        }
    }
    let attached = xdp_attachment(&lab, dut)?;
    let pins = lab.bpffs_dir("live");
    std::fs::create_dir_all(&pins)?;
    pin_baselines(&env.baselines_obj, &pins)?;
    // Past the Master's start-up announcements.
    pause(Duration::from_millis(500))?;
    let m0 = (
        master.became_master(&env.agent_bin)?,
        backup.became_master(&env.agent_bin)?,
    );
    let ifindex = lab.node(gen).ns.ifindex(IFACE)?;
    let generator = pins.join("bench_arp_gen");
    let secs = env.plan.live_election_secs;
    let (offered, seconds) = lab
        .node(gen)
        .ns
        .in_thread(move || generate(&generator, ifindex, secs, Some(rate)))?;
    // State changes logged just after the flood still count.
    pause(Duration::from_millis(300))?;
    check_interrupt()?;
    let m1 = (
        master.became_master(&env.agent_bin)?,
        backup.became_master(&env.agent_bin)?,
    );
    Ok(json!({
        "variant": label,
        "system": system.name(),
        "xdp": attached,
        "offered_per_s": offered as f64 / seconds,
        "seconds": seconds,
        "master_became_master": m1.0 - m0.0,
        "backup_became_master": m1.1 - m0.1,
        "state_changes": (m1.0 - m0.0) + (m1.1 - m0.1),
        "master_holds_vip_after": holds(&lab, dut, VIP),
        "backup_holds_vip_after": holds(&lab, gen, VIP),
    }))
}

pub fn run(env: &Env) -> Result<Value> {
    // The two capacities, measured first: answers sent per second.
    let capacity = |label: &str, responder: Responder| -> Result<f64> {
        let s = live_flood::one(env, label, responder)
            .with_context(|| format!("measuring the capacity of {label}"))?;
        s["answers_sent_per_s"]
            .as_f64()
            .context("no answers_sent_per_s")
    };
    let kernel = capacity("kernel path", Responder::Daemon(System::VipAgent, "off"))?;
    let fast = capacity("native XDP", Responder::Daemon(System::VipAgent, "native"))?;
    ensure!(
        fast > kernel,
        "native XDP answered {fast:.0}/s, the kernel path {kernel:.0}/s: no load lies between"
    );
    let rate = load_between(kernel, fast);
    eprintln!(
        "  live election: kernel path {:.2} M/s, native XDP {:.2} M/s: offering {:.2} M/s",
        kernel / 1e6,
        fast / 1e6,
        rate / 1e6
    );
    let mut runs = Vec::new();
    for rep in 0..env.plan.live_election_reps {
        for variant in VARIANTS {
            check_interrupt()?;
            let mut s =
                one(env, variant, rate).with_context(|| format!("{} rep {rep}", variant.0))?;
            s["rep"] = json!(rep);
            eprintln!(
                "  live election {} rep {rep}: offered {:.2} M/s, state changes {} (Master {}, \
                 Backup {}), VIP on Master {}, on Backup {}",
                variant.0,
                s["offered_per_s"].as_f64().unwrap_or(0.0) / 1e6,
                s["state_changes"],
                s["master_became_master"],
                s["backup_became_master"],
                s["master_holds_vip_after"],
                s["backup_holds_vip_after"],
            );
            runs.push(s);
        }
    }
    Ok(json!({
        "kernel_answers_per_s": kernel,
        "native_answers_per_s": fast,
        "offered_per_s": rate,
        "runs": runs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_lies_between_the_two_capacities() {
        let rate = load_between(0.25e6, 4.0e6);
        assert!((rate - 1.0e6).abs() < 1.0);
        assert!(0.25e6 < rate && rate < 4.0e6);
    }
}
