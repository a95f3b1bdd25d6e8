//! Cameras. The address column never holds credentials; the password is sealed by the caller.

use sqlx::{FromRow, SqliteConnection};
use vs_base::{Error, Result};

use crate::{db_err, now, unique_or, Db};

#[derive(Debug, Clone, FromRow)]
pub struct CameraRow {
    pub id: i64,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub protocol: String,
    pub address: String,
    pub username: Option<String>,
    pub password_enc: Option<String>,
    pub onvif_host: Option<String>,
    pub onvif_port: Option<i64>,
    pub enabled: bool,
    /// Where the login goes in the address (migration 0005); `None`: the userinfo.
    pub credential_query: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The fields a caller writes; validated and sealed before it reaches here.
#[derive(Debug, Clone)]
pub struct CameraWrite {
    pub name: String,
    pub kind: String,
    pub protocol: String,
    pub address: String,
    pub username: Option<String>,
    pub password_enc: Option<String>,
    pub onvif_host: Option<String>,
    pub onvif_port: Option<i64>,
    pub enabled: bool,
    pub credential_query: Option<String>,
}

/// The cached camera list and a generation counter bumped by every write.
#[derive(Debug, Default)]
pub struct CameraCache {
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    generation: u64,
    rows: Option<Vec<CameraRow>>,
}

/// The columns of a `CameraRow`, for every query that reads one.
pub(crate) const COLUMNS: &str =
    "id, name, type, protocol, address, username, password_enc, onvif_host, \
                       onvif_port, enabled, credential_query, created_at, updated_at";

/// Inserts a camera on a connection or inside a transaction. The caller keeps the camera
/// list cache right (`Db::forget_cameras`).
pub(crate) async fn insert_camera(
    conn: &mut SqliteConnection,
    c: &CameraWrite,
) -> Result<CameraRow> {
    let t = now();
    sqlx::query_as(&format!(
        "INSERT INTO cameras (name, type, protocol, address, username, password_enc, onvif_host,
                              onvif_port, enabled, credential_query, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
    ))
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.protocol)
    .bind(&c.address)
    .bind(&c.username)
    .bind(&c.password_enc)
    .bind(&c.onvif_host)
    .bind(c.onvif_port)
    .bind(c.enabled)
    .bind(&c.credential_query)
    .bind(&t)
    .bind(&t)
    .fetch_one(conn)
    .await
    .map_err(|e| name_taken(e, &c.name))
}

fn name_taken(e: sqlx::Error, name: &str) -> Error {
    unique_or(
        e,
        "name",
        format!("a camera named '{name}' already exists; choose another name"),
    )
}

impl Db {
    pub async fn list_cameras(&self) -> Result<Vec<CameraRow>> {
        let generation = {
            let cache = self.cameras.inner.lock().expect("camera cache");
            if let Some(rows) = &cache.rows {
                return Ok(rows.clone());
            }
            cache.generation
        };
        let rows: Vec<CameraRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM cameras ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        let mut cache = self.cameras.inner.lock().expect("camera cache");
        // A write that finished while this read ran may not be in `rows`: do not keep them.
        if cache.generation == generation {
            cache.rows = Some(rows.clone());
        }
        Ok(rows)
    }

    /// Called after every camera write, committed or not (and by the owner of a transaction
    /// that added cameras, after its commit).
    pub fn forget_cameras(&self) {
        let mut cache = self.cameras.inner.lock().expect("camera cache");
        cache.generation += 1;
        cache.rows = None;
    }

    pub async fn camera(&self, id: i64) -> Result<CameraRow> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM cameras WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(format!("camera {id}")))
    }

    pub async fn create_camera(&self, c: &CameraWrite) -> Result<CameraRow> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        let r = insert_camera(&mut conn, c).await;
        self.forget_cameras();
        r
    }

    pub async fn update_camera(&self, id: i64, c: &CameraWrite) -> Result<CameraRow> {
        let r = sqlx::query_as(&format!(
            "UPDATE cameras SET name = ?, type = ?, protocol = ?, address = ?, username = ?,
                    password_enc = ?, onvif_host = ?, onvif_port = ?, enabled = ?,
                    credential_query = ?, updated_at = ?
             WHERE id = ? RETURNING {COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.protocol)
        .bind(&c.address)
        .bind(&c.username)
        .bind(&c.password_enc)
        .bind(&c.onvif_host)
        .bind(c.onvif_port)
        .bind(c.enabled)
        .bind(&c.credential_query)
        .bind(now())
        .bind(id)
        .fetch_optional(self.pool())
        .await;
        self.forget_cameras();
        r.map_err(|e| name_taken(e, &c.name))?
            .ok_or_else(|| Error::not_found(format!("camera {id}")))
    }

    /// Deletes a camera; its presets go with it (ON DELETE CASCADE).
    pub async fn delete_camera(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM cameras WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await;
        self.forget_cameras();
        let n = r
            .map_err(|e| {
                if crate::is_foreign_key_violation(&e) {
                    return Error::conflict(
                        "the camera is still used (by a stream, program or timeline); remove it there first",
                    );
                }
                db_err(e)
            })?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("camera {id}")));
        }
        Ok(())
    }
}
