//! What the schedules are doing: each schedule's cadence, last tick, last run and its outcome,
//! next tick, and the last run asked for by hand; and "run now".

use super::*;

/// One schedule as `GET /v1/schedules` and `weft schedules` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleStatus {
    /// Adapter instance.
    pub adapter: String,
    /// Schedule name.
    pub schedule: String,
    /// `every 6m` or `cron 50 23 * * *`.
    pub cadence: String,
    /// The zone a cron is read in (`UTC`, `+08:00`, `Asia/Shanghai`); absent for `every`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Whether a tick missed while Weft was down runs at start.
    pub catch_up: bool,
    /// True while an operator has paused this schedule (its ticks are not run).
    pub paused: bool,
    /// The last tick handled (enqueued, skipped or missed), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tick: Option<String>,
    /// The job that runs (or ran) the last tick.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_job: Option<String>,
    /// `queued`, `running`, `succeeded`, `dead`, `cancelled`, or `skipped` when the last tick
    /// did not run (missed while down, or the previous run was still going).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// The last tick's error (a problem object), if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<serde_json::Value>,
    /// The next tick, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_tick: Option<String>,
    /// The last run asked for by hand (`run now`), if its job is still kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_manual: Option<ManualRun>,
}

/// A schedule run asked for by hand, and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct ManualRun {
    /// When it was asked for, RFC 3339.
    pub at: String,
    /// Its job.
    pub job: String,
    /// The job's state.
    pub outcome: String,
    /// Its error (a problem object), if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

/// Where the last manual run of each schedule is remembered: a host namespace (it starts with
/// a control character, which no adapter's name can).
const MANUAL_RUNS: &str = crate::store::host_namespace::SCHEDULE_RUNS;

pub(super) fn manual_key(adapter: &str, schedule: &str) -> String {
    format!("{adapter}/{schedule}")
}

/// Every schedule of every loaded adapter, with its last and next tick.
pub async fn statuses(rt: &Runtime) -> Vec<ScheduleStatus> {
    let now = now_ms();
    let mut out = Vec::new();
    for name in rt.registry().names() {
        let Some(adapter) = rt.registry().get(&name) else {
            continue;
        };
        for schedule in &adapter.manifest.schedules {
            out.push(status(rt, &adapter, schedule, now).await);
        }
    }
    out
}

/// `adapter`'s schedule `name`, if a loaded adapter declares it (one schedule's reads, not
/// every schedule's).
pub async fn status_of(rt: &Runtime, adapter: &str, name: &str) -> Option<ScheduleStatus> {
    let loaded = rt.registry().get(adapter)?;
    let schedule = loaded.manifest.schedules.iter().find(|s| s.name == name)?;
    Some(status(rt, &loaded, schedule, now_ms()).await)
}

/// Runs `adapter`'s schedule `name` now, as a job of its own (not keyed to a tick); answers
/// the job's id. It is refused while a run of the schedule is queued or running.
pub async fn run_now(rt: &Runtime, adapter: &str, name: &str) -> Result<String, InvokeError> {
    let op = job_op(name);
    let loaded = rt.adapter(adapter, &op)?;
    let err = |kind, message: String| InvokeError::new(kind, adapter, &op, message);
    if !loaded.manifest.schedules.iter().any(|s| s.name == name) {
        let names: Vec<&str> = loaded
            .manifest
            .schedules
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        return Err(err(
            ErrorKind::NotFound,
            format!(
                "adapter {adapter} has no schedule {name:?} (it has: {})",
                names.join(", ")
            ),
        ));
    }
    let store = &rt.shared().store;
    let unavailable = |e: crate::store::StoreError| {
        err(
            ErrorKind::Unavailable,
            format!("the store is unavailable: {e}"),
        )
    };
    if store.job_active(adapter, &op).await.map_err(unavailable)? {
        return Err(err(
            ErrorKind::Conflict,
            format!("schedule {name} of adapter {adapter} is already queued or running"),
        ));
    }
    let input = serde_json::json!({ "schedule": name, "manual": true }).to_string();
    let job = loaded.job_owner().job(&op, input, None, Duration::ZERO);
    let id = job.id.clone();
    store
        .job_enqueue(&job, now_ms())
        .await
        .map_err(unavailable)?;
    rt.shared().jobs_wakeup.notify_waiters();
    // Only for status: a failure to remember it does not undo the run.
    if let Err(e) = store
        .kv_set(MANUAL_RUNS, &manual_key(adapter, name), id.as_bytes())
        .await
    {
        tracing::warn!(
            adapter,
            schedule = name,
            "manual run not remembered for status: {e}"
        );
    }
    Ok(id)
}

pub(super) async fn status(
    rt: &Runtime,
    adapter: &LoadedAdapter,
    schedule: &Schedule,
    now: i64,
) -> ScheduleStatus {
    let name = &adapter.manifest.name;
    let store = &rt.shared().store;
    let last = store
        .schedule_last(name, &schedule.name)
        .await
        .ok()
        .flatten()
        .filter(|t| *t > 0);
    let mut out = ScheduleStatus {
        adapter: name.clone(),
        schedule: schedule.name.clone(),
        cadence: describe_cadence(schedule),
        time_zone: match &schedule.cadence {
            Some(Cadence::Cron(_, zone)) => Some(zone.to_string()),
            _ => None,
        },
        catch_up: schedule.catch_up,
        paused: rt
            .shared()
            .schedule_pauses
            .get(&crate::pause::schedule_key(name, &schedule.name))
            .await
            .is_some(),
        last_tick: last.map(rfc3339),
        last_job: None,
        last_outcome: None,
        last_error: None,
        next_tick: schedule
            .cadence
            .as_ref()
            .and_then(|c| next_tick(c, now))
            .map(rfc3339),
        last_manual: None,
    };
    if let Ok(Some(id)) = store
        .kv_get(MANUAL_RUNS, &manual_key(name, &schedule.name))
        .await
        && let Ok(id) = String::from_utf8(id)
        && let Ok(Some(job)) = store.job_get(&id).await
    {
        out.last_manual = Some(ManualRun {
            at: rfc3339(job.created_at_ms),
            job: id,
            outcome: job.state.as_str().to_string(),
            error: (job.state != JobState::Succeeded)
                .then_some(job.last_error)
                .flatten(),
        });
    }
    if let Some(tick) = last {
        let id = tick_job_id(&rt.shared().job_id_key, name, &schedule.name, tick);
        match store.job_get(&id).await {
            Ok(Some(job)) => {
                out.last_outcome = Some(job.state.as_str().to_string());
                if job.state != JobState::Succeeded {
                    out.last_error = job.last_error;
                }
                out.last_job = Some(id);
            }
            Ok(None) => out.last_outcome = Some("skipped".into()),
            Err(_) => {}
        }
    }
    out
}
