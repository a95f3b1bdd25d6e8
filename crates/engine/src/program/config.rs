//! What a program is made of: its settings, its destinations, its slate and the sources that
//! can be put on air. Checked once at start; changing any of them means a new program.

use std::path::PathBuf;
use std::time::Duration;

use vs_base::{Error, Result, Secret};

use super::pixels;
use crate::ffmpeg::InputTransport;

/// A destination of the program.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub id: i64,
    pub name: String,
    /// The full publish URL, stream key included (`rtmp://a.rtmp.youtube.com/live2/KEY`).
    pub url: String,
    /// Masked in every log and status message: put the stream key here.
    pub secrets: Vec<Secret>,
}

impl OutputSpec {
    pub fn new(id: i64, name: impl Into<String>, url: impl Into<String>) -> Self {
        OutputSpec {
            id,
            name: name.into(),
            url: url.into(),
            secrets: Vec::new(),
        }
    }
}

/// What is shown while the on-air source has no picture.
#[derive(Debug, Clone)]
pub struct SlateSpec {
    pub text: String,
    /// A PNG shown above the text, scaled to fit.
    pub image: Option<PathBuf>,
}

impl Default for SlateSpec {
    fn default() -> Self {
        SlateSpec {
            text: "We'll be right back".into(),
            image: None,
        }
    }
}

/// A camera (or any FFmpeg-readable URL) that can be put on air.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The camera's id: sources are named by it in takes, releases and the status.
    pub id: i64,
    pub name: String,
    /// With credentials; they are redacted from logs.
    pub url: String,
    pub secrets: Vec<Secret>,
    /// RTSP: TCP transport and a socket timeout. Otherwise a read/write timeout on network
    /// URLs.
    pub rtsp: bool,
}

impl SourceSpec {
    pub fn new(id: i64, name: impl Into<String>, url: impl Into<String>) -> Self {
        let url = url.into();
        SourceSpec {
            id,
            name: name.into(),
            rtsp: url.starts_with("rtsp://") || url.starts_with("rtsps://"),
            url,
            secrets: Vec::new(),
        }
    }

    pub fn rtsp(mut self, rtsp: bool) -> Self {
        self.rtsp = rtsp;
        self
    }

    /// How its ingest bounds reads: from the `rtsp` flag, else from the URL.
    pub fn transport(&self) -> InputTransport {
        if self.rtsp {
            InputTransport::Rtsp
        } else if self.url.contains("://") {
            InputTransport::Network
        } else {
            InputTransport::Local
        }
    }
}

/// Settings of one program. Changing any of them means a new program (a new encoder).
#[derive(Debug, Clone)]
pub struct ProgramConfig {
    pub name: String,
    /// The program's id in the appliance, if it has one: it labels the logs of its children.
    pub id: Option<i64>,
    /// Even numbers (yuv420p).
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video_bitrate_kbps: u32,
    pub audio_bitrate_kbps: u32,
    /// An FFmpeg H.264 encoder name, normally [`EncoderProbe::selected`](crate::EncoderProbe).
    pub encoder: String,
    pub ffmpeg: PathBuf,
    pub outputs: Vec<OutputSpec>,
    pub slate: SlateSpec,
    /// The on-air source is replaced by the slate after this long without a new frame.
    pub source_timeout: Duration,
    /// A taken source that delivers no frame goes on air (showing the slate) after this long;
    /// until then the previous source stays on air.
    pub take_timeout: Duration,
    /// The font of the slate and of text overlays without their own; the first of
    /// [`FONT_PATHS`](super::FONT_PATHS) found when `None`.
    pub font: Option<PathBuf>,
}

impl ProgramConfig {
    /// libx264, 2500 kbit/s video per 720p30-equivalent, 128 kbit/s audio, no output yet.
    pub fn new(name: impl Into<String>, width: u32, height: u32, fps: u32) -> Self {
        let pixels_per_s = width as u64 * height as u64 * fps as u64;
        let kbps = (pixels_per_s * 2500 / (1280 * 720 * 30)).clamp(300, 12_000) as u32;
        ProgramConfig {
            name: name.into(),
            id: None,
            width,
            height,
            fps,
            video_bitrate_kbps: kbps,
            audio_bitrate_kbps: 128,
            encoder: "libx264".into(),
            ffmpeg: "ffmpeg".into(),
            outputs: Vec::new(),
            slate: SlateSpec::default(),
            source_timeout: Duration::from_secs(1),
            take_timeout: Duration::from_secs(10),
            font: None,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        if self.width < 16 || self.height < 16 || self.width > 7680 || self.height > 4320 {
            return Err(Error::invalid(
                "size",
                "must be between 16x16 and 7680x4320",
            ));
        }
        if (self.width | self.height) & 1 != 0 {
            return Err(Error::invalid("size", "width and height must be even"));
        }
        if !(1..=120).contains(&self.fps) {
            return Err(Error::invalid("fps", "must be between 1 and 120"));
        }
        if self.video_bitrate_kbps < 50 || self.audio_bitrate_kbps < 16 {
            return Err(Error::invalid("bitrate", "too low"));
        }
        if self.encoder.is_empty() || self.encoder.starts_with('-') {
            return Err(Error::invalid("encoder", "not an encoder name"));
        }
        let mut ids: Vec<i64> = self.outputs.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.outputs.len() {
            return Err(Error::invalid("outputs", "duplicate output id"));
        }
        Ok(())
    }

    pub(super) fn frame_len(&self) -> usize {
        pixels::frame_len(self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(ProgramConfig::new("p", 1280, 720, 30).validate().is_ok());
        assert!(ProgramConfig::new("p", 1281, 720, 30).validate().is_err());
        assert!(ProgramConfig::new("p", 1280, 720, 0).validate().is_err());
        let mut c = ProgramConfig::new("p", 1280, 720, 30);
        c.outputs = vec![
            OutputSpec::new(1, "a", "rtmp://x/a"),
            OutputSpec::new(1, "b", "rtmp://x/b"),
        ];
        assert!(c.validate().is_err());
        assert_eq!(
            ProgramConfig::new("p", 1280, 720, 30).video_bitrate_kbps,
            2500
        );
    }
}
