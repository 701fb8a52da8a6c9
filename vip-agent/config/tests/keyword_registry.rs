//! The keyword registry (`vip_config::keywords`) holds:
//! - against keepalived 2.2.7: every keyword keepalived knows in a section
//!   vip-agent reads is in it, carried out or skipped;
//! - against the reader: a keyword listed as carried out is read (never
//!   "not supported", never "unknown"), a skipped one is skipped with the
//!   warning, in the section the registry names;
//! - against `docs/configuration.md`: each keyword carried out is
//!   documented in its section, the doc's list of skipped keywords is the
//!   registry's, and no table documents a keyword the registry does not
//!   carry out.

use std::collections::{BTreeMap, BTreeSet};

use vip_config::{
    keywords::{support, Section, Support, KEYWORDS},
    load_str, Diagnostic, LoadOptions,
};

const INSTANCE: &str = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  \
                        virtual_ipaddress {\n    10.0.0.10/24\n  }\n}\n";

/// A file with `keyword` written alone on a line of `section`.
fn with_keyword(section: Section, keyword: &str) -> String {
    match section {
        Section::TopLevel => format!("{keyword}\n{INSTANCE}"),
        Section::GlobalDefs => format!("global_defs {{\n  {keyword}\n}}\n{INSTANCE}"),
        Section::VrrpInstance => INSTANCE.replace(
            "  interface eth0\n",
            &format!("  interface eth0\n  {keyword}\n"),
        ),
        Section::Authentication => INSTANCE.replace(
            "  interface eth0\n",
            &format!("  interface eth0\n  authentication {{\n    {keyword}\n  }}\n"),
        ),
        Section::VrrpScript => {
            format!("vrrp_script chk {{\n  script /bin/true\n  {keyword}\n}}\n{INSTANCE}")
        }
        Section::TrackFile => {
            format!("track_file tf {{\n  file /tmp/tf\n  {keyword}\n}}\n{INSTANCE}")
        }
        Section::VrrpTrackProcess => {
            format!("vrrp_track_process tp {{\n  process sshd\n  {keyword}\n}}\n{INSTANCE}")
        }
        Section::VrrpSyncGroup => {
            format!("{INSTANCE}vrrp_sync_group G {{\n  group {{\n    VI_1\n  }}\n  {keyword}\n}}\n")
        }
    }
}

fn diagnostics(text: &str) -> Vec<String> {
    let all: Vec<Diagnostic> = match load_str(text, "test.conf", LoadOptions::default()) {
        Ok(loaded) => loaded.warnings,
        Err(diagnostics) => diagnostics,
    };
    all.iter().map(ToString::to_string).collect()
}

fn section_named(name: &str) -> Section {
    *Section::ALL
        .iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("no section {name}"))
}

#[test]
fn every_keyword_keepalived_knows_is_in_the_registry() {
    let text = include_str!("fixtures/keepalived-2.2.7-keywords.txt");
    let mut missing = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (section, name) = line.split_once(' ').expect("SECTION KEYWORD");
        match support(section_named(section), name) {
            Some(Support::Runs { .. } | Support::Skipped) => {}
            other => missing.push(format!("{section} {name}: {other:?}")),
        }
    }
    assert!(missing.is_empty(), "not in the registry: {missing:#?}");
}

#[test]
fn the_reader_carries_out_or_skips_what_the_registry_says() {
    let mut wrong = Vec::new();
    for keyword in KEYWORDS {
        let said = diagnostics(&with_keyword(keyword.section, keyword.name));
        let skipped_warning = format!(
            "'{}' is not supported by vip-agent and is ignored",
            keyword.name
        );
        let unknown = format!("unknown keyword '{}'", keyword.name);
        let skipped = said.iter().any(|d| d.contains(&skipped_warning));
        let not_known = said.iter().any(|d| d.contains(&unknown));
        let expected_skip = keyword.support == Support::Skipped;
        if not_known || skipped != expected_skip {
            wrong.push(format!(
                "{} {} ({:?}): {said:?}",
                keyword.section.name(),
                keyword.name,
                keyword.support
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // A word nobody knows is still called unknown.
    let said = diagnostics(&with_keyword(Section::VrrpInstance, "no_such_keyword"));
    assert!(
        said.iter()
            .any(|d| d.contains("unknown keyword 'no_such_keyword'")),
        "{said:?}"
    );
}

const DOC: &str = include_str!("../../docs/configuration.md");

/// The text of the doc section whose heading names `section`.
fn doc_section(section: Section) -> &'static str {
    let heading = match section {
        Section::TopLevel => return DOC,
        Section::GlobalDefs => "## `global_defs`",
        Section::VrrpInstance | Section::Authentication => "## `vrrp_instance NAME`",
        Section::VrrpScript => "## `vrrp_script NAME`",
        Section::TrackFile => "## `track_file NAME`",
        Section::VrrpTrackProcess => "## `vrrp_track_process NAME`",
        Section::VrrpSyncGroup => "## `vrrp_sync_group NAME`",
    };
    let start = DOC
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading}"));
    let rest = &DOC[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// The code spans (`...`) of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn words(span: &str) -> impl Iterator<Item = &str> {
    span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

#[test]
fn the_configuration_reference_documents_the_registry() {
    // Every keyword carried out, in its own section.
    let mut undocumented = Vec::new();
    for keyword in KEYWORDS.iter().filter(|k| k.support != Support::Skipped) {
        let documented = code_spans(doc_section(keyword.section))
            .iter()
            .any(|span| words(span).any(|w| w == keyword.name));
        if !documented {
            undocumented.push(format!("{} {}", keyword.section.name(), keyword.name));
        }
    }
    assert!(undocumented.is_empty(), "not documented: {undocumented:#?}");

    // The skipped ones: the doc's list is the registry's.
    let heading = "## Skipped keywords";
    let start = DOC.find(heading).expect("a '## Skipped keywords' section");
    let list = &DOC[start..];
    let list = &list[..list[heading.len()..]
        .find("\n## ")
        .map_or(list.len(), |e| e + heading.len())];
    let mut documented: BTreeMap<Section, BTreeSet<&str>> = BTreeMap::new();
    for line in list.lines().filter(|l| l.starts_with("- `")) {
        let spans = code_spans(line);
        let section = section_named(spans[0]);
        documented
            .entry(section)
            .or_default()
            .extend(spans[1..].iter().copied());
    }
    let mut registry: BTreeMap<Section, BTreeSet<&str>> = BTreeMap::new();
    for keyword in KEYWORDS.iter().filter(|k| k.support == Support::Skipped) {
        registry
            .entry(keyword.section)
            .or_default()
            .insert(keyword.name);
    }
    assert_eq!(
        documented, registry,
        "the doc's skipped keywords differ from the registry's"
    );

    // No table row documents a keyword the registry does not carry out.
    let mut rows_for_nothing = Vec::new();
    for section in Section::ALL {
        if section == Section::TopLevel || section == Section::Authentication {
            continue;
        }
        let mut in_keyword_table = false;
        for line in doc_section(section).lines() {
            if line.starts_with("| keyword |") {
                in_keyword_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_keyword_table = false;
                continue;
            }
            if !in_keyword_table || line.starts_with("|---") {
                continue;
            }
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            for span in code_spans(first_cell) {
                let Some(word) = words(span).next() else {
                    continue;
                };
                if !word.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    continue;
                }
                let carried_out = matches!(
                    support(section, word),
                    Some(Support::Runs { .. } | Support::Own { .. })
                ) || (section == Section::VrrpInstance
                    && matches!(
                        support(Section::Authentication, word),
                        Some(Support::Runs { .. })
                    ));
                if !carried_out {
                    rows_for_nothing.push(format!("{}: {word}", section.name()));
                }
            }
        }
    }
    assert!(
        rows_for_nothing.is_empty(),
        "documented but not carried out: {rows_for_nothing:#?}"
    );
}
