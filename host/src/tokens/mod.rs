//! The host-owned token cache: single-flight fetches, refresh windows, `min_fetch_interval`,
//! conditional invalidation and durable grants.
//!
//! The cache never knows how a token is obtained: it asks a [`TokenFetcher`] (the engine runs
//! the adapter's `fetch-token` in a fresh instance).

mod cache;
mod grants;
mod guest;

pub use cache::{MAX_SCOPES, TokenCache};
pub use guest::TokensView;

use async_trait::async_trait;
use std::time::Duration;

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The platform refused the credentials.
    #[error("token endpoint refused the credentials: {0}")]
    Auth(String),
    /// The platform refused the token request for another reason (code, message).
    #[error("token endpoint refused the request ({0}): {1}")]
    Rejected(String, String),
    /// `fetch-token` found its configuration or secrets unusable.
    #[error("fetch-token cannot run: {0}")]
    Invalid(String),
    /// `fetch-token` tried a host that is not allowed.
    #[error("fetch-token was denied: {0}")]
    Denied(String),
    /// `fetch-token` failed in a way worth retrying later (or trapped, or timed out).
    #[error("token fetch failed: {0}")]
    Failed(String),
    /// The token endpoint itself asked for a pause (HTTP 429 with Retry-After, or its own
    /// rate-limit code): no fetch before this long, whatever `min_fetch_interval` allows.
    #[error("token endpoint asked to wait {wait} ms: {0}", wait = .1.as_millis())]
    Throttled(String, Duration),
    /// `min_fetch_interval` forbids another fetch for this long.
    #[error("token endpoint may be called again in {} ms (token.min_fetch_interval)", .0.as_millis())]
    RateLimited(Duration),
    /// The cache could not work (store down, deadline passed, recursion).
    #[error("token unavailable: {0}")]
    Unavailable(String),
}

/// A token as `fetch-token` returned it.
#[derive(Debug, Clone)]
pub struct FetchedToken {
    /// The token.
    pub token: String,
    /// Its lifetime, if the platform said.
    pub expires_in: Option<Duration>,
}

/// Obtains a new token for a scope (the adapter's `fetch-token`).
#[async_trait]
pub trait TokenFetcher: Send + Sync {
    /// Fetches a token for `scope`.
    async fn fetch(&self, scope: &str) -> Result<FetchedToken, TokenError>;
}

/// One scope's token as this process sees it (see [`TokenCache::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHealth {
    /// The scope ("" for the adapter's only one).
    pub scope: String,
    /// Whether a grant is held.
    pub cached: bool,
    /// When the held grant expires, Unix ms.
    pub expires_at_ms: Option<i64>,
    /// When the held grant was fetched, Unix ms.
    pub fetched_at_ms: Option<i64>,
    /// When a fetch was last attempted (by any node, as far as this one has seen), Unix ms.
    pub last_attempt_ms: Option<i64>,
    /// Fetches that failed since this process started.
    pub failures: u64,
    /// When the last failure happened, Unix ms.
    pub last_failure_ms: Option<i64>,
    /// The last attempt's error if it failed (the platform's words, secrets redacted).
    pub last_error: Option<String>,
}

/// Which tokens: adapter instance, scope, and the fingerprint of the credentials in force.
#[derive(Debug, Clone, Copy)]
pub struct TokenKey<'a> {
    /// Adapter instance name.
    pub adapter: &'a str,
    /// Scope ("" for the adapter's only one).
    pub scope: &'a str,
    /// Fingerprint of the adapter's secrets: a grant fetched with other credentials is ignored.
    pub credentials: &'a str,
}
