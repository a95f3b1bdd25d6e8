//! Timelines, overlays and assets. Reads go through the pool; every write that must be all or
//! nothing (an import that also creates cameras, a VistterStudio sync) goes through one
//! [`CatalogTx`], which also answers the reads made between its writes.

use sqlx::{FromRow, SqliteConnection};
use vs_base::{Error, Result};

use crate::cameras::{CameraRow, CameraWrite};
use crate::presets::PresetRow;
use crate::{db_err, now, Db};

#[derive(Debug, Clone, FromRow)]
pub struct TimelineRow {
    pub id: String,
    pub name: String,
    /// JSON of the timeline model.
    pub model: String,
    pub playback: String,
    /// JSON array of destination ids.
    pub destination_ids: String,
    /// JSON schedule, when the timeline runs by itself.
    pub schedule: Option<String>,
    /// JSON object of sealed API keys.
    pub api_keys_enc: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A timeline to store, with what it refers to (kept in the reference tables so that deleting
/// a camera or an overlay still in use is refused).
#[derive(Debug, Clone)]
pub struct TimelineWrite {
    pub id: String,
    pub name: String,
    pub model: String,
    pub playback: String,
    pub destination_ids: String,
    pub camera_ids: Vec<i64>,
    pub overlay_ids: Vec<i64>,
    pub api_keys_enc: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct OverlayRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// JSON object.
    pub definition: String,
    pub asset_id: Option<i64>,
    /// JSON array of strings.
    pub studio_keys: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OverlayWrite {
    pub name: String,
    pub kind: String,
    pub definition: String,
    pub asset_id: Option<i64>,
    pub studio_keys: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct AssetRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub mime: String,
    pub sha256: String,
    pub size: i64,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct AssetWrite {
    pub name: String,
    pub kind: String,
    pub mime: String,
    pub sha256: String,
    pub size: i64,
}

const TIMELINE_COLUMNS: &str = "id, name, model, playback, destination_ids, schedule, \
                                api_keys_enc, created_at, updated_at";
const OVERLAY_COLUMNS: &str =
    "id, name, kind, definition, asset_id, studio_keys, created_at, updated_at";
const ASSET_COLUMNS: &str = "id, name, kind, mime, sha256, size, created_at";
const PRESET_COLUMNS: &str =
    "id, camera_id, name, pan, tilt, zoom, onvif_token, settle_ms, created_at, updated_at";

fn timeline_taken(e: sqlx::Error, w: &TimelineWrite) -> Error {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            // Both the id and the name are unique; the message says which one collided.
            return if d.message().contains("timelines.id") {
                Error::conflict(format!("a timeline with the id '{}' already exists", w.id))
                    .with_field("id")
            } else {
                Error::conflict(format!(
                    "a timeline named '{}' already exists; choose another name",
                    w.name
                ))
                .with_field("name")
            };
        }
    }
    db_err(e)
}

fn overlay_taken(e: sqlx::Error, name: &str) -> Error {
    if crate::is_foreign_key_violation(&e) {
        return Error::invalid("asset_id", "the asset does not exist");
    }
    crate::unique_or(
        e,
        "name",
        format!("an overlay named '{name}' already exists; choose another name"),
    )
}

// ---------------------------------------------------------------------------------------------
// Queries, on any connection (a pooled one or the transaction's).

async fn list_timelines(c: &mut SqliteConnection) -> Result<Vec<TimelineRow>> {
    sqlx::query_as(&format!(
        "SELECT {TIMELINE_COLUMNS} FROM timelines ORDER BY name COLLATE NOCASE, id"
    ))
    .fetch_all(c)
    .await
    .map_err(db_err)
}

async fn find_timeline(c: &mut SqliteConnection, id: &str) -> Result<Option<TimelineRow>> {
    sqlx::query_as(&format!(
        "SELECT {TIMELINE_COLUMNS} FROM timelines WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(db_err)
}

async fn write_refs(c: &mut SqliteConnection, w: &TimelineWrite) -> Result<()> {
    for table in ["timeline_cameras", "timeline_overlays"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE timeline_id = ?"))
            .bind(&w.id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
    }
    for (table, column, ids, what) in [
        ("timeline_cameras", "camera_id", &w.camera_ids, "camera"),
        ("timeline_overlays", "overlay_id", &w.overlay_ids, "overlay"),
    ] {
        for id in ids {
            sqlx::query(&format!(
                "INSERT OR IGNORE INTO {table} (timeline_id, {column}) VALUES (?, ?)"
            ))
            .bind(&w.id)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(|e| {
                if crate::is_foreign_key_violation(&e) {
                    Error::invalid("tracks", format!("{what} {id} does not exist"))
                } else {
                    db_err(e)
                }
            })?;
        }
    }
    Ok(())
}

async fn insert_timeline(c: &mut SqliteConnection, w: &TimelineWrite) -> Result<TimelineRow> {
    let t = now();
    let row = sqlx::query_as(&format!(
        "INSERT INTO timelines (id, name, model, playback, destination_ids, api_keys_enc,
                                created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TIMELINE_COLUMNS}"
    ))
    .bind(&w.id)
    .bind(&w.name)
    .bind(&w.model)
    .bind(&w.playback)
    .bind(&w.destination_ids)
    .bind(&w.api_keys_enc)
    .bind(&t)
    .bind(&t)
    .fetch_one(&mut *c)
    .await
    .map_err(|e| timeline_taken(e, w))?;
    write_refs(c, w).await?;
    Ok(row)
}

/// Replaces a timeline's content; its schedule stays. API keys are replaced only when given.
async fn update_timeline(c: &mut SqliteConnection, w: &TimelineWrite) -> Result<TimelineRow> {
    let row = sqlx::query_as(&format!(
        "UPDATE timelines SET name = ?, model = ?, playback = ?, destination_ids = ?,
                api_keys_enc = COALESCE(?, api_keys_enc), updated_at = ?
         WHERE id = ? RETURNING {TIMELINE_COLUMNS}"
    ))
    .bind(&w.name)
    .bind(&w.model)
    .bind(&w.playback)
    .bind(&w.destination_ids)
    .bind(&w.api_keys_enc)
    .bind(now())
    .bind(&w.id)
    .fetch_optional(&mut *c)
    .await
    .map_err(|e| timeline_taken(e, w))?
    .ok_or_else(|| Error::not_found(format!("timeline '{}'", w.id)))?;
    write_refs(c, w).await?;
    Ok(row)
}

async fn list_overlays(c: &mut SqliteConnection) -> Result<Vec<OverlayRow>> {
    sqlx::query_as(&format!(
        "SELECT {OVERLAY_COLUMNS} FROM overlays ORDER BY name COLLATE NOCASE, id"
    ))
    .fetch_all(c)
    .await
    .map_err(db_err)
}

async fn insert_overlay(c: &mut SqliteConnection, w: &OverlayWrite) -> Result<OverlayRow> {
    let t = now();
    sqlx::query_as(&format!(
        "INSERT INTO overlays (name, kind, definition, asset_id, studio_keys, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {OVERLAY_COLUMNS}"
    ))
    .bind(&w.name)
    .bind(&w.kind)
    .bind(&w.definition)
    .bind(w.asset_id)
    .bind(&w.studio_keys)
    .bind(&t)
    .bind(&t)
    .fetch_one(c)
    .await
    .map_err(|e| overlay_taken(e, &w.name))
}

async fn update_overlay(c: &mut SqliteConnection, id: i64, w: &OverlayWrite) -> Result<OverlayRow> {
    sqlx::query_as(&format!(
        "UPDATE overlays SET name = ?, kind = ?, definition = ?, asset_id = ?, studio_keys = ?,
                updated_at = ?
         WHERE id = ? RETURNING {OVERLAY_COLUMNS}"
    ))
    .bind(&w.name)
    .bind(&w.kind)
    .bind(&w.definition)
    .bind(w.asset_id)
    .bind(&w.studio_keys)
    .bind(now())
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(|e| overlay_taken(e, &w.name))?
    .ok_or_else(|| Error::not_found(format!("overlay {id}")))
}

async fn asset_by_sha(c: &mut SqliteConnection, sha256: &str) -> Result<Option<AssetRow>> {
    sqlx::query_as(&format!(
        "SELECT {ASSET_COLUMNS} FROM assets WHERE sha256 = ?"
    ))
    .bind(sha256)
    .fetch_optional(c)
    .await
    .map_err(db_err)
}

async fn find_asset(c: &mut SqliteConnection, id: i64) -> Result<Option<AssetRow>> {
    sqlx::query_as(&format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = ?"))
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(db_err)
}

/// Stores an asset unless one with the same content exists; returns the row and whether it is
/// new. The first name given to a content stays its name.
async fn insert_asset(c: &mut SqliteConnection, w: &AssetWrite) -> Result<(AssetRow, bool)> {
    let inserted: Option<AssetRow> = sqlx::query_as(&format!(
        "INSERT INTO assets (name, kind, mime, sha256, size, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sha256) DO NOTHING RETURNING {ASSET_COLUMNS}"
    ))
    .bind(&w.name)
    .bind(&w.kind)
    .bind(&w.mime)
    .bind(&w.sha256)
    .bind(w.size)
    .bind(now())
    .fetch_optional(&mut *c)
    .await
    .map_err(db_err)?;
    match inserted {
        Some(row) => Ok((row, true)),
        None => asset_by_sha(c, &w.sha256)
            .await?
            .map(|row| (row, false))
            .ok_or_else(|| Error::internal(anyhow::anyhow!("asset vanished during insert"))),
    }
}

async fn catalog_cameras(c: &mut SqliteConnection) -> Result<Vec<CameraRow>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM cameras ORDER BY id",
        crate::cameras::COLUMNS
    ))
    .fetch_all(c)
    .await
    .map_err(db_err)
}

async fn catalog_presets(c: &mut SqliteConnection) -> Result<Vec<PresetRow>> {
    sqlx::query_as(&format!(
        "SELECT {PRESET_COLUMNS} FROM presets ORDER BY camera_id, id"
    ))
    .fetch_all(c)
    .await
    .map_err(db_err)
}

/// Everything a timeline can refer to, read at one instant.
#[derive(Debug, Clone, Default)]
pub struct CatalogRows {
    pub cameras: Vec<CameraRow>,
    pub presets: Vec<PresetRow>,
    pub overlays: Vec<OverlayRow>,
}

async fn catalog_rows(c: &mut SqliteConnection) -> Result<CatalogRows> {
    Ok(CatalogRows {
        cameras: catalog_cameras(&mut *c).await?,
        presets: catalog_presets(&mut *c).await?,
        overlays: list_overlays(c).await?,
    })
}

// ---------------------------------------------------------------------------------------------
// Through the pool.

impl Db {
    /// Starts a write transaction. IMMEDIATE takes the write lock up front, so reads made
    /// inside it cannot be invalidated by another writer before its own writes.
    pub async fn catalog_tx(&self) -> Result<CatalogTx> {
        let tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(CatalogTx { tx })
    }

    pub async fn list_timelines(&self) -> Result<Vec<TimelineRow>> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        list_timelines(&mut c).await
    }

    pub async fn timeline(&self, id: &str) -> Result<TimelineRow> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        find_timeline(&mut c, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("timeline '{id}'")))
    }

    pub async fn delete_timeline(&self, id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM timelines WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("timeline '{id}'")));
        }
        Ok(())
    }

    /// Sets or clears (None) a timeline's schedule.
    pub async fn set_timeline_schedule(
        &self,
        id: &str,
        schedule: Option<&str>,
    ) -> Result<TimelineRow> {
        sqlx::query_as(&format!(
            "UPDATE timelines SET schedule = ?, updated_at = ? WHERE id = ? RETURNING {TIMELINE_COLUMNS}"
        ))
        .bind(schedule)
        .bind(now())
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("timeline '{id}'")))
    }

    pub async fn list_overlays(&self) -> Result<Vec<OverlayRow>> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        list_overlays(&mut c).await
    }

    pub async fn overlay(&self, id: i64) -> Result<OverlayRow> {
        sqlx::query_as(&format!(
            "SELECT {OVERLAY_COLUMNS} FROM overlays WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("overlay {id}")))
    }

    /// Names of the timelines that show an overlay.
    pub async fn timelines_using_overlay(&self, overlay_id: i64) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT t.name FROM timeline_overlays o JOIN timelines t ON t.id = o.timeline_id
             WHERE o.overlay_id = ? ORDER BY t.name COLLATE NOCASE",
        )
        .bind(overlay_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn delete_overlay(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM overlays WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| {
                if crate::is_foreign_key_violation(&e) {
                    Error::conflict("the overlay is shown by a timeline; remove it there first")
                } else {
                    db_err(e)
                }
            })?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("overlay {id}")));
        }
        Ok(())
    }

    pub async fn list_assets(&self) -> Result<Vec<AssetRow>> {
        sqlx::query_as(&format!(
            "SELECT {ASSET_COLUMNS} FROM assets ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn asset(&self, id: i64) -> Result<AssetRow> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        find_asset(&mut c, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("asset {id}")))
    }

    pub async fn asset_by_sha256(&self, sha256: &str) -> Result<Option<AssetRow>> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        asset_by_sha(&mut c, sha256).await
    }

    /// Names of the overlays that show an asset.
    pub async fn overlays_using_asset(&self, asset_id: i64) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT name FROM overlays WHERE asset_id = ? ORDER BY name COLLATE NOCASE",
        )
        .bind(asset_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn delete_asset(&self, id: i64) -> Result<AssetRow> {
        sqlx::query_as(&format!(
            "DELETE FROM assets WHERE id = ? RETURNING {ASSET_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| {
            if crate::is_foreign_key_violation(&e) {
                Error::conflict(
                    "the asset is shown by an overlay; change or delete the overlay first",
                )
            } else {
                db_err(e)
            }
        })?
        .ok_or_else(|| Error::not_found(format!("asset {id}")))
    }

    pub async fn catalog_rows(&self) -> Result<CatalogRows> {
        let mut c = self.pool().acquire().await.map_err(db_err)?;
        catalog_rows(&mut c).await
    }
}

// ---------------------------------------------------------------------------------------------
// Inside one transaction.

/// A write transaction over timelines, overlays, assets and the cameras an import creates.
/// Dropped without [`CatalogTx::commit`], it rolls everything back.
pub struct CatalogTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
}

impl CatalogTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(db_err)
    }

    /// Ends the transaction keeping nothing, and releases the write lock before returning
    /// (a dropped transaction rolls back too, but later).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.map_err(db_err)
    }

    pub async fn catalog_rows(&mut self) -> Result<CatalogRows> {
        catalog_rows(&mut self.tx).await
    }

    pub async fn timeline(&mut self, id: &str) -> Result<Option<TimelineRow>> {
        find_timeline(&mut self.tx, id).await
    }

    pub async fn list_timelines(&mut self) -> Result<Vec<TimelineRow>> {
        list_timelines(&mut self.tx).await
    }

    pub async fn insert_timeline(&mut self, w: &TimelineWrite) -> Result<TimelineRow> {
        insert_timeline(&mut self.tx, w).await
    }

    pub async fn update_timeline(&mut self, w: &TimelineWrite) -> Result<TimelineRow> {
        update_timeline(&mut self.tx, w).await
    }

    pub async fn list_overlays(&mut self) -> Result<Vec<OverlayRow>> {
        list_overlays(&mut self.tx).await
    }

    pub async fn insert_overlay(&mut self, w: &OverlayWrite) -> Result<OverlayRow> {
        insert_overlay(&mut self.tx, w).await
    }

    pub async fn update_overlay(&mut self, id: i64, w: &OverlayWrite) -> Result<OverlayRow> {
        update_overlay(&mut self.tx, id, w).await
    }

    pub async fn asset(&mut self, id: i64) -> Result<Option<AssetRow>> {
        find_asset(&mut self.tx, id).await
    }

    pub async fn insert_asset(&mut self, w: &AssetWrite) -> Result<(AssetRow, bool)> {
        insert_asset(&mut self.tx, w).await
    }

    /// Adds a camera inside the transaction (an import that needs it). After committing, call
    /// `Db::forget_cameras`: the camera list cache does not see writes made here.
    pub async fn insert_camera(&mut self, c: &CameraWrite) -> Result<CameraRow> {
        crate::cameras::insert_camera(&mut self.tx, c).await
    }

    /// Records an action in the audit log, committed with the rest. Never pass a secret.
    pub async fn audit(
        &mut self,
        user_id: Option<i64>,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now())
        .bind(user_id)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(id: &str, name: &str, cameras: Vec<i64>) -> TimelineWrite {
        TimelineWrite {
            id: id.into(),
            name: name.into(),
            model: "{}".into(),
            playback: "loop".into(),
            destination_ids: "[]".into(),
            camera_ids: cameras,
            overlay_ids: vec![],
            api_keys_enc: None,
        }
    }

    fn camera(name: &str) -> CameraWrite {
        CameraWrite {
            name: name.into(),
            kind: "STATIC".into(),
            protocol: "RTSP".into(),
            address: "rtsp://h/s".into(),
            username: None,
            password_enc: None,
            onvif_host: None,
            onvif_port: None,
            enabled: true,
            credential_query: None,
        }
    }

    #[tokio::test]
    async fn a_dropped_transaction_leaves_nothing() {
        let db = Db::open_in_memory().await.unwrap();
        let mut tx = db.catalog_tx().await.unwrap();
        let cam = tx.insert_camera(&camera("c")).await.unwrap();
        tx.insert_timeline(&timeline("t", "T", vec![cam.id]))
            .await
            .unwrap();
        drop(tx);
        assert!(db.list_cameras().await.unwrap().is_empty());
        assert!(db.list_timelines().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn ids_and_names_collide_with_their_own_field() {
        let db = Db::open_in_memory().await.unwrap();
        let mut tx = db.catalog_tx().await.unwrap();
        tx.insert_timeline(&timeline("t", "T", vec![]))
            .await
            .unwrap();
        let e = tx
            .insert_timeline(&timeline("t", "Other", vec![]))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("id"));
        let e = tx
            .insert_timeline(&timeline("u", "t", vec![]))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
    }

    #[tokio::test]
    async fn used_cameras_overlays_and_assets_are_kept() {
        let db = Db::open_in_memory().await.unwrap();
        let mut tx = db.catalog_tx().await.unwrap();
        let cam = tx.insert_camera(&camera("c")).await.unwrap();
        let (asset, created) = tx
            .insert_asset(&AssetWrite {
                name: "a.png".into(),
                kind: "image".into(),
                mime: "image/png".into(),
                sha256: "ab".into(),
                size: 2,
            })
            .await
            .unwrap();
        assert!(created);
        let (again, created) = tx
            .insert_asset(&AssetWrite {
                name: "b.png".into(),
                kind: "image".into(),
                mime: "image/png".into(),
                sha256: "ab".into(),
                size: 2,
            })
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(again.id, asset.id);
        let overlay = tx
            .insert_overlay(&OverlayWrite {
                name: "logo".into(),
                kind: "image".into(),
                definition: "{}".into(),
                asset_id: Some(asset.id),
                studio_keys: "[]".into(),
            })
            .await
            .unwrap();
        let mut t = timeline("t", "T", vec![cam.id]);
        t.overlay_ids = vec![overlay.id];
        tx.insert_timeline(&t).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(
            db.delete_camera(cam.id).await.unwrap_err().kind,
            vs_base::ErrorKind::Conflict
        );
        assert_eq!(
            db.delete_overlay(overlay.id).await.unwrap_err().kind,
            vs_base::ErrorKind::Conflict
        );
        assert_eq!(
            db.delete_asset(asset.id).await.unwrap_err().kind,
            vs_base::ErrorKind::Conflict
        );
        assert_eq!(db.timelines_using_overlay(overlay.id).await.unwrap(), ["T"]);
        assert_eq!(db.overlays_using_asset(asset.id).await.unwrap(), ["logo"]);
        db.delete_timeline("t").await.unwrap();
        db.delete_overlay(overlay.id).await.unwrap();
        db.delete_asset(asset.id).await.unwrap();
        db.delete_camera(cam.id).await.unwrap();
    }
}
