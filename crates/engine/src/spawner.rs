//! What to run and how: the process spec, the `Spawner`/`ChildControl` seam the supervisor
//! drives (faked in tests), and the real implementation on `tokio::process`.
//!
//! Progress transport: by default FFmpeg is told `-progress pipe:3 -nostats` and the child gets
//! the write end of an anonymous pipe as file descriptor 3 (dup2 in `pre_exec`). This keeps
//! stdout free for media (raw frames from an ingest), needs no port or file (so no other local
//! process can connect to it or race for it), and reaches EOF when the process group dies.
//! `ProgressSource::Stdout` (`-progress pipe:1`) is there for processes whose stdout is unused.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use vs_base::stream_url::redact_text;
use vs_base::Secret;

use crate::framepipe::FramePipe;
use crate::progress::{Progress, ProgressParser};

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub type BoxWrite = Box<dyn MediaWrite>;

/// A media pipe into a child: written like any stream, and for a real child's stdin a
/// [`FramePipe`] that takes whole raw frames without copying them.
pub trait MediaWrite: AsyncWrite + Send + Unpin {
    /// The pipe as a [`FramePipe`], when it is one.
    fn frame_pipe(&mut self) -> Option<&mut FramePipe> {
        None
    }
}

impl MediaWrite for FramePipe {
    fn frame_pipe(&mut self) -> Option<&mut FramePipe> {
        Some(self)
    }
}
impl MediaWrite for tokio::net::unix::pipe::Sender {}
impl MediaWrite for tokio::io::DuplexStream {}

/// Where the supervisor reads FFmpeg's `-progress` output from. The spawner adds the
/// `-progress … -nostats` arguments itself; do not put them in `ProcessSpec::args`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressSource {
    /// `-progress pipe:3` on an inherited pipe: stdout stays available for media.
    #[default]
    Fd3,
    /// `-progress pipe:1`: stdout is consumed by the supervisor.
    Stdout,
    /// Not an FFmpeg, or no progress wanted. The run counts as `Running` as soon as it is
    /// spawned, and stall and startup detection are off (nothing to measure).
    None,
}

/// The descriptor number of [`ProcessSpec::extra_input`] in the child (3 is progress).
pub const EXTRA_INPUT_FD: i32 = 4;

/// What the child's stdin is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdinMode {
    /// A pipe the supervisor keeps, to send FFmpeg's `q` on stop (then SIGINT, then SIGKILL).
    #[default]
    Quit,
    /// A pipe handed to the owner of the supervisor in `MediaIo::stdin` (e.g. raw frames into
    /// the program encoder). Stop uses SIGINT, then SIGKILL.
    Media,
    /// `/dev/null`. Pass `-nostdin` to FFmpeg in this mode.
    Null,
}

/// What the child's stdout is connected to (ignored with `ProgressSource::Stdout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdoutMode {
    #[default]
    Null,
    /// A pipe handed to the owner in `MediaIo::stdout` (e.g. raw frames from an ingest).
    Media,
}

/// A process to run. Cloned for every restart, so it must describe the process completely.
#[derive(Clone, Default)]
pub struct ProcessSpec {
    /// A label for logs, e.g. `ingest camera 3`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment variables (the rest is inherited).
    pub env: Vec<(String, String)>,
    pub progress: ProgressSource,
    pub stdin: StdinMode,
    pub stdout: StdoutMode,
    /// A second input pipe the child reads at file descriptor [`EXTRA_INPUT_FD`]
    /// (`-i pipe:4`), handed to the owner in `MediaIo::extra_input` (e.g. the program's PCM
    /// audio beside its raw video on stdin).
    pub extra_input: bool,
    /// Values masked in every stderr line, error and log, in addition to the credentials inside
    /// URLs that `redact_text` already strips. Put stream keys here: they live in URL paths.
    pub secrets: Vec<Secret>,
    /// Whose child this is (role, camera, program, destination): the supervisor writes every
    /// log line about the child inside this span. `None`: a span named after `name`.
    pub span: Option<tracing::Span>,
}

impl ProcessSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            name: name.into(),
            program: program.into(),
            ..Default::default()
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn progress(mut self, source: ProgressSource) -> Self {
        self.progress = source;
        self
    }

    pub fn stdin(mut self, mode: StdinMode) -> Self {
        self.stdin = mode;
        self
    }

    pub fn stdout(mut self, mode: StdoutMode) -> Self {
        self.stdout = mode;
        self
    }

    pub fn secret(mut self, secret: Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Says whose child this is in every log line about it, e.g.
    /// `.span(tracing::info_span!("ffmpeg", role = "stream", stream_id = 4, destination_id = 2))`.
    /// Never put a URL or a secret in a span's fields.
    pub fn span(mut self, span: tracing::Span) -> Self {
        self.span = Some(span);
        self
    }

    /// The span the supervisor logs this child's lines in.
    pub fn log_span(&self) -> tracing::Span {
        match &self.span {
            Some(s) => s.clone(),
            None => tracing::info_span!("child", name = %self.name),
        }
    }

    /// The arguments actually passed: the progress options first (they are global options,
    /// valid before any input), then `args`.
    pub fn command_args(&self) -> Vec<String> {
        let progress = match self.progress {
            ProgressSource::Fd3 => Some("pipe:3"),
            ProgressSource::Stdout => Some("pipe:1"),
            ProgressSource::None => None,
        };
        let mut out = Vec::with_capacity(self.args.len() + 3);
        if let Some(url) = progress {
            out.extend([
                "-progress".to_string(),
                url.to_string(),
                "-nostats".to_string(),
            ]);
        }
        out.extend(self.args.iter().cloned());
        out
    }

    /// Whether the supervisor hands out stdout (progress on stdout takes precedence).
    pub fn stdout_is_media(&self) -> bool {
        self.stdout == StdoutMode::Media && self.progress != ProgressSource::Stdout
    }

    /// Removes every credential and listed secret from a text before it is logged or stored.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_text(text);
        for s in &self.secrets {
            if !s.is_empty() {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }

    /// The command line, redacted, for logs.
    pub fn display_command(&self) -> String {
        let mut line = self.program.display().to_string();
        for a in self.command_args() {
            line.push(' ');
            line.push_str(&a);
        }
        self.redact(&line)
    }
}

impl fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessSpec")
            .field("name", &self.name)
            .field("command", &self.display_command())
            .field("progress", &self.progress)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("extra_input", &self.extra_input)
            .field(
                "span",
                &self
                    .span
                    .as_ref()
                    .and_then(|s| s.metadata())
                    .map(|m| m.name()),
            )
            .finish_non_exhaustive()
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

impl From<std::process::ExitStatus> for Exit {
    fn from(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Code(-1),
        }
    }
}

/// Control of one spawned child.
#[async_trait]
pub trait ChildControl: Send {
    /// Asks the process to finish cleanly: `q` on stdin when the supervisor holds it, else
    /// SIGINT. FFmpeg then writes its trailers and exits.
    async fn request_stop(&mut self) -> io::Result<()>;
    /// SIGINT to the process.
    fn interrupt(&mut self) -> io::Result<()>;
    /// SIGKILL to the whole process group. Works on a SIGSTOPped process too.
    fn kill(&mut self) -> io::Result<()>;
    /// Waits for the exit and reaps the process. Cancel-safe.
    async fn wait(&mut self) -> io::Result<Exit>;
}

/// A freshly spawned child and its streams.
pub struct SpawnedChild {
    pub pid: Option<u32>,
    pub control: Box<dyn ChildControl>,
    /// Parsed progress blocks; `None` with `ProgressSource::None`.
    pub progress: Option<mpsc::UnboundedReceiver<Progress>>,
    /// Stderr split into lines (on `\n` or `\r`), NOT redacted yet.
    pub stderr: mpsc::UnboundedReceiver<String>,
    /// With `StdinMode::Media`.
    pub stdin: Option<BoxWrite>,
    /// With `StdoutMode::Media`.
    pub stdout: Option<BoxRead>,
    /// With `ProcessSpec::extra_input`.
    pub extra_input: Option<BoxWrite>,
}

/// Starts processes. The supervisor calls it once per run.
pub trait Spawner: Send + Sync + 'static {
    /// An error of kind `NotFound` or `PermissionDenied` is taken as final (state `Failed`);
    /// other errors are retried with backoff.
    fn spawn(&self, spec: &ProcessSpec) -> io::Result<SpawnedChild>;
}

/// The real spawner. Every child leads its own process group (`process_group(0)`), so a kill
/// reaches anything it started and a Ctrl-C on the appliance's terminal does not reach it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn(&self, spec: &ProcessSpec) -> io::Result<SpawnedChild> {
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(spec.command_args())
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(match spec.stdin {
                StdinMode::Null => Stdio::null(),
                StdinMode::Quit | StdinMode::Media => Stdio::piped(),
            })
            .stdout(
                if spec.progress == ProgressSource::Stdout || spec.stdout_is_media() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                },
            )
            .stderr(Stdio::piped())
            .process_group(0);

        let progress_pipe = if spec.progress == ProgressSource::Fd3 {
            Some(cloexec_pipe()?)
        } else {
            None
        };
        let extra_pipe = if spec.extra_input {
            Some(cloexec_pipe()?)
        } else {
            None
        };
        install_fds(
            &mut cmd,
            progress_pipe.as_ref().map(|(_, w)| w),
            extra_pipe.as_ref().map(|(r, _)| r),
        );

        let mut child = cmd.spawn()?;
        let pid = child.id();
        let mut readers = Vec::new();

        let progress_reader: Option<BoxRead> = match progress_pipe {
            Some((read, write)) => {
                // Only the child may hold the write end, or EOF would never come.
                drop(write);
                let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
                Some(Box::new(rx))
            }
            None if spec.progress == ProgressSource::Stdout => {
                child.stdout.take().map(|s| Box::new(s) as BoxRead)
            }
            None => None,
        };
        let progress = progress_reader.map(|r| {
            let (tx, rx) = mpsc::unbounded_channel();
            readers.push(tokio::spawn(read_progress(r, tx)).abort_handle());
            rx
        });

        let (err_tx, stderr) = mpsc::unbounded_channel();
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(err, err_tx)).abort_handle());
        }

        let (stdin, quit_stdin) = match spec.stdin {
            StdinMode::Media => (
                match child.stdin.take() {
                    Some(s) => {
                        grow_pipe(&s);
                        Some(Box::new(FramePipe::new(s.into_owned_fd()?)?) as BoxWrite)
                    }
                    None => None,
                },
                None,
            ),
            StdinMode::Quit => (None, child.stdin.take()),
            StdinMode::Null => (None, None),
        };
        let extra_input = match extra_pipe {
            Some((read, write)) => {
                // Only the child may hold the read end, or a dead child would not fail writes.
                drop(read);
                grow_pipe(&write);
                let tx = tokio::net::unix::pipe::Sender::from_owned_fd(write)?;
                Some(Box::new(tx) as BoxWrite)
            }
            None => None,
        };
        let stdout = if spec.stdout_is_media() {
            child.stdout.take().map(|s| {
                grow_pipe(&s);
                Box::new(s) as BoxRead
            })
        } else {
            None
        };

        Ok(SpawnedChild {
            pid,
            control: Box::new(RealChild {
                child,
                pid,
                quit_stdin,
                reaped: false,
                readers,
            }),
            progress,
            stderr,
            stdin,
            stdout,
            extra_input,
        })
    }
}

/// Media pipes carry raw video (41 MB/s at 720p30): a 1 MiB pipe instead of the default
/// 64 KiB moves a frame in a few system calls instead of twenty. Best effort: the size is
/// capped by `/proc/sys/fs/pipe-max-size` and the call does not exist outside Linux.
fn grow_pipe(fd: &impl std::os::fd::AsRawFd) {
    #[cfg(target_os = "linux")]
    {
        // Failure leaves the pipe as it was.
        let _ = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

fn cloexec_pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    // Close-on-exec from birth: a concurrent spawn elsewhere must not inherit the write end.
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use std::os::fd::AsRawFd;
        let (r, w) = nix::unistd::pipe()?;
        for fd in [&r, &w] {
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        Ok((r, w))
    }
}

/// `pre_exec` is the one place the appliance needs `unsafe`: placing a descriptor at a given
/// number in the child can only happen between fork and exec, and neither std nor nix offers a
/// safe way to do it. `fd3` (progress, written by the child) goes to 3, `fd4` (an extra input,
/// read by the child) to 4.
#[allow(unsafe_code)]
fn install_fds(
    cmd: &mut tokio::process::Command,
    fd3: Option<&std::os::fd::OwnedFd>,
    fd4: Option<&std::os::fd::OwnedFd>,
) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use std::os::fd::AsRawFd;
    if fd3.is_none() && fd4.is_none() {
        return;
    }
    let fd3 = fd3.map(|f| f.as_raw_fd());
    let fd4 = fd4.map(|f| f.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec and only calls dup/dup2/fcntl,
    // which are async-signal-safe; it allocates nothing (an `Errno` becomes an `io::Error`
    // without allocating) and touches no lock. The descriptors stay open in the parent (the
    // caller keeps them until the spawn returns), so the child's copies are valid.
    unsafe {
        cmd.pre_exec(move || {
            // A source already sitting on the other target is moved out of the way first, so
            // placing one does not close the other.
            let mut src4 = fd4;
            if let (Some(_), Some(s)) = (fd3, src4) {
                if s == 3 {
                    src4 = Some(nix::unistd::dup(s)?);
                }
            }
            let mut src3 = fd3;
            if let (Some(s), Some(_)) = (src3, fd4) {
                if s == EXTRA_INPUT_FD {
                    src3 = Some(nix::unistd::dup(s)?);
                }
            }
            for (src, target) in [(src3, 3), (src4, EXTRA_INPUT_FD)] {
                let Some(src) = src else { continue };
                // dup2 onto itself would keep FD_CLOEXEC, so that case clears the flag instead.
                if src == target {
                    fcntl(target, FcntlArg::F_SETFD(FdFlag::empty()))?;
                } else {
                    nix::unistd::dup2(src, target)?;
                }
            }
            Ok(())
        });
    }
}

async fn read_progress(mut r: BoxRead, tx: mpsc::UnboundedSender<Progress>) {
    let mut parser = ProgressParser::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                for p in parser.feed(&buf[..n]) {
                    if tx.send(p).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

const MAX_STDERR_LINE: usize = 2048;

/// Splits on `\r` as well as `\n`: FFmpeg redraws its stats line with `\r`.
pub(crate) async fn read_lines<R: AsyncRead + Unpin>(mut r: R, tx: mpsc::UnboundedSender<String>) {
    let mut buf = vec![0u8; 4096];
    let mut line = Vec::new();
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n == 0 {
            if !line.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
            return;
        }
        for &b in &buf[..n] {
            if b == b'\n' || b == b'\r' {
                if !line.is_empty() {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if tx.send(text).is_err() {
                        return;
                    }
                }
            } else if line.len() < MAX_STDERR_LINE {
                line.push(b);
            }
        }
    }
}

struct RealChild {
    child: tokio::process::Child,
    pid: Option<u32>,
    quit_stdin: Option<tokio::process::ChildStdin>,
    /// Once reaped, the pid may belong to someone else: never signal it again.
    reaped: bool,
    readers: Vec<AbortHandle>,
}

impl RealChild {
    fn signal_group(&self, sig: nix::sys::signal::Signal) -> io::Result<()> {
        use nix::sys::signal::killpg;
        use nix::unistd::Pid;
        match (self.reaped, self.pid) {
            (false, Some(pid)) => match killpg(Pid::from_raw(pid as i32), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                Err(e) => Err(e.into()),
            },
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ChildControl for RealChild {
    async fn request_stop(&mut self) -> io::Result<()> {
        if let Some(stdin) = self.quit_stdin.as_mut() {
            let sent = async {
                stdin.write_all(b"q").await?;
                stdin.flush().await
            }
            .await;
            if sent.is_ok() {
                return Ok(());
            }
        }
        self.interrupt()
    }

    fn interrupt(&mut self) -> io::Result<()> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        match (self.reaped, self.pid) {
            (false, Some(pid)) => match kill(Pid::from_raw(pid as i32), Signal::SIGINT) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                Err(e) => Err(e.into()),
            },
            _ => Ok(()),
        }
    }

    fn kill(&mut self) -> io::Result<()> {
        let group = self.signal_group(nix::sys::signal::Signal::SIGKILL);
        if !self.reaped {
            // Covers a child that left its group; harmless otherwise.
            let _ = self.child.start_kill();
        }
        group
    }

    async fn wait(&mut self) -> io::Result<Exit> {
        let status = self.child.wait().await?;
        self.reaped = true;
        Ok(status.into())
    }
}

impl Drop for RealChild {
    fn drop(&mut self) {
        // A supervisor never drops a live child on purpose; if it happens (a panic, an aborted
        // task), the group dies here and tokio reaps the process in the background.
        if !self.reaped {
            let _ = self.signal_group(nix::sys::signal::Signal::SIGKILL);
        }
        for r in &self.readers {
            r.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extra input reaches the child at descriptor 4, beside progress at 3: FFmpeg reads
    /// one second of PCM there and says so on its progress pipe.
    #[tokio::test]
    async fn the_extra_input_is_read_at_fd_4() {
        let spec = ProcessSpec::new("fd4", "ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-f",
                "s16le",
                "-ar",
                "48000",
                "-ac",
                "2",
                "-i",
                "pipe:4",
                "-f",
                "null",
                "-",
            ])
            .stdin(StdinMode::Null);
        let spec = ProcessSpec {
            extra_input: true,
            ..spec
        };
        let mut child = TokioSpawner.spawn(&spec).unwrap();
        let mut w = child.extra_input.take().expect("extra input");
        w.write_all(&vec![0u8; 192_000]).await.unwrap();
        drop(w);
        let mut progress = child.progress.take().expect("progress");
        let mut last = None;
        while let Some(p) = progress.recv().await {
            last = p.out_time_us.or(last);
        }
        assert!(child.control.wait().await.unwrap().success());
        assert_eq!(last, Some(1_000_000));
    }
}
