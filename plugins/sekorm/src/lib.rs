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
        use weft_sdk::Describe;
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
        .config(platform::keys())
        .schedules(&["daily-reconcile"])
    }

    fn fetch_token(_scope: String) -> Result<TokenGrant> {
        Platform::load()?.fetch_token()
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        let platform = Platform::load()?;
        match op.as_str() {
            "full-sync" => full_sync(&ctx, &platform, input),
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
        reconcile_due_days(&platform)
    }
}

weft_sdk::export_adapter!(Sekorm);

/// Key of the last day the schedule reconciled.
const RECONCILED: &str = "reconciled/last";
/// After `changes/DAY/`: the items of one full-sync request (a brand name cannot hold U+001F,
/// so these keys never meet an item's).
const FULL: &str = "\u{1f}full/";
/// Items per recorded full-sync piece (a piece is one storage value).
const RECORD_PIECE: usize = 1000;

/// A change recorded for the day's reconciliation, with when it was sent: the last one sent
/// for an item is its quantity of the day.
#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    #[serde(flatten)]
    item: Item,
    #[serde(default)]
    at_ms: u64,
}

/// The items of one full-sync request, recorded for the day's reconciliation.
#[derive(serde::Serialize, serde::Deserialize)]
struct RecordedPiece {
    at_ms: u64,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSyncInput {
    items: Vec<Value>,
}

/// The same pnCode and brandName twice in one request is refused, naming both indexes: the two
/// quantities disagree or are redundant, and which one the platform keeps is not the caller's
/// choice if it is made here.
fn refuse_duplicates(items: &[Item]) -> Result<()> {
    let mut first = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for (j, item) in items.iter().enumerate() {
        if let Some(i) = first.insert((item.brand_name.as_str(), item.pn_code.as_str()), j) {
            first.insert((item.brand_name.as_str(), item.pn_code.as_str()), i);
            problems.push(weft_sdk::error::detail(
                Some(j),
                Some("pnCode"),
                None,
                format!(
                    "repeats items[{i}] (pnCode {:?}, brandName {:?}): send each item once",
                    item.pn_code, item.brand_name
                ),
            ));
        }
    }
    weft_sdk::error::invalid_rows("items", problems).map_or(Ok(()), Err)
}

/// Sends `items` to `path` in requests of `chunk_size`. A failed request's error names it, the
/// caller's indexes of its items, and how many items the platform already applied.
fn send_in_chunks(
    platform: &Platform,
    path: &str,
    items: &[Item],
    mut sent: impl FnMut(usize, &[Item]) -> Result<()>,
) -> Result<usize> {
    let size = platform.config.chunk_size;
    let count = items.len().div_ceil(size);
    for (n, part) in items.chunks(size).enumerate() {
        let offset = n * size;
        platform.post_data(path, part).map_err(|e| {
            e.shift_indexes(offset).context(format!(
                "request {} of {count} (items {offset} to {}) failed; the platform already applied {n} request(s), {offset} item(s)",
                n + 1,
                offset + part.len() - 1
            ))
        })?;
        sent(n, part)?;
    }
    Ok(count)
}

fn full_sync(ctx: &CallContext, platform: &Platform, input: Value) -> Result<Value> {
    let input: FullSyncInput = weft_sdk::parse_input(input)?;
    let items = validate_items(&input.items)?;
    refuse_duplicates(&items)?;
    let day = platform.day(0)?;
    let chunks = send_in_chunks(
        platform,
        &platform.config.full_sync_path,
        &items,
        |n, part| {
            // What full-sync set counts as the day's change too. Keeping the record is not worth
            // failing a call whose items the platform already took: a failure is logged.
            for (k, piece) in part.chunks(RECORD_PIECE).enumerate() {
                let key = format!("{CHANGES}{day}/{FULL}{}/{n:06}-{k:03}", ctx.call_id);
                let record = RecordedPiece {
                    at_ms: dates::now_ms(),
                    items: piece.to_vec(),
                };
                if let Err(e) = storage::set_json_expiring(&key, &record, platform.changes_kept()) {
                    log::warn(
                        "full-sync items not recorded for the day's reconciliation",
                        &[("error", &e.to_string())],
                    );
                }
            }
            Ok(())
        },
    )?;
    // The platform takes a request whole or refuses it whole: a success is every item taken.
    weft_sdk::items::report(items.len(), &[]);
    Ok(json!({ "items": items.len(), "chunks": chunks, "chunk_size": platform.config.chunk_size }))
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
    let record = Recorded {
        item: item.clone(),
        at_ms: dates::now_ms(),
    };
    storage::set_json_expiring(&change_key(&day, &item), &record, platform.changes_kept())?;
    Ok(json!({ "updated": item, "recorded_for": day }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcileInput {
    date: Option<String>,
    items: Option<Vec<Value>>,
}

/// Every change recorded for `date` (update-quantity and full-sync), the last one of each item.
fn day_changes(date: &str) -> Result<Vec<Item>> {
    let prefix = format!("{CHANGES}{date}/");
    let mut last: std::collections::BTreeMap<(String, String), (u64, Item)> =
        std::collections::BTreeMap::new();
    let mut keep = |at_ms: u64, item: Item| {
        let key = (item.brand_name.clone(), item.pn_code.clone());
        if last.get(&key).is_none_or(|(at, _)| *at <= at_ms) {
            last.insert(key, (at_ms, item));
        }
    };
    for key in storage::list_all(&prefix)? {
        if key[prefix.len()..].starts_with(FULL) {
            if let Some(piece) = storage::get_json::<RecordedPiece>(&key)? {
                for item in piece.items {
                    keep(piece.at_ms, item);
                }
            }
        } else if let Some(r) = storage::get_json::<Recorded>(&key)? {
            keep(r.at_ms, r.item);
        }
    }
    Ok(last.into_values().map(|(_, item)| item).collect())
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
        Some(items) => {
            let items = validate_items(&items)?;
            refuse_duplicates(&items)?;
            items
        }
        None => day_changes(&date)?,
    };
    if items.is_empty() {
        return Ok(json!({ "date": date, "items": 0, "sent": false, "requests": 0 }));
    }
    let requests = send_in_chunks(platform, &platform.config.compare_path, &items, |_, _| {
        Ok(())
    })
    .map_err(|e| e.context(format!("reconciliation of {date}")))?;
    Ok(json!({ "date": date, "items": items.len(), "sent": true, "requests": requests }))
}

/// The schedule: every complete day not reconciled yet, oldest first, up to the day
/// `reconcile_day_offset` names (yesterday by default), as far back as changes are kept. A day
/// missed while Weft was down is caught up; a failure leaves the days from it on for the next
/// attempt (the tick's job is retried under `[retry]`).
fn reconcile_due_days(platform: &Platform) -> Result<()> {
    let last: Option<String> = storage::get_json(RECONCILED)?;
    let newest = platform.config.reconcile_day_offset.min(0);
    let oldest = -(platform.config.changes_retention_days as i64);
    for offset in oldest..=newest {
        let day = platform.day(offset)?;
        if last.as_deref().is_some_and(|l| day.as_str() <= l) {
            continue;
        }
        let out = reconcile(platform, json!({ "date": day }))?;
        if out["sent"] == true {
            log::info(
                "daily reconciliation sent",
                &[("date", &day), ("items", &out["items"].to_string())],
            );
        }
        storage::set_json(RECONCILED, &day)?;
    }
    Ok(())
}

fn change_key(day: &str, item: &Item) -> String {
    // The unit separator cannot appear in a validated brand name, so keys never collide.
    format!("{CHANGES}{day}/{}\u{1f}{}", item.brand_name, item.pn_code)
}
