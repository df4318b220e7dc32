//! Partial success: what became of the items an operation was given, when the platform takes
//! some and refuses others in an answer that is itself a success (a 200 with a list of refused
//! rows). Report them and the host shows them on the call's job and its synchronous answer
//! (`X-Weft-Items-Accepted` / `-Rejected`), counts them in `weft_items_total`, lists the
//! refused ones on the console, and fails the call when the manifest's
//! `[items] fail_on_rejected` says so. The adapter's own output stays what it was.

use crate::bindings::weft::adapter::items as wit;

/// One item the platform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its index in the operation's input (the caller's, not the chunk's), when known.
    pub index: Option<usize>,
    /// The platform's code for the refusal.
    pub code: String,
    /// The platform's reason.
    pub message: String,
}

impl Rejected {
    /// Item `index` refused with `code` and `message`.
    pub fn new(index: Option<usize>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            index,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Reports `accepted` items taken and the `rejected` ones refused. Call it once for the whole
/// operation or once a batch (the host adds the reports up); outside a step's closure, so that
/// a run resumed from recorded steps reports them again (from the steps' recorded values).
pub fn report(accepted: usize, rejected: &[Rejected]) {
    let rejected: Vec<wit::RejectedItem> = rejected
        .iter()
        .map(|r| wit::RejectedItem {
            index: r.index.and_then(|i| u32::try_from(i).ok()),
            code: r.code.clone(),
            message: r.message.clone(),
        })
        .collect();
    wit::report(u32::try_from(accepted).unwrap_or(u32::MAX), &rejected);
}
