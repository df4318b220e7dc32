//! What an adapter sees of its surroundings besides its capabilities: its `[config]` and
//! secrets (the `config` interface), and log lines, through the `log` interface or written to
//! stdout and stderr, which become the host's log lines, scrubbed and bounded, instead of
//! reaching the host's own streams.

use crate::bindings::{config, log};
use crate::manifest::Manifest;
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

/// Longest `log` message (longer ones are cut).
const MAX_LOG_MESSAGE: usize = 4096;
/// Bytes one call may log through the `log` interface; past it, lines are dropped.
const MAX_LOG_BYTES_PER_CALL: usize = 256 * 1024;

/// What the `config` and `log` interfaces see of a call.
pub struct GuestEnv<'a> {
    /// The adapter's manifest (`[config]`, secrets, name).
    pub manifest: &'a Manifest,
    /// `[config]` with the adapter's declared defaults, rendered once at load.
    pub config: &'a crate::description::EffectiveConfig,
    /// Operation (or schedule / route name), for log lines.
    pub op: &'a str,
    /// The call's redactor.
    pub redactor: &'a SharedRedactor,
    /// Bytes this call has written through the `log` interface.
    pub logged: &'a mut usize,
}

impl config::Host for GuestEnv<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.value.get(&key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
    }

    async fn all(&mut self) -> wasmtime::Result<String> {
        Ok(self.config.json.clone())
    }

    async fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self
            .manifest
            .secrets
            .get(&name)
            .map(|s| s.expose().to_string()))
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl log::Host for GuestEnv<'_> {
    async fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let before = *self.logged;
        *self.logged = before.saturating_add(size);
        let adapter = self.manifest.name.as_str();
        let op = self.op;
        if before >= MAX_LOG_BYTES_PER_CALL {
            return Ok(());
        }
        if *self.logged >= MAX_LOG_BYTES_PER_CALL {
            tracing::warn!(adapter = %adapter, op = %op, "log lines past {MAX_LOG_BYTES_PER_CALL} bytes in one call are dropped");
        }
        // Scrubbed before it is cut: a cut through a secret would leave part of it unmatched.
        let message = self.redactor.scrub(&message);
        let message = cut(&message, MAX_LOG_MESSAGE);
        let fields: Vec<String> = fields
            .iter()
            .take(32)
            .map(|(k, v)| format!("{}={}", cut(k, 64), cut(&self.redactor.scrub(v), 1024)))
            .collect();
        let fields = fields.join(" ");
        match level {
            log::Level::Trace => tracing::trace!(adapter, op, fields, "{message}"),
            log::Level::Debug => tracing::debug!(adapter, op, fields, "{message}"),
            log::Level::Info => tracing::info!(adapter, op, fields, "{message}"),
            log::Level::Warn => tracing::warn!(adapter, op, fields, "{message}"),
            log::Level::Error => tracing::error!(adapter, op, fields, "{message}"),
        }
        Ok(())
    }
}
