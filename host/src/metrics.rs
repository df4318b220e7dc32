//! Prometheus metrics, recorded by the capabilities and served by the front door.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

/// Labels of the job queue depth.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Job state.
    pub state: String,
}

/// Labels of a schedule run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScheduleLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Schedule name.
    pub schedule: String,
    /// `ok` or the error kind.
    pub outcome: String,
}

/// Labels of an adapter load.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoadLabels {
    /// Adapter instance (the manifest's file name when it could not be read).
    pub adapter: String,
    /// `published` or `failed`.
    pub outcome: String,
}

/// Labels of one export call (whatever the export: invoke, fetch-token, handle-inbound,
/// on-schedule, describe).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExportLabels {
    /// Adapter instance.
    pub adapter: String,
    /// The export called.
    pub export: String,
    /// `ok` or the error kind.
    pub outcome: String,
}

/// Labels of a request the front door refused before any handler ran.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `host`, `origin`, `content-type`, `unauthenticated`, `forbidden`.
    pub reason: String,
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
    /// Jobs by adapter and state, refreshed at each scrape.
    pub jobs: Family<JobLabels, Gauge>,
    /// Schedule runs.
    pub schedule_runs: Family<ScheduleLabels, Counter>,
    /// Adapter versions loaded by (re)loads, and loads that failed.
    pub adapter_loads: Family<LoadLabels, Counter>,
    /// Calls of every export, one per instance.
    pub export_calls: Family<ExportLabels, Counter>,
    /// Duration of each export call, in seconds.
    pub export_seconds: Family<ExportLabels, Histogram>,
    /// Finished jobs pruned by retention.
    pub jobs_pruned: Counter,
    /// Control-plane requests refused by the front door's checks, by reason.
    pub front_refusals: Family<RefusalLabels, Counter>,
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
        let jobs = Family::<JobLabels, Gauge>::default();
        let schedule_runs = Family::<ScheduleLabels, Counter>::default();
        let adapter_loads = Family::<LoadLabels, Counter>::default();
        let export_calls = Family::<ExportLabels, Counter>::default();
        let export_seconds = Family::<ExportLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let jobs_pruned = Counter::default();
        let front_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "front_refusals",
            "Control-plane requests refused (host, origin, content type, token, scope)",
            front_refusals.clone(),
        );
        registry.register(
            "adapter_loads",
            "Adapter versions published by (re)loads, and failed loads",
            adapter_loads.clone(),
        );
        registry.register(
            "export_calls",
            "Calls of an adapter export, by export and outcome",
            export_calls.clone(),
        );
        registry.register(
            "export_call_duration_seconds",
            "Duration of one export call",
            export_seconds.clone(),
        );
        registry.register(
            "jobs_pruned",
            "Finished jobs removed by retention",
            jobs_pruned.clone(),
        );
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
        registry.register("jobs", "Jobs by adapter and state", jobs.clone());
        registry.register(
            "schedule_runs",
            "Schedule runs by outcome",
            schedule_runs.clone(),
        );
        Self {
            registry,
            invocations,
            invocation_seconds,
            errors,
            http_requests,
            token_fetches,
            jobs,
            schedule_runs,
            adapter_loads,
            export_calls,
            export_seconds,
            jobs_pruned,
            front_refusals,
        }
    }
}

impl Metrics {
    /// Counts one adapter load (`published`) or failed load.
    pub fn record_load(&self, adapter: &str, published: bool) {
        self.adapter_loads
            .get_or_create(&LoadLabels {
                adapter: adapter.to_string(),
                outcome: if published { "published" } else { "failed" }.to_string(),
            })
            .inc();
    }

    /// Sets the job gauges from the store's counts (states without jobs read 0).
    pub fn set_job_counts(&self, counts: &[(String, crate::store::JobState, i64)]) {
        use crate::store::JobState;
        let adapters: std::collections::BTreeSet<&str> =
            counts.iter().map(|(a, _, _)| a.as_str()).collect();
        for adapter in adapters {
            for state in [
                JobState::Queued,
                JobState::Running,
                JobState::Succeeded,
                JobState::Dead,
                JobState::Cancelled,
            ] {
                let n = counts
                    .iter()
                    .find(|(a, s, _)| a == adapter && *s == state)
                    .map_or(0, |(_, _, n)| *n);
                self.jobs
                    .get_or_create(&JobLabels {
                        adapter: adapter.to_string(),
                        state: state.as_str().to_string(),
                    })
                    .set(n);
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
