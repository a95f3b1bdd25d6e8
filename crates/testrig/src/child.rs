//! A child process in its own process group: stopped with SIGTERM then SIGKILL of the whole
//! group, and killed (group included) when dropped, so a failing test leaves no orphan.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// Last lines written by a child on a pipe, for error messages.
#[derive(Clone, Default)]
pub(crate) struct OutputTail(Arc<Mutex<VecDeque<String>>>);

impl OutputTail {
    const KEEP: usize = 60;

    /// Drains `pipe` in the background, keeping the last lines. Optionally forwards every
    /// line to `tx` (used to wait for a "ready" line).
    pub(crate) fn collect<R>(&self, pipe: R, tx: Option<tokio::sync::mpsc::UnboundedSender<String>>)
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let tail = self.0.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(tx) = &tx {
                    let _ = tx.send(line.clone());
                }
                let mut t = tail.lock().unwrap();
                if t.len() == Self::KEEP {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
    }

    pub(crate) fn text(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub(crate) struct GroupChild {
    child: Child,
    pgid: i32,
    what: String,
    reaped: bool,
}

impl GroupChild {
    /// Spawns `cmd` as the leader of a new process group.
    pub(crate) fn spawn(mut cmd: Command, what: &str) -> Result<Self> {
        cmd.process_group(0).kill_on_drop(true);
        let child = cmd.spawn().with_context(|| format!("spawn {what}"))?;
        let pgid = child.id().context("child has no pid")? as i32;
        Ok(Self {
            child,
            pgid,
            what: what.to_owned(),
            reaped: false,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pgid as u32
    }

    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// `Some(status)` once the leader has exited.
    pub(crate) fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the group, then SIGKILL after `grace`; waits for the leader to be reaped.
    pub(crate) async fn stop(mut self, grace: Duration) -> Result<()> {
        if self.try_exited().is_none() {
            signal_group(self.pgid, Signal::SIGTERM);
            if tokio::time::timeout(grace, self.child.wait())
                .await
                .is_err()
            {
                tracing::warn!("{} ignored SIGTERM for {grace:?}; killing it", self.what);
            }
        }
        // Whatever else is left in the group (the leader's own children) goes too.
        signal_group(self.pgid, Signal::SIGKILL);
        tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .with_context(|| format!("{} survived SIGKILL", self.what))?
            .with_context(|| format!("wait for {}", self.what))?;
        self.reaped = true;
        Ok(())
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // kill_on_drop only kills the leader; take the whole group down. tokio reaps the
        // leader in the background. After stop() the group is gone and its id may be reused.
        if !self.reaped {
            signal_group(self.pgid, Signal::SIGKILL);
        }
    }
}

/// ESRCH (the group is gone) is fine.
fn signal_group(pgid: i32, sig: Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), sig);
}

/// Makes the kernel SIGKILL the child when the thread that spawned it exits (for a tokio
/// runtime: when the runtime's worker threads do, or the test's thread for `current_thread`),
/// so even a test killed with SIGKILL leaves no process behind.
///
/// `unsafe` because the parent-death signal is set in the child, between fork and exec
/// (`pre_exec`), which neither std nor nix offers safely.
#[allow(unsafe_code)]
pub(crate) fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::Pid::from_raw(std::process::id() as i32);
    // SAFETY: the hook runs in the forked child before exec and calls only prctl and getppid,
    // which are async-signal-safe; it touches no lock and allocates only on the error path,
    // after which the child exits without exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("test process already gone"));
            }
            Ok(())
        });
    }
}
