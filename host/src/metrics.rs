//! Prometheus metrics, recorded by the capabilities and served by the front door.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an invocation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Operation (or `fetch-token`, `on-schedule:NAME`).
    pub op: String,
    /// `ok` or the error kind.
    pub outcome: String,
}

/// Labels of an error count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Error kind.
    pub kind: String,
}

/// Labels of an outbound request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Target host.
    pub host: String,
    /// Status code, or the failure (`denied`, `timeout`, `connect`, `too-large`).
    pub status: String,
}

/// Labels of a token fetch.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// Adapter instance.
    pub adapter: String,
    /// `ok` or the failure.
    pub outcome: String,
}

/// Every metric the host records.
pub struct Metrics {
    registry: Registry,
    /// Invocations by adapter, op and outcome.
    pub invocations: Family<CallLabels, Counter>,
    /// Invocation duration in seconds.
    pub invocation_seconds: Family<CallLabels, Histogram>,
    /// Errors by kind.
    pub errors: Family<ErrorLabels, Counter>,
    /// Outbound HTTP requests.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Token fetches (`fetch-token` calls).
    pub token_fetches: Family<TokenLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft");
        let invocations = Family::<CallLabels, Counter>::default();
        let invocation_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let errors = Family::<ErrorLabels, Counter>::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let token_fetches = Family::<TokenLabels, Counter>::default();
        registry.register("invocations", "Adapter invocations", invocations.clone());
        registry.register(
            "invocation_duration_seconds",
            "Adapter invocation duration",
            invocation_seconds.clone(),
        );
        registry.register("errors", "Invocation errors by kind", errors.clone());
        registry.register(
            "http_requests",
            "Outbound HTTP requests by host and status",
            http_requests.clone(),
        );
        registry.register(
            "token_fetches",
            "Calls of an adapter's fetch-token",
            token_fetches.clone(),
        );
        Self {
            registry,
            invocations,
            invocation_seconds,
            errors,
            http_requests,
            token_fetches,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
