//! Keeping secrets and tokens out of logs and error messages.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::BTreeSet;

mod masks;
pub use masks::{is_sensitive_header, mask_json, mask_json_text, sensitive_key, url_for_log};

/// Replaces known secret values in text; built once per adapter from its resolved secrets,
/// extended per call with the tokens handed out.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: BTreeSet<String>,
    /// Every value in one automaton, built at the first scrub after a value was added: a text
    /// is scrubbed in one pass, whatever the number of values and forms (about 20 a value).
    matcher: std::sync::OnceLock<Matcher>,
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

impl Redactor {
    /// A redactor for these values (values shorter than 4 characters are ignored: they would
    /// mangle ordinary text and are not secrets worth the name).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut r = Self::default();
        for v in values {
            r.add(v);
        }
        r
    }

    /// Adds one value, with the forms it travels in: URL-encoded once or twice (form bodies
    /// and query strings, `+` or `%20` for a space), base64 (standard and URL-safe, with and
    /// without padding), base32, hex, HTML entities (the special characters, or every
    /// character as a numeric reference) and JSON-escaped (a platform echoing it inside a JSON
    /// string). Matching ignores ASCII case, so a value a platform upper- or lower-cased (or
    /// hex and base32 in either case) is found too.
    pub fn add(&mut self, value: &str) {
        use base64::Engine as _;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        if value.len() < 4 {
            return;
        }
        let mut forms = vec![value.to_string()];
        let encoded: String = form_urlencoded_byte_serialize(value);
        forms.push(encoded.replace('+', "%20"));
        forms.push(form_urlencoded_byte_serialize(&encoded));
        forms.push(form_urlencoded_byte_serialize(&encoded.replace('+', "%20")));
        forms.push(encoded);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            forms.push(engine.encode(value.as_bytes()));
        }
        forms.push(data_encoding::BASE32.encode(value.as_bytes()));
        forms.push(data_encoding::BASE32_NOPAD.encode(value.as_bytes()));
        forms.push(data_encoding::HEXLOWER.encode(value.as_bytes()));
        forms.extend(html_forms(value));
        if let Ok(json) = serde_json::to_string(value) {
            forms.push(json.trim_matches('"').to_string());
        }
        for form in forms {
            if form.len() >= 4 {
                self.values.insert(form.to_ascii_lowercase());
            }
        }
        self.matcher = std::sync::OnceLock::new();
    }

    /// `text` with every known value replaced, whatever the ASCII case it came in.
    pub fn scrub(&self, text: &str) -> String {
        match self.matcher.get_or_init(|| Matcher::of(&self.values)) {
            Matcher::Values(m) if m.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                m.replace_all_with(text, &mut out, |_, _, out| {
                    out.push_str(REDACTED);
                    true
                });
                out
            }
            Matcher::Broken => REDACTED.to_string(),
            _ => text.to_string(),
        }
    }
}

/// A redactor's values as one automaton.
#[derive(Debug, Clone)]
enum Matcher {
    /// No value is known.
    Nothing,
    /// Leftmost-longest, so that a secret containing another is replaced whole; ASCII case
    /// ignored.
    Values(AhoCorasick),
    /// The automaton could not be built (never seen: it takes values far past any redactor's):
    /// every text is then replaced whole rather than let through.
    Broken,
}

impl Matcher {
    fn of(values: &BTreeSet<String>) -> Self {
        if values.is_empty() {
            return Self::Nothing;
        }
        match AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(values)
        {
            Ok(m) => Self::Values(m),
            Err(e) => {
                tracing::error!("the redactor's automaton could not be built: {e}");
                Self::Broken
            }
        }
    }
}

/// One call's redactor, shared by everything that call writes through (its error answers, its
/// host calls' logs, and its guest's stdout and stderr), so that a token handed out in the
/// middle of the call is scrubbed from whatever comes after, wherever it goes.
#[derive(Debug, Clone, Default)]
pub struct SharedRedactor(std::sync::Arc<std::sync::RwLock<Redactor>>);

impl SharedRedactor {
    /// Shares `base` (the adapter's secrets).
    pub fn new(base: Redactor) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(base)))
    }

    /// Adds one value for the rest of the call.
    pub fn add(&self, value: &str) {
        if let Ok(mut r) = self.0.write() {
            r.add(value);
        }
    }

    /// `text` with every known value replaced.
    pub fn scrub(&self, text: &str) -> String {
        match self.0.read() {
            Ok(r) => r.scrub(text),
            // A poisoned lock still holds the values: use them rather than scrub nothing.
            Err(poisoned) => poisoned.into_inner().scrub(text),
        }
    }

    /// The values known now, as a plain redactor.
    pub fn snapshot(&self) -> Redactor {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// `value` as HTML writes it: its special characters escaped (named or numeric), and every
/// character as a decimal or hexadecimal reference.
fn html_forms(value: &str) -> Vec<String> {
    let escape = |apos: &str| {
        value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', apos)
    };
    let decimal = |c: char| format!("&#{};", u32::from(c));
    let hex = |c: char| format!("&#x{:x};", u32::from(c));
    // Every character as a reference, or (what most escapers do) all but letters and digits.
    let referenced = |reference: &dyn Fn(char) -> String, all: bool| -> String {
        value
            .chars()
            .map(|c| {
                if !all && c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    reference(c)
                }
            })
            .collect()
    };
    vec![
        escape("&#39;"),
        escape("&#x27;"),
        escape("&apos;"),
        referenced(&decimal, true),
        referenced(&hex, true),
        referenced(&decimal, false),
        referenced(&hex, false),
    ]
}

fn form_urlencoded_byte_serialize(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_plain_and_encoded_values() {
        let r = Redactor::new(["s3cr3t+/=", "abc"]);
        assert_eq!(r.scrub("a s3cr3t+/= b"), "a [redacted] b");
        assert_eq!(r.scrub("x=s3cr3t%2B%2F%3D"), "x=[redacted]");
        assert_eq!(r.scrub("abc stays"), "abc stays");
    }

    #[test]
    fn scrubs_base64_json_escaped_and_percent_20_forms() {
        use base64::Engine as _;
        let value = "tok\"en with space/+";
        let r = Redactor::new([value]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
        let json = serde_json::to_string(value).expect("json");
        for text in [
            format!("Basic {b64}"),
            format!("t={url_safe}"),
            format!("{{\"token\":{json}}}"),
            "q=tok%22en%20with%20space%2F%2B".to_string(),
        ] {
            let scrubbed = r.scrub(&text);
            assert!(scrubbed.contains(REDACTED), "{text} -> {scrubbed}");
            assert!(!scrubbed.contains("with"), "{text} -> {scrubbed}");
        }
    }

    #[test]
    fn scrubs_hex_base32_html_double_encoded_and_case_changed_forms() {
        let value = "Tok+en/Value=42";
        let r = Redactor::new([value]);
        let hex = data_encoding::HEXLOWER.encode(value.as_bytes());
        let double: String = url::form_urlencoded::byte_serialize(
            url::form_urlencoded::byte_serialize(value.as_bytes())
                .collect::<String>()
                .as_bytes(),
        )
        .collect();
        for text in [
            format!("echo {hex}"),
            format!("ECHO {}", hex.to_ascii_uppercase()),
            format!("b32 {}", data_encoding::BASE32.encode(value.as_bytes())),
            format!(
                "b32 {}",
                data_encoding::BASE32_NOPAD
                    .encode(value.as_bytes())
                    .to_ascii_lowercase()
            ),
            format!("<p>{}</p>", html_forms(value)[0]),
            format!("<p>{}</p>", html_forms(value)[3]),
            format!("<p>{}</p>", html_forms(value)[6]),
            format!("q={double}"),
            format!("lower {}", value.to_ascii_lowercase()),
            format!("upper {}", value.to_ascii_uppercase()),
        ] {
            let scrubbed = r.scrub(&text);
            assert!(scrubbed.contains(REDACTED), "{text} -> {scrubbed}");
            assert!(
                !scrubbed.to_ascii_lowercase().contains("value") && !scrubbed.contains(&hex[..8]),
                "{text} -> {scrubbed}"
            );
        }
        assert_eq!(r.scrub("nothing here"), "nothing here");
    }

    #[test]
    fn a_shared_redactor_scrubs_what_was_added_after_it_was_shared() {
        let shared = SharedRedactor::new(Redactor::new(["secret-one"]));
        let copy = shared.clone();
        shared.add("token-added-later");
        assert_eq!(copy.scrub("token-added-later"), REDACTED);
        assert_eq!(copy.scrub("secret-one"), REDACTED);
    }
}
