//! Many adapters, one queue: a backlog of 10,000 jobs on one adapter does not hold back
//! another adapter's jobs or its schedule (both stores); an operator pauses an adapter and
//! resumes it, and the pause survives a restart.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_tests::harness::{
    Deployment, PgSchema, Served, component, eventually, get_json, metric, weft_command,
};

/// A platform that answers every request after `delay`.
async fn slow_platform(delay: Duration) -> String {
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || async move {
            tokio::time::sleep(delay).await;
            "ok"
        }),
    );
    let (addr, _task) = weft_tests::harness::serve_app(app).await;
    format!("127.0.0.1:{}", addr.port())
}

fn manifests(dep: &Deployment, platform: &str) {
    dep.manifest(
        "bulk",
        &format!(
            "name = \"bulk\"\ncomponent = \"{}\"\nallowed_hosts = [\"{platform}\"]\n[limits]\nconcurrency = 8\n",
            component("weft-probe").display()
        ),
    );
    dep.manifest(
        "ticker",
        &format!(
            "name = \"ticker\"\ncomponent = \"{}\"\nallowed_hosts = [\"{platform}\"]\n[[schedules]]\nname = \"tick\"\nevery = \"1s\"\n",
            component("weft-probe").display()
        ),
    );
}

/// Enqueues `n` jobs on `adapter`, each a GET of the slow platform, 1,000 a batch; answers
/// their ids.
async fn slow_jobs(
    c: &reqwest::Client,
    url: &str,
    adapter: &str,
    platform: &str,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let jobs: Vec<Value> = (start..n.min(start + 1000))
            .map(|i| json!({"op": "http-get", "input": {"url": format!("http://{platform}/slow?{adapter}={i}")}}))
            .collect();
        let r: Value = c
            .post(format!("{url}/v1/adapters/{adapter}/jobs:batch"))
            .json(&json!({ "jobs": jobs }))
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("json");
        let batch = r["jobs"].as_array().unwrap_or_else(|| panic!("{r}"));
        ids.extend(
            batch
                .iter()
                .map(|j| j["job_id"].as_str().expect("id").to_string()),
        );
    }
    ids
}

/// Waits (a minute at most) for every job of `ids` to have succeeded.
async fn all_succeeded(c: &reqwest::Client, url: &str, ids: &[String]) -> Option<()> {
    eventually(Duration::from_secs(60), || async move {
        for id in ids {
            let v: Value = c
                .get(format!("{url}/v1/jobs/{id}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            if v["state"] != "succeeded" {
                return None;
            }
        }
        Some(())
    })
    .await
}

async fn backlog_does_not_hold_back_another_adapter(store: Option<&str>) {
    let platform = slow_platform(Duration::from_millis(100)).await;
    let dep = Deployment::new();
    manifests(&dep, &platform);
    let mut args = vec![];
    if let Some(s) = store {
        args.extend(["--store", s]);
    }
    let served = Served::start(&dep, &args);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    // 10,000 jobs on `bulk`, each a 100 ms platform call: about two minutes of its work at
    // its concurrency of 8; then 50 on `ticker` behind them.
    slow_jobs(&c, &url, "bulk", &platform, 10_000).await;
    let ids = slow_jobs(&c, &url, "ticker", &platform, 50).await;
    let ticks_at = |c: reqwest::Client, url: String| async move {
        metric(
            &c,
            &url,
            "weft_schedule_runs_total",
            &["adapter=\"ticker\"", "outcome=\"ok\""],
        )
        .await
    };
    let started = Instant::now();
    let ticks_before = ticks_at(c.clone(), url.clone()).await;
    // Every one of ticker's jobs ends while bulk's backlog is still more than three quarters
    // there.
    let all_done = all_succeeded(&c, &url, &ids).await;
    let bulk_done = metric(
        &c,
        &url,
        "weft_cluster_jobs",
        &["adapter=\"bulk\"", "state=\"succeeded\""],
    )
    .await;
    assert!(all_done.is_some(), "ticker's 50 jobs all succeed");
    assert!(
        bulk_done < 2500.0,
        "ticker's jobs were done before a quarter of bulk's backlog ({bulk_done} done)"
    );
    // And its schedule ran on every tick while the backlog drained (give or take one).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = ticks_at(c.clone(), url.clone()).await - ticks_before;
    let skipped = metric(
        &c,
        &url,
        "weft_schedule_runs_total",
        &["adapter=\"ticker\"", "outcome=\"skipped\""],
    )
    .await;
    assert!(
        ticks >= elapsed.floor() - 1.0,
        "{ticks} ticks ran in {elapsed:.1} s ({skipped} skipped)"
    );
    let queued = metric(
        &c,
        &url,
        "weft_cluster_jobs",
        &["adapter=\"bulk\"", "state=\"queued\""],
    )
    .await;
    assert!(queued > 5000.0, "the backlog was still there: {queued}");
    // The lag each adapter's queue shows: bulk's work waits, ticker's does not.
    let lag = |adapter: &'static str| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let label = format!("adapter=\"{adapter}\"");
            metric(
                &c,
                &url,
                "weft_adapter_queue_lag_seconds",
                &[label.as_str()],
            )
            .await
        }
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (bulk_lag, ticker_lag) = (lag("bulk").await, lag("ticker").await);
    assert!(bulk_lag >= 1.0, "bulk's oldest job waits: {bulk_lag}");
    assert!(ticker_lag <= 2.0, "ticker's does not: {ticker_lag}");
    // The same queue in GET /v1/adapters, for an operator without a metrics stack.
    let listed = get_json(&c, &format!("{url}/v1/adapters")).await;
    let bulk = listed
        .as_array()
        .and_then(|l| l.iter().find(|a| a["name"] == "bulk"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(bulk["jobs"]["queued"].as_i64() > Some(0), "{bulk}");
    assert!(bulk["jobs"]["running"].as_i64() <= Some(8), "{bulk}");
    assert!(bulk["jobs"]["lag_seconds"].as_i64() >= Some(1), "{bulk}");
    assert_eq!(bulk["paused"], Value::Null, "{bulk}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_on_one_adapter_does_not_hold_back_another_on_sqlite() {
    backlog_does_not_hold_back_another_adapter(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_on_one_adapter_does_not_hold_back_another_on_postgres() {
    let schema = PgSchema::new("f");
    backlog_does_not_hold_back_another_adapter(Some(&schema.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_jobs_and_ticks_survives_a_restart_and_resumes() {
    let platform = slow_platform(Duration::from_millis(1)).await;
    let dep = Deployment::new();
    manifests(&dep, &platform);
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = served.url.clone();
    let r = c
        .post(format!("{url}/v1/adapters/ticker/pause?calls=refuse"))
        .send()
        .await
        .expect("pause");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = c
        .post(format!("{url}/v1/adapters/nobody/pause"))
        .send()
        .await
        .expect("pause");
    assert_eq!(r.status(), 404);
    let job: Value = c
        .post(format!("{url}/v1/adapters/ticker/ops/echo?mode=async"))
        .json(&json!({"held": true}))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = job["job_id"].as_str().expect("id").to_string();
    // Its synchronous calls are refused, as asked; its ticks are counted paused.
    let r = c
        .post(format!("{url}/v1/adapters/ticker/ops/echo"))
        .json(&json!({}))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 503);
    let paused_ticks = eventually(Duration::from_secs(10), || async {
        let n = metric(
            &c,
            &url,
            "weft_schedule_runs_total",
            &["adapter=\"ticker\"", "outcome=\"paused\""],
        )
        .await;
        (n >= 2.0).then_some(n)
    })
    .await;
    assert!(paused_ticks.is_some(), "ticks are counted paused");
    let state = |c: reqwest::Client, url: String, id: String| async move {
        let v: Value = c
            .get(format!("{url}/v1/jobs/{id}"))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("json");
        v["state"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(state(c.clone(), url.clone(), id.clone()).await, "queued");
    let other = c
        .post(format!("{url}/v1/adapters/bulk/ops/echo"))
        .json(&json!({"other": 1}))
        .send()
        .await
        .expect("call");
    assert_eq!(other.status(), 200, "other adapters go on");
    assert!(served.terminate().success());

    // After a restart: still paused, the job still queued.
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let adapters = get_json(&c, &format!("{url}/v1/adapters")).await;
    let ticker = adapters
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["name"] == "ticker")
        .expect("ticker")
        .clone();
    assert_eq!(ticker["paused"]["refuse_calls"], true, "{ticker}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(state(c.clone(), url.clone(), id.clone()).await, "queued");
    // Resumed from the CLI, another process: the server sees it within a second.
    let out = weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(["resume", "ticker"])
        .output()
        .expect("weft resume");
    assert!(out.status.success(), "{out:?}");
    let done = eventually(Duration::from_secs(15), || {
        let (c, url, id) = (c.clone(), url.clone(), id.clone());
        async move { (state(c, url, id).await == "succeeded").then_some(()) }
    })
    .await;
    assert!(done.is_some(), "the held job runs after resume");
    let r = c
        .post(format!("{url}/v1/adapters/ticker/ops/echo"))
        .json(&json!({}))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 200, "calls work again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_adapters_with_default_limits_load_and_one_reaches_its_concurrency() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A platform that answers after 250 ms and records how many requests it held at once.
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, p) = (now.clone(), peak.clone());
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            let (n, p) = (n.clone(), p.clone());
            async move {
                let held = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(held, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(250)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let (addr, _task) = weft_tests::harness::serve_app(app).await;
    let platform = format!("127.0.0.1:{}", addr.port());
    let dep = Deployment::new();
    for i in 0..49 {
        dep.manifest(
            &format!("a{i:02}"),
            &format!(
                "name = \"a{i:02}\"\ncomponent = \"{}\"\n",
                component("weft-probe").display()
            ),
        );
    }
    dep.manifest(
        "wide",
        &format!(
            "name = \"wide\"\ncomponent = \"{}\"\nallowed_hosts = [\"{platform}\"]\n[limits]\nconcurrency = 64\n",
            component("weft-probe").display()
        ),
    );
    // Default flags: no --workers, no --max-instances.
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let adapters = get_json(&c, &format!("{}/v1/adapters", served.url)).await;
    let list = adapters.as_array().expect("list");
    assert_eq!(list.len(), 50);
    for a in list {
        assert_eq!(a["status"], "ready", "{a}");
    }
    let jobs: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "http-get", "input": {"url": format!("http://{platform}/slow?i={i}")}}))
        .collect();
    let r = c
        .post(format!("{}/v1/adapters/wide/jobs:batch", served.url))
        .json(&json!({ "jobs": jobs }))
        .send()
        .await
        .expect("batch");
    assert!(r.status().is_success());
    let done = eventually(Duration::from_secs(90), || async {
        let n = metric(
            &c,
            &served.url,
            "weft_cluster_jobs",
            &["adapter=\"wide\"", "state=\"succeeded\""],
        )
        .await;
        (n >= 1000.0).then_some(())
    })
    .await;
    assert!(done.is_some(), "all 1,000 jobs succeed");
    assert_eq!(
        peak.load(Ordering::SeqCst),
        64,
        "at default flags the adapter reaches its limits.concurrency, and never passes it"
    );
}

/// Reads `key` of adapter `adapter`'s storage through its probe.
async fn stored(c: &reqwest::Client, url: &str, adapter: &str, key: &str) -> Value {
    let r: Value = c
        .post(format!("{url}/v1/adapters/{adapter}/ops/storage"))
        .json(&json!({ "key": key }))
        .send()
        .await
        .expect("storage")
        .json()
        .await
        .expect("json");
    r["read"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_queue_fairly_and_a_dead_node_loses_nothing() {
    let platform = slow_platform(Duration::from_millis(100)).await;
    let schema = PgSchema::new("f");
    let store = schema.url();
    let dep = Deployment::new();
    manifests(&dep, &platform);
    let root = dep.manifests().parent().expect("root").to_path_buf();
    let node = |i: usize| {
        let data = root.join(format!("n{i}"));
        Served::start_with(
            &dep,
            &[
                "--store",
                &store,
                "--data",
                data.to_str().expect("utf8"),
                "--job-lease",
                "3s",
            ],
        )
    };
    let mut nodes: Vec<Option<Served>> = (0..3).map(|i| Some(node(i))).collect();
    let url = |nodes: &Vec<Option<Served>>, i: usize| nodes[i].as_ref().expect("alive").url.clone();
    let c = reqwest::Client::new();
    let first = url(&nodes, 0);
    slow_jobs(&c, &first, "bulk", &platform, 10_000).await;
    let ids = slow_jobs(&c, &first, "ticker", &platform, 30).await;
    let started = Instant::now();
    let ticks_before = stored(&c, &url(&nodes, 1), "ticker", "ticks")
        .await
        .as_str()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    // One node dies in the middle of it all, holding leases.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(n) = nodes[0].take() {
        n.kill9();
    }
    let survivor = url(&nodes, 1);
    let all_done = all_succeeded(&c, &survivor, &ids).await;
    assert!(
        all_done.is_some(),
        "every ticker job succeeds, the dead node's too"
    );
    let queued = metric(
        &c,
        &survivor,
        "weft_cluster_jobs",
        &["adapter=\"bulk\"", "state=\"queued\""],
    )
    .await;
    assert!(
        queued > 5000.0,
        "while bulk's backlog is still there: {queued}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = stored(&c, &survivor, "ticker", "ticks")
        .await
        .as_str()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0)
        - ticks_before;
    assert!(
        ticks >= elapsed.floor() - 3.0 && ticks <= elapsed.ceil() + 1.0,
        "{ticks} ticks in {elapsed:.1} s across the cluster (a node died)"
    );
    assert_eq!(
        stored(&c, &survivor, "ticker", "overlap").await,
        Value::Null,
        "no tick ran twice at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_rate_budget_keeps_jobs_queued_not_on_workers() {
    // Five requests a second and eight permits: claimed by concurrency alone, all eight of a
    // backlog's jobs would sit on workers waiting for slots of the budget. Claimed by budget,
    // no more run than the slots within the claimer's horizon (one second: five).
    let platform = slow_platform(Duration::from_millis(10)).await;
    let dep = Deployment::new();
    dep.manifest(
        "rated",
        &format!(
            "name = \"rated\"\ncomponent = \"{}\"\nallowed_hosts = [\"{platform}\"]\n[limits]\nconcurrency = 8\nrate = \"5/s\"\n",
            component("weft-probe").display()
        ),
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let ids = slow_jobs(&c, &served.url, "rated", &platform, 20).await;
    let (mut most, started) = (0usize, Instant::now());
    while started.elapsed() < Duration::from_secs(30) {
        let jobs = |state: &str| format!("{}/v1/jobs?adapter=rated&state={state}", served.url);
        let running = get_json(&c, &jobs("running")).await;
        most = most.max(running.as_array().map_or(0, Vec::len));
        let queued = get_json(&c, &jobs("queued")).await;
        if queued.as_array().is_some_and(Vec::is_empty)
            && running.as_array().is_some_and(Vec::is_empty)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        all_succeeded(&c, &served.url, &ids).await.is_some(),
        "every job of the rated adapter succeeds"
    );
    assert!(most >= 1, "the jobs were seen running");
    assert!(
        most <= 5,
        "at most the budget's slots within the horizon run at once, saw {most}"
    );
}
