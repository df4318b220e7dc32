//! What went wrong with a call, as callers see it: one kind per way of failing, each with its
//! HTTP status and CLI exit code.

use serde::Serialize;
use std::fmt;

/// The kind of an invocation failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The caller's input is wrong; nothing was sent.
    InvalidInput,
    /// The platform refused the request.
    Rejected,
    /// The platform refused a duplicate.
    Conflict,
    /// The platform refused the token or credentials, even after one refresh.
    Auth,
    /// The platform or network failed, even after the retries the manifest allows.
    Transient,
    /// The call ran past `limits.timeout`.
    Timeout,
    /// The adapter tried a host not in `allowed_hosts`.
    Denied,
    /// The adapter trapped (panic, unreachable, stack overflow).
    Trap,
    /// The adapter hit `limits.memory` or `limits.cpu_time`.
    Limit,
    /// No such adapter or operation.
    NotFound,
    /// The adapter is not loaded (its manifest or component failed) or the host is overloaded.
    Unavailable,
    /// Too many calls already wait for this adapter (`limits.queue`): try again shortly.
    Busy,
}

impl ErrorKind {
    /// True for the kinds a caller causes (wrong input, unknown names, the platform refusing
    /// the caller's data, a duplicate): logged at INFO, since nothing in Weft is wrong.
    pub fn is_callers(self) -> bool {
        matches!(
            self,
            Self::InvalidInput | Self::NotFound | Self::Rejected | Self::Conflict
        )
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 12] = [
        Self::InvalidInput,
        Self::Rejected,
        Self::Conflict,
        Self::Auth,
        Self::Transient,
        Self::Timeout,
        Self::Denied,
        Self::Trap,
        Self::Limit,
        Self::NotFound,
        Self::Unavailable,
        Self::Busy,
    ];

    /// The kind a problem document's `kind` names ([`ErrorKind::as_str`]'s spelling).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kebab-case name used in problem documents, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid-input",
            Self::Rejected => "rejected",
            Self::Conflict => "conflict",
            Self::Auth => "auth",
            Self::Transient => "transient",
            Self::Timeout => "timeout",
            Self::Denied => "denied",
            Self::Trap => "trap",
            Self::Limit => "limit",
            Self::NotFound => "not-found",
            Self::Unavailable => "unavailable",
            Self::Busy => "busy",
        }
    }

    /// Exit code of `weft invoke` for this kind (0 is success, 1 usage, 2 configuration).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::InvalidInput => 10,
            Self::Rejected => 11,
            Self::Conflict => 12,
            Self::Auth => 13,
            Self::Transient => 14,
            Self::Timeout => 15,
            Self::Denied => 16,
            Self::Trap => 17,
            Self::Limit => 18,
            Self::NotFound => 19,
            Self::Unavailable => 20,
            Self::Busy => 21,
        }
    }

    /// A problem document's `title` for this kind.
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidInput => "Invalid input",
            Self::Rejected => "Rejected by the platform",
            Self::Conflict => "Conflict",
            Self::Auth => "Platform refused the credentials",
            Self::Transient => "Platform unavailable",
            Self::Timeout => "Deadline exceeded",
            Self::Denied => "Host not allowed",
            Self::Trap => "Adapter crashed",
            Self::Limit => "Adapter limit exceeded",
            Self::NotFound => "Not found",
            Self::Unavailable => "Unavailable",
            Self::Busy => "Too many calls waiting",
        }
    }

    /// A problem document's `type`: the section of `docs/problems.md` on this kind, which
    /// every front door also serves at `/problems`.
    pub fn problem_type(self) -> String {
        format!("/problems#{}", self.as_str())
    }

    /// HTTP status of the front door's answer.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::Rejected => 422,
            Self::Conflict => 409,
            Self::Auth => 502,
            Self::Transient => 503,
            Self::Timeout => 504,
            Self::Denied => 403,
            Self::Trap | Self::Limit => 500,
            Self::NotFound => 404,
            Self::Unavailable => 503,
            Self::Busy => 429,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one row or item of the input, or one platform detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Index in the caller's input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Platform code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Description.
    pub message: String,
}

/// A failed invocation: which adapter and operation, what kind, and everything known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{adapter}/{op}: {kind}: {message}")]
pub struct InvokeError {
    /// The kind.
    pub kind: ErrorKind,
    /// Adapter instance.
    pub adapter: String,
    /// Operation.
    pub op: String,
    /// What happened, with secrets redacted.
    pub message: String,
    /// The platform's code, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_code: Option<String>,
    /// Per-row details.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
    /// Attempts made.
    pub attempts: u32,
    /// How long the platform asked to wait before another try (a transient failure's
    /// Retry-After), so that a job's next attempt honours it too.
    #[serde(skip)]
    pub retry_after_ms: Option<u64>,
}

impl InvokeError {
    /// An error without platform code or details.
    pub fn new(kind: ErrorKind, adapter: &str, op: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            adapter: adapter.to_string(),
            op: op.to_string(),
            message: message.into(),
            platform_code: None,
            details: Vec::new(),
            attempts: 0,
            retry_after_ms: None,
        }
    }
}

impl InvokeError {
    /// The HTTP status of this error: its kind's, except malformed JSON (400) and well-formed
    /// input whose rows break the platform's rules (422).
    pub fn http_status(&self) -> u16 {
        if self.kind == ErrorKind::InvalidInput && self.message.starts_with("input is not JSON") {
            400
        } else if self.kind == ErrorKind::InvalidInput && !self.details.is_empty() {
            422
        } else {
            self.kind.http_status()
        }
    }

    /// This error as a problem document (RFC 9457) with Weft's members: `kind`, `adapter`,
    /// `op`, `attempts`, and `platform_code` and `details` where there are some. `message`
    /// repeats `detail` for readers of job records written before the problem form.
    pub fn problem(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": self.kind.problem_type(),
            "title": self.kind.title(),
            "status": self.http_status(),
            "detail": self.message,
            "kind": self.kind.as_str(),
            "adapter": self.adapter,
            "op": self.op,
            "attempts": self.attempts,
            "message": self.message,
        });
        if let Some(o) = body.as_object_mut() {
            if let Some(code) = &self.platform_code {
                o.insert("platform_code".into(), serde_json::json!(code));
            }
            if !self.details.is_empty() {
                o.insert("details".into(), serde_json::json!(self.details));
            }
        }
        body
    }
}
