//! A destination's send queue: what the producer handed over and the socket has not taken
//! yet. A push never waits; the queue keeps itself live instead of growing:
//! - over its bound (a slow uplink), it drops video up to the next keyframe and, at that
//!   keyframe, everything still queued before it: the receiver skips ahead to a decodable
//!   picture instead of falling further behind;
//! - while the destination is down (`live_only`), every keyframe replaces what is queued, so
//!   a reconnect starts at the newest keyframe with at most one GOP behind it, never a backlog.
//!
//! Audio is kept while video waits for a keyframe (sound goes on through a frozen picture),
//! up to twice the byte bound.

use std::collections::VecDeque;

use super::media::MediaFrame;
use crate::hub::packet::TIMEBASE;

/// Bounds of a queue; past either, it starts dropping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLimits {
    /// Media time between the oldest and the newest queued frame, in milliseconds.
    pub max_ms: u64,
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_ms: 2_000,
            max_bytes: 4 << 20,
        }
    }
}

/// Counters of what the queue dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub bytes: u64,
    pub frames: u64,
}

#[derive(Debug)]
pub struct SendQueue {
    limits: QueueLimits,
    frames: VecDeque<MediaFrame>,
    bytes: usize,
    /// Video is dropped until the next keyframe.
    skipping: bool,
    live_only: bool,
    dropped: Dropped,
    /// Frames pushed and their bytes (the input rate).
    pushed_bytes: u64,
    pushed_frames: u64,
}

impl SendQueue {
    /// An empty queue that waits for a keyframe and keeps only the newest GOP (the
    /// destination is not connected yet).
    pub fn new(limits: QueueLimits) -> Self {
        SendQueue {
            limits,
            frames: VecDeque::new(),
            bytes: 0,
            skipping: true,
            live_only: true,
            dropped: Dropped::default(),
            pushed_bytes: 0,
            pushed_frames: 0,
        }
    }

    pub fn limits(&self) -> &QueueLimits {
        &self.limits
    }

    /// While the destination is down: keep only what a reconnect would send (the newest
    /// keyframe and what follows it).
    pub fn set_live_only(&mut self, on: bool) {
        self.live_only = on;
    }

    fn drop_front(&mut self) -> Option<MediaFrame> {
        let f = self.frames.pop_front()?;
        self.bytes -= f.len();
        self.dropped.bytes += f.len() as u64;
        self.dropped.frames += 1;
        Some(f)
    }

    fn drop_all(&mut self) {
        while self.drop_front().is_some() {}
    }

    fn count_dropped(&mut self, f: &MediaFrame) {
        self.dropped.bytes += f.len() as u64;
        self.dropped.frames += 1;
    }

    /// Takes a frame from the producer. Never waits.
    pub fn push(&mut self, f: MediaFrame) {
        self.pushed_bytes += f.len() as u64;
        self.pushed_frames += 1;
        if f.is_keyframe() {
            if self.skipping || self.live_only || self.over_bound() {
                self.drop_all();
            }
            self.skipping = false;
        } else {
            if !self.skipping && self.would_exceed(&f) {
                self.skipping = true;
            }
            if self.skipping {
                // Audio goes on through a frozen picture, while there is a picture to
                // play it with and room for it.
                let keep = !f.is_video()
                    && !self.frames.is_empty()
                    && self.bytes + f.len() <= self.limits.max_bytes * 2;
                if !keep {
                    self.count_dropped(&f);
                    return;
                }
            }
        }
        self.bytes += f.len();
        self.frames.push_back(f);
    }

    fn would_exceed(&self, f: &MediaFrame) -> bool {
        let span = self
            .frames
            .front()
            .map(|a| (f.packet.dts - a.packet.dts).max(0) as u64 * 1000 / TIMEBASE as u64)
            .unwrap_or(0);
        self.bytes + f.len() > self.limits.max_bytes || span > self.limits.max_ms
    }

    fn over_bound(&self) -> bool {
        self.bytes > self.limits.max_bytes || self.depth_ms() > self.limits.max_ms
    }

    /// The next frame to send.
    pub fn pop(&mut self) -> Option<MediaFrame> {
        let f = self.frames.pop_front()?;
        self.bytes -= f.len();
        Some(f)
    }

    /// Before a (new) session's first frame: drops everything before the newest queued
    /// keyframe, or everything when none is queued (then the next keyframe starts it).
    pub fn restart_at_newest_keyframe(&mut self) {
        match self.frames.iter().rposition(MediaFrame::is_keyframe) {
            Some(i) => {
                for _ in 0..i {
                    self.drop_front();
                }
            }
            None => {
                self.drop_all();
                self.skipping = true;
            }
        }
    }

    /// Media time spanned by the queue, in milliseconds.
    pub fn depth_ms(&self) -> u64 {
        match (self.frames.front(), self.frames.back()) {
            (Some(a), Some(b)) => {
                (b.packet.dts - a.packet.dts).max(0) as u64 * 1000 / TIMEBASE as u64
            }
            _ => 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// Bytes and frames pushed so far.
    pub fn pushed(&self) -> (u64, u64) {
        (self.pushed_bytes, self.pushed_frames)
    }

    /// Whether video is being dropped until the next keyframe.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hub::packet::{Packet, StreamInfo, StreamKind, VideoInfo};
    use bytes::Bytes;
    use std::sync::Arc;

    pub(crate) fn info() -> Arc<StreamInfo> {
        Arc::new(StreamInfo {
            video: VideoInfo {
                width: 640,
                height: 360,
                sps: Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e]),
                pps: Bytes::from_static(&[0x68]),
                fps: Some(30.0),
            },
            audio: None,
        })
    }

    /// Video frame `n` of a 30 fps stream with a keyframe every `gop` frames.
    pub(crate) fn video(n: i64, gop: i64, size: usize) -> MediaFrame {
        MediaFrame {
            packet: Packet {
                stream: StreamKind::Video,
                pts: n * 3000,
                dts: n * 3000,
                keyframe: n % gop == 0,
                data: Bytes::from(vec![n as u8; size]),
            },
            info: info(),
            arrival: tokio::time::Instant::now(),
        }
    }

    fn audio(n: i64) -> MediaFrame {
        MediaFrame {
            packet: Packet {
                stream: StreamKind::Audio,
                pts: n * 1920,
                dts: n * 1920,
                keyframe: true,
                data: Bytes::from(vec![0; 10]),
            },
            info: info(),
            arrival: tokio::time::Instant::now(),
        }
    }

    fn frame_numbers(q: &mut SendQueue) -> Vec<i64> {
        let mut v = Vec::new();
        while let Some(f) = q.pop() {
            if f.is_video() {
                v.push(f.packet.dts / 3000);
            }
        }
        v
    }

    #[test]
    fn nothing_is_queued_before_the_first_keyframe() {
        let mut q = SendQueue::new(QueueLimits::default());
        q.set_live_only(false);
        for n in 1..30 {
            q.push(video(n, 30, 100));
        }
        assert!(q.is_empty());
        assert_eq!(q.dropped().frames, 29);
        q.push(video(30, 30, 100));
        q.push(video(31, 30, 100));
        assert_eq!(frame_numbers(&mut q), vec![30, 31]);
    }

    #[test]
    fn while_down_only_the_newest_gop_is_kept() {
        let mut q = SendQueue::new(QueueLimits::default());
        for n in 0..100 {
            q.push(video(n, 30, 100));
            q.push(audio(n));
        }
        // 12 s of outage at 30 fps would be 360 frames; the queue holds the GOP since 90.
        q.restart_at_newest_keyframe();
        let got = frame_numbers(&mut q);
        assert_eq!(got, (90..100).collect::<Vec<_>>());
        assert_eq!(q.dropped().frames, 90 + 90);
    }

    #[test]
    fn a_slow_consumer_drops_up_to_the_next_keyframe_and_skips_ahead() {
        let limits = QueueLimits {
            max_ms: 1000,
            max_bytes: 1 << 20,
        };
        let mut q = SendQueue::new(limits);
        q.set_live_only(false);
        // Nobody pops: the queue fills to its bound (1 s = 30 frames), then drops.
        for n in 0..45 {
            q.push(video(n, 60, 100));
        }
        assert!(q.is_skipping());
        assert!(q.depth_ms() <= 1000, "{}", q.depth_ms());
        let kept = q.len();
        assert_eq!(kept, 31, "frames 0..=30 kept, the rest dropped");
        for n in 45..60 {
            q.push(video(n, 60, 100));
        }
        assert_eq!(
            q.len(),
            kept,
            "non-keyframes are dropped while over the bound"
        );
        // The next keyframe replaces the stale queue: the consumer skips ahead.
        q.push(video(60, 60, 100));
        q.push(video(61, 60, 100));
        assert!(!q.is_skipping());
        assert_eq!(frame_numbers(&mut q), vec![60, 61]);
        // 31..=59 while over the bound, then the 31 stale ones at keyframe 60.
        assert_eq!(q.dropped().frames, 29 + 31);
        assert_eq!(q.dropped().bytes, 6000);
    }

    #[test]
    fn a_restart_without_a_queued_keyframe_waits_for_one() {
        let mut q = SendQueue::new(QueueLimits::default());
        q.set_live_only(false);
        for n in 0..5 {
            q.push(video(n, 30, 10));
        }
        q.pop(); // the keyframe went out
        q.restart_at_newest_keyframe();
        assert!(q.is_empty());
        q.push(video(5, 30, 10));
        assert!(q.is_empty());
        q.push(video(30, 30, 10));
        assert_eq!(frame_numbers(&mut q), vec![30]);
    }
}
