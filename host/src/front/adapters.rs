//! The adapters as an operator sees them over HTTP: `GET /v1/adapters` (status, pause, and each
//! adapter's queue as every node sees it), and pausing and resuming an adapter's jobs.

use super::{App, Problem};
use crate::error::ErrorKind;
use crate::store::JobState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `GET /v1/adapters`: every adapter's status, whether it is paused, and its queue — depth and
/// running jobs from the store's counts, lag (how long its oldest queued job has been due) from
/// one index seek each; null when the store cannot answer.
pub(super) async fn adapters(State(app): State<App>) -> Response {
    let shared = app.runtime.shared();
    let paused = shared.pauses.all().await;
    let adapters = app.runtime.adapters();
    let counts = shared.store.job_counts().await.ok();
    let names: Vec<String> = adapters.iter().map(|a| a.name.clone()).collect();
    let oldest = shared.store.job_oldest_queued(&names).await.ok();
    let now = crate::clock::now_ms();
    let listed: Vec<serde_json::Value> = adapters
        .into_iter()
        .map(|a| {
            let count = |state: JobState| {
                counts.as_ref().map(|c| {
                    c.iter()
                        .filter(|(n, s, _)| *n == a.name && *s == state)
                        .map(|(_, _, k)| *k)
                        .sum::<i64>()
                })
            };
            let lag = oldest.as_ref().map(|o| {
                o.iter()
                    .find(|(n, _)| *n == a.name)
                    .map_or(0, |(_, due)| (now - due).max(0) / 1000)
            });
            let jobs = json!({
                "queued": count(JobState::Queued),
                "running": count(JobState::Running),
                "lag_seconds": lag,
            });
            let mut v = serde_json::to_value(&a).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "paused".into(),
                    serde_json::to_value(paused.get(&a.name)).unwrap_or_default(),
                );
                o.insert("jobs".into(), jobs);
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
    let unavailable = |e: crate::store::StoreError| {
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
    let pauses = &app.runtime.shared().pauses;
    pauses
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
    let shared = app.runtime.shared();
    let was = shared.pauses.resume(&name).await.map_err(|e| {
        Problem::new(
            ErrorKind::Unavailable,
            503,
            format!("the resume could not be stored: {e}"),
        )
    })?;
    shared.jobs_wakeup.notify_waiters();
    Ok(axum::Json(json!({ "adapter": name, "paused": false, "was_paused": was })).into_response())
}
