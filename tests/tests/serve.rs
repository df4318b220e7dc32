//! `weft serve`: the front door, durable jobs, schedules and graceful shutdown, through the real
//! binary over loopback HTTP.

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually, get_json};
use weft_tests::sekorm::{Fault, Sekorm};

const ACCOUNT: &str = "serve-account";
const SECRET: &str = "serve-secret";

fn sekorm(dep: &Deployment, sim: &Sekorm, extra: &str) {
    dep.manifest(
        "sekorm",
        &format!(
            r#"
name = "sekorm"
component = "{}"
base_url = "{}"

[secrets]
account = "{}"
app_secret = "{}"

[token]
min_fetch_interval = "0s"

[retry]
max_attempts = 3
initial_backoff = "50ms"
max_backoff = "200ms"

[limits]
request_body = "1MiB"
http_timeout = "2s"
{extra}
"#,
            component("weft-sekorm").display(),
            sim.base_url(),
            dep.secret("account", ACCOUNT),
            dep.secret("secret", SECRET),
        ),
    );
}

fn probe(dep: &Deployment, extra: &str) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n{extra}\n",
            component("weft-probe").display()
        ),
    );
}

fn items(n: usize) -> Value {
    json!({ "items": (0..n).map(|i| json!({"pnCode": format!("P{i}"), "brandName": "AMS", "stockQuantity": i})).collect::<Vec<_>>() })
}

async fn job(client: &reqwest::Client, url: &str, id: &str) -> Value {
    client
        .get(format!("{url}/v1/jobs/{id}"))
        .send()
        .await
        .expect("GET job")
        .json()
        .await
        .expect("job JSON")
}

async fn wait_state(client: &reqwest::Client, url: &str, id: &str, state: &str) -> Value {
    eventually(Duration::from_secs(20), || async {
        let j = job(client, url, id).await;
        (j["state"] == state).then_some(j)
    })
    .await
    .unwrap_or_else(|| panic!("job {id} never reached {state}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_calls_answer_json_and_errors_are_problem_documents() {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    sekorm(&dep, &sim, "");
    let served = Served::start(&dep, &["--max-body", "4MiB"]);
    let c = reqwest::Client::new();
    let url = &served.url;

    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/full-sync"))
        .json(&items(3))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["items"], 3);

    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/full-sync"))
        .body("{\"items\": [1,")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.expect("problem");
    assert_eq!(p["kind"], "invalid-input");
    assert!(
        p["detail"].as_str().unwrap_or("").contains("line 1 column"),
        "{p}"
    );
    assert_eq!(p["status"], 400);
    assert_eq!(p["adapter"], "sekorm");

    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/full-sync"))
        .json(&json!({"items": [{"pnCode": "x", "brandName": "AMS", "stockQuantity": -1}]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.expect("problem");
    assert_eq!(p["details"][0]["index"], 0);
    assert_eq!(p["details"][0]["field"], "stockQuantity");

    // A 20 MiB body: the answer comes from the declared length, before the body is read.
    let (status, answer) =
        raw_post(url, "/v1/adapters/sekorm/ops/full-sync", 20 * 1024 * 1024).await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer.contains("limits.request_body of adapter sekorm (1.0 MiB)"),
        "{answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");

    let r = c
        .post(format!("{url}/v1/adapters/nope/ops/x"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/nope"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);

    let r = c
        .get(format!("{url}/v1/adapters"))
        .send()
        .await
        .expect("adapters");
    let list: Value = r.json().await.expect("json");
    assert_eq!(list[0]["name"], "sekorm");
    assert_eq!(list[0]["status"], "ready");
    assert_eq!(list[0]["component_hash"].as_str().map(str::len), Some(64));
    assert!(
        !list.to_string().contains(SECRET),
        "no secret in /v1/adapters"
    );

    assert_eq!(
        c.get(format!("{url}/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{url}/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );
    let metrics = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "weft_invocations_total{adapter=\"sekorm\",op=\"full-sync\",outcome=\"ok\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("weft_invocation_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weft_token_fetches_total{adapter=\"sekorm\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weft_outbound_requests_total"),
        "{metrics}"
    );
    assert!(!metrics.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_call_survives_two_failures_and_a_dead_job_comes_back_with_retry() {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    sekorm(&dep, &sim, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;

    sim.fail_next([Fault::Status(500), Fault::Status(503)]);
    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/full-sync?mode=async"))
        .json(&items(2))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.expect("json")["job_id"]
        .as_str()
        .expect("id")
        .to_string();
    let done = wait_state(&c, url, &id, "succeeded").await;
    assert_eq!(done["attempt"], 3, "{done}");
    assert_eq!(done["output"]["items"], 2);
    assert_eq!(sim.ledger(|l| l.full_sync_batches.clone()), vec![2]);

    sim.fail_next([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let r = c
        .post(format!("{url}/v1/adapters/sekorm/ops/full-sync?mode=async"))
        .json(&items(1))
        .send()
        .await
        .expect("post");
    let id = r.json::<Value>().await.expect("json")["job_id"]
        .as_str()
        .expect("id")
        .to_string();
    let dead = wait_state(&c, url, &id, "dead").await;
    assert_eq!(dead["attempt"], 3);
    assert_eq!(dead["last_error"]["kind"], "transient");
    let listed = get_json(&c, &format!("{url}/v1/jobs?state=dead&adapter=sekorm")).await;
    assert!(
        listed
            .as_array()
            .is_some_and(|l| l.iter().any(|j| j["id"] == id.as_str()))
    );
    let r = c
        .post(format!("{url}/v1/jobs/{id}/retry"))
        .send()
        .await
        .expect("retry");
    assert_eq!(r.status(), 202);
    let done = wait_state(&c, url, &id, "succeeded").await;
    assert_eq!(done["attempt"], 4);
    let r = c
        .post(format!("{url}/v1/jobs/{id}/retry"))
        .send()
        .await
        .expect("retry again");
    assert_eq!(r.status(), 409, "only a dead job can be retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_never_makes_a_second_platform_call() {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    sekorm(&dep, &sim, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let send = |body: Value| {
        c.post(format!("{url}/v1/adapters/sekorm/ops/full-sync?mode=async"))
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first: Value = send(items(4))
        .await
        .expect("first")
        .json()
        .await
        .expect("json");
    let id = first["job_id"].as_str().expect("id").to_string();
    wait_state(&c, url, &id, "succeeded").await;
    let again = send(items(4)).await.expect("again");
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.json::<Value>().await.expect("json")["job_id"],
        id.as_str()
    );
    let other = send(items(5)).await.expect("other body");
    assert_eq!(other.status(), 409);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.ledger(|l| l.full_sync_batches.clone()),
        vec![4],
        "exactly one platform call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_process_was_killed_completes_after_restart_without_duplicates() {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    sekorm(&dep, &sim, "");
    let served = Served::start(&dep, &["--job-lease", "1s"]);
    let c = reqwest::Client::new();
    // The platform holds the first request long enough for the kill; it never answers it.
    sim.fail_next([Fault::Latency(Duration::from_secs(3))]);
    let r = c
        .post(format!(
            "{}/v1/adapters/sekorm/ops/full-sync?mode=async",
            served.url
        ))
        .json(&items(6))
        .send()
        .await
        .expect("post");
    let id = r.json::<Value>().await.expect("json")["job_id"]
        .as_str()
        .expect("id")
        .to_string();
    eventually(Duration::from_secs(10), || async {
        (sim.business_requests() >= 1).then_some(())
    })
    .await
    .expect("job started");
    served.kill9();
    let served = Served::start(&dep, &["--job-lease", "1s"]);
    let done = wait_state(&c, &served.url, &id, "succeeded").await;
    assert!(done["attempt"].as_u64() >= Some(2), "{done}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sim.ledger(|l| l.full_sync_batches.clone()),
        vec![6],
        "one effect at the platform"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueued_by_an_adapter_commit_only_with_a_successful_call() {
    let dep = Deployment::new();
    probe(&dep, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let r: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/enqueue"))
        .json(&json!({"op": "echo", "input": {"hello": "later"}}))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("id").to_string();
    let done = wait_state(&c, url, &id, "succeeded").await;
    assert_eq!(done["output"]["hello"], "later");
    let r = c
        .post(format!("{url}/v1/adapters/probe/ops/enqueue"))
        .json(&json!({"op": "echo", "input": {}, "fail_after": true}))
        .send()
        .await
        .expect("enqueue then fail");
    assert_eq!(r.status(), 422);
    let all: Value = c
        .get(format!("{url}/v1/jobs?adapter=probe"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(1),
        "the failed call's job was never committed: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_jobs_is_checked_whole_stored_at_once_and_each_runs_once() {
    let dep = Deployment::new();
    probe(&dep, "[limits]\nrequest_body = \"1KiB\"\n");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let batch_url = format!("{url}/v1/adapters/probe/jobs:batch");
    let list = |query: &'static str| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let all = get_json(
                &c,
                &format!("{url}/v1/jobs?adapter=probe&limit=1000{query}"),
            )
            .await;
            all.as_array().cloned().unwrap_or_default()
        }
    };
    let batch = |jobs: Vec<Value>| {
        let (c, batch_url) = (c.clone(), batch_url.clone());
        async move {
            c.post(&batch_url)
                .json(&json!({ "jobs": jobs }))
                .send()
                .await
                .expect("batch")
        }
    };
    // One bad job refuses the batch, names its place, and stores nothing.
    for (bad, why) in [
        (json!({"op": "no-such-op"}), "jobs[2]"),
        (
            json!({"op": "echo", "input": {"pad": "x".repeat(2048)}}),
            "limits.request_body",
        ),
        (
            json!({"op": "echo", "idempotency_key": ""}),
            "idempotency_key",
        ),
        (
            json!({"op": "echo", "delay_ms": 40u64 * 24 * 3600 * 1000}),
            "30 days",
        ),
        (json!({"op": "echo", "surprise": 1}), "unknown field"),
    ] {
        let r = batch(vec![json!({"op": "echo"}), json!({"op": "echo"}), bad]).await;
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        assert!(
            [400, 404].contains(&status) && text.contains(why),
            "{status} {text}"
        );
    }
    let r = batch((0..1001).map(|_| json!({"op": "echo"})).collect()).await;
    assert_eq!(r.status(), 400);
    assert!(list("").await.is_empty(), "a refused batch stores nothing");
    // 200 jobs, half of them keyed, in one request.
    let jobs: Vec<Value> = (0..200)
        .map(|i| {
            let mut j = json!({"op": "storage", "input": {"key": format!("k{i}"), "value": format!("v{i}")}});
            if i % 2 == 0 {
                j["idempotency_key"] = json!(format!("key-{i}"));
            }
            j
        })
        .collect();
    let r = batch(jobs).await;
    assert_eq!(r.status(), 202);
    let answer: Value = r.json().await.expect("json");
    let ids: Vec<String> = answer["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            assert_eq!(j["status"], "new", "{j}");
            j["job_id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(ids.len(), 200);
    for id in [&ids[0], &ids[99], &ids[199]] {
        wait_state(&c, url, id, "succeeded").await;
    }
    // Re-sent: the keyed jobs are the same jobs; a key reused for another request is a
    // conflict for that job alone.
    let again: Vec<Value> = vec![
        json!({"op": "storage", "input": {"key": "k0", "value": "v0"}, "idempotency_key": "key-0"}),
        json!({"op": "storage", "input": {"key": "k2", "value": "other"}, "idempotency_key": "key-2"}),
        json!({"op": "echo", "input": {"fresh": true}}),
    ];
    let answer: Value = batch(again).await.json().await.expect("json");
    let statuses: Vec<&str> = answer["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["existing", "conflict", "new"], "{answer}");
    assert_eq!(answer["jobs"][0]["job_id"], ids[0].as_str());
    // Every job ran exactly once: 201 jobs in all, each succeeded once, every key written.
    let done = eventually(Duration::from_secs(30), || async {
        let all = list("&state=succeeded").await;
        (all.len() == 201).then_some(all)
    })
    .await
    .expect("all 201 jobs succeed");
    for j in &done {
        assert_eq!(j["attempt"], 1, "ran once: {j}");
    }
    assert_eq!(list("").await.len(), 201);
    let keys: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/storage"))
        .json(&json!({"key": "k199"}))
        .send()
        .await
        .expect("storage")
        .json()
        .await
        .expect("json");
    assert_eq!(keys["read"], "v199");
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_ticks_and_never_overlaps_itself() {
    let dep = Deployment::new();
    probe(
        &dep,
        "[[schedules]]\nname = \"tick\"\nevery = \"300ms\"\n\n[config]\ntick_sleep_ms = 700\n",
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let ticks = eventually(Duration::from_secs(20), || async {
        let out: Value = c
            .post(format!("{url}/v1/adapters/probe/ops/storage"))
            .json(&json!({"key": "ticks"}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let n: u64 = out["read"].as_str()?.parse().ok()?;
        (n >= 3).then_some(n)
    })
    .await
    .expect("three ticks ran");
    assert!(ticks >= 3);
    let out: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/storage"))
        .json(&json!({"key": "overlap"}))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(
        out["read"],
        Value::Null,
        "a tick never started while the previous one ran"
    );
    let metrics = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "weft_schedule_runs_total{adapter=\"probe\",schedule=\"tick\",outcome=\"ok\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_call_finish() {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = Deployment::new();
    sekorm(&dep, &sim, "");
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    sim.fail_next([Fault::Latency(Duration::from_millis(800))]);
    let call = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/v1/adapters/sekorm/ops/full-sync"))
            .json(&items(1))
            .send()
            .await
    });
    eventually(Duration::from_secs(10), || async {
        (sim.business_requests() >= 1).then_some(())
    })
    .await
    .expect("in flight");
    let status = tokio::task::spawn_blocking(move || served.terminate())
        .await
        .expect("join");
    assert!(status.success(), "graceful exit: {status}");
    let r = call
        .await
        .expect("task")
        .expect("the in-flight call was answered");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_routes_are_authenticated_by_the_host_before_the_adapter_runs() {
    let dep = Deployment::new();
    let token = dep.secret("crm_token", "crm-shared-token");
    let key = dep.secret("hmac_key", "hmac-key-123");
    let password = dep.secret("basic_pw", "pa55word");
    probe(
        &dep,
        &format!(
            r#"
[secrets]
crm_token = "{token}"
hmac_key = "{key}"
basic_pw = "{password}"

[[routes]]
name = "create"
method = "POST"
path = "/erp/create"
auth = {{ type = "header", header = "token", secret = "crm_token" }}

[[routes]]
name = "signed"
method = "POST"
path = "/hook"
auth = {{ type = "hmac", header = "X-Signature", secret = "hmac_key", timestamp_header = "X-Timestamp", window = "5m" }}

[[routes]]
name = "basic"
method = "GET"
path = "/basic"
auth = {{ type = "basic", username = "erp", secret = "basic_pw" }}
"#
        ),
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let url = &served.url;
    let calls = || async {
        let out: Value = c
            .post(format!("{url}/v1/adapters/probe/ops/storage"))
            .json(&json!({"key": "inbound_calls"}))
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        out["read"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };

    let r = c
        .post(format!("{url}/inbound/probe/erp/create"))
        .header("token", "wrong")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{url}/inbound/probe/erp/create"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    assert_eq!(
        calls().await,
        0,
        "the adapter never saw the refused requests"
    );

    let r = c
        .post(format!("{url}/inbound/probe/erp/create?objAPIName=Order"))
        .header("token", "crm-shared-token")
        .body("{\"a\":1}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.expect("json");
    assert_eq!(echo["route"], "create");
    assert_eq!(echo["path"], "/erp/create");
    assert_eq!(echo["query"][0], json!(["objAPIName", "Order"]));
    assert_eq!(echo["body"], "{\"a\":1}");

    let body = b"{\"event\":\"x\"}";
    let sign = |ts: i64| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hmac-key-123").expect("key");
        mac.update(format!("{ts}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let send = |ts: i64, sig: String| {
        c.post(format!("{url}/inbound/probe/hook"))
            .header("X-Timestamp", ts.to_string())
            .header("X-Signature", sig)
            .body(body.to_vec())
            .send()
    };
    assert_eq!(send(now, sign(now)).await.expect("signed").status(), 200);
    assert_eq!(
        send(now, sign(now - 1)).await.expect("bad sig").status(),
        401
    );
    assert_eq!(
        send(now - 3600, sign(now - 3600))
            .await
            .expect("stale")
            .status(),
        401,
        "outside the window"
    );
    // The same signed request again: a replay, refused (the first one above was accepted).
    assert_eq!(send(now, sign(now)).await.expect("replay").status(), 401);
    // A fresh signature is accepted; a timestamp far in the future is not, nor absurd ones.
    assert_eq!(
        send(now + 1, sign(now + 1)).await.expect("fresh").status(),
        200
    );
    assert_eq!(
        send(now + 120, sign(now + 120))
            .await
            .expect("future")
            .status(),
        401
    );
    for absurd in [i64::MIN, i64::MAX] {
        assert_eq!(
            send(absurd, sign(absurd)).await.expect("absurd").status(),
            401,
            "{absurd} is refused, not a panic"
        );
    }
    // The Basic scheme name is case-insensitive (RFC 7617).
    use base64::Engine as _;
    let credentials = base64::engine::general_purpose::STANDARD.encode("erp:pa55word");
    for scheme in ["Basic", "basic", "BASIC"] {
        let r = c
            .get(format!("{url}/inbound/probe/basic"))
            .header("authorization", format!("{scheme} {credentials}"))
            .send()
            .await
            .expect("basic");
        assert_eq!(r.status(), 200, "{scheme}");
    }

    let r = c
        .get(format!("{url}/inbound/probe/basic"))
        .basic_auth("erp", Some("pa55word"))
        .send()
        .await
        .expect("basic");
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{url}/inbound/probe/basic"))
        .basic_auth("erp", Some("nope"))
        .send()
        .await
        .expect("basic");
    assert_eq!(r.status(), 401);
    assert_eq!(
        c.get(format!("{url}/inbound/probe/nowhere"))
            .send()
            .await
            .expect("404")
            .status(),
        404
    );
    // Three accepted above, one fresh signature and three Basic spellings: refusals never ran it.
    assert_eq!(calls().await, 7);
}

/// Sends a POST declaring `length` bytes over a raw socket, writing as much of the body as the
/// server takes, and answers the status and the raw response text.
async fn raw_post(url: &str, path: &str, length: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("headers");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < length {
        match tokio::time::timeout(Duration::from_millis(200), s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
