//! `weft invoke --record DIR`: the platform exchanges of a real call, written as a fixture for
//! `weft test`, with the adapter's secrets and every token it was handed redacted. A token
//! endpoint's request body (which carries credentials, or values derived from them) is never
//! written, nor any request body that held a secret; answers keep their shape with the values
//! redacted, so a replay hands the adapter `[redacted]` as its token.

mod journal;

pub use journal::fixture_from_call;

use crate::http::Recorded;
use crate::manifest::Manifest;
use crate::redact::Redactor;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// JSON without nulls (TOML has none), as TOML.
fn to_toml(v: &Value) -> Option<toml::Value> {
    fn strip(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Array(a) => Some(Value::Array(a.iter().filter_map(strip).collect())),
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, v)| strip(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    toml::Value::try_from(strip(v)?).ok()
}

fn rebase(v: &Value, root: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(root, "{base}")),
        Value::Array(a) => Value::Array(a.iter().map(|x| rebase(x, root)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), rebase(x, root)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The body as TOML: JSON when it is JSON, else its text.
fn body_value(text: &str) -> toml::Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
        .and_then(|v| to_toml(&v))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Writes `exchanges` of a call of `op` on the adapter of `manifest` as a fixture in `dir`;
/// answers its path.
/// `tokens` are the tokens the call was handed (redacted like secrets).
pub fn write_fixture(
    dir: &Path,
    manifest: &Manifest,
    op: &str,
    input: &str,
    outcome: &Result<String, crate::InvokeError>,
    exchanges: &[Recorded],
    tokens: &[String],
) -> std::io::Result<PathBuf> {
    let mut redactor = Redactor::new(manifest.secrets.values().map(|s| s.expose()));
    for t in tokens {
        redactor.add(t);
    }
    let scrub = |s: &str| redactor.scrub(s);
    let input = serde_json::from_str::<Value>(&scrub(input)).ok();
    let mut case = case_for(manifest, "operation", op, input.as_ref());
    let list: Vec<toml::Value> = exchanges
        .iter()
        .map(|e| toml::Value::Table(exchange_table(e, &scrub)))
        .collect();
    case.insert("exchanges".into(), list.into());
    case.insert("expect".into(), expectation(outcome, &scrub).into());
    let text = toml::to_string(&case).map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{op}-{}.toml", crate::clock::now_ms()));
    std::fs::write(
        &path,
        format!(
            "# Recorded by `weft invoke --record`: secrets and tokens redacted. Trim what a replay need not match (ids, times).\n{text}"
        ),
    )?;
    Ok(path)
}

/// A fixture case for `manifest`'s adapter: what it runs (`kind` is "operation" or
/// "schedule"), its input, and the manifest's `base_url` path, `[config]` (URLs on the
/// platform's own address following the fake platform, `{base}`) and secret names with
/// stand-in values.
fn case_for(manifest: &Manifest, kind: &str, what: &str, input: Option<&Value>) -> toml::Table {
    let mut case = toml::Table::new();
    case.insert(kind.into(), what.into());
    if let Some(v) = input.and_then(to_toml) {
        case.insert("input".into(), v);
    }
    if let Some(base) = &manifest.base_url {
        let path = base.path().trim_end_matches('/');
        if !path.is_empty() {
            case.insert("base_path".into(), path.into());
        }
    }
    let mut config = manifest.config.clone();
    if let Some(o) = config.as_object_mut() {
        o.remove("base_url");
    }
    if let Some(base) = &manifest.base_url {
        let root = base.origin().ascii_serialization();
        config = rebase(&config, &root);
    }
    if let Some(t) = to_toml(&config) {
        case.insert("config".into(), t);
    }
    let mut secrets = toml::Table::new();
    for name in manifest.secrets.keys() {
        secrets.insert(name.clone(), format!("recorded-{name}").into());
    }
    case.insert("secrets".into(), secrets.into());
    case
}

/// One recorded exchange as a fixture's `[[exchanges]]` entry: what the request must match
/// (with nothing `scrub` would change: a body or query value that carried a secret is left
/// out) and the platform's answer to play back.
fn exchange_table(e: &Recorded, scrub: &dyn Fn(&str) -> String) -> toml::Table {
    let mut x = toml::Table::new();
    x.insert("method".into(), e.method.clone().into());
    let url = url::Url::parse(&e.url).ok();
    x.insert(
        "path".into(),
        url.as_ref()
            .map_or(String::new(), |u| u.path().to_string())
            .into(),
    );
    let mut query = toml::Table::new();
    for (k, v) in url.iter().flat_map(|u| u.query_pairs().into_owned()) {
        let shown = scrub(&v);
        if shown == v {
            query.insert(k, v.into());
        }
    }
    if !query.is_empty() {
        x.insert("query".into(), query.into());
    }
    let text = String::from_utf8_lossy(&e.body).into_owned();
    // A token call's body carries credentials or values derived from them, which the
    // redactor cannot recognise: never written.
    let form = e
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("x-www-form-urlencoded"));
    if !e.token_fetch && !text.is_empty() && scrub(&text) == text {
        match serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| to_toml(&v))
        {
            Some(v) => {
                x.insert("body".into(), v);
            }
            None => {
                x.insert("body_contains".into(), vec![toml::Value::from(text)].into());
            }
        }
    } else if !e.token_fetch && form {
        // A form with a secret in one field: the other fields, as sent, still say what the
        // request carried.
        let kept: Vec<toml::Value> = text
            .split('&')
            .filter(|pair| !pair.is_empty() && scrub(pair) == *pair)
            .map(toml::Value::from)
            .collect();
        if !kept.is_empty() {
            x.insert("body_contains".into(), kept.into());
        }
    }
    let mut answer = toml::Table::new();
    match &e.answer {
        Ok(crate::http::OutboundResponse {
            status,
            headers,
            body,
        }) => {
            answer.insert("status".into(), i64::from(*status).into());
            let kept: toml::Table = headers
                .iter()
                .filter(|(k, _)| {
                    k.eq_ignore_ascii_case("content-type") || k.eq_ignore_ascii_case("retry-after")
                })
                .map(|(k, v)| (k.to_ascii_lowercase(), toml::Value::from(scrub(v))))
                .collect();
            if !kept.is_empty() {
                answer.insert("headers".into(), kept.into());
            }
            let body = scrub(&String::from_utf8_lossy(body));
            if !body.is_empty() {
                answer.insert("body".into(), body_value(&body));
            }
        }
        Err(_) => {
            answer.insert("drop".into(), true.into());
        }
    }
    x.insert("answer".into(), answer.into());
    x
}

/// A fixture's `[expect]` from the call's outcome: its output, or its error kind and the
/// platform's code.
fn expectation(
    outcome: &Result<String, crate::InvokeError>,
    scrub: &dyn Fn(&str) -> String,
) -> toml::Table {
    let mut expect = toml::Table::new();
    match outcome {
        Ok(output) => {
            let shown = scrub(output);
            let v = serde_json::from_str::<Value>(&shown).unwrap_or(Value::String(shown));
            if let Some(t) = to_toml(&v) {
                expect.insert("output".into(), t);
            }
        }
        Err(e) => {
            expect.insert("error".into(), e.kind.as_str().into());
            if let Some(code) = &e.platform_code {
                expect.insert("platform_code".into(), scrub(code).into());
            }
        }
    }
    expect
}
