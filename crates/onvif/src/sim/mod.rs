//! A simulated ONVIF PTZ camera that answers like the Sunba in the captures (gSOAP, SOAP 1.2,
//! HTTP Digest), for the demo mode and for tests that must not need a real camera.
//!
//! The static answers (GetProfiles, GetCapabilities, the envelope with its namespace list) are
//! the captured bytes; the dynamic ones follow the same style. The head moves at a finite
//! speed, so a client sees MOVING until it arrives, as with a real camera.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vs_base::Secret;

use crate::auth::{verify_digest_authorization, UsernameToken};
use crate::client::OnvifConfig;
use crate::messages::{fmt_num, parse_duration};
use crate::soap::{fault_body, SOAP11_NS, SOAP12_NS};
use crate::types::{MoveStatus, PtzVector};
use crate::xml::{self, escape, Element};

/// The captured envelope start: XML declaration, every gSOAP namespace, empty header.
const ENVELOPE_HEAD: &str = include_str!("envelope_head.xml");
const ENVELOPE_TAIL: &str = "</s:Body></s:Envelope>";
/// The captured GetProfiles body, verbatim (profiles 000, 001, 002).
const PROFILES_BODY: &str = include_str!("get_profiles.xml");
/// The captured GetCapabilities body with `{{XADDR_BASE}}` for `http://host:port`.
const CAPABILITIES_BODY: &str = include_str!("get_capabilities.xml");
/// gSOAP's stock value; the captures hold bodies only, so this is the library default.
const SERVER_HEADER: &str = "gSOAP/2.8";
const PROFILE_TOKENS: [&str; 3] = ["000", "001", "002"];
const DIGEST_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// DefaultPTZSpeed of the captured PTZConfiguration: a request at this speed moves at
/// `SimOptions::speed`.
const DEFAULT_SPEED: f64 = 0.5;

/// A preset held by the simulated camera.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPreset {
    pub token: String,
    pub name: String,
    pub position: PtzVector,
}

/// How the simulated camera behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free one. Only loopback makes sense.
    pub bind: SocketAddr,
    pub username: String,
    pub password: String,
    pub realm: String,
    /// Accept HTTP Digest (and challenge requests without WS-Security with a 401).
    pub http_digest: bool,
    /// Accept WS-Security UsernameToken; a token present but wrong is refused even when the
    /// digest is right, as gSOAP's wsse plugin does.
    pub ws_security: bool,
    /// The camera's clock minus the real one.
    pub clock_skew: TimeDelta,
    /// How far a WS-Security `Created` may be from the camera's clock.
    pub max_created_skew: TimeDelta,
    /// Units per second at the default speed (0.5 in the requests' generic speed space).
    pub speed: f64,
    pub start_position: PtzVector,
    pub presets: Vec<SimPreset>,
    /// `host:port` written into XAddrs; `None` writes the real listening address. Cameras often
    /// report an address that cannot be used from the client's side.
    pub advertised_host: Option<String>,
    /// Some cameras never report MoveStatus; `false` leaves it out of GetStatus.
    pub report_move_status: bool,
    /// The Sunba lists presets without their position; `true` adds PTZPosition.
    pub report_preset_positions: bool,
    /// Delay before every answer, to simulate a slow camera.
    pub response_delay: Duration,
    /// `false` simulates a fixed camera: no PTZ service is advertised or answered.
    pub ptz: bool,
    /// `false` ignores the `Timeout` of a ContinuousMove, as some ONVIF servers do: the head
    /// keeps moving until a Stop (or an end stop).
    pub honour_move_timeout: bool,
    /// Refuse a bad login with a bare HTTP 401 (no challenge, no body), as servers that only
    /// check WS-Security do, instead of gSOAP's NotAuthorized fault.
    pub bare_401: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            username: "admin".into(),
            password: "admin123".into(),
            realm: "sunba_onvif".into(),
            http_digest: true,
            ws_security: true,
            clock_skew: TimeDelta::zero(),
            max_created_skew: TimeDelta::seconds(300),
            speed: 0.5,
            start_position: PtzVector::default(),
            // The captured GetPresets: one preset, token "0", named "0".
            presets: vec![SimPreset {
                token: "0".into(),
                name: "0".into(),
                position: PtzVector::default(),
            }],
            advertised_host: None,
            report_move_status: true,
            report_preset_positions: false,
            response_delay: Duration::ZERO,
            ptz: true,
            honour_move_timeout: true,
            bare_401: false,
        }
    }
}

/// Request counters, for tests that check how a client talks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub requests: u64,
    /// 401 answers with a Digest challenge.
    pub challenges: u64,
    /// NotAuthorized faults (bad WS-Security token or timestamp).
    pub auth_faults: u64,
    /// Operation names of authenticated, answered requests, in order.
    pub actions: Vec<String>,
}

#[derive(Debug)]
struct Motion {
    position: PtzVector,
    target: Option<PtzVector>,
    /// Units per second per axis while heading for `target`.
    rate: PtzVector,
    velocity: Option<PtzVector>,
    velocity_until: Option<Instant>,
    updated: Instant,
}

fn approach(from: f64, to: f64, step: f64) -> f64 {
    if (to - from).abs() <= step {
        to
    } else {
        from + step * (to - from).signum()
    }
}

impl Motion {
    fn advance(&mut self, now: Instant, full_rate: f64) {
        if let Some(v) = self.velocity {
            let end = self.velocity_until.map_or(now, |u| u.min(now));
            let dt = end.saturating_duration_since(self.updated).as_secs_f64();
            let p = &mut self.position;
            p.pan = (p.pan + v.pan * full_rate * dt).clamp(-1.0, 1.0);
            p.tilt = (p.tilt + v.tilt * full_rate * dt).clamp(-1.0, 1.0);
            p.zoom = (p.zoom + v.zoom * full_rate * dt).clamp(0.0, 1.0);
            if self.velocity_until.is_some_and(|u| now >= u) {
                self.velocity = None;
                self.velocity_until = None;
            }
        }
        if let Some(t) = self.target {
            let dt = now.saturating_duration_since(self.updated).as_secs_f64();
            let p = &mut self.position;
            p.pan = approach(p.pan, t.pan, self.rate.pan * dt);
            p.tilt = approach(p.tilt, t.tilt, self.rate.tilt * dt);
            p.zoom = approach(p.zoom, t.zoom, self.rate.zoom * dt);
            if *p == t {
                self.target = None;
            }
        }
        self.updated = now;
    }

    fn pan_tilt_moving(&self) -> bool {
        self.target
            .is_some_and(|t| t.pan != self.position.pan || t.tilt != self.position.tilt)
            || self.velocity.is_some_and(|v| v.pan != 0.0 || v.tilt != 0.0)
    }

    fn zoom_moving(&self) -> bool {
        self.target.is_some_and(|t| t.zoom != self.position.zoom)
            || self.velocity.is_some_and(|v| v.zoom != 0.0)
    }
}

struct SimState {
    motion: Motion,
    presets: Vec<SimPreset>,
    clock_skew: TimeDelta,
    digest_nonces: HashMap<String, Instant>,
    wsse_nonces: HashMap<Vec<u8>, Instant>,
    stats: SimStats,
}

struct Shared {
    opts: SimOptions,
    xaddr_base: String,
    state: Mutex<SimState>,
}

impl Shared {
    fn new(opts: SimOptions, xaddr_base: String) -> Self {
        Shared {
            xaddr_base,
            state: Mutex::new(SimState {
                motion: Motion {
                    position: opts.start_position,
                    target: None,
                    rate: PtzVector::default(),
                    velocity: None,
                    velocity_until: None,
                    updated: Instant::now(),
                },
                presets: opts.presets.clone(),
                clock_skew: opts.clock_skew,
                digest_nonces: HashMap::new(),
                wsse_nonces: HashMap::new(),
                stats: SimStats::default(),
            }),
            opts,
        }
    }

    fn camera_now(&self, st: &SimState) -> DateTime<Utc> {
        Utc::now() + st.clock_skew
    }

    fn full_rate(&self) -> f64 {
        self.opts.speed / DEFAULT_SPEED
    }
}

/// A running simulated camera. Dropping it stops the server.
pub struct SimCamera {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCamera")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SimCamera {
    pub async fn start(opts: SimOptions) -> std::io::Result<SimCamera> {
        let listener = TcpListener::bind(opts.bind).await?;
        let addr = listener.local_addr()?;
        let advertised = opts
            .advertised_host
            .clone()
            .unwrap_or_else(|| addr.to_string());
        let shared = Arc::new(Shared::new(opts, format!("http://{advertised}")));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "simulated camera stopped");
            }
        });
        Ok(SimCamera {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client configuration that reaches this camera with the right credentials.
    pub fn client_config(&self) -> OnvifConfig {
        OnvifConfig::new(self.addr.ip().to_string(), self.addr.port()).with_credentials(
            self.shared.opts.username.clone(),
            Secret::new(self.shared.opts.password.clone()),
        )
    }

    /// Where the head is now.
    pub fn position(&self) -> PtzVector {
        let mut st = self.shared.state.lock().unwrap();
        st.motion.advance(Instant::now(), self.shared.full_rate());
        st.motion.position
    }

    pub fn is_moving(&self) -> bool {
        let mut st = self.shared.state.lock().unwrap();
        st.motion.advance(Instant::now(), self.shared.full_rate());
        st.motion.pan_tilt_moving() || st.motion.zoom_moving()
    }

    pub fn presets(&self) -> Vec<SimPreset> {
        self.shared.state.lock().unwrap().presets.clone()
    }

    pub fn stats(&self) -> SimStats {
        self.shared.state.lock().unwrap().stats.clone()
    }

    /// Changes the camera's clock, as when someone sets it by hand.
    pub fn set_clock_skew(&self, skew: TimeDelta) {
        self.shared.state.lock().unwrap().clock_skew = skew;
    }

    /// Stops accepting requests and waits (briefly) for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimCamera {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn soap_response(status: StatusCode, body: &str) -> Response {
    let mut r = (status, format!("{ENVELOPE_HEAD}{body}{ENVELOPE_TAIL}")).into_response();
    let h = r.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=utf-8"),
    );
    r
}

/// SOAP 1.2 binding: Sender faults are HTTP 400, Receiver faults 500.
fn fault(code: &str, subcodes: &[&str], reason: &str) -> Response {
    let status = if code.ends_with("Sender") {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    soap_response(status, &fault_body(code, subcodes, reason))
}

fn not_authorized() -> Response {
    fault("s:Sender", &["ter:NotAuthorized"], "Sender not Authorized")
}

/// A refused login, in the style the options ask for.
fn refused(o: &SimOptions) -> Response {
    if o.bare_401 {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut()
            .insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
        return r;
    }
    not_authorized()
}

fn invalid_arg(sub: &str, reason: &str) -> Response {
    fault("s:Sender", &["ter:InvalidArgVal", sub], reason)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.opts.response_delay.is_zero() {
        tokio::time::sleep(shared.opts.response_delay).await;
    }
    shared.state.lock().unwrap().stats.requests += 1;
    if method != Method::POST {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut()
            .insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
        return r;
    }
    let text = String::from_utf8_lossy(&body);
    let envelope = match xml::parse(&text) {
        Ok(e)
            if e.name == "Envelope"
                && matches!(e.ns.as_deref(), Some(SOAP12_NS) | Some(SOAP11_NS)) =>
        {
            e
        }
        _ => return fault("s:Sender", &["ter:WellFormed"], "Well-formed Error"),
    };
    let Some(op) = envelope.child("Body").and_then(Element::first_child) else {
        return fault("s:Sender", &["ter:WellFormed"], "Well-formed Error");
    };
    let action = op.name.clone();

    // ONVIF lets anyone read the clock: clients need it before they can authenticate.
    if action != "GetSystemDateAndTime" {
        if let Err(r) = authenticate(&shared, &envelope, &headers) {
            return *r;
        }
    }
    shared
        .state
        .lock()
        .unwrap()
        .stats
        .actions
        .push(action.clone());
    dispatch(&shared, &action, op)
}

fn authenticate(
    shared: &Shared,
    envelope: &Element,
    headers: &HeaderMap,
) -> Result<(), Box<Response>> {
    let o = &shared.opts;
    let mut st = shared.state.lock().unwrap();
    if o.ws_security {
        if let Some(token) = UsernameToken::from_envelope(envelope) {
            let now = shared.camera_now(&st);
            let fresh = DateTime::parse_from_rfc3339(&token.created)
                .map(|c| (c.with_timezone(&Utc) - now).abs() <= o.max_created_skew)
                .unwrap_or(false);
            let replayed = !token.nonce.is_empty() && st.wsse_nonces.contains_key(&token.nonce);
            if token.username == o.username
                && token.password_matches(&o.password)
                && fresh
                && !replayed
            {
                let cutoff = Instant::now();
                st.wsse_nonces
                    .retain(|_, t| cutoff.duration_since(*t) < Duration::from_secs(600));
                st.wsse_nonces.insert(token.nonce, cutoff);
                return Ok(());
            }
            st.stats.auth_faults += 1;
            return Err(Box::new(refused(o)));
        }
    }
    if !o.http_digest {
        st.stats.auth_faults += 1;
        return Err(Box::new(refused(o)));
    }
    let now = Instant::now();
    st.digest_nonces
        .retain(|_, t| now.duration_since(*t) < DIGEST_NONCE_LIFETIME);
    if let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(nonce) =
            verify_digest_authorization(h, &o.username, &o.password, &o.realm, "POST")
        {
            if st.digest_nonces.contains_key(&nonce) {
                return Ok(());
            }
        }
    }
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    let nonce: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    st.digest_nonces.insert(nonce.clone(), now);
    st.stats.challenges += 1;
    let challenge = format!(
        r#"Digest realm="{}", qop="auth", nonce="{}", opaque="{}""#,
        o.realm, nonce, "5ccc069c403ebaf9f0171e9517f40e41"
    );
    let mut r = soap_response(
        StatusCode::UNAUTHORIZED,
        &fault_body("s:Sender", &["ter:NotAuthorized"], "Sender not Authorized"),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("challenge is ASCII"),
    );
    Err(Box::new(r))
}

/// One optional group of a PTZVector in a request: PanTilt (x, y) and Zoom (x).
struct PartialVector {
    pan_tilt: Option<(f64, f64)>,
    zoom: Option<f64>,
}

/// `None` when a coordinate is missing or not a number.
fn partial_vector(e: Option<&Element>) -> Option<PartialVector> {
    let num = |el: &Element, a: &str| -> Option<f64> {
        el.attr(a)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let Some(e) = e else {
        return Some(PartialVector {
            pan_tilt: None,
            zoom: None,
        });
    };
    let pan_tilt = match e.child("PanTilt") {
        Some(pt) => Some((num(pt, "x")?, num(pt, "y")?)),
        None => None,
    };
    let zoom = match e.child("Zoom") {
        Some(z) => Some(num(z, "x")?),
        None => None,
    };
    Some(PartialVector { pan_tilt, zoom })
}

fn bad_coordinate() -> Response {
    invalid_arg("ter:InvalidPosition", "Invalid coordinate")
}

/// Per-axis rates for a move with an optional Speed element.
fn rates(shared: &Shared, speed: &PartialVector) -> PtzVector {
    let full = shared.full_rate();
    let pick = |s: Option<f64>| match s {
        Some(s) if s > 0.0 => full * s.min(1.0),
        _ => shared.opts.speed,
    };
    PtzVector {
        pan: pick(speed.pan_tilt.map(|p| p.0)),
        tilt: pick(speed.pan_tilt.map(|p| p.1)),
        zoom: pick(speed.zoom),
    }
}

fn in_range(v: PtzVector) -> bool {
    (-1.0..=1.0).contains(&v.pan) && (-1.0..=1.0).contains(&v.tilt) && (0.0..=1.0).contains(&v.zoom)
}

fn empty_response(action: &str) -> Response {
    soap_response(StatusCode::OK, &format!("<tptz:{action}Response />"))
}

fn dispatch(shared: &Shared, action: &str, op: &Element) -> Response {
    match action {
        "GetSystemDateAndTime" => {
            let st = shared.state.lock().unwrap();
            soap_response(
                StatusCode::OK,
                &system_date_and_time(shared.camera_now(&st)),
            )
        }
        "GetCapabilities" => soap_response(StatusCode::OK, &capabilities(shared)),
        "GetServices" => soap_response(StatusCode::OK, &services(shared)),
        "GetProfiles" => soap_response(StatusCode::OK, &profiles(shared)),
        "GetNodes" | "GetNode" | "GetConfigurations" if !shared.opts.ptz => fault(
            "s:Receiver",
            &["ter:ActionNotSupported"],
            "Optional Action Not Implemented",
        ),
        "GetNodes" => soap_response(
            StatusCode::OK,
            &format!(
                "<tptz:GetNodesResponse>{}</tptz:GetNodesResponse>",
                node("tptz:PTZNode")
            ),
        ),
        "GetNode" => soap_response(
            StatusCode::OK,
            &format!(
                "<tptz:GetNodeResponse>{}</tptz:GetNodeResponse>",
                node("tptz:PTZNode")
            ),
        ),
        "GetConfigurations" => soap_response(
            StatusCode::OK,
            &format!(
                "<tptz:GetConfigurationsResponse>{}</tptz:GetConfigurationsResponse>",
                ptz_configuration()
            ),
        ),
        _ => ptz_dispatch(shared, action, op),
    }
}

fn ptz_dispatch(shared: &Shared, action: &str, op: &Element) -> Response {
    let profile = op.child_text("ProfileToken").unwrap_or_default();
    let known_ptz_action = matches!(
        action,
        "GetPresets"
            | "GotoPreset"
            | "SetPreset"
            | "RemovePreset"
            | "AbsoluteMove"
            | "RelativeMove"
            | "ContinuousMove"
            | "Stop"
            | "GetStatus"
            | "GotoHomePosition"
    );
    if !known_ptz_action || !shared.opts.ptz {
        return fault(
            "s:Receiver",
            &["ter:ActionNotSupported"],
            "Optional Action Not Implemented",
        );
    }
    if !PROFILE_TOKENS.contains(&profile) {
        return invalid_arg(
            "ter:NoProfile",
            "The requested profile token does not exist",
        );
    }
    let full_rate = shared.full_rate();
    let mut st = shared.state.lock().unwrap();
    let now = Instant::now();
    st.motion.advance(now, full_rate);

    match action {
        "GetPresets" => {
            let mut body = String::from("<tptz:GetPresetsResponse>");
            for p in &st.presets {
                body.push_str(&format!(
                    r#"<tptz:Preset token="{}"><tt:Name>{}</tt:Name>"#,
                    escape(&p.token),
                    escape(&p.name)
                ));
                if shared.opts.report_preset_positions {
                    body.push_str(&format!(
                        "<tt:PTZPosition>{}</tt:PTZPosition>",
                        position_xml(p.position)
                    ));
                }
                body.push_str("</tptz:Preset>");
            }
            body.push_str("</tptz:GetPresetsResponse>");
            soap_response(StatusCode::OK, &body)
        }
        "GotoPreset" | "GotoHomePosition" => {
            let target = if action == "GotoHomePosition" {
                Some(PtzVector::default())
            } else {
                let token = op.child_text("PresetToken").unwrap_or_default();
                st.presets
                    .iter()
                    .find(|p| p.token == token)
                    .map(|p| p.position)
            };
            let Some(target) = target else {
                return invalid_arg("ter:NoToken", "The requested preset token does not exist");
            };
            let speed = match partial_vector(op.child("Speed")) {
                Some(s) => s,
                None => return bad_coordinate(),
            };
            st.motion.rate = rates(shared, &speed);
            st.motion.velocity = None;
            st.motion.target = Some(target);
            empty_response(action)
        }
        "SetPreset" => {
            let name = op.child_text("PresetName").map(str::to_string);
            let requested = op.child_text("PresetToken").filter(|t| !t.is_empty());
            let position = st.motion.position;
            if let Some(n) = &name {
                if st
                    .presets
                    .iter()
                    .any(|p| &p.name == n && Some(p.token.as_str()) != requested)
                {
                    return invalid_arg("ter:PresetExist", "The requested name already exists");
                }
            }
            let token = match requested {
                Some(t) => {
                    let Some(p) = st.presets.iter_mut().find(|p| p.token == t) else {
                        return invalid_arg(
                            "ter:NoToken",
                            "The requested preset token does not exist",
                        );
                    };
                    p.position = position;
                    if let Some(n) = name {
                        p.name = n;
                    }
                    t.to_string()
                }
                None => {
                    if st.presets.len() >= 255 {
                        return fault(
                            "s:Receiver",
                            &["ter:Action", "ter:TooManyPresets"],
                            "Maximum number of presets reached",
                        );
                    }
                    let token = (0u32..)
                        .map(|i| i.to_string())
                        .find(|t| !st.presets.iter().any(|p| &p.token == t))
                        .expect("an unused token exists");
                    st.presets.push(SimPreset {
                        name: name.unwrap_or_else(|| token.clone()),
                        token: token.clone(),
                        position,
                    });
                    token
                }
            };
            soap_response(
                StatusCode::OK,
                &format!(
                    "<tptz:SetPresetResponse><tptz:PresetToken>{}</tptz:PresetToken></tptz:SetPresetResponse>",
                    escape(&token)
                ),
            )
        }
        "RemovePreset" => {
            let token = op.child_text("PresetToken").unwrap_or_default();
            let before = st.presets.len();
            st.presets.retain(|p| p.token != token);
            if st.presets.len() == before {
                return invalid_arg("ter:NoToken", "The requested preset token does not exist");
            }
            empty_response(action)
        }
        "AbsoluteMove" | "RelativeMove" => {
            let field = if action == "AbsoluteMove" {
                "Position"
            } else {
                "Translation"
            };
            let (v, speed) = match (
                partial_vector(op.child(field)),
                partial_vector(op.child("Speed")),
            ) {
                (Some(v), Some(s)) => (v, s),
                _ => return bad_coordinate(),
            };
            let cur = st.motion.position;
            let target = if action == "AbsoluteMove" {
                PtzVector {
                    pan: v.pan_tilt.map_or(cur.pan, |p| p.0),
                    tilt: v.pan_tilt.map_or(cur.tilt, |p| p.1),
                    zoom: v.zoom.unwrap_or(cur.zoom),
                }
            } else {
                // TranslationGenericSpace spans −1..1 on every axis; beyond it is a fault, as
                // the ONVIF PTZ specification has it (ter:InvalidTranslation).
                let (dp, dt) = v.pan_tilt.unwrap_or((0.0, 0.0));
                if ![dp, dt, v.zoom.unwrap_or(0.0)]
                    .iter()
                    .all(|c| (-1.0..=1.0).contains(c))
                {
                    return invalid_arg("ter:InvalidTranslation", "Invalid translation");
                }
                // Relative moves are clamped at the end stops, as a real head stops there.
                PtzVector {
                    pan: (cur.pan + dp).clamp(-1.0, 1.0),
                    tilt: (cur.tilt + dt).clamp(-1.0, 1.0),
                    zoom: (cur.zoom + v.zoom.unwrap_or(0.0)).clamp(0.0, 1.0),
                }
            };
            if !in_range(target) {
                return invalid_arg("ter:InvalidPosition", "Invalid position");
            }
            st.motion.rate = rates(shared, &speed);
            st.motion.velocity = None;
            st.motion.target = Some(target);
            empty_response(action)
        }
        "ContinuousMove" => {
            let v = match partial_vector(op.child("Velocity")) {
                Some(v) => v,
                None => return bad_coordinate(),
            };
            let (vp, vt) = v.pan_tilt.unwrap_or((0.0, 0.0));
            let velocity = PtzVector::new(vp, vt, v.zoom.unwrap_or(0.0));
            if ![velocity.pan, velocity.tilt, velocity.zoom]
                .iter()
                .all(|c| (-1.0..=1.0).contains(c))
            {
                return invalid_arg("ter:InvalidVelocity", "Invalid velocity");
            }
            // DefaultPTZTimeout of the captured configuration.
            let timeout = op
                .child_text("Timeout")
                .and_then(parse_duration)
                .unwrap_or(Duration::from_secs(5));
            st.motion.target = None;
            st.motion.velocity = Some(velocity);
            st.motion.velocity_until = shared.opts.honour_move_timeout.then(|| now + timeout);
            empty_response(action)
        }
        "Stop" => {
            let pan_tilt = op.child_text("PanTilt").is_none_or(|t| t == "true");
            let zoom = op.child_text("Zoom").is_none_or(|t| t == "true");
            let m = &mut st.motion;
            if let Some(t) = m.target.as_mut() {
                if pan_tilt {
                    t.pan = m.position.pan;
                    t.tilt = m.position.tilt;
                }
                if zoom {
                    t.zoom = m.position.zoom;
                }
            }
            if let Some(v) = m.velocity.as_mut() {
                if pan_tilt {
                    v.pan = 0.0;
                    v.tilt = 0.0;
                }
                if zoom {
                    v.zoom = 0.0;
                }
            }
            m.advance(now, full_rate);
            empty_response(action)
        }
        "GetStatus" => {
            let m = &st.motion;
            let mut body = format!(
                "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>{}</tt:Position>",
                position_xml(m.position)
            );
            if shared.opts.report_move_status {
                let s = |moving: bool| {
                    if moving {
                        MoveStatus::Moving
                    } else {
                        MoveStatus::Idle
                    }
                    .as_onvif()
                };
                body.push_str(&format!(
                    "<tt:MoveStatus><tt:PanTilt>{}</tt:PanTilt><tt:Zoom>{}</tt:Zoom></tt:MoveStatus>",
                    s(m.pan_tilt_moving()),
                    s(m.zoom_moving())
                ));
            }
            body.push_str(&format!(
                "<tt:UtcTime>{}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>",
                shared
                    .camera_now(&st)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            soap_response(StatusCode::OK, &body)
        }
        _ => unreachable!("filtered by known_ptz_action"),
    }
}

fn position_xml(p: PtzVector) -> String {
    format!(
        concat!(
            r#"<tt:PanTilt x="{}" y="{}" space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace" />"#,
            r#"<tt:Zoom x="{}" space="http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace" />"#
        ),
        fmt_num(p.pan),
        fmt_num(p.tilt),
        fmt_num(p.zoom)
    )
}

fn system_date_and_time(now: DateTime<Utc>) -> String {
    let dt = format!(
        concat!(
            "<tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>",
            "<tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>"
        ),
        now.hour(),
        now.minute(),
        now.second(),
        now.year(),
        now.month(),
        now.day()
    );
    format!(
        concat!(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>",
            "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>",
            "<tt:TimeZone><tt:TZ>GMT+00:00</tt:TZ></tt:TimeZone>",
            "<tt:UTCDateTime>{dt}</tt:UTCDateTime><tt:LocalDateTime>{dt}</tt:LocalDateTime>",
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        ),
        dt = dt
    )
}

fn profiles(shared: &Shared) -> String {
    if shared.opts.ptz {
        return PROFILES_BODY.to_string();
    }
    let (open, close) = ("<tt:PTZConfiguration ", "</tt:PTZConfiguration>");
    let mut out = String::with_capacity(PROFILES_BODY.len());
    let mut rest = PROFILES_BODY;
    while let (Some(a), Some(b)) = (rest.find(open), rest.find(close)) {
        out.push_str(&rest[..a]);
        rest = &rest[b + close.len()..];
    }
    out.push_str(rest);
    out
}

fn capabilities(shared: &Shared) -> String {
    let body = CAPABILITIES_BODY.replace("{{XADDR_BASE}}", &shared.xaddr_base);
    if shared.opts.ptz {
        return body;
    }
    match (body.find("<tt:PTZ>"), body.find("</tt:PTZ>")) {
        (Some(a), Some(b)) => format!("{}{}", &body[..a], &body[b + "</tt:PTZ>".len()..]),
        _ => body,
    }
}

fn services(shared: &Shared) -> String {
    let base = shared.xaddr_base.as_str();
    let svc = |ns: &str, path: &str, major: u32, minor: u32| {
        format!(
            concat!(
                "<tds:Service><tds:Namespace>{}</tds:Namespace><tds:XAddr>{}/onvif/{}</tds:XAddr>",
                "<tds:Version><tt:Major>{}</tt:Major><tt:Minor>{}</tt:Minor></tds:Version></tds:Service>"
            ),
            ns, base, path, major, minor
        )
    };
    let ptz = if shared.opts.ptz {
        svc("http://www.onvif.org/ver20/ptz/wsdl", "ptz_service", 21, 6)
    } else {
        String::new()
    };
    format!(
        "<tds:GetServicesResponse>{}{}{}{}{}</tds:GetServicesResponse>",
        svc(
            "http://www.onvif.org/ver10/device/wsdl",
            "device_service",
            21,
            6
        ),
        svc(
            "http://www.onvif.org/ver10/media/wsdl",
            "media_service",
            21,
            6
        ),
        svc(
            "http://www.onvif.org/ver10/events/wsdl",
            "event_service",
            21,
            6
        ),
        svc(
            "http://www.onvif.org/ver20/imaging/wsdl",
            "image_service",
            21,
            6
        ),
        ptz,
    )
}

fn node(tag: &str) -> String {
    format!(
        concat!(
            r#"<{tag} token="NODE_000" FixedHomePosition="false" GeoMove="false"><tt:Name>PTZNode</tt:Name>"#,
            "<tt:SupportedPTZSpaces>",
            "<tt:AbsolutePanTiltPositionSpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace</tt:URI>",
            "<tt:XRange><tt:Min>-1.0</tt:Min><tt:Max>1.0</tt:Max></tt:XRange><tt:YRange><tt:Min>-1.0</tt:Min><tt:Max>1.0</tt:Max></tt:YRange></tt:AbsolutePanTiltPositionSpace>",
            "<tt:AbsoluteZoomPositionSpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace</tt:URI>",
            "<tt:XRange><tt:Min>0.0</tt:Min><tt:Max>1.0</tt:Max></tt:XRange></tt:AbsoluteZoomPositionSpace>",
            "<tt:RelativePanTiltTranslationSpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace</tt:URI>",
            "<tt:XRange><tt:Min>-1.0</tt:Min><tt:Max>1.0</tt:Max></tt:XRange><tt:YRange><tt:Min>-1.0</tt:Min><tt:Max>1.0</tt:Max></tt:YRange></tt:RelativePanTiltTranslationSpace>",
            "<tt:RelativeZoomTranslationSpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace</tt:URI>",
            "<tt:XRange><tt:Min>-1.0</tt:Min><tt:Max>1.0</tt:Max></tt:XRange></tt:RelativeZoomTranslationSpace>",
            "</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>255</tt:MaximumNumberOfPresets>",
            "<tt:HomeSupported>true</tt:HomeSupported></{tag}>"
        ),
        tag = tag
    )
}

/// The PTZConfiguration of the captured profiles, renamed into the PTZ service's namespace.
fn ptz_configuration() -> String {
    let start = PROFILES_BODY
        .find("<tt:PTZConfiguration ")
        .expect("captured profiles have a PTZConfiguration");
    let end_tag = "</tt:PTZConfiguration>";
    let end = PROFILES_BODY[start..]
        .find(end_tag)
        .expect("PTZConfiguration is closed")
        + start
        + end_tag.len();
    let c = &PROFILES_BODY[start..end];
    format!(
        "<tptz:PTZConfiguration {}</tptz:PTZConfiguration>",
        &c["<tt:PTZConfiguration ".len()..c.len() - end_tag.len()]
    )
}

#[cfg(test)]
mod tests;
