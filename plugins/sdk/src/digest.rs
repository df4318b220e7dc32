//! Digests computed by the host, natively (the sandbox has no SHA instructions): worth it for
//! fingerprints over large inputs; for a few bytes either way costs microseconds.

use crate::AdapterError;
use crate::bindings::weft::adapter::digest as wit;

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Result<[u8; 32], AdapterError> {
    let digest = wit::sha256(data);
    <[u8; 32]>::try_from(digest.as_slice()).map_err(|_| {
        AdapterError::transient(format!(
            "the host's SHA-256 answered {} bytes, not 32",
            digest.len()
        ))
    })
}
