//! Who may use the front door: API tokens with scopes, and the checks every control-plane
//! request passes before any handler runs — the `Host` header (DNS rebinding), the `Origin`
//! header (cross-site requests from a browser), the body's content type (a form or `text/plain`
//! body, which a browser sends cross-site without asking, never reaches an operation), then the
//! bearer token and its scope.
//!
//! Tokens look like `weft_<id>_<secret>`. Only a SHA-256 of the secret is stored (the secret is
//! 256 random bits, so a hash cannot be reversed by guessing), under the host's own store
//! namespace, which no adapter name can spell. Comparison is in constant time.
//!
//! `/healthz`, `/readyz` and the adapters' `/inbound/…` routes (which have their own per-route
//! auth) are outside these checks; `/metrics` is open unless the server asks for a read scope.

use super::problem::Problem;
use crate::error::ErrorKind;
use crate::metrics::RefusalLabels;
use crate::store::{Store, StoreError};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The store namespace of API tokens: starts with a control character, so no adapter's
/// storage namespace (its name) can be it.
const NAMESPACE: &str = "\u{1f}weft/api-tokens";

/// What an API token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything: reload, retry, cancel, run-now, and what `read` and `invoke` allow.
    Admin,
    /// Status, jobs, schedules, metrics.
    Read,
    /// Run operations of every adapter.
    Invoke,
    /// Run operations of one adapter.
    InvokeAdapter(String),
}

impl Scope {
    /// Parses `admin`, `read`, `invoke` or `invoke:ADAPTER`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "read" => Some(Self::Read),
            "invoke" => Some(Self::Invoke),
            _ => text
                .strip_prefix("invoke:")
                .filter(|a| !a.is_empty())
                .map(|a| Self::InvokeAdapter(a.to_string())),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Admin => f.write_str("admin"),
            Self::Read => f.write_str("read"),
            Self::Invoke => f.write_str("invoke"),
            Self::InvokeAdapter(a) => write!(f, "invoke:{a}"),
        }
    }
}

/// An API token as stored (without its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id, the middle part of the token.
    pub id: String,
    /// What the operator called it.
    pub name: String,
    /// Scopes, as `admin`, `read`, `invoke`, `invoke:ADAPTER`.
    pub scopes: Vec<String>,
    /// Created, Unix ms.
    pub created_at_ms: i64,
    /// SHA-256 of the secret, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    hash: String,
}

impl ApiToken {
    /// True if the token's scopes allow `need`.
    pub fn allows(&self, need: &Need) -> bool {
        let scopes: Vec<Scope> = self.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        if scopes.contains(&Scope::Admin) {
            return true;
        }
        match need {
            Need::Admin => false,
            Need::Read => scopes.contains(&Scope::Read),
            Need::Invoke(adapter) => scopes.iter().any(|s| match s {
                Scope::Invoke => true,
                Scope::InvokeAdapter(a) => a == adapter,
                _ => false,
            }),
        }
    }

    /// The token without its hash, for listings.
    pub fn public(&self) -> Self {
        Self {
            hash: String::new(),
            ..self.clone()
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// An admin scope.
    Admin,
    /// A read scope.
    Read,
    /// An invoke scope for this adapter.
    Invoke(String),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Admin => f.write_str("admin"),
            Self::Read => f.write_str("read"),
            Self::Invoke(a) => write!(f, "invoke:{a}"),
        }
    }
}

/// Why a token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A scope is not one of `admin`, `read`, `invoke`, `invoke:ADAPTER`.
    #[error("unknown scope {0:?}: expected admin, read, invoke or invoke:ADAPTER")]
    Scope(String),
    /// A stored token is not readable.
    #[error("stored token {0} is corrupt")]
    Corrupt(String),
}

/// The API tokens of a deployment, kept in its store (so every node of a cluster knows them).
#[derive(Clone)]
pub struct ApiTokens {
    store: Arc<dyn Store>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl ApiTokens {
    /// The tokens in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a token; answers it and the plain value, which is never stored or shown again.
    pub async fn create(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiToken, String), TokenStoreError> {
        for s in scopes {
            if Scope::parse(s).is_none() {
                return Err(TokenStoreError::Scope(s.clone()));
            }
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let id = hex::encode(id);
        let secret = hex::encode(secret);
        let token = ApiToken {
            id: id.clone(),
            name: name.to_string(),
            scopes: scopes.to_vec(),
            created_at_ms: crate::clock::now_ms(),
            hash: hash(&secret),
        };
        let value = serde_json::to_vec(&token).map_err(|_| TokenStoreError::Corrupt(id.clone()))?;
        self.store.kv_set(NAMESPACE, &id, &value).await?;
        Ok((token, format!("weft_{id}_{secret}")))
    }

    /// Every token, without hashes.
    pub async fn list(&self) -> Result<Vec<ApiToken>, TokenStoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let keys = self
                .store
                .kv_list(NAMESPACE, "", after.as_deref(), 1000)
                .await?;
            if keys.is_empty() {
                break;
            }
            for key in &keys {
                if let Some(t) = self.get(key).await? {
                    out.push(t.public());
                }
            }
            after = keys.last().cloned();
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        match self.store.kv_get(NAMESPACE, id).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| TokenStoreError::Corrupt(id.to_string())),
        }
    }

    /// Revokes token `id`; false if there is none.
    pub async fn revoke(&self, id: &str) -> Result<bool, TokenStoreError> {
        Ok(self.store.kv_delete(NAMESPACE, id).await?)
    }

    /// True if any token exists.
    pub async fn any(&self) -> Result<bool, TokenStoreError> {
        Ok(!self.store.kv_list(NAMESPACE, "", None, 1).await?.is_empty())
    }

    /// The token `presented` is, if it is a valid one.
    pub async fn verify(&self, presented: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        let Some((id, secret)) = presented
            .strip_prefix("weft_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(token) = self.get(id).await? else {
            return Ok(None);
        };
        let given = hash(secret);
        Ok(bool::from(given.as_bytes().ct_eq(token.hash.as_bytes())).then_some(token))
    }
}

/// How the front door admits control-plane requests.
#[derive(Clone, Default)]
pub struct Access {
    /// The tokens to check; `None` turns authentication off (`--insecure-no-auth`).
    pub tokens: Option<ApiTokens>,
    /// Host names (with or without port) the front door answers to besides IP literals and
    /// `localhost`.
    pub allowed_hosts: Vec<String>,
    /// Whether `/metrics` needs a read scope.
    pub metrics_need_read: bool,
}

/// What a request needs, by method and path; `None` for the open routes.
fn need_of(method: &Method, path: &str, metrics_need_read: bool) -> Option<Need> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (_, ["healthz"] | ["readyz"] | ["problems"]) => None,
        (_, ["inbound", ..]) => None,
        (_, ["metrics"]) => metrics_need_read.then_some(Need::Read),
        (&Method::POST, ["v1", "adapters", name, "ops", _]) => Some(Need::Invoke(name.to_string())),
        (&Method::GET | &Method::HEAD, _) => Some(Need::Read),
        _ => Some(Need::Admin),
    }
}

/// The host part of a `Host` value or an origin's authority, without the port.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn host_allowed(access: &Access, host: &str) -> bool {
    if host.is_empty() {
        // No Host at all: not a browser (HTTP/1.1 browsers always send one), so no rebinding.
        return true;
    }
    let name = host_part(host);
    // A rebinding attack needs a name that resolves to us; an address literal is no such name.
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || access
            .allowed_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
}

fn refuse(
    metrics: &crate::metrics::Metrics,
    reason: &str,
    status: u16,
    kind: ErrorKind,
    detail: String,
    challenge: Option<String>,
) -> Response {
    metrics
        .front_refusals
        .get_or_create(&RefusalLabels {
            reason: reason.to_string(),
        })
        .inc();
    tracing::info!(reason, "front door refused a request: {detail}");
    let mut response = Problem::new(kind, status, detail).into_response();
    if let Some(c) = challenge
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(ct) = ct.to_str() else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// The state the guard needs.
#[derive(Clone)]
pub(crate) struct Guard {
    pub access: Access,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The refusal of a request whose `Host` is not ours (DNS rebinding) or whose `Origin` is
/// another site's (a cross-site request from a browser), if it is one.
fn foreign(g: &Guard, headers: &HeaderMap, host: &str) -> Option<Response> {
    if !host_allowed(&g.access, host) {
        return Some(refuse(
            &g.metrics,
            "host",
            403,
            ErrorKind::Denied,
            format!("Host {host:?} is not a name this Weft answers to (--allowed-host)"),
            None,
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if authority.is_none_or(|a| !a.eq_ignore_ascii_case(host)) {
            return Some(refuse(
                &g.metrics,
                "origin",
                403,
                ErrorKind::Denied,
                format!("cross-origin request from {origin:?} refused"),
                None,
            ));
        }
    }
    None
}

/// Admits or refuses a request (see the module doc).
pub(crate) async fn guard(State(g): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if super::console::owns(&path) {
        // The console signs its users in itself (a cookie, not a bearer header, and forms,
        // not JSON); the rebinding and cross-site checks are the same as the API's.
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if let Some(refused) = foreign(&g, request.headers(), host) {
            return refused;
        }
        return next.run(request).await;
    }
    let Some(need) = need_of(request.method(), &path, g.access.metrics_need_read) else {
        if path == "/metrics" {
            // Open metrics still refuse a foreign Host: nothing else is exempt from it.
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if !host.is_empty() && !host_allowed(&g.access, host) {
                return refuse(
                    &g.metrics,
                    "host",
                    403,
                    ErrorKind::Denied,
                    format!("Host {host:?} is not a name this Weft answers to (--allowed-host)"),
                    None,
                );
            }
        }
        return next.run(request).await;
    };
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if let Some(refused) = foreign(&g, headers, host) {
        return refused;
    }
    if request.method() != Method::GET && !content_type_ok(headers) {
        return refuse(
            &g.metrics,
            "content-type",
            415,
            ErrorKind::InvalidInput,
            "the body must be sent as application/json".into(),
            None,
        );
    }
    let Some(tokens) = &g.access.tokens else {
        return next.run(request).await;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let challenge = "Bearer realm=\"weft\"".to_string();
    let Some(presented) = presented else {
        return refuse(
            &g.metrics,
            "unauthenticated",
            401,
            ErrorKind::Auth,
            "an API token is required: Authorization: Bearer weft_…".into(),
            Some(challenge),
        );
    };
    let token = match tokens.verify(presented).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return refuse(
                &g.metrics,
                "unauthenticated",
                401,
                ErrorKind::Auth,
                "the API token is not valid (unknown, revoked or malformed)".into(),
                Some(format!("{challenge}, error=\"invalid_token\"")),
            );
        }
        Err(e) => {
            return Problem::new(
                ErrorKind::Unavailable,
                503,
                format!("API tokens cannot be read: {e}"),
            )
            .into_response();
        }
    };
    if !token.allows(&need) {
        return refuse(
            &g.metrics,
            "forbidden",
            403,
            ErrorKind::Denied,
            format!(
                "token {} ({}) lacks the scope this needs: {need}",
                token.id, token.name
            ),
            Some(format!(
                "{challenge}, error=\"insufficient_scope\", scope=\"{need}\""
            )),
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_what_they_change() {
        assert_eq!(need_of(&Method::GET, "/healthz", false), None);
        assert_eq!(need_of(&Method::POST, "/inbound/x/y", false), None);
        assert_eq!(need_of(&Method::GET, "/metrics", false), None);
        assert_eq!(need_of(&Method::GET, "/metrics", true), Some(Need::Read));
        assert_eq!(
            need_of(&Method::POST, "/v1/adapters/sekorm/ops/sync", false),
            Some(Need::Invoke("sekorm".into()))
        );
        assert_eq!(need_of(&Method::GET, "/v1/jobs", false), Some(Need::Read));
        assert_eq!(
            need_of(&Method::POST, "/v1/admin/reload", false),
            Some(Need::Admin)
        );
        assert_eq!(
            need_of(&Method::DELETE, "/v1/jobs/x", false),
            Some(Need::Admin)
        );
        assert_eq!(
            need_of(&Method::POST, "/v1/schedules/a/b/run", false),
            Some(Need::Admin)
        );
    }

    #[test]
    fn scopes_allow_what_they_say() {
        let t = |scopes: &[&str]| ApiToken {
            id: "0".into(),
            name: "t".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            created_at_ms: 0,
            hash: String::new(),
        };
        assert!(t(&["admin"]).allows(&Need::Admin));
        assert!(t(&["admin"]).allows(&Need::Invoke("a".into())));
        assert!(!t(&["read"]).allows(&Need::Invoke("a".into())));
        assert!(!t(&["read"]).allows(&Need::Admin));
        assert!(t(&["invoke:a"]).allows(&Need::Invoke("a".into())));
        assert!(!t(&["invoke:a"]).allows(&Need::Invoke("b".into())));
        assert!(!t(&["invoke"]).allows(&Need::Read));
    }

    #[test]
    fn hosts_are_address_literals_localhost_or_configured() {
        let access = Access {
            allowed_hosts: vec!["weft.example.com".into()],
            ..Access::default()
        };
        assert!(host_allowed(&access, "127.0.0.1:8080"));
        assert!(host_allowed(&access, "[::1]:8080"));
        assert!(host_allowed(&access, "localhost:8080"));
        assert!(host_allowed(&access, "weft.example.com"));
        assert!(host_allowed(&access, "weft.example.com:443"));
        assert!(!host_allowed(&access, "attacker.example:8080"));
        assert!(host_allowed(&access, ""), "no Host: not a browser");
    }
}
