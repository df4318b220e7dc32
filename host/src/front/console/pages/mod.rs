//! The console's pages, as `maud` templates: a shared frame (header, navigation, who is
//! signed in) around one section per page.

mod adapters;
mod jobs;
mod reloads;
mod schedules;
mod storage;
mod timeline;
mod tokens;

pub(crate) use adapters::adapters;
pub(crate) use jobs::{job, jobs};
pub(crate) use reloads::reloads;
pub(crate) use schedules::{schedule, schedules};
pub(crate) use storage::{StorageView, storage};
pub(crate) use tokens::tokens;

use super::words::{cadence, relative, span, timestamp};
use super::{JobsQuery, Viewer};
use crate::operations::{JobFilter, JobRecord, JobState, Operations, StoreError};
use crate::redact::Redactor;
use crate::runtime::Runtime;
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
    for token in runtime.cached_tokens(adapter) {
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
