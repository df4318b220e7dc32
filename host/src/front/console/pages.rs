//! The console's pages, as `maud` templates: a shared frame (header, navigation, who is
//! signed in) around one section per page.

use super::words::{cadence, relative, span, timestamp};
use super::{JobsQuery, Viewer};
use crate::redact::{REDACTED, Redactor};
use crate::runtime::Runtime;
use crate::store::{JobFilter, JobRecord, JobState};
use maud::{DOCTYPE, Markup, html};

/// The most of a job's input or output a page shows.
const MAX_SHOWN: usize = 64 * 1024;
/// Jobs one list shows.
const LIST: u32 = 100;

const PAGES: [(&str, &str); 5] = [
    ("/ui", "Adapters"),
    ("/ui/jobs", "Jobs"),
    ("/ui/schedules", "Schedules"),
    ("/ui/tokens", "Tokens"),
    ("/ui/reloads", "Reloads"),
];

fn frame(viewer: Option<&Viewer>, current: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Weft" }
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
                noscript { meta http-equiv="refresh" content="15"; }
            }
            body {
                header {
                    a.brand href="/ui" { "Weft" }
                    @if let Some(v) = viewer {
                        nav {
                            @for (href, name) in PAGES {
                                @if href == current {
                                    a.current href=(href) aria-current="page" { (name) }
                                } @else {
                                    a href=(href) { (name) }
                                }
                            }
                        }
                        div.who {
                            span { (v.who) }
                            @if !v.can_act { " · " span.badge.muted { "read-only" } }
                            @if v.signed_in {
                                form method="post" action="/ui/logout" {
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main data-refresh="5" { (body) }
            }
        }
    }
}

/// A page with only a message (an error, a refusal).
pub(crate) fn message(title: &str, text: &str) -> Markup {
    frame(
        None,
        "",
        title,
        html! { h1 { (title) } p.notice { (text) } p { a href="/ui" { "Back to the console" } } },
    )
}

/// The sign-in form, with an error if the last try failed.
pub(crate) fn login(error: Option<&str>) -> Markup {
    frame(
        None,
        "/ui/login",
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.login method="post" action="/ui/login" {
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="off" required
                    placeholder="weft_…";
                button type="submit" { "Sign in" }
            }
            p.muted {
                "Create one with " code { "weft tokens create --name ops --scope read" }
                " (or " code { "admin" } " to act)."
            }
        },
    )
}

fn action(
    viewer: &Viewer,
    href: &str,
    label: &str,
    class: &str,
    fields: &[(&str, &str)],
) -> Markup {
    html! {
        @if viewer.can_act {
            form.inline method="post" action=(href) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                @for (n, v) in fields { input type="hidden" name=(n) value=(v); }
                button class=(class) type="submit" { (label) }
            }
        }
    }
}

/// What may show an adapter's texts: its secrets and the tokens this process holds for it.
/// One scrubber for each adapter named in `names` (a page of jobs names a few adapters many
/// times: each scrubber is built once, not once a row).
fn scrubbers<'a>(
    runtime: &Runtime,
    names: impl Iterator<Item = &'a str>,
) -> std::collections::HashMap<&'a str, Redactor> {
    let mut out = std::collections::HashMap::new();
    for name in names {
        out.entry(name).or_insert_with(|| scrubber(runtime, name));
    }
    out
}

fn scrubber(runtime: &Runtime, adapter: &str) -> Redactor {
    let mut r = runtime
        .registry()
        .get(adapter)
        .map(|a| a.redactor.clone())
        .unwrap_or_default();
    for token in runtime.shared().tokens.cached_tokens(adapter) {
        r.add(&token);
    }
    r
}

fn short_hash(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

fn when(ms: i64, now: i64) -> Markup {
    html! { time title=(timestamp(ms)) { (relative(ms, now)) } }
}

/// Calls per minute over the last hour as bars, failures in red; an SVG drawn here, so the
/// page needs no chart library.
fn chart(calls: &[u64], errors: &[u64]) -> Markup {
    let max = calls.iter().copied().max().unwrap_or(0).max(1);
    let (w, h) = (4u64, 40u64);
    let width = w * calls.len() as u64;
    let bar = |n: u64| (n * h).div_ceil(max);
    html! {
        svg.chart viewBox=(format!("0 0 {width} {h}")) role="img"
            aria-label="calls per minute over the last hour, failures in red" {
            @for (i, (c, e)) in calls.iter().zip(errors).enumerate() {
                @if *c > 0 {
                    rect.ok x=(i as u64 * w) y=(h - bar(*c)) width=(w - 1) height=(bar(*c)) {}
                }
                @if *e > 0 {
                    rect.bad x=(i as u64 * w) y=(h - bar(*e)) width=(w - 1) height=(bar(*e)) {}
                }
            }
        }
    }
}

fn ms_text(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(ms) if ms >= 1000.0 => format!("≤ {:.0}s", ms / 1000.0),
        Some(ms) => format!("≤ {ms:.0}ms"),
    }
}

/// Adapters: status, version, limits, hosts and the last hour of each.
pub(crate) fn adapters(viewer: &Viewer, runtime: &Runtime) -> Markup {
    let now = crate::clock::now_ms();
    let statuses = runtime.adapters();
    let recent = &runtime.shared().metrics.recent;
    frame(
        Some(viewer),
        "/ui",
        "Adapters",
        html! {
            h1 { "Adapters " span.count { (statuses.len()) } }
            @if statuses.is_empty() { p.notice { "No manifests in " code { (runtime.manifests_dir().display()) } "." } }
            div.cards {
                @for s in &statuses {
                    @let loaded = runtime.registry().get(&s.name);
                    @let scrub = scrubber(runtime, &s.name);
                    article.card.adapter id=(format!("adapter-{}", s.name)) data-status=(s.status) {
                        h2 { (s.name) " " span class=(format!("badge {}", s.status)) { (s.status) } }
                        @if let Some(e) = &s.error {
                            p.error role="alert" { (scrub.scrub(e)) }
                        }
                        dl {
                            dt { "Manifest" } dd { code { (s.file.display()) } }
                            @if let Some(v) = &s.version { dt { "Version" } dd { (v) } }
                            @if let Some(h) = &s.component_hash { dt { "Component" } dd { code title=(h) { (short_hash(h)) } } }
                            @if let Some(a) = &loaded { dt { "Loaded" } dd { (when(a.loaded_at_ms, now)) } }
                            @if !s.operations.is_empty() { dt { "Operations" } dd { (s.operations.join(", ")) } }
                        }
                        @if let Some(a) = &loaded {
                            @let l = &a.manifest.limits;
                            @let sum = recent.summary(&s.name);
                            section.hour {
                                h3 { "Last hour" }
                                (chart(&sum.calls, &sum.errors))
                                dl.stats {
                                    dt { "Calls" } dd.calls { (sum.total) }
                                    dt { "Errors" } dd {
                                        @if sum.total > 0 { (format!("{:.1}%", 100.0 * sum.failed as f64 / sum.total as f64)) } @else { "–" }
                                    }
                                    dt { "p50" } dd { (ms_text(sum.p50_ms)) }
                                    dt { "p99" } dd { (ms_text(sum.p99_ms)) }
                                }
                                @if !sum.outbound.is_empty() {
                                    p.outbound { "Outbound: "
                                        @for (class, n) in &sum.outbound {
                                            span class=(format!("pill s{}", class.chars().next().unwrap_or('e'))) { (class) " " (n) } " "
                                        }
                                    }
                                }
                            }
                            details {
                                summary { "Limits and hosts" }
                                dl {
                                    dt { "Concurrency" } dd { (l.concurrency) @if let Some(q) = l.queue { ", queue " (q) } }
                                    dt { "Timeout" } dd { (l.timeout) }
                                    dt { "CPU per call" } dd { (l.cpu_time) }
                                    dt { "Memory" } dd { (l.memory) }
                                    @if let Some(r) = &l.rate { dt { "Rate" } dd { (r) } }
                                    dt { "Storage" } dd { (l.storage) ", " (l.storage_keys) " keys" }
                                    dt { "Allowed hosts" } dd {
                                        @let hosts = a.manifest.allowed_hosts.patterns();
                                        @if hosts.is_empty() { "none" }
                                        @for (i, p) in hosts.iter().enumerate() { @if i > 0 { ", " } code { (p) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn problem_line(p: &serde_json::Value) -> String {
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
                        td { (j.attempt) "/" (j.max_attempts) }
                        td.error-text { @if let Some(e) = &j.last_error { (scrub.scrub(&problem_line(e))) } }
                        td { (when(j.updated_at_ms, now)) }
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
    query: &JobsQuery,
) -> Result<Markup, crate::store::StoreError> {
    let now = crate::clock::now_ms();
    let store = &runtime.shared().store;
    let counts = store.job_counts().await?;
    let adapter = query.adapter.as_deref().filter(|a| !a.is_empty());
    let filter = |state| JobFilter {
        state: Some(state),
        adapter,
        after: None,
    };
    // The newest LIST of each state (the store pages newest first); the rest are in the JSON
    // listing, `GET /v1/jobs?state=…`, which the page names.
    let dead = store.job_page(&filter(JobState::Dead), LIST).await?;
    let failing: Vec<JobRecord> = store
        .job_page(&filter(JobState::Queued), LIST * 2)
        .await?
        .into_iter()
        .filter(|j| j.last_error.is_some())
        .take(LIST as usize)
        .collect();
    let states = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Dead,
        JobState::Cancelled,
    ];
    let mut adapters: Vec<&str> = counts.iter().map(|(a, _, _)| a.as_str()).collect();
    adapters.dedup();
    let count_state = |s: JobState| {
        counts
            .iter()
            .filter(|(ca, cs, _)| *cs == s && adapter.is_none_or(|a| a == ca))
            .map(|(_, _, n)| *n)
            .sum::<i64>()
    };
    let count = |a: &str, s: JobState| {
        counts
            .iter()
            .filter(|(ca, cs, _)| ca == a && *cs == s)
            .map(|(_, _, n)| *n)
            .sum::<i64>()
    };
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
                        tr { td { a href=(format!("/ui/jobs?adapter={}", super::encode(a))) { (a) } }
                            @for s in states {
                                @let n = count(a, s);
                                td class=(if n > 0 && s == JobState::Dead { "num bad" } else { "num" }) { (n) }
                            }
                        }
                    }
                    @if adapters.is_empty() { tr { td colspan="6" { "No jobs yet." } } }
                }
            } }
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

/// Keys whose values a page never shows, whatever the adapter's secrets are.
fn sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "authorization",
        "credential",
        "private",
        "signature",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn redact_value(v: &mut serde_json::Value, scrub: &Redactor) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive_key(k) && !v.is_null() {
                    *v = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_value(v, scrub);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| redact_value(i, scrub)),
        serde_json::Value::String(s) => *s = scrub.scrub(s),
        _ => {}
    }
}

/// JSON text for a page: secret-looking keys masked, the adapter's secrets scrubbed, pretty,
/// cut at [`MAX_SHOWN`].
fn shown(text: &str, scrub: &Redactor) -> String {
    let mut out = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            redact_value(&mut v, scrub);
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

/// One job: its fields, input, attempts and output.
pub(crate) fn job(viewer: &Viewer, runtime: &Runtime, j: &JobRecord) -> Markup {
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
                dt { "Adapter" } dd { a href=(format!("/ui/jobs?adapter={}", super::encode(&j.adapter))) { (j.adapter) } }
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
            h2 { "Input" }
            pre { (shown(&j.input, &scrub)) }
            @if let Some(o) = &j.output {
                h2 { "Output" }
                pre { (shown(&o.to_string(), &scrub)) }
            }
        },
    )
}

/// Schedules: cadence in words, last run and outcome, next run, run now.
pub(crate) async fn schedules(viewer: &Viewer, runtime: &Runtime, done: Option<&str>) -> Markup {
    let now = crate::clock::now_ms();
    let list = runtime.schedules().await;
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

/// Tokens: per adapter and scope, whether one is held and how it fares; never the token.
pub(crate) fn tokens(viewer: &Viewer, runtime: &Runtime) -> Markup {
    let now = crate::clock::now_ms();
    let names = runtime.registry().names();
    frame(
        Some(viewer),
        "/ui/tokens",
        "Tokens",
        html! {
            h1 { "Tokens" }
            p.muted { "What this process holds; the tokens themselves are never shown." }
            div.scroll { table.tokens {
                thead { tr { th { "Adapter" } th { "Scope" } th { "Cached" } th { "Expires" } th { "Fetched" } th { "Failures" } th { "Next fetch allowed" } th { "Last error" } } }
                tbody {
                    @for name in &names {
                        @if let Some(a) = runtime.registry().get(name) {
                        @let health = runtime.shared().tokens.health(name);
                        @let min = i64::try_from(a.manifest.token.min_fetch_interval.get().as_millis()).unwrap_or(i64::MAX);
                        @let scrub = scrubber(runtime, name);
                        @if health.is_empty() {
                            tr data-adapter=(name) { td { (name) } td colspan="7" { span.muted { "no token asked for yet" } } }
                        }
                        @for h in &health {
                            tr data-adapter=(name) {
                                td { (name) }
                                td { @if h.scope.is_empty() { span.muted { "default" } } @else { (h.scope) } }
                                td { @if h.cached { span.badge.ready { "yes" } } @else { span.badge.muted { "no" } } }
                                td { @if let Some(t) = h.expires_at_ms { (when(t, now)) } }
                                td { @if let Some(t) = h.fetched_at_ms { (when(t, now)) } }
                                td class=(if h.failures > 0 { "num bad" } else { "num" }) { (h.failures)
                                    @if let Some(t) = h.last_failure_ms { " " span.muted { "(last " (when(t, now)) ")" } } }
                                td { @match h.last_attempt_ms.map(|t| t + min) {
                                    Some(t) if t > now => { "in " (span(t.saturating_sub(now))) " " span.muted { "(min interval " (a.manifest.token.min_fetch_interval) ")" } }
                                    _ => { "now" }
                                } }
                                td.error-text { @if let Some(e) = &h.last_error { (scrub.scrub(e)) } }
                            }
                        }
                        }
                    }
                }
            } }
        },
    )
}

/// Reloads: the manifests failing now, and the last changes and what they did.
pub(crate) fn reloads(viewer: &Viewer, runtime: &Runtime) -> Markup {
    let now = crate::clock::now_ms();
    let failures = runtime.load_errors();
    let history = runtime.registry().history();
    frame(
        Some(viewer),
        "/ui/reloads",
        "Reloads",
        html! {
            h1 { "Reloads" }
            h2 { "Failing now " span.count { (failures.len()) } }
            @if failures.is_empty() { p.muted { "Every manifest loads." } } @else {
                ul.failures { @for f in &failures { li.error { (f.to_string()) } } }
            }
            h2 { "Last changes" }
            @if history.is_empty() { p.muted { "Nothing loaded yet." } } @else {
                div.scroll { table.reloads {
                    thead { tr { th { "When" } th { "Adapter" } th { "What" } th { "Detail" } } }
                    tbody {
                        @for e in &history {
                            tr data-what=(e.what) {
                                td { (when(e.at_ms, now)) }
                                td { (e.adapter) br; span.muted { code { (e.file.display()) } } }
                                td { span class=(format!("badge {}", e.what)) { (e.what) } }
                                td class=(if e.what == "failed" { "error-text" } else { "" }) { (e.detail) }
                            }
                        }
                    }
                } }
            }
            p.muted { "Weft reloads when a manifest or component changes, on SIGHUP, and on "
                code { "POST /v1/admin/reload" } "." }
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
