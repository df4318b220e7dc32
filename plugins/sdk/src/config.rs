//! The manifest's `[config]` table and secrets.

use crate::AdapterError;
use crate::bindings::weft::adapter::config as wit;
use serde::de::DeserializeOwned;

/// The whole `[config]` table parsed into `T`; a mismatch names the key.
pub fn typed<T: DeserializeOwned>() -> Result<T, AdapterError> {
    serde_json::from_str(&wit::all())
        .map_err(|e| AdapterError::invalid_input(format!("manifest [config]: {e}")))
}

/// One `[config]` value: strings as they are, others as JSON.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// The path of operation `op`: the manifest's `[config.paths]` entry, else the adapter's
/// `default`; neither is an error naming the operation.
pub fn op_path(
    paths: &std::collections::BTreeMap<String, String>,
    op: &str,
    default: Option<&str>,
) -> Result<String, AdapterError> {
    paths
        .get(op)
        .cloned()
        .or_else(|| default.map(str::to_string))
        .ok_or_else(|| {
            AdapterError::invalid_input(format!("manifest [config.paths] has no path for {op:?}"))
        })
}

/// A secret from `[secrets]`; its absence is a manifest error naming the secret.
pub fn secret(name: &str) -> Result<String, AdapterError> {
    wit::secret(name).ok_or_else(|| {
        AdapterError::invalid_input(format!("manifest [secrets] has no secret named {name:?}"))
    })
}
