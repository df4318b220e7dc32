//! Hardening, round 3: the store's promises under faults (a full disk, a corrupt page, two
//! processes starting at once, a missing key file, a stop signal at the first moment), and
//! adapters that cannot reach past their sandbox (inbound answers that forge framing or set
//! cookies, made-up token scopes, request floods), each against a real `weft serve` or the
//! host library.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually, weft_command};

fn probe_manifest(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\ncomponent = \"{}\"\n{extra}\n",
        component("weft-probe").display()
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A platform that records the `k` of every `GET /hit?k=…` it receives.
async fn recording_platform() -> (String, Arc<Mutex<Vec<String>>>) {
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = hits.clone();
    let app = axum::Router::new().route(
        "/hit",
        axum::routing::get(
            move |q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let seen = seen.clone();
                async move {
                    if let (Ok(mut s), Some(k)) = (seen.lock(), q.get("k")) {
                        s.push(k.clone());
                    }
                    "ok"
                }
            },
        ),
    );
    let (addr, _task) = weft_tests::harness::serve_app(app).await;
    (format!("127.0.0.1:{}", addr.port()), hits)
}

// ---------------------------------------------------------------------------------------------
// A full disk.

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    _dir: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallDisk {
    /// A tmpfs of `mib` MiB, or None where this process may not mount one (not root): said
    /// loudly, and a failure under CI, where the test must run.
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mount = dir.path().join("disk");
        std::fs::create_dir_all(&mount).expect("mount point");
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&mount)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "under CI the full-disk test must run: mounting a tmpfs needs root"
            );
            eprintln!("!!! SKIPPED: the full-disk test mounts a tmpfs, which needs root");
            return None;
        }
        Some(Self { _dir: dir, mount })
    }

    /// Fills the disk to the last byte with a file of its own.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.mount.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5au8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        for size in [4096usize, 512, 1] {
            while file.write_all(&chunk[..size]).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.mount)
            .status();
    }
}

/// Sends `keys` as keyed asynchronous enqueues of a job that GETs the platform with its key,
/// four at a time; answers the 202s' job ids by key, and how many were refused.
async fn enqueue_keys(
    url: &str,
    platform: &str,
    keys: impl IntoIterator<Item = String>,
) -> (Vec<(String, String)>, usize) {
    let c = client();
    let pad = "p".repeat(4096);
    let keys: Vec<String> = keys.into_iter().collect();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for chunk in keys.chunks(4) {
        let sends = chunk.iter().map(|key| {
            let c = c.clone();
            let body = json!({"url": format!("http://{platform}/hit?k={key}"), "pad": pad});
            async move {
                let r = c
                    .post(format!("{url}/v1/adapters/probe/ops/http-get?mode=async"))
                    .header("Idempotency-Key", key.as_str())
                    .json(&body)
                    .send()
                    .await;
                (key.clone(), r)
            }
        });
        for (key, r) in futures_util::future::join_all(sends).await {
            let Ok(r) = r else {
                refused += 1;
                continue;
            };
            match r.status().as_u16() {
                202 => {
                    let v: Value = r.json().await.expect("json");
                    accepted.push((key, v["job_id"].as_str().expect("id").to_string()));
                }
                503 => refused += 1,
                other => panic!("an enqueue answered {other}: {:?}", r.text().await),
            }
        }
    }
    (accepted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_acknowledged_job_and_writing_resumes_by_itself() {
    let Some(disk) = SmallDisk::mount(12) else {
        return;
    };
    let (platform, hits) = recording_platform().await;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &probe_manifest(
            "probe",
            &format!(
                "allowed_hosts = [\"{platform}\"]\n[retry]\nmax_attempts = 5\ninitial_backoff = \"10ms\"\nmax_backoff = \"100ms\""
            ),
        ),
    );
    let data = disk.mount.join("data");
    let log = dep.manifests().join("../serve.log");
    let start = |log: &Path| {
        let (child, line) = spawn_serve(&dep, &data, log, &["--workers", "4"]);
        let url = line
            .strip_prefix("weft listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        (child, url)
    };
    let (mut child, url) = start(&log);
    let c = client();

    let (mut acked, refused) = enqueue_keys(&url, &platform, (0..8).map(|i| format!("a{i}"))).await;
    assert_eq!(refused, 0, "the disk has room yet");

    let filler = disk.fill();
    let (full, refused_full) =
        enqueue_keys(&url, &platform, (0..300).map(|i| format!("b{i}"))).await;
    assert!(
        refused_full > 0,
        "the disk was full: some enqueues must have been refused ({} accepted)",
        full.len()
    );
    let ready = c.get(format!("{url}/readyz")).send().await.expect("readyz");
    let why = ready.text().await.unwrap_or_default();
    assert!(
        why.contains("cannot write"),
        "/readyz says the store cannot write: {why}"
    );
    acked.extend(full);

    // Space returns: writing resumes without a restart.
    std::fs::remove_file(&filler).expect("free the disk");
    let (mut after, _) = (Vec::new(), 0);
    let first = eventually(Duration::from_secs(20), || {
        let (url, platform) = (url.clone(), platform.clone());
        async move {
            let (ok, _) = enqueue_keys(&url, &platform, ["c-first".to_string()]).await;
            ok.into_iter().next()
        }
    })
    .await
    .expect("an enqueue succeeds once space returns");
    after.push(first);
    let (more, refused_after) =
        enqueue_keys(&url, &platform, (0..20).map(|i| format!("c{i}"))).await;
    assert_eq!(
        refused_after, 0,
        "every enqueue succeeds once space returns"
    );
    after.extend(more);
    acked.extend(after);
    let ready = eventually(Duration::from_secs(40), || {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let r = c.get(format!("{url}/readyz")).send().await.ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    assert!(ready.is_some(), "/readyz is ready again");

    // Every acknowledged job exists and runs to its end.
    let check_all = |url: String| {
        let (c, acked) = (c.clone(), acked.clone());
        async move {
            for (key, id) in &acked {
                let done = eventually(Duration::from_secs(60), || {
                    let (c, url, id) = (c.clone(), url.clone(), id.clone());
                    async move {
                        let r = c.get(format!("{url}/v1/jobs/{id}")).send().await.ok()?;
                        assert_ne!(r.status(), 404, "acknowledged job {id} ({key}) is lost");
                        let v: Value = r.json().await.ok()?;
                        (v["state"] == "succeeded").then_some(())
                    }
                })
                .await;
                assert!(done.is_some(), "job {id} ({key}) did not succeed");
            }
        }
    };
    check_all(url.clone()).await;
    let acked_keys: BTreeSet<String> = acked.iter().map(|(k, _)| k.clone()).collect();
    let ran: BTreeSet<String> = hits.lock().expect("hits").iter().cloned().collect();
    let phantom: Vec<&String> = ran.difference(&acked_keys).collect();
    assert!(
        phantom.is_empty(),
        "jobs ran that no client was told exist: {phantom:?}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("store call failed") && log_text.contains("full"),
        "the failing store is in the log"
    );

    // And after a restart.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (mut child, url) = start(&dep.manifests().join("../serve2.log"));
    check_all(url).await;
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// A corrupt page, two processes at once, a missing key file, an early stop signal.

/// Starts `weft serve` on `data`; answers the child and its first stdout line.
fn spawn_serve(
    dep: &Deployment,
    data: &Path,
    log: &Path,
    extra: &[&str],
) -> (std::process::Child, String) {
    let mut child = weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-no-auth"])
        .args(extra)
        .env("WEFT_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("weft serve");
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    (child, line.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_store_is_not_ready() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let served = Served::start(&dep, &[]);
    let c = client();
    for batch in 0..2 {
        let jobs: Vec<Value> = (0..1000)
            .map(|i| json!({"op": "echo", "input": {"n": i, "batch": batch, "pad": "q".repeat(200)}, "delay_ms": 86_400_000}))
            .collect();
        let r = c
            .post(format!("{}/v1/adapters/probe/jobs:batch", served.url))
            .json(&json!({ "jobs": jobs }))
            .send()
            .await
            .expect("batch");
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }
    assert!(served.terminate().success());
    // Everything into the main file, then pages in its middle, where the jobs are,
    // overwritten.
    let db = dep.data().join("weft.db");
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        conn.close().await.expect("close");
    }
    let mut bytes = std::fs::read(&db).expect("db");
    let pages = bytes.len() / 4096;
    assert!(pages > 20, "{pages} pages");
    for page in [pages * 2 / 5, pages / 2, pages * 3 / 5] {
        bytes[page * 4096..(page + 1) * 4096].fill(0xa5);
    }
    std::fs::write(&db, bytes).expect("corrupt");
    let log = dep.manifests().join("../corrupt.log");
    let (mut child, line) = spawn_serve(&dep, &dep.data(), &log, &[]);
    if let Some(url) = line.strip_prefix("weft listening on ") {
        let why = eventually(Duration::from_secs(20), || {
            let (c, url) = (c.clone(), url.to_string());
            async move {
                let r = c.get(format!("{url}/readyz")).send().await.ok()?;
                (r.status() == 503).then_some(r.text().await.unwrap_or_default())
            }
        })
        .await;
        let _ = child.kill();
        let _ = child.wait();
        let why = why.expect("/readyz answers 503 on a corrupt store");
        assert!(why.contains("corrupt"), "{why}");
    } else {
        // Refusing to start is as good, if it says why.
        let status = child.wait().expect("exit");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!status.success(), "{line}");
        assert!(
            text.contains("malformed") || text.contains("corrupt"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_started_at_once_on_a_new_data_folder_both_serve() {
    for trial in 0..5 {
        let dep = Deployment::new();
        dep.manifest("probe", &probe_manifest("probe", ""));
        let data = dep.data();
        let logs = [
            dep.manifests().join("../a.log"),
            dep.manifests().join("../b.log"),
        ];
        let (first, second) = std::thread::scope(|s| {
            let a = s.spawn(|| spawn_serve(&dep, &data, &logs[0], &[]));
            let b = s.spawn(|| spawn_serve(&dep, &data, &logs[1], &[]));
            (a.join().expect("a"), b.join().expect("b"))
        });
        for ((mut child, line), log) in [first, second].into_iter().zip(&logs) {
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                line.starts_with("weft listening on "),
                "trial {trial}: a process did not start: {line:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_key_file_is_named_not_replaced() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let run = || {
        weft_command()
            .env_remove("WEFT_STORE_KEY")
            .arg("--manifests")
            .arg(dep.manifests())
            .arg("--data")
            .arg(dep.data())
            .arg("adapters")
            .output()
            .expect("weft")
    };
    assert!(run().status.success());
    let key = dep.data().join("store-key");
    assert!(key.exists());
    std::fs::remove_file(&key).expect("remove the key file");
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("store key file") && err.contains("missing"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made in its place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_right_after_the_listening_line_drains() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    for trial in 0..5 {
        let log = dep.manifests().join(format!("../stop{trial}.log"));
        let (mut child, line) = spawn_serve(&dep, &dep.data(), &log, &[]);
        assert!(line.starts_with("weft listening on "), "{line}");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().expect("exit");
        assert!(
            status.success(),
            "trial {trial}: SIGTERM ended the process without a drain: {status:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound answers.

/// One response read off a raw connection: status, headers (names lower-case), body.
type Raw = (u16, Vec<(String, String)>, Vec<u8>);

/// Reads every response on `stream` until it closes, framing each by its Content-Length.
fn read_responses(bytes: &[u8]) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).to_string();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        let body_end = (body_start + length).min(rest.len());
        out.push((status, headers, rest[body_start..body_end].to_vec()));
        rest = &rest[body_end..];
    }
    out
}

async fn raw_exchange(addr: &str, requests: &[u8]) -> Vec<Raw> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(requests).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    read_responses(&buf)
}

fn forge_request(addr: &str, spec: &Value, close: bool) -> Vec<u8> {
    let body = spec.to_string();
    format!(
        "POST /inbound/probe/forge HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_answer_cannot_forge_framing_cookies_or_statuses() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &probe_manifest(
            "probe",
            "[[routes]]\nname = \"forge\"\nmethod = \"POST\"\npath = \"/forge\"\nauth = { type = \"none\" }",
        ),
    );
    let served = Served::start(&dep, &[]);
    let addr = served.url.trim_start_matches("http://").to_string();
    let smuggled = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged";
    let hostile = json!({
        "status": 200,
        "headers": [
            ["Content-Length", "5"],
            ["Transfer-Encoding", "chunked"],
            ["Connection", "keep-alive"],
            ["Set-Cookie", "weft_console=attacker; Path=/ui"],
            ["Content-Security-Policy", "script-src *"],
            ["Content-Type", "text/html"],
            ["X-Request-Echo", "kept"]
        ],
        "body": format!("hello{smuggled}"),
    });
    let mut pipelined = forge_request(&addr, &hostile, false);
    pipelined.extend(
        format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    );
    let answers = raw_exchange(&addr, &pipelined).await;
    assert_eq!(
        answers.len(),
        2,
        "two requests, two responses: {:?}",
        answers
            .iter()
            .map(|(s, _, b)| (s, String::from_utf8_lossy(b).to_string()))
            .collect::<Vec<_>>()
    );
    let (status, headers, body) = &answers[0];
    assert_eq!(*status, 200);
    assert_eq!(
        String::from_utf8_lossy(body),
        format!("hello{smuggled}"),
        "the host frames the whole body"
    );
    let header = |n: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert!(header("set-cookie").is_empty(), "{headers:?}");
    assert!(header("transfer-encoding").is_empty(), "{headers:?}");
    let csp = header("content-security-policy");
    assert_eq!(csp.len(), 1, "{headers:?}");
    assert!(csp[0].contains("sandbox") && csp[0].contains("default-src 'none'"));
    assert_eq!(header("x-content-type-options"), ["nosniff"]);
    assert_eq!(header("x-request-echo"), ["kept"], "ordinary headers pass");
    assert_eq!(answers[1].0, 200, "the second answer is the host's own");
    assert_eq!(answers[1].2, b"ok\n");

    for bad in [999u16, 101, 0, 100] {
        let answers = raw_exchange(
            &addr,
            &forge_request(&addr, &json!({"status": bad, "body": "x"}), true),
        )
        .await;
        assert_eq!(answers.len(), 1, "status {bad}");
        assert_eq!(answers[0].0, 502, "status {bad} is the adapter's error");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_accepted_on_one_route_is_a_replay_on_its_sibling() {
    use hmac::{Hmac, Mac};
    let dep = Deployment::new();
    let secret = dep.secret("hook", "shared-hook-secret");
    let route = |name: &str| {
        format!(
            "[[routes]]\nname = \"{name}\"\nmethod = \"POST\"\npath = \"/{name}\"\nauth = {{ type = \"hmac\", header = \"x-signature\", secret = \"hook\", timestamp_header = \"x-timestamp\", window = \"5m\" }}\n"
        )
    };
    dep.manifest(
        "probe",
        &probe_manifest(
            "probe",
            &format!(
                "[secrets]\nhook = \"{secret}\"\n{}{}",
                route("orders"),
                route("refunds")
            ),
        ),
    );
    let served = Served::start(&dep, &[]);
    let ts = (weft::clock::now_ms() / 1000).to_string();
    let body = r#"{"order":"A-1","amount":100}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"shared-hook-secret").expect("key");
    mac.update(format!("{ts}.{body}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let c = client();
    let send = |path: &str| {
        c.post(format!("{}/inbound/probe/{path}", served.url))
            .header("x-signature", &sig)
            .header("x-timestamp", &ts)
            .body(body)
            .send()
    };
    assert_eq!(send("orders").await.expect("send").status(), 200);
    let again = send("refunds").await.expect("send");
    assert_eq!(
        again.status(),
        401,
        "the same signed request on a sibling route"
    );
    assert!(again.text().await.unwrap_or_default().contains("replay"));
}

// ---------------------------------------------------------------------------------------------
// Adapters that cannot take more than their share.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_cannot_make_token_scopes_without_end() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let rt = dep.runtime().await;
    let max = weft::tokens::MAX_SCOPES;
    for i in 0..max {
        // leak-token fails on purpose after getting its token: the token was granted.
        let e = weft_tests::harness::invoke_json(
            &rt,
            "probe",
            "leak-token",
            json!({"scope": format!("s{i}")}),
        )
        .await
        .expect_err("leak-token always fails");
        assert!(!e.message.contains("scopes already"), "{i}: {}", e.message);
    }
    let e = weft_tests::harness::invoke_json(
        &rt,
        "probe",
        "leak-token",
        json!({"scope": "one-too-many"}),
    )
    .await
    .expect_err("refused");
    assert!(e.message.contains("scopes already"), "{}", e.message);
    // A scope it holds still works.
    let e = weft_tests::harness::invoke_json(&rt, "probe", "leak-token", json!({"scope": "s0"}))
        .await
        .expect_err("leak-token always fails");
    assert!(!e.message.contains("scopes already"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_cannot_send_more_requests_than_its_cap() {
    let (platform, hits) = recording_platform().await;
    let dep = Deployment::new();
    dep.manifest(
        "capped",
        &probe_manifest(
            "capped",
            &format!("allowed_hosts = [\"{platform}\"]\n[limits]\nrequests_per_call = 25"),
        ),
    );
    dep.manifest(
        "default",
        &probe_manifest("default", &format!("allowed_hosts = [\"{platform}\"]")),
    );
    let rt = dep.runtime().await;
    let url = format!("http://{platform}/hit?k=x");
    let e = weft_tests::harness::invoke_json(
        &rt,
        "capped",
        "http-burst",
        json!({"url": url, "count": 100}),
    )
    .await;
    // The probe reports how far it got; the host stopped it at the cap.
    let out = e.expect("the probe reports its burst");
    assert_eq!(out["sent"], 25, "{out}");
    assert!(
        out["refusal"]
            .as_str()
            .is_some_and(|r| r.contains("requests_per_call")),
        "{out}"
    );
    assert_eq!(hits.lock().expect("hits").len(), 25);
    let out = weft_tests::harness::invoke_json(
        &rt,
        "default",
        "http-burst",
        json!({"url": url, "count": 1500}),
    )
    .await
    .expect("burst");
    assert_eq!(out["sent"], 1000, "the default cap: {out}");
}
