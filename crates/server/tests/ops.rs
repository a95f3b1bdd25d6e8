//! Running for months: online backup and restore, clean stop on SIGTERM within the container's
//! stop timeout, and recovery after `kill -9` (no stale lock, no corrupt database, no orphan
//! FFmpeg, running streams resumed). These tests drive the real binary as a process, the way
//! Docker and systemd do; only the backup-during-writes test also uses an in-process app.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use reqwest::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vistterstream::orphans;
use vs_db::sqlx::sqlite::SqliteConnectOptions;
use vs_db::sqlx::{ConnectOptions, Connection};
use vs_testrig::{CameraOptions, FakeCamera};

const BIN: &str = env!("CARGO_BIN_EXE_vistterstream");
/// The container's stop timeout is 30 s (compose `stop_grace_period`, systemd
/// `TimeoutStopSec`); the appliance must be well within it.
const STOP_BOUND: Duration = Duration::from_secs(10);

/// The binary running `serve` on a data directory, with its log captured.
struct Appliance {
    child: Child,
    base: String,
    client: Client,
    log: Arc<Mutex<Vec<String>>>,
}

impl Appliance {
    async fn start(dir: &Path) -> Appliance {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "info"])
            .arg("--data-dir")
            .arg(dir)
            .env("VS_BCRYPT_COST", "4")
            .env("VS_STALL_TIMEOUT", "4")
            .env("VS_HEALTH_INTERVAL", "30")
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
        let addr = match tokio::time::timeout(Duration::from_secs(20), rx).await {
            Ok(Ok(addr)) => addr,
            _ => panic!("the appliance did not start: {:?}", log.lock().unwrap()),
        };
        Appliance {
            child,
            base: format!("http://{addr}"),
            client: new_client(),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
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

    async fn setup_admin(&self) {
        let r = self
            .post(
                "/api/auth/setup",
                json!({"username": ADMIN, "password": ADMIN_PW}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }

    async fn login(&self) {
        let r = self
            .post(
                "/api/auth/login",
                json!({"username": ADMIN, "password": ADMIN_PW}),
            )
            .await;
        assert_eq!(r.status(), 200, "login on the restarted appliance");
    }

    async fn create(&self, path: &str, body: Value) -> i64 {
        let r = self.post(path, body).await;
        assert_eq!(r.status(), 201, "POST {path}");
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// SIGTERM, then the exit status and how long it took.
    async fn terminate(mut self) -> (std::process::ExitStatus, Duration, String) {
        let started = Instant::now();
        signal(self.pid(), Signal::SIGTERM);
        let status = match tokio::time::timeout(STOP_BOUND, self.child.wait()).await {
            Ok(s) => s.unwrap(),
            Err(_) => panic!(
                "no exit within {STOP_BOUND:?} of SIGTERM; log:\n{}",
                self.log()
            ),
        };
        let took = started.elapsed();
        // Let the readers drain the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, took, self.log())
    }

    async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    async fn wait_stream(&self, id: i64, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.get_json(&format!("/api/streams/{id}")).await;
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < within,
                "stream never matched within {within:?}: {s}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn signal(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Runs the binary to completion: (success, stdout, stderr).
async fn run_bin(args: &[&str], data_dir: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `PRAGMA integrity_check` through a read-only connection (nothing is migrated or written).
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

async fn desired_state(db: &Path, stream: i64) -> String {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let r: String = vs_db::sqlx::query_scalar("SELECT desired_state FROM streams WHERE id = ?")
        .bind(stream)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    r
}

/// An SRT receiver that is always there: a listener FFmpeg on `port`, started again whenever
/// it ends (it ends with its caller).
fn srt_receiver(port: u16) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok(mut l) = tokio::process::Command::new("ffmpeg")
                .args([
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-f",
                    "mpegts",
                    "-i",
                ])
                .arg(format!("srt://127.0.0.1:{port}?mode=listener"))
                .args(["-c", "copy", "-f", "null", "-"])
                .kill_on_drop(true)
                .spawn()
            else {
                return;
            };
            let _ = l.wait().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A camera, an SRT receiver and a stream between them, started and running; returns the
/// stream's id, the PID of its FFmpeg, the marker of that FFmpeg's command line (the
/// receiver's address) and the receiver. SRT, because an SRT output is an FFmpeg child (RTMP
/// outputs are published from the appliance's own process, and have none); its stream id
/// `key` is handed over through a FIFO, never on that command line.
async fn running_stream(
    app: &Appliance,
    cam: &FakeCamera,
    key: &str,
) -> (i64, u32, String, tokio::task::JoinHandle<()>) {
    let port = std::net::UdpSocket::bind(("127.0.0.1", 0))
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let receiver = srt_receiver(port);
    // The caller's address (the listener's has `?mode=listener` instead).
    let marker = format!("127.0.0.1:{port}?latency");
    let cam_id = app
        .create(
            "/api/cameras",
            json!({"name": "Dock", "type": "STATIC", "protocol": "RTSP", "address": cam.url()}),
        )
        .await;
    let dest = app
        .create(
            "/api/destinations",
            json!({"name": "Fake SRT ingest", "platform": "custom",
                   "url": format!("srt://127.0.0.1:{port}?latency=200000"), "stream_key": key}),
        )
        .await;
    let sid = app
        .create(
            "/api/streams",
            json!({"name": "Dock live", "camera_id": cam_id, "destination_ids": [dest]}),
        )
        .await;
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let s = app
        .wait_stream(sid, Duration::from_secs(30), |s| {
            s["status"]["state"] == "running"
        })
        .await;
    let pid = s["status"]["outputs"][0]["pid"].as_u64().unwrap() as u32;
    (sid, pid, marker, receiver)
}

fn no_marked_processes(dir: &Path) -> Vec<u32> {
    orphans::scan(&[orphans::marker(dir)])
}

#[tokio::test]
async fn backup_taken_during_writes_restores_to_a_working_appliance() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let closed = vs_testrig::free_port();

    // Cameras are created through the API, with passwords, for as long as the backup runs.
    let created = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, base) = (app.client.clone(), app.base.clone());
        let (created, stop) = (created.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let r = client
                    .post(format!("{base}/api/cameras"))
                    .json(&json!({
                        "name": format!("Cam {i}"), "type": "STATIC", "protocol": "RTSP",
                        "address": format!("rtsp://viewer:secret{i}@127.0.0.1:{closed}/s{i}")
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                created.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while created.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("vistterstream-backup.tar.gz");
    let before = created.load(Ordering::SeqCst);
    // The appliance holds the data-directory lock: the backup must not need it.
    let (ok, stdout, stderr) = run_bin(
        &["admin", "backup", archive.to_str().unwrap()],
        app.dir.path(),
    )
    .await;
    let after = created.load(Ordering::SeqCst);
    assert!(ok, "backup failed: {stdout}\n{stderr}");
    assert!(stdout.contains("backup written"), "{stdout}");
    assert!(after > before, "writes went on during the backup");
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    app.stop().await;

    let manifest = vistterstream::backup::read_manifest(&archive).unwrap();
    assert_eq!(
        manifest.schema_version,
        vistterstream::backup::known_schema_version()
    );
    assert!(manifest.has_secret_key);

    let restored = out.path().join("restored");
    let (ok, stdout, stderr) =
        run_bin(&["admin", "restore", archive.to_str().unwrap()], &restored).await;
    assert!(ok, "restore failed: {stdout}\n{stderr}");
    assert!(stdout.contains("restored the backup"), "{stdout}");
    assert_eq!(integrity(&restored.join("vistterstream.db")).await, "ok");

    let app = Appliance::start(&restored).await;
    app.login().await;
    let cams = app.get_json("/api/cameras").await;
    let cams = cams.as_array().unwrap();
    assert!(
        (before..=after).contains(&cams.len()),
        "a consistent snapshot: {} cameras, {before}..={after} created around the backup",
        cams.len()
    );
    // Names are complete and unique: no half-written row.
    let mut names: Vec<&str> = cams.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cams.len());
    // The passwords still decrypt with the restored key: the connection test reaches the
    // (closed) port and says so, instead of failing on the stored secret.
    for cam in cams.iter().take(3) {
        assert_eq!(cam["has_password"], true);
        let r = app
            .post(&format!("/api/cameras/{}/test", cam["id"]), json!({}))
            .await;
        assert_eq!(r.status(), 200, "{}", app.log());
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["reachable"], false);
        assert_eq!(t["error_kind"], "unreachable", "{t}");
    }
    // The container health check against the running appliance, and against nothing.
    let addr = app.base.trim_start_matches("http://").to_string();
    let ok = Command::new(BIN)
        .args(["healthcheck", "--listen", &addr])
        .status()
        .await
        .unwrap();
    assert!(ok.success());
    let down = Command::new(BIN)
        .args(["healthcheck", "--listen", &format!("127.0.0.1:{closed}")])
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(!down.success());

    let (status, _, log) = app.terminate().await;
    assert!(status.success(), "{log}");
}

#[tokio::test]
async fn restore_refuses_a_backup_from_a_newer_schema() {
    // A real backup whose manifest says schema 9999, as a future version would write.
    let src = tempfile::tempdir().unwrap();
    let db = vs_db::Db::open(&src.path().join("vistterstream.db"))
        .await
        .unwrap();
    db.close().await;
    std::fs::write(src.path().join("secret.key"), [1u8; 32]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let real = out.path().join("real.tar.gz");
    let mut manifest = vistterstream::backup::backup(src.path(), &real)
        .await
        .unwrap();
    manifest.schema_version = 9999;
    manifest.app_version = "9.0.0".into();
    let newer = out.path().join("newer.tar.gz");
    rewrite_manifest(&real, &newer, &manifest);

    let dest = out.path().join("data");
    let (ok, stdout, stderr) = run_bin(&["admin", "restore", newer.to_str().unwrap()], &dest).await;
    assert!(!ok, "a newer schema must be refused: {stdout}");
    assert!(
        stderr.contains("schema version 9999 is newer than this VistterStream"),
        "{stderr}"
    );
    assert!(stderr.contains("install a newer VistterStream"), "{stderr}");
    assert!(
        stderr.contains("9.0.0"),
        "names the version that made it: {stderr}"
    );
    assert!(!dest.join("vistterstream.db").exists(), "nothing restored");

    // The same archive with its true manifest restores; again without --force is refused.
    let (ok, _, stderr) = run_bin(&["admin", "restore", real.to_str().unwrap()], &dest).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run_bin(&["admin", "restore", real.to_str().unwrap()], &dest).await;
    assert!(!ok);
    assert!(stderr.contains("--force"), "{stderr}");
}

/// Copies an archive with another manifest in front.
fn rewrite_manifest(from: &Path, to: &Path, manifest: &vistterstream::backup::Manifest) {
    use std::io::Read;
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(from).unwrap(),
    ));
    let mut output = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    ));
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path: PathBuf = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path == Path::new("manifest.json") {
            data = serde_json::to_vec(manifest).unwrap();
        }
        let mut h = entry.header().clone();
        h.set_size(data.len() as u64);
        output.append_data(&mut h, &path, data.as_slice()).unwrap();
    }
    output.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn sigterm_stops_streams_and_closes_the_database_within_the_bound() {
    let cam = FakeCamera::start(CameraOptions::new("Term").size(320, 240).fps(25))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = Appliance::start(dir.path()).await;
    app.setup_admin().await;
    let (sid, ffmpeg, marker, receiver) = running_stream(&app, &cam, "opsterm").await;
    // A second stream whose destination refuses connections: its FFmpeg is starting or in
    // backoff when the stop comes.
    let cam_id = app.get_json("/api/cameras").await[0]["id"]
        .as_i64()
        .unwrap();
    let dead = app
        .create(
            "/api/destinations",
            json!({"name": "Dead", "platform": "custom",
                   "url": format!("rtmp://127.0.0.1:{}/live2", vs_testrig::free_port()),
                   "stream_key": "opsdead"}),
        )
        .await;
    let sid2 = app
        .create(
            "/api/streams",
            json!({"name": "Dead end", "camera_id": cam_id, "destination_ids": [dead]}),
        )
        .await;
    assert_eq!(
        app.post(&format!("/api/streams/{sid2}/start"), json!({}))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(orphans::alive(ffmpeg));
    assert!(
        !no_marked_processes(dir.path()).is_empty(),
        "children carry the data directory's marker"
    );

    let (status, took, log) = app.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit code after SIGTERM; log:\n{log}"
    );
    assert!(took < STOP_BOUND, "stopped in {took:?}");
    assert!(log.contains("stopped cleanly"), "{log}");
    eprintln!("SIGTERM to exit with a running stream: {took:?}");

    // No child left: neither the running FFmpeg nor anything else of this appliance.
    assert!(
        !orphans::alive(ffmpeg),
        "ffmpeg {ffmpeg} outlived the appliance"
    );
    assert_eq!(no_marked_processes(dir.path()), Vec::<u32>::new());
    vs_testrig::wait_no_processes_with_marker(&marker, Duration::from_secs(1))
        .await
        .unwrap();
    receiver.abort();
    vs_testrig::wait_no_processes_with_marker("opsdead", Duration::from_secs(1))
        .await
        .unwrap();

    // The database was closed cleanly: checkpointed (no WAL left) and intact, and the
    // streams are still wanted running, so the next start resumes them.
    let db = dir.path().join("vistterstream.db");
    let wal = dir.path().join("vistterstream.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL checkpointed on close"
    );
    assert_eq!(integrity(&db).await, "ok");
    assert_eq!(desired_state(&db, sid).await, "running");
    assert_eq!(desired_state(&db, sid2).await, "running");
}

#[tokio::test]
async fn kill_9_then_restart_reaps_orphans_and_resumes_the_stream() {
    let cam = FakeCamera::start(CameraOptions::new("Kill").size(320, 240).fps(25))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = Appliance::start(dir.path()).await;
    app.setup_admin().await;
    let (sid, old_ffmpeg, marker, receiver) = running_stream(&app, &cam, "opskill").await;

    app.kill9().await;
    // FFmpeg leads its own process group: the hard kill leaves it behind, still streaming.
    let orphaned = orphans::alive(old_ffmpeg);
    eprintln!("ffmpeg {old_ffmpeg} alive after kill -9 of the appliance: {orphaned}");
    assert!(
        orphaned,
        "the orphan this test is about did not survive the kill (nothing left to clean up)"
    );
    let db = dir.path().join("vistterstream.db");
    assert_eq!(integrity(&db).await, "ok", "no corruption after kill -9");

    // Same data directory: the kernel released the flock with the dead process.
    let started = Instant::now();
    let app = Appliance::start(dir.path()).await;
    eprintln!("restart after kill -9 listening in {:?}", started.elapsed());
    // The cleanup runs before the server listens.
    let deadline = Instant::now() + Duration::from_secs(3);
    while orphans::alive(old_ffmpeg) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !orphans::alive(old_ffmpeg),
        "orphan ffmpeg {old_ffmpeg} still running after the restart"
    );
    assert!(
        app.log().contains("left over by a previous run"),
        "{}",
        app.log()
    );

    app.login().await;
    let s = app
        .wait_stream(sid, Duration::from_secs(30), |s| {
            s["status"]["state"] == "running"
        })
        .await;
    assert_eq!(s["desired_state"], "running");
    let new_ffmpeg = s["status"]["outputs"][0]["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_ffmpeg, old_ffmpeg);
    // Exactly one FFmpeg streams to this destination now: the resumed one (and none has the
    // stream id on its command line).
    let to_dest: Vec<u32> = vs_testrig::processes_with_marker(&marker)
        .iter()
        .filter(|p| {
            !p.is_zombie() && p.comm == "ffmpeg" && !p.cmdline.join(" ").contains("listener")
        })
        .map(|p| p.pid)
        .collect();
    assert_eq!(to_dest, vec![new_ffmpeg]);
    assert!(vs_testrig::processes_with_marker("opskill").is_empty());

    let (status, _, log) = app.terminate().await;
    assert!(status.success(), "{log}");
    assert_eq!(no_marked_processes(dir.path()), Vec::<u32>::new());
    assert_eq!(integrity(&db).await, "ok");
    receiver.abort();
}

/// `vistterstream openapi` (what the web UI's types are generated from) prints the document the
/// running appliance serves, and needs no data directory.
#[tokio::test]
async fn openapi_subcommand_prints_the_served_document() {
    let out = Command::new(BIN)
        .arg("openapi")
        .env_remove("VS_DATA_DIR")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = TestApp::spawn().await;
    let served: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    app.stop().await;
    assert_eq!(printed, served);
    assert!(printed["paths"]["/api/cameras"].is_object());
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Secrets at rest: the data directory is the appliance's user's only (an existing open one is
/// tightened, and the log says so), and so are the database, its -wal and -shm (SQLite gives
/// them the database's mode), the key and a backup.
#[tokio::test]
async fn the_data_directory_and_the_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    let app = Appliance::start(&dir).await;
    app.setup_admin().await;
    assert_eq!(mode(&dir), 0o700);
    assert!(
        app.log().contains("the data directory was mode 0755"),
        "{}",
        app.log()
    );
    // While the appliance runs, in WAL mode: all three exist.
    for f in [
        "vistterstream.db",
        "vistterstream.db-wal",
        "vistterstream.db-shm",
        "secret.key",
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let archive = tmp.path().join("backup.tar.gz");
    let (ok, _, stderr) = run_bin(&["admin", "backup", archive.to_str().unwrap()], &dir).await;
    assert!(ok, "{stderr}");
    assert_eq!(mode(&archive), 0o600, "the backup holds the key");
    let (status, _, log) = app.terminate().await;
    assert!(status.success(), "{log}");

    // A second start on the now private directory has nothing to tighten or to say.
    let app = Appliance::start(&dir).await;
    assert!(
        !app.log().contains("the data directory was mode"),
        "{}",
        app.log()
    );
    assert_eq!(mode(&dir), 0o700);
    let (status, _, log) = app.terminate().await;
    assert!(status.success(), "{log}");
}
