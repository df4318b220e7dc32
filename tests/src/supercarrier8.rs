//! A strict simulator of the 超8 open platform (`supercarrier8-open-platform.md`): get-token with
//! the lower-case MD5 of the secret and its error codes, one token call per window (21185002),
//! `Authorization: <token>` without "Bearer" (20324012 expired, 20324013 invalid), the
//! `{code, message, data, timestamp, traceId}` envelope, and a product store: the V1 single upsert
//! at its public path (`/ps/v1/open/product/add-upd-product`, by `productNo`), and the V3
//! batches of at most 100 and the paged list behind the paths the adapter assumes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fault for the next business call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this envelope code (e.g. 20324012, 500).
    Code(i64),
    /// Answer this HTTP status.
    Status(u16),
}

/// What the simulator saw and holds.
#[derive(Default)]
pub struct Ledger {
    /// get-token calls, refused ones included.
    pub token_requests: usize,
    /// Business calls by path.
    pub calls: BTreeMap<String, usize>,
    /// Items per V3 batch call, in order.
    pub batch_sizes: Vec<usize>,
    /// Products by code.
    pub products: BTreeMap<String, Value>,
    /// Requests that carried an expired or unknown token.
    pub refused_tokens: usize,
}

struct Inner {
    access_key: String,
    secret: String,
    ttl: u64,
    token_window: Duration,
    last_token: Option<Instant>,
    tokens: HashMap<String, Instant>,
    faults: VecDeque<Fault>,
    latency: Duration,
    /// Process the next business call, then break the connection (a lost answer).
    drop_next: bool,
    /// Put per-item validation errors in `meta` (by product code, with `msg`) rather than in
    /// `data.errors`, and failList reasons in `reason` rather than `message`: the envelope has
    /// room for both, and a client must read either.
    other_error_places: bool,
    ledger: Ledger,
}

/// A running simulator.
pub struct SuperCarrier8 {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: tokio::task::JoinHandle<()>,
}

/// Lower-case 32-character MD5 in hex, as the document asks for the secret.
pub fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(text.as_bytes()))
}

impl SuperCarrier8 {
    /// Starts with these credentials, a token TTL of `ttl` seconds and one token call per
    /// `token_window`.
    pub async fn start(access_key: &str, secret: &str, ttl: u64, token_window: Duration) -> Self {
        Self::start_on(0, access_key, secret, ttl, token_window).await
    }

    /// Processes the next business call, then breaks the connection: its answer is lost.
    pub fn drop_next_answer(&self) {
        self.inner.lock().expect("state").drop_next = true;
    }

    /// Per-item errors in `meta` by product code, and failList reasons in `reason`.
    pub fn use_other_error_places(&self) {
        self.inner.lock().expect("state").other_error_places = true;
    }

    /// [`Self::start`] on loopback port `port` (0: a free one), for `weft-sim`.
    pub async fn start_on(
        port: u16,
        access_key: &str,
        secret: &str,
        ttl: u64,
        token_window: Duration,
    ) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            access_key: access_key.into(),
            secret: secret.into(),
            ttl,
            token_window,
            last_token: None,
            tokens: HashMap::new(),
            faults: VecDeque::new(),
            latency: Duration::ZERO,
            drop_next: false,
            other_error_places: false,
            ledger: Ledger::default(),
        }));
        let app = Router::new().fallback(entry).with_state(inner.clone());
        let (addr, server) = crate::harness::serve_app_on(port, app).await;
        Self {
            addr,
            inner,
            _server: server,
        }
    }

    /// The open platform's root.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("state"))
    }

    /// Reads the ledger.
    pub fn ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        self.with(|i| f(&i.ledger))
    }

    /// Makes every business call take this long, as a platform across the internet does.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|i| i.latency = latency);
    }

    /// Queues faults for the next business calls.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| i.faults.extend(faults));
    }
}

fn reply(code: i64, message: &str, data: Value) -> Response {
    envelope(code, message, data, Value::Null)
}

/// [`reply`] with `meta` set and no data.
fn reply_meta(code: i64, message: &str, meta: Value) -> Response {
    envelope(code, message, Value::Null, meta)
}

fn envelope(code: i64, message: &str, data: Value, meta: Value) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "data": data,
        "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "traceId": uuid::Uuid::new_v4().to_string(),
        "exception": null, "meta": meta, "ext": null,
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Every request: [`handle`], and the answer dropped when asked (the call is processed).
async fn entry(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let drop = uri.path() != "/cncop/ca/v1/applications/get-token"
        && std::mem::take(&mut inner.lock().expect("state").drop_next);
    let response = handle(State(inner), method, uri, headers, body).await;
    if drop {
        crate::harness::dropped_answer()
    } else {
        response
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = inner.lock().expect("state").latency;
    if !latency.is_zero() && uri.path() != "/cncop/ca/v1/applications/get-token" {
        tokio::time::sleep(latency).await;
    }
    let mut i = inner.lock().expect("state");
    let path = uri.path().to_string();
    let json_body = || serde_json::from_slice::<Value>(&body).ok();
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if path == "/cncop/ca/v1/applications/get-token" {
        i.ledger.token_requests += 1;
        if method != Method::POST || !is_json {
            return (
                StatusCode::BAD_REQUEST,
                "POST with Content-Type: application/json",
            )
                .into_response();
        }
        let Some(b) = json_body() else {
            return reply(500, "body is not JSON", Value::Null);
        };
        let key = b["accessKey"].as_str().unwrap_or_default();
        let sign = b["secretKeySign"].as_str().unwrap_or_default();
        if key.is_empty() {
            return reply(21180031, "Access Key不能为空", Value::Null);
        }
        if sign.is_empty() {
            return reply(21180041, "密钥不能为空", Value::Null);
        }
        if key != i.access_key {
            return reply(21184033, "应用账号不存在", Value::Null);
        }
        if sign != md5_hex(&i.secret) {
            return reply(21184031, "应用账号或密钥不正确", Value::Null);
        }
        if i.last_token.is_some_and(|t| t.elapsed() < i.token_window) {
            return reply(21185002, "获取Token超出频率限制", Value::Null);
        }
        i.last_token = Some(Instant::now());
        let token = format!("eyJ.{}.sig", uuid::Uuid::new_v4().simple());
        let ttl = i.ttl;
        i.tokens
            .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
        return reply(
            200,
            "success",
            json!({"accessToken": token, "tokenTtl": format!("PT{ttl}S"), "tokenTtlSeconds": ttl}),
        );
    }
    if !path.starts_with("/cncop/") && !path.starts_with("/ps/") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match i.tokens.get(token) {
        Some(exp) if *exp > Instant::now() => {}
        Some(_) => {
            i.ledger.refused_tokens += 1;
            return reply(20324012, "token已过期", Value::Null);
        }
        None => {
            i.ledger.refused_tokens += 1;
            return reply(20324013, "token无效", Value::Null);
        }
    }
    *i.ledger.calls.entry(path.clone()).or_default() += 1;
    match i.faults.pop_front() {
        Some(Fault::Code(c)) => {
            if c == 20324012 || c == 20324013 {
                // The platform dropped the token (expired early, revoked).
                i.tokens.remove(token);
            }
            return reply(c, "simulated", Value::Null);
        }
        Some(Fault::Status(s)) => {
            return (
                StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulated",
            )
                .into_response();
        }
        None => {}
    }
    if path == "/cncop/demo" {
        return reply(200, "success", json!({"hello": "demo"}));
    }
    if method != Method::POST || !is_json {
        return (
            StatusCode::BAD_REQUEST,
            "POST with Content-Type: application/json",
        )
            .into_response();
    }
    let Some(b) = json_body() else {
        return reply(500, "body is not JSON", Value::Null);
    };
    let check = |item: &Value| -> Option<(&'static str, String)> {
        let code = item["goodsCode"].as_str().unwrap_or_default();
        if code.is_empty() {
            return Some(("goodsCode", "goodsCode不能为空".into()));
        }
        if item
            .get("goodsName")
            .is_some_and(|n| n.as_str().is_none_or(|n| n.chars().count() > 50))
        {
            return Some(("goodsName", "goodsName长度不能超过50".into()));
        }
        None
    };
    match path.as_str() {
        "/ps/v1/open/product/add-upd-product" => {
            // The single upsert names its product by `productNo` (the platform's public page).
            let mut b = b;
            let Some(code) = b["productNo"]
                .as_str()
                .map(str::to_string)
                .filter(|c| !c.is_empty())
            else {
                return reply(
                    40001,
                    "参数校验失败",
                    json!({"errors": [{"index": 0, "field": "productNo", "message": "productNo不能为空"}]}),
                );
            };
            b["goodsCode"] = json!(code);
            if let Some((field, message)) = check(&b) {
                return reply(
                    40001,
                    "参数校验失败",
                    json!({"errors": [{"index": 0, "field": field, "message": message}]}),
                );
            }
            i.ledger.products.insert(code.clone(), b);
            reply(200, "success", json!({"productNo": code}))
        }
        "/cncop/pdm/v3/goods/page" => {
            let page = b["pageNo"].as_u64().unwrap_or(0);
            let size = b["pageSize"].as_u64().unwrap_or(0);
            if page == 0 || size == 0 || size > 500 {
                return reply(
                    40001,
                    "pageNo and pageSize are required, pageSize ≤ 500",
                    Value::Null,
                );
            }
            let all: Vec<Value> = i.ledger.products.values().cloned().collect();
            let records: Vec<Value> = all
                .iter()
                .skip(((page - 1) * size) as usize)
                .take(size as usize)
                .cloned()
                .collect();
            reply(
                200,
                "success",
                json!({"records": records, "total": all.len(), "current": page, "size": size}),
            )
        }
        batch => {
            let Some(items) = b.as_array().cloned() else {
                return reply(40001, "body must be a JSON array of items", Value::Null);
            };
            if items.is_empty() || items.len() > 100 {
                return reply(40002, "1 to 100 items per call", Value::Null);
            }
            i.ledger.batch_sizes.push(items.len());
            let codes: Vec<String> = items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v["goodsCode"].as_str().unwrap_or_default().to_string())
                })
                .collect();
            match batch {
                "/cncop/pdm/v3/goods/batch-save-by-code" => {
                    let errors: Vec<Value> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(n, it)| check(it).map(|(field, message)| json!({"index": n, "field": field, "message": message})))
                        .collect();
                    if !errors.is_empty() {
                        if i.other_error_places {
                            let by_code: Vec<Value> = errors
                                .iter()
                                .map(|e| {
                                    let n = e["index"].as_u64().unwrap_or(0) as usize;
                                    json!({"goodsCode": codes[n], "fieldName": e["field"], "msg": e["message"]})
                                })
                                .collect();
                            return reply_meta(40001, "参数校验失败", json!({"errors": by_code}));
                        }
                        return reply(40001, "参数校验失败", json!({"errors": errors}));
                    }
                    let mut fail = Vec::new();
                    for (it, code) in items.iter().zip(&codes) {
                        if code.starts_with("FAIL") {
                            let words = if i.other_error_places {
                                "reason"
                            } else {
                                "message"
                            };
                            fail.push(
                                json!({"goodsCode": code, "code": "30001", words: "商品已锁定"}),
                            );
                        } else {
                            i.ledger.products.insert(code.clone(), it.clone());
                        }
                    }
                    reply(
                        200,
                        "success",
                        json!({"successList": codes.iter().filter(|c| !c.starts_with("FAIL")).collect::<Vec<_>>(), "failList": fail}),
                    )
                }
                "/cncop/pdm/v3/goods/batch-query-by-code" => {
                    let found: Vec<Value> = codes
                        .iter()
                        .filter_map(|c| i.ledger.products.get(c).cloned())
                        .collect();
                    reply(200, "success", Value::Array(found))
                }
                "/cncop/pdm/v3/goods/batch-delete-by-code"
                | "/cncop/pdm/v3/goods/batch-enable-by-code"
                | "/cncop/pdm/v3/goods/batch-disable-by-code" => {
                    let mut fail = Vec::new();
                    for c in &codes {
                        match i.ledger.products.get_mut(c) {
                            None => fail.push(
                                json!({"goodsCode": c, "code": "30404", "message": "商品不存在"}),
                            ),
                            Some(p)
                                if batch.ends_with("enable-by-code")
                                    && p["enabled"] != json!(false) =>
                            {
                                fail.push(json!({"goodsCode": c, "code": "30409", "message": "商品已启用"}));
                            }
                            Some(p)
                                if batch.ends_with("disable-by-code")
                                    && p["enabled"] == json!(false) =>
                            {
                                fail.push(json!({"goodsCode": c, "code": "30409", "message": "商品已禁用"}));
                            }
                            Some(p) => {
                                if batch.ends_with("delete-by-code") {
                                    i.ledger.products.remove(c);
                                } else {
                                    p["enabled"] = json!(batch.ends_with("enable-by-code"));
                                }
                            }
                        }
                    }
                    reply(200, "success", json!({"failList": fail}))
                }
                _ => (StatusCode::NOT_FOUND, "not found").into_response(),
            }
        }
    }
}
