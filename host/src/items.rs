//! The `items` interface: partial success. A platform often answers a batch with a success that
//! refuses some of its items (a 200 with a list of refused rows); the adapter reports what was
//! taken and what was refused, and the host makes it visible: on the call's job and its
//! synchronous answer, in `/metrics`, on the console. A call's tally is bounded (the refused
//! items it keeps, the length of each message) and scrubbed of the adapter's secrets and the
//! call's tokens before it leaves the call.

use crate::bindings::items;
use crate::redact::SharedRedactor;
use crate::store::ItemsRow;
use serde::{Deserialize, Serialize};

/// Refused items one call keeps in full; past it they are counted, not kept.
pub const MAX_KEPT: usize = 1000;
/// Longest code or message kept of a refused item, in bytes.
pub const MAX_TEXT: usize = 1024;

/// One refused item, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its index in the operation's input, when the platform said which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The platform's code.
    pub code: String,
    /// The platform's reason.
    pub message: String,
}

/// What became of one call's items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Items the platform took.
    pub accepted: u64,
    /// Items it refused.
    pub rejected: u64,
    /// The refused items, at most [`MAX_KEPT`] (the first reported).
    pub rejected_items: Vec<Rejected>,
}

impl Tally {
    /// True when the call reported nothing.
    pub fn is_empty(&self) -> bool {
        self.accepted == 0 && self.rejected == 0
    }

    /// The tally as the store keeps it for call `call_id` of `adapter`.
    pub fn row(&self, call_id: &str, adapter: &str, at_ms: i64) -> ItemsRow {
        ItemsRow {
            call_id: call_id.to_string(),
            adapter: adapter.to_string(),
            accepted: self.accepted,
            rejected: self.rejected,
            rejected_items: serde_json::to_string(&self.rejected_items)
                .unwrap_or_else(|_| "[]".into()),
            at_ms,
        }
    }

    /// The tally the store kept as `row`.
    pub fn from_row(row: &ItemsRow) -> Self {
        Self {
            accepted: row.accepted,
            rejected: row.rejected,
            rejected_items: serde_json::from_str(&row.rejected_items).unwrap_or_default(),
        }
    }

    /// One line for an error or a log: "4 of 120 items were rejected (first: index 7, E12: …)".
    pub fn summary(&self) -> String {
        let total = self.accepted + self.rejected;
        let first = self
            .rejected_items
            .first()
            .map(|r| {
                let at = r.index.map(|i| format!("index {i}, ")).unwrap_or_default();
                format!(" (first: {at}{}: {})", r.code, r.message)
            })
            .unwrap_or_default();
        format!(
            "{} of {total} items were rejected by the platform{first}",
            self.rejected
        )
    }
}

/// The `items` interface's view of a call.
pub struct ItemsView<'a> {
    /// What the call has reported so far.
    pub items: &'a mut Tally,
    /// The call's redactor: a platform's message may echo what it was sent.
    pub redactor: &'a SharedRedactor,
}

fn cut(text: &str) -> String {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

impl items::Host for ItemsView<'_> {
    async fn report(
        &mut self,
        accepted: u32,
        rejected: Vec<items::RejectedItem>,
    ) -> wasmtime::Result<()> {
        let tally = &mut *self.items;
        tally.accepted = tally.accepted.saturating_add(u64::from(accepted));
        tally.rejected = tally.rejected.saturating_add(rejected.len() as u64);
        let room = MAX_KEPT.saturating_sub(tally.rejected_items.len());
        tally
            .rejected_items
            .extend(rejected.into_iter().take(room).map(|r| Rejected {
                index: r.index,
                code: self.redactor.scrub(&cut(&r.code)),
                message: self.redactor.scrub(&cut(&r.message)),
            }));
        Ok(())
    }
}
