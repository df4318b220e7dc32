//! The Sekorm adapter end to end: the real component, the host library, and the strict
//! simulator over loopback HTTP. Every scenario runs against each of Sekorm's three builds —
//! Rust (`plugins/sekorm`), TypeScript (`plugins/typescript/sekorm`) and Python
//! (`plugins/python/sekorm`) — so the SDKs are held to one behaviour.

use serde_json::{Value, json};
use std::time::Duration;
use weft::{CallOptions, ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component};
use weft_tests::sekorm::{Fault, Sekorm};

const ACCOUNT: &str = "weft-test-account";
const SECRET: &str = "s3cret+/=app";

/// Each scenario as one test per build, named `rust::…`, `typescript::…` and `python::…`.
macro_rules! for_each_build {
    ($($name:ident),* $(,)?) => {
        mod rust {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name("weft-sekorm").await
            })*
        }
        mod typescript {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name("weft-ts-sekorm").await
            })*
        }
        mod python {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name("weft-py-sekorm").await
            })*
        }
    };
}

for_each_build!(
    full_sync_sends_every_item_in_chunks_with_one_token,
    update_quantity_is_recorded_and_reconcile_sends_the_days_changes,
    a_token_revoked_mid_run_is_refreshed_once_and_the_call_succeeds,
    a_token_near_expiry_is_refreshed_before_use,
    wrong_credentials_are_an_auth_error_without_a_fetch_loop,
    server_errors_are_retried_with_backoff_then_reported,
    a_slow_platform_times_out_and_a_lost_answer_is_resent,
    invalid_input_is_refused_before_anything_is_sent,
    a_host_outside_allowed_hosts_is_refused_without_a_connection,
    platform_refusals_keep_their_message,
    a_hundred_concurrent_calls_on_a_cold_cache_make_one_token_request,
    a_restart_reuses_the_persisted_token,
    min_fetch_interval_spaces_token_fetches,
    the_same_item_twice_in_one_request_is_refused_naming_both,
    a_later_chunk_that_fails_says_what_the_platform_already_applied,
    reconciliation_counts_full_sync_and_updates_in_chunks,
    the_schedule_reconciles_every_complete_day_it_missed_once,
    a_refused_call_is_journaled_and_replays_as_a_fixture,
);

/// Manifest sections a test may change.
#[derive(Default)]
struct Sections {
    top: &'static str,
    token: &'static str,
    limits: &'static str,
    retry: &'static str,
    config: &'static str,
}

fn deploy(build: &str, sim: &Sekorm, s: Sections) -> Deployment {
    let dep = Deployment::new();
    let account = dep.secret("account", ACCOUNT);
    let secret = dep.secret("app_secret", SECRET);
    let retry = if s.retry.is_empty() {
        "max_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\""
    } else {
        s.retry
    };
    let token = if s.token.is_empty() {
        "min_fetch_interval = \"0s\""
    } else {
        s.token
    };
    let limits = if s.limits.is_empty() {
        "http_timeout = \"2s\""
    } else {
        s.limits
    };
    dep.manifest(
        "sekorm",
        &format!(
            r#"
name = "sekorm"
component = "{component}"
base_url = "{base}"
{top}

[secrets]
account = "{account}"
app_secret = "{secret}"

[token]
{token}

[limits]
timeout = "20s"
{limits}

[retry]
{retry}

[config]
{config}
"#,
            component = component(build).display(),
            base = sim.base_url(),
            top = s.top,
            config = s.config,
        ),
    );
    dep
}

async fn setup(build: &str, s: Sections) -> (Sekorm, Deployment, Runtime) {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = deploy(build, &sim, s);
    let rt = dep.runtime().await;
    (sim, dep, rt)
}

fn items(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({ "pnCode": format!("PN-{i:05}/+="), "brandName": "AMS", "stockQuantity": i }))
        .collect();
    json!({ "items": list })
}

async fn call(rt: &Runtime, op: &str, input: Value) -> Result<Value, weft::InvokeError> {
    rt.invoke("sekorm", op, &input.to_string(), CallOptions::default())
        .await
        .map(|out| serde_json::from_str(&out).expect("output is JSON"))
}

async fn full_sync_sends_every_item_in_chunks_with_one_token(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            config: "chunk_size = 500",
            ..Sections::default()
        },
    )
    .await;
    let out = call(&rt, "full-sync", items(1234))
        .await
        .expect("full sync");
    assert_eq!(out["items"], 1234);
    assert_eq!(out["chunks"], 3);
    sim.ledger(|l| {
        assert_eq!(l.full_sync_batches, vec![500, 500, 234]);
        assert_eq!(l.stock.len(), 1234);
        assert_eq!(
            l.stock.get(&("AMS".into(), "PN-01233/+=".into())),
            Some(&1233)
        );
    });
    call(&rt, "full-sync", items(10))
        .await
        .expect("second sync");
    assert_eq!(sim.token_requests(), 1, "the token is reused while valid");
}

async fn update_quantity_is_recorded_and_reconcile_sends_the_days_changes(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    for (pn, q) in [("A-1", 5), ("B/2+", 7), ("A-1", 9)] {
        let out = call(
            &rt,
            "update-quantity",
            json!({ "pnCode": pn, "brandName": "AMS", "stockQuantity": q }),
        )
        .await
        .expect("update");
        assert_eq!(out["updated"]["stockQuantity"], q);
    }
    let out = call(&rt, "reconcile", json!({})).await.expect("reconcile");
    assert_eq!(
        out["items"], 2,
        "one line per item changed today, with its last quantity"
    );
    sim.ledger(|l| {
        assert_eq!(l.updates.len(), 3);
        let sent = &l.compares[0];
        let a = sent
            .iter()
            .find(|x| x.pn_code == "A-1")
            .expect("A-1 compared");
        assert_eq!(a.quantity, 9);
        assert!(sent.iter().any(|x| x.pn_code == "B/2+" && x.quantity == 7));
    });
    let out = call(&rt, "reconcile", json!({ "date": "2001-01-01" }))
        .await
        .expect("empty day");
    assert_eq!(out["sent"], false);
    assert_eq!(
        sim.ledger(|l| l.compares.len()),
        1,
        "an empty day sends nothing"
    );
}

async fn a_token_revoked_mid_run_is_refreshed_once_and_the_call_succeeds(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    call(&rt, "full-sync", items(3)).await.expect("first");
    sim.revoke_tokens();
    call(&rt, "full-sync", items(3))
        .await
        .expect("after revocation");
    assert_eq!(sim.token_requests(), 2);
    assert_eq!(sim.ledger(|l| l.refused_tokens), 1);
}

async fn a_token_near_expiry_is_refreshed_before_use(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            token: "refresh_window = \"50%\"\nmin_fetch_interval = \"0s\"",
            ..Sections::default()
        },
    )
    .await;
    sim.set_expires_in(2);
    call(&rt, "full-sync", items(1)).await.expect("first");
    call(&rt, "full-sync", items(1))
        .await
        .expect("second, same token");
    assert_eq!(sim.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(&rt, "full-sync", items(1))
        .await
        .expect("inside the refresh window");
    assert_eq!(sim.token_requests(), 2, "refreshed inside the window");
    assert_eq!(
        sim.ledger(|l| l.refused_tokens),
        0,
        "no request ever carried an expired token"
    );
}

async fn wrong_credentials_are_an_auth_error_without_a_fetch_loop(build: &'static str) {
    let sim = Sekorm::start(ACCOUNT, "another-secret").await;
    let dep = deploy(build, &sim, Sections::default());
    let rt = dep.runtime().await;
    let e = call(&rt, "full-sync", items(1)).await.expect_err("refused");
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(e.message.contains("no permission"), "{e}");
    assert_eq!(sim.token_requests(), 1);
    assert_eq!(sim.business_requests(), 0);
    assert!(
        !e.message.contains(SECRET),
        "secrets never appear in errors"
    );
}

async fn server_errors_are_retried_with_backoff_then_reported(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    sim.fail_next([Fault::Status(500), Fault::SystemError]);
    let out = call(&rt, "full-sync", items(2))
        .await
        .expect("third attempt succeeds");
    assert_eq!(out["items"], 2);
    assert_eq!(sim.ledger(|l| l.full_sync_batches.clone()), vec![2]);
    sim.fail_next([Fault::Status(502), Fault::Status(503), Fault::Status(500)]);
    let e = call(&rt, "full-sync", items(2))
        .await
        .expect_err("gives up");
    assert_eq!(e.kind, ErrorKind::Transient);
    assert_eq!(e.attempts, 3);
    assert_eq!(e.platform_code.as_deref(), Some("500"));
}

async fn a_slow_platform_times_out_and_a_lost_answer_is_resent(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            limits: "http_timeout = \"300ms\"",
            retry: "max_attempts = 1",
            ..Sections::default()
        },
    )
    .await;
    // Get the token first so the faults hit the business call.
    call(
        &rt,
        "update-quantity",
        json!({"pnCode": "X", "brandName": "AMS", "stockQuantity": 1}),
    )
    .await
    .expect("warm");
    sim.fail_next([Fault::Latency(Duration::from_secs(2))]);
    let e = call(
        &rt,
        "update-quantity",
        json!({"pnCode": "X", "brandName": "AMS", "stockQuantity": 2}),
    )
    .await
    .expect_err("timeout");
    assert_eq!(e.kind, ErrorKind::Transient);
    assert_eq!(e.platform_code.as_deref(), Some("timeout"), "{e}");
    sim.fail_next([Fault::DropAfterProcessing]);
    let e = call(
        &rt,
        "update-quantity",
        json!({"pnCode": "X", "brandName": "AMS", "stockQuantity": 3}),
    )
    .await
    .expect_err("lost answer");
    assert_eq!(e.kind, ErrorKind::Transient);
    // The update is idempotent (a quantity, not a delta): sending it again is safe.
    call(
        &rt,
        "update-quantity",
        json!({"pnCode": "X", "brandName": "AMS", "stockQuantity": 3}),
    )
    .await
    .expect("resent");
    sim.ledger(|l| assert_eq!(l.stock.get(&("AMS".into(), "X".into())), Some(&3)));
}

async fn invalid_input_is_refused_before_anything_is_sent(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    let long = "x".repeat(51);
    let bad = json!({ "items": [
        { "pnCode": "ok", "brandName": "AMS", "stockQuantity": 1 },
        { "pnCode": long, "brandName": "AMS", "stockQuantity": 1 },
        { "pnCode": "ok", "brandName": "AMS", "stockQuantity": "12" },
        { "pnCode": "ok", "brandName": "AMS", "stockQuantity": 1.5 },
        { "pnCode": "ok", "stockQuantity": 1 },
        { "pnCode": "ok", "brandName": "AMS", "stockQuantity": 1, "extra": true },
    ]});
    let e = call(&rt, "full-sync", bad).await.expect_err("refused");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let indexes: Vec<Option<u32>> = e.details.iter().map(|d| d.index).collect();
    assert_eq!(
        indexes,
        vec![Some(1), Some(2), Some(3), Some(4), Some(5)],
        "{:?}",
        e.details
    );
    assert_eq!(e.details[0].field.as_deref(), Some("pnCode"));
    let e = call(
        &rt,
        "update-quantity",
        json!({"pnCode": "A", "brandName": "AMS", "stockQuantity": -3}),
    )
    .await
    .expect_err("negative");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let e = rt
        .invoke("sekorm", "full-sync", "{not json", CallOptions::default())
        .await
        .expect_err("not JSON");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    for odd in [
        json!({ "date": 5 }),
        json!({ "date": "2026-02-30" }),
        json!([1]),
    ] {
        let e = call(&rt, "reconcile", odd.clone())
            .await
            .expect_err("refused");
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{odd}: {e:?}");
    }
    let e = call(&rt, "no-such-op", json!({}))
        .await
        .expect_err("unknown op");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(
        sim.token_requests() + sim.business_requests(),
        0,
        "nothing reached the platform"
    );
}

async fn a_host_outside_allowed_hosts_is_refused_without_a_connection(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            top: "allowed_hosts = [\"wwww.sekorm.com\"]",
            ..Sections::default()
        },
    )
    .await;
    let e = call(&rt, "full-sync", items(1)).await.expect_err("denied");
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    assert!(
        e.message.contains("not in allowed_hosts [wwww.sekorm.com]"),
        "{e}"
    );
    assert_eq!(sim.token_requests() + sim.business_requests(), 0);
}

async fn platform_refusals_keep_their_message(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    sim.deny_loopback();
    let e = call(&rt, "full-sync", items(1))
        .await
        .expect_err("ip invalid");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    assert!(e.message.contains("ip invalid"), "{e}");
    assert_eq!(e.platform_code.as_deref(), Some("-1"));
    let sim2 = Sekorm::start(ACCOUNT, SECRET).await;
    sim2.forbid();
    let dep2 = deploy(build, &sim2, Sections::default());
    let rt2 = dep2.runtime().await;
    let e = call(&rt2, "full-sync", items(1))
        .await
        .expect_err("forbidden");
    assert!(e.message.contains("sp already forbidden"), "{e}");
    drop(sim);
}

async fn a_hundred_concurrent_calls_on_a_cold_cache_make_one_token_request(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            limits: "concurrency = 100\nhttp_timeout = \"5s\"",
            ..Sections::default()
        },
    )
    .await;
    let rt = std::sync::Arc::new(rt);
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move {
                call(
                    &rt,
                    "update-quantity",
                    json!({"pnCode": format!("P{i}"), "brandName": "AMS", "stockQuantity": i}),
                )
                .await
            })
        })
        .collect();
    for c in calls {
        c.await.expect("task").expect("call succeeds");
    }
    assert_eq!(sim.token_requests(), 1);
    assert_eq!(sim.ledger(|l| l.updates.len()), 100);
}

async fn a_restart_reuses_the_persisted_token(build: &'static str) {
    let sim = Sekorm::start(ACCOUNT, SECRET).await;
    let dep = deploy(build, &sim, Sections::default());
    {
        let rt = dep.runtime().await;
        call(&rt, "full-sync", items(1))
            .await
            .expect("first process");
    }
    let rt = dep.runtime().await;
    call(&rt, "full-sync", items(1))
        .await
        .expect("second process");
    assert_eq!(
        sim.token_requests(),
        1,
        "the second process reused the stored grant"
    );
}

async fn min_fetch_interval_spaces_token_fetches(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            token: "min_fetch_interval = \"1500ms\"",
            ..Sections::default()
        },
    )
    .await;
    call(&rt, "full-sync", items(1)).await.expect("first");
    sim.revoke_tokens();
    let started = std::time::Instant::now();
    call(&rt, "full-sync", items(1))
        .await
        .expect("waits for the interval, then refreshes");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the second fetch waited for min_fetch_interval"
    );
    assert_eq!(sim.token_requests(), 2);
}

/// The date `days` from today at UTC+8 (the adapter's default "day"), as YYYY-MM-DD.
fn day_at_plus8(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 8 * 3600;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn the_same_item_twice_in_one_request_is_refused_naming_both(build: &'static str) {
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    let twice = json!({ "items": [
        { "pnCode": "A", "brandName": "AMS", "stockQuantity": 1 },
        { "pnCode": "B", "brandName": "AMS", "stockQuantity": 2 },
        { "pnCode": "A", "brandName": "AMS", "stockQuantity": 3 },
    ]});
    for op in ["full-sync", "reconcile"] {
        let e = call(&rt, op, twice.clone()).await.expect_err("refused");
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{op}: {e:?}");
        assert_eq!(e.details[0].index, Some(2), "{op}: {e:?}");
        assert!(e.details[0].message.contains("items[0]"), "{op}: {e:?}");
    }
    sim.ledger(|l| {
        assert!(
            l.full_sync_batches.is_empty() && l.compares.is_empty(),
            "nothing sent"
        );
    });
}

async fn a_later_chunk_that_fails_says_what_the_platform_already_applied(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            config: "chunk_size = 500",
            retry: "max_attempts = 1",
            ..Sections::default()
        },
    )
    .await;
    sim.fail_next([Fault::Pass, Fault::Status(400)]);
    let e = call(&rt, "full-sync", items(1234))
        .await
        .expect_err("request 2 fails");
    assert!(
        e.message.contains("request 2 of 3 (items 500 to 999)")
            && e.message
                .contains("already applied 1 request(s), 500 item(s)"),
        "{}",
        e.message
    );
    assert_eq!(sim.ledger(|l| l.full_sync_batches.clone()), vec![500]);
}

async fn reconciliation_counts_full_sync_and_updates_in_chunks(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            config: "chunk_size = 2",
            ..Sections::default()
        },
    )
    .await;
    call(&rt, "full-sync", items(3)).await.expect("full sync");
    call(
        &rt,
        "update-quantity",
        json!({ "pnCode": "PN-00001/+=", "brandName": "AMS", "stockQuantity": 77 }),
    )
    .await
    .expect("update");
    let out = call(&rt, "reconcile", json!({})).await.expect("reconcile");
    assert_eq!(
        out["items"], 3,
        "full-sync's items are the day's changes too: {out}"
    );
    assert_eq!(out["requests"], 2, "in requests of chunk_size: {out}");
    sim.ledger(|l| {
        let sent: Vec<_> = l.compares.iter().flatten().collect();
        assert_eq!(sent.len(), 3);
        let updated = sent
            .iter()
            .find(|x| x.pn_code == "PN-00001/+=")
            .expect("compared");
        assert_eq!(updated.quantity, 77, "the last change of the day wins");
    });
}

async fn the_schedule_reconciles_every_complete_day_it_missed_once(build: &'static str) {
    let (sim, _dep, rt) = setup(
        build,
        Sections {
            config: "[[schedules]]\nname = \"daily-reconcile\"\nevery = \"1h\"",
            ..Sections::default()
        },
    )
    .await;
    // Changes recorded three and two days ago (Weft was down since), and today's so far.
    let store = &rt.shared().store;
    for (days, pn, q) in [(-3, "OLD-3", 3), (-2, "OLD-2", 2), (0, "TODAY", 1)] {
        let key = format!("changes/{}/AMS\u{1f}{pn}", day_at_plus8(days));
        let value = json!({ "pnCode": pn, "brandName": "AMS", "stockQuantity": q });
        store
            .kv_set("sekorm", &key, value.to_string().as_bytes())
            .await
            .expect("recorded");
    }
    let adapter = rt.registry().get("sekorm").expect("loaded");
    adapter.on_schedule("daily-reconcile").await.expect("runs");
    sim.ledger(|l| {
        let days: Vec<Vec<&str>> = l
            .compares
            .iter()
            .map(|c| c.iter().map(|x| x.pn_code.as_str()).collect())
            .collect();
        assert_eq!(
            days,
            vec![vec!["OLD-3"], vec!["OLD-2"]],
            "each missed complete day, oldest first; not today's partial day"
        );
    });
    adapter
        .on_schedule("daily-reconcile")
        .await
        .expect("runs again");
    assert_eq!(
        sim.ledger(|l| l.compares.len()),
        2,
        "a day is reconciled once"
    );
}

async fn a_refused_call_is_journaled_and_replays_as_a_fixture(build: &'static str) {
    const CALL: &str = "sekorm-refused-call";
    let (sim, _dep, rt) = setup(build, Sections::default()).await;
    sim.deny_loopback();
    let e = rt
        .invoke(
            "sekorm",
            "full-sync",
            &items(1).to_string(),
            CallOptions {
                call_id: Some(CALL.into()),
                ..CallOptions::default()
            },
        )
        .await
        .expect_err("ip invalid");
    assert_eq!(e.kind, ErrorKind::Rejected, "{e}");
    weft_tests::harness::failure_replays_as_a_fixture(&rt, "sekorm", CALL).await;
}
