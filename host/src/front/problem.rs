//! Errors as `application/problem+json` (RFC 9457), with Weft's members added.

use crate::error::{ErrorKind, InvokeError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A problem document ready to send.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    body: serde_json::Value,
}

fn title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "Invalid input",
        ErrorKind::Rejected => "Rejected by the platform",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::Auth => "Platform refused the credentials",
        ErrorKind::Transient => "Platform unavailable",
        ErrorKind::Timeout => "Deadline exceeded",
        ErrorKind::Denied => "Host not allowed",
        ErrorKind::Trap => "Adapter crashed",
        ErrorKind::Limit => "Adapter limit exceeded",
        ErrorKind::NotFound => "Not found",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Busy => "Too many calls waiting",
    }
}

impl Problem {
    /// A problem of `kind` with `detail`, outside any adapter call.
    pub fn new(kind: ErrorKind, status: u16, detail: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            body: json!({
                "type": format!("urn:weft:problem:{}", kind.as_str()),
                "title": title(kind),
                "status": status.as_u16(),
                "detail": detail.into(),
                "kind": kind.as_str(),
            }),
        }
    }

    /// A problem with an explicit status (e.g. 413), keeping the kind's type and title.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self.body["status"] = json!(status.as_u16());
        self
    }
}

impl From<InvokeError> for Problem {
    fn from(e: InvokeError) -> Self {
        let mut p = Problem::new(e.kind, e.kind.http_status(), e.message.clone());
        let body = p.body.as_object_mut().map(|o| {
            o.insert("adapter".into(), json!(e.adapter));
            o.insert("op".into(), json!(e.op));
            o.insert("attempts".into(), json!(e.attempts));
            if let Some(code) = &e.platform_code {
                o.insert("platform_code".into(), json!(code));
            }
            if !e.details.is_empty() {
                o.insert("details".into(), json!(e.details));
            }
        });
        debug_assert!(body.is_some());
        if e.kind == ErrorKind::InvalidInput && e.message.starts_with("input is not JSON") {
            p.status = StatusCode::BAD_REQUEST;
        } else if e.kind == ErrorKind::InvalidInput && !e.details.is_empty() {
            // Well-formed JSON whose rows break the platform's rules.
            p = p.with_status(StatusCode::UNPROCESSABLE_ENTITY);
        }
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let busy = self.status == StatusCode::TOO_MANY_REQUESTS;
        let mut response = (self.status, self.body.to_string()).into_response();
        if busy {
            // A slot frees as soon as one call ends; a second is a fair first wait.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
