//! The program clock: ticks at exactly the program's frame rate and sends one frame per tick
//! (the on-air source's newest, a repeat, or the slate, with the overlays blended) towards the
//! encoder. Behind by more than [`MAX_CLOCK_LAG`], it skips ticks instead of bursting them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::overlay::OverlaySet;
use super::slot::FrameData;
use super::switcher::{Stats, Switcher};
use super::ticker::Ticker;
use crate::supervisor::Deps;

/// Further behind than this, the program clock skips ticks instead of bursting them.
const MAX_CLOCK_LAG: Duration = Duration::from_secs(1);

/// Ticks at exactly `fps` and sends one frame per tick to the writer.
pub(super) async fn program_clock(
    mut switcher: Switcher,
    fps: u32,
    deps: Deps,
    overlays: watch::Receiver<Arc<OverlaySet>>,
    frames: mpsc::Sender<FrameData>,
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
        match frames.try_send(frame) {
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
