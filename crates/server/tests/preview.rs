//! Live previews over WebSocket against real RTSP cameras (the GStreamer test rig): one remux
//! per camera whatever the number of viewers (one subscription to the camera's hub session), a stalled viewer hurts nobody else, the remux
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
    let token = app.api_token("preview tests").await;
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
    connect_path(app, &format!("/api/cameras/{id}/live"), token).await
}

/// Preview remuxes reading this camera: the preview consumers of the camera's hub session
/// (a camera's preview is muxed in-process from one subscription, shared by every viewer).
/// No FFmpeg may open the camera for a preview: the session holds its one connection.
async fn remuxes(app: &TestApp, id: i64, cam: &FakeCamera) -> usize {
    let ffmpegs = processes_with_marker(&format!(":{}/", cam.port()))
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffmpeg")
        .count();
    assert_eq!(ffmpegs, 0, "an FFmpeg opened the camera");
    let s: Value = app
        .get(&format!("/api/cameras/{id}/session"))
        .await
        .json()
        .await
        .unwrap();
    s["consumers"]["preview"].as_u64().unwrap() as usize
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
    assert_eq!(
        remuxes(&app, id, &cam).await,
        1,
        "one remux for ten viewers"
    );

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
    assert_eq!(remuxes(&app, id, &cam).await, 1, "still one remux");
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
    assert_eq!(remuxes(&app, id, &cam).await, 1);
    ws.close(None).await.unwrap();
    drop(ws);
    let left = Instant::now();
    loop {
        let s = stats(&app, id).await;
        if s["running"] == false && remuxes(&app, id, &cam).await == 0 {
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
    assert_eq!(
        remuxes(&app, id, &cam).await,
        0,
        "nothing started for a refused viewer"
    );
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
    // The first run announces itself `online` before its init. On a loaded machine the first
    // session may fail before it (`offline`, then `online` on the retry): the outage this test
    // is about comes after the first init.
    let start = Instant::now();
    let mut t = next_text(&mut ws, Duration::from_secs(20)).await;
    while t["type"] == "status" && start.elapsed() < Duration::from_secs(30) {
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

/// This test binary's processes (its descendants: the appliance runs in-process) whose
/// command line holds `marker`; another test run on the same machine is not ours to count.
fn ours_with_marker(marker: &str) -> Vec<vs_testrig::ProcInfo> {
    vs_testrig::descendants_of(std::process::id())
        .into_iter()
        .filter(|p| p.cmdline.join(" ").contains(marker))
        .collect()
}

/// FFmpeg remuxes of a program's output (its MPEG-TS on stdin) in this test process.
/// FFmpeg remuxes of a program's preview: none, it is muxed in process.
fn ffmpeg_remuxes() -> usize {
    ours_with_marker("frag_keyframe")
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffmpeg")
        .count()
}

/// The RMS level (full scale = 1) of a file's sound, skipping its first half second.
async fn audio_rms(file: &std::path::Path) -> f64 {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-ss", "0.5", "-vn", "-ac", "1", "-f", "f32le", "pipe:1"])
        .output()
        .await
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<f32> = out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert!(samples.len() > 24_000, "at least half a second of sound");
    (samples.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

async fn connect_path(app: &TestApp, path: &str, token: Option<&str>) -> Result<Ws, String> {
    let url = app.url(path).replace("http", "ws");
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

/// Reads until `n` binary messages (init segment first) arrived; returns them and the texts.
async fn read_media(ws: &mut Ws, n: usize, within: Duration) -> (Vec<Value>, Vec<Vec<u8>>) {
    let deadline = Instant::now() + within;
    let mut texts = Vec::new();
    let mut binaries = Vec::new();
    while binaries.len() < n {
        match tokio::time::timeout_at(deadline.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => texts.push(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Binary(b)))) => binaries.push(b.to_vec()),
            Ok(Some(Ok(_))) => {}
            other => panic!(
                "media expected: {other:?} after {} binaries",
                binaries.len()
            ),
        }
    }
    (texts, binaries)
}

#[tokio::test]
async fn the_program_output_previews_as_fragmented_mp4_and_ends_with_the_program() {
    let red = FakeCamera::start(
        CameraOptions::new("Red")
            .size(320, 180)
            .fps(25)
            .pattern("red")
            .overlay(false)
            .audio(true)
            .audio_freq(1000),
    )
    .await
    .expect("fake camera");
    let (app, token, cam) = setup(&red).await;
    let rtmp = vs_testrig::RtmpServer::start().await.unwrap();
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "YT", "platform": "custom", "url": rtmp.base_url(), "stream_key": "preview-key"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let dest = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(
            "/api/programs",
            json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let live = format!("/api/programs/{p}/live");

    // Not running: refused with the reason, nothing started.
    let err = connect_path(&app, &live, Some(&token))
        .await
        .expect_err("refused");
    assert!(err.starts_with("409"), "{err}");
    let err = connect_path(&app, "/api/programs/999/live", Some(&token))
        .await
        .expect_err("refused");
    assert!(err.starts_with("404"), "{err}");

    let r = app
        .post(&format!("/api/programs/{p}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &format!("/api/programs/{p}/take"),
            json!({"camera_id": cam}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // Auth as for every route.
    let err = connect_path(&app, &live, None).await.expect_err("refused");
    assert!(err.starts_with("401"), "{err}");

    let mut a = connect_path(&app, &live, Some(&token)).await.unwrap();
    let mut b = connect_path(&app, &live, Some(&token)).await.unwrap();
    // About 2 s: a fragment is one video frame (25 a second) or one AAC frame (47 a second).
    let (texts, media) = read_media(&mut a, 150, Duration::from_secs(30)).await;
    let init = texts.iter().find(|t| t["type"] == "init").expect("init");
    let mime = init["mime"].as_str().unwrap();
    assert!(
        mime.starts_with("video/mp4; codecs=\"avc1.") && mime.ends_with(",mp4a.40.2\""),
        "picture and sound: {init}"
    );
    assert_eq!(box_types(&media[0]), ["ftyp", "moov"]);
    for m in &media[1..] {
        assert_eq!(box_types(m), ["moof", "mdat"]);
    }
    read_media(&mut b, 3, Duration::from_secs(30)).await;
    let s: Value = app
        .get(&format!("/api/programs/{p}/live/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["program_id"], p, "{s}");
    assert_eq!(s["viewers"], 2, "{s}");
    assert_eq!(s["online"], true, "{s}");
    assert_eq!(ffmpeg_remuxes(), 0, "muxed in process, no FFmpeg");

    // What the viewer got is the program: its size, and the red camera on air.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("program.mp4");
    std::fs::write(&file, media.concat()).unwrap();
    let info = vs_testrig::probe_streams(&file).await.unwrap();
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!((info.width(), info.height()), (Some(320), Some(180)));
    // (Its first GOP may begin before the take, on the slate: the picture is judged 1.5 s in.)
    let (r, g, bl) = mean_rgb(&file, 1.5).await;
    assert!(
        r > 180.0 && g < 80.0 && bl < 80.0,
        "red on air: {r} {g} {bl}"
    );
    // And it sounds like it: the camera's tone, not the silence of a program without sound.
    assert_eq!(info.audio_codec(), Some("aac"), "{:?}", info.codec_names());
    let level = audio_rms(&file).await;
    assert!(
        level > 0.05,
        "the camera's tone in the preview: RMS {level}"
    );

    // The encoder dies (its timestamps start over): the preview follows it into a new run
    // with a new init segment instead of mixing the two runs.
    let encoders: Vec<_> = ours_with_marker("-i pipe:4")
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffmpeg")
        .collect();
    assert_eq!(encoders.len(), 1, "one program encoder");
    std::process::Command::new("kill")
        .args(["-9", &encoders[0].pid.to_string()])
        .status()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline.into(), a.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                seen.push(
                    v["status"]
                        .as_str()
                        .unwrap_or(v["type"].as_str().unwrap())
                        .to_string(),
                );
            }
            Ok(Some(Ok(Message::Binary(m)))) if seen.last().is_some_and(|l| l == "init") => {
                assert_eq!(box_types(&m), ["ftyp", "moov"]);
                break;
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no new run after the encoder died ({seen:?}): {other:?}"),
        }
    }
    assert_eq!(seen, ["offline", "online", "init"]);
    read_media(&mut a, 3, Duration::from_secs(10)).await;

    // Stopping the program ends the preview: the viewers are told, the socket closes.
    let r = app
        .post(&format!("/api/programs/{p}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    for ws in [&mut a, &mut b] {
        let mut ended = None;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "ended" {
                        ended = Some(v);
                    }
                }
                Ok(Some(Ok(Message::Binary(_)))) => {
                    assert!(ended.is_none(), "no media after the end")
                }
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break,
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the socket stayed open after the program stopped"),
            }
        }
        let ended = ended.expect("an ended message");
        assert_eq!(ended["reason"], "the program stopped", "{ended}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s: Value = app
            .get(&format!("/api/programs/{p}/live/stats"))
            .await
            .json()
            .await
            .unwrap();
        if s["running"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "remux left running: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}
