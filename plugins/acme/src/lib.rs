//! Weft adapter for acme, made by `weft new adapter`: a login token (client credentials),
//! one operation that sends items in batches, and the SDK's usual reading of HTTP statuses.
//! Change what your platform does differently; `weft test plugins/acme/fixtures` checks it.

use weft_sdk::batch::{self, Resend};
use weft_sdk::config::Key;
use weft_sdk::http::{ErrorBody, Request, join};
use weft_sdk::{
    Adapter, AdapterError, CallContext, Describe, Description, Result, TokenGrant, Value, config,
    json, tokens,
};

/// The adapter type exported to the host.
struct Acme;

/// The manifest's `[config]` (`base_url` is the manifest's own key). Each key's default and
/// bounds are declared once, in `describe`: the host checks the manifest against them and fills
/// in what it leaves out, so this struct has no defaults of its own.
#[derive(serde::Deserialize)]
struct Config {
    /// The platform's root URL.
    base_url: String,
    /// Path of the token endpoint.
    token_path: String,
    /// Path items are sent to.
    items_path: String,
    /// Items per request.
    batch_size: usize,
}

/// The operations: (name, what it does). `describe` and `invoke` both read this table.
const OPERATIONS: &[(&str, &str)] = &[("send-items", "send input.items in batches")];

impl Adapter for Acme {
    fn describe() -> Description {
        weft_sdk::describe(
            "acme",
            env!("CARGO_PKG_VERSION"),
            OPERATIONS,
            &["client_id", "client_secret"],
        )
        // The keys of `Config` above, each declared once: `weft check` refuses a manifest with
        // a typo in them or a value out of range, and the host fills in the defaults.
        .config([
            Key::text("token_path", "the token endpoint").default("/oauth/token"),
            Key::text("items_path", "where items go").default("/items"),
            Key::integer("batch_size", "items per request")
                .range(1, 10_000)
                .default(100),
        ])
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        let c: Config = config::typed()?;
        let id = config::secret("client_id")?;
        let secret = config::secret("client_secret")?;
        let response = Request::post(join(&c.base_url, &c.token_path))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .send()?;
        // A refused login is `auth`: the host does not retry it.
        let answer: Value = response.classify("token")?.json()?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| AdapterError::transient("token answer without access_token"))?;
        Ok(TokenGrant {
            token: token.to_string(),
            expires_in_seconds: answer["expires_in"].as_u64(),
        })
    }

    fn invoke(_ctx: CallContext, op: String, input: Value) -> Result<Value> {
        match op.as_str() {
            "send-items" => send_items(input),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }
}

weft_sdk::export_adapter!(Acme);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SendItems {
    items: Vec<Value>,
}

/// Sends the items in batches of `batch_size`, each batch a durable step (`batch/1`, `batch/2`,
/// …): when the host runs the call again — after a 429, a refused token, a crash — the batches
/// the platform already took are not sent again. A failed batch says which, and how many items
/// the platform had already taken. `Resend::Once`: a batch that went out and got no answer
/// stops the call as outcome-unknown rather than risk sending its items twice; where the
/// platform takes the same items twice harmlessly (an upsert by SKU), say `Resend::Safe`.
fn send_items(input: Value) -> Result<Value> {
    let c: Config = config::typed()?;
    let input: SendItems = weft_sdk::parse_input(input)?;
    if input.items.is_empty() {
        return Err(AdapterError::invalid_input("items: at least one item"));
    }
    let url = join(&c.base_url, &c.items_path);
    let size = c.batch_size.max(1);
    let rows = input.items.len();
    let accepted: Vec<u64> = batch::in_steps("batch", rows, size, Resend::Once, |seq| {
        let items = &input.items[seq.rows.clone()];
        let answer: Value = tokens::with_token("", |token| {
            let response = Request::post(&url)
                .header("Authorization", format!("Bearer {token}"))
                .json(&json!({ "items": items }))?
                .send()?;
            // The platform says what it refused in `{"error": "..."}`.
            response
                .classify_with("send-items", &ErrorBody::message("/error"))?
                .json()
        })
        .map_err(|e| {
            let before = seq.rows.start;
            e.shift_indexes(before).context(format!(
                "batch {} of {}; {before} item(s) were accepted before it",
                seq.seq_id, seq.seq_count
            ))
        })?;
        Ok(answer["accepted"].as_u64().unwrap_or(items.len() as u64))
    })?;
    Ok(json!({ "accepted": accepted.iter().sum::<u64>(), "batches": accepted.len() }))
}
