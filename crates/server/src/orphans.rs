//! Orphan FFmpeg cleanup after a hard kill. Every child leads its own process group (so that a
//! Ctrl-C on the terminal does not reach it), which also means that a `kill -9` of the appliance
//! leaves its children running, still pushing to YouTube or holding the camera's connections.
//! The next start on the same data directory finds and stops them.
//!
//! How they are recognised: `vistterstream serve` puts `VS_INSTANCE=<hash of the data
//! directory>` into its own environment before any thread or child exists, so every process it
//! spawns (FFmpeg, ffprobe, demo cameras) inherits the marker without the engine knowing about
//! it. At start-up, once the data-directory lock is held (so no other live appliance uses this
//! directory), any process carrying this directory's marker is a leftover and is stopped:
//! SIGTERM (FFmpeg closes its outputs cleanly), then SIGKILL after a short grace period.
//! Why not PIDs in a file: a PID file is written after the spawn, so a kill in between loses
//! the child, and a recycled PID could name an unrelated process. Why not matching command
//! lines: they hold camera URLs, which two appliances on one host may share.
//! Under systemd or Docker the cgroup/container already takes the children down with the
//! appliance; this covers a binary started by hand, by `make run`, or by a supervisor without
//! cgroups.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sha2::{Digest, Sha256};

/// The environment variable that marks the appliance's processes.
pub const MARKER_VAR: &str = "VS_INSTANCE";

/// How long orphans get to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// The marker value for a data directory: short, stable, and it does not reveal the path.
pub fn marker(data_dir: &Path) -> String {
    marker_of(&resolved(data_dir))
}

fn marker_of(path: &Path) -> String {
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

/// The canonical path when the directory exists, else the absolute one (first start).
fn resolved(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// Marks this process (and so every child it will spawn) as the appliance of `data_dir`.
///
/// Must be called while the process has one thread: changing the environment races with
/// concurrent `getenv` calls in C code. `cli::run` calls it before the async runtime starts.
pub fn mark_process(data_dir: &Path) {
    std::env::set_var(MARKER_VAR, marker(data_dir));
}

/// Stops every process that carries `data_dir`'s marker, except this one. Returns the PIDs
/// found. Call it with the data-directory lock held.
pub fn reap(data_dir: &Path) -> Vec<u32> {
    // The directory may have been created since `mark_process` ran (first start): accept the
    // marker of both spellings of the path.
    let mut wanted = vec![marker(data_dir)];
    if let Ok(abs) = std::path::absolute(data_dir) {
        let m = marker_of(&abs);
        if !wanted.contains(&m) {
            wanted.push(m);
        }
    }
    let found = scan(&wanted);
    if found.is_empty() {
        return found;
    }
    tracing::warn!(
        pids = ?found,
        "stopping processes left over by a previous run that did not stop cleanly"
    );
    for &pid in &found {
        signal(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && found.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &pid in &found {
        if alive(pid) {
            signal(pid, Signal::SIGKILL);
        }
    }
    found
}

/// The PIDs of processes whose environment holds `VS_INSTANCE=<one of markers>`.
pub fn scan(markers: &[String]) -> Vec<u32> {
    let mut out = Vec::new();
    #[cfg(target_os = "linux")]
    {
        let me = std::process::id();
        let wanted: Vec<Vec<u8>> = markers
            .iter()
            .map(|m| format!("{MARKER_VAR}={m}").into_bytes())
            .collect();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            // Processes of other users are unreadable: they are not ours anyway.
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if env
                .split(|&b| b == 0)
                .any(|var| wanted.iter().any(|w| var == w.as_slice()))
                && alive(pid)
            {
                out.push(pid);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = markers;
    out
}

/// A vanished PID only returns ESRCH, which is what was wanted.
fn signal(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Whether the process exists and is not a zombie (a zombie has exited; its parent reaps it).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
            None => true,
        },
        Err(_) => false,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn marker_is_stable_and_per_directory() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_eq!(marker(a.path()), marker(a.path()));
        assert_ne!(marker(a.path()), marker(b.path()));
        assert_eq!(marker(a.path()).len(), 16);
        // A relative spelling of the same directory gives the same marker.
        let rel = a.path().join("x/..");
        std::fs::create_dir(a.path().join("x")).unwrap();
        assert_eq!(marker(&rel), marker(a.path()));
    }

    #[test]
    fn reaps_only_processes_with_this_directory_marker() {
        let mine = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let spawn = |dir: &Path| {
            std::process::Command::new("sleep")
                .arg("30")
                .env(MARKER_VAR, marker(dir))
                .spawn()
                .unwrap()
        };
        let mut orphan = spawn(mine.path());
        let mut unrelated = spawn(other.path());
        let pid = orphan.id();
        // The children exist once spawn returns, but their environ is readable only after exec.
        let start = Instant::now();
        while !scan(&[marker(mine.path())]).contains(&pid) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "marker never seen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = reap(mine.path());
        assert_eq!(found, vec![pid]);
        let status = orphan.wait().unwrap();
        assert!(!status.success());
        assert!(
            alive(unrelated.id()),
            "another directory's process is left alone"
        );
        unrelated.kill().unwrap();
        unrelated.wait().unwrap();
    }
}
