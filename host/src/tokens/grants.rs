//! The cache's durable side: grants written sealed to the store (compare-and-swap on their
//! version, so nodes never overwrite a newer grant), attempts recorded before the endpoint is
//! called, and invalidation of a rejected token.

use super::cache::{Entry, Grant, TokenCache};
use super::{TokenError, TokenKey};
use crate::store::StoredGrant;

impl TokenCache {
    /// Opens a stored token; one that does not open (sealed under another key, or written in
    /// plain text by an older Weft) counts as no token, so a fresh one is fetched.
    pub(super) fn open(&self, adapter: &str, scope: &str, sealed: &str) -> Option<String> {
        match self.key.open(&[adapter, scope], sealed) {
            Ok(token) => Some(token),
            Err(e) => {
                tracing::warn!(adapter, scope, "the stored token is ignored: {e}");
                None
            }
        }
    }

    /// Writes the attempt time durably before calling the endpoint, so a crash right after the
    /// call still counts against `min_fetch_interval`.
    pub(super) async fn record_attempt(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        at: i64,
    ) -> Result<(), TokenError> {
        let (grant, version) = {
            let mut state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
            state.last_attempt_ms = at;
            (state.grant.clone(), state.version)
        };
        let row = StoredGrant {
            token: grant.as_ref().map(|g| g.sealed.clone()),
            expires_at_ms: grant.as_ref().map_or(0, |g| g.expires_at_ms),
            fetched_at_ms: grant.as_ref().map_or(0, |g| g.fetched_at_ms),
            last_attempt_ms: at,
            credentials: key.credentials.to_string(),
            version: version.map_or(1, |v| v + 1),
        };
        self.write(entry, key, row, version).await
    }

    pub(super) async fn persist(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        grant: &Grant,
        attempt_at: i64,
    ) -> Result<(), TokenError> {
        let version = entry
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .version;
        let row = StoredGrant {
            token: Some(grant.sealed.clone()),
            expires_at_ms: grant.expires_at_ms,
            fetched_at_ms: grant.fetched_at_ms,
            last_attempt_ms: attempt_at,
            credentials: key.credentials.to_string(),
            version: version.map_or(1, |v| v + 1),
        };
        self.write(entry, key, row, version).await
    }

    /// Compare-and-swap on the row's version; a lost race (another process wrote) re-reads the
    /// version and writes once more, since this process holds the newest information.
    pub(super) async fn write(
        &self,
        entry: &Entry,
        key: &TokenKey<'_>,
        mut row: StoredGrant,
        version: Option<i64>,
    ) -> Result<(), TokenError> {
        let unavailable = |e: crate::store::StoreError| TokenError::Unavailable(e.to_string());
        let mut expected = version;
        for _ in 0..3 {
            if self
                .store
                .token_store(key.adapter, key.scope, &row, expected)
                .await
                .map_err(unavailable)?
            {
                entry
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .version = Some(row.version);
                return Ok(());
            }
            expected = self
                .store
                .token_load(key.adapter, key.scope)
                .await
                .map_err(unavailable)?
                .map(|s| s.version);
            row.version = expected.map_or(1, |v| v + 1);
        }
        Err(TokenError::Unavailable(
            "token grant could not be stored: concurrent writers".into(),
        ))
    }

    /// Forgets `rejected` if it is still the current token of `adapter`/`scope`; true if so.
    pub async fn invalidate(&self, adapter: &str, scope: &str, rejected: &str) -> bool {
        let entry = self.entry(&TokenKey {
            adapter,
            scope,
            credentials: "",
        });
        let current = {
            let mut state = entry.state.lock().unwrap_or_else(|p| p.into_inner());
            let current = state
                .grant
                .as_ref()
                .filter(|g| g.token == rejected)
                .map(|g| g.sealed.clone());
            if current.is_some() {
                state.grant = None;
            }
            current
        };
        let was_current = current.is_some();
        // The store holds tokens sealed (with a fresh nonce each), so the row to forget is
        // named by its sealed text: this process's own, or the store's if it opens to `rejected`.
        let sealed = match current {
            Some(sealed) => Ok(Some(sealed)),
            None => self.store.token_load(adapter, scope).await.map(|row| {
                row.and_then(|r| r.token)
                    .filter(|t| self.open(adapter, scope, t).as_deref() == Some(rejected))
            }),
        };
        let invalidated = match sealed {
            Ok(Some(sealed)) => self.store.token_invalidate(adapter, scope, &sealed).await,
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match invalidated {
            Ok(stored) => {
                if let Ok(Some(s)) = self.store.token_load(adapter, scope).await {
                    entry
                        .state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .version = Some(s.version);
                }
                if was_current || stored {
                    tracing::info!(
                        adapter,
                        scope,
                        "token invalidated after the platform refused it"
                    );
                }
                was_current || stored
            }
            Err(e) => {
                tracing::warn!(
                    adapter,
                    scope,
                    "token invalidation could not be stored: {e}"
                );
                was_current
            }
        }
    }
}
