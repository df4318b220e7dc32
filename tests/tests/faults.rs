//! Failing platforms, every adapter: a platform that answers 5xx or 429 for longer than the
//! retries allow ends the job dead with the reason — never a silent loss — and the simulator
//! shows no effect. (Bursts shorter than the retries, lost answers and revoked tokens are each
//! adapter's own test file: success with one effect.)

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use weft::store::JobState;
use weft::workers::WorkerOptions;
use weft_tests::harness::{Deployment, component, eventually};

const RETRY: &str =
    "[retry]\nmax_attempts = 2\ninitial_backoff = \"10ms\"\nmax_backoff = \"20ms\"\n";

/// Runs `op` as a job until it ends; answers its final record's error.
async fn dead_job(dep: &Deployment, adapter: &str, op: &str, input: Value) -> Value {
    let rt = Arc::new(dep.runtime().await);
    let job = rt
        .enqueue(adapter, op, &input.to_string(), None, Duration::ZERO)
        .await
        .expect("enqueued");
    let id = match job {
        weft::store::Enqueued::New(id) | weft::store::Enqueued::Existing(id) => id,
        other => panic!("{other:?}"),
    };
    let workers = weft::workers::Workers::start(
        &rt,
        WorkerOptions {
            workers: 1,
            lease: Duration::from_secs(5),
            poll: Duration::from_millis(20),
        },
    );
    let record = eventually(Duration::from_secs(20), || {
        let (rt, id) = (rt.clone(), id.clone());
        async move {
            let r = rt.shared().store.job_get(&id).await.ok()??;
            matches!(r.state, JobState::Dead | JobState::Succeeded).then_some(r)
        }
    })
    .await
    .expect("the job ends");
    workers.shutdown().await;
    assert_eq!(record.state, JobState::Dead, "{record:?}");
    assert_eq!(
        record.attempt, 2,
        "retried as the manifest says, then dead: {record:?}"
    );
    record.last_error.expect("the reason")
}

fn reason(error: &Value) -> String {
    format!("{} {}", error["message"], error["platform_code"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sekorm_under_a_5xx_storm_ends_dead_with_the_status() {
    use weft_tests::sekorm::{Fault, Sekorm};
    let sim = Sekorm::start("acct", "secret").await;
    let dep = Deployment::new();
    dep.manifest("sekorm", &sim.manifest(&dep, "acct", "secret", RETRY));
    sim.fail_next((0..10).map(|_| Fault::Status(503)));
    let error = dead_job(
        &dep,
        "sekorm",
        "update-quantity",
        json!({"pnCode": "P1", "brandName": "AMS", "stockQuantity": 5}),
    )
    .await;
    assert_eq!(error["kind"], "transient");
    assert!(reason(&error).contains("503"), "{error}");
    assert!(sim.ledger(|l| l.updates.is_empty()), "no effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenovo_under_rate_limit_answers_ends_dead_with_the_reason() {
    use weft_tests::lenovo::{Fault, Lenovo};
    let sim = Lenovo::start("client", "secret").await;
    let dep = Deployment::new();
    dep.manifest(
        "lenovo",
        &format!(
            "name = \"lenovo\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nclient_id = \"{}\"\nclient_secret = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n{RETRY}[config]\ntoken_url = \"{}\"\napp_name = \"WEFT\"\n",
            component("weft-lenovo").display(),
            sim.base_url(),
            dep.secret("id", "client"),
            dep.secret("secret", "secret"),
            sim.token_url(),
        ),
    );
    sim.fail_next((0..10).map(|_| Fault::Status(429)));
    let error = dead_job(
        &dep,
        "lenovo",
        "sync",
        json!({"data_category": "inventory", "biz_key": "stock", "action": "add", "rows": [{"LENOVO_PN": "p", "PLANT": "1", "QTY": 1}]}),
    )
    .await;
    assert!(
        reason(&error).contains("429") || reason(&error).contains("rate limited"),
        "{error}"
    );
    assert_eq!(sim.ledger(|l| l.rows_written), 0, "no effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supercarrier8_under_a_5xx_storm_ends_dead_with_the_status() {
    use weft_tests::supercarrier8::{Fault, SuperCarrier8};
    let sim = SuperCarrier8::start("key", "secret", 28800, Duration::ZERO).await;
    let dep = Deployment::new();
    dep.manifest(
        "supercarrier8",
        &format!(
            "name = \"supercarrier8\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\naccess_key = \"{}\"\nsecret_key = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n{RETRY}",
            component("weft-supercarrier8").display(),
            sim.base_url(),
            dep.secret("ak", "key"),
            dep.secret("sk", "secret"),
        ),
    );
    sim.fail_next((0..10).map(|_| Fault::Status(502)));
    let error = dead_job(
        &dep,
        "supercarrier8",
        "upsert-product",
        json!({"productNo": "G1", "goodsName": "n"}),
    )
    .await;
    assert!(reason(&error).contains("502"), "{error}");
    assert!(sim.ledger(|l| l.products.is_empty()), "no effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hugevision_under_a_5xx_storm_ends_dead_with_the_status() {
    use weft_tests::hugevision::{Account, Fault, HugeVision};
    let sim = HugeVision::start(
        Account {
            system_key: "sys".into(),
            unique_code: "pw".into(),
            user_name: "user".into(),
            parameters: Value::Null,
        },
        Duration::from_secs(3600),
        Duration::ZERO,
        Duration::from_secs(3600),
    )
    .await;
    let dep = Deployment::new();
    dep.manifest(
        "hugevision",
        &format!(
            "name = \"hugevision\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nsystem_key = \"{}\"\nuser_name = \"{}\"\nsystem_password = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n{RETRY}",
            component("weft-hugevision").display(),
            sim.base_url(),
            dep.secret("s", "sys"),
            dep.secret("u", "user"),
            dep.secret("p", "pw"),
        ),
    );
    sim.fail_next((0..10).map(|_| Fault::Status(503)));
    let doc = json!({"docNo": "D1", "warehouse_Text": "W", "lineList": [{"locator_Text": "L", "product_Text": "SD01B09", "invStatus_Text": "正常", "adjustQuantity": "1"}]});
    let error = dead_job(
        &dep,
        "hugevision",
        "create-inventory-adjustment",
        json!({"docList": [doc]}),
    )
    .await;
    assert!(reason(&error).contains("503"), "{error}");
    assert!(sim.ledger(|l| l.documents.is_empty()), "no effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fxiaoke_under_a_5xx_storm_ends_dead_with_the_status() {
    use weft_tests::fxiaoke::Crm;
    let crm = Crm::start("push", "tenant", &[]).await;
    let dep = Deployment::new();
    dep.manifest(
        "fxiaoke",
        &format!(
            "name = \"fxiaoke\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\ncrm_token = \"{}\"\npush_token = \"{}\"\n{RETRY}[config]\ntenant_id = \"tenant\"\n",
            component("weft-fxiaoke").display(),
            crm.base_url(),
            dep.secret("c", "crm"),
            dep.secret("p", "push"),
        ),
    );
    crm.fail_status_next(&[503; 10]);
    let error = dead_job(
        &dep,
        "fxiaoke",
        "push-record",
        json!({"objAPIName": "OrderObj", "masterFieldVal": {"id": "O1"}}),
    )
    .await;
    assert!(reason(&error).contains("503"), "{error}");
    assert!(crm.ledger(|l| l.pushes.is_empty()), "no effect");
}
