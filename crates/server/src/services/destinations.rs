//! Streaming destinations: platform presets (YouTube, Facebook, Twitch) or a custom
//! RTMP/RTMPS/SRT server, with the stream key sealed at rest and never shown again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::{Error, Protocol, Result, Secret, SecretBox, StreamUrl};
use vs_db::streaming::{DestinationRow, DestinationWrite};
use vs_db::Db;

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
    /// Server URL without the key. Optional for the platforms (their ingest is used);
    /// required for `custom`. rtmp://, rtmps:// or srt://.
    #[serde(default)]
    pub url: Option<String>,
    /// Write-only. On update: absent or null keeps the stored key.
    #[serde(default)]
    pub stream_key: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Destination {
    pub id: i64,
    pub name: String,
    pub platform: Platform,
    pub url: String,
    /// The key itself is never returned.
    pub has_stream_key: bool,
    pub enabled: bool,
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
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
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

/// The full publish URL of a destination: server URL plus key (or `streamid` for SRT).
pub fn publish_url(url: &str, key: Option<&Secret>) -> String {
    match key.filter(|k| !k.is_empty()) {
        None => url.to_string(),
        Some(k) if url.starts_with("srt://") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}streamid={}", k.expose())
        }
        Some(k) => format!("{}/{}", url.trim_end_matches('/'), k.expose()),
    }
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
        keep_key: Option<String>,
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
        let parsed = StreamUrl::parse(&raw_url, "url")?;
        if !matches!(
            parsed.url.protocol(),
            Protocol::Rtmp | Protocol::Rtmps | Protocol::Srt
        ) {
            return Err(Error::invalid(
                "url",
                "must be an rtmp://, rtmps:// or srt:// address",
            ));
        }
        if parsed.username.is_some() || parsed.password.is_some() {
            return Err(Error::invalid(
                "url",
                "must not contain credentials; put the key in stream_key",
            ));
        }
        let stream_key_enc = match input.stream_key.as_deref().map(str::trim) {
            None => keep_key,
            Some("") => None,
            Some(k) => {
                check_key(k)?;
                Some(self.secrets.seal(&Secret::new(k)))
            }
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
            url: parsed.url.as_str().trim_end_matches('/').to_string(),
            stream_key_enc,
            enabled: input.enabled.unwrap_or(true),
        })
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
        let w = self.destination_write(input, existing.stream_key_enc)?;
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

    /// The publish URL with the key, for FFmpeg only; and the same URL redacted for logs.
    pub fn publish(&self, row: &DestinationRow) -> Result<(String, String)> {
        let key = row
            .stream_key_enc
            .as_deref()
            .map(|k| self.secrets.open(k))
            .transpose()?;
        let full = publish_url(&row.url, key.as_ref());
        let shown = publish_url(&row.url, key.as_ref().map(|_| Secret::new("***")).as_ref());
        Ok((full, shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_urls() {
        let k = Secret::new("abcd-1234");
        assert_eq!(
            publish_url("rtmp://a.rtmp.youtube.com/live2", Some(&k)),
            "rtmp://a.rtmp.youtube.com/live2/abcd-1234"
        );
        assert_eq!(
            publish_url("rtmp://h/app/", Some(&k)),
            "rtmp://h/app/abcd-1234"
        );
        assert_eq!(
            publish_url("srt://h:9000", Some(&k)),
            "srt://h:9000?streamid=abcd-1234"
        );
        assert_eq!(publish_url("rtmp://h/app/key", None), "rtmp://h/app/key");
    }
}
