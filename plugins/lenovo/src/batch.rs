//! `sync`: validation, batch identity, sequences of at most `seq_max` rows, per-sequence
//! progress in storage, and the document's codes mapped to error kinds.

use crate::codec::{self, Answer, Envelope, Format};
use crate::rows::{Cell, Row, RowIn, Rows};
use serde_json::{Map, Value, json};
use weft_sdk::dates::now_ms;
use weft_sdk::error::{detail, invalid_rows};
use weft_sdk::http::{Method, Request, join};
use weft_sdk::items::Rejected;
use weft_sdk::{AdapterError, CallContext, Detail, Result, batch, config, digest, storage, tokens};

/// The document's upper bound of rows per request.
pub(crate) const SEQ_LIMIT: usize = 500;
/// How long a run holds a batch before another run may take it over.
const LEASE_MS: u64 = 10 * 60 * 1000;

#[derive(serde::Deserialize)]
struct Config {
    base_url: String,
    seq_max: usize,
    app_name: Option<String>,
    format: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncInput<'a> {
    data_category: String,
    biz_key: String,
    action: String,
    #[serde(borrow)]
    rows: Vec<RowIn<'a>>,
    batch_id: Option<String>,
    format: Option<String>,
}

/// What storage keeps about a batch, so that a rerun resumes it and a reuse is caught.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct BatchRecord {
    fingerprint: String,
    total: usize,
    seq_max: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Lease {
    owner: String,
    until_ms: u64,
}

fn path_segment(name: &str, value: &str) -> Result<()> {
    let ok = (1..=100).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && value != "."
        && value != "..";
    if ok {
        Ok(())
    } else {
        Err(AdapterError::invalid_input(format!(
            "{name}: expected 1 to 100 characters A-Z, a-z, 0-9, '_', '-' or '.', found {value:?}"
        )))
    }
}

fn xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        // Compared in place: a lowercased copy of every name was an allocation per cell.
        && !name
            .as_bytes()
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xml"))
}

/// Rows must be flat objects of scalars with field names usable in JSON and XML alike.
fn check_rows(rows: Vec<RowIn<'_>>) -> Result<Vec<Row<'_>>> {
    if rows.is_empty() {
        return Err(AdapterError::invalid_input(
            "rows: at least one row is required",
        ));
    }
    let mut problems: Vec<Detail> = Vec::new();
    let mut out: Vec<Row<'_>> = Vec::with_capacity(rows.len());
    let mut last_good: Option<usize> = None;
    for (i, row) in rows.into_iter().enumerate() {
        match row {
            RowIn::Object(map) => {
                if map.is_empty() {
                    problems.push(detail(
                        Some(i),
                        None,
                        None,
                        "a row needs at least one field",
                    ));
                }
                // Rows mostly repeat the names of the last row whose names were all good.
                let good = last_good
                    .and_then(|g| out.get(g))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let mut names_ok = true;
                for (j, (k, v)) in map.iter().enumerate() {
                    if good.get(j).is_none_or(|(name, _)| name != k) && !xml_name(k) {
                        names_ok = false;
                        problems.push(detail(Some(i), Some(k), None, "field names are letters, digits, '_', '-' or '.', starting with a letter or '_'"));
                    }
                    if *v == Cell::Nested {
                        problems.push(detail(
                            Some(i),
                            Some(k),
                            None,
                            "values must be strings, numbers, booleans or null (rows are flat)",
                        ));
                    }
                }
                if names_ok {
                    last_good = Some(out.len());
                }
                out.push(map);
            }
            RowIn::Other(other) => problems.push(detail(
                Some(i),
                None,
                None,
                format!("expected a flat object, found {other}"),
            )),
        }
        if problems.len() >= 100 {
            break;
        }
    }
    if let Some(e) = invalid_rows("rows", problems) {
        return Err(e);
    }
    Ok(out)
}

fn check_batch_id(id: &str) -> Result<()> {
    let ok = (1..=16).contains(&id.chars().count())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AdapterError::invalid_input(format!(
            "batch_id: expected 1 to 16 characters A-Z, a-z, 0-9, '_' or '-', found {id:?}"
        )))
    }
}

/// A new batch id (16 characters): `yyMMddHH` of UTC time, then 8 base-32 characters of a hash
/// of the call id, the time and an attempt counter (about 10^12 ids per hour).
fn new_batch_id(ctx: &CallContext, salt: u32) -> Result<String> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let stamp = weft_sdk::dates::stamp_utc()?;
    let hash = digest::sha256(format!("{}:{}:{salt}", ctx.call_id, now_ms()).as_bytes())?;
    let tail: String = hash
        .iter()
        .take(8)
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect();
    Ok(format!("{}{tail}", &stamp[..8]))
}

/// Runs (or resumes) one batch; `input` is the caller's JSON text.
pub fn sync(ctx: &CallContext, input: &str) -> Result<Value> {
    let cfg: Config = config::typed()?;
    if let Some(app) = &cfg.app_name
        && app.chars().count() > 10
    {
        return Err(AdapterError::invalid_input(format!(
            "manifest [config] app_name: at most 10 characters, found {app:?}"
        )));
    }
    let input: SyncInput<'_> = serde_json::from_str(input)
        .map_err(|e| AdapterError::invalid_input(format!("input: {e}")))?;
    path_segment("data_category", &input.data_category)?;
    path_segment("biz_key", &input.biz_key)?;
    let method = match input.action.as_str() {
        "add" => Method::Post,
        "update" => Method::Put,
        "delete" => Method::Delete,
        "overwrite" => Method::Patch,
        other => {
            return Err(AdapterError::invalid_input(format!(
                "action: expected \"add\", \"update\", \"delete\" or \"overwrite\", found {other:?}"
            )));
        }
    };
    let format = Format::parse(input.format.as_deref().unwrap_or(&cfg.format))?;
    // The fingerprint covers the target and every row: written after this header, the rows'
    // JSON is hashed with it in one host call.
    let header = format!(
        "{}\0{}\0{}\0",
        input.data_category, input.biz_key, input.action
    );
    let rows = Rows::new(header.as_bytes(), check_rows(input.rows)?);
    if let Some(id) = &input.batch_id {
        check_batch_id(id)?;
    }
    let fingerprint = hex::encode(digest::sha256(rows.json.prefixed())?);
    // The batch of this call: the caller's, or the one an earlier attempt of this call made.
    let call_key = format!("call/{}", ctx.call_id);
    let record = BatchRecord {
        fingerprint,
        total: rows.rows.len(),
        seq_max: cfg.seq_max,
    };
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    let batch_id = match input.batch_id {
        Some(id) => id,
        None => match storage::get_json::<String>(&call_key)? {
            Some(id) => id,
            None => {
                // Claim a fresh id: its record is created here, so two batches can never share
                // one however unlucky the hash.
                let mut claimed = None;
                for salt in 0..8 {
                    let id = new_batch_id(ctx, salt)?;
                    if storage::compare_and_swap(&format!("batch/{id}"), None, Some(&bytes))? {
                        claimed = Some(id);
                        break;
                    }
                }
                let id = claimed
                    .ok_or_else(|| AdapterError::transient("no free batch id after 8 tries"))?;
                storage::set_json(&call_key, &id)?;
                id
            }
        },
    };
    let record_key = format!("batch/{batch_id}");
    if !storage::compare_and_swap(&record_key, None, Some(&bytes))? {
        let existing: Option<BatchRecord> = storage::get_json(&record_key)?;
        match existing {
            Some(e) if e.fingerprint == record.fingerprint && e.seq_max == record.seq_max => {}
            Some(_) => {
                return Err(AdapterError::invalid_input(format!(
                    "batch_id {batch_id:?} was already used for other rows, another target or another seq_max: a batch id is unique per batch"
                )));
            }
            None => {
                return Err(AdapterError::transient(format!(
                    "batch {batch_id} record vanished; try again"
                )));
            }
        }
    }
    let lease_key = format!("batch/{batch_id}/lease");
    take_lease(&lease_key, ctx, &batch_id)?;
    let result = send_all(
        &cfg,
        &input.data_category,
        &input.biz_key,
        method,
        format,
        &batch_id,
        &rows,
    );
    let _ = storage::delete(&lease_key);
    result
}

/// One run at a time per batch: an overwrite in particular must never run twice at once.
fn take_lease(key: &str, ctx: &CallContext, batch_id: &str) -> Result<()> {
    let owner = format!("{}#{}", ctx.call_id, ctx.attempt);
    let mine = serde_json::to_vec(&Lease {
        owner: owner.clone(),
        until_ms: now_ms() + LEASE_MS,
    })
    .unwrap_or_default();
    if storage::compare_and_swap(key, None, Some(&mine))? {
        return Ok(());
    }
    let current = storage::get(key)?;
    let lapsed = current
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Lease>(b).ok())
        .is_none_or(|l| l.until_ms < now_ms() || l.owner.starts_with(&format!("{}#", ctx.call_id)));
    if lapsed && storage::compare_and_swap(key, current.as_deref(), Some(&mine))? {
        return Ok(());
    }
    Err(AdapterError::transient_code(
        "busy",
        format!("batch {batch_id} is being sent by another run; try again later"),
    ))
}

fn send_all(
    cfg: &Config,
    category: &str,
    biz_key: &str,
    method: Method,
    format: Format,
    batch_id: &str,
    checked: &Rows<'_>,
) -> Result<Value> {
    let rows = &checked.rows;
    let url = join(&cfg.base_url, &format!("{category}/{biz_key}"));
    let sequences = batch::sequences(rows.len(), cfg.seq_max);
    let mut answers = Vec::with_capacity(sequences.len());
    let (mut sent, mut resumed) = (0usize, 0usize);
    // One listing of the sequences already acknowledged, rather than a read per sequence: a
    // fresh batch of 200 sequences made 200 reads that all found nothing.
    let acknowledged: std::collections::HashSet<String> =
        storage::list_all(&format!("batch/{batch_id}/seq/"))?
            .into_iter()
            .collect();
    for seq in &sequences {
        let progress_key = format!("batch/{batch_id}/seq/{:05}", seq.seq_id);
        if acknowledged.contains(&progress_key)
            && let Some(done) = storage::get_json::<Value>(&progress_key)?
        {
            resumed += 1;
            answers.push(done);
            continue;
        }
        let part = &rows[seq.rows.clone()];
        let body = codec::encode(
            format,
            &Envelope {
                app_name: cfg.app_name.as_deref(),
                batch_id,
                batch_size: rows.len(),
                seq_id: seq.seq_id,
                rows: part,
                json_rows: checked.json.inner(seq.rows.clone()),
            },
        );
        let where_ = format!(
            "batch {batch_id}, sequence {} of {}",
            seq.seq_id, seq.seq_count
        );
        let answer = tokens::with_token("", |token| {
            let response = Request::new(method, &url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", format.media_type())
                .header("Accept", format.media_type())
                .body(body.clone())
                .send()
                .map_err(|e| prefix(&where_, e.into()))?;
            // The document's exceptions first: 404 names the path, 200 carries a body code.
            if response.status == 404 {
                return Err(AdapterError::rejected(
                    "404",
                    format!("{where_}: HTTP 404: no such path {category}/{biz_key}"),
                ));
            }
            response.classify(&where_)?;
            codec::decode(format, &response.body).map_err(|e| prefix(&where_, e))
        })?;
        let offset = seq.rows.start;
        match answer.code.as_str() {
            "0" | "E00A00" => {
                // E00A00: this sequence was consumed already (a resend after a lost answer).
                let done = json!({ "seq_id": seq.seq_id, "code": answer.code, "msg": answer.msg, "rows": part.len() });
                storage::set_json(&progress_key, &done)?;
                answers.push(done);
                sent += 1;
            }
            _ => {
                let part = checked.json.maps(seq.rows.clone());
                let refused = refusal(&where_, &answer, &part, offset);
                report_refused(offset, &refused);
                return Err(refused);
            }
        }
    }
    // The platform takes a sequence whole or refuses it whole (E00V00, E00M00 fail the call
    // with each refused row as a detail): a success is every row taken.
    weft_sdk::items::report(rows.len(), &[]);
    Ok(json!({
        "batch_id": batch_id,
        "batch_size": rows.len(),
        "sequences": sequences.len(),
        "sent": sent,
        "resumed": resumed,
        "rows_accepted": rows.len(),
        "answers": answers,
    }))
}

/// The rows before the refused sequence were taken (their sequences succeeded); the rows the
/// refusal names were refused, each under its sub-code: the job, the console and
/// `weft_items_total` show them as refused items, not only the error's details.
fn report_refused(accepted: usize, refused: &AdapterError) {
    let AdapterError::Rejected { code, details, .. } = refused else {
        return;
    };
    // A row with several problems is one refused row, its messages joined.
    let mut rows: std::collections::BTreeMap<u32, Rejected> = Default::default();
    for d in details {
        let Some(index) = d.index else { continue };
        let said = match &d.field {
            Some(field) => format!("{field}: {}", d.message),
            None => d.message.clone(),
        };
        rows.entry(index)
            .and_modify(|r| r.message = format!("{}; {said}", r.message))
            .or_insert_with(|| {
                let code = d.code.clone().unwrap_or_else(|| code.clone());
                Rejected::new(usize::try_from(index).ok(), code, said)
            });
    }
    if !rows.is_empty() {
        weft_sdk::items::report(accepted, &rows.into_values().collect::<Vec<_>>());
    }
}

fn prefix(where_: &str, e: AdapterError) -> AdapterError {
    match e {
        AdapterError::Transient {
            message,
            code,
            retry_after_ms,
        } => AdapterError::Transient {
            message: format!("{where_}: {message}"),
            code,
            retry_after_ms,
        },
        AdapterError::Rejected {
            code,
            message,
            details,
            conflict,
        } => AdapterError::Rejected {
            code,
            message: format!("{where_}: {message}"),
            details,
            conflict,
        },
        AdapterError::InvalidInput { message, details } => AdapterError::InvalidInput {
            message: format!("{where_}: {message}"),
            details,
        },
        AdapterError::Auth(m) => AdapterError::Auth(format!("{where_}: {m}")),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The index in the caller's rows of the row the platform echoed back.
fn find_row(row: &Value, part: &[Map<String, Value>], offset: usize) -> Option<usize> {
    let wanted = row.as_object()?;
    part.iter()
        .position(|r| {
            wanted
                .iter()
                .all(|(k, v)| r.get(k).is_some_and(|mine| text(mine) == text(v)))
        })
        .map(|i| offset + i)
}

/// Details for one entry of a refusal's `result`: a row with its `verify` list (one detail per
/// field), a `{row}` wrapper, or the row itself; `message` when the entry says nothing itself.
fn row_details(
    code: &str,
    message: &str,
    item: &Value,
    part: &[Map<String, Value>],
    offset: usize,
    details: &mut Vec<Detail>,
) {
    let row = if item.get("row").is_some() {
        &item["row"]
    } else {
        item
    };
    let index = find_row(row, part, offset);
    let verify = list(&item["verify"]);
    if verify.is_empty() {
        details.push(detail(index, None, Some(code), message));
        return;
    }
    for v in verify {
        let fields = text(&v["fields"]);
        let kind = text(&v["type"]);
        details.push(detail(
            index,
            Some(fields.as_str()).filter(|f| !f.is_empty()),
            Some(code),
            if kind.is_empty() {
                message.to_string()
            } else {
                kind
            },
        ));
    }
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Maps a refusal code to its error kind, with details tied to the caller's row indexes.
fn refusal(
    where_: &str,
    answer: &Answer,
    part: &[Map<String, Value>],
    offset: usize,
) -> AdapterError {
    let code = answer.code.as_str();
    let msg = format!("{where_}: {code}: {}", answer.msg);
    let mut details = Vec::new();
    match code {
        "-1" => return AdapterError::transient_code(code, msg),
        "E00V00" => {
            for item in list(&answer.result) {
                row_details(code, "", item, part, offset, &mut details);
            }
        }
        "E00W00" => {
            for item in list(&answer.result) {
                row_details(
                    code,
                    "unique constraint violated",
                    item,
                    part,
                    offset,
                    &mut details,
                );
            }
            return AdapterError::rejected(code, msg)
                .with_details(details)
                .conflict();
        }
        "E00M00" => {
            // Several problems, each with its own code, message and (perhaps) rows: every row
            // becomes a detail with the caller's index, the field and the sub-code.
            let mut summary = Vec::new();
            for item in list(&answer.result) {
                let sub = text(&item["code"]);
                let sub_code = Some(sub.as_str()).filter(|s| !s.is_empty()).unwrap_or(code);
                let message = [&item["message"], &item["msg"]]
                    .iter()
                    .map(|v| text(v))
                    .find(|s| !s.is_empty())
                    .unwrap_or_default();
                let before = details.len();
                let rows = ["result", "rows", "data"]
                    .iter()
                    .map(|k| list(&item[*k]))
                    .find(|l| !l.is_empty())
                    .unwrap_or_default();
                for row in rows {
                    row_details(sub_code, &message, row, part, offset, &mut details);
                }
                if item.get("row").is_some() || item.get("verify").is_some() {
                    row_details(sub_code, &message, item, part, offset, &mut details);
                }
                if details.len() == before {
                    details.push(detail(None, None, Some(sub_code), message.clone()));
                }
                let indexes: Vec<String> = details[before..]
                    .iter()
                    .filter_map(|d| d.index.map(|i| i.to_string()))
                    .collect();
                summary.push(if indexes.is_empty() {
                    format!("{sub_code} {message}")
                } else {
                    format!("{sub_code} {message} (rows {})", indexes.join(", "))
                });
            }
            if !summary.is_empty() {
                let msg = format!("{where_}: {code}: {}", summary.join("; "));
                return AdapterError::rejected(code, msg).with_details(details);
            }
        }
        // E00P00: the platform's retry limit is reached; retrying from here cannot help.
        _ => {}
    }
    AdapterError::rejected(code, msg).with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bad name is reported on every row that has it, even where the row before had the same
    /// names (the check skips names it already found good, never ones it found bad).
    #[test]
    fn every_row_with_a_bad_name_is_reported() {
        let text = r#"[{"A":1},{"1x":2},{"1x":3},{"A":4,"xmlB":5},{"A":6,"xmlB":7},{"A":8}]"#;
        let rows: Vec<RowIn<'_>> = serde_json::from_str(text).expect("rows");
        let Err(AdapterError::InvalidInput { details, .. }) = check_rows(rows) else {
            panic!("bad names accepted");
        };
        let found: Vec<(Option<u32>, Option<String>)> =
            details.into_iter().map(|d| (d.index, d.field)).collect();
        assert_eq!(
            found,
            [
                (Some(1), Some("1x".to_string())),
                (Some(2), Some("1x".to_string())),
                (Some(3), Some("xmlB".to_string())),
                (Some(4), Some("xmlB".to_string())),
            ]
        );
        let rows: Vec<RowIn<'_>> =
            serde_json::from_str(r#"[{"A":1,"B":2},{"A":3,"B":4}]"#).expect("rows");
        assert_eq!(check_rows(rows).expect("good rows").len(), 2);
    }
}
