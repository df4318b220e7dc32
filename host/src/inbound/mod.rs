//! Platform-facing routes: declared in the manifest, authenticated by the host before the
//! adapter sees anything, then answered by the adapter's `handle-inbound`.

mod receive;

pub use receive::{Answer, NotAnswered, receive};

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

/// Headers the host puts on every inbound answer, whatever the adapter said. An inbound
/// route answers on Weft's own origin, where the console lives: a page an adapter serves must
/// not run script, be framed, be sniffed into HTML, or act with a signed-in operator's session.
pub const ANSWER_GUARDS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "sandbox; default-src 'none'; frame-ancestors 'none'; form-action 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// Headers an adapter may set on an inbound answer (names lower-case); `x-` headers are
/// allowed too, but for the guards' own. Everything else — framing (`content-length`,
/// `transfer-encoding`, `connection`), `set-cookie`, security policies — is the host's.
const ANSWER_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "content-disposition",
    "cache-control",
    "etag",
    "last-modified",
    "expires",
    "location",
    "retry-after",
    "vary",
];

/// Most headers an inbound answer keeps, and most bytes of them together.
const ANSWER_HEADER_COUNT: usize = 32;
const ANSWER_HEADER_BYTES: usize = 16 * 1024;

/// What the host sends of an adapter's inbound answer: its status if it is a final one
/// (200–599; an informational or made-up status is the adapter's error, answered 502), and the
/// headers it may set. Answers the status, the headers kept, and the names dropped.
pub fn answer_parts(answer: &InboundResponse) -> (Option<u16>, Vec<(String, String)>, Vec<String>) {
    let status = (200..=599)
        .contains(&answer.status)
        .then_some(answer.status);
    let (mut kept, mut dropped, mut bytes) = (Vec::new(), Vec::new(), 0usize);
    for (name, value) in &answer.headers {
        let lower = name.to_ascii_lowercase();
        let allowed = ANSWER_HEADERS.contains(&lower.as_str())
            || (lower.starts_with("x-") && !ANSWER_GUARDS.iter().any(|(g, _)| *g == lower));
        bytes += name.len() + value.len();
        // Control characters would split the header block; the HTTP layer refuses them too,
        // but a header dropped here is named in the log.
        let clean = !value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if allowed && clean && kept.len() < ANSWER_HEADER_COUNT && bytes <= ANSWER_HEADER_BYTES {
            kept.push((lower, value.clone()));
        } else {
            dropped.push(lower);
        }
    }
    (status, kept, dropped)
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
        } => check_basic(req, username, &secret(s)?),
        InboundAuth::Hmac {
            header: name,
            secret: s,
            timestamp_header,
            window,
            ..
        } => check_hmac(
            req,
            name,
            &secret(s)?,
            timestamp_header.as_deref(),
            window.get(),
            with_body,
        ),
    }
}

/// Basic credentials: `username` and the secret `expected`, compared in constant time.
fn check_basic(req: &InboundRequest, username: &str, expected: &[u8]) -> Result<(), AuthRefused> {
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
    wanted.extend_from_slice(expected);
    if same(&given, &wanted) {
        Ok(())
    } else {
        Err(AuthRefused("Basic credentials do not match".into()))
    }
}

/// An HMAC-SHA256 of the body (after the timestamp and a dot, when the route has one) in
/// header `name`, keyed with `key`; the timestamp within `window` of now. Without `with_body`
/// everything but the body's MAC is checked.
fn check_hmac(
    req: &InboundRequest,
    name: &str,
    key: &[u8],
    timestamp_header: Option<&str>,
    window: std::time::Duration,
    with_body: bool,
) -> Result<(), AuthRefused> {
    let given =
        header(req, name).ok_or_else(|| AuthRefused(format!("header {name} is missing")))?;
    let given = given.trim().strip_prefix("sha256=").unwrap_or(given.trim());
    let given = hex::decode(given)
        .map_err(|_| AuthRefused(format!("header {name} is not a hex HMAC-SHA256")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| AuthRefused("HMAC key is unusable".into()))?;
    if let Some(ts_name) = timestamp_header {
        let ts = header(req, ts_name)
            .ok_or_else(|| AuthRefused(format!("header {ts_name} is missing")))?;
        let seconds: i64 = ts
            .trim()
            .parse()
            .map_err(|_| AuthRefused(format!("header {ts_name} is not unix seconds")))?;
        let now = crate::clock::now_ms() / 1000;
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
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

/// How far in the future a signed timestamp may be (clocks differ a little, not by minutes).
const FUTURE_SKEW: i64 = 30;

/// The store namespace of accepted signatures; a control character keeps it apart from every
/// adapter's namespace.
fn replay_namespace(adapter: &str) -> String {
    crate::store::host_namespace::replay(adapter)
}

/// Why [`check_replay`] did not let a request through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayCheck {
    /// The signed request was accepted before: a replay.
    #[error(transparent)]
    Refused(AuthRefused),
    /// The store that remembers signatures cannot be reached: the request may be genuine,
    /// and the platform should send it again later (503, not 401, which a platform reads as
    /// bad credentials and may disable the hook for).
    #[error("replay check unavailable: {0}")]
    Unavailable(String),
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
) -> Result<Option<Remembered>, ReplayCheck> {
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
    // The route is not part of the key: a signature stands for one delivery, and the same
    // signed request presented to a sibling route that shares the secret is that delivery
    // again. It is remembered until its timestamp leaves the window, when the timestamp check
    // refuses it anyway; then the key expires and retention deletes it.
    let key = format!(
        "{:020}/{}",
        seconds.max(0),
        sig.trim()
            .trim_start_matches("sha256=")
            .to_ascii_lowercase()
    );
    let window_s = i64::try_from(window.get().as_secs()).unwrap_or(i64::MAX / 2);
    let until = seconds
        .max(0)
        .saturating_add(window_s)
        .saturating_add(FUTURE_SKEW)
        .saturating_mul(1000);
    if !store
        .kv_cas_until(&ns, &key, None, Some(b"1"), Some(until))
        .await
        .map_err(|e| ReplayCheck::Unavailable(e.to_string()))?
    {
        return Err(ReplayCheck::Refused(AuthRefused(
            "this signed request was accepted before: a replay is refused".into(),
        )));
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
        let response = called.answer.response(&self.manifest.name)?;
        Ok(InboundResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}
