//! Schedules: `on-schedule(name)` at each tick of a manifest's `every` or `cron`, once per tick
//! (claimed in the store), never overlapping itself, and — when the manifest says `catch_up` —
//! once at start for ticks missed while Weft was down.

use crate::adapter::LoadedAdapter;
use crate::error::ErrorKind;
use crate::jobs::now_ms;
use crate::manifest::{Cadence, Schedule};
use crate::metrics::ScheduleLabels;
use crate::runtime::Runtime;
use crate::state::Purpose;
use chrono::{FixedOffset, TimeZone};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the scheduler looks at the clock.
const RESOLUTION: Duration = Duration::from_millis(100);
/// A tick older than this when first seen counts as missed (Weft was down).
const FRESH: i64 = 5_000;

/// The running scheduler; [`Scheduler::shutdown`] stops it after running ticks finish.
pub struct Scheduler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Stops ticking and waits for ticks in progress.
    pub async fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

/// The latest tick at or before `now_ms`.
pub fn latest_tick(cadence: &Cadence, now_ms: i64) -> Option<i64> {
    match cadence {
        Cadence::Every(period) => {
            let p = i64::try_from(period.as_millis()).ok().filter(|p| *p > 0)?;
            Some(now_ms - now_ms.rem_euclid(p))
        }
        Cadence::Cron(cron, offset) => {
            let tz = FixedOffset::east_opt(*offset)?;
            let now = tz.timestamp_millis_opt(now_ms).single()?;
            cron.find_previous_occurrence(&now, true)
                .ok()
                .map(|t| t.timestamp_millis())
        }
    }
}

impl Runtime {
    /// Starts the scheduler for every loaded adapter (reloads are picked up at the next tick).
    pub fn start_schedules(self: &Arc<Self>) -> Scheduler {
        let stop = Arc::new(AtomicBool::new(false));
        let rt = self.clone();
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut running = tokio::task::JoinSet::new();
            while !flag.load(Ordering::SeqCst) {
                for name in rt.registry().names() {
                    let Some(adapter) = rt.registry().get(&name) else {
                        continue;
                    };
                    for schedule in &adapter.manifest.schedules {
                        if let Some(tick) = due(&rt, &adapter, schedule).await {
                            let adapter = adapter.clone();
                            let schedule = schedule.name.clone();
                            running.spawn(async move { run_tick(adapter, schedule, tick).await });
                        }
                    }
                }
                while running.try_join_next().is_some() {}
                tokio::time::sleep(RESOLUTION).await;
            }
            while running.join_next().await.is_some() {}
        });
        Scheduler { stop, task }
    }
}

/// The tick to run now, if any, claimed in the store so no other run (or node) takes it.
async fn due(rt: &Runtime, adapter: &Arc<LoadedAdapter>, schedule: &Schedule) -> Option<i64> {
    let cadence = schedule.cadence.as_ref()?;
    let now = now_ms();
    let tick = latest_tick(cadence, now)?;
    let store = &rt.shared().store;
    let name = &adapter.manifest.name;
    let last = store.schedule_last(name, &schedule.name).await.ok()?;
    if last.is_some_and(|l| l >= tick) {
        return None;
    }
    let missed = now - tick > FRESH || last.is_none() && matches!(cadence, Cadence::Cron(..));
    let lease = now
        + i64::try_from(adapter.manifest.limits.timeout.get().as_millis()).unwrap_or(i64::MAX / 2);
    let claimed = store
        .schedule_claim(name, &schedule.name, tick, now, lease)
        .await;
    match claimed {
        Ok(Some(_)) if missed && !schedule.catch_up => {
            // Missed while Weft was down and the manifest does not ask to catch up: the tick is
            // recorded as seen, not run.
            let _ = store.schedule_done(name, &schedule.name, tick).await;
            None
        }
        Ok(Some(_)) => Some(tick),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(adapter = %name, schedule = %schedule.name, "schedule claim failed: {e}");
            None
        }
    }
}

async fn run_tick(adapter: Arc<LoadedAdapter>, schedule: String, tick: i64) {
    let name = adapter.manifest.name.clone();
    let outcome = adapter.on_schedule(&schedule).await;
    let label = match &outcome {
        Ok(()) => "ok".to_string(),
        Err(kind) => kind.as_str().to_string(),
    };
    adapter
        .shared
        .metrics
        .schedule_runs
        .get_or_create(&ScheduleLabels {
            adapter: name.clone(),
            schedule: schedule.clone(),
            outcome: label,
        })
        .inc();
    if let Err(e) = adapter
        .shared
        .store
        .schedule_done(&name, &schedule, tick)
        .await
    {
        tracing::warn!(adapter = %name, %schedule, "schedule completion not stored (the lease will lapse): {e}");
    }
}

impl LoadedAdapter {
    /// Runs `on-schedule(name)` in a fresh instance; jobs it enqueued commit if it succeeds.
    pub async fn on_schedule(self: &Arc<Self>, schedule: &str) -> Result<(), ErrorKind> {
        let deadline = Instant::now() + self.manifest.limits.timeout.get();
        let label = format!("on-schedule:{schedule}");
        let crate::adapter::Instance { mut store, world } = self
            .instantiate(Purpose::Schedule, &label, deadline)
            .await
            .map_err(|f| {
                tracing::warn!(adapter = %self.manifest.name, schedule, "{}", f.message);
                f.kind
            })?;
        let ctx = crate::bindings::types::CallContext {
            call_id: uuid::Uuid::new_v4().to_string(),
            attempt: 1,
            job_id: None,
            idempotency_key: None,
        };
        let result = tokio::time::timeout_at(
            deadline.into(),
            world
                .weft_adapter_adapter()
                .call_on_schedule(&mut store, &ctx, schedule),
        )
        .await;
        match self.finish(store, result) {
            Ok((Ok(()), outcome)) => {
                if let Err(message) = self.commit_jobs(outcome.jobs).await {
                    tracing::warn!(adapter = %self.manifest.name, schedule, "{message}");
                    return Err(ErrorKind::Transient);
                }
                tracing::info!(adapter = %self.manifest.name, schedule, "schedule ran");
                Ok(())
            }
            Ok((Err(e), _)) => {
                tracing::warn!(adapter = %self.manifest.name, schedule, "schedule failed: {}", self.redactor.scrub(&crate::invoke::error_message(&e)));
                Err(ErrorKind::Rejected)
            }
            Err(f) => {
                tracing::warn!(adapter = %self.manifest.name, schedule, "{}", f.message);
                Err(f.kind)
            }
        }
    }
}
