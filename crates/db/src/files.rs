//! File modes of the database: it holds sealed secrets and password and token hashes, so the
//! file and SQLite's companions beside it are readable and writable by their owner only (0600).

use std::path::{Path, PathBuf};

use vs_base::Result;

/// The files SQLite creates beside the database; it gives each the database file's mode.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The database file's companions, for `path`.
fn companions(path: &Path) -> Vec<PathBuf> {
    COMPANIONS
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        })
        .collect()
}

/// Creates the database file with mode 0600 if it does not exist, and tightens it and its
/// companions if they exist with a wider mode (a database from before this rule, or files
/// left by a crash).
///
/// Creating the file here rather than letting SQLite do it is what makes every later file
/// private too: SQLite creates a new database 0644, but its -wal, -shm and -journal with the
/// database file's own mode (and `fchmod`s them to it, whatever the umask). An empty file is a
/// valid, empty SQLite database.
pub(crate) fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        use vs_base::{Error, ErrorKind};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot create the database {}: {e}", path.display()),
                )
                .with_source(e))
            }
        }
        for p in std::iter::once(path.to_path_buf()).chain(companions(path)) {
            tighten(&p);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Sets a file readable by its owner only if it is readable by anyone else. A file that cannot
/// be changed (another owner) is logged, not fatal: SQLite's own error follows if it cannot be
/// opened either.
#[cfg(unix)]
fn tighten(path: &Path) {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    let mode = match fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => return,
    };
    if mode & 0o077 == 0 {
        return;
    }
    match fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
        Ok(()) => tracing::warn!(
            file = %path.display(),
            "the database file was mode {mode:04o}, readable by other users; set to 0600"
        ),
        Err(e) => tracing::warn!(
            file = %path.display(),
            error = %e,
            "the database file is mode {mode:04o}, readable by other users, and cannot be set to 0600"
        ),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use crate::Db;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    async fn write_something(db: &Db) {
        db.set_setting("probe", &1).await.unwrap();
    }

    #[tokio::test]
    async fn a_new_database_and_its_wal_and_shm_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vistterstream.db");
        let db = Db::open(&path).await.unwrap();
        write_something(&db).await;
        let [wal, shm, _] =
            super::COMPANIONS.map(|s| dir.path().join(format!("vistterstream.db{s}")));
        assert!(
            wal.exists() && shm.exists(),
            "WAL mode: both exist while open"
        );
        for p in [&path, &wal, &shm] {
            assert_eq!(mode(p), 0o600, "{}", p.display());
        }
        assert_eq!(super::companions(&path)[..2], [wal, shm]);
    }

    #[tokio::test]
    async fn an_open_database_and_files_left_by_a_crash_are_tightened() {
        // A crash (`kill -9`) leaves the -wal and -shm beside the database, with the last
        // writes still in the WAL: copies taken while a database is open are exactly that.
        let live = tempfile::tempdir().unwrap();
        let db = Db::open(&live.path().join("vistterstream.db"))
            .await
            .unwrap();
        write_something(&db).await;
        let crashed = tempfile::tempdir().unwrap();
        let path = crashed.path().join("vistterstream.db");
        let files: Vec<_> = std::iter::once(path.clone())
            .chain(super::companions(&path).into_iter().take(2))
            .collect();
        for (f, m) in files.iter().zip([0o644, 0o664, 0o604]) {
            std::fs::copy(live.path().join(f.file_name().unwrap()), f).unwrap();
            // As an appliance from before this rule left them.
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(m)).unwrap();
        }
        db.close().await;

        let db = Db::open(&path).await.unwrap();
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        let v: Option<i64> = db.setting("probe").await.unwrap();
        assert_eq!(v, Some(1), "the write that was only in the WAL is there");
        db.close().await;
    }
}
