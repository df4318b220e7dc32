//! Durable jobs end to end against the bare store, in one run, on SQLite and PostgreSQL:
//!
//! - **bare store**: the least a job needs — enqueue, claim, finish — as three store calls back
//!   to back from one task (the same SQL Weft runs, no HTTP, no worker, no instance);
//! - **Weft**: `JOBS` no-op jobs (probe `echo`) enqueued over HTTP by `CLIENTS` concurrent
//!   clients against a release `weft serve`, from the first enqueue to the last success (read
//!   from the store, one indexed count of successes every 50 ms), as deployed (API tokens on,
//!   every request carrying one; default flags) and tuned (`--insecure-no-auth`, `--workers`);
//! - the same with 10,000 and 100,000 jobs already waiting (`BENCH_DEPTHS`) in the table (due
//!   in a day), so that a queue that grows cannot hide a claim that scans it;
//! - the same jobs enqueued `BENCH_BATCH` (100) a request through `jobs:batch`, and a backlog
//!   of `BENCH_BACKLOG` (10,000) jobs sent that way, so that every claim meets thousands due.
//!
//! `BENCH_JOBS`, `BENCH_CLIENTS`, `BENCH_WORKERS` (the tuned rows') change the load;
//! `BENCH_STORES=sqlite` or `postgres` runs one store. `WEFT_BASELINE_BIN` names another build
//! of `weft` (an earlier commit's, say): every Weft row then runs both builds, alternating,
//! best of `BENCH_ROUNDS` (3) each, and the table shows their ratio, so that a change is judged
//! against the code before it in one run on the same machine rather than against a figure
//! from another day.
//!
//! Writes its table between the `jobs:begin` / `jobs:end` markers of BENCHMARKS.md (unless
//! `BENCH_NO_WRITE` is set). `make bench` points `WEFT_BIN` at the release build.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::store::{JobOutcome, NewJob, Store};
use weft_tests::harness::{Deployment, Served, component, eventually, weft_bin, write_benchmark};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pg_url() -> String {
    std::env::var("WEFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn pg_schema() -> String {
    format!("{}?schema=bj_{}", pg_url(), uuid::Uuid::new_v4().simple())
}

fn job(i: usize, run_at_ms: i64) -> NewJob {
    NewJob {
        id: uuid::Uuid::new_v4().to_string(),
        adapter: "probe".into(),
        op: "echo".into(),
        input: format!("{{\"i\":{i}}}"),
        max_attempts: 3,
        run_at_ms,
        idempotency_key: None,
        request_hash: None,
        priority: 0,
    }
}

fn now_ms() -> i64 {
    weft::clock::now_ms()
}

/// Jobs per second of enqueue → claim → finish, back to back, on the bare store.
async fn bare(store: &Arc<dyn Store>, jobs: usize) -> f64 {
    let started = Instant::now();
    for i in 0..jobs {
        let now = now_ms();
        store.job_enqueue(&job(i, now), now).await.expect("enqueue");
        let claimed = store
            .job_claim("bench", now, now + 60_000)
            .await
            .expect("claim")
            .expect("a job");
        store
            .job_finish(
                &claimed.id,
                claimed.attempt,
                &JobOutcome::Succeeded("{}".into()),
                now_ms(),
            )
            .await
            .expect("finish");
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}

/// Fills the store with `depth` jobs due in a day (they wait, untouched, in the table).
async fn fill(store: &Arc<dyn Store>, depth: usize) {
    let later = now_ms() + 86_400_000;
    let batch: Vec<NewJob> = (0..depth).map(|i| job(i, later)).collect();
    for chunk in batch.chunks(5_000) {
        store.job_enqueue_all(chunk, now_ms()).await.expect("fill");
    }
}

/// How one run is loaded.
#[derive(Clone, Copy)]
struct Load {
    jobs: usize,
    clients: usize,
    /// `None`: Weft as deployed (API tokens on, every request carrying a token; default
    /// flags, so workers follow the adapters' concurrency). `Some(n)`: tuned, `--workers n`
    /// and `--insecure-no-auth`.
    workers: Option<usize>,
    /// Jobs per enqueue request: 1 is `?mode=async`, more is `jobs:batch`.
    batch: usize,
}

/// Jobs per second through a real `weft serve`: HTTP enqueues by `clients` clients, workers,
/// instances, finishes.
async fn weft(bin: &Path, store_url: &str, depth: usize, load: Load) -> f64 {
    let Load {
        jobs,
        clients,
        workers,
        batch,
    } = load;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[limits]\nconcurrency = 64\n",
            component("weft-probe").display()
        ),
    );
    if depth > 0 {
        let store = weft::store::open(Some(store_url), &dep.data())
            .await
            .expect("store");
        fill(&store, depth).await;
    }
    let data = dep.data();
    let mut args = vec!["--store", store_url, "--data", data.to_str().expect("utf8")];
    let tuned = workers.map(|n| n.to_string());
    if let Some(n) = &tuned {
        args.extend(["--workers", n.as_str()]);
    }
    let served = Served::start_bin(bin, &dep, &args, tuned.is_none());
    let url = served.url.clone();
    let mut headers = reqwest::header::HeaderMap::new();
    if tuned.is_none() {
        let token = std::fs::read_to_string(data.join("admin-token")).expect("admin token");
        let bearer = format!("Bearer {}", token.trim());
        headers.insert(
            reqwest::header::AUTHORIZATION,
            bearer.parse().expect("header value"),
        );
    }
    let c = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (k..jobs).step_by(clients).collect();
            if batch <= 1 {
                for i in mine {
                    let r = c
                        .post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
                        .json(&serde_json::json!({ "i": i }))
                        .send()
                        .await
                        .expect("enqueue");
                    assert_eq!(r.status(), 202);
                }
                return;
            }
            for chunk in mine.chunks(batch) {
                let jobs: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|i| serde_json::json!({ "op": "echo", "input": { "i": i } }))
                    .collect();
                let r = c
                    .post(format!("{url}/v1/adapters/probe/jobs:batch"))
                    .json(&serde_json::json!({ "jobs": jobs }))
                    .send()
                    .await
                    .expect("enqueue batch");
                assert_eq!(r.status(), 202);
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    eprintln!(
        "  {jobs} enqueues answered in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // Done is read from the store itself (a count every 50 ms), not from /metrics, whose
    // job counts are refreshed at most once a second.
    let direct = Direct::open(store_url, &dep.data()).await;
    eventually(Duration::from_secs(600), || async {
        (direct.successes().await >= jobs as i64).then_some(())
    })
    .await
    .expect("every job succeeds");
    let rate = jobs as f64 / started.elapsed().as_secs_f64();
    drop(served);
    direct.remove().await;
    rate
}

/// The store under test, read and cleared by the bench itself rather than through Weft.
///
/// Successes are counted with one statement on the `jobs_finished` index (state,
/// updated_at_ms), so that the count costs what the run's successes cost. The store's
/// `job_counts` groups the whole table: at 100,000 waiting jobs that took ~40 ms on
/// PostgreSQL, and polled every 50 ms it took most of a core from the server being measured,
/// which is what the "jobs waiting" rows then showed.
enum Direct {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool, String),
}

impl Direct {
    async fn open(store_url: &str, data: &std::path::Path) -> Self {
        match store_url.split_once("?schema=") {
            Some((url, schema)) => {
                let options = url
                    .parse::<sqlx::postgres::PgConnectOptions>()
                    .expect("postgres url")
                    .options([("search_path", schema)]);
                let pool = sqlx::PgPool::connect_with(options).await.expect("postgres");
                Direct::Postgres(pool, schema.to_string())
            }
            None => Direct::Sqlite(
                sqlx::SqlitePool::connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(data.join("weft.db"))
                        .read_only(true),
                )
                .await
                .expect("sqlite"),
            ),
        }
    }

    async fn successes(&self) -> i64 {
        const SQL: &str = "SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'";
        let counted = match self {
            Direct::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
            Direct::Postgres(pool, _) => sqlx::query_scalar(SQL).fetch_one(pool).await,
        };
        counted.unwrap_or(0)
    }

    /// Drops a PostgreSQL run's schema (a SQLite run's store goes with its folder), so that
    /// runs do not pile up tables in the shared database.
    async fn remove(self) {
        if let Direct::Postgres(pool, schema) = self {
            let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&pool)
                .await;
            if let Err(e) = dropped {
                eprintln!("schema {schema} left behind: {e}");
            }
        }
    }
}

/// One Weft row: this build's jobs/s and, with `WEFT_BASELINE_BIN`, the baseline's (each the
/// best of `BENCH_ROUNDS` runs, 3 by default, the builds alternating so that the machine's
/// drift falls on both).
async fn row(
    baseline: Option<&Path>,
    store_url: &dyn Fn() -> String,
    depth: usize,
    load: Load,
) -> (f64, Option<f64>) {
    // The waiting jobs are written through this build's store, whose migrations a baseline
    // from before them would refuse: those rows run this build alone.
    let Some(before) = baseline.filter(|_| depth == 0) else {
        return (weft(&weft_bin(), &store_url(), depth, load).await, None);
    };
    let (mut now, mut then) = (0f64, 0f64);
    for _ in 0..env_usize("BENCH_ROUNDS", 3).max(1) {
        then = then.max(weft(before, &store_url(), depth, load).await);
        now = now.max(weft(&weft_bin(), &store_url(), depth, load).await);
    }
    eprintln!("  baseline {then:.0} jobs/s, this build {now:.0} jobs/s");
    (now, Some(then))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs = env_usize("BENCH_JOBS", 2_000);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let workers = env_usize("BENCH_WORKERS", 32);
    let depths: Vec<usize> = std::env::var("BENCH_DEPTHS")
        .unwrap_or_else(|_| "0,10000,100000".into())
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    let batch = env_usize("BENCH_BATCH", 100);
    let backlog = env_usize("BENCH_BACKLOG", 10_000);
    let baseline: Option<PathBuf> = std::env::var_os("WEFT_BASELINE_BIN").map(PathBuf::from);
    let baseline = baseline.as_deref();
    // As deployed (tokens on, default flags) first, every row; then tuned (`--workers`,
    // `--insecure-no-auth`), one a request and the due backlog, beside it.
    let setups = [("as deployed", None), ("tuned", Some(workers))];
    let mut rows = Vec::new();
    // `BENCH_STORES=postgres` (or `sqlite`) runs one store only, for profiling it alone.
    let stores = std::env::var("BENCH_STORES").unwrap_or_else(|_| "sqlite,postgres".into());
    for (name, url) in [("SQLite", None), ("PostgreSQL", Some(pg_schema()))] {
        let lower = name.to_lowercase();
        if !stores.split(',').any(|s| lower.starts_with(s.trim())) {
            continue;
        }
        let dir = tempfile::tempdir().expect("dir");
        let store = weft::store::open(url.as_deref(), dir.path())
            .await
            .expect("store");
        let base = bare(&store, jobs).await;
        drop(store);
        if let Some(url) = &url {
            Direct::open(url, dir.path()).await.remove().await;
        }
        eprintln!("{name}: bare store {base:.0} jobs/s");
        let store_url = || match &url {
            Some(_) => pg_schema(),
            None => "sqlite".to_string(),
        };
        for (setup, workers) in setups {
            let load = Load {
                jobs,
                clients,
                workers,
                batch: 1,
            };
            let deployed = workers.is_none();
            let mut runs: Vec<(usize, Load)> = depths
                .iter()
                .filter(|&&d| deployed || d == 0)
                .map(|&d| (d, load))
                .collect();
            if batch > 1 && deployed {
                runs.push((0, Load { batch, ..load }));
            }
            // A backlog that is due: enqueued in batches far faster than it runs, so that
            // every claim meets thousands of due jobs (a claim that reads them all shows here).
            if batch > 1 && backlog > jobs {
                runs.push((
                    0,
                    Load {
                        batch,
                        jobs: backlog,
                        ..load
                    },
                ));
            }
            for (depth, load) in runs {
                let (rate, before) = row(baseline, &store_url, depth, load).await;
                eprintln!(
                    "{name}, {setup}, {depth} waiting, {} jobs {} a request: {rate:.0} jobs/s (bare store {base:.0})",
                    load.jobs, load.batch
                );
                rows.push((name, setup, depth, load, rate, base, before));
            }
        }
    }
    let compared = match baseline {
        Some(bin) => format!(
            " Baseline: the `weft` build at `{}`, run alternately with this one at the same flags, best of {} each (rows with jobs waiting run this build alone: their jobs are written through its store).",
            bin.display(),
            env_usize("BENCH_ROUNDS", 3).max(1)
        ),
        None => String::new(),
    };
    let (extra_head, extra_rule) = if baseline.is_some() {
        (" baseline jobs/s | this / baseline |", "---|---|")
    } else {
        ("", "")
    };
    let mut table = format!(
        "## Jobs end to end against the bare store, in one run\n\nCommand: `make bench` (this part: `WEFT_BIN=target/release/weft cargo bench -p weft-tests --bench jobs`). Machine: nproc {}, {}. {jobs} no-op jobs (probe `echo`, `limits.concurrency = 64`; {backlog} in the backlog rows) enqueued over HTTP by {clients} concurrent clients, one job a request (`?mode=async`) or {batch} a request (`POST /v1/adapters/probe/jobs:batch`), first enqueue to last success. **As deployed**: API tokens on, every request carrying a token, default flags (workers follow the adapters' concurrency). **Tuned**: `--insecure-no-auth --workers {workers}`. The bare store: enqueue, claim and finish of {jobs} jobs back to back through the store's own SQL from one task.{compared}\n\n| store | flags | jobs waiting, not due | jobs run | jobs a request | Weft jobs/s | bare store jobs/s | ratio |{extra_head}\n|---|---|---|---|---|---|---|---|{extra_rule}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        weft::clock::rfc3339(now_ms()),
    );
    for (name, setup, depth, load, rate, base, before) in rows {
        let versus = match (baseline, before) {
            (Some(_), Some(b)) => format!(" {b:.0} | **{:.2}×** |", rate / b),
            (Some(_), None) => " – | – |".to_string(),
            (None, _) => String::new(),
        };
        table.push_str(&format!(
            "| {name} | {setup} | {depth} | {} | {} | {rate:.0} | {base:.0} | **{:.2}×** |{versus}\n",
            load.jobs,
            load.batch,
            rate / base
        ));
    }
    table.push('\n');
    print!("{table}");
    write_benchmark("jobs", &table);
}
