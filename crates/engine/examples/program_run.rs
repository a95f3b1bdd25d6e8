//! Runs one program (cameras pre-rolled, an image and a clock overlay, a take every few
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
//! then one `TAKE …` line per take and `RESULT key=value` lines at the end.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio_util::sync::CancellationToken;
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
            other => bail!("unknown argument {other}"),
        }
    }
    if a.cameras.is_empty() {
        bail!("at least one --camera URL");
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

#[tokio::main]
async fn main() -> Result<()> {
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
    cfg.outputs = args
        .outputs
        .iter()
        .enumerate()
        .map(|(i, url)| OutputSpec::new(i as i64 + 1, format!("out{}", i + 1), url.clone()))
        .collect();
    let program = Program::start(cfg, Deps::real(), CancellationToken::new()).await?;
    let (w, h) = (args.width as i32, args.height as i32);
    program
        .set_overlays(vec![
            Overlay {
                id: 1,
                visible: true,
                kind: OverlayKind::Image {
                    image: ImageData::Png(logo().into()),
                    x: w - 240 - 24,
                    y: 24,
                    width: None,
                    height: None,
                    opacity: 0.9,
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

    let sources: Vec<SourceSpec> = args
        .cameras
        .iter()
        .enumerate()
        .map(|(i, url)| SourceSpec::new(i as i64 + 1, format!("cam{}", i + 1), url.clone()))
        .collect();
    for s in &sources {
        program.preroll(s.clone()).await?;
    }
    let mut rx = program.subscribe();
    let delivered = tokio::time::timeout(
        Duration::from_secs(30),
        rx.wait_for(|s| s.ingests.len() == sources.len() && s.ingests.iter().all(|i| i.frames > 0)),
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
    let mut next = 1usize;
    let mut latencies = Vec::new();
    let mut gaps = Vec::new();
    while began.elapsed().as_secs_f64() + args.take_every <= args.seconds {
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
    if sources.len() >= 2 {
        // A cold take: the source's ingest is not running, so this is connect + probe + the
        // camera's next key frame.
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
    Ok(())
}
