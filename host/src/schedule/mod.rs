//! Schedules: `on-schedule(name)` once per tick of a manifest's `every` or `cron`.
//!
//! Each tick is a whole instant of the cadence (never "now"), and each becomes a durable job
//! keyed by adapter, schedule and tick — River's periodic enqueuer does the same — so that one
//! mechanism gives a tick its guarantees: the key makes it run once however many nodes see the
//! tick; the job's lease, renewed by heartbeat, hands an interrupted tick to another node when
//! the first dies; transient and `auth` failures are retried under the manifest's retry policy,
//! the rest end dead with their reason; and `weft jobs` shows every run. A tick never overlaps
//! the schedule's previous run: while that run's job is queued or running, the tick is skipped
//! (and counted as such). With `catch_up`, the latest tick missed while Weft was down runs at
//! start; without it, it is recorded as seen.
//!
//! The scheduler sleeps until the earliest next tick, or until a reload changes the adapters;
//! it does not poll the store.

mod status;

pub use status::{ManualRun, ScheduleStatus, run_now, status_of, statuses};

use crate::call::LoadedAdapter;
use crate::clock::{now_ms, rfc3339};
use crate::error::{ErrorKind, InvokeError};
use crate::manifest::{Cadence, Schedule};
use crate::runtime::Runtime;
use crate::store::{Enqueued, JobState};

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A tick older than this when first seen counts as missed (Weft was down).
const FRESH: i64 = 5_000;
/// The longest the scheduler sleeps without looking at the clock again (a wall-clock jump,
/// e.g. after a suspend, is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(30);
pub use crate::jobs::{JOB_PREFIX, job_op};

/// The idempotency key of tick `tick_ms` of schedule `name`: a control character keeps it apart
/// from every key a caller can send in an HTTP header.
fn tick_key(name: &str, tick_ms: i64) -> String {
    format!("\u{1f}schedule\u{1f}{name}\u{1f}{tick_ms}")
}

/// The job id of tick `tick_ms` of `adapter`'s schedule `name` (the same on every node of a
/// deployment: `secret` is the deployment's).
pub fn tick_job_id(secret: &[u8], adapter: &str, name: &str, tick_ms: i64) -> String {
    crate::jobs::keyed_job_id(secret, adapter, &tick_key(name, tick_ms))
}

pub use crate::cadence::{latest_tick, next_tick, next_ticks};

/// How a schedule's cadence reads to a person: `every 6m` or `cron 0 2 * * *`.
pub fn describe_cadence(schedule: &Schedule) -> String {
    match (&schedule.every, &schedule.cron) {
        (Some(d), _) => format!("every {d}"),
        (None, Some(c)) => format!("cron {c}"),
        (None, None) => "never".into(),
    }
}

/// The running scheduler; [`Scheduler::shutdown`] stops it.
pub struct Scheduler {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Scheduler {
    /// Stops enqueueing ticks (ticks already enqueued are the job workers' to finish).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // Dropped without a shutdown (an early return): the task stops at its next wake-up.
        let _ = self.stop.send(true);
    }
}

impl Scheduler {
    /// Starts the scheduler for every loaded adapter; reloads are picked up as they happen.
    pub fn start(runtime: &Arc<Runtime>) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let rt = runtime.clone();
        let task = tokio::spawn(async move {
            let mut changed = rt.registry().subscribe();
            // The last tick this node handled per schedule: the store is asked once per tick.
            let mut seen: HashMap<(String, String), i64> = HashMap::new();
            loop {
                let now = now_ms();
                let mut wake = now + i64::try_from(MAX_SLEEP.as_millis()).unwrap_or(30_000);
                for name in rt.registry().names() {
                    let Some(adapter) = rt.registry().get(&name) else {
                        continue;
                    };
                    for schedule in &adapter.manifest.schedules {
                        let Some(cadence) = &schedule.cadence else {
                            continue;
                        };
                        let key = (name.clone(), schedule.name.clone());
                        if let Some(tick) = latest_tick(cadence, now)
                            && seen.get(&key).is_none_or(|s| *s < tick)
                            && handle_tick(&rt, &adapter, schedule, tick, now).await
                        {
                            seen.insert(key, tick);
                        }
                        if let Some(next) = next_tick(cadence, now) {
                            wake = wake.min(next);
                            if let Some(last) = latest_tick(cadence, now) {
                                rt.shared()
                                    .metrics
                                    .schedule_period
                                    .get_or_create(&crate::metrics::ScheduleNameLabels {
                                        adapter: name.clone(),
                                        schedule: schedule.name.clone(),
                                    })
                                    .set((next - last) / 1000);
                            }
                        }
                    }
                }
                let sleep = Duration::from_millis(u64::try_from(wake - now_ms()).unwrap_or(0));
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = changed.changed() => {}
                    _ = stopped.changed() => {}
                }
                if *stopped.borrow() {
                    return;
                }
            }
        });
        Scheduler {
            stop,
            task: Some(task),
        }
    }
}

/// Handles tick `tick` of `schedule`: enqueues its job, or records why not. False if the store
/// could not be reached (the tick is looked at again at the next wake-up).
async fn handle_tick(
    rt: &Runtime,
    adapter: &Arc<LoadedAdapter>,
    schedule: &Schedule,
    tick: i64,
    now: i64,
) -> bool {
    let store = &rt.shared().store;
    let name = &adapter.manifest.name;
    let sname = &schedule.name;
    let warn = |e: crate::store::StoreError| {
        tracing::warn!(adapter = %name, schedule = %sname, "schedule tick not handled (tried again): {e}");
        false
    };
    let last = match store.schedule_last(name, sname).await {
        Ok(last) => last,
        Err(e) => return warn(e),
    };
    if last.is_some_and(|l| l >= tick) {
        // Another node (or this one before a restart) handled it.
        return true;
    }
    let first_sight = last.is_none();
    let missed =
        now - tick > FRESH || first_sight && matches!(schedule.cadence, Some(Cadence::Cron(..)));
    let op = job_op(sname);
    if missed && !schedule.catch_up {
        if !first_sight {
            tracing::info!(adapter = %name, schedule = %sname, tick = %rfc3339(tick), "tick missed while Weft was down: not run (the manifest does not ask to catch up)");
        }
        return store
            .schedule_claim(name, sname, tick, now, 0)
            .await
            .map(|_| true)
            .unwrap_or_else(warn);
    }
    let key = crate::pause::schedule_key(name, sname);
    if rt.shared().pauses.get(name).await.is_some()
        || rt.shared().schedule_pauses.get(&key).await.is_some()
    {
        tracing::info!(adapter = %name, schedule = %sname, tick = %rfc3339(tick), "tick not run: the adapter or the schedule is paused");
        crate::call::count_schedule_run(adapter, sname, "paused");
        return store
            .schedule_claim(name, sname, tick, now, 0)
            .await
            .map(|_| true)
            .unwrap_or_else(warn);
    }
    match store.job_active(name, &op).await {
        Ok(true) => {
            tracing::info!(adapter = %name, schedule = %sname, tick = %rfc3339(tick), "tick skipped: the previous run is still queued or running");
            crate::call::count_schedule_run(adapter, sname, "skipped");
            return store
                .schedule_claim(name, sname, tick, now, 0)
                .await
                .map(|_| true)
                .unwrap_or_else(warn);
        }
        Ok(false) => {}
        Err(e) => return warn(e),
    }
    let input = serde_json::json!({ "schedule": sname, "tick": rfc3339(tick) }).to_string();
    let mut job = adapter
        .job_owner()
        .job(&op, input, Some(tick_key(sname, tick)), Duration::ZERO);
    // A tick runs ahead of its adapter's bulk work: behind it, every later tick would find it
    // still queued and be skipped.
    job.priority = crate::jobs::URGENT;
    match store.job_enqueue(&job, now).await {
        Ok(Enqueued::New(_)) => {
            tracing::debug!(adapter = %name, schedule = %sname, tick = %rfc3339(tick), "tick enqueued");
            rt.shared().jobs_wakeup.notify_waiters();
        }
        // Another node enqueued it first: the key makes it one job.
        Ok(Enqueued::Existing(_) | Enqueued::KeyConflict(_)) => {}
        Err(e) => return warn(e),
    }
    store
        .schedule_claim(name, sname, tick, now, 0)
        .await
        .map(|_| true)
        .unwrap_or_else(warn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Zone;

    fn cron(expr: &str, zone: Zone) -> Cadence {
        Cadence::Cron(Box::new(expr.parse().expect("cron")), zone)
    }

    fn utc() -> Zone {
        Zone::Fixed(chrono::FixedOffset::east_opt(0).expect("UTC"))
    }

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("time")
            .timestamp_millis()
    }

    #[test]
    fn a_cron_tick_is_the_whole_second_whatever_the_milliseconds_of_now() {
        let every_second = cron("* * * * * *", utc());
        let second = 1_700_000_000_000;
        for ms in [0, 1, 100, 500, 999] {
            assert_eq!(latest_tick(&every_second, second + ms), Some(second));
        }
        assert_eq!(
            latest_tick(&every_second, second + 1000),
            Some(second + 1000)
        );
        assert_eq!(next_tick(&every_second, second + 300), Some(second + 1000));
    }

    #[test]
    fn every_counts_from_the_epoch_and_next_is_strictly_after() {
        let six = Cadence::Every(Duration::from_secs(360));
        assert_eq!(latest_tick(&six, 360_000 * 5 + 7), Some(360_000 * 5));
        assert_eq!(next_tick(&six, 360_000 * 5), Some(360_000 * 6));
        assert_eq!(next_ticks(&six, 0, 3), vec![360_000, 720_000, 1_080_000]);
    }

    #[test]
    fn iana_zones_follow_daylight_saving() {
        let two_am_shanghai = cron("0 2 * * *", Zone::Named(chrono_tz::Asia::Shanghai));
        assert_eq!(
            next_tick(&two_am_shanghai, at("2026-11-30T00:00:00Z")),
            Some(at("2026-11-30T18:00:00Z"))
        );
        // 09:00 in Paris is 08:00 UTC in summer and 09:00 UTC in winter (time changes 25 Oct).
        let nine_paris = cron("0 9 * * *", Zone::Named(chrono_tz::Europe::Paris));
        assert_eq!(
            next_tick(&nine_paris, at("2026-10-20T00:00:00Z")),
            Some(at("2026-10-20T07:00:00Z"))
        );
        assert_eq!(
            next_tick(&nine_paris, at("2026-10-27T00:00:00Z")),
            Some(at("2026-10-27T08:00:00Z"))
        );
        let fixed = cron(
            "0 2 * * *",
            Zone::Fixed(chrono::FixedOffset::east_opt(8 * 3600).expect("offset")),
        );
        assert_eq!(
            latest_tick(&fixed, at("2026-11-30T19:00:00Z")),
            Some(at("2026-11-30T18:00:00Z"))
        );
    }

    #[test]
    fn a_cron_that_never_fires_has_no_next_tick() {
        assert_eq!(
            next_tick(&cron("0 0 30 2 *", utc()), at("2026-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn tick_job_ids_are_the_same_on_every_node_and_differ_per_tick() {
        let k = b"deployment secret";
        assert_eq!(
            tick_job_id(k, "a", "s", 1000),
            tick_job_id(k, "a", "s", 1000)
        );
        assert_ne!(
            tick_job_id(k, "a", "s", 1000),
            tick_job_id(k, "a", "s", 2000)
        );
        assert_ne!(
            tick_job_id(k, "a", "s", 1000),
            tick_job_id(k, "b", "s", 1000)
        );
        assert_ne!(
            tick_job_id(k, "a", "s", 1000),
            tick_job_id(b"another deployment", "a", "s", 1000),
            "another deployment's ids cannot be computed from this one's"
        );
    }
}
