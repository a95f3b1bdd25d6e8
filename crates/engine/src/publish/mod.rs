//! Key-safe publishing to destinations: RTMP and RTMPS from the appliance's own process (the
//! stream key lives in memory only, never on a child's command line or in its environment),
//! and SRT through an FFmpeg that reads its secrets from a private pipe.
//!
//! - [`Publisher`]: one destination's RTMP(S) session, kept up with backoff; fed
//!   [`MediaFrame`]s through a [`PublisherInput`] that never blocks the producer; resumes at
//!   the newest keyframe after an outage; reports [`PublisherStats`] (send rate, queue depth,
//!   drops, `congested`) on a watch channel.
//! - Inputs: [`feed_ts`] for the program's MPEG-TS (one fan-out queue per destination),
//!   [`feed_hub`] for a camera's hub session (copy streams), or [`TsFrames`] directly.
//! - [`srt`]: SRT destinations keep MPEG-TS and FFmpeg; `streamid` and `passphrase` travel
//!   through a FIFO in a private directory (`-fpre`), not the command line.
//! - [`test_publish`]: a few seconds of a generated test pattern to a destination, with the
//!   server's answer in plain words.
//!
//! Wiring for program egress (one publisher per RTMP(S) destination, fed from its fan-out
//! queue instead of an egress FFmpeg's stdin):
//!
//! ```no_run
//! use vs_engine::publish::*;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo(chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Result<(), PublishError> {
//! let target = PublishTarget::parse("rtmp://a.rtmp.youtube.com/live2/xxxx-xxxx", true)?;
//! let publisher = Publisher::start(target, PublisherConfig::default(), CancellationToken::new());
//! let mut stats = publisher.stats();
//! tokio::spawn(feed_ts(chunks, publisher.input()));
//! while stats.changed().await.is_ok() {
//!     let s = stats.borrow().clone();
//!     if s.congested {
//!         tracing::warn!(rate = s.send_bytes_per_sec, "uplink too slow");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod flv;
pub mod media;
pub mod mux;
pub mod probe;
pub mod publisher;
pub mod queue;
pub mod rtmp;
pub mod srt;
pub mod stats;
pub mod target;
pub mod tls;

pub use error::{PublishError, PublishErrorKind};
pub use media::{feed_hub, feed_ts, MediaFrame, TsFrames};
pub use probe::{test_publish, TestPublishOptions, TestPublishReport};
pub use publisher::{Publisher, PublisherConfig, PublisherInput};
pub use queue::QueueLimits;
pub use rtmp::ConnectOptions;
pub use srt::{SrtEgress, SrtOutput};
pub use stats::{Congestion, CongestionPolicy, PublisherState, PublisherStats};
pub use target::PublishTarget;
