//! The `storage` interface: a key-value namespace per adapter, in the shared store, within the
//! adapter's `limits.storage`, `limits.storage_keys` and `limits.storage_value`.

use crate::bindings::storage;
use crate::manifest::Limits;
use crate::store::{Store, StoreError};
use tracing::Instrument;

/// Longest storage key.
const MAX_KEY: usize = 512;
/// Most keys one `list-keys` returns.
const MAX_LIST: u32 = 1000;
/// Longest time to live a write may ask for (ten years): far enough for any use, near enough
/// that the expiry time never overflows.
const MAX_TTL_MS: u64 = 10 * 366 * 86_400_000;

/// When a key written now with `ttl_ms` to live expires, in Unix milliseconds.
fn expiry(ttl_ms: u64) -> i64 {
    let ttl = i64::try_from(ttl_ms.min(MAX_TTL_MS)).unwrap_or(i64::MAX);
    crate::clock::now_ms().saturating_add(ttl)
}

/// What the `storage` interface sees of a call: the store, the adapter's namespace and limits.
pub struct StorageView<'a> {
    /// The shared store.
    pub store: &'a dyn Store,
    /// The adapter's namespace (its instance name).
    pub namespace: &'a str,
    /// The adapter's limits.
    pub limits: &'a Limits,
}

fn check_key(key: &str) -> Result<(), storage::StorageError> {
    if key.contains('\0') {
        return Err(storage::StorageError::InvalidKey(
            "keys must not contain NUL".into(),
        ));
    }
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(storage::StorageError::InvalidKey(format!(
            "keys are 1 to {MAX_KEY} bytes, found {} bytes",
            key.len()
        )));
    }
    Ok(())
}

fn unavailable(e: StoreError) -> storage::StorageError {
    storage::StorageError::Unavailable(e.to_string())
}

impl StorageView<'_> {
    fn check_value(&self, value: &[u8]) -> Result<(), storage::StorageError> {
        let max = self.limits.storage_value;
        if value.len() as u64 > max.bytes() {
            return Err(storage::StorageError::TooLarge(format!(
                "value of {} bytes exceeds limits.storage_value ({max})",
                value.len()
            )));
        }
        Ok(())
    }

    /// Refuses a write of `value` to `key` that would take the adapter past `limits.storage`
    /// or `limits.storage_keys`. Writers racing on other nodes may each pass the check, so the
    /// quota can be overshot by at most one value per concurrent writer: a bound, not a leak.
    async fn check_quota(&self, key: &str, value: &[u8]) -> Result<(), storage::StorageError> {
        let limits = self.limits;
        let usage = self
            .store
            .kv_usage(self.namespace, key)
            .await
            .map_err(unavailable)?;
        let keys = usage.keys + u64::from(usage.existing.is_none());
        let bytes = (usage.bytes - usage.existing.unwrap_or(0).min(usage.bytes))
            .saturating_add((key.len() + value.len()) as u64);
        if keys > limits.storage_keys {
            return Err(storage::StorageError::TooLarge(format!(
                "storage is full: the adapter holds {} keys, limits.storage_keys is {}",
                usage.keys, limits.storage_keys
            )));
        }
        if bytes > limits.storage.bytes() {
            return Err(storage::StorageError::TooLarge(format!(
                "storage is full: this write would bring the adapter to {bytes} bytes, limits.storage is {}",
                limits.storage
            )));
        }
        Ok(())
    }

    /// Writes `value` to `key` within the limits, to expire at `until` (`None`: never).
    async fn write(
        &self,
        key: &str,
        value: &[u8],
        until: Option<i64>,
    ) -> Result<(), storage::StorageError> {
        check_key(key).and_then(|()| self.check_value(value))?;
        self.check_quota(key, value).await?;
        self.store
            .kv_set_until(self.namespace, key, value, until)
            .await
            .map_err(unavailable)
    }

    /// Swaps `expected` for `new` at `key` within the limits, `new` to expire at `until`.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        until: Option<i64>,
    ) -> Result<bool, storage::StorageError> {
        check_key(key)?;
        if let Some(v) = new {
            self.check_value(v)?;
            self.check_quota(key, v).await?;
        }
        self.store
            .kv_cas_until(self.namespace, key, expected, new, until)
            .await
            .map_err(unavailable)
    }
}

impl storage::Host for StorageView<'_> {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, storage::StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .store
            .kv_get(self.namespace, &key)
            .instrument(tracing::info_span!("host storage.get"))
            .await
            .map_err(unavailable))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), storage::StorageError>> {
        Ok(self
            .write(&key, &value, None)
            .instrument(tracing::info_span!("host storage.set"))
            .await)
    }

    async fn set_expiring(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<(), storage::StorageError>> {
        Ok(self
            .write(&key, &value, Some(expiry(ttl_ms)))
            .instrument(tracing::info_span!("host storage.set-expiring"))
            .await)
    }

    async fn delete(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .store
            .kv_delete(self.namespace, &key)
            .instrument(tracing::info_span!("host storage.delete"))
            .await
            .map_err(unavailable))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, storage::StorageError>> {
        if prefix.len() > MAX_KEY {
            return Ok(Err(storage::StorageError::InvalidKey(format!(
                "prefix longer than {MAX_KEY} bytes"
            ))));
        }
        Ok(self
            .store
            .kv_list(
                self.namespace,
                &prefix,
                start_after.as_deref(),
                limit.min(MAX_LIST),
            )
            .instrument(tracing::info_span!("host storage.list-keys"))
            .await
            .map_err(unavailable))
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        Ok(self
            .swap(&key, expected.as_deref(), new.as_deref(), None)
            .instrument(tracing::info_span!("host storage.compare-and-swap"))
            .await)
    }

    async fn compare_and_swap_expiring(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        Ok(self
            .swap(&key, expected.as_deref(), Some(&new), Some(expiry(ttl_ms)))
            .instrument(tracing::info_span!(
                "host storage.compare-and-swap-expiring"
            ))
            .await)
    }
}
