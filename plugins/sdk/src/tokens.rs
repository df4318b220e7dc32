//! The host's token cache, seen from an adapter.

use crate::AdapterError;
use crate::bindings::weft::adapter::tokens as wit;

/// The current token for `scope`, fetched by the host if needed. Ask right before each send.
pub fn get(scope: &str) -> Result<String, AdapterError> {
    wit::get(scope).map_err(|e| match e {
        wit::TokenError::FetchFailed(e) => AdapterError::from_wit(e),
        wit::TokenError::Denied(m) => AdapterError::rejected("denied", m),
        wit::TokenError::RateLimited(ms) => AdapterError::transient_code(
            "token-rate-limited",
            format!("token endpoint may be called again in {ms} ms"),
        )
        .retry_after_ms(ms),
        wit::TokenError::Unavailable(m) => AdapterError::transient_code("token", m),
    })
}

/// Tells the host the platform refused `rejected`; a refresh happens only if it is still current.
pub fn invalidate(scope: &str, rejected: &str) {
    wit::invalidate(scope, rejected);
}

/// Runs `send` with the current token; when it fails with an auth error, invalidates exactly
/// that token before returning the error, so the host's retry gets a fresh one.
pub fn with_token<T>(
    scope: &str,
    send: impl FnOnce(&str) -> Result<T, AdapterError>,
) -> Result<T, AdapterError> {
    let token = get(scope)?;
    let result = send(&token);
    if matches!(&result, Err(e) if e.is_auth()) {
        invalidate(scope, &token);
    }
    result
}

/// Seconds until a JWT's `exp` claim, read without checking the signature (the platform checks
/// it; the host only needs the lifetime). `None` when the token is not a JWT with a numeric
/// `exp`, so the manifest's `token.default_ttl` applies; `Some(0)` for a token already expired.
pub fn jwt_expires_in(token: &str) -> Option<u64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    let now = crate::dates::now_ms() as f64 / 1000.0;
    Some((exp - now).max(0.0) as u64)
}
