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

    /// Adds one value.
    pub fn add(&mut self, value: &str) {
        if value.len() >= 4 {
            self.values.insert(value.to_string());
            // Secrets also travel URL-encoded (tokens with `+`, `/`, `=` in form bodies).
            let encoded: String = form_urlencoded_byte_serialize(value);
            if encoded != value {
                self.values.insert(encoded);
            }
        }
    }

    /// `text` with every known value replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so a secret containing another is replaced whole.
        let mut values: Vec<&String> = self.values.iter().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        for v in values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }
}

fn form_urlencoded_byte_serialize(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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
    fn scrubs_plain_and_encoded_values() {
        let r = Redactor::new(["s3cr3t+/=", "abc"]);
        assert_eq!(r.scrub("a s3cr3t+/= b"), "a [redacted] b");
        assert_eq!(r.scrub("x=s3cr3t%2B%2F%3D"), "x=[redacted]");
        assert_eq!(r.scrub("abc stays"), "abc stays");
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
