//! One camera's session: an actor that keeps one connection to the camera open, supervises it
//! and fans its packets out to every consumer.
//!
//! States: `Connecting → Playing → Backoff → Connecting …`, and `Stopped`. A connection that
//! delivers no packet for `stall_timeout` is stalled: it is dropped and the session backs off
//! (capped exponential delay with jitter, reset by a connection that lasted
//! `backoff.reset_after`) before connecting again. Subscriptions survive reconnects (their
//! timestamps continue, see `timeline`); a change of the source settings ends them with
//! [`End::SourceChanged`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vs_base::{Error, ErrorKind, Result};

use super::fanout::{End, Ring, RingLimits, Subscription};
use super::packet::{Packet, Shared, StreamInfo, StreamKind};
use super::source::{Connection, Connector, SourceConfig, SourceFrame};
use super::stats::{ConsumerGuard, ConsumerKind, Consumers, Meter, SessionState, SessionStats};
use super::timeline::Timeline;
use crate::backoff::BackoffPolicy;

/// Timings and sizes of every session of a hub.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Longest a connection attempt may take (RTSP handshake or FFmpeg start).
    pub connect_timeout: Duration,
    /// No packet for this long: the connection is stalled and reopened.
    pub stall_timeout: Duration,
    pub backoff: BackoffPolicy,
    pub ring: RingLimits,
    /// Default lag bound of a subscription: a subscriber whose next packet is older than this
    /// while a newer keyframe exists is moved to that keyframe.
    pub max_delay: Duration,
    /// How long `subscribe` waits for a first keyframe.
    pub subscribe_timeout: Duration,
    /// A source clock step larger than this (ticks) beyond the arrival time is a jump.
    pub jump_bound: i64,
    /// Window of the bitrate and frame-rate measurements.
    pub meter_window: Duration,
    /// The FFmpeg binary of the pulls (RTMP/SRT cameras).
    pub ffmpeg: std::path::PathBuf,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(5),
            backoff: BackoffPolicy {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
                multiplier: 2.0,
                jitter: 0.2,
                reset_after: Duration::from_secs(30),
            },
            ring: RingLimits::default(),
            max_delay: Duration::from_secs(1),
            subscribe_timeout: Duration::from_secs(10),
            jump_bound: super::timeline::DEFAULT_JUMP_BOUND,
            meter_window: Duration::from_secs(5),
            ffmpeg: "ffmpeg".into(),
        }
    }
}

struct Status {
    state: SessionState,
    since: SystemTime,
    playing_since: Option<Instant>,
    transport: &'static str,
    pid: Option<u32>,
    info: Option<Arc<StreamInfo>>,
    reconnects: u64,
    clock_jumps: u64,
    last_error: Option<String>,
    /// Connection attempts that failed before playing, in a row (see `SessionStats`).
    failed_attempts: u32,
}

/// State shared by the actor and the handles.
struct Inner {
    camera_id: i64,
    opts: HubOptions,
    cfg: Mutex<SourceConfig>,
    ring: Mutex<Arc<Ring>>,
    status: Mutex<Status>,
    meter: Mutex<Meter>,
    consumers: Consumers,
    state: watch::Sender<SessionState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

enum Cmd {
    /// The source settings changed (already stored in `Inner::cfg`).
    Reconfigure,
    Stop,
}

/// A handle on one camera's session. Cheap to clone; the session stops when the hub stops it
/// or every handle is gone.
#[derive(Clone)]
pub struct CameraSession {
    inner: Arc<Inner>,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl std::fmt::Debug for CameraSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSession")
            .field("camera_id", &self.inner.camera_id)
            .field("state", &self.state())
            .finish()
    }
}

impl CameraSession {
    /// Starts the session's actor; it connects at once.
    pub(crate) fn start(
        camera_id: i64,
        cfg: SourceConfig,
        opts: HubOptions,
        connector: Arc<dyn Connector>,
        shutdown: CancellationToken,
    ) -> (CameraSession, tokio::task::JoinHandle<()>) {
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            camera_id,
            cfg: Mutex::new(cfg),
            ring: Mutex::new(Ring::new(opts.ring.clone())),
            status: Mutex::new(Status {
                state: SessionState::Connecting,
                since: SystemTime::now(),
                playing_since: None,
                transport: "",
                pid: None,
                info: None,
                reconnects: 0,
                clock_jumps: 0,
                last_error: None,
                failed_attempts: 0,
            }),
            meter: Mutex::new(Meter::new(opts.meter_window)),
            consumers: Consumers::default(),
            state: watch::Sender::new(SessionState::Connecting),
            opts,
        });
        let actor = Actor {
            timeline: Timeline::new(inner.opts.jump_bound),
            inner: inner.clone(),
            connector,
            shutdown,
            cmd_rx,
            current: None,
            pending: None,
            epoch_has_key: false,
        };
        let task = tokio::spawn(actor.run());
        (CameraSession { inner, cmd }, task)
    }

    pub fn camera_id(&self) -> i64 {
        self.inner.camera_id
    }

    pub fn state(&self) -> SessionState {
        *self.inner.state.borrow()
    }

    /// Follows the state.
    pub fn watch_state(&self) -> watch::Receiver<SessionState> {
        self.inner.state.subscribe()
    }

    /// The parameters of the newest packets, once the session has played.
    pub fn info(&self) -> Option<Arc<StreamInfo>> {
        lock(&self.inner.status).info.clone()
    }

    /// The source settings in use.
    pub fn config(&self) -> SourceConfig {
        lock(&self.inner.cfg).clone()
    }

    /// Stores new settings and reconnects with them; the same settings again change nothing.
    /// Returns whether they changed.
    pub(crate) fn reconfigure(&self, cfg: SourceConfig) -> bool {
        {
            let mut cur = lock(&self.inner.cfg);
            if *cur == cfg {
                return false;
            }
            *cur = cfg;
        }
        let _ = self.cmd.send(Cmd::Reconfigure);
        true
    }

    pub(crate) fn stop(&self) {
        let _ = self.cmd.send(Cmd::Stop);
    }

    /// Counts a consumer that does not hold a subscription (e.g. a health check reading the
    /// stats) for as long as the guard lives.
    pub fn consumer(&self, kind: ConsumerKind) -> ConsumerGuard {
        self.inner.consumers.enter(kind)
    }

    /// The keyframe cache: the newest keyframe and every packet after it, with their
    /// parameters. `None` until the first keyframe (or after a source change).
    pub fn cached(&self) -> Option<(Arc<StreamInfo>, Vec<Packet>)> {
        lock(&self.inner.ring).clone().cached()
    }

    /// Subscribes, starting at the cached keyframe; waits up to the hub's `subscribe_timeout`
    /// for one when the session has none yet.
    pub async fn subscribe(&self, kind: ConsumerKind) -> Result<Subscription> {
        self.subscribe_with(
            kind,
            self.inner.opts.max_delay,
            self.inner.opts.subscribe_timeout,
        )
        .await
    }

    /// [`Self::subscribe`] with an explicit lag bound and wait.
    pub async fn subscribe_with(
        &self,
        kind: ConsumerKind,
        max_delay: Duration,
        wait: Duration,
    ) -> Result<Subscription> {
        let deadline = Instant::now() + wait;
        loop {
            let ring = lock(&self.inner.ring).clone();
            let mut wake = ring.watch();
            match ring.subscribe(max_delay, self.inner.consumers.enter(kind)) {
                Ok(Some(sub)) => return Ok(sub),
                Ok(None) => {}
                // Replaced by a new ring (the source changed): try that one.
                Err(End::SourceChanged) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(End::Stopped) => {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("camera {} has no session (stopped)", self.inner.camera_id),
                    ))
                }
            }
            let woke = tokio::time::timeout_at(deadline, wake.changed()).await;
            if woke.is_err() {
                let st = lock(&self.inner.status);
                let why = st
                    .last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default();
                return Err(Error::timeout(format!(
                    "camera {} sent no keyframe within {:.1}s (session {:?}{why})",
                    self.inner.camera_id,
                    wait.as_secs_f64(),
                    st.state
                )));
            }
        }
    }

    /// Waits until the session is playing (or `wait` passes).
    pub async fn wait_playing(&self, wait: Duration) -> bool {
        let mut rx = self.watch_state();
        tokio::time::timeout(wait, rx.wait_for(|s| *s == SessionState::Playing))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn stats(&self) -> SessionStats {
        let now = Instant::now();
        let (bitrate_bps, fps, gop, lost, received, last_packet) = {
            let mut m = lock(&self.inner.meter);
            let (b, f) = m.rates(now);
            (b, f, m.gop, m.lost, m.received, m.last_packet)
        };
        let st = lock(&self.inner.status);
        let playing = st.state == SessionState::Playing;
        let info = st.info.as_deref();
        SessionStats {
            state: st.state,
            since: st.since,
            uptime: st
                .playing_since
                .filter(|_| playing)
                .map(|s| now.saturating_duration_since(s))
                .unwrap_or_default(),
            transport: st.transport,
            pid: st.pid,
            bitrate_bps: if playing { bitrate_bps } else { 0 },
            fps: if playing { fps } else { 0.0 },
            gop_seconds: gop.map(|g| g.0),
            gop_frames: gop.map(|g| g.1),
            width: info.map(|i| i.video.width),
            height: info.map(|i| i.video.height),
            video_codec: info.map(|i| i.video.rfc6381()),
            audio_codec: info.and_then(|i| i.audio.as_ref()).map(|a| match &a.codec {
                super::packet::AudioCodec::Aac { .. } => {
                    a.rfc6381().unwrap_or_else(|| "aac".into())
                }
                super::packet::AudioCodec::Pcmu => "pcmu".into(),
                super::packet::AudioCodec::Pcma => "pcma".into(),
            }),
            packets_lost: lost,
            packets_received: received,
            reconnects: st.reconnects,
            clock_jumps: st.clock_jumps,
            last_error: st.last_error.clone(),
            failed_attempts: st.failed_attempts,
            last_packet_age: last_packet.map(|t| now.saturating_duration_since(t)),
            consumers: self.inner.consumers.snapshot(),
        }
    }
}

enum Outcome {
    Failed(String),
    Reconfigured,
    Stop,
}

struct Actor {
    inner: Arc<Inner>,
    connector: Arc<dyn Connector>,
    shutdown: CancellationToken,
    cmd_rx: mpsc::UnboundedReceiver<Cmd>,
    timeline: Timeline,
    /// The parameters packets are published with.
    current: Option<Arc<StreamInfo>>,
    /// New parameters, applied at the next video keyframe.
    pending: Option<StreamInfo>,
    epoch_has_key: bool,
}

impl Actor {
    fn set_state(&self, state: SessionState) {
        let mut st = lock(&self.inner.status);
        if st.state != state {
            debug!(camera = self.inner.camera_id, from = ?st.state, to = ?state, "hub session");
            st.state = state;
            st.since = SystemTime::now();
            if state != SessionState::Playing {
                st.playing_since = None;
            }
        }
        drop(st);
        self.inner.state.send_replace(state);
    }

    /// A new source: the current subscriptions end, new ones get a new ring.
    fn new_source(&mut self) {
        let old = {
            let mut ring = lock(&self.inner.ring);
            std::mem::replace(&mut *ring, Ring::new(self.inner.opts.ring.clone()))
        };
        old.end(End::SourceChanged);
        self.current = None;
        self.pending = None;
        {
            let mut st = lock(&self.inner.status);
            st.info = None;
            st.failed_attempts = 0;
        }
        info!(camera = self.inner.camera_id, "hub session: source changed");
    }

    async fn run(mut self) {
        let mut failures = 0u32;
        let mut connections = 0u64;
        loop {
            self.set_state(SessionState::Connecting);
            let cfg = lock(&self.inner.cfg).clone();
            let timeout = self.inner.opts.connect_timeout;
            let connector = self.connector.clone();
            let id = self.inner.camera_id;
            let attempt = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Cmd::Reconfigure) => {
                        self.new_source();
                        failures = 0;
                        continue;
                    }
                    Some(Cmd::Stop) | None => break,
                },
                r = tokio::time::timeout(timeout, connector.connect(id, &cfg)) => r,
            };
            let error = match attempt {
                Err(_) => format!("no answer within {}s", timeout.as_secs()),
                Ok(Err(e)) => cfg.redact(&e),
                Ok(Ok(mut conn)) => {
                    connections += 1;
                    {
                        let mut st = lock(&self.inner.status);
                        st.transport = conn.transport();
                        st.pid = conn.pid();
                        if connections > 1 {
                            st.reconnects += 1;
                        }
                    }
                    self.timeline.new_epoch();
                    lock(&self.inner.meter).reset_gop();
                    self.epoch_has_key = false;
                    self.pending = conn.info();
                    let started = Instant::now();
                    let outcome = self.play(conn.as_mut()).await;
                    conn.close().await;
                    lock(&self.inner.status).pid = None;
                    match outcome {
                        Outcome::Stop => break,
                        Outcome::Reconfigured => {
                            self.new_source();
                            failures = 0;
                            continue;
                        }
                        Outcome::Failed(e) => {
                            if started.elapsed() >= self.inner.opts.backoff.reset_after {
                                failures = 0;
                            }
                            cfg.redact(&e)
                        }
                    }
                }
            };
            // retina's errors span lines (connection and message context): keep one line.
            let error = error
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            failures += 1;
            warn!(camera = id, failures, error = %error, "hub session: connection failed");
            {
                let mut st = lock(&self.inner.status);
                st.last_error = Some(error);
                // A connection that played and then broke is not a failed attempt: whether
                // the camera is still there is for the next attempt to say.
                if st.playing_since.is_none() {
                    st.failed_attempts += 1;
                }
            }
            self.set_state(SessionState::Backoff);
            let delay = self.inner.opts.backoff.delay(failures);
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Cmd::Reconfigure) => {
                        self.new_source();
                        failures = 0;
                    }
                    Some(Cmd::Stop) | None => break,
                },
                _ = tokio::time::sleep(delay) => {}
            }
        }
        lock(&self.inner.ring).end(End::Stopped);
        self.set_state(SessionState::Stopped);
        debug!(camera = self.inner.camera_id, "hub session ended");
    }

    async fn play(&mut self, conn: &mut dyn Connection) -> Outcome {
        let stall = self.inner.opts.stall_timeout;
        loop {
            let next = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Outcome::Stop,
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Cmd::Reconfigure) => return Outcome::Reconfigured,
                    Some(Cmd::Stop) | None => return Outcome::Stop,
                },
                r = tokio::time::timeout(stall, conn.next()) => r,
            };
            match next {
                Err(_) => {
                    return Outcome::Failed(format!(
                        "stalled: no packets for {}s",
                        stall.as_secs_f64()
                    ))
                }
                Ok(Err(e)) => return Outcome::Failed(e),
                Ok(Ok(frame)) => self.on_frame(conn, frame),
            }
        }
    }

    fn on_frame(&mut self, conn: &dyn Connection, frame: SourceFrame) {
        let now = Instant::now();
        if frame.lost > 0 {
            lock(&self.inner.meter).lost += frame.lost;
        }
        if frame.info_changed || self.current.is_none() {
            if let Some(info) = conn.info() {
                self.pending = Some(info);
            }
        }
        if frame.stream == StreamKind::Video && frame.keyframe {
            if let Some(p) = self.pending.take() {
                if self.current.as_deref() != Some(&p) {
                    let info = Arc::new(p);
                    lock(&self.inner.status).info = Some(info.clone());
                    self.current = Some(info);
                }
            }
            if self.current.is_some() {
                self.epoch_has_key = true;
            }
        }
        // Nothing before the connection's first keyframe: it could not be decoded.
        if !self.epoch_has_key {
            return;
        }
        let Some(info) = self.current.clone() else {
            return;
        };
        if frame.stream == StreamKind::Audio && info.audio.is_none() {
            return;
        }
        let mapped = self.timeline.map(frame.stream, frame.pts, frame.dts, now);
        if mapped.rebased {
            lock(&self.inner.status).clock_jumps += 1;
            debug!(
                camera = self.inner.camera_id,
                "hub session: camera clock jump absorbed"
            );
        }
        let packet = Packet {
            stream: frame.stream,
            pts: mapped.pts,
            dts: mapped.dts,
            keyframe: frame.keyframe,
            data: frame.data,
        };
        lock(&self.inner.meter).record(&packet, now);
        let first_key =
            packet.is_video_keyframe() && *self.inner.state.borrow() != SessionState::Playing;
        lock(&self.inner.ring).push(Shared {
            packet,
            info,
            arrival: now,
        });
        if first_key {
            self.set_state(SessionState::Playing);
            let mut st = lock(&self.inner.status);
            st.playing_since = Some(now);
            st.failed_attempts = 0;
            info!(
                camera = self.inner.camera_id,
                transport = st.transport,
                "hub session playing"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::packet::{VideoInfo, TIMEBASE};
    use crate::hub::tsmux::tests::test_info;
    use async_trait::async_trait;
    use bytes::Bytes;
    use std::collections::VecDeque;
    use vs_base::StreamUrl;

    /// One scripted connection: frames 33 ms apart, then an error.
    struct FakeConnection {
        frames: VecDeque<SourceFrame>,
        info: StreamInfo,
    }

    #[async_trait]
    impl Connection for FakeConnection {
        fn transport(&self) -> &'static str {
            "fake"
        }
        fn info(&self) -> Option<StreamInfo> {
            Some(self.info.clone())
        }
        async fn next(&mut self) -> Result<SourceFrame, String> {
            tokio::time::sleep(Duration::from_millis(33)).await;
            self.frames
                .pop_front()
                .ok_or_else(|| "connection lost".to_string())
        }
        async fn close(self: Box<Self>) {}
    }

    struct FakeConnector {
        script: Mutex<VecDeque<Result<Vec<SourceFrame>, String>>>,
        info: StreamInfo,
    }

    #[async_trait]
    impl Connector for FakeConnector {
        async fn connect(
            &self,
            _id: i64,
            _cfg: &SourceConfig,
        ) -> Result<Box<dyn Connection>, String> {
            let next = lock(&self.script).pop_front();
            match next {
                Some(Ok(frames)) => Ok(Box::new(FakeConnection {
                    frames: frames.into(),
                    info: self.info.clone(),
                })),
                Some(Err(e)) => Err(e),
                // The camera stays away.
                None => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
            }
        }
    }

    fn frames(first_ts: i64, n: i64, gop: i64) -> Vec<SourceFrame> {
        (0..n)
            .map(|i| SourceFrame {
                stream: StreamKind::Video,
                pts: first_ts + i * 3000,
                dts: first_ts + i * 3000,
                keyframe: i % gop == 0,
                data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
                info_changed: i == 0,
                lost: 0,
            })
            .collect()
    }

    fn start(script: Vec<Result<Vec<SourceFrame>, String>>) -> CameraSession {
        let connector = FakeConnector {
            script: Mutex::new(script.into()),
            info: test_info(false),
        };
        let url = StreamUrl::parse("rtsp://127.0.0.1/cam", "url").unwrap().url;
        let opts = HubOptions {
            backoff: BackoffPolicy {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(4),
                jitter: 0.0,
                ..BackoffPolicy::default()
            },
            ..HubOptions::default()
        };
        CameraSession::start(
            9,
            SourceConfig::new(url),
            opts,
            Arc::new(connector),
            CancellationToken::new(),
        )
        .0
    }

    async fn next_video(rx: &mut crate::hub::fanout::Receiver) -> Packet {
        loop {
            if let crate::hub::fanout::Event::Packet(p) = rx.recv().await.unwrap() {
                if p.is_video() {
                    return p;
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reconnects_with_backoff_and_keeps_one_monotonic_timeline() {
        // Frames before the first keyframe are dropped; the second connection's camera clock
        // restarted at zero; one connection attempt in between fails.
        let mut first = frames(1_000_000 - 6000, 32, 15);
        first.drain(..2);
        first[0].info_changed = true;
        let script = vec![Ok(first), Err("refused".into()), Ok(frames(0, 30, 15))];
        let session = start(script);
        let mut state = session.watch_state();
        let sub = session.subscribe(ConsumerKind::Program).await.unwrap();
        assert!(sub.backlog[0].is_video_keyframe());
        assert_eq!(sub.backlog[0].dts, 0, "the timeline starts at zero");
        let mut live = sub.live;
        let mut last = sub.backlog.last().unwrap().dts;
        let mut seen = 0;
        let t0 = Instant::now();
        let mut gap = 0;
        while seen < 40 {
            let p = next_video(&mut live).await;
            assert!(p.dts > last, "{} then {}", last, p.dts);
            gap = gap.max(p.dts - last);
            last = p.dts;
            seen += 1;
        }
        // Lost after ~1 s, backoff 1 s, refused, backoff 2 s, then connected: the outage shows
        // as a gap of about 3 s, not as a jump back to the new clock's zero.
        assert!(t0.elapsed() > Duration::from_secs(3));
        assert!((3 * TIMEBASE..4 * TIMEBASE).contains(&gap), "gap {gap}");
        let stats = session.stats();
        assert_eq!(stats.reconnects, 1);
        assert_eq!(stats.transport, "fake");
        assert_eq!(stats.last_error.as_deref(), Some("refused"));
        assert_eq!(*state.borrow_and_update(), SessionState::Playing);
        assert_eq!(stats.consumers[&ConsumerKind::Program], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn only_attempts_that_never_played_count_as_failed() {
        let session = start(vec![
            Ok(frames(0, 10, 5)),
            Err("refused".into()),
            Err("refused".into()),
            Ok(frames(0, 40, 5)),
        ]);
        assert!(session.wait_playing(Duration::from_secs(5)).await);
        let mut state = session.watch_state();
        // The connection that played breaks: backoff, but no failed attempt yet.
        state
            .wait_for(|s| *s == SessionState::Backoff)
            .await
            .unwrap();
        assert_eq!(session.stats().failed_attempts, 0);
        assert_eq!(
            session.stats().last_error.as_deref(),
            Some("connection lost")
        );
        // Then two refused attempts.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            state.changed().await.unwrap();
            if *state.borrow_and_update() == SessionState::Backoff {
                seen.push(session.stats().failed_attempts);
            }
        }
        assert_eq!(seen, [1, 2]);
        assert!(session.wait_playing(Duration::from_secs(30)).await);
        assert_eq!(session.stats().failed_attempts, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_jump_inside_a_connection_is_counted_and_absorbed() {
        let mut f = frames(0, 20, 10);
        f.extend(frames(50 * 3600 * TIMEBASE, 20, 10));
        let session = start(vec![Ok(f)]);
        let sub = session.subscribe(ConsumerKind::Other).await.unwrap();
        let mut live = sub.live;
        let mut last = sub.backlog.last().unwrap().dts;
        for _ in 0..30 {
            let p = next_video(&mut live).await;
            assert!(
                p.dts > last && p.dts - last < 2 * 3000 + 100,
                "{} then {}",
                last,
                p.dts
            );
            last = p.dts;
        }
        assert_eq!(session.stats().clock_jumps, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_wait_for_the_first_keyframe_and_stop_ends_them() {
        let session = start(vec![Err("down".into()), Ok(frames(0, 100, 10))]);
        assert!(session.cached().is_none());
        let sub = session.subscribe(ConsumerKind::Preview).await.unwrap();
        assert_eq!(
            sub.info.video,
            VideoInfo::from_parameter_sets(
                Bytes::from_static(crate::hub::h264::tests::SPS),
                Bytes::from_static(crate::hub::h264::tests::PPS)
            )
            .unwrap()
        );
        assert!(session.cached().is_some());
        let mut live = sub.live;
        session.stop();
        loop {
            match live.recv().await {
                Ok(_) => continue,
                Err(end) => {
                    assert_eq!(end, End::Stopped);
                    break;
                }
            }
        }
        let mut state = session.watch_state();
        state
            .wait_for(|s| *s == SessionState::Stopped)
            .await
            .unwrap();
        let err = session
            .subscribe_with(
                ConsumerKind::Preview,
                Duration::from_secs(1),
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
    }
}
