//! Programs and their destinations.

use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, unique_or, Db};

#[derive(Debug, Clone, FromRow)]
pub struct ProgramRow {
    pub id: i64,
    pub name: String,
    pub width: i64,
    pub height: i64,
    pub fps: i64,
    pub video_bitrate_kbps: i64,
    /// Step the bitrate down on a congested uplink (see 0012).
    pub adaptive_bitrate: bool,
    pub encoder: String,
    /// libx264's preset: `auto` or one of the presets (see 0015).
    pub encoder_preset: String,
    pub slate_text: String,
    pub overlays: String,
    /// `instant` or `economy` (see 0014).
    pub preroll: String,
    pub desired_state: String,
    pub on_air_camera_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct ProgramWrite {
    pub name: String,
    pub width: i64,
    pub height: i64,
    pub fps: i64,
    pub video_bitrate_kbps: i64,
    pub adaptive_bitrate: bool,
    pub encoder: String,
    pub encoder_preset: String,
    pub slate_text: String,
    pub overlays: String,
    pub preroll: String,
    pub destination_ids: Vec<i64>,
}

const COLUMNS: &str =
    "id, name, width, height, fps, video_bitrate_kbps, adaptive_bitrate, encoder, slate_text, overlays, \
                       preroll, desired_state, on_air_camera_id, created_at, updated_at, encoder_preset";

impl Db {
    pub async fn list_programs(&self) -> Result<Vec<ProgramRow>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM programs ORDER BY name COLLATE NOCASE, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn program(&self, id: i64) -> Result<ProgramRow> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM programs WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(format!("program {id}")))
    }

    pub async fn program_destination_ids(&self, id: i64) -> Result<Vec<i64>> {
        sqlx::query_scalar("SELECT destination_id FROM program_destinations WHERE program_id = ? ORDER BY destination_id")
            .bind(id)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)
    }

    /// Creates or replaces a program and its destinations in one transaction.
    pub async fn save_program(&self, id: Option<i64>, p: &ProgramWrite) -> Result<ProgramRow> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let t = now();
        let taken = |e| {
            unique_or(
                e,
                "name",
                format!("a program named '{}' already exists", p.name),
            )
        };
        let row: ProgramRow = match id {
            None => sqlx::query_as(&format!(
                "INSERT INTO programs (name, width, height, fps, video_bitrate_kbps, adaptive_bitrate, encoder, slate_text, overlays,
                                       preroll, created_at, updated_at, encoder_preset)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
            ))
            .bind(&p.name)
            .bind(p.width)
            .bind(p.height)
            .bind(p.fps)
            .bind(p.video_bitrate_kbps)
            .bind(p.adaptive_bitrate)
            .bind(&p.encoder)
            .bind(&p.slate_text)
            .bind(&p.overlays)
            .bind(&p.preroll)
            .bind(&t)
            .bind(&t)
            .bind(&p.encoder_preset)
            .fetch_one(&mut *tx)
            .await
            .map_err(taken)?,
            Some(id) => sqlx::query_as(&format!(
                "UPDATE programs SET name = ?, width = ?, height = ?, fps = ?, video_bitrate_kbps = ?, adaptive_bitrate = ?, encoder = ?,
                        slate_text = ?, overlays = ?, preroll = ?, updated_at = ?, encoder_preset = ?
                 WHERE id = ? RETURNING {COLUMNS}"
            ))
            .bind(&p.name)
            .bind(p.width)
            .bind(p.height)
            .bind(p.fps)
            .bind(p.video_bitrate_kbps)
            .bind(p.adaptive_bitrate)
            .bind(&p.encoder)
            .bind(&p.slate_text)
            .bind(&p.overlays)
            .bind(&p.preroll)
            .bind(&t)
            .bind(&p.encoder_preset)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(taken)?
            .ok_or_else(|| Error::not_found(format!("program {id}")))?,
        };
        crate::streaming::replace_destination_links(
            &mut tx,
            "program_destinations",
            "program_id",
            row.id,
            &p.destination_ids,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row)
    }

    pub async fn delete_program(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM programs WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("program {id}")));
        }
        Ok(())
    }

    pub async fn set_program_runtime(
        &self,
        id: i64,
        desired: &str,
        on_air: Option<i64>,
    ) -> Result<()> {
        sqlx::query("UPDATE programs SET desired_state = ?, on_air_camera_id = ? WHERE id = ?")
            .bind(desired)
            .bind(on_air)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The pre-roll choice alone (it changes while the program runs).
    pub async fn set_program_preroll(&self, id: i64, preroll: &str) -> Result<()> {
        let n = sqlx::query("UPDATE programs SET preroll = ?, updated_at = ? WHERE id = ?")
            .bind(preroll)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("program {id}")));
        }
        Ok(())
    }

    pub async fn set_program_overlays(&self, id: i64, overlays: &str) -> Result<()> {
        sqlx::query("UPDATE programs SET overlays = ?, updated_at = ? WHERE id = ?")
            .bind(overlays)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
