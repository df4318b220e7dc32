//! What a call's item report (partial success) becomes once the call is over: counted in
//! `/metrics`, kept under the call's id for its job and its record, and — when the manifest's
//! `[items] fail_on_rejected` says so — a refused item turns the call's success into a
//! rejection.

use super::{Answer, LoadedAdapter};
use crate::bindings::types;
use crate::items::Tally;

/// The code of the rejection a refused item makes of a call under `fail_on_rejected`.
pub const ITEMS_REJECTED: &str = "items-rejected";

impl LoadedAdapter {
    /// Counts and keeps `tally` (nothing when the call reported no items), and answers
    /// `answer` as the `[items]` policy makes it.
    pub(super) async fn keep_items(
        &self,
        ctx: &types::CallContext,
        answer: Answer,
        tally: &Tally,
    ) -> Answer {
        if tally.is_empty() {
            return answer;
        }
        let name = &self.manifest.name;
        self.shared
            .metrics
            .record_items(name, tally.accepted, tally.rejected);
        let row = tally.row(&ctx.call_id, name, crate::clock::now_ms());
        if let Err(e) = self.shared.store.items_put(&row).await {
            tracing::warn!(adapter = %name, call_id = %ctx.call_id, "what became of the call's items could not be kept: {e}");
        }
        if !self.manifest.items.fail_on_rejected || tally.rejected == 0 {
            return answer;
        }
        let rejection = || {
            types::AdapterError::Rejected(types::Rejection {
                code: ITEMS_REJECTED.into(),
                message: format!("{} ([items] fail_on_rejected)", tally.summary()),
                details: tally
                    .rejected_items
                    .iter()
                    .map(|r| types::Detail {
                        index: r.index,
                        field: None,
                        code: Some(r.code.clone()),
                        message: r.message.clone(),
                    })
                    .collect(),
                conflict: false,
            })
        };
        match answer {
            Answer::Invoke(Ok(_)) => Answer::Invoke(Err(rejection())),
            Answer::Schedule(Ok(())) => Answer::Schedule(Err(rejection())),
            other => other,
        }
    }
}
