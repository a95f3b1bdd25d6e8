//! Runs one program (cameras pre-rolled, an image, a text and a clock overlay, a take every few
//! seconds) for a while and prints what it measured. Drives `bench/program.sh`.
//!
//! ```text
//! cargo run --release -p vs-engine --example program_run -- \
//!     --size 1280x720 --fps 30 --seconds 30 --take-every 5 \
//!     --camera rtsp://127.0.0.1:8554/a --camera rtsp://127.0.0.1:8555/b \
//!     --output rtmp://127.0.0.1:1935/live/key
//! ```
//!
//! Prints `READY pid=…` once the first camera is on air (the measurement window may start),
//! then one `TAKE …` line per take, a `STAT …` line every second (frames written to the
//! encoder so far, its speed) and `RESULT key=value` lines at the end.
//!
//! `--economy` runs the program in economy (only the camera on air is decoded); `--take-every 0`
//! makes no take; `--logo PATH` also writes the logo overlay's PNG there (for a floor that
//! draws the same picture); `--no-sound` leaves the program's sound out (no audio taps, mixer
//! or AAC: what sound costs is the difference); `--preset P` sets libx264's preset (default
//! the engine's).
//!
//! The cameras are sessions of a camera hub, as in the appliance (`--hub`, accepted for older
//! scripts, changes nothing). With `--take-bench N` (drives `bench/hub.sh`)
//! it does N takes between the first two cameras that are not pre-rolled (the other camera is
//! released after each take) and N pre-rolled ones, and prints take-to-air p50/p95 for each:
//! from the `take` call to the tick that put the camera's first frame on air, and to the
//! moment the encoder's output carried that frame — found by colour in the encoded stream
//! (the cameras must be `fake_camera.py --time-bars --color C`, `--colors C1,C2` saying
//! which is which).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio_util::sync::CancellationToken;
use vs_engine::hub::{CameraHub, HubOptions, SourceConfig};
use vs_engine::program::{encode_png, RgbaImage};
use vs_engine::*;

struct Args {
    width: u32,
    height: u32,
    fps: u32,
    seconds: f64,
    take_every: f64,
    cameras: Vec<String>,
    outputs: Vec<String>,
    encoder: String,
    bitrate: u32,
    take_bench: usize,
    colors: Vec<String>,
    economy: bool,
    logo: Option<String>,
    no_sound: bool,
    preset: Option<String>,
    decoder: Option<String>,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        width: 1280,
        height: 720,
        fps: 30,
        seconds: 30.0,
        take_every: 5.0,
        cameras: Vec::new(),
        outputs: Vec::new(),
        encoder: "libx264".into(),
        bitrate: 2500,
        take_bench: 0,
        colors: Vec::new(),
        economy: false,
        logo: None,
        no_sound: false,
        preset: None,
        decoder: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--size" => {
                let v = value()?;
                let (w, h) = v.split_once('x').context("--size WxH")?;
                a.width = w.parse()?;
                a.height = h.parse()?;
            }
            "--fps" => a.fps = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--take-every" => a.take_every = value()?.parse()?,
            "--camera" => a.cameras.push(value()?),
            "--output" => a.outputs.push(value()?),
            "--encoder" => a.encoder = value()?,
            "--bitrate" => a.bitrate = value()?.parse()?,
            "--hub" => {}
            "--take-bench" => a.take_bench = value()?.parse()?,
            "--colors" => a.colors = value()?.split(',').map(str::to_owned).collect(),
            "--economy" => a.economy = true,
            "--logo" => a.logo = Some(value()?),
            "--no-sound" => a.no_sound = true,
            "--preset" => a.preset = Some(value()?),
            // The cameras' decoder: a `vistterstream-decoder` path (shared memory) or, by
            // default, FFmpeg through pipes.
            "--decoder" => a.decoder = Some(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    if a.cameras.is_empty() {
        bail!("at least one --camera URL");
    }
    if a.take_bench > 0 && (a.cameras.len() < 2 || a.colors.len() < 2) {
        bail!("--take-bench needs two --camera and --colors C1,C2");
    }
    Ok(a)
}

/// A 240x120 semi-transparent logo: an orange panel with a white border.
fn logo() -> Vec<u8> {
    let mut img = RgbaImage::filled(240, 120, Rgba::new(255, 255, 255, 230));
    img.draw_over(
        &RgbaImage::filled(232, 112, Rgba::new(240, 120, 20, 200)),
        4,
        4,
    );
    encode_png(&img)
}

fn main() -> Result<()> {
    // As the appliance does, before any other thread exists.
    vs_engine::memory::tune_allocator();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<()> {
    let args = parse()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = ProgramConfig::new("bench", args.width, args.height, args.fps);
    cfg.encoder = args.encoder.clone();
    cfg.video_bitrate_kbps = args.bitrate;
    cfg.sound = !args.no_sound;
    cfg.decode_worker = args.decoder.as_ref().map(std::path::PathBuf::from);
    if let Some(p) = &args.preset {
        cfg.x264_preset = p.clone();
    }
    if args.economy {
        cfg.preroll = vs_engine::program::Preroll::Economy;
    }
    cfg.outputs = args
        .outputs
        .iter()
        .enumerate()
        .map(|(i, url)| OutputSpec::new(i as i64 + 1, format!("out{}", i + 1), url.clone()))
        .collect();
    let program = Program::start(cfg, Deps::real(), CancellationToken::new()).await?;
    let (w, h) = (args.width as i32, args.height as i32);
    let logo = logo();
    if let Some(path) = &args.logo {
        std::fs::write(path, &logo).with_context(|| format!("writing {path}"))?;
    }
    program
        .set_overlays(vec![
            Overlay {
                id: 1,
                visible: true,
                kind: OverlayKind::Image {
                    image: ImageData::Png(logo.into()),
                    x: w - 240 - 24,
                    y: 24,
                    width: None,
                    height: None,
                    opacity: 0.9,
                },
            },
            Overlay {
                id: 3,
                visible: true,
                kind: OverlayKind::Text {
                    text: "VistterStream bench".into(),
                    x: 24,
                    y: 24,
                    style: TextStyle {
                        size_px: (h as f32 / 20.0).max(16.0),
                        ..TextStyle::default()
                    },
                },
            },
            Overlay {
                id: 2,
                visible: true,
                kind: OverlayKind::Clock {
                    format: "%Y-%m-%d %H:%M:%S".into(),
                    tz: chrono_tz::UTC,
                    x: 24,
                    y: h - 80,
                    style: TextStyle {
                        size_px: (h as f32 / 16.0).max(16.0),
                        background: Some(Rgba::new(0, 0, 0, 160)),
                        ..TextStyle::default()
                    },
                },
            },
        ])
        .await?;

    let hub = CameraHub::new(
        HubOptions::default(),
        Deps::real(),
        CancellationToken::new(),
    );
    let mut sources: Vec<SourceSpec> = Vec::new();
    for (i, url) in args.cameras.iter().enumerate() {
        let (id, name) = (i as i64 + 1, format!("cam{}", i + 1));
        let parsed = vs_base::StreamUrl::parse(url, "--camera")?;
        let mut cfg = SourceConfig::new(parsed.url);
        if let Some(pw) = parsed.password {
            cfg = cfg.credentials(parsed.username.unwrap_or_default(), pw);
        }
        hub.configure(id, cfg).await?;
        sources.push(SourceSpec::hub(&hub, id, name));
    }
    for s in &sources {
        let session = hub.session(s.id).context("configured")?;
        if !session.wait_playing(Duration::from_secs(20)).await {
            bail!("camera {} not playing: {:?}", s.id, session.stats());
        }
    }
    if args.take_bench > 0 {
        let result = take_bench(&program, &sources, &args).await;
        program.stop().await;
        hub.shutdown().await;
        return result;
    }
    // Economy: only the camera on air is decoded (a pre-roll decodes nothing), so the take
    // below starts it; instant: every camera is pre-rolled and delivering first.
    let decoded = if args.economy { 0 } else { sources.len() };
    for s in &sources[..decoded] {
        program.preroll(s.clone()).await?;
    }
    let mut rx = program.subscribe();
    let delivered = tokio::time::timeout(
        Duration::from_secs(30),
        rx.wait_for(|s| s.ingests.len() == decoded && s.ingests.iter().all(|i| i.frames > 0)),
    )
    .await
    .is_ok();
    if !delivered {
        for i in program.status().ingests {
            eprintln!(
                "ingest {}: {:?} frames {} error {:?}",
                i.name, i.status.state, i.frames, i.status.last_error
            );
        }
        bail!("cameras did not deliver within 30 s");
    }
    program.take(sources[0].clone()).await?;
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|s| s.on_air == Some(1) && !s.slate_active),
    )
    .await
    .context("first camera not on air within 10 s")??;

    let start = program.status();
    println!("READY pid={}", std::process::id());
    std::io::stdout().flush()?;

    let began = Instant::now();
    let stats = tokio::spawn(print_stats(program.clone(), began));
    let mut next = 1usize;
    let mut latencies = Vec::new();
    let mut gaps = Vec::new();
    while args.take_every > 0.0 && began.elapsed().as_secs_f64() + args.take_every <= args.seconds {
        tokio::time::sleep(Duration::from_secs_f64(args.take_every)).await;
        if sources.len() < 2 {
            continue;
        }
        let src = sources[next % sources.len()].clone();
        next += 1;
        let before = program.status().ticks;
        program.take(src.clone()).await?;
        let s = tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|s| {
                s.on_air == Some(src.id) && s.pending_take.is_none() && s.ticks > before + 1
            }),
        )
        .await
        .context("take not on air within 5 s")??
        .clone();
        let (lat, gap) = (
            s.take_latency_ms.unwrap_or(0),
            s.switch_gap_frames.unwrap_or(0),
        );
        println!("TAKE source={} latency_ms={lat} gap_frames={gap}", src.id);
        latencies.push(lat);
        gaps.push(gap);
    }
    let rest = args.seconds - began.elapsed().as_secs_f64();
    if rest > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(rest)).await;
    }
    stats.abort();
    let end = program.status();
    println!("DONE");
    std::io::stdout().flush()?;
    let secs = began.elapsed().as_secs_f64();
    let ticks = end.ticks - start.ticks;
    let p = end.encoder.progress.clone().unwrap_or_default();
    println!("RESULT seconds={secs:.2}");
    println!("RESULT ticks={ticks} rate={:.3}", ticks as f64 / secs);
    println!(
        "RESULT duplicated={} dropped={} slate={}",
        end.duplicated_frames - start.duplicated_frames,
        end.dropped_frames - start.dropped_frames,
        end.slate_frames - start.slate_frames
    );
    println!(
        "RESULT encoder={} speed={:?} bitrate_kbps={:?} restarts={}",
        end.encoder_name, p.speed, p.bitrate_kbps, end.encoder.restarts
    );
    println!(
        "RESULT take_latency_ms={latencies:?} max={}",
        latencies.iter().max().copied().unwrap_or(0)
    );
    println!(
        "RESULT switch_gap_frames={gaps:?} max={}",
        gaps.iter().max().copied().unwrap_or(0)
    );
    if sources.len() >= 2 && args.take_every > 0.0 {
        // A take that is not pre-rolled: the source's decoder is not running; the session
        // stays connected and the decoder starts from its cached keyframe.
        let (on, off) = (sources[0].clone(), sources[1].clone());
        program.take(on.clone()).await?;
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|s| s.on_air == Some(on.id) && s.pending_take.is_none()),
        )
        .await
        .context("take back not on air within 5 s")??;
        program.release(off.id).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        program.take(off.clone()).await?;
        let s = tokio::time::timeout(
            Duration::from_secs(20),
            rx.wait_for(|s| {
                s.on_air == Some(off.id) && s.pending_take.is_none() && !s.slate_active
            }),
        )
        .await
        .context("cold take not on air within 20 s")??
        .clone();
        println!(
            "RESULT cold_take_latency_ms={} (wall {} ms; the previous camera stayed on air meanwhile)",
            s.take_latency_ms.unwrap_or(0),
            t.elapsed().as_millis()
        );
    }
    for o in &end.outputs {
        println!(
            "RESULT output={} state={:?} restarts={}",
            o.name, o.status.state, o.status.restarts
        );
    }
    program.stop().await;
    hub.shutdown().await;
    Ok(())
}

/// One `STAT` line a second: frames written to the encoder since `began`'s program start,
/// dropped, and the encoder's speed, so a benchmark can tell whether the program kept up
/// over its measurement window.
async fn print_stats(program: ProgramHandle, began: Instant) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let s = program.status();
        let speed = s.encoder.progress.as_ref().and_then(|p| p.speed);
        println!(
            "STAT t={:.3} ticks={} dropped={} duplicated={} speed={} frames_allocated={} frames_free={}",
            began.elapsed().as_secs_f64(),
            s.ticks,
            s.dropped_frames,
            s.duplicated_frames,
            speed.map_or("-".into(), |v| format!("{v:.3}")),
            vs_engine::framepool::allocated(),
            vs_engine::framepool::free_buffers()
        );
        let _ = std::io::stdout().flush();
    }
}

/// What the encoder's output showed, frame by frame.
#[derive(Default)]
struct OutputLog {
    /// (when the tap received the frame's first TS packet, index of the colour it shows).
    frames: Vec<(Instant, Option<usize>)>,
    lagged: bool,
}

/// Reads the program's encoded output: notes when each video frame left the encoder and,
/// by decoding it (a tiny picture is enough), which camera's colour it shows.
async fn watch_output(
    program: &ProgramHandle,
    colors: Vec<(f64, f64)>,
) -> Result<(
    std::sync::Arc<std::sync::Mutex<OutputLog>>,
    CancellationToken,
)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (start, mut rx) = program.tap_ts();
    let mut child = tokio::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
        ])
        .args(["-map", "0:v:0", "-vf", "scale=32:18", "-pix_fmt", "yuv444p"])
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("ffmpeg")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let log = std::sync::Arc::new(std::sync::Mutex::new(OutputLog::default()));
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let cancel = CancellationToken::new();
    let (a, l, c) = (arrivals.clone(), log.clone(), cancel.clone());
    tokio::spawn(async move {
        let note = |chunk: &[u8]| {
            let now = Instant::now();
            for p in chunk.chunks_exact(188) {
                let start = p[1] & 0x40 != 0;
                let payload = if p[3] & 0x20 != 0 {
                    5 + p[4] as usize
                } else {
                    4
                };
                if start && payload + 4 <= 188 && p[payload..payload + 4] == [0, 0, 1, 0xe0] {
                    a.lock().unwrap().push_back(now);
                }
            }
        };
        for chunk in start {
            note(&chunk);
            if stdin.write_all(&chunk).await.is_err() {
                return;
            }
        }
        loop {
            let chunk = tokio::select! {
                _ = c.cancelled() => return,
                r = rx.recv() => r,
            };
            match chunk {
                Ok(TapChunk::Data(d)) => {
                    note(&d);
                    if stdin.write_all(&d).await.is_err() {
                        return;
                    }
                }
                Ok(TapChunk::NewRun) => {}
                Err(_) => {
                    l.lock().unwrap().lagged = true;
                    return;
                }
            }
        }
    });
    let (l, c) = (log.clone(), cancel.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 18 * 3];
        loop {
            let read = tokio::select! {
                _ = c.cancelled() => break,
                r = stdout.read_exact(&mut buf) => r,
            };
            if read.is_err() {
                break;
            }
            // The lower two thirds of the picture, well below the time bars.
            let mean = |plane: &[u8]| {
                let rows = &plane[32 * 6..];
                rows.iter().map(|&v| v as f64).sum::<f64>() / rows.len() as f64
            };
            let (u, v) = (mean(&buf[32 * 18..2 * 32 * 18]), mean(&buf[2 * 32 * 18..]));
            let seen = colors
                .iter()
                .position(|&(cu, cv)| (u - cu).abs() < 30.0 && (v - cv).abs() < 30.0);
            let at = arrivals
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(Instant::now);
            l.lock().unwrap().frames.push((at, seen));
        }
        let _ = child.kill().await;
    });
    Ok((log, cancel))
}

/// The chroma (U, V) of a `fake_camera.py --color` name.
fn chroma_of(color: &str) -> Result<(f64, f64)> {
    Ok(match color {
        "grey" => (128.0, 128.0),
        "red" => (90.0, 240.0),
        "green" => (54.0, 34.0),
        "blue" => (240.0, 110.0),
        "yellow" => (16.0, 146.0),
        other => bail!("unknown colour {other}"),
    })
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// `--take-bench N`: N takes that are not pre-rolled, then N pre-rolled ones, between the
/// first two cameras.
async fn take_bench(program: &ProgramHandle, sources: &[SourceSpec], args: &Args) -> Result<()> {
    let colors = args
        .colors
        .iter()
        .map(|c| chroma_of(c))
        .collect::<Result<Vec<_>>>()?;
    let (log, stop_watch) = watch_output(program, colors).await?;
    let mut rx = program.subscribe();
    program.take(sources[0].clone()).await?;
    tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|s| s.on_air == Some(1) && !s.slate_active),
    )
    .await
    .context("first camera not on air within 20 s")??;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("READY pid={}", std::process::id());
    std::io::stdout().flush()?;

    // (pre-rolled, camera index, take instant, take-to-tick ms, first frame's age ms)
    let mut takes: Vec<(bool, usize, Instant, f64, f64)> = Vec::new();
    let mut on_air = 0usize;
    for i in 0..2 * args.take_bench {
        let pre_rolled = i >= args.take_bench;
        let next = 1 - on_air;
        if pre_rolled && i == args.take_bench {
            program.preroll(sources[next].clone()).await?;
        }
        // Spread the takes over the cameras' GOP (2 s in the bench).
        let pause = 700 + (i as u64 * 617) % 1600;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let before = program.status().ticks;
        let at = Instant::now();
        program.take(sources[next].clone()).await?;
        let id = sources[next].id;
        let s = tokio::time::timeout(
            Duration::from_secs(10),
            rx.wait_for(|s| {
                s.last_take
                    .as_ref()
                    .is_some_and(|t| t.source == id && t.tick >= before)
            }),
        )
        .await
        .context("take not on air within 10 s")??
        .clone();
        let t = s.last_take.expect("checked");
        if t.pre_rolled != pre_rolled {
            bail!(
                "take {i}: pre-rolled {} expected {pre_rolled}",
                t.pre_rolled
            );
        }
        println!(
            "TAKE source={id} pre_rolled={} to_tick_ms={:.1} frame_age_ms={:.1}",
            t.pre_rolled, t.latency_ms, t.frame_age_ms
        );
        takes.push((pre_rolled, next, at, t.latency_ms, t.frame_age_ms));
        if !pre_rolled {
            program.release(sources[on_air].id).await?;
        }
        on_air = next;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_watch.cancel();
    let log = log.lock().unwrap();
    if log.lagged {
        bail!("the output watcher fell behind the encoder: no output figures");
    }
    let fps = args.fps as f64;
    for pre_rolled in [false, true] {
        let label = if pre_rolled {
            "pre_rolled"
        } else {
            "not_pre_rolled"
        };
        let mine: Vec<&(bool, usize, Instant, f64, f64)> =
            takes.iter().filter(|t| t.0 == pre_rolled).collect();
        let to_tick: Vec<f64> = mine.iter().map(|t| t.3).collect();
        let mut to_output = Vec::new();
        for (_, cam, at, ..) in &mine {
            let first = log
                .frames
                .iter()
                .find(|(when, seen)| when >= at && *seen == Some(*cam));
            match first {
                Some((when, _)) => to_output.push(when.duration_since(*at).as_secs_f64() * 1e3),
                None => bail!("no encoded frame of camera {} after a take", cam + 1),
            }
        }
        let ages: Vec<f64> = mine.iter().map(|t| t.4).collect();
        println!(
            "RESULT take_to_air_{label} n={} to_tick_ms p50={:.0} p95={:.0} max={:.0} \
             | to_encoded_output_ms p50={:.0} p95={:.0} max={:.0} (p95 {:.1} frames) \
             | first_frame_age_ms p50={:.0} max={:.0}",
            mine.len(),
            percentile(&to_tick, 0.5),
            percentile(&to_tick, 0.95),
            percentile(&to_tick, 1.0),
            percentile(&to_output, 0.5),
            percentile(&to_output, 0.95),
            percentile(&to_output, 1.0),
            percentile(&to_output, 0.95) * fps / 1e3,
            percentile(&ages, 0.5),
            percentile(&ages, 1.0),
        );
    }
    let frames_seen = log.frames.iter().filter(|f| f.1.is_some()).count();
    println!(
        "RESULT output_frames={} with_a_camera_colour={frames_seen}",
        log.frames.len()
    );
    let s = program.status();
    println!(
        "RESULT dropped={} slate={} encoder_restarts={}",
        s.dropped_frames, s.slate_frames, s.encoder.restarts
    );
    Ok(())
}
