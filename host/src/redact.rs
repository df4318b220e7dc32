//! Keeping secrets and tokens out of logs and error messages.

use std::collections::BTreeSet;

/// Replaces known secret values in text; built once per adapter from its resolved secrets,
/// extended per call with the tokens handed out.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: BTreeSet<String>,
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
    }

    /// `text` with every known value replaced, whatever the ASCII case it came in.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so a secret containing another is replaced whole.
        let mut values: Vec<&String> = self.values.iter().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        // ASCII lower-casing keeps every byte where it was, so positions found in the folded
        // copy are positions in `out`.
        let mut folded = out.to_ascii_lowercase();
        for v in values {
            if !folded.contains(v.as_str()) {
                continue;
            }
            let mut scrubbed = String::with_capacity(out.len());
            let mut last = 0;
            for (at, _) in folded.match_indices(v.as_str()) {
                scrubbed.push_str(&out[last..at]);
                scrubbed.push_str(REDACTED);
                last = at + v.len();
            }
            scrubbed.push_str(&out[last..]);
            out = scrubbed;
            folded = out.to_ascii_lowercase();
        }
        out
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

/// True for JSON keys whose values are never shown or kept, whatever the adapter's secrets are
/// (a refresh token, a password a platform echoes).
pub fn sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "authorization",
        "credential",
        "private",
        "signature",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Masks, in place, the value of every [`sensitive_key`] of `v` (at any depth) and scrubs every
/// string with `scrub`.
pub fn mask_json(v: &mut serde_json::Value, scrub: &Redactor) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive_key(k) && !v.is_null() {
                    *v = serde_json::Value::String(REDACTED.into());
                } else {
                    mask_json(v, scrub);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| mask_json(i, scrub)),
        serde_json::Value::String(s) => *s = scrub.scrub(s),
        _ => {}
    }
}

/// `text`, JSON that may be cut short, with the string value of every [`sensitive_key`]
/// masked (to the end of the text when the value is cut): for the start of a body too large to
/// parse whole.
pub fn mask_json_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(len) = string_len(after) else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = &after[..len];
        out.push('"');
        out.push_str(key);
        out.push('"');
        rest = &after[len + 1..];
        let trimmed = rest.trim_start();
        if !sensitive_key(key) || !trimmed.starts_with(':') {
            continue;
        }
        let value = trimmed[1..].trim_start();
        out.push_str(&rest[..rest.len() - value.len()]);
        let Some(body) = value.strip_prefix('"') else {
            rest = value;
            continue;
        };
        out.push('"');
        out.push_str(REDACTED);
        match string_len(body) {
            Some(len) => {
                out.push('"');
                rest = &body[len + 1..];
            }
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The length of the JSON string body at the start of `s` (after its opening quote) up to its
/// closing quote; `None` when it does not close.
fn string_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// True for header names whose values are credentials.
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "token",
        "secret",
        "password",
        "api-key",
        "apikey",
        "signature",
        "sign",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// A URL for logs: query values whose names look like credentials are replaced.
pub fn url_for_log(url: &url::Url, redactor: &Redactor) -> String {
    let mut shown = url.clone();
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_sensitive_header(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let _ = shown.set_password(None);
    redactor.scrub(shown.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_fields_of_cut_json_are_masked() {
        let text = r#"{"user":"erp","access_token":"abc\"def","n":{"refresh_token" : "xyz"},"password":"cut-shor"#;
        let out = mask_json_text(text);
        assert_eq!(
            out,
            r#"{"user":"erp","access_token":"[redacted]","n":{"refresh_token" : "[redacted]"},"password":"[redacted]"#
        );
        assert_eq!(mask_json_text("[1, \"two\"]"), "[1, \"two\"]");
    }

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

    #[test]
    fn sensitive_headers_and_queries() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Access-Token"));
        assert!(!is_sensitive_header("Content-Type"));
        let u = url::Url::parse("https://h/p?accessToken=abc&x=1").expect("url");
        assert_eq!(
            url_for_log(&u, &Redactor::default()),
            "https://h/p?accessToken=%5Bredacted%5D&x=1"
        );
    }
}
