//! What the front door records of every request: a request id (the caller's `X-Request-Id`, or
//! a new one), returned in the answer and carried by every log line of the request through a
//! tracing span; one access-log line; and the request counted and timed by route template and
//! status class — never by the raw path, which the caller chooses.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The header carrying a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// A request id as the front door accepts it from a caller: at most 128 visible ASCII
/// characters, so that it cannot forge log lines or grow without bound.
fn accepted_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| text.to_string())
}

/// The request id of a request, for handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Records the request (see the module doc).
pub(crate) async fn observe(
    axum::extract::State(metrics): axum::extract::State<Arc<crate::metrics::Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(accepted_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().clone();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    // A caller's W3C trace context makes this request a child of the caller's span.
    {
        use opentelemetry::propagation::TextMapPropagator;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let carrier = HeaderCarrier(request.headers());
        let parent =
            opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
        let _ = span.set_parent(parent);
    }
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics.record_front_request(&route, method.as_str(), status, elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_millis() as u64,
            "{method} {route} answered {status}"
        )
    });
    response
}

/// Request headers as an OpenTelemetry text map.
struct HeaderCarrier<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
