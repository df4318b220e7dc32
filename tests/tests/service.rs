//! `weft serve` as a service left running: reloads only on real change, one run per schedule
//! tick whatever the poll resolution, ticks that survive a crash and are retried, schedules
//! visible and runnable, and finished jobs pruned.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_tests::harness::{Deployment, Served, component, eventually, job_in_state};

fn probe(dep: &Deployment, extra: &str) -> std::path::PathBuf {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n{extra}",
            component("weft-probe").display()
        ),
    )
}

/// The value of the series `name{labels}` in a Prometheus text exposition (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn metrics(c: &reqwest::Client, url: &str) -> String {
    c.get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

async fn storage(c: &reqwest::Client, url: &str, key: &str) -> Option<u64> {
    let out: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/storage"))
        .json(&json!({ "key": key }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    out["read"].as_str()?.parse().ok()
}

const PROBE_LOADS: &str = "weft_adapter_loads_total{adapter=\"probe\",outcome=\"published\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_opening_and_touching_watched_files_never_reloads() {
    let dep = Deployment::new();
    let components = dep.manifests().parent().expect("root").join("components");
    std::fs::create_dir_all(&components).expect("components");
    let live = components.join("probe.wasm");
    std::fs::copy(component("weft-probe"), &live).expect("copy");
    let manifest = dep.manifest(
        "probe",
        &format!("name = \"probe\"\ncomponent = \"{}\"\n", live.display()),
    );
    // A broken manifest beside it: its error must be logged once, not at every rescan.
    dep.manifest("broken", "name = \"broken\"\ncomponent = 42\n");
    let log = dep.manifests().parent().expect("root").join("serve.log");
    let served = Served::start_logging(&dep, "info", &log);
    let c = reqwest::Client::new();
    let url = &served.url;
    assert_eq!(metric(&metrics(&c, url).await, PROBE_LOADS), 1.0);
    let broken_at_start = std::fs::read_to_string(&log)
        .expect("log")
        .matches("broken.toml")
        .count();
    assert!(
        broken_at_start >= 1,
        "the broken manifest is reported at start"
    );

    // Three seconds of reading, opening, stat-ing and touching, as a backup job or another
    // `weft` would: no event among these may reload anything.
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        for f in [&manifest, &live, &dep.manifests().join("broken.toml")] {
            let _ = std::fs::read(f).expect("read");
            let _ = std::fs::metadata(f).expect("stat");
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(f)
                .expect("open for writing");
            file.set_modified(std::time::SystemTime::now())
                .expect("touch");
        }
        std::fs::read_dir(dep.manifests()).expect("list").count();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let text = metrics(&c, url).await;
    assert_eq!(
        metric(&text, PROBE_LOADS),
        1.0,
        "no reload without a change"
    );
    let logged = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        logged.matches("manifests reloaded").count(),
        0,
        "no rescan reported: {logged}"
    );
    assert_eq!(
        logged.matches("broken.toml").count(),
        broken_at_start,
        "the broken manifest's error is not logged again: {logged}"
    );

    // One real change: exactly one new version, then quiet again.
    std::fs::write(
        &manifest,
        format!(
            "name = \"probe\"\ncomponent = \"{}\"\n# changed\n",
            live.display()
        ),
    )
    .expect("write");
    let loads = eventually(Duration::from_secs(10), || async {
        let n = metric(&metrics(&c, url).await, PROBE_LOADS);
        (n >= 2.0).then_some(n)
    })
    .await
    .expect("the change is loaded");
    assert_eq!(loads, 2.0);
    for _ in 0..50 {
        let _ = std::fs::read(&manifest).expect("read");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        metric(&metrics(&c, url).await, PROBE_LOADS),
        2.0,
        "one change, one reload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_second_cron_runs_once_per_second() {
    let dep = Deployment::new();
    probe(
        &dep,
        "[[schedules]]\nname = \"tick\"\ncron = \"* * * * * *\"\ntime_zone = \"Asia/Shanghai\"\n",
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let first = eventually(Duration::from_secs(10), || storage(&c, url, "ticks"))
        .await
        .expect("a first tick");
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let last = storage(&c, url, "ticks").await.expect("ticks");
    let elapsed = started.elapsed().as_secs();
    let ran = last - first;
    // One run per whole second that passed (± the boundaries), never one per poll.
    assert!(
        ran + 1 >= elapsed && ran <= elapsed + 1,
        "{ran} runs in {elapsed} s"
    );
    let schedules: Value = c
        .get(format!("{url}/v1/schedules"))
        .send()
        .await
        .expect("schedules")
        .json()
        .await
        .expect("json");
    let s = &schedules[0];
    assert_eq!(s["adapter"], "probe");
    assert_eq!(s["schedule"], "tick");
    assert_eq!(s["cadence"], "cron * * * * * *");
    assert_eq!(s["time_zone"], "Asia/Shanghai");
    assert!(s["next_tick"].is_string(), "{s}");
    assert!(s["last_tick"].is_string(), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_cut_by_a_crash_is_taken_over_and_run_again() {
    let dep = Deployment::new();
    // A five-second tick (once a year by itself, on 18 December; here run now): the kill lands
    // inside it.
    probe(
        &dep,
        "[limits]\ntimeout = \"30s\"\ncpu_time = \"20s\"\n[[schedules]]\nname = \"tick\"\nevery = \"8760h\"\n[config]\ntick_sleep_ms = 5000\n",
    );
    let served = Served::start(&dep, &["--job-lease", "1s"]);
    let c = reqwest::Client::new();
    let url = served.url.clone();
    // The run-now job is the tick here; wait until it is running, then kill the node.
    let run: Value = c
        .post(format!("{url}/v1/schedules/probe/tick/run"))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let job = run["job_id"].as_str().expect("job id").to_string();
    job_in_state(&c, &url, &job, &["running"], Duration::from_secs(10))
        .await
        .expect("the run started");
    served.kill9();
    // Another node on the same store takes the job over once its lease lapses, and runs it.
    let second = Served::start(&dep, &["--job-lease", "1s"]);
    let url = second.url.clone();
    let done = job_in_state(&c, &url, &job, &["succeeded"], Duration::from_secs(30))
        .await
        .expect("the interrupted run is run again to its end");
    assert_eq!(done["attempt"], 2, "{done}");
    assert_eq!(storage(&c, &url, "ticks").await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tick_is_retried_under_the_retry_policy_with_its_real_error_kind() {
    let dep = Deployment::new();
    probe(
        &dep,
        "[retry]\nmax_attempts = 4\ninitial_backoff = \"50ms\"\nmax_backoff = \"100ms\"\n[[schedules]]\nname = \"flaky\"\nevery = \"8760h\"\n[config]\nflaky_failures = 2\n",
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let run: Value = c
        .post(format!("{url}/v1/schedules/probe/flaky/run"))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let job = run["job_id"].as_str().expect("job id").to_string();
    let done = job_in_state(&c, url, &job, &["succeeded"], Duration::from_secs(20))
        .await
        .expect("the tick succeeds on its third attempt");
    assert_eq!(done["attempt"], 3, "{done}");
    assert_eq!(storage(&c, url, "flaky_runs").await, Some(3));
    let text = metrics(&c, url).await;
    assert_eq!(
        metric(
            &text,
            "weft_schedule_runs_total{adapter=\"probe\",schedule=\"flaky\",outcome=\"transient\"}"
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "weft_schedule_runs_total{adapter=\"probe\",schedule=\"flaky\",outcome=\"ok\"}"
        ),
        1.0
    );
    // A second run while none is going; an unknown schedule is a 404 problem.
    let unknown = c
        .post(format!("{url}/v1/schedules/probe/nope/run"))
        .send()
        .await
        .expect("run");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_are_pruned_after_their_retention_and_queued_ones_can_be_cancelled() {
    let dep = Deployment::new();
    probe(&dep, "");
    let served = Served::start(&dep, &["--job-retention", "2s"]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r: Value = c
            .post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
            .json(&json!({ "n": i }))
            .send()
            .await
            .expect("enqueue")
            .json()
            .await
            .expect("json");
        ids.push(r["job_id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        job_in_state(&c, url, id, &["succeeded"], Duration::from_secs(10))
            .await
            .expect("job ran");
    }
    // Retention 2 s, checked every second: gone within a few seconds, and counted.
    for id in &ids {
        eventually(Duration::from_secs(15), || async {
            let r = c.get(format!("{url}/v1/jobs/{id}")).send().await.ok()?;
            (r.status() == 404).then_some(())
        })
        .await
        .expect("pruned");
    }
    let text = metrics(&c, url).await;
    assert!(metric(&text, "weft_jobs_pruned_total") >= 5.0, "{text}");

    // A running or finished job cannot be cancelled; an unknown one is 404.
    let r = c
        .delete(format!("{url}/v1/jobs/{}", ids[0]))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 404);
}

#[test]
fn weft_schedules_lists_and_runs_and_check_prints_the_next_ticks() {
    let dep = Deployment::new();
    probe(
        &dep,
        "[[schedules]]\nname = \"tick\"\ncron = \"0 2 * * *\"\ntime_zone = \"Asia/Shanghai\"\n",
    );
    let weft = |args: &[&str]| {
        std::process::Command::new(weft_tests::harness::weft_bin())
            .arg("--manifests")
            .arg(dep.manifests())
            .arg("--data")
            .arg(dep.data())
            .env("WEFT_CACHE_DIR", weft_tests::harness::shared_cache())
            .args(args)
            .output()
            .expect("weft runs")
    };
    let check = weft(&["check"]);
    assert!(check.status.success(), "{check:?}");
    let out = String::from_utf8_lossy(&check.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("schedule tick"))
        .unwrap_or_else(|| panic!("no schedule line: {out}"));
    // 02:00 in Shanghai is 18:00 UTC, three days running.
    assert_eq!(line.matches("T18:00:00.000Z").count(), 3, "{line}");
    assert!(line.contains("Asia/Shanghai"), "{line}");

    let run = weft(&["schedules", "run", "probe", "tick"]);
    assert!(run.status.success(), "{run:?}");
    let list = weft(&["schedules"]);
    assert!(list.status.success(), "{list:?}");
    let v: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(v[0]["schedule"], "tick");
    assert_eq!(v[0]["time_zone"], "Asia/Shanghai");
    assert!(
        v[0]["next_tick"]
            .as_str()
            .is_some_and(|t| t.ends_with("T18:00:00.000Z")),
        "{v}"
    );
    let missing = weft(&["schedules", "run", "probe", "nope"]);
    assert!(!missing.status.success());

    // A cron that never fires is refused by check, naming the key.
    probe(
        &dep,
        "[[schedules]]\nname = \"never\"\ncron = \"0 0 30 2 *\"\n",
    );
    let check = weft(&["check"]);
    assert_eq!(check.status.code(), Some(2), "{check:?}");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("schedules[0].cron") && out.contains("never fires"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_manifest_cannot_take_over_a_running_adapters_name() {
    let dep = Deployment::new();
    let original = probe(&dep, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let status = || async {
        let list: Value = c
            .get(format!("{url}/v1/adapters"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(list)
    };
    // `cp probe.toml a-probe-copy.toml`: the copy sorts first and claims the same name.
    let copy = dep.manifests().join("a-probe-copy.toml");
    std::fs::copy(&original, &copy).expect("copy");
    let list = eventually(Duration::from_secs(10), || async {
        let list = status().await?;
        let stale = list
            .as_array()?
            .iter()
            .any(|a| a["name"] == "probe" && a["status"] == "stale");
        stale.then_some(list)
    })
    .await
    .expect("the name clash is reported");
    let text = list.to_string();
    assert!(
        text.contains("a-probe-copy.toml and ") && text.contains("/probe.toml:"),
        "both files are named: {text}"
    );
    // The running version still answers.
    let r = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .json(&json!({"still": "here"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    std::fs::remove_file(&copy).expect("remove the copy");
    eventually(Duration::from_secs(10), || async {
        let list = status().await?;
        let arr = list.as_array()?;
        (arr.len() == 1 && arr[0]["status"] == "ready").then_some(())
    })
    .await
    .expect("back to one ready adapter");
    // A copy loaded at start next to the original: neither serves.
    std::fs::copy(&original, &copy).expect("copy");
    drop(served);
    let served = Served::start(&dep, &[]);
    let r = c
        .post(format!("{}/v1/adapters/probe/ops/echo", served.url))
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_ne!(r.status(), 200, "no file wins by sorting first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_listings_are_pages_without_outputs() {
    let dep = Deployment::new();
    probe(&dep, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let mut ids = Vec::new();
    for i in 0..12 {
        let r: Value = c
            .post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
            .json(&json!({ "n": i, "pad": "x".repeat(10_000) }))
            .send()
            .await
            .expect("enqueue")
            .json()
            .await
            .expect("json");
        ids.push(r["job_id"].as_str().expect("id").to_string());
    }
    let mut next = Some(format!("{url}/v1/jobs?limit=5"));
    let mut listed = Vec::new();
    let mut pages = 0;
    while let Some(page_url) = next.take() {
        pages += 1;
        assert!(pages <= 5, "paging ends");
        let r = c.get(&page_url).send().await.expect("page");
        next = r
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split('>').next())
            .map(|path| format!("{url}{path}"));
        let page: Vec<Value> = r.json().await.expect("json");
        assert!(page.len() <= 5);
        for j in &page {
            assert!(j.get("output").is_none(), "no output in a listing: {j}");
            listed.push(j["id"].as_str().expect("id").to_string());
        }
    }
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids, "every job exactly once across the pages");
}

#[test]
fn fifos_and_devices_are_refused_without_hanging_check() {
    let dep = Deployment::new();
    let root = dep.manifests().parent().expect("root").to_path_buf();
    let fifo = root.join("component.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    dep.manifest(
        "fifo-component",
        &format!(
            "name = \"fifo-component\"\ncomponent = \"{}\"\n",
            fifo.display()
        ),
    );
    let secret_fifo = root.join("secret.fifo");
    std::process::Command::new("mkfifo")
        .arg(&secret_fifo)
        .status()
        .expect("mkfifo");
    dep.manifest(
        "fifo-secret",
        &format!(
            "name = \"fifo-secret\"\ncomponent = \"{}\"\n[secrets]\nkey = \"file:{}\"\n",
            component("weft-probe").display(),
            secret_fifo.display()
        ),
    );
    std::os::unix::fs::symlink("/dev/zero", dep.manifests().join("zero.toml")).expect("symlink");
    let mut child = std::process::Command::new(weft_tests::harness::weft_bin())
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .env("WEFT_CACHE_DIR", weft_tests::harness::shared_cache())
        .arg("check")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("weft check");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("weft check hangs on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(2));
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    // The component and the secret are refused by name; `zero.toml` (a device) is not a
    // manifest file at all and is passed over.
    assert_eq!(
        out.matches("is not a regular file").count(),
        2,
        "component and secret each refused: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_never_lets_more_calls_reach_the_platform_than_the_concurrency_limit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (n, m) = (now.clone(), most.clone());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let (n, m) = (n.clone(), m.clone());
            async move {
                let at_once = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(at_once, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let (platform, _server) = weft_tests::harness::serve_app(app).await;
    let dep = Deployment::new();
    let text = format!(
        "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"127.0.0.1:{}\"]\n[limits]\nconcurrency = 1\n",
        component("weft-probe").display(),
        platform.port()
    );
    let manifest = dep.manifest("probe", &text);
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    let call = |c: reqwest::Client, url: String| async move {
        c.post(format!("{url}/v1/adapters/probe/ops/http-get"))
            .json(&json!({ "url": format!("http://{platform}/") }))
            .send()
            .await
            .map(|r| r.status())
    };
    let first = tokio::spawn(call(c.clone(), url.clone()));
    eventually(Duration::from_secs(5), || async {
        (now.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await
    .expect("the first call reached the platform");
    std::fs::write(&manifest, format!("{text}# a real change\n")).expect("change");
    eventually(Duration::from_secs(10), || async {
        let m = metrics(&c, &url).await;
        (metric(&m, PROBE_LOADS) >= 2.0).then_some(())
    })
    .await
    .expect("reloaded");
    let second = tokio::spawn(call(c.clone(), url.clone()));
    assert_eq!(first.await.expect("join").expect("first"), 200);
    assert_eq!(second.await.expect("join").expect("second"), 200);
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "the new version waited for the old version's call"
    );
}

#[test]
fn an_emptied_store_is_refused_unless_told_to_begin_afresh() {
    use std::os::unix::fs::PermissionsExt;
    let dep = Deployment::new();
    probe(&dep, "");
    let weft = |args: &[&str]| {
        std::process::Command::new(weft_tests::harness::weft_bin())
            .arg("--manifests")
            .arg(dep.manifests())
            .arg("--data")
            .arg(dep.data())
            .env("WEFT_CACHE_DIR", weft_tests::harness::shared_cache())
            .args(args)
            .output()
            .expect("weft runs")
    };
    assert!(weft(&["jobs", "list"]).status.success());
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(
        mode(&dep.data()),
        0o700,
        "the data folder is this user's only"
    );
    assert_eq!(
        mode(&dep.data().join("weft.db")),
        0o600,
        "so is the database"
    );
    // The database vanishes (a bad restore, a wrong volume): refused, not taken as fresh.
    for f in ["weft.db", "weft.db-wal", "weft.db-shm"] {
        let _ = std::fs::remove_file(dep.data().join(f));
    }
    let refused = weft(&["jobs", "list"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("vanished or was emptied") && err.contains("--init"),
        "{err}"
    );
    assert!(weft(&["--init", "jobs", "list"]).status.success());
    assert!(
        weft(&["jobs", "list"]).status.success(),
        "adopted from then on"
    );
}
