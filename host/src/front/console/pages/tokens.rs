//! The tokens page: per adapter and scope, whether a token is cached and for how long, and
//! the fetches that failed. The token itself is never shown.

use super::*;

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
                        @let health = runtime.token_health(name);
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
