//! Live previews: one fragmented-MP4 remux per camera (and per running program), shared by
//! every viewer, started when the first viewer arrives and stopped a little after the last one
//! leaves.
//!
//! A camera's preview is muxed in-process from the camera's hub session
//! (`vs_engine::hub::Fmp4Preview` over one subscription): no FFmpeg, no connection of its own
//! to the camera, and the first picture at once from the session's keyframe cache. When the
//! session stops playing the viewers are told `offline`; when it plays again a new subscription
//! starts with a new init segment.
//!
//! A program's preview remuxes the program's own encoded output (the MPEG-TS the destinations
//! receive, tapped after the encoder), so it shows and sounds exactly like what goes out,
//! overlays and program audio included, without a second encode: demuxed and muxed in
//! process (`vs_engine::hub::tsframes::TsFmp4`, `remux.rs`), no FFmpeg.
//!
//! Why this shape: a camera (or a Pi) copes with few sessions, not one per browser tab, and
//! H.264 needs no re-encode to play in Media Source Extensions, only a remux into fragmented
//! MP4. Fragments go out through a bounded `broadcast` channel:
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
use vs_base::{Error, Result};
use vs_db::Db;
use vs_engine::hub::{ConsumerKind, End, Fmp4Preview, PreviewChunk, SessionState};
use vs_engine::ProgramHandle;

use remux::{go_offline, produce_program, publish, Remux};
pub use viewer::{Viewer, ViewerMessage};

use super::cameras::{CameraChange, CameraListener};
use super::hub::HubService;
use super::programs::RunningPrograms;
use super::Infra;

/// How long a remux outlives its last viewer: a page reload or a hover that comes back soon
/// finds it still running.
const LINGER: Duration = Duration::from_secs(10);
/// Fragments a viewer may fall behind before it is skipped forward to the next keyframe. A
/// fragment holds one packet (a video frame or an AAC frame: about 80 a second with audio), so
/// about 5 s.
const CHANNEL_PACKETS: usize = 400;

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

/// What feeds a preview's muxer: a camera's session, or a running program's output.
enum Feed {
    Camera(i64),
    Program(i64, ProgramHandle),
}

impl Feed {
    fn source(&self) -> PreviewSource {
        match self {
            Feed::Camera(id) => PreviewSource::Camera(*id),
            Feed::Program(id, _) => PreviewSource::Program(*id),
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
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// A program's preview taps the program that runs.
    programs: Arc<RunningPrograms>,
    /// A camera's preview reads the camera's session.
    hub: Arc<HubService>,
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
    pub fn new(infra: &Infra, programs: Arc<RunningPrograms>, hub: Arc<HubService>) -> Self {
        PreviewService {
            db: infra.db.clone(),
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            programs,
            hub,
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
        Ok(self.join_source(Feed::Camera(camera_id)))
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
        let viewer = self.join_source(Feed::Program(program_id, handle));
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

    /// Joins the remux of what `feed` names, creating it when there is none: the in-process
    /// muxer on a camera's session or on a program's output.
    fn join_source(self: &Arc<Self>, feed: Feed) -> Viewer {
        let source = feed.source();
        let mut created = None;
        let remux = {
            let mut map = self.remuxes.lock().expect("preview lock");
            let remux = map.entry(source).or_insert_with(|| {
                let (tx, _) = broadcast::channel(CHANNEL_PACKETS);
                let remux = Arc::new(Remux {
                    tx,
                    current: Mutex::default(),
                    viewers: watch::channel(0).0,
                    ended: CancellationToken::new(),
                    ended_reason: Mutex::new(String::new()),
                });
                created = Some(remux.clone());
                remux
            });
            remux.viewers.send_modify(|n| *n += 1);
            remux.clone()
        };
        if let Some(remux) = created.take() {
            tracing::info!(source = %source, "preview remux started");
            metrics::gauge!("vistterstream_preview_remuxes").increment(1.0);
            let previews = self.clone();
            self.tasks
                .spawn(async move { previews.run(feed, remux).await });
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
        // A camera's preview follows its session; a program's, the program's encoder runs.
        let runs = remux.current.lock().expect("preview lock").runs;
        let (state, restarts) = match source {
            PreviewSource::Camera(id) => {
                let state = self.hub.session(id).map(|s| {
                    serde_json::to_value(s.state())
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                });
                (state, runs.saturating_sub(1))
            }
            PreviewSource::Program(_) => {
                let online = remux.current.lock().expect("preview lock").online == Some(true);
                let state = if online { "playing" } else { "waiting" };
                (Some(state.to_string()), runs.saturating_sub(1))
            }
        };
        let viewers = *remux.viewers.borrow();
        let cur = remux.current.lock().expect("preview lock");
        PreviewStats {
            camera_id,
            program_id,
            viewers,
            running: true,
            state,
            online: cur.online == Some(true),
            mime: cur.init.as_ref().map(|(m, _)| m.clone()),
            fragments: cur.fragments,
            restarts,
        }
    }

    /// A preview: muxes the camera's session or the program's output until nobody has watched
    /// for `LINGER`, or the preview is ended.
    async fn run(self: Arc<Self>, feed: Feed, remux: Arc<Remux>) {
        let source = feed.source();
        let producing = match feed {
            Feed::Camera(id) => tokio::spawn(produce_camera(self.hub.clone(), id, remux.clone())),
            Feed::Program(_, program) => tokio::spawn(produce_program(program, remux.clone())),
        };
        let mut viewers = remux.viewers.subscribe();
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
                r = viewers.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let n = *viewers.borrow_and_update();
                    idle_since = (n == 0).then(tokio::time::Instant::now);
                }
                _ = linger => {
                    // Removing under the map lock: a viewer joining now either got this
                    // remux (and the count is no longer 0) or will create a new one.
                    let mut map = self.remuxes.lock().expect("preview lock");
                    if *remux.viewers.borrow() == 0 {
                        map.retain(|_, r| !Arc::ptr_eq(r, &remux));
                        break;
                    }
                    idle_since = None;
                }
            }
        }
        // Dropping the producer drops its subscription: the session forgets this consumer.
        producing.abort();
        let _ = producing.await;
        self.remuxes
            .lock()
            .expect("preview lock")
            .retain(|_, r| !Arc::ptr_eq(r, &remux));
        metrics::gauge!("vistterstream_preview_remuxes").decrement(1.0);
        tracing::info!(source = %source, "preview remux stopped");
    }
}

/// Publishes a camera's session as fragmented MP4 for as long as it is asked to: one
/// subscription per stretch of playing (the cached keyframe first, so the picture is there at
/// once), the viewers told `offline` when the session stops playing and `online` with a new
/// init segment when it plays again.
async fn produce_camera(hub: Arc<HubService>, camera_id: i64, remux: Arc<Remux>) {
    loop {
        // A camera whose change is still being applied (one just added, say) gets its session
        // now, rather than its first viewer being told `offline` for a camera that is fine.
        let session = match hub.session(camera_id) {
            Some(s) => s,
            None => match hub.session_for(camera_id).await {
                Ok(s) => s,
                Err(_) => {
                    // Disabled or deleted: the camera change that did it ends this preview if
                    // it must.
                    go_offline(&remux);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
        };
        let mut state = session.watch_state();
        if *state.borrow_and_update() != SessionState::Playing {
            if *state.borrow() == SessionState::Backoff {
                go_offline(&remux);
            }
            if state.changed().await.is_err() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            continue;
        }
        let sub = match session
            .subscribe_with(
                ConsumerKind::Preview,
                Duration::from_secs(1),
                Duration::from_secs(5),
            )
            .await
        {
            Ok(sub) => sub,
            Err(e) => {
                tracing::debug!(camera = camera_id, error = %e, "preview: no keyframe yet");
                continue;
            }
        };
        remux.current.lock().expect("preview lock").runs += 1;
        let mut preview = Fmp4Preview::new(sub);
        let ended = loop {
            let chunk = tokio::select! {
                c = preview.next() => c,
                _ = state.wait_for(|s| *s != SessionState::Playing) => break None,
            };
            match chunk {
                Ok(PreviewChunk::Init { mime, data }) => {
                    publish(&remux, viewer::Packet::Init { mime, data })
                }
                Ok(PreviewChunk::Media { data, keyframe }) => {
                    publish(&remux, viewer::Packet::Fragment { data, keyframe })
                }
                Err(end) => break Some(end),
            }
        };
        // A new source starts over with a new init segment at once; a lost or stopped session
        // is offline until it plays again.
        if ended != Some(End::SourceChanged) {
            go_offline(&remux);
        }
    }
}
