//! A call's timeline on the job page: what became of its items (partial success), its durable
//! steps, then each kept attempt with its exchanges — when, which step, what was sent where, what came back — bodies folded away.

use super::*;
use serde_json::Value;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn message(title: &str, m: &Value, scrub: &Redactor) -> Markup {
    let headers: Vec<String> = m["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some(format!("{}: {}", h.get(0)?.as_str()?, h.get(1)?.as_str()?)))
        .collect();
    let bytes = m["bytes"].as_u64().unwrap_or(0);
    html! {
        details {
            summary { (title) " · " (bytes) " bytes" @if m["cut"] == true { " (cut)" } }
            @if !headers.is_empty() { pre.headers { (scrub.scrub(&headers.join("\n"))) } }
            @if let Some(body) = m["body"].as_str() { pre { (scrub.scrub(body)) } }
        }
    }
}

/// The timeline of `record` (as `GET /v1/jobs/{id}/journal` answers it).
pub(super) fn timeline(record: &Value, scrub: &Redactor, now: i64) -> Markup {
    let steps = record["steps"].as_array().cloned().unwrap_or_default();
    let attempts = record["attempts"].as_array().cloned().unwrap_or_default();
    let items = &record["items"];
    let refused = items["rejected_items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        @if !items.is_null() {
            h2 { "Items" }
            p.items {
                strong data-items-accepted=(text(&items["accepted"])) { (text(&items["accepted"])) } " accepted · "
                strong data-items-rejected=(text(&items["rejected"])) { (text(&items["rejected"])) } " rejected by the platform"
                @if items["rejected"].as_u64().unwrap_or(0) > refused.len() as u64 { " (the first " (refused.len()) " shown)" }
            }
            @if !refused.is_empty() {
                div.scroll { table.rejected-items {
                    thead { tr { th { "Index" } th { "Code" } th { "Reason" } } }
                    tbody {
                        @for r in &refused {
                            tr {
                                td { (text(&r["index"])) }
                                td { code { (scrub.scrub(&text(&r["code"]))) } }
                                td { (scrub.scrub(&text(&r["message"]))) }
                            }
                        }
                    }
                } }
            }
        }
        @if !steps.is_empty() {
            h2 { "Steps " span.count { (steps.len()) } }
            div.scroll { table.steps {
                thead { tr { th { "Step" } th { "State" } th { "When" } } }
                tbody {
                    @for s in &steps {
                        tr data-step-state=(text(&s["state"])) {
                            td { code { (scrub.scrub(&text(&s["name"]))) } }
                            td { span class=(format!("badge {}", text(&s["state"]))) { (text(&s["state"])) } }
                            td { @if let Some(t) = s["at_ms"].as_i64() { (when(t, now)) } }
                        }
                    }
                }
            } }
        }
        @if !attempts.is_empty() {
            h2 { "Exchanges" }
            @for a in &attempts {
                section.attempt {
                    h3 { "Attempt " (text(&a["attempt"])) " · " (text(&a["outcome"]))
                        @if let Some(t) = a["ended_at_ms"].as_i64() { " · " (when(t, now)) } }
                    @if let Some(e) = a["error"].as_str() { p.error-text { (scrub.scrub(e)) } }
                    @let exchanges = a["exchanges"].as_array().cloned().unwrap_or_default();
                    @if exchanges.is_empty() { p.muted { "No platform exchange." } }
                    ol.exchanges {
                        @for x in &exchanges {
                            li {
                                p {
                                    @if let Some(t) = x["at_ms"].as_i64() { (timestamp(t)) " " }
                                    @if let Some(step) = x["step"].as_str() { span.pill { (scrub.scrub(step)) } " " }
                                    @if x["token_fetch"] == true { span.pill { "token" } " " }
                                    code { (text(&x["method"])) " " (scrub.scrub(&text(&x["url"]))) }
                                    " → "
                                    @if let Some(status) = x["status"].as_u64() { strong { (status) } }
                                    @if let Some(e) = x["error"].as_str() { span.error-text { (scrub.scrub(e)) } }
                                    " · " (text(&x["elapsed_ms"])) " ms"
                                }
                                (message("Request", &x["request"], scrub))
                                @if !x["response"].is_null() { (message("Answer", &x["response"], scrub)) }
                            }
                        }
                    }
                    @if a["dropped"].as_u64().unwrap_or(0) > 0 {
                        p.muted { (text(&a["dropped"])) " more exchanges were not kept ([journal] max_exchanges)." }
                    }
                }
            }
        }
    }
}
