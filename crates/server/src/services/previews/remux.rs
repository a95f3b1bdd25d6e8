//! One shared remux of a preview: its state (the current init segment, the fragments since
//! the last keyframe), how packets reach the viewers, and the task that remuxes a program's
//! MPEG-TS into fragmented MP4.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use vs_engine::hub::tsframes::TsFmp4;
use vs_engine::hub::PreviewChunk;
use vs_engine::program::tsgop::TsGop;
use vs_engine::{ProgramHandle, TapChunk};

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
    /// Subscriptions a camera's preview has had (one per stretch of the camera playing), or
    /// encoder runs a program's has remuxed.
    pub(super) runs: u32,
}

pub(super) struct Remux {
    pub(super) tx: broadcast::Sender<Packet>,
    pub(super) current: Mutex<Current>,
    pub(super) viewers: watch::Sender<usize>,
    /// Cancelled when the source goes away for good (program stopped, camera deleted): the
    /// viewers are told why and their sockets close.
    pub(super) ended: CancellationToken,
    pub(super) ended_reason: Mutex<String>,
}

/// Publishes a program's output as fragmented MP4, picture and sound, for as long as it is
/// asked to: the program's encoded MPEG-TS (tapped after the encoder, so exactly what the
/// destinations get, overlays included) demuxed and remuxed in process, no FFmpeg and no
/// second encode. Each encoder run (its timestamps start over) begins with PAT, PMT and a
/// keyframe and gets its own init segment; between runs the viewers are told `offline`. A
/// remux that falls behind the tap loses TS chunks, for itself only (the tap never waits), and
/// resumes at the next keyframe within the same run.
pub(super) async fn produce_program(program: ProgramHandle, remux: Arc<Remux>) {
    let (start, mut rx) = program.tap_ts();
    let mut joiner = TsGop::new();
    let mut mp4 = TsFmp4::new();
    let mut started = false;
    let begin_run = |remux: &Remux, mp4: &mut TsFmp4, chunks: Vec<Bytes>| {
        remux.current.lock().expect("preview lock").runs += 1;
        *mp4 = TsFmp4::new();
        for c in chunks {
            emit(remux, mp4.push(&c));
        }
    };
    if !start.is_empty() {
        started = true;
        begin_run(&remux, &mut mp4, start);
    }
    loop {
        match rx.recv().await {
            Ok(TapChunk::Data(b)) if started => emit(&remux, mp4.push(&b)),
            Ok(TapChunk::Data(b)) => {
                joiner.push(&b);
                if joiner.joinable() {
                    started = true;
                    let chunks = joiner.start();
                    if mp4.has_run() {
                        // Resuming after a lag: same run, same init segment.
                        mp4.resync();
                        for c in chunks {
                            emit(&remux, mp4.push(&c));
                        }
                    } else {
                        begin_run(&remux, &mut mp4, chunks);
                    }
                }
            }
            Ok(TapChunk::NewRun) => {
                started = false;
                joiner.reset();
                mp4 = TsFmp4::new();
                go_offline(&remux);
            }
            Err(broadcast::error::RecvError::Closed) => {
                go_offline(&remux);
                return;
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                metrics::counter!("vistterstream_preview_program_lagged_chunks_total").increment(n);
                started = false;
                joiner.reset();
            }
        }
    }
}

fn emit(remux: &Remux, chunks: Vec<PreviewChunk>) {
    for chunk in chunks {
        match chunk {
            PreviewChunk::Init { mime, data } => publish(remux, Packet::Init { mime, data }),
            PreviewChunk::Media { data, keyframe } => {
                publish(remux, Packet::Fragment { data, keyframe })
            }
        }
    }
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
