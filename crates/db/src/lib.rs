//! Storage of the appliance: one SQLite file (WAL, foreign keys on) reached through sqlx, with
//! migrations embedded in the binary, and one repository module per table family.

pub mod audio;
pub mod auth;
pub mod cameras;
mod files;
pub mod link;
pub mod presets;
pub mod programs;
pub mod settings;
pub mod streaming;
pub mod timelines;
pub mod youtube;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use vs_base::{Error, Result};

pub use sqlx;

/// The embedded migrations, in order. They are never edited once landed.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The embedded migrations up to a version, as the source of a [`Migrator`].
#[derive(Debug)]
struct UpTo(i64);

impl MigrationSource<'static> for UpTo {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<Vec<Migration>, BoxDynError>> + Send>>
    {
        let up_to: Vec<Migration> = MIGRATOR
            .iter()
            .filter(|m| m.version <= self.0)
            .cloned()
            .collect();
        Box::pin(async move { Ok(up_to) })
    }
}

/// The database handle: a pool of connections to one SQLite file.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
    /// The camera list, read on every dashboard refresh and health round but written rarely;
    /// every camera write goes through this crate and clears it.
    cameras: std::sync::Arc<cameras::CameraCache>,
}

impl Db {
    /// Opens (creating if needed) the database file and runs pending migrations. The file and
    /// SQLite's -wal / -shm / -journal beside it are made readable by the owner only.
    pub async fn open(path: &Path) -> Result<Db> {
        Self::open_with(path, &MIGRATOR).await
    }

    /// Opens like [`Db::open`], applying the embedded migrations only up to `version`: for the
    /// test of one migration, which must not depend on the ones landed after it.
    pub async fn open_up_to(path: &Path, version: i64) -> Result<Db> {
        let migrator = Migrator::new(UpTo(version))
            .await
            .map_err(|e| Error::internal(anyhow::Error::new(e).context("migrations")))?;
        Self::open_with(path, &migrator).await
    }

    async fn open_with(path: &Path, migrator: &Migrator) -> Result<Db> {
        files::make_private(path)?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(Error::internal)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Self::connect(opts, 8, migrator).await
    }

    /// An in-memory database, for unit tests.
    pub async fn open_in_memory() -> Result<Db> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(Error::internal)?
            .foreign_keys(true);
        // One connection: every connection to :memory: is a different database.
        Self::connect(opts, 1, &MIGRATOR).await
    }

    async fn connect(opts: SqliteConnectOptions, max: u32, migrator: &Migrator) -> Result<Db> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| Error::internal(anyhow::Error::new(e).context("opening the database")))?;
        migrate(&pool, migrator).await?;
        Ok(Db {
            pool,
            cameras: Default::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The newest migration version applied, for status pages and backups.
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(v.unwrap_or(0))
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs the pending migrations on one connection of the pool with foreign keys OFF, then
/// turns them back ON before the connection returns to the pool.
///
/// Why: sqlx runs each SQLite migration inside a transaction (it ignores `-- no-transaction`
/// for SQLite, launchbadge/sqlx#2085), and `PRAGMA foreign_keys` is a no-op inside one. A
/// migration that rebuilds a table (SQLite's 12-step procedure, as 0006 does) needs them off:
/// with them on, DROP TABLE runs an implicit DELETE that cascades to, nulls or is refused by
/// the child rows. Such a migration checks `pragma_foreign_key_check` itself before its
/// transaction commits (0006 shows how), since nothing here can roll it back afterwards.
/// Creating tables with foreign keys off changes nothing for the other migrations.
async fn migrate(pool: &SqlitePool, migrator: &Migrator) -> Result<()> {
    let mut conn = pool.acquire().await.map_err(db_err)?;
    let r = migrate_on(&mut conn, migrator).await;
    if r.is_err() {
        // Never hand a connection that may still have foreign keys off back to the pool.
        drop(conn.detach());
    }
    r.map_err(|e| Error::internal(e.context("migrating the database")))
}

async fn migrate_on(conn: &mut sqlx::SqliteConnection, migrator: &Migrator) -> anyhow::Result<()> {
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    migrator.run(&mut *conn).await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    // The pragma is silently ignored inside a transaction: make sure none was left open.
    let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await?;
    anyhow::ensure!(
        on == 1,
        "foreign keys could not be turned back on after migrating"
    );
    Ok(())
}

/// Current time as stored in the database (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Maps a database error to the appliance error; internal detail goes to the source only.
pub fn db_err(e: sqlx::Error) -> Error {
    Error::internal(anyhow::Error::new(e).context("database"))
}

/// Maps a unique-constraint violation to a 409 with `message`, anything else to internal.
pub fn unique_or(e: sqlx::Error, field: &str, message: impl Into<String>) -> Error {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return Error::conflict(message).with_field(field);
        }
    }
    db_err(e)
}

/// Whether the error is a foreign-key refusal. SQLite reports ON DELETE RESTRICT with the
/// trigger extended code (1811), not the foreign-key one, so the message is checked too.
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_foreign_key_violation() || d.message().contains("FOREIGN KEY constraint failed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_and_enable_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        assert!(db.schema_version().await.unwrap() >= 1);
        // Every table of the foundation exists.
        for t in [
            "users",
            "sessions",
            "api_tokens",
            "cameras",
            "presets",
            "settings",
            "audit_log",
        ] {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?",
            )
            .bind(t)
            .fetch_one(db.pool())
            .await
            .unwrap();
            assert_eq!(n, 1, "table {t}");
        }
        db.close().await;
        // Re-opening runs no migration twice.
        let db = Db::open(&dir.path().join("t.db")).await.unwrap();
        assert!(db.schema_version().await.unwrap() >= 1);
    }

    #[test]
    fn migrations_are_embedded_in_order() {
        let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        assert_eq!(versions, sorted);
        assert_eq!(versions[0], 1);
    }
}
