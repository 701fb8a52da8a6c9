//! `track_file` / `vrrp_track_process` sections and the `track_file` /
//! `track_process` lines of instances and sync groups.

use std::path::Path;

use vip_config::{
    check, load_str, Diagnostic, LoadOptions, ParamMatch, Severity, TrackFile, TrackFileInit,
    TrackProcess, TrackedScript,
};

const INSTANCE: &str = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  \
    virtual_ipaddress {\n    10.0.0.100/24\n  }\n";

fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str(text, "t.conf", LoadOptions::default()) {
        Ok(loaded) => panic!("accepted: {:#?}", loaded.config),
        Err(diagnostics) => diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect(),
    }
}

#[test]
fn sections_and_references_read_with_keepalived_defaults() {
    let text = format!(
        "track_file f1 {{\n  file /run/f1\n  init_file 5 overwrite\n}}\n\
         vrrp_track_file f2 {{\n  file /run/f2\n  weight -3 reverse\n  init_file\n}}\n\
         vrrp_track_process p1 {{\n  process sleep 1000 x\n  quorum 2\n  delay 0.5\n}}\n\
         vrrp_track_process p2 {{\n  process nginx\n  param_match partial\n  weight 10\n  \
         quorum_max 0\n  fork_delay 2\n}}\n\
         {INSTANCE}  track_file {{\n    f1\n    f2 weight 7\n  }}\n  \
         track_process {{\n    p1 weight -20 reverse\n  }}\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_1\n  }}\n  sync_group_tracking_weight\n  track_process {{\n    p2\n  }}\n}}\n"
    );
    let loaded = load_str(&text, "t.conf", LoadOptions::default()).expect("valid");
    let config = &loaded.config;
    assert_eq!(
        config.track_files,
        vec![
            TrackFile {
                name: "f1".into(),
                path: "/run/f1".into(),
                weight: 1,
                weight_reverse: false,
                init: Some(TrackFileInit {
                    value: 5,
                    overwrite: true
                }),
            },
            TrackFile {
                name: "f2".into(),
                path: "/run/f2".into(),
                weight: -3,
                weight_reverse: true,
                init: Some(TrackFileInit {
                    value: 0,
                    overwrite: false
                }),
            },
        ]
    );
    assert_eq!(
        config.track_processes,
        vec![
            TrackProcess {
                name: "p1".into(),
                process: "sleep".into(),
                params: vec!["1000".into(), "x".into()],
                param_match: Some(ParamMatch::Exact),
                full_command: true,
                weight: 0,
                weight_reverse: false,
                quorum: 2,
                quorum_max: u32::MAX,
                fork_delay_us: 500_000,
                terminate_delay_us: 500_000,
            },
            TrackProcess {
                name: "p2".into(),
                process: "nginx".into(),
                params: vec![],
                param_match: Some(ParamMatch::Partial),
                full_command: true,
                weight: 10,
                weight_reverse: false,
                quorum: 0,
                quorum_max: 0,
                fork_delay_us: 2_000_000,
                terminate_delay_us: 0,
            },
        ]
    );
    let track = |name: &str, weight, reverse| TrackedScript {
        name: name.into(),
        weight,
        reverse,
    };
    let instance = &config.instances[0];
    assert_eq!(
        instance.track_files,
        vec![track("f1", 1, false), track("f2", 7, false)],
        "a weight on the line replaces the file's weight and direction"
    );
    assert_eq!(instance.track_processes, vec![track("p1", -20, true)]);
    assert_eq!(
        config.sync_groups[0].track_processes,
        vec![track("p2", 10, false)]
    );
    assert!(
        !loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("not supported")),
        "{:#?}",
        loaded.warnings
    );

    let summary = check::summary(Path::new("t.conf"), config, 0);
    for line in [
        "track_file f1: /run/f1, weight 1, set to 5 at start",
        "track_file f2: /run/f2, weight -3 reverse, created with 0 when missing",
        "vrrp_track_process p1: 'sleep 1000 x', parameters exact, quorum at least 2, weight 0",
        "vrrp_track_process p2: 'nginx', parameters partial, quorum 0..0, weight 10",
        "  tracks file f2 (weight 7)",
        "  tracks process p1 (weight -20 reverse)",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
    let json = serde_json::to_value(config).unwrap();
    assert_eq!(json["track_files"][0]["path"], "/run/f1");
    assert_eq!(json["track_processes"][1]["param_match"], "partial");
    assert_eq!(json["instances"][0]["track_processes"][0]["weight"], -20);
}

#[test]
fn unknown_names_and_incomplete_sections_are_errors_at_their_place() {
    let text = format!(
        "track_file nofile {{\n  weight 2\n}}\n\
         vrrp_track_process noprocess {{\n  quorum 1\n}}\n\
         vrrp_track_process bad {{\n  process x\n  param_match fuzzy\n  quorum 0\n  \
         delay 4000\n  weight 255\n}}\n\
         {INSTANCE}  track_file {{\n    missing\n  }}\n  track_process {{\n    gone weight 3\n  }}\n}}\n"
    );
    let errors = errors(&text);
    let at = |line: u32, col: u32, fragment: &str| {
        assert!(
            errors
                .iter()
                .any(|e| e.line == line && e.col == col && e.message.contains(fragment)),
            "{line}:{col} {fragment} in {errors:#?}"
        );
    };
    at(1, 12, "track_file nofile has no 'file'");
    at(4, 20, "vrrp_track_process noprocess has no 'process'");
    at(9, 15, "param_match: 'fuzzy'");
    at(10, 10, "quorum: 0 is outside the range 1..65535");
    at(11, 9, "delay: 4000 is outside the range");
    at(12, 10, "weight: 255 is outside the range -254..254");
    at(
        21,
        5,
        "vrrp_instance VI_1: track_file names missing, but there is no track_file missing",
    );
    at(
        24,
        5,
        "track_process names gone, but there is no vrrp_track_process gone",
    );
    assert_eq!(errors.len(), 8, "{errors:#?}");
}

#[test]
fn quorum_limits_follow_keepalived() {
    let text = |body: &str| {
        format!("vrrp_track_process p {{\n  process x\n{body}}}\n{INSTANCE}  track_process {{\n    p\n  }}\n}}\n")
    };
    assert!(errors(&text("  quorum_max 2\n  quorum 3\n"))[0]
        .message
        .contains("quorum 3 is greater than quorum_max 2"));
    assert!(errors(&text("  quorum 3\n  quorum_max 2\n"))[0]
        .message
        .contains("quorum_max 2 is less than quorum 3"));
    let loaded = load_str(
        &text("  quorum_max 0\n  quorum_max 4\n"),
        "t.conf",
        LoadOptions::default(),
    )
    .unwrap();
    let p = &loaded.config.track_processes[0];
    assert_eq!((p.quorum, p.quorum_max), (1, 4), "quorum back to 1 after 0");
}

/// An address owner's trackers must have weight 0, as keepalived requires.
#[test]
fn an_address_owner_cannot_weigh_files_or_processes() {
    let text = format!(
        "track_file f {{\n  file /run/f\n}}\n{}  track_file {{\n    f\n  }}\n}}\n",
        INSTANCE.replace(
            "virtual_router_id 51\n",
            "virtual_router_id 51\n  priority 255\n"
        )
    );
    let errors = errors(&text);
    assert!(
        errors[0].message.contains("priority 255 (address owner)") && errors[0].line == 12,
        "{errors:#?}"
    );
    let zero = text.replace("    f\n", "    f weight 0\n");
    load_str(&zero, "t.conf", LoadOptions::default()).expect("weight 0 is fine");
}
