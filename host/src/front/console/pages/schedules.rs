//! The schedules page: each schedule's cadence in words, last and next run, and "run now".

use super::jobs::problem_line;
use super::*;

/// Schedules: cadence in words, last run and outcome, next run, run now.
pub(crate) async fn schedules(
    viewer: &Viewer,
    runtime: &Runtime,
    ops: &Operations,
    done: Option<&str>,
) -> Markup {
    let now = crate::clock::now_ms();
    let list = ops.schedules().await;
    let at = |rfc: &Option<String>| {
        rfc.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    };
    let scrubs = scrubbers(runtime, list.iter().map(|s| s.adapter.as_str()));
    let none = Redactor::default();
    frame(
        Some(viewer),
        "/ui/schedules",
        "Schedules",
        html! {
            h1 { "Schedules " span.count { (list.len()) } }
            @if let Some(done) = done { p.notice role="status" { (done) } }
            @if list.is_empty() { p.muted { "No adapter declares a schedule." } } @else {
                div.scroll { table.schedules {
                    thead { tr { th { "Adapter" } th { "Schedule" } th { "Cadence" } th { "Last run" } th { "Outcome" } th { "Next run" } th {} } }
                    tbody {
                        @for s in &list {
                            @let scrub = scrubs.get(s.adapter.as_str()).unwrap_or(&none);
                            tr data-schedule=(format!("{}/{}", s.adapter, s.schedule)) {
                                td { (s.adapter) }
                                td { a href=(format!("/ui/schedules/{}/{}", s.adapter, s.schedule)) { (s.schedule) }
                                    @if s.paused { " " span.badge.dead title="its ticks are not run until it is resumed" { "paused" } } }
                                td { span title=(s.cadence) { (cadence(&s.cadence)) }
                                    @if let Some(z) = &s.time_zone { " " span.muted { "(" (z) ")" } }
                                    @if s.catch_up { " " span.badge.muted title="a tick missed while Weft was down runs at start" { "catch-up" } } }
                                @let tick = at(&s.last_tick).map(|t| (t, false, s.last_job.clone(), s.last_outcome.clone(), s.last_error.clone()));
                                @let manual = s.last_manual.as_ref().and_then(|m| Some((at(&Some(m.at.clone()))?, true, Some(m.job.clone()), Some(m.outcome.clone()), m.error.clone())));
                                @let last = match (tick, manual) {
                                    (Some(t), Some(m)) => Some(if m.0 >= t.0 { m } else { t }),
                                    (t, m) => t.or(m),
                                };
                                td { @if let Some((t, by_hand, ..)) = &last { (when(*t, now)) @if *by_hand { " " span.muted { "(by hand)" } } } @else { "never" } }
                                td {
                                    @if let Some((_, _, job, Some(o), error)) = &last {
                                        @if let Some(job) = job { a href=(format!("/ui/jobs/{job}")) { span class=(format!("badge {o}")) { (o) } } }
                                        @else { span class=(format!("badge {o}")) { (o) } }
                                        @if let Some(e) = error { div.error-text { (scrub.scrub(&problem_line(e))) } }
                                    }
                                }
                                td { @if let Some(t) = at(&s.next_tick) { (when(t, now)) } }
                                td.actions {
                                    (action(viewer, &format!("/ui/schedules/{}/{}/run", s.adapter, s.schedule), "Run now", "run", &[]))
                                    @if s.paused {
                                        (action(viewer, &format!("/ui/schedules/{}/{}/resume", s.adapter, s.schedule), "Resume", "resume secondary", &[]))
                                    } @else {
                                        (action(viewer, &format!("/ui/schedules/{}/{}/pause", s.adapter, s.schedule), "Pause", "pause secondary", &[]))
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        },
    )
}

/// One schedule: its cadence and state, then its last runs with outcome, duration and job.
pub(crate) async fn schedule(
    viewer: &Viewer,
    runtime: &Runtime,
    ops: &Operations,
    adapter: &str,
    name: &str,
) -> Result<Option<Markup>, StoreError> {
    let Some(status) = ops.schedule(adapter, name).await else {
        return Ok(None);
    };
    let runs = ops.schedule_runs(adapter, name).await?;
    let now = crate::clock::now_ms();
    let scrub = scrubber(runtime, adapter);
    Ok(Some(frame(
        Some(viewer),
        "/ui/schedules",
        &format!("{name} of {adapter}"),
        html! {
            h1 { (name) " " span.muted { "of " (adapter) } }
            p { span title=(status.cadence) { (cadence(&status.cadence)) }
                @if let Some(z) = &status.time_zone { " (" (z) ")" }
                @if status.paused { " " span.badge.dead { "paused" } } }
            h2 { "Last runs " span.count { (runs.len()) } }
            @if runs.is_empty() { p.muted { "No run has ended since Weft began keeping them." } } @else {
                div.scroll { table.runs {
                    thead { tr { th { "Started" } th { "Took" } th { "Outcome" } th { "Attempt" } th { "Run" } th { "Job" } th { "Error" } } }
                    tbody {
                        @for r in &runs {
                            tr data-run=(r.job) {
                                td { (when(r.started_at_ms, now)) }
                                td.num data-label="took" { (span(i64::try_from(r.duration_ms).unwrap_or(i64::MAX))) }
                                td { span class=(format!("badge {}", r.outcome)) { (r.outcome) } }
                                td.num data-label="attempt" { (r.attempt) }
                                td { @if r.manual { "by hand" } @else { "tick" } }
                                td { a href=(format!("/ui/jobs/{}", r.job)) { code { (short_hash(&r.job)) } } }
                                td.error-text { @if let Some(e) = &r.error { (scrub.scrub(&problem_line(e))) } }
                            }
                        }
                    }
                } }
            }
        },
    )))
}
