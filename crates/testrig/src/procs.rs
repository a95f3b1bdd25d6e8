//! Process listing from `/proc`, so tests can assert that no FFmpeg outlives its owner.
//!
//! Tests of one binary run in parallel threads of one process, so "ffmpeg children of this
//! process" also sees the other tests' processes. Give each test a unique marker that ends
//! up on the command line (a stream key, a camera path, a temp dir) and use
//! [`processes_with_marker`] / [`wait_no_processes_with_marker`].

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// A process as `/proc` shows it.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// `R`, `S`, `Z` (zombie: exited, not reaped), ...
    pub state: char,
    /// Executable name (at most 15 bytes), still there for zombies.
    pub comm: String,
    /// Arguments; empty for zombies and kernel threads.
    pub cmdline: Vec<String>,
}

impl ProcInfo {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }

    /// The command line joined with spaces (or `[comm]` when there is none).
    pub fn command(&self) -> String {
        if self.cmdline.is_empty() {
            format!("[{}]", self.comm)
        } else {
            self.cmdline.join(" ")
        }
    }
}

fn read_proc(pid: u32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; it ends at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let mut rest = stat[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(ProcInfo {
        pid,
        ppid,
        state,
        comm,
        cmdline,
    })
}

/// Every process visible in `/proc` except this one.
pub fn all_processes() -> Vec<ProcInfo> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| pid != me)
                .filter_map(read_proc)
                .collect()
        })
        .unwrap_or_default()
}

/// Processes whose command line contains `marker`.
pub fn processes_with_marker(marker: &str) -> Vec<ProcInfo> {
    all_processes()
        .into_iter()
        .filter(|p| p.cmdline.join(" ").contains(marker))
        .collect()
}

/// Every process below `pid` (children, grandchildren, ...), zombies included.
pub fn descendants_of(pid: u32) -> Vec<ProcInfo> {
    let all = all_processes();
    let mut found: Vec<ProcInfo> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            parents.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// FFmpeg processes (zombies included) descending from this test process.
pub fn ffmpeg_processes() -> Vec<ProcInfo> {
    descendants_of(std::process::id())
        .into_iter()
        .filter(|p| p.comm == "ffmpeg")
        .collect()
}

/// Waits until no process has `marker` on its command line; fails listing the survivors.
pub async fn wait_no_processes_with_marker(marker: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = processes_with_marker(marker);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let list: Vec<String> = left
                .iter()
                .map(|p| format!("{} {}", p.pid, p.command()))
                .collect();
            bail!(
                "processes with {marker:?} still running after {timeout:?}:\n{}",
                list.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
