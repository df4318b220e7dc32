//! Partial success, end to end through `weft serve`: an operation whose platform took some
//! items and refused others succeeds by default and says so — on its job, in its synchronous
//! answer's headers, in its call record, in `weft_items_total` — with the refused items
//! bounded and scrubbed of secrets; with `[items] fail_on_rejected` the same call is a
//! rejection and its job ends dead without a retry.

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, get_json, job_in_state, metric};

const SECRET: &str = "items-secret-4b1d";

fn probe(dep: &Deployment, items: &str) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[secrets]\napi_key = \"{}\"\n[retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\n{items}",
            component("weft-probe").display(),
            dep.secret("api_key", SECRET),
        ),
    );
}

/// 116 taken, 4 refused (one reason echoing the secret, as a careless platform would), in two
/// reports.
fn partial() -> Value {
    json!({
        "accepted": 116,
        "reports": 2,
        "rejected": [
            {"index": 3, "code": "E12", "message": "quantity below zero"},
            {"index": 7, "code": "E12", "message": format!("bad key {SECRET}")},
            {"index": 50, "code": "E40", "message": "unknown sku"},
            {"index": 99, "code": "E40", "message": "unknown sku"},
        ],
    })
}

/// The job `id` once it has ended (within 30 s).
async fn ended(c: &reqwest::Client, url: &str, id: &str) -> Value {
    job_in_state(c, url, id, &["succeeded", "dead"], Duration::from_secs(30))
        .await
        .expect("the job ends")
}

async fn enqueue(c: &reqwest::Client, url: &str, input: &Value) -> String {
    let r: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/items?mode=async"))
        .json(input)
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    r["job_id"].as_str().expect("job id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_shows_on_its_job_answer_call_record_and_metrics() {
    let dep = Deployment::new();
    probe(&dep, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();

    let id = enqueue(&c, &served.url, &partial()).await;
    let job = ended(&c, &served.url, &id).await;
    assert_eq!(
        job["state"], "succeeded",
        "refusals do not fail it by default: {job:#}"
    );
    assert_eq!(job["items"]["accepted"], 116, "{job:#}");
    assert_eq!(job["items"]["rejected"], 4, "{job:#}");
    let refused = job["items"]["rejected_items"].as_array().expect("refused");
    let indexes: Vec<u64> = refused.iter().filter_map(|r| r["index"].as_u64()).collect();
    assert_eq!(indexes, [3, 7, 50, 99], "both reports, in order: {job:#}");
    assert_eq!(refused[2]["code"], "E40");
    assert!(!job.to_string().contains(SECRET), "{job:#}");
    assert!(job.to_string().contains("[redacted]"), "{job:#}");

    let answer = c
        .post(format!("{}/v1/adapters/probe/ops/items", served.url))
        .json(&partial())
        .send()
        .await
        .expect("call");
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("x-weft-items-accepted").as_deref(), Some("116"));
    assert_eq!(header("x-weft-items-rejected").as_deref(), Some("4"));
    let call_id = header("x-weft-call-id").expect("call id");
    let body: Value = answer.json().await.expect("json");
    assert_eq!(
        body,
        json!({"reported": true}),
        "the adapter's own output is untouched"
    );
    let record = get_json(&c, &format!("{}/v1/calls/{call_id}", served.url)).await;
    assert_eq!(record["items"]["rejected"], 4, "{record:#}");
    assert!(!record.to_string().contains(SECRET), "{record:#}");

    // A call that reports nothing says nothing.
    let plain = c
        .post(format!("{}/v1/adapters/probe/ops/echo", served.url))
        .json(&json!({"a": 1}))
        .send()
        .await
        .expect("echo");
    assert!(plain.headers().get("x-weft-items-rejected").is_none());

    let url = &served.url;
    assert_eq!(
        metric(
            &c,
            url,
            "weft_items_total",
            &["adapter=\"probe\"", "outcome=\"rejected\""]
        )
        .await,
        8.0
    );
    assert_eq!(
        metric(
            &c,
            url,
            "weft_items_total",
            &["adapter=\"probe\"", "outcome=\"accepted\""]
        )
        .await,
        232.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_rejected_makes_a_refusal_reject_the_call_and_end_its_job_without_retry() {
    let dep = Deployment::new();
    probe(&dep, "[items]\nfail_on_rejected = true\n");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();

    let answer = c
        .post(format!("{}/v1/adapters/probe/ops/items", served.url))
        .json(&partial())
        .send()
        .await
        .expect("call");
    assert_eq!(answer.status(), 422);
    let problem: Value = answer.json().await.expect("json");
    let text = problem.to_string();
    assert!(text.contains("items-rejected"), "{problem:#}");
    assert!(text.contains("4 of 120 items were rejected"), "{problem:#}");
    assert!(!text.contains(SECRET), "{problem:#}");

    let id = enqueue(&c, &served.url, &partial()).await;
    let job = ended(&c, &served.url, &id).await;
    assert_eq!(job["state"], "dead", "{job:#}");
    assert_eq!(job["attempt"], 1, "a rejection is not retried: {job:#}");
    assert_eq!(job["items"]["rejected"], 4, "{job:#}");

    // All accepted: nothing to fail.
    let fine = c
        .post(format!("{}/v1/adapters/probe/ops/items", served.url))
        .json(&json!({"accepted": 5}))
        .send()
        .await
        .expect("call");
    assert_eq!(fine.status(), 200);
}

/// A hostile or careless adapter reporting thousands of refusals with huge reasons: the count
/// is exact, the kept list and each reason are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_is_counted_whole_and_kept_within_bounds() {
    let dep = Deployment::new();
    probe(&dep, "");
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    let long = "x".repeat(10_000);
    // Within the request body's bound (8 MiB): the first ten reasons long, the rest short.
    let rejected: Vec<Value> = (0..5000)
        .map(|i| json!({"index": i, "code": "E", "message": if i < 10 { long.as_str() } else { "no" }}))
        .collect();
    let input = json!({"accepted": 0, "rejected": rejected, "reports": 5});
    let id = enqueue(&c, &served.url, &input).await;
    let job = ended(&c, &served.url, &id).await;
    assert_eq!(job["items"]["rejected"], 5000);
    let kept = job["items"]["rejected_items"].as_array().expect("kept");
    assert_eq!(kept.len(), 1000, "the first 1,000 are kept");
    assert!(
        kept.iter()
            .all(|r| r["message"].as_str().is_some_and(|m| m.len() <= 1024)),
        "each reason is cut"
    );
}
