//! The `digest` interface: SHA-256 computed natively for adapters. Inside the sandbox the same
//! code runs without the CPU's SHA instructions, and a batch fingerprint over 100,000 rows was
//! a sixth of Lenovo's time before its first request (BENCHMARKS.md, "Bulk").

use crate::bindings::digest;
use sha2::{Digest, Sha256};

/// What the `digest` interface sees of a call: nothing; it computes and forgets.
pub struct DigestView;

impl digest::Host for DigestView {
    async fn sha256(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        Ok(Sha256::digest(&data).to_vec())
    }
}
