//! Users, browser sessions and API tokens. Passwords are bcrypt hashes made by the caller;
//! session cookies and tokens are stored only as SHA-256 hex digests.

use serde::Serialize;
use sqlx::FromRow;
use vs_base::{Error, Result};

use crate::{db_err, now, unique_or, Db};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created_at: String,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl Db {
    pub async fn user_count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await
            .map_err(db_err)
    }

    /// Creates the first user, atomically: fails with a conflict if any user exists, so two
    /// concurrent set-up requests cannot both create an admin.
    pub async fn create_first_user(&self, username: &str, password_hash: &str) -> Result<UserRow> {
        let t = now();
        let row: Option<UserRow> = sqlx::query_as(
            "INSERT INTO users (username, password_hash, created_at, updated_at)
             SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)
             RETURNING id, username, password_hash, created_at",
        )
        .bind(username)
        .bind(password_hash)
        .bind(&t)
        .bind(&t)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        row.ok_or_else(|| Error::conflict("the appliance is already set up; log in instead"))
    }

    pub async fn create_user(&self, username: &str, password_hash: &str) -> Result<UserRow> {
        let t = now();
        sqlx::query_as(
            "INSERT INTO users (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)
             RETURNING id, username, password_hash, created_at",
        )
        .bind(username)
        .bind(password_hash)
        .bind(&t)
        .bind(&t)
        .fetch_one(self.pool())
        .await
        .map_err(|e| unique_or(e, "username", format!("a user named '{username}' already exists")))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        sqlx::query_as(
            "SELECT id, username, password_hash, created_at FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        sqlx::query_as("SELECT id, username, password_hash, created_at FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)
    }

    /// Sets a new password hash and ends every session of the user but `keep_session`.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let n = sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(now())
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash IS NOT ?")
            .bind(user_id)
            .bind(keep_session)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: &str,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(&t)
        .bind(expires_at)
        .bind(&t)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// The user of a live session, or None when unknown or expired.
    pub async fn session_user(&self, token_hash: &str) -> Result<Option<UserRow>> {
        sqlx::query_as(
            "SELECT u.id, u.username, u.password_hash, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now())
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected())
    }

    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
    ) -> Result<ApiTokenRow> {
        sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)
             RETURNING id, user_id, name, prefix, created_at, last_used_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(prefix)
        .bind(now())
        .fetch_one(self.pool())
        .await
        .map_err(|e| unique_or(e, "name", format!("a token named '{name}' already exists")))
    }

    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>> {
        sqlx::query_as(
            "SELECT id, user_id, name, prefix, created_at, last_used_at FROM api_tokens
             WHERE user_id = ? AND revoked_at IS NULL ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)
    }

    pub async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<()> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await
        .map_err(db_err)?
        .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("API token {id}")));
        }
        Ok(())
    }

    /// The user of a live token; records its use.
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<UserRow>> {
        let user: Option<UserRow> = sqlx::query_as(
            "UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ? AND revoked_at IS NULL
             RETURNING user_id AS id, '' AS username, '' AS password_hash, created_at",
        )
        .bind(now())
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        match user {
            Some(u) => self.user_by_id(u.id).await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Db;

    #[tokio::test]
    async fn first_user_only_once() {
        let db = Db::open_in_memory().await.unwrap();
        db.create_first_user("admin", "h").await.unwrap();
        let e = db.create_first_user("other", "h").await.unwrap_err();
        assert_eq!(e.kind, vs_base::ErrorKind::Conflict);
        assert_eq!(db.user_count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn sessions_expire_and_password_change_ends_others() {
        let db = Db::open_in_memory().await.unwrap();
        let u = db.create_first_user("admin", "h").await.unwrap();
        db.create_session("a", u.id, "2999-01-01T00:00:00.000Z")
            .await
            .unwrap();
        db.create_session("b", u.id, "2999-01-01T00:00:00.000Z")
            .await
            .unwrap();
        db.create_session("old", u.id, "2000-01-01T00:00:00.000Z")
            .await
            .unwrap();
        assert!(db.session_user("a").await.unwrap().is_some());
        assert!(db.session_user("old").await.unwrap().is_none());
        db.set_password(u.id, "h2", Some("a")).await.unwrap();
        assert!(db.session_user("a").await.unwrap().is_some());
        assert!(db.session_user("b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn tokens_revoke() {
        let db = Db::open_in_memory().await.unwrap();
        let u = db.create_first_user("admin", "h").await.unwrap();
        let t = db
            .create_api_token(u.id, "studio", "hash1", "vst_ab")
            .await
            .unwrap();
        assert_eq!(
            db.token_user("hash1").await.unwrap().unwrap().username,
            "admin"
        );
        assert!(db
            .create_api_token(u.id, "studio", "hash2", "vst_cd")
            .await
            .is_err());
        db.revoke_api_token(u.id, t.id).await.unwrap();
        assert!(db.token_user("hash1").await.unwrap().is_none());
        // The name is free again once revoked.
        db.create_api_token(u.id, "studio", "hash3", "vst_ef")
            .await
            .unwrap();
    }
}
