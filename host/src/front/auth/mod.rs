//! Who may use the front door: API tokens with scopes, and the checks every control-plane
//! request passes before any handler runs — the `Host` header (DNS rebinding), the `Origin`
//! header (cross-site requests from a browser), the body's content type (a form or `text/plain`
//! body, which a browser sends cross-site without asking, never reaches an operation), then the
//! bearer token and its scope.
//!
//! Tokens look like `weft_<id>_<secret>`. Only a SHA-256 of the secret is stored (the secret is
//! 256 random bits, so a hash cannot be reversed by guessing), under the host's own store
//! namespace, which no adapter name can spell. Comparison is in constant time.
//!
//! `/healthz`, `/readyz` and the adapters' `/inbound/…` routes (which have their own per-route
//! auth) are outside these checks; `/metrics` is open unless the server asks for a read scope.

mod guard;

pub use guard::Access;
pub(crate) use guard::{Caller, Guard, guard};

use crate::operations::{Operations, Records, StoreError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What an API token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything: reload, retry, cancel, run-now, and what `read` and `invoke` allow.
    Admin,
    /// Status, jobs, schedules, metrics.
    Read,
    /// Run operations of every adapter.
    Invoke,
    /// Run operations of one adapter.
    InvokeAdapter(String),
}

impl Scope {
    /// Parses `admin`, `read`, `invoke` or `invoke:ADAPTER`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "read" => Some(Self::Read),
            "invoke" => Some(Self::Invoke),
            _ => text
                .strip_prefix("invoke:")
                .filter(|a| !a.is_empty())
                .map(|a| Self::InvokeAdapter(a.to_string())),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Admin => f.write_str("admin"),
            Self::Read => f.write_str("read"),
            Self::Invoke => f.write_str("invoke"),
            Self::InvokeAdapter(a) => write!(f, "invoke:{a}"),
        }
    }
}

/// An API token as stored (without its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id, the middle part of the token.
    pub id: String,
    /// What the operator called it.
    pub name: String,
    /// Scopes, as `admin`, `read`, `invoke`, `invoke:ADAPTER`.
    pub scopes: Vec<String>,
    /// Created, Unix ms.
    pub created_at_ms: i64,
    /// SHA-256 of the secret, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    hash: String,
}

impl ApiToken {
    /// True if the token's scopes allow `need`.
    pub fn allows(&self, need: &Need) -> bool {
        let scopes: Vec<Scope> = self.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        if scopes.contains(&Scope::Admin) {
            return true;
        }
        match need {
            Need::Admin => false,
            Need::Read => scopes.contains(&Scope::Read),
            Need::Invoke(adapter) => scopes.iter().any(|s| match s {
                Scope::Invoke => true,
                Scope::InvokeAdapter(a) => a == adapter,
                _ => false,
            }),
        }
    }

    /// The token without its hash, for listings.
    pub fn public(&self) -> Self {
        Self {
            hash: String::new(),
            ..self.clone()
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// An admin scope.
    Admin,
    /// A read scope.
    Read,
    /// An invoke scope for this adapter.
    Invoke(String),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Admin => f.write_str("admin"),
            Self::Read => f.write_str("read"),
            Self::Invoke(a) => write!(f, "invoke:{a}"),
        }
    }
}

/// Why a token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A scope is not one of `admin`, `read`, `invoke`, `invoke:ADAPTER`.
    #[error("unknown scope {0:?}: expected admin, read, invoke or invoke:ADAPTER")]
    Scope(String),
    /// A stored token is not readable.
    #[error("stored token {0} is corrupt")]
    Corrupt(String),
}

/// How long a verified token is taken without asking the store again: a revocation on
/// another node is seen within this time.
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a verified token is still taken while the store cannot be asked (a store
/// outage must not turn away every caller whose token was good a moment ago).
const STALE: std::time::Duration = std::time::Duration::from_secs(300);
/// Verified tokens kept in memory at most.
const CACHED: usize = 4096;

struct Verified {
    token: ApiToken,
    checked: std::time::Instant,
}

/// The API tokens of a deployment, kept in its store (so every node of a cluster knows them),
/// with the tokens verified lately held in memory, keyed by a hash of the presented value.
#[derive(Clone)]
pub struct ApiTokens {
    records: Records,
    verified: Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Verified>>>,
    /// Until when the store is taken to be failing (its last token read failed): verified
    /// tokens are taken from memory without asking it, so that an outage costs one caller a
    /// wait each second, not every caller.
    failing_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl ApiTokens {
    /// The tokens of the deployment `ops` works on.
    pub fn new(ops: &Operations) -> Self {
        Self {
            records: ops.records(crate::operations::host_namespace::API_TOKENS),
            verified: Arc::default(),
            failing_until: Arc::default(),
        }
    }

    /// Creates a token; answers it and the plain value, which is never stored or shown again.
    pub async fn create(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiToken, String), TokenStoreError> {
        for s in scopes {
            if Scope::parse(s).is_none() {
                return Err(TokenStoreError::Scope(s.clone()));
            }
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let id = hex::encode(id);
        let secret = hex::encode(secret);
        let token = ApiToken {
            id: id.clone(),
            name: name.to_string(),
            scopes: scopes.to_vec(),
            created_at_ms: crate::clock::now_ms(),
            hash: hash(&secret),
        };
        let value = serde_json::to_vec(&token).map_err(|_| TokenStoreError::Corrupt(id.clone()))?;
        self.records.set(&id, &value).await?;
        Ok((token, format!("weft_{id}_{secret}")))
    }

    /// Every token, without hashes.
    pub async fn list(&self) -> Result<Vec<ApiToken>, TokenStoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let keys = self.records.keys("", after.as_deref(), 1000).await?;
            if keys.is_empty() {
                break;
            }
            for key in &keys {
                if let Some(t) = self.get(key).await? {
                    out.push(t.public());
                }
            }
            after = keys.last().cloned();
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        match self.records.get(id).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| TokenStoreError::Corrupt(id.to_string())),
        }
    }

    /// Token `id` as stored, if it exists (a console session checks its token this way on
    /// every request, so that revoking the token ends the session).
    pub async fn find(&self, id: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        self.get(id).await
    }

    /// Revokes token `id`; false if there is none.
    pub async fn revoke(&self, id: &str) -> Result<bool, TokenStoreError> {
        let gone = self.records.delete(id).await?;
        if let Ok(mut v) = self.verified.lock() {
            v.retain(|_, entry| entry.token.id != id);
        }
        Ok(gone)
    }

    /// True if any token exists.
    pub async fn any(&self) -> Result<bool, TokenStoreError> {
        Ok(!self.records.keys("", None, 1).await?.is_empty())
    }

    /// The token `presented` is, if it is a valid one. A token verified within the last
    /// second is taken from memory; after that the store is asked again, and if it cannot
    /// answer, a token it vouched for within five minutes is still taken. Refusals are never
    /// cached: an unknown or revoked token is looked up every time.
    pub async fn verify(&self, presented: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        let key: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let cached = self
            .verified
            .lock()
            .ok()
            .and_then(|v| v.get(&key).map(|e| (e.token.clone(), e.checked.elapsed())));
        let failing = self
            .failing_until
            .lock()
            .ok()
            .and_then(|f| *f)
            .is_some_and(|until| std::time::Instant::now() < until);
        if let Some((token, age)) = &cached
            && (*age < FRESH || (failing && *age < STALE))
        {
            return Ok(Some(token.clone()));
        }
        match self.verify_in_store(presented).await {
            Ok(Some(token)) => {
                if let Ok(mut v) = self.verified.lock() {
                    if v.len() >= CACHED {
                        v.retain(|_, e| e.checked.elapsed() < FRESH);
                        if v.len() >= CACHED {
                            v.clear();
                        }
                    }
                    v.insert(
                        key,
                        Verified {
                            token: token.clone(),
                            checked: std::time::Instant::now(),
                        },
                    );
                }
                Ok(Some(token))
            }
            Ok(None) => {
                if let Ok(mut v) = self.verified.lock() {
                    v.remove(&key);
                }
                Ok(None)
            }
            Err(e) => {
                if let Ok(mut f) = self.failing_until.lock() {
                    *f = Some(std::time::Instant::now() + FRESH);
                }
                match cached {
                    Some((token, age)) if age < STALE => {
                        tracing::debug!(token = %token.id, "the store cannot verify tokens now ({e}); taking one it verified {age:?} ago");
                        Ok(Some(token))
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn verify_in_store(&self, presented: &str) -> Result<Option<ApiToken>, TokenStoreError> {
        let Some((id, secret)) = presented
            .strip_prefix("weft_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(token) = self.get(id).await? else {
            return Ok(None);
        };
        let given = hash(secret);
        Ok(bool::from(given.as_bytes().ct_eq(token.hash.as_bytes())).then_some(token))
    }
}
