//! The timeline player: plays one timeline at a time through the program feed with the
//! [`Executor`], keeps the last cues it sent (and what the program answered) for the status
//! page, and publishes where it is for the playhead. What it plays through is a
//! [`ProgramControl`]; without one it refuses to play rather than pretend.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Result};

use crate::cue::{CueList, OverlayShow};
use crate::executor::{Clock, Executor, ExecutorOptions, PlayState, Position, ProgramControl};

/// A time as the appliance's API writes it (RFC 3339, milliseconds, UTC).
fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A change the player sent to the program, kept for the status page and the log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FiredCue {
    pub at: String,
    /// take, prepare, show_overlay, hide_overlay, slate
    pub action: String,
    pub camera_id: Option<i64>,
    pub preset_id: Option<i64>,
    pub overlay_id: Option<i64>,
    /// What the program answered, when it refused.
    pub error: Option<String>,
}

/// Where the player is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlayerStatus {
    /// stopped, playing, finished (a play-once timeline reached its end)
    pub state: String,
    pub timeline_id: Option<String>,
    pub timeline_name: Option<String>,
    pub position_ms: i64,
    pub duration_ms: i64,
    /// Completed passes of a looping timeline.
    pub loop_index: u64,
    /// The video clip on air.
    pub on_air_clip: Option<String>,
    pub started_at: Option<String>,
    /// Whether a program feed is configured. Without one nothing can play.
    pub program_available: bool,
    /// The last changes sent to the program, oldest first.
    pub recent_cues: Vec<FiredCue>,
}

impl PlayerStatus {
    fn stopped(program_available: bool) -> Self {
        PlayerStatus {
            state: "stopped".into(),
            timeline_id: None,
            timeline_name: None,
            position_ms: 0,
            duration_ms: 0,
            loop_index: 0,
            on_air_clip: None,
            started_at: None,
            program_available,
            recent_cues: Vec::new(),
        }
    }
}

/// What to play.
#[derive(Debug, Clone)]
pub struct PlayRequest {
    pub timeline_id: String,
    pub timeline_name: String,
    /// Where the program must run while the timeline plays.
    pub destination_ids: Vec<i64>,
    pub cues: CueList,
}

/// Plays timelines through the program feed. The server only talks to this, so the program it
/// plays through (or a fake, in tests) plugs in where the appliance is assembled.
#[async_trait]
pub trait TimelinePlayer: Send + Sync + 'static {
    /// Plays a timeline from its start, replacing whatever played.
    async fn play(&self, request: PlayRequest) -> Result<PlayerStatus>;
    /// The playing timeline was edited: go on with its new cues from the same position.
    async fn reload(&self, timeline_id: &str, cues: CueList) -> Result<()>;
    async fn jump_to_clip(&self, clip_id: &str) -> Result<PlayerStatus>;
    async fn stop(&self) -> Result<PlayerStatus>;
    fn status(&self) -> PlayerStatus;
    /// Wakes at every cue and a few times a second while playing.
    fn subscribe(&self) -> watch::Receiver<PlayerStatus>;
}

const RECENT_CUES: usize = 32;

#[derive(Default)]
struct CueLog(Mutex<VecDeque<FiredCue>>);

impl CueLog {
    fn push(&self, cue: FiredCue) {
        let mut log = self.0.lock().expect("cue log lock");
        if log.len() == RECENT_CUES {
            log.pop_front();
        }
        log.push_back(cue);
    }

    fn recent(&self) -> Vec<FiredCue> {
        self.0
            .lock()
            .expect("cue log lock")
            .iter()
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.0.lock().expect("cue log lock").clear();
    }
}

/// Passes each change to the program and records it (and logs it), so what a timeline did is
/// visible whatever the program is.
struct RecordingProgram {
    inner: Arc<dyn ProgramControl>,
    log: Arc<CueLog>,
    clock: Arc<dyn Clock>,
}

impl RecordingProgram {
    fn stamp(&self) -> String {
        rfc3339(self.clock.wall())
    }

    fn record(
        &self,
        action: &str,
        camera_id: Option<i64>,
        preset_id: Option<i64>,
        overlay_id: Option<i64>,
        result: &Result<()>,
    ) {
        let error = result.as_ref().err().map(|e| e.message.clone());
        tracing::info!(
            action,
            ?camera_id,
            ?preset_id,
            ?overlay_id,
            ?error,
            "timeline cue"
        );
        self.log.push(FiredCue {
            at: self.stamp(),
            action: action.into(),
            camera_id,
            preset_id,
            overlay_id,
            error,
        });
    }
}

#[async_trait]
impl ProgramControl for RecordingProgram {
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()> {
        let r = self.inner.take(camera_id, preset_id).await;
        self.record("take", Some(camera_id), preset_id, None, &r);
        r
    }

    async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()> {
        let r = self.inner.prepare(camera_id, preset_id).await;
        self.record("prepare", Some(camera_id), Some(preset_id), None, &r);
        r
    }

    async fn show_overlay(&self, overlay: &OverlayShow) -> Result<()> {
        let r = self.inner.show_overlay(overlay).await;
        self.record("show_overlay", None, None, Some(overlay.overlay_id), &r);
        r
    }

    async fn hide_overlay(&self, overlay_id: i64) -> Result<()> {
        let r = self.inner.hide_overlay(overlay_id).await;
        self.record("hide_overlay", None, None, Some(overlay_id), &r);
        r
    }

    async fn slate(&self) -> Result<()> {
        let r = self.inner.slate().await;
        self.record("slate", None, None, None, &r);
        r
    }
}

struct Playing {
    timeline_id: String,
    executor: Executor,
    forward: tokio::task::JoinHandle<()>,
}

/// The player over the [`Executor`]: one monotonic clock, cues sent to a
/// [`ProgramControl`]. Without a program it refuses to play rather than pretend.
pub struct ExecutorPlayer {
    program: Option<Arc<dyn ProgramControl>>,
    clock: Arc<dyn Clock>,
    log: Arc<CueLog>,
    playing: tokio::sync::Mutex<Option<Playing>>,
    status: Arc<watch::Sender<PlayerStatus>>,
}

impl ExecutorPlayer {
    pub fn new(program: Option<Arc<dyn ProgramControl>>, clock: Arc<dyn Clock>) -> Self {
        let available = program.is_some();
        ExecutorPlayer {
            program,
            clock,
            log: Default::default(),
            playing: Default::default(),
            status: Arc::new(watch::channel(PlayerStatus::stopped(available)).0),
        }
    }

    async fn end(&self, playing: Playing) {
        if let Err(e) = playing.executor.stop().await {
            tracing::warn!(error = %e, "stopping the timeline executor failed");
        }
        playing.executor.shutdown().await;
        // The forwarder ends with the executor; waiting for it keeps its last word from
        // landing after the "stopped" the caller publishes next.
        let _ = playing.forward.await;
    }
}

fn status_from(p: &Position, id: &str, name: &str, started_at: &str, log: &CueLog) -> PlayerStatus {
    PlayerStatus {
        state: match p.state {
            PlayState::Stopped => "stopped",
            PlayState::Playing => "playing",
            PlayState::Finished => "finished",
        }
        .into(),
        timeline_id: Some(id.into()),
        timeline_name: Some(name.into()),
        position_ms: p.position_ms,
        duration_ms: p.duration_ms,
        loop_index: p.loop_index,
        on_air_clip: p.on_air_clip.clone(),
        started_at: Some(started_at.into()),
        program_available: true,
        recent_cues: log.recent(),
    }
}

#[async_trait]
impl TimelinePlayer for ExecutorPlayer {
    async fn play(&self, request: PlayRequest) -> Result<PlayerStatus> {
        let Some(program) = self.program.clone() else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the program feed is not available yet: this appliance cannot play a timeline \
                 until its program encoder is configured",
            ));
        };
        program.ready().await?;
        let mut playing = self.playing.lock().await;
        if let Some(old) = playing.take() {
            self.end(old).await;
        }
        self.log.clear();
        let recorder = Arc::new(RecordingProgram {
            inner: program,
            log: self.log.clone(),
            clock: self.clock.clone(),
        });
        let executor = Executor::spawn(
            request.cues,
            self.clock.clone(),
            recorder,
            ExecutorOptions::default(),
        )?;
        executor.play().await?;
        let started_at = rfc3339(self.clock.wall());
        let mut rx = executor.subscribe();
        let (id, name, log, tx) = (
            request.timeline_id.clone(),
            request.timeline_name.clone(),
            self.log.clone(),
            self.status.clone(),
        );
        let first = status_from(&rx.borrow_and_update(), &id, &name, &started_at, &log);
        self.status.send_replace(first.clone());
        let forward = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let s = status_from(&rx.borrow_and_update(), &id, &name, &started_at, &log);
                tx.send_replace(s);
            }
        });
        tracing::info!(timeline = %request.timeline_id, destinations = ?request.destination_ids, "timeline playing");
        *playing = Some(Playing {
            timeline_id: request.timeline_id,
            executor,
            forward,
        });
        Ok(first)
    }

    async fn reload(&self, timeline_id: &str, cues: CueList) -> Result<()> {
        let playing = self.playing.lock().await;
        match playing.as_ref() {
            Some(p) if p.timeline_id == timeline_id => p.executor.load(cues).await,
            _ => Ok(()),
        }
    }

    async fn jump_to_clip(&self, clip_id: &str) -> Result<PlayerStatus> {
        let playing = self.playing.lock().await;
        let Some(p) = playing.as_ref() else {
            return Err(Error::invalid_state("no timeline is playing"));
        };
        p.executor
            .jump_to_clip(clip_id)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => Error::invalid(
                    "clip_id",
                    format!("the playing timeline has no clip '{clip_id}'"),
                ),
                _ => e,
            })?;
        Ok(self.status())
    }

    async fn stop(&self) -> Result<PlayerStatus> {
        let mut playing = self.playing.lock().await;
        if let Some(old) = playing.take() {
            tracing::info!(timeline = %old.timeline_id, "timeline stopped");
            self.end(old).await;
        }
        let mut s = PlayerStatus::stopped(self.program.is_some());
        s.recent_cues = self.log.recent();
        self.status.send_replace(s.clone());
        Ok(s)
    }

    fn status(&self) -> PlayerStatus {
        self.status.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<PlayerStatus> {
        self.status.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cue::{compile, CompileOptions};
    use crate::executor::TokioClock;
    use crate::model::{Clip, Playback, Timeline, Track, TrackKind};

    /// A program that records the calls it gets and refuses takes of camera 13.
    #[derive(Default)]
    struct Program {
        calls: Mutex<Vec<String>>,
        not_ready: bool,
    }

    #[async_trait]
    impl ProgramControl for Program {
        async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("take {camera_id} {preset_id:?}"));
            if camera_id == 13 {
                return Err(Error::invalid_state("camera 13 is unlucky"));
            }
            Ok(())
        }
        async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("prepare {camera_id} {preset_id}"));
            Ok(())
        }
        async fn show_overlay(&self, o: &OverlayShow) -> Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("show {}", o.overlay_id));
            Ok(())
        }
        async fn hide_overlay(&self, overlay_id: i64) -> Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("hide {overlay_id}"));
            Ok(())
        }
        async fn slate(&self) -> Result<()> {
            self.calls.lock().unwrap().push("slate".into());
            Ok(())
        }
        async fn ready(&self) -> Result<()> {
            if self.not_ready {
                return Err(Error::invalid_state("no program is configured"));
            }
            Ok(())
        }
    }

    /// Ten seconds: camera 1, then camera 13 (refused) from 5 s.
    fn request(playback: Playback) -> PlayRequest {
        let mut t = Timeline::new("Pier", 10_000);
        t.playback = playback;
        let mut v = Track::new(TrackKind::Video, "Cameras");
        v.clips = vec![
            Clip::camera("a", 0, 5_000, 1, None),
            Clip::camera("b", 5_000, 10_000, 13, None),
        ];
        t.tracks = vec![v];
        PlayRequest {
            timeline_id: "pier".into(),
            timeline_name: "Pier".into(),
            destination_ids: vec![],
            cues: compile(&t, &CompileOptions::default()),
        }
    }

    fn player(program: Option<Arc<Program>>) -> ExecutorPlayer {
        ExecutorPlayer::new(
            program.map(|p| p as Arc<dyn ProgramControl>),
            Arc::new(TokioClock::new()),
        )
    }

    #[tokio::test]
    async fn without_a_program_nothing_plays() {
        let p = player(None);
        assert!(!p.status().program_available);
        let e = p.play(request(Playback::Loop)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(p.status().state, "stopped");
        // A program that is not ready refuses before anything is sent.
        let program = Arc::new(Program {
            not_ready: true,
            ..Default::default()
        });
        let p = player(Some(program.clone()));
        assert!(p.play(request(Playback::Loop)).await.is_err());
        assert!(program.calls.lock().unwrap().is_empty());
        assert_eq!(p.status().state, "stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn plays_records_the_cues_and_stops() {
        let program = Arc::new(Program::default());
        let p = player(Some(program.clone()));
        let mut changes = p.subscribe();
        let first = p.play(request(Playback::Loop)).await.unwrap();
        assert_eq!(first.state, "playing");
        assert_eq!(first.timeline_id.as_deref(), Some("pier"));
        assert!(first.program_available);
        changes.changed().await.unwrap();

        tokio::time::sleep(Duration::from_millis(6_000)).await;
        let s = p.status();
        assert_eq!(s.on_air_clip.as_deref(), Some("b"));
        assert!((5_500..=6_000).contains(&s.position_ms), "{s:?}");
        let cues: Vec<(String, Option<i64>, bool)> = s
            .recent_cues
            .iter()
            .map(|c| (c.action.clone(), c.camera_id, c.error.is_some()))
            .collect();
        assert_eq!(
            cues,
            [
                ("take".to_string(), Some(1), false),
                ("take".to_string(), Some(13), true)
            ]
        );
        // What the program answered is kept with the cue; every cue has its time.
        assert_eq!(
            s.recent_cues[1].error.as_deref(),
            Some("camera 13 is unlucky")
        );
        assert!(s.recent_cues.iter().all(|c| c.at.ends_with('Z')));

        let e = p.jump_to_clip("nope").await.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("clip_id"));
        let s = p.jump_to_clip("a").await.unwrap();
        assert_eq!(s.state, "playing");

        let stopped = p.stop().await.unwrap();
        assert_eq!(stopped.state, "stopped");
        assert_eq!(stopped.timeline_id, None);
        // The log of what was sent survives the stop, for the status page.
        assert!(stopped.recent_cues.len() >= 2);
        let calls = program.calls.lock().unwrap().len();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(
            program.calls.lock().unwrap().len(),
            calls,
            "nothing after stop"
        );
        assert!(p.jump_to_clip("a").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_play_once_timeline_finishes_and_a_reload_of_another_is_ignored() {
        let program = Arc::new(Program::default());
        let p = player(Some(program.clone()));
        p.play(request(Playback::Once)).await.unwrap();
        // An edit of a timeline that does not play changes nothing.
        let other = request(Playback::Loop);
        p.reload("another", other.cues).await.unwrap();
        tokio::time::sleep(Duration::from_secs(11)).await;
        let s = p.status();
        assert_eq!((s.state.as_str(), s.position_ms), ("finished", 10_000));
        // Playing again replaces the run and clears its log.
        p.play(request(Playback::Once)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(p.status().recent_cues.len(), 1);
        p.stop().await.unwrap();
    }
}
