//! Inventory adjustments: API170COF (sync), API170COB (async) with its follow-up polls of
//! API170NNF, and API170NNF on demand. Documents are checked against the manual's field table
//! before anything is sent.

use crate::envelope::{Outcome, Shape, classify, documents, text};
use crate::platform::{Platform, RequestId, digest, request_id, sent};
use serde::{Deserialize, Serialize};
use weft_sdk::dates::now_ms;
use weft_sdk::error::{detail, invalid_rows};
use weft_sdk::{AdapterError, CallContext, Detail, Result, Value, dates, jobs, json, storage};

const CREATE: &str = "create-inventory-adjustment";
const SUBMIT: &str = "submit-inventory-adjustment";
const QUERY: &str = "query-async-result";
const POLL: &str = "poll-inventory-adjustment";

/// The inventory statuses the manual lists for `invStatus_Text`.
const INV_STATUSES: &[&str] = &["正常", "冻结", "破损", "待定"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubmitInput {
    doc_list: Vec<Value>,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct QueryInput {
    request_id: String,
}

/// Input of a follow-up poll job.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollInput {
    request_id: String,
    poll: u32,
    submitted_at_ms: u64,
}

/// Field rules of the manual: (name, max characters, required in API170COF, required in
/// API170COB, kind).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Date,
}
const DOC_FIELDS: &[(&str, usize, bool, bool, Kind)] = &[
    ("docNo", 20, true, true, Kind::Text),
    ("org_Text", 60, false, true, Kind::Text),
    ("doctype_Name", 60, false, true, Kind::Text),
    ("movementDate", 10, false, true, Kind::Date),
    ("dateAcct", 10, false, false, Kind::Date),
    ("warehouse_Text", 60, true, true, Kind::Text),
    ("description", 255, false, false, Kind::Text),
];
const LINE_FIELDS: &[(&str, usize, bool, Kind)] = &[
    ("lineId", 20, false, Kind::Text),
    ("locator_Text", 60, true, Kind::Text),
    ("product_Text", 255, true, Kind::Text),
    ("lineDescription", 255, false, Kind::Text),
    ("lot", 40, false, Kind::Text),
    ("dateProduction", 10, false, Kind::Date),
    ("invStatus_Text", 60, true, Kind::Text),
];

fn check_text(
    problems: &mut Vec<Detail>,
    index: usize,
    field: &str,
    value: Option<&Value>,
    max: usize,
    required: bool,
    kind: Kind,
) {
    match value {
        None | Some(Value::Null) if required => {
            problems.push(detail(Some(index), Some(field), None, "required"))
        }
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if required && s.trim().is_empty() {
                problems.push(detail(
                    Some(index),
                    Some(field),
                    None,
                    "required, found empty",
                ));
            } else if s.chars().count() > max {
                problems.push(detail(
                    Some(index),
                    Some(field),
                    None,
                    format!("at most {max} characters, found {}", s.chars().count()),
                ));
            } else if kind == Kind::Date
                && !s.is_empty()
                && let Err(e) = dates::check_date(s)
            {
                problems.push(detail(Some(index), Some(field), None, e));
            }
        }
        Some(other) => problems.push(detail(
            Some(index),
            Some(field),
            None,
            format!("expected a string, found {other}"),
        )),
    }
}

/// `adjustQuantity` as the platform's bigdecimal(16,6) text: a signed decimal, not zero.
fn quantity(value: Option<&Value>) -> std::result::Result<String, String> {
    let text = match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Err("required".into()),
        Some(other) => return Err(format!("expected a decimal, found {other}")),
    };
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit());
    if !valid {
        return Err(format!(
            "expected a decimal such as \"-12.5\", found {text:?}"
        ));
    }
    if frac.len() > 6 || int.trim_start_matches('0').len() + frac.len() > 16 {
        return Err(format!(
            "at most 16 digits with 6 decimals (bigdecimal 16,6), found {text:?}"
        ));
    }
    if int.chars().chain(frac.chars()).all(|c| c == '0') {
        return Err("must not be 0 (positive adds stock, negative removes it)".into());
    }
    Ok(text)
}

/// Checks every document and line; answers them ready to send (line ids filled in where the
/// caller left them out, so results map back) and their shape.
fn check_documents(docs: Vec<Value>, asynchronous: bool) -> Result<(Vec<Value>, Shape)> {
    if docs.is_empty() {
        return Err(AdapterError::invalid_input(
            "docList: at least one document",
        ));
    }
    let mut problems = Vec::new();
    let mut shape = Shape::default();
    let mut out = Vec::with_capacity(docs.len());
    let mut seen = std::collections::HashSet::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let Value::Object(mut doc) = doc else {
            problems.push(detail(Some(i), None, None, "a document must be an object"));
            continue;
        };
        for key in doc.keys() {
            if key != "lineList" && !DOC_FIELDS.iter().any(|(f, ..)| f == key) {
                problems.push(detail(
                    Some(i),
                    Some(key),
                    None,
                    "not a field of the document",
                ));
            }
        }
        for (field, max, sync_required, async_required, kind) in DOC_FIELDS {
            let required = if asynchronous {
                *async_required
            } else {
                *sync_required
            };
            check_text(
                &mut problems,
                i,
                field,
                doc.get(*field),
                *max,
                required,
                *kind,
            );
        }
        let doc_no = doc
            .get("docNo")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !doc_no.is_empty() && !seen.insert(doc_no.clone()) {
            problems.push(detail(
                Some(i),
                Some("docNo"),
                None,
                format!("{doc_no:?} appears twice"),
            ));
        }
        let mut line_ids = Vec::new();
        match doc.get_mut("lineList") {
            Some(Value::Array(lines)) if !lines.is_empty() => {
                for (j, line) in lines.iter_mut().enumerate() {
                    let at = format!("lineList[{j}]");
                    let Value::Object(line) = line else {
                        problems.push(detail(Some(i), Some(&at), None, "a line must be an object"));
                        continue;
                    };
                    for key in line.keys() {
                        if key != "adjustQuantity" && !LINE_FIELDS.iter().any(|(f, ..)| f == key) {
                            problems.push(detail(
                                Some(i),
                                Some(&format!("{at}.{key}")),
                                None,
                                "not a field of a line",
                            ));
                        }
                    }
                    for (field, max, required, kind) in LINE_FIELDS {
                        let mut local = Vec::new();
                        check_text(
                            &mut local,
                            i,
                            field,
                            line.get(*field),
                            *max,
                            *required,
                            *kind,
                        );
                        problems.extend(local.into_iter().map(|mut d| {
                            d.field = Some(format!("{at}.{field}"));
                            d
                        }));
                    }
                    if let Some(status) = line.get("invStatus_Text").and_then(Value::as_str)
                        && !INV_STATUSES.contains(&status)
                    {
                        problems.push(detail(
                            Some(i),
                            Some(&format!("{at}.invStatus_Text")),
                            None,
                            format!("one of {}, found {status:?}", INV_STATUSES.join(", ")),
                        ));
                    }
                    match quantity(line.get("adjustQuantity")) {
                        Ok(q) => {
                            line.insert("adjustQuantity".into(), Value::String(q));
                        }
                        Err(e) => problems.push(detail(
                            Some(i),
                            Some(&format!("{at}.adjustQuantity")),
                            None,
                            e,
                        )),
                    }
                    let id = match line.get("lineId").and_then(Value::as_str) {
                        Some(id) if !id.is_empty() => id.to_string(),
                        _ => {
                            let id = (j + 1).to_string();
                            line.insert("lineId".into(), Value::String(id.clone()));
                            id
                        }
                    };
                    if line_ids.contains(&id) {
                        problems.push(detail(
                            Some(i),
                            Some(&format!("{at}.lineId")),
                            None,
                            format!("{id:?} appears twice"),
                        ));
                    }
                    line_ids.push(id);
                }
            }
            _ => problems.push(detail(Some(i), Some("lineList"), None, "at least one line")),
        }
        shape.docs.push((doc_no, line_ids));
        out.push(Value::Object(doc));
    }
    if let Some(e) = invalid_rows("docList", problems) {
        return Err(e);
    }
    Ok((out, shape))
}

fn check_request_id(id: &Option<String>) -> Result<()> {
    match id {
        Some(id) if id.is_empty() || id.chars().count() > 36 => Err(AdapterError::invalid_input(
            format!("requestId: 1 to 36 characters, found {id:?}"),
        )),
        _ => Ok(()),
    }
}

/// Keeps a request's document shape as long as its id is remembered.
fn save_shape(p: &Platform, id: &str, shape: &Shape) -> Result<()> {
    storage::set_json_expiring(&format!("shapes/{id}"), shape, p.remembered())
}

fn load_shape(id: &str) -> Result<Shape> {
    Ok(storage::get_json(&format!("shapes/{id}"))?.unwrap_or_default())
}

/// The caller's output for a final answer.
fn processed(request_id: &str, answer: &Value) -> Value {
    json!({
        "requestId": request_id,
        "status": "processed",
        "documents": documents(answer),
        "message": text(answer, "targetRequestErrorMsg").or_else(|| text(answer, "errorMsg")),
        "responseTime": text(answer, "responseTime"),
    })
}

/// A duplicate `requestId` is our own earlier submission when an earlier send of ours recorded
/// it (not this one) for a submission with the same documents.
fn ours(id: &RequestId, fields: &Value) -> Result<bool> {
    if id.fresh {
        return Ok(false);
    }
    Ok(sent(&id.id)?
        .is_some_and(|s| (s.op == CREATE || s.op == SUBMIT) && s.digest == digest(fields)))
}

fn foreign_duplicate(api: &str, id: &str, message: &str) -> AdapterError {
    AdapterError::rejected(
        "6",
        format!("{api}: requestId {id} is already used by another submission: {message}"),
    )
    .conflict()
}

/// API170NNF for `target`, with a request id of its own (a query changes nothing, so a fresh
/// one each time).
fn inquire(p: &Platform, target: &str, shape: &Shape) -> Result<Outcome> {
    let own = uuid::Uuid::new_v4().to_string();
    let answer = p.send(QUERY, &own, &json!({ "targetRequestId": target }))?;
    classify("API170NNF", answer, shape, false)
}

/// What a caller needs to settle a submission whose answer never came: the request id the
/// platform may hold, and how to ask for it again without creating a second document.
fn settle_hint(api: &str, id: &str, ctx: &CallContext) -> String {
    let again = match &ctx.idempotency_key {
        Some(key) => format!("run it again with Idempotency-Key {key:?}"),
        None => format!("run it again with \"requestId\": {id:?} in the input"),
    };
    format!(
        "{api} requestId {id}: no answer came, so the platform may or may not hold this submission; {again} (the same id is resent, never a second document), or ask query-async-result for {id}"
    )
}

/// API170COF: creates the documents and answers their numbers.
pub fn create(p: &Platform, ctx: &CallContext, input: Value) -> Result<Value> {
    let input: SubmitInput = weft_sdk::parse_input(input)?;
    check_request_id(&input.request_id)?;
    let (docs, shape) = check_documents(input.doc_list, false)?;
    let fields = json!({ "docList": docs });
    let sent = request_id(p, ctx, CREATE, input.request_id.as_deref(), &fields)?;
    let id = sent.id.clone();
    save_shape(p, &id, &shape)?;
    let answer = p
        .send(CREATE, &id, &fields)
        .map_err(|e| e.context(settle_hint("API170COF", &id, ctx)))?;
    match classify("API170COF", answer, &shape, true)? {
        Outcome::Done(answer) => Ok(processed(&id, &answer)),
        Outcome::Pending(_) => Err(AdapterError::transient(format!(
            "API170COF: request {id} is still being processed"
        ))),
        Outcome::Duplicate(message) => {
            if !ours(&sent, &fields)? {
                return Err(foreign_duplicate("API170COF", &id, &message));
            }
            // A resend after a lost answer: the platform kept the first one; its result is ours.
            match inquire(p, &id, &shape)? {
                Outcome::Done(answer) => Ok(processed(&id, &answer)),
                _ => Err(AdapterError::transient(format!(
                    "API170COF: the earlier submission {id} is still being processed"
                ))),
            }
        }
    }
}

/// API170COB: submits the documents and enqueues the first poll of their result.
pub fn submit(p: &Platform, ctx: &CallContext, input: Value) -> Result<Value> {
    let input: SubmitInput = weft_sdk::parse_input(input)?;
    check_request_id(&input.request_id)?;
    let (docs, shape) = check_documents(input.doc_list, true)?;
    let fields = json!({ "docList": docs });
    let sent = request_id(p, ctx, SUBMIT, input.request_id.as_deref(), &fields)?;
    let id = sent.id.clone();
    save_shape(p, &id, &shape)?;
    let answer = p
        .send(SUBMIT, &id, &fields)
        .map_err(|e| e.context(settle_hint("API170COB", &id, ctx)))?;
    let message = match classify("API170COB", answer, &shape, true)? {
        Outcome::Done(answer) | Outcome::Pending(answer) => text(&answer, "errorMsg"),
        Outcome::Duplicate(message) if ours(&sent, &fields)? => Some(message),
        Outcome::Duplicate(message) => return Err(foreign_duplicate("API170COB", &id, &message)),
    };
    let poll = PollInput {
        request_id: id.clone(),
        poll: 1,
        submitted_at_ms: now_ms(),
    };
    let job = enqueue_poll(&poll, p.poll.first)?;
    Ok(json!({
        "requestId": id,
        "status": "submitted",
        "message": message,
        "pollJob": job,
        "firstPollInMs": p.poll.first.as_millis() as u64,
    }))
}

fn enqueue_poll(poll: &PollInput, delay: std::time::Duration) -> Result<String> {
    // Keyed by request and poll number: a retried submission or poll enqueues the same job.
    let key = format!("hugevision-poll:{}:{}", poll.request_id, poll.poll);
    // Urgent: a poll answers work already submitted, and must not wait behind new bulk work.
    jobs::enqueue_urgent(POLL, poll, delay.as_millis() as u64, Some(&key))
}

/// A follow-up job: one API170NNF poll. Final → the result is this job's output (a data error
/// fails the job with per-line details); pending → the next poll is enqueued, later.
pub fn poll(p: &Platform, _ctx: &CallContext, input: Value) -> Result<Value> {
    let input: PollInput = weft_sdk::parse_input(input)?;
    let shape = load_shape(&input.request_id)?;
    match inquire(p, &input.request_id, &shape)? {
        Outcome::Done(answer) => Ok(processed(&input.request_id, &answer)),
        Outcome::Pending(answer) => {
            let waited = now_ms().saturating_sub(input.submitted_at_ms);
            if u128::from(waited) >= p.poll.give_up_after.as_millis() {
                return Err(AdapterError::rejected(
                    "pending",
                    format!(
                        "API170NNF: request {} still pending after {} polls over {} s (poll_give_up_after); query it later with query-async-result",
                        input.request_id,
                        input.poll,
                        waited / 1000
                    ),
                ));
            }
            let delay = p.poll.after(input.poll);
            let next = PollInput {
                request_id: input.request_id.clone(),
                poll: input.poll + 1,
                submitted_at_ms: input.submitted_at_ms,
            };
            let job = enqueue_poll(&next, delay)?;
            Ok(json!({
                "requestId": input.request_id,
                "status": "pending",
                "poll": input.poll,
                "message": text(&answer, "targetRequestErrorMsg").or_else(|| text(&answer, "errorMsg")),
                "nextPollJob": job,
                "nextPollInMs": delay.as_millis() as u64,
            }))
        }
        Outcome::Duplicate(message) => {
            Err(AdapterError::transient(format!("API170NNF: {message}")))
        }
    }
}

/// API170NNF on demand: the result of an earlier submission, or that it is still pending.
pub fn query_result(p: &Platform, _ctx: &CallContext, input: Value) -> Result<Value> {
    let input: QueryInput = weft_sdk::parse_input(input)?;
    check_request_id(&Some(input.request_id.clone()))?;
    let shape = load_shape(&input.request_id)?;
    match inquire(p, &input.request_id, &shape)? {
        Outcome::Done(answer) => Ok(processed(&input.request_id, &answer)),
        Outcome::Pending(answer) => Ok(json!({
            "requestId": input.request_id,
            "status": "pending",
            "message": text(&answer, "targetRequestErrorMsg").or_else(|| text(&answer, "errorMsg")),
        })),
        Outcome::Duplicate(message) => {
            Err(AdapterError::transient(format!("API170NNF: {message}")))
        }
    }
}
