//! Importing a VistterStudio segment file: resolved against the cameras, presets and overlays
//! configured (unknown stream addresses become new cameras, credentials sealed, unless asked
//! not to), validated, and written with the cameras it needs in one transaction, or not at all.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use vs_base::{Error, Result, SecretBox};
use vs_db::cameras::CameraRow;
use vs_db::timelines::{CatalogTx, TimelineRow};
use vs_timeline::vistter::{ApiKey, Missing};
use vs_timeline::{validate, Format, Import, Issue};

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
pub(super) enum CameraPolicy {
    /// Refuse the segment (`create_cameras=false`).
    Refuse,
    /// Add the camera inside the transaction (`create_cameras=true`), so it commits with the
    /// timeline or not at all, and list it for the answer.
    Plan,
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
    /// Imports a segment file as the studio writes it. Unknown stream addresses become new
    /// cameras (credentials sealed) unless `create_cameras` is false; then, like any other
    /// unresolved source, they make the import fail with the list of what is missing.
    ///
    /// Nothing is written unless everything is valid: the cameras it needs and the timeline are
    /// written in one transaction, committed only when the whole import passed.
    pub async fn import(
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

    /// Resolves, validates and stores one segment inside `tx`. `prefix` is put before every
    /// field of an error (`timelines[2].` in a sync).
    pub(super) async fn store_segment(
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
