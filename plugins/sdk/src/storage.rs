//! The adapter instance's own key-value namespace, with JSON helpers, keys that expire, and
//! a "latest wins" write.

use crate::AdapterError;
use crate::bindings::weft::adapter::storage as wit;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How often [`latest_wins`] tries again when another writer swapped the key first.
const LATEST_WINS_TRIES: usize = 16;

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

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

/// Writes raw bytes that expire after `ttl`: from then on the key is absent to every read,
/// and the host deletes it. For markers and logs that would otherwise need a sweep.
pub fn set_expiring(key: &str, value: &[u8], ttl: Duration) -> Result<(), AdapterError> {
    wit::set_expiring(key, value, ttl_ms(ttl)).map_err(err)
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
    set(key, &json_of(key, value)?)
}

fn json_of<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, AdapterError> {
    serde_json::to_vec(value)
        .map_err(|e| AdapterError::invalid_input(format!("value for {key:?}: {e}")))
}

/// [`set_json`], the value expiring after `ttl` (see [`set_expiring`]).
pub fn set_json_expiring<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<(), AdapterError> {
    set_expiring(key, &json_of(key, value)?, ttl)
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

/// [`compare_and_swap`] writing `new`, which expires after `ttl`. With `expected` `None` it
/// creates a marker only where none is live: "remember this for a week, once".
pub fn compare_and_swap_expiring(
    key: &str,
    expected: Option<&[u8]>,
    new: &[u8],
    ttl: Duration,
) -> Result<bool, AdapterError> {
    wit::compare_and_swap_expiring(key, expected, new, ttl_ms(ttl)).map_err(err)
}

/// Writes `value` as JSON to `key` unless what is stored there is at least as new, by
/// `order` (a version, an `updated_at`): deliveries that arrive out of order, or twice, leave
/// the newest. Safe against writers on other nodes (a compare-and-swap, tried again when one
/// of them wrote in between). True if `value` was written.
///
/// ```ignore
/// // A platform's webhook may deliver an older version of an order after a newer one.
/// storage::latest_wins(&format!("orders/{}", order.id), &order, |o| o.version)?;
/// ```
pub fn latest_wins<T, K>(
    key: &str,
    value: &T,
    order: impl Fn(&T) -> K,
) -> Result<bool, AdapterError>
where
    T: Serialize + DeserializeOwned,
    K: Ord,
{
    let bytes = json_of(key, value)?;
    let mine = order(value);
    for _ in 0..LATEST_WINS_TRIES {
        let stored = get(key)?;
        if let Some(raw) = &stored {
            // A value this adapter cannot read any more is replaced rather than kept forever.
            if let Ok(theirs) = serde_json::from_slice::<T>(raw)
                && order(&theirs) >= mine
            {
                return Ok(false);
            }
        }
        if compare_and_swap(key, stored.as_deref(), Some(&bytes))? {
            return Ok(true);
        }
    }
    Err(AdapterError::transient_code(
        "storage",
        format!("{key:?} kept changing under {LATEST_WINS_TRIES} tries of a latest-wins write"),
    ))
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
