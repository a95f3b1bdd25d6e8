//! `admin backup` and `admin restore`: one `.tar.gz` file holding a consistent snapshot of the
//! database, the secret key and the assets, with a manifest that says which schema it needs.
//!
//! Why these choices:
//! - The backup runs beside a running appliance, so it does NOT take the data-directory lock
//!   and opens the database read-only. The snapshot is SQLite's `VACUUM INTO`, which reads the
//!   database inside one read transaction: the copy is consistent even while the appliance
//!   writes (WAL readers never block the writer), and it is compacted.
//! - One archive file rather than a directory: it is what people copy to a USB stick or another
//!   machine, and the gzip CRC catches a truncated or damaged copy. The manifest is the first
//!   entry so a restore can refuse an incompatible file before extracting anything else.
//! - The archive holds the secret key (without it, camera passwords and stream keys cannot be
//!   decrypted), so it is written with mode 0600, like the key itself.
//! - A restore needs the appliance stopped (it takes the lock), refuses a schema newer than
//!   this binary's migrations, refuses to replace a non-empty data directory without `--force`,
//!   and swaps the new contents in with a rename once everything is extracted and verified.
//!   The previous contents are kept beside (never deleted by a restore).

mod create;
mod restore;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vs_base::{Error, ErrorKind, Result};
use vs_db::sqlx::sqlite::SqliteConnectOptions;
use vs_db::sqlx::{ConnectOptions, Connection, SqliteConnection};

pub use create::backup;
pub use restore::{restore, Restored};

/// The first field of every manifest, so that a random `.tar.gz` is recognised as foreign.
pub const FORMAT: &str = "vistterstream-backup";
/// Bumped when the archive layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

pub const MANIFEST_NAME: &str = "manifest.json";
pub const DB_NAME: &str = "vistterstream.db";
pub const KEY_NAME: &str = "secret.key";
pub const ASSETS_DIR: &str = "assets";
const LOCK_NAME: &str = "vistterstream.lock";

/// What a backup holds and which binary can restore it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The version of the binary that wrote it.
    pub app_version: String,
    /// The newest migration applied to the database (`_sqlx_migrations`).
    pub schema_version: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// SHA-256 of the database snapshot, checked on restore.
    pub database_sha256: String,
    pub has_secret_key: bool,
    pub asset_files: u64,
}

/// The newest schema this binary knows (its last embedded migration).
pub fn known_schema_version() -> i64 {
    vs_db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unavailable, message)
}

fn io_fail(what: impl std::fmt::Display, e: io::Error) -> Error {
    fail(format!("{what}: {e}")).with_source(e)
}

/// Opens a database file for reading only, without creating or migrating it: a backup must
/// neither change the live database nor depend on its schema.
async fn open_read_only(path: &Path) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| fail(format!("cannot open the database {}: {e}", path.display())))
}

/// `PRAGMA integrity_check` and the schema version of a database file.
async fn check_database(path: &Path) -> Result<i64> {
    let mut conn = open_read_only(path).await?;
    let check: String = vs_db::sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| fail(format!("cannot check the database {}: {e}", path.display())))?;
    if check != "ok" {
        return Err(fail(format!(
            "the database {} is damaged: {check}",
            path.display()
        )));
    }
    let version: Option<i64> =
        vs_db::sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| {
                fail(format!(
                    "{} is not a VistterStream database (no migration table): {e}",
                    path.display()
                ))
            })?;
    let _ = conn.close().await;
    Ok(version.unwrap_or(0))
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| io_fail(path.display(), e))?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).map_err(|e| io_fail(path.display(), e))?;
    Ok(hex::encode(h.finalize()))
}

/// Makes a rename durable (best effort: not every filesystem supports it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `vistterstream admin backup`: prints what was written.
pub async fn run_backup(data_dir: &Path, out: &Path) -> Result<()> {
    let m = backup(data_dir, out).await?;
    let size = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({} KiB): schema version {}, {} asset file(s){}",
        out.display(),
        size.div_ceil(1024),
        m.schema_version,
        m.asset_files,
        if m.has_secret_key {
            ""
        } else {
            "; NO secret key (stored passwords and stream keys will not decrypt)"
        }
    );
    println!("it contains the secret key: keep it as private as the data directory");
    Ok(())
}

/// `vistterstream admin restore`: prints what was restored and where the old data went.
pub async fn run_restore(archive: &Path, data_dir: &Path, force: bool) -> Result<()> {
    let r = restore(archive, data_dir, force).await?;
    println!(
        "restored the backup of {} (VistterStream {}, schema version {}) into {}",
        r.manifest.created_at,
        r.manifest.app_version,
        r.manifest.schema_version,
        data_dir.display()
    );
    if let Some(p) = r.previous {
        println!(
            "the previous contents are in {}; delete them once the appliance works",
            p.display()
        );
    }
    if r.manifest.schema_version < known_schema_version() {
        println!("the database will be upgraded to the current schema on the next start");
    }
    Ok(())
}

/// Parses an archive's manifest without extracting anything (for tools and tests).
pub fn read_manifest(archive: &Path) -> Result<Manifest> {
    let file = File::open(archive).map_err(|e| io_fail(archive.display(), e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(io::BufReader::new(file)));
    let mut entries = tar.entries().map_err(|e| io_fail(archive.display(), e))?;
    let mut first = entries
        .next()
        .ok_or_else(|| fail("empty archive"))?
        .map_err(|e| io_fail(archive.display(), e))?;
    let mut json = Vec::new();
    first
        .read_to_end(&mut json)
        .map_err(|e| io_fail(archive.display(), e))?;
    serde_json::from_slice(&json).map_err(|e| fail(format!("bad manifest: {e}")))
}
