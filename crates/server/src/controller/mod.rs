//! The controller: the appliance's business logic. It owns the database pool and the runtime
//! state, validates every write, and is the only thing the web layer calls.

pub mod assets;
pub mod auth;
pub mod cameras;
pub mod destinations;
pub mod health;
pub mod presets;
pub mod preview;
pub mod probe;
pub mod program_bridge;
pub mod program_overlays;
pub mod programs;
pub mod ptz;
pub mod status;
pub mod streams;
pub mod timelines;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use vs_base::SecretBox;
use vs_db::Db;

use crate::config::Config;

/// Something that happened, pushed to browsers over the event stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// The SSE event name, e.g. `camera_health`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

pub struct Controller {
    pub db: Db,
    pub secrets: SecretBox,
    pub config: Arc<Config>,
    pub login_limiter: auth::LoginLimiter,
    pub auth_cache: auth::AuthCache,
    pub events: broadcast::Sender<Event>,
    pub started: Instant,
    pub shutdown: CancellationToken,
    /// Every background task, so shutdown can wait for them to finish.
    pub tasks: tokio_util::task::TaskTracker,
    pub health: health::HealthBook,
    pub streams: streams::StreamRuntime,
    pub programs: programs::ProgramRuntime,
    pub previews: preview::PreviewRuntime,
    pub encoder_probe: tokio::sync::OnceCell<vs_engine::EncoderProbe>,
    pub ptz: ptz::PtzClients,
    pub sampler: status::Sampler,
    pub timelines: timelines::TimelineRuntime,
    pub ffmpeg_version: tokio::sync::OnceCell<Option<String>>,
    dummy_hash: String,
}

impl Controller {
    pub fn new(
        db: Db,
        secrets: SecretBox,
        config: Arc<Config>,
        shutdown: CancellationToken,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        Controller {
            db,
            secrets,
            login_limiter: auth::LoginLimiter::new(5, std::time::Duration::from_secs(300)),
            auth_cache: auth::AuthCache::new(std::time::Duration::from_secs(10)),
            events,
            started: Instant::now(),
            tasks: Default::default(),
            health: Default::default(),
            streams: Default::default(),
            programs: Default::default(),
            previews: Default::default(),
            encoder_probe: Default::default(),
            ptz: Default::default(),
            sampler: Default::default(),
            timelines: Default::default(),
            ffmpeg_version: Default::default(),
            dummy_hash: auth::dummy_hash(config.bcrypt_cost),
            config,
            shutdown,
        }
    }

    /// Sends an event to every connected browser; nobody listening is fine.
    pub fn publish(&self, kind: &'static str, data: serde_json::Value) {
        let _ = self.events.send(Event { kind, data });
    }
}

impl Controller {
    /// Refreshes the gauges that are computed rather than counted, just before a scrape.
    pub fn update_gauges(&self) {
        metrics::gauge!("vistterstream_uptime_seconds").set(self.started.elapsed().as_secs_f64());
    }
}
