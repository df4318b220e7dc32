//! HugeVision-SCM's transport: the JWT login (`POST /api/v1/auth/tokens`), `Authorization:
//! Bearer <jwt>` on every business call, the `requestId` / `requestTime` envelope, and the
//! persisted request ids that make resends safe.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use weft_sdk::config::Key;
use weft_sdk::http::{Request, Response, join, snippet};
use weft_sdk::{
    AdapterError, CallContext, Result, TokenGrant, Value, config, dates, json, storage, tokens,
};

/// Default paths of the manual (`/api/v1/processes/{name}`), by operation.
fn default_path(op: &str) -> Option<&'static str> {
    Some(match op {
        "query-pending-shipments" => "/api/v1/processes/exportshipment_pd",
        "create-inventory-adjustment" => "/api/v1/processes/importintenaluseinventory_co_f",
        "submit-inventory-adjustment" => "/api/v1/processes/importintenaluseinventory_co_b",
        "query-async-result" => "/api/v1/processes/inquiryintenaluseinventory_co",
        _ => return None,
    })
}

/// The manifest's `[config]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The platform's root, e.g. `https://demo.scm.huge-vision.com`.
    pub base_url: String,
    /// The login's path.
    pub token_path: String,
    /// Paths of the business APIs by operation (defaults: the manual's).
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    /// The pre-configured entity (`parameters.clientId` of the login).
    #[serde(default)]
    pub client_id: Option<Value>,
    /// The pre-configured organisation (`parameters.organizationId`).
    #[serde(default)]
    pub organization_id: Option<Value>,
    /// The pre-configured role (`parameters.roleId`).
    #[serde(default)]
    pub role_id: Option<Value>,
    /// The pre-configured warehouse (`parameters.warehouseId`), if the user has one.
    #[serde(default)]
    pub warehouse_id: Option<Value>,
    /// Time zone of `requestTime` (the platform writes local time without a zone).
    pub utc_offset: String,
    /// Wait before the first API170NNF poll after an API170COB submission.
    pub poll_first_delay: String,
    /// Wait before the second poll; doubles after each poll still pending…
    pub poll_backoff: String,
    /// …up to this (the platform processes asynchronous requests every 30 minutes).
    pub poll_backoff_max: String,
    /// A submission still pending after this long ends its job as failed.
    pub poll_give_up_after: String,
    /// Wait asked of the login when it answers 429 without a Retry-After.
    pub login_retry_after: String,
    /// Days the request ids this adapter sent are remembered (their storage keys expire then).
    pub retention_days: u64,
}

/// The `[config]` keys, each declared once.
pub fn keys() -> [Key; 13] {
    [
        Key::text("token_path", "path of the login").default("/api/v1/auth/tokens"),
        Key::table(
            "paths",
            "each API's path, by operation (defaults: the manual's)",
        ),
        Key::any("client_id", "the login's clientId"),
        Key::any("organization_id", "the login's organizationId"),
        Key::any("role_id", "the login's roleId"),
        Key::any("warehouse_id", "the login's warehouseId"),
        Key::text("utc_offset", "offset of requestTime, e.g. +08:00").default("+08:00"),
        Key::text("poll_first_delay", "first poll of a submission").default("5m"),
        Key::text("poll_backoff", "wait between polls, doubling").default("5m"),
        Key::text("poll_backoff_max", "longest wait between polls").default("30m"),
        Key::text("poll_give_up_after", "when a pending submission fails").default("24h"),
        Key::text("login_retry_after", "pause after a rate-limited login").default("60s"),
        Key::integer("retention_days", "days request ids are remembered")
            .range(1, 3660)
            .default(30),
    ]
}

/// The polling schedule of asynchronous submissions.
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    /// Before the first poll.
    pub first: Duration,
    /// Before the second poll.
    pub backoff: Duration,
    /// Longest wait between polls.
    pub backoff_max: Duration,
    /// Give up after this long pending.
    pub give_up_after: Duration,
}

impl PollPolicy {
    /// Wait after poll number `poll` (1-based) was still pending.
    pub fn after(&self, poll: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32 << poll.saturating_sub(1).min(16));
        doubled.min(self.backoff_max)
    }
}

fn duration(key: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text).map_err(|e| {
        AdapterError::invalid_input(format!(
            "manifest [config] {key}: expected a duration such as \"5m\", found {text:?} ({e})"
        ))
    })
}

/// The platform as configured.
pub struct Platform {
    /// Typed `[config]`.
    pub config: Config,
    /// `utc_offset`, parsed.
    pub offset: dates::Offset,
    /// The poll schedule, parsed.
    pub poll: PollPolicy,
    login_retry_after: Duration,
}

impl Platform {
    /// Reads and checks the configuration.
    pub fn load() -> Result<Self> {
        let config: Config = config::typed()?;
        let offset = dates::parse_offset(&config.utc_offset).map_err(|e| {
            AdapterError::invalid_input(format!("manifest [config] utc_offset: {e}"))
        })?;
        let poll = PollPolicy {
            first: duration("poll_first_delay", &config.poll_first_delay)?,
            backoff: duration("poll_backoff", &config.poll_backoff)?,
            backoff_max: duration("poll_backoff_max", &config.poll_backoff_max)?,
            give_up_after: duration("poll_give_up_after", &config.poll_give_up_after)?,
        };
        let login_retry_after = duration("login_retry_after", &config.login_retry_after)?;
        Ok(Self {
            config,
            offset,
            poll,
            login_retry_after,
        })
    }

    /// How long what this adapter sent under a request id is remembered (`retention_days`).
    pub fn remembered(&self) -> Duration {
        Duration::from_secs(self.config.retention_days.saturating_mul(86_400))
    }

    /// The path of operation `op`.
    pub fn path(&self, op: &str) -> Result<String> {
        config::op_path(&self.config.paths, op, default_path(op))
    }

    /// Logs in with the system's credentials and the pre-configured identity; the grant's
    /// lifetime is the JWT's `exp`.
    pub fn login(&self) -> Result<TokenGrant> {
        let mut body = json!({
            "systemKey": config::secret("system_key")?,
            "uniqueCode": config::secret("system_password")?,
            "userName": config::secret("user_name")?,
        });
        let mut parameters = serde_json::Map::new();
        for (name, value) in [
            ("clientId", &self.config.client_id),
            ("roleId", &self.config.role_id),
            ("organizationId", &self.config.organization_id),
            ("warehouseId", &self.config.warehouse_id),
        ] {
            match value {
                // `${VAR}` interpolation makes strings; the platform's ids are numbers.
                Some(Value::String(s)) if s.is_empty() => {}
                Some(Value::String(s)) if let Ok(n) = s.parse::<i64>() => {
                    parameters.insert(name.into(), json!(n));
                }
                Some(v) => {
                    parameters.insert(name.into(), v.clone());
                }
                None => {}
            }
        }
        if !parameters.is_empty() {
            body["parameters"] = Value::Object(parameters);
        }
        let url = join(&self.config.base_url, &self.config.token_path);
        let response = Request::post(url)
            .json(&body)?
            .header("Accept", "application/json")
            .send()?;
        match response.status {
            200..=299 => {}
            429 => {
                let wait = response
                    .retry_after_ms()
                    .unwrap_or(self.login_retry_after.as_millis() as u64);
                return Err(AdapterError::transient_code(
                    "429",
                    format!("login refused: too many token requests, retry after {wait} ms"),
                )
                .retry_after_ms(wait));
            }
            401 | 403 => {
                return Err(AdapterError::auth(format!(
                    "login refused: {}",
                    problem_text(&response)
                )));
            }
            s if s >= 500 => {
                return Err(AdapterError::transient_code(
                    s.to_string(),
                    format!("login: HTTP {s}: {}", snippet(&response.body)),
                ));
            }
            s => {
                return Err(AdapterError::rejected(
                    s.to_string(),
                    format!("login: {}", problem_text(&response)),
                ));
            }
        }
        let answer: Value = response.json()?;
        let token = answer["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AdapterError::transient("login answered without a token"))?;
        Ok(TokenGrant {
            token: token.to_string(),
            expires_in_seconds: tokens::jwt_expires_in(token),
        })
    }

    /// Sends `fields` wrapped in the envelope (`requestId`, `requestTime`) to the API of `op`.
    pub fn send(&self, op: &str, request_id: &str, fields: &Value) -> Result<Value> {
        self.send_marked(op, request_id, fields, None)
    }

    /// [`Platform::send`] that keeps `marker` in storage while the platform may have
    /// processed a send whose answer did not come: set right before each HTTP request, removed
    /// when the platform answered that it did nothing (4xx) — unless `marker.1` says an earlier
    /// send already left it uncertain. A 2xx answer is the caller's to judge.
    pub fn send_marked(
        &self,
        op: &str,
        request_id: &str,
        fields: &Value,
        marker: Option<(&str, bool)>,
    ) -> Result<Value> {
        let url = join(&self.config.base_url, &self.path(op)?);
        let mut body = json!({
            "requestId": request_id,
            "requestTime": dates::timestamp(self.offset)?,
        });
        if let (Some(target), Some(extra)) = (body.as_object_mut(), fields.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        tokens::with_token("", |token| {
            let request = Request::post(&url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Accept", "application/json")
                .json(&body)?;
            if let Some((key, _)) = marker {
                storage::set(key, b"sent")?;
            }
            let response = request.send()?;
            if let Some((key, false)) = marker
                && (400..500).contains(&response.status)
            {
                storage::delete(key)?;
            }
            match response.status {
                200..=299 => response.json(),
                401 => Err(AdapterError::auth(format!(
                    "{op}: token refused: {}",
                    problem_text(&response)
                ))),
                429 => {
                    let wait = response.retry_after_ms().unwrap_or(1_000);
                    Err(
                        AdapterError::transient_code("429", format!("{op}: rate limited"))
                            .retry_after_ms(wait),
                    )
                }
                s if s >= 500 => Err(AdapterError::transient_code(
                    s.to_string(),
                    format!("{op}: HTTP {s}: {}", snippet(&response.body)),
                )),
                s => Err(AdapterError::rejected(
                    s.to_string(),
                    format!("{op}: {}", problem_text(&response)),
                )),
            }
        })
    }
}

/// `title: detail` of the platform's error body, or the start of whatever it sent.
fn problem_text(response: &Response) -> String {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(v) if v.get("detail").is_some() || v.get("title").is_some() => format!(
            "HTTP {} {}: {}",
            response.status,
            v["title"].as_str().unwrap_or_default(),
            v["detail"].as_str().unwrap_or_default()
        ),
        _ => format!("HTTP {}: {}", response.status, snippet(&response.body)),
    }
}

/// What is known of a request id this adapter sent: which operation, and a digest of what.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct SentRequest {
    /// Operation that sent it.
    pub op: String,
    /// SHA-256 of the business fields sent.
    pub digest: String,
    /// When it was first sent, unix ms.
    #[serde(default)]
    pub at_ms: u64,
}

/// SHA-256 of a JSON value in hex.
pub fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// A request id for one send.
pub struct RequestId {
    /// The id.
    pub id: String,
    /// True when this attempt recorded it first: no earlier send of ours carried it, so the
    /// platform's "duplicate" for it is somebody else's request.
    pub fresh: bool,
}

/// The request id of this call for `op`: the caller's, or the one an earlier attempt of the
/// same call (same job, or same idempotency key) persisted, or a new UUID — persisted with what
/// it carries before anything is sent, so a resend reuses it and its duplicate is known as ours.
pub fn request_id(
    p: &Platform,
    ctx: &CallContext,
    op: &str,
    given: Option<&str>,
    fields: &Value,
) -> Result<RequestId> {
    let digest = digest(fields);
    let keep = p.remembered();
    if let Some(id) = given {
        let fresh = remember(id, op, &digest, keep)?;
        return Ok(RequestId {
            id: id.to_string(),
            fresh,
        });
    }
    let call = ctx.idempotency_key.as_deref().unwrap_or(&ctx.call_id);
    let key = format!(
        "calls/{op}/{}",
        hex::encode(Sha256::digest(call.as_bytes()))
    );
    let fresh = uuid::Uuid::new_v4().to_string();
    let id = if storage::compare_and_swap_expiring(&key, None, fresh.as_bytes(), keep)? {
        fresh
    } else {
        storage::get(&key)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .ok_or_else(|| AdapterError::transient("request id vanished from storage"))?
    };
    let fresh = remember(&id, op, &digest, keep)?;
    Ok(RequestId { id, fresh })
}

/// Records what `id` carries unless it is already recorded (the first submission under an id
/// is the one the platform holds, so a later reuse must not pass itself off as it); true if
/// this call recorded it. The record expires after `keep`, and the id is no longer known as ours.
fn remember(id: &str, op: &str, digest: &str, keep: Duration) -> Result<bool> {
    let record = serde_json::to_vec(&SentRequest {
        op: op.to_string(),
        digest: digest.to_string(),
        at_ms: dates::now_ms(),
    })
    .map_err(|e| AdapterError::transient(format!("request record: {e}")))?;
    storage::compare_and_swap_expiring(&format!("requests/{id}"), None, &record, keep)
}

/// What this adapter sent under `id`, if it sent it.
pub fn sent(id: &str) -> Result<Option<SentRequest>> {
    storage::get_json(&format!("requests/{id}"))
}
