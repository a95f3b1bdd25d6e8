//! The keeper of broadcasts: one loop that, for every timeline with broadcast settings on a
//! signed-in YouTube destination, makes a fresh broadcast when the timeline's schedule window
//! opens and completes it when the window closes. Each open broadcast moves one step per look:
//!
//! ```text
//! creating ──insert, bind to the destination's stream, category, thumbnail──▶ waiting
//! waiting  ──liveStreams says streamStatus=active, transition(live) ok──────▶ live
//! live     ──window closed, transition(complete)──────────────────────────▶ complete
//! creating/waiting ──window closed──▶ cancelled (the unused broadcast is deleted)
//! any open state ──YouTube no longer has it (deleted in Studio)──▶ failed
//! ```
//!
//! A failed step (a refused transition, the quota, Google unreachable) is recorded on the
//! broadcast in plain words and tried again after a delay that doubles up to five minutes.
//! A complete broadcast is never reused: YouTube never takes it live again; a window whose
//! broadcast failed gets a new one at the next look.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;
use vs_base::Result;
use vs_db::youtube::{BroadcastRow, BroadcastSettingsRow};
use vs_timeline::Schedule;

use super::google::{Body, Fail};
use super::{rfc3339, YoutubeService};

/// The longest wait between two tries of a failed step.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl YoutubeService {
    /// Runs until shutdown: looks at every tick, when a timeline changes (its schedule may
    /// have opened or closed a window), and when settings or a sign-in change.
    pub(super) async fn run_keeper(self: Arc<Self>) {
        let mut events = self.events.subscribe();
        loop {
            // A look cut short by shutdown is safe: every step is taken again from the
            // database's state at the next start.
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                r = self.keep() => if let Err(e) = r {
                    tracing::warn!(error = %e, "YouTube broadcast keeper");
                },
            }
            let deadline = tokio::time::Instant::now() + self.tick;
            loop {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    _ = self.kick.notified() => break,
                    _ = tokio::time::sleep_until(deadline) => break,
                    ev = events.recv() => match ev {
                        Ok(ev) if ev.kind == "timeline_changed" => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            tokio::select! {
                                _ = self.shutdown.cancelled() => return,
                                _ = tokio::time::sleep_until(deadline) => break,
                            }
                        }
                    },
                }
            }
        }
    }

    /// One look: opens the broadcasts of windows that opened, then moves every open one a step.
    async fn keep(&self) -> Result<()> {
        let now = Utc::now();
        let schedules: HashMap<String, Schedule> = self
            .db
            .list_timelines()
            .await?
            .into_iter()
            .filter_map(|t| {
                let s = serde_json::from_str(t.schedule.as_deref()?).ok()?;
                Some((t.id, s))
            })
            .collect();
        let settings = self.db.all_broadcast_settings().await?;
        let linked: Vec<i64> = self
            .db
            .youtube_links()
            .await?
            .into_iter()
            .filter(|l| l.state == "linked")
            .map(|l| l.destination_id)
            .collect();
        let open = self.db.open_broadcasts().await?;
        let window_open = |s: &BroadcastSettingsRow| {
            schedules
                .get(&s.timeline_id)
                .is_some_and(|sch| sch.is_active(now))
        };
        for s in &settings {
            let has_open = open
                .iter()
                .any(|b| b.destination_id == s.destination_id && b.timeline_id == s.timeline_id);
            if has_open || !window_open(s) || !linked.contains(&s.destination_id) {
                continue;
            }
            let end = schedules
                .get(&s.timeline_id)
                .and_then(|sch| sch.next_transition(now))
                .map(|t| rfc3339(t.at));
            let b = self
                .db
                .insert_broadcast(
                    s.destination_id,
                    &s.timeline_id,
                    &s.title,
                    &rfc3339(now),
                    end.as_deref(),
                )
                .await?;
            tracing::info!(destination = s.destination_id, timeline = %s.timeline_id, broadcast = b.id,
                "a schedule window opened; making its YouTube broadcast");
            self.publish_broadcast(b.id).await;
        }
        for b in self.db.open_broadcasts().await? {
            if !self.due(b.id) {
                continue;
            }
            let setting = settings
                .iter()
                .find(|s| s.destination_id == b.destination_id && s.timeline_id == b.timeline_id);
            // A window end already past is another window's: the appliance was off across the
            // boundary, so this broadcast is finished and the open window gets its own.
            let past = b
                .window_end
                .as_deref()
                .and_then(super::parse_time)
                .is_some_and(|end| end <= now);
            let active = !past && setting.is_some_and(window_open);
            if active {
                // Follows a schedule edited while its window is open (an end moved later).
                let end = schedules
                    .get(&b.timeline_id)
                    .and_then(|sch| sch.next_transition(now))
                    .map(|t| rfc3339(t.at));
                if end != b.window_end {
                    self.db
                        .set_broadcast_window_end(b.id, end.as_deref())
                        .await?;
                }
            }
            let result = if active {
                self.advance(&b, setting.expect("active implies settings"))
                    .await
            } else {
                self.finish(&b).await
            };
            match result {
                Ok(()) => {
                    self.backoff.lock().expect("backoff").remove(&b.id);
                }
                Err((text, Step::Gone)) => {
                    // The window (if still open) gets a new broadcast at the next look.
                    self.backoff.lock().expect("backoff").remove(&b.id);
                    let text =
                        format!("{text}; the broadcast is gone from YouTube and was given up");
                    tracing::warn!(destination = b.destination_id, broadcast = b.id, reason = %text,
                        "YouTube broadcast given up");
                    self.db
                        .set_broadcast_state(b.id, "failed", Some(&text))
                        .await?;
                    self.db
                        .set_youtube_link_error(b.destination_id, Some(&text))
                        .await?;
                    self.publish_broadcast(b.id).await;
                }
                Err((text, kind)) => {
                    self.failed(&b, &text, kind == Step::Transition).await?;
                }
            }
        }
        Ok(())
    }

    /// Whether a broadcast's next step may run (its backoff, if any, is over).
    fn due(&self, id: i64) -> bool {
        self.backoff
            .lock()
            .expect("backoff")
            .get(&id)
            .is_none_or(|(at, _)| *at <= tokio::time::Instant::now())
    }

    async fn failed(&self, b: &BroadcastRow, text: &str, transition: bool) -> Result<()> {
        let delay = {
            let mut map = self.backoff.lock().expect("backoff");
            let delay = map
                .get(&b.id)
                .map(|(_, d)| (*d * 2).min(MAX_BACKOFF))
                .unwrap_or(self.retry);
            map.insert(b.id, (tokio::time::Instant::now() + delay, delay));
            delay
        };
        tracing::warn!(
            destination = b.destination_id,
            broadcast = b.id,
            retry_in_ms = delay.as_millis() as u64,
            reason = text,
            "YouTube broadcast step failed"
        );
        self.db.set_broadcast_error(b.id, text, transition).await?;
        self.db
            .set_youtube_link_error(b.destination_id, Some(text))
            .await?;
        self.publish_broadcast(b.id).await;
        Ok(())
    }

    /// Tells browsers a broadcast changed, with its state and the problem (if any) in words.
    async fn publish_broadcast(&self, id: i64) {
        if let Ok(b) = self.db.broadcast(id).await {
            self.events.publish(
                "youtube_broadcast",
                json!({ "destination_id": b.destination_id, "id": b.id, "state": b.state,
                        "message": b.last_error }),
            );
        }
    }

    async fn set_state(
        &self,
        b: &BroadcastRow,
        state: &str,
        note: Option<&str>,
    ) -> Result<(), (String, Step)> {
        let local = |e: vs_base::Error| (e.message, Step::Failed);
        self.db
            .set_broadcast_state(b.id, state, note)
            .await
            .map_err(local)?;
        self.db
            .set_youtube_link_error(b.destination_id, None)
            .await
            .map_err(local)?;
        tracing::info!(
            destination = b.destination_id,
            broadcast = b.id,
            state,
            "YouTube broadcast"
        );
        self.publish_broadcast(b.id).await;
        Ok(())
    }

    /// One step forward while the window is open. Errors: the plain text, and whether it was
    /// a refused transition to live.
    async fn advance(
        &self,
        b: &BroadcastRow,
        s: &BroadcastSettingsRow,
    ) -> Result<(), (String, Step)> {
        let d = b.destination_id;
        match b.state.as_str() {
            "creating" => {
                let id = match &b.broadcast_id {
                    Some(id) => id.clone(),
                    None => {
                        let mut snippet = json!({
                            "title": s.title,
                            "description": s.description,
                            "scheduledStartTime": b.scheduled_start,
                        });
                        if let Some(end) = &b.window_end {
                            snippet["scheduledEndTime"] = json!(end);
                        }
                        let body = json!({
                            "snippet": snippet,
                            "status": {"privacyStatus": s.privacy, "selfDeclaredMadeForKids": false},
                            // Live is the appliance's decision (once YouTube sees data), and the
                            // end is the window's, not YouTube's: no auto start or stop, and no
                            // monitor stream (which would demand a `testing` step first).
                            "contentDetails": {
                                "enableAutoStart": false,
                                "enableAutoStop": false,
                                "monitorStream": {"enableMonitorStream": false},
                            },
                        });
                        let v = self
                            .api(
                                d,
                                Method::POST,
                                "liveBroadcasts",
                                &[("part", "id,snippet,status,contentDetails")],
                                || Body::Json(body.clone()),
                            )
                            .await
                            .map_err(plain("making the YouTube broadcast"))?;
                        let id = v["id"].as_str().unwrap_or_default().to_string();
                        if id.is_empty() {
                            return Err((
                                "YouTube made the broadcast but gave no id".into(),
                                Step::Failed,
                            ));
                        }
                        self.db
                            .set_broadcast_id(b.id, &id)
                            .await
                            .map_err(|e| (e.message, Step::Failed))?;
                        id
                    }
                };
                let stream = self
                    .ensure_stream(d)
                    .await
                    .map_err(plain("binding the destination to a YouTube stream"))?;
                self.api(
                    d,
                    Method::POST,
                    "liveBroadcasts/bind",
                    &[
                        ("id", &id),
                        ("part", "id,contentDetails"),
                        ("streamId", &stream),
                    ],
                    || Body::None,
                )
                .await
                .map_err(plain("binding the broadcast to the stream"))?;
                if let Some(category) = &s.category_id {
                    let body = json!({"id": id, "snippet": {
                        "title": s.title, "description": s.description, "categoryId": category}});
                    self.api(d, Method::PUT, "videos", &[("part", "snippet")], || {
                        Body::Json(body.clone())
                    })
                    .await
                    .map_err(plain("setting the broadcast's category"))?;
                }
                if let Some(asset) = s.thumbnail_asset_id {
                    let (meta, bytes) = self.assets.content(asset).await.map_err(|e| {
                        (
                            format!("reading the thumbnail image: {}", e.message),
                            Step::Failed,
                        )
                    })?;
                    self.api(
                        d,
                        Method::POST,
                        "thumbnails/set",
                        &[("videoId", &id), ("uploadType", "media")],
                        || Body::Media(meta.mime.clone(), bytes.clone()),
                    )
                    .await
                    .map_err(plain("setting the broadcast's thumbnail"))?;
                }
                self.set_state(b, "waiting", None).await
            }
            "waiting" => {
                let Some(id) = &b.broadcast_id else {
                    return Err(("the broadcast has no YouTube id".into(), Step::Failed));
                };
                let stream = self
                    .ensure_stream(d)
                    .await
                    .map_err(plain("checking the YouTube stream"))?;
                let v = self
                    .api(
                        d,
                        Method::GET,
                        "liveStreams",
                        &[("part", "id,status"), ("id", &stream)],
                        || Body::None,
                    )
                    .await
                    .map_err(plain("checking the YouTube stream"))?;
                let status = v["items"][0]["status"]["streamStatus"]
                    .as_str()
                    .unwrap_or("");
                if status != "active" {
                    // Not a failure: the program has not reached YouTube yet.
                    return Ok(());
                }
                match self
                    .api(
                        d,
                        Method::POST,
                        "liveBroadcasts/transition",
                        &[
                            ("broadcastStatus", "live"),
                            ("id", id),
                            ("part", "id,status"),
                        ],
                        || Body::None,
                    )
                    .await
                {
                    Ok(_) => self.set_state(b, "live", None).await,
                    Err(Fail::Api { reason, .. }) if reason == "redundantTransition" => {
                        self.set_state(b, "live", None).await
                    }
                    Err(f) => {
                        let kind = if gone(&f) {
                            Step::Gone
                        } else {
                            Step::Transition
                        };
                        Err((f.plain("taking the broadcast live (will retry)"), kind))
                    }
                }
            }
            _ => Ok(()),
        }
    }

    /// The window closed: complete a broadcast that went live; one that never did is deleted
    /// (an upcoming broadcast nobody will feed only clutters the channel) and marked cancelled.
    async fn finish(&self, b: &BroadcastRow) -> Result<(), (String, Step)> {
        let d = b.destination_id;
        let Some(id) = &b.broadcast_id else {
            return self
                .set_state(
                    b,
                    "cancelled",
                    Some("the window ended before the broadcast was made"),
                )
                .await;
        };
        let done = self
            .api(
                d,
                Method::POST,
                "liveBroadcasts/transition",
                &[
                    ("broadcastStatus", "complete"),
                    ("id", id),
                    ("part", "id,status"),
                ],
                || Body::None,
            )
            .await;
        match done {
            Ok(_) => self.set_state(b, "complete", None).await,
            Err(Fail::Api { reason, .. }) if reason == "redundantTransition" => {
                self.set_state(b, "complete", None).await
            }
            Err(Fail::Api { reason, .. }) if reason == "invalidTransition" && b.state != "live" => {
                self.api(d, Method::DELETE, "liveBroadcasts", &[("id", id)], || {
                    Body::None
                })
                .await
                .map_err(plain("deleting the unused broadcast"))?;
                self.set_state(b, "cancelled",
                    Some("the window ended before YouTube received the video; the unused broadcast was deleted"))
                    .await
            }
            Err(f) => Err(plain("completing the broadcast at the window's end")(f)),
        }
    }
}

/// How a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Tried again after the backoff.
    Failed,
    /// A refused transition to live: tried again, and counted.
    Transition,
    /// YouTube no longer has the broadcast (deleted in Studio): it is given up.
    Gone,
}

fn gone(f: &Fail) -> bool {
    matches!(f, Fail::Api { reason, .. } if reason == "liveBroadcastNotFound" || reason == "videoNotFound")
}

/// A failed step's error: its plain text and kind.
fn plain(doing: &'static str) -> impl Fn(Fail) -> (String, Step) {
    move |f| {
        let kind = if gone(&f) { Step::Gone } else { Step::Failed };
        (f.plain(doing), kind)
    }
}
