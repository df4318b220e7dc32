//! The CRM-facing routes (the host has already checked the `token` header): `create` and
//! `update` (push), `queryMasterBatch` and `queryMasterById` (poll). Every answer, refusals
//! included, has the document's shape `{code, message, data}`: a refusal the CRM cannot cure by
//! sending again (malformed body, unknown id) is HTTP 200 with the error code, the way the
//! platform reads answers; only a store failure, worth a resend, is a 503.

use crate::records::{self, Config, Mode, Refusal};
use weft_sdk::http::inbound_json;
use weft_sdk::{InboundRequest, InboundResponse, Value, json, log};

fn answer(config: &Config, data: Value) -> InboundResponse {
    inbound_json(
        200,
        &json!({"code": config.success_code, "message": "success", "data": data}),
    )
}

fn refuse(config: &Config, status: u16, message: impl Into<String>) -> InboundResponse {
    inbound_json(
        status,
        &json!({"code": config.error_code, "message": message.into(), "data": null}),
    )
}

/// Answers one CRM request.
pub fn handle(req: InboundRequest) -> InboundResponse {
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            return inbound_json(
                500,
                &json!({"code": "-1", "message": format!("adapter configuration: {e}"), "data": null}),
            );
        }
    };
    match req.route.as_str() {
        "create" => push(&config, &req, Mode::Create),
        "update" => push(&config, &req, Mode::Update),
        "queryMasterBatch" => query_batch(&config, &req),
        "queryMasterById" => query_by_id(&config, &req),
        other => refuse(
            &config,
            404,
            format!("this adapter serves no route {other:?}"),
        ),
    }
}

fn push(config: &Config, req: &InboundRequest, mode: Mode) -> InboundResponse {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return refuse(config, 200, format!("the body is not JSON: {e}")),
    };
    let incoming = match records::parse_standard(&body) {
        Ok(i) => i,
        Err(e) => return refuse(config, 200, e),
    };
    let record = match records::upsert(config, incoming, mode, None) {
        Ok(r) => r,
        Err(Refusal::Invalid(m)) => return refuse(config, 200, m),
        Err(Refusal::Unknown(m)) => return refuse(config, 200, m),
        Err(Refusal::Store(e)) => {
            return refuse(config, 503, format!("not stored, send again: {e}"));
        }
    };
    if config.erp_endpoint.is_some() {
        let event = if mode == Mode::Update {
            "update"
        } else {
            "create"
        };
        let at = record.changes.last().copied().unwrap_or_default();
        let input = json!({
            "objAPIName": record.obj_api_name,
            "masterDataId": record.master_data_id,
            "event": event,
            "changedAt": at,
        });
        // One delivery per stored change, whatever resends the CRM makes of it.
        let key = format!(
            "deliver:{}:{}:{at}",
            record.obj_api_name, record.master_data_id
        );
        if let Err(e) = weft_sdk::jobs::enqueue("deliver-record", &input, 0, Some(&key)) {
            return refuse(
                config,
                503,
                format!("stored, but the delivery could not be queued: {e}"),
            );
        }
    }
    log::info(
        "record stored",
        &[
            ("route", req.route.as_str()),
            ("objAPIName", record.obj_api_name.as_str()),
            ("masterDataId", record.master_data_id.as_str()),
        ],
    );
    answer(config, record.ids())
}

fn param<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn number(req: &InboundRequest, name: &str) -> Result<Option<u64>, String> {
    match param(req, name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name}: expected a non-negative integer, found {v:?}")),
    }
}

fn flag(req: &InboundRequest, name: &str) -> Result<bool, String> {
    match param(req, name) {
        None | Some("") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(format!("{name}: expected true or false, found {v:?}")),
    }
}

fn query_batch(config: &Config, req: &InboundRequest) -> InboundResponse {
    let parsed = (|| -> Result<_, String> {
        let obj = param(req, "objAPIName")
            .filter(|o| !o.is_empty())
            .ok_or("objAPIName: required")?;
        let start = number(req, "startTime")?.unwrap_or(0);
        let end = number(req, "endTime")?.unwrap_or_else(records::now_ms);
        if start > end {
            return Err(format!("startTime {start} is after endTime {end}"));
        }
        let offset = number(req, "offset")?.unwrap_or(0) as usize;
        let limit = number(req, "limit")?.unwrap_or(100) as usize;
        if limit == 0 || limit > config.max_limit {
            return Err(format!("limit: 1 to {}, found {limit}", config.max_limit));
        }
        Ok((
            obj.to_string(),
            start,
            end,
            offset,
            limit,
            flag(req, "includeDetail")?,
        ))
    })();
    let (obj, start, end, offset, limit, detail) = match parsed {
        Ok(p) => p,
        Err(e) => return refuse(config, 200, e),
    };
    match records::window(&obj, start, end, offset, limit) {
        Ok((total, page)) => answer(
            config,
            json!({
                "totalNum": total,
                "dataList": page.iter().map(|r| r.standard(detail)).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => refuse(config, 503, format!("records unavailable: {e}")),
    }
}

fn query_by_id(config: &Config, req: &InboundRequest) -> InboundResponse {
    let (Some(obj), Some(id)) = (
        param(req, "objAPIName").filter(|o| !o.is_empty()),
        param(req, "dataId").filter(|d| !d.is_empty()),
    ) else {
        return refuse(config, 200, "objAPIName and dataId: required");
    };
    let detail = match flag(req, "includeDetail") {
        Ok(d) => d,
        Err(e) => return refuse(config, 200, e),
    };
    match records::get(obj, id) {
        Ok(Some(r)) => answer(config, r.standard(detail)),
        Ok(None) => refuse(config, 200, format!("no {obj} record with id {id:?}")),
        Err(e) => refuse(config, 503, format!("records unavailable: {e}")),
    }
}
