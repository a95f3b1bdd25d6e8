//! Live previews over WebSocket against real RTSP cameras (the GStreamer test rig): one remux
//! per camera whatever the number of viewers, a stalled viewer hurts nobody else, the remux
//! stops after the last viewer, auth is required, and the stream is fragmented MP4.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vs_testrig::{processes_with_marker, CameraOptions, FakeCamera};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// An app with an admin, a token for WebSocket clients and one camera on `cam`.
async fn setup(cam: &FakeCamera) -> (TestApp, String, i64) {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app
        .post("/api/auth/tokens", json!({"name": "preview tests"}))
        .await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Dock", "type": "STATIC", "protocol": "RTSP", "address": cam.url()}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    (app, token, id)
}

async fn connect(app: &TestApp, id: i64, token: Option<&str>) -> Result<Ws, String> {
    let url = app
        .url(&format!("/api/cameras/{id}/live"))
        .replace("http", "ws");
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// FFmpeg processes reading this camera (the health monitor's ffprobe runs are not counted).
fn remuxes(cam: &FakeCamera) -> usize {
    processes_with_marker(&format!(":{}/", cam.port()))
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffmpeg")
        .count()
}

fn box_types(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&b[4..8]).into_owned());
        if size < 8 || size > b.len() {
            break;
        }
        b = &b[size..];
    }
    out
}

async fn camera() -> FakeCamera {
    FakeCamera::start(
        CameraOptions::new("Preview")
            .size(640, 360)
            .fps(15)
            .overlay(false),
    )
    .await
    .expect("fake camera")
}

async fn stats(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/cameras/{id}/live/stats"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn ten_viewers_one_remux_and_a_stalled_viewer_hurts_nobody() {
    let cam = camera().await;
    let (app, token, id) = setup(&cam).await;

    // The first viewer sees the protocol: init text, init segment, then fragments.
    let mut first = connect(&app, id, Some(&token)).await.unwrap();
    let mut texts = Vec::new();
    let mut binaries: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while binaries.len() < 4 {
        let m = tokio::time::timeout_at(deadline.into(), first.next())
            .await
            .expect("fragments within 20 s")
            .unwrap()
            .unwrap();
        match m {
            Message::Text(t) => {
                assert!(binaries.is_empty(), "status before data only: {t}");
                texts.push(serde_json::from_str::<Value>(&t).unwrap());
            }
            Message::Binary(b) => binaries.push(b.to_vec()),
            _ => {}
        }
    }
    let init = texts
        .iter()
        .find(|t| t["type"] == "init")
        .expect("init text");
    let mime = init["mime"].as_str().unwrap();
    assert!(
        mime.starts_with("video/mp4; codecs=\"avc1.") && mime.len() == 31,
        "{mime}"
    );
    assert_eq!(box_types(&binaries[0]), ["ftyp", "moov"]);
    for b in &binaries[1..] {
        assert_eq!(box_types(b), ["moof", "mdat"]);
    }

    // Nine more viewers, one of which never reads.
    let mut readers = Vec::new();
    for _ in 0..8 {
        readers.push(connect(&app, id, Some(&token)).await.unwrap());
    }
    readers.push(first);
    let stalled = connect(&app, id, Some(&token)).await.unwrap();
    let s = stats(&app, id).await;
    assert_eq!(s["viewers"], 10, "{s}");
    assert_eq!(s["running"], true, "{s}");
    assert_eq!(remuxes(&cam), 1, "one FFmpeg for ten viewers");

    let tasks: Vec<_> = readers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let start = Instant::now();
                let mut late = 0usize;
                while start.elapsed() < Duration::from_secs(6) {
                    match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
                        Ok(Some(Ok(Message::Binary(_)))) => {
                            if start.elapsed() > Duration::from_secs(3) {
                                late += 1;
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        other => panic!("viewer stopped receiving: {other:?}"),
                    }
                }
                late
            })
        })
        .collect();
    for t in tasks {
        let late = t.await.unwrap();
        // 200 ms fragments: about 15 in the last 3 s; the stalled viewer must not hold them up.
        assert!(late >= 5, "only {late} fragments in the last 3 s");
    }
    assert_eq!(remuxes(&cam), 1, "still one FFmpeg");
    drop(stalled);
    app.stop().await;
}

#[tokio::test]
async fn remux_stops_after_the_last_viewer_leaves() {
    let cam = camera().await;
    let (app, token, id) = setup(&cam).await;
    let mut ws = connect(&app, id, Some(&token)).await.unwrap();
    // Wait for data so the remux is really running.
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Binary(_)))) => break,
            Ok(Some(Ok(_))) => {}
            other => panic!("no data: {other:?}"),
        }
    }
    assert_eq!(remuxes(&cam), 1);
    ws.close(None).await.unwrap();
    drop(ws);
    let left = Instant::now();
    loop {
        let s = stats(&app, id).await;
        if s["running"] == false && remuxes(&cam) == 0 {
            break;
        }
        assert!(
            left.elapsed() < Duration::from_secs(15),
            "remux still running 15 s after the last viewer: {s}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // It lingers a while first, so a reload does not restart it.
    assert!(
        left.elapsed() >= Duration::from_secs(8),
        "{:?}",
        left.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn unauthenticated_upgrade_is_refused() {
    let cam = camera().await;
    let (app, _token, id) = setup(&cam).await;
    let err = connect(&app, id, None).await.expect_err("refused");
    assert!(err.starts_with("401"), "{err}");
    let err = connect(&app, id, Some("vst_not_a_token"))
        .await
        .expect_err("refused");
    assert!(err.starts_with("401"), "{err}");
    assert_eq!(remuxes(&cam), 0, "nothing started for a refused viewer");
    app.stop().await;
}

#[tokio::test]
async fn viewers_see_an_outage_and_the_return() {
    let mut cam = camera().await;
    let (app, token, id) = setup(&cam).await;
    let mut ws = connect(&app, id, Some(&token)).await.unwrap();
    let next_text = async |ws: &mut Ws, within: Duration| -> Value {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline.into(), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
                Ok(Some(Ok(_))) => {}
                other => panic!("no status message: {other:?}"),
            }
        }
    };
    // The first run may announce itself `online` before its init.
    let mut t = next_text(&mut ws, Duration::from_secs(20)).await;
    if t["type"] == "status" {
        assert_eq!(t["status"], "online", "{t}");
        t = next_text(&mut ws, Duration::from_secs(20)).await;
    }
    assert_eq!(t["type"], "init", "{t}");
    cam.stop().await.unwrap();
    let t = next_text(&mut ws, Duration::from_secs(20)).await;
    assert_eq!(t["status"], "offline", "{t}");
    cam.restart().await.unwrap();
    let t = next_text(&mut ws, Duration::from_secs(40)).await;
    assert_eq!(t["status"], "online", "{t}");
    let t = next_text(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(t["type"], "init", "{t}");
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(Message::Binary(b)))) => assert_eq!(box_types(&b), ["ftyp", "moov"]),
        other => panic!("init segment expected: {other:?}"),
    }
    app.stop().await;
}
