//! The camera hub: one always-on session per enabled camera, shared by every consumer
//! (program decoding, previews, copy streams, snapshots, health).
//!
//! Each [`CameraSession`] holds ONE connection to its camera — RTSP read in-process with
//! `retina`, RTSPS/RTMP/SRT through one FFmpeg pull — and fans the packets out through a bounded
//! ring that is also the keyframe cache: a new consumer starts at once on the newest keyframe,
//! a slow one is moved ahead to a newer keyframe and never slows the others. Timestamps given
//! to consumers are one continuous 90 kHz timeline per session (see [`timeline`] for the rule).
//! Camera credentials travel in memory (RTSP) or through a pipe (FFmpeg), never on a command
//! line or in an environment.
//!
//! ```no_run
//! use vs_engine::hub::*;
//! use vs_engine::Deps;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> vs_base::Result<()> {
//! let shutdown = CancellationToken::new();
//! let hub = CameraHub::new(HubOptions::default(), Deps::real(), shutdown.clone());
//! let parsed = vs_base::StreamUrl::parse("rtsp://192.168.1.50/stream1", "address")?;
//! let cfg = SourceConfig::new(parsed.url).credentials("admin", vs_base::Secret::new("pw"));
//! hub.configure(3, cfg).await?;
//! let session = hub.session(3).expect("configured");
//! let mut preview = Fmp4Preview::new(session.subscribe(ConsumerKind::Preview).await?);
//! while let Ok(chunk) = preview.next().await {
//!     let _ = chunk; // to the browser
//! }
//! # Ok(())
//! # }
//! ```

pub mod consumers;
pub mod fanout;
pub mod h264;
pub mod mp4mux;
pub mod packet;
mod pull;
mod rtsp;
pub mod session;
pub mod shared;
pub mod source;
pub mod stats;
pub mod timeline;
pub mod tsdemux;
pub mod tsframes;
pub mod tsmux;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use vs_base::{Error, Result};

pub use consumers::{
    decoder_args, feed_ts, snapshot_from_cache, AudioTap, DecodedFrame, DecoderOptions,
    DecoderStatus, FeedEnd, Fmp4Preview, HubDecoder, PreviewChunk, SnapshotOptions, TappedAudio,
};
pub use fanout::{End, Event, Receiver, RingLimits, Subscription};
pub use packet::{AudioCodec, AudioInfo, Packet, StreamInfo, StreamKind, VideoInfo, TIMEBASE};
pub use session::{CameraSession, HubOptions};
pub use source::{Connection, Connector, DefaultConnector, SourceConfig, SourceFrame};
pub use stats::{ConsumerGuard, ConsumerKind, SessionState, SessionStats};

use crate::supervisor::Deps;

struct Entry {
    session: CameraSession,
    task: tokio::task::JoinHandle<()>,
}

/// Every camera's session, by camera id.
#[derive(Clone)]
pub struct CameraHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    opts: HubOptions,
    connector: Arc<dyn Connector>,
    shutdown: CancellationToken,
    sessions: Mutex<HashMap<i64, Entry>>,
}

impl CameraHub {
    /// A hub reading RTSP in-process and other protocols with FFmpeg pulls spawned by `deps`.
    /// Cancelling `shutdown` stops every session.
    pub fn new(opts: HubOptions, deps: Deps, shutdown: CancellationToken) -> Self {
        let connector = DefaultConnector::new(deps, shutdown.clone()).ffmpeg(opts.ffmpeg.clone());
        Self::with_connector(opts, Arc::new(connector), shutdown)
    }

    pub fn with_connector(
        opts: HubOptions,
        connector: Arc<dyn Connector>,
        shutdown: CancellationToken,
    ) -> Self {
        CameraHub {
            inner: Arc::new(HubInner {
                opts,
                connector,
                shutdown,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Starts, restarts or stops the camera's session to match `cfg`: a new enabled camera
    /// gets a session, changed settings reconnect it (its subscriptions end with
    /// [`End::SourceChanged`]), the same settings change nothing, a disabled camera's session
    /// is stopped and removed.
    pub async fn configure(&self, camera_id: i64, cfg: SourceConfig) -> Result<()> {
        if !cfg.url.protocol().same_family(cfg.protocol) {
            return Err(Error::invalid(
                "protocol",
                format!(
                    "is {} but the address is {}",
                    cfg.protocol,
                    cfg.url.protocol()
                ),
            ));
        }
        if !cfg.enabled {
            self.remove(camera_id).await;
            return Ok(());
        }
        let mut sessions = self.sessions();
        match sessions.get(&camera_id) {
            Some(e) if !e.task.is_finished() => {
                e.session.reconfigure(cfg);
            }
            _ => {
                let (session, task) = CameraSession::start(
                    camera_id,
                    cfg,
                    self.inner.opts.clone(),
                    self.inner.connector.clone(),
                    self.inner.shutdown.child_token(),
                );
                sessions.insert(camera_id, Entry { session, task });
            }
        }
        Ok(())
    }

    /// Stops and forgets the camera's session (its subscriptions end with
    /// [`End::Stopped`]); waits until its connection is closed.
    pub async fn remove(&self, camera_id: i64) {
        let entry = self.sessions().remove(&camera_id);
        if let Some(e) = entry {
            e.session.stop();
            let _ = e.task.await;
        }
    }

    /// Whether both handles are the same hub.
    pub fn same_hub(&self, other: &CameraHub) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn session(&self, camera_id: i64) -> Option<CameraSession> {
        self.sessions().get(&camera_id).map(|e| e.session.clone())
    }

    pub fn camera_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.sessions().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Every session's stats, by camera id.
    pub fn stats(&self) -> BTreeMap<i64, SessionStats> {
        let sessions: Vec<(i64, CameraSession)> = self
            .sessions()
            .iter()
            .map(|(id, e)| (*id, e.session.clone()))
            .collect();
        sessions
            .into_iter()
            .map(|(id, s)| (id, s.stats()))
            .collect()
    }

    /// Stops every session and waits for them.
    pub async fn shutdown(&self) {
        let ids = self.camera_ids();
        for id in ids {
            self.remove(id).await;
        }
    }
}
