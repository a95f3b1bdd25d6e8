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

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vs_base::{Error, ErrorKind, Result};
use vs_db::sqlx::sqlite::SqliteConnectOptions;
use vs_db::sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::datadir;

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

/// Writes a backup of `data_dir` to `out`. Safe while the appliance runs: takes no lock and
/// only reads. The archive appears under its final name only once complete.
pub async fn backup(data_dir: &Path, out: &Path) -> Result<Manifest> {
    let db_path = data_dir.join(DB_NAME);
    if !db_path.is_file() {
        return Err(fail(format!(
            "no database at {}: is the data directory right (--data-dir or VS_DATA_DIR)?",
            db_path.display()
        )));
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The snapshot is staged beside the output, not in /tmp: on a Pi /tmp may be a small tmpfs.
    let staging = tempfile::Builder::new()
        .prefix(".vistterstream-backup-")
        .tempdir_in(&out_dir)
        .map_err(|e| io_fail(format!("cannot write in {}", out_dir.display()), e))?;
    let snapshot = staging.path().join(DB_NAME);

    let mut conn = open_read_only(&db_path).await?;
    vs_db::sqlx::query("VACUUM INTO ?")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| fail(format!("the database snapshot failed: {e}")))?;
    let _ = conn.close().await;
    let schema_version = check_database(&snapshot).await?;

    // The key is read once into memory: what is hashed is what is archived.
    let key = match fs::read(data_dir.join(KEY_NAME)) {
        Ok(k) => Some(k),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!("no secret key in the data directory; stored secrets will not decrypt");
            None
        }
        Err(e) => return Err(io_fail("cannot read the secret key", e)),
    };
    let assets = list_assets(&data_dir.join(ASSETS_DIR))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created_at: vs_db::now(),
        database_sha256: sha256_file(&snapshot)?,
        has_secret_key: key.is_some(),
        asset_files: assets.len() as u64,
    };

    let partial = staging.path().join("archive.partial");
    write_archive(
        &partial,
        &manifest,
        &snapshot,
        key.as_deref(),
        data_dir,
        &assets,
    )?;
    fs::rename(&partial, out)
        .map_err(|e| io_fail(format!("cannot create {}", out.display()), e))?;
    sync_dir(&out_dir);
    Ok(manifest)
}

/// Every regular file under `assets/`, as paths relative to the data directory. Symlinks are
/// skipped: a backup must not pull in files from outside the data directory.
fn list_assets(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![PathBuf::from(ASSETS_DIR)];
    let root = dir.parent().unwrap_or(Path::new("."));
    while let Some(rel) = stack.pop() {
        let entries = fs::read_dir(root.join(&rel))
            .map_err(|e| io_fail(format!("cannot list {}", rel.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_fail("cannot list the assets", e))?;
            let kind = entry
                .file_type()
                .map_err(|e| io_fail("cannot list the assets", e))?;
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_archive(
    path: &Path,
    manifest: &Manifest,
    snapshot: &Path,
    key: Option<&[u8]>,
    data_dir: &Path,
    assets: &[PathBuf],
) -> Result<()> {
    let file = private_file(path)?;
    let gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let err = |e: io::Error| io_fail("cannot write the backup", e);

    let json = serde_json::to_vec_pretty(manifest).map_err(Error::internal)?;
    append_bytes(&mut tar, MANIFEST_NAME, &json, 0o644).map_err(err)?;
    let mut db = File::open(snapshot).map_err(err)?;
    tar.append_file(DB_NAME, &mut db).map_err(err)?;
    if let Some(key) = key {
        append_bytes(&mut tar, KEY_NAME, key, 0o600).map_err(err)?;
    }
    for rel in assets {
        append_asset(&mut tar, data_dir, rel)?;
    }
    let gz = tar.into_inner().map_err(err)?;
    let buf = gz.finish().map_err(err)?;
    let file = buf.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    Ok(())
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mode: u32,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    h.set_cksum();
    tar.append_data(&mut h, name, data)
}

/// An asset may be replaced while the appliance runs; the size is taken from the open file and
/// exactly that many bytes are archived, so a file that shrinks fails the backup instead of
/// producing a corrupt archive. A file removed meanwhile is skipped.
fn append_asset<W: Write>(tar: &mut tar::Builder<W>, data_dir: &Path, rel: &Path) -> Result<()> {
    let file = match File::open(data_dir.join(rel)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_fail(format!("cannot read {}", rel.display()), e)),
    };
    let meta = file.metadata().map_err(|e| io_fail(rel.display(), e))?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata(&meta);
    h.set_size(meta.len());
    let mut reader = ExactReader {
        inner: file.take(meta.len()),
        left: meta.len(),
    };
    tar.append_data(&mut h, rel, &mut reader).map_err(|e| {
        io_fail(
            format!("{} changed during the backup; run it again", rel.display()),
            e,
        )
    })
}

/// Fails instead of ending early, so the archive never holds fewer bytes than its header says.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being read",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn private_file(path: &Path) -> Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .map_err(|e| io_fail(format!("cannot create {}", path.display()), e))
}

/// Makes a rename durable (best effort: not every filesystem supports it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the previous contents of the data directory were moved, if there were any.
    pub previous: Option<PathBuf>,
}

/// Restores `archive` into `data_dir`. The appliance must be stopped (the lock is taken).
pub async fn restore(archive: &Path, data_dir: &Path, force: bool) -> Result<Restored> {
    let lock = datadir::prepare_and_lock(data_dir).map_err(|e| {
        if e.message.contains("in use") {
            fail(format!(
                "{}; stop the appliance before restoring",
                e.message
            ))
        } else {
            e
        }
    })?;
    let existing = contents(data_dir)?;
    if !existing.is_empty() && !force {
        return Err(Error::conflict(format!(
            "the data directory {} is not empty ({}); pass --force to replace it (its current \
             contents are kept beside it, not deleted)",
            data_dir.display(),
            existing
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let owner = Owner::of(data_dir)?;
    let staging = Staging::create(data_dir)?;
    let manifest = extract(archive, staging.path()).await?;
    let previous = staging.swap_in(data_dir, !existing.is_empty())?;
    owner.apply(data_dir)?;
    drop(lock);
    Ok(Restored { manifest, previous })
}

/// Who owns the data directory and with which mode. A restore run by root for a service user
/// (`sudo vistterstream admin restore …`) must leave files that the service can still open, and
/// a directory swapped in from a temporary one must not keep its 0700 mode by accident.
struct Owner {
    #[cfg(unix)]
    meta: fs::Metadata,
}

impl Owner {
    fn of(dir: &Path) -> Result<Owner> {
        #[cfg(unix)]
        {
            let meta = fs::metadata(dir).map_err(|e| io_fail(dir.display(), e))?;
            Ok(Owner { meta })
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(Owner {})
        }
    }

    fn apply(&self, dir: &Path) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let err =
                |e: io::Error| io_fail(format!("cannot set the owner of {}", dir.display()), e);
            fs::set_permissions(dir, fs::Permissions::from_mode(self.meta.mode() & 0o7777))
                .map_err(err)?;
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            if root && (self.meta.uid(), self.meta.gid()) != (0, 0) {
                let (uid, gid) = (Some(self.meta.uid()), Some(self.meta.gid()));
                let mut stack = vec![dir.to_path_buf()];
                while let Some(d) = stack.pop() {
                    std::os::unix::fs::chown(&d, uid, gid).map_err(err)?;
                    for e in fs::read_dir(&d).map_err(err)? {
                        let e = e.map_err(err)?;
                        let name = e.file_name();
                        if name.to_string_lossy().starts_with(".before-restore-") {
                            continue;
                        }
                        if e.file_type().map_err(err)?.is_dir() {
                            stack.push(e.path());
                        } else {
                            std::os::unix::fs::lchown(e.path(), uid, gid).map_err(err)?;
                        }
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }
}

/// The top-level entries of the data directory other than the lock file.
fn contents(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| io_fail(dir.display(), e))? {
        let e = e.map_err(|e| io_fail(dir.display(), e))?;
        if e.file_name() != LOCK_NAME {
            out.push(PathBuf::from(e.file_name()));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and checks the manifest (the first entry), then extracts the rest into `dest` and
/// verifies the database.
async fn extract(archive: &Path, dest: &Path) -> Result<Manifest> {
    let file = File::open(archive)
        .map_err(|e| io_fail(format!("cannot open {}", archive.display()), e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(io::BufReader::new(file)));
    let not_backup = |detail: String| {
        fail(format!(
            "{} is not a VistterStream backup ({detail})",
            archive.display()
        ))
    };
    let mut entries = tar.entries().map_err(|e| not_backup(e.to_string()))?;
    let manifest: Manifest = {
        let mut first = entries
            .next()
            .ok_or_else(|| not_backup("it is empty".into()))?
            .map_err(|e| not_backup(e.to_string()))?;
        if first
            .path()
            .map_err(|e| not_backup(e.to_string()))?
            .as_ref()
            != Path::new(MANIFEST_NAME)
        {
            return Err(not_backup("no manifest first".into()));
        }
        let mut json = Vec::new();
        first
            .read_to_end(&mut json)
            .map_err(|e| not_backup(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| not_backup(format!("bad manifest: {e}")))?
    };
    check_manifest(&manifest).map_err(|m| fail(format!("{}: {m}", archive.display())))?;

    for entry in entries {
        let mut entry = entry.map_err(|e| not_backup(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| not_backup(e.to_string()))?
            .into_owned();
        if !allowed_entry(&path) {
            return Err(not_backup(format!("unexpected entry {}", path.display())));
        }
        if !entry.header().entry_type().is_file() {
            return Err(not_backup(format!("{} is not a file", path.display())));
        }
        // unpack_in refuses paths that would escape `dest`; allowed_entry already did too.
        entry
            .unpack_in(dest)
            .map_err(|e| io_fail(format!("cannot extract {}", path.display()), e))?;
    }

    let db = dest.join(DB_NAME);
    if !db.is_file() {
        return Err(not_backup("no database".into()));
    }
    if sha256_file(&db)? != manifest.database_sha256 {
        return Err(fail(format!(
            "{}: the database in the backup is damaged (checksum mismatch)",
            archive.display()
        )));
    }
    let actual = check_database(&db).await?;
    check_schema(actual).map_err(|m| fail(format!("{}: {m}", archive.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dest.join(KEY_NAME);
        if key.exists() {
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
                .map_err(|e| io_fail(key.display(), e))?;
        }
    }
    Ok(manifest)
}

fn check_manifest(m: &Manifest) -> std::result::Result<(), String> {
    if m.format != FORMAT {
        return Err(format!(
            "not a VistterStream backup (format '{}')",
            m.format
        ));
    }
    if m.format_version > FORMAT_VERSION {
        return Err(format!(
            "the backup format version {} is newer than this VistterStream ({}) understands \
             (up to {FORMAT_VERSION}); upgrade VistterStream first",
            m.format_version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    check_schema(m.schema_version).map_err(|e| {
        format!(
            "{e} (the backup was made by VistterStream {})",
            m.app_version
        )
    })
}

/// An older schema is fine (the migrations bring it up to date on the next start); a newer one
/// would be opened by code that does not know its tables.
fn check_schema(version: i64) -> std::result::Result<(), String> {
    let known = known_schema_version();
    if version > known {
        return Err(format!(
            "the backup's database schema version {version} is newer than this VistterStream \
             ({}) supports (up to {known}); install a newer VistterStream to restore it",
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(())
}

/// Only what a backup writes; nothing absolute, no `..`.
fn allowed_entry(path: &Path) -> bool {
    let mut parts = path.components();
    let all_normal = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !all_normal {
        return false;
    }
    match parts.next() {
        Some(Component::Normal(first)) => {
            (first == DB_NAME || first == KEY_NAME) && parts.next().is_none()
                || first == ASSETS_DIR && parts.next().is_some()
        }
        _ => false,
    }
}

/// The directory a restore extracts into before swapping it in. Beside the data directory when
/// possible (one atomic rename of the whole directory); inside it when the data directory is a
/// mount point (a Docker volume) or its parent is not writable (systemd's StateDirectory under
/// /var/lib), where the entries are then moved one by one, each with an atomic rename.
struct Staging {
    dir: tempfile::TempDir,
    beside: bool,
}

impl Staging {
    fn create(data_dir: &Path) -> Result<Staging> {
        if let Some(dir) = Self::beside(data_dir) {
            return Ok(Staging { dir, beside: true });
        }
        let dir = tempfile::Builder::new()
            .prefix(".restore-")
            .tempdir_in(data_dir)
            .map_err(|e| io_fail(format!("cannot write in {}", data_dir.display()), e))?;
        Ok(Staging { dir, beside: false })
    }

    fn beside(data_dir: &Path) -> Option<tempfile::TempDir> {
        let abs = fs::canonicalize(data_dir).ok()?;
        let parent = abs.parent()?;
        let name = abs.file_name()?.to_string_lossy().into_owned();
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.restore-"))
            .tempdir_in(parent)
            .ok()?;
        // Different filesystems (a mount point) cannot be swapped by rename.
        if same_device(dir.path(), &abs) {
            Some(dir)
        } else {
            None
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the extracted contents into `data_dir`; returns where the old contents went.
    fn swap_in(self, data_dir: &Path, had_contents: bool) -> Result<Option<PathBuf>> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let err = |e: io::Error| io_fail("restore: cannot move the restored files in place", e);
        if self.beside {
            let staged = self.dir.keep();
            // A lock inside the new directory too, so no appliance can start in the moment
            // between the swap and the end of the restore.
            let _new_lock = datadir::prepare_and_lock(&staged)?;
            let abs = fs::canonicalize(data_dir).map_err(err)?;
            exchange(&staged, &abs).map_err(err)?;
            // `staged` now holds the previous contents.
            let parent = abs.parent().unwrap_or(Path::new("/"));
            sync_dir(parent);
            if had_contents {
                let name = abs.file_name().unwrap_or_default().to_string_lossy();
                let old = parent.join(format!("{name}.before-restore-{stamp}"));
                fs::rename(&staged, &old).map_err(err)?;
                Ok(Some(old))
            } else {
                let _ = fs::remove_dir_all(&staged);
                Ok(None)
            }
        } else {
            let old = data_dir.join(format!(".before-restore-{stamp}"));
            let staged_name = self.dir.path().file_name().map(|n| n.to_owned());
            if had_contents {
                fs::create_dir(&old).map_err(err)?;
                for e in fs::read_dir(data_dir).map_err(err)? {
                    let name = e.map_err(err)?.file_name();
                    let keep = name == LOCK_NAME
                        || Some(&name) == staged_name.as_ref()
                        || name.to_string_lossy().starts_with(".before-restore-");
                    if !keep {
                        fs::rename(data_dir.join(&name), old.join(&name)).map_err(err)?;
                    }
                }
            }
            for e in fs::read_dir(self.dir.path()).map_err(err)? {
                let name = e.map_err(err)?.file_name();
                fs::rename(self.dir.path().join(&name), data_dir.join(&name)).map_err(err)?;
            }
            sync_dir(data_dir);
            Ok(had_contents.then_some(old))
        }
    }
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_device(_a: &Path, _b: &Path) -> bool {
    true
}

/// Swaps two directories in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`); where that
/// is not available, two renames (the data directory is missing for an instant, never mixed).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let ca = CString::new(a.as_os_str().as_bytes())?;
        let cb = CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: two valid NUL-terminated paths; the call does not retain them.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    let tmp = a.with_extension("swap");
    fs::rename(b, &tmp)?;
    fs::rename(a, b)?;
    fs::rename(&tmp, a)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory whose database stays open (WAL present), as beside a running appliance.
    async fn data_dir_with_content() -> (tempfile::TempDir, vs_db::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = vs_db::Db::open(&dir.path().join(DB_NAME)).await.unwrap();
        vs_db::sqlx::query("INSERT INTO settings (key, value) VALUES ('backup-test', 'kept')")
            .execute(db.pool())
            .await
            .unwrap();
        fs::write(dir.path().join(KEY_NAME), [7u8; 32]).unwrap();
        fs::create_dir_all(dir.path().join("assets/logos")).unwrap();
        fs::write(dir.path().join("assets/logos/a.png"), b"png bytes").unwrap();
        (dir, db)
    }

    async fn setting(dir: &Path) -> String {
        let db = vs_db::Db::open(&dir.join(DB_NAME)).await.unwrap();
        let v: String =
            vs_db::sqlx::query_scalar("SELECT value FROM settings WHERE key = 'backup-test'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        db.close().await;
        v
    }

    #[tokio::test]
    async fn round_trip_into_an_empty_directory() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        let m = backup(src.path(), &archive).await.unwrap();
        assert_eq!(m.schema_version, known_schema_version());
        assert_eq!(m.asset_files, 1);
        assert!(m.has_secret_key);
        assert_eq!(read_manifest(&archive).unwrap(), m);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&archive).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the archive holds the key");
        }
        // Nothing but the archive is left beside it.
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);

        let dest = out.path().join("restored");
        let r = restore(&archive, &dest, false).await.unwrap();
        assert!(r.previous.is_none());
        assert_eq!(setting(&dest).await, "kept");
        assert_eq!(fs::read(dest.join(KEY_NAME)).unwrap(), [7u8; 32]);
        assert_eq!(
            fs::read(dest.join("assets/logos/a.png")).unwrap(),
            b"png bytes"
        );
        // No staging directory left beside it.
        let left: Vec<_> = fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[tokio::test]
    async fn refuses_a_non_empty_directory_without_force_and_keeps_the_old_one() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        backup(src.path(), &archive).await.unwrap();
        let dest = out.path().join("data");
        fs::create_dir_all(&dest).unwrap();
        fs::write(dest.join("vistterstream.db"), b"old").unwrap();
        let e = restore(&archive, &dest, false).await.unwrap_err();
        assert!(e.message.contains("--force"), "{}", e.message);
        assert_eq!(fs::read(dest.join(DB_NAME)).unwrap(), b"old");

        let r = restore(&archive, &dest, true).await.unwrap();
        let old = r.previous.expect("old contents kept");
        assert_eq!(fs::read(old.join(DB_NAME)).unwrap(), b"old");
        assert_eq!(setting(&dest).await, "kept");
    }

    #[tokio::test]
    async fn restores_inside_when_it_cannot_stage_beside() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        backup(src.path(), &archive).await.unwrap();
        let dest = out.path().join("data");
        fs::create_dir_all(&dest).unwrap();
        fs::write(dest.join("note.txt"), b"old").unwrap();
        let lock = datadir::prepare_and_lock(&dest).unwrap();
        let staging = tempfile::Builder::new()
            .prefix(".restore-")
            .tempdir_in(&dest)
            .unwrap();
        let staging = Staging {
            dir: staging,
            beside: false,
        };
        extract(&archive, staging.path()).await.unwrap();
        let old = staging.swap_in(&dest, true).unwrap().unwrap();
        drop(lock);
        assert!(old.starts_with(&dest));
        assert_eq!(fs::read(old.join("note.txt")).unwrap(), b"old");
        assert!(!dest.join("note.txt").exists());
        assert_eq!(setting(&dest).await, "kept");
        let names: Vec<String> = fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(".restore-")),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn refuses_while_the_appliance_holds_the_lock() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        backup(src.path(), &archive).await.unwrap();
        let dest = out.path().join("data");
        let _running = datadir::prepare_and_lock(&dest).unwrap();
        let e = restore(&archive, &dest, true).await.unwrap_err();
        assert!(e.message.contains("stop the appliance"), "{}", e.message);
    }

    #[tokio::test]
    async fn refuses_newer_schema_and_foreign_files() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        let mut m = backup(src.path(), &archive).await.unwrap();
        m.schema_version = 9999;
        let newer = out.path().join("newer.tar.gz");
        let f = File::create(&newer).unwrap();
        let mut tar = tar::Builder::new(GzEncoder::new(f, flate2::Compression::fast()));
        append_bytes(
            &mut tar,
            MANIFEST_NAME,
            &serde_json::to_vec(&m).unwrap(),
            0o644,
        )
        .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let dest = out.path().join("data");
        let e = restore(&newer, &dest, false).await.unwrap_err();
        assert!(e.message.contains("9999"), "{}", e.message);
        assert!(e.message.contains("newer"), "{}", e.message);
        assert!(
            !dest.join(DB_NAME).exists(),
            "nothing restored from a refused file"
        );

        let junk = out.path().join("junk.tar.gz");
        fs::write(&junk, b"not an archive").unwrap();
        let e = restore(&junk, &dest, false).await.unwrap_err();
        assert!(
            e.message.contains("not a VistterStream backup"),
            "{}",
            e.message
        );
    }

    #[test]
    fn only_known_entries_are_extracted() {
        assert!(allowed_entry(Path::new("vistterstream.db")));
        assert!(allowed_entry(Path::new("secret.key")));
        assert!(allowed_entry(Path::new("assets/a/b.png")));
        assert!(!allowed_entry(Path::new("assets")));
        assert!(!allowed_entry(Path::new("../etc/passwd")));
        assert!(!allowed_entry(Path::new("/etc/passwd")));
        assert!(!allowed_entry(Path::new("assets/../../x")));
        assert!(!allowed_entry(Path::new("vistterstream.lock")));
    }
}
