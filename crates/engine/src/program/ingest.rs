//! The ingest of one source: a supervised FFmpeg decoding the camera into raw frames of the
//! program's size and rate, read into the source's newest-frame slot. Started by a take or a
//! pre-roll, restarted when the camera's URL changes, stopped by a release or the program's
//! stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::debug;
use vs_base::Result;

use super::config::{ProgramConfig, SourceSpec};
use super::handle::ProgramHandle;
use super::slot::{self, FrameSlot};
use super::switcher::Source;
use crate::backoff::BackoffPolicy;
use crate::ffmpeg::program::ingest_args;
use crate::spawner::{ProcessSpec, StdinMode, StdoutMode};
use crate::supervisor::{supervise, Deps, MediaIo, SupervisorConfig, SupervisorHandle};

pub(super) struct Ingest {
    pub spec: SourceSpec,
    pub handle: SupervisorHandle,
    pub slot: Arc<FrameSlot>,
    supervisor: JoinHandle<()>,
    reader: JoinHandle<()>,
}

impl ProgramHandle {
    pub(super) async fn ensure_ingest(&self, spec: SourceSpec) -> Result<Source> {
        let inner = &self.inner;
        let existing = {
            let ingests = inner.ingests.lock().expect("ingests lock");
            ingests.get(&spec.id).map(|i| {
                (
                    i.handle.clone(),
                    i.slot.clone(),
                    i.spec.url != spec.url || i.spec.rtsp != spec.rtsp,
                )
            })
        };
        if let Some((handle, slot, changed)) = existing {
            if changed {
                handle
                    .update_spec(ingest_spec(&inner.config, &spec))
                    .await?;
                let mut ingests = inner.ingests.lock().expect("ingests lock");
                if let Some(i) = ingests.get_mut(&spec.id) {
                    i.spec = spec.clone();
                }
            }
            return Ok(Source { id: spec.id, slot });
        }
        let slot = Arc::new(FrameSlot::new());
        let sup = supervise(
            ingest_spec(&inner.config, &spec),
            ingest_supervision(),
            inner.deps.clone(),
            inner.sup_shutdown.clone(),
        );
        let reader = tokio::spawn(ingest_reader(
            sup.media,
            slot.clone(),
            inner.config.frame_len(),
            inner.deps.clone(),
            inner.cancel.clone(),
        ));
        sup.handle.start().await?;
        debug!(program = %inner.config.name, source = spec.id, "ingest started");
        let source = Source {
            id: spec.id,
            slot: slot.clone(),
        };
        inner.ingests.lock().expect("ingests lock").insert(
            spec.id,
            Ingest {
                spec,
                handle: sup.handle,
                slot,
                supervisor: sup.task,
                reader,
            },
        );
        Ok(source)
    }
}

/// The ingest process of one source; its log lines say which program and camera they are
/// about.
fn ingest_spec(config: &ProgramConfig, src: &SourceSpec) -> ProcessSpec {
    ProcessSpec {
        name: format!("program {} ingest {}", config.name, src.name),
        program: config.ffmpeg.clone(),
        args: ingest_args(config, src),
        stdin: StdinMode::Null,
        stdout: StdoutMode::Media,
        secrets: src.secrets.clone(),
        ..Default::default()
    }
    .span(tracing::info_span!(
        "ffmpeg",
        role = "ingest",
        program = %config.name,
        program_id = config.id,
        camera_id = src.id,
    ))
}

/// Stops an ingest and waits until its process is reaped and its reader is gone.
pub(super) async fn stop_ingest(ingest: Ingest) {
    let _ = ingest.handle.stop().await;
    drop(ingest.handle);
    // With the last handle gone the actor ends; its task owns nothing else.
    let _ = ingest.supervisor.await;
    ingest.reader.abort();
    let _ = ingest.reader.await;
}

pub(super) fn ingest_supervision() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(15),
        stall_timeout: Duration::from_secs(6),
        stop_timeout: Duration::from_secs(3),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(500),
            // A camera that comes back must be back on air within seconds.
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(20),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

/// Reads each run of one ingest into its slot.
async fn ingest_reader(
    mut media: mpsc::Receiver<MediaIo>,
    slot: Arc<FrameSlot>,
    frame_len: usize,
    deps: Deps,
    cancel: CancellationToken,
) {
    loop {
        let io = tokio::select! {
            _ = cancel.cancelled() => return,
            io = media.recv() => match io { Some(io) => io, None => return },
        };
        let Some(stdout) = io.stdout else { continue };
        let clock = deps.clock.clone();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = slot::read_frames(stdout, frame_len, &slot, move || clock.now()) => {}
        }
    }
}
