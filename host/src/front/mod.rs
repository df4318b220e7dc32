//! The front door: operations over HTTP (sync and async), jobs, adapter status, health, and
//! Prometheus metrics. Every error is `application/problem+json`.

mod adapters;
pub mod auth;
mod body;
mod console;
mod jobs;
pub mod observe;
mod ops;
mod problem;
mod schedules;
mod storage;
mod tokens;

use adapters::{adapters, pause_adapter, resume_adapter};
pub use body::BodyBudget;
use jobs::{
    cancel_job, enqueue_batch, job_journal, list_jobs, retry_dead_jobs, retry_job, show_call,
    show_job,
};
use ops::{inbound, operation};
use schedules::{pause_schedule, resume_schedule, run_schedule, schedules, show_schedule};
use storage::{storage_delete, storage_keys, storage_value};
use tokens::{create_token, list_tokens, revoke_token};

pub use auth::{Access, ApiToken, ApiTokens};
/// Times and durations in an operator's words, as the console and the CLI's tables show them.
pub use console::words;
pub use problem::Problem;

use crate::error::ErrorKind;
use crate::operations::Operations;
use crate::runtime::Runtime;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Duration;

/// Which adapters must be loaded for `/readyz` to answer ready.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Required {
    /// Every manifest in the folder (the default).
    #[default]
    All,
    /// These adapters.
    Names(Vec<String>),
}

/// Default of `--max-buffered`: request bodies held at once.
pub const DEFAULT_MAX_BUFFERED: u64 = 256 * 1024 * 1024;

/// Front-door settings.
#[derive(Clone)]
pub struct FrontOptions {
    /// Largest request body for any route (a manifest's `limits.request_body` may lower it).
    pub max_body: u64,
    /// Deadline of a synchronous call (the adapter's `limits.timeout` may shorten it).
    pub request_timeout: Duration,
    /// Who may use the control plane. The library's default checks Host, Origin and content
    /// type but no token; `weft serve` turns tokens on unless told `--insecure-no-auth`.
    pub access: Access,
    /// The adapters `/readyz` waits for.
    pub required: Required,
    /// Set when a drain starts: `/readyz` answers 503 from then on.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Bytes of request bodies held at once across all requests.
    pub body_budget: BodyBudget,
}

impl Default for FrontOptions {
    fn default() -> Self {
        Self {
            max_body: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(120),
            access: Access::default(),
            required: Required::All,
            draining: Arc::default(),
            body_timeout: Duration::from_secs(30),
            body_budget: BodyBudget::new(DEFAULT_MAX_BUFFERED),
        }
    }
}

#[derive(Clone)]
struct App {
    runtime: Arc<Runtime>,
    ops: Operations,
    options: FrontOptions,
}

/// The router, ready for `axum::serve`.
pub fn router(runtime: Arc<Runtime>, options: FrontOptions) -> Router {
    let guard = Arc::new(auth::Guard {
        access: options.access.clone(),
        metrics: runtime.metrics_handle(),
    });
    let ops = Operations::new(runtime.clone());
    let console = console::router(runtime.clone(), ops.clone(), options.access.clone());
    let observed = runtime.metrics_handle();
    Router::new()
        .route("/v1/adapters", get(adapters))
        .route("/v1/adapters/{name}/ops/{op}", post(operation))
        .route("/v1/adapters/{name}/jobs:batch", post(enqueue_batch))
        .route("/v1/adapters/{name}/pause", post(pause_adapter))
        .route("/v1/adapters/{name}/resume", post(resume_adapter))
        .route("/v1/adapters/{name}/storage", get(storage_keys))
        .route(
            "/v1/adapters/{name}/storage/{*key}",
            get(storage_value).delete(storage_delete),
        )
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs:retry", post(retry_dead_jobs))
        .route("/v1/jobs/{id}", get(show_job).delete(cancel_job))
        .route("/v1/jobs/{id}/retry", post(retry_job))
        .route("/v1/jobs/{id}/journal", get(job_journal))
        .route("/v1/calls/{id}", get(show_call))
        .route("/v1/schedules", get(schedules))
        .route("/v1/schedules/{adapter}/{name}", get(show_schedule))
        .route("/v1/schedules/{adapter}/{name}/run", post(run_schedule))
        .route("/v1/schedules/{adapter}/{name}/pause", post(pause_schedule))
        .route(
            "/v1/schedules/{adapter}/{name}/resume",
            post(resume_schedule),
        )
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/v1/admin/reload", post(reload))
        .route("/inbound/{name}/{*rest}", axum::routing::any(inbound))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(no_icon))
        .route("/problems", get(problems))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(App {
            runtime,
            ops,
            options,
        })
        .merge(console)
        .fallback(|| async { Problem::new(ErrorKind::NotFound, 404, "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                ErrorKind::InvalidInput,
                405,
                "this route does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(guard, auth::guard))
        .layer(axum::middleware::from_fn_with_state(
            observed,
            observe::observe,
        ))
}

/// `docs/problems.md`: where every problem document's `type` points.
async fn problems() -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        include_str!("../../../docs/problems.md"),
    )
        .into_response()
}

/// No icon: answered so that the browser's own request beside every console page is neither
/// refused (and logged as a 401) nor asked again for a day.
async fn no_icon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

/// How long `/readyz` waits for the store's probe write.
const READY_PROBE: Duration = Duration::from_secs(2);

async fn reload(State(app): State<App>) -> Response {
    app.runtime.reload().await;
    axum::Json(app.runtime.adapters()).into_response()
}

async fn ready(State(app): State<App>) -> Response {
    let not_ready =
        |detail: String| Problem::new(ErrorKind::Unavailable, 503, detail).into_response();
    if app
        .options
        .draining
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return not_ready("draining: this process is shutting down".into());
    }
    if let Err(problem) = app.ops.store_ready(READY_PROBE).await {
        return not_ready(problem);
    }
    let statuses = app.runtime.adapters();
    let missing: Vec<String> = match &app.options.required {
        Required::All => statuses
            .iter()
            .filter(|s| s.status == "failed")
            .map(|s| s.name.clone())
            .collect(),
        Required::Names(names) => names
            .iter()
            .filter(|n| app.runtime.registry().get(n).is_none())
            .cloned()
            .collect(),
    };
    if !missing.is_empty() {
        return not_ready(format!(
            "required adapters not loaded: {} (see GET /v1/adapters)",
            missing.join(", ")
        ));
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    app.ops.refresh_metrics().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.runtime.metrics().encode(),
    )
        .into_response()
}
