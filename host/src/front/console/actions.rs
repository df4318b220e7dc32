//! The console's actions: retry and cancel a job, retry every dead job of an adapter (or of
//! all), run a schedule now, and delete a key of an adapter's storage. Each is a form POST that needs the session's CSRF token and
//! an `admin` scope.

use super::*;

fn change_note(id: &str, change: crate::jobs::JobChange, verb: &str) -> String {
    match change {
        crate::jobs::JobChange::Done => format!("job {id}: {verb}"),
        crate::jobs::JobChange::NotFound => format!("job {id}: no such job"),
        crate::jobs::JobChange::Refused(state) => {
            format!("job {id}: not {verb}, it is {}", state.as_str())
        }
    }
}

pub(super) fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

pub(super) async fn retry(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    job_action(&c, &headers, &id, body, false).await
}

pub(super) async fn cancel(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    job_action(&c, &headers, &id, body, true).await
}

/// Retries (or cancels) one job for an admin session whose form carries its CSRF token, and
/// goes back to the jobs page saying what happened.
async fn job_action(
    c: &Console,
    headers: &HeaderMap,
    id: &str,
    body: Body,
    cancel: bool,
) -> Response {
    if let Err(r) = c.act(headers, body).await {
        return r;
    }
    let (changed, verb) = if cancel {
        (c.ops.cancel(id).await, "cancelled")
    } else {
        (c.ops.retry(id, None).await, "queued again")
    };
    match changed {
        Ok(change) => {
            tracing::info!(job = %id, verb, "console: job action");
            back_to(&format!(
                "/ui/jobs?done={}",
                encode(&change_note(id, change, verb))
            ))
        }
        Err(e) => store_down(e),
    }
}

/// Retries every dead job (of one adapter, if the form names one), at most [`MAX_BULK`].
pub(super) async fn bulk_retry(
    State(c): State<Console>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (form, _) = match c.act(&headers, body).await {
        Ok(acted) => acted,
        Err(r) => return r,
    };
    let adapter = form.get("adapter").filter(|a| !a.is_empty()).cloned();
    let queued = match c.ops.retry_dead(adapter.as_deref(), MAX_BULK).await {
        Ok(n) => n,
        Err(e) => return store_down(e),
    };
    tracing::info!(adapter = ?adapter, queued, "console: bulk retry");
    let of = adapter.map(|a| format!(" of {a}")).unwrap_or_default();
    back_to(&format!(
        "/ui/jobs?done={}",
        encode(&format!("{queued} dead jobs{of} queued again"))
    ))
}

/// Pauses an adapter's jobs and schedules (and its calls, if the form says `calls=refuse`).
pub(super) async fn pause(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(adapter): Path<String>,
    body: Body,
) -> Response {
    let (form, _) = match c.act(&headers, body).await {
        Ok(acted) => acted,
        Err(r) => return r,
    };
    if !c.runtime.adapters().iter().any(|a| a.name == adapter) {
        return back_to(&format!(
            "/ui?done={}",
            encode(&format!("no adapter {adapter}"))
        ));
    }
    let refuse = form.get("calls").is_some_and(|v| v == "refuse");
    match c.ops.pause(&adapter, refuse).await {
        Ok(()) => {
            tracing::info!(adapter = %adapter, refuse_calls = refuse, "console: adapter paused");
            back_to("/ui")
        }
        Err(e) => store_down(e),
    }
}

/// Resumes a paused adapter.
pub(super) async fn resume(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(adapter): Path<String>,
    body: Body,
) -> Response {
    if let Err(r) = c.act(&headers, body).await {
        return r;
    }
    match c.ops.resume(&adapter).await {
        Ok(_) => {
            tracing::info!(adapter = %adapter, "console: adapter resumed");
            back_to("/ui")
        }
        Err(e) => store_down(e),
    }
}

pub(super) async fn run_now(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((adapter, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    if let Err(r) = c.act(&headers, body).await {
        return r;
    }
    let note = match c.ops.run_schedule(&adapter, &name).await {
        Ok(id) => {
            tracing::info!(adapter = %adapter, schedule = %name, job = %id, "console: run now");
            format!("{adapter} {name}: running as job {id}")
        }
        Err(e) => format!("{adapter} {name}: {}", e.message),
    };
    back_to(&format!("/ui/schedules?done={}", encode(&note)))
}

/// Pauses one schedule.
pub(super) async fn schedule_pause(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((adapter, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    pause_or_resume(c, headers, adapter, name, body, true).await
}

/// Resumes one schedule.
pub(super) async fn schedule_resume(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((adapter, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    pause_or_resume(c, headers, adapter, name, body, false).await
}

/// Pauses or resumes one schedule, and goes back to the schedules page saying so.
async fn pause_or_resume(
    c: Console,
    headers: HeaderMap,
    adapter: String,
    name: String,
    body: Body,
    pause: bool,
) -> Response {
    let viewer = match c.act(&headers, body).await {
        Ok((_, viewer)) => viewer,
        Err(r) => return r,
    };
    let known = c.ops.schedule(&adapter, &name).await.is_some();
    let note = if !known {
        format!("{adapter} has no schedule {name}")
    } else {
        let done = match pause {
            true => c
                .ops
                .pause_schedule(&adapter, &name)
                .await
                .map(|()| "paused"),
            false => c
                .ops
                .resume_schedule(&adapter, &name)
                .await
                .map(|_| "resumed"),
        };
        match done {
            Ok(done) => {
                tracing::info!(adapter = %adapter, schedule = %name, by = %viewer.acting(), "console: schedule {done}");
                format!("{adapter} {name}: {done}")
            }
            Err(e) => return store_down(e),
        }
    };
    back_to(&format!("/ui/schedules?done={}", encode(&note)))
}

/// Deletes one key of an adapter's storage (the form's `key`), logged with the session's token.
pub(super) async fn delete_key(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(adapter): Path<String>,
    body: Body,
) -> Response {
    let (form, viewer) = match c.act(&headers, body).await {
        Ok(acted) => acted,
        Err(r) => return r,
    };
    let key = form.get("key").cloned().unwrap_or_default();
    let prefix = form.get("prefix").cloned().unwrap_or_default();
    let note = match c.ops.storage_delete(&adapter, &key, &viewer.acting()).await {
        Ok(true) => format!("{key} deleted"),
        Ok(false) => format!("{key}: no such key"),
        Err(crate::operations::StorageRefused::Store(e)) => return store_down(e),
        Err(e) => e.to_string(),
    };
    back_to(&format!(
        "/ui/adapters/{}/storage?prefix={}&done={}",
        encode(&adapter),
        encode(&prefix),
        encode(&note)
    ))
}
