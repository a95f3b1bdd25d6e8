//! The hub's packet model: what a camera session hands its consumers, whatever the source
//! (RTSP read in-process, or an FFmpeg pull demuxed from MPEG-TS).
//!
//! - Timestamps are in [`TIMEBASE`] (90 kHz) ticks on the session's own timeline, monotonic
//!   and continuous per stream (see `timeline`): camera clock jumps, RTP wraps and reconnects
//!   never reach a consumer.
//! - Video is H.264 access units with 4-byte big-endian NAL lengths ("AVCC" framing), without
//!   parameter sets or access unit delimiters: SPS/PPS live in [`VideoInfo`] and the muxers put
//!   them where their format wants them (in `avcC` for MP4, before each IDR for MPEG-TS).
//! - AAC is raw access units (no ADTS header); its AudioSpecificConfig is in [`AudioCodec`].

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

/// Ticks per second of every hub timestamp (the MPEG-TS and RTP video clock).
pub const TIMEBASE: i64 = 90_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    Video,
    Audio,
}

/// One access unit (a video frame or an audio frame).
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    pub stream: StreamKind,
    /// Presentation time, [`TIMEBASE`] ticks.
    pub pts: i64,
    /// Decode time, [`TIMEBASE`] ticks; equal to `pts` without B-frames (and for audio).
    pub dts: i64,
    /// An IDR picture (video); every audio frame counts as one.
    pub keyframe: bool,
    /// See the module documentation for the framing.
    pub data: Bytes,
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("stream", &self.stream)
            .field("pts", &self.pts)
            .field("dts", &self.dts)
            .field("keyframe", &self.keyframe)
            .field("len", &self.data.len())
            .finish()
    }
}

impl Packet {
    pub fn is_video(&self) -> bool {
        self.stream == StreamKind::Video
    }

    pub fn is_video_keyframe(&self) -> bool {
        self.stream == StreamKind::Video && self.keyframe
    }
}

/// What a consumer needs to decode or remux the session's packets. Replaced (a new `Arc`)
/// whenever the camera changes its parameters (a new SPS, a reconnect to another format).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub video: VideoInfo,
    /// `None` when the camera sends no audio or audio the hub cannot carry.
    pub audio: Option<AudioInfo>,
}

impl StreamInfo {
    /// The MIME type with codecs for Media Source Extensions, e.g.
    /// `video/mp4; codecs="avc1.42c01e,mp4a.40.2"`. Audio the MP4 muxer does not carry is left
    /// out.
    pub fn mp4_mime(&self) -> String {
        let mut codecs = vec![self.video.rfc6381()];
        if let Some(a) = self.audio.as_ref().and_then(AudioInfo::rfc6381) {
            codecs.push(a);
        }
        format!("video/mp4; codecs=\"{}\"", codecs.join(","))
    }
}

/// An H.264 stream's parameters.
#[derive(Clone, PartialEq)]
pub struct VideoInfo {
    /// Display size from the SPS (cropping applied).
    pub width: u32,
    pub height: u32,
    /// The SPS and PPS NAL units (with their NAL header byte, without start code).
    pub sps: Bytes,
    pub pps: Bytes,
    /// Frames per second declared in the SPS's timing info, when there is one.
    pub fps: Option<f64>,
}

impl std::fmt::Debug for VideoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoInfo")
            .field("codec", &self.rfc6381())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("fps", &self.fps)
            .finish_non_exhaustive()
    }
}

impl VideoInfo {
    /// Builds the info from an SPS and a PPS, reading the size from the SPS.
    pub fn from_parameter_sets(sps: Bytes, pps: Bytes) -> Result<Self, String> {
        let parsed = crate::hub::h264::parse_sps(&sps)?;
        Ok(VideoInfo {
            width: parsed.width,
            height: parsed.height,
            fps: parsed.fps,
            sps,
            pps,
        })
    }

    /// `avc1.PPCCLL` (profile, constraint flags, level from the SPS).
    pub fn rfc6381(&self) -> String {
        match self.sps.get(1..4) {
            Some(b) => format!("avc1.{:02x}{:02x}{:02x}", b[0], b[1], b[2]),
            None => "avc1".into(),
        }
    }

    /// The AVCDecoderConfigurationRecord (the body of an MP4 `avcC` box, FFmpeg's H.264
    /// extradata).
    pub fn avcc(&self) -> Vec<u8> {
        let sps = &self.sps;
        let mut out = Vec::with_capacity(11 + sps.len() + self.pps.len() + 4);
        out.push(1); // configurationVersion
        out.extend_from_slice(sps.get(1..4).unwrap_or(&[0x42, 0, 0x1e]));
        out.push(0xff); // reserved 6 bits + lengthSizeMinusOne = 3
        out.push(0xe1); // reserved 3 bits + one SPS
        out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        out.extend_from_slice(sps);
        out.push(1); // one PPS
        out.extend_from_slice(&(self.pps.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.pps);
        let profile = sps.get(1).copied().unwrap_or(0);
        if matches!(profile, 100 | 110 | 122 | 144) {
            // High profiles carry chroma format and bit depths; 4:2:0 8-bit is what cameras
            // send and what a wrong guess would break least.
            out.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0x00]);
        }
        out
    }
}

/// The audio codecs the hub knows. Only AAC is carried by the TS and MP4 muxers today; G.711
/// is kept in the packet model so a consumer that transcodes can use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioCodec {
    /// MPEG-4 AAC with its AudioSpecificConfig.
    Aac { config: Bytes },
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    pub codec: AudioCodec,
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioInfo {
    /// `mp4a.40.N` for AAC; `None` for codecs MP4 previews do not carry.
    pub fn rfc6381(&self) -> Option<String> {
        match &self.codec {
            AudioCodec::Aac { config } => {
                let aot = config.first().map(|b| b >> 3).unwrap_or(2);
                Some(format!("mp4a.40.{aot}"))
            }
            _ => None,
        }
    }

    pub fn is_aac(&self) -> bool {
        matches!(self.codec, AudioCodec::Aac { .. })
    }

    /// Builds an AAC info from an AudioSpecificConfig.
    pub fn aac(config: Bytes) -> Result<Self, String> {
        let asc = crate::hub::h264::AacConfig::parse(&config)?;
        Ok(AudioInfo {
            codec: AudioCodec::Aac { config },
            sample_rate: asc.sample_rate,
            channels: asc.channels as u16,
        })
    }
}

/// A packet as it travels through a session's fan-out: with the parameters it belongs to,
/// so a consumer that skipped ahead (or joined late) knows which ones apply.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub packet: Packet,
    pub info: Arc<StreamInfo>,
    /// When the session received it (its latency and lag are measured from here).
    pub arrival: tokio::time::Instant,
}
