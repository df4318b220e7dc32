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
mod words;

use super::auth::{Access, ApiToken, Need};
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
    access: Access,
}

/// The console's routes, for the front door to merge.
pub(crate) fn router(runtime: Arc<Runtime>, access: Access) -> Router {
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
        .route("/ui/schedules", get(schedules_page))
        .route("/ui/schedules/{adapter}/{name}/run", post(run_now))
        .route("/ui/tokens", get(tokens_page))
        .route("/ui/reloads", get(reloads_page))
        .route("/ui/assets/console.css", get(css))
        .route("/ui/assets/console.js", get(js))
        .with_state(Console { runtime, access })
}

/// Who is looking: what they may do and the CSRF token their forms carry.
pub(crate) struct Viewer {
    /// The token's name and scopes as shown in the header ("open" without authentication).
    pub who: String,
    /// Whether action buttons are shown and actions taken (an admin scope).
    pub can_act: bool,
    /// Whether there is a session to sign out of (not with authentication off).
    pub signed_in: bool,
    /// The CSRF token of this session.
    pub csrf: String,
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Console {
    fn csrf_for(&self, session: &str) -> String {
        // The deployment's own secret (the same on every node), never shown: a CSRF token
        // cannot be computed without it, nor without the session it belongs to.
        let key = &self.runtime.shared().job_id_key;
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(b"weft-console-csrf\0");
        mac.update(session.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The viewer of this request, or the answer to give instead (sign in first).
    async fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Response> {
        let Some(tokens) = &self.access.tokens else {
            return Ok(Viewer {
                who: "authentication off (--insecure-no-auth)".into(),
                can_act: true,
                signed_in: false,
                csrf: self.csrf_for(""),
            });
        };
        let Some(presented) = cookie_token(headers) else {
            return Err(to_login());
        };
        let token: ApiToken = match tokens.verify(&presented).await {
            Ok(Some(t)) if t.allows(&Need::Read) => t,
            Ok(_) => return Err(to_login()),
            Err(e) => {
                return Err(page_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::message("Unavailable", &format!("API tokens cannot be read: {e}")),
                ));
            }
        };
        Ok(Viewer {
            who: format!("{} ({})", token.name, token.scopes.join(", ")),
            can_act: token.allows(&Need::Admin),
            signed_in: true,
            csrf: self.csrf_for(&presented),
        })
    }

    /// The viewer of an action: signed in with an admin scope, with this session's CSRF token.
    async fn actor(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<(), Response> {
        let viewer = self.viewer(headers).await?;
        let given = form.get("csrf").map(String::as_str).unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(viewer.csrf.as_bytes())) || given.is_empty() {
            tracing::info!("console action refused: missing or wrong CSRF token");
            return Err(page_response(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Refused",
                    "This form is not one this console gave you (its CSRF token does not match). Reload the page and try again.",
                ),
            ));
        }
        if !viewer.can_act {
            tracing::info!(who = %viewer.who, "console action refused: read-only session");
            return Err(page_response(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Refused",
                    "Your token has no admin scope: it may look, not act.",
                ),
            ));
        }
        Ok(())
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

async fn login_page(State(c): State<Console>) -> Response {
    if c.access.tokens.is_none() {
        return back_to("/ui");
    }
    page(pages::login(None))
}

async fn login(State(c): State<Console>, body: Body) -> Response {
    let Some(tokens) = &c.access.tokens else {
        return back_to("/ui");
    };
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let presented = form.get("token").map(|t| t.trim()).unwrap_or("");
    match tokens.verify(presented).await {
        Ok(Some(t)) if t.allows(&Need::Read) => {
            tracing::info!(token = %t.id, name = %t.name, "console sign-in");
            let cookie = format!(
                "{COOKIE}={presented}; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age={SESSION_SECONDS}"
            );
            let mut r = back_to("/ui");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            harden(r)
        }
        Ok(Some(t)) => {
            tracing::info!(token = %t.id, "console sign-in refused: no read scope");
            page_response(
                StatusCode::FORBIDDEN,
                pages::login(Some(
                    "That token has no read scope: the console needs read (to look) or admin (to act).",
                )),
            )
        }
        // The token itself is never echoed back, nor logged.
        Ok(None) => page_response(
            StatusCode::UNAUTHORIZED,
            pages::login(Some(
                "That is not a valid API token (unknown, revoked or mistyped).",
            )),
        ),
        Err(e) => page_response(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message("Unavailable", &format!("API tokens cannot be read: {e}")),
        ),
    }
}

async fn logout() -> Response {
    let mut r = back_to("/ui/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "weft_console=; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    harden(r)
}

macro_rules! viewer_or_return {
    ($c:expr, $headers:expr) => {
        match $c.viewer(&$headers).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

async fn adapters_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    page(pages::adapters(&viewer, &c.runtime))
}

/// The jobs page's filter.
#[derive(serde::Deserialize, Default)]
pub(crate) struct JobsQuery {
    /// Only this adapter's jobs.
    pub adapter: Option<String>,
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
    match pages::jobs(&viewer, &c.runtime, &query).await {
        Ok(m) => page(m),
        Err(e) => store_down(e),
    }
}

fn store_down(e: crate::store::StoreError) -> Response {
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
    match c.runtime.shared().store.job_get(&id).await {
        Ok(Some(job)) => page(pages::job(&viewer, &c.runtime, &job)),
        Ok(None) => page_response(
            StatusCode::NOT_FOUND,
            pages::message("No such job", &format!("There is no job {id}.")),
        ),
        Err(e) => store_down(e),
    }
}

fn change_note(id: &str, change: crate::jobs::JobChange, verb: &str) -> String {
    match change {
        crate::jobs::JobChange::Done => format!("job {id}: {verb}"),
        crate::jobs::JobChange::NotFound => format!("job {id}: no such job"),
        crate::jobs::JobChange::Refused(state) => {
            format!("job {id}: not {verb}, it is {}", state.as_str())
        }
    }
}

fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn retry(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    job_action(&c, &headers, &id, body, false).await
}

async fn cancel(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    job_action(&c, &headers, &id, body, true).await
}

/// Retries (or cancels) one job for an admin session whose form carries its CSRF token, and
/// goes back to the jobs page saying what happened.
async fn job_action(
    c: &Console,
    headers: &HeaderMap,
    id: &str,
    body: Body,
    cancel: bool,
) -> Response {
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = c.actor(headers, &form).await {
        return r;
    }
    let (changed, verb) = if cancel {
        (c.runtime.cancel_job(id).await, "cancelled")
    } else {
        (c.runtime.retry_job(id).await, "queued again")
    };
    match changed {
        Ok(change) => {
            tracing::info!(job = %id, verb, "console: job action");
            back_to(&format!(
                "/ui/jobs?done={}",
                encode(&change_note(id, change, verb))
            ))
        }
        Err(e) => store_down(e),
    }
}

/// Retries every dead job (of one adapter, if the form names one), at most [`MAX_BULK`].
async fn bulk_retry(State(c): State<Console>, headers: HeaderMap, body: Body) -> Response {
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = c.actor(&headers, &form).await {
        return r;
    }
    let adapter = form.get("adapter").filter(|a| !a.is_empty()).cloned();
    let store = &c.runtime.shared().store;
    // The dead jobs are listed first and changed after: retried jobs leave the "dead" state as
    // they are changed, so paging while changing would skip some.
    let mut ids = Vec::new();
    let mut after: Option<(i64, String)> = None;
    while ids.len() < MAX_BULK {
        let filter = crate::store::JobFilter {
            state: Some(crate::store::JobState::Dead),
            adapter: adapter.as_deref(),
            after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
        };
        let page = match store.job_page(&filter, 500).await {
            Ok(p) => p,
            Err(e) => return store_down(e),
        };
        let Some(last) = page.last() else { break };
        after = Some((last.created_at_ms, last.id.clone()));
        let full = page.len() == 500;
        ids.extend(page.into_iter().map(|j| j.id));
        if !full {
            break;
        }
    }
    ids.truncate(MAX_BULK);
    let mut queued = 0usize;
    for id in &ids {
        match c.runtime.retry_job(id).await {
            Ok(crate::jobs::JobChange::Done) => queued += 1,
            Ok(_) => {}
            Err(e) => return store_down(e),
        }
    }
    tracing::info!(adapter = ?adapter, queued, "console: bulk retry");
    let of = adapter.map(|a| format!(" of {a}")).unwrap_or_default();
    back_to(&format!(
        "/ui/jobs?done={}",
        encode(&format!("{queued} dead jobs{of} queued again"))
    ))
}

async fn schedules_page(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let viewer = viewer_or_return!(c, headers);
    let done = query.ok().and_then(|Query(q)| q.done);
    page(pages::schedules(&viewer, &c.runtime, done.as_deref()).await)
}

async fn run_now(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((adapter, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = c.actor(&headers, &form).await {
        return r;
    }
    let note = match c.runtime.run_schedule_now(&adapter, &name).await {
        Ok(id) => {
            tracing::info!(adapter = %adapter, schedule = %name, job = %id, "console: run now");
            format!("{adapter} {name}: running as job {id}")
        }
        Err(e) => format!("{adapter} {name}: {}", e.message),
    };
    back_to(&format!("/ui/schedules?done={}", encode(&note)))
}

async fn tokens_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    page(pages::tokens(&viewer, &c.runtime))
}

async fn reloads_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let viewer = viewer_or_return!(c, headers);
    page(pages::reloads(&viewer, &c.runtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; weft_console=weft_abc_def; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("weft_abc_def"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("weft_console="));
        assert_eq!(cookie_token(&h), None, "an emptied cookie is no session");
    }

    #[test]
    fn console_paths() {
        assert!(owns("/ui"));
        assert!(owns("/ui/jobs/x/retry"));
        assert!(!owns("/uix"));
        assert!(!owns("/v1/jobs"));
    }
}
