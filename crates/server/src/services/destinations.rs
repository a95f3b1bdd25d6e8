//! Streaming destinations: platform presets (YouTube, Facebook, Twitch) or a custom
//! RTMP/RTMPS/SRT server, with the stream key sealed at rest and never shown again. A full
//! publish URL may be pasted: its key and credentials are split off and sealed the same way
//! (`vs_base::publish_url` states the rule), and the URL is put back together only for FFmpeg.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::stream_url::redact_text;
use vs_base::{
    join_publish_url, publish_secrets, split_publish_url, Error, Result, Secret, SecretBox,
    UrlCredentials,
};
use vs_db::streaming::{DestinationRow, DestinationWrite};
use vs_db::Db;
use vs_engine::publish::{test_publish, PublishErrorKind, PublishTarget, TestPublishOptions};

use super::{validate, Infra};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Youtube,
    Facebook,
    Twitch,
    Custom,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Youtube => "youtube",
            Platform::Facebook => "facebook",
            Platform::Twitch => "twitch",
            Platform::Custom => "custom",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "youtube" => Platform::Youtube,
            "facebook" => Platform::Facebook,
            "twitch" => Platform::Twitch,
            "custom" | "rtmp" => Platform::Custom,
            _ => return None,
        })
    }

    /// The ingest server used when the user gives only a stream key.
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Platform::Youtube => Some("rtmps://a.rtmps.youtube.com:443/live2"),
            Platform::Facebook => Some("rtmps://live-api-s.facebook.com:443/rtmp"),
            Platform::Twitch => Some("rtmp://live.twitch.tv/app"),
            Platform::Custom => None,
        }
    }
}

/// The body of `POST /api/destinations` and `PUT /api/destinations/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationInput {
    #[schema(example = "YouTube main channel")]
    pub name: String,
    /// `youtube`, `facebook`, `twitch` or `custom`.
    #[schema(example = "youtube")]
    pub platform: String,
    /// Server URL, rtmp://, rtmps:// or srt://. Optional for the platforms (their ingest is
    /// used); required for `custom`. A full publish URL may be pasted: the stream key in it
    /// (the RTMP stream name after the application, with its query; SRT `streamid`) and its
    /// credentials (user:password@, SRT `passphrase`) are split off, sealed and never returned;
    /// a new URL that carries a key replaces the stored key and credentials.
    #[serde(default)]
    pub url: Option<String>,
    /// Write-only. On update: absent or null keeps the stored key, "" removes it. With a key
    /// given here, the whole path of an RTMP `url` is the application.
    #[serde(default)]
    pub stream_key: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// RTMPS: verify the server's certificate (the default). `false` only for a test server
    /// with a self-signed certificate. Absent on update: kept.
    #[serde(default)]
    pub tls_verify: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Destination {
    pub id: i64,
    pub name: String,
    pub platform: Platform,
    /// The server part only: never a stream key or a credential. An RTMP application of two
    /// segments or more ends with `/` (nothing after it is a key).
    pub url: String,
    /// The key itself (typed, or split off a pasted URL) is never returned.
    pub has_stream_key: bool,
    /// Credentials split off a pasted URL (user name and password, SRT passphrase) are
    /// stored, sealed; never returned.
    pub has_url_credentials: bool,
    pub enabled: bool,
    /// RTMPS: the server's certificate is verified (off only for self-signed test servers).
    pub tls_verify: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<DestinationRow> for Destination {
    fn from(r: DestinationRow) -> Self {
        Destination {
            id: r.id,
            name: r.name,
            platform: Platform::parse(&r.platform).unwrap_or(Platform::Custom),
            url: r.url,
            has_stream_key: r.stream_key_enc.is_some(),
            has_url_credentials: r.url_secrets_enc.is_some(),
            enabled: r.enabled,
            tls_verify: r.tls_verify,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A destination's uplink while a program or stream publishes to it (RTMP and RTMPS, which
/// the appliance publishes from its own process), measured where the bytes leave.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UplinkLive {
    /// connecting, publishing, backoff, stopped
    pub state: String,
    /// What the socket really took over the last seconds, kbit/s.
    pub send_kbps: u64,
    /// What the program or camera produces for it, kbit/s.
    pub input_kbps: u64,
    /// Media waiting to be sent.
    pub queue_ms: u64,
    pub queue_bytes: u64,
    /// Media dropped to stay live (slow uplink, or while the destination was down).
    pub dropped_bytes: u64,
    pub dropped_frames: u64,
    /// Publish sessions the server accepted (more than one: it reconnected).
    pub sessions: u32,
    /// The uplink could not keep up for several seconds.
    pub congested: bool,
    /// Why, in plain words, with the measured rate.
    pub congestion_reason: Option<String>,
    /// While congested: a total bitrate (video + audio) that would fit the measured uplink,
    /// kbit/s, with a margin.
    pub suggested_kbps: Option<u64>,
    pub last_error: Option<String>,
}

impl From<&vs_engine::publish::PublisherStats> for UplinkLive {
    fn from(s: &vs_engine::publish::PublisherStats) -> Self {
        let state = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        UplinkLive {
            state,
            send_kbps: s.send_bytes_per_sec * 8 / 1000,
            input_kbps: s.input_bytes_per_sec * 8 / 1000,
            queue_ms: s.queue_ms,
            queue_bytes: s.queue_bytes,
            dropped_bytes: s.dropped_bytes,
            dropped_frames: s.dropped_frames,
            sessions: s.sessions,
            congested: s.congested,
            congestion_reason: s.congestion.as_ref().map(|c| c.reason.clone()),
            // 80 % of what the link took: room for bursts (keyframes) and the audio.
            suggested_kbps: s
                .congestion
                .as_ref()
                .map(|c| c.measured_bps * 8 / 10 / 1000),
            last_error: s.last_error.as_ref().map(|e| e.message.clone()),
        }
    }
}

/// What `POST /api/destinations/{id}/test` found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DestinationTest {
    /// The server accepted the stream and took the test pattern.
    pub ok: bool,
    /// Why not, as a kind: `unreachable`, `timeout`, `tls`, `connect_rejected` (wrong
    /// application), `refused` (wrong or expired stream key), `disconnected`, `protocol`,
    /// `invalid_target`, `local`.
    #[schema(value_type = Option<String>, example = "refused")]
    pub kind: Option<PublishErrorKind>,
    /// In plain words, never with the stream key.
    pub message: String,
    /// Until the server accepted the stream.
    pub connect_ms: Option<u64>,
    /// How long the pattern was sent.
    pub published_ms: Option<u64>,
}

fn check_key(key: &str) -> Result<()> {
    if key.len() > 512 {
        return Err(Error::invalid(
            "stream_key",
            "must be at most 512 characters",
        ));
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(Error::invalid(
            "stream_key",
            "must not contain spaces or slashes; paste only the key shown by the platform",
        ));
    }
    Ok(())
}

/// Where streams and programs go: platform presets or custom servers, keys sealed at rest.
pub struct DestinationService {
    db: Db,
    secrets: SecretBox,
}

impl DestinationService {
    pub fn new(infra: &Infra) -> Self {
        DestinationService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
        }
    }

    fn destination_write(
        &self,
        input: &DestinationInput,
        existing: Option<&DestinationRow>,
    ) -> Result<DestinationWrite> {
        let name = validate::name("name", &input.name, 64)?;
        let platform = Platform::parse(&input.platform).ok_or_else(|| {
            Error::invalid("platform", "must be youtube, facebook, twitch or custom")
        })?;
        let raw_url = match input
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(u) => u.to_string(),
            None => platform
                .default_url()
                .ok_or_else(|| {
                    Error::invalid(
                        "url",
                        "is required for a custom destination, e.g. rtmp://server/live",
                    )
                })?
                .to_string(),
        };
        let given = input.stream_key.as_deref().map(str::trim);
        let typed = given.filter(|k| !k.is_empty());
        if let Some(k) = typed {
            check_key(k)?;
        }
        let split = split_publish_url(&raw_url, "url", typed)?;
        let stream_key_enc = match (&split.key, given) {
            (Some(k), _) => Some(self.secrets.seal(k)),
            (None, None) => existing.and_then(|e| e.stream_key_enc.clone()),
            (None, Some("")) => None,
            (None, Some(k)) => Some(self.secrets.seal(&Secret::new(k))),
        };
        // A URL that carries a key or credentials is a new publish URL: its credentials (maybe
        // none) replace the stored ones. A URL without any secret keeps them, as an absent key
        // keeps the key: that is the URL the API returned, sent back by an edit.
        let url_secrets_enc = if split.had_secrets() {
            self.seal_credentials(&split.credentials)
        } else {
            existing.and_then(|e| e.url_secrets_enc.clone())
        };
        if stream_key_enc.is_none() && platform != Platform::Custom {
            return Err(Error::invalid(
                "stream_key",
                "is required: copy it from the platform's live dashboard",
            ));
        }
        Ok(DestinationWrite {
            name,
            platform: platform.as_str().into(),
            url: split.url,
            stream_key_enc,
            url_secrets_enc,
            enabled: input.enabled.unwrap_or(true),
            tls_verify: input
                .tls_verify
                .or(existing.map(|e| e.tls_verify))
                .unwrap_or(true),
        })
    }

    /// `None` when there is nothing to keep.
    fn seal_credentials(&self, c: &UrlCredentials) -> Option<String> {
        if c.is_empty() {
            return None;
        }
        let json = serde_json::to_string(c).expect("credentials serialize to JSON");
        Some(self.secrets.seal(&Secret::new(json)))
    }

    /// The stream key and the credentials of a destination, opened.
    fn open_secrets(&self, row: &DestinationRow) -> Result<(Option<Secret>, UrlCredentials)> {
        let key = row
            .stream_key_enc
            .as_deref()
            .map(|k| self.secrets.open(k))
            .transpose()?;
        let credentials = match row.url_secrets_enc.as_deref() {
            None => UrlCredentials::default(),
            Some(sealed) => {
                let json = self.secrets.open(sealed)?;
                serde_json::from_str(json.expose()).map_err(|_| {
                    Error::internal(anyhow::anyhow!(
                        "the stored credentials of destination {} cannot be read",
                        row.id
                    ))
                })?
            }
        };
        Ok((key, credentials))
    }

    pub async fn list(&self) -> Result<Vec<Destination>> {
        Ok(self
            .db
            .list_destinations()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn get(&self, id: i64) -> Result<Destination> {
        Ok(self.db.destination(id).await?.into())
    }

    pub async fn create(&self, input: &DestinationInput, user: Option<i64>) -> Result<Destination> {
        let w = self.destination_write(input, None)?;
        let row = self.db.create_destination(&w).await?;
        self.db
            .audit(user, "destination_created", Some(&row.name), Some(&row.url))
            .await?;
        Ok(row.into())
    }

    pub async fn update(
        &self,
        id: i64,
        input: &DestinationInput,
        user: Option<i64>,
    ) -> Result<Destination> {
        let existing = self.db.destination(id).await?;
        let w = self.destination_write(input, Some(&existing))?;
        let row = self.db.update_destination(id, &w).await?;
        self.db
            .audit(user, "destination_updated", Some(&row.name), Some(&row.url))
            .await?;
        Ok(row.into())
    }

    pub async fn delete(&self, id: i64, user: Option<i64>) -> Result<()> {
        let existing = self.db.destination(id).await?;
        self.db.delete_destination(id).await?;
        self.db
            .audit(user, "destination_deleted", Some(&existing.name), None)
            .await
    }

    /// The destinations of a stream or program: at least one, each existing; sorted, no
    /// duplicates.
    pub async fn check_ids(&self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Err(Error::invalid(
                "destination_ids",
                "choose at least one destination",
            ));
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for d in &ids {
            self.db.destination(*d).await.map_err(|_| {
                Error::invalid("destination_ids", format!("destination {d} does not exist"))
            })?;
        }
        Ok(ids)
    }

    /// The publish URL with the key and credentials, for FFmpeg only; and the same URL
    /// redacted for logs.
    pub fn publish(&self, row: &DestinationRow) -> Result<(String, String)> {
        let (key, credentials) = self.open_secrets(row)?;
        let full = join_publish_url(&row.url, key.as_ref(), &credentials);
        let mut shown = full.clone();
        for s in publish_secrets(key.as_ref(), &credentials) {
            shown = shown.replace(s.expose(), "***");
        }
        Ok((full, redact_text(&shown)))
    }

    /// Where the appliance publishes a destination from its own process: the stored address,
    /// the key and credentials opened in memory, the TLS switch.
    pub fn target(&self, row: &DestinationRow) -> Result<PublishTarget> {
        let (key, credentials) = self.open_secrets(row)?;
        PublishTarget::new(&row.url, key, credentials, row.tls_verify)
            .map_err(|e| Error::invalid("url", e.message))
    }

    /// "Test destination": a few seconds of a test pattern to destination `id`, in its own
    /// session (a running program or stream is not touched). `Ok` carries the outcome either
    /// way: a refusal is an answer, not an error of this call.
    pub async fn test(
        &self,
        id: i64,
        ffmpeg: &std::path::Path,
        user: Option<i64>,
    ) -> Result<DestinationTest> {
        let row = self.db.destination(id).await?;
        let target = self.target(&row)?;
        let opts = TestPublishOptions {
            duration: std::time::Duration::from_secs(3),
            ffmpeg: ffmpeg.to_path_buf(),
            ..TestPublishOptions::default()
        };
        let result = test_publish(&target, &opts).await;
        let out = match result {
            Ok(r) => DestinationTest {
                ok: true,
                kind: None,
                message: format!(
                    "{} accepted the stream: {:.1} s of test pattern published ({} frames)",
                    target.endpoint(),
                    r.published_ms as f64 / 1000.0,
                    r.frames_sent
                ),
                connect_ms: Some(r.connect_ms),
                published_ms: Some(r.published_ms),
            },
            Err(e) => DestinationTest {
                ok: false,
                kind: Some(e.kind),
                // Already without the key; redacted once more for anything URL-shaped.
                message: redact_text(&target.redact(&e.message)),
                connect_ms: None,
                published_ms: None,
            },
        };
        self.db
            .audit(
                user,
                "destination_tested",
                Some(&row.name),
                Some(if out.ok { "accepted" } else { "refused" }),
            )
            .await?;
        Ok(out)
    }

    /// Everything of a destination that FFmpeg's output must never show: hand it to the
    /// process's `secrets` (the key alone is not enough: its stream name, its query values,
    /// a password or an SRT passphrase may be printed on their own).
    pub fn publish_secrets(&self, row: &DestinationRow) -> Result<Vec<Secret>> {
        let (key, credentials) = self.open_secrets(row)?;
        Ok(publish_secrets(key.as_ref(), &credentials))
    }

    /// Moves the stream keys and credentials that rows stored before they were split off
    /// still hold inside their URL into the sealed columns. Runs at every boot and finds
    /// nothing the second time; logs how many rows it sealed, never what. Returns that count.
    pub async fn seal_keys_in_urls(&self) -> Result<usize> {
        let (mut sealed, mut rewritten) = (0, 0);
        for row in self.db.list_destinations().await? {
            // A key stored beside the URL (value not needed): the whole path is the application.
            let beside = row.stream_key_enc.as_ref().map(|_| "");
            let split = match split_publish_url(&row.url, "url", beside) {
                Ok(s) => s,
                Err(_) => {
                    tracing::warn!(
                        destination = row.id,
                        "a stored destination URL does not parse; left as it is"
                    );
                    continue;
                }
            };
            if split.url == row.url && !split.had_secrets() {
                continue;
            }
            let key_enc = match &split.key {
                Some(k) => Some(self.secrets.seal(k)),
                None => row.stream_key_enc.clone(),
            };
            let credentials_enc = if split.credentials.is_empty() {
                row.url_secrets_enc.clone()
            } else {
                self.seal_credentials(&split.credentials)
            };
            let done = self
                .db
                .reseal_destination_url(
                    row.id,
                    &row.url,
                    &split.url,
                    key_enc.as_deref(),
                    credentials_enc.as_deref(),
                )
                .await?;
            match (done, split.had_secrets()) {
                (true, true) => sealed += 1,
                (true, false) => rewritten += 1,
                (false, _) => {}
            }
        }
        if sealed > 0 {
            tracing::info!(
                count = sealed,
                "sealed the stream keys and credentials found inside stored destination URLs"
            );
        }
        if rewritten > 0 {
            tracing::info!(
                count = rewritten,
                "rewrote stored destination URLs so that their application is never taken for a key"
            );
        }
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the sealing is used: `destination_write` and `publish` make no database call.
    async fn service() -> DestinationService {
        DestinationService {
            db: Db::open_in_memory().await.unwrap(),
            secrets: SecretBox::from_key(&[9u8; 32]),
        }
    }

    fn row(w: DestinationWrite) -> DestinationRow {
        DestinationRow {
            id: 1,
            name: w.name,
            platform: w.platform,
            url: w.url,
            stream_key_enc: w.stream_key_enc,
            url_secrets_enc: w.url_secrets_enc,
            enabled: w.enabled,
            tls_verify: w.tls_verify,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn input(platform: &str, url: Option<&str>, key: Option<&str>) -> DestinationInput {
        DestinationInput {
            name: "D".into(),
            platform: platform.into(),
            url: url.map(Into::into),
            stream_key: key.map(Into::into),
            enabled: None,
            tls_verify: None,
        }
    }

    #[tokio::test]
    async fn publish_urls() {
        let s = service().await;
        let cases = [
            (
                input(
                    "youtube",
                    Some("rtmp://a.rtmp.youtube.com/live2"),
                    Some("abcd-1234"),
                ),
                "rtmp://a.rtmp.youtube.com/live2/abcd-1234",
            ),
            (
                input("youtube", None, Some("abcd-1234")),
                "rtmps://a.rtmps.youtube.com:443/live2/abcd-1234",
            ),
            (
                input("custom", Some("rtmp://h/app/"), Some("abcd-1234")),
                "rtmp://h/app/abcd-1234",
            ),
            (
                input("custom", Some("srt://h:9000"), Some("abcd-1234")),
                "srt://h:9000?streamid=abcd-1234",
            ),
            (
                input("custom", Some("rtmp://h/app/key"), None),
                "rtmp://h/app/key",
            ),
            (input("custom", Some("rtmp://h/app"), None), "rtmp://h/app"),
        ];
        for (i, want) in cases {
            let r = row(s.destination_write(&i, None).unwrap());
            assert_eq!(s.publish(&r).unwrap().0, want);
        }
    }

    #[tokio::test]
    async fn a_pasted_url_is_stored_without_its_secrets_and_published_whole() {
        let s = service().await;
        for (pasted, stored, secrets) in [
            (
                "rtmp://live.example.com/app/SECRETKEY",
                "rtmp://live.example.com/app",
                &["SECRETKEY"][..],
            ),
            (
                "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-abc?s_bl=1&s_sc=zz9yy8",
                "rtmps://live-api-s.facebook.com:443/rtmp",
                &["FB-123-abc", "zz9yy8"][..],
            ),
            (
                "srt://127.0.0.1:9000?streamid=SID77&passphrase=pass-phrase-1&latency=200",
                "srt://127.0.0.1:9000?latency=200",
                &["SID77", "pass-phrase-1"][..],
            ),
            (
                "rtmp://bob:hunter22@host/app/key99",
                "rtmp://host/app",
                &["hunter22", "key99"][..],
            ),
        ] {
            let w = s
                .destination_write(&input("custom", Some(pasted), None), None)
                .unwrap();
            assert_eq!(w.url, stored);
            let r = row(w);
            let (full, shown) = s.publish(&r).unwrap();
            let list = s.publish_secrets(&r).unwrap();
            for secret in secrets {
                assert!(!shown.contains(secret), "{shown}");
                assert!(list.iter().any(|k| k.expose().contains(secret)), "{secret}");
                assert!(!format!("{r:?}").contains(secret));
            }
            // The same parameters, perhaps in another order (SRT's come after the kept ones).
            let sorted = |u: &str| {
                let (h, q) = u.split_once('?').unwrap_or((u, ""));
                let mut q: Vec<&str> = q.split('&').collect();
                q.sort();
                (h.to_string(), q.join("&"))
            };
            assert_eq!(sorted(&full), sorted(pasted));
        }
    }

    #[tokio::test]
    async fn an_edit_without_secrets_keeps_them_and_a_new_full_url_replaces_them() {
        let s = service().await;
        let first = row(s
            .destination_write(
                &input("custom", Some("rtmp://u:pw1234@h/app/OLDKEY"), None),
                None,
            )
            .unwrap());
        // The stored URL sent back unchanged, no key: both kept.
        let kept = row(s
            .destination_write(&input("custom", Some(&first.url), None), Some(&first))
            .unwrap());
        assert_eq!(s.publish(&kept).unwrap().0, "rtmp://u:pw1234@h/app/OLDKEY");
        // A new full URL: the key and the credentials are the new URL's (none).
        let new = row(s
            .destination_write(
                &input("custom", Some("rtmp://h/app/NEWKEY"), None),
                Some(&kept),
            )
            .unwrap());
        assert_eq!(s.publish(&new).unwrap().0, "rtmp://h/app/NEWKEY");
        assert_eq!(new.url_secrets_enc, None);
        // A multi-segment application keeps its trailing '/', so an edit never takes it for a key.
        let multi = row(s
            .destination_write(
                &input("custom", Some("rtmp://h/app/inst"), Some("K1")),
                None,
            )
            .unwrap());
        assert_eq!(multi.url, "rtmp://h/app/inst/");
        let again = row(s
            .destination_write(&input("custom", Some(&multi.url), None), Some(&multi))
            .unwrap());
        assert_eq!(s.publish(&again).unwrap().0, "rtmp://h/app/inst/K1");
        // "" removes the key.
        let none = row(s
            .destination_write(&input("custom", Some(&again.url), Some("")), Some(&again))
            .unwrap());
        assert_eq!(none.stream_key_enc, None);
    }
}
