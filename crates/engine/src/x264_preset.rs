//! Picks the libx264 preset a program can afford on this appliance by measuring it: a short
//! real encode at the program's size and frame rate per preset, slowest first, keeping the
//! slowest (best picture per bit) that holds real time with room to spare. A Raspberry Pi 5
//! has no H.264 encoder in hardware, and the preset that holds 1080p30 there is not the one
//! that holds it on a laptop: guessing either way costs picture or dropped frames.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use vs_base::stream_url::redact_text;
use vs_base::Result;

use crate::ffmpeg::encode::tuning_args_for;
use crate::ffmpeg::probe::ffmpeg_version;
use crate::ffmpeg::run::{run_bounded, RunError};
use crate::program::ProgramConfig;
use crate::progress::parse_all;

/// Every preset a program may be set to, fastest first. Slower than `medium` never holds real
/// time on the machines this appliance targets.
pub const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
];

/// The presets the probe tries, slowest first; it stops at the first that holds.
pub const PROBED_PRESETS: &[&str] = &["veryfast", "superfast", "ultrafast"];

/// What a program's encoder uses when nothing was measured or chosen.
pub const DEFAULT_X264_PRESET: &str = "veryfast";

/// The speed (× real time) a preset must reach alone to be chosen. The program's encoder does
/// not have the CPU to itself as the probe does: the camera decoders, the compositing and the
/// audio mix run beside it, and a preset measured at exactly 1.0× would drop frames as soon
/// as any of them takes its share.
pub const REALTIME_HEADROOM: f64 = 1.5;

/// How the probe's encodes are run.
#[derive(Debug, Clone)]
pub struct PresetProbeOptions {
    /// Length of each trial encode: long enough that FFmpeg's start-up and x264's lookahead
    /// fill do not dominate the figure.
    pub duration: Duration,
    /// Per trial; a preset that needs longer is far from real time anyway.
    pub timeout: Duration,
    /// Slowest first.
    pub presets: Vec<String>,
}

impl Default for PresetProbeOptions {
    fn default() -> Self {
        PresetProbeOptions {
            duration: Duration::from_secs(2),
            timeout: Duration::from_secs(20),
            presets: PROBED_PRESETS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One preset's trial encode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetTrial {
    pub preset: String,
    /// Frames encoded per second over the program's frame rate (1.0 = just real time); `None`
    /// when the trial failed.
    pub speed: Option<f64>,
    /// Why the trial failed: the last lines FFmpeg printed, or the timeout.
    pub error: Option<String>,
    pub elapsed: Duration,
}

/// The outcome of a preset probe at one size and frame rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetProbe {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// In the order tried (slowest first).
    pub trials: Vec<PresetTrial>,
    /// The preset to use.
    pub selected: String,
    /// The measured speed of `selected`, if it was measured.
    pub speed: Option<f64>,
    /// False when no preset reached [`REALTIME_HEADROOM`]: `selected` is then `ultrafast`,
    /// the least this appliance can do, and the program may drop frames at this size.
    pub holds_real_time: bool,
}

/// Which preset to use given the trials made (slowest first): the first whose speed reaches
/// [`REALTIME_HEADROOM`]; when none does, `ultrafast` (with its speed if it was measured) and
/// `holds_real_time` false.
pub fn choose_preset(trials: &[(&str, Option<f64>)]) -> (String, Option<f64>, bool) {
    if let Some((preset, speed)) = trials
        .iter()
        .find(|(_, s)| s.is_some_and(|s| s >= REALTIME_HEADROOM))
    {
        return (preset.to_string(), *speed, true);
    }
    let speed = trials
        .iter()
        .find(|(p, _)| *p == "ultrafast")
        .and_then(|(_, s)| *s);
    ("ultrafast".to_string(), speed, false)
}

/// The command line of one trial: a synthetic picture with moving parts and sensor-like
/// temporal noise (a clean test pattern is mostly skip blocks, far cheaper to encode than a
/// camera), encoded exactly as the program's encoder does (same preset, tuning, rate control
/// and GOP), to nowhere, with FFmpeg's progress on stdout for its speed. Drawing the pattern
/// costs a little CPU that the program's encoder does not spend; the figure errs on the slow
/// side.
pub fn trial_args(
    preset: &str,
    width: u32,
    height: u32,
    fps: u32,
    duration: Duration,
) -> Vec<String> {
    let kbps = ProgramConfig::new("probe", width, height, fps).video_bitrate_kbps;
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        "-f",
        "lavfi",
        "-i",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!(
        "testsrc2=size={width}x{height}:rate={fps},noise=alls=12:allf=t"
    ));
    args.extend(["-t".into(), format!("{:.3}", duration.as_secs_f64())]);
    args.extend(["-pix_fmt", "yuv420p", "-c:v", "libx264"].map(String::from));
    args.extend(tuning_args_for("libx264", preset));
    let gop = (2 * fps).to_string();
    args.extend(
        [
            "-b:v",
            &format!("{kbps}k"),
            "-maxrate",
            &format!("{kbps}k"),
            "-bufsize",
            &format!("{}k", 2 * kbps),
            "-g",
            &gop,
            "-bf",
            "0",
            "-f",
            "null",
            "-",
        ]
        .map(String::from),
    );
    args
}

/// Probes the presets at `width`x`height` and `fps` with the default options.
pub async fn probe_x264_preset(
    ffmpeg: &Path,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<PresetProbe> {
    probe_x264_preset_with(ffmpeg, width, height, fps, &PresetProbeOptions::default()).await
}

/// Runs the trials one after the other (in parallel they would share the CPU and each measure
/// less than it can), slowest preset first, stopping at the first that holds. Fails only when
/// FFmpeg itself cannot be run.
pub async fn probe_x264_preset_with(
    ffmpeg: &Path,
    width: u32,
    height: u32,
    fps: u32,
    opts: &PresetProbeOptions,
) -> Result<PresetProbe> {
    ffmpeg_version(ffmpeg).await?;
    let mut trials: Vec<PresetTrial> = Vec::new();
    for preset in &opts.presets {
        let started = Instant::now();
        let outcome = trial(ffmpeg, preset, width, height, fps, opts).await;
        let elapsed = started.elapsed();
        tracing::info!(preset = %preset, width, height, fps, ?outcome, ?elapsed, "x264 preset probe");
        let (speed, error) = match outcome {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        trials.push(PresetTrial {
            preset: preset.clone(),
            speed,
            error,
            elapsed,
        });
        if speed.is_some_and(|s| s >= REALTIME_HEADROOM) {
            break;
        }
    }
    let measured: Vec<(&str, Option<f64>)> = trials
        .iter()
        .map(|t| (t.preset.as_str(), t.speed))
        .collect();
    let (selected, speed, holds_real_time) = choose_preset(&measured);
    if !holds_real_time {
        tracing::warn!(
            width,
            height,
            fps,
            ?speed,
            "no x264 preset holds real time with headroom at this size; using ultrafast"
        );
    }
    Ok(PresetProbe {
        width,
        height,
        fps,
        trials,
        selected,
        speed,
        holds_real_time,
    })
}

/// One trial's speed: FFmpeg's own figure from its last progress block (timed from the start
/// of encoding, so process start-up is not counted), else frames over wall time.
async fn trial(
    ffmpeg: &Path,
    preset: &str,
    width: u32,
    height: u32,
    fps: u32,
    opts: &PresetProbeOptions,
) -> std::result::Result<f64, String> {
    let args = trial_args(preset, width, height, fps, opts.duration);
    let started = Instant::now();
    let out = match run_bounded(ffmpeg, &args, opts.timeout).await {
        Ok(out) => out,
        Err(RunError::TimedOut { .. }) => {
            return Err(format!("timed out after {}s", opts.timeout.as_secs_f64()))
        }
        Err(e) => return Err(e.to_string()),
    };
    let wall = started.elapsed();
    if !out.exit.success() {
        let text = redact_text(&String::from_utf8_lossy(&out.stderr));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        return Err(format!(
            "{}: {}",
            out.exit,
            lines[lines.len().saturating_sub(3)..].join(" | ")
        ));
    }
    let blocks = parse_all(&String::from_utf8_lossy(&out.stdout));
    let last = blocks.last();
    if let Some(speed) = last.and_then(|p| p.speed).filter(|s| *s > 0.0) {
        return Ok((speed * 100.0).round() / 100.0);
    }
    let frames = last.and_then(|p| p.frame).unwrap_or(0);
    if frames == 0 {
        return Err("FFmpeg encoded no frame".into());
    }
    let speed = frames as f64 / wall.as_secs_f64() / fps as f64;
    Ok((speed * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_preset_with_headroom_is_chosen() {
        assert_eq!(
            choose_preset(&[("veryfast", Some(2.4))]),
            ("veryfast".into(), Some(2.4), true)
        );
        assert_eq!(
            choose_preset(&[("veryfast", Some(1.1)), ("superfast", Some(1.7))]),
            ("superfast".into(), Some(1.7), true)
        );
        // Exactly the headroom holds; just under it does not.
        assert_eq!(
            choose_preset(&[("veryfast", Some(1.49)), ("superfast", Some(1.5))]),
            ("superfast".into(), Some(1.5), true)
        );
        // A failed trial is not a pass.
        assert_eq!(
            choose_preset(&[("veryfast", None), ("superfast", Some(3.0))]),
            ("superfast".into(), Some(3.0), true)
        );
    }

    #[test]
    fn without_headroom_anywhere_ultrafast_with_a_warning() {
        assert_eq!(
            choose_preset(&[
                ("veryfast", Some(0.6)),
                ("superfast", Some(0.9)),
                ("ultrafast", Some(1.2))
            ]),
            ("ultrafast".into(), Some(1.2), false)
        );
        assert_eq!(
            choose_preset(&[("veryfast", None), ("superfast", None), ("ultrafast", None)]),
            ("ultrafast".into(), None, false)
        );
        assert_eq!(choose_preset(&[]), ("ultrafast".into(), None, false));
    }

    #[test]
    fn a_trial_encodes_like_the_program() {
        let a = trial_args("superfast", 1920, 1080, 30, Duration::from_secs(2)).join(" ");
        assert!(
            a.contains("-i testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t -t 2.000"),
            "{a}"
        );
        assert!(
            a.contains("-c:v libx264 -preset superfast -tune zerolatency -sc_threshold 0"),
            "{a}"
        );
        // The program's own bitrate for 1080p30 and its two-second GOP.
        assert!(
            a.contains("-b:v 5625k -maxrate 5625k -bufsize 11250k -g 60 -bf 0"),
            "{a}"
        );
        assert!(a.contains("-progress pipe:1"), "{a}");
        assert!(a.ends_with("-f null -"), "{a}");
    }

    #[test]
    fn probed_presets_are_settable_and_slowest_first() {
        let rank = |p: &str| X264_PRESETS.iter().position(|x| *x == p).unwrap();
        for w in PROBED_PRESETS.windows(2) {
            assert!(rank(w[0]) > rank(w[1]), "{w:?}");
        }
        assert!(X264_PRESETS.contains(&DEFAULT_X264_PRESET));
    }
}
