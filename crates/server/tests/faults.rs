//! Fault drills with figures: the real binary, real cameras (GStreamer RTSP) and a real fake
//! YouTube (nginx-rtmp), each fault injected from outside and each recovery timed from what
//! the receiver gets, so a regression (a recovery that no longer happens, or takes far longer)
//! shows as a failed bound in a printed table:
//!
//! - the program's on-air camera killed, then restarted: slate on screen, camera back on air;
//! - the program's RTMP receiver killed, then restarted: destination re-attached, encoder kept;
//! - the program encoder SIGSTOPped: stall detected, encoder back, RTMP session kept or not;
//! - a copy stream's camera killed, then restarted: stream recovered;
//! - the appliance `kill -9`ed, then restarted on its data directory: program and stream
//!   resumed, no orphan FFmpeg, database intact.
//!
//! Everything is measured from outside (the received FLV, the API, the process table), never
//! from the engine's internals, so the drills keep working as the engine changes. The bounds
//! are generous: they catch a broken recovery, they are not speed tests.
//!
//! Ignored by a plain `cargo test`: `make faults` (a stage of `make test`) runs it alone, as it
//! times recoveries and wants the machine to itself:
//! `cargo test -p vistterstream --test faults -- --ignored --nocapture --test-threads 1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{new_client, ADMIN, ADMIN_PW};
use nix::sys::signal::Signal;
use reqwest::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use vistterstream::orphans;
use vs_db::sqlx::sqlite::SqliteConnectOptions;
use vs_db::sqlx::{ConnectOptions, Connection};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer};

const BIN: &str = env!("CARGO_BIN_EXE_vistterstream");

/// The program encoder's stall timeout (crates/engine/src/program/encoder.rs); the stall
/// bound is twice it plus 5 s.
const ENCODER_STALL_TIMEOUT_S: f64 = 5.0;

/// How long each outage lasts before the failed part comes back.
const OUTAGE: Duration = Duration::from_secs(2);

/// Frames flow again when a second of video (the cameras and the program run at 25 fps)
/// arrives within this window.
const FLOW_FRAMES: usize = 25;
const FLOW_WINDOW: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------------
// The appliance as a process

/// `vistterstream serve` on a data directory, with its log captured.
struct Appliance {
    child: Child,
    /// Just before the spawn: the origin of "resumed after".
    spawned: Instant,
    base: String,
    client: Client,
    log: Arc<Mutex<Vec<String>>>,
}

impl Appliance {
    async fn start(dir: &Path) -> Appliance {
        let spawned = Instant::now();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "info"])
            .arg("--data-dir")
            .arg(dir)
            .env("VS_BCRYPT_COST", "4")
            .env("VS_STALL_TIMEOUT", "4")
            // Health probes only add load here; nothing below depends on them.
            .env("VS_HEALTH_INTERVAL", "60")
            .env("NO_COLOR", "1")
            .env_remove("VS_INSTANCE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let mut tx = Some(tx);
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("listening on http://") {
                    let addr = line[i + "listening on http://".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                l.lock().unwrap().push(line);
            }
        });
        let l = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                l.lock().unwrap().push(line);
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(addr)) => addr,
            _ => panic!("the appliance did not start: {:?}", log.lock().unwrap()),
        };
        Appliance {
            child,
            spawned,
            base: format!("http://{addr}"),
            client: new_client(),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// The last lines of the log, for failure messages.
    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(40)..].join("\n")
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn post_ok(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    async fn get_json(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn create(&self, path: &str, body: Value) -> i64 {
        self.post_ok(path, body).await["id"].as_i64().unwrap()
    }

    async fn login(&self, setup: bool) {
        let path = if setup {
            "/api/auth/setup"
        } else {
            "/api/auth/login"
        };
        self.post_ok(path, json!({"username": ADMIN, "password": ADMIN_PW}))
            .await;
    }

    async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM; the exit status, or `None` when it did not exit within 15 s.
    async fn terminate(mut self) -> Option<std::process::ExitStatus> {
        signal(self.pid(), Signal::SIGTERM);
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .ok()
            .map(|s| s.unwrap())
    }
}

fn signal(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Stops whatever a failed run left with the data directory's marker (FFmpeg children of a
/// killed appliance), so a failing drill leaves no process behind.
struct ReapOnDrop(PathBuf);

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        orphans::reap(&self.0);
    }
}

/// `PRAGMA integrity_check` through a read-only connection.
async fn integrity(db: &Path) -> String {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let r: String = vs_db::sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    r
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// The program encoder: the FFmpeg below the appliance that reads raw frames and adds the
/// silent audio track.
fn encoder_pids(appliance: u32) -> Vec<u32> {
    vs_testrig::descendants_of(appliance)
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffmpeg")
        .filter(|p| {
            let c = p.command();
            c.contains("rawvideo") && c.contains("anullsrc")
        })
        .map(|p| p.pid)
        .collect()
}

/// Kills a fake camera like a power cut (SIGKILL: no RTSP teardown), then reaps it.
async fn kill_camera(cam: &mut FakeCamera) {
    if let Some(pid) = cam.pid() {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    cam.stop().await.unwrap();
}

/// Kills nginx (SIGKILL: the publishers' connections are cut), then reaps it.
async fn kill_sink(rtmp: &mut RtmpServer) {
    if let Some(pid) = std::fs::read_to_string(rtmp.dir().join("nginx.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    {
        signal(pid, Signal::SIGKILL);
    }
    rtmp.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// What the fake YouTube receives

/// One publish session as recorded by nginx (one FLV file).
#[derive(Default)]
struct Session {
    /// Each video frame: when it was first seen in the file, and its FLV timestamp (ms).
    frames: Vec<(Instant, u32)>,
    /// Decoded pictures (mean RGB of a 16x9 thumbnail) and when each came out of the decoder.
    pictures: Vec<(Instant, [f64; 3])>,
}

#[derive(Default)]
struct Received {
    sessions: Vec<Session>,
}

/// Follows the recordings of one stream key as nginx writes them: counts video frames as they
/// land in the file and, optionally, decodes them as a viewer would, to tell the slate from
/// the camera. Every instant is wall time, so recoveries are timed from what arrived.
struct Watch {
    state: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    fn start(rtmp: &RtmpServer, key: &str, decode: bool) -> Watch {
        let state = Arc::new(Mutex::new(Received::default()));
        let task = tokio::spawn(follow(
            rtmp.recordings_dir(),
            format!("{key}-"),
            decode,
            state.clone(),
        ));
        Watch { state, task }
    }

    fn sessions(&self) -> usize {
        self.state.lock().unwrap().sessions.len()
    }

    fn frames(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.sessions.iter().map(|s| s.frames.len()).sum()
    }

    /// When frames flow again: the first video frame that arrived at or after `t` and was
    /// followed by a second of video within [`FLOW_WINDOW`], counting only sessions numbered
    /// `from` or later (0-based). A few frames a muxer held back and let go late are not a
    /// flow.
    fn flowing_after(&self, from: usize, t: Instant) -> Option<Instant> {
        let s = self.state.lock().unwrap();
        let arrivals: Vec<Instant> = s
            .sessions
            .iter()
            .skip(from)
            .flat_map(|s| s.frames.iter().map(|f| f.0))
            .filter(|&f| f >= t)
            .collect();
        arrivals
            .iter()
            .enumerate()
            .find(|(i, &a)| {
                arrivals[*i..]
                    .iter()
                    .take_while(|&&b| b <= a + FLOW_WINDOW)
                    .count()
                    >= FLOW_FRAMES
            })
            .map(|(_, &a)| a)
    }

    /// Sessions whose video timestamps go backwards (or, `strict`, repeat), with where.
    fn timestamp_errors(&self, strict: bool) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.sessions
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.frames
                    .windows(2)
                    .position(|w| w[1].1 < w[0].1 || (strict && w[1].1 == w[0].1))
                    .map(|k| {
                        format!(
                            "session {i}: {} ms then {} ms",
                            s.frames[k].1,
                            s.frames[k + 1].1
                        )
                    })
            })
            .collect()
    }

    /// The largest step between consecutive video timestamps of session `i`, in seconds.
    fn largest_step(&self, i: usize) -> f64 {
        let s = self.state.lock().unwrap();
        s.sessions.get(i).map_or(0.0, |s| {
            s.frames
                .windows(2)
                .map(|w| w[1].1.saturating_sub(w[0].1))
                .max()
                .unwrap_or(0) as f64
                / 1000.0
        })
    }

    /// The start of the first run of `n` consecutive decoded pictures, decoded at or after `t`,
    /// that all match `pred`.
    fn first_run_after(&self, t: Instant, n: usize, pred: fn([f64; 3]) -> bool) -> Option<Instant> {
        let s = self.state.lock().unwrap();
        let pics: Vec<&(Instant, [f64; 3])> = s
            .sessions
            .iter()
            .flat_map(|s| s.pictures.iter())
            .filter(|(at, _)| *at >= t)
            .collect();
        pics.windows(n)
            .find(|w| w.iter().all(|(_, rgb)| pred(*rgb)))
            .map(|w| w[0].0)
    }
}

fn red(rgb: [f64; 3]) -> bool {
    rgb[0] > 150.0 && rgb[1] < 80.0 && rgb[2] < 80.0
}

/// The slate: a dark blue-grey background with light text.
fn slate(rgb: [f64; 3]) -> bool {
    rgb.iter().all(|&c| c < 90.0)
}

/// The recordings of one key, oldest first, by the start time in their names.
fn recordings(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_owned();
                    let secs = name
                        .strip_prefix(prefix)?
                        .strip_suffix(".flv")?
                        .parse()
                        .ok()?;
                    Some((secs, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

async fn follow(dir: PathBuf, prefix: String, decode: bool, state: Arc<Mutex<Received>>) {
    let mut current: Option<PathBuf> = None;
    let mut offset = 0u64;
    let mut scan = FlvScan::default();
    let mut decoder: Option<(Child, ChildStdin)> = None;
    loop {
        let files = recordings(&dir, &prefix);
        let newest = files.last().cloned();
        // The current file's last bytes first, then on to a newer one.
        if let Some(path) = &current {
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            // nginx truncates a file when a session starts within the same second as the
            // previous one of that key: that is a new session too.
            let truncated = len < offset;
            if !truncated && len > offset {
                let bytes = read_from(path, offset).await;
                offset += bytes.len() as u64;
                let stamps = scan.feed(&bytes);
                let now = Instant::now();
                if let Some(session) = state.lock().unwrap().sessions.last_mut() {
                    session
                        .frames
                        .extend(stamps.into_iter().map(|ts| (now, ts)));
                }
                if let Some((_, stdin)) = decoder.as_mut() {
                    if stdin.write_all(&bytes).await.is_err() {
                        decoder = None;
                    }
                }
            }
            if truncated || newest.as_ref() != Some(path) {
                current = None;
            }
        }
        if current.is_none() {
            if let Some(path) = newest {
                let index = {
                    let mut s = state.lock().unwrap();
                    s.sessions.push(Session::default());
                    s.sessions.len() - 1
                };
                current = Some(path);
                offset = 0;
                scan = FlvScan::default();
                decoder = if decode {
                    start_decoder(state.clone(), index)
                } else {
                    None
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn read_from(path: &Path, offset: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(mut f) = tokio::fs::File::open(path).await {
        use tokio::io::AsyncSeekExt;
        if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
            let _ = f.read_to_end(&mut bytes).await;
        }
    }
    bytes
}

/// An FFmpeg that decodes the FLV fed on its stdin into 16x9 thumbnails, one per frame, as
/// fast as they come; their mean colour goes into session `index`.
fn start_decoder(state: Arc<Mutex<Received>>, index: usize) -> Option<(Child, ChildStdin)> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-threads",
            "1",
        ])
        .args(["-fflags", "nobuffer", "-flags", "low_delay"])
        .args(["-analyzeduration", "500000", "-f", "flv", "-i", "pipe:0"])
        .args(["-an", "-vf", "scale=16:9", "-fps_mode", "passthrough"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let mut stdout = child.stdout.take()?;
    tokio::spawn(async move {
        let mut frame = [0u8; 16 * 9 * 3];
        while stdout.read_exact(&mut frame).await.is_ok() {
            let mut sum = [0f64; 3];
            for px in frame.chunks(3) {
                for (s, &c) in sum.iter_mut().zip(px) {
                    *s += c as f64;
                }
            }
            let mean = sum.map(|s| s / (16.0 * 9.0));
            let mut s = state.lock().unwrap();
            s.sessions[index].pictures.push((Instant::now(), mean));
        }
    });
    Some((child, stdin))
}

/// Finds the video frames of an FLV byte stream fed in pieces.
#[derive(Default)]
struct FlvScan {
    buf: Vec<u8>,
    header_done: bool,
}

impl FlvScan {
    /// Adds bytes; returns the timestamps (ms) of the video frames they completed (AVC
    /// sequence headers and end-of-sequence markers are not frames).
    fn feed(&mut self, bytes: &[u8]) -> Vec<u32> {
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        if !self.header_done {
            if self.buf.len() < 9 {
                return Vec::new();
            }
            let header = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
            // The header, then the first PreviousTagSize (always 0).
            let skip = header as usize + 4;
            if self.buf.len() < skip {
                return Vec::new();
            }
            pos = skip;
            self.header_done = true;
        }
        let mut frames = Vec::new();
        while self.buf.len() >= pos + 11 {
            let tag = &self.buf[pos..];
            let size = u32::from_be_bytes([0, tag[1], tag[2], tag[3]]) as usize;
            let total = 11 + size + 4;
            if tag.len() < total {
                break;
            }
            let data = &tag[11..11 + size];
            if tag[0] & 0x1f == 9 && !data.is_empty() {
                let avc = data[0] & 0x0f == 7;
                if !avc || data.get(1) == Some(&1) {
                    // 24 bits, then the extension byte on top.
                    let ts = u32::from_be_bytes([tag[7], tag[4], tag[5], tag[6]]);
                    frames.push(ts);
                }
            }
            pos += total;
        }
        self.buf.drain(..pos);
        frames
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting and reporting

/// Polls `f` every 20 ms until it gives a value or `within` has passed.
async fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seconds from `from` to `to`.
fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

struct Figure {
    fault: &'static str,
    what: &'static str,
    /// `None`: not recovered within the time it was given.
    seconds: Option<f64>,
    bound: f64,
    note: String,
}

impl Figure {
    fn ok(&self) -> bool {
        self.seconds.is_some_and(|s| s <= self.bound)
    }

    fn line(&self) -> String {
        let value = match self.seconds {
            Some(s) => format!("{s:6.2} s"),
            None => "  never ".to_string(),
        };
        format!(
            "  {:<34} {:<30} {value}  (≤ {:>4.1} s)  {:<6} {}",
            self.fault,
            self.what,
            self.bound,
            if self.ok() { "ok" } else { "FAILED" },
            self.note
        )
    }
}

/// The figures so far, each printed as it is measured (a run that stops half-way still shows
/// what it found) and all together at the end.
#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
    /// Checks that are not times (pids kept, orphans reaped, integrity).
    checks: Vec<(String, bool)>,
}

impl Report {
    fn figure(
        &mut self,
        fault: &'static str,
        what: &'static str,
        seconds: Option<f64>,
        bound: f64,
        note: impl Into<String>,
    ) {
        let f = Figure {
            fault,
            what,
            seconds,
            bound,
            note: note.into(),
        };
        eprintln!("faults: {}", f.line().trim_start());
        self.figures.push(f);
    }

    fn check(&mut self, what: impl Into<String>, ok: bool) {
        let what = what.into();
        eprintln!("faults: {} {what}", if ok { "ok    " } else { "FAILED" });
        self.checks.push((what, ok));
    }

    fn failed(&self) -> bool {
        self.figures.iter().any(|f| !f.ok()) || self.checks.iter().any(|(_, ok)| !ok)
    }

    fn print(&self) {
        println!();
        println!("===== fault drills: time to recover, as the receiver saw it");
        println!(
            "  {:<34} {:<30} {:>8}  {:<10}  {:<6} how it was measured",
            "fault", "figure", "measured", "bound", "result"
        );
        for f in &self.figures {
            println!("{}", f.line());
        }
        for (what, ok) in &self.checks {
            println!("  {:<6} {what}", if *ok { "ok" } else { "FAILED" });
        }
        println!();
    }
}

// ---------------------------------------------------------------------------------------------
// The drills

async fn program_view(app: &Appliance, p: i64) -> Value {
    app.get_json(&format!("/api/programs/{p}")).await
}

/// Polls the program's view until `pred` holds; the instant it was first seen.
async fn wait_program(
    app: &Appliance,
    p: i64,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Option<Instant> {
    let deadline = Instant::now() + within;
    loop {
        if pred(&program_view(app, p).await) {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timed fault drills: run alone by `make faults`"]
async fn fault_drills_recover_within_bounds() {
    let t_all = Instant::now();
    let mut report = Report::default();

    let camera = |name: &'static str, pattern: &'static str| {
        FakeCamera::start(
            CameraOptions::new(name)
                .size(320, 180)
                .fps(25)
                .pattern(pattern)
                .overlay(false),
        )
    };
    let mut red_cam = camera("Red", "red").await.unwrap();
    let mut green_cam = camera("Green", "green").await.unwrap();
    let mut program_sink = RtmpServer::start().await.unwrap();
    let stream_sink = RtmpServer::start().await.unwrap();
    let program_rx = Watch::start(&program_sink, "faultprog", true);
    let stream_rx = Watch::start(&stream_sink, "faultcopy", false);

    let data = tempfile::tempdir().unwrap();
    let _reap = ReapOnDrop(data.path().to_path_buf());
    let app = Appliance::start(data.path()).await;
    app.login(true).await;

    let cam_body = |name: &str, url: String| json!({"name": name, "type": "STATIC", "protocol": "RTSP", "address": url});
    let red_id = app
        .create("/api/cameras", cam_body("Red", red_cam.url()))
        .await;
    let green_id = app
        .create("/api/cameras", cam_body("Green", green_cam.url()))
        .await;
    let dest = |name: &str, rtmp: &RtmpServer, key: &str| json!({"name": name, "platform": "custom", "url": rtmp.base_url(), "stream_key": key});
    let program_dest = app
        .create(
            "/api/destinations",
            dest("Program out", &program_sink, "faultprog"),
        )
        .await;
    let stream_dest = app
        .create(
            "/api/destinations",
            dest("Copy out", &stream_sink, "faultcopy"),
        )
        .await;
    let p = app
        .create(
            "/api/programs",
            json!({"name": "Faults", "width": 320, "height": 180, "fps": 25,
                   "destination_ids": [program_dest]}),
        )
        .await;

    // The program on air with the red camera.
    app.post_ok(&format!("/api/programs/{p}/start"), json!({}))
        .await;
    app.post_ok(
        &format!("/api/programs/{p}/take"),
        json!({"camera_id": red_id}),
    )
    .await;
    let on_air = wait_for(Duration::from_secs(40), || {
        program_rx.first_run_after(t_all, 10, red)
    })
    .await;
    assert!(
        on_air.is_some(),
        "the red camera never reached the receiver: {} frames received; program: {}\nlog:\n{}",
        program_rx.frames(),
        program_view(&app, p).await,
        app.log_tail()
    );
    eprintln!(
        "faults: program on air with the camera after {:.1} s of set-up",
        t_all.elapsed().as_secs_f64()
    );
    let sessions_before = program_sink.publish_count();
    let encoder_before = encoder_pids(app.pid());
    report.check(
        format!("one program encoder running (pids {encoder_before:?})"),
        encoder_before.len() == 1,
    );

    // 1. The on-air camera dies, then comes back.
    const CAM: &str = "program: on-air camera killed";
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t_kill = Instant::now();
    kill_camera(&mut red_cam).await;
    let status_slate = wait_program(&app, p, Duration::from_secs(15), |v| {
        v["live"]["slate_active"] == true
    })
    .await;
    let seen_slate = wait_for(Duration::from_secs(15), || {
        program_rx.first_run_after(t_kill, 5, slate)
    })
    .await;
    report.figure(
        CAM,
        "slate on screen after",
        seen_slate.map(|t| secs(t_kill, t)),
        5.0,
        format!(
            "(status shows the slate after {})",
            status_slate.map_or("never".into(), |t| format!("{:.2} s", secs(t_kill, t)))
        ),
    );
    tokio::time::sleep(OUTAGE.saturating_sub(t_kill.elapsed())).await;
    red_cam.restart().await.unwrap();
    let t_back = Instant::now();
    let seen_red = wait_for(Duration::from_secs(30), || {
        program_rx.first_run_after(t_back, 5, red)
    })
    .await;
    report.figure(
        "program: camera restarted",
        "camera back on air after",
        seen_red.map(|t| secs(t_back, t)),
        15.0,
        "(from the camera accepting connections again)",
    );
    let kept = program_sink.publish_count() == sessions_before
        && encoder_pids(app.pid()) == encoder_before;
    report.check(
        "camera loss and return: same RTMP session, same encoder process",
        kept,
    );

    // 2. The receiver dies, then comes back: only the egress reconnects.
    const SINK: &str = "program: RTMP receiver killed";
    let encoder = encoder_pids(app.pid());
    let restarts = |v: &Value| v["live"]["outputs"][0]["restarts"].as_u64().unwrap_or(0);
    let egress_restarts = restarts(&program_view(&app, p).await);
    let sessions = program_rx.sessions();
    kill_sink(&mut program_sink).await;
    tokio::time::sleep(OUTAGE).await;
    program_sink.restart().await.unwrap();
    let t_sink = Instant::now();
    let reattached = wait_for(Duration::from_secs(30), || {
        program_rx.flowing_after(sessions, t_sink)
    })
    .await;
    let egress_after = restarts(&program_view(&app, p).await);
    report.figure(
        SINK,
        "destination re-attached after",
        reattached.map(|t| secs(t_sink, t)),
        15.0,
        format!(
            "(from its restart to frames in a new session; egress restarts {egress_restarts} -> \
             {egress_after})"
        ),
    );
    let encoder_now = encoder_pids(app.pid());
    report.check(
        format!("receiver restart: encoder not restarted (pid {encoder:?} -> {encoder_now:?})"),
        encoder == encoder_now && encoder.len() == 1,
    );

    // 3. The encoder freezes (SIGSTOP): the stall is detected, a new encoder takes over.
    const STALL: &str = "program: encoder SIGSTOPped";
    let stall_bound = 2.0 * ENCODER_STALL_TIMEOUT_S + 5.0;
    // Let the re-attached session settle (the first frames of a session arrive in a burst).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frozen = encoder_pids(app.pid());
    let publishes = program_sink.publish_count();
    let sessions = program_rx.sessions();
    let t_stop = Instant::now();
    for &pid in &frozen {
        signal(pid, Signal::SIGSTOP);
    }
    let gone = wait_for(Duration::from_secs(40), || {
        (!frozen.is_empty() && frozen.iter().all(|&p| !running(p))).then(Instant::now)
    })
    .await;
    let new_encoder = wait_for(Duration::from_secs(30), || {
        let now = encoder_pids(app.pid());
        (!now.is_empty() && now.iter().all(|p| !frozen.contains(p))).then(Instant::now)
    })
    .await;
    let back = match new_encoder {
        Some(t) => wait_for(Duration::from_secs(30), || program_rx.flowing_after(0, t)).await,
        None => None,
    };
    let reattached = program_rx.sessions() > sessions || program_sink.publish_count() > publishes;
    report.figure(
        STALL,
        "stall detected after",
        gone.map(|t| secs(t_stop, t)),
        stall_bound,
        format!("(the frozen encoder killed; stall timeout {ENCODER_STALL_TIMEOUT_S} s)"),
    );
    report.figure(
        STALL,
        "encoder back after",
        back.map(|t| secs(t_stop, t)),
        stall_bound + 10.0,
        format!(
            "(frames at the receiver again, from the SIGSTOP; {})",
            if reattached {
                "the RTMP session re-attached".to_string()
            } else {
                format!(
                    "the same RTMP session went on, largest timestamp step {:.2} s",
                    program_rx.largest_step(sessions - 1)
                )
            }
        ),
    );
    // The figure above is only the stall detector's if the appliance says so: a frozen encoder
    // killed for another reason (a broken pipe, a restart of the whole program) is not it.
    let said_stalled = frozen.iter().any(|pid| {
        let pid = format!("pid=Some({pid})");
        app.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("stalled: no progress") && l.contains(&pid))
    });
    report.check(
        format!("encoder SIGSTOP: the appliance logged the frozen encoder {frozen:?} as stalled"),
        said_stalled,
    );
    // A frozen encoder that survived would hold the old pipes forever: wake it to let it go.
    for &pid in &frozen {
        if running(pid) {
            signal(pid, Signal::SIGCONT);
        }
    }

    // 4. A copy stream whose camera dies, then comes back.
    const COPY: &str = "copy stream: camera killed";
    let s = app
        .create(
            "/api/streams",
            json!({"name": "Copy", "camera_id": green_id, "destination_ids": [stream_dest]}),
        )
        .await;
    app.post_ok(&format!("/api/streams/{s}/start"), json!({}))
        .await;
    let t_start = Instant::now();
    let flowing = wait_for(Duration::from_secs(30), || {
        stream_rx.flowing_after(0, t_start)
    })
    .await;
    assert!(
        flowing.is_some(),
        "the copy stream never reached the receiver: {}\nlog:\n{}",
        app.get_json(&format!("/api/streams/{s}")).await,
        app.log_tail()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sessions = stream_rx.sessions();
    kill_camera(&mut green_cam).await;
    tokio::time::sleep(OUTAGE).await;
    green_cam.restart().await.unwrap();
    let t_back = Instant::now();
    // The stream reads the camera's hub session: a short outage may leave its RTMP session up
    // (the egress waits on its input) or end it; either way frames must flow again, counted
    // in the session that was live at the kill or a later one.
    let recovered = wait_for(Duration::from_secs(30), || {
        stream_rx.flowing_after(sessions.saturating_sub(1), t_back)
    })
    .await;
    report.figure(
        COPY,
        "stream recovered after",
        recovered.map(|t| secs(t_back, t)),
        15.0,
        format!(
            "(from the camera accepting connections again to frames at the receiver; RTMP sessions {sessions} -> {})",
            stream_rx.sessions()
        ),
    );

    // 5. The appliance is killed (-9) and started again on the same data directory.
    const KILL: &str = "appliance kill -9, restarted";
    tokio::time::sleep(Duration::from_secs(1)).await;
    let marker = orphans::marker(data.path());
    let before_kill = orphans::scan(std::slice::from_ref(&marker));
    let (program_sessions, stream_sessions) = (program_rx.sessions(), stream_rx.sessions());
    app.kill9().await;
    let left: Vec<u32> = before_kill.into_iter().filter(|&p| running(p)).collect();
    let db = data.path().join("vistterstream.db");
    report.check(
        "database integrity after kill -9",
        integrity(&db).await == "ok",
    );
    let app = Appliance::start(data.path()).await;
    let t_spawn = app.spawned;
    let listening = secs(t_spawn, Instant::now());
    let program_back = wait_for(Duration::from_secs(40), || {
        program_rx.flowing_after(program_sessions, t_spawn)
    })
    .await;
    let stream_back = wait_for(Duration::from_secs(40), || {
        stream_rx.flowing_after(stream_sessions, t_spawn)
    })
    .await;
    report.figure(
        KILL,
        "program resumed after",
        program_back.map(|t| secs(t_spawn, t)),
        20.0,
        format!(
            "(from the new process to frames at the receiver; listening after {listening:.2} s)"
        ),
    );
    report.figure(
        KILL,
        "copy stream resumed after",
        stream_back.map(|t| secs(t_spawn, t)),
        20.0,
        "(from the new process to frames at the receiver)",
    );
    let survivors: Vec<u32> = left.iter().copied().filter(|&p| running(p)).collect();
    report.check(
        format!(
            "kill -9: {} process(es) outlived the appliance, {} still running after the restart",
            left.len(),
            survivors.len()
        ),
        survivors.is_empty(),
    );
    let mine: Vec<u32> = vs_testrig::descendants_of(app.pid())
        .iter()
        .map(|p| p.pid)
        .collect();
    let strangers: Vec<u32> = orphans::scan(std::slice::from_ref(&marker))
        .into_iter()
        .filter(|p| running(*p) && !mine.contains(p))
        .collect();
    report.check(
        format!(
            "after the restart every marked process is the new appliance's ({strangers:?} are not)"
        ),
        strangers.is_empty(),
    );
    app.login(false).await;
    let v = program_view(&app, p).await;
    report.check(
        format!(
            "program running again after the restart (desired {}, live {})",
            v["desired_state"],
            !v["live"].is_null()
        ),
        v["desired_state"] == "running" && !v["live"].is_null(),
    );

    // The program runs on its own clock: one frame per tick, never the same time twice. A
    // copy stream carries the camera's timestamps, whose first ones may repeat (as in
    // tests/streams.rs): never backwards.
    for (name, rx, strict, how) in [
        ("program", &program_rx, true, "strictly increase"),
        ("copy stream", &stream_rx, false, "never go back"),
    ] {
        let bad = rx.timestamp_errors(strict);
        report.check(
            format!(
                "{name}: video timestamps {how} in each of the {} sessions received {bad:?}",
                rx.sessions()
            ),
            bad.is_empty(),
        );
    }

    let status = app.terminate().await;
    report.check(
        format!("clean stop at the end ({status:?})"),
        status.is_some_and(|s| s.success()),
    );
    report.check(
        "database integrity at the end",
        integrity(&db).await == "ok",
    );
    report.print();
    println!("fault drills took {:.0} s", t_all.elapsed().as_secs_f64());
    assert!(
        !report.failed(),
        "a fault was not recovered within its bound (table above)"
    );
}
