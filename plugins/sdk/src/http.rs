//! Outbound HTTP through the host, with JSON and form bodies.

use crate::bindings::weft::adapter::http as wit;
use crate::{AdapterError, InboundResponse, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use wit::{HttpError, Method};

/// An outbound request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: Option<u32>,
}

impl Request {
    /// A request with `method` to the absolute `url`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Adds query parameters, percent-encoded, after any the URL already has.
    pub fn query(mut self, params: &[(&str, &str)]) -> Self {
        if params.is_empty() {
            return self;
        }
        let sep = if self.url.contains('?') { '&' } else { '?' };
        self.url.push(sep);
        self.url.push_str(&form_encode(params));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body and its Content-Type.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        self.body = serde_json::to_vec(body)
            .map_err(|e| AdapterError::invalid_input(format!("body is not serialisable: {e}")))?;
        Ok(self.header("Content-Type", "application/json"))
    }

    /// Sets an `application/x-www-form-urlencoded` body from name/value pairs.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = form_encode(fields).into_bytes();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets this request's timeout (the host caps it by the manifest's limit).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sends the request through the host and waits for the whole answer.
    pub fn send(self) -> std::result::Result<Response, HttpError> {
        let response = wit::send(&wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
        })?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

/// A platform's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses the body as JSON; a body that is not the expected JSON is a transient failure
    /// (a proxy's error page, a truncated answer), with the start of the body in the message.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            AdapterError::transient(format!(
                "HTTP {} answer is not the expected JSON ({e}): {}",
                self.status,
                snippet(&self.body)
            ))
        })
    }

    /// The wait a `Retry-After` header asks for, in milliseconds: delta-seconds, or an
    /// HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`) counted from now (a past date is 0).
    pub fn retry_after_ms(&self) -> Option<u64> {
        let value = self.header("retry-after")?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(seconds.saturating_mul(1000));
        }
        const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let at = time::PrimitiveDateTime::parse(value, HTTP_DATE)
            .ok()?
            .assume_utc();
        let wait = at - time::OffsetDateTime::now_utc();
        Some(u64::try_from(wait.whole_milliseconds()).unwrap_or(0))
    }

    /// The usual meaning of this answer's status, for platforms without exceptions to it: 2xx
    /// is the answer; 401 and 403 `auth` (the host refreshes the token once); 429 and 5xx
    /// `transient`, honouring `Retry-After`; any other status `rejected` with the status as its
    /// code. `what` names the call in the error (e.g. `"POST /items"`); the message carries
    /// the start of the body. An adapter checks its platform's exceptions first, then calls
    /// this.
    pub fn classify(&self, what: &str) -> Result<&Self> {
        self.judge(what, None, snippet(&self.body))
    }

    /// [`Response::classify`], with the platform's own code and message read from an error
    /// answer's JSON body where `body` says they are: the code (when found) becomes the error's
    /// platform code in place of the status, and the message is the platform's words rather
    /// than the start of the body. A body that is not JSON, or lacks them, is classified as
    /// [`Response::classify`] does.
    ///
    /// ```ignore
    /// // {"error": {"code": "E1001", "message": "sku unknown"}} with a 422
    /// response.classify_with("send-items", &ErrorBody::at("/error/code", "/error/message"))?;
    /// ```
    pub fn classify_with(&self, what: &str, body: &ErrorBody) -> Result<&Self> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let parsed = serde_json::from_slice::<serde_json::Value>(&self.body).ok();
        let read = |pointer: Option<&str>| {
            let found = parsed.as_ref()?.pointer(pointer?)?;
            match found {
                serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let code = read(body.code);
        let message = read(Some(body.message))
            .map(|m| snippet(m.as_bytes()))
            .unwrap_or_else(|| snippet(&self.body));
        self.judge(what, code, message)
    }

    /// The usual meaning of the status, the error coded `code` (default: the status).
    fn judge(&self, what: &str, code: Option<String>, said: String) -> Result<&Self> {
        let status = self.status;
        let message = match &code {
            Some(code) => format!("{what}: HTTP {status}: {code}: {said}"),
            None => format!("{what}: HTTP {status}: {said}"),
        };
        let code = code.unwrap_or_else(|| status.to_string());
        match status {
            200..=299 => Ok(self),
            401 | 403 => Err(AdapterError::auth(message)),
            429 | 500..=599 => {
                let mut e = AdapterError::transient_code(code, message);
                if let Some(wait) = self.retry_after_ms() {
                    e = e.retry_after_ms(wait);
                }
                Err(e)
            }
            _ => Err(AdapterError::rejected(code, message)),
        }
    }
}

/// Where a platform writes what went wrong in an error answer's JSON body, as JSON pointers
/// (`/message`, `/error/code`), for [`Response::classify_with`].
#[derive(Debug, Clone, Copy)]
pub struct ErrorBody {
    code: Option<&'static str>,
    message: &'static str,
}

impl ErrorBody {
    /// The code at `code` and the message at `message`.
    pub const fn at(code: &'static str, message: &'static str) -> Self {
        Self {
            code: Some(code),
            message,
        }
    }

    /// A message at `message` and no code of the platform's own (the status stays the code).
    pub const fn message(message: &'static str) -> Self {
        Self {
            code: None,
            message,
        }
    }
}

/// At most 200 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        cut.push('…');
    }
    cut
}

/// Encodes name/value pairs as `application/x-www-form-urlencoded` (`+`, `/`, `=` escaped).
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        out.append_pair(name, value);
    }
    out.finish()
}

/// Maps a failed send to an adapter error: no answer is worth a retry, except a denied host or
/// a malformed request, which are configuration or programming errors.
pub fn http_error(e: HttpError) -> AdapterError {
    match e {
        HttpError::Denied(m) => AdapterError::rejected("denied", m),
        HttpError::InvalidRequest(m) => AdapterError::invalid_input(m),
        HttpError::TooLarge(m) => AdapterError::rejected("too-large", m),
        HttpError::Timeout(m) => AdapterError::transient_code("timeout", m),
        HttpError::Connect(m) => AdapterError::transient_code("connect", m),
    }
}

impl From<HttpError> for AdapterError {
    fn from(e: HttpError) -> Self {
        http_error(e)
    }
}

/// A JSON answer to an inbound request.
pub fn inbound_json<T: Serialize + ?Sized>(status: u16, body: &T) -> InboundResponse {
    InboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// An `Authorization: Basic …` value for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Joins a base URL and a path with exactly one slash between them.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Response {
        Response {
            status,
            headers: retry_after
                .map(|v| vec![("Retry-After".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_kinds_and_retry_after_reads_both_forms() {
        assert!(answer(204, None).classify("x").is_ok());
        assert!(answer(401, None).classify("x").is_err_and(|e| e.is_auth()));
        assert!(matches!(
            answer(404, None).classify("x"),
            Err(AdapterError::Rejected { .. })
        ));
        assert!(matches!(
            answer(503, Some("7")).classify("x"),
            Err(AdapterError::Transient {
                retry_after_ms: Some(7000),
                ..
            })
        ));
        assert_eq!(
            answer(429, Some("Sun, 06 Nov 1994 08:49:37 GMT")).retry_after_ms(),
            Some(0)
        );
        let later = (time::OffsetDateTime::now_utc() + time::Duration::seconds(120))
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .expect("date");
        let wait = answer(429, Some(&later)).retry_after_ms().expect("a date");
        assert!((100_000..=120_000).contains(&wait), "{wait}");
        assert_eq!(answer(429, Some("soon")).retry_after_ms(), None);
    }

    #[test]
    fn an_error_body_gives_its_code_and_message_where_it_has_them() {
        let with = |status: u16, body: &str| Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let spec = ErrorBody::at("/error/code", "/error/message");
        let e = with(422, r#"{"error":{"code":"E1001","message":"sku unknown"}}"#)
            .classify_with("send", &spec)
            .expect_err("refused");
        let AdapterError::Rejected { code, message, .. } = e else {
            panic!("rejected: {e:?}")
        };
        assert_eq!(code, "E1001");
        assert_eq!(message, "send: HTTP 422: E1001: sku unknown");
        // A numeric code, and a 503 that stays transient under its platform code.
        let e = with(503, r#"{"error":{"code":7,"message":"busy"}}"#)
            .classify_with("send", &spec)
            .expect_err("busy");
        assert!(
            matches!(&e, AdapterError::Transient { code: Some(c), .. } if c == "7"),
            "{e:?}"
        );
        // Not JSON, or no such fields: as `classify`, the status the code.
        for body in ["<html>bad gateway</html>", r#"{"other":1}"#] {
            let e = with(400, body)
                .classify_with("send", &spec)
                .expect_err("refused");
            assert!(
                matches!(&e, AdapterError::Rejected { code, message, .. } if code == "400" && message.contains(&body[..5])),
                "{e:?}"
            );
        }
        let e = with(401, r#"{"error":"expired"}"#)
            .classify_with("send", &ErrorBody::message("/error"))
            .expect_err("auth");
        assert!(
            e.is_auth() && e.to_string().contains("HTTP 401: expired"),
            "{e}"
        );
        assert!(with(200, "{}").classify_with("send", &spec).is_ok());
    }

    #[test]
    fn query_parameters_are_encoded_and_appended() {
        let r = Request::get("https://p.example/orders")
            .query(&[("since", "2026-12-07T08:00:00+08:00"), ("q", "a b&c")]);
        assert_eq!(
            r.url,
            "https://p.example/orders?since=2026-12-07T08%3A00%3A00%2B08%3A00&q=a+b%26c"
        );
        let r = Request::get("https://p.example/orders?limit=5")
            .query(&[("page", "2")])
            .query(&[]);
        assert_eq!(r.url, "https://p.example/orders?limit=5&page=2");
    }
}
