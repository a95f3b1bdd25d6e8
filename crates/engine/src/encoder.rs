//! Picks the H.264 encoder by trying each candidate with a short real encode: `ffmpeg
//! -encoders` lists what was compiled in, not what the hardware and drivers can actually do.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncReadExt;
use vs_base::stream_url::redact_text;
use vs_base::{Error, ErrorKind, Result};

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
            vaapi_device: "/dev/dri/renderD128".into(),
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

/// The arguments of the test encode of `encoder`.
pub fn probe_args(encoder: &str, opts: &ProbeOptions) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    if encoder.ends_with("_vaapi") {
        args.extend(["-vaapi_device".to_string(), opts.vaapi_device.clone()]);
    }
    args.extend([
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!(
            "testsrc2=size={}x{}:rate={}",
            opts.width, opts.height, opts.fps
        ),
        "-t".into(),
        format!("{:.3}", opts.duration.as_secs_f64()),
    ]);
    // VAAPI wants frames in GPU memory; the others take system-memory yuv420p.
    if encoder.ends_with("_vaapi") {
        args.extend(["-vf".into(), "format=nv12,hwupload".into()]);
    } else {
        args.extend(["-pix_fmt".into(), "yuv420p".into()]);
    }
    args.extend(
        ["-c:v", encoder, "-b:v", "2M", "-f", "null", "-"]
            .iter()
            .map(|s| s.to_string()),
    );
    args
}

async fn test_encode(
    ffmpeg: &Path,
    encoder: &str,
    opts: &ProbeOptions,
) -> std::result::Result<(), String> {
    let mut child = tokio::process::Command::new(ffmpeg)
        .args(probe_args(encoder, opts))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let run = async {
        let mut text = Vec::new();
        // The pipe closes when FFmpeg exits; reading it all first avoids a full-pipe deadlock.
        let _ = stderr.read_to_end(&mut text).await;
        let status = child.wait().await;
        (status, text)
    };
    match tokio::time::timeout(opts.timeout, run).await {
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((status, text)) => {
            let text = redact_text(&String::from_utf8_lossy(&text));
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
            let status = match status {
                Ok(s) => crate::spawner::Exit::from(s).to_string(),
                Err(e) => e.to_string(),
            };
            Err(if tail.is_empty() {
                status
            } else {
                format!("{status}: {tail}")
            })
        }
        Err(_) => {
            if let Some(pid) = child.id() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill().await;
            Err(format!("timed out after {}s", opts.timeout.as_secs_f64()))
        }
    }
}

/// The version FFmpeg reports, e.g. `5.1.9-0+deb12u1`.
pub async fn ffmpeg_version(ffmpeg: &Path) -> Result<String> {
    let unavailable = |msg: String| Error::new(ErrorKind::Unavailable, msg);
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(ffmpeg)
            .args(["-hide_banner", "-version"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| unavailable(format!("{} -version timed out", ffmpeg.display())))?
    .map_err(|e| unavailable(format!("cannot run {}: {e}", ffmpeg.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| {
        unavailable(format!(
            "{} does not look like FFmpeg (no version line)",
            ffmpeg.display()
        ))
    })
}

fn parse_version(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let rest = line.strip_prefix("ffmpeg version ")?;
    rest.split_whitespace().next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        let text = "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers\n\
                    built with gcc 12";
        assert_eq!(parse_version(text).as_deref(), Some("5.1.9-0+deb12u1"));
        assert_eq!(
            parse_version("ffmpeg version n7.1 Copyright").as_deref(),
            Some("n7.1")
        );
        assert_eq!(parse_version("bash: ffmpeg: not found"), None);
    }

    #[test]
    fn vaapi_gets_a_device_and_an_upload() {
        let args = probe_args("h264_vaapi", &ProbeOptions::default()).join(" ");
        assert!(args.contains("-vaapi_device /dev/dri/renderD128"));
        assert!(args.contains("-vf format=nv12,hwupload"));
        let args = probe_args("libx264", &ProbeOptions::default()).join(" ");
        assert!(args.contains("-pix_fmt yuv420p -c:v libx264"));
        assert!(args.ends_with("-f null -"));
    }
}
