//! The session's output clock: maps each source's timestamps onto one monotonic, continuous
//! 90 kHz timeline that survives camera clock jumps, timestamp wraps and reconnects.
//!
//! The rule, per session:
//! - `out = src + offset`, one offset shared by video and audio so they stay in sync.
//! - The first packet of a connection (an *epoch*) sets the offset so that it lands after the
//!   last packet handed out by the time that really passed (its arrival time minus the last
//!   packet's), at least one millisecond: an outage shows as a gap of its real length, never as
//!   a step back.
//! - Within a connection, a packet whose source time went backwards, or moved forward more than
//!   [`Timeline::jump_bound`] beyond the time that passed between the two arrivals, is a clock
//!   jump (a camera resetting its clock, a 32/33-bit wrap the source did not unwrap): the offset
//!   is re-based so that it lands after the stream's previous packet by the time that passed
//!   (clamped to the bound). Source time moving slower than arrival (a burst after a network
//!   hiccup) is not a jump: the source clock is trusted.
//! - Finally each stream's decode times are forced strictly increasing (+1 tick), which is
//!   what muxers require; the composition offset (`pts - dts`) is kept.

use tokio::time::Instant;

use super::packet::{StreamKind, TIMEBASE};

/// Default bound of a clock jump: one second.
pub const DEFAULT_JUMP_BOUND: i64 = TIMEBASE;

#[derive(Debug, Clone, Copy)]
struct Track {
    last_src: i64,
    last_out: i64,
    last_arrival: Instant,
}

#[derive(Debug)]
pub struct Timeline {
    jump_bound: i64,
    offset: Option<i64>,
    tracks: [Option<Track>; 2],
    /// The latest decode time handed out on any stream, and when that packet arrived.
    last: Option<(i64, Instant)>,
    rebases: u64,
}

/// Where a packet lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub pts: i64,
    pub dts: i64,
    /// A clock jump was absorbed at this packet.
    pub rebased: bool,
}

fn ticks(d: std::time::Duration) -> i64 {
    (d.as_micros() as i64).saturating_mul(TIMEBASE) / 1_000_000
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(DEFAULT_JUMP_BOUND)
    }
}

impl Timeline {
    pub fn new(jump_bound: i64) -> Self {
        Timeline {
            jump_bound: jump_bound.max(1),
            offset: None,
            tracks: [None, None],
            last: None,
            rebases: 0,
        }
    }

    pub fn jump_bound(&self) -> i64 {
        self.jump_bound
    }

    /// Clock jumps absorbed so far.
    pub fn rebases(&self) -> u64 {
        self.rebases
    }

    /// A new connection starts: its timestamps have nothing to do with the previous ones.
    pub fn new_epoch(&mut self) {
        self.offset = None;
        for t in self.tracks.iter_mut().flatten() {
            // Keep `last_out` (monotonicity) but forget the source side.
            t.last_src = i64::MIN;
        }
    }

    fn idx(kind: StreamKind) -> usize {
        match kind {
            StreamKind::Video => 0,
            StreamKind::Audio => 1,
        }
    }

    /// Maps one packet's source timestamps (already unwrapped to 90 kHz as far as the source
    /// can) that arrived at `arrival`.
    pub fn map(
        &mut self,
        kind: StreamKind,
        src_pts: i64,
        src_dts: i64,
        arrival: Instant,
    ) -> Mapped {
        let i = Self::idx(kind);
        let mut rebased = false;
        let offset = match (self.offset, self.tracks[i]) {
            (None, _) => {
                // First packet of the epoch.
                let target = match self.last {
                    Some((last_out, last_arrival)) => {
                        last_out + ticks(arrival.saturating_duration_since(last_arrival)).max(90)
                    }
                    None => 0,
                };
                let off = target - src_dts;
                self.offset = Some(off);
                off
            }
            (Some(off), Some(t)) if t.last_src != i64::MIN => {
                let d_src = src_dts - t.last_src;
                let d_arr = ticks(arrival.saturating_duration_since(t.last_arrival));
                if d_src < 0 || d_src > d_arr + self.jump_bound {
                    let step = d_arr.clamp(1, self.jump_bound);
                    let off = t.last_out + step - src_dts;
                    self.offset = Some(off);
                    self.rebases += 1;
                    rebased = true;
                    off
                } else {
                    off
                }
            }
            (Some(off), _) => off,
        };
        let mut dts = src_dts + offset;
        if let Some(t) = self.tracks[i] {
            if dts <= t.last_out {
                dts = t.last_out + 1;
            }
        }
        let pts = dts + (src_pts - src_dts).max(0);
        self.tracks[i] = Some(Track {
            last_src: src_dts,
            last_out: dts,
            last_arrival: arrival,
        });
        if self.last.is_none_or(|(l, _)| dts >= l) {
            self.last = Some((dts, arrival));
        }
        Mapped { pts, dts, rebased }
    }
}

/// Unwraps a timestamp that wraps at `2^bits` (MPEG-TS: 33 bits) against the previous
/// unwrapped value: the candidate nearest to it wins.
pub fn unwrap(prev: Option<i64>, raw: i64, bits: u32) -> i64 {
    let period = 1i64 << bits;
    let Some(prev) = prev else { return raw };
    let base = prev - prev.rem_euclid(period);
    [base - period + raw, base + raw, base + period + raw]
        .into_iter()
        .min_by_key(|c| (c - prev).abs())
        .unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FRAME: i64 = 3000; // 30 fps

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_steady_stream_keeps_its_spacing() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let outs: Vec<i64> = (0..5)
            .map(|n| {
                tl.map(
                    StreamKind::Video,
                    1000 + n * FRAME,
                    1000 + n * FRAME,
                    at(t0, n as u64 * 33),
                )
                .dts
            })
            .collect();
        assert_eq!(outs, vec![0, 3000, 6000, 9000, 12000]);
        assert_eq!(tl.rebases(), 0);
    }

    #[test]
    fn a_backward_jump_is_absorbed_by_arrival_time() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        tl.map(StreamKind::Video, 500_000, 500_000, t0);
        let b = tl.map(StreamKind::Video, 503_000, 503_000, at(t0, 33));
        // The camera's clock resets to zero.
        let c = tl.map(StreamKind::Video, 0, 0, at(t0, 66));
        assert!(c.rebased);
        assert_eq!(c.dts - b.dts, 2970, "33 ms of arrival time");
        let d = tl.map(StreamKind::Video, 3000, 3000, at(t0, 100));
        assert!(!d.rebased);
        assert_eq!(d.dts - c.dts, 3000, "source spacing trusted again");
    }

    #[test]
    fn a_forward_jump_beyond_the_bound_is_absorbed() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let a = tl.map(StreamKind::Video, 0, 0, t0);
        let b = tl.map(
            StreamKind::Video,
            10 * 3600 * TIMEBASE,
            10 * 3600 * TIMEBASE,
            at(t0, 33),
        );
        assert!(b.rebased);
        assert_eq!(b.dts - a.dts, 2970);
    }

    #[test]
    fn a_burst_after_a_network_hiccup_is_not_a_jump() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        tl.map(StreamKind::Video, 0, 0, t0);
        // Nothing for 2 s, then 60 frames at once: source time trusted.
        let mut last = 0;
        for n in 1..=60 {
            let m = tl.map(StreamKind::Video, n * FRAME, n * FRAME, at(t0, 2000));
            assert!(!m.rebased);
            assert_eq!(m.dts, n * FRAME);
            last = m.dts;
        }
        assert_eq!(last, 60 * FRAME);
    }

    #[test]
    fn rtp_style_wrap_without_unwrapping_is_absorbed() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let top = (1i64 << 32) - 1500;
        let a = tl.map(StreamKind::Video, top, top, t0);
        let b = tl.map(StreamKind::Video, 1500, 1500, at(t0, 33));
        assert!(b.dts > a.dts);
        assert!((b.dts - a.dts - 2970).abs() <= 1);
    }

    #[test]
    fn a_reconnect_continues_after_the_real_gap() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let a = tl.map(StreamKind::Video, 90_000, 90_000, t0);
        tl.new_epoch();
        // The new connection starts its clock at an unrelated value, 3 s later.
        let b = tl.map(StreamKind::Video, 7, 7, at(t0, 3000));
        assert!(!b.rebased);
        assert_eq!(b.dts - a.dts, 3 * TIMEBASE);
        let c = tl.map(StreamKind::Video, 7 + FRAME, 7 + FRAME, at(t0, 3033));
        assert_eq!(c.dts - b.dts, FRAME);
    }

    #[test]
    fn video_and_audio_share_the_offset() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let v = tl.map(StreamKind::Video, 10_000, 10_000, t0);
        let a = tl.map(StreamKind::Audio, 10_900, 10_900, t0);
        assert_eq!(a.dts - v.dts, 900);
        // Audio's first packet after a reconnect uses the epoch's offset too.
        tl.new_epoch();
        let v2 = tl.map(StreamKind::Video, 0, 0, at(t0, 1000));
        let a2 = tl.map(StreamKind::Audio, 450, 450, at(t0, 1000));
        assert_eq!(a2.dts - v2.dts, 450);
    }

    #[test]
    fn decode_times_strictly_increase_and_composition_is_kept() {
        let t0 = Instant::now();
        let mut tl = Timeline::default();
        let a = tl.map(StreamKind::Video, 6000, 3000, t0);
        let b = tl.map(StreamKind::Video, 9000, 3000, at(t0, 1));
        assert_eq!(b.dts, a.dts + 1);
        assert_eq!(b.pts - b.dts, 6000);
    }

    #[test]
    fn unwrap_picks_the_nearest_candidate() {
        let p = 1i64 << 33;
        assert_eq!(unwrap(None, 5, 33), 5);
        assert_eq!(unwrap(Some(p - 10), 20, 33), p + 20);
        assert_eq!(unwrap(Some(p + 20), p - 10, 33), p - 10);
        assert_eq!(unwrap(Some(1000), 4000, 33), 4000);
    }
}
