//! Sign-in and sessions: the API token in an `HttpOnly`, `Secure`, `SameSite=Strict` cookie
//! scoped to `/ui`, checked on every request (a revoked token ends its sessions at once), and
//! the CSRF token derived from the session with the deployment's secret.

use super::*;

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

impl Console {
    pub(super) fn csrf_for(&self, session: &str) -> String {
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
    pub(super) async fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Response> {
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

    /// An action's form, once its sender is known to be signed in with an admin scope and the
    /// form carries this session's CSRF token; otherwise the page that says why not.
    pub(super) async fn act(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<HashMap<String, String>, Response> {
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
        Ok(form)
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

pub(super) async fn logout() -> Response {
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
