//! `weft test`: an adapter checked against fixture files, without Rust. A fixture names an
//! operation (or a schedule) and its input, the platform exchanges the adapter must make in
//! order — method, path, query, headers, body — with the answers the platform gives (status,
//! headers, body, a delay or a dropped connection), and what the operation must answer (an
//! output, or an error kind, code and message). Token endpoints, retries and refreshes are
//! exchanges like any other.
//!
//! Each case runs against its own loopback server and manifest (`base_url` pointing at it, the
//! fixture's secrets as files, fast retries, no pause between token fetches), all cases of a
//! run in one runtime so that the component is compiled once.

use crate::runtime::{Runtime, RuntimeOptions};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why a run could not start (a case that fails is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A fixture file could not be read or parsed.
    #[error("{file}: {message}")]
    Fixture {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A scratch file could not be written.
    #[error("scratch folder: {0}")]
    Io(#[from] std::io::Error),
}

/// One fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The operation to run.
    operation: Option<String>,
    /// Or the schedule to tick.
    schedule: Option<String>,
    /// Or the inbound request to answer.
    inbound: Option<Inbound>,
    /// The operation's input.
    #[serde(default)]
    input: Option<toml::Value>,
    /// A path after the server's address in `base_url` (a platform under `/serviceGate`).
    #[serde(default)]
    base_path: String,
    /// `[config]` of the manifest the case runs with; `{base}` in a string stands for the
    /// fake platform's root URL (for URLs the adapter calls besides `base_url`).
    #[serde(default)]
    config: toml::Table,
    /// Secrets by name (test values, never real ones).
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// `[retry] max_attempts` (default 3).
    max_attempts: Option<u32>,
    /// The exchanges, in order.
    #[serde(default)]
    exchanges: Vec<Exchange>,
    /// What the call must answer.
    expect: Expect,
}

/// A platform-facing request for `handle-inbound` (the host's authentication is not part of a
/// fixture: the route is declared without it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inbound {
    /// The route's name.
    route: String,
    #[serde(default = "post")]
    method: String,
    /// The path below `/inbound/{adapter}`.
    #[serde(default = "slash")]
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A string is sent as it is; anything else as JSON.
    body: Option<toml::Value>,
}

fn post() -> String {
    "POST".into()
}
fn slash() -> String {
    "/".into()
}

/// One request the adapter must make, and the platform's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    method: String,
    path: String,
    /// Query parameters that must be present with these values.
    #[serde(default)]
    query: BTreeMap<String, String>,
    /// Headers that must be present with these values (names in any case).
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The body, as JSON, must contain this (objects key by key, arrays element by element):
    /// leave out what changes from call to call (request ids, timestamps).
    body: Option<toml::Value>,
    /// The body's text must contain each of these.
    #[serde(default)]
    body_contains: Vec<String>,
    /// What the platform answers.
    #[serde(default)]
    answer: Answer,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A string is sent as it is; anything else as JSON.
    body: Option<toml::Value>,
    /// Wait this long before answering.
    #[serde(default)]
    delay_ms: u64,
    /// Break the connection instead of answering (the request was received).
    #[serde(default)]
    drop: bool,
}

fn ok() -> u16 {
    200
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            status: 200,
            headers: BTreeMap::new(),
            body: None,
            delay_ms: 0,
            drop: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The output (an inbound answer's body) must contain this (objects by key, arrays
    /// element by element).
    output: Option<toml::Value>,
    /// An inbound answer's status.
    status: Option<u16>,
    /// Or the call fails with this kind.
    error: Option<String>,
    platform_code: Option<String>,
    message_contains: Option<String>,
}

/// What one case did.
#[derive(Debug)]
pub struct Outcome {
    /// The fixture file.
    pub file: PathBuf,
    /// Exchanges the case declares.
    pub exchanges: usize,
    /// Every way it failed; empty when it passed.
    pub failures: Vec<String>,
}

/// The fixture files under `paths` (a folder means its `*.toml`, sorted).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FixtureError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The component a fixture folder belongs to: `plugins/NAME/…` →
/// `target/wasm32-wasip2/wasm/weft_NAME.wasm`, from the current folder.
pub fn component_for(path: &Path) -> Option<PathBuf> {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let i = parts.iter().position(|p| p == "plugins")?;
    let name = parts.get(i + 1)?;
    Some(PathBuf::from(format!(
        "target/wasm32-wasip2/wasm/weft_{}.wasm",
        name.replace('-', "_")
    )))
}

/// Runs every case of `files` against `component`, in scratch folder `scratch`.
pub async fn run(
    component: &Path,
    files: &[PathBuf],
    scratch: &Path,
) -> Result<Vec<Outcome>, FixtureError> {
    let component = std::path::absolute(component)?;
    let manifests = scratch.join("manifests");
    std::fs::create_dir_all(&manifests)?;
    let mut cases = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let bad = |message: String| FixtureError::Fixture {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
        let case: Case = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let kinds = [
            case.operation.is_some(),
            case.schedule.is_some(),
            case.inbound.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(bad(
                "name exactly one of `operation`, `schedule` or `inbound`".into(),
            ));
        }
        let server = Platform::start(case.exchanges.clone()).await?;
        let name = format!("case-{n}");
        let base = format!("{}{}", server.url, case.base_path);
        let manifest = manifest_for(&name, &component, &base, &case, scratch)?;
        std::fs::write(manifests.join(format!("{name}.toml")), manifest)?;
        cases.push((file.clone(), name, case, server));
    }
    let runtime = Runtime::open(RuntimeOptions {
        manifests,
        data: scratch.join("data"),
        engine: crate::engine::EngineOptions::default(),
        store: None,
        store_key: None,
        record: false,
    })
    .await?;
    let load_errors = runtime.load_errors();
    let mut outcomes = Vec::new();
    for (file, name, case, server) in cases {
        let mut failures: Vec<String> = load_errors
            .iter()
            .filter(|e| e.file.file_stem().is_some_and(|s| *s == *name))
            .map(|e| {
                format!(
                    "the manifest made for this case did not load: {}",
                    e.message
                )
            })
            .collect();
        if failures.is_empty() {
            let result = run_one(&runtime, &name, &case).await;
            failures.extend(check(&case.expect, result));
            failures.extend(server.finish());
        }
        outcomes.push(Outcome {
            file,
            exchanges: case.exchanges.len(),
            failures,
        });
    }
    Ok(outcomes)
}

async fn run_one(runtime: &Runtime, name: &str, case: &Case) -> Result<Value, crate::InvokeError> {
    if let Some(inbound) = &case.inbound {
        let adapter = runtime.registry().get(name).ok_or_else(|| {
            crate::InvokeError::new(
                crate::ErrorKind::NotFound,
                name,
                &inbound.route,
                "not loaded",
            )
        })?;
        let route = adapter
            .manifest
            .routes
            .iter()
            .find(|r| r.name == inbound.route)
            .cloned()
            .ok_or_else(|| {
                crate::InvokeError::new(
                    crate::ErrorKind::NotFound,
                    name,
                    &inbound.route,
                    "no route",
                )
            })?;
        let body = match &inbound.body {
            None => Vec::new(),
            Some(toml::Value::String(s)) => s.clone().into_bytes(),
            Some(other) => toml_to_json(other).to_string().into_bytes(),
        };
        let request = crate::inbound::InboundRequest {
            method: inbound.method.to_ascii_uppercase(),
            path: inbound.path.clone(),
            query: inbound.query.clone().into_iter().collect(),
            headers: inbound
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body,
        };
        let answer = adapter
            .handle_inbound(&route, request)
            .await
            .map_err(|f| crate::InvokeError::new(f.kind, name, &inbound.route, f.message))?;
        let body = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
        return Ok(serde_json::json!({ "status": answer.status, "body": body }));
    }
    if let Some(schedule) = &case.schedule {
        let adapter = runtime.registry().get(name).ok_or_else(|| {
            crate::InvokeError::new(crate::ErrorKind::NotFound, name, schedule, "not loaded")
        })?;
        return adapter.on_schedule(schedule).await.map(|()| Value::Null);
    }
    let op = case.operation.as_deref().unwrap_or_default();
    let input = case
        .input
        .as_ref()
        .map(toml_to_json)
        .unwrap_or_else(|| Value::Object(Default::default()));
    let output = runtime
        .invoke(name, op, &input.to_string(), crate::CallOptions::default())
        .await?;
    Ok(serde_json::from_str(&output).unwrap_or(Value::String(output)))
}

fn manifest_for(
    name: &str,
    component: &Path,
    base_url: &str,
    case: &Case,
    scratch: &Path,
) -> Result<String, FixtureError> {
    let mut m = toml::Table::new();
    m.insert("name".into(), name.into());
    m.insert("component".into(), component.display().to_string().into());
    m.insert("base_url".into(), base_url.into());
    let mut secrets = toml::Table::new();
    for (key, value) in &case.secrets {
        let path = scratch.join(format!("{name}-secret-{key}"));
        write_private(&path, value)?;
        secrets.insert(key.clone(), format!("file:{}", path.display()).into());
    }
    m.insert("secrets".into(), secrets.into());
    let mut token = toml::Table::new();
    token.insert("min_fetch_interval".into(), "0s".into());
    m.insert("token".into(), token.into());
    let mut retry = toml::Table::new();
    retry.insert(
        "max_attempts".into(),
        i64::from(case.max_attempts.unwrap_or(3)).into(),
    );
    retry.insert("initial_backoff".into(), "1ms".into());
    retry.insert("max_backoff".into(), "5ms".into());
    m.insert("retry".into(), retry.into());
    let mut limits = toml::Table::new();
    limits.insert("timeout".into(), "30s".into());
    limits.insert("http_timeout".into(), "5s".into());
    m.insert("limits".into(), limits.into());
    let root = base_url
        .strip_suffix(case.base_path.as_str())
        .unwrap_or(base_url);
    m.insert(
        "config".into(),
        with_base(&case.config.clone().into(), root),
    );
    if let Some(inbound) = &case.inbound {
        let mut route = toml::Table::new();
        route.insert("name".into(), inbound.route.clone().into());
        route.insert("method".into(), inbound.method.to_ascii_uppercase().into());
        route.insert("path".into(), inbound.path.clone().into());
        let mut auth = toml::Table::new();
        auth.insert("type".into(), "none".into());
        route.insert("auth".into(), auth.into());
        m.insert("routes".into(), vec![toml::Value::Table(route)].into());
    }
    toml::to_string(&m).map_err(|e| FixtureError::Io(std::io::Error::other(e.to_string())))
}

/// `v` with `{base}` in its strings replaced by `root`.
fn with_base(v: &toml::Value, root: &str) -> toml::Value {
    match v {
        toml::Value::String(s) => toml::Value::String(s.replace("{base}", root)),
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(|x| with_base(x, root)).collect()),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, x)| (k.clone(), with_base(x, root)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// True if `actual` holds `expected`: objects key by key, arrays element by element (same
/// length), anything else equal.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|got| contains(got, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(got, want)| contains(got, want))
        }
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        (a, e) => a == e,
    }
}

fn check(expect: &Expect, result: Result<Value, crate::InvokeError>) -> Vec<String> {
    let mut failures = Vec::new();
    match (result, &expect.error) {
        (Ok(output), None) if expect.status.is_some() => {
            let status = output["status"].as_u64();
            if status != expect.status.map(u64::from) {
                failures.push(format!(
                    "answered HTTP {status:?}, expected {:?}",
                    expect.status
                ));
            }
            if let Some(want) = &expect.output {
                let want = toml_to_json(want);
                if !contains(&output["body"], &want) {
                    failures.push(format!(
                        "answer body {} does not contain {want}",
                        output["body"]
                    ));
                }
            }
        }
        (Ok(output), None) => {
            if let Some(want) = &expect.output {
                let want = toml_to_json(want);
                if !contains(&output, &want) {
                    failures.push(format!("output {output} does not contain {want}"));
                }
            }
        }
        (Ok(output), Some(kind)) => {
            failures.push(format!(
                "expected a {kind} error, the call answered {output}"
            ));
        }
        (Err(e), None) => failures.push(format!(
            "expected an output, the call failed: {} ({}): {}",
            e.kind.as_str(),
            e.platform_code.as_deref().unwrap_or("-"),
            e.message
        )),
        (Err(e), Some(kind)) => {
            if e.kind.as_str() != kind {
                failures.push(format!(
                    "expected a {kind} error, got {}: {}",
                    e.kind.as_str(),
                    e.message
                ));
            }
            if let Some(code) = &expect.platform_code
                && e.platform_code.as_deref() != Some(code)
            {
                failures.push(format!(
                    "expected platform code {code}, got {:?}",
                    e.platform_code
                ));
            }
            if let Some(part) = &expect.message_contains
                && !e.message.contains(part)
            {
                failures.push(format!("the message {:?} lacks {part:?}", e.message));
            }
        }
    }
    failures
}

/// The fake platform of one case: answers the exchanges in order and notes every request that
/// was not the one expected.
struct Platform {
    url: String,
    state: Arc<Mutex<Script>>,
    _server: tokio::task::JoinHandle<()>,
}

struct Script {
    exchanges: Vec<Exchange>,
    next: usize,
    mismatches: Vec<String>,
}

impl Platform {
    async fn start(exchanges: Vec<Exchange>) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(Script {
            exchanges,
            next: 0,
            mismatches: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            state,
            _server: server,
        })
    }

    /// The mismatches, and the exchanges never made.
    fn finish(&self) -> Vec<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = s.mismatches.clone();
        for (i, e) in s.exchanges.iter().enumerate().skip(s.next) {
            out.push(format!(
                "exchange {} ({} {}) was never made",
                i + 1,
                e.method,
                e.path
            ));
        }
        out
    }
}

async fn answer(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<Script>>>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let found = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let n = s.next;
        match s.exchanges.get(n).cloned() {
            None => {
                let declared = s.exchanges.len();
                s.mismatches.push(format!(
                    "request {} ({method} {}) was not expected: the fixture has {declared} exchange(s)",
                    n + 1,
                    uri.path(),
                ));
                None
            }
            Some(e) => {
                s.next += 1;
                let problems = mismatch(&e, &method, &uri, &headers, &body);
                if problems.is_empty() {
                    Some(e.answer)
                } else {
                    s.mismatches.push(format!(
                        "exchange {} ({} {}): {}",
                        n + 1,
                        e.method,
                        e.path,
                        problems.join("; ")
                    ));
                    None
                }
            }
        }
    };
    let Some(a) = found else {
        return (
            http::StatusCode::IM_A_TEAPOT,
            "not the request the fixture expects",
        )
            .into_response();
    };
    if a.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(a.delay_ms)).await;
    }
    if a.drop {
        return axum::response::Response::builder()
            .status(200)
            .body(axum::body::Body::new(Broken))
            .unwrap_or_default();
    }
    let (body, json) = match &a.body {
        None => (Vec::new(), false),
        Some(toml::Value::String(s)) => (s.clone().into_bytes(), false),
        Some(other) => (toml_to_json(other).to_string().into_bytes(), true),
    };
    let mut response = axum::response::Response::builder().status(
        http::StatusCode::from_u16(a.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    if json
        && !a
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        response = response.header("content-type", "application/json");
    }
    for (k, v) in &a.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    response
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

/// A body that fails at once: the connection breaks after the status line, as when a
/// platform processes a request and its answer is lost.
struct Broken;

impl axum::body::HttpBody for Broken {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("dropped by the fixture"))))
    }
}

fn mismatch(
    e: &Exchange,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Vec<String> {
    let mut problems = Vec::new();
    if !method.as_str().eq_ignore_ascii_case(&e.method) {
        problems.push(format!("method {method}, expected {}", e.method));
    }
    if uri.path() != e.path {
        problems.push(format!("path {}, expected {}", uri.path(), e.path));
    }
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    for (k, v) in &e.query {
        if query.get(k) != Some(v) {
            problems.push(format!("query {k}={:?}, expected {v:?}", query.get(k)));
        }
    }
    for (k, v) in &e.headers {
        let got = headers.get(k.as_str()).and_then(|h| h.to_str().ok());
        if got != Some(v.as_str()) {
            problems.push(format!("header {k}: {got:?}, expected {v:?}"));
        }
    }
    let text = String::from_utf8_lossy(body);
    if let Some(want) = &e.body {
        let want = toml_to_json(want);
        match serde_json::from_slice::<Value>(body) {
            Ok(got) if contains(&got, &want) => {}
            Ok(got) => problems.push(format!("body {got} does not contain {want}")),
            Err(_) => problems.push(format!("body {text:?} is not JSON, expected {want}")),
        }
    }
    for part in &e.body_contains {
        if !text.contains(part.as_str()) {
            problems.push(format!("body {text:?} lacks {part:?}"));
        }
    }
    problems
}
