//! The appliance's business logic, one service per domain. Each service holds only what it
//! uses (the database, the secret box, its neighbours as `Arc`s) and is wired in `App::build`;
//! the web layer calls them and nothing else.
//!
//! Calls go one way, from the services that compose to the ones they use (`→`):
//!
//! - timelines → cameras (imports add cameras), assets (syncs store images), and plays through
//!   `timelines::bridge` → programs, ptz
//! - programs → destinations, ptz, hub, overlays → assets; previews (a program's preview ends with
//!   it); the registry of running programs (`programs::RunningPrograms`)
//! - streams → destinations, ptz, hub
//! - cameras → ptz (a deleted preset's copy on the camera)
//! - previews → running programs, hub; health → hub, ptz (the ONVIF login check);
//!   status → health, hub
//! - hub: the camera sessions (every consumer of a camera reads one: programs, previews,
//!   copy streams, snapshots, health)
//! - link (the VistterStudio link over MQTT) → cameras, destinations, ptz, programs, overlays,
//!   timelines, status: the same calls the REST API makes; it listens to `Events`
//! - auth, destinations, ptz, assets: the database (and the secret box) only
//! - youtube → assets (thumbnails); it reads timelines' schedules from the database and writes
//!   the YouTube stream's key into its destination
//!
//! Where a lower service has news for a higher one it does not know, it goes through a narrow
//! trait handed in at construction: a camera that changes tells its `CameraListener`s (the hub
//! reconnects, stops or starts its session, health forgets what it knew, previews of the old
//! address end); the timeline player drives the
//! program through `vs_timeline::ProgramControl`. No service points back at its caller.

pub mod assets;
pub mod audio;
pub mod auth;
pub mod cameras;
pub mod destinations;
pub mod events;
pub mod health;
pub mod hub;
pub mod link;
pub mod live;
pub mod overlays;
pub mod presets;
pub mod previews;
pub mod programs;
pub mod ptz;
pub mod status;
pub mod streams;
pub mod timelines;
pub mod validate;
pub mod youtube;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vs_base::SecretBox;
use vs_db::Db;

use crate::config::Config;
pub use events::{Event, Events};

/// The appliance's shared infrastructure, handed to each service's constructor, which keeps
/// only the parts it uses.
#[derive(Clone)]
pub struct Infra {
    pub db: Db,
    pub secrets: SecretBox,
    pub config: Arc<Config>,
    /// What browsers are told over `/api/events`.
    pub events: Events,
    /// Every background task, so shutdown can wait for them to finish.
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

/// Every service, for the web layer's state and the tests.
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub events: Events,
    pub shutdown: CancellationToken,
    pub auth: Arc<auth::AuthService>,
    pub cameras: Arc<cameras::CameraService>,
    pub health: Arc<health::HealthService>,
    pub hub: Arc<hub::HubService>,
    pub ptz: Arc<ptz::PtzService>,
    pub destinations: Arc<destinations::DestinationService>,
    pub streams: Arc<streams::StreamService>,
    pub programs: Arc<programs::ProgramService>,
    pub previews: Arc<previews::PreviewService>,
    pub assets: Arc<assets::AssetService>,
    pub overlays: Arc<overlays::OverlayService>,
    pub timelines: Arc<timelines::TimelineService>,
    pub status: Arc<status::StatusService>,
    pub youtube: Arc<youtube::YoutubeService>,
    pub audio: Arc<audio::AudioService>,
    pub link: Arc<link::LinkService>,
}
