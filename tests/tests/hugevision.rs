//! The HugeVision-SCM adapter against its strict simulator: the JWT login with the configured
//! identity, one login for many calls, expiry and revocation, the rate-limited token endpoint's
//! Retry-After, every operation, data errors with per-line details, the asynchronous path
//! through `weft serve` (submit → pending → processed → job output), and a lost answer resent
//! without a second document.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use weft::{CallOptions, ErrorKind, Runtime};
use weft_tests::harness::{Deployment, Served, component, eventually};
use weft_tests::hugevision::{APDF, Account, COB, COF, Fault, HugeVision, NNF};

fn account() -> Account {
    Account {
        system_key: "HVSDemoSystem1".into(),
        unique_code: "HVSDemoSystem1Password".into(),
        user_name: "物流担当_0101_01@HVSDemoSystem1".into(),
        parameters: json!({"clientId": 1000003, "roleId": 1000021, "organizationId": 1000001}),
    }
}

struct Setup {
    ttl: Duration,
    login_window: Duration,
    cycle: Duration,
    min_fetch: &'static str,
    http_timeout: &'static str,
    password: &'static str,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(3600),
            login_window: Duration::from_millis(100),
            cycle: Duration::from_secs(3600),
            min_fetch: "0s",
            http_timeout: "10s",
            password: "HVSDemoSystem1Password",
        }
    }
}

fn manifest(dep: &Deployment, sim: &HugeVision, s: &Setup) -> String {
    let a = account();
    format!(
        r#"
name = "hugevision"
component = "{}"
base_url = "{}"

[secrets]
system_key = "{}"
user_name = "{}"
system_password = "{}"

[token]
min_fetch_interval = "{}"
refresh_window = "10%"

[limits]
concurrency = 64
timeout = "30s"
http_timeout = "{}"

[retry]
max_attempts = 4
initial_backoff = "10ms"
max_backoff = "100ms"

[config]
client_id = 1000003
role_id = 1000021
organization_id = 1000001
poll_first_delay = "300ms"
poll_backoff = "300ms"
poll_backoff_max = "1s"
poll_give_up_after = "1m"
retention_days = 1
"#,
        component("weft-hugevision").display(),
        sim.base_url(),
        dep.secret("system", &a.system_key),
        dep.secret("user", &a.user_name),
        dep.secret("password", s.password),
        s.min_fetch,
        s.http_timeout,
    )
}

async fn setup(s: Setup) -> (HugeVision, Deployment, Runtime) {
    let sim = HugeVision::start(account(), s.ttl, s.login_window, s.cycle).await;
    let dep = Deployment::new();
    dep.manifest("hugevision", &manifest(&dep, &sim, &s));
    let rt = dep.runtime().await;
    (sim, dep, rt)
}

async fn call(rt: &Runtime, op: &str, input: Value) -> Result<Value, weft::InvokeError> {
    rt.invoke("hugevision", op, &input.to_string(), CallOptions::default())
        .await
        .map(|o| serde_json::from_str(&o).expect("JSON"))
}

fn adjustment(doc_no: &str, product: &str, qty: &str) -> Value {
    json!({
        "docNo": doc_no,
        "org_Text": "HugeVision-SCM Demo",
        "doctype_Name": "库存调整",
        "movementDate": "2026-11-23",
        "warehouse_Text": "D01仓库A",
        "lineList": [
            {"lineId": "1", "locator_Text": "0001_D01仓库A正品库位", "product_Text": "SD01B02_D01食品酒饮02",
             "lot": "L202111", "dateProduction": "2026-11-01", "invStatus_Text": "正常", "adjustQuantity": "1000"},
            {"lineId": "2", "locator_Text": "0001_D01仓库A正品库位", "product_Text": product,
             "invStatus_Text": "正常", "adjustQuantity": qty}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_with_the_configured_identity_serves_many_calls() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let rt = Arc::new(rt);
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move {
                call(
                    &rt,
                    "query-pending-shipments",
                    json!({"documentNo": format!("NONE{i}")}),
                )
                .await
            })
        })
        .collect();
    for c in calls {
        let out = c.await.expect("task").expect("call");
        assert_eq!(
            out["shipments"],
            json!([]),
            "No Data! is an empty list: {out}"
        );
    }
    assert_eq!(sim.ledger(|l| l.logins), 1);
    assert_eq!(sim.ledger(|l| l.login_requests), 1);
    // Every call carried the envelope: a unique request id and the platform's timestamp.
    let ids: std::collections::HashSet<String> = sim.ledger(|l| {
        l.bodies
            .iter()
            .map(|(_, b)| b["requestId"].as_str().unwrap_or_default().to_string())
            .collect()
    });
    assert_eq!(ids.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_replaced_and_a_revoked_one_refreshed_once() {
    let (sim, _dep, rt) = setup(Setup {
        ttl: Duration::from_secs(2),
        ..Setup::default()
    })
    .await;
    call(&rt, "query-pending-shipments", json!({}))
        .await
        .expect("first");
    assert_eq!(sim.ledger(|l| l.logins), 1);
    // The JWT's exp (2 s) is the grant's lifetime: the host logs in again after it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    call(&rt, "query-pending-shipments", json!({}))
        .await
        .expect("after expiry");
    assert_eq!(sim.ledger(|l| l.logins), 2);
    assert_eq!(
        sim.ledger(|l| l.refused_tokens),
        0,
        "an expired token is never sent"
    );
    // A token the platform revoked: 401, invalidated, one new login, the call succeeds.
    sim.revoke_tokens();
    call(&rt, "query-pending-shipments", json!({}))
        .await
        .expect("after revocation");
    assert_eq!(sim.ledger(|l| l.logins), 3);
    assert_eq!(sim.ledger(|l| l.refused_tokens), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limited_login_is_retried_only_after_its_retry_after() {
    // Logins at most every 4 s; tokens live 2 s, so the next calls need a login too early.
    let (sim, _dep, rt) = setup(Setup {
        ttl: Duration::from_secs(2),
        login_window: Duration::from_secs(4),
        ..Setup::default()
    })
    .await;
    call(&rt, "query-pending-shipments", json!({}))
        .await
        .expect("first");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let rt = Arc::new(rt);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move { call(&rt, "query-pending-shipments", json!({})).await })
        })
        .collect();
    for c in calls {
        c.await
            .expect("task")
            .expect("every call succeeds once the pause is over");
    }
    assert_eq!(
        sim.ledger(|l| l.throttled),
        1,
        "one 429, shared by every waiting call"
    );
    assert_eq!(
        sim.ledger(|l| l.early_after_429),
        0,
        "nothing before Retry-After"
    );
    assert_eq!(sim.ledger(|l| l.logins), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_auth_errors_without_a_second_login() {
    let (sim, _dep, rt) = setup(Setup {
        password: "wrong",
        ..Setup::default()
    })
    .await;
    let e = call(&rt, "query-pending-shipments", json!({}))
        .await
        .expect_err("refused");
    assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
    assert!(
        e.message.contains("Invalid User ID or Password"),
        "{}",
        e.message
    );
    assert_eq!(sim.ledger(|l| l.login_requests), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_shipments_are_filtered_and_returned_once() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let shipment = |no: &str, date: &str| {
        json!({"org_Value": "D01", "org_Name": "HugeVision-SCM Demo", "documentNo": no,
               "documentNo_Order": "2110SOC8002", "movementDate": date, "warehouse_Value": "00",
               "warehouse_Name": "D01仓库A", "bpartner_Value": "CD01NB50", "bpartner_Name": "客户50",
               "lineList": [{"line": "10", "product_Value": "SD01B09", "movementQty": "1", "attrList": []}]})
    };
    sim.add_shipments([
        shipment("2110DOC8004", "2026-11-20"),
        shipment("2110DOC8005", "2026-11-24"),
    ]);
    let out = call(
        &rt,
        "query-pending-shipments",
        json!({"warehouse_Value": "00", "movementDate": "2026-11-01", "movementDateTo": "2026-11-21"}),
    )
    .await
    .expect("query");
    let docs = out["shipments"].as_array().expect("list");
    assert_eq!(docs.len(), 1, "{out}");
    assert_eq!(docs[0]["documentNo"], "2110DOC8004");
    // Queried shipments are "processing" at the platform: not pending any more.
    let again = call(
        &rt,
        "query-pending-shipments",
        json!({"documentNo": "2110DOC8004"}),
    )
    .await
    .expect("query");
    assert_eq!(again["shipments"], json!([]));
    // A filter the manual does not have, or a malformed date, is refused before sending.
    let calls = sim.ledger(|l| l.calls.values().sum::<usize>());
    for bad in [
        json!({"customer": "x"}),
        json!({"movementDate": "2026/11/01"}),
    ] {
        let e = call(&rt, "query-pending-shipments", bad)
            .await
            .expect_err("invalid");
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{e:?}");
    }
    assert_eq!(sim.ledger(|l| l.calls.values().sum::<usize>()), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_adjustment_answers_the_platforms_document_numbers() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let out = call(
        &rt,
        "create-inventory-adjustment",
        json!({"docList": [adjustment("INV1", "BD01A01_D01零部件001", "-200.5")]}),
    )
    .await
    .expect("created");
    assert_eq!(out["status"], "processed");
    let doc = &out["documents"][0];
    assert_eq!(doc["docNo"], "INV1");
    assert_eq!(
        doc["docNoHVS"],
        sim.ledger(|l| l.documents["INV1"].0.clone())
    );
    assert_eq!(doc["lines"][1]["lineNoHVS"], "20");
    // Sent with the quantity as the manual's decimal string.
    let sent = sim.ledger(|l| l.bodies.last().cloned()).expect("body").1;
    assert_eq!(
        sent["docList"][0]["lineList"][1]["adjustQuantity"],
        "-200.5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_error_is_rejected_with_each_failed_document_and_line() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let e = call(
        &rt,
        "create-inventory-adjustment",
        json!({"docList": [
            adjustment("INV2", "BD01A01_D01零部件001", "5"),
            adjustment("INV3", "NO-SUCH-PRODUCT", "5"),
        ]}),
    )
    .await
    .expect_err("data error");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e:?}");
    assert_eq!(e.platform_code.as_deref(), Some("7"));
    let line = e
        .details
        .iter()
        .find(|d| d.field.as_deref() == Some("lineList[1]"))
        .expect("a line detail");
    assert_eq!(
        line.index,
        Some(1),
        "the caller's document index: {:?}",
        e.details
    );
    assert!(line.message.contains("产品不存在"), "{}", line.message);
    assert!(
        e.details
            .iter()
            .any(|d| d.index == Some(1) && d.field.is_none()),
        "{:?}",
        e.details
    );
    assert!(sim.ledger(|l| l.documents.is_empty()), "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_documents_are_refused_before_anything_is_sent() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let mut no_qty = adjustment("INV4", "SD01B09", "0");
    no_qty["lineList"][0]["invStatus_Text"] = json!("好");
    let mut too_long = adjustment("INV5-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "SD01B09", "1");
    too_long["movementDate"] = json!("23/11/2026");
    let e = call(
        &rt,
        "submit-inventory-adjustment",
        json!({"docList": [no_qty, too_long]}),
    )
    .await
    .expect_err("invalid");
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e:?}");
    let fields: Vec<(Option<u32>, Option<String>)> = e
        .details
        .iter()
        .map(|d| (d.index, d.field.clone()))
        .collect();
    for expected in [
        (Some(0), Some("lineList[1].adjustQuantity".to_string())),
        (Some(0), Some("lineList[0].invStatus_Text".to_string())),
        (Some(1), Some("docNo".to_string())),
        (Some(1), Some("movementDate".to_string())),
    ] {
        assert!(fields.contains(&expected), "{expected:?} in {fields:?}");
    }
    assert_eq!(sim.ledger(|l| l.calls.values().sum::<usize>()), 0);
    assert_eq!(sim.ledger(|l| l.login_requests), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resent_with_the_same_request_id_and_creates_one_document() {
    let (sim, _dep, rt) = setup(Setup {
        http_timeout: "500ms",
        ..Setup::default()
    })
    .await;
    // The platform processes the first send, but its answer never arrives in time.
    sim.fail_next([Fault::SlowAnswer(Duration::from_secs(2))]);
    let out = call(
        &rt,
        "create-inventory-adjustment",
        json!({"docList": [adjustment("INV6", "SD01B09", "3")]}),
    )
    .await
    .expect("resolved to the first submission's result");
    assert_eq!(
        out["documents"][0]["docNoHVS"],
        sim.ledger(|l| l.documents["INV6"].0.clone())
    );
    assert_eq!(
        sim.ledger(|l| l.documents.len()),
        1,
        "one document at the platform"
    );
    assert_eq!(sim.ledger(|l| l.submissions.len()), 1);
    // The resend carried the same request id, and the result came from API170NNF.
    assert_eq!(sim.ledger(|l| l.calls[COF]), 2);
    assert_eq!(sim.ledger(|l| l.calls[NNF]), 1);
    let ids: Vec<String> = sim.ledger(|l| {
        l.bodies
            .iter()
            .filter(|(p, _)| p == COF)
            .map(|(_, b)| b["requestId"].as_str().unwrap_or_default().to_string())
            .collect()
    });
    assert_eq!(ids[0], ids[1]);
    assert_eq!(out["requestId"], ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_used_by_another_submission_is_a_conflict() {
    let (_sim, _dep, rt) = setup(Setup::default()).await;
    let id = "431e38b8-b67f-4eb8-ba15-173b3495f67c";
    call(
        &rt,
        "create-inventory-adjustment",
        json!({"requestId": id, "docList": [adjustment("INV7", "SD01B09", "1")]}),
    )
    .await
    .expect("first");
    let e = call(
        &rt,
        "create-inventory-adjustment",
        json!({"requestId": id, "docList": [adjustment("INV8", "SD01B09", "1")]}),
    )
    .await
    .expect_err("duplicate of another submission");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    assert!(e.message.contains("RequestId重复"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_submission_is_polled_by_jobs_until_its_result_is_final() {
    let sim = HugeVision::start(
        account(),
        Duration::from_secs(3600),
        Duration::from_millis(100),
        Duration::from_millis(1500),
    )
    .await;
    let dep = Deployment::new();
    dep.manifest("hugevision", &manifest(&dep, &sim, &Setup::default()));
    let served = Served::start(&dep, &["--workers", "2"]);
    let http = reqwest::Client::new();
    let submitted: Value = http
        .post(format!(
            "{}/v1/adapters/hugevision/ops/submit-inventory-adjustment",
            served.url
        ))
        .json(&json!({"docList": [adjustment("INV9", "SD01B09", "7")]}))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("json");
    assert_eq!(submitted["status"], "submitted", "{submitted}");
    assert_eq!(submitted["message"], "异步处理提交成功");
    let request_id = submitted["requestId"].as_str().expect("id").to_string();
    assert_eq!(sim.queued(), 1);
    // Follow the polls: pending ones name the next; the last one's output is the result.
    let mut job = submitted["pollJob"].as_str().expect("poll job").to_string();
    let mut pending = 0;
    let result = loop {
        let record = eventually(Duration::from_secs(20), || {
            let (http, url) = (http.clone(), format!("{}/v1/jobs/{job}", served.url));
            async move {
                let r: Value = http.get(url).send().await.ok()?.json().await.ok()?;
                (r["state"] == "succeeded" || r["state"] == "dead").then_some(r)
            }
        })
        .await
        .expect("the poll job ends");
        assert_eq!(record["state"], "succeeded", "{record}");
        let output = record["output"].clone();
        if output["status"] == "pending" {
            pending += 1;
            job = output["nextPollJob"]
                .as_str()
                .expect("next poll")
                .to_string();
            continue;
        }
        break output;
    };
    assert!(
        pending >= 1,
        "the first poll came before the processing cycle"
    );
    assert_eq!(result["status"], "processed", "{result}");
    assert_eq!(result["requestId"], request_id.as_str());
    assert_eq!(
        result["documents"][0]["docNoHVS"],
        sim.ledger(|l| l.documents["INV9"].0.clone())
    );
    assert_eq!(sim.ledger(|l| l.calls[COB]), 1);
    // The result stays queryable.
    let queried: Value = http
        .post(format!(
            "{}/v1/adapters/hugevision/ops/query-async-result",
            served.url
        ))
        .json(&json!({"requestId": request_id}))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(queried["documents"], result["documents"]);
    assert_eq!(sim.ledger(|l| l.login_requests), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_data_error_ends_the_poll_job_dead_with_line_details() {
    let (sim, _dep, rt) = setup(Setup {
        cycle: Duration::from_millis(200),
        ..Setup::default()
    })
    .await;
    let submitted = call(
        &rt,
        "submit-inventory-adjustment",
        json!({"docList": [adjustment("INV10", "NO-SUCH-PRODUCT", "1")]}),
    )
    .await
    .expect("submitted");
    let id = submitted["requestId"].as_str().expect("id");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let e = call(&rt, "query-async-result", json!({"requestId": id}))
        .await
        .expect_err("data error");
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.platform_code.as_deref(), Some("7"));
    assert!(
        e.details
            .iter()
            .any(|d| d.index == Some(0) && d.field.as_deref() == Some("lineList[1]")),
        "{:?}",
        e.details
    );
    let rt = Arc::new(rt);
    let workers = weft::workers::Workers::start(
        &rt,
        weft::workers::WorkerOptions {
            workers: 1,
            lease: Duration::from_secs(5),
            poll: Duration::from_millis(50),
        },
    );
    let job = submitted["pollJob"].as_str().expect("job").to_string();
    let record = eventually(Duration::from_secs(10), || {
        let (rt, job) = (rt.clone(), job.clone());
        async move {
            let r = rt.shared().store.job_get(&job).await.ok()??;
            (r.state == weft::store::JobState::Dead).then_some(r)
        }
    })
    .await
    .expect("the poll job dies with the data error");
    let error = record.last_error.expect("error");
    assert_eq!(error["platform_code"], "7", "{error}");
    workers.shutdown().await;
    assert_eq!(sim.ledger(|l| l.calls[COB]), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_request_id_is_ours_until_its_record_expires() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    let id = "7f0c1d2e-0000-4000-8000-00000000abcd";
    let input = json!({"requestId": id, "docList": [adjustment("INV11", "SD01B09", "2")]});
    let first = call(&rt, "create-inventory-adjustment", input.clone())
        .await
        .expect("created");
    // The same request again (a caller's resend): our own, resolved to the first result.
    let again = call(&rt, "create-inventory-adjustment", input.clone())
        .await
        .expect("our own duplicate");
    assert_eq!(again["documents"], first["documents"]);
    assert_eq!(sim.ledger(|l| l.documents.len()), 1);
    // retention_days = 1: what the store deletes two days from now is every record of this
    // request; a resend is then no longer known as ours.
    let two_days_on = weft::clock::now_ms() + 2 * 86_400_000;
    let expired = rt
        .shared()
        .store
        .kv_expire(two_days_on, 1000)
        .await
        .expect("expired");
    assert_eq!(expired, 2, "the id and its document shape");
    let e = call(&rt, "create-inventory-adjustment", input)
        .await
        .expect_err("unknown duplicate");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    assert_eq!(sim.ledger(|l| l.documents.len()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limit_answers_are_retried_into_one_document() {
    let (sim, _dep, rt) = setup(Setup::default()).await;
    sim.fail_next([Fault::Status(503), Fault::Status(502), Fault::Status(429)]);
    let out = call(
        &rt,
        "create-inventory-adjustment",
        json!({"docList": [adjustment("INV12", "SD01B09", "4")]}),
    )
    .await
    .expect("the fourth attempt succeeds");
    assert_eq!(out["status"], "processed");
    assert_eq!(sim.ledger(|l| l.documents.len()), 1);
    assert_eq!(sim.ledger(|l| l.calls[COF]), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipment_query_whose_answer_was_lost_does_not_end_as_an_empty_success() {
    let (sim, _dep, rt) = setup(Setup {
        http_timeout: "500ms",
        ..Setup::default()
    })
    .await;
    sim.add_shipments([
        json!({"org_Value": "D01", "documentNo": "2110DOC9001", "movementDate": "2026-11-20",
        "warehouse_Value": "00", "lineList": []}),
    ]);
    // The platform hands the shipment to the first query and marks it processing; that answer
    // is lost, and the resend (same requestId) hears "No Data!".
    sim.fail_next([Fault::SlowAnswer(Duration::from_secs(2))]);
    let e = call(
        &rt,
        "query-pending-shipments",
        json!({"documentNo": "2110DOC9001"}),
    )
    .await
    .expect_err("not an empty success");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e:?}");
    assert_eq!(e.platform_code.as_deref(), Some("outcome-unknown"));
    let id: String = sim.ledger(|l| {
        l.bodies
            .iter()
            .find(|(p, _)| p == APDF)
            .map(|(_, b)| b["requestId"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    });
    assert!(!id.is_empty());
    assert!(
        e.message.contains(&id) && e.message.contains("processing"),
        "names the request and what to check: {}",
        e.message
    );
    // A query whose first answer arrives is an empty success as before.
    let out = call(
        &rt,
        "query-pending-shipments",
        json!({"documentNo": "NONE"}),
    )
    .await
    .expect("empty");
    assert_eq!(out["shipments"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_every_answer_is_lost_names_its_request_id() {
    let (sim, _dep, rt) = setup(Setup {
        http_timeout: "300ms",
        ..Setup::default()
    })
    .await;
    sim.fail_next((0..6).map(|_| Fault::SlowAnswer(Duration::from_secs(1))));
    let e = call(
        &rt,
        "create-inventory-adjustment",
        json!({"docList": [adjustment("INV10", "SD01B09", "2")]}),
    )
    .await
    .expect_err("no answer ever came");
    let id: String = sim.ledger(|l| {
        l.bodies
            .iter()
            .find(|(p, _)| p == COF)
            .map(|(_, b)| b["requestId"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    });
    assert!(
        e.message.contains(&format!("requestId {id}")) && e.message.contains("query-async-result"),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_is_journaled_and_replays_as_a_fixture() {
    const CALL: &str = "hugevision-rejected-call";
    let (_sim, _dep, rt) = setup(Setup::default()).await;
    let input = json!({"docList": [adjustment("INV9", "NO-SUCH-PRODUCT", "5")]});
    let e = rt
        .invoke(
            "hugevision",
            "create-inventory-adjustment",
            &input.to_string(),
            CallOptions {
                call_id: Some(CALL.into()),
                ..CallOptions::default()
            },
        )
        .await
        .expect_err("data error");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e:?}");
    weft_tests::harness::failure_replays_as_a_fixture(&rt, "hugevision", CALL).await;
}
