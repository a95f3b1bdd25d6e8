//! Camera-to-destination streams: the camera's video is copied (no re-encode: near-zero CPU on
//! a Pi), AAC audio is always present (the camera's, or silence, because YouTube drops
//! video-only streams). Each destination has its own output, so one failing destination never
//! stops the others; each recovers by itself with backoff. RTMP(S) outputs are published from
//! the appliance's own process (`vs_engine::publish`: no stream key on any command line, live
//! again at the newest keyframe after an outage, the uplink measured); SRT outputs are a
//! supervised FFmpeg whose stream id and passphrase go through a private FIFO. What the user
//! asked for (running or not) is stored, so running streams come back after a restart.
//!
//! No output opens the camera: each reads the camera's hub session as MPEG-TS on its stdin
//! (`vs_engine::hub::feed_ts`), starting at the session's cached keyframe, so the camera keeps
//! one connection whatever the number of destinations, and no FFmpeg sees its address or
//! login. The audio plan comes from the session's stream parameters, not from a probe.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::streaming::{StreamRow, StreamWrite};
use vs_db::Db;
use vs_engine::ffmpeg::stream::hub_copy_args;
use vs_engine::ffmpeg::AudioPlan;
use vs_engine::hub::{feed_ts, ConsumerKind, End, FeedEnd};
use vs_engine::publish::{
    feed_hub, Publisher, PublisherConfig, PublisherInput, PublisherStats, SrtOutput,
};
use vs_engine::{
    supervise, Deps, MediaIo, ProcessSpec, Status, StdinMode, SupervisorConfig, SupervisorHandle,
};

use super::destinations::{DestinationService, UplinkLive};
use super::hub::HubService;
use super::live::{self, Feed};
use super::ptz::PtzService;
use super::{validate, Events, Infra};
use crate::config::Config;

/// The body of `POST /api/streams` and `PUT /api/streams/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamInput {
    #[schema(example = "Marina to YouTube")]
    pub name: String,
    pub camera_id: i64,
    /// Move the camera to this preset before streaming (PTZ cameras).
    #[serde(default)]
    pub preset_id: Option<i64>,
    /// One or more destinations.
    pub destination_ids: Vec<i64>,
}

/// The live state of one output (one destination) of a stream.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputStatus {
    pub destination_id: i64,
    pub destination: String,
    /// idle, starting, running, backoff, failed, stopped
    pub state: String,
    /// The FFmpeg process of this output, while one runs.
    pub pid: Option<u32>,
    pub uptime_s: u64,
    pub fps: Option<f64>,
    pub bitrate_kbps: Option<f64>,
    pub speed: Option<f64>,
    pub restarts: u32,
    pub last_error: Option<String>,
    /// RTMP(S) destinations: send rate, queue, drops, `congested`.
    pub uplink: Option<UplinkLive>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamStatus {
    /// stopped, starting, running (every output), degraded (some outputs), reconnecting (none)
    pub state: String,
    pub started_at: Option<String>,
    pub uptime_s: u64,
    /// What is sent besides the camera's video: "camera" (AAC copied), "transcoded", "silence".
    pub audio: Option<String>,
    pub outputs: Vec<OutputStatus>,
    /// For a stopped stream: the last error it had while it ran, so the cause stays visible.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stream {
    pub id: i64,
    pub name: String,
    pub camera_id: i64,
    pub preset_id: Option<i64>,
    pub destination_ids: Vec<i64>,
    /// What the user asked for: running or stopped.
    pub desired_state: String,
    pub status: StreamStatus,
    pub created_at: String,
    pub updated_at: String,
}

struct Output {
    destination_id: i64,
    destination: String,
    sender: Sender,
    /// Ends the task that feeds this output from the camera's session.
    feeder: CancellationToken,
    /// The output's state as a supervised process's (for a publisher, its session shown so).
    status: watch::Receiver<Status>,
}

/// How an output reaches its destination.
enum Sender {
    /// RTMP(S): published from this process; no child sees the stream key.
    Publisher(Publisher),
    /// SRT: an FFmpeg copying MPEG-TS, its stream id and passphrase handed over through a
    /// private FIFO (never on its command line).
    Ffmpeg(SupervisorHandle),
}

impl Output {
    fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    fn uplink(&self) -> Option<UplinkLive> {
        match &self.sender {
            Sender::Publisher(p) => Some((&*p.stats().borrow()).into()),
            Sender::Ffmpeg(_) => None,
        }
    }

    async fn stop(&self) {
        self.feeder.cancel();
        match &self.sender {
            Sender::Publisher(p) => p.close().await,
            Sender::Ffmpeg(h) => {
                let _ = h.stop().await;
            }
        }
    }
}

struct Running {
    started_at: String,
    started: std::time::Instant,
    audio: &'static str,
    outputs: Vec<Output>,
    /// Ends the task that pushes this run's status to browsers.
    feed: CancellationToken,
}

/// What a browser sees change in a running stream, per output (uptime and rates aside: those
/// go out with the periodic push).
type Signature = Vec<(vs_engine::State, u32, Option<String>)>;

fn signature(outputs: &[watch::Receiver<Status>]) -> Signature {
    outputs
        .iter()
        .map(|rx| {
            let s = rx.borrow();
            (s.state, s.restarts, s.last_error.clone())
        })
        .collect()
}

/// How often a running stream's status is pushed without a change (uptime, fps, bitrate).
const STATUS_PERIOD: Duration = Duration::from_secs(2);

/// Camera-to-destination streams and the supervised copies of the ones that run.
pub struct StreamService {
    db: Db,
    config: Arc<Config>,
    /// How FFmpeg children are spawned and timed (real, or a test's fakes).
    engine: Deps,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// Every change of a stream goes out as `stream_status`.
    events: Events,
    destinations: Arc<DestinationService>,
    ptz: Arc<PtzService>,
    /// The camera sessions the outputs read.
    hub: Arc<HubService>,
    /// The streams that run now.
    running: tokio::sync::Mutex<HashMap<i64, Running>>,
    /// One start at a time per stream: a second start (a double click, another tab) waits for
    /// the first and finds the stream running, instead of spawning a second set of outputs.
    starting: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl StreamService {
    pub fn new(
        infra: &Infra,
        engine: Deps,
        destinations: Arc<DestinationService>,
        ptz: Arc<PtzService>,
        hub: Arc<HubService>,
    ) -> Self {
        StreamService {
            db: infra.db.clone(),
            config: infra.config.clone(),
            engine,
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            events: infra.events.clone(),
            destinations,
            ptz,
            hub,
            running: Default::default(),
            starting: Default::default(),
        }
    }

    fn supervisor_config(&self) -> SupervisorConfig {
        SupervisorConfig {
            stall_timeout: Duration::from_secs(self.config.stall_timeout_s.max(1)),
            ..Default::default()
        }
    }

    async fn check_stream(&self, input: &StreamInput) -> Result<StreamWrite> {
        let name = validate::name("name", &input.name, 64)?;
        self.db.camera(input.camera_id).await.map_err(|_| {
            Error::invalid(
                "camera_id",
                format!("camera {} does not exist", input.camera_id),
            )
        })?;
        if let Some(p) = input.preset_id {
            let preset =
                self.db.preset(p).await.map_err(|_| {
                    Error::invalid("preset_id", format!("preset {p} does not exist"))
                })?;
            if preset.camera_id != input.camera_id {
                return Err(Error::invalid(
                    "preset_id",
                    "the preset belongs to another camera",
                ));
            }
        }
        let ids = self.destinations.check_ids(&input.destination_ids).await?;
        Ok(StreamWrite {
            name,
            camera_id: input.camera_id,
            preset_id: input.preset_id,
            destination_ids: ids,
        })
    }

    async fn stream_view(&self, row: StreamRow) -> Result<Stream> {
        let destination_ids = self.db.stream_destination_ids(row.id).await?;
        let mut status = self.stream_status(row.id).await;
        if status.state == "stopped" {
            status.last_error = row.last_error.clone();
        }
        Ok(Stream {
            id: row.id,
            name: row.name,
            camera_id: row.camera_id,
            preset_id: row.preset_id,
            destination_ids,
            desired_state: row.desired_state,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    async fn stream_status(&self, id: i64) -> StreamStatus {
        let running = self.running.lock().await;
        let Some(r) = running.get(&id) else {
            return StreamStatus {
                state: "stopped".into(),
                started_at: None,
                uptime_s: 0,
                audio: None,
                outputs: vec![],
                last_error: None,
            };
        };
        let outputs: Vec<OutputStatus> = r
            .outputs
            .iter()
            .map(|o| {
                let s = o.status();
                let p = s.progress.as_ref();
                OutputStatus {
                    destination_id: o.destination_id,
                    destination: o.destination.clone(),
                    state: s.state.as_str().into(),
                    pid: s.pid,
                    uptime_s: s.started_at.map(|t| t.elapsed().as_secs()).unwrap_or(0),
                    fps: p.and_then(|p| p.fps),
                    bitrate_kbps: p.and_then(|p| p.bitrate_kbps),
                    speed: p.and_then(|p| p.speed),
                    restarts: s.restarts,
                    last_error: s.last_error.clone(),
                    uplink: o.uplink(),
                }
            })
            .collect();
        let up = outputs.iter().filter(|o| o.state == "running").count();
        let state = if up == outputs.len() {
            "running"
        } else if up > 0 {
            "degraded"
        } else if outputs
            .iter()
            .all(|o| o.state == "starting" || o.state == "idle")
        {
            "starting"
        } else {
            "reconnecting"
        };
        StreamStatus {
            state: state.into(),
            started_at: Some(r.started_at.clone()),
            uptime_s: r.started.elapsed().as_secs(),
            audio: Some(r.audio.into()),
            outputs,
            last_error: None,
        }
    }

    pub async fn list(&self) -> Result<Vec<Stream>> {
        let mut out = Vec::new();
        for row in self.db.list_streams().await? {
            out.push(self.stream_view(row).await?);
        }
        Ok(out)
    }

    pub async fn get(&self, id: i64) -> Result<Stream> {
        let row = self.db.stream(id).await?;
        self.stream_view(row).await
    }

    pub async fn create(&self, input: &StreamInput, user: Option<i64>) -> Result<Stream> {
        let w = self.check_stream(input).await?;
        let row = self.db.save_stream(None, &w).await?;
        self.db
            .audit(user, "stream_created", Some(&row.name), None)
            .await?;
        Ok(self.announce(self.stream_view(row).await?))
    }

    pub async fn update(&self, id: i64, input: &StreamInput, user: Option<i64>) -> Result<Stream> {
        self.db.stream(id).await?;
        if self.running.lock().await.contains_key(&id) {
            return Err(Error::invalid_state(
                "the stream is running; stop it before changing it",
            ));
        }
        let w = self.check_stream(input).await?;
        let row = self.db.save_stream(Some(id), &w).await?;
        self.db
            .audit(user, "stream_updated", Some(&row.name), None)
            .await?;
        Ok(self.announce(self.stream_view(row).await?))
    }

    pub async fn delete(&self, id: i64, user: Option<i64>) -> Result<()> {
        let row = self.db.stream(id).await?;
        if self.running.lock().await.contains_key(&id) {
            return Err(Error::invalid_state(
                "the stream is running; stop it before deleting it",
            ));
        }
        self.db.delete_stream(id).await?;
        // A reference, not the stream: a page that asks for it learns (404) that it is gone.
        self.events
            .publish("stream_status", serde_json::json!({ "id": id }));
        self.db
            .audit(user, "stream_deleted", Some(&row.name), None)
            .await
    }

    /// Tells browsers a stream as `GET /api/streams/{id}` returns it, and returns it.
    fn announce(&self, stream: Stream) -> Stream {
        if let Ok(data) = serde_json::to_value(&stream) {
            self.events.publish("stream_status", data);
        }
        stream
    }

    /// Pushes a running stream's status while it runs: at every change of an output's state,
    /// restarts or last error, and every `STATUS_PERIOD`.
    fn spawn_feed(
        self: &Arc<Self>,
        id: i64,
        rxs: Vec<watch::Receiver<Status>>,
    ) -> CancellationToken {
        let stop = self.shutdown.child_token();
        let changes = futures::stream::select_all(
            rxs.iter()
                .map(|rx| tokio_stream::wrappers::WatchStream::from_changes(rx.clone())),
        );
        let service = Arc::downgrade(self);
        let view = move || {
            let service = service.clone();
            async move {
                let stream = service.upgrade()?.get(id).await.ok()?;
                serde_json::to_value(stream).ok()
            }
        };
        let feed = Feed {
            kind: "stream_status",
            period: STATUS_PERIOD,
        };
        let events = self.events.clone();
        self.tasks.spawn(live::run(
            feed,
            events,
            changes,
            move || signature(&rxs),
            view,
            stop.clone(),
        ));
        stop
    }

    /// Starts a stream: one supervised copy per destination.
    pub async fn start(self: &Arc<Self>, id: i64, user: Option<i64>) -> Result<Stream> {
        let gate = self
            .starting
            .lock()
            .expect("start gates")
            .entry(id)
            .or_default()
            .clone();
        let _one_start = gate.lock().await;
        let row = self.db.stream(id).await?;
        {
            let running = self.running.lock().await;
            if running.contains_key(&id) {
                drop(running);
                return self.stream_view(row).await;
            }
        }
        let cam = self.db.camera(row.camera_id).await?;
        if !cam.enabled {
            return Err(Error::invalid_state(
                "the camera is disabled; enable it first",
            ));
        }
        let session = self.hub.session_for(cam.id).await?;
        // What audio the camera's session carries decides how AAC is always present. A camera
        // that does not play within a few seconds gets silence; the stream still starts and
        // its outputs begin when the camera is back.
        if session.state() != vs_engine::hub::SessionState::Playing {
            self.hub
                .wait_verdict(&session, Duration::from_secs(5))
                .await;
        }
        let audio = session
            .info()
            .map(|info| AudioPlan::for_hub(&info))
            .unwrap_or(AudioPlan::Silence);
        if let Some(preset_id) = row.preset_id {
            // A move that fails must not keep the stream off the air: log and stream anyway.
            if let Err(e) = self.ptz.move_to_preset(preset_id).await {
                tracing::warn!(stream = id, error = %e, "preset move before streaming failed");
            }
        }
        let mut outputs: Vec<Output> = Vec::new();
        if let Err(e) = self.start_outputs(id, cam.id, audio, &mut outputs).await {
            // Whatever already started is stopped: nothing runs that `running` does not hold.
            for o in &outputs {
                o.stop().await;
            }
            return Err(e);
        }
        if outputs.is_empty() {
            return Err(Error::invalid_state(
                "every destination of this stream is disabled",
            ));
        }
        let started_at = vs_db::now();
        let statuses = outputs.iter().map(|o| o.status.clone()).collect();
        // Under the lock, so the feed's first read already finds this run.
        let mut running = self.running.lock().await;
        let feed = self.spawn_feed(id, statuses);
        running.insert(
            id,
            Running {
                started_at: started_at.clone(),
                started: std::time::Instant::now(),
                audio: audio.label(),
                outputs,
                feed,
            },
        );
        drop(running);
        self.db.set_stream_desired(id, "running").await?;
        self.db
            .set_stream_status(id, "running", Some(&started_at), None)
            .await?;
        self.db
            .audit(user, "stream_started", Some(&row.name), None)
            .await?;
        metrics::gauge!("vistterstream_streams_running").increment(1.0);
        tracing::info!(stream = id, name = %row.name, audio = audio.label(), "stream started");
        Ok(self.announce(self.get(id).await?))
    }

    /// Starts one output per enabled destination of stream `id`, pushing each onto `outputs`
    /// as it starts; on an error the caller stops those already pushed.
    async fn start_outputs(
        self: &Arc<Self>,
        id: i64,
        camera_id: i64,
        audio: AudioPlan,
        outputs: &mut Vec<Output>,
    ) -> Result<()> {
        for dest_id in self.db.stream_destination_ids(id).await? {
            let dest = self.db.destination(dest_id).await?;
            if !dest.enabled {
                continue;
            }
            let target = self.destinations.target(&dest)?;
            let feeder = self.shutdown.child_token();
            let output = match target.protocol {
                vs_base::Protocol::Rtmp | vs_base::Protocol::Rtmps => {
                    let cfg = PublisherConfig {
                        name: format!("stream {id} → {}", dest.name),
                        ..PublisherConfig::default()
                    };
                    let publisher = Publisher::start(target, cfg, self.shutdown.clone());
                    let status = publisher_status(
                        &dest.name,
                        publisher.stats(),
                        feeder.clone(),
                        &self.tasks,
                    );
                    self.tasks.spawn(publish_output(
                        self.hub.clone(),
                        camera_id,
                        publisher.input(),
                        audio == AudioPlan::Silence,
                        feeder.clone(),
                    ));
                    Output {
                        destination_id: dest.id,
                        destination: dest.name.clone(),
                        sender: Sender::Publisher(publisher),
                        feeder,
                        status,
                    }
                }
                _ => {
                    let srt = Arc::new(
                        SrtOutput::new(&target)
                            .map_err(|e| Error::invalid("destination_ids", e.message))?,
                    );
                    let mut spec = ProcessSpec::new(
                        format!("stream {id} → {}", dest.name),
                        &self.config.ffmpeg,
                    )
                    .args(srt.with_preset(hub_copy_args(audio, srt.url())))
                    .stdin(StdinMode::Media)
                    .span(tracing::info_span!(
                        "ffmpeg",
                        role = "stream",
                        stream_id = id,
                        camera_id,
                        destination_id = dest.id
                    ));
                    // The stream id and passphrase are never on its command line; they are
                    // masked in its log lines all the same.
                    for s in target.secrets() {
                        spec = spec.secret(s.clone());
                    }
                    let sup = supervise(
                        spec,
                        self.supervisor_config(),
                        self.engine.clone(),
                        self.shutdown.clone(),
                    );
                    let task = sup.task;
                    self.tasks.spawn(async move {
                        let _ = task.await;
                    });
                    self.tasks.spawn(feed_output(
                        self.hub.clone(),
                        camera_id,
                        sup.handle.clone(),
                        sup.media,
                        srt,
                        feeder.clone(),
                    ));
                    if let Err(e) = sup.handle.start().await {
                        feeder.cancel();
                        return Err(e);
                    }
                    Output {
                        destination_id: dest.id,
                        destination: dest.name.clone(),
                        status: sup.handle.subscribe(),
                        sender: Sender::Ffmpeg(sup.handle),
                        feeder,
                    }
                }
            };
            outputs.push(output);
        }
        Ok(())
    }

    pub async fn stop(&self, id: i64, user: Option<i64>) -> Result<Stream> {
        let row = self.db.stream(id).await?;
        let running = self.running.lock().await.remove(&id);
        if let Some(r) = running {
            r.feed.cancel();
            let mut last_error = None;
            for o in r.outputs {
                last_error = last_error.or(o.status().last_error);
                o.stop().await;
            }
            metrics::gauge!("vistterstream_streams_running").decrement(1.0);
            self.db
                .set_stream_status(id, "stopped", None, last_error.as_deref())
                .await?;
            tracing::info!(stream = id, name = %row.name, "stream stopped");
        }
        self.db.set_stream_desired(id, "stopped").await?;
        self.db
            .audit(user, "stream_stopped", Some(&row.name), None)
            .await?;
        Ok(self.announce(self.get(id).await?))
    }

    /// Starts again every stream that was running when the appliance stopped.
    pub async fn resume(self: &Arc<Self>) -> Result<()> {
        for row in self.db.list_streams().await? {
            if row.desired_state == "running" {
                let streams = self.clone();
                self.tasks.spawn(async move {
                    match streams.start(row.id, None).await {
                        Ok(_) => tracing::info!(stream = row.id, "stream resumed after restart"),
                        Err(e) => tracing::warn!(stream = row.id, error = ?e, "stream could not be resumed"),
                    }
                });
            }
        }
        Ok(())
    }
}

/// Feeds every run of one output's FFmpeg from the camera's session, until `stop`.
async fn feed_output(
    hub: Arc<HubService>,
    camera_id: i64,
    handle: SupervisorHandle,
    mut media: tokio::sync::mpsc::Receiver<MediaIo>,
    srt: Arc<SrtOutput>,
    stop: CancellationToken,
) {
    let mut feeding: Option<tokio::task::JoinHandle<()>> = None;
    let mut handing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let io = tokio::select! {
            _ = stop.cancelled() => break,
            io = media.recv() => io,
        };
        let Some(io) = io else { break };
        if io.run != handle.status().run {
            continue;
        }
        if let Some(old) = feeding.take() {
            old.abort();
        }
        if let Some(old) = handing.take() {
            old.abort();
        }
        // FFmpeg reads its SRT options (the FIFO) once it has probed its input: handed
        // over while the camera's packets already flow.
        let srt = srt.clone();
        handing = Some(tokio::spawn(async move {
            if let Err(e) = srt.hand_over(Duration::from_secs(30)).await {
                tracing::warn!(camera = camera_id, "SRT output: {e}");
            }
        }));
        if let Some(stdin) = io.stdin {
            feeding = Some(tokio::spawn(feed_run(
                hub.clone(),
                camera_id,
                handle.clone(),
                stdin,
            )));
        }
    }
    for t in feeding.into_iter().chain(handing) {
        t.abort();
    }
}

/// The output's publisher state as a supervised process's status, on a watch channel (what
/// the live feed and the status views read), until `stop`.
fn publisher_status(
    name: &str,
    mut stats: watch::Receiver<PublisherStats>,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> watch::Receiver<Status> {
    let name = name.to_string();
    let (tx, rx) = watch::channel(stats.borrow().as_status(&name));
    tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                r = stats.changed() => if r.is_err() { break },
            }
            let next = stats.borrow().as_status(&name);
            tx.send_if_modified(|cur| {
                let changed = (cur.state, cur.restarts, &cur.last_error)
                    != (next.state, next.restarts, &next.last_error);
                *cur = next;
                changed
            });
        }
        tx.send_modify(|s| s.state = vs_engine::State::Stopped);
    });
    rx
}

/// Feeds a publisher from the camera's session until `stop`: from the session's cached
/// keyframe on; while the camera is away it waits for it; a new source (the camera's settings
/// changed) is followed at once (the publisher re-anchors its timeline on the new keyframe).
async fn publish_output(
    hub: Arc<HubService>,
    camera_id: i64,
    input: PublisherInput,
    silent_audio: bool,
    stop: CancellationToken,
) {
    loop {
        let Some(session) = hub.session(camera_id) else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
            }
        };
        let sub = tokio::select! {
            _ = stop.cancelled() => return,
            sub = session.subscribe_with(
                ConsumerKind::Copy,
                Duration::from_secs(2),
                Duration::from_secs(3600),
            ) => sub,
        };
        let Ok(sub) = sub else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            end = feed_hub(sub, input.clone(), silent_audio) => {
                if end.is_none() {
                    // The publisher stopped.
                    return;
                }
            }
        }
    }
}

/// One run of an output: the camera's packets from its cached keyframe on, as MPEG-TS. While
/// the camera is away the run waits for it (the supervisor's stall and startup bounds restart
/// the FFmpeg meanwhile); a new source (the camera's settings changed) starts a new run at
/// once, so its parameters are probed afresh.
async fn feed_run(
    hub: Arc<HubService>,
    camera_id: i64,
    handle: SupervisorHandle,
    mut stdin: vs_engine::BoxWrite,
) {
    loop {
        let Some(session) = hub.session(camera_id) else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let sub = session
            .subscribe_with(
                ConsumerKind::Copy,
                Duration::from_secs(2),
                Duration::from_secs(3600),
            )
            .await;
        let sub = match sub {
            Ok(sub) => sub,
            Err(_) => {
                // The session was stopped (camera disabled) or replaced: look again.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        match feed_ts(sub, &mut stdin).await {
            FeedEnd::Ended(End::SourceChanged) => {
                let _ = handle.restart().await;
                return;
            }
            // Closing stdin ends the run; the next one waits for the camera.
            FeedEnd::Ended(_) | FeedEnd::WriteFailed(_) => return,
        }
    }
}
