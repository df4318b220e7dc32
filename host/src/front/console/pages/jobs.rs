//! The jobs pages: counts, the dead and failing jobs with their errors, and one job's
//! attempts, input and output, shown without secrets.

use super::*;

pub(super) fn problem_line(p: &serde_json::Value) -> String {
    let title = p.get("title").and_then(|v| v.as_str()).unwrap_or("");
    let detail = p.get("detail").and_then(|v| v.as_str()).unwrap_or("");
    match (title.is_empty(), detail.is_empty()) {
        (_, false) if !title.is_empty() => format!("{title}: {detail}"),
        (_, false) => detail.to_string(),
        (false, true) => title.to_string(),
        _ => p.to_string(),
    }
}

fn job_rows(viewer: &Viewer, runtime: &Runtime, jobs: &[JobRecord], now: i64) -> Markup {
    let scrubs = scrubbers(runtime, jobs.iter().map(|j| j.adapter.as_str()));
    let none = Redactor::default();
    html! {
        div.scroll { table.jobs {
            thead { tr { th { "Job" } th { "Adapter" } th { "Operation" } th { "Attempts" } th { "Last error" } th { "Changed" } th {} } }
            tbody {
                @for j in jobs {
                    @let scrub = scrubs.get(j.adapter.as_str()).unwrap_or(&none);
                    tr data-job=(j.id) data-state=(j.state.as_str()) {
                        td { a href=(format!("/ui/jobs/{}", j.id)) { code { (short_hash(&j.id)) } } }
                        td { (j.adapter) }
                        td { (j.op) }
                        td data-label="attempts" { (j.attempt) "/" (j.max_attempts) }
                        td.error-text { @if let Some(e) = &j.last_error { (scrub.scrub(&problem_line(e))) } }
                        td data-label="changed" { (when(j.updated_at_ms, now)) }
                        td.actions {
                            @if j.state == JobState::Dead {
                                (action(viewer, &format!("/ui/jobs/{}/retry", j.id), "Retry", "retry", &[]))
                            }
                            @if matches!(j.state, JobState::Dead | JobState::Queued) {
                                (action(viewer, &format!("/ui/jobs/{}/cancel", j.id), "Cancel", "cancel secondary", &[]))
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// Jobs: counts by state, the dead and the failing ones, bulk retry.
pub(crate) async fn jobs(
    viewer: &Viewer,
    runtime: &Runtime,
    ops: &Operations,
    query: &JobsQuery,
) -> Result<Markup, StoreError> {
    let now = crate::clock::now_ms();
    let counts = ops.job_counts().await?;
    let adapter = query.adapter.as_deref().filter(|a| !a.is_empty());
    // The newest LIST of each state (the store pages newest first); the rest are in the JSON
    // listing, `GET /v1/jobs?state=…`, which the page names.
    let dead_filter = JobFilter {
        state: Some(JobState::Dead),
        adapter,
        ..JobFilter::default()
    };
    let dead = ops.jobs(&dead_filter, LIST).await?;
    let failing = ops.failing(adapter, LIST).await?;
    let states = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Dead,
        JobState::Cancelled,
    ];
    let search = crate::front::jobs::JobQuery {
        adapter: query.adapter.clone(),
        state: query.state.clone(),
        op: query.op.clone(),
        key: query.key.clone(),
        since: query.since.clone(),
        until: query.until.clone(),
        after: query.after.clone(),
        ..Default::default()
    };
    let searching = [
        &query.state,
        &query.op,
        &query.key,
        &query.since,
        &query.until,
    ]
    .iter()
    .any(|f| f.as_deref().is_some_and(|v| !v.is_empty()));
    let found = match (searching, search.filter()) {
        (false, _) => None,
        (true, Ok(filter)) => Some(Ok(ops.jobs(&filter, LIST).await?)),
        (true, Err(problem)) => Some(Err(problem.detail().to_string())),
    };
    let adapters = counts.adapters();
    let count_state = |s: JobState| counts.count(adapter, s);
    let count = |a: &str, s: JobState| counts.count(Some(a), s);
    Ok(frame(
        Some(viewer),
        "/ui/jobs",
        "Jobs",
        html! {
            h1 { "Jobs" @if let Some(a) = adapter { " of " (a) } }
            @if let Some(done) = &query.done { p.notice role="status" { (done) } }
            div.scroll { table.counts {
                thead { tr { th { "Adapter" } @for s in states { th { (s.as_str()) } } } }
                tbody {
                    @for a in &adapters {
                        tr { td { a href=(format!("/ui/jobs?adapter={}", crate::front::console::actions::encode(a))) { (a) } }
                            @for s in states {
                                @let n = count(a, s);
                                td class=(if n > 0 && s == JobState::Dead { "num bad" } else { "num" }) { (n) }
                            }
                        }
                    }
                    @if adapters.is_empty() { tr { td colspan="6" { "No jobs yet." } } }
                }
            } }
            (search_form(query, searching))
            @match &found {
                None => {}
                Some(Err(why)) => { p.error role="alert" { (why) } }
                Some(Ok(list)) => {
                    h2 { "Found " span.count { (list.len()) } }
                    @if list.is_empty() { p.muted { "No job matches." } } @else {
                        (job_rows(viewer, runtime, list, now))
                        @if let (true, Some(last)) = (list.len() == LIST as usize, list.last()) {
                            p { a.older href=(format!("/ui/jobs?{}", search.next(LIST, last.created_at_ms, &last.id))) { "Older matches →" } }
                        }
                    }
                }
            }
            h2 { "Dead " span.count { (count_state(JobState::Dead)) } }
            @if dead.is_empty() { p.muted { "No dead jobs." } } @else {
                (action(viewer, "/ui/jobs/retry", &format!("Retry all dead jobs{}", adapter.map(|a| format!(" of {a}")).unwrap_or_default()), "retry bulk", &[("adapter", adapter.unwrap_or(""))]))
                (job_rows(viewer, runtime, &dead, now))
                @if dead.len() == LIST as usize { p.muted { "The newest " (LIST) " dead jobs are shown; all of them: " code { "GET /v1/jobs?state=dead" } "." } }
            }
            h2 { "Failing, will retry " span.count { (failing.len()) } }
            @if failing.is_empty() { p.muted { "No queued job has failed an attempt." } } @else {
                (job_rows(viewer, runtime, &failing, now))
            }
        },
    ))
}

/// The search: by adapter, state, operation, idempotency key and creation time.
fn search_form(query: &JobsQuery, searching: bool) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let state = value(&query.state);
    html! {
        details.search open[searching] { summary { "Find jobs" }
        form.search method="get" action="/ui/jobs" role="search" {
            label { "Adapter" input type="text" name="adapter" value=(value(&query.adapter)); }
            label { "State" select name="state" {
                option value="" selected[state.is_empty()] { "any" }
                @for s in ["queued", "running", "succeeded", "dead", "cancelled"] {
                    option value=(s) selected[state == s] { (s) }
                }
            } }
            label { "Operation" input type="text" name="op" value=(value(&query.op)) placeholder="schedule:NAME"; }
            label { "Idempotency key" input type="text" name="key" value=(value(&query.key)); }
            label { "Created since" input type="text" name="since" value=(value(&query.since)) placeholder="2026-12-01T00:00:00Z"; }
            label { "until" input type="text" name="until" value=(value(&query.until)); }
            button type="submit" { "Find" }
        } }
    }
}

/// JSON text for a page: secret-looking keys masked, the adapter's secrets scrubbed, pretty,
/// cut at [`MAX_SHOWN`].
fn shown(text: &str, scrub: &Redactor) -> String {
    let mut out = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            crate::redact::mask_json(&mut v, scrub);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => scrub.scrub(text),
    };
    if out.len() > MAX_SHOWN {
        let mut cut = MAX_SHOWN;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n… (cut: the whole is at GET /v1/jobs/{id})");
    }
    out
}

/// One job: its fields, input, attempts and output, and its timeline (steps, then each kept
/// attempt with its exchanges).
pub(crate) fn job(
    viewer: &Viewer,
    runtime: &Runtime,
    j: &JobRecord,
    record: Option<&serde_json::Value>,
) -> Markup {
    let now = crate::clock::now_ms();
    let scrub = scrubber(runtime, &j.adapter);
    frame(
        Some(viewer),
        "/ui/jobs",
        "Job",
        html! {
            h1 { "Job " code { (j.id) } " " span class=(format!("badge {}", j.state.as_str())) { (j.state.as_str()) } }
            div.actions {
                @if j.state == JobState::Dead { (action(viewer, &format!("/ui/jobs/{}/retry", j.id), "Retry", "retry", &[])) }
                @if matches!(j.state, JobState::Dead | JobState::Queued) { (action(viewer, &format!("/ui/jobs/{}/cancel", j.id), "Cancel", "cancel secondary", &[])) }
            }
            dl {
                dt { "Adapter" } dd { a href=(format!("/ui/jobs?adapter={}", crate::front::console::actions::encode(&j.adapter))) { (j.adapter) } }
                dt { "Operation" } dd { (j.op) }
                dt { "Attempts" } dd { (j.attempt) " of " (j.max_attempts) }
                dt { "Created" } dd { (when(j.created_at_ms, now)) }
                dt { "Changed" } dd { (when(j.updated_at_ms, now)) }
                @if j.state == JobState::Queued { dt { "Runs" } dd { (when(j.run_at_ms, now)) } }
                @if let Some(k) = &j.idempotency_key { dt { "Idempotency key" } dd { code { (scrub.scrub(k)) } } }
            }
            @if let (Some(e), false) = (&j.last_error, j.state == JobState::Succeeded) {
                h2 { "Last error" }
                p.error role="alert" { (scrub.scrub(&problem_line(e))) }
                pre { (shown(&e.to_string(), &scrub)) }
            }
            @if !j.errors.is_empty() {
                h2 { "Attempts that failed" }
                div.scroll { table.attempts {
                    thead { tr { th { "Attempt" } th { "When" } th { "Error" } } }
                    tbody {
                        @for a in &j.errors {
                            tr {
                                td.num { (a.get("attempt").map(ToString::to_string).unwrap_or_default()) }
                                td { @if let Some(t) = a.get("at_ms").and_then(serde_json::Value::as_i64) { (when(t, now)) } }
                                td.error-text { @if let Some(e) = a.get("error") { (scrub.scrub(&problem_line(e))) } }
                            }
                        }
                    }
                } }
            }
            @if let Some(r) = record { (super::timeline::timeline(r, &scrub, now)) }
            h2 { "Input" }
            pre { (shown(&j.input, &scrub)) }
            @if let Some(o) = &j.output {
                h2 { "Output" }
                pre { (shown(&o.to_string(), &scrub)) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_shown_without_secrets() {
        let scrub = Redactor::new(["s3cr3t-value"]);
        let text = r#"{"user":"erp","password":"hunter2","nested":{"api_key":"k","note":"uses s3cr3t-value"},"items":[{"accessToken":"t"}],"token":null}"#;
        let out = shown(text, &scrub);
        for gone in ["hunter2", "\"k\"", "s3cr3t-value", "\"t\""] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("\"erp\""), "{out}");
        assert!(out.contains("\"token\": null"), "a null stays null: {out}");
        let long = format!("{{\"x\":\"{}\"}}", "é".repeat(MAX_SHOWN));
        let cut = shown(&long, &scrub);
        assert!(cut.len() < MAX_SHOWN + 100 && cut.ends_with("GET /v1/jobs/{id})"));
    }

    #[test]
    fn problems_read_as_one_line() {
        let p = serde_json::json!({"title": "Platform unavailable", "detail": "503 from sekorm"});
        assert_eq!(problem_line(&p), "Platform unavailable: 503 from sekorm");
        assert_eq!(problem_line(&serde_json::json!({"title": "T"})), "T");
    }

    #[test]
    fn charts_scale_to_the_busiest_minute() {
        let svg = chart(&[0, 10, 5], &[0, 0, 5]).into_string();
        assert!(
            svg.contains(r#"height="40""#),
            "the busiest minute fills the chart: {svg}"
        );
        assert!(svg.contains(r#"class="bad""#), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 3);
    }
}
