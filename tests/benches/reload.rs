//! Hot reload, measured: time from a component write to the first request served by the new
//! version, and request latency during reloads compared with steady state, in one run against
//! a real `weft serve` (the release binary when built, see `make bench`).

#![allow(missing_docs)]

use serde_json::Value;
use std::time::{Duration, Instant};
use weft_tests::harness::{Deployment, Served, component, probe_v2};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn one(c: &reqwest::Client, url: &str) -> (Duration, Option<String>) {
    let t = Instant::now();
    let r = c
        .post(format!("{url}/v1/adapters/probe/ops/version"))
        .send()
        .await;
    let build = match r {
        Ok(r) if r.status().is_success() => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["build"].as_str().map(str::to_string)),
        _ => None,
    };
    (t.elapsed(), build)
}

fn install(src: &std::path::Path, dst: &std::path::Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).expect("copy");
    std::fs::rename(&tmp, dst).expect("rename");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dep = Deployment::new();
    let dir = dep.manifests().parent().expect("root").join("components");
    std::fs::create_dir_all(&dir).expect("dir");
    let live = dir.join("probe.wasm");
    install(&component("weft-probe"), &live);
    dep.manifest(
        "probe",
        &format!("name = \"probe\"\ncomponent = \"{}\"\n", live.display()),
    );
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    for _ in 0..200 {
        one(&c, &url).await;
    }

    let mut steady = Vec::new();
    for _ in 0..2000 {
        steady.push(one(&c, &url).await.0);
    }

    let (v1, v2) = (component("weft-probe"), probe_v2());
    let mut during = Vec::new();
    let mut write_to_serve = Vec::new();
    let mut failed = 0;
    for i in 0..20 {
        let (src, want) = if i % 2 == 0 { (&v2, "v2") } else { (&v1, "v1") };
        let written = Instant::now();
        install(src, &live);
        loop {
            let (d, build) = one(&c, &url).await;
            during.push(d);
            match build.as_deref() {
                Some(b) if b == want => break,
                Some(_) => {}
                None => failed += 1,
            }
            assert!(
                written.elapsed() < Duration::from_secs(30),
                "swap {i} never served"
            );
        }
        write_to_serve.push(written.elapsed());
    }
    steady.sort();
    during.sort();
    write_to_serve.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("| figure | p50 | p99 | max | requests |");
    println!("|---|---|---|---|---|");
    println!(
        "| steady state: sequential `POST /v1/adapters/probe/ops/version` | {} | {} | {} | {} |",
        ms(percentile(&steady, 0.5)),
        ms(percentile(&steady, 0.99)),
        ms(percentile(&steady, 1.0)),
        steady.len()
    );
    println!(
        "| during 20 component swaps (same requests) | {} | {} | {} | {} |",
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        ms(percentile(&during, 1.0)),
        during.len()
    );
    println!(
        "| write of the component → first answer from the new version | {} | {} | {} | {} |",
        ms(percentile(&write_to_serve, 0.5)),
        ms(percentile(&write_to_serve, 0.99)),
        ms(percentile(&write_to_serve, 1.0)),
        write_to_serve.len()
    );
    println!();
    println!(
        "ratio p50 during/steady: {:.2}×, p99 during/steady: {:.2}×; failed requests: {failed}",
        percentile(&during, 0.5).as_secs_f64() / percentile(&steady, 0.5).as_secs_f64(),
        percentile(&during, 0.99).as_secs_f64() / percentile(&steady, 0.99).as_secs_f64()
    );
}
