//! A strict simulator of HugeVision-SCM (`hugevision-scm.md` and the platform's API manual):
//! the JWT login (`POST /api/v1/auth/tokens` with systemKey, uniqueCode, userName and the
//! pre-configured `parameters`), a token endpoint that answers 429 with Retry-After when called
//! again too soon, `Authorization: Bearer <jwt>` checked for signature and `exp`, the
//! `requestId` / `requestTime` envelope, duplicate request ids ("RequestId重复"), API09APDF,
//! API170COF (processed at once), API170COB (processed by a cycle, every 30 minutes on the real
//! platform, shortened here) and API170NNF.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The login's path.
pub const TOKEN_PATH: &str = "/api/v1/auth/tokens";
/// API09APDF.
pub const APDF: &str = "/api/v1/processes/exportshipment_pd";
/// API170COF.
pub const COF: &str = "/api/v1/processes/importintenaluseinventory_co_f";
/// API170COB.
pub const COB: &str = "/api/v1/processes/importintenaluseinventory_co_b";
/// API170NNF.
pub const NNF: &str = "/api/v1/processes/inquiryintenaluseinventory_co";

const KEY: &[u8] = b"hugevision-simulator-signing-key";
const INV_STATUSES: &[&str] = &["正常", "冻结", "破损", "待定"];

/// A fault for the next business call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this HTTP status.
    Status(u16),
    /// Process the request, then answer only after this delay (past the caller's timeout: the
    /// answer is lost).
    SlowAnswer(Duration),
}

/// The configured credentials and identity.
#[derive(Debug, Clone)]
pub struct Account {
    /// systemKey.
    pub system_key: String,
    /// uniqueCode (the system password).
    pub unique_code: String,
    /// userName.
    pub user_name: String,
    /// parameters the login must carry (clientId, roleId, organizationId, …).
    pub parameters: Value,
}

/// What the simulator saw and holds.
#[derive(Default)]
pub struct Ledger {
    /// Login requests, refused ones included.
    pub login_requests: usize,
    /// Logins answered with a token.
    pub logins: usize,
    /// Logins refused with 429.
    pub throttled: usize,
    /// Login requests that arrived before the Retry-After of a 429 had passed.
    pub early_after_429: usize,
    /// Business calls by path.
    pub calls: BTreeMap<String, usize>,
    /// Business calls refused for their token.
    pub refused_tokens: usize,
    /// Documents created, by docNo: (docNoHVS, requestId).
    pub documents: BTreeMap<String, (String, String)>,
    /// Every request id a submission used, in order.
    pub submissions: Vec<String>,
    /// Every request body received, by path (for envelope checks).
    pub bodies: Vec<(String, Value)>,
}

enum Request170 {
    Queued(Value),
    Done(Value),
}

struct Inner {
    account: Account,
    ttl: Duration,
    login_window: Duration,
    last_login: Option<Instant>,
    retry_not_before: Option<Instant>,
    generation: u64,
    requests: BTreeMap<String, Request170>,
    seen_ids: HashSet<String>,
    products: HashSet<String>,
    shipments: Vec<Value>,
    faults: VecDeque<Fault>,
    next_doc: u32,
    ledger: Ledger,
}

/// A running simulator.
pub struct HugeVision {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: tokio::task::JoinHandle<()>,
    _cycle: tokio::task::JoinHandle<()>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).expect("key");
    mac.update(data.as_bytes());
    b64(&mac.finalize().into_bytes())
}

fn jwt(user: &str, ttl: Duration, generation: u64) -> String {
    let header = b64(br#"{"kid":"idempiere","typ":"JWT","alg":"HS256"}"#);
    let claims = json!({
        "sub": user,
        "iss": "idempiere.org",
        "exp": now_secs() + ttl.as_secs(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "gen": generation,
    });
    let payload = b64(claims.to_string().as_bytes());
    let data = format!("{header}.{payload}");
    let signature = sign(&data);
    format!("{data}.{signature}")
}

/// None if the token is well signed and unexpired, else why not.
fn check_jwt(token: &str) -> Option<&'static str> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some("not a JWT");
    };
    if sign(&format!("{h}.{p}")) != s {
        return Some("bad signature");
    }
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    match claims["exp"].as_u64() {
        Some(exp) if exp > now_secs() => None,
        _ => Some("expired"),
    }
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"title": title, "status": status.as_u16(), "detail": detail}).to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn stamp() -> String {
    // The manual's `yyyy-MM-dd hh24:mi:ss`; the simulator does not care about the zone.
    let secs = now_secs();
    let days = secs / 86_400;
    let (y, m, d) = civil(days as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn format_error(request_id: &str, why: &str) -> Response {
    let message = format!("处理失败(请求数据格式错误解析失败) - Parse Error;{why}");
    ok(json!({
        "requestId": request_id,
        "requestResult": "1",
        "responseTime": stamp(),
        "errorMsg": message,
        "targetRequestId": request_id,
        "targetRequestStatus": "1",
        "targetRequestResult": "6",
        "targetRequestErrorMsg ": message,
    }))
}

impl HugeVision {
    /// Starts with this account, tokens living `ttl`, one login per `login_window` (429 with
    /// Retry-After otherwise), and an asynchronous processing cycle every `cycle`.
    pub async fn start(
        account: Account,
        ttl: Duration,
        login_window: Duration,
        cycle: Duration,
    ) -> Self {
        Self::start_on(0, account, ttl, login_window, cycle).await
    }

    /// [`Self::start`] on loopback port `port` (0: a free one), for `weft-sim`.
    pub async fn start_on(
        port: u16,
        account: Account,
        ttl: Duration,
        login_window: Duration,
        cycle: Duration,
    ) -> Self {
        let products = ["SD01B02_D01食品酒饮02", "BD01A01_D01零部件001", "SD01B09"]
            .into_iter()
            .map(String::from)
            .collect();
        let inner = Arc::new(Mutex::new(Inner {
            account,
            ttl,
            login_window,
            last_login: None,
            retry_not_before: None,
            generation: 0,
            requests: BTreeMap::new(),
            seen_ids: HashSet::new(),
            products,
            shipments: Vec::new(),
            faults: VecDeque::new(),
            next_doc: 1,
            ledger: Ledger::default(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let (addr, server) = crate::harness::serve_app_on(port, app).await;
        let cycle_state = inner.clone();
        let cycle_task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(cycle).await;
                let mut i = cycle_state.lock().expect("state");
                let queued: Vec<(String, Value)> = i
                    .requests
                    .iter()
                    .filter_map(|(id, r)| match r {
                        Request170::Queued(body) => Some((id.clone(), body.clone())),
                        Request170::Done(_) => None,
                    })
                    .collect();
                for (id, body) in queued {
                    let result = process(&mut i, &id, &body);
                    i.requests.insert(id, Request170::Done(result));
                }
            }
        });
        Self {
            addr,
            inner,
            _server: server,
            _cycle: cycle_task,
        }
    }

    /// The platform's root.
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

    /// Queues faults for the next business calls.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| i.faults.extend(faults));
    }

    /// Adds pending shipments (API09APDF documents).
    pub fn add_shipments(&self, docs: impl IntoIterator<Item = Value>) {
        self.with(|i| i.shipments.extend(docs));
    }

    /// Revokes every token issued so far (the next business call answers 401).
    pub fn revoke_tokens(&self) {
        self.with(|i| i.generation += 1);
    }

    /// How many submissions are still waiting for the processing cycle.
    pub fn queued(&self) -> usize {
        self.with(|i| {
            i.requests
                .values()
                .filter(|r| matches!(r, Request170::Queued(_)))
                .count()
        })
    }
}

fn generation(token: &str) -> Option<u64> {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| c["gen"].as_u64())
}

fn login(i: &mut Inner, headers: &HeaderMap, body: &Bytes) -> Response {
    i.ledger.login_requests += 1;
    if i.retry_not_before.is_some_and(|t| Instant::now() < t) {
        i.ledger.early_after_429 += 1;
    }
    if !is_json(headers) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "Content-Type must be application/json",
        );
    }
    let Ok(b) = serde_json::from_slice::<Value>(body) else {
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "body is not JSON");
    };
    let field = |name: &str, max: usize| -> Option<String> {
        b[name]
            .as_str()
            .filter(|s| !s.is_empty() && s.chars().count() <= max)
            .map(String::from)
    };
    let (Some(system), Some(code), Some(user)) = (
        field("systemKey", 40),
        field("uniqueCode", 255),
        field("userName", 80),
    ) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "systemKey, uniqueCode and userName are required",
        );
    };
    if let Some(extra) = b.as_object().and_then(|o| {
        o.keys()
            .find(|k| !["systemKey", "uniqueCode", "userName", "parameters"].contains(&k.as_str()))
    }) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!("unknown field {extra}"),
        );
    }
    if i.last_login.is_some_and(|t| t.elapsed() < i.login_window) {
        i.ledger.throttled += 1;
        let wait = i
            .login_window
            .saturating_sub(i.last_login.map(|t| t.elapsed()).unwrap_or_default());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        i.retry_not_before = Some(Instant::now() + Duration::from_secs(secs));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("content-type", "application/json"), ("retry-after", &secs.to_string())],
            json!({"title": "Too Many Requests", "status": 429, "detail": "token requests are rate limited"}).to_string(),
        )
            .into_response();
    }
    let a = &i.account;
    if system != a.system_key || code != a.unique_code || user != a.user_name {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Authenticate error",
            "Invalid User ID or Password",
        );
    }
    if b.get("parameters").cloned().unwrap_or(Value::Null) != a.parameters {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Authenticate error",
            "role, organization or client not granted to the user",
        );
    }
    i.last_login = Some(Instant::now());
    i.ledger.logins += 1;
    ok(json!({"token": jwt(&user, i.ttl, i.generation)}))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Processes one adjustment request: all documents or none.
fn process(i: &mut Inner, request_id: &str, body: &Value) -> Value {
    let mut failed = false;
    let mut docs = Vec::new();
    for doc in body["docList"].as_array().into_iter().flatten() {
        let mut doc_errors = Vec::new();
        if text(doc, "warehouse_Text").is_none_or(str::is_empty) {
            doc_errors.push("必须填写下列字段的内容：仓库".to_string());
        }
        if let Some(d) = text(doc, "doctype_Name")
            && !d.starts_with("库存调整")
        {
            doc_errors.push("单据类型不存在或没有访问权限".into());
        }
        let mut lines = Vec::new();
        for line in doc["lineList"].as_array().into_iter().flatten() {
            let mut errors = Vec::new();
            if text(line, "product_Text").is_none_or(|p| !i.products.contains(p)) {
                errors.push("产品不存在或没有访问权限");
            }
            if text(line, "invStatus_Text").is_none_or(|s| !INV_STATUSES.contains(&s)) {
                errors.push("库存状态不存在或没有访问权限");
            }
            let qty = text(line, "adjustQuantity").and_then(|q| q.parse::<f64>().ok());
            if qty.is_none_or(|q| q == 0.0) {
                errors.push("必须填写下列字段的内容：调整数量");
            }
            if !errors.is_empty() {
                doc_errors.push(errors.join(","));
            }
            lines.push((text(line, "lineId").unwrap_or_default().to_string(), errors));
        }
        failed |= !doc_errors.is_empty();
        docs.push((
            text(doc, "docNo").unwrap_or_default().to_string(),
            doc_errors,
            lines,
        ));
    }
    let mut doc_list = Vec::new();
    for (doc_no, doc_errors, lines) in docs {
        let doc_no_hvs = if failed {
            String::new()
        } else {
            let n = i.next_doc;
            i.next_doc += 1;
            let hvs = format!("2111SA{n:04}");
            i.ledger
                .documents
                .insert(doc_no.clone(), (hvs.clone(), request_id.to_string()));
            hvs
        };
        let line_list: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(k, (id, errors))| {
                json!({
                    "lineId": id,
                    "lineResult": if errors.is_empty() { "1" } else { "9" },
                    "lineErrorMsg": errors.join(","),
                    "lineNoHVS": if failed { String::new() } else { ((k + 1) * 10).to_string() },
                })
            })
            .collect();
        doc_list.push(json!({
            "docNo": doc_no,
            "docResult": if doc_errors.is_empty() { "1" } else { "9" },
            "docErrorMsg": doc_errors.join(","),
            "docNoHVS": doc_no_hvs,
            "docStatus": if failed { "" } else { "CO" },
            "lineList": line_list,
        }));
    }
    let (result, message) = if failed {
        ("7", "处理失败(请求数据数据错误导入失败)")
    } else {
        ("1", "处理成功")
    };
    json!({
        "docList": doc_list,
        "requestId": request_id,
        "requestResult": "1",
        "responseTime": stamp(),
        "errorMsg": message,
        "targetRequestId": request_id,
        "targetRequestStatus": "1",
        "targetRequestResult": result,
        "targetRequestErrorMsg ": message,
    })
}

/// Checks the documents' required fields and formats as the manual's table gives them; the
/// first problem, as the platform's parse error would word it.
fn check_docs(body: &Value, asynchronous: bool) -> Option<String> {
    let Some(docs) = body["docList"].as_array().filter(|d| !d.is_empty()) else {
        return Some("docList is required".into());
    };
    for doc in docs {
        let mut required = vec!["docNo", "warehouse_Text"];
        if asynchronous {
            required.extend(["org_Text", "doctype_Name", "movementDate"]);
        }
        for f in required {
            if text(doc, f).is_none_or(str::is_empty) {
                return Some(format!("{f} is required"));
            }
        }
        for f in ["movementDate", "dateAcct"] {
            if let Some(d) = text(doc, f)
                && !is_date(d)
            {
                return Some(format!("Unparseable date: \"{d}\""));
            }
        }
        if text(doc, "docNo").is_some_and(|d| d.chars().count() > 20) {
            return Some("docNo longer than 20".into());
        }
        let Some(lines) = doc["lineList"].as_array().filter(|l| !l.is_empty()) else {
            return Some("lineList is required".into());
        };
        for line in lines {
            for f in ["locator_Text", "product_Text", "invStatus_Text"] {
                if text(line, f).is_none_or(str::is_empty) {
                    return Some(format!("{f} is required"));
                }
            }
            if !line["adjustQuantity"].is_string() {
                return Some("adjustQuantity must be a decimal string".into());
            }
            if let Some(d) = text(line, "dateProduction")
                && !is_date(d)
            {
                return Some(format!("Unparseable date: \"{d}\""));
            }
        }
    }
    None
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slow = {
        let mut i = inner.lock().expect("state");
        let answer = route(&mut i, &method, uri.path(), &headers, &body);
        match answer {
            Routed::Now(r) => return r,
            Routed::After(r, d) => (r, d),
        }
    };
    tokio::time::sleep(slow.1).await;
    slow.0
}

enum Routed {
    Now(Response),
    After(Response, Duration),
}

fn route(i: &mut Inner, method: &Method, path: &str, headers: &HeaderMap, body: &Bytes) -> Routed {
    if method != Method::POST {
        return Routed::Now(problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "POST only",
        ));
    }
    if path == TOKEN_PATH {
        return Routed::Now(login(i, headers, body));
    }
    if ![APDF, COF, COB, NNF].contains(&path) {
        return Routed::Now(problem(StatusCode::NOT_FOUND, "Not Found", path));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let why =
        check_jwt(token).or_else(|| (generation(token) != Some(i.generation)).then_some("revoked"));
    if let Some(why) = why {
        i.ledger.refused_tokens += 1;
        return Routed::Now(problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            &format!("token {why}"),
        ));
    }
    if !is_json(headers) {
        return Routed::Now(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "Content-Type must be application/json",
        ));
    }
    *i.ledger.calls.entry(path.to_string()).or_default() += 1;
    let mut delay = None;
    match i.faults.pop_front() {
        Some(Fault::Status(s)) => {
            return Routed::Now(problem(
                StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "Simulated",
                "simulated failure",
            ));
        }
        Some(Fault::SlowAnswer(d)) => delay = Some(d),
        None => {}
    }
    let Ok(b) = serde_json::from_slice::<Value>(body) else {
        return Routed::Now(format_error("", "body is not JSON"));
    };
    i.ledger.bodies.push((path.to_string(), b.clone()));
    let request_id = text(&b, "requestId").unwrap_or_default().to_string();
    if request_id.is_empty() || request_id.chars().count() > 36 {
        return Routed::Now(format_error(
            &request_id,
            "requestId is required (at most 36 characters)",
        ));
    }
    if text(&b, "requestTime").is_none_or(|t| !is_timestamp(t)) {
        return Routed::Now(format_error(
            &request_id,
            &format!("Unparseable date: {}", b["requestTime"]),
        ));
    }
    let answer = match path {
        APDF => query_shipments(i, &request_id, &b),
        COF | COB => {
            if !i.seen_ids.insert(request_id.clone()) {
                ok(
                    json!({"requestId": request_id, "requestResult": "6", "responseTime": stamp(), "errorMsg": "RequestId重复"}),
                )
            } else if let Some(why) = check_docs(&b, path == COB) {
                let r = format_error(&request_id, &why);
                i.requests.insert(
                    request_id.clone(),
                    Request170::Done(json!({
                        "requestId": request_id, "requestResult": "1", "responseTime": stamp(),
                        "errorMsg": why, "targetRequestId": request_id, "targetRequestStatus": "1",
                        "targetRequestResult": "6", "targetRequestErrorMsg ": why,
                    })),
                );
                r
            } else {
                i.ledger.submissions.push(request_id.clone());
                if path == COF {
                    let result = process(i, &request_id, &b);
                    i.requests
                        .insert(request_id.clone(), Request170::Done(result.clone()));
                    ok(result)
                } else {
                    i.requests
                        .insert(request_id.clone(), Request170::Queued(b.clone()));
                    ok(
                        json!({"requestId": request_id, "requestResult": "1", "responseTime": stamp(), "errorMsg": "异步处理提交成功"}),
                    )
                }
            }
        }
        _ => inquire(i, &request_id, &b),
    };
    match delay {
        Some(d) => Routed::After(answer, d),
        None => Routed::Now(answer),
    }
}

fn inquire(i: &mut Inner, request_id: &str, b: &Value) -> Response {
    let Some(target) = text(b, "targetRequestId").filter(|t| !t.is_empty()) else {
        return format_error(request_id, "targetRequestId is required");
    };
    match i.requests.get(target) {
        None => ok(
            json!({"requestId": request_id, "requestResult": "6", "responseTime": stamp(), "errorMsg": format!("targetRequestId {target} 不存在")}),
        ),
        Some(Request170::Queued(_)) => ok(json!({
            "requestId": request_id,
            "requestResult": "1",
            "responseTime": stamp(),
            "errorMsg": "该请求还在处理中",
            "targetRequestId": target,
            "targetRequestStatus": "0",
            "targetRequestResult": "0",
            "targetRequestErrorMsg ": "该请求还在处理中",
        })),
        Some(Request170::Done(result)) => {
            let mut answer = result.clone();
            answer["requestId"] = json!(request_id);
            answer["responseTime"] = json!(stamp());
            ok(answer)
        }
    }
}

const FILTERS: &[&str] = &[
    "org_Value",
    "org_Name",
    "doctype_Name",
    "documentNo",
    "poReference",
    "documentNo_Order",
    "poReference_Order",
    "bpartner_Value",
    "bpartner_Name",
    "warehouse_Value",
    "warehouse_Name",
    "warehouse_ReferenceNo",
    "movementDate",
    "movementDateTo",
];

fn query_shipments(i: &mut Inner, request_id: &str, b: &Value) -> Response {
    let Some(fields) = b.as_object() else {
        return format_error(request_id, "body is not an object");
    };
    for (k, v) in fields {
        if k == "requestId" || k == "requestTime" {
            continue;
        }
        if !FILTERS.contains(&k.as_str()) || !v.is_string() {
            return format_error(request_id, &format!("unknown condition {k}"));
        }
    }
    let from = text(b, "movementDate");
    let to = text(b, "movementDateTo");
    let matches = |doc: &Value| {
        fields.iter().all(|(k, v)| match k.as_str() {
            "requestId" | "requestTime" => true,
            "movementDate" => {
                text(doc, "movementDate").is_some_and(|d| from.is_none_or(|f| d >= f))
            }
            "movementDateTo" => {
                text(doc, "movementDate").is_some_and(|d| to.is_none_or(|t| d <= t))
            }
            _ => doc.get(k) == Some(v),
        })
    };
    // Queried shipments move to "processing": they are not pending any more.
    let (hits, rest): (Vec<Value>, Vec<Value>) = i.shipments.drain(..).partition(|d| matches(d));
    i.shipments = rest;
    if hits.is_empty() {
        return ok(
            json!({"requestId": request_id, "requestResult": "1", "responseTime": stamp(), "errorMsg": "No Data!"}),
        );
    }
    ok(
        json!({"docList": hits, "requestId": request_id, "requestResult": "1", "responseTime": stamp(), "errorMsg": "处理成功"}),
    )
}
