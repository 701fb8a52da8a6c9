//! The container files of `vip-agent/dist/container`, run for real: the
//! Dockerfile's runtime stage built with podman on a Debian base made here,
//! installing a Debian package of the agent, and the docker-pair scenario
//! run as two containers with the settings of compose.yaml (capabilities,
//! seccomp profile, volumes, restart policy, stop grace period), each node's
//! keepalived.conf unchanged. Host networking is the one setting replaced:
//! each container joins its node's lab namespace, never the host's network.

use std::{
    net::IpAddr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use nix::{sys::signal::Signal, unistd::Pid};
use tests::{
    agent::{arping, holders},
    container::{self, Container, Image, Service},
    scenario_lab::{lab_client_reaches, lay_out, Case, Layout, ELECTION},
    wait_for, Lab,
};
use vip_netns::scenario::Scenario;

/// Where the image's command reads its configuration.
const CONFIG: &str = "/etc/vip-agent/keepalived.conf";

/// Prints how long into the test each step ended (where CI time goes).
struct Steps(Instant);

impl Steps {
    fn done(&self, what: &str) {
        println!(
            "container: {what} after {:.1} s",
            self.0.elapsed().as_secs_f64()
        );
    }
}

/// The base and the runtime image, for one test.
fn images(lab: &Lab) -> Result<(Image, Image)> {
    container::require_podman()?;
    container::remove_leftovers();
    let base = container::debian_base_image(lab.id())?;
    let deb = container::agent_package(lab.work_dir())?;
    println!("container: installing {} in the image", deb.display());
    let image = container::build_runtime_image(lab.id(), &base, &deb, lab.work_dir())?;
    Ok((base, image))
}

fn same_file(a: &Path, b: &Path) -> Result<bool> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .with_context(|| format!("resolving {}", p.display()))
    };
    Ok(canonical(a)? == canonical(b)?)
}

/// The compose service of each scenario node, checked to mount that node's
/// keepalived.conf of examples/scenarios as the image's configuration.
fn services_of(scenario: &Scenario) -> Result<Vec<Service>> {
    let services = container::compose_file()?;
    scenario
        .nodes
        .iter()
        .map(|node| {
            let service = services
                .get(&node.name)
                .with_context(|| format!("compose.yaml has no service {}", node.name))?;
            let config = service
                .volumes
                .iter()
                .find(|v| v.target == CONFIG)
                .with_context(|| format!("service {} mounts nothing on {CONFIG}", node.name))?;
            ensure!(
                same_file(
                    &container::container_dir().join(&config.source),
                    &node.config
                )?,
                "service {} mounts {} on {CONFIG}, not {}",
                node.name,
                config.source,
                node.config.display()
            );
            Ok(service.clone())
        })
        .collect()
}

/// The capabilities compose.yaml may name, with their numbers
/// (linux/capability.h).
const CAPABILITY_NUMBERS: &[(&str, u32)] = &[
    ("NET_ADMIN", 12),
    ("NET_RAW", 13),
    ("SYS_ADMIN", 21),
    ("SYS_RESOURCE", 24),
    ("PERFMON", 38),
    ("BPF", 39),
];

/// The capability set named as compose names it (`NET_ADMIN`), as bits.
fn capability_bits(names: &[String]) -> Result<u64> {
    names.iter().try_fold(0u64, |bits, name| {
        let (_, number) = CAPABILITY_NUMBERS
            .iter()
            .find(|(known, _)| known == name)
            .with_context(|| format!("capability {name} is not one this test knows"))?;
        Ok(bits | 1 << number)
    })
}

/// `CapEff` of the container's first process (the agent), from the host.
fn effective_capabilities(c: &Container) -> Result<u64> {
    let pid = c.inspect("{{.State.Pid}}")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .context("no CapEff")?;
    Ok(u64::from_str_radix(hex.trim(), 16)?)
}

fn mac_of(lab: &Lab, node: usize, interface: &str) -> Result<[u8; 6]> {
    Ok(lab.node(node).ns.mac(interface)?)
}

fn wait_for_container_state(c: &Container, role: &str, state: &str) -> Result<()> {
    wait_for(&format!("{role} to report {state}"), ELECTION, || {
        (c.state().as_deref() == Some(state)).then_some(())
    })
    .with_context(|| format!("{role} reports {:?}", c.state()))
}

#[test]
fn docker_pair_runs_in_containers_with_the_compose_settings() -> Result<()> {
    let scenario = Scenario::load("docker-pair")?;
    let vip: IpAddr = scenario.vip;
    let iface = scenario.nodes[0].interface.clone();
    let services = services_of(&scenario)?;
    let Layout {
        mut lab,
        nodes,
        client,
    } = lay_out(&Case::plain(scenario.clone()))?;
    let steps = Steps(Instant::now());
    let (_base, image) = images(&lab)?;
    steps.done("image built");

    let mut containers = Vec::new();
    for (i, node) in scenario.nodes.iter().enumerate() {
        containers.push(Container::start(
            &mut lab,
            nodes[i],
            &node.name,
            &services[i],
            &image,
        )?);
    }

    // The agent runs with the compose file's capabilities and no others.
    for (i, c) in containers.iter().enumerate() {
        ensure!(
            services[i].cap_drop == ["ALL"],
            "compose drops every capability it does not add"
        );
        assert_eq!(
            effective_capabilities(c)?,
            capability_bits(&services[i].cap_add)?,
            "effective capabilities of {}",
            scenario.nodes[i].name
        );
    }

    // 1. One Master holds the VIP (equal priorities: either may win); the
    //    other settles as Backup; the client reaches the VIP at the
    //    Master's MAC.
    let master = wait_for("exactly one holder of the VIP", ELECTION, || {
        let h = holders(&lab, &nodes, &iface, vip);
        (h.len() == 1).then(|| h[0])
    })?;
    let master = nodes.iter().position(|&n| n == master).expect("a lab node");
    let backup = 1 - master;
    let (master_name, backup_name) = (&scenario.nodes[master].name, &scenario.nodes[backup].name);
    wait_for_container_state(&containers[master], master_name, "MASTER")?;
    wait_for(
        &format!("{backup_name} to settle as Backup"),
        ELECTION,
        || {
            let status = containers[backup].status().ok()?;
            let inst = &status["instances"][0];
            (inst["state"] == "BACKUP" && inst["adverts_received"].as_u64()? >= 2).then_some(())
        },
    )?;
    assert_eq!(holders(&lab, &nodes, &iface, vip), [nodes[master]]);
    lab_client_reaches(&lab, client, vip)?;
    assert_eq!(
        arping(&lab, client, &scenario.client.interface, vip)?,
        mac_of(&lab, nodes[master], &iface)?,
        "the client's ARP finds {master_name}"
    );
    steps.done("elected");

    // 2. Stopping the Master's container (SIGTERM, then the compose grace
    //    period) is a clean stop: it exits 0 and the VIP moves to the other.
    containers[master].stop(services[master].stop_grace_period)?;
    assert_eq!(
        containers[master].inspect("{{.State.ExitCode}}")?,
        "0",
        "{master_name} stopped cleanly: {}",
        containers[master].logs()
    );
    wait_for(
        &format!("{backup_name} to hold the VIP alone"),
        ELECTION,
        || (holders(&lab, &nodes, &iface, vip) == [nodes[backup]]).then_some(()),
    )
    .with_context(|| format!("holders: {:?}", holders(&lab, &nodes, &iface, vip)))?;
    wait_for_container_state(&containers[backup], backup_name, "MASTER")?;
    lab_client_reaches(&lab, client, vip)?;
    assert_eq!(
        arping(&lab, client, &scenario.client.interface, vip)?,
        mac_of(&lab, nodes[backup], &iface)?,
        "the client's ARP finds {backup_name}"
    );
    steps.done("failed over");

    // 3. The new Master's agent is killed: the restart policy starts it
    //    again, and with its state pinned on the bpffs volume it resumes as
    //    Master; the VIP stays on it.
    let survivor = &containers[backup];
    let pid: i32 = survivor.inspect("{{.State.Pid}}")?.parse()?;
    nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    wait_for(
        &format!("{backup_name}'s container to restart"),
        ELECTION,
        || {
            let count: u32 = survivor.inspect("{{.RestartCount}}").ok()?.parse().ok()?;
            let running = survivor.inspect("{{.State.Running}}").ok()? == "true";
            (count >= 1 && running).then_some(())
        },
    )?;
    wait_for_container_state(survivor, backup_name, "MASTER")?;
    ensure!(
        survivor.logs().contains("reason=Restart"),
        "the restarted agent resumed as Master from its pinned state: {}",
        survivor.logs()
    );
    assert_eq!(holders(&lab, &nodes, &iface, vip), [nodes[backup]]);
    lab_client_reaches(&lab, client, vip)?;
    steps.done("restarted");

    drop(containers);
    lab.passed();
    Ok(())
}

/// Whether `ip link` shows an XDP program on `interface` of lab node `node`.
fn xdp_attached(lab: &Lab, node: usize, interface: &str) -> bool {
    lab.node(node)
        .ns
        .ip(&["-j", "link", "show", "dev", interface])
        .ok()
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .is_some_and(|json| !json[0]["xdp"].is_null())
}

#[test]
fn every_capability_and_the_seccomp_profile_of_the_compose_file_are_needed() -> Result<()> {
    let scenario = Scenario::load("docker-pair")?;
    let vip = scenario.vip;
    let iface = scenario.nodes[0].interface.clone();
    let node_name = scenario.nodes[0].name.clone();
    let service = services_of(&scenario)?.remove(0);
    let Layout {
        mut lab,
        nodes,
        client: _,
    } = lay_out(&Case::plain(scenario.clone()))?;
    let node = nodes[0];
    let steps = Steps(Instant::now());
    let (_base, image) = images(&lab)?;
    steps.done("image built");

    // The compose service as it is, alone on the segment: it becomes Master,
    // and a clean stop takes the VIP away again.
    {
        let c = Container::start(&mut lab, node, &node_name, &service, &image)?;
        wait_for_container_state(&c, &node_name, "MASTER")?;
        assert_eq!(holders(&lab, &nodes, &iface, vip), [node]);
        c.stop(service.stop_grace_period)?;
        assert!(holders(&lab, &nodes, &iface, vip).is_empty());
    }
    let _ = std::fs::remove_dir_all(lab.bpffs_dir(&node_name));

    // Each variant with one thing less fails, saying why, and holds nothing.
    // A missing capability is named by the agent's own check before it
    // tries anything; the seccomp profile is met by the kernel's EPERM.
    let refused: Vec<String> = ["Operation not permitted", "Permission denied"]
        .map(String::from)
        .to_vec();
    let mut variants: Vec<(String, Service, Vec<String>)> = service
        .cap_add
        .iter()
        .map(|cap| {
            let mut s = service.clone();
            s.cap_add.retain(|c| c != cap);
            let what = format!("without-{}", cap.to_lowercase().replace('_', "-"));
            (what, s, vec![format!("missing CAP_{cap} (")])
        })
        .collect();
    ensure!(
        !service.security_opt.is_empty(),
        "compose.yaml sets a seccomp profile"
    );
    let mut default_seccomp = service.clone();
    default_seccomp.security_opt.clear();
    variants.push(("default-seccomp".to_string(), default_seccomp, refused));
    let mut no_bpffs = service.clone();
    no_bpffs.volumes.retain(|v| v.target != container::BPFFS);
    ensure!(
        no_bpffs.volumes.len() < service.volumes.len(),
        "compose.yaml mounts bpffs"
    );
    // Without the host's bpffs the agent tries to mount one, which the
    // container's capabilities (no CAP_SYS_ADMIN) do not allow.
    variants.push((
        "without-bpffs".to_string(),
        no_bpffs,
        vec!["no bpf filesystem for the pins, and mounting one on /sys/fs/bpf failed".to_string()],
    ));

    for (what, mut variant, expected) in variants {
        // A failing agent must not be restarted while its failure is read.
        variant.restart = "no".to_string();
        let role = format!("{node_name}-{what}");
        let c = Container::start(&mut lab, node, &role, &variant, &image)?;
        let reason = wait_for(&format!("{role} to fail"), ELECTION, || {
            let logs = c.logs();
            let line = logs
                .lines()
                .find(|l| expected.iter().any(|e| l.contains(e)))?;
            Some(line.to_string())
        })
        .with_context(|| format!("{role} says: {}", c.logs()))?;
        steps.done(&format!("{what} refused: {reason}"));
        assert!(
            holders(&lab, &nodes, &iface, vip).is_empty(),
            "{role} holds nothing"
        );
        assert_ne!(c.state().as_deref(), Some("MASTER"), "{role} is not Master");
        // Unpinning the run's XDP link detaches it: the next variant starts
        // on a bare interface, not from this one's program.
        drop(c);
        let _ = std::fs::remove_dir_all(lab.bpffs_dir(&role));
        wait_for(
            &format!("{iface} without XDP after {role}"),
            Duration::from_secs(10),
            || (!xdp_attached(&lab, node, &iface)).then_some(()),
        )?;
    }
    lab.passed();
    Ok(())
}
