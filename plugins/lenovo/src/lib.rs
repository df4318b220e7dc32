//! Weft adapter for the Lenovo SCC open-platform general data sync (`lenovo-data-sync.md`).
//!
//! One operation, `sync`: rows go to `{base_url}/{data_category}/{biz_key}` in sequences of at
//! most `seq_max` rows, as JSON or XML, with the batch fields the document requires. Progress is
//! kept per sequence in storage, so a batch run again sends only what was not acknowledged.

mod batch;
mod codec;
mod rows;
mod token;

use weft_sdk::{Adapter, AdapterError, CallContext, Description, Result, TokenGrant, Value};

struct Lenovo;

impl Adapter for Lenovo {
    fn describe() -> Description {
        use weft_sdk::{Describe, config::Key};
        weft_sdk::describe(
            "lenovo",
            env!("CARGO_PKG_VERSION"),
            &[(
                "sync",
                "send rows to {data_category}/{biz_key} (add, update, delete, overwrite) in sequences of seq_max, resumable by batch_id",
            )],
            &[],
        )
        .config([
            Key::integer("seq_max", "rows per sequence")
                .range(1, batch::SEQ_LIMIT as u32)
                .default(batch::SEQ_LIMIT),
            Key::text("app_name", "appName, at most 10 characters"),
            Key::text("format", "how rows are sent")
                .one_of(&["json", "xml"])
                .default("json"),
            Key::text("token_mode", "how a token is obtained")
                .one_of(&["client_credentials", "static"])
                .default("client_credentials"),
            Key::text("token_url", "the token endpoint (client_credentials)"),
            Key::text("token_auth", "how the client's credentials are sent")
                .one_of(&["basic", "form"])
                .default("basic"),
            Key::text("token_scope", "scope asked for with the token"),
        ])
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        token::fetch()
    }

    fn invoke_text(ctx: &CallContext, op: &str, input: &str) -> Option<Result<Value>> {
        // A batch's rows are read into the adapter's own types, never into a `Value` tree.
        (op == "sync").then(|| batch::sync(ctx, input))
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        match op.as_str() {
            "sync" => batch::sync(&ctx, &input.to_string()),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }
}

weft_sdk::export_adapter!(Lenovo);
