//! The ARP answer under a flood that saturates: the kernel's live-frames
//! test-run mode (`BPF_PROG_TEST_RUN` with `BPF_F_TEST_XDP_LIVE_FRAMES`)
//! runs the generator program in the generator namespace, and its `XDP_TX`
//! sends each ARP request out of the generator's veth straight into the
//! responder's veth (a veth pair, no bridge). The responder is vip-agent
//! holding the VIP (native XDP, skb XDP, `--xdp-mode off`), keepalived
//! holding it (the kernel answers), or the floor: a bare MAC swap +
//! `XDP_TX` attached natively. A native program on the generator's veth
//! counts the answers that come back and drops them.
//!
//! The responder's receive path runs in its veth's threaded NAPI thread,
//! pinned to [`RESPONDER_CPU`]; the generator and the counter's NAPI thread
//! run on [`GENERATOR_CPU`]. The responder's cost is that thread's CPU time
//! (`/proc/<tid>/schedstat`) per answer it sent: XDP_TX's with a native
//! program (`ethtool -S`, sent + failed), else the stack's transmits
//! (`ip -s link`, sent + dropped). Sent, not arrived: with two CPUs the counter shares its CPU with
//! the generator, and the generator's veth refuses answers its counter has
//! not drained; each refused answer cost the responder as much as one that
//! arrived. Both are reported, and how busy the responder's thread was.
//!
//! Facts this rests on (kernel 6.18): the receiving veth needs NAPI or
//! every redirected frame fails, so without a native program on it GRO is
//! switched on; live mode recycles pages with the responder's edits in
//! them, so the generator rewrites the whole request each run; a test-run
//! call ends in `synchronize_rcu`, so calls are sized to about 100 ms; the
//! kernel reports no duration in live mode, so time is wall-clock.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use aya::{
    maps::{Map, MapData, PerCpuArray},
    programs::{links::FdLink, TestRun, TestRunAttrs, TestRunOptions, Xdp, XdpMode},
    Ebpf,
};
use aya_obj::programs::XdpAttachType;
use nix::{
    sched::{sched_setaffinity, CpuSet},
    unistd::Pid,
};
use serde_json::{json, Value};

use super::{
    check_interrupt,
    daemon::{self, holds, Inst, System, VIP},
    lab::{self, Lab, IFACE},
    pause, wait_until, Env,
};

/// What answers the requests on the responder's `eth0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Responder {
    /// A daemon holding the VIP; vip-agent with this `--xdp-mode`.
    Daemon(System, &'static str),
    /// `bench_tx_floor` attached natively: the cheapest possible answer.
    Floor,
}

pub const VARIANTS: [(&str, Responder); 5] = [
    (
        "vip-agent, native XDP",
        Responder::Daemon(System::VipAgent, "native"),
    ),
    (
        "vip-agent, skb XDP",
        Responder::Daemon(System::VipAgent, "skb"),
    ),
    (
        "vip-agent, --xdp-mode off (kernel)",
        Responder::Daemon(System::VipAgent, "off"),
    ),
    (
        "keepalived (kernel)",
        Responder::Daemon(System::Keepalived, ""),
    ),
    ("floor: swap MACs + XDP_TX, native", Responder::Floor),
];

pub const GENERATOR_CPU: usize = 0;
pub const RESPONDER_CPU: usize = 1;
/// The generator's end of the veth pair (the responder's is [`IFACE`]).
pub(super) const GENERATOR_IF: &str = "lg0";
/// Frames per live-frames batch (the kernel's default is 64).
const BATCH: u32 = 64;
/// The frame handed to the generator program, which fills in the request.
const FRAME_LEN: usize = 60;

pub(super) fn ip_in(lab: &Lab, node: usize, args: &[&str]) -> Result<()> {
    lab.node(node).ns.ip(args)?;
    Ok(())
}

pub(super) fn exec_in(lab: &Lab, node: usize, shell: &str) -> Result<()> {
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        lab.node(node).ns.name.as_str(),
        "sh",
        "-c",
        shell,
    ]);
    lab::run(&mut cmd)?;
    Ok(())
}

/// The nonzero per-queue XDP and drop counters of a veth (`ethtool -S`).
fn veth_stats(lab: &Lab, node: usize, interface: &str) -> Result<BTreeMap<String, u64>> {
    let out = lab.node(node).ns.exec("ethtool", &["-S", interface])?;
    Ok(parse_ethtool_stats(&String::from_utf8_lossy(&out.stdout)))
}

/// `name: value` lines of `ethtool -S`, the nonzero ones.
pub fn parse_ethtool_stats(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            let value: u64 = value.trim().parse().ok()?;
            (value != 0).then(|| (name.trim().to_string(), value))
        })
        .collect()
}

/// What `after` counted beyond `before`, the nonzero differences.
fn stats_delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Value {
    let delta: serde_json::Map<String, Value> = after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d != 0).then(|| (k.clone(), json!(d)))
        })
        .collect();
    Value::Object(delta)
}

/// Answers the responder sent or tried to send: with a native program,
/// XDP_TX's (`ethtool -S`, sent + failed; `ip -s link` counts them too);
/// otherwise the stack's transmits (`ip -s link`, sent + dropped), which
/// generic XDP_TX goes through.
fn frames_out(
    lab: &Lab,
    node: usize,
    interface: &str,
    native: bool,
    veth: &BTreeMap<String, u64>,
) -> Result<u64> {
    if native {
        return Ok(xdp_tx(veth));
    }
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "-s", "link", "show", "dev", interface])?;
    let json: Value = serde_json::from_slice(&out.stdout)?;
    let tx = &json[0]["stats64"]["tx"];
    Ok(tx["packets"].as_u64().context("no TX packets")? + tx["dropped"].as_u64().unwrap_or(0))
}

/// XDP_TX sent and failed, over every queue.
pub fn xdp_tx(veth: &BTreeMap<String, u64>) -> u64 {
    veth.iter()
        .filter(|(k, _)| k.ends_with("_xdp_tx") || k.ends_with("_xdp_tx_errors"))
        .map(|(_, v)| v)
        .sum()
}

/// Thread ids of the kernel's threaded-NAPI threads, by name.
fn napi_threads() -> BTreeSet<(i32, String)> {
    let mut out = BTreeSet::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.starts_with("napi/") {
            out.insert((pid, comm.trim().to_string()));
        }
    }
    out
}

/// Switches `interface` of `node` to threaded NAPI and returns the new
/// NAPI thread, pinned to `cpu`.
fn threaded_napi(lab: &Lab, node: usize, interface: &str, cpu: usize) -> Result<i32> {
    let before = napi_threads();
    exec_in(
        lab,
        node,
        &format!("echo 1 > /sys/class/net/{interface}/threaded"),
    )?;
    let prefix = format!("napi/{interface}-");
    let mut found = None;
    wait_until(
        &format!("the NAPI thread of {interface}"),
        Duration::from_secs(5),
        || {
            found = napi_threads()
                .difference(&before)
                .find(|(_, name)| name.starts_with(&prefix))
                .map(|(tid, _)| *tid);
            found.is_some()
        },
    )?;
    let tid = found.context("no NAPI thread")?;
    pin(Pid::from_raw(tid), cpu)?;
    Ok(tid)
}

pub(super) fn pin(pid: Pid, cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(pid, &set).with_context(|| format!("pinning {pid} to CPU {cpu}"))
}

/// Nanoseconds thread `tid` has run (first field of its schedstat).
fn cpu_ns(tid: i32) -> Result<u64> {
    let path = format!("/proc/{tid}/schedstat");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_schedstat(&text).with_context(|| format!("parsing {path}: {text:?}"))
}

/// The run time in a `schedstat` line: `run_ns wait_ns timeslices`.
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

fn returned(pins: &Path) -> Result<u64> {
    let map = Map::PerCpuArray(MapData::from_pin(pins.join("ARP_RETURNED"))?);
    let counts: PerCpuArray<MapData, u64> = PerCpuArray::try_from(map)?;
    Ok(counts.get(&0, 0)?.iter().sum())
}

/// Runs the generator for `secs` on [`GENERATOR_CPU`] in the calling
/// thread's namespace; returns the frames it sent and the wall-clock time.
/// With `rate`, about that many frames per second, sent every 10 ms.
pub(super) fn generate(
    program: &Path,
    ifindex: u32,
    secs: f64,
    rate: Option<f64>,
) -> Result<(u64, f64)> {
    pin(Pid::from_raw(0), GENERATOR_CPU)?;
    let program =
        Xdp::from_pin(program, XdpAttachType::Interface).context("opening the pinned generator")?;
    let frame = [0u8; FRAME_LEN];
    // xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    // egress_ifindex.
    let ctx: Vec<u8> = [0, FRAME_LEN as u32, 0, ifindex, 0, 0]
        .iter()
        .flat_map(|x: &u32| x.to_ne_bytes())
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let tick = Duration::from_millis(10);
    let mut repeat: u32 = match rate {
        Some(rate) => ((rate * tick.as_secs_f64()) as u32).max(1),
        None => 1 << 16,
    };
    let mut sent = 0u64;
    loop {
        check_interrupt()?;
        let call = Instant::now();
        program
            .test_run(TestRunOptions {
                data_in: Some(&frame),
                ctx_in: Some(&ctx),
                repeat,
                attrs: TestRunAttrs::new().xdp_live_frames(BATCH),
                ..TestRunOptions::new()
            })
            .context("live-frames test run")?;
        sent += u64::from(repeat);
        let now = Instant::now();
        if now >= end {
            break;
        }
        match rate {
            Some(rate) => {
                // Each call also waits for an RCU grace period: size the
                // next one to what is due, and wait when ahead.
                let ahead = Duration::from_secs_f64(sent as f64 / rate);
                if let Some(wait) = (start + ahead).checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let due = rate * (start.elapsed() + tick).as_secs_f64();
                repeat = (due - sent as f64).clamp(1024.0, rate) as u32;
            }
            None => repeat = next_repeat(repeat, call.elapsed(), end - now),
        }
    }
    Ok((sent, start.elapsed().as_secs_f64()))
}

/// The repeat count of the next call: about 100 ms at the rate the last
/// call ran, and no longer than what is left of the run.
pub fn next_repeat(last: u32, took: Duration, left: Duration) -> u32 {
    let rate = f64::from(last) / took.as_secs_f64().max(1e-6);
    let target = left.min(Duration::from_millis(100)).as_secs_f64();
    (rate * target).clamp(1024.0, 64.0 * 1024.0 * 1024.0) as u32
}

/// A lab of two namespaces joined by one veth pair (no bridge: frames
/// redirected out of the generator's veth go to its peer): `gen` with
/// `gen_if` (10.0.0.9/24), `dut` with [`IFACE`] (10.0.0.1/24).
pub(super) fn veth_lab(gen_if: &str) -> Result<(Lab, usize, usize)> {
    let mut lab = lab::new_lab()?;
    let gen = lab::add_node(&mut lab, "gen", &[])?;
    let dut = lab::add_node(&mut lab, "dut", &[])?;
    // A direct veth pair instead of the bridge: redirected frames go from
    // the generator's veth to its peer.
    ip_in(&lab, gen, &["link", "del", IFACE])?;
    ip_in(&lab, dut, &["link", "del", IFACE])?;
    let dut_ns = lab.node(dut).ns.name.clone();
    ip_in(
        &lab,
        gen,
        &[
            "link", "add", gen_if, "type", "veth", "peer", "name", IFACE, "netns", &dut_ns,
        ],
    )?;
    ip_in(&lab, gen, &["addr", "add", "10.0.0.9/24", "dev", gen_if])?;
    ip_in(&lab, gen, &["link", "set", gen_if, "up"])?;
    ip_in(&lab, dut, &["addr", "add", "10.0.0.1/24", "dev", IFACE])?;
    ip_in(&lab, dut, &["link", "set", IFACE, "up"])?;

    Ok((lab, gen, dut))
}

/// One measured run: a new pair of namespaces, the responder, the flood.
pub(super) fn one(env: &Env, label: &str, responder: Responder) -> Result<Value> {
    let (mut lab, gen, dut) = veth_lab(GENERATOR_IF)?;
    let pins = lab.bpffs_dir("live");
    fs::create_dir_all(&pins)?;
    pin_baselines(&env.baselines_obj, &pins)?;
    attach_native(&lab, gen, &pins, "bench_count_arp", GENERATOR_IF)?;

    let daemon = match responder {
        Responder::Daemon(system, mode) => {
            let conf = daemon::config(
                3,
                "1",
                None,
                &[Inst {
                    vrid: 51,
                    priority: 150,
                    master: true,
                    vip: format!("{VIP}/24"),
                }],
            );
            let d = daemon::start(&mut lab, &env.agent_bin, system, dut, "dut", &conf, mode)?;
            wait_until(
                "the responder to hold the VIP",
                Duration::from_secs(15),
                || holds(&lab, dut, VIP),
            )?;
            if mode != "native" {
                exec_in(&lab, dut, &format!("ethtool -K {IFACE} gro on"))?;
            }
            Some(d)
        }
        Responder::Floor => {
            attach_native(&lab, dut, &pins, "bench_tx_floor", IFACE)?;
            None
        }
    };
    let attached = xdp_attachment(&lab, dut)?;
    let expected = match responder {
        Responder::Daemon(System::VipAgent, "native") | Responder::Floor => "xdpdrv",
        Responder::Daemon(System::VipAgent, "skb") => "xdpgeneric",
        Responder::Daemon(..) => "none",
    };
    ensure!(
        attached == expected,
        "{label}: the responder's {IFACE} has XDP {attached}, expected {expected}"
    );
    let native = attached == "xdpdrv";
    let responder_tid = threaded_napi(&lab, dut, IFACE, RESPONDER_CPU)?;
    threaded_napi(&lab, gen, GENERATOR_IF, GENERATOR_CPU)?;

    let ifindex = lab.node(gen).ns.ifindex(GENERATOR_IF)?;
    let generator = pins.join("bench_arp_gen");
    let flood = |secs: f64| -> Result<(u64, f64)> {
        let generator = generator.clone();
        lab.node(gen)
            .ns
            .in_thread(move || generate(&generator, ifindex, secs, None))
    };
    flood(0.5)?;
    pause(Duration::from_millis(50))?;
    let stats0 = (
        veth_stats(&lab, gen, GENERATOR_IF)?,
        veth_stats(&lab, dut, IFACE)?,
    );
    let out0 = frames_out(&lab, dut, IFACE, native, &stats0.1)?;
    let (returned0, cpu0) = (returned(&pins)?, cpu_ns(responder_tid)?);
    let (offered, seconds) = flood(env.plan.live_flood_secs)?;
    // The responder drains what is queued.
    pause(Duration::from_millis(50))?;
    let (returned1, cpu1) = (returned(&pins)?, cpu_ns(responder_tid)?);
    let stats1 = (
        veth_stats(&lab, gen, GENERATOR_IF)?,
        veth_stats(&lab, dut, IFACE)?,
    );
    let sent = frames_out(&lab, dut, IFACE, native, &stats1.1)? - out0;
    if daemon.is_some() {
        ensure!(
            holds(&lab, dut, VIP),
            "{label}: the responder lost the VIP during the flood"
        );
    }
    let answers = returned1 - returned0;
    let responder_ns = cpu1 - cpu0;
    ensure!(answers > 0, "{label}: no answer came back");
    ensure!(
        sent >= answers,
        "{label}: {answers} answers arrived, {sent} sent"
    );
    Ok(json!({
        "variant": label,
        "xdp": attached,
        "seconds": seconds,
        "offered": offered,
        "answers_sent": sent,
        "answers_arrived": answers,
        "offered_per_s": offered as f64 / seconds,
        "answers_sent_per_s": sent as f64 / seconds,
        "answers_arrived_per_s": answers as f64 / seconds,
        "responder_cpu_ns": responder_ns,
        "responder_busy": responder_ns as f64 / (seconds * 1e9),
        "responder_cpu_ns_per_answer": responder_ns as f64 / sent as f64,
        "answers_per_responder_cpu_s": sent as f64 / (responder_ns as f64 / 1e9),
        "generator_veth": stats_delta(&stats0.0, &stats1.0),
        "responder_veth": stats_delta(&stats0.1, &stats1.1),
    }))
}

/// Loads the reference programs and pins each, and the answer counter,
/// under `pins` by name (aya-ebpf's maps are in the section libbpf, and so
/// bpftool, no longer loads).
pub(super) fn pin_baselines(object: &Path, pins: &Path) -> Result<()> {
    let mut ebpf =
        Ebpf::load_file(object).with_context(|| format!("loading {}", object.display()))?;
    for name in ["bench_arp_gen", "bench_count_arp", "bench_tx_floor"] {
        let program: &mut Xdp = ebpf
            .program_mut(name)
            .with_context(|| format!("no program {name}"))?
            .try_into()?;
        program.load()?;
        program.pin(pins.join(name))?;
    }
    ebpf.map_mut("ARP_RETURNED")
        .context("no map ARP_RETURNED")?
        .pin(pins.join("ARP_RETURNED"))?;
    Ok(())
}

/// Attaches the pinned program `name` natively to `interface` of `node`
/// and pins the link beside it, so it lasts until the lab is removed. From
/// a thread in the namespace: `ip -n` mounts a new /sys, without the bpffs.
fn attach_native(
    lab: &Lab,
    node: usize,
    pins: &Path,
    name: &str,
    interface: &'static str,
) -> Result<()> {
    let program = pins.join(name);
    let link_pin = pins.join(format!("{name}_link"));
    lab.node(node).ns.in_thread(move || -> Result<()> {
        let mut xdp = Xdp::from_pin(&program, XdpAttachType::Interface)?;
        let id = xdp.attach(interface, XdpMode::Driver)?;
        let link: FdLink = xdp.take_link(id)?.try_into()?;
        link.pin(&link_pin)?;
        Ok(())
    })
}

/// `xdpdrv`, `xdpgeneric` or `none`: how XDP is attached to the node's
/// [`IFACE`], from `ip -d link`.
pub(super) fn xdp_attachment(lab: &Lab, node: usize) -> Result<&'static str> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-d", "link", "show", "dev", IFACE])?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(parse_xdp_attachment(&text))
}

pub fn parse_xdp_attachment(ip_link: &str) -> &'static str {
    let head = ip_link.lines().next().unwrap_or_default();
    if head.contains(" xdpgeneric") {
        "xdpgeneric"
    } else if head.contains(" xdp ") || head.contains(" xdpdrv") {
        "xdpdrv"
    } else {
        "none"
    }
}

pub fn run(env: &Env) -> Result<Value> {
    let mut samples = Vec::new();
    for rep in 0..env.plan.live_flood_reps {
        for (label, responder) in VARIANTS {
            check_interrupt()?;
            let mut s = one(env, label, responder).with_context(|| format!("{label} rep {rep}"))?;
            s["rep"] = json!(rep);
            eprintln!(
                "  live flood {label} rep {rep}: offered {:.2} M/s, answers sent {:.2} M/s, \
                 arrived {:.2} M/s, responder busy {:.0}%, {:.0} CPU-ns per answer",
                s["offered_per_s"].as_f64().unwrap_or(0.0) / 1e6,
                s["answers_sent_per_s"].as_f64().unwrap_or(0.0) / 1e6,
                s["answers_arrived_per_s"].as_f64().unwrap_or(0.0) / 1e6,
                100.0 * s["responder_busy"].as_f64().unwrap_or(0.0),
                s["responder_cpu_ns_per_answer"].as_f64().unwrap_or(0.0),
            );
            samples.push(s);
        }
    }
    if samples.is_empty() {
        bail!("no live-flood runs planned");
    }
    Ok(json!({
        "method": "BPF_PROG_TEST_RUN live frames (batch 64) from a generator namespace over a veth pair; answers counted by a native XDP program on the generator's veth; responder CPU from its threaded NAPI thread's schedstat, pinned to its own CPU",
        "generator_cpu": GENERATOR_CPU,
        "responder_cpu": RESPONDER_CPU,
        "runs": samples,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_run_time_is_the_first_field() {
        assert_eq!(parse_schedstat("123456789 42 7\n"), Some(123456789));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn calls_last_about_100_ms_and_never_past_the_run() {
        // 1 M frames in 0.5 s: 2 M/s, so 100 ms is 200 k frames.
        let r = next_repeat(
            1_000_000,
            Duration::from_millis(500),
            Duration::from_secs(3),
        );
        assert_eq!(r, 200_000);
        // 20 ms left: 40 k frames.
        let r = next_repeat(
            1_000_000,
            Duration::from_millis(500),
            Duration::from_millis(20),
        );
        assert_eq!(r, 40_000);
        // Never fewer than one kilo-frame.
        assert_eq!(next_repeat(1, Duration::from_secs(1), Duration::ZERO), 1024);
    }

    #[test]
    fn ethtool_stats_keep_the_nonzero_counters() {
        let text = "NIC statistics:\n     peer_ifindex: 7\n     rx_queue_0_xdp_drops: 0\n     \
                    rx_queue_0_xdp_tx: 1234\n";
        let stats = parse_ethtool_stats(text);
        assert_eq!(stats.get("rx_queue_0_xdp_tx"), Some(&1234));
        assert_eq!(stats.get("peer_ifindex"), Some(&7));
        assert!(!stats.contains_key("rx_queue_0_xdp_drops"));
        let before = BTreeMap::from([("a".to_string(), 5)]);
        let after = BTreeMap::from([("a".to_string(), 7), ("b".to_string(), 1)]);
        assert_eq!(stats_delta(&before, &after), json!({"a": 2, "b": 1}));
    }

    #[test]
    fn xdp_attachment_from_ip_link() {
        let native = "5: eth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdp qdisc noqueue";
        let generic = "5: eth0@if6: <BROADCAST,UP> mtu 1500 xdpgeneric qdisc noqueue";
        let none = "5: eth0@if6: <BROADCAST,UP> mtu 1500 qdisc noqueue state UP";
        assert_eq!(parse_xdp_attachment(native), "xdpdrv");
        assert_eq!(parse_xdp_attachment(generic), "xdpgeneric");
        assert_eq!(parse_xdp_attachment(none), "none");
    }
}
