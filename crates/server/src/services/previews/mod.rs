//! Live previews: one fragmented-MP4 remux per camera (and per running program), shared by
//! every viewer, started when the first viewer arrives and stopped a little after the last one
//! leaves.
//!
//! A program's preview remuxes the program's own encoded output (the MPEG-TS the destinations
//! receive, tapped after the encoder), so it shows exactly what goes out, overlays included,
//! without a second encode.
//!
//! Why this shape: a camera (or a Pi) copes with one extra RTSP session, not one per browser
//! tab, and H.264 needs no re-encode to play in Media Source Extensions, only a remux into
//! fragmented MP4. The remux's command line is `vs_engine::ffmpeg::preview`'s; its stdout is
//! cut by `vs_engine::fmp4` into the init segment (`ftyp`+`moov`) and media fragments
//! (`moof`+`mdat`), read by one task per run (`remux.rs`). Fragments go out through a bounded
//! `broadcast` channel:
//! sending never waits, so a stalled viewer can only hurt itself. It is skipped forward to the
//! next keyframe when it lags (its socket is closed by the web layer if one send takes too
//! long). The fragments since the last keyframe are kept so a new viewer starts at once,
//! decodable, instead of waiting up to a GOP for the next keyframe.

mod remux;
mod viewer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, Result, SecretBox};
use vs_db::Db;
use vs_engine::ffmpeg::preview::{camera_args, program_args};
use vs_engine::ffmpeg::InputTransport;
use vs_engine::{
    supervise, Deps, ProcessSpec, ProgramHandle, StdinMode, StdoutMode, SupervisorConfig,
};

use remux::{feed_run, read_run, ProgramTap, Remux};
pub use viewer::{Viewer, ViewerMessage};

use super::cameras::{connect_url, CameraChange, CameraListener};
use super::programs::RunningPrograms;
use super::Infra;
use crate::config::Config;

/// How long a remux outlives its last viewer: a page reload or a hover that comes back soon
/// finds it still running.
const LINGER: Duration = Duration::from_secs(10);
/// Fragments (about 200 ms each) a viewer may fall behind before it is skipped forward.
const CHANNEL_FRAGMENTS: usize = 64;

/// What a preview shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreviewSource {
    Camera(i64),
    /// A running program's output.
    Program(i64),
}

impl std::fmt::Display for PreviewSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreviewSource::Camera(id) => write!(f, "camera {id}"),
            PreviewSource::Program(id) => write!(f, "program {id}"),
        }
    }
}

/// `GET /api/cameras/{id}/live/stats` and `GET /api/programs/{id}/live/stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewStats {
    /// Set for a camera's preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_id: Option<i64>,
    /// Set for a program's preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program_id: Option<i64>,
    /// Open WebSocket viewers.
    pub viewers: usize,
    /// Whether a remux exists for this source (it lingers 10 s after the last viewer).
    pub running: bool,
    /// The remux's supervisor state (`running`, `backoff`, ...), when it exists.
    pub state: Option<String>,
    /// Whether the source currently delivers fragments.
    pub online: bool,
    /// `video/mp4; codecs="…"` of the current run.
    pub mime: Option<String>,
    /// Fragments broadcast since the remux started.
    pub fragments: u64,
    /// Restarts of the remux (camera outages).
    pub restarts: u32,
}

/// Live previews of cameras and programs: the remuxes that exist now, each shared by its
/// viewers.
pub struct PreviewService {
    db: Db,
    secrets: SecretBox,
    config: Arc<Config>,
    /// How FFmpeg children are spawned and timed (real, or a test's fakes).
    engine: Deps,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// A program's preview taps the program that runs.
    programs: Arc<RunningPrograms>,
    remuxes: Mutex<HashMap<PreviewSource, Arc<Remux>>>,
}

impl CameraListener for PreviewService {
    fn camera_changed(&self, id: i64, change: CameraChange) {
        match change {
            // The running remux still has the old address: its viewers reconnect to a new one.
            CameraChange::Updated { connection: true } => {
                self.end(PreviewSource::Camera(id), "the camera's settings changed")
            }
            CameraChange::Deleted => self.end(PreviewSource::Camera(id), "the camera was deleted"),
            CameraChange::Added | CameraChange::Updated { connection: false } => {}
        }
    }
}

impl PreviewService {
    pub fn new(infra: &Infra, engine: Deps, programs: Arc<RunningPrograms>) -> Self {
        PreviewService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            config: infra.config.clone(),
            engine,
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            programs,
            remuxes: Default::default(),
        }
    }

    /// Joins the preview of a camera, starting its remux when nobody watches it yet.
    pub async fn join_camera(self: &Arc<Self>, camera_id: i64) -> Result<Viewer> {
        let cam = self.db.camera(camera_id).await?;
        if !cam.enabled {
            return Err(Error::invalid_state(
                "the camera is disabled; enable it first",
            ));
        }
        let input = connect_url(&self.secrets, &cam)?;
        Ok(self.join_source(
            PreviewSource::Camera(camera_id),
            || {
                let mut spec =
                    ProcessSpec::new(format!("preview camera {camera_id}"), &self.config.ffmpeg)
                        .args(camera_args(&input, InputTransport::of_url(&input)))
                        .stdin(StdinMode::Quit)
                        .stdout(StdoutMode::Media)
                        .span(tracing::info_span!("ffmpeg", role = "preview", camera_id));
                if let Some(p) = cam.password_enc.as_deref() {
                    if let Ok(p) = self.secrets.open(p) {
                        spec = spec.secret(p);
                    }
                }
                spec
            },
            None,
        ))
    }

    /// Joins the preview of a running program's output.
    pub async fn join_program(self: &Arc<Self>, program_id: i64) -> Result<Viewer> {
        self.db.program(program_id).await?;
        // Joined under the lock of the running programs: a stop either comes first (and this
        // answers "not running") or comes after and ends the preview it finds.
        let running = self.programs.lock().await;
        let handle = running
            .get(&program_id)
            .cloned()
            .ok_or_else(|| Error::invalid_state("the program is not running; start it first"))?;
        let viewer = self.join_source(
            PreviewSource::Program(program_id),
            || {
                ProcessSpec::new(format!("preview program {program_id}"), &self.config.ffmpeg)
                    .args(program_args())
                    .stdin(StdinMode::Media)
                    .stdout(StdoutMode::Media)
                    .span(tracing::info_span!("ffmpeg", role = "preview", program_id))
            },
            Some(handle),
        );
        drop(running);
        Ok(viewer)
    }

    /// Ends a source's preview for good: its viewers are told `reason` and disconnected.
    /// A viewer that joins afterwards starts a new remux.
    pub fn end(&self, source: PreviewSource, reason: &str) {
        let remux = self.remuxes.lock().expect("preview lock").remove(&source);
        if let Some(remux) = remux {
            *remux.ended_reason.lock().expect("preview lock") = reason.to_string();
            remux.ended.cancel();
            tracing::info!(source = %source, reason, "preview ended");
        }
    }

    fn join_source(
        self: &Arc<Self>,
        source: PreviewSource,
        make_spec: impl FnOnce() -> ProcessSpec,
        feed: Option<ProgramHandle>,
    ) -> Viewer {
        let mut created = None;
        let remux = {
            let mut map = self.remuxes.lock().expect("preview lock");
            let remux = map.entry(source).or_insert_with(|| {
                let sup = supervise(
                    make_spec(),
                    SupervisorConfig {
                        stall_timeout: Duration::from_secs(self.config.stall_timeout_s.max(1)),
                        ..Default::default()
                    },
                    self.engine.clone(),
                    self.shutdown.clone(),
                );
                let (tx, _) = broadcast::channel(CHANNEL_FRAGMENTS);
                let remux = Arc::new(Remux {
                    tx,
                    current: Mutex::default(),
                    viewers: watch::channel(0).0,
                    handle: sup.handle,
                    feed,
                    ended: CancellationToken::new(),
                    ended_reason: Mutex::new(String::new()),
                });
                created = Some((remux.clone(), sup.media, sup.task));
                remux
            });
            remux.viewers.send_modify(|n| *n += 1);
            remux.clone()
        };
        if let Some((remux, media, task)) = created {
            tracing::info!(source = %source, "preview remux started");
            metrics::gauge!("vistterstream_preview_remuxes").increment(1.0);
            self.tasks.spawn(async move {
                let _ = task.await;
            });
            let previews = self.clone();
            self.tasks
                .spawn(async move { previews.run_remux(source, remux, media).await });
        }
        Viewer::join(remux)
    }

    /// Viewers and remux state of a camera's preview.
    pub async fn camera_stats(&self, camera_id: i64) -> Result<PreviewStats> {
        self.db.camera(camera_id).await?;
        Ok(self.stats_of(PreviewSource::Camera(camera_id)))
    }

    /// Viewers and remux state of a program's preview.
    pub async fn program_stats(&self, program_id: i64) -> Result<PreviewStats> {
        self.db.program(program_id).await?;
        Ok(self.stats_of(PreviewSource::Program(program_id)))
    }

    fn stats_of(&self, source: PreviewSource) -> PreviewStats {
        let (camera_id, program_id) = match source {
            PreviewSource::Camera(id) => (Some(id), None),
            PreviewSource::Program(id) => (None, Some(id)),
        };
        let remux = self
            .remuxes
            .lock()
            .expect("preview lock")
            .get(&source)
            .cloned();
        let Some(remux) = remux else {
            return PreviewStats {
                camera_id,
                program_id,
                viewers: 0,
                running: false,
                state: None,
                online: false,
                mime: None,
                fragments: 0,
                restarts: 0,
            };
        };
        let status = remux.handle.status();
        let viewers = *remux.viewers.borrow();
        let cur = remux.current.lock().expect("preview lock");
        PreviewStats {
            camera_id,
            program_id,
            viewers,
            running: true,
            state: Some(status.state.as_str().to_string()),
            online: cur.online == Some(true),
            mime: cur.init.as_ref().map(|(m, _)| m.clone()),
            fragments: cur.fragments,
            restarts: status.restarts,
        }
    }

    /// Reads every run of the remux (and feeds it, for a program) and ends it once nobody has
    /// watched for `LINGER`, or when the source is gone.
    async fn run_remux(
        self: Arc<Self>,
        source: PreviewSource,
        remux: Arc<Remux>,
        mut media: tokio::sync::mpsc::Receiver<vs_engine::MediaIo>,
    ) {
        if let Err(e) = remux.handle.start().await {
            tracing::warn!(source = %source, error = %e, "preview remux did not start");
        }
        let mut viewers = remux.viewers.subscribe();
        // One subscription to the program's output for the remux's whole life, handed from
        // run to run: what the encoder sends while the remux restarts (its new run's first
        // keyframe, above all) waits in the channel instead of being missed.
        let tap = remux.feed.as_ref().map(|p| {
            let (start, rx) = p.tap_ts();
            Arc::new(tokio::sync::Mutex::new(ProgramTap { start, rx }))
        });
        let mut reading: Option<tokio::task::JoinHandle<()>> = None;
        let mut feeding: Option<tokio::task::JoinHandle<()>> = None;
        let mut idle_since: Option<tokio::time::Instant> = None;
        loop {
            let linger = async {
                match idle_since {
                    Some(t) => tokio::time::sleep_until(t + LINGER).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = remux.ended.cancelled() => break,
                io = media.recv() => {
                    let Some(io) = io else { break };
                    if io.run != remux.handle.status().run {
                        continue;
                    }
                    if let Some(old) = reading.take() {
                        old.abort();
                    }
                    if let Some(old) = feeding.take() {
                        old.abort();
                    }
                    if let Some(stdout) = io.stdout {
                        reading = Some(tokio::spawn(read_run(remux.clone(), stdout)));
                    }
                    if let (Some(stdin), Some(tap)) = (io.stdin, tap.as_ref()) {
                        feeding = Some(tokio::spawn(feed_run(tap.clone(), stdin)));
                    }
                }
                r = viewers.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let n = *viewers.borrow_and_update();
                    idle_since = (n == 0).then(tokio::time::Instant::now);
                }
                _ = linger => {
                    // Removing under the map lock: a viewer joining now either got this remux
                    // (and the count is no longer 0) or will create a new one.
                    let mut map = self.remuxes.lock().expect("preview lock");
                    if *remux.viewers.borrow() == 0 {
                        map.retain(|_, r| !Arc::ptr_eq(r, &remux));
                        break;
                    }
                    idle_since = None;
                }
            }
        }
        for t in [reading.take(), feeding.take()].into_iter().flatten() {
            t.abort();
        }
        self.remuxes
            .lock()
            .expect("preview lock")
            .retain(|_, r| !Arc::ptr_eq(r, &remux));
        let _ = remux.handle.stop().await;
        metrics::gauge!("vistterstream_preview_remuxes").decrement(1.0);
        tracing::info!(source = %source, "preview remux stopped");
    }
}
