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

impl Problem {
    /// What went wrong, in words (its `detail`).
    pub fn detail(&self) -> &str {
        self.body
            .get("detail")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
    }

    /// A problem of `kind` with `detail`, outside any adapter call.
    pub fn new(kind: ErrorKind, status: u16, detail: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            body: json!({
                "type": kind.problem_type(),
                "title": kind.title(),
                "status": status.as_u16(),
                "detail": detail.into(),
                "kind": kind.as_str(),
            }),
        }
    }
}

impl From<InvokeError> for Problem {
    fn from(e: InvokeError) -> Self {
        let mut body = e.problem();
        // The HTTP answer says it once; `message` is for job records only.
        if let Some(o) = body.as_object_mut() {
            o.remove("message");
        }
        Self {
            status: StatusCode::from_u16(e.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        // A slot frees as soon as one call ends: a second is a fair first wait. A store or
        // platform that is unavailable takes longer to come back; a client (or a platform
        // delivering a webhook) that reads 503 without it may give up instead of retrying.
        let retry_after = match self.status {
            StatusCode::TOO_MANY_REQUESTS => Some("1"),
            StatusCode::SERVICE_UNAVAILABLE => Some("5"),
            _ => None,
        };
        let mut response = (self.status, self.body.to_string()).into_response();
        if let Some(after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
