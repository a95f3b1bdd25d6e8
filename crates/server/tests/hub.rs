//! The camera hub in the appliance, against real parts: a GStreamer camera with a password that
//! admits ONE RTSP session, nginx-rtmp as three destinations, real FFmpeg. A program with the
//! camera on air, a copy stream to two destinations, two preview viewers and snapshots all work
//! at once on that one session; no process the appliance starts has the camera's password on
//! its command line or in its environment; the camera lost and back, every consumer recovers by
//! itself.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer, StreamKind};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const PASSWORD: &str = "hubSrvPw-4e9c1";

async fn viewer(app: &TestApp, id: i64, token: &str) -> Ws {
    let url = app
        .url(&format!("/api/cameras/{id}/live"))
        .replace("http", "ws");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

async fn session(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/cameras/{id}/session"))
        .await
        .json()
        .await
        .unwrap()
}

/// Polls `GET path` until `pred` holds.
async fn wait_json(
    app: &TestApp,
    path: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let what = path;
    let start = Instant::now();
    loop {
        let v: Value = app.get(path).await.json().await.unwrap();
        if pred(&v) {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "{what}: never matched within {within:?}; last: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Established TCP connections to `port` on 127.0.0.1, counted on the server side (the
/// camera's): lines of /proc/net/tcp whose local port is `port` in state 01.
fn camera_connections(port: u16) -> usize {
    let port_hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[1].ends_with(&port_hex) && cols[3] == "01"
        })
        .count()
}

/// The stream keys of the destinations of the test below.
const STREAM_KEYS: [&str; 3] = ["hubsrv-a", "hubsrv-b", "hubsrv-prog"];

/// Every descendant of this test process, the excluded ones (and theirs) aside, whose command
/// line or environment holds `secret`; and the command lines of the FFmpeg processes seen.
fn scan(secret: &str, exclude: &[u32]) -> (Vec<String>, Vec<String>) {
    let excluded: HashSet<u32> = exclude
        .iter()
        .flat_map(|&pid| {
            std::iter::once(pid).chain(vs_testrig::descendants_of(pid).into_iter().map(|p| p.pid))
        })
        .collect();
    let mut leaks = Vec::new();
    let mut ffmpegs = Vec::new();
    for p in vs_testrig::descendants_of(std::process::id()) {
        if excluded.contains(&p.pid) {
            continue;
        }
        if p.comm == "ffmpeg" {
            ffmpegs.push(p.command());
        }
        for file in ["cmdline", "environ"] {
            if let Ok(raw) = std::fs::read(format!("/proc/{}/{file}", p.pid)) {
                if raw.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                    leaks.push(format!("{} ({}) {file}: {}", p.pid, p.comm, p.command()));
                }
            }
        }
    }
    (leaks, ffmpegs)
}

/// Reads a viewer until `n` media fragments (after an init segment) arrived; returns the
/// status texts seen.
async fn read_fragments(ws: &mut Ws, n: usize, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let (mut texts, mut init, mut frags) = (Vec::new(), false, 0);
    while frags < n {
        match tokio::time::timeout_at(deadline.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                texts.push(serde_json::from_str::<Value>(&t).unwrap())
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                if &b[4..8] == b"ftyp" {
                    init = true;
                } else if init {
                    assert_eq!(&b[4..8], b"moof");
                    frags += 1;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("viewer: {other:?} after {frags} fragments; texts {texts:?}"),
        }
    }
    texts
}

/// Reads a viewer until a text message matching `pred` arrives.
async fn wait_text(ws: &mut Ws, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if pred(&v) {
                    return v;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("viewer: no matching status message: {other:?}"),
        }
    }
}

/// The program's live view, once `pred` holds.
async fn wait_program(app: &TestApp, id: i64, within: Duration, pred: impl Fn(&Value) -> bool) {
    wait_json(app, &format!("/api/programs/{id}"), within, |v| {
        v["live"].is_object() && pred(&v["live"])
    })
    .await;
}

fn output_states(s: &Value) -> Vec<String> {
    s["status"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_serves_a_program_a_copy_stream_two_previews_and_snapshots_without_the_password_anywhere(
) {
    vs_testrig::require_all(&["ffmpeg", "ffprobe", "nginx"]);
    let mut cam = FakeCamera::start(
        CameraOptions::new("HubSrv")
            .size(640, 360)
            .fps(15)
            .audio(true)
            .credentials("admin", PASSWORD)
            .max_clients(1),
    )
    .await
    .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token = app.api_token("hub tests").await;
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Dock", "type": "STATIC", "protocol": "RTSP", "address": cam.url(),
                   "username": "admin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    // The session: route documented behaviour (auth, 404), then playing.
    assert_eq!(
        app.anonymous()
            .get(app.url(&format!("/api/cameras/{id}/session")))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_error(
        app.get("/api/cameras/999/session").await,
        reqwest::StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let session_path = format!("/api/cameras/{id}/session");
    let s = wait_json(&app, &session_path, Duration::from_secs(20), |s| {
        s["state"] == "playing"
    })
    .await;
    assert_eq!(s["transport"], "rtsp");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert!(
        s["audio_codec"].as_str().unwrap().starts_with("mp4a"),
        "{s}"
    );

    // The camera really admits one session, and the hub holds it.
    let second = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-rtsp_transport", "tcp"])
        .arg(cam.url_with_credentials())
        .output()
        .await
        .unwrap();
    assert!(
        !second.status.success(),
        "a second RTSP client was admitted"
    );

    // A copy stream to two destinations.
    let mut dests = Vec::new();
    for key in ["hubsrv-a", "hubsrv-b"] {
        let r = app
            .post(
                "/api/destinations",
                json!({"name": key, "platform": "custom", "url": rtmp.base_url(), "stream_key": key}),
            )
            .await;
        assert_eq!(r.status(), 201);
        dests.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let r = app
        .post(
            "/api/streams",
            json!({"name": "Dock out", "camera_id": id, "destination_ids": dests}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let sid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let stream = format!("/api/streams/{sid}");
    let s = wait_json(&app, &stream, Duration::from_secs(30), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    assert_eq!(s["status"]["audio"], "camera", "the camera's AAC is copied");
    rtmp.wait_for_publishes(2, Duration::from_secs(20))
        .await
        .unwrap();

    // A program with the camera on air, to a third destination: it decodes the same session.
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "program out", "platform": "custom", "url": rtmp.base_url(),
                   "stream_key": "hubsrv-prog"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let dp = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(
            "/api/programs",
            json!({"name": "Dock program", "width": 320, "height": 180, "fps": 15,
                   "destination_ids": [dp]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let pid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/programs/{pid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &format!("/api/programs/{pid}/take"),
            json!({"camera_id": id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let on_air = |l: &Value| {
        l["on_air_camera_id"] == id
            && l["slate_active"] == false
            && l["outputs"][0]["state"] == "running"
    };
    wait_program(&app, pid, Duration::from_secs(30), on_air).await;
    rtmp.wait_for_publishes(3, Duration::from_secs(20))
        .await
        .unwrap();

    // Two preview viewers.
    let mut va = viewer(&app, id, &token).await;
    let mut vb = viewer(&app, id, &token).await;
    read_fragments(&mut va, 20, Duration::from_secs(20)).await;
    read_fragments(&mut vb, 20, Duration::from_secs(20)).await;

    // Snapshots while everything runs, with a scanner of every descendant running alongside
    // (so the short-lived snapshot decoders are seen too).
    let stop_scan = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new((Vec::<String>::new(), HashSet::<String>::new())));
    let exclude = {
        let mut pids = vec![cam.pid().unwrap()];
        let dir = rtmp.dir().display().to_string();
        pids.extend(
            vs_testrig::processes_with_marker(&dir)
                .into_iter()
                .map(|p| p.pid),
        );
        pids
    };
    let scanner = std::thread::spawn({
        let (stop_scan, seen, exclude) = (stop_scan.clone(), seen.clone(), exclude.clone());
        move || {
            while !stop_scan.load(std::sync::atomic::Ordering::Relaxed) {
                // The camera's password, and the stream keys of the copy stream's and the
                // program's destinations (published from the appliance's own process).
                let (leaks, ffmpegs) = scan(PASSWORD, &exclude);
                let mut s = seen.lock().unwrap();
                s.0.extend(leaks);
                s.1.extend(ffmpegs);
                for key in STREAM_KEYS {
                    s.0.extend(scan(key, &exclude).0);
                }
                drop(s);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    for width in [320u32, 400, 480, 560, 640, 720] {
        let r = app
            .get(&format!("/api/cameras/{id}/snapshot?width={width}"))
            .await;
        assert_eq!(r.status(), 200);
        let jpeg = r.bytes().await.unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
    }
    let h: Value = app
        .get(&format!("/api/cameras/{id}/health"))
        .await
        .json()
        .await
        .unwrap();
    stop_scan.store(true, std::sync::atomic::Ordering::Relaxed);
    scanner.join().unwrap();
    let (leaks, ffmpegs) = seen.lock().unwrap().clone();
    assert!(
        leaks.is_empty(),
        "the camera password or a stream key is visible in: {leaks:#?}"
    );
    // The scan does find it where it is: the fake camera's own command line (excluded above).
    let (in_camera, _) = scan(PASSWORD, &[]);
    assert!(
        in_camera
            .iter()
            .any(|l| l.starts_with(&cam.pid().unwrap().to_string())),
        "{in_camera:?}"
    );
    // One publisher per destination, in the appliance's own process: nginx got both copy
    // sessions and the program's, and each output measures its uplink.
    assert!(rtmp.publish_count() >= 3, "{}", rtmp.publish_count());
    let st: Value = app.get(&stream).await.json().await.unwrap();
    let outs = st["status"]["outputs"].as_array().unwrap();
    assert_eq!(outs.len(), 2, "{st}");
    for o in outs {
        assert_eq!(o["uplink"]["state"], "publishing", "{o}");
        assert!(o["uplink"]["send_kbps"].as_u64().unwrap() > 0, "{o}");
    }
    assert!(
        ffmpegs
            .iter()
            .all(|c| STREAM_KEYS.iter().all(|k| !c.contains(k))),
        "no FFmpeg has a stream key: {ffmpegs:#?}"
    );
    assert!(
        ffmpegs.iter().any(|c| c.contains("mjpeg")),
        "the scanner saw a snapshot decoder: {ffmpegs:#?}"
    );
    assert!(
        ffmpegs.iter().all(|c| !c.contains("rtsp://")),
        "no FFmpeg opens the camera: {ffmpegs:#?}"
    );

    // Everything on one session, one connection.
    assert_eq!(
        camera_connections(cam.port()),
        1,
        "one connection to the camera"
    );
    let s = session(&app, id).await;
    assert_eq!(s["state"], "playing");
    assert_eq!(
        s["consumers"]["preview"], 1,
        "two viewers share one remux: {s}"
    );
    assert_eq!(s["consumers"]["copy"], 2, "{s}");
    assert_eq!(
        s["consumers"]["program"], 1,
        "the program decodes the session: {s}"
    );
    assert!((s["fps"].as_f64().unwrap() - 15.0).abs() < 3.0, "{s}");
    assert!(s["bitrate_bps"].as_u64().unwrap() > 50_000, "{s}");
    assert!(
        (s["gop_seconds"].as_f64().unwrap() - 1.0).abs() < 0.3,
        "{s}"
    );
    assert_eq!(h["state"], "online", "health from the session: {h}");
    assert_eq!(h["codec"], "h264");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for needle in [
        format!("vistterstream_camera_session_up{{camera_id=\"{id}\"}} 1"),
        format!("vistterstream_camera_session_consumers{{camera_id=\"{id}\",kind=\"copy\"}} 2"),
        format!("vistterstream_camera_session_consumers{{camera_id=\"{id}\",kind=\"preview\"}} 1"),
        format!("vistterstream_camera_session_consumers{{camera_id=\"{id}\",kind=\"program\"}} 1"),
        format!("vistterstream_camera_session_reconnects_total{{camera_id=\"{id}\"}} 0"),
        format!("vistterstream_camera_session_packets_lost_total{{camera_id=\"{id}\"}}"),
        format!("vistterstream_camera_session_bitrate_bps{{camera_id=\"{id}\"}}"),
        format!("vistterstream_camera_session_fps{{camera_id=\"{id}\"}}"),
    ] {
        assert!(metrics.contains(&needle), "{needle} missing in:\n{metrics}");
    }
    let text = format!("{s}{h}{metrics}");
    assert!(!text.contains(PASSWORD));

    // The camera goes away and comes back: the viewers are told, the destinations are fed again,
    // nobody had to do anything.
    let publishes = rtmp.publish_count();
    cam.stop().await.unwrap();
    wait_text(&mut va, Duration::from_secs(15), |t| {
        t["status"] == "offline"
    })
    .await;
    wait_text(&mut vb, Duration::from_secs(15), |t| {
        t["status"] == "offline"
    })
    .await;
    wait_json(&app, &stream, Duration::from_secs(30), |s| {
        s["status"]["state"] != "running"
    })
    .await;
    wait_program(&app, pid, Duration::from_secs(15), |l| {
        l["slate_active"] == true
    })
    .await;
    cam.restart().await.unwrap();
    let back = Instant::now();
    wait_text(&mut va, Duration::from_secs(40), |t| {
        t["status"] == "online"
    })
    .await;
    let texts = read_fragments(&mut va, 10, Duration::from_secs(10)).await;
    assert!(texts.iter().any(|t| t["type"] == "init"), "{texts:?}");
    wait_text(&mut vb, Duration::from_secs(10), |t| {
        t["status"] == "online"
    })
    .await;
    read_fragments(&mut vb, 10, Duration::from_secs(10)).await;
    let s = wait_json(&app, &stream, Duration::from_secs(60), |s| {
        s["status"]["state"] == "running" && output_states(s).iter().all(|o| o == "running")
    })
    .await;
    rtmp.wait_for_publishes(publishes + 2, Duration::from_secs(30))
        .await
        .unwrap();
    println!(
        "figure: camera back → viewers online and stream running after {:?}",
        back.elapsed()
    );
    // The program cuts back to the camera by itself, on the same RTMP session.
    wait_program(&app, pid, Duration::from_secs(30), on_air).await;
    let frames = |v: Value| v["live"]["ingests"][0]["frames"].as_u64().unwrap_or(0);
    let f0 = frames(
        app.get(&format!("/api/programs/{pid}"))
            .await
            .json()
            .await
            .unwrap(),
    );
    wait_program(&app, pid, Duration::from_secs(10), |l| {
        l["ingests"][0]["frames"].as_u64().unwrap_or(0) > f0 + 15
    })
    .await;
    let sess = session(&app, id).await;
    assert!(sess["reconnects"].as_u64().unwrap() >= 1, "{sess}");
    assert_eq!(sess["consumers"]["program"], 1, "{sess}");
    assert_eq!(camera_connections(cam.port()), 1, "still one connection");
    assert!(!s.to_string().contains(PASSWORD));
    tokio::time::sleep(Duration::from_secs(3)).await;

    // What the destinations got after the return: H.264 at the camera's size, AAC.
    app.post(&format!("/api/programs/{pid}/stop"), json!({}))
        .await;
    app.post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    rtmp.wait_for_publish_done(publishes + 2, Duration::from_secs(15))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for key in ["hubsrv-a", "hubsrv-b"] {
        let recs = rtmp.recordings_for(key);
        let last = recs.last().expect("recordings");
        let info = vs_testrig::probe_streams(last).await.unwrap();
        assert_eq!(info.video_codec(), Some("h264"), "{key}");
        assert_eq!(info.audio_codec(), Some("aac"), "{key}");
        assert_eq!((info.width(), info.height()), (Some(640), Some(360)));
        let v = vs_testrig::packet_times(last, StreamKind::Video)
            .await
            .unwrap();
        v.check_non_decreasing().unwrap();
        assert!(v.span() > 2.0, "{key}: span {}", v.span());
    }
    // The program went through the loss on the slate, on its one RTMP session.
    let prog = rtmp.recordings_for("hubsrv-prog");
    assert_eq!(prog.len(), 1, "one program session: {prog:?}");
    drop((va, vb));
    app.stop().await;
    vs_testrig::wait_no_processes_with_marker("hubsrv-", Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_camera_has_no_session_and_enabling_it_connects() {
    let cam = FakeCamera::start(CameraOptions::new("Toggle").size(320, 240).fps(15))
        .await
        .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let body = |enabled: bool| {
        json!({"name": "Toggle", "type": "STATIC", "protocol": "RTSP", "address": cam.url(),
               "enabled": enabled})
    };
    let r = app.post("/api/cameras", body(false)).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = session(&app, id).await;
    assert_eq!(s["state"], "stopped", "{s}");
    assert_eq!(camera_connections(cam.port()), 0);

    let r = app.put(&format!("/api/cameras/{id}"), body(true)).await;
    assert_eq!(r.status(), 200);
    let session_path = format!("/api/cameras/{id}/session");
    wait_json(&app, &session_path, Duration::from_secs(20), |s| {
        s["state"] == "playing"
    })
    .await;
    assert_eq!(camera_connections(cam.port()), 1);
    // The camera page follows the session from the event stream.
    let events = app.client.get(app.url("/api/events")).send().await.unwrap();
    let mut sse = events.bytes_stream();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let wanted = format!("\"camera_id\":{id},\"state\":\"playing\"");
    while !(seen.contains("event: camera_session") && seen.contains(&wanted)) {
        let chunk = tokio::time::timeout_at(deadline.into(), sse.next())
            .await
            .expect("a camera_session event in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(sse);

    // Disabled again: the session and its connection go away.
    let r = app.put(&format!("/api/cameras/{id}"), body(false)).await;
    assert_eq!(r.status(), 200);
    wait_json(&app, &session_path, Duration::from_secs(10), |s| {
        s["state"] == "stopped"
    })
    .await;
    let start = Instant::now();
    while camera_connections(cam.port()) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "connection left open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Deleted: nothing to show.
    assert_eq!(
        app.delete(&format!("/api/cameras/{id}")).await.status(),
        204
    );
    assert_eq!(
        app.get(&format!("/api/cameras/{id}/session"))
            .await
            .status(),
        404
    );
    app.stop().await;
}
