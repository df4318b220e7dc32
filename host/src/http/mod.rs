//! Outbound HTTP for adapters: allow-list, timeouts, size caps, metrics and redacted logs.

mod guest;
mod recorder;

pub use guest::HttpView;
pub use recorder::{Recorded, Recorder};

use crate::egress::allowed::AllowedHosts;
use crate::egress::resolve;
use crate::metrics::{HttpLabels, Metrics};
use crate::redact::{self, Redactor};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// A request as an adapter sent it, in host types.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Upper-case method.
    pub method: reqwest::Method,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Requested timeout.
    pub timeout: Option<Duration>,
}

/// The platform's answer.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// Status code.
    pub status: u16,
    /// Headers (values that are not UTF-8 are passed lossily).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request got no answer; mirrors the WIT `http-error`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// Not allowed by the manifest; nothing was sent.
    #[error("denied: {0}")]
    Denied(String),
    /// No complete answer in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The connection broke after the request may have gone out.
    #[error("connect: {0}")]
    Connect(String),
    /// No connection could be made: nothing reached the platform.
    #[error("connect: {0}")]
    Unreached(String),
    /// Request or answer too large.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Malformed request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl HttpError {
    /// True when the request may have reached the platform and no answer came back: a step
    /// that sent it cannot know whether the platform did the work.
    pub fn unanswered(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Connect(_))
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Self::Denied(_) => "denied",
            Self::Timeout(_) => "timeout",
            Self::Connect(_) | Self::Unreached(_) => "connect",
            Self::TooLarge(_) => "too-large",
            Self::InvalidRequest(_) => "invalid-request",
        }
    }
}

/// Settings of one adapter's HTTP capability, from its manifest.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Hosts the adapter may call.
    pub allowed: AllowedHosts,
    /// Longest timeout of one request.
    pub timeout: Duration,
    /// Largest request body.
    pub max_request: u64,
    /// Largest response body.
    pub max_response: u64,
    /// Whether requests carry the current trace's `traceparent`.
    pub propagate_trace: bool,
}

/// One adapter instance's HTTP client; built once at load.
pub struct HttpCapability {
    adapter: String,
    policy: HttpPolicy,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

/// Redirects followed at most; each hop is checked against the allow-list.
const MAX_REDIRECTS: usize = 5;

impl HttpCapability {
    /// Builds the client for `adapter`.
    pub fn new(
        adapter: &str,
        policy: HttpPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, HttpError> {
        let allowed = policy.allowed.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match allowed.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(format!("redirect refused: {why}")),
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirect)
            .dns_resolver(Arc::new(resolve::GuardedResolver::new(
                policy.allowed.internal_grants(),
            )))
            .no_proxy()
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                HttpError::InvalidRequest(format!("HTTP client could not be built: {e}"))
            })?;
        Ok(Self {
            adapter: adapter.to_string(),
            policy,
            client,
            metrics,
        })
    }

    /// Sends `req`, finishing before `deadline`; secrets in `redactor` never reach the log.
    pub async fn send(
        &self,
        req: OutboundRequest,
        deadline: Instant,
        redactor: &Redactor,
    ) -> Result<OutboundResponse, HttpError> {
        let url = url::Url::parse(&req.url).map_err(|e| {
            HttpError::InvalidRequest(format!("URL {:?}: {e}", redactor.scrub(&req.url)))
        })?;
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            "platform request",
            adapter = %self.adapter,
            method = %req.method,
            host = url.host_str().unwrap_or(""),
            status = tracing::field::Empty,
        );
        let mut req = req;
        if self.policy.propagate_trace {
            inject_traceparent(&span, &mut req.headers);
        }
        let result = self
            .send_checked(&url, req, deadline, redactor)
            .instrument(span.clone())
            .await;
        if let Ok(r) = &result {
            span.record("status", r.status);
        }
        let status = match &result {
            Ok(r) => r.status.to_string(),
            Err(e) => e.metric_label().to_string(),
        };
        // A refused host is the adapter's choice, not the manifest's: never a label value.
        let host = match &result {
            Err(HttpError::Denied(_)) => "denied".to_string(),
            _ => url.host_str().unwrap_or("").to_string(),
        };
        self.metrics
            .outbound_seconds
            .get_or_create(&crate::metrics::HostLabels {
                adapter: self.adapter.clone(),
                host: host.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.metrics.recent.record_outbound(&self.adapter, &status);
        self.metrics
            .http_requests
            .get_or_create(&HttpLabels {
                adapter: self.adapter.clone(),
                host,
                status,
            })
            .inc();
        result
    }

    async fn send_checked(
        &self,
        url: &url::Url,
        req: OutboundRequest,
        deadline: Instant,
        redactor: &Redactor,
    ) -> Result<OutboundResponse, HttpError> {
        let shown = redact::url_for_log(url, redactor);
        let timeout = self.check_request(url, &req, deadline, &shown)?;
        let builder = self.request_builder(url, &req, timeout)?;
        let headers_shown = headers_for_log(&req.headers, redactor);
        tracing::debug!(adapter = %self.adapter, method = %req.method, url = %shown, headers = ?headers_shown, body_bytes = req.body.len(), "outbound request");
        let started = Instant::now();
        let response = builder
            .body(req.body)
            .send()
            .await
            .map_err(|e| classify(&e, &shown, timeout, redactor))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = read_capped(
            response,
            self.policy.max_response,
            &shown,
            timeout,
            redactor,
        )
        .await?;
        tracing::debug!(adapter = %self.adapter, url = %shown, status, body_bytes = body.len(), elapsed_ms = started.elapsed().as_millis() as u64, "outbound response");
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }

    /// Refuses a request the allow-list or `limits.http_request` forbids, or that has no time
    /// left; answers its timeout (the request's own, the manifest's, and the call's deadline,
    /// whichever is first).
    fn check_request(
        &self,
        url: &url::Url,
        req: &OutboundRequest,
        deadline: Instant,
        shown: &str,
    ) -> Result<std::time::Duration, HttpError> {
        if let Err(why) = self.policy.allowed.check(url) {
            tracing::warn!(adapter = %self.adapter, url = %shown, "outbound request denied: {why}");
            return Err(HttpError::Denied(format!("{} {shown}: {why}", req.method)));
        }
        if req.body.len() as u64 > self.policy.max_request {
            return Err(HttpError::TooLarge(format!(
                "request body of {} bytes exceeds limits.http_request ({} bytes)",
                req.body.len(),
                self.policy.max_request
            )));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = req
            .timeout
            .unwrap_or(self.policy.timeout)
            .min(self.policy.timeout)
            .min(remaining);
        if timeout.is_zero() {
            return Err(HttpError::Timeout(format!(
                "{} {shown}: the call's deadline has passed",
                req.method
            )));
        }
        Ok(timeout)
    }

    /// The request as reqwest sends it; a header that is not valid HTTP is the adapter's error.
    fn request_builder(
        &self,
        url: &url::Url,
        req: &OutboundRequest,
        timeout: std::time::Duration,
    ) -> Result<reqwest::RequestBuilder, HttpError> {
        let mut builder = self
            .client
            .request(req.method.clone(), url.clone())
            .timeout(timeout);
        for (name, value) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                HttpError::InvalidRequest(format!("header name {name:?} is not valid"))
            })?;
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                HttpError::InvalidRequest(format!(
                    "value of header {name} is not a valid header value"
                ))
            })?;
            builder = builder.header(name, value);
        }
        Ok(builder)
    }
}

/// `headers` as the debug log shows them: credentials masked, known secrets scrubbed.
fn headers_for_log(headers: &[(String, String)], redactor: &Redactor) -> Vec<String> {
    headers
        .iter()
        .map(|(n, v)| {
            let v = if redact::is_sensitive_header(n) {
                redact::REDACTED.to_string()
            } else {
                redactor.scrub(v)
            };
            format!("{n}: {v}")
        })
        .collect()
}

async fn read_capped(
    mut response: reqwest::Response,
    max: u64,
    shown: &str,
    timeout: Duration,
    redactor: &Redactor,
) -> Result<Vec<u8>, HttpError> {
    if let Some(len) = response.content_length()
        && len > max
    {
        return Err(HttpError::TooLarge(format!(
            "answer from {shown} announces {len} bytes, more than limits.http_response ({max} bytes)"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(&e, shown, timeout, redactor))?
    {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(HttpError::TooLarge(format!(
                "answer from {shown} is larger than limits.http_response ({max} bytes)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(e: &reqwest::Error, shown: &str, timeout: Duration, redactor: &Redactor) -> HttpError {
    let detail = redactor.scrub(&error_chain(e));
    if e.is_timeout() {
        HttpError::Timeout(format!(
            "{shown}: no complete answer within {} ms",
            timeout.as_millis()
        ))
    } else if e.is_redirect() || refused_by_resolver(e) {
        HttpError::Denied(format!("{shown}: {detail}"))
    } else if e.is_builder() {
        HttpError::InvalidRequest(format!("{shown}: {detail}"))
    } else if e.is_connect() {
        HttpError::Unreached(format!("{shown}: {detail}"))
    } else {
        HttpError::Connect(format!("{shown}: {detail}"))
    }
}

/// True when the error chain holds the resolver's refusal of an internal address.
fn refused_by_resolver(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.is::<resolve::InternalAddress>() {
            return true;
        }
        current = err.source();
    }
    false
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Adds the W3C `traceparent` (and `tracestate`) of `span` to `headers`, replacing any the
/// adapter set.
fn inject_traceparent(span: &tracing::Span, headers: &mut Vec<(String, String)>) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = span.context();
    let mut carrier = std::collections::HashMap::new();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    headers.retain(|(n, _)| {
        !n.eq_ignore_ascii_case("traceparent") && !n.eq_ignore_ascii_case("tracestate")
    });
    headers.extend(carrier);
}
