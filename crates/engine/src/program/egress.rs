//! Egress: each destination of a program, fed from its own fan-out queue, so a slow or dead
//! destination only loses its own data.
//!
//! RTMP and RTMPS destinations are published from the appliance's own process
//! ([`Publisher`]): the stream key never reaches a child's command line or environment, a
//! destination that comes back resumes at the newest keyframe, and its uplink figures (send
//! rate, queue, drops, `congested`) are measured where the bytes leave. SRT destinations keep
//! an FFmpeg ([`SrtEgress`]) whose stream id and passphrase travel through a private FIFO.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vs_base::{Error, Protocol, Result};

use super::config::{OutputSpec, ProgramConfig};
use super::fanout::QueueStats;
use crate::publish::{feed_ts, Publisher, PublisherConfig, PublisherStats, SrtEgress};
use crate::supervisor::{Deps, Status};

pub(super) const EGRESS_QUEUE_CHUNKS: usize = 512;

pub(super) enum Sender {
    Rtmp(Publisher),
    Srt(SrtEgress),
}

pub(super) struct Egress {
    pub id: i64,
    pub name: String,
    pub sender: Sender,
    /// What the fan-out could not queue for this destination.
    pub stats: Arc<QueueStats>,
}

impl Egress {
    /// Starts one destination fed by `chunks` (its fan-out queue).
    pub(super) async fn start(
        config: &ProgramConfig,
        out: &OutputSpec,
        chunks: mpsc::Receiver<Bytes>,
        stats: Arc<QueueStats>,
        deps: Deps,
        cancel: CancellationToken,
    ) -> Result<Self> {
        let target = out.publish_target()?;
        let sender = match target.protocol {
            Protocol::Rtmp | Protocol::Rtmps => {
                let cfg = PublisherConfig {
                    name: format!("program {} → {}", config.name, out.name),
                    ..PublisherConfig::default()
                };
                let publisher = Publisher::start(target, cfg, cancel.clone());
                tokio::spawn(feed_ts(chunks, publisher.input()));
                Sender::Rtmp(publisher)
            }
            Protocol::Srt => {
                let name = format!("program {} egress {}", config.name, out.name);
                let egress = SrtEgress::start(&target, &name, &config.ffmpeg, chunks, deps, cancel)
                    .await
                    .map_err(|e| Error::invalid("outputs", e.message))?;
                Sender::Srt(egress)
            }
            _ => {
                return Err(Error::invalid(
                    "outputs",
                    format!(
                        "{}: only rtmp://, rtmps:// and srt:// destinations",
                        out.name
                    ),
                ))
            }
        };
        Ok(Egress {
            id: out.id,
            name: out.name.clone(),
            sender,
            stats,
        })
    }

    /// The destination's uplink figures (RTMP and RTMPS).
    pub(super) fn publisher(&self) -> Option<PublisherStats> {
        match &self.sender {
            Sender::Rtmp(p) => Some(p.stats().borrow().clone()),
            Sender::Srt(_) => None,
        }
    }

    /// A supervisor-shaped status: the FFmpeg's for SRT; for a publisher its session as one
    /// (a run per accepted session, `restarts` counting reconnects).
    pub(super) fn status(&self) -> Status {
        match &self.sender {
            Sender::Srt(e) => e.status(),
            Sender::Rtmp(p) => p.stats().borrow().as_status(&self.name),
        }
    }

    pub(super) async fn stop(&self) {
        match &self.sender {
            Sender::Rtmp(p) => p.close().await,
            Sender::Srt(e) => e.close().await,
        }
    }
}
