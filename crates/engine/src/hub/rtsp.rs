//! RTSP cameras read in-process with `retina`: DESCRIBE, SETUP (H.264 video; AAC or G.711
//! audio when the camera offers it), PLAY over TCP interleaved, credentials handed over in
//! memory. No child process, no URL with a password anywhere.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use retina::client::{
    Credentials, Demuxed, InitialTimestampPolicy, PlayOptions, Session, SessionGroup,
    SessionOptions, SetupOptions, TeardownPolicy, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParametersCodec};

use super::packet::StreamInfo;
use super::packet::{AudioCodec, AudioInfo, StreamKind, VideoInfo, TIMEBASE};
use super::source::{Connection, SourceConfig, SourceFrame};

pub(crate) struct RtspConnection {
    demuxed: Demuxed,
    video: usize,
    audio: Option<usize>,
    video_info: Option<VideoInfo>,
    audio_info: Option<AudioInfo>,
    cfg: SourceConfig,
}

/// Audio encodings the hub sets up (retina depacketizes them and the packet model carries
/// them). Opus has no retina depacketizer: such cameras are read without audio.
fn audio_codec_supported(encoding: &str) -> bool {
    matches!(encoding, "mpeg4-generic" | "pcmu" | "pcma")
}

impl RtspConnection {
    pub(crate) async fn connect(
        cfg: &SourceConfig,
        group: Arc<SessionGroup>,
    ) -> Result<Self, String> {
        let url =
            url::Url::parse(cfg.url.as_str()).map_err(|e| format!("bad camera address: {e}"))?;
        let creds = cfg.credentials.as_ref().map(|(user, pw)| Credentials {
            username: user.clone(),
            password: pw.expose().to_string(),
        });
        let options = SessionOptions::default()
            .creds(creds)
            .user_agent("VistterStream".into())
            .session_group(group)
            .teardown(TeardownPolicy::Auto);
        let mut session = Session::describe(url, options)
            .await
            .map_err(|e| cfg.redact(&format!("RTSP DESCRIBE failed: {e}")))?;

        let streams = session.streams();
        let video = streams
            .iter()
            .position(|s| s.media() == "video" && s.encoding_name() == "h264")
            .ok_or_else(|| {
                let offered: Vec<String> = streams
                    .iter()
                    .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
                    .collect();
                format!(
                    "the camera offers no H.264 video (offered: {}); set it to H.264",
                    offered.join(", ")
                )
            })?;
        // An audio stream is set up only when retina can depacketize it (it has parameters):
        // retina's demuxer refuses the whole session over one set-up stream it cannot read, so
        // an unreadable audio configuration (e.g. an AAC config retina does not parse) would
        // otherwise cost the camera its picture too.
        let audio = streams.iter().position(|s| {
            s.media() == "audio"
                && audio_codec_supported(s.encoding_name())
                && s.parameters().is_some()
        });
        if audio.is_none() {
            if let Some(s) = streams.iter().find(|s| s.media() == "audio") {
                tracing::info!(
                    encoding = s.encoding_name(),
                    "camera audio not readable by the hub; video only"
                );
            }
        }

        let setup = || {
            SetupOptions::default()
                .transport(Transport::Tcp(Default::default()))
                .frame_format(FrameFormat::MP4)
        };
        session
            .setup(video, setup())
            .await
            .map_err(|e| cfg.redact(&format!("RTSP SETUP (video) failed: {e}")))?;
        if let Some(a) = audio {
            session
                .setup(a, setup())
                .await
                .map_err(|e| cfg.redact(&format!("RTSP SETUP (audio) failed: {e}")))?;
        }
        let playing = session
            .play(PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Permissive))
            .await
            .map_err(|e| cfg.redact(&format!("RTSP PLAY failed: {e}")))?;
        let demuxed = playing
            .demuxed()
            .map_err(|e| cfg.redact(&format!("RTSP stream not readable: {e}")))?;

        let mut conn = RtspConnection {
            demuxed,
            video,
            audio,
            video_info: None,
            audio_info: None,
            cfg: cfg.clone(),
        };
        // Known from the SDP for AAC and G.711: the first keyframe's info then has audio.
        conn.audio_info = audio.and_then(|a| conn.read_audio_params(a));
        conn.video_info = conn.read_video_params();
        Ok(conn)
    }

    fn read_video_params(&self) -> Option<VideoInfo> {
        match self.demuxed.streams()[self.video].parameters()? {
            ParametersRef::Video(v) => match v.codec_params() {
                VideoParametersCodec::H264 { sps, pps } => VideoInfo::from_parameter_sets(
                    sps.clone(),
                    pps.clone(),
                )
                .map_err(|e| tracing::warn!(error = %e, "camera sent unreadable H.264 parameters"))
                .ok(),
                _ => None,
            },
            _ => None,
        }
    }

    fn read_audio_params(&self, index: usize) -> Option<AudioInfo> {
        let stream = &self.demuxed.streams()[index];
        let ParametersRef::Audio(a) = stream.parameters()? else {
            return None;
        };
        match stream.encoding_name() {
            "mpeg4-generic" => AudioInfo::aac(Bytes::copy_from_slice(a.extra_data()))
                .map_err(
                    |e| tracing::warn!(error = %e, "camera sent an unreadable AAC configuration"),
                )
                .ok(),
            enc @ ("pcmu" | "pcma") => Some(AudioInfo {
                codec: if enc == "pcmu" {
                    AudioCodec::Pcmu
                } else {
                    AudioCodec::Pcma
                },
                sample_rate: a.clock_rate(),
                channels: a.channels().get(),
            }),
            _ => None,
        }
    }
}

/// RTP time (already extended to 64 bits by retina) to 90 kHz.
fn to_timebase(elapsed: i64, clock_rate: u32) -> i64 {
    if clock_rate as i64 == TIMEBASE {
        return elapsed;
    }
    ((elapsed as i128 * TIMEBASE as i128) / clock_rate.max(1) as i128) as i64
}

#[async_trait]
impl Connection for RtspConnection {
    fn transport(&self) -> &'static str {
        "rtsp"
    }

    fn info(&self) -> Option<StreamInfo> {
        Some(StreamInfo {
            video: self.video_info.clone()?,
            audio: self.audio_info.clone(),
        })
    }

    async fn next(&mut self) -> Result<SourceFrame, String> {
        loop {
            let item = match self.demuxed.next().await {
                Some(Ok(item)) => item,
                Some(Err(e)) => return Err(self.cfg.redact(&format!("RTSP stream failed: {e}"))),
                None => return Err("the camera closed the RTSP connection".into()),
            };
            match item {
                CodecItem::VideoFrame(f) if f.stream_id() == self.video => {
                    let mut info_changed = false;
                    if f.has_new_parameters() {
                        let new = self.read_video_params();
                        if new.is_some() && new != self.video_info {
                            self.video_info = new;
                            info_changed = true;
                        }
                    }
                    let ts = f.timestamp();
                    let t = to_timebase(ts.elapsed(), ts.clock_rate().get());
                    let keyframe = f.is_random_access_point();
                    let lost = f.loss() as u64;
                    return Ok(SourceFrame {
                        stream: StreamKind::Video,
                        pts: t,
                        dts: t,
                        keyframe,
                        data: Bytes::from(f.into_data()),
                        info_changed,
                        lost,
                    });
                }
                CodecItem::AudioFrame(f) if Some(f.stream_id()) == self.audio => {
                    if self.audio_info.is_none() {
                        self.audio_info = self.audio.and_then(|a| self.read_audio_params(a));
                        if self.audio_info.is_none() {
                            continue;
                        }
                    }
                    let ts = f.timestamp();
                    let t = to_timebase(ts.elapsed(), ts.clock_rate().get());
                    return Ok(SourceFrame {
                        stream: StreamKind::Audio,
                        pts: t,
                        dts: t,
                        keyframe: true,
                        data: Bytes::copy_from_slice(f.data()),
                        info_changed: false,
                        lost: f.loss() as u64,
                    });
                }
                _ => continue,
            }
        }
    }

    async fn close(self: Box<Self>) {
        // Dropping the session closes the TCP connection, which ends the camera's session (a
        // TEARDOWN is sent in the background where the camera needs one).
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_clocks_convert_to_the_hub_timebase() {
        assert_eq!(to_timebase(90_000, 90_000), 90_000);
        assert_eq!(to_timebase(48_000, 48_000), 90_000);
        assert_eq!(to_timebase(1024, 48_000), 1920);
        assert_eq!(to_timebase(8000, 8000), 90_000);
        assert_eq!(to_timebase(-8000, 8000), -90_000);
    }
}
