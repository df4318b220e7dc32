//! Manifests: one TOML file per adapter instance, parsed once into typed values.
//!
//! Loading is strict (an unknown key is an error), interpolates `${VAR}` / `${VAR:-default}` in
//! string values, resolves secret references, and reports every problem as
//! `FILE: KEY: what was expected, what was found`.

pub mod interpolate;
mod journal;
mod keys;
mod secrets;
mod units;
mod validate;

use validate::validate;

pub use crate::cadence::{Cadence, Zone};
pub use interpolate::interpolate;
pub use journal::{ItemsPolicy, JournalPolicy, Keep};
pub use keys::KEYS;
pub use secrets::{SecretRef, SecretValue};
pub use units::{ByteSize, Duration, Rate, RefreshWindow};
pub use validate::valid_name;

use crate::egress::allowed::{AllowedHosts, HostPattern};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A manifest problem, naming the file, the key path and what was expected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// Dotted key path (`limits.memory`), or a line/column for syntax errors; empty if neither.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl ManifestError {
    fn new(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One adapter instance, as ops configured it. Everything here is validated.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it was read from.
    pub file: PathBuf,
    /// Instance name: the front door's `{name}`, the storage namespace, the token cache key.
    pub name: String,
    /// The component file (resolved against the manifest's folder).
    pub component: PathBuf,
    /// The platform's base URL, if the manifest names one (handed to the adapter as
    /// `config.base_url`).
    pub base_url: Option<url::Url>,
    /// Hosts the adapter may call.
    pub allowed_hosts: AllowedHosts,
    /// Whether platform requests carry the call's W3C `traceparent` (off by default: a
    /// platform learns nothing of Weft's traces unless the manifest says so).
    pub trace_propagation: bool,
    /// Secrets, resolved at load.
    pub secrets: BTreeMap<String, SecretValue>,
    /// Token cache policy.
    pub token: TokenPolicy,
    /// Resource limits.
    pub limits: Limits,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Schedules calling `on-schedule`.
    pub schedules: Vec<Schedule>,
    /// Platform-facing routes, served at `/inbound/{name}{path}`.
    pub routes: Vec<Route>,
    /// Which calls' platform exchanges are kept, and how much of them.
    pub journal: JournalPolicy,
    /// What refused items do to a call.
    pub items: ItemsPolicy,
    /// The adapter's own `[config]`, as JSON, `base_url` included.
    pub config: serde_json::Value,
}

/// `[token]`: how the host's token cache treats this adapter's tokens.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenPolicy {
    /// Refresh once a token is this close to expiry: a duration ("5m") or a share of its
    /// lifetime ("10%").
    pub refresh_window: RefreshWindow,
    /// Never call `fetch-token` more often than this (the token endpoint's rate limit).
    pub min_fetch_interval: Duration,
    /// Lifetime of a grant that does not say how long it lives.
    pub default_ttl: Duration,
    /// Fetch a token as soon as the adapter is loaded.
    pub refresh_at_startup: bool,
    /// How long one `fetch-token` may take.
    pub fetch_timeout: Duration,
    /// Platform codes that mean "the token is no longer good": a call failing with one of
    /// them is treated like `auth` (the token it used is invalidated and the call runs once
    /// more).
    pub refresh_on: Vec<String>,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            refresh_window: RefreshWindow::Fixed(Duration::secs(300)),
            min_fetch_interval: Duration::secs(1),
            default_ttl: Duration::secs(3600),
            refresh_at_startup: false,
            fetch_timeout: Duration::secs(30),
            refresh_on: Vec::new(),
        }
    }
}

/// `[limits]`: what one call of this adapter may use.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory of one instance (all its memories together).
    pub memory: ByteSize,
    /// CPU time one call may spend executing WebAssembly (host calls excluded).
    pub cpu_time: Duration,
    /// Wall-clock time of one call, host calls and retries included.
    pub timeout: Duration,
    /// Calls of this adapter running at once; more wait their turn.
    pub concurrency: u32,
    /// Calls that may wait for a turn; past that, callers are told `busy` (HTTP 429) at once
    /// instead of queueing. Unset: every caller waits, up to its deadline.
    pub queue: Option<u32>,
    /// Timeout of one outbound HTTP request.
    pub http_timeout: Duration,
    /// Largest outbound request body.
    pub http_request: ByteSize,
    /// Largest outbound response body.
    pub http_response: ByteSize,
    /// Largest storage value.
    pub storage_value: ByteSize,
    /// Bytes of storage (keys and values together) the adapter may hold; a write past it is
    /// refused, so that one adapter cannot fill the disk every other one shares.
    pub storage: ByteSize,
    /// Keys the adapter may hold in storage.
    pub storage_keys: u64,
    /// Largest operation input or inbound body accepted by the front door.
    pub request_body: ByteSize,
    /// Outbound requests of this adapter instance, across every process sharing the store.
    pub rate: Option<Rate>,
    /// Outbound requests made by `fetch-token` (the token endpoint's own budget).
    pub token_rate: Option<Rate>,
    /// Outbound requests one call may send at most, whatever `rate` says: a loop gone wrong
    /// (or a hostile adapter) stops at it instead of flooding the platform.
    pub requests_per_call: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: ByteSize::mib(64),
            cpu_time: Duration::secs(5),
            timeout: Duration::secs(60),
            concurrency: 8,
            queue: None,
            http_timeout: Duration::secs(30),
            http_request: ByteSize::mib(16),
            http_response: ByteSize::mib(16),
            storage_value: ByteSize::mib(1),
            storage: ByteSize::mib(256),
            storage_keys: 100_000,
            request_body: ByteSize::mib(8),
            rate: None,
            token_rate: None,
            requests_per_call: 1000,
        }
    }
}

/// `[retry]`: how transient failures are retried.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means never retry).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time, with full jitter.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::millis(200),
            max_backoff: Duration::secs(30),
        }
    }
}

/// `[[schedules]]`: an `on-schedule(name)` call on a fixed period or a cron expression.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Name passed to `on-schedule`.
    pub name: String,
    /// Fixed period, e.g. "6m".
    pub every: Option<Duration>,
    /// Cron expression (5 fields, or 6 with seconds), e.g. "50 23 * * *".
    pub cron: Option<String>,
    /// UTC offset the cron expression is read in, e.g. "+08:00" (default UTC).
    pub utc_offset: Option<String>,
    /// IANA time zone the cron expression is read in, e.g. "Asia/Shanghai" (daylight saving
    /// included); instead of `utc_offset`.
    pub time_zone: Option<String>,
    /// Run once at start-up if ticks were missed while Weft was down.
    #[serde(default)]
    pub catch_up: bool,
    /// `every` or `cron`, parsed at load.
    #[serde(skip)]
    pub cadence: Option<Cadence>,
}

/// `[[routes]]`: a platform-facing route, authenticated by the host.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Name passed to `handle-inbound`.
    pub name: String,
    /// HTTP method, e.g. "POST".
    pub method: String,
    /// Path below `/inbound/{adapter}`, starting with `/`.
    pub path: String,
    /// How the host authenticates callers before the adapter sees the request.
    pub auth: InboundAuth,
}

/// How an inbound route is authenticated; secrets are names from `[secrets]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum InboundAuth {
    /// No authentication (say so explicitly).
    None,
    /// A header whose value must equal the secret.
    Header {
        /// Header name.
        header: String,
        /// Secret name.
        secret: String,
    },
    /// HTTP Basic with this user name and the secret as password.
    Basic {
        /// User name.
        username: String,
        /// Secret name.
        secret: String,
    },
    /// Hex HMAC-SHA256 of `TIMESTAMP.BODY` (or of the body alone without `timestamp_header`)
    /// in `header`, keyed by the secret; the timestamp (unix seconds) must be within `window`.
    Hmac {
        /// Header carrying the signature (optionally prefixed `sha256=`).
        header: String,
        /// Secret name.
        secret: String,
        /// Header carrying the unix-seconds timestamp that is signed with the body.
        timestamp_header: Option<String>,
        /// Largest clock difference accepted (into the past; the future is held to 30 s).
        #[serde(default = "default_window")]
        window: Duration,
        /// `"allowed"` lets a route without `timestamp_header` take a signed request more
        /// than once; without a timestamp nothing else can tell a replay from a resend.
        replay: Option<String>,
    },
}

fn default_window() -> Duration {
    Duration::secs(300)
}

/// The file as written, before semantic checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    component: PathBuf,
    base_url: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    trace_propagation: bool,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    token: TokenPolicy,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    retry: RetryPolicy,
    #[serde(default)]
    schedules: Vec<Schedule>,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    journal: JournalPolicy,
    #[serde(default)]
    items: ItemsPolicy,
    #[serde(default)]
    config: toml::Table,
}

/// Reads and validates the manifest at `path`, with `env` for interpolation and secrets.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Manifest, ManifestError> {
    let bytes = crate::files::read_regular(path, crate::files::MAX_MANIFEST)
        .map_err(|e| ManifestError::new(path, "", format!("cannot be read: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ManifestError::new(path, "", "is not UTF-8 text".to_string()))?;
    parse(path, &text, env)
}

/// Parses manifest `text` as if read from `path` (used by `load` and by tests).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(path, text, &e))?;
    let mut substituted = Vec::new();
    interpolate::interpolate_table(&mut table, "", env, &mut substituted)
        .map_err(|(key, message)| ManifestError::new(path, key, message))?;
    let checked = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            ManifestError::new(path, key, e.into_inner().message().to_string())
        })
        .and_then(|raw: RawManifest| validate(path, raw, env));
    // An error about an interpolated value names the reference ("${MEMORY}"), never the
    // environment's value, which may be a secret someone put in the wrong variable.
    checked.map_err(|mut e| {
        for (written, value) in &substituted {
            if value.len() >= 2 {
                e.message = e.message.replace(value.as_str(), written);
            }
        }
        e
    })
}

fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> ManifestError {
    let position = e
        .span()
        .map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}")
        })
        .unwrap_or_default();
    ManifestError::new(path, position, format!("invalid TOML: {}", e.message()))
}

/// Every `*.toml` file in `dir`, sorted by name.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The manifest in `dir` of adapter `name`, parsed without loading its component (for what a
/// command needs of it without a host, such as its `[retry]`). `None`: no readable manifest
/// names it.
pub fn named(dir: &Path, name: &str) -> Option<Manifest> {
    let env = |v: &str| std::env::var(v).ok();
    files_in(dir).ok()?.into_iter().find_map(|file| {
        let text = crate::files::read_regular(&file, crate::files::MAX_MANIFEST).ok()?;
        let text = String::from_utf8(text).ok()?;
        parse(&file, &text, &env).ok().filter(|m| m.name == name)
    })
}
