//! Destinations whose publish URL is pasted whole (issue 13): the stream key and the
//! credentials inside it are split off and sealed, never returned, written to the audit log or
//! logged; FFmpeg is handed the URL as pasted, checked where it arrives (nginx-rtmp as fake
//! YouTube, an FFmpeg SRT listener); keys left inside stored URLs by older versions are sealed
//! at boot. Real SQLite, real FFmpeg, real RTSP camera, all on 127.0.0.1.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use vistterstream::{AppDeps, Config};
use vs_base::{Secret, SecretBox};
use vs_testrig::{CameraOptions, FakeCamera, RtmpEventKind, RtmpOptions, RtmpServer};

// ---- The app's log, captured ------------------------------------------------------------------

/// Everything the appliance logs in this test binary (every test's app, at trace level), so a
/// test can check that no secret was ever written, FFmpeg's own lines included.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        // The test's own HTTP client is left out: it sends the secrets on purpose.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,hyper=info,hyper_util=info,reqwest=info,h2=info",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber of this test binary");
        captured
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&capture_logs().0.lock().unwrap()).into_owned()
}

#[track_caller]
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows the secret {s:?}: {text}");
    }
}

/// A URL with its query parameters sorted: SRT's secret parameters come back after the
/// others, which changes nothing for FFmpeg.
fn sorted_query(url: &str) -> (String, Vec<String>) {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let mut q: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    q.sort();
    (head.to_string(), q)
}

async fn audit_text(app: &TestApp) -> String {
    let rows: Vec<(String, String, String)> = vs_db::sqlx::query_as(
        "SELECT action, COALESCE(target, ''), COALESCE(detail, '') FROM audit_log ORDER BY id",
    )
    .fetch_all(app.app.as_ref().unwrap().db.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|(a, t, d)| format!("{a} {t} {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every text the destinations table holds, sealed columns included.
async fn table_text(app: &TestApp) -> String {
    let rows: Vec<(String, String, String, String)> = vs_db::sqlx::query_as(
        "SELECT name, url, COALESCE(stream_key_enc, ''), COALESCE(url_secrets_enc, '')
         FROM destinations",
    )
    .fetch_all(app.app.as_ref().unwrap().db.pool())
    .await
    .unwrap();
    format!("{rows:?}")
}

fn db(app: &TestApp) -> &vs_db::Db {
    &app.app.as_ref().unwrap().db
}

fn destinations(app: &TestApp) -> &vistterstream::services::destinations::DestinationService {
    &app.app.as_ref().unwrap().services.destinations
}

async fn camera(app: &TestApp, name: &str, address: &str) -> i64 {
    let r = app
        .post(
            "/api/cameras",
            json!({"name": name, "type": "STATIC", "protocol": "RTSP", "address": address}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Creates a destination from a pasted URL (no `stream_key`); returns its id and the response.
async fn paste(app: &TestApp, name: &str, platform: &str, url: &str) -> (i64, String) {
    let r = app
        .post(
            "/api/destinations",
            json!({"name": name, "platform": platform, "url": url}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    let d: Value = serde_json::from_str(&text).unwrap();
    (d["id"].as_i64().unwrap(), text)
}

async fn stream(app: &TestApp, name: &str, camera_id: i64, dests: &[i64]) -> i64 {
    let r = app
        .post(
            "/api/streams",
            json!({"name": name, "camera_id": camera_id, "destination_ids": dests}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn wait_stream(
    app: &TestApp,
    id: i64,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let s: Value = app
            .get(&format!("/api/streams/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if pred(&s) {
            return s;
        }
        assert!(
            start.elapsed() < within,
            "stream never matched within {within:?}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn output(s: &Value, dest: i64) -> &Value {
    s["status"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination_id"] == dest)
        .unwrap_or(&Value::Null)
}

/// Stream keys of the publish sessions nginx accepted, sorted.
fn accepted_keys(rtmp: &RtmpServer) -> Vec<String> {
    let mut keys: Vec<String> = rtmp
        .events()
        .into_iter()
        .filter(|e| e.kind == RtmpEventKind::Publish && e.accepted)
        .map(|e| e.key)
        .collect();
    keys.sort();
    keys
}

// ---- The shapes users paste -------------------------------------------------------------------

struct Shape {
    platform: &'static str,
    pasted: &'static str,
    stored: &'static str,
    credentials: bool,
    secrets: &'static [&'static str],
}

const SHAPES: &[Shape] = &[
    Shape {
        platform: "custom",
        pasted: "rtmp://live.example.com/app/PASTEDKEY-a1",
        stored: "rtmp://live.example.com/app",
        credentials: false,
        secrets: &["PASTEDKEY-a1"],
    },
    Shape {
        platform: "facebook",
        pasted: "rtmps://live-api-s.facebook.com:443/rtmp/FB-5550-kq2?s_bl=1&s_sc=Zq81xWv",
        stored: "rtmps://live-api-s.facebook.com:443/rtmp",
        credentials: false,
        secrets: &["FB-5550-kq2", "Zq81xWv"],
    },
    Shape {
        platform: "custom",
        pasted: "srt://127.0.0.1:9000?streamid=SID-sr7x&passphrase=pp-9f8e7d6c5b&latency=120000",
        stored: "srt://127.0.0.1:9000?latency=120000",
        credentials: true,
        secrets: &["SID-sr7x", "pp-9f8e7d6c5b"],
    },
    Shape {
        platform: "custom",
        pasted: "rtmp://bob:pw-4411@live.example.com/live/inst/USERKEY-d4",
        // An application of two segments keeps its '/': an edit never takes `inst` for a key.
        stored: "rtmp://live.example.com/live/inst/",
        credentials: true,
        secrets: &["pw-4411", "USERKEY-d4"],
    },
];

const NEW_KEY: &str = "NEWKEY-z9q";
const REFUSED: &[&str] = &["SECRET-ERR1", "SID-ERR2", "KEY-ERR3"];

fn every_secret() -> Vec<&'static str> {
    let mut all: Vec<&str> = SHAPES
        .iter()
        .flat_map(|s| s.secrets.iter().copied())
        .collect();
    all.push(NEW_KEY);
    all.extend(REFUSED);
    all
}

#[tokio::test]
async fn pasted_urls_are_stored_returned_and_audited_without_their_secrets() {
    capture_logs();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let all = every_secret();

    let mut ids = Vec::new();
    for (i, shape) in SHAPES.iter().enumerate() {
        let (id, text) = paste(&app, &format!("Pasted {i}"), shape.platform, shape.pasted).await;
        assert_clean("the create response", &text, &all);
        let d: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(d["url"], shape.stored, "{}", shape.pasted);
        assert_eq!(d["has_stream_key"], true, "{}", shape.pasted);
        assert_eq!(
            d["has_url_credentials"], shape.credentials,
            "{}",
            shape.pasted
        );
        let one = app
            .get(&format!("/api/destinations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert_clean("GET one", &one, &all);

        // The URL for FFmpeg is the pasted one, put back together in memory only; the one
        // for logs and every value FFmpeg may print are masked.
        let row = db(&app).destination(id).await.unwrap();
        let (full, shown) = destinations(&app).publish(&row).unwrap();
        assert_eq!(sorted_query(&full), sorted_query(shape.pasted));
        assert_clean("the redacted publish URL", &shown, &all);
        let masked = destinations(&app).publish_secrets(&row).unwrap();
        for s in shape.secrets {
            assert!(
                masked.iter().any(|m| m.expose() == *s),
                "{s} is not handed to FFmpeg's redaction"
            );
        }
        ids.push(id);
    }
    let list = app.get("/api/destinations").await.text().await.unwrap();
    assert_clean("the list", &list, &all);

    // An edit that sends the URL back as shown, without a key, keeps the key and credentials.
    for (i, (shape, id)) in SHAPES.iter().zip(&ids).enumerate() {
        let before = db(&app).destination(*id).await.unwrap();
        let r = app
            .put(
                &format!("/api/destinations/{id}"),
                json!({"name": format!("Edited {i}"), "platform": shape.platform, "url": shape.stored}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert_clean("the update response", &text, &all);
        let d: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(d["has_stream_key"], true);
        assert_eq!(d["has_url_credentials"], shape.credentials);
        let after = db(&app).destination(*id).await.unwrap();
        assert_eq!(
            after.stream_key_enc, before.stream_key_enc,
            "{}",
            shape.pasted
        );
        assert_eq!(
            after.url_secrets_enc, before.url_secrets_enc,
            "{}",
            shape.pasted
        );
        let (full, _) = destinations(&app).publish(&after).unwrap();
        assert_eq!(sorted_query(&full), sorted_query(shape.pasted));
    }
    // A new full URL replaces the key, and the credentials with the new URL's (none here).
    let r = app
        .put(
            &format!("/api/destinations/{}", ids[3]),
            json!({"name": "Replaced", "platform": "custom",
                   "url": format!("rtmp://live.example.com/live/inst/{NEW_KEY}")}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_clean("the update response", &text, &all);
    let d: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["has_url_credentials"], false);
    let row = db(&app).destination(ids[3]).await.unwrap();
    assert_eq!(
        destinations(&app).publish(&row).unwrap().0,
        format!("rtmp://live.example.com/live/inst/{NEW_KEY}")
    );

    // Refused addresses: the error never quotes them.
    for body in [
        json!({"name": "Bad", "platform": "custom", "url": "http://live.example.com/app/SECRET-ERR1"}),
        json!({"name": "Bad", "platform": "custom", "url": "srt://127.0.0.1:9000?streamid=SID-ERR2",
               "stream_key": "KEY-ERR3"}),
    ] {
        let r = app.post("/api/destinations", body).await;
        let e = assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some("url"),
        )
        .await;
        assert_clean("the error", &e.to_string(), &all);
    }

    let audit = audit_text(&app).await;
    assert_eq!(
        audit.matches("destination_created").count(),
        SHAPES.len(),
        "{audit}"
    );
    assert_eq!(
        audit.matches("destination_updated").count(),
        SHAPES.len() + 1,
        "{audit}"
    );
    assert!(audit.contains("rtmp://live.example.com/app"), "{audit}");
    assert_clean("the audit log", &audit, &all);
    assert_clean("the destinations table", &table_text(&app).await, &all);
    app.stop().await;
    assert_clean("the app's log", &logged(), &all);
}

#[tokio::test]
async fn pasted_rtmp_urls_publish_under_their_key_and_an_edit_keeps_it() {
    capture_logs();
    let mut cam = FakeCamera::start(
        CameraOptions::new("Quay")
            .size(320, 180)
            .fps(15)
            .audio(false),
    )
    .await
    .unwrap();
    let plain = "PASTEDKEY-r1";
    let facebook = "FB-7741-hh3";
    let with_user = "USERKEY-r3";
    // A wrong key (the whole stream name with its query, say) is refused, like YouTube does.
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec![plain.into(), facebook.into(), with_user.into()]),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let base = rtmp.base_url();
    let port = rtmp.port();
    let pasted = [
        format!("{base}/{plain}"),
        format!("{base}/{facebook}?s_bl=1&s_sc=Yy62pqR"),
        format!("rtmp://bob:pw-9182@127.0.0.1:{port}/live2/{with_user}"),
        // Nobody listens on port 1: FFmpeg prints the whole URL in its errors.
        "rtmp://127.0.0.1:1/live2/DEADKEY-x9?s_sc=Dd55eeff".to_string(),
    ];
    let secrets = [
        plain,
        facebook,
        "Yy62pqR",
        "pw-9182",
        with_user,
        "DEADKEY-x9",
        "Dd55eeff",
    ];
    let mut ids = Vec::new();
    for (i, url) in pasted.iter().enumerate() {
        let (id, text) = paste(&app, &format!("Out {i}"), "custom", url).await;
        assert_clean("the create response", &text, &secrets);
        ids.push(id);
    }
    let cam_id = camera(&app, "Quay", &cam.url()).await;
    let sid = stream(&app, "Quay live", cam_id, &ids).await;

    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    rtmp.wait_for_publishes(3, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(accepted_keys(&rtmp), [facebook, plain, with_user]);
    assert_eq!(rtmp.rejected_count(), 0);
    assert!(
        rtmp.log().contains("args='s_bl=1&s_sc=Yy62pqR'"),
        "the key's query reached the server: {}",
        rtmp.log()
    );
    // The dead output fails with FFmpeg's own words, the URL in them masked.
    let s = wait_stream(&app, sid, Duration::from_secs(30), |s| {
        output(s, ids[3])["last_error"].is_string()
    })
    .await;
    let error = output(&s, ids[3])["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("***"), "{error}");
    assert_clean("the stream's status", &s.to_string(), &secrets);
    let r = app
        .post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    rtmp.wait_for_publish_done(3, Duration::from_secs(15))
        .await
        .unwrap();

    // Edited without the key (the URL sent back as shown): the same keys arrive again.
    for (i, id) in ids.iter().enumerate() {
        let shown: Value = app
            .get(&format!("/api/destinations/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let r = app
            .put(
                &format!("/api/destinations/{id}"),
                json!({"name": format!("Edited {i}"), "platform": "custom", "url": shown["url"]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_clean("the update response", &r.text().await.unwrap(), &secrets);
    }
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    rtmp.wait_for_publishes(6, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        accepted_keys(&rtmp),
        [facebook, facebook, plain, plain, with_user, with_user]
    );
    assert_eq!(rtmp.rejected_count(), 0);
    let r = app
        .post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);

    let audit = audit_text(&app).await;
    assert_clean("the audit log", &audit, &secrets);
    assert_clean("the destinations table", &table_text(&app).await, &secrets);
    app.stop().await;
    cam.stop().await.unwrap();
    let log = logged();
    // RTMP outputs are published from the appliance's own process: their lines (the dead
    // destination's refusals among them) are in the captured log, so the check below reads
    // what the outputs said.
    assert!(
        log.contains("vs_engine::publish") && log.contains("refused the connection"),
        "the publishers' lines are in the captured log"
    );
    assert_clean("the app's log", &log, &secrets);
}

/// `ffmpeg` as an SRT listener with a passphrase: a caller with another passphrase is refused;
/// at `verbose` it logs the stream id each caller sent.
struct SrtListener {
    child: tokio::process::Child,
    log: Arc<Mutex<String>>,
}

impl SrtListener {
    async fn start(port: u16, passphrase: &str, out: &Path) -> SrtListener {
        let mut child = tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "verbose", "-y", "-i"])
            .arg(format!(
                "srt://127.0.0.1:{port}?mode=listener&passphrase={passphrase}"
            ))
            .args(["-c", "copy", "-f", "mpegts"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ffmpeg");
        let log = Arc::new(Mutex::new(String::new()));
        let l = log.clone();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        // Listening once the port is bound (UDP: probe by trying to bind it ourselves).
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(Instant::now() < deadline, "the SRT listener never bound");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SrtListener { child, log }
    }

    async fn wait_for(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log.lock().unwrap().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the SRT listener never logged {needle:?}: {}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_pasted_srt_url_connects_with_its_stream_id_and_passphrase() {
    capture_logs();
    let mut cam = FakeCamera::start(
        CameraOptions::new("Slip")
            .size(320, 180)
            .fps(15)
            .audio(false),
    )
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let passphrase = "pp-71c0ffee55";
    let stream_id = "#!::r=live/sid-77q,m=publish";
    let listener = SrtListener::start(port, passphrase, &dir.path().join("a.ts")).await;
    let pasted = format!(
        "srt://127.0.0.1:{port}?streamid={stream_id}&passphrase={passphrase}&latency=120000"
    );
    let secrets = ["sid-77q", passphrase];
    let (id, text) = paste(&app, "SRT ingest", "custom", &pasted).await;
    assert_clean("the create response", &text, &secrets);
    let d: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["url"], format!("srt://127.0.0.1:{port}?latency=120000"));
    assert_eq!(d["has_stream_key"], true);
    assert_eq!(d["has_url_credentials"], true);

    let cam_id = camera(&app, "Slip", &cam.url()).await;
    let sid = stream(&app, "Slip live", cam_id, &[id]).await;
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    // The passphrase matched (a wrong one is refused in the handshake) and the stream id
    // arrived as pasted, raw '#' and '/' included.
    listener
        .wait_for(
            &format!("accept streamid [{stream_id}]"),
            Duration::from_secs(30),
        )
        .await;
    listener
        .wait_for("Output #0, mpegts", Duration::from_secs(30))
        .await;
    let r = app
        .post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    listener.stop().await;

    // Edited without the key: the stream id and passphrase are kept.
    let r = app
        .put(
            &format!("/api/destinations/{id}"),
            json!({"name": "SRT ingest 2", "platform": "custom", "url": d["url"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_clean("the update response", &r.text().await.unwrap(), &secrets);
    let listener = SrtListener::start(port, passphrase, &dir.path().join("b.ts")).await;
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    listener
        .wait_for(
            &format!("accept streamid [{stream_id}]"),
            Duration::from_secs(30),
        )
        .await;
    let s: Value = app
        .get(&format!("/api/streams/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_clean("the stream's status", &s.to_string(), &secrets);
    let r = app
        .post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    listener.stop().await;

    assert_clean("the audit log", &audit_text(&app).await, &secrets);
    app.stop().await;
    cam.stop().await.unwrap();
    assert_clean("the app's log", &logged(), &secrets);
}

// ---- Rows stored by older versions ------------------------------------------------------------

const SEALED_AT_BOOT: &str = "sealed the stream keys and credentials found inside stored";

#[tokio::test]
async fn keys_inside_urls_stored_by_older_versions_are_sealed_at_boot_once() {
    capture_logs();
    let old_key = "OLDKEY-b00t";
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec![old_key.into()]),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let dir = app.stop_keep_dir().await;

    // The rows as an older appliance left them: keys in clear inside the URL.
    let config = Config::for_tests(dir.path().to_path_buf());
    let secrets_box = SecretBox::load_or_create(&config.key_path()).unwrap();
    let separate = secrets_box.seal(&Secret::new("SEPKEY-77x"));
    let youtube = secrets_box.seal(&Secret::new("YTKEY-1qq"));
    let old_db = vs_db::Db::open(&config.db_path()).await.unwrap();
    for (name, platform, url, key) in [
        ("Old RTMP", "custom", rtmp.publish_url(old_key), None),
        (
            "Old SRT",
            "custom",
            "srt://127.0.0.1:9000?streamid=OLDSID-s3&passphrase=oldpass-12345&latency=120000"
                .to_string(),
            None,
        ),
        (
            "Old app",
            "custom",
            "rtmp://127.0.0.1:1935/live/inst".to_string(),
            Some(separate.clone()),
        ),
        (
            "YouTube",
            "youtube",
            "rtmps://a.rtmps.youtube.com:443/live2".to_string(),
            Some(youtube.clone()),
        ),
    ] {
        vs_db::sqlx::query(
            "INSERT INTO destinations (name, platform, url, stream_key_enc, enabled, created_at, updated_at)
             VALUES (?, ?, ?, ?, 1, 't0', 't0')",
        )
        .bind(name)
        .bind(platform)
        .bind(url)
        .bind(key)
        .execute(old_db.pool())
        .await
        .unwrap();
    }
    old_db.close().await;
    let secrets = [
        old_key,
        "OLDSID-s3",
        "oldpass-12345",
        "SEPKEY-77x",
        "YTKEY-1qq",
    ];

    let app = TestApp::spawn_in(dir, |_| {}, AppDeps::real()).await;
    app.login_admin().await;
    let rows = db(&app).list_destinations().await.unwrap();
    let by_name = |n: &str| rows.iter().find(|r| r.name == n).unwrap().clone();
    let open = |sealed: &Option<String>| {
        secrets_box
            .open(sealed.as_deref().unwrap())
            .unwrap()
            .expose()
            .to_string()
    };
    let old = by_name("Old RTMP");
    assert_eq!(old.url, rtmp.base_url());
    assert_eq!(open(&old.stream_key_enc), old_key);
    assert_eq!(old.updated_at, "t0", "the user changed nothing");
    let srt = by_name("Old SRT");
    assert_eq!(srt.url, "srt://127.0.0.1:9000?latency=120000");
    assert_eq!(open(&srt.stream_key_enc), "OLDSID-s3");
    assert!(open(&srt.url_secrets_enc).contains("passphrase=oldpass-12345"));
    assert_eq!(
        destinations(&app).publish(&srt).unwrap().0,
        "srt://127.0.0.1:9000?latency=120000&streamid=OLDSID-s3&passphrase=oldpass-12345"
    );
    // A key stored beside the URL stays as it was; the URL gains the '/' that says its last
    // segment is no key, so an edit that sends it back changes nothing.
    let app_row = by_name("Old app");
    assert_eq!(app_row.url, "rtmp://127.0.0.1:1935/live/inst/");
    assert_eq!(app_row.stream_key_enc, Some(separate.clone()));
    assert_eq!(
        destinations(&app).publish(&app_row).unwrap().0,
        "rtmp://127.0.0.1:1935/live/inst/SEPKEY-77x"
    );
    let yt = by_name("YouTube");
    assert_eq!(yt.url, "rtmps://a.rtmps.youtube.com:443/live2");
    assert_eq!(yt.stream_key_enc, Some(youtube.clone()));

    let list = app.get("/api/destinations").await.text().await.unwrap();
    assert_clean("the list", &list, &secrets);
    assert_clean("the destinations table", &table_text(&app).await, &secrets);
    let log = logged();
    assert_eq!(log.matches(SEALED_AT_BOOT).count(), 1, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains(SEALED_AT_BOOT) && l.contains("count=2")),
        "the log says how many: {log}"
    );

    // The sealed key really is the one FFmpeg publishes under.
    let mut cam = FakeCamera::start(
        CameraOptions::new("Boot")
            .size(320, 180)
            .fps(15)
            .audio(false),
    )
    .await
    .unwrap();
    let cam_id = camera(&app, "Boot", &cam.url()).await;
    let sid = stream(&app, "Boot live", cam_id, &[old.id]).await;
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    rtmp.wait_for_publishes(1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(accepted_keys(&rtmp), [old_key]);
    let r = app
        .post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    cam.stop().await.unwrap();

    // A second boot finds nothing to seal: the rows stay exactly as they are.
    let before: Vec<_> = db(&app)
        .list_destinations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.url, r.stream_key_enc, r.url_secrets_enc))
        .collect();
    let dir = app.stop_keep_dir().await;
    let app = TestApp::spawn_in(dir, |_| {}, AppDeps::real()).await;
    let after: Vec<_> = db(&app)
        .list_destinations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.url, r.stream_key_enc, r.url_secrets_enc))
        .collect();
    assert_eq!(after, before);
    app.stop().await;
    let log = logged();
    assert_eq!(log.matches(SEALED_AT_BOOT).count(), 1);
    assert_clean("the app's log", &log, &secrets);
}

/// "Test destination" (issue 17): `POST /api/destinations/{id}/test` publishes a few seconds
/// of a test pattern from the appliance's own process and says whether the server took it, or
/// why not in plain words: a wrong key, nothing listening. Never with the key, in the answer,
/// the audit log or the log; no child process gets the key.
#[tokio::test]
async fn test_destination_says_accepted_or_why_not_in_plain_words() {
    capture_logs();
    let good = "TESTKEY-ok-5521";
    let wrong = "WRONGKEY-77a1";
    let dead = "DEADKEY-t1x9";
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec![good.into()]),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let base = rtmp.base_url();
    let (ok_id, _) = paste(&app, "Right key", "custom", &format!("{base}/{good}")).await;
    let (bad_id, _) = paste(&app, "Wrong key", "custom", &format!("{base}/{wrong}")).await;
    let (dead_id, _) = paste(
        &app,
        "Nobody",
        "custom",
        &format!("rtmp://127.0.0.1:1/live2/{dead}"),
    )
    .await;
    let secrets = [good, wrong, dead];

    // While the test runs, no child holds the key.
    let scan = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..40 {
            for p in vs_testrig::descendants_of(std::process::id()) {
                for file in ["cmdline", "environ"] {
                    if let Ok(raw) = std::fs::read(format!("/proc/{}/{file}", p.pid)) {
                        if raw.windows(good.len()).any(|w| w == good.as_bytes()) {
                            seen.push(format!("{} {file}: {}", p.pid, p.command()));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    });
    let r = app
        .post(&format!("/api/destinations/{ok_id}/test"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_clean("the test's answer", &text, &secrets);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["published_ms"].as_u64().unwrap() >= 3000, "{v}");
    assert!(v["message"].as_str().unwrap().contains("accepted"), "{v}");
    let leaks = scan.await.unwrap();
    assert!(leaks.is_empty(), "the key is visible in: {leaks:?}");
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(accepted_keys(&rtmp), [good]);

    let r = app
        .post(&format!("/api/destinations/{bad_id}/test"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_clean("the test's answer", &text, &secrets);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["kind"], "refused", "{v}");
    assert!(v["message"].as_str().unwrap().contains("stream key"), "{v}");
    assert_eq!(rtmp.rejected_count(), 1);

    let r = app
        .post(&format!("/api/destinations/{dead_id}/test"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["kind"], "unreachable", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("refused the connection"),
        "{v}"
    );

    let r = app.post("/api/destinations/9999/test", json!({})).await;
    assert_eq!(r.status(), 404);
    let audit = audit_text(&app).await;
    assert!(
        audit.contains("destination_tested Right key accepted"),
        "{audit}"
    );
    assert!(
        audit.contains("destination_tested Wrong key refused"),
        "{audit}"
    );
    assert_clean("the audit log", &audit, &secrets);
    assert_clean("the log", &logged(), &secrets);
    app.stop().await;
}
