//! Jobs per second (no-op adapter op) on SQLite and on PostgreSQL with one and three nodes, and
//! the token-cache stampede (300 concurrent first calls over three nodes) against warm calls,
//! in one run, with real `weft serve` processes (`make bench` points `WEFT_BIN` at the release
//! build).

#![allow(missing_docs)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_tests::harness::{Deployment, Served, component, eventually};
use weft_tests::sekorm::Sekorm;

const JOBS: usize = 500;

fn pg_url() -> String {
    std::env::var("WEFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn nodes(dep: &Deployment, store: &str, n: usize) -> Vec<Served> {
    (0..n)
        .map(|i| {
            let data = dep
                .manifests()
                .parent()
                .expect("root")
                .join(format!("n{i}"));
            Served::start_with(
                dep,
                &[
                    "--store",
                    store,
                    "--data",
                    data.to_str().expect("utf8"),
                    "--workers",
                    "4",
                ],
            )
        })
        .collect()
}

async fn jobs_per_second(store: &str, n: usize) -> f64 {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[limits]\nconcurrency = 64\n",
            component("weft-probe").display()
        ),
    );
    let nodes = nodes(&dep, store, n);
    let c = reqwest::Client::new();
    let started = Instant::now();
    for i in 0..JOBS {
        c.post(format!(
            "{}/v1/adapters/probe/ops/echo?mode=async",
            nodes[i % n].url
        ))
        .json(&json!({ "i": i }))
        .send()
        .await
        .expect("enqueue");
    }
    let url = nodes[0].url.clone();
    eventually(Duration::from_secs(300), || async {
        let list: Value = c
            .get(format!("{url}/v1/jobs?state=succeeded&limit=1000"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (list.as_array()?.len() >= JOBS).then_some(())
    })
    .await
    .expect("all jobs done");
    JOBS as f64 / started.elapsed().as_secs_f64()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn burst(c: &reqwest::Client, nodes: &[Served], tag: &str) -> Vec<Duration> {
    let mut calls = Vec::new();
    for i in 0..300 {
        let url = format!(
            "{}/v1/adapters/sekorm/ops/update-quantity",
            nodes[i % nodes.len()].url
        );
        let c = c.clone();
        let body = json!({"pnCode": format!("{tag}{i}"), "brandName": "AMS", "stockQuantity": i});
        calls.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c.post(url).json(&body).send().await.expect("call");
            assert_eq!(r.status(), 200);
            t.elapsed()
        }));
    }
    let mut out = Vec::new();
    for call in calls {
        out.push(call.await.expect("task"));
    }
    out.sort();
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sqlite = jobs_per_second("sqlite", 1).await;
    let pg = |n| {
        format!(
            "{}?schema=b_{}_{n}",
            pg_url(),
            uuid::Uuid::new_v4().simple()
        )
    };
    let pg1 = jobs_per_second(&pg(1), 1).await;
    let pg3 = jobs_per_second(&pg(3), 3).await;
    println!("| store, nodes | jobs/s ({JOBS} no-op jobs) | ratio to SQLite |");
    println!("|---|---|---|");
    println!("| SQLite, 1 | {sqlite:.0} | 1.00× |");
    println!("| PostgreSQL, 1 | {pg1:.0} | {:.2}× |", pg1 / sqlite);
    println!("| PostgreSQL, 3 | {pg3:.0} | {:.2}× |", pg3 / sqlite);

    let sim = Sekorm::start("acct", "secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "sekorm",
        &sim.manifest(&dep, "acct", "secret", "[limits]\nconcurrency = 100\n"),
    );
    let nodes = nodes(&dep, &pg(9), 3);
    let c = reqwest::Client::new();
    let cold = burst(&c, &nodes, "cold").await;
    let warm = burst(&c, &nodes, "warm").await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("| 300 concurrent calls over 3 nodes | p50 | p99 | token fetches |");
    println!("|---|---|---|---|");
    println!(
        "| cold cache (stampede) | {:.1} ms | {:.1} ms | {} |",
        ms(pct(&cold, 0.5)),
        ms(pct(&cold, 0.99)),
        sim.token_requests()
    );
    println!(
        "| warm cache | {:.1} ms | {:.1} ms | {} |",
        ms(pct(&warm, 0.5)),
        ms(pct(&warm, 0.99)),
        sim.token_requests()
    );
    println!(
        "ratio cold/warm: p50 {:.2}×, p99 {:.2}×",
        ms(pct(&cold, 0.5)) / ms(pct(&warm, 0.5)),
        ms(pct(&cold, 0.99)) / ms(pct(&warm, 0.99))
    );
}
