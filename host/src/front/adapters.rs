//! The adapters as an operator sees them over HTTP: `GET /v1/adapters` (status, pause, and each
//! adapter's queue as every node sees it), and pausing and resuming an adapter's jobs.

use super::{App, Problem};
use crate::error::ErrorKind;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `GET /v1/adapters`: every adapter's status, whether it is paused, and its queue (`jobs`:
/// queued, running, lag in seconds; null when the store cannot answer).
pub(super) async fn adapters(State(app): State<App>) -> Response {
    let paused = app.ops.paused().await;
    let adapters = app.runtime.adapters();
    let names: Vec<String> = adapters.iter().map(|a| a.name.clone()).collect();
    let queues = app.ops.queues(&names).await;
    let listed: Vec<serde_json::Value> = adapters
        .into_iter()
        .map(|a| {
            let mut v = serde_json::to_value(&a).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "paused".into(),
                    serde_json::to_value(paused.get(&a.name)).unwrap_or_default(),
                );
                o.insert(
                    "jobs".into(),
                    serde_json::to_value(queues.get(&a.name)).unwrap_or_default(),
                );
            }
            v
        })
        .collect();
    axum::Json(listed).into_response()
}

/// What a pause does to the adapter's synchronous calls.
#[derive(Deserialize)]
pub(super) struct PauseQuery {
    /// `allow` (the default: they keep working) or `refuse` (503 until resumed).
    calls: Option<String>,
}

pub(super) async fn pause_adapter(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(query): Query<PauseQuery>,
) -> Result<Response, Problem> {
    let refuse_calls = match query.calls.as_deref() {
        None | Some("allow") => false,
        Some("refuse") => true,
        Some(other) => {
            return Err(Problem::new(
                ErrorKind::InvalidInput,
                400,
                format!("calls must be \"allow\" or \"refuse\", found {other:?}"),
            ));
        }
    };
    let unavailable = |e: crate::operations::StoreError| {
        Problem::new(
            ErrorKind::Unavailable,
            503,
            format!("the pause could not be stored: {e}"),
        )
    };
    // A manifest that failed to load can be paused too: its jobs wait either way.
    if !app.runtime.adapters().iter().any(|a| a.name == name) {
        return Err(Problem::new(
            ErrorKind::NotFound,
            404,
            format!("no adapter named {name:?}"),
        ));
    }
    app.ops
        .pause(&name, refuse_calls)
        .await
        .map_err(unavailable)?;
    Ok(
        axum::Json(json!({ "adapter": name, "paused": true, "refuse_calls": refuse_calls }))
            .into_response(),
    )
}

pub(super) async fn resume_adapter(
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let was = app.ops.resume(&name).await.map_err(|e| {
        Problem::new(
            ErrorKind::Unavailable,
            503,
            format!("the resume could not be stored: {e}"),
        )
    })?;
    Ok(axum::Json(json!({ "adapter": name, "paused": false, "was_paused": was })).into_response())
}
