//! The store failing under a running `weft serve`: a PostgreSQL that stops answering without
//! closing its sockets, then one that refuses connections, behind a proxy the test controls.
//! Requests get an answer within `--store-timeout` instead of hanging, `/readyz` says so at
//! once, the stall is logged and counted, a webhook hears "try again" (503) rather than "bad
//! credentials" (401), and a caller whose token was verified a moment ago is still served
//! where its call needs no store. Also: connections past a client's share, and memory that
//! all large requests and all instances draw from.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use weft_tests::harness::{Deployment, PgSchema, Served, component, eventually, metric};

fn pg_url_at(port: u16, schema: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/test?schema={schema}")
}

/// What the proxy does with its connections.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Bytes flow.
    Open,
    /// Sockets stay open, nothing flows: a server that hangs.
    Frozen,
    /// Every connection is closed and new ones are closed at once: a server that is down.
    Down,
}

/// A TCP proxy in front of PostgreSQL.
struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (mode, watching) = watch::channel(Mode::Open);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = watching.clone();
                if *mode.borrow() == Mode::Down {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pump(cr, sw, mode.clone()) => {}
                        () = pump(sr, cw, mode.clone()) => {}
                        () = down(mode) => {}
                    }
                });
            }
        });
        Self { port, mode }
    }

    fn set(&self, mode: Mode) {
        let _ = self.mode.send(mode);
    }
}

async fn down(mut mode: watch::Receiver<Mode>) {
    let _ = mode.wait_for(|m| *m == Mode::Down).await;
}

/// Copies `from` to `to`, holding each chunk while the proxy is frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mode.wait_for(|m| *m == Mode::Open).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn sign(secret: &[u8], ts: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
    mac.update(format!("{ts}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_or_down_store_gets_bounded_answers_and_says_so() {
    let proxy = Proxy::start().await;
    let schema = PgSchema::new("o");
    let store = pg_url_at(proxy.port, &schema.name);
    let dep = Deployment::new();
    let secret = dep.secret("hook", "outage-hook-secret");
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[secrets]\nhook = \"{secret}\"\n[[routes]]\nname = \"hook\"\nmethod = \"POST\"\npath = \"/hook\"\nauth = {{ type = \"hmac\", header = \"x-signature\", secret = \"hook\", timestamp_header = \"x-timestamp\", window = \"5m\" }}\n",
            component("weft-probe").display()
        ),
    );
    let log = dep.manifests().join("../serve.log");
    let served = Served::start_secure(
        &dep,
        &["--store", &store, "--store-timeout", "2s"],
        "info",
        &log,
    );
    let token = std::fs::read_to_string(dep.data().join("admin-token"))
        .expect("admin token")
        .trim()
        .to_string();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let url = served.url.clone();
    let echo = || {
        c.post(format!("{url}/v1/adapters/probe/ops/echo"))
            .bearer_auth(&token)
            .json(&json!({"ok": 1}))
            .send()
    };
    let enqueue = || {
        c.post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
            .bearer_auth(&token)
            .json(&json!({"ok": 2}))
            .send()
    };
    let hook = |n: u32| {
        let ts = (weft::clock::now_ms() / 1000).to_string();
        let body = format!("{{\"n\":{n}}}");
        c.post(format!("{url}/inbound/probe/hook"))
            .header("x-signature", sign(b"outage-hook-secret", &ts, &body))
            .header("x-timestamp", ts)
            .body(body)
            .send()
    };
    assert_eq!(echo().await.expect("echo").status(), 200);
    assert_eq!(hook(0).await.expect("hook").status(), 200);

    for mode in [Mode::Frozen, Mode::Down] {
        proxy.set(mode);
        // The store cannot be used: every answer comes, and says so.
        let ready = c
            .get(format!("{url}/readyz"))
            .send()
            .await
            .expect("readyz answers");
        assert_eq!(ready.status(), 503, "{mode:?}");
        let r = enqueue().await.expect("an enqueue is answered");
        assert_eq!(r.status(), 503, "{mode:?}: {:?}", r.text().await);
        let r = hook(1).await.expect("a webhook is answered");
        assert_eq!(
            r.status(),
            503,
            "{mode:?}: a platform must hear 'later', not 'bad credentials'"
        );
        assert!(r.headers().contains_key("retry-after"), "{mode:?}");
        // A token verified a moment ago still opens a call that needs no store.
        for _ in 0..3 {
            let r = echo().await.expect("echo answered");
            assert_eq!(r.status(), 200, "{mode:?}: {:?}", r.text().await);
        }
        proxy.set(Mode::Open);
        let back = eventually(Duration::from_secs(30), || async {
            let r = enqueue().await.ok()?;
            (r.status() == 202).then_some(())
        })
        .await;
        assert!(
            back.is_some(),
            "{mode:?}: enqueues succeed once the store is back"
        );
        let ready = eventually(Duration::from_secs(40), || async {
            let r = c.get(format!("{url}/readyz")).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
        assert!(ready.is_some(), "{mode:?}: ready again");
    }
    let stalled = metric(&c, &url, "weft_store_errors_total", &["class=\"stalled\""]).await;
    assert!(stalled > 0.0, "stalls are counted");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("store call failed") && text.contains("stalled"),
        "the stall is in the log"
    );
}

// ---------------------------------------------------------------------------------------------
// Connections.

fn from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_hold_every_connection() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let served = Served::start(
        &dep,
        &["--max-connections", "64", "--header-timeout", "30s"],
    );
    let addr = served.url.trim_start_matches("http://").to_string();
    // 600 idle sockets from one address, renewing as they are closed.
    let hold = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut holders = Vec::new();
    for _ in 0..600 {
        let (addr, hold) = (addr.clone(), hold.clone());
        holders.push(tokio::spawn(async move {
            while hold.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut buf = [0u8; 256];
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let legit = from([127, 0, 0, 2]);
    let mut ok = 0;
    for i in 0..80 {
        let r = legit
            .post(format!("http://{addr}/v1/adapters/probe/ops/echo"))
            .json(&json!({"i": i}))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            ok += 1;
        }
    }
    // A health probe (from the orchestrator's address) still gets its answer.
    let health = from([127, 0, 0, 3])
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    hold.store(false, std::sync::atomic::Ordering::Relaxed);
    for h in holders {
        h.abort();
    }
    assert_eq!(ok, 80, "another client's requests all succeed");
    assert_eq!(
        health.ok(),
        Some(200),
        "/healthz answers under a full house"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_fits_the_descriptor_limit() {
    use std::io::BufRead;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let log = dep.manifests().join("../fds.log");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -n 400 && exec \"$0\" \"$@\"")
        .arg(weft_tests::harness::weft_bin())
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--insecure-no-auth",
            "--max-connections",
            "2000",
            "--max-connections-per-client",
            "2000",
        ])
        .env("WEFT_CACHE_DIR", weft_tests::harness::shared_cache())
        .env("WEFT_STORE_KEY", weft_tests::harness::TEST_STORE_KEY)
        .env("WEFT_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("weft serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    let addr = line
        .trim()
        .strip_prefix("weft listening on http://")
        .expect("listening")
        .to_string();
    let mut held = Vec::new();
    for _ in 0..500 {
        if let Ok(s) = tokio::net::TcpStream::connect(&addr).await {
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = eventually(Duration::from_secs(10), || async {
        let r = reqwest::get(format!("http://{addr}/healthz")).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    drop(held);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(health.is_some(), "/healthz answers");
    assert!(
        text.contains("--max-connections lowered"),
        "the lowered cap is said at start:\n{text}"
    );
    assert!(
        !text.contains("accept failed"),
        "no descriptor ran out:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// The peak resident memory of process `pid`, MiB.
fn peak_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_enqueues_in_parallel_stay_within_the_buffer_budget() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[limits]\nrequest_body = \"20MiB\"\n",
            component("weft-probe").display()
        ),
    );
    let served = Served::start(
        &dep,
        &[
            "--max-body",
            "20MiB",
            "--max-buffered",
            "96MiB",
            "--workers",
            "1",
        ],
    );
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    // Warm: the engine, the store, the front door's buffers.
    let small = c
        .post(format!(
            "{}/v1/adapters/probe/ops/echo?mode=async",
            served.url
        ))
        .json(&json!({"warm": true}))
        .send()
        .await
        .expect("warm");
    assert_eq!(small.status(), 202);
    let before = peak_mib(served.pid());
    let body = Arc::new(
        json!({"blob": "b".repeat(16 << 20), "delay": "far"})
            .to_string()
            .into_bytes(),
    );
    let sends = (0..10).map(|i| {
        let (c, url, body) = (c.clone(), served.url.clone(), body.clone());
        async move {
            c.post(format!("{url}/v1/adapters/probe/ops/version?mode=async"))
                .header("content-type", "application/json")
                .header("idempotency-key", format!("big-{i}"))
                .body(body.to_vec())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(0))
        .collect();
    let after = peak_mib(served.pid());
    assert!(statuses.contains(&202), "{statuses:?}");
    // Refused: a 503, or the connection closed under a body still being sent (0).
    assert!(
        statuses.iter().all(|s| [202, 503, 0].contains(s)),
        "{statuses:?}"
    );
    // Ten bodies of 16 MiB, each copied on its way into the store: held to the budget, the
    // peak grows by a few budgets' worth, not by five times every body (800 MiB).
    assert!(
        after.saturating_sub(before) < 400,
        "peak RSS grew from {before} to {after} MiB: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_draws_from_one_memory_pool() {
    let dep = Deployment::new();
    dep.manifest(
        "bomb",
        &format!(
            "name = \"bomb\"\ncomponent = \"{}\"\n[limits]\nmemory = \"128MiB\"\n[retry]\nmax_attempts = 1\n",
            component("weft-probe").display()
        ),
    );
    let mut options = dep.options();
    options.engine.max_memory = 256 << 20;
    let rt = Arc::new(weft::Runtime::open(options).await.expect("runtime"));
    let calls = (0..8).map(|_| {
        let rt = rt.clone();
        async move { weft_tests::harness::invoke_json(&rt, "bomb", "alloc", json!({})).await }
    });
    let outcomes: Vec<Result<Value, weft::InvokeError>> =
        futures_util::future::join_all(calls).await;
    let pooled = outcomes
        .iter()
        .filter(|o| {
            o.as_ref().is_err_and(|e| {
                e.kind == weft::ErrorKind::Unavailable && e.message.contains("--max-memory")
            })
        })
        .count();
    assert!(
        outcomes.iter().all(Result::is_err),
        "an allocation bomb never ends well"
    );
    assert!(pooled > 0, "some calls met the shared pool: {outcomes:?}");
    assert_eq!(
        rt.shared().engine.memory().used(),
        0,
        "every instance gave its memory back"
    );
}
