//! What browsers are told as it happens: every service publishes here, `/api/events` (SSE)
//! subscribes. Nobody listening is fine; a browser that falls behind is told it lagged.

use tokio::sync::broadcast;

/// Something that happened, pushed to browsers over the event stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// The SSE event name, e.g. `camera_health`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// The publisher: cheap to clone, every clone sends to the same subscribers.
#[derive(Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(256).0)
    }
}

impl Events {
    /// Sends an event to every connected browser; nobody listening is fine.
    pub fn publish(&self, kind: &'static str, data: serde_json::Value) {
        let _ = self.0.send(Event { kind, data });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
