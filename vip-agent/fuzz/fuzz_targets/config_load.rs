//! The keepalived.conf reader: lexer, parser, interpreter and resolution, on
//! a file's bytes as they are on disk.
//!
//! Beyond not panicking (on any bytes, in both modes):
//! - strict mode succeeds exactly when the default mode succeeds with no
//!   warning, and then with the same configuration;
//! - what reads without errors prints in keepalived syntax that reads back
//!   to the same configuration, and prints the same again (the property of
//!   `vip-agent/config/tests/roundtrip.rs`);
//! - what `vip-agent config check` shows of it (summary, JSON, diagnostics)
//!   can be written.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vip_agent::config::{check, load_bytes, load_str, Diagnostic, LoadOptions};

const NAME: &str = "fuzz.conf";

fuzz_target!(|input: &[u8]| {
    let relaxed = load_bytes(input, NAME, LoadOptions { strict: false });
    // Strict mode only turns warnings into errors: it fails wherever the
    // default mode does, so only what the default mode reads is tried again.
    if let Ok(relaxed) = &relaxed {
        match load_bytes(input, NAME, LoadOptions { strict: true }) {
            Ok(strict) => {
                assert!(
                    relaxed.warnings.is_empty(),
                    "strict mode passed what has warnings: {:?}",
                    relaxed.warnings
                );
                assert!(strict.warnings.is_empty(), "{:?}", strict.warnings);
                assert_eq!(strict.config, relaxed.config);
            }
            Err(errors) => assert!(
                !relaxed.warnings.is_empty(),
                "strict mode failed on what has no warning: {errors:?}"
            ),
        }
    }
    match relaxed {
        Ok(loaded) => {
            show(&loaded.warnings);
            let _ = check::summary(Path::new(NAME), &loaded.config, loaded.warnings.len());
            let _ = serde_json::to_string(&loaded.config);
            let printed = loaded.config.to_keepalived_string();
            let again = load_str(&printed, "printed.conf", LoadOptions::default())
                .unwrap_or_else(|errors| panic!("{printed}\n{errors:#?}"));
            assert_eq!(again.config, loaded.config, "{printed}");
            assert_eq!(again.config.to_keepalived_string(), printed);
        }
        Err(errors) => {
            assert!(
                errors.iter().any(Diagnostic::is_error),
                "failed without an error: {errors:?}"
            );
            show(&errors);
        }
    }
});

fn show(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        let _ = diagnostic.with_severity();
    }
}
