//! The cache itself: one entry per (adapter, scope), single-flight refreshes, and grants
//! persisted sealed in the store so that a restart or another node does not fetch again.

use super::{TokenError, TokenFetcher, TokenHealth, TokenKey};
use crate::clock::{ms, now_ms};
use crate::manifest::TokenPolicy;
use crate::seal::StoreKey;
use crate::store::{StoredGrant, TokenStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) token: String,
    /// The token as the store holds it, sealed with the store key.
    pub(super) sealed: String,
    pub(super) expires_at_ms: i64,
    pub(super) fetched_at_ms: i64,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) grant: Option<Grant>,
    pub(super) credentials: String,
    pub(super) last_attempt_ms: i64,
    pub(super) version: Option<i64>,
    /// Completed fetch attempts, and the error of the last one if it failed: callers that
    /// waited for an attempt share its failure instead of each trying again.
    pub(super) attempts: u64,
    pub(super) last_error: Option<TokenError>,
    /// Failed fetches since the process started, and when the last one failed.
    pub(super) failures: u64,
    pub(super) last_failure_ms: i64,
}

#[derive(Default)]
pub(super) struct Entry {
    pub(super) fetch: tokio::sync::Mutex<()>,
    pub(super) state: Mutex<State>,
}

/// The cache shared by every adapter instance of a process.
pub struct TokenCache {
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) key: StoreKey,
    pub(super) entries: Mutex<HashMap<(String, String), Arc<Entry>>>,
}

impl Grant {
    fn window_ms(&self, policy: &TokenPolicy) -> i64 {
        let lifetime = Duration::from_millis(
            u64::try_from(self.expires_at_ms - self.fetched_at_ms).unwrap_or(0),
        );
        ms(policy.refresh_window.for_lifetime(lifetime))
    }

    /// Outside the refresh window: hand it out without a thought.
    fn fresh(&self, now: i64, policy: &TokenPolicy) -> bool {
        now < self.expires_at_ms - self.window_ms(policy)
    }

    /// Not expired yet, though perhaps due for refresh.
    fn usable(&self, now: i64) -> bool {
        now < self.expires_at_ms
    }
}

impl State {
    fn current(&self, key: &TokenKey<'_>) -> Option<&Grant> {
        self.grant
            .as_ref()
            .filter(|_| self.credentials == key.credentials)
    }
}

/// Token scopes one adapter may hold at once.
pub const MAX_SCOPES: usize = 64;
/// Longest token scope name.
const MAX_SCOPE_BYTES: usize = 256;

impl TokenCache {
    /// A cache persisting grants in `store`, sealed with `key`.
    pub fn new(store: Arc<dyn TokenStore>, key: StoreKey) -> Self {
        Self {
            store,
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Why a token of `key`'s scope may not be held, if it may not: each scope is a grant
    /// kept in memory and in the store, and the console lists them all, so an adapter that
    /// makes scopes up (from its input, a platform's answer) must not make them without end.
    fn scope_refused(&self, key: &TokenKey<'_>) -> Option<String> {
        if key.scope.len() > MAX_SCOPE_BYTES {
            return Some(format!(
                "a token scope is at most {MAX_SCOPE_BYTES} bytes; this one has {}",
                key.scope.len()
            ));
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.contains_key(&(key.adapter.to_string(), key.scope.to_string())) {
            return None;
        }
        let held = entries.keys().filter(|(a, _)| a == key.adapter).count();
        (held >= MAX_SCOPES).then(|| {
            format!(
                "adapter {} holds tokens of {MAX_SCOPES} scopes already, the most one adapter may: scopes name a platform's kinds of access, not values",
                key.adapter
            )
        })
    }

    pub(super) fn entry(&self, key: &TokenKey<'_>) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .entry((key.adapter.to_string(), key.scope.to_string()))
            .or_default()
            .clone()
    }

    /// A valid token for `key`, fetching through `fetcher` at most once however many callers
    /// ask at the same moment; gives up at `deadline`.
    pub async fn get(
        &self,
        key: TokenKey<'_>,
        policy: &TokenPolicy,
        fetcher: &dyn TokenFetcher,
        deadline: Instant,
    ) -> Result<String, TokenError> {
        if let Some(refusal) = self.scope_refused(&key) {
            return Err(TokenError::Invalid(refusal));
        }
        let entry = self.entry(&key);
        let (due, seen_attempts) = {
            let state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = now_ms();
            match state.current(&key) {
                Some(g) if g.fresh(now, policy) => return Ok(g.token.clone()),
                Some(g) if g.usable(now) => (Some(g.token.clone()), state.attempts),
                _ => (None, state.attempts),
            }
        };
        if let Some(token) = due {
            // Due for refresh but still valid: one caller refreshes, nobody waits.
            if let Ok(_guard) = entry.fetch.try_lock() {
                match self
                    .refresh(&entry, &key, policy, fetcher, deadline, false)
                    .await
                {
                    Ok(t) => return Ok(t),
                    Err(e) => {
                        tracing::warn!(
                            adapter = key.adapter,
                            scope = key.scope,
                            "token refresh inside the window failed, the current token stays in use: {e}"
                        );
                    }
                }
            }
            return Ok(token);
        }
        let _guard = tokio::time::timeout_at(deadline.into(), entry.fetch.lock())
            .await
            .map_err(|_| {
                TokenError::Unavailable(
                    "the call's deadline passed while waiting for a token fetch".into(),
                )
            })?;
        {
            let state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(g) = state.current(&key)
                && g.fresh(now_ms(), policy)
            {
                return Ok(g.token.clone());
            }
            if state.attempts > seen_attempts
                && let Some(e) = &state.last_error
            {
                return Err(e.clone());
            }
        }
        self.refresh(&entry, &key, policy, fetcher, deadline, true)
            .await
    }

    /// Fetches (or adopts from the store) a new grant. Called with `entry.fetch` held.
    async fn refresh(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        policy: &TokenPolicy,
        fetcher: &dyn TokenFetcher,
        deadline: Instant,
        may_wait: bool,
    ) -> Result<String, TokenError> {
        // Other processes sharing the store wait here while one fetches; then they find its
        // grant in the store instead of fetching again.
        let lock = match tokio::time::timeout_at(
            deadline.into(),
            self.store.token_lock(key.adapter, key.scope),
        )
        .await
        {
            Ok(Ok(lock)) => lock,
            Ok(Err(e)) => return Err(TokenError::Unavailable(e.to_string())),
            Err(_) => {
                return Err(TokenError::Unavailable(
                    "the call's deadline passed while another node fetched the token".into(),
                ));
            }
        };
        let result = self
            .refresh_locked(entry, key, policy, fetcher, deadline, may_wait)
            .await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }

    async fn refresh_locked(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        policy: &TokenPolicy,
        fetcher: &dyn TokenFetcher,
        deadline: Instant,
        may_wait: bool,
    ) -> Result<String, TokenError> {
        let unavailable = |e: crate::store::StoreError| TokenError::Unavailable(e.to_string());
        let stored = self
            .store
            .token_load(key.adapter, key.scope)
            .await
            .map_err(unavailable)?;
        let now = now_ms();
        if let Some(token) = self.adopt_stored(entry, key, policy, stored.as_ref(), now) {
            return Ok(token);
        }
        let last_attempt = entry
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_attempt_ms;
        let wait = last_attempt + ms(policy.min_fetch_interval.get()) - now;
        if wait > 0 {
            let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
            if !may_wait || Instant::now() + wait >= deadline {
                return Err(self.fail(entry, TokenError::RateLimited(wait)));
            }
            tokio::time::sleep(wait).await;
        }
        let attempt_at = now_ms();
        self.record_attempt(entry, key, attempt_at).await?;
        let budget = policy
            .fetch_timeout
            .get()
            .min(deadline.saturating_duration_since(Instant::now()));
        let fetched = match tokio::time::timeout(budget, fetcher.fetch(key.scope)).await {
            Ok(Ok(f)) => f,
            Ok(Err(TokenError::Throttled(message, wait))) => {
                // Counted as an attempt made later than it was, so that `min_fetch_interval`
                // keeps every caller (and every node, through the store) off the endpoint until
                // the pause it asked for is over.
                let not_before = now_ms() + ms(wait);
                let shifted = not_before - ms(policy.min_fetch_interval.get());
                if shifted > attempt_at {
                    self.record_attempt(entry, key, shifted).await?;
                }
                return Err(self.fail(entry, TokenError::Throttled(message, wait)));
            }
            Ok(Err(e)) => return Err(self.fail(entry, e)),
            Err(_) => {
                return Err(self.fail(
                    entry,
                    TokenError::Failed(format!(
                        "fetch-token did not finish within {} ms",
                        budget.as_millis()
                    )),
                ));
            }
        };
        let lifetime = fetched.expires_in.unwrap_or(policy.default_ttl.get());
        let grant = Grant {
            sealed: self.key.seal(&[key.adapter, key.scope], &fetched.token),
            token: fetched.token,
            expires_at_ms: attempt_at + ms(lifetime),
            fetched_at_ms: attempt_at,
        };
        self.persist(entry, key, &grant, attempt_at).await?;
        let mut state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
        state.grant = Some(grant.clone());
        state.attempts += 1;
        state.last_error = None;
        tracing::info!(
            adapter = key.adapter,
            scope = key.scope,
            expires_in_s = lifetime.as_secs(),
            "token fetched"
        );
        Ok(grant.token)
    }

    /// Takes what the store holds for `key` (`stored`, read by the caller under the lock) into
    /// `entry`: its version and last attempt, and its token when it was fetched with the same
    /// credentials and is still usable. Answers the token when it is fresh enough to hand out
    /// without a fetch.
    fn adopt_stored(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        policy: &TokenPolicy,
        stored: Option<&StoredGrant>,
        now: i64,
    ) -> Option<String> {
        let mut state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.credentials != key.credentials {
            state.grant = None;
            state.credentials = key.credentials.to_string();
        }
        if let Some(s) = stored {
            state.version = Some(s.version);
            // The endpoint's rate limit holds whoever called it last, with any credentials.
            state.last_attempt_ms = state.last_attempt_ms.max(s.last_attempt_ms);
            let token = s
                .token
                .as_ref()
                .filter(|_| s.credentials == key.credentials)
                .and_then(|sealed| {
                    self.open(key.adapter, key.scope, sealed)
                        .map(|t| (t, sealed))
                });
            if let Some((token, sealed)) = token {
                let grant = Grant {
                    token,
                    sealed: sealed.clone(),
                    expires_at_ms: s.expires_at_ms,
                    fetched_at_ms: s.fetched_at_ms,
                };
                if grant.fresh(now, policy) {
                    let token = grant.token.clone();
                    state.grant = Some(grant);
                    return Some(token);
                }
                if grant.usable(now) {
                    state.grant = Some(grant);
                }
            }
        }
        None
    }

    /// The tokens this process holds for `adapter` now (to redact them from a recording).
    pub fn cached_tokens(&self, adapter: &str) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .filter(|((a, _), _)| a == adapter)
            .filter_map(|(_, e)| {
                e.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .grant
                    .as_ref()
                    .map(|g| g.token.clone())
            })
            .collect()
    }

    /// What this process knows of `adapter`'s tokens, one entry a scope, for the ops console:
    /// times and counts only, never a token.
    pub fn health(&self, adapter: &str) -> Vec<TokenHealth> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<TokenHealth> = entries
            .iter()
            .filter(|((a, _), _)| a == adapter)
            .map(|((_, scope), e)| {
                let state = e.state.lock().unwrap_or_else(|p| p.into_inner());
                TokenHealth {
                    scope: scope.clone(),
                    cached: state.grant.is_some(),
                    expires_at_ms: state.grant.as_ref().map(|g| g.expires_at_ms),
                    fetched_at_ms: state.grant.as_ref().map(|g| g.fetched_at_ms),
                    last_attempt_ms: (state.last_attempt_ms > 0).then_some(state.last_attempt_ms),
                    failures: state.failures,
                    last_failure_ms: (state.last_failure_ms > 0).then_some(state.last_failure_ms),
                    last_error: state.last_error.as_ref().map(ToString::to_string),
                }
            })
            .collect();
        out.sort_by(|a, b| a.scope.cmp(&b.scope));
        out
    }

    /// The keyed fingerprint of an adapter's credentials (see [`TokenKey::credentials`]).
    pub fn credentials_fingerprint<'a>(
        &self,
        secrets: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> String {
        let parts: Vec<&[u8]> = secrets
            .flat_map(|(name, value)| [name.as_bytes(), value.as_bytes()])
            .collect();
        self.key.fingerprint(&parts)
    }

    pub(super) fn fail(&self, entry: &Entry, e: TokenError) -> TokenError {
        let mut state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
        state.attempts += 1;
        state.failures += 1;
        state.last_failure_ms = now_ms();
        state.last_error = Some(e.clone());
        e
    }
}
