//! One actor (a tokio task) per child process: starts it, watches its progress, restarts it
//! with backoff when it dies or stalls, and stops it without leaving zombies or orphans.
//!
//! States: `Idle → Starting → Running → Backoff → Starting …`, plus `Failed` (gave up) and
//! `Stopped`. A live process is not a healthy one: a run that stops making progress (frame
//! count and output time both frozen) for `stall_timeout` is killed and restarted, and so is a
//! run that shows no progress at all within `startup_timeout`.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};
use vs_base::{Error, ErrorKind, Result};

use crate::backoff::BackoffPolicy;
use crate::clock::{Clock, TokioClock};
use crate::progress::Progress;
use crate::spawner::{BoxRead, BoxWrite, ChildControl, Exit, ProcessSpec, Spawner, TokioSpawner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, never started.
    Idle,
    /// Spawned; waiting for the first progress block.
    Starting,
    /// Progress seen (or, without a progress source, spawned).
    Running,
    /// The last run failed; waiting before the next start.
    Backoff,
    /// Gave up: the program cannot be started, or too many consecutive failures. A `Start`
    /// command tries again.
    Failed,
    /// Stopped on request or at shutdown.
    Stopped,
}

impl State {
    /// The API's name of the state (as serialized): `idle`, `starting`, `running`, `backoff`,
    /// `failed`, `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Failed => "failed",
            State::Stopped => "stopped",
        }
    }
}

/// Timings and policy of one supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Longest wait for the first progress block of a run.
    pub startup_timeout: Duration,
    /// Longest time without the frame count or output time advancing.
    pub stall_timeout: Duration,
    /// Total time a stop may take: `q`/SIGINT first, SIGINT again at half time, then SIGKILL of
    /// the process group.
    pub stop_timeout: Duration,
    pub backoff: BackoffPolicy,
    /// Give up (state `Failed`) after this many consecutive failed runs; `None` retries forever
    /// (right for cameras, which come back). A run lasting `backoff.reset_after` resets the
    /// count.
    pub max_consecutive_failures: Option<u32>,
    /// Whether exit code 0 is restarted like a failure (long-lived streams) or ends in
    /// `Stopped` (finite jobs).
    pub restart_on_clean_exit: bool,
    /// How many recent stderr lines are kept to explain a failure.
    pub stderr_lines: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            startup_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(5),
            backoff: BackoffPolicy::default(),
            max_consecutive_failures: None,
            restart_on_clean_exit: true,
            stderr_lines: 40,
        }
    }
}

/// The injected dependencies: real ones in the appliance, fakes in tests.
#[derive(Clone)]
pub struct Deps {
    pub spawner: Arc<dyn Spawner>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    pub fn real() -> Self {
        Deps {
            spawner: Arc::new(TokioSpawner),
            clock: Arc::new(TokioClock),
        }
    }
}

/// The appliance's shutdown: `graceful` stops children politely (bounded by `stop_timeout`),
/// `immediate` (a second SIGTERM) kills them at once. Both end the actor.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub graceful: CancellationToken,
    pub immediate: CancellationToken,
}

impl From<CancellationToken> for Shutdown {
    fn from(graceful: CancellationToken) -> Self {
        Shutdown {
            graceful,
            immediate: CancellationToken::new(),
        }
    }
}

/// A snapshot published on the watch channel at every change and every progress block.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub state: State,
    pub pid: Option<u32>,
    /// Wall time the current run was spawned.
    pub since: Option<SystemTime>,
    /// Monotonic start of the current run, for computing a fresh uptime.
    #[serde(skip)]
    pub started_at: Option<Instant>,
    /// Age of the current run when this snapshot was published.
    pub uptime: Duration,
    /// The latest progress block of the current run.
    pub progress: Option<Progress>,
    /// Number of runs spawned after the first one since the last `Start`, for any reason.
    pub restarts: u32,
    /// Failed runs in a row (reset by a stable run or a `Start`).
    pub consecutive_failures: u32,
    /// Why the last run ended badly, with its last meaningful stderr lines; redacted. Kept
    /// through later healthy runs so the cause of a restart stays visible.
    pub last_error: Option<String>,
    /// The delay of the current backoff.
    pub backoff: Option<Duration>,
    /// Counts spawns over the supervisor's life; matches `MediaIo::run`.
    pub run: u64,
}

impl Status {
    pub(crate) fn new(name: String) -> Self {
        Status {
            name,
            state: State::Idle,
            pid: None,
            since: None,
            started_at: None,
            uptime: Duration::ZERO,
            progress: None,
            restarts: 0,
            consecutive_failures: 0,
            last_error: None,
            backoff: None,
            run: 0,
        }
    }

    /// Uptime of the current run at `now` (from the same clock as the supervisor's).
    pub fn uptime_at(&self, now: Instant) -> Duration {
        self.started_at
            .map(|s| now.saturating_duration_since(s))
            .unwrap_or_default()
    }

    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Starting | State::Running)
    }
}

/// The media pipes of one run, handed to the owner of the supervisor. A new one arrives for
/// every run (the previous pipes end when their process dies).
pub struct MediaIo {
    pub run: u64,
    pub pid: Option<u32>,
    /// With `StdinMode::Media`.
    pub stdin: Option<BoxWrite>,
    /// With `StdoutMode::Media`.
    pub stdout: Option<BoxRead>,
    /// With `ProcessSpec::extra_input`.
    pub extra_input: Option<BoxWrite>,
}

impl std::fmt::Debug for MediaIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaIo")
            .field("run", &self.run)
            .field("pid", &self.pid)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("extra_input", &self.extra_input.is_some())
            .finish()
    }
}

#[derive(Debug)]
pub enum Command {
    /// From `Idle`, `Stopped` or `Failed`: start now (counters reset). From `Backoff`: skip
    /// the wait. Otherwise nothing.
    Start,
    /// Stop the child (if any) and stay `Stopped`.
    Stop,
    /// Stop the child (if any) and start again at once, without backoff.
    Restart,
    /// Replace the spec; a running child is restarted with it, a waiting one uses it next.
    UpdateSpec(Box<ProcessSpec>),
}

struct Envelope {
    cmd: Command,
    done: Option<oneshot::Sender<()>>,
}

/// Sends commands to one supervisor and reads its status. Cheap to clone; the actor stops its
/// child and ends when every handle is dropped.
#[derive(Clone)]
pub struct SupervisorHandle {
    tx: mpsc::Sender<Envelope>,
    status: watch::Receiver<Status>,
}

/// What `supervise` returns.
pub struct Supervised {
    pub handle: SupervisorHandle,
    /// The media pipes of each run (see `MediaIo`), newest last; compare `MediaIo::run` with
    /// `Status::run` to skip stale ones. Read it promptly: when 4 runs are pending, a new run's
    /// pipes are closed (and that run soon fails). Ignore it if the spec uses no media pipe.
    pub media: mpsc::Receiver<MediaIo>,
    /// The actor; it ends after shutdown or when every handle is dropped, child reaped.
    pub task: JoinHandle<()>,
}

/// Starts the actor for `spec`, in state `Idle`; send `Start` to run the process.
pub fn supervise(
    spec: ProcessSpec,
    config: SupervisorConfig,
    deps: Deps,
    shutdown: impl Into<Shutdown>,
) -> Supervised {
    let (tx, rx) = mpsc::channel(16);
    let (status_tx, status) = watch::channel(Status::new(spec.name.clone()));
    let (media_tx, media) = mpsc::channel(4);
    let actor = Actor {
        spec,
        config,
        spawner: deps.spawner,
        clock: deps.clock,
        shutdown: shutdown.into(),
        rx,
        status_tx,
        media_tx,
        status: None,
        failures: 0,
        backoff_until: None,
        after_spawn: Vec::new(),
    };
    let task = tokio::spawn(actor.run());
    Supervised {
        handle: SupervisorHandle { tx, status },
        media,
        task,
    }
}

impl SupervisorHandle {
    /// Queues a command without waiting for it to take effect.
    pub async fn send(&self, cmd: Command) -> Result<()> {
        self.tx
            .send(Envelope { cmd, done: None })
            .await
            .map_err(|_| self.gone())
    }

    /// Sends a command and waits until it took effect: for `Stop`, until the child is reaped;
    /// for the others, until the next spawn was attempted (or nothing needed doing).
    pub async fn call(&self, cmd: Command) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Envelope {
                cmd,
                done: Some(done),
            })
            .await
            .map_err(|_| self.gone())?;
        rx.await.map_err(|_| self.gone())
    }

    pub async fn start(&self) -> Result<()> {
        self.call(Command::Start).await
    }

    pub async fn stop(&self) -> Result<()> {
        self.call(Command::Stop).await
    }

    pub async fn restart(&self) -> Result<()> {
        self.call(Command::Restart).await
    }

    pub async fn update_spec(&self, spec: ProcessSpec) -> Result<()> {
        self.call(Command::UpdateSpec(Box::new(spec))).await
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "the supervisor of {} has shut down",
                self.status.borrow().name
            ),
        )
    }
}

enum Flow {
    Continue,
    Exit,
}

/// Why a run is being ended by the supervisor.
enum Ending {
    /// Stop, stay stopped.
    Stop,
    /// Stop, start again without backoff.
    Restart,
    /// Shutdown: stop and end the actor.
    Shutdown,
    /// Shutdown now: SIGKILL, end the actor.
    Kill,
}

struct Actor {
    spec: ProcessSpec,
    config: SupervisorConfig,
    spawner: Arc<dyn Spawner>,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
    rx: mpsc::Receiver<Envelope>,
    status_tx: watch::Sender<Status>,
    media_tx: mpsc::Sender<MediaIo>,
    /// Working copy of the published status (`None` only before `run` fills it).
    status: Option<Status>,
    failures: u32,
    backoff_until: Option<Instant>,
    /// Acks of commands that complete with the next spawn attempt.
    after_spawn: Vec<oneshot::Sender<()>>,
}

impl Actor {
    async fn run(mut self) {
        self.status = Some(self.status_tx.borrow().clone());
        loop {
            // Every line logged about the child carries its span; taken afresh at each phase
            // because `UpdateSpec` may bring a new one.
            let span = self.spec.log_span();
            let flow = match self.st().state {
                State::Idle | State::Stopped | State::Failed => self.idle().instrument(span).await,
                State::Starting | State::Running => self.run_once().instrument(span).await,
                State::Backoff => self.backoff().instrument(span).await,
            };
            if let Flow::Exit = flow {
                break;
            }
        }
        if self.st().state != State::Failed {
            self.st_mut().state = State::Stopped;
        }
        self.publish();
        let name = &self.spec.name;
        self.spec
            .log_span()
            .in_scope(|| debug!(name = %name, "supervisor ended"));
    }

    fn st(&self) -> &Status {
        self.status.as_ref().expect("status is set in run")
    }

    fn st_mut(&mut self) -> &mut Status {
        self.status.as_mut().expect("status is set in run")
    }

    fn publish(&mut self) {
        let now = self.clock.now();
        let st = self.st_mut();
        st.uptime = st.uptime_at(now);
        let snapshot = st.clone();
        self.status_tx.send_replace(snapshot);
    }

    fn set_state(&mut self, state: State) {
        let st = self.st_mut();
        if st.state != state {
            debug!(name = %st.name, from = ?st.state, to = ?state, "state");
        }
        st.state = state;
        if state != State::Backoff {
            st.backoff = None;
        }
        if !matches!(state, State::Starting | State::Running) {
            st.pid = None;
            st.since = None;
            st.started_at = None;
        }
        self.publish();
    }

    /// Waits for a command in a state without a child.
    async fn idle(&mut self) -> Flow {
        let env = tokio::select! {
            biased;
            _ = self.shutdown.immediate.cancelled() => return Flow::Exit,
            _ = self.shutdown.graceful.cancelled() => return Flow::Exit,
            env = self.rx.recv() => match env {
                Some(env) => env,
                None => return Flow::Exit,
            },
        };
        match env.cmd {
            Command::Start | Command::Restart => {
                self.failures = 0;
                let st = self.st_mut();
                st.restarts = 0;
                st.consecutive_failures = 0;
                self.after_spawn.extend(env.done);
                self.set_state(State::Starting);
            }
            Command::Stop => {
                if self.st().state == State::Idle {
                    self.set_state(State::Stopped);
                }
                ack(env.done);
            }
            Command::UpdateSpec(spec) => {
                self.spec = *spec;
                ack(env.done);
            }
        }
        Flow::Continue
    }

    async fn backoff(&mut self) -> Flow {
        let until = self.backoff_until.unwrap_or_else(|| self.clock.now());
        let clock = self.clock.clone();
        let env = tokio::select! {
            biased;
            _ = self.shutdown.immediate.cancelled() => return Flow::Exit,
            _ = self.shutdown.graceful.cancelled() => return Flow::Exit,
            env = self.rx.recv() => match env {
                Some(env) => env,
                None => return Flow::Exit,
            },
            _ = clock.sleep_until(until) => {
                self.st_mut().restarts += 1;
                self.set_state(State::Starting);
                return Flow::Continue;
            }
        };
        match env.cmd {
            Command::Stop => {
                self.set_state(State::Stopped);
                ack(env.done);
            }
            Command::Start | Command::Restart => {
                self.after_spawn.extend(env.done);
                self.st_mut().restarts += 1;
                self.set_state(State::Starting);
            }
            Command::UpdateSpec(spec) => {
                // The new spec may be the fix for whatever is failing: try it now.
                self.spec = *spec;
                self.after_spawn.extend(env.done);
                self.st_mut().restarts += 1;
                self.set_state(State::Starting);
            }
        }
        Flow::Continue
    }

    /// Spawns one run and supervises it until it ends; leaves the next state set.
    async fn run_once(&mut self) -> Flow {
        let spec = self.spec.clone();
        let spawned = self.spawner.spawn(&spec);
        let run = {
            let st = self.st_mut();
            st.run += 1;
            st.run
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let msg = spec.redact(&format!("cannot start {}: {e}", spec.program.display()));
                for done in self.after_spawn.drain(..) {
                    let _ = done.send(());
                }
                let fatal = matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                );
                if fatal {
                    warn!(name = %spec.name, error = %msg, "giving up");
                    self.st_mut().last_error = Some(msg);
                    self.set_state(State::Failed);
                } else {
                    self.failed(msg, Duration::ZERO);
                }
                return Flow::Continue;
            }
        };

        let started = self.clock.now();
        let has_progress = child.progress.is_some();
        {
            let wall = self.clock.wall();
            let st = self.st_mut();
            st.pid = child.pid;
            st.since = Some(wall);
            st.started_at = Some(started);
            st.progress = None;
        }
        info!(name = %spec.name, pid = ?child.pid, run, command = %spec.display_command(), "started");
        self.set_state(if has_progress {
            State::Starting
        } else {
            State::Running
        });
        for done in self.after_spawn.drain(..) {
            let _ = done.send(());
        }
        if child.stdin.is_some() || child.stdout.is_some() || child.extra_input.is_some() {
            let media = MediaIo {
                run,
                pid: child.pid,
                stdin: child.stdin.take(),
                stdout: child.stdout.take(),
                extra_input: child.extra_input.take(),
            };
            if self.media_tx.try_send(media).is_err() {
                warn!(name = %spec.name, "nobody takes the media pipes of this run; they are closed");
            }
        }

        let mut run = Run {
            control: child.control,
            progress: child.progress,
            stderr: Some(child.stderr),
            tail: StderrTail::new(self.config.stderr_lines),
            started,
            last_advance: started,
            best_frame: 0,
            best_out_time: None,
        };
        let clock = self.clock.clone();

        loop {
            let deadline = match self.st().state {
                State::Starting if has_progress => Some((
                    started + self.config.startup_timeout,
                    format!(
                        "startup timeout: no progress within {}s",
                        secs(self.config.startup_timeout)
                    ),
                )),
                State::Running if has_progress => Some((
                    run.last_advance + self.config.stall_timeout,
                    format!(
                        "stalled: no progress for {}s",
                        secs(self.config.stall_timeout)
                    ),
                )),
                _ => None,
            };
            let deadline_at = deadline.as_ref().map(|d| d.0);

            tokio::select! {
                biased;
                _ = self.shutdown.immediate.cancelled() => {
                    self.end_run(&mut run, Ending::Kill).await;
                    return Flow::Exit;
                }
                _ = self.shutdown.graceful.cancelled() => {
                    self.end_run(&mut run, Ending::Shutdown).await;
                    return Flow::Exit;
                }
                env = self.rx.recv() => {
                    let Some(env) = env else {
                        self.end_run(&mut run, Ending::Shutdown).await;
                        return Flow::Exit;
                    };
                    match env.cmd {
                        Command::Start => ack(env.done),
                        Command::Stop => {
                            let flow = self.end_run(&mut run, Ending::Stop).await;
                            ack(env.done);
                            return flow;
                        }
                        Command::Restart | Command::UpdateSpec(_) => {
                            if let Command::UpdateSpec(spec) = env.cmd {
                                self.spec = *spec;
                            }
                            self.after_spawn.extend(env.done);
                            return self.end_run(&mut run, Ending::Restart).await;
                        }
                    }
                }
                p = recv_opt(&mut run.progress) => match p {
                    Some(p) => self.on_progress(&mut run, p),
                    None => run.progress = None,
                },
                line = recv_opt(&mut run.stderr) => match line {
                    Some(line) => run.tail.push(&spec, &line),
                    None => run.stderr = None,
                },
                exit = run.control.wait() => {
                    self.on_exit(&mut run, exit).await;
                    return Flow::Continue;
                }
                _ = sleep_opt(&clock, deadline_at) => {
                    let reason = deadline.map(|d| d.1).unwrap_or_default();
                    warn!(name = %spec.name, pid = ?self.st().pid, "{reason}; killing");
                    // A stalled process may be frozen (SIGSTOP, D state, deadlock): asking it
                    // politely would only waste the stop timeout.
                    let _ = run.control.kill();
                    self.reap(&mut run).await;
                    let msg = run.tail.explain(&reason);
                    self.failed(msg, clock.now() - run.started);
                    return Flow::Continue;
                }
            }
        }
    }

    fn on_progress(&mut self, run: &mut Run, p: Progress) {
        let frame_up = p.frame.is_some_and(|f| f > run.best_frame);
        let time_up = p
            .out_time_us
            .is_some_and(|t| run.best_out_time.is_none_or(|b| t > b));
        if frame_up || time_up {
            run.last_advance = self.clock.now();
            run.best_frame = run.best_frame.max(p.frame.unwrap_or(0));
            run.best_out_time = run.best_out_time.max(p.out_time_us);
        }
        self.st_mut().progress = Some(p);
        if self.st().state == State::Starting {
            info!(name = %self.spec.name, pid = ?self.st().pid, "running");
            self.set_state(State::Running);
        } else {
            self.publish();
        }
    }

    async fn on_exit(&mut self, run: &mut Run, exit: io::Result<Exit>) {
        // The last stderr lines (the actual error) may still be in flight when the exit is seen.
        let clock = self.clock.clone();
        let drain_until = clock.now() + Duration::from_millis(500);
        while run.stderr.is_some() {
            tokio::select! {
                biased;
                _ = self.shutdown.immediate.cancelled() => break,
                line = recv_opt(&mut run.stderr) => match line {
                    Some(line) => run.tail.push(&self.spec, &line),
                    None => run.stderr = None,
                },
                _ = clock.sleep_until(drain_until) => break,
            }
        }
        let ran = clock.now() - run.started;
        let exit = match exit {
            Ok(exit) => exit,
            Err(e) => {
                // Should not happen; the child is gone from our point of view either way.
                warn!(name = %self.spec.name, error = %e, "waiting for the child failed");
                Exit::Code(-1)
            }
        };
        if exit.success() && !self.config.restart_on_clean_exit {
            info!(name = %self.spec.name, "finished");
            self.set_state(State::Stopped);
            return;
        }
        let msg = run.tail.explain(&exit.to_string());
        self.failed(msg, ran);
    }

    /// Records a failed run and moves to `Backoff`, or `Failed` if the limit is reached.
    fn failed(&mut self, msg: String, ran: Duration) {
        if ran >= self.config.backoff.reset_after {
            self.failures = 0;
        }
        self.failures += 1;
        let failures = self.failures;
        let give_up = self
            .config
            .max_consecutive_failures
            .is_some_and(|max| failures >= max);
        warn!(name = %self.spec.name, failures, error = %msg, "run failed");
        {
            let st = self.st_mut();
            st.consecutive_failures = failures;
            st.last_error = Some(msg);
        }
        if give_up {
            self.set_state(State::Failed);
        } else {
            let delay = self.config.backoff.delay(failures);
            self.backoff_until = Some(self.clock.now() + delay);
            self.st_mut().backoff = Some(delay);
            self.set_state(State::Backoff);
        }
    }

    /// Ends the current run on the supervisor's initiative and sets the next state.
    async fn end_run(&mut self, run: &mut Run, ending: Ending) -> Flow {
        let reaped = match ending {
            Ending::Kill => {
                let _ = run.control.kill();
                self.reap(run).await
            }
            _ => self.stop_politely(run).await,
        };
        info!(name = %self.spec.name, exit = ?reaped, "stopped");
        let interrupted = self.shutdown.immediate.is_cancelled();
        match ending {
            Ending::Restart if !interrupted => {
                self.st_mut().restarts += 1;
                self.set_state(State::Starting);
                Flow::Continue
            }
            Ending::Stop if !interrupted => {
                self.set_state(State::Stopped);
                Flow::Continue
            }
            _ => {
                self.set_state(State::Stopped);
                Flow::Exit
            }
        }
    }

    /// `q` (or SIGINT), then SIGINT at half the stop timeout, then SIGKILL of the group.
    /// Returns `None` if an immediate shutdown cut it short (the child is killed anyway) or
    /// the killed child could not be reaped.
    async fn stop_politely(&mut self, run: &mut Run) -> Option<Exit> {
        let clock = self.clock.clone();
        let now = clock.now();
        let half = now + self.config.stop_timeout / 2;
        let end = now + self.config.stop_timeout;

        tokio::select! {
            biased;
            _ = self.shutdown.immediate.cancelled() => {}
            _ = run.control.request_stop() => {}
            _ = clock.sleep_until(half) => {}
        }
        for (phase_end, last) in [(half, false), (end, true)] {
            loop {
                tokio::select! {
                    biased;
                    _ = self.shutdown.immediate.cancelled() => {
                        let _ = run.control.kill();
                        self.reap(run).await;
                        return None;
                    }
                    exit = run.control.wait() => return Some(exit.unwrap_or(Exit::Code(-1))),
                    line = recv_opt(&mut run.stderr) => match line {
                        Some(line) => run.tail.push(&self.spec, &line),
                        None => run.stderr = None,
                    },
                    p = recv_opt(&mut run.progress) => if p.is_none() { run.progress = None },
                    _ = clock.sleep_until(phase_end) => break,
                }
            }
            if !last {
                let _ = run.control.interrupt();
            }
        }
        warn!(name = %self.spec.name, pid = ?self.st().pid, "did not stop in time; killing the process group");
        let _ = run.control.kill();
        self.reap(run).await
    }

    /// Waits for a killed child to be reaped. Gives up after a while (a process stuck in
    /// uninterruptible sleep); dropping the control then leaves the reaping to tokio.
    async fn reap(&mut self, run: &mut Run) -> Option<Exit> {
        let clock = self.clock.clone();
        let limit = clock.now() + Duration::from_secs(5);
        tokio::select! {
            exit = run.control.wait() => Some(exit.unwrap_or(Exit::Signal(9))),
            _ = clock.sleep_until(limit) => {
                warn!(name = %self.spec.name, pid = ?self.st().pid, "killed child not reaped in 5 s");
                None
            }
        }
    }
}

struct Run {
    control: Box<dyn ChildControl>,
    progress: Option<mpsc::UnboundedReceiver<Progress>>,
    stderr: Option<mpsc::UnboundedReceiver<String>>,
    tail: StderrTail,
    started: Instant,
    last_advance: Instant,
    best_frame: u64,
    best_out_time: Option<i64>,
}

/// The recent stderr lines of a run, already redacted.
struct StderrTail {
    lines: VecDeque<String>,
    cap: usize,
}

/// How many lines of stderr go into `last_error`.
const ERROR_LINES: usize = 3;

impl StderrTail {
    fn new(cap: usize) -> Self {
        StderrTail {
            lines: VecDeque::new(),
            cap: cap.max(ERROR_LINES),
        }
    }

    fn push(&mut self, spec: &ProcessSpec, raw: &str) {
        let line = spec.redact(raw);
        debug!(target: "vs_engine::child", name = %spec.name, "{line}");
        if !is_meaningful(&line) {
            return;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn explain(&self, reason: &str) -> String {
        let n = self.lines.len().min(ERROR_LINES);
        if n == 0 {
            return reason.to_string();
        }
        let tail: Vec<&str> = self
            .lines
            .iter()
            .skip(self.lines.len() - n)
            .map(|l| l.trim())
            .collect();
        format!("{reason}: {}", tail.join(" | "))
    }
}

/// Drops FFmpeg's banner, stream listing and statistics so that what remains is what went
/// wrong.
fn is_meaningful(line: &str) -> bool {
    const NOISE: &[&str] = &[
        "frame=",
        "size=",
        "video:",
        "Input #",
        "Output #",
        "Stream mapping:",
        "Press [q]",
        "ffmpeg version",
        "built with",
        "configuration:",
        "libav",
        "libsw",
        "libpostproc",
        "[q] command received",
        "Exiting normally",
        "Enter command:",
    ];
    let t = line.trim_end();
    !(t.is_empty() || t.starts_with(char::is_whitespace) || NOISE.iter().any(|n| t.starts_with(n)))
}

fn ack(done: Option<oneshot::Sender<()>>) {
    if let Some(done) = done {
        let _ = done.send(());
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.1}")
    }
}

/// Receives from an optional channel; pending forever when there is none, so a `select!`
/// branch on a closed stream goes quiet instead of spinning.
async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(clock: &Arc<dyn Clock>, at: Option<Instant>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
