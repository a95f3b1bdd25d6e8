//! One camera's decoded audio between its feed and the program clock: a jitter buffer that
//! the clock drains at exactly 48 kHz whatever the camera does. Camera timestamps only place
//! packets relative to each other (a gap becomes silence, a jump a resync); when the sound
//! plays is the program clock's business, so the program's audio timestamps never follow a
//! camera's clock. The buffer's level is kept near its target by dropping or repeating one
//! frame in [`DRIFT_EVERY`] (a camera clock a little fast or slow), and an empty buffer plays
//! silence until it has refilled (a camera whose audio stopped).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::SAMPLE_RATE;
use crate::hub::TIMEBASE;

/// Frames buffered before a (re)start plays: 80 ms absorbs a camera's packet jitter.
pub const TARGET_FRAMES: usize = 3840;
/// Level (frames left after a pull, smoothed) above which the buffer plays a little faster.
pub const HIGH_FRAMES: usize = 4800;
/// Level below which it plays a little slower.
pub const LOW_FRAMES: usize = 960;
/// More than this (400 ms) is a burst or a stall, not drift: the oldest frames go.
pub const MAX_FRAMES: usize = 19_200;
/// A timestamp further than this (500 ms) from where the previous packet ended is a
/// discontinuity: the buffer starts over.
pub const MAX_GAP_FRAMES: i64 = 24_000;
/// Timestamp differences below this (5 ms) are rounding, not gaps.
pub const GAP_TOLERANCE_FRAMES: i64 = 240;
/// Drift correction: one frame dropped or repeated in this many.
pub const DRIFT_EVERY: usize = 500;

/// What a buffer says about itself, for the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Frames buffered now.
    pub level: usize,
    /// Pulls that found the buffer empty while it was playing.
    pub underruns: u64,
    /// Times the buffer started over (discontinuity or overflow).
    pub resyncs: u64,
    /// Frames of silence inserted for gaps in the camera's timestamps.
    pub gap_frames: u64,
    /// Some camera audio has been received.
    pub has_audio: bool,
}

#[derive(Debug, Default)]
struct State {
    /// Interleaved stereo.
    fifo: VecDeque<f32>,
    playing: bool,
    /// Where the previous packet ended, in 48 kHz frames of the session's timeline.
    next_pts: Option<i64>,
    /// Smoothed level after pulls, in frames.
    level: f64,
    /// Frames read since the last drift correction.
    since_fix: usize,
    stats: BufferStats,
}

/// One source's audio buffer; shared by its feed (writer) and the mixer (reader).
#[derive(Debug, Default)]
pub struct SourceAudio {
    state: Mutex<State>,
}

fn to_frames(pts: i64) -> i64 {
    (pts as i128 * SAMPLE_RATE as i128 / TIMEBASE as i128) as i64
}

impl SourceAudio {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a decoded packet (48 kHz interleaved stereo) whose first frame is at `pts`
    /// ([`TIMEBASE`] ticks on the session's timeline).
    pub fn push(&self, pts: i64, frames: &[f32]) {
        let mut st = self.lock();
        st.stats.has_audio = true;
        let start = to_frames(pts);
        let mut skip = 0usize;
        if let Some(expected) = st.next_pts {
            let d = start - expected;
            if d.abs() > MAX_GAP_FRAMES {
                st.fifo.clear();
                st.playing = false;
                st.stats.resyncs += 1;
            } else if d > GAP_TOLERANCE_FRAMES {
                st.fifo.extend(std::iter::repeat_n(0.0, 2 * d as usize));
                st.stats.gap_frames += d as u64;
            } else if d < -GAP_TOLERANCE_FRAMES {
                // Overlaps what was already queued (a packet sent twice).
                skip = (-d) as usize;
            }
        }
        let n = frames.len() / 2;
        if skip < n {
            st.fifo.extend(&frames[2 * skip..2 * n]);
        }
        let end = start + n as i64;
        st.next_pts = Some(match st.next_pts {
            Some(expected) if skip > 0 => expected.max(end),
            _ => end,
        });
        if st.fifo.len() / 2 > MAX_FRAMES {
            let drop = st.fifo.len() - 2 * TARGET_FRAMES;
            st.fifo.drain(..drop);
            st.stats.resyncs += 1;
        }
    }

    /// Forgets everything queued (a new subscription: what follows is another stretch).
    pub fn reset(&self) {
        let mut st = self.lock();
        st.fifo.clear();
        st.playing = false;
        st.next_pts = None;
    }

    /// The next `n` frames into `out` (interleaved stereo, `2 * n` values): the camera's, or
    /// silence where it has none.
    pub fn pull(&self, n: usize, out: &mut Vec<f32>) {
        out.clear();
        let mut st = self.lock();
        let have = st.fifo.len() / 2;
        if !st.playing {
            if have >= TARGET_FRAMES {
                st.playing = true;
                st.level = (have - n.min(have)) as f64;
                st.since_fix = 0;
            } else {
                out.resize(2 * n, 0.0);
                return;
            }
        }
        // Drift: a level that stays high (camera clock fast) loses one frame in
        // DRIFT_EVERY; one that stays low gets one repeated.
        let mut take = n;
        let mut repeat = false;
        if st.since_fix >= DRIFT_EVERY {
            if st.level > HIGH_FRAMES as f64 && have > n + 1 {
                take = n + 1;
                st.since_fix = 0;
            } else if st.level < LOW_FRAMES as f64 && have >= n && n > 0 {
                take = n - 1;
                repeat = true;
                st.since_fix = 0;
            }
        }
        let avail = have.min(take);
        let mut taken: Vec<f32> = st.fifo.drain(..2 * avail).collect();
        if take == n + 1 && avail == take {
            // Drop the middle frame: inaudible, unlike a cut at a block edge.
            let mid = 2 * (avail / 2);
            taken.drain(mid..mid + 2);
        }
        if repeat && avail >= 1 {
            let mid = 2 * (avail / 2);
            let frame = [taken[mid], taken[mid + 1]];
            taken.splice(mid..mid, frame);
        }
        out.extend_from_slice(&taken);
        st.since_fix += n;
        if out.len() < 2 * n {
            // The camera's audio stopped (or is late): silence, and a refill before playing.
            out.resize(2 * n, 0.0);
            st.playing = false;
            st.stats.underruns += 1;
        }
        let level = (st.fifo.len() / 2) as f64;
        st.level += (level - st.level) * 0.05;
    }

    pub fn stats(&self) -> BufferStats {
        let st = self.lock();
        BufferStats {
            level: st.fifo.len() / 2,
            ..st.stats.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` frames of the value `v` on both channels.
    fn frames(n: usize, v: f32) -> Vec<f32> {
        vec![v; 2 * n]
    }

    /// 90 kHz ticks of `frames` 48 kHz frames.
    fn ticks(frames: i64) -> i64 {
        frames * TIMEBASE / SAMPLE_RATE as i64
    }

    #[test]
    fn silent_until_primed_then_plays_in_order() {
        let b = SourceAudio::new();
        let mut out = Vec::new();
        b.push(0, &frames(1024, 0.1));
        b.pull(1600, &mut out);
        assert!(out.iter().all(|&v| v == 0.0), "not primed: silence");
        b.push(ticks(1024), &frames(1024, 0.2));
        b.push(ticks(2048), &frames(1024, 0.3));
        b.push(ticks(3072), &frames(1024, 0.4));
        assert_eq!(b.stats().level, 4096);
        b.pull(1600, &mut out);
        assert_eq!(out.len(), 3200);
        assert_eq!(out[0], 0.1);
        assert_eq!(out[2 * 1023], 0.1);
        assert_eq!(out[2 * 1024], 0.2);
        assert_eq!(b.stats().level, 4096 - 1600);
    }

    #[test]
    fn a_gap_in_timestamps_becomes_silence_of_its_length() {
        let b = SourceAudio::new();
        b.push(0, &frames(2000, 0.5));
        // 1000 frames lost (20.8 ms), then more.
        b.push(ticks(3000), &frames(2000, 0.5));
        assert_eq!(b.stats().gap_frames, 1000);
        let mut out = Vec::new();
        b.pull(5000, &mut out);
        assert_eq!(out[2 * 1999], 0.5);
        assert_eq!(out[2 * 2000], 0.0);
        assert_eq!(out[2 * 2999], 0.0);
        assert_eq!(out[2 * 3000], 0.5);
    }

    #[test]
    fn a_jump_starts_over_and_an_empty_buffer_plays_silence() {
        let b = SourceAudio::new();
        b.push(0, &frames(4000, 0.5));
        let mut out = Vec::new();
        b.pull(1600, &mut out);
        // A jump of ten seconds: the rest is dropped, the new stretch primes again.
        b.push(ticks(480_000), &frames(1000, 0.7));
        assert_eq!(b.stats().resyncs, 1);
        b.pull(1600, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        // The camera's audio stops: once drained, silence, counted once per empty pull.
        let b = SourceAudio::new();
        b.push(0, &frames(4000, 0.5));
        b.pull(1600, &mut out);
        b.pull(1600, &mut out);
        b.pull(1600, &mut out);
        assert_eq!(out[2 * 799], 0.5);
        assert_eq!(out[2 * 800], 0.0);
        assert_eq!(b.stats().underruns, 1);
        b.pull(1600, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        assert_eq!(b.stats().underruns, 1, "not playing: no new underrun");
    }

    #[test]
    fn a_fast_camera_clock_is_absorbed_without_a_resync() {
        // 625 ppm fast (a cheap camera is within 100): 1601 frames per 1600 pulled. Without
        // the correction the level would grow by 3000 frames; it must stay near the target.
        let b = SourceAudio::new();
        let mut out = Vec::new();
        let mut pts = 0;
        for _ in 0..3 {
            b.push(ticks(pts), &frames(1601, 0.1));
            pts += 1601;
        }
        for _ in 0..3000 {
            b.push(ticks(pts), &frames(1601, 0.1));
            pts += 1601;
            b.pull(1600, &mut out);
            assert_eq!(out.len(), 3200);
        }
        let level = b.stats().level;
        assert!(level <= HIGH_FRAMES + 1601, "{level}");
        assert_eq!(b.stats().resyncs, 0, "drift handled without a resync");
        assert_eq!(b.stats().underruns, 0);
    }
}
