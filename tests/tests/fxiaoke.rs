//! The 纷享销客 (Fxiaoke) adapter with Weft as the ERP side, through the real `weft serve`: the
//! CRM pushes records to the inbound routes (token checked by the host), polls them back in
//! pages, and receives the ERP's pushes at its syncpush endpoint with the document's headers.

use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::fxiaoke::{Crm, CrmClient, ERP_RECEIVE};
use weft_tests::harness::{Deployment, Served, component, eventually};

const CRM_TOKEN: &str = "crm-to-erp-token-8c1f";
const PUSH_TOKEN: &str = "erp-to-crm-token-77aa";
const TENANT: &str = "tenant-90210";

fn manifest_with(
    dep: &Deployment,
    crm: &Crm,
    ledgers: &[&str],
    deliver: bool,
    push_token: &str,
    config: &str,
) -> String {
    let ledgers: Vec<String> = ledgers.iter().map(|l| format!("{l:?}")).collect();
    let erp = if deliver {
        format!("erp_endpoint = \"{}{ERP_RECEIVE}\"", crm.base_url())
    } else {
        String::new()
    };
    let route = |name: &str, method: &str| {
        format!(
            "[[routes]]\nname = \"{name}\"\nmethod = \"{method}\"\npath = \"/erp/{name}\"\nauth = {{ type = \"header\", header = \"token\", secret = \"crm_token\" }}\n"
        )
    };
    format!(
        r#"
name = "fxiaoke"
component = "{}"
base_url = "{}"

[secrets]
crm_token = "{}"
push_token = "{}"

[retry]
max_attempts = 3
initial_backoff = "10ms"
max_backoff = "50ms"

{}
{}
{}
{}
[config]
tenant_id = "{TENANT}"
data_center_ids = [{}]
{erp}
{config}
"#,
        component("weft-fxiaoke").display(),
        crm.base_url(),
        dep.secret("crm", CRM_TOKEN),
        dep.secret("push", push_token),
        route("create", "POST"),
        route("update", "POST"),
        route("queryMasterBatch", "GET"),
        route("queryMasterById", "GET"),
        ledgers.join(", "),
    )
}

struct Erp {
    crm: Crm,
    _dep: Deployment,
    served: Served,
    client: CrmClient,
}

async fn start(ledgers: &[&str], deliver: bool) -> Erp {
    start_with(ledgers, deliver, PUSH_TOKEN, "").await
}

async fn start_with(ledgers: &[&str], deliver: bool, push_token: &str, config: &str) -> Erp {
    let crm = Crm::start(PUSH_TOKEN, TENANT, ledgers).await;
    let dep = Deployment::new();
    dep.manifest(
        "fxiaoke",
        &manifest_with(&dep, &crm, ledgers, deliver, push_token, config),
    );
    let served = Served::start(&dep, &["--workers", "2"]);
    let client = CrmClient::new(format!("{}/inbound/fxiaoke/erp", served.url), CRM_TOKEN);
    Erp {
        crm,
        _dep: dep,
        served,
        client,
    }
}

impl Erp {
    async fn op(&self, op: &str, input: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/adapters/fxiaoke/ops/{op}", self.served.url))
            .json(&input)
            .send()
            .await
            .expect("op");
        let status = r.status().as_u16();
        (status, r.json().await.expect("json"))
    }
}

fn order(no: &str, amount: u32) -> Value {
    json!({
        "objAPIName": "SalesOrderObj",
        "masterFieldVal": {"orderNo": no, "customer": "ACME 上海", "amount": amount},
        "detailFieldVals": {
            "SalesOrderProductObj": [
                {"product": "P-1", "qty": 2},
                {"product": "P-2", "qty": 5}
            ]
        }
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_update_then_query_by_id_round_trips_master_and_details() {
    let erp = start(&[], true).await;
    let created = erp
        .client
        .push_keyed("create", &order("SO-1", 100), "crm-push-1")
        .await;
    assert_eq!(
        (created.status, created.code.as_str()),
        (200, "0"),
        "{created:?}"
    );
    let id = created.data["masterDataId"]
        .as_str()
        .expect("id")
        .to_string();
    let details = created.data["detailDataIds"]["SalesOrderProductObj"]
        .as_array()
        .expect("detail ids")
        .clone();
    assert_eq!(details.len(), 2);
    // A create resent after a lost answer (same Idempotency-Key) lands on the same record.
    let again = erp
        .client
        .push_keyed("create", &order("SO-1", 100), "crm-push-1")
        .await;
    assert_eq!(again.data, created.data);
    // The same fields without the key are another record: equal content is not one identity.
    let other = erp.client.push("create", &order("SO-1", 100)).await;
    assert_ne!(other.data["masterDataId"], created.data["masterDataId"]);

    let mut change = order("SO-1", 180);
    change["masterFieldVal"]["id"] = json!(id);
    change["detailFieldVals"]["SalesOrderProductObj"][0]["id"] = details[0].clone();
    change["detailFieldVals"]["SalesOrderProductObj"][0]["qty"] = json!(3);
    let updated = erp.client.push("update", &change).await;
    assert_eq!(updated.code, "0", "{updated:?}");
    assert_eq!(updated.data["masterDataId"], id.as_str());
    assert_eq!(
        updated.data["detailDataIds"]["SalesOrderProductObj"][0],
        details[0]
    );

    // An update may also name its record beside the fields.
    let mut beside = order("SO-1", 180);
    beside["masterDataId"] = json!(id);
    beside["detailFieldVals"]["SalesOrderProductObj"][0]["id"] = details[0].clone();
    beside["detailFieldVals"]["SalesOrderProductObj"][0]["qty"] = json!(3);
    let same = erp.client.push("update", &beside).await;
    assert_eq!(
        (same.code.as_str(), &same.data),
        ("0", &updated.data),
        "{same:?}"
    );

    let read = erp.client.by_id("SalesOrderObj", &id).await;
    assert_eq!(read.code, "0");
    assert_eq!(read.data["objAPIName"], "SalesOrderObj");
    assert_eq!(read.data["masterFieldVal"]["amount"], 180);
    assert_eq!(read.data["masterFieldVal"]["id"], id.as_str());
    assert_eq!(
        read.data["detailFieldVals"]["SalesOrderProductObj"][0]["qty"],
        3
    );
    assert!(
        read.data["detailFieldVals"]["SalesOrderProductObj"][1]
            .get("id")
            .is_none(),
        "an id this side made up is not written into the CRM's data: {}",
        read.data
    );

    // Update of an id nobody created: an error in the document's shape.
    let mut unknown = order("SO-X", 1);
    unknown["masterFieldVal"]["id"] = json!("no-such-id");
    let refused = erp.client.push("update", &unknown).await;
    assert_ne!(refused.code, "0");
    assert!(refused.message.contains("no-such-id"), "{refused:?}");
    assert!(refused.data.is_null());
    let missing = erp.client.by_id("SalesOrderObj", "no-such-id").await;
    assert_ne!(missing.code, "0");
    // A body that is not the standard shape, in the same shape.
    let bad = erp
        .client
        .push("create", &json!({"objAPIName": "SalesOrderObj"}))
        .await;
    assert_ne!(bad.code, "0");
    assert!(bad.message.contains("masterFieldVal"), "{bad:?}");

    // Each stored change went to the company's ERP endpoint once, by a durable job.
    let delivered = eventually(Duration::from_secs(10), || async {
        let n = erp.crm.ledger(|l| l.delivered.len());
        (n >= 3).then_some(n)
    })
    .await
    .expect("deliveries");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(erp.crm.ledger(|l| l.delivered.len()), delivered);
    assert_eq!(
        delivered, 3,
        "create (resent once), another record with the same fields, and the update"
    );
    // Jobs run concurrently, so the ERP may receive them in any order: each delivery carries
    // the record's id and the time of its change (also its Idempotency-Key) to order them by.
    let sent = erp.crm.ledger(|l| l.delivered.clone());
    let only = |record: &Value, event: &str| -> &Value {
        let found: Vec<&Value> = sent
            .iter()
            .filter(|d| d["masterDataId"] == *record && d["event"] == event)
            .collect();
        assert_eq!(found.len(), 1, "one {event} of {record}: {sent:?}");
        found[0]
    };
    let create = only(&json!(id), "create");
    let update = only(&json!(id), "update");
    only(&other.data["masterDataId"], "create");
    assert_eq!(update["record"]["masterFieldVal"]["amount"], 180);
    assert!(
        create["changedAt"].as_u64() < update["changedAt"].as_u64(),
        "the update's change is the later one: {sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_is_refused_by_the_host() {
    let erp = start(&[], false).await;
    for token in [None, Some("wrong-token")] {
        let (status, body) = erp.client.raw("create", token, &order("SO-T", 1)).await;
        assert_eq!(status, 401, "{body}");
        // The host's problem document, not the adapter's answer: the adapter never ran.
        assert_eq!(body["kind"], "auth", "{body}");
        assert!(body.get("code").is_none(), "{body}");
    }
    let batch = erp.client.batch("SalesOrderObj", 0, now_ms(), 0, 100).await;
    assert_eq!(batch.data["totalNum"], 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_poll_over_a_time_window_pages_every_record_exactly_once() {
    let erp = start(&[], false).await;
    let client = std::sync::Arc::new(CrmClient::new(erp.client.prefix.clone(), CRM_TOKEN));
    let push_many = |range: std::ops::Range<usize>| {
        let client = client.clone();
        async move {
            let numbers: Vec<usize> = range.collect();
            for chunk in numbers.chunks(8) {
                let calls: Vec<_> = chunk
                    .iter()
                    .map(|n| {
                        let client = client.clone();
                        let mut record = order(&format!("SO-{n:05}"), *n as u32);
                        record["masterFieldVal"]["id"] = json!(format!("SO-{n:05}"));
                        tokio::spawn(async move { client.push("create", &record).await })
                    })
                    .collect();
                for c in calls {
                    assert_eq!(c.await.expect("task").code, "0");
                }
            }
        }
    };
    push_many(0..50).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = now_ms();
    push_many(50..1050).await;
    let end = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    push_many(1050..1100).await;

    let mut seen = std::collections::BTreeSet::new();
    let mut offset = 0;
    loop {
        let page = erp
            .client
            .batch("SalesOrderObj", start, end, offset, 100)
            .await;
        assert_eq!(page.code, "0", "{page:?}");
        assert_eq!(page.data["totalNum"], 1000, "{:?}", page.data["totalNum"]);
        let list = page.data["dataList"].as_array().expect("dataList").clone();
        if list.is_empty() {
            break;
        }
        for r in &list {
            assert_eq!(r["objAPIName"], "SalesOrderObj");
            assert_eq!(
                r["detailFieldVals"]["SalesOrderProductObj"]
                    .as_array()
                    .map(Vec::len),
                Some(2)
            );
            let id = r["masterFieldVal"]["id"].as_str().expect("id").to_string();
            assert!(seen.insert(id.clone()), "{id} twice");
        }
        offset += list.len();
        // A change to a record already read, made while paging, neither repeats nor hides any.
        if offset == 300 {
            let mut change = order("SO-00060", 1);
            change["masterFieldVal"]["id"] = json!("SO-00060");
            assert_eq!(erp.client.push("update", &change).await.code, "0");
        }
    }
    assert_eq!(seen.len(), 1000);
    let expected: std::collections::BTreeSet<String> =
        (50..1050).map(|n| format!("SO-{n:05}")).collect();
    assert_eq!(seen, expected);
    // Past the end: empty; a malformed window: the document's error shape.
    let past = erp
        .client
        .batch("SalesOrderObj", start, end, 1000, 100)
        .await;
    assert_eq!(past.data["dataList"], json!([]));
    let reversed = erp.client.batch("SalesOrderObj", end, start, 0, 100).await;
    assert_ne!(reversed.code, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_record_sends_the_standard_format_with_every_header_and_is_polled_back() {
    let erp = start(&[], false).await;
    let (status, out) = erp.op("push-record", order("SO-P1", 42)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["errCode"], "s106240000");
    let id = out["masterDataId"].as_str().expect("id").to_string();
    let pushed = erp
        .crm
        .ledger(|l| l.pushes.last().cloned())
        .expect("pushed");
    assert_eq!(pushed.header("token"), Some(PUSH_TOKEN));
    assert_eq!(pushed.header("tenantid"), Some(TENANT));
    assert_eq!(pushed.header("objectapiname"), Some("SalesOrderObj"));
    assert_eq!(pushed.header("version"), Some("v1"));
    assert_eq!(pushed.header("id"), Some(id.as_str()));
    assert_eq!(pushed.header("datacenterid"), None, "single ledger");
    assert_eq!(pushed.header("operationtype"), None);
    let body: Value = serde_json::from_slice(&pushed.body).expect("json");
    assert_eq!(body["masterFieldVal"]["amount"], 42);
    assert_eq!(
        body["detailFieldVals"]["SalesOrderProductObj"][1]["product"],
        "P-2"
    );
    // The CRM's polls see what the ERP pushed.
    let read = erp.client.by_id("SalesOrderObj", &id).await;
    assert_eq!(read.data["masterFieldVal"]["orderNo"], "SO-P1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_raw_sends_the_body_as_given_without_an_id() {
    let erp = start(&[], false).await;
    let (status, out) = erp
        .op(
            "push-raw",
            json!({"objectApiName": "BD_Customer", "body": "<Customer><No>C1</No></Customer>", "contentType": "application/xml"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let pushed = erp
        .crm
        .ledger(|l| l.pushes.last().cloned())
        .expect("pushed");
    assert_eq!(pushed.body, b"<Customer><No>C1</No></Customer>");
    assert_eq!(pushed.content_type, "application/xml");
    assert_eq!(pushed.header("id"), None);
    assert_eq!(pushed.header("objectapiname"), Some("BD_Customer"));
    let (status, _) = erp
        .op(
            "push-raw",
            json!({"objectApiName": "BD_Customer", "body": {"FNumber": "C2"}}),
        )
        .await;
    assert_eq!(status, 200);
    let pushed = erp
        .crm
        .ledger(|l| l.pushes.last().cloned())
        .expect("pushed");
    assert_eq!(
        serde_json::from_slice::<Value>(&pushed.body).expect("json"),
        json!({"FNumber": "C2"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_ledger_account_names_its_data_center_and_a_void_carries_operation_type_3() {
    let erp = start(&["dc-east", "dc-west"], false).await;
    let (status, problem) = erp.op("push-record", order("SO-M1", 1)).await;
    assert_eq!(status, 400, "several ledgers need a choice: {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("dataCenterId"),
        "{problem}"
    );
    let mut record = order("SO-M1", 1);
    record["dataCenterId"] = json!("dc-west");
    let (status, out) = erp.op("push-record", record).await;
    assert_eq!(status, 200, "{out}");
    let pushed = erp
        .crm
        .ledger(|l| l.pushes.last().cloned())
        .expect("pushed");
    assert_eq!(pushed.header("datacenterid"), Some("dc-west"));

    let (status, out) = erp
        .op(
            "void-record",
            json!({"objectApiName": "SalesOrderObj", "id": "SO-M1-ID", "dataCenterId": "dc-east"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let pushed = erp
        .crm
        .ledger(|l| l.pushes.last().cloned())
        .expect("pushed");
    assert_eq!(pushed.header("operationtype"), Some("3"));
    assert_eq!(pushed.header("id"), Some("SO-M1-ID"));
    assert_eq!(pushed.header("datacenterid"), Some("dc-east"));
    assert_eq!(erp.crm.ledger(|l| l.refused.clone()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_error_code_is_surfaced_with_its_message() {
    let erp = start(&[], false).await;
    erp.crm.fail_next("s106240500", "写入缓存表失败");
    let (status, problem) = erp.op("push-record", order("SO-E1", 1)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["kind"], "rejected");
    assert_eq!(problem["platform_code"], "s106240500");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("写入缓存表失败"),
        "{problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_crm_server_errors_is_retried_into_one_push() {
    let erp = start(&[], false).await;
    erp.crm.fail_status_next(&[503, 502]);
    let (status, out) = erp.op("push-record", order("SO-R1", 9)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        erp.crm.ledger(|l| l.pushes.len()),
        1,
        "one push reached the CRM"
    );
    // Past the retries: a transient failure, named, and still nothing pushed twice.
    erp.crm.fail_status_next(&[503, 503, 503]);
    let (status, problem) = erp.op("push-record", order("SO-R2", 9)).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["kind"], "transient");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("syncpush: HTTP 503"),
        "{problem}"
    );
    assert_eq!(erp.crm.ledger(|l| l.pushes.len()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_may_push_xml_or_text_and_hears_back_in_kind() {
    let erp = start(&[], false).await;
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<data>
  <objAPIName>SalesOrderObj</objAPIName>
  <masterFieldVal><orderNo>SO-X1</orderNo><customer>ACME &amp; Co</customer></masterFieldVal>
  <detailFieldVals>
    <SalesOrderProductObj><product>P-1</product><qty>2</qty></SalesOrderProductObj>
    <SalesOrderProductObj><product>P-2</product><qty>5</qty></SalesOrderProductObj>
  </detailFieldVals>
</data>"#;
    let (status, answer) = erp.client.push_text("create", "application/xml", xml).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.trim_start().starts_with("<?xml"),
        "answered in XML: {answer}"
    );
    assert!(answer.contains("<code>0</code>"), "{answer}");
    let id = answer
        .split("<masterDataId>")
        .nth(1)
        .and_then(|r| r.split("</masterDataId>").next())
        .expect("masterDataId")
        .to_string();
    let read = erp.client.by_id("SalesOrderObj", &id).await;
    assert_eq!(read.data["masterFieldVal"]["customer"], "ACME & Co");
    assert_eq!(
        read.data["detailFieldVals"]["SalesOrderProductObj"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // JSON sent as text/plain is read as well.
    let (status, answer) = erp
        .client
        .push_text("create", "text/plain", &order("SO-T1", 7).to_string())
        .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&answer).expect("a JSON answer to a text push");
    assert_eq!(answer["code"], "0", "{answer}");
    // Neither: refused in the document's shape.
    let (_, answer) = erp
        .client
        .push_text("create", "text/plain", "orderNo=1")
        .await;
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    assert_ne!(answer["code"], "0", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_merges_unless_the_manifest_says_replace() {
    for (mode, config) in [("merge", ""), ("replace", "update_mode = \"replace\"")] {
        let erp = start_with(&[], false, PUSH_TOKEN, config).await;
        let mut first = order("SO-M1", 100);
        first["masterFieldVal"]["id"] = json!("SO-M1");
        first["masterFieldVal"]["note"] = json!("keep me");
        erp.client.push("create", &first).await;
        let change = json!({
            "objAPIName": "SalesOrderObj",
            "masterFieldVal": {"id": "SO-M1", "amount": 150},
        });
        let updated = erp.client.push("update", &change).await;
        assert_eq!(updated.code, "0", "{mode}: {updated:?}");
        let read = erp.client.by_id("SalesOrderObj", "SO-M1").await;
        let master = &read.data["masterFieldVal"];
        assert_eq!(master["amount"], 150, "{mode}");
        match mode {
            "merge" => {
                assert_eq!(master["note"], "keep me", "{mode}: {master}");
                assert_eq!(
                    read.data["detailFieldVals"]["SalesOrderProductObj"]
                        .as_array()
                        .map(Vec::len),
                    Some(2),
                    "{mode}: detail lists the update does not name are kept"
                );
            }
            _ => {
                assert!(master.get("note").is_none(), "{mode}: {master}");
                assert!(
                    read.data["detailFieldVals"]
                        .as_object()
                        .is_none_or(|d| d.is_empty()),
                    "{mode}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_push_token_is_auth_not_a_data_rejection() {
    let erp = start_with(&[], false, "not-the-push-token", "").await;
    let (status, body) = erp
        .op(
            "push-record",
            json!({"objAPIName": "SalesOrderObj", "masterFieldVal": {"id": "SO-A1"}, "detailFieldVals": {}}),
        )
        .await;
    assert_eq!(body["kind"], "auth", "{status} {body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("push_token"),
        "says what to check: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_raw_at_most_once_is_never_sent_twice() {
    let erp = start(&[], false).await;
    // The first attempt meets a 503 (the CRM may or may not have cached it); at-most-once does
    // not try again, at-least-once (the default) does.
    erp.crm.fail_status_next(&[503]);
    let (_, body) = erp
        .op(
            "push-raw",
            json!({"objectApiName": "SalesOrderObj", "body": {"x": 1}, "delivery": "at-most-once"}),
        )
        .await;
    assert_eq!(body["platform_code"], "outcome-unknown", "{body}");
    assert_eq!(
        erp.crm.ledger(|l| l.pushes.len()),
        0,
        "not sent a second time"
    );
    erp.crm.fail_status_next(&[503]);
    let (status, body) = erp
        .op(
            "push-raw",
            json!({"objectApiName": "SalesOrderObj", "body": {"x": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(erp.crm.ledger(|l| l.pushes.len()), 1);
}

/// Through the front door and the CLI: the failed call's id is in its answer, `weft fixture
/// from-call` writes its fixture, and `weft test` reproduces the failure with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_is_journaled_and_replays_as_a_fixture() {
    let erp = start(&[], false).await;
    erp.crm.fail_next("s106240500", "写入缓存表失败");
    let r = reqwest::Client::new()
        .post(format!(
            "{}/v1/adapters/fxiaoke/ops/push-record",
            erp.served.url
        ))
        .json(&order("SO-J1", 1))
        .send()
        .await
        .expect("op");
    assert_eq!(r.status(), 422);
    let call_id = r
        .headers()
        .get("x-weft-call-id")
        .and_then(|v| v.to_str().ok())
        .expect("call id")
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let weft = |args: &[&str]| erp._dep.weft(args);
    let out = weft(&[
        "fixture",
        "from-call",
        &call_id,
        &dir.path().display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_dir(dir.path())
        .expect("dir")
        .next()
        .expect("a fixture")
        .expect("entry")
        .path();
    let component = component("weft-fxiaoke").display().to_string();
    let out = weft(&[
        "test",
        "--component",
        &component,
        &file.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{out:?}\n{}",
        std::fs::read_to_string(&file).unwrap_or_default()
    );
}
