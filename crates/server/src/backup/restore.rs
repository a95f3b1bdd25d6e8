//! Restoring a backup: the manifest checked before anything is extracted, the entries
//! extracted into a staging directory and verified, then swapped in for the data directory
//! (whose previous contents are kept beside).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use vs_base::{Error, Result};

use super::{
    check_database, fail, io_fail, known_schema_version, sha256_file, sync_dir, Manifest,
    ASSETS_DIR, DB_NAME, FORMAT, FORMAT_VERSION, KEY_NAME, LOCK_NAME, MANIFEST_NAME,
};

use crate::datadir;

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
            let root = nix::unistd::geteuid().is_root();
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
    // Both hold secrets (the key; sealed columns and password hashes): private from the moment
    // they land, whatever mode the archive recorded, not only from the appliance's next start.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in [KEY_NAME, DB_NAME] {
            let file = dest.join(name);
            if file.exists() {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o600))
                    .map_err(|e| io_fail(file.display(), e))?;
            }
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
    // nix wraps renameat2 for glibc only; elsewhere the two renames below.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::errno::Errno;
        use nix::fcntl::{renameat2, RenameFlags};
        match renameat2(None, a, None, b, RenameFlags::RENAME_EXCHANGE) {
            Ok(()) => return Ok(()),
            // The file system (or the kernel) cannot exchange: fall back.
            Err(Errno::EINVAL | Errno::ENOSYS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let tmp = a.with_extension("swap");
    fs::rename(b, &tmp)?;
    fs::rename(a, b)?;
    fs::rename(&tmp, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    use crate::backup::create::append_bytes;
    use crate::backup::{backup, read_manifest};

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

    /// A hand-made archive of `entries`, each with mode 0644 (what an older backup recorded).
    fn write_archive(path: &Path, entries: &[(&str, &[u8])]) {
        let f = File::create(path).unwrap();
        let mut tar = tar::Builder::new(GzEncoder::new(f, flate2::Compression::fast()));
        for (name, bytes) in entries {
            append_bytes(&mut tar, name, bytes, 0o644).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[tokio::test]
    async fn refuses_newer_schema_and_foreign_files() {
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        let mut m = backup(src.path(), &archive).await.unwrap();
        m.schema_version = 9999;
        let newer = out.path().join("newer.tar.gz");
        write_archive(&newer, &[(MANIFEST_NAME, &serde_json::to_vec(&m).unwrap())]);
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

    /// A backup made before the database was private records it 0644; restored, it is 0600
    /// at once (not only after the appliance's next start tightens it).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_database_archived_world_readable_is_restored_private() {
        use std::os::unix::fs::PermissionsExt;
        let (src, _db) = data_dir_with_content().await;
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("b.tar.gz");
        let m = backup(src.path(), &archive).await.unwrap();
        let mut db = Vec::new();
        let mut made = tar::Archive::new(GzDecoder::new(File::open(&archive).unwrap()));
        for entry in made.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().as_ref() == Path::new(DB_NAME) {
                entry.read_to_end(&mut db).unwrap();
            }
        }
        let old = out.path().join("old.tar.gz");
        write_archive(
            &old,
            &[
                (MANIFEST_NAME, &serde_json::to_vec(&m).unwrap()),
                (DB_NAME, &db),
                (KEY_NAME, &[7u8; 32]),
            ],
        );

        let dest = out.path().join("data");
        restore(&old, &dest, false).await.unwrap();
        for name in [DB_NAME, KEY_NAME] {
            let mode = fs::metadata(dest.join(name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        assert_eq!(setting(&dest).await, "kept");
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
