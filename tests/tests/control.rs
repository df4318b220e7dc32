//! The control plane: API tokens and scopes on every address (loopback included), Host and
//! Origin checks, bodies a browser could send cross-site refused, bounded metric labels, and a
//! `/readyz` that tells the truth about required adapters and drains.

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually};

fn probe(dep: &Deployment) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
}

fn weft(dep: &Deployment, args: &[&str]) -> std::process::Output {
    weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(args)
        .output()
        .expect("weft runs")
}

fn create_token(dep: &Deployment, name: &str, scopes: &[&str]) -> String {
    let mut args = vec!["tokens", "create", "--name", name];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    let out = weft(dep, &args);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

fn log_path(dep: &Deployment) -> std::path::PathBuf {
    dep.manifests().parent().expect("root").join("serve.log")
}

async fn invocations(c: &reqwest::Client, url: &str) -> String {
    c.get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_nothing_runs_and_each_scope_allows_only_its_own() {
    let dep = Deployment::new();
    probe(&dep);
    let log = log_path(&dep);
    let served = Served::start_secure(&dep, &[], "info", &log);
    let url = &served.url;
    let c = reqwest::Client::new();

    // The first start made an admin token, in a file only this user can read; the log names
    // the file, never the value.
    let file = dep.data().join("admin-token");
    let admin = std::fs::read_to_string(&file)
        .expect("admin token file")
        .trim()
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("admin-token"), "{logged}");
    assert!(
        !logged.contains(&admin),
        "the token's value is never logged"
    );

    // No token, a wrong token: 401 with a challenge, and the adapter never ran.
    for auth in [
        None,
        Some("Bearer weft_0123456789abcdef_nope"),
        Some("Basic Zm9vOmJhcg=="),
    ] {
        let mut r = c
            .post(format!("{url}/v1/adapters/probe/ops/echo"))
            .json(&json!({"a": 1}));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.expect("answer");
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(
            r.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")),
            "{:?}",
            r.headers()
        );
        let problem: Value = r.json().await.expect("problem");
        assert_eq!(problem["status"], 401);
    }
    let metrics = invocations(&c, url).await;
    assert!(
        !metrics.contains("weft_export_calls_total{adapter=\"probe\",export=\"invoke\""),
        "the adapter was never called: {metrics}"
    );
    assert!(
        metrics.contains("weft_front_refusals_total{reason=\"unauthenticated\"} 3"),
        "{metrics}"
    );
    for path in ["/v1/adapters", "/v1/jobs", "/v1/schedules"] {
        let r = c.get(format!("{url}{path}")).send().await.expect("answer");
        assert_eq!(r.status(), 401, "{path}");
    }
    // The browser's own icon request beside every console page: no icon, and no refusal.
    let icon = c
        .get(format!("{url}/favicon.ico"))
        .send()
        .await
        .expect("icon");
    assert_eq!(icon.status(), 204);
    // Health and readiness stay open.
    assert_eq!(
        c.get(format!("{url}/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{url}/readyz"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );

    // The admin token does everything.
    let ok = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .bearer_auth(&admin)
        .json(&json!({"a": 1}))
        .send()
        .await
        .expect("answer");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("json"), json!({"a": 1}));

    // A read token reads, and can neither run an operation nor reload.
    let reader = create_token(&dep, "reader", &["read"]);
    let r = c
        .get(format!("{url}/v1/adapters"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    for (method, path) in [
        (reqwest::Method::POST, "/v1/adapters/probe/ops/echo"),
        (reqwest::Method::POST, "/v1/admin/reload"),
        (reqwest::Method::DELETE, "/v1/jobs/x"),
    ] {
        let r = c
            .request(method.clone(), format!("{url}{path}"))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 403, "{method} {path}");
        assert!(
            r.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("insufficient_scope")),
            "{:?}",
            r.headers()
        );
    }
    // An invoke token for another adapter cannot run the probe; one for the probe can.
    let other = create_token(&dep, "other", &["invoke:sekorm"]);
    let mine = create_token(&dep, "mine", &["invoke:probe"]);
    for (token, status) in [(&other, 403), (&mine, 200)] {
        let r = c
            .post(format!("{url}/v1/adapters/probe/ops/echo"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), status);
    }
    // Listing shows ids and scopes, never a secret; a revoked token is refused within a
    // second (a node asks the store again about a token it verified a second ago).
    let list = weft(&dep, &["tokens", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("\"reader\"") && !text.contains("hash"),
        "{text}"
    );
    let id = mine.split('_').nth(1).expect("id");
    assert!(weft(&dep, &["tokens", "revoke", id]).status.success());
    let refused = weft_tests::harness::eventually(std::time::Duration::from_secs(2), || async {
        let r = c
            .post(format!("{url}/v1/adapters/probe/ops/echo"))
            .bearer_auth(&mine)
            .json(&json!({}))
            .send()
            .await
            .ok()?;
        (r.status() == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "the revoked token is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_cross_origin_posts_and_form_bodies_are_refused() {
    let dep = Deployment::new();
    probe(&dep);
    let served = Served::start(&dep, &["--allowed-host", "weft.internal"]);
    let url = &served.url;
    let port = url.rsplit(':').next().expect("port");
    let c = reqwest::Client::new();
    let echo = format!("{url}/v1/adapters/probe/ops/echo");
    // DNS rebinding: a page on attacker.example resolving to us sends its own name as Host.
    let r = c
        .post(&echo)
        .header("host", format!("attacker.example:{port}"))
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 403);
    let r = c
        .post(&echo)
        .header("host", format!("weft.internal:{port}"))
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200, "a configured name is served");
    // A cross-site POST from a browser carries its page's Origin.
    let r = c
        .post(&echo)
        .header("origin", "http://attacker.example")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 403);
    let r = c
        .post(&echo)
        .header("origin", format!("http://127.0.0.1:{port}"))
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200, "same origin is fine");
    // Bodies a browser sends cross-site without a preflight never reach an operation.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = c
            .post(&echo)
            .header("content-type", ct)
            .body("{\"a\":1}")
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 415, "{ct}");
    }
    let metrics = invocations(&c, url).await;
    assert!(
        metrics.contains("weft_front_refusals_total{reason=\"host\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weft_front_refusals_total{reason=\"origin\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weft_front_refusals_total{reason=\"content-type\"} 3"),
        "{metrics}"
    );
}

#[test]
fn insecure_no_auth_is_refused_off_loopback() {
    let dep = Deployment::new();
    probe(&dep);
    let out = weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(["serve", "--listen", "0.0.0.0:0", "--insecure-no-auth"])
        .output()
        .expect("weft runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--insecure-no-auth is refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_to_unknown_operations_add_no_series() {
    let dep = Deployment::new();
    probe(&dep);
    let served = Served::start(&dep, &[]);
    let url = &served.url;
    let c = reqwest::Client::new();
    let _ = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .json(&json!({}))
        .send()
        .await
        .expect("warm");
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    // One of each kind of request first (a 404 and a scrape), so that the bounded series they
    // add (route template and status class) exist before counting.
    let _ = c
        .post(format!("{url}/v1/adapters/probe/ops/warm-up"))
        .json(&json!({}))
        .send()
        .await
        .expect("warm");
    let _ = invocations(&c, url).await;
    let before = series(&invocations(&c, url).await);
    for i in 0..1000 {
        let r = c
            .post(format!("{url}/v1/adapters/probe/ops/made-up-{i}"))
            .json(&json!({}))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 404);
    }
    let after = invocations(&c, url).await;
    assert_eq!(series(&after), before, "{after}");
    assert!(!after.contains("made-up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_with_a_failed_required_adapter_and_during_a_drain() {
    let dep = Deployment::new();
    probe(&dep);
    dep.manifest("broken", "name = \"broken\"\ncomponent = 42\n");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/readyz", served.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 503);
    let problem: Value = r.json().await.expect("problem");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("broken"),
        "{problem}"
    );
    drop(served);

    // Only the probe required: ready; then SIGTERM with a shutdown delay: 503 while draining.
    let served = Served::start(
        &dep,
        &["--require-adapters", "probe", "--shutdown-delay", "3s"],
    );
    let url = served.url.clone();
    assert_eq!(
        c.get(format!("{url}/readyz"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    let pid = served.pid().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let draining = eventually(Duration::from_secs(3), || async {
        // A fresh connection each time: the drain closes idle ones.
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .ok()?;
        let r = c.get(format!("{url}/readyz")).send().await.ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    assert!(draining.is_some(), "/readyz answers 503 during the drain");
    let status = tokio::task::spawn_blocking(move || served.terminate())
        .await
        .expect("join");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_callers_request_id_and_metrics_name_routes_not_paths() {
    let dep = Deployment::new();
    probe(&dep);
    let log = log_path(&dep);
    let served = Served::start_logging_with(&dep, "info", &log, &["--log-format", "json"]);
    let url = &served.url;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .header("x-request-id", "req-abc-123")
        .body("[1,")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-abc-123")
    );
    let ok = c
        .post(format!("{url}/v1/adapters/probe/ops/echo"))
        .json(&json!({"x": 1}))
        .send()
        .await
        .expect("answer");
    let generated = ok
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a generated id")
        .to_string();
    assert!(!generated.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<Value> = logged
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let refused = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("call refused"))
        })
        .unwrap_or_else(|| panic!("no call line: {logged}"));
    assert_eq!(
        refused["level"], "INFO",
        "a caller's mistake is not a warning"
    );
    assert_eq!(refused["span"]["request_id"], "req-abc-123", "{refused}");
    assert_eq!(refused["fields"]["adapter"], "probe");
    let access = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("answered"))
        })
        .count();
    assert!(access >= 2, "one access line a request: {logged}");

    let metrics = invocations(&c, url).await;
    for series in [
        "weft_front_requests_total{route=\"/v1/adapters/{name}/ops/{op}\",method=\"POST\",status=\"2xx\"} 1",
        "weft_front_requests_total{route=\"/v1/adapters/{name}/ops/{op}\",method=\"POST\",status=\"4xx\"} 1",
        "weft_build_info{version=",
        "weft_process_resident_memory_bytes ",
        "weft_process_open_fds ",
        "weft_adapter_status{adapter=\"probe\",status=\"ready\"} 1",
        "weft_export_calls_total{adapter=\"probe\",export=\"invoke\",outcome=\"ok\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} missing: {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_problem_whose_type_resolves_on_the_server() {
    let dep = Deployment::new();
    probe(&dep);
    let served = Served::start(&dep, &[]);
    let url = &served.url;
    let c = reqwest::Client::new();
    let cases = [
        (c.get(format!("{url}/v1/adapters/probe/ops/echo")), 405),
        (
            c.post(format!("{url}/v1/adapters/probe/ops/echo?mode=sometimes"))
                .json(&json!({})),
            400,
        ),
        (c.get(format!("{url}/v1/jobs?limit=lots")), 400),
        (c.delete(format!("{url}/v1/adapters")), 405),
        (c.get(format!("{url}/nowhere")), 404),
    ];
    let page = c
        .get(format!("{url}/problems"))
        .send()
        .await
        .expect("problems page")
        .text()
        .await
        .expect("text");
    for (request, status) in cases {
        let r = request.send().await.expect("answer");
        assert_eq!(r.status(), status);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let p: Value = r.json().await.expect("problem");
        assert_eq!(p["status"], status);
        let ty = p["type"].as_str().expect("type");
        let anchor = ty
            .strip_prefix("/problems#")
            .expect("a section of /problems");
        assert!(page.contains(&format!("id=\"{anchor}\"")), "{ty}");
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
    }
    // A job's last error is the same kind of document.
    let job: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/enqueue?mode=async"))
        .json(&json!({"op": "echo", "input": {}, "fail_after": true}))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = job["job_id"].as_str().expect("id").to_string();
    let dead = weft_tests::harness::job_in_state(&c, url, &id, &["dead"], Duration::from_secs(10))
        .await
        .expect("the job dies");
    let e = &dead["last_error"];
    assert_eq!(e["type"], "/problems#rejected", "{dead}");
    assert_eq!(e["status"], 422);
    assert!(e["title"].is_string() && e["detail"].is_string(), "{e}");
}

/// What an OTLP/HTTP receiver got: every JSON body posted to `/v1/traces`.
type Received = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

async fn otlp_receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    let got: Received = Default::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body)
                    && let Ok(mut g) = sink.lock()
                {
                    g.push(v);
                }
                axum::Json(json!({}))
            }
        }),
    );
    let (addr, server) = weft_tests::harness::serve_app(app).await;
    (format!("http://{addr}"), got, server)
}

/// A platform that remembers the `traceparent` of each request.
async fn platform() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
    tokio::task::JoinHandle<()>,
) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>> = Default::default();
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let sink = sink.clone();
            async move {
                if let Ok(mut s) = sink.lock() {
                    s.push(
                        headers
                            .get("traceparent")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    );
                }
                "ok"
            }
        }),
    );
    let (addr, server) = weft_tests::harness::serve_app(app).await;
    (addr, seen, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_from_the_front_door_to_the_platform_reaches_the_otlp_receiver() {
    let (endpoint, got, _receiver) = otlp_receiver().await;
    let (platform, seen, _platform) = platform().await;
    let dep = Deployment::new();
    for (name, propagate) in [("traced", true), ("private", false)] {
        dep.manifest(
            name,
            &format!(
                "name = \"{name}\"\ncomponent = \"{}\"\nallowed_hosts = [\"127.0.0.1:{}\"]\ntrace_propagation = {propagate}\n",
                component("weft-probe").display(),
                platform.port()
            ),
        );
    }
    let log = log_path(&dep);
    let served = Served::start_env(
        &dep,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        "info",
        &log,
    );
    let c = reqwest::Client::new();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    for name in ["traced", "private"] {
        let r = c
            .post(format!("{}/v1/adapters/{name}/ops/http-get", served.url))
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
            .json(&json!({ "url": format!("http://{platform}/") }))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 200);
        let out: Value = r.json().await.expect("json");
        assert_eq!(out["status"], 200, "{out}");
    }
    // The platform saw the caller's trace only where the manifest allowed it.
    let headers = seen.lock().expect("seen").clone();
    assert_eq!(headers.len(), 2, "{headers:?}");
    assert!(
        headers[0]
            .as_deref()
            .is_some_and(|t| t.starts_with(&format!("00-{trace_id}-"))),
        "{headers:?}"
    );
    assert_eq!(headers[1], None, "no traceparent without trace_propagation");

    let names = eventually(Duration::from_secs(20), || async {
        let bodies = got.lock().ok()?.clone();
        let spans: Vec<(String, String)> = bodies
            .iter()
            .flat_map(|b| b["resourceSpans"].as_array().cloned().unwrap_or_default())
            .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
            .flat_map(|s| s["spans"].as_array().cloned().unwrap_or_default())
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or("").to_string(),
                    s["traceId"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let ours: Vec<String> = spans
            .iter()
            .filter(|(_, t)| t.eq_ignore_ascii_case(trace_id))
            .map(|(n, _)| n.clone())
            .collect();
        [
            "request",
            "call",
            "export",
            "host http.send",
            "platform request",
        ]
        .iter()
        .all(|n| ours.iter().any(|o| o == n))
        .then_some(ours)
    })
    .await;
    assert!(
        names.is_some(),
        "spans with the caller's trace id for front door, call, export, host call and platform request: {:?}",
        got.lock().map(|g| g.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_past_its_timeout_names_the_calls_it_cut() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[limits]\ntimeout = \"60s\"\ncpu_time = \"60s\"\n",
            component("weft-probe").display()
        ),
    );
    let log = log_path(&dep);
    let served = Served::start_logging_with(&dep, "info", &log, &["--shutdown-timeout", "1s"]);
    let url = served.url.clone();
    let call = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/v1/adapters/probe/ops/spin"))
            .json(&json!({}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || served.terminate())
        .await
        .expect("join");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the drain is bounded: {:?}",
        started.elapsed()
    );
    let _ = call.await;
    let logged = std::fs::read_to_string(&log).expect("log");
    let line = logged
        .lines()
        .find(|l| l.contains("these calls are cut"))
        .unwrap_or_else(|| panic!("no cut line: {logged}"));
    assert!(line.contains("probe spin (call "), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_front_door_retry_a_dead_job_alike() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[retry]\nmax_attempts = 2\ninitial_backoff = \"1ms\"\n",
            component("weft-probe").display()
        ),
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let mut dead = Vec::new();
    for _ in 0..2 {
        let r: Value = c
            .post(format!("{url}/v1/adapters/probe/ops/panic?mode=async"))
            .json(&json!({}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        let id = r["job_id"].as_str().expect("id").to_string();
        weft_tests::harness::job_in_state(&c, url, &id, &["dead"], Duration::from_secs(20))
            .await
            .expect("dead");
        dead.push(id);
    }
    drop(served);
    // The CLI, without --attempts, gives the manifest's [retry] max_attempts, as HTTP does.
    let out = weft(&dep, &["jobs", "retry", &dead[0]]);
    assert!(out.status.success(), "{out:?}");
    let served = Served::start(&dep, &[]);
    let url = &served.url;
    let r = c
        .post(format!("{url}/v1/jobs/{}/retry", dead[1]))
        .send()
        .await
        .expect("retry");
    assert_eq!(r.status(), 202);
    let mut granted = Vec::new();
    for id in &dead {
        let job =
            weft_tests::harness::job_in_state(&c, url, id, &["dead"], Duration::from_secs(20))
                .await
                .expect("dead again");
        granted.push(job["max_attempts"].as_u64().expect("n") - 1);
    }
    assert_eq!(
        granted[0], granted[1],
        "CLI and HTTP grant the same attempts"
    );
    assert_eq!(granted[0], 2, "the manifest's max_attempts");
    // A job that is not dead: the same refusal, exit code 12 (conflict) and 409.
    let out = weft(&dep, &["jobs", "cancel", "no-such-job"]);
    assert_eq!(out.status.code(), Some(19));

    // Every dead job at once, through the same operation: another adapter's filter takes
    // none, the API's takes both, and so does the CLI's.
    let r: Value = c
        .post(format!("{url}/v1/jobs:retry?adapter=other"))
        .send()
        .await
        .expect("bulk")
        .json()
        .await
        .expect("json");
    assert_eq!(r["queued"], 0, "{r}");
    let r = c
        .post(format!("{url}/v1/jobs:retry?adapter=probe"))
        .send()
        .await
        .expect("bulk");
    assert_eq!(r.status(), 202);
    let r: Value = r.json().await.expect("json");
    assert_eq!(r["queued"], 2, "{r}");
    let mut attempts = Vec::new();
    for id in &dead {
        let job =
            weft_tests::harness::job_in_state(&c, url, id, &["dead"], Duration::from_secs(20))
                .await
                .expect("dead once more");
        attempts.push(job["max_attempts"].as_u64().expect("n"));
    }
    assert_eq!(
        attempts,
        [4, 4],
        "each got its adapter's [retry] max_attempts more"
    );
    drop(served);
    let out = weft(&dep, &["jobs", "retry-dead", "--adapter", "probe"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2 dead jobs queued again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_an_adapters_storage_masked_and_deletes_a_key_and_each_act_is_logged() {
    let dep = Deployment::new();
    probe(&dep);
    let log = log_path(&dep);
    let served = Served::start_secure(&dep, &[], "info", &log);
    let url = &served.url;
    let c = reqwest::Client::new();
    let admin = std::fs::read_to_string(dep.data().join("admin-token"))
        .expect("admin token")
        .trim()
        .to_string();
    let reader = create_token(&dep, "watcher", &["read"]);
    let put = |key: &str, value: &str| {
        c.post(format!("{url}/v1/adapters/probe/ops/storage"))
            .bearer_auth(&admin)
            .json(&json!({"key": key, "value": value}))
            .send()
    };
    for (key, value) in [
        (
            "orders/since",
            r#"{"mark":"2026-12-07T08:00:00Z","token":"tok-secret-1"}"#,
        ),
        ("requests/a", "1"),
        ("requests/b", "2"),
        ("requests/c", "3"),
    ] {
        assert_eq!(put(key, value).await.expect("put").status(), 200);
    }
    let get = |path: String, token: &str| c.get(format!("{url}{path}")).bearer_auth(token).send();

    // Reading storage is an administrator's act, as changing it is.
    let r = get("/v1/adapters/probe/storage".into(), &reader)
        .await
        .expect("list");
    assert_eq!(r.status(), 403);

    let list = |query: &str| {
        let listed = get(format!("/v1/adapters/probe/storage?{query}"), &admin);
        async move {
            let r = listed.await.expect("list");
            r.json::<Value>().await.expect("json")
        }
    };
    let page = list("prefix=requests/&limit=2").await;
    assert_eq!(page["keys"], json!(["requests/a", "requests/b"]), "{page}");
    assert_eq!(page["next_after"], "requests/b");
    let rest = list("prefix=requests/&after=requests/b").await;
    assert_eq!(rest["keys"], json!(["requests/c"]), "{rest}");
    assert_eq!(rest["next_after"], Value::Null);

    let shown = get("/v1/adapters/probe/storage/orders/since".into(), &admin)
        .await
        .expect("value");
    assert_eq!(shown.status(), 200);
    let shown = shown.text().await.expect("text");
    assert!(shown.contains("2026-12-07T08:00:00Z"), "{shown}");
    assert!(
        !shown.contains("tok-secret-1"),
        "a secret-looking field is masked: {shown}"
    );

    let gone = c
        .delete(format!("{url}/v1/adapters/probe/storage/orders/since"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(gone.status(), 200);
    let again = get("/v1/adapters/probe/storage/orders/since".into(), &admin)
        .await
        .expect("value");
    assert_eq!(again.status(), 404);
    // The host's own namespaces are no adapter's: out of reach by name.
    let host = get("/v1/adapters/%1Fweft%2Fapi-tokens/storage".into(), &admin)
        .await
        .expect("host namespace");
    assert_eq!(host.status(), 400);

    // The same from the command line, on the same store.
    let out = weft(&dep, &["storage", "list", "probe", "--prefix", "requests/"]);
    assert!(out.status.success(), "{out:?}");
    let keys: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        keys["keys"],
        json!(["requests/a", "requests/b", "requests/c"]),
        "the API's shape: {keys}"
    );
    let out = weft(&dep, &["storage", "get", "probe", "requests/b"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"json\": 2"),
        "{out:?}"
    );
    assert!(
        weft(&dep, &["storage", "delete", "probe", "requests/b"])
            .status
            .success()
    );
    assert_eq!(
        weft(&dep, &["storage", "get", "probe", "requests/b"])
            .status
            .code(),
        Some(19)
    );

    let logged = std::fs::read_to_string(&log).expect("log");
    let admin_id = admin.split('_').nth(1).expect("token id");
    assert!(
        logged
            .lines()
            .any(|l| l.contains("storage key deleted by an operator")
                && l.contains("orders/since")
                && l.contains(admin_id)),
        "{logged}"
    );
    assert!(!logged.contains("tok-secret-1"), "{logged}");
}
