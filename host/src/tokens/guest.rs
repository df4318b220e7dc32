//! The `tokens` interface: an adapter asks the host's cache for a scope's token, and gives one
//! back as rejected. The token is added to the call's redactor the moment it is handed out.

use super::{TokenCache, TokenError, TokenFetcher, TokenKey};
use crate::bindings::{tokens, types};
use crate::manifest::TokenPolicy;
use crate::redact::SharedRedactor;
use std::time::Instant;
use tracing::Instrument;

/// What the `tokens` interface sees of a call.
pub struct TokensView<'a> {
    /// The process's token cache.
    pub cache: &'a TokenCache,
    /// Adapter (instance) name.
    pub adapter: &'a str,
    /// Fingerprint of the adapter's secrets.
    pub credentials: &'a str,
    /// The adapter's `[token]` policy.
    pub policy: &'a TokenPolicy,
    /// Runs the adapter's `fetch-token` when the cache has no usable token.
    pub fetcher: &'a dyn TokenFetcher,
    /// True inside `fetch-token` itself, where asking for a token would recurse.
    pub fetching: bool,
    /// When the call must be over.
    pub deadline: Instant,
    /// Tokens handed out during this call, by scope: invalidated if the call ends in `auth`.
    pub used: &'a mut Vec<(String, String)>,
    /// The last outbound request the allow-list refused, here inside `fetch-token`.
    pub denied: &'a mut Option<String>,
    /// The call's redactor.
    pub redactor: &'a SharedRedactor,
}

impl tokens::Host for TokensView<'_> {
    async fn get(&mut self, scope: String) -> wasmtime::Result<Result<String, tokens::TokenError>> {
        if self.fetching {
            return Ok(Err(tokens::TokenError::Unavailable(
                "tokens.get cannot be called from fetch-token".into(),
            )));
        }
        let key = TokenKey {
            adapter: self.adapter,
            scope: &scope,
            credentials: self.credentials,
        };
        let result = self
            .cache
            .get(key, self.policy, self.fetcher, self.deadline)
            .instrument(tracing::info_span!("host tokens.get", scope = %scope))
            .await;
        Ok(match result {
            Ok(token) => {
                self.redactor.add(&token);
                self.used.push((scope, token.clone()));
                Ok(token)
            }
            Err(e) => Err(match e {
                TokenError::Auth(m) => {
                    tokens::TokenError::FetchFailed(types::AdapterError::Auth(m))
                }
                TokenError::Rejected(code, message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Rejected(types::Rejection {
                        code,
                        message,
                        details: Vec::new(),
                        conflict: false,
                    }),
                ),
                TokenError::Invalid(message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::InvalidInput(types::InputProblem {
                        message: format!("fetch-token: {message}"),
                        details: Vec::new(),
                    }),
                ),
                TokenError::Failed(message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Transient(types::TransientFailure {
                        message,
                        code: Some("token".into()),
                        retry_after_ms: None,
                    }),
                ),
                TokenError::Denied(m) => {
                    // The denial happened in fetch-token's instance; it explains this call too.
                    *self.denied = Some(m.clone());
                    tokens::TokenError::Denied(m)
                }
                TokenError::Throttled(message, d) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Transient(types::TransientFailure {
                        message,
                        code: Some("token-throttled".into()),
                        retry_after_ms: Some(d.as_millis() as u64),
                    }),
                ),
                TokenError::RateLimited(d) => tokens::TokenError::RateLimited(d.as_millis() as u64),
                TokenError::Unavailable(m) => tokens::TokenError::Unavailable(m),
            }),
        })
    }

    async fn invalidate(&mut self, scope: String, rejected: String) -> wasmtime::Result<()> {
        self.cache.invalidate(self.adapter, &scope, &rejected).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::tokens::Host;
    use crate::tokens::FetchedToken;
    use async_trait::async_trait;

    struct Fixed;

    #[async_trait]
    impl TokenFetcher for Fixed {
        async fn fetch(&self, _scope: &str) -> Result<FetchedToken, TokenError> {
            Ok(FetchedToken {
                token: "s3cr3t-token".into(),
                expires_in: None,
            })
        }
    }

    #[tokio::test]
    async fn a_token_handed_out_is_scrubbed_and_remembered_and_none_inside_fetch_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::store::SqliteStore::open(dir.path())
            .await
            .expect("sqlite");
        let cache = TokenCache::new(
            std::sync::Arc::new(store),
            crate::seal::StoreKey::from_bytes([1; 32]),
        );
        let policy = TokenPolicy::default();
        let redactor = SharedRedactor::new(crate::redact::Redactor::default());
        let (mut used, mut denied) = (Vec::new(), None);
        let mut view = TokensView {
            cache: &cache,
            adapter: "acme",
            credentials: "c",
            policy: &policy,
            fetcher: &Fixed,
            fetching: false,
            deadline: Instant::now() + std::time::Duration::from_secs(5),
            used: &mut used,
            denied: &mut denied,
            redactor: &redactor,
        };
        let token = view.get("read".into()).await.expect("no trap");
        assert!(matches!(token.as_deref(), Ok("s3cr3t-token")), "{token:?}");
        view.fetching = true;
        let inside = view.get("read".into()).await.expect("no trap");
        assert!(
            matches!(inside, Err(tokens::TokenError::Unavailable(_))),
            "{inside:?}"
        );
        assert_eq!(used, vec![("read".to_string(), "s3cr3t-token".to_string())]);
        assert_eq!(
            redactor.scrub("Bearer s3cr3t-token"),
            format!("Bearer {}", crate::redact::REDACTED)
        );
    }
}
