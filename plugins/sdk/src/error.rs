//! The four-way adapter error, with constructors that read like the contract.

use crate::bindings::weft::adapter::types as wit;
use std::fmt;

/// Result of everything an adapter does.
pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// One problem with one row or item of the caller's input.
pub type Detail = wit::Detail;

/// Why an operation failed; the host decides on retries from the case.
#[derive(Debug, Clone)]
pub enum AdapterError {
    /// The caller's input is wrong; nothing was sent.
    InvalidInput {
        /// Summary naming the first problem.
        message: String,
        /// Every problem, with row indexes.
        details: Vec<Detail>,
    },
    /// The platform refused the request.
    Rejected {
        /// Platform code.
        code: String,
        /// Platform message.
        message: String,
        /// Per-row details.
        details: Vec<Detail>,
        /// A duplicate / uniqueness conflict.
        conflict: bool,
    },
    /// The token or the credentials were refused.
    Auth(String),
    /// Worth retrying later.
    Transient {
        /// What failed.
        message: String,
        /// The platform's code, if any.
        code: Option<String>,
        /// Requested wait before the next try.
        retry_after_ms: Option<u64>,
    },
}

impl AdapterError {
    /// The same error with `prefix: ` before its message (e.g. which request of several it
    /// was), whatever its kind.
    pub fn context(self, prefix: impl std::fmt::Display) -> Self {
        match self {
            Self::InvalidInput { message, details } => Self::InvalidInput {
                message: format!("{prefix}: {message}"),
                details,
            },
            Self::Rejected {
                code,
                message,
                details,
                conflict,
            } => Self::Rejected {
                code,
                message: format!("{prefix}: {message}"),
                details,
                conflict,
            },
            Self::Auth(message) => Self::Auth(format!("{prefix}: {message}")),
            Self::Transient {
                message,
                code,
                retry_after_ms,
            } => Self::Transient {
                message: format!("{prefix}: {message}"),
                code,
                retry_after_ms,
            },
        }
    }

    /// The same error with every detail's row index moved by `offset` (a chunk's details, as
    /// indexes into the caller's whole input).
    pub fn shift_indexes(self, offset: usize) -> Self {
        let shift = |details: Vec<Detail>| -> Vec<Detail> {
            details
                .into_iter()
                .map(|mut d| {
                    d.index = d
                        .index
                        .and_then(|i| u32::try_from(offset).ok().map(|o| i.saturating_add(o)));
                    d
                })
                .collect()
        };
        match self {
            Self::InvalidInput { message, details } => Self::InvalidInput {
                message,
                details: shift(details),
            },
            Self::Rejected {
                code,
                message,
                details,
                conflict,
            } => Self::Rejected {
                code,
                message,
                details: shift(details),
                conflict,
            },
            other => other,
        }
    }

    /// The caller's input is wrong.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The platform said no, with its code and message.
    pub fn rejected(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Rejected {
            code: code.into(),
            message: message.into(),
            details: Vec::new(),
            conflict: false,
        }
    }

    /// The token or credentials were refused.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::Auth(message.into())
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            code: None,
            retry_after_ms: None,
        }
    }

    /// A failure worth retrying, carrying the platform's code.
    pub fn transient_code(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            code: Some(code.into()),
            retry_after_ms: None,
        }
    }

    /// Adds per-row details to invalid input or a rejection (other cases are unchanged).
    pub fn with_details(mut self, more: impl IntoIterator<Item = Detail>) -> Self {
        if let Self::Rejected { details, .. } | Self::InvalidInput { details, .. } = &mut self {
            details.extend(more);
        }
        self
    }

    /// Marks a rejection as a duplicate / uniqueness conflict.
    pub fn conflict(mut self) -> Self {
        if let Self::Rejected { conflict, .. } = &mut self {
            *conflict = true;
        }
        self
    }

    /// Sets the wait the platform asked for on a transient failure.
    pub fn retry_after_ms(mut self, ms: u64) -> Self {
        if let Self::Transient { retry_after_ms, .. } = &mut self {
            *retry_after_ms = Some(ms);
        }
        self
    }

    /// True for an auth failure.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Auth(_))
    }

    /// Converts from the generated WIT type.
    pub fn from_wit(e: wit::AdapterError) -> Self {
        match e {
            wit::AdapterError::InvalidInput(p) => Self::InvalidInput {
                message: p.message,
                details: p.details,
            },
            wit::AdapterError::Rejected(r) => Self::Rejected {
                code: r.code,
                message: r.message,
                details: r.details,
                conflict: r.conflict,
            },
            wit::AdapterError::Auth(m) => Self::Auth(m),
            wit::AdapterError::Transient(t) => Self::Transient {
                message: t.message,
                code: t.code,
                retry_after_ms: t.retry_after_ms,
            },
        }
    }

    /// Converts into the generated WIT type.
    pub fn into_wit(self) -> wit::AdapterError {
        match self {
            Self::InvalidInput { message, details } => {
                wit::AdapterError::InvalidInput(wit::InputProblem { message, details })
            }
            Self::Rejected {
                code,
                message,
                details,
                conflict,
            } => wit::AdapterError::Rejected(wit::Rejection {
                code,
                message,
                details,
                conflict,
            }),
            Self::Auth(m) => wit::AdapterError::Auth(m),
            Self::Transient {
                message,
                code,
                retry_after_ms,
            } => wit::AdapterError::Transient(wit::TransientFailure {
                message,
                code,
                retry_after_ms,
            }),
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput { message, .. } => write!(f, "invalid input: {message}"),
            Self::Rejected { code, message, .. } => write!(f, "rejected ({code}): {message}"),
            Self::Auth(m) => write!(f, "auth: {m}"),
            Self::Transient { message, .. } => write!(f, "transient: {message}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// Invalid input listing every problem found in the caller's `list` (e.g. "items"), summarised
/// by the first; `None` when there is no problem.
pub fn invalid_rows(list: &str, problems: Vec<Detail>) -> Option<AdapterError> {
    let first = problems.first()?;
    let summary = format!(
        "{} problem(s) in {list}, first: {list}[{}]{}: {}",
        problems.len(),
        first.index.unwrap_or_default(),
        first
            .field
            .as_ref()
            .map(|f| format!(".{f}"))
            .unwrap_or_default(),
        first.message
    );
    Some(AdapterError::invalid_input(summary).with_details(problems))
}

/// A detail about the row at `index` of the caller's input.
pub fn detail(
    index: Option<usize>,
    field: Option<&str>,
    code: Option<&str>,
    message: impl Into<String>,
) -> Detail {
    Detail {
        index: index.and_then(|i| u32::try_from(i).ok()),
        field: field.map(str::to_string),
        code: code.map(str::to_string),
        message: message.into(),
    }
}
