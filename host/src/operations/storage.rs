//! An adapter's storage as an operator sees it: its keys by prefix, a page at a time; one
//! value, bounded, with secret-looking fields masked and the adapter's secrets and tokens
//! scrubbed; and deleting a key (a watermark to
//! move back, a marker that holds work back). Every read and delete is logged with who asked.

use super::{Operations, StoreError};
use crate::redact::{Redactor, mask_json, mask_json_text};
use serde::Serialize;

/// Most keys one page lists.
pub const MAX_KEYS: u32 = 1000;
/// Most bytes of a value shown.
pub const MAX_SHOWN: usize = 64 * 1024;

/// Why a storage request was refused before the store was asked.
#[derive(Debug, thiserror::Error)]
pub enum StorageRefused {
    /// Not an adapter name: the host's own namespaces are out of reach.
    #[error("{0:?} is not an adapter name (a-z, 0-9, '-', '_')")]
    Name(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of an adapter's keys.
#[derive(Debug, Clone, Serialize)]
pub struct KeyPage {
    /// The keys, in byte order.
    pub keys: Vec<String>,
    /// Where the next page starts (its `after`), when this one is full.
    pub next_after: Option<String>,
}

/// One value, as shown to an operator.
#[derive(Debug, Clone, Serialize)]
pub struct StoredValue {
    /// The key.
    pub key: String,
    /// The value's size in bytes.
    pub bytes: usize,
    /// The value as JSON, with secret-looking fields masked, when it is JSON and not cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// Otherwise its text (UTF-8, lossy), at most [`MAX_SHOWN`] bytes, masked as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether the text is the value's start only.
    pub cut: bool,
}

impl StoredValue {
    fn of(key: &str, raw: &[u8], scrub: &Redactor) -> Self {
        let bytes = raw.len();
        if bytes <= MAX_SHOWN
            && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(raw)
        {
            mask_json(&mut v, scrub);
            return Self {
                key: key.to_string(),
                bytes,
                json: Some(v),
                text: None,
                cut: false,
            };
        }
        let shown = &raw[..bytes.min(MAX_SHOWN)];
        Self {
            key: key.to_string(),
            bytes,
            json: None,
            text: Some(scrub.scrub(&mask_json_text(&String::from_utf8_lossy(shown)))),
            cut: bytes > MAX_SHOWN,
        }
    }
}

fn namespace(adapter: &str) -> Result<&str, StorageRefused> {
    if crate::manifest::valid_name(adapter) {
        Ok(adapter)
    } else {
        Err(StorageRefused::Name(adapter.to_string()))
    }
}

impl Operations {
    /// Keys of `adapter`'s storage starting with `prefix`, after `after`, at most `limit`
    /// (1 to [`MAX_KEYS`]), in byte order; expired keys are not listed.
    pub async fn storage_keys(
        &self,
        adapter: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StorageRefused> {
        let ns = namespace(adapter)?;
        let limit = limit.clamp(1, MAX_KEYS);
        let keys = self.store.kv_list(ns, prefix, after, limit).await?;
        // A full page may have more after it: the next one starts after its last key.
        let next_after = (keys.len() >= limit as usize)
            .then(|| keys.last().cloned())
            .flatten();
        Ok(KeyPage { keys, next_after })
    }

    /// One value of `adapter`'s storage, as [`StoredValue`] shows it; logged with `by`.
    pub async fn storage_value(
        &self,
        adapter: &str,
        key: &str,
        by: &str,
    ) -> Result<Option<StoredValue>, StorageRefused> {
        let ns = namespace(adapter)?;
        let raw = self.store.kv_get(ns, key).await?;
        tracing::info!(
            adapter,
            key,
            by,
            found = raw.is_some(),
            "storage value read by an operator"
        );
        Ok(raw.map(|raw| StoredValue::of(key, &raw, &self.redactor_of(Some(adapter)))))
    }

    /// Deletes a key of `adapter`'s storage; true if it was there. Logged with `by`.
    pub async fn storage_delete(
        &self,
        adapter: &str,
        key: &str,
        by: &str,
    ) -> Result<bool, StorageRefused> {
        let ns = namespace(adapter)?;
        let deleted = self.store.kv_delete(ns, key).await?;
        tracing::warn!(
            adapter,
            key,
            by,
            deleted,
            "storage key deleted by an operator"
        );
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_shown_masked_and_bounded() {
        let scrub = Redactor::new(["s3cret-value"]);
        let v = StoredValue::of(
            "k",
            br#"{"cursor":"c1","token":"t0p","nested":{"password":"p"},"note":"key s3cret-value"}"#,
            &scrub,
        );
        let json = v.json.expect("json");
        assert_eq!(json["cursor"], "c1");
        assert_ne!(json["token"], "t0p");
        assert_ne!(json["nested"]["password"], "p");
        assert!(
            json["note"]
                .as_str()
                .is_some_and(|n| !n.contains("s3cret-value")),
            "{json}"
        );
        let big = vec![b'x'; MAX_SHOWN + 10];
        let v = StoredValue::of("k", &big, &scrub);
        assert!(v.cut && v.text.as_ref().is_some_and(|t| t.len() == MAX_SHOWN));
        assert_eq!(v.bytes, MAX_SHOWN + 10);
        assert!(namespace("\u{1f}weft/api-tokens").is_err());
    }
}
