//! `weft fixture from-call`: a `weft test` fixture from what the journal kept of a call — its
//! input, the platform's answers to play back, the requests to match, and the outcome it had
//! as the expectation. The journal holds nothing secret (see [`crate::journal`]): a replay
//! hands the adapter `[redacted]` where a token was.

use super::{body_value, case_for, rebase};
use crate::manifest::Manifest;
use serde_json::Value;

/// The fixture for `record` (as `GET /v1/calls/{id}` answers it) of the adapter of `manifest`;
/// `input` is the call's whole input when known (a job's), else the journal's. Every kept
/// attempt's exchanges are played in order, and the case allows as many attempts, so that the
/// replay's retries (and its durable steps) meet the same answers. Answers the TOML text.
pub fn fixture_from_call(
    record: &Value,
    manifest: &Manifest,
    input: Option<&str>,
) -> Result<String, String> {
    let attempts = record["attempts"].as_array().cloned().unwrap_or_default();
    let last = attempts
        .last()
        .ok_or("nothing of this call's attempts is kept: its journal is needed")?;
    let label = last["label"].as_str().unwrap_or_default();
    let (kind, what) = match last["export"].as_str() {
        Some("invoke") => ("operation", label),
        Some("on-schedule") => ("schedule", label.trim_start_matches("on-schedule:")),
        other => {
            return Err(format!(
                "a fixture replays an operation or a schedule, not {}",
                other.unwrap_or("this call")
            ));
        }
    };
    let input = match input {
        Some(text) => serde_json::from_str::<Value>(text).ok(),
        None => Some(last["input"].clone()).filter(|v| !v.is_null()),
    };
    if input.as_ref().is_some_and(|v| v["cut"] == true) {
        return Err("the call's input was too large to keep: a fixture needs it whole".into());
    }
    // The addresses the call talked to follow the fake platform of a replay, wherever they
    // appear in the input (an operation told where to send).
    let mut origins: Vec<String> = attempts
        .iter()
        .flat_map(|a| a["exchanges"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| url::Url::parse(x["url"].as_str()?).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    origins.sort();
    origins.dedup();
    let input = input.map(|v| origins.iter().fold(v, |v, o| rebase(&v, o)));
    let mut case = case_for(manifest, kind, what, input.as_ref());
    case.insert(
        "max_attempts".into(),
        i64::try_from(attempts.len().max(1)).unwrap_or(1).into(),
    );
    let exchanges: Vec<toml::Value> = attempts
        .iter()
        .flat_map(|a| a["exchanges"].as_array().cloned().unwrap_or_default())
        .map(|x| toml::Value::Table(exchange(&x)))
        .collect();
    case.insert("exchanges".into(), exchanges.into());
    let mut expect = toml::Table::new();
    match last["outcome"].as_str() {
        Some("ok") => {}
        Some(kind) => {
            expect.insert("error".into(), kind.into());
            if let Some(code) = last["platform_code"].as_str() {
                expect.insert("platform_code".into(), code.into());
            }
        }
        None => {}
    }
    case.insert("expect".into(), expect.into());
    let text = toml::to_string(&case).map_err(|e| e.to_string())?;
    let call = record["call_id"].as_str().unwrap_or_default();
    Ok(format!(
        "# From call {call} with `weft fixture from-call`: the journal's exchanges, nothing secret kept ([redacted] where it was). Trim what a replay need not match (ids, times).\n{text}"
    ))
}

/// One journaled exchange as a fixture's `[[exchanges]]` entry: the request's method and path
/// to match, in order, and the platform's answer to play back. Bodies and query strings are
/// not matched: a call's carry times, nonces and signatures that differ at every run, and
/// what the journal masked; add `body`, `query` or `headers` by hand to match more.
fn exchange(x: &Value) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert(
        "method".into(),
        x["method"].as_str().unwrap_or("GET").into(),
    );
    let url = x["url"].as_str().and_then(|u| url::Url::parse(u).ok());
    let path = url.as_ref().map_or(String::new(), |u| u.path().to_string());
    t.insert("path".into(), path.into());
    let mut answer = toml::Table::new();
    match x["status"].as_u64() {
        Some(status) => {
            answer.insert("status".into(), i64::try_from(status).unwrap_or(200).into());
            let response = &x["response"];
            let headers: toml::Table = response["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| Some((h.get(0)?.as_str()?, h.get(1)?.as_str()?)))
                .filter(|(k, _)| *k == "content-type" || *k == "retry-after")
                .map(|(k, v)| (k.to_string(), toml::Value::from(v)))
                .collect();
            if !headers.is_empty() {
                answer.insert("headers".into(), headers.into());
            }
            if let Some(body) = response["body"].as_str() {
                answer.insert("body".into(), body_value(body));
            }
        }
        None => {
            answer.insert("drop".into(), true.into());
        }
    }
    t.insert("answer".into(), answer.into());
    t
}
