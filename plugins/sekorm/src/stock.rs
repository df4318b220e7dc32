//! Stock items and the document's limits on them, checked before anything is sent.

use weft_sdk::error::{detail, invalid_rows};
use weft_sdk::{AdapterError, Detail, Result, Value};

/// Longest pnCode and brandName the document allows.
const MAX_LEN: usize = 50;

/// One stock line as the platform expects it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Item {
    /// Part number.
    #[serde(rename = "pnCode")]
    pub pn_code: String,
    /// Brand name.
    #[serde(rename = "brandName")]
    pub brand_name: String,
    /// Quantity in stock: a non-negative integer.
    #[serde(rename = "stockQuantity")]
    pub stock_quantity: i64,
}

/// Checks every item against the document; all problems at once, each with its index.
pub fn validate_items(items: &[Value]) -> Result<Vec<Item>> {
    if items.is_empty() {
        return Err(AdapterError::invalid_input(
            "items: at least one item is required",
        ));
    }
    let mut problems: Vec<Detail> = Vec::new();
    let mut valid = Vec::with_capacity(items.len());
    for (i, raw) in items.iter().enumerate() {
        match validate_item(raw) {
            Ok(item) => valid.push(item),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(field, msg)| detail(Some(i), field, None, msg)),
            ),
        }
    }
    match invalid_rows("items", problems) {
        None => Ok(valid),
        Some(e) => Err(e),
    }
}

type Problems = Vec<(Option<&'static str>, String)>;

fn validate_item(raw: &Value) -> std::result::Result<Item, Problems> {
    let Some(obj) = raw.as_object() else {
        return Err(vec![(
            None,
            "expected an object with pnCode, brandName and stockQuantity".into(),
        )]);
    };
    let mut problems: Problems = Vec::new();
    for key in obj.keys() {
        if !matches!(key.as_str(), "pnCode" | "brandName" | "stockQuantity") {
            problems.push((None, format!("unknown field {key:?}")));
        }
    }
    let pn_code = text(obj.get("pnCode"), "pnCode", &mut problems);
    let brand_name = text(obj.get("brandName"), "brandName", &mut problems);
    let stock_quantity = match obj.get("stockQuantity") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(q) if (0..=i64::from(i32::MAX)).contains(&q) => Some(q),
            Some(q) => {
                problems.push((
                    Some("stockQuantity"),
                    format!("expected 0..=2147483647, found {q}"),
                ));
                None
            }
            None => {
                problems.push((
                    Some("stockQuantity"),
                    format!("expected an integer, found {n}"),
                ));
                None
            }
        },
        Some(other) => {
            problems.push((
                Some("stockQuantity"),
                format!("expected an integer, found {other}"),
            ));
            None
        }
        None => {
            problems.push((Some("stockQuantity"), "is required".into()));
            None
        }
    };
    match (pn_code, brand_name, stock_quantity) {
        (Some(pn_code), Some(brand_name), Some(stock_quantity)) if problems.is_empty() => {
            Ok(Item {
                pn_code,
                brand_name,
                stock_quantity,
            })
        }
        _ => Err(problems),
    }
}

fn text(value: Option<&Value>, field: &'static str, problems: &mut Problems) -> Option<String> {
    match value {
        Some(Value::String(s)) if s.trim().is_empty() => {
            problems.push((Some(field), "must not be empty".into()));
            None
        }
        Some(Value::String(s)) if s.chars().count() > MAX_LEN => {
            problems.push((
                Some(field),
                format!("at most {MAX_LEN} characters, found {}", s.chars().count()),
            ));
            None
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            problems.push((Some(field), "must not contain control characters".into()));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problems.push((Some(field), format!("expected a string, found {other}")));
            None
        }
        None => {
            problems.push((Some(field), "is required".into()));
            None
        }
    }
}
