//! The data directory: created on first run with mode 0700 (it holds the database, the secret
//! key and the assets; the database and the key are 0600 themselves), and locked so that two
//! appliance processes never open the same database (an advisory `flock` held for the life of
//! the process).

use std::fs::{File, OpenOptions};
use std::path::Path;

use vs_base::{Error, ErrorKind, Result};

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

pub fn prepare_and_lock(dir: &Path) -> Result<DataDirLock> {
    create_private(dir).map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot create the data directory {}: {e}", dir.display()),
        )
    })?;
    if let Some(was) = tighten(dir) {
        tracing::warn!(
            dir = %dir.display(),
            "the data directory was mode {was:04o}, open to other users; set to 0700"
        );
    }
    let path = dir.join("vistterstream.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    lock_exclusive(&file).map_err(|_| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "the data directory {} is in use by another VistterStream process",
                dir.display()
            ),
        )
    })?;
    Ok(DataDirLock { _file: file })
}

/// Creates the directory (its parents with the default mode) as 0700; an existing one is left
/// to `tighten`.
fn create_private(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        // Another process created it in between: `tighten` sees to its mode.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        r => r,
    }
}

/// Sets the directory to 0700 if group or others have any access; returns the mode it had. A
/// directory that cannot be changed (another owner, e.g. a volume mounted so) is logged and
/// kept: the database and the key inside are 0600 whatever it is.
#[cfg(unix)]
fn tighten(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return None;
    }
    match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
        Ok(()) => Some(mode),
        Err(e) => {
            tracing::warn!(
                dir = %dir.display(),
                error = %e,
                "the data directory is mode {mode:04o}, open to other users, and cannot be set to 0700"
            );
            None
        }
    }
}

#[cfg(not(unix))]
fn tighten(_dir: &Path) -> Option<u32> {
    None
}

/// How long a start waits for a lock another process still holds: a restarted appliance's old
/// process may be on its way out, and a child process between `fork` and `exec` holds a copy of
/// every descriptor (the lock's too) for a moment, which keeps an `flock` alive.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `flock(LOCK_EX | LOCK_NB)` on Unix (std's file locks), retried for up to [`LOCK_WAIT`];
/// released when the file is closed.
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    fn mode(p: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_is_private_and_its_parents_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("var/lib/vs");
        let _lock = super::prepare_and_lock(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // Only the data directory itself: /var/lib must stay reachable by everyone else.
        assert_eq!(mode(&tmp.path().join("var")) & 0o005, 0o005);
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_open_data_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(super::tighten(&dir), Some(0o755));
        assert_eq!(mode(&dir), 0o700);
        // Already private: nothing to do, nothing to log.
        assert_eq!(super::tighten(&dir), None);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        let _lock = super::prepare_and_lock(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn second_lock_fails_until_first_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::prepare_and_lock(dir.path()).unwrap();
        let e = super::prepare_and_lock(dir.path()).unwrap_err();
        assert!(e.message.contains("in use"));
        drop(a);
        let b = super::prepare_and_lock(dir.path()).unwrap();
        // A lock let go of within the wait is taken (a restart whose old process is on its way
        // out).
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(b);
        });
        super::prepare_and_lock(dir.path()).unwrap();
        t.join().unwrap();
    }
}
