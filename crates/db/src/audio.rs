//! Program audio settings: per camera (heard or not, gain), per program (master gain, bed),
//! and the uploaded bed files.

use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, Db};

#[derive(Debug, Clone, FromRow)]
pub struct AudioBedRow {
    pub id: i64,
    pub name: String,
    pub mime: String,
    pub sha256: String,
    pub size: i64,
    pub seconds: f64,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, FromRow)]
pub struct CameraAudioRow {
    pub camera_id: i64,
    pub enabled: bool,
    pub gain_db: f64,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ProgramAudioRow {
    pub program_id: i64,
    pub master_gain_db: f64,
    pub bed_id: Option<i64>,
    pub bed_gain_db: f64,
    pub bed_mode: String,
}

const BED_COLUMNS: &str = "id, name, mime, sha256, size, seconds, created_at";

impl Db {
    pub async fn list_audio_beds(&self) -> Result<Vec<AudioBedRow>> {
        sqlx::query_as(&format!(
            "SELECT {BED_COLUMNS} FROM audio_beds ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn audio_bed(&self, id: i64) -> Result<AudioBedRow> {
        sqlx::query_as(&format!(
            "SELECT {BED_COLUMNS} FROM audio_beds WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("audio bed {id}")))
    }

    pub async fn audio_bed_by_sha(&self, sha256: &str) -> Result<Option<AudioBedRow>> {
        sqlx::query_as(&format!(
            "SELECT {BED_COLUMNS} FROM audio_beds WHERE sha256 = ?"
        ))
        .bind(sha256)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn insert_audio_bed(
        &self,
        name: &str,
        mime: &str,
        sha256: &str,
        size: i64,
        seconds: f64,
    ) -> Result<AudioBedRow> {
        sqlx::query_as(&format!(
            "INSERT INTO audio_beds (name, mime, sha256, size, seconds, created_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING {BED_COLUMNS}"
        ))
        .bind(name)
        .bind(mime)
        .bind(sha256)
        .bind(size)
        .bind(seconds)
        .bind(now())
        .fetch_one(self.pool())
        .await
        .map_err(db_err)
    }

    /// Deletes a bed no program uses (409 otherwise).
    pub async fn delete_audio_bed(&self, id: i64) -> Result<AudioBedRow> {
        let row = self.audio_bed(id).await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM program_audio WHERE bed_id = ?")
            .bind(id)
            .fetch_one(self.pool())
            .await
            .map_err(db_err)?;
        if users > 0 {
            return Err(Error::conflict(format!(
                "the bed '{}' is used by {users} program(s); choose another bed there first",
                row.name
            )));
        }
        sqlx::query("DELETE FROM audio_beds WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(row)
    }

    /// Every camera's audio settings that differ from the defaults.
    pub async fn camera_audio_all(&self) -> Result<Vec<CameraAudioRow>> {
        sqlx::query_as("SELECT camera_id, enabled, gain_db FROM camera_audio ORDER BY camera_id")
            .fetch_all(self.pool())
            .await
            .map_err(db_err)
    }

    pub async fn camera_audio(&self, camera_id: i64) -> Result<Option<CameraAudioRow>> {
        sqlx::query_as("SELECT camera_id, enabled, gain_db FROM camera_audio WHERE camera_id = ?")
            .bind(camera_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)
    }

    pub async fn set_camera_audio(&self, row: CameraAudioRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO camera_audio (camera_id, enabled, gain_db) VALUES (?, ?, ?)
             ON CONFLICT(camera_id) DO UPDATE SET enabled = excluded.enabled, gain_db = excluded.gain_db",
        )
        .bind(row.camera_id)
        .bind(row.enabled)
        .bind(row.gain_db)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn program_audio(&self, program_id: i64) -> Result<Option<ProgramAudioRow>> {
        sqlx::query_as(
            "SELECT program_id, master_gain_db, bed_id, bed_gain_db, bed_mode FROM program_audio
             WHERE program_id = ?",
        )
        .bind(program_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn set_program_audio(&self, row: &ProgramAudioRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO program_audio (program_id, master_gain_db, bed_id, bed_gain_db, bed_mode)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(program_id) DO UPDATE SET master_gain_db = excluded.master_gain_db,
                 bed_id = excluded.bed_id, bed_gain_db = excluded.bed_gain_db,
                 bed_mode = excluded.bed_mode",
        )
        .bind(row.program_id)
        .bind(row.master_gain_db)
        .bind(row.bed_id)
        .bind(row.bed_gain_db)
        .bind(&row.bed_mode)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
