//! Weft adapter for Sekorm serviceGate stock synchronisation (`sekorm-stock-sync.md`).
//!
//! Every call is a form-encoded POST carrying `accessToken`; answers are
//! `{"code": 0 | -1, "msg": …, "data": …}`. The token comes from `getAccessToken` and is
//! cached by the host for its `expiresIn`.

mod platform;
mod stock;

use platform::Platform;
use stock::{Item, validate_items};
use weft_sdk::{
    Adapter, AdapterError, CallContext, Description, Result, TokenGrant, Value, dates, json, log,
    storage,
};

/// The adapter type exported to the host.
struct Sekorm;

/// Key prefix of the day's recorded quantity changes, followed by `YYYY-MM-DD/`.
const CHANGES: &str = "changes/";

impl Adapter for Sekorm {
    fn describe() -> Description {
        weft_sdk::describe(
            "sekorm",
            env!("CARGO_PKG_VERSION"),
            &[
                (
                    "full-sync",
                    "send the whole stock (pnStock), in chunks of config.chunk_size",
                ),
                (
                    "update-quantity",
                    "send one item's new quantity in real time (updQuantity) and record it for the day's reconciliation",
                ),
                (
                    "reconcile",
                    "send the day's changed items for comparison (compare)",
                ),
            ],
            &["account", "app_secret"],
        )
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        Platform::load()?.fetch_token()
    }

    fn invoke(_ctx: CallContext, op: String, input: Value) -> Result<Value> {
        let platform = Platform::load()?;
        match op.as_str() {
            "full-sync" => full_sync(&platform, input),
            "update-quantity" => update_quantity(&platform, input),
            "reconcile" => reconcile(&platform, input),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }

    fn on_schedule(_ctx: CallContext, name: String) -> Result<()> {
        let platform = Platform::load()?;
        if name != platform.config.reconcile_schedule {
            return Err(AdapterError::invalid_input(format!(
                "unknown schedule {name:?} (this adapter runs {:?})",
                platform.config.reconcile_schedule
            )));
        }
        let day = platform.day(platform.config.reconcile_day_offset)?;
        let out = reconcile(&platform, json!({ "date": day }))?;
        log::info(
            "daily reconciliation sent",
            &[("date", &day), ("items", &out["items"].to_string())],
        );
        prune_changes(&platform)
    }
}

weft_sdk::export_adapter!(Sekorm);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSyncInput {
    items: Vec<Value>,
}

fn full_sync(platform: &Platform, input: Value) -> Result<Value> {
    let input: FullSyncInput = weft_sdk::parse_input(input)?;
    let items = validate_items(&input.items)?;
    let chunk = platform.config.chunk_size;
    let mut chunks = 0;
    for part in items.chunks(chunk) {
        platform.post_data(&platform.config.full_sync_path, part)?;
        chunks += 1;
    }
    Ok(json!({ "items": items.len(), "chunks": chunks, "chunk_size": chunk }))
}

fn update_quantity(platform: &Platform, input: Value) -> Result<Value> {
    let item = validate_items(std::slice::from_ref(&input))?.remove(0);
    let quantity = item.stock_quantity.to_string();
    platform.post_form(
        &platform.config.update_path,
        &[
            ("pnCode", &item.pn_code),
            ("brandName", &item.brand_name),
            ("stockQuantity", &quantity),
        ],
    )?;
    let day = platform.day(0)?;
    storage::set_json(&change_key(&day, &item), &item)?;
    Ok(json!({ "updated": item, "recorded_for": day }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcileInput {
    date: Option<String>,
    items: Option<Vec<Value>>,
}

fn reconcile(platform: &Platform, input: Value) -> Result<Value> {
    let input: ReconcileInput = weft_sdk::parse_input(input)?;
    let date = match input.date {
        Some(d) => {
            dates::check_date(&d).map_err(|e| AdapterError::invalid_input(format!("date: {e}")))?;
            d
        }
        None => platform.day(0)?,
    };
    let items = match input.items {
        Some(items) => validate_items(&items)?,
        None => {
            let prefix = format!("{CHANGES}{date}/");
            let mut items = Vec::new();
            for key in storage::list_all(&prefix)? {
                if let Some(item) = storage::get_json::<Item>(&key)? {
                    items.push(item);
                }
            }
            items
        }
    };
    if items.is_empty() {
        return Ok(json!({ "date": date, "items": 0, "sent": false }));
    }
    platform.post_data(&platform.config.compare_path, &items)?;
    Ok(json!({ "date": date, "items": items.len(), "sent": true }))
}

fn change_key(day: &str, item: &Item) -> String {
    // The unit separator cannot appear in a validated brand name, so keys never collide.
    format!("{CHANGES}{day}/{}\u{1f}{}", item.brand_name, item.pn_code)
}

fn prune_changes(platform: &Platform) -> Result<()> {
    let keep = platform.config.changes_retention_days;
    let oldest = platform.day(-(keep as i64))?;
    for key in storage::list_all(CHANGES)? {
        let day = key[CHANGES.len()..].split('/').next().unwrap_or_default();
        if day < oldest.as_str() {
            storage::delete(&key)?;
        }
    }
    Ok(())
}
