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

/// Feeds a publisher from a camera's hub session (copy streams) until the subscription ends
/// (returned) or the publisher closes (`None`).
pub async fn feed_hub(sub: Subscription, input: PublisherInput) -> Option<End> {
    let Subscription {
        info,
        backlog,
        backlog_arrivals,
        mut live,
        ..
    } = sub;
    let now = Instant::now();
    for (i, p) in backlog.into_iter().enumerate() {
        let arrival = backlog_arrivals.get(i).copied().unwrap_or(now);
        if !input.push(MediaFrame {
            packet: p,
            info: info.clone(),
            arrival,
        }) {
            return None;
        }
    }
    let mut info = info;
    loop {
        tokio::select! {
            _ = input.closed() => return None,
            ev = live.recv() => match ev {
                Ok(Event::Packet(p)) => {
                    let arrival = live.arrival().unwrap_or_else(Instant::now);
                    if !input.push(MediaFrame { packet: p, info: info.clone(), arrival }) {
                        return None;
                    }
                }
                Ok(Event::Info(i)) => info = i,
                Err(end) => return Some(end),
            }
        }
    }
}
