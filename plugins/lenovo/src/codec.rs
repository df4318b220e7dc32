//! The two wire formats of the document: JSON (default) and XML (`<Req>` with repeated `<data>`
//! out, `<Resp>` with repeated `<result>` back).

use crate::rows::Row;
use quick_xml::escape::escape;
use serde_json::Value;
use weft_sdk::{AdapterError, Result};

/// Request and answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/xml`.
    Xml,
}

impl Format {
    /// Parses "json" / "xml".
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "json" => Ok(Self::Json),
            "xml" => Ok(Self::Xml),
            other => Err(AdapterError::invalid_input(format!(
                "format: expected \"json\" or \"xml\", found {other:?}"
            ))),
        }
    }

    /// The media type for Content-Type and Accept.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Xml => "application/xml",
        }
    }
}

/// The batch fields of one request.
pub struct Envelope<'a> {
    /// Partner short name, if configured.
    pub app_name: Option<&'a str>,
    /// Batch id.
    pub batch_id: &'a str,
    /// Rows in the whole batch.
    pub batch_size: usize,
    /// 1-based sequence number.
    pub seq_id: usize,
    /// The rows of this sequence.
    pub rows: &'a [Row<'a>],
    /// The same rows as JSON, the inside of an array (`{…},{…}`).
    pub json_rows: &'a [u8],
}

/// Encodes one request body. Types follow the document's table: batch_size and seq_size are
/// numbers, batch_id and seq_id strings.
pub fn encode(format: Format, env: &Envelope<'_>) -> Vec<u8> {
    match format {
        Format::Json => {
            // The rows are already JSON (written once for the whole batch); only the batch
            // fields around them are written here.
            let mut body = Vec::with_capacity(env.json_rows.len() + 160);
            body.push(b'{');
            if let Some(app) = env.app_name {
                body.extend_from_slice(b"\"appName\":");
                let _ = serde_json::to_writer(&mut body, app);
                body.push(b',');
            }
            body.extend_from_slice(b"\"batch_id\":");
            let _ = serde_json::to_writer(&mut body, env.batch_id);
            body.extend_from_slice(
                format!(
                    ",\"batch_size\":{},\"seq_id\":\"{}\",\"seq_size\":{},\"data\":[",
                    env.batch_size,
                    env.seq_id,
                    env.rows.len()
                )
                .as_bytes(),
            );
            body.extend_from_slice(env.json_rows);
            body.extend_from_slice(b"]}");
            body
        }
        Format::Xml => {
            let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<Req>");
            let mut field = |name: &str, value: &str| {
                x.push_str(&format!("<{name}>{}</{name}>", escape(value)));
            };
            if let Some(app) = env.app_name {
                field("appName", app);
            }
            field("batch_id", env.batch_id);
            field("batch_size", &env.batch_size.to_string());
            field("seq_id", &env.seq_id.to_string());
            field("seq_size", &env.rows.len().to_string());
            for row in env.rows {
                x.push_str("<data>");
                for (k, v) in row {
                    x.push_str(&format!("<{k}>{}</{k}>", escape(v.xml_text().as_ref())));
                }
                x.push_str("</data>");
            }
            x.push_str("</Req>");
            x.into_bytes()
        }
    }
}

/// A platform answer, whatever its format.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `code`: "0" for success.
    pub code: String,
    /// `msg`.
    pub msg: String,
    /// `result`, as JSON (XML's repeated `<result>` become an array).
    pub result: Value,
}

/// Decodes an answer body; a body that is not the expected shape is a transient failure.
pub fn decode(format: Format, body: &[u8]) -> Result<Answer> {
    let bad = |why: String| {
        AdapterError::transient(format!(
            "answer is not the document's {} ({why}): {}",
            format.media_type(),
            weft_sdk::http::snippet(body)
        ))
    };
    let value = match format {
        Format::Json => serde_json::from_slice::<Value>(body).map_err(|e| bad(e.to_string()))?,
        Format::Xml => {
            let text = std::str::from_utf8(body).map_err(|e| bad(e.to_string()))?;
            let (root, value) = weft_sdk::xml::to_json(text).map_err(bad)?;
            if root != "Resp" {
                return Err(bad(format!("root element <{root}>, expected <Resp>")));
            }
            let mut value = value;
            // Repeated <result> are a list even when there is one.
            if let Some(obj) = value.as_object_mut()
                && let Some(r) = obj.get_mut("result")
                && !r.is_array()
                && !r.is_string()
            {
                *r = Value::Array(vec![r.take()]);
            }
            value
        }
    };
    let code = match &value["code"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(bad("no code".into())),
    };
    Ok(Answer {
        code,
        msg: value["msg"].as_str().unwrap_or_default().to_string(),
        result: value.get("result").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the platform answers, decoding ends in an answer or a transient error.
        #[test]
        fn any_answer_body_decodes_or_is_transient(body in prop::collection::vec(any::<u8>(), 0..512)) {
            for format in [Format::Json, Format::Xml] {
                if let Err(e) = decode(format, &body) {
                    prop_assert!(matches!(e, AdapterError::Transient { .. }), "{e}");
                }
            }
        }

        #[test]
        fn xml_shaped_text_never_panics(text in "(<[A-Za-z]{1,4}( a=\"[^\"]{0,4}\")?>|</[A-Za-z]{1,4}>|<[A-Za-z]{1,4}/>|[^<>]{0,8}|&[a-z#0-9]{0,5};|<!\\[CDATA\\[[^\\]]{0,5}\\]\\]>){0,24}") {
            let _ = weft_sdk::xml::to_json(&text);
            let _ = decode(Format::Xml, text.as_bytes());
        }

        #[test]
        fn well_formed_answers_keep_their_code(code in "[A-Z0-9-]{1,8}", results in 0usize..4) {
            let items: String = (0..results).map(|i| format!("<result><row>{i}</row></result>")).collect();
            let xml = format!("<Resp><code>{code}</code><msg>m</msg>{items}</Resp>");
            let answer = decode(Format::Xml, xml.as_bytes()).expect("decodes");
            prop_assert_eq!(answer.code, code);
            if results > 0 {
                prop_assert_eq!(answer.result.as_array().map(Vec::len), Some(results));
            }
        }
    }
}
