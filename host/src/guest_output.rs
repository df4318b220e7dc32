//! Guest stdout and stderr, turned into log lines instead of reaching the host's own streams.

use crate::redact::SharedRedactor;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line logged; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;
/// Bytes of output logged per stream and call; beyond it output is counted, not logged.
const MAX_BYTES: usize = 256 * 1024;

/// A guest output stream that logs line by line, tagged with the adapter.
#[derive(Clone)]
pub struct LogStream {
    adapter: Arc<str>,
    stream: &'static str,
    redactor: SharedRedactor,
}

impl LogStream {
    /// A stream named `stream` ("stdout"/"stderr") of `adapter`.
    pub fn new(adapter: &str, stream: &'static str, redactor: SharedRedactor) -> Self {
        Self {
            adapter: adapter.into(),
            stream,
            redactor,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LogWriter {
            target: self.clone(),
            line: Vec::new(),
            written: 0,
        })
    }
}

struct LogWriter {
    target: LogStream,
    line: Vec<u8>,
    written: usize,
}

impl LogWriter {
    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = self
            .target
            .redactor
            .scrub(&String::from_utf8_lossy(&self.line));
        let text = text.trim_end_matches('\r');
        if self.target.stream == "stderr" {
            tracing::warn!(adapter = %self.target.adapter, stream = self.target.stream, "{text}");
        } else {
            tracing::info!(adapter = %self.target.adapter, stream = self.target.stream, "{text}");
        }
        self.line.clear();
    }
}

impl AsyncWrite for LogWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        // Output past the budget is accepted and dropped: a chatty guest must not fail its call
        // (Rust's println! panics on a write error), nor flood the log.
        let room = MAX_BYTES.saturating_sub(this.written);
        let take = buf.len().min(room);
        if this.written < MAX_BYTES && this.written + buf.len() >= MAX_BYTES {
            tracing::warn!(adapter = %this.target.adapter, stream = this.target.stream, "guest output past {MAX_BYTES} bytes in one call is not logged");
        }
        this.written = this.written.saturating_add(buf.len());
        for &b in &buf[..take] {
            if b == b'\n' {
                this.emit();
            } else if this.line.len() < MAX_LINE {
                this.line.push(b);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.emit();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.emit();
    }
}
