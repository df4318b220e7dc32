//! The API tokens over HTTP, for administrators: `GET /v1/tokens` lists them (never a secret),
//! `POST /v1/tokens` creates one and answers its value once, `DELETE /v1/tokens/{id}` revokes
//! one. Each change is logged with the token that made it.

use super::auth::{ApiTokens, Caller, TokenStoreError};
use super::{App, Problem};
use crate::error::ErrorKind;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// Longest token name.
const MAX_NAME: usize = 100;
/// Largest body of a token's creation.
const MAX_BODY: u64 = 16 * 1024;

/// The body of `POST /v1/tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
}

/// The tokens the guard checks (so a revocation is seen at once by this node's cache), or
/// the store's when the front door runs without them.
fn tokens(app: &App) -> ApiTokens {
    app.options
        .access
        .tokens
        .clone()
        .unwrap_or_else(|| ApiTokens::new(&app.ops))
}

fn problem(e: TokenStoreError) -> Problem {
    match e {
        TokenStoreError::Scope(_) => Problem::new(ErrorKind::InvalidInput, 400, e.to_string()),
        e => Problem::new(
            ErrorKind::Unavailable,
            503,
            format!("the tokens could not be read: {e}"),
        ),
    }
}

/// `GET /v1/tokens`.
pub(super) async fn list_tokens(State(app): State<App>) -> Result<Response, Problem> {
    let list = tokens(&app).list().await.map_err(problem)?;
    Ok(axum::Json(list).into_response())
}

/// `POST /v1/tokens` `{"name": …, "scopes": […]}`: 201 with the token's value, shown once.
pub(super) async fn create_token(
    State(app): State<App>,
    caller: Option<Extension<Caller>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Problem> {
    let bytes = app
        .read_request(&headers, body, MAX_BODY, "a token's creation")
        .await?;
    let invalid = |m: String| Problem::new(ErrorKind::InvalidInput, 400, m);
    let new: NewToken = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("body is not {{\"name\", \"scopes\"}}: {e}")))?;
    if new.name.trim().is_empty()
        || new.name.chars().count() > MAX_NAME
        || new.name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "name is 1 to {MAX_NAME} printable characters"
        )));
    }
    if new.scopes.is_empty() {
        return Err(invalid(
            "scopes names at least one of admin, read, invoke, invoke:ADAPTER".into(),
        ));
    }
    let (token, value) = tokens(&app)
        .create(&new.name, &new.scopes)
        .await
        .map_err(problem)?;
    tracing::info!(token = %token.id, scopes = ?token.scopes, by = %Caller::named(caller), "API token created");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "id": token.id,
            "name": token.name,
            "scopes": token.scopes,
            "created_at_ms": token.created_at_ms,
            "token": value,
        })),
    )
        .into_response())
}

/// `DELETE /v1/tokens/{id}`.
pub(super) async fn revoke_token(
    State(app): State<App>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    if tokens(&app).revoke(&id).await.map_err(problem)? {
        tracing::info!(token = %id, by = %Caller::named(caller), "API token revoked");
        Ok(axum::Json(json!({ "id": id, "revoked": true })).into_response())
    } else {
        Err(Problem::new(
            ErrorKind::NotFound,
            404,
            format!("no token {id}"),
        ))
    }
}
