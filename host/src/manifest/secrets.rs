//! Secret references (`env:NAME`, `file:PATH`), resolved at load and never shown.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file's content, trailing newline removed (relative paths from the manifest's folder).
    File(PathBuf),
}

impl SecretRef {
    /// Parses a reference; a literal value is refused, so secrets never sit in manifests.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("env:") {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Ok(Self::Env(name.to_string()));
            }
        } else if let Some(path) = text.strip_prefix("file:")
            && !path.is_empty()
        {
            return Ok(Self::File(PathBuf::from(path)));
        }
        // The text may be a pasted secret: never echo it.
        Err("expected a secret reference such as \"env:SEKORM_APP_SECRET\" or \"file:/run/secrets/sekorm\" (the value given is not shown)".into())
    }

    /// Reads the secret's value.
    pub fn resolve(
        &self,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SecretValue, String> {
        match self {
            Self::Env(name) => env(name)
                .filter(|v| !v.is_empty())
                .map(SecretValue::new)
                .ok_or_else(|| format!("environment variable {name} is not set")),
            Self::File(path) => {
                let full = base.join(path);
                let bytes = crate::files::read_regular(&full, crate::files::MAX_SECRET)
                    .map_err(|e| format!("cannot read secret file {}: {e}", full.display()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("secret file {} is not UTF-8 text", full.display()))?;
                if crate::files::readable_by_others(&full) {
                    // As ssh does for keys, though only as a warning: a mounted secret (a
                    // Kubernetes volume) is often group-readable on purpose.
                    tracing::warn!(file = %full.display(), "secret file is readable by its group or everyone: chmod 600 it");
                }
                let value = text.trim_end_matches(['\n', '\r']).to_string();
                if value.is_empty() {
                    return Err(format!("secret file {} is empty", full.display()));
                }
                Ok(SecretValue::new(value))
            }
        }
    }
}

/// A secret's value: shown as `[redacted]` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<str>);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the adapter's `config.secret` and for redaction only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
