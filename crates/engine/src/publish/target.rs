//! Where a publisher sends: the destination's stored address (no secret in it), its stream
//! key and credentials (kept in memory only, as [`Secret`]s), and its TLS switch.
//!
//! The address is split the way `vs_base::publish_url` stores destinations: for RTMP(S) the
//! path is the application and the key is the stream name (with its query, if any); for SRT
//! the key is the `streamid` and the `passphrase` is a credential.

use vs_base::{publish_secrets, split_publish_url, Protocol, Secret, StreamUrl, UrlCredentials};

use super::error::{PublishError, PublishErrorKind};

/// One destination, ready to publish to.
#[derive(Clone)]
pub struct PublishTarget {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    /// The stored address: safe to show and log.
    pub address: String,
    /// RTMP application (`live2`, `app/instance`, with a query when the address has one).
    pub app: String,
    /// RTMP `tcUrl`: scheme, host, port and application; never the key.
    pub tc_url: String,
    key: Option<Secret>,
    credentials: UrlCredentials,
    /// Verify the server's TLS certificate (RTMPS). Off only for self-signed test servers.
    pub tls_verify: bool,
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for PublishTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishTarget")
            .field("address", &self.address)
            .field("app", &self.app)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("tls_verify", &self.tls_verify)
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> PublishError {
    PublishError::new(PublishErrorKind::InvalidTarget, msg)
}

impl PublishTarget {
    /// From a destination as stored: `address` without secrets (what `split_publish_url`
    /// returns as `url`), the key and credentials beside it.
    pub fn new(
        address: &str,
        key: Option<Secret>,
        credentials: UrlCredentials,
        tls_verify: bool,
    ) -> Result<Self, PublishError> {
        let (head, query) = match address.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (address, None),
        };
        let parsed = StreamUrl::parse(head, "address").map_err(|e| invalid(e.to_string()))?;
        let protocol = parsed.url.protocol();
        let url = url::Url::parse(parsed.url.as_str()).map_err(|e| invalid(e.to_string()))?;
        let url = &url;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("the address has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let default_port = match protocol {
            Protocol::Rtmp => 1935,
            Protocol::Rtmps => 443,
            Protocol::Srt => 0,
            Protocol::Rtsp | Protocol::Rtsps => {
                return Err(invalid(
                    "the address must be rtmp://, rtmps:// or srt://, not an RTSP address",
                ))
            }
        };
        let port = url.port().unwrap_or(default_port);
        if port == 0 {
            return Err(invalid("an SRT address needs a port"));
        }
        let key = key.filter(|k| !k.is_empty());
        let mut app = String::new();
        let mut tc_url = String::new();
        if matches!(protocol, Protocol::Rtmp | Protocol::Rtmps) {
            // A user name and password in an RTMP address (rtmp://user:pw@host/…) are kept
            // sealed and masked, but not sent: servers that want them (Adobe-style `authmod`
            // challenges) refuse the connection, and say so.
            app = url.path().trim_matches('/').to_string();
            if app.is_empty() {
                return Err(invalid(
                    "the address has no application (rtmp://host/APP/KEY)",
                ));
            }
            if key.is_none() {
                return Err(invalid("the destination has no stream key"));
            }
            // A query beside the application (kept in the address or sealed as credentials)
            // is part of what `connect` says, as FFmpeg sends it.
            let mut params: Vec<&str> = query.into_iter().collect();
            params.extend(credentials.query.iter().map(String::as_str));
            if !params.is_empty() {
                app.push('?');
                app.push_str(&params.join("&"));
            }
            let scheme = if protocol == Protocol::Rtmps {
                "rtmps"
            } else {
                "rtmp"
            };
            let host_part = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            tc_url = format!("{scheme}://{host_part}:{port}/{app}");
        }
        let secrets = publish_secrets(key.as_ref(), &credentials);
        Ok(PublishTarget {
            protocol,
            host,
            port,
            address: address.to_string(),
            app,
            tc_url,
            key,
            credentials,
            tls_verify,
            secrets,
        })
    }

    /// From a full address as a user pastes it (`rtmp://host/app/KEY`,
    /// `srt://host:9000?streamid=K&passphrase=P`).
    pub fn parse(full: &str, tls_verify: bool) -> Result<Self, PublishError> {
        let split = split_publish_url(full, "url", None).map_err(|e| invalid(e.to_string()))?;
        Self::new(&split.url, split.key, split.credentials, tls_verify)
    }

    /// The RTMP stream name (the key) or SRT `streamid`.
    pub fn key(&self) -> Option<&Secret> {
        self.key.as_ref()
    }

    pub fn credentials(&self) -> &UrlCredentials {
        &self.credentials
    }

    /// Every text that must never appear in a log line or an error.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// `text` with every secret of this destination masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }

    /// The address with the key masked (`rtmp://host:port/app/***`), for messages.
    pub fn shown(&self) -> String {
        if self.tc_url.is_empty() {
            self.redact(&vs_base::stream_url::redact_text(&self.address))
        } else {
            self.redact(&format!("{}/***", self.tc_url))
        }
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtmp_addresses_split_into_app_and_key() {
        let t = PublishTarget::parse("rtmp://a.rtmp.youtube.com/live2/abcd-1234", true).unwrap();
        assert_eq!(t.protocol, Protocol::Rtmp);
        assert_eq!((t.host.as_str(), t.port), ("a.rtmp.youtube.com", 1935));
        assert_eq!(t.app, "live2");
        assert_eq!(t.key().unwrap().expose(), "abcd-1234");
        assert_eq!(t.tc_url, "rtmp://a.rtmp.youtube.com:1935/live2");
        assert!(!format!("{t:?}").contains("abcd-1234"));
        assert_eq!(t.redact("no stream abcd-1234 here"), "no stream *** here");

        let t = PublishTarget::parse(
            "rtmps://live-api-s.facebook.com:443/rtmp/FB-1-2?s_bl=1&a=xyz1",
            false,
        )
        .unwrap();
        assert_eq!(t.port, 443);
        assert_eq!(t.app, "rtmp");
        assert_eq!(t.key().unwrap().expose(), "FB-1-2?s_bl=1&a=xyz1");
        assert!(!t.tls_verify);

        let t = PublishTarget::new(
            "rtmp://127.0.0.1:1936/app/inst/",
            Some(Secret::new("k")),
            UrlCredentials::default(),
            true,
        )
        .unwrap();
        assert_eq!(t.app, "app/inst");
        assert_eq!(t.tc_url, "rtmp://127.0.0.1:1936/app/inst");
    }

    #[test]
    fn bad_targets_are_refused_in_words() {
        let e = PublishTarget::parse("rtmp://host/live2/", true).unwrap_err();
        assert_eq!(e.kind, PublishErrorKind::InvalidTarget);
        assert!(e.message.contains("no stream key"), "{e}");
        let e = PublishTarget::parse("rtsp://host/x/y", true).unwrap_err();
        assert_eq!(e.kind, PublishErrorKind::InvalidTarget);
        let e = PublishTarget::parse("srt://host?streamid=x", true).unwrap_err();
        assert!(e.message.contains("port"), "{e}");
    }

    #[test]
    fn srt_keeps_streamid_and_passphrase_apart() {
        let t = PublishTarget::parse(
            "srt://127.0.0.1:9000?latency=200000&streamid=live/k1&passphrase=0123456789ab",
            true,
        )
        .unwrap();
        assert_eq!(t.address, "srt://127.0.0.1:9000?latency=200000");
        assert_eq!(t.key().unwrap().expose(), "live/k1");
        assert_eq!(t.credentials().query, vec!["passphrase=0123456789ab"]);
        assert_eq!(t.redact("pw 0123456789ab id live/k1"), "pw *** id ***");
    }
}
