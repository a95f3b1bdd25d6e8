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
//! fragmented MP4. FFmpeg's stdout is split here into the init segment (`ftyp`+`moov`) and
//! media fragments (`moof`+`mdat`). Fragments go out through a bounded `broadcast` channel:
//! sending never waits, so a stalled viewer can only hurt itself. It is skipped forward to the
//! next keyframe when it lags (its socket is closed by the web layer if one send takes too
//! long). The fragments since the last keyframe are kept so a new viewer starts at once,
//! decodable, instead of waiting up to a GOP for the next keyframe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_engine::program::tsgop::TsGop;
use vs_engine::{
    supervise, Deps, ProcessSpec, ProgramHandle, State, StdinMode, StdoutMode, SupervisorConfig,
    SupervisorHandle, TapChunk,
};

use super::Controller;

/// How long a remux outlives its last viewer: a page reload or a hover that comes back soon
/// finds it still running.
const LINGER: Duration = Duration::from_secs(10);
/// Fragments (about 200 ms each) a viewer may fall behind before it is skipped forward.
const CHANNEL_FRAGMENTS: usize = 64;
/// Bound of the keyframe cache: a camera with a very long GOP must not grow it without end.
const GOP_CACHE_MAX_BYTES: usize = 8 << 20;
/// A box larger than this is not a preview fragment; the stream is treated as broken.
const MAX_BOX: usize = 32 << 20;

/// What travels from the remux to the viewers.
#[derive(Debug, Clone)]
pub enum Packet {
    /// A new run of the remux: the player must (re)initialise with this MIME type.
    Init { mime: String, data: Bytes },
    /// A `moof`+`mdat` pair; `keyframe` when its first sample is a sync sample.
    Fragment { data: Bytes, keyframe: bool },
    /// The camera was lost (`false`) or the remux is producing again (`true`).
    Online(bool),
}

/// What a viewer sends on its socket.
#[derive(Debug, Clone)]
pub enum ViewerMessage {
    Text(String),
    Binary(Bytes),
}

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

/// State shared by the reader task and the viewers; locked briefly, never across an await.
#[derive(Default)]
struct Current {
    init: Option<(String, Bytes)>,
    /// Fragments since the last keyframe, for a viewer that joins now.
    gop: Vec<Bytes>,
    gop_bytes: usize,
    online: Option<bool>,
    fragments: u64,
}

struct Remux {
    tx: broadcast::Sender<Packet>,
    current: Mutex<Current>,
    viewers: watch::Sender<usize>,
    handle: SupervisorHandle,
    /// The program whose output feeds the remux's stdin (program previews only).
    feed: Option<ProgramHandle>,
    /// Cancelled when the source goes away for good (program stopped, camera deleted): the
    /// viewers are told why and their sockets close.
    ended: CancellationToken,
    ended_reason: Mutex<String>,
}

/// The previews that exist now.
#[derive(Default)]
pub struct PreviewRuntime {
    remuxes: Mutex<HashMap<PreviewSource, Arc<Remux>>>,
}

/// One viewer of a camera's preview. Dropping it leaves the preview.
pub struct Viewer {
    remux: Arc<Remux>,
    rx: broadcast::Receiver<Packet>,
    /// Messages to send before the live ones (status, init segment, keyframe cache).
    backlog: std::collections::VecDeque<ViewerMessage>,
    /// Set after a lag: fragments are dropped until the next keyframe, which MSE can decode.
    skipping: bool,
    /// No init segment sent yet: fragments before it would be meaningless to the player.
    initialised: bool,
    /// The end was announced; nothing follows.
    finished: bool,
    pub lagged: u64,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.remux.viewers.send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn init_text(mime: &str) -> String {
    serde_json::json!({"type": "init", "mime": mime}).to_string()
}

fn status_text(online: bool) -> String {
    let status = if online { "online" } else { "offline" };
    serde_json::json!({"type": "status", "status": status}).to_string()
}

fn ended_text(reason: &str) -> String {
    serde_json::json!({"type": "ended", "reason": reason}).to_string()
}

impl Viewer {
    /// The next message for this viewer's socket; `None` when the preview has ended.
    pub async fn next(&mut self) -> Option<ViewerMessage> {
        if let Some(m) = self.backlog.pop_front() {
            return Some(m);
        }
        if self.finished {
            return None;
        }
        loop {
            let received = tokio::select! {
                biased;
                _ = self.remux.ended.cancelled() => {
                    self.finished = true;
                    let reason = self.remux.ended_reason.lock().expect("preview lock").clone();
                    return Some(ViewerMessage::Text(ended_text(&reason)));
                }
                r = self.rx.recv() => r,
            };
            match received {
                Ok(Packet::Init { mime, data }) => {
                    self.initialised = true;
                    self.skipping = false;
                    self.backlog.push_back(ViewerMessage::Binary(data));
                    return Some(ViewerMessage::Text(init_text(&mime)));
                }
                Ok(Packet::Online(online)) => {
                    return Some(ViewerMessage::Text(status_text(online)))
                }
                Ok(Packet::Fragment { data, keyframe }) => {
                    if !self.initialised {
                        continue;
                    }
                    if self.skipping && !keyframe {
                        continue;
                    }
                    self.skipping = false;
                    return Some(ViewerMessage::Binary(data));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // The viewer is too slow for the camera: drop what it missed and resume at
                    // a keyframe. An init segment in the missed part is recovered from the
                    // shared state so the player re-initialises with the current run.
                    self.lagged += n;
                    self.skipping = true;
                    metrics::counter!("vistterstream_preview_lagged_fragments_total").increment(n);
                    let init = self
                        .remux
                        .current
                        .lock()
                        .expect("preview lock")
                        .init
                        .clone();
                    if let Some((mime, data)) = init {
                        self.initialised = true;
                        self.backlog.push_back(ViewerMessage::Binary(data));
                        return Some(ViewerMessage::Text(init_text(&mime)));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Output options shared by every remux: video copied into fragmented MP4 on stdout,
/// fragments cut at every keyframe and at least every 200 ms so latency stays low.
fn fmp4_output(a: &mut Vec<String>) {
    a.extend(
        [
            "-map",
            "0:v:0",
            "-c:v",
            "copy",
            "-an",
            "-f",
            "mp4",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration",
            "200000",
            "pipe:1",
        ]
        .map(String::from),
    );
}

/// The FFmpeg arguments of a camera's preview remux.
pub fn remux_args(input: &str, rtsp: bool) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-loglevel", "warning", "-nostdin"]
        .map(String::from)
        .to_vec();
    if rtsp {
        a.extend(["-rtsp_transport", "tcp", "-timeout", "5000000"].map(String::from));
    } else {
        a.extend(["-rw_timeout", "5000000"].map(String::from));
    }
    // Low probing: the stream parameters come from the SDP; waiting seconds to analyse would
    // add directly to the time a viewer waits for the first picture.
    a.extend(
        [
            "-fflags",
            "nobuffer",
            "-probesize",
            "500000",
            "-analyzeduration",
            "1000000",
        ]
        .map(String::from),
    );
    a.extend(["-i".to_string(), input.to_string()]);
    fmp4_output(&mut a);
    a
}

/// The FFmpeg arguments of a program's preview remux: the program's MPEG-TS on stdin,
/// starting at a keyframe (see `feed_run`), so a short probe finds the parameters; FFmpeg
/// probes for the whole duration given, which the keyframe cache usually has in store.
pub fn program_remux_args() -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-fflags",
        "nobuffer",
        "-probesize",
        "1000000",
        "-analyzeduration",
        "500000",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
    ]
    .map(String::from)
    .to_vec();
    fmp4_output(&mut a);
    a
}

impl Controller {
    /// Joins the preview of a camera, starting its remux when nobody watches it yet.
    pub async fn join_preview(self: &Arc<Self>, camera_id: i64) -> Result<Viewer> {
        let cam = self.db.camera(camera_id).await?;
        if !cam.enabled {
            return Err(Error::invalid_state(
                "the camera is disabled; enable it first",
            ));
        }
        let input = self.camera_connect_url(&cam)?;
        let rtsp = input.starts_with("rtsp");
        Ok(self.join_source(
            PreviewSource::Camera(camera_id),
            || {
                let mut spec =
                    ProcessSpec::new(format!("preview camera {camera_id}"), &self.config.ffmpeg)
                        .args(remux_args(&input, rtsp))
                        .stdin(StdinMode::Quit)
                        .stdout(StdoutMode::Media);
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
    pub async fn join_program_preview(self: &Arc<Self>, program_id: i64) -> Result<Viewer> {
        self.db.program(program_id).await?;
        // Joined under the lock of the running programs: a stop either comes first (and this
        // answers "not running") or comes after and ends the preview it finds.
        let running = self.programs.running.lock().await;
        let handle = running
            .get(&program_id)
            .cloned()
            .ok_or_else(|| Error::invalid_state("the program is not running; start it first"))?;
        let viewer = self.join_source(
            PreviewSource::Program(program_id),
            || {
                ProcessSpec::new(format!("preview program {program_id}"), &self.config.ffmpeg)
                    .args(program_remux_args())
                    .stdin(StdinMode::Media)
                    .stdout(StdoutMode::Media)
            },
            Some(handle),
        );
        drop(running);
        Ok(viewer)
    }

    /// Ends a source's preview for good: its viewers are told `reason` and disconnected.
    /// A viewer that joins afterwards starts a new remux.
    pub fn end_preview(&self, source: PreviewSource, reason: &str) {
        let remux = self
            .previews
            .remuxes
            .lock()
            .expect("preview lock")
            .remove(&source);
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
            let mut map = self.previews.remuxes.lock().expect("preview lock");
            let remux = map.entry(source).or_insert_with(|| {
                let sup = supervise(
                    make_spec(),
                    SupervisorConfig {
                        stall_timeout: Duration::from_secs(self.config.stall_timeout_s.max(1)),
                        ..Default::default()
                    },
                    Deps::real(),
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
            let ctl = self.clone();
            self.tasks
                .spawn(async move { ctl.run_remux(source, remux, media).await });
        }
        // Subscribing under the lock that the reader holds while it updates the state means
        // the snapshot and the channel neither miss nor repeat a packet.
        let cur = remux.current.lock().expect("preview lock");
        let rx = remux.tx.subscribe();
        let mut backlog = std::collections::VecDeque::new();
        if cur.online == Some(false) {
            backlog.push_back(ViewerMessage::Text(status_text(false)));
        }
        let initialised = cur.init.is_some();
        if let Some((mime, data)) = &cur.init {
            backlog.push_back(ViewerMessage::Text(init_text(mime)));
            backlog.push_back(ViewerMessage::Binary(data.clone()));
            backlog.extend(cur.gop.iter().cloned().map(ViewerMessage::Binary));
        }
        drop(cur);
        Viewer {
            remux,
            rx,
            backlog,
            skipping: false,
            initialised,
            finished: false,
            lagged: 0,
        }
    }

    /// Viewers and remux state of a camera's preview.
    pub async fn preview_stats(&self, camera_id: i64) -> Result<PreviewStats> {
        self.db.camera(camera_id).await?;
        Ok(self.stats_of(PreviewSource::Camera(camera_id)))
    }

    /// Viewers and remux state of a program's preview.
    pub async fn program_preview_stats(&self, program_id: i64) -> Result<PreviewStats> {
        self.db.program(program_id).await?;
        Ok(self.stats_of(PreviewSource::Program(program_id)))
    }

    fn stats_of(&self, source: PreviewSource) -> PreviewStats {
        let (camera_id, program_id) = match source {
            PreviewSource::Camera(id) => (Some(id), None),
            PreviewSource::Program(id) => (None, Some(id)),
        };
        let remux = self
            .previews
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
            state: Some(state_name(status.state).to_string()),
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
                    let mut map = self.previews.remuxes.lock().expect("preview lock");
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
        self.previews
            .remuxes
            .lock()
            .expect("preview lock")
            .retain(|_, r| !Arc::ptr_eq(r, &remux));
        let _ = remux.handle.stop().await;
        metrics::gauge!("vistterstream_preview_remuxes").decrement(1.0);
        tracing::info!(source = %source, "preview remux stopped");
    }
}

/// The program's output as one remux sees it across its runs: where to start, then the live
/// chunks.
struct ProgramTap {
    start: Vec<Bytes>,
    rx: broadcast::Receiver<TapChunk>,
}

/// Writes the program's MPEG-TS into one run of its preview remux, always beginning with PAT,
/// PMT and a keyframe so the remux has the stream's parameters at once (no seconds of
/// probing, no "dimensions not set"). When the encoder restarts (its timestamps start over)
/// the run is ended by closing its input; the supervisor starts the next one, which begins a
/// new init segment. A remux that cannot keep up loses TS chunks, for itself only (the tap
/// never waits), and resumes at the next keyframe.
async fn feed_run(tap: Arc<tokio::sync::Mutex<ProgramTap>>, mut stdin: vs_engine::BoxWrite) {
    let mut tap = tap.lock().await;
    let mut joiner = TsGop::new();
    let mut pending = std::mem::take(&mut tap.start);
    let mut started = !pending.is_empty();
    loop {
        for c in pending.drain(..) {
            if stdin.write_all(&c).await.is_err() {
                return;
            }
        }
        match tap.rx.recv().await {
            Ok(TapChunk::Data(b)) if started => pending.push(b),
            Ok(TapChunk::Data(b)) => {
                joiner.push(&b);
                if joiner.joinable() {
                    started = true;
                    pending = joiner.start();
                }
            }
            Ok(TapChunk::NewRun) | Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                metrics::counter!("vistterstream_preview_program_lagged_chunks_total").increment(n);
                started = false;
                joiner.reset();
            }
        }
    }
}

/// Splits one run's stdout into boxes and publishes the init segment and fragments. When the
/// pipe ends (the camera was lost, FFmpeg died) the viewers are told the camera is offline.
async fn read_run(remux: Arc<Remux>, mut stdout: vs_engine::BoxRead) {
    let mut buf = BytesMut::with_capacity(256 << 10);
    let mut splitter = Splitter::default();
    loop {
        match stdout.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match next_box(&buf) {
                BoxState::Incomplete => break,
                BoxState::Invalid => {
                    tracing::warn!("preview: malformed MP4 from the remux; waiting for a restart");
                    go_offline(&remux);
                    return;
                }
                BoxState::Complete { kind, len } => {
                    let data = buf.split_to(len).freeze();
                    if let Some(p) = splitter.push(kind, data) {
                        publish(&remux, p);
                    }
                }
            }
        }
        if buf.capacity() - buf.len() < 64 << 10 {
            buf.reserve(256 << 10);
        }
    }
    go_offline(&remux);
}

fn go_offline(remux: &Remux) {
    let mut cur = remux.current.lock().expect("preview lock");
    cur.init = None;
    cur.gop.clear();
    cur.gop_bytes = 0;
    if cur.online != Some(false) {
        cur.online = Some(false);
        let _ = remux.tx.send(Packet::Online(false));
    }
}

fn publish(remux: &Remux, packet: Packet) {
    let mut cur = remux.current.lock().expect("preview lock");
    match &packet {
        Packet::Init { mime, data } => {
            cur.init = Some((mime.clone(), data.clone()));
            cur.gop.clear();
            cur.gop_bytes = 0;
            if cur.online != Some(true) {
                cur.online = Some(true);
                let _ = remux.tx.send(Packet::Online(true));
            }
        }
        Packet::Fragment { data, keyframe } => {
            cur.fragments += 1;
            if *keyframe || cur.gop_bytes + data.len() > GOP_CACHE_MAX_BYTES {
                cur.gop.clear();
                cur.gop_bytes = 0;
            }
            // A cache that does not start at a keyframe is useless to a new viewer.
            if *keyframe || !cur.gop.is_empty() {
                cur.gop_bytes += data.len();
                cur.gop.push(data.clone());
            }
        }
        Packet::Online(_) => {}
    }
    // Sending under the lock keeps the order seen by joining viewers consistent with the
    // snapshot they take; `send` never waits.
    let _ = remux.tx.send(packet);
}

enum BoxState {
    Incomplete,
    Invalid,
    Complete { kind: [u8; 4], len: usize },
}

/// The type and total length of the box at the start of `buf`, once it is all there.
fn next_box(buf: &[u8]) -> BoxState {
    if buf.len() < 8 {
        return BoxState::Incomplete;
    }
    let size = u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")) as u64;
    let kind: [u8; 4] = buf[4..8].try_into().expect("4 bytes");
    let len = match size {
        1 => {
            if buf.len() < 16 {
                return BoxState::Incomplete;
            }
            u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"))
        }
        // Size 0 ("to the end of the file") never appears in a fragmented live stream.
        0 => return BoxState::Invalid,
        n => n,
    };
    if len < 8 || len > MAX_BOX as u64 {
        return BoxState::Invalid;
    }
    let len = len as usize;
    if buf.len() < len {
        BoxState::Incomplete
    } else {
        BoxState::Complete { kind, len }
    }
}

/// Groups top-level boxes into an init segment and fragments.
#[derive(Default)]
pub struct Splitter {
    ftyp: Option<Bytes>,
    moof: Option<Bytes>,
    /// `trex` default sample flags, used when a fragment does not state its own.
    trex_flags: u32,
}

impl Splitter {
    /// Feeds one complete top-level box; returns a packet when one is complete.
    pub fn push(&mut self, kind: [u8; 4], data: Bytes) -> Option<Packet> {
        match &kind {
            b"ftyp" => {
                self.ftyp = Some(data);
                None
            }
            b"moov" => {
                let mime = mime_of(&data);
                self.trex_flags = find_box(&data, &[b"mvex", b"trex"])
                    .filter(|t| t.len() >= 24)
                    .map(|t| u32::from_be_bytes(t[20..24].try_into().expect("4 bytes")))
                    .unwrap_or(0);
                let mut init = BytesMut::new();
                if let Some(f) = self.ftyp.take() {
                    init.extend_from_slice(&f);
                }
                init.extend_from_slice(&data);
                Some(Packet::Init {
                    mime,
                    data: init.freeze(),
                })
            }
            b"moof" => {
                self.moof = Some(data);
                None
            }
            b"mdat" => {
                let moof = self.moof.take()?;
                let keyframe = first_sample_is_sync(&moof, self.trex_flags);
                let mut frag = BytesMut::with_capacity(moof.len() + data.len());
                frag.extend_from_slice(&moof);
                frag.extend_from_slice(&data);
                Some(Packet::Fragment {
                    data: frag.freeze(),
                    keyframe,
                })
            }
            _ => None,
        }
    }
}

/// Iterates the child boxes of a box's payload.
fn children(mut payload: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if payload.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(payload[0..4].try_into().ok()?) as usize;
        if size < 8 || size > payload.len() {
            return None;
        }
        let kind: [u8; 4] = payload[4..8].try_into().ok()?;
        let body = &payload[8..size];
        payload = &payload[size..];
        Some((kind, body))
    })
}

/// The payload of the box at `path` below `data` (a whole box, header included).
fn find_box<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let mut cur = data.get(8..)?;
    for want in path {
        cur = children(cur).find(|(k, _)| k == *want)?.1;
    }
    Some(cur)
}

/// `video/mp4; codecs="…"` from the sample entry of the first track: `avc1.PPCCLL` from
/// `avcC`, `hvc1.…` from `hvcC` (so the browser can say whether it decodes it).
pub fn mime_of(moov: &[u8]) -> String {
    let codec = codec_of(moov).unwrap_or_else(|| "avc1.42E01E".into());
    format!("video/mp4; codecs=\"{codec}\"")
}

fn codec_of(moov: &[u8]) -> Option<String> {
    let stsd = children(moov.get(8..)?)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, trak)| {
            let mdia = children(trak).find(|(k, _)| k == b"mdia")?.1;
            let minf = children(mdia).find(|(k, _)| k == b"minf")?.1;
            let stbl = children(minf).find(|(k, _)| k == b"stbl")?.1;
            children(stbl).find(|(k, _)| k == b"stsd").map(|(_, b)| b)
        })?;
    // stsd: version/flags (4) + entry count (4), then sample entries; a visual sample entry
    // has 78 bytes of fixed fields before its child boxes.
    let (entry, body) = children(stsd.get(8..)?).next()?;
    let boxes = body.get(78..)?;
    match &entry {
        b"avc1" | b"avc3" => {
            let avcc = children(boxes).find(|(k, _)| k == b"avcC")?.1;
            Some(format!(
                "{}.{:02X}{:02X}{:02X}",
                String::from_utf8_lossy(&entry),
                avcc.get(1)?,
                avcc.get(2)?,
                avcc.get(3)?
            ))
        }
        b"hvc1" | b"hev1" => {
            let h = children(boxes).find(|(k, _)| k == b"hvcC")?.1;
            let b1 = *h.get(1)?;
            let space = ["", "A", "B", "C"][(b1 >> 6) as usize];
            let tier = if b1 & 0x20 != 0 { 'H' } else { 'L' };
            let compat = u32::from_be_bytes(h.get(2..6)?.try_into().ok()?).reverse_bits();
            let level = *h.get(12)?;
            Some(format!(
                "{}.{space}{}.{compat:X}.{tier}{level}.B0",
                String::from_utf8_lossy(&entry),
                b1 & 0x1f
            ))
        }
        other => Some(String::from_utf8_lossy(other).into_owned()),
    }
}

/// Whether the first sample of a fragment is a sync sample (a keyframe), from the `trun`
/// first-sample flags, else its per-sample flags, else the `tfhd`/`trex` defaults.
pub fn first_sample_is_sync(moof: &[u8], trex_flags: u32) -> bool {
    let Some(traf) = find_box(moof, &[b"traf"]) else {
        return false;
    };
    let mut default = trex_flags;
    if let Some(tfhd) = children(traf).find(|(k, _)| k == b"tfhd").map(|(_, b)| b) {
        if tfhd.len() >= 8 {
            let flags = u32::from_be_bytes([0, tfhd[1], tfhd[2], tfhd[3]]);
            // Optional fields after track_ID, in order; default_sample_flags is 0x20.
            let mut off = 8;
            for (bit, len) in [(0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4)] {
                if flags & bit != 0 {
                    off += len;
                }
            }
            if flags & 0x20 != 0 {
                if let Some(v) = tfhd.get(off..off + 4) {
                    default = u32::from_be_bytes(v.try_into().expect("4 bytes"));
                }
            }
        }
    }
    let Some(trun) = children(traf).find(|(k, _)| k == b"trun").map(|(_, b)| b) else {
        return false;
    };
    if trun.len() < 8 {
        return false;
    }
    let flags = u32::from_be_bytes([0, trun[1], trun[2], trun[3]]);
    let mut p = &trun[8..];
    if flags & 0x01 != 0 {
        p = p.get(4..).unwrap_or_default();
    }
    let sample_flags = if flags & 0x04 != 0 {
        p.get(..4).map(|mut b| b.get_u32())
    } else if flags & 0x400 != 0 {
        // The first sample's entry: duration and size come first when present.
        let skip = (flags & 0x100 != 0) as usize * 4 + (flags & 0x200 != 0) as usize * 4;
        p.get(skip..skip + 4).map(|mut b| b.get_u32())
    } else {
        None
    };
    // sample_is_non_sync_sample is bit 16 of the sample flags.
    sample_flags.unwrap_or(default) & 0x0001_0000 == 0
}

/// The supervisor state as the stats report it.
fn state_name(s: State) -> &'static str {
    match s {
        State::Idle => "idle",
        State::Starting => "starting",
        State::Running => "running",
        State::Backoff => "backoff",
        State::Failed => "failed",
        State::Stopped => "stopped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A `moof` whose `trun` states (or not) first-sample flags.
    fn moof(first_flags: Option<u32>, tfhd_default: Option<u32>) -> Vec<u8> {
        let mut tfhd = vec![0, 0, 0, if tfhd_default.is_some() { 0x20 } else { 0 }];
        tfhd.extend_from_slice(&1u32.to_be_bytes());
        if let Some(d) = tfhd_default {
            tfhd.extend_from_slice(&d.to_be_bytes());
        }
        let mut trun = vec![0, 0, 0, 0x01 | if first_flags.is_some() { 0x04 } else { 0 }];
        trun.extend_from_slice(&1u32.to_be_bytes());
        trun.extend_from_slice(&100u32.to_be_bytes());
        if let Some(f) = first_flags {
            trun.extend_from_slice(&f.to_be_bytes());
        }
        let traf = [mp4_box(b"tfhd", &tfhd), mp4_box(b"trun", &trun)].concat();
        mp4_box(b"moof", &mp4_box(b"traf", &traf))
    }

    #[test]
    fn keyframes_from_trun_or_defaults() {
        assert!(first_sample_is_sync(
            &moof(Some(0x0200_0000), None),
            0x0101_0000
        ));
        assert!(!first_sample_is_sync(&moof(Some(0x0101_0000), None), 0));
        assert!(!first_sample_is_sync(&moof(None, Some(0x0101_0000)), 0));
        assert!(first_sample_is_sync(&moof(None, None), 0x0200_0000));
    }

    #[test]
    fn boxes_are_split_when_complete() {
        let b = mp4_box(b"ftyp", b"isom0000");
        assert!(matches!(next_box(&b[..10]), BoxState::Incomplete));
        assert!(matches!(
            next_box(&b),
            BoxState::Complete {
                kind: [b'f', b't', b'y', b'p'],
                len: 16
            }
        ));
        assert!(matches!(
            next_box(&[0, 0, 0, 4, b'x', b'x', b'x', b'x']),
            BoxState::Invalid
        ));
    }

    #[test]
    fn fragments_pair_moof_and_mdat() {
        let mut s = Splitter::default();
        assert!(s
            .push(*b"ftyp", Bytes::from(mp4_box(b"ftyp", b"isom")))
            .is_none());
        let Some(Packet::Init { mime, data }) =
            s.push(*b"moov", Bytes::from(mp4_box(b"moov", b"")))
        else {
            panic!("init expected");
        };
        assert!(mime.starts_with("video/mp4"));
        assert_eq!(&data[4..8], b"ftyp");
        assert!(s.push(*b"moof", Bytes::from(moof(None, None))).is_none());
        let Some(Packet::Fragment { data, keyframe }) =
            s.push(*b"mdat", Bytes::from(mp4_box(b"mdat", b"xx")))
        else {
            panic!("fragment expected");
        };
        assert!(keyframe);
        assert_eq!(&data[4..8], b"moof");
    }
}
