//! Weft adapter for the 纷享销客 (Fxiaoke) ERP data-sync platform
//! (`fxiaoke-erp-data-sync.md`). Weft stands in for the company's ERP towards the CRM:
//!
//! 1. **Push** (CRM → ERP): the inbound routes `create` and `update` store master/detail records
//!    and answer `{code, message, data{masterDataId, detailDataIds}}`; with `erp_endpoint`
//!    configured, each stored change is also delivered to the company's ERP by a durable job.
//! 2. **Poll** (CRM → ERP): the inbound routes `queryMasterBatch` and `queryMasterById` answer
//!    from the same store (`totalNum`, `dataList`), in a stable order.
//! 3. **Receive** (ERP → CRM): the operations `push-record`, `push-raw` and `void-record` call
//!    the CRM's `syncpush` with the document's headers.
//!
//! `upsert-record` and `list-records` let the company's own systems feed and read the records.

mod crm;
mod inbound;
mod records;

use weft_sdk::{
    Adapter, AdapterError, CallContext, Description, InboundRequest, InboundResponse, Result, Value,
};

struct Fxiaoke;

impl Adapter for Fxiaoke {
    fn describe() -> Description {
        use weft_sdk::Describe;
        weft_sdk::describe(
            "fxiaoke",
            env!("CARGO_PKG_VERSION"),
            &[
                (
                    "push-record",
                    "push a master/detail record to the CRM in the standard format (syncpush) and keep it for the CRM's polls",
                ),
                (
                    "push-raw",
                    "push a body as given to the CRM in the non-standard format (syncpush)",
                ),
                (
                    "void-record",
                    "void a record at the CRM (syncpush, operationType 3)",
                ),
                (
                    "upsert-record",
                    "create or update an ERP-side record that the CRM's polls will see",
                ),
                (
                    "list-records",
                    "ERP-side records of an object, by change time, as the CRM's batch poll sees them",
                ),
                (
                    "deliver-record",
                    "job: deliver a record the CRM pushed to the company's ERP endpoint",
                ),
            ],
            &["crm_token", "push_token"],
        )
        .config(records::keys())
        .routes(&["create", "update", "queryMasterBatch", "queryMasterById"])
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        let config = records::Config::load()?;
        match op.as_str() {
            "push-record" => crm::push_record(&ctx, &config, input),
            "push-raw" => crm::push_raw(&ctx, &config, input),
            "void-record" => crm::void_record(&config, input),
            "upsert-record" => records::upsert_op(&ctx, &config, input),
            "list-records" => records::list_op(&config, input),
            "deliver-record" => crm::deliver(&config, input),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }

    fn handle_inbound(ctx: CallContext, req: InboundRequest) -> Result<InboundResponse> {
        // Refusals are answered in the CRM's own `{code, message, data}` shape, never `Err`.
        Ok(inbound::handle(&ctx, req))
    }
}

weft_sdk::export_adapter!(Fxiaoke);
