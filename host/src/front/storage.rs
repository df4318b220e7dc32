//! An adapter's storage over HTTP, for administrators: `GET /v1/adapters/{name}/storage`
//! lists keys (`prefix`, `after`, `limit`), `GET …/storage/{key}` shows one value (bounded,
//! secret-looking fields masked) and `DELETE …/storage/{key}` deletes it. Each read of a value
//! and each delete is logged with the token that asked.

use super::auth::Caller;
use super::{App, Problem};
use crate::error::ErrorKind;
use crate::operations::StorageRefused;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// A page of keys.
#[derive(Deserialize)]
pub(super) struct KeysQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    limit: Option<u32>,
}

fn problem(e: StorageRefused) -> Problem {
    match e {
        StorageRefused::Name(_) => Problem::new(ErrorKind::InvalidInput, 400, e.to_string()),
        StorageRefused::Store(e) => Problem::new(
            ErrorKind::Unavailable,
            503,
            format!("the store could not answer: {e}"),
        ),
    }
}

pub(super) async fn storage_keys(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(q): Query<KeysQuery>,
) -> Result<Response, Problem> {
    let page = app
        .ops
        .storage_keys(&name, &q.prefix, q.after.as_deref(), q.limit.unwrap_or(100))
        .await
        .map_err(problem)?;
    Ok(
        axum::Json(json!({ "adapter": name, "keys": page.keys, "next_after": page.next_after }))
            .into_response(),
    )
}

pub(super) async fn storage_value(
    State(app): State<App>,
    caller: Option<Extension<Caller>>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, Problem> {
    match app
        .ops
        .storage_value(&name, &key, &Caller::named(caller))
        .await
        .map_err(problem)?
    {
        Some(value) => Ok(axum::Json(value).into_response()),
        None => Err(no_key(&name, &key)),
    }
}

pub(super) async fn storage_delete(
    State(app): State<App>,
    caller: Option<Extension<Caller>>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, Problem> {
    if app
        .ops
        .storage_delete(&name, &key, &Caller::named(caller))
        .await
        .map_err(problem)?
    {
        Ok(axum::Json(json!({ "adapter": name, "key": key, "deleted": true })).into_response())
    } else {
        Err(no_key(&name, &key))
    }
}

fn no_key(adapter: &str, key: &str) -> Problem {
    Problem::new(
        ErrorKind::NotFound,
        404,
        format!("adapter {adapter:?} holds no key {key:?} (never written, deleted or expired)"),
    )
}
