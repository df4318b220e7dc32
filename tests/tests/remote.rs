//! The CLI as a client of a running `weft serve` with tokens on: every read and action goes
//! through the API with the token's scopes, refusals exit with their kind's code, JSON output
//! parses, tables are for people, and health commands exit 3 when something needs an operator.

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually};

/// Runs `weft --server URL ARGS…` with the token in `token_file` (or none): exit code, stdout,
/// stderr.
fn cli(url: &str, token_file: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut command = weft_tests::harness::weft_command();
    command.arg("--server").arg(url).env_remove("WEFT_TOKEN");
    if let Some(file) = token_file {
        command.arg("--token-file").arg(file);
    }
    let out = command.args(args).output().expect("weft runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`cli`] with `--output json`, its stdout parsed; fails unless it exits 0.
fn json_of(url: &str, token: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let (code, out, err) = cli(url, Some(token), &all);
    assert_eq!(code, 0, "weft {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("weft {args:?} prints JSON: {e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_operates_a_running_weft_through_its_api_with_the_tokens_scopes() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[retry]\nmax_attempts = 1\n[[schedules]]\nname = \"tick\"\nevery = \"1s\"\n",
            component("weft-probe").display()
        ),
    );
    let log = dep.manifests().parent().expect("root").join("serve.log");
    let served = Served::start_secure(&dep, &[], "info", &log);
    let url = served.url.as_str();
    let admin = dep.data().join("admin-token");
    let token = std::fs::read_to_string(&admin).expect("admin token");
    let c = reqwest::Client::new();

    // A job that dies, enqueued with an Idempotency-Key.
    let answer = c
        .post(format!("{url}/v1/adapters/probe/ops/panic?mode=async"))
        .bearer_auth(token.trim())
        .header("Idempotency-Key", "order-42")
        .json(&json!({}))
        .send()
        .await
        .expect("enqueue");
    assert_eq!(answer.status(), 202);

    // Adapters: listed, all loaded, exit 0.
    let adapters = json_of(url, &admin, &["adapters"]);
    assert_eq!(adapters[0]["name"], "probe");
    assert_eq!(adapters[0]["status"], "ready");

    // Found by its Idempotency-Key once it is dead.
    let job = eventually(Duration::from_secs(30), || async {
        let found = json_of(url, &admin, &["jobs", "list", "--key", "order-42"]);
        (found[0]["state"] == "dead").then(|| found[0].clone())
    })
    .await
    .expect("the job dies and is found by its key");
    let id = job["id"].as_str().expect("id").to_string();
    let none = json_of(url, &admin, &["jobs", "list", "--key", "order-43"]);
    assert_eq!(none, json!([]), "another key finds nothing");
    let since = json_of(
        url,
        &admin,
        &["jobs", "list", "--op", "panic", "--since", "1h"],
    );
    assert_eq!(since[0]["id"], id.as_str(), "by operation and time range");
    let later = json_of(url, &admin, &["jobs", "list", "--until", "2h"]);
    assert!(
        later.as_array().expect("list").is_empty(),
        "nothing was created two hours ago: {later}"
    );

    // Health: a dead job is something an operator must hear about.
    let (code, out, _) = cli(url, Some(&admin), &["status", "--output", "json"]);
    assert_eq!(code, 3, "status exits 3 with a dead job: {out}");
    let status: Value = serde_json::from_str(&out).expect("status JSON");
    assert_eq!(status["ready"], true);
    assert_eq!(status["dead_jobs"], 1);

    // Retried through the API: the job runs again (and dies again: one more attempt).
    let (code, out, err) = cli(url, Some(&admin), &["jobs", "retry", &id]);
    assert_eq!(code, 0, "{out}{err}");
    eventually(Duration::from_secs(30), || async {
        let shown = json_of(url, &admin, &["jobs", "show", &id]);
        (shown["state"] == "dead" && shown["attempt"].as_u64() >= Some(2)).then_some(())
    })
    .await
    .expect("the retried job ran a second attempt");

    // The schedule ran, is paused, and stops running: its count of ticks stands still.
    let ticks = |v: &Value| v["json"].as_u64();
    eventually(Duration::from_secs(30), || async {
        let shown = json_of(url, &admin, &["schedules", "show", "probe", "tick"]);
        let runs = shown["runs"].as_array().cloned().unwrap_or_default();
        (runs.len() >= 2).then_some(())
    })
    .await
    .expect("the schedule's runs are kept");
    let (code, _, err) = cli(url, Some(&admin), &["schedules", "pause", "probe", "tick"]);
    assert_eq!(code, 0, "{err}");
    let listed = json_of(url, &admin, &["schedules"]);
    assert_eq!(listed[0]["paused"], true, "{listed}");
    let shown = json_of(url, &admin, &["schedules", "show", "probe", "tick"]);
    for run in shown["runs"].as_array().expect("runs") {
        assert_eq!(run["outcome"], "succeeded", "{run}");
        assert_eq!(run["manual"], false, "{run}");
        assert!(run["job"].as_str().is_some_and(|j| !j.is_empty()), "{run}");
        assert!(run["duration_ms"].as_u64().is_some(), "{run}");
    }
    // A tick queued or running when the pause landed may still finish: read once none is.
    let tick_jobs = |state: &str| {
        json_of(
            url,
            &admin,
            &["jobs", "list", "--op", "schedule:tick", "--state", state],
        )
        .as_array()
        .map_or(0, Vec::len)
    };
    eventually(Duration::from_secs(30), || async {
        (tick_jobs("queued") + tick_jobs("running") == 0).then_some(())
    })
    .await
    .expect("the last tick before the pause ends");
    let made = tick_jobs("succeeded");
    let before = ticks(&json_of(url, &admin, &["storage", "get", "probe", "ticks"]));
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let after = ticks(&json_of(url, &admin, &["storage", "get", "probe", "ticks"]));
    assert!(before.is_some(), "the probe counted its ticks");
    assert_eq!(before, after, "no tick runs while the schedule is paused");
    assert_eq!(
        tick_jobs("succeeded"),
        made,
        "no tick job is made while it is paused"
    );
    assert_eq!(tick_jobs("queued"), 0);

    // Storage: listed, read, deleted; gone after.
    let keys = json_of(url, &admin, &["storage", "list", "probe"]);
    assert!(
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k == "ticks"),
        "{keys}"
    );
    let (code, _, err) = cli(url, Some(&admin), &["storage", "delete", "probe", "ticks"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(url, Some(&admin), &["storage", "get", "probe", "ticks"]);
    assert_eq!(code, 19, "a deleted key is not found: {err}");

    // A read token, made through the API: it reads, and every action is refused (403, 16).
    let (code, read, err) = cli(
        url,
        Some(&admin),
        &["tokens", "create", "--name", "dashboard", "--scope", "read"],
    );
    assert_eq!(code, 0, "{err}");
    let read_file = dep.data().join("read-token");
    std::fs::write(&read_file, read.trim()).expect("token file");
    let listed = json_of(url, &read_file, &["jobs", "list", "--key", "order-42"]);
    assert_eq!(listed[0]["id"], id.as_str(), "a read token finds jobs");
    for action in [
        vec!["jobs", "retry", id.as_str()],
        vec!["jobs", "cancel", id.as_str()],
        vec!["schedules", "resume", "probe", "tick"],
        vec!["pause", "probe"],
        vec!["storage", "list", "probe"],
        vec!["tokens", "list"],
        vec!["reload"],
    ] {
        let (code, _, err) = cli(url, Some(&read_file), &action);
        assert_eq!(code, 16, "{action:?} with a read token: {err}");
        assert!(err.contains("403"), "{action:?}: {err}");
    }
    // No token at all: 401, exit 13, and the way to give one.
    let (code, _, err) = cli(url, None, &["jobs", "list"]);
    assert_eq!(code, 13, "{err}");
    assert!(err.contains("WEFT_TOKEN"), "{err}");

    // Tokens listed through the API never show a secret.
    let tokens = json_of(url, &admin, &["tokens", "list"]);
    let text = tokens.to_string();
    assert!(
        !text.contains(read.trim()) && !text.contains(token.trim()),
        "{text}"
    );
    assert!(text.contains("dashboard"), "{text}");

    // A table for a person: a header, human times.
    let (code, out, _) = cli(url, Some(&admin), &["jobs", "list", "--output", "table"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID "), "{out}");
    assert!(out.contains(" ago"), "{out}");
    assert!(out.contains("dead"), "{out}");

    // Resumed: ticks run again.
    let (code, _, err) = cli(url, Some(&admin), &["schedules", "resume", "probe", "tick"]);
    assert_eq!(code, 0, "{err}");
    eventually(Duration::from_secs(30), || async {
        let v = cli(
            url,
            Some(&admin),
            &["storage", "get", "probe", "ticks", "--output", "json"],
        );
        (v.0 == 0).then_some(())
    })
    .await
    .expect("a resumed schedule ticks again");

    // No Weft there at all: unavailable, 20.
    let (code, _, err) = cli("http://127.0.0.1:1", Some(&admin), &["status"]);
    assert_eq!(code, 20, "{err}");
    assert!(err.contains("cannot reach Weft"), "{err}");

    // A usage error exits 1; a command that needs a server says so without one.
    let (code, _, _) = cli(url, Some(&admin), &["jobs", "list", "--bogus"]);
    assert_eq!(code, 1);
    let out = weft_tests::harness::weft_command()
        .env_remove("WEFT_URL")
        .arg("status")
        .output()
        .expect("weft runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server"));

    // Every action was logged with the token that made it.
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("API token created"), "{logged}");
    assert!(
        !logged.contains(read.trim()),
        "a token's value is never logged"
    );
}
