//! One viewer of a preview: what its socket is sent, in order — the status, the init segment
//! and the keyframe cache first, then the live fragments — skipped forward to a keyframe when
//! it lags, and told when the preview has ended.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;

use super::remux::Remux;

/// What travels from the remux to the viewers.
#[derive(Debug, Clone)]
pub enum Packet {
    /// A new run of the remux: the player must (re)initialise with this MIME type.
    Init { mime: String, data: Bytes },
    /// A `moof`+`mdat` pair; `keyframe` when its first sample is a sync sample.
    Fragment { data: Bytes, keyframe: bool },
    /// The camera was lost (`false`) or the remux is producing again (`true`).
    Online(bool),
}

/// What a viewer sends on its socket.
#[derive(Debug, Clone)]
pub enum ViewerMessage {
    Text(String),
    Binary(Bytes),
}

/// One viewer of a camera's preview. Dropping it leaves the preview.
pub struct Viewer {
    remux: Arc<Remux>,
    rx: broadcast::Receiver<Packet>,
    /// Messages to send before the live ones (status, init segment, keyframe cache).
    backlog: VecDeque<ViewerMessage>,
    /// Set after a lag: fragments are dropped until the next keyframe, which MSE can decode.
    skipping: bool,
    /// No init segment sent yet: fragments before it would be meaningless to the player.
    initialised: bool,
    /// The end was announced; nothing follows.
    finished: bool,
    pub lagged: u64,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.remux.viewers.send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn init_text(mime: &str) -> String {
    serde_json::json!({"type": "init", "mime": mime}).to_string()
}

fn status_text(online: bool) -> String {
    let status = if online { "online" } else { "offline" };
    serde_json::json!({"type": "status", "status": status}).to_string()
}

fn ended_text(reason: &str) -> String {
    serde_json::json!({"type": "ended", "reason": reason}).to_string()
}

impl Viewer {
    /// The next message for this viewer's socket; `None` when the preview has ended.
    pub async fn next(&mut self) -> Option<ViewerMessage> {
        if let Some(m) = self.backlog.pop_front() {
            return Some(m);
        }
        if self.finished {
            return None;
        }
        loop {
            let received = tokio::select! {
                biased;
                _ = self.remux.ended.cancelled() => {
                    self.finished = true;
                    let reason = self.remux.ended_reason.lock().expect("preview lock").clone();
                    return Some(ViewerMessage::Text(ended_text(&reason)));
                }
                r = self.rx.recv() => r,
            };
            match received {
                Ok(Packet::Init { mime, data }) => {
                    self.initialised = true;
                    self.skipping = false;
                    self.backlog.push_back(ViewerMessage::Binary(data));
                    return Some(ViewerMessage::Text(init_text(&mime)));
                }
                Ok(Packet::Online(online)) => {
                    return Some(ViewerMessage::Text(status_text(online)))
                }
                Ok(Packet::Fragment { data, keyframe }) => {
                    if !self.initialised {
                        continue;
                    }
                    if self.skipping && !keyframe {
                        continue;
                    }
                    self.skipping = false;
                    return Some(ViewerMessage::Binary(data));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // The viewer is too slow for the camera: drop what it missed and resume at
                    // a keyframe. An init segment in the missed part is recovered from the
                    // shared state so the player re-initialises with the current run.
                    self.lagged += n;
                    self.skipping = true;
                    metrics::counter!("vistterstream_preview_lagged_fragments_total").increment(n);
                    let init = self
                        .remux
                        .current
                        .lock()
                        .expect("preview lock")
                        .init
                        .clone();
                    if let Some((mime, data)) = init {
                        self.initialised = true;
                        self.backlog.push_back(ViewerMessage::Binary(data));
                        return Some(ViewerMessage::Text(init_text(&mime)));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Viewer {
    /// Joins a remux the caller has already counted this viewer in.
    pub(super) fn join(remux: Arc<Remux>) -> Viewer {
        // Subscribing under the lock that the reader holds while it updates the state means
        // the snapshot and the channel neither miss nor repeat a packet.
        let cur = remux.current.lock().expect("preview lock");
        let rx = remux.tx.subscribe();
        let mut backlog = VecDeque::new();
        if cur.online == Some(false) {
            backlog.push_back(ViewerMessage::Text(status_text(false)));
        }
        let initialised = cur.init.is_some();
        if let Some((mime, data)) = &cur.init {
            backlog.push_back(ViewerMessage::Text(init_text(mime)));
            backlog.push_back(ViewerMessage::Binary(data.clone()));
            backlog.extend(cur.gop.iter().cloned().map(ViewerMessage::Binary));
        }
        drop(cur);
        Viewer {
            remux,
            rx,
            backlog,
            skipping: false,
            initialised,
            finished: false,
            lagged: 0,
        }
    }
}
