//! The program feed end to end, with real FFmpeg, real RTSP cameras (GStreamer) read through
//! the camera hub and a real RTMP ingest (nginx-rtmp): takes (pre-rolled and not, each
//! camera's colour in turn, every picture live), camera loss and return, overlays in the
//! received pixels, a dead destination next to a live one, an encoder crash; and a real SRT
//! listener (FFmpeg) for the container an SRT destination receives.
//!
//! Every camera accepts one RTSP session (`--max-clients 1`): the hub's session is the only
//! connection, whatever the program decodes.
//!
//! The tests share two CPU cores with their cameras and FFmpegs, so they run one at a time
//! (`serial()`), at 320x180 25 fps.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::wait_status;
use tokio_util::sync::CancellationToken;
use vs_base::{Secret, StreamUrl};
use vs_engine::hub::{CameraHub, ConsumerKind, HubOptions, SessionState, SourceConfig};
use vs_engine::program::{encode_png, RgbaImage};
use vs_engine::*;
use vs_testrig::{
    frame_count, ms_between, packet_times, probe_streams, processes_with_marker, read_time_bars,
    wait_no_processes_with_marker, wall_clock_ms, CameraOptions, FakeCamera, RtmpOptions,
    RtmpServer, StreamKind,
};

const W: u32 = 320;
const H: u32 = 180;
const FPS: u32 = 25;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "vs_engine=info,retina=warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A camera that accepts a single RTSP session.
async fn camera(name: &str) -> FakeCamera {
    start_camera(
        CameraOptions::new(name)
            .size(W, H)
            .fps(FPS)
            .audio(true)
            .path(format!("/{}", name.to_lowercase())),
    )
    .await
}

async fn start_camera(opts: CameraOptions) -> FakeCamera {
    FakeCamera::start(opts.max_clients(1))
        .await
        .expect("fake camera")
}

/// The appliance's camera hub, with a short reconnect backoff (a lost camera is retried
/// within 2 s).
fn hub() -> CameraHub {
    let opts = HubOptions {
        backoff: BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(2),
            ..HubOptions::default().backoff
        },
        ..HubOptions::default()
    };
    CameraHub::new(opts, Deps::real(), CancellationToken::new())
}

/// Camera `id` of the hub, connected (its session playing) before the program uses it.
async fn source(hub: &CameraHub, id: i64, cam: &FakeCamera) -> SourceSpec {
    let parsed = StreamUrl::parse(&cam.url(), "url").unwrap();
    hub.configure(id, SourceConfig::new(parsed.url))
        .await
        .unwrap();
    let session = hub.session(id).unwrap();
    assert!(
        session.wait_playing(Duration::from_secs(20)).await,
        "camera {id} not playing: {:?}",
        session.stats()
    );
    SourceSpec::hub(hub, id, cam.options().name.clone())
}

/// The hub's session is the camera's only one, and the program is among its consumers.
fn assert_one_session(hub: &CameraHub, id: i64) {
    let stats = hub.session(id).unwrap().stats();
    assert_eq!(stats.state, SessionState::Playing, "{stats:?}");
    assert!(
        stats
            .consumers
            .get(&ConsumerKind::Program)
            .is_some_and(|n| *n >= 1),
        "the program decodes the hub's session: {stats:?}"
    );
}

fn output(id: i64, name: &str, url: String, key: &str) -> OutputSpec {
    let mut o = OutputSpec::new(id, name, url);
    o.secrets.push(Secret::new(key));
    o
}

fn config(name: &str, outputs: Vec<OutputSpec>) -> ProgramConfig {
    let mut c = ProgramConfig::new(name, W, H, FPS);
    c.video_bitrate_kbps = 500;
    c.audio_bitrate_kbps = 64;
    c.outputs = outputs;
    c.slate.text = "Back soon".into();
    c
}

/// Waits until the RTMP server has received `secs` more seconds of program (by the program's
/// own tick count: the output runs at exactly the program's rate).
async fn run_for(p: &ProgramHandle, secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let s = p.status();
    assert!(s.ticks > 0, "the program clock runs");
}

struct Received {
    video_packets: usize,
    span: f64,
    largest_gap: f64,
    audio_codec: Option<String>,
}

/// Checks what the RTMP server recorded for `key`: exactly one session, H.264 + AAC,
/// monotonic video timestamps with no gap larger than two frame intervals, constant rate.
async fn check_recording(rtmp: &RtmpServer, key: &str) -> Received {
    let recs = rtmp.recordings_for(key);
    assert_eq!(
        recs.len(),
        1,
        "one RTMP session, one recording: {recs:?}\nnginx log:\n{}",
        rtmp.log()
    );
    let info = probe_streams(&recs[0]).await.expect("ffprobe recording");
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!(info.audio_codec(), Some("aac"), "AAC always present");
    assert_eq!((info.width(), info.height()), (Some(W), Some(H)));
    let video = packet_times(&recs[0], StreamKind::Video)
        .await
        .expect("video packets");
    video.assert_monotonic();
    let gap = video.largest_gap().map(|g| g.seconds).unwrap_or(0.0);
    assert!(
        gap <= 2.0 / FPS as f64 + 0.001,
        "largest video timestamp gap {gap:.3} s is more than two frame intervals"
    );
    let audio = packet_times(&recs[0], StreamKind::Audio)
        .await
        .expect("audio packets");
    audio.check_non_decreasing().expect("audio timestamps");
    assert!(
        audio.span() > video.span() - 1.0,
        "audio all along: {} s of audio for {} s of video",
        audio.span(),
        video.span()
    );
    // Constant frame rate: one packet per frame interval, no more, no fewer.
    let expected = video.span() * FPS as f64 + 1.0;
    let n = video.len() as f64;
    assert!(
        (n - expected).abs() <= 2.0,
        "{n} video packets over {:.2} s: expected {expected:.0} at {FPS} fps",
        video.span()
    );
    Received {
        video_packets: video.len(),
        span: video.span(),
        largest_gap: gap,
        audio_codec: info.audio_codec().map(str::to_owned),
    }
}

/// Decodes the recording to tiny grey frames and returns each frame's mean luma.
async fn mean_luma_per_frame(file: &Path) -> Vec<f64> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-vf", "scale=32:18,format=gray", "-f", "rawvideo", "-"])
        .output()
        .await
        .expect("ffmpeg decode");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(32 * 18)
        .map(|f| f.iter().map(|&y| y as f64).sum::<f64>() / f.len() as f64)
        .collect()
}

/// One decoded frame of the recording at `at` seconds (or `from_end` seconds before its end)
/// as RGB24.
async fn rgb_frame(file: &Path, seek: &[&str]) -> Vec<u8> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(seek)
        .arg("-i")
        .arg(file)
        .args(["-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .await
        .expect("ffmpeg decode");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), (W * H * 3) as usize);
    out.stdout
}

fn rgb_at(frame: &[u8], x: u32, y: u32) -> (i32, i32, i32) {
    let i = ((y * W + x) * 3) as usize;
    (frame[i] as i32, frame[i + 1] as i32, frame[i + 2] as i32)
}

fn close(a: (i32, i32, i32), b: (i32, i32, i32), tol: i32) -> bool {
    (a.0 - b.0).abs() <= tol && (a.1 - b.1).abs() <= tol && (a.2 - b.2).abs() <= tol
}

async fn assert_no_leftovers(markers: &[&str]) {
    for m in markers {
        wait_no_processes_with_marker(m, Duration::from_secs(5))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_takes_between_two_cameras_are_one_rtmp_session() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let (a, b) = (camera("TakeA").await, camera("TakeB").await);
    let key = "takes-key-5d1";
    let cfg = config(
        "takes",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    let (sa, sb) = (source(&hub, 1, &a).await, source(&hub, 2, &b).await);
    p.preroll(sa.clone()).await.unwrap();
    p.preroll(sb.clone()).await.unwrap();
    wait_status(
        &mut rx,
        Duration::from_secs(20),
        "both cameras decode",
        |s| s.ingests.len() == 2 && s.ingests.iter().all(|i| i.frames > 0),
    )
    .await;
    p.take(sa.clone()).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(5), "A on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    run_for(&p, 2.0).await;

    let mut latencies = Vec::new();
    let mut gaps = Vec::new();
    let started = Instant::now();
    // Frames dropped while the encoder was starting up do not count.
    let dropped_before = p.status().dropped_frames;
    for i in 0..10 {
        let (src, id) = if i % 2 == 0 { (&sb, 2) } else { (&sa, 1) };
        let before = p.status().ticks;
        p.take(src.clone()).await.unwrap();
        let s = wait_status(&mut rx, Duration::from_secs(2), "take", |s| {
            s.on_air == Some(id) && s.pending_take.is_none() && s.ticks > before
        })
        .await;
        assert!(!s.slate_active, "a pre-rolled take never shows the slate");
        // The status is published right after the tick that committed the take.
        let s = wait_status(&mut rx, Duration::from_secs(2), "latency", |s| {
            s.take_latency_ms.is_some() && s.ticks > before + 1
        })
        .await;
        latencies.push(s.take_latency_ms.unwrap());
        gaps.push(s.switch_gap_frames.unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(2800)).await;
    }
    let takes_took = started.elapsed();
    run_for(&p, 1.0).await;
    let s = p.status();
    eprintln!(
        "ten takes in {takes_took:.1?}: take-to-air latency ms {latencies:?}, switch gap frames \
         {gaps:?}; ticks {} duplicated {} slate {} dropped {} fps {:.2}; encoder {:?} speed {:?}",
        s.ticks,
        s.duplicated_frames,
        s.slate_frames,
        s.dropped_frames,
        s.fps_measured,
        s.encoder.state,
        s.encoder.progress.as_ref().and_then(|p| p.speed)
    );
    assert!(takes_took < Duration::from_secs(60));
    assert!(latencies.iter().all(|&l| l <= 200), "{latencies:?}");
    assert!(gaps.iter().all(|&g| g <= 2), "{gaps:?}");
    assert!(
        (s.fps_measured - FPS as f64).abs() < 1.5,
        "{}",
        s.fps_measured
    );
    assert_eq!(s.encoder.restarts, 0, "the encoder never restarted");
    // A busy machine may delay the encoder for a moment; more than 1 % is a problem.
    assert!(
        (s.dropped_frames - dropped_before) * 100 <= s.ticks,
        "dropped {} during the takes",
        s.dropped_frames - dropped_before
    );
    assert_eq!(
        s.outputs[0].status.restarts, 0,
        "the egress never restarted"
    );
    assert_one_session(&hub, 1);
    assert_one_session(&hub, 2);

    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(rtmp.publish_count(), 1, "one RTMP session");
    let r = check_recording(&rtmp, key).await;
    eprintln!(
        "received {} video packets over {:.2} s, largest gap {:.3} s, audio {:?}",
        r.video_packets, r.span, r.largest_gap, r.audio_codec
    );
    assert!(r.span > 30.0, "{}", r.span);
    assert_no_leftovers(&[key, &a.url(), &b.url()]).await;
}

/// What a frame of a recording of `--time-bars` cameras shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Red,
    Blue,
    /// The slate, or anything else.
    Other,
}

/// Each frame of a recording (decoded at the program's size): whose colour it shows below the
/// time bars, and the capture time the bars carry.
async fn seen_frames(file: &Path) -> Vec<(Seen, Option<u32>)> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args([
            "-map", "0:v:0", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-",
        ])
        .output()
        .await
        .expect("ffmpeg decode");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h) = (W as usize, H as usize);
    let (cw, ch) = (w / 2, h / 2);
    out.stdout
        .chunks_exact(w * h * 3 / 2)
        .map(|f| {
            let mean = |plane: &[u8]| {
                // The lower half of the picture: well below the bars.
                let rows = &plane[cw * (ch / 2)..cw * (ch - 2)];
                rows.iter().map(|&v| v as f64).sum::<f64>() / rows.len() as f64
            };
            let u = mean(&f[w * h..w * h + cw * ch]);
            let v = mean(&f[w * h + cw * ch..]);
            let seen = if v > 190.0 && u < 140.0 {
                Seen::Red
            } else if u > 190.0 && v < 160.0 {
                Seen::Blue
            } else {
                Seen::Other
            };
            (seen, read_time_bars(&f[..w * h], w, h))
        })
        .collect()
}

/// Takes between two cameras of the hub, first without pre-roll (the other camera is released
/// after each take, so each take starts a decoder from the session's cached keyframe, at
/// varying points of a 2 s GOP), then pre-rolled. The received stream shows each camera's
/// colour in turn, with continuous timestamps, and the first pictures of every take were
/// captured after the take (give or take the camera's own latency): a take never shows the
/// cached keyframe or anything else older than itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_put_each_camera_on_air_live_whether_pre_rolled_or_not() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let cam = |name: &str, color: &str| {
        CameraOptions::new(name)
            .size(W, H)
            .fps(FPS)
            .gop(2 * FPS)
            .time_bars(color)
            .overlay(false)
            .path(format!("/{}", name.to_lowercase()))
    };
    let red = start_camera(cam("Red", "red")).await;
    let blue = start_camera(cam("Blue", "blue")).await;
    let key = "live-takes-key-3f0";
    let cfg = config(
        "live takes",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    let sources = [source(&hub, 1, &red).await, source(&hub, 2, &blue).await];
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    run_for(&p, 1.0).await;

    // (camera, wall clock ms at the take, pre-rolled, take-to-air ms, age of its first frame)
    let mut takes: Vec<(i64, u32, bool, f64, f64)> = Vec::new();
    for i in 0..12u64 {
        let pre_rolled = i >= 6;
        let id = (i % 2) as i64 + 1;
        let other = 3 - id;
        if pre_rolled {
            p.preroll(sources[id as usize - 1].clone()).await.unwrap();
        }
        // Spread the takes over the cameras' GOP.
        tokio::time::sleep(Duration::from_millis(900 + (i * 370) % 1300)).await;
        if pre_rolled {
            wait_status(&mut rx, Duration::from_secs(10), "pre-rolled", |s| {
                s.ingests.iter().any(|g| g.id == id && g.caught_up)
            })
            .await;
        } else {
            assert!(
                p.status().ingests.iter().all(|g| g.id != id),
                "camera {id} is not decoded before its take"
            );
        }
        let before = p.status().ticks;
        let at = wall_clock_ms();
        p.take(sources[id as usize - 1].clone()).await.unwrap();
        let s = wait_status(&mut rx, Duration::from_secs(10), "take on air", |s| {
            s.on_air == Some(id)
                && s.last_take
                    .as_ref()
                    .is_some_and(|t| t.source == id && t.tick >= before)
        })
        .await;
        assert!(!s.slate_active, "{s:#?}");
        let t = s.last_take.unwrap();
        assert_eq!(t.pre_rolled, pre_rolled, "{t:?}");
        takes.push((id, at, t.pre_rolled, t.latency_ms, t.frame_age_ms));
        if !pre_rolled {
            p.release(other).await.unwrap();
        }
    }
    run_for(&p, 1.0).await;
    let s = p.status();
    assert_eq!(s.encoder.restarts, 0);
    assert_one_session(&hub, 1);
    assert_one_session(&hub, 2);
    for (id, _, pre, latency, age) in &takes {
        eprintln!(
            "take of camera {id} ({}): {latency:.0} ms to air, first frame {age:.0} ms old",
            if *pre { "pre-rolled" } else { "not pre-rolled" }
        );
    }
    let pre: Vec<f64> = takes.iter().filter(|t| t.2).map(|t| t.3).collect();
    assert!(
        pre.iter().all(|&l| l <= 200.0),
        "a pre-rolled take is on air at the next tick: {pre:?}"
    );
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let r = check_recording(&rtmp, key).await;

    let rec = rtmp.recordings_for(key).remove(0);
    let frames = seen_frames(&rec).await;
    assert!(
        frames.len() as f64 >= r.span * FPS as f64 - 2.0,
        "{} frames decoded for {:.1} s",
        frames.len(),
        r.span
    );
    // Where each camera's run starts.
    let mut starts = Vec::new();
    let mut current = Seen::Other;
    for (i, (seen, _)) in frames.iter().enumerate() {
        if *seen != Seen::Other && *seen != current {
            starts.push(i);
            current = *seen;
        }
    }
    let order: Vec<Seen> = starts.iter().map(|&i| frames[i].0).collect();
    let expected: Vec<Seen> = takes
        .iter()
        .map(|t| if t.0 == 1 { Seen::Red } else { Seen::Blue })
        .collect();
    assert_eq!(order, expected, "each camera's colour in turn");
    for (k, &start) in starts.iter().enumerate() {
        let (_, at, pre, ..) = takes[k];
        let first: Vec<i64> = frames[start..(start + 5).min(frames.len())]
            .iter()
            .map(|(_, code)| {
                let code = code.unwrap_or_else(|| panic!("take {k}: no time code at {start}"));
                ms_between(code, at)
            })
            .collect();
        eprintln!(
            "take {k} ({}): first frames on air captured {first:?} ms after the take",
            if pre { "pre-rolled" } else { "not pre-rolled" }
        );
        assert!(
            first.iter().all(|&d| d >= -200),
            "take {k}: a picture older than the take went on air: {first:?} ms"
        );
        assert!(
            first.windows(2).all(|w| w[1] >= w[0]),
            "take {k}: time goes forward: {first:?}"
        );
    }
    // Within each camera's run, capture times never go back (no cached picture shown late).
    for (i, pair) in frames.windows(2).enumerate() {
        if let ((a, Some(ta)), (b, Some(tb))) = (pair[0], pair[1]) {
            if a == b && a != Seen::Other {
                assert!(
                    ms_between(tb, ta) >= 0,
                    "frame {}: capture time went back {} ms",
                    i + 1,
                    ms_between(ta, tb)
                );
            }
        }
    }
    assert_no_leftovers(&[key, &red.url(), &blue.url()]).await;
}

/// The camera decoder processes running below this test (FFmpegs reading the hub's MPEG-TS on
/// stdin and writing raw frames): the program's warm spare among them, zombies not. The tests
/// of this file run one at a time, so they are this program's.
fn decoder_processes() -> Vec<u32> {
    vs_testrig::ffmpeg_processes()
        .into_iter()
        .filter(|p| {
            let cmd = p.cmdline.join(" ");
            !p.is_zombie()
                && cmd.contains("-f mpegts -i pipe:0")
                && cmd.ends_with("rawvideo pipe:1")
        })
        .map(|p| p.pid)
        .collect()
}

/// Waits until exactly `n` decoder processes run (the spare is replaced a second after it is
/// used), then checks that it stays so for `hold`: no other decoder starts.
async fn assert_decoders(n: usize, hold: Duration, what: &str) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while decoder_processes().len() != n {
        assert!(
            Instant::now() < deadline,
            "{what}: {n} decoder processes expected, found {:?}",
            decoder_processes()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let until = Instant::now() + hold;
    while Instant::now() < until {
        let now = decoder_processes();
        assert_eq!(now.len(), n, "{what}: decoder processes {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    decoder_processes()
}

/// The pid of a source's decoder, from the program's status.
fn decoder_pid(s: &ProgramStatus, id: i64) -> u32 {
    let i = s.ingests.iter().find(|i| i.id == id);
    i.and_then(|i| i.status.pid)
        .unwrap_or_else(|| panic!("camera {id} has a decoder: {:#?}", s.ingests))
}

/// Economy: a pre-roll starts no decoder, and after each take only the on-air camera's decoder
/// runs (besides the warm spare), counted as processes; every take still commits with a live
/// picture (the received stream shows each camera's colour in turn, its first frames captured
/// after the take). Switched live to instant, a pre-roll decodes again (one more process) and
/// its take is pre-rolled; back to economy, the off-air decoder stops at once. The status
/// reports what each choice costs here: a decoder's CPU and both kinds of take-to-air.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn economy_decodes_only_the_on_air_camera_and_takes_still_go_live() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let cam = |name: &str, color: &str| {
        CameraOptions::new(name)
            .size(W, H)
            .fps(FPS)
            .gop(2 * FPS)
            .time_bars(color)
            .overlay(false)
            .path(format!("/{}", name.to_lowercase()))
    };
    let red = start_camera(cam("EcoRed", "red")).await;
    let blue = start_camera(cam("EcoBlue", "blue")).await;
    let key = "economy-key-5d1";
    let mut cfg = config(
        "economy",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    cfg.preroll = Preroll::Economy;
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    let (sr, sb) = (source(&hub, 1, &red).await, source(&hub, 2, &blue).await);
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(p.status().preroll.mode, Preroll::Economy);
    assert_eq!(p.status().preroll.decoder_cpu_pct, None, "not measured yet");
    // Before any take: the spare alone.
    assert_decoders(1, Duration::from_millis(500), "no camera decoded").await;

    // (camera, wall clock ms at the take)
    let mut takes: Vec<(i64, u32)> = Vec::new();
    let (tp, trx) = (p.clone(), rx.clone());
    let take = move |id: i64, src: SourceSpec, pre_rolled: bool| {
        let p = tp.clone();
        let mut rx = trx.clone();
        async move {
            let before = p.status().ticks;
            let at = wall_clock_ms();
            p.take(src).await.unwrap();
            let s = wait_status(&mut rx, Duration::from_secs(10), "take on air", |s| {
                s.on_air == Some(id)
                    && s.last_take
                        .as_ref()
                        .is_some_and(|t| t.source == id && t.tick >= before)
            })
            .await;
            assert!(!s.slate_active, "{s:#?}");
            let t = s.last_take.clone().unwrap();
            assert_eq!(t.pre_rolled, pre_rolled, "{t:?}");
            eprintln!(
                "take of camera {id}: {:.0} ms to air, first frame {:.0} ms old",
                t.latency_ms, t.frame_age_ms
            );
            (at, s)
        }
    };

    let (at, s) = take(1, sr.clone(), false).await;
    takes.push((1, at));
    let red_pid = decoder_pid(&s, 1);
    let pids = assert_decoders(2, Duration::from_secs(1), "red on air").await;
    assert!(pids.contains(&red_pid), "{pids:?} has red's {red_pid}");

    // A pre-roll is accepted and decodes nothing.
    p.preroll(sb.clone()).await.unwrap();
    assert_decoders(2, Duration::from_secs(2), "blue pre-rolled in economy").await;
    assert!(
        p.status().ingests.iter().all(|i| i.id == 1),
        "{:#?}",
        p.status().ingests
    );

    // The take is from the cached keyframe; red's decoder stops once blue is on air.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (at, s) = take(2, sb.clone(), false).await;
    takes.push((2, at));
    let blue_pid = decoder_pid(&s, 2);
    wait_status(&mut rx, Duration::from_secs(5), "red released", |s| {
        s.ingests.iter().map(|i| i.id).collect::<Vec<_>>() == [2]
    })
    .await;
    let pids = assert_decoders(2, Duration::from_secs(1), "blue on air").await;
    assert!(pids.contains(&blue_pid), "{pids:?} has blue's {blue_pid}");
    assert!(
        !pids.contains(&red_pid),
        "red's decoder {red_pid} stopped: {pids:?}"
    );
    run_for(&p, 4.0).await;
    let cost = p.status().preroll;
    let cpu = cost
        .decoder_cpu_pct
        .expect("a decoder's CPU is measured after 4 s");
    assert!(cpu > 0.0 && cpu < 200.0, "{cost:?}");
    assert!(
        cost.last_cached_take_ms.is_some() && cost.last_pre_rolled_take_ms.is_none(),
        "{cost:?}"
    );

    // Live to instant: a pre-roll decodes again, and its take is at the next tick.
    p.set_preroll(Preroll::Instant);
    p.preroll(sr.clone()).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(10), "red pre-rolled", |s| {
        s.ingests.iter().any(|g| g.id == 1 && g.caught_up)
    })
    .await;
    assert_decoders(3, Duration::from_millis(500), "red pre-rolled in instant").await;
    let (at, _) = take(1, sr.clone(), true).await;
    takes.push((1, at));
    assert_decoders(3, Duration::from_millis(500), "instant keeps blue decoded").await;
    // Back to economy: blue, off air, stops at once.
    p.set_preroll(Preroll::Economy);
    wait_status(&mut rx, Duration::from_secs(5), "blue released", |s| {
        s.preroll.mode == Preroll::Economy
            && s.ingests.iter().map(|i| i.id).collect::<Vec<_>>() == [1]
    })
    .await;
    assert_decoders(2, Duration::from_secs(1), "economy again").await;
    let cost = p.status().preroll;
    eprintln!(
        "economy here: a decoded camera costs {:?} % of a core; last take from pre-roll {:?} ms, \
         from the keyframe cache {:?} ms",
        cost.decoder_cpu_pct, cost.last_pre_rolled_take_ms, cost.last_cached_take_ms
    );
    let pre = cost
        .last_pre_rolled_take_ms
        .expect("a pre-rolled take was made");
    assert!(
        pre <= 200.0,
        "a pre-rolled take is on air at the next tick: {cost:?}"
    );
    assert!(cost.last_cached_take_ms.is_some(), "{cost:?}");
    run_for(&p, 1.0).await;
    assert_eq!(p.status().encoder.restarts, 0);
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    check_recording(&rtmp, key).await;

    // Each take's camera in turn, its first pictures captured after the take.
    let rec = rtmp.recordings_for(key).remove(0);
    let frames = seen_frames(&rec).await;
    let mut starts = Vec::new();
    let mut current = Seen::Other;
    for (i, (seen, _)) in frames.iter().enumerate() {
        if *seen != Seen::Other && *seen != current {
            starts.push(i);
            current = *seen;
        }
    }
    let order: Vec<Seen> = starts.iter().map(|&i| frames[i].0).collect();
    assert_eq!(
        order,
        [Seen::Red, Seen::Blue, Seen::Red],
        "each camera in turn"
    );
    for (k, &start) in starts.iter().enumerate() {
        let at = takes[k].1;
        let first: Vec<i64> = frames[start..(start + 5).min(frames.len())]
            .iter()
            .map(|(_, code)| ms_between(code.expect("time code"), at))
            .collect();
        eprintln!("economy take {k}: first frames captured {first:?} ms after the take");
        assert!(
            first.iter().all(|&d| d >= -200),
            "take {k}: a picture older than the take went on air: {first:?} ms"
        );
    }
    assert_no_leftovers(&[key, &red.url(), &blue.url()]).await;
    assert_decoders(0, Duration::ZERO, "after the stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_on_air_camera_shows_the_slate_and_it_comes_back_by_itself() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let mut a = camera("LossA").await;
    let key = "loss-key-91c";
    let cfg = config(
        "loss",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    let sa = source(&hub, 1, &a).await;
    let t_take = Instant::now();
    p.take(sa.clone()).await.unwrap();
    let s = wait_status(&mut rx, Duration::from_secs(20), "A on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    eprintln!(
        "take of a connected camera, not pre-rolled: {} ms to air (measured here {:?})",
        s.take_latency_ms.unwrap_or(0),
        t_take.elapsed()
    );
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    run_for(&p, 3.0).await;

    let ticks_before = p.status().ticks;
    let lost_at = Instant::now();
    a.stop().await.unwrap();
    wait_status(&mut rx, Duration::from_secs(2), "slate within 2 s", |s| {
        s.slate_active
    })
    .await;
    let slate_after = lost_at.elapsed();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = p.status();
    assert!(s.slate_active);
    let rate = (s.ticks - ticks_before) as f64 / lost_at.elapsed().as_secs_f64();
    assert!(
        (rate - FPS as f64).abs() < 1.0,
        "frame rate during the outage: {rate:.2}"
    );
    assert!(
        (s.fps_measured - FPS as f64).abs() < 1.5,
        "{}",
        s.fps_measured
    );

    a.restart().await.unwrap();
    let back_from = Instant::now();
    let s = wait_status(
        &mut rx,
        Duration::from_secs(20),
        "camera back on air",
        |s| !s.slate_active && s.on_air == Some(1),
    )
    .await;
    let back_after = back_from.elapsed();
    let session = hub.session(1).unwrap().stats();
    eprintln!(
        "slate shown {slate_after:?} after the camera died; camera back on air \
         {back_after:?} after it returned; decoder restarts {}; session reconnects {}",
        s.ingests[0].status.restarts, session.reconnects
    );
    assert!(session.reconnects >= 1, "{session:?}");
    assert_eq!(
        s.ingests[0].status.restarts, 0,
        "the decoder waited on its subscription through the outage"
    );
    assert_one_session(&hub, 1);

    // The slate on cue (a gap in a timeline) while the camera is fine, then the camera again:
    // still decoded, so the take back is at once.
    p.take_slate().await.unwrap();
    let s = wait_status(&mut rx, Duration::from_secs(2), "slate on cue", |s| {
        s.slate_active && s.on_air.is_none()
    })
    .await;
    assert_eq!(s.ingests.len(), 1, "the camera is still decoded");
    run_for(&p, 1.0).await;
    assert!(
        p.status().slate_active,
        "the slate stays until the next take"
    );
    p.take(sa.clone()).await.unwrap();
    wait_status(
        &mut rx,
        Duration::from_secs(2),
        "back from the slate",
        |s| !s.slate_active && s.on_air == Some(1),
    )
    .await;
    run_for(&p, 3.0).await;
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let r = check_recording(&rtmp, key).await;
    // The slate went out as pictures: a run of dark frames (the camera's bars are bright).
    let recs = rtmp.recordings_for(key);
    let lumas = mean_luma_per_frame(&recs[0]).await;
    let mut longest = 0;
    let mut run = 0;
    for l in &lumas {
        run = if *l < 60.0 { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let bright = lumas.iter().filter(|l| **l > 80.0).count();
    eprintln!(
        "recording: {} frames over {:.1} s; longest slate run {longest} frames; {bright} \
         camera frames",
        r.video_packets, r.span
    );
    assert!(
        longest as f64 >= 4.0 * FPS as f64,
        "slate frames were sent during the outage ({longest})"
    );
    assert!(
        bright as f64 >= 4.0 * FPS as f64,
        "camera frames before and after"
    );
    assert_no_leftovers(&[key, &a.url()]).await;
}

/// A camera disabled while on air (its hub session is removed) shows the slate; enabled again
/// (a new session), it is back on air without another take. A take of a camera without a
/// session is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_disabled_and_enabled_again_comes_back_on_air_by_itself() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let cam = camera("Toggle").await;
    let cfg = config("toggle", vec![]);
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    let err = p
        .take(SourceSpec::hub(&hub, 7, "not configured"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, vs_base::ErrorKind::Unavailable, "{err:?}");

    let src = source(&hub, 1, &cam).await;
    p.take(src).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(20), "on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    let parsed = StreamUrl::parse(&cam.url(), "url").unwrap();
    hub.configure(1, SourceConfig::new(parsed.url.clone()).enabled(false))
        .await
        .unwrap();
    let s = wait_status(&mut rx, Duration::from_secs(5), "slate", |s| {
        s.slate_active && s.ingests.iter().any(|i| i.session.is_none())
    })
    .await;
    assert_eq!(s.on_air, Some(1), "the camera stays taken");
    let back = Instant::now();
    hub.configure(1, SourceConfig::new(parsed.url))
        .await
        .unwrap();
    wait_status(&mut rx, Duration::from_secs(20), "back on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    eprintln!(
        "camera enabled again: back on air after {:?}",
        back.elapsed()
    );
    assert_one_session(&hub, 1);
    p.stop().await;
    hub.shutdown().await;
    assert_no_leftovers(&[&cam.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlays_appear_in_the_received_frames_and_change_without_the_encoder() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    // A black picture without burned-in text, so the overlay colours are known exactly.
    let cam = start_camera(
        CameraOptions::new("Black")
            .size(W, H)
            .fps(FPS)
            .pattern("black")
            .overlay(false)
            .path("/black"),
    )
    .await;
    let key = "overlay-key-7e2";
    let cfg = config(
        "overlays",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let red = encode_png(&RgbaImage::filled(16, 16, Rgba::rgb(255, 0, 0)));
    let overlays = vec![
        Overlay {
            id: 1,
            visible: true,
            kind: OverlayKind::Image {
                image: ImageData::Png(red.into()),
                x: 32,
                y: 32,
                // Scaled up from 16x16.
                width: Some(64),
                height: Some(64),
                opacity: 0.5,
            },
        },
        Overlay {
            id: 2,
            visible: true,
            kind: OverlayKind::Text {
                text: "LIVE".into(),
                x: 200,
                y: 20,
                style: TextStyle {
                    size_px: 24.0,
                    color: Rgba::WHITE,
                    background: Some(Rgba::rgb(0, 200, 0)),
                    padding: 8,
                    font: None,
                },
            },
        },
        Overlay {
            id: 3,
            visible: true,
            kind: OverlayKind::Clock {
                format: "%H:%M:%S".into(),
                tz: chrono_tz::Europe::Paris,
                x: 8,
                y: 140,
                style: TextStyle {
                    size_px: 20.0,
                    background: Some(Rgba::rgb(0, 0, 0)),
                    ..TextStyle::default()
                },
            },
        },
    ];
    p.set_overlays(overlays).await.unwrap();
    let mut rx = p.subscribe();
    p.take(source(&hub, 1, &cam).await).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(20), "on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    run_for(&p, 5.0).await;
    let encoder_run = p.status().encoder.run;
    // Hide everything: the encoder must not notice.
    p.set_overlays(vec![]).await.unwrap();
    run_for(&p, 4.0).await;
    let s = p.status();
    assert_eq!(
        s.encoder.run, encoder_run,
        "no encoder restart for an overlay change"
    );
    assert_eq!(s.encoder.restarts, 0);
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    check_recording(&rtmp, key).await;
    let rec = rtmp.recordings_for(key).remove(0);

    let with = rgb_frame(&rec, &["-ss", "3"]).await;
    let inside = rgb_at(&with, 64, 64);
    let outside = rgb_at(&with, 140, 64);
    let text_box = rgb_at(&with, 202, 22);
    eprintln!("with overlays: red 50% {inside:?}, background {outside:?}, text box {text_box:?}");
    assert!(
        close(inside, (128, 0, 0), 24),
        "50% red over black: {inside:?}"
    );
    assert!(
        close(outside, (0, 0, 0), 16),
        "untouched picture: {outside:?}"
    );
    assert!(
        close(text_box, (0, 200, 0), 30),
        "the text's box: {text_box:?}"
    );
    let ink = (204..260)
        .flat_map(|x| (28..50).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let (r, g, b) = rgb_at(&with, x, y);
            r > 180 && g > 180 && b > 180
        })
        .count();
    assert!(ink > 20, "white text drawn in the box ({ink} pixels)");
    let clock_ink = (10..100)
        .flat_map(|x| (142..170).map(move |y| (x, y)))
        .filter(|&(x, y)| rgb_at(&with, x, y).0 > 180)
        .count();
    assert!(clock_ink > 20, "the clock is drawn ({clock_ink} pixels)");

    let without = rgb_frame(&rec, &["-sseof", "-1"]).await;
    let inside = rgb_at(&without, 64, 64);
    eprintln!("after set_overlays([]): {inside:?}");
    assert!(close(inside, (0, 0, 0), 16), "overlay gone: {inside:?}");
    assert_no_leftovers(&[key, &cam.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_destination_does_not_disturb_the_live_one() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let cam = camera("TwoOut").await;
    let (live_key, dead_key) = ("live-key-a11", "dead-key-b22");
    // A port where nothing listens.
    let dead_port = vs_testrig::free_port();
    let dead_url = format!("rtmp://127.0.0.1:{dead_port}/live2/{dead_key}");
    let cfg = config(
        "two outputs",
        vec![
            output(1, "dead", dead_url, dead_key),
            output(2, "live", rtmp.publish_url(live_key), live_key),
        ],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    p.take(source(&hub, 1, &cam).await).await.unwrap();
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    let s = wait_status(&mut rx, Duration::from_secs(20), "dead one failing", |s| {
        s.outputs[0].status.consecutive_failures >= 2
    })
    .await;
    run_for(&p, 8.0).await;
    let s2 = p.status();
    let dead = &s2.outputs[0];
    let live = &s2.outputs[1];
    eprintln!(
        "dead output: {:?}, {} failures, error {:?}; live output: {:?}, restarts {}",
        dead.status.state,
        dead.status.consecutive_failures,
        dead.status.last_error,
        live.status.state,
        live.status.restarts
    );
    assert!(s.outputs[0].status.last_error.is_some());
    assert!(
        !dead
            .status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains(dead_key),
        "stream keys are redacted"
    );
    assert_eq!(live.status.state, State::Running);
    assert_eq!(live.status.restarts, 0);
    assert_eq!(s2.encoder.restarts, 0);

    // The destination comes back: its own supervisor re-attaches it, nothing else moves.
    let revived = RtmpServer::start_with(RtmpOptions {
        port: Some(dead_port),
        ..RtmpOptions::default()
    })
    .await
    .unwrap();
    let back_from = Instant::now();
    revived
        .wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    eprintln!(
        "dead destination re-attached {:?} after it came back",
        back_from.elapsed()
    );
    run_for(&p, 4.0).await;
    let s3 = p.status();
    assert_eq!(s3.outputs[0].status.state, State::Running);
    assert_eq!(
        s3.outputs[1].status.restarts, 0,
        "the live one was not touched"
    );
    assert_eq!(s3.encoder.restarts, 0, "nor the encoder");
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    revived
        .wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let r = check_recording(&rtmp, live_key).await;
    assert!(r.span > 14.0, "{}", r.span);
    let late = packet_times(&revived.recordings_for(dead_key)[0], StreamKind::Video)
        .await
        .unwrap();
    late.assert_monotonic();
    assert!(
        late.span() > 2.0,
        "the revived destination received {:.1} s",
        late.span()
    );
    assert!(processes_with_marker(dead_key).is_empty());
    assert_no_leftovers(&[live_key, &cam.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoder_crash_keeps_the_program_and_the_rtmp_session() {
    let _serial = serial().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let cam = camera("Crash").await;
    let key = "crash-key-c33";
    let cfg = config(
        "crash",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    p.take(source(&hub, 1, &cam).await).await.unwrap();
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    run_for(&p, 12.0).await;
    let pid = p.status().encoder.pid.expect("encoder pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let s = wait_status(&mut rx, Duration::from_secs(10), "encoder back", |s| {
        s.encoder.restarts >= 1 && s.encoder.state == State::Running
    })
    .await;
    eprintln!(
        "encoder restarted (run {}), ticks {} dropped {}",
        s.encoder.run, s.ticks, s.dropped_frames
    );
    run_for(&p, 6.0).await;
    let s = p.status();
    assert_eq!(
        s.outputs[0].status.restarts, 0,
        "the egress kept its session"
    );
    assert!(
        (s.fps_measured - FPS as f64).abs() < 1.5,
        "{}",
        s.fps_measured
    );
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        rtmp.publish_count(),
        1,
        "one RTMP session through the crash"
    );
    let recs = rtmp.recordings_for(key);
    assert_eq!(recs.len(), 1);
    let video = packet_times(&recs[0], StreamKind::Video).await.unwrap();
    video.assert_monotonic();
    let gap = video.largest_gap().unwrap();
    eprintln!(
        "through the crash: {} packets over {:.1} s, largest gap {:.3} s at {:.1}",
        video.len(),
        video.span(),
        gap.seconds,
        gap.after
    );
    // The egress FFmpeg stitches the new encoder run's timestamps onto the old ones (MPEG-TS
    // discontinuity handling); the frames lost during the restart are not a hole in time.
    assert!(gap.seconds < 0.5, "{gap:?}");
    assert_no_leftovers(&[key, &cam.url()]).await;
}

/// A UDP port on 127.0.0.1 that was free a moment ago (SRT runs over UDP).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind(("127.0.0.1", 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind udp 127.0.0.1:0")
}

/// An SRT destination gets MPEG-TS, as SRT receivers expect (it used to get FLV inside SRT,
/// which they cannot read). A real SRT listener records what arrives; ffprobe checks it.
/// The camera is given as a URL: the program opens a session of its own for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srt_destination_receives_mpeg_ts() {
    let _serial = serial().await;
    let protocols = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-protocols"])
        .output()
        .await
        .expect("ffmpeg -protocols");
    let protocols = String::from_utf8_lossy(&protocols.stdout);
    assert!(
        protocols.lines().any(|l| l.trim() == "srt"),
        "this FFmpeg has no SRT support (Debian's ffmpeg has it):\n{protocols}"
    );

    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.ts");
    // Forced to MPEG-TS like a real SRT receiver: anything else in the SRT payload is noise.
    let mut listener = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-f", "mpegts", "-i"])
        .arg(format!("srt://127.0.0.1:{port}?mode=listener"))
        .args(["-map", "0", "-c", "copy", "-f", "mpegts"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg SRT listener");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cam = camera("SrtCam").await;
    let cfg = config(
        "srt",
        vec![OutputSpec::new(
            1,
            "srt receiver",
            format!("srt://127.0.0.1:{port}"),
        )],
    );
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let h = hub();
    let mut rx = p.subscribe();
    p.take(source(&h, 1, &cam).await).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(20), "camera on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    let s = wait_status(&mut rx, Duration::from_secs(30), "egress sends", |s| {
        s.outputs[0].status.state == State::Running
            && s.outputs[0]
                .status
                .progress
                .as_ref()
                .and_then(|p| p.frame)
                .is_some_and(|f| f > 2 * FPS as u64)
    })
    .await;
    assert_eq!(s.outputs[0].status.restarts, 0, "{:?}", s.outputs[0].status);
    run_for(&p, 3.0).await;
    p.stop().await;
    h.shutdown().await;

    // The caller's close ends the listener's input; it then finishes the file.
    let exited = tokio::time::timeout(Duration::from_secs(10), listener.wait()).await;
    if exited.is_err() {
        let _ = listener.start_kill();
        let _ = listener.wait().await;
    }
    let mut listener_err = String::new();
    if let Some(mut e) = listener.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut listener_err).await;
    }
    eprintln!("SRT listener stderr: {listener_err}");

    let info = probe_streams(&file)
        .await
        .unwrap_or_else(|e| panic!("what arrived over SRT is not MPEG-TS: {e:#}\n{listener_err}"));
    eprintln!("received over SRT: {info:?}");
    assert_eq!(info.format_name, "mpegts");
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!(info.audio_codec(), Some("aac"), "AAC always present");
    assert_eq!((info.width(), info.height()), (Some(W), Some(H)));
    let frames = frame_count(&file).await.expect("frame count");
    eprintln!("{frames} video frames received over SRT");
    assert!(frames > 2 * FPS as u64, "{frames} frames");
    let video = packet_times(&file, StreamKind::Video).await.unwrap();
    video.assert_monotonic();
    assert_no_leftovers(&[&format!("127.0.0.1:{port}"), &cam.url()]).await;
}

/// The measurement mode of `bench/program.sh` (what sound costs): a program without sound has
/// no audio input, no audio tap and no AAC, and still sends its picture at its exact rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_without_sound_sends_video_only_at_its_rate() {
    let _serial = serial().await;
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let cam = camera("Mute").await;
    let key = "mute-key-3c9";
    let mut cfg = config(
        "mute",
        vec![output(1, "fake youtube", rtmp.publish_url(key), key)],
    );
    cfg.sound = false;
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    let mut rx = p.subscribe();
    p.take(source(&hub, 1, &cam).await).await.unwrap();
    wait_status(&mut rx, Duration::from_secs(20), "camera on air", |s| {
        s.on_air == Some(1) && !s.slate_active
    })
    .await;
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    let encoders: Vec<_> = vs_testrig::descendants_of(std::process::id())
        .into_iter()
        .filter(|p| !p.is_zombie() && p.cmdline.join(" ").contains("-c:v libx264"))
        .collect();
    assert_eq!(encoders.len(), 1, "one encoder");
    let cmd = encoders[0].cmdline.join(" ");
    assert!(cmd.contains("-an") && !cmd.contains("pipe:4"), "{cmd}");
    run_for(&p, 3.0).await;
    let s = p.status();
    assert!(
        s.audio.sources.is_empty(),
        "no camera audio is tapped: {:?}",
        s.audio
    );
    p.stop().await;

    let recs = rtmp.recordings_for(key);
    assert_eq!(recs.len(), 1, "one RTMP session: {recs:?}");
    let info = probe_streams(&recs[0]).await.expect("ffprobe recording");
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!(info.audio_codec(), None, "{:?}", info.codec_names());
    let video = packet_times(&recs[0], StreamKind::Video)
        .await
        .expect("video packets");
    video.assert_monotonic();
    let expected = video.span() * FPS as f64 + 1.0;
    let n = video.len() as f64;
    assert!(
        (n - expected).abs() <= 2.0,
        "{n} video packets over {:.2} s: expected {expected:.0} at {FPS} fps",
        video.span()
    );
}
