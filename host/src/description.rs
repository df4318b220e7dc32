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

impl AdapterDescription {
    /// Every way `manifest` differs from what the adapter declares it reads: `[config]` keys it
    /// does not know (typos) or lacks, values of the wrong type, out of range or not among the
    /// choices, defaults the adapter's own bounds refuse, schedules and routes it does not run. Each is (key, what is wrong); all of them, not the first.
    pub fn problems_with(&self, manifest: &crate::manifest::Manifest) -> Vec<(String, String)> {
        let d = self;
        let mut problems = Vec::new();
        let who = format!("adapter {} {}", d.name, d.version);
        if !d.config.is_empty() {
            let given = manifest.config.as_object().cloned().unwrap_or_default();
            let known: Vec<&str> = d.config.iter().map(|k| k.name.as_str()).collect();
            for (key, value) in &given {
                // `base_url` is the manifest's own key, handed to every adapter.
                if key == "base_url" {
                    continue;
                }
                let Some(declared) = d.config.iter().find(|k| k.name == *key) else {
                    let near = known
                        .iter()
                        .find(|k| similar(k, key))
                        .map(|k| format!(" (did you mean {k:?}?)"))
                        .unwrap_or_default();
                    problems.push((
                        format!("config.{key}"),
                        format!(
                            "{who} reads no such key{near}; it reads {}",
                            known.join(", ")
                        ),
                    ));
                    continue;
                };
                if let Some(why) = declared.refuses(value) {
                    problems.push((format!("config.{key}"), why));
                }
            }
            // The adapter's own defaults are checked too: a default its own bounds refuse is the
            // adapter's bug, said at load rather than met at a call.
            for k in &d.config {
                if let Some(why) = k.default.as_ref().and_then(|v| k.refuses(v)) {
                    problems.push((
                        format!("config.{}", k.name),
                        format!("{who} declares a default it refuses itself: {why}"),
                    ));
                }
            }
            for k in d.config.iter().filter(|k| k.required) {
                if !given.contains_key(&k.name) {
                    problems.push((
                        format!("config.{}", k.name),
                        format!("required by {who}: {}", k.description),
                    ));
                }
            }
        }
        for s in manifest
            .schedules
            .iter()
            .filter(|_| !d.schedules.is_empty())
        {
            if !d.schedules.contains(&s.name) {
                problems.push((
                    "schedules".into(),
                    format!(
                        "{who} runs no schedule {:?} (it runs: {})",
                        s.name,
                        d.schedules.join(", ")
                    ),
                ));
            }
        }
        for r in manifest.routes.iter().filter(|_| !d.routes.is_empty()) {
            if !d.routes.contains(&r.name) {
                problems.push((
                    "routes".into(),
                    format!(
                        "{who} serves no route {:?} (it serves: {})",
                        r.name,
                        d.routes.join(", ")
                    ),
                ));
            }
        }
        problems
    }
}

/// Two keys one typo apart (one letter added, dropped, changed, or two swapped).
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = row;
    }
    prev[b.len()] <= 2
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: &'static str) -> ConfigKey {
        ConfigKey {
            name: "k".into(),
            kind,
            required: false,
            description: String::new(),
            default: None,
            minimum: None,
            maximum: None,
            choices: Vec::new(),
        }
    }

    #[test]
    fn a_value_is_refused_for_its_type_bounds_or_choices_and_the_refusal_says_what_fits() {
        let size = ConfigKey {
            minimum: Some(1.0),
            maximum: Some(500.0),
            ..key("integer")
        };
        assert_eq!(size.refuses(&json!(1)), None);
        assert_eq!(size.refuses(&json!(500)), None);
        assert_eq!(
            size.refuses(&json!(0)).as_deref(),
            Some("expected an integer from 1 to 500, found 0")
        );
        assert_eq!(
            size.refuses(&json!(2.5)).as_deref(),
            Some("expected an integer from 1 to 500, found 2.5")
        );
        let mode = ConfigKey {
            choices: vec!["json".into(), "xml".into()],
            ..key("string")
        };
        assert_eq!(mode.refuses(&json!("xml")), None);
        assert_eq!(
            mode.refuses(&json!("yaml")).as_deref(),
            Some("expected one of \"json\", \"xml\", found \"yaml\"")
        );
        assert_eq!(key("any").refuses(&json!({"a": 1})), None);
    }

    #[test]
    fn defaults_fill_only_what_the_manifest_leaves_out() {
        let keys = [
            ConfigKey {
                name: "size".into(),
                default: Some(json!(100)),
                ..key("integer")
            },
            ConfigKey {
                name: "mode".into(),
                default: Some(json!("json")),
                ..key("string")
            },
        ];
        let config = EffectiveConfig::of(&json!({"size": 7, "base_url": "u"}), &keys);
        assert_eq!(
            config.value,
            json!({"size": 7, "mode": "json", "base_url": "u"})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&config.json).ok(),
            Some(config.value)
        );
    }
}
