//! The reloads page: the manifests failing now, and the last reload events.

use super::*;

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
