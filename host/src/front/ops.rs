//! Operations over HTTP (sync and async) and inbound routes.

use super::{App, Problem};
use crate::error::ErrorKind;
use crate::operations::Enqueued;
use crate::operations::{CallOptions, ItemsSink};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};
use tracing::Instrument;

#[derive(Deserialize)]
pub(super) struct OpQuery {
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
pub(super) fn query_problem(e: axum::extract::rejection::QueryRejection) -> Problem {
    Problem::new(
        ErrorKind::InvalidInput,
        400,
        format!("query string: {}", e.body_text()),
    )
}

pub(super) async fn operation(
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
    let bytes = app.read_request(&headers, body, limit, &what).await?;
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
        None | Some("sync") => call_now(&app, name, op, input, key).await,
        Some("async") => enqueue_one(&app, &name, &op, input, key).await,
        Some(other) => Err(Problem::new(
            ErrorKind::InvalidInput,
            400,
            format!("mode must be \"sync\" or \"async\", found {other:?}"),
        )),
    }
}

/// Runs a synchronous call and answers its output.
async fn call_now(
    app: &App,
    name: String,
    op: String,
    input: &str,
    key: Option<String>,
) -> Result<Response, Problem> {
    let call_id = uuid::Uuid::new_v4().to_string();
    let items = ItemsSink::default();
    let options = CallOptions {
        call_id: Some(call_id.clone()),
        idempotency_key: key,
        deadline: Some(Instant::now() + app.options.request_timeout),
        items: Some(items.clone()),
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
    let answer = match finished {
        Ok(Ok(output)) => ([(header::CONTENT_TYPE, "application/json")], output).into_response(),
        Ok(Err(e)) => Problem::from(e).into_response(),
        Err(e) => Problem::new(
            ErrorKind::Trap,
            500,
            format!("the call's task ended abnormally: {e}"),
        )
        .into_response(),
    };
    // What is kept of the call (its journal, by the adapter's `[journal] keep`) is at
    // `GET /v1/calls/{id}`: the id is in every answer, failed or not.
    let mut answer = answer;
    if let Ok(v) = axum::http::HeaderValue::from_str(&watch.call_id) {
        answer.headers_mut().insert("x-weft-call-id", v);
    }
    // A partial success says so beside the adapter's own output (whose shape stays its own):
    // the counts here, the refused items at `GET /v1/calls/{id}`.
    if let Ok(tally) = items.lock()
        && !tally.is_empty()
    {
        let headers = answer.headers_mut();
        headers.insert("x-weft-items-accepted", tally.accepted.into());
        headers.insert("x-weft-items-rejected", tally.rejected.into());
    }
    Ok(answer)
}

/// Enqueues the call as a job and answers where to find it.
async fn enqueue_one(
    app: &App,
    name: &str,
    op: &str,
    input: &str,
    key: Option<String>,
) -> Result<Response, Problem> {
    // The job's input is copied on its way into the store: those copies count against
    // --max-buffered too, or parallel large enqueues take several times the budget.
    let _copies = app
        .options
        .body_budget
        .reserve(input.len() as u64 * super::body::ENQUEUE_COPIES)?;
    let enqueued = app
        .runtime
        .enqueue(name, op, input, key, Duration::ZERO)
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

pub(super) async fn inbound(
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
    let request = crate::inbound::InboundRequest {
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
    // Read only once the headers pass: whatever can be refused without the body is refused
    // before a byte of it is read.
    let body = async {
        let held = app.read_request(&headers, body, limit, &what).await?;
        let (bytes, share) = held.into_parts();
        Ok::<_, Problem>((Vec::from(bytes), share))
    };
    let answer = crate::inbound::receive(&adapter, &route, request, body)
        .await
        .map_err(|e| inbound_problem(&name, &route.name, e))?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    // The body's length and framing are the host's: whatever the adapter said of them is
    // gone with its other headers.
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (n, v) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(n.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            headers.append(n, v);
        }
    }
    for (n, v) in crate::inbound::ANSWER_GUARDS {
        headers.insert(*n, axum::http::HeaderValue::from_static(v));
    }
    Ok(response)
}

/// The problem an inbound request that got no answer gets.
fn inbound_problem(adapter: &str, route: &str, e: crate::inbound::NotAnswered<Problem>) -> Problem {
    use crate::inbound::NotAnswered;
    match e {
        NotAnswered::Refused(refused) => Problem::new(
            ErrorKind::Auth,
            401,
            format!("route {route} refused the request: {refused}"),
        ),
        NotAnswered::Body(problem) => problem,
        NotAnswered::Unavailable => Problem::new(
            ErrorKind::Unavailable,
            503,
            format!(
                "route {route} cannot check this signed request for replays now (the store is unavailable): send it again later"
            ),
        ),
        NotAnswered::Failed(f) => Problem::new(f.kind, f.kind.http_status(), f.message),
        NotAnswered::InvalidStatus(status) => Problem::new(
            ErrorKind::Trap,
            502,
            format!(
                "adapter {adapter} answered route {route} with status {status}: an inbound answer's status is 200-599"
            ),
        ),
    }
}
