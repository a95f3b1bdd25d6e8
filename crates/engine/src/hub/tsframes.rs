//! MPEG-TS as hub frames: [`TsTracks`] turns demuxed access units into the hub's framing while
//! tracking the stream's parameters (shared by the FFmpeg pull of a camera and the program's
//! preview), and [`TsFmp4`] turns the program's own MPEG-TS into the fragmented MP4 a browser
//! plays, picture and sound, in process (no FFmpeg remux).

use bytes::Bytes;

use super::consumers::PreviewChunk;
use super::h264::AacConfig;
use super::mp4mux::Mp4Muxer;
use super::packet::{AudioInfo, Packet, StreamInfo, StreamKind, VideoInfo};
use super::source::SourceFrame;
use super::tsdemux::{TsDemuxer, TsUnit};

/// The parameters seen so far in a demuxed stream.
#[derive(Debug, Default)]
pub struct TsTracks {
    video: Option<VideoInfo>,
    audio: Option<AudioInfo>,
    aac: Option<AacConfig>,
}

impl TsTracks {
    /// The stream's parameters once a picture's SPS and PPS have been seen.
    pub fn info(&self) -> Option<StreamInfo> {
        Some(StreamInfo {
            video: self.video.clone()?,
            audio: self.audio.clone(),
        })
    }

    /// Whether AAC parameters have been seen.
    pub fn has_audio(&self) -> bool {
        self.aac.is_some()
    }

    /// One unit as a hub frame; `info_changed` when it brought new parameters.
    pub fn convert(&mut self, unit: TsUnit) -> SourceFrame {
        match unit {
            TsUnit::Video { pts, dts, au } => {
                let mut info_changed = false;
                let sps = au
                    .sps
                    .clone()
                    .or_else(|| self.video.as_ref().map(|v| v.sps.clone()));
                let pps = au
                    .pps
                    .clone()
                    .or_else(|| self.video.as_ref().map(|v| v.pps.clone()));
                if let (Some(sps), Some(pps)) = (sps, pps) {
                    let changed = self
                        .video
                        .as_ref()
                        .is_none_or(|v| v.sps != sps || v.pps != pps);
                    if changed {
                        match VideoInfo::from_parameter_sets(sps, pps) {
                            Ok(v) => {
                                self.video = Some(v);
                                info_changed = true;
                            }
                            Err(e) => tracing::warn!(error = %e, "ts: unreadable SPS"),
                        }
                    }
                }
                SourceFrame {
                    stream: StreamKind::Video,
                    pts,
                    dts,
                    keyframe: au.keyframe,
                    data: au.data,
                    info_changed,
                    lost: 0,
                }
            }
            TsUnit::Audio { pts, config, data } => {
                let mut info_changed = false;
                if self.aac != Some(config) {
                    self.aac = Some(config);
                    self.audio = AudioInfo::aac(config.to_asc()).ok();
                    info_changed = true;
                }
                SourceFrame {
                    stream: StreamKind::Audio,
                    pts,
                    dts: pts,
                    keyframe: true,
                    data,
                    info_changed,
                    lost: 0,
                }
            }
        }
    }
}

/// Video frames held at most, waiting for the first audio frame of a stream whose PMT
/// announces audio (the program's encoder writes its first AAC within a few frames; a stream
/// that never brings any must still play, silent).
const AUDIO_WAIT_FRAMES: usize = 30;

/// A program's MPEG-TS (one encoder run, starting at PAT, PMT and a keyframe) as fragmented
/// MP4: an init segment with the video and the AAC track, then one fragment per access unit.
/// The encoder's timestamps are the program clock's, so picture and sound keep the sync the
/// program gave them.
#[derive(Default)]
pub struct TsFmp4 {
    demux: TsDemuxer,
    tracks: TsTracks,
    mux: Option<Mp4Muxer>,
    /// Frames before the muxer exists (waiting for the parameters of both tracks).
    held: Vec<SourceFrame>,
}

impl TsFmp4 {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an init segment has been made (a run is being remuxed).
    pub fn has_run(&self) -> bool {
        self.mux.is_some()
    }

    /// Starts reading again after TS bytes were lost: the next bytes begin with PAT, PMT and a
    /// keyframe of the same run, whose fragments follow the ones already made (same init
    /// segment, same timeline).
    pub fn resync(&mut self) {
        self.demux = TsDemuxer::new();
    }

    /// Feeds TS bytes (any split); returns the chunks they complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<PreviewChunk> {
        let mut out = Vec::new();
        for unit in self.demux.feed(data) {
            let frame = self.tracks.convert(unit);
            self.admit(frame, &mut out);
        }
        out
    }

    fn admit(&mut self, frame: SourceFrame, out: &mut Vec<PreviewChunk>) {
        if let Some(mux) = self.mux.as_mut() {
            if !frame.info_changed {
                write(mux, &frame, out);
                return;
            }
            // New parameters: a new init segment, from this frame on.
            self.mux = None;
        }
        // Nothing before the first keyframe can be decoded.
        if self.held.is_empty() && !(frame.stream == StreamKind::Video && frame.keyframe) {
            return;
        }
        self.held.push(frame);
        let Some(info) = self.tracks.info() else {
            return;
        };
        let videos = self
            .held
            .iter()
            .filter(|f| f.stream == StreamKind::Video)
            .count();
        if self.demux.has_audio && !self.tracks.has_audio() && videos <= AUDIO_WAIT_FRAMES {
            return;
        }
        let mut mux = Mp4Muxer::new(&info);
        out.push(PreviewChunk::Init {
            mime: mux.mime(),
            data: Bytes::from(mux.init_segment()),
        });
        for f in self.held.drain(..) {
            write(&mut mux, &f, out);
        }
        self.mux = Some(mux);
    }
}

fn write(mux: &mut Mp4Muxer, f: &SourceFrame, out: &mut Vec<PreviewChunk>) {
    let p = Packet {
        stream: f.stream,
        pts: f.pts,
        dts: f.dts,
        keyframe: f.keyframe,
        data: f.data.clone(),
    };
    let mut buf = Vec::new();
    mux.write(&p, &mut buf);
    if !buf.is_empty() {
        out.push(PreviewChunk::Media {
            data: Bytes::from(buf),
            keyframe: p.is_video_keyframe(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boxes (type, payload) of a run of boxes.
    fn boxes(mut data: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        while data.len() >= 8 {
            let size = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
            assert!((8..=data.len()).contains(&size), "a well-formed box");
            out.push((data[4..8].try_into().unwrap(), &data[8..size]));
            data = &data[size..];
        }
        out
    }

    /// The payload of the box at `path` (top-level box first).
    fn find<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
        let (want, rest) = path.split_first()?;
        let body = boxes(data).into_iter().find(|(k, _)| k == *want)?.1;
        if rest.is_empty() {
            Some(body)
        } else {
            find(body, rest)
        }
    }

    /// A real program-like stream (H.264 + AAC in MPEG-TS, as the encoder writes it) becomes
    /// an init segment naming both codecs and fragments of both tracks, the first one a
    /// keyframe, whatever the read sizes.
    #[tokio::test]
    async fn program_ts_becomes_fmp4_with_picture_and_sound() {
        let out = tokio::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x90:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000",
                "-t",
                "2",
                "-c:v",
                "libx264",
                "-g",
                "25",
                "-bf",
                "0",
                "-c:a",
                "aac",
                "-ac",
                "2",
                "-f",
                "mpegts",
                "pipe:1",
            ])
            .output()
            .await
            .expect("ffmpeg runs");
        assert!(out.status.success());
        let ts = out.stdout;
        let mut conv = TsFmp4::new();
        let mut chunks = Vec::new();
        for piece in ts.chunks(1000) {
            chunks.extend(conv.push(piece));
        }
        let Some(PreviewChunk::Init { mime, data }) = chunks.first() else {
            panic!("an init segment first");
        };
        assert!(
            mime.starts_with("video/mp4; codecs=\"avc1.64") && mime.ends_with(",mp4a.40.2\""),
            "{mime}"
        );
        let moov = find(data, &[b"moov"]).expect("moov");
        let traks = boxes(moov).iter().filter(|(k, _)| k == b"trak").count();
        assert_eq!(traks, 2, "a video and an audio track");
        let media: Vec<_> = chunks[1..]
            .iter()
            .map(|c| match c {
                PreviewChunk::Media { data, keyframe } => (data.clone(), *keyframe),
                PreviewChunk::Init { .. } => panic!("one init segment"),
            })
            .collect();
        assert!(media[0].1, "starts at a keyframe");
        let track_of = |m: &Bytes| {
            let tfhd = find(m, &[b"moof", b"traf", b"tfhd"]).expect("moof/traf/tfhd");
            u32::from_be_bytes(tfhd[4..8].try_into().unwrap())
        };
        let video = media.iter().filter(|m| track_of(&m.0) == 1).count();
        let audio = media.iter().filter(|m| track_of(&m.0) == 2).count();
        // 2 s at 25 fps; 2 s of 1024-sample AAC frames at 48 kHz (93.75) plus the encoder's
        // priming frame and a last partial one.
        assert!((45..=50).contains(&video), "{video} video fragments");
        assert!((92..=97).contains(&audio), "{audio} audio fragments");
    }
}
