//! One shared remux of a preview: its state (the current init segment, the fragments since
//! the last keyframe), how packets reach the viewers, the task that splits each run of a
//! program's FFmpeg remux into packets, and the task that feeds that remux the program's
//! MPEG-TS.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use vs_engine::fmp4::{Segment, SegmentReader};
use vs_engine::program::tsgop::TsGop;
use vs_engine::{ProgramHandle, SupervisorHandle, TapChunk};

use super::viewer::Packet;

/// Bound of the keyframe cache: a camera with a very long GOP must not grow it without end.
const GOP_CACHE_MAX_BYTES: usize = 8 << 20;

/// State shared by the reader task and the viewers; locked briefly, never across an await.
#[derive(Default)]
pub(super) struct Current {
    pub(super) init: Option<(String, Bytes)>,
    /// Fragments since the last keyframe, for a viewer that joins now.
    pub(super) gop: Vec<Bytes>,
    pub(super) gop_bytes: usize,
    pub(super) online: Option<bool>,
    pub(super) fragments: u64,
    /// Subscriptions a camera's preview has had (one per stretch of the camera playing).
    pub(super) runs: u32,
}

pub(super) struct Remux {
    pub(super) tx: broadcast::Sender<Packet>,
    pub(super) current: Mutex<Current>,
    pub(super) viewers: watch::Sender<usize>,
    /// The FFmpeg remux of a program's preview; `None` for a camera's, which is muxed
    /// in-process from the camera's session.
    pub(super) handle: Option<SupervisorHandle>,
    /// The program whose output feeds the remux's stdin (program previews only).
    pub(super) feed: Option<ProgramHandle>,
    /// Cancelled when the source goes away for good (program stopped, camera deleted): the
    /// viewers are told why and their sockets close.
    pub(super) ended: CancellationToken,
    pub(super) ended_reason: Mutex<String>,
}

/// The program's output as one remux sees it across its runs: where to start, then the live
/// chunks.
pub(super) struct ProgramTap {
    pub(super) start: Vec<Bytes>,
    pub(super) rx: broadcast::Receiver<TapChunk>,
}

/// Writes the program's MPEG-TS into one run of its preview remux, always beginning with PAT,
/// PMT and a keyframe so the remux has the stream's parameters at once (no seconds of
/// probing, no "dimensions not set"). When the encoder restarts (its timestamps start over)
/// the run is ended by closing its input; the supervisor starts the next one, which begins a
/// new init segment. A remux that cannot keep up loses TS chunks, for itself only (the tap
/// never waits), and resumes at the next keyframe.
pub(super) async fn feed_run(
    tap: Arc<tokio::sync::Mutex<ProgramTap>>,
    mut stdin: vs_engine::BoxWrite,
) {
    let mut tap = tap.lock().await;
    let mut joiner = TsGop::new();
    let mut pending = std::mem::take(&mut tap.start);
    let mut started = !pending.is_empty();
    loop {
        for c in pending.drain(..) {
            if stdin.write_all(&c).await.is_err() {
                return;
            }
        }
        match tap.rx.recv().await {
            Ok(TapChunk::Data(b)) if started => pending.push(b),
            Ok(TapChunk::Data(b)) => {
                joiner.push(&b);
                if joiner.joinable() {
                    started = true;
                    pending = joiner.start();
                }
            }
            Ok(TapChunk::NewRun) | Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                metrics::counter!("vistterstream_preview_program_lagged_chunks_total").increment(n);
                started = false;
                joiner.reset();
            }
        }
    }
}

/// Cuts one run's stdout into segments and publishes the init segment and fragments. When the
/// pipe ends (the camera was lost, FFmpeg died) the viewers are told the camera is offline.
pub(super) async fn read_run(remux: Arc<Remux>, stdout: vs_engine::BoxRead) {
    let mut reader = SegmentReader::new(stdout);
    loop {
        match reader.next().await {
            Ok(Some(Segment::Init { mime, data })) => publish(&remux, Packet::Init { mime, data }),
            Ok(Some(Segment::Fragment { data, keyframe })) => {
                publish(&remux, Packet::Fragment { data, keyframe })
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "preview: waiting for the remux to restart");
                break;
            }
        }
    }
    go_offline(&remux);
}

/// Tells the viewers the source is lost, once; a joining viewer learns it from the state.
pub(super) fn go_offline(remux: &Remux) {
    let mut cur = remux.current.lock().expect("preview lock");
    cur.init = None;
    cur.gop.clear();
    cur.gop_bytes = 0;
    if cur.online != Some(false) {
        cur.online = Some(false);
        let _ = remux.tx.send(Packet::Online(false));
    }
}

/// Sends a packet to every viewer and keeps what a joining viewer needs (the init segment, the
/// fragments since the last keyframe).
pub(super) fn publish(remux: &Remux, packet: Packet) {
    let mut cur = remux.current.lock().expect("preview lock");
    match &packet {
        Packet::Init { mime, data } => {
            cur.init = Some((mime.clone(), data.clone()));
            cur.gop.clear();
            cur.gop_bytes = 0;
            if cur.online != Some(true) {
                cur.online = Some(true);
                let _ = remux.tx.send(Packet::Online(true));
            }
        }
        Packet::Fragment { data, keyframe } => {
            cur.fragments += 1;
            if *keyframe || cur.gop_bytes + data.len() > GOP_CACHE_MAX_BYTES {
                cur.gop.clear();
                cur.gop_bytes = 0;
            }
            // A cache that does not start at a keyframe is useless to a new viewer.
            if *keyframe || !cur.gop.is_empty() {
                cur.gop_bytes += data.len();
                cur.gop.push(data.clone());
            }
        }
        Packet::Online(_) => {}
    }
    // Sending under the lock keeps the order seen by joining viewers consistent with the
    // snapshot they take; `send` never waits.
    let _ = remux.tx.send(packet);
}
