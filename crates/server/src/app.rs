//! Boots the appliance: data directory and its lock, database, secrets, the services (every
//! one of them wired here), background tasks and the HTTP server. `App::build` takes the
//! listener so tests bind port 0; `App::build_with` also takes what talks to the outside world
//! (process spawner, clocks, PTZ connector) so tests can put fakes in.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vs_base::{Clock, Error, Result, SecretBox};
use vs_db::Db;

use crate::config::Config;
use crate::datadir::{self, DataDirLock};
use crate::services::assets::AssetService;
use crate::services::audio::AudioService;
use crate::services::auth::AuthService;
use crate::services::cameras::{CameraListener, CameraService};
use crate::services::destinations::DestinationService;
use crate::services::health::HealthService;
use crate::services::hub::HubService;
use crate::services::link::{LinkService, LinkTargets};
use crate::services::overlays::OverlayService;
use crate::services::previews::PreviewService;
use crate::services::programs::{ProgramService, RunningPrograms};
use crate::services::ptz::{OnvifConnector, PtzConnector, PtzService};
use crate::services::status::StatusService;
use crate::services::streams::StreamService;
use crate::services::timelines::bridge::TimelineBridge;
use crate::services::timelines::TimelineService;
use crate::services::youtube::YoutubeService;
use crate::services::{Events, Infra, Services};
use crate::state::AppState;

/// What the appliance uses to act on the world, injectable so tests can watch or replace it.
#[derive(Clone)]
pub struct AppDeps {
    /// How FFmpeg children are spawned, and the clock their supervisors time them by (streams,
    /// programs, previews).
    pub engine: vs_engine::Deps,
    /// The clock timelines are played by.
    pub clock: Arc<dyn Clock>,
    /// Makes the ONVIF client of a PTZ camera.
    pub ptz: Arc<dyn PtzConnector>,
}

impl AppDeps {
    /// Real processes, real time, real cameras.
    pub fn real() -> Self {
        let engine = vs_engine::Deps::real();
        AppDeps {
            clock: engine.clock.clone(),
            engine,
            ptz: Arc::new(OnvifConnector),
        }
    }
}

/// A running appliance.
pub struct App {
    addr: SocketAddr,
    pub services: Services,
    /// The database, for tests that look at what was stored.
    pub db: Db,
    pub secrets: SecretBox,
    tasks: TaskTracker,
    server: JoinHandle<std::io::Result<()>>,
    shutdown: CancellationToken,
    _lock: DataDirLock,
}

/// The metrics facade has one process-wide recorder; every app in the process shares it.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (not in this binary).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Every service, each given what it uses, lowest first. Nothing here starts a task.
fn wire(infra: &Infra, deps: AppDeps) -> Services {
    let running = Arc::new(RunningPrograms::default());
    let ptz = Arc::new(PtzService::new(infra, deps.ptz));
    let hub = Arc::new(HubService::new(infra, deps.engine.clone()));
    let health = Arc::new(HealthService::new(infra, hub.clone(), ptz.clone()));
    let previews = Arc::new(PreviewService::new(infra, running.clone(), hub.clone()));
    let listeners: Vec<Arc<dyn CameraListener>> =
        vec![hub.clone(), health.clone(), previews.clone()];
    let cameras = Arc::new(CameraService::new(infra, listeners, ptz.clone()));
    let destinations = Arc::new(DestinationService::new(infra));
    let assets = Arc::new(AssetService::new(infra));
    let overlays = Arc::new(OverlayService::new(infra, assets.clone()));
    let streams = Arc::new(StreamService::new(
        infra,
        deps.engine.clone(),
        destinations.clone(),
        ptz.clone(),
        hub.clone(),
    ));
    let audio = Arc::new(AudioService::new(infra, running.clone()));
    let programs = Arc::new(ProgramService::new(
        infra,
        deps.engine,
        running,
        destinations.clone(),
        ptz.clone(),
        overlays.clone(),
        previews.clone(),
        hub.clone(),
        audio.clone(),
    ));
    let bridge = Arc::new(TimelineBridge::new(
        infra.db.clone(),
        programs.clone(),
        ptz.clone(),
    ));
    let timelines = Arc::new(TimelineService::new(
        infra,
        cameras.clone(),
        assets.clone(),
        bridge,
        deps.clock,
    ));
    let status = Arc::new(StatusService::new(
        infra.config.clone(),
        health.clone(),
        hub.clone(),
    ));
    let link = Arc::new(LinkService::new(
        infra,
        LinkTargets {
            cameras: cameras.clone(),
            destinations: destinations.clone(),
            ptz: ptz.clone(),
            programs: programs.clone(),
            overlays: overlays.clone(),
            timelines: timelines.clone(),
            status: status.clone(),
        },
    ));
    Services {
        config: infra.config.clone(),
        events: infra.events.clone(),
        shutdown: infra.shutdown.clone(),
        auth: Arc::new(
            AuthService::new(infra.db.clone(), infra.config.clone())
                .with_events(infra.events.clone()),
        ),
        status,
        link,
        youtube: Arc::new(YoutubeService::new(infra, assets.clone())),
        cameras,
        health,
        hub,
        ptz,
        destinations,
        streams,
        programs,
        previews,
        assets,
        overlays,
        timelines,
        audio,
    }
}

impl App {
    /// The appliance with real processes, clocks and cameras.
    pub async fn build(
        config: Config,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<App> {
        Self::build_with(config, listener, shutdown, AppDeps::real()).await
    }

    pub async fn build_with(
        config: Config,
        listener: TcpListener,
        shutdown: CancellationToken,
        deps: AppDeps,
    ) -> Result<App> {
        let lock = datadir::prepare_and_lock(&config.data_dir)?;
        crate::orphans::reap(&config.data_dir);
        let db = Db::open(&config.db_path()).await?;
        let secrets = SecretBox::load_or_create(&config.key_path())?;
        let infra = Infra {
            db: db.clone(),
            secrets: secrets.clone(),
            config: Arc::new(config),
            events: Events::default(),
            tasks: TaskTracker::new(),
            shutdown: shutdown.clone(),
        };
        let services = wire(&infra, deps);
        let state = AppState {
            services: services.clone(),
            metrics: metrics_handle(),
        };

        // Before anything publishes: keys left inside stored URLs by older versions are sealed.
        services.destinations.seal_keys_in_urls().await?;
        spawn_housekeeping(&infra);
        // Before the streams resume: they read the cameras' sessions.
        services.hub.boot(shutdown.clone()).await?;
        infra.tasks.spawn(services.health.clone().run_monitor());
        services.streams.resume().await?;
        services.programs.resume().await?;
        infra
            .tasks
            .spawn(services.timelines.clone().run_scheduler());
        services.youtube.start().await?;
        infra.tasks.spawn(services.link.clone().run());
        if infra.config.demo {
            if let Err(e) = crate::demo::start(&infra, &services.cameras, &services.health).await {
                tracing::warn!(error = ?e, "demo mode could not start");
            }
        }

        let addr = listener.local_addr().map_err(Error::internal)?;
        let router = crate::web::router(state);
        let token = shutdown.clone();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
        });
        tracing::info!(%addr, data_dir = %infra.config.data_dir.display(), "VistterStream listening on http://{addr}");
        Ok(App {
            addr,
            services,
            db,
            secrets,
            tasks: infra.tasks,
            server,
            shutdown,
            _lock: lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the appliance: the server drains, background work ends, the database closes.
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the shutdown token is cancelled and everything has stopped.
    pub async fn wait(self) -> Result<()> {
        let result = self.server.await;
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not finish within 10 s");
        }
        self.db.close().await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::internal(e)),
            Err(e) => Err(Error::internal(e)),
        }
    }
}

/// Periodic upkeep that needs no request: expired sessions are purged hourly.
fn spawn_housekeeping(infra: &Infra) {
    let (db, shutdown) = (infra.db.clone(), infra.shutdown.clone());
    infra.tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = db.purge_expired_sessions().await {
                        tracing::warn!(error = ?e, "purging expired sessions failed");
                    }
                }
            }
        }
    });
}
