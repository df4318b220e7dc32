//! Jobs over HTTP: a job's record, searches by page, retry and cancel, batches.

use super::ops::query_problem;
use super::{App, Problem};
use crate::error::ErrorKind;
use crate::operations::{Enqueued, JobFilter, JobState, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

pub(super) fn store_problem(e: StoreError) -> Problem {
    Problem::new(
        ErrorKind::Unavailable,
        503,
        format!("store unavailable: {e}"),
    )
}

pub(super) async fn show_job(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.ops.job_shown(&id).await.map_err(store_problem)? {
        Some(job) => Ok(axum::Json(job).into_response()),
        None => Err(Problem::new(
            ErrorKind::NotFound,
            404,
            format!("no job {id}"),
        )),
    }
}

/// `GET /v1/jobs/{id}/journal`: the job's durable steps and the journal of its attempts.
pub(super) async fn job_journal(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    if app.ops.job(&id).await.map_err(store_problem)?.is_none() {
        return Err(no_job(&id));
    }
    let record = app.ops.call_record(&id).await.map_err(store_problem)?;
    Ok(
        axum::Json(record.unwrap_or_else(|| json!({ "call_id": id, "steps": [], "attempts": [] })))
            .into_response(),
    )
}

/// `GET /v1/calls/{id}`: what is kept of a call (a synchronous call's id is in its answer's
/// `X-Weft-Call-Id`): its steps and journal, 404 when nothing is.
pub(super) async fn show_call(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.ops.call_record(&id).await.map_err(store_problem)? {
        Some(record) => Ok(axum::Json(record).into_response()),
        None => Err(Problem::new(
            ErrorKind::NotFound,
            404,
            format!(
                "nothing is kept of call {id}: its journal was not kept (the adapter's [journal] keep) or is past its retention"
            ),
        )),
    }
}

/// A field of a search that narrows it: given and not empty (a form's untouched input).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// A search of `GET /v1/jobs` (and the console's jobs page): every field narrows it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct JobQuery {
    pub(super) state: Option<String>,
    pub(super) adapter: Option<String>,
    pub(super) op: Option<String>,
    pub(super) key: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    pub(super) limit: Option<u32>,
    pub(super) after: Option<String>,
}

impl JobQuery {
    /// The store's filter for this search, or a 400 naming the field that is wrong. Empty
    /// fields (a form's untouched inputs) narrow nothing.
    pub(super) fn filter(&self) -> Result<JobFilter<'_>, Problem> {
        let bad = |detail: String| Problem::new(ErrorKind::InvalidInput, 400, detail);
        let state = match given(&self.state) {
            None => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                bad(format!(
                    "state must be queued, running, succeeded, dead or cancelled, found {s:?}"
                ))
            })?),
        };
        let after = match given(&self.after) {
            None => None,
            Some(cursor) => Some(
                cursor
                    .split_once(':')
                    .and_then(|(c, id)| Some((c.parse::<i64>().ok()?, id)))
                    .ok_or_else(|| {
                        bad(format!(
                            "after must be a cursor from a Link header, found {cursor:?}"
                        ))
                    })?,
            ),
        };
        let time = |name: &str, v: &Option<String>| match given(v) {
            None => Ok(None),
            Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| Some(t.timestamp_millis()))
                .map_err(|_| {
                    bad(format!(
                        "{name} must be an RFC 3339 time such as 2026-12-01T08:00:00Z, found {t:?}"
                    ))
                }),
        };
        Ok(JobFilter {
            state,
            adapter: given(&self.adapter),
            after,
            op: given(&self.op),
            idempotency_key: given(&self.key),
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
        })
    }

    /// This search's query string from the page after `(created, id)` on.
    pub(super) fn next(&self, limit: u32, created: i64, id: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("limit", &limit.to_string());
        q.append_pair("after", &format!("{created}:{id}"));
        for (name, value) in [
            ("state", &self.state),
            ("adapter", &self.adapter),
            ("op", &self.op),
            ("key", &self.key),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                q.append_pair(name, v);
            }
        }
        q.finish()
    }
}

/// The most one job listing holds, in bytes: past it the page ends early, with a `next` link.
const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;

/// `GET /v1/jobs`: a page of the jobs a search finds, newest first, with a `Link` to the next.
pub(super) async fn list_jobs(
    State(app): State<App>,
    q: Result<Query<JobQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(query_problem)?;
    let filter = q.filter()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let jobs = app.ops.jobs(&filter, limit).await.map_err(store_problem)?;
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
        let next = format!("</v1/jobs?{}>; rel=\"next\"", q.next(limit, created, &id));
        if let Ok(v) = axum::http::HeaderValue::from_str(&next) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

pub(super) async fn retry_job(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.ops.retry(&id, None).await.map_err(store_problem)? {
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

/// Dead jobs one `POST /v1/jobs:retry` queues again at most.
const MAX_BULK: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkQuery {
    adapter: Option<String>,
}

/// `POST /v1/jobs:retry[?adapter=NAME]`: every dead job (of one adapter) queued again, at most
/// [`MAX_BULK`], each with its adapter's `[retry] max_attempts`.
pub(super) async fn retry_dead_jobs(
    State(app): State<App>,
    q: Result<Query<BulkQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(query_problem)?;
    let adapter = q.adapter.as_deref().filter(|a| !a.is_empty());
    let queued = app
        .ops
        .retry_dead(adapter, MAX_BULK)
        .await
        .map_err(store_problem)?;
    tracing::info!(adapter = ?adapter, queued, "bulk retry of dead jobs");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "adapter": adapter, "queued": queued, "limit": MAX_BULK })),
    )
        .into_response())
}

fn no_job(id: &str) -> Problem {
    Problem::new(ErrorKind::NotFound, 404, format!("no job {id}"))
}

pub(super) async fn cancel_job(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.ops.cancel(&id).await.map_err(store_problem)? {
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

/// Jobs one batch enqueues at most.
const MAX_BATCH: usize = 1000;
/// Longest delay of a job enqueued by HTTP (as for an adapter's own).
const MAX_DELAY_MS: u64 = 30 * 24 * 3600 * 1000;
/// Longest idempotency key.
const MAX_KEY: usize = 512;

/// The body of `POST /v1/adapters/{name}/jobs:batch`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    jobs: Vec<BatchJob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchJob {
    op: String,
    #[serde(default)]
    input: Option<serde_json::Value>,
    idempotency_key: Option<String>,
    #[serde(default)]
    delay_ms: u64,
}

/// Enqueues up to [`MAX_BATCH`] jobs of one adapter in one transaction: one request and one
/// commit where single enqueues take one each. The adapter is in the path, so that the same
/// `invoke` scope that lets a token call it lets it batch, and no other.
pub(super) async fn enqueue_batch(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Problem> {
    let what = "the front door's --max-body";
    let bytes = app
        .read_request(&headers, body, app.options.max_body, what)
        .await?;
    // The parsed batch and each job's input are copies of the body: they count too.
    let _copies = app
        .options
        .body_budget
        .reserve(bytes.len() as u64 * super::body::ENQUEUE_COPIES)?;
    let invalid = |message: String| Problem::new(ErrorKind::InvalidInput, 400, message);
    let batch: Batch = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("body is not a batch of jobs: {e}")))?;
    drop(bytes);
    if batch.jobs.is_empty() || batch.jobs.len() > MAX_BATCH {
        return Err(invalid(format!(
            "a batch holds 1 to {MAX_BATCH} jobs, found {}",
            batch.jobs.len()
        )));
    }
    let mut requests = Vec::with_capacity(batch.jobs.len());
    for (i, job) in batch.jobs.into_iter().enumerate() {
        if job.delay_ms > MAX_DELAY_MS {
            return Err(invalid(format!(
                "jobs[{i}]: delay_ms of {} exceeds 30 days",
                job.delay_ms
            )));
        }
        if let Some(key) = &job.idempotency_key
            && (key.is_empty() || key.len() > MAX_KEY)
        {
            return Err(invalid(format!(
                "jobs[{i}]: idempotency_key is 1 to {MAX_KEY} bytes, found {}",
                key.len()
            )));
        }
        requests.push(crate::jobs::JobRequest {
            op: job.op,
            input: job
                .input
                .map_or_else(|| "{}".to_string(), |v| v.to_string()),
            idempotency_key: job.idempotency_key,
            delay: std::time::Duration::from_millis(job.delay_ms),
        });
    }
    let done = app.runtime.enqueue_batch(&name, requests).await?;
    let jobs: Vec<serde_json::Value> = done
        .into_iter()
        .map(|e| match e {
            Enqueued::New(id) => json!({ "job_id": id, "status": "new" }),
            Enqueued::Existing(id) => json!({ "job_id": id, "status": "existing" }),
            Enqueued::KeyConflict(id) => json!({
                "job_id": id,
                "status": "conflict",
                "detail": "idempotency key already used for another request: this job was not enqueued",
            }),
        })
        .collect();
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "jobs": jobs }))).into_response())
}
