//! VistterStudio's push (`POST /api/overlays/sync`): assets, overlays and segments upserted in
//! one transaction, the cameras the segments need included. Assets are deduplicated by
//! checksum; overlays and segments refer to them by the studio's ids.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::timelines::CatalogTx;
use vs_timeline::{Import, Issue};

use super::import::{free_name, CameraPolicy, PlannedCamera, SegmentMode};
use super::{studio_field, TimelineService};
use crate::services::assets::{check_asset, AssetUpload, CheckedAsset};
use crate::services::cameras::Camera;
use crate::services::overlays::{
    overlay_write, parse_keys, validate_overlay, OverlayDefinition, OverlayKind,
};

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

/// A synced overlay checked before the transaction; `index` is its place in the request.
struct CheckedOverlay {
    name: String,
    kind: OverlayKind,
    definition: OverlayDefinition,
    index: usize,
}

impl TimelineService {
    /// VistterStudio's push: assets, overlays and segments upserted in one transaction. Assets
    /// are deduplicated by checksum; overlays and segments refer to them by the studio's ids.
    pub async fn sync(
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
            match self.assets.store_file(asset).await {
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
                self.events
                    .publish("timeline_changed", serde_json::json!({ "sync": true }));
                self.events
                    .publish("overlay_changed", serde_json::json!({ "sync": true }));
                self.kick.notify_one();
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
        result.created_cameras = self.announce(&planned, user_id).await;
        Ok(result)
    }

    async fn forget_files(&self, written: &[String]) {
        for sha in written {
            self.assets.remove_unreferenced_file(sha).await;
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
        policy: CameraPolicy<'_>,
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
