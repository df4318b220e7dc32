//! Durable state behind one trait: adapter storage and token grants (jobs and schedules join
//! it with the front door). The embedded default is SQLite; PostgreSQL fits the same trait.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;

/// A store failure; callers see it as "unavailable, may be retried".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be prepared.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
}

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

/// Durable state shared by every capability.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads `key` of namespace `ns`.
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `key` of `ns`.
    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Deletes `key` of `ns`; true if it existed.
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError>;
    /// Keys of `ns` starting with `prefix`, after `after`, in byte order, at most `limit`.
    async fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Atomically replaces `expected` by `new` (`None`: absent); true if it did.
    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;

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
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` prefix match.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
