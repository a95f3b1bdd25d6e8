//! Frames to RTMP messages for one destination: its timeline across sessions, and the
//! sequence headers and metadata each session needs before its first frame.
//!
//! Timestamps (decided for every destination): one continuous millisecond timeline for the
//! destination's whole life, across reconnects and across restarts of the source. The first
//! session starts at 0. When a new session starts, its anchoring keyframe is placed after the
//! last timestamp sent by the time that really passed between the two frames' arrivals, so a
//! receiver that keeps its state across a reconnect sees time move forward by the length of
//! the outage, never backwards. When the source's times jump within a session (a new encoder
//! run), the keyframe follows the last picture by one frame, as FFmpeg stitches MPEG-TS
//! discontinuities.

use bytes::Bytes;
use tokio::time::Instant;

use super::flv;
use super::media::MediaFrame;
use super::rtmp::{Metadata, RtmpSession};

/// 90 kHz ticks per millisecond.
const TICKS_PER_MS: i64 = 90;
/// A source jump larger than this (forwards) or any jump backwards re-anchors the timeline.
const MAX_JUMP_MS: i64 = 5_000;

#[derive(Debug, Default)]
pub struct Timeline {
    /// Added to source ticks.
    offset: Option<i64>,
    resync: bool,
    last_video_src: Option<i64>,
    last_video_ms: Option<i64>,
    last_audio_ms: Option<i64>,
    /// Arrival of the last frame mapped.
    last_arrival: Option<Instant>,
    /// Where the current anchoring keyframe was placed: sound from before it is not sent (a
    /// session's clock starts with its first picture, and never below 0).
    anchor_ms: i64,
    /// The last distance between two pictures (a frame's duration), ms.
    step_ms: i64,
}

impl Timeline {
    /// The next video keyframe re-anchors the mapping (a new session starts).
    pub fn resync(&mut self) {
        self.resync = true;
    }

    fn last_ms(&self) -> Option<i64> {
        match (self.last_video_ms, self.last_audio_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The frame's (DTS, CTS) in milliseconds on the destination's timeline, or `None` when
    /// it cannot be placed (audio before the first picture, or out of order).
    pub fn map(&mut self, f: &MediaFrame) -> Option<(i64, i32)> {
        let dts = f.packet.dts;
        if f.is_video() {
            let jumped = match self.last_video_src {
                Some(last) => dts < last || dts - last > MAX_JUMP_MS * TICKS_PER_MS,
                None => true,
            };
            if self.offset.is_none() || self.resync || jumped {
                if !f.is_keyframe() {
                    return None;
                }
                let target_ms = match (self.last_ms(), self.last_arrival) {
                    // The same session, a source that restarted its times (a new encoder
                    // run): stitched on one frame after the last picture, as FFmpeg's
                    // MPEG-TS discontinuity handling does — the frames lost in the restart
                    // are not a hole in the receiver's time.
                    (Some(_), Some(_)) if !self.resync => {
                        self.last_video_ms.unwrap_or_default() + self.step_ms.max(1)
                    }
                    (Some(last), Some(at)) => {
                        let gap = f.arrival.saturating_duration_since(at).as_millis() as i64;
                        last + gap.max(1)
                    }
                    (Some(last), None) => last + 1,
                    _ => 0,
                };
                self.offset = Some(target_ms * TICKS_PER_MS - dts);
                self.anchor_ms = target_ms;
                self.resync = false;
            }
            let offset = self.offset?;
            let ms = (dts + offset).div_euclid(TICKS_PER_MS);
            if self.last_video_ms.is_some_and(|l| ms < l) {
                return None;
            }
            let pts_ms = (f.packet.pts + offset).div_euclid(TICKS_PER_MS);
            if let Some(l) = self.last_video_ms {
                if ms > l && ms - l < 1000 {
                    self.step_ms = ms - l;
                }
            }
            self.last_video_src = Some(dts);
            self.last_video_ms = Some(ms);
            self.last_arrival = Some(f.arrival);
            Some((ms, (pts_ms - ms) as i32))
        } else {
            let offset = self.offset?;
            if self.resync {
                return None;
            }
            let ms = (dts + offset).div_euclid(TICKS_PER_MS);
            if ms < self.anchor_ms || self.last_audio_ms.is_some_and(|l| ms <= l) {
                return None;
            }
            // Audio far away from the picture belongs to another source timeline.
            if self
                .last_video_ms
                .is_some_and(|v| (ms - v).abs() > MAX_JUMP_MS)
            {
                return None;
            }
            self.last_audio_ms = Some(ms);
            Some((ms, 0))
        }
    }
}

/// What one session has told its receiver so far.
#[derive(Debug, Default)]
pub struct SessionMux {
    avcc: Option<Bytes>,
    asc: Option<Bytes>,
    metadata_sent: bool,
}

/// What encoding a frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// Appended to the output (with any headers it needed); the media bytes.
    Sent(usize),
    /// Not placeable on the timeline, or a codec FLV cannot carry here.
    Skipped,
}

impl SessionMux {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the frame's messages (and the sequence headers or metadata it needs first).
    pub fn encode(
        &mut self,
        session: &mut RtmpSession,
        timeline: &mut Timeline,
        f: &MediaFrame,
        out: &mut Vec<u8>,
    ) -> Encoded {
        if f.is_video() && self.avcc.is_none() && !f.is_keyframe() {
            return Encoded::Skipped;
        }
        if !f.is_video() && self.avcc.is_none() {
            // Sound before the first picture would start the receiver's clock without video.
            return Encoded::Skipped;
        }
        let Some((ms, cts)) = timeline.map(f) else {
            return Encoded::Skipped;
        };
        let ts = ms as u32;
        if !self.metadata_sent {
            self.metadata_sent = true;
            let v = &f.info.video;
            let audio = f
                .info
                .audio
                .as_ref()
                .filter(|a| a.is_aac())
                .map(|a| (a.sample_rate, a.channels));
            session.metadata(
                &Metadata {
                    width: v.width,
                    height: v.height,
                    fps: v.fps,
                    audio,
                },
                out,
            );
        }
        if f.is_video() {
            let avcc = Bytes::from(f.info.video.avcc());
            if self.avcc.as_ref() != Some(&avcc) {
                session.video(ts, flv::avc_sequence_header(&f.info.video), out);
                self.avcc = Some(avcc);
            }
            session.video(
                ts,
                flv::avc_frame(&f.packet.data, f.is_keyframe(), cts),
                out,
            );
        } else {
            let Some(asc) = f.info.audio.as_ref().and_then(flv::aac_config) else {
                return Encoded::Skipped;
            };
            if self.asc.as_ref() != Some(&asc) {
                session.audio(ts, flv::aac_sequence_header(&asc), out);
                self.asc = Some(asc);
            }
            session.audio(ts, flv::aac_frame(&f.packet.data), out);
        }
        Encoded::Sent(f.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::queue::tests::video;
    use std::time::Duration;

    #[test]
    fn the_timeline_starts_at_zero_and_stays_continuous_across_a_reconnect() {
        let mut tl = Timeline::default();
        let t0 = Instant::now();
        let mut f = video(90, 30, 10);
        f.arrival = t0;
        assert_eq!(tl.map(&f), Some((0, 0)));
        let mut g = video(91, 30, 10);
        g.arrival = t0 + Duration::from_millis(33);
        assert_eq!(tl.map(&g), Some((33, 0)));
        // A 12 s outage; the new session starts at a keyframe that arrived 12.5 s later.
        tl.resync();
        let mut late = video(94, 30, 10);
        late.arrival = t0 + Duration::from_millis(12_533);
        assert_eq!(tl.map(&late), None, "not a keyframe");
        let mut k = video(480, 30, 10);
        k.arrival = t0 + Duration::from_millis(12_533);
        let (ms, _) = tl.map(&k).unwrap();
        assert_eq!(ms, 33 + 12_500);
        let mut n = video(481, 30, 10);
        n.arrival = k.arrival;
        assert_eq!(tl.map(&n).unwrap().0, ms + 33);
    }

    #[test]
    fn a_source_that_restarts_its_times_is_re_anchored_forwards() {
        let mut tl = Timeline::default();
        let t0 = Instant::now();
        for n in 0..31 {
            let mut f = video(990 + n, 30, 10);
            f.arrival = t0 + Duration::from_millis(33 * n as u64);
            tl.map(&f);
        }
        let last = tl.last_video_ms.unwrap();
        // A new encoder run: its times start near 0 again, 2 s later. In the same session
        // it follows the last picture by one frame.
        let mut f = video(30, 30, 10);
        f.arrival = t0 + Duration::from_millis(33 * 30 + 2000);
        let (ms, _) = tl.map(&f).unwrap();
        // One frame of a 30 fps stream: 33 or 34 ms on a millisecond timeline.
        assert!((33..=34).contains(&(ms - last)), "{last} then {ms}");
        // After a reconnect, a keyframe is placed by the time that really passed.
        tl.resync();
        let mut g = video(60, 30, 10);
        g.arrival = f.arrival + Duration::from_millis(5000);
        let (ms2, _) = tl.map(&g).unwrap();
        assert_eq!(ms2, ms + 5000);
    }
}
