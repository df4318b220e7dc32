//! The adapters as an operator sees them over HTTP: `GET /v1/adapters` (status, pause, and each
//! adapter's queue as every node sees it), and pausing and resuming an adapter's jobs.

use super::{App, Problem};
use crate::error::ErrorKind;
use crate::store::JobState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// One adapter's queue as every node sees it; a figure the store could not give is `None`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(in crate::front) struct Queue {
    /// Jobs waiting (due or not).
    pub queued: Option<i64>,
    /// Jobs an attempt holds.
    pub running: Option<i64>,
    /// How long its oldest queued job has been due, in seconds (0: none is).
    pub lag_seconds: Option<i64>,
}

/// The queue of each of `names`: depth and running jobs from the store's counts, lag from one
/// index seek each.
pub(in crate::front) async fn queues(
    runtime: &crate::runtime::Runtime,
    names: &[String],
) -> BTreeMap<String, Queue> {
    let shared = runtime.shared();
    let counts = shared.store.job_counts().await.ok();
    let oldest = shared.store.job_oldest_queued(names).await.ok();
    let now = crate::clock::now_ms();
    let count = |name: &str, state: JobState| {
        counts.as_ref().map(|c| {
            c.iter()
                .filter(|(n, s, _)| n == name && *s == state)
                .map(|(_, _, k)| *k)
                .sum::<i64>()
        })
    };
    names
        .iter()
        .map(|name| {
            let lag = oldest.as_ref().map(|o| {
                o.iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, due)| (now - due).max(0) / 1000)
            });
            let queue = Queue {
                queued: count(name, JobState::Queued),
                running: count(name, JobState::Running),
                lag_seconds: lag,
            };
            (name.clone(), queue)
        })
        .collect()
}

/// `GET /v1/adapters`: every adapter's status, whether it is paused, and its queue (`jobs`:
/// queued, running, lag in seconds; null when the store cannot answer).
pub(super) async fn adapters(State(app): State<App>) -> Response {
    let shared = app.runtime.shared();
    let paused = shared.pauses.all().await;
    let adapters = app.runtime.adapters();
    let names: Vec<String> = adapters.iter().map(|a| a.name.clone()).collect();
    let queues = queues(&app.runtime, &names).await;
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
