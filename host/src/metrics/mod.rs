//! Prometheus metrics, recorded by the capabilities and served by the front door.

mod labels;
mod process;
mod record;

pub use labels::*;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Every metric the host records.
pub struct Metrics {
    registry: Registry,
    /// Invocations by adapter, op and outcome.
    pub invocations: Family<CallLabels, Counter>,
    /// Invocation duration in seconds.
    pub invocation_seconds: Family<CallLabels, Histogram>,
    /// Errors by kind.
    pub errors: Family<ErrorLabels, Counter>,
    /// Items of partial successes, by adapter and outcome (accepted, rejected).
    pub items: Family<ItemLabels, Counter>,
    /// Journals of succeeded calls shed because the store's writer was behind.
    pub journal_shed: Family<AdapterLabels, Counter>,
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
    /// Front-door requests by route template, method and status class.
    pub front_requests: Family<FrontLabels, Counter>,
    /// Front-door request duration by route template.
    pub front_seconds: Family<RouteLabels, Histogram>,
    /// Inbound requests by adapter, route and outcome.
    pub inbound_requests: Family<InboundLabels, Counter>,
    /// Outbound request duration by adapter and host.
    pub outbound_seconds: Family<HostLabels, Histogram>,
    /// Adapter status (1 for the current status), refreshed at each scrape.
    pub adapter_status: Family<StatusLabels, Gauge>,
    /// When each adapter's token (scope "") expires, Unix seconds; refreshed at each scrape.
    pub token_expiry: Family<AdapterLabels, Gauge>,
    /// When each schedule last succeeded, Unix seconds.
    pub schedule_last_success: Family<ScheduleNameLabels, Gauge>,
    /// Each schedule's interval between its last tick and its next, seconds: what an alert
    /// compares the age of its last success with.
    pub schedule_period: Family<ScheduleNameLabels, Gauge>,
    /// Time from a job's due time to its claim, seconds.
    pub job_lag_seconds: Family<AdapterLabels, Histogram>,
    /// Job attempt duration by outcome, seconds.
    pub job_attempt_seconds: Family<AttemptLabels, Histogram>,
    /// Always 1, labelled with the version.
    pub build_info: Family<BuildLabels, Gauge>,
    /// Resident memory of this process, bytes (refreshed at each scrape).
    pub process_rss: Gauge,
    /// CPU time this process used, seconds (user + system, refreshed at each scrape).
    pub process_cpu: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Open file descriptors of this process (refreshed at each scrape).
    pub process_fds: Gauge,
    /// Failed store calls by class (refreshed from the store's health at each scrape).
    pub store_errors: Family<StoreErrorLabels, Counter>,
    /// 1 for an adapter an operator paused, 0 otherwise (refreshed at each scrape).
    pub adapter_paused: Family<AdapterLabels, Gauge>,
    /// How long the adapter's oldest queued job has been due, seconds (0: nothing waits).
    pub queue_lag: Family<AdapterLabels, Gauge>,
    /// The last hour of each adapter, minute by minute (the console's charts).
    pub recent: crate::recent::Recent,
    /// When the jobs table was last counted for a scrape.
    counted_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Default for Metrics {
    /// Every metric made and registered, one after the other, in the order `/metrics` lists
    /// them. Long because the metrics are many, not because it decides anything: a table read
    /// top to bottom, which split in parts would only scatter.
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft");
        let invocations = Family::<CallLabels, Counter>::default();
        let invocation_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let errors = Family::<ErrorLabels, Counter>::default();
        let items = Family::<ItemLabels, Counter>::default();
        let journal_shed = Family::<AdapterLabels, Counter>::default();
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
        let front_requests = Family::<FrontLabels, Counter>::default();
        let front_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let inbound_requests = Family::<InboundLabels, Counter>::default();
        let outbound_seconds = Family::<HostLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let adapter_status = Family::<StatusLabels, Gauge>::default();
        let token_expiry = Family::<AdapterLabels, Gauge>::default();
        let schedule_last_success = Family::<ScheduleNameLabels, Gauge>::default();
        let schedule_period = Family::<ScheduleNameLabels, Gauge>::default();
        let job_lag_seconds = Family::<AdapterLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 20))
        });
        let job_attempt_seconds = Family::<AttemptLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 20))
        });
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        let process_rss = Gauge::default();
        let process_cpu = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let process_fds = Gauge::default();
        let store_errors = Family::<StoreErrorLabels, Counter>::default();
        let adapter_paused = Family::<AdapterLabels, Gauge>::default();
        let queue_lag = Family::<AdapterLabels, Gauge>::default();
        registry.register(
            "adapter_queue_lag_seconds",
            "How long the adapter's oldest queued job has been due (0: nothing waits): the wait its next job sees",
            queue_lag.clone(),
        );
        registry.register(
            "adapter_paused",
            "1 while an operator has paused the adapter's jobs and schedules",
            adapter_paused.clone(),
        );
        registry.register(
            "store_errors",
            "Failed store calls by class: full, corrupt, io, unreachable, stalled (past --store-timeout), other",
            store_errors.clone(),
        );
        registry.register(
            "front_requests",
            "Front-door requests by route template, method and status class",
            front_requests.clone(),
        );
        registry.register_with_unit(
            "front_request_duration",
            "Front-door request duration by route template",
            prometheus_client::registry::Unit::Seconds,
            front_seconds.clone(),
        );
        registry.register(
            "inbound_requests",
            "Platform-facing requests by adapter, route and outcome",
            inbound_requests.clone(),
        );
        registry.register_with_unit(
            "outbound_request_duration",
            "Outbound platform request duration by adapter and host",
            prometheus_client::registry::Unit::Seconds,
            outbound_seconds.clone(),
        );
        registry.register(
            "adapter_status",
            "1 for each adapter's current status (ready, stale, failed)",
            adapter_status.clone(),
        );
        registry.register_with_unit(
            "token_expiry_timestamp",
            "When each adapter's cached token expires (Unix time)",
            prometheus_client::registry::Unit::Seconds,
            token_expiry.clone(),
        );
        registry.register_with_unit(
            "schedule_last_success_timestamp",
            "When each schedule last succeeded (Unix time)",
            prometheus_client::registry::Unit::Seconds,
            schedule_last_success.clone(),
        );
        registry.register_with_unit(
            "schedule_period",
            "Each schedule's interval from its last tick to its next",
            prometheus_client::registry::Unit::Seconds,
            schedule_period.clone(),
        );
        registry.register_with_unit(
            "job_start_lag",
            "Time from a job's due time to the start of its attempt",
            prometheus_client::registry::Unit::Seconds,
            job_lag_seconds.clone(),
        );
        registry.register_with_unit(
            "job_attempt_duration",
            "Job attempt duration by outcome",
            prometheus_client::registry::Unit::Seconds,
            job_attempt_seconds.clone(),
        );
        registry.register("build_info", "Weft's version", build_info.clone());
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory of this process",
            prometheus_client::registry::Unit::Bytes,
            process_rss.clone(),
        );
        registry.register_with_unit(
            "process_cpu",
            "CPU time used by this process (user + system)",
            prometheus_client::registry::Unit::Seconds,
            process_cpu.clone(),
        );
        registry.register(
            "process_open_fds",
            "Open file descriptors of this process",
            process_fds.clone(),
        );
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
            "items",
            "Items the adapters reported, by outcome: accepted, or rejected by the platform in an answer that succeeded",
            items.clone(),
        );
        registry.register(
            "journal_shed",
            "Journals of succeeded calls ([journal] keep = \"all\") not kept because the store's writer was behind",
            journal_shed.clone(),
        );
        registry.register(
            "outbound_requests",
            "Outbound platform requests by adapter, host and status",
            http_requests.clone(),
        );
        registry.register(
            "token_fetches",
            "Calls of an adapter's fetch-token",
            token_fetches.clone(),
        );
        registry.register(
            "cluster_jobs",
            "Jobs in the shared store by adapter and state: the whole cluster's, the same on every node (aggregate with max, not sum)",
            jobs.clone(),
        );
        registry.register(
            "schedule_runs",
            "Schedule runs by outcome",
            schedule_runs.clone(),
        );
        Self {
            recent: crate::recent::Recent::default(),
            counted_at: std::sync::Mutex::default(),
            registry,
            invocations,
            invocation_seconds,
            errors,
            items,
            journal_shed,
            http_requests,
            token_fetches,
            jobs,
            schedule_runs,
            adapter_loads,
            export_calls,
            export_seconds,
            jobs_pruned,
            front_refusals,
            front_requests,
            front_seconds,
            inbound_requests,
            outbound_seconds,
            adapter_status,
            token_expiry,
            schedule_last_success,
            schedule_period,
            job_lag_seconds,
            job_attempt_seconds,
            build_info,
            process_rss,
            process_cpu,
            process_fds,
            store_errors,
            adapter_paused,
            queue_lag,
        }
    }
}

/// `status` as a class: `2xx`, `4xx`…
fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
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
