//! The exchanges of a process that records (`weft invoke --record`), kept in memory until the
//! call ends and the `record` module writes them as a fixture.

use std::sync::Mutex;

/// One exchange as the adapter made it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Made by `fetch-token`.
    pub token_fetch: bool,
    /// Method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// The request's Content-Type, if any.
    pub content_type: Option<String>,
    /// The request body.
    pub body: Vec<u8>,
    /// The answer, or why there was none.
    pub answer: Result<super::OutboundResponse, String>,
}

/// Collects the exchanges of a process that records.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<Recorded>>);

impl Recorder {
    /// Adds one exchange.
    pub fn push(&self, exchange: Recorded) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(exchange);
    }

    /// Everything recorded so far, in order.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
