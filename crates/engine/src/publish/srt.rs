//! SRT destinations: the program's MPEG-TS copied by an FFmpeg (`-f mpegts -i pipe:0 -c copy
//! -f mpegts srt://host:port?mode=caller…`), whose `streamid` and `passphrase` never reach
//! its command line or environment.
//!
//! FFmpeg reads them from a preset file (`-fpre PATH`, one `option=value` per line, applied
//! to the output like command-line options). PATH is a FIFO in a directory only this process
//! can enter (mode 0700): nothing is written to disk, and the FIFO is filled anew for every
//! run right after FFmpeg is spawned (FFmpeg blocks on it while parsing its options). The
//! command line holds the address without its secrets and the FIFO's path.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vs_base::{Protocol, Secret};

use super::error::{PublishError, PublishErrorKind};
use super::target::PublishTarget;
use crate::backoff::BackoffPolicy;
use crate::program::tsgop::TsGop;
use crate::spawner::{BoxWrite, ProcessSpec, StdinMode};
use crate::supervisor::{supervise, Deps, MediaIo, Status, SupervisorConfig, SupervisorHandle};

/// SRT options FFmpeg's libsrt protocol takes that may carry a secret.
const SECRET_OPTIONS: [&str; 2] = ["streamid", "passphrase"];

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A directory only this process's user can enter, removed on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        for _ in 0..8 {
            let name = format!(
                "vs-srt-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            );
            let path = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free private directory name"))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An SRT destination's FFmpeg output: arguments without secrets, and the secrets for the
/// FIFO.
pub struct SrtOutput {
    url: String,
    preset: Option<(Secret, PathBuf, PrivateDir)>,
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for SrtOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtOutput")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SrtOutput {
    pub fn new(target: &PublishTarget) -> Result<Self, PublishError> {
        if target.protocol != Protocol::Srt {
            return Err(PublishError::new(
                PublishErrorKind::InvalidTarget,
                "not an srt:// destination",
            ));
        }
        let mut url = target.address.clone();
        if !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=caller");
        }
        let mut lines = String::new();
        if let Some(k) = target.key() {
            lines.push_str(&format!("streamid={}\n", percent_decode(k.expose())));
        }
        for pair in &target.credentials().query {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name).to_ascii_lowercase();
            if !SECRET_OPTIONS.contains(&name.as_str()) {
                return Err(PublishError::new(
                    PublishErrorKind::InvalidTarget,
                    format!(
                        "the SRT parameter `{name}` is not an SRT option FFmpeg takes; remove it"
                    ),
                ));
            }
            lines.push_str(&format!("{name}={}\n", percent_decode(value)));
        }
        let preset = if lines.is_empty() {
            None
        } else {
            let dir = PrivateDir::create().map_err(|e| {
                PublishError::new(
                    PublishErrorKind::Local,
                    format!("cannot create a private directory: {e}"),
                )
            })?;
            let fifo = dir.0.join("secrets");
            nix::unistd::mkfifo(
                &fifo,
                nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
            )
            .map_err(|e| {
                PublishError::new(
                    PublishErrorKind::Local,
                    format!("cannot create a FIFO: {e}"),
                )
            })?;
            Some((Secret::new(lines), fifo, dir))
        };
        Ok(SrtOutput {
            url,
            preset,
            secrets: target.secrets().to_vec(),
        })
    }

    /// The destination's address as FFmpeg gets it: without its secrets.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `args` (an FFmpeg command line ending with [`url`](Self::url) as its output) with the
    /// secrets' preset file given to that output.
    pub fn with_preset(&self, mut args: Vec<String>) -> Vec<String> {
        if let Some((_, fifo, _)) = &self.preset {
            let at = args.len().saturating_sub(1);
            args.insert(at, fifo.display().to_string());
            args.insert(at, "-fpre".into());
        }
        args
    }

    /// FFmpeg's arguments: MPEG-TS on stdin, copied to the destination. No secret in them.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
            .map(String::from)
            .to_vec();
        a.extend(
            [
                "-f", "mpegts", "-i", "pipe:0", "-map", "0", "-c", "copy", "-f", "mpegts",
            ]
            .map(String::from),
        );
        if let Some((_, fifo, _)) = &self.preset {
            a.push("-fpre".into());
            a.push(fifo.display().to_string());
        }
        a.push(self.url.clone());
        a
    }

    /// The supervised process: stdin is the TS, and every secret is masked in its stderr.
    pub fn process_spec(&self, name: &str, ffmpeg: &Path) -> ProcessSpec {
        let mut spec = ProcessSpec::new(name, ffmpeg)
            .args(self.args())
            .stdin(StdinMode::Media);
        spec.secrets = self.secrets.clone();
        spec
    }

    /// Gives the secrets to the FFmpeg just spawned: waits (up to `timeout`) until it opens
    /// the FIFO, writes them and closes it. Nothing to do when there are none.
    pub async fn hand_over(&self, timeout: Duration) -> std::io::Result<()> {
        let Some((secret, fifo, _)) = &self.preset else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tx = loop {
            // Opening the write end without a reader fails (ENXIO): FFmpeg is not there yet.
            match tokio::net::unix::pipe::OpenOptions::new().open_sender(fifo) {
                Ok(tx) => break tx,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "FFmpeg did not read its SRT options",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(e),
            }
        };
        tx.write_all(secret.expose().as_bytes()).await?;
        tx.shutdown().await
    }
}

/// A supervised FFmpeg sending one SRT destination, fed the program's TS chunks.
pub struct SrtEgress {
    pub handle: SupervisorHandle,
    /// The writer and the supervisor.
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    cancel: CancellationToken,
}

impl SrtEgress {
    /// Starts the process and its writer. `chunks` is this destination's queue of whole TS
    /// packets (from the program fan-out); data that arrives while FFmpeg is down is dropped
    /// and every run starts at the newest keyframe.
    pub async fn start(
        target: &PublishTarget,
        name: &str,
        ffmpeg: &Path,
        chunks: mpsc::Receiver<Bytes>,
        deps: Deps,
        shutdown: CancellationToken,
    ) -> Result<Self, PublishError> {
        let output = Arc::new(SrtOutput::new(target)?);
        let spec = output.process_spec(name, ffmpeg);
        let config = SupervisorConfig {
            startup_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(4),
            backoff: BackoffPolicy {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(10),
                ..BackoffPolicy::default()
            },
            ..SupervisorConfig::default()
        };
        let cancel = shutdown.child_token();
        let sup = supervise(spec, config, deps, cancel.clone());
        sup.handle.start().await.map_err(|e| {
            PublishError::new(
                PublishErrorKind::Local,
                format!("cannot start FFmpeg: {}", e.message),
            )
        })?;
        let task = tokio::spawn(srt_writer(output, chunks, sup.media, cancel.clone()));
        Ok(SrtEgress {
            handle: sup.handle,
            tasks: std::sync::Mutex::new(vec![task, sup.task]),
            cancel,
        })
    }

    pub fn status(&self) -> Status {
        self.handle.status()
    }

    pub async fn stop(self) {
        self.close().await
    }

    /// [`stop`](Self::stop) through a shared reference; later calls return at once.
    pub async fn close(&self) {
        let _ = self.handle.stop().await;
        self.cancel.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn srt_writer(
    output: Arc<SrtOutput>,
    mut chunks: mpsc::Receiver<Bytes>,
    mut media: mpsc::Receiver<MediaIo>,
    cancel: CancellationToken,
) {
    let mut gop = TsGop::new();
    let mut stdin: Option<BoxWrite> = None;
    let mut handing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            io = media.recv() => {
                let Some(io) = io else { break };
                stdin = None;
                if let Some(h) = handing.take() {
                    h.abort();
                }
                let Some(mut w) = io.stdin else { continue };
                // FFmpeg opens its output, and so reads the FIFO, only after it has probed
                // its input: the secrets are handed over while the stream already flows.
                let o = output.clone();
                handing = Some(tokio::spawn(async move {
                    if let Err(e) = o.hand_over(Duration::from_secs(20)).await {
                        tracing::warn!("SRT egress: {e}");
                    }
                }));
                // A new run starts at the newest keyframe (PAT, PMT, the GOP so far).
                let mut ok = true;
                for c in gop.start() {
                    if w.write_all(&c).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    stdin = Some(w);
                }
            }
            c = chunks.recv() => {
                let Some(chunk) = c else { break };
                gop.push(&chunk);
                if let Some(w) = stdin.as_mut() {
                    let r = tokio::select! {
                        _ = cancel.cancelled() => break,
                        r = w.write_all(&chunk) => r,
                    };
                    if r.is_err() {
                        stdin = None;
                    }
                }
            }
        }
    }
    if let Some(h) = handing {
        h.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_off_the_command_line() {
        let t = PublishTarget::parse(
            "srt://127.0.0.1:9000?latency=120000&streamid=%23!::r=live/k9,m=publish&passphrase=pass-phrase-77",
            true,
        )
        .unwrap();
        let out = SrtOutput::new(&t).unwrap();
        let args = out.args().join(" ");
        assert!(
            args.ends_with("srt://127.0.0.1:9000?latency=120000&mode=caller"),
            "{args}"
        );
        assert!(args.contains("-fpre /"), "{args}");
        assert!(
            !args.contains("pass-phrase-77") && !args.contains("k9"),
            "{args}"
        );
        let (lines, fifo, dir) = out.preset.as_ref().unwrap();
        assert_eq!(
            lines.expose(),
            "streamid=#!::r=live/k9,m=publish\npassphrase=pass-phrase-77\n"
        );
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        assert!(std::fs::metadata(fifo).unwrap().file_type().is_fifo());
        assert_eq!(
            std::fs::metadata(&dir.0).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let path = dir.0.clone();
        drop(out);
        assert!(!path.exists(), "the private directory goes with the output");

        let bad = PublishTarget::parse("srt://127.0.0.1:9000?token=abcd1234", true).unwrap();
        let e = SrtOutput::new(&bad).unwrap_err();
        assert!(
            e.message.contains("`token`") && !e.message.contains("abcd1234"),
            "{e}"
        );
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
