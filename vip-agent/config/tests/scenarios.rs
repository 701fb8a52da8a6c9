//! Every scenario configuration passes check-config, and its normalized JSON
//! equals the committed golden file. Set UPDATE_GOLDEN=1 to rewrite them.

use std::path::{Path, PathBuf};

use vip_config::check::check_config;

fn repository_root() -> PathBuf {
    // This crate is vip-agent/config, two levels below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

fn scenario_files() -> Vec<PathBuf> {
    let pattern = repository_root().join("examples/scenarios/*/*.conf");
    let mut files: Vec<PathBuf> = glob::glob(&pattern.display().to_string())
        .expect("pattern")
        .map(|entry| entry.expect("readable"))
        .collect();
    files.sort();
    files
}

#[test]
fn scenarios_match_golden_json() {
    let files = scenario_files();
    assert!(files.len() >= 8, "scenarios not found: {files:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for file in &files {
        let scenario = file
            .parent()
            .and_then(Path::file_name)
            .expect("scenario folder");
        let node = file.file_stem().expect("node name");
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/golden")
            .join(scenario)
            .join(node)
            .with_extension("json");
        let outcome = check_config(file, false, true);
        assert_eq!(
            outcome.exit_code,
            0,
            "{}: {}",
            file.display(),
            outcome.stderr
        );
        if update {
            std::fs::create_dir_all(golden.parent().expect("folder"))
                .expect("create golden folder");
            std::fs::write(&golden, &outcome.stdout).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|error| {
            panic!("{}: {error} (run with UPDATE_GOLDEN=1)", golden.display())
        });
        if expected != outcome.stdout {
            mismatches.push(format!("{}:\n{}", golden.display(), outcome.stdout));
        }
    }
    assert!(
        mismatches.is_empty(),
        "JSON differs from golden files:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn scenarios_summaries_and_warnings() {
    let root = repository_root().join("examples/scenarios");
    let swarm = check_config(&root.join("swarm-four/cube01.conf"), false, false);
    assert_eq!(swarm.exit_code, 0);
    assert!(
        swarm.stdout.contains(
            "vrrp_instance VI_1: interface eth0, vrid 51, IPv4 VRRPv2, priority 100, state MASTER"
        ),
        "{}",
        swarm.stdout
    );
    assert!(
        swarm.stdout.contains("VIPs: 10.0.0.70/32"),
        "{}",
        swarm.stdout
    );
    assert!(
        swarm.stderr.contains(
            "cube01.conf:13:15: warning: auth_pass is longer than 8 bytes; only 'mypasswo' is used"
        ),
        "{}",
        swarm.stderr
    );

    let node1 = check_config(&root.join("docker-pair/node1.conf"), false, false);
    assert_eq!(node1.exit_code, 0);
    assert!(node1.stderr.contains("node1.conf:5:5: warning: vrrp_instance VI_1: nopreempt does not work with 'state MASTER'"), "{}", node1.stderr);
    assert!(node1.stdout.contains("preempt: yes"), "{}", node1.stdout);
    let node2 = check_config(&root.join("docker-pair/node2.conf"), false, false);
    assert!(node2.stdout.contains("preempt: no"), "{}", node2.stdout);
    assert!(node2.stderr.is_empty(), "{}", node2.stderr);

    let dent2 = check_config(&root.join("unicast-gateway/dent2.conf"), false, false);
    assert!(
        dent2
            .stdout
            .contains("adverts: unicast from 192.168.1.11 to 192.168.1.12"),
        "{}",
        dent2.stdout
    );

    // --strict turns the warnings about these files into errors.
    let strict = check_config(&root.join("swarm-four/cube01.conf"), true, false);
    assert_eq!(strict.exit_code, 1);
    assert!(
        strict
            .stderr
            .contains("cube01.conf:13:15: auth_pass is longer"),
        "{}",
        strict.stderr
    );
}
