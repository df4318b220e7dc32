//! The label sets of every metric. Each is a closed set of names Weft chooses (adapter names
//! come from the registry, status codes are folded into classes), so that no caller can make the
//! number of series grow.

use prometheus_client::encoding::EncodeLabelSet;

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

/// Labels of an item count (partial success).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    /// Adapter instance.
    pub adapter: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
}

/// Labels of a front-door request: the route template, never the raw path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrontLabels {
    /// Route template, e.g. `/v1/adapters/{name}/ops/{op}`, or `unmatched`.
    pub route: String,
    /// Method.
    pub method: String,
    /// `2xx`, `4xx`, `5xx`…
    pub status: String,
}

/// Labels of a front-door request's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route template.
    pub route: String,
}

/// Labels of an inbound (platform-facing) request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InboundLabels {
    /// Adapter instance (a loaded one: an unknown name is never a label).
    pub adapter: String,
    /// Declared route name.
    pub route: String,
    /// `ok`, `refused` (auth), `too-large`, `error`, or the adapter's status class.
    pub outcome: String,
}

/// Labels of an outbound request's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Target host (`denied` when the allow-list refused it, so that an adapter cannot grow
    /// the series with made-up hosts).
    pub host: String,
}

/// Labels naming one adapter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdapterLabels {
    /// Adapter instance.
    pub adapter: String,
}

/// Labels of an adapter's load status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// Adapter instance (the manifest's file name when it failed).
    pub adapter: String,
    /// `ready`, `stale` or `failed`.
    pub status: String,
}

/// Labels of a schedule.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScheduleNameLabels {
    /// Adapter instance.
    pub adapter: String,
    /// Schedule name.
    pub schedule: String,
}

/// Labels of a finished job attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// Adapter instance.
    pub adapter: String,
    /// `succeeded`, `retry`, `dead`, `released`.
    pub outcome: String,
}

/// Labels of the build.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// Weft's version.
    pub version: String,
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

/// Labels of a failed store call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreErrorLabels {
    /// `full`, `corrupt`, `io`, `unreachable`, `stalled` or `other`.
    pub class: String,
}
