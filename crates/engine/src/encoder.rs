//! Picks the H.264 encoder by trying each candidate with a short real encode: `ffmpeg
//! -encoders` lists what was compiled in, not what the hardware and drivers can actually do.
//! The test encode's command line is in [`crate::ffmpeg::encode`].

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use vs_base::stream_url::redact_text;
use vs_base::Result;

use crate::ffmpeg::encode::{test_encode_args, VAAPI_DEVICE};
use crate::ffmpeg::probe::ffmpeg_version;
use crate::ffmpeg::run::{run_bounded, RunError};

/// Hardware first, in the order the design asks for; libx264 always last.
pub const CANDIDATES: &[&str] = &[
    "h264_v4l2m2m",
    "h264_vaapi",
    "h264_qsv",
    "h264_nvenc",
    "h264_videotoolbox",
    "libx264",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncoderResult {
    pub encoder: String,
    pub ok: bool,
    /// Why the test encode failed: the last lines FFmpeg printed, or the timeout.
    pub error: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncoderProbe {
    /// One entry per candidate, in the order tried.
    pub results: Vec<EncoderResult>,
    /// The first candidate that worked.
    pub selected: Option<String>,
}

/// Test-encode parameters.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Length of the test encode.
    pub duration: Duration,
    /// Per candidate; a wedged hardware encoder must not hang the appliance's startup.
    pub timeout: Duration,
    /// The render node for VAAPI.
    pub vaapi_device: String,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            width: 1280,
            height: 720,
            fps: 30,
            duration: Duration::from_secs(1),
            timeout: Duration::from_secs(20),
            vaapi_device: VAAPI_DEVICE.into(),
        }
    }
}

/// Tries every candidate in `CANDIDATES` order with the default options.
pub async fn probe_encoders(ffmpeg: &Path) -> Result<EncoderProbe> {
    probe_encoders_with(ffmpeg, CANDIDATES, &ProbeOptions::default()).await
}

/// Tries `candidates` one after the other (hardware encoders may share one device, so never in
/// parallel). Fails only when FFmpeg itself cannot be run.
pub async fn probe_encoders_with(
    ffmpeg: &Path,
    candidates: &[&str],
    opts: &ProbeOptions,
) -> Result<EncoderProbe> {
    ffmpeg_version(ffmpeg).await?;
    let mut results = Vec::with_capacity(candidates.len());
    for &enc in candidates {
        let started = Instant::now();
        let outcome = test_encode(ffmpeg, enc, opts).await;
        let elapsed = started.elapsed();
        tracing::info!(
            encoder = enc,
            ok = outcome.is_ok(),
            ?elapsed,
            "encoder probe"
        );
        results.push(EncoderResult {
            encoder: enc.to_string(),
            ok: outcome.is_ok(),
            error: outcome.err(),
            elapsed,
        });
    }
    let selected = results.iter().find(|r| r.ok).map(|r| r.encoder.clone());
    Ok(EncoderProbe { results, selected })
}

async fn test_encode(
    ffmpeg: &Path,
    encoder: &str,
    opts: &ProbeOptions,
) -> std::result::Result<(), String> {
    let args = test_encode_args(encoder, opts);
    let out = match run_bounded(ffmpeg, &args, opts.timeout).await {
        Ok(out) => out,
        Err(RunError::TimedOut { .. }) => {
            return Err(format!("timed out after {}s", opts.timeout.as_secs_f64()))
        }
        Err(RunError::Spawn { source, .. }) => return Err(format!("cannot run ffmpeg: {source}")),
        Err(e) => return Err(e.to_string()),
    };
    if out.exit.success() {
        return Ok(());
    }
    let text = redact_text(&String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    Err(if tail.is_empty() {
        out.exit.to_string()
    } else {
        format!("{}: {tail}", out.exit)
    })
}
