//! The exchange journal: every platform exchange of a call — which attempt and step, method,
//! URL, headers and bodies, status, timing, transport error — gathered while the call runs and
//! kept in the shared store when the adapter's `[journal] keep` says so (by default, for the
//! calls that did not succeed). Nothing secret is kept: credential headers are dropped, query
//! values and JSON keys that look like credentials are masked, every text is scrubbed of the
//! adapter's secrets and of the tokens the call was handed, and a token fetch keeps only JSON
//! bodies with their credential fields masked. Bodies are cut at `[journal] max_body`, a call
//! keeps at most `[journal] max_exchanges`, and its whole journal at most [`MAX_CALL_BYTES`].

use crate::manifest::{JournalPolicy, Keep};
use crate::redact::{REDACTED, Redactor, SharedRedactor};
use crate::store::group::{GroupCommit, Write};
use crate::store::{JournalRow, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Most bytes of bodies one attempt's journal keeps; bodies after are noted, not kept.
pub const MAX_CALL_BYTES: usize = 1024 * 1024;

/// Bytes gathered past `[journal] max_body`, so that a secret (in any of its encodings) that
/// straddles the cut is scrubbed whole before the text is cut.
const SCRUB_MARGIN: usize = 1024;

/// One side of an exchange, as kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// Headers, credentials dropped.
    pub headers: Vec<(String, String)>,
    /// The body as text (scrubbed, cut); `None` when none was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body's full size in bytes.
    pub bytes: usize,
    /// True when `body` holds only the start of it.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub cut: bool,
}

/// One platform exchange of a call, as kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    /// When it was sent, unix ms.
    pub at_ms: i64,
    /// How long it took, ms.
    pub elapsed_ms: u64,
    /// The step it belongs to, if the adapter named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// True when `fetch-token` made it (for the call that needed the token).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub token_fetch: bool,
    /// Method.
    pub method: String,
    /// URL, credential query values masked.
    pub url: String,
    /// The request.
    pub request: Message,
    /// The answer's status, if one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer, if one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Message>,
    /// Why no answer came (a timeout, a refused or broken connection, the allow-list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A request about to go out, as the journal sees it.
pub struct Request<'a> {
    /// When it is sent, unix ms.
    pub at_ms: i64,
    /// The step it belongs to.
    pub step: Option<&'a str>,
    /// Made by `fetch-token`.
    pub token_fetch: bool,
    /// Method.
    pub method: &'a str,
    /// URL.
    pub url: &'a str,
    /// Headers.
    pub headers: &'a [(String, String)],
    /// Body.
    pub body: &'a [u8],
}

/// A platform's answer, as the journal sees it.
pub struct Answer<'a> {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: &'a [(String, String)],
    /// Body.
    pub body: &'a [u8],
}

/// A request the journal gathered, waiting for its answer.
pub struct Pending(Raw);

/// The exchanges of one running call and of the token fetches it caused, shared by its
/// instance and its token fetcher; cheap to clone. While the call runs only the start of each
/// body is copied (what could be kept); scrubbing, masking and cutting happen when the
/// attempt is kept, so a call whose journal is not kept pays for little more than the copies.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Entries>>);

#[derive(Default)]
struct Entries {
    policy: Option<JournalPolicy>,
    redactor: Option<SharedRedactor>,
    exchanges: Vec<Raw>,
    dropped: u32,
    body_bytes: usize,
}

impl Entries {
    /// The headers and the start of `body` that could be kept, within the call's byte budget.
    fn gather(&mut self, max: usize, headers: &[(String, String)], body: &[u8]) -> RawMessage {
        let room = MAX_CALL_BYTES.saturating_sub(self.body_bytes);
        // A margin past the cut, so that a secret that straddles it is still whole when the
        // text is scrubbed, and cut after.
        let take = body.len().min(max.saturating_add(SCRUB_MARGIN)).min(room);
        self.body_bytes += take;
        RawMessage {
            headers: headers.to_vec(),
            start: body[..take].to_vec(),
            bytes: body.len(),
        }
    }
}

/// One exchange as gathered: the start of each body, not yet scrubbed.
struct Raw {
    at_ms: i64,
    elapsed_ms: u64,
    step: Option<String>,
    token_fetch: bool,
    method: String,
    url: String,
    request: RawMessage,
    answer: Result<(u16, RawMessage), String>,
}

struct RawMessage {
    headers: Vec<(String, String)>,
    start: Vec<u8>,
    bytes: usize,
}

impl Journal {
    /// A journal for a call of an adapter with `policy`.
    pub fn new(policy: &JournalPolicy) -> Self {
        let on = policy.keep != Keep::Off;
        Self(Arc::new(Mutex::new(Entries {
            policy: on.then(|| policy.clone()),
            ..Entries::default()
        })))
    }

    /// Scrubs with `redactor`, the redactor of the call the journal is for (the first attached
    /// stays: a token fetch's instance has one of its own, which knows less).
    pub fn attach(&self, redactor: SharedRedactor) {
        let mut e = self.entries();
        if e.redactor.is_none() {
            e.redactor = Some(redactor);
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gathers a request before it goes out: its headers and the start of its body (nothing
    /// when the policy keeps none, or the call has as many exchanges as it keeps).
    pub fn begin(&self, r: Request<'_>) -> Option<Pending> {
        let mut e = self.entries();
        let policy = e.policy.as_ref()?;
        if e.exchanges.len() >= policy.max_exchanges as usize {
            e.dropped += 1;
            return None;
        }
        let max = policy.max_body.as_usize();
        let request = e.gather(max, r.headers, r.body);
        Some(Pending(Raw {
            at_ms: r.at_ms,
            elapsed_ms: 0,
            step: r.step.map(str::to_string),
            token_fetch: r.token_fetch,
            method: r.method.to_string(),
            url: r.url.to_string(),
            request,
            answer: Err(String::new()),
        }))
    }

    /// Adds a gathered request with its answer, or why there was none.
    pub fn end(&self, pending: Pending, elapsed_ms: u64, answer: Result<Answer<'_>, String>) {
        let mut e = self.entries();
        let max = e.policy.as_ref().map_or(0, |p| p.max_body.as_usize());
        let mut raw = pending.0;
        raw.elapsed_ms = elapsed_ms;
        raw.answer = match answer {
            Ok(a) => Ok((a.status, e.gather(max, a.headers, a.body))),
            Err(why) => Err(why),
        };
        e.exchanges.push(raw);
    }

    /// Takes the exchanges gathered so far as they are kept — scrubbed with everything the
    /// call's redactor knows now, credentials masked, bodies cut — and how many were left out
    /// past `max_exchanges`.
    pub fn take(&self) -> (Vec<Exchange>, u32) {
        let mut e = self.entries();
        let redactor = e
            .redactor
            .as_ref()
            .map(SharedRedactor::snapshot)
            .unwrap_or_default();
        let max = e.policy.as_ref().map_or(0, |p| p.max_body.as_usize());
        let raw = std::mem::take(&mut e.exchanges);
        let dropped = std::mem::take(&mut e.dropped);
        e.body_bytes = 0;
        drop(e);
        let kept = raw
            .into_iter()
            .map(|x| {
                let message = |m: &RawMessage| {
                    let (body, cut) = body_text(&m.start, m.bytes, x.token_fetch, max, &redactor);
                    Message {
                        headers: kept_headers(&m.headers, &redactor),
                        body,
                        bytes: m.bytes,
                        cut,
                    }
                };
                let (status, response, error) = match &x.answer {
                    Ok((status, m)) => (Some(*status), Some(message(m)), None),
                    Err(why) => (None, None, Some(redactor.scrub(why))),
                };
                Exchange {
                    at_ms: x.at_ms,
                    elapsed_ms: x.elapsed_ms,
                    step: x.step.clone(),
                    token_fetch: x.token_fetch,
                    method: x.method.clone(),
                    url: url::Url::parse(&x.url)
                        .map(|u| crate::redact::url_for_log(&u, &redactor))
                        .unwrap_or_else(|_| redactor.scrub(&x.url)),
                    request: message(&x.request),
                    status,
                    response,
                    error,
                }
            })
            .collect();
        (kept, dropped)
    }

    /// What the journal scrubs with now.
    pub fn redactor(&self) -> Redactor {
        self.entries()
            .redactor
            .as_ref()
            .map(SharedRedactor::snapshot)
            .unwrap_or_default()
    }

    /// Forgets what was gathered (an attempt whose journal is not kept).
    pub fn discard(&self) {
        let mut e = self.entries();
        e.exchanges.clear();
        e.dropped = 0;
        e.body_bytes = 0;
    }

    /// Whether an attempt that succeeded (or not) is kept.
    pub fn keeps(&self, succeeded: bool) -> bool {
        match self.entries().policy.as_ref().map(|p| p.keep) {
            Some(Keep::All) => true,
            Some(Keep::Failures) => !succeeded,
            Some(Keep::Off) | None => false,
        }
    }
}

/// Headers as kept: credentials masked, the rest scrubbed.
fn kept_headers(headers: &[(String, String)], redactor: &Redactor) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            let v = if crate::redact::is_sensitive_header(n) {
                REDACTED.to_string()
            } else {
                redactor.scrub(v)
            };
            (n.to_ascii_lowercase(), v)
        })
        .collect()
}

/// A body as kept from its first bytes `start` (of `bytes` in all): JSON with its credential
/// fields masked, other text scrubbed, at most `max` bytes. A token fetch keeps whole JSON only
/// (its other forms may carry credentials the redactor does not know, such as a signature
/// derived from them). Answers the text and whether it was cut.
fn body_text(
    start: &[u8],
    bytes: usize,
    token_fetch: bool,
    max: usize,
    redactor: &Redactor,
) -> (Option<String>, bool) {
    if start.is_empty() {
        return (None, bytes > 0);
    }
    let whole = start.len() == bytes;
    let text = String::from_utf8_lossy(start);
    let parsed = whole
        .then(|| serde_json::from_str::<serde_json::Value>(&text).ok())
        .flatten();
    let text = match parsed {
        Some(mut v) => {
            crate::redact::mask_json(&mut v, redactor);
            v.to_string()
        }
        None if token_fetch => return (None, true),
        None => redactor.scrub(&crate::redact::mask_json_text(&text)),
    };
    if text.len() <= max && whole {
        return (Some(text), false);
    }
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (Some(text[..cut].to_string()), true)
}

/// Kept attempts, committed in groups: many calls' journals in one statement.
pub(crate) struct Kept;

#[async_trait::async_trait]
impl Write for Kept {
    type Item = JournalRow;
    type Done = ();
    const WHAT: &'static str = "journals";

    async fn many(store: &dyn Store, rows: &[JournalRow]) -> Result<Vec<()>, StoreError> {
        store.journal_put_many(rows).await?;
        Ok(vec![(); rows.len()])
    }

    async fn one(store: &dyn Store, row: &JournalRow) -> Result<(), StoreError> {
        store.journal_put(row).await
    }
}

/// The group commit of kept journals.
pub(crate) type Writes = GroupCommit<Kept>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn journals_offered_are_written_when_a_flush_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::store::open(None, dir.path()).await.expect("store");
        let writes = Writes::default();
        for n in 0..600 {
            let row = JournalRow {
                call_id: format!("c{n}"),
                attempt: 1,
                adapter: "a".into(),
                job_id: None,
                at_ms: 1,
                entry: "{}".into(),
            };
            assert!(writes.offer(&store, row), "the queue has room for 600");
        }
        writes.flush().await;
        for n in 0..600 {
            let kept = store.journal_get(&format!("c{n}"), 2).await.expect("get");
            assert_eq!(kept.len(), 1, "c{n}");
        }
    }
}
