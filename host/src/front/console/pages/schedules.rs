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
                                td { (s.schedule) }
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
                                td.actions { (action(viewer, &format!("/ui/schedules/{}/{}/run", s.adapter, s.schedule), "Run now", "run", &[])) }
                            }
                        }
                    }
                } }
            }
        },
    )
}
