//! How a token is obtained: the document does not say, so the manifest chooses — OAuth2 client
//! credentials against a configured URL (credentials by HTTP Basic or in the form), or a static
//! token from a secret.

use weft_sdk::http::Request;
use weft_sdk::{AdapterError, Result, TokenGrant, Value, config};

#[derive(serde::Deserialize)]
struct TokenConfig {
    token_mode: String,
    token_url: Option<String>,
    token_auth: String,
    token_scope: Option<String>,
}

/// Obtains a token as `[config].token_mode` says.
pub fn fetch() -> Result<TokenGrant> {
    let all: Value = config::typed()?;
    let cfg: TokenConfig = serde_json::from_value(all)
        .map_err(|e| AdapterError::invalid_input(format!("manifest [config]: {e}")))?;
    match cfg.token_mode.as_str() {
        "static" => Ok(TokenGrant {
            token: config::secret("token")?,
            expires_in_seconds: None,
        }),
        "client_credentials" => {
            let url = cfg.token_url.ok_or_else(|| {
                AdapterError::invalid_input("manifest [config] token_url: required with token_mode = \"client_credentials\"")
            })?;
            let id = config::secret("client_id")?;
            let secret = config::secret("client_secret")?;
            let mut fields: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
            if let Some(scope) = cfg.token_scope.as_deref() {
                fields.push(("scope", scope));
            }
            let request = match cfg.token_auth.as_str() {
                "basic" => {
                    let basic = weft_sdk::http::basic_auth(&id, &secret);
                    Request::post(url)
                        .header("Authorization", basic)
                        .form(&fields)
                }
                "form" => {
                    fields.push(("client_id", &id));
                    fields.push(("client_secret", &secret));
                    Request::post(url).form(&fields)
                }
                // The host refuses any other value at load (`one_of` in `describe`).
                other => {
                    return Err(AdapterError::invalid_input(format!(
                        "manifest [config] token_auth: expected \"basic\" or \"form\", found {other:?}"
                    )));
                }
            };
            let r = request.header("Accept", "application/json").send()?;
            // OAuth2 answers a refused client with 400 (invalid_client): that is auth too.
            if r.status == 400 {
                return Err(AdapterError::auth(format!(
                    "token endpoint answered HTTP 400: {}",
                    weft_sdk::http::snippet(&r.body)
                )));
            }
            r.classify("token endpoint")?;
            let body: Value = r.json()?;
            let token = body["access_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AdapterError::transient("token endpoint answered without access_token")
                })?;
            Ok(TokenGrant {
                token: token.to_string(),
                expires_in_seconds: body["expires_in"]
                    .as_u64()
                    .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok())),
            })
        }
        other => Err(AdapterError::invalid_input(format!(
            "manifest [config] token_mode: expected \"client_credentials\" or \"static\", found {other:?}"
        ))),
    }
}
