//! PTZ control of a camera over ONVIF: presets that really move the camera (to the camera-side
//! token when there is one, otherwise an absolute move to the stored position), reporting only
//! once the camera has settled; the control pad (continuous move / stop, with a stop sent by
//! the appliance when a move's timeout passes unrefreshed); saving the current position;
//! importing the camera's own presets and removing a deleted preset's copy on the camera; the
//! login check of the health monitor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, Result, Secret, SecretBox};
use vs_db::cameras::CameraRow;
use vs_db::presets::{PresetRow, PresetWrite};
use vs_db::Db;
use vs_onvif::{
    from_onvif, move_and_settle, to_onvif, MoveStatus, MoveTarget, OnvifClient, OnvifConfig,
    OnvifError, PresetPosition, Ptz, PtzVector, SettlePolicy,
};

use super::presets::{settle_ms, Preset};
use super::{validate, Infra};

/// The ONVIF port tried when a camera has none set.
pub const DEFAULT_ONVIF_PORT: u16 = 80;

/// Makes the ONVIF client of a camera. A trait so tests and the demo can point it anywhere;
/// `App::build_with` takes it in its `AppDeps`.
pub trait PtzConnector: Send + Sync {
    fn connect(&self, config: OnvifConfig) -> Result<Arc<dyn Ptz>>;
}

pub struct OnvifConnector;

impl PtzConnector for OnvifConnector {
    fn connect(&self, config: OnvifConfig) -> Result<Arc<dyn Ptz>> {
        Ok(Arc::new(OnvifClient::new(config)?))
    }
}

type CachedClient = (String, Arc<dyn Ptz>);

/// The stop watchdog of one camera's continuous move.
#[derive(Default)]
struct MoveWatch {
    /// Bumped by every command that replaces or ends the move: a watchdog that wakes up to a
    /// newer generation has been overtaken and sends nothing.
    generation: u64,
    task: Option<tokio::task::AbortHandle>,
}

/// PTZ control over ONVIF. One client per camera, kept while its settings do not change (it
/// caches the discovery and the camera's clock offset).
pub struct PtzService {
    db: Db,
    secrets: SecretBox,
    connector: Arc<dyn PtzConnector>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// Per camera: the settings the client was made with, and the client.
    clients: Mutex<HashMap<i64, CachedClient>>,
    /// Per camera: the pending stop of its continuous move. The async lock also keeps a pad
    /// command and a watchdog's Stop from crossing on the wire.
    moves: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<MoveWatch>>>>,
}

/// Why a PTZ camera cannot be controlled, for the health monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtzFault {
    /// `OnvifError::code`: auth_failed, unreachable, timeout, protocol...
    pub code: &'static str,
    /// What the API would say, with the hints of [`explain`].
    pub message: String,
}

/// What became of the camera's copy of a preset being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraCopy {
    /// The preset has no camera-side token, or the camera is no longer a PTZ camera.
    None,
    Removed,
    /// The camera no longer knew the token.
    AlreadyGone,
    /// The camera cannot remove presets (it says so); its copy stays.
    Kept(String),
}

/// The error a user sees for a failed exchange with a camera. With no ONVIF port set, port 80
/// was a guess: when nothing or something else answered there, say which ports to try.
pub fn explain(cam: &CameraRow, e: OnvifError) -> Error {
    let guessed_port = cam.onvif_port.is_none()
        && matches!(
            e,
            OnvifError::Unreachable(_) | OnvifError::NotOnvif { .. } | OnvifError::Timeout(_)
        );
    let mut err = Error::from(e);
    if guessed_port {
        err.message = format!(
            "{}. No ONVIF port is set for camera '{}', so port {DEFAULT_ONVIF_PORT} was tried; \
             PTZ cameras usually answer ONVIF on port 8899 or 80: set the camera's ONVIF port",
            err.message, cam.name
        );
    }
    err
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MoveReport {
    pub preset_id: i64,
    pub camera_id: i64,
    /// From the request to the camera having settled.
    pub elapsed_ms: u64,
    /// idle, position_reached, position_stable or settle_time
    pub settled_by: String,
    pub position: Option<Position>,
}

/// A position in the appliance's units.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct Position {
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PtzState {
    pub position: Option<Position>,
    /// idle, moving or unknown
    pub move_status: String,
    /// The camera takes relative moves (ONVIF RelativeMove), so a click on its picture can
    /// centre it there.
    pub relative: bool,
}

/// A small move from where the camera is, in the preset units: degrees of pan (−180…180)
/// and tilt (−90…90), percent of zoom (−100…100).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PtzStep {
    #[serde(default)]
    pub pan: f64,
    #[serde(default)]
    pub tilt: f64,
    #[serde(default)]
    pub zoom: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepReport {
    /// `relative` (ONVIF RelativeMove) or `absolute` (read the position, then AbsoluteMove).
    pub method: String,
    /// Where the camera settled.
    pub position: Option<Position>,
    pub elapsed_ms: u64,
}

/// Velocities for the control pad, each −1 … 1 (fraction of the camera's top speed).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PtzVelocity {
    #[serde(default)]
    pub pan: f64,
    #[serde(default)]
    pub tilt: f64,
    #[serde(default)]
    pub zoom: f64,
    /// The move ends after this long unless another move refreshes it: the camera is told
    /// (ONVIF Timeout), and the appliance sends Stop itself then for cameras that ignore it
    /// (100–10000, default 2000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureInput {
    pub name: String,
    #[serde(default)]
    pub settle_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub imported: Vec<Preset>,
    /// Names skipped because a preset of that name exists already.
    pub skipped: Vec<String>,
}

/// A name people can read for a preset imported from a camera. Cameras often name presets
/// by their number or not at all (the Sunba's first preset is token "0" named "0"): those
/// become "Preset 0"; a real name is kept (trimmed, at most 64 characters).
pub fn readable_preset_name(name: &str, token: &str) -> String {
    let n = name.trim();
    let bare = n.is_empty() || n == token.trim() || n.chars().all(|c| c.is_ascii_digit());
    let label = if bare {
        let t = token.trim();
        if t.is_empty() {
            n.to_string()
        } else {
            t.to_string()
        }
    } else {
        return n.chars().take(64).collect();
    };
    format!("Preset {}", label.chars().take(50).collect::<String>())
}

fn to_position(p: PresetPosition) -> Position {
    let r = |v: f64| (v * 100.0).round() / 100.0;
    Position {
        pan: r(p.pan),
        tilt: r(p.tilt),
        zoom: r(p.zoom),
    }
}

impl PtzService {
    pub fn new(infra: &Infra, connector: Arc<dyn PtzConnector>) -> Self {
        PtzService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            connector,
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            clients: Mutex::new(HashMap::new()),
            moves: Mutex::new(HashMap::new()),
        }
    }

    /// The PTZ client of a camera; refuses cameras that are not PTZ.
    pub fn client_for(&self, cam: &CameraRow) -> Result<Arc<dyn Ptz>> {
        if cam.kind != "PTZ" {
            return Err(Error::invalid_state(format!(
                "camera '{}' is not a PTZ camera; set its type to PTZ to control it",
                cam.name
            )));
        }
        let url = PtzService::stored_address(&cam.address)?;
        let host = cam
            .onvif_host
            .clone()
            .unwrap_or_else(|| url.host().to_string());
        let port = cam
            .onvif_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(DEFAULT_ONVIF_PORT);
        let password = cam
            .password_enc
            .as_deref()
            .map(|p| self.secrets.open(p))
            .transpose()?
            .unwrap_or_else(|| Secret::new(""));
        // The key identifies the settings: a changed camera gets a new client.
        let key = format!(
            "{host}:{port}:{}:{}",
            cam.username.as_deref().unwrap_or(""),
            cam.updated_at
        );
        let mut clients = self.clients.lock().expect("ptz lock");
        if let Some((k, c)) = clients.get(&cam.id) {
            if *k == key {
                return Ok(c.clone());
            }
        }
        let mut config = OnvifConfig::new(host, port).with_timeout(Duration::from_secs(5));
        if let Some(user) = cam.username.as_deref().filter(|u| !u.is_empty()) {
            config = config.with_credentials(user, password);
        }
        let client = self.connector.connect(config)?;
        clients.insert(cam.id, (key, client.clone()));
        Ok(client)
    }

    fn stored_address(address: &str) -> Result<vs_base::StreamUrl> {
        Ok(vs_base::StreamUrl::parse(address, "address")?.url)
    }

    /// Moves the camera to a preset and returns once it has settled.
    pub async fn move_to_preset(&self, preset_id: i64) -> Result<MoveReport> {
        let preset = self.db.preset(preset_id).await?;
        let cam = self.db.camera(preset.camera_id).await?;
        let ptz = self.client_for(&cam)?;
        // A preset move replaces a pad move: the pad's pending Stop would cut it short.
        self.cancel_watchdog(cam.id).await;
        let profile = ptz.default_profile().await.map_err(|e| explain(&cam, e))?;
        let ranges = ptz.ranges(&profile).await.map_err(|e| explain(&cam, e))?;
        let stored = PresetPosition {
            pan: preset.pan,
            tilt: preset.tilt,
            zoom: preset.zoom,
        };
        let target = match &preset.onvif_token {
            Some(token) => MoveTarget::Preset {
                token: token.clone(),
                position: None,
                speed: None,
            },
            None => MoveTarget::Absolute {
                position: to_onvif(stored, &ranges).map_err(|e| explain(&cam, e))?,
                speed: None,
            },
        };
        let policy = SettlePolicy {
            settle_time: preset
                .settle_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
            ..Default::default()
        };
        let report = move_and_settle(ptz.as_ref(), &profile, &target, &policy)
            .await
            .map_err(|e| explain(&cam, e))?;
        metrics::counter!("vistterstream_preset_moves_total").increment(1);
        tracing::info!(
            camera = cam.id,
            preset = preset.id,
            elapsed_ms = report.elapsed_ms,
            "preset reached"
        );
        Ok(MoveReport {
            preset_id: preset.id,
            camera_id: cam.id,
            elapsed_ms: report.elapsed_ms,
            settled_by: format!("{:?}", report.settled_by).to_ascii_lowercase(),
            position: report.position.map(|p| to_position(from_onvif(p, &ranges))),
        })
    }

    pub async fn status(&self, camera_id: i64) -> Result<PtzState> {
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let (ranges, status, relative) = async {
            let profile = ptz.default_profile().await?;
            let ranges = ptz.ranges(&profile).await?;
            let relative = ptz.supports_relative(&profile).await.unwrap_or(false);
            Ok::<_, OnvifError>((ranges, ptz.status(&profile).await?, relative))
        }
        .await
        .map_err(|e| explain(&cam, e))?;
        Ok(PtzState {
            relative,
            position: status.position.map(|p| to_position(from_onvif(p, &ranges))),
            move_status: match status.move_status() {
                MoveStatus::Idle => "idle",
                MoveStatus::Moving => "moving",
                MoveStatus::Unknown => "unknown",
            }
            .into(),
        })
    }

    /// Starts moving at the given velocities (the pad is pressed).
    pub async fn start_move(&self, camera_id: i64, v: &PtzVelocity) -> Result<()> {
        for (field, value) in [("pan", v.pan), ("tilt", v.tilt), ("zoom", v.zoom)] {
            validate::range(field, value, -1.0, 1.0, " (fraction of top speed)")?;
        }
        let timeout = match v.timeout_ms {
            None => Duration::from_secs(2),
            Some(ms) if (100..=10_000).contains(&ms) => Duration::from_millis(ms),
            Some(_) => {
                return Err(Error::invalid(
                    "timeout_ms",
                    "must be between 100 and 10000",
                ))
            }
        };
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let watch = self.move_watch(cam.id);
        let mut w = watch.lock().await;
        w.generation += 1;
        if let Some(t) = w.task.take() {
            t.abort();
        }
        let velocity = PtzVector {
            pan: v.pan,
            tilt: v.tilt,
            zoom: v.zoom,
        };
        let mut profile = None;
        let moved = async {
            let p = ptz.default_profile().await?;
            profile = Some(p.clone());
            ptz.continuous_move(&p, velocity, Some(timeout)).await
        }
        .await;
        // Armed whatever the answer: a command that failed half-way may have started the head,
        // and an earlier move whose watchdog was just replaced may still run. A Stop to a head
        // at rest does nothing.
        let deadline = Instant::now() + timeout;
        w.task =
            Some(self.arm_watchdog(&watch, w.generation, deadline, ptz.clone(), profile, cam.id));
        drop(w);
        moved.map_err(|e| explain(&cam, e))
    }

    /// Moves by a small step from where the camera is (a step button, or a click on the
    /// picture to centre it there) and answers once it has settled. A camera that takes
    /// RelativeMove gets one; another is read (GetStatus) and sent the sum as an AbsoluteMove.
    pub async fn step(&self, camera_id: i64, s: &PtzStep) -> Result<StepReport> {
        validate::range("pan", s.pan, -180.0, 180.0, " degrees")?;
        validate::range("tilt", s.tilt, -90.0, 90.0, " degrees")?;
        validate::range("zoom", s.zoom, -100.0, 100.0, " percent")?;
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        // A step replaces a pad move: the pad's pending Stop would cut it short.
        self.cancel_watchdog(cam.id).await;
        let (profile, ranges, relative, before) = async {
            let profile = ptz.default_profile().await?;
            let ranges = ptz.ranges(&profile).await?;
            let relative = ptz.supports_relative(&profile).await?;
            let before = ptz.status(&profile).await?.position;
            Ok::<_, OnvifError>((profile, ranges, relative, before))
        }
        .await
        .map_err(|e| explain(&cam, e))?;
        let target = before.map(|b| {
            let p = from_onvif(b, &ranges);
            PresetPosition {
                pan: (p.pan + s.pan).clamp(-180.0, 180.0),
                tilt: (p.tilt + s.tilt).clamp(-90.0, 90.0),
                zoom: (p.zoom + s.zoom).clamp(0.0, 100.0),
            }
        });
        let expected = target
            .map(|t| to_onvif(t, &ranges))
            .transpose()
            .map_err(|e| explain(&cam, e))?;
        let (method, goal) = if relative {
            // TranslationGenericSpace: the same fraction of the travel as the preset units'.
            let translation = PtzVector {
                pan: s.pan / 180.0,
                tilt: s.tilt / 90.0,
                zoom: s.zoom / 100.0,
            };
            let goal = MoveTarget::Relative {
                translation,
                expected,
                speed: None,
            };
            ("relative", goal)
        } else {
            let position = expected.ok_or_else(|| {
                Error::invalid_state(format!(
                    "camera '{}' neither takes relative moves nor reports its position, so it cannot be stepped",
                    cam.name
                ))
            })?;
            (
                "absolute",
                MoveTarget::Absolute {
                    position,
                    speed: None,
                },
            )
        };
        let policy = SettlePolicy {
            timeout: Duration::from_secs(15),
            ..Default::default()
        };
        let report = move_and_settle(ptz.as_ref(), &profile, &goal, &policy)
            .await
            .map_err(|e| explain(&cam, e))?;
        Ok(StepReport {
            method: method.into(),
            position: report.position.map(|p| to_position(from_onvif(p, &ranges))),
            elapsed_ms: report.elapsed_ms,
        })
    }

    /// Stops any movement (the pad is released).
    pub async fn stop(&self, camera_id: i64) -> Result<()> {
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let watch = self.move_watch(cam.id);
        let mut w = watch.lock().await;
        let stopped = async {
            let profile = ptz.default_profile().await?;
            ptz.stop(&profile).await
        }
        .await;
        // A Stop that did not get through leaves the watchdog armed: it tries once more.
        if stopped.is_ok() {
            w.generation += 1;
            if let Some(t) = w.task.take() {
                t.abort();
            }
        }
        drop(w);
        stopped.map_err(|e| explain(&cam, e))
    }

    fn move_watch(&self, camera_id: i64) -> Arc<tokio::sync::Mutex<MoveWatch>> {
        self.moves
            .lock()
            .expect("ptz moves lock")
            .entry(camera_id)
            .or_default()
            .clone()
    }

    /// Forgets the pending stop of a camera's pad move (another move takes over).
    async fn cancel_watchdog(&self, camera_id: i64) {
        let watch = self.move_watch(camera_id);
        let mut w = watch.lock().await;
        w.generation += 1;
        if let Some(t) = w.task.take() {
            t.abort();
        }
    }

    /// Sends Stop at `deadline` unless a newer command came first. The ONVIF `Timeout` of a
    /// continuous move is only a request: some servers ignore it and move until told to stop,
    /// so the appliance does not rely on it. On shutdown the Stop goes at once.
    fn arm_watchdog(
        &self,
        watch: &Arc<tokio::sync::Mutex<MoveWatch>>,
        generation: u64,
        deadline: Instant,
        ptz: Arc<dyn Ptz>,
        profile: Option<String>,
        camera_id: i64,
    ) -> tokio::task::AbortHandle {
        let watch = watch.clone();
        let shutdown = self.shutdown.clone();
        self.tasks
            .spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = shutdown.cancelled() => {}
                }
                let mut w = watch.lock().await;
                if w.generation != generation {
                    return;
                }
                w.task = None;
                let stopped = async {
                    let profile = match profile {
                        Some(p) => p,
                        None => ptz.default_profile().await?,
                    };
                    ptz.stop(&profile).await
                }
                .await;
                match stopped {
                    Ok(()) => tracing::info!(
                        camera = camera_id,
                        "continuous move not refreshed before its timeout; Stop sent"
                    ),
                    Err(e) => tracing::warn!(
                        camera = camera_id,
                        error = %e,
                        "continuous move timed out and the Stop failed"
                    ),
                }
            })
            .abort_handle()
    }

    /// Saves where the camera is now as a preset, on the camera too when it accepts it.
    pub async fn capture_preset(
        &self,
        camera_id: i64,
        input: &CaptureInput,
        user: Option<i64>,
    ) -> Result<Preset> {
        // Everything that can refuse the request is checked before the camera is touched: a
        // SetPreset followed by a refusal would leave a stray preset on the camera.
        let name = validate::name("name", &input.name, 64)?;
        let settle_ms = settle_ms(input.settle_ms)?;
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        // The database compares names as SQLite's NOCASE does: ASCII letters only.
        if self
            .db
            .list_presets(camera_id)
            .await?
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(&name))
        {
            return Err(Error::conflict(format!(
                "this camera already has a preset named '{name}'; choose another name"
            ))
            .with_field("name"));
        }
        let (profile, ranges, status) = async {
            let profile = ptz.default_profile().await?;
            let ranges = ptz.ranges(&profile).await?;
            let status = ptz.status(&profile).await?;
            Ok::<_, OnvifError>((profile, ranges, status))
        }
        .await
        .map_err(|e| explain(&cam, e))?;
        let pos = status
            .position
            .map(|p| from_onvif(p, &ranges))
            .ok_or_else(|| Error::device("the camera did not report its position"))?;
        // A camera-side preset makes later moves exact; not every camera allows it.
        let token = match ptz.set_preset(&profile, &name, None).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::info!(camera = cam.id, error = %e, "camera refused SetPreset; keeping the position only");
                None
            }
        };
        let p = to_position(pos);
        let created = self
            .db
            .create_preset(
                camera_id,
                &PresetWrite {
                    name,
                    pan: p.pan.clamp(-180.0, 180.0),
                    tilt: p.tilt.clamp(-90.0, 90.0),
                    zoom: p.zoom.clamp(0.0, 100.0),
                    onvif_token: token.clone(),
                    settle_ms,
                },
            )
            .await;
        let row = match created {
            Ok(row) => row,
            Err(e) => {
                // Refused after all (a concurrent request took the name): take the camera's
                // copy back so the two lists still agree.
                if let Some(t) = &token {
                    if let Err(re) = ptz.remove_preset(&profile, t).await {
                        tracing::warn!(camera = cam.id, token = %t, error = %re, "a captured preset the database refused stays on the camera");
                    }
                }
                return Err(e);
            }
        };
        self.db
            .audit(
                user,
                "preset_captured",
                Some(&row.name),
                Some(&camera_id.to_string()),
            )
            .await?;
        Ok(row.into())
    }

    /// Imports the presets stored in the camera itself.
    pub async fn import_presets(&self, camera_id: i64, user: Option<i64>) -> Result<ImportReport> {
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let (ranges, camera_presets) = async {
            let profile = ptz.default_profile().await?;
            let ranges = ptz.ranges(&profile).await?;
            Ok::<_, OnvifError>((ranges, ptz.presets(&profile).await?))
        }
        .await
        .map_err(|e| explain(&cam, e))?;
        let existing = self.db.list_presets(camera_id).await?;
        let mut report = ImportReport {
            imported: vec![],
            skipped: vec![],
        };
        for p in camera_presets {
            let name = readable_preset_name(&p.name, &p.token);
            let taken = existing.iter().any(|e| {
                e.name.eq_ignore_ascii_case(&name)
                    || e.onvif_token.as_deref() == Some(p.token.as_str())
            });
            if taken {
                report.skipped.push(name);
                continue;
            }
            // Cameras like the Sunba do not say where a preset points: store the centre.
            let pos = p
                .position
                .map(|v| to_position(from_onvif(v, &ranges)))
                .unwrap_or(Position {
                    pan: 0.0,
                    tilt: 0.0,
                    zoom: 0.0,
                });
            let row = self
                .db
                .create_preset(
                    camera_id,
                    &PresetWrite {
                        name,
                        pan: pos.pan.clamp(-180.0, 180.0),
                        tilt: pos.tilt.clamp(-90.0, 90.0),
                        zoom: pos.zoom.clamp(0.0, 100.0),
                        onvif_token: Some(p.token.clone()),
                        settle_ms: None,
                    },
                )
                .await?;
            report.imported.push(row.into());
        }
        self.db
            .audit(
                user,
                "presets_imported",
                Some(&cam.name),
                Some(&report.imported.len().to_string()),
            )
            .await?;
        Ok(report)
    }

    /// Removes the camera's copy of a preset that is about to be deleted. A token the camera
    /// no longer knows is already gone; a camera that says it cannot remove presets keeps its
    /// copy (nothing the user can do about it). An error means the camera could not be asked
    /// or refused: the caller decides whether to keep the preset.
    pub async fn remove_from_camera(&self, preset: &PresetRow) -> Result<CameraCopy> {
        let Some(token) = preset.onvif_token.as_deref() else {
            return Ok(CameraCopy::None);
        };
        let cam = self.db.camera(preset.camera_id).await?;
        if cam.kind != "PTZ" {
            return Ok(CameraCopy::None);
        }
        let ptz = self.client_for(&cam)?;
        let removed = async {
            let profile = ptz.default_profile().await?;
            ptz.remove_preset(&profile, token).await
        }
        .await;
        match removed {
            Ok(()) => Ok(CameraCopy::Removed),
            Err(OnvifError::NotFound(_)) => Ok(CameraCopy::AlreadyGone),
            Err(e @ (OnvifError::NotSupported { .. } | OnvifError::NotPtzCapable(_))) => {
                Ok(CameraCopy::Kept(e.to_string()))
            }
            Err(e) => Err(explain(&cam, e)),
        }
    }

    /// One authenticated exchange through the camera's cached client (GetProfiles, then
    /// GetStatus), for the health monitor: proves the login and that the head answers.
    pub async fn check(&self, cam: &CameraRow) -> std::result::Result<(), PtzFault> {
        let ptz = self.client_for(cam).map_err(|e| PtzFault {
            code: "invalid_input",
            message: e.message,
        })?;
        let checked = async {
            let profile = ptz.default_profile().await?;
            ptz.status(&profile).await
        }
        .await;
        checked.map(drop).map_err(|e| PtzFault {
            code: e.code(),
            message: explain(cam, e).message,
        })
    }
}
