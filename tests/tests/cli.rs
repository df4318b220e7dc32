//! The `weft` binary: `check` with readable errors and exit codes, `invoke` against the Sekorm
//! simulator, with the token reused across processes.

use serde_json::{Value, json};
use weft_tests::harness::{Deployment, component};
use weft_tests::sekorm::Sekorm;

fn weft(dep: &Deployment, args: &[&str]) -> std::process::Output {
    weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(args)
        .env_remove("WEFT_LOG")
        .output()
        .expect("weft runs")
}

fn sekorm_manifest(dep: &Deployment, sim: &Sekorm) -> String {
    format!(
        r#"
name = "sekorm"
component = "{}"
base_url = "{}"

[secrets]
account = "{}"
app_secret = "{}"

[token]
min_fetch_interval = "0s"
"#,
        component("weft-sekorm").display(),
        sim.base_url(),
        dep.secret("account", "cli-account"),
        dep.secret("secret", "cli-secret"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_runs_an_operation_and_a_second_process_reuses_the_token() {
    let sim = Sekorm::start("cli-account", "cli-secret").await;
    let dep = Deployment::new();
    dep.manifest("sekorm", &sekorm_manifest(&dep, &sim));
    let input = json!({ "items": [
        { "pnCode": "ABCDE", "brandName": "AMS", "stockQuantity": 1000 },
        { "pnCode": "X+/=", "brandName": "AMS", "stockQuantity": 0 },
    ]})
    .to_string();
    let dep_ref = &dep;
    let out =
        tokio::task::block_in_place(|| weft(dep_ref, &["invoke", "sekorm", "full-sync", &input]));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(answer["items"], 2);
    let out =
        tokio::task::block_in_place(|| weft(dep_ref, &["invoke", "sekorm", "full-sync", &input]));
    assert!(out.status.success());
    assert_eq!(
        sim.token_requests(),
        1,
        "the second process reused the persisted token"
    );
    assert_eq!(sim.ledger(|l| l.full_sync_batches.clone()), vec![2, 2]);

    let out = tokio::task::block_in_place(|| {
        weft(
            dep_ref,
            &[
                "invoke",
                "sekorm",
                "update-quantity",
                r#"{"pnCode":"A","brandName":"AMS","stockQuantity":"many"}"#,
            ],
        )
    });
    assert_eq!(out.status.code(), Some(10), "invalid input exits 10");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stockQuantity: expected an integer"),
        "{stderr}"
    );
}

#[test]
fn check_passes_good_manifests_and_names_file_key_and_expectation_otherwise() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let out = weft(&dep, &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok      probe"));

    let broken = dep.manifest(
        "broken",
        &format!(
            "name = \"broken\"\ncomponent = \"{}\"\n\n[limits]\nmemory = \"lots\"\n",
            component("weft-probe").display()
        ),
    );
    let out = weft(&dep, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "{}: limits.memory: expected a size such as \"64MiB\", found \"lots\"",
        broken.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");

    std::fs::write(&broken, "name = \"broken\"\ncomponent = \"missing.wasm\"\n").expect("rewrite");
    let out = weft(&dep, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.toml: component: cannot read"),
        "{stdout}"
    );

    std::fs::write(
        &broken,
        format!(
            "name = \"broken\"\ncomponent = \"{}\"\n",
            dep.manifests().join("broken.toml").display()
        ),
    )
    .expect("rewrite");
    let out = weft(&dep, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.toml: component:") && stdout.contains("not a valid component"),
        "{stdout}"
    );
}

#[test]
fn check_refuses_an_adapter_whose_secrets_are_not_configured() {
    let dep = Deployment::new();
    let file = dep.manifest(
        "sekorm",
        &format!("name = \"sekorm\"\ncomponent = \"{}\"\nbase_url = \"https://wwww.sekorm.com/serviceGate\"\n", component("weft-sekorm").display()),
    );
    let out = weft(&dep, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "{}: secrets: adapter sekorm 0.1.0 needs secret \"account\"",
        file.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");
}

#[test]
fn the_shipped_manifests_pass_check() {
    let dep = Deployment::new();
    let out = weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(weft_tests::harness::workspace().join("manifests"))
        .arg("--data")
        .arg(dep.data())
        .arg("check")
        .env(
            "WEFT_PLUGIN_DIR",
            component("weft-sekorm").parent().expect("folder"),
        )
        .env("SEKORM_ACCOUNT", "acct")
        .env("SEKORM_APP_SECRET", "secret")
        .env("LENOVO_CLIENT_ID", "id")
        .env("LENOVO_CLIENT_SECRET", "secret")
        .env("LENOVO_TEST_CLIENT_ID", "id")
        .env("LENOVO_TEST_CLIENT_SECRET", "secret")
        .env("SC8_ACCESS_KEY", "key")
        .env("SC8_SECRET_KEY", "secret")
        .env("HVS_SYSTEM_KEY", "system")
        .env("HVS_SYSTEM_PASSWORD", "password")
        .env("HVS_USER_NAME", "user")
        .env("FXIAOKE_CRM_TOKEN", "crm")
        .env("FXIAOKE_PUSH_TOKEN", "push")
        .output()
        .expect("weft check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "sekorm",
        "lenovo-test",
        "lenovo-prod",
        "supercarrier8",
        "hugevision",
        "fxiaoke",
    ] {
        assert!(stdout.contains(&format!("ok      {name} ")), "{stdout}");
    }
}

#[test]
fn a_usage_error_exits_1_apart_from_a_configuration_error_and_help_exits_0() {
    let dep = Deployment::new();
    for args in [
        &["no-such-command"][..],
        &["invoke"],
        &["check", "--no-such-flag"],
    ] {
        let out = weft(&dep, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage:"),
            "{args:?}: {out:?}"
        );
    }
    for args in [&["--help"][..], &["--version"], &["check", "--help"]] {
        let out = weft(&dep, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    // The README's table is the one these codes follow.
    let readme = include_str!("../../README.md");
    assert!(readme.contains("| 1 | — | usage error |"));
    assert!(readme.contains("| 2 | — | configuration error (manifest, store) |"));
}

/// The path of this repository's docs/reference.md.
fn reference_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("reference.md")
}

#[test]
fn the_reference_page_is_what_the_code_defines() {
    let out = weft_tests::harness::weft_command()
        .arg("reference")
        .output()
        .expect("weft runs");
    assert!(out.status.success(), "{out:?}");
    let generated = String::from_utf8(out.stdout).expect("utf8");
    // Every option, its variable, and every manifest key is in it.
    for needle in [
        "`--max-connections MAX_CONNECTIONS`",
        "`WEFT_MAX_CONNECTIONS`",
        "`--server SERVER`",
        "`WEFT_TOKEN`",
        "`limits.concurrency`",
        "`[[routes]].auth.window`",
        "## `weft jobs list`",
        "`--key KEY`",
    ] {
        assert!(
            generated.contains(needle),
            "{needle} missing from: {generated}"
        );
    }
    let written = std::fs::read_to_string(reference_file()).unwrap_or_default();
    assert!(
        written == generated,
        "docs/reference.md differs from what the code defines (an option, variable or manifest \
         key was added, changed or removed without it): run `target/debug/weft reference > \
         docs/reference.md`"
    );
}

#[test]
fn serve_reads_a_config_file_which_flags_and_variables_override_and_prints_it_masked() {
    let dep = Deployment::new();
    let file = dep.manifests().parent().expect("root").join("weft.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9191\"\nmax-connections = 77\nworkers = 3\nmetrics_auth = true\n\
         allowed-host = [\"weft.example\", \"ops.example\"]\n\
         store-key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n",
    )
    .expect("config");
    let print = |extra: &[&str], env: &[(&str, &str)]| {
        let mut command = weft_tests::harness::weft_command();
        command
            .env_remove("WEFT_WORKERS")
            .env_remove("WEFT_MAX_CONNECTIONS")
            .env_remove("WEFT_LISTEN")
            .env_remove("WEFT_STORE_KEY");
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--print-config")
            .args(extra)
            .output()
            .expect("weft runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf8")
    };
    let shown = print(&["--workers", "9"], &[("WEFT_MAX_CONNECTIONS", "55")]);
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} in {shown}"))
            .to_string()
    };
    assert!(
        line("listen").starts_with("listen = \"127.0.0.1:9191\""),
        "{shown}"
    );
    assert!(
        line("workers").starts_with("workers = 9 "),
        "a flag wins: {shown}"
    );
    assert!(
        line("max-connections").contains("= 55 "),
        "a variable wins: {shown}"
    );
    assert!(
        line("metrics-auth").starts_with("metrics-auth = true"),
        "{shown}"
    );
    assert!(line("allowed-host").contains("\"ops.example\""), "{shown}");
    assert!(line("store-key").contains("masked"), "{shown}");
    assert!(
        !shown.contains("00112233445566778899"),
        "the key is never printed: {shown}"
    );
    assert!(line("max-body").contains("the default"), "{shown}");

    // A key that is no setting is refused, naming it, as a configuration error.
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nworkrs = 3\n").expect("config");
    let out = weft_tests::harness::weft_command()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .expect("weft runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("workrs") && err.contains("max-connections"),
        "{err}"
    );
}
