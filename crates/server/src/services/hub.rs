//! The appliance's camera hub: one session per enabled camera (`vs_engine::hub`), kept in step
//! with the camera table, read by every camera consumer (programs, previews, copy streams,
//! snapshots, health); and what it shows: the camera page's session view, health
//! verdicts taken from the packets, and per-camera `/metrics`.
//!
//! The session holds the camera's only connection. Its login is opened from the sealed columns
//! into memory and handed to the session (the RTSP client, or an FFmpeg pull's stdin), never to
//! a command line or an environment.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Result, Secret, SecretBox, StreamUrl};
use vs_db::cameras::CameraRow;
use vs_db::Db;
use vs_engine::ffmpeg::probe::{classify, ProbeErrorKind};
use vs_engine::hub::{
    CameraHub, CameraSession, ConsumerKind, HubOptions, SessionState, SessionStats, SourceConfig,
};
use vs_engine::{BackoffPolicy, Deps, Spawner};
use vs_timeline::credentials::CredentialPlacement;

use super::cameras::{placement_of, CameraChange, CameraListener};
use super::health::ConnectionTest;
use super::{Events, Infra};
use crate::config::Config;

/// A session's state as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStateView {
    /// Opening the connection and waiting for the first keyframe.
    Connecting,
    /// Packets are flowing.
    Playing,
    /// The last connection failed or stalled; waiting before the next attempt.
    Backoff,
    /// No session: the camera is disabled (or the appliance is stopping).
    Stopped,
}

impl From<SessionState> for SessionStateView {
    fn from(s: SessionState) -> Self {
        match s {
            SessionState::Connecting => SessionStateView::Connecting,
            SessionState::Playing => SessionStateView::Playing,
            SessionState::Backoff => SessionStateView::Backoff,
            SessionState::Stopped => SessionStateView::Stopped,
        }
    }
}

/// Who reads a camera's session now, by kind.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SessionConsumers {
    /// Programs decoding the camera.
    pub program: usize,
    /// Shared preview remuxes (one per camera, whatever the number of viewers).
    pub preview: usize,
    /// Copy streams' outputs (one per destination).
    pub copy: usize,
    /// Snapshots being taken.
    pub snapshot: usize,
    pub other: usize,
}

/// `GET /api/cameras/{id}/session`: the camera's one connection and who reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CameraSessionView {
    pub camera_id: i64,
    pub state: SessionStateView,
    /// When the session entered its current state (RFC 3339).
    pub since: Option<String>,
    /// Seconds the current connection has been playing; 0 when it is not.
    pub uptime_s: f64,
    /// `rtsp` (read in-process) or `ffmpeg` (one pull process: RTSPS, RTMP, SRT).
    pub transport: Option<String>,
    /// Video and audio payload over the last few seconds.
    pub bitrate_bps: u64,
    /// Video frames per second over the last few seconds.
    pub fps: f64,
    /// Seconds between the last two keyframes.
    pub gop_seconds: Option<f64>,
    /// Frames between the last two keyframes.
    pub gop_frames: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// RFC 6381 codec string, e.g. `avc1.42c01e`.
    pub video_codec: Option<String>,
    /// e.g. `mp4a.40.2`, `pcmu`; absent without audio.
    pub audio_codec: Option<String>,
    /// Access units received since the session started.
    pub packets_received: u64,
    /// RTP packets lost (sequence gaps) since the session started.
    pub packets_lost: u64,
    /// Connections opened after the first one.
    pub reconnects: u64,
    /// Camera clock jumps absorbed (consumers never see them).
    pub clock_jumps: u64,
    /// Connection attempts in a row that failed before playing.
    pub failed_attempts: u32,
    /// Why the last connection failed; never holds a credential.
    pub last_error: Option<String>,
    /// Milliseconds since the last packet.
    pub last_packet_age_ms: Option<u64>,
    pub consumers: SessionConsumers,
}

impl CameraSessionView {
    fn stopped(camera_id: i64) -> Self {
        CameraSessionView {
            camera_id,
            state: SessionStateView::Stopped,
            since: None,
            uptime_s: 0.0,
            transport: None,
            bitrate_bps: 0,
            fps: 0.0,
            gop_seconds: None,
            gop_frames: None,
            width: None,
            height: None,
            video_codec: None,
            audio_codec: None,
            packets_received: 0,
            packets_lost: 0,
            reconnects: 0,
            clock_jumps: 0,
            failed_attempts: 0,
            last_error: None,
            last_packet_age_ms: None,
            consumers: SessionConsumers::default(),
        }
    }

    fn of(camera_id: i64, s: SessionStats) -> Self {
        let count = |k| s.consumers.get(&k).copied().unwrap_or(0);
        CameraSessionView {
            camera_id,
            state: s.state.into(),
            since: Some(
                chrono::DateTime::<chrono::Utc>::from(s.since)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            uptime_s: round2(s.uptime.as_secs_f64()),
            transport: (!s.transport.is_empty()).then(|| s.transport.to_string()),
            bitrate_bps: s.bitrate_bps,
            fps: round2(s.fps),
            gop_seconds: s.gop_seconds.map(round2),
            gop_frames: s.gop_frames,
            width: s.width,
            height: s.height,
            video_codec: s.video_codec,
            audio_codec: s.audio_codec,
            packets_received: s.packets_received,
            packets_lost: s.packets_lost,
            reconnects: s.reconnects,
            clock_jumps: s.clock_jumps,
            failed_attempts: s.failed_attempts,
            last_error: s.last_error,
            last_packet_age_ms: s.last_packet_age.map(|d| d.as_millis() as u64),
            consumers: SessionConsumers {
                program: count(ConsumerKind::Program),
                preview: count(ConsumerKind::Preview),
                copy: count(ConsumerKind::Copy),
                snapshot: count(ConsumerKind::Snapshot),
                other: count(ConsumerKind::Other),
            },
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// What a camera's session says about its health.
#[derive(Debug, Clone)]
pub enum SessionCheck {
    /// The camera has no session (disabled, or not configured yet): probe it.
    NoSession,
    /// The session has not decided yet (connecting for the first time, or reconnecting after a
    /// connection that played broke): keep what is known.
    Pending,
    /// Playing (reachable, with what its packets measure) or failing (with why).
    Verdict(ConnectionTest),
}

/// How often every session is pushed to browsers without a change of state.
const SESSION_PUSH: Duration = Duration::from_secs(2);

/// A measured frame rate is trusted once the connection has played this long (the meter's
/// window fills; before that one slow first second would read as "low frame rate").
const FPS_SETTLE: Duration = Duration::from_secs(3);

/// The error kind of a session's last error, in the words health and snapshots use.
pub fn error_kind(last_error: &str) -> ProbeErrorKind {
    let t = last_error.to_ascii_lowercase();
    if t.starts_with("stalled") || t.starts_with("no answer within") {
        ProbeErrorKind::Timeout
    } else {
        classify(last_error)
    }
}

/// The verdict on a session's stats, if it has one (see [`SessionCheck`]).
pub fn verdict(stats: &SessionStats, sps_fps: Option<f64>) -> Option<ConnectionTest> {
    match stats.state {
        SessionState::Playing => {
            let fps = if stats.uptime >= FPS_SETTLE && stats.fps > 0.0 {
                Some(round2(stats.fps))
            } else {
                sps_fps.map(round2)
            };
            let has_audio = stats.audio_codec.is_some();
            let mut message = format!(
                "H264 {}x{}",
                stats.width.unwrap_or(0),
                stats.height.unwrap_or(0)
            );
            if let Some(f) = fps {
                message.push_str(&format!(" at {f} fps"));
            }
            message.push_str(if has_audio {
                ", with audio"
            } else {
                ", no audio"
            });
            message.push_str(" (receiving packets)");
            Some(ConnectionTest {
                reachable: true,
                codec: Some("h264".into()),
                width: stats.width.map(i64::from),
                height: stats.height.map(i64::from),
                fps,
                has_audio: Some(has_audio),
                error_kind: None,
                message,
                elapsed_ms: 0,
            })
        }
        SessionState::Connecting | SessionState::Backoff if stats.failed_attempts > 0 => {
            let error = stats.last_error.clone().unwrap_or_default();
            let kind = error_kind(&error);
            let message = match kind {
                // The session's own words say more than the generic sentence ("offers no
                // H.264 video (offered: h265); set it to H.264").
                ProbeErrorKind::Protocol if !error.is_empty() => {
                    format!("{}: {error}", kind.explain())
                }
                _ => kind.explain().to_string(),
            };
            Some(ConnectionTest {
                reachable: false,
                codec: None,
                width: None,
                height: None,
                fps: None,
                has_audio: None,
                error_kind: Some(kind),
                message,
                elapsed_ms: 0,
            })
        }
        _ => None,
    }
}

/// The session settings of a stored camera: the address without credentials, the login opened
/// from its sealed column (in memory only), where the camera reads it, and `enabled`.
pub fn source_config(secrets: &SecretBox, row: &CameraRow) -> Result<SourceConfig> {
    let parsed = StreamUrl::parse(&row.address, "address")?;
    let mut cfg = SourceConfig::new(parsed.url).enabled(row.enabled);
    let password = row
        .password_enc
        .as_deref()
        .map(|p| secrets.open(p))
        .transpose()?;
    if row.username.is_some() || password.is_some() {
        cfg = cfg.credentials(
            row.username.clone().unwrap_or_default(),
            password.unwrap_or_else(|| Secret::new("")),
        );
    }
    if let CredentialPlacement::Query {
        user_param,
        password_param,
    } = placement_of(row.credential_query.as_deref())
    {
        cfg = cfg.credential_query(user_param, password_param);
    }
    Ok(cfg)
}

fn kind_name(k: ConsumerKind) -> &'static str {
    match k {
        ConsumerKind::Program => "program",
        ConsumerKind::Preview => "preview",
        ConsumerKind::Copy => "copy",
        ConsumerKind::Snapshot => "snapshot",
        ConsumerKind::Other => "other",
    }
}

/// One session per enabled camera, in step with the camera table.
pub struct HubService {
    db: Db,
    secrets: SecretBox,
    events: Events,
    hub: CameraHub,
    engine: Deps,
    tasks: TaskTracker,
    /// One reconciliation at a time; each reads the camera's current row, so the last one
    /// leaves the session as the table says whatever order they ran in.
    sync_lock: Arc<tokio::sync::Mutex<()>>,
    /// Cameras whose gauges `/metrics` has shown, to zero those whose session went away.
    exported: Mutex<BTreeSet<i64>>,
}

impl CameraListener for HubService {
    fn camera_changed(&self, id: i64, change: CameraChange) {
        match change {
            CameraChange::Updated { connection: false } => {}
            CameraChange::Added | CameraChange::Updated { connection: true } => {
                let (db, secrets, hub, lock) = (
                    self.db.clone(),
                    self.secrets.clone(),
                    self.hub.clone(),
                    self.sync_lock.clone(),
                );
                self.tasks
                    .spawn(async move { sync(&db, &secrets, &hub, &lock, id).await });
            }
            CameraChange::Deleted => {
                let (hub, lock) = (self.hub.clone(), self.sync_lock.clone());
                self.tasks.spawn(async move {
                    let _guard = lock.lock().await;
                    hub.remove(id).await;
                });
            }
        }
    }
}

/// Makes camera `id`'s session match its row (started, reconnected with new settings,
/// stopped when disabled or deleted).
async fn sync(
    db: &Db,
    secrets: &SecretBox,
    hub: &CameraHub,
    lock: &tokio::sync::Mutex<()>,
    id: i64,
) {
    let _guard = lock.lock().await;
    match db.camera(id).await {
        Ok(row) => match source_config(secrets, &row) {
            Ok(cfg) => {
                if let Err(e) = hub.configure(id, cfg).await {
                    tracing::warn!(camera = id, error = %e, "camera session not configured");
                    hub.remove(id).await;
                }
            }
            Err(e) => {
                tracing::warn!(camera = id, error = %e, "camera settings unreadable; no session");
                hub.remove(id).await;
            }
        },
        Err(e) if e.kind == ErrorKind::NotFound => hub.remove(id).await,
        Err(e) => tracing::warn!(camera = id, error = %e, "camera session not updated"),
    }
}

/// The hub's timings: the configured stall bound (as for FFmpeg children), and a short
/// backoff cap so a camera that comes back is found within seconds.
fn options(config: &Config) -> HubOptions {
    let d = HubOptions::default();
    HubOptions {
        stall_timeout: Duration::from_secs(config.stall_timeout_s.max(1)),
        backoff: BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            ..d.backoff
        },
        ffmpeg: config.ffmpeg.clone(),
        ..d
    }
}

impl HubService {
    /// The hub, with no session yet ([`Self::boot`] starts them). `engine` spawns the FFmpeg
    /// pulls of RTSPS/RTMP/SRT cameras and the snapshot decoders.
    pub fn new(infra: &Infra, engine: Deps) -> Self {
        let hub = CameraHub::new(
            options(&infra.config),
            engine.clone(),
            infra.shutdown.child_token(),
        );
        HubService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            events: infra.events.clone(),
            hub,
            engine,
            tasks: infra.tasks.clone(),
            sync_lock: Default::default(),
            exported: Default::default(),
        }
    }

    /// Starts a session for every enabled camera and the task that pushes them to browsers;
    /// stops them all at shutdown.
    pub async fn boot(
        self: &Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<()> {
        for row in self.db.list_cameras().await? {
            if row.enabled {
                sync(&self.db, &self.secrets, &self.hub, &self.sync_lock, row.id).await;
            }
        }
        self.tasks
            .spawn(self.clone().push_sessions(shutdown.clone()));
        let hub = self.hub.clone();
        self.tasks.spawn(async move {
            shutdown.cancelled().await;
            hub.shutdown().await;
        });
        Ok(())
    }

    /// Publishes every session as `camera_session` (a [`CameraSessionView`]) when one changes
    /// state (debounced) and every `SESSION_PUSH`, so the camera page needs no poll.
    async fn push_sessions(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(SESSION_PUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let sessions: Vec<CameraSession> = self
                .hub
                .camera_ids()
                .into_iter()
                .filter_map(|id| self.hub.session(id))
                .collect();
            let mut states: Vec<_> = sessions.iter().map(|s| s.watch_state()).collect();
            let changed = async {
                if states.is_empty() {
                    std::future::pending::<()>().await;
                }
                let _ =
                    futures::future::select_all(states.iter_mut().map(|w| Box::pin(w.changed())))
                        .await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                _ = changed => tick.reset(),
            }
            for s in sessions {
                let view = CameraSessionView::of(s.camera_id(), s.stats());
                if let Ok(data) = serde_json::to_value(view) {
                    self.events.publish("camera_session", data);
                }
            }
        }
    }

    pub fn hub(&self) -> &CameraHub {
        &self.hub
    }

    /// How the snapshot decoders are spawned (the appliance's, or a test's).
    pub fn spawner(&self) -> &dyn Spawner {
        self.engine.spawner.as_ref()
    }

    /// The camera's session, if it has one now.
    pub fn session(&self, camera_id: i64) -> Option<CameraSession> {
        self.hub.session(camera_id)
    }

    /// The camera's session; a camera whose change is still being applied gets it now. A
    /// disabled camera has none (`InvalidState`), an unknown one is `NotFound`.
    pub async fn session_for(&self, camera_id: i64) -> Result<CameraSession> {
        if let Some(s) = self.hub.session(camera_id) {
            return Ok(s);
        }
        sync(
            &self.db,
            &self.secrets,
            &self.hub,
            &self.sync_lock,
            camera_id,
        )
        .await;
        let row = self.db.camera(camera_id).await?;
        if !row.enabled {
            return Err(Error::invalid_state(
                "the camera is disabled; enable it first",
            ));
        }
        self.hub
            .session(camera_id)
            .ok_or_else(|| Error::new(ErrorKind::Unavailable, "the camera has no session"))
    }

    /// What the camera's session says about its health now.
    pub fn check(&self, camera_id: i64) -> SessionCheck {
        let Some(session) = self.hub.session(camera_id) else {
            return SessionCheck::NoSession;
        };
        check_session(&session)
    }

    /// Waits (up to `within`) until the session has a verdict: a manual test or a snapshot of
    /// a camera that is still connecting.
    pub async fn wait_verdict(&self, session: &CameraSession, within: Duration) -> SessionCheck {
        let deadline = tokio::time::Instant::now() + within;
        let mut state = session.watch_state();
        loop {
            let check = check_session(session);
            if !matches!(check, SessionCheck::Pending) {
                return check;
            }
            if tokio::time::timeout_at(deadline, state.changed())
                .await
                .map_or(true, |r| r.is_err())
            {
                return check_session(session);
            }
        }
    }

    /// `GET /api/cameras/{id}/session`.
    pub async fn view(&self, camera_id: i64) -> Result<CameraSessionView> {
        self.db.camera(camera_id).await?;
        Ok(match self.hub.session(camera_id) {
            Some(s) => CameraSessionView::of(camera_id, s.stats()),
            None => CameraSessionView::stopped(camera_id),
        })
    }

    /// Sets the per-camera session gauges and counters, just before `/metrics` renders.
    pub fn export_metrics(&self) {
        let stats = self.hub.stats();
        let mut exported = self.exported.lock().expect("metrics lock");
        for (id, s) in &stats {
            let id = id.to_string();
            let up = if s.state == SessionState::Playing {
                1.0
            } else {
                0.0
            };
            metrics::gauge!("vistterstream_camera_session_up", "camera_id" => id.clone()).set(up);
            metrics::gauge!("vistterstream_camera_session_bitrate_bps", "camera_id" => id.clone())
                .set(s.bitrate_bps as f64);
            metrics::gauge!("vistterstream_camera_session_fps", "camera_id" => id.clone())
                .set(s.fps);
            metrics::counter!("vistterstream_camera_session_reconnects_total", "camera_id" => id.clone())
                .absolute(s.reconnects);
            metrics::counter!("vistterstream_camera_session_packets_lost_total", "camera_id" => id.clone())
                .absolute(s.packets_lost);
            for kind in ConsumerKind::ALL {
                let n = s.consumers.get(&kind).copied().unwrap_or(0);
                metrics::gauge!("vistterstream_camera_session_consumers", "camera_id" => id.clone(), "kind" => kind_name(kind))
                    .set(n as f64);
            }
        }
        let now: BTreeSet<i64> = stats.keys().copied().collect();
        for gone in exported.difference(&now) {
            let id = gone.to_string();
            metrics::gauge!("vistterstream_camera_session_up", "camera_id" => id.clone()).set(0.0);
            metrics::gauge!("vistterstream_camera_session_bitrate_bps", "camera_id" => id.clone())
                .set(0.0);
            metrics::gauge!("vistterstream_camera_session_fps", "camera_id" => id.clone()).set(0.0);
            for kind in ConsumerKind::ALL {
                metrics::gauge!("vistterstream_camera_session_consumers", "camera_id" => id.clone(), "kind" => kind_name(kind))
                    .set(0.0);
            }
        }
        *exported = now;
    }
}

fn check_session(session: &CameraSession) -> SessionCheck {
    let stats = session.stats();
    let sps_fps = session.info().and_then(|i| i.video.fps);
    match verdict(&stats, sps_fps) {
        Some(t) => SessionCheck::Verdict(t),
        None => SessionCheck::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    fn stats(state: SessionState, failed: u32, error: Option<&str>) -> SessionStats {
        SessionStats {
            state,
            since: SystemTime::now(),
            uptime: Duration::from_secs(10),
            transport: "rtsp",
            pid: None,
            bitrate_bps: 1_000_000,
            fps: 14.9,
            gop_seconds: Some(1.0),
            gop_frames: Some(15),
            width: Some(640),
            height: Some(360),
            video_codec: Some("avc1.42c01e".into()),
            audio_codec: Some("mp4a.40.2".into()),
            packets_lost: 0,
            packets_received: 100,
            reconnects: 0,
            clock_jumps: 0,
            last_error: error.map(str::to_string),
            failed_attempts: failed,
            last_packet_age: None,
            consumers: BTreeMap::new(),
        }
    }

    #[test]
    fn a_playing_session_is_reachable_with_what_its_packets_measure() {
        let t = verdict(&stats(SessionState::Playing, 0, None), Some(15.0)).unwrap();
        assert!(t.reachable);
        assert_eq!(t.codec.as_deref(), Some("h264"));
        assert_eq!((t.width, t.height), (Some(640), Some(360)));
        assert_eq!(t.fps, Some(14.9));
        assert_eq!(t.has_audio, Some(true));
        // Just started: the frame rate of the SPS, not a meter that is still filling.
        let mut young = stats(SessionState::Playing, 0, None);
        young.uptime = Duration::from_millis(500);
        young.fps = 2.0;
        assert_eq!(verdict(&young, Some(15.0)).unwrap().fps, Some(15.0));
    }

    #[test]
    fn failures_map_onto_the_probe_kinds_and_a_broken_connection_waits_for_the_retry() {
        let cases = [
            (
                "RTSP DESCRIBE failed: 401 Unauthorized",
                ProbeErrorKind::AuthFailed,
            ),
            (
                "Unable to connect to RTSP server: Connection refused (os error 111)",
                ProbeErrorKind::Unreachable,
            ),
            ("DESCRIBE returned 404 Not Found", ProbeErrorKind::NotFound),
            ("no answer within 10s", ProbeErrorKind::Timeout),
            ("stalled: no packets for 5s", ProbeErrorKind::Timeout),
            (
                "the camera offers no H.264 video (offered: h265); set it to H.264",
                ProbeErrorKind::Protocol,
            ),
        ];
        for (error, kind) in cases {
            let t = verdict(&stats(SessionState::Backoff, 1, Some(error)), None).unwrap();
            assert!(!t.reachable);
            assert_eq!(t.error_kind, Some(kind), "{error}");
        }
        let t = verdict(&stats(SessionState::Backoff, 2, Some(cases[5].0)), None).unwrap();
        assert!(t.message.contains("set it to H.264"), "{}", t.message);
        // Lost after playing: no verdict until the next attempt.
        assert!(verdict(
            &stats(SessionState::Backoff, 0, Some("connection lost")),
            None
        )
        .is_none());
        assert!(verdict(&stats(SessionState::Connecting, 0, None), None).is_none());
    }
}
