//! Timelines: storage and validation against the configured cameras, presets and overlays;
//! VistterStudio import, export and sync (one transaction, credentials sealed, new cameras made
//! for unknown stream addresses); the player that runs a timeline's cues through the program
//! feed; the weekly scheduler; and the endpoints a VistterStudio broadcast node offers.
//!
//! The timeline logic itself (model, import/export, validation, cues, executor, schedule) is
//! `vs_timeline`'s; this module feeds it the database and turns its answers into API shapes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{watch, Notify};
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Result};
use vs_db::cameras::CameraRow;
use vs_db::timelines::{CatalogRows, CatalogTx, TimelineRow, TimelineWrite};
use vs_timeline::vistter::{ApiKey, Missing};
use vs_timeline::{
    compile, validate, CameraInfo, ClipSource, Clock, CompileOptions, CueList, Executor,
    ExecutorOptions, ExportOptions, Format, Import, Issue, MemoryCatalog, OverlayInfo, OverlayShow,
    PlayState, PresetInfo, ProgramControl, Report, Schedule, Timeline, TokioClock,
};

use super::assets::{
    check_asset, overlay_write, parse_keys, store_asset_file, validate_overlay, AssetUpload,
    CheckedAsset, OverlayDefinition, OverlayKind,
};
use super::cameras::{validate_camera, Camera, CameraInput};
use super::Controller;

/// What the PTZ layer waits after a move when a preset has no settle time of its own (its
/// fallback when the camera cannot report that it stopped), so warnings match what happens.
pub const DEFAULT_SETTLE_MS: i64 = 3_000;

/// Fields of the API's timeline shape that are not part of the model: a client sending back
/// what it read must not have them stored as unknown fields.
const READ_ONLY: &[&str] = &["schedule", "created_at", "updated_at", "warnings"];

// ---------------------------------------------------------------------------------------------
// Shapes

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

/// The body of `PUT /api/timelines/{id}/schedule`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: Vec<String>,
    #[schema(example = "08:00")]
    pub start: String,
    #[schema(example = "18:00")]
    pub end: String,
    /// IANA zone; the appliance's own when absent.
    #[serde(default)]
    #[schema(example = "Europe/Paris")]
    pub tz: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResult {
    pub timeline: TimelineView,
    /// The shape the file had.
    pub format: Format,
    /// Cameras made for stream addresses no configured camera had.
    pub created_cameras: Vec<Camera>,
    /// Where credentials were found; they are now sealed in the appliance, never shown.
    pub credentials_moved: Vec<String>,
    /// Warnings, with paths in the file (`tracks[0].clips[1].endTime`).
    pub warnings: Vec<Issue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Created,
    Updated,
    Unchanged,
}

/// An asset pushed by VistterStudio: its reference in the studio (`id`, `path`), and the bytes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncAsset {
    /// The studio's asset id (what segments put in `asset.path`).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    #[schema(example = "image/png")]
    pub mime: Option<String>,
    /// The file, base64 (a `data:` URL is accepted too).
    pub data_base64: String,
    /// The studio's path of the file (`/uploads/logo.png`), another name segments use for it.
    #[serde(default)]
    pub path: Option<String>,
}

/// An asset reference in a synced overlay: the studio's id of an asset of the same sync, or
/// the id of an asset already on the appliance.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AssetRef {
    Appliance(i64),
    Studio(String),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncOverlay {
    /// The studio's id for this overlay; matched against the overlays' `studio_keys`, else
    /// the overlay of the same name is updated.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub asset: Option<AssetRef>,
    #[serde(default)]
    pub definition: OverlayDefinition,
    /// More references segments may use for this overlay.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// The body of `POST /api/overlays/sync`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    #[serde(default)]
    pub assets: Vec<SyncAsset>,
    #[serde(default)]
    pub overlays: Vec<SyncOverlay>,
    /// VistterStudio segments, flat or declared shape, exactly as the studio writes them.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub timelines: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedAsset {
    /// The studio's id, when it sent one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub id: i64,
    pub name: String,
    pub sha256: String,
    pub status: SyncStatus,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedOverlay {
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub id: i64,
    pub name: String,
    pub status: SyncStatus,
    /// Made by the appliance for an asset that no overlay showed.
    pub automatic: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedTimeline {
    pub id: String,
    pub name: String,
    pub status: SyncStatus,
    pub warnings: Vec<Issue>,
}

/// What a sync did; nothing at all when it answers with an error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncResult {
    pub assets: Vec<SyncedAsset>,
    pub overlays: Vec<SyncedOverlay>,
    pub timelines: Vec<SyncedTimeline>,
    pub created_cameras: Vec<Camera>,
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

/// The appliance's time zone: `TZ`, else the system's setting, else UTC.
fn appliance_tz() -> String {
    let candidates = [
        std::env::var("TZ")
            .ok()
            .map(|t| t.trim_start_matches(':').to_string()),
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|t| t.trim().to_string()),
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/").map(|(_, z)| z.to_string())
        }),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|t| Schedule::parse_tz("tz", t).is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// Checks a schedule, every error naming its field.
pub fn parse_schedule(input: &ScheduleInput) -> Result<Schedule> {
    use std::str::FromStr;
    if input.days.is_empty() {
        return Err(Error::invalid(
            "days",
            "choose at least one day (mon … sun)",
        ));
    }
    let mut days = Vec::new();
    for (i, d) in input.days.iter().enumerate() {
        let day = chrono::Weekday::from_str(d.trim()).map_err(|_| {
            Error::invalid(
                format!("days[{i}]"),
                format!("'{d}' is not a day of the week; use mon, tue, wed, thu, fri, sat, sun"),
            )
        })?;
        days.push(day);
    }
    let start = Schedule::parse_time("start", &input.start)?;
    let end = Schedule::parse_time("end", &input.end)?;
    let tz = match input.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Schedule::parse_tz("tz", t)?,
        None => Schedule::parse_tz("tz", &appliance_tz())?,
    };
    Ok(Schedule::new(days, start, end, tz))
}

// ---------------------------------------------------------------------------------------------
// CRUD

impl Controller {
    async fn destination_ids(&self) -> Result<Vec<i64>> {
        Ok(self
            .db
            .list_destinations()
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }

    pub async fn list_timelines(&self) -> Result<Vec<TimelineView>> {
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let destinations = self.destination_ids().await?;
        self.db
            .list_timelines()
            .await?
            .iter()
            .map(|r| view_of(r, &catalog, &destinations))
            .collect()
    }

    pub async fn timeline(&self, id: &str) -> Result<TimelineView> {
        let row = self.db.timeline(id).await?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        view_of(&row, &catalog, &self.destination_ids().await?)
    }

    /// Checks a timeline without storing it: every error and warning, in the model's names.
    pub async fn validate_timeline(&self, mut timeline: Timeline) -> Result<Report> {
        strip_read_only(&mut timeline);
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &self.destination_ids().await?);
        Ok(Report {
            errors: rename_issues(&report.errors, model_field),
            warnings: rename_issues(&report.warnings, model_field),
        })
    }

    /// Stores a timeline made on the appliance; refused (and nothing stored) unless valid.
    pub async fn create_timeline(
        &self,
        mut timeline: Timeline,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        strip_read_only(&mut timeline);
        if timeline.id.is_none() {
            timeline.id = Some(new_timeline_id());
        }
        self.save_model(timeline, false, user_id).await
    }

    pub async fn update_timeline(
        &self,
        id: &str,
        mut timeline: Timeline,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        strip_read_only(&mut timeline);
        if timeline.id.as_deref().is_some_and(|given| given != id) {
            return Err(Error::invalid(
                "id",
                "differs from the id in the address; a timeline's id cannot change",
            ));
        }
        timeline.id = Some(id.to_string());
        let view = self.save_model(timeline, true, user_id).await?;
        self.reload_if_playing(id, &view.timeline).await;
        Ok(view)
    }

    async fn save_model(
        &self,
        timeline: Timeline,
        update: bool,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        let destinations = self.destination_ids().await?;
        let mut tx = self.db.catalog_tx().await?;
        let catalog = catalog_of(&tx.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &destinations);
        if let Some(e) = report_error(&report, model_field) {
            return Err(e);
        }
        let w = timeline_write(&timeline, None)?;
        let row = if update {
            tx.update_timeline(&w).await?
        } else {
            tx.insert_timeline(&w).await?
        };
        let action = if update {
            "timeline_updated"
        } else {
            "timeline_created"
        };
        tx.audit(user_id, action, Some(&row.name), Some(&row.id))
            .await?;
        tx.commit().await?;
        self.publish("timeline_changed", serde_json::json!({ "id": row.id }));
        view_of(&row, &catalog, &destinations)
    }

    pub async fn delete_timeline(&self, id: &str, user_id: Option<i64>) -> Result<()> {
        let row = self.db.timeline(id).await?;
        let status = self.timelines.player().status();
        if status.state == "playing" && status.timeline_id.as_deref() == Some(id) {
            return Err(Error::invalid_state(
                "the timeline is playing; stop it first",
            ));
        }
        self.db.delete_timeline(id).await?;
        self.db
            .audit(user_id, "timeline_deleted", Some(&row.name), Some(id))
            .await?;
        self.publish("timeline_changed", serde_json::json!({ "id": id }));
        self.timelines.kick.notify_one();
        Ok(())
    }

    /// The cue list the executor would fire for a timeline.
    pub async fn timeline_cues(&self, id: &str) -> Result<CueList> {
        let row = self.db.timeline(id).await?;
        Ok(compile(&model_of(&row)?, &CompileOptions::default()))
    }

    pub async fn set_timeline_schedule(
        &self,
        id: &str,
        input: Option<&ScheduleInput>,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        let text = match input {
            Some(i) => Some(serde_json::to_string(&parse_schedule(i)?).map_err(Error::internal)?),
            None => None,
        };
        let row = self.db.set_timeline_schedule(id, text.as_deref()).await?;
        self.db
            .audit(
                user_id,
                "timeline_scheduled",
                Some(&row.name),
                Some(text.as_deref().unwrap_or("none")),
            )
            .await?;
        self.publish("timeline_changed", serde_json::json!({ "id": id }));
        self.timelines.kick.notify_one();
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        view_of(&row, &catalog, &self.destination_ids().await?)
    }

    /// A timeline as a VistterStudio segment file (never with credentials), and its file name.
    pub async fn export_timeline(
        &self,
        id: &str,
        format: Option<Format>,
    ) -> Result<(String, String)> {
        let row = self.db.timeline(id).await?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let timeline = dated(model_of(&row)?, &row);
        let text = vs_timeline::export_pretty(
            &timeline,
            &catalog,
            &ExportOptions {
                format,
                credentials: None,
            },
        )?;
        Ok((format!("{id}.json"), text))
    }
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

// ---------------------------------------------------------------------------------------------
// VistterStudio import and sync

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentMode {
    /// An import: a timeline with the same id is a conflict.
    Create,
    /// A sync: a timeline with the same id is replaced (its schedule and destinations stay).
    Upsert,
}

/// What to do about a stream address no camera has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CameraPolicy {
    /// Refuse the segment (`create_cameras=false`).
    Refuse,
    /// Add the camera inside the transaction (`create_cameras=true`), so it commits with the
    /// timeline or not at all, and list it for the answer.
    Plan,
}

/// A camera a segment needed, added (password sealed) in the import's transaction; announced
/// (cache, audit, events) after the commit.
struct PlannedCamera {
    /// The element of the request that needed it.
    field: String,
    /// Inserted in the import's transaction: it commits or rolls back with the timeline.
    row: CameraRow,
    note: Issue,
}

/// A synced overlay checked before the transaction; `index` is its place in the request.
struct CheckedOverlay {
    name: String,
    kind: OverlayKind,
    definition: OverlayDefinition,
    index: usize,
}

struct SegmentOutcome {
    row: TimelineRow,
    status: SyncStatus,
    planned: Vec<PlannedCamera>,
    warnings: Vec<Issue>,
}

/// A name not taken yet (case-insensitively): `base`, else `base 2`, `base 3`…
fn free_name(base: &str, taken: &[String]) -> String {
    let base: String = base.trim().chars().take(58).collect();
    let base = if base.is_empty() {
        "Camera".to_string()
    } else {
        base
    };
    let is_taken = |n: &str| taken.iter().any(|t| t.eq_ignore_ascii_case(n));
    if !is_taken(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base} {i}"))
        .find(|n| !is_taken(n))
        .expect("an unbounded range ends with a free name")
}

fn unresolved_field(u: &vs_timeline::Unresolved) -> String {
    let path = u.paths.first().cloned().unwrap_or_else(|| "tracks".into());
    match u.missing {
        Missing::Preset { .. } => format!("{path}.asset.preset"),
        _ => format!("{path}.asset.path"),
    }
}

fn api_key_name(k: &ApiKey) -> String {
    k.config_id.clone().unwrap_or_else(|| k.path.clone())
}

/// Whether the sealed keys stored are the ones the segment brings (none brought: kept).
fn same_api_keys(ctl: &Controller, stored: Option<&str>, keys: &[ApiKey]) -> bool {
    if keys.is_empty() {
        return true;
    }
    let Some(map) = stored.and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok()) else {
        return false;
    };
    map.len() == keys.len()
        && keys.iter().all(|k| {
            map.get(&api_key_name(k))
                .and_then(Value::as_str)
                .and_then(|sealed| ctl.secrets.open(sealed).ok())
                .is_some_and(|open| open.expose() == k.key.expose())
        })
}

fn seal_api_keys(ctl: &Controller, keys: &[ApiKey]) -> Result<Option<String>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for k in keys {
        map.insert(api_key_name(k), ctl.secrets.seal(&k.key).into());
    }
    Ok(Some(serde_json::to_string(&map).map_err(Error::internal)?))
}

impl Controller {
    /// Imports a segment file as the studio writes it. Unknown stream addresses become new
    /// cameras (credentials sealed) unless `create_cameras` is false; then, like any other
    /// unresolved source, they make the import fail with the list of what is missing.
    ///
    /// Nothing is written unless everything is valid: the cameras it needs and the timeline are
    /// written in one transaction, committed only when the whole import passed.
    pub async fn import_segment(
        &self,
        doc: Value,
        create_cameras: bool,
        user_id: Option<i64>,
    ) -> Result<ImportResult> {
        let import = Import::from_value(doc)?;
        let destinations = self.destination_ids().await?;
        let policy = if create_cameras {
            CameraPolicy::Plan
        } else {
            CameraPolicy::Refuse
        };
        let mut tx = self.db.catalog_tx().await?;
        let mut out = self
            .store_segment(&mut tx, &import, "", SegmentMode::Create, policy, user_id)
            .await?;
        // Cameras the segment needed were added in the same transaction: all or nothing.
        tx.commit().await?;
        let planned = std::mem::take(&mut out.planned);
        let created = self.announce_created_cameras(&planned, user_id).await;
        out.warnings
            .splice(0..0, planned.into_iter().map(|p| p.note));
        self.publish("timeline_changed", serde_json::json!({ "id": out.row.id }));
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        Ok(ImportResult {
            timeline: view_of(&out.row, &catalog, &destinations)?,
            format: import.format,
            created_cameras: created,
            credentials_moved: import.removed_credentials.clone(),
            warnings: out.warnings,
        })
    }

    /// After the commit of an import that added cameras: the camera list cache, the audit log
    /// and the live events, as `create_camera` does for one camera.
    async fn announce_created_cameras(
        &self,
        planned: &[PlannedCamera],
        user_id: Option<i64>,
    ) -> Vec<Camera> {
        if planned.is_empty() {
            return Vec::new();
        }
        self.db.forget_cameras();
        let mut created = Vec::new();
        for p in planned {
            let row = &p.row;
            tracing::info!(camera = row.id, name = %row.name, address = %row.address, "camera added for a VistterStudio segment");
            if let Err(e) = self
                .db
                .audit(
                    user_id,
                    "camera_created",
                    Some(&row.name),
                    Some(&row.address),
                )
                .await
            {
                tracing::warn!(camera = row.id, error = %e, "audit of an imported camera");
            }
            self.publish("camera_changed", serde_json::json!({ "id": row.id }));
            created.push(Camera::from(row.clone()));
        }
        self.health.kick.notify_one();
        created
    }

    /// Resolves, validates and stores one segment inside `tx`. `prefix` is put before every
    /// field of an error (`timelines[2].` in a sync).
    async fn store_segment(
        &self,
        tx: &mut CatalogTx,
        import: &Import,
        prefix: &str,
        mode: SegmentMode,
        policy: CameraPolicy,
        user_id: Option<i64>,
    ) -> Result<SegmentOutcome> {
        let field = |p: &str| format!("{prefix}{}", studio_field(p, import.format));
        let mut rows = tx.catalog_rows().await?;
        let mut planned = Vec::new();
        let mut warnings = Vec::new();
        let mut timeline = match import.resolve(&catalog_of(&rows)) {
            Ok(t) => t,
            Err(missing) => {
                let creatable = |u: &vs_timeline::Unresolved| {
                    policy == CameraPolicy::Plan
                        && matches!(u.missing, Missing::Camera { url: Some(_), .. })
                };
                if let Some(blocking) = missing.iter().find(|u| !creatable(u)) {
                    let list = missing
                        .iter()
                        .map(|u| u.to_string())
                        .collect::<Vec<_>>()
                        .join("; ");
                    let hint = if policy == CameraPolicy::Refuse
                        && missing
                            .iter()
                            .any(|u| matches!(u.missing, Missing::Camera { url: Some(_), .. }))
                    {
                        " (import with create_cameras=true to add cameras for these addresses)"
                    } else {
                        ""
                    };
                    return Err(Error::invalid(
                        format!("{prefix}{}", unresolved_field(blocking)),
                        format!(
                            "the segment refers to what this appliance does not have: {list}{hint}"
                        ),
                    ));
                }
                let mut taken: Vec<String> = rows.cameras.iter().map(|c| c.name.clone()).collect();
                for u in &missing {
                    let Missing::Camera {
                        url: Some(url),
                        username,
                        password,
                        placement,
                        suggested_name,
                        ..
                    } = &u.missing
                    else {
                        continue;
                    };
                    let name = free_name(suggested_name, &taken);
                    // The login goes back where the studio's address had it (userinfo or
                    // Reolink-style query): validation splits it out again and remembers where.
                    let input = CameraInput {
                        name: name.clone(),
                        kind: "STATIC".into(),
                        protocol: url.protocol().as_str().into(),
                        address: vs_timeline::credentials::join_credentials(
                            url,
                            username.as_deref(),
                            password.as_ref(),
                            placement,
                        ),
                        ..Default::default()
                    };
                    let v = validate_camera(&input).map_err(|e| {
                        Error::invalid(format!("{prefix}{}", unresolved_field(u)), e.message)
                    })?;
                    // In the same transaction as the timeline: a failure (or a crash) later
                    // in the import leaves no camera behind.
                    let row = tx.insert_camera(&self.camera_write(&v, None, None)).await?;
                    planned.push(PlannedCamera {
                        field: format!("{prefix}{}", unresolved_field(u)),
                        note: Issue {
                            path: format!("{prefix}{}", unresolved_field(u)),
                            message: format!(
                                "camera '{}' was added for {} (used by {})",
                                row.name,
                                row.address,
                                u.paths.join(", ")
                            ),
                        },
                        row: row.clone(),
                    });
                    taken.push(row.name);
                }
                rows = tx.catalog_rows().await?;
                import.resolve(&catalog_of(&rows)).map_err(|still| {
                    Error::invalid(
                        format!(
                            "{prefix}{}",
                            still.first().map(unresolved_field).unwrap_or_default()
                        ),
                        still
                            .iter()
                            .map(|u| u.to_string())
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?
            }
        };
        let catalog = catalog_of(&rows);
        if timeline.id.is_none() {
            timeline.id = Some(new_timeline_id());
        }
        let id = timeline.id.clone().unwrap_or_default();
        let existing = tx.timeline(&id).await?;
        if let Some(old) = &existing {
            if mode == SegmentMode::Create {
                return Err(Error::conflict(format!(
                    "a timeline with the id '{id}' already exists ('{}'); delete it first, or push the segment with POST /api/overlays/sync to replace it",
                    old.name
                ))
                .with_field(field("id")));
            }
            // What the studio does not know about stays as the appliance had it.
            timeline.destination_ids = model_of(old)?.destination_ids;
        }
        let report = validate(&timeline, &catalog);
        if let Some(e) = report_error(&report, |p| field(p)) {
            return Err(e);
        }
        warnings.extend(rename_issues(&report.warnings, |p| field(p)));
        for path in &import.removed_credentials {
            warnings.push(Issue {
                path: format!("{prefix}{path}"),
                message: "credentials were taken out of the file and stored encrypted".into(),
            });
        }
        let keys_unchanged = existing
            .as_ref()
            .is_some_and(|old| same_api_keys(self, old.api_keys_enc.as_deref(), &import.api_keys));
        let sealed = if keys_unchanged {
            None
        } else {
            seal_api_keys(self, &import.api_keys)?
        };
        let w = timeline_write(&timeline, sealed)?;
        let (row, status) = match existing {
            None => {
                let row = tx.insert_timeline(&w).await?;
                tx.audit(user_id, "timeline_imported", Some(&row.name), Some(&row.id))
                    .await?;
                (row, SyncStatus::Created)
            }
            Some(old) if old.model == w.model && w.api_keys_enc.is_none() => {
                (old, SyncStatus::Unchanged)
            }
            Some(_) => {
                let row = tx.update_timeline(&w).await?;
                tx.audit(user_id, "timeline_synced", Some(&row.name), Some(&row.id))
                    .await?;
                (row, SyncStatus::Updated)
            }
        };
        Ok(SegmentOutcome {
            row,
            status,
            planned,
            warnings,
        })
    }

    /// VistterStudio's push: assets, overlays and segments upserted in one transaction. Assets
    /// are deduplicated by checksum; overlays and segments refer to them by the studio's ids.
    pub async fn sync_studio(
        &self,
        input: SyncInput,
        create_cameras: bool,
        user_id: Option<i64>,
    ) -> Result<SyncResult> {
        // Everything that can be checked without the database is, before anything is written.
        let mut checked: Vec<(Option<String>, Option<String>, CheckedAsset)> = Vec::new();
        for (i, a) in input.assets.iter().enumerate() {
            let f = format!("assets[{i}].data_base64");
            let data = a.data_base64.trim();
            let data = match data.strip_prefix("data:") {
                Some(rest) => rest.split_once(',').map(|(_, d)| d).unwrap_or(""),
                None => data,
            };
            let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|_| Error::invalid(&f, "is not valid base64"))?;
            let reference = a.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
            if let Some(r) = reference {
                if checked
                    .iter()
                    .any(|(other, ..)| other.as_deref() == Some(r))
                {
                    return Err(Error::invalid(
                        format!("assets[{i}].id"),
                        format!("'{r}' is the id of an earlier asset of this sync"),
                    ));
                }
            }
            let asset = check_asset(
                AssetUpload {
                    name: Some(a.name.clone()),
                    mime: a.mime.clone(),
                    bytes: bytes.into(),
                },
                &f,
                &format!("assets[{i}].name"),
            )?;
            let path = a.path.as_deref().map(str::trim).filter(|s| !s.is_empty());
            checked.push((
                reference.map(str::to_string),
                path.map(str::to_string),
                asset,
            ));
        }
        let mut overlays: Vec<CheckedOverlay> = Vec::new();
        for (index, o) in input.overlays.iter().enumerate() {
            let prefix = format!("overlays[{index}].");
            // Which asset is resolved in the transaction; here only whether there is one.
            let placeholder = o.asset.as_ref().map(|_| 0);
            let (name, kind, definition) =
                validate_overlay(&prefix, &o.name, &o.kind, placeholder, &o.definition)?;
            if overlays.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
                return Err(Error::invalid(
                    format!("{prefix}name"),
                    format!("'{name}' is the name of an earlier overlay of this sync"),
                ));
            }
            overlays.push(CheckedOverlay {
                name,
                kind,
                definition,
                index,
            });
        }
        let imports = input
            .timelines
            .iter()
            .enumerate()
            .map(|(i, doc)| {
                Import::from_value(doc.clone()).map_err(|e| match e.field {
                    Some(f) => Error::invalid(format!("timelines[{i}].{f}"), e.message),
                    None => Error::invalid(format!("timelines[{i}]"), e.message),
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let mut written = Vec::new();
        for (.., asset) in &checked {
            match store_asset_file(&self.config.data_dir, asset).await {
                Ok(true) => written.push(asset.sha256.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.forget_files(&written).await;
                    return Err(e);
                }
            }
        }
        let result = self
            .sync_all(
                &input,
                &checked,
                &overlays,
                &imports,
                create_cameras,
                user_id,
            )
            .await;
        match result {
            Ok(r) => {
                self.publish("timeline_changed", serde_json::json!({ "sync": true }));
                self.publish("overlay_changed", serde_json::json!({ "sync": true }));
                self.timelines.kick.notify_one();
                Ok(r)
            }
            Err(e) => {
                self.forget_files(&written).await;
                Err(e)
            }
        }
    }

    /// The sync's writes, the cameras it needs included: in one transaction.
    async fn sync_all(
        &self,
        input: &SyncInput,
        checked: &[(Option<String>, Option<String>, CheckedAsset)],
        overlays: &[CheckedOverlay],
        imports: &[Import],
        create_cameras: bool,
        user_id: Option<i64>,
    ) -> Result<SyncResult> {
        let policy = if create_cameras {
            CameraPolicy::Plan
        } else {
            CameraPolicy::Refuse
        };
        let mut tx = self.db.catalog_tx().await?;
        let (mut result, planned) = self
            .sync_in_tx(&mut tx, input, checked, overlays, imports, policy, user_id)
            .await?;
        // Cameras the segments needed were added in the same transaction: all or nothing.
        tx.commit().await?;
        for (i, t) in result.timelines.iter_mut().enumerate() {
            let prefix = format!("timelines[{i}].");
            let notes = planned
                .iter()
                .filter(|p| p.field.starts_with(&prefix))
                .map(|p| p.note.clone());
            t.warnings.splice(0..0, notes);
        }
        result.created_cameras = self.announce_created_cameras(&planned, user_id).await;
        Ok(result)
    }

    async fn forget_files(&self, written: &[String]) {
        for sha in written {
            self.remove_unreferenced_file(sha).await;
        }
    }

    /// Everything of a sync inside `tx`, which the caller commits or rolls back. Returns the
    /// cameras it added.
    #[allow(clippy::too_many_arguments)]
    async fn sync_in_tx(
        &self,
        tx: &mut CatalogTx,
        input: &SyncInput,
        checked: &[(Option<String>, Option<String>, CheckedAsset)],
        overlays: &[CheckedOverlay],
        imports: &[Import],
        policy: CameraPolicy,
        user_id: Option<i64>,
    ) -> Result<(SyncResult, Vec<PlannedCamera>)> {
        let mut planned = Vec::new();
        let mut result = SyncResult {
            assets: Vec::new(),
            overlays: Vec::new(),
            timelines: Vec::new(),
            created_cameras: Vec::new(),
        };
        // studio reference or path -> appliance asset id
        let mut by_ref: Vec<(String, i64)> = Vec::new();
        for (reference, path, asset) in checked {
            let (row, created) = tx.insert_asset(&asset.write()).await?;
            if created {
                tx.audit(user_id, "asset_created", Some(&row.name), Some(&row.sha256))
                    .await?;
            }
            for key in [reference, path].into_iter().flatten() {
                by_ref.push((key.clone(), row.id));
            }
            result.assets.push(SyncedAsset {
                reference: reference.clone(),
                id: row.id,
                name: row.name,
                sha256: row.sha256,
                status: if created {
                    SyncStatus::Created
                } else {
                    SyncStatus::Unchanged
                },
            });
        }
        let keys_of_asset = |asset_id: i64| -> Vec<String> {
            by_ref
                .iter()
                .filter(|(_, id)| *id == asset_id)
                .map(|(k, _)| k.clone())
                .collect()
        };

        let mut existing = tx.list_overlays().await?;
        let mut shown_assets: Vec<i64> = Vec::new();
        for CheckedOverlay {
            name,
            kind,
            definition,
            index,
        } in overlays
        {
            let o = &input.overlays[*index];
            let prefix = format!("overlays[{index}].");
            let asset_id = match &o.asset {
                None => None,
                Some(AssetRef::Studio(r)) => Some(
                    by_ref
                        .iter()
                        .find(|(k, _)| k == r.trim())
                        .map(|(_, id)| *id)
                        .ok_or_else(|| {
                            Error::invalid(
                                format!("{prefix}asset"),
                                format!("'{r}' is not the id of an asset of this sync"),
                            )
                        })?,
                ),
                Some(AssetRef::Appliance(id)) => {
                    tx.asset(*id).await?.ok_or_else(|| {
                        Error::invalid(
                            format!("{prefix}asset"),
                            format!("asset {id} does not exist"),
                        )
                    })?;
                    Some(*id)
                }
            };
            if let Some(a) = asset_id {
                shown_assets.push(a);
            }
            let mut keys: Vec<String> = Vec::new();
            for k in
                o.id.iter()
                    .chain(&o.keys)
                    .cloned()
                    .chain(asset_id.map(keys_of_asset).unwrap_or_default())
            {
                let k = k.trim().to_string();
                if !k.is_empty() && !keys.contains(&k) {
                    keys.push(k);
                }
            }
            let found =
                o.id.as_deref()
                    .and_then(|r| {
                        existing
                            .iter()
                            .position(|e| parse_keys(&e.studio_keys).iter().any(|k| k == r))
                    })
                    .or_else(|| {
                        existing
                            .iter()
                            .position(|e| e.name.eq_ignore_ascii_case(name))
                    });
            let (row, status) = match found {
                None => {
                    let w = overlay_write(name.clone(), *kind, asset_id, definition, &keys)?;
                    let row = tx
                        .insert_overlay(&w)
                        .await
                        .map_err(|e| prefixed(e, &prefix))?;
                    tx.audit(user_id, "overlay_created", Some(&row.name), None)
                        .await?;
                    (row, SyncStatus::Created)
                }
                Some(at) => {
                    let old = existing[at].clone();
                    let mut all_keys = parse_keys(&old.studio_keys);
                    for k in keys {
                        if !all_keys.contains(&k) {
                            all_keys.push(k);
                        }
                    }
                    let w = overlay_write(name.clone(), *kind, asset_id, definition, &all_keys)?;
                    let same = old.name == w.name
                        && old.kind == w.kind
                        && old.asset_id == w.asset_id
                        && old.studio_keys == w.studio_keys
                        && serde_json::from_str::<Value>(&old.definition).ok()
                            == serde_json::from_str::<Value>(&w.definition).ok();
                    if same {
                        (old, SyncStatus::Unchanged)
                    } else {
                        let row = tx
                            .update_overlay(old.id, &w)
                            .await
                            .map_err(|e| prefixed(e, &prefix))?;
                        tx.audit(user_id, "overlay_updated", Some(&row.name), None)
                            .await?;
                        (row, SyncStatus::Updated)
                    }
                }
            };
            result.overlays.push(SyncedOverlay {
                reference: o.id.clone(),
                id: row.id,
                name: row.name.clone(),
                status,
                automatic: false,
            });
            match existing.iter().position(|e| e.id == row.id) {
                Some(at) => existing[at] = row,
                None => existing.push(row),
            }
        }
        // Segments name images by the studio's asset id: an asset no overlay shows gets an
        // image overlay answering to that id, so its segments resolve.
        for (reference, path, _) in checked {
            let Some(r) = reference.as_ref().or(path.as_ref()) else {
                continue;
            };
            let asset_id = by_ref.iter().find(|(k, _)| k == r).map(|(_, id)| *id);
            let Some(asset_id) = asset_id else { continue };
            let answered = existing.iter().any(|e| {
                e.asset_id == Some(asset_id) || parse_keys(&e.studio_keys).iter().any(|k| k == r)
            });
            if answered || shown_assets.contains(&asset_id) {
                continue;
            }
            let asset_name = result
                .assets
                .iter()
                .find(|a| a.id == asset_id)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| r.clone());
            let taken: Vec<String> = existing.iter().map(|e| e.name.clone()).collect();
            let name = free_name(&asset_name, &taken);
            let w = overlay_write(
                name,
                OverlayKind::Image,
                Some(asset_id),
                &OverlayDefinition::default(),
                &keys_of_asset(asset_id),
            )?;
            let row = tx.insert_overlay(&w).await?;
            tx.audit(user_id, "overlay_created", Some(&row.name), None)
                .await?;
            result.overlays.push(SyncedOverlay {
                reference: Some(r.clone()),
                id: row.id,
                name: row.name.clone(),
                status: SyncStatus::Created,
                automatic: true,
            });
            shown_assets.push(asset_id);
            existing.push(row);
        }

        let mut seen_ids: Vec<String> = Vec::new();
        for (i, import) in imports.iter().enumerate() {
            let prefix = format!("timelines[{i}].");
            if let Some(id) = &import.id {
                if seen_ids.contains(id) {
                    return Err(Error::invalid(
                        format!("{prefix}{}", studio_field("id", import.format)),
                        format!("'{id}' is the id of an earlier segment of this sync"),
                    ));
                }
                seen_ids.push(id.clone());
            }
            let out = self
                .store_segment(tx, import, &prefix, SegmentMode::Upsert, policy, user_id)
                .await
                .map_err(|e| prefixed(e, &prefix))?;
            let mut warnings = out.warnings;
            warnings.extend(out.planned.iter().map(|p| p.note.clone()));
            planned.extend(out.planned);
            result.timelines.push(SyncedTimeline {
                id: out.row.id,
                name: out.row.name,
                status: out.status,
                warnings,
            });
        }
        Ok((result, planned))
    }
}

/// Puts `prefix` before the field of an error raised by a lower layer with a bare field name
/// (a name conflict says `name`; in a sync that is `overlays[2].name`).
fn prefixed(e: Error, prefix: &str) -> Error {
    match &e.field {
        Some(f) if !f.starts_with(prefix) => {
            let field = format!("{prefix}{f}");
            Error {
                field: Some(field),
                ..e
            }
        }
        _ => e,
    }
}

// ---------------------------------------------------------------------------------------------
// The player

/// A change the player sent to the program, kept for the status page and the log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FiredCue {
    pub at: String,
    /// take, prepare, show_overlay, hide_overlay, slate
    pub action: String,
    pub camera_id: Option<i64>,
    pub preset_id: Option<i64>,
    pub overlay_id: Option<i64>,
    /// What the program answered, when it refused.
    pub error: Option<String>,
}

/// Where the player is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlayerStatus {
    /// stopped, playing, finished (a play-once timeline reached its end)
    pub state: String,
    pub timeline_id: Option<String>,
    pub timeline_name: Option<String>,
    pub position_ms: i64,
    pub duration_ms: i64,
    /// Completed passes of a looping timeline.
    pub loop_index: u64,
    /// The video clip on air.
    pub on_air_clip: Option<String>,
    pub started_at: Option<String>,
    /// Whether a program feed is configured. Without one nothing can play.
    pub program_available: bool,
    /// The last changes sent to the program, oldest first.
    pub recent_cues: Vec<FiredCue>,
}

impl PlayerStatus {
    fn stopped(program_available: bool) -> Self {
        PlayerStatus {
            state: "stopped".into(),
            timeline_id: None,
            timeline_name: None,
            position_ms: 0,
            duration_ms: 0,
            loop_index: 0,
            on_air_clip: None,
            started_at: None,
            program_available,
            recent_cues: Vec::new(),
        }
    }
}

/// What to play.
#[derive(Debug, Clone)]
pub struct PlayRequest {
    pub timeline_id: String,
    pub timeline_name: String,
    /// Where the program must run while the timeline plays.
    pub destination_ids: Vec<i64>,
    pub cues: CueList,
}

/// Plays timelines through the program feed. The controller only talks to this, so the real
/// program (crates/engine) plugs in without touching the routes.
#[async_trait]
pub trait TimelinePlayer: Send + Sync + 'static {
    /// Plays a timeline from its start, replacing whatever played.
    async fn play(&self, request: PlayRequest) -> Result<PlayerStatus>;
    /// The playing timeline was edited: go on with its new cues from the same position.
    async fn reload(&self, timeline_id: &str, cues: CueList) -> Result<()>;
    async fn jump_to_clip(&self, clip_id: &str) -> Result<PlayerStatus>;
    async fn stop(&self) -> Result<PlayerStatus>;
    fn status(&self) -> PlayerStatus;
    /// Wakes at every cue and a few times a second while playing.
    fn subscribe(&self) -> watch::Receiver<PlayerStatus>;
}

const RECENT_CUES: usize = 32;

#[derive(Default)]
struct CueLog(Mutex<VecDeque<FiredCue>>);

impl CueLog {
    fn push(&self, cue: FiredCue) {
        let mut log = self.0.lock().expect("cue log lock");
        if log.len() == RECENT_CUES {
            log.pop_front();
        }
        log.push_back(cue);
    }

    fn recent(&self) -> Vec<FiredCue> {
        self.0
            .lock()
            .expect("cue log lock")
            .iter()
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.0.lock().expect("cue log lock").clear();
    }
}

/// Passes each change to the program and records it (and logs it), so what a timeline did is
/// visible whatever the program is.
struct RecordingProgram {
    inner: Arc<dyn ProgramControl>,
    log: Arc<CueLog>,
}

impl RecordingProgram {
    fn record(
        &self,
        action: &str,
        camera_id: Option<i64>,
        preset_id: Option<i64>,
        overlay_id: Option<i64>,
        result: &Result<()>,
    ) {
        let error = result.as_ref().err().map(|e| e.message.clone());
        tracing::info!(
            action,
            ?camera_id,
            ?preset_id,
            ?overlay_id,
            ?error,
            "timeline cue"
        );
        self.log.push(FiredCue {
            at: vs_db::now(),
            action: action.into(),
            camera_id,
            preset_id,
            overlay_id,
            error,
        });
    }
}

#[async_trait]
impl ProgramControl for RecordingProgram {
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()> {
        let r = self.inner.take(camera_id, preset_id).await;
        self.record("take", Some(camera_id), preset_id, None, &r);
        r
    }

    async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()> {
        let r = self.inner.prepare(camera_id, preset_id).await;
        self.record("prepare", Some(camera_id), Some(preset_id), None, &r);
        r
    }

    async fn show_overlay(&self, overlay: &OverlayShow) -> Result<()> {
        let r = self.inner.show_overlay(overlay).await;
        self.record("show_overlay", None, None, Some(overlay.overlay_id), &r);
        r
    }

    async fn hide_overlay(&self, overlay_id: i64) -> Result<()> {
        let r = self.inner.hide_overlay(overlay_id).await;
        self.record("hide_overlay", None, None, Some(overlay_id), &r);
        r
    }

    async fn slate(&self) -> Result<()> {
        let r = self.inner.slate().await;
        self.record("slate", None, None, None, &r);
        r
    }
}

struct Playing {
    timeline_id: String,
    executor: Executor,
    forward: tokio::task::JoinHandle<()>,
}

/// The player over `vs_timeline`'s executor: one monotonic clock, cues sent to a
/// [`ProgramControl`]. Without a program it refuses to play rather than pretend.
pub struct ExecutorPlayer {
    program: Option<Arc<dyn ProgramControl>>,
    clock: Arc<dyn Clock>,
    log: Arc<CueLog>,
    playing: tokio::sync::Mutex<Option<Playing>>,
    status: Arc<watch::Sender<PlayerStatus>>,
}

impl ExecutorPlayer {
    pub fn new(program: Option<Arc<dyn ProgramControl>>, clock: Arc<dyn Clock>) -> Self {
        let available = program.is_some();
        ExecutorPlayer {
            program,
            clock,
            log: Default::default(),
            playing: Default::default(),
            status: Arc::new(watch::channel(PlayerStatus::stopped(available)).0),
        }
    }

    async fn end(&self, playing: Playing) {
        if let Err(e) = playing.executor.stop().await {
            tracing::warn!(error = %e, "stopping the timeline executor failed");
        }
        playing.executor.shutdown().await;
        // The forwarder ends with the executor; waiting for it keeps its last word from
        // landing after the "stopped" the caller publishes next.
        let _ = playing.forward.await;
    }
}

fn status_from(
    p: &vs_timeline::Position,
    id: &str,
    name: &str,
    started_at: &str,
    log: &CueLog,
) -> PlayerStatus {
    PlayerStatus {
        state: match p.state {
            PlayState::Stopped => "stopped",
            PlayState::Playing => "playing",
            PlayState::Finished => "finished",
        }
        .into(),
        timeline_id: Some(id.into()),
        timeline_name: Some(name.into()),
        position_ms: p.position_ms,
        duration_ms: p.duration_ms,
        loop_index: p.loop_index,
        on_air_clip: p.on_air_clip.clone(),
        started_at: Some(started_at.into()),
        program_available: true,
        recent_cues: log.recent(),
    }
}

#[async_trait]
impl TimelinePlayer for ExecutorPlayer {
    async fn play(&self, request: PlayRequest) -> Result<PlayerStatus> {
        let Some(program) = self.program.clone() else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the program feed is not available yet: this appliance cannot play a timeline \
                 until its program encoder is configured",
            ));
        };
        program.ready().await?;
        let mut playing = self.playing.lock().await;
        if let Some(old) = playing.take() {
            self.end(old).await;
        }
        self.log.clear();
        let recorder = Arc::new(RecordingProgram {
            inner: program,
            log: self.log.clone(),
        });
        let executor = Executor::spawn(
            request.cues,
            self.clock.clone(),
            recorder,
            ExecutorOptions::default(),
        )?;
        executor.play().await?;
        let started_at = vs_db::now();
        let mut rx = executor.subscribe();
        let (id, name, log, tx) = (
            request.timeline_id.clone(),
            request.timeline_name.clone(),
            self.log.clone(),
            self.status.clone(),
        );
        let first = status_from(&rx.borrow_and_update(), &id, &name, &started_at, &log);
        self.status.send_replace(first.clone());
        let forward = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let s = status_from(&rx.borrow_and_update(), &id, &name, &started_at, &log);
                tx.send_replace(s);
            }
        });
        tracing::info!(timeline = %request.timeline_id, destinations = ?request.destination_ids, "timeline playing");
        *playing = Some(Playing {
            timeline_id: request.timeline_id,
            executor,
            forward,
        });
        Ok(first)
    }

    async fn reload(&self, timeline_id: &str, cues: CueList) -> Result<()> {
        let playing = self.playing.lock().await;
        match playing.as_ref() {
            Some(p) if p.timeline_id == timeline_id => p.executor.load(cues).await,
            _ => Ok(()),
        }
    }

    async fn jump_to_clip(&self, clip_id: &str) -> Result<PlayerStatus> {
        let playing = self.playing.lock().await;
        let Some(p) = playing.as_ref() else {
            return Err(Error::invalid_state("no timeline is playing"));
        };
        p.executor
            .jump_to_clip(clip_id)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => Error::invalid(
                    "clip_id",
                    format!("the playing timeline has no clip '{clip_id}'"),
                ),
                _ => e,
            })?;
        Ok(self.status())
    }

    async fn stop(&self) -> Result<PlayerStatus> {
        let mut playing = self.playing.lock().await;
        if let Some(old) = playing.take() {
            tracing::info!(timeline = %old.timeline_id, "timeline stopped");
            self.end(old).await;
        }
        let mut s = PlayerStatus::stopped(self.program.is_some());
        s.recent_cues = self.log.recent();
        self.status.send_replace(s.clone());
        Ok(s)
    }

    fn status(&self) -> PlayerStatus {
        self.status.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<PlayerStatus> {
        self.status.subscribe()
    }
}

/// The controller's timeline runtime: the player (swappable, so the program is plugged in
/// where the appliance is assembled), the scheduler's state and its wake-up.
pub struct TimelineRuntime {
    player: RwLock<Arc<dyn TimelinePlayer>>,
    /// The timeline the scheduler started, so it only ever stops what it started.
    scheduled: Mutex<Option<String>>,
    /// Schedules changed: the scheduler looks again now.
    pub kick: Notify,
    events_forwarded: AtomicBool,
}

impl Default for TimelineRuntime {
    fn default() -> Self {
        TimelineRuntime {
            player: RwLock::new(Arc::new(ExecutorPlayer::new(
                None,
                Arc::new(TokioClock::new()),
            ))),
            scheduled: Mutex::new(None),
            kick: Notify::new(),
            events_forwarded: AtomicBool::new(false),
        }
    }
}

impl TimelineRuntime {
    /// Plugs in the program feed: from now on timelines play through it.
    pub fn set_program(&self, program: Arc<dyn ProgramControl>) {
        self.set_player(Arc::new(ExecutorPlayer::new(
            Some(program),
            Arc::new(TokioClock::new()),
        )));
    }

    pub fn set_player(&self, player: Arc<dyn TimelinePlayer>) {
        *self.player.write().expect("player lock") = player;
        self.events_forwarded.store(false, Ordering::SeqCst);
    }

    pub fn player(&self) -> Arc<dyn TimelinePlayer> {
        self.player.read().expect("player lock").clone()
    }
}

/// Who asked for a timeline to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOrigin {
    User,
    Schedule,
}

impl Controller {
    /// Plays a stored timeline: validated against what is configured now, compiled, handed to
    /// the player.
    pub async fn start_timeline(
        self: &Arc<Self>,
        id: &str,
        origin: PlayOrigin,
        user_id: Option<i64>,
    ) -> Result<PlayerStatus> {
        let row = self.db.timeline(id).await?;
        let timeline = model_of(&row)?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &self.destination_ids().await?);
        if let Some(e) = report_error(&report, model_field) {
            return Err(e);
        }
        let cues = compile(&timeline, &CompileOptions::default());
        self.forward_player_events();
        let status = self
            .timelines
            .player()
            .play(PlayRequest {
                timeline_id: row.id.clone(),
                timeline_name: row.name.clone(),
                destination_ids: timeline.destination_ids.clone(),
                cues,
            })
            .await?;
        *self.timelines.scheduled.lock().expect("scheduler lock") =
            (origin == PlayOrigin::Schedule).then(|| row.id.clone());
        let action = match origin {
            PlayOrigin::User => "timeline_started",
            PlayOrigin::Schedule => "timeline_started_by_schedule",
        };
        self.db
            .audit(user_id, action, Some(&row.name), Some(&row.id))
            .await?;
        Ok(status)
    }

    pub async fn stop_timeline(&self, user_id: Option<i64>) -> Result<PlayerStatus> {
        let before = self.timelines.player().status();
        let status = self.timelines.player().stop().await?;
        *self.timelines.scheduled.lock().expect("scheduler lock") = None;
        if let Some(id) = before.timeline_id {
            self.db
                .audit(
                    user_id,
                    "timeline_stopped",
                    before.timeline_name.as_deref(),
                    Some(&id),
                )
                .await?;
        }
        Ok(status)
    }

    /// Stops a timeline, refusing (409) when it is not the one playing.
    pub async fn stop_this_timeline(&self, id: &str, user_id: Option<i64>) -> Result<PlayerStatus> {
        self.db.timeline(id).await?;
        let status = self.player_status();
        if status.timeline_id.as_deref() != Some(id) || status.state == "stopped" {
            return Err(Error::invalid_state(format!(
                "timeline '{id}' is not playing"
            )));
        }
        self.stop_timeline(user_id).await
    }

    pub async fn jump_to_clip(&self, timeline_id: &str, clip_id: &str) -> Result<PlayerStatus> {
        let player = self.timelines.player();
        let status = player.status();
        if status.state != "playing" || status.timeline_id.as_deref() != Some(timeline_id) {
            return Err(Error::invalid_state(format!(
                "timeline '{timeline_id}' is not playing; start it first"
            )));
        }
        player.jump_to_clip(clip_id).await
    }

    pub fn player_status(&self) -> PlayerStatus {
        self.timelines.player().status()
    }

    async fn reload_if_playing(&self, id: &str, timeline: &Timeline) {
        let player = self.timelines.player();
        if player.status().timeline_id.as_deref() == Some(id) {
            let cues = compile(timeline, &CompileOptions::default());
            if let Err(e) = player.reload(id, cues).await {
                tracing::warn!(timeline = %id, error = %e, "the playing timeline could not take its edit");
            }
        }
    }

    /// Pushes the player's position to browsers (`timeline_position` events) for the playhead.
    fn forward_player_events(self: &Arc<Self>) {
        if self.timelines.events_forwarded.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut rx = self.timelines.player().subscribe();
        let ctl = self.clone();
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = ctl.shutdown.cancelled() => break,
                    changed = rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let s = rx.borrow_and_update().clone();
                        ctl.publish("timeline_position", serde_json::to_value(&s).unwrap_or_default());
                    }
                }
            }
        });
    }

    /// Runs timelines by their schedules until shutdown: starts the one whose window is open
    /// (the first by name when several are) unless the user started something else, and stops
    /// what it started when the window closes. Wakes at the next transition, when schedules
    /// change, and every minute (so a clock change is noticed).
    pub async fn run_timeline_scheduler(self: Arc<Self>) {
        let mut last_error: Option<String> = None;
        loop {
            let next = match self.schedule_tick(&mut last_error).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "timeline scheduler");
                    None
                }
            };
            let wait = next
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = self.timelines.kick.notified() => {}
                _ = tokio::time::sleep(wait + Duration::from_millis(50)) => {}
            }
        }
    }

    async fn schedule_tick(
        self: &Arc<Self>,
        last_error: &mut Option<String>,
    ) -> Result<Option<chrono::DateTime<Utc>>> {
        let now = Utc::now();
        let rows = self.db.list_timelines().await?;
        let schedules: Vec<(TimelineRow, Schedule)> = rows
            .into_iter()
            .filter_map(|r| schedule_of(&r).map(|s| (r, s)))
            .collect();
        let next = schedules
            .iter()
            .filter_map(|(_, s)| s.next_transition(now).map(|t| t.at))
            .min();
        let wanted = schedules
            .iter()
            .find(|(_, s)| s.is_active(now))
            .map(|(r, _)| r);
        let status = self.timelines.player().status();
        let scheduled = self
            .timelines
            .scheduled
            .lock()
            .expect("scheduler lock")
            .clone();
        let busy_by_user = status.state == "playing" && scheduled.is_none();
        match wanted {
            Some(row)
                if status.state == "playing" && status.timeline_id.as_deref() == Some(&row.id) => {}
            Some(_) if busy_by_user => {}
            Some(row) => match self
                .start_timeline(&row.id, PlayOrigin::Schedule, None)
                .await
            {
                Ok(_) => *last_error = None,
                Err(e) => {
                    // Said once, not every minute, while the cause lasts.
                    let text = format!("{}: {}", row.id, e.message);
                    if last_error.as_deref() != Some(&text) {
                        tracing::warn!(timeline = %row.id, error = %e, "scheduled timeline could not start");
                        *last_error = Some(text);
                    }
                }
            },
            None => {
                if let Some(id) = scheduled {
                    if status.timeline_id.as_deref() == Some(&id) {
                        self.timelines.player().stop().await?;
                        tracing::info!(timeline = %id, "schedule window closed; timeline stopped");
                    }
                    *self.timelines.scheduled.lock().expect("scheduler lock") = None;
                }
            }
        }
        Ok(next)
    }
}

// ---------------------------------------------------------------------------------------------
// What a VistterStudio broadcast node answers

/// `currentSegment` of a node's status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioSegmentRef {
    pub id: String,
    pub name: String,
    /// Seconds, as the studio counts.
    #[schema(value_type = f64)]
    pub duration: Value,
}

/// `GET /api/stream/status`: a node's fields, then the appliance's player status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioStatus {
    #[serde(rename = "isStreaming")]
    pub is_streaming: bool,
    #[serde(rename = "currentSegment")]
    pub current_segment: Option<StudioSegmentRef>,
    #[serde(flatten)]
    pub player: PlayerStatus,
}

/// What a node answers to start and stop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioAck {
    pub success: bool,
    pub message: String,
    /// The segment's name (start only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub status: PlayerStatus,
}

fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

impl Controller {
    /// Every timeline as a node lists its segments: the studio's flat shape plus `filename`.
    pub async fn studio_segments(&self) -> Result<Vec<Value>> {
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let mut out = Vec::new();
        for row in self.db.list_timelines().await? {
            let timeline = dated(model_of(&row)?, &row);
            let options = ExportOptions {
                format: Some(Format::Flat),
                credentials: None,
            };
            match vs_timeline::export(&timeline, &catalog, &options) {
                Ok(Value::Object(doc)) => {
                    let mut seg = Map::new();
                    seg.insert("id".into(), row.id.clone().into());
                    seg.insert("filename".into(), format!("{}.json", row.id).into());
                    for (k, v) in doc {
                        seg.entry(k).or_insert(v);
                    }
                    out.push(Value::Object(seg));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(timeline = %row.id, error = %e, "timeline left out of the segment list");
                }
            }
        }
        Ok(out)
    }

    pub async fn studio_segment(&self, id: &str) -> Result<Value> {
        let (_, text) = self.export_timeline(id, Some(Format::Flat)).await?;
        serde_json::from_str(&text).map_err(Error::internal)
    }

    pub async fn studio_start(
        self: &Arc<Self>,
        id: &str,
        user_id: Option<i64>,
    ) -> Result<StudioAck> {
        let status = self.start_timeline(id, PlayOrigin::User, user_id).await?;
        Ok(StudioAck {
            success: true,
            message: "Streaming started".into(),
            segment: status.timeline_name.clone(),
            status,
        })
    }

    pub async fn studio_stop(&self, user_id: Option<i64>) -> Result<StudioAck> {
        let status = self.stop_timeline(user_id).await?;
        Ok(StudioAck {
            success: true,
            message: "Streaming stopped".into(),
            segment: None,
            status,
        })
    }

    pub fn studio_status(&self) -> StudioStatus {
        let player = self.player_status();
        let playing = player.state == "playing";
        StudioStatus {
            is_streaming: playing,
            current_segment: match (&player.timeline_id, &player.timeline_name) {
                (Some(id), Some(name)) if player.state != "stopped" => Some(StudioSegmentRef {
                    id: id.clone(),
                    name: name.clone(),
                    duration: seconds(player.duration_ms),
                }),
                _ => None,
            },
            player,
        }
    }
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

    #[test]
    fn camera_names_are_made_free() {
        let taken = vec!["Dock".to_string(), "dock 2".to_string()];
        assert_eq!(free_name("Dock", &taken), "Dock 3");
        assert_eq!(free_name("Pier", &taken), "Pier");
    }

    #[test]
    fn schedules_name_the_field_at_fault() {
        let ok = ScheduleInput {
            days: vec!["mon".into(), "fri".into()],
            start: "22:00".into(),
            end: "06:00".into(),
            tz: Some("Europe/Paris".into()),
        };
        assert!(parse_schedule(&ok).is_ok());
        for (input, field) in [
            (
                ScheduleInput {
                    days: vec![],
                    ..ok.clone()
                },
                "days",
            ),
            (
                ScheduleInput {
                    days: vec!["someday".into()],
                    ..ok.clone()
                },
                "days[0]",
            ),
            (
                ScheduleInput {
                    start: "25:00".into(),
                    ..ok.clone()
                },
                "start",
            ),
            (
                ScheduleInput {
                    end: "6".into(),
                    ..ok.clone()
                },
                "end",
            ),
            (
                ScheduleInput {
                    tz: Some("Mars/Olympus".into()),
                    ..ok.clone()
                },
                "tz",
            ),
        ] {
            assert_eq!(
                parse_schedule(&input).unwrap_err().field.as_deref(),
                Some(field)
            );
        }
    }
}
