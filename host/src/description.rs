//! What an adapter says of itself when loaded (`describe`): its operations, secrets,
//! `[config]` keys, schedules and routes. The registry checks the manifest against it; the
//! capabilities read it during calls.

use crate::bindings::guest;
use serde::Serialize;
use serde_json::Value;

/// One operation, as the adapter described it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperationInfo {
    /// Name.
    pub name: String,
    /// One line on what it does.
    pub description: String,
}

/// The adapter's own description (`describe`).
#[derive(Debug, Clone, Serialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, PartialEq)]
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
    /// The value taken when the manifest gives none (the adapter sees it in `[config]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The least a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// The greatest a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// The values a string may take (empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl ConfigKey {
    /// What is wrong with `value` for this key (its type, range or choices), if anything.
    pub fn refuses(&self, value: &Value) -> Option<String> {
        let fits = match self.kind {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "list" => value.is_array(),
            "table" => value.is_object(),
            _ => true,
        };
        if !fits {
            return Some(format!("expected {}, found {value}", self.expected()));
        }
        if let Some(n) = value.as_f64()
            && (self.minimum.is_some_and(|m| n < m) || self.maximum.is_some_and(|m| n > m))
        {
            return Some(format!("expected {}, found {value}", self.expected()));
        }
        if let Some(text) = value.as_str()
            && !self.choices.is_empty()
            && !self.choices.iter().any(|c| c == text)
        {
            return Some(format!("expected {}, found {value}", self.expected()));
        }
        None
    }

    /// What a value must be, in words: "an integer from 1 to 500", "one of \"GET\", \"POST\"".
    pub fn expected(&self) -> String {
        if !self.choices.is_empty() {
            let choices: Vec<String> = self.choices.iter().map(|c| format!("{c:?}")).collect();
            return format!("one of {}", choices.join(", "));
        }
        let kind = match self.kind {
            "integer" => "an integer",
            "number" => "a number",
            "string" => "a string",
            "boolean" => "a boolean",
            "list" => "a list",
            "table" => "a table",
            _ => "any value",
        };
        format!("{kind}{}", self.bounds())
    }

    fn bounds(&self) -> String {
        match (self.minimum, self.maximum) {
            (Some(lo), Some(hi)) => format!(" from {lo} to {hi}"),
            (Some(lo), None) => format!(" of at least {lo}"),
            (None, Some(hi)) => format!(" of at most {hi}"),
            (None, None) => String::new(),
        }
    }
}

/// `[config]` as the adapter reads it: the manifest's values, and each declared default the
/// manifest leaves out (so that no adapter writes its defaults a second time).
#[derive(Debug, Clone, Default)]
pub struct EffectiveConfig {
    /// The table.
    pub value: Value,
    /// The same as JSON text, rendered once.
    pub json: String,
}

impl EffectiveConfig {
    /// `given` (the manifest's `[config]`) completed with the defaults of `keys`.
    pub fn of(given: &Value, keys: &[ConfigKey]) -> Self {
        let mut value = given.clone();
        if let Value::Object(table) = &mut value {
            for k in keys {
                if let Some(d) = &k.default
                    && !table.contains_key(&k.name)
                {
                    table.insert(k.name.clone(), d.clone());
                }
            }
        }
        let json = value.to_string();
        Self { value, json }
    }
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
                        // A default that is not JSON is taken as the text it is.
                        default: k
                            .default
                            .map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))),
                        minimum: k.minimum,
                        maximum: k.maximum,
                        choices: k.choices,
                    }
                })
                .collect(),
            schedules: d.schedules,
            routes: d.routes,
        }
    }
}
