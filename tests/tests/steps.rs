//! Durable steps over a crash: a job whose call sends five requests, each a step, is killed
//! with SIGKILL while the fourth is in flight. After the takeover, a step that is safe to send
//! again sends the fourth and the fifth only; a step that is not stops the job as
//! outcome-unknown, naming the step, until an operator's retry settles it.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, job_in_state, serve_app};

/// A platform that answers `POST /p?n=N` with `ok-N`, keeps every `n` it received, and holds
/// the first request numbered `hold` without answering, saying so on `held`.
#[derive(Clone)]
struct Platform {
    received: Arc<Mutex<Vec<u64>>>,
    held: Arc<tokio::sync::Notify>,
    hold: u64,
    holding: Arc<std::sync::atomic::AtomicBool>,
}

impl Platform {
    async fn start(hold: u64) -> (Self, String) {
        let platform = Self {
            received: Arc::default(),
            held: Arc::default(),
            hold,
            holding: Arc::default(),
        };
        let state = platform.clone();
        let app = axum::Router::new().route(
            "/p",
            axum::routing::post(
                move |q: axum::extract::Query<std::collections::HashMap<String, u64>>| {
                    let p = state.clone();
                    async move {
                        let n = q.get("n").copied().unwrap_or(0);
                        p.received.lock().expect("lock").push(n);
                        if n == p.hold && !p.holding.swap(true, std::sync::atomic::Ordering::SeqCst)
                        {
                            p.held.notify_one();
                            std::future::pending::<()>().await;
                        }
                        format!("ok-{n}")
                    }
                },
            ),
        );
        let (addr, _task) = serve_app(app).await;
        (platform, format!("127.0.0.1:{}", addr.port()))
    }

    fn received(&self) -> Vec<u64> {
        self.received.lock().expect("lock").clone()
    }
}

/// The job once it has ended (after the killed process's lease lapsed).
async fn ended(url: &str, id: &str) -> Value {
    job_in_state(
        &reqwest::Client::new(),
        url,
        id,
        &["succeeded", "dead"],
        Duration::from_secs(60),
    )
    .await
    .expect("the job ends after its lease lapses")
}

fn probe(dep: &Deployment, host: &str) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"{host}\"]\n[retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\n",
            component("weft-probe").display()
        ),
    );
}

/// Enqueues the probe's five steps (`once`: unsafe to resend), waits for the fourth request to
/// be held, kills `weft serve`, and starts it again: the job's id, the requests received before
/// the kill, and the new server.
async fn killed_at_the_fourth(
    dep: &Deployment,
    platform: &Platform,
    host: &str,
    once: bool,
) -> (String, Vec<u64>, Served) {
    let args = ["--job-lease", "2s"];
    let served = Served::start(dep, &args);
    let c = reqwest::Client::new();
    let r: Value = c
        .post(format!(
            "{}/v1/adapters/probe/ops/steps?mode=async",
            served.url
        ))
        .json(&json!({ "url": format!("http://{host}/p"), "count": 5, "once": once }))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("job id").to_string();
    tokio::time::timeout(Duration::from_secs(60), platform.held.notified())
        .await
        .expect("the fourth request arrives");
    served.kill9();
    let before = platform.received();
    assert_eq!(
        before,
        [1, 2, 3, 4],
        "requests 1 to 3 answered, the 4th in flight"
    );
    (id, before, Served::start(dep, &args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_takeover_only_the_unanswered_and_the_rest_are_sent() {
    let (platform, host) = Platform::start(4).await;
    let dep = Deployment::new();
    probe(&dep, &host);
    let (id, before, served) = killed_at_the_fourth(&dep, &platform, &host, false).await;
    let job = ended(&served.url, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let after = platform.received()[before.len()..].to_vec();
    assert_eq!(
        after,
        [4, 5],
        "the steps answered before the kill are not sent again"
    );
    assert_eq!(
        job["output"]["answers"],
        json!(["ok-1", "ok-2", "ok-3", "ok-4", "ok-5"]),
        "recorded answers stand in for the steps not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_step_without_an_answer_stops_the_job_until_an_operator_settles_it() {
    let (platform, host) = Platform::start(4).await;
    let dep = Deployment::new();
    probe(&dep, &host);
    let (id, before, served) = killed_at_the_fourth(&dep, &platform, &host, true).await;
    let c = reqwest::Client::new();
    let job = ended(&served.url, &id).await;
    assert_eq!(job["state"], "dead", "{job}");
    let error = job["last_error"].to_string();
    assert!(
        error.contains("outcome-unknown") && error.contains("request/4"),
        "the error names the step and its kind: {error}"
    );
    assert_eq!(
        platform.received().len(),
        before.len(),
        "nothing is sent twice, nor after the unknown step"
    );
    // The operator checked the platform: the retry sends the unknown step and the rest.
    let r = c
        .post(format!("{}/v1/jobs/{id}/retry", served.url))
        .send()
        .await
        .expect("retry");
    assert_eq!(r.status(), 202);
    let job = ended(&served.url, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(platform.received()[before.len()..], [4, 5]);
}
