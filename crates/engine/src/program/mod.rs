//! The program feed: one continuous output with live camera switching, a slate and overlays.
//!
//! ```text
//!  camera A ─ hub session (always on) ─┬─ HubDecoder ─ live raw frames ─ newest-frame slot ─┐
//!  camera B ─ hub session (always on) ─┼─ HubDecoder ─ live raw frames ─ newest-frame slot ─┤
//!  camera C ─ hub session (always on) ─┘  (decoders for on air / taken / pre-rolled only)   │
//!      (packets only, shared with previews, copy streams, snapshots)                        ▼
//!              program clock (one tick per frame: newest frame, repeat, or slate; overlays)
//!                                                              │ raw yuv420p, exactly fps
//!                         encoder FFmpeg (+ silent AAC) ─ MPEG-TS ─ fan-out ─┬─ publisher (in process) → RTMP(S) 1
//!                                                                            ├─ publisher (in process) → RTMP(S) 2
//!                                                                            └─ egress FFmpeg → SRT
//! ```
//!
//! The cameras come from the [camera hub](crate::hub): each enabled camera has one session
//! that stays connected (packets only, no decoding) whatever the program does, with a cache of
//! the packets since its last keyframe. A source being decoded has a
//! [`HubDecoder`](crate::hub::HubDecoder) at the program's size: an FFmpeg fed the session's
//! packets on stdin (it never sees the camera's address or credentials). A take of a source
//! that is not pre-rolled starts its decoder from the cached keyframe; the decoder catches up
//! with live faster than real time, and the switcher commits the take at the first tick at
//! which that decoder has a live frame — never on the cached keyframe, so what goes on air is
//! as new as the take. A pre-rolled source (its decoder running) is on air at the next tick.
//! A released source's decoder stops; its session stays. When the camera is lost, the slate
//! goes on air after `source_timeout`; the decoder waits on its subscription and the camera
//! is back on air by itself when its session plays again.
//!
//! The encoder never sees a switch, a camera loss or an overlay change: its input is a constant
//! frame rate of raw frames, so its output timestamps are constant by construction and the RTMP
//! sessions (owned by in-process publishers, [`crate::publish`], so no stream key is on a
//! command line) survive everything, an encoder restart included (its new timestamps are
//! stitched on). Every FFmpeg runs under [`supervise`](crate::supervise).
//!
//! Sound follows the picture: each decoded camera's audio (tapped from its decoder's feed and
//! decoded in-process) is mixed at each tick with the picture of that tick (see [`audio`]):
//! per-camera gains, a master gain, an optional looping bed and a limiter, metered in the
//! status, changed live with [`ProgramHandle::set_audio`]. The slate and cameras without
//! audio are silence; the program always carries AAC.
//!
//! ```no_run
//! use std::time::Duration;
//! use vs_engine::hub::{CameraHub, HubOptions, SourceConfig};
//! use vs_engine::*;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo(shutdown: CancellationToken) -> vs_base::Result<()> {
//! let hub = CameraHub::new(HubOptions::default(), Deps::real(), shutdown.clone());
//! for (id, url) in [(3, "rtsp://192.168.1.50/stream1"), (4, "rtsp://192.168.1.51/stream1")] {
//!     let parsed = vs_base::StreamUrl::parse(url, "address")?;
//!     let cfg = SourceConfig::new(parsed.url).credentials("admin", vs_base::Secret::new("pw"));
//!     hub.configure(id, cfg).await?;
//! }
//!
//! let mut cfg = ProgramConfig::new("Main", 1280, 720, 30);
//! cfg.encoder = "libx264".into(); // `probe_encoders(..).selected`
//! let mut yt = OutputSpec::new(1, "YouTube", "rtmp://a.rtmp.youtube.com/live2/KEY");
//! yt.secrets.push(vs_base::Secret::new("KEY"));
//! cfg.outputs.push(yt);
//! let program = Program::start(cfg, Deps::real(), shutdown).await?;
//!
//! let dock = SourceSpec::hub(&hub, 3, "Dock");
//! let gate = SourceSpec::hub(&hub, 4, "Gate");
//! program.take(dock).await?; // from the cached keyframe: on air as soon as it is live
//! program.preroll(gate.clone()).await?; // decoded, not on air: the take below is at the next tick
//! program.set_overlays(vec![Overlay {
//!     id: 1,
//!     visible: true,
//!     kind: OverlayKind::Clock {
//!         format: "%H:%M".into(),
//!         tz: chrono_tz::America::New_York,
//!         x: 24,
//!         y: 660,
//!         style: TextStyle::default(),
//!     },
//! }])
//! .await?;
//! program.take(gate).await?;
//! program.release(3).await?; // Dock's decoder stops, its session stays connected
//! program.hold(Duration::from_secs(10)); // freeze while the on-air camera moves
//! program.unhold();
//! let status = program.status(); // or program.subscribe()
//! println!("on air: {:?}, slate: {}, last take: {:?}", status.on_air, status.slate_active, status.last_take);
//! program.stop().await;
//! # Ok(())
//! # }
//! ```

mod adapt;
pub mod audio;
mod clock;
mod config;
mod egress;
mod encoder;
mod fanout;
mod handle;
mod ingest;
mod overlay;
mod pixels;
mod preroll;
mod slate;
mod slot;
mod status;
mod switcher;
mod text;
mod ticker;
pub mod tsgop;
mod warm;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tracing::info;
use vs_base::{Error, Result};

use crate::hub::{DecoderOptions, HubDecoder};
use crate::supervisor::{supervise, Deps, Shutdown};

pub use adapt::fitting_video_kbps;
pub use audio::{
    AudioBed, AudioSettings, AudioStatus, BedMode, BedStatus, LevelReading, SourceAudioStatus,
    SourceGain,
};
pub use config::{OutputSpec, Preroll, ProgramConfig, SlateSpec, SourceSpec};
pub use handle::ProgramHandle;
pub use overlay::{decode_png, encode_png, ImageData, Overlay, OverlayKind, TextStyle};
pub use pixels::{rgb_to_yuv, yuv_to_rgb, Rgba, RgbaImage};
pub use preroll::PrerollStatus;
pub use status::{IngestStatus, OutputStatus, ProgramStatus, TakeStatus};
pub use text::FONT_PATHS;

use fanout::FanOut;
pub use fanout::TapChunk;
use handle::Inner;
use overlay::Overlays;
use switcher::{Selection, Stats, Switcher};

/// Starts programs.
pub struct Program;

impl Program {
    /// Starts the encoder and the egress processes and the program clock; the program shows
    /// the slate until the first [`ProgramHandle::take`]. Fails on an invalid configuration,
    /// a missing font or an unreadable slate image; FFmpeg failures are retried by the
    /// supervisors and visible in the status.
    pub async fn start(
        config: ProgramConfig,
        deps: Deps,
        shutdown: impl Into<Shutdown>,
    ) -> Result<ProgramHandle> {
        config.validate()?;
        let shutdown: Shutdown = shutdown.into();
        let font = text::load_font(config.font.as_deref())?;
        let slate = {
            let (cfg, font) = (config.clone(), font.clone());
            tokio::task::spawn_blocking(move || slate::render_slate(&cfg, &font))
                .await
                .map_err(Error::internal)??
        };
        let cancel = shutdown.graceful.child_token();
        let sup_shutdown = Shutdown {
            graceful: cancel.clone(),
            immediate: shutdown.immediate.clone(),
        };
        let mut tasks = Vec::new();
        let mut supervisors = Vec::new();

        let (overlays, overlay_rx, t) =
            Overlays::spawn(config.width, config.height, font, cancel.clone());
        tasks.push(t);

        // Egress first, so they hold their pipes when the encoder's first key frame comes.
        let mut fanout = FanOut::new();
        let mut egress = Vec::new();
        for out in &config.outputs {
            let (rx, stats) = fanout.subscribe(egress::EGRESS_QUEUE_CHUNKS);
            match egress::Egress::start(&config, out, rx, stats, deps.clone(), cancel.clone()).await
            {
                Ok(e) => egress.push(e),
                Err(e) => {
                    // Nothing half-started stays behind.
                    for started in &egress {
                        started.stop().await;
                    }
                    cancel.cancel();
                    return Err(e);
                }
            }
        }

        let enc = supervise(
            encoder::encoder_spec(&config),
            encoder::encoder_supervision(),
            deps.clone(),
            sup_shutdown.clone(),
        );
        supervisors.push(enc.task);
        let stats = Arc::new(Stats::default());
        let (frames_tx, frames_rx) = mpsc::channel(encoder::ENCODER_QUEUE_FRAMES);
        let (stdin_tx, stdin_rx) = mpsc::channel(4);
        let fanout = Arc::new(fanout);
        tasks.push(tokio::spawn(encoder::encoder_io(
            enc.media,
            stdin_tx,
            fanout.clone(),
            cancel.clone(),
        )));
        tasks.push(tokio::spawn(encoder::frame_writer(
            frames_rx,
            stdin_rx,
            stats.clone(),
            cancel.clone(),
        )));
        enc.handle.start().await?;
        let warm = warm::WarmSpawner::start(
            deps.spawner.clone(),
            HubDecoder::process_spec(&decoder_options(&config), 0),
            cancel.child_token(),
        );
        let decoder_deps = Deps {
            spawner: warm.clone(),
            clock: deps.clock.clone(),
        };

        let selection = Arc::new(Mutex::new(Selection::default()));
        let status_kick = Arc::new(tokio::sync::Notify::new());
        let switcher = Switcher::new(
            selection.clone(),
            stats.clone(),
            slot::FrameData::from(slate),
            config.source_timeout,
            config.take_timeout,
            config.take_max_age,
            status_kick.clone(),
        );
        let audio_shared = Arc::new(audio::AudioShared::default());
        let (audio_tx, audio_rx) = watch::channel(Arc::new(config.audio.clone()));
        let audio_engine = config
            .sound
            .then(|| audio::AudioEngine::new(config.fps, audio_shared.clone(), audio_rx));
        tasks.push(tokio::spawn(clock::program_clock(
            switcher,
            audio_engine,
            config.fps,
            deps.clone(),
            overlay_rx,
            frames_tx,
            stats.clone(),
            cancel.clone(),
        )));

        let started_at = deps.clock.wall();
        let initial = ProgramStatus {
            name: config.name.clone(),
            on_air: None,
            pending_take: None,
            slate_active: true,
            held: false,
            ticks: 0,
            duplicated_frames: 0,
            slate_frames: 0,
            dropped_frames: 0,
            fps_measured: 0.0,
            encoder_name: config.encoder.clone(),
            encoder: enc.handle.status(),
            outputs: Vec::new(),
            ingests: Vec::new(),
            started_at,
            take_latency_ms: None,
            switch_gap_frames: None,
            last_take: None,
            video_bitrate_kbps: config.video_bitrate_kbps,
            bitrate_note: None,
            audio: AudioStatus::default(),
            preroll: PrerollStatus {
                mode: config.preroll,
                ..PrerollStatus::default()
            },
        };
        let (status_tx, status_rx) = watch::channel(initial);
        info!(program = %config.name, size = %format!("{}x{}", config.width, config.height),
              fps = config.fps, encoder = %config.encoder, outputs = config.outputs.len(), "program started");

        let (video_bitrate, adaptive) = (config.video_bitrate_kbps, config.adaptive_bitrate);
        let preroll = Arc::new(preroll::PrerollShared::new(config.preroll));
        let inner = Arc::new(Inner {
            config,
            deps,
            warm,
            decoder_deps,
            cancel,
            selection,
            stats,
            overlays,
            encoder: enc.handle,
            egress,
            ingests: Mutex::new(BTreeMap::new()),
            ops: tokio::sync::Mutex::new(false),
            tasks: Mutex::new(tasks),
            supervisors: Mutex::new(supervisors),
            status_tx,
            status_rx,
            started_at,
            status_kick,
            fanout,
            video_bitrate_kbps: std::sync::atomic::AtomicU32::new(video_bitrate),
            bitrate_note: Mutex::new(None),
            audio: audio_shared,
            audio_tx,
            preroll,
        });
        if adaptive {
            let t = tokio::spawn(adapt::adapt_task(
                Arc::downgrade(&inner),
                inner.cancel.clone(),
            ));
            inner.tasks.lock().expect("tasks lock").push(t);
        }
        for t in [
            tokio::spawn(preroll::economy_task(
                Arc::downgrade(&inner),
                inner.cancel.clone(),
            )),
            tokio::spawn(preroll::cost_task(
                Arc::downgrade(&inner),
                inner.cancel.clone(),
            )),
        ] {
            inner.tasks.lock().expect("tasks lock").push(t);
        }
        let t = tokio::spawn(status::status_task(
            Arc::downgrade(&inner),
            inner.cancel.clone(),
        ));
        inner.tasks.lock().expect("tasks lock").push(t);
        Ok(ProgramHandle { inner })
    }
}

/// How a program decodes its cameras: at its own size.
fn decoder_options(config: &ProgramConfig) -> DecoderOptions {
    let mut opts = DecoderOptions::new(config.width, config.height);
    opts.ffmpeg = config.ffmpeg.clone();
    opts.worker = config.decode_worker.clone();
    opts.kind = crate::hub::ConsumerKind::Program;
    opts
}
