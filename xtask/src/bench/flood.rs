//! ARP flood end to end, and the election under it. A generator namespace
//! sends broadcast ARP requests for the VIP as fast as one thread can
//! (AF_PACKET, sendmmsg batches of 64, qdisc bypass) for a fixed time,
//! through a bridge to a Master holding the VIP and a Backup (VRRPv3,
//! advert_int 0.05). Measured: requests sent and replies received (the
//! generator's interface counters), the whole machine's CPU from
//! /proc/stat, and the state changes of both VRRP nodes during the flood.

use std::{
    fs,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::{
    check_interrupt,
    daemon::{self, holds, System, VIP},
    lab::{self, Lab, IFACE},
    pause, Env,
};

pub const VARIANTS: [(&str, System, &str); 3] = [
    ("vip-agent, XDP (skb mode)", System::VipAgent, "skb"),
    ("vip-agent, --xdp-mode off", System::VipAgent, "off"),
    ("keepalived", System::Keepalived, ""),
];

/// The responder CPU: the Master's and Backup's receive path is steered
/// there with RPS; the generator is pinned to CPU 0.
const RESPONDER_CPU: usize = 1;

/// /proc/stat line of `cpu` (None: the whole machine): (total, idle+iowait,
/// system, softirq) in ticks.
fn cpu_ticks(cpu: Option<usize>) -> (u64, u64, u64, u64) {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let name = cpu
        .map(|c| format!("cpu{c}"))
        .unwrap_or_else(|| "cpu".into());
    let f: Vec<u64> = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let total: u64 = (0..8).map(get).sum();
    (total, get(3) + get(4), get(2), get(6))
}

fn net_rx_softirqs() -> u64 {
    fs::read_to_string("/proc/softirqs")
        .unwrap_or_default()
        .lines()
        .find(|l| l.trim_start().starts_with("NET_RX:"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// (rx_packets, tx_packets, tx_dropped) of the node's eth0.
fn link_stats(lab: &Lab, node: usize) -> Result<(u64, u64, u64)> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-s", "-j", "link", "show", "dev", IFACE])?;
    let json: Value = serde_json::from_slice(&out.stdout)?;
    let s = &json[0]["stats64"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    Ok((
        n(&s["rx"]["packets"]),
        n(&s["tx"]["packets"]),
        n(&s["tx"]["dropped"]),
    ))
}

/// Sends `frame` on `eth0` of the calling thread's namespace until `secs`
/// elapse; returns the frames the kernel accepted.
fn generate(frame: Vec<u8>, secs: f64) -> Result<u64> {
    let mut set = nix::sched::CpuSet::new();
    set.set(0)?;
    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    let ifindex = nix::net::if_::if_nametoindex(IFACE)?;
    // SAFETY: plain socket call; the fd is owned below.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: valid option pointer and length. PACKET_QDISC_BYPASS = 20.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            20,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    // SAFETY: all-zero sockaddr_ll is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: addr is a valid sockaddr_ll.
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    } != 0
    {
        bail!("bind: {}", std::io::Error::last_os_error());
    }
    const BATCH: usize = 64;
    let mut iov = libc::iovec {
        iov_base: frame.as_ptr() as *mut libc::c_void,
        iov_len: frame.len(),
    };
    // SAFETY: zeroed mmsghdr is valid; iov points to `frame`, alive below.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        .map(|_| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    let mut loops = 0u32;
    loop {
        // SAFETY: msgs holds BATCH valid headers.
        let n = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), BATCH as u32, 0) };
        if n > 0 {
            sent += n as u64;
        }
        loops += 1;
        if loops.is_multiple_of(64) && (Instant::now() >= end || check_interrupt().is_err()) {
            break;
        }
    }
    Ok(sent)
}

fn one(env: &Env, variant: (&str, System, &str)) -> Result<Value> {
    let (label, system, mode) = variant;
    let mut lab = lab::new_lab()?;
    let gen = lab::add_node(&mut lab, "gen", &["10.0.0.9/24"])?;
    let a = lab::add_node(&mut lab, "a", &["10.0.0.1/24"])?;
    let b = lab::add_node(&mut lab, "b", &["10.0.0.2/24"])?;
    let (da, db) = daemon::start_pair(&mut lab, &env.agent_bin, system, (a, b), 3, "0.05", mode)?;
    for node in [a, b] {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", lab.node(node).ns.name.as_str(), "sh", "-c"])
            .arg(format!(
                "echo {:x} > /sys/class/net/{IFACE}/queues/rx-0/rps_cpus",
                1u32 << RESPONDER_CPU
            ));
        lab::run(&mut cmd)?;
    }
    // Past the garp_master_delay burst is not needed: GARPs are a handful.
    pause(Duration::from_millis(500))?;
    let gen_mac = lab.node(gen).ns.mac(IFACE)?;
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&gen_mac);
    frame.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    frame.extend_from_slice(&gen_mac);
    frame.extend_from_slice(&[10, 0, 0, 9]);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&[10, 0, 0, 100]);

    // Idle baseline: same namespaces and daemons, no flood.
    let idle_secs = 1.5;
    let (rx0, _, _) = link_stats(&lab, gen)?;
    let (c0, r0) = (cpu_ticks(None), cpu_ticks(Some(RESPONDER_CPU)));
    pause(Duration::from_secs_f64(idle_secs))?;
    let (c1, r1) = (cpu_ticks(None), cpu_ticks(Some(RESPONDER_CPU)));
    let (rx1, tx1, drop1) = link_stats(&lab, gen)?;
    let idle_rx_rate = (rx1 - rx0) as f64 / idle_secs;
    let m0 = (
        da.became_master(&env.agent_bin)?,
        db.became_master(&env.agent_bin)?,
    );
    let s0 = net_rx_softirqs();
    let secs = env.plan.flood_secs;
    let t = Instant::now();
    let sent = lab.node(gen).ns.in_thread(move || generate(frame, secs))?;
    let elapsed = t.elapsed().as_secs_f64();
    let (c2, r2) = (cpu_ticks(None), cpu_ticks(Some(RESPONDER_CPU)));
    let s1 = net_rx_softirqs();
    let (rx2, tx2, drop2) = link_stats(&lab, gen)?;
    // State changes logged just after the flood still count.
    pause(Duration::from_millis(300))?;
    check_interrupt()?;
    let m1 = (
        da.became_master(&env.agent_bin)?,
        db.became_master(&env.agent_bin)?,
    );
    let a_holds = holds(&lab, a, VIP);
    let b_holds = holds(&lab, b, VIP);
    let replies = ((rx2 - rx1) as f64 - idle_rx_rate * elapsed).max(0.0);
    let frac = |d: u64, total: u64| d as f64 / total.max(1) as f64;
    let (idle_total, flood_total) = (c1.0 - c0.0, c2.0 - c1.0);
    let busy_idle = frac(idle_total - (c1.1 - c0.1), idle_total);
    let busy_flood = frac(flood_total - (c2.1 - c1.1), flood_total);
    let (r_idle_total, r_flood_total) = (r1.0 - r0.0, r2.0 - r1.0);
    let r_busy_idle = frac(r_idle_total - (r1.1 - r0.1), r_idle_total);
    let r_busy_ticks = r_flood_total - (r2.1 - r1.1);
    let r_busy_flood = frac(r_busy_ticks, r_flood_total);
    let tick_ns =
        1e9 / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    let softirq_ticks = (c2.3 - c1.3) as f64;
    let sys_ticks = (c2.2 - c1.2) as f64;
    Ok(json!({
        "variant": label,
        "system": system.name(),
        "xdp_mode": mode,
        "seconds": elapsed,
        "requests_sent": sent,
        "gen_tx_packets": tx2 - tx1,
        "gen_tx_dropped": drop2 - drop1,
        "replies": replies,
        "requests_per_s": sent as f64 / elapsed,
        "replies_per_s": replies / elapsed,
        "reply_ratio": replies / (sent.max(1) as f64),
        "machine_busy_idle": busy_idle,
        "machine_busy_flood": busy_flood,
        "softirq_frac_flood": frac(c2.3 - c1.3, flood_total),
        "system_frac_flood": frac(c2.2 - c1.2, flood_total),
        "softirq_ns_per_request": softirq_ticks * tick_ns / sent.max(1) as f64,
        "sys_plus_softirq_ns_per_request": (softirq_ticks + sys_ticks) * tick_ns / sent.max(1) as f64,
        "net_rx_softirqs": s1 - s0,
        "responder_cpu": RESPONDER_CPU,
        "responder_busy_idle": r_busy_idle,
        "responder_busy_flood": r_busy_flood,
        "responder_softirq_frac_flood": frac(r2.3 - r1.3, r_flood_total),
        "responder_cpu_ns_per_reply": r_busy_ticks as f64 * tick_ns / replies.max(1.0),
        "state_changes_during_flood": (m1.0 - m0.0) + (m1.1 - m0.1),
        "a_became_master_delta": m1.0 - m0.0,
        "b_became_master_delta": m1.1 - m0.1,
        "master_holds_vip_after": a_holds,
        "backup_holds_vip_after": b_holds,
    }))
}

pub fn run(env: &Env) -> Result<Value> {
    let mut samples = Vec::new();
    for rep in 0..env.plan.flood_reps {
        for variant in VARIANTS {
            check_interrupt()?;
            let mut s = one(env, variant).with_context(|| format!("{} rep {rep}", variant.0))?;
            s["rep"] = json!(rep);
            eprintln!(
                "  flood {} rep {rep}: {:.0} req/s, {:.0} replies/s, responder CPU busy {:.0}%, softirq {:.0}%, state changes {}",
                variant.0,
                s["requests_per_s"].as_f64().unwrap_or(0.0),
                s["replies_per_s"].as_f64().unwrap_or(0.0),
                100.0 * s["responder_busy_flood"].as_f64().unwrap_or(0.0),
                100.0 * s["responder_softirq_frac_flood"].as_f64().unwrap_or(0.0),
                s["state_changes_during_flood"]
            );
            samples.push(s);
        }
    }
    Ok(Value::Array(samples))
}
