//! Calls to the CRM's `syncpush` (ERP → CRM) in the standard and the non-standard format, and
//! the delivery of pushed records to the company's own ERP endpoint.

use crate::records::{self, Config, Mode, Refusal};
use weft_sdk::http::{Request, Response, join, snippet};
use weft_sdk::{AdapterError, CallContext, Result, Value, config, json, storage};

/// `errCode` of a push the CRM accepted.
const ACCEPTED: &str = "s106240000";

/// The `dataCenterId` header: none for a single ledger; for several, the caller's choice among
/// the manifest's `data_center_ids` (the only one when there is one).
fn data_center(config: &Config, given: Option<String>) -> Result<Option<String>> {
    let known = &config.data_center_ids;
    match (known.len(), given) {
        (0, None) => Ok(None),
        (0, Some(g)) => Err(AdapterError::invalid_input(format!(
            "dataCenterId {g:?}: this account has a single ledger (manifest [config] data_center_ids is empty)"
        ))),
        (_, Some(g)) if known.contains(&g) => Ok(Some(g)),
        (_, Some(g)) => Err(AdapterError::invalid_input(format!(
            "dataCenterId {g:?}: not one of the manifest's data_center_ids ({})",
            known.join(", ")
        ))),
        (1, None) => Ok(known.first().cloned()),
        (_, None) => Err(AdapterError::invalid_input(format!(
            "dataCenterId: required, this account has several ledgers ({})",
            known.join(", ")
        ))),
    }
}

fn take_string(input: &mut Value, key: &str) -> Result<Option<String>> {
    match input.as_object_mut().and_then(|o| o.remove(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(other) => Err(AdapterError::invalid_input(format!(
            "{key}: expected a non-empty string, found {other}"
        ))),
    }
}

/// A syncpush request with the document's headers.
struct Push {
    object_api_name: String,
    data_center: Option<String>,
    id: Option<String>,
    void: bool,
    content_type: String,
    body: Vec<u8>,
}

fn send(config: &Config, push: Push) -> Result<Value> {
    if config.tenant_id.is_empty() {
        return Err(AdapterError::invalid_input(
            "manifest [config] tenant_id: required by syncpush (given by Fxiaoke)",
        ));
    }
    let mut request = Request::post(join(&config.base_url, &config.syncpush_path))
        .header("token", config::secret("push_token")?)
        .header("tenantId", &config.tenant_id)
        .header("objectApiName", &push.object_api_name)
        .header("version", "v1")
        .header("Content-Type", &push.content_type)
        .header("Accept", "application/json");
    if let Some(dc) = &push.data_center {
        request = request.header("dataCenterId", dc);
    }
    if push.void {
        request = request.header("operationType", "3");
    }
    if let Some(id) = &push.id {
        request = request.header("id", id);
    }
    let response = request.body(push.body).send()?;
    accepted(config, &response)
}

/// Reads `{errCode, errMsg}`: "s106240000" is success, any other code a refusal.
fn accepted(config: &Config, response: &Response) -> Result<Value> {
    response.classify("syncpush")?;
    let answer: Value = response.json()?;
    let code = match &answer["errCode"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let message = answer["errMsg"].as_str().unwrap_or_default().to_string();
    if code == ACCEPTED {
        return Ok(json!({"errCode": code, "errMsg": message}));
    }
    if code.is_empty() {
        return Err(AdapterError::transient(format!(
            "syncpush answered without errCode: {}",
            snippet(&response.body)
        )));
    }
    if credentials_refused(config, &code, &message) {
        return Err(AdapterError::auth(format!(
            "syncpush refused the push token or tenant: {code} {message} (check secrets.push_token and [config] tenant_id)"
        )));
    }
    Err(AdapterError::rejected(
        code.clone(),
        format!("syncpush: {code} {message}"),
    ))
}

/// True when a refusal is about who is pushing, not what: one of the manifest's `auth_codes`,
/// or a message about the token, the tenant or authentication.
fn credentials_refused(config: &Config, code: &str, message: &str) -> bool {
    if config.auth_codes.iter().any(|c| c == code) {
        return true;
    }
    let m = message.to_lowercase();
    [
        "token",
        "tenant",
        "认证",
        "鉴权",
        "授权",
        "unauthor",
        "authenticat",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// `push-record`: the standard format; the record is also kept for the CRM's polls.
pub fn push_record(ctx: &CallContext, config: &Config, mut input: Value) -> Result<Value> {
    let dc = data_center(config, take_string(&mut input, "dataCenterId")?)?;
    let incoming = records::parse_standard(&input)
        .map_err(|e| AdapterError::invalid_input(format!("input: {e}")))?;
    let fresh = records::fresh_id(&ctx.call_id, &incoming.obj);
    let record = match records::upsert(
        config,
        incoming,
        Mode::Upsert,
        &fresh,
        ctx.idempotency_key.as_deref(),
    ) {
        Ok(r) => r,
        Err(Refusal::Invalid(m) | Refusal::Unknown(m)) => {
            return Err(AdapterError::invalid_input(m));
        }
        Err(Refusal::Store(e)) => return Err(e),
    };
    let body = serde_json::to_vec(&record.standard(true))
        .map_err(|e| AdapterError::invalid_input(format!("record: {e}")))?;
    let mut out = send(
        config,
        Push {
            object_api_name: record.obj_api_name.clone(),
            data_center: dc,
            id: Some(record.master_data_id.clone()),
            void: false,
            content_type: "application/json".into(),
            body,
        },
    )?;
    out["masterDataId"] = json!(record.master_data_id);
    out["detailDataIds"] = json!(record.detail_data_ids);
    Ok(out)
}

/// `push-raw`: a body in the ERP's own format, as given (a string as text, anything else as
/// JSON), with every header but `id`.
pub fn push_raw(ctx: &CallContext, config: &Config, mut input: Value) -> Result<Value> {
    let dc = data_center(config, take_string(&mut input, "dataCenterId")?)?;
    let delivery = take_string(&mut input, "delivery")?;
    let at_most_once = match delivery.as_deref() {
        None | Some("at-least-once") => false,
        Some("at-most-once") => true,
        Some(other) => {
            return Err(AdapterError::invalid_input(format!(
                "delivery: \"at-least-once\" (the default) or \"at-most-once\", found {other:?}"
            )));
        }
    };
    let object = take_string(&mut input, "objectApiName")?
        .ok_or_else(|| AdapterError::invalid_input("objectApiName: required"))?;
    let content_type = take_string(&mut input, "contentType")?;
    let body = input
        .as_object_mut()
        .and_then(|o| o.remove("body"))
        .ok_or_else(|| AdapterError::invalid_input("body: required (a string or any JSON)"))?;
    if let Some(extra) = input.as_object().and_then(|o| o.keys().next()) {
        return Err(AdapterError::invalid_input(format!(
            "{extra}: not a field of push-raw (objectApiName, body, contentType, dataCenterId, delivery)"
        )));
    }
    let (bytes, default_type) = match body {
        Value::String(s) => (s.into_bytes(), "text/plain; charset=utf-8"),
        other => (
            serde_json::to_vec(&other).unwrap_or_default(),
            "application/json",
        ),
    };
    // A raw body carries no id the CRM could deduplicate on: a retry after a lost answer or a
    // crash may deliver it twice. At-most-once marks the attempt before sending and never
    // sends again for the same call (job), trading a possible loss for no duplicate.
    if at_most_once {
        let key = format!(
            "raw-sent/{}",
            ctx.idempotency_key.as_deref().unwrap_or(&ctx.call_id)
        );
        if !storage::compare_and_swap(&key, None, Some(b"sent"))? {
            return Err(AdapterError::rejected(
                "outcome-unknown",
                format!(
                    "push-raw (at-most-once): an earlier attempt of this call may have reached the CRM, so it is not sent again; check {object} at the CRM's data maintenance page"
                ),
            ));
        }
    }
    send(
        config,
        Push {
            object_api_name: object,
            data_center: dc,
            id: None,
            void: false,
            content_type: content_type.unwrap_or_else(|| default_type.into()),
            body: bytes,
        },
    )
}

/// `void-record`: `operationType: 3` for the record `id` of `objectApiName`.
pub fn void_record(config: &Config, mut input: Value) -> Result<Value> {
    let dc = data_center(config, take_string(&mut input, "dataCenterId")?)?;
    let object = match take_string(&mut input, "objectApiName")? {
        Some(o) => o,
        None => take_string(&mut input, "objAPIName")?
            .ok_or_else(|| AdapterError::invalid_input("objectApiName: required"))?,
    };
    let id = take_string(&mut input, "id")?
        .ok_or_else(|| AdapterError::invalid_input("id: the record to void"))?;
    if let Some(extra) = input.as_object().and_then(|o| o.keys().next()) {
        return Err(AdapterError::invalid_input(format!(
            "{extra}: not a field of void-record (objectApiName, id, dataCenterId)"
        )));
    }
    let mut master = serde_json::Map::new();
    master.insert(config.id_field.clone(), Value::String(id.clone()));
    let body = json!({"objAPIName": object, "masterFieldVal": master, "detailFieldVals": {}});
    send(
        config,
        Push {
            object_api_name: object,
            data_center: dc,
            id: Some(id),
            void: true,
            content_type: "application/json".into(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
    )
}

/// `deliver-record` (a job queued by a push): sends the stored record to `erp_endpoint`.
pub fn deliver(config: &Config, input: Value) -> Result<Value> {
    let Some(endpoint) = &config.erp_endpoint else {
        return Err(AdapterError::invalid_input(
            "manifest [config] erp_endpoint is not set: nothing to deliver to",
        ));
    };
    let obj = input["objAPIName"].as_str().unwrap_or_default();
    let id = input["masterDataId"].as_str().unwrap_or_default();
    let event = input["event"].as_str().unwrap_or("create");
    let changed = input["changedAt"].as_u64().unwrap_or_default();
    let Some(record) = records::get(obj, id)? else {
        return Err(AdapterError::rejected(
            "not-found",
            format!("record {obj}/{id} is no longer stored"),
        ));
    };
    let body = json!({
        "event": event,
        "objAPIName": obj,
        "masterDataId": id,
        "changedAt": changed,
        "record": record.standard(true),
    });
    let mut request = Request::post(endpoint.as_str())
        .header("Idempotency-Key", format!("{obj}:{id}:{changed}"))
        .json(&body)?;
    if let Some(token) = weft_sdk::bindings::weft::adapter::config::secret("erp_token") {
        request = request.header("token", token);
    }
    let response = request.send()?;
    response.classify("ERP endpoint")?;
    Ok(json!({"delivered": true, "status": response.status, "masterDataId": id}))
}
