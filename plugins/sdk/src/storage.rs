//! The adapter instance's own key-value namespace, with JSON helpers.

use crate::AdapterError;
use crate::bindings::weft::adapter::storage as wit;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn err(e: wit::StorageError) -> AdapterError {
    match e {
        wit::StorageError::InvalidKey(m) => {
            AdapterError::invalid_input(format!("storage key: {m}"))
        }
        wit::StorageError::TooLarge(m) => {
            AdapterError::invalid_input(format!("storage value: {m}"))
        }
        wit::StorageError::Unavailable(m) => AdapterError::transient_code("storage", m),
    }
}

/// Reads raw bytes.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, AdapterError> {
    wit::get(key).map_err(err)
}

/// Writes raw bytes.
pub fn set(key: &str, value: &[u8]) -> Result<(), AdapterError> {
    wit::set(key, value).map_err(err)
}

/// Deletes a key; true if it existed.
pub fn delete(key: &str) -> Result<bool, AdapterError> {
    wit::delete(key).map_err(err)
}

/// Reads and parses a JSON value.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, AdapterError> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            AdapterError::transient(format!("stored value {key:?} is not valid: {e}"))
        }),
    }
}

/// Serialises and writes a JSON value.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), AdapterError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| AdapterError::invalid_input(format!("value for {key:?}: {e}")))?;
    set(key, &bytes)
}

/// Every key under `prefix`, paging through the host's list until the end.
pub fn list_all(prefix: &str) -> Result<Vec<String>, AdapterError> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list_keys(prefix, after.as_deref(), 1000)?;
        let done = page.len() < 1000;
        after = page.last().cloned();
        keys.extend(page);
        if done {
            return Ok(keys);
        }
    }
}

/// Swaps `key` from `expected` to `new` atomically; true if it happened.
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<bool, AdapterError> {
    wit::compare_and_swap(key, expected, new).map_err(err)
}

/// One page of keys under `prefix`, in byte order, after `start_after` if given (the host caps
/// `limit` at 1000).
pub fn list_keys(
    prefix: &str,
    start_after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, AdapterError> {
    wit::list_keys(prefix, start_after, limit).map_err(err)
}
