//! "Test destination": publishes a few seconds of a generated test pattern (colour bars, a
//! tone) to a destination and reports whether it was accepted, or the server's refusal in
//! plain words. Independent of any running program: it opens its own session.
//!
//! The pattern comes from an FFmpeg encoder (`lavfi` test source → H.264 + AAC → MPEG-TS on
//! its stdout) whose command line holds no address at all; RTMP(S) is then published from
//! this process, SRT through [`SrtOutput`] (secrets through its FIFO).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use vs_base::Protocol;

use super::error::{PublishError, PublishErrorKind};
use super::media::TsFrames;
use super::mux::{Encoded, SessionMux, Timeline};
use super::rtmp::{self, ConnectOptions};
use super::srt::SrtOutput;
use super::target::PublishTarget;

#[derive(Debug, Clone)]
pub struct TestPublishOptions {
    /// How long the pattern is published once the server accepted it.
    pub duration: Duration,
    pub ffmpeg: PathBuf,
    pub connect: ConnectOptions,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video_kbps: u32,
}

impl Default for TestPublishOptions {
    fn default() -> Self {
        TestPublishOptions {
            duration: Duration::from_secs(5),
            ffmpeg: PathBuf::from("ffmpeg"),
            connect: ConnectOptions::default(),
            width: 640,
            height: 360,
            fps: 30,
            video_kbps: 800,
        }
    }
}

/// What a successful test did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestPublishReport {
    /// Until the server accepted the stream (RTMP) or the connection (SRT).
    pub connect_ms: u64,
    /// How long the pattern was sent.
    pub published_ms: u64,
    /// Frames sent (RTMP; 0 for SRT, whose muxing FFmpeg does).
    pub frames_sent: u64,
    pub bytes_sent: u64,
}

/// Aborts a task when dropped (the secrets' hand-over, once the test is over).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn local(msg: impl Into<String>) -> PublishError {
    PublishError::new(PublishErrorKind::Local, msg)
}

fn encoder(opts: &TestPublishOptions) -> Result<Child, PublishError> {
    let t = (opts.duration + Duration::from_secs(3))
        .as_secs_f64()
        .to_string();
    let mut cmd = Command::new(&opts.ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!(
                "testsrc2=size={}x{}:rate={}",
                opts.width, opts.height, opts.fps
            ),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &t, "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", &opts.fps.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-b:v", &format!("{}k", opts.video_kbps)])
        .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000"])
        .args(["-f", "mpegts", "-flush_packets", "1", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn().map_err(|e| {
        local(format!(
            "cannot start the test pattern encoder ({}): {e}",
            opts.ffmpeg.display()
        ))
    })
}

/// Connects, publishes the pattern for `opts.duration`, disconnects.
pub async fn test_publish(
    target: &PublishTarget,
    opts: &TestPublishOptions,
) -> Result<TestPublishReport, PublishError> {
    match target.protocol {
        Protocol::Rtmp | Protocol::Rtmps => test_rtmp(target, opts).await,
        Protocol::Srt => test_srt(target, opts).await,
        _ => Err(PublishError::new(
            PublishErrorKind::InvalidTarget,
            "only rtmp://, rtmps:// and srt:// destinations can be tested",
        )),
    }
}

async fn test_rtmp(
    target: &PublishTarget,
    opts: &TestPublishOptions,
) -> Result<TestPublishReport, PublishError> {
    let t0 = Instant::now();
    let mut session = rtmp::connect(target, &opts.connect).await?;
    let connect_ms = t0.elapsed().as_millis() as u64;
    let mut child = encoder(opts)?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| local("the encoder has no stdout"))?;
    let mut ts = TsFrames::new();
    let mut timeline = Timeline::default();
    let mut mux = SessionMux::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut started: Option<Instant> = None;
    // The encoder needs a moment to start; bound the whole run.
    let deadline = Instant::now() + opts.duration + Duration::from_secs(15);
    let result = loop {
        if started.is_some_and(|s| s.elapsed() >= opts.duration) {
            break Ok(());
        }
        let n = tokio::select! {
            e = session.ended() => break Err(e),
            _ = tokio::time::sleep_until(deadline) => break Err(local("the test pattern encoder produced too little")),
            r = stdout.read(&mut buf) => r,
        };
        let n = match n {
            Ok(0) | Err(_) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err).await;
                }
                break Err(local(format!(
                    "the test pattern encoder stopped: {}",
                    err.lines().last().unwrap_or("no message")
                )));
            }
            Ok(n) => n,
        };
        out.clear();
        for f in ts.push(&buf[..n], Instant::now()) {
            if let Encoded::Sent(len) = mux.encode(&mut session, &mut timeline, &f, &mut out) {
                frames += 1;
                bytes += len as u64;
                started.get_or_insert_with(Instant::now);
            }
        }
        if !out.is_empty() {
            if let Err(e) = session.write(&out).await {
                break Err(e);
            }
        }
    };
    let _ = child.kill().await;
    match result {
        Ok(()) => {
            session.finish().await;
            Ok(TestPublishReport {
                connect_ms,
                published_ms: started.map(|s| s.elapsed().as_millis() as u64).unwrap_or(0),
                frames_sent: frames,
                bytes_sent: bytes,
            })
        }
        Err(e) => Err(PublishError::new(e.kind, target.redact(&e.message))),
    }
}

async fn test_srt(
    target: &PublishTarget,
    opts: &TestPublishOptions,
) -> Result<TestPublishReport, PublishError> {
    let output = std::sync::Arc::new(SrtOutput::new(target)?);
    let t0 = Instant::now();
    let mut egress = Command::new(&opts.ffmpeg)
        .args(output.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| local(format!("cannot start FFmpeg: {e}")))?;
    // FFmpeg reads its output options (the FIFO) only once it has probed its input: the
    // secrets are handed over while the pattern already flows.
    let handing = {
        let output = output.clone();
        tokio::spawn(async move { output.hand_over(Duration::from_secs(15)).await })
    };
    let _abort_handing = AbortOnDrop(handing);
    let mut child = encoder(opts)?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| local("the encoder has no stdout"))?;
    let mut stdin = egress
        .stdin
        .take()
        .ok_or_else(|| local("FFmpeg has no stdin"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    let until = Instant::now() + opts.duration;
    let failed = loop {
        if Instant::now() >= until {
            break None;
        }
        tokio::select! {
            st = egress.wait() => break Some(st.ok()),
            _ = tokio::time::sleep_until(until) => break None,
            r = stdout.read(&mut buf) => match r {
                Ok(n) if n > 0 => {
                    if stdin.write_all(&buf[..n]).await.is_err() {
                        break Some(egress.wait().await.ok());
                    }
                    bytes += n as u64;
                }
                _ => break Some(None),
            },
        }
    };
    let _ = child.kill().await;
    drop(stdin);
    let status = match failed {
        None => tokio::time::timeout(Duration::from_secs(5), egress.wait())
            .await
            .ok()
            .and_then(|r| r.ok()),
        Some(st) => st,
    };
    let mut err = String::new();
    if let Some(mut e) = egress.stderr.take() {
        let _ = tokio::time::timeout(Duration::from_secs(1), e.read_to_string(&mut err)).await;
    }
    match (failed, status) {
        (None, Some(st)) if st.success() => Ok(TestPublishReport {
            connect_ms: t0
                .elapsed()
                .as_millis()
                .saturating_sub(opts.duration.as_millis()) as u64,
            published_ms: opts.duration.as_millis() as u64,
            frames_sent: 0,
            bytes_sent: bytes,
        }),
        _ => {
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            Err(PublishError::new(
                PublishErrorKind::Refused,
                target.redact(&format!(
                    "{} did not accept the SRT connection (nothing listening, or a wrong passphrase or stream id): {last}",
                    target.endpoint()
                )),
            ))
        }
    }
}
