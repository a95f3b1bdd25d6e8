//! YouTube broadcasts made by the appliance, optional per YouTube destination: the Google
//! sign-in (OAuth 2.0 for limited-input devices: the appliance shows a code and a URL, polls the
//! token endpoint, refreshes the access token), the broadcast settings of a timeline's schedule
//! windows (title, description, privacy, category, thumbnail), and the broadcasts made, one
//! fresh one per window (`keeper.rs` drives them: insert, bind, thumbnail, live once YouTube
//! sees data, complete at the window's end).
//!
//! Every token, the client secret and the device code are sealed with the appliance's secret
//! box like stream keys; none is ever returned, logged or put in an error.

mod google;
mod keeper;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, Result, Secret, SecretBox};
use vs_db::youtube::{BroadcastRow, BroadcastSettingsRow, YoutubeLinkRow};
use vs_db::Db;

use super::assets::AssetService;
use super::{validate, Events, Infra};
use google::{Fail, Google};

/// Where a destination's Google sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = YoutubeLinkState)] // the studio link has its own `LinkState`
pub enum LinkState {
    /// No token: broadcasts are not made (the plain stream key is used as it is).
    SignedOut,
    /// A code is shown; the appliance waits for the user to enter it at the URL.
    Pending,
    /// Signed in: broadcasts are made for the windows that have settings.
    Linked,
    /// Google no longer accepts the sign-in (revoked, expired): sign in again.
    NeedsSignIn,
}

impl LinkState {
    fn parse(s: &str) -> LinkState {
        match s {
            "pending" => LinkState::Pending,
            "linked" => LinkState::Linked,
            "needs_sign_in" => LinkState::NeedsSignIn,
            _ => LinkState::SignedOut,
        }
    }
}

/// The YouTube sign-in of a destination (never a token or the client secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct YoutubeLink {
    pub destination_id: i64,
    pub state: LinkState,
    /// The OAuth client id (not secret); null before the first sign-in.
    pub client_id: Option<String>,
    pub has_client_secret: bool,
    /// While `pending`: the code to enter at `verification_url`.
    #[schema(example = "GQVQ-JKEC")]
    pub user_code: Option<String>,
    #[schema(example = "https://www.google.com/device")]
    pub verification_url: Option<String>,
    pub code_expires_at: Option<String>,
    /// Whether the destination publishes to a YouTube stream the appliance bound (its key
    /// came from YouTube and is kept sealed).
    pub stream_bound: bool,
    /// What went wrong last, in plain words; null when all is well.
    pub message: Option<String>,
}

/// The body of `POST /api/destinations/{id}/youtube/sign-in`. No `Debug`: it holds the client
/// secret in clear.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInInput {
    /// The client id of an OAuth client of type "TV and Limited Input devices".
    #[schema(example = "1234-abc.apps.googleusercontent.com")]
    pub client_id: String,
    /// Write-only. Required the first time; absent or null keeps the stored one.
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// Who may watch a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    Public,
    Unlisted,
    Private,
}

impl Privacy {
    fn as_str(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Unlisted => "unlisted",
            Privacy::Private => "private",
        }
    }
    fn parse(s: &str) -> Privacy {
        match s {
            "public" => Privacy::Public,
            "private" => Privacy::Private,
            _ => Privacy::Unlisted,
        }
    }
}

/// The body of `PUT /api/destinations/{id}/youtube/settings/{timeline_id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastSettingsInput {
    /// At most 100 characters (YouTube's limit).
    #[schema(example = "Harbour live")]
    pub title: String,
    /// At most 5000 characters.
    #[serde(default)]
    pub description: Option<String>,
    pub privacy: Privacy,
    /// A YouTube video category id, e.g. "19" (Travel & Events); null keeps YouTube's default.
    #[serde(default)]
    #[schema(example = "19")]
    pub category_id: Option<String>,
    /// An image asset (`/api/assets`) set as the broadcast's thumbnail.
    #[serde(default)]
    pub thumbnail_asset_id: Option<i64>,
}

/// What the broadcasts of one timeline's windows look like on a destination.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BroadcastSettings {
    pub timeline_id: String,
    pub title: String,
    pub description: String,
    pub privacy: Privacy,
    pub category_id: Option<String>,
    pub thumbnail_asset_id: Option<i64>,
    pub updated_at: String,
}

impl From<BroadcastSettingsRow> for BroadcastSettings {
    fn from(r: BroadcastSettingsRow) -> Self {
        BroadcastSettings {
            timeline_id: r.timeline_id,
            title: r.title,
            description: r.description,
            privacy: Privacy::parse(&r.privacy),
            category_id: r.category_id,
            thumbnail_asset_id: r.thumbnail_asset_id,
            updated_at: r.updated_at,
        }
    }
}

/// One broadcast the appliance made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Broadcast {
    pub id: i64,
    pub timeline_id: String,
    /// YouTube's id, once made.
    pub broadcast_id: Option<String>,
    pub title: String,
    /// `creating`, `waiting` (bound; waiting for YouTube to see the video), `live`,
    /// `complete`, `cancelled` (the window ended before it went live) or `failed`.
    #[schema(example = "live")]
    pub state: String,
    /// The last failure in plain words (a refused transition being retried, the quota…).
    pub message: Option<String>,
    pub transition_failures: i64,
    pub scheduled_start: String,
    pub window_end: Option<String>,
    pub live_at: Option<String>,
    pub ended_at: Option<String>,
    /// `https://www.youtube.com/watch?v=<id>`
    pub watch_url: Option<String>,
}

impl From<BroadcastRow> for Broadcast {
    fn from(r: BroadcastRow) -> Self {
        Broadcast {
            watch_url: r
                .broadcast_id
                .as_ref()
                .map(|id| format!("https://www.youtube.com/watch?v={id}")),
            id: r.id,
            timeline_id: r.timeline_id,
            broadcast_id: r.broadcast_id,
            title: r.title,
            state: r.state,
            message: r.last_error,
            transition_failures: r.transition_failures,
            scheduled_start: r.scheduled_start,
            window_end: r.window_end,
            live_at: r.live_at,
            ended_at: r.ended_at,
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The sign-in of YouTube destinations and the broadcasts made for their windows.
pub struct YoutubeService {
    db: Db,
    secrets: SecretBox,
    events: Events,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    assets: Arc<AssetService>,
    google: Google,
    tick: std::time::Duration,
    retry: std::time::Duration,
    /// The device-code poller of each destination signing in; a new sign-in ends the old one.
    pollers: Mutex<HashMap<i64, CancellationToken>>,
    /// Per broadcast: when its next step may run and the delay after a further failure.
    backoff: Mutex<HashMap<i64, (tokio::time::Instant, std::time::Duration)>>,
    /// Settings or a sign-in changed: the keeper looks again now.
    kick: Notify,
}

impl YoutubeService {
    pub fn new(infra: &Infra, assets: Arc<AssetService>) -> Self {
        let cfg = (*infra.config.youtube).clone();
        YoutubeService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            events: infra.events.clone(),
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            assets,
            tick: std::time::Duration::from_millis(cfg.tick_ms.max(50)),
            retry: std::time::Duration::from_millis(cfg.retry_ms.max(10)),
            google: Google::new(cfg),
            pollers: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            kick: Notify::new(),
        }
    }

    /// Starts the background work: pollers of sign-ins left pending by a restart, and the
    /// keeper of broadcasts.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        for link in self.db.youtube_links().await? {
            if link.state == "pending" {
                self.spawn_poller(link.destination_id);
            }
        }
        self.tasks.spawn(self.clone().run_keeper());
        Ok(())
    }

    async fn youtube_destination(&self, id: i64) -> Result<vs_db::streaming::DestinationRow> {
        let d = self.db.destination(id).await?;
        if d.platform != "youtube" {
            return Err(Error::invalid_state(
                "broadcasts are made only for a YouTube destination; this one is not",
            ));
        }
        Ok(d)
    }

    fn view(destination_id: i64, link: Option<YoutubeLinkRow>) -> YoutubeLink {
        match link {
            None => YoutubeLink {
                destination_id,
                state: LinkState::SignedOut,
                client_id: None,
                has_client_secret: false,
                user_code: None,
                verification_url: None,
                code_expires_at: None,
                stream_bound: false,
                message: None,
            },
            Some(l) => YoutubeLink {
                destination_id,
                state: LinkState::parse(&l.state),
                client_id: Some(l.client_id),
                has_client_secret: !l.client_secret_enc.is_empty(),
                user_code: l.user_code,
                verification_url: l.verification_url,
                code_expires_at: l.code_expires_at,
                stream_bound: l.stream_id.is_some(),
                message: l.last_error,
            },
        }
    }

    /// The sign-in state of a destination.
    pub async fn link(&self, destination_id: i64) -> Result<YoutubeLink> {
        self.db.destination(destination_id).await?;
        Ok(Self::view(
            destination_id,
            self.db.youtube_link(destination_id).await?,
        ))
    }

    fn publish_link(&self, destination_id: i64) {
        self.events.publish(
            "youtube_link",
            serde_json::json!({ "destination_id": destination_id }),
        );
    }

    /// Starts a sign-in: asks Google for a device code and shows it; a background task polls
    /// the token endpoint until the user answers, the code expires or the sign-in is ended.
    pub async fn start_sign_in(
        self: &Arc<Self>,
        destination_id: i64,
        input: &SignInInput,
        user: Option<i64>,
    ) -> Result<YoutubeLink> {
        let dest = self.youtube_destination(destination_id).await?;
        let client_id = input.client_id.trim();
        if client_id.is_empty()
            || client_id.len() > 256
            || client_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "client_id",
                "paste the client id of an OAuth client of type \"TV and Limited Input devices\" \
                 (it ends with .apps.googleusercontent.com)",
            ));
        }
        let existing = self.db.youtube_link(destination_id).await?;
        let secret_enc = match input.client_secret.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => {
                if s.len() > 256 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(Error::invalid(
                        "client_secret",
                        "must be at most 256 characters, without spaces",
                    ));
                }
                self.secrets.seal(&Secret::new(s))
            }
            _ => match existing.as_ref() {
                Some(l) if l.client_id == client_id => l.client_secret_enc.clone(),
                _ => {
                    return Err(Error::invalid(
                        "client_secret",
                        "is required: copy it from the OAuth client in Google Cloud",
                    ))
                }
            },
        };
        // The code is asked for before anything is stored: a refused client leaves no trace.
        let code = self.google.device_code(client_id).await.map_err(|f| match &f {
            Fail::OAuth { error } if error == "invalid_client" || error == "unauthorized_client" => {
                Error::device(
                    "Google does not accept this OAuth client id: check it, and that the client \
                     is of type \"TV and Limited Input devices\"",
                )
            }
            Fail::Network(_) => Error::timeout(f.plain("asking Google for a sign-in code")),
            _ => Error::device(f.plain("asking Google for a sign-in code")),
        })?;
        self.stop_poller(destination_id);
        self.db
            .set_youtube_client(destination_id, client_id, &secret_enc)
            .await?;
        let expires = Utc::now() + chrono::Duration::seconds(code.expires_in.clamp(10, 86_400));
        self.db
            .set_youtube_pending(
                destination_id,
                &self.secrets.seal(&Secret::new(code.device_code)),
                &code.user_code,
                &code.verification_url,
                &rfc3339(expires),
                code.interval.unwrap_or(5).clamp(1, 60),
            )
            .await?;
        self.db
            .audit(user, "youtube_sign_in_started", Some(&dest.name), None)
            .await?;
        self.spawn_poller(destination_id);
        self.publish_link(destination_id);
        self.link(destination_id).await
    }

    /// Forgets every token of a destination (its client id and secret stay, for the next
    /// sign-in). Broadcasts are no longer made for it.
    pub async fn sign_out(&self, destination_id: i64, user: Option<i64>) -> Result<YoutubeLink> {
        let dest = self.db.destination(destination_id).await?;
        self.stop_poller(destination_id);
        if self.db.youtube_link(destination_id).await?.is_some() {
            self.db
                .end_youtube_sign_in(destination_id, "signed_out", None)
                .await?;
        }
        self.db
            .audit(user, "youtube_signed_out", Some(&dest.name), None)
            .await?;
        self.publish_link(destination_id);
        self.kick.notify_one();
        self.link(destination_id).await
    }

    fn stop_poller(&self, destination_id: i64) {
        if let Some(t) = self
            .pollers
            .lock()
            .expect("pollers")
            .remove(&destination_id)
        {
            t.cancel();
        }
    }

    fn spawn_poller(self: &Arc<Self>, destination_id: i64) {
        let token = self.shutdown.child_token();
        if let Some(old) = self
            .pollers
            .lock()
            .expect("pollers")
            .insert(destination_id, token.clone())
        {
            old.cancel();
        }
        let me = self.clone();
        self.tasks.spawn(async move {
            if let Err(e) = me.poll_device(destination_id, &token).await {
                tracing::warn!(destination = destination_id, error = %e, "YouTube sign-in polling stopped");
            }
        });
    }

    /// Polls the token endpoint at the interval Google asked for (RFC 8628 §3.5): pending →
    /// again; slow_down → 5 s slower; denied or expired → signed out, saying why.
    async fn poll_device(&self, destination_id: i64, cancel: &CancellationToken) -> Result<()> {
        loop {
            let Some(link) = self.db.youtube_link(destination_id).await? else {
                return Ok(());
            };
            if link.state != "pending" {
                return Ok(());
            }
            let interval = link.poll_interval_s.unwrap_or(5).max(1) as u64;
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(std::time::Duration::from_secs(interval)) => {}
            }
            let expired = link
                .code_expires_at
                .as_deref()
                .and_then(parse_time)
                .is_some_and(|t| t <= Utc::now());
            let (Some(code_enc), false) = (link.device_code_enc.as_deref(), expired) else {
                return self
                    .end_sign_in(
                        destination_id,
                        "signed_out",
                        "the sign-in code expired before it was entered; start the sign-in again",
                    )
                    .await;
            };
            let secret = self.secrets.open(&link.client_secret_enc)?;
            let code = self.secrets.open(code_enc)?;
            let answer = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                a = self.google.poll_device(&link.client_id, &secret, &code) => a,
            };
            match answer {
                Ok(tokens) => {
                    if cancel.is_cancelled() {
                        return Ok(());
                    }
                    self.store_tokens(destination_id, &tokens).await?;
                    tracing::info!(destination = destination_id, "YouTube sign-in complete");
                    self.publish_link(destination_id);
                    // The stream is bound now, so the destination's key is YouTube's before
                    // any window opens and a program starts publishing.
                    if let Err(f) = self.ensure_stream(destination_id).await {
                        let text = f.plain("binding the destination to a YouTube stream");
                        self.db
                            .set_youtube_link_error(destination_id, Some(&text))
                            .await?;
                    }
                    self.publish_link(destination_id);
                    self.kick.notify_one();
                    return Ok(());
                }
                Err(Fail::OAuth { error }) => match error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => {
                        self.db
                            .set_youtube_poll_interval(destination_id, interval as i64 + 5)
                            .await?;
                    }
                    "access_denied" => {
                        return self
                            .end_sign_in(
                                destination_id,
                                "signed_out",
                                "access was refused on Google's page; start the sign-in again to retry",
                            )
                            .await
                    }
                    "expired_token" => {
                        return self
                            .end_sign_in(
                                destination_id,
                                "signed_out",
                                "the sign-in code expired before it was entered; start the sign-in again",
                            )
                            .await
                    }
                    "invalid_client" | "unauthorized_client" => {
                        return self
                            .end_sign_in(
                                destination_id,
                                "signed_out",
                                "Google does not accept this OAuth client id and secret; check both, \
                                 and that the client is of type \"TV and Limited Input devices\"",
                            )
                            .await
                    }
                    other => {
                        return self
                            .end_sign_in(
                                destination_id,
                                "signed_out",
                                &format!("Google refused the sign-in ({other}); start it again"),
                            )
                            .await
                    }
                },
                // A network hiccup: the code is still good, try again at the next interval.
                Err(f) => {
                    self.db
                        .set_youtube_link_error(
                            destination_id,
                            Some(&f.plain("waiting for the sign-in")),
                        )
                        .await?;
                }
            }
        }
    }

    async fn end_sign_in(&self, destination_id: i64, state: &str, why: &str) -> Result<()> {
        self.db
            .end_youtube_sign_in(destination_id, state, Some(why))
            .await?;
        tracing::warn!(
            destination = destination_id,
            reason = why,
            "YouTube sign-in ended"
        );
        self.publish_link(destination_id);
        Ok(())
    }

    async fn store_tokens(&self, destination_id: i64, t: &google::Tokens) -> Result<()> {
        let expires = Utc::now() + chrono::Duration::seconds(t.expires_in.clamp(0, 86_400));
        let refresh = t
            .refresh_token
            .as_ref()
            .map(|r| self.secrets.seal(&Secret::new(r.clone())));
        self.db
            .set_youtube_tokens(
                destination_id,
                &self.secrets.seal(&Secret::new(t.access_token.clone())),
                &rfc3339(expires),
                refresh.as_deref(),
            )
            .await
    }

    /// A usable access token: the stored one while it has a minute left, else a refreshed
    /// one. A refresh token Google refuses (`invalid_grant`) marks the link `needs_sign_in`.
    async fn access_token(&self, destination_id: i64, force_refresh: bool) -> Result<Secret, Fail> {
        let local = |e: Error| Fail::Network(e.message);
        let link = self
            .db
            .youtube_link(destination_id)
            .await
            .map_err(local)?
            .filter(|l| l.state == "linked")
            .ok_or_else(|| Fail::OAuth {
                error: "not_signed_in".into(),
            })?;
        let fresh = link
            .access_expires_at
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|t| t - chrono::Duration::seconds(60) > Utc::now());
        if let (false, Some(a)) = (force_refresh, link.access_token_enc.as_deref()) {
            if fresh {
                return self.secrets.open(a).map_err(local);
            }
        }
        let refresh = link
            .refresh_token_enc
            .as_deref()
            .ok_or_else(|| Fail::OAuth {
                error: "invalid_grant".into(),
            })
            .and_then(|r| self.secrets.open(r).map_err(local));
        let secret = self.secrets.open(&link.client_secret_enc).map_err(local)?;
        let result = match refresh {
            Ok(r) => self.google.refresh(&link.client_id, &secret, &r).await,
            Err(f) => Err(f),
        };
        match result {
            Ok(t) => {
                self.store_tokens(destination_id, &t).await.map_err(local)?;
                tracing::info!(
                    destination = destination_id,
                    "YouTube access token refreshed"
                );
                Ok(Secret::new(t.access_token))
            }
            Err(Fail::OAuth { error }) if error == "invalid_grant" => {
                let _ = self
                    .end_sign_in(
                        destination_id,
                        "needs_sign_in",
                        "Google no longer accepts this appliance's YouTube sign-in (it was revoked \
                         or has expired); sign in again",
                    )
                    .await;
                Err(Fail::OAuth { error })
            }
            Err(f) => Err(f),
        }
    }

    /// One Data API call for a destination, with its token; a 401 refreshes the token once.
    async fn api(
        &self,
        destination_id: i64,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: impl Fn() -> google::Body,
    ) -> Result<serde_json::Value, Fail> {
        let token = self.access_token(destination_id, false).await?;
        match self
            .google
            .call(&token, method.clone(), path, query, body())
            .await
        {
            Err(Fail::Unauthorized) => {
                let token = self.access_token(destination_id, true).await?;
                self.google.call(&token, method, path, query, body()).await
            }
            other => other,
        }
    }

    /// Makes sure the destination publishes to a reusable liveStream of the channel: the bound
    /// one if YouTube still has it, else a new one. Its ingestion address and stream name
    /// become the destination's URL and sealed key. Returns the stream id.
    async fn ensure_stream(&self, destination_id: i64) -> Result<String, Fail> {
        let local = |e: Error| Fail::Network(e.message);
        let link = self
            .db
            .youtube_link(destination_id)
            .await
            .map_err(local)?
            .ok_or_else(|| Fail::OAuth {
                error: "not_signed_in".into(),
            })?;
        let mut found = None;
        if let Some(id) = link.stream_id.as_deref() {
            let v = self
                .api(
                    destination_id,
                    reqwest::Method::GET,
                    "liveStreams",
                    &[("part", "id,cdn,status"), ("id", id)],
                    || google::Body::None,
                )
                .await?;
            found = v["items"].as_array().and_then(|a| a.first()).cloned();
        }
        let stream = match found {
            Some(s) => s,
            None => {
                let dest = self.db.destination(destination_id).await.map_err(local)?;
                let body = serde_json::json!({
                    "snippet": {"title": format!("VistterStream: {}", dest.name)},
                    "cdn": {"ingestionType": "rtmp", "resolution": "variable", "frameRate": "variable"},
                    "contentDetails": {"isReusable": true},
                });
                self.api(
                    destination_id,
                    reqwest::Method::POST,
                    "liveStreams",
                    &[("part", "id,snippet,cdn,contentDetails,status")],
                    || google::Body::Json(body.clone()),
                )
                .await?
            }
        };
        let id = stream["id"].as_str().unwrap_or_default().to_string();
        let info = &stream["cdn"]["ingestionInfo"];
        // RTMPS when YouTube offers it: the key does not cross the network in clear.
        let url = info["rtmpsIngestionAddress"]
            .as_str()
            .or(info["ingestionAddress"].as_str())
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let name = info["streamName"].as_str().unwrap_or_default();
        if id.is_empty() || url.is_empty() || name.is_empty() {
            return Err(Fail::Network(
                "YouTube's stream has no ingestion address or stream name".into(),
            ));
        }
        let dest = self.db.destination(destination_id).await.map_err(local)?;
        let same_key = dest
            .stream_key_enc
            .as_deref()
            .and_then(|k| self.secrets.open(k).ok())
            .is_some_and(|k| k.expose() == name);
        if link.stream_id.as_deref() != Some(&id) || dest.url != url || !same_key {
            self.db
                .set_youtube_stream(
                    destination_id,
                    &id,
                    &url,
                    &self.secrets.seal(&Secret::new(name)),
                )
                .await
                .map_err(local)?;
            tracing::info!(
                destination = destination_id,
                "the destination now publishes to its YouTube stream"
            );
        }
        Ok(id)
    }

    pub async fn settings(&self, destination_id: i64) -> Result<Vec<BroadcastSettings>> {
        self.db.destination(destination_id).await?;
        Ok(self
            .db
            .broadcast_settings(destination_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sets what the broadcasts of a timeline's windows look like on this destination.
    pub async fn put_settings(
        &self,
        destination_id: i64,
        timeline_id: &str,
        input: &BroadcastSettingsInput,
        user: Option<i64>,
    ) -> Result<BroadcastSettings> {
        let dest = self.youtube_destination(destination_id).await?;
        self.db.timeline(timeline_id).await?;
        let title = validate::name("title", &input.title, 100)?;
        if title.contains(['<', '>']) {
            return Err(Error::invalid(
                "title",
                "YouTube refuses < and > in a title",
            ));
        }
        let description = input.description.clone().unwrap_or_default();
        if description.chars().count() > 5000 || description.contains(['<', '>']) {
            return Err(Error::invalid(
                "description",
                "must be at most 5000 characters, without < or >",
            ));
        }
        let category_id = match input.category_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() <= 4 && c.chars().all(|ch| ch.is_ascii_digit()) => {
                Some(c.to_string())
            }
            Some(_) => {
                return Err(Error::invalid(
                    "category_id",
                    "must be a YouTube category number, e.g. 19 (Travel & Events)",
                ))
            }
        };
        if let Some(a) = input.thumbnail_asset_id {
            self.assets.content(a).await.map_err(|e| match e.kind {
                vs_base::ErrorKind::NotFound => {
                    Error::invalid("thumbnail_asset_id", format!("asset {a} does not exist"))
                }
                _ => e,
            })?;
        }
        let row = self
            .db
            .put_broadcast_settings(&BroadcastSettingsRow {
                destination_id,
                timeline_id: timeline_id.to_string(),
                title,
                description,
                privacy: input.privacy.as_str().into(),
                category_id,
                thumbnail_asset_id: input.thumbnail_asset_id,
                updated_at: String::new(),
            })
            .await?;
        self.db
            .audit(
                user,
                "youtube_settings_changed",
                Some(&dest.name),
                Some(timeline_id),
            )
            .await?;
        self.kick.notify_one();
        Ok(row.into())
    }

    pub async fn delete_settings(
        &self,
        destination_id: i64,
        timeline_id: &str,
        user: Option<i64>,
    ) -> Result<()> {
        let dest = self.db.destination(destination_id).await?;
        if !self
            .db
            .delete_broadcast_settings(destination_id, timeline_id)
            .await?
        {
            return Err(Error::not_found(format!(
                "broadcast settings of timeline '{timeline_id}'"
            )));
        }
        self.db
            .audit(
                user,
                "youtube_settings_removed",
                Some(&dest.name),
                Some(timeline_id),
            )
            .await?;
        self.kick.notify_one();
        Ok(())
    }

    /// The broadcasts made for a destination, newest first (at most 50).
    pub async fn broadcasts(&self, destination_id: i64) -> Result<Vec<Broadcast>> {
        self.db.destination(destination_id).await?;
        Ok(self
            .db
            .broadcasts(destination_id, 50)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
