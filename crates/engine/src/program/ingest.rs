//! The ingest of one source: a [`HubDecoder`] on the camera's hub session, decoding to raw
//! frames of the program's size, whose live frames go into the source's newest-frame slot.
//! Started by a take or a pre-roll, stopped by a release or the program's stop.
//!
//! Only live frames reach the slot: the frames a decoder makes from the session's cached GOP
//! while it catches up are older than the take and never go on air. A slot's frame is dated
//! by when the session received its packet, so a frame decoded from packets that arrived
//! before an outage is not fresh either. The camera's connection is the hub's: an outage
//! leaves the decoder idle on its subscription, and pictures resume by themselves when the
//! session plays again. A session that is replaced (the camera was disabled and enabled
//! again) gets a new decoder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};
use vs_base::{Error, ErrorKind, Result};

use super::audio::feed::audio_feed;
use super::audio::{AudioShared, SourceAudio};
use super::config::SourceSpec;
use super::handle::ProgramHandle;
use super::slot::FrameSlot;
use super::switcher::Source;
use crate::hub::{
    AudioTap, CameraHub, CameraSession, DecoderOptions, DecoderStatus, HubDecoder, SessionState,
};
use crate::supervisor::{Deps, SupervisorHandle};

/// How often an ingest looks for its camera's session while the camera has none.
const SESSION_POLL: Duration = Duration::from_millis(250);

pub(super) struct Ingest {
    pub spec: SourceSpec,
    pub slot: Arc<FrameSlot>,
    pub current: Arc<Mutex<Current>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The decoder an ingest runs now, for the status.
#[derive(Default)]
pub(super) struct Current {
    pub session: Option<CameraSession>,
    pub process: Option<SupervisorHandle>,
    pub decoder: Option<watch::Receiver<DecoderStatus>>,
}

impl ProgramHandle {
    /// The hub that holds the source's session; a camera without one (disabled, or unknown to
    /// the hub) cannot be taken.
    pub(super) fn source_hub(spec: &SourceSpec) -> Result<CameraHub> {
        if spec.hub.session(spec.id).is_none() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "camera {} ({}) has no session: is it enabled?",
                    spec.id, spec.name
                ),
            ));
        }
        Ok(spec.hub.clone())
    }

    pub(super) async fn ensure_ingest(&self, spec: SourceSpec) -> Result<Source> {
        let inner = &self.inner;
        let hub = Self::source_hub(&spec)?;
        let replaced = {
            let mut ingests = inner.ingests.lock().expect("ingests lock");
            match ingests.get_mut(&spec.id) {
                Some(i) if i.spec.hub.same_hub(&spec.hub) => {
                    i.spec = spec.clone();
                    return Ok(Source {
                        id: spec.id,
                        slot: i.slot.clone(),
                    });
                }
                Some(_) => ingests.remove(&spec.id),
                None => None,
            }
        };
        if let Some(old) = replaced {
            // The same id from another hub: the old decoder goes.
            stop_ingest(old, &inner.audio).await;
        }
        let slot = Arc::new(FrameSlot::new());
        let current = Arc::new(Mutex::new(Current::default()));
        let cancel = inner.cancel.child_token();
        // The decoder's feed hands its audio packets to this camera's audio feed; the feed
        // ends when the last decoder (and its tap) is gone.
        let mut opts = super::decoder_options(&inner.config);
        if inner.config.sound {
            let (tap_tx, tap_rx) = tokio::sync::mpsc::unbounded_channel();
            let buffer = Arc::new(SourceAudio::new());
            inner
                .audio
                .sources
                .lock()
                .expect("audio sources lock")
                .insert(spec.id, buffer.clone());
            tokio::spawn(audio_feed(spec.id, tap_rx, buffer, inner.audio.clone()));
            opts.audio_tap = Some(AudioTap(tap_tx));
        }
        let task = tokio::spawn(ingest_task(
            hub,
            spec.id,
            opts,
            // Decoders come from the program's spare when there is one.
            inner.decoder_deps.clone(),
            slot.clone(),
            current.clone(),
            cancel.clone(),
        ));
        debug!(program = %inner.config.name, source = spec.id, "ingest started");
        let source = Source {
            id: spec.id,
            slot: slot.clone(),
        };
        inner.ingests.lock().expect("ingests lock").insert(
            spec.id,
            Ingest {
                spec,
                slot,
                current,
                cancel,
                task,
            },
        );
        Ok(source)
    }
}

/// Runs a decoder on the camera's current session and moves its live frames into the slot;
/// starts another one on the camera's next session if this one is stopped.
async fn ingest_task(
    hub: CameraHub,
    id: i64,
    opts: DecoderOptions,
    deps: Deps,
    slot: Arc<FrameSlot>,
    current: Arc<Mutex<Current>>,
    cancel: CancellationToken,
) {
    loop {
        let session = hub
            .session(id)
            .filter(|s| s.state() != SessionState::Stopped);
        let Some(session) = session else {
            *current.lock().expect("ingest lock") = Current::default();
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(SESSION_POLL) => continue,
            }
        };
        let mut decoder =
            HubDecoder::start(session.clone(), opts.clone(), deps.clone(), cancel.clone());
        *current.lock().expect("ingest lock") = Current {
            session: Some(session.clone()),
            process: Some(decoder.process().clone()),
            decoder: Some(decoder.watch_status()),
        };
        let mut state = session.watch_state();
        let cancelled = loop {
            tokio::select! {
                _ = cancel.cancelled() => break true,
                frame = decoder.next_frame() => match frame {
                    Some(f) if f.live => {
                        slot.put(f.data, f.arrival);
                    }
                    Some(_) => {}
                    None => break false,
                },
                _ = state.wait_for(|s| *s == SessionState::Stopped) => {
                    info!(camera = id, "program ingest: the camera's session stopped");
                    break false;
                }
            }
        };
        decoder.stop().await;
        if cancelled {
            return;
        }
        // The session stopped: look for its successor (without spinning on a stopped one).
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SESSION_POLL) => {}
        }
    }
}

/// Stops an ingest and waits until its decoder process is reaped; its audio leaves the mix.
pub(super) async fn stop_ingest(ingest: Ingest, audio: &AudioShared) {
    ingest.cancel.cancel();
    let _ = ingest.task.await;
    let id = ingest.spec.id;
    audio
        .sources
        .lock()
        .expect("audio sources lock")
        .remove(&id);
    audio.errors.lock().expect("audio errors lock").remove(&id);
}
