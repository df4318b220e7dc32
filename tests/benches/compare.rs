//! Weft against what a user would otherwise pick, every comparison in one run, the table
//! written into BENCHMARKS.md (between the `compare` markers) with the command, the machine and
//! the date. Run by `make bench`, which builds the release `weft`, the components, the hello
//! wasi:http component and `wasmtime` 48 (`cargo install`, into `target/tools`) first, and runs
//! the criterion invoke bench whose medians the first rows quote.
//!
//! Environment: `WEFT_BIN` (release weft), `WASMTIME_BIN` (wasmtime-cli 48), `BENCH_SECONDS`
//! (length of each load phase, default 5), `BENCH_ONLY` (one part: `invoke`, `front`, `call`,
//! `tokens`, `memory`, `lenovo`, `journal`; for profiling — BENCHMARKS.md is then left alone),
//! `BENCH_ROUNDS` (alternating rounds of the Lenovo comparison, default 5).

#![allow(missing_docs)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::{CallOptions, Runtime};
use weft_tests::harness::{Deployment, Served, component, workspace, write_benchmark};

const ECHO: &str = r#"{"items":[{"pnCode":"ABCDE","brandName":"AMS","stockQuantity":1000},{"pnCode":"FGHIJ","brandName":"AMS","stockQuantity":7}]}"#;
const CONNECTIONS: usize = 32;

/// Throughput and latencies of one load phase, as `wrk` reports them.
struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

impl Load {
    fn rps(&self) -> f64 {
        self.rps
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn seconds() -> Duration {
    Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    )
}

/// `wrk` (Debian's package, installed by `make bench`) with one thread and `CONNECTIONS`
/// keep-alive connections POSTing `body` to `url` for `length`, after a one-second warm-up,
/// with `Authorization: Bearer TOKEN` on every request when a token is given. A
/// load generator in C on one thread leaves the servers most of the machine; the in-process tokio
/// client used before took about a third of the CPU it was measuring with.
async fn load(url: &str, body: &'static str, length: Duration) -> Load {
    load_as(url, body, None, length).await
}

async fn load_as(url: &str, body: &'static str, token: Option<&str>, length: Duration) -> Load {
    let script = std::env::temp_dir().join(format!("weft-bench-{}.lua", std::process::id()));
    let auth = token.map_or(String::new(), |t| {
        format!("wrk.headers[\"Authorization\"] = \"Bearer {t}\"\n")
    });
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = [[{body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{auth}"
        ),
    )
    .expect("wrk script");
    let (target, length) = (url.to_string(), length.as_secs().max(1));
    let path = script.clone();
    let report = tokio::task::spawn_blocking(move || {
        let run = |seconds: u64| {
            let out = std::process::Command::new("wrk")
                .args([
                    "-t1",
                    &format!("-c{CONNECTIONS}"),
                    &format!("-d{seconds}s"),
                    "--latency",
                    "-s",
                ])
                .arg(&path)
                .arg(&target)
                .output()
                .expect("wrk (Debian's package wrk; `make bench` installs it)");
            assert!(
                out.status.success(),
                "wrk: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        run(1);
        run(length)
    })
    .await
    .expect("wrk task");
    let _ = std::fs::remove_file(&script);
    parse_wrk(&report).unwrap_or_else(|| panic!("unexpected wrk report for {url}:\n{report}"))
}

/// Reads requests/s, the 50th and 99th percentiles and the failures out of a `wrk --latency`
/// report.
fn parse_wrk(report: &str) -> Option<Load> {
    let field = |prefix: &str| {
        report
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let latency = |text: &str| -> Option<Duration> {
        let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = number.parse().ok()?;
        let factor = match unit {
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            _ => return None,
        };
        Some(Duration::from_secs_f64(n * factor))
    };
    let socket_errors: u64 = field("Socket errors:").map_or(0, |t| {
        t.split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").map_or(Some(0), |t| t.parse().ok())?;
    Some(Load {
        rps: field("Requests/sec:")?.parse().ok()?,
        p50: latency(field("50%")?)?,
        p99: latency(field("99%")?)?,
        errors: socket_errors + non_2xx,
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn wait_for(addr: &str) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never accepted a connection");
}

/// A bare hyper server (through axum) answering every POST with its body, on a runtime of its
/// own with as many workers as the machine has cores.
fn bare_hyper() -> String {
    let port = free_port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new().fallback(|body: axum::body::Bytes| async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            });
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind");
            let _ = axum::serve(listener, app).await;
        });
    });
    format!("127.0.0.1:{port}")
}

fn wasmtime_bin() -> PathBuf {
    std::env::var_os("WASMTIME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/tools/bin/wasmtime"))
}

fn hello_component() -> PathBuf {
    component("weft-hello-http")
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The criterion medians of `make bench`'s invoke run, by function name.
fn criterion_medians() -> Vec<(String, f64)> {
    let dir = workspace().join("target/criterion/no-io invoke");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let new = entry.path().join("new");
        let (Ok(b), Ok(e)) = (
            std::fs::read_to_string(new.join("benchmark.json")),
            std::fs::read_to_string(new.join("estimates.json")),
        ) else {
            continue;
        };
        let (Ok(b), Ok(e)) = (
            serde_json::from_str::<Value>(&b),
            serde_json::from_str::<Value>(&e),
        ) else {
            continue;
        };
        if let (Some(name), Some(median)) = (
            b["function_id"].as_str(),
            e["median"]["point_estimate"].as_f64(),
        ) {
            out.push((name.to_string(), median));
        }
    }
    out
}

fn sc8_manifest(dep: &Deployment, url: &str) -> String {
    format!(
        r#"
name = "supercarrier8"
component = "{}"
base_url = "{url}"

[secrets]
access_key = "{}"
secret_key = "{}"

[token]
min_fetch_interval = "1s"

[limits]
concurrency = 64
timeout = "120s"
"#,
        component("weft-supercarrier8").display(),
        dep.secret("ak", "bench-key"),
        dep.secret("sk", "bench-secret"),
    )
}

async fn runtime(dep: &Deployment) -> Runtime {
    let mut options = dep.options();
    options.engine.max_instances = 1000;
    Runtime::open(options).await.expect("runtime")
}

/// Sequential calls: Weft's `call` op against the 超8 simulator, and plain reqwest sending the
/// same request with the same token; `latency` is the simulated platform's own time.
async fn platform_call(latency: Duration, n: usize) -> (Duration, Duration) {
    use weft_tests::supercarrier8::{SuperCarrier8, md5_hex};
    let sim = SuperCarrier8::start("bench-key", "bench-secret", 28800, Duration::ZERO).await;
    sim.set_latency(latency);
    let dep = Deployment::new();
    dep.manifest("sc8", &sc8_manifest(&dep, &sim.base_url()));
    let rt = runtime(&dep).await;
    let input = json!({"method": "GET", "path": "/cncop/demo"}).to_string();
    let weft_call = || async {
        rt.invoke("supercarrier8", "call", &input, CallOptions::default())
            .await
            .expect("weft call")
    };
    for _ in 0..20 {
        weft_call().await;
    }
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!(
            "{}/cncop/ca/v1/applications/get-token",
            sim.base_url()
        ))
        .json(&json!({"accessKey": "bench-key", "secretKeySign": md5_hex("bench-secret")}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["data"]["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let plain = || async {
        let v: Value = client
            .get(format!("{}/cncop/demo", sim.base_url()))
            .header("Authorization", &token)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("plain")
            .json()
            .await
            .expect("json");
        assert_eq!(v["code"], 200);
    };
    for _ in 0..20 {
        plain().await;
    }
    // Interleaved, so that drift of the shared machine hits both alike.
    let (mut w, mut p) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        weft_call().await;
        w.push(t.elapsed());
        let t = Instant::now();
        plain().await;
        p.push(t.elapsed());
    }
    w.sort();
    p.sort();
    (w[n / 2], p[n / 2])
}

/// 1,000 concurrent first calls on a cold token cache, then on a warm one.
async fn stampede() -> (Duration, Duration, Duration, Duration, usize) {
    use weft_tests::supercarrier8::SuperCarrier8;
    let sim = SuperCarrier8::start("bench-key", "bench-secret", 28800, Duration::ZERO).await;
    let dep = Deployment::new();
    dep.manifest("sc8", &sc8_manifest(&dep, &sim.base_url()));
    let rt = Arc::new(runtime(&dep).await);
    let burst = |rt: Arc<Runtime>| async move {
        let started = Instant::now();
        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let rt = rt.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    rt.invoke(
                        "supercarrier8",
                        "call",
                        r#"{"method":"GET","path":"/cncop/demo"}"#,
                        CallOptions::default(),
                    )
                    .await
                    .expect("call");
                    t.elapsed()
                })
            })
            .collect();
        let mut lat = Vec::new();
        for c in calls {
            lat.push(c.await.expect("task"));
        }
        lat.sort();
        (started.elapsed(), lat[lat.len() * 99 / 100])
    };
    let (cold, cold_p99) = burst(rt.clone()).await;
    let (warm, warm_p99) = burst(rt.clone()).await;
    (
        cold,
        cold_p99,
        warm,
        warm_p99,
        sim.ledger(|l| l.token_requests),
    )
}

/// Lenovo's 100,000 rows through Weft's `sync` and through a plain reqwest loop sending the
/// same 200 requests, alternating, `BENCH_ROUNDS` (5) times each: each side's median, and the
/// requests each made. One sample a side swung from 1.03× to 1.59× between runs on this
/// shared machine; alternating rounds meet the same noise, and the median drops the outliers.
async fn lenovo(rounds: usize) -> (Duration, Duration, usize, usize) {
    let rows = lenovo_rows();
    let input = lenovo_input();
    let (mut weft, mut plain) = (Vec::new(), Vec::new());
    let (mut weft_requests, mut plain_requests) = (0, 0);
    for _ in 0..rounds {
        let (took, sent) = lenovo_weft(&input, "failures").await;
        weft.push(took);
        weft_requests = sent;
        let (took, sent) = lenovo_plain(&rows).await;
        plain.push(took);
        plain_requests = sent;
        eprintln!(
            "Lenovo round: Weft {} / plain {}",
            ms(weft[weft.len() - 1]),
            ms(took)
        );
    }
    (median(weft), median(plain), weft_requests, plain_requests)
}

/// The 100,000 rows of the Lenovo comparisons.
fn lenovo_rows() -> Vec<Value> {
    (0..100_000)
        .map(|i| json!({"LENOVO_PN": format!("pn_{i}"), "PLANT": "1111", "QTY": i}))
        .collect()
}

/// `sync`'s input of [`lenovo_rows`], written straight from the rows: `json!` would deep-copy
/// them into a tree and drop it, and the allocator's consolidation of those 400,000 freed
/// blocks then landed inside Weft's timed call (its first large allocation), 11 ms of it in a
/// profile.
fn lenovo_input() -> String {
    #[derive(serde::Serialize)]
    struct Sync<'a> {
        data_category: &'a str,
        biz_key: &'a str,
        action: &'a str,
        rows: &'a [Value],
    }
    serde_json::to_string(&Sync {
        data_category: "inventory",
        biz_key: "stock",
        action: "add",
        rows: &lenovo_rows(),
    })
    .expect("input")
}

/// Lenovo's 100,000 rows, the adapter's journal off, kept for failures (the default) and kept
/// for every call, alternating `rounds` times: each setting's median.
async fn lenovo_journal(rounds: usize) -> [Duration; 3] {
    let input = lenovo_input();
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for _ in 0..rounds {
        for (i, keep) in JOURNAL_KEEPS.iter().enumerate() {
            samples[i].push(lenovo_weft(&input, keep).await.0);
        }
    }
    samples.map(median)
}

/// The `[journal] keep` settings compared, the first the baseline.
const JOURNAL_KEEPS: [&str; 3] = ["off", "failures", "all"];

/// The front door as deployed (API tokens on), one platform request a call (`probe http-get`
/// of a loopback platform answering 2 KiB), an adapter for each journal setting; phases
/// alternating `rounds` times: each setting's median throughput.
async fn front_journal(length: Duration, rounds: usize) -> [f64; 3] {
    let app = axum::Router::new().fallback(|| async { "x".repeat(2048) });
    let (addr, _task) = weft_tests::harness::serve_app(app).await;
    let dep = Deployment::new();
    for keep in JOURNAL_KEEPS {
        dep.manifest(
            &format!("probe-{keep}"),
            &format!(
                "name = \"probe-{keep}\"\ncomponent = \"{}\"\nallowed_hosts = [\"127.0.0.1:{}\"]\n[limits]\nconcurrency = 64\n[journal]\nkeep = \"{keep}\"\n",
                component("weft-probe").display(),
                addr.port()
            ),
        );
    }
    let log = dep.data().with_file_name("serve.log");
    let served = Served::start_secure(&dep, &[], "warn", &log);
    let token = std::fs::read_to_string(dep.data().join("admin-token")).expect("admin token");
    let body: &'static str =
        Box::leak(format!(r#"{{"url":"http://127.0.0.1:{}/x"}}"#, addr.port()).into_boxed_str());
    let mut samples: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        for (i, keep) in JOURNAL_KEEPS.iter().enumerate() {
            let url = format!("{}/v1/adapters/probe-{keep}/ops/http-get", served.url);
            let l = load_as(&url, body, Some(token.trim()), length).await;
            assert_eq!(l.errors, 0, "probe-{keep}");
            samples[i].push(l.rps());
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    })
}

/// `BENCH_ROUNDS`: how many times each side of the Lenovo comparison runs (5).
fn lenovo_rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize)
        .max(1)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One `sync` of `input` through a fresh deployment (a batch already sent would only resume),
/// the adapter's `[journal] keep` set to `journal`: its time and the requests the simulator saw.
async fn lenovo_weft(input: &str, journal: &str) -> (Duration, usize) {
    use weft_tests::lenovo::Lenovo;
    let sim = Lenovo::start("bench-client", "bench-secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "lenovo",
        &format!(
            r#"
name = "lenovo"
component = "{}"
base_url = "{}"

[secrets]
client_id = "{}"
client_secret = "{}"

[limits]
memory = "512MiB"
request_body = "64MiB"
timeout = "300s"
cpu_time = "120s"

[journal]
keep = "{journal}"

[config]
token_url = "{}"
app_name = "WEFT"
"#,
            component("weft-lenovo").display(),
            sim.base_url(),
            dep.secret("id", "bench-client"),
            dep.secret("secret", "bench-secret"),
            sim.token_url(),
        ),
    );
    let rt = runtime(&dep).await;
    let started = Instant::now();
    rt.invoke("lenovo", "sync", input, CallOptions::default())
        .await
        .expect("sync");
    let weft = started.elapsed();
    let weft_requests = sim.ledger(|l| l.requests.len());
    (weft, weft_requests)
}

/// The same 200 requests from a plain reqwest loop: its time and the requests seen.
async fn lenovo_plain(rows: &[Value]) -> (Duration, usize) {
    use weft_tests::lenovo::Lenovo;
    let plain_sim = Lenovo::start("bench-client", "bench-secret").await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let token: Value = client
        .post(plain_sim.token_url())
        .basic_auth("bench-client", Some("bench-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token").to_string();
    for (i, chunk) in rows.chunks(500).enumerate() {
        let body = json!({
            "appName": "WEFT",
            "batch_id": "2611231200ab12",
            "batch_size": rows.len(),
            "seq_id": (i + 1).to_string(),
            "seq_size": chunk.len(),
            "data": chunk,
        });
        let r: Value = client
            .post(format!("{}/inventory/stock", plain_sim.base_url()))
            .bearer_auth(&token)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(r["code"], "0", "{r}");
    }
    let plain = started.elapsed();
    (plain, plain_sim.ledger(|l| l.requests.len()))
}

/// `weft serve` with every manifest of manifests/: RSS idle, and the most seen under load.
async fn memory() -> (u64, u64, Load) {
    let dep = Deployment::new();
    let dir = workspace().join("manifests");
    let plugin_dir = component("weft-sekorm")
        .parent()
        .map(Path::to_path_buf)
        .expect("folder");
    let port = free_port();
    let child = weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(&dir)
        .arg("--data")
        .arg(dep.data())
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("WEFT_LOG", "error")
        .env("WEFT_PLUGIN_DIR", &plugin_dir)
        .envs([
            ("SEKORM_ACCOUNT", "a"),
            ("SEKORM_APP_SECRET", "s"),
            ("LENOVO_CLIENT_ID", "a"),
            ("LENOVO_CLIENT_SECRET", "s"),
            ("LENOVO_TEST_CLIENT_ID", "a"),
            ("LENOVO_TEST_CLIENT_SECRET", "s"),
            ("SC8_ACCESS_KEY", "a"),
            ("SC8_SECRET_KEY", "s"),
            ("HVS_SYSTEM_KEY", "a"),
            ("HVS_SYSTEM_PASSWORD", "s"),
            ("HVS_USER_NAME", "u"),
            ("FXIAOKE_CRM_TOKEN", "c"),
            ("FXIAOKE_PUSH_TOKEN", "p"),
            // 超8 refreshes its token at start-up; keep that off the loopback-free machine.
            ("SC8_BASE_URL", "http://127.0.0.1:9"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("weft serve");
    let child = Child(child);
    let addr = format!("127.0.0.1:{port}");
    wait_for(&addr).await;
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let ready: Value = client
            .get(format!("http://{addr}/v1/adapters"))
            .send()
            .await
            .expect("adapters")
            .json()
            .await
            .expect("json");
        let all = ready
            .as_array()
            .map(|a| a.iter().all(|s| s["status"] == "ready"));
        if all == Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.0.id();
    let idle = rss_kib(pid);
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let url = format!("http://{addr}/v1/adapters/fxiaoke/ops/list-records");
    let l = load(&url, r#"{"objAPIName":"SalesOrderObj"}"#, seconds()).await;
    sampler.abort();
    (idle, peak.load(std::sync::atomic::Ordering::Relaxed), l)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "nproc {cores}, {:.1} GiB memory, {date}",
        mem as f64 / 1024.0 / 1024.0
    )
}

fn wanted(part: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only == part)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let length = seconds();
    let mut r = String::new();
    let line = |r: &mut String, s: String| {
        println!("{s}");
        r.push_str(&s);
        r.push('\n');
    };
    line(
        &mut r,
        "## Weft against the alternatives, in one run\n".into(),
    );
    line(
        &mut r,
        format!(
            "Command: `make bench`. Machine: {}. Each HTTP phase: {} s after a 1 s warm-up, `wrk -t1 -c{CONNECTIONS}` (keep-alive), the same 130-byte JSON body. Ratios are the result; absolute numbers are context (a shared 2-core machine: the load generator's one thread competes with the server it measures).\n",
            machine(),
            length.as_secs()
        ),
    );
    line(&mut r, "| figure | Weft | compared with | ratio |".into());
    line(&mut r, "|---|---|---|---|".into());

    let medians = criterion_medians();
    let find = |needle: &str| {
        medians
            .iter()
            .find(|(n, _)| n.contains(needle))
            .map(|(_, v)| *v)
    };
    if !wanted("invoke") {
    } else if let (Some(weft), Some(bare), Some(plain)) = (
        find("weft Runtime::invoke"),
        find("(pooling)"),
        find("plain Rust"),
    ) {
        line(
            &mut r,
            format!(
                "| no-I/O `invoke` (criterion median) | {:.1} µs | bare wasmtime instantiate+call {:.1} µs; plain Rust JSON {:.2} µs | **{:.2}×** bare wasmtime; {:.0}× plain Rust |",
                weft / 1000.0,
                bare / 1000.0,
                plain / 1000.0,
                weft / bare,
                weft / plain
            ),
        );
        if let Some(tuned) = find("(pooling with Weft's settings)") {
            line(
                &mut r,
                format!(
                    "| same | same | bare wasmtime instantiate+call, its pool reset as Weft's engine resets it: {:.1} µs | {:.2}× |",
                    tuned / 1000.0,
                    weft / tuned
                ),
            );
        }
    }

    // Front door against wasmtime serve and bare hyper.
    if wanted("front") {
        front(&mut r, length, &line).await;
    }
    if wanted("call") {
        for latency in [Duration::ZERO, Duration::from_millis(20)] {
            let (weft, plain) = platform_call(latency, 200).await;
            line(
                &mut r,
                format!(
                    "| one platform request (超8 `call` → simulator{}), median of 200 | {} | plain reqwest, same request and token: {} | **{:.3}×** ({:+.2} ms) |",
                    if latency.is_zero() {
                        ", loopback".to_string()
                    } else {
                        format!(" answering in {} ms", latency.as_millis())
                    },
                    ms(weft),
                    ms(plain),
                    weft.as_secs_f64() / plain.as_secs_f64(),
                    (weft.as_secs_f64() - plain.as_secs_f64()) * 1000.0
                ),
            );
        }
    }
    if wanted("tokens") {
        let (cold, cold_p99, warm, warm_p99, fetches) = stampede().await;
        line(
            &mut r,
            format!(
                "| 1,000 concurrent first calls, cold token cache | all done in {} (p99 {}), **{fetches} token fetch** | the same 1,000 on a warm cache: {} (p99 {}) | {:.2}× |",
                ms(cold),
                ms(cold_p99),
                ms(warm),
                ms(warm_p99),
                cold.as_secs_f64() / warm.as_secs_f64()
            ),
        );
    }
    if wanted("memory") {
        let (idle, peak, l) = memory().await;
        line(
            &mut r,
            format!(
                "| memory: `weft serve` with all {} manifests of manifests/ loaded | RSS idle {:.1} MiB; under load {:.1} MiB (`fxiaoke list-records`, {:.0} req/s{}) | — | — |",
                std::fs::read_dir(workspace().join("manifests"))
                    .map(|d| d.count())
                    .unwrap_or(0),
                idle as f64 / 1024.0,
                peak as f64 / 1024.0,
                l.rps(),
                if l.errors > 0 {
                    format!(", {} errors", l.errors)
                } else {
                    String::new()
                }
            ),
        );
    }
    if wanted("lenovo") {
        let rounds = lenovo_rounds();
        let (weft, plain, weft_requests, plain_requests) = lenovo(rounds).await;
        line(
            &mut r,
            format!(
                "| Lenovo: 100,000 rows through `sync` | {} ({weft_requests} requests; median of {rounds} rounds) | plain reqwest loop, same {plain_requests} requests, alternating: {} | **{:.2}×** |",
                ms(weft),
                ms(plain),
                weft.as_secs_f64() / plain.as_secs_f64()
            ),
        );
    }
    if wanted("journal") {
        let rounds = lenovo_rounds();
        let [off, failures, all] = front_journal(length, rounds).await;
        line(
            &mut r,
            format!(
                "| front door as deployed, one 2 KiB platform answer a call, `[journal] keep = \"failures\"` (the default; every call succeeds) / `\"all\"` | {failures:.0} / {all:.0} req/s (median of {rounds} alternating phases) | `keep = \"off\"`: {off:.0} req/s | **{:.3}×** / **{:.3}×** |",
                failures / off,
                all / off
            ),
        );
        let [off, failures, all] = lenovo_journal(rounds).await;
        line(
            &mut r,
            format!(
                "| Lenovo: 100,000 rows through `sync`, `[journal] keep = \"failures\"` / `\"all\"` | {} / {} (median of {rounds} alternating rounds) | `keep = \"off\"`: {} | **{:.3}×** / **{:.3}×** |",
                ms(failures),
                ms(all),
                ms(off),
                failures.as_secs_f64() / off.as_secs_f64(),
                all.as_secs_f64() / off.as_secs_f64()
            ),
        );
    }
    line(&mut r, String::new());
    if std::env::var_os("BENCH_ONLY").is_none() {
        write_benchmark("compare", &r);
    }
}

/// `wasmtime serve`'s options for the pooling allocator as Weft's engine resets its slots
/// (`weft::engine::reset_slots`).
fn wasmtime_as_weft() -> String {
    use weft::engine::{DECOMMIT_BATCH, MEMORY_KEEP_RESIDENT, TABLE_KEEP_RESIDENT};
    format!(
        "pooling-allocator=y,pooling-memory-keep-resident={MEMORY_KEEP_RESIDENT},pooling-table-keep-resident={TABLE_KEEP_RESIDENT},pooling-pagemap-scan=auto,pooling-decommit-batch-size={DECOMMIT_BATCH}"
    )
}

/// The front door, `wasmtime serve` (its defaults, and Weft's pooling settings) and bare hyper
/// under the same load.
async fn front(r: &mut String, length: Duration, line: &impl Fn(&mut String, String)) {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[limits]\nconcurrency = 64\n",
            component("weft-probe").display()
        ),
    );
    // As deployed: API tokens on (the default), every request carrying the admin token the
    // first start wrote; then the same build with `--insecure-no-auth`, so that the table says
    // what the token check costs.
    let log = dep.data().with_file_name("serve.log");
    let served = Served::start_secure(&dep, &[], "warn", &log);
    let token = std::fs::read_to_string(dep.data().join("admin-token")).expect("admin token");
    let weft_load = load_as(
        &format!("{}/v1/adapters/probe/ops/echo", served.url),
        ECHO,
        Some(token.trim()),
        length,
    )
    .await;
    assert_eq!(weft_load.errors, 0, "every request carried a valid token");
    drop(served);
    let served = Served::start(&dep, &[]);
    let open_load = load(
        &format!("{}/v1/adapters/probe/ops/echo", served.url),
        ECHO,
        length,
    )
    .await;
    drop(served);
    let hyper_addr = bare_hyper();
    wait_for(&hyper_addr).await;
    let hyper_load = load(&format!("http://{hyper_addr}/"), ECHO, length).await;
    let wasmtime = wasmtime_bin();
    let as_weft = wasmtime_as_weft();
    let serve = |options: Vec<String>| {
        let wasmtime = wasmtime.clone();
        async move {
            let port = free_port();
            let child = std::process::Command::new(&wasmtime)
                .args(["serve", "-Scli"])
                .args(options)
                .args(["--addr", &format!("127.0.0.1:{port}")])
                .arg(hello_component())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("wasmtime serve");
            let _child = Child(child);
            let addr = format!("127.0.0.1:{port}");
            wait_for(&addr).await;
            load(&format!("http://{addr}/"), ECHO, length).await
        }
    };
    let (wasmtime_load, tuned_load) = if wasmtime.is_file() {
        // Its defaults, and the pooling settings Weft's engine uses (host/src/engine.rs), so
        // that the table says how much of the difference is the allocator's configuration.
        (
            Some(serve(Vec::new()).await),
            Some(serve(vec!["-O".into(), as_weft.clone()]).await),
        )
    } else {
        println!("({} missing: `make bench` installs it)", wasmtime.display());
        (None, None)
    };
    let fmt = |l: &Load| {
        format!(
            "{:.0} req/s, p50 {}, p99 {}{}",
            l.rps(),
            ms(l.p50),
            ms(l.p99),
            if l.errors > 0 {
                format!(", {} errors", l.errors)
            } else {
                String::new()
            }
        )
    };
    line(
        r,
        format!(
            "| `POST /v1/adapters/probe/ops/echo`, no I/O, as deployed (API token on every request) | {} | the same build with `--insecure-no-auth`: {} | **{:.2}×** throughput |",
            fmt(&weft_load),
            fmt(&open_load),
            weft_load.rps() / open_load.rps()
        ),
    );
    if let Some(w) = &wasmtime_load {
        line(
            r,
            format!(
                "| same | same | `wasmtime serve -Scli` (48), hello wasi:http echo: {} | **{:.2}×** throughput |",
                fmt(w),
                weft_load.rps() / w.rps()
            ),
        );
    }
    if let Some(t) = &tuned_load {
        line(
            r,
            format!(
                "| same | same | `wasmtime serve` with Weft's pooling settings (`-O {as_weft}`): {} | {:.2}× throughput |",
                fmt(t),
                weft_load.rps() / t.rps()
            ),
        );
    }
    line(
        r,
        format!(
            "| same | same | bare hyper (axum) echo, no WebAssembly: {} | {:.2}× throughput |",
            fmt(&hyper_load),
            weft_load.rps() / hyper_load.rps()
        ),
    );
}
