//! One-shot looks at a camera and at the installed FFmpeg: `ffprobe` for the connection test
//! and health checks, `ffmpeg` for a JPEG snapshot, `ffmpeg -version`. Every run is bounded
//! ([`run_bounded`]); failures are classified in words a user can act on, and nothing that
//! leaves here carries a credential.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;
use vs_base::stream_url::redact_text;
use vs_base::{Error, ErrorKind, Protocol};

use super::input::{InputTransport, StdinInput};
use super::run::{run_bounded, run_bounded_with_input, RunError};

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

    /// A sentence telling the user what to check.
    pub fn explain(self) -> &'static str {
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

/// A failed probe or snapshot.
#[derive(Debug, Clone)]
pub struct ProbeError {
    pub kind: ProbeErrorKind,
    /// A sentence for the user; never contains credentials.
    pub message: String,
    /// Redacted tool output, for the log.
    pub detail: String,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProbeError {}

impl ProbeError {
    fn new(kind: ProbeErrorKind, detail: String) -> Self {
        ProbeError {
            kind,
            message: kind.explain().to_string(),
            detail,
        }
    }
}

impl From<RunError> for ProbeError {
    fn from(e: RunError) -> Self {
        let kind = match &e {
            e if e.is_not_found() => ProbeErrorKind::ToolMissing,
            RunError::TimedOut { .. } => ProbeErrorKind::Timeout,
            RunError::Spawn { .. } | RunError::Wait { .. } => ProbeErrorKind::Protocol,
        };
        ProbeError::new(kind, redact_text(&e.to_string()))
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

/// The ffprobe arguments of a stream probe (codec, size, frame rate, audio) as JSON, and the
/// list to write to its stdin: the address (with its credentials) is never on the command
/// line.
pub fn probe_args(url: &str, protocol: Protocol, timeout: Duration) -> (Vec<String>, String) {
    let input = StdinInput::new(url, InputTransport::of_protocol(protocol), timeout);
    let mut args = vec!["-v".to_string(), "error".into()];
    args.extend([
        "-probesize".into(),
        "1000000".into(),
        "-analyzeduration".into(),
        "2000000".into(),
    ]);
    args.extend(input.args);
    args.extend(["-show_streams".into(), "-of".into(), "json".into()]);
    (args, input.list)
}

/// Probes a stream: codec, size, frame rate, audio; also how long it took. `url` carries
/// credentials and is never logged, returned or put on a command line.
pub async fn probe(
    ffprobe: &Path,
    url: &str,
    protocol: Protocol,
    timeout: Duration,
) -> Result<(StreamInfo, Duration), ProbeError> {
    let started = Instant::now();
    let (args, list) = probe_args(url, protocol, timeout);
    let out = run_bounded_with_input(
        ffprobe,
        &args,
        Some(list.as_bytes()),
        timeout + Duration::from_secs(2),
    )
    .await?;
    let stderr = redact_text(&String::from_utf8_lossy(&out.stderr));
    if !out.exit.success() {
        return Err(ProbeError::new(classify(&stderr), stderr));
    }
    let info = parse_probe(&out.stdout, stderr)?;
    Ok((info, started.elapsed()))
}

/// Reads ffprobe's `-show_streams -of json`; `stderr` (redacted) is the detail of an error.
pub fn parse_probe(json: &[u8], stderr: String) -> Result<StreamInfo, ProbeError> {
    let json: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| ProbeError::new(ProbeErrorKind::Protocol, format!("ffprobe output: {e}")))?;
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
    Ok(StreamInfo {
        codec: video["codec_name"].as_str().map(str::to_string),
        width: video["width"].as_i64(),
        height: video["height"].as_i64(),
        fps: video["avg_frame_rate"]
            .as_str()
            .and_then(parse_rate)
            .or_else(|| video["r_frame_rate"].as_str().and_then(parse_rate)),
        has_audio: audio.is_some(),
        audio_codec: audio.and_then(|a| a["codec_name"].as_str().map(str::to_string)),
    })
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| (n / d * 100.0).round() / 100.0)
}

/// The ffmpeg arguments of a snapshot (one frame as a JPEG on stdout, scaled to `width`,
/// keeping the aspect ratio, when given) and the list to write to its stdin: the address is
/// never on the command line.
pub fn snapshot_args(
    url: &str,
    protocol: Protocol,
    width: Option<u32>,
    timeout: Duration,
) -> (Vec<String>, String) {
    let input = StdinInput::new(url, InputTransport::of_protocol(protocol), timeout);
    let mut args = vec!["-nostdin".to_string(), "-v".into(), "error".into()];
    args.extend(input.args);
    args.extend(["-frames:v".into(), "1".into()]);
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
    (args, input.list)
}

/// Grabs one frame as a JPEG, scaled to `width` (keeping the aspect ratio) when given.
pub async fn snapshot(
    ffmpeg: &Path,
    url: &str,
    protocol: Protocol,
    width: Option<u32>,
    timeout: Duration,
) -> Result<Vec<u8>, ProbeError> {
    let (args, list) = snapshot_args(url, protocol, width, timeout);
    let out = run_bounded_with_input(
        ffmpeg,
        &args,
        Some(list.as_bytes()),
        timeout + Duration::from_secs(3),
    )
    .await?;
    let stderr = redact_text(&String::from_utf8_lossy(&out.stderr));
    if !out.exit.success() || out.stdout.len() < 4 || out.stdout[..2] != [0xFF, 0xD8] {
        return Err(ProbeError::new(classify(&stderr), stderr));
    }
    Ok(out.stdout)
}

/// The version FFmpeg reports, e.g. `5.1.9-0+deb12u1`. Fails (kind `Unavailable`) when FFmpeg
/// cannot be run or does not look like FFmpeg.
pub async fn ffmpeg_version(ffmpeg: &Path) -> vs_base::Result<String> {
    let unavailable = |msg: String| Error::new(ErrorKind::Unavailable, msg);
    let args = ["-hide_banner", "-version"].map(String::from);
    let out = run_bounded(ffmpeg, &args, Duration::from_secs(10))
        .await
        .map_err(|e| unavailable(e.to_string()))?;
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

    /// The command lines hold no address (it is on stdin, with the transport's options).
    #[test]
    fn probe_and_snapshot_args_hold_no_address() {
        let t = Duration::from_secs(5);
        let (args, list) = probe_args("rtsp://u:secretpw@h/s", Protocol::Rtsp, t);
        assert_eq!(
            args.join(" "),
            "-v error -probesize 1000000 -analyzeduration 2000000 -protocol_whitelist \
             pipe,file,tcp,tls,udp,rtmp,rtmps,rtmpt,srt,rtsp,rtsps,rtp,srtp,crypto,http,https \
             -f concat -safe 0 -i pipe:0 -show_streams -of json"
        );
        assert!(list.contains("file 'rtsp://u:secretpw@h/s'"), "{list}");
        assert!(list.contains("option rtsp_transport tcp"), "{list}");
        let (args, list) = snapshot_args("rtmp://h/a/s?pw=secretpw", Protocol::Rtmp, Some(320), t);
        let line = args.join(" ");
        assert!(!line.contains("secretpw"), "{line}");
        assert!(
            line.ends_with(
                "-i pipe:0 -frames:v 1 -vf scale=320:-2 -q:v 5 -f image2pipe -c:v mjpeg pipe:1"
            ),
            "{line}"
        );
        assert!(list.contains("option rw_timeout 5000000"), "{list}");
    }

    #[test]
    fn probe_output_is_read() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":640,
            "height":360,"avg_frame_rate":"30/1"},{"codec_type":"audio","codec_name":"aac"}]}"#;
        let info = parse_probe(json, String::new()).unwrap();
        assert_eq!(info.codec.as_deref(), Some("h264"));
        assert_eq!(
            (info.width, info.height, info.fps),
            (Some(640), Some(360), Some(30.0))
        );
        assert_eq!(info.audio_codec.as_deref(), Some("aac"));
        assert!(info.has_audio);
        let e = parse_probe(br#"{"streams":[{"codec_type":"audio"}]}"#, "x".into()).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ProbeErrorKind::Protocol, "the stream has no video")
        );
        let e = parse_probe(b"garbage", String::new()).unwrap_err();
        assert_eq!(e.message, ProbeErrorKind::Protocol.explain());
    }

    #[tokio::test]
    async fn a_missing_tool_is_named() {
        let e = probe(
            Path::new("/nonexistent/ffprobe"),
            "rtsp://127.0.0.1:1/x",
            Protocol::Rtsp,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ProbeErrorKind::ToolMissing);
        assert!(ffmpeg_version(Path::new("/nonexistent/ffmpeg"))
            .await
            .is_err());
    }
}
