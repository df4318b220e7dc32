//! The front door: operations over HTTP (sync and async), jobs, adapter status, health, and
//! Prometheus metrics. Every error is `application/problem+json`.

pub mod auth;
mod console;
pub mod observe;
mod problem;

pub use auth::{Access, ApiToken, ApiTokens};
pub use problem::Problem;

use crate::call::CallOptions;
use crate::error::ErrorKind;
use crate::runtime::Runtime;
use crate::store::{Enqueued, JobState};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

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
    options: FrontOptions,
}

/// The router, ready for `axum::serve`.
pub fn router(runtime: Arc<Runtime>, options: FrontOptions) -> Router {
    let guard = Arc::new(auth::Guard {
        access: options.access.clone(),
        metrics: runtime.shared().metrics.clone(),
    });
    let console = console::router(runtime.clone(), options.access.clone());
    let observed = runtime.shared().metrics.clone();
    Router::new()
        .route("/v1/adapters", get(adapters))
        .route("/v1/adapters/{name}/ops/{op}", post(operation))
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs/{id}", get(show_job).delete(cancel_job))
        .route("/v1/jobs/{id}/retry", post(retry_job))
        .route("/v1/schedules", get(schedules))
        .route("/v1/schedules/{adapter}/{name}/run", post(run_schedule))
        .route("/v1/admin/reload", post(reload))
        .route("/inbound/{name}/{*rest}", axum::routing::any(inbound))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/problems", get(problems))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(App { runtime, options })
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

/// Answers 413 at once when the declared length is over `limit`, before reading any body.
fn check_length(headers: &HeaderMap, limit: u64, what: &str) -> Result<(), Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(Problem::new(
            ErrorKind::InvalidInput,
            413,
            format!(
                "request body of {n} bytes exceeds {what} ({})",
                crate::manifest::ByteSize::bytes_exact(limit)
            ),
        )),
        _ => Ok(()),
    }
}

/// Bytes of request bodies the front door holds at once, across every request: each request's
/// body takes its share as it arrives and gives it back when the request is answered, so many
/// large bodies arriving together meet a 503 rather than the host's memory limit.
#[derive(Clone)]
pub struct BodyBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total: u64,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            kib: Arc::new(tokio::sync::Semaphore::new(kib)),
            total: bytes,
        }
    }
}

/// A body read whole, holding its share of the [`BodyBudget`] while it lives.
struct HeldBody {
    bytes: bytes::Bytes,
    _share: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl HeldBody {
    /// The bytes (without a copy) and the share to keep while they live.
    fn into_parts(self) -> (bytes::Bytes, Option<tokio::sync::OwnedSemaphorePermit>) {
        (self.bytes, self._share)
    }
}

impl std::ops::Deref for HeldBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads at most `limit` bytes of `body` within `within`; more is a 413 naming the limit, and
/// a body that does not arrive in time is a 408 (a slow client holds no buffer for ever). Each
/// piece takes its share of `budget` as it arrives; none left is a 503.
async fn read_body(
    body: Body,
    limit: u64,
    what: &str,
    within: Duration,
    budget: &BodyBudget,
) -> Result<HeldBody, Problem> {
    use axum::body::HttpBody;
    let read = async {
        let mut body = body;
        let mut buf = bytes::BytesMut::new();
        let mut share: Option<tokio::sync::OwnedSemaphorePermit> = None;
        let mut held_kib: u64 = 0;
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| {
                Problem::new(
                    ErrorKind::InvalidInput,
                    400,
                    format!("request body could not be read: {e}"),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if (buf.len() + data.len()) as u64 > limit {
                return Err(Problem::new(
                    ErrorKind::InvalidInput,
                    413,
                    format!(
                        "request body exceeds {what} ({})",
                        crate::manifest::ByteSize::bytes_exact(limit)
                    ),
                ));
            }
            let need = ((buf.len() + data.len()) as u64)
                .div_ceil(1024)
                .saturating_sub(held_kib);
            if need > 0 {
                let more = u32::try_from(need)
                    .ok()
                    .and_then(|n| budget.kib.clone().try_acquire_many_owned(n).ok())
                    .ok_or_else(|| {
                        Problem::new(
                            ErrorKind::Busy,
                            503,
                            format!(
                                "the front door already holds {} of request bodies (--max-buffered): retry shortly",
                                crate::manifest::ByteSize::bytes_exact(budget.total)
                            ),
                        )
                    })?;
                held_kib += need;
                match &mut share {
                    Some(s) => s.merge(more),
                    None => share = Some(more),
                }
            }
            buf.extend_from_slice(&data);
        }
        Ok(HeldBody {
            bytes: buf.freeze(),
            _share: share,
        })
    };
    let Ok(read) = tokio::time::timeout(within, read).await else {
        return Err(Problem::new(
            ErrorKind::InvalidInput,
            408,
            format!(
                "the request body did not arrive within {} (--body-timeout)",
                humantime::format_duration(within)
            ),
        ));
    };
    read
}

#[derive(Deserialize)]
struct OpQuery {
    mode: Option<String>,
}

/// Says so in the log when the client of a synchronous call went away before its answer: the
/// call itself goes on to its end (see `operation`).
struct ClientGone {
    call_id: String,
    adapter: String,
    op: String,
    answered: bool,
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        if !self.answered {
            tracing::info!(call_id = %self.call_id, adapter = %self.adapter, op = %self.op, "the client went away before the answer: the call runs to its end, its outcome is only in the log and metrics");
        }
    }
}

/// A query string Weft cannot read, as a problem rather than axum's plain text.
fn query_problem(e: axum::extract::rejection::QueryRejection) -> Problem {
    Problem::new(
        ErrorKind::InvalidInput,
        400,
        format!("query string: {}", e.body_text()),
    )
}

/// `docs/problems.md`: where every problem document's `type` points.
async fn problems() -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        include_str!("../../../docs/problems.md"),
    )
        .into_response()
}

async fn operation(
    State(app): State<App>,
    Path((name, op)): Path<(String, String)>,
    query: Result<Query<OpQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let adapter = app.runtime.adapter(&name, &op).map_err(Problem::from)?;
    let limit = adapter
        .manifest
        .limits
        .request_body
        .bytes()
        .min(app.options.max_body);
    let what = if limit < app.options.max_body {
        format!("limits.request_body of adapter {name}")
    } else {
        "the front door's --max-body".to_string()
    };
    check_length(&headers, limit, &what)?;
    let bytes = read_body(
        body,
        limit,
        &what,
        app.options.body_timeout,
        &app.options.body_budget,
    )
    .await?;
    let input = std::str::from_utf8(&bytes).map_err(|e| {
        Problem::new(
            ErrorKind::InvalidInput,
            400,
            format!("body is not UTF-8: {e}"),
        )
    })?;
    let input = if input.trim().is_empty() { "{}" } else { input };
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| {
            Problem::new(
                ErrorKind::InvalidInput,
                400,
                "Idempotency-Key is not valid text",
            )
        })?;
    match query.mode.as_deref() {
        None | Some("sync") => {
            let call_id = uuid::Uuid::new_v4().to_string();
            let options = CallOptions {
                call_id: Some(call_id.clone()),
                idempotency_key: key,
                deadline: Some(Instant::now() + app.options.request_timeout),
                ..CallOptions::default()
            };
            // The call runs in a task of its own: a client that hangs up does not cut a call
            // the platform may already be carrying out. It finishes, and the log says so.
            let runtime = app.runtime.clone();
            let (name2, op2, input) = (name.clone(), op.clone(), input.to_string());
            let call = tokio::spawn(
                async move { runtime.invoke(&name2, &op2, &input, options).await }
                    .instrument(tracing::Span::current()),
            );
            let mut watch = ClientGone {
                call_id,
                adapter: name,
                op,
                answered: false,
            };
            let finished = call.await;
            watch.answered = true;
            let output = finished.map_err(|e| {
                Problem::new(
                    ErrorKind::Trap,
                    500,
                    format!("the call's task ended abnormally: {e}"),
                )
            })??;
            Ok(([(header::CONTENT_TYPE, "application/json")], output).into_response())
        }
        Some("async") => {
            let enqueued = app
                .runtime
                .enqueue(&name, &op, input, key, Duration::ZERO)
                .await?;
            let (status, id) = match enqueued {
                Enqueued::New(id) => (StatusCode::ACCEPTED, id),
                Enqueued::Existing(id) | Enqueued::KeyConflict(id) => (StatusCode::ACCEPTED, id),
            };
            let location = format!("/v1/jobs/{id}");
            Ok((
                status,
                [(header::LOCATION, location)],
                axum::Json(json!({ "job_id": id })),
            )
                .into_response())
        }
        Some(other) => Err(Problem::new(
            ErrorKind::InvalidInput,
            400,
            format!("mode must be \"sync\" or \"async\", found {other:?}"),
        )),
    }
}

async fn inbound(
    State(app): State<App>,
    Path((name, rest)): Path<(String, String)>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let path = format!("/{rest}");
    let adapter = app.runtime.registry().get(&name).ok_or_else(|| {
        Problem::new(
            ErrorKind::NotFound,
            404,
            format!("no adapter named {name:?}"),
        )
    })?;
    let route = adapter
        .route(method.as_str(), &path)
        .ok_or_else(|| {
            Problem::new(
                ErrorKind::NotFound,
                404,
                format!("adapter {name} declares no route {method} {path}"),
            )
        })?
        .clone();
    let limit = adapter
        .manifest
        .limits
        .request_body
        .bytes()
        .min(app.options.max_body);
    let what = format!("limits.request_body of adapter {name}");
    let metrics = &app.runtime.shared().metrics;
    let count = |outcome: &str| metrics.record_inbound(&name, &route.name, outcome);
    let mut request = crate::inbound::InboundRequest {
        method: method.as_str().to_string(),
        path,
        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    // Whatever can be refused without the body is refused before a byte of it is read.
    if let Err(refused) = crate::inbound::authenticate_headers(&adapter, &route, &request) {
        count("refused");
        tracing::info!(adapter = %name, route = %route.name, "inbound request refused: {refused}");
        return Err(Problem::new(
            ErrorKind::Auth,
            401,
            format!("route {} refused the request: {refused}", route.name),
        ));
    }
    let held = match check_length(&headers, limit, &what) {
        Ok(()) => {
            read_body(
                body,
                limit,
                &what,
                app.options.body_timeout,
                &app.options.body_budget,
            )
            .await
        }
        Err(p) => Err(p),
    }
    .inspect_err(|_| count("unreadable"))?;
    let (bytes, _share) = held.into_parts();
    request.body = Vec::from(bytes);
    let checked = match crate::inbound::authenticate(&adapter, &route, &request) {
        Ok(()) => crate::inbound::check_replay(&adapter, &route, &request).await,
        Err(e) => Err(e),
    };
    let remembered = match checked {
        Ok(r) => r,
        Err(refused) => {
            count("refused");
            tracing::info!(adapter = %name, route = %route.name, "inbound request refused: {refused}");
            return Err(Problem::new(
                ErrorKind::Auth,
                401,
                format!("route {} refused the request: {refused}", route.name),
            ));
        }
    };
    let answer = adapter.handle_inbound(&route, request).await;
    if let Some(r) = remembered
        && !answer
            .as_ref()
            .is_ok_and(|a| (200..300).contains(&a.status))
    {
        crate::inbound::forget(&adapter, r).await;
    }
    let answer = answer.map_err(|f| {
        count(f.kind.as_str());
        Problem::new(f.kind, f.kind.http_status(), f.message)
    })?;
    count(&format!("{}xx", answer.status / 100));
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (n, v) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(n.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    Ok(response)
}

async fn adapters(State(app): State<App>) -> Response {
    axum::Json(app.runtime.adapters()).into_response()
}

fn store_problem(e: crate::store::StoreError) -> Problem {
    Problem::new(
        ErrorKind::Unavailable,
        503,
        format!("store unavailable: {e}"),
    )
}

async fn show_job(State(app): State<App>, Path(id): Path<String>) -> Result<Response, Problem> {
    match app
        .runtime
        .shared()
        .store
        .job_get(&id)
        .await
        .map_err(store_problem)?
    {
        Some(job) => Ok(axum::Json(job).into_response()),
        None => Err(Problem::new(
            ErrorKind::NotFound,
            404,
            format!("no job {id}"),
        )),
    }
}

#[derive(Deserialize)]
struct JobQuery {
    state: Option<String>,
    adapter: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// How often a scrape of `/metrics` counts the jobs table at most.
const JOB_COUNT_EVERY: Duration = Duration::from_secs(1);

/// The most one job listing holds, in bytes: past it the page ends early, with a `next` link.
const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;

async fn list_jobs(
    State(app): State<App>,
    q: Result<Query<JobQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(query_problem)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            Problem::new(
                ErrorKind::InvalidInput,
                400,
                format!("state must be queued, running, succeeded, dead or cancelled, found {s:?}"),
            )
        })?),
    };
    let after = match q.after.as_deref() {
        None => None,
        Some(cursor) => Some(
            cursor
                .split_once(':')
                .and_then(|(c, id)| Some((c.parse::<i64>().ok()?, id)))
                .ok_or_else(|| {
                    Problem::new(
                        ErrorKind::InvalidInput,
                        400,
                        format!("after must be a cursor from a Link header, found {cursor:?}"),
                    )
                })?,
        ),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = crate::store::JobFilter {
        state,
        adapter: q.adapter.as_deref(),
        after,
    };
    let jobs = app
        .runtime
        .shared()
        .store
        .job_page(&filter, limit)
        .await
        .map_err(store_problem)?;
    // Outputs are left out (GET /v1/jobs/{id} has them), and the page ends early rather than
    // grow past MAX_LIST_BYTES: a listing costs the server a bounded amount whatever it holds.
    let full = jobs.len() == limit as usize;
    let mut body = Vec::with_capacity(64 * 1024);
    body.push(b'[');
    let mut last: Option<(i64, String)> = None;
    let mut cut = false;
    for job in &jobs {
        let Ok(text) = serde_json::to_vec(job) else {
            continue;
        };
        if last.is_some() && body.len() + text.len() + 2 > MAX_LIST_BYTES {
            cut = true;
            break;
        }
        if last.is_some() {
            body.push(b',');
        }
        body.extend_from_slice(&text);
        last = Some((job.created_at_ms, job.id.clone()));
    }
    body.push(b']');
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if (full || cut)
        && let Some((created, id)) = last
    {
        let mut next = format!(
            "/v1/jobs?limit={limit}&after={created}:{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        if let Some(s) = &q.state {
            next.push_str(&format!("&state={}", enc(s)));
        }
        if let Some(a) = &q.adapter {
            next.push_str(&format!("&adapter={}", enc(a)));
        }
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

async fn retry_job(State(app): State<App>, Path(id): Path<String>) -> Result<Response, Problem> {
    match app.runtime.retry_job(&id).await.map_err(store_problem)? {
        crate::jobs::JobChange::Done => {}
        crate::jobs::JobChange::NotFound => return Err(no_job(&id)),
        crate::jobs::JobChange::Refused(state) => {
            return Err(Problem::new(
                ErrorKind::Conflict,
                409,
                format!(
                    "job {id} is {}, only a dead job can be retried",
                    state.as_str()
                ),
            ));
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "job_id": id, "state": "queued" })),
    )
        .into_response())
}

fn no_job(id: &str) -> Problem {
    Problem::new(ErrorKind::NotFound, 404, format!("no job {id}"))
}

async fn cancel_job(State(app): State<App>, Path(id): Path<String>) -> Result<Response, Problem> {
    match app.runtime.cancel_job(&id).await.map_err(store_problem)? {
        crate::jobs::JobChange::Done => {
            Ok(axum::Json(json!({ "job_id": id, "state": "cancelled" })).into_response())
        }
        crate::jobs::JobChange::NotFound => Err(no_job(&id)),
        crate::jobs::JobChange::Refused(state) => Err(Problem::new(
            ErrorKind::Conflict,
            409,
            format!(
                "job {id} is {}, only a queued or dead job can be cancelled",
                state.as_str()
            ),
        )),
    }
}

async fn schedules(State(app): State<App>) -> Response {
    axum::Json(app.runtime.schedules().await).into_response()
}

async fn run_schedule(
    State(app): State<App>,
    Path((adapter, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id = app
        .runtime
        .run_schedule_now(&adapter, &name)
        .await
        .map_err(Problem::from)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/jobs/{id}"))],
        axum::Json(json!({ "job_id": id, "state": "queued" })),
    )
        .into_response())
}

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
    if let Err(e) = app.runtime.shared().store.kv_get("weft", "readyz").await {
        return not_ready(format!("store unavailable: {e}"));
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
    let shared = app.runtime.shared();
    if shared.metrics.job_counts_due(JOB_COUNT_EVERY)
        && let Ok(counts) = shared.store.job_counts().await
    {
        shared.metrics.set_job_counts(&counts);
    }
    let statuses = app.runtime.adapters();
    shared
        .metrics
        .refresh(statuses.iter().map(|s| (s.name.as_str(), s.status)));
    for name in app.runtime.registry().names() {
        if let Ok(Some(grant)) = shared.store.token_load(&name, "").await
            && grant.token.is_some()
        {
            shared
                .metrics
                .token_expiry
                .get_or_create(&crate::metrics::AdapterLabels { adapter: name })
                .set(grant.expires_at_ms / 1000);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}
