//! The stream engine: supervises every FFmpeg child of the appliance (camera ingests, the
//! program encoder, egress), parses their progress and picks the H.264 encoder.
//!
//! It is the only crate that knows FFmpeg: every command line, every output-format choice and
//! every bounded one-shot run is in [`ffmpeg`].
//!
//! Entry points: [`supervise`] runs one process under a [`SupervisorHandle`];
//! [`probe_encoders`] and [`ffmpeg_version`] inspect the installed FFmpeg; [`ffmpeg::probe`]
//! looks at a camera; [`hub::CameraHub`] keeps one session per camera for every consumer;
//! [`Program::start`] runs a program feed (hub cameras switched into one continuous encoded
//! output with a slate and overlays, see [`program`]).
//!
//! An ingest whose decoded frames are read from stdout while progress travels on fd 3:
//!
//! ```no_run
//! use vs_engine::*;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo(shutdown: CancellationToken) -> vs_base::Result<()> {
//! let spec = ProcessSpec::new("ingest camera 3", "ffmpeg")
//!     .args(["-hide_banner", "-nostdin", "-rw_timeout", "5000000"])
//!     .args(["-i", "rtsp://user:pw@192.168.1.50/stream1"])
//!     .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "30", "pipe:1"])
//!     .stdin(StdinMode::Null)
//!     .stdout(StdoutMode::Media)
//!     // Every log line the supervisor writes about this child is inside this span.
//!     .span(tracing::info_span!("ffmpeg", role = "ingest", camera_id = 3));
//! let mut sup = supervise(spec, SupervisorConfig::default(), Deps::real(), shutdown);
//! sup.handle.start().await?;
//! while let Some(io) = sup.media.recv().await {
//!     let _frames = io.stdout; // one new pipe per run
//!     let status = sup.handle.status(); // or sup.handle.subscribe() for changes
//!     tracing::info!(state = ?status.state, restarts = status.restarts, "ingest");
//! }
//! # Ok(())
//! # }
//! ```

pub mod backoff;
pub mod clock;
pub mod encoder;
pub mod ffmpeg;
pub mod framepipe;
pub mod framepool;
pub mod hub;
pub mod memory;
pub mod program;
pub mod progress;
pub mod publish;
pub mod spawner;
pub mod supervisor;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod x264_preset;

pub use backoff::BackoffPolicy;
pub use clock::{Clock, TokioClock};
pub use encoder::{
    probe_encoders, probe_encoders_with, EncoderProbe, EncoderResult, ProbeOptions, CANDIDATES,
};
pub use ffmpeg::ffmpeg_version;
pub use program::{
    AudioBed, AudioSettings, AudioStatus, BedMode, ImageData, IngestStatus, LevelReading,
    OutputSpec, OutputStatus, Overlay, OverlayKind, Preroll, PrerollStatus, Program, ProgramConfig,
    ProgramHandle, ProgramStatus, Rgba, SlateSpec, SourceAudioStatus, SourceGain, SourceSpec,
    TakeStatus, TapChunk, TextStyle,
};
pub use progress::{Progress, ProgressParser};
pub use spawner::{
    BoxRead, BoxWrite, ChildControl, Exit, MediaWrite, ProcessSpec, ProgressSource, SpawnedChild,
    Spawner, StdinMode, StdoutMode, TokioSpawner,
};
pub use supervisor::{
    supervise, Command, Deps, MediaIo, Shutdown, State, Status, Supervised, SupervisorConfig,
    SupervisorHandle,
};
pub use x264_preset::{
    choose_preset, probe_x264_preset, probe_x264_preset_with, PresetProbe, PresetProbeOptions,
    PresetTrial, DEFAULT_X264_PRESET, REALTIME_HEADROOM, X264_PRESETS,
};
