//! The VistterStudio link: an outbound MQTT connection from the appliance to a broker, so a
//! studio in the cloud can drive appliances that sit behind a venue's router. The contract is
//! docs/studio-link.md. Commands arrive on the device's own topic and go through the same
//! service calls as the REST API (`commands.rs`); replies and events wait in a bounded SQLite
//! outbox while the broker is away (`session.rs` delivers them in order); what happens on the
//! appliance becomes EVENT and PROGRESS messages (`watch.rs`); commands already executed are
//! answered again, never run twice.
//!
//! Settings are in `settings.rs` (secrets sealed, TLS verifying the broker by default), the
//! wire format in `contract.rs`, the assets of a TIMELINE_LOAD in `assets.rs`.

mod assets;
mod commands;
pub mod contract;
mod session;
pub mod settings;
mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch as tokio_watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use vs_base::{Result, SecretBox};
use vs_db::link::LinkSettingsRow;
use vs_db::Db;

pub use settings::{LinkInput, LinkSettingsView, LinkTopics};

use super::cameras::CameraService;
use super::destinations::DestinationService;
use super::overlays::OverlayService;
use super::programs::ProgramService;
use super::ptz::PtzService;
use super::status::StatusService;
use super::timelines::TimelineService;
use super::{Events, Infra};
use session::{Channels, End};

/// Messages kept for the broker while it is away; past this the oldest are dropped (counted).
pub const DEFAULT_QUEUE_LIMIT: u64 = 10_000;
/// How long a command's message id is remembered (counted from its arrival on the appliance).
pub const SEEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The first wait after a failed connection; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection up this long was a good one: the next failure retries at once.
const STABLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Switched off (or never set up).
    Disabled,
    Connecting,
    Connected,
    /// The last attempt failed (`last_error` says why); another follows.
    Error,
}

impl LinkState {
    fn as_str(self) -> &'static str {
        match self {
            LinkState::Disabled => "disabled",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Error => "error",
        }
    }
}

/// The link's state, for the dashboard, `GET /api/link/status` and `/metrics`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkStatus {
    pub state: LinkState,
    /// Why the last connection failed or dropped (kept while connecting again).
    pub last_error: Option<String>,
    /// `host:port` of the broker.
    pub broker: Option<String>,
    pub device_id: Option<String>,
    /// Since when the current connection is up.
    pub connected_since: Option<String>,
    /// Connections made since the appliance started.
    pub connections: u64,
    /// MQTT messages received from the broker (commands) since the appliance started.
    pub messages_in: u64,
    /// Messages the broker acknowledged (replies, events, metrics, status) since the start.
    pub messages_out: u64,
    /// Replies and events waiting for the broker.
    pub queue_length: u64,
    /// Replies and events dropped, oldest first, because the queue was full.
    pub dropped: u64,
}

/// The link settings and state together: `GET` and `PUT /api/link`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkView {
    pub settings: LinkSettingsView,
    pub status: LinkStatus,
}

#[derive(Debug, Default)]
struct Live {
    state: Option<LinkState>,
    last_error: Option<String>,
    connected_since: Option<String>,
}

/// A TIMELINE_EXECUTE whose timeline plays: its position goes out as PROGRESS.
#[derive(Debug, Clone)]
struct Execution {
    timeline_id: String,
    message_id: String,
    last: Option<(String, Option<String>, u64)>,
}

/// The services a command may call: the same the REST API calls.
#[derive(Clone)]
pub struct LinkTargets {
    pub cameras: Arc<CameraService>,
    pub destinations: Arc<DestinationService>,
    pub ptz: Arc<PtzService>,
    pub programs: Arc<ProgramService>,
    pub overlays: Arc<OverlayService>,
    pub timelines: Arc<TimelineService>,
    pub status: Arc<StatusService>,
}

/// The link: its settings, its state, and the tasks that run it.
pub struct LinkService {
    db: Db,
    secrets: SecretBox,
    events: Events,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    targets: LinkTargets,
    /// The settings in force.
    current: RwLock<Option<LinkSettingsRow>>,
    /// Bumped at each change of the settings: the connection starts again.
    settings_gen: tokio_watch::Sender<u64>,
    /// Something was queued for the broker.
    outbox_kick: Notify,
    live: Mutex<Live>,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    connections: AtomicU64,
    queue_limit: AtomicU64,
    execution: Mutex<Option<Execution>>,
    /// Serializes settings updates (read, validate, store).
    saving: tokio::sync::Mutex<()>,
    /// Serializes refreshes of the queue's gauges, so an older count read by one never
    /// overwrites a newer one set by another.
    gauges: tokio::sync::Mutex<()>,
}

impl LinkService {
    pub fn new(infra: &Infra, targets: LinkTargets) -> Self {
        LinkService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            events: infra.events.clone(),
            tasks: infra.tasks.clone(),
            shutdown: infra.shutdown.clone(),
            targets,
            current: RwLock::new(None),
            settings_gen: tokio_watch::channel(0).0,
            outbox_kick: Notify::new(),
            live: Mutex::new(Live::default()),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            queue_limit: AtomicU64::new(DEFAULT_QUEUE_LIMIT),
            execution: Mutex::new(None),
            saving: tokio::sync::Mutex::new(()),
            gauges: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings and the state.
    pub async fn get(&self) -> Result<LinkView> {
        let row = self.db.link_settings().await?;
        Ok(LinkView {
            settings: LinkSettingsView::of(row.as_ref()),
            status: self.status().await?,
        })
    }

    /// Checks and stores new settings, then connects again with them (or disconnects). A new
    /// device id or broker empties the queue and the commands seen: they were another's.
    pub async fn update(&self, input: &LinkInput, user_id: Option<i64>) -> Result<LinkView> {
        let _saving = self.saving.lock().await;
        let stored = self.db.link_settings().await?;
        let row = settings::validate(input, stored.as_ref(), &self.secrets)?;
        let other_device = stored
            .as_ref()
            .is_some_and(|s| s.device_id != row.device_id || s.broker_url != row.broker_url);
        let saved = self.db.save_link_settings(&row, other_device).await?;
        let detail = format!(
            "{} {} as {}",
            if saved.enabled { "on" } else { "off" },
            saved.broker_url,
            saved.device_id
        );
        self.db
            .audit(
                user_id,
                "link_settings_updated",
                Some("studio link"),
                Some(&detail),
            )
            .await?;
        self.apply(saved);
        self.get().await
    }

    /// Changes only the metrics interval (DEVICE_CONFIG), checked like `update` checks it.
    async fn set_metrics_interval(&self, seconds: i64) -> Result<()> {
        let _saving = self.saving.lock().await;
        let Some(mut row) = self.db.link_settings().await? else {
            return Err(vs_base::Error::invalid_state("the link is not set up"));
        };
        if !(1..=3600).contains(&seconds) {
            return Err(vs_base::Error::invalid(
                "metrics_interval_s",
                "must be between 1 and 3600 seconds",
            ));
        }
        row.metrics_interval_s = seconds;
        let saved = self.db.save_link_settings(&row, false).await?;
        self.db
            .audit(
                None,
                "link_settings_updated",
                Some("studio link"),
                Some(&format!("metrics every {seconds} s (DEVICE_CONFIG)")),
            )
            .await?;
        // The connection stays: only the metrics task reads the interval.
        *self.current.write().expect("link settings lock") = Some(saved);
        Ok(())
    }

    fn apply(&self, row: LinkSettingsRow) {
        *self.current.write().expect("link settings lock") = Some(row);
        self.settings_gen.send_modify(|g| *g += 1);
    }

    /// The state, with the queue counted now.
    pub async fn status(&self) -> Result<LinkStatus> {
        let current = self.current.read().expect("link settings lock").clone();
        let (state, last_error, connected_since) = {
            let live = self.live.lock().expect("link state lock");
            (
                live.state.unwrap_or(LinkState::Disabled),
                live.last_error.clone(),
                live.connected_since.clone(),
            )
        };
        let broker = current
            .as_ref()
            .and_then(|c| settings::parse_broker_url(&c.broker_url).ok())
            .map(|b| {
                if b.host.contains(':') {
                    format!("[{}]:{}", b.host, b.port)
                } else {
                    format!("{}:{}", b.host, b.port)
                }
            });
        Ok(LinkStatus {
            state,
            last_error,
            broker,
            device_id: current.map(|c| c.device_id).filter(|d| !d.is_empty()),
            connected_since: if state == LinkState::Connected {
                connected_since
            } else {
                None
            },
            connections: self.connections.load(Ordering::Relaxed),
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            queue_length: self.db.link_outbox_len().await?,
            dropped: self.db.link_dropped_total().await?,
        })
    }

    /// Caps the outbox (tests make it small to see the oldest dropped).
    pub fn set_queue_limit(&self, limit: u64) {
        self.queue_limit.store(limit.max(1), Ordering::Relaxed);
    }

    fn queue_limit(&self) -> u64 {
        self.queue_limit.load(Ordering::Relaxed)
    }

    /// The device id while the link is on: what events are queued for.
    fn active_device(&self) -> Option<String> {
        self.current
            .read()
            .expect("link settings lock")
            .as_ref()
            .filter(|c| c.enabled && !c.device_id.is_empty() && !c.broker_url.is_empty())
            .map(|c| c.device_id.clone())
    }

    fn metrics_interval(&self) -> Duration {
        let s = self
            .current
            .read()
            .expect("link settings lock")
            .as_ref()
            .map(|c| c.metrics_interval_s)
            .unwrap_or(settings::DEFAULT_METRICS_INTERVAL_S);
        Duration::from_secs(s.clamp(1, 3600) as u64)
    }

    /// The `device` label of the link's series: the device id set, even while switched off
    /// (so its `up` gauge goes to 0).
    fn label(&self) -> String {
        self.current
            .read()
            .expect("link settings lock")
            .as_ref()
            .map(|c| c.device_id.clone())
            .unwrap_or_default()
    }

    fn set_state(&self, state: LinkState, error: Option<String>) {
        let mut live = self.live.lock().expect("link state lock");
        if live.state != Some(state) {
            tracing::debug!(state = state.as_str(), "studio link state");
        }
        live.state = Some(state);
        if error.is_some() {
            live.last_error = error;
        }
        drop(live);
        let device = self.label();
        if device.is_empty() {
            // Never set up: no series for a device that does not exist.
            return;
        }
        for s in [
            LinkState::Disabled,
            LinkState::Connecting,
            LinkState::Connected,
            LinkState::Error,
        ] {
            metrics::gauge!("vistterstream_link_state", "device" => device.clone(), "state" => s.as_str())
                .set(if s == state { 1.0 } else { 0.0 });
        }
        metrics::gauge!("vistterstream_link_up", "device" => device).set(
            if state == LinkState::Connected {
                1.0
            } else {
                0.0
            },
        );
    }

    fn set_connected(&self, _device_id: &str) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        {
            let mut live = self.live.lock().expect("link state lock");
            live.connected_since = Some(vs_db::now());
        }
        self.set_state(LinkState::Connected, None);
        metrics::counter!("vistterstream_link_connections_total", "device" => self.label())
            .increment(1);
    }

    fn count_in(&self) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vistterstream_link_messages_in_total", "device" => self.label())
            .increment(1);
    }

    fn count_out(&self) {
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vistterstream_link_messages_out_total", "device" => self.label())
            .increment(1);
    }

    async fn update_queue_gauge(&self) {
        let _gauges = self.gauges.lock().await;
        if let (Ok(len), Ok(dropped)) = (
            self.db.link_outbox_len().await,
            self.db.link_dropped_total().await,
        ) {
            let device = self.label();
            if device.is_empty() {
                return;
            }
            metrics::gauge!("vistterstream_link_queue_length", "device" => device.clone())
                .set(len as f64);
            metrics::gauge!("vistterstream_link_dropped_messages", "device" => device)
                .set(dropped as f64);
        }
    }

    /// Queues a message for the broker (`ack` or `event` channel).
    async fn enqueue(&self, channel: &str, message: &Value) -> Result<()> {
        let q = self
            .db
            .enqueue_link_message(channel, &message.to_string(), self.queue_limit())
            .await?;
        self.queued(q).await;
        Ok(())
    }

    async fn queued(&self, q: vs_db::link::Queued) {
        if q.dropped > 0 {
            tracing::warn!(
                dropped = q.dropped,
                "studio link queue full: the oldest messages were dropped"
            );
        }
        self.outbox_kick.notify_one();
        // While the broker is away nothing else refreshes the queue's gauges.
        self.update_queue_gauge().await;
    }

    /// Runs the link until the appliance stops: the connection (again after each failure or
    /// change of settings), the command worker, the watcher of events, the metrics, and the
    /// upkeep of the commands seen.
    pub async fn run(self: Arc<Self>) {
        // Subscribed before anything else runs, so nothing that happens is missed.
        let events = self.events.subscribe();
        {
            // Read and installed under the lock `update` holds: a PUT that lands while this
            // task is starting is either already in the database or installs itself after us
            // (never overwritten by the older read).
            let _saving = self.saving.lock().await;
            match self.db.link_settings().await {
                Ok(row) => *self.current.write().expect("link settings lock") = row,
                Err(e) => {
                    tracing::warn!(error = ?e, "studio link settings unreadable; link off")
                }
            }
        }
        self.set_state(LinkState::Disabled, None);
        self.update_queue_gauge().await;
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (metrics_tx, metrics_rx) = mpsc::channel(1);
        self.tasks
            .spawn(self.clone().run_worker(commands_rx, done_tx));
        self.tasks.spawn(self.clone().run_watch(events));
        self.tasks.spawn(self.clone().run_metrics(metrics_tx));
        self.tasks.spawn(self.clone().run_upkeep());
        let mut ch = Channels {
            commands: commands_tx,
            done: done_rx,
            metrics: metrics_rx,
        };
        self.run_connection(&mut ch).await;
    }

    async fn run_connection(self: &Arc<Self>, ch: &mut Channels) {
        let mut settings = self.settings_gen.subscribe();
        let mut backoff = MIN_BACKOFF;
        let mut session_id = 0u64;
        loop {
            settings.mark_unchanged();
            let row = self
                .current
                .read()
                .expect("link settings lock")
                .clone()
                .filter(|_| self.active_device().is_some());
            let Some(row) = row else {
                self.set_state(LinkState::Disabled, None);
                tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    _ = settings.changed() => continue,
                }
            };
            let cfg = match settings::connect_config(&row, &self.secrets) {
                Ok(c) => c,
                Err(e) => {
                    // Nothing to retry until the settings change.
                    self.set_state(LinkState::Error, Some(e.message.clone()));
                    tracing::warn!(error = %e.message, "studio link cannot connect with its settings");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = settings.changed() => continue,
                    }
                }
            };
            self.set_state(LinkState::Connecting, None);
            session_id += 1;
            match self.session(&cfg, session_id, ch).await {
                End::Shutdown => {
                    self.set_state(LinkState::Disabled, None);
                    return;
                }
                End::Reconfigure => {
                    backoff = MIN_BACKOFF;
                    continue;
                }
                End::Failed {
                    error,
                    connected_for,
                } => {
                    tracing::warn!(%error, "studio link: connection failed or lost");
                    self.set_state(LinkState::Error, Some(error));
                    if connected_for.is_some_and(|d| d >= STABLE) {
                        backoff = MIN_BACKOFF;
                    }
                    let jitter = rand::random::<f64>() * 0.2 + 0.9;
                    let wait = backoff.mul_f64(jitter);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = settings.changed() => backoff = MIN_BACKOFF,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// Forgets commands older than the retention window, at start and hourly.
    async fn run_upkeep(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let before = chrono::Utc::now() - chrono::Duration::from_std(SEEN_RETENTION).unwrap_or_default();
                    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    match self.db.purge_link_commands(&before).await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(n, "studio link: old command ids forgotten"),
                        Err(e) => tracing::warn!(error = ?e, "purging the link's command ids failed"),
                    }
                }
            }
        }
    }

    /// Sends METRICS every interval while connected (a snapshot; never queued while away).
    async fn run_metrics(self: Arc<Self>, tx: mpsc::Sender<Value>) {
        loop {
            let wait = self.metrics_interval();
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let connected =
                self.live.lock().expect("link state lock").state == Some(LinkState::Connected);
            let Some(device) = self.active_device().filter(|_| connected) else {
                continue;
            };
            match self.metrics_message(&device).await {
                Ok(m) => {
                    let _ = tx.try_send(m);
                }
                Err(e) => tracing::warn!(error = ?e, "studio link metrics failed"),
            }
        }
    }
}
