//! Request bodies: a declared length over the limit is refused before anything is read, a
//! body is read within a time and a size, and every body held takes its share of one budget
//! for the whole front door.

use super::Problem;
use crate::error::ErrorKind;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use std::sync::Arc;
use std::time::Duration;

/// Answers 413 at once when the declared length is over `limit`, before reading any body.
pub(super) fn check_length(headers: &HeaderMap, limit: u64, what: &str) -> Result<(), Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(Problem::new(
            ErrorKind::InvalidInput,
            413,
            format!(
                "request body of {n} bytes exceeds {what} ({})",
                crate::manifest::ByteSize::bytes_exact(limit)
            ),
        )),
        _ => Ok(()),
    }
}

/// Bytes of request bodies the front door holds at once, across every request: each request's
/// body takes its share as it arrives and gives it back when the request is answered, so many
/// large bodies arriving together meet a 503 rather than the host's memory limit.
#[derive(Clone)]
pub struct BodyBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total: u64,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            kib: Arc::new(tokio::sync::Semaphore::new(kib)),
            total: bytes,
        }
    }
}

impl BodyBudget {
    /// Takes `bytes` more of the budget for the copies a request makes of its body while it
    /// is handled (an enqueue's input, its hash, the statement's parameters: about three
    /// more), held until the returned share is dropped; none left is a 503.
    pub(super) fn reserve(
        &self,
        bytes: u64,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, Problem> {
        let kib = bytes.div_ceil(1024);
        if kib == 0 {
            return Ok(None);
        }
        u32::try_from(kib)
            .ok()
            .and_then(|n| self.kib.clone().try_acquire_many_owned(n).ok())
            .map(Some)
            .ok_or_else(|| self.exhausted())
    }

    fn exhausted(&self) -> Problem {
        Problem::new(
            ErrorKind::Busy,
            503,
            format!(
                "the front door already holds {} of request bodies (--max-buffered): retry shortly",
                crate::manifest::ByteSize::bytes_exact(self.total)
            ),
        )
    }
}

/// Copies a request makes of its body while it is enqueued as a job, beside the body itself.
pub(super) const ENQUEUE_COPIES: u64 = 3;

/// A body read whole, holding its share of the [`BodyBudget`] while it lives.
pub(super) struct HeldBody {
    bytes: bytes::Bytes,
    _share: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl HeldBody {
    /// The bytes (without a copy) and the share to keep while they live.
    pub(super) fn into_parts(self) -> (bytes::Bytes, Option<tokio::sync::OwnedSemaphorePermit>) {
        (self.bytes, self._share)
    }
}

impl std::ops::Deref for HeldBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads at most `limit` bytes of `body` within `within`; more is a 413 naming the limit, and
/// a body that does not arrive in time is a 408 (a slow client holds no buffer for ever). Each
/// piece takes its share of `budget` as it arrives; none left is a 503.
pub(super) async fn read_body(
    body: Body,
    limit: u64,
    what: &str,
    within: Duration,
    budget: &BodyBudget,
) -> Result<HeldBody, Problem> {
    use axum::body::HttpBody;
    let read = async {
        let mut body = body;
        let mut buf = bytes::BytesMut::new();
        let mut share: Option<tokio::sync::OwnedSemaphorePermit> = None;
        let mut held_kib: u64 = 0;
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| {
                Problem::new(
                    ErrorKind::InvalidInput,
                    400,
                    format!("request body could not be read: {e}"),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if (buf.len() + data.len()) as u64 > limit {
                return Err(Problem::new(
                    ErrorKind::InvalidInput,
                    413,
                    format!(
                        "request body exceeds {what} ({})",
                        crate::manifest::ByteSize::bytes_exact(limit)
                    ),
                ));
            }
            let need = ((buf.len() + data.len()) as u64)
                .div_ceil(1024)
                .saturating_sub(held_kib);
            if need > 0 {
                let more = u32::try_from(need)
                    .ok()
                    .and_then(|n| budget.kib.clone().try_acquire_many_owned(n).ok())
                    .ok_or_else(|| budget.exhausted())?;
                held_kib += need;
                match &mut share {
                    Some(s) => s.merge(more),
                    None => share = Some(more),
                }
            }
            buf.extend_from_slice(&data);
        }
        Ok(HeldBody {
            bytes: buf.freeze(),
            _share: share,
        })
    };
    let Ok(read) = tokio::time::timeout(within, read).await else {
        return Err(Problem::new(
            ErrorKind::InvalidInput,
            408,
            format!(
                "the request body did not arrive within {} (--body-timeout)",
                humantime::format_duration(within)
            ),
        ));
    };
    read
}

impl super::App {
    /// The request's body, at most `limit` bytes (`what` names the limit in the refusal):
    /// refused on its declared length before a byte is read, then read within the front door's
    /// `--body-timeout` and `--max-buffered`.
    pub(super) async fn read_request(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: u64,
        what: &str,
    ) -> Result<HeldBody, Problem> {
        check_length(headers, limit, what)?;
        let options = &self.options;
        read_body(
            body,
            limit,
            what,
            options.body_timeout,
            &options.body_budget,
        )
        .await
    }
}
