//! What an adapter says of itself when loaded (`describe`): its operations, secrets,
//! `[config]` keys, schedules and routes. The registry checks the manifest against it; the
//! capabilities read it during calls.

use crate::bindings::guest;
use serde::Serialize;

/// One operation, as the adapter described it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperationInfo {
    /// Name.
    pub name: String,
    /// One line on what it does.
    pub description: String,
}

/// The adapter's own description (`describe`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AdapterDescription {
    /// Adapter name (the component's, not the instance's).
    pub name: String,
    /// Adapter version.
    pub version: String,
    /// Operations offered.
    pub operations: Vec<OperationInfo>,
    /// Secrets it needs.
    pub secrets: Vec<String>,
    /// The `[config]` keys it reads (empty: not declared, nothing checked).
    pub config: Vec<ConfigKey>,
    /// Schedule names it runs.
    pub schedules: Vec<String>,
    /// Inbound route names it serves.
    pub routes: Vec<String>,
}

/// One `[config]` key an adapter declares.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key.
    pub name: String,
    /// The type its value must have: string, integer, number, boolean, list, table or any.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether the manifest must give it.
    pub required: bool,
    /// What it does.
    pub description: String,
}

impl AdapterDescription {
    /// True if the adapter offers operation `op`.
    pub fn offers(&self, op: &str) -> bool {
        self.operations.iter().any(|o| o.name == op)
    }
}

impl From<guest::Description> for AdapterDescription {
    fn from(d: guest::Description) -> Self {
        AdapterDescription {
            name: d.name,
            version: d.version,
            operations: d
                .operations
                .into_iter()
                .map(|o| OperationInfo {
                    name: o.name,
                    description: o.description,
                })
                .collect(),
            secrets: d.secrets,
            config: d
                .config
                .into_iter()
                .map(|k| {
                    use crate::bindings::exports::weft::adapter::adapter::ConfigType as T;
                    ConfigKey {
                        name: k.name,
                        kind: match k.kind {
                            T::Text => "string",
                            T::Integer => "integer",
                            T::Number => "number",
                            T::Boolean => "boolean",
                            T::Array => "list",
                            T::Table => "table",
                            T::Any => "any",
                        },
                        required: k.required,
                        description: k.description,
                    }
                })
                .collect(),
            schedules: d.schedules,
            routes: d.routes,
        }
    }
}
