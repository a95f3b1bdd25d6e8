//! Adaptive bitrate: when a destination's uplink cannot carry the program (its publisher says
//! `congested`, with the rate the link really took), the encoder's video bitrate steps down to
//! what fits; once no destination has been congested for a while it steps back up towards the
//! configured bitrate, a quarter at a time.
//!
//! FFmpeg's command-line tool cannot change an encoder's bitrate while it runs, so a step
//! restarts only the encoder with the new bitrate: the publishers keep their RTMP sessions and
//! stitch the new run's timestamps on (see `publish::mux`), so receivers see one continuous
//! stream with a short freeze (about a second on a small machine).

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::handle::{Inner, ProgramHandle};

/// Never below this: a picture at all is better than none.
pub(super) const MIN_VIDEO_KBPS: u32 = 200;
/// Between two steps down (the previous step needs time to show its effect).
const DOWN_EVERY: Duration = Duration::from_secs(8);
/// Without congestion for this long, a step up.
const UP_AFTER: Duration = Duration::from_secs(30);

/// The video bitrate that fits an uplink measured at `measured_bps`: 80 % of it (room for
/// keyframes and TCP), less the audio.
pub fn fitting_video_kbps(measured_bps: u64, audio_kbps: u32) -> u32 {
    let total = (measured_bps * 8 / 10 / 1000) as u32;
    total.saturating_sub(audio_kbps).max(MIN_VIDEO_KBPS)
}

pub(super) async fn adapt_task(inner: std::sync::Weak<Inner>, cancel: CancellationToken) {
    let mut last_change: Option<Instant> = None;
    let mut calm_since = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let configured = inner.config.video_bitrate_kbps;
        let current = inner.video_bitrate_kbps.load(Ordering::Relaxed);
        let fits = inner
            .egress
            .iter()
            .filter_map(|e| e.publisher())
            .filter_map(|s| s.congestion)
            .map(|c| {
                (
                    fitting_video_kbps(c.measured_bps, inner.config.audio_bitrate_kbps),
                    c.reason,
                )
            })
            .min_by_key(|(k, _)| *k);
        let now = Instant::now();
        let since_change = last_change.map_or(Duration::MAX, |t| now.duration_since(t));
        let handle = ProgramHandle {
            inner: inner.clone(),
        };
        match fits {
            Some((target, reason)) => {
                calm_since = now;
                if target < current * 9 / 10 && since_change >= DOWN_EVERY {
                    info!(program = %inner.config.name, from = current, to = target, %reason, "uplink congested: video bitrate stepped down");
                    let note = format!("stepped down from {current} to {target} kb/s: {reason}");
                    if handle.set_video_bitrate(target, Some(note)).await.is_ok() {
                        last_change = Some(now);
                    }
                }
            }
            None => {
                if current < configured
                    && now.duration_since(calm_since) >= UP_AFTER
                    && since_change >= UP_AFTER
                {
                    let target = (current + current / 4).min(configured);
                    info!(program = %inner.config.name, from = current, to = target, "uplink calm: video bitrate stepped up");
                    let note = (target < configured)
                        .then(|| format!("stepping back up: {target} of {configured} kb/s"));
                    if handle.set_video_bitrate(target, note).await.is_ok() {
                        last_change = Some(now);
                        calm_since = now;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_fits_leaves_room_and_the_audio() {
        // 1.5 Mb/s measured: 1.2 Mb/s usable, 128 kb/s of it audio.
        assert_eq!(fitting_video_kbps(1_500_000, 128), 1072);
        assert_eq!(fitting_video_kbps(100_000, 128), MIN_VIDEO_KBPS);
    }
}
