//! VistterStudio segment files: import of both shapes in use — the flat one its editor writes
//! (`{id, name, duration, created, updated, tracks, assets, apiConfigs}`) and the one its
//! schema declares (`{version, metadata: {id, name, duration, ...}, tracks, ...}`) — then
//! resolution of the clips' sources against the appliance's [`Catalog`], and export back.
//!
//! Round-trip rule: import then export gives a document equal to the original, except that
//! credentials are never written unless the caller passes a [`CredentialStore`] in
//! [`ExportOptions::credentials`]. Credentials (logins inside stream addresses, `apiKey` of API
//! configurations) are taken out at import time, before anything is stored, and handed to the
//! caller as [`Secret`]s to seal. Fields the appliance does not model stay in the `extra` maps;
//! the original values of modelled fields that the model cannot hold exactly (a time with more
//! than millisecond precision, a fractional pixel, the clip's `asset` and `position` objects)
//! stay there too and are written back as long as they still mean what the model says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vs_base::{Error, ErrorKind, Result, Secret, StreamUrl};

use crate::catalog::{CameraInfo, Catalog, OverlayInfo};
use crate::credentials::{
    join_credentials, same_address, split_credentials, strip_userinfo, CredentialPlacement,
};
use crate::model::{
    Clip, ClipSource, Playback, Timeline, Track, TrackKind, PROGRAM_HEIGHT, PROGRAM_WIDTH,
};

/// The two document shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// What the editor's backend writes: identity and duration at the top level.
    Flat,
    /// What `schema-timeline.json` declares: `version`, identity in `metadata`.
    Declared,
}

impl Format {
    /// Which shape a document has. A JSON Schema document is refused by name because it sits
    /// next to the segments and is the likeliest wrong file to be picked.
    pub fn detect(doc: &Value) -> Result<Format> {
        let obj = doc.as_object().ok_or_else(|| {
            Error::new(
                ErrorKind::Validation,
                "a VistterStudio segment must be a JSON object",
            )
        })?;
        if obj.contains_key("$schema")
            || (obj.contains_key("properties") && obj.get("type") == Some(&Value::from("object")))
        {
            return Err(Error::new(
                ErrorKind::Validation,
                "this is a JSON Schema document, not a VistterStudio segment",
            ));
        }
        if obj.get("metadata").is_some_and(Value::is_object) || obj.contains_key("version") {
            Ok(Format::Declared)
        } else if obj.contains_key("tracks") {
            Ok(Format::Flat)
        } else {
            Err(Error::invalid(
                "tracks",
                "is missing: expected a VistterStudio segment, {id, name, duration, tracks, ...} \
                 or {version, metadata: {id, name, duration}, tracks, ...}",
            ))
        }
    }

    /// The shape a timeline was imported from (flat for timelines made on the appliance).
    pub fn of(timeline: &Timeline) -> Format {
        if timeline.extra.contains_key("metadata") || timeline.extra.contains_key("version") {
            Format::Declared
        } else {
            Format::Flat
        }
    }
}

/// A segment file read and cleaned of credentials, its sources not yet matched to the
/// appliance's cameras and overlays. Paths in it are those of the VistterStudio document.
#[derive(Debug, Clone)]
pub struct Import {
    pub format: Format,
    pub id: Option<String>,
    pub name: String,
    pub duration_ms: i64,
    pub playback: Playback,
    pub tracks: Vec<ImportedTrack>,
    pub extra: Map<String, Value>,
    /// `apiKey`s found in API configurations, to seal; they are no longer in the document.
    pub api_keys: Vec<ApiKey>,
    /// Every field a credential was removed from, for telling the user what was moved.
    pub removed_credentials: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportedTrack {
    pub id: Option<String>,
    pub kind: TrackKind,
    pub name: String,
    pub clips: Vec<ImportedClip>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct ImportedClip {
    pub id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub source: SourceRef,
    pub extra: Map<String, Value>,
}

/// An API key taken out of the document.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub path: String,
    pub config_id: Option<String>,
    pub key: Secret,
}

/// What a clip's `asset` refers to, before it is matched to the catalog.
#[derive(Debug, Clone)]
pub enum SourceRef {
    /// A stream address; the credentials found in it are here, never in the document.
    Url {
        url: StreamUrl,
        username: Option<String>,
        password: Option<Secret>,
        placement: CredentialPlacement,
        /// `asset.preset`: a preset name or ONVIF token (an appliance extension; the studio
        /// keeps unknown fields).
        preset: Option<String>,
    },
    /// A path that is not an address: taken as a camera name.
    Camera {
        name: String,
        preset: Option<String>,
    },
    /// An overlay, by the keys it may be known under (asset id, path, API config id), placed
    /// in pixels of the 1920x1080 program.
    Overlay {
        keys: Vec<String>,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        opacity: f64,
    },
    /// Something no camera or overlay can be made of (an `http://` page on a video track).
    Unplayable { reason: String },
    /// A clip of an audio or ad track.
    Passthrough,
}

/// A source the catalog could not match, with every clip that uses it.
#[derive(Debug, Clone)]
pub struct Unresolved {
    /// Paths in the appliance's timeline (`tracks[0].clips[2]`).
    pub paths: Vec<String>,
    pub missing: Missing,
}

#[derive(Debug, Clone)]
pub enum Missing {
    /// No camera has this address (or name): the caller may create one, sealing the password,
    /// and resolve again.
    Camera {
        url: Option<StreamUrl>,
        name: Option<String>,
        username: Option<String>,
        password: Option<Secret>,
        placement: CredentialPlacement,
        suggested_name: String,
    },
    Preset {
        camera: CameraInfo,
        preset: String,
    },
    Overlay {
        keys: Vec<String>,
    },
    Unplayable {
        reason: String,
    },
}

impl Missing {
    fn same_as(&self, other: &Missing) -> bool {
        match (self, other) {
            (
                Missing::Camera {
                    url: Some(a),
                    placement: pa,
                    username: ua,
                    ..
                },
                Missing::Camera {
                    url: Some(b),
                    placement: pb,
                    username: ub,
                    ..
                },
            ) => same_address(a, b) && pa == pb && ua == ub,
            (Missing::Camera { name: Some(a), .. }, Missing::Camera { name: Some(b), .. }) => {
                a.eq_ignore_ascii_case(b)
            }
            (
                Missing::Preset {
                    camera: a,
                    preset: pa,
                },
                Missing::Preset {
                    camera: b,
                    preset: pb,
                },
            ) => a.id == b.id && pa.eq_ignore_ascii_case(pb),
            (Missing::Overlay { keys: a }, Missing::Overlay { keys: b }) => a == b,
            (Missing::Unplayable { reason: a }, Missing::Unplayable { reason: b }) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used_by = self.paths.join(", ");
        match &self.missing {
            Missing::Camera { url: Some(u), .. } => {
                write!(f, "{used_by}: no camera has the address {u}")
            }
            Missing::Camera { name, .. } => write!(
                f,
                "{used_by}: no camera is named '{}'",
                name.as_deref().unwrap_or_default()
            ),
            Missing::Preset { camera, preset } => write!(
                f,
                "{used_by}: camera '{}' has no preset named '{preset}'",
                camera.name
            ),
            Missing::Overlay { keys } => {
                write!(f, "{used_by}: no overlay is known as {}", keys.join(" or "))
            }
            Missing::Unplayable { reason } => write!(f, "{used_by}: {reason}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Import

impl Import {
    /// Reads a segment file's text.
    pub fn parse(text: &str) -> Result<Import> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Validation,
                format!("the file is not valid JSON ({e})"),
            )
        })?;
        Import::from_value(doc)
    }

    /// Reads a segment document of either shape.
    pub fn from_value(doc: Value) -> Result<Import> {
        let format = Format::detect(&doc)?;
        let Value::Object(mut top) = doc else {
            unreachable!("detect accepts objects only")
        };
        let mut secrets = Secrets::default();
        // Credentials first, so that nothing below can copy one into the model.
        if let Some(Value::Array(configs)) = top.get_mut("apiConfigs") {
            for (i, config) in configs.iter_mut().enumerate() {
                secrets.take_api_key(config, &format!("apiConfigs[{i}]"));
            }
        }

        let (id, name, duration_ms) = match format {
            Format::Flat => {
                let id = take_opt_string(&mut top, "id", "id")?;
                let name = take_opt_string(&mut top, "name", "name")?;
                let duration = take_seconds(&mut top, "duration", "duration")?;
                (id, name, duration)
            }
            Format::Declared => {
                let meta = match top.get_mut("metadata") {
                    Some(Value::Object(m)) => m,
                    _ => {
                        return Err(Error::invalid(
                            "metadata",
                            "is required and must be an object",
                        ))
                    }
                };
                let id = take_opt_string(meta, "id", "metadata.id")?
                    .ok_or_else(|| Error::invalid("metadata.id", "is required"))?;
                let name = take_opt_string(meta, "name", "metadata.name")?
                    .ok_or_else(|| Error::invalid("metadata.name", "is required"))?;
                let duration = take_seconds(meta, "duration", "metadata.duration")?;
                (Some(id), Some(name), duration)
            }
        };
        let playback = match top.get("loop") {
            None | Some(Value::Bool(true)) => Playback::Loop,
            Some(Value::Bool(false)) => Playback::Once,
            Some(_) => return Err(Error::invalid("loop", "must be true or false")),
        };
        let tracks = match top.shift_remove("tracks") {
            Some(Value::Array(tracks)) => tracks,
            _ => return Err(Error::invalid("tracks", "is required and must be an array")),
        };
        let assets = top
            .get("assets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let tracks = tracks
            .into_iter()
            .enumerate()
            .map(|(i, t)| import_track(t, i, &assets, &mut secrets))
            .collect::<Result<Vec<_>>>()?;
        Ok(Import {
            format,
            name: name.unwrap_or_default(),
            id,
            duration_ms,
            playback,
            tracks,
            extra: top,
            api_keys: secrets.api_keys,
            removed_credentials: secrets.removed,
        })
    }

    /// Matches every source to the catalog. Either all match and the timeline is returned, or
    /// the list of what is missing (one entry per distinct source, with every clip using it):
    /// create those cameras/overlays/presets, then resolve again.
    pub fn resolve(&self, catalog: &dyn Catalog) -> std::result::Result<Timeline, Vec<Unresolved>> {
        let mut unresolved: Vec<Unresolved> = Vec::new();
        let mut tracks = Vec::with_capacity(self.tracks.len());
        for (ti, track) in self.tracks.iter().enumerate() {
            let mut clips = Vec::with_capacity(track.clips.len());
            for (ci, clip) in track.clips.iter().enumerate() {
                match resolve_source(&clip.source, catalog) {
                    Ok(source) => clips.push(Clip {
                        id: clip.id.clone(),
                        start_ms: clip.start_ms,
                        end_ms: clip.end_ms,
                        source,
                        extra: clip.extra.clone(),
                    }),
                    Err(missing) => {
                        let path = format!("tracks[{ti}].clips[{ci}]");
                        match unresolved.iter_mut().find(|u| u.missing.same_as(&missing)) {
                            Some(u) => u.paths.push(path),
                            None => unresolved.push(Unresolved {
                                paths: vec![path],
                                missing,
                            }),
                        }
                    }
                }
            }
            tracks.push(Track {
                id: track.id.clone(),
                kind: track.kind,
                name: track.name.clone(),
                clips,
                extra: track.extra.clone(),
            });
        }
        if !unresolved.is_empty() {
            return Err(unresolved);
        }
        Ok(Timeline {
            id: self.id.clone(),
            name: self.name.clone(),
            duration_ms: self.duration_ms,
            playback: self.playback,
            destination_ids: Vec::new(),
            tracks,
            extra: self.extra.clone(),
        })
    }
}

#[derive(Default)]
struct Secrets {
    api_keys: Vec<ApiKey>,
    removed: Vec<String>,
}

impl Secrets {
    fn take_api_key(&mut self, config: &mut Value, path: &str) {
        let Some(obj) = config.as_object_mut() else {
            return;
        };
        if let Some(key) = obj.shift_remove("apiKey") {
            let key_path = format!("{path}.apiKey");
            if let Some(k) = key.as_str().filter(|k| !k.is_empty()) {
                self.api_keys.push(ApiKey {
                    path: key_path.clone(),
                    config_id: obj.get("id").and_then(Value::as_str).map(str::to_string),
                    key: Secret::new(k),
                });
            }
            self.removed.push(key_path);
        }
    }
}

fn import_track(
    value: Value,
    ti: usize,
    assets: &[Value],
    secrets: &mut Secrets,
) -> Result<ImportedTrack> {
    let path = format!("tracks[{ti}]");
    let Value::Object(mut obj) = value else {
        return Err(Error::invalid(path, "must be an object"));
    };
    let id = take_opt_string(&mut obj, "id", &format!("{path}.id"))?;
    let kind = match obj.shift_remove("type") {
        Some(Value::String(s)) => match s.as_str() {
            "video" => TrackKind::Video,
            "overlay" => TrackKind::Overlay,
            "audio" => TrackKind::Audio,
            "ad" => TrackKind::Ad,
            other => {
                return Err(Error::invalid(
                    format!("{path}.type"),
                    format!("'{other}' is not a track type; use video, overlay, audio or ad"),
                ))
            }
        },
        _ => {
            return Err(Error::invalid(
                format!("{path}.type"),
                "is required: video, overlay, audio or ad",
            ))
        }
    };
    let name = take_opt_string(&mut obj, "name", &format!("{path}.name"))?.unwrap_or_default();
    let clips = match obj.shift_remove("clips") {
        Some(Value::Array(clips)) => clips,
        _ => {
            return Err(Error::invalid(
                format!("{path}.clips"),
                "is required and must be an array",
            ))
        }
    };
    let clips = clips
        .into_iter()
        .enumerate()
        .map(|(ci, c)| import_clip(c, kind, &format!("{path}.clips[{ci}]"), assets, secrets))
        .collect::<Result<Vec<_>>>()?;
    Ok(ImportedTrack {
        id,
        kind,
        name,
        clips,
        extra: obj,
    })
}

fn import_clip(
    value: Value,
    kind: TrackKind,
    path: &str,
    assets: &[Value],
    secrets: &mut Secrets,
) -> Result<ImportedClip> {
    let Value::Object(mut obj) = value else {
        return Err(Error::invalid(path, "must be an object"));
    };
    let id = take_opt_string(&mut obj, "id", &format!("{path}.id"))?
        .ok_or_else(|| Error::invalid(format!("{path}.id"), "is required"))?;
    let start_ms = take_seconds(&mut obj, "startTime", &format!("{path}.startTime"))?;
    let end_ms = take_seconds(&mut obj, "endTime", &format!("{path}.endTime"))?;
    let asset_path = format!("{path}.asset");
    let Some(Value::Object(asset)) = obj.get_mut("asset") else {
        return Err(Error::invalid(
            asset_path,
            "is required and must be an object",
        ));
    };
    if let Some(config) = asset.get_mut("apiConfig") {
        secrets.take_api_key(config, &format!("{asset_path}.apiConfig"));
    }
    // The address is parsed once here: its credentials go to the source reference, and only
    // the cleaned address stays in the document.
    let mut split = None;
    if let Some(Value::String(p)) = asset.get_mut("path") {
        match split_credentials(p, &format!("{asset_path}.path")) {
            Ok(s) => {
                if s.has_credentials() {
                    *p = s.url.as_str().to_string();
                    secrets.removed.push(format!("{asset_path}.path"));
                }
                split = Some(s);
            }
            Err(_) => {
                if let Some(clean) = strip_userinfo(p) {
                    *p = clean;
                    secrets.removed.push(format!("{asset_path}.path"));
                }
            }
        }
    }
    let asset = obj["asset"].as_object().expect("checked above");
    let preset = asset
        .get("preset")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let source = match kind {
        TrackKind::Video => match (split, asset.get("path").and_then(Value::as_str)) {
            (Some(s), _) => SourceRef::Url {
                url: s.url,
                username: s.username,
                password: s.password,
                placement: s.placement,
                preset,
            },
            (None, Some(p)) if !p.trim().is_empty() && !p.contains("://") => SourceRef::Camera {
                name: p.trim().to_string(),
                preset,
            },
            (None, Some(p)) if !p.trim().is_empty() => SourceRef::Unplayable {
                reason: format!(
                    "'{p}' is not a camera stream address (rtsp, rtsps, rtmp, rtmps or srt)"
                ),
            },
            _ => SourceRef::Unplayable {
                reason: "the asset has no path naming a camera".into(),
            },
        },
        TrackKind::Overlay => {
            let keys = overlay_keys(asset, assets);
            if keys.is_empty() {
                SourceRef::Unplayable {
                    reason: "the asset has no path or API configuration naming an overlay".into(),
                }
            } else {
                let pos = obj.get("position");
                let px = |k: &str, default: i32| -> Result<i32> {
                    match pos.and_then(|p| p.get(k)) {
                        None => Ok(default),
                        Some(v) => v.as_f64().and_then(to_pixels).ok_or_else(|| {
                            Error::invalid(
                                format!("{path}.position.{k}"),
                                "must be a number of pixels",
                            )
                        }),
                    }
                };
                let opacity = match obj.get("opacity") {
                    None => 1.0,
                    Some(v) => v.as_f64().ok_or_else(|| {
                        Error::invalid(format!("{path}.opacity"), "must be a number from 0 to 1")
                    })?,
                };
                SourceRef::Overlay {
                    keys,
                    x: px("x", 0)?,
                    y: px("y", 0)?,
                    width: px("width", PROGRAM_WIDTH)?,
                    height: px("height", PROGRAM_HEIGHT)?,
                    opacity,
                }
            }
        }
        TrackKind::Audio | TrackKind::Ad => SourceRef::Passthrough,
    };
    Ok(ImportedClip {
        id,
        start_ms,
        end_ms,
        source,
        extra: obj,
    })
}

/// The names an overlay asset may be known under, most specific first: the id of the
/// document's `assets[]` entry it points to, its path, its API configuration's id.
fn overlay_keys(asset: &Map<String, Value>, assets: &[Value]) -> Vec<String> {
    let mut keys = Vec::new();
    let path = asset
        .get("path")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if let Some(p) = path {
        let entry = assets.iter().find(|a| {
            a.get("id").and_then(Value::as_str) == Some(p)
                || a.get("path").and_then(Value::as_str) == Some(p)
        });
        if let Some(id) = entry.and_then(|a| a.get("id")).and_then(Value::as_str) {
            keys.push(id.to_string());
        }
        if !keys.iter().any(|k| k == p) {
            keys.push(p.to_string());
        }
    }
    if let Some(id) = asset
        .get("apiConfig")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
    {
        if !keys.iter().any(|k| k == id) {
            keys.push(id.to_string());
        }
    }
    keys
}

fn find_overlay_by_keys(keys: &[String], catalog: &dyn Catalog) -> Option<OverlayInfo> {
    keys.iter().find_map(|k| catalog.find_overlay(k))
}

// Private and called once per clip: boxing the error would buy nothing.
#[allow(clippy::result_large_err)]
fn resolve_source(
    source: &SourceRef,
    catalog: &dyn Catalog,
) -> std::result::Result<ClipSource, Missing> {
    let camera_source = |camera: CameraInfo, preset: &Option<String>| match preset {
        None => Ok(ClipSource::Camera {
            camera_id: camera.id,
            preset_id: None,
        }),
        Some(p) => match catalog.find_preset(camera.id, p) {
            Some(found) => Ok(ClipSource::Camera {
                camera_id: camera.id,
                preset_id: Some(found.id),
            }),
            None => Err(Missing::Preset {
                camera,
                preset: p.clone(),
            }),
        },
    };
    match source {
        SourceRef::Url {
            url,
            username,
            password,
            placement,
            preset,
        } => match catalog.find_camera_by_address(url) {
            Some(camera) => camera_source(camera, preset),
            None => Err(Missing::Camera {
                url: Some(url.clone()),
                name: None,
                username: username.clone(),
                password: password.clone(),
                placement: placement.clone(),
                suggested_name: suggest_camera_name(url),
            }),
        },
        SourceRef::Camera { name, preset } => match catalog.find_camera_by_name(name) {
            Some(camera) => camera_source(camera, preset),
            None => Err(Missing::Camera {
                url: None,
                name: Some(name.clone()),
                username: None,
                password: None,
                placement: CredentialPlacement::UserInfo,
                suggested_name: name.clone(),
            }),
        },
        SourceRef::Overlay {
            keys,
            x,
            y,
            width,
            height,
            opacity,
        } => match find_overlay_by_keys(keys, catalog) {
            Some(o) => Ok(ClipSource::Overlay {
                overlay_id: o.id,
                x: *x,
                y: *y,
                width: *width,
                height: *height,
                opacity: *opacity,
            }),
            None => Err(Missing::Overlay { keys: keys.clone() }),
        },
        SourceRef::Unplayable { reason } => Err(Missing::Unplayable {
            reason: reason.clone(),
        }),
        SourceRef::Passthrough => Ok(ClipSource::Passthrough),
    }
}

/// "host last-path-segment", e.g. `192.168.1.50 channel0_main`: unique enough for the cameras
/// of one NVR, and the user renames it anyway.
fn suggest_camera_name(url: &StreamUrl) -> String {
    let s = url.as_str();
    let after = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let path = after.split(['?', '#']).next().unwrap_or("");
    let last = path
        .split('/')
        .skip(1)
        .filter(|seg| !seg.is_empty())
        .last()
        .map(|seg| seg.split('.').next().unwrap_or(seg));
    match last {
        Some(seg) if !seg.is_empty() => format!("{} {seg}", url.host()),
        _ => url.host().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// Where the secrets come from when an export must carry them.
pub trait CredentialStore {
    fn camera_credentials(&self, camera_id: i64) -> Option<CameraCredentials>;
    fn api_key(&self, config_id: &str) -> Option<Secret>;
}

#[derive(Debug, Clone, Default)]
pub struct CameraCredentials {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub placement: CredentialPlacement,
}

/// How to export. The default writes the shape the timeline came from, without credentials.
#[derive(Clone, Copy, Default)]
pub struct ExportOptions<'a> {
    pub format: Option<Format>,
    /// Only when set are logins and API keys written into the document: for handing a segment
    /// to a broadcast node that must pull the cameras itself. Never for a download or a log.
    pub credentials: Option<&'a dyn CredentialStore>,
}

const TOP_MANAGED: &[&str] = &[
    "duration",
    "loop",
    "created",
    "updated",
    "assets",
    "apiConfigs",
    "version",
    "metadata",
];
const CLIP_MANAGED: &[&str] = &["startTime", "endTime", "asset", "position", "opacity"];

/// Writes a timeline as a VistterStudio segment document.
pub fn export(
    timeline: &Timeline,
    catalog: &dyn Catalog,
    options: &ExportOptions<'_>,
) -> Result<Value> {
    let format = options.format.unwrap_or_else(|| Format::of(timeline));
    let extra = &timeline.extra;
    let empty = Map::new();
    let meta = extra
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let dated = |k: &str| extra.get(k).or_else(|| meta.get(k)).cloned();
    let duration = seconds_value(
        timeline.duration_ms,
        extra.get("duration").or_else(|| meta.get("duration")),
    );
    let assets = extra
        .get("assets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tracks = timeline
        .tracks
        .iter()
        .enumerate()
        .map(|(ti, t)| export_track(t, ti, catalog, &assets, options))
        .collect::<Result<Vec<_>>>()?;

    let mut out = Map::new();
    match format {
        Format::Flat => {
            if let Some(id) = &timeline.id {
                out.insert("id".into(), id.clone().into());
            }
            out.insert("name".into(), timeline.name.clone().into());
            out.insert("duration".into(), duration);
            for k in ["created", "updated"] {
                if let Some(v) = dated(k) {
                    out.insert(k.into(), v);
                }
            }
        }
        Format::Declared => {
            let id = timeline.id.clone().ok_or_else(|| {
                Error::invalid(
                    "id",
                    "is required to export in the declared VistterStudio shape",
                )
            })?;
            out.insert(
                "version".into(),
                extra
                    .get("version")
                    .cloned()
                    .unwrap_or_else(|| "1.0".into()),
            );
            let mut m = Map::new();
            m.insert("id".into(), id.into());
            m.insert("name".into(), timeline.name.clone().into());
            m.insert("duration".into(), duration);
            for k in ["created", "updated"] {
                if let Some(v) = dated(k) {
                    m.insert(k.into(), v);
                }
            }
            for (k, v) in meta {
                if !m.contains_key(k) {
                    m.insert(k.clone(), v.clone());
                }
            }
            out.insert("metadata".into(), Value::Object(m));
        }
    }
    out.insert("tracks".into(), Value::Array(tracks));
    out.insert("assets".into(), Value::Array(assets));
    let mut configs = extra
        .get("apiConfigs")
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()));
    if let (Some(store), Value::Array(list)) = (options.credentials, &mut configs) {
        list.iter_mut().for_each(|c| put_api_key(c, store));
    }
    out.insert("apiConfigs".into(), configs);
    let looping = timeline.playback == Playback::Loop;
    match extra.get("loop") {
        Some(Value::Bool(b)) if *b == looping => {
            out.insert("loop".into(), Value::Bool(*b));
        }
        Some(_) => {
            out.insert("loop".into(), Value::Bool(looping));
        }
        None if !looping => {
            out.insert("loop".into(), Value::Bool(false));
        }
        None => {}
    }
    for (k, v) in extra {
        if !TOP_MANAGED.contains(&k.as_str()) && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// [`export`] as text the way the studio's backend writes its files (two-space indentation,
/// final newline), so a file that went through the appliance unchanged diffs clean.
pub fn export_pretty(
    timeline: &Timeline,
    catalog: &dyn Catalog,
    options: &ExportOptions<'_>,
) -> Result<String> {
    let value = export(timeline, catalog, options)?;
    let mut text = serde_json::to_string_pretty(&value).map_err(Error::internal)?;
    text.push('\n');
    Ok(text)
}

fn export_track(
    track: &Track,
    ti: usize,
    catalog: &dyn Catalog,
    assets: &[Value],
    options: &ExportOptions<'_>,
) -> Result<Value> {
    let mut out = Map::new();
    out.insert(
        "id".into(),
        track
            .id
            .clone()
            .unwrap_or_else(|| format!("track-{}", ti + 1))
            .into(),
    );
    out.insert("type".into(), track.kind.as_str().into());
    if !track.name.is_empty() {
        out.insert("name".into(), track.name.clone().into());
    }
    let clips = track
        .clips
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            export_clip(
                c,
                &format!("tracks[{ti}].clips[{ci}]"),
                catalog,
                assets,
                options,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    out.insert("clips".into(), Value::Array(clips));
    for (k, v) in &track.extra {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn export_clip(
    clip: &Clip,
    path: &str,
    catalog: &dyn Catalog,
    assets: &[Value],
    options: &ExportOptions<'_>,
) -> Result<Value> {
    let extra = &clip.extra;
    let shadow_asset = extra.get("asset").and_then(Value::as_object);
    let mut out = Map::new();
    out.insert("id".into(), clip.id.clone().into());
    out.insert(
        "startTime".into(),
        seconds_value(clip.start_ms, extra.get("startTime")),
    );
    out.insert(
        "endTime".into(),
        seconds_value(clip.end_ms, extra.get("endTime")),
    );
    match &clip.source {
        ClipSource::Camera {
            camera_id,
            preset_id,
        } => {
            let asset = camera_asset(shadow_asset, *camera_id, *preset_id, path, catalog, options)?;
            out.insert("asset".into(), Value::Object(asset));
            // The editor writes a full-frame position on every clip; a clip imported without
            // one stays without one.
            match extra.get("position") {
                Some(p) => {
                    out.insert("position".into(), p.clone());
                }
                None if shadow_asset.is_none() => {
                    out.insert(
                        "position".into(),
                        position_value(None, 0, 0, PROGRAM_WIDTH, PROGRAM_HEIGHT),
                    );
                }
                None => {}
            }
        }
        ClipSource::Overlay {
            overlay_id,
            x,
            y,
            width,
            height,
            opacity,
        } => {
            let asset = overlay_asset(shadow_asset, *overlay_id, path, catalog, assets, options)?;
            out.insert("asset".into(), Value::Object(asset));
            let full_frame = (*x, *y, *width, *height) == (0, 0, PROGRAM_WIDTH, PROGRAM_HEIGHT);
            let original = extra.get("position");
            if original.is_some() || shadow_asset.is_none() || !full_frame {
                out.insert(
                    "position".into(),
                    position_value(original, *x, *y, *width, *height),
                );
            }
            match extra.get("opacity") {
                Some(v) if v.as_f64() == Some(*opacity) => {
                    out.insert("opacity".into(), v.clone());
                }
                Some(_) => {
                    out.insert("opacity".into(), Value::from(*opacity));
                }
                None if *opacity != 1.0 => {
                    out.insert("opacity".into(), Value::from(*opacity));
                }
                None => {}
            }
        }
        ClipSource::Passthrough => {
            for k in ["asset", "position", "opacity"] {
                if let Some(v) = extra.get(k) {
                    let mut v = v.clone();
                    if let (Some(store), Some(config)) = (
                        options.credentials,
                        v.get_mut("apiConfig").filter(|_| k == "asset"),
                    ) {
                        put_api_key(config, store);
                    }
                    out.insert(k.into(), v);
                }
            }
        }
    }
    for (k, v) in extra {
        if !CLIP_MANAGED.contains(&k.as_str()) && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn camera_asset(
    shadow: Option<&Map<String, Value>>,
    camera_id: i64,
    preset_id: Option<i64>,
    path: &str,
    catalog: &dyn Catalog,
    options: &ExportOptions<'_>,
) -> Result<Map<String, Value>> {
    let camera = catalog.camera(camera_id).ok_or_else(|| {
        Error::invalid(
            format!("{path}.source.camera_id"),
            format!("camera {camera_id} does not exist"),
        )
    })?;
    let mut asset = shadow.cloned().unwrap_or_else(|| {
        let mut m = Map::new();
        m.insert("type".into(), "static".into());
        m
    });
    // The studio's own text of the address is kept while it still names this camera, so an
    // unchanged file comes back byte for byte.
    let kept = asset
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| path_names_camera(p, camera_id, catalog));
    let mut address = kept.map(str::to_string).unwrap_or(camera.address);
    if let Some(creds) = options
        .credentials
        .and_then(|store| store.camera_credentials(camera_id))
    {
        let split = split_credentials(&address, &format!("{path}.asset.path"))?;
        address = join_credentials(
            &split.url,
            creds.username.as_deref(),
            creds.password.as_ref(),
            &creds.placement,
        );
    }
    asset.insert("path".into(), address.into());
    match preset_id {
        Some(p) => {
            let kept = asset
                .get("preset")
                .and_then(Value::as_str)
                .and_then(|name| catalog.find_preset(camera_id, name))
                .is_some_and(|found| found.id == p);
            if !kept {
                let preset = catalog.preset(p).ok_or_else(|| {
                    Error::invalid(
                        format!("{path}.source.preset_id"),
                        format!("preset {p} does not exist"),
                    )
                })?;
                asset.insert("preset".into(), preset.name.into());
            }
        }
        None => {
            asset.shift_remove("preset");
        }
    }
    Ok(asset)
}

fn path_names_camera(path: &str, camera_id: i64, catalog: &dyn Catalog) -> bool {
    let found = match split_credentials(path, "path") {
        Ok(s) => catalog.find_camera_by_address(&s.url),
        Err(_) if !path.contains("://") => catalog.find_camera_by_name(path),
        Err(_) => None,
    };
    found.is_some_and(|c| c.id == camera_id)
}

fn overlay_asset(
    shadow: Option<&Map<String, Value>>,
    overlay_id: i64,
    path: &str,
    catalog: &dyn Catalog,
    assets: &[Value],
    options: &ExportOptions<'_>,
) -> Result<Map<String, Value>> {
    let overlay = catalog.overlay(overlay_id).ok_or_else(|| {
        Error::invalid(
            format!("{path}.source.overlay_id"),
            format!("overlay {overlay_id} does not exist"),
        )
    })?;
    let still_same = shadow.filter(|s| {
        find_overlay_by_keys(&overlay_keys(s, assets), catalog).is_some_and(|o| o.id == overlay_id)
    });
    let mut asset = match still_same {
        Some(s) => s.clone(),
        None => {
            let mut m = Map::new();
            m.insert("type".into(), "static".into());
            let key = overlay.keys.first().cloned().unwrap_or(overlay.name);
            m.insert("path".into(), key.into());
            m
        }
    };
    if let (Some(store), Some(config)) = (options.credentials, asset.get_mut("apiConfig")) {
        put_api_key(config, store);
    }
    Ok(asset)
}

fn put_api_key(config: &mut Value, store: &dyn CredentialStore) {
    let Some(obj) = config.as_object_mut() else {
        return;
    };
    let key = obj
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| store.api_key(id));
    if let Some(key) = key {
        obj.insert("apiKey".into(), key.expose().into());
    }
}

fn position_value(shadow: Option<&Value>, x: i32, y: i32, width: i32, height: i32) -> Value {
    let mut pos = shadow
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in [("x", x), ("y", y), ("width", width), ("height", height)] {
        let kept = pos
            .get(k)
            .and_then(Value::as_f64)
            .and_then(to_pixels)
            .is_some_and(|p| p == v);
        if !kept {
            pos.insert(k.into(), v.into());
        }
    }
    Value::Object(pos)
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// Seconds (the studio's unit) to milliseconds (the appliance's).
fn seconds_to_ms(s: f64) -> Option<i64> {
    // A billion seconds is 31 years: anything beyond is a broken file, not a timeline.
    (s.is_finite() && s.abs() <= 1e9).then(|| (s * 1000.0).round() as i64)
}

/// How a number of milliseconds is written in seconds: an integer when whole (the editor
/// writes `60`, and JSON `60` and `60.0` are different values), else a decimal.
fn ms_to_seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

/// The original value if it still means `ms`, else the canonical one.
fn seconds_value(ms: i64, original: Option<&Value>) -> Value {
    match original {
        Some(v) if v.as_f64().and_then(seconds_to_ms) == Some(ms) => v.clone(),
        _ => ms_to_seconds(ms),
    }
}

fn to_pixels(v: f64) -> Option<i32> {
    (v.is_finite() && v.abs() <= 1e6).then(|| v.round() as i32)
}

/// Removes a time in seconds from `obj`, converting it; the original stays in `obj` when the
/// conversion is not exact, so the export can give it back.
fn take_seconds(obj: &mut Map<String, Value>, key: &str, path: &str) -> Result<i64> {
    let original = match obj.get(key) {
        Some(v) => v.clone(),
        None => return Err(Error::invalid(path, "is required (a number of seconds)")),
    };
    let ms = original
        .as_f64()
        .and_then(seconds_to_ms)
        .ok_or_else(|| Error::invalid(path, "must be a number of seconds"))?;
    if ms_to_seconds(ms) == original {
        obj.shift_remove(key);
    }
    Ok(ms)
}

fn take_opt_string(obj: &mut Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match obj.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(path, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MemoryCatalog;
    use serde_json::json;

    fn reolink_doc() -> Value {
        json!({
            "id": "dock-1", "name": "Dock", "duration": 30,
            "created": "2025-09-16T16:05:47.198Z", "updated": "2025-09-16T16:05:47.198Z",
            "tracks": [{"id": "track-1", "type": "video", "clips": [
                {"id": "clip-1", "startTime": 0, "endTime": 15,
                 "asset": {"type": "static",
                           "path": "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0&user=Dock&password=Sea2025!!"},
                 "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}},
                {"id": "clip-2", "startTime": 15, "endTime": 30,
                 "asset": {"type": "static",
                           "path": "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0&user=Dock&password=Sea2025!!"},
                 "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}}
            ]}],
            "assets": [],
            "apiConfigs": [{"id": "wx", "type": "weather", "endpoint": "https://wx.example/api",
                            "apiKey": "K-123", "mapping": {}}]
        })
    }

    #[test]
    fn credentials_leave_the_document_at_import() {
        let imp = Import::from_value(reolink_doc()).unwrap();
        assert_eq!(imp.format, Format::Flat);
        assert_eq!(imp.api_keys.len(), 1);
        assert_eq!(imp.api_keys[0].key.expose(), "K-123");
        assert_eq!(imp.api_keys[0].config_id.as_deref(), Some("wx"));
        assert_eq!(
            imp.removed_credentials,
            vec![
                "apiConfigs[0].apiKey",
                "tracks[0].clips[0].asset.path",
                "tracks[0].clips[1].asset.path"
            ]
        );
        let SourceRef::Url {
            url,
            username,
            password,
            placement,
            ..
        } = &imp.tracks[0].clips[0].source
        else {
            panic!("expected a URL source")
        };
        assert_eq!(
            url.as_str(),
            "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0"
        );
        assert_eq!(username.as_deref(), Some("Dock"));
        assert_eq!(password.as_ref().unwrap().expose(), "Sea2025!!");
        assert!(matches!(placement, CredentialPlacement::Query { .. }));
        let everything = format!("{:?} {:?}", imp.extra, imp.tracks);
        assert!(!everything.contains("Sea2025"));
        assert!(!everything.contains("K-123"));
    }

    #[test]
    fn unknown_camera_is_reported_once_with_every_clip() {
        let imp = Import::from_value(reolink_doc()).unwrap();
        let missing = imp.resolve(&MemoryCatalog::default()).unwrap_err();
        assert_eq!(missing.len(), 1);
        assert_eq!(
            missing[0].paths,
            vec!["tracks[0].clips[0]", "tracks[0].clips[1]"]
        );
        let Missing::Camera {
            suggested_name,
            password,
            ..
        } = &missing[0].missing
        else {
            panic!("expected a missing camera")
        };
        assert_eq!(suggested_name, "10.0.0.9 channel0_main");
        assert_eq!(password.as_ref().unwrap().expose(), "Sea2025!!");
        assert!(!missing[0].to_string().contains("Sea2025"));
    }

    #[test]
    fn export_omits_credentials_unless_a_store_is_given() {
        struct Store;
        impl CredentialStore for Store {
            fn camera_credentials(&self, _: i64) -> Option<CameraCredentials> {
                Some(CameraCredentials {
                    username: Some("Dock".into()),
                    password: Some(Secret::new("Sea2025!!")),
                    placement: CredentialPlacement::Query {
                        user_param: "user".into(),
                        password_param: "password".into(),
                    },
                })
            }
            fn api_key(&self, id: &str) -> Option<Secret> {
                (id == "wx").then(|| Secret::new("K-123"))
            }
        }
        let catalog = MemoryCatalog::default().with_camera(
            4,
            "Dock",
            "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0",
        );
        let timeline = Import::from_value(reolink_doc())
            .unwrap()
            .resolve(&catalog)
            .unwrap();
        let stored = serde_json::to_string(&timeline).unwrap();
        assert!(!stored.contains("Sea2025") && !stored.contains("K-123"));

        let plain = export(&timeline, &catalog, &ExportOptions::default()).unwrap();
        let text = plain.to_string();
        assert!(!text.contains("Sea2025") && !text.contains("password") && !text.contains("K-123"));
        let mut expected = reolink_doc();
        for c in 0..2 {
            expected["tracks"][0]["clips"][c]["asset"]["path"] =
                "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0".into();
        }
        expected["apiConfigs"][0]
            .as_object_mut()
            .unwrap()
            .shift_remove("apiKey");
        assert_eq!(plain, expected);

        let full = export(
            &timeline,
            &catalog,
            &ExportOptions {
                credentials: Some(&Store),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(full, reolink_doc());
    }

    #[test]
    fn declared_shape_round_trips() {
        let doc = json!({
            "version": "1.0",
            "metadata": {"id": "harbor", "name": "Harbor", "duration": 12.5,
                         "created": "2025-01-01T00:00:00Z", "updated": "2025-01-02T00:00:00Z",
                         "author": "studio"},
            "tracks": [
                {"id": "v", "type": "video", "clips": [
                    {"id": "a", "startTime": 0, "endTime": 7.1234567,
                     "asset": {"type": "static", "path": "rtsp://cam.local/s1", "preset": "Dock"},
                     "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}},
                    {"id": "b", "startTime": 7.1234567, "endTime": 12.5,
                     "asset": {"type": "static", "path": "Bridge"}}]},
                {"id": "o", "type": "overlay", "clips": [
                    {"id": "w", "startTime": 1, "endTime": 5, "opacity": 0.8,
                     "asset": {"type": "dynamic", "path": "weather-card",
                               "apiConfig": {"id": "wx", "type": "weather", "endpoint": "https://wx.example"},
                               "placeholders": {"temp": "{{temperature}}"}},
                     "position": {"x": 1500.4, "y": 40, "width": 380, "height": 120, "z": 2}}]},
                {"id": "m", "type": "audio", "clips": [
                    {"id": "s", "startTime": 0, "endTime": 12.5,
                     "asset": {"type": "static", "path": "music/loop.mp3"}}]}
            ],
            "assets": [{"id": "weather-card", "type": "image", "path": "/assets/wx.png", "metadata": {}}],
            "apiConfigs": [],
            "x-note": "kept"
        });
        let catalog = MemoryCatalog::default()
            .with_camera(1, "Pier", "rtsp://cam.local:554/s1")
            .with_camera(2, "Bridge", "rtsp://bridge.local/s")
            .with_preset(10, 1, "Dock", 2000)
            .with_overlay(5, "Weather", &["weather-card"]);
        let imp = Import::from_value(doc.clone()).unwrap();
        assert_eq!(imp.format, Format::Declared);
        assert_eq!(imp.duration_ms, 12_500);
        let t = imp.resolve(&catalog).unwrap();
        assert_eq!(t.id.as_deref(), Some("harbor"));
        assert_eq!(t.tracks[0].clips[0].end_ms, 7_123);
        assert_eq!(
            t.tracks[0].clips[0].source,
            ClipSource::Camera {
                camera_id: 1,
                preset_id: Some(10)
            }
        );
        assert_eq!(
            t.tracks[1].clips[0].source,
            ClipSource::Overlay {
                overlay_id: 5,
                x: 1500,
                y: 40,
                width: 380,
                height: 120,
                opacity: 0.8
            }
        );
        assert_eq!(t.tracks[2].clips[0].source, ClipSource::Passthrough);
        assert_eq!(
            export(&t, &catalog, &ExportOptions::default()).unwrap(),
            doc
        );
    }

    #[test]
    fn edits_win_over_the_original_text() {
        let catalog = MemoryCatalog::default()
            .with_camera(1, "Pier", "rtsp://cam.local/s1")
            .with_camera(2, "Bridge", "rtsp://bridge.local/s")
            .with_preset(10, 1, "Dock", 2000)
            .with_preset(11, 1, "Beach", 2000)
            .with_overlay(5, "Logo", &["logo.png"])
            .with_overlay(6, "Sale", &["sale.png"]);
        let doc = json!({"id": "x", "name": "X", "duration": 10, "tracks": [
            {"id": "v", "type": "video", "clips": [
                {"id": "a", "startTime": 0, "endTime": 5.0001,
                 "asset": {"type": "static", "path": "rtsp://cam.local/s1", "preset": "Dock", "k": 1}}]},
            {"id": "o", "type": "overlay", "clips": [
                {"id": "b", "startTime": 0, "endTime": 5,
                 "asset": {"type": "static", "path": "logo.png"},
                 "position": {"x": 10.2, "y": 10, "width": 100, "height": 50}}]}]});
        let mut t = Import::from_value(doc).unwrap().resolve(&catalog).unwrap();
        t.tracks[0].clips[0].end_ms = 6_000;
        t.tracks[0].clips[0].source = ClipSource::Camera {
            camera_id: 1,
            preset_id: Some(11),
        };
        t.tracks[1].clips[0].source = ClipSource::Overlay {
            overlay_id: 6,
            x: 10,
            y: 20,
            width: 100,
            height: 50,
            opacity: 0.5,
        };
        let out = export(&t, &catalog, &ExportOptions::default()).unwrap();
        let a = &out["tracks"][0]["clips"][0];
        assert_eq!(a["endTime"], json!(6));
        assert_eq!(
            a["asset"],
            json!({"type": "static", "path": "rtsp://cam.local/s1", "preset": "Beach", "k": 1})
        );
        let b = &out["tracks"][1]["clips"][0];
        assert_eq!(b["asset"], json!({"type": "static", "path": "sale.png"}));
        assert_eq!(
            b["position"],
            json!({"x": 10.2, "y": 20, "width": 100, "height": 50})
        );
        assert_eq!(b["opacity"], json!(0.5));
    }

    #[test]
    fn native_timeline_exports_in_both_shapes() {
        let catalog = MemoryCatalog::default()
            .with_camera(1, "Pier", "rtsp://cam.local/s1")
            .with_preset(10, 1, "Dock", 2000)
            .with_overlay(5, "Logo", &[]);
        let mut t = Timeline::new("Morning", 20_000);
        t.playback = Playback::Once;
        let mut v = Track::new(TrackKind::Video, "");
        v.clips.push(Clip::camera("a", 0, 20_000, 1, Some(10)));
        let mut o = Track::new(TrackKind::Overlay, "Logos");
        o.clips
            .push(Clip::overlay("b", 1_500, 3_000, 5, (1700, 40, 200, 100)));
        t.tracks = vec![v, o];
        let flat = export(&t, &catalog, &ExportOptions::default()).unwrap();
        assert_eq!(
            flat,
            json!({"name": "Morning", "duration": 20, "tracks": [
                {"id": "track-1", "type": "video", "clips": [
                    {"id": "a", "startTime": 0, "endTime": 20,
                     "asset": {"type": "static", "path": "rtsp://cam.local/s1", "preset": "Dock"},
                     "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}}]},
                {"id": "track-2", "type": "overlay", "name": "Logos", "clips": [
                    {"id": "b", "startTime": 1.5, "endTime": 3,
                     "asset": {"type": "static", "path": "Logo"},
                     "position": {"x": 1700, "y": 40, "width": 200, "height": 100}}]}],
                "assets": [], "apiConfigs": [], "loop": false})
        );
        let err = export(
            &t,
            &catalog,
            &ExportOptions {
                format: Some(Format::Declared),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("id"));
        t.id = Some("morning".into());
        let declared = export(
            &t,
            &catalog,
            &ExportOptions {
                format: Some(Format::Declared),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(declared["version"], json!("1.0"));
        assert_eq!(
            declared["metadata"],
            json!({"id": "morning", "name": "Morning", "duration": 20})
        );
        // And what was exported imports back to the same timeline.
        let again = Import::from_value(declared)
            .unwrap()
            .resolve(&catalog)
            .unwrap();
        assert_eq!(again.tracks[1].clips[0].source, t.tracks[1].clips[0].source);
        assert_eq!(again.playback, Playback::Once);
    }

    #[test]
    fn structural_errors_name_the_field() {
        let cases = [
            (json!([]), None),
            (json!({"name": "x"}), Some("tracks")),
            (json!({"tracks": [], "duration": "60"}), Some("duration")),
            (
                json!({"tracks": [{"id": "t", "type": "subtitle", "clips": []}], "duration": 1}),
                Some("tracks[0].type"),
            ),
            (
                json!({"tracks": [{"id": "t", "type": "video"}], "duration": 1}),
                Some("tracks[0].clips"),
            ),
            (
                json!({"tracks": [{"id": "t", "type": "video", "clips": [{"id": "c", "startTime": 0, "asset": {}}]}], "duration": 1}),
                Some("tracks[0].clips[0].endTime"),
            ),
            (
                json!({"tracks": [{"id": "t", "type": "video", "clips": [{"id": 7, "startTime": 0, "endTime": 1, "asset": {}}]}], "duration": 1}),
                Some("tracks[0].clips[0].id"),
            ),
            (
                json!({"tracks": [{"id": "t", "type": "video", "clips": [{"id": "c", "startTime": 0, "endTime": 1}]}], "duration": 1}),
                Some("tracks[0].clips[0].asset"),
            ),
            (
                json!({"version": "1.0", "metadata": {"id": "a", "name": "b"}, "tracks": []}),
                Some("metadata.duration"),
            ),
            (json!({"version": "1.0", "tracks": []}), Some("metadata")),
        ];
        for (doc, field) in cases {
            let e = Import::from_value(doc.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), field, "{doc}");
        }
        assert!(Import::parse("{")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
    }

    #[test]
    fn non_camera_paths_are_reported_not_guessed() {
        let doc = json!({"id": "x", "name": "X", "duration": 10, "tracks": [
            {"id": "v", "type": "video", "clips": [
                {"id": "a", "startTime": 0, "endTime": 5,
                 "asset": {"type": "static", "path": "https://u:pw@cdn.example/clip.mp4"}},
                {"id": "b", "startTime": 5, "endTime": 10, "asset": {"type": "static"}}]}]});
        let imp = Import::from_value(doc).unwrap();
        assert_eq!(
            imp.tracks[0].clips[0].extra["asset"]["path"],
            json!("https://cdn.example/clip.mp4")
        );
        let missing = imp.resolve(&MemoryCatalog::default()).unwrap_err();
        assert_eq!(missing.len(), 2);
        assert!(missing[0].to_string().contains("not a camera stream"));
        assert!(!missing[0].to_string().contains("pw"));
    }
}
