//! What a long-lived `weft serve` holds in memory, in one run: resident memory (VmRSS, from
//! `/proc`) with one adapter and with `BENCH_ADAPTERS` (100) adapters of `BENCH_SCHEDULES` (10)
//! schedules each — 1,000 schedules — and `BENCH_QUEUED` (1,000) jobs waiting (due in a day),
//! measured after the load, after calls through every adapter, and after a quiet spell in which
//! the scheduler and the workers only wait. Memory that grew in the quiet spell would be a
//! leak; the per-adapter cost is the difference divided by the adapters added.
//!
//! Writes its table between the `footprint:begin` / `footprint:end` markers of BENCHMARKS.md
//! (unless `BENCH_NO_WRITE` is set). `make bench` points `WEFT_BIN` at the release build.

#![allow(missing_docs)]

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually, write_benchmark};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

fn status(c: &reqwest::Client, url: &str) -> String {
    let (c, url) = (c.clone(), url.to_string());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .expect("rt")
            .block_on(async move {
                let all: Value = c
                    .get(format!("{url}/v1/adapters"))
                    .send()
                    .await
                    .expect("adapters")
                    .json()
                    .await
                    .expect("json");
                let failing: Vec<&Value> = all
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|x| x["status"] != "ready")
                            .take(3)
                            .collect()
                    })
                    .unwrap_or_default();
                format!("{failing:#?}")
            })
    })
    .join()
    .expect("status")
}

struct Row {
    adapters: usize,
    schedules: usize,
    queued: usize,
    loaded: f64,
    called: f64,
    quiet: f64,
}

async fn measure(adapters: usize, schedules: usize, queued: usize, quiet: Duration) -> Row {
    let dep = Deployment::new();
    for a in 0..adapters {
        let mut text = format!(
            "name = \"probe-{a:03}\"\ncomponent = \"{}\"\n[limits]\nconcurrency = 4\n",
            component("weft-probe").display()
        );
        for s in 0..schedules {
            text.push_str(&format!(
                "\n[[schedules]]\nname = \"s{s}\"\nevery = \"6h\"\n"
            ));
        }
        dep.manifest(&format!("probe-{a:03}"), &text);
    }
    // Five instances each (four calls and a token fetch): 500 for 100 adapters.
    let served = Served::start(&dep, &["--workers", "8", "--max-instances", "600"]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    eventually(Duration::from_secs(300), || async {
        let all: Value = c
            .get(format!("{url}/v1/adapters"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let ready = all
            .as_array()?
            .iter()
            .filter(|a| a["status"] == "ready")
            .count();
        (ready == adapters).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("every adapter loads: {}", status(&c, &url)));
    // Jobs waiting in the queue, spread over the adapters, due tomorrow.
    for chunk in (0..queued).collect::<Vec<_>>().chunks(500) {
        let a = chunk[0] % adapters;
        let jobs: Vec<Value> = chunk
            .iter()
            .map(|i| json!({ "op": "echo", "input": { "i": i }, "delay_ms": 86_400_000u64 }))
            .collect();
        let r = c
            .post(format!("{url}/v1/adapters/probe-{a:03}/jobs:batch"))
            .json(&json!({ "jobs": jobs }))
            .send()
            .await
            .expect("enqueue");
        assert_eq!(r.status(), 202);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = rss_mib(served.pid());
    for round in 0..10 {
        for a in 0..adapters {
            let r = c
                .post(format!("{url}/v1/adapters/probe-{a:03}/ops/echo"))
                .json(&json!({ "round": round }))
                .send()
                .await
                .expect("call");
            assert!(r.status().is_success());
        }
    }
    let called = rss_mib(served.pid());
    tokio::time::sleep(quiet).await;
    let quiet = rss_mib(served.pid());
    Row {
        adapters,
        schedules: adapters * schedules,
        queued,
        loaded,
        called,
        quiet,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let adapters = env_usize("BENCH_ADAPTERS", 100);
    let schedules = env_usize("BENCH_SCHEDULES", 10);
    let queued = env_usize("BENCH_QUEUED", 1_000);
    let quiet = Duration::from_secs(env_usize("BENCH_QUIET_SECS", 60) as u64);
    let one = measure(1, 0, 0, quiet).await;
    let many = measure(adapters, schedules, queued, quiet).await;
    let mut table = format!(
        "## Memory with many adapters, schedules and waiting jobs, in one run\n\nCommand: `make bench` (this part: `WEFT_BIN=target/release/weft cargo bench -p weft-tests --bench footprint`). Machine: nproc {}, {}. Resident memory (VmRSS) of `weft serve --workers 8 --max-instances 600` on SQLite, each adapter with `limits.concurrency = 4`: after every adapter loaded (and the waiting jobs enqueued), after ten calls through each adapter, and after {} s more with nothing to do.\n\n| adapters | schedules | jobs waiting | loaded MiB | after calls MiB | after {} s quiet MiB |\n|---|---|---|---|---|---|\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        weft::clock::rfc3339(weft::clock::now_ms()),
        quiet.as_secs(),
        quiet.as_secs(),
    );
    for r in [&one, &many] {
        table.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |\n",
            r.adapters, r.schedules, r.queued, r.loaded, r.called, r.quiet
        ));
    }
    let added = (many.adapters - one.adapters).max(1) as f64;
    table.push_str(&format!(
        "\nEach adapter added costs {:.2} MiB once loaded and called ({:.1} MiB for {} more); the quiet spell changed memory by {:+.1} MiB.\n\n",
        (many.called - one.called) / added,
        many.called - one.called,
        many.adapters - one.adapters,
        many.quiet - many.called,
    ));
    print!("{table}");
    write_benchmark("footprint", &table);
}
