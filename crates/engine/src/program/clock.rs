//! The program clock: ticks at exactly the program's frame rate and sends one frame per tick
//! (the on-air source's newest, a repeat, or the slate, with the overlays blended) and the
//! audio block that goes with it (the same source's sound, mixed) towards the encoder. Behind by more than [`MAX_CLOCK_LAG`], it skips ticks instead of bursting them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::audio::AudioEngine;
use super::encoder::TickData;
use super::overlay::OverlaySet;
use super::switcher::{Stats, Switcher};
use super::ticker::Ticker;
use crate::supervisor::Deps;

/// Further behind than this, the program clock skips ticks instead of bursting them.
const MAX_CLOCK_LAG: Duration = Duration::from_secs(1);

/// Ticks at exactly `fps` and sends one frame, with its block of audio, per tick to the writer.
#[allow(clippy::too_many_arguments)]
pub(super) async fn program_clock(
    mut switcher: Switcher,
    mut audio: Option<AudioEngine>,
    fps: u32,
    deps: Deps,
    overlays: watch::Receiver<Arc<OverlaySet>>,
    frames: mpsc::Sender<TickData>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let clock = deps.clock;
    let mut ticker = Ticker::new(clock.now(), fps);
    loop {
        let deadline = ticker.next_deadline();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = clock.sleep_until(deadline) => {}
        }
        let now = clock.now();
        let set = overlays.borrow().clone();
        let frame = switcher.tick(now, &set);
        let pcm = match audio.as_mut() {
            Some(audio) => audio.tick(switcher.sound_source()),
            None => bytes::Bytes::new(),
        };
        match frames.try_send(TickData { frame, pcm }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
        let skipped = ticker.advance(clock.now(), MAX_CLOCK_LAG);
        if skipped > 0 {
            warn!(skipped, "program clock fell behind; ticks skipped");
            stats.dropped.fetch_add(skipped, Ordering::Relaxed);
        }
    }
}
