//! Three `weft serve` processes on one PostgreSQL behave as one Weft: one token fetch for the
//! cluster, jobs run once to success while a node dies, schedule ticks run once across nodes.

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, PgSchema, Served, component, eventually, get_json};
use weft_tests::lenovo::Lenovo;
use weft_tests::sekorm::Sekorm;

fn node(dep: &Deployment, store: &str, data: &str, extra: &[&str]) -> Served {
    let data_dir = dep.manifests().parent().expect("root").join(data);
    let mut args = vec!["--store", store, "--data", data_dir.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    Served::start_with(dep, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_make_one_token_request_for_300_concurrent_calls() {
    let sim = Sekorm::start("acct", "secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "sekorm",
        &sim.manifest(&dep, "acct", "secret", "[limits]\nconcurrency = 100\n"),
    );
    let schema = PgSchema::new("c");
    let store = schema.url();
    let nodes: Vec<Served> = (0..3)
        .map(|i| node(&dep, &store, &format!("n{i}"), &[]))
        .collect();
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..300 {
        let url = format!(
            "{}/v1/adapters/sekorm/ops/update-quantity",
            nodes[i % 3].url
        );
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"pnCode": format!("P{i}"), "brandName": "AMS", "stockQuantity": i}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for c in calls {
        assert_eq!(c.await.expect("task").expect("answer"), 200);
    }
    assert_eq!(
        sim.token_requests(),
        1,
        "one token fetch for the whole cluster"
    );
    assert_eq!(sim.ledger(|l| l.updates.len()), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_run_once_to_success_while_a_node_is_killed() {
    let sim = Lenovo::start("id", "secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "lenovo",
        &format!(
            "name = \"lenovo\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nclient_id = \"{}\"\nclient_secret = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n[retry]\nmax_attempts = 5\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n[config]\ntoken_url = \"{}\"\n",
            component("weft-lenovo").display(),
            sim.base_url(),
            dep.secret("id", "id"),
            dep.secret("secret", "secret"),
            sim.token_url(),
        ),
    );
    let schema = PgSchema::new("c");
    let store = schema.url();
    let lease = ["--job-lease", "2s", "--workers", "4"];
    let mut nodes: Vec<Served> = (0..3)
        .map(|i| node(&dep, &store, &format!("n{i}"), &lease))
        .collect();
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..1000 {
        let body = json!({"data_category": "inventory", "biz_key": "stock", "action": "add", "rows": [{"LENOVO_PN": format!("pn_{i}"), "PLANT": "1"}]});
        let r: Value = client
            .post(format!(
                "{}/v1/adapters/lenovo/ops/sync?mode=async",
                nodes[i % 3].url
            ))
            .json(&body)
            .send()
            .await
            .expect("enqueue")
            .json()
            .await
            .expect("json");
        ids.push(r["job_id"].as_str().expect("id").to_string());
    }
    eventually(Duration::from_secs(60), || async {
        (sim.ledger(|l| l.rows_written) >= 200).then_some(())
    })
    .await
    .expect("jobs are running");
    let victim = nodes.remove(0);
    victim.kill9();
    nodes.push(node(&dep, &store, "n0", &lease));
    let url = nodes[0].url.clone();
    let done = eventually(Duration::from_secs(120), || async {
        let list: Value = client
            .get(format!("{url}/v1/jobs?state=succeeded&limit=1000"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (list.as_array()?.len() == 1000).then_some(())
    })
    .await;
    assert!(done.is_some(), "every job succeeded");
    assert_eq!(
        sim.ledger(|l| l.rows_written),
        1000,
        "each job's effect happened exactly once"
    );
    let dead = get_json(&client, &format!("{url}/v1/jobs?state=dead")).await;
    assert_eq!(dead, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_ticks_once_per_tick_across_the_cluster_and_survives_a_node() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[[schedules]]\nname = \"tick\"\nevery = \"1s\"\n[config]\ntick_sleep_ms = 200\n",
            component("weft-probe").display()
        ),
    );
    let schema = PgSchema::new("c");
    let store = schema.url();
    let mut nodes: Vec<Served> = (0..3)
        // A short job lease: a tick cut by the kill is handed to another node within a second
        // (the ticks in between are skipped, since the cut run may still be going).
        .map(|i| node(&dep, &store, &format!("n{i}"), &["--job-lease", "1s"]))
        .collect();
    let client = reqwest::Client::new();
    let read = |url: String, key: &'static str| {
        let c = client.clone();
        async move {
            let out: Value = c
                .post(format!("{url}/v1/adapters/probe/ops/storage"))
                .json(&json!({ "key": key }))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            Some(out["read"].clone())
        }
    };
    let ticks = |url: String| {
        let read = read(url, "ticks");
        async move { read.await?.as_str()?.parse::<u64>().ok() }
    };
    let start = eventually(Duration::from_secs(10), || ticks(nodes[0].url.clone()))
        .await
        .expect("first tick");
    tokio::time::sleep(Duration::from_millis(4000)).await;
    // Kill right after a tick ended, so that the kill falls between two runs (a run cut in the
    // middle leaves the probe's "running" mark behind, which the overlap check below would read
    // as two runs at once).
    // The probe counts a tick before it clears its "running" mark: wait for both, or the kill
    // may fall between the two writes and leave the mark behind.
    let before = ticks(nodes[0].url.clone()).await.expect("ticks");
    eventually(Duration::from_secs(5), || async {
        let n = ticks(nodes[0].url.clone()).await.filter(|n| *n > before)?;
        (read(nodes[0].url.clone(), "running").await == Some(Value::Null)).then_some(n)
    })
    .await
    .expect("a tick ends");
    nodes.remove(0).kill9();
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let end = ticks(nodes[0].url.clone()).await.expect("ticks");
    let ran = end - start;
    // About ten seconds passed: ten ticks, each run once across three nodes (a tick cut short
    // by the kill may be lost, none may run twice).
    assert!(
        (8..=11).contains(&ran),
        "ticks run once per second across the cluster: {ran}"
    );
    let overlap: Value = client
        .post(format!("{}/v1/adapters/probe/ops/storage", nodes[0].url))
        .json(&json!({"key": "overlap"}))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(
        overlap["read"],
        Value::Null,
        "never two runs of the schedule at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_budget_holds_across_nodes() {
    let sim = Sekorm::start("acct", "secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "sekorm",
        &sim.manifest(
            &dep,
            "acct",
            "secret",
            "[limits]\nrate = \"10/s\"\nconcurrency = 50\n",
        ),
    );
    let schema = PgSchema::new("c");
    let store = schema.url();
    let nodes: Vec<Served> = (0..3)
        .map(|i| node(&dep, &store, &format!("n{i}"), &[]))
        .collect();
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..30 {
        let url = format!(
            "{}/v1/adapters/sekorm/ops/update-quantity",
            nodes[i % 3].url
        );
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"pnCode": format!("P{i}"), "brandName": "AMS", "stockQuantity": i}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for c in calls {
        assert_eq!(c.await.expect("task").expect("answer"), 200);
    }
    let arrivals = sim.ledger(|l| l.arrivals.clone());
    assert_eq!(arrivals.len(), 30);
    // Slots are 100 ms apart; network jitter may bunch a few, never a burst.
    let most_in_a_second = arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        most_in_a_second <= 12,
        "at most about 10 calls in any second across 3 nodes, saw {most_in_a_second}"
    );
    let span = arrivals
        .iter()
        .max()
        .expect("last")
        .duration_since(*arrivals.iter().min().expect("first"));
    assert!(
        span >= Duration::from_millis(2500),
        "30 calls at 10/s take about 3 s, took {span:?}"
    );
}
