//! Where a session's packets come from: a camera's source settings, and the seam between the
//! session (supervision, timeline, fan-out) and the code that talks to the camera.
//!
//! [`DefaultConnector`] reads RTSP cameras in-process (`retina`) and everything else through
//! one FFmpeg pull per camera; tests and other transports can plug in their own
//! [`Connector`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use vs_base::{Protocol, Secret, StreamUrl};

use super::packet::{StreamInfo, StreamKind};
use crate::supervisor::Deps;

/// How to reach one camera. The address never carries credentials; they travel apart and
/// reach the camera in memory (RTSP) or through a pipe (FFmpeg), never on a command line.
#[derive(Clone, PartialEq)]
pub struct SourceConfig {
    pub url: StreamUrl,
    /// User name and password.
    pub credentials: Option<(String, Secret)>,
    /// The names of the query parameters that carry the user name and the password, for
    /// cameras that read their login from the address's query (Reolink's RTMP:
    /// `?user=…&password=…`); `None` puts them in the userinfo or the RTSP authentication.
    pub credential_query: Option<(String, String)>,
    pub protocol: Protocol,
    /// A disabled camera has no session.
    pub enabled: bool,
}

impl SourceConfig {
    pub fn new(url: StreamUrl) -> Self {
        SourceConfig {
            protocol: url.protocol(),
            url,
            credentials: None,
            credential_query: None,
            enabled: true,
        }
    }

    pub fn credentials(mut self, user: impl Into<String>, password: Secret) -> Self {
        self.credentials = Some((user.into(), password));
        self
    }

    /// Puts the credentials in these query parameters instead of the userinfo.
    pub fn credential_query(
        mut self,
        user_param: impl Into<String>,
        password_param: impl Into<String>,
    ) -> Self {
        self.credential_query = Some((user_param.into(), password_param.into()));
        self
    }

    /// The address with the credentials where the camera reads them, for an FFmpeg pull's
    /// stdin only.
    pub fn connect_url(&self) -> String {
        let (user, pw) = match &self.credentials {
            Some((u, p)) => (Some(u.as_str()), Some(p)),
            None => (None, None),
        };
        let Some((user_param, password_param)) = &self.credential_query else {
            return self.url.with_credentials(user, pw);
        };
        let mut out = self.url.as_str().to_string();
        let fragment = match out.find('#') {
            Some(i) => out.split_off(i),
            None => String::new(),
        };
        let mut sep = if out.contains('?') { '&' } else { '?' };
        for (name, value) in [(user_param, user), (password_param, pw.map(|p| p.expose()))] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                out.push(sep);
                out.push_str(name);
                out.push('=');
                out.push_str(&query_escape(v));
                sep = '&';
            }
        }
        out.push_str(&fragment);
        out
    }

    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Whether the session can read this source in-process: plain RTSP with its login in the
    /// RTSP authentication. (`retina` has no TLS: RTSPS goes through FFmpeg like RTMP and SRT,
    /// and so does a login in the query.)
    pub fn in_process(&self) -> bool {
        self.protocol == Protocol::Rtsp && self.credential_query.is_none()
    }

    /// Removes the credentials (and any URL userinfo or password parameter) from a text.
    pub fn redact(&self, text: &str) -> String {
        let mut out = vs_base::stream_url::redact_text(text);
        if let Some((_, pw)) = &self.credentials {
            if !pw.is_empty() {
                out = out.replace(pw.expose(), "***");
                // The percent-encoded form appears inside URLs.
                let encoded: String =
                    url::form_urlencoded::byte_serialize(pw.expose().as_bytes()).collect();
                if encoded != pw.expose() {
                    out = out.replace(&encoded, "***");
                }
            }
        }
        out
    }
}

/// Escapes a query value the way the server stores a camera's query login: only what would end
/// or confuse a query value, because cameras compare the value byte for byte and some decode
/// nothing else.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'&' | b'=' | b'#' | b'%' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("url", &self.url.as_str())
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("credential_query", &self.credential_query)
            .field("protocol", &self.protocol)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// One access unit as a connection read it, with the source's own timestamps (90 kHz,
/// unwrapped as far as the source can; the session's timeline does the rest).
#[derive(Debug, Clone)]
pub struct SourceFrame {
    pub stream: StreamKind,
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
    /// In the hub's framing (see `packet`).
    pub data: Bytes,
    /// `Connection::info` changed with this frame.
    pub info_changed: bool,
    /// Packets the transport lost just before this frame.
    pub lost: u64,
}

/// An open connection to a camera.
#[async_trait]
pub trait Connection: Send {
    /// `rtsp` or `ffmpeg`, for the stats.
    fn transport(&self) -> &'static str;
    /// The child process reading the camera, if there is one.
    fn pid(&self) -> Option<u32> {
        None
    }
    /// The parameters as of the frames returned so far (video once a keyframe came).
    fn info(&self) -> Option<StreamInfo>;
    /// The next frame. An error ends the connection; its text must be free of credentials.
    /// Cancel-safe is not required: the session drops the connection after a cancel.
    async fn next(&mut self) -> Result<SourceFrame, String>;
    /// Closes the connection (and reaps any child process).
    async fn close(self: Box<Self>);
}

/// Opens connections.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Opens a connection; the error text must be free of credentials.
    async fn connect(
        &self,
        camera_id: i64,
        cfg: &SourceConfig,
    ) -> Result<Box<dyn Connection>, String>;
}

/// RTSP in-process, RTSPS, RTMP(S) and SRT with an FFmpeg pull.
#[derive(Clone)]
pub struct DefaultConnector {
    deps: Deps,
    ffmpeg: std::path::PathBuf,
    shutdown: CancellationToken,
    group: Arc<retina::client::SessionGroup>,
    ffmpeg_for_rtsp: bool,
}

impl DefaultConnector {
    /// `deps` spawns the FFmpeg pulls; `shutdown` kills them when the appliance stops.
    pub fn new(deps: Deps, shutdown: CancellationToken) -> Self {
        DefaultConnector {
            deps,
            ffmpeg: "ffmpeg".into(),
            shutdown,
            group: Arc::new(retina::client::SessionGroup::default()),
            ffmpeg_for_rtsp: false,
        }
    }

    /// Reads plain RTSP cameras through FFmpeg too (an escape hatch for a camera the
    /// in-process client does not get along with).
    pub fn ffmpeg_for_rtsp(mut self, yes: bool) -> Self {
        self.ffmpeg_for_rtsp = yes;
        self
    }

    /// The FFmpeg binary of the pulls (default: `ffmpeg` on `PATH`).
    pub fn ffmpeg(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ffmpeg = path.into();
        self
    }
}

#[async_trait]
impl Connector for DefaultConnector {
    async fn connect(
        &self,
        camera_id: i64,
        cfg: &SourceConfig,
    ) -> Result<Box<dyn Connection>, String> {
        if cfg.in_process() && !self.ffmpeg_for_rtsp {
            let conn = super::rtsp::RtspConnection::connect(cfg, self.group.clone()).await?;
            Ok(Box::new(conn))
        } else {
            let conn = super::pull::PullConnection::connect(
                camera_id,
                cfg,
                &self.ffmpeg,
                self.deps.clone(),
                self.shutdown.child_token(),
            )
            .await?;
            Ok(Box::new(conn))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_the_password_in_every_form() {
        let parsed = StreamUrl::parse("rtsp://127.0.0.1:8554/cam", "url").unwrap();
        let cfg = SourceConfig::new(parsed.url).credentials("admin", Secret::new("p@ss word"));
        let text = "401 for rtsp://admin:p%40ss+word@127.0.0.1/cam with p@ss word";
        let out = cfg.redact(text);
        assert!(!out.contains("p@ss word"), "{out}");
        assert!(!out.contains("p%40ss"), "{out}");
        assert!(!format!("{cfg:?}").contains("p@ss"));
    }

    #[test]
    fn a_query_login_goes_into_the_query() {
        let parsed = StreamUrl::parse("rtmp://127.0.0.1/bcs/ch0.bcs?channel=0", "url").unwrap();
        let cfg = SourceConfig::new(parsed.url.clone())
            .credentials("admin", Secret::new("s&cret"))
            .credential_query("user", "password");
        assert_eq!(
            cfg.connect_url(),
            "rtmp://127.0.0.1/bcs/ch0.bcs?channel=0&user=admin&password=s%26cret"
        );
        assert!(!cfg.in_process());
        let plain = SourceConfig::new(parsed.url).credentials("admin", Secret::new("pw"));
        assert_eq!(
            plain.connect_url(),
            "rtmp://admin:pw@127.0.0.1/bcs/ch0.bcs?channel=0"
        );
    }
}
