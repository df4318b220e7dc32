//! The caller's rows, read straight from the input's text and written once as JSON.
//!
//! A batch of 100,000 rows is 7 MB of JSON. Held as `serde_json::Value` it was parsed into a tree,
//! rebuilt into the input struct, serialised once for the batch's fingerprint and once more,
//! 500 rows at a time, for the requests: most of the time a batch spent in the sandbox
//! (BENCHMARKS.md). Here each field name and text is borrowed from the input where it has no
//! escapes, each row is serialised once into one buffer, and the fingerprint and every request
//! body are made from slices of it.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, kept as JSON read it.
    Number(Number),
    /// A string.
    Text(Cow<'a, str>),
    /// An object or array: not allowed in a row, reported by the row check.
    Nested,
}

impl Cell<'_> {
    /// The value as XML text: strings as they are, `null` empty, the rest as JSON writes them.
    pub fn xml_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Null | Cell::Nested => Cow::Borrowed(""),
            Cell::Bool(b) => Cow::Owned(b.to_string()),
            Cell::Number(n) => Cow::Owned(n.to_string()),
        }
    }
}

/// An entry of `rows`: a row's fields sorted by name (the last of a repeated name wins, as in a
/// JSON object read into a map), or whatever else the caller sent there.
#[derive(Debug, Clone, PartialEq)]
pub enum RowIn<'a> {
    /// An object.
    Object(Vec<(Cow<'a, str>, Cell<'a>)>),
    /// Not an object: kept to name it in the error.
    Other(Value),
}

impl<'de: 'a, 'a> Deserialize<'de> for Cell<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Cell<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Cell<'a>, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E>(self) -> Result<Cell<'a>, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Cell<'a>, E> {
                Ok(Cell::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Cell<'a>, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Cell<'a>, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Cell<'a>, E> {
                Number::from_f64(n)
                    .map(Cell::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cell<'a>, E> {
                Ok(Cell::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Cell<'a>, E> {
                Ok(Cell::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Cell<'a>, E> {
                Ok(Cell::Text(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Cell::Nested)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Cell::Nested)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A field name, borrowed when it has no escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RowIn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RowIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowIn<'a>, A::Error> {
                let mut fields: Vec<(Cow<'a, str>, Cell<'a>)> = Vec::new();
                while let Some((Name(k), v)) = map.next_entry::<Name<'a>, Cell<'a>>()? {
                    fields.push((k, v));
                }
                // Sorted, and the last of a repeated name kept: the order and the choice of a
                // map, so that the fingerprint is the one earlier versions computed. Rows whose
                // names already come sorted and distinct (most) are left as they are.
                if !fields.windows(2).all(|w| w[0].0 < w[1].0) {
                    fields.reverse();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    fields.dedup_by(|later, first| later.0 == first.0);
                }
                Ok(RowIn::Object(fields))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RowIn<'a>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RowIn::Other)
            }
            fn visit_unit<E>(self) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(n.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<RowIn<'a>, E> {
                Ok(RowIn::Other(Value::String(s.to_string())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One checked row: flat, its fields sorted by name.
pub type Row<'a> = Vec<(Cow<'a, str>, Cell<'a>)>;

/// Writes `text` as a JSON string, as `serde_json` would. `borrowed`: serde_json read the text
/// from the input with no escape in it, so it holds no quote, backslash or control character
/// (raw ones are not JSON, and serde_json refuses them): nothing its writer would escape, so the
/// bytes go out as they came in.
fn write_text(out: &mut Vec<u8>, text: &str, borrowed: bool) {
    if borrowed {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Writes `row` as JSON, as `serde_json` writes a map (names already sorted, compact).
fn write_row(out: &mut Vec<u8>, row: &Row<'_>) {
    out.push(b'{');
    for (i, (name, value)) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_text(out, name, matches!(name, Cow::Borrowed(_)));
        out.push(b':');
        match value {
            Cell::Null | Cell::Nested => out.extend_from_slice(b"null"),
            Cell::Bool(true) => out.extend_from_slice(b"true"),
            Cell::Bool(false) => out.extend_from_slice(b"false"),
            Cell::Number(n) => {
                let _ = serde_json::to_writer(&mut *out, n);
            }
            Cell::Text(t) => write_text(out, t, matches!(t, Cow::Borrowed(_))),
        }
    }
    out.push(b'}');
}

/// Checked rows and their JSON, made together.
pub struct Rows<'a> {
    /// The rows, each flat, fields sorted by name.
    pub rows: Vec<Row<'a>>,
    /// The same rows as JSON.
    pub json: Encoded,
}

impl<'a> Rows<'a> {
    /// Writes `prefix` and the JSON of `rows` once.
    pub fn new(prefix: &[u8], rows: Vec<Row<'a>>) -> Self {
        let json = Encoded::with_prefix(prefix, &rows);
        Self { rows, json }
    }
}

/// The rows written once as a JSON array, `[row,row,…]`, with where each row starts and ends,
/// after a prefix of the caller's (so that the prefix and the array can be hashed as one).
pub struct Encoded {
    text: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Encoded {
    /// Writes `rows` as JSON, as `serde_json` writes a map of them (names sorted, compact).
    #[cfg(test)]
    pub fn new(rows: &[Row<'_>]) -> Self {
        Self::with_prefix(b"", rows)
    }

    /// Writes `prefix`, then `rows` as JSON.
    pub fn with_prefix(prefix: &[u8], rows: &[Row<'_>]) -> Self {
        let mut text = Vec::with_capacity(prefix.len() + rows.len() * 64 + 2);
        let mut spans = Vec::with_capacity(rows.len());
        text.extend_from_slice(prefix);
        text.push(b'[');
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            let start = text.len();
            write_row(&mut text, row);
            spans.push((start, text.len()));
        }
        text.push(b']');
        Self { text, spans }
    }

    /// The prefix and the array.
    pub fn prefixed(&self) -> &[u8] {
        &self.text
    }

    /// Rows `range` as the inside of a JSON array (no brackets).
    pub fn inner(&self, range: std::ops::Range<usize>) -> &[u8] {
        match (
            self.spans.get(range.start),
            range.end.checked_sub(1).and_then(|e| self.spans.get(e)),
        ) {
            (Some(first), Some(last)) if range.start < range.end => &self.text[first.0..last.1],
            _ => &[],
        }
    }

    /// Rows `range` as maps, for matching the rows a refusal echoes back (rare: only then).
    pub fn maps(&self, range: std::ops::Range<usize>) -> Vec<Map<String, Value>> {
        let mut array = Vec::with_capacity(self.inner(range.clone()).len() + 2);
        array.push(b'[');
        array.extend_from_slice(self.inner(range));
        array.push(b']');
        serde_json::from_slice(&array).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Row<'_>> {
        serde_json::from_str::<Vec<RowIn<'_>>>(text)
            .expect("rows")
            .into_iter()
            .map(|r| match r {
                RowIn::Object(f) => f,
                RowIn::Other(v) => panic!("not a row: {v}"),
            })
            .collect()
    }

    #[test]
    fn rows_are_written_as_serde_json_writes_maps() {
        let text = r#"[{"QTY":1.5e3,"PLANT":"11\"11","A":null,"B":true,"QTY":-7,"Z":"\u00e9"},{"X":18446744073709551615}]"#;
        let mine = Encoded::new(&read(text));
        let maps: Vec<Map<String, Value>> = serde_json::from_str(text).expect("maps");
        assert_eq!(
            mine.prefixed(),
            serde_json::to_vec(&maps).expect("json").as_slice()
        );
        assert_eq!(mine.maps(0..2), maps);
        assert_eq!(mine.maps(1..2), maps[1..].to_vec());
        assert!(mine.inner(2..2).is_empty());
    }

    proptest::proptest! {
        /// Whatever the text (escapes, quotes, control characters, non-ASCII), the rows are
        /// written byte for byte as serde_json writes the same rows read as maps: the
        /// fingerprint of a batch does not depend on which of them wrote it.
        #[test]
        fn any_text_is_written_as_serde_json_writes_it(
            rows in proptest::collection::vec(
                proptest::collection::btree_map("\\PC{0,8}|[a-z\"\\\\\u{0}-\u{1f}]{0,4}", "\\PC{0,12}|[\"\\\\\u{0}-\u{1f}\u{7f}é/]{0,6}", 1..4),
                1..4,
            )
        ) {
            let text = serde_json::to_string(&rows).expect("json");
            let mine = Encoded::new(&read(&text));
            let maps: Vec<Map<String, Value>> = serde_json::from_str(&text).expect("maps");
            let theirs = serde_json::to_vec(&maps).expect("json");
            proptest::prop_assert_eq!(mine.prefixed(), theirs.as_slice());
        }
    }

    #[test]
    fn what_is_not_a_flat_object_is_kept_for_the_error() {
        let rows: Vec<RowIn<'_>> =
            serde_json::from_str(r#"[5,[1,{"a":2}],{"A":{"n":[1]}},"s"]"#).expect("rows");
        assert_eq!(rows[0], RowIn::Other(Value::from(5)));
        assert_eq!(rows[1], RowIn::Other(serde_json::json!([1, {"a": 2}])));
        assert_eq!(
            rows[2],
            RowIn::Object(vec![(Cow::Borrowed("A"), Cell::Nested)])
        );
        assert_eq!(rows[3], RowIn::Other(Value::from("s")));
    }
}
