//! Weft adapter for the 超8 (SuperCarrier8) open platform (`supercarrier8-open-platform.md`).
//!
//! The token comes from `get-token` with the MD5 of the secret; its refresh strategy (window
//! ttl/10, refresh at start-up, one call a minute, refresh on 20324012/20324013) is the
//! manifest's token policy, not code here. Answers are `{code: 200, message, data, traceId}`.
//! The product family's paths and the envelope field names are manifest settings: the document
//! names those APIs without giving them.

mod platform;
mod products;

use weft_sdk::{Adapter, AdapterError, CallContext, Description, Result, TokenGrant, Value};

struct SuperCarrier8;

impl Adapter for SuperCarrier8 {
    fn describe() -> Description {
        use weft_sdk::Describe;
        weft_sdk::describe(
            "supercarrier8",
            env!("CARGO_PKG_VERSION"),
            &[
                (
                    "upsert-product",
                    "create or update one product by its code (V1)",
                ),
                (
                    "upsert-products",
                    "create or update products by code in batches of batch_max (V3)",
                ),
                ("query-products", "query products by code in batches (V3)"),
                ("delete-products", "delete products by code in batches (V3)"),
                ("enable-products", "enable products by code in batches (V3)"),
                (
                    "disable-products",
                    "disable products by code in batches (V3)",
                ),
                (
                    "list-products",
                    "one page of the product list, or every page (V3)",
                ),
                (
                    "call",
                    "any API of the platform: method, path under base_url, JSON body",
                ),
            ],
            &["access_key", "secret_key"],
        )
        .config(platform::keys())
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        platform::Platform::load()?.fetch_token()
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        let p = platform::Platform::load()?;
        match op.as_str() {
            "upsert-product" => products::single(&p, input),
            "upsert-products" | "query-products" | "delete-products" | "enable-products"
            | "disable-products" => products::batch(&ctx, &p, &op, input),
            "list-products" => products::list(&p, input),
            "call" => products::call(&p, input),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }
}

weft_sdk::export_adapter!(SuperCarrier8);
