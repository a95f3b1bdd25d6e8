//! Presets of a camera: a named pan/tilt/zoom position, optionally bound to a camera-side token.

use serde::Serialize;
use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, unique_or, Db};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PresetRow {
    pub id: i64,
    pub camera_id: i64,
    pub name: String,
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
    pub onvif_token: Option<String>,
    pub settle_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct PresetWrite {
    pub name: String,
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
    pub onvif_token: Option<String>,
    pub settle_ms: Option<i64>,
}

const COLUMNS: &str =
    "id, camera_id, name, pan, tilt, zoom, onvif_token, settle_ms, created_at, updated_at";

fn name_taken(e: sqlx::Error, name: &str) -> Error {
    unique_or(
        e,
        "name",
        format!("this camera already has a preset named '{name}'; choose another name"),
    )
}

impl Db {
    pub async fn list_presets(&self, camera_id: i64) -> Result<Vec<PresetRow>> {
        // 404 for an unknown camera rather than an empty list.
        self.camera(camera_id).await?;
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM presets WHERE camera_id = ? ORDER BY name COLLATE NOCASE, id"
        ))
        .bind(camera_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn preset(&self, id: i64) -> Result<PresetRow> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM presets WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(format!("preset {id}")))
    }

    pub async fn create_preset(&self, camera_id: i64, p: &PresetWrite) -> Result<PresetRow> {
        self.camera(camera_id).await?;
        let t = now();
        sqlx::query_as(&format!(
            "INSERT INTO presets (camera_id, name, pan, tilt, zoom, onvif_token, settle_ms, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
        ))
        .bind(camera_id)
        .bind(&p.name)
        .bind(p.pan)
        .bind(p.tilt)
        .bind(p.zoom)
        .bind(&p.onvif_token)
        .bind(p.settle_ms)
        .bind(&t)
        .bind(&t)
        .fetch_one(self.pool())
        .await
        .map_err(|e| name_taken(e, &p.name))
    }

    pub async fn update_preset(&self, id: i64, p: &PresetWrite) -> Result<PresetRow> {
        sqlx::query_as(&format!(
            "UPDATE presets SET name = ?, pan = ?, tilt = ?, zoom = ?, onvif_token = ?, settle_ms = ?,
                    updated_at = ?
             WHERE id = ? RETURNING {COLUMNS}"
        ))
        .bind(&p.name)
        .bind(p.pan)
        .bind(p.tilt)
        .bind(p.zoom)
        .bind(&p.onvif_token)
        .bind(p.settle_ms)
        .bind(now())
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| name_taken(e, &p.name))?
        .ok_or_else(|| Error::not_found(format!("preset {id}")))
    }

    pub async fn delete_preset(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM presets WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("preset {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cameras::CameraWrite;
    use crate::presets::PresetWrite;
    use crate::Db;

    fn cam(name: &str) -> CameraWrite {
        CameraWrite {
            name: name.into(),
            kind: "PTZ".into(),
            protocol: "RTSP".into(),
            address: "rtsp://127.0.0.1:8554/cam".into(),
            username: None,
            password_enc: None,
            onvif_host: None,
            onvif_port: None,
            enabled: true,
            credential_query: None,
        }
    }

    fn preset(name: &str) -> PresetWrite {
        PresetWrite {
            name: name.into(),
            pan: 0.0,
            tilt: 30.0,
            zoom: 2.0,
            onvif_token: None,
            settle_ms: None,
        }
    }

    #[tokio::test]
    async fn preset_names_unique_per_camera_and_cascade() {
        let db = Db::open_in_memory().await.unwrap();
        let a = db.create_camera(&cam("A")).await.unwrap();
        let b = db.create_camera(&cam("B")).await.unwrap();
        let p = db.create_preset(a.id, &preset("shot1")).await.unwrap();
        let e = db.create_preset(a.id, &preset("SHOT1")).await.unwrap_err();
        assert_eq!(e.kind, vs_base::ErrorKind::Conflict);
        db.create_preset(b.id, &preset("shot1")).await.unwrap();
        db.delete_camera(a.id).await.unwrap();
        assert_eq!(
            db.preset(p.id).await.unwrap_err().kind,
            vs_base::ErrorKind::NotFound
        );
        assert_eq!(db.list_presets(b.id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn camera_names_unique_case_insensitive() {
        let db = Db::open_in_memory().await.unwrap();
        db.create_camera(&cam("Dock")).await.unwrap();
        let e = db.create_camera(&cam("dock")).await.unwrap_err();
        assert_eq!(e.kind, vs_base::ErrorKind::Conflict);
        assert_eq!(e.field.as_deref(), Some("name"));
    }
}
