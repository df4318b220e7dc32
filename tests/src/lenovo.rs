//! A strict simulator of the Lenovo SCC data-sync API (`shared/platforms/lenovo-data-sync.md`)
//! plus an OAuth2 client-credentials token endpoint (the document leaves tokens out).
//!
//! Enforced: `Authorization: Bearer`, the method per action, Content-Type and Accept (JSON or
//! XML, answered in the format asked), the batch fields and their types (batch_id ≤ 16, batch_size
//! and seq_size numbers, seq_id a string, 1 ≤ seq_size ≤ 500 = rows sent, appName ≤ 10), batch
//! consistency across sequences, E00A00 for a sequence already consumed, E00V00 with per-row
//! `verify` for configured length limits, E00W00 for a unique key added twice, E00M00 with both
//! (each sub-code with its own rows) when one request has both problems, PATCH clearing the
//! data at the start of its batch, 404 for unknown paths and 401 for bad tokens.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fault for the next data request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Handle the request normally (to aim a later fault at a later sequence).
    Pass,
    /// Answer this HTTP status.
    Status(u16),
    /// Answer this body code (e.g. "-1", "E00P00") without processing.
    Code(&'static str),
    /// Process the request, then break the connection (a lost answer).
    DropAfterProcessing,
    /// Answer 401 as if the token had been revoked (and revoke them all).
    RevokeTokens,
}

/// One data request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// batch_id.
    pub batch_id: String,
    /// batch_size.
    pub batch_size: u64,
    /// seq_id.
    pub seq_id: String,
    /// Rows carried.
    pub rows: usize,
    /// Content-Type used.
    pub content_type: String,
    /// appName, if sent.
    pub app_name: Option<String>,
    /// The answer's code.
    pub code: String,
}

/// What the simulator saw and holds.
#[derive(Default)]
pub struct Ledger {
    /// Token requests.
    pub token_requests: usize,
    /// Data requests, in order.
    pub requests: Vec<Seen>,
    /// Rows applied (an applied row counted once per write: duplicates would show here).
    pub rows_written: usize,
    /// Stored rows by (category, biz_key), keyed by the unique key.
    pub tables: BTreeMap<(String, String), BTreeMap<String, Map<String, Value>>>,
    /// Times a PATCH batch cleared a table.
    pub clears: usize,
}

struct Batch {
    method: String,
    target: (String, String),
    batch_size: u64,
    consumed: HashSet<String>,
}

struct Inner {
    client_id: String,
    client_secret: String,
    expires_in: u64,
    tokens: HashMap<String, Instant>,
    categories: HashSet<String>,
    unique: Vec<String>,
    max_len: HashMap<String, usize>,
    batches: HashMap<String, Batch>,
    faults: VecDeque<Fault>,
    ledger: Ledger,
}

/// A running simulator.
pub struct Lenovo {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Lenovo {
    /// Starts with these client credentials; category "inventory" exists, rows are unique by
    /// (LENOVO_PN, PLANT), and field "version" is at most 10 characters.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(0, client_id, client_secret).await
    }

    /// [`Self::start`] on loopback port `port` (0: a free one), for `weft-sim`.
    pub async fn start_on(port: u16, client_id: &str, client_secret: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            expires_in: 7200,
            tokens: HashMap::new(),
            categories: ["inventory".to_string()].into(),
            unique: vec!["LENOVO_PN".into(), "PLANT".into()],
            max_len: [("version".to_string(), 10)].into(),
            batches: HashMap::new(),
            faults: VecDeque::new(),
            ledger: Ledger::default(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let (addr, server) = crate::harness::serve_app_on(port, app).await;
        Self {
            addr,
            inner,
            _server: server,
        }
    }

    /// The data-sync base URL (…/data/sync).
    pub fn base_url(&self) -> String {
        format!(
            "http://{}/v1.0/supply_chain/scc/open_platform/data/sync",
            self.addr
        )
    }

    /// The token URL.
    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("state"))
    }

    /// Reads the ledger.
    pub fn ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        self.with(|i| f(&i.ledger))
    }

    /// Queues faults for the next data requests.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| i.faults.extend(faults));
    }
}

const PREFIX: &str = "/v1.0/supply_chain/scc/open_platform/data/sync/";

fn answer(format: &str, status: StatusCode, code: &str, msg: &str, result: Value) -> Response {
    if format == "application/xml" {
        let mut x = format!("<Resp><code>{code}</code><msg>{msg}</msg>");
        match &result {
            Value::Array(items) => {
                for item in items {
                    x.push_str(&format!("<result>{}</result>", to_xml(item)));
                }
            }
            Value::Null => {}
            other => x.push_str(&format!("<result>{}</result>", to_xml(other))),
        }
        x.push_str("</Resp>");
        (status, [("content-type", "application/xml")], x).into_response()
    } else {
        let body = if result.is_null() {
            json!({"code": code, "msg": msg})
        } else {
            json!({"code": code, "msg": msg, "result": result})
        };
        (
            status,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn to_xml(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| format!("<{k}>{}</{k}>", to_xml(i)))
                    .collect::<String>(),
                other => format!("<{k}>{}</{k}>", to_xml(other)),
            })
            .collect(),
        Value::String(s) => esc(s),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/oauth/token" {
        return token(&inner, &method, &headers, &body);
    }
    let Some(rest) = uri.path().strip_prefix(PREFIX) else {
        return (StatusCode::NOT_FOUND, "no such path").into_response();
    };
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let format = if accept.starts_with("application/xml") {
        "application/xml"
    } else {
        "application/json"
    };
    let mut i = inner.lock().expect("state");
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if i.tokens.get(token).is_none_or(|exp| *exp <= Instant::now()) {
        return answer(
            format,
            StatusCode::UNAUTHORIZED,
            "401",
            "token error",
            Value::Null,
        );
    }
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 2 || !i.categories.contains(parts[0]) {
        return answer(
            format,
            StatusCode::NOT_FOUND,
            "404",
            "path not found",
            Value::Null,
        );
    }
    if !matches!(method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH") {
        return (StatusCode::METHOD_NOT_ALLOWED, "method").into_response();
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !ct.starts_with("application/json") && !ct.starts_with("application/xml") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/json or application/xml",
        )
            .into_response();
    }
    if !accept.starts_with("application/json") && !accept.starts_with("application/xml") {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "accept must be application/json or application/xml",
        )
            .into_response();
    }
    match i.faults.pop_front() {
        Some(Fault::Status(s)) => {
            return (
                StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulated",
            )
                .into_response();
        }
        Some(Fault::Code(code)) => {
            return answer(format, StatusCode::OK, code, "simulated", Value::Null);
        }
        Some(Fault::RevokeTokens) => {
            i.tokens.clear();
            return answer(
                format,
                StatusCode::UNAUTHORIZED,
                "401",
                "token error",
                Value::Null,
            );
        }
        Some(Fault::Pass) => {}
        Some(Fault::DropAfterProcessing) => {
            let _ = process(
                &mut i,
                method.as_str(),
                (parts[0], parts[1]),
                &ct,
                &body,
                format,
            );
            return crate::harness::dropped_answer();
        }
        None => {}
    }
    process(
        &mut i,
        method.as_str(),
        (parts[0], parts[1]),
        &ct,
        &body,
        format,
    )
}

fn token(inner: &Arc<Mutex<Inner>>, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut i = inner.lock().expect("state");
    i.ledger.token_requests += 1;
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST only").into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}).to_string(),
        )
            .into_response();
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic {
        Some(pair) => match pair.split_once(':') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (String::new(), String::new()),
        },
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != i.client_id || secret != i.client_secret {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}).to_string(),
        )
            .into_response();
    }
    let token = format!("lnv-{}", uuid::Uuid::new_v4().simple());
    let ttl = i.expires_in;
    i.tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"access_token": token, "token_type": "bearer", "expires_in": ttl}).to_string(),
    )
        .into_response()
}

struct Envelope {
    app_name: Option<String>,
    batch_id: String,
    batch_size: u64,
    seq_id: String,
    seq_size: u64,
    data: Vec<Map<String, Value>>,
}

fn parse_json(body: &[u8]) -> Result<Envelope, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("not an object")?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "appName" | "batch_id" | "batch_size" | "seq_id" | "seq_size" | "data"
        ) {
            return Err(format!("unknown field {k}"));
        }
    }
    Ok(Envelope {
        app_name: match o.get("appName") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("appName must be a String".into()),
        },
        batch_id: o
            .get("batch_id")
            .and_then(Value::as_str)
            .ok_or("batch_id must be a String")?
            .to_string(),
        batch_size: o
            .get("batch_size")
            .and_then(Value::as_u64)
            .ok_or("batch_size must be a Number")?,
        seq_id: o
            .get("seq_id")
            .and_then(Value::as_str)
            .ok_or("seq_id must be a String")?
            .to_string(),
        seq_size: o
            .get("seq_size")
            .and_then(Value::as_u64)
            .ok_or("seq_size must be a Number")?,
        data: o
            .get("data")
            .and_then(Value::as_array)
            .ok_or("data must be an array")?
            .iter()
            .map(|r| {
                r.as_object()
                    .cloned()
                    .ok_or("data rows must be objects".to_string())
            })
            .collect::<Result<_, _>>()?,
    })
}

fn parse_xml(body: &[u8]) -> Result<Envelope, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let doc = roxml(text)?;
    let field = |name: &str| {
        doc.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    };
    let num = |name: &str| {
        field(name)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(format!("{name} must be a Number"))
    };
    Ok(Envelope {
        app_name: field("appName"),
        batch_id: field("batch_id").ok_or("batch_id is required")?,
        batch_size: num("batch_size")?,
        seq_id: field("seq_id").ok_or("seq_id is required")?,
        seq_size: num("seq_size")?,
        data: doc
            .iter()
            .filter(|(k, _)| k == "data")
            .filter_map(|(_, v)| v.as_object().cloned())
            .collect(),
    })
}

/// A tiny reader for `<Req>`: top-level children in order; `<data>` children become objects.
fn roxml(text: &str) -> Result<Vec<(String, Value)>, String> {
    let body = text.trim();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").ok_or("bad declaration")?.1.trim(),
        None => body,
    };
    let inner = body
        .strip_prefix("<Req>")
        .and_then(|b| b.strip_suffix("</Req>"))
        .ok_or("root must be <Req>")?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let open_end = rest.find('>').ok_or("unclosed tag")?;
        let name = rest[1..open_end].to_string();
        let close = format!("</{name}>");
        let end = rest.find(&close).ok_or(format!("<{name}> is not closed"))?;
        let content = &rest[open_end + 1..end];
        let value = if name == "data" {
            let mut row = Map::new();
            let mut r = content.trim();
            while !r.is_empty() {
                let oe = r.find('>').ok_or("unclosed field")?;
                let f = r[1..oe].to_string();
                let c = format!("</{f}>");
                let e = r.find(&c).ok_or(format!("<{f}> is not closed"))?;
                row.insert(f.clone(), Value::String(unesc(&r[oe + 1..e])));
                r = r[e + c.len()..].trim();
            }
            Value::Object(row)
        } else {
            Value::String(unesc(content))
        };
        out.push((name, value));
        rest = rest[end + close.len()..].trim();
    }
    Ok(out)
}

fn unesc(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn process(
    i: &mut Inner,
    method: &str,
    target: (&str, &str),
    ct: &str,
    body: &[u8],
    format: &str,
) -> Response {
    let env = if ct.starts_with("application/xml") {
        parse_xml(body)
    } else {
        parse_json(body)
    };
    let env = match env {
        Ok(e) => e,
        Err(e) => {
            return answer(
                format,
                StatusCode::BAD_REQUEST,
                "E00V00",
                &format!("envelope invalid: {e}"),
                Value::Null,
            );
        }
    };
    let bad = |msg: String| {
        answer(
            format,
            StatusCode::BAD_REQUEST,
            "E00V00",
            &format!("envelope invalid: {msg}"),
            Value::Null,
        )
    };
    if env.batch_id.is_empty() || env.batch_id.chars().count() > 16 {
        return bad("batch_id is 1 to 16 characters".into());
    }
    if env
        .app_name
        .as_ref()
        .is_some_and(|a| a.chars().count() > 10)
    {
        return bad("appName is at most 10 characters".into());
    }
    if !(1..=500).contains(&env.seq_size) || env.seq_size as usize != env.data.len() {
        return bad(format!(
            "seq_size {} must be 1..=500 and equal the rows sent ({})",
            env.seq_size,
            env.data.len()
        ));
    }
    if env.seq_size > env.batch_size || env.seq_id.parse::<u64>().map_or(true, |s| s == 0) {
        return bad("seq_id must be a positive number and seq_size at most batch_size".into());
    }
    let target = (target.0.to_string(), target.1.to_string());
    let batch = i
        .batches
        .entry(env.batch_id.clone())
        .or_insert_with(|| Batch {
            method: method.to_string(),
            target: target.clone(),
            batch_size: env.batch_size,
            consumed: HashSet::new(),
        });
    if batch.method != method || batch.target != target || batch.batch_size != env.batch_size {
        return bad("a batch keeps its method, path and batch_size across sequences".into());
    }
    let seen = |code: &str| Seen {
        method: method.to_string(),
        batch_id: env.batch_id.clone(),
        batch_size: env.batch_size,
        seq_id: env.seq_id.clone(),
        rows: env.data.len(),
        content_type: ct.to_string(),
        app_name: env.app_name.clone(),
        code: code.to_string(),
    };
    if batch.consumed.contains(&env.seq_id) {
        let s = seen("E00A00");
        i.ledger.requests.push(s);
        return answer(
            format,
            StatusCode::OK,
            "E00A00",
            "this sequence was already consumed",
            Value::Null,
        );
    }
    // Row validation: configured length limits.
    let mut invalid = Vec::new();
    for row in &env.data {
        let verify: Vec<Value> = row
            .iter()
            .filter(|(k, v)| {
                i.max_len
                    .get(*k)
                    .is_some_and(|max| text(v).chars().count() > *max)
            })
            .map(|(k, _)| json!({"type": "value length exceed", "fields": k}))
            .collect();
        if !verify.is_empty() {
            invalid.push(json!({"row": row, "verify": verify}));
        }
    }
    let key_of = |row: &Map<String, Value>, unique: &[String]| {
        unique
            .iter()
            .map(|k| row.get(k).map(text).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|")
    };
    let unique = i.unique.clone();
    if !invalid.is_empty() {
        // Invalid rows and duplicate keys in one request: E00M00, "several problems", each
        // with its own code, message and rows.
        let table = i.ledger.tables.entry(target.clone()).or_default();
        let dups: Vec<Value> = if method == "POST" {
            env.data
                .iter()
                .filter(|r| table.contains_key(&key_of(r, &unique)))
                .map(|r| json!({"row": r}))
                .collect()
        } else {
            Vec::new()
        };
        if !dups.is_empty() {
            i.ledger.requests.push(seen("E00M00"));
            return answer(
                format,
                StatusCode::OK,
                "E00M00",
                "multiple exceptions",
                json!([
                    {"code": "E00V00", "message": "data verification failed!", "result": invalid},
                    {"code": "E00W00", "message": "unique constraint violated", "result": dups},
                ]),
            );
        }
        i.ledger.requests.push(seen("E00V00"));
        return answer(
            format,
            StatusCode::OK,
            "E00V00",
            "data verification failed!",
            Value::Array(invalid),
        );
    }
    let table = i.ledger.tables.entry(target.clone()).or_default();
    if method == "POST" {
        let dups: Vec<Value> = env
            .data
            .iter()
            .filter(|r| table.contains_key(&key_of(r, &unique)))
            .map(|r| json!({"row": r}))
            .collect();
        if !dups.is_empty() {
            i.ledger.requests.push(seen("E00W00"));
            return answer(
                format,
                StatusCode::OK,
                "E00W00",
                "unique constraint violated",
                Value::Array(dups),
            );
        }
    }
    let mut cleared = false;
    if method == "PATCH" && env.seq_id == "1" {
        table.clear();
        cleared = true;
    }
    let mut written = 0;
    for row in &env.data {
        let key = key_of(row, &unique);
        match method {
            "DELETE" => {
                table.remove(&key);
            }
            _ => {
                table.insert(key, row.clone());
            }
        }
        written += 1;
    }
    if let Some(b) = i.batches.get_mut(&env.batch_id) {
        b.consumed.insert(env.seq_id.clone());
    }
    if cleared {
        i.ledger.clears += 1;
    }
    i.ledger.rows_written += written;
    i.ledger.requests.push(seen("0"));
    answer(
        format,
        StatusCode::OK,
        "0",
        "request success",
        if format == "application/xml" {
            Value::String("request success!".into())
        } else {
            Value::Null
        },
    )
}
