//! Answers to platform-facing routes: a handler returns a [`Result`](crate::Result), and a
//! failure becomes the status a caller reads it by, so that `?` works in a route as it does in
//! an operation.

use crate::http::inbound_json;
use crate::{AdapterError, InboundResponse};
use serde_json::{Value, json};

/// Seconds a `transient` failure asks the sender to wait when it named no wait itself.
const DEFAULT_RETRY_SECONDS: u64 = 5;

/// The answer to a route whose handler failed with `e`: `invalid-input` 400, a `rejected`
/// conflict 409 and any other `rejected` 422, `auth` 401, `transient` 503 with a
/// `Retry-After` (the error's wait, else 5 s): a sender that retries on 5xx sends again, one
/// that does not is told why. The body is `{"error": {kind, code, message, details}}`; an
/// adapter whose platform expects another shape of refusal answers it itself.
pub fn failure(e: &AdapterError) -> InboundResponse {
    let (status, kind, code, message, details) = match e {
        AdapterError::InvalidInput { message, details } => {
            (400, "invalid-input", None, message, &details[..])
        }
        AdapterError::Rejected {
            code,
            message,
            details,
            conflict,
        } => (
            if *conflict { 409 } else { 422 },
            "rejected",
            Some(code.as_str()),
            message,
            &details[..],
        ),
        AdapterError::Auth(message) => (401, "auth", None, message, &[][..]),
        AdapterError::Transient { code, message, .. } => {
            (503, "transient", code.as_deref(), message, &[][..])
        }
    };
    let details: Vec<Value> = details
        .iter()
        .map(|d| json!({"index": d.index, "field": d.field, "code": d.code, "message": d.message}))
        .collect();
    let mut answer = inbound_json(
        status,
        &json!({"error": {"kind": kind, "code": code, "message": message, "details": details}}),
    );
    if let AdapterError::Transient { retry_after_ms, .. } = e {
        let seconds = retry_after_ms.map_or(DEFAULT_RETRY_SECONDS, |ms| ms.div_ceil(1000));
        answer
            .headers
            .push(("retry-after".into(), seconds.to_string()));
    }
    answer
}

/// The answer of a handler's `result`: its response, or [`failure`]'s.
pub fn respond(result: crate::Result<InboundResponse>) -> InboundResponse {
    result.unwrap_or_else(|e| failure(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &InboundResponse) -> Value {
        serde_json::from_slice(&r.body).expect("json")
    }

    #[test]
    fn each_kind_of_failure_answers_its_status() {
        let bad = AdapterError::invalid_input("orderId: required").with_details(vec![
            crate::error::detail(Some(2), Some("orderId"), None, "required"),
        ]);
        let r = failure(&bad);
        assert_eq!(r.status, 400);
        assert_eq!(body(&r)["error"]["details"][0]["index"], 2);
        assert_eq!(failure(&AdapterError::rejected("E7", "closed")).status, 422);
        assert_eq!(
            failure(&AdapterError::rejected("DUP", "already there").conflict()).status,
            409
        );
        assert_eq!(failure(&AdapterError::auth("bad signature")).status, 401);
        let busy = failure(&AdapterError::transient("store busy").retry_after_ms(1500));
        assert_eq!(busy.status, 503);
        assert!(busy.headers.contains(&("retry-after".into(), "2".into())));
        let r = respond(Err(AdapterError::rejected("E7", "closed")));
        assert_eq!(body(&r)["error"]["code"], "E7");
        assert_eq!(respond(Ok(inbound_json(201, &json!({})))).status, 201);
    }
}
