//! What a program reports: the snapshot type, and the task that publishes it twice a second
//! and right after every take.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::Inner;
use crate::supervisor::Status;

/// One destination in the status.
#[derive(Debug, Clone, Serialize)]
pub struct OutputStatus {
    pub id: i64,
    pub name: String,
    pub status: Status,
    /// TS bytes this destination lost because its egress was behind.
    pub dropped_bytes: u64,
}

/// One running ingest in the status.
#[derive(Debug, Clone, Serialize)]
pub struct IngestStatus {
    pub id: i64,
    pub name: String,
    pub status: Status,
    pub frames: u64,
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
    let (on_air, pending_take, take_latency, switch_gap, held) = {
        let sel = inner.selection.lock().expect("selection lock");
        (
            sel.on_air.as_ref().map(|s| s.id),
            sel.pending.as_ref().map(|p| p.source.id),
            sel.take_latency,
            sel.switch_gap_frames,
            sel.hold_until.is_some(),
        )
    };
    let ingests = inner
        .ingests
        .lock()
        .expect("ingests lock")
        .iter()
        .map(|(id, i)| IngestStatus {
            id: *id,
            name: i.spec.name.clone(),
            status: i.handle.status(),
            frames: i.slot.count(),
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
            .map(|e| OutputStatus {
                id: e.id,
                name: e.name.clone(),
                status: e.handle.status(),
                dropped_bytes: e.stats.dropped_bytes.load(Ordering::Relaxed),
            })
            .collect(),
        ingests,
        started_at: inner.started_at,
        take_latency_ms: take_latency.map(|d| d.as_millis() as u64),
        switch_gap_frames: switch_gap,
    }
}
