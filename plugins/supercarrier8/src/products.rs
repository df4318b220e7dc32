//! The product family: one product (V1), V3 batches split into calls of `batch_max`, the paged
//! list, and the generic `call`.

use crate::platform::Platform;
use weft_sdk::error::{detail, invalid_rows};
use weft_sdk::http::Method;
use weft_sdk::paging::{self, At, Page};
use weft_sdk::{AdapterError, CallContext, Detail, Result, Value, json};

fn code_of<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    match item {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get(key).and_then(Value::as_str),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

/// Every item needs its product code; all problems at once, with the caller's indexes.
fn check_items(items: &[Value], key: &str, objects_only: bool) -> Result<()> {
    if items.is_empty() {
        return Err(AdapterError::invalid_input(
            "items: at least one item is required",
        ));
    }
    let problems: Vec<Detail> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            if objects_only && !item.is_object() {
                return Some(detail(Some(i), None, None, "expected a product object"));
            }
            code_of(item, key)
                .is_none()
                .then(|| detail(Some(i), Some(key), None, format!("{key} is required")))
        })
        .collect();
    invalid_rows("items", problems).map_or(Ok(()), Err)
}

/// `upsert-product`: one product object.
pub fn single(p: &Platform, input: Value) -> Result<Value> {
    let key = p.item_key("upsert-product");
    check_items(std::slice::from_ref(&input), &key, true)?;
    let ok = p.send_items(
        Method::Post,
        &p.path("upsert-product")?,
        Some(&input),
        (std::slice::from_ref(&input), &key),
    )?;
    Ok(json!({ "data": ok.data, "trace_id": ok.trace_id }))
}

/// True when `f`, a failList entry of a retried call, says the item is already where the call
/// wanted it: gone (delete) or in the asked state (enable, disable). The first attempt, whose
/// answer was lost, did it.
fn settled_by_earlier_attempt(op: &str, f: &Value) -> bool {
    let words = format!(
        "{} {}",
        f["code"].as_str().unwrap_or_default(),
        crate::platform::item_message(f).unwrap_or_default()
    )
    .to_lowercase();
    match op {
        "delete-products" => [
            "不存在",
            "not exist",
            "not found",
            "does not exist",
            "30404",
        ]
        .iter()
        .any(|w| words.contains(w)),
        "enable-products" => ["已启用", "已经启用", "already enabled", "already"]
            .iter()
            .any(|w| words.contains(w)),
        "disable-products" => ["已禁用", "已经禁用", "already disabled", "already"]
            .iter()
            .any(|w| words.contains(w)),
        _ => false,
    }
}

/// The V3 batch operations.
pub fn batch(ctx: &CallContext, p: &Platform, op: &str, input: Value) -> Result<Value> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        items: Vec<Value>,
    }
    let input: Input = weft_sdk::parse_input(input)?;
    let key = p.item_key(op);
    check_items(&input.items, &key, op == "upsert-products")?;
    let path = p.path(op)?;
    let retried = ctx.attempt > 1;
    let mut failed = Vec::new();
    let mut settled = Vec::new();
    let mut results = Vec::new();
    let mut traces = Vec::new();
    let sequences = weft_sdk::batch::sequences(input.items.len(), p.config.batch_max);
    for seq in &sequences {
        let offset = seq.rows.start;
        let chunk = &input.items[seq.rows.clone()];
        let list = Value::Array(chunk.to_vec());
        let body = match p.batch_field(op) {
            Some(field) => json!({ field: list }),
            None => list,
        };
        let ok = p
            .send_items(Method::Post, &path, Some(&body), (chunk, &key))
            .map_err(|e| shift(e, offset, seq.seq_id, sequences.len()))?;
        for f in ok.data["failList"].as_array().into_iter().flatten() {
            // A failed item names its index in the call or its product code.
            let index = crate::platform::item_index(f, &key, chunk).map(|i| offset + i);
            if retried && settled_by_earlier_attempt(op, f) {
                settled.push(
                    json!({ "index": index, "platform_said": crate::platform::item_message(f) }),
                );
                continue;
            }
            failed.push(json!({
                "index": index,
                "code": f["code"].clone(),
                "message": crate::platform::item_message(f).unwrap_or_else(|| format!("failed (the platform gave no reason; traceId {})", ok.trace_id)),
            }));
        }
        match &ok.data {
            Value::Array(items) => results.extend(items.iter().cloned()),
            Value::Null => {}
            other => {
                if let Some(list) = other["list"].as_array().or(other["successList"].as_array()) {
                    results.extend(list.iter().cloned());
                }
            }
        }
        traces.push(ok.trace_id);
    }
    // The failList is a partial success: the host shows it on the job and in its metrics.
    let rejected: Vec<weft_sdk::items::Rejected> = failed
        .iter()
        .map(|f| {
            weft_sdk::items::Rejected::new(
                f["index"].as_u64().map(|i| i as usize),
                match &f["code"] {
                    Value::String(c) => c.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                },
                f["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    weft_sdk::items::report(input.items.len() - failed.len(), &rejected);
    Ok(json!({
        "items": input.items.len(),
        "calls": sequences.len(),
        "succeeded": input.items.len() - failed.len(),
        "failed": failed,
        "settled_by_earlier_attempt": settled,
        "results": results,
        "trace_ids": traces,
    }))
}

/// Moves per-item indexes of a refused call to the caller's indexes and says which call it was.
fn shift(e: AdapterError, offset: usize, call: usize, calls: usize) -> AdapterError {
    match e {
        AdapterError::Rejected {
            code,
            message,
            details,
            conflict,
        } => AdapterError::Rejected {
            code,
            message: format!(
                "call {call} of {calls} (items from {offset}; earlier calls were accepted): {message}"
            ),
            details: details
                .into_iter()
                .map(|mut d| {
                    d.index = d.index.map(|i| i + offset as u32);
                    d
                })
                .collect(),
            conflict,
        },
        other => other,
    }
}

/// `list-products`: `{"page"?, "size"?, "all"?, "filters"?}`.
pub fn list(p: &Platform, input: Value) -> Result<Value> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        page: Option<u64>,
        size: Option<u64>,
        #[serde(default)]
        all: bool,
        #[serde(default)]
        filters: serde_json::Map<String, Value>,
    }
    let input: Input = weft_sdk::parse_input(input)?;
    let size = input.size.unwrap_or(100);
    if !(1..=1000).contains(&size) {
        return Err(AdapterError::invalid_input(format!(
            "size: expected 1 to 1000, found {size}"
        )));
    }
    let path = p.path("list-products")?;
    let c = &p.config;
    let first = input.page.unwrap_or(1).max(1);
    let fetch = |at: &At| {
        let page = match at {
            At::Number(n) => *n,
            _ => first,
        };
        let mut body = input.filters.clone();
        body.insert(c.page_field.clone(), json!(page));
        body.insert(c.size_field.clone(), json!(size));
        let ok = p.send(Method::Post, &path, Some(&Value::Object(body)))?;
        let got = ok.data[c.records_field.as_str()]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total = ok.data[c.total_field.as_str()]
            .as_u64()
            .and_then(|t| usize::try_from(t).ok());
        let before = usize::try_from((page - first) * size).unwrap_or(usize::MAX);
        let mut page = Page::by_number(got, page, size as usize, total, before);
        if !input.all {
            page.next = None;
        }
        Ok(page)
    };
    // At most 10,000 pages: a platform that never ends a list cannot keep us forever.
    let listing = paging::read("list-products", At::Number(first), 10_000, fetch)?;
    Ok(json!({ "records": listing.items, "total": listing.total, "pages_read": listing.pages }))
}

/// `call`: `{"method", "path", "body"?}` with the same token and error handling.
pub fn call(p: &Platform, input: Value) -> Result<Value> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        method: String,
        path: String,
        body: Option<Value>,
    }
    let input: Input = weft_sdk::parse_input(input)?;
    let method = match input.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => {
            return Err(AdapterError::invalid_input(format!(
                "method: expected GET, POST, PUT, PATCH or DELETE, found {other:?}"
            )));
        }
    };
    if !input.path.starts_with('/') || input.path.contains("..") || input.path.contains("://") {
        return Err(AdapterError::invalid_input(format!(
            "path: expected a path under base_url such as \"/cncop/demo\", found {:?}",
            input.path
        )));
    }
    let ok = p.send(method, &input.path, input.body.as_ref())?;
    Ok(json!({ "data": ok.data, "trace_id": ok.trace_id }))
}
