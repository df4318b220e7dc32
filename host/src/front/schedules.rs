//! Schedules over HTTP: their status, one schedule with its last runs, "run now", pause and
//! resume.

use super::jobs::store_problem;
use super::{App, Problem};
use crate::error::ErrorKind;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /v1/schedules`: every schedule with its last and next tick.
pub(super) async fn schedules(State(app): State<App>) -> Response {
    axum::Json(app.ops.schedules().await).into_response()
}

/// The status of `adapter`'s schedule `name`, or a 404 naming what exists.
async fn known(
    app: &App,
    adapter: &str,
    name: &str,
) -> Result<crate::schedule::ScheduleStatus, Problem> {
    if let Some(found) = app.ops.schedule(adapter, name).await {
        return Ok(found);
    }
    let all = app.ops.schedules().await;
    let names: Vec<&str> = all
        .iter()
        .filter(|s| s.adapter == adapter)
        .map(|s| s.schedule.as_str())
        .collect();
    Err(Problem::new(
        ErrorKind::NotFound,
        404,
        if names.is_empty() {
            format!("adapter {adapter:?} is not loaded or has no schedules")
        } else {
            format!(
                "adapter {adapter} has no schedule {name:?} (it has: {})",
                names.join(", ")
            )
        },
    ))
}

/// `GET /v1/schedules/{adapter}/{name}`: the schedule's status and its last runs (outcome,
/// duration, job), newest first.
pub(super) async fn show_schedule(
    State(app): State<App>,
    Path((adapter, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let status = known(&app, &adapter, &name).await?;
    let runs = app
        .ops
        .schedule_runs(&adapter, &name)
        .await
        .map_err(store_problem)?;
    let mut body = serde_json::to_value(&status).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "runs".into(),
            serde_json::to_value(runs).unwrap_or_default(),
        );
    }
    Ok(axum::Json(body).into_response())
}

/// `POST /v1/schedules/{adapter}/{name}/run`: runs it now as a job of its own.
pub(super) async fn run_schedule(
    State(app): State<App>,
    Path((adapter, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id = app
        .ops
        .run_schedule(&adapter, &name)
        .await
        .map_err(Problem::from)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/jobs/{id}"))],
        axum::Json(json!({ "job_id": id, "state": "queued" })),
    )
        .into_response())
}

/// `POST /v1/schedules/{adapter}/{name}/pause`: its ticks are not run until it is resumed.
pub(super) async fn pause_schedule(
    State(app): State<App>,
    Path((adapter, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    known(&app, &adapter, &name).await?;
    app.ops
        .pause_schedule(&adapter, &name)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(json!({ "adapter": adapter, "schedule": name, "paused": true })).into_response())
}

/// `POST /v1/schedules/{adapter}/{name}/resume`.
pub(super) async fn resume_schedule(
    State(app): State<App>,
    Path((adapter, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    known(&app, &adapter, &name).await?;
    let was = app
        .ops
        .resume_schedule(&adapter, &name)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(
        json!({ "adapter": adapter, "schedule": name, "paused": false, "was_paused": was }),
    )
    .into_response())
}
