//! The HTTP side of YouTube: Google's OAuth 2.0 endpoints for limited-input devices (device
//! code, token, refresh) and the YouTube Data API v3 calls of a broadcast, each failure turned
//! into a [`Fail`] that can be told to a user in plain words. Tokens travel only in the form
//! bodies and the `Authorization` header; nothing here logs a request or a token answer.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use vs_base::Secret;

use crate::config::YoutubeConfig;

/// The scope of every appliance token: manage the channel's live broadcasts and thumbnails.
pub const SCOPE: &str = "https://www.googleapis.com/auth/youtube";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Why a call to Google failed.
#[derive(Debug, Clone)]
pub enum Fail {
    /// 403 `quotaExceeded` (or `rateLimitExceeded`): the project's daily quota is used up.
    Quota,
    /// The OAuth endpoint answered with an `error` code (`authorization_pending`, `slow_down`,
    /// `access_denied`, `expired_token`, `invalid_grant`, `invalid_client`…).
    OAuth { error: String },
    /// 401 from the Data API: the access token is no longer accepted.
    Unauthorized,
    /// Another error answer of the Data API, with Google's reason and message.
    Api {
        status: u16,
        reason: String,
        message: String,
    },
    /// Google could not be reached or answered something that is not its documented shape.
    Network(String),
}

impl Fail {
    /// The failure in words a user can act on, saying what the appliance was doing.
    pub fn plain(&self, doing: &str) -> String {
        match self {
            Fail::Quota => format!(
                "{doing}: YouTube refused because the daily API quota of the Google Cloud \
                 project is used up (quotaExceeded); it resets at midnight Pacific time"
            ),
            Fail::OAuth { error } if error == "not_signed_in" => {
                format!("{doing}: the destination is not signed in to YouTube")
            }
            Fail::OAuth { error } if error == "invalid_grant" => format!(
                "{doing}: Google no longer accepts the appliance's YouTube sign-in; sign in again"
            ),
            Fail::OAuth { error } => format!("{doing}: Google refused the sign-in ({error})"),
            Fail::Unauthorized => format!(
                "{doing}: YouTube no longer accepts the appliance's access token; it is renewed \
                 at the next try"
            ),
            Fail::Api {
                status,
                reason,
                message,
            } => format!("{doing}: YouTube answered {status} {reason}: {message}"),
            Fail::Network(e) => format!("{doing}: YouTube could not be reached ({e})"),
        }
    }
}

/// The answer of the device code endpoint. No `Debug`: the device code is a secret until used.
#[derive(Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    /// Google says `verification_url`; RFC 8628 says `verification_uri`.
    #[serde(alias = "verification_uri")]
    pub verification_url: String,
    pub expires_in: i64,
    #[serde(default)]
    pub interval: Option<i64>,
}

/// Tokens granted or refreshed.
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

/// Google's endpoints, as configured (the real ones, or a test's fake).
#[derive(Clone)]
pub struct Google {
    http: reqwest::Client,
    cfg: YoutubeConfig,
}

fn network(e: reqwest::Error) -> Fail {
    // Without the URL: the message is shown to users, the address is not theirs to debug.
    Fail::Network(e.without_url().to_string())
}

impl Google {
    pub fn new(cfg: YoutubeConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client builds with static settings");
        Google { http, cfg }
    }

    async fn oauth_post(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, Fail> {
        let r = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(network)?;
        let ok = r.status().is_success();
        let status = r.status().as_u16();
        let body: Value = r.json().await.map_err(network)?;
        if ok {
            return Ok(body);
        }
        match serde_json::from_value::<OAuthError>(body) {
            Ok(e) => Err(Fail::OAuth { error: e.error }),
            Err(_) => Err(Fail::Network(format!(
                "the sign-in endpoint answered {status} without an error code"
            ))),
        }
    }

    pub async fn device_code(&self, client_id: &str) -> Result<DeviceCode, Fail> {
        let body = self
            .oauth_post(
                &self.cfg.device_url,
                &[("client_id", client_id), ("scope", SCOPE)],
            )
            .await?;
        serde_json::from_value(body)
            .map_err(|e| Fail::Network(format!("unexpected device code answer: {e}")))
    }

    pub async fn poll_device(
        &self,
        client_id: &str,
        secret: &Secret,
        device_code: &Secret,
    ) -> Result<Tokens, Fail> {
        let body = self
            .oauth_post(
                &self.cfg.token_url,
                &[
                    ("client_id", client_id),
                    ("client_secret", secret.expose()),
                    ("device_code", device_code.expose()),
                    ("grant_type", DEVICE_GRANT),
                ],
            )
            .await?;
        serde_json::from_value(body)
            .map_err(|_| Fail::Network("the token answer has no access token".into()))
    }

    pub async fn refresh(
        &self,
        client_id: &str,
        secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<Tokens, Fail> {
        let body = self
            .oauth_post(
                &self.cfg.token_url,
                &[
                    ("client_id", client_id),
                    ("client_secret", secret.expose()),
                    ("refresh_token", refresh_token.expose()),
                    ("grant_type", "refresh_token"),
                ],
            )
            .await?;
        serde_json::from_value(body)
            .map_err(|_| Fail::Network("the token answer has no access token".into()))
    }

    /// One Data API call. `path` is relative to the API base (`liveBroadcasts/bind`), or to
    /// the upload base when `upload` is set; `body` is JSON or raw bytes with their type.
    pub async fn call(
        &self,
        token: &Secret,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<Value, Fail> {
        let base = match body {
            Body::Media(..) => &self.cfg.upload_base,
            _ => &self.cfg.api_base,
        };
        let url = format!("{}/{}", base.trim_end_matches('/'), path);
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .bearer_auth(token.expose());
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Media(mime, bytes) => req.header(reqwest::header::CONTENT_TYPE, mime).body(bytes),
        };
        let r = req.send().await.map_err(network)?;
        let status = r.status();
        let text = r.text().await.map_err(network)?;
        if status.is_success() {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        if status.as_u16() == 401 {
            return Err(Fail::Unauthorized);
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reason = v["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        if matches!(
            reason.as_str(),
            "quotaExceeded" | "rateLimitExceeded" | "dailyLimitExceeded"
        ) {
            return Err(Fail::Quota);
        }
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect();
        Err(Fail::Api {
            status: status.as_u16(),
            reason,
            message,
        })
    }
}

/// The body of a Data API call.
pub enum Body {
    None,
    Json(Value),
    /// An upload (`uploadType=media`): content type and bytes.
    Media(String, Vec<u8>),
}
