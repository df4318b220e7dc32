//! Property tests (the fuzzing that fits a stable toolchain) of the manifest parser and of
//! `${VAR}` interpolation: arbitrary text and mutated manifests never panic, every error names
//! the file, and interpolation is exact where it must be.

use proptest::prelude::*;
use std::path::Path;

const VALID: &str = r#"
name = "sekorm"
component = "../plugins/sekorm.wasm"
base_url = "${BASE:-https://wwww.sekorm.com/serviceGate}"
allowed_hosts = ["base_url", "*.example.com"]

[secrets]
account = "env:ACCOUNT"

[token]
refresh_window = "10%"
min_fetch_interval = "10s"

[limits]
memory = "64MiB"
timeout = "60s"
concurrency = 8
queue = 16
rate = "10/s"

[retry]
max_attempts = 3

[[schedules]]
name = "daily"
cron = "50 23 * * *"
utc_offset = "+08:00"

[[routes]]
name = "create"
method = "POST"
path = "/erp/create"
auth = { type = "header", header = "token", secret = "account" }

[config]
chunk_size = 500
"#;

fn env(name: &str) -> Option<String> {
    (name == "ACCOUNT").then(|| "acct".to_string())
}

fn parse(text: &str) -> Result<(), String> {
    weft::manifest::parse(Path::new("manifests/fuzz.toml"), text, &env)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn the_seed_manifest_is_valid() {
    parse(VALID).expect("the seed parses");
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_errors_name_the_file(text in ".{0,400}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.starts_with("manifests/fuzz.toml"), "{}", e);
        }
    }

    #[test]
    fn mutated_manifests_never_panic(
        cut in 0usize..VALID.len(),
        len in 0usize..40,
        insert in "[ -~\\n]{0,20}",
    ) {
        let mut text = VALID.to_string();
        let start = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, &insert);
        if let Err(e) = parse(&text) {
            prop_assert!(e.starts_with("manifests/fuzz.toml"), "{}", e);
        }
    }

    #[test]
    fn interpolation_never_panics_and_leaves_plain_text_alone(text in "\\PC{0,200}") {
        let env = |name: &str| (name == "SET").then(|| "value".to_string());
        let out = weft::manifest::interpolate::interpolate(&text, &env);
        if !text.contains('$') {
            prop_assert_eq!(out, Ok(text));
        }
    }

    #[test]
    fn escaped_dollars_and_defaults_are_exact(prefix in "[a-z ]{0,10}", default in "[a-zA-Z0-9:/._-]{0,20}") {
        let env = |_: &str| None;
        let text = format!("{prefix}$${{literal}}${{UNSET:-{default}}}");
        let out = weft::manifest::interpolate::interpolate(&text, &env);
        prop_assert_eq!(out, Ok(format!("{prefix}${{literal}}{default}")));
    }
}
