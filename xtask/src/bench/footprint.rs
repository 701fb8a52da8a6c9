//! Footprint: RSS and CPU of the daemon (its whole process tree: keepalived
//! forks a VRRP child) with 1, 64 and 255 VRRPv3 instances on one
//! interface, every instance Master (no peer), over a fixed window once
//! all VIPs are up. CPU from /proc/PID/stat utime+stime, RSS from
//! /proc/PID/status VmRSS at the end of the window.

use std::{fs, time::Duration};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::{
    check_interrupt,
    daemon::{self, addresses, Inst, System},
    lab, pause, wait_until, Env,
};

pub const SIZES: [u32; 3] = [1, 64, 255];
pub const ADVERTS: [&str; 2] = ["1", "0.1"];

fn ticks(pid: i32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based); rest starts at field 3.
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|x| x.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

fn rss_kb(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn one(env: &Env, system: System, n: u32, advert: &str) -> Result<Value> {
    let mut lab = lab::new_lab()?;
    let node = lab::add_node(&mut lab, "dut", &["10.1.255.1/16"])?;
    let insts: Vec<Inst> = (1..=n)
        .map(|vrid| Inst {
            vrid: vrid as u8,
            priority: 100,
            master: true,
            vip: format!("10.1.0.{vrid}/16"),
        })
        .collect();
    let conf = daemon::config(3, advert, Some(0), &insts);
    let d = daemon::start(&mut lab, &env.agent_bin, system, node, "dut", &conf, "auto")?;
    let t_start = std::time::Instant::now();
    wait_until(
        "every instance to hold its VIP",
        Duration::from_secs(30),
        || addresses(&lab, node).len() > n as usize,
    )?;
    let startup_s = t_start.elapsed().as_secs_f64();
    pause(Duration::from_secs_f64(if env.plan.quick {
        0.3
    } else {
        1.0
    }))?;
    let tree = d.tree();
    let t0: u64 = tree.iter().map(|&p| ticks(p)).sum();
    let window = env.plan.footprint_secs;
    let start = std::time::Instant::now();
    pause(Duration::from_secs_f64(window))?;
    let elapsed = start.elapsed().as_secs_f64();
    let tree_end = d.tree();
    let t1: u64 = tree.iter().map(|&p| ticks(p)).sum();
    let rss: u64 = tree_end.iter().map(|&p| rss_kb(p)).sum();
    let tick_s =
        1.0 / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    Ok(json!({
        "system": system.name(),
        "instances": n,
        "advert_int_s": advert.parse::<f64>().unwrap_or(0.0),
        "processes": tree_end.len(),
        "rss_kb": rss,
        "cpu_percent": (t1.saturating_sub(t0)) as f64 * tick_s / elapsed * 100.0,
        "window_s": elapsed,
        "startup_s": startup_s,
    }))
}

pub fn run(env: &Env) -> Result<Value> {
    let mut samples = Vec::new();
    for rep in 0..env.plan.footprint_reps {
        for &n in &SIZES {
            for advert in ADVERTS {
                for system in [System::VipAgent, System::Keepalived] {
                    check_interrupt()?;
                    let mut s = one(env, system, n, advert).with_context(|| {
                        format!("{} {n} instances advert {advert}", system.name())
                    })?;
                    s["rep"] = json!(rep);
                    eprintln!(
                        "  footprint {} n={n} advert {advert} rep {rep}: {} kB, {:.2}% CPU (up in {:.1} s)",
                        system.name(),
                        s["rss_kb"],
                        s["cpu_percent"].as_f64().unwrap_or(0.0),
                        s["startup_s"].as_f64().unwrap_or(0.0)
                    );
                    samples.push(s);
                }
            }
        }
    }
    Ok(Value::Array(samples))
}
