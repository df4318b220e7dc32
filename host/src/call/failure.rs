//! What a failed attempt becomes: the caller's error (named, scrubbed of the call's secrets and
//! tokens), and what the retry loop does next.

use super::LoadedAdapter;
use crate::bindings::{guest, types};
use crate::error::{Detail, ErrorKind, InvokeError};

/// The message of a WIT adapter error, with the platform code where there is one.
pub(crate) fn error_message(e: &guest::AdapterError) -> String {
    match e {
        types::AdapterError::InvalidInput(p) => p.message.clone(),
        types::AdapterError::Rejected(r) => format!("{} (platform code {})", r.message, r.code),
        types::AdapterError::Auth(m) => m.clone(),
        types::AdapterError::Transient(t) => t.message.clone(),
    }
}

fn details(list: &[types::Detail], redactor: &crate::redact::Redactor) -> Vec<Detail> {
    list.iter()
        .map(|d| Detail {
            index: d.index,
            field: d.field.clone(),
            code: d.code.clone(),
            message: redactor.scrub(&d.message),
        })
        .collect()
}

impl LoadedAdapter {
    /// What the retry loop does after an attempt the adapter failed with `error` (mapped to
    /// `e`); `may_refresh`: no token was refreshed yet in this call, and the attempt used one.
    pub(super) fn after_failure(
        &self,
        error: &types::AdapterError,
        e: &InvokeError,
        may_refresh: bool,
    ) -> AfterFailure {
        // The manifest may name platform codes that mean "token no longer good". An auth
        // failure with no token used came from the token endpoint itself: another fetch with
        // the same credentials would fail the same way.
        let token_refused = matches!(error, types::AdapterError::Auth(_))
            || e.platform_code
                .as_ref()
                .is_some_and(|c| self.manifest.token.refresh_on.contains(c));
        match (error, e.kind) {
            _ if token_refused && may_refresh => AfterFailure::FreshToken,
            (types::AdapterError::Transient(t), ErrorKind::Transient) => {
                AfterFailure::Later(t.retry_after_ms)
            }
            _ => AfterFailure::Stop,
        }
    }

    /// Maps the adapter's error to the caller's, naming adapter and operation.
    pub(super) fn map_error(
        &self,
        op: &str,
        e: &guest::AdapterError,
        denied: Option<&str>,
        redactor: &crate::redact::Redactor,
    ) -> InvokeError {
        let name = &self.manifest.name;
        // The call's redactor: it knows the tokens this call was handed, not only the secrets.
        let scrub = |s: &str| redactor.scrub(s);
        // A send the host refused (the allow-list, the per-call request cap) explains the
        // failure better than whatever the adapter made of it.
        if let Some(why) = denied {
            return InvokeError::new(
                ErrorKind::Denied,
                name,
                op,
                format!("adapter {name} {}", scrub(why)),
            );
        }
        match e {
            types::AdapterError::InvalidInput(p) => {
                let mut out =
                    InvokeError::new(ErrorKind::InvalidInput, name, op, scrub(&p.message));
                out.details = details(&p.details, redactor);
                out
            }
            types::AdapterError::Rejected(r) => {
                let kind = if r.conflict {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::Rejected
                };
                let mut out = InvokeError::new(kind, name, op, scrub(&r.message));
                out.platform_code = Some(r.code.clone());
                out.details = details(&r.details, redactor);
                out
            }
            types::AdapterError::Auth(m) => InvokeError::new(ErrorKind::Auth, name, op, scrub(m)),
            types::AdapterError::Transient(t) => {
                let mut out = InvokeError::new(ErrorKind::Transient, name, op, scrub(&t.message));
                out.platform_code = t.code.clone();
                out.retry_after_ms = t.retry_after_ms;
                out
            }
        }
    }
}

/// What the retry loop of one call does after an attempt that failed.
pub(super) enum AfterFailure {
    /// Invalidate the tokens the attempt used and run again at once (once per call).
    FreshToken,
    /// Run again after the backoff (the platform's `Retry-After`, in ms, if it gave one), if
    /// attempts and time are left.
    Later(Option<u64>),
    /// The failure is the call's answer.
    Stop,
}
