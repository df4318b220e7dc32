//! The adapters page: each adapter's status, version, limits, and its last hour.

use super::*;

/// Adapters: status, version, limits, hosts and the last hour of each.
pub(crate) fn adapters(
    viewer: &Viewer,
    runtime: &Runtime,
    paused: &std::collections::BTreeMap<String, crate::pause::Paused>,
    queues: &std::collections::BTreeMap<String, crate::operations::Queue>,
) -> Markup {
    let now = crate::clock::now_ms();
    let statuses = runtime.adapters();
    let recent = &runtime.metrics().recent;
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
                        h2 { (s.name) " " span class=(format!("badge {}", s.status)) { (s.status) }
                            @if let Some(p) = paused.get(&s.name) {
                                " " span.badge.paused title=(format!("since {}", crate::clock::rfc3339(p.since_ms))) {
                                    @if p.refuse_calls { "paused, calls refused" } @else { "paused" }
                                }
                            }
                        }
                        p.actions {
                            @if paused.contains_key(&s.name) {
                                (action(viewer, &format!("/ui/adapters/{}/resume", s.name), "Resume", "run", &[]))
                            } @else {
                                (action(viewer, &format!("/ui/adapters/{}/pause", s.name), "Pause jobs", "cancel", &[]))
                                (action(viewer, &format!("/ui/adapters/{}/pause", s.name), "Pause jobs and calls", "cancel", &[("calls", "refuse")]))
                            }
                            @if viewer.can_act { " " a.storage href=(format!("/ui/adapters/{}/storage", s.name)) { "Storage" } }
                        }
                        @if let Some(e) = &s.error {
                            p.error role="alert" { (scrub.scrub(e)) }
                        }
                        dl {
                            dt { "Manifest" } dd { code { (s.file.display()) } }
                            @if let Some(v) = &s.version { dt { "Version" } dd { (v) } }
                            @if let Some(h) = &s.component_hash { dt { "Component" } dd { code title=(h) { (short_hash(h)) } } }
                            @if let Some(a) = &loaded { dt { "Loaded" } dd { (when(a.loaded_at_ms, now)) } }
                            @if !s.operations.is_empty() { dt { "Operations" } dd { (s.operations.join(", ")) } }
                            @if let Some(q) = queues.get(&s.name) {
                                dt { "Jobs" } dd.queue {
                                    (q.queued.map_or("–".into(), |n| n.to_string())) " queued, "
                                    (q.running.map_or("–".into(), |n| n.to_string())) " running"
                                    @if let Some(lag) = q.lag_seconds.filter(|l| *l > 0) { ", oldest due " (lag) " s ago" }
                                }
                            }
                        }
                        @if let Some(a) = &loaded { (last_hour_and_limits(&a.manifest, recent)) }
                    }
                }
            }
        },
    )
}

/// One loaded adapter's last hour (calls, errors, latency, outbound statuses) and its limits
/// and allowed hosts.
fn last_hour_and_limits(
    manifest: &crate::manifest::Manifest,
    recent: &crate::recent::Recent,
) -> Markup {
    html! {
        @let l = &manifest.limits;
        @let sum = recent.summary(&manifest.name);
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
                    @let hosts = manifest.allowed_hosts.patterns();
                    @if hosts.is_empty() { "none" }
                    @for (i, p) in hosts.iter().enumerate() { @if i > 0 { ", " } code { (p) } }
                }
            }
        }
    }
}
