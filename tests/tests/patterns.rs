//! The SDK's integration patterns against a platform that pages by cursor: every page a
//! durable step (a lost answer on page 2 re-reads page 2, not page 1), a watermark that moves
//! only when the whole run succeeded, and a bound on pages for a platform that never says
//! "last page"; storage keys that expire, and a "latest wins" write. Through `weft serve` and
//! the probe adapter.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use weft_tests::harness::{Deployment, Served, component, serve_app};

/// What the platform does, and the requests it saw (page cursor, `since`).
#[derive(Default)]
struct Platform {
    /// Answers page 2's first request with a 503.
    lose_page_2_once: bool,
    /// Refuses page 3 (400) while set.
    refuse_page_3: bool,
    /// Never says "last page".
    endless: bool,
    seen: Vec<(String, Option<String>)>,
}

/// Three pages of two orders each, updated at 08:00:01 … 08:00:06.
async fn platform(state: Arc<Mutex<Platform>>) -> String {
    let app = axum::Router::new().fallback(
        move |axum::extract::Query(q): axum::extract::Query<
            std::collections::HashMap<String, String>,
        >| {
            let state = state.clone();
            async move {
                let mut p = state.lock().expect("platform");
                let cursor = q.get("cursor").cloned().unwrap_or_else(|| "1".into());
                let first_time = !p.seen.iter().any(|(c, _)| *c == cursor);
                p.seen.push((cursor.clone(), q.get("since").cloned()));
                let page: u32 = cursor.parse().unwrap_or(1);
                if page == 2 && p.lose_page_2_once && first_time {
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(json!({})),
                    )
                        .into_response();
                }
                if page == 3 && p.refuse_page_3 {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": "no"})),
                    )
                        .into_response();
                }
                let rows: Vec<Value> = (1..=2)
                    .map(|i| {
                        let n = (page - 1) * 2 + i;
                        json!({"id": n, "updated_at": format!("2026-12-07T08:00:{n:02}.000Z")})
                    })
                    .collect();
                let next = (page < 3 || p.endless).then(|| (page + 1).to_string());
                axum::Json(json!({"rows": rows, "next": next})).into_response()
            }
        },
    );
    let (addr, _task) = serve_app(app).await;
    format!("127.0.0.1:{}", addr.port())
}

use axum::response::IntoResponse;

fn deploy(host: &str) -> (Deployment, Served) {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"{host}\"]\n[retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"\n",
            component("weft-probe").display(),
        ),
    );
    let served = Served::start(&dep, &[]);
    (dep, served)
}

async fn pages(c: &reqwest::Client, served: &Served, host: &str, max_pages: u32) -> (u16, Value) {
    let r = c
        .post(format!("{}/v1/adapters/probe/ops/pages", served.url))
        .json(&json!({"url": format!("http://{host}/orders"), "max_pages": max_pages}))
        .send()
        .await
        .expect("call");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_page_is_read_again_alone_and_the_watermark_moves_only_after_a_whole_run() {
    let state = Arc::new(Mutex::new(Platform {
        lose_page_2_once: true,
        refuse_page_3: true,
        ..Platform::default()
    }));
    let host = platform(state.clone()).await;
    let (_dep, served) = deploy(&host);
    let c = reqwest::Client::new();

    // Page 2 is lost once (retried by the host: page 1 is not asked again), page 3 refused.
    let (status, out) = pages(&c, &served, &host, 10).await;
    assert_eq!(status, 422, "{out}");
    let cursors: Vec<String> = state
        .lock()
        .expect("p")
        .seen
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    assert_eq!(
        cursors,
        ["1", "2", "2", "3"],
        "page 1 read once, page 2 again alone"
    );

    // The failed run left the mark where it was: the next run asks from the start, no `since`.
    {
        let mut p = state.lock().expect("p");
        p.refuse_page_3 = false;
        p.seen.clear();
    }
    let (status, out) = pages(&c, &served, &host, 10).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["rows"], 6);
    assert_eq!(out["since"], Value::Null, "{out}");
    assert_eq!(out["mark"], "2026-12-07T08:00:06.000Z", "{out}");
    assert!(
        state
            .lock()
            .expect("p")
            .seen
            .iter()
            .all(|(_, since)| since.is_none())
    );

    // The next run reads since the mark.
    state.lock().expect("p").seen.clear();
    let (status, out) = pages(&c, &served, &host, 10).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["since"], "2026-12-07T08:00:06.000Z", "{out}");
    let seen = state.lock().expect("p").seen.clone();
    assert!(
        seen.iter()
            .all(|(_, since)| since.as_deref() == Some("2026-12-07T08:00:06.000Z")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_never_ends_stops_at_its_bound_on_pages() {
    let state = Arc::new(Mutex::new(Platform {
        endless: true,
        ..Platform::default()
    }));
    let host = platform(state.clone()).await;
    let (_dep, served) = deploy(&host);
    let c = reqwest::Client::new();
    let (status, out) = pages(&c, &served, &host, 5).await;
    assert_eq!(status, 422, "{out}");
    assert!(out.to_string().contains("too-many-pages"), "{out}");
    assert!(out.to_string().contains("more than 5 pages"), "{out}");
    assert_eq!(
        state.lock().expect("p").seen.len(),
        5,
        "no sixth page is asked for"
    );
}

async fn storage(c: &reqwest::Client, served: &Served, input: Value) -> Value {
    let r = c
        .post(format!("{}/v1/adapters/probe/ops/storage", served.url))
        .json(&input)
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_key_is_gone_once_its_time_is_up_and_latest_wins_keeps_the_newest() {
    let (_dep, served) = deploy("127.0.0.1:9");
    let c = reqwest::Client::new();
    // A time to live of zero is up as soon as it is written: no read or listing sees the key.
    let out = storage(
        &c,
        &served,
        json!({"key": "marker", "value": "x", "ttl_ms": 0}),
    )
    .await;
    assert_eq!(out["read"], Value::Null, "{out}");
    assert_eq!(out["keys"], json!([]), "{out}");
    let out = storage(
        &c,
        &served,
        json!({"key": "marker", "value": "y", "ttl_ms": 3_600_000}),
    )
    .await;
    assert_eq!(out["read"], "y", "{out}");

    // Deliveries out of order: version 2, then the older 1 (kept out), then 3.
    let write = |version: u64| json!({"key": "order/7", "latest": {"version": version, "qty": version * 10}});
    for (version, written) in [(2, true), (1, false), (2, false), (3, true)] {
        let out = storage(&c, &served, write(version)).await;
        assert_eq!(out["written"], written, "version {version}: {out}");
    }
    let out = storage(&c, &served, json!({"key": "order/7"})).await;
    let stored: Value = serde_json::from_str(out["read"].as_str().expect("stored")).expect("json");
    assert_eq!(stored, json!({"version": 3, "qty": 30}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_handler_that_fails_answers_the_status_of_its_kind() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[[routes]]\nname = \"fail\"\nmethod = \"POST\"\npath = \"/fail\"\nauth = {{ type = \"none\" }}\n",
            component("weft-probe").display(),
        ),
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    for (kind, status, code) in [
        ("invalid", 400, Value::Null),
        ("rejected", 422, json!("E7")),
        ("conflict", 409, json!("DUP")),
        ("auth", 401, Value::Null),
        ("transient", 503, Value::Null),
    ] {
        let r = c
            .post(format!("{}/inbound/probe/fail?kind={kind}", served.url))
            .body("{}")
            .send()
            .await
            .expect("route");
        assert_eq!(r.status().as_u16(), status, "{kind}");
        let retry_after = r.headers().get("retry-after").cloned();
        assert_eq!(
            retry_after.is_some(),
            kind == "transient",
            "{kind}: {retry_after:?}"
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], code, "{kind}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    // Inbound traffic is the adapter's calls on the console's last hour (the 503 an error).
    let page = c
        .get(format!("{}/ui", served.url))
        .send()
        .await
        .expect("console")
        .text()
        .await
        .expect("page");
    assert!(page.contains("<dd class=\"calls\">5</dd>"), "{page}");
    assert!(page.contains("20.0%"), "one error in five: {page}");
}
