//! Credentials recognised by where they stand rather than by value: JSON keys, headers and
//! query parameters whose names say they hold one.

use super::{REDACTED, Redactor};

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
