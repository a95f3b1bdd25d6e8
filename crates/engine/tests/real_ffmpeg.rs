//! The supervisor against real FFmpeg processes (lavfi sources, no network): progress over the
//! fd-3 pipe, stall detection of a SIGSTOPped child, backoff, stop and shutdown, with /proc
//! checked for leftovers.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vs_engine::*;

const FFMPEG: &str = "ffmpeg";

fn testsrc(size: &str) -> Vec<String> {
    [
        "-hide_banner",
        "-re",
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc=size={size}:rate=25"),
    ]
    .map(String::from)
    .to_vec()
}

fn null_sink_spec(name: &str) -> ProcessSpec {
    ProcessSpec::new(name, FFMPEG)
        .args(testsrc("320x240"))
        .args(["-f", "null", "-"])
}

fn config() -> SupervisorConfig {
    SupervisorConfig {
        startup_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(2),
        stop_timeout: Duration::from_secs(3),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(200),
            jitter: 0.0,
            ..BackoffPolicy::default()
        },
        ..SupervisorConfig::default()
    }
}

async fn until(
    rx: &mut watch::Receiver<Status>,
    within: Duration,
    what: &str,
    pred: impl FnMut(&Status) -> bool,
) -> Status {
    let got = tokio::time::timeout(within, rx.wait_for(pred))
        .await
        .map(|r| r.map(|s| s.clone()));
    match got {
        Ok(Ok(s)) => s,
        _ => panic!("not reached in {within:?}: {what}; last {:?}", *rx.borrow()),
    }
}

/// A reaped process has no /proc entry; a zombie still has one.
fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Processes still in the process group led by `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may contain spaces: fields start after the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[2].parse::<u32>().ok() == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

fn frame(s: &Status) -> u64 {
    s.progress.as_ref().and_then(|p| p.frame).unwrap_or(0)
}

#[tokio::test]
async fn runs_with_advancing_frames_then_stops_gracefully() {
    let sup = supervise(
        null_sink_spec("null"),
        config(),
        Deps::real(),
        CancellationToken::new(),
    );
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let s = until(&mut rx, Duration::from_secs(5), "running", |s| {
        s.state == State::Running
    })
    .await;
    let pid = s.pid.unwrap();
    let first = frame(&s);
    let s = until(&mut rx, Duration::from_secs(5), "frames advance", |s| {
        frame(s) >= first + 25
    })
    .await;
    let p = s.progress.unwrap();
    assert!(p.out_time_us.unwrap() > 0);
    assert!(p.speed.is_some());
    assert_eq!(s.restarts, 0);

    let t0 = Instant::now();
    sup.handle.stop().await.unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(1), "`q` works at once: {took:?}");
    assert_eq!(sup.handle.status().state, State::Stopped);
    assert!(gone(pid), "reaped");
    assert!(group_members(pid).is_empty());
}

#[tokio::test]
async fn sigstopped_child_is_caught_as_stalled_and_replaced() {
    let cfg = config();
    let stall = cfg.stall_timeout;
    let sup = supervise(
        null_sink_spec("frozen"),
        cfg,
        Deps::real(),
        CancellationToken::new(),
    );
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let s = until(&mut rx, Duration::from_secs(5), "running", |s| {
        s.state == State::Running && frame(s) > 5
    })
    .await;
    let old = s.pid.unwrap();

    kill(Pid::from_raw(old as i32), Signal::SIGSTOP).unwrap();
    let frozen_at = Instant::now();
    let s = until(
        &mut rx,
        stall + Duration::from_secs(1),
        "stall detected",
        |s| s.state == State::Backoff,
    )
    .await;
    let detected = frozen_at.elapsed();
    assert!(
        detected >= stall - Duration::from_millis(600),
        "{detected:?}"
    );
    assert_eq!(s.last_error.as_deref(), Some("stalled: no progress for 2s"));
    assert!(gone(old), "killed while stopped, and reaped: no zombie");
    assert!(group_members(old).is_empty(), "no orphan in its group");

    let s = until(&mut rx, Duration::from_secs(5), "running again", |s| {
        s.state == State::Running
    })
    .await;
    assert_eq!(s.restarts, 1);
    assert_ne!(s.pid, Some(old));

    sup.handle.stop().await.unwrap();
    assert!(gone(s.pid.unwrap()));
}

#[tokio::test]
async fn failing_command_backs_off_with_growing_delays() {
    let spec = ProcessSpec::new("broken", FFMPEG).args([
        "-hide_banner",
        "-f",
        "lavfi",
        "-i",
        "nosuchfilter",
        "-f",
        "null",
        "-",
    ]);
    let sup = supervise(spec, config(), Deps::real(), CancellationToken::new());
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let mut delays = Vec::new();
    let mut at = Vec::new();
    for n in 1..=4 {
        let s = until(&mut rx, Duration::from_secs(5), "backoff", |s| {
            s.state == State::Backoff && s.consecutive_failures == n
        })
        .await;
        at.push(Instant::now());
        delays.push(s.backoff.unwrap());
        let e = s.last_error.unwrap();
        assert!(e.starts_with("exited with code 1: "), "{e}");
        assert!(
            e.contains("nosuchfilter"),
            "FFmpeg's own message is kept: {e}"
        );
    }
    let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [200, 400, 800, 1600]);
    for (i, pair) in at.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(gap >= delays[i], "retry {i} waited its delay: {gap:?}");
    }
    assert_eq!(sup.handle.status().restarts, 3);
    sup.handle.stop().await.unwrap();
}

#[tokio::test]
async fn stop_of_a_frozen_child_escalates_to_sigkill() {
    let mut cfg = config();
    cfg.stall_timeout = Duration::from_secs(30);
    let stop_timeout = cfg.stop_timeout;
    let sup = supervise(
        null_sink_spec("frozen stop"),
        cfg,
        Deps::real(),
        CancellationToken::new(),
    );
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let s = until(&mut rx, Duration::from_secs(5), "running", |s| {
        s.state == State::Running
    })
    .await;
    let pid = s.pid.unwrap();
    kill(Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
    let t0 = Instant::now();
    sup.handle.stop().await.unwrap();
    let took = t0.elapsed();
    assert!(
        took >= stop_timeout - Duration::from_millis(100),
        "{took:?}"
    );
    assert!(took < stop_timeout + Duration::from_secs(1), "{took:?}");
    assert_eq!(sup.handle.status().state, State::Stopped);
    assert!(gone(pid));
}

#[tokio::test]
async fn shutdown_token_takes_every_child_down() {
    let shutdown = CancellationToken::new();
    let mut sups = Vec::new();
    for i in 0..3 {
        sups.push(supervise(
            null_sink_spec(&format!("child {i}")),
            config(),
            Deps::real(),
            shutdown.clone(),
        ));
    }
    let mut pids = Vec::new();
    for sup in &sups {
        sup.handle.start().await.unwrap();
        let mut rx = sup.handle.subscribe();
        let s = until(&mut rx, Duration::from_secs(5), "running", |s| {
            s.state == State::Running
        })
        .await;
        pids.push(s.pid.unwrap());
    }
    let t0 = Instant::now();
    shutdown.cancel();
    for sup in sups {
        tokio::time::timeout(Duration::from_secs(5), sup.task)
            .await
            .expect("actor ends")
            .unwrap();
        assert_eq!(sup.handle.status().state, State::Stopped);
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    for pid in pids {
        assert!(gone(pid), "{pid} left behind");
        assert!(group_members(pid).is_empty());
    }
}

#[tokio::test]
async fn raw_frames_on_stdout_while_progress_uses_fd3() {
    // The ingest shape: decoded frames on stdout, progress on the side pipe.
    let spec = ProcessSpec::new("ingest", FFMPEG)
        .args(testsrc("64x48"))
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"])
        .stdin(StdinMode::Null)
        .stdout(StdoutMode::Media);
    assert_eq!(spec.progress, ProgressSource::Fd3);
    let mut sup = supervise(spec, config(), Deps::real(), CancellationToken::new());
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let mut io = sup.media.recv().await.unwrap();
    assert!(io.stdin.is_none());
    let mut stdout = io.stdout.take().unwrap();

    const FRAME: usize = 64 * 48 * 3 / 2;
    let mut buf = vec![0u8; FRAME * 20];
    tokio::time::timeout(Duration::from_secs(5), stdout.read_exact(&mut buf))
        .await
        .expect("20 frames within 5 s")
        .unwrap();
    let s = until(&mut rx, Duration::from_secs(5), "progress", |s| {
        s.state == State::Running && frame(s) >= 20
    })
    .await;
    assert_eq!(s.pid, io.pid);

    // A stop must not depend on the reader: FFmpeg blocked on a full stdout pipe still dies.
    let t0 = Instant::now();
    sup.handle.stop().await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(4));
    assert!(gone(s.pid.unwrap()));
}

#[tokio::test]
async fn frames_fed_on_stdin_and_progress_on_stdout() {
    // The program-encoder shape: the caller writes raw frames; with stdin taken, stop = SIGINT.
    let spec = ProcessSpec::new("encoder", FFMPEG)
        .args([
            "-hide_banner",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            "64x48",
            "-r",
            "25",
            "-i",
            "pipe:0",
            "-f",
            "null",
            "-",
        ])
        .progress(ProgressSource::Stdout)
        .stdin(StdinMode::Media);
    let mut sup = supervise(spec, config(), Deps::real(), CancellationToken::new());
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let mut io = sup.media.recv().await.unwrap();
    assert!(io.stdout.is_none(), "stdout carries progress");
    let mut stdin = io.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        let frame = vec![128u8; 64 * 48 * 3 / 2];
        let mut tick = tokio::time::interval(Duration::from_millis(40));
        loop {
            tick.tick().await;
            if stdin.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    let s = until(&mut rx, Duration::from_secs(5), "encoding", |s| {
        s.state == State::Running && frame(s) >= 10
    })
    .await;
    let pid = s.pid.unwrap();
    let t0 = Instant::now();
    sup.handle.stop().await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1), "SIGINT is enough");
    assert!(gone(pid));
    tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .expect("the writer sees the pipe close")
        .unwrap();
}

#[tokio::test]
async fn missing_binary_is_failed_not_retried() {
    let spec = ProcessSpec::new("nobody", "/nonexistent/ffmpeg").args(["-version"]);
    let sup = supervise(spec, config(), Deps::real(), CancellationToken::new());
    sup.handle.start().await.unwrap();
    let s = sup.handle.status();
    assert_eq!(s.state, State::Failed);
    assert!(s
        .last_error
        .unwrap()
        .starts_with("cannot start /nonexistent/ffmpeg"));
}

#[tokio::test]
async fn stderr_credentials_never_reach_the_status() {
    let spec = ProcessSpec::new("leaky", FFMPEG)
        .args([
            "-hide_banner",
            "-rw_timeout",
            "1000000",
            "-i",
            "rtsp://admin:hunter2@127.0.0.1:1/stream",
            "-f",
            "null",
            "-",
        ])
        .secret(vs_base::Secret::new("hunter2"));
    let sup = supervise(spec, config(), Deps::real(), CancellationToken::new());
    let mut rx = sup.handle.subscribe();
    sup.handle.start().await.unwrap();
    let s = until(&mut rx, Duration::from_secs(8), "backoff", |s| {
        s.state == State::Backoff
    })
    .await;
    let e = s.last_error.unwrap();
    eprintln!("last_error: {e}");
    assert!(!e.contains("hunter2") && !e.contains("admin"), "{e}");
    assert!(e.contains("127.0.0.1:1"), "{e}");
    sup.handle.stop().await.unwrap();
}

#[tokio::test]
async fn encoder_probe_finds_libx264() {
    let version = ffmpeg_version(Path::new(FFMPEG)).await.unwrap();
    assert!(
        version.chars().next().unwrap().is_ascii_alphanumeric(),
        "{version}"
    );

    let opts = ProbeOptions {
        width: 320,
        height: 240,
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let probe = probe_encoders_with(Path::new(FFMPEG), &["h264_nosuch", "libx264"], &opts)
        .await
        .unwrap();
    assert_eq!(probe.selected.as_deref(), Some("libx264"));
    assert!(!probe.results[0].ok);
    assert!(
        probe.results[0]
            .error
            .as_deref()
            .unwrap()
            .contains("h264_nosuch"),
        "{:?}",
        probe.results[0]
    );
    assert!(probe.results[1].ok);

    let err = ffmpeg_version(Path::new("/nonexistent/ffmpeg"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, vs_base::ErrorKind::Unavailable);
}

/// The preset probe really encodes: each trial has a speed, the trials stop at the first
/// preset with headroom, and the chosen one is that preset (or ultrafast, flagged, when none
/// had it).
#[tokio::test]
async fn preset_probe_measures_real_time_speed() {
    let probe = probe_x264_preset(Path::new(FFMPEG), 320, 180, 30)
        .await
        .unwrap();
    eprintln!("{probe:#?}");
    assert_eq!((probe.width, probe.height, probe.fps), (320, 180, 30));
    assert!(!probe.trials.is_empty());
    assert_eq!(probe.trials[0].preset, "veryfast");
    for t in &probe.trials {
        let speed = t.speed.unwrap_or_else(|| panic!("{t:?}"));
        // 320x180 is a tiny fraction of what any machine encodes in real time; a speed
        // outside this range would be a wrong measurement, not a slow machine.
        assert!(speed > 0.5 && speed < 1000.0, "{t:?}");
        assert!(t.error.is_none(), "{t:?}");
    }
    // Every trial before the last fell short of the headroom; the last is the choice.
    for t in &probe.trials[..probe.trials.len() - 1] {
        assert!(t.speed.unwrap() < REALTIME_HEADROOM, "{probe:#?}");
    }
    let last = probe.trials.last().unwrap();
    if probe.holds_real_time {
        assert_eq!(probe.selected, last.preset);
        assert!(probe.speed.unwrap() >= REALTIME_HEADROOM);
    } else {
        assert_eq!(probe.selected, "ultrafast");
    }
    assert_eq!(probe.speed, last.speed);

    // The figure is a measurement: a picture 36 times larger encodes measurably slower.
    let one = PresetProbeOptions {
        presets: vec!["ultrafast".into()],
        ..Default::default()
    };
    let small = probe_x264_preset_with(Path::new(FFMPEG), 320, 180, 30, &one)
        .await
        .unwrap();
    let large = probe_x264_preset_with(Path::new(FFMPEG), 1920, 1080, 30, &one)
        .await
        .unwrap();
    eprintln!(
        "ultrafast: {:?} at 320x180, {:?} at 1920x1080",
        small.speed, large.speed
    );
    assert!(
        small.speed.unwrap() > 2.0 * large.speed.unwrap(),
        "{small:#?} {large:#?}"
    );

    let err = probe_x264_preset(Path::new("/nonexistent/ffmpeg"), 320, 180, 30)
        .await
        .unwrap_err();
    assert_eq!(err.kind, vs_base::ErrorKind::Unavailable);
}

#[tokio::test]
async fn full_probe_tries_every_candidate_in_order() {
    let probe = probe_encoders(Path::new(FFMPEG)).await.unwrap();
    eprintln!("{probe:#?}");
    let names: Vec<&str> = probe.results.iter().map(|r| r.encoder.as_str()).collect();
    assert_eq!(names, CANDIDATES);
    let first_ok = probe
        .results
        .iter()
        .find(|r| r.ok)
        .map(|r| r.encoder.clone());
    assert_eq!(probe.selected, first_ok);
    assert!(probe.selected.is_some(), "{probe:#?}");
    for r in &probe.results {
        assert_eq!(r.ok, r.error.is_none(), "{r:?}");
    }
}
