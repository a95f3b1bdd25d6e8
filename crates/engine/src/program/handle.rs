//! The handle of a running program: takes, pre-rolls, releases, holds, overlays, status and
//! stop, all serialized so that a stop never races a take.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;
use vs_base::{Error, Result};

use super::audio::AudioSettings;
use super::config::{Preroll, ProgramConfig, SourceSpec};
use super::egress::Egress;
use super::fanout::{FanOut, TapChunk};
use super::ingest::{stop_ingest, Ingest};
use super::overlay::{Overlay, Overlays};
use super::status::{build_status, ProgramStatus};
use super::switcher::{Pending, Selection, Stats};
use crate::supervisor::{Deps, SupervisorHandle};

/// Controls a running program. Cheap to clone.
#[derive(Clone)]
pub struct ProgramHandle {
    pub(super) inner: Arc<Inner>,
}

/// The state shared by the handles and the program's tasks.
pub(super) struct Inner {
    pub(super) config: ProgramConfig,
    pub(super) deps: Deps,
    pub(super) cancel: CancellationToken,
    pub(super) selection: Arc<Mutex<Selection>>,
    pub(super) stats: Arc<Stats>,
    pub(super) overlays: Overlays,
    pub(super) encoder: SupervisorHandle,
    pub(super) egress: Vec<Egress>,
    pub(super) ingests: Mutex<BTreeMap<i64, Ingest>>,
    /// Keeps a decoder process ready for the next take.
    pub(super) warm: Arc<super::warm::WarmSpawner>,
    /// `deps` with decoders spawned from `warm`.
    pub(super) decoder_deps: Deps,
    /// Serializes take/preroll/release/stop; true once stopped.
    pub(super) ops: tokio::sync::Mutex<bool>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(super) supervisors: Mutex<Vec<JoinHandle<()>>>,
    pub(super) status_tx: watch::Sender<ProgramStatus>,
    pub(super) status_rx: watch::Receiver<ProgramStatus>,
    pub(super) started_at: SystemTime,
    pub(super) status_kick: Arc<tokio::sync::Notify>,
    pub(super) fanout: Arc<FanOut>,
    /// The encoder's video bitrate now (the configured one unless stepped, see `adapt`).
    pub(super) video_bitrate_kbps: std::sync::atomic::AtomicU32,
    /// Why the bitrate differs from the configured one.
    pub(super) bitrate_note: Mutex<Option<String>>,
    pub(super) audio: Arc<super::audio::AudioShared>,
    pub(super) audio_tx: watch::Sender<Arc<AudioSettings>>,
    /// The pre-roll choice in force and the decoder CPU measured (see `preroll`).
    pub(super) preroll: Arc<super::preroll::PrerollShared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle went away without `stop`: end the tasks; the supervisors stop their
        // children on the same token.
        self.cancel.cancel();
    }
}

impl ProgramHandle {
    /// The program's encoded MPEG-TS as it leaves the encoder, for a live preview: where to
    /// start (PAT, PMT and the packets since the last keyframe; empty before the first one),
    /// then the live chunks. A reader that falls behind loses chunks (it gets `Lagged`),
    /// never slows the program. It ends (`Closed`) only when the program is dropped; the
    /// caller's own stop tells it when to let go.
    pub fn tap_ts(&self) -> (Vec<Bytes>, broadcast::Receiver<TapChunk>) {
        self.inner.fanout.tap()
    }

    /// Puts `source` on air, starting its decoder if it is not pre-rolled. Returns at once:
    /// the cut happens at the first tick at which the source has a live frame — the next
    /// tick for a pre-rolled source; for one that is not, once its decoder has started from
    /// the session's cached keyframe and caught up with live (never on a picture older than
    /// the take). Until then the previous source (or the slate) stays on air. The previous
    /// source keeps being decoded, so a take back is instant too, until it is
    /// [`release`](Self::release)d — in [`Preroll::Economy`], until the take is on air.
    /// Fails if a hub camera has no session (disabled).
    pub async fn take(&self, source: SourceSpec) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        // Measured from the call: starting a decoder is part of a take.
        let since = self.inner.deps.clock.now();
        let id = source.id;
        let src = self.ensure_ingest(source).await?;
        let pre_rolled = src.slot.latest().is_some_and(|f| {
            since.saturating_duration_since(f.at) <= self.inner.config.source_timeout
        });
        {
            let mut sel = self.inner.selection.lock().expect("selection lock");
            if sel.on_air.as_ref().is_some_and(|s| s.id == id) {
                sel.pending = None;
            } else {
                sel.pending = Some(Pending {
                    source: src,
                    since,
                    pre_rolled,
                });
            }
        }
        info!(program = %self.inner.config.name, source = id, "take");
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Cuts to the slate at the next tick (a gap in a timeline, or an operator's choice),
    /// cancelling a pending take. Sources keep being decoded until released, so a take back
    /// is instant — except in [`Preroll::Economy`], where no camera on air means none decoded.
    pub async fn take_slate(&self) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        {
            let mut sel = self.inner.selection.lock().expect("selection lock");
            sel.pending = None;
            sel.on_air = None;
            sel.hold_until = None;
        }
        info!(program = %self.inner.config.name, "take slate");
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Starts decoding `source` without putting it on air, so that a later take is on air at
    /// the next tick. In [`Preroll::Economy`] nothing is decoded (the later take starts from
    /// the hub's cached keyframe); a camera without a session still fails.
    pub async fn preroll(&self, source: SourceSpec) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Err(Error::invalid_state("the program has stopped"));
        }
        if self.inner.preroll.mode() == Preroll::Economy {
            Self::source_hub(&source)?;
            return Ok(());
        }
        self.ensure_ingest(source).await?;
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Stops the decoder of a source that is neither on air nor being taken (the camera's
    /// session stays connected). Releasing a source that has no decoder does nothing.
    pub async fn release(&self, id: i64) -> Result<()> {
        let ops = self.inner.ops.lock().await;
        if *ops {
            return Ok(());
        }
        {
            let sel = self.inner.selection.lock().expect("selection lock");
            let busy = sel.on_air.as_ref().is_some_and(|s| s.id == id)
                || sel.pending.as_ref().is_some_and(|p| p.source.id == id);
            if busy {
                return Err(Error::invalid_state(format!(
                    "source {id} is on air; take another source first"
                )));
            }
        }
        let ingest = self.inner.ingests.lock().expect("ingests lock").remove(&id);
        if let Some(ingest) = ingest {
            stop_ingest(ingest, &self.inner.audio).await;
            info!(program = %self.inner.config.name, source = id, "ingest released");
        }
        drop(ops);
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Freezes the picture on air for at most `max` (until [`unhold`](Self::unhold) or a
    /// take): for moving the on-air camera to a preset without showing the move. Overlays
    /// (a clock) stay live.
    pub fn hold(&self, max: Duration) {
        let until = self.inner.deps.clock.now() + max;
        self.inner
            .selection
            .lock()
            .expect("selection lock")
            .hold_until = Some(until);
        self.inner.status_kick.notify_one();
    }

    pub fn unhold(&self) {
        self.inner
            .selection
            .lock()
            .expect("selection lock")
            .hold_until = None;
        self.inner.status_kick.notify_one();
    }

    /// Changes the encoder's video bitrate (`note` says why, for the status). FFmpeg cannot
    /// change it in a running encoder, so only the encoder restarts: the destinations keep
    /// their sessions and receive one continuous stream.
    pub async fn set_video_bitrate(&self, kbps: u32, note: Option<String>) -> Result<()> {
        let kbps = kbps.max(super::adapt::MIN_VIDEO_KBPS);
        if *self.inner.ops.lock().await {
            return Err(Error::invalid_state("the program has stopped"));
        }
        let mut cfg = self.inner.config.clone();
        cfg.video_bitrate_kbps = kbps;
        self.inner
            .encoder
            .update_spec(super::encoder::encoder_spec(&cfg))
            .await?;
        self.inner
            .video_bitrate_kbps
            .store(kbps, std::sync::atomic::Ordering::Relaxed);
        *self.inner.bitrate_note.lock().expect("note lock") = note;
        self.inner.status_kick.notify_one();
        Ok(())
    }

    /// Replaces the overlays atomically (validated and rendered first; on error the previous
    /// set stays). The encoder is not touched.
    pub async fn set_overlays(&self, overlays: Vec<Overlay>) -> Result<()> {
        self.inner.overlays.set(overlays).await
    }

    /// Replaces the audio mix (camera gains and on/off, master gain, bed) at the next tick;
    /// gains ramp over one tick. The encoder is not touched.
    pub fn set_audio(&self, settings: AudioSettings) {
        self.inner.audio_tx.send_replace(Arc::new(settings));
        self.inner.status_kick.notify_one();
    }

    /// The audio mix in use.
    pub fn audio_settings(&self) -> Arc<AudioSettings> {
        self.inner.audio_tx.borrow().clone()
    }

    /// Changes the pre-roll choice live. To [`Preroll::Economy`]: the decoders of the cameras
    /// neither on air nor being taken stop at once, and from then on only the on-air camera is
    /// decoded. To [`Preroll::Instant`]: nothing starts; pre-rolls decode again.
    pub fn set_preroll(&self, mode: Preroll) {
        self.inner.preroll.set_mode(mode);
        info!(program = %self.inner.config.name, mode = mode.as_str(), "pre-roll");
        // The economy task acts on the status publication this asks for.
        self.inner.status_kick.notify_one();
    }

    /// The pre-roll choice in force.
    pub fn preroll_mode(&self) -> Preroll {
        self.inner.preroll.mode()
    }

    /// A fresh snapshot (counters as of now; `fps_measured` as of the last publication).
    pub fn status(&self) -> ProgramStatus {
        let fps = self.inner.status_rx.borrow().fps_measured;
        build_status(&self.inner, fps)
    }

    pub fn subscribe(&self) -> watch::Receiver<ProgramStatus> {
        self.inner.status_rx.clone()
    }

    pub fn config(&self) -> &ProgramConfig {
        &self.inner.config
    }

    /// Stops the program: egress first (each destination gets a clean end of stream), then
    /// the encoder, then the decoders, then the internal
    /// tasks. Every child is reaped when this returns. Calling it again does nothing.
    pub async fn stop(&self) {
        let mut ops = self.inner.ops.lock().await;
        if *ops {
            return;
        }
        *ops = true;
        let inner = &self.inner;
        futures_join(inner.egress.iter().map(|e| e.stop())).await;
        let _ = inner.encoder.stop().await;
        let ingests: Vec<Ingest> =
            std::mem::take(&mut *inner.ingests.lock().expect("ingests lock"))
                .into_values()
                .collect();
        futures_join(ingests.into_iter().map(|i| stop_ingest(i, &inner.audio))).await;
        inner.warm.stop().await;
        inner.cancel.cancel();
        let tasks = std::mem::take(&mut *inner.tasks.lock().expect("tasks lock"));
        let sups = std::mem::take(&mut *inner.supervisors.lock().expect("supervisors lock"));
        for t in sups.into_iter().chain(tasks) {
            let _ = t.await;
        }
        info!(program = %inner.config.name, "program stopped");
    }
}

pub(super) async fn futures_join<F: std::future::Future>(futs: impl IntoIterator<Item = F>) {
    let mut set = Vec::new();
    for f in futs {
        set.push(f);
    }
    // Sequential awaits would add up stop timeouts; polling them together keeps the total at
    // the longest one.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
