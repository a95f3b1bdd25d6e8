//! Timelines: storage and validation against the configured cameras, presets and overlays
//! (`store.rs`); VistterStudio import (`import.rs`) and sync (`sync.rs`), one transaction
//! each, credentials sealed, new cameras made for unknown stream addresses; playing through
//! the program feed (`playback.rs`, with `bridge.rs` turning cues into takes); the weekly
//! scheduler (`scheduler.rs`); and the endpoints a VistterStudio broadcast node offers
//! (`studio.rs`).
//!
//! The timeline logic itself (model, import/export, validation, cues, executor, player,
//! schedule) is `vs_timeline`'s; this service feeds it the database and turns its answers into
//! API shapes.

pub mod bridge;
mod import;
mod playback;
mod scheduler;
mod store;
mod studio;
mod sync;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Clock, Error, Result, SecretBox};
use vs_db::timelines::{CatalogRows, TimelineRow, TimelineWrite};
use vs_db::Db;
use vs_timeline::{
    validate, CameraInfo, ClipSource, ExecutorPlayer, Format, Issue, MemoryCatalog, OverlayInfo,
    PresetInfo, ProgramControl, Report, Schedule, Timeline, TimelinePlayer,
};

pub use import::{
    CameraChoice, CameraMatch, CameraReference, ImportPlan, ImportResult, ImportWithChoices,
    PlanProblem, ReferenceAction,
};
pub use playback::PlayOrigin;
pub use scheduler::{parse_schedule, ScheduleInput};
pub use studio::{StudioAck, StudioSegmentRef, StudioStatus};
pub use sync::{
    AssetRef, SyncAsset, SyncInput, SyncOverlay, SyncResult, SyncStatus, SyncedAsset,
    SyncedOverlay, SyncedTimeline,
};
pub use vs_timeline::{FiredCue, PlayerStatus};

use super::assets::AssetService;
use super::cameras::CameraService;
use super::overlays::parse_keys;
use super::{Events, Infra};

/// What the PTZ layer waits after a move when a preset has no settle time of its own (its
/// fallback when the camera cannot report that it stopped), so warnings match what happens.
pub const DEFAULT_SETTLE_MS: i64 = 3_000;

/// Fields of the API's timeline shape that are not part of the model: a client sending back
/// what it read must not have them stored as unknown fields.
const READ_ONLY: &[&str] = &["schedule", "created_at", "updated_at", "warnings"];

/// A timeline as the API shows it: the model (`id, name, duration_ms, playback,
/// destination_ids, tracks`, and any unknown field it came with) plus its schedule, its dates
/// and what validation warns about now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineView {
    #[serde(flatten)]
    pub timeline: Timeline,
    pub schedule: Option<Schedule>,
    pub created_at: String,
    pub updated_at: String,
    /// Gaps, presets held shorter than they take to settle, unplayed tracks…
    pub warnings: Vec<Issue>,
}

/// Timelines: storage, VistterStudio import and sync, the player, the scheduler and the
/// endpoints of a broadcast node.
pub struct TimelineService {
    db: Db,
    secrets: SecretBox,
    events: Events,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// Imports add the cameras their segments need.
    cameras: Arc<CameraService>,
    /// Syncs store the images they push.
    assets: Arc<AssetService>,
    /// The clock timelines are played by.
    clock: Arc<dyn Clock>,
    /// Swappable, so a test can play through a program of its own.
    player: RwLock<Arc<dyn TimelinePlayer>>,
    /// What the player plays through, asked whether it is ready for the status.
    program: RwLock<Arc<dyn ProgramControl>>,
    /// The timeline the scheduler started, so it only ever stops what it started.
    scheduled: Mutex<Option<String>>,
    /// Schedules changed: the scheduler looks again now.
    kick: Notify,
    events_forwarded: AtomicBool,
}

impl TimelineService {
    /// `program` is what timelines play through (the program feed, see [`bridge`]).
    pub fn new(
        infra: &Infra,
        cameras: Arc<CameraService>,
        assets: Arc<AssetService>,
        program: Arc<dyn ProgramControl>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TimelineService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            events: infra.events.clone(),
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            cameras,
            assets,
            player: RwLock::new(Arc::new(ExecutorPlayer::new(
                Some(program.clone()),
                clock.clone(),
            ))),
            program: RwLock::new(program),
            clock,
            scheduled: Mutex::new(None),
            kick: Notify::new(),
            events_forwarded: AtomicBool::new(false),
        }
    }

    /// From now on timelines play through `program` (a test's fake, say).
    pub fn set_program(&self, program: Arc<dyn ProgramControl>) {
        *self.program.write().expect("program lock") = program.clone();
        self.set_player(Arc::new(ExecutorPlayer::new(
            Some(program),
            self.clock.clone(),
        )));
    }

    pub fn set_player(&self, player: Arc<dyn TimelinePlayer>) {
        *self.player.write().expect("player lock") = player;
        self.events_forwarded
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn player(&self) -> Arc<dyn TimelinePlayer> {
        self.player.read().expect("player lock").clone()
    }

    async fn destination_ids(&self) -> Result<Vec<i64>> {
        Ok(self
            .db
            .list_destinations()
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog and field names

/// The catalog `vs_timeline` looks sources up in, from one reading of the tables.
pub fn catalog_of(rows: &CatalogRows) -> MemoryCatalog {
    MemoryCatalog {
        cameras: rows
            .cameras
            .iter()
            .map(|c| CameraInfo {
                id: c.id,
                name: c.name.clone(),
                address: c.address.clone(),
            })
            .collect(),
        presets: rows
            .presets
            .iter()
            .map(|p| PresetInfo {
                id: p.id,
                camera_id: p.camera_id,
                name: p.name.clone(),
                token: p.onvif_token.clone(),
                settle_ms: p.settle_ms.unwrap_or(DEFAULT_SETTLE_MS),
            })
            .collect(),
        overlays: rows
            .overlays
            .iter()
            .map(|o| OverlayInfo {
                id: o.id,
                name: o.name.clone(),
                keys: parse_keys(&o.studio_keys),
            })
            .collect(),
    }
}

/// A validation path in the names of the appliance's JSON (`tracks[0].clips[2].end_ms`).
fn model_field(path: &str) -> String {
    if path == "duration" {
        return "duration_ms".into();
    }
    for (suffix, with) in [(".start", ".start_ms"), (".end", ".end_ms")] {
        if let Some(p) = path.strip_suffix(suffix) {
            return format!("{p}{with}");
        }
    }
    path.into()
}

/// A validation path in the names of the VistterStudio file it was imported from
/// (`tracks[0].clips[2].endTime`), so the studio user finds the element at fault.
fn studio_field(path: &str, format: Format) -> String {
    if format == Format::Declared && matches!(path, "id" | "name" | "duration") {
        return format!("metadata.{path}");
    }
    for (suffix, with) in [
        (".start", ".startTime"),
        (".end", ".endTime"),
        (".source.camera_id", ".asset.path"),
        (".source.preset_id", ".asset.preset"),
        (".source.overlay_id", ".asset.path"),
        (".source.x", ".position.x"),
        (".source.y", ".position.y"),
        (".source.width", ".position.width"),
        (".source.height", ".position.height"),
        (".source.opacity", ".opacity"),
        (".source", ".asset"),
    ] {
        if let Some(p) = path.strip_suffix(suffix) {
            return format!("{p}{with}");
        }
    }
    path.into()
}

fn rename_issues(issues: &[Issue], rename: impl Fn(&str) -> String) -> Vec<Issue> {
    issues
        .iter()
        .map(|i| Issue {
            path: rename(&i.path),
            message: i.message.clone(),
        })
        .collect()
}

/// The first error of a report as the one error the API answers with (the others are counted
/// in its message), its field renamed.
fn report_error(report: &Report, rename: impl Fn(&str) -> String) -> Option<Error> {
    let e = report.to_error()?;
    let field = e.field.as_deref().map(rename);
    Some(match field {
        Some(f) => Error::invalid(f, e.message),
        None => e,
    })
}

/// Validates a timeline and checks that its destinations exist.
fn full_report(timeline: &Timeline, catalog: &MemoryCatalog, destinations: &[i64]) -> Report {
    let mut report = validate(timeline, catalog);
    for (i, id) in timeline.destination_ids.iter().enumerate() {
        if *id > 0 && !destinations.contains(id) {
            report.errors.push(Issue {
                path: format!("destination_ids[{i}]"),
                message: format!("destination {id} does not exist"),
            });
        }
    }
    report
}

fn new_timeline_id() -> String {
    let r: [u8; 16] = rand::random();
    let h = hex::encode(r);
    // The shape of the studio's own ids (UUID v4), so both look alike in a list.
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][usize::from(r[8] & 3)],
        &h[17..20],
        &h[20..32]
    )
}

fn timeline_write(timeline: &Timeline, api_keys_enc: Option<String>) -> Result<TimelineWrite> {
    let mut camera_ids = Vec::new();
    let mut overlay_ids = Vec::new();
    for clip in timeline.tracks.iter().flat_map(|t| &t.clips) {
        match clip.source {
            ClipSource::Camera { camera_id, .. } => camera_ids.push(camera_id),
            ClipSource::Overlay { overlay_id, .. } => overlay_ids.push(overlay_id),
            ClipSource::Passthrough => {}
        }
    }
    Ok(TimelineWrite {
        id: timeline.id.clone().unwrap_or_default(),
        name: timeline.name.trim().to_string(),
        model: serde_json::to_string(timeline).map_err(Error::internal)?,
        playback: match timeline.playback {
            vs_timeline::Playback::Loop => "loop",
            vs_timeline::Playback::Once => "once",
        }
        .into(),
        destination_ids: serde_json::to_string(&timeline.destination_ids)
            .map_err(Error::internal)?,
        camera_ids,
        overlay_ids,
        api_keys_enc,
    })
}

fn model_of(row: &TimelineRow) -> Result<Timeline> {
    let mut t: Timeline = serde_json::from_str(&row.model).map_err(|e| {
        Error::internal(anyhow::Error::new(e).context(format!("timeline '{}' is corrupt", row.id)))
    })?;
    t.id = Some(row.id.clone());
    Ok(t)
}

fn schedule_of(row: &TimelineRow) -> Option<Schedule> {
    let text = row.schedule.as_deref()?;
    match serde_json::from_str(text) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(timeline = %row.id, error = %e, "stored schedule unreadable; ignored");
            None
        }
    }
}

fn view_of(
    row: &TimelineRow,
    catalog: &MemoryCatalog,
    destinations: &[i64],
) -> Result<TimelineView> {
    let timeline = model_of(row)?;
    let report = full_report(&timeline, catalog, destinations);
    // A timeline saved valid can turn invalid when a preset or destination goes away; the
    // problems are shown as warnings rather than hiding the timeline.
    let mut warnings = rename_issues(&report.errors, model_field);
    warnings.extend(rename_issues(&report.warnings, model_field));
    Ok(TimelineView {
        timeline,
        schedule: schedule_of(row),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
        warnings,
    })
}

fn strip_read_only(t: &mut Timeline) {
    for k in READ_ONLY {
        t.extra.shift_remove(*k);
    }
}

/// The studio's files carry `created`/`updated`; a timeline made on the appliance gets its own
/// dates so its export looks like one.
fn dated(mut t: Timeline, row: &TimelineRow) -> Timeline {
    let in_meta = |k: &str| {
        t.extra
            .get("metadata")
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(k))
    };
    let (has_created, has_updated) = (
        t.extra.contains_key("created") || in_meta("created"),
        t.extra.contains_key("updated") || in_meta("updated"),
    );
    if !has_created {
        t.extra
            .insert("created".into(), row.created_at.clone().into());
    }
    if !has_updated {
        t.extra
            .insert("updated".into(), row.updated_at.clone().into());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_as_the_request_names_them() {
        assert_eq!(
            model_field("tracks[0].clips[2].end"),
            "tracks[0].clips[2].end_ms"
        );
        assert_eq!(model_field("duration"), "duration_ms");
        assert_eq!(
            model_field("tracks[1].clips[0].source.overlay_id"),
            "tracks[1].clips[0].source.overlay_id"
        );
        assert_eq!(
            studio_field("tracks[0].clips[2].end", Format::Flat),
            "tracks[0].clips[2].endTime"
        );
        assert_eq!(
            studio_field("duration", Format::Declared),
            "metadata.duration"
        );
        assert_eq!(
            studio_field("tracks[1].clips[0].source.width", Format::Flat),
            "tracks[1].clips[0].position.width"
        );
        assert_eq!(
            studio_field("tracks[0].clips[0].source.camera_id", Format::Flat),
            "tracks[0].clips[0].asset.path"
        );
    }

    #[test]
    fn generated_ids_are_valid_timeline_ids() {
        for _ in 0..100 {
            let id = new_timeline_id();
            assert_eq!(id.len(), 36);
            assert!(
                id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
                "{id}"
            );
            assert_eq!(&id[14..15], "4");
        }
    }
}
