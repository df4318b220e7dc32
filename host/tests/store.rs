//! The store trait's behaviour, the same on both backends: SQLite (a temporary file) and
//! PostgreSQL (its own schema per test, on the machine's server; never skipped under CI).

use std::sync::Arc;
use weft::store::{
    Enqueued, JobOutcome, JobState, NewJob, PgStore, SqliteStore, Store, StoredGrant,
};

/// The PostgreSQL server the tests use (`WEFT_TEST_POSTGRES`, default the machine's).
fn pg_url() -> String {
    std::env::var("WEFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A store of each kind; the PostgreSQL one in a fresh schema dropped by the guard.
struct Backends {
    stores: Vec<(&'static str, Arc<dyn Store>)>,
    _dir: tempfile::TempDir,
    schema: String,
}

impl Drop for Backends {
    fn drop(&mut self) {
        let url = pg_url();
        let schema = self.schema.clone();
        // Best effort: a leftover schema only costs disk.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async {
                use sqlx::ConnectOptions;
                if let Ok(opts) = url.parse::<sqlx::postgres::PgConnectOptions>()
                    && let Ok(mut c) = opts.connect().await
                {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

async fn backends() -> Backends {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(dir.path()).await.expect("sqlite");
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let pg = PgStore::open(&format!("{}?schema={schema}", pg_url()))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is required for these tests (`.ci/run` starts it): {e}",
                pg_url()
            )
        });
    Backends {
        stores: vec![("sqlite", Arc::new(sqlite)), ("postgres", Arc::new(pg))],
        _dir: dir,
        schema,
    }
}

fn job(id: &str, key: Option<&str>, input: &str) -> NewJob {
    NewJob {
        id: id.into(),
        adapter: "a".into(),
        op: "op".into(),
        input: input.into(),
        max_attempts: 3,
        run_at_ms: 0,
        idempotency_key: key.map(str::to_string),
        request_hash: key.map(|_| format!("hash-{input}")),
        priority: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_storage_with_prefixes_and_namespaces() {
    let b = backends().await;
    for (name, s) in &b.stores {
        s.kv_set("a", "x/1", b"one").await.expect("set");
        s.kv_set("a", "x/2", b"two").await.expect("set");
        s.kv_set("a", "x_3", b"under").await.expect("set");
        s.kv_set("b", "x/1", b"other ns").await.expect("set");
        assert_eq!(
            s.kv_get("a", "x/1").await.expect("get").as_deref(),
            Some(&b"one"[..]),
            "{name}"
        );
        assert_eq!(
            s.kv_list("a", "x/", None, 10).await.expect("list"),
            vec!["x/1", "x/2"],
            "{name}: '/' prefix, '_' not a wildcard"
        );
        assert_eq!(
            s.kv_list("a", "x", Some("x/1"), 10).await.expect("page"),
            vec!["x/2", "x_3"],
            "{name}"
        );
        assert_eq!(
            s.kv_list("a", "x%", None, 10).await.expect("list"),
            Vec::<String>::new(),
            "{name}: '%' is literal"
        );
        // What a namespace holds, in bytes of keys and values (UTF-8 keys count their bytes).
        s.kv_set("u", "ключ", b"12345").await.expect("set");
        s.kv_set("u", "k2", b"").await.expect("set");
        let usage = s.kv_usage("u", "ключ").await.expect("usage");
        assert_eq!(usage.keys, 2, "{name}");
        assert_eq!(usage.bytes, 8 + 5 + 2, "{name}");
        assert_eq!(usage.existing, Some(13), "{name}");
        let none = s.kv_usage("u", "absent").await.expect("usage");
        assert_eq!(none.existing, None, "{name}");
        assert_eq!(
            s.kv_usage("empty", "k").await.expect("usage"),
            weft::store::KvUsage::default(),
            "{name}"
        );
        assert!(s.kv_delete("a", "x/1").await.expect("delete"), "{name}");
        assert!(!s.kv_delete("a", "x/1").await.expect("delete"), "{name}");
        assert_eq!(
            s.kv_get("b", "x/1").await.expect("get").as_deref(),
            Some(&b"other ns"[..]),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_is_atomic_under_contention() {
    let b = backends().await;
    for (name, s) in &b.stores {
        assert!(
            s.kv_cas("n", "k", None, None).await.expect("absent"),
            "{name}"
        );
        assert!(
            s.kv_cas("n", "k", None, Some(b"0")).await.expect("create"),
            "{name}"
        );
        assert!(
            !s.kv_cas("n", "k", None, Some(b"0")).await.expect("exists"),
            "{name}"
        );
        // 8 tasks × 10 increments through CAS: every increment lands exactly once.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = 0;
                while done < 10 {
                    let cur = s.kv_get("n", "k").await.expect("get").expect("value");
                    let n: u64 = std::str::from_utf8(&cur)
                        .expect("utf8")
                        .parse()
                        .expect("number");
                    if s.kv_cas("n", "k", Some(&cur), Some((n + 1).to_string().as_bytes()))
                        .await
                        .expect("cas")
                    {
                        done += 1;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(
            s.kv_get("n", "k").await.expect("get").as_deref(),
            Some(&b"80"[..]),
            "{name}"
        );
        assert!(
            s.kv_cas("n", "k", Some(b"80"), None)
                .await
                .expect("delete by cas"),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_absent_to_every_read_and_swap_until_retention_deletes_it() {
    let b = backends().await;
    let now = weft::clock::now_ms();
    let (past, future) = (Some(now - 1), Some(now + 3_600_000));
    for (name, s) in &b.stores {
        s.kv_set_until("e", "old", b"gone", past)
            .await
            .expect("set");
        s.kv_set_until("e", "live", b"here", future)
            .await
            .expect("set");
        s.kv_set("e", "kept", b"forever").await.expect("set");
        assert_eq!(s.kv_get("e", "old").await.expect("get"), None, "{name}");
        assert_eq!(
            s.kv_get("e", "live").await.expect("get").as_deref(),
            Some(&b"here"[..]),
            "{name}"
        );
        assert_eq!(
            s.kv_list("e", "", None, 10).await.expect("list"),
            vec!["kept", "live"],
            "{name}: an expired key is not listed"
        );
        let usage = s.kv_usage("e", "old").await.expect("usage");
        assert_eq!((usage.keys, usage.existing), (2, None), "{name}");
        assert!(!s.kv_delete("e", "old").await.expect("delete"), "{name}");
        // A swap sees the expired key as absent: it cannot be swapped from its old value, and
        // creating it succeeds (once), with the new expiry.
        assert!(
            !s.kv_cas("e", "old", Some(b"gone"), Some(b"x"))
                .await
                .expect("cas"),
            "{name}"
        );
        assert!(
            s.kv_cas("e", "old", None, None).await.expect("absent"),
            "{name}"
        );
        s.kv_set_until("e", "old", b"gone", past)
            .await
            .expect("set");
        assert!(
            s.kv_cas_until("e", "old", None, Some(b"again"), future)
                .await
                .expect("create over an expired key"),
            "{name}"
        );
        assert!(
            !s.kv_cas_until("e", "old", None, Some(b"twice"), future)
                .await
                .expect("a live key is not created twice"),
            "{name}"
        );
        // A plain write clears the expiry; a swap sets the one it is given.
        s.kv_set("e", "live", b"now forever").await.expect("set");
        assert!(
            s.kv_cas_until("e", "kept", Some(b"forever"), Some(b"soon"), past)
                .await
                .expect("swap"),
            "{name}"
        );
        assert_eq!(s.kv_get("e", "kept").await.expect("get"), None, "{name}");
        // Retention deletes what expired by the time it is given, nothing else.
        assert_eq!(s.kv_expire(now, 100).await.expect("expire"), 1, "{name}");
        assert_eq!(
            s.kv_expire(now + 7_200_000, 100).await.expect("expire"),
            1,
            "{name}: the key created over the expired one, an hour from now"
        );
        assert_eq!(
            s.kv_list("e", "", None, 10).await.expect("list"),
            vec!["live"],
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_grants_are_versioned_and_invalidated_only_when_current() {
    let b = backends().await;
    for (name, s) in &b.stores {
        let g = StoredGrant {
            token: Some("t1".into()),
            expires_at_ms: 10,
            fetched_at_ms: 1,
            last_attempt_ms: 1,
            credentials: "c".into(),
            version: 1,
        };
        assert!(
            s.token_store("a", "", &g, None).await.expect("insert"),
            "{name}"
        );
        assert!(
            !s.token_store("a", "", &g, None)
                .await
                .expect("insert twice"),
            "{name}"
        );
        let g2 = StoredGrant {
            token: Some("t2".into()),
            version: 2,
            ..g.clone()
        };
        assert!(
            !s.token_store("a", "", &g2, Some(7))
                .await
                .expect("stale version"),
            "{name}"
        );
        assert!(
            s.token_store("a", "", &g2, Some(1)).await.expect("cas"),
            "{name}"
        );
        assert!(
            !s.token_invalidate("a", "", "t1")
                .await
                .expect("stale token"),
            "{name}: a stale rejection changes nothing"
        );
        assert!(
            s.token_invalidate("a", "", "t2").await.expect("current"),
            "{name}"
        );
        let loaded = s.token_load("a", "").await.expect("load").expect("row");
        assert_eq!(loaded.token, None, "{name}");
        assert_eq!(loaded.version, 3, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_claimed_once_fenced_and_keyed() {
    let b = backends().await;
    for (name, s) in &b.stores {
        for i in 0..40 {
            assert_eq!(
                s.job_enqueue(&job(&format!("j{i}"), None, "{}"), 0)
                    .await
                    .expect("enqueue"),
                Enqueued::New(format!("j{i}")),
                "{name}"
            );
        }
        assert_eq!(
            s.job_enqueue(&job("k1", Some("key"), "A"), 0)
                .await
                .expect("keyed"),
            Enqueued::New("k1".into())
        );
        assert_eq!(
            s.job_enqueue(&job("k2", Some("key"), "A"), 0)
                .await
                .expect("same"),
            Enqueued::Existing("k1".into()),
            "{name}"
        );
        assert_eq!(
            s.job_enqueue(&job("k3", Some("key"), "B"), 0)
                .await
                .expect("other"),
            Enqueued::KeyConflict("k1".into()),
            "{name}"
        );
        // Four claimers at once: 41 jobs, each claimed by exactly one.
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(j) = s
                    .job_claim(&format!("w{w}"), 100, 10_000)
                    .await
                    .expect("claim")
                {
                    got.push(j.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(
            (before, all.len()),
            (41, 41),
            "{name}: every job claimed exactly once"
        );
        // Fencing: attempt 1 finished late after attempt 2 took over is a no-op.
        let late = s
            .job_claim("late", 20_000, 30_000)
            .await
            .expect("lease lapsed, claimed again")
            .expect("a job");
        assert_eq!(late.attempt, 2, "{name}");
        assert!(
            !s.job_finish(
                &late.id,
                1,
                &JobOutcome::Succeeded("\"old\"".into()),
                21_000
            )
            .await
            .expect("fenced"),
            "{name}"
        );
        assert!(
            s.job_finish(
                &late.id,
                2,
                &JobOutcome::Dead("{\"kind\":\"trap\"}".into()),
                21_000
            )
            .await
            .expect("finish"),
            "{name}"
        );
        assert_eq!(
            s.job_get(&late.id).await.expect("get").expect("job").state,
            JobState::Dead,
            "{name}"
        );
        assert!(
            s.job_retry(&late.id, 2, 22_000).await.expect("retry"),
            "{name}"
        );
        assert!(
            !s.job_retry(&late.id, 2, 22_000).await.expect("not dead"),
            "{name}"
        );
        let released = s.job_release_owner("w0", 23_000).await.expect("release");
        assert!(released <= 41, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_schedule_tick_is_claimed_once() {
    let b = backends().await;
    for (name, s) in &b.stores {
        assert!(
            s.schedule_claim("a", "tick", 1000, 1000, 5000)
                .await
                .expect("claim")
                .is_some(),
            "{name}"
        );
        assert!(
            s.schedule_claim("a", "tick", 1000, 1000, 5000)
                .await
                .expect("again")
                .is_none(),
            "{name}: same tick"
        );
        assert!(
            s.schedule_claim("a", "tick", 2000, 2000, 5000)
                .await
                .expect("overlap")
                .is_none(),
            "{name}: previous run still going"
        );
        s.schedule_done("a", "tick", 1000).await.expect("done");
        assert!(
            s.schedule_claim("a", "tick", 2000, 2000, 6000)
                .await
                .expect("next")
                .is_some(),
            "{name}"
        );
        assert_eq!(
            s.schedule_last("a", "tick").await.expect("last"),
            Some(2000),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_locks_exclude_each_other() {
    let b = backends().await;
    let (_, pg) = &b.stores[1];
    let first = pg
        .token_lock("a", "")
        .await
        .expect("lock")
        .expect("postgres locks");
    let pg2 = pg.clone();
    let waiter =
        tokio::spawn(async move { pg2.token_lock("a", "").await.expect("lock").expect("lock") });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the second lock waits while the first is held"
    );
    first.release().await;
    let second = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("granted after release")
        .expect("task");
    second.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_budget_slots_are_spaced_by_the_interval() {
    let b = backends().await;
    for (name, s) in &b.stores {
        assert_eq!(
            s.rate_acquire("r", 100, 1000).await.expect("first"),
            1000,
            "{name}: free now"
        );
        assert_eq!(
            s.rate_acquire("r", 100, 1000).await.expect("second"),
            1100,
            "{name}"
        );
        assert_eq!(
            s.rate_acquire("r", 100, 1050).await.expect("third"),
            1200,
            "{name}"
        );
        assert_eq!(
            s.rate_acquire("r", 100, 5000).await.expect("idle"),
            5000,
            "{name}: no burst saved up"
        );
        assert_eq!(
            s.rate_acquire("other", 100, 5000).await.expect("own key"),
            5000,
            "{name}"
        );
        // Read without taking: each key's next free slot, keys never taken left out.
        let mut booked = s
            .rate_booked_until(&["r".into(), "other".into(), "never".into()])
            .await
            .expect("booked");
        booked.sort();
        assert_eq!(
            booked,
            vec![("other".to_string(), 5100), ("r".to_string(), 5100)],
            "{name}"
        );
        assert_eq!(
            s.rate_acquire("r", 100, 5000)
                .await
                .expect("after the read"),
            5100,
            "{name}: reading took no slot"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commit_together_are_cancelled_when_waiting_and_pruned_when_old() {
    let b = backends().await;
    for (name, s) in &b.stores {
        // One transaction: all three, and a keyed job already there is left as it was.
        s.job_enqueue(&job("old", Some("k"), "A"), 0)
            .await
            .expect("keyed");
        let batch = [
            job("b1", None, "{}"),
            job("b2", None, "{}"),
            job("b3", Some("k"), "B"),
        ];
        s.job_enqueue_all(&batch, 10).await.expect("batch");
        for id in ["b1", "b2", "old"] {
            assert!(s.job_get(id).await.expect("get").is_some(), "{name}: {id}");
        }
        assert!(s.job_get("b3").await.expect("get").is_none(), "{name}");
        assert!(s.job_active("a", "op").await.expect("active"), "{name}");
        assert!(!s.job_active("a", "other").await.expect("active"), "{name}");

        // Cancel: queued yes, running no, twice no.
        assert!(s.job_cancel("b1", 20).await.expect("cancel"), "{name}");
        assert!(!s.job_cancel("b1", 20).await.expect("again"), "{name}");
        let b1 = s.job_get("b1").await.expect("get").expect("b1");
        assert_eq!(b1.state, JobState::Cancelled, "{name}");
        let claimed = s
            .job_claim("w", 30, 1_000)
            .await
            .expect("claim")
            .expect("a job");
        assert!(
            !s.job_cancel(&claimed.id, 40).await.expect("running"),
            "{name}"
        );
        assert!(
            s.job_finish(
                &claimed.id,
                claimed.attempt,
                &JobOutcome::Succeeded("{}".into()),
                50
            )
            .await
            .expect("finish"),
            "{name}"
        );

        // Prune: only finished jobs changed before the cut, in batches of the limit.
        for i in 0..7 {
            let id = format!("p{i}");
            s.job_enqueue(&job(&id, None, "{}"), 0)
                .await
                .expect("enqueue");
            s.job_cancel(&id, 60).await.expect("cancel");
        }
        let queued_before = s
            .job_list(Some(JobState::Queued), None, 100)
            .await
            .expect("list")
            .len();
        assert_eq!(
            s.job_prune(55, 100).await.expect("prune"),
            2,
            "{name}: b1 and the succeeded one"
        );
        assert_eq!(
            s.job_prune(1_000, 3).await.expect("prune"),
            3,
            "{name}: a batch"
        );
        assert_eq!(
            s.job_prune(1_000, 100).await.expect("prune"),
            4,
            "{name}: the rest"
        );
        assert_eq!(s.job_prune(1_000, 100).await.expect("prune"), 0, "{name}");
        let queued_after = s
            .job_list(Some(JobState::Queued), None, 100)
            .await
            .expect("list")
            .len();
        assert_eq!(
            queued_before, queued_after,
            "{name}: waiting jobs are never pruned"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_pages_follow_a_cursor_without_inputs_or_outputs() {
    let b = backends().await;
    for (name, s) in &b.stores {
        for i in 0..25 {
            let mut j = job(&format!("j{i:02}"), None, "{\"big\":1}");
            j.run_at_ms = 0;
            // Five share a creation time, so the id breaks the tie.
            s.job_enqueue(&j, 1_000 + (i / 5)).await.expect("enqueue");
        }
        let mut seen = Vec::new();
        let mut after: Option<(i64, String)> = None;
        loop {
            let filter = weft::store::JobFilter {
                state: None,
                adapter: Some("a"),
                after: after.as_ref().map(|(c, id)| (*c, id.as_str())),
                ..Default::default()
            };
            let page = s.job_page(&filter, 7).await.expect("page");
            for j in &page {
                assert_eq!(j.input, "", "{name}: no input in a listing");
                assert_eq!(j.output, None, "{name}");
            }
            seen.extend(page.iter().map(|j| j.id.clone()));
            match page.last() {
                Some(last) if page.len() == 7 => {
                    after = Some((last.created_at_ms, last.id.clone()))
                }
                _ => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "{name}: every job once: {seen:?}");
        assert_eq!(seen.len(), 25, "{name}: none twice");
        assert!(seen[0].starts_with("j2"), "{name}: newest first: {seen:?}");
        let full = s.job_get("j00").await.expect("get").expect("j00");
        assert_eq!(full.input, "{\"big\":1}", "{name}: job_get has the input");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_found_by_operation_idempotency_key_and_time_range() {
    use weft::store::JobFilter;
    let b = backends().await;
    for (name, s) in &b.stores {
        for i in 0..12_i64 {
            let key = format!("order-{i}");
            let mut j = job(&format!("s{i:02}"), Some(&key), "{}");
            j.op = if i % 3 == 0 { "sync" } else { "push" }.into();
            s.job_enqueue(&j, 10_000 + i * 1_000)
                .await
                .expect("enqueue");
        }
        let ids = |page: Vec<weft::store::JobRecord>| -> Vec<String> {
            page.into_iter().map(|j| j.id).collect()
        };
        let by_key = JobFilter {
            idempotency_key: Some("order-7"),
            ..JobFilter::default()
        };
        assert_eq!(
            ids(s.job_page(&by_key, 10).await.expect("key")),
            ["s07"],
            "{name}"
        );
        let by_op = JobFilter {
            adapter: Some("a"),
            op: Some("sync"),
            ..JobFilter::default()
        };
        assert_eq!(
            ids(s.job_page(&by_op, 10).await.expect("op")),
            ["s09", "s06", "s03", "s00"],
            "{name}: newest first"
        );
        // From the 3rd second (inclusive) to the 6th (exclusive).
        let range = JobFilter {
            since_ms: Some(13_000),
            until_ms: Some(16_000),
            ..JobFilter::default()
        };
        assert_eq!(
            ids(s.job_page(&range, 10).await.expect("range")),
            ["s05", "s04", "s03"],
            "{name}"
        );
        let none = JobFilter {
            idempotency_key: Some("order-7"),
            op: Some("sync"),
            ..JobFilter::default()
        };
        assert!(
            s.job_page(&none, 10).await.expect("none").is_empty(),
            "{name}: filters combine"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_claimed_in_batches_once_and_finished_in_one_commit_with_their_fences() {
    use weft::store::{Finish, JobOutcome};
    let b = backends().await;
    for (name, s) in &b.stores {
        for i in 0..50 {
            s.job_enqueue(&job(&format!("m{i:02}"), None, "{}"), i)
                .await
                .expect("enqueue");
        }
        // Three claimers taking batches of 7 at once: every job exactly once, in run order
        // within each batch.
        let mut tasks = Vec::new();
        for w in 0..3 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = s
                        .job_claim_many(&format!("w{w}"), 1_000, 60_000, 7)
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        break;
                    }
                    assert!(batch.len() <= 7);
                    assert!(batch.windows(2).all(|p| p[0].run_at_ms <= p[1].run_at_ms));
                    assert!(batch.iter().all(|j| j.attempt == 1));
                    got.extend(batch);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("join"));
        }
        let mut ids: Vec<String> = all.iter().map(|j| j.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50, "{name}: each job claimed once");
        assert_eq!(all.len(), 50, "{name}: no job claimed twice");
        // One commit for several ends; a stale attempt's end is fenced off, not an error.
        let ends = vec![
            Finish {
                id: "m00".into(),
                attempt: 1,
                outcome: JobOutcome::Succeeded("{\"ok\":true}".into()),
            },
            Finish {
                id: "m01".into(),
                attempt: 1,
                outcome: JobOutcome::Dead("{\"title\":\"gone\"}".into()),
            },
            Finish {
                id: "m02".into(),
                attempt: 9,
                outcome: JobOutcome::Succeeded("{}".into()),
            },
            Finish {
                id: "m03".into(),
                attempt: 1,
                outcome: JobOutcome::Retry {
                    run_at_ms: 5_000,
                    error: "{\"title\":\"later\"}".into(),
                },
            },
        ];
        let done = s.job_finish_many(&ends, 2_000).await.expect("finish");
        assert_eq!(done, vec![true, true, false, true], "{name}");
        let state = |id: &'static str| {
            let s = s.clone();
            async move { s.job_get(id).await.expect("get").expect("job") }
        };
        assert_eq!(state("m00").await.state, weft::store::JobState::Succeeded);
        let dead = state("m01").await;
        assert_eq!(dead.state, weft::store::JobState::Dead);
        assert_eq!(
            dead.errors.len(),
            1,
            "{name}: the attempt is in the history"
        );
        assert_eq!(dead.errors[0]["attempt"], 1);
        assert_eq!(dead.errors[0]["error"]["title"], "gone");
        assert_eq!(state("m02").await.state, weft::store::JobState::Running);
        assert_eq!(state("m03").await.state, weft::store::JobState::Queued);
        // Successes only: one statement, no transaction; fenced ends still answer false.
        let successes: Vec<Finish> = [("m04", 1), ("m05", 2), ("m06", 1)]
            .into_iter()
            .map(|(id, attempt)| Finish {
                id: id.into(),
                attempt,
                outcome: JobOutcome::Succeeded(format!("{{\"id\":\"{id}\"}}")),
            })
            .collect();
        let done = s.job_finish_many(&successes, 2_000).await.expect("finish");
        assert_eq!(done, vec![true, false, true], "{name}");
        let m06 = state("m06").await;
        assert_eq!(m06.state, weft::store::JobState::Succeeded);
        assert_eq!(m06.output, Some(serde_json::json!({"id": "m06"})), "{name}");
        assert_eq!(state("m05").await.state, weft::store::JobState::Running);
        // Enqueued together: new ones, a key seen before for the same request, and for another.
        s.job_enqueue(&job("e0", Some("ek"), "A"), 0)
            .await
            .expect("keyed");
        let many = [
            job("e1", None, "{}"),
            job("e2", Some("ek"), "A"),
            job("e3", Some("ek"), "B"),
            job("e4", Some("other"), "A"),
            job("e5", Some("other"), "A"),
            job("e6", Some("other"), "C"),
        ];
        assert_eq!(
            s.job_enqueue_many(&many, 10).await.expect("enqueue many"),
            vec![
                Enqueued::New("e1".into()),
                Enqueued::Existing("e0".into()),
                Enqueued::KeyConflict("e0".into()),
                Enqueued::New("e4".into()),
                Enqueued::Existing("e4".into()),
                Enqueued::KeyConflict("e4".into()),
            ],
            "{name}"
        );
        assert!(s.job_get("e3").await.expect("get").is_none(), "{name}");
    }
}

#[tokio::test]
async fn a_claim_takes_the_earliest_due_jobs_and_lapsed_leases_from_a_long_queue() {
    let b = backends().await;
    for (name, s) in &b.stores {
        // A long queue of due jobs (run at 1,000..1,600), and two not yet due.
        let jobs: Vec<NewJob> = (0..600)
            .map(|i| NewJob {
                run_at_ms: 1_000 + i,
                ..job(&format!("q{i:03}"), None, "{}")
            })
            .chain((0..2).map(|i| NewJob {
                run_at_ms: 90_000,
                ..job(&format!("later{i}"), None, "{}")
            }))
            .collect();
        s.job_enqueue_many(&jobs, 0).await.expect("enqueue");
        // The first two are claimed and their lease lapses at 5,000.
        let first = s
            .job_claim_many("gone", 2_000, 5_000, 2)
            .await
            .expect("claim");
        let ids: Vec<&str> = first.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["q000", "q001"], "{name}");
        // Before the lease lapses, the next due ones, in run order.
        let next = s
            .job_claim_many("w", 3_000, 60_000, 3)
            .await
            .expect("claim");
        let ids: Vec<&str> = next.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["q002", "q003", "q004"], "{name}");
        // After: the lapsed attempts come first (their run time is the earliest), as attempt 2.
        let again = s
            .job_claim_many("w", 6_000, 60_000, 4)
            .await
            .expect("claim");
        let got: Vec<(&str, u32)> = again.iter().map(|j| (j.id.as_str(), j.attempt)).collect();
        assert_eq!(
            got,
            [("q000", 2), ("q001", 2), ("q005", 1), ("q006", 1)],
            "{name}"
        );
        // Everything due, and nothing that is not.
        let rest = s
            .job_claim_many("w", 6_000, 60_000, 1_000)
            .await
            .expect("claim");
        assert_eq!(rest.len(), 600 - 7, "{name}");
        assert!(rest.iter().all(|j| j.id.starts_with('q')), "{name}");
        assert!(
            s.job_claim("w", 6_000, 60_000)
                .await
                .expect("claim")
                .is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn postgres_wakes_the_other_nodes_when_a_job_is_enqueued_and_only_then() {
    let b = backends().await;
    // A second node on the same schema, listening.
    let other = PgStore::open(&format!("{}?schema={}", pg_url(), b.schema))
        .await
        .expect("second node");
    let wake = weft::store::JobStore::job_wakeup(&other).expect("PostgreSQL wakes other nodes");
    let (_, first) = b
        .stores
        .iter()
        .find(|(name, _)| *name == "postgres")
        .expect("postgres");
    // Listening is set up when the store opens; a notification sent before a waiter registers
    // is lost, so each check registers first and then enqueues.
    // The enqueuing node's own listener is not woken: its workers were woken in process, and
    // a second wake-up would send its claimer to the store again for every enqueue.
    let own = weft::store::JobStore::job_wakeup(first.as_ref()).expect("its own listener");
    for (i, key) in [None, Some("k")].into_iter().enumerate() {
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let self_woken = own.notified();
        tokio::pin!(self_woken);
        self_woken.as_mut().enable();
        let enqueued = first
            .job_enqueue(&job(&format!("w{i}"), key, "{}"), 0)
            .await
            .expect("enqueue");
        assert_eq!(enqueued, Enqueued::New(format!("w{i}")));
        tokio::time::timeout(std::time::Duration::from_secs(10), woken)
            .await
            .unwrap_or_else(|_| panic!("enqueue {i} (key {key:?}) woke no other node"));
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(300), self_woken)
                .await
                .is_err(),
            "enqueue {i} woke its own node's listener"
        );
    }
    // An enqueue that stores nothing new (the same key and request again) wakes nobody.
    let woken = wake.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let again = first
        .job_enqueue(&job("w9", Some("k"), "{}"), 0)
        .await
        .expect("enqueue");
    assert_eq!(again, Enqueued::Existing("w1".into()));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), woken)
            .await
            .is_err(),
        "a duplicate enqueue woke the other nodes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeeded_schedule_ticks_are_pruned_apart_from_other_jobs() {
    let b = backends().await;
    for (name, s) in &b.stores {
        let mut jobs = Vec::new();
        for (id, op) in [
            ("tick-ok", "schedule:sync"),
            ("tick-dead", "schedule:sync"),
            ("other-ok", "sync"),
            ("lookalike", "schedule_sync"),
        ] {
            let mut j = job(id, None, "{}");
            j.op = op.into();
            j.max_attempts = 1;
            jobs.push(j);
        }
        s.job_enqueue_many(&jobs, 0).await.expect("enqueue");
        for _ in 0..4 {
            let claimed = s
                .job_claim("w", 10, 1_000)
                .await
                .expect("claim")
                .expect("a job");
            let outcome = if claimed.id == "tick-dead" {
                JobOutcome::Dead("\"no\"".into())
            } else {
                JobOutcome::Succeeded("{}".into())
            };
            assert!(
                s.job_finish(&claimed.id, claimed.attempt, &outcome, 20)
                    .await
                    .expect("finish")
            );
        }
        assert_eq!(
            s.job_prune_succeeded("schedule:", 100, 100)
                .await
                .expect("prune"),
            1,
            "{name}: only the succeeded tick ('_' is no wildcard, dead ticks stay)"
        );
        for id in ["tick-dead", "other-ok", "lookalike"] {
            assert!(s.job_get(id).await.expect("get").is_some(), "{name}: {id}");
        }
        assert!(s.job_get("tick-ok").await.expect("get").is_none(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fair_claim_goes_round_the_adapters_within_their_shares() {
    let b = backends().await;
    for (name, s) in &b.stores {
        let mut jobs = Vec::new();
        let mut add = |adapter: &str, n: usize, priority: i32, run_at: i64| {
            for i in 0..n {
                let mut j = job(&format!("{adapter}-{priority}-{i:04}"), None, "{}");
                j.adapter = adapter.into();
                j.priority = priority;
                j.run_at_ms = run_at + i as i64;
                jobs.push(j);
            }
        };
        add("a", 500, 0, 100);
        add("b", 3, 0, 200);
        add("c", 2, 0, 50);
        add("c", 1, 1, 300);
        add("d", 5, 0, 10);
        s.job_enqueue_many(&jobs, 0).await.expect("enqueue");
        let shares = vec![
            ("a".to_string(), 10),
            ("b".to_string(), 10),
            ("c".to_string(), 1),
        ];
        let claimed = s
            .job_claim_fair("w", 1_000, 60_000, 6, &shares, true)
            .await
            .expect("claim");
        let mut ids: Vec<String> = claimed.iter().map(|j| j.id.clone()).collect();
        ids.sort();
        assert_eq!(
            ids,
            ["a-0-0000", "a-0-0001", "b-0-0000", "b-0-0001", "c-1-0000"],
            "{name}: round the adapters, two each (six among three with due work); c's urgent job ahead of its older normal ones, within its share of 1; d (no share) nothing"
        );
        // The claimer claims again while it has room: the next round.
        let next = s
            .job_claim_fair("w", 1_000, 60_000, 1, &[("a".to_string(), 8)], true)
            .await
            .expect("claim");
        assert_eq!(next.len(), 1, "{name}");
        assert_eq!(next[0].id, "a-0-0002", "{name}");
        // Not due yet, or no share: nothing.
        let none = s
            .job_claim_fair("w", 1_000, 60_000, 10, &[("d".to_string(), 0)], true)
            .await
            .expect("claim");
        assert!(none.is_empty(), "{name}");
        // A claim that does not reclaim leaves lapsed leases alone.
        let fresh = s
            .job_claim_fair("w3", 70_000, 90_000, 1, &shares, false)
            .await
            .expect("claim");
        assert!(
            fresh.iter().all(|j| j.attempt == 1),
            "{name}: lapsed leases wait for a reclaiming claim: {fresh:?}"
        );
        // A lapsed lease comes first, within its adapter's share.
        let lapsed = s
            .job_claim_fair("w2", 70_000, 90_000, 1, &shares, true)
            .await
            .expect("claim");
        assert_eq!(lapsed.len(), 1, "{name}");
        assert_eq!(lapsed[0].attempt, 2, "{name}: {:?}", lapsed[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_are_recorded_per_call_forgotten_when_unknown_and_pruned_with_their_job() {
    use weft::store::StepState;
    let b = backends().await;
    for (name, s) in &b.stores {
        assert!(s.step_get("c1", "batch/1").await.expect("get").is_none());
        s.step_put("c1", "batch/1", StepState::Succeeded, Some("{\"n\":1}"), 10)
            .await
            .expect("put");
        s.step_put("c1", "batch/2", StepState::Sent, None, 11)
            .await
            .expect("sent");
        s.step_put("c2", "batch/1", StepState::Failed, Some("{}"), 12)
            .await
            .expect("other call");
        let one = s
            .step_get("c1", "batch/1")
            .await
            .expect("get")
            .expect("one");
        assert_eq!(one.state, StepState::Succeeded, "{name}");
        assert_eq!(one.outcome.as_deref(), Some("{\"n\":1}"), "{name}");
        // A step recorded again replaces what was.
        s.step_put("c1", "batch/2", StepState::Succeeded, Some("2"), 13)
            .await
            .expect("again");
        s.step_put("c1", "batch/3", StepState::Sent, None, 14)
            .await
            .expect("sent");
        let all = s.step_list("c1", 100).await.expect("list");
        let names: Vec<(&str, StepState)> =
            all.iter().map(|r| (r.name.as_str(), r.state)).collect();
        assert_eq!(
            names,
            [
                ("batch/1", StepState::Succeeded),
                ("batch/2", StepState::Succeeded),
                ("batch/3", StepState::Sent)
            ],
            "{name}"
        );
        assert_eq!(s.step_forget_sent("c1").await.expect("forget"), 1, "{name}");
        assert!(
            s.step_get("c1", "batch/3").await.expect("get").is_none(),
            "{name}"
        );
        // A call with a job keeps its steps; one without (c2, or c1 once its job is gone) loses
        // them past the cutoff.
        s.job_enqueue_many(&[job("c1", None, "{}")], 0)
            .await
            .expect("job");
        assert_eq!(s.step_prune(1_000, 100).await.expect("prune"), 1, "{name}");
        assert!(
            s.step_get("c2", "batch/1").await.expect("get").is_none(),
            "{name}"
        );
        assert_eq!(
            s.step_list("c1", 100).await.expect("list").len(),
            2,
            "{name}"
        );
        s.step_delete("c1", "batch/2").await.expect("delete");
        assert_eq!(
            s.step_list("c1", 100).await.expect("list").len(),
            1,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_rows_are_kept_many_at_once_in_place_of_the_same_attempt() {
    use weft::store::JournalRow;
    let row = |call: usize, attempt: u32, entry: &str| JournalRow {
        call_id: format!("call-{call}"),
        attempt,
        adapter: "a".into(),
        job_id: call.is_multiple_of(2).then(|| format!("call-{call}")),
        at_ms: 10,
        entry: entry.into(),
    };
    let b = backends().await;
    for (name, s) in &b.stores {
        // More rows than one statement holds (100), so the rows are written in several.
        let rows: Vec<JournalRow> = (0..250).map(|n| row(n, 1, "{\"first\":true}")).collect();
        s.journal_put_many(&rows).await.expect("many");
        s.journal_put_many(&[row(7, 1, "{\"again\":true}"), row(7, 2, "{}")])
            .await
            .expect("again");
        let seven = s.journal_get("call-7", 10).await.expect("get");
        assert_eq!(
            seven,
            vec![(1, "{\"again\":true}".to_string()), (2, "{}".to_string())],
            "{name}"
        );
        for n in [0, 99, 100, 249] {
            let got = s.journal_get(&format!("call-{n}"), 10).await.expect("get");
            assert_eq!(got.len(), 1, "{name}: call-{n}");
        }
        s.journal_put_many(&[]).await.expect("none");
    }
}
