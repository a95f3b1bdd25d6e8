//! Key/value settings of the appliance (time zone, slate text, intervals), as JSON values.

use serde::{de::DeserializeOwned, Serialize};
use vs_base::{Error, Result};

use crate::{db_err, Db};

impl Db {
    pub async fn setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?;
        raw.map(|r| serde_json::from_str(&r).map_err(Error::internal))
            .transpose()
    }

    pub async fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let raw = serde_json::to_string(value).map_err(Error::internal)?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(raw)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Records an action in the audit log. Never pass a secret in `detail`.
    pub async fn audit(
        &self,
        user_id: Option<i64>,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(crate::now())
        .bind(user_id)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
