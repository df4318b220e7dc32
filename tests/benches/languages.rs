//! Sekorm in Rust, TypeScript and Python, measured in one run through the host library: the
//! component's size, its first load (a compile) and a load from the compile cache, a call with
//! no platform I/O (a fresh instance, a day with nothing to reconcile), a real
//! `update-quantity` against the simulator, and the linear memory one instance holds. Written
//! into BENCHMARKS.md as ratios to Rust.

#![allow(missing_docs)]

use serde_json::json;
use std::time::{Duration, Instant};
use weft::{CallOptions, Runtime};
use weft_tests::harness::{Deployment, component};
use weft_tests::sekorm::{Fault, Sekorm};

const ACCOUNT: &str = "bench-account";
const SECRET: &str = "bench-secret";
const BUILDS: &[(&str, &str)] = &[
    ("Rust", "weft-sekorm"),
    ("TypeScript", "weft-ts-sekorm"),
    ("Python", "weft-py-sekorm"),
];

struct Row {
    size: u64,
    first_load: Duration,
    cached_load: Duration,
    no_io: Duration,
    update: Duration,
    memory: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Opens a runtime on `dep` with its own compile cache `cache`, timed.
async fn open(dep: &Deployment, cache: &std::path::Path) -> (Runtime, Duration) {
    let mut options = dep.options();
    options.engine.cache_dir = Some(cache.to_path_buf());
    let t = Instant::now();
    let rt = Runtime::open(options).await.expect("runtime opens");
    let took = t.elapsed();
    assert!(rt.load_errors().is_empty(), "{:?}", rt.load_errors());
    (rt, took)
}

/// One `update-quantity` of item `pn`: a token (cached after the first), a platform request,
/// a storage write.
async fn update_quantity(rt: &Runtime, pn: String) -> Result<String, weft::InvokeError> {
    let input = json!({ "pnCode": pn, "brandName": "AMS", "stockQuantity": 1 });
    rt.invoke(
        "sekorm",
        "update-quantity",
        &input.to_string(),
        CallOptions::default(),
    )
    .await
}

async fn measure(build: &str, calls: usize) -> Row {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    let path = component(build);
    dep.manifest(
        "sekorm",
        &sim.manifest(&dep, ACCOUNT, SECRET, "").replace(
            &component("weft-sekorm").display().to_string(),
            &path.display().to_string(),
        ),
    );
    let cache = tempfile::tempdir().expect("cache");
    let (first, first_load) = open(&dep, cache.path()).await;
    drop(first);
    let (rt, cached_load) = open(&dep, cache.path()).await;
    let rt = std::sync::Arc::new(rt);

    // The smallest call: a day with no recorded change is reconciled: a fresh instance, the
    // input parsed, one storage listing (the host's), nothing sent. (A refused call would also
    // write the exchange journal before answering.)
    let quiet = json!({ "date": "2020-01-01" }).to_string();
    let mut no_io = Vec::new();
    for i in 0..calls + 20 {
        let t = Instant::now();
        let out = rt
            .invoke("sekorm", "reconcile", &quiet, CallOptions::default())
            .await
            .expect("reconciled");
        assert!(out.contains("\"sent\":false"), "{out}");
        if i >= 20 {
            no_io.push(t.elapsed());
        }
    }
    let mut update = Vec::new();
    for i in 0..calls + 5 {
        let t = Instant::now();
        update_quantity(&rt, format!("B-{i}"))
            .await
            .expect("updated");
        if i >= 5 {
            update.push(t.elapsed());
        }
    }
    // Memory: eight calls held open by a slow platform, the pool's lent memory sampled.
    let held = 8;
    sim.fail_next(vec![Fault::Latency(Duration::from_millis(400)); held]);
    let pool = rt.shared().engine.memory().clone();
    let before = pool.used();
    let mut calls_open = Vec::new();
    for i in 0..held {
        let rt = rt.clone();
        calls_open.push(tokio::spawn(async move {
            update_quantity(&rt, format!("M-{i}")).await
        }));
    }
    let mut peak = 0;
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(350) {
        peak = peak.max(pool.used().saturating_sub(before));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for c in calls_open {
        c.await.expect("joined").expect("updated");
    }
    Row {
        size: std::fs::metadata(&path).expect("component").len(),
        first_load,
        cached_load,
        no_io: median(no_io),
        update: median(update),
        memory: peak / held,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = env_usize("BENCH_CALLS", 200);
    let mut rows = Vec::new();
    for (language, build) in BUILDS {
        let row = measure(build, calls).await;
        eprintln!(
            "{language}: {} B, first load {}, cached {}, no-I/O {}, update {}, {} B/instance",
            row.size,
            ms(row.first_load),
            ms(row.cached_load),
            ms(row.no_io),
            ms(row.update),
            row.memory
        );
        rows.push((language, row));
    }
    let rust = &rows[0].1;
    let ratio = |a: f64, b: f64| format!("{:.1}×", a / b.max(f64::MIN_POSITIVE));
    let mut table = String::from(
        "| Sekorm build | component | first load (compile) | cached load | no-I/O call: `reconcile` of a quiet day (median) | `update-quantity` against the simulator (median) | linear memory per instance |\n|---|---|---|---|---|---|---|\n",
    );
    for (language, r) in &rows {
        table.push_str(&format!(
            "| {language} | {:.1} MiB ({}) | {} ({}) | {} ({}) | {} ({}) | {} ({}) | {:.1} MiB ({}) |\n",
            r.size as f64 / 1048576.0,
            ratio(r.size as f64, rust.size as f64),
            ms(r.first_load),
            ratio(r.first_load.as_secs_f64(), rust.first_load.as_secs_f64()),
            ms(r.cached_load),
            ratio(r.cached_load.as_secs_f64(), rust.cached_load.as_secs_f64()),
            ms(r.no_io),
            ratio(r.no_io.as_secs_f64(), rust.no_io.as_secs_f64()),
            ms(r.update),
            ratio(r.update.as_secs_f64(), rust.update.as_secs_f64()),
            r.memory as f64 / 1048576.0,
            ratio(r.memory as f64, rust.memory as f64),
        ));
    }
    println!("{table}");
    weft_tests::harness::write_benchmark("languages", &table);
}
