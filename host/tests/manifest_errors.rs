//! Snapshot tests of manifest errors: each `manifests/*.toml` here is broken in one way, and the
//! `.err` file beside it holds the exact message Weft must print (file, key, expectation).
//! Run with `UPDATE_SNAPSHOTS=1` to rewrite the `.err` files after a deliberate change.

use std::path::Path;

fn env(name: &str) -> Option<String> {
    match name {
        "WEFT_TEST_SET" => Some("set".into()),
        _ => None,
    }
}

#[test]
fn every_broken_manifest_has_its_exact_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut files = weft::manifest::files_in(&dir).expect("snapshot folder");
    files.sort();
    assert!(files.len() >= 15, "the snapshot folder lost its cases");
    let mut mismatches = Vec::new();
    for file in files {
        let name = file.file_name().expect("file name");
        let shown = Path::new("manifests").join(name);
        let text = std::fs::read_to_string(&file).expect("read case");
        let message = match weft::manifest::parse(&shown, &text, &env) {
            Ok(_) => format!("{}: (no error)", shown.display()),
            Err(e) => e.to_string(),
        };
        let expected_file = file.with_extension("err");
        if update {
            std::fs::write(&expected_file, format!("{message}\n")).expect("write snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        if expected.trim_end() != message {
            mismatches.push(format!(
                "{}:\n  expected: {}\n  actual:   {message}",
                shown.display(),
                expected.trim_end()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "manifest error messages changed:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn a_valid_manifest_is_typed_once() {
    let text = r#"
name = "sekorm"
component = "../plugins/sekorm.wasm"
base_url = "${WEFT_TEST_UNSET:-https://wwww.sekorm.com/serviceGate}"

[secrets]
account = "env:WEFT_TEST_SET"

[token]
refresh_window = "10%"
min_fetch_interval = "60s"

[limits]
memory = "32MiB"
cpu_time = "2s"

[[schedules]]
name = "daily-reconcile"
cron = "50 23 * * *"
utc_offset = "+08:00"

[config]
chunk_size = 200
"#;
    let m = weft::manifest::parse(Path::new("manifests/sekorm.toml"), text, &env).expect("valid");
    assert_eq!(m.name, "sekorm");
    assert_eq!(m.component, Path::new("manifests/../plugins/sekorm.wasm"));
    assert_eq!(m.limits.memory.bytes(), 32 * 1024 * 1024);
    assert_eq!(m.token.min_fetch_interval.get().as_secs(), 60);
    assert_eq!(m.config["chunk_size"], 200);
    assert_eq!(m.config["base_url"], "https://wwww.sekorm.com/serviceGate");
    assert_eq!(format!("{:?}", m.secrets["account"]), "[redacted]");
    assert!(
        m.allowed_hosts
            .check(&url::Url::parse("https://wwww.sekorm.com/x").expect("url"))
            .is_ok()
    );
    assert!(
        m.allowed_hosts
            .check(&url::Url::parse("http://wwww.sekorm.com/x").expect("url"))
            .is_err()
    );
}

#[test]
fn base_url_in_allowed_hosts_follows_the_base_url() {
    let text = "name = \"x\"\ncomponent = \"x.wasm\"\nbase_url = \"http://127.0.0.1:9000/api\"\nallowed_hosts = [\"base_url\", \"auth.example.com\"]\n";
    let m = weft::manifest::parse(Path::new("manifests/x.toml"), text, &env).expect("valid");
    assert!(
        m.allowed_hosts
            .check(&url::Url::parse("http://127.0.0.1:9000/api/x").expect("url"))
            .is_ok()
    );
    assert!(
        m.allowed_hosts
            .check(&url::Url::parse("http://127.0.0.1:9001/").expect("url"))
            .is_err()
    );
    assert!(
        m.allowed_hosts
            .check(&url::Url::parse("https://auth.example.com/token").expect("url"))
            .is_ok()
    );
    let e = weft::manifest::parse(
        Path::new("manifests/x.toml"),
        "name = \"x\"\ncomponent = \"x.wasm\"\nallowed_hosts = [\"base_url\"]\n",
        &env,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "manifests/x.toml: allowed_hosts[0]: \"base_url\" needs a base_url in the manifest"
    );
}
