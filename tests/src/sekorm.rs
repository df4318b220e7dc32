//! A strict simulator of Sekorm serviceGate (`shared/platforms/sekorm-stock-sync.md`).
//!
//! It enforces what the document says: form parameters (`accessToken`, `appSecret`, `data`,
//! `pnCode`, `brandName`, `stockQuantity`), the token's validity and length, `data` as a JSON
//! array of exactly {pnCode, brandName, stockQuantity} with integer quantities, the 50-character
//! limits of the real-time update, the caller-IP allow-list, and the `{code, msg, data}`
//! envelope with the document's -1 messages. Faults are injected on request and every request
//! is counted.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fault to inject into the next business call (or token call, see [`Sekorm::fail_token`]).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Handle the request normally (to aim a later fault at a later request).
    Pass,
    /// Answer with this HTTP status and a plain body.
    Status(u16),
    /// `{"code": -1, "msg": "system error"}`.
    SystemError,
    /// Wait this long before handling the request normally.
    Latency(Duration),
    /// Process the request, then break the connection instead of answering (a lost answer).
    DropAfterProcessing,
    /// Break the connection without processing.
    DropBeforeProcessing,
}

/// One stock line as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLine {
    /// pnCode.
    pub pn_code: String,
    /// brandName.
    pub brand_name: String,
    /// stockQuantity.
    pub quantity: i64,
}

/// Everything the simulator saw and holds.
#[derive(Default)]
pub struct Ledger {
    /// Calls of getAccessToken, successful or not.
    pub token_requests: usize,
    /// Calls of the three business endpoints, by path.
    pub business_requests: BTreeMap<String, usize>,
    /// Stock by (brand, pn) after full syncs and updates.
    pub stock: BTreeMap<(String, String), i64>,
    /// Items per pnStock call, in order.
    pub full_sync_batches: Vec<usize>,
    /// updQuantity lines, in order.
    pub updates: Vec<StockLine>,
    /// compare payloads, in order.
    pub compares: Vec<Vec<StockLine>>,
    /// Tokens the adapter sent that were refused.
    pub refused_tokens: usize,
    /// Arrival time of every business call, for rate checks.
    pub arrivals: Vec<Instant>,
}

struct Config {
    account: String,
    secret: String,
    expires_in: u64,
    allowed_ips: HashSet<IpAddr>,
    forbidden: bool,
}

struct Inner {
    config: Config,
    tokens: HashMap<String, Instant>,
    faults: VecDeque<Fault>,
    token_faults: VecDeque<Fault>,
    ledger: Ledger,
}

/// A running simulator; stops when dropped.
pub struct Sekorm {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: tokio::task::JoinHandle<()>,
}

/// The path prefix the document's URLs share.
pub const PREFIX: &str = "/serviceGate";

impl Sekorm {
    /// Starts a simulator on 127.0.0.1 with these credentials.
    pub async fn start(account: &str, secret: &str) -> Self {
        Self::start_on(0, account, secret).await
    }

    /// [`Self::start`] on loopback port `port` (0: a free one), for `weft-sim`.
    pub async fn start_on(port: u16, account: &str, secret: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            config: Config {
                account: account.into(),
                secret: secret.into(),
                expires_in: 3600,
                allowed_ips: [IpAddr::from([127, 0, 0, 1])].into_iter().collect(),
                forbidden: false,
            },
            tokens: HashMap::new(),
            faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            ledger: Ledger::default(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{port}: {e}"));
        let addr = listener.local_addr().expect("simulator address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            addr,
            inner,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT/serviceGate`.
    pub fn base_url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    /// `127.0.0.1:PORT`, for `allowed_hosts`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("simulator state"))
    }

    /// Reads the ledger.
    pub fn ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        self.with(|i| f(&i.ledger))
    }

    /// Number of getAccessToken calls.
    pub fn token_requests(&self) -> usize {
        self.ledger(|l| l.token_requests)
    }

    /// Number of business calls in all.
    pub fn business_requests(&self) -> usize {
        self.ledger(|l| l.business_requests.values().sum())
    }

    /// Queues faults for the next business calls.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| i.faults.extend(faults));
    }

    /// Queues faults for the next token calls.
    pub fn fail_token(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| i.token_faults.extend(faults));
    }

    /// A manifest for the adapter against this simulator, with the credentials as secret files
    /// of `dep`, no pause between token fetches, and `extra` TOML appended (its own tables).
    pub fn manifest(
        &self,
        dep: &crate::harness::Deployment,
        account: &str,
        secret: &str,
        extra: &str,
    ) -> String {
        format!(
            "name = \"sekorm\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n\n[secrets]\naccount = \"{}\"\napp_secret = \"{}\"\n\n[token]\nmin_fetch_interval = \"0s\"\n\n{extra}\n",
            crate::harness::component("weft-sekorm").display(),
            self.base_url(),
            dep.secret("account", account),
            dep.secret("app_secret", secret),
        )
    }

    /// Every token issued and still valid.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|i| i.tokens.keys().cloned().collect())
    }

    /// Makes every issued token invalid at once (as if Sekorm revoked or expired them).
    pub fn revoke_tokens(&self) {
        self.with(|i| i.tokens.clear());
    }

    /// Sets `expiresIn` of tokens issued from now on.
    pub fn set_expires_in(&self, seconds: u64) {
        self.with(|i| i.config.expires_in = seconds);
    }

    /// Removes 127.0.0.1 from the IP allow-list.
    pub fn deny_loopback(&self) {
        self.with(|i| i.config.allowed_ips.clear());
    }

    /// Disables the service provider account.
    pub fn forbid(&self) {
        self.with(|i| i.config.forbidden = true);
    }
}

fn envelope(code: i64, msg: &str, data: Value) -> Response {
    let body = json!({ "code": code, "msg": msg, "data": data });
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn fail(msg: &str) -> Response {
    envelope(-1, msg, Value::Null)
}

fn params(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, String> {
    let raw: Vec<u8> = if method == Method::GET {
        uri.query().unwrap_or("").as_bytes().to_vec()
    } else {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(format!("expected a form body, got content-type {ct:?}"));
        }
        body.to_vec()
    };
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(&raw) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("parameter {k} given twice"));
        }
    }
    Ok(out)
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(path) = uri.path().strip_prefix(PREFIX).map(str::to_string) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let is_token = path == "/getAccessToken";
    let known = matches!(
        path.as_str(),
        "/pnarttnumber/pnStock" | "/stock/updQuantity" | "/stock/compare"
    );
    if !is_token && !known {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let allowed = method == Method::POST || (is_token && method == Method::GET);
    if !allowed {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
    }
    let fault = {
        let mut i = inner.lock().expect("simulator state");
        if is_token {
            i.ledger.token_requests += 1;
            i.token_faults.pop_front()
        } else {
            *i.ledger.business_requests.entry(path.clone()).or_default() += 1;
            i.ledger.arrivals.push(Instant::now());
            i.faults.pop_front()
        }
    };
    let mut drop_after = false;
    match fault {
        Some(Fault::Status(s)) => {
            return (
                StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulated failure",
            )
                .into_response();
        }
        Some(Fault::SystemError) => return fail("system error"),
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::DropBeforeProcessing) => return crate::harness::dropped_answer(),
        Some(Fault::DropAfterProcessing) => drop_after = true,
        Some(Fault::Pass) | None => {}
    }
    let response = {
        let mut i = inner.lock().expect("simulator state");
        process(&mut i, peer.ip(), &path, &method, &uri, &headers, &body)
    };
    if drop_after {
        crate::harness::dropped_answer()
    } else {
        response
    }
}

fn process(
    i: &mut Inner,
    ip: IpAddr,
    path: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !i.config.allowed_ips.contains(&ip) {
        return fail("ip invalid");
    }
    if i.config.forbidden {
        return fail("sp already forbidden");
    }
    let p = match params(method, uri, headers, body) {
        Ok(p) => p,
        Err(e) => return fail(&format!("parameter error: {e}")),
    };
    if path == "/getAccessToken" {
        if p.len() != 2
            || p.get("accessToken") != Some(&i.config.account)
            || p.get("appSecret") != Some(&i.config.secret)
        {
            return fail("no permission");
        }
        let mut raw = [0u8; 64];
        rand::Rng::fill(&mut rand::rng(), &mut raw[..]);
        let token = base64::engine::general_purpose::STANDARD.encode(raw);
        let expires_in = i.config.expires_in;
        i.tokens.insert(
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        );
        return envelope(
            0,
            "ok",
            json!({ "expiresIn": expires_in, "accessToken": token }),
        );
    }
    let token = p.get("accessToken").cloned().unwrap_or_default();
    if token.is_empty() || token.chars().count() > 100 {
        return fail("parameter error: accessToken is required, at most 100 characters");
    }
    match i.tokens.get(&token) {
        Some(expiry) if *expiry > Instant::now() => {}
        _ => {
            i.ledger.refused_tokens += 1;
            return fail("no permission");
        }
    }
    match path {
        "/stock/updQuantity" => {
            let expected: HashSet<&str> =
                ["accessToken", "pnCode", "brandName", "stockQuantity"].into();
            if p.keys().any(|k| !expected.contains(k.as_str())) {
                return fail("parameter error: unknown parameter");
            }
            let line = match (p.get("pnCode"), p.get("brandName"), p.get("stockQuantity")) {
                (Some(pn), Some(brand), Some(q)) => {
                    if pn.is_empty()
                        || brand.is_empty()
                        || pn.chars().count() > 50
                        || brand.chars().count() > 50
                    {
                        return fail(
                            "parameter error: pnCode and brandName are 1 to 50 characters",
                        );
                    }
                    let Ok(q) = q.parse::<i32>() else {
                        return fail("parameter error: stockQuantity must be an Integer");
                    };
                    StockLine {
                        pn_code: pn.clone(),
                        brand_name: brand.clone(),
                        quantity: i64::from(q),
                    }
                }
                _ => {
                    return fail(
                        "parameter error: pnCode, brandName and stockQuantity are required",
                    );
                }
            };
            i.ledger.stock.insert(
                (line.brand_name.clone(), line.pn_code.clone()),
                line.quantity,
            );
            i.ledger.updates.push(line);
            envelope(0, "OK", Value::Null)
        }
        _ => {
            if p.len() != 2 {
                return fail("parameter error: expected accessToken and data");
            }
            let lines = match p.get("data").map(|d| parse_data(d)) {
                Some(Ok(lines)) => lines,
                Some(Err(e)) => return fail(&format!("parameter error: data: {e}")),
                None => return fail("parameter error: data is required"),
            };
            if path == "/pnarttnumber/pnStock" {
                i.ledger.full_sync_batches.push(lines.len());
                for l in &lines {
                    i.ledger
                        .stock
                        .insert((l.brand_name.clone(), l.pn_code.clone()), l.quantity);
                }
            } else {
                i.ledger.compares.push(lines);
            }
            envelope(0, "OK", Value::Null)
        }
    }
}

fn parse_data(data: &str) -> Result<Vec<StockLine>, String> {
    let value: Value = serde_json::from_str(data).map_err(|e| format!("not JSON: {e}"))?;
    let items = value.as_array().ok_or("not a JSON array")?;
    if items.is_empty() {
        return Err("empty array".into());
    }
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let obj = item.as_object().ok_or(format!("[{n}] is not an object"))?;
            if obj.len() != 3 {
                return Err(format!(
                    "[{n}] must have exactly pnCode, brandName, stockQuantity"
                ));
            }
            let text = |k: &str| {
                obj.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or(format!("[{n}].{k} must be a non-empty string"))
            };
            let quantity = obj
                .get("stockQuantity")
                .and_then(Value::as_i64)
                .filter(|q| i32::try_from(*q).is_ok())
                .ok_or(format!("[{n}].stockQuantity must be an integer"))?;
            Ok(StockLine {
                pn_code: text("pnCode")?,
                brand_name: text("brandName")?,
                quantity,
            })
        })
        .collect()
}
