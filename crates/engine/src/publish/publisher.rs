//! One destination's publisher: an actor that keeps an RTMP(S) session up (reconnecting with
//! backoff), sends what its queue holds, and reports its uplink on a watch channel.
//!
//! The producer hands frames to a [`PublisherInput`]; a push never waits (see `queue` for
//! what is dropped instead). While the destination is down, the queue keeps only the newest
//! GOP, so a reconnect resumes at the newest keyframe: the receiver is at most one GOP behind
//! live, never a backlog of the outage.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::{PublishError, PublishErrorKind};
use super::media::MediaFrame;
use super::mux::{Encoded, SessionMux, Timeline};
use super::queue::{QueueLimits, SendQueue};
use super::rtmp::{self, ConnectOptions, RtmpSession};
use super::stats::{
    CongestionDetector, CongestionPolicy, PublisherState, PublisherStats, RateMeter, Tick,
};
use super::target::PublishTarget;
use crate::backoff::BackoffPolicy;

/// How a publisher behaves.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// For log lines (a destination's name, never its address).
    pub name: String,
    pub queue: QueueLimits,
    pub backoff: BackoffPolicy,
    pub connect: ConnectOptions,
    /// A write that makes no progress for this long ends the session.
    pub write_timeout: Duration,
    /// A session that had no media to send for this long ends (the source is away: a
    /// receiver such as YouTube would end the broadcast anyway); the next one starts when a
    /// keyframe is queued.
    pub idle_timeout: Duration,
    pub congestion: CongestionPolicy,
    /// How often the stats are published.
    pub stats_interval: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            name: "destination".into(),
            queue: QueueLimits::default(),
            backoff: BackoffPolicy {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(10),
                ..BackoffPolicy::default()
            },
            connect: ConnectOptions::default(),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(8),
            congestion: CongestionPolicy::default(),
            stats_interval: Duration::from_secs(1),
        }
    }
}

struct Shared {
    queue: Mutex<SendQueue>,
    ready: Notify,
    closed: CancellationToken,
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, SendQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the producer hands frames to a publisher. Cheap to clone.
#[derive(Clone)]
pub struct PublisherInput {
    shared: Arc<Shared>,
}

impl PublisherInput {
    /// Queues a frame; never waits. `false` once the publisher has stopped.
    pub fn push(&self, f: MediaFrame) -> bool {
        if self.shared.closed.is_cancelled() {
            return false;
        }
        self.shared.queue().push(f);
        self.shared.ready.notify_one();
        true
    }

    /// Resolves when the publisher has stopped.
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }
}

/// A running publisher. Dropping it stops the actor (without the polite goodbye of
/// [`Publisher::stop`]).
pub struct Publisher {
    input: PublisherInput,
    stats: watch::Receiver<PublisherStats>,
    cancel: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Publisher {
    /// Starts publishing to `target`; cancelling `shutdown` stops it.
    pub fn start(
        target: PublishTarget,
        config: PublisherConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(SendQueue::new(config.queue.clone())),
            ready: Notify::new(),
            closed: CancellationToken::new(),
        });
        let (stats_tx, stats) = watch::channel(PublisherStats::default());
        let cancel = shutdown.child_token();
        let actor = Actor {
            target,
            shared: shared.clone(),
            stats: stats_tx,
            cancel: cancel.clone(),
            send_meter: RateMeter::new(Duration::from_secs(3)),
            input_meter: RateMeter::new(Duration::from_secs(3)),
            congestion: CongestionDetector::new(config.congestion.clone()),
            config,
            sent_bytes: 0,
            sent_frames: 0,
            lag_ms: 0,
            timeline: Timeline::default(),
        };
        let span = tracing::info_span!("publish", destination = %actor.config.name);
        let task = tokio::spawn(tracing::Instrument::instrument(actor.run(), span));
        Publisher {
            input: PublisherInput { shared },
            stats,
            cancel,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn input(&self) -> PublisherInput {
        self.input.clone()
    }

    pub fn stats(&self) -> watch::Receiver<PublisherStats> {
        self.stats.clone()
    }

    /// Ends the session politely (`FCUnpublish`, `deleteStream`) and waits for the actor.
    pub async fn stop(self) {
        self.close().await
    }

    /// [`stop`](Self::stop) through a shared reference; later calls return at once.
    pub async fn close(&self) {
        self.cancel.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

struct Actor {
    target: PublishTarget,
    config: PublisherConfig,
    shared: Arc<Shared>,
    stats: watch::Sender<PublisherStats>,
    cancel: CancellationToken,
    send_meter: RateMeter,
    input_meter: RateMeter,
    congestion: CongestionDetector,
    sent_bytes: u64,
    sent_frames: u64,
    lag_ms: u64,
    timeline: Timeline,
}

/// Media bytes gathered for one socket write at most.
const WRITE_BATCH: usize = 64 * 1024;

impl Actor {
    async fn run(mut self) {
        let mut failures: u32 = 0;
        loop {
            self.set_state(PublisherState::Connecting, |s| s.retry_in_ms = None);
            let attempt = tokio::select! {
                _ = self.cancel.cancelled() => break,
                r = rtmp::connect(&self.target, &self.config.connect) => r,
            };
            let error = match attempt {
                Ok(session) => {
                    let started = Instant::now();
                    tracing::info!("publishing");
                    self.set_state(PublisherState::Publishing, |s| {
                        s.sessions += 1;
                        s.publishing_since = Some(SystemTime::now());
                    });
                    let ended = self.session(session).await;
                    self.shared.queue().set_live_only(true);
                    self.congestion.reset();
                    match ended {
                        None => break,
                        Some(e) => {
                            if started.elapsed() >= self.config.backoff.reset_after {
                                failures = 0;
                            }
                            e
                        }
                    }
                }
                Err(e) => e,
            };
            failures += 1;
            tracing::warn!(failures, "{}", error.message);
            let delay = self.config.backoff.delay(failures);
            // Which destination, the key masked: the operator sees where it failed.
            let shown = PublishError::new(
                error.kind,
                format!("{}: {}", self.target.shown(), error.message),
            );
            self.set_state(PublisherState::Backoff, |s| {
                s.failures = failures;
                s.last_error = Some(shown);
                s.retry_in_ms = Some(delay.as_millis() as u64);
                s.publishing_since = None;
            });
            let until = Instant::now() + delay;
            let mut tick = tokio::time::interval(self.config.stats_interval);
            loop {
                tokio::select! {
                    _ = self.cancel.cancelled() => {
                        self.finish();
                        return;
                    }
                    _ = tokio::time::sleep_until(until) => break,
                    _ = tick.tick() => self.publish_stats(false),
                }
            }
            if error.kind == PublishErrorKind::Idle {
                // The source is away: connect again once it is back (a keyframe is queued).
                self.set_state(PublisherState::Backoff, |s| s.retry_in_ms = None);
                loop {
                    if !self.shared.queue().is_empty() {
                        break;
                    }
                    tokio::select! {
                        _ = self.cancel.cancelled() => {
                            self.finish();
                            return;
                        }
                        _ = self.shared.ready.notified() => {}
                        _ = tick.tick() => self.publish_stats(false),
                    }
                }
            }
        }
        self.finish();
    }

    fn finish(&mut self) {
        self.shared.closed.cancel();
        self.set_state(PublisherState::Stopped, |s| {
            s.retry_in_ms = None;
            s.publishing_since = None;
        });
    }

    fn set_state(&mut self, state: PublisherState, f: impl FnOnce(&mut PublisherStats)) {
        self.stats.send_modify(|s| {
            s.state = state;
            f(s);
        });
        self.publish_stats(state == PublisherState::Publishing);
    }

    /// Refreshes the figures (rates, queue, congestion) on the watch channel.
    fn publish_stats(&mut self, publishing: bool) {
        let now = Instant::now();
        let (queue_bytes, queue_ms, queue_frames, dropped, pushed) = {
            let q = self.shared.queue();
            (q.bytes(), q.depth_ms(), q.len(), q.dropped(), q.pushed().0)
        };
        let send = self.send_meter.sample(now, self.sent_bytes);
        let input = self.input_meter.sample(now, pushed);
        let congestion = if publishing {
            self.congestion
                .tick(
                    now,
                    Tick {
                        send_bps: send * 8,
                        input_bps: input * 8,
                        queue_ms,
                        dropped_frames: dropped.frames,
                    },
                )
                .cloned()
        } else {
            None
        };
        let (sent_bytes, sent_frames, lag_ms) = (self.sent_bytes, self.sent_frames, self.lag_ms);
        self.stats.send_modify(|s| {
            s.send_bytes_per_sec = send;
            s.input_bytes_per_sec = input;
            s.queue_bytes = queue_bytes as u64;
            s.queue_ms = queue_ms;
            s.queue_frames = queue_frames as u64;
            s.sent_bytes = sent_bytes;
            s.sent_frames = sent_frames;
            s.dropped_bytes = dropped.bytes;
            s.dropped_frames = dropped.frames;
            s.lag_ms = lag_ms;
            s.congested = congestion.is_some();
            s.congestion = congestion;
        });
    }

    /// Runs one publish session; `None` when stopped by the owner, else why it ended.
    async fn session(&mut self, mut session: RtmpSession) -> Option<PublishError> {
        {
            let mut q = self.shared.queue();
            q.restart_at_newest_keyframe();
            q.set_live_only(false);
        }
        self.timeline.resync();
        let mut mux = SessionMux::new();
        let mut tick = tokio::time::interval(self.config.stats_interval);
        let mut buf = Vec::with_capacity(WRITE_BATCH * 2);
        let mut last_media = Instant::now();
        loop {
            // Gather what is queued (up to a batch) into one write.
            buf.clear();
            session.pending_control(&mut buf);
            let mut frames = 0u64;
            let mut oldest_arrival = None;
            {
                let mut q = self.shared.queue();
                while buf.len() < WRITE_BATCH {
                    let Some(f) = q.pop() else { break };
                    if let Encoded::Sent(_) =
                        mux.encode(&mut session, &mut self.timeline, &f, &mut buf)
                    {
                        frames += 1;
                        oldest_arrival.get_or_insert(f.arrival);
                    }
                }
            }
            if buf.is_empty() {
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => {
                        session.finish().await;
                        return None;
                    }
                    e = session.ended() => return Some(e),
                    _ = tick.tick() => self.publish_stats(true),
                    _ = self.shared.ready.notified() => {}
                    _ = tokio::time::sleep_until(last_media + self.config.idle_timeout) => {
                        session.finish().await;
                        return Some(PublishError::new(
                            PublishErrorKind::Idle,
                            format!(
                                "no media for {} s (the source is away); publishing again when it is back",
                                self.config.idle_timeout.as_secs()
                            ),
                        ));
                    }
                }
                continue;
            }
            let deadline = tokio::time::sleep(self.config.write_timeout);
            tokio::pin!(deadline);
            let len = buf.len() as u64;
            let written = {
                let write = session.write(&buf);
                tokio::pin!(write);
                loop {
                    tokio::select! {
                        biased;
                        _ = self.cancel.cancelled() => break None,
                        r = &mut write => break Some(r),
                        _ = &mut deadline => break Some(Err(PublishError::new(
                            PublishErrorKind::Timeout,
                            format!(
                                "{} stopped taking data for {} s",
                                self.target.endpoint(),
                                self.config.write_timeout.as_secs()
                            ),
                        ))),
                        _ = tick.tick() => self.publish_stats(true),
                    }
                }
            };
            match written {
                None => {
                    session.finish().await;
                    return None;
                }
                Some(Err(e)) => return Some(e),
                Some(Ok(())) => {
                    if frames > 0 {
                        last_media = Instant::now();
                    }
                    self.sent_bytes += len;
                    self.sent_frames += frames;
                    if let Some(a) = oldest_arrival {
                        self.lag_ms = a.elapsed().as_millis() as u64;
                    }
                }
            }
        }
    }
}
