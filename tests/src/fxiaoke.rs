//! Simulators for the 纷享销客 (Fxiaoke) ERP data-sync document (`fxiaoke-erp-data-sync.md`),
//! where Weft is the ERP side:
//! - [`Crm`]: the CRM's `POST /erp/syncdata/open/objdata/syncpush`, strict about its headers
//!   (token, tenantId, dataCenterId exactly when multi-ledger, objectApiName, version v1,
//!   operationType 3 only, `id` for the standard format) and answering `{errCode, errMsg}`; it
//!   also plays the company's ERP endpoint that receives delivered records;
//! - [`CrmClient`]: the CRM calling the ERP side's push (`create`, `update`) and poll
//!   (`queryMasterBatch`, `queryMasterById`) endpoints, checking every answer's shape.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The push path of the document.
pub const SYNCPUSH: &str = "/erp/syncdata/open/objdata/syncpush";
/// Where the simulated company ERP receives delivered records.
pub const ERP_RECEIVE: &str = "/company-erp/receive";

/// One push the CRM accepted.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Headers that matter, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Content-Type.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Pushed {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the CRM saw.
#[derive(Default)]
pub struct Ledger {
    /// Accepted pushes, in order.
    pub pushes: Vec<Pushed>,
    /// Refused pushes with the reason.
    pub refused: Vec<String>,
    /// Records delivered to the company's ERP endpoint.
    pub delivered: Vec<Value>,
}

struct Inner {
    token: String,
    tenant: String,
    data_centers: Vec<String>,
    errors: VecDeque<(String, String)>,
    statuses: VecDeque<u16>,
    ledger: Ledger,
}

/// A running CRM simulator.
pub struct Crm {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Crm {
    /// Starts a CRM expecting this push token and tenant; `data_centers` non-empty makes the
    /// account multi-ledger.
    pub async fn start(token: &str, tenant: &str, data_centers: &[&str]) -> Self {
        Self::start_on(0, token, tenant, data_centers).await
    }

    /// [`Self::start`] on loopback port `port` (0: a free one), for `weft-sim`.
    pub async fn start_on(port: u16, token: &str, tenant: &str, data_centers: &[&str]) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            tenant: tenant.into(),
            data_centers: data_centers.iter().map(|s| s.to_string()).collect(),
            errors: VecDeque::new(),
            statuses: VecDeque::new(),
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

    /// The CRM's root.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Reads the ledger.
    pub fn ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        f(&self.inner.lock().expect("state").ledger)
    }

    /// The next pushes are answered with these HTTP statuses, before anything is stored.
    pub fn fail_status_next(&self, statuses: &[u16]) {
        self.inner
            .lock()
            .expect("state")
            .statuses
            .extend(statuses.iter().copied());
    }

    /// The next push is answered with this error code and message.
    pub fn fail_next(&self, code: &str, message: &str) {
        self.inner
            .lock()
            .expect("state")
            .errors
            .push_back((code.into(), message.into()));
    }
}

fn answer(code: &str, message: &str) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"errCode": code, "errMsg": message}).to_string(),
    )
        .into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut i = inner.lock().expect("state");
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if uri.path() == ERP_RECEIVE {
        return match serde_json::from_slice::<Value>(&body) {
            Ok(v) => {
                i.ledger.delivered.push(v);
                (StatusCode::OK, "ok").into_response()
            }
            Err(_) => (StatusCode::BAD_REQUEST, "not JSON").into_response(),
        };
    }
    if uri.path() != SYNCPUSH {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    if let Some(status) = i.statuses.pop_front() {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "simulated",
        )
            .into_response();
    }
    let content_type = h("content-type").unwrap_or_default();
    if let Err((code, why)) = check_push(&i, &h, &content_type, &body) {
        i.ledger.refused.push(why.clone());
        return answer(code, &why);
    }
    if let Some((code, message)) = i.errors.pop_front() {
        return answer(&code, &message);
    }
    let kept = [
        "token",
        "tenantid",
        "datacenterid",
        "objectapiname",
        "version",
        "operationtype",
        "id",
    ];
    i.ledger.pushes.push(Pushed {
        headers: kept
            .iter()
            .filter_map(|n| h(n).map(|v| (n.to_string(), v)))
            .collect(),
        content_type,
        body: body.to_vec(),
    });
    answer("s106240000", "成功")
}

/// The document's header rules for syncpush; the refusal's code and reason.
fn check_push(
    i: &Inner,
    h: &dyn Fn(&str) -> Option<String>,
    content_type: &str,
    body: &[u8],
) -> Result<(), (&'static str, String)> {
    if h("token").as_deref() != Some(i.token.as_str()) {
        return Err(("s106240401", "token 认证失败".into()));
    }
    if h("tenantid").as_deref() != Some(i.tenant.as_str()) {
        return Err(("s106240402", format!("tenantId 错误: {:?}", h("tenantid"))));
    }
    match (i.data_centers.is_empty(), h("datacenterid")) {
        (true, Some(dc)) => {
            return Err(("s106240403", format!("单账套不需要 dataCenterId: {dc}")));
        }
        (false, None) => return Err(("s106240403", "多账套必须推送 dataCenterId".into())),
        (false, Some(dc)) if !i.data_centers.contains(&dc) => {
            return Err(("s106240403", format!("dataCenterId 不存在: {dc}")));
        }
        _ => {}
    }
    if h("objectapiname").is_none_or(|o| o.is_empty()) {
        return Err(("s106240404", "objectApiName 必填".into()));
    }
    if h("version").as_deref() != Some("v1") {
        return Err((
            "s106240405",
            format!("version 必须为 v1: {:?}", h("version")),
        ));
    }
    if let Some(op) = h("operationtype")
        && op != "3"
    {
        return Err(("s106240406", format!("operationType 只能为 3: {op}")));
    }
    // The standard format: a JSON body of the document's shape, which needs the `id` header.
    let standard = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|v| v.get("objAPIName").is_some() && v.get("masterFieldVal").is_some());
    if let Some(v) = &standard {
        if !content_type.starts_with("application/json") {
            return Err(("s106240407", "标准格式仅支持 json".into()));
        }
        if h("id").is_none_or(|id| id.is_empty()) {
            return Err(("s106240408", "标准格式必须传 id".into()));
        }
        if v["objAPIName"].as_str() != h("objectapiname").as_deref() {
            return Err(("s106240409", "objAPIName 与 objectApiName 不一致".into()));
        }
        if !v["masterFieldVal"].is_object() {
            return Err(("s106240410", "masterFieldVal 必须为对象".into()));
        }
    }
    Ok(())
}

/// The CRM as a client of the ERP side's endpoints (behind `weft serve`'s inbound routes).
pub struct CrmClient {
    http: reqwest::Client,
    /// `http://HOST/inbound/{adapter}{prefix}`.
    pub prefix: String,
    /// The `token` header it sends.
    pub token: String,
}

/// A document-shaped answer: `{code, message, data}` and its HTTP status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `code`, as text.
    pub code: String,
    /// `message`.
    pub message: String,
    /// `data`.
    pub data: Value,
}

impl CrmClient {
    /// A client of the endpoints under `prefix`.
    pub fn new(prefix: String, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            prefix,
            token: token.into(),
        }
    }

    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON answer");
        let code = match &body["code"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("code missing or not a string: {other} in {body}"),
        };
        assert!(body["message"].is_string(), "message: {body}");
        assert!(body.get("data").is_some(), "data: {body}");
        Answer {
            status,
            code,
            message: body["message"].as_str().unwrap_or_default().to_string(),
            data: body["data"].clone(),
        }
    }

    /// `POST {prefix}/create` or `/update`.
    pub async fn push(&self, which: &str, record: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}/{which}", self.prefix))
            .header("token", &self.token)
            .json(record)
            .send()
            .await
            .expect("push");
        Self::read(response).await
    }

    /// `POST {prefix}/create` or `/update` with an `Idempotency-Key`.
    pub async fn push_keyed(&self, which: &str, record: &Value, key: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/{which}", self.prefix))
            .header("token", &self.token)
            .header("Idempotency-Key", key)
            .json(record)
            .send()
            .await
            .expect("push");
        Self::read(response).await
    }

    /// `POST {prefix}/{which}` with a body of this content type: status and the answer's text.
    pub async fn push_text(&self, which: &str, content_type: &str, body: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}/{which}", self.prefix))
            .header("token", &self.token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("push");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// A raw request with any token, for refusals: status and body.
    pub async fn raw(&self, which: &str, token: Option<&str>, record: &Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/{which}", self.prefix))
            .json(record);
        if let Some(t) = token {
            request = request.header("token", t);
        }
        let response = request.send().await.expect("push");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET {prefix}/queryMasterBatch`.
    pub async fn batch(
        &self,
        obj: &str,
        start: u64,
        end: u64,
        offset: usize,
        limit: usize,
    ) -> Answer {
        let response = self
            .http
            .get(format!("{}/queryMasterBatch", self.prefix))
            .header("token", &self.token)
            .query(&[
                ("objAPIName", obj.to_string()),
                ("startTime", start.to_string()),
                ("endTime", end.to_string()),
                ("includeDetail", "true".into()),
                ("offset", offset.to_string()),
                ("limit", limit.to_string()),
            ])
            .send()
            .await
            .expect("batch");
        Self::read(response).await
    }

    /// `GET {prefix}/queryMasterById`.
    pub async fn by_id(&self, obj: &str, id: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}/queryMasterById", self.prefix))
            .header("token", &self.token)
            .query(&[
                ("objAPIName", obj),
                ("dataId", id),
                ("includeDetail", "true"),
            ])
            .send()
            .await
            .expect("by id");
        Self::read(response).await
    }
}
