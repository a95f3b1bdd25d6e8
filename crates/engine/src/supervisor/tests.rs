//! State machine tests on fake processes and virtual time (`start_paused`): every timing below
//! is exact, and the whole file runs in milliseconds.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vs_base::Secret;

use super::*;
use crate::spawner::{StdinMode, StdoutMode};
use crate::testing::{FakeBehavior, FakeProcess, FakeSignal, FakeSpawner, ManualClock};

fn config() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(3),
        stop_timeout: Duration::from_secs(2),
        backoff: BackoffPolicy {
            jitter: 0.0,
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

fn spec() -> ProcessSpec {
    ProcessSpec::new("cam 1", "/usr/bin/ffmpeg").args([
        "-i",
        "rtsp://admin:secret@10.0.0.2/s",
        "-f",
        "flv",
        "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl",
    ])
}

struct Rig {
    sup: Supervised,
    spawner: FakeSpawner,
    spawns: mpsc::UnboundedReceiver<FakeProcess>,
    status: watch::Receiver<Status>,
    shutdown: Shutdown,
}

fn rig_with(config: SupervisorConfig, spec: ProcessSpec) -> Rig {
    let (spawner, spawns) = FakeSpawner::new();
    let deps = Deps {
        spawner: Arc::new(spawner.clone()),
        clock: Arc::new(TokioClock),
    };
    let shutdown = Shutdown::default();
    let sup = supervise(spec, config, deps, shutdown.clone());
    let status = sup.handle.subscribe();
    Rig {
        sup,
        spawner,
        spawns,
        status,
        shutdown,
    }
}

fn rig() -> Rig {
    rig_with(config(), spec())
}

impl Rig {
    async fn until(&mut self, what: &str, pred: impl FnMut(&Status) -> bool) -> Status {
        let got = tokio::time::timeout(Duration::from_secs(600), self.status.wait_for(pred))
            .await
            .map(|r| r.map(|s| s.clone()));
        match got {
            Ok(Ok(s)) => s,
            _ => panic!("never reached: {what}; last {:?}", *self.status.borrow()),
        }
    }

    async fn next_process(&mut self) -> FakeProcess {
        tokio::time::timeout(Duration::from_secs(600), self.spawns.recv())
            .await
            .expect("a spawn")
            .expect("spawner alive")
    }

    /// Starts and brings the first child to `Running`.
    async fn running(&mut self) -> FakeProcess {
        self.sup.handle.start().await.unwrap();
        let p = self.next_process().await;
        p.frame(1);
        self.until("running", |s| s.state == State::Running).await;
        p
    }
}

#[tokio::test(start_paused = true)]
async fn start_then_running_on_first_progress() {
    let mut r = rig();
    assert_eq!(r.sup.handle.status().state, State::Idle);
    r.sup.handle.start().await.unwrap();
    let s = r.sup.handle.status();
    assert_eq!(s.state, State::Starting);
    let p = r.next_process().await;
    assert_eq!(s.pid, Some(p.pid));
    assert!(s.since.is_some());
    assert_eq!(s.run, 1);

    tokio::time::sleep(Duration::from_secs(1)).await;
    p.frame(25);
    let s = r.until("running", |s| s.state == State::Running).await;
    assert_eq!(s.progress.as_ref().unwrap().frame, Some(25));
    assert_eq!(s.uptime, Duration::from_secs(1));
    assert_eq!(s.restarts, 0);
    assert!(s.last_error.is_none());
    assert_eq!(r.spawner.spawns(), 1);
}

#[tokio::test(start_paused = true)]
async fn stall_is_killed_and_restarted() {
    let mut r = rig();
    let p = r.running().await;
    for f in 2..=5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        p.frame(f * 25);
    }
    let last_advance = Instant::now();
    // Blocks keep coming, but nothing advances: that is a stall too.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        p.frame(125);
    }

    let s = r
        .until("backoff after stall", |s| s.state == State::Backoff)
        .await;
    assert_eq!(last_advance.elapsed(), Duration::from_secs(3));
    assert_eq!(s.last_error.as_deref(), Some("stalled: no progress for 3s"));
    assert_eq!(s.backoff, Some(Duration::from_millis(500)));
    assert_eq!(s.pid, None);
    assert_eq!(
        p.signals(),
        [FakeSignal::Kill],
        "a stalled child is not asked nicely"
    );
    assert!(p.reaped());

    let q = r.next_process().await;
    let s = r.sup.handle.status();
    assert_eq!(s.state, State::Starting);
    assert_eq!(s.restarts, 1);
    assert_eq!(s.pid, Some(q.pid));
    assert_ne!(q.pid, p.pid);
    assert_eq!(
        s.last_error.as_deref(),
        Some("stalled: no progress for 3s"),
        "kept"
    );
    assert_eq!(last_advance.elapsed(), Duration::from_millis(3500));
    q.frame(1);
    r.until("running again", |s| s.state == State::Running)
        .await;
}

#[tokio::test(start_paused = true)]
async fn advancing_out_time_without_frames_is_not_a_stall() {
    let mut r = rig();
    r.sup.handle.start().await.unwrap();
    let p = r.next_process().await;
    for i in 1..=20 {
        p.progress(Progress {
            out_time_us: Some(i * 1_000_000),
            ..Default::default()
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let s = r.sup.handle.status();
    assert_eq!(s.state, State::Running);
    assert_eq!(r.spawner.spawns(), 1);
    assert!(p.signals().is_empty());
}

#[tokio::test(start_paused = true)]
async fn no_first_progress_is_a_startup_timeout() {
    let mut r = rig();
    let t0 = Instant::now();
    r.sup.handle.start().await.unwrap();
    let p = r.next_process().await;
    p.stderr("[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized");
    let s = r.until("backoff", |s| s.state == State::Backoff).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert_eq!(
        s.last_error.as_deref(),
        Some(
            "startup timeout: no progress within 5s: \
             [rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized"
        )
    );
    assert_eq!(p.signals(), [FakeSignal::Kill]);
}

#[tokio::test(start_paused = true)]
async fn immediate_exits_back_off_exponentially_up_to_the_cap() {
    let mut r = rig();
    r.spawner.set_default(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec![
            "Input #0, rtsp, from 'rtsp://admin:secret@10.0.0.2/s':".into(),
            "rtsp://admin:secret@10.0.0.2/s: Connection refused".into(),
        ],
    });
    r.sup.handle.start().await.unwrap();
    let mut delays = Vec::new();
    let mut gaps = Vec::new();
    let mut last_spawn = Instant::now();
    for n in 1..=9u32 {
        let _ = r.next_process().await;
        if n > 1 {
            gaps.push(last_spawn.elapsed());
        }
        last_spawn = Instant::now();
        let s = r
            .until("backoff", |s| {
                s.state == State::Backoff && s.consecutive_failures == n
            })
            .await;
        delays.push(s.backoff.unwrap().as_secs_f64());
        assert_eq!(s.restarts, n - 1);
        assert_eq!(
            s.last_error.as_deref(),
            Some("exited with code 1: rtsp://***@10.0.0.2/s: Connection refused")
        );
    }
    assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    let gaps: Vec<f64> = gaps.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(gaps, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
}

#[tokio::test(start_paused = true)]
async fn a_stable_run_resets_the_backoff() {
    let mut r = rig();
    for _ in 0..3 {
        r.spawner.push(FakeBehavior::ExitAtOnce {
            exit: Exit::Code(1),
            stderr: vec![],
        });
    }
    r.sup.handle.start().await.unwrap();
    for _ in 0..3 {
        r.next_process().await;
    }
    let p = r.next_process().await;
    assert_eq!(r.sup.handle.status().consecutive_failures, 3);
    for f in 1..=31 {
        p.frame(f * 25);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    p.stderr("av_interleaved_write_frame(): Broken pipe");
    p.exit(Exit::Code(1));
    let s = r.until("backoff", |s| s.state == State::Backoff).await;
    assert_eq!(s.consecutive_failures, 1);
    assert_eq!(s.backoff, Some(Duration::from_millis(500)));
    assert_eq!(
        s.last_error.as_deref(),
        Some("exited with code 1: av_interleaved_write_frame(): Broken pipe")
    );
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_stay_within_twenty_percent() {
    let mut cfg = config();
    cfg.backoff.jitter = 0.2;
    let mut r = rig_with(cfg, spec());
    r.spawner.set_default(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec![],
    });
    r.sup.handle.start().await.unwrap();
    for n in 1..=8u32 {
        r.next_process().await;
        let s = r
            .until("backoff", |s| {
                s.state == State::Backoff && s.consecutive_failures == n
            })
            .await;
        let nominal = BackoffPolicy::default().nominal(n).as_secs_f64();
        let got = s.backoff.unwrap().as_secs_f64();
        assert!(
            got >= nominal * 0.8 - 1e-9 && got <= nominal * 1.2 + 1e-9,
            "{n}: {got} vs {nominal}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn stop_asks_politely_first() {
    let mut r = rig();
    let p = r.running().await;
    let t0 = Instant::now();
    r.sup.handle.stop().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    let s = r.sup.handle.status();
    assert_eq!(s.state, State::Stopped);
    assert_eq!(s.pid, None);
    assert_eq!(p.signals(), [FakeSignal::RequestStop]);
    assert_eq!(p.exited(), Some(Exit::Code(0)));
    assert!(p.reaped());
    assert!(s.last_error.is_none(), "a requested stop is not an error");
    // Nothing restarts a stopped process.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(r.spawner.spawns(), 1);
}

#[tokio::test(start_paused = true)]
async fn stop_escalates_to_sigint_then_sigkill() {
    let mut r = rig();
    r.spawner.push(FakeBehavior::Run { obey_stop: false });
    let p = r.running().await;
    let t0 = Instant::now();
    r.sup.handle.stop().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(2), "stop_timeout");
    assert_eq!(
        p.signals(),
        [
            FakeSignal::RequestStop,
            FakeSignal::Interrupt,
            FakeSignal::Kill
        ]
    );
    assert!(p.reaped());
    assert_eq!(r.sup.handle.status().state, State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn missing_program_fails_and_start_retries() {
    let r = rig();
    r.spawner
        .push(FakeBehavior::SpawnError(io::ErrorKind::NotFound));
    r.sup.handle.start().await.unwrap();
    let s = r.sup.handle.status();
    assert_eq!(s.state, State::Failed);
    assert_eq!(
        s.last_error.as_deref(),
        Some("cannot start /usr/bin/ffmpeg: fake spawn error")
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(r.spawner.spawns(), 1, "Failed means no retries");
    r.sup.handle.start().await.unwrap();
    assert_eq!(r.sup.handle.status().state, State::Starting);
    assert_eq!(r.spawner.spawns(), 2);
}

#[tokio::test(start_paused = true)]
async fn too_many_consecutive_failures_give_up() {
    let mut cfg = config();
    cfg.max_consecutive_failures = Some(3);
    let mut r = rig_with(cfg, spec());
    r.spawner.set_default(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec!["Unknown encoder 'h264_foo'".into()],
    });
    r.sup.handle.start().await.unwrap();
    let s = r.until("failed", |s| s.state == State::Failed).await;
    assert_eq!(s.consecutive_failures, 3);
    assert_eq!(s.restarts, 2);
    assert_eq!(
        s.last_error.as_deref(),
        Some("exited with code 1: Unknown encoder 'h264_foo'")
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(r.spawner.spawns(), 3);
}

#[tokio::test(start_paused = true)]
async fn update_spec_restarts_with_the_new_spec() {
    let mut r = rig();
    let p = r.running().await;
    let new = spec().args(["-b:v", "4500k"]);
    r.sup.handle.update_spec(new).await.unwrap();
    assert_eq!(p.signals(), [FakeSignal::RequestStop]);
    let q = r.next_process().await;
    assert!(q
        .spec
        .args
        .ends_with(&["-b:v".to_string(), "4500k".to_string()]));
    let s = r.sup.handle.status();
    assert_eq!(
        (s.state, s.restarts, s.pid),
        (State::Starting, 1, Some(q.pid))
    );
}

#[tokio::test(start_paused = true)]
async fn update_spec_while_stopped_only_stores_it() {
    let mut r = rig();
    r.sup
        .handle
        .update_spec(spec().args(["-an"]))
        .await
        .unwrap();
    assert_eq!(r.spawner.spawns(), 0);
    r.sup.handle.start().await.unwrap();
    assert_eq!(r.next_process().await.spec.args.last().unwrap(), "-an");
}

#[tokio::test(start_paused = true)]
async fn restart_skips_backoff() {
    let mut r = rig();
    let p = r.running().await;
    r.sup.handle.restart().await.unwrap();
    assert_eq!(p.exited(), Some(Exit::Code(0)));
    let q = r.next_process().await;
    assert_eq!(r.sup.handle.status().pid, Some(q.pid));
    assert_eq!(r.sup.handle.status().restarts, 1);
}

#[tokio::test(start_paused = true)]
async fn stop_during_backoff_cancels_the_retry() {
    let mut r = rig();
    r.spawner.set_default(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec![],
    });
    r.sup.handle.start().await.unwrap();
    r.until("backoff", |s| s.state == State::Backoff).await;
    r.sup.handle.stop().await.unwrap();
    assert_eq!(r.sup.handle.status().state, State::Stopped);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(r.spawner.spawns(), 1);
}

#[tokio::test(start_paused = true)]
async fn clean_exit_of_a_finite_job_is_stopped() {
    let mut cfg = config();
    cfg.restart_on_clean_exit = false;
    let mut r = rig_with(cfg, spec());
    let p = r.running().await;
    p.exit(Exit::Code(0));
    let s = r.until("stopped", |s| s.state == State::Stopped).await;
    assert!(s.last_error.is_none());
    assert_eq!(r.spawner.spawns(), 1);
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_stops_the_child_and_ends_the_actor() {
    let mut r = rig();
    let p = r.running().await;
    r.shutdown.graceful.cancel();
    (&mut r.sup.task).await.unwrap();
    assert_eq!(p.signals(), [FakeSignal::RequestStop]);
    assert!(p.reaped());
    assert_eq!(r.status.borrow().state, State::Stopped);
    assert!(r.sup.handle.start().await.is_err(), "the actor is gone");
}

#[tokio::test(start_paused = true)]
async fn immediate_shutdown_kills_at_once() {
    let mut r = rig();
    r.spawner.push(FakeBehavior::Run { obey_stop: false });
    let p = r.running().await;
    let t0 = Instant::now();
    r.shutdown.graceful.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    r.shutdown.immediate.cancel();
    (&mut r.sup.task).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(100), "no stop timeout");
    assert_eq!(p.signals(), [FakeSignal::RequestStop, FakeSignal::Kill]);
    assert!(p.reaped());
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_backoff_ends_the_actor() {
    let mut r = rig();
    r.spawner.set_default(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec![],
    });
    r.sup.handle.start().await.unwrap();
    r.until("backoff", |s| s.state == State::Backoff).await;
    r.shutdown.graceful.cancel();
    (&mut r.sup.task).await.unwrap();
    assert_eq!(r.status.borrow().state, State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_stops_the_child() {
    let mut r = rig();
    let p = r.running().await;
    let Supervised { handle, task, .. } = r.sup;
    drop(handle);
    task.await.unwrap();
    assert_eq!(p.signals(), [FakeSignal::RequestStop]);
    assert!(p.reaped());
}

#[tokio::test(start_paused = true)]
async fn errors_are_redacted_everywhere() {
    let mut r = rig_with(config(), spec().secret(Secret::new("abcd-efgh-ijkl")));
    r.spawner.push(FakeBehavior::ExitAtOnce {
        exit: Exit::Code(1),
        stderr: vec![
            "[tcp @ 0x1] Connection to tcp://10.0.0.2:554 failed".into(),
            "rtsp://admin:secret@10.0.0.2/s: Connection refused".into(),
            "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl: I/O error".into(),
            "    Stream #0:0: Video: h264".into(),
            "frame=  100 fps= 25 q=-0.0 size=N/A".into(),
        ],
    });
    r.sup.handle.start().await.unwrap();
    let s = r.until("backoff", |s| s.state == State::Backoff).await;
    let e = s.last_error.unwrap();
    assert_eq!(
        e,
        "exited with code 1: [tcp @ 0x1] Connection to tcp://10.0.0.2:554 failed | \
         rtsp://***@10.0.0.2/s: Connection refused | \
         rtmp://a.rtmp.youtube.com/live2/***: I/O error"
    );
    let debug = format!("{:?}", r.sup.handle.status());
    assert!(!debug.contains("secret") && !debug.contains("abcd-efgh"));
    let spec_debug = format!("{:?}", spec().secret(Secret::new("abcd-efgh-ijkl")));
    assert!(!spec_debug.contains("admin:secret") && !spec_debug.contains("abcd-efgh"));
}

#[tokio::test(start_paused = true)]
async fn media_pipes_are_handed_out_every_run() {
    let spec = spec().stdin(StdinMode::Media).stdout(StdoutMode::Media);
    let mut r = rig_with(config(), spec);
    r.sup.handle.start().await.unwrap();
    let mut p = r.next_process().await;
    let mut io = r.sup.media.recv().await.unwrap();
    assert_eq!((io.run, io.pid), (1, Some(p.pid)));

    p.stdout
        .as_mut()
        .unwrap()
        .write_all(b"frame")
        .await
        .unwrap();
    let mut buf = [0u8; 5];
    io.stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .await
        .unwrap();
    assert_eq!(&buf, b"frame");
    io.stdin.as_mut().unwrap().write_all(b"raw").await.unwrap();
    let mut buf = [0u8; 3];
    p.stdin
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .await
        .unwrap();
    assert_eq!(&buf, b"raw");

    r.sup.handle.restart().await.unwrap();
    let q = r.next_process().await;
    let io2 = r.sup.media.recv().await.unwrap();
    assert_eq!((io2.run, io2.pid), (2, Some(q.pid)));
}

#[tokio::test(start_paused = true)]
async fn without_a_progress_source_spawn_means_running_and_no_stall() {
    let spec = spec().progress(crate::spawner::ProgressSource::None);
    let mut r = rig_with(config(), spec);
    r.sup.handle.start().await.unwrap();
    r.next_process().await;
    assert_eq!(r.sup.handle.status().state, State::Running);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(r.spawner.spawns(), 1);
}

#[tokio::test]
async fn manual_clock_drives_stall_detection() {
    // Real tokio time here: only the manual clock moves the supervisor's deadlines.
    let (spawner, mut spawns) = FakeSpawner::new();
    let clock = ManualClock::new();
    let deps = Deps {
        spawner: Arc::new(spawner.clone()),
        clock: Arc::new(clock.clone()),
    };
    let sup = supervise(spec(), config(), deps, CancellationToken::new());
    let mut status = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let p = spawns.recv().await.unwrap();
    p.frame(1);
    status
        .wait_for(|s| s.state == State::Running)
        .await
        .unwrap();

    clock.advance(Duration::from_millis(2900));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(status.borrow().state, State::Running, "not yet");
    assert!(p.signals().is_empty());

    clock.advance(Duration::from_millis(100));
    let s = status
        .wait_for(|s| s.state == State::Backoff)
        .await
        .unwrap()
        .clone();
    assert_eq!(s.last_error.as_deref(), Some("stalled: no progress for 3s"));
    assert_eq!(p.signals(), [FakeSignal::Kill]);

    clock.advance(Duration::from_millis(500));
    let q = spawns.recv().await.unwrap();
    assert_ne!(q.pid, p.pid);
    assert_eq!(status.borrow().restarts, 1);
}

/// Captures what a `fmt` subscriber writes, for checking log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(start_paused = true)]
async fn every_log_line_about_a_child_says_whose_it_is() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The runtime is single-threaded: the actor's task logs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let spec = spec().span(tracing::info_span!(
        "ffmpeg",
        role = "ingest",
        program_id = 7,
        camera_id = 3
    ));
    let mut r = rig_with(config(), spec);
    let p = r.running().await;
    p.stderr("[rtsp @ 0x5] Connection to tcp://10.0.0.2:554 failed: Connection refused");
    p.exit(Exit::Code(1));
    r.until("backoff", |s| s.state == State::Backoff).await;
    let q = r.next_process().await;
    q.frame(1);
    r.until("running again", |s| s.state == State::Running)
        .await;
    r.sup.handle.stop().await.unwrap();

    let text = logs.text();
    let whose = r#"ffmpeg{role="ingest" program_id=7 camera_id=3}"#;
    for event in [
        "started",
        "running",
        "run failed",
        "stopped",
        "Connection refused",
    ] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(event)).collect();
        assert!(!lines.is_empty(), "no {event:?} line in:\n{text}");
        for l in lines {
            assert!(l.contains(whose), "{event:?} line without its span: {l}");
        }
    }
    assert!(!text.contains("secret"), "{text}");

    // Without a span of its own, a child's lines carry its name.
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut r = rig();
    r.running().await;
    r.sup.handle.stop().await.unwrap();
    let started = logs
        .text()
        .lines()
        .find(|l| l.contains("started"))
        .map(str::to_owned);
    assert!(
        started
            .as_deref()
            .is_some_and(|l| l.contains(r#"child{name=cam 1}"#)),
        "{started:?}"
    );
}

#[test]
fn state_names_are_the_serialized_ones() {
    for s in [
        State::Idle,
        State::Starting,
        State::Running,
        State::Backoff,
        State::Failed,
        State::Stopped,
    ] {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::from(s.as_str())
        );
    }
}
