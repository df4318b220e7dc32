//! The Lenovo adapter end to end against the strict simulator: sequences of 500, resumable
//! batches, every documented code, JSON and XML, and a token refreshed mid-batch.

use serde_json::{Value, json};
use weft::{CallOptions, ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component};
use weft_tests::lenovo::{Fault, Lenovo};

async fn setup(config: &str) -> (Lenovo, Deployment, Runtime) {
    let sim = Lenovo::start("weft-client", "weft-secret").await;
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

[token]
min_fetch_interval = "0s"

[limits]
memory = "256MiB"
request_body = "64MiB"
timeout = "120s"
cpu_time = "60s"

[retry]
max_attempts = 3
initial_backoff = "10ms"
max_backoff = "50ms"

[config]
token_url = "{}"
app_name = "WEFT"
{config}
"#,
            component("weft-lenovo").display(),
            sim.base_url(),
            dep.secret("client_id", "weft-client"),
            dep.secret("client_secret", "weft-secret"),
            sim.token_url(),
        ),
    );
    let rt = dep.runtime().await;
    (sim, dep, rt)
}

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"LENOVO_PN": format!("pn_{i}"), "PLANT": "1111", "QTY": i}))
        .collect()
}

async fn sync(rt: &Runtime, input: Value) -> Result<Value, weft::InvokeError> {
    rt.invoke("lenovo", "sync", &input.to_string(), CallOptions::default())
        .await
        .map(|o| serde_json::from_str(&o).expect("JSON"))
}

fn input(action: &str, rows: Vec<Value>) -> Value {
    json!({"data_category": "inventory", "biz_key": "stock", "action": action, "rows": rows})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fourteen_hundred_rows_are_three_requests_of_500_500_400() {
    let (sim, _dep, rt) = setup("").await;
    let out = sync(&rt, input("add", rows(1400))).await.expect("sync");
    assert_eq!(out["sequences"], 3);
    let batch_id = out["batch_id"].as_str().expect("batch id").to_string();
    assert!(batch_id.len() <= 16);
    sim.ledger(|l| {
        let seen: Vec<(String, usize, u64, String)> = l
            .requests
            .iter()
            .map(|r| (r.seq_id.clone(), r.rows, r.batch_size, r.method.clone()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("1".into(), 500, 1400, "POST".into()),
                ("2".into(), 500, 1400, "POST".into()),
                ("3".into(), 400, 1400, "POST".into())
            ]
        );
        assert!(
            l.requests
                .iter()
                .all(|r| r.batch_id == batch_id && r.app_name.as_deref() == Some("WEFT"))
        );
        assert_eq!(l.rows_written, 1400);
        assert_eq!(l.token_requests, 1);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resent_as_e00a00_and_no_row_is_stored_twice() {
    let (sim, _dep, rt) = setup("").await;
    sim.fail_next([Fault::Pass, Fault::DropAfterProcessing]);
    let out = sync(&rt, input("add", rows(1400)))
        .await
        .expect("completes after the retry");
    assert_eq!(out["resumed"], 1, "sequence 1 was not sent again: {out}");
    sim.ledger(|l| {
        let seqs: Vec<(&str, &str)> = l
            .requests
            .iter()
            .map(|r| (r.seq_id.as_str(), r.code.as_str()))
            .collect();
        assert_eq!(
            seqs,
            vec![("1", "0"), ("2", "0"), ("2", "E00A00"), ("3", "0")]
        );
        assert_eq!(l.rows_written, 1400, "no row stored twice");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_failures_come_back_with_the_callers_row_indexes() {
    let (sim, _dep, rt) = setup("").await;
    let mut data = rows(1000);
    data[520]["version"] = json!("much-too-long-version");
    data[777]["version"] = json!("also-far-too-long");
    let e = sync(&rt, input("add", data.clone()))
        .await
        .expect_err("E00V00");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    assert_eq!(e.platform_code.as_deref(), Some("E00V00"));
    let idx: Vec<Option<u32>> = e.details.iter().map(|d| d.index).collect();
    assert_eq!(idx, vec![Some(520), Some(777)], "{:?}", e.details);
    assert_eq!(e.details[0].field.as_deref(), Some("version"));
    assert_eq!(e.details[0].message, "value length exceed");
    assert!(e.message.contains("sequence 2 of 2"), "{e}");
    assert_eq!(sim.ledger(|l| l.requests.len()), 2, "rejected, not retried");

    let (sim, _dep, rt) = setup("format = \"xml\"").await;
    let e = sync(&rt, input("add", data))
        .await
        .expect_err("E00V00 in XML");
    let idx: Vec<Option<u32>> = e.details.iter().map(|d| d.index).collect();
    assert_eq!(idx, vec![Some(520), Some(777)], "{:?}", e.details);
    assert!(sim.ledger(|l| {
        l.requests
            .iter()
            .all(|r| r.content_type == "application/xml")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_both_ways() {
    let (sim, _dep, rt) = setup("").await;
    let mut input = input("update", rows(3));
    input["format"] = json!("xml");
    input["rows"][0]["NOTE"] = json!("a < b & c");
    let out = sync(&rt, input).await.expect("xml sync");
    assert_eq!(out["answers"][0]["code"], "0");
    sim.ledger(|l| {
        assert_eq!(l.requests[0].content_type, "application/xml");
        assert_eq!(l.requests[0].method, "PUT");
        let table = &l.tables[&("inventory".to_string(), "stock".to_string())];
        assert_eq!(table["pn_0|1111"]["NOTE"], "a < b & c");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_map_to_kinds() {
    let (sim, _dep, rt) = setup("").await;
    sim.fail_next([Fault::Code("E00P00")]);
    let e = sync(&rt, input("add", rows(2))).await.expect_err("E00P00");
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.platform_code.as_deref(), Some("E00P00"));
    assert_eq!(
        sim.ledger(|l| l.requests.len()),
        0,
        "E00P00 answered without processing, and not retried"
    );

    sim.fail_next([Fault::Code("-1"), Fault::Status(500)]);
    let out = sync(&rt, input("add", rows(2)))
        .await
        .expect("-1 and 500 are retried");
    assert_eq!(out["sent"], 1);

    let e = sync(&rt, input("add", rows(2)))
        .await
        .expect_err("the same keys again");
    assert_eq!(e.kind, ErrorKind::Conflict, "E00W00 is a conflict: {e}");
    assert_eq!(
        e.details.iter().map(|d| d.index).collect::<Vec<_>>(),
        vec![Some(0), Some(1)]
    );

    let mut bad = input("add", rows(1));
    bad["data_category"] = json!("nope");
    let e = sync(&rt, bad).await.expect_err("404");
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.platform_code.as_deref(), Some("404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_problems_at_once_name_every_row_field_and_sub_code() {
    let (_sim, _dep, rt) = setup("").await;
    sync(&rt, input("add", rows(3))).await.expect("first rows");
    // Row 0 repeats a key already written, row 2 has a field past its length: E00M00.
    let mut again = rows(3);
    again[1]["LENOVO_PN"] = json!("pn_new_1");
    again[2]["LENOVO_PN"] = json!("pn_new_2");
    again[2]["version"] = json!("far-too-long-version");
    let sink = weft::operations::ItemsSink::default();
    let e = rt
        .invoke(
            "lenovo",
            "sync",
            &input("add", again).to_string(),
            CallOptions {
                items: Some(sink.clone()),
                ..CallOptions::default()
            },
        )
        .await
        .expect_err("several problems");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e:?}");
    assert_eq!(e.platform_code.as_deref(), Some("E00M00"));
    // The rows it names are refused items of the call, under their sub-codes, and counted.
    let tally = sink.lock().expect("tally").clone();
    let refused: Vec<(Option<u32>, &str)> = tally
        .rejected_items
        .iter()
        .map(|r| (r.index, r.code.as_str()))
        .collect();
    assert_eq!(
        (tally.accepted, refused),
        (0, vec![(Some(0), "E00W00"), (Some(2), "E00V00")]),
        "{tally:?}"
    );
    let metrics = rt.metrics().encode();
    assert!(
        metrics.contains("weft_items_total{adapter=\"lenovo\",outcome=\"rejected\"} 2"),
        "{metrics}"
    );
    let details: Vec<(Option<u32>, Option<&str>, Option<&str>)> = e
        .details
        .iter()
        .map(|d| (d.index, d.field.as_deref(), d.code.as_deref()))
        .collect();
    assert!(
        details.contains(&(Some(2), Some("version"), Some("E00V00"))),
        "{details:?}"
    );
    assert!(
        details.contains(&(Some(0), None, Some("E00W00"))),
        "{details:?}"
    );
    assert!(
        e.message.contains("E00V00")
            && e.message.contains("E00W00")
            && e.message.contains("rows 0"),
        "the message alone names the sub-codes and rows: {}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_mid_batch_refreshes_the_token_once_and_the_batch_continues() {
    let (sim, _dep, rt) = setup("").await;
    sim.fail_next([Fault::Pass, Fault::RevokeTokens]);
    let out = sync(&rt, input("add", rows(1400)))
        .await
        .expect("continues");
    assert_eq!(out["resumed"], 1);
    sim.ledger(|l| {
        assert_eq!(l.token_requests, 2);
        assert_eq!(l.rows_written, 1400);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_clears_once_even_when_its_first_answer_is_lost() {
    let (sim, _dep, rt) = setup("").await;
    sync(&rt, input("add", rows(10))).await.expect("seed");
    sim.fail_next([Fault::DropAfterProcessing]);
    let out = sync(&rt, input("overwrite", rows(600)))
        .await
        .expect("overwrite");
    assert_eq!(out["sequences"], 2);
    sim.ledger(|l| {
        assert_eq!(l.clears, 1, "the platform's data was cleared once");
        assert_eq!(
            l.tables[&("inventory".to_string(), "stock".to_string())].len(),
            600
        );
        assert!(
            l.requests
                .iter()
                .filter(|r| r.method == "PATCH")
                .all(|r| r.seq_id != "1" || r.code == "0" || r.code == "E00A00")
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_never_reaches_the_platform() {
    let (sim, _dep, rt) = setup("").await;
    let mut i = input("add", rows(2));
    i["batch_id"] = json!("this-batch-id-is-too-long");
    assert_eq!(
        sync(&rt, i).await.expect_err("batch id").kind,
        ErrorKind::InvalidInput
    );
    let i = input("add", vec![json!({"A": {"nested": 1}}), json!(5)]);
    let e = sync(&rt, i).await.expect_err("rows");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(
        e.details.iter().map(|d| d.index).collect::<Vec<_>>(),
        vec![Some(0), Some(1)]
    );
    assert_eq!(
        sync(&rt, input("upsert", rows(1)))
            .await
            .expect_err("action")
            .kind,
        ErrorKind::InvalidInput
    );
    let mut i = input("add", rows(1));
    i["biz_key"] = json!("../admin");
    assert_eq!(
        sync(&rt, i).await.expect_err("path").kind,
        ErrorKind::InvalidInput
    );
    assert_eq!(sim.ledger(|l| l.requests.len() + l.token_requests), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_batch_id_resumes_and_is_refused_for_other_rows() {
    let (sim, _dep, rt) = setup("").await;
    let mut i = input("add", rows(1200));
    i["batch_id"] = json!("ERP-20261123-01");
    sim.fail_next([Fault::Pass, Fault::Code("E00P00")]);
    sync(&rt, i.clone()).await.expect_err("stops at sequence 2");
    // The fingerprint is the SHA-256 of the target and the rows' JSON (names sorted, compact),
    // whoever computes it: a batch an earlier version began, hashing in the sandbox, resumes
    // under this one, whose host hashes.
    let record: Value = serde_json::from_slice(
        &rt.shared()
            .store
            .kv_get("lenovo", "batch/ERP-20261123-01")
            .await
            .expect("store")
            .expect("the batch record"),
    )
    .expect("json");
    let mut hashed = b"inventory\0stock\0add\0".to_vec();
    hashed.extend(serde_json::to_vec(&rows(1200)).expect("json"));
    use sha2::Digest as _;
    assert_eq!(
        record["fingerprint"],
        hex::encode(sha2::Sha256::digest(&hashed)),
        "{record}"
    );
    let out = sync(&rt, i.clone())
        .await
        .expect("the rerun sends only what is missing");
    assert_eq!(out["resumed"], 1);
    assert_eq!(out["sent"], 2);
    assert_eq!(sim.ledger(|l| l.rows_written), 1200);
    i["rows"] = json!(rows(3));
    assert_eq!(
        sync(&rt, i).await.expect_err("reuse").kind,
        ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_are_two_hundred_requests() {
    let (sim, _dep, rt) = setup("").await;
    let out = sync(&rt, input("add", rows(100_000)))
        .await
        .expect("large batch");
    assert_eq!(out["sequences"], 200);
    sim.ledger(|l| {
        assert_eq!(l.requests.len(), 200);
        assert!(l.requests.iter().all(|r| r.rows == 500));
        assert_eq!(l.rows_written, 100_000);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_is_journaled_and_replays_as_a_fixture() {
    const CALL: &str = "lenovo-rejected-call";
    let (_sim, _dep, rt) = setup("").await;
    let mut data = rows(10);
    data[3]["version"] = json!("much-too-long-version");
    let e = rt
        .invoke(
            "lenovo",
            "sync",
            &input("add", data).to_string(),
            CallOptions {
                call_id: Some(CALL.into()),
                ..CallOptions::default()
            },
        )
        .await
        .expect_err("E00V00");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    weft_tests::harness::failure_replays_as_a_fixture(&rt, "lenovo", CALL).await;
}
