//! A corpus of broken configurations: each must fail with the listed
//! diagnostics at the listed places, all of them reported in one run.

use std::path::{Path, PathBuf};

use vip_config::{load, load_bytes, Diagnostic, LoadOptions, Severity};

fn broken(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(name)
}

fn errors_of(name: &str, strict: bool) -> Vec<Diagnostic> {
    let path = broken(name);
    match load(&path, LoadOptions { strict }) {
        Ok(loaded) => panic!("{name} was accepted: {:#?}", loaded.config),
        Err(diagnostics) => diagnostics,
    }
}

/// Asserts that every (line, col, fragment) is an error of `name`, and that
/// there are no other errors.
fn expect(name: &str, strict: bool, expected: &[(u32, u32, &str)]) {
    let diagnostics = errors_of(name, strict);
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .collect();
    let listing: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for (line, col, fragment) in expected {
        assert!(
            errors.iter().any(|error| error.line == *line
                && error.col == *col
                && error.message.contains(fragment)),
            "{name}: expected {line}:{col}: ...{fragment}... among\n{}",
            listing.join("\n")
        );
    }
    assert_eq!(
        errors.len(),
        expected.len(),
        "{name}: unexpected errors:\n{}",
        listing.join("\n")
    );
    let file = broken(name).display().to_string();
    for error in &errors {
        assert!(
            error.to_string().starts_with(&format!("{file}:")),
            "{error}"
        );
    }
}

#[test]
fn missing_interface_and_vrid() {
    expect(
        "missing_interface_and_vrid.conf",
        false,
        &[
            (1, 15, "has no 'interface'"),
            (1, 15, "has no 'virtual_router_id'"),
        ],
    );
}

#[test]
fn duplicate_vrid_on_one_interface_and_family() {
    // VI_3 has the same VRID on the same interface, but it is IPv6: no clash.
    expect(
        "duplicate_vrid.conf",
        false,
        &[(
            10,
            23,
            "virtual_router_id 51 is already used by vrrp_instance VI_1 on eth0 (IPv4)",
        )],
    );
}

#[test]
fn vip_equal_to_a_peer() {
    expect(
        "vip_is_peer.conf",
        false,
        &[(10, 9, "virtual address 10.0.0.3 is also a unicast peer")],
    );
}

#[test]
fn address_owner_with_weighted_trackers() {
    expect(
        "owner_with_trackers.conf",
        false,
        &[
            (10, 9, "weight of tracked eth1"),
            (13, 9, "weight of tracked chk_web"),
        ],
    );
}

#[test]
fn vip_families_mixed() {
    expect(
        "family_mixing.conf",
        false,
        &[(
            6,
            9,
            "2001:db8::1 is an IPv6 address but the instance is IPv4",
        )],
    );
}

#[test]
fn unknown_script_and_instance_references() {
    expect(
        "unknown_references.conf",
        false,
        &[
            (5, 9, "there is no vrrp_script chk_missing"),
            (14, 9, "there is no vrrp_instance VI_9"),
        ],
    );
}

#[test]
fn ah_authentication_is_refused() {
    expect(
        "auth_ah.conf",
        false,
        &[(
            5,
            19,
            "auth_type AH (IPsec authentication header) is not supported",
        )],
    );
}

#[test]
fn every_bad_value_is_reported() {
    expect(
        "bad_values.conf",
        false,
        &[
            (2, 18, "vrrp_version: 4 is outside the range 2..3"),
            (3, 23, "'10.0.0.1' is not an IPv4 multicast address"),
            (6, 11, "'STANDBY' is neither MASTER nor BACKUP"),
            (8, 23, "virtual_router_id: 256 is outside the range 1..255"),
            (9, 14, "priority: 0 is outside the range 1..255"),
            (10, 16, "'fast' is not a number of seconds"),
            (12, 9, "'10.0.0.300' is not an IP address"),
            (13, 9, "'33' is not a prefix length"),
        ],
    );
}

#[test]
fn vrrp3_advert_int_range() {
    expect(
        "advert_int_out_of_range.conf",
        false,
        &[(
            5,
            16,
            "advert_int must be between 0.01 and 40.95 s for VRRPv3",
        )],
    );
}

#[test]
fn unclosed_block() {
    expect(
        "unclosed_block.conf",
        false,
        &[(1, 20, "this '{' is never closed")],
    );
}

#[test]
fn stray_closing_brace() {
    expect(
        "stray_brace.conf",
        false,
        &[(4, 1, "unexpected '}' with no open block")],
    );
}

#[test]
fn conditional_lines_are_refused() {
    expect(
        "conditional_line.conf",
        false,
        &[(
            4,
            1,
            "conditional configuration lines ('@ID ...') are not supported",
        )],
    );
}

#[test]
fn unterminated_quote() {
    expect(
        "unterminated_quote.conf",
        false,
        &[(2, 12, "unterminated quote")],
    );
}

#[test]
fn missing_include_is_a_warning_and_strict_makes_it_an_error() {
    let loaded = load(&broken("missing_include.conf"), LoadOptions::default())
        .expect("plain include tolerates a missing file");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    expect(
        "missing_include.conf",
        true,
        &[(1, 9, "include does-not-exist.conf matches no file")],
    );
}

#[test]
fn include_loop() {
    let diagnostics = errors_of("include_loop.conf", false);
    assert!(
        diagnostics.iter().any(|d| d.is_error()
            && d.line == 1
            && d.col == 9
            && d.message.contains("includes itself")),
        "{diagnostics:?}"
    );
}

#[test]
fn ignored_and_unknown_keywords_fail_only_with_strict() {
    let loaded = load(
        &broken("ignored_keywords_strict.conf"),
        LoadOptions::default(),
    )
    .expect("warnings only");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    expect(
        "ignored_keywords_strict.conf",
        true,
        &[
            (1, 1, "'virtual_server' is not supported by vip-agent and is ignored (its block is skipped)"),
            (9, 5, "'use_ipvlan' is not supported by vip-agent and is ignored"),
            (10, 5, "unknown keyword 'frobnicate' is ignored"),
        ],
    );
}

#[test]
fn duplicate_names() {
    expect(
        "duplicate_names.conf",
        false,
        &[
            (4, 13, "vrrp_script chk is defined twice"),
            (14, 15, "vrrp_instance VI_1 is defined twice"),
        ],
    );
}

#[test]
fn sections_without_blocks() {
    expect(
        "missing_block.conf",
        false,
        &[
            (1, 1, "'vrrp_instance' needs a block"),
            (2, 1, "'vrrp_script' needs a name"),
            (2, 1, "'vrrp_script' needs a block"),
        ],
    );
}

#[test]
fn every_fixture_has_a_test() {
    let source = include_str!("broken.rs");
    for entry in std::fs::read_dir(broken("")).expect("broken fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name} has no test"
        );
    }
}

#[test]
fn a_file_without_instances_is_an_error_for_every_command() {
    // check-config, run and reload all load through here.
    expect(
        "no_instance.conf",
        false,
        &[(0, 0, "no vrrp_instance is configured")],
    );
}

#[test]
fn a_vip_in_two_instances_is_a_warning_and_strict_makes_it_an_error() {
    let loaded =
        load(&broken("vip_in_two_instances.conf"), LoadOptions::default()).expect("a warning only");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let first = format!("{}:5", broken("vip_in_two_instances.conf").display());
    expect(
        "vip_in_two_instances.conf",
        true,
        &[(
            13,
            9,
            &format!("10.0.0.1 is also in vrrp_instance VI_1 ({first})"),
        )],
    );
}

#[test]
fn bytes_that_are_not_utf8_are_accepted_in_comments_only() {
    let loaded = load(
        &broken("latin1_comments.conf"),
        LoadOptions { strict: true },
    )
    .expect("Latin-1 in comments is accepted");
    assert_eq!(loaded.config.instances[0].interface, "eth0");
    expect(
        "latin1_outside_comment.conf",
        false,
        &[(2, 15, "byte 0xe9 is not UTF-8")],
    );
}

#[test]
fn file_contents_read_from_memory_as_from_disk() {
    for name in ["latin1_comments.conf", "latin1_outside_comment.conf"] {
        let path = broken(name);
        let bytes = std::fs::read(&path).unwrap();
        let shown = path.display().to_string();
        assert_eq!(
            load_bytes(&bytes, &shown, LoadOptions::default()),
            load(&path, LoadOptions::default()),
            "{name}"
        );
    }
}

/// Route and rule lines keepalived refuses (or would drop while running
/// on): each is an error at the word that makes it wrong.
#[test]
fn routes_and_rules() {
    expect(
        "routes_and_rules.conf",
        false,
        &[
            (
                8,
                45,
                "unknown route keyword 'proto' (the keyword is 'protocol')",
            ),
            (9, 26, "only supported for IPv6 routes"),
            (10, 9, "10.3.2.1/16 has host bits set"),
            (11, 25, "cannot mix IPv4 and IPv6"),
            (12, 9, "a route needs a destination"),
            (13, 30, "'encap'"),
            (14, 30, "unknown route keyword 'track_group'"),
            (15, 36, "'nosuchtable' is neither a number"),
            (16, 60, "'metric' after the nexthops"),
            (17, 30, "'mtu' needs a value"),
            (20, 9, "a rule needs an action"),
            (21, 9, "goto 100 needs a preference"),
            (22, 41, "not a port range START-END"),
            (23, 35, "'realms' needs a table action"),
            (24, 35, "only one of table/lookup"),
            (25, 30, "'unicast' is not a rule action"),
            (26, 28, "a rule cannot mix IPv4 and IPv6"),
            (30, 25, "table 0 is not valid"),
            (31, 35, "unknown rule option 'sometimes'"),
        ],
    );
}
