//! Fake IP camera: `testrig/fake_camera.py` (GStreamer RTSP server) driven from Rust.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;

use crate::child::{GroupChild, OutputTail};

/// How long a camera may take to print its ready line (generous: parallel tests on a Pi).
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// RTSP authentication scheme the camera asks for when it has credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// What IP cameras use by default.
    #[default]
    Digest,
    Basic,
}

/// What the fake camera serves. `CameraOptions::new("Dock")` gives 640x360 at 15 fps, no
/// audio, no credentials, path `/cam`, a free port.
#[derive(Debug, Clone)]
pub struct CameraOptions {
    /// Burned into the picture (top left).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Adds an AAC (mpeg4-generic) 440 Hz sine track.
    pub audio: bool,
    /// With `password`, the camera answers 401 to requests without valid credentials.
    pub username: Option<String>,
    pub password: Option<String>,
    pub auth: AuthMethod,
    /// Mount path, with its leading `/`.
    pub path: String,
    /// `None`: the camera binds a free port itself (no race); it keeps it across restarts.
    pub port: Option<u16>,
    /// A GStreamer `videotestsrc` pattern name (`smpte`, `ball`, `snow`, `black`, ...).
    pub pattern: String,
    /// Burned-in name, wall clock and timecode (disable to save CPU).
    pub overlay: bool,
    /// Video bitrate in kbit/s; `None` derives one from the size.
    pub bitrate_kbps: Option<u32>,
    /// Frames between key frames; `None`: one key frame per second.
    pub gop: Option<u32>,
    /// At most this many RTSP sessions at once (`--max-clients`): a further client's SETUP
    /// is refused (503), as on real cameras. `None`: no limit.
    pub max_clients: Option<u32>,
    /// Frequency of the audio tone in Hz (with `audio`); each camera can have its own so a
    /// test can tell whose sound is on air.
    pub audio_freq: u32,
    /// With `audio`: no more audio packets this long after a client starts playing (the
    /// video goes on), as when a camera's microphone dies.
    pub audio_stop_after: Option<std::time::Duration>,
    /// `--time-bars`: instead of `pattern`, a plain picture with the capture time (wall clock,
    /// ms) coded in 40 black/white blocks across the top (see [`read_time_bars`]).
    pub time_bars: bool,
    /// With `time_bars`: the picture's colour below the bars (`grey`, `red`, `green`, `blue`,
    /// `yellow`).
    pub color: Option<String>,
    /// With `time_bars`: fresh noise in the bottom third of every frame (keeps the encoder at
    /// its bitrate, like a busy real scene).
    pub busy: bool,
    /// `--replay`: the camera encodes this much of its picture once, at start, and serves the
    /// clip in a loop (whole GOPs, each client from its first key frame): almost no CPU per
    /// client, where live encoding takes half a core at 1080p30. The sound (with `audio`)
    /// stays live.
    pub replay: Option<std::time::Duration>,
}

impl Default for CameraOptions {
    fn default() -> Self {
        Self {
            name: "Fake camera".into(),
            width: 640,
            height: 360,
            fps: 15,
            audio: false,
            username: None,
            password: None,
            auth: AuthMethod::default(),
            path: "/cam".into(),
            port: None,
            pattern: "smpte".into(),
            overlay: true,
            bitrate_kbps: None,
            gop: None,
            max_clients: None,
            audio_freq: 440,
            audio_stop_after: None,
            time_bars: false,
            color: None,
            busy: false,
            replay: None,
        }
    }
}

impl CameraOptions {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    pub fn fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self
    }

    pub fn audio(mut self, audio: bool) -> Self {
        self.audio = audio;
        self
    }

    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    pub fn auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = pattern.into();
        self
    }

    pub fn overlay(mut self, overlay: bool) -> Self {
        self.overlay = overlay;
        self
    }

    pub fn bitrate_kbps(mut self, kbps: u32) -> Self {
        self.bitrate_kbps = Some(kbps);
        self
    }

    /// A key frame every `frames` frames (real cameras often use 2 s).
    pub fn gop(mut self, frames: u32) -> Self {
        self.gop = (frames > 0).then_some(frames);
        self
    }

    /// Refuses RTSP sessions beyond `n` at once (`n` = 0 means no limit).
    pub fn max_clients(mut self, n: u32) -> Self {
        self.max_clients = (n > 0).then_some(n);
        self
    }

    /// A picture of `color` with the capture time coded on top (see [`read_time_bars`]).
    pub fn time_bars(mut self, color: impl Into<String>) -> Self {
        self.time_bars = true;
        self.color = Some(color.into());
        self
    }

    /// With [`time_bars`](Self::time_bars): noise in the bottom third of every frame.
    pub fn busy(mut self, busy: bool) -> Self {
        self.busy = busy;
        self
    }

    /// Serves a clip of `length` encoded at start, in a loop (see [`CameraOptions::replay`]).
    pub fn replay(mut self, length: std::time::Duration) -> Self {
        self.replay = Some(length);
        self
    }

    /// The audio stops `after` a client starts playing; the video goes on.
    pub fn audio_stop_after(mut self, after: std::time::Duration) -> Self {
        self.audio_stop_after = Some(after);
        self
    }

    /// Turns audio on with a sine tone of `hz`.
    pub fn audio_freq(mut self, hz: u32) -> Self {
        self.audio = true;
        self.audio_freq = hz;
        self
    }
}

/// A running (or stopped, between [`FakeCamera::stop`] and [`FakeCamera::restart`]) fake
/// RTSP camera on 127.0.0.1. Dropping it kills its process group.
pub struct FakeCamera {
    opts: CameraOptions,
    port: u16,
    child: Option<GroupChild>,
    stderr: OutputTail,
}

impl FakeCamera {
    /// Starts the camera and returns once it accepts TCP connections.
    pub async fn start(opts: CameraOptions) -> Result<Self> {
        if !opts.path.starts_with('/') {
            bail!("camera path must start with '/': {:?}", opts.path);
        }
        if opts.username.is_some() != opts.password.is_some() {
            bail!("camera username and password go together");
        }
        let mut cam = Self {
            port: opts.port.unwrap_or(0),
            opts,
            child: None,
            stderr: OutputTail::default(),
        };
        cam.spawn().await?;
        Ok(cam)
    }

    /// `rtsp://127.0.0.1:PORT/PATH`, without credentials.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{}", self.port, self.opts.path)
    }

    /// `rtsp://USER:PASSWORD@127.0.0.1:PORT/PATH` (the same as [`Self::url`] without
    /// credentials). User and password are percent-encoded.
    pub fn url_with_credentials(&self) -> String {
        match (&self.opts.username, &self.opts.password) {
            (Some(u), Some(p)) => {
                let mut url = url::Url::parse(&self.url()).expect("valid rtsp url");
                url.set_username(u).expect("rtsp url has a host");
                url.set_password(Some(p)).expect("rtsp url has a host");
                url.to_string()
            }
            _ => self.url(),
        }
    }

    /// The URL with arbitrary credentials (e.g. a wrong password).
    pub fn url_with(&self, username: &str, password: &str) -> String {
        let mut url = url::Url::parse(&self.url()).expect("valid rtsp url");
        url.set_username(username).expect("rtsp url has a host");
        url.set_password(Some(password))
            .expect("rtsp url has a host");
        url.to_string()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn options(&self) -> &CameraOptions {
        &self.opts
    }

    /// Pid of the server process while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(GroupChild::pid)
    }

    /// Whether the server process is alive (it may have crashed: see [`Self::stderr`]).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_exited().is_none())
    }

    /// Last lines the server wrote on stderr.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Stops the server (SIGTERM, then SIGKILL): clients see their connection close and new
    /// connections are refused, like a camera losing power. No-op when already stopped.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(child) = self.child.take() {
            child.stop(Duration::from_secs(3)).await?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and path (stopping it first if it runs).
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    async fn spawn(&mut self) -> Result<()> {
        let python = python();
        let script = crate::testrig_dir().join("fake_camera.py");
        if !script.is_file() {
            bail!("{} is missing", script.display());
        }
        let o = &self.opts;
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["--port", &self.port.to_string()])
            .args(["--path", &o.path])
            .args(["--name", &o.name])
            .args(["--width", &o.width.to_string()])
            .args(["--height", &o.height.to_string()])
            .args(["--fps", &o.fps.to_string()])
            .args(["--pattern", &o.pattern]);
        if o.audio {
            cmd.arg("--audio");
            cmd.args(["--audio-freq", &o.audio_freq.to_string()]);
            if let Some(after) = o.audio_stop_after {
                cmd.args(["--audio-stop-after", &after.as_secs_f64().to_string()]);
            }
        }
        if let Some(n) = o.gop {
            cmd.args(["--gop", &n.to_string()]);
        }
        if let Some(n) = o.max_clients {
            cmd.args(["--max-clients", &n.to_string()]);
        }
        if !o.overlay {
            cmd.arg("--no-overlay");
        }
        if o.time_bars {
            cmd.arg("--time-bars");
            if let Some(c) = &o.color {
                cmd.args(["--color", c]);
            }
            if o.busy {
                cmd.arg("--busy");
            }
        }
        if let Some(length) = o.replay {
            cmd.args(["--replay", &length.as_secs_f64().to_string()]);
        }
        if let Some(kbps) = o.bitrate_kbps {
            cmd.args(["--bitrate", &kbps.to_string()]);
        }
        if let (Some(u), Some(p)) = (&o.username, &o.password) {
            let method = match o.auth {
                AuthMethod::Digest => "digest",
                AuthMethod::Basic => "basic",
            };
            cmd.args(["--user", u, "--password", p, "--auth-method", method]);
        }
        // pyenv/venv variables would make the Debian python look for modules elsewhere.
        cmd.env_remove("PYTHONHOME").env_remove("PYTHONPATH");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let started = Instant::now();
        let mut child =
            GroupChild::spawn(cmd, &format!("fake camera {:?}", o.name)).with_context(|| {
                format!(
                    "{} (python3-gi missing? {})",
                    python.display(),
                    crate::INSTALL_HINT
                )
            })?;
        self.stderr = OutputTail::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.child_mut().stdout.take().expect("piped stdout");
        let stderr = child.child_mut().stderr.take().expect("piped stderr");
        OutputTail::default().collect(stdout, Some(tx));
        self.stderr.collect(stderr, None);

        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = rx.recv().await {
                if let Some(rest) = line.strip_prefix("READY ") {
                    return parse_port(rest);
                }
            }
            Err(anyhow!("exited before it was ready"))
        })
        .await
        .unwrap_or_else(|_| Err(anyhow!("not ready after {START_TIMEOUT:?}")));

        let port = match ready {
            Ok(port) => port,
            Err(e) => {
                let status = child.try_exited();
                let _ = child.stop(Duration::from_millis(200)).await;
                // Give the stderr reader a moment to collect the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let hint = if status.and_then(|s| s.code()) == Some(3) {
                    format!("\n{}", crate::INSTALL_HINT)
                } else {
                    String::new()
                };
                bail!(
                    "fake camera {:?} on port {}: {e} (status {status:?}); stderr:\n{}{hint}",
                    self.opts.name,
                    self.port,
                    self.stderr.text()
                );
            }
        };
        crate::wait_tcp(port, Duration::from_secs(5)).await?;
        self.port = port;
        self.child = Some(child);
        tracing::debug!(
            "fake camera {:?} ready at {} in {:?}",
            self.opts.name,
            self.url(),
            started.elapsed()
        );
        Ok(())
    }
}

fn parse_port(ready_line: &str) -> Result<u16> {
    ready_line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("bad ready line {ready_line:?}"))
}

/// The interpreter with Debian's `gi` module: `VS_TESTRIG_PYTHON` or `/usr/bin/python3`
/// (the `python3` first on `PATH` may be a pyenv build without it).
fn python() -> PathBuf {
    std::env::var_os("VS_TESTRIG_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/python3"))
}

/// Reads the capture time a `--time-bars` camera coded into a picture: `luma` is the Y plane
/// of a `width`x`height` frame (the camera's own size, or the picture scaled to another). Returns
/// the low 32 bits of the wall clock in milliseconds when the frame was made, or `None` if the
/// blocks do not carry a valid code (no time bars, or a damaged picture).
pub fn read_time_bars(luma: &[u8], width: usize, height: usize) -> Option<u32> {
    const BLOCKS: usize = 40;
    let bar_h = (height / 12).max(16).min(height);
    let y = bar_h / 2;
    if luma.len() < width * height || width < BLOCKS {
        return None;
    }
    let mut code: u64 = 0;
    for i in 0..BLOCKS {
        let x = (i * width / BLOCKS + (i + 1) * width / BLOCKS) / 2;
        let v = luma[y * width + x];
        code = (code << 1) | u64::from(v > 126);
    }
    let value = (code >> 8) as u32;
    let checksum = (code & 0xff) as u8;
    let sum = value
        .to_be_bytes()
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b));
    (sum == checksum).then_some(value)
}

/// The low 32 bits of the wall clock in milliseconds, as a `--time-bars` camera codes it.
pub fn wall_clock_ms() -> u32 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    (ms & 0xFFFF_FFFF) as u32
}

/// `a - b` in milliseconds for two [`read_time_bars`] / [`wall_clock_ms`] values (which wrap
/// every 49.7 days).
pub fn ms_between(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// Mean luma of one of the seven vertical SMPTE bars of the fake camera's test pattern (rows
/// 40-50 % of the height) in a `yuv420p` picture of `width` x `height`.
pub fn smpte_bar_luma(yuv: &[u8], width: usize, height: usize, band: usize) -> f64 {
    let (x0, x1) = (band * width / 7 + 4, (band + 1) * width / 7 - 4);
    let (y0, y1) = (height * 4 / 10, height / 2);
    let mut sum = 0u64;
    for y in y0..y1 {
        sum += yuv[y * width + x0..y * width + x1]
            .iter()
            .map(|&v| v as u64)
            .sum::<u64>();
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}
