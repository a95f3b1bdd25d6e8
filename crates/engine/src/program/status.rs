//! What a program reports: the snapshot type, and the task that publishes it twice a second
//! and right after every take.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::Inner;
use crate::hub::SessionState;
use crate::supervisor::{State, Status};

/// One destination in the status.
#[derive(Debug, Clone, Serialize)]
pub struct OutputStatus {
    pub id: i64,
    pub name: String,
    /// The FFmpeg of an SRT destination; for RTMP(S), the in-process publisher's session
    /// shown the same way (`running` while publishing, `restarts` = reconnects).
    pub status: Status,
    /// TS bytes this destination lost because its egress was behind, plus media its
    /// publisher dropped to stay live (slow uplink, or while the destination was down).
    pub dropped_bytes: u64,
    /// RTMP(S): the uplink as measured where the bytes leave (send rate, queue, drops,
    /// `congested` with its reason).
    pub publisher: Option<crate::publish::PublisherStats>,
}

/// One decoded source (on air, being taken or pre-rolled) in the status.
#[derive(Debug, Clone, Serialize)]
pub struct IngestStatus {
    pub id: i64,
    pub name: String,
    /// The decoder process (an FFmpeg reading the camera's session on its stdin).
    pub status: Status,
    /// Live frames decoded so far (pictures that could go on air).
    pub frames: u64,
    /// The state of the camera's hub session; `None` while the camera has none (disabled).
    pub session: Option<SessionState>,
    /// The decoder has caught up with live since it (re)started.
    pub caught_up: bool,
    /// From the decoder's start to its first live frame, for its current run.
    pub catch_up_ms: Option<u64>,
}

/// The last take that reached air.
#[derive(Debug, Clone, Serialize)]
pub struct TakeStatus {
    pub source: i64,
    /// The program tick (0 at the program's start, one per frame) whose frame was the
    /// source's first on air.
    pub tick: u64,
    /// From the `take` call to that tick.
    pub latency_ms: f64,
    /// How long before that tick the camera's session had received the packet of that frame:
    /// the picture a take puts on air is live, not the cached keyframe.
    pub frame_age_ms: f64,
    /// The source was decoded already (pre-rolled) when it was taken.
    pub pre_rolled: bool,
}

/// A snapshot of a program, published about twice a second and at every take.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramStatus {
    pub name: String,
    /// The source whose pictures are being sent (or would be: see `slate_active`).
    pub on_air: Option<i64>,
    /// A source taken but not on air yet (connecting).
    pub pending_take: Option<i64>,
    pub slate_active: bool,
    /// The picture is frozen by [`ProgramHandle::hold`].
    pub held: bool,
    pub ticks: u64,
    pub duplicated_frames: u64,
    pub slate_frames: u64,
    pub dropped_frames: u64,
    /// Frames written to the encoder per second, over the last second or so.
    pub fps_measured: f64,
    /// The H.264 encoder in use.
    pub encoder_name: String,
    /// The encoder process, with its speed and bitrate in `progress`.
    pub encoder: Status,
    pub outputs: Vec<OutputStatus>,
    pub ingests: Vec<IngestStatus>,
    pub started_at: SystemTime,
    /// From the last `take` call to the first frame of that source on air.
    pub take_latency_ms: Option<u64>,
    /// Ticks without a new frame right before the first frame of the last take.
    pub switch_gap_frames: Option<u64>,
    pub last_take: Option<TakeStatus>,
    /// The encoder's video bitrate now: the configured one, unless stepped down for a
    /// congested uplink (`bitrate_note` says why).
    pub video_bitrate_kbps: u32,
    pub bitrate_note: Option<String>,
    /// The sound: what is heard, the levels and loudness, each decoded camera's audio.
    pub audio: super::AudioStatus,
    /// The pre-roll choice and what it costs here, measured: a decoder's CPU and the
    /// take-to-air of each kind of take.
    pub preroll: super::PrerollStatus,
}

/// Publishes the status twice a second and right after takes and releases.
pub(super) async fn status_task(inner: std::sync::Weak<Inner>, cancel: CancellationToken) {
    let mut window: Option<(Instant, u64)> = None;
    let mut fps = 0.0;
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let now = inner.deps.clock.now();
        let written = inner.stats.written.load(Ordering::Relaxed);
        match window {
            Some((t, w)) if now.saturating_duration_since(t) >= Duration::from_millis(900) => {
                let dt = now.saturating_duration_since(t).as_secs_f64();
                fps = (written - w) as f64 / dt;
                window = Some((now, written));
            }
            None => window = Some((now, written)),
            _ => {}
        }
        let status = build_status(&inner, fps);
        inner.status_tx.send_replace(status);
        let kick = inner.status_kick.clone();
        let clock = inner.deps.clock.clone();
        drop(inner);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = kick.notified() => {}
            _ = clock.sleep(Duration::from_millis(500)) => {}
        }
    }
}

pub(super) fn build_status(inner: &Inner, fps_measured: f64) -> ProgramStatus {
    let (on_air, pending_take, take_latency, switch_gap, held, last_take, by_kind) = {
        let sel = inner.selection.lock().expect("selection lock");
        (
            sel.on_air.as_ref().map(|s| s.id),
            sel.pending.as_ref().map(|p| p.source.id),
            sel.take_latency,
            sel.switch_gap_frames,
            sel.hold_until.is_some(),
            sel.last_take,
            (sel.last_pre_rolled_latency, sel.last_cached_latency),
        )
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let ingests = inner
        .ingests
        .lock()
        .expect("ingests lock")
        .iter()
        .map(|(id, i)| {
            let current = i.current.lock().expect("ingest lock");
            let decoder = current.decoder.as_ref().map(|d| d.borrow().clone());
            let status = match &current.process {
                Some(p) => p.status(),
                None => {
                    let mut s = Status::new(format!("program decoder {}", i.spec.name));
                    s.state = State::Idle;
                    s.last_error = Some(format!("camera {id} has no session (disabled?)"));
                    s
                }
            };
            IngestStatus {
                id: *id,
                name: i.spec.name.clone(),
                status,
                frames: i.slot.count(),
                session: current.session.as_ref().map(|s| s.state()),
                caught_up: decoder.as_ref().is_some_and(|d| d.caught_up),
                catch_up_ms: decoder
                    .and_then(|d| d.catch_up)
                    .map(|d| d.as_millis() as u64),
            }
        })
        .collect();
    let s = &inner.stats;
    ProgramStatus {
        name: inner.config.name.clone(),
        on_air,
        pending_take,
        slate_active: s.slate_active.load(Ordering::Relaxed),
        held,
        ticks: s.ticks.load(Ordering::Relaxed),
        duplicated_frames: s.duplicated.load(Ordering::Relaxed),
        slate_frames: s.slate_frames.load(Ordering::Relaxed),
        dropped_frames: s.dropped.load(Ordering::Relaxed),
        fps_measured,
        encoder_name: inner.config.encoder.clone(),
        encoder: inner.encoder.status(),
        outputs: inner
            .egress
            .iter()
            .map(|e| {
                let publisher = e.publisher();
                OutputStatus {
                    id: e.id,
                    name: e.name.clone(),
                    status: e.status(),
                    dropped_bytes: e.stats.dropped_bytes.load(Ordering::Relaxed)
                        + publisher.as_ref().map_or(0, |p| p.dropped_bytes),
                    publisher,
                }
            })
            .collect(),
        ingests,
        started_at: inner.started_at,
        take_latency_ms: take_latency.map(|d| d.as_millis() as u64),
        switch_gap_frames: switch_gap,
        last_take: last_take.map(|t| TakeStatus {
            source: t.source,
            tick: t.tick,
            latency_ms: t.latency.as_secs_f64() * 1000.0,
            frame_age_ms: t.frame_age.as_secs_f64() * 1000.0,
            pre_rolled: t.pre_rolled,
        }),
        video_bitrate_kbps: inner.video_bitrate_kbps.load(Ordering::Relaxed),
        bitrate_note: inner.bitrate_note.lock().expect("note lock").clone(),
        audio: inner.audio.status(&inner.audio_tx.borrow()),
        preroll: super::PrerollStatus {
            mode: inner.preroll.mode(),
            decoder_cpu_pct: inner.preroll.cpu(),
            last_pre_rolled_take_ms: by_kind.0.map(ms),
            last_cached_take_ms: by_kind.1.map(ms),
        },
    }
}
