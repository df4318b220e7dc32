//! Secrets at rest: the store key, token grants sealed with an AEAD before they reach the
//! store, and keyed fingerprints that a reader of the database cannot test guesses against.
//!
//! One 32-byte key, given by the operator (`WEFT_STORE_KEY`) or, for the embedded store only,
//! made once in the data folder. Each use gets its own subkey (HMAC of the key and a label) so
//! that no key serves two algorithms.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;

/// Why the store key could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key text is not 32 bytes in hex or base64, or its source could not be read.
    #[error("store key: {0}")]
    Key(String),
    /// A sealed value did not open: another key sealed it, or it was altered.
    #[error(
        "a sealed value did not open with this store key (sealed with another key, or altered)"
    )]
    Open,
}

/// Prefix of sealed values: the format version, so that another scheme can follow.
const SEALED: &str = "v1.";

/// The store key and its subkeys.
#[derive(Clone)]
pub struct StoreKey {
    seal: XChaCha20Poly1305,
    fingerprint: [u8; 32],
    cache: [u8; 32],
    check: [u8; 32],
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(master: [u8; 32]) -> Self {
        let seal_key = derive(&master, "weft/seal/v1");
        Self {
            seal: XChaCha20Poly1305::new((&seal_key).into()),
            fingerprint: derive(&master, "weft/credentials-fingerprint/v1"),
            cache: derive(&master, "weft/compiled-cache/v1"),
            check: derive(&master, "weft/key-check/v1"),
        }
    }

    /// A fresh random key, as text fit for `WEFT_STORE_KEY` (64 hex digits).
    pub fn generate_text() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// Parses key text: 64 hex digits or the base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| SealError::Key(e.to_string()))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    SealError::Key(
                        "expected 64 hex digits or the base64 of 32 bytes (make one with `weft keygen`)"
                            .into(),
                    )
                })?
        };
        let master: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            SealError::Key(format!(
                "a key is 32 bytes, this one is {} (make one with `weft keygen`)",
                b.len()
            ))
        })?;
        Ok(Self::from_bytes(master))
    }

    /// The key from `source` (`env:NAME`, `file:PATH` or the key itself); without one, the
    /// embedded store keeps its own in `DATA/store-key` (made on first use, mode 0600), and a
    /// shared store is refused: its nodes must all be given the same key.
    pub fn resolve(source: Option<&str>, data: &Path, shared: bool) -> Result<Self, SealError> {
        match source.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.starts_with("env:") => {
                let name = &s["env:".len()..];
                let value = std::env::var(name).map_err(|_| {
                    SealError::Key(format!("environment variable {name} is not set"))
                })?;
                Self::parse(&value)
            }
            Some(s) if s.starts_with("file:") => {
                let path = Path::new(&s["file:".len()..]);
                Self::parse(&read_key_file(path)?)
            }
            Some(s) => Self::parse(s),
            None if shared => Err(SealError::Key(
                "a shared store needs WEFT_STORE_KEY (or --store-key), the same on every node: tokens are sealed with it (make one with `weft keygen`)"
                    .into(),
            )),
            None => Self::embedded(data),
        }
    }

    fn embedded(data: &Path) -> Result<Self, SealError> {
        let path = data.join("store-key");
        if path.exists() {
            return Self::parse(&read_key_file(&path)?);
        }
        let text = Self::generate_text();
        match write_private(&path, &text) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "made a store key for the embedded store");
                Self::parse(&text)
            }
            // Another process starting on the same new folder made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::parse(&read_key_file(&path)?)
            }
            Err(e) => Err(SealError::Key(format!(
                "cannot write {}: {e}",
                path.display()
            ))),
        }
    }

    /// Seals `plain`, bound to `context` (e.g. adapter and scope: a sealed value copied to
    /// another row does not open there).
    pub fn seal(&self, context: &[&str], plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = context.join("\u{1f}");
        let sealed = self
            .seal
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_else(|_| {
                unreachable!("XChaCha20-Poly1305 seals any message that fits in memory")
            });
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Opens what [`StoreKey::seal`] made with the same `context`.
    pub fn open(&self, context: &[&str], sealed: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(SEALED)
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(b)
                    .ok()
            })
            .filter(|b| b.len() > 24)
            .ok_or(SealError::Open)?;
        let (nonce, body) = bytes.split_at(24);
        let aad = context.join("\u{1f}");
        let plain = self
            .seal
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }

    /// A keyed fingerprint of `parts` (hex, 96 bits): equal parts, equal fingerprints, and
    /// without the key nobody can test a guess against one.
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        hex::encode(&hmac(&self.fingerprint, parts)[..12])
    }

    /// The MAC of a compiled-cache file under the cache subkey, over its name and bytes.
    pub fn cache_mac(&self, name: &str, bytes: &[u8]) -> [u8; 32] {
        hmac(&self.cache, &[name.as_bytes(), bytes])
    }

    /// What the store keeps to tell whether a process was given the key it was set up with.
    pub fn check_value(&self) -> Vec<u8> {
        hex::encode(hmac(&self.check, &[b"weft store key"])).into_bytes()
    }
}

/// Reads a key file: a regular file of at most 64 KiB; one others may read is used with a
/// warning, as `file:` secrets are.
fn read_key_file(path: &Path) -> Result<String, SealError> {
    let bytes = crate::files::read_regular(path, crate::files::MAX_SECRET)
        .map_err(|e| SealError::Key(format!("{}: {e}", path.display())))?;
    if crate::files::readable_by_others(path) {
        tracing::warn!(path = %path.display(), "the store key file may be read by its group or by everyone: chmod 600 it");
    }
    String::from_utf8(bytes).map_err(|_| SealError::Key(format!("{}: not UTF-8", path.display())))
}

/// Writes `text` to a new file only its owner may read.
/// Writes `text` to `path` only if nothing is there, and whole: it is written to a private
/// file beside it first and then linked into place, so a process that finds the file finds
/// all of it, and of two processes making it at once one wins (`AlreadyExists` for the other).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let staging = path.with_extension(format!("new-{}", hex::encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&staging)?;
        file.write_all(format!("{text}\n").as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&staging, path)
    })();
    let _ = std::fs::remove_file(&staging);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = StoreKey::parse(&StoreKey::generate_text()).expect("key");
        let other = StoreKey::parse(&StoreKey::generate_text()).expect("key");
        let sealed = key.seal(&["sekorm", ""], "tok-123");
        assert!(!sealed.contains("tok-123"));
        assert_eq!(
            key.open(&["sekorm", ""], &sealed).expect("opens"),
            "tok-123"
        );
        assert!(key.open(&["lenovo", ""], &sealed).is_err());
        assert!(other.open(&["sekorm", ""], &sealed).is_err());
        assert!(key.open(&["sekorm", ""], "tok-123").is_err());
        assert_ne!(
            sealed,
            key.seal(&["sekorm", ""], "tok-123"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn key_text_is_checked() {
        assert!(StoreKey::parse("short").is_err());
        assert!(StoreKey::parse(&"ab".repeat(31)).is_err());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let a = StoreKey::parse(&b64).expect("base64");
        let b = StoreKey::parse(&hex::encode([7u8; 32])).expect("hex");
        assert_eq!(a.fingerprint(&[b"x"]), b.fingerprint(&[b"x"]));
        assert_ne!(a.fingerprint(&[b"ab", b"c"]), a.fingerprint(&[b"a", b"bc"]));
    }
}
