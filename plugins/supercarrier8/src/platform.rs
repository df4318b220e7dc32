//! 超8's dialect: the MD5-signed token call, `Authorization: <token>` (no "Bearer"), and the
//! `{code, message, data, traceId}` envelope with its error codes.

use md5::{Digest, Md5};
use std::collections::BTreeMap;
use weft_sdk::config::Key;
use weft_sdk::http::{Method, Request, join, snippet};
use weft_sdk::{AdapterError, Result, TokenGrant, Value, config, tokens};

/// Token errors of the document (section 1.3) and what each means.
const TOKEN_ERRORS: &[(i64, &str)] = &[
    (21184031, "the access key or secret is wrong"),
    (21184032, "the application account is disabled"),
    (21184033, "the application account does not exist"),
    (21180031, "the access key is empty"),
    (21180041, "the secret is empty"),
];
/// "Token fetched more than once a minute".
const TOKEN_RATE_LIMITED: i64 = 21185002;

/// The manifest's `[config]`.
#[derive(Debug, serde::Deserialize)]
pub struct Config {
    /// Root of the open platform, e.g. `https://sapi.supercarrier8.com`.
    pub base_url: String,
    /// The token call's path.
    pub token_path: String,
    /// Items per V3 batch call.
    pub batch_max: usize,
    /// Paths of the product operations, by operation name.
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    /// Field naming each item's product code (for validation and failList mapping), for every
    /// operation; unset, each operation's default (see [`default_item_key`]).
    #[serde(default)]
    pub item_key: Option<String>,
    /// The same per operation, over `item_key`.
    #[serde(default)]
    pub item_keys: BTreeMap<String, String>,
    /// When set, a batch body is `{ batch_field: [items] }` instead of the bare array.
    #[serde(default)]
    pub batch_field: Option<String>,
    /// The same per operation (`upsert-products = "goodsList"`), over `batch_field`; an
    /// empty string sends the bare array.
    #[serde(default)]
    pub batch_fields: BTreeMap<String, String>,
    /// Field names of the paged list.
    pub page_field: String,
    /// Page size field.
    pub size_field: String,
    /// Records field in the answer's data.
    pub records_field: String,
    /// Total field in the answer's data.
    pub total_field: String,
}

/// The product-code field of operation `op` when the manifest does not say: `productNo` for the
/// single upsert, as the platform's public page for 通过商品编号新增/修改商品信息 has it;
/// `goodsCode` for the V3 family, an assumption (the document names those calls only).
pub fn default_item_key(op: &str) -> &'static str {
    match op {
        "upsert-product" => "productNo",
        _ => "goodsCode",
    }
}

/// The `[config]` keys, each declared once.
pub fn keys() -> [Key; 11] {
    [
        Key::text("token_path", "path of get-token").default("/cncop/ca/v1/applications/get-token"),
        Key::integer("batch_max", "items per V3 call")
            .range(1, 10_000)
            .default(100),
        Key::table("paths", "each operation's path"),
        Key::text("item_key", "product-code field, every operation"),
        Key::table("item_keys", "product-code field per operation"),
        Key::text("batch_field", "field wrapping a batch, every operation"),
        Key::table("batch_fields", "field wrapping a batch per operation"),
        Key::text("page_field", "page number field of the list").default("pageNo"),
        Key::text("size_field", "page size field of the list").default("pageSize"),
        Key::text("records_field", "records field of a list answer").default("records"),
        Key::text("total_field", "total field of a list answer").default("total"),
    ]
}

/// Default paths of the product family (override per operation under `[config.paths]`).
fn default_path(op: &str) -> Option<&'static str> {
    Some(match op {
        // From the platform's public page for 通过商品编号新增/修改商品信息; the V3 paths below
        // are assumptions: the document names those calls without their paths.
        "upsert-product" => "/ps/v1/open/product/add-upd-product",
        "upsert-products" => "/cncop/pdm/v3/goods/batch-save-by-code",
        "query-products" => "/cncop/pdm/v3/goods/batch-query-by-code",
        "delete-products" => "/cncop/pdm/v3/goods/batch-delete-by-code",
        "enable-products" => "/cncop/pdm/v3/goods/batch-enable-by-code",
        "disable-products" => "/cncop/pdm/v3/goods/batch-disable-by-code",
        "list-products" => "/cncop/pdm/v3/goods/page",
        _ => return None,
    })
}

/// A platform answer that said success.
pub struct Success {
    /// `data`.
    pub data: Value,
    /// `traceId`, kept for logs and error details.
    pub trace_id: String,
}

/// The platform as configured.
pub struct Platform {
    /// Typed `[config]`.
    pub config: Config,
}

impl Platform {
    /// Reads and checks the configuration.
    pub fn load() -> Result<Self> {
        let config: Config = config::typed()?;
        Ok(Self { config })
    }

    /// The field naming an item's product code in operation `op`.
    pub fn item_key(&self, op: &str) -> String {
        self.config
            .item_keys
            .get(op)
            .or(self.config.item_key.as_ref())
            .cloned()
            .unwrap_or_else(|| default_item_key(op).to_string())
    }

    /// The body field wrapping operation `op`'s items, if any.
    pub fn batch_field(&self, op: &str) -> Option<&str> {
        match self.config.batch_fields.get(op) {
            Some(f) if f.is_empty() => None,
            Some(f) => Some(f.as_str()),
            None => self.config.batch_field.as_deref(),
        }
    }

    /// The path of operation `op`.
    pub fn path(&self, op: &str) -> Result<String> {
        config::op_path(&self.config.paths, op, default_path(op))
    }

    /// Calls get-token with the access key and the MD5 of the secret.
    pub fn fetch_token(&self) -> Result<TokenGrant> {
        let access_key = config::secret("access_key")?;
        let secret = config::secret("secret_key")?;
        let sign = hex::encode(Md5::digest(secret.as_bytes()));
        let url = join(&self.config.base_url, &self.config.token_path);
        let body = serde_json::json!({ "accessKey": access_key, "secretKeySign": sign });
        let response = Request::post(url)
            .json(&body)?
            .header("Accept", "application/json")
            .send()?;
        let answer = envelope(response.status, &response.body)?;
        let code = answer["code"].as_i64().unwrap_or_default();
        let trace = answer["traceId"].as_str().unwrap_or_default();
        if code == 200 {
            let data = &answer["data"];
            let token = data["accessToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AdapterError::transient(format!(
                        "get-token answered 200 without data.accessToken (traceId {trace})"
                    ))
                })?;
            return Ok(TokenGrant {
                token: token.to_string(),
                expires_in_seconds: data["tokenTtlSeconds"].as_u64(),
            });
        }
        let message = answer["message"].as_str().unwrap_or_default();
        if let Some((_, cause)) = TOKEN_ERRORS.iter().find(|(c, _)| *c == code) {
            return Err(AdapterError::auth(format!(
                "get-token {code}: {cause} ({message}, traceId {trace})"
            )));
        }
        if code == TOKEN_RATE_LIMITED {
            return Err(AdapterError::transient_code(code.to_string(), format!("get-token {code}: more than one token call a minute ({message}, traceId {trace})"))
                .retry_after_ms(60_000));
        }
        Err(AdapterError::transient_code(
            code.to_string(),
            format!("get-token {code}: {message} (traceId {trace})"),
        ))
    }

    /// Sends `body` to `path` with the current token and checks the envelope.
    pub fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Success> {
        self.send_items(method, path, body, (&[], ""))
    }

    /// [`Platform::send`] for a body carrying `items`: a refusal's per-item errors that name
    /// an item by its code rather than its index are mapped to its index in `items`.
    pub fn send_items(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        items: (&[Value], &str),
    ) -> Result<Success> {
        let url = join(&self.config.base_url, path);
        tokens::with_token("", |token| {
            let mut request = Request::new(method, &url)
                .header("Authorization", token)
                .header("Accept", "application/json");
            if let Some(b) = body {
                request = request.json(b)?;
            }
            let response = request.send()?;
            let answer = envelope(response.status, &response.body)?;
            let code = answer["code"].as_i64().unwrap_or_default();
            let trace = answer["traceId"].as_str().unwrap_or_default().to_string();
            if code == 200 {
                return Ok(Success {
                    data: answer["data"].clone(),
                    trace_id: trace,
                });
            }
            let message = answer["message"].as_str().unwrap_or_default();
            let text = format!("{path}: {code} {message} (traceId {trace})");
            Err(match code {
                c if TOKEN_ERRORS.iter().any(|(t, _)| *t == c) => AdapterError::auth(text),
                500 => AdapterError::transient_code("500", text),
                // 20324012 / 20324013 (token expired / invalid) and every other code come back
                // as rejections with the platform's code: the manifest's `token.refresh_on`
                // tells the host which of them mean "refresh the token and retry once".
                _ => AdapterError::rejected(code.to_string(), text)
                    .with_details(item_errors(&answer, items.1, items.0)),
            })
        })
    }
}

/// The platform's own words about one item: the first of the fields platforms use for it.
pub fn item_message(e: &Value) -> Option<String> {
    [
        "message",
        "msg",
        "reason",
        "errorMsg",
        "errMsg",
        "error",
        "defaultMessage",
    ]
    .iter()
    .find_map(|k| match &e[*k] {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Null => None,
        Value::String(_) => None,
        other => Some(other.to_string()),
    })
}

/// The index in `items` of the item whose code (`key`) `e` names.
pub fn item_index(e: &Value, key: &str, items: &[Value]) -> Option<usize> {
    ["index", "idx", "rowIndex", "row"]
        .iter()
        .find_map(|k| e[*k].as_u64().map(|i| i as usize))
        .or_else(|| {
            let code = e[key].as_str().or(e["itemCode"].as_str())?;
            items.iter().position(|item| match item {
                Value::String(s) => s == code,
                other => other[key].as_str() == Some(code),
            })
        })
}

/// Per-item errors a refusal may carry, wherever its envelope puts them: `data.errors`,
/// `data.failList`, `meta` (a list, `meta.errors`, or an object of field → message) and a
/// top-level `errors`. Each keeps the platform's words, the item's index and the field.
fn item_errors(answer: &Value, key: &str, items: &[Value]) -> Vec<weft_sdk::Detail> {
    let mut details = Vec::new();
    let lists = [
        &answer["data"]["errors"],
        &answer["data"]["failList"],
        &answer["errors"],
        &answer["meta"]["errors"],
        &answer["meta"],
        &answer["data"],
    ];
    for list in lists {
        let Some(entries) = list.as_array() else {
            continue;
        };
        for e in entries.iter().filter(|e| e.is_object()) {
            details.push(weft_sdk::error::detail(
                item_index(e, key, items),
                ["field", "fieldName", "property"]
                    .iter()
                    .find_map(|k| e[*k].as_str()),
                e["code"].as_str().or(e["errorCode"].as_str()),
                item_message(e).unwrap_or_else(|| "invalid".into()),
            ));
        }
        if !details.is_empty() {
            return details;
        }
    }
    // `meta` as an object of field → message (the placeholders of a translated error).
    if let Some(fields) = answer["meta"].as_object() {
        for (field, message) in fields.iter().filter(|(k, _)| *k != "errors") {
            if let Some(m) = message.as_str().filter(|m| !m.is_empty()) {
                details.push(weft_sdk::error::detail(None, Some(field), None, m));
            }
        }
    }
    details
}

fn envelope(status: u16, body: &[u8]) -> Result<Value> {
    match status {
        200..=299 => {}
        429 => {
            return Err(AdapterError::transient_code("429", "rate limited").retry_after_ms(60_000));
        }
        s if s >= 500 => {
            return Err(AdapterError::transient_code(
                s.to_string(),
                format!("HTTP {s}: {}", snippet(body)),
            ));
        }
        s => {
            // A 4xx with the JSON envelope is judged by its code below; without it, rejected.
            if let Ok(v) = serde_json::from_slice::<Value>(body)
                && v.get("code").is_some()
            {
                return Ok(v);
            }
            return Err(AdapterError::rejected(
                s.to_string(),
                format!("HTTP {s}: {}", snippet(body)),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        AdapterError::transient(format!("answer is not JSON ({e}): {}", snippet(body)))
    })
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever status and body come back, the envelope is read or the error kind follows
        /// the status: 5xx and 429 transient, other 4xx rejected.
        #[test]
        fn any_answer_maps_to_an_envelope_or_an_error(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256)) {
            match envelope(status, &body) {
                Ok(v) => prop_assert!(v.is_object() || (200..300).contains(&status)),
                Err(AdapterError::Transient { .. }) => prop_assert!(status >= 500 || status == 429 || (200..300).contains(&status)),
                Err(AdapterError::Rejected { .. }) => prop_assert!((300..500).contains(&status) || status < 200),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
