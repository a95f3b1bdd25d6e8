//! A decoder process spawned ahead of need. Starting FFmpeg (loading its libraries, setting
//! up the decoder) is most of what a take of a camera that is not pre-rolled waits for — about
//! a quarter of a second on a busy two-core machine, against a few tens of milliseconds to
//! decode the cached GOP once the process is up. So the program keeps one decoder FFmpeg
//! idle, blocked on its empty stdin, and the next decoder to start gets it; a new spare is
//! spawned a moment later (not at once: it would compete for the CPU with the catch-up it is
//! meant to speed up).
//!
//! It is a [`Spawner`]: decoders are started by their supervisors as usual, and only a spawn
//! whose command is exactly the spare's is served from it. The spare holds no camera address
//! or credentials (decoders read packets on stdin), so one spare serves any camera.

use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::spawner::{ProcessSpec, SpawnedChild, Spawner};

/// Delay before a used spare is replaced.
const REFILL_AFTER: Duration = Duration::from_secs(1);

pub(super) struct WarmSpawner {
    inner: Arc<dyn Spawner>,
    template: ProcessSpec,
    spare: Mutex<Option<SpawnedChild>>,
    /// Set once the program stops: no spare after that.
    cancel: CancellationToken,
    this: Weak<WarmSpawner>,
}

impl WarmSpawner {
    /// Spawns the first spare of `template` at once.
    pub fn start(
        inner: Arc<dyn Spawner>,
        template: ProcessSpec,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let warm = Arc::new_cyclic(|this| WarmSpawner {
            inner,
            template,
            spare: Mutex::new(None),
            cancel,
            this: this.clone(),
        });
        warm.refill();
        warm
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SpawnedChild>> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refill(&self) {
        if self.cancel.is_cancelled() {
            return;
        }
        let mut spare = self.lock();
        if spare.is_some() {
            return;
        }
        match self.inner.spawn(&self.template) {
            Ok(child) => {
                debug!(pid = child.pid, "spare decoder spawned");
                *spare = Some(child);
            }
            Err(e) => debug!(error = %e, "no spare decoder"),
        }
    }

    fn refill_later(&self) {
        let Some(this) = self.this.upgrade() else {
            return;
        };
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(REFILL_AFTER) => this.refill(),
            }
        });
    }

    fn serves(&self, spec: &ProcessSpec) -> bool {
        let t = &self.template;
        spec.program == t.program
            && spec.args == t.args
            && spec.env == t.env
            && spec.progress == t.progress
            && spec.stdin == t.stdin
            && spec.stdout == t.stdout
    }

    /// Kills and reaps the spare; no new one is made after this.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let spare = self.lock().take();
        if let Some(mut child) = spare {
            let _ = child.control.kill();
            let _ = child.control.wait().await;
        }
    }
}

impl Spawner for WarmSpawner {
    fn spawn(&self, spec: &ProcessSpec) -> io::Result<SpawnedChild> {
        if self.serves(spec) {
            let spare = self.lock().take();
            if let Some(mut child) = spare {
                // Its stderr reader ends when it exits: a spare that died (killed from
                // outside) is not handed out.
                if !child.stderr.is_closed() {
                    debug!(pid = child.pid, "spare decoder used");
                    self.refill_later();
                    return Ok(child);
                }
                let _ = child.control.kill();
                tokio::spawn(async move {
                    let _ = child.control.wait().await;
                });
            }
            self.refill_later();
        }
        self.inner.spawn(spec)
    }
}
