//! The studio's commands, executed one at a time in the order received: each payload is read
//! into the type of the matching REST call's body and goes through the same service method,
//! so a command is checked exactly like the API call and can do nothing the API cannot. Every
//! command gets one ACK (accepted with the result, or refused with the API's reason), stored
//! with its message id: a redelivery gets the same ACK again and runs nothing.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use vs_base::{Error, ErrorKind, Result};

use super::contract::{self, payload, Command};
use super::session::Received;
use super::{Execution, LinkService};
use crate::services::overlays::OverlayInput;
use crate::services::programs::{ProgramOverlay, TakeInput};
use crate::services::timelines::{PlayOrigin, SyncOverlay};

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum DeviceConfig {
    /// What the appliance has: cameras, presets, programs, destinations, timelines, overlays.
    Get,
    /// What the studio may change: only what `PUT /api/link` also changes.
    Set { config_patch: ConfigPatch },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    metrics_interval_s: i64,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum CameraAction {
    /// `POST /api/programs/{program_id}/take`.
    Take {
        program_id: i64,
        camera_id: i64,
        #[serde(default)]
        preset_id: Option<i64>,
    },
    /// `POST /api/presets/{preset_id}/move` (or `/api/cameras/{camera_id}/presets/{id}/move`).
    PresetMove {
        preset_id: i64,
        #[serde(default)]
        camera_id: Option<i64>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum TimelineExecute {
    /// `POST /api/timelines/{id}/start`.
    Start { timeline_id: String },
    /// `POST /api/timelines/{id}/stop`.
    Stop { timeline_id: String },
    /// `POST /api/timelines/{id}/jump`.
    Jump {
        timeline_id: String,
        clip_id: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum OverlayUpdate {
    /// `PUT /api/programs/{program_id}/overlays`.
    SetProgramOverlays {
        program_id: i64,
        overlays: Vec<ProgramOverlay>,
    },
    /// `PUT /api/overlays/{overlay_id}`.
    UpdateOverlay {
        overlay_id: i64,
        overlay: Box<OverlayInput>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamControl {
    program_id: i64,
    command: ProgramCommand,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ProgramCommand {
    /// `POST /api/programs/{id}/start`.
    Start,
    /// `POST /api/programs/{id}/stop`.
    Stop,
    /// `POST /api/programs/{id}/slate`.
    Slate,
}

/// `POST /api/overlays/sync`, with the images fetched from the manifest instead of inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimelineLoad {
    /// VistterStudio segments, exactly as the studio writes them.
    pub segments: Vec<Value>,
    #[serde(default)]
    pub assets_manifest: Vec<super::assets::ManifestEntry>,
    #[serde(default)]
    pub overlays: Vec<SyncOverlay>,
    /// false: a segment naming a stream no camera has is refused instead of adding a camera.
    #[serde(default = "yes")]
    pub create_cameras: bool,
}

fn yes() -> bool {
    true
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(Error::internal)
}

impl LinkService {
    /// Takes commands from the connection, answers each, then lets the connection acknowledge
    /// it to the broker. A command that could not be answered (the database failing) is not
    /// acknowledged: the broker delivers it again after the next reconnection.
    pub(super) async fn run_worker(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Received>,
        done: mpsc::UnboundedSender<Received>,
    ) {
        loop {
            let received = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
            };
            match self.handle(&received.publish.payload).await {
                Ok(()) => {
                    let _ = done.send(received);
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "a studio command could not be answered; the broker will deliver it again")
                }
            }
        }
    }

    async fn handle(self: &Arc<Self>, bytes: &[u8]) -> Result<()> {
        let Some(device) = self.active_device() else {
            // Switched off meanwhile: nothing is answered.
            return Ok(());
        };
        let limit = self.queue_limit();
        let (id, kind, outcome) = match contract::parse_command(bytes, &device) {
            Err(refusal) => {
                tracing::debug!(reason = %refusal.error.message, "studio command refused");
                (refusal.message_id, refusal.command, Err(refusal.error))
            }
            Ok(cmd) => {
                if let Some(stored) = self.db.link_command_ack(&cmd.message_id).await? {
                    tracing::debug!(message_id = %cmd.message_id, "studio command seen before: same ACK again");
                    let q = self.db.enqueue_link_message("ack", &stored, limit).await?;
                    self.queued(q).await;
                    return Ok(());
                }
                let outcome = self.execute(&cmd).await;
                match &outcome {
                    Err(e) if e.kind == ErrorKind::Internal => {
                        tracing::error!(command = %cmd.kind, error = ?e, "studio command failed")
                    }
                    Err(e) => {
                        tracing::info!(command = %cmd.kind, reason = %e.message, "studio command refused")
                    }
                    Ok(_) => {
                        tracing::info!(command = %cmd.kind, message_id = %cmd.message_id, "studio command executed")
                    }
                }
                let ack = contract::ack(&device, Some(&cmd.message_id), Some(&cmd.kind), &outcome);
                let q = self
                    .db
                    .record_link_command(&cmd.message_id, &ack.to_string(), limit)
                    .await?;
                self.queued(q).await;
                self.after_ack(&device, &cmd, &outcome).await?;
                return Ok(());
            }
        };
        if let Some(id) = &id {
            if let Some(stored) = self.db.link_command_ack(id).await? {
                let q = self.db.enqueue_link_message("ack", &stored, limit).await?;
                self.queued(q).await;
                return Ok(());
            }
        }
        let ack = contract::ack(&device, id.as_deref(), kind.as_deref(), &outcome);
        let q = match &id {
            Some(id) => {
                self.db
                    .record_link_command(id, &ack.to_string(), limit)
                    .await?
            }
            None => {
                self.db
                    .enqueue_link_message("ack", &ack.to_string(), limit)
                    .await?
            }
        };
        self.queued(q).await;
        Ok(())
    }

    /// A timeline started by the studio reports where it is as PROGRESS, from now on.
    async fn after_ack(&self, device: &str, cmd: &Command, outcome: &Result<Value>) -> Result<()> {
        if cmd.kind != "TIMELINE_EXECUTE" {
            return Ok(());
        }
        let Ok(status) = outcome else { return Ok(()) };
        if cmd.payload.get("action").and_then(Value::as_str) != Some("start") {
            return Ok(());
        }
        let Some(timeline_id) = status.get("timeline_id").and_then(Value::as_str) else {
            return Ok(());
        };
        let progress = super::watch::progress_of(status);
        let last = super::watch::progress_key(status);
        let message = contract::message(device, "PROGRESS", Some(&cmd.message_id), progress);
        self.enqueue("ack", &message).await?;
        *self.execution.lock().expect("execution lock") = Some(Execution {
            timeline_id: timeline_id.to_string(),
            message_id: cmd.message_id.clone(),
            last: Some(last),
        });
        Ok(())
    }

    /// Runs a command through the services; the result is what the API call would answer.
    async fn execute(self: &Arc<Self>, cmd: &Command) -> Result<Value> {
        let t = &self.targets;
        let p = cmd.payload.clone();
        match cmd.kind.as_str() {
            "DEVICE_CONFIG" => match payload::<DeviceConfig>(p)? {
                DeviceConfig::Get => self.inventory().await,
                DeviceConfig::Set { config_patch } => {
                    self.set_metrics_interval(config_patch.metrics_interval_s)
                        .await?;
                    Ok(json!({"metrics_interval_s": config_patch.metrics_interval_s}))
                }
            },
            "CAMERA_ACTION" => match payload::<CameraAction>(p)? {
                CameraAction::Take {
                    program_id,
                    camera_id,
                    preset_id,
                } => to_value(
                    &t.programs
                        .take(
                            program_id,
                            &TakeInput {
                                camera_id,
                                preset_id,
                            },
                            None,
                        )
                        .await?,
                ),
                CameraAction::PresetMove {
                    preset_id,
                    camera_id,
                } => {
                    if let Some(camera_id) = camera_id {
                        let p = t.cameras.preset(preset_id).await?;
                        if p.camera_id != camera_id {
                            return Err(Error::not_found(format!(
                                "preset {preset_id} of camera {camera_id}"
                            )));
                        }
                    }
                    to_value(&t.ptz.move_to_preset(preset_id).await?)
                }
            },
            "TIMELINE_LOAD" => {
                let load = payload::<TimelineLoad>(p)?;
                self.timeline_load(&cmd.message_id, load).await
            }
            "TIMELINE_EXECUTE" => match payload::<TimelineExecute>(p)? {
                TimelineExecute::Start { timeline_id } => to_value(
                    &t.timelines
                        .start(&timeline_id, PlayOrigin::User, None)
                        .await?,
                ),
                TimelineExecute::Stop { timeline_id } => {
                    to_value(&t.timelines.stop_this(&timeline_id, None).await?)
                }
                TimelineExecute::Jump {
                    timeline_id,
                    clip_id,
                } => to_value(&t.timelines.jump_to_clip(&timeline_id, &clip_id).await?),
            },
            "OVERLAY_UPDATE" => match payload::<OverlayUpdate>(p)? {
                OverlayUpdate::SetProgramOverlays {
                    program_id,
                    overlays,
                } => to_value(
                    &t.programs
                        .set_program_overlays(program_id, overlays, None)
                        .await?,
                ),
                OverlayUpdate::UpdateOverlay {
                    overlay_id,
                    overlay,
                } => to_value(&t.overlays.update(overlay_id, &overlay, None).await?),
            },
            "STREAM_CONTROL" => {
                let c = payload::<StreamControl>(p)?;
                let view = match c.command {
                    ProgramCommand::Start => t.programs.start(c.program_id, None).await?,
                    ProgramCommand::Stop => t.programs.stop(c.program_id, None).await?,
                    ProgramCommand::Slate => t.programs.take_slate(c.program_id, None).await?,
                };
                to_value(&view)
            }
            other => Err(Error::new(
                ErrorKind::Validation,
                format!("unknown command type {other}"),
            )),
        }
    }

    /// What DEVICE_CONFIG `get` answers: the ids a studio needs to drive the appliance, as the
    /// API lists them (never a password or a stream key: the API shapes have none).
    async fn inventory(&self) -> Result<Value> {
        let t = &self.targets;
        let cameras = t.cameras.list().await?;
        let mut presets = Vec::new();
        for c in &cameras {
            for p in t.cameras.list_presets(c.id).await? {
                presets.push(json!({"id": p.id, "camera_id": p.camera_id, "name": p.name}));
            }
        }
        let cameras: Vec<Value> = cameras
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "type": c.kind, "enabled": c.enabled}))
            .collect();
        let programs: Vec<Value> = t
            .programs
            .list()
            .await?
            .iter()
            .map(|p| {
                json!({"id": p.id, "name": p.name, "desired_state": p.desired_state,
                       "on_air_camera_id": p.live.as_ref().and_then(|l| l.on_air_camera_id)})
            })
            .collect();
        let destinations: Vec<Value> = t
            .destinations
            .list()
            .await?
            .iter()
            .map(|d| json!({"id": d.id, "name": d.name, "platform": d.platform, "enabled": d.enabled}))
            .collect();
        let timelines: Vec<Value> = t
            .timelines
            .list()
            .await?
            .iter()
            .map(|v| {
                json!({"id": v.timeline.id, "name": v.timeline.name, "duration_ms": v.timeline.duration_ms})
            })
            .collect();
        let overlays: Vec<Value> = t
            .overlays
            .list()
            .await?
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "kind": o.kind}))
            .collect();
        Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "cameras": cameras,
            "presets": presets,
            "programs": programs,
            "destinations": destinations,
            "timelines": timelines,
            "overlays": overlays,
            "metrics_interval_s": self.metrics_interval().as_secs(),
        }))
    }
}
