//! Cost of answering one ARP request in the XDP program, through
//! `BPF_PROG_TEST_RUN`, against two reference programs: swap MACs + XDP_TX
//! (the floor of any answer) and XDP_PASS.
//!
//! The product program rewrites the request into a reply in place, and a
//! test run with `repeat > 1` runs again on the rewritten buffer (a reply,
//! not a request). So every sample is one test run with `repeat = 1`: the
//! kernel's reported duration covers the program and one `ktime_get_ns()`;
//! that clock overhead is the same for all three programs and is what the
//! floor contains besides its few instructions.
//!
//! The product program is the one a running agent attached (skb mode) to
//! `eth0` of a namespace while it holds the VIP; the frames enter with that
//! interface as `ingress_ifindex`, so ownership and heartbeat are the agent's.

use std::{
    ffi::CString,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
    process::Command,
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use super::{
    check_interrupt,
    daemon::{self, holds, Inst, System},
    lab::{self, Lab, IFACE},
    median_p95, wait_until, Env,
};

const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const VIP: [u8; 4] = [10, 0, 0, 100];

#[repr(C)]
#[derive(Default)]
struct TestAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

fn bpf(cmd: libc::c_long, attr: *mut u8, size: usize) -> Result<i64> {
    // SAFETY: attr points to a live, initialised attribute struct of `size` bytes.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr, size as u32) };
    if rc < 0 {
        bail!("bpf({cmd}): {}", std::io::Error::last_os_error());
    }
    Ok(rc)
}

fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    let mut attr = [0u32; 4];
    attr[0] = id;
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, attr.as_mut_ptr().cast(), 16)?;
    // SAFETY: the kernel returned a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pinned_fd(path: &Path) -> Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())?;
    #[repr(C)]
    struct ObjAttr {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
        path_fd: i32,
        _pad: u32,
    }
    let mut attr = ObjAttr {
        pathname: c.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
        path_fd: 0,
        _pad: 0,
    };
    let fd = bpf(
        BPF_OBJ_GET,
        (&mut attr as *mut ObjAttr).cast(),
        std::mem::size_of::<ObjAttr>(),
    )
    .with_context(|| format!("opening pinned {}", path.display()))?;
    // SAFETY: the kernel returned a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `runs` test runs with repeat = 1; returns the durations (ns).
fn sample(fd: &OwnedFd, frame: &[u8], ifindex: u32, expect: u32, runs: usize) -> Result<Vec<f64>> {
    let ctx: [u32; 6] = [0, frame.len() as u32, 0, ifindex, 0, 0];
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut attr = TestAttr {
            prog_fd: fd.as_raw_fd() as u32,
            data_size_in: frame.len() as u32,
            data_in: frame.as_ptr() as u64,
            repeat: 1,
            ctx_size_in: 24,
            ctx_in: ctx.as_ptr() as u64,
            ..Default::default()
        };
        bpf(
            BPF_PROG_TEST_RUN,
            (&mut attr as *mut TestAttr).cast(),
            std::mem::size_of::<TestAttr>(),
        )?;
        ensure!(
            attr.retval == expect,
            "verdict {} where {expect} was expected",
            attr.retval
        );
        out.push(attr.duration as f64);
    }
    Ok(out)
}

fn arp_request(src_mac: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa);
    f
}

/// XDP program id attached to the node's eth0 (from `ip -j link`).
fn attached_prog_id(lab: &Lab, node: usize) -> Option<u32> {
    let out = lab
        .node(node)
        .ns
        .ip(&["-j", "link", "show", "dev", IFACE])
        .ok()?;
    let json: Value = serde_json::from_slice(&out.stdout).ok()?;
    let xdp = &json[0]["xdp"];
    xdp["prog"]["id"]
        .as_u64()
        .or_else(|| xdp["attached"][0]["prog"]["id"].as_u64())
        .map(|i| i as u32)
}

pub fn run(env: &Env) -> Result<Value> {
    let mut lab = lab::new_lab()?;
    let node = lab::add_node(&mut lab, "dut", &["10.0.0.1/24"])?;
    let conf = daemon::config(
        3,
        "1",
        None,
        &[Inst {
            vrid: 51,
            priority: 150,
            master: true,
            vip: "10.0.0.100/24".into(),
        }],
    );
    daemon::start(
        &mut lab,
        &env.agent_bin,
        System::VipAgent,
        node,
        "dut",
        &conf,
        "skb",
    )?;
    wait_until("the agent to hold the VIP", Duration::from_secs(15), || {
        holds(&lab, node, "10.0.0.100")
    })?;
    let prog_id = attached_prog_id(&lab, node).context("no XDP program on eth0")?;
    let ifindex = lab.node(node).ns.ifindex(IFACE)?;
    let pin = lab.bpffs_dir("baselines");
    std::fs::create_dir_all(&pin)?;
    lab::run(
        Command::new("bpftool")
            .args(["prog", "loadall"])
            .arg(&env.baselines_obj)
            .arg(&pin),
    )?;
    let frame = arp_request([0x02, 0, 0, 0, 0, 0x09], [10, 0, 0, 9], VIP);
    let plan = env.plan;
    let (floor_path, pass_path) = (pin.join("bench_tx_floor"), pin.join("bench_pass"));
    let samples = lab.node(node).ns.in_thread(move || -> Result<Vec<Value>> {
        let progs = [
            ("vip-agent", prog_fd_by_id(prog_id)?, XDP_TX),
            ("floor: swap MACs + XDP_TX", pinned_fd(&floor_path)?, XDP_TX),
            ("XDP_PASS", pinned_fd(&pass_path)?, XDP_PASS),
        ];
        // warm-up
        for (_, fd, expect) in &progs {
            sample(fd, &frame, ifindex, *expect, 2000)?;
        }
        let mut blocks: Vec<Vec<f64>> = vec![Vec::new(); progs.len()];
        let mut means: Vec<Vec<f64>> = vec![Vec::new(); progs.len()];
        for _ in 0..plan.xdp_blocks {
            check_interrupt()?;
            for (i, (_, fd, expect)) in progs.iter().enumerate() {
                let d = sample(fd, &frame, ifindex, *expect, plan.xdp_runs_per_block)?;
                blocks[i].push(median_p95(&d).0);
                means[i].push(d.iter().sum::<f64>() / d.len() as f64);
            }
        }
        Ok(progs
            .iter()
            .zip(blocks.into_iter().zip(means))
            .map(|((name, _, expect), (medians, means))| {
                json!({"program": name, "verdict": expect, "block_median_ns": medians, "block_mean_ns": means})
            })
            .collect::<Vec<_>>())
    })?;
    Ok(json!({
        "method": "BPF_PROG_TEST_RUN, repeat=1 per sample, ingress_ifindex = the agent's eth0; per block the median of the kernel-reported durations",
        "runs_per_block": plan.xdp_runs_per_block,
        "programs": samples,
    }))
}
