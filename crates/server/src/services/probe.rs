//! One-shot media probes of a camera: `ffprobe` for the connection test and health checks,
//! `ffmpeg` for a JPEG snapshot. Every run has a deadline and is killed (with its process
//! group) when it passes; failures are classified in words a user can act on.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::Command;
use utoipa::ToSchema;
use vs_base::stream_url::redact_text;
use vs_base::Protocol;

/// Why a camera could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeErrorKind {
    /// The camera refused the username or password.
    AuthFailed,
    /// Nothing answers at that host and port.
    Unreachable,
    /// The camera answered but has no stream at that path.
    NotFound,
    /// The camera did not answer in time.
    Timeout,
    /// The camera answered with something that is not a playable stream.
    Protocol,
    /// FFmpeg/ffprobe is not installed on the appliance.
    ToolMissing,
}

impl ProbeErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeErrorKind::AuthFailed => "auth_failed",
            ProbeErrorKind::Unreachable => "unreachable",
            ProbeErrorKind::NotFound => "not_found",
            ProbeErrorKind::Timeout => "timeout",
            ProbeErrorKind::Protocol => "protocol",
            ProbeErrorKind::ToolMissing => "tool_missing",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            ProbeErrorKind::AuthFailed => {
                "the camera refused the username or password; check the credentials"
            }
            ProbeErrorKind::Unreachable => {
                "nothing answers at that address; check the host, the port and that the camera is powered and on the network"
            }
            ProbeErrorKind::NotFound => {
                "the camera answered but has no stream at that path; check the path in the address (e.g. /stream1)"
            }
            ProbeErrorKind::Timeout => {
                "the camera did not answer in time; it may be overloaded or the network is too slow"
            }
            ProbeErrorKind::Protocol => {
                "the camera answered, but not with a stream the appliance can read; check the protocol and the path"
            }
            ProbeErrorKind::ToolMissing => {
                "FFmpeg is not installed on the appliance; install the ffmpeg package"
            }
        }
    }
}

/// What a successful probe found.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct StreamInfo {
    pub codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<f64>,
    pub has_audio: bool,
    pub audio_codec: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProbeError {
    pub kind: ProbeErrorKind,
    /// A sentence for the user; never contains credentials.
    pub message: String,
    /// Redacted tool output, for the log.
    pub detail: String,
}

/// Input options that bound how long FFmpeg waits on a network source.
fn input_options(protocol: Protocol, timeout: Duration) -> Vec<String> {
    let us = timeout.as_micros().to_string();
    match protocol {
        Protocol::Rtsp | Protocol::Rtsps => vec![
            "-rtsp_transport".into(),
            "tcp".into(),
            "-timeout".into(),
            us,
        ],
        _ => vec!["-rw_timeout".into(), us],
    }
}

/// Classifies FFmpeg's stderr. The order matters: an auth failure also says "Invalid data".
pub fn classify(stderr: &str) -> ProbeErrorKind {
    let s = stderr.to_ascii_lowercase();
    if has_status(&s, "401") || s.contains("unauthorized") || s.contains("authorization failed") {
        ProbeErrorKind::AuthFailed
    } else if has_status(&s, "404") || s.contains("not found") && !s.contains("no such file") {
        ProbeErrorKind::NotFound
    } else if s.contains("connection refused")
        || s.contains("no route to host")
        || s.contains("network is unreachable")
        || s.contains("name or service not known")
        || s.contains("temporary failure in name resolution")
        || s.contains("cannot assign requested address")
    {
        ProbeErrorKind::Unreachable
    } else if s.contains("timed out") || s.contains("timeout") {
        ProbeErrorKind::Timeout
    } else {
        ProbeErrorKind::Protocol
    }
}

/// An RTSP/HTTP status code as FFmpeg prints it ("failed: 401 Unauthorized", "returned 404"):
/// the digits stand alone, so a port or a path that contains them ("127.0.0.1:34012") is no
/// status.
fn has_status(s: &str, code: &str) -> bool {
    s.match_indices(code).any(|(i, _)| {
        let before = s[..i].chars().next_back();
        let after = s[i + code.len()..].chars().next();
        matches!(before, None | Some(' ' | '(' | '\t'))
            && !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '.' || c == '/')
    })
}

fn error(kind: ProbeErrorKind, detail: String) -> ProbeError {
    ProbeError {
        kind,
        message: kind.explain().to_string(),
        detail,
    }
}

/// Runs a command with a deadline; the whole process group is killed when it passes.
async fn run_bounded(
    program: &Path,
    args: &[String],
    deadline: Duration,
) -> Result<std::process::Output, ProbeError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            error(
                ProbeErrorKind::ToolMissing,
                format!("{}: {e}", program.display()),
            )
        } else {
            error(
                ProbeErrorKind::Protocol,
                format!("spawn {}: {e}", program.display()),
            )
        }
    })?;
    let pid = child.id();
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(error(ProbeErrorKind::Protocol, e.to_string())),
        Err(_) => {
            // The future (and with it the child) is dropped, which kills the process; also
            // kill the group in case FFmpeg forked helpers.
            #[cfg(unix)]
            if let Some(pid) = pid {
                // SAFETY: signalling a process group we created; failure is harmless.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
            }
            Err(error(
                ProbeErrorKind::Timeout,
                format!("no answer within {} ms", deadline.as_millis()),
            ))
        }
    }
}

/// Probes a stream: codec, size, frame rate, audio. `url` carries credentials and is never
/// logged or returned.
pub async fn probe(
    ffprobe: &Path,
    url: &str,
    protocol: Protocol,
    timeout: Duration,
) -> Result<(StreamInfo, Duration), ProbeError> {
    let started = Instant::now();
    let mut args = vec!["-v".to_string(), "error".into()];
    args.extend(input_options(protocol, timeout));
    args.extend([
        "-probesize".into(),
        "1000000".into(),
        "-analyzeduration".into(),
        "2000000".into(),
        "-show_streams".into(),
        "-of".into(),
        "json".into(),
        url.into(),
    ]);
    let out = run_bounded(ffprobe, &args, timeout + Duration::from_secs(2)).await?;
    let stderr = redact_text(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(error(classify(&stderr), stderr));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| error(ProbeErrorKind::Protocol, format!("ffprobe output: {e}")))?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let Some(video) = video else {
        return Err(ProbeError {
            kind: ProbeErrorKind::Protocol,
            message: "the stream has no video".into(),
            detail: stderr,
        });
    };
    let info = StreamInfo {
        codec: video["codec_name"].as_str().map(str::to_string),
        width: video["width"].as_i64(),
        height: video["height"].as_i64(),
        fps: video["avg_frame_rate"]
            .as_str()
            .and_then(parse_rate)
            .or_else(|| video["r_frame_rate"].as_str().and_then(parse_rate)),
        has_audio: audio.is_some(),
        audio_codec: audio.and_then(|a| a["codec_name"].as_str().map(str::to_string)),
    };
    Ok((info, started.elapsed()))
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| (n / d * 100.0).round() / 100.0)
}

/// Grabs one frame as a JPEG, scaled to `width` (keeping the aspect ratio) when given.
pub async fn snapshot(
    ffmpeg: &Path,
    url: &str,
    protocol: Protocol,
    width: Option<u32>,
    timeout: Duration,
) -> Result<Vec<u8>, ProbeError> {
    let mut args = vec!["-nostdin".to_string(), "-v".into(), "error".into()];
    args.extend(input_options(protocol, timeout));
    args.extend(["-i".into(), url.into(), "-frames:v".into(), "1".into()]);
    if let Some(w) = width {
        args.extend(["-vf".into(), format!("scale={w}:-2")]);
    }
    args.extend([
        "-q:v".into(),
        "5".into(),
        "-f".into(),
        "image2pipe".into(),
        "-c:v".into(),
        "mjpeg".into(),
        "pipe:1".into(),
    ]);
    let out = run_bounded(ffmpeg, &args, timeout + Duration::from_secs(3)).await?;
    let stderr = redact_text(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() || out.stdout.len() < 4 || out.stdout[..2] != [0xFF, 0xD8] {
        return Err(error(classify(&stderr), stderr));
    }
    Ok(out.stdout)
}

/// The first line of `ffmpeg -version`, or None when FFmpeg is missing.
pub async fn ffmpeg_version(ffmpeg: &Path) -> Option<String> {
    let out = run_bounded(ffmpeg, &["-version".into()], Duration::from_secs(5))
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| {
        l.trim_start_matches("ffmpeg version ")
            .split(" Copyright")
            .next()
            .unwrap_or(l)
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_real_ffmpeg_messages() {
        let cases = [
            ("[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized\nrtsp://***@127.0.0.1:8554/cam: Server returned 401 Unauthorized (authorization failed)", ProbeErrorKind::AuthFailed),
            ("[tcp @ 0x5] Connection to tcp://127.0.0.1:9 failed: Connection refused\nrtsp://127.0.0.1:9/x: Connection refused", ProbeErrorKind::Unreachable),
            ("[rtsp @ 0x5] method DESCRIBE failed: 404 Not Found\nrtsp://127.0.0.1:8554/nope: Server returned 404 Not Found", ProbeErrorKind::NotFound),
            ("[tcp @ 0x5] Connection to tcp://10.255.0.1:554 failed: Connection timed out", ProbeErrorKind::Timeout),
            ("rtsp://127.0.0.1:8554/x: Invalid data found when processing input", ProbeErrorKind::Protocol),
            // A port or a path holding the digits of a status code is no status (a camera on
            // port 34012 was reported as refusing its password once it went away).
            ("[tcp @ 0x5] Connection to tcp://127.0.0.1:34012 failed: Connection refused\nrtsp://127.0.0.1:34012/cam: Connection refused", ProbeErrorKind::Unreachable),
            ("[tcp @ 0x5] Connection to tcp://127.0.0.1:40401 failed: Connection refused", ProbeErrorKind::Unreachable),
            ("rtsp://127.0.0.1:8554/404cam: Connection refused", ProbeErrorKind::Unreachable),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text), kind, "{text}");
        }
    }

    #[test]
    fn frame_rates() {
        assert_eq!(parse_rate("30000/1001"), Some(29.97));
        assert_eq!(parse_rate("25/1"), Some(25.0));
        assert_eq!(parse_rate("0/0"), None);
    }
}
