//! The checks every control-plane request passes before any handler runs: the `Host` header
//! (DNS rebinding), the `Origin` header (cross-site requests from a browser), the body's
//! content type, then the bearer token and its scope.

use super::{ApiTokens, Need};
use crate::error::ErrorKind;
use crate::front::problem::Problem;
use crate::metrics::RefusalLabels;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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
        // What a browser asks for by itself beside every console page: no icon, and no 401.
        (&Method::GET | &Method::HEAD, ["favicon.ico"]) => None,
        (_, ["inbound", ..]) => None,
        (_, ["metrics"]) => metrics_need_read.then_some(Need::Read),
        // An adapter's storage may hold what it was given in confidence: reading it is an
        // administrator's act, like changing it.
        (_, ["v1", "adapters", _, "storage", ..]) => Some(Need::Admin),
        // Who may do what is itself an administrator's to read.
        (_, ["v1", "tokens", ..]) => Some(Need::Admin),
        (
            &Method::POST,
            ["v1", "adapters", name, "ops", _] | ["v1", "adapters", name, "jobs:batch"],
        ) => Some(Need::Invoke(name.to_string())),
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
pub(crate) fn foreign(g: &Guard, headers: &HeaderMap, host: &str) -> Option<Response> {
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

/// The request's `Host` ("" when it has none readable).
fn host_of(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
}

/// Admits or refuses a request (see the module doc).
pub(crate) async fn guard(
    State(g): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if crate::front::console::owns(&path) {
        // The console signs its users in itself (a cookie, not a bearer header, and forms,
        // not JSON); the rebinding and cross-site checks are the same as the API's.
        let host = host_of(request.headers());
        if let Some(refused) = foreign(&g, request.headers(), host) {
            return refused;
        }
        return next.run(request).await;
    }
    let Some(need) = need_of(request.method(), &path, g.access.metrics_need_read) else {
        if path == "/metrics" {
            // Open metrics still refuse a foreign Host: nothing else is exempt from it.
            let host = host_of(request.headers());
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
    let host = host_of(headers);
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
    match authorize(&g, tokens, headers, &need).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refused) => refused,
    }
}

/// Who a request came from, for the log of what it did: `token ID (NAME)`, or nobody known
/// when the control plane runs without tokens (`--insecure-no-auth`).
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl Caller {
    /// Who the request the guard admitted (`caller`, its extension) came from, as the log of
    /// an act names it.
    pub(crate) fn named(caller: Option<axum::Extension<Caller>>) -> String {
        caller.map_or_else(
            || "an unauthenticated caller (--insecure-no-auth)".into(),
            |c| c.0.0,
        )
    }
}

/// Admits a request with a bearer token that is valid and allows `need`; otherwise answers
/// the refusal (401 with a challenge, 403, or 503 when the tokens cannot be read).
async fn authorize(
    g: &Guard,
    tokens: &super::ApiTokens,
    headers: &axum::http::HeaderMap,
    need: &Need,
) -> Result<Caller, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let challenge = "Bearer realm=\"weft\"".to_string();
    let Some(presented) = presented else {
        return Err(refuse(
            &g.metrics,
            "unauthenticated",
            401,
            ErrorKind::Auth,
            "an API token is required: Authorization: Bearer weft_…".into(),
            Some(challenge),
        ));
    };
    let token = match tokens.verify(presented).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(refuse(
                &g.metrics,
                "unauthenticated",
                401,
                ErrorKind::Auth,
                "the API token is not valid (unknown, revoked or malformed)".into(),
                Some(format!("{challenge}, error=\"invalid_token\"")),
            ));
        }
        Err(e) => {
            return Err(Problem::new(
                ErrorKind::Unavailable,
                503,
                format!("API tokens cannot be read: {e}"),
            )
            .into_response());
        }
    };
    if !token.allows(need) {
        return Err(refuse(
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
        ));
    }
    Ok(Caller(format!("token {} ({})", token.id, token.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::auth::ApiToken;

    #[test]
    fn routes_need_what_they_change() {
        assert_eq!(need_of(&Method::GET, "/healthz", false), None);
        assert_eq!(need_of(&Method::GET, "/favicon.ico", false), None);
        assert_eq!(
            need_of(&Method::GET, "/v1/adapters/hugevision/storage", false),
            Some(Need::Admin)
        );
        assert_eq!(
            need_of(&Method::POST, "/favicon.ico", false),
            Some(Need::Admin)
        );
        assert_eq!(need_of(&Method::POST, "/inbound/x/y", false), None);
        assert_eq!(need_of(&Method::GET, "/metrics", false), None);
        assert_eq!(need_of(&Method::GET, "/metrics", true), Some(Need::Read));
        assert_eq!(
            need_of(&Method::POST, "/v1/adapters/sekorm/ops/sync", false),
            Some(Need::Invoke("sekorm".into()))
        );
        assert_eq!(
            need_of(&Method::POST, "/v1/adapters/sekorm/jobs:batch", false),
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
