//! The program's sound: each decoded camera's audio (tapped from its [`HubDecoder`]'s feed,
//! decoded in-process, see `decode`) waits in a jitter buffer (`buffer`); at every tick of the
//! program clock the [`AudioEngine`] pulls one block of 48000/fps frames from each, mixes the
//! on-air camera's (the camera whose picture the switcher chose at that same tick) with the
//! bed, gains and limiter (`mixer`), meters it (`meter`), and hands the block to the encoder
//! writer with that tick's frame. The encoder therefore counts audio time in samples from the
//! program clock, exactly as it counts video in frames: monotonic and in step whatever any
//! camera's audio clock does.
//!
//! [`HubDecoder`]: crate::hub::HubDecoder

mod buffer;
mod decode;
pub(crate) mod feed;
mod meter;
pub mod mixer;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use buffer::{BufferStats, SourceAudio};
pub use meter::LevelReading;
use meter::Meter;
use mixer::{block_frames, to_s16le, Mixer};

/// The program's audio sample rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Bytes per frame of the encoder's PCM input (s16le stereo).
pub const BYTES_PER_FRAME: usize = 4;

/// The longest bed kept (its decoded samples stay in memory: 46 MB at this length).
pub const MAX_BED_SECONDS: u32 = 120;

/// The containers a bed may be (FFmpeg demuxer names): WAV, MP3, FLAC, Ogg, MP4/M4A, ADTS
/// AAC, Matroska/WebM.
pub const BED_FORMATS: &str = "wav,mp3,flac,ogg,mov,aac,matroska";

/// Decodes an audio file ([`BED_FORMATS`]) once, to what the mixer loops: 48 kHz
/// interleaved stereo, at most [`MAX_BED_SECONDS`]. A bounded FFmpeg run (30 s).
pub async fn decode_bed(
    ffmpeg: &std::path::Path,
    file: &std::path::Path,
) -> vs_base::Result<Vec<f32>> {
    let args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        // An uploaded file is read as audio only: a playlist (HLS, concat) that names other
        // files or URLs is refused, not followed.
        "-format_whitelist",
        BED_FORMATS,
        "-protocol_whitelist",
        "file",
        "-i",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([file.display().to_string()])
    .chain(
        [
            "-vn",
            "-t",
            &MAX_BED_SECONDS.to_string(),
            "-f",
            "f32le",
            "-ac",
            "2",
            "-ar",
            "48000",
            "pipe:1",
        ]
        .map(String::from),
    )
    .collect();
    let out = crate::ffmpeg::run_bounded(ffmpeg, &args, std::time::Duration::from_secs(30))
        .await
        .map_err(vs_base::Error::internal)?;
    if !out.exit.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("FFmpeg failed").to_string();
        return Err(vs_base::Error::invalid(
            "bed",
            format!("the audio file cannot be decoded: {why}"),
        ));
    }
    let samples: Vec<f32> = out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if samples.len() < 2 * (SAMPLE_RATE as usize / 10) {
        return Err(vs_base::Error::invalid(
            "bed",
            "the audio file holds less than 0.1 s of sound",
        ));
    }
    Ok(samples)
}

/// How one camera sounds in the program.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceGain {
    /// Heard when on air.
    pub enabled: bool,
    /// Gain in dB (−60…+20).
    pub gain_db: f32,
}

impl Default for SourceGain {
    fn default() -> Self {
        SourceGain {
            enabled: true,
            gain_db: 0.0,
        }
    }
}

/// Whether the bed plays under the cameras' sound or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BedMode {
    #[default]
    Under,
    Instead,
}

/// A looping audio bed: decoded once (48 kHz interleaved stereo), played from its start when
/// set, looped without a gap.
#[derive(Clone)]
pub struct AudioBed {
    pub name: String,
    pub samples: Arc<Vec<f32>>,
    pub gain_db: f32,
    pub mode: BedMode,
}

impl AudioBed {
    pub fn frames(&self) -> usize {
        self.samples.len() / 2
    }
}

impl std::fmt::Debug for AudioBed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioBed")
            .field("name", &self.name)
            .field("frames", &self.frames())
            .field("gain_db", &self.gain_db)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The program's mix settings; replaced as a whole, live, by
/// [`ProgramHandle::set_audio`](super::ProgramHandle::set_audio).
#[derive(Debug, Clone, Default)]
pub struct AudioSettings {
    pub master_gain_db: f32,
    /// By camera id; a camera not listed is on at 0 dB.
    pub sources: BTreeMap<i64, SourceGain>,
    pub bed: Option<AudioBed>,
}

impl AudioSettings {
    pub fn source(&self, id: i64) -> SourceGain {
        self.sources.get(&id).copied().unwrap_or_default()
    }
}

/// One decoded camera's audio in the status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceAudioStatus {
    pub id: i64,
    /// The camera has sent audio the program can decode.
    pub has_audio: bool,
    /// Why its audio is not used, when it sends some the program cannot decode.
    pub error: Option<String>,
    pub enabled: bool,
    pub gain_db: f32,
    /// Its level before its gain (what the camera sends), on air or not.
    pub level: LevelReading,
    /// Times its audio stopped while playing (silence was sent instead).
    pub underruns: u64,
    /// Times its buffer started over (a jump in its timestamps, a burst).
    pub resyncs: u64,
}

/// The program's audio in the status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AudioStatus {
    /// The camera heard now (`None`: the slate, silence).
    pub on_air: Option<i64>,
    pub master_gain_db: f32,
    /// The program mix as encoded: peak, short-term and integrated loudness (EBU R128).
    pub program: LevelReading,
    /// The limiter's gain reduction now, dB (0 when it is not acting).
    pub limiter_db: f32,
    pub bed: Option<BedStatus>,
    pub sources: Vec<SourceAudioStatus>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BedStatus {
    pub name: String,
    pub gain_db: f32,
    pub mode: BedMode,
    pub seconds: f64,
}

/// What the feeds, the clock and the status share.
#[derive(Default)]
pub(crate) struct AudioShared {
    /// The decoded cameras' buffers, by camera id.
    pub sources: Mutex<BTreeMap<i64, Arc<SourceAudio>>>,
    /// Why a camera's audio is not used, by camera id.
    pub errors: Mutex<BTreeMap<i64, String>>,
    /// The latest readings, written by the clock at every tick.
    pub levels: Mutex<Levels>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Levels {
    pub on_air: Option<i64>,
    pub program: LevelReading,
    pub limiter_db: f32,
    pub sources: BTreeMap<i64, LevelReading>,
}

impl AudioShared {
    pub fn status(&self, settings: &AudioSettings) -> AudioStatus {
        let levels = self.levels.lock().expect("levels lock").clone();
        let errors = self.errors.lock().expect("audio errors lock").clone();
        let sources = self
            .sources
            .lock()
            .expect("audio sources lock")
            .iter()
            .map(|(id, s)| {
                let stats = s.stats();
                let g = settings.source(*id);
                SourceAudioStatus {
                    id: *id,
                    has_audio: stats.has_audio,
                    error: errors.get(id).cloned(),
                    enabled: g.enabled,
                    gain_db: g.gain_db,
                    level: levels.sources.get(id).cloned().unwrap_or_default(),
                    underruns: stats.underruns,
                    resyncs: stats.resyncs,
                }
            })
            .collect();
        AudioStatus {
            on_air: levels.on_air,
            master_gain_db: settings.master_gain_db,
            program: levels.program,
            limiter_db: levels.limiter_db,
            bed: settings.bed.as_ref().map(|b| BedStatus {
                name: b.name.clone(),
                gain_db: b.gain_db,
                mode: b.mode,
                seconds: b.frames() as f64 / SAMPLE_RATE as f64,
            }),
            sources,
        }
    }
}

/// Runs in the program clock: one mixed, metered block of PCM per tick.
pub(crate) struct AudioEngine {
    fps: u32,
    tick: u64,
    mixer: Mixer,
    shared: Arc<AudioShared>,
    settings: watch::Receiver<Arc<AudioSettings>>,
    program_meter: Meter,
    source_meters: BTreeMap<i64, Meter>,
    blocks: BTreeMap<i64, Vec<f32>>,
    mix: Vec<f32>,
}

impl AudioEngine {
    pub fn new(
        fps: u32,
        shared: Arc<AudioShared>,
        settings: watch::Receiver<Arc<AudioSettings>>,
    ) -> Self {
        AudioEngine {
            fps,
            tick: 0,
            mixer: Mixer::new(),
            shared,
            settings,
            program_meter: Meter::program(fps),
            source_meters: BTreeMap::new(),
            blocks: BTreeMap::new(),
            mix: Vec::new(),
        }
    }

    /// The PCM (s16le stereo) of the next tick, whose picture is `on_air`'s (`None`: the
    /// slate).
    pub fn tick(&mut self, on_air: Option<i64>) -> Bytes {
        let n = block_frames(self.tick, self.fps);
        self.tick += 1;
        let sources: Vec<(i64, Arc<SourceAudio>)> = self
            .shared
            .sources
            .lock()
            .expect("audio sources lock")
            .iter()
            .map(|(id, s)| (*id, s.clone()))
            .collect();
        // Every decoded camera is drained at the program's rate, on air or not, so each one's
        // buffer stays at its target and a cut to it plays what it hears now.
        self.blocks
            .retain(|id, _| sources.iter().any(|(s, _)| s == id));
        self.source_meters
            .retain(|id, _| sources.iter().any(|(s, _)| s == id));
        for (id, src) in &sources {
            let block = self.blocks.entry(*id).or_default();
            src.pull(n, block);
            self.source_meters
                .entry(*id)
                .or_insert_with(|| Meter::source(self.fps))
                .add(block);
        }
        let settings = self.settings.borrow().clone();
        self.mixer
            .mix(on_air, &self.blocks, &settings, n, &mut self.mix);
        self.program_meter.add(&self.mix);
        {
            let mut levels = self.shared.levels.lock().expect("levels lock");
            levels.on_air = on_air;
            levels.program = self.program_meter.reading();
            levels.limiter_db = 20.0 * self.mixer.limiter_gain().log10();
            levels.sources = self
                .source_meters
                .iter()
                .map(|(id, m)| (*id, m.reading()))
                .collect();
        }
        let mut pcm = Vec::with_capacity(n * BYTES_PER_FRAME);
        to_s16le(&self.mix, &mut pcm);
        Bytes::from(pcm)
    }
}
