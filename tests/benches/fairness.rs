//! What fairness costs and what it buys, in one run, on SQLite and PostgreSQL:
//!
//! - **claims**: 20,000 due jobs claimed 64 at a time and finished, by the claim that reads the
//!   earliest due jobs of every adapter together (`job_claim_many`, the claim before the fair
//!   queue) and by the fair claim (`job_claim_fair`), alternating two rounds each; with the
//!   jobs on one adapter and spread over ten;
//! - **lag**: a release `weft serve` at default flags with 100,000 jobs due now on adapter A
//!   (probe `echo`, `limits.concurrency = 64`): 50 jobs sent to adapter B one every 100 ms,
//!   each one's wait from enqueue to success (p50, p99), and A's jobs/s meanwhile.
//!
//! `BENCH_STORES=sqlite` or `postgres` runs one store. Writes its table between the
//! `fairness:begin` / `fairness:end` markers of BENCHMARKS.md (unless `BENCH_NO_WRITE` is set).

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::store::{Finish, JobOutcome, NewJob, Store};
use weft_tests::harness::{Deployment, Served, component, write_benchmark};

fn pg_url() -> String {
    std::env::var("WEFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn job(adapter: &str, i: usize, run_at_ms: i64) -> NewJob {
    NewJob {
        id: uuid::Uuid::new_v4().to_string(),
        adapter: adapter.into(),
        op: "echo".into(),
        input: format!("{{\"i\":{i}}}"),
        max_attempts: 3,
        run_at_ms,
        idempotency_key: None,
        request_hash: None,
        priority: 0,
    }
}

/// A store of its own for one measurement; PostgreSQL's schema is dropped by `drop_schema`.
async fn open(store: &str, dir: &std::path::Path) -> (Arc<dyn Store>, Option<String>) {
    if store == "sqlite" {
        return (weft::store::open(None, dir).await.expect("sqlite"), None);
    }
    let schema = format!("bf_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}?schema={schema}", pg_url());
    (
        weft::store::open(Some(&url), dir).await.expect("postgres"),
        Some(schema),
    )
}

async fn drop_schema(schema: Option<String>) {
    let Some(schema) = schema else { return };
    use sqlx::ConnectOptions;
    if let Ok(opts) = pg_url().parse::<sqlx::postgres::PgConnectOptions>()
        && let Ok(mut c) = opts.connect().await
    {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut c)
            .await;
    }
}

/// Jobs per second of claim (64 at a time) and finish over `jobs` due jobs spread over
/// `adapters` adapters, fair or not.
async fn claims(store_kind: &str, jobs: usize, adapters: usize, fair: bool) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let (store, schema) = open(store_kind, dir.path()).await;
    let now = weft::clock::now_ms();
    let names: Vec<String> = (0..adapters).map(|a| format!("a{a}")).collect();
    let all: Vec<NewJob> = (0..jobs)
        .map(|i| job(&names[i % adapters], i, now - 1_000 + (i as i64 % 1_000)))
        .collect();
    for chunk in all.chunks(1_000) {
        store.job_enqueue_all(chunk, now).await.expect("fill");
    }
    let shares: Vec<(String, u32)> = names.iter().map(|n| (n.clone(), 64)).collect();
    let started = Instant::now();
    let mut done = 0;
    while done < jobs {
        let t = weft::clock::now_ms();
        let claimed = if fair {
            store
                .job_claim_fair("bench", t, t + 60_000, 64, &shares, true)
                .await
        } else {
            store.job_claim_many("bench", t, t + 60_000, 64).await
        }
        .expect("claim");
        assert!(
            !claimed.is_empty(),
            "claimed nothing with {done} of {jobs} done"
        );
        let ends: Vec<Finish> = claimed
            .iter()
            .map(|j| Finish {
                id: j.id.clone(),
                attempt: j.attempt,
                outcome: JobOutcome::Succeeded("{}".into()),
            })
            .collect();
        store
            .job_finish_many(&ends, weft::clock::now_ms())
            .await
            .expect("finish");
        done += claimed.len();
    }
    let rate = jobs as f64 / started.elapsed().as_secs_f64();
    drop(store);
    drop_schema(schema).await;
    rate
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// B's waits (ms, sorted) and A's jobs/s while 100,000 of A's jobs are due.
async fn lag(store_kind: &str, backlog: usize) -> (Vec<f64>, f64) {
    let dep = Deployment::new();
    dep.manifest(
        "a",
        &format!(
            "name = \"a\"\ncomponent = \"{}\"\n[limits]\nconcurrency = 64\n",
            component("weft-probe").display()
        ),
    );
    dep.manifest(
        "b",
        &format!(
            "name = \"b\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let (url_arg, schema) = if store_kind == "sqlite" {
        ("sqlite".to_string(), None)
    } else {
        let schema = format!("bf_{}", uuid::Uuid::new_v4().simple());
        (format!("{}?schema={schema}", pg_url()), Some(schema))
    };
    {
        let store = weft::store::open(Some(&url_arg), &dep.data())
            .await
            .expect("store");
        let now = weft::clock::now_ms();
        let all: Vec<NewJob> = (0..backlog).map(|i| job("a", i, now)).collect();
        for chunk in all.chunks(5_000) {
            store.job_enqueue_all(chunk, now).await.expect("fill");
        }
    }
    // Default flags: workers and limits as a new user gets them.
    let served = Served::start_with(
        &dep,
        &[
            "--store",
            &url_arg,
            "--data",
            dep.data().to_str().expect("utf8"),
        ],
    );
    let c = reqwest::Client::new();
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..50 {
        let r: serde_json::Value = c
            .post(format!("{}/v1/adapters/b/ops/echo?mode=async", served.url))
            .json(&serde_json::json!({ "i": i }))
            .send()
            .await
            .expect("enqueue")
            .json()
            .await
            .expect("json");
        ids.push(r["job_id"].as_str().expect("id").to_string());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut waits = Vec::new();
    for id in &ids {
        loop {
            let v: serde_json::Value = c
                .get(format!("{}/v1/jobs/{id}", served.url))
                .send()
                .await
                .expect("job")
                .json()
                .await
                .expect("json");
            if v["state"] == "succeeded" {
                let ended = v["updated_at_ms"].as_f64().unwrap_or(0.0);
                let created = v["created_at_ms"].as_f64().unwrap_or(0.0);
                waits.push(ended - created);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let text = c
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    let a_done: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with("weft_cluster_jobs")
                && l.contains("adapter=\"a\"")
                && l.contains("state=\"succeeded\"")
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum();
    drop(served);
    drop_schema(schema).await;
    waits.sort_by(f64::total_cmp);
    (waits, a_done / elapsed)
}

/// The claims table's rows for one store: one adapter, then ten.
async fn claim_row(store: &str, name: &str) -> String {
    let mut rows = String::new();
    for adapters in [1, 10] {
        let (mut before, mut fair) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            before.push(claims(store, 20_000, adapters, false).await);
            fair.push(claims(store, 20_000, adapters, true).await);
        }
        let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let (b, f) = (best(&before), best(&fair));
        eprintln!("{name} {adapters} adapters: before {before:?}, fair {fair:?}");
        rows.push_str(&format!(
            "| {name} | {adapters} | {b:.0} | {f:.0} | **{:.2}×** |\n",
            f / b
        ));
    }
    rows
}

/// The lag table's row for one store.
async fn lag_row(store: &str, name: &str) -> String {
    let (waits, a_rate) = lag(store, 100_000).await;
    eprintln!("{name} lag: {waits:?}, A {a_rate:.0} jobs/s");
    format!(
        "| {name} | 100,000 | {} | {:.0} ms | {:.0} ms | {:.0} ms | {a_rate:.0} |\n",
        waits.len(),
        percentile(&waits, 0.5),
        percentile(&waits, 0.99),
        waits.last().copied().unwrap_or(0.0)
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let stores: Vec<&str> = match std::env::var("BENCH_STORES").as_deref() {
        Ok("sqlite") => vec!["sqlite"],
        Ok("postgres") => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "claims,lag".into());
    let mut claim_rows = String::new();
    let mut lag_rows = String::new();
    for store in &stores {
        let name = if *store == "sqlite" {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        if parts.contains("claims") {
            claim_rows.push_str(&claim_row(store, name).await);
        }
        if parts.contains("lag") {
            lag_rows.push_str(&lag_row(store, name).await);
        }
    }
    let table = format!(
        "## Fair claims: their cost, and another adapter's wait behind a backlog\n\nCommand: `make bench` (this part: `WEFT_BIN=target/release/weft cargo bench -p weft-tests --bench fairness`). Machine: nproc {}, {}.\n\nClaim and finish of 20,000 due jobs, 64 a claim, through the store (best of two alternating rounds): the claim before the fair queue (the earliest due jobs of all adapters together) against the fair claim (each adapter's share from an index of its own, round the adapters).\n\n| store | adapters | before, jobs/s | fair, jobs/s | fair / before |\n|---|---|---|---|---|\n{claim_rows}\nA release `weft serve` at default flags (tokens off, workers auto); 100,000 jobs due on adapter A (`limits.concurrency = 64`); 50 jobs sent to adapter B one every 100 ms: each B job's wait from enqueue to success, and A's jobs/s over the same time.\n\n| store | A's jobs due | B's jobs | B's wait p50 | p99 | max | A's jobs/s meanwhile |\n|---|---|---|---|---|---|---|\n{lag_rows}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        weft::clock::rfc3339(weft::clock::now_ms())
    );
    println!("{table}");
    write_benchmark("fairness", &table);
}
