//! keepalived.conf syntax through the public API: includes, brace placement,
//! several statements per line, comments, quotes and trailing whitespace.

use std::fs;
use std::path::Path;

use vip_config::{load, load_str, AddressFamily, Config, InitialState, LoadOptions};

fn parse(text: &str) -> Config {
    match load_str(text, "test.conf", LoadOptions::default()) {
        Ok(loaded) => loaded.config,
        Err(diagnostics) => panic!("{diagnostics:#?}"),
    }
}

const INSTANCE_BODY: &str =
    "interface eth0\nvirtual_router_id 51\nvirtual_ipaddress {\n10.0.0.70\n}\n";

#[test]
fn includes_are_relative_to_the_including_file_and_expand_globs() {
    let root = tempfile::tempdir().expect("temporary directory");
    let conf_d = root.path().join("conf.d");
    let nested = conf_d.join("nested");
    fs::create_dir_all(&nested).expect("folders");
    fs::write(
        root.path().join("keepalived.conf"),
        "global_defs {\n    router_id EDGE\n}\ninclude conf.d/*.conf\n",
    )
    .expect("main file");
    // Found by the glob in sorted order; this one includes a file relative to conf.d/.
    fs::write(
        conf_d.join("10-a.conf"),
        format!("vrrp_instance A {{\n{INSTANCE_BODY}}}\ninclude nested/script.inc\n"),
    )
    .expect("a");
    fs::write(
        conf_d.join("20-b.conf"),
        "vrrp_instance B {\ninterface eth1\nvirtual_router_id 52\ntrack_script {\nchk\n}\nvirtual_ipaddress {\n10.0.1.70\n}\n}\n",
    )
    .expect("b");
    fs::write(
        conf_d.join("ignored.txt"),
        "this is not a configuration file\n",
    )
    .expect("txt");
    fs::write(
        nested.join("script.inc"),
        "vrrp_script chk {\nscript /bin/true\n}\n",
    )
    .expect("script");

    let loaded = load(
        &root.path().join("keepalived.conf"),
        LoadOptions { strict: true },
    )
    .expect("valid");
    let config = loaded.config;
    assert_eq!(config.global.router_id.as_deref(), Some("EDGE"));
    let names: Vec<&str> = config
        .instances
        .iter()
        .map(|instance| instance.name.as_str())
        .collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(config.scripts[0].name, "chk");
}

#[test]
fn diagnostics_in_included_files_name_that_file() {
    let root = tempfile::tempdir().expect("temporary directory");
    fs::write(root.path().join("main.conf"), "include part.conf\n").expect("main");
    fs::write(
        root.path().join("part.conf"),
        "\nvrrp_instance A {\n  priority 300\n}\n",
    )
    .expect("part");
    let errors = load(&root.path().join("main.conf"), LoadOptions::default()).expect_err("invalid");
    let part = root.path().join("part.conf");
    let expected = format!(
        "{}:3:12: priority: 300 is outside the range 1..255",
        part.display()
    );
    assert!(
        errors.iter().any(|error| error.to_string() == expected),
        "{errors:#?}"
    );
}

#[test]
fn block_brace_on_the_next_line() {
    let config = parse("vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress\n {\n 10.0.0.70\n }\n}\n");
    assert_eq!(
        config.instances[0].virtual_ipaddresses[0]
            .address
            .to_string(),
        "10.0.0.70"
    );
}

#[test]
fn several_statements_on_one_line_around_braces() {
    let config = parse(
        "global_defs { router_id R1 }\nvrrp_instance VI_1 { interface eth0\nvirtual_router_id 51\n\
         authentication { auth_type PASS\nauth_pass secret }\nvirtual_ipaddress { 10.0.0.70/24 } } vrrp_instance VI_2 {\n\
         interface eth0\nvirtual_router_id 52 }\n",
    );
    assert_eq!(config.global.router_id.as_deref(), Some("R1"));
    assert_eq!(config.instances[0].auth_pass.as_deref(), Some("secret"));
    assert_eq!(config.instances[0].virtual_ipaddresses[0].prefix_len, 24);
    assert_eq!(config.instances[1].virtual_router_id, 52);
}

#[test]
fn rest_of_a_line_is_ignored_with_a_warning_as_keepalived_does() {
    // keepalived reads `state MASTER interface eth1` as `state MASTER` only.
    let loaded = load_str(
        "vrrp_instance VI_1 {\n state MASTER interface eth1\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 10.0.0.70\n }\n}\n",
        "t.conf",
        LoadOptions::default(),
    )
    .expect("valid");
    assert_eq!(loaded.config.instances[0].interface, "eth0");
    assert_eq!(loaded.config.instances[0].state, InitialState::Master);
    assert_eq!(
        loaded.warnings[0].to_string(),
        "t.conf:2:15: 'state' ignores the words from 'interface' to the end of the line (one statement per line)"
    );
}

#[test]
fn comments_quotes_and_trailing_whitespace() {
    let config = parse(
        "# leading comment\n! another\nvrrp_script chk {  \n  script \"/usr/bin/check --name 'web' # not a comment\"   \n\
         user nobody   # trailing\n}\t\nvrrp_instance VI_1 { ! comment after a brace\n interface eth0  \n virtual_router_id 51  \n\
         notify_master '/etc/notify.sh MASTER' root\n track_script {\n  chk weight -10\n }\n virtual_ipaddress {  \n  10.0.0.70  \n }  \n}  \n",
    );
    assert_eq!(
        config.scripts[0].script,
        "/usr/bin/check --name 'web' # not a comment"
    );
    assert_eq!(config.scripts[0].user.as_deref(), Some("nobody"));
    let instance = &config.instances[0];
    let notify = instance.notify.master.as_ref().expect("notify_master");
    assert_eq!(notify.command, "/etc/notify.sh MASTER");
    assert_eq!(notify.user.as_deref(), Some("root"));
    assert_eq!(instance.track_scripts[0].weight, -10);
}

#[test]
fn defaults_and_inheritance_from_global_defs() {
    let config = parse(&format!(
        "global_defs {{\n vrrp_version 3\n vrrp_garp_master_delay 2\n vrrp_garp_master_refresh 60\n}}\n\
         vrrp_instance A {{\n{INSTANCE_BODY} garp_master_repeat 1\n advert_int 0.123\n}}\n"
    ));
    let instance = &config.instances[0];
    assert_eq!(instance.version, 3);
    assert_eq!(instance.priority, 100);
    assert_eq!(instance.state, InitialState::Backup);
    assert_eq!(instance.advert_int_ms, 120);
    assert_eq!(instance.garp.master_delay_s, 2);
    assert_eq!(instance.garp.master_repeat, 1);
    assert_eq!(instance.garp.master_refresh_s, 60);
    assert_eq!(instance.garp.master_refresh_repeat, 1);
    assert!(instance.accept);
    assert_eq!(instance.virtual_ipaddresses[0].prefix_len, 32);
}

#[test]
fn ipv6_forces_version_3_and_v3_drops_authentication() {
    let loaded = load_str(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 2\n authentication {\n auth_type PASS\n auth_pass x\n }\n\
         virtual_ipaddress {\n fe80::1/64\n 2001:db8::1\n }\n}\n",
        "t.conf",
        LoadOptions::default(),
    )
    .expect("valid");
    let instance = &loaded.config.instances[0];
    assert_eq!(instance.family, AddressFamily::Ipv6);
    assert_eq!(instance.version, 3);
    assert_eq!(instance.auth_pass, None);
    assert_eq!(instance.virtual_ipaddresses[1].prefix_len, 128);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "t.conf:4:10: vrrp_instance A: IPv6 instances use VRRP version 3; 'version 2' is ignored",
            "t.conf:5:2: vrrp_instance A: VRRP version 3 has no authentication; it is ignored, as keepalived does",
        ]
    );
}

#[test]
fn vrrp2_advert_int_is_rounded_to_seconds() {
    let loaded = load_str(
        &format!("vrrp_instance A {{\n{INSTANCE_BODY}advert_int 1.5\n}}\n"),
        "t.conf",
        LoadOptions::default(),
    )
    .expect("valid");
    assert_eq!(loaded.config.instances[0].advert_int_ms, 2000);
    assert!(
        loaded.warnings[0]
            .message
            .contains("whole seconds; 2 s is used"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn strict_mode_defaults_accept_to_owner_only() {
    let config = parse(&format!(
        "global_defs {{\n vrrp_strict\n}}\nvrrp_instance A {{\n{INSTANCE_BODY}}}\n"
    ));
    assert!(!config.instances[0].accept);
}

#[test]
fn scenario_files_round_trip_through_the_printer() {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios");
    for entry in glob::glob(&format!("{}/*/*.conf", scenarios.display())).expect("pattern") {
        let path = entry.expect("path");
        let config = load(&path, LoadOptions::default()).expect("valid").config;
        let printed = config.to_keepalived_string();
        let again = load_str(&printed, "printed.conf", LoadOptions { strict: true })
            .unwrap_or_else(|errors| panic!("{printed}\n{errors:#?}"))
            .config;
        assert_eq!(again, config, "{}", path.display());
    }
}
