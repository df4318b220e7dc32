//! XML as JSON: many platforms accept or answer XML beside JSON, and an adapter is simpler when
//! it reads both into one shape. Only what such payloads use: elements, text, CDATA and
//! character references; attributes, comments and processing instructions are skipped.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// Reads an XML document into (root name, JSON): an element with children becomes an object
/// (repeated names become arrays), a text-only element a string.
pub fn to_json(text: &str) -> std::result::Result<(String, Value), String> {
    // Not `trim_text`: it trims each piece of text between entity references, turning
    // "ACME &amp; Co" into "ACME&Co". Whitespace is judged once an element ends.
    let mut reader = quick_xml::Reader::from_str(text);
    // Stack of (name, children, text).
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                stack.push((name, Map::new(), String::new()));
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                match stack.last_mut() {
                    Some(parent) => insert(&mut parent.1, name, Value::String(String::new())),
                    None => return Ok((name, Value::Object(Map::new()))),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let resolved = if let Some(num) = name.strip_prefix("#x") {
                    u32::from_str_radix(num, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .map(String::from)
                } else if let Some(num) = name.strip_prefix('#') {
                    num.parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .map(String::from)
                } else {
                    resolve_predefined_entity(&name).map(str::to_string)
                };
                let resolved = resolved.ok_or_else(|| format!("unknown entity &{name};"))?;
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let (name, children, text) = stack.pop().ok_or("unbalanced end tag")?;
                let value = if children.is_empty() {
                    // Line breaks around a value are indentation; spaces on one line are data.
                    Value::String(if text.contains('\n') {
                        text.trim().to_string()
                    } else {
                        text
                    })
                } else {
                    Value::Object(children)
                };
                match stack.last_mut() {
                    Some(parent) => insert(&mut parent.1, name, value),
                    None => return Ok((name, value)),
                }
            }
            Event::Eof => return Err("document ended before its root element closed".into()),
            _ => {}
        }
    }
}

fn insert(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        None => {
            map.insert(name, value);
        }
        Some(Value::Array(list)) => list.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// Writes `value` as an XML document with root element `root`: an object's fields become
/// elements, an array repeats its element, anything else becomes escaped text. Field names
/// that are not XML names are written as `<field name="…">`.
pub fn from_json(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    element(&mut out, root, value);
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    let valid = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let (open, close) = if valid {
        (format!("<{name}>"), format!("</{name}>"))
    } else {
        (
            format!("<field name=\"{}\">", escape(name)),
            "</field>".to_string(),
        )
    };
    match value {
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(fields) => {
            out.push_str(&open);
            for (k, v) in fields {
                element(out, k, v);
            }
            out.push_str(&close);
        }
        Value::Null => {
            out.push_str(&open);
            out.push_str(&close);
        }
        Value::String(s) => {
            out.push_str(&open);
            out.push_str(&escape(s.as_str()));
            out.push_str(&close);
        }
        other => {
            out.push_str(&open);
            out.push_str(&other.to_string());
            out.push_str(&close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_keep_the_spaces_around_them() {
        let (_, v) = to_json("<a>\n  <b>ACME &amp; Co</b>\n  <c> x </c>\n</a>").expect("parses");
        assert_eq!(v, serde_json::json!({"b": "ACME & Co", "c": " x "}));
    }

    #[test]
    fn round_trip_of_nested_and_repeated_elements() {
        let v = serde_json::json!({"a": "x<y", "b": {"c": ["1", "2"]}});
        let xml = from_json("root", &v);
        let (root, back) = to_json(&xml).expect("parses");
        assert_eq!(root, "root");
        assert_eq!(back, v);
    }
}
