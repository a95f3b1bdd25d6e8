//! The data directory: created on first run, and locked so that two appliance processes never
//! open the same database (an advisory `flock` held for the life of the process).

use std::fs::{File, OpenOptions};
use std::path::Path;

use vs_base::{Error, ErrorKind, Result};

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

pub fn prepare_and_lock(dir: &Path) -> Result<DataDirLock> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot create the data directory {}: {e}", dir.display()),
        )
    })?;
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

#[cfg(unix)]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a valid, owned descriptor; the lock is released when it is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn second_lock_fails_until_first_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::prepare_and_lock(dir.path()).unwrap();
        let e = super::prepare_and_lock(dir.path()).unwrap_err();
        assert!(e.message.contains("in use"));
        drop(a);
        super::prepare_and_lock(dir.path()).unwrap();
    }
}
