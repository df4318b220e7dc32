//! The `http` interface: an adapter's outbound request goes through its rate budget, the
//! allow-list and the caps of [`HttpCapability`], and, when the process records, into the
//! [`Recorder`].

use super::{HttpCapability, HttpError, OutboundRequest, Recorded, Recorder};
use crate::bindings::http;
use crate::manifest::{Manifest, Rate};
use crate::redact::SharedRedactor;
use crate::store::Store;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// What the `http` interface sees of a call.
pub struct HttpView<'a> {
    /// The adapter's outbound HTTP.
    pub http: &'a HttpCapability,
    /// The adapter's manifest (its name and rate limits).
    pub manifest: &'a Manifest,
    /// The shared store, where rate budgets are kept for every process.
    pub store: &'a dyn Store,
    /// Where exchanges go when the process records.
    pub recorder: Option<&'a Recorder>,
    /// True inside `fetch-token`: `limits.token_rate` applies instead of `limits.rate`.
    pub fetching_token: bool,
    /// When the call must be over.
    pub deadline: Instant,
    /// The call's redactor.
    pub redactor: &'a SharedRedactor,
    /// Why the last refused request was refused, as the call's error says it after the
    /// adapter's name ("tried a host it was not granted: …").
    pub denied: &'a mut Option<String>,
    /// Requests this call has sent so far (`limits.requests_per_call`).
    pub sent: &'a mut u32,
    /// The call's durable steps: an unsafe step is marked sent before its first request.
    pub steps: &'a mut crate::steps::CallSteps,
    /// The call's exchanges, for the journal.
    pub journal: &'a crate::journal::Journal,
}

impl HttpView<'_> {
    /// Waits for this call's next outbound slot (`limits.rate`, or `limits.token_rate` inside
    /// `fetch-token`), shared through the store by every process.
    async fn wait_for_rate(&self) -> Result<(), http::HttpError> {
        let limits = &self.manifest.limits;
        let (rate, which): (Option<Rate>, _) = if self.fetching_token {
            (limits.token_rate, "limits.token_rate")
        } else {
            (limits.rate, "limits.rate")
        };
        let Some(rate) = rate else {
            return Ok(());
        };
        let key = crate::store::budget_key(&self.manifest.name, which);
        let interval = i64::try_from(rate.interval().as_millis()).unwrap_or(i64::MAX);
        let now = crate::clock::now_ms();
        let slot = self
            .store
            .rate_acquire(&key, interval, now)
            .await
            .map_err(|e| http::HttpError::Connect(format!("rate budget unavailable: {e}")))?;
        let wait = Duration::from_millis(u64::try_from(slot - now).unwrap_or(0));
        if Instant::now() + wait > self.deadline {
            return Err(http::HttpError::Timeout(format!(
                "{which} ({rate}) has no slot before the call's deadline (next in {} ms)",
                wait.as_millis()
            )));
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

impl HttpView<'_> {
    /// Whether this call may send another request now: within `limits.requests_per_call`,
    /// after its rate slot, and with its unsafe step (if any) recorded as sent first.
    async fn admit(&mut self) -> Result<(), http::HttpError> {
        let cap = self.manifest.limits.requests_per_call;
        if *self.sent >= cap {
            let message = format!(
                "this call sent {cap} requests already, the most one call may (limits.requests_per_call)"
            );
            *self.denied = Some(format!("was stopped: {message}"));
            return Err(http::HttpError::Denied(message));
        }
        *self.sent += 1;
        self.wait_for_rate().await?;
        self.steps.before_send(self.store).await.map_err(|e| {
            http::HttpError::Connect(format!(
                "not sent: the step could not be recorded as sent first: {e}"
            ))
        })
    }

    /// Notes an exchange where it goes: the journal (`pending`, gathered before the send), the
    /// recorder (`copy`, when the process records), and the step, if it got no answer.
    fn note(
        &mut self,
        pending: Option<crate::journal::Pending>,
        copy: Option<OutboundRequest>,
        started: Instant,
        result: &Result<super::OutboundResponse, HttpError>,
    ) {
        if let Some(pending) = pending {
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let answer = match result {
                Ok(r) => Ok(crate::journal::Answer {
                    status: r.status,
                    headers: &r.headers,
                    body: &r.body,
                }),
                Err(e) => Err(e.to_string()),
            };
            self.journal.end(pending, elapsed, answer);
        }
        if let (Some(recorder), Some(sent)) = (self.recorder, copy) {
            recorder.push(Recorded {
                token_fetch: self.fetching_token,
                method: sent.method.to_string(),
                content_type: sent
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone()),
                url: sent.url,
                body: sent.body,
                answer: result.clone().map_err(|e| e.to_string()),
            });
        }
        if result.as_ref().is_err_and(HttpError::unanswered) {
            self.steps.no_answer();
        }
    }
}

/// The request as the host sends it.
fn outbound(req: http::Request) -> OutboundRequest {
    let method = match req.method {
        http::Method::Get => reqwest::Method::GET,
        http::Method::Post => reqwest::Method::POST,
        http::Method::Put => reqwest::Method::PUT,
        http::Method::Patch => reqwest::Method::PATCH,
        http::Method::Delete => reqwest::Method::DELETE,
        http::Method::Head => reqwest::Method::HEAD,
    };
    OutboundRequest {
        method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout: req
            .timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms))),
    }
}

impl http::Host for HttpView<'_> {
    async fn send(
        &mut self,
        req: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        let outbound = outbound(req);
        if let Err(e) = self.admit().await {
            return Ok(Err(e));
        }
        let copy = self.recorder.map(|_| outbound.clone());
        let method = outbound.method.to_string();
        let pending = self.journal.begin(crate::journal::Request {
            at_ms: crate::clock::now_ms(),
            step: self.steps.current(),
            token_fetch: self.fetching_token,
            method: &method,
            url: &outbound.url,
            headers: &outbound.headers,
            body: &outbound.body,
        });
        let started = Instant::now();
        let result = self
            .http
            .send(outbound, self.deadline, &self.redactor.snapshot())
            .instrument(tracing::info_span!("host http.send"))
            .await;
        self.note(pending, copy, started, &result);
        Ok(match result {
            Ok(r) => Ok(http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                HttpError::Denied(m) => {
                    *self.denied = Some(format!("tried a host it was not granted: {m}"));
                    http::HttpError::Denied(m)
                }
                HttpError::Timeout(m) => http::HttpError::Timeout(m),
                HttpError::Connect(m) | HttpError::Unreached(m) => http::HttpError::Connect(m),
                HttpError::TooLarge(m) => http::HttpError::TooLarge(m),
                HttpError::InvalidRequest(m) => http::HttpError::InvalidRequest(m),
            }),
        })
    }
}
