//! Programs: one continuous output per program. One long-lived encoder owns the connections to
//! the destinations; cameras are fed into it and switched (takes) without restarting it. A lost
//! camera becomes the slate until it returns. A preset move on the camera that is on air is
//! never seen: the picture is held until the camera has settled.

pub mod overlays;
pub mod running;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::programs::{ProgramRow, ProgramWrite};
use vs_db::Db;
use vs_engine::{
    Deps, OutputSpec, Preroll, Program, ProgramConfig, ProgramHandle, ProgramStatus, SlateSpec,
    SourceSpec,
};

pub use running::RunningPrograms;

use super::audio::AudioService;
use super::destinations::DestinationService;
use super::hub::HubService;
use super::live::{self, Feed};
use super::overlays::OverlayService;
use super::previews::{PreviewService, PreviewSource};
use super::ptz::PtzService;
use super::{validate, Events, Infra};
use crate::config::Config;

/// The body of `POST /api/programs` and `PUT /api/programs/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    #[schema(example = "Main program")]
    pub name: String,
    #[serde(default = "default_width")]
    #[schema(example = 1280)]
    pub width: i64,
    #[serde(default = "default_height")]
    #[schema(example = 720)]
    pub height: i64,
    #[serde(default = "default_fps")]
    #[schema(example = 30)]
    pub fps: i64,
    /// Video bitrate; derived from size and rate when absent.
    #[serde(default)]
    pub video_bitrate_kbps: Option<i64>,
    /// Step the video bitrate down while a destination's uplink is congested (to what it
    /// measurably takes) and back up when it recovers; only the encoder restarts, the
    /// destinations keep their sessions. Absent: off on create, kept on update.
    #[serde(default)]
    pub adaptive_bitrate: Option<bool>,
    /// `auto` (probe the hardware encoders, else libx264) or an FFmpeg encoder name.
    #[serde(default)]
    pub encoder: Option<String>,
    /// libx264's preset: `auto` (the slowest that holds real time with headroom, measured on
    /// this appliance at the program's size when it starts) or one of `ultrafast`,
    /// `superfast`, `veryfast`, `faster`, `fast`, `medium`. Hardware encoders ignore it.
    /// Absent: `auto` on create, kept on update.
    #[serde(default)]
    #[schema(example = "auto")]
    pub encoder_preset: Option<String>,
    /// Shown while the on-air camera has no picture.
    #[serde(default)]
    pub slate_text: Option<String>,
    /// `instant`: pre-rolled cameras stay decoded, a take of one is on air at the next frame;
    /// `economy`: only the on-air camera is decoded, takes start from the camera's cached
    /// keyframe. Absent: instant on create, kept on update.
    #[serde(default)]
    pub preroll: Option<Preroll>,
    pub destination_ids: Vec<i64>,
}

/// The body of `PUT /api/programs/{id}/preroll-mode`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrerollModeInput {
    pub preroll: Preroll,
}

fn default_width() -> i64 {
    1280
}
fn default_height() -> i64 {
    720
}
fn default_fps() -> i64 {
    30
}

/// The body of `POST /api/programs/{id}/take`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeInput {
    pub camera_id: i64,
    /// Move the camera to this preset first; the move is not seen on air.
    #[serde(default)]
    pub preset_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgramOutputLive {
    pub destination_id: i64,
    pub destination: String,
    pub state: String,
    pub restarts: u32,
    pub last_error: Option<String>,
    pub dropped_bytes: u64,
    /// RTMP(S) destinations: send rate, queue, drops, `congested`.
    pub uplink: Option<super::destinations::UplinkLive>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgramIngestLive {
    pub camera_id: i64,
    pub camera: String,
    pub state: String,
    pub frames: u64,
    pub last_error: Option<String>,
}

/// The live state of a running program.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgramLive {
    pub on_air_camera_id: Option<i64>,
    /// A camera taken but not on air yet (connecting, or settling after a preset move).
    pub pending_camera_id: Option<i64>,
    pub slate_active: bool,
    pub held: bool,
    pub encoder: String,
    pub encoder_state: String,
    /// Encoding speed relative to real time (1.0 = keeping up).
    pub speed: Option<f64>,
    pub bitrate_kbps: Option<f64>,
    pub fps_measured: f64,
    pub frames: u64,
    pub duplicated_frames: u64,
    pub dropped_frames: u64,
    pub slate_frames: u64,
    pub uptime_s: u64,
    pub take_latency_ms: Option<u64>,
    pub switch_gap_frames: Option<u64>,
    pub outputs: Vec<ProgramOutputLive>,
    pub ingests: Vec<ProgramIngestLive>,
    /// The encoder's video bitrate now: the program's, unless stepped down for a congested
    /// uplink (`adaptive_bitrate`); `bitrate_note` says why.
    pub video_bitrate_kbps: u32,
    pub bitrate_note: Option<String>,
    /// What is heard: levels and loudness of the program and of each decoded camera.
    pub audio: vs_engine::AudioStatus,
    /// The pre-roll choice in force and its cost on this appliance, measured while the
    /// program runs (each figure null until measured).
    pub preroll: vs_engine::PrerollStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramOverlay {
    pub overlay_id: i64,
    pub visible: bool,
    /// Where to draw it (1920x1080 reference pixels), instead of the overlay's own placement:
    /// set by timeline clips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub opacity: f64,
}

/// A program's libx264 preset: as set, and what its last start used.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct EncoderPresetView {
    /// `auto` or a preset, as set.
    #[schema(example = "auto")]
    pub setting: String,
    /// The preset the encoder used at the program's last start; null before its first start
    /// (since the appliance or its settings changed) and when its encoder is not libx264.
    #[schema(example = "superfast")]
    pub resolved: Option<String>,
    /// The encoder that start used (a hardware encoder has no preset).
    pub encoder: Option<String>,
    /// The resolved preset's measured speed (× real time, frames encoded per second over the
    /// program's rate) at `measured_at_size`; null when the preset was set by hand.
    #[schema(example = 2.1)]
    pub speed: Option<f64>,
    /// Where the speed was measured: the program's size (`1920x1080`) and rate.
    #[schema(example = "1920x1080")]
    pub measured_at_size: Option<String>,
    pub measured_at_fps: Option<u32>,
    /// False when no preset held real time with headroom at this size and `ultrafast` was
    /// taken anyway: the program may drop frames. Null when nothing was measured.
    pub holds_real_time: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgramView {
    pub id: i64,
    pub name: String,
    pub width: i64,
    pub height: i64,
    pub fps: i64,
    pub video_bitrate_kbps: i64,
    pub adaptive_bitrate: bool,
    pub encoder: String,
    /// libx264's preset, as set and as resolved at the last start.
    pub encoder_preset: EncoderPresetView,
    pub slate_text: String,
    /// Which cameras the program keeps decoded: `instant` or `economy`.
    pub preroll: Preroll,
    pub destination_ids: Vec<i64>,
    pub overlays: Vec<ProgramOverlay>,
    pub desired_state: String,
    /// The camera on air (kept across restarts).
    pub on_air_camera_id: Option<i64>,
    /// Present while the program runs.
    pub live: Option<ProgramLive>,
    pub created_at: String,
    pub updated_at: String,
}

/// Programs: their settings, the ones that run (one encoder each), takes and overlays.
pub struct ProgramService {
    db: Db,
    config: Arc<Config>,
    /// How FFmpeg children are spawned and timed (real, or a test's fakes).
    engine: Deps,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    running: Arc<RunningPrograms>,
    destinations: Arc<DestinationService>,
    ptz: Arc<PtzService>,
    /// The stored overlays (and through them the assets) a program shows.
    overlays: Arc<OverlayService>,
    /// A stopped program's preview ends with it.
    previews: Arc<PreviewService>,
    /// The camera sessions the program decodes (shared with every other consumer).
    hub: Arc<HubService>,
    /// The stored mix a program starts with (changed live by the audio service itself).
    audio: Arc<AudioService>,
    /// Serializes takes per program so two operators' clicks apply in order.
    take_lock: tokio::sync::Mutex<()>,
    encoder_probe: tokio::sync::OnceCell<vs_engine::EncoderProbe>,
    /// x264 preset probes by size and rate, each run once: a program started again (or
    /// another of the same size) does not measure again.
    preset_probes: std::sync::Mutex<PresetProbes>,
    /// What each program's last start resolved its preset to (shown in its view).
    resolved_presets: std::sync::Mutex<HashMap<i64, EncoderPresetView>>,
    /// Every change of a program goes out as `program_status`.
    events: Events,
    /// Ends the task that pushes a running program's status, by program.
    feeds: std::sync::Mutex<HashMap<i64, CancellationToken>>,
    /// One start at a time per program: a second start waits for the first and finds the
    /// program running, instead of starting a second encoder that would run on untracked.
    starting: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

type PresetProbes = HashMap<(u32, u32, u32), Arc<tokio::sync::OnceCell<vs_engine::PresetProbe>>>;

fn live(s: &ProgramStatus, names: &HashMap<i64, String>) -> ProgramLive {
    let p = s.encoder.progress.as_ref();
    ProgramLive {
        on_air_camera_id: s.on_air,
        pending_camera_id: s.pending_take,
        slate_active: s.slate_active,
        held: s.held,
        encoder: s.encoder_name.clone(),
        encoder_state: s.encoder.state.as_str().into(),
        speed: p.and_then(|p| p.speed),
        bitrate_kbps: p.and_then(|p| p.bitrate_kbps),
        fps_measured: (s.fps_measured * 10.0).round() / 10.0,
        frames: s.ticks,
        duplicated_frames: s.duplicated_frames,
        dropped_frames: s.dropped_frames,
        slate_frames: s.slate_frames,
        uptime_s: s.started_at.elapsed().map(|d| d.as_secs()).unwrap_or(0),
        take_latency_ms: s.take_latency_ms,
        switch_gap_frames: s.switch_gap_frames,
        outputs: s
            .outputs
            .iter()
            .map(|o| ProgramOutputLive {
                destination_id: o.id,
                destination: o.name.clone(),
                state: o.status.state.as_str().into(),
                restarts: o.status.restarts,
                last_error: o.status.last_error.clone(),
                dropped_bytes: o.dropped_bytes,
                uplink: o.publisher.as_ref().map(Into::into),
            })
            .collect(),
        video_bitrate_kbps: s.video_bitrate_kbps,
        bitrate_note: s.bitrate_note.clone(),
        ingests: s
            .ingests
            .iter()
            .map(|i| ProgramIngestLive {
                camera_id: i.id,
                camera: names.get(&i.id).cloned().unwrap_or_else(|| i.name.clone()),
                state: i.status.state.as_str().into(),
                frames: i.frames,
                last_error: i.status.last_error.clone(),
            })
            .collect(),
        audio: s.audio.clone(),
        preroll: s.preroll.clone(),
    }
}

/// The stored pre-roll choice; the column's CHECK allows only the two names.
fn stored_preroll(row: &ProgramRow) -> Preroll {
    Preroll::parse(&row.preroll).unwrap_or_default()
}

/// How often a running program's status is pushed without a change (counters, uptime).
const STATUS_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// What a browser sees change in a running program (counters aside: those go out with the
/// periodic push): the cameras on air and pending, slate and hold, and the state, restarts and
/// last error of every process.
#[derive(PartialEq)]
struct Signature {
    on_air: Option<i64>,
    pending: Option<i64>,
    slate: bool,
    held: bool,
    processes: Vec<(&'static str, i64, vs_engine::State, u32, Option<String>)>,
}

impl Signature {
    fn of(s: &ProgramStatus) -> Self {
        let process = |role: &'static str, id: i64, st: &vs_engine::Status| {
            (role, id, st.state, st.restarts, st.last_error.clone())
        };
        Signature {
            on_air: s.on_air,
            pending: s.pending_take,
            slate: s.slate_active,
            held: s.held,
            processes: std::iter::once(process("encoder", 0, &s.encoder))
                .chain(s.outputs.iter().map(|o| process("output", o.id, &o.status)))
                .chain(s.ingests.iter().map(|i| process("ingest", i.id, &i.status)))
                .collect(),
        }
    }
}

impl ProgramService {
    // Each neighbour explicit, as every service is wired in `app.rs`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        infra: &Infra,
        engine: Deps,
        running: Arc<RunningPrograms>,
        destinations: Arc<DestinationService>,
        ptz: Arc<PtzService>,
        overlays: Arc<OverlayService>,
        previews: Arc<PreviewService>,
        hub: Arc<HubService>,
        audio: Arc<AudioService>,
    ) -> Self {
        ProgramService {
            db: infra.db.clone(),
            config: infra.config.clone(),
            engine,
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            running,
            destinations,
            ptz,
            overlays,
            previews,
            hub,
            audio,
            take_lock: Default::default(),
            starting: Default::default(),
            encoder_probe: Default::default(),
            preset_probes: Default::default(),
            resolved_presets: Default::default(),
            events: infra.events.clone(),
            feeds: Default::default(),
        }
    }

    /// Tells browsers a program as `GET /api/programs/{id}` returns it, and returns it.
    fn announce(&self, program: ProgramView) -> ProgramView {
        if let Ok(data) = serde_json::to_value(&program) {
            self.events.publish("program_status", data);
        }
        program
    }

    /// The program as `get` returns it, told to browsers: after every action that changes it.
    async fn get_announced(&self, id: i64) -> Result<ProgramView> {
        Ok(self.announce(self.get(id).await?))
    }

    /// Pushes a running program's status while it runs: at every change of its cameras (a
    /// take, pending then on air), slate, hold or processes, and every `STATUS_PERIOD`.
    fn spawn_feed(self: &Arc<Self>, id: i64, handle: &ProgramHandle) {
        let stop = self.shutdown.child_token();
        if let Some(old) = self
            .feeds
            .lock()
            .expect("feeds lock")
            .insert(id, stop.clone())
        {
            old.cancel();
        }
        let status = handle.subscribe();
        let changes = tokio_stream::wrappers::WatchStream::from_changes(status.clone());
        let service = Arc::downgrade(self);
        let view = move || {
            let service = service.clone();
            async move {
                let program = service.upgrade()?.get(id).await.ok()?;
                serde_json::to_value(program).ok()
            }
        };
        let feed = Feed {
            kind: "program_status",
            period: STATUS_PERIOD,
        };
        self.tasks.spawn(live::run(
            feed,
            self.events.clone(),
            changes,
            move || Signature::of(&status.borrow()),
            view,
            stop,
        ));
    }

    fn end_feed(&self, id: i64) {
        if let Some(stop) = self.feeds.lock().expect("feeds lock").remove(&id) {
            stop.cancel();
        }
    }

    /// The ids of the programs that run now.
    pub async fn running_ids(&self) -> Vec<i64> {
        self.running.ids().await
    }

    async fn check_program(
        &self,
        input: &ProgramInput,
        overlays: String,
        existing: Option<&ProgramRow>,
    ) -> Result<ProgramWrite> {
        let name = validate::name("name", &input.name, 64)?;
        if !(160..=3840).contains(&input.width) || input.width % 2 != 0 {
            return Err(Error::invalid(
                "width",
                "must be an even number from 160 to 3840",
            ));
        }
        if !(90..=2160).contains(&input.height) || input.height % 2 != 0 {
            return Err(Error::invalid(
                "height",
                "must be an even number from 90 to 2160",
            ));
        }
        if !(1..=60).contains(&input.fps) {
            return Err(Error::invalid("fps", "must be between 1 and 60"));
        }
        let bitrate = match input.video_bitrate_kbps {
            Some(b) if (200..=20_000).contains(&b) => b,
            Some(_) => {
                return Err(Error::invalid(
                    "video_bitrate_kbps",
                    "must be between 200 and 20000",
                ))
            }
            None => ProgramConfig::new(
                "x",
                input.width as u32,
                input.height as u32,
                input.fps as u32,
            )
            .video_bitrate_kbps
            .clamp(200, 20_000) as i64,
        };
        let encoder = match input.encoder.as_deref().map(str::trim) {
            None | Some("") | Some("auto") => "auto".to_string(),
            Some(e) if vs_engine::CANDIDATES.contains(&e) => e.to_string(),
            Some(_) => {
                return Err(Error::invalid(
                    "encoder",
                    format!(
                        "must be auto or one of {}",
                        vs_engine::CANDIDATES.join(", ")
                    ),
                ))
            }
        };
        let encoder_preset = match input.encoder_preset.as_deref().map(str::trim) {
            None => existing.map_or("auto".to_string(), |e| e.encoder_preset.clone()),
            Some("auto") => "auto".to_string(),
            Some(p) if vs_engine::X264_PRESETS.contains(&p) => p.to_string(),
            Some(_) => {
                return Err(Error::invalid(
                    "encoder_preset",
                    format!(
                        "must be auto or one of {}",
                        vs_engine::X264_PRESETS.join(", ")
                    ),
                ))
            }
        };
        let slate_text = match input.slate_text.as_deref().map(str::trim) {
            None | Some("") => "We'll be right back".to_string(),
            Some(t) if t.chars().count() <= 120 && !t.chars().any(char::is_control) => {
                t.to_string()
            }
            Some(_) => {
                return Err(Error::invalid(
                    "slate_text",
                    "must be at most 120 characters on one line",
                ))
            }
        };
        let ids = self.destinations.check_ids(&input.destination_ids).await?;
        Ok(ProgramWrite {
            name,
            width: input.width,
            height: input.height,
            fps: input.fps,
            video_bitrate_kbps: bitrate,
            adaptive_bitrate: input
                .adaptive_bitrate
                .or(existing.map(|e| e.adaptive_bitrate))
                .unwrap_or(false),
            encoder,
            encoder_preset,
            slate_text,
            overlays,
            preroll: input
                .preroll
                .or(existing.map(stored_preroll))
                .unwrap_or_default()
                .as_str()
                .to_string(),
            destination_ids: ids,
        })
    }

    async fn program_view(&self, row: ProgramRow) -> Result<ProgramView> {
        let destination_ids = self.db.program_destination_ids(row.id).await?;
        let handle = self.running.get(row.id).await;
        let names: HashMap<i64, String> = self
            .db
            .list_cameras()
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let encoder_preset = EncoderPresetView {
            setting: row.encoder_preset.clone(),
            ..self
                .resolved_presets
                .lock()
                .expect("resolved presets")
                .get(&row.id)
                .cloned()
                .unwrap_or_default()
        };
        let preroll = stored_preroll(&row);
        Ok(ProgramView {
            id: row.id,
            preroll,
            name: row.name,
            width: row.width,
            height: row.height,
            fps: row.fps,
            video_bitrate_kbps: row.video_bitrate_kbps,
            adaptive_bitrate: row.adaptive_bitrate,
            encoder: row.encoder,
            encoder_preset,
            slate_text: row.slate_text,
            destination_ids,
            overlays: serde_json::from_str(&row.overlays).unwrap_or_default(),
            desired_state: row.desired_state,
            on_air_camera_id: handle
                .as_ref()
                .and_then(|h| h.status().on_air)
                .or(row.on_air_camera_id),
            live: handle.map(|h| live(&h.status(), &names)),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub async fn list(&self) -> Result<Vec<ProgramView>> {
        let mut out = Vec::new();
        for row in self.db.list_programs().await? {
            out.push(self.program_view(row).await?);
        }
        Ok(out)
    }

    pub async fn get(&self, id: i64) -> Result<ProgramView> {
        let row = self.db.program(id).await?;
        self.program_view(row).await
    }

    pub async fn create(&self, input: &ProgramInput, user: Option<i64>) -> Result<ProgramView> {
        let w = self.check_program(input, "[]".into(), None).await?;
        let row = self.db.save_program(None, &w).await?;
        self.db
            .audit(user, "program_created", Some(&row.name), None)
            .await?;
        Ok(self.announce(self.program_view(row).await?))
    }

    pub async fn update(
        &self,
        id: i64,
        input: &ProgramInput,
        user: Option<i64>,
    ) -> Result<ProgramView> {
        let existing = self.db.program(id).await?;
        if self.running.lock().await.contains_key(&id) {
            return Err(Error::invalid_state(
                "the program is running; stop it to change its settings (takes and overlays work while it runs)",
            ));
        }
        let overlays = existing.overlays.clone();
        let w = self.check_program(input, overlays, Some(&existing)).await?;
        let row = self.db.save_program(Some(id), &w).await?;
        // Measured at the old settings: shown again once it starts with the new ones.
        self.resolved_presets
            .lock()
            .expect("resolved presets")
            .remove(&id);
        self.db
            .audit(user, "program_updated", Some(&row.name), None)
            .await?;
        Ok(self.announce(self.program_view(row).await?))
    }

    pub async fn delete(&self, id: i64, user: Option<i64>) -> Result<()> {
        let row = self.db.program(id).await?;
        if self.running.lock().await.contains_key(&id) {
            return Err(Error::invalid_state(
                "the program is running; stop it before deleting it",
            ));
        }
        self.db.delete_program(id).await?;
        self.resolved_presets
            .lock()
            .expect("resolved presets")
            .remove(&id);
        // A reference, not the program: a page that asks for it learns (404) that it is gone.
        self.events
            .publish("program_status", serde_json::json!({ "id": id }));
        self.db
            .audit(user, "program_deleted", Some(&row.name), None)
            .await
    }

    /// The encoder for `auto`: the first candidate that really encodes on this machine,
    /// probed once.
    pub async fn auto_encoder(&self) -> Result<String> {
        let probe = self
            .encoder_probe
            .get_or_try_init(|| vs_engine::probe_encoders(&self.config.ffmpeg))
            .await?;
        probe.selected.clone().ok_or_else(|| {
            Error::new(
                vs_base::ErrorKind::Unavailable,
                "no working H.264 encoder was found; install FFmpeg with libx264",
            )
        })
    }

    /// The x264 preset probe at one size and rate, run the first time it is asked for.
    pub async fn preset_probe(
        &self,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<vs_engine::PresetProbe> {
        let cell = self
            .preset_probes
            .lock()
            .expect("preset probes")
            .entry((width, height, fps))
            .or_default()
            .clone();
        Ok(cell
            .get_or_try_init(|| {
                vs_engine::probe_x264_preset(&self.config.ffmpeg, width, height, fps)
            })
            .await?
            .clone())
    }

    /// The preset probes run so far, smallest size first.
    pub fn preset_probes(&self) -> Vec<vs_engine::PresetProbe> {
        let mut all: Vec<vs_engine::PresetProbe> = self
            .preset_probes
            .lock()
            .expect("preset probes")
            .values()
            .filter_map(|c| c.get().cloned())
            .collect();
        all.sort_by_key(|p| (p.width * p.height, p.fps));
        all
    }

    /// The preset a start of `row` with `encoder` uses: the stored one, or for `auto` the
    /// probe's choice at the program's size and rate. A probe that cannot run leaves the
    /// default preset rather than the program off the air.
    async fn resolve_preset(&self, row: &ProgramRow, encoder: &str) -> EncoderPresetView {
        let mut view = EncoderPresetView {
            setting: row.encoder_preset.clone(),
            encoder: Some(encoder.to_string()),
            ..Default::default()
        };
        if encoder != "libx264" {
            return view;
        }
        if row.encoder_preset != "auto" {
            view.resolved = Some(row.encoder_preset.clone());
            return view;
        }
        let (w, h, fps) = (row.width as u32, row.height as u32, row.fps as u32);
        match self.preset_probe(w, h, fps).await {
            Ok(p) => {
                view.resolved = Some(p.selected);
                view.speed = p.speed;
                view.measured_at_size = Some(format!("{w}x{h}"));
                view.measured_at_fps = Some(fps);
                view.holds_real_time = Some(p.holds_real_time);
            }
            Err(e) => {
                tracing::warn!(program = row.id, error = ?e, "x264 preset probe failed; using the default preset");
                view.resolved = Some(vs_engine::DEFAULT_X264_PRESET.to_string());
            }
        }
        view
    }

    pub async fn encoder_probe(&self) -> Result<vs_engine::EncoderProbe> {
        Ok(self
            .encoder_probe
            .get_or_try_init(|| vs_engine::probe_encoders(&self.config.ffmpeg))
            .await?
            .clone())
    }

    /// The source of a camera: its session of the appliance's hub, which the program decodes
    /// like every other consumer (no connection of its own, no credential to hand over).
    pub(crate) async fn camera_source(&self, camera_id: i64) -> Result<SourceSpec> {
        let cam = self.db.camera(camera_id).await?;
        if !cam.enabled {
            return Err(Error::invalid_state(format!(
                "camera '{}' is disabled",
                cam.name
            )));
        }
        // A camera just added or enabled gets its session now rather than at the listener's
        // turn.
        self.hub.session_for(cam.id).await?;
        Ok(SourceSpec::hub(self.hub.hub(), cam.id, cam.name))
    }

    pub async fn start(self: &Arc<Self>, id: i64, user: Option<i64>) -> Result<ProgramView> {
        let gate = self
            .starting
            .lock()
            .expect("start gates")
            .entry(id)
            .or_default()
            .clone();
        let _one_start = gate.lock().await;
        let row = self.db.program(id).await?;
        if self.running.lock().await.contains_key(&id) {
            return self.program_view(row).await;
        }
        let encoder = if row.encoder == "auto" {
            self.auto_encoder().await?
        } else {
            row.encoder.clone()
        };
        let preset = self.resolve_preset(&row, &encoder).await;
        let mut config = ProgramConfig::new(
            row.name.clone(),
            row.width as u32,
            row.height as u32,
            row.fps as u32,
        );
        // Labels the logs of the program's children (`program_id`).
        config.id = Some(id);
        config.video_bitrate_kbps = row.video_bitrate_kbps as u32;
        config.adaptive_bitrate = row.adaptive_bitrate;
        config.encoder = encoder;
        if let Some(p) = &preset.resolved {
            config.x264_preset = p.clone();
        }
        config.ffmpeg = self.config.ffmpeg.clone();
        config.decode_worker = self.config.decode_worker();
        match &config.decode_worker {
            Some(path) => {
                tracing::info!(program = id, decoder = %path.display(), "cameras decoded into shared memory")
            }
            None => tracing::info!(
                program = id,
                "cameras decoded by FFmpeg (no vistterstream-decoder)"
            ),
        }
        config.slate = SlateSpec {
            text: row.slate_text.clone(),
            image: None,
        };
        config.preroll = stored_preroll(&row);
        for dest_id in self.db.program_destination_ids(id).await? {
            let dest = self.db.destination(dest_id).await?;
            if !dest.enabled {
                continue;
            }
            let (url, _) = self.destinations.publish(&dest)?;
            let mut out = OutputSpec::new(dest.id, dest.name.clone(), url);
            out.secrets
                .extend(self.destinations.publish_secrets(&dest)?);
            // RTMP(S) is published from this process with these parts: no key on any
            // command line.
            out.tls_verify = dest.tls_verify;
            out.target = Some(self.destinations.target(&dest)?);
            config.outputs.push(out);
        }
        if config.outputs.is_empty() {
            return Err(Error::invalid_state(
                "every destination of this program is disabled",
            ));
        }
        // A bed that cannot be read (its file gone) must not keep the program off the air.
        config.audio = match self.audio.settings_for(id).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(program = id, error = ?e, "stored audio settings unusable; starting with the default mix");
                Default::default()
            }
        };
        let handle = Program::start(config, self.engine.clone(), self.shutdown.clone()).await?;
        tracing::info!(program = id, setting = %preset.setting, resolved = ?preset.resolved, speed = ?preset.speed, "x264 preset");
        self.resolved_presets
            .lock()
            .expect("resolved presets")
            .insert(id, preset);
        let overlays: Vec<ProgramOverlay> = serde_json::from_str(&row.overlays).unwrap_or_default();
        if let Err(e) = self.apply_overlays(&handle, &overlays).await {
            tracing::warn!(program = id, error = ?e, "overlays could not be applied at start");
        }
        // What was on air before a restart goes back on air.
        if let Some(cam) = row.on_air_camera_id {
            match self.camera_source(cam).await {
                // The program runs from here on: a failed take leaves it on the slate rather
                // than failing the start with the program already running, untracked.
                Ok(src) => {
                    if let Err(e) = handle.take(src).await {
                        tracing::warn!(program = id, camera = cam, error = ?e, "previous on-air camera could not be taken");
                    }
                }
                Err(e) => {
                    tracing::warn!(program = id, camera = cam, error = ?e, "previous on-air camera unavailable")
                }
            }
        }
        // Under the lock, so the feed's first read already finds the program running.
        let mut running = self.running.lock().await;
        self.spawn_feed(id, &handle);
        running.insert(id, handle);
        drop(running);
        self.db
            .set_program_runtime(id, "running", row.on_air_camera_id)
            .await?;
        self.db
            .audit(user, "program_started", Some(&row.name), None)
            .await?;
        metrics::gauge!("vistterstream_programs_running").increment(1.0);
        tracing::info!(program = id, name = %row.name, "program started");
        self.get_announced(id).await
    }

    pub async fn stop(&self, id: i64, user: Option<i64>) -> Result<ProgramView> {
        let row = self.db.program(id).await?;
        let handle = self.running.lock().await.remove(&id);
        if let Some(h) = handle {
            self.end_feed(id);
            let on_air = h.status().on_air;
            self.previews
                .end(PreviewSource::Program(id), "the program stopped");
            h.stop().await;
            metrics::gauge!("vistterstream_programs_running").decrement(1.0);
            self.db
                .set_program_runtime(id, "stopped", on_air.or(row.on_air_camera_id))
                .await?;
            tracing::info!(program = id, "program stopped");
        } else {
            self.db
                .set_program_runtime(id, "stopped", row.on_air_camera_id)
                .await?;
        }
        self.db
            .audit(user, "program_stopped", Some(&row.name), None)
            .await?;
        self.get_announced(id).await
    }

    pub(crate) async fn running_program(&self, id: i64) -> Result<ProgramHandle> {
        self.db.program(id).await?;
        self.running
            .get(id)
            .await
            .ok_or_else(|| Error::invalid_state("the program is not running; start it first"))
    }

    /// Puts a camera on air; with a preset, the camera is moved first and the move is not
    /// seen: when the camera is on air its picture is held until it has settled, otherwise it
    /// is decoded in the background and cut to once it has settled.
    pub async fn take(&self, id: i64, t: &TakeInput, user: Option<i64>) -> Result<ProgramView> {
        let handle = self.running_program(id).await?;
        let source = self
            .camera_source(t.camera_id)
            .await
            .map_err(|e| match e.kind {
                vs_base::ErrorKind::NotFound => Error::invalid(
                    "camera_id",
                    format!("camera {} does not exist", t.camera_id),
                ),
                _ => e,
            })?;
        if let Some(p) = t.preset_id {
            let preset =
                self.db.preset(p).await.map_err(|_| {
                    Error::invalid("preset_id", format!("preset {p} does not exist"))
                })?;
            if preset.camera_id != t.camera_id {
                return Err(Error::invalid(
                    "preset_id",
                    "the preset belongs to another camera",
                ));
            }
        }
        let _serial = self.take_lock.lock().await;
        if let Some(preset_id) = t.preset_id {
            let on_air = handle.status().on_air == Some(t.camera_id);
            if on_air {
                // Bounded by the settle timeout, so a lost camera cannot freeze the program.
                handle.hold(std::time::Duration::from_secs(35));
            } else {
                handle.preroll(source.clone()).await?;
            }
            let moved = self.ptz.move_to_preset(preset_id).await;
            if on_air {
                handle.unhold();
            }
            moved?;
        }
        let previous = handle.status().on_air;
        handle.take(source).await?;
        // Only the camera on air and the one before it (for an instant take back) stay
        // decoded: on a Pi every extra decode costs a large share of a core. In economy the
        // program itself lets the one before go once the take is on air.
        for ingest in handle.status().ingests {
            if ingest.id != t.camera_id && Some(ingest.id) != previous {
                if let Err(e) = handle.release(ingest.id).await {
                    tracing::debug!(program = id, camera = ingest.id, error = ?e, "ingest kept");
                }
            }
        }
        self.db
            .set_program_runtime(id, "running", Some(t.camera_id))
            .await?;
        metrics::counter!("vistterstream_takes_total").increment(1);
        let _ = user;
        self.get_announced(id).await
    }

    /// Cuts the program to its slate; the cameras stay decoded, so a take back is instant
    /// (in economy none stays decoded: the take back starts from the cached keyframe).
    /// A program resumed after a restart comes back on the slate too.
    pub async fn take_slate(&self, id: i64, user: Option<i64>) -> Result<ProgramView> {
        let handle = self.running_program(id).await?;
        let _serial = self.take_lock.lock().await;
        handle.take_slate().await?;
        self.db.set_program_runtime(id, "running", None).await?;
        metrics::counter!("vistterstream_takes_total").increment(1);
        let _ = user;
        self.get_announced(id).await
    }

    /// Starts decoding a camera without putting it on air, so the next take of it is instant.
    pub async fn preroll(&self, id: i64, camera_id: i64) -> Result<()> {
        let handle = self.running_program(id).await?;
        let source = self.camera_source(camera_id).await?;
        handle.preroll(source).await
    }

    /// Sets the program's pre-roll choice, live if it runs: to economy, the decoders of the
    /// cameras off air stop at once; to instant, nothing starts (pre-rolls decode again).
    pub async fn set_preroll(
        &self,
        id: i64,
        mode: Preroll,
        user: Option<i64>,
    ) -> Result<ProgramView> {
        let row = self.db.program(id).await?;
        // Under the lock, so a start in between reads either the old row and is changed here,
        // or the new one.
        let running = self.running.lock().await;
        self.db.set_program_preroll(id, mode.as_str()).await?;
        if let Some(h) = running.get(&id) {
            h.set_preroll(mode);
        }
        drop(running);
        self.db
            .audit(
                user,
                "program_preroll",
                Some(&row.name),
                Some(mode.as_str()),
            )
            .await?;
        self.get_announced(id).await
    }

    /// Sets the overlays of a program (which ones, visible or not), live if it runs.
    pub async fn set_program_overlays(
        &self,
        id: i64,
        overlays: Vec<ProgramOverlay>,
        user: Option<i64>,
    ) -> Result<ProgramView> {
        let row = self.db.program(id).await?;
        let mut seen = std::collections::HashSet::new();
        for o in &overlays {
            if !seen.insert(o.overlay_id) {
                return Err(Error::invalid(
                    "overlay_id",
                    format!("overlay {} is listed twice", o.overlay_id),
                ));
            }
        }
        let handle = self.running.get(id).await;
        if let Some(h) = &handle {
            // Rendered and validated first: on error nothing changes, on air or stored.
            self.apply_overlays(h, &overlays).await?;
        } else {
            self.engine_overlays(&overlays, row.width as u32, row.height as u32)
                .await?;
        }
        let json = serde_json::to_string(&overlays).map_err(Error::internal)?;
        self.db.set_program_overlays(id, &json).await?;
        self.db
            .audit(user, "program_overlays", Some(&row.name), None)
            .await?;
        self.get_announced(id).await
    }

    async fn apply_overlays(
        &self,
        handle: &ProgramHandle,
        overlays: &[ProgramOverlay],
    ) -> Result<()> {
        let engine = self
            .engine_overlays(overlays, handle.config().width, handle.config().height)
            .await?;
        handle.set_overlays(engine).await
    }

    /// Starts again every program that was running when the appliance stopped.
    pub async fn resume(self: &Arc<Self>) -> Result<()> {
        for row in self.db.list_programs().await? {
            if row.desired_state == "running" {
                let programs = self.clone();
                self.tasks.spawn(async move {
                    match programs.start(row.id, None).await {
                        Ok(_) => tracing::info!(program = row.id, "program resumed after restart"),
                        Err(e) => tracing::warn!(program = row.id, error = ?e, "program could not be resumed"),
                    }
                });
            }
        }
        Ok(())
    }

    /// Stops every program (at shutdown), keeping what should run for the next start.
    pub async fn stop_all(&self) {
        let all: Vec<(i64, ProgramHandle)> = self.running.lock().await.drain().collect();
        for (id, h) in all {
            self.end_feed(id);
            let on_air = h.status().on_air;
            h.stop().await;
            let _ = self.db.set_program_runtime(id, "running", on_air).await;
        }
    }
}
