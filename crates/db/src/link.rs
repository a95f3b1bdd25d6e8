//! The VistterStudio link's tables: its settings (secrets sealed by the caller), the commands
//! already executed with their ACK (idempotence by message id), and the bounded outbox of
//! replies and events waiting for the broker.

use sqlx::FromRow;
use vs_base::Result;

use crate::{db_err, now, Db};

/// Settings key of the number of outbox messages dropped (oldest first) since the appliance
/// was installed.
const DROPPED_KEY: &str = "link_dropped_total";

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct LinkSettingsRow {
    pub enabled: bool,
    pub broker_url: String,
    pub device_id: String,
    pub username: Option<String>,
    /// Sealed.
    pub password_enc: Option<String>,
    pub client_cert_pem: Option<String>,
    /// Sealed.
    pub client_key_enc: Option<String>,
    pub ca_cert_pem: Option<String>,
    pub metrics_interval_s: i64,
    pub updated_at: String,
}

/// A message of the outbox, in the order it must be delivered.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: i64,
    /// `ack` or `event`: the topic below the device's prefix.
    pub channel: String,
    /// The message as JSON, without its `seq`.
    pub message: String,
}

/// What queueing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub seq: i64,
    /// Older messages dropped to make room (0 unless the outbox was full).
    pub dropped: u64,
}

impl Db {
    pub async fn link_settings(&self) -> Result<Option<LinkSettingsRow>> {
        sqlx::query_as(
            "SELECT enabled, broker_url, device_id, username, password_enc, client_cert_pem,
                    client_key_enc, ca_cert_pem, metrics_interval_s, updated_at
             FROM link_settings WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    /// Stores the settings; `updated_at` is set here. When `clear_queue`, the outbox and the
    /// commands seen are emptied in the same transaction (they belonged to another device or
    /// broker).
    pub async fn save_link_settings(
        &self,
        s: &LinkSettingsRow,
        clear_queue: bool,
    ) -> Result<LinkSettingsRow> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let t = now();
        sqlx::query(
            "INSERT INTO link_settings (id, enabled, broker_url, device_id, username, password_enc,
                 client_cert_pem, client_key_enc, ca_cert_pem, metrics_interval_s, updated_at)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled,
                 broker_url = excluded.broker_url, device_id = excluded.device_id,
                 username = excluded.username, password_enc = excluded.password_enc,
                 client_cert_pem = excluded.client_cert_pem,
                 client_key_enc = excluded.client_key_enc, ca_cert_pem = excluded.ca_cert_pem,
                 metrics_interval_s = excluded.metrics_interval_s,
                 updated_at = excluded.updated_at",
        )
        .bind(s.enabled)
        .bind(&s.broker_url)
        .bind(&s.device_id)
        .bind(&s.username)
        .bind(&s.password_enc)
        .bind(&s.client_cert_pem)
        .bind(&s.client_key_enc)
        .bind(&s.ca_cert_pem)
        .bind(s.metrics_interval_s)
        .bind(&t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if clear_queue {
            for q in ["DELETE FROM link_outbox", "DELETE FROM link_commands"] {
                sqlx::query(q).execute(&mut *tx).await.map_err(db_err)?;
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(LinkSettingsRow {
            updated_at: t,
            ..s.clone()
        })
    }

    /// The ACK a command already got, when its message id was seen.
    pub async fn link_command_ack(&self, message_id: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT ack FROM link_commands WHERE message_id = ?")
            .bind(message_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)
    }

    /// Records an executed command with its ACK and queues the ACK, in one transaction: after
    /// a crash either both are there or neither (and the redelivered command runs again).
    pub async fn record_link_command(
        &self,
        message_id: &str,
        ack: &str,
        limit: u64,
    ) -> Result<Queued> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let t = now();
        sqlx::query(
            "INSERT INTO link_commands (message_id, received_at, ack) VALUES (?, ?, ?)
             ON CONFLICT(message_id) DO NOTHING",
        )
        .bind(message_id)
        .bind(&t)
        .bind(ack)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let queued = enqueue(&mut tx, "ack", ack, &t, limit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(queued)
    }

    /// Queues a message for the broker, dropping the oldest beyond `limit`.
    pub async fn enqueue_link_message(
        &self,
        channel: &str,
        message: &str,
        limit: u64,
    ) -> Result<Queued> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let queued = enqueue(&mut tx, channel, message, &now(), limit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(queued)
    }

    /// Up to `n` queued messages after `after`, oldest first.
    pub async fn link_outbox_after(&self, after: i64, n: i64) -> Result<Vec<OutboxRow>> {
        sqlx::query_as(
            "SELECT seq, channel, message FROM link_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(n)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    /// Removes a message the broker acknowledged.
    pub async fn link_outbox_delivered(&self, seq: i64) -> Result<()> {
        sqlx::query("DELETE FROM link_outbox WHERE seq = ?")
            .bind(seq)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn link_outbox_len(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM link_outbox")
            .fetch_one(self.pool())
            .await
            .map_err(db_err)?;
        Ok(n as u64)
    }

    /// Messages dropped from a full outbox since the appliance was installed.
    pub async fn link_dropped_total(&self) -> Result<u64> {
        Ok(self.setting::<u64>(DROPPED_KEY).await?.unwrap_or(0))
    }

    /// Forgets the commands received before `before` (RFC 3339); returns how many.
    pub async fn purge_link_commands(&self, before: &str) -> Result<u64> {
        let r = sqlx::query("DELETE FROM link_commands WHERE received_at < ?")
            .bind(before)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }
}

async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    channel: &str,
    message: &str,
    at: &str,
    limit: u64,
) -> Result<Queued> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO link_outbox (channel, message, created_at) VALUES (?, ?, ?) RETURNING seq",
    )
    .bind(channel)
    .bind(message)
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let len: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM link_outbox")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let over = (len as u64).saturating_sub(limit.max(1));
    if over > 0 {
        sqlx::query(
            "DELETE FROM link_outbox WHERE seq IN (SELECT seq FROM link_outbox ORDER BY seq LIMIT ?)",
        )
        .bind(over as i64)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
        )
        .bind(DROPPED_KEY)
        .bind(over.to_string())
        .bind(over as i64)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(Queued { seq, dropped: over })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_order_and_drops_the_oldest_with_a_count() {
        let db = Db::open_in_memory().await.unwrap();
        let mut seqs = Vec::new();
        for i in 0..5 {
            let q = db
                .enqueue_link_message("event", &format!("m{i}"), 3)
                .await
                .unwrap();
            seqs.push(q.seq);
            assert_eq!(q.dropped, u64::from(i >= 3));
        }
        assert!(seqs.windows(2).all(|w| w[1] > w[0]));
        let rows = db.link_outbox_after(0, 10).await.unwrap();
        let kept: Vec<&str> = rows.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(kept, ["m2", "m3", "m4"]);
        assert_eq!(db.link_dropped_total().await.unwrap(), 2);
        db.link_outbox_delivered(rows[0].seq).await.unwrap();
        assert_eq!(db.link_outbox_len().await.unwrap(), 2);
        // A seq is never reused, even once its row is gone.
        let q = db.enqueue_link_message("ack", "m5", 3).await.unwrap();
        assert!(q.seq > seqs[4]);
        assert_eq!(
            db.link_outbox_after(rows[1].seq, 10).await.unwrap().len(),
            2
        );
    }

    #[tokio::test]
    async fn a_command_is_recorded_with_its_ack_once() {
        let db = Db::open_in_memory().await.unwrap();
        assert_eq!(db.link_command_ack("c1").await.unwrap(), None);
        db.record_link_command("c1", "{\"a\":1}", 100)
            .await
            .unwrap();
        assert_eq!(
            db.link_command_ack("c1").await.unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        // Recorded again (a redelivery answered): the first ACK stays, queued once more.
        db.record_link_command("c1", "{\"a\":2}", 100)
            .await
            .unwrap();
        assert_eq!(
            db.link_command_ack("c1").await.unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(db.link_outbox_len().await.unwrap(), 2);
        assert_eq!(db.purge_link_commands("9999").await.unwrap(), 1);
        assert_eq!(db.link_command_ack("c1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn settings_round_trip_and_a_new_device_starts_with_an_empty_queue() {
        let db = Db::open_in_memory().await.unwrap();
        assert_eq!(db.link_settings().await.unwrap(), None);
        let s = LinkSettingsRow {
            enabled: true,
            broker_url: "mqtts://broker.example:8883".into(),
            device_id: "venue-1".into(),
            username: Some("venue-1".into()),
            password_enc: Some("v1:sealed".into()),
            client_cert_pem: None,
            client_key_enc: None,
            ca_cert_pem: None,
            metrics_interval_s: 30,
            updated_at: String::new(),
        };
        let saved = db.save_link_settings(&s, false).await.unwrap();
        assert_eq!(db.link_settings().await.unwrap(), Some(saved));
        db.enqueue_link_message("event", "x", 10).await.unwrap();
        db.record_link_command("c1", "{}", 10).await.unwrap();
        db.save_link_settings(&s, true).await.unwrap();
        assert_eq!(db.link_outbox_len().await.unwrap(), 0);
        assert_eq!(db.link_command_ack("c1").await.unwrap(), None);
    }
}
