//! The adapter kit: `weft new adapter` makes exactly the adapter committed as `plugins/acme`
//! (which `make lint` and `make test` build, lint and run — so a fresh scaffold is proven to
//! build and pass), every adapter's fixtures pass under `weft test`, and a fixture the adapter
//! does not meet fails, naming the exchange and what differed.

use std::path::Path;
use weft_tests::harness::{component, weft_command, workspace};

/// Runs `weft test --component COMPONENT FIXTURES` with `command`, which must pass: its report.
fn weft_test_passes(
    mut command: std::process::Command,
    component: &Path,
    fixtures: &Path,
) -> String {
    let out = command
        .args(["test", "--component"])
        .arg(component)
        .arg(fixtures)
        .output()
        .expect("weft runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn weft_in(dir: &Path, args: &[&str]) -> std::process::Output {
    weft_command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("weft runs")
}

#[test]
fn weft_new_makes_the_committed_acme_adapter_in_each_language() {
    for lang in ["rust", "typescript", "python"] {
        scaffold_is_committed(lang);
    }
}

/// `weft new adapter acme --lang LANG` makes exactly the committed acme of that language, and
/// its manifest passes `weft check` against the built component.
fn scaffold_is_committed(lang: &str) {
    let scratch = tempfile::tempdir().expect("scratch");
    let out = weft_in(scratch.path(), &["new", "adapter", "acme", "--lang", lang]);
    assert!(
        out.status.success(),
        "{lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("wrote ").map(str::to_string))
        .collect();
    assert!(made.len() >= 5, "{lang}: {made:?}");
    for path in &made {
        let fresh = std::fs::read_to_string(scratch.path().join(path)).expect("made");
        if path.starts_with("manifests/") {
            // The example's manifest is not committed among the production manifests (a
            // deployment serving manifests/ would fail its /readyz on it); it must pass check,
            // which loads the component it names.
            let out = weft_tests::harness::weft_command()
                .arg("--manifests")
                .arg(scratch.path().join("manifests"))
                .arg("--data")
                .arg(scratch.path().join("data"))
                .arg("check")
                .env(
                    "WEFT_PLUGIN_DIR",
                    component("weft-acme").parent().expect("folder"),
                )
                .env("ACME_CLIENT_ID", "id")
                .env("ACME_CLIENT_SECRET", "secret")
                .output()
                .expect("weft check");
            assert!(out.status.success(), "{lang}: {path}: {out:?}");
            assert!(!workspace().join(path).exists(), "{path} is committed");
            continue;
        }
        let committed = std::fs::read_to_string(workspace().join(path))
            .unwrap_or_else(|_| panic!("{path} is not committed"));
        assert_eq!(
            fresh, committed,
            "{path}: the scaffold and the committed acme differ (regenerate it with `weft new adapter acme --lang {lang}`)"
        );
    }
    // Nothing is overwritten, and a bad name is refused.
    let again = weft_in(scratch.path(), &["new", "adapter", "acme", "--lang", lang]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let bad = weft_in(
        scratch.path(),
        &["new", "adapter", "Bad_Name", "--lang", lang],
    );
    assert!(!bad.status.success());
}

#[test]
fn every_adapters_fixtures_pass() {
    let root = workspace();
    let mut ran = Vec::new();
    // Rust adapters in plugins/, then the other languages' under plugins/LANGUAGE/.
    for (folder, prefix) in [
        ("plugins", ""),
        ("plugins/typescript", "ts-"),
        ("plugins/python", "py-"),
    ] {
        for entry in std::fs::read_dir(root.join(folder)).expect("plugins") {
            let dir = entry.expect("entry").path();
            let fixtures = dir.join("fixtures");
            if !fixtures.is_dir() {
                continue;
            }
            let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
            let stdout = weft_test_passes(
                weft_command(),
                &component(&format!("weft-{prefix}{name}")),
                &fixtures,
            );
            assert!(stdout.contains(" 0 failed"), "{stdout}");
            ran.push(format!("{prefix}{name}"));
        }
    }
    for port in ["ts-sekorm", "py-sekorm", "ts-acme", "py-acme"] {
        assert!(
            ran.iter().any(|r| r == port),
            "{port}'s fixtures did not run: {ran:?}"
        );
    }
}

#[test]
fn a_fixture_the_adapter_does_not_meet_fails_and_says_why() {
    let root = workspace();
    let scratch = tempfile::tempdir().expect("scratch");
    let good = std::fs::read_to_string(root.join("plugins/acme/fixtures/send-items.toml"))
        .expect("fixture");
    let bad = good.replace("Bearer tok-1", "Bearer tok-9");
    assert_ne!(good, bad);
    std::fs::write(scratch.path().join("bad.toml"), bad).expect("write");
    let out = weft_command()
        .args(["test", "--component"])
        .arg(component("weft-acme"))
        .arg(scratch.path().join("bad.toml"))
        .output()
        .expect("weft runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("exchange 2 (POST /items): header authorization")
            && stdout.contains("was never made"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_replays_and_holds_no_secret_or_token() {
    let sim = weft_tests::sekorm::Sekorm::start("rec-account-7f1", "rec-secret-9c2").await;
    let dep = weft_tests::harness::Deployment::new();
    dep.manifest(
        "sekorm",
        &sim.manifest(&dep, "rec-account-7f1", "rec-secret-9c2", ""),
    );
    let dir = dep.data().join("recorded");
    let out = weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args([
            "invoke",
            "sekorm",
            "full-sync",
            r#"{"items":[{"pnCode":"R-1","brandName":"AMS","stockQuantity":4}]}"#,
            "--record",
        ])
        .arg(&dir)
        .output()
        .expect("weft runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("recorded")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).expect("fixture");
    assert!(text.contains("[redacted]"), "{text}");
    for secret in ["rec-account-7f1", "rec-secret-9c2"] {
        assert!(!text.contains(secret), "{secret} in the fixture:\n{text}");
    }
    let issued = sim.issued_tokens();
    assert!(!issued.is_empty());
    for token in issued {
        assert!(!text.contains(&token), "a token in the fixture:\n{text}");
    }
    let replay = weft_command()
        .args(["test", "--component"])
        .arg(component("weft-sekorm"))
        .arg(&dir)
        .output()
        .expect("weft runs");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
}

/// `weft check` on a shipped manifest (Sekorm's) changed by `edit`: its exit code and output.
fn check_edited_sekorm(edit: impl Fn(&str) -> String) -> (Option<i32>, String) {
    let root = workspace();
    let scratch = tempfile::tempdir().expect("scratch");
    let shipped = std::fs::read_to_string(root.join("manifests/sekorm.toml")).expect("manifest");
    let broken = edit(&shipped);
    assert_ne!(broken, shipped);
    let file = scratch.path().join("sekorm.toml");
    std::fs::write(&file, broken).expect("write");
    let out = weft_command()
        .arg("--data")
        .arg(scratch.path().join("data"))
        .args(["--log", "off", "check"])
        .arg(&file)
        .env(
            "WEFT_PLUGIN_DIR",
            component("weft-sekorm").parent().expect("folder"),
        )
        .env("SEKORM_ACCOUNT", "a")
        .env("SEKORM_APP_SECRET", "b")
        .output()
        .expect("weft runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn weft_check_catches_a_config_typo_and_an_unknown_schedule_in_a_shipped_manifest() {
    let (code, stdout) = check_edited_sekorm(|shipped| {
        shipped
            .replace("\nchunk_size = 500", "\nchunk_sise = 500")
            .replace("name = \"daily-reconcile\"", "name = \"daily-reconcil\"")
    });
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains("config.chunk_sise") && stdout.contains("did you mean \"chunk_size\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("runs no schedule \"daily-reconcil\""),
        "every problem of the file, not only the first: {stdout}"
    );
}

/// A value the adapter's declared bounds or choices refuse fails at `weft check`, naming the
/// key and what it takes, not at the first call; the shipped manifest itself passes.
#[test]
fn weft_check_refuses_a_config_value_out_of_its_declared_range_or_choices() {
    let (code, stdout) = check_edited_sekorm(|shipped| {
        shipped.replace(
            "\nchunk_size = 500",
            "\nchunk_size = 0\ntoken_method = \"PUT\"",
        )
    });
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains("config.chunk_size: expected an integer from 1 to 100000, found 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("config.token_method: expected one of \"GET\", \"POST\", found \"PUT\""),
        "{stdout}"
    );
    let (code, stdout) =
        check_edited_sekorm(|shipped| shipped.replace("chunk_size = 500", "chunk_size = 100000"));
    assert_eq!(code, Some(0), "the range's end is in it: {stdout}");
}

/// `weft test` holds a real suite: twenty cases in one folder, in one run (also in a pool of
/// 16 instance slots, which takes several runtimes); a case that seeds and checks storage; a
/// case of two calls under one call id, the second resuming the first's durable steps; and
/// inbound cases through the route's real HMAC check, signed and forged.
#[test]
fn weft_test_runs_a_real_suite() {
    let scratch = tempfile::tempdir().expect("scratch");
    let dir = scratch.path();
    for i in 0..16 {
        std::fs::write(
            dir.join(format!("echo-{i:02}.toml")),
            format!(
                "operation = \"echo\"\ninput = {{ n = {i} }}\n[expect]\noutput = {{ n = {i} }}\n"
            ),
        )
        .expect("write");
    }
    std::fs::write(
        dir.join("storage.toml"),
        r#"operation = "storage"
input = { key = "watermark", value = "2026-12-07" }

[storage]
seeded = "before"
doc = { n = 1 }

[expect]
output = { read = "2026-12-07" }

[expect.storage]
watermark = "2026-12-07"
seeded = "before"
doc = { n = 1 }
nothing = false
"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("resume.toml"),
        r#"# The first call stops at a 500 on request 2; run again under the same call id, it
# resumes there: request 1 is not sent twice.
exchanges = [
  { method = "POST", path = "/p", query = { n = "1" }, answer = { status = 200, body = "one" } },
  { method = "POST", path = "/p", query = { n = "2" }, answer = { status = 500, body = "down" } },
  { method = "POST", path = "/p", query = { n = "2" }, answer = { status = 200, body = "two" } },
  { method = "POST", path = "/p", query = { n = "3" }, answer = { status = 200, body = "three" } },
]
max_attempts = 1

[[calls]]
operation = "steps"
input = { url = "{base}/p", count = 3 }
call_id = "resume-1"
expect = { error = "transient" }

[[calls]]
operation = "steps"
input = { url = "{base}/p", count = 3 }
call_id = "resume-1"
expect = { output = { answers = ["one", "two", "three"] } }
"#,
    )
    .expect("write");
    for (name, signature, status) in [("signed", "{hmac}", 200), ("forged", "00ff", 401)] {
        std::fs::write(
            dir.join(format!("hook-{name}.toml")),
            format!(
                r#"[inbound]
route = "hook"
path = "/hook"
body = {{ event = "created" }}
headers = {{ "x-signature" = "{signature}", "x-timestamp" = "{{timestamp}}" }}
auth = {{ type = "hmac", header = "x-signature", secret = "hook_key", timestamp_header = "x-timestamp" }}

[secrets]
hook_key = "fixture-hook-key"

[expect]
status = {status}
"#
            ),
        )
        .expect("write");
    }
    let probe = component("weft-probe");
    for pool in [None, Some("16")] {
        let mut command = weft_command();
        if let Some(n) = pool {
            command.args(["--max-instances", n]);
        }
        let stdout = weft_test_passes(command, &probe, dir);
        assert!(stdout.contains("20 passed, 0 failed"), "{stdout}");
    }
}
