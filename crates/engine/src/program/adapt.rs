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
        if fits.is_some() {
            calm_since = now;
        }
        let step = next_step(Situation {
            current,
            configured,
            fits,
            since_change: last_change.map_or(Duration::MAX, |t| now.duration_since(t)),
            calm_for: now.duration_since(calm_since),
        });
        let Some(Step { to, note }) = step else {
            continue;
        };
        if to < current {
            info!(program = %inner.config.name, from = current, to, "uplink congested: video bitrate stepped down");
        } else {
            info!(program = %inner.config.name, from = current, to, "uplink calm: video bitrate stepped up");
        }
        let handle = ProgramHandle {
            inner: inner.clone(),
        };
        if handle.set_video_bitrate(to, note).await.is_ok() {
            last_change = Some(now);
            calm_since = now;
        }
    }
}

/// What the adaptive loop sees each second.
struct Situation {
    /// The encoder's video bitrate now, and the program's own.
    current: u32,
    configured: u32,
    /// The lowest bitrate that fits a congested destination, with its reason; `None` when no
    /// destination is congested.
    fits: Option<(u32, String)>,
    /// Since the last step, and since the last congestion (or step).
    since_change: Duration,
    calm_for: Duration,
}

#[derive(Debug, PartialEq)]
struct Step {
    to: u32,
    note: Option<String>,
}

/// The one decision of the loop, kept pure so that every rule is tested: down to what fits
/// (only when that is at least 10 % lower, and not sooner than `DOWN_EVERY` after a step); up a
/// quarter at a time, capped at the configured bitrate, once nothing has been congested for
/// `UP_AFTER` and no step was made for as long.
fn next_step(s: Situation) -> Option<Step> {
    match s.fits {
        Some((target, reason)) => (target < s.current * 9 / 10 && s.since_change >= DOWN_EVERY)
            .then(|| Step {
                to: target,
                note: Some(format!(
                    "stepped down from {} to {target} kb/s: {reason}",
                    s.current
                )),
            }),
        None => (s.current < s.configured && s.calm_for >= UP_AFTER && s.since_change >= UP_AFTER)
            .then(|| {
                let to = (s.current + s.current / 4).min(s.configured);
                Step {
                    to,
                    note: (to < s.configured)
                        .then(|| format!("stepping back up: {to} of {} kb/s", s.configured)),
                }
            }),
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

    fn at(current: u32, fits: Option<u32>, since_change: u64, calm_for: u64) -> Option<Step> {
        next_step(Situation {
            current,
            configured: 2400,
            fits: fits.map(|k| (k, "only 1.3 Mb/s get through".to_string())),
            since_change: Duration::from_secs(since_change),
            calm_for: Duration::from_secs(calm_for),
        })
    }

    #[test]
    fn a_congested_uplink_steps_down_to_what_fits_but_not_twice_within_eight_seconds() {
        let step = at(2400, Some(938), 1000, 0).expect("a step down");
        assert_eq!(step.to, 938);
        assert_eq!(
            step.note.as_deref(),
            Some("stepped down from 2400 to 938 kb/s: only 1.3 Mb/s get through")
        );
        assert_eq!(
            at(938, Some(700), 7, 0),
            None,
            "too soon after the last step"
        );
        assert_eq!(at(938, Some(700), 8, 0).map(|s| s.to), Some(700));
        // Less than 10 % lower is not worth an encoder restart.
        assert_eq!(at(938, Some(900), 100, 0), None);
    }

    #[test]
    fn a_calm_uplink_steps_back_up_a_quarter_at_a_time_to_the_configured_bitrate() {
        assert_eq!(at(938, None, 29, 60), None, "30 s after the last step");
        assert_eq!(at(938, None, 60, 29), None, "30 s without congestion");
        let step = at(938, None, 30, 30).expect("a step up");
        assert_eq!(step.to, 1172);
        assert_eq!(
            step.note.as_deref(),
            Some("stepping back up: 1172 of 2400 kb/s")
        );
        // The whole way back: 938 → 1172 → 1465 → 1831 → 2288 → 2400, then nothing.
        let mut current = 938;
        let mut path = vec![current];
        while let Some(step) = at(current, None, 30, 30) {
            current = step.to;
            path.push(current);
        }
        assert_eq!(path, [938, 1172, 1465, 1831, 2288, 2400]);
        assert_eq!(
            at(2400, None, 30, 30),
            None,
            "never above the configured bitrate"
        );
        assert_eq!(
            at(2288, None, 30, 30).and_then(|s| s.note),
            None,
            "back to normal: no note"
        );
    }
}
