//! The CLI as a client of a running Weft (`--server URL` or `WEFT_URL`): every read and action
//! goes through the front door's API with the token in `WEFT_TOKEN` or `--token-file`, so it
//! has that token's scopes and is logged as that token's act. A refusal becomes the exit code
//! of its kind, as a failed `weft invoke` does.

use anyhow::Context;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// Largest answer read from the server (a page of jobs is at most 4 MiB).
const MAX_ANSWER: usize = 8 * 1024 * 1024;
/// Longest a command waits for the server.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Largest token file.
const MAX_TOKEN_FILE: u64 = 4096;

/// A running Weft's API.
pub(crate) struct Remote {
    base: url::Url,
    token: Option<String>,
    client: reqwest::Client,
}

/// What the server answered a command it refused: printed, and the exit code of its kind.
#[derive(Debug)]
pub(crate) struct Refused {
    status: u16,
    kind: Option<String>,
    detail: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.status)
    }
}

impl Refused {
    /// Prints the refusal and answers the exit code of its kind (`weft invoke`'s table; a
    /// refusal by the front door itself: 13 for a missing or wrong token, 16 for a scope).
    pub(crate) fn exit(&self) -> ExitCode {
        eprintln!("error: {self}");
        let code = match self.kind.as_deref() {
            Some(kind) => weft::error::ErrorKind::parse(kind).map(|k| k.exit_code()),
            None => None,
        }
        .unwrap_or(match self.status {
            401 => 13,
            403 => 16,
            404 => 19,
            409 => 12,
            400 | 413 | 415 | 422 => 10,
            _ => 20,
        });
        ExitCode::from(u8::try_from(code).unwrap_or(1))
    }
}

/// An answer: its JSON and the next page's `Link`, if any.
pub(crate) struct Answer {
    pub(crate) body: Value,
    pub(crate) next: Option<String>,
}

impl Remote {
    /// The server the command line names, if it names one; the token comes from `WEFT_TOKEN`
    /// or `token_file` (never a flag: a flag's value shows in every process listing).
    pub(crate) fn of(
        server: Option<&str>,
        token_file: Option<&std::path::Path>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(server) = server.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let base = url::Url::parse(server).with_context(|| {
            format!("--server: expected a URL such as http://127.0.0.1:8080, found {server:?}")
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("--server: expected an http:// or https:// URL, found {server:?}");
        }
        let token = match token_file {
            Some(path) => Some(read_token(path)?),
            None => std::env::var("WEFT_TOKEN")
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot start an HTTP client")?;
        Ok(Some(Self {
            base,
            token,
            client,
        }))
    }

    /// `GET path` with `query`.
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, Failure> {
        self.send(reqwest::Method::GET, path, query, None).await
    }

    /// `POST path` with `query` and a JSON `body` (none: an empty one).
    pub(crate) async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Answer, Failure> {
        self.send(reqwest::Method::POST, path, query, body).await
    }

    /// `DELETE path`.
    pub(crate) async fn delete(&self, path: &str) -> Result<Answer, Failure> {
        self.send(reqwest::Method::DELETE, path, &[], None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Answer, Failure> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut request = self.client.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let mut response = request.send().await.map_err(|e| {
            // `{:#}` names the causes reqwest keeps apart (connection refused, DNS…).
            Failure::Unreachable(format!(
                "cannot reach Weft at {}: {:#}",
                self.base,
                anyhow::Error::new(e)
            ))
        })?;
        let status = response.status();
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::Unreachable(format!("the answer broke off: {e}")))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(Failure::Other(anyhow::anyhow!(
                    "the answer is larger than {MAX_ANSWER} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())
            })
        };
        if status.is_success() {
            return Ok(Answer { body, next });
        }
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| match &body {
                Value::String(s) => s.clone(),
                _ => status.canonical_reason().unwrap_or("refused").to_string(),
            });
        let detail = if status.as_u16() == 401 && self.token.is_none() {
            format!("{detail} — set WEFT_TOKEN or --token-file")
        } else {
            detail
        };
        Err(Failure::Refused(Refused {
            status: status.as_u16(),
            kind: body.get("kind").and_then(Value::as_str).map(str::to_string),
            detail,
        }))
    }
}

/// Why a command against the server did not get its answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server refused it (a problem answer).
    Refused(Refused),
    /// The server could not be reached, or its answer broke off: exit 20, as unavailable.
    Unreachable(String),
    /// It never got an answer.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

/// Runs a command against the server: a refusal prints and exits with its kind's code.
pub(crate) fn exit_of(result: Result<ExitCode, Failure>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(code) => Ok(code),
        Err(Failure::Refused(r)) => Ok(r.exit()),
        Err(Failure::Unreachable(why)) => {
            eprintln!("error: {why}");
            Ok(ExitCode::from(20))
        }
        Err(Failure::Other(e)) => Err(e),
    }
}

/// The `after` of a `Link: <…?after=X…>; rel="next"` header.
fn next_link(link: &str) -> Option<String> {
    let (target, rel) = link.split_once(';')?;
    if !rel.contains("next") {
        return None;
    }
    let target = target.trim().trim_start_matches('<').trim_end_matches('>');
    let query = target.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
}

/// A token file's token: read as a regular file of at most 4 KiB, trimmed.
fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--token-file {}: cannot read it", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_TOKEN_FILE {
        anyhow::bail!(
            "--token-file {}: expected a regular file of at most {MAX_TOKEN_FILE} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--token-file {}: cannot read it", path.display()))?;
    let token = text.trim().to_string();
    if token.is_empty() {
        anyhow::bail!("--token-file {}: the file is empty", path.display());
    }
    Ok(token)
}
