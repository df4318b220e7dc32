//! The ERP-side records the CRM pushes and polls: master/detail records by object and id, and
//! an append-only change log ordered by change time, so that a batch poll's window and its
//! offsets see every record once.
//!
//! Storage layout (the adapter's own namespace):
//! - `rec/{obj}/{id}` — the record (JSON [`Record`]);
//! - `log/{obj}/{changed_ms:013}/{id}` — one entry per change, expiring after
//!   `log_retention_days`. A record counts in a window at its last change no later than the
//!   window's end, so later changes never move it inside a window that has already closed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weft_sdk::config::Key;
use weft_sdk::{AdapterError, CallContext, Result, Value, config, json, storage};

/// The manifest's `[config]`.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The CRM's root, e.g. `https://www.fxiaoke.com`.
    pub base_url: String,
    /// Path of the CRM's push endpoint.
    pub syncpush_path: String,
    /// `tenantId` header of syncpush (given by Fxiaoke).
    #[serde(default)]
    pub tenant_id: String,
    /// The ledgers (data centres) of a multi-ledger account; empty for a single ledger.
    #[serde(default)]
    pub data_center_ids: Vec<String>,
    /// Field of `masterFieldVal` (and of detail rows) that holds the record's id.
    pub id_field: String,
    /// `code` of a successful answer to the CRM, as written in the manifest: a string ("0",
    /// the document's type) or a number (0) if the CRM's side expects one.
    pub success_code: Value,
    /// `code` of a refused request.
    pub error_code: Value,
    /// The company's own ERP endpoint: records the CRM pushes are delivered there by a job.
    #[serde(default)]
    pub erp_endpoint: Option<String>,
    /// Largest `limit` of a batch poll.
    pub max_limit: usize,
    /// Days of change log kept for batch polls (each entry's storage key expires then); the
    /// CRM polls windows of minutes, so older entries only cost space.
    pub log_retention_days: u64,
    /// What an update does with what it does not mention: `merge` (the default) keeps master
    /// fields it leaves out and detail lists it does not name; `replace` makes the record
    /// exactly what the update says.
    pub update_mode: UpdateMode,
    /// syncpush `errCode`s that mean the token or tenant was refused (answered as `auth`); an
    /// `errMsg` about the token, the tenant or authentication means the same.
    pub auth_codes: Vec<String>,
}

/// See [`Config::update_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    /// Fields and detail lists the update leaves out are kept.
    Merge,
    /// The record becomes what the update says.
    Replace,
}

/// The `[config]` keys, each declared once.
pub fn keys() -> [Key; 11] {
    [
        Key::text("syncpush_path", "path of the CRM's syncpush")
            .default("/erp/syncdata/open/objdata/syncpush"),
        Key::text("tenant_id", "tenantId of syncpush"),
        Key::list("data_center_ids", "the ledgers of a multi-ledger account"),
        Key::text("id_field", "the field holding a record's id").default("id"),
        Key::any("success_code", "code of a successful answer to the CRM").default("0"),
        Key::any("error_code", "code of a refusal").default("-1"),
        Key::text("erp_endpoint", "the company ERP that pushed records go to"),
        Key::integer("max_limit", "largest limit of a batch poll")
            .range(1, 100_000)
            .default(1000),
        Key::integer("log_retention_days", "days of change log kept")
            .range(1, 3660)
            .default(30),
        Key::text("update_mode", "what an update does with what it leaves out")
            .one_of(&["merge", "replace"])
            .default("merge"),
        Key::list("auth_codes", "syncpush errCodes that mean credentials")
            .default(["s106240401", "s106240402"]),
    ]
}

impl Config {
    /// Reads the configuration.
    pub fn load() -> Result<Self> {
        let config: Self = config::typed()?;
        if config.id_field.is_empty() {
            return Err(AdapterError::invalid_input(
                "manifest [config] id_field: must not be empty",
            ));
        }
        Ok(config)
    }

    /// How long a change-log entry is kept (`log_retention_days`).
    pub fn log_kept(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.log_retention_days.saturating_mul(86_400))
    }
}

/// A master/detail record as the document shapes it, with the ids this side gave it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// ERP-side object API name.
    #[serde(rename = "objAPIName")]
    pub obj_api_name: String,
    /// Master fields, as the CRM (or the company's system) sent them: an id this side made up
    /// is never written into them.
    pub master_field_val: serde_json::Map<String, Value>,
    /// Detail rows by detail object API name, as sent.
    #[serde(default)]
    pub detail_field_vals: serde_json::Map<String, Value>,
    /// The master id.
    pub master_data_id: String,
    /// Detail ids by detail object API name, in row order.
    #[serde(default)]
    pub detail_data_ids: serde_json::Map<String, Value>,
    /// Change times, unix ms, oldest first.
    #[serde(default)]
    pub changes: Vec<u64>,
}

impl Record {
    /// The document's shape: `{objAPIName, masterFieldVal, detailFieldVals}`.
    pub fn standard(&self, include_detail: bool) -> Value {
        let mut v = json!({
            "objAPIName": self.obj_api_name,
            "masterFieldVal": self.master_field_val,
        });
        if include_detail {
            v["detailFieldVals"] = Value::Object(self.detail_field_vals.clone());
        }
        v
    }

    /// The ids answered to create and update.
    pub fn ids(&self) -> Value {
        json!({
            "masterDataId": self.master_data_id,
            "detailDataIds": self.detail_data_ids,
        })
    }
}

/// A push body checked against the document: `objAPIName`, `masterFieldVal` (an object),
/// `detailFieldVals` (detail API name → list of row objects).
#[derive(Debug)]
pub struct Incoming {
    /// Object API name.
    pub obj: String,
    /// Master fields.
    pub master: serde_json::Map<String, Value>,
    /// Detail rows.
    pub details: serde_json::Map<String, Value>,
    /// An id given beside the standard fields (`masterDataId`, `dataId` or `id` at the top
    /// level), for an update whose master fields do not carry it.
    pub id: Option<String>,
    /// The CRM's own id of the record, if it sent one (`_id` in the master fields or at the
    /// top level): a create resent with it lands on the same record.
    pub crm_id: Option<String>,
}

/// Checks a standard-format body; the error names the offending field.
pub fn parse_standard(body: &Value) -> std::result::Result<Incoming, String> {
    let Value::Object(b) = body else {
        return Err(
            "the body must be a JSON object {objAPIName, masterFieldVal, detailFieldVals}".into(),
        );
    };
    let obj = match b.get("objAPIName") {
        Some(Value::String(s)) if valid_name(s) => s.clone(),
        Some(Value::String(s)) => {
            return Err(format!(
                "objAPIName {s:?}: 1 to 100 letters, digits, '_' or '.'"
            ));
        }
        _ => return Err("objAPIName: required string".into()),
    };
    let master = match b.get("masterFieldVal") {
        Some(Value::Object(m)) => m.clone(),
        _ => return Err("masterFieldVal: required object".into()),
    };
    let details = match b.get("detailFieldVals") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(d)) => {
            for (name, rows) in d {
                let ok = rows
                    .as_array()
                    .is_some_and(|rows| rows.iter().all(Value::is_object));
                if !ok {
                    return Err(format!("detailFieldVals.{name}: must be a list of objects"));
                }
            }
            d.clone()
        }
        Some(_) => return Err("detailFieldVals: must be an object of lists".into()),
    };
    // Other top-level fields are not the document's, but a CRM may add some: only an id is
    // read from them.
    let id = ["masterDataId", "dataId", "id"]
        .iter()
        .find_map(|k| b.get(*k).and_then(id_text));
    let crm_id = master
        .get("_id")
        .and_then(id_text)
        .or_else(|| b.get("_id").and_then(id_text));
    Ok(Incoming {
        obj,
        master,
        details,
        id,
        crm_id,
    })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// A valid id: used in storage keys, so printable and short.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && !s.chars().any(|c| c.is_control() || c == '/')
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn record_key(obj: &str, id: &str) -> String {
    format!("rec/{obj}/{id}")
}

fn log_key(obj: &str, at: u64, id: &str) -> String {
    format!("log/{obj}/{at:013}/{id}")
}

pub use weft_sdk::dates::now_ms;

/// Reads a record.
pub fn get(obj: &str, id: &str) -> Result<Option<Record>> {
    if !valid_name(obj) || !valid_id(id) {
        return Ok(None);
    }
    storage::get_json(&record_key(obj, id))
}

/// What an upsert may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Create, or update a record of the same id (a create resent after a lost answer).
    Create,
    /// Update an existing record only.
    Update,
    /// Either.
    Upsert,
}

/// Why an upsert was refused.
#[derive(Debug)]
pub enum Refusal {
    /// The body or an id is malformed.
    Invalid(String),
    /// An update of a record that does not exist.
    Unknown(String),
    /// The store failed.
    Store(AdapterError),
}

impl From<AdapterError> for Refusal {
    fn from(e: AdapterError) -> Self {
        Self::Store(e)
    }
}

/// Creates or updates a record. A record's id is its master id field when the body has one.
/// Otherwise a create gets `fresh_id` (unique to the request), unless `dedup` — the request's
/// Idempotency-Key, or the CRM's own id of the record — was seen before for this object: a
/// create resent after a lost answer then lands on the record the first one made. Two creates
/// with equal fields and no such key are two records. Detail rows keep their own id or get
/// `{master id}-{detail name}-{n}` in the answer; neither is written into the stored data.
/// Answers the stored record.
pub fn upsert(
    config: &Config,
    incoming: Incoming,
    mode: Mode,
    fresh_id: &str,
    dedup: Option<&str>,
) -> std::result::Result<Record, Refusal> {
    let Incoming {
        obj,
        master,
        details,
        id: beside,
        crm_id,
    } = incoming;
    let field = config.id_field.as_str();
    // The id field first; for an update also the usual spellings of an id and one given beside
    // the fields, since the document does not say where an update names its record.
    let aliases = ["id", "_id", "dataId", "masterDataId"];
    let named = master.get(field).and_then(id_text).or_else(|| {
        if mode != Mode::Update {
            return None;
        }
        aliases
            .iter()
            .find_map(|k| master.get(*k).and_then(id_text))
            .or(beside)
    });
    let dedup_key = dedup.map(str::to_string).or(crm_id).map(|k| {
        format!(
            "dedup/{obj}/{}",
            hex::encode(&Sha256::digest(k.as_bytes())[..16])
        )
    });
    let id = match named {
        Some(id) => id,
        None if mode == Mode::Update => {
            return Err(Refusal::Invalid(format!(
                "masterFieldVal.{field}: an update must name the record it changes"
            )));
        }
        None => match &dedup_key {
            // The first create under this key claims it; a resend finds its id.
            Some(key) => {
                if storage::compare_and_swap(key, None, Some(fresh_id.as_bytes()))? {
                    fresh_id.to_string()
                } else {
                    storage::get(key)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_else(|| fresh_id.to_string())
                }
            }
            None => fresh_id.to_string(),
        },
    };
    if !valid_id(&id) {
        return Err(Refusal::Invalid(format!(
            "{field} {id:?}: 1 to 200 characters, no '/' or control characters"
        )));
    }
    let existing = get(&obj, &id)?;
    if mode == Mode::Update && existing.is_none() {
        return Err(Refusal::Unknown(format!(
            "no {obj} record with {field} {id:?}: create it first"
        )));
    }
    // An update merges into what is stored unless the manifest says replace; a create (or a
    // create resent) is the whole record.
    let (master, details) = match (&existing, mode, config.update_mode) {
        (Some(old), Mode::Update, UpdateMode::Merge) => {
            let mut m = old.master_field_val.clone();
            m.extend(master);
            let mut d = old.detail_field_vals.clone();
            d.extend(details);
            (m, d)
        }
        _ => (master, details),
    };
    let mut detail_ids = serde_json::Map::new();
    for (name, rows) in &details {
        let ids: Vec<Value> = rows
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(n, row)| {
                Value::String(
                    row.get(field)
                        .and_then(id_text)
                        .unwrap_or_else(|| format!("{id}-{name}-{}", n + 1)),
                )
            })
            .collect();
        detail_ids.insert(name.clone(), Value::Array(ids));
    }
    if let Some(same) = existing
        .as_ref()
        .filter(|r| r.master_field_val == master && r.detail_field_vals == details)
    {
        // A resend (lost answer) or a no-op update: not a change, nothing new to poll or deliver.
        return Ok(same.clone());
    }
    let mut changes = existing.map(|r| r.changes).unwrap_or_default();
    // Strictly increasing change times keep one log entry per change.
    let at = now_ms().max(changes.last().map_or(0, |t| t + 1));
    changes.push(at);
    let record = Record {
        obj_api_name: obj.clone(),
        master_field_val: master,
        detail_field_vals: details,
        master_data_id: id.clone(),
        detail_data_ids: detail_ids,
        changes,
    };
    // The record first, then its log entry: a crash in between leaves a record that a poll
    // finds at its previous change, never a log entry without its record.
    storage::set_json(&record_key(&obj, &id), &record)?;
    storage::set_expiring(&log_key(&obj, at, &id), b"", config.log_kept())?;
    Ok(record)
}

/// An id for a record created by request `call_id`: unique to the request (a retry of the same
/// request makes the same one), never derived from the record's content.
pub fn fresh_id(call_id: &str, obj: &str) -> String {
    hex::encode(&Sha256::digest(format!("{call_id}\u{1f}{obj}").as_bytes())[..12])
}

/// A batch poll: records of `obj` whose last change no later than `end` is at or after
/// `start`, by that change time then id, from `offset`, at most `limit`; and how many in all.
pub fn window(
    obj: &str,
    start: u64,
    end: u64,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Record>)> {
    if !valid_name(obj) || start > end {
        return Ok((0, Vec::new()));
    }
    let prefix = format!("log/{obj}/");
    // Keys sort by time: start right before `start`'s first key.
    let mut after = Some(if start == 0 {
        prefix.clone()
    } else {
        format!("{prefix}{:013}/\u{10FFFF}", start - 1)
    });
    let mut total = 0usize;
    let mut page = Vec::new();
    'scan: loop {
        let keys = storage::list_keys(&prefix, after.as_deref(), 1000)?;
        let done = keys.len() < 1000;
        after = keys.last().cloned();
        for key in keys {
            let Some((at, id)) = key[prefix.len()..].split_once('/') else {
                continue;
            };
            let Ok(at) = at.parse::<u64>() else { continue };
            if at > end {
                break 'scan;
            }
            if at < start {
                continue;
            }
            let Some(record) = get(obj, id)? else {
                continue;
            };
            let last_in_window = record.changes.iter().rev().find(|t| **t <= end).copied();
            if last_in_window != Some(at) {
                continue;
            }
            if total >= offset && page.len() < limit {
                page.push(record);
            }
            total += 1;
        }
        if done {
            break;
        }
    }
    Ok((total, page))
}

/// `upsert-record`: the company's own systems feed an ERP-side record.
pub fn upsert_op(ctx: &CallContext, config: &Config, input: Value) -> Result<Value> {
    let incoming =
        parse_standard(&input).map_err(|e| AdapterError::invalid_input(format!("input: {e}")))?;
    let fresh = fresh_id(&ctx.call_id, &incoming.obj);
    match upsert(
        config,
        incoming,
        Mode::Upsert,
        &fresh,
        ctx.idempotency_key.as_deref(),
    ) {
        Ok(r) => Ok(r.ids()),
        Err(Refusal::Invalid(m) | Refusal::Unknown(m)) => Err(AdapterError::invalid_input(m)),
        Err(Refusal::Store(e)) => Err(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListInput {
    #[serde(rename = "objAPIName")]
    obj_api_name: String,
    #[serde(default)]
    start_time: Option<u64>,
    #[serde(default)]
    end_time: Option<u64>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    include_detail: Option<bool>,
}

/// `list-records`: what a batch poll of the same window would answer.
pub fn list_op(config: &Config, input: Value) -> Result<Value> {
    let input: ListInput = weft_sdk::parse_input(input)?;
    let limit = input.limit.unwrap_or(100).min(config.max_limit);
    let (total, records) = window(
        &input.obj_api_name,
        input.start_time.unwrap_or(0),
        input.end_time.unwrap_or(u64::MAX / 2),
        input.offset.unwrap_or(0),
        limit,
    )?;
    let detail = input.include_detail.unwrap_or(true);
    Ok(json!({
        "totalNum": total,
        "dataList": records.iter().map(|r| r.standard(detail)).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z_.]{0,10}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any body is accepted as the standard shape or refused with a message naming a field.
        #[test]
        fn any_push_body_is_parsed_or_refused_by_name(body in value()) {
            match parse_standard(&body) {
                Ok(incoming) => {
                    prop_assert!(valid_name(&incoming.obj));
                    prop_assert_eq!(&body["masterFieldVal"], &Value::Object(incoming.master));
                }
                Err(message) => prop_assert!(!message.is_empty()),
            }
        }

        #[test]
        fn standard_bodies_are_accepted(obj in "[A-Za-z_][A-Za-z0-9_.]{0,20}", master in prop::collection::btree_map("[a-z]{1,6}", "\\PC{0,6}", 0..5)) {
            let body = json!({"objAPIName": obj, "masterFieldVal": master, "detailFieldVals": {"D": [{"k": 1}]}});
            prop_assert!(parse_standard(&body).is_ok());
        }
    }
}
