//! The ops console at `/ui`: server-rendered pages of what Weft is doing — adapters, jobs,
//! schedules, tokens, reloads — and the few actions an operator takes from them (retry,
//! cancel, bulk retry, run a schedule now).
//!
//! Sign-in takes one of the deployment's API tokens (a `read` scope to look, `admin` to act)
//! and keeps it in a cookie the page's scripts cannot read (`HttpOnly`), that no other site's
//! request carries (`SameSite=Strict`), that is sent over TLS only (`Secure`; browsers treat
//! `localhost` as secure, elsewhere put TLS in front) and that is scoped to `/ui`. Every
//! action is a form POST carrying a CSRF token derived from the session with the deployment's
//! secret (so any node of a cluster checks it, and a page from one session is no use in
//! another); the front door's guard refuses a foreign `Origin` or `Host` before any of this.
//! A read-only session gets no action buttons, and its forged POST is refused.
//!
//! Pages are HTML from `maud` templates compiled into the binary, with one small script
//! (`/ui/assets/console.js`) that refreshes the page's main section while it is open; without
//! it the pages still read and act, and refresh by `<meta>` instead. No asset comes from
//! outside the binary: the console works on a machine without internet. Every text that came
//! from an adapter or a platform is scrubbed of the adapter's secrets and tokens first.

mod pages;
mod session;
pub mod words;

use session::{login, login_page, logout};

use super::auth::{Access, ApiToken, Need};
use crate::operations::{Operations, StoreError};
use crate::runtime::Runtime;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use maud::Markup;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The session cookie's name.
const COOKIE: &str = "weft_console";
/// How long a sign-in lasts.
const SESSION_SECONDS: u64 = 8 * 3600;
/// The largest form the console reads (a sign-in or an action).
const MAX_FORM: usize = 16 * 1024;
/// How long a form may take to arrive.
const FORM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Dead jobs one bulk retry changes at most.
const MAX_BULK: usize = 10_000;

/// True for the paths the console serves (the front door's guard lets them pass to the
/// console's own sign-in after its Host and Origin checks).
pub(crate) fn owns(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

#[derive(Clone)]
struct Console {
    runtime: Arc<Runtime>,
    ops: Operations,
    access: Access,
}

/// The console's routes, for the front door to merge.
pub(crate) fn router(runtime: Arc<Runtime>, ops: Operations, access: Access) -> Router {
    Router::new()
        .route("/ui", get(adapters_page))
        .route("/ui/", get(adapters_page))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/jobs", get(jobs_page))
        .route("/ui/jobs/retry", post(bulk_retry))
        .route("/ui/jobs/{id}", get(job_page))
        .route("/ui/jobs/{id}/retry", post(retry))
        .route("/ui/jobs/{id}/cancel", post(cancel))
        .route("/ui/adapters/{name}/pause", post(pause))
        .route("/ui/adapters/{name}/resume", post(resume))
        .route("/ui/adapters/{name}/storage", get(storage_page))
        .route("/ui/adapters/{name}/storage/delete", post(delete_key))
        .route("/ui/schedules", get(schedules_page))
        .route("/ui/schedules/{adapter}/{name}", get(schedule_page))
        .route("/ui/schedules/{adapter}/{name}/run", post(run_now))
        .route("/ui/schedules/{adapter}/{name}/pause", post(schedule_pause))
        .route(
            "/ui/schedules/{adapter}/{name}/resume",
            post(schedule_resume),
        )
        .route("/ui/tokens", get(tokens_page))
        .route("/ui/reloads", get(reloads_page))
        .route("/ui/assets/console.css", get(css))
        .route("/ui/assets/console.js", get(js))
        .with_state(Console {
            runtime,
            ops,
            access,
        })
}

/// Who is looking: what they may do and the CSRF token their forms carry.
pub(crate) struct Viewer {
    /// The token's name and scopes as shown in the header ("open" without authentication).
    pub who: String,
    /// The session's token id, for the log of what it did (empty with authentication off).
    pub token_id: String,
    /// Whether action buttons are shown and actions taken (an admin scope).
    pub can_act: bool,
    /// Whether there is a session to sign out of (not with authentication off).
    pub signed_in: bool,
    /// The CSRF token of this session.
    pub csrf: String,
}

impl Viewer {
    /// Who acts, for the log: the console session's token id and name.
    pub(crate) fn acting(&self) -> String {
        format!("console session, token {} {}", self.token_id, self.who)
    }
}

fn to_login() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/login")]).into_response()
}

fn back_to(location: &str) -> Response {
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/ui"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Headers every console answer carries: nothing from elsewhere runs, loads or frames it, and
/// no page is cached (they hold operational data). The referrer policy is `same-origin`,
/// not `no-referrer`: with the latter a browser sends `Origin: null` on our own forms, which
/// the guard must refuse.
fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn page_response(status: StatusCode, markup: Markup) -> Response {
    harden(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            markup.into_string(),
        )
            .into_response(),
    )
}

fn page(markup: Markup) -> Response {
    page_response(StatusCode::OK, markup)
}

/// Reads a urlencoded form of at most [`MAX_FORM`] bytes.
async fn read_form(body: Body) -> Result<HashMap<String, String>, Response> {
    // A form is a few hundred bytes: one that takes longer than this to arrive is a client
    // holding a connection open, not a person.
    let read = tokio::time::timeout(FORM_TIMEOUT, axum::body::to_bytes(body, MAX_FORM));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Err(page_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                pages::message("Refused", "The form is larger than the console reads."),
            ));
        }
        Err(_) => {
            return Err(page_response(
                StatusCode::REQUEST_TIMEOUT,
                pages::message("Refused", "The form did not arrive in time."),
            ));
        }
    };
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

async fn css() -> Response {
    harden(
        (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            include_str!("assets/console.css"),
        )
            .into_response(),
    )
}

async fn js() -> Response {
    harden(
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            include_str!("assets/console.js"),
        )
            .into_response(),
    )
}

macro_rules! viewer_or_return {
    ($c:expr, $headers:expr) => {
        match $c.viewer(&$headers).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

// After the macro: the actions use it.
mod actions;
use actions::{
    bulk_retry, cancel, delete_key, pause, resume, retry, run_now, schedule_pause, schedule_resume,
};

async fn adapters_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    let paused = c.ops.paused().await;
    let queues = c.ops.queues(&c.runtime.registry().names()).await;
    page(pages::adapters(&viewer, &c.runtime, &paused, &queues))
}

/// The jobs page's filter.
#[derive(serde::Deserialize, Default)]
pub(crate) struct JobsQuery {
    /// Only this adapter's jobs.
    pub adapter: Option<String>,
    /// A search: only jobs in this state.
    pub state: Option<String>,
    /// A search: only jobs of this operation.
    pub op: Option<String>,
    /// A search: only the job of this idempotency key.
    pub key: Option<String>,
    /// A search: only jobs created since (RFC 3339).
    pub since: Option<String>,
    /// A search: only jobs created before (RFC 3339).
    pub until: Option<String>,
    /// A search's next page: after this job (a cursor the previous page linked).
    pub after: Option<String>,
    /// A note to show once (after an action).
    pub done: Option<String>,
}

async fn jobs_page(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match pages::jobs(&viewer, &c.runtime, &c.ops, &query).await {
        Ok(m) => page(m),
        Err(e) => store_down(e),
    }
}

fn store_down(e: StoreError) -> Response {
    page_response(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message("Store unavailable", &e.to_string()),
    )
}

async fn job_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    match c.ops.job(&id).await {
        Ok(Some(job)) => {
            // The timeline is extra: a store that fails to give it still shows the job.
            let record = c.ops.call_record(&id).await.ok().flatten();
            page(pages::job(&viewer, &c.runtime, &job, record.as_ref()))
        }
        Ok(None) => page_response(
            StatusCode::NOT_FOUND,
            pages::message("No such job", &format!("There is no job {id}.")),
        ),
        Err(e) => store_down(e),
    }
}

async fn schedules_page(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    let done = query.ok().and_then(|Query(q)| q.done);
    page(pages::schedules(&viewer, &c.runtime, &c.ops, done.as_deref()).await)
}

async fn schedule_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((adapter, name)): Path<(String, String)>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    match pages::schedule(&viewer, &c.runtime, &c.ops, &adapter, &name).await {
        Ok(Some(m)) => page(m),
        Ok(None) => page_response(
            StatusCode::NOT_FOUND,
            pages::message(
                "No such schedule",
                &format!("Adapter {adapter} has no schedule {name}."),
            ),
        ),
        Err(e) => store_down(e),
    }
}

async fn tokens_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    page(pages::tokens(&viewer, &c.runtime))
}

async fn reloads_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    page(pages::reloads(&viewer, &c.runtime))
}

/// The storage page's query: a prefix, where the page starts, the key to show.
#[derive(serde::Deserialize, Default)]
pub(crate) struct StorageQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    key: Option<String>,
    done: Option<String>,
}

/// Keys shown on one storage page.
const STORAGE_PAGE: u32 = 100;

async fn storage_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(adapter): Path<String>,
    query: Result<Query<StorageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    if !viewer.can_act {
        return page_response(
            StatusCode::FORBIDDEN,
            pages::message(
                "Refused",
                "An adapter's storage may hold what it was given in confidence: it takes an admin token.",
            ),
        );
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let refused = |e: crate::operations::StorageRefused| match e {
        crate::operations::StorageRefused::Store(e) => store_down(e),
        other => page_response(
            StatusCode::BAD_REQUEST,
            pages::message("Refused", &other.to_string()),
        ),
    };
    let listed = match c
        .ops
        .storage_keys(&adapter, &q.prefix, q.after.as_deref(), STORAGE_PAGE)
        .await
    {
        Ok(listed) => listed,
        Err(e) => return refused(e),
    };
    let value = match &q.key {
        Some(key) => {
            let by = viewer.acting();
            match c.ops.storage_value(&adapter, key, &by).await {
                Ok(v) => Some((key.as_str(), v)),
                Err(e) => return refused(e),
            }
        }
        None => None,
    };
    page(pages::storage(
        &viewer,
        &pages::StorageView {
            adapter: &adapter,
            prefix: &q.prefix,
            keys: &listed.keys,
            next_after: listed.next_after.as_deref(),
            shown: value.as_ref().map(|(k, v)| (*k, v.as_ref())),
            done: q.done.as_deref(),
        },
    ))
}
