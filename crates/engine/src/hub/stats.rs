//! What a camera session reports about itself: its state, what its packets measure (bitrate,
//! frame rate, keyframe interval, loss) and who consumes it. This is what health, the camera
//! page and `/metrics` read instead of probing a camera that already has a session.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use super::packet::{Packet, StreamKind, TIMEBASE};

/// The state of a camera session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Opening the connection (RTSP DESCRIBE/SETUP/PLAY, or the FFmpeg pull starting) and
    /// waiting for the first keyframe.
    Connecting,
    /// Packets are flowing.
    Playing,
    /// The last connection failed or stalled; waiting before the next attempt.
    Backoff,
    /// Not running (disabled, removed, or the hub shut down).
    Stopped,
}

/// Who reads a session. Only counted, for the camera page and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerKind {
    /// A program decoding the camera.
    Program,
    /// A browser preview.
    Preview,
    /// A camera-to-destination copy stream.
    Copy,
    /// A snapshot being taken.
    Snapshot,
    Other,
}

impl ConsumerKind {
    pub const ALL: [ConsumerKind; 5] = [
        ConsumerKind::Program,
        ConsumerKind::Preview,
        ConsumerKind::Copy,
        ConsumerKind::Snapshot,
        ConsumerKind::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Live consumer counts of one session.
#[derive(Debug, Default, Clone)]
pub struct Consumers(Arc<[AtomicUsize; 5]>);

impl Consumers {
    /// Counts one consumer until the guard is dropped.
    pub fn enter(&self, kind: ConsumerKind) -> ConsumerGuard {
        self.0[kind.index()].fetch_add(1, Ordering::Relaxed);
        ConsumerGuard {
            counts: self.clone(),
            kind,
        }
    }

    pub fn snapshot(&self) -> BTreeMap<ConsumerKind, usize> {
        ConsumerKind::ALL
            .into_iter()
            .map(|k| (k, self.0[k.index()].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn total(&self) -> usize {
        self.0.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }
}

/// Decrements its consumer count when dropped.
#[derive(Debug)]
pub struct ConsumerGuard {
    counts: Consumers,
    kind: ConsumerKind,
}

impl Drop for ConsumerGuard {
    fn drop(&mut self) {
        self.counts.0[self.kind.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot of one session, safe to show (errors are redacted).
#[derive(Debug, Clone, Serialize)]
pub struct SessionStats {
    pub state: SessionState,
    /// Wall time the session entered its current state.
    pub since: SystemTime,
    /// Time since the current connection started playing; zero when not playing.
    pub uptime: Duration,
    /// `rtsp` (in-process) or `ffmpeg` (a pull child for RTSPS/RTMP/SRT).
    pub transport: &'static str,
    /// The pull child's pid while it runs.
    pub pid: Option<u32>,
    /// Over the last few seconds, video and audio payload.
    pub bitrate_bps: u64,
    pub fps: f64,
    /// Seconds between the last two video keyframes.
    pub gop_seconds: Option<f64>,
    /// Video frames between the last two keyframes.
    pub gop_frames: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// RTP packets lost, as the RTSP client counted them (sequence number gaps).
    pub packets_lost: u64,
    pub packets_received: u64,
    /// Connections opened after the first one.
    pub reconnects: u64,
    /// Camera clock jumps absorbed by the session's timeline.
    pub clock_jumps: u64,
    /// Why the last connection ended badly; credentials never appear in it.
    pub last_error: Option<String>,
    /// Connection attempts in a row that failed before playing (refused, wrong password, no
    /// answer, no H.264, …); 0 once one plays. A connection that played and then broke does
    /// not count: while this is 0 the camera has not been found missing yet.
    pub failed_attempts: u32,
    /// When the last packet arrived, as an age.
    pub last_packet_age: Option<Duration>,
    pub consumers: BTreeMap<ConsumerKind, usize>,
}

/// Measures the packet flow over a sliding window.
#[derive(Debug)]
pub(crate) struct Meter {
    window: Duration,
    samples: VecDeque<(Instant, u32, bool)>,
    bytes: u64,
    video: u32,
    last_key: Option<(i64, u32)>,
    frames_since_key: u32,
    pub gop: Option<(f64, u32)>,
    pub last_packet: Option<Instant>,
    pub received: u64,
    pub lost: u64,
}

impl Meter {
    pub fn new(window: Duration) -> Self {
        Meter {
            window,
            samples: VecDeque::new(),
            bytes: 0,
            video: 0,
            last_key: None,
            frames_since_key: 0,
            gop: None,
            last_packet: None,
            received: 0,
            lost: 0,
        }
    }

    pub fn record(&mut self, p: &Packet, now: Instant) {
        let video = p.stream == StreamKind::Video;
        self.samples.push_back((now, p.data.len() as u32, video));
        self.bytes += p.data.len() as u64;
        self.received += 1;
        if video {
            self.video += 1;
            if p.keyframe {
                if let Some((dts, _)) = self.last_key {
                    self.gop = Some((
                        (p.dts - dts) as f64 / TIMEBASE as f64,
                        self.frames_since_key,
                    ));
                }
                self.last_key = Some((p.dts, 0));
                self.frames_since_key = 0;
            }
            self.frames_since_key += 1;
        }
        self.last_packet = Some(now);
        self.trim(now);
    }

    fn trim(&mut self, now: Instant) {
        while let Some(&(t, len, video)) = self.samples.front() {
            if now.saturating_duration_since(t) <= self.window {
                break;
            }
            self.samples.pop_front();
            self.bytes -= len as u64;
            if video {
                self.video -= 1;
            }
        }
    }

    /// (bits per second, video frames per second) over the window.
    pub fn rates(&mut self, now: Instant) -> (u64, f64) {
        self.trim(now);
        let Some(&(first, _, _)) = self.samples.front() else {
            return (0, 0.0);
        };
        // Over the window once it is full; over what was seen while it fills.
        let span = now
            .saturating_duration_since(first)
            .max(Duration::from_millis(500));
        let span = span.min(self.window).as_secs_f64();
        (
            (self.bytes as f64 * 8.0 / span) as u64,
            self.video as f64 / span,
        )
    }

    /// A new connection: the keyframe interval is measured again.
    pub fn reset_gop(&mut self) {
        self.last_key = None;
        self.frames_since_key = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn consumers_are_counted_while_their_guard_lives() {
        let c = Consumers::default();
        let a = c.enter(ConsumerKind::Preview);
        let b = c.enter(ConsumerKind::Preview);
        let p = c.enter(ConsumerKind::Program);
        assert_eq!(c.total(), 3);
        assert_eq!(c.snapshot()[&ConsumerKind::Preview], 2);
        drop((a, b));
        assert_eq!(c.snapshot().len(), 1);
        drop(p);
        assert_eq!(c.total(), 0);
    }

    #[test]
    fn the_meter_measures_rate_fps_and_gop() {
        let t0 = Instant::now();
        let mut m = Meter::new(Duration::from_secs(2));
        for n in 0..90i64 {
            let p = Packet {
                stream: StreamKind::Video,
                pts: n * 3000,
                dts: n * 3000,
                keyframe: n % 30 == 0,
                data: Bytes::from(vec![0u8; 1000]),
            };
            m.record(&p, t0 + Duration::from_micros(n as u64 * 33_333));
        }
        let (bps, fps) = m.rates(t0 + Duration::from_micros(89 * 33_333));
        assert!((fps - 30.0).abs() < 1.0, "{fps}");
        assert!((bps as f64 - 240_000.0).abs() < 10_000.0, "{bps}");
        assert_eq!(m.gop, Some((1.0, 30)));
        assert_eq!(m.received, 90);
    }
}
