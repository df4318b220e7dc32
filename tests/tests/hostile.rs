//! Hostile adapters and what the host does about them: every kind of trap, outputs past the
//! memory limit, storage and job storms, host calls that outlive the call's deadline, a
//! fetch-token that never returns. Each call fails with the right kind and a message naming the
//! adapter and the limit; another adapter's calls at the same moment are unaffected; the host's
//! memory comes back; and secrets appear nowhere a caller or an operator can read.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use weft::{ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component, eventually};

fn probe(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\ncomponent = \"{}\"\n{extra}\n",
        component("weft-probe").display()
    )
}

async fn call(
    rt: &Runtime,
    adapter: &str,
    op: &str,
    input: Value,
) -> Result<Value, weft::InvokeError> {
    weft_tests::harness::invoke_json(rt, adapter, op, input).await
}

/// A calm adapter answering while `hostile` runs: how long its echo took.
async fn calm_during<F: std::future::Future>(
    rt: &Arc<Runtime>,
    hostile: F,
) -> (F::Output, Duration) {
    let rt2 = rt.clone();
    let calm = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = std::time::Instant::now();
        let out = call(&rt2, "calm", "echo", json!({"ok": 1}))
            .await
            .expect("calm echo");
        assert_eq!(out["ok"], 1);
        t.elapsed()
    });
    let out = hostile.await;
    (out, calm.await.expect("calm task"))
}

async fn setup(hostile_limits: &str) -> (Deployment, Arc<Runtime>) {
    let dep = Deployment::new();
    dep.manifest("hostile", &probe("hostile", hostile_limits));
    dep.manifest("calm", &probe("calm", ""));
    let rt = Arc::new(dep.runtime().await);
    (dep, rt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_trap_ends_only_its_own_call() {
    let (_dep, rt) = setup("[retry]\nmax_attempts = 1").await;
    for op in ["panic", "unreachable", "overflow"] {
        let (result, calm) = calm_during(&rt, call(&rt, "hostile", op, json!({}))).await;
        let e = result.expect_err("trapped");
        assert_eq!(e.kind, ErrorKind::Trap, "{op}: {e:?}");
        assert!(e.message.contains("hostile"), "{op}: {}", e.message);
        assert!(
            calm < Duration::from_secs(2),
            "{op}: the calm adapter waited {calm:?}"
        );
    }
    // And the trapping adapter itself answers the next call.
    assert_eq!(
        call(&rt, "hostile", "echo", json!({"n": 2}))
            .await
            .expect("echo")["n"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_past_the_memory_limit_is_a_limit_and_a_large_one_passes() {
    let (_dep, rt) = setup("[limits]\nmemory = \"32MiB\"").await;
    let e = call(&rt, "hostile", "huge-output", json!({"mib": 64}))
        .await
        .expect_err("too big");
    assert_eq!(e.kind, ErrorKind::Limit, "{e:?}");
    assert!(e.message.contains("limits.memory"), "{}", e.message);
    let out = call(&rt, "hostile", "huge-output", json!({"mib": 4}))
        .await
        .expect("4 MiB fits");
    assert_eq!(out.as_str().map(str::len), Some(4 << 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giant_keys_and_values_are_refused_and_many_keys_do_not_disturb_others() {
    let (_dep, rt) = setup("[limits]\nstorage_value = \"1MiB\"").await;
    let (out, calm) = calm_during(
        &rt,
        call(
            &rt,
            "hostile",
            "storage-abuse",
            json!({"count": 3000, "value_kib": 2048}),
        ),
    )
    .await;
    let out = out.expect("the probe reports");
    assert!(
        out["giant_key"]
            .as_str()
            .unwrap_or_default()
            .contains("keys are 1 to 512 bytes"),
        "{out}"
    );
    assert!(
        out["giant_value"]
            .as_str()
            .unwrap_or_default()
            .contains("storage_value"),
        "{out}"
    );
    assert_eq!(out["written"], 3000);
    assert!(
        calm < Duration::from_secs(5),
        "the calm adapter waited {calm:?}"
    );
    // The other adapter's namespace saw none of it.
    let seen = call(&rt, "calm", "storage", json!({"key": "mine", "value": "v"}))
        .await
        .expect("storage");
    assert_eq!(seen["keys"], json!(["mine"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueue_storm_is_cut_at_the_per_call_bound() {
    let (_dep, rt) = setup("").await;
    let out = call(&rt, "hostile", "enqueue-storm", json!({"count": 5000}))
        .await
        .expect("the probe reports");
    assert_eq!(out["taken"], 1000, "{out}");
    assert!(
        out["refusal"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 1000 jobs"),
        "{out}"
    );
    let counts = rt.shared().store.job_counts().await.expect("counts");
    let queued: i64 = counts
        .iter()
        .filter(|(a, _, _)| a == "hostile")
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(queued, 1000, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_call_that_outlives_the_deadline_ends_at_the_deadline() {
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_dep, rt) = setup(&format!(
        "allowed_hosts = [\"{addr}\"]\n[limits]\ntimeout = \"1s\"\nhttp_timeout = \"30s\""
    ))
    .await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let (out, calm) = calm_during(
        &rt,
        call(
            &rt,
            "hostile",
            "http-get",
            json!({"url": format!("http://{addr}/")}),
        ),
    )
    .await;
    // The send is capped by what remains of the call: either the guest sees its timeout, or
    // the call itself ends at limits.timeout, named.
    match out {
        Ok(out) => assert!(
            out["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("HttpError::Timeout"),
            "{out}"
        ),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
            assert!(
                e.message.contains("hostile") && e.message.contains("limits.timeout (1s)"),
                "{}",
                e.message
            );
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by limits.timeout"
    );
    assert!(calm < Duration::from_secs(2), "{calm:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_token_that_never_returns_fails_the_call_within_its_deadline() {
    let (_dep, rt) = setup("[limits]\ntimeout = \"3s\"\n[token]\nfetch_timeout = \"1s\"").await;
    let (result, calm) = calm_during(&rt, call(&rt, "hostile", "hang-token", json!({}))).await;
    let e = result.expect_err("no token");
    assert!(
        matches!(e.kind, ErrorKind::Transient | ErrorKind::Timeout),
        "{e:?}"
    );
    assert!(
        e.message.contains("fetch-token did not finish") || e.message.contains("limits.timeout"),
        "{}",
        e.message
    );
    assert!(calm < Duration::from_secs(2), "{calm:?}");
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_comes_back_after_adapters_hit_their_memory_limit() {
    let (_dep, rt) = setup("[limits]\nmemory = \"128MiB\"\n[retry]\nmax_attempts = 1").await;
    // Warm: the pool, the compiled code, the runtime's own buffers.
    for _ in 0..2 {
        let _ = call(&rt, "hostile", "alloc", json!({})).await;
    }
    let baseline = rss_mib();
    for _ in 0..12 {
        let e = call(&rt, "hostile", "alloc", json!({}))
            .await
            .expect_err("limit");
        assert_eq!(e.kind, ErrorKind::Limit);
    }
    let after = eventually(Duration::from_secs(5), || async {
        let now = rss_mib();
        (now < baseline + 64).then_some(now)
    })
    .await;
    assert!(
        after.is_some(),
        "RSS grew from {baseline} MiB to {} MiB after 12 × 128 MiB allocations",
        rss_mib()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_log_answer_status_metric_or_job_record() {
    use weft_tests::harness::Served;
    use weft_tests::hugevision::{Account, HugeVision};
    let secrets = [
        "SYS-SECRET-7a1c",
        "USER-SECRET-4e2b",
        "PASS-SECRET-91d0",
        "WRONG-SECRET-55f3",
    ];
    let account = Account {
        system_key: secrets[0].into(),
        unique_code: secrets[2].into(),
        user_name: secrets[1].into(),
        parameters: Value::Null,
    };
    let sim = HugeVision::start(
        account,
        Duration::from_secs(3600),
        Duration::ZERO,
        Duration::from_secs(3600),
    )
    .await;
    let dep = Deployment::new();
    for (name, password) in [("hvs", secrets[2]), ("hvs-wrong", secrets[3])] {
        dep.manifest(
            name,
            &format!(
                "name = \"{name}\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nsystem_key = \"{}\"\nuser_name = \"{}\"\nsystem_password = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n[retry]\nmax_attempts = 1\n",
                component("weft-hugevision").display(),
                sim.base_url(),
                dep.secret(&format!("{name}-system"), secrets[0]),
                dep.secret(&format!("{name}-user"), secrets[1]),
                dep.secret(&format!("{name}-password"), password),
            ),
        );
    }
    let log = dep.data().with_file_name("weft.log");
    let served = Served::start_logging(&dep, "debug", &log);
    let c = reqwest::Client::new();
    let mut seen = String::new();
    for (adapter, mode) in [("hvs", ""), ("hvs-wrong", ""), ("hvs-wrong", "?mode=async")] {
        let r = c
            .post(format!(
                "{}/v1/adapters/{adapter}/ops/query-pending-shipments{mode}",
                served.url
            ))
            .json(&json!({"documentNo": "D1"}))
            .send()
            .await
            .expect("call");
        seen.push_str(&r.text().await.expect("body"));
    }
    // The async call's job runs and dies on the refused login.
    let jobs = eventually(Duration::from_secs(10), || async {
        let list: Value = c
            .get(format!("{}/v1/jobs?adapter=hvs-wrong", served.url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (list.to_string().contains("\"dead\"")).then_some(list)
    })
    .await
    .expect("the job dies");
    seen.push_str(&jobs.to_string());
    assert!(
        seen.contains("Invalid User ID or Password"),
        "the refusal is explained: {seen}"
    );
    for path in ["/v1/adapters", "/metrics"] {
        let text = c
            .get(format!("{}{path}", served.url))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text");
        seen.push_str(&text);
    }
    let status = served.terminate();
    assert!(status.success(), "{status:?}");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains("outbound request"),
        "debug logs were written"
    );
    for secret in secrets {
        assert!(!seen.contains(secret), "{secret} in an answer: {seen}");
        assert!(!logged.contains(secret), "{secret} in the log");
    }
    // The job records in the store itself.
    let store = weft::store::open(None, &dep.data()).await.expect("store");
    for state in [
        weft::store::JobState::Dead,
        weft::store::JobState::Succeeded,
    ] {
        for job in store.job_list(Some(state), None, 100).await.expect("jobs") {
            let record = serde_json::to_string(&job).expect("json");
            for secret in secrets {
                assert!(!record.contains(secret), "{secret} in job {record}");
                assert!(!job.input.contains(secret));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_echoed_by_the_platform_appears_in_no_answer_job_record_or_log_line() {
    use base64::Engine as _;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let log = dep.manifests().parent().expect("root").join("serve.log");
    let served = weft_tests::harness::Served::start_logging(&dep, "debug", &log);
    let url = &served.url;
    let c = reqwest::Client::new();
    // The token handed out for scope "t0k/en+s3cret" is "probe-token-t0k/en+s3cret".
    let input = serde_json::json!({ "scope": "t0k/en+s3cret" });
    let token = "probe-token-t0k/en+s3cret";
    let forms = [
        token.to_string(),
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>(),
        "probe-token-t0k%2Fen%2Bs3cret".to_string(),
        base64::engine::general_purpose::STANDARD.encode(token),
        serde_json::to_string(token)
            .expect("json")
            .trim_matches('"')
            .to_string(),
    ];
    let sync = c
        .post(format!("{url}/v1/adapters/probe/ops/leak-token"))
        .json(&input)
        .send()
        .await
        .expect("answer");
    let status = sync.status();
    let answer = sync.text().await.expect("text");
    assert_eq!(status, 422, "{answer}");
    let job: serde_json::Value = c
        .post(format!("{url}/v1/adapters/probe/ops/leak-token?mode=async"))
        .json(&input)
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = job["job_id"].as_str().expect("id").to_string();
    let record =
        weft_tests::harness::job_in_state(&c, url, &id, &["dead"], Duration::from_secs(10))
            .await
            .expect("the job dies")
            .to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(answer.contains("[redacted]"), "{answer}");
    assert!(
        logged.contains("token is [redacted]"),
        "the guest's output is scrubbed too"
    );
    for form in &forms {
        for (what, text) in [
            ("answer", &answer),
            ("job record", &record),
            ("log", &logged),
        ] {
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(form.as_str())).collect();
            assert!(lines.is_empty(), "{form} in the {what}: {lines:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_slow_headers_and_slow_bodies_do_not_take_the_front_door_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dep = Deployment::new();
    dep.manifest("probe", &probe("probe", ""));
    let served = weft_tests::harness::Served::start(
        &dep,
        &[
            "--max-connections",
            "50",
            // This test is about the total cap: one client may take all of it.
            "--max-connections-per-client",
            "50",
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
        ],
    );
    let addr = served.url.trim_start_matches("http://").to_string();
    // 200 idle sockets, four times the cap: the ones past it are told 503 and closed.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let mut refused = 0;
    for s in idle.iter_mut().skip(50) {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        if String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 503") {
            refused += 1;
        }
    }
    assert!(
        refused >= 140,
        "connections past the cap are refused with a 503: {refused}"
    );
    // The ones inside the cap are closed after the header timeout, and the door opens again.
    let health = eventually(Duration::from_secs(10), || async {
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(
        health.is_some(),
        "/healthz answers once idle sockets are cut"
    );
    let mut closed = 0;
    for s in idle.iter_mut().take(50) {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 50, "idle connections are closed by the server");
    drop(idle);

    // A slow-loris: one header byte now and then never completes a request.
    let mut loris = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    loris
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("write");
    let mut cut = false;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if loris.write_all(b"X-A: b\r\n").await.is_err() {
            cut = true;
            break;
        }
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), loris.read_to_end(&mut buf)).await;
    assert!(
        cut || buf.is_empty() || String::from_utf8_lossy(&buf).contains("408"),
        "{buf:?}"
    );

    // A body that trickles in is cut at --body-timeout with a 408.
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(
        format!("POST /v1/adapters/probe/ops/echo HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_does_not_cut_its_call() {
    // A platform that takes a second to answer.
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "done"
        }),
    );
    let (platform, _server) = weft_tests::harness::serve_app(app).await;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"127.0.0.1:{}\"]\n",
            component("weft-probe").display(),
            platform.port()
        ),
    );
    let log = dep.manifests().parent().expect("root").join("serve.log");
    let served = weft_tests::harness::Served::start_logging(&dep, "info", &log);
    let url = served.url.clone();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let gone = impatient
        .post(format!("{url}/v1/adapters/probe/ops/http-get"))
        .json(&json!({ "url": format!("http://{platform}/") }))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    let c = reqwest::Client::new();
    let finished = eventually(Duration::from_secs(10), || async {
        let text = c
            .get(format!("{url}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("weft_invocations_total{adapter=\"probe\",op=\"http-get\",outcome=\"ok\"} 1")
            .then_some(())
    })
    .await;
    assert!(finished.is_some(), "the call ran to its end");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains("the client went away before the answer"),
        "{logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_request_that_cannot_pass_auth_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[secrets]\ncrm_token = \"{}\"\n[[routes]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/erp/create\"\nauth = {{ type = \"header\", header = \"token\", secret = \"crm_token\" }}\n",
            component("weft-probe").display(),
            dep.secret("crm", "the-right-token"),
        ),
    );
    let served = weft_tests::harness::Served::start(&dep, &["--body-timeout", "30s"]);
    let addr = served.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    // Ten megabytes announced, none sent: the wrong token is enough to answer.
    s.write_all(
        format!("POST /inbound/probe/erp/create HTTP/1.1\r\nhost: {addr}\r\ntoken: wrong\r\ncontent-length: 10000000\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer long before the body timeout")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_held_at_once_are_bounded_across_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dep = Deployment::new();
    dep.manifest("probe", &probe("probe", ""));
    let served = weft_tests::harness::Served::start(
        &dep,
        &["--max-buffered", "1MiB", "--body-timeout", "20s"],
    );
    let addr = served.url.trim_start_matches("http://").to_string();
    let url = &served.url;
    // One client sends 800 KiB of a 900 KiB body and stalls: the front door holds 800 KiB.
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(900 * 1024 - 10));
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(
        format!(
            "POST /v1/adapters/probe/ops/echo HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("headers");
    slow.write_all(&body.as_bytes()[..800 * 1024])
        .await
        .expect("most of the body");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Another 500 KiB body does not fit beside it.
    let c = reqwest::Client::new();
    let other = format!("{{\"pad\":\"{}\"}}", "y".repeat(500 * 1024));
    let refused = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .header("content-type", "application/json")
        .body(other.clone())
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 503);
    let problem: Value = refused.json().await.expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-buffered"),
        "{problem}"
    );
    // A small one still passes.
    let small = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .json(&json!({"small": true}))
        .send()
        .await
        .expect("answer");
    assert_eq!(small.status(), 200);
    // The slow client finishes: its call runs, and its share comes back.
    slow.write_all(&body.as_bytes()[800 * 1024..])
        .await
        .expect("rest");
    let mut head = [0u8; 12];
    slow.read_exact(&mut head).await.expect("status line");
    assert_eq!(&head, b"HTTP/1.1 200");
    drop(slow);
    eventually(Duration::from_secs(5), || {
        let c = c.clone();
        let other = other.clone();
        let url = url.clone();
        async move {
            c.post(format!("{url}/v1/adapters/probe/ops/echo"))
                .header("content-type", "application/json")
                .body(other)
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        }
    })
    .await
    .expect("the budget came back");
}
