//! `bench/results.md` and `bench/failover.svg` from the raw samples.

use std::fmt::Write;

use serde_json::Value;

use super::{
    failover::{Case, CASES, PROBE_INTERVAL},
    flood::VARIANTS,
    footprint,
    handover::{CRASH_CASES, HANDOVER_CASES, RESTART_AFTER_S},
    live_election,
    live_flood::{self, GENERATOR_CPU, RESPONDER_CPU},
    median_p95,
};

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// How many repetitions `samples` hold (each sample records its `rep`).
fn repetitions(samples: &[Value]) -> u64 {
    samples
        .iter()
        .filter_map(|x| x["rep"].as_u64())
        .max()
        .unwrap_or(0)
        + 1
}

fn field(samples: &[&Value], key: &str) -> Vec<f64> {
    samples.iter().filter_map(|s| s[key].as_f64()).collect()
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// Fewer samples than this and their p95 is their maximum: it is then
/// reported as one (`max N`), not as a percentile it cannot be.
pub const MIN_SAMPLES_FOR_P95: usize = 20;

/// `median / p95`, or `median / max N` with fewer than
/// [`MIN_SAMPLES_FOR_P95`] samples.
fn mp(v: &[f64], digits: usize) -> String {
    let (m, p) = median_p95(v);
    if m.is_nan() {
        return "–".into();
    }
    if v.len() < MIN_SAMPLES_FOR_P95 {
        format!("{m:.digits$} / max {p:.digits$}")
    } else {
        format!("{m:.digits$} / {p:.digits$}")
    }
}

/// Notes under a client-probe table: runs that saw no reply after the
/// event (their gap is a lower bound) and runs that failed.
fn incomplete_and_failed(s: &mut String, samples: &[Value]) {
    let incomplete = samples.iter().filter(|x| x["complete"] == false).count();
    if incomplete > 0 {
        let _ = writeln!(
            s,
            "\n{incomplete} run(s) saw no reply after the event within the wait; their outage is a lower bound."
        );
    }
    let failed: Vec<&Value> = samples.iter().filter(|x| x["error"].is_string()).collect();
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "\n{} run(s) failed and are not in the figures above:",
            failed.len()
        );
        for x in failed {
            let _ = writeln!(
                s,
                "- {} v{} {} rep {}: {}",
                x["system"].as_str().unwrap_or("?"),
                x["version"],
                x["event"].as_str().unwrap_or("?"),
                x["rep"],
                x["error"].as_str().unwrap_or("?")
            );
        }
    }
}

/// The runs that did not fail.
fn ok<'a>(runs: &[&'a Value]) -> Vec<&'a Value> {
    runs.iter()
        .copied()
        .filter(|x| !x["error"].is_string())
        .collect()
}

/// Probes lost and longest gap per case and system; with `crash`, who
/// held the VIP afterwards and whether vip-agent resumed.
fn loss_table(s: &mut String, samples: &[Value], cases: &[Case], crash: bool) {
    let _ = write!(
        s,
        "| VRRP | advert_int | bound (ms) | system | runs | probes sent / expected | answered | lost | gap (ms) | gap vs keepalived | Backup became Master |"
    );
    if crash {
        let _ = write!(s, " restarted Master holds VIP after | resumed |");
    }
    let _ = writeln!(
        s,
        "\n|---|---|---|---|---|---|---|---|---|---|---|{}",
        if crash { "---|---|" } else { "" }
    );
    for case in cases {
        let runs = |sys: &str| -> Vec<&Value> {
            samples
                .iter()
                .filter(|x| {
                    x["system"] == sys
                        && x["version"] == case.version
                        && x["event"] == case.event.name()
                })
                .collect()
        };
        let keepalived_gap = median_p95(&field(&ok(&runs("keepalived")), "outage_ms")).0;
        for sys in ["vip-agent", "keepalived"] {
            let all = runs(sys);
            let v = ok(&all);
            let total = |k: &str| -> f64 { field(&v, k).iter().sum() };
            let count = |p: &dyn Fn(&Value) -> bool| v.iter().filter(|x| p(x)).count();
            let gap = field(&v, "outage_ms");
            let _ = write!(
                s,
                "| v{} | {} s | {:.0} | {sys} | {}/{} | {:.0} / {:.0} | {:.0} | {} | {} | {} | {}/{} |",
                case.version,
                case.advert,
                case.bound_s() * 1000.0,
                v.len(),
                all.len(),
                total("probes_sent"),
                total("probes_expected"),
                total("probes_answered"),
                mp(&field(&v, "probes_lost"), 0),
                mp(&gap, 0),
                if sys == "vip-agent" {
                    ratio(median_p95(&gap).0, keepalived_gap)
                } else {
                    "–".into()
                },
                count(&|x| x["backup_became_master"].as_u64().is_some_and(|n| n > 0)),
                // Runs whose Backup could not be asked are left out.
                count(&|x| x["backup_became_master"].is_u64()),
            );
            if crash {
                let _ = write!(
                    s,
                    " {}/{} | {} |",
                    count(&|x| x["master_holds_vip_after"] == true),
                    v.len(),
                    if sys == "vip-agent" {
                        format!("{}/{}", count(&|x| x["resumed_as_master"] == true), v.len())
                    } else {
                        "–".into()
                    }
                );
            }
            s.push('\n');
        }
    }
}

/// Medians over the repetitions of one live-flood variant.
struct LiveRow {
    per_cpu_s: f64,
    ns_per_answer: f64,
}

/// The live-flood section: per responder, answers per second and per
/// responder CPU-second, CPU-ns per answer, how busy the responder was and
/// what it lost, and the ratios the fast path is judged by.
fn live_flood_table(s: &mut String, runs: &[Value], lf: &Value) {
    let reps = repetitions(runs);
    let secs = runs[0]["seconds"].as_f64().unwrap_or(0.0);
    let _ = writeln!(
        s,
        "### The ARP answer under a live-frames flood\n\nThe kernel's live-frames test-run mode \
         (`BPF_PROG_TEST_RUN`, `BPF_F_TEST_XDP_LIVE_FRAMES`, batches of 64) runs a generator \
         program on CPU {GENERATOR_CPU} whose `XDP_TX` sends ARP requests for the VIP out of a \
         veth straight into the responder's veth, {secs:.0} s per run. The responder's receive \
         path runs in its veth's threaded NAPI thread pinned to CPU {RESPONDER_CPU}; CPU-ns per \
         answer = that thread's CPU time (`schedstat`) / answers it sent (the stack's transmits \
         and XDP_TX's, sent or refused by the generator's full veth). *arrived*: counted by a \
         native XDP program on the generator's veth, which shares CPU {GENERATOR_CPU} with the \
         generator and drains fewer than arrive. *busy*: the responder thread's share of its CPU. \
         Every responder was offered several times what it answered; frames beyond what its \
         veth ring (256) holds while its thread wakes are dropped before it sees them, which is \
         why no thread reaches 100% busy and why the CPU-ns per answer include the thread's \
         wake-ups and polls. Native figures are veth's: no physical NIC here. Medians over \
         {reps} repetitions, interleaved.\n"
    );
    let _ = writeln!(
        s,
        "| responder | XDP | offered/s | answers sent/s | arrived/s | responder busy | CPU-ns / answer | answers per responder CPU-s | vs kernel path |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let median = |v: &[&Value], key: &str| median_p95(&field(v, key)).0;
    let row = |label: &str| -> Option<LiveRow> {
        let v: Vec<&Value> = runs.iter().filter(|x| x["variant"] == label).collect();
        (!v.is_empty()).then(|| LiveRow {
            per_cpu_s: median(&v, "answers_per_responder_cpu_s"),
            ns_per_answer: median(&v, "responder_cpu_ns_per_answer"),
        })
    };
    let kernel = row(live_flood::VARIANTS[2].0).map(|k| k.per_cpu_s);
    for (label, _) in live_flood::VARIANTS {
        let v: Vec<&Value> = runs.iter().filter(|x| x["variant"] == label).collect();
        let Some(r) = row(label) else { continue };
        let _ = writeln!(
            s,
            "| {label} | {} | {:.2} M | {:.2} M | {:.2} M | {:.0}% | {:.0} | {:.2} M | {} |",
            v[0]["xdp"].as_str().unwrap_or("?"),
            median(&v, "offered_per_s") / 1e6,
            median(&v, "answers_sent_per_s") / 1e6,
            median(&v, "answers_arrived_per_s") / 1e6,
            100.0 * median(&v, "responder_busy"),
            r.ns_per_answer,
            r.per_cpu_s / 1e6,
            kernel.map_or("–".into(), |k| ratio(r.per_cpu_s, k)),
        );
    }
    let (native, skb, floor) = (
        row(live_flood::VARIANTS[0].0),
        row(live_flood::VARIANTS[1].0),
        row(live_flood::VARIANTS[4].0),
    );
    if let (Some(native), Some(skb), Some(kernel), Some(floor)) = (native, skb, kernel, floor) {
        let _ = writeln!(
            s,
            "\nPer responder CPU-second: native XDP {} x the kernel path (goal 8x), skb XDP {} x \
             (goal 3x). vip-agent's native answer costs {} x the bare MAC-swap floor \
             ({:.0} vs {:.0} CPU-ns per answer; goal 1.3x).",
            ratio(native.per_cpu_s, kernel),
            ratio(skb.per_cpu_s, kernel),
            ratio(native.ns_per_answer, floor.ns_per_answer),
            native.ns_per_answer,
            floor.ns_per_answer,
        );
    }
    let _ = writeln!(s, "\nMethod: {}.\n", lf["method"].as_str().unwrap_or(""));
}

/// The election under a live-frames flood: per system, the load that
/// reached the Master, state changes of both nodes, who held the VIP.
fn live_election_table(s: &mut String, runs: &[Value], le: &Value) {
    let reps = repetitions(runs);
    let secs = runs[0]["seconds"].as_f64().unwrap_or(0.0);
    let rate = le["offered_per_s"].as_f64().unwrap_or(f64::NAN);
    let _ = writeln!(
        s,
        "### Election under a live-frames flood\n\nVRRPv3, advert_int 0.05 s: the Master \
         (priority 150) holds the VIP on the flooded veth, the Backup (100) listens on the \
         generator's end of the same pair, so every advert crosses the flooded link. Load: \
         {:.2} M ARP requests/s for {secs:.0} s per run, the geometric mean of the kernel path's \
         answers ({:.2} M/s) and native XDP's ({:.2} M/s), measured first in the same run as in \
         the section above. NAPI in softirq (as a gateway runs it), daemons not pinned; the \
         generator on CPU {GENERATOR_CPU}, where the responder's softirq also lands, so a \
         costlier responder slows the generator: *offered* is what it managed. State changes = \
         transitions to Master of either node during the flood (vip-agent: `became_master`; \
         keepalived: \"Entering MASTER STATE\"). {reps} repetitions, interleaved.\n",
        rate / 1e6,
        le["kernel_answers_per_s"].as_f64().unwrap_or(f64::NAN) / 1e6,
        le["native_answers_per_s"].as_f64().unwrap_or(f64::NAN) / 1e6,
    );
    let _ = writeln!(
        s,
        "| system | XDP | runs | offered/s | state changes (total) | runs with any | Master holds VIP after | Backup holds VIP after |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for (label, _, _) in live_election::VARIANTS {
        let v: Vec<&Value> = runs.iter().filter(|x| x["variant"] == label).collect();
        if v.is_empty() {
            continue;
        }
        let count = |key: &str| v.iter().filter(|x| x[key] == true).count();
        let changes: Vec<u64> = v
            .iter()
            .filter_map(|x| x["state_changes"].as_u64())
            .collect();
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {:.2} M | {} | {} | {}/{} | {}/{} |",
            v[0]["xdp"].as_str().unwrap_or("?"),
            v.len(),
            median_p95(&field(&v, "offered_per_s")).0 / 1e6,
            changes.iter().sum::<u64>(),
            changes.iter().filter(|&&c| c > 0).count(),
            count("master_holds_vip_after"),
            v.len(),
            count("backup_holds_vip_after"),
            v.len(),
        );
    }
    s.push('\n');
}

pub fn markdown(r: &Value) -> String {
    let mut s = String::new();
    let m = &r["machine"];
    let _ = writeln!(s, "## Benchmarks\n");
    let _ = writeln!(
        s,
        "`cargo xtask bench{}` on Linux {}, {} CPUs ({}), {}; vip-agent {} (release build). \
         Every figure is median / p95 over repetitions (median / max where there are fewer than \
         {MIN_SAMPLES_FOR_P95}: the p95 of fewer samples is their maximum); the systems compared ran interleaved \
         (A B A B) in the same run, and ratios are of medians. Everything ran in network \
         namespaces on veth pairs and a bridge.\n",
        if r["quick"].as_bool() == Some(true) {
            " --quick"
        } else {
            ""
        },
        m["kernel"].as_str().unwrap_or("?"),
        m["cpus"],
        m["cpu_model"].as_str().unwrap_or("?"),
        m["keepalived"].as_str().unwrap_or("keepalived"),
        m["vip_agent_commit"].as_str().unwrap_or("?"),
    );

    // 1. failover
    let fo = arr(&r["failover"]);
    if !fo.is_empty() {
        let reps = repetitions(fo);
        let _ = writeln!(
            s,
            "### Failover outage\n\nA client pings the VIP every 5 ms; the outage is the longest gap \
             between two answered probes. *kill*: the Master's link goes down and every process in its \
             namespace gets SIGKILL (a dead host). *term*: SIGTERM to the Master daemon (priority-0 \
             advert). Master priority 150, Backup 100. Bound: RFC Master_Down_Interval \
             (3 × advert_int + Skew_Time) for kill, Skew_Time for term. {reps} repetitions per cell. \
             The Backup's timer runs from the last advert it heard, so kills land at a \
             phase spread over the advert interval across repetitions and a kill outage lies between \
             bound − advert_int and the bound (plus ARP/GARP time). Timelines: `bench/failover.svg`.\n"
        );
        let _ = writeln!(
            s,
            "| VRRP | advert_int | event | bound (ms) | vip-agent (ms) | keepalived (ms) | vip-agent / keepalived |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for case in CASES {
            let pick = |sys: &str| -> Vec<f64> {
                let v: Vec<&Value> = fo
                    .iter()
                    .filter(|x| {
                        x["system"] == sys
                            && x["version"] == case.version
                            && x["event"] == case.event.name()
                    })
                    .collect();
                field(&v, "outage_ms")
            };
            let (va, ka) = (pick("vip-agent"), pick("keepalived"));
            let _ = writeln!(
                s,
                "| v{} | {} s | {} | {:.0} | {} | {} | {} |",
                case.version,
                case.advert,
                case.event.name(),
                case.bound_s() * 1000.0,
                mp(&va, 0),
                mp(&ka, 0),
                ratio(median_p95(&va).0, median_p95(&ka).0)
            );
        }
        incomplete_and_failed(&mut s, fo);
        s.push('\n');
    }

    // 1b. planned handover
    let ho = arr(&r["handover"]);
    if !ho.is_empty() {
        let _ = writeln!(
            s,
            "### Planned handover\n\nThe failover section's pair and client (a ping every {probe} ms \
             to the VIP); SIGTERM to the Master daemon. vip-agent hands over make-before-break: \
             priority-0 advert, VIPs and XDP ARP answers kept until the new Master's first advert. \
             keepalived sends priority 0 and removes the VIP at once. *lost*: probes without an \
             answer, per run; *gap*: the longest time between two answers, per run; sent / \
             expected: probes ping sent over all runs against the time it ran ÷ {probe} ms (a \
             stalled prober shows there). Bound: Skew_Time. {reps} repetitions per cell, \
             interleaved.\n",
            probe = PROBE_INTERVAL.as_millis(),
            reps = repetitions(ho)
        );
        loss_table(&mut s, ho, &HANDOVER_CASES, false);
        incomplete_and_failed(&mut s, ho);
        s.push('\n');
    }

    // 1c. crash + restart
    let cr = arr(&r["crash_restart"]);
    if !cr.is_empty() {
        let _ = writeln!(
            s,
            "### Crash + restart\n\nThe same pair and client; SIGKILL to the Master daemon's \
             process tree (no priority-0 advert, nothing cleaned up), the same daemon started again \
             {restart:.0} ms later with the same configuration (vip-agent: the same bpffs \
             directory; keepalived: fresh pid files once its processes are gone), then watched for \
             2 × Master_Down_Interval + 1 s. *Backup became Master*: runs in which the Backup \
             changed to Master (vip-agent: `became_master` in the Backup's `status --json`; \
             keepalived: \"Entering MASTER STATE\" in its log). *resumed*: the restarted vip-agent \
             logged that it resumes as Master (it does when its last heartbeat is younger than \
             Master_Down_Interval − advert_int − 250 ms and its VIPs are in place). Bound: \
             Master_Down_Interval (the Backup taking over). {reps} repetitions per cell, \
             interleaved.\n",
            restart = RESTART_AFTER_S * 1000.0,
            reps = repetitions(cr)
        );
        loss_table(&mut s, cr, &CRASH_CASES, true);
        incomplete_and_failed(&mut s, cr);
        s.push('\n');
    }

    // 2. the ARP answer under a live-frames flood
    let lf = &r["live_flood"];
    let runs = arr(&lf["runs"]);
    if !runs.is_empty() {
        live_flood_table(&mut s, runs, lf);
    }

    // 3 + 4. flood
    let fl = arr(&r["flood"]);
    if !fl.is_empty() {
        let reps = repetitions(fl);
        let secs = fl[0]["seconds"].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "### ARP flood, end to end\n\nOne generator thread pinned to CPU 0 sends broadcast ARP \
             requests for the VIP with `sendmmsg` on an AF_PACKET socket for {secs:.0} s, through a \
             bridge to the Master (holding the VIP) and the Backup. RPS steers the receive path of \
             both VRRP nodes to CPU 1 (the responder CPU), so the generator and the responder do not \
             share a CPU. Requests = frames the generator's kernel accepted; replies = frames received \
             on the generator's interface minus the idle rate (adverts). Responder CPU = busy share of \
             CPU 1 from `/proc/stat` (idle → flood, softirq share), and CPU 1 busy time per reply. \
             Whole machine: {cpus} CPUs. {reps} repetitions, interleaved.\n",
            cpus = r["machine"]["cpus"]
        );
        let _ = writeln!(
            s,
            "| responder | requests/s | replies/s | replies / requests | responder CPU busy % (idle → flood) | of which softirq % | responder CPU ns / reply | replies/s vs kernel path |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        let by =
            |label: &str| -> Vec<&Value> { fl.iter().filter(|x| x["variant"] == label).collect() };
        let kernel = median_p95(&field(&by(VARIANTS[1].0), "replies_per_s")).0;
        for (label, _, _) in VARIANTS {
            let v = by(label);
            let pct = |k: &str| -> Vec<f64> { field(&v, k).iter().map(|x| x * 100.0).collect() };
            let rps = field(&v, "replies_per_s");
            let _ = writeln!(
                s,
                "| {label} | {} | {} | {} | {:.0} → {} | {} | {} | {} |",
                mp(&field(&v, "requests_per_s"), 0),
                mp(&rps, 0),
                mp(&field(&v, "reply_ratio"), 3),
                median_p95(&pct("responder_busy_idle")).0,
                mp(&pct("responder_busy_flood"), 0),
                mp(&pct("responder_softirq_frac_flood"), 0),
                mp(&field(&v, "responder_cpu_ns_per_reply"), 0),
                ratio(median_p95(&rps).0, kernel)
            );
        }
        let _ = writeln!(
            s,
            "\n### Election under the flood\n\nVRRPv3, advert_int 0.05 s, the same runs: state changes \
             to Master of either node while the flood lasted (vip-agent: `became_master` in \
             `status --json`; keepalived: \"Entering MASTER STATE\" log lines), and who held the VIP \
             afterwards.\n"
        );
        let _ = writeln!(
            s,
            "| system | runs | spurious state changes (total) | runs with any | Master still holds VIP | Backup holds VIP |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for (label, _, _) in VARIANTS {
            let v = by(label);
            let changes: u64 = v
                .iter()
                .filter_map(|x| x["state_changes_during_flood"].as_u64())
                .sum();
            let any = v
                .iter()
                .filter(|x| x["state_changes_during_flood"].as_u64().unwrap_or(0) > 0)
                .count();
            let _ = writeln!(
                s,
                "| {label} | {} | {changes} | {any} | {}/{} | {}/{} |",
                v.len(),
                v.iter()
                    .filter(|x| x["master_holds_vip_after"] == true)
                    .count(),
                v.len(),
                v.iter()
                    .filter(|x| x["backup_holds_vip_after"] == true)
                    .count(),
                v.len()
            );
        }
        s.push('\n');
    }

    // 5. footprint
    let fp = arr(&r["footprint"]);
    if !fp.is_empty() {
        let reps = repetitions(fp);
        let window = fp[0]["window_s"].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "### Footprint\n\nOne node, N VRRPv3 instances on one interface, all Master (no peer), \
             `vrrp_garp_master_delay 0`. CPU = utime+stime of the process tree over {window:.0} s once \
             every VIP is up (% of one CPU; tick resolution 10 ms); RSS = VmRSS summed over the tree \
             (keepalived: parent + VRRP child). {reps} repetitions, interleaved.\n"
        );
        let _ = writeln!(
            s,
            "| instances | advert_int | vip-agent RSS (MiB) | keepalived RSS (MiB) | RSS ratio | vip-agent CPU % | keepalived CPU % | CPU ratio |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for n in footprint::SIZES {
            for adv in footprint::ADVERTS {
                let adv_f: f64 = adv.parse().unwrap_or(0.0);
                let pick = |sys: &str| -> Vec<&Value> {
                    fp.iter()
                        .filter(|x| {
                            x["system"] == sys
                                && x["instances"] == n
                                && x["advert_int_s"].as_f64() == Some(adv_f)
                        })
                        .collect()
                };
                let (va, ka) = (pick("vip-agent"), pick("keepalived"));
                let mib = |v: &[&Value]| -> Vec<f64> {
                    field(v, "rss_kb").iter().map(|k| k / 1024.0).collect()
                };
                let (vr, kr) = (mib(&va), mib(&ka));
                let (vc, kc) = (field(&va, "cpu_percent"), field(&ka, "cpu_percent"));
                let _ = writeln!(
                    s,
                    "| {n} | {adv} s | {} | {} | {} | {} | {} | {} |",
                    mp(&vr, 1),
                    mp(&kr, 1),
                    ratio(median_p95(&vr).0, median_p95(&kr).0),
                    mp(&vc, 2),
                    mp(&kc, 2),
                    ratio(median_p95(&vc).0, median_p95(&kc).0)
                );
            }
        }
        s.push('\n');
    }
    let le = &r["live_election"];
    let runs = arr(&le["runs"]);
    if !runs.is_empty() {
        live_election_table(&mut s, runs, le);
    }
    if let Some(t) = r["seconds"]["total"].as_f64() {
        let _ = writeln!(s, "Whole run: {t:.0} s.");
    }
    let only: Vec<&str> = arr(&r["only"]).iter().filter_map(Value::as_str).collect();
    if !only.is_empty() {
        let _ = writeln!(
            s,
            "\nRe-measured alone afterwards (`--only {}`, same machine): {}.",
            only.join(","),
            only.join(", ")
        );
    }
    s
}

/// Failover timelines: per case and system, the repetition with the median
/// outage; a tick per answered probe, the outage in red, the bound dashed.
pub fn svg(r: &Value) -> String {
    let fo = arr(&r["failover"]);
    let (w, left, right) = (960.0, 210.0, 20.0);
    let row_h = 26.0;
    let panels: [(u8, f64, f64); 2] = [(3, -100.0, 400.0), (2, -500.0, 4500.0)];
    let panel_h = 40.0 + 4.0 * row_h + 30.0;
    let h = 30.0 + panels.len() as f64 * panel_h;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="14">Failover seen by a client pinging the VIP every 5 ms (t = 0: kill / SIGTERM of the Master; green: answered probe; red: outage; dashed: RFC bound)</text>"#
    );
    for (pi, (version, x0, x1)) in panels.iter().enumerate() {
        let top = 30.0 + pi as f64 * panel_h;
        let scale = |t: f64| left + (t - x0) / (x1 - x0) * (w - left - right);
        let adv = CASES
            .iter()
            .find(|c| c.version == *version)
            .map(|c| c.advert)
            .unwrap_or(0.0);
        let _ = writeln!(
            s,
            r#"<text x="10" y="{}" font-weight="bold">VRRPv{version}, advert_int {adv} s</text>"#,
            top + 16.0
        );
        let mut row = 0.0;
        for case in CASES.iter().filter(|c| c.version == *version) {
            for sys in ["vip-agent", "keepalived"] {
                let y = top + 28.0 + row * row_h;
                row += 1.0;
                let mut runs: Vec<&Value> = fo
                    .iter()
                    .filter(|x| {
                        x["system"] == sys
                            && x["version"] == case.version
                            && x["event"] == case.event.name()
                    })
                    .collect();
                runs.sort_by(|a, b| {
                    a["outage_ms"]
                        .as_f64()
                        .partial_cmp(&b["outage_ms"].as_f64())
                        .unwrap()
                });
                let Some(run) = runs.get(runs.len().saturating_sub(1) / 2) else {
                    continue;
                };
                let outage = run["outage_ms"].as_f64().unwrap_or(0.0);
                let _ = writeln!(
                    s,
                    r#"<text x="10" y="{}">{sys}, {}: {outage:.0} ms</text>"#,
                    y + 15.0,
                    case.event.name()
                );
                let _ = writeln!(
                    s,
                    r##"<rect x="{left}" y="{y}" width="{}" height="20" fill="#f4f4f4"/>"##,
                    w - left - right
                );
                let stamps: Vec<f64> = arr(&run["replies_ms"])
                    .iter()
                    .filter_map(Value::as_f64)
                    .collect();
                if let Some((a, b)) = stamps
                    .windows(2)
                    .map(|p| (p[0], p[1]))
                    .max_by(|p, q| (p.1 - p.0).partial_cmp(&(q.1 - q.0)).unwrap())
                {
                    let (xa, xb) = (scale(a.max(*x0)), scale(b.min(*x1)));
                    let _ = writeln!(
                        s,
                        r##"<rect x="{xa:.1}" y="{y}" width="{:.1}" height="20" fill="#e33" opacity="0.6"/>"##,
                        (xb - xa).max(1.0)
                    );
                }
                let mut path = String::new();
                for t in stamps.iter().filter(|t| **t >= *x0 && **t <= *x1) {
                    let _ = write!(path, "M{:.1} {y}v20", scale(*t));
                }
                let _ = writeln!(
                    s,
                    r##"<path d="{path}" stroke="#2a2" stroke-width="0.6"/>"##
                );
                let xb = scale(case.bound_s() * 1000.0);
                let _ = writeln!(
                    s,
                    r##"<line x1="{xb:.1}" y1="{}" x2="{xb:.1}" y2="{}" stroke="#00c" stroke-dasharray="3,2"/>"##,
                    y - 2.0,
                    y + 22.0
                );
            }
        }
        // axis
        let ya = top + 28.0 + 4.0 * row_h + 4.0;
        let step = if x1 - x0 > 1000.0 { 500.0 } else { 50.0 };
        let mut t = (x0 / step).ceil() * step;
        while t <= *x1 {
            let x = scale(t);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#888"/><text x="{x:.1}" y="{}" text-anchor="middle" font-size="10">{t:.0}</text>"##,
                ya - 4.0,
                ya,
                ya + 12.0
            );
            t += step;
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="10">ms after the event</text>"#,
            w - right,
            ya + 24.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_only_with_enough_samples_else_max() {
        let few: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(mp(&few, 0), "3 / max 5");
        let many: Vec<f64> = (1..=40).map(f64::from).collect();
        assert_eq!(mp(&many, 1), "20.5 / 38.0");
        assert_eq!(mp(&[], 0), "–");
    }

    /// `cargo xtask bench` writes both files from one run: the committed
    /// table must be exactly what the committed raw samples render to.
    #[test]
    fn committed_results_md_renders_from_committed_results_json() {
        let dir = crate::workspace_root().join("bench");
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
        assert_eq!(markdown(&json), md);
    }
}
