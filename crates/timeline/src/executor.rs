//! The executor: fires a compiled cue list at the program from one monotonic clock.
//!
//! Every cue is due at `anchor + (pass * duration + at - anchor_position)`, computed from the
//! moment play (or a jump) started, never by adding up sleeps: a late wake-up or a slow camera
//! delays that one cue, and the error does not carry into the next. Control calls are started
//! at their due time in cue order and then driven concurrently, so a PTZ command that takes a
//! second does not hold back the cut that follows it.
//!
//! The executor keeps what it believes is on the program (camera, overlays) and only sends
//! changes: a jump or a play from the middle sends exactly the difference to reach that
//! position, and a camera kept across the loop point is not taken again.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use utoipa::ToSchema;
pub use vs_base::clock::{Clock, TokioClock};
use vs_base::{Error, Result};

use crate::cue::{Action, CueList, OverlayShow};
use crate::model::Playback;

/// What the executor drives: the program feed (switching its input, compositing overlays)
/// and, through it, the PTZ cameras.
///
/// Calls due at the same instant are started in order (hide, slate/take, prepare, show) and
/// then run concurrently; an implementation that must see them in that order registers the
/// change before its first `.await`.
#[async_trait]
pub trait ProgramControl: Send + Sync + 'static {
    /// Puts a camera on air, moving it to `preset_id` first if needed.
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()>;
    /// Moves an off-air camera to a preset ahead of its take.
    async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()>;
    async fn show_overlay(&self, overlay: &OverlayShow) -> Result<()>;
    async fn hide_overlay(&self, overlay_id: i64) -> Result<()>;
    /// Nothing is scheduled on air: show the slate.
    async fn slate(&self) -> Result<()>;
    /// Whether cues can be played now (a program exists to play them through); asked before
    /// playback starts so that a start fails at once instead of at the first cue.
    async fn ready(&self) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayState {
    Stopped,
    Playing,
    /// A play-once timeline reached its end.
    Finished,
}

/// Where the executor is, pushed to the UI's playhead.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Position {
    pub state: PlayState,
    pub position_ms: i64,
    pub duration_ms: i64,
    /// Completed passes of a looping timeline.
    pub loop_index: u64,
    /// The video clip on air, if any.
    pub on_air_clip: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct ExecutorOptions {
    /// How often the position is published between cues, for a playhead that moves smoothly.
    pub publish_every: Duration,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            publish_every: Duration::from_millis(500),
        }
    }
}

enum Command {
    Play,
    Stop,
    Seek(i64),
    JumpToClip(String),
    Load(CueList),
}

type Ack = oneshot::Sender<Result<()>>;

/// A handle on a running executor task. Dropping it stops the task.
pub struct Executor {
    commands: mpsc::Sender<(Command, Ack)>,
    position: watch::Receiver<Position>,
    task: JoinHandle<()>,
}

impl Executor {
    /// Starts the executor task (on the current tokio runtime), stopped at position 0. Fails
    /// if the list cannot be played.
    pub fn spawn(
        cues: CueList,
        clock: Arc<dyn Clock>,
        control: Arc<dyn ProgramControl>,
        options: ExecutorOptions,
    ) -> Result<Executor> {
        check_list(&cues)?;
        let (tx, rx) = mpsc::channel(16);
        let (position_tx, position) = watch::channel(Position {
            state: PlayState::Stopped,
            position_ms: 0,
            duration_ms: cues.duration_ms,
            loop_index: 0,
            on_air_clip: None,
        });
        let runner = Runner {
            origin: clock.now(),
            clock,
            control,
            list: cues,
            state: PlayState::Stopped,
            anchor: Duration::ZERO,
            anchor_pos: 0,
            pass: 0,
            next: 0,
            loops_before: 0,
            paused_at: 0,
            program: ProgramState::default(),
            on_air_clip: None,
            inflight: InFlight::default(),
            position_tx,
            publish_every: options.publish_every.max(Duration::from_millis(10)),
            next_publish: Duration::ZERO,
        };
        let task = tokio::spawn(runner.run(rx));
        Ok(Executor {
            commands: tx,
            position,
            task,
        })
    }

    /// Plays from the current position (from the start after a play-once run finished).
    pub async fn play(&self) -> Result<()> {
        self.send(Command::Play).await
    }

    /// Stops firing cues and takes down the overlays the timeline showed; the camera on air
    /// stays, since the program never goes black.
    pub async fn stop(&self) -> Result<()> {
        self.send(Command::Stop).await
    }

    /// Moves to a position, playing on from there if playing.
    pub async fn seek(&self, position_ms: i64) -> Result<()> {
        self.send(Command::Seek(position_ms)).await
    }

    /// Moves to the start of a clip (video or overlay).
    pub async fn jump_to_clip(&self, clip_id: &str) -> Result<()> {
        self.send(Command::JumpToClip(clip_id.to_string())).await
    }

    /// Replaces the cue list (the timeline was edited), keeping the position.
    pub async fn load(&self, cues: CueList) -> Result<()> {
        check_list(&cues)?;
        self.send(Command::Load(cues)).await
    }

    /// The live position; `changed()` on it wakes at every cue and every publish interval.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.position.clone()
    }

    pub fn position(&self) -> Position {
        self.position.borrow().clone()
    }

    /// Ends the task after the control calls already started have finished.
    pub async fn shutdown(self) {
        drop(self.commands);
        let _ = self.task.await;
    }

    async fn send(&self, command: Command) -> Result<()> {
        let (ack, done) = oneshot::channel();
        let gone = || Error::invalid_state("the timeline executor has stopped");
        self.commands
            .send((command, ack))
            .await
            .map_err(|_| gone())?;
        done.await.map_err(|_| gone())?
    }
}

fn check_list(cues: &CueList) -> Result<()> {
    if cues.duration_ms <= 0 {
        return Err(Error::invalid(
            "duration",
            "a timeline without duration cannot be played",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq)]
enum OnAir {
    /// Nothing sent yet: whatever was there before the timeline.
    #[default]
    Unknown,
    Slate,
    Camera(i64, Option<i64>),
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ProgramState {
    on_air: OnAir,
    overlays: BTreeMap<i64, OverlayShow>,
}

type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Control calls under way, polled by the executor task itself so that they start in order
/// the moment they are issued.
#[derive(Default)]
struct InFlight(Vec<Call>);

impl InFlight {
    fn poll(&mut self, cx: &mut Context<'_>) {
        self.0
            .retain_mut(|call| call.as_mut().poll(cx).is_pending());
    }
}

enum Wake {
    Command(Option<(Command, Ack)>),
    Timer,
}

struct Runner {
    clock: Arc<dyn Clock>,
    /// The clock's instant at spawn: the executor's times (`anchor`, deadlines) are durations
    /// since it, so cue arithmetic stays in plain milliseconds.
    origin: tokio::time::Instant,
    control: Arc<dyn ProgramControl>,
    list: CueList,
    state: PlayState,
    /// Clock time at which the run (re)started at `anchor_pos`.
    anchor: Duration,
    anchor_pos: i64,
    /// Passes since the anchor; `next` indexes the next cue of that pass.
    pass: u64,
    next: usize,
    loops_before: u64,
    paused_at: i64,
    program: ProgramState,
    on_air_clip: Option<String>,
    inflight: InFlight,
    position_tx: watch::Sender<Position>,
    publish_every: Duration,
    next_publish: Duration,
}

impl Runner {
    async fn run(mut self, mut rx: mpsc::Receiver<(Command, Ack)>) {
        loop {
            let deadline = self.next_deadline();
            let clock = self.clock.clone();
            let origin = self.origin;
            let mut sleep = deadline.map(|d| clock.sleep_until(origin + d));
            let inflight = &mut self.inflight;
            let wake = std::future::poll_fn(|cx| {
                inflight.poll(cx);
                if let Poll::Ready(cmd) = rx.poll_recv(cx) {
                    return Poll::Ready(Wake::Command(cmd));
                }
                match sleep.as_mut().map(|s| s.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Wake::Timer),
                    _ => Poll::Pending,
                }
            })
            .await;
            drop(sleep);
            match wake {
                Wake::Timer => self.on_timer(),
                Wake::Command(Some((command, ack))) => {
                    let _ = ack.send(self.handle(command));
                }
                Wake::Command(None) => break,
            }
        }
        let inflight = &mut self.inflight;
        std::future::poll_fn(|cx| {
            inflight.poll(cx);
            if inflight.0.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    fn d(&self) -> i64 {
        self.list.duration_ms
    }

    fn looping(&self) -> bool {
        self.list.playback == Playback::Loop
    }

    /// Clock time since the executor started.
    fn now(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.origin)
    }

    /// Clock time of a point `pass` passes after the anchor, at `at` into the timeline.
    fn due(&self, pass: u64, at: i64) -> Duration {
        let offset = pass as i128 * self.d() as i128 + at as i128 - self.anchor_pos as i128;
        self.anchor + Duration::from_millis(offset.max(0) as u64)
    }

    fn next_deadline(&self) -> Option<Duration> {
        if self.state != PlayState::Playing {
            return None;
        }
        let event = match self.list.cues.get(self.next) {
            Some(cue) => self.due(self.pass, cue.at_ms),
            // Play-once: the end of the timeline is the last event.
            None => self.due(self.pass, self.d()),
        };
        Some(event.min(self.next_publish))
    }

    fn elapsed_ms(&self) -> i64 {
        let since = self.now().saturating_sub(self.anchor);
        self.anchor_pos + since.as_millis() as i64
    }

    fn publish(&mut self) {
        let (position_ms, loop_index) = match self.state {
            PlayState::Playing => {
                let total = self.elapsed_ms();
                if self.looping() {
                    (
                        total.rem_euclid(self.d()),
                        self.loops_before + total.div_euclid(self.d()) as u64,
                    )
                } else {
                    (total.min(self.d()), self.loops_before)
                }
            }
            PlayState::Stopped => (self.paused_at, self.loops_before),
            PlayState::Finished => (self.d(), self.loops_before),
        };
        let position = Position {
            state: self.state,
            position_ms,
            duration_ms: self.d(),
            loop_index,
            on_air_clip: self.on_air_clip.clone(),
        };
        self.position_tx.send_replace(position);
        if self.state == PlayState::Playing {
            // The next publish is on the anchor's grid too, so the playhead does not drift.
            let since = self.now().saturating_sub(self.anchor);
            let every = self.publish_every.as_nanos();
            let next = (since.as_nanos() / every + 1) * every;
            self.next_publish =
                self.anchor + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX));
        }
    }

    fn on_timer(&mut self) {
        let now = self.now();
        let mut due = Vec::new();
        let mut first_due = now;
        let mut finished = false;
        loop {
            match self.list.cues.get(self.next) {
                Some(cue) if self.due(self.pass, cue.at_ms) <= now => {
                    if due.is_empty() {
                        first_due = self.due(self.pass, cue.at_ms);
                    }
                    due.push(cue.clone());
                    self.next += 1;
                    if self.next == self.list.cues.len() && self.looping() {
                        self.next = 0;
                        self.pass += 1;
                    }
                }
                Some(_) => break,
                None => {
                    let end_passed = self.due(self.pass, self.d()) <= now;
                    if self.looping() {
                        // Only an empty list gets here; passes still count.
                        self.pass += u64::from(end_passed);
                    } else {
                        finished = end_passed;
                    }
                    break;
                }
            }
        }
        if !due.is_empty() {
            let late = now.saturating_sub(first_due);
            if late > Duration::from_millis(100) {
                tracing::warn!(
                    late_ms = late.as_millis() as u64,
                    "timeline cues fired late"
                );
            }
            self.apply(&due, false);
        }
        if finished {
            self.state = PlayState::Finished;
        }
        self.publish();
    }

    fn handle(&mut self, command: Command) -> Result<()> {
        match command {
            Command::Play => {
                if self.state == PlayState::Playing {
                    return Ok(());
                }
                if self.state == PlayState::Finished {
                    self.paused_at = 0;
                }
                self.state = PlayState::Playing;
                self.start_at(self.paused_at);
            }
            Command::Stop => {
                if self.state == PlayState::Playing {
                    self.paused_at = self.current_position();
                    self.count_passes();
                    self.state = PlayState::Stopped;
                    let mut desired = self.program.clone();
                    desired.overlays.clear();
                    self.transition(desired, Vec::new());
                }
                self.publish();
            }
            Command::Seek(p) => self.seek(p)?,
            Command::JumpToClip(id) => {
                let at = self
                    .list
                    .cues
                    .iter()
                    .find(|c| {
                        c.clip_id.as_deref() == Some(id.as_str())
                            && matches!(c.action, Action::Take { .. } | Action::ShowOverlay(_))
                    })
                    .map(|c| c.at_ms)
                    .ok_or_else(|| Error::not_found(format!("clip '{id}'")))?;
                self.seek(at)?;
            }
            Command::Load(list) => {
                let p = self.current_position();
                if self.state == PlayState::Playing {
                    self.count_passes();
                }
                self.list = list;
                let p = if p >= self.d() && self.looping() {
                    0
                } else {
                    p.min(self.d())
                };
                match self.state {
                    PlayState::Playing => self.start_at(p),
                    _ => {
                        self.paused_at = p;
                        self.publish();
                    }
                }
            }
        }
        Ok(())
    }

    /// Banks the passes completed since the anchor before it moves, so `loop_index` keeps
    /// counting across jumps and pauses.
    fn count_passes(&mut self) {
        if self.looping() {
            self.loops_before += self.elapsed_ms().div_euclid(self.d()).max(0) as u64;
        }
    }

    fn current_position(&self) -> i64 {
        match self.state {
            PlayState::Playing if self.looping() => self.elapsed_ms().rem_euclid(self.d()),
            PlayState::Playing => self.elapsed_ms().min(self.d()),
            PlayState::Stopped => self.paused_at,
            PlayState::Finished => self.d(),
        }
    }

    fn seek(&mut self, p: i64) -> Result<()> {
        if p < 0 || p > self.d() {
            return Err(Error::invalid(
                "position_ms",
                format!("must be from 0 to {} ms", self.d()),
            ));
        }
        let p = if p == self.d() && self.looping() {
            0
        } else {
            p
        };
        match self.state {
            PlayState::Playing => {
                self.count_passes();
                self.start_at(p);
            }
            _ => {
                self.state = PlayState::Stopped;
                self.paused_at = p;
                self.publish();
            }
        }
        Ok(())
    }

    /// (Re)anchors the run at position `p`, bringing the program to the state the timeline has
    /// there.
    fn start_at(&mut self, p: i64) {
        self.anchor = self.now();
        self.anchor_pos = p;
        self.pass = 0;
        self.next_publish = self.anchor;
        let cues = &self.list.cues;
        let passed: Vec<_> = cues.iter().filter(|c| c.at_ms <= p).cloned().collect();
        self.next = cues.iter().position(|c| c.at_ms > p).unwrap_or(cues.len());
        let count = cues.len();
        self.apply(&passed, true);
        if self.next == count && self.looping() {
            self.next = 0;
            self.pass = 1;
        }
        if !self.looping() && p >= self.d() {
            self.state = PlayState::Finished;
        }
        self.publish();
    }

    /// Folds cues into the wanted program state and sends the difference. `catch_up` means the
    /// cues are the past of a position being jumped to: a preset move is then only still
    /// useful if its take is yet to come.
    fn apply(&mut self, cues: &[crate::cue::Cue], catch_up: bool) {
        let p = self.anchor_pos;
        let mut desired = self.program.clone();
        if catch_up {
            desired.overlays.clear();
        }
        let mut on_air_clip = self.on_air_clip.clone();
        let mut prepares = Vec::new();
        for (i, cue) in cues.iter().enumerate() {
            match &cue.action {
                Action::Take {
                    camera_id,
                    preset_id,
                } => {
                    desired.on_air = OnAir::Camera(*camera_id, *preset_id);
                    on_air_clip = cue.clip_id.clone();
                }
                Action::Slate => {
                    desired.on_air = OnAir::Slate;
                    on_air_clip = None;
                }
                Action::ShowOverlay(o) => {
                    desired.overlays.insert(o.overlay_id, o.clone());
                }
                Action::HideOverlay { overlay_id } => {
                    desired.overlays.remove(overlay_id);
                }
                Action::Prepare {
                    camera_id,
                    preset_id,
                    take_at_ms,
                } => {
                    let pending = if catch_up {
                        // Still before its take (the take may be in the next pass).
                        p < *take_at_ms || *take_at_ms < cue.at_ms
                    } else {
                        // When cues were collapsed after a stall, a take that is already
                        // due makes its preparation pointless.
                        !cues[i + 1..].iter().any(|c| {
                            matches!(c.action, Action::Take { camera_id: c2, .. } if c2 == *camera_id)
                        })
                    };
                    if pending {
                        prepares.push((*camera_id, *preset_id));
                    }
                }
            }
        }
        self.on_air_clip = on_air_clip;
        self.transition(desired, prepares);
    }

    fn transition(&mut self, desired: ProgramState, prepares: Vec<(i64, i64)>) {
        let mut calls: Vec<Call> = Vec::new();
        let control = &self.control;
        for id in self.program.overlays.keys() {
            if !desired.overlays.contains_key(id) {
                let (c, id) = (control.clone(), *id);
                calls.push(Box::pin(async move {
                    report("hide overlay", c.hide_overlay(id).await)
                }));
            }
        }
        if desired.on_air != self.program.on_air {
            match desired.on_air {
                OnAir::Camera(camera, preset) => {
                    let c = control.clone();
                    calls.push(Box::pin(async move {
                        report("take", c.take(camera, preset).await)
                    }));
                }
                OnAir::Slate => {
                    let c = control.clone();
                    calls.push(Box::pin(async move { report("slate", c.slate().await) }));
                }
                OnAir::Unknown => {}
            }
        }
        for (camera, preset) in prepares {
            // Never move the camera that is on air.
            if matches!(desired.on_air, OnAir::Camera(c, _) if c == camera) {
                continue;
            }
            let c = control.clone();
            calls.push(Box::pin(async move {
                report("prepare", c.prepare(camera, preset).await)
            }));
        }
        let mut shows: Vec<&OverlayShow> = desired
            .overlays
            .values()
            .filter(|o| self.program.overlays.get(&o.overlay_id) != Some(*o))
            .collect();
        shows.sort_by_key(|o| o.layer);
        for o in shows {
            let (c, o) = (control.clone(), o.clone());
            calls.push(Box::pin(async move {
                report("show overlay", c.show_overlay(&o).await)
            }));
        }
        self.program = desired;
        self.inflight.0.extend(calls);
    }
}

fn report(what: &str, result: Result<()>) {
    // The timeline goes on: a camera that fails is the program's to cover with the slate.
    if let Err(e) = result {
        tracing::warn!(error = %e, "timeline {what} failed");
    }
}
