//! The program's sound end to end, with real FFmpeg, real RTSP cameras (GStreamer, each with
//! its own tone and colour) read through the camera hub, and a real RTMP ingest (nginx-rtmp):
//! the audio follows the picture at every cut (same frame, within one frame interval), each
//! stretch sounds like the camera on air, nothing drops out, timestamps are monotonic; a camera
//! whose audio dies gives silence (never a stall); the slate is silent; a bed loops without a
//! gap. What arrived is analysed from the recorded FLV, decoded by FFmpeg: Goertzel filters at
//! the two tones, placed in time by the packets' timestamps.

mod common;

use std::path::Path;
use std::time::Duration;

use common::wait_status;
use tokio_util::sync::CancellationToken;
use vs_base::{Secret, StreamUrl};
use vs_engine::hub::{CameraHub, HubOptions, SourceConfig};
use vs_engine::*;
use vs_testrig::{packet_times, CameraOptions, FakeCamera, RtmpServer, StreamKind};

const W: u32 = 320;
const H: u32 = 180;
const FPS: u32 = 25;
const RATE: f64 = 48_000.0;
/// The tones of camera A and camera B (no common harmonics).
const TONE_A: f64 = 500.0;
const TONE_B: f64 = 1300.0;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "vs_engine=info,retina=warn".into()),
        )
        .with_test_writer()
        .try_init();
}

async fn camera(name: &str, color: &str, tone: u32, stop: Option<Duration>) -> FakeCamera {
    let mut opts = CameraOptions::new(name)
        .size(W, H)
        .fps(FPS)
        // A solid colour (the time bars' appsrc does not preroll beside audio).
        .pattern(color)
        .overlay(false)
        .audio_freq(tone)
        .max_clients(1)
        .path(format!("/{}", name.to_lowercase()));
    if let Some(after) = stop {
        opts = opts.audio_stop_after(after);
    }
    FakeCamera::start(opts).await.expect("fake camera")
}

fn hub() -> CameraHub {
    CameraHub::new(
        HubOptions::default(),
        Deps::real(),
        CancellationToken::new(),
    )
}

async fn source(hub: &CameraHub, id: i64, cam: &FakeCamera) -> SourceSpec {
    let parsed = StreamUrl::parse(&cam.url(), "url").unwrap();
    hub.configure(id, SourceConfig::new(parsed.url))
        .await
        .unwrap();
    let session = hub.session(id).unwrap();
    assert!(
        session.wait_playing(Duration::from_secs(20)).await,
        "camera {id} not playing"
    );
    SourceSpec::hub(hub, id, cam.options().name.clone())
}

fn config(name: &str, rtmp: &RtmpServer, key: &str) -> ProgramConfig {
    let mut c = ProgramConfig::new(name, W, H, FPS);
    c.video_bitrate_kbps = 400;
    c.audio_bitrate_kbps = 128;
    let mut o = OutputSpec::new(1, "fake youtube", rtmp.publish_url(key));
    o.secrets.push(Secret::new(key));
    c.outputs.push(o);
    c
}

/// What the recording holds, decoded: the audio as mono samples placed in time, and each
/// video frame's time and colour.
struct Recording {
    /// Time of `audio[0]`, seconds (the first audio packet's timestamp).
    a0: f64,
    audio: Vec<f32>,
    audio_packets: Vec<f64>,
    frames: Vec<(f64, Seen)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Red,
    Blue,
    Other,
}

impl Recording {
    async fn read(file: &Path) -> Recording {
        let audio_packets = packet_times(file, StreamKind::Audio)
            .await
            .expect("audio packets");
        audio_packets
            .check_non_decreasing()
            .expect("audio timestamps never go back");
        let video = packet_times(file, StreamKind::Video)
            .await
            .expect("video packets");
        video.assert_monotonic();
        let out = ffmpeg(&[
            "-i",
            &file.display().to_string(),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-f",
            "f32le",
            "-",
        ])
        .await;
        let audio: Vec<f32> = out
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let raw = ffmpeg(&[
            "-i",
            &file.display().to_string(),
            "-map",
            "0:v:0",
            // One picture per packet: by default FFmpeg repeats the first one to fill from
            // zero to the first timestamp, and every frame would be one late.
            "-fps_mode",
            "passthrough",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
            "-",
        ])
        .await;
        let (w, h) = (W as usize, H as usize);
        let (cw, ch) = (w / 2, h / 2);
        let seen: Vec<Seen> = raw
            .chunks_exact(w * h * 3 / 2)
            .map(|f| {
                let mean = |plane: &[u8]| {
                    let rows = &plane[cw * (ch / 2)..cw * (ch - 2)];
                    rows.iter().map(|&v| v as f64).sum::<f64>() / rows.len() as f64
                };
                let u = mean(&f[w * h..w * h + cw * ch]);
                let v = mean(&f[w * h + cw * ch..]);
                if v > 190.0 && u < 140.0 {
                    Seen::Red
                } else if u > 190.0 && v < 160.0 {
                    Seen::Blue
                } else {
                    Seen::Other
                }
            })
            .collect();
        let times: Vec<f64> = video
            .pts()
            .into_iter()
            .map(|t| t.expect("video pts"))
            .collect();
        assert_eq!(times.len(), seen.len(), "one decoded picture per packet");
        let frames: Vec<(f64, Seen)> = times.into_iter().zip(seen).collect();
        Recording {
            a0: audio_packets.packets[0].pts.expect("audio pts"),
            audio,
            audio_packets: audio_packets.times(),
            frames,
        }
    }

    fn index(&self, t: f64) -> usize {
        (((t - self.a0) * RATE).round().max(0.0) as usize).min(self.audio.len())
    }

    fn slice(&self, from: f64, to: f64) -> &[f32] {
        &self.audio[self.index(from)..self.index(to)]
    }

    /// The largest distance between consecutive audio packets, seconds.
    fn largest_audio_gap(&self) -> f64 {
        self.audio_packets
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0, f64::max)
    }

    /// Frame indices where the picture changes from one camera or the slate to another.
    fn cuts(&self) -> Vec<usize> {
        (1..self.frames.len())
            .filter(|&i| self.frames[i].1 != self.frames[i - 1].1)
            .collect()
    }
}

async fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(args)
        .output()
        .await
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Power of `freq` in `x` (Hann-windowed Goertzel), as the squared amplitude of a sine there.
fn tone_power(x: &[f32], freq: f64) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / RATE;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut wsum = 0.0;
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
        wsum += hann;
        let s = v as f64 * hann + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    4.0 * power / (wsum * wsum)
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// The quietest 10 ms of `x`, RMS.
fn quietest_10ms(x: &[f32]) -> f64 {
    x.chunks_exact(480).map(rms).fold(f64::INFINITY, f64::min)
}

/// Ten cuts between two cameras (pre-rolled, so each cut is at the next tick), then the slate:
/// one RTMP session in which every stretch sounds like the camera whose colour is on screen,
/// the tone changes within one frame interval of the picture, no audio packet is more than
/// 30 ms after the previous one, no 10 ms of a stretch is silent, and the slate is silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_follows_the_picture_at_every_cut_and_the_slate_is_silent() {
    let _serial = SERIAL.lock().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let a = camera("ToneA", "red", TONE_A as u32, None).await;
    let b = camera("ToneB", "blue", TONE_B as u32, None).await;
    let key = "audio-cuts-7e2";
    let p = Program::start(
        config("audio cuts", &rtmp, key),
        Deps::real(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut rx = p.subscribe();
    let (sa, sb) = (source(&hub, 1, &a).await, source(&hub, 2, &b).await);
    p.preroll(sa.clone()).await.unwrap();
    p.preroll(sb.clone()).await.unwrap();
    wait_status(
        &mut rx,
        Duration::from_secs(20),
        "both cameras heard",
        |s| s.audio.sources.len() == 2 && s.audio.sources.iter().all(|c| c.has_audio),
    )
    .await;
    p.take(sa.clone()).await.unwrap();
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..10 {
        let (src, id) = if i % 2 == 0 { (&sb, 2) } else { (&sa, 1) };
        p.take(src.clone()).await.unwrap();
        wait_status(&mut rx, Duration::from_secs(2), "take", |s| {
            s.on_air == Some(id)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let s = p.status();
    let program = &s.audio.program;
    eprintln!("audio status before the slate: {:#?}", s.audio);
    // A tone at 0.2 of full scale is about −14 dBFS; the program carries it, metered.
    let peak = program.peak_dbfs.expect("program peak");
    assert!((-17.0..=-11.0).contains(&peak), "{peak}");
    assert!(program.integrated_lufs.is_some(), "{program:?}");
    for c in &s.audio.sources {
        let cpeak = c.level.peak_dbfs.expect("camera peak");
        assert!((-17.0..=-11.0).contains(&cpeak), "{c:?}");
        // Underruns (a camera's packets later than the 80 ms buffer) are not judged here: a
        // loaded test machine delays the fake cameras too. What reached the audience is
        // judged below, from the recording.
    }
    p.take_slate().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(rtmp.publish_count(), 1, "one RTMP session");
    let recs = rtmp.recordings_for(key);
    assert_eq!(recs.len(), 1);
    let rec = Recording::read(&recs[0]).await;

    let gap = rec.largest_audio_gap();
    assert!(
        gap <= 0.030,
        "an audio packet came {gap:.3} s after the previous one"
    );
    // The recording may open on the slate, before the first take reached air.
    let all = rec.cuts();
    let first_red = all
        .iter()
        .position(|&i| rec.frames[i].1 == Seen::Red)
        .map_or(0, |k| k + 1);
    let cuts: Vec<usize> = if rec.frames[0].1 == Seen::Red {
        all
    } else {
        all[first_red..].to_vec()
    };
    let kinds: Vec<Seen> = cuts.iter().map(|&i| rec.frames[i].1).collect();
    eprintln!("cuts at frames {cuts:?}: {kinds:?}");
    // Red (A) first, then ten cuts alternating, then the slate.
    assert_eq!(cuts.len(), 11, "{kinds:?}");
    assert_eq!(rec.frames[cuts[0] - 1].1, Seen::Red);
    assert_eq!(*kinds.last().unwrap(), Seen::Other);
    let frame = 1.0 / FPS as f64;
    let mut offsets = Vec::new();
    for (k, &i) in cuts[..10].iter().enumerate() {
        let (old, new) = match rec.frames[i].1 {
            Seen::Blue => (TONE_A, TONE_B),
            Seen::Red => (TONE_B, TONE_A),
            Seen::Other => panic!("cut {k} to the slate"),
        };
        let t_cut = rec.frames[i].0;
        // The tone's onset: the first 5 ms window (1 ms steps) where the new tone is the
        // stronger.
        let onset = (0..300)
            .map(|ms| t_cut - 0.150 + ms as f64 / 1000.0)
            .find(|&t| {
                let x = rec.slice(t - 0.0025, t + 0.0025);
                tone_power(x, new) > tone_power(x, old)
            })
            .unwrap_or_else(|| panic!("no onset of {new} Hz around the cut at {t_cut:.3}"));
        offsets.push(((onset - t_cut) * 1000.0).round() as i64);
        assert!(
            (onset - t_cut).abs() <= frame,
            "cut {k}: the {new} Hz tone starts at {onset:.3}, the picture at {t_cut:.3}"
        );
    }
    eprintln!("tone onset minus cut frame, ms: {offsets:?}");
    // Each stretch between cuts: the on-air camera's tone, 20 dB above the other, and no
    // 10 ms without sound.
    for (from, end) in cuts.windows(2).map(|w| (rec.frames[w[0]].0, w[1])) {
        let to = rec.frames[end].0;
        let seen = rec.frames[end - 1].1;
        let (mine, other) = if seen == Seen::Red {
            (TONE_A, TONE_B)
        } else {
            (TONE_B, TONE_A)
        };
        let x = rec.slice(from + 0.05, to - 0.05);
        let (pm, po) = (tone_power(x, mine), tone_power(x, other));
        assert!(
            pm > 100.0 * po,
            "{seen:?} from {from:.2}: {mine} Hz {pm:.2e}, {other} Hz {po:.2e}"
        );
        let quiet = quietest_10ms(x);
        assert!(
            quiet > 0.05,
            "{seen:?} from {from:.2}: a 10 ms stretch at RMS {quiet:.4}"
        );
    }
    // The slate: silence once its 20 ms fade is over.
    let slate_from = rec.frames[cuts[10]].0;
    let slate_to = rec.frames.last().unwrap().0;
    assert!(slate_to - slate_from > 1.0);
    let slate = rms(rec.slice(slate_from + 0.05, slate_to - 0.05));
    assert!(slate < 0.001, "the slate is silent: RMS {slate}");
}

/// A camera whose audio stops while its video goes on: the program carries on at full rate
/// with silence where the camera's sound was, audio packets all along, and the status counts
/// the camera's underrun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_whose_audio_dies_gives_silence_not_a_stall() {
    let _serial = SERIAL.lock().await;
    init_tracing();
    let hub = hub();
    let rtmp = RtmpServer::start().await.unwrap();
    let c = camera("Mute", "red", 700, Some(Duration::from_secs(8))).await;
    let key = "audio-dies-4c1";
    let p = Program::start(
        config("audio dies", &rtmp, key),
        Deps::real(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut rx = p.subscribe();
    let sc = source(&hub, 1, &c).await;
    p.take(sc).await.unwrap();
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    wait_status(
        &mut rx,
        Duration::from_secs(20),
        "the camera's audio stops",
        |s| s.audio.sources.first().is_some_and(|c| c.underruns > 0),
    )
    .await;
    let before = p.status();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = p.status();
    assert!(
        after.ticks >= before.ticks + 3 * FPS as u64 - 5,
        "the program runs on: {} then {} ticks",
        before.ticks,
        after.ticks
    );
    assert_eq!(after.on_air, Some(1));
    assert!(!after.slate_active, "the picture stays");
    p.stop().await;
    hub.shutdown().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let recs = rtmp.recordings_for(key);
    assert_eq!(recs.len(), 1);
    let rec = Recording::read(&recs[0]).await;
    let gap = rec.largest_audio_gap();
    assert!(gap <= 0.030, "audio packets all along: a gap of {gap:.3} s");
    let (v0, v1) = (rec.frames[0].0, rec.frames.last().unwrap().0);
    let (p0, p1) = (rec.audio_packets[0], *rec.audio_packets.last().unwrap());
    assert!(
        p1 - p0 > v1 - v0 - 0.5,
        "audio {p0:.2}..{p1:.2}, video {v0:.2}..{v1:.2}"
    );
    let n = rec.frames.len() as f64;
    assert!(
        (n - ((v1 - v0) * FPS as f64 + 1.0)).abs() <= 2.0,
        "constant frame rate"
    );
    // Sound at first, silence at the end.
    let early = rms(rec.slice(v0 + 0.3, v0 + 1.3));
    let late = rms(rec.slice(v1 - 2.0, v1 - 0.1));
    assert!(early > 0.05, "the camera's tone at first: RMS {early}");
    assert!(late < 0.001, "silence once its audio stopped: RMS {late}");
}

/// A bed of exactly one second (a whole number of periods of 750 Hz), in place of the
/// cameras, over the slate: the received sound never dips at the loop point (each 5 ms of it
/// within ±20 % of the mean level), and it is the bed's tone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bed_loops_without_a_gap() {
    let _serial = SERIAL.lock().await;
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("bed.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=750:sample_rate=48000:duration=1",
        "-ac",
        "2",
        "-y",
        &wav.display().to_string(),
    ])
    .await;
    let samples = vs_engine::program::audio::decode_bed(Path::new("ffmpeg"), &wav)
        .await
        .unwrap();
    assert_eq!(samples.len(), 2 * 48_000, "one second, stereo");
    let rtmp = RtmpServer::start().await.unwrap();
    let key = "audio-bed-9a3";
    let mut cfg = config("audio bed", &rtmp, key);
    cfg.audio.bed = Some(AudioBed {
        name: "bed.wav".into(),
        samples: std::sync::Arc::new(samples),
        gain_db: 0.0,
        mode: BedMode::Instead,
    });
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = p.status();
    assert_eq!(s.audio.bed.as_ref().map(|b| b.seconds), Some(1.0));
    p.stop().await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let recs = rtmp.recordings_for(key);
    let rec = Recording::read(&recs[0]).await;
    let gap = rec.largest_audio_gap();
    assert!(gap <= 0.030, "{gap}");
    let (v0, v1) = (rec.frames[0].0, rec.frames.last().unwrap().0);
    assert!(v1 - v0 > 3.0, "at least three loops: {:.2} s", v1 - v0);
    let x = rec.slice(v0 + 0.2, v1 - 0.1);
    let mean = rms(x);
    assert!(mean > 0.05, "the bed is heard: RMS {mean}");
    let worst = x
        .chunks_exact(240)
        .map(rms)
        .map(|r| (r / mean - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 0.2,
        "a 5 ms stretch off the mean level by {:.0} %",
        worst * 100.0
    );
    assert!(tone_power(x, 750.0) > 100.0 * tone_power(x, 500.0));
}
