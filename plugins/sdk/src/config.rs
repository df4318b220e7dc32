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

/// An optional secret from `[secrets]`: `None` when the manifest gives none (describe lists
/// only the secrets an adapter requires).
pub fn secret_opt(name: &str) -> Option<String> {
    wit::secret(name)
}

/// A secret from `[secrets]`; its absence is a manifest error naming the secret.
pub fn secret(name: &str) -> Result<String, AdapterError> {
    wit::secret(name).ok_or_else(|| {
        AdapterError::invalid_input(format!("manifest [secrets] has no secret named {name:?}"))
    })
}

/// One `[config]` key, declared once: its type, its default, its bounds or choices, and what it
/// does. The host checks the manifest's value against it at load (so `weft check` refuses
/// `chunk_size = 0` or an unknown mode, naming the key and what it takes) and hands the adapter
/// the default when the manifest gives none: the adapter's config struct needs no defaults of
/// its own, and [`typed`] reads it whole.
#[derive(Debug, Clone)]
pub struct Key(crate::ConfigKey);

impl Key {
    fn of(name: &str, kind: crate::ConfigType, description: &str) -> Self {
        Self(crate::ConfigKey {
            name: name.to_string(),
            kind,
            required: false,
            description: description.to_string(),
            default: None,
            minimum: None,
            maximum: None,
            choices: Vec::new(),
        })
    }

    /// A string.
    pub fn text(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Text, description)
    }

    /// An integer.
    pub fn integer(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Integer, description)
    }

    /// Any number.
    pub fn number(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Number, description)
    }

    /// true or false.
    pub fn boolean(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Boolean, description)
    }

    /// A list.
    pub fn list(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Array, description)
    }

    /// A table.
    pub fn table(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Table, description)
    }

    /// Any value.
    pub fn any(name: &str, description: &str) -> Self {
        Self::of(name, crate::ConfigType::Any, description)
    }

    /// The manifest must give it.
    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }

    /// The value taken when the manifest gives none.
    pub fn default(mut self, value: impl serde::Serialize) -> Self {
        self.0.default = serde_json::to_string(&value).ok();
        self
    }

    /// A number from `min` to `max`, both included.
    pub fn range(self, min: impl Into<f64>, max: impl Into<f64>) -> Self {
        self.at_least(min).at_most(max)
    }

    /// A number of at least `min`.
    pub fn at_least(mut self, min: impl Into<f64>) -> Self {
        self.0.minimum = Some(min.into());
        self
    }

    /// A number of at most `max`.
    pub fn at_most(mut self, max: impl Into<f64>) -> Self {
        self.0.maximum = Some(max.into());
        self
    }

    /// A string that is one of `choices`.
    pub fn one_of(mut self, choices: &[&str]) -> Self {
        self.0.choices = choices.iter().map(|c| c.to_string()).collect();
        self
    }

    /// The key as the contract carries it.
    pub fn into_wit(self) -> crate::ConfigKey {
        self.0
    }
}
