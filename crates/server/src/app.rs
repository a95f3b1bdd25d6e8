//! Boots the appliance: data directory and its lock, database, secrets, controller, background
//! tasks and the HTTP server. `App::build` takes the listener so tests bind port 0.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vs_base::{Error, Result, SecretBox};
use vs_db::Db;

use crate::config::Config;
use crate::controller::Controller;
use crate::datadir::{self, DataDirLock};
use crate::state::AppState;

/// A running appliance.
pub struct App {
    addr: SocketAddr,
    pub ctl: Arc<Controller>,
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

impl App {
    pub async fn build(
        config: Config,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<App> {
        let lock = datadir::prepare_and_lock(&config.data_dir)?;
        crate::orphans::reap(&config.data_dir);
        let db = Db::open(&config.db_path()).await?;
        let secrets = SecretBox::load_or_create(&config.key_path())?;
        let config = Arc::new(config);
        let ctl = Arc::new(Controller::new(
            db,
            secrets,
            config.clone(),
            shutdown.clone(),
        ));
        let state = AppState {
            ctl: ctl.clone(),
            metrics: metrics_handle(),
        };

        spawn_housekeeping(ctl.clone());
        ctl.tasks.spawn(ctl.clone().run_health_monitor());
        ctl.resume_streams().await?;
        ctl.resume_programs().await?;
        ctl.timelines.set_program(Arc::new(
            crate::controller::program_bridge::TimelineBridge::new(Arc::downgrade(&ctl)),
        ));
        ctl.tasks.spawn(ctl.clone().run_timeline_scheduler());
        if config.demo {
            if let Err(e) = crate::demo::start(ctl.clone()).await {
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
        tracing::info!(%addr, data_dir = %config.data_dir.display(), "VistterStream listening on http://{addr}");
        Ok(App {
            addr,
            ctl,
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
        self.ctl.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.ctl.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not finish within 10 s");
        }
        self.ctl.db.close().await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::internal(e)),
            Err(e) => Err(Error::internal(e)),
        }
    }
}

/// Periodic upkeep that needs no request: expired sessions are purged hourly.
fn spawn_housekeeping(ctl: Arc<Controller>) {
    let tasks = ctl.tasks.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = ctl.shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = ctl.db.purge_expired_sessions().await {
                        tracing::warn!(error = ?e, "purging expired sessions failed");
                    }
                }
            }
        }
    });
}
