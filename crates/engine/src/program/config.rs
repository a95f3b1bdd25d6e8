//! What a program is made of: its settings, its destinations, its slate and the sources that
//! can be put on air. Checked once at start; changing any of them means a new program.

use std::path::PathBuf;
use std::time::Duration;

use vs_base::{Error, Result, Secret};

use crate::hub::CameraHub;
use crate::publish::PublishTarget;

/// A destination of the program.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub id: i64,
    pub name: String,
    /// The full publish URL, stream key included (`rtmp://a.rtmp.youtube.com/live2/KEY`).
    pub url: String,
    /// Masked in every log and status message: put the stream key here.
    pub secrets: Vec<Secret>,
    /// RTMPS: verify the server's certificate (off only for a self-signed test server).
    pub tls_verify: bool,
    /// Where to publish, split as the destination is stored (address, key, credentials);
    /// parsed from `url` when `None`.
    pub target: Option<PublishTarget>,
}

impl OutputSpec {
    pub fn new(id: i64, name: impl Into<String>, url: impl Into<String>) -> Self {
        OutputSpec {
            id,
            name: name.into(),
            url: url.into(),
            secrets: Vec::new(),
            tls_verify: true,
            target: None,
        }
    }

    /// The publish target: `target`, or `url` parsed.
    pub fn publish_target(&self) -> Result<PublishTarget> {
        match &self.target {
            Some(t) => Ok(t.clone()),
            None => PublishTarget::parse(&self.url, self.tls_verify)
                .map_err(|e| Error::invalid("outputs", e.message)),
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

/// A camera that can be put on air: named by its id in takes, releases and the status. Its
/// pictures come from camera `id`'s session of `hub`, shared with every other consumer of the
/// camera; it stays connected whatever the program does, so a take of a camera that is not
/// pre-rolled starts from its cached keyframe at once. The program decodes it with a
/// [`HubDecoder`](crate::hub::HubDecoder) and never connects to the camera itself.
#[derive(Clone)]
pub struct SourceSpec {
    pub id: i64,
    pub name: String,
    pub hub: CameraHub,
}

impl SourceSpec {
    /// Camera `id` of `hub`.
    pub fn hub(hub: &CameraHub, id: i64, name: impl Into<String>) -> Self {
        SourceSpec {
            id,
            name: name.into(),
            hub: hub.clone(),
        }
    }
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Which cameras a program keeps decoded, and so what a take costs.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Preroll {
    /// A pre-rolled camera (and the one taken from) stays decoded: a take of it is on air at
    /// the next tick, for the CPU of one more decoder.
    #[default]
    Instant,
    /// Only the on-air camera is decoded: a pre-roll decodes nothing, and a take starts its
    /// decoder from the hub's cached keyframe (on air once that decoder is live, a few hundred
    /// milliseconds); the camera taken from stops being decoded once the take is on air.
    Economy,
}

impl Preroll {
    pub fn as_str(self) -> &'static str {
        match self {
            Preroll::Instant => "instant",
            Preroll::Economy => "economy",
        }
    }

    /// The stored name back (`instant`, `economy`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instant" => Some(Preroll::Instant),
            "economy" => Some(Preroll::Economy),
            _ => None,
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
    /// Whether the program carries sound (true): camera audio mixed and AAC encoded. False
    /// only to measure what sound costs (`bench/program.sh`): no audio taps, no mixer, no AAC,
    /// a video-only output, which YouTube would drop, so the appliance never turns it off.
    pub sound: bool,
    /// Step the video bitrate down when a destination's uplink is congested, and back up
    /// when it recovers (see `program::adapt`).
    pub adaptive_bitrate: bool,
    /// An FFmpeg H.264 encoder name, normally [`EncoderProbe::selected`](crate::EncoderProbe).
    pub encoder: String,
    /// libx264's preset (one of [`X264_PRESETS`](crate::x264_preset::X264_PRESETS)), normally
    /// [`PresetProbe::selected`](crate::x264_preset::PresetProbe) at the program's size;
    /// hardware encoders ignore it.
    pub x264_preset: String,
    pub ffmpeg: PathBuf,
    /// The shared-memory decoder for the cameras (`vistterstream-decoder`); FFmpeg through
    /// pipes when `None` (see [`DecoderOptions::worker`](crate::hub::DecoderOptions)).
    pub decode_worker: Option<PathBuf>,
    pub outputs: Vec<OutputSpec>,
    pub slate: SlateSpec,
    /// The on-air source is replaced by the slate after this long without a new frame.
    pub source_timeout: Duration,
    /// A taken source that delivers no frame goes on air (showing the slate) after this long;
    /// until then the previous source stays on air.
    pub take_timeout: Duration,
    /// A take goes on air with a frame whose packet the camera's session received at most
    /// this long before the `take` call: never a cached or lagging picture.
    pub take_max_age: Duration,
    /// The font of the slate and of text overlays without their own; the first of
    /// [`FONT_PATHS`](super::FONT_PATHS) found when `None`.
    pub font: Option<PathBuf>,
    /// The audio mix at start; changed live with
    /// [`ProgramHandle::set_audio`](super::ProgramHandle::set_audio).
    pub audio: super::AudioSettings,
    /// Pre-roll at start; changed live with
    /// [`ProgramHandle::set_preroll`](super::ProgramHandle::set_preroll).
    pub preroll: Preroll,
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
            sound: true,
            adaptive_bitrate: false,
            encoder: "libx264".into(),
            x264_preset: crate::x264_preset::DEFAULT_X264_PRESET.into(),
            ffmpeg: "ffmpeg".into(),
            decode_worker: None,
            outputs: Vec::new(),
            slate: SlateSpec::default(),
            source_timeout: Duration::from_secs(1),
            take_timeout: Duration::from_secs(10),
            take_max_age: Duration::from_millis(200),
            font: None,
            audio: super::AudioSettings::default(),
            preroll: Preroll::Instant,
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
        if !crate::x264_preset::X264_PRESETS.contains(&self.x264_preset.as_str()) {
            return Err(Error::invalid(
                "x264_preset",
                format!(
                    "must be one of {}",
                    crate::x264_preset::X264_PRESETS.join(", ")
                ),
            ));
        }
        let mut ids: Vec<i64> = self.outputs.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.outputs.len() {
            return Err(Error::invalid("outputs", "duplicate output id"));
        }
        Ok(())
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
        let mut c = ProgramConfig::new("p", 1280, 720, 30);
        c.x264_preset = "placebo -x".into();
        assert!(c.validate().is_err());
        c.x264_preset = "superfast".into();
        assert!(c.validate().is_ok());
        assert_eq!(
            ProgramConfig::new("p", 1280, 720, 30).video_bitrate_kbps,
            2500
        );
    }
}
