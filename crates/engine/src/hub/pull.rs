//! Sources the in-process RTSP client cannot read (RTMP(S), SRT, RTSPS): one FFmpeg per camera copies
//! the stream to MPEG-TS on its stdout (`-c copy -f mpegts pipe:1`), demuxed here into the
//! hub's packets.
//!
//! The camera's address with its credentials never reaches FFmpeg's command line or
//! environment: FFmpeg reads an ffconcat list from its stdin (`-f concat -safe 0 -i pipe:0`)
//! whose only entry is that address, and the pipe is closed once the list is written. The
//! command line holds nothing but `pipe:0`. Stderr lines are redacted by the supervisor (the
//! password is one of the spec's secrets).

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use vs_base::Protocol;

use super::packet::StreamInfo;
use super::source::{Connection, SourceConfig, SourceFrame};
use super::tsdemux::{TsDemuxer, TsUnit};
use super::tsframes::TsTracks;
use crate::backoff::BackoffPolicy;
use crate::spawner::{BoxRead, ProcessSpec, StdinMode, StdoutMode};
use crate::supervisor::{supervise, Deps, State, SupervisorConfig, SupervisorHandle};

/// How long FFmpeg may block on the network before it gives up (microseconds).
const RW_TIMEOUT_US: u64 = 5_000_000;
/// How long the first frames are held back waiting for the audio the PMT announced.
const AUDIO_WAIT: Duration = Duration::from_millis(1500);

/// The ffconcat list handed to FFmpeg on its stdin.
pub(crate) fn ffconcat_list(cfg: &SourceConfig) -> String {
    let url = cfg.connect_url();
    // Inside single quotes only the quote itself needs escaping ('\'' closes, escapes, reopens).
    let quoted = url.replace('\'', "'\\''");
    let mut list = format!("ffconcat version 1.0\nfile '{quoted}'\n");
    match cfg.protocol {
        Protocol::Rtmp | Protocol::Rtmps => {
            list.push_str(&format!("option rw_timeout {RW_TIMEOUT_US}\n"));
            list.push_str("option rtmp_live live\n");
        }
        Protocol::Srt => {
            // SRT's timeouts are in microseconds as well.
            list.push_str(&format!("option timeout {RW_TIMEOUT_US}\n"));
        }
        Protocol::Rtsp | Protocol::Rtsps => {
            list.push_str("option rtsp_transport tcp\n");
            list.push_str(&format!("option timeout {RW_TIMEOUT_US}\n"));
        }
    }
    list
}

pub(crate) fn pull_spec(camera_id: i64, cfg: &SourceConfig, ffmpeg: &Path) -> ProcessSpec {
    let mut spec = ProcessSpec::new(format!("hub pull camera {camera_id}"), ffmpeg)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-fflags", "nobuffer", "-analyzeduration", "1000000"])
        .args([
            "-protocol_whitelist",
            "pipe,tcp,tls,udp,rtmp,rtmps,rtmpt,srt,rtsp,rtsps,rtp,srtp,crypto",
        ])
        .args(["-f", "concat", "-safe", "0", "-i", "pipe:0"])
        .args(["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy"])
        // A video PES with its length is complete as soon as it arrives: no frame of delay.
        .args([
            "-f",
            "mpegts",
            "-omit_video_pes_length",
            "0",
            "-flush_packets",
            "1",
        ])
        .args(["pipe:1"])
        .stdin(StdinMode::Media)
        .stdout(StdoutMode::Media);
    if let Some((_, pw)) = &cfg.credentials {
        spec = spec.secret(pw.clone());
    }
    spec
}

pub(crate) struct PullConnection {
    handle: SupervisorHandle,
    task: tokio::task::JoinHandle<()>,
    cancel: CancellationToken,
    stdout: BoxRead,
    demux: TsDemuxer,
    buf: Vec<u8>,
    ready: VecDeque<SourceFrame>,
    /// Frames held until the announced audio shows up (so the first info has it).
    held: Option<(tokio::time::Instant, Vec<TsUnit>)>,
    tracks: TsTracks,
    cfg: SourceConfig,
}

impl PullConnection {
    pub(crate) async fn connect(
        camera_id: i64,
        cfg: &SourceConfig,
        ffmpeg: &Path,
        deps: Deps,
        cancel: CancellationToken,
    ) -> Result<Self, String> {
        let spec = pull_spec(camera_id, cfg, ffmpeg);
        // One run per connection: the session does the retrying (and its backoff), so the
        // supervisor gives up after the first failure and only guarantees a clean stop.
        let config = SupervisorConfig {
            startup_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(3),
            backoff: BackoffPolicy::default(),
            max_consecutive_failures: Some(1),
            restart_on_clean_exit: false,
            stderr_lines: 20,
        };
        let mut sup = supervise(spec, config, deps, cancel.clone());
        if let Err(e) = sup.handle.start().await {
            cancel.cancel();
            return Err(format!("cannot start FFmpeg: {}", e.message));
        }
        let media = tokio::time::timeout(Duration::from_secs(5), sup.media.recv()).await;
        let Ok(Some(mut io)) = media else {
            let status = sup.handle.status();
            cancel.cancel();
            let _ = sup.task.await;
            return Err(cfg.redact(
                &status
                    .last_error
                    .unwrap_or_else(|| "FFmpeg did not start".into()),
            ));
        };
        let (Some(mut stdin), Some(stdout)) = (io.stdin.take(), io.stdout.take()) else {
            cancel.cancel();
            return Err("FFmpeg pull started without pipes".into());
        };
        let list = ffconcat_list(cfg);
        let written = async {
            stdin.write_all(list.as_bytes()).await?;
            stdin.shutdown().await
        }
        .await;
        drop(stdin);
        if let Err(e) = written {
            cancel.cancel();
            return Err(format!("cannot hand the address to FFmpeg: {e}"));
        }
        Ok(PullConnection {
            handle: sup.handle,
            task: sup.task,
            cancel,
            stdout,
            demux: TsDemuxer::new(),
            buf: vec![0; 64 * 1024],
            ready: VecDeque::new(),
            held: None,
            tracks: TsTracks::default(),
            cfg: cfg.clone(),
        })
    }

    /// Why the pull ended, from the supervisor (redacted there), after it saw the exit.
    async fn failure(handle: SupervisorHandle, cfg: SourceConfig) -> String {
        let mut rx = handle.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while matches!(rx.borrow().state, State::Starting | State::Running) {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        let status = handle.status();
        let why = match (status.state, status.last_error) {
            (_, Some(e)) => e,
            (State::Stopped, None) => "the source ended the stream".into(),
            _ => "FFmpeg stopped sending".into(),
        };
        cfg.redact(&why)
    }

    fn convert(&mut self, units: Vec<TsUnit>) {
        for unit in units {
            let frame = self.tracks.convert(unit);
            self.ready.push_back(frame);
        }
    }

    /// Holds the first units until audio arrives when the PMT announced some, so the first
    /// parameters a consumer sees already have it.
    fn admit(&mut self, units: Vec<TsUnit>) {
        if self.tracks.has_audio() || !self.demux.has_audio {
            if let Some((_, held)) = self.held.take() {
                self.convert(held);
            }
            self.convert(units);
            return;
        }
        let has_audio_now = units.iter().any(|u| matches!(u, TsUnit::Audio { .. }));
        let (since, held) = self
            .held
            .get_or_insert_with(|| (tokio::time::Instant::now(), Vec::new()));
        held.extend(units);
        if has_audio_now || since.elapsed() > AUDIO_WAIT {
            let (_, held) = self.held.take().expect("just set");
            self.convert(held);
        }
    }
}

#[async_trait]
impl Connection for PullConnection {
    fn transport(&self) -> &'static str {
        "ffmpeg"
    }

    fn pid(&self) -> Option<u32> {
        self.handle.status().pid
    }

    fn info(&self) -> Option<StreamInfo> {
        self.tracks.info()
    }

    async fn next(&mut self) -> Result<SourceFrame, String> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Ok(f);
            }
            let n = match self.stdout.read(&mut self.buf).await {
                Ok(n) => n,
                Err(e) => return Err(format!("reading the FFmpeg pull failed: {e}")),
            };
            if n == 0 {
                let rest = self.demux.flush();
                self.admit(rest);
                if let Some((_, held)) = self.held.take() {
                    self.convert(held);
                }
                if let Some(f) = self.ready.pop_front() {
                    return Ok(f);
                }
                return Err(Self::failure(self.handle.clone(), self.cfg.clone()).await);
            }
            let units = self.demux.feed(&self.buf[..n]);
            self.admit(units);
        }
    }

    async fn close(self: Box<Self>) {
        let _ = self.handle.stop().await;
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vs_base::{Secret, StreamUrl};

    fn cfg(url: &str) -> SourceConfig {
        let parsed = StreamUrl::parse(url, "url").unwrap();
        SourceConfig::new(parsed.url).credentials("cam", Secret::new("s3cr'et"))
    }

    #[test]
    fn the_secret_is_in_the_list_never_on_the_command_line() {
        let c = cfg("rtmp://127.0.0.1:1935/live/cam1");
        let spec = pull_spec(7, &c, Path::new("ffmpeg"));
        let line = spec.command_args().join(" ");
        assert!(!line.contains("s3cr"), "{line}");
        assert!(!line.contains("rtmp://"), "{line}");
        assert!(line.contains("-f concat -safe 0 -i pipe:0"), "{line}");
        assert!(spec.env.is_empty());
        let list = ffconcat_list(&c);
        assert!(list.starts_with("ffconcat version 1.0\n"));
        // The quote inside the password is escaped for the list's single quotes.
        assert!(
            list.contains("file 'rtmp://cam:s3cr'\\''et@127.0.0.1:1935/live/cam1'"),
            "{list}"
        );
        assert!(list.contains("option rw_timeout 5000000"));
        let rtsps = ffconcat_list(&cfg("rtsps://127.0.0.1:322/cam"));
        assert!(
            rtsps.contains("file 'rtsps://cam:s3cr'\\''et@127.0.0.1:322/cam'"),
            "{rtsps}"
        );
        assert!(rtsps.contains("option rtsp_transport tcp\n"), "{rtsps}");
    }
}
