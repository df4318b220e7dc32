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

/// Writes [`TokenStore`] for a backend: `$store`, writing through its pool `pool` and reading
/// through `$read`, with the backend's own methods (`$more`: PostgreSQL's cluster-wide lock)
/// in the same `impl`. The statements are the shared SQL of `store::sql`, so the Rust around
/// them is written once for both.
macro_rules! impl_token_store {
    ($store:ty, $read:ident $(, $more:item)*) => {
        const _: () = {
            use $crate::store::{StoreError, StoredGrant, TokenStore, sql};
            use async_trait::async_trait;
            use sqlx::Row;

            #[async_trait]
            impl TokenStore for $store {
                async fn token_load(
                    &self,
                    adapter: &str,
                    scope: &str,
                ) -> Result<Option<StoredGrant>, StoreError> {
                    let row = sqlx::query(sql::TOKEN_GET)
                        .bind(adapter)
                        .bind(scope)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|r| StoredGrant {
                        token: r.get(0),
                        expires_at_ms: r.get(1),
                        fetched_at_ms: r.get(2),
                        last_attempt_ms: r.get(3),
                        credentials: r.get(4),
                        version: r.get(5),
                    }))
                }

                async fn token_store(
                    &self,
                    adapter: &str,
                    scope: &str,
                    grant: &StoredGrant,
                    expected_version: Option<i64>,
                ) -> Result<bool, StoreError> {
                    let done = match expected_version {
                        None => {
                            sqlx::query(sql::TOKEN_CREATE)
                                .bind(adapter)
                                .bind(scope)
                                .bind(&grant.token)
                                .bind(grant.expires_at_ms)
                                .bind(grant.fetched_at_ms)
                                .bind(grant.last_attempt_ms)
                                .bind(&grant.credentials)
                                .bind(grant.version)
                                .execute(&self.pool)
                                .await?
                        }
                        Some(expected) => {
                            sqlx::query(sql::TOKEN_SWAP)
                                .bind(&grant.token)
                                .bind(grant.expires_at_ms)
                                .bind(grant.fetched_at_ms)
                                .bind(grant.last_attempt_ms)
                                .bind(&grant.credentials)
                                .bind(grant.version)
                                .bind(adapter)
                                .bind(scope)
                                .bind(expected)
                                .execute(&self.pool)
                                .await?
                        }
                    };
                    Ok(done.rows_affected() == 1)
                }

                async fn token_invalidate(
                    &self,
                    adapter: &str,
                    scope: &str,
                    token: &str,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(sql::TOKEN_DROP)
                        .bind(adapter)
                        .bind(scope)
                        .bind(token)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                $($more)*
            }
        };
    };
}
pub(crate) use impl_token_store;
