//! The program encoder: one long-lived FFmpeg fed raw frames on stdin and their audio (PCM)
//! on a second pipe at exactly the program's rate, whose MPEG-TS goes to the fan-out. Restarted by its supervisor when it
//! fails; the frame writer then moves to the new run's stdin and the RTMP sessions (held by
//! the egress processes) carry on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::config::ProgramConfig;
use super::fanout::{self, FanOut};
use super::switcher::{OutFrame, Stats};
use crate::backoff::BackoffPolicy;
use crate::ffmpeg::program::encoder_args;
use crate::spawner::{BoxWrite, ProcessSpec, StdinMode, StdoutMode};
use crate::supervisor::{MediaIo, SupervisorConfig};

/// Frames waiting for the encoder's stdin: a few frames absorb scheduling jitter; more would
/// only add latency.
pub(super) const ENCODER_QUEUE_FRAMES: usize = 3;

/// How often the frame writer looks whether the encoder has read the frame its pipe references.
const FRAME_RELEASE_POLL: Duration = Duration::from_millis(3);

/// The encoder process; its log lines say which program they are about.
pub(super) fn encoder_spec(config: &ProgramConfig) -> ProcessSpec {
    ProcessSpec {
        name: format!("program {} encoder", config.name),
        program: config.ffmpeg.clone(),
        args: encoder_args(config),
        stdin: StdinMode::Media,
        stdout: StdoutMode::Media,
        extra_input: config.sound,
        ..Default::default()
    }
    .span(tracing::info_span!(
        "ffmpeg",
        role = "encoder",
        program = %config.name,
        program_id = config.id,
    ))
}

pub(super) fn encoder_supervision() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(15),
        stall_timeout: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(4),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

/// One tick for the encoder: its frame and its audio (s16le stereo), written together so that
/// a dropped tick drops both and the two inputs stay in step.
pub(super) struct TickData {
    pub frame: OutFrame,
    pub pcm: bytes::Bytes,
}

/// One encoder run's inputs: stdin (video) and the audio pipe.
pub(super) struct RunInputs {
    video: BoxWrite,
    audio: Option<BoxWrite>,
}

/// Hands each encoder run's stdin to the frame writer and pumps its stdout into the fan-out.
pub(super) async fn encoder_io(
    mut media: mpsc::Receiver<MediaIo>,
    stdin_tx: mpsc::Sender<RunInputs>,
    fanout: Arc<FanOut>,
    cancel: CancellationToken,
) {
    let mut pump: Option<JoinHandle<()>> = None;
    loop {
        let io = tokio::select! {
            _ = cancel.cancelled() => break,
            io = media.recv() => match io { Some(io) => io, None => break },
        };
        if let Some(video) = io.stdin {
            let inputs = RunInputs {
                video,
                audio: io.extra_input,
            };
            if stdin_tx.send(inputs).await.is_err() {
                break;
            }
        }
        if let Some(stdout) = io.stdout {
            // The previous run's pipe has ended (or will, its process is gone); a stale
            // reader must not interleave old packets with the new run's.
            if let Some(p) = pump.take() {
                p.abort();
            }
            fanout.new_run();
            let fanout = fanout.clone();
            pump = Some(tokio::spawn(async move {
                fanout::pump_ts(stdout, &fanout).await;
            }));
        }
    }
    if let Some(p) = pump {
        p.abort();
    }
}

/// Writes program frames and their audio into the current encoder run; ticks are dropped (and
/// counted) while there is none.
pub(super) async fn frame_writer(
    mut frames: mpsc::Receiver<TickData>,
    mut stdins: mpsc::Receiver<RunInputs>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut stdin: Option<RunInputs> = None;
    loop {
        // A frame the encoder's pipe still references goes back to the pool once the encoder
        // has read it, not only at the next write: one raw frame (3 MB at 1080p) less in use.
        let holding = stdin
            .as_mut()
            .and_then(|w| w.video.frame_pipe())
            .is_some_and(|p| p.held() > 0);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            s = stdins.recv() => match s {
                Some(s) => stdin = Some(s),
                None => return,
            },
            _ = tokio::time::sleep(FRAME_RELEASE_POLL), if holding => {
                if let Some(p) = stdin.as_mut().and_then(|w| w.video.frame_pipe()) {
                    let _ = p.release();
                }
            },
            f = frames.recv() => {
                let Some(frame) = f else { return };
                let Some(w) = stdin.as_mut() else {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                // FFmpeg reads its two inputs on their own threads, so a blocked video write
                // never waits for the audio one.
                let written = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = async {
                        // Whole frames by reference into a real encoder's pipe.
                        match w.video.frame_pipe() {
                            Some(pipe) => pipe.write_pieces(frame.frame.pieces()).await?,
                            None => {
                                for piece in frame.frame.pieces() {
                                    w.video.write_all(piece).await?;
                                }
                            }
                        }
                        if let Some(a) = w.audio.as_mut() {
                            a.write_all(&frame.pcm).await?;
                        }
                        Ok::<(), std::io::Error>(())
                    } => r,
                };
                match written {
                    Ok(()) => {
                        stats.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        debug!(error = %e, "encoder stdin closed; waiting for its next run");
                        stdin = None;
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}
