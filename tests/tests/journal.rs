//! The exchange journal, tried as an operator and an attacker would: a failed call's
//! exchanges are kept and readable, with no secret or token in any form anywhere — the API's
//! answers, the exported fixture, the store's files — within their bounds, and gone with
//! their job.

use base64::Engine as _;
use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, get_json, invoke_json, serve_app};

/// A secret with characters that travel escaped: a quote, `+`, `/`, `=`.
const SECRET: &str = "s3cr\"et+/=Val-91";
/// The probe's token for scope "leak".
const TOKEN: &str = "probe-token-leak";

/// Every form `value` may travel in.
fn forms(value: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    vec![
        value.to_string(),
        encoded.clone(),
        encoded.replace('+', "%20"),
        b64.encode(value),
        url_safe.encode(value),
        serde_json::to_string(value)
            .expect("json")
            .trim_matches('"')
            .to_string(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    let lower = text.to_ascii_lowercase();
    for value in [SECRET, TOKEN] {
        for form in forms(value) {
            assert!(
                !lower.contains(&form.to_ascii_lowercase()),
                "{what} holds {form:?}:\n{text}"
            );
        }
    }
}

/// A platform that echoes what it got — body, query, a header — and answers 400.
async fn echo_platform() -> String {
    let app = axum::Router::new().fallback(
        |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| async move {
            let echo = headers
                .get("x-echo")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({ "got": body, "query": uri.query(), "echo": echo })),
            )
        },
    );
    let (addr, _task) = serve_app(app).await;
    format!("127.0.0.1:{}", addr.port())
}

fn probe(dep: &Deployment, host: &str, journal: &str) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"{host}\"]\n[secrets]\napi_key = \"{}\"\n[retry]\nmax_attempts = 1\n{journal}",
            component("weft-probe").display(),
            dep.secret("api_key", SECRET),
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_is_journaled_without_a_secret_in_any_form_anywhere() {
    let host = echo_platform().await;
    let dep = Deployment::new();
    probe(&dep, &host, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let answer = c
        .post(format!("{}/v1/adapters/probe/ops/leak-secrets", served.url))
        .json(&json!({ "url": format!("http://{host}/push") }))
        .send()
        .await
        .expect("call");
    assert_eq!(answer.status(), 422, "the platform's refusal");
    let call_id = answer
        .headers()
        .get("x-weft-call-id")
        .and_then(|v| v.to_str().ok())
        .expect("the answer names its call")
        .to_string();
    assert_clean("the call's answer", &answer.text().await.expect("text"));

    let record = get_json(&c, &format!("{}/v1/calls/{call_id}", served.url)).await;
    let text = record.to_string();
    assert_clean("GET /v1/calls/{id}", &text);
    let attempt = &record["attempts"][0];
    assert_eq!(attempt["outcome"], "rejected", "{record:#}");
    assert_eq!(attempt["platform_code"], "E-LEAK", "{record:#}");
    let exchanges = attempt["exchanges"].as_array().expect("exchanges");
    assert_eq!(exchanges.len(), 2, "{record:#}");
    let first = &exchanges[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["status"], 400);
    let headers: Vec<(String, String)> =
        serde_json::from_value(first["request"]["headers"].clone()).expect("headers");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "x-api-key" && v == "[redacted]"),
        "credential headers are masked, not dropped silently: {headers:?}"
    );
    let body: Value =
        serde_json::from_str(first["request"]["body"].as_str().expect("body")).expect("json");
    assert_eq!(
        body["rows"][0]["sku"], "A-1",
        "what is not secret is kept: {body}"
    );
    assert!(
        first["response"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("got"))
    );

    // Exported as a fixture by the CLI: nothing secret either, and it replays the failure.
    drop(served);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = dep.weft(&[
        "fixture",
        "from-call",
        &call_id,
        &out_dir.path().display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_dir(out_dir.path())
        .expect("dir")
        .next()
        .expect("a fixture")
        .expect("entry")
        .path();
    let fixture = std::fs::read_to_string(&file).expect("fixture");
    assert_clean("the exported fixture", &fixture);
    let out = dep.weft(&[
        "test",
        "--component",
        &component("weft-probe").display().to_string(),
        &file.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "the fixture reproduces the failure: {out:?}\n{fixture}"
    );
    let out = dep.weft(&[
        "replay",
        &call_id,
        "--component",
        &component("weft-probe").display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");

    // And the store's files hold none of it in plain text.
    for entry in std::fs::read_dir(dep.data()).expect("data") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journals_keep_their_bounds_and_go_with_their_job() {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "x".repeat(50_000),
        )
    });
    let (addr, _task) = serve_app(app).await;
    let host = format!("127.0.0.1:{}", addr.port());
    let dep = Deployment::new();
    probe(
        &dep,
        &host,
        "[journal]\nkeep = \"all\"\nmax_body = \"1KiB\"\nmax_exchanges = 3\n",
    );
    let rt = dep.runtime().await;
    // Six requests, each answered with 50 KB: three are kept, cut at 1 KiB.
    let out = invoke_json(
        &rt,
        "probe",
        "http-burst",
        json!({ "url": format!("http://{host}/x"), "count": 6 }),
    )
    .await
    .expect("burst");
    assert_eq!(out["sent"], 6);
    let job = rt
        .enqueue(
            "probe",
            "http-burst",
            &json!({ "url": format!("http://{host}/x"), "count": 6 }).to_string(),
            None,
            Duration::ZERO,
        )
        .await
        .expect("enqueue");
    let id = match job {
        weft::operations::Enqueued::New(id) => id,
        other => panic!("{other:?}"),
    };
    let rt = std::sync::Arc::new(rt);
    let workers = weft::workers::Workers::start(&rt, weft::workers::WorkerOptions::default());
    let ops = weft::operations::Operations::new(rt.clone());
    let record = weft_tests::harness::eventually(Duration::from_secs(30), || async {
        let job = ops.job(&id).await.ok()??;
        (job.state == weft::operations::JobState::Succeeded).then_some(())?;
        ops.call_record(&id).await.ok()?
    })
    .await
    .expect("the job's journal is kept (keep = \"all\")");
    let attempt = &record["attempts"][0];
    let exchanges = attempt["exchanges"].as_array().expect("exchanges");
    assert_eq!(exchanges.len(), 3, "{attempt:#}");
    assert_eq!(attempt["dropped"], 3);
    for x in exchanges {
        let r = &x["response"];
        assert_eq!(r["bytes"], 50_000);
        assert_eq!(r["cut"], true);
        assert!(r["body"].as_str().expect("body").len() <= 1024);
    }
    drop(workers);
    // Pruned with its job.
    weft::retention::Retention::prune(&rt, Duration::ZERO)
        .await
        .expect("prune");
    assert!(ops.job(&id).await.expect("job").is_none());
    assert!(
        ops.call_record(&id).await.expect("record").is_none(),
        "the journal went with the job"
    );
}
