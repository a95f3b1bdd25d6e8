//! The program feed: one continuous output with live camera switching, a slate and overlays.
//!
//! ```text
//!  camera A ─ ingest FFmpeg ─ raw frames ─ newest-frame slot ─┐
//!  camera B ─ ingest FFmpeg ─ raw frames ─ newest-frame slot ─┤  (on air / pre-rolled only)
//!                                                              ▼
//!              program clock (one tick per frame: newest frame, repeat, or slate; overlays)
//!                                                              │ raw yuv420p, exactly fps
//!                         encoder FFmpeg (+ silent AAC) ─ MPEG-TS ─ fan-out ─┬─ egress FFmpeg → RTMP 1
//!                                                                            └─ egress FFmpeg → RTMP 2
//! ```
//!
//! The encoder never sees a switch, a camera loss or an overlay change: its input is a constant
//! frame rate of raw frames, so its output timestamps are constant by construction and the RTMP
//! sessions (owned by the egress processes) survive everything but an encoder restart's brief
//! hiccup. Every FFmpeg runs under [`supervise`](crate::supervise).
//!
//! Camera audio is not passed through: the program always carries silent AAC.
//!
//! ```no_run
//! use std::time::Duration;
//! use vs_engine::*;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo(shutdown: CancellationToken) -> vs_base::Result<()> {
//! let mut cfg = ProgramConfig::new("Main", 1280, 720, 30);
//! cfg.encoder = "libx264".into(); // `probe_encoders(..).selected`
//! let mut yt = OutputSpec::new(1, "YouTube", "rtmp://a.rtmp.youtube.com/live2/KEY");
//! yt.secrets.push(vs_base::Secret::new("KEY"));
//! cfg.outputs.push(yt);
//! let program = Program::start(cfg, Deps::real(), shutdown).await?;
//!
//! let dock = SourceSpec::new(3, "Dock", "rtsp://user:pw@192.168.1.50/stream1");
//! let gate = SourceSpec::new(4, "Gate", "rtsp://user:pw@192.168.1.51/stream1");
//! program.preroll(gate.clone()).await?; // decoded, not on air: the take below is instant
//! program.take(dock).await?;
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
//! program.hold(Duration::from_secs(10)); // freeze while the on-air camera moves
//! program.unhold();
//! let status = program.status(); // or program.subscribe()
//! println!("on air: {:?}, slate: {}", status.on_air, status.slate_active);
//! program.stop().await;
//! # Ok(())
//! # }
//! ```

mod args;
mod fanout;
mod overlay;
mod pixels;
mod slot;
mod switcher;
mod text;
mod ticker;
pub mod tsgop;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vs_base::{Error, Result, Secret};

use crate::backoff::BackoffPolicy;
use crate::spawner::{BoxWrite, ProcessSpec, StdinMode, StdoutMode};
use crate::supervisor::{
    supervise, Deps, MediaIo, Shutdown, Status, SupervisorConfig, SupervisorHandle,
};

pub use overlay::{decode_png, encode_png, ImageData, Overlay, OverlayKind, TextStyle};
pub use pixels::{rgb_to_yuv, yuv_to_rgb, Rgba, RgbaImage};
pub use text::FONT_PATHS;

pub use fanout::TapChunk;
use fanout::{FanOut, QueueStats};
use overlay::{OverlaySet, Overlays};
use slot::{FrameData, FrameSlot};
use switcher::{Pending, Selection, Source, Stats, Switcher};
use ticker::Ticker;

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
}

/// Settings of one program. Changing any of them means a new program (a new encoder).
#[derive(Debug, Clone)]
pub struct ProgramConfig {
    pub name: String,
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
    /// [`FONT_PATHS`] found when `None`.
    pub font: Option<PathBuf>,
}

impl ProgramConfig {
    /// libx264, 2500 kbit/s video per 720p30-equivalent, 128 kbit/s audio, no output yet.
    pub fn new(name: impl Into<String>, width: u32, height: u32, fps: u32) -> Self {
        let pixels_per_s = width as u64 * height as u64 * fps as u64;
        let kbps = (pixels_per_s * 2500 / (1280 * 720 * 30)).clamp(300, 12_000) as u32;
        ProgramConfig {
            name: name.into(),
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

    fn validate(&self) -> Result<()> {
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

    fn frame_len(&self) -> usize {
        pixels::frame_len(self.width, self.height)
    }
}

/// One destination in the status.
#[derive(Debug, Clone, Serialize)]
pub struct OutputStatus {
    pub id: i64,
    pub name: String,
    pub status: Status,
    /// TS bytes this destination lost because its egress was behind.
    pub dropped_bytes: u64,
}

/// One running ingest in the status.
#[derive(Debug, Clone, Serialize)]
pub struct IngestStatus {
    pub id: i64,
    pub name: String,
    pub status: Status,
    pub frames: u64,
}

/// A snapshot of a program, published about twice a second and at every take.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramStatus {
    pub name: String,
    /// The source whose pictures are being sent (or would be: see `slate_active`).
    pub on_air: Option<i64>,
    /// A source taken but not on air yet (connecting).
    pub pending_take: Option<i64>,
    pub slate_active: bool,
    /// The picture is frozen by [`ProgramHandle::hold`].
    pub held: bool,
    pub ticks: u64,
    pub duplicated_frames: u64,
    pub slate_frames: u64,
    pub dropped_frames: u64,
    /// Frames written to the encoder per second, over the last second or so.
    pub fps_measured: f64,
    /// The H.264 encoder in use.
    pub encoder_name: String,
    /// The encoder process, with its speed and bitrate in `progress`.
    pub encoder: Status,
    pub outputs: Vec<OutputStatus>,
    pub ingests: Vec<IngestStatus>,
    pub started_at: SystemTime,
    /// From the last `take` call to the first frame of that source on air.
    pub take_latency_ms: Option<u64>,
    /// Ticks without a new frame right before the first frame of the last take.
    pub switch_gap_frames: Option<u64>,
}

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
            tokio::task::spawn_blocking(move || render_slate(&cfg, &font))
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
            let (rx, stats) = fanout.subscribe(EGRESS_QUEUE_CHUNKS);
            let spec = ProcessSpec {
                name: format!("program {} egress {}", config.name, out.name),
                program: config.ffmpeg.clone(),
                args: args::egress_args(&out.url),
                stdin: StdinMode::Media,
                secrets: out.secrets.clone(),
                ..Default::default()
            };
            let sup = supervise(
                spec,
                egress_supervision(),
                deps.clone(),
                sup_shutdown.clone(),
            );
            tasks.push(tokio::spawn(egress_writer(rx, sup.media, cancel.clone())));
            supervisors.push(sup.task);
            sup.handle.start().await?;
            egress.push(Egress {
                id: out.id,
                name: out.name.clone(),
                handle: sup.handle,
                stats,
            });
        }

        let enc_spec = ProcessSpec {
            name: format!("program {} encoder", config.name),
            program: config.ffmpeg.clone(),
            args: args::encoder_args(&config),
            stdin: StdinMode::Media,
            stdout: StdoutMode::Media,
            ..Default::default()
        };
        let enc = supervise(
            enc_spec,
            encoder_supervision(),
            deps.clone(),
            sup_shutdown.clone(),
        );
        supervisors.push(enc.task);
        let stats = Arc::new(Stats::default());
        let (frames_tx, frames_rx) = mpsc::channel(ENCODER_QUEUE_FRAMES);
        let (stdin_tx, stdin_rx) = mpsc::channel(4);
        let fanout = Arc::new(fanout);
        tasks.push(tokio::spawn(encoder_io(
            enc.media,
            stdin_tx,
            fanout.clone(),
            cancel.clone(),
        )));
        tasks.push(tokio::spawn(frame_writer(
            frames_rx,
            stdin_rx,
            stats.clone(),
            cancel.clone(),
        )));
        enc.handle.start().await?;

        let selection = Arc::new(Mutex::new(Selection::default()));
        let status_kick = Arc::new(tokio::sync::Notify::new());
        let switcher = Switcher::new(
            selection.clone(),
            stats.clone(),
            Arc::new(slate),
            config.source_timeout,
            config.take_timeout,
            status_kick.clone(),
        );
        tasks.push(tokio::spawn(program_clock(
            switcher,
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
        };
        let (status_tx, status_rx) = watch::channel(initial);
        info!(program = %config.name, size = %format!("{}x{}", config.width, config.height),
              fps = config.fps, encoder = %config.encoder, outputs = config.outputs.len(), "program started");

        let inner = Arc::new(Inner {
            config,
            deps,
            sup_shutdown,
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
        });
        let t = tokio::spawn(status_task(Arc::downgrade(&inner), inner.cancel.clone()));
        inner.tasks.lock().expect("tasks lock").push(t);
        Ok(ProgramHandle { inner })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle went away without `stop`: end the tasks; the supervisors stop their
        // children on the same token.
        self.cancel.cancel();
    }
}

/// Controls a running program. Cheap to clone.
#[derive(Clone)]
pub struct ProgramHandle {
    inner: Arc<Inner>,
}

const EGRESS_QUEUE_CHUNKS: usize = 512;
/// Frames waiting for the encoder's stdin: a few frames absorb scheduling jitter; more would
/// only add latency.
const ENCODER_QUEUE_FRAMES: usize = 3;
/// Further behind than this, the program clock skips ticks instead of bursting them.
const MAX_CLOCK_LAG: Duration = Duration::from_secs(1);

struct Egress {
    id: i64,
    name: String,
    handle: SupervisorHandle,
    stats: Arc<QueueStats>,
}

struct Ingest {
    spec: SourceSpec,
    handle: SupervisorHandle,
    slot: Arc<FrameSlot>,
    supervisor: JoinHandle<()>,
    reader: JoinHandle<()>,
}

struct Inner {
    config: ProgramConfig,
    deps: Deps,
    sup_shutdown: Shutdown,
    cancel: CancellationToken,
    selection: Arc<Mutex<Selection>>,
    stats: Arc<Stats>,
    overlays: Overlays,
    encoder: SupervisorHandle,
    egress: Vec<Egress>,
    ingests: Mutex<BTreeMap<i64, Ingest>>,
    /// Serializes take/preroll/release/stop; true once stopped.
    ops: tokio::sync::Mutex<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
    status_tx: watch::Sender<ProgramStatus>,
    status_rx: watch::Receiver<ProgramStatus>,
    started_at: SystemTime,
    status_kick: Arc<tokio::sync::Notify>,
    fanout: Arc<FanOut>,
}

impl ProgramHandle {
    /// The program's encoded MPEG-TS as it leaves the encoder, for a live preview: where to
    /// start (PAT, PMT and the packets since the last keyframe; empty before the first one),
    /// then the live chunks. A reader that falls behind loses chunks (it gets `Lagged`),
    /// never slows the program. It ends (`Closed`) only when the program is dropped; the
    /// caller's own stop tells it when to let go.
    pub fn tap_ts(&self) -> (Vec<Bytes>, broadcast::Receiver<TapChunk>) {
        self.inner.fanout.tap()
    }

    /// Puts `source` on air, starting its ingest if it is not running (or restarting it if
    /// its URL changed). Returns at once: the cut happens at the first tick at which the
    /// source has a fresh frame (the next tick for a pre-rolled source); until then the
    /// previous source (or the slate) stays on air. The previous source keeps being decoded,
    /// so a take back is instant too, until it is [`release`](Self::release)d.
    pub async fn take(&self, source: SourceSpec) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        let id = source.id;
        let src = self.ensure_ingest(source).await?;
        {
            let mut sel = self.inner.selection.lock().expect("selection lock");
            if sel.on_air.as_ref().is_some_and(|s| s.id == id) {
                sel.pending = None;
            } else {
                sel.pending = Some(Pending {
                    source: src,
                    since: self.inner.deps.clock.now(),
                });
            }
        }
        info!(program = %self.inner.config.name, source = id, "take");
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Cuts to the slate at the next tick (a gap in a timeline, or an operator's choice),
    /// cancelling a pending take. Sources keep being decoded until released, so a take back
    /// is instant.
    pub async fn take_slate(&self) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        {
            let mut sel = self.inner.selection.lock().expect("selection lock");
            sel.pending = None;
            sel.on_air = None;
            sel.hold_until = None;
        }
        info!(program = %self.inner.config.name, "take slate");
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Starts decoding `source` without putting it on air, so that a later take is instant.
    pub async fn preroll(&self, source: SourceSpec) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        self.ensure_ingest(source).await?;
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Stops the ingest of a source that is neither on air nor being taken. Releasing a source
    /// that has no ingest does nothing.
    pub async fn release(&self, id: i64) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Ok(());
        }
        {
            let sel = self.inner.selection.lock().expect("selection lock");
            let busy = sel.on_air.as_ref().is_some_and(|s| s.id == id)
                || sel.pending.as_ref().is_some_and(|p| p.source.id == id);
            if busy {
                return Err(Error::invalid_state(format!(
                    "source {id} is on air; take another source first"
                )));
            }
        }
        let ingest = self.inner.ingests.lock().expect("ingests lock").remove(&id);
        if let Some(ingest) = ingest {
            stop_ingest(ingest).await;
            info!(program = %self.inner.config.name, source = id, "ingest released");
        }
        drop(ops);
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Freezes the picture on air for at most `max` (until [`unhold`](Self::unhold) or a
    /// take): for moving the on-air camera to a preset without showing the move. Overlays
    /// (a clock) stay live.
    pub fn hold(&self, max: Duration) {
        let until = self.inner.deps.clock.now() + max;
        self.inner
            .selection
            .lock()
            .expect("selection lock")
            .hold_until = Some(until);
        self.inner.status_kick.notify_one();
    }

    pub fn unhold(&self) {
        self.inner
            .selection
            .lock()
            .expect("selection lock")
            .hold_until = None;
        self.inner.status_kick.notify_one();
    }

    /// Replaces the overlays atomically (validated and rendered first; on error the previous
    /// set stays). The encoder is not touched.
    pub async fn set_overlays(&self, overlays: Vec<Overlay>) -> Result<()> {
        self.inner.overlays.set(overlays).await
    }

    /// A fresh snapshot (counters as of now; `fps_measured` as of the last publication).
    pub fn status(&self) -> ProgramStatus {
        let fps = self.inner.status_rx.borrow().fps_measured;
        build_status(&self.inner, fps)
    }

    pub fn subscribe(&self) -> watch::Receiver<ProgramStatus> {
        self.inner.status_rx.clone()
    }

    pub fn config(&self) -> &ProgramConfig {
        &self.inner.config
    }

    /// Stops the program: egress first (each destination gets a clean end of stream), then
    /// the encoder, then the ingests, then the internal tasks. Every child is reaped when this
    /// returns. Calling it again does nothing.
    pub async fn stop(&self) {
        let mut ops = self.inner.ops.lock().await;
        if *ops {
            return;
        }
        *ops = true;
        let inner = &self.inner;
        futures_join(inner.egress.iter().map(|e| e.handle.stop())).await;
        let _ = inner.encoder.stop().await;
        let ingests: Vec<Ingest> =
            std::mem::take(&mut *inner.ingests.lock().expect("ingests lock"))
                .into_values()
                .collect();
        futures_join(ingests.into_iter().map(stop_ingest)).await;
        inner.cancel.cancel();
        let tasks = std::mem::take(&mut *inner.tasks.lock().expect("tasks lock"));
        let sups = std::mem::take(&mut *inner.supervisors.lock().expect("supervisors lock"));
        for t in sups.into_iter().chain(tasks) {
            let _ = t.await;
        }
        info!(program = %inner.config.name, "program stopped");
    }

    async fn ensure_ingest(&self, spec: SourceSpec) -> Result<Source> {
        let inner = &self.inner;
        let existing = {
            let ingests = inner.ingests.lock().expect("ingests lock");
            ingests.get(&spec.id).map(|i| {
                (
                    i.handle.clone(),
                    i.slot.clone(),
                    i.spec.url != spec.url || i.spec.rtsp != spec.rtsp,
                )
            })
        };
        if let Some((handle, slot, changed)) = existing {
            if changed {
                handle.update_spec(self.ingest_spec(&spec)).await?;
                let mut ingests = inner.ingests.lock().expect("ingests lock");
                if let Some(i) = ingests.get_mut(&spec.id) {
                    i.spec = spec.clone();
                }
            }
            return Ok(Source { id: spec.id, slot });
        }
        let slot = Arc::new(FrameSlot::new());
        let sup = supervise(
            self.ingest_spec(&spec),
            ingest_supervision(),
            inner.deps.clone(),
            inner.sup_shutdown.clone(),
        );
        let reader = tokio::spawn(ingest_reader(
            sup.media,
            slot.clone(),
            inner.config.frame_len(),
            inner.deps.clone(),
            inner.cancel.clone(),
        ));
        sup.handle.start().await?;
        debug!(program = %inner.config.name, source = spec.id, "ingest started");
        let source = Source {
            id: spec.id,
            slot: slot.clone(),
        };
        inner.ingests.lock().expect("ingests lock").insert(
            spec.id,
            Ingest {
                spec,
                handle: sup.handle,
                slot,
                supervisor: sup.task,
                reader,
            },
        );
        Ok(source)
    }

    fn ingest_spec(&self, src: &SourceSpec) -> ProcessSpec {
        ProcessSpec {
            name: format!("program {} ingest {}", self.inner.config.name, src.name),
            program: self.inner.config.ffmpeg.clone(),
            args: args::ingest_args(&self.inner.config, src),
            stdin: StdinMode::Null,
            stdout: StdoutMode::Media,
            secrets: src.secrets.clone(),
            ..Default::default()
        }
    }
}

async fn futures_join<F: std::future::Future>(futs: impl IntoIterator<Item = F>) {
    let mut set = Vec::new();
    for f in futs {
        set.push(f);
    }
    // Sequential awaits would add up stop timeouts; polling them together keeps the total at
    // the longest one.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

async fn stop_ingest(ingest: Ingest) {
    let _ = ingest.handle.stop().await;
    drop(ingest.handle);
    // With the last handle gone the actor ends; its task owns nothing else.
    let _ = ingest.supervisor.await;
    ingest.reader.abort();
    let _ = ingest.reader.await;
}

fn ingest_supervision() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(15),
        stall_timeout: Duration::from_secs(6),
        stop_timeout: Duration::from_secs(3),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(500),
            // A camera that comes back must be back on air within seconds.
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(20),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

fn encoder_supervision() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(15),
        stall_timeout: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(4),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

fn egress_supervision() -> SupervisorConfig {
    SupervisorConfig {
        // The TS probe takes a few seconds of stream before the first progress block.
        startup_timeout: Duration::from_secs(20),
        stall_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(4),
        backoff: BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

/// Reads each run of one ingest into its slot.
async fn ingest_reader(
    mut media: mpsc::Receiver<MediaIo>,
    slot: Arc<FrameSlot>,
    frame_len: usize,
    deps: Deps,
    cancel: CancellationToken,
) {
    loop {
        let io = tokio::select! {
            _ = cancel.cancelled() => return,
            io = media.recv() => match io { Some(io) => io, None => return },
        };
        let Some(stdout) = io.stdout else { continue };
        let clock = deps.clock.clone();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = slot::read_frames(stdout, frame_len, &slot, move || clock.now()) => {}
        }
    }
}

/// Hands each encoder run's stdin to the frame writer and pumps its stdout into the fan-out.
async fn encoder_io(
    mut media: mpsc::Receiver<MediaIo>,
    stdin_tx: mpsc::Sender<BoxWrite>,
    fanout: Arc<FanOut>,
    cancel: CancellationToken,
) {
    let mut pump: Option<JoinHandle<()>> = None;
    loop {
        let io = tokio::select! {
            _ = cancel.cancelled() => break,
            io = media.recv() => match io { Some(io) => io, None => break },
        };
        if let Some(stdin) = io.stdin {
            if stdin_tx.send(stdin).await.is_err() {
                break;
            }
        }
        if let Some(stdout) = io.stdout {
            // The previous run's pipe has ended (or will, its process is gone); a stale
            // reader must not interleave old packets with the new run's.
            if let Some(p) = pump.take() {
                p.abort();
            }
            fanout.new_run();
            let fanout = fanout.clone();
            pump = Some(tokio::spawn(async move {
                fanout::pump_ts(stdout, &fanout).await;
            }));
        }
    }
    if let Some(p) = pump {
        p.abort();
    }
}

/// Writes program frames into the current encoder run; frames are dropped (and counted) while
/// there is none.
async fn frame_writer(
    mut frames: mpsc::Receiver<FrameData>,
    mut stdins: mpsc::Receiver<BoxWrite>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut stdin: Option<BoxWrite> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            s = stdins.recv() => match s {
                Some(s) => stdin = Some(s),
                None => return,
            },
            f = frames.recv() => {
                let Some(frame) = f else { return };
                let Some(w) = stdin.as_mut() else {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let written = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = w.write_all(&frame) => r,
                };
                match written {
                    Ok(()) => {
                        stats.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        debug!(error = %e, "encoder stdin closed; waiting for its next run");
                        stdin = None;
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Feeds one destination's egress process from its queue; data that arrives while the
/// process is down (backoff) is discarded, so a returning destination starts with fresh data.
async fn egress_writer(
    mut chunks: mpsc::Receiver<Bytes>,
    mut media: mpsc::Receiver<MediaIo>,
    cancel: CancellationToken,
) {
    let mut stdin: Option<BoxWrite> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            io = media.recv() => match io {
                Some(io) => stdin = io.stdin,
                None => return,
            },
            c = chunks.recv() => {
                let Some(chunk) = c else { return };
                if let Some(w) = stdin.as_mut() {
                    let r = tokio::select! {
                        _ = cancel.cancelled() => return,
                        r = w.write_all(&chunk) => r,
                    };
                    if r.is_err() {
                        stdin = None;
                    }
                }
            }
        }
    }
}

/// Ticks at exactly `fps` and sends one frame per tick to the writer.
async fn program_clock(
    mut switcher: Switcher,
    fps: u32,
    deps: Deps,
    overlays: watch::Receiver<Arc<OverlaySet>>,
    frames: mpsc::Sender<FrameData>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let clock = deps.clock;
    let mut ticker = Ticker::new(clock.now(), fps);
    loop {
        let deadline = ticker.next_deadline();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = clock.sleep_until(deadline) => {}
        }
        let now = clock.now();
        let set = overlays.borrow().clone();
        let frame = switcher.tick(now, &set);
        match frames.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
        let skipped = ticker.advance(clock.now(), MAX_CLOCK_LAG);
        if skipped > 0 {
            warn!(skipped, "program clock fell behind; ticks skipped");
            stats.dropped.fetch_add(skipped, Ordering::Relaxed);
        }
    }
}

/// Publishes the status twice a second and right after takes and releases.
async fn status_task(inner: std::sync::Weak<Inner>, cancel: CancellationToken) {
    let mut window: Option<(Instant, u64)> = None;
    let mut fps = 0.0;
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let now = inner.deps.clock.now();
        let written = inner.stats.written.load(Ordering::Relaxed);
        match window {
            Some((t, w)) if now.saturating_duration_since(t) >= Duration::from_millis(900) => {
                let dt = now.saturating_duration_since(t).as_secs_f64();
                fps = (written - w) as f64 / dt;
                window = Some((now, written));
            }
            None => window = Some((now, written)),
            _ => {}
        }
        let status = build_status(&inner, fps);
        inner.status_tx.send_replace(status);
        let kick = inner.status_kick.clone();
        let clock = inner.deps.clock.clone();
        drop(inner);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = kick.notified() => {}
            _ = clock.sleep(Duration::from_millis(500)) => {}
        }
    }
}

fn build_status(inner: &Inner, fps_measured: f64) -> ProgramStatus {
    let (on_air, pending_take, take_latency, switch_gap, held) = {
        let sel = inner.selection.lock().expect("selection lock");
        (
            sel.on_air.as_ref().map(|s| s.id),
            sel.pending.as_ref().map(|p| p.source.id),
            sel.take_latency,
            sel.switch_gap_frames,
            sel.hold_until.is_some(),
        )
    };
    let ingests = inner
        .ingests
        .lock()
        .expect("ingests lock")
        .iter()
        .map(|(id, i)| IngestStatus {
            id: *id,
            name: i.spec.name.clone(),
            status: i.handle.status(),
            frames: i.slot.count(),
        })
        .collect();
    let s = &inner.stats;
    ProgramStatus {
        name: inner.config.name.clone(),
        on_air,
        pending_take,
        slate_active: s.slate_active.load(Ordering::Relaxed),
        held,
        ticks: s.ticks.load(Ordering::Relaxed),
        duplicated_frames: s.duplicated.load(Ordering::Relaxed),
        slate_frames: s.slate_frames.load(Ordering::Relaxed),
        dropped_frames: s.dropped.load(Ordering::Relaxed),
        fps_measured,
        encoder_name: inner.config.encoder.clone(),
        encoder: inner.encoder.status(),
        outputs: inner
            .egress
            .iter()
            .map(|e| OutputStatus {
                id: e.id,
                name: e.name.clone(),
                status: e.handle.status(),
                dropped_bytes: e.stats.dropped_bytes.load(Ordering::Relaxed),
            })
            .collect(),
        ingests,
        started_at: inner.started_at,
        take_latency_ms: take_latency.map(|d| d.as_millis() as u64),
        switch_gap_frames: switch_gap,
    }
}

/// The slate: a dark background, the configured image (scaled to fit the upper part) and the
/// text, centred.
fn render_slate(cfg: &ProgramConfig, font: &ab_glyph::FontArc) -> Result<Vec<u8>> {
    let (w, h) = (cfg.width, cfg.height);
    let mut canvas = RgbaImage::filled(w, h, Rgba::rgb(16, 20, 28));
    let size = (h as f32 / 12.0).max(10.0);
    let label = text::render_text(
        font,
        &cfg.slate.text,
        size,
        Rgba::rgb(235, 235, 235),
        None,
        0,
    );
    let mut text_y = (h as i32 - label.height as i32) / 2;
    if let Some(path) = &cfg.slate.image {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid(
                "slate.image",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let img = decode_png(&bytes)?;
        let (max_w, max_h) = (w as f64 * 0.8, h as f64 * 0.55);
        let scale = (max_w / img.width.max(1) as f64).min(max_h / img.height.max(1) as f64);
        let (iw, ih) = (
            ((img.width as f64 * scale).round() as u32).max(1),
            ((img.height as f64 * scale).round() as u32).max(1),
        );
        let img = img.resize(iw, ih);
        let gap = (h / 30) as i32;
        let total = ih as i32 + gap + label.height as i32;
        let top = (h as i32 - total) / 2;
        canvas.draw_over(&img, (w as i32 - iw as i32) / 2, top);
        text_y = top + ih as i32 + gap;
    }
    canvas.draw_over(&label, (w as i32 - label.width as i32) / 2, text_y);
    Ok(pixels::rgba_to_yuv420(&canvas))
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

    #[test]
    fn slate_has_text_on_a_dark_background() {
        let cfg = ProgramConfig::new("p", 320, 180, 25);
        let font = text::load_font(None).unwrap();
        let f = render_slate(&cfg, &font).unwrap();
        assert_eq!(f.len(), 320 * 180 * 3 / 2);
        let luma = &f[..320 * 180];
        let bright = luma.iter().filter(|&&y| y > 150).count();
        assert!(bright > 100, "text is drawn ({bright} bright pixels)");
        assert!(luma[0] < 40, "dark background");
    }
}
