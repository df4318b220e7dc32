//! The 超8 adapter against its strict simulator: the MD5-signed token, the document's refresh
//! strategy as token policy, 20324012/20324013 refreshes, V3 batches of 100, per-item errors.

use serde_json::{Value, json};
use std::time::Duration;
use weft::{CallOptions, ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component};
use weft_tests::supercarrier8::{Fault, SuperCarrier8, md5_hex};

async fn setup(
    secret_in_manifest: &str,
    ttl: u64,
    window: Duration,
    min_fetch: &str,
) -> (SuperCarrier8, Deployment, Runtime) {
    let sim = SuperCarrier8::start("app-key", "app-secret", ttl, window).await;
    let dep = Deployment::new();
    dep.manifest(
        "sc8",
        &format!(
            r#"
name = "supercarrier8"
component = "{}"
base_url = "{}"

[secrets]
access_key = "{}"
secret_key = "{}"

[token]
refresh_window = "10%"
min_fetch_interval = "{min_fetch}"
refresh_on = ["20324012", "20324013"]

[limits]
concurrency = 64
timeout = "30s"

[retry]
max_attempts = 3
initial_backoff = "10ms"
max_backoff = "50ms"
"#,
            component("weft-supercarrier8").display(),
            sim.base_url(),
            dep.secret("ak", "app-key"),
            dep.secret("sk", secret_in_manifest),
        ),
    );
    let rt = dep.runtime().await;
    (sim, dep, rt)
}

async fn call(rt: &Runtime, op: &str, input: Value) -> Result<Value, weft::InvokeError> {
    rt.invoke(
        "supercarrier8",
        op,
        &input.to_string(),
        CallOptions::default(),
    )
    .await
    .map(|o| serde_json::from_str(&o).expect("JSON"))
}

fn products(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"goodsCode": format!("G{i:04}"), "goodsName": format!("商品 {i}")}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_signed_with_the_lower_case_md5_and_the_simulator_refuses_anything_else() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect("signed correctly");
    let c = reqwest::Client::new();
    for wrong in [
        md5_hex("app-secret").to_uppercase(),
        "app-secret".to_string(),
    ] {
        let r: Value = c
            .post(format!(
                "{}/cncop/ca/v1/applications/get-token",
                sim.base_url()
            ))
            .json(&json!({"accessKey": "app-key", "secretKeySign": wrong}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(r["code"], 21184031, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_a_minute_however_many_calls() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    let rt = std::sync::Arc::new(rt);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move {
                call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"})).await
            })
        })
        .collect();
    for c in calls {
        assert_eq!(
            c.await.expect("task").expect("call")["data"]["hello"],
            "demo"
        );
    }
    assert_eq!(sim.ledger(|l| l.token_requests), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_refreshed_inside_the_last_tenth_of_its_life() {
    let (sim, _dep, rt) = setup("app-secret", 3, Duration::from_millis(500), "600ms").await;
    call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect("first");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect("before the window");
    assert_eq!(
        sim.ledger(|l| l.token_requests),
        1,
        "not refreshed before ttl - ttl/10"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect("inside the window");
    assert_eq!(
        sim.ledger(|l| l.token_requests),
        2,
        "refreshed inside the window"
    );
    assert_eq!(
        sim.ledger(|l| l.refused_tokens),
        0,
        "never sent an expired token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_20324012_and_20324013_each_refresh_once_and_the_call_succeeds() {
    // The host waits a little longer than the platform's window, as the shipped manifest does.
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_millis(200), "300ms").await;
    call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect("warm");
    for (n, code) in [(2, 20324012), (3, 20324013)] {
        sim.fail_next([Fault::Code(code)]);
        let out = call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
            .await
            .expect("retried with a fresh token");
        assert_eq!(out["data"]["hello"], "demo");
        assert_eq!(
            sim.ledger(|l| l.token_requests),
            n,
            "one refresh for {code}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_auth_with_the_cause() {
    let (sim, _dep, rt) = setup("not-the-secret", 28800, Duration::from_secs(60), "60s").await;
    let e = call(&rt, "call", json!({"method": "GET", "path": "/cncop/demo"}))
        .await
        .expect_err("refused");
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(
        e.message.contains("21184031") && e.message.contains("access key or secret is wrong"),
        "{e}"
    );
    assert_eq!(sim.ledger(|l| l.token_requests), 1, "not retried blindly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_products_are_three_batch_calls_and_failures_are_per_item() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    let mut items = products(250);
    items[7]["goodsCode"] = json!("FAIL-7");
    let out = call(&rt, "upsert-products", json!({ "items": items }))
        .await
        .expect("batch");
    assert_eq!(out["calls"], 3);
    assert_eq!(sim.ledger(|l| l.batch_sizes.clone()), vec![100, 100, 50]);
    assert_eq!(
        out["failed"],
        json!([{"index": 7, "code": "30001", "message": "商品已锁定"}])
    );
    assert_eq!(out["succeeded"], 249);
    // The failList is a partial success the host sees, not only the adapter's output.
    let sink = weft::operations::ItemsSink::default();
    let again = rt
        .invoke(
            "supercarrier8",
            "upsert-products",
            &json!({ "items": [products(3)[0].clone(), json!({"goodsCode": "FAIL-1", "goodsName": "x"})] })
                .to_string(),
            CallOptions {
                items: Some(sink.clone()),
                ..CallOptions::default()
            },
        )
        .await
        .expect("a partial success succeeds");
    assert!(again.contains("商品已锁定"), "{again}");
    let tally = sink.lock().expect("tally").clone();
    assert_eq!((tally.accepted, tally.rejected), (1, 1), "{tally:?}");
    assert_eq!(tally.rejected_items[0].index, Some(1), "{tally:?}");
    assert_eq!(tally.rejected_items[0].code, "30001", "{tally:?}");
    let metrics = rt.metrics().encode();
    assert!(
        metrics.contains("weft_items_total{adapter=\"supercarrier8\",outcome=\"rejected\"} 2"),
        "both calls' refused items are counted: {metrics}"
    );

    let listed = call(&rt, "list-products", json!({"size": 100, "all": true}))
        .await
        .expect("list");
    assert_eq!(listed["records"].as_array().map(Vec::len), Some(249));
    let one = call(&rt, "list-products", json!({"page": 2, "size": 100}))
        .await
        .expect("one page");
    assert_eq!(one["records"].as_array().map(Vec::len), Some(100));

    let q = call(
        &rt,
        "query-products",
        json!({"items": ["G0001", "G0249", "NOPE"]}),
    )
    .await
    .expect("query");
    assert_eq!(q["results"].as_array().map(Vec::len), Some(2));
    let d = call(&rt, "disable-products", json!({"items": ["G0001", "NOPE"]}))
        .await
        .expect("disable");
    assert_eq!(d["failed"][0]["index"], 1);
    assert_eq!(
        sim.ledger(|l| l.products["G0001"]["enabled"].clone()),
        json!(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_are_mapped_to_the_callers_indexes() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    let mut items = products(250);
    items[120]["goodsName"] = json!("x".repeat(51));
    items[130]["goodsName"] = json!(12);
    let e = call(&rt, "upsert-products", json!({ "items": items }))
        .await
        .expect_err("rejected");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    assert_eq!(e.platform_code.as_deref(), Some("40001"));
    let idx: Vec<Option<u32>> = e.details.iter().map(|d| d.index).collect();
    assert_eq!(idx, vec![Some(120), Some(130)]);
    assert!(e.message.contains("call 2 of 3"), "{e}");
    assert!(e.message.contains("traceId"), "{e}");
    let e = call(
        &rt,
        "upsert-products",
        json!({ "items": [{"goodsName": "no code"}] }),
    )
    .await
    .expect_err("invalid");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(
        sim.ledger(|l| l.batch_sizes.len()),
        2,
        "call 3 and the invalid input were never sent"
    );
    sim.fail_next([Fault::Code(500)]);
    call(
        &rt,
        "upsert-product",
        json!({"productNo": "ONE", "goodsName": "one"}),
    )
    .await
    .expect("500 is retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_errors_are_read_wherever_the_envelope_puts_them() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    sim.use_other_error_places();
    let mut items = products(5);
    items[3]["goodsName"] = json!("x".repeat(51));
    let e = call(&rt, "upsert-products", json!({ "items": items }))
        .await
        .expect_err("rejected");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    let d = &e.details;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        d[0].index,
        Some(3),
        "named by product code, mapped to the index: {d:?}"
    );
    assert_eq!(d[0].field.as_deref(), Some("goodsName"));
    assert!(
        d[0].message.contains("goodsName长度"),
        "the platform's words: {d:?}"
    );

    let mut items = products(3);
    items[1]["goodsCode"] = json!("FAIL-1");
    let out = call(&rt, "upsert-products", json!({ "items": items }))
        .await
        .expect("batch");
    assert_eq!(
        out["failed"],
        json!([{"index": 1, "code": "30001", "message": "商品已锁定"}]),
        "a failList reason is passed through, not \"failed\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_or_disable_retried_after_a_lost_answer_succeeds() {
    let (sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    call(&rt, "upsert-products", json!({ "items": products(3) }))
        .await
        .expect("products");
    // The platform deletes, the answer is lost, the retry hears "商品不存在" for both.
    sim.drop_next_answer();
    let out = call(
        &rt,
        "delete-products",
        json!({ "items": ["G0000", "G0001"] }),
    )
    .await
    .expect("the retry settles it");
    assert_eq!(out["failed"], json!([]), "{out}");
    assert_eq!(out["succeeded"], 2, "{out}");
    assert_eq!(
        out["settled_by_earlier_attempt"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    assert!(sim.ledger(|l| !l.products.contains_key("G0000")));
    // Disable: the retry hears "商品已禁用".
    sim.drop_next_answer();
    let out = call(&rt, "disable-products", json!({ "items": ["G0002"] }))
        .await
        .expect("the retry settles it");
    assert_eq!(out["failed"], json!([]), "{out}");
    // Without a lost answer, the same words are a failure: nothing was done by this call.
    let out = call(&rt, "delete-products", json!({ "items": ["G0000"] }))
        .await
        .expect("answer");
    assert_eq!(out["failed"][0]["index"], 0, "{out}");
    assert_eq!(out["failed"][0]["message"], "商品不存在", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_is_journaled_and_replays_as_a_fixture() {
    const CALL: &str = "supercarrier8-rejected-call";
    let (_sim, _dep, rt) = setup("app-secret", 28800, Duration::from_secs(60), "60s").await;
    let mut items = products(3);
    items[1]["goodsName"] = json!("x".repeat(51));
    let input = json!({ "items": items });
    let e = rt
        .invoke(
            "supercarrier8",
            "upsert-products",
            &input.to_string(),
            CallOptions {
                call_id: Some(CALL.into()),
                ..CallOptions::default()
            },
        )
        .await
        .expect_err("rejected");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    weft_tests::harness::failure_replays_as_a_fixture(&rt, "supercarrier8", CALL).await;
}
