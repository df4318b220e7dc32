//! Platform-facing routes: declared in the manifest, authenticated by the host before the
//! adapter sees anything, then answered by the adapter's `handle-inbound`.

use crate::call::LoadedAdapter;
use crate::manifest::{InboundAuth, Route};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Why the host refused an inbound request before calling the adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthRefused(pub String);

/// An inbound request as the front door received it.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    /// Upper-case method.
    pub method: String,
    /// Path below the adapter's prefix, starting with `/`.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

/// The adapter's answer.
#[derive(Debug, Clone)]
pub struct InboundResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Checks `req` against the route's auth; secrets come from the adapter's manifest.
pub fn authenticate(
    adapter: &LoadedAdapter,
    route: &Route,
    req: &InboundRequest,
) -> Result<(), AuthRefused> {
    check(adapter, route, req, true)
}

/// Checks everything of the route's auth that does not need the body — a header token, Basic
/// credentials, an HMAC's presence, form and timestamp window — so that a request that cannot
/// pass is refused before its body is read (`req.body` is not looked at).
pub fn authenticate_headers(
    adapter: &LoadedAdapter,
    route: &Route,
    req: &InboundRequest,
) -> Result<(), AuthRefused> {
    check(adapter, route, req, false)
}

fn check(
    adapter: &LoadedAdapter,
    route: &Route,
    req: &InboundRequest,
    with_body: bool,
) -> Result<(), AuthRefused> {
    let secret = |name: &str| {
        adapter
            .manifest
            .secrets
            .get(name)
            .map(|s| s.expose().as_bytes().to_vec())
            .ok_or_else(|| {
                AuthRefused(format!(
                    "route {}: secret {name:?} is not configured",
                    route.name
                ))
            })
    };
    match &route.auth {
        InboundAuth::None => Ok(()),
        InboundAuth::Header {
            header: name,
            secret: s,
        } => {
            let expected = secret(s)?;
            match header(req, name) {
                Some(given) if same(given.as_bytes(), &expected) => Ok(()),
                Some(_) => Err(AuthRefused(format!("header {name} does not match"))),
                None => Err(AuthRefused(format!("header {name} is missing"))),
            }
        }
        InboundAuth::Basic {
            username,
            secret: s,
        } => {
            let expected = secret(s)?;
            // The scheme name is case-insensitive (RFC 7617).
            let given = header(req, "authorization")
                .and_then(|v| v.trim().split_once(' '))
                .and_then(|(scheme, rest)| scheme.eq_ignore_ascii_case("basic").then_some(rest))
                .and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                })
                .ok_or_else(|| AuthRefused("Basic credentials are missing or malformed".into()))?;
            let mut wanted = username.as_bytes().to_vec();
            wanted.push(b':');
            wanted.extend_from_slice(&expected);
            if same(&given, &wanted) {
                Ok(())
            } else {
                Err(AuthRefused("Basic credentials do not match".into()))
            }
        }
        InboundAuth::Hmac {
            header: name,
            secret: s,
            timestamp_header,
            window,
            ..
        } => {
            let key = secret(s)?;
            let given = header(req, name)
                .ok_or_else(|| AuthRefused(format!("header {name} is missing")))?;
            let given = given.trim().strip_prefix("sha256=").unwrap_or(given.trim());
            let given = hex::decode(given)
                .map_err(|_| AuthRefused(format!("header {name} is not a hex HMAC-SHA256")))?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key)
                .map_err(|_| AuthRefused("HMAC key is unusable".into()))?;
            if let Some(ts_name) = timestamp_header {
                let ts = header(req, ts_name)
                    .ok_or_else(|| AuthRefused(format!("header {ts_name} is missing")))?;
                let seconds: i64 = ts
                    .trim()
                    .parse()
                    .map_err(|_| AuthRefused(format!("header {ts_name} is not unix seconds")))?;
                let now = crate::clock::now_ms() / 1000;
                let window = i64::try_from(window.get().as_secs()).unwrap_or(i64::MAX);
                // Saturating: a timestamp of i64::MIN or MAX is out of range, not an overflow.
                if seconds < now.saturating_sub(window) {
                    return Err(AuthRefused(format!(
                        "timestamp {seconds} is older than the {window}s window"
                    )));
                }
                if seconds > now.saturating_add(FUTURE_SKEW) {
                    return Err(AuthRefused(format!(
                        "timestamp {seconds} is more than {FUTURE_SKEW}s in the future"
                    )));
                }
                mac.update(ts.trim().as_bytes());
                mac.update(b".");
            }
            if !with_body {
                return Ok(());
            }
            mac.update(&req.body);
            mac.verify_slice(&given)
                .map_err(|_| AuthRefused(format!("header {name} does not match the body's HMAC")))
        }
    }
}

/// How far in the future a signed timestamp may be (clocks differ a little, not by minutes).
const FUTURE_SKEW: i64 = 30;

/// The store namespace of accepted signatures; a control character keeps it apart from every
/// adapter's namespace.
fn replay_namespace(adapter: &str) -> String {
    format!("\u{1f}weft/replay/{adapter}")
}

/// A signed request remembered by [`check_replay`].
#[derive(Debug)]
pub struct Remembered {
    ns: String,
    key: String,
}

/// Refuses a signed request accepted before within its window, remembering this one in the
/// store (so every node sees it) until its timestamp leaves the window. Routes without HMAC,
/// or with `replay = "allowed"`, pass. If the adapter then fails, [`forget`] lets the
/// platform resend the same signed request.
pub async fn check_replay(
    adapter: &LoadedAdapter,
    route: &Route,
    req: &InboundRequest,
) -> Result<Option<Remembered>, AuthRefused> {
    let InboundAuth::Hmac {
        header: name,
        timestamp_header: Some(ts_name),
        window,
        replay,
        ..
    } = &route.auth
    else {
        return Ok(None);
    };
    if replay.as_deref() == Some("allowed") {
        return Ok(None);
    }
    let (Some(sig), Some(ts)) = (header(req, name), header(req, ts_name)) else {
        return Ok(None);
    };
    let seconds: i64 = ts.trim().parse().unwrap_or(0);
    let store = &adapter.shared.store;
    let ns = replay_namespace(&adapter.manifest.name);
    // Keys sort by timestamp (zero-padded), so the expired ones are the first ones.
    let key = format!(
        "{:020}/{}/{}",
        seconds.max(0),
        route.name,
        sig.trim()
            .trim_start_matches("sha256=")
            .to_ascii_lowercase()
    );
    let unavailable = |e| AuthRefused(format!("replay check unavailable: {e}"));
    if !store
        .kv_cas(&ns, &key, None, Some(b"1"))
        .await
        .map_err(unavailable)?
    {
        return Err(AuthRefused(
            "this signed request was accepted before: a replay is refused".into(),
        ));
    }
    let oldest = crate::clock::now_ms() / 1000
        - i64::try_from(window.get().as_secs()).unwrap_or(i64::MAX / 2)
        - FUTURE_SKEW;
    if let Ok(keys) = store.kv_list(&ns, "", None, 16).await {
        for k in keys {
            let ts: i64 = k
                .split('/')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if ts >= oldest {
                break;
            }
            let _ = store.kv_delete(&ns, &k).await;
        }
    }
    Ok(Some(Remembered { ns, key }))
}

/// Forgets a remembered signature: the adapter did not take the request, so a resend of the
/// same signed request is not a replay.
pub async fn forget(adapter: &LoadedAdapter, remembered: Remembered) {
    let _ = adapter
        .shared
        .store
        .kv_delete(&remembered.ns, &remembered.key)
        .await;
}

impl LoadedAdapter {
    /// The declared route matching `method` and `path`.
    pub fn route(&self, method: &str, path: &str) -> Option<&Route> {
        self.manifest
            .routes
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
    }

    /// Runs `handle-inbound` for an authenticated request, in a fresh instance.
    pub async fn handle_inbound(
        self: &Arc<Self>,
        route: &Route,
        req: InboundRequest,
    ) -> Result<InboundResponse, crate::call::Failure> {
        let deadline = Instant::now() + self.manifest.limits.timeout.get();
        let request = crate::bindings::guest::InboundRequest {
            route: route.name.clone(),
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        let called = self
            .call(
                crate::call::Export::Inbound { request },
                &crate::call::fresh_context(),
                deadline,
            )
            .await?;
        let crate::call::Answer::Inbound(response) = called.answer else {
            return Err(crate::call::Failure {
                kind: crate::error::ErrorKind::Trap,
                message: format!(
                    "adapter {}: the host called the wrong export",
                    self.manifest.name
                ),
            });
        };
        Ok(InboundResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}
