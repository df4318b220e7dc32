//! Sekorm's dialect: form-encoded calls, the `{code, msg, data}` envelope and its -1 messages.

use crate::stock::Item;
use weft_sdk::dates::{self, Offset};
use weft_sdk::http::{self, Request, Response, join};
use weft_sdk::{AdapterError, Result, TokenGrant, Value, config, tokens};

/// The manifest's `[config]` for this adapter; every path and policy the document leaves to
/// deployment is here rather than in code.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Root of the serviceGate API, e.g. `https://wwww.sekorm.com/serviceGate`.
    pub base_url: String,
    /// Path of the token call.
    #[serde(default = "default_token_path")]
    pub token_path: String,
    /// `POST` (form body) or `GET` (query) for the token call; the document allows both.
    #[serde(default = "default_token_method")]
    pub token_method: String,
    /// Path of the full stock sync.
    #[serde(default = "default_full_sync_path")]
    pub full_sync_path: String,
    /// Path of the single-item update.
    #[serde(default = "default_update_path")]
    pub update_path: String,
    /// Path of the daily comparison.
    #[serde(default = "default_compare_path")]
    pub compare_path: String,
    /// Items per full-sync request.
    #[serde(default = "default_chunk_size")]
    pub chunk_size: usize,
    /// UTC offset that defines "the day" for reconciliation, e.g. "+08:00".
    #[serde(default = "default_utc_offset")]
    pub utc_offset: String,
    /// Name of the manifest schedule that sends the day's changes.
    #[serde(default = "default_reconcile_schedule")]
    pub reconcile_schedule: String,
    /// The newest day the schedule reconciles: -1 the day before (complete days, the
    /// default), 0 also the current day so far.
    #[serde(default = "default_day_offset")]
    pub reconcile_day_offset: i64,
    /// Days of recorded changes to keep.
    #[serde(default = "default_retention")]
    pub changes_retention_days: u32,
}

fn default_token_path() -> String {
    "getAccessToken".into()
}
fn default_token_method() -> String {
    "POST".into()
}
fn default_full_sync_path() -> String {
    "pnarttnumber/pnStock".into()
}
fn default_update_path() -> String {
    "stock/updQuantity".into()
}
fn default_compare_path() -> String {
    "stock/compare".into()
}
fn default_chunk_size() -> usize {
    500
}
fn default_utc_offset() -> String {
    "+08:00".into()
}
fn default_reconcile_schedule() -> String {
    "daily-reconcile".into()
}
fn default_day_offset() -> i64 {
    -1
}
fn default_retention() -> u32 {
    7
}

/// The platform as configured by the manifest.
pub struct Platform {
    /// Typed `[config]`.
    pub config: Config,
    offset: Offset,
}

/// The `{code, msg, data}` envelope of every answer.
#[derive(serde::Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Value,
}

impl Platform {
    /// Reads and checks the configuration.
    pub fn load() -> Result<Self> {
        let config: Config = config::typed()?;
        if config.chunk_size == 0 {
            return Err(AdapterError::invalid_input(
                "manifest [config] chunk_size: must be at least 1",
            ));
        }
        let offset = dates::parse_offset(&config.utc_offset).map_err(|e| {
            AdapterError::invalid_input(format!("manifest [config] utc_offset: {e}"))
        })?;
        if !matches!(config.token_method.as_str(), "GET" | "POST") {
            return Err(AdapterError::invalid_input(format!(
                "manifest [config] token_method: expected \"GET\" or \"POST\", found {:?}",
                config.token_method
            )));
        }
        Ok(Self { config, offset })
    }

    /// The date `days` from today in the configured offset, as YYYY-MM-DD.
    pub fn day(&self, days: i64) -> Result<String> {
        dates::day(self.offset, days)
    }

    /// Calls getAccessToken with the account and app secret.
    pub fn fetch_token(&self) -> Result<TokenGrant> {
        let account = config::secret("account")?;
        let secret = config::secret("app_secret")?;
        let fields = [
            ("accessToken", account.as_str()),
            ("appSecret", secret.as_str()),
        ];
        let url = join(&self.config.base_url, &self.config.token_path);
        let request = if self.config.token_method == "GET" {
            Request::get(format!("{url}?{}", http::form_encode(&fields)))
        } else {
            Request::post(url).form(&fields)
        };
        let data = check(request.send()?)?;
        let token = data
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AdapterError::transient("getAccessToken answered code 0 without data.accessToken")
            })?;
        let expires = data.get("expiresIn").and_then(Value::as_u64);
        Ok(TokenGrant {
            token: token.to_string(),
            expires_in_seconds: expires,
        })
    }

    /// Posts `accessToken` plus `fields` to `path`.
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Result<Value> {
        let url = join(&self.config.base_url, path);
        tokens::with_token("", |token| {
            let mut all = Vec::with_capacity(fields.len() + 1);
            all.push(("accessToken", token));
            all.extend_from_slice(fields);
            check(Request::post(&url).form(&all).send()?)
        })
    }

    /// Posts `items` as the `data` JSON-array string to `path`.
    pub fn post_data(&self, path: &str, items: &[Item]) -> Result<Value> {
        let data = serde_json::to_string(items)
            .map_err(|e| AdapterError::invalid_input(format!("items: {e}")))?;
        self.post_form(path, &[("data", &data)])
    }
}

/// Maps an answer to data or to the error kind its code and message mean.
fn check(response: Response) -> Result<Value> {
    response.classify("Sekorm")?;
    let envelope: Envelope = response.json()?;
    if envelope.code == 0 {
        return Ok(envelope.data);
    }
    let msg = envelope.msg.unwrap_or_default();
    let code = envelope.code.to_string();
    Err(match msg.trim().to_ascii_lowercase().as_str() {
        "no permission" => AdapterError::auth(format!(
            "Sekorm: {msg} (permission denied: token invalid or expired, or the account lacks rights)"
        )),
        "system error" => AdapterError::transient_code(code, format!("Sekorm: {msg}")),
        "ip invalid" => AdapterError::rejected(
            code,
            format!("Sekorm: {msg} (this host's IP is not on Sekorm's allow-list)"),
        ),
        "sp already forbidden" => AdapterError::rejected(
            code,
            format!("Sekorm: {msg} (the service provider account is disabled)"),
        ),
        _ => AdapterError::rejected(code, format!("Sekorm: {msg}")),
    })
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use weft_sdk::json;

    proptest! {
        /// Any answer is data or an error; `{code, msg}` answers keep the platform's meaning.
        #[test]
        fn any_answer_is_data_or_an_error(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = check(Response { status, headers: Vec::new(), body });
        }

        #[test]
        fn envelopes_map_by_code(message in "\\PC{0,30}") {
            let body = json!({"code": -1, "msg": message, "data": null}).to_string().into_bytes();
            let result = check(Response { status: 200, headers: Vec::new(), body });
            prop_assert!(result.is_err());
            let ok = json!({"code": 0, "msg": "ok", "data": {"x": 1}}).to_string().into_bytes();
            let accepted = check(Response { status: 200, headers: Vec::new(), body: ok });
            prop_assert!(accepted.is_ok());
        }
    }
}
