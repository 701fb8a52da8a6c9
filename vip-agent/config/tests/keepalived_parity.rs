//! keepalived 2.2.7 behaviour the configuration reader reproduces: the
//! notify FIFOs of `global_defs`, an instance with more virtual addresses
//! than one advert carries, and the trackers of sync-group members.

use std::fmt::Write;

use vip_config::{
    check::check_config, load_str, max_advertised_addresses, AddressFamily, Command, Config,
    Diagnostic, LoadOptions, NotifyFifo, DEFAULT_MTU,
};

fn load(text: &str) -> (Config, Vec<Diagnostic>) {
    match load_str(text, "test.conf", LoadOptions::default()) {
        Ok(loaded) => (loaded.config, loaded.warnings),
        Err(errors) => panic!("rejected: {errors:?}"),
    }
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  \
                        virtual_ipaddress {\n    10.0.0.10/24\n  }\n}\n";

fn with_global(global: &str) -> String {
    format!("global_defs {{\n{global}\n}}\n{INSTANCE}")
}

#[test]
fn notify_fifos_are_read_with_owner_and_script() {
    let (config, warnings) = load(&with_global(
        "  notify_fifo /run/ka.fifo nobody nogroup\n  notify_fifo_script \"/usr/local/bin/read fifo\" nobody\n  \
         vrrp_notify_fifo /run/vrrp.fifo\n  fifo_write_vrrp_states_on_reload",
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.global.notify_fifo,
        Some(NotifyFifo {
            path: "/run/ka.fifo".into(),
            user: Some("nobody".into()),
            group: Some("nogroup".into()),
            script: Some(Command {
                command: "/usr/local/bin/read fifo".into(),
                user: Some("nobody".into()),
                group: None,
            }),
        })
    );
    assert_eq!(
        config.global.vrrp_notify_fifo,
        Some(NotifyFifo {
            path: "/run/vrrp.fifo".into(),
            user: None,
            group: None,
            script: None,
        })
    );
    assert!(config.global.fifo_write_vrrp_states_on_reload);
    // What check-config --json shows, and what reads back the same.
    let printed = config.to_keepalived_string();
    assert!(
        printed.contains("notify_fifo /run/ka.fifo nobody nogroup"),
        "{printed}"
    );
    let (again, _) = load(&printed);
    assert_eq!(again, config);
}

#[test]
fn fifo_keywords_that_do_nothing_are_warnings() {
    let (config, warnings) = load(&with_global(
        "  notify_fifo /run/a.fifo\n  notify_fifo /run/b.fifo\n  vrrp_notify_fifo_script /bin/reader\n  \
         vrrp_notify_fifo /run/a.fifo\n  vrrp_notify_fifo_script /bin/other",
    ));
    let messages: Vec<(u32, String)> = warnings
        .iter()
        .map(|w| (w.line, w.message.clone()))
        .collect();
    // keepalived takes the first notify_fifo, and the first script.
    assert_eq!(
        config.global.notify_fifo.as_ref().unwrap().path,
        "/run/a.fifo"
    );
    assert!(
        messages.iter().any(|(line, m)| *line == 3
            && m.contains("'notify_fifo' was already given at test.conf:2:3")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(
            |(line, m)| *line == 6 && m.contains("'vrrp_notify_fifo_script' was already given")
        ),
        "{messages:?}"
    );
    // The same FIFO twice would get every line twice: keepalived drops the vrrp one.
    assert_eq!(config.global.vrrp_notify_fifo, None);
    assert!(
        messages
            .iter()
            .any(|(line, m)| *line == 5 && m.contains("is also the notify_fifo: it is ignored")),
        "{messages:?}"
    );

    let (config, warnings) = load(&with_global("  notify_fifo_script /bin/reader"));
    assert_eq!(config.global.notify_fifo, None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("'notify_fifo_script' has no 'notify_fifo' to read: it is not run"),
        "{warnings:?}"
    );

    let errors = load_str(
        &with_global("  notify_fifo"),
        "test.conf",
        LoadOptions::default(),
    )
    .expect_err("a FIFO needs its path");
    assert!(
        errors
            .iter()
            .any(|e| e.line == 2 && e.message.contains("'notify_fifo' needs a FIFO path")),
        "{errors:?}"
    );
}

#[test]
fn user_and_group_are_kept_for_scripts_and_the_default_user() {
    let (config, warnings) = load(&format!(
        "global_defs {{\n  script_user nobody nogroup\n}}\nvrrp_script chk {{\n  script /bin/true\n  \
         user daemon adm\n}}\n{}",
        INSTANCE.replace(
            "  interface eth0\n",
            "  interface eth0\n  track_script {\n    chk\n  }\n  notify /bin/notify daemon adm\n"
        )
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    let script_user = config.global.script_user.as_ref().unwrap();
    assert_eq!(
        (script_user.user.as_str(), script_user.group.as_deref()),
        ("nobody", Some("nogroup"))
    );
    let script = config.script("chk").unwrap();
    assert_eq!(
        (script.user.as_deref(), script.group.as_deref()),
        (Some("daemon"), Some("adm"))
    );
    let notify = config.instances[0].notify.any.as_ref().unwrap();
    assert_eq!(
        (notify.user.as_deref(), notify.group.as_deref()),
        (Some("daemon"), Some("adm"))
    );
}

#[test]
fn advert_capacity_is_counted_as_keepalived_counts_it() {
    use AddressFamily::{Ipv4, Ipv6};
    // (MTU - Ethernet - IP - VRRP [- v2 auth]) / address size, at most 255.
    assert_eq!(max_advertised_addresses(Ipv4, 2, DEFAULT_MTU), 255);
    assert_eq!(max_advertised_addresses(Ipv4, 3, DEFAULT_MTU), 255);
    assert_eq!(max_advertised_addresses(Ipv6, 3, DEFAULT_MTU), 89);
    assert_eq!(max_advertised_addresses(Ipv6, 3, 9000), 255);
    assert_eq!(max_advertised_addresses(Ipv4, 2, 1000), (1000 - 50) / 4);
    assert_eq!(max_advertised_addresses(Ipv4, 3, 1000), (1000 - 42) / 4);
    assert_eq!(max_advertised_addresses(Ipv6, 3, 60), 0);
}

fn many_vips(count: usize, v6: bool) -> String {
    let mut text = String::from(
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n",
    );
    for i in 0..count {
        if v6 {
            let _ = writeln!(text, "    2001:db8::{:x}/64", i + 1);
        } else {
            let _ = writeln!(text, "    10.1.{}.{}/16", i / 250, i % 250 + 1);
        }
    }
    text + "  }\n  virtual_ipaddress_excluded {\n    192.168.9.9/24\n  }\n}\n"
}

#[test]
fn addresses_past_what_an_advert_carries_are_moved_to_the_excluded_ones() {
    let (config, warnings) = load(&many_vips(300, false));
    let instance = &config.instances[0];
    assert_eq!(instance.virtual_ipaddresses.len(), 255);
    assert_eq!(
        instance.virtual_ipaddresses[254].address.to_string(),
        "10.1.1.5"
    );
    // The configured excluded address first, then the excess in order (as
    // keepalived appends it).
    let excluded: Vec<String> = instance
        .virtual_ipaddresses_excluded
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(excluded.len(), 46);
    assert_eq!(excluded[0], "192.168.9.9");
    assert_eq!(excluded[1], "10.1.1.6");
    assert_eq!(excluded[45], "10.1.1.50");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // At the first address that does not fit: line 1 is the instance, 4 the block.
    assert_eq!((warnings[0].line, warnings[0].col), (4 + 256, 5));
    assert!(
        warnings[0].message.contains(
            "300 virtual addresses, but an advert carries at most 255: the 45 from here on are moved \
             to virtual_ipaddress_excluded"
        ),
        "{warnings:?}"
    );

    // check-config says so, and --strict refuses it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, many_vips(300, false)).unwrap();
    let outcome = check_config(&path, false, false);
    assert_eq!(outcome.exit_code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!(
            "{}:260:5: warning: vrrp_instance VI_1: 300 virtual addresses",
            path.display()
        )),
        "{}",
        outcome.stderr
    );
    assert!(outcome
        .stdout
        .contains("excluded VIPs: 192.168.9.9/24, 10.1.1.6/16"));
    assert_eq!(check_config(&path, true, false).exit_code, 1);

    let (config, warnings) = load(&many_vips(255, false));
    assert_eq!(config.instances[0].virtual_ipaddresses.len(), 255);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn ipv6_addresses_past_a_1500_byte_advert_are_a_warning() {
    // The interface's MTU decides how many fit; the agent moves them at start.
    let (config, warnings) = load(&many_vips(100, true).replace("    192.168.9.9/24\n", ""));
    assert_eq!(config.instances[0].virtual_ipaddresses.len(), 100);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, 4 + 90);
    assert!(
        warnings[0].message.contains(
            "100 IPv6 virtual addresses, but on an interface with an MTU of 1500 an advert carries at most 89"
        ),
        "{warnings:?}"
    );
    let (_, warnings) = load(&many_vips(89, true).replace("    192.168.9.9/24\n", ""));
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// A member of two instances' sync group, tracking an interface and a
/// script with weights, as in keepalived's vrrp_complete_instance.
fn sync_group_member(group_extra: &str) -> String {
    format!(
        "vrrp_script chk {{\n  script /bin/true\n  weight 10\n}}\n\
         vrrp_script down {{\n  script /bin/true\n  weight 0\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n{group_extra}\n}}\n\
         vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  \
         virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n  track_interface {{\n    eth1 weight -60\n    eth2\n  }}\n  \
         track_script {{\n    chk\n    down\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  interface eth1\n  virtual_router_id 2\n  \
         virtual_ipaddress {{\n    10.0.1.10/24\n  }}\n}}\n"
    )
}

#[test]
fn a_sync_group_member_loses_its_tracker_weights_without_sync_group_tracking_weight() {
    let (config, warnings) = load(&sync_group_member(""));
    let member = &config.instances[0];
    let weights: Vec<(&str, i32)> = member
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(weights, [("eth1", 0), ("eth2", 0)]);
    let scripts: Vec<&str> = member
        .track_scripts
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(scripts, ["down"], "the weighted script is not tracked");
    let messages: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0]
        .starts_with("test.conf:23:5: vrrp_instance VI_1: the weight of tracked interface eth1"));
    assert!(messages[1]
        .starts_with("test.conf:27:5: vrrp_instance VI_1: tracked script chk has a weight"));
    assert!(!config.sync_groups[0].tracking_weight);

    let (config, warnings) = load(&sync_group_member("  sync_group_tracking_weight"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.sync_groups[0].tracking_weight);
    assert_eq!(config.instances[0].track_interfaces[0].weight, -60);
    assert_eq!(config.instances[0].track_scripts.len(), 2);

    // The deprecated spelling means the same, with a warning.
    let (config, warnings) = load(&sync_group_member("  global_tracking"));
    assert!(config.sync_groups[0].tracking_weight);
    assert!(
        warnings[0]
            .message
            .contains("global_tracking is deprecated"),
        "{warnings:?}"
    );
}

/// keepalived reads `mcast_src_ip` and `unicast_src_ip` with one handler:
/// the source of the adverts, with or without unicast peers.
#[test]
fn mcast_src_ip_is_the_advert_source_as_unicast_src_ip_is() {
    let source = |keyword: &str| {
        let (config, warnings) = load(&format!(
            "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  {keyword} 10.0.0.2\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n"
        ));
        assert!(warnings.is_empty(), "{warnings:?}");
        (
            config.instances[0].unicast_src_ip,
            config.instances[0].unicast_peers.len(),
        )
    };
    let expected = (Some("10.0.0.2".parse().unwrap()), 0);
    assert_eq!(source("mcast_src_ip"), expected);
    assert_eq!(source("unicast_src_ip"), expected);
}

/// keepalived's vrrp_min_garp: one message on becoming Master, no second
/// burst, no refresh, for what is not set explicitly; the lower-priority
/// bursts follow the master burst unless set, and strict mode has none.
#[test]
fn vrrp_min_garp_and_the_lower_priority_bursts() {
    let (config, _) = load(&with_global("  vrrp_min_garp"));
    let garp = config.instances[0].garp;
    assert_eq!(
        (
            garp.master_repeat,
            garp.master_delay_s,
            garp.master_refresh_s
        ),
        (1, 0, 0)
    );
    assert_eq!((garp.lower_prio_repeat, garp.lower_prio_delay_s), (1, 0));

    let (config, _) = load(&with_global("  vrrp_min_garp\n  vrrp_garp_master_repeat 3"));
    assert_eq!(config.instances[0].garp.master_repeat, 3, "explicit wins");
    assert_eq!(config.instances[0].garp.lower_prio_repeat, 3);

    let (config, _) = load(&with_global(
        "  vrrp_garp_lower_prio_repeat 2\n  vrrp_garp_lower_prio_delay 7",
    ));
    let garp = config.instances[0].garp;
    assert_eq!((garp.master_repeat, garp.master_delay_s), (5, 5));
    assert_eq!((garp.lower_prio_repeat, garp.lower_prio_delay_s), (2, 7));

    let (config, warnings) = load(
        "global_defs {\n  vrrp_strict\n}\nvrrp_instance VI_1 {\n  interface eth0\n  \
         virtual_router_id 1\n  garp_lower_prio_repeat 4\n  virtual_ipaddress {\n    \
         10.0.0.10/24\n  }\n}\n",
    );
    assert_eq!(config.instances[0].garp.lower_prio_repeat, 0);
    assert_eq!(config.instances[0].garp.lower_prio_delay_s, 0);
    assert!(
        warnings.iter().any(|w| w
            .message
            .contains("vrrp_strict allows no garp_lower_prio_repeat")),
        "{warnings:?}"
    );
}

/// keepalived: an instance's notify_priority_changes, else its sync
/// group's, else vrrp_notify_priority_changes.
#[test]
fn notify_priority_changes_inherits_from_the_sync_group_then_global_defs() {
    let text = |global: &str, group: &str, own: &str| {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n{group}\n}}\n\
             vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n{own}\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n\
             vrrp_instance VI_2 {{\n  interface eth1\n  virtual_router_id 2\n  \
             virtual_ipaddress {{\n    10.0.1.10/24\n  }}\n}}\n"
        )
    };
    let told = |global: &str, group: &str, own: &str| {
        let (config, _) = load(&text(global, group, own));
        (
            config.instances[0].notify_priority_changes,
            config.instances[1].notify_priority_changes,
        )
    };
    assert_eq!(told("", "", ""), (false, false));
    assert_eq!(told("  vrrp_notify_priority_changes", "", ""), (true, true));
    assert_eq!(
        told(
            "  vrrp_notify_priority_changes",
            "  notify_priority_changes off",
            ""
        ),
        (false, false)
    );
    assert_eq!(
        told(
            "",
            "  notify_priority_changes",
            "  notify_priority_changes no"
        ),
        (false, true)
    );
}

#[test]
fn accept_follows_keepalived_for_owners_strict_mode_and_vrrp_version_2() {
    let instance = |version: u8, priority: u8, accept: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  version {version}\n  \
             priority {priority}\n  {accept}\n  virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n"
        )
    };
    let strict = |body: String| format!("global_defs {{\n  vrrp_strict\n}}\n{body}");

    // Not strict: as written; the address owner accepts whatever is written.
    let (config, warnings) = load(&instance(2, 100, "no_accept"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!config.instances[0].accepts_traffic());
    let (config, _) = load(&instance(2, 255, "no_accept"));
    assert!(config.instances[0].accepts_traffic());
    let (config, _) = load(&instance(2, 100, ""));
    assert!(config.instances[0].accepts_traffic());

    // Strict: no_accept unless the owner; an explicit accept holds for
    // VRRPv3 and is reset, with keepalived's warning, for VRRPv2.
    let (config, _) = load(&strict(instance(3, 100, "")));
    assert!(!config.instances[0].accepts_traffic());
    let (config, warnings) = load(&strict(instance(3, 100, "accept")));
    assert!(config.instances[0].accepts_traffic());
    assert!(
        !warnings.iter().any(|w| w.to_string().contains("accept")),
        "{warnings:?}"
    );
    let (config, warnings) = load(&strict(instance(2, 100, "accept")));
    assert!(!config.instances[0].accept);
    let warning = warnings
        .iter()
        .map(ToString::to_string)
        .find(|w| w.contains("RFC 3768"))
        .expect("a warning");
    assert!(
        warning.starts_with("test.conf:9:3: vrrp_instance VI_1: accept with VRRP version 2"),
        "{warning}"
    );
    let (config, _) = load(&strict(instance(2, 255, "")));
    assert!(config.instances[0].accepts_traffic());
}

#[test]
fn unicast_ttl_and_the_ttl_range_of_each_unicast_peer() {
    let unicast = |lines: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  {lines}\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n"
        )
    };
    let (config, warnings) = load(&unicast(
        "unicast_ttl 64\n  unicast_peer {\n    10.0.0.2 min_ttl 60 max_ttl 64\n    10.0.0.3 max_ttl 200\n    10.0.0.4\n  }",
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    let instance = &config.instances[0];
    assert_eq!(instance.unicast_ttl, Some(64));
    assert_eq!(instance.advert_ttl(), 64);
    let peer = |text: &str| instance.peer_ttl(&text.parse().unwrap());
    assert_eq!((peer("10.0.0.2").min, peer("10.0.0.2").max), (60, 64));
    assert_eq!((peer("10.0.0.3").min, peer("10.0.0.3").max), (0, 200));
    assert_eq!((peer("10.0.0.4").min, peer("10.0.0.4").max), (0, 255));
    assert!(peer("10.0.0.2").accepts(64) && !peer("10.0.0.2").accepts(255));

    // Without the keyword the adverts leave with 255.
    let (config, _) = load(&unicast("unicast_peer {\n    10.0.0.2\n  }"));
    assert_eq!(config.instances[0].advert_ttl(), 255);

    // keepalived keeps a peer whose range is empty, with a warning.
    let (config, warnings) = load(&unicast(
        "unicast_peer {\n    10.0.0.2 min_ttl 100 max_ttl 10\n  }",
    ));
    assert_eq!(config.instances[0].unicast_peers.len(), 1);
    assert!(
        warnings
            .iter()
            .any(|w| w.to_string().contains("min_ttl 100 > max_ttl 10")),
        "{warnings:?}"
    );

    // On multicast adverts it is a mistake worth a word.
    let (_, warnings) = load(&unicast("unicast_ttl 64"));
    assert!(
        warnings.iter().any(|w| w
            .to_string()
            .contains("unicast_ttl 64 without unicast peers")),
        "{warnings:?}"
    );

    for (lines, error) in [
        (
            "unicast_ttl 256",
            "test.conf:4:15: unicast_ttl: 256 is outside the range 0..255",
        ),
        (
            "unicast_peer {\n    10.0.0.2 min_ttl\n  }",
            "test.conf:5:14: unicast_peer: min_ttl is missing a value",
        ),
        (
            "unicast_peer {\n    10.0.0.2 ttl 5\n  }",
            "test.conf:5:14: unicast_peer: unknown option 'ttl' (min_ttl, max_ttl)",
        ),
    ] {
        let errors = load_str(&unicast(lines), "test.conf", LoadOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{lines} accepted"));
        assert!(
            errors.iter().any(|e| e.to_string().starts_with(error)),
            "{lines}: {errors:?}"
        );
    }
}

#[test]
fn strict_mode_changes_and_refuses_what_keepalived_does() {
    let instance = |lines: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  {lines}\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n"
        )
    };
    let strict = |body: String| format!("global_defs {{\n  vrrp_strict\n}}\n{body}");
    let warned = |warnings: &[Diagnostic], text: &str| {
        assert!(
            warnings.iter().any(|w| w.to_string().contains(text)),
            "no warning with {text:?}: {warnings:?}"
        );
    };

    // Not strict: keepalived's answers to other priorities, as written.
    let (config, warnings) = load(&instance(
        "priority 100\n  lower_prio_no_advert\n  higher_prio_send_advert on\n  down_timer_adverts 5",
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    let i = &config.instances[0];
    assert!(!i.strict && i.lower_prio_no_advert && i.higher_prio_send_advert);
    assert_eq!(i.down_timer_adverts, 5);
    let (config, _) = load(&format!(
        "global_defs {{\n  vrrp_lower_prio_no_advert\n  vrrp_higher_prio_send_advert\n  \
         vrrp_down_timer_adverts 2\n}}\n{}",
        instance("priority 100")
    ));
    let i = &config.instances[0];
    assert!(i.lower_prio_no_advert && i.higher_prio_send_advert);
    assert_eq!(i.down_timer_adverts, 2);

    // Strict: the RFC's behaviour, each written departure reset with a warning.
    let (config, warnings) = load(&strict(instance(
        "state MASTER\n  priority 100\n  preempt_delay 5\n  lower_prio_no_advert off\n  \
         higher_prio_send_advert\n  down_timer_adverts 5\n  \
         authentication {\n    auth_type PASS\n    auth_pass secret\n  }",
    )));
    let i = &config.instances[0];
    assert!(i.strict);
    assert_eq!(i.state, vip_config::InitialState::Backup);
    assert_eq!(i.preempt_delay_ms, 0);
    assert!(i.lower_prio_no_advert && !i.higher_prio_send_advert);
    assert_eq!(i.down_timer_adverts, 3);
    assert_eq!(i.auth_pass, None);
    warned(&warnings, "state MASTER must match being the address owner");
    warned(&warnings, "preempt_delay does not work with vrrp_strict");
    warned(&warnings, "vrrp_strict requires lower_prio_no_advert on");
    warned(
        &warnings,
        "vrrp_strict requires higher_prio_send_advert off",
    );
    warned(&warnings, "vrrp_strict requires down_timer_adverts 3");
    warned(&warnings, "vrrp_strict allows no authentication");
    // Unwritten, strict mode sets them without a word.
    let (config, warnings) = load(&strict(instance("priority 100")));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.instances[0].lower_prio_no_advert);

    // strict_mode: the same for one instance, or off for one.
    let (config, _) = load(&instance("strict_mode\n  priority 100"));
    assert!(config.instances[0].strict && !config.instances[0].accepts_traffic());
    let (config, _) = load(&strict(instance("strict_mode off\n  priority 100")));
    assert!(!config.instances[0].strict && config.instances[0].accepts_traffic());

    // Refused: unicast peers, and an instance without virtual addresses.
    let errors = load_str(
        &strict(instance("unicast_peer {\n    10.0.0.2\n  }")),
        "test.conf",
        LoadOptions::default(),
    )
    .expect_err("unicast accepted under vrrp_strict");
    assert!(
        errors.iter().any(|e| e
            .to_string()
            .starts_with("test.conf:8:5: vrrp_instance VI_1: vrrp_strict allows no unicast peers")),
        "{errors:?}"
    );
    let bare = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n}\n";
    let errors = load_str(
        &strict(bare.to_string()),
        "test.conf",
        LoadOptions::default(),
    )
    .expect_err("no VIP accepted under vrrp_strict");
    assert!(
        errors.iter().any(|e| e
            .to_string()
            .contains("at least one is required with vrrp_strict")),
        "{errors:?}"
    );
    // VRRPv3 needs one too, strict or not; VRRPv2 only warns. An empty
    // block is none (found by fuzzing: the printed form, without the
    // block, did not load back).
    let v3 = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  version 3\n}\n";
    assert!(load_str(v3, "test.conf", LoadOptions::default()).is_err());
    let v3_empty = v3.replace("version 3\n", "version 3\n  virtual_ipaddress {\n  }\n");
    assert!(load_str(&v3_empty, "test.conf", LoadOptions::default()).is_err());
    let (_, warnings) = load(&bare.replace("id 1\n", "id 1\n  virtual_ipaddress {\n  }\n"));
    warned(&warnings, "has no virtual_ipaddress");
    let (_, warnings) = load(bare);
    warned(&warnings, "has no virtual_ipaddress");

    // IPv6: the first VIP should be link-local (a warning, as in keepalived).
    let v6 = "vrrp_instance VI_6 {\n  interface eth0\n  virtual_router_id 1\n  \
              virtual_ipaddress {\n    2001:db8::10/64\n  }\n}\n";
    let (_, warnings) = load(&strict(v6.to_string()));
    warned(
        &warnings,
        "the first IPv6 virtual address should be link-local",
    );
}

#[test]
fn state_and_priority_are_derived_from_each_other_as_keepalived_does() {
    let instance = |lines: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 1\n  {lines}\n  \
             virtual_ipaddress {{\n    10.0.0.10/24\n  }}\n}}\n"
        )
    };
    let read = |lines: &str| {
        let (config, _) = load(&instance(lines));
        (config.instances[0].state, config.instances[0].priority)
    };
    use vip_config::InitialState::{Backup, Master};
    assert_eq!(read("state MASTER"), (Master, 255));
    assert_eq!(read("priority 255"), (Master, 255));
    assert_eq!(read("state BACKUP"), (Backup, 100));
    assert_eq!(read(""), (Backup, 100));
    assert_eq!(read("state MASTER\n  priority 150"), (Master, 150));
    assert_eq!(read("state BACKUP\n  priority 255"), (Backup, 255));
}
