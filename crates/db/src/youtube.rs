//! YouTube broadcasts made by the appliance (0009): the Google sign-in of a destination, the
//! broadcast settings of a timeline's windows, and the broadcasts made. Every token and the
//! client secret arrive here already sealed; nothing in this module sees a clear secret.

use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, Db};

#[derive(Debug, Clone, FromRow)]
pub struct YoutubeLinkRow {
    pub destination_id: i64,
    pub client_id: String,
    pub client_secret_enc: String,
    pub state: String,
    pub device_code_enc: Option<String>,
    pub user_code: Option<String>,
    pub verification_url: Option<String>,
    pub code_expires_at: Option<String>,
    pub poll_interval_s: Option<i64>,
    pub access_token_enc: Option<String>,
    pub access_expires_at: Option<String>,
    pub refresh_token_enc: Option<String>,
    pub stream_id: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct BroadcastSettingsRow {
    pub destination_id: i64,
    pub timeline_id: String,
    pub title: String,
    pub description: String,
    pub privacy: String,
    pub category_id: Option<String>,
    pub thumbnail_asset_id: Option<i64>,
    pub updated_at: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct BroadcastRow {
    pub id: i64,
    pub destination_id: i64,
    pub timeline_id: String,
    pub broadcast_id: Option<String>,
    pub title: String,
    pub state: String,
    pub last_error: Option<String>,
    pub transition_failures: i64,
    pub scheduled_start: String,
    pub window_end: Option<String>,
    pub live_at: Option<String>,
    pub ended_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const LINK_COLUMNS: &str = "destination_id, client_id, client_secret_enc, state, device_code_enc, \
    user_code, verification_url, code_expires_at, poll_interval_s, access_token_enc, \
    access_expires_at, refresh_token_enc, stream_id, last_error, updated_at";
const SETTINGS_COLUMNS: &str = "destination_id, timeline_id, title, description, privacy, \
    category_id, thumbnail_asset_id, updated_at";
const BROADCAST_COLUMNS: &str = "id, destination_id, timeline_id, broadcast_id, title, state, \
    last_error, transition_failures, scheduled_start, window_end, live_at, ended_at, created_at, \
    updated_at";

/// States of a broadcast that still has something to do.
pub const OPEN_STATES: &str = "('creating', 'waiting', 'live')";

impl Db {
    pub async fn youtube_link(&self, destination_id: i64) -> Result<Option<YoutubeLinkRow>> {
        sqlx::query_as(&format!(
            "SELECT {LINK_COLUMNS} FROM youtube_links WHERE destination_id = ?"
        ))
        .bind(destination_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn youtube_links(&self) -> Result<Vec<YoutubeLinkRow>> {
        sqlx::query_as(&format!(
            "SELECT {LINK_COLUMNS} FROM youtube_links ORDER BY destination_id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    /// Stores the OAuth client of a destination; a sign-in in progress or held is kept only if
    /// the client is the same.
    pub async fn set_youtube_client(
        &self,
        destination_id: i64,
        client_id: &str,
        client_secret_enc: &str,
    ) -> Result<YoutubeLinkRow> {
        sqlx::query_as(&format!(
            "INSERT INTO youtube_links (destination_id, client_id, client_secret_enc, updated_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (destination_id) DO UPDATE SET
                 state = CASE WHEN client_id = excluded.client_id THEN state ELSE 'signed_out' END,
                 access_token_enc = CASE WHEN client_id = excluded.client_id THEN access_token_enc END,
                 refresh_token_enc = CASE WHEN client_id = excluded.client_id THEN refresh_token_enc END,
                 client_id = excluded.client_id,
                 client_secret_enc = excluded.client_secret_enc,
                 updated_at = excluded.updated_at
             RETURNING {LINK_COLUMNS}"
        ))
        .bind(destination_id)
        .bind(client_id)
        .bind(client_secret_enc)
        .bind(now())
        .fetch_one(self.pool())
        .await
        .map_err(|e| {
            if crate::is_foreign_key_violation(&e) {
                return Error::not_found(format!("destination {destination_id}"));
            }
            db_err(e)
        })
    }

    /// A device code was issued: the user is shown `user_code` at `verification_url`.
    pub async fn set_youtube_pending(
        &self,
        destination_id: i64,
        device_code_enc: &str,
        user_code: &str,
        verification_url: &str,
        code_expires_at: &str,
        poll_interval_s: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE youtube_links SET state = 'pending', device_code_enc = ?, user_code = ?,
                 verification_url = ?, code_expires_at = ?, poll_interval_s = ?, last_error = NULL,
                 updated_at = ?
             WHERE destination_id = ?",
        )
        .bind(device_code_enc)
        .bind(user_code)
        .bind(verification_url)
        .bind(code_expires_at)
        .bind(poll_interval_s)
        .bind(now())
        .bind(destination_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn set_youtube_poll_interval(&self, destination_id: i64, s: i64) -> Result<()> {
        sqlx::query("UPDATE youtube_links SET poll_interval_s = ? WHERE destination_id = ?")
            .bind(s)
            .bind(destination_id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Tokens granted or refreshed: the link is `linked`, the device code forgotten. A refresh
    /// that brings no new refresh token keeps the stored one.
    pub async fn set_youtube_tokens(
        &self,
        destination_id: i64,
        access_token_enc: &str,
        access_expires_at: &str,
        refresh_token_enc: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE youtube_links SET state = 'linked', access_token_enc = ?, access_expires_at = ?,
                 refresh_token_enc = COALESCE(?, refresh_token_enc), device_code_enc = NULL,
                 user_code = NULL, verification_url = NULL, code_expires_at = NULL,
                 last_error = NULL, updated_at = ?
             WHERE destination_id = ?",
        )
        .bind(access_token_enc)
        .bind(access_expires_at)
        .bind(refresh_token_enc)
        .bind(now())
        .bind(destination_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Ends a sign-in (`signed_out`, `needs_sign_in`): every token and the device code are
    /// dropped; `last_error` says why in plain words.
    pub async fn end_youtube_sign_in(
        &self,
        destination_id: i64,
        state: &str,
        last_error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE youtube_links SET state = ?, access_token_enc = NULL, access_expires_at = NULL,
                 refresh_token_enc = NULL, device_code_enc = NULL, user_code = NULL,
                 verification_url = NULL, code_expires_at = NULL, last_error = ?, updated_at = ?
             WHERE destination_id = ?",
        )
        .bind(state)
        .bind(last_error)
        .bind(now())
        .bind(destination_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn set_youtube_link_error(
        &self,
        destination_id: i64,
        last_error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE youtube_links SET last_error = ?, updated_at = ? WHERE destination_id = ?",
        )
        .bind(last_error)
        .bind(now())
        .bind(destination_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Binds the destination to a liveStream: the link remembers it and the destination
    /// publishes to its ingestion address with its stream name (sealed) as the key, in one
    /// transaction.
    pub async fn set_youtube_stream(
        &self,
        destination_id: i64,
        stream_id: &str,
        url: &str,
        stream_key_enc: &str,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let t = now();
        sqlx::query(
            "UPDATE youtube_links SET stream_id = ?, updated_at = ? WHERE destination_id = ?",
        )
        .bind(stream_id)
        .bind(&t)
        .bind(destination_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE destinations SET url = ?, stream_key_enc = ?, url_secrets_enc = NULL, updated_at = ?
             WHERE id = ?",
        )
        .bind(url)
        .bind(stream_key_enc)
        .bind(&t)
        .bind(destination_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    pub async fn broadcast_settings(
        &self,
        destination_id: i64,
    ) -> Result<Vec<BroadcastSettingsRow>> {
        sqlx::query_as(&format!(
            "SELECT {SETTINGS_COLUMNS} FROM youtube_broadcast_settings WHERE destination_id = ?
             ORDER BY timeline_id"
        ))
        .bind(destination_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn all_broadcast_settings(&self) -> Result<Vec<BroadcastSettingsRow>> {
        sqlx::query_as(&format!(
            "SELECT {SETTINGS_COLUMNS} FROM youtube_broadcast_settings
             ORDER BY destination_id, timeline_id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn put_broadcast_settings(
        &self,
        s: &BroadcastSettingsRow,
    ) -> Result<BroadcastSettingsRow> {
        sqlx::query_as(&format!(
            "INSERT INTO youtube_broadcast_settings ({SETTINGS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (destination_id, timeline_id) DO UPDATE SET title = excluded.title,
                 description = excluded.description, privacy = excluded.privacy,
                 category_id = excluded.category_id, thumbnail_asset_id = excluded.thumbnail_asset_id,
                 updated_at = excluded.updated_at
             RETURNING {SETTINGS_COLUMNS}"
        ))
        .bind(s.destination_id)
        .bind(&s.timeline_id)
        .bind(&s.title)
        .bind(&s.description)
        .bind(&s.privacy)
        .bind(&s.category_id)
        .bind(s.thumbnail_asset_id)
        .bind(now())
        .fetch_one(self.pool())
        .await
        .map_err(|e| {
            if crate::is_foreign_key_violation(&e) {
                return Error::invalid(
                    "thumbnail_asset_id",
                    "the destination, the timeline or the thumbnail asset does not exist",
                );
            }
            db_err(e)
        })
    }

    /// Returns whether there was something to delete.
    pub async fn delete_broadcast_settings(
        &self,
        destination_id: i64,
        timeline_id: &str,
    ) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM youtube_broadcast_settings WHERE destination_id = ? AND timeline_id = ?",
        )
        .bind(destination_id)
        .bind(timeline_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n > 0)
    }

    /// A new broadcast for a window that just opened, in state `creating`. A second open one
    /// for the same destination and timeline is refused (409).
    pub async fn insert_broadcast(
        &self,
        destination_id: i64,
        timeline_id: &str,
        title: &str,
        scheduled_start: &str,
        window_end: Option<&str>,
    ) -> Result<BroadcastRow> {
        let t = now();
        sqlx::query_as(&format!(
            "INSERT INTO youtube_broadcasts (destination_id, timeline_id, title, state,
                 scheduled_start, window_end, created_at, updated_at)
             VALUES (?, ?, ?, 'creating', ?, ?, ?, ?) RETURNING {BROADCAST_COLUMNS}"
        ))
        .bind(destination_id)
        .bind(timeline_id)
        .bind(title)
        .bind(scheduled_start)
        .bind(window_end)
        .bind(&t)
        .bind(&t)
        .fetch_one(self.pool())
        .await
        .map_err(|e| {
            crate::unique_or(
                e,
                "timeline_id",
                "a broadcast of this window is already open",
            )
        })
    }

    pub async fn broadcast(&self, id: i64) -> Result<BroadcastRow> {
        sqlx::query_as(&format!(
            "SELECT {BROADCAST_COLUMNS} FROM youtube_broadcasts WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("broadcast {id}")))
    }

    /// The broadcasts of a destination, newest first.
    pub async fn broadcasts(&self, destination_id: i64, limit: i64) -> Result<Vec<BroadcastRow>> {
        sqlx::query_as(&format!(
            "SELECT {BROADCAST_COLUMNS} FROM youtube_broadcasts WHERE destination_id = ?
             ORDER BY id DESC LIMIT ?"
        ))
        .bind(destination_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn open_broadcasts(&self) -> Result<Vec<BroadcastRow>> {
        sqlx::query_as(&format!(
            "SELECT {BROADCAST_COLUMNS} FROM youtube_broadcasts WHERE state IN {OPEN_STATES}
             ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn set_broadcast_id(&self, id: i64, broadcast_id: &str) -> Result<()> {
        sqlx::query("UPDATE youtube_broadcasts SET broadcast_id = ?, updated_at = ? WHERE id = ?")
            .bind(broadcast_id)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The end of the window a broadcast belongs to, as the schedule says now.
    pub async fn set_broadcast_window_end(&self, id: i64, window_end: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE youtube_broadcasts SET window_end = ?, updated_at = ? WHERE id = ?")
            .bind(window_end)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Moves a broadcast to `state`; `live` and the end states stamp their time. `last_error`
    /// replaces the stored one (None clears it).
    pub async fn set_broadcast_state(
        &self,
        id: i64,
        state: &str,
        last_error: Option<&str>,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "UPDATE youtube_broadcasts SET state = ?, last_error = ?, updated_at = ?,
                 live_at = CASE WHEN ? = 'live' THEN COALESCE(live_at, ?) ELSE live_at END,
                 ended_at = CASE WHEN ? IN ('complete', 'cancelled', 'failed') THEN ? ELSE ended_at END
             WHERE id = ?",
        )
        .bind(state)
        .bind(last_error)
        .bind(&t)
        .bind(state)
        .bind(&t)
        .bind(state)
        .bind(&t)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Records a failure without changing the state; `transition` counts a failed transition.
    pub async fn set_broadcast_error(&self, id: i64, error: &str, transition: bool) -> Result<()> {
        sqlx::query(
            "UPDATE youtube_broadcasts SET last_error = ?, updated_at = ?,
                 transition_failures = transition_failures + ?
             WHERE id = ?",
        )
        .bind(error)
        .bind(now())
        .bind(i64::from(transition))
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

    #[tokio::test]
    async fn one_open_broadcast_per_destination_and_timeline() {
        let db = Db::open_in_memory().await.unwrap();
        sqlx::query(
            "INSERT INTO destinations (name, platform, url, created_at, updated_at)
             VALUES ('yt', 'youtube', 'rtmp://h/live2', 'x', 'x')",
        )
        .execute(db.pool())
        .await
        .unwrap();
        let b = db
            .insert_broadcast(1, "show", "Show", "2026-01-01T00:00:00Z", None)
            .await
            .unwrap();
        let again = db
            .insert_broadcast(1, "show", "Show", "2026-01-01T00:00:00Z", None)
            .await
            .unwrap_err();
        assert_eq!(again.kind, vs_base::ErrorKind::Conflict);
        db.set_broadcast_state(b.id, "complete", None)
            .await
            .unwrap();
        let next = db
            .insert_broadcast(1, "show", "Show", "2026-01-02T00:00:00Z", None)
            .await
            .unwrap();
        assert_ne!(next.id, b.id);
        let done = db.broadcast(b.id).await.unwrap();
        assert!(done.ended_at.is_some());
        assert_eq!(db.open_broadcasts().await.unwrap().len(), 1);
    }
}
