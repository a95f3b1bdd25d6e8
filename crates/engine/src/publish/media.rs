//! What a publisher is fed: the hub's packet model ([`Packet`] with its [`StreamInfo`]),
//! from either source the appliance has:
//! - the program encoder's MPEG-TS, as the program fan-out hands it to each destination
//!   ([`TsFrames`], [`feed_ts`]), demuxed by the hub's own [`TsDemuxer`];
//! - a camera's hub session, for copy streams ([`feed_hub`]).

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::publisher::PublisherInput;
use crate::hub::fanout::{End, Event, Subscription};
use crate::hub::h264::AacConfig;
use crate::hub::packet::{AudioInfo, Packet, StreamInfo, StreamKind, VideoInfo};
use crate::hub::tsdemux::{TsDemuxer, TsUnit};

/// One access unit on its way to a destination.
#[derive(Debug, Clone)]
pub struct MediaFrame {
    /// Framed as the hub frames it (see `hub::packet`); times in 90 kHz ticks.
    pub packet: Packet,
    /// The parameters this packet belongs to (a new `Arc` when they change).
    pub info: Arc<StreamInfo>,
    /// When it reached the appliance (the session's receipt, or the TS being read): how far
    /// behind live a destination is is measured from here.
    pub arrival: Instant,
}

impl MediaFrame {
    pub fn is_video(&self) -> bool {
        self.packet.is_video()
    }

    pub fn is_keyframe(&self) -> bool {
        self.packet.is_video_keyframe()
    }

    pub fn len(&self) -> usize {
        self.packet.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packet.data.is_empty()
    }
}

/// MPEG-TS bytes (any split) to frames. Frames before the first SPS/PPS are dropped (nothing
/// could decode them).
#[derive(Default)]
pub struct TsFrames {
    demux: TsDemuxer,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
    video: Option<VideoInfo>,
    aac: Option<AacConfig>,
    info: Option<Arc<StreamInfo>>,
}

impl TsFrames {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the stream state (a new encoder run begins with a new PAT/PMT and times).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds bytes; returns the frames they completed, stamped with `now`.
    pub fn push(&mut self, data: &[u8], now: Instant) -> Vec<MediaFrame> {
        let units = self.demux.feed(data);
        let mut out = Vec::with_capacity(units.len());
        for unit in units {
            if let Some(f) = self.convert(unit, now) {
                out.push(f);
            }
        }
        out
    }

    fn convert(&mut self, unit: TsUnit, now: Instant) -> Option<MediaFrame> {
        match unit {
            TsUnit::Video { pts, dts, au } => {
                let mut changed = false;
                if au.sps.is_some() && au.sps != self.sps {
                    self.sps = au.sps.clone();
                    changed = true;
                }
                if au.pps.is_some() && au.pps != self.pps {
                    self.pps = au.pps.clone();
                    changed = true;
                }
                if changed || self.video.is_none() {
                    if let (Some(sps), Some(pps)) = (&self.sps, &self.pps) {
                        if let Ok(v) = VideoInfo::from_parameter_sets(sps.clone(), pps.clone()) {
                            if self.video.as_ref() != Some(&v) {
                                self.video = Some(v);
                                self.rebuild();
                            }
                        }
                    }
                }
                let info = self.info.clone()?;
                Some(MediaFrame {
                    packet: Packet {
                        stream: StreamKind::Video,
                        pts,
                        dts,
                        keyframe: au.keyframe,
                        data: au.data,
                    },
                    info,
                    arrival: now,
                })
            }
            TsUnit::Audio { pts, config, data } => {
                if self.aac != Some(config) {
                    self.aac = Some(config);
                    self.rebuild();
                }
                let info = self.info.clone()?;
                Some(MediaFrame {
                    packet: Packet {
                        stream: StreamKind::Audio,
                        pts,
                        dts: pts,
                        keyframe: true,
                        data,
                    },
                    info,
                    arrival: now,
                })
            }
        }
    }

    fn rebuild(&mut self) {
        let Some(video) = self.video.clone() else {
            return;
        };
        let audio = self.aac.and_then(|c| AudioInfo::aac(c.to_asc()).ok());
        self.info = Some(Arc::new(StreamInfo { video, audio }));
    }
}

/// Feeds a publisher from a queue of the program's MPEG-TS chunks (what the program fan-out
/// gives each destination) until the queue or the publisher closes.
pub async fn feed_ts(mut chunks: mpsc::Receiver<Bytes>, input: PublisherInput) {
    let mut ts = TsFrames::new();
    while let Some(chunk) = chunks.recv().await {
        for f in ts.push(&chunk, Instant::now()) {
            if !input.push(f) {
                return;
            }
        }
    }
}

/// AudioSpecificConfig of AAC-LC, 44.1 kHz, stereo.
const SILENT_ASC: [u8; 2] = [0x12, 0x10];
/// One AAC-LC stereo frame (1024 samples) of digital silence, as decoders expect it (the
/// same bytes players insert for gaps).
const SILENT_FRAME: [u8; 9] = [0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80];
const SILENT_RATE: i64 = 44_100;

/// Silent AAC beside a camera's video, for cameras without AAC audio: YouTube drops
/// video-only streams. Frames follow the video's clock (90 kHz), up to each picture's time.
#[derive(Debug, Default)]
struct Silence {
    start: Option<i64>,
    n: i64,
    last_video: Option<i64>,
}

impl Silence {
    /// The stream's parameters with the silent track as its audio.
    fn info(video: &StreamInfo) -> Arc<StreamInfo> {
        Arc::new(StreamInfo {
            video: video.video.clone(),
            audio: AudioInfo::aac(Bytes::from_static(&SILENT_ASC)).ok(),
        })
    }

    fn pts(&self, n: i64) -> i64 {
        self.start.unwrap_or_default() + n * 1024 * 90_000 / SILENT_RATE
    }

    /// The audio frames due up to video time `dts`.
    fn until(&mut self, dts: i64, info: &Arc<StreamInfo>, arrival: Instant) -> Vec<MediaFrame> {
        let jumped = self
            .last_video
            .is_some_and(|l| dts < l || dts - l > 5 * 90_000);
        if self.start.is_none() || jumped {
            self.start = Some(dts);
            self.n = 0;
        }
        self.last_video = Some(dts);
        let mut out = Vec::new();
        while self.pts(self.n) <= dts {
            let pts = self.pts(self.n);
            out.push(MediaFrame {
                packet: Packet {
                    stream: StreamKind::Audio,
                    pts,
                    dts: pts,
                    keyframe: true,
                    data: Bytes::from_static(&SILENT_FRAME),
                },
                info: info.clone(),
                arrival,
            });
            self.n += 1;
        }
        out
    }
}

/// Feeds a publisher from a camera's hub session (copy streams) until the subscription ends
/// (returned) or the publisher closes (`None`). With `silent_audio`, the camera's own audio
/// (if any) is left out and silent AAC goes beside the video instead.
pub async fn feed_hub(sub: Subscription, input: PublisherInput, silent_audio: bool) -> Option<End> {
    let Subscription {
        info,
        backlog,
        backlog_arrivals,
        mut live,
        ..
    } = sub;
    let mut silence = silent_audio.then(Silence::default);
    let mut info = match silence {
        Some(_) => Silence::info(&info),
        None => info,
    };
    let push = |p: Packet,
                info: &Arc<StreamInfo>,
                arrival: Instant,
                silence: &mut Option<Silence>|
     -> bool {
        let Some(silence) = silence.as_mut() else {
            return input.push(MediaFrame {
                packet: p,
                info: info.clone(),
                arrival,
            });
        };
        if !p.is_video() {
            return true;
        }
        let audio = silence.until(p.dts, info, arrival);
        input.push(MediaFrame {
            packet: p,
            info: info.clone(),
            arrival,
        }) && audio.into_iter().all(|a| input.push(a))
    };
    let now = Instant::now();
    for (i, p) in backlog.into_iter().enumerate() {
        let arrival = backlog_arrivals.get(i).copied().unwrap_or(now);
        if !push(p, &info, arrival, &mut silence) {
            return None;
        }
    }
    loop {
        tokio::select! {
            _ = input.closed() => return None,
            ev = live.recv() => match ev {
                Ok(Event::Packet(p)) => {
                    let arrival = live.arrival().unwrap_or_else(Instant::now);
                    if !push(p, &info, arrival, &mut silence) {
                        return None;
                    }
                }
                Ok(Event::Info(i)) => {
                    info = if silence.is_some() { Silence::info(&i) } else { i };
                }
                Err(end) => return Some(end),
            }
        }
    }
}
