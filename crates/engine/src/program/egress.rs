//! Egress: one supervised FFmpeg per destination, copying the encoder's MPEG-TS (no
//! re-encode) into the container the destination's URL calls for. Each has its own queue from
//! the fan-out, so a slow or dead destination only loses its own data.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{OutputSpec, ProgramConfig};
use super::fanout::QueueStats;
use crate::backoff::BackoffPolicy;
use crate::ffmpeg::program::egress_args;
use crate::spawner::{BoxWrite, ProcessSpec, StdinMode};
use crate::supervisor::{MediaIo, SupervisorConfig, SupervisorHandle};

pub(super) const EGRESS_QUEUE_CHUNKS: usize = 512;

pub(super) struct Egress {
    pub id: i64,
    pub name: String,
    pub handle: SupervisorHandle,
    pub stats: Arc<QueueStats>,
}

/// The egress process of one destination; its log lines say which program and destination
/// they are about.
pub(super) fn egress_spec(config: &ProgramConfig, out: &OutputSpec) -> ProcessSpec {
    ProcessSpec {
        name: format!("program {} egress {}", config.name, out.name),
        program: config.ffmpeg.clone(),
        args: egress_args(&out.url),
        stdin: StdinMode::Media,
        secrets: out.secrets.clone(),
        ..Default::default()
    }
    .span(tracing::info_span!(
        "ffmpeg",
        role = "egress",
        program = %config.name,
        program_id = config.id,
        destination_id = out.id,
    ))
}

pub(super) fn egress_supervision() -> SupervisorConfig {
    SupervisorConfig {
        // The TS probe takes a few seconds of stream before the first progress block.
        startup_timeout: Duration::from_secs(20),
        stall_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(4),
        backoff: BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

/// Feeds one destination's egress process from its queue; data that arrives while the
/// process is down (backoff) is discarded, so a returning destination starts with fresh data.
pub(super) async fn egress_writer(
    mut chunks: mpsc::Receiver<Bytes>,
    mut media: mpsc::Receiver<MediaIo>,
    cancel: CancellationToken,
) {
    let mut stdin: Option<BoxWrite> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            io = media.recv() => match io {
                Some(io) => stdin = io.stdin,
                None => return,
            },
            c = chunks.recv() => {
                let Some(chunk) = c else { return };
                if let Some(w) = stdin.as_mut() {
                    let r = tokio::select! {
                        _ = cancel.cancelled() => return,
                        r = w.write_all(&chunk) => r,
                    };
                    if r.is_err() {
                        stdin = None;
                    }
                }
            }
        }
    }
}
