//! One inbound request from start to answer: what can be refused on the headers is refused
//! before a byte of the body is read; then the signature and replay check, the adapter's
//! `handle-inbound`, a remembered signature forgotten when the adapter did not take the
//! request, and the answer with the headers the host owns taken out. Each outcome is counted
//! under the route.

use super::{
    AuthRefused, InboundRequest, ReplayCheck, answer_parts, authenticate, authenticate_headers,
    check_replay, forget,
};
use crate::call::{Failure, LoadedAdapter};
use crate::manifest::Route;
use std::future::Future;
use std::sync::Arc;

/// An answer for the platform, with the headers the host owns taken out.
#[derive(Debug)]
pub struct Answer {
    /// The status, 200 to 599.
    pub status: u16,
    /// The adapter's headers that the front door passes on.
    pub headers: Vec<(String, String)>,
    /// The adapter's body.
    pub body: Vec<u8>,
}

/// Why an inbound request got no answer from the adapter. `E` is the front door's own reason
/// for a body it could not read.
#[derive(Debug)]
pub enum NotAnswered<E> {
    /// The route's authentication refused it, or it is a replay (401).
    Refused(AuthRefused),
    /// Its body could not be read (too big, too slow…).
    Body(E),
    /// The replay check needs the store, which cannot be reached (503: send it again later).
    Unavailable,
    /// The adapter failed.
    Failed(Failure),
    /// The adapter answered with a status outside 200-599.
    InvalidStatus(u16),
}

/// Takes `request` (its body still to come from `body`) on `route` of `adapter`, as the module's
/// doc says. `body` answers the bytes and a guard held until the answer (the front door's share
/// of its memory budget).
pub async fn receive<E, G>(
    adapter: &Arc<LoadedAdapter>,
    route: &Route,
    mut request: InboundRequest,
    body: impl Future<Output = Result<(Vec<u8>, G), E>>,
) -> Result<Answer, NotAnswered<E>> {
    let name = adapter.manifest.name.as_str();
    let count = |outcome: &str| {
        adapter
            .shared
            .metrics
            .record_inbound(name, &route.name, outcome)
    };
    let refused = |refused: AuthRefused| {
        count("refused");
        tracing::info!(adapter = %name, route = %route.name, "inbound request refused: {refused}");
        NotAnswered::Refused(refused)
    };
    authenticate_headers(adapter, route, &request).map_err(refused)?;
    let (bytes, _held) = body.await.map_err(|e| {
        count("unreadable");
        NotAnswered::Body(e)
    })?;
    request.body = bytes;
    let checked = match authenticate(adapter, route, &request) {
        Ok(()) => check_replay(adapter, route, &request).await,
        Err(e) => Err(ReplayCheck::Refused(e)),
    };
    let remembered = match checked {
        Ok(r) => r,
        Err(ReplayCheck::Refused(e)) => return Err(refused(e)),
        Err(ReplayCheck::Unavailable(e)) => {
            count("unavailable");
            tracing::warn!(adapter = %name, route = %route.name, "inbound request not taken: the replay check needs the store: {e}");
            return Err(NotAnswered::Unavailable);
        }
    };
    let started = std::time::Instant::now();
    let answer = adapter.handle_inbound(route, request).await;
    // Inbound traffic is the adapter's calls too, in the console's last hour: a failed handler
    // or a 5xx answer counts as an error.
    adapter.shared.metrics.recent.record_call(
        name,
        answer.as_ref().is_ok_and(|a| a.status < 500),
        started.elapsed().as_secs_f64(),
    );
    if let Some(r) = remembered
        && !answer
            .as_ref()
            .is_ok_and(|a| (200..300).contains(&a.status))
    {
        forget(adapter, r).await;
    }
    let answer = answer.map_err(|f| {
        count(f.kind.as_str());
        NotAnswered::Failed(f)
    })?;
    let (status, kept, dropped) = answer_parts(&answer);
    if !dropped.is_empty() {
        tracing::info!(adapter = %name, route = %route.name, dropped = ?dropped, "inbound answer: headers the host owns were dropped");
    }
    let Some(status) = status else {
        count("invalid");
        return Err(NotAnswered::InvalidStatus(answer.status));
    };
    count(&format!("{}xx", status / 100));
    Ok(Answer {
        status,
        headers: kept,
        body: answer.body,
    })
}
