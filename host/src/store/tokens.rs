//! Token grants, persisted sealed, and the cluster-wide lock around a fetch.

use super::StoreError;
use async_trait::async_trait;

/// A token grant as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// The token, or `None` once it was invalidated.
    pub token: Option<String>,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: i64,
    /// When it was fetched, unix milliseconds.
    pub fetched_at_ms: i64,
    /// Last call of `fetch-token`, successful or not, unix milliseconds.
    pub last_attempt_ms: i64,
    /// Fingerprint of the credentials it was fetched with: other credentials, other grant.
    pub credentials: String,
    /// Incremented on every write; writes are compare-and-swap on it.
    pub version: i64,
}

/// A lock held across processes (PostgreSQL advisory lock); released explicitly.
#[async_trait]
pub trait StoreLock: Send {
    /// Releases the lock.
    async fn release(self: Box<Self>);
}

/// Token grants, persisted sealed, and the cluster-wide lock around a fetch.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The grant of `adapter`/`scope`, if any.
    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError>;

    /// Writes `grant` if the stored version is still `expected_version` (`None`: no row yet);
    /// true if it was written. The stored version becomes `grant.version`.
    async fn token_store(
        &self,
        adapter: &str,
        scope: &str,
        grant: &StoredGrant,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Forgets the token of `adapter`/`scope` if it is still `token`; true if it was.
    async fn token_invalidate(
        &self,
        adapter: &str,
        scope: &str,
        token: &str,
    ) -> Result<bool, StoreError>;

    /// Takes the cluster-wide lock around a token fetch for `adapter`/`scope`; `None` where the
    /// store is private to one process (the in-process single flight is enough there).
    async fn token_lock(
        &self,
        _adapter: &str,
        _scope: &str,
    ) -> Result<Option<Box<dyn StoreLock>>, StoreError> {
        Ok(None)
    }
}
