//! `OnvifClient`: the `Ptz` trait over SOAP 1.2 and HTTP, with both ONVIF authentication
//! schemes, the camera's clock offset, service discovery and a deadline on every exchange.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use tokio::sync::OnceCell;
use url::Url;
use vs_base::Secret;

use crate::auth::{self, DigestChallenge};
use crate::error::{classify_fault, OnvifError, Result};
use crate::messages as msg;
use crate::ptz::Ptz;
use crate::soap::{self, Reply, DEVICE_NS, MEDIA_NS, PTZ_NS};
use crate::types::{Capabilities, Preset, Profile, PtzRanges, PtzStatus, PtzVector};
use crate::xml::Element;

/// Cameras answer a few KB; anything far bigger is not a camera we can talk to.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// A clock re-read that moved less than this cannot explain a rejected timestamp.
const RESYNC_THRESHOLD: TimeDelta = TimeDelta::seconds(2);

/// How to reach and log into one camera.
#[derive(Debug, Clone)]
pub struct OnvifConfig {
    pub host: String,
    pub port: u16,
    pub https: bool,
    /// Empty: send no credentials (cameras with authentication off).
    pub username: String,
    pub password: Secret,
    /// Deadline of one exchange with the camera, including the digest retry.
    pub timeout: Duration,
    /// The media profile to prefer; `None` picks the first one with a PTZ configuration.
    pub profile_token: Option<String>,
    /// Path of the device service, the one address every ONVIF camera must answer on.
    pub device_path: String,
    /// Send a WS-Security UsernameToken in every authenticated request (HTTP Digest is always
    /// answered when the camera challenges).
    pub ws_security: bool,
    /// Use the service addresses the camera reports as they are, instead of keeping only their
    /// path on the configured host:port. Unusable addresses are rewritten either way.
    pub trust_xaddrs: bool,
}

impl OnvifConfig {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        OnvifConfig {
            host: host.into(),
            port,
            https: false,
            username: String::new(),
            password: Secret::default(),
            timeout: Duration::from_secs(5),
            profile_token: None,
            device_path: "/onvif/device_service".into(),
            ws_security: true,
            trust_xaddrs: false,
        }
    }

    pub fn with_credentials(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.username = username.into();
        self.password = password;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_profile(mut self, token: impl Into<String>) -> Self {
        self.profile_token = Some(token.into());
        self
    }

    fn base_url(&self) -> Result<Url> {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.https { "https" } else { "http" };
        Url::parse(&format!("{scheme}://{host}:{}/", self.port))
            .map_err(|e| OnvifError::InvalidInput(format!("invalid camera address: {e}")))
    }
}

/// What discovery found; fixed for the life of the client once it succeeded.
#[derive(Debug)]
struct Session {
    caps: Capabilities,
    media: Url,
    ptz: Option<Url>,
}

/// An ONVIF PTZ camera. Cheap to share behind an `Arc`; nothing is sent until the first call.
pub struct OnvifClient {
    config: OnvifConfig,
    base: Url,
    http: reqwest::Client,
    session: OnceCell<Session>,
    clock_offset: Mutex<TimeDelta>,
    digest: Mutex<Option<(DigestChallenge, u32)>>,
    profiles: Mutex<Option<Vec<Profile>>>,
}

impl std::fmt::Debug for OnvifClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifClient")
            .field("base", &self.base.as_str())
            .field("username", &self.config.username)
            .finish_non_exhaustive()
    }
}

impl OnvifClient {
    /// Builds a client without touching the network, so a camera that is off at boot does not
    /// stop the appliance; discovery runs on the first call and is retried until it succeeds.
    pub fn new(config: OnvifConfig) -> Result<Self> {
        let base = config.base_url()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            // gSOAP servers close kept-alive connections without warning; a reused dead socket
            // would fail a command, so every exchange gets a fresh connection.
            .pool_max_idle_per_host(0)
            // A camera on the LAN must never be reached through an HTTP proxy from the env.
            .no_proxy()
            .build()
            .map_err(|e| OnvifError::Protocol(format!("cannot build HTTP client: {e}")))?;
        Ok(OnvifClient {
            config,
            base,
            http,
            session: OnceCell::new(),
            clock_offset: Mutex::new(TimeDelta::zero()),
            digest: Mutex::new(None),
            profiles: Mutex::new(None),
        })
    }

    /// Builds a client and runs discovery now, to report problems at once.
    pub async fn connect(config: OnvifConfig) -> Result<Self> {
        let c = Self::new(config)?;
        c.session().await?;
        Ok(c)
    }

    pub fn config(&self) -> &OnvifConfig {
        &self.config
    }

    /// Camera clock minus ours, as measured by the last GetSystemDateAndTime.
    pub fn clock_offset(&self) -> TimeDelta {
        *self.clock_offset.lock().unwrap()
    }

    fn device_url(&self) -> Url {
        let mut u = self.base.clone();
        u.set_path(&self.config.device_path);
        u
    }

    async fn session(&self) -> Result<&Session> {
        self.session.get_or_try_init(|| self.discover()).await
    }

    async fn discover(&self) -> Result<Session> {
        let device = self.device_url();
        self.sync_clock().await?;

        let mut caps_error = None;
        let mut addrs = match self
            .call(
                &device,
                DEVICE_NS,
                "GetCapabilities",
                &msg::get_capabilities(),
                true,
            )
            .await
        {
            Ok(op) => msg::parse_capabilities(&op)?,
            Err(
                e @ (OnvifError::AuthFailed(_)
                | OnvifError::Timeout(_)
                | OnvifError::Unreachable(_)
                | OnvifError::NotOnvif { .. }),
            ) => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "GetCapabilities failed; trying GetServices");
                caps_error = Some(e);
                msg::ServiceAddrs::default()
            }
        };
        if addrs.ptz.is_none() || addrs.media.is_none() {
            // Newer firmwares list some services only in GetServices.
            match self
                .call(
                    &device,
                    DEVICE_NS,
                    "GetServices",
                    &msg::get_services(),
                    true,
                )
                .await
            {
                Ok(op) => {
                    let s = msg::parse_services(&op)?;
                    addrs.ptz = addrs.ptz.or(s.ptz);
                    addrs.media = addrs.media.or(s.media);
                    addrs.imaging = addrs.imaging.or(s.imaging);
                    addrs.events = addrs.events.or(s.events);
                    addrs.device = addrs.device.or(s.device);
                }
                Err(
                    e @ (OnvifError::AuthFailed(_)
                    | OnvifError::Timeout(_)
                    | OnvifError::NotOnvif { .. }),
                ) => return Err(e),
                // Neither call worked: we know nothing of the device, and "no PTZ service"
                // would be a guess; the first refusal is what the user needs to see.
                Err(e) => match caps_error {
                    Some(first) => {
                        tracing::debug!(error = %e, "GetServices failed too");
                        return Err(first);
                    }
                    None => tracing::debug!(error = %e, "GetServices failed"),
                },
            }
        }

        let rewrite = |x: &Option<String>| x.as_deref().and_then(|x| self.rewrite_xaddr(x));
        let media = rewrite(&addrs.media).unwrap_or_else(|| device.clone());
        let ptz = rewrite(&addrs.ptz);
        let caps = Capabilities {
            device: rewrite(&addrs.device)
                .unwrap_or_else(|| device.clone())
                .to_string(),
            media: Some(media.to_string()),
            ptz: ptz.as_ref().map(Url::to_string),
            imaging: rewrite(&addrs.imaging).map(|u| u.to_string()),
            events: rewrite(&addrs.events).map(|u| u.to_string()),
        };
        tracing::debug!(
            ?caps,
            offset_s = self.clock_offset().num_seconds(),
            "ONVIF discovery"
        );
        Ok(Session { caps, media, ptz })
    }

    /// Measures the camera's clock against ours. WS-Security timestamps must be in the
    /// camera's time, and many cameras are minutes off (no NTP on an isolated LAN).
    /// Returns how much the offset changed.
    async fn sync_clock(&self) -> Result<TimeDelta> {
        let sent = Utc::now();
        let started = Instant::now();
        let result = self
            .call(
                &self.device_url(),
                DEVICE_NS,
                "GetSystemDateAndTime",
                &msg::get_system_date_and_time(),
                false,
            )
            .await;
        let camera = match result.and_then(|op| msg::parse_system_date_and_time(&op)) {
            Ok(t) => t,
            Err(e @ (OnvifError::Unreachable(_) | OnvifError::Timeout(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the camera's clock; assuming ours");
                return Ok(TimeDelta::zero());
            }
        };
        let midpoint =
            sent + TimeDelta::from_std(started.elapsed() / 2).unwrap_or(TimeDelta::zero());
        let offset = camera - midpoint;
        let mut cur = self.clock_offset.lock().unwrap();
        let change = offset - *cur;
        *cur = offset;
        Ok(change)
    }

    /// Keeps the reported path on the configured host:port unless told to trust the camera,
    /// because the configured address is the one proven to answer, while cameras report LAN
    /// addresses behind NAT, stale DHCP leases, 0.0.0.0 or localhost.
    fn rewrite_xaddr(&self, xaddr: &str) -> Option<Url> {
        let xaddr = xaddr.split_whitespace().next()?;
        let on_base = |path: &str, query: Option<&str>| {
            let mut u = self.base.clone();
            u.set_path(path);
            u.set_query(query);
            u
        };
        match Url::parse(xaddr) {
            Ok(u) if self.config.trust_xaddrs && self.usable(&u) => Some(u),
            Ok(u) => Some(on_base(u.path(), u.query())),
            Err(_) if xaddr.starts_with('/') => Some(on_base(xaddr, None)),
            Err(_) => None,
        }
    }

    fn usable(&self, u: &Url) -> bool {
        let Some(host) = u.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                let configured_loopback = self
                    .config
                    .host
                    .parse::<IpAddr>()
                    .is_ok_and(|c| c.is_loopback())
                    || self.config.host == "localhost";
                !(ip.is_unspecified()
                    || (ip.is_loopback() && !configured_loopback)
                    || matches!(ip, IpAddr::V4(v4) if v4.is_link_local()))
            }
            Err(_) => host != "localhost" || self.config.host == "localhost",
        }
    }

    fn uses_wsse(&self) -> bool {
        self.config.ws_security && !self.config.username.is_empty()
    }

    fn wsse_header(&self) -> Option<String> {
        if !self.uses_wsse() {
            return None;
        }
        let created = Utc::now() + self.clock_offset();
        Some(auth::ws_security_header(
            &self.config.username,
            self.config.password.expose(),
            created,
        ))
    }

    fn digest_authorization(&self, url: &Url) -> Option<String> {
        let mut guard = self.digest.lock().unwrap();
        let (challenge, nc) = guard.as_mut()?;
        *nc += 1;
        let uri = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Some(challenge.authorization(
            &self.config.username,
            self.config.password.expose(),
            "POST",
            &uri,
            *nc,
            &auth::cnonce(),
        ))
    }

    /// One operation, with one retry after re-reading the camera's clock when WS-Security was
    /// refused: a camera whose clock was changed since discovery rejects our timestamps.
    async fn call_authed(&self, url: &Url, ns: &str, op: &str, body: &str) -> Result<Element> {
        match self.call(url, ns, op, body, true).await {
            Err(OnvifError::AuthFailed(m)) if self.uses_wsse() => match self.sync_clock().await {
                Ok(change) if change.abs() >= RESYNC_THRESHOLD => {
                    tracing::info!(
                        change_s = change.num_seconds(),
                        "camera clock moved; retrying with a new timestamp"
                    );
                    self.call(url, ns, op, body, true).await
                }
                _ => Err(OnvifError::AuthFailed(m)),
            },
            r => r,
        }
    }

    /// One SOAP exchange (plus the digest retry) under the configured deadline.
    async fn call(&self, url: &Url, ns: &str, op: &str, body: &str, wsse: bool) -> Result<Element> {
        let deadline = self.config.timeout;
        match tokio::time::timeout(deadline, self.exchange(url, ns, op, body, wsse)).await {
            Ok(r) => r,
            Err(_) => Err(OnvifError::elapsed_timeout(op, deadline)),
        }
    }

    async fn exchange(
        &self,
        url: &Url,
        ns: &str,
        op: &str,
        body: &str,
        wsse: bool,
    ) -> Result<Element> {
        let content_type = format!(
            r#"application/soap+xml; charset=utf-8; action="{}""#,
            msg::action_uri(ns, op)
        );
        let mut challenged = false;
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Rebuilt on each attempt: a replayed nonce would be refused by a strict camera.
            let header = if wsse { self.wsse_header() } else { None };
            let envelope = soap::envelope(body, header.as_deref());
            let mut req = self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, &content_type)
                .body(envelope);
            if let Some(a) = self.digest_authorization(url) {
                req = req.header(AUTHORIZATION, a);
            }
            let resp = req.send().await.map_err(|e| self.transport_error(op, &e))?;
            let status = resp.status();

            if status == StatusCode::UNAUTHORIZED {
                if self.config.username.is_empty() {
                    return Err(OnvifError::AuthFailed(
                        "the camera requires a username and password".into(),
                    ));
                }
                let values: Vec<String> = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect();
                let Some(challenge) = DigestChallenge::pick(values.iter().map(String::as_str))
                else {
                    return Err(OnvifError::AuthFailed(
                        self.unchallenged_401(op, wsse, &values),
                    ));
                };
                // A second 401 right after answering a fresh challenge means wrong credentials,
                // unless the server only said our nonce went stale.
                if (challenged && !challenge.stale) || attempts >= 3 {
                    return Err(OnvifError::AuthFailed(format!(
                        "{op}: HTTP 401 after digest authentication"
                    )));
                }
                challenged = true;
                *self.digest.lock().unwrap() = Some((challenge, 0));
                continue;
            }

            let media_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty());
            let text = read_body(resp)
                .await
                .map_err(|e| self.transport_error(op, &e))?;
            return match soap::parse_reply(&text) {
                Ok(Reply::Ok(el)) if status.is_success() => Ok(el),
                Ok(Reply::Ok(_)) => Err(OnvifError::Protocol(format!(
                    "{op}: HTTP {status} with a non-fault body"
                ))),
                Ok(Reply::Fault(f)) => Err(classify_fault(op, f)),
                Err(_) if status == StatusCode::FORBIDDEN => {
                    Err(OnvifError::AuthFailed(format!("{op}: HTTP 403 forbidden")))
                }
                // Every ONVIF device answers SOAP at its device service, and no ONVIF service
                // answers a success without it: a web page or an empty reply here means the
                // address is some other server (the camera's web UI, an RTSP port...). The XML
                // parser's complaint about it would tell a user nothing.
                Err(e) if status.is_success() || url.path() == self.config.device_path => {
                    tracing::debug!(op, status = status.as_u16(), error = %e, "not a SOAP answer");
                    Err(OnvifError::NotOnvif {
                        target: self.target(),
                        answer: format!(
                            "HTTP {}, {}",
                            status.as_u16(),
                            media_type.as_deref().unwrap_or("no content type")
                        ),
                    })
                }
                Err(_) if matches!(status.as_u16(), 404 | 405 | 501) => {
                    Err(OnvifError::NotSupported {
                        action: op.to_string(),
                        detail: format!("HTTP {status} at {}", url.path()),
                    })
                }
                Err(_) if !status.is_success() => Err(OnvifError::Protocol(format!(
                    "{op}: HTTP {status} at {}",
                    url.path()
                ))),
                Err(e) => Err(e),
            };
        }
    }

    /// `host:port` as configured, for messages.
    fn target(&self) -> String {
        if self.config.host.contains(':') && !self.config.host.starts_with('[') {
            format!("[{}]:{}", self.config.host, self.config.port)
        } else {
            format!("{}:{}", self.config.host, self.config.port)
        }
    }

    /// Why a 401 without a Digest challenge we can answer is a refused login. Servers that
    /// only check WS-Security answer a bad token with a bare 401; listing their (absent)
    /// challenge headers would say nothing.
    fn unchallenged_401(&self, op: &str, sent_wsse: bool, challenges: &[String]) -> String {
        let schemes: Vec<&str> = challenges
            .iter()
            .filter_map(|v| v.split_whitespace().next())
            .collect();
        match (schemes.is_empty(), sent_wsse && self.uses_wsse()) {
            (true, true) => format!("{op}: the WS-Security login was refused with HTTP 401"),
            (true, false) => format!("{op}: HTTP 401 without an authentication challenge"),
            (false, _) => format!(
                "{op}: HTTP 401 asking for {} authentication, which ONVIF does not use",
                schemes.join("/")
            ),
        }
    }

    fn transport_error(&self, op: &str, e: &reqwest::Error) -> OnvifError {
        let target = self.target();
        if e.is_timeout() {
            OnvifError::elapsed_timeout(op, self.config.timeout)
        } else if e.is_connect() {
            OnvifError::Unreachable(format!("{target}: {}", root_cause(e)))
        } else if not_http(e) {
            // An RTSP port or some other protocol given as the ONVIF port.
            OnvifError::NotOnvif {
                target,
                answer: format!("not HTTP: {}", root_cause(e)),
            }
        } else {
            OnvifError::Protocol(format!("{op} to {target}: {}", root_cause(e)))
        }
    }

    async fn ptz_url(&self) -> Result<Url> {
        self.session()
            .await?
            .ptz
            .clone()
            .ok_or_else(|| OnvifError::NotPtzCapable("the camera reports no PTZ service".into()))
    }

    async fn ptz_call(&self, op: &str, body: String) -> Result<Element> {
        let url = self.ptz_url().await?;
        self.call_authed(&url, PTZ_NS, op, &body).await
    }

    async fn cached_profile(&self, token: &str) -> Result<Profile> {
        let cached = self
            .profiles
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|ps| ps.iter().find(|p| p.token == token).cloned());
        if let Some(p) = cached {
            return Ok(p);
        }
        let profiles = self.profiles().await?;
        find_profile(&profiles, token).cloned()
    }
}

fn find_profile<'a>(profiles: &'a [Profile], token: &str) -> Result<&'a Profile> {
    profiles.iter().find(|p| p.token == token).ok_or_else(|| {
        let known: Vec<&str> = profiles.iter().map(|p| p.token.as_str()).collect();
        OnvifError::NotFound(format!(
            "the camera has no media profile '{token}' (it has: {})",
            known.join(", ")
        ))
    })
}

async fn read_body(mut resp: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Whether the peer answered bytes that are not an HTTP response.
fn not_http(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_parse() || h.is_parse_status())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn check_token(what: &str, token: &str) -> Result<()> {
    if token.trim().is_empty() {
        return Err(OnvifError::InvalidInput(format!(
            "the {what} must not be empty"
        )));
    }
    Ok(())
}

fn check_vector(what: &str, v: &PtzVector) -> Result<()> {
    if !v.is_finite() {
        return Err(OnvifError::InvalidInput(format!(
            "the {what} must be finite numbers"
        )));
    }
    Ok(())
}

#[async_trait]
impl Ptz for OnvifClient {
    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(self.session().await?.caps.clone())
    }

    async fn profiles(&self) -> Result<Vec<Profile>> {
        let media = self.session().await?.media.clone();
        let op = self
            .call_authed(&media, MEDIA_NS, "GetProfiles", &msg::get_profiles())
            .await?;
        let profiles = msg::parse_profiles(&op)?;
        *self.profiles.lock().unwrap() = Some(profiles.clone());
        Ok(profiles)
    }

    async fn default_profile(&self) -> Result<String> {
        let profiles = self.profiles().await?;
        if let Some(t) = &self.config.profile_token {
            let p = find_profile(&profiles, t)?;
            if p.ptz.is_none() {
                return Err(OnvifError::NotPtzCapable(format!(
                    "media profile '{t}' has no PTZ configuration"
                )));
            }
            return Ok(t.clone());
        }
        profiles
            .into_iter()
            .find(|p| p.ptz.is_some())
            .map(|p| p.token)
            .ok_or_else(|| {
                OnvifError::NotPtzCapable("no media profile has a PTZ configuration".into())
            })
    }

    async fn supports_relative(&self, profile: &str) -> Result<bool> {
        check_token("profile token", profile)?;
        let p = self.cached_profile(profile).await?;
        Ok(p.ptz.is_some_and(|c| c.relative_pan_tilt_space.is_some()))
    }

    async fn presets(&self, profile: &str) -> Result<Vec<Preset>> {
        check_token("profile token", profile)?;
        let op = self
            .ptz_call("GetPresets", msg::get_presets(profile))
            .await?;
        msg::parse_presets(&op)
    }

    async fn goto_preset(
        &self,
        profile: &str,
        token: &str,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        check_token("profile token", profile)?;
        check_token("preset token", token)?;
        if let Some(s) = &speed {
            check_vector("speed", s)?;
        }
        self.ptz_call("GotoPreset", msg::goto_preset(profile, token, speed))
            .await
            .map(drop)
    }

    async fn set_preset(&self, profile: &str, name: &str, token: Option<&str>) -> Result<String> {
        check_token("profile token", profile)?;
        check_token("preset name", name)?;
        if let Some(t) = token {
            check_token("preset token", t)?;
        }
        let op = self
            .ptz_call("SetPreset", msg::set_preset(profile, name, token))
            .await?;
        msg::parse_set_preset(&op)
    }

    async fn remove_preset(&self, profile: &str, token: &str) -> Result<()> {
        check_token("profile token", profile)?;
        check_token("preset token", token)?;
        self.ptz_call("RemovePreset", msg::remove_preset(profile, token))
            .await
            .map(drop)
    }

    async fn absolute_move(
        &self,
        profile: &str,
        position: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        check_token("profile token", profile)?;
        check_vector("position", &position)?;
        if let Some(s) = &speed {
            check_vector("speed", s)?;
        }
        self.ptz_call("AbsoluteMove", msg::absolute_move(profile, position, speed))
            .await
            .map(drop)
    }

    async fn relative_move(
        &self,
        profile: &str,
        translation: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        check_token("profile token", profile)?;
        check_vector("translation", &translation)?;
        if let Some(s) = &speed {
            check_vector("speed", s)?;
        }
        self.ptz_call(
            "RelativeMove",
            msg::relative_move(profile, translation, speed),
        )
        .await
        .map(drop)
    }

    async fn continuous_move(
        &self,
        profile: &str,
        velocity: PtzVector,
        timeout: Option<Duration>,
    ) -> Result<()> {
        check_token("profile token", profile)?;
        check_vector("velocity", &velocity)?;
        self.ptz_call(
            "ContinuousMove",
            msg::continuous_move(profile, velocity, timeout),
        )
        .await
        .map(drop)
    }

    async fn stop(&self, profile: &str) -> Result<()> {
        check_token("profile token", profile)?;
        self.ptz_call("Stop", msg::stop(profile)).await.map(drop)
    }

    async fn status(&self, profile: &str) -> Result<PtzStatus> {
        check_token("profile token", profile)?;
        let op = self.ptz_call("GetStatus", msg::get_status(profile)).await?;
        msg::parse_status(&op)
    }

    async fn ranges(&self, profile: &str) -> Result<PtzRanges> {
        check_token("profile token", profile)?;
        let p = self.cached_profile(profile).await?;
        let ptz = p.ptz.ok_or_else(|| {
            OnvifError::NotPtzCapable(format!(
                "media profile '{profile}' has no PTZ configuration"
            ))
        })?;
        if let Some(r) = ptz.ranges {
            return Ok(r);
        }
        // No limits in the profile: the node's supported spaces say the same thing.
        match self.ptz_call("GetNodes", msg::get_nodes()).await {
            Ok(op) => {
                let nodes = msg::parse_nodes(&op)?;
                let found = nodes
                    .iter()
                    .find(|(t, _)| Some(t) == ptz.node_token.as_ref())
                    .or(nodes.first());
                Ok(found
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(PtzRanges::generic))
            }
            Err(OnvifError::NotSupported { .. }) => Ok(PtzRanges::generic()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(host: &str, trust: bool) -> OnvifClient {
        let mut c = OnvifConfig::new(host, 8899);
        c.trust_xaddrs = trust;
        OnvifClient::new(c).unwrap()
    }

    #[test]
    fn xaddrs_keep_their_path_on_the_configured_address() {
        let c = client("cam.example", false);
        let u = c
            .rewrite_xaddr("http://192.168.12.59:8899/onvif/ptz_service")
            .unwrap();
        assert_eq!(u.as_str(), "http://cam.example:8899/onvif/ptz_service");
        let u = c.rewrite_xaddr("/onvif/media_service").unwrap();
        assert_eq!(u.as_str(), "http://cam.example:8899/onvif/media_service");
        assert!(c.rewrite_xaddr("not a url").is_none());
    }

    #[test]
    fn trusted_xaddrs_are_still_rewritten_when_unusable() {
        let c = client("10.1.2.3", true);
        let keep = c.rewrite_xaddr("http://10.9.9.9:80/onvif/ptz").unwrap();
        assert_eq!(keep.as_str(), "http://10.9.9.9/onvif/ptz");
        for bad in [
            "http://0.0.0.0:8899/onvif/ptz",
            "http://127.0.0.1:8899/onvif/ptz",
            "http://169.254.1.1:8899/onvif/ptz",
            "http://localhost/onvif/ptz",
        ] {
            let u = c.rewrite_xaddr(bad).unwrap();
            assert_eq!(u.as_str(), "http://10.1.2.3:8899/onvif/ptz", "{bad}");
        }
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let c = client("::1", false);
        assert_eq!(
            c.device_url().as_str(),
            "http://[::1]:8899/onvif/device_service"
        );
    }
}
