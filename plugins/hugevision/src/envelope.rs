//! Reading the platform's answers: `requestResult` (1 success, 6 format error, 9 system error),
//! `targetRequestStatus` / `targetRequestResult` (0 pending, 1 success, 6 format error, 7 data
//! error, 9 system error), and per-document, per-line results mapped back to the caller's input.

use serde::{Deserialize, Serialize};
use weft_sdk::error::detail;
use weft_sdk::{AdapterError, Detail, Result, Value, json};

/// What an answer means once its result fields are read.
#[derive(Debug)]
pub enum Outcome {
    /// Final success; the answer as sent.
    Done(Value),
    /// The target request is not processed yet.
    Pending(Value),
    /// The platform already holds a request with this `requestId`.
    Duplicate(String),
}

/// The documents and line ids of a submission, to map the platform's results to the caller's
/// indexes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Shape {
    /// `(docNo, [lineId])` in the caller's order.
    pub docs: Vec<(String, Vec<String>)>,
}

impl Shape {
    fn doc(&self, doc_no: &str) -> Option<usize> {
        self.docs.iter().position(|(d, _)| d == doc_no)
    }

    fn line(&self, doc: Option<usize>, line_id: &str) -> Option<usize> {
        let (_, lines) = self.docs.get(doc?)?;
        lines.iter().position(|l| l == line_id)
    }
}

/// A field as text, whether the platform sent it as a string or a number; the manual's samples
/// also spell `targetRequestErrorMsg` with a trailing space, which is accepted as the same key.
pub fn text(v: &Value, key: &str) -> Option<String> {
    let found = v.get(key).or_else(|| {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v)
    })?;
    match found {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads an answer. `system_error_is_transient`: a target result 9 is worth resending (true for
/// a synchronous submission, whose resend is recognised by its request id) or final (false
/// for the result of an asynchronous one).
pub fn classify(
    api: &str,
    answer: Value,
    shape: &Shape,
    system_error_is_transient: bool,
) -> Result<Outcome> {
    let message = text(&answer, "errorMsg").unwrap_or_default();
    let Some(result) = text(&answer, "requestResult") else {
        return Err(AdapterError::transient(format!(
            "{api}: answer without requestResult: {}",
            weft_sdk::http::snippet(answer.to_string().as_bytes())
        )));
    };
    match result.as_str() {
        "1" => {}
        "6" if is_duplicate(&message) => return Ok(Outcome::Duplicate(message)),
        "6" => {
            return Err(AdapterError::rejected(
                "6",
                format!("{api}: request format error: {message}"),
            ));
        }
        "9" => {
            return Err(AdapterError::transient_code(
                "9",
                format!("{api}: system error: {message}"),
            ));
        }
        other => {
            return Err(AdapterError::rejected(
                other,
                format!("{api}: requestResult {other}: {message}"),
            ));
        }
    }
    let status = text(&answer, "targetRequestStatus");
    let Some(target) = text(&answer, "targetRequestResult") else {
        return Ok(Outcome::Done(answer));
    };
    let target_message = text(&answer, "targetRequestErrorMsg").unwrap_or(message);
    if status.as_deref() == Some("0") || target == "0" {
        return Ok(Outcome::Pending(answer));
    }
    match target.as_str() {
        "1" => Ok(Outcome::Done(answer)),
        "6" => Err(AdapterError::rejected(
            "6",
            format!("{api}: the platform could not parse the documents: {target_message}"),
        )),
        "7" => Err(
            AdapterError::rejected("7", format!("{api}: data error: {target_message}"))
                .with_details(details(&answer, shape)),
        ),
        "9" if system_error_is_transient => Err(AdapterError::transient_code(
            "9",
            format!("{api}: system error: {target_message}"),
        )),
        other => Err(AdapterError::rejected(
            other,
            format!("{api}: targetRequestResult {other}: {target_message}"),
        )
        .with_details(details(&answer, shape))),
    }
}

fn is_duplicate(message: &str) -> bool {
    message.contains("重复") || message.to_ascii_lowercase().contains("duplicate")
}

/// One detail per failed document and per failed line, at the caller's document index, the
/// line's position in `field` (`lineList[j]`).
pub fn details(answer: &Value, shape: &Shape) -> Vec<Detail> {
    let mut out = Vec::new();
    for doc in answer["docList"].as_array().into_iter().flatten() {
        let doc_no = text(doc, "docNo").unwrap_or_default();
        let index = shape.doc(&doc_no);
        if text(doc, "docResult").as_deref() != Some("1") {
            out.push(detail(
                index,
                None,
                text(doc, "docResult").as_deref(),
                format!(
                    "document {doc_no}: {}",
                    text(doc, "docErrorMsg").unwrap_or_default()
                ),
            ));
        }
        for (position, line) in doc["lineList"].as_array().into_iter().flatten().enumerate() {
            if text(line, "lineResult").as_deref() == Some("1") {
                continue;
            }
            let line_id = text(line, "lineId").unwrap_or_default();
            let j = shape.line(index, &line_id).unwrap_or(position);
            out.push(detail(
                index,
                Some(&format!("lineList[{j}]")),
                text(line, "lineResult").as_deref(),
                format!(
                    "document {doc_no} line {line_id}: {}",
                    text(line, "lineErrorMsg").unwrap_or_default()
                ),
            ));
        }
    }
    out
}

/// The caller's view of a final answer: the platform's document numbers per document and line.
pub fn documents(answer: &Value) -> Value {
    let docs: Vec<Value> = answer["docList"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|doc| {
            let lines: Vec<Value> = doc["lineList"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| json!({"lineId": text(l, "lineId"), "lineNoHVS": text(l, "lineNoHVS")}))
                .collect();
            json!({
                "docNo": text(doc, "docNo"),
                "docNoHVS": text(doc, "docNoHVS"),
                "docStatus": text(doc, "docStatus"),
                "lines": lines,
            })
        })
        .collect();
    Value::Array(docs)
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn code() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec!["0", "1", "6", "7", "9", "", "x"]).prop_map(|s| json!(s)),
            any::<i64>().prop_map(|n| json!(n)),
            Just(Value::Null),
            Just(json!([1])),
        ]
    }

    fn answer() -> impl Strategy<Value = Value> {
        (
            code(),
            code(),
            code(),
            "\\PC{0,20}",
            prop::collection::vec((code(), "[A-Z0-9]{0,4}", prop::collection::vec((code(), "[0-9]{0,2}"), 0..3)), 0..3),
            any::<bool>(),
        )
            .prop_map(|(request, status, target, message, docs, spaced)| {
                let docs: Vec<Value> = docs
                    .into_iter()
                    .map(|(result, no, lines)| {
                        let lines: Vec<Value> = lines
                            .into_iter()
                            .map(|(r, id)| json!({"lineId": id, "lineResult": r, "lineErrorMsg": "e"}))
                            .collect();
                        json!({"docNo": no, "docResult": result, "docErrorMsg": "d", "lineList": lines})
                    })
                    .collect();
                let key = if spaced { "targetRequestErrorMsg " } else { "targetRequestErrorMsg" };
                json!({
                    "requestResult": request,
                    "targetRequestStatus": status,
                    "targetRequestResult": target,
                    "errorMsg": message,
                    key: message,
                    "docList": docs,
                })
            })
    }

    proptest! {
        /// Every answer is classified, and every failed document and line gets a detail.
        #[test]
        fn any_answer_is_classified(answer in answer(), sync in any::<bool>()) {
            let shape = Shape { docs: vec![("A1".into(), vec!["1".into()])] };
            let failed = answer["docList"].as_array().map_or(0, |d| {
                d.iter()
                    .map(|doc| {
                        usize::from(text(doc, "docResult").as_deref() != Some("1"))
                            + doc["lineList"].as_array().map_or(0, |l| {
                                l.iter().filter(|x| text(x, "lineResult").as_deref() != Some("1")).count()
                            })
                    })
                    .sum()
            });
            let target = text(&answer, "targetRequestResult");
            match classify("API", answer.clone(), &shape, sync) {
                Err(AdapterError::Rejected { code, details, .. })
                    if code == "7" && text(&answer, "requestResult").as_deref() == Some("1") =>
                {
                    prop_assert_eq!(details.len(), failed);
                }
                Ok(Outcome::Done(_)) => {
                    let result = text(&answer, "requestResult");
                    prop_assert_eq!(result.as_deref(), Some("1"));
                    prop_assert!(target.is_none() || target.as_deref() == Some("1"));
                }
                _ => {}
            }
        }

        #[test]
        fn arbitrary_json_never_panics(text_in in "\\PC{0,300}") {
            if let Ok(v) = serde_json::from_str::<Value>(&text_in) {
                let _ = classify("API", v.clone(), &Shape::default(), true);
                let _ = documents(&v);
            }
        }
    }
}
