//! The CRM-facing routes (the host has already checked the `token` header): `create` and
//! `update` (push), `queryMasterBatch` and `queryMasterById` (poll). Every answer, refusals
//! included, has the document's shape `{code, message, data}`: a refusal the CRM cannot cure by
//! sending again (malformed body, unknown id) is HTTP 200 with the error code, the way the
//! platform reads answers; only a store failure, worth a resend, is a 503.

use crate::records::{self, Config, Mode, Refusal};
use weft_sdk::http::inbound_json;
use weft_sdk::{CallContext, InboundRequest, InboundResponse, Value, json, log};

/// The format of a CRM request, and so of its answer: the document allows xml, text and json.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// XML when the request says so (Content-Type, else Accept) or its body is an XML document.
fn format_of(req: &InboundRequest) -> Format {
    let says_xml = |h: Option<&str>| h.is_some_and(|v| v.to_ascii_lowercase().contains("xml"));
    if says_xml(header(req, "content-type"))
        || (req.body.is_empty() && says_xml(header(req, "accept")))
        || req.body.trim_ascii_start().starts_with(b"<")
    {
        Format::Xml
    } else {
        Format::Json
    }
}

fn reply(format: Format, status: u16, body: &Value) -> InboundResponse {
    match format {
        Format::Json => inbound_json(status, body),
        Format::Xml => InboundResponse {
            status,
            headers: vec![(
                "content-type".into(),
                "application/xml; charset=utf-8".into(),
            )],
            body: weft_sdk::xml::from_json("xml", body).into_bytes(),
        },
    }
}

fn answer(config: &Config, format: Format, data: Value) -> InboundResponse {
    reply(
        format,
        200,
        &json!({"code": config.success_code, "message": "success", "data": data}),
    )
}

fn refuse(
    config: &Config,
    format: Format,
    status: u16,
    message: impl Into<String>,
) -> InboundResponse {
    reply(
        format,
        status,
        &json!({"code": config.error_code, "message": message.into(), "data": null}),
    )
}

/// A push body in any of the document's formats, as the standard JSON shape: JSON; XML (any
/// root element holding `objAPIName`, `masterFieldVal` and `detailFieldVals`, a detail list as
/// repeated elements named by its API name); or text carrying either.
fn body_value(req: &InboundRequest, format: Format) -> Result<Value, String> {
    let text =
        std::str::from_utf8(&req.body).map_err(|_| "the body is not UTF-8 text".to_string())?;
    if format == Format::Xml {
        let (_, mut v) =
            weft_sdk::xml::to_json(text).map_err(|e| format!("the body is not XML: {e}"))?;
        // Repeated elements became lists and single ones objects; a detail list is a list.
        if let Some(details) = v.get_mut("detailFieldVals").and_then(Value::as_object_mut) {
            for rows in details.values_mut() {
                if rows.is_object() {
                    *rows = Value::Array(vec![rows.take()]);
                }
                if rows.as_str() == Some("") {
                    *rows = Value::Array(Vec::new());
                }
            }
        } else if v.get("detailFieldVals").and_then(Value::as_str) == Some("") {
            v["detailFieldVals"] = json!({});
        }
        if v.get("masterFieldVal").and_then(Value::as_str) == Some("") {
            v["masterFieldVal"] = json!({});
        }
        return Ok(v);
    }
    serde_json::from_str(text.trim())
        .map_err(|e| format!("the body is neither JSON nor XML (the formats this side reads): {e}"))
}

/// Answers one CRM request.
pub fn handle(ctx: &CallContext, req: InboundRequest) -> InboundResponse {
    let format = format_of(&req);
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
        "create" => push(ctx, &config, &req, format, Mode::Create),
        "update" => push(ctx, &config, &req, format, Mode::Update),
        "queryMasterBatch" => query_batch(&config, &req, format),
        "queryMasterById" => query_by_id(&config, &req, format),
        other => refuse(
            &config,
            format,
            404,
            format!("this adapter serves no route {other:?}"),
        ),
    }
}

fn push(
    ctx: &CallContext,
    config: &Config,
    req: &InboundRequest,
    format: Format,
    mode: Mode,
) -> InboundResponse {
    let body = match body_value(req, format) {
        Ok(v) => v,
        Err(e) => return refuse(config, format, 200, e),
    };
    let incoming = match records::parse_standard(&body) {
        Ok(i) => i,
        Err(e) => return refuse(config, format, 200, e),
    };
    let fresh = records::fresh_id(&ctx.call_id, &incoming.obj);
    let dedup = header(req, "idempotency-key").filter(|k| !k.is_empty());
    let record = match records::upsert(config, incoming, mode, &fresh, dedup) {
        Ok(r) => r,
        Err(Refusal::Invalid(m)) => return refuse(config, format, 200, m),
        Err(Refusal::Unknown(m)) => return refuse(config, format, 200, m),
        Err(Refusal::Store(e)) => {
            return refuse(config, format, 503, format!("not stored, send again: {e}"));
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
                format,
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
    answer(config, format, record.ids())
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

fn query_batch(config: &Config, req: &InboundRequest, format: Format) -> InboundResponse {
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
        Err(e) => return refuse(config, format, 200, e),
    };
    match records::window(&obj, start, end, offset, limit) {
        Ok((total, page)) => answer(
            config,
            format,
            json!({
                "totalNum": total,
                "dataList": page.iter().map(|r| r.standard(detail)).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => refuse(config, format, 503, format!("records unavailable: {e}")),
    }
}

fn query_by_id(config: &Config, req: &InboundRequest, format: Format) -> InboundResponse {
    let (Some(obj), Some(id)) = (
        param(req, "objAPIName").filter(|o| !o.is_empty()),
        param(req, "dataId").filter(|d| !d.is_empty()),
    ) else {
        return refuse(config, format, 200, "objAPIName and dataId: required");
    };
    let detail = match flag(req, "includeDetail") {
        Ok(d) => d,
        Err(e) => return refuse(config, format, 200, e),
    };
    match records::get(obj, id) {
        Ok(Some(r)) => answer(config, format, r.standard(detail)),
        Ok(None) => refuse(
            config,
            format,
            200,
            format!("no {obj} record with id {id:?}"),
        ),
        Err(e) => refuse(config, format, 503, format!("records unavailable: {e}")),
    }
}
