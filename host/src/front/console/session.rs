//! Sign-in and sessions. Signing in with an API token starts a session of its own: a random
//! secret in an `HttpOnly`, `Secure`, `SameSite=Strict` cookie scoped to `/ui`, of which the
//! store keeps only a hash, the token it was opened with and its expiry. The cookie is no API
//! token (it opens nothing under `/v1`), signing out deletes the session everywhere, a revoked
//! token ends its sessions at once (checked on every request), and the CSRF token is derived
//! from the session's secret with the deployment's, so it changes with every sign-in.

use super::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The store namespace of console sessions: a control character keeps it apart from every
/// adapter's namespace.
const SESSIONS: &str = crate::operations::host_namespace::CONSOLE_SESSIONS;

/// What the store keeps of a session (never its secret).
#[derive(Serialize, Deserialize)]
struct Session {
    token_id: String,
    expires_at_ms: i64,
}

/// The store key of a session: the SHA-256 of its secret, so that a copy of the store opens
/// no session.
fn session_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(super) fn cookie_token(headers: &HeaderMap) -> Option<String> {
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

/// Sessions one sign-in looks at to drop the expired ones.
const SWEEP: u32 = 256;

impl Console {
    /// Where sessions are kept.
    fn sessions(&self) -> crate::operations::Records {
        self.ops.records(SESSIONS)
    }

    /// Starts a session for `token_id`; answers the cookie's secret.
    async fn open_session(&self, token_id: &str) -> Result<String, StoreError> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let secret = format!("s_{}", hex::encode(secret));
        let session = Session {
            token_id: token_id.to_string(),
            expires_at_ms: crate::clock::now_ms()
                .saturating_add(i64::try_from(SESSION_SECONDS * 1000).unwrap_or(i64::MAX)),
        };
        let value = serde_json::to_vec(&session).unwrap_or_default();
        self.sessions().set(&session_key(&secret), &value).await?;
        self.sweep_sessions().await;
        Ok(secret)
    }

    /// Drops expired sessions among the first [`SWEEP`] after a random point, so that sessions
    /// nobody signed out of do not pile up.
    async fn sweep_sessions(&self) {
        let sessions = self.sessions();
        let mut start = [0u8; 32];
        rand::rng().fill_bytes(&mut start);
        let Ok(keys) = sessions.keys("", Some(&hex::encode(start)), SWEEP).await else {
            return;
        };
        let now = crate::clock::now_ms();
        for key in keys {
            let expired = match sessions.get(&key).await {
                Ok(Some(v)) => {
                    serde_json::from_slice::<Session>(&v).map_or(true, |s| s.expires_at_ms <= now)
                }
                _ => false,
            };
            if expired {
                let _ = sessions.delete(&key).await;
            }
        }
    }

    /// The API token behind the session whose secret is `secret`, if the session is live and
    /// its token still exists.
    async fn session_token(&self, secret: &str) -> Result<Option<ApiToken>, String> {
        let Some(tokens) = &self.access.tokens else {
            return Ok(None);
        };
        let sessions = self.sessions();
        let key = session_key(secret);
        let Some(value) = sessions.get(&key).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let Ok(session) = serde_json::from_slice::<Session>(&value) else {
            return Ok(None);
        };
        if session.expires_at_ms <= crate::clock::now_ms() {
            let _ = sessions.delete(&key).await;
            return Ok(None);
        }
        tokens
            .find(&session.token_id)
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) fn csrf_for(&self, session: &str) -> String {
        // The deployment's own secret (the same on every node), never shown: a CSRF token
        // cannot be computed without it, nor without the session it belongs to.
        let key = self.ops.deployment_secret();
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(b"weft-console-csrf\0");
        mac.update(session.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The viewer of this request, or the answer to give instead (sign in first).
    pub(super) async fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Response> {
        if self.access.tokens.is_none() {
            return Ok(Viewer {
                who: "authentication off (--insecure-no-auth)".into(),
                token_id: String::new(),
                can_act: true,
                signed_in: false,
                csrf: self.csrf_for(""),
            });
        }
        let Some(presented) = cookie_token(headers) else {
            return Err(to_login());
        };
        let token: ApiToken = match self.session_token(&presented).await {
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
            token_id: token.id.clone(),
            can_act: token.allows(&Need::Admin),
            signed_in: true,
            csrf: self.csrf_for(&presented),
        })
    }

    /// An action's form and who sent it, once the sender is known to be signed in with an
    /// admin scope and the form carries this session's CSRF token; otherwise the page that
    /// says why not.
    pub(super) async fn act(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(HashMap<String, String>, Viewer), Response> {
        let form = read_form(body).await?;
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
        Ok((form, viewer))
    }
}

pub(super) async fn login_page(State(c): State<Console>) -> Response {
    if c.access.tokens.is_none() {
        return back_to("/ui");
    }
    page(pages::login(None))
}

pub(super) async fn login(State(c): State<Console>, body: Body) -> Response {
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
            let secret = match c.open_session(&t.id).await {
                Ok(s) => s,
                Err(e) => {
                    return page_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        pages::message("Unavailable", &format!("No session could be started: {e}")),
                    );
                }
            };
            tracing::info!(token = %t.id, name = %t.name, "console sign-in");
            let cookie = format!(
                "{COOKIE}={secret}; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age={SESSION_SECONDS}"
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

pub(super) async fn logout(State(c): State<Console>, headers: HeaderMap) -> Response {
    // Ended in the store, not only in this browser: a copy of the cookie opens nothing after.
    if let Some(secret) = cookie_token(&headers) {
        let _ = c.sessions().delete(&session_key(&secret)).await;
    }
    let mut r = back_to("/ui/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "weft_console=; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    harden(r)
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
