//! PTZ control of a camera over ONVIF: presets that really move the camera (to the camera-side
//! token when there is one, otherwise an absolute move to the stored position), reporting only
//! once the camera has settled; the control pad (continuous move / stop); saving the current
//! position; importing the camera's own presets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::{Error, Result, Secret, SecretBox};
use vs_db::cameras::CameraRow;
use vs_db::presets::PresetWrite;
use vs_db::Db;
use vs_onvif::{
    from_onvif, move_and_settle, to_onvif, MoveStatus, MoveTarget, OnvifClient, OnvifConfig,
    PresetPosition, Ptz, PtzVector, SettlePolicy,
};

use super::presets::Preset;
use super::{validate, Infra};

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

/// PTZ control over ONVIF. One client per camera, kept while its settings do not change (it
/// caches the discovery and the camera's clock offset).
pub struct PtzService {
    db: Db,
    secrets: SecretBox,
    connector: Arc<dyn PtzConnector>,
    /// Per camera: the settings the client was made with, and the client.
    clients: Mutex<HashMap<i64, CachedClient>>,
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
    /// The camera stops by itself after this long, should the stop never arrive (100–10000).
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
            clients: Mutex::new(HashMap::new()),
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
        let port = cam.onvif_port.unwrap_or(80) as u16;
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
        let profile = ptz.default_profile().await?;
        let ranges = ptz.ranges(&profile).await?;
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
                position: to_onvif(stored, &ranges)?,
                speed: None,
            },
        };
        let policy = SettlePolicy {
            settle_time: preset
                .settle_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
            ..Default::default()
        };
        let report = move_and_settle(ptz.as_ref(), &profile, &target, &policy).await?;
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
        let profile = ptz.default_profile().await?;
        let ranges = ptz.ranges(&profile).await?;
        let status = ptz.status(&profile).await?;
        Ok(PtzState {
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
        let profile = ptz.default_profile().await?;
        ptz.continuous_move(
            &profile,
            PtzVector {
                pan: v.pan,
                tilt: v.tilt,
                zoom: v.zoom,
            },
            Some(timeout),
        )
        .await?;
        Ok(())
    }

    /// Stops any movement (the pad is released).
    pub async fn stop(&self, camera_id: i64) -> Result<()> {
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let profile = ptz.default_profile().await?;
        ptz.stop(&profile).await?;
        Ok(())
    }

    /// Saves where the camera is now as a preset, on the camera too when it accepts it.
    pub async fn capture_preset(
        &self,
        camera_id: i64,
        input: &CaptureInput,
        user: Option<i64>,
    ) -> Result<Preset> {
        let name = validate::name("name", &input.name, 64)?;
        let cam = self.db.camera(camera_id).await?;
        let ptz = self.client_for(&cam)?;
        let profile = ptz.default_profile().await?;
        let ranges = ptz.ranges(&profile).await?;
        let status = ptz.status(&profile).await?;
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
        let settle_ms = match input.settle_ms {
            None => None,
            Some(ms) if (0..=120_000).contains(&ms) => Some(ms),
            Some(_) => {
                return Err(Error::invalid(
                    "settle_ms",
                    "must be between 0 and 120000 milliseconds",
                ))
            }
        };
        let p = to_position(pos);
        let row = self
            .db
            .create_preset(
                camera_id,
                &PresetWrite {
                    name,
                    pan: p.pan.clamp(-180.0, 180.0),
                    tilt: p.tilt.clamp(-90.0, 90.0),
                    zoom: p.zoom.clamp(0.0, 100.0),
                    onvif_token: token,
                    settle_ms,
                },
            )
            .await?;
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
        let profile = ptz.default_profile().await?;
        let ranges = ptz.ranges(&profile).await?;
        let existing = self.db.list_presets(camera_id).await?;
        let mut report = ImportReport {
            imported: vec![],
            skipped: vec![],
        };
        for p in ptz.presets(&profile).await? {
            let name = if p.name.trim().is_empty() {
                format!("Preset {}", p.token)
            } else {
                p.name.trim().chars().take(64).collect()
            };
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
}
