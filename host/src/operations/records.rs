//! The host's own records in the store (API tokens, console sessions): one namespace of keys
//! and values, apart from every adapter's.

use crate::store::{KvStore, StoreError};
use std::sync::Arc;

/// One of the host's namespaces in the store, and nothing else of it.
#[derive(Clone)]
pub struct Records {
    kv: Arc<dyn KvStore>,
    namespace: &'static str,
}

impl Records {
    pub(super) fn new(kv: Arc<dyn KvStore>, namespace: &'static str) -> Self {
        Self { kv, namespace }
    }

    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.kv_get(self.namespace, key).await
    }

    /// Stores `value` under `key`.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv.kv_set(self.namespace, key, value).await
    }

    /// Deletes `key`; answers whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.kv.kv_delete(self.namespace, key).await
    }

    /// Up to `limit` keys starting with `prefix`, in order, after `after`.
    pub async fn keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.kv.kv_list(self.namespace, prefix, after, limit).await
    }
}
