//! Camera health: every enabled camera is checked in the background at a configurable
//! interval; its state (online / degraded / offline) and what the check found are kept in
//! memory, and every change is pushed to browsers. A camera with a hub session is judged by
//! that session (its packets, or why it fails to connect) and never probed: the session holds
//! the camera's one connection. Only a camera without a session is probed with ffprobe.
//! Snapshots are decoded from the session's keyframe cache, and cached so many viewers mean one
//! decode. A PTZ camera whose video answers also has its ONVIF login checked: good video with
//! PTZ control that does not work is `degraded`, not `online`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Protocol, Result, SecretBox};
use vs_db::Db;
use vs_engine::ffmpeg::probe::{self, ProbeErrorKind, StreamInfo};
use vs_engine::hub::{snapshot_from_cache, SessionState, SnapshotOptions};

use super::cameras::{connect_url, validate_camera, CameraChange, CameraInput, CameraListener};
use super::hub::{HubService, SessionCheck};
use super::{Events, Infra};
use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Not checked yet.
    Unknown,
    Online,
    /// Reachable, but slow to answer, with a very low frame rate, or (PTZ cameras) with PTZ
    /// control that does not work, e.g. a refused ONVIF login.
    Degraded,
    Offline,
    Disabled,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CameraHealth {
    pub camera_id: i64,
    pub state: HealthState,
    pub last_seen: Option<String>,
    pub last_check: Option<String>,
    pub last_error: Option<String>,
    pub error_kind: Option<ProbeErrorKind>,
    pub codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<f64>,
    pub has_audio: Option<bool>,
    /// How long the last check took, in milliseconds.
    pub check_ms: Option<u64>,
}

impl CameraHealth {
    fn unknown(camera_id: i64) -> Self {
        CameraHealth {
            camera_id,
            state: HealthState::Unknown,
            last_seen: None,
            last_check: None,
            last_error: None,
            error_kind: None,
            codec: None,
            width: None,
            height: None,
            fps: None,
            has_audio: None,
            check_ms: None,
        }
    }
}

/// The result of a connection test, as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub reachable: bool,
    pub codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<f64>,
    pub has_audio: Option<bool>,
    pub error_kind: Option<ProbeErrorKind>,
    pub message: String,
    pub elapsed_ms: u64,
}

/// A probe slower than this marks the camera degraded.
const SLOW_PROBE: Duration = Duration::from_millis(3500);
/// A frame rate below this marks the camera degraded.
const LOW_FPS: f64 = 5.0;
/// How long a snapshot is served from the cache.
const SNAPSHOT_TTL: Duration = Duration::from_secs(3);
/// How long a snapshot or a manual test waits for a session that is still connecting.
const SESSION_WAIT: Duration = Duration::from_secs(5);

type SnapshotSlot = Arc<tokio::sync::Mutex<Option<(Instant, Bytes)>>>;

/// Camera health: the state of every camera (kept in memory), the background monitor that
/// probes them, connection tests and cached snapshots.
pub struct HealthService {
    db: Db,
    secrets: SecretBox,
    config: Arc<Config>,
    events: Events,
    shutdown: CancellationToken,
    /// The camera sessions: a camera that has one is judged by it, never probed.
    hub: Arc<HubService>,
    cameras: Mutex<HashMap<i64, CameraHealth>>,
    in_flight: Mutex<HashSet<i64>>,
    snapshots: Mutex<HashMap<(i64, Option<u32>), SnapshotSlot>>,
    kick: tokio::sync::Notify,
    /// The PTZ service, whose cached client checks a PTZ camera's ONVIF login.
    ptz: Arc<super::ptz::PtzService>,
    /// What the last ONVIF check of each PTZ camera found wrong (absent: nothing, or no check).
    ptz_faults: Mutex<HashMap<i64, PtzProblem>>,
    ptz_in_flight: Mutex<HashSet<i64>>,
}

/// Why a PTZ camera's control does not work, as the health view shows it.
#[derive(Debug, Clone, PartialEq)]
struct PtzProblem {
    /// Without the leading "video ok, ", which is added when the video has nothing to say.
    reason: String,
    kind: ProbeErrorKind,
}

impl CameraListener for HealthService {
    fn camera_changed(&self, id: i64, change: CameraChange) {
        match change {
            CameraChange::Added => self.kick(),
            CameraChange::Updated { .. } => {
                self.invalidate(id);
                self.kick();
            }
            // Forgotten at the next round, which lists the cameras that remain.
            CameraChange::Deleted => {}
        }
    }
}

impl HealthService {
    pub fn new(infra: &Infra, hub: Arc<HubService>, ptz: Arc<super::ptz::PtzService>) -> Self {
        HealthService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            config: infra.config.clone(),
            events: infra.events.clone(),
            shutdown: infra.shutdown.clone(),
            hub,
            cameras: Default::default(),
            in_flight: Default::default(),
            snapshots: Default::default(),
            kick: Default::default(),
            ptz,
            ptz_faults: Default::default(),
            ptz_in_flight: Default::default(),
        }
    }

    /// Wakes the monitor for a round now (cameras were added or changed).
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    fn get(&self, id: i64) -> CameraHealth {
        self.cameras
            .lock()
            .expect("health lock")
            .get(&id)
            .cloned()
            .unwrap_or_else(|| CameraHealth::unknown(id))
    }

    /// Forgets what is known of a camera whose settings changed.
    fn invalidate(&self, id: i64) {
        self.cameras.lock().expect("health lock").remove(&id);
        self.ptz_faults.lock().expect("health lock").remove(&id);
        self.snapshots
            .lock()
            .expect("snapshot lock")
            .retain(|(cam, _), _| *cam != id);
    }

    fn forget_missing(&self, live: &HashSet<i64>) {
        self.cameras
            .lock()
            .expect("health lock")
            .retain(|id, _| live.contains(id));
        self.ptz_faults
            .lock()
            .expect("health lock")
            .retain(|id, _| live.contains(id));
        self.snapshots
            .lock()
            .expect("snapshot lock")
            .retain(|(id, _), _| live.contains(id));
    }

    /// Health of every camera, in the order of the camera list.
    pub async fn all(&self) -> Result<Vec<CameraHealth>> {
        Ok(self
            .db
            .list_cameras()
            .await?
            .into_iter()
            .map(|c| {
                let mut h = self.get(c.id);
                if !c.enabled {
                    h.state = HealthState::Disabled;
                }
                h
            })
            .collect())
    }

    pub async fn camera(&self, id: i64) -> Result<CameraHealth> {
        let c = self.db.camera(id).await?;
        let mut h = self.get(id);
        if !c.enabled {
            h.state = HealthState::Disabled;
        }
        Ok(h)
    }

    fn probe_timeout(&self) -> Duration {
        Duration::from_secs(self.config.health_interval_s.clamp(2, 5))
    }

    /// Tests a stored camera now: from its session when it has one (a second connection
    /// may be refused by the camera, and would carry the login on ffprobe's command line), by
    /// a probe otherwise.
    pub async fn test_camera(&self, id: i64) -> Result<ConnectionTest> {
        let row = self.db.camera(id).await?;
        if let Some(session) = self.hub.session(id) {
            let started = Instant::now();
            if let SessionCheck::Verdict(mut t) =
                self.hub.wait_verdict(&session, SESSION_WAIT).await
            {
                // Recorded as the session measured it: waiting for it is no slow answer.
                self.record(id, &t);
                t.elapsed_ms = started.elapsed().as_millis() as u64;
                return Ok(t);
            }
            return Ok(ConnectionTest {
                reachable: false,
                codec: None,
                width: None,
                height: None,
                fps: None,
                has_audio: None,
                error_kind: Some(ProbeErrorKind::Timeout),
                message: ProbeErrorKind::Timeout.explain().to_string(),
                elapsed_ms: started.elapsed().as_millis() as u64,
            });
        }
        let url = connect_url(&self.secrets, &row)?;
        let protocol = Protocol::parse(&row.protocol).unwrap_or(Protocol::Rtsp);
        let result = self.run_test(&url, protocol).await;
        // A manual test is as good as a background check.
        self.record(id, &result);
        Ok(result)
    }

    /// Tests settings that are not saved yet (the "Test connection" button of the add form).
    pub async fn test_unsaved(&self, input: &CameraInput) -> Result<ConnectionTest> {
        let v = validate_camera(input)?;
        Ok(self.run_test(&v.connect_url(), v.url.protocol()).await)
    }

    async fn run_test(&self, url: &str, protocol: Protocol) -> ConnectionTest {
        let started = Instant::now();
        let r = probe::probe(&self.config.ffprobe, url, protocol, Duration::from_secs(5)).await;
        outcome(r, started.elapsed())
    }

    /// Stores a check's result and pushes a change to browsers.
    fn record(&self, id: i64, t: &ConnectionTest) {
        let now = vs_db::now();
        let new = {
            let mut map = self.cameras.lock().expect("health lock");
            let old = map
                .get(&id)
                .cloned()
                .unwrap_or_else(|| CameraHealth::unknown(id));
            let mut h = old.clone();
            h.last_check = Some(now.clone());
            h.check_ms = Some(t.elapsed_ms);
            if t.reachable {
                let slow = Duration::from_millis(t.elapsed_ms) > SLOW_PROBE;
                let low_fps = t.fps.is_some_and(|f| f < LOW_FPS);
                h.state = if slow || low_fps {
                    HealthState::Degraded
                } else {
                    HealthState::Online
                };
                h.last_seen = Some(now);
                h.last_error = match (slow, low_fps) {
                    (true, _) => Some(format!("slow to answer ({} ms)", t.elapsed_ms)),
                    (_, true) => Some(format!("low frame rate ({:.1} fps)", t.fps.unwrap_or(0.0))),
                    _ => None,
                };
                h.error_kind = None;
                h.codec = t.codec.clone();
                h.width = t.width;
                h.height = t.height;
                h.fps = t.fps;
                h.has_audio = t.has_audio;
            } else {
                h.state = HealthState::Offline;
                h.last_error = Some(t.message.clone());
                h.error_kind = t.error_kind;
            }
            self.apply_ptz(id, &mut h);
            let changed = old.state != h.state || old.last_error != h.last_error;
            map.insert(id, h.clone());
            changed.then_some((old.state, h))
        };
        let up = if t.reachable { 1.0 } else { 0.0 };
        metrics::gauge!("vistterstream_camera_up", "camera_id" => id.to_string()).set(up);
        metrics::counter!("vistterstream_camera_checks_total", "result" => if t.reachable { "ok" } else { "failed" }).increment(1);
        metrics::histogram!("vistterstream_camera_check_seconds")
            .record(t.elapsed_ms as f64 / 1000.0);
        if let Some((old, h)) = new {
            tracing::info!(camera = id, from = ?old, to = ?h.state, error = ?h.last_error, "camera health changed");
            self.events.publish(
                "camera_health",
                serde_json::to_value(&h).unwrap_or_default(),
            );
        }
    }

    /// A camera whose video answers but whose PTZ control does not is degraded, with why.
    fn apply_ptz(&self, id: i64, h: &mut CameraHealth) {
        if !matches!(h.state, HealthState::Online | HealthState::Degraded) {
            return;
        }
        let Some(p) = self
            .ptz_faults
            .lock()
            .expect("health lock")
            .get(&id)
            .cloned()
        else {
            return;
        };
        h.state = HealthState::Degraded;
        h.last_error = Some(match h.last_error.take() {
            Some(video) => format!("{video}; {}", p.reason),
            None => format!("video ok, {}", p.reason),
        });
        h.error_kind = Some(p.kind);
    }

    /// Checks a PTZ camera's ONVIF login through the PTZ service's cached client, and keeps
    /// what it found for `record`. Cameras that are not PTZ have nothing to check.
    async fn check_ptz(self: Arc<Self>, cam: vs_db::cameras::CameraRow) {
        if cam.kind != "PTZ" {
            self.ptz_faults.lock().expect("health lock").remove(&cam.id);
            return;
        }
        // A slow camera is not checked twice at once.
        if !self.ptz_in_flight.lock().expect("lock").insert(cam.id) {
            return;
        }
        let checked = tokio::select! {
            _ = self.shutdown.cancelled() => None,
            r = self.ptz.check(&cam) => Some(r),
        };
        if let Some(r) = checked {
            let problem = r.err().map(|f| match f.code {
                "auth_failed" => PtzProblem {
                    reason: "PTZ login refused (check the ONVIF user/password)".into(),
                    kind: ProbeErrorKind::AuthFailed,
                },
                code => PtzProblem {
                    reason: format!("PTZ control not working: {}", f.message),
                    kind: match code {
                        "unreachable" => ProbeErrorKind::Unreachable,
                        "timeout" => ProbeErrorKind::Timeout,
                        _ => ProbeErrorKind::Protocol,
                    },
                },
            });
            let mut faults = self.ptz_faults.lock().expect("health lock");
            match problem {
                Some(p) => faults.insert(cam.id, p),
                None => faults.remove(&cam.id),
            };
        }
        self.ptz_in_flight.lock().expect("lock").remove(&cam.id);
    }

    /// A JPEG of the camera now (or from the last few seconds): the newest picture of its
    /// session's keyframe cache, scaled to `width` (keeping the aspect ratio). No connection to
    /// the camera is opened; a camera whose session does not play answers with why.
    pub async fn snapshot(&self, id: i64, width: Option<u32>) -> Result<Bytes> {
        if let Some(w) = width {
            if !(32..=3840).contains(&w) {
                return Err(Error::invalid(
                    "width",
                    "must be between 32 and 3840 pixels",
                ));
            }
        }
        self.db.camera(id).await?;
        let slot = self
            .snapshots
            .lock()
            .expect("snapshot lock")
            .entry((id, width))
            .or_default()
            .clone();
        // One grab at a time per camera and size: concurrent viewers wait and share it.
        let mut guard = slot.lock().await;
        if let Some((at, jpeg)) = guard.as_ref() {
            if at.elapsed() < SNAPSHOT_TTL {
                return Ok(jpeg.clone());
            }
        }
        let session = self.hub.session_for(id).await?;
        if session.state() != SessionState::Playing {
            match self.hub.wait_verdict(&session, SESSION_WAIT).await {
                SessionCheck::Verdict(t) if !t.reachable => {
                    let kind = match t.error_kind {
                        Some(ProbeErrorKind::Timeout) => ErrorKind::Timeout,
                        _ => ErrorKind::Device,
                    };
                    return Err(Error::new(kind, format!("no snapshot: {}", t.message)));
                }
                SessionCheck::Verdict(_) => {}
                _ => {
                    return Err(Error::timeout(format!(
                        "no snapshot: {}",
                        ProbeErrorKind::Timeout.explain()
                    )))
                }
            }
        }
        let size = match (width, session.info()) {
            (Some(w), Some(info)) if info.video.width > 0 => {
                // Even, as the encoder wants it, like FFmpeg's `scale=W:-2`.
                let h = (w as u64 * info.video.height as u64 / info.video.width as u64) as u32;
                Some((w, (h.max(2) + 1) & !1))
            }
            _ => None,
        };
        metrics::counter!("vistterstream_snapshot_grabs_total").increment(1);
        let opts = SnapshotOptions {
            size,
            newest: true,
            ffmpeg: self.config.ffmpeg.clone(),
            timeout: Duration::from_secs(5),
        };
        match snapshot_from_cache(&session, &opts, self.hub.spawner()).await {
            Ok(jpeg) => {
                let jpeg = Bytes::from(jpeg);
                *guard = Some((Instant::now(), jpeg.clone()));
                Ok(jpeg)
            }
            Err(e) => {
                tracing::debug!(camera = id, error = %e, "snapshot failed");
                let kind = match e.kind {
                    ErrorKind::Timeout => ErrorKind::Timeout,
                    ErrorKind::Unavailable => ErrorKind::Unavailable,
                    _ => ErrorKind::Device,
                };
                Err(Error::new(kind, format!("no snapshot: {}", e.message)))
            }
        }
    }

    /// Runs the background health checks until shutdown.
    pub async fn run_monitor(self: Arc<Self>) {
        let interval = Duration::from_secs(self.config.health_interval_s.max(1));
        let limit = Arc::new(tokio::sync::Semaphore::new(4));
        loop {
            if let Err(e) = self.clone().health_round(&limit).await {
                tracing::warn!(error = ?e, "health round failed");
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
                _ = self.kick.notified() => {}
            }
        }
    }

    /// Records what a camera's session says, if it has a session; returns whether it had one
    /// (and so needs no probe).
    fn judged_by_session(&self, id: i64) -> bool {
        match self.hub.check(id) {
            SessionCheck::NoSession => false,
            // Connecting for the first time, or retrying after a connection that played
            // broke: the attempt under way decides.
            SessionCheck::Pending => true,
            SessionCheck::Verdict(t) => {
                self.record(id, &t);
                metrics::counter!("vistterstream_camera_checks_skipped_total").increment(1);
                true
            }
        }
    }

    async fn health_round(self: Arc<Self>, limit: &Arc<tokio::sync::Semaphore>) -> Result<()> {
        let cameras = self.db.list_cameras().await?;
        let live: HashSet<i64> = cameras.iter().map(|c| c.id).collect();
        self.forget_missing(&live);
        for cam in cameras.into_iter().filter(|c| c.enabled) {
            // An enabled camera whose change the hub has not applied yet (it was just added or
            // enabled) gets its session now: probing it instead would open a second
            // connection beside the one the session is opening.
            if matches!(self.hub.check(cam.id), SessionCheck::NoSession) {
                let _ = self.hub.session_for(cam.id).await;
            }
            if self.judged_by_session(cam.id) {
                // Its PTZ verdict still needs refreshing; the next record applies it.
                tokio::spawn(self.clone().check_ptz(cam.clone()));
                continue;
            }
            // A camera whose previous check is still running is not checked twice.
            if !self.in_flight.lock().expect("lock").insert(cam.id) {
                continue;
            }
            let health = self.clone();
            let limit = limit.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire().await;
                let url = connect_url(&health.secrets, &cam);
                if let Ok(url) = url {
                    let protocol = Protocol::parse(&cam.protocol).unwrap_or(Protocol::Rtsp);
                    let timeout = health.probe_timeout();
                    let started = Instant::now();
                    let r = tokio::select! {
                        _ = health.shutdown.cancelled() => None,
                        r = probe::probe(&health.config.ffprobe, &url, protocol, timeout) => Some(r),
                    };
                    // The video's own time: a slow ONVIF answer must not make it "slow".
                    let probe_took = started.elapsed();
                    // PTZ control matters once the video answers (an offline camera is
                    // offline), and its verdict goes into the same record.
                    if matches!(r, Some(Ok(_))) {
                        health.clone().check_ptz(cam.clone()).await;
                    }
                    // The camera may have been deleted while it was probed.
                    if let Some(r) = r {
                        if health.db.camera(cam.id).await.is_ok() {
                            health.record(cam.id, &outcome(r, probe_took));
                        }
                    }
                }
                health.in_flight.lock().expect("lock").remove(&cam.id);
            });
        }
        Ok(())
    }
}

fn describe(info: &StreamInfo) -> String {
    let mut s = format!(
        "{} {}x{}",
        info.codec.as_deref().unwrap_or("video").to_uppercase(),
        info.width.unwrap_or(0),
        info.height.unwrap_or(0)
    );
    if let Some(f) = info.fps {
        s.push_str(&format!(" at {f} fps"));
    }
    s.push_str(match &info.audio_codec {
        Some(_) => ", with audio",
        None => ", no audio",
    });
    s
}

/// A probe's result as the API reports it; failures are logged with their redacted detail.
fn outcome(
    r: std::result::Result<(StreamInfo, Duration), probe::ProbeError>,
    elapsed: Duration,
) -> ConnectionTest {
    let elapsed_ms = elapsed.as_millis() as u64;
    match r {
        Ok((info, _)) => ConnectionTest {
            reachable: true,
            message: describe(&info),
            codec: info.codec,
            width: info.width,
            height: info.height,
            fps: info.fps,
            has_audio: Some(info.has_audio),
            error_kind: None,
            elapsed_ms,
        },
        Err(e) => {
            tracing::debug!(kind = e.kind.as_str(), detail = %e.detail, "camera probe failed");
            ConnectionTest {
                reachable: false,
                codec: None,
                width: None,
                height: None,
                fps: None,
                has_audio: None,
                error_kind: Some(e.kind),
                message: e.message,
                elapsed_ms,
            }
        }
    }
}
