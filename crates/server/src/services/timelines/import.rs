//! Importing a VistterStudio segment file: resolved against the cameras, presets and overlays
//! configured, validated, and written with the cameras it needs in one transaction, or not at
//! all. Before that, a plan (a dry run rolled back) lists every camera the file refers to, so
//! the user maps each to a configured camera or has it created (disabled, so that nothing is
//! contacted until they enable it).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Result, SecretBox, StreamUrl};
use vs_db::cameras::CameraRow;
use vs_db::timelines::{CatalogRows, CatalogTx, TimelineRow};
use vs_timeline::vistter::{ApiKey, Missing, SourceRef};
use vs_timeline::{
    validate, CameraInfo, Catalog, Format, Import, Issue, MemoryCatalog, OverlayInfo, PresetInfo,
};

use super::sync::SyncStatus;
use super::{
    catalog_of, model_of, new_timeline_id, rename_issues, report_error, studio_field,
    timeline_write, view_of, TimelineService, TimelineView,
};
use crate::services::cameras::{validate_camera, Camera, CameraInput};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SegmentMode {
    /// An import: a timeline with the same id is a conflict.
    Create,
    /// A sync: a timeline with the same id is replaced (its schedule and destinations stay).
    Upsert,
}

/// What to do about a stream address no camera has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CameraPolicy<'a> {
    /// Refuse the segment (`create_cameras=false`).
    Refuse,
    /// Add the camera inside the transaction (a sync with `create_cameras=true`), so it commits
    /// with the timeline or not at all, and list it for the answer.
    Plan,
    /// An import: each camera reference as the user chose (`None`: every unknown address gets
    /// a new camera). Cameras it adds start disabled: nothing connects to an address read from
    /// a file before the user enables the camera.
    Import(Option<&'a [CameraChoice]>),
}

impl CameraPolicy<'_> {
    fn creates(&self) -> bool {
        !matches!(self, CameraPolicy::Refuse)
    }

    fn choices(&self) -> Option<&[CameraChoice]> {
        match self {
            CameraPolicy::Import(c) => *c,
            _ => None,
        }
    }
}

/// What to do with one camera the file refers to: `camera_id` maps it to a configured camera;
/// without it the camera is created (named `name`, else a name made from its address).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraChoice {
    /// The `key` of the reference in the plan (the address without credentials, or the name the
    /// file gives).
    pub key: String,
    #[serde(default)]
    pub camera_id: Option<i64>,
    /// The new camera's name (1–64 characters, not taken yet); ignored with `camera_id`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/timelines/import` and `/import/plan` with the user's choices: the segment file and
/// what to do with each camera it refers to that needs a choice.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportWithChoices {
    /// The VistterStudio segment file, as the studio writes it.
    #[schema(value_type = Object)]
    pub segment: Value,
    /// One entry per camera reference the configured cameras do not answer (others may be
    /// remapped too). Every such reference must have one.
    pub cameras: Vec<CameraChoice>,
}

/// A configured camera, as a plan names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CameraMatch {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
}

/// What the import does with a camera reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceAction {
    /// It plays a configured camera (`camera`).
    Existing,
    /// A camera is created for it (`create_name`), disabled.
    Create,
    /// Nothing answers it and nothing can be created (a camera named in the file that does not
    /// exist): map it to a camera.
    Missing,
}

/// One camera a segment file refers to, however many clips use it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CameraReference {
    /// What a [`CameraChoice`] names it by.
    pub key: String,
    /// The stream address, without credentials.
    pub address: Option<String>,
    /// The camera name the file gives instead of an address.
    pub name: Option<String>,
    /// The file carried a login for it (it is sealed in the camera if one is created).
    pub with_credentials: bool,
    /// The clips that show it (`tracks[0].clips[2]`).
    pub used_by: Vec<String>,
    /// The configured camera with this address (or name), if any.
    pub existing: Option<CameraMatch>,
    pub action: ReferenceAction,
    /// The camera it plays with these choices (`existing`).
    pub camera: Option<CameraMatch>,
    /// The name of the camera made for it (`create`).
    pub create_name: Option<String>,
    /// Whether a camera can be made for it (it has an address).
    pub can_create: bool,
}

/// What an import would do, computed without writing anything or contacting any camera.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPlan {
    pub format: Format,
    pub id: Option<String>,
    pub name: String,
    /// Every camera the file refers to, in the order of first use.
    pub cameras: Vec<CameraReference>,
    /// Why the import would be refused with these choices (the error it would answer), or null
    /// when it would succeed.
    pub problem: Option<PlanProblem>,
    pub warnings: Vec<Issue>,
    /// Where credentials were found; an import seals them.
    pub credentials_moved: Vec<String>,
}

/// The error an import would answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanProblem {
    /// validation, conflict, …
    pub error: String,
    pub message: String,
    pub field: Option<String>,
}

/// A reference's key: the address without credentials, or the camera name the file gives.
fn reference_key(source: &SourceRef) -> Option<String> {
    match source {
        SourceRef::Url { url, .. } => Some(url.as_str().to_string()),
        SourceRef::Camera { name, .. } => Some(name.trim().to_string()),
        _ => None,
    }
}

/// The clip a path of the file names (`tracks[0].clips[1].asset.path`).
fn clip_at<'a>(import: &'a Import, path: &str) -> Option<&'a vs_timeline::vistter::ImportedClip> {
    let rest = path.strip_prefix("tracks[")?;
    let (t, rest) = rest.split_once(']')?;
    let rest = rest.strip_prefix(".clips[")?;
    let (c, _) = rest.split_once(']')?;
    import
        .tracks
        .get(t.parse::<usize>().ok()?)?
        .clips
        .get(c.parse::<usize>().ok()?)
}

fn missing_key(m: &Missing) -> Option<String> {
    match m {
        Missing::Camera { url: Some(u), .. } => Some(u.as_str().to_string()),
        Missing::Camera { name: Some(n), .. } => Some(n.trim().to_string()),
        _ => None,
    }
}

/// The configured cameras seen through the user's choices: a reference mapped to a camera is
/// answered by it, whatever its address.
struct Chosen<'a> {
    base: MemoryCatalog,
    mapped: &'a HashMap<String, CameraInfo>,
}

impl Catalog for Chosen<'_> {
    fn camera(&self, id: i64) -> Option<CameraInfo> {
        self.base.camera(id)
    }
    fn find_camera_by_address(&self, url: &StreamUrl) -> Option<CameraInfo> {
        match self.mapped.get(url.as_str()) {
            Some(c) => Some(c.clone()),
            None => self.base.find_camera_by_address(url),
        }
    }
    fn find_camera_by_name(&self, name: &str) -> Option<CameraInfo> {
        match self.mapped.get(name.trim()) {
            Some(c) => Some(c.clone()),
            None => self.base.find_camera_by_name(name),
        }
    }
    fn preset(&self, id: i64) -> Option<PresetInfo> {
        self.base.preset(id)
    }
    fn find_preset(&self, camera_id: i64, name_or_token: &str) -> Option<PresetInfo> {
        self.base.find_preset(camera_id, name_or_token)
    }
    fn overlay(&self, id: i64) -> Option<OverlayInfo> {
        self.base.overlay(id)
    }
    fn find_overlay(&self, key: &str) -> Option<OverlayInfo> {
        self.base.find_overlay(key)
    }
}

/// The user's choices checked against the file and the cameras: every key one of the file's
/// references, once; every `camera_id` a configured camera. Returns the mapped references and
/// the names asked for new cameras.
fn check_choices(
    choices: &[CameraChoice],
    import: &Import,
    rows: &CatalogRows,
    prefix: &str,
) -> Result<(HashMap<String, CameraInfo>, HashMap<String, String>)> {
    let keys: Vec<String> = import
        .tracks
        .iter()
        .flat_map(|t| t.clips.iter())
        .filter_map(|c| reference_key(&c.source))
        .collect();
    let mut mapped = HashMap::new();
    let mut names = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        let field = |f: &str| format!("{prefix}cameras[{i}].{f}");
        if !keys.contains(&c.key) {
            return Err(Error::invalid(
                field("key"),
                format!("the file refers to no camera '{}'", c.key),
            ));
        }
        if seen.contains(&c.key.as_str()) {
            return Err(Error::invalid(
                field("key"),
                format!("'{}' has a choice already", c.key),
            ));
        }
        seen.push(&c.key);
        match c.camera_id {
            Some(id) => {
                let cam = rows.cameras.iter().find(|r| r.id == id).ok_or_else(|| {
                    Error::invalid(field("camera_id"), format!("camera {id} does not exist"))
                })?;
                mapped.insert(
                    c.key.clone(),
                    CameraInfo {
                        id: cam.id,
                        name: cam.name.clone(),
                        address: cam.address.clone(),
                    },
                );
            }
            None => {
                if let Some(n) = &c.name {
                    names.insert(c.key.clone(), n.clone());
                }
            }
        }
    }
    Ok((mapped, names))
}

/// A camera a segment needed, added (password sealed) in the import's transaction; announced
/// (cache, audit, events) after the commit.
pub(super) struct PlannedCamera {
    /// The element of the request that needed it.
    pub(super) field: String,
    /// Inserted in the import's transaction: it commits or rolls back with the timeline.
    pub(super) row: CameraRow,
    pub(super) note: Issue,
}

pub(super) struct SegmentOutcome {
    pub(super) row: TimelineRow,
    pub(super) status: SyncStatus,
    pub(super) planned: Vec<PlannedCamera>,
    pub(super) warnings: Vec<Issue>,
}

/// A name not taken yet (case-insensitively): `base`, else `base 2`, `base 3`…
pub(super) fn free_name(base: &str, taken: &[String]) -> String {
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
fn same_api_keys(secrets: &SecretBox, stored: Option<&str>, keys: &[ApiKey]) -> bool {
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
                .and_then(|sealed| secrets.open(sealed).ok())
                .is_some_and(|open| open.expose() == k.key.expose())
        })
}

fn seal_api_keys(secrets: &SecretBox, keys: &[ApiKey]) -> Result<Option<String>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for k in keys {
        map.insert(api_key_name(k), secrets.seal(&k.key).into());
    }
    Ok(Some(serde_json::to_string(&map).map_err(Error::internal)?))
}

impl TimelineService {
    /// Imports a segment file as the studio writes it. Each camera reference is resolved as
    /// `choices` say; without choices, unknown stream addresses become new cameras
    /// (credentials sealed, disabled) unless `create_cameras` is false; then, like any other
    /// unresolved source, they make the import fail with the list of what is missing.
    ///
    /// Nothing is written unless everything is valid: the cameras it needs and the timeline are
    /// written in one transaction, committed only when the whole import passed.
    pub async fn import(
        &self,
        doc: Value,
        choices: Option<&[CameraChoice]>,
        create_cameras: bool,
        user_id: Option<i64>,
    ) -> Result<ImportResult> {
        let import = Import::from_value(doc)?;
        let destinations = self.destination_ids().await?;
        let policy = if create_cameras || choices.is_some() {
            CameraPolicy::Import(choices)
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
        let created = self.announce(&planned, user_id).await;
        out.warnings
            .splice(0..0, planned.into_iter().map(|p| p.note));
        self.events
            .publish("timeline_changed", serde_json::json!({ "id": out.row.id }));
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        Ok(ImportResult {
            timeline: view_of(&out.row, &catalog, &destinations)?,
            format: import.format,
            created_cameras: created,
            credentials_moved: import.removed_credentials.clone(),
            warnings: out.warnings,
        })
    }

    /// What importing `doc` with `choices` would do: every camera it refers to, and the error
    /// the import would answer, found by running the import in a transaction that is rolled
    /// back. Nothing is written and no camera is contacted.
    pub async fn plan_import(
        &self,
        doc: Value,
        choices: Option<&[CameraChoice]>,
    ) -> Result<ImportPlan> {
        let import = Import::from_value(doc)?;
        let rows = self.db.catalog_rows().await?;
        let (mapped, names) = match choices {
            Some(c) => check_choices(c, &import, &rows, "")?,
            None => Default::default(),
        };
        let base = catalog_of(&rows);
        let matched = |c: CameraInfo| CameraMatch {
            enabled: rows
                .cameras
                .iter()
                .find(|r| r.id == c.id)
                .is_some_and(|r| r.enabled),
            id: c.id,
            name: c.name,
        };
        // The names the import would give the cameras it makes, in the order it makes them.
        let missing = import
            .resolve(&Chosen {
                base: base.clone(),
                mapped: &mapped,
            })
            .err()
            .unwrap_or_default();
        let mut taken: Vec<String> = rows.cameras.iter().map(|c| c.name.clone()).collect();
        let mut create_names: HashMap<String, String> = HashMap::new();
        for u in &missing {
            if let Missing::Camera {
                url: Some(url),
                suggested_name,
                ..
            } = &u.missing
            {
                let key = url.as_str().to_string();
                let name = match names.get(&key) {
                    Some(asked) => asked.trim().to_string(),
                    None => free_name(suggested_name, &taken),
                };
                taken.push(name.clone());
                create_names.insert(key, name);
            }
        }

        let mut cameras: Vec<CameraReference> = Vec::new();
        for (ti, track) in import.tracks.iter().enumerate() {
            for (ci, clip) in track.clips.iter().enumerate() {
                let Some(key) = reference_key(&clip.source) else {
                    continue;
                };
                let path = format!("tracks[{ti}].clips[{ci}]");
                if let Some(r) = cameras.iter_mut().find(|r| r.key == key) {
                    r.used_by.push(path);
                    continue;
                }
                let (address, name, with_credentials, existing) = match &clip.source {
                    SourceRef::Url {
                        url,
                        username,
                        password,
                        ..
                    } => (
                        Some(url.as_str().to_string()),
                        None,
                        username.is_some() || password.is_some(),
                        base.find_camera_by_address(url),
                    ),
                    SourceRef::Camera { name, .. } => (
                        None,
                        Some(name.clone()),
                        false,
                        base.find_camera_by_name(name),
                    ),
                    _ => continue,
                };
                let can_create = address.is_some();
                let (action, camera, create_name) = match mapped.get(&key).or(existing.as_ref()) {
                    Some(c) => (ReferenceAction::Existing, Some(matched(c.clone())), None),
                    None => match create_names.get(&key) {
                        Some(n) => (ReferenceAction::Create, None, Some(n.clone())),
                        None => (ReferenceAction::Missing, None, None),
                    },
                };
                cameras.push(CameraReference {
                    key,
                    address,
                    name,
                    with_credentials,
                    used_by: vec![path],
                    existing: existing.map(&matched),
                    action,
                    camera,
                    create_name,
                    can_create,
                });
            }
        }

        let mut tx = self.db.catalog_tx().await?;
        let outcome = self
            .store_segment(
                &mut tx,
                &import,
                "",
                SegmentMode::Create,
                CameraPolicy::Import(choices),
                None,
            )
            .await;
        tx.rollback().await?;
        let (problem, warnings) = match outcome {
            Ok(out) => (None, out.warnings),
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Validation | ErrorKind::Conflict | ErrorKind::InvalidState
                ) =>
            {
                let problem = PlanProblem {
                    error: e.kind.code().to_string(),
                    message: e.message,
                    field: e.field,
                };
                (Some(problem), Vec::new())
            }
            Err(e) => return Err(e),
        };
        Ok(ImportPlan {
            format: import.format,
            id: import.id.clone(),
            name: import.name.clone(),
            cameras,
            problem,
            warnings,
            credentials_moved: import.removed_credentials.clone(),
        })
    }

    /// Resolves, validates and stores one segment inside `tx`. `prefix` is put before every
    /// field of an error (`timelines[2].` in a sync).
    pub(super) async fn store_segment(
        &self,
        tx: &mut CatalogTx,
        import: &Import,
        prefix: &str,
        mode: SegmentMode,
        policy: CameraPolicy<'_>,
        user_id: Option<i64>,
    ) -> Result<SegmentOutcome> {
        let field = |p: &str| format!("{prefix}{}", studio_field(p, import.format));
        let mut rows = tx.catalog_rows().await?;
        let (mapped, names) = match policy.choices() {
            Some(choices) => check_choices(choices, import, &rows, prefix)?,
            None => Default::default(),
        };
        let chosen = |rows: &CatalogRows| Chosen {
            base: catalog_of(rows),
            mapped: &mapped,
        };
        let mut planned = Vec::new();
        let mut created_keys: Vec<String> = Vec::new();
        let mut warnings = Vec::new();
        let mut timeline = match import.resolve(&chosen(&rows)) {
            Ok(t) => t,
            Err(missing) => {
                // With choices, every reference nothing answers needs one: nothing is created
                // that the user did not ask for.
                if let Some(choices) = policy.choices() {
                    for u in &missing {
                        let Some(key) = missing_key(&u.missing) else {
                            continue;
                        };
                        if !choices.iter().any(|c| c.key == key) {
                            return Err(Error::invalid(
                                format!("{prefix}cameras"),
                                format!(
                                    "no choice for the camera '{key}' (used by {}): map it to a camera or create it",
                                    u.paths.join(", ")
                                ),
                            ));
                        }
                    }
                }
                let creatable = |u: &vs_timeline::Unresolved| {
                    policy.creates() && matches!(u.missing, Missing::Camera { url: Some(_), .. })
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
                    let name = match names.get(url.as_str()) {
                        Some(asked) => asked.trim().to_string(),
                        None => free_name(suggested_name, &taken),
                    };
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
                        enabled: matches!(policy, CameraPolicy::Import(_)).then_some(false),
                        ..Default::default()
                    };
                    let v = validate_camera(&input).map_err(|e| {
                        Error::invalid(format!("{prefix}{}", unresolved_field(u)), e.message)
                    })?;
                    if taken.iter().any(|t| t.eq_ignore_ascii_case(&v.name)) {
                        return Err(Error::conflict(format!(
                            "a camera is named '{}' already; choose another name for {url}",
                            v.name
                        ))
                        .with_field(format!("{prefix}cameras")));
                    }
                    // In the same transaction as the timeline: a failure (or a crash) later
                    // in the import leaves no camera behind.
                    let row = tx
                        .insert_camera(&self.cameras.camera_write(&v, None, None))
                        .await?;
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
                    created_keys.push(url.as_str().to_string());
                    taken.push(row.name);
                }
                rows = tx.catalog_rows().await?;
                import.resolve(&chosen(&rows)).map_err(|still| {
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
        let catalog = chosen(&rows).base;
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
            // A login for an address that plays a configured camera is not kept: that camera
            // connects with its own.
            let kept_elsewhere = clip_at(import, path)
                .and_then(|c| reference_key(&c.source))
                .is_some_and(|k| !created_keys.contains(&k));
            let message = if kept_elsewhere {
                "credentials were taken out of the file and not kept: the clip plays a configured camera, which connects with its own login"
            } else {
                "credentials were taken out of the file and stored encrypted"
            };
            warnings.push(Issue {
                path: format!("{prefix}{path}"),
                message: message.into(),
            });
        }
        let keys_unchanged = existing.as_ref().is_some_and(|old| {
            same_api_keys(&self.secrets, old.api_keys_enc.as_deref(), &import.api_keys)
        });
        let sealed = if keys_unchanged {
            None
        } else {
            seal_api_keys(&self.secrets, &import.api_keys)?
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

    /// After the commit of an import or a sync that added cameras: announced as `create` of
    /// the camera service announces one.
    pub(super) async fn announce(
        &self,
        planned: &[PlannedCamera],
        user_id: Option<i64>,
    ) -> Vec<Camera> {
        let rows: Vec<CameraRow> = planned.iter().map(|p| p.row.clone()).collect();
        self.cameras.announce_added(&rows, user_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_names_are_made_free() {
        let taken = vec!["Dock".to_string(), "dock 2".to_string()];
        assert_eq!(free_name("Dock", &taken), "Dock 3");
        assert_eq!(free_name("Pier", &taken), "Pier");
    }
}
