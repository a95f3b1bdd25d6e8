//! Fakes for driving a supervisor without real processes or real time: a scriptable
//! `FakeSpawner` and a `ManualClock`. Enabled in this crate's tests and, for other crates'
//! tests, with the `testing` feature.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::progress::Progress;
use crate::spawner::{
    ChildControl, Exit, ProcessSpec, ProgressSource, SpawnedChild, Spawner, StdinMode,
};

/// What the next fake child does.
#[derive(Debug, Clone)]
pub enum FakeBehavior {
    /// Runs until the test ends it (`FakeProcess::exit`) or the supervisor stops or kills it.
    /// With `obey_stop`, `request_stop` ends it with code 0 and `interrupt` with code 255 (as
    /// FFmpeg does); without, only a kill ends it.
    Run { obey_stop: bool },
    /// Prints these lines on stderr and exits at once.
    ExitAtOnce { exit: Exit, stderr: Vec<String> },
    /// `spawn` fails with this error kind.
    SpawnError(io::ErrorKind),
}

/// What the supervisor did to a fake child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeSignal {
    RequestStop,
    Interrupt,
    Kill,
}

struct Shared {
    exit: watch::Sender<Option<Exit>>,
    signals: Mutex<Vec<FakeSignal>>,
    progress: Mutex<Option<mpsc::UnboundedSender<Progress>>>,
    stderr: Mutex<Option<mpsc::UnboundedSender<String>>>,
    reaped: Mutex<bool>,
}

impl Shared {
    /// Like a real exit: the pipes close with it.
    fn exit(&self, exit: Exit) {
        self.exit.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(exit);
                true
            } else {
                false
            }
        });
        self.progress.lock().unwrap().take();
        self.stderr.lock().unwrap().take();
    }
}

/// The test's side of one fake child.
pub struct FakeProcess {
    pub pid: u32,
    pub spec: ProcessSpec,
    /// The other end of `MediaIo::stdin`, with `StdinMode::Media`.
    pub stdin: Option<DuplexStream>,
    /// The other end of `MediaIo::stdout`, with `StdoutMode::Media`.
    pub stdout: Option<DuplexStream>,
    /// The other end of `MediaIo::extra_input`, with `ProcessSpec::extra_input`.
    pub extra_input: Option<DuplexStream>,
    shared: Arc<Shared>,
}

impl FakeProcess {
    pub fn progress(&self, p: Progress) {
        if let Some(tx) = self.shared.progress.lock().unwrap().as_ref() {
            let _ = tx.send(p);
        }
    }

    /// A progress block at `frame` of a 25 fps video.
    pub fn frame(&self, frame: u64) {
        self.progress(Progress {
            frame: Some(frame),
            fps: Some(25.0),
            out_time_us: Some(frame as i64 * 40_000),
            speed: Some(1.0),
            ..Default::default()
        });
    }

    pub fn stderr(&self, line: &str) {
        if let Some(tx) = self.shared.stderr.lock().unwrap().as_ref() {
            let _ = tx.send(line.to_string());
        }
    }

    pub fn exit(&self, exit: Exit) {
        self.shared.exit(exit);
    }

    pub fn exited(&self) -> Option<Exit> {
        *self.shared.exit.borrow()
    }

    /// Whether the supervisor collected the exit (no zombie).
    pub fn reaped(&self) -> bool {
        *self.shared.reaped.lock().unwrap()
    }

    pub fn signals(&self) -> Vec<FakeSignal> {
        self.shared.signals.lock().unwrap().clone()
    }
}

struct FakeChild {
    shared: Arc<Shared>,
    obey_stop: bool,
}

#[async_trait]
impl ChildControl for FakeChild {
    async fn request_stop(&mut self) -> io::Result<()> {
        self.shared
            .signals
            .lock()
            .unwrap()
            .push(FakeSignal::RequestStop);
        if self.obey_stop {
            self.shared.exit(Exit::Code(0));
        }
        Ok(())
    }

    fn interrupt(&mut self) -> io::Result<()> {
        self.shared
            .signals
            .lock()
            .unwrap()
            .push(FakeSignal::Interrupt);
        if self.obey_stop {
            self.shared.exit(Exit::Code(255));
        }
        Ok(())
    }

    fn kill(&mut self) -> io::Result<()> {
        self.shared.signals.lock().unwrap().push(FakeSignal::Kill);
        self.shared.exit(Exit::Signal(9));
        Ok(())
    }

    async fn wait(&mut self) -> io::Result<Exit> {
        let mut rx = self.shared.exit.subscribe();
        let exit = rx
            .wait_for(Option::is_some)
            .await
            .map(|e| e.expect("waited for Some"))
            .map_err(|_| io::Error::other("fake child vanished"))?;
        *self.shared.reaped.lock().unwrap() = true;
        Ok(exit)
    }
}

struct Script {
    queue: VecDeque<FakeBehavior>,
    default: FakeBehavior,
    next_pid: u32,
    spawns: usize,
}

/// A spawner whose children are `FakeProcess`es, delivered to the test on a channel.
#[derive(Clone)]
pub struct FakeSpawner {
    script: Arc<Mutex<Script>>,
    spawned: mpsc::UnboundedSender<FakeProcess>,
}

impl FakeSpawner {
    /// Every child runs (and obeys stop) unless scripted otherwise.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<FakeProcess>) {
        let (spawned, rx) = mpsc::unbounded_channel();
        let script = Script {
            queue: VecDeque::new(),
            default: FakeBehavior::Run { obey_stop: true },
            next_pid: 10_000,
            spawns: 0,
        };
        (
            FakeSpawner {
                script: Arc::new(Mutex::new(script)),
                spawned,
            },
            rx,
        )
    }

    /// The behavior of the next spawn not yet scripted.
    pub fn push(&self, behavior: FakeBehavior) {
        self.script.lock().unwrap().queue.push_back(behavior);
    }

    /// The behavior once the queue is empty.
    pub fn set_default(&self, behavior: FakeBehavior) {
        self.script.lock().unwrap().default = behavior;
    }

    /// Spawn attempts so far, failed ones included.
    pub fn spawns(&self) -> usize {
        self.script.lock().unwrap().spawns
    }
}

impl Spawner for FakeSpawner {
    fn spawn(&self, spec: &ProcessSpec) -> io::Result<SpawnedChild> {
        let (behavior, pid) = {
            let mut s = self.script.lock().unwrap();
            s.spawns += 1;
            let b = s.queue.pop_front().unwrap_or_else(|| s.default.clone());
            s.next_pid += 1;
            (b, s.next_pid)
        };
        if let FakeBehavior::SpawnError(kind) = behavior {
            return Err(io::Error::new(kind, "fake spawn error"));
        }
        let (progress_tx, progress_rx) = mpsc::unbounded_channel();
        let (stderr_tx, stderr_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            exit: watch::channel(None).0,
            signals: Mutex::new(Vec::new()),
            progress: Mutex::new(Some(progress_tx)),
            stderr: Mutex::new(Some(stderr_tx)),
            reaped: Mutex::new(false),
        });
        let (stdin, stdin_far) = if spec.stdin == StdinMode::Media {
            let (a, b) = tokio::io::duplex(64 * 1024);
            (Some(Box::new(a) as crate::spawner::BoxWrite), Some(b))
        } else {
            (None, None)
        };
        let (stdout, stdout_far) = if spec.stdout_is_media() {
            let (a, b) = tokio::io::duplex(64 * 1024);
            (Some(Box::new(a) as crate::spawner::BoxRead), Some(b))
        } else {
            (None, None)
        };
        let (extra_input, extra_far) = if spec.extra_input {
            let (a, b) = tokio::io::duplex(64 * 1024);
            (Some(Box::new(a) as crate::spawner::BoxWrite), Some(b))
        } else {
            (None, None)
        };
        let process = FakeProcess {
            pid,
            spec: spec.clone(),
            stdin: stdin_far,
            stdout: stdout_far,
            extra_input: extra_far,
            shared: shared.clone(),
        };
        let obey_stop = match behavior {
            FakeBehavior::ExitAtOnce { exit, stderr } => {
                for line in stderr {
                    process.stderr(&line);
                }
                shared.exit(exit);
                false
            }
            FakeBehavior::Run { obey_stop } => obey_stop,
            FakeBehavior::SpawnError(_) => unreachable!("handled above"),
        };
        let _ = self.spawned.send(process);
        Ok(SpawnedChild {
            pid: Some(pid),
            control: Box::new(FakeChild { shared, obey_stop }),
            progress: (spec.progress != ProgressSource::None).then_some(progress_rx),
            stderr: stderr_rx,
            stdin,
            stdout,
            extra_input,
        })
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock {
    base: Instant,
    wall_base: SystemTime,
    offset: Arc<watch::Sender<Duration>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            wall_base: SystemTime::now(),
            offset: Arc::new(watch::channel(Duration::ZERO).0),
        }
    }

    pub fn advance(&self, d: Duration) {
        self.offset.send_modify(|o| *o += d);
    }

    pub fn elapsed(&self) -> Duration {
        *self.offset.borrow()
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.borrow()
    }

    fn wall(&self) -> SystemTime {
        self.wall_base + *self.offset.borrow()
    }

    async fn sleep_until(&self, deadline: Instant) {
        let base = self.base;
        let mut rx = self.offset.subscribe();
        // The sender lives as long as the clock, so this only ends when the time has come.
        let _ = rx.wait_for(|o| base + *o >= deadline).await;
    }
}
