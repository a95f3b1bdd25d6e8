//! Destinations and camera-to-destination streams.

use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, unique_or, Db};

#[derive(Debug, Clone, FromRow)]
pub struct DestinationRow {
    pub id: i64,
    pub name: String,
    pub platform: String,
    pub url: String,
    pub stream_key_enc: Option<String>,
    /// Sealed credentials of the publish address (userinfo, SRT passphrase); see 0007.
    pub url_secrets_enc: Option<String>,
    pub enabled: bool,
    /// RTMPS: verify the server's certificate (see 0012).
    pub tls_verify: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct DestinationWrite {
    pub name: String,
    pub platform: String,
    pub url: String,
    pub stream_key_enc: Option<String>,
    pub url_secrets_enc: Option<String>,
    pub enabled: bool,
    pub tls_verify: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct StreamRow {
    pub id: i64,
    pub name: String,
    pub camera_id: i64,
    pub preset_id: Option<i64>,
    pub desired_state: String,
    pub status: String,
    pub started_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct StreamWrite {
    pub name: String,
    pub camera_id: i64,
    pub preset_id: Option<i64>,
    pub destination_ids: Vec<i64>,
}

const DEST_COLUMNS: &str =
    "id, name, platform, url, stream_key_enc, url_secrets_enc, enabled, tls_verify, created_at, updated_at";
const STREAM_COLUMNS: &str = "id, name, camera_id, preset_id, desired_state, status, started_at, last_error, created_at, updated_at";

fn in_use(e: sqlx::Error, what: &str) -> Error {
    if crate::is_foreign_key_violation(&e) {
        return Error::conflict(format!(
            "{what} is used by a stream; remove it from the stream first"
        ));
    }
    db_err(e)
}

/// Replaces the destinations linked to a stream or a program, inside the caller's transaction.
/// `table` and `owner` are this crate's own names, never user input.
pub(crate) async fn replace_destination_links(
    tx: &mut sqlx::SqliteConnection,
    table: &'static str,
    owner: &'static str,
    owner_id: i64,
    destination_ids: &[i64],
) -> Result<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE {owner} = ?"))
        .bind(owner_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for d in destination_ids {
        sqlx::query(&format!(
            "INSERT INTO {table} ({owner}, destination_id) VALUES (?, ?)"
        ))
        .bind(owner_id)
        .bind(d)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::is_foreign_key_violation(&e) {
                return Error::invalid(
                    "destination_ids",
                    format!("destination {d} does not exist"),
                );
            }
            db_err(e)
        })?;
    }
    Ok(())
}

impl Db {
    pub async fn list_destinations(&self) -> Result<Vec<DestinationRow>> {
        sqlx::query_as(&format!(
            "SELECT {DEST_COLUMNS} FROM destinations ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn destination(&self, id: i64) -> Result<DestinationRow> {
        sqlx::query_as(&format!(
            "SELECT {DEST_COLUMNS} FROM destinations WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("destination {id}")))
    }

    pub async fn create_destination(&self, d: &DestinationWrite) -> Result<DestinationRow> {
        let t = now();
        sqlx::query_as(&format!(
            "INSERT INTO destinations (name, platform, url, stream_key_enc, url_secrets_enc, enabled, tls_verify, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {DEST_COLUMNS}"
        ))
        .bind(&d.name)
        .bind(&d.platform)
        .bind(&d.url)
        .bind(&d.stream_key_enc)
        .bind(&d.url_secrets_enc)
        .bind(d.enabled)
        .bind(d.tls_verify)
        .bind(&t)
        .bind(&t)
        .fetch_one(self.pool())
        .await
        .map_err(|e| unique_or(e, "name", format!("a destination named '{}' already exists", d.name)))
    }

    pub async fn update_destination(
        &self,
        id: i64,
        d: &DestinationWrite,
    ) -> Result<DestinationRow> {
        sqlx::query_as(&format!(
            "UPDATE destinations SET name = ?, platform = ?, url = ?, stream_key_enc = ?, url_secrets_enc = ?, enabled = ?, tls_verify = ?, updated_at = ?
             WHERE id = ? RETURNING {DEST_COLUMNS}"
        ))
        .bind(&d.name)
        .bind(&d.platform)
        .bind(&d.url)
        .bind(&d.stream_key_enc)
        .bind(&d.url_secrets_enc)
        .bind(d.enabled)
        .bind(d.tls_verify)
        .bind(now())
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| unique_or(e, "name", format!("a destination named '{}' already exists", d.name)))?
        .ok_or_else(|| Error::not_found(format!("destination {id}")))
    }

    /// Moves the secrets found inside a stored URL to the sealed columns, once at boot. Only
    /// if the row still holds `old_url` (nothing written meanwhile is overwritten); `updated_at`
    /// stays, the user changed nothing. Returns whether the row was rewritten.
    pub async fn reseal_destination_url(
        &self,
        id: i64,
        old_url: &str,
        url: &str,
        stream_key_enc: Option<&str>,
        url_secrets_enc: Option<&str>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE destinations SET url = ?, stream_key_enc = ?, url_secrets_enc = ?
             WHERE id = ? AND url = ?",
        )
        .bind(url)
        .bind(stream_key_enc)
        .bind(url_secrets_enc)
        .bind(id)
        .bind(old_url)
        .execute(self.pool())
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn delete_destination(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM destinations WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| in_use(e, "the destination"))?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("destination {id}")));
        }
        Ok(())
    }

    pub async fn list_streams(&self) -> Result<Vec<StreamRow>> {
        sqlx::query_as(&format!(
            "SELECT {STREAM_COLUMNS} FROM streams ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn stream(&self, id: i64) -> Result<StreamRow> {
        sqlx::query_as(&format!(
            "SELECT {STREAM_COLUMNS} FROM streams WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("stream {id}")))
    }

    pub async fn stream_destination_ids(&self, stream_id: i64) -> Result<Vec<i64>> {
        sqlx::query_scalar("SELECT destination_id FROM stream_destinations WHERE stream_id = ? ORDER BY destination_id")
            .bind(stream_id)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)
    }

    /// Creates or replaces a stream and its destinations in one transaction: a refused write
    /// leaves nothing behind.
    pub async fn save_stream(&self, id: Option<i64>, s: &StreamWrite) -> Result<StreamRow> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let t = now();
        let taken = |e| {
            unique_or(
                e,
                "name",
                format!("a stream named '{}' already exists", s.name),
            )
        };
        let row: StreamRow = match id {
            None => sqlx::query_as(&format!(
                "INSERT INTO streams (name, camera_id, preset_id, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?) RETURNING {STREAM_COLUMNS}"
            ))
            .bind(&s.name)
            .bind(s.camera_id)
            .bind(s.preset_id)
            .bind(&t)
            .bind(&t)
            .fetch_one(&mut *tx)
            .await
            .map_err(taken)?,
            Some(id) => sqlx::query_as(&format!(
                "UPDATE streams SET name = ?, camera_id = ?, preset_id = ?, updated_at = ? WHERE id = ?
                 RETURNING {STREAM_COLUMNS}"
            ))
            .bind(&s.name)
            .bind(s.camera_id)
            .bind(s.preset_id)
            .bind(&t)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(taken)?
            .ok_or_else(|| Error::not_found(format!("stream {id}")))?,
        };
        crate::streaming::replace_destination_links(
            &mut tx,
            "stream_destinations",
            "stream_id",
            row.id,
            &s.destination_ids,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row)
    }

    pub async fn delete_stream(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM streams WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("stream {id}")));
        }
        Ok(())
    }

    pub async fn set_stream_desired(&self, id: i64, desired: &str) -> Result<()> {
        sqlx::query("UPDATE streams SET desired_state = ?, updated_at = ? WHERE id = ?")
            .bind(desired)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn set_stream_status(
        &self,
        id: i64,
        status: &str,
        started_at: Option<&str>,
        last_error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE streams SET status = ?, started_at = ?, last_error = ? WHERE id = ?")
            .bind(status)
            .bind(started_at)
            .bind(last_error)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cameras::CameraWrite;

    #[tokio::test]
    async fn used_destination_and_camera_cannot_be_deleted() {
        let db = Db::open_in_memory().await.unwrap();
        let cam = db
            .create_camera(&CameraWrite {
                name: "c".into(),
                kind: "STATIC".into(),
                protocol: "RTSP".into(),
                address: "rtsp://h/s".into(),
                username: None,
                password_enc: None,
                onvif_host: None,
                onvif_port: None,
                enabled: true,
                credential_query: None,
            })
            .await
            .unwrap();
        let d = db
            .create_destination(&DestinationWrite {
                name: "d".into(),
                platform: "custom".into(),
                url: "rtmp://h/app".into(),
                stream_key_enc: None,
                url_secrets_enc: None,
                enabled: true,
                tls_verify: true,
            })
            .await
            .unwrap();
        let s = db
            .save_stream(
                None,
                &StreamWrite {
                    name: "s".into(),
                    camera_id: cam.id,
                    preset_id: None,
                    destination_ids: vec![d.id],
                },
            )
            .await
            .unwrap();
        let e = db.delete_destination(d.id).await.unwrap_err();
        assert_eq!(e.kind, vs_base::ErrorKind::Conflict, "{e:?}");
        let e = db.delete_camera(cam.id).await.unwrap_err();
        assert_eq!(e.kind, vs_base::ErrorKind::Conflict, "{e:?}");
        db.delete_stream(s.id).await.unwrap();
        db.delete_destination(d.id).await.unwrap();
        db.delete_camera(cam.id).await.unwrap();
    }

    #[tokio::test]
    async fn url_secrets_round_trip_and_reseal_only_touches_the_row_as_read() {
        let db = Db::open_in_memory().await.unwrap();
        let d = db
            .create_destination(&DestinationWrite {
                name: "d".into(),
                platform: "custom".into(),
                url: "rtmp://h/app/KEY".into(),
                stream_key_enc: None,
                url_secrets_enc: Some("v1:creds".into()),
                enabled: true,
                tls_verify: true,
            })
            .await
            .unwrap();
        assert_eq!(d.url_secrets_enc.as_deref(), Some("v1:creds"));
        // Written meanwhile (another URL): left alone.
        let moved = db
            .reseal_destination_url(
                d.id,
                "rtmp://h/other/KEY",
                "rtmp://h/app",
                Some("v1:k"),
                None,
            )
            .await
            .unwrap();
        assert!(!moved);
        assert_eq!(db.destination(d.id).await.unwrap().url, "rtmp://h/app/KEY");
        let moved = db
            .reseal_destination_url(d.id, "rtmp://h/app/KEY", "rtmp://h/app", Some("v1:k"), None)
            .await
            .unwrap();
        assert!(moved);
        let after = db.destination(d.id).await.unwrap();
        assert_eq!(after.url, "rtmp://h/app");
        assert_eq!(after.stream_key_enc.as_deref(), Some("v1:k"));
        assert_eq!(after.url_secrets_enc, None);
        assert_eq!(after.updated_at, d.updated_at, "the user changed nothing");
    }
}
