//! Playing a stored timeline through the program feed: validated against what is configured
//! now, compiled into cues, handed to the player; its position pushed to browsers.

use std::sync::atomic::Ordering;

use vs_base::{Error, ErrorKind, Result};
use vs_timeline::{compile, CompileOptions, PlayRequest, PlayerStatus, Timeline};

use super::{catalog_of, full_report, model_field, model_of, report_error, TimelineService};

/// Who asked for a timeline to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOrigin {
    User,
    Schedule,
}

impl TimelineService {
    /// Plays a stored timeline: validated against what is configured now, compiled, handed to
    /// the player.
    pub async fn start(
        &self,
        id: &str,
        origin: PlayOrigin,
        user_id: Option<i64>,
    ) -> Result<PlayerStatus> {
        let row = self.db.timeline(id).await?;
        let timeline = model_of(&row)?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &self.destination_ids().await?);
        if let Some(e) = report_error(&report, model_field) {
            return Err(e);
        }
        let cues = compile(&timeline, &CompileOptions::default());
        self.forward_player_events();
        let status = self
            .player()
            .play(PlayRequest {
                timeline_id: row.id.clone(),
                timeline_name: row.name.clone(),
                destination_ids: timeline.destination_ids.clone(),
                cues,
            })
            .await?;
        *self.scheduled.lock().expect("scheduler lock") =
            (origin == PlayOrigin::Schedule).then(|| row.id.clone());
        let action = match origin {
            PlayOrigin::User => "timeline_started",
            PlayOrigin::Schedule => "timeline_started_by_schedule",
        };
        self.db
            .audit(user_id, action, Some(&row.name), Some(&row.id))
            .await?;
        Ok(status)
    }

    pub async fn stop(&self, user_id: Option<i64>) -> Result<PlayerStatus> {
        let before = self.player().status();
        let status = self.player().stop().await?;
        let status = self.with_availability(status).await?;
        *self.scheduled.lock().expect("scheduler lock") = None;
        if let Some(id) = before.timeline_id {
            self.db
                .audit(
                    user_id,
                    "timeline_stopped",
                    before.timeline_name.as_deref(),
                    Some(&id),
                )
                .await?;
        }
        Ok(status)
    }

    /// Stops a timeline, refusing (409) when it is not the one playing.
    pub async fn stop_this(&self, id: &str, user_id: Option<i64>) -> Result<PlayerStatus> {
        self.db.timeline(id).await?;
        let status = self.player().status();
        if status.timeline_id.as_deref() != Some(id) || status.state == "stopped" {
            return Err(Error::invalid_state(format!(
                "timeline '{id}' is not playing"
            )));
        }
        self.stop(user_id).await
    }

    pub async fn jump_to_clip(&self, timeline_id: &str, clip_id: &str) -> Result<PlayerStatus> {
        let player = self.player();
        let status = player.status();
        if status.state != "playing" || status.timeline_id.as_deref() != Some(timeline_id) {
            return Err(Error::invalid_state(format!(
                "timeline '{timeline_id}' is not playing; start it first"
            )));
        }
        player.jump_to_clip(clip_id).await
    }

    /// The player's status; `program_available` says whether a start could play now: false
    /// while the program feed is not ready (no program configured), when `start` answers 503.
    pub async fn player_status(&self) -> Result<PlayerStatus> {
        let status = self.player().status();
        self.with_availability(status).await
    }

    async fn with_availability(&self, mut status: PlayerStatus) -> Result<PlayerStatus> {
        if status.program_available {
            let program = self.program.read().expect("program lock").clone();
            status.program_available = match program.ready().await {
                Ok(()) => true,
                Err(e) if e.kind == ErrorKind::Unavailable => false,
                Err(e) => return Err(e),
            };
        }
        Ok(status)
    }

    pub(super) async fn reload_if_playing(&self, id: &str, timeline: &Timeline) {
        let player = self.player();
        if player.status().timeline_id.as_deref() == Some(id) {
            let cues = compile(timeline, &CompileOptions::default());
            if let Err(e) = player.reload(id, cues).await {
                tracing::warn!(timeline = %id, error = %e, "the playing timeline could not take its edit");
            }
        }
    }

    /// Pushes the player's position to browsers (`timeline_position` events) for the playhead.
    fn forward_player_events(&self) {
        if self.events_forwarded.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut rx = self.player().subscribe();
        let (events, shutdown) = (self.events.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    changed = rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let s = rx.borrow_and_update().clone();
                        events.publish("timeline_position", serde_json::to_value(&s).unwrap_or_default());
                    }
                }
            }
        });
    }
}
