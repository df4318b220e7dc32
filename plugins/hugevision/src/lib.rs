//! Weft adapter for the HugeVision-SCM open API (`hugevision-scm.md` and the platform's public
//! manual): a JWT login with the system's credentials and pre-configured identity, then business
//! APIs by function code, each wrapped in the `requestId` / `requestTime` envelope.
//!
//! - `query-pending-shipments` — API09APDF (sync).
//! - `create-inventory-adjustment` — API170COF (sync).
//! - `submit-inventory-adjustment` — API170COB (async): answers with the `requestId` at once;
//!   durable follow-up jobs (`poll-inventory-adjustment`) ask API170NNF until the result is final.
//! - `query-async-result` — API170NNF for any earlier submission.
//!
//! Every `requestId` is persisted before it is sent, so a resend after a lost answer reuses it,
//! and the platform's "RequestId重复" for our own submission resolves to that submission's
//! result instead of an error.

mod adjust;
mod envelope;
mod platform;
mod shipments;

use weft_sdk::{Adapter, AdapterError, CallContext, Description, Result, TokenGrant, Value};

struct HugeVision;

impl Adapter for HugeVision {
    fn describe() -> Description {
        use weft_sdk::Describe;
        weft_sdk::describe(
            "hugevision",
            env!("CARGO_PKG_VERSION"),
            &[
                (
                    "query-pending-shipments",
                    "pending shipments matching the filters (API09APDF)",
                ),
                (
                    "create-inventory-adjustment",
                    "create inventory adjustments and answer their document numbers (API170COF)",
                ),
                (
                    "submit-inventory-adjustment",
                    "submit inventory adjustments for the platform's next processing cycle (API170COB); a follow-up job polls the result",
                ),
                (
                    "query-async-result",
                    "the processing result of an earlier submission (API170NNF)",
                ),
                (
                    "poll-inventory-adjustment",
                    "follow-up job of submit-inventory-adjustment: asks API170NNF until the result is final",
                ),
            ],
            &["system_key", "user_name", "system_password"],
        )
        .config(platform::keys())
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        platform::Platform::load()?.login()
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        let p = platform::Platform::load()?;
        match op.as_str() {
            "query-pending-shipments" => shipments::query(&p, &ctx, input),
            "create-inventory-adjustment" => adjust::create(&p, &ctx, input),
            "submit-inventory-adjustment" => adjust::submit(&p, &ctx, input),
            "query-async-result" => adjust::query_result(&p, &ctx, input),
            "poll-inventory-adjustment" => adjust::poll(&p, &ctx, input),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }
}

weft_sdk::export_adapter!(HugeVision);
