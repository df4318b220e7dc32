//! Sekorm's dialect: form-encoded calls, the `{code, msg, data}` envelope and its -1 messages.

use crate::stock::Item;
use weft_sdk::config::Key;
use weft_sdk::dates::{self, Offset};
use weft_sdk::http::{self, Request, Response, join};
use weft_sdk::{AdapterError, Result, TokenGrant, Value, config, tokens};

/// The manifest's `[config]` for this adapter; every path and policy the document leaves to
/// deployment is here rather than in code. Defaults, bounds and choices are declared once, in
/// [`keys`]: the host checks the manifest against them and fills in what it leaves out.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Root of the serviceGate API, e.g. `https://wwww.sekorm.com/serviceGate`.
    pub base_url: String,
    /// Path of the token call.
    pub token_path: String,
    /// `POST` (form body) or `GET` (query) for the token call; the document allows both.
    pub token_method: String,
    /// Path of the full stock sync.
    pub full_sync_path: String,
    /// Path of the single-item update.
    pub update_path: String,
    /// Path of the daily comparison.
    pub compare_path: String,
    /// Items per full-sync request.
    pub chunk_size: usize,
    /// UTC offset that defines "the day" for reconciliation, e.g. "+08:00".
    pub utc_offset: String,
    /// Name of the manifest schedule that sends the day's changes.
    pub reconcile_schedule: String,
    /// The newest day the schedule reconciles: -1 the day before (complete days, the
    /// default), 0 also the current day so far.
    pub reconcile_day_offset: i64,
    /// Days of recorded changes to keep (their storage keys expire then).
    pub changes_retention_days: u32,
}

/// The `[config]` keys, each declared once.
pub fn keys() -> [Key; 10] {
    [
        Key::text("token_path", "path of getAccessToken").default("getAccessToken"),
        Key::text(
            "token_method",
            "GET (query) or POST (form body) for getAccessToken",
        )
        .one_of(&["GET", "POST"])
        .default("POST"),
        Key::text("full_sync_path", "path of pnStock").default("pnarttnumber/pnStock"),
        Key::text("update_path", "path of updQuantity").default("stock/updQuantity"),
        Key::text("compare_path", "path of compare").default("stock/compare"),
        Key::integer("chunk_size", "items per request")
            .range(1, 100_000)
            .default(500),
        Key::text(
            "utc_offset",
            "the UTC offset that defines a day, e.g. +08:00",
        )
        .default("+08:00"),
        Key::text("reconcile_schedule", "name of the reconciliation schedule")
            .default("daily-reconcile"),
        Key::integer(
            "reconcile_day_offset",
            "newest day reconciled: -1 the day before, 0 today so far",
        )
        .range(-1, 0)
        .default(-1),
        Key::integer("changes_retention_days", "days of recorded changes kept")
            .range(1, 3660)
            .default(7),
    ]
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
        let offset = dates::parse_offset(&config.utc_offset).map_err(|e| {
            AdapterError::invalid_input(format!("manifest [config] utc_offset: {e}"))
        })?;
        Ok(Self { config, offset })
    }

    /// How long a change recorded today is kept: until its day falls out of the
    /// `changes_retention_days` the schedule looks back over, with a day to spare for offsets.
    pub fn changes_kept(&self) -> std::time::Duration {
        let days = u64::from(self.config.changes_retention_days) + 2;
        std::time::Duration::from_secs(days * 86_400)
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
