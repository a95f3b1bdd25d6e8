//! Camera health, connection tests, snapshots, status and metrics against real RTSP cameras
//! (the GStreamer test rig on 127.0.0.1).

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_testrig::{CameraOptions, FakeCamera};

async fn add_camera(app: &TestApp, name: &str, address: &str) -> i64 {
    let r = app
        .post(
            "/api/cameras",
            json!({"name": name, "type": "STATIC", "protocol": "RTSP", "address": address}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Polls the camera's health until `pred` holds, or fails after `within`.
async fn wait_health(
    app: &TestApp,
    id: i64,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let start = Instant::now();
    loop {
        let h: Value = app
            .get(&format!("/api/cameras/{id}/health"))
            .await
            .json()
            .await
            .unwrap();
        if pred(&h) {
            return (h, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "health never matched within {within:?}; last: {h}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Width and height from a JPEG's start-of-frame marker.
fn jpeg_size(b: &[u8]) -> Option<(u16, u16)> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return None;
    }
    let mut i = 2;
    while i + 9 < b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        if (0xC0..=0xC3).contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

#[tokio::test]
async fn camera_goes_online_offline_and_back_by_itself() {
    let mut cam = FakeCamera::start(
        CameraOptions::new("Dock")
            .size(320, 240)
            .fps(15)
            .audio(true),
    )
    .await
    .unwrap();
    let app = TestApp::spawn().await; // health interval: 1 s
    app.setup_admin().await;
    let id = add_camera(&app, "Dock", &cam.url()).await;

    let (h, _) = wait_health(&app, id, Duration::from_secs(20), |h| {
        h["state"] == "online"
    })
    .await;
    assert_eq!(h["codec"], "h264");
    assert_eq!(
        (h["width"].as_i64(), h["height"].as_i64()),
        (Some(320), Some(240))
    );
    assert_eq!(h["has_audio"], true);
    assert!(h["last_seen"].is_string());

    // Live push: the event stream reports the change without polling.
    let events = app.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let mut body = events.bytes_stream();

    cam.stop().await.unwrap();
    let (h, took) = wait_health(&app, id, Duration::from_secs(10), |h| {
        h["state"] == "offline"
    })
    .await;
    assert_eq!(h["error_kind"], "unreachable", "{h}");
    // Interval (1 s) plus the probe's own bound.
    assert!(took < Duration::from_secs(8), "offline after {took:?}");

    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains("\"state\":\"offline\"") {
        let chunk = tokio::time::timeout_at(deadline.into(), body.next())
            .await
            .expect("a camera_health event in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: camera_health"), "{seen}");

    cam.restart().await.unwrap();
    wait_health(&app, id, Duration::from_secs(20), |h| {
        h["state"] == "online"
    })
    .await;

    let status: Value = app.get("/api/status").await.json().await.unwrap();
    assert_eq!(status["cameras"]["total"], 1);
    assert_eq!(status["cameras"]["online"], 1);
    assert!(status["memory"]["process_rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(status["disk"]["total_bytes"].as_u64().unwrap() > 0);
    assert!(status["ffmpeg_version"].is_string(), "{status}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!("vistterstream_camera_up{{camera_id=\"{id}\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains("vistterstream_camera_checks_total"));
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_is_reported_as_auth_failure() {
    let cam = FakeCamera::start(
        CameraOptions::new("Gate")
            .size(320, 240)
            .credentials("admin", "right-pw"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let good = cam.url_with("admin", "right-pw");
    let bad = cam.url_with("admin", "wrong-pw");

    let r: Value = app
        .post(
            "/api/cameras/test",
            json!({"name":"x","type":"STATIC","protocol":"RTSP","address": bad}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["reachable"], false);
    assert_eq!(r["error_kind"], "auth_failed", "{r}");
    assert!(r["message"].as_str().unwrap().contains("password"));
    assert!(!r.to_string().contains("wrong-pw"));

    let r: Value = app
        .post(
            "/api/cameras/test",
            json!({"name":"x","type":"STATIC","protocol":"RTSP","address": good}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["reachable"], true, "{r}");
    assert_eq!(r["width"], 320);

    let id = add_camera(&app, "Gate", &bad).await;
    let (h, _) = wait_health(&app, id, Duration::from_secs(15), |h| {
        h["state"] == "offline"
    })
    .await;
    assert_eq!(h["error_kind"], "auth_failed");
    let r: Value = app
        .post(&format!("/api/cameras/{id}/test"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["error_kind"], "auth_failed");
    app.stop().await;
}

/// The connection test runs ffprobe on an address the user typed, credentials included:
/// they reach ffprobe on its stdin, never on its command line or in its environment (both
/// readable under /proc). The "camera" accepts and never answers, so the ffprobe lives long
/// enough to be seen.
#[tokio::test]
async fn a_connection_test_puts_no_password_on_a_command_line() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let password = "probePw-7Qx2";
    let request = {
        let client = app.client.clone();
        let url = app.url("/api/cameras/test");
        let body = json!({"name":"x","type":"STATIC","protocol":"RTSP",
            "address": format!("rtsp://admin:{password}@127.0.0.1:{port}/stream")});
        tokio::spawn(async move { client.post(url).json(&body).send().await })
    };
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline && !request.is_finished() {
        for p in vs_testrig::descendants_of(std::process::id()) {
            if !p.comm.starts_with("ffprobe") {
                continue;
            }
            for file in ["cmdline", "environ"] {
                let raw = std::fs::read(format!("/proc/{}/{file}", p.pid)).unwrap_or_default();
                assert!(
                    !raw.windows(password.len())
                        .any(|w| w == password.as_bytes()),
                    "the password is in ffprobe's {file}: {}",
                    p.command()
                );
            }
            seen.push(p.pid);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !seen.is_empty(),
        "no ffprobe was seen: the scan proved nothing"
    );
    let r: Value = request.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(r["reachable"], false, "{r}");
    assert!(!r.to_string().contains(password));
    held.abort();
    app.stop().await;
}

#[tokio::test]
async fn connection_test_explains_unreachable_and_wrong_path() {
    let cam = FakeCamera::start(CameraOptions::new("Path").size(320, 240))
        .await
        .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let closed = vs_testrig::free_port();
    for (address, kind) in [
        (format!("rtsp://127.0.0.1:{closed}/cam"), "unreachable"),
        (format!("rtsp://127.0.0.1:{}/nope", cam.port()), "not_found"),
    ] {
        let r: Value = app
            .post(
                "/api/cameras/test",
                json!({"name":"x","type":"STATIC","protocol":"RTSP","address": address}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["reachable"], false);
        assert_eq!(r["error_kind"], kind, "{address}: {r}");
    }
    let r = app
        .post(
            "/api/cameras/test",
            json!({"name":"x","type":"STATIC","protocol":"RTSP","address": "ftp://x"}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("address"),
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn snapshot_is_a_jpeg_of_the_camera_size_and_cached() {
    let cam = FakeCamera::start(CameraOptions::new("Snap").size(640, 360))
        .await
        .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let id = add_camera(&app, "Snap", &cam.url()).await;

    let r = app.get(&format!("/api/cameras/{id}/snapshot")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let jpeg = r.bytes().await.unwrap();
    assert_eq!(jpeg_size(&jpeg), Some((640, 360)));

    let thumb = app
        .get(&format!("/api/cameras/{id}/snapshot?width=320"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(jpeg_size(&thumb), Some((320, 180)));

    // Ten viewers at once share one grab.
    let before = grabs(&app).await;
    let path = format!("/api/cameras/{id}/snapshot");
    let futs = (0..10).map(|_| app.get(&path));
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.status(), 200);
    }
    assert!(grabs(&app).await - before <= 1.0, "cached");

    let r = app
        .get(&format!("/api/cameras/{id}/snapshot?width=5"))
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("width"),
    )
    .await;
    assert_error(
        app.get("/api/cameras/999/snapshot").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

async fn grabs(app: &TestApp) -> f64 {
    let m = app.get("/metrics").await.text().await.unwrap();
    m.lines()
        .find(|l| l.starts_with("vistterstream_snapshot_grabs_total"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn snapshot_of_a_dead_camera_is_a_clear_gateway_error() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let port = vs_testrig::free_port();
    let id = add_camera(
        &app,
        "Dead",
        &format!("rtsp://u:secretpw@127.0.0.1:{port}/cam"),
    )
    .await;
    let r = app.get(&format!("/api/cameras/{id}/snapshot")).await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    assert!(!body.to_string().contains("secretpw"));
    app.stop().await;
}

#[tokio::test]
async fn a_ptz_camera_whose_onvif_login_fails_is_degraded() {
    let video = FakeCamera::start(CameraOptions::new("Sunba").size(320, 240).fps(15))
        .await
        .unwrap();
    let sim = vs_onvif::sim::SimCamera::start(vs_onvif::sim::SimOptions::default())
        .await
        .unwrap();
    let app = TestApp::spawn().await; // health interval: 1 s
    app.setup_admin().await;
    let camera = |password: &str| {
        json!({"name": "Sunba", "type": "PTZ", "protocol": "RTSP", "address": video.url(),
               "username": "admin", "password": password,
               "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()})
    };
    let r = app.post("/api/cameras", camera("wrong")).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    // The video plays, but the PTZ control cannot log in: not "online".
    let (h, _) = wait_health(&app, id, Duration::from_secs(20), |h| {
        h["state"] != "unknown"
    })
    .await;
    assert_eq!(h["state"], "degraded", "{h}");
    assert_eq!(
        h["last_error"],
        "video ok, PTZ login refused (check the ONVIF user/password)"
    );
    assert_eq!(h["error_kind"], "auth_failed");
    assert_eq!(h["codec"], "h264", "the video's findings are kept: {h}");
    assert!(!h.to_string().contains("wrong"), "no password: {h}");
    let all: Value = app.get("/api/cameras/health").await.json().await.unwrap();
    assert_eq!(all[0]["state"], "degraded", "{all}");

    // The password fixed: online, with nothing to report.
    let r = app
        .put(&format!("/api/cameras/{id}"), camera("admin123"))
        .await;
    assert_eq!(r.status(), 200);
    let (h, _) = wait_health(&app, id, Duration::from_secs(20), |h| {
        h["state"] == "online"
    })
    .await;
    assert!(h["last_error"].is_null(), "{h}");
    assert!(h["error_kind"].is_null(), "{h}");
    sim.shutdown().await;
    app.stop().await;
}
