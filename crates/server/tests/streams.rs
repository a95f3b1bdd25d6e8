//! Destinations and camera-to-destination streams with real FFmpeg, real RTSP cameras and a
//! real RTMP ingest (nginx-rtmp as fake YouTube), all on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer, StreamKind};

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

async fn destination(app: &TestApp, name: &str, url: &str, key: &str) -> i64 {
    let r = app
        .post(
            "/api/destinations",
            json!({"name": name, "platform": "custom", "url": url, "stream_key": key}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
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

fn output_state(s: &Value, dest: i64) -> String {
    s["status"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination_id"] == dest)
        .map(|o| o["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn destinations_validate_and_never_return_keys() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "YouTube", "platform": "youtube", "stream_key": "abcd-efgh-ijkl-mnop"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(!body.contains("abcd-efgh"), "{body}");
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["url"], "rtmps://a.rtmps.youtube.com:443/live2");
    assert_eq!(d["has_stream_key"], true);
    let list = app.get("/api/destinations").await.text().await.unwrap();
    assert!(!list.contains("abcd-efgh"));

    for (body, field) in [
        (json!({"name": "T", "platform": "twitch"}), "stream_key"),
        (json!({"name": "C", "platform": "custom"}), "url"),
        (
            json!({"name": "C", "platform": "custom", "url": "http://x/y"}),
            "url",
        ),
        (
            json!({"name": "C", "platform": "custom", "url": "rtsp://x/live/key"}),
            "url",
        ),
        (
            json!({"name": "C", "platform": "myspace", "stream_key": "k"}),
            "platform",
        ),
        (
            json!({"name": "", "platform": "youtube", "stream_key": "k"}),
            "name",
        ),
        (
            json!({"name": "Y", "platform": "youtube", "stream_key": "has space"}),
            "stream_key",
        ),
    ] {
        let r = app.post("/api/destinations", body).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "youtube", "platform": "youtube", "stream_key": "k"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;
    // Credentials inside a URL were refused; they are now split off and sealed (issue 13):
    // the URL stored and returned has none.
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "C", "platform": "custom", "url": "rtmp://u:pw-77@x/live"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["url"], "rtmp://x/live");
    assert_eq!(c["has_url_credentials"], true);
    assert_eq!(c["has_stream_key"], false);
    assert!(!c.to_string().contains("pw-77"), "{c}");
    assert_eq!(
        app.delete(&format!("/api/destinations/{}", c["id"]))
            .await
            .status(),
        204
    );

    // Update without a key keeps it; a destination used by a stream cannot be deleted.
    let id = d["id"].as_i64().unwrap();
    let r = app
        .put(
            &format!("/api/destinations/{id}"),
            json!({"name": "YouTube 2", "platform": "youtube"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["has_stream_key"], true);
    let cam = camera(&app, "Cam", "rtsp://127.0.0.1:9/x").await;
    let sid = stream(&app, "S", cam, &[id]).await;
    assert_error(
        app.delete(&format!("/api/destinations/{id}")).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    )
    .await;
    assert_error(
        app.delete(&format!("/api/cameras/{cam}")).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    )
    .await;
    // Stream validation.
    for (body, field) in [
        (
            json!({"name": "S2", "camera_id": 999, "destination_ids": [id]}),
            "camera_id",
        ),
        (
            json!({"name": "S2", "camera_id": cam, "destination_ids": []}),
            "destination_ids",
        ),
        (
            json!({"name": "S2", "camera_id": cam, "destination_ids": [999]}),
            "destination_ids",
        ),
        (
            json!({"name": "S2", "camera_id": cam, "preset_id": 999, "destination_ids": [id]}),
            "preset_id",
        ),
    ] {
        assert_error(
            app.post("/api/streams", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let streams: Value = app.get("/api/streams").await.json().await.unwrap();
    assert_eq!(streams.as_array().unwrap().len(), 1, "nothing half-written");
    assert_eq!(
        app.delete(&format!("/api/streams/{sid}")).await.status(),
        204
    );
    assert_eq!(
        app.delete(&format!("/api/destinations/{id}"))
            .await
            .status(),
        204
    );
    app.stop().await;
}

#[tokio::test]
async fn copy_stream_arrives_with_h264_and_aac_and_survives_faults() {
    let mut cam = FakeCamera::start(
        CameraOptions::new("Dock")
            .size(640, 360)
            .fps(25)
            .audio(false),
    )
    .await
    .unwrap();
    let mut rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await; // stall timeout 4 s
    app.setup_admin().await;
    let cam_id = camera(&app, "Dock", &cam.url()).await;
    let dest = destination(&app, "Fake YouTube", &rtmp.base_url(), "streamkey1").await;
    let sid = stream(&app, "Dock live", cam_id, &[dest]).await;

    let r = app
        .post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let s = wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    assert_eq!(s["desired_state"], "running");
    assert_eq!(
        s["status"]["audio"], "silence",
        "the camera has no audio: silence is added"
    );
    assert!(
        !s.to_string().contains("streamkey1"),
        "key never in status: {s}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;

    // What arrived: H.264 at the camera's size, AAC audio, monotonic timestamps.
    let pid = s["status"]["outputs"][0]["pid"].as_u64();
    app.post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let rec = rtmp.recordings_for("streamkey1");
    assert_eq!(rec.len(), 1, "{rec:?}");
    let info = vs_testrig::probe_streams(&rec[0]).await.unwrap();
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!((info.width(), info.height()), (Some(640), Some(360)));
    assert_eq!(info.audio_codec(), Some("aac"));
    let v = vs_testrig::packet_times(&rec[0], StreamKind::Video)
        .await
        .unwrap();
    // FLV stores milliseconds: two packets may share one; never going back is what matters.
    v.check_non_decreasing().unwrap();
    v.assert_max_gap(0.5);
    assert!(v.span() > 2.5, "span {}", v.span());
    // Constant frame rate: about 25 packets per second of timestamps.
    let rate = v.len() as f64 / v.span();
    assert!((20.0..=30.0).contains(&rate), "{rate} packets/s");
    vs_testrig::packet_times(&rec[0], StreamKind::Audio)
        .await
        .unwrap()
        .check_non_decreasing()
        .unwrap();
    // Stopped: no FFmpeg left behind.
    if let Some(pid) = pid {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "ffmpeg {pid} still there"
        );
    }

    // Camera dies mid-stream: the stream reports it, then recovers by itself.
    app.post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    cam.stop().await.unwrap();
    let s = wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] == "reconnecting"
            && s["status"]["outputs"][0]["last_error"].is_string()
    })
    .await;
    assert!(!s.to_string().contains("streamkey1"));
    cam.restart().await.unwrap();
    wait_stream(&app, sid, Duration::from_secs(40), |s| {
        s["status"]["state"] == "running"
    })
    .await;

    // The ingest server goes away: backoff, then recovery when it is back.
    rtmp.stop().await.unwrap();
    wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] != "running"
    })
    .await;
    rtmp.restart().await.unwrap();
    let s = wait_stream(&app, sid, Duration::from_secs(40), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    assert!(s["status"]["outputs"][0]["restarts"].as_u64().unwrap() >= 2);
    app.stop().await;
    // Appliance stopped: every FFmpeg of the stream is gone.
    vs_testrig::wait_no_processes_with_marker("streamkey1", Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn one_dead_destination_does_not_stop_the_other_and_frozen_ffmpeg_is_restarted() {
    let cam = FakeCamera::start(CameraOptions::new("Two").size(320, 240).fps(25).audio(true))
        .await
        .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    // An SRT receiver that is always there: a listener FFmpeg started again whenever it ends
    // (it ends with its caller). SRT outputs keep an FFmpeg child; RTMP ones are published
    // from the appliance's own process.
    let srt_port = {
        let s = std::net::UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let receiver = tokio::spawn(async move {
        loop {
            let mut l = tokio::process::Command::new("ffmpeg")
                .args([
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-f",
                    "mpegts",
                    "-i",
                ])
                .arg(format!("srt://127.0.0.1:{srt_port}?mode=listener"))
                .args(["-c", "copy", "-f", "null", "-"])
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let _ = l.wait().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam_id = camera(&app, "Two", &cam.url()).await;
    let live = destination(&app, "Live", &rtmp.base_url(), "alive").await;
    let dead_port = vs_testrig::free_port();
    let dead = destination(
        &app,
        "Dead",
        &format!("rtmp://127.0.0.1:{dead_port}/live2"),
        "dead",
    )
    .await;
    let srt = destination(
        &app,
        "Srt",
        &format!("srt://127.0.0.1:{srt_port}?latency=200000"),
        "srt-sid",
    )
    .await;
    let sid = stream(&app, "Both", cam_id, &[live, dead, srt]).await;
    app.post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    let s = wait_stream(&app, sid, Duration::from_secs(30), |s| {
        output_state(s, live) == "running"
            && output_state(s, dead) == "backoff"
            && output_state(s, srt) == "running"
    })
    .await;
    assert_eq!(s["status"]["state"], "degraded");
    assert_eq!(s["status"]["audio"], "camera", "the camera's AAC is copied");

    // Freeze the SRT output's FFmpeg: caught as a stall and restarted, within the bound.
    let out = s["status"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination_id"] == srt)
        .unwrap()
        .clone();
    let pid = out["pid"].as_u64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let frozen = Instant::now();
    let s = wait_stream(&app, sid, Duration::from_secs(20), |s| {
        let o = s["status"]["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["destination_id"] == srt)
            .unwrap()
            .clone();
        o["pid"].as_u64().is_some_and(|p| p as i32 != pid) && o["state"] == "running"
    })
    .await;
    let took = frozen.elapsed();
    assert!(
        took < Duration::from_secs(4 + 8),
        "recovered after {took:?}"
    );
    let o = s["status"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination_id"] == srt)
        .unwrap()
        .clone();
    assert!(o["last_error"].as_str().unwrap().contains("stalled"), "{o}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "frozen ffmpeg reaped"
    );

    // The live destination kept receiving throughout: one session, never disturbed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(output_state(&s, live), "running");
    assert_eq!(rtmp.publish_count(), 1, "the RTMP session went on");
    app.post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let recs = rtmp.recordings_for("alive");
    assert!(!recs.is_empty());
    let last = recs.last().unwrap();
    let info = vs_testrig::probe_streams(last).await.unwrap();
    assert_eq!(info.video_codec(), Some("h264"));
    assert!(info.has_audio());
    receiver.abort();
    app.stop().await;
}

#[tokio::test]
async fn running_streams_come_back_after_a_restart() {
    let cam = FakeCamera::start(CameraOptions::new("Resume").size(320, 240).fps(25))
        .await
        .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.data_dir = path.clone()).await;
    app.setup_admin().await;
    let cam_id = camera(&app, "Resume", &cam.url()).await;
    let dest = destination(&app, "D", &rtmp.base_url(), "resume").await;
    let sid = stream(&app, "R", cam_id, &[dest]).await;
    app.post(&format!("/api/streams/{sid}/start"), json!({}))
        .await;
    wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    app.stop().await;
    vs_testrig::wait_no_processes_with_marker("resume", Duration::from_secs(10))
        .await
        .unwrap();

    let app = TestApp::spawn_with(|c| c.data_dir = path.clone()).await;
    let r = app
        .post(
            "/api/auth/login",
            json!({"username": ADMIN, "password": ADMIN_PW}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s = wait_stream(&app, sid, Duration::from_secs(20), |s| {
        s["status"]["state"] == "running"
    })
    .await;
    assert_eq!(s["desired_state"], "running");
    app.post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    app.stop().await;
    drop(dir);
}

/// Two starts at once (a double click, two tabs) start the stream once: one FFmpeg for its
/// one destination, and after a stop none is left (before, both starts spawned and one set
/// ran on untracked). The camera accepts connections and never answers, so each start waits
/// its few seconds for the camera's verdict: the two starts overlap for sure.
#[tokio::test]
async fn two_starts_at_once_start_the_stream_once() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam_id = camera(&app, "Twice", &format!("rtsp://127.0.0.1:{port}/x")).await;
    let dest = destination(&app, "D", &rtmp.base_url(), "twice-key").await;
    let sid = stream(&app, "T", cam_id, &[dest]).await;
    let path = format!("/api/streams/{sid}/start");
    let (a, b) = tokio::join!(app.post(&path, json!({})), app.post(&path, json!({})));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    // The RTMP output is published from the appliance's own process: it connects to the
    // server at once (the camera's packets come when they come), so the server counts the
    // outputs that run. No child holds the key.
    let leaking = || {
        vs_testrig::descendants_of(std::process::id())
            .into_iter()
            .filter(|p| !p.is_zombie())
            .filter(|p| p.cmdline.join(" ").contains("twice-key"))
            .count()
    };
    rtmp.wait_for_publishes(1, Duration::from_secs(10))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        rtmp.publish_count(),
        1,
        "one output for the one destination"
    );
    assert_eq!(leaking(), 0, "no child has the stream key");
    app.post(&format!("/api/streams/{sid}/stop"), json!({}))
        .await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .expect("the output ended with the stop");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rtmp.publish_count(), 1, "an output outlived the stop");
    held.abort();
    app.stop().await;
}

/// A spawner of the test's own, injected through `App::build_with`: it records what it is
/// asked to run and runs nothing (as if FFmpeg were not installed).
#[derive(Default)]
struct RecordingSpawner {
    specs: std::sync::Mutex<Vec<vs_engine::ProcessSpec>>,
}

impl vs_engine::Spawner for RecordingSpawner {
    fn spawn(&self, spec: &vs_engine::ProcessSpec) -> std::io::Result<vs_engine::SpawnedChild> {
        self.specs.lock().unwrap().push(spec.clone());
        Err(std::io::ErrorKind::NotFound.into())
    }
}

#[tokio::test]
async fn stream_children_are_spawned_through_the_app_deps() {
    let spawner = std::sync::Arc::new(RecordingSpawner::default());
    let mut deps = vistterstream::AppDeps::real();
    deps.engine.spawner = spawner.clone();
    let app = TestApp::spawn_with_deps(|_| {}, deps).await;
    app.setup_admin().await;
    let cam = camera(&app, "Nowhere", "rtsp://127.0.0.1:1/cam").await;
    // SRT keeps an FFmpeg child (RTMP is published from the appliance's own process).
    let dest = destination(
        &app,
        "Custom",
        "srt://127.0.0.1:1?latency=200000",
        "k-7Qx-secret",
    )
    .await;
    let id = stream(&app, "Nowhere out", cam, &[dest]).await;
    let r = app
        .post(&format!("/api/streams/{id}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s: Value = app
            .get(&format!("/api/streams/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if output_state(&s, dest) == "failed" || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The spawner refused, as a missing FFmpeg does: the output failed for good.
    assert_eq!(output_state(&s, dest), "failed", "{s}");
    let specs = spawner.specs.lock().unwrap().clone();
    assert_eq!(specs.len(), 1, "one spawn, no retry of a missing program");
    let spec = &specs[0];
    assert!(
        spec.name.starts_with(&format!("stream {id}")),
        "{}",
        spec.name
    );
    assert!(
        spec.args.windows(2).any(|w| w == ["-c:v", "copy"]),
        "{:?}",
        spec.args
    );
    assert_eq!(
        spec.args.last().map(String::as_str),
        Some("srt://127.0.0.1:1?latency=200000&mode=caller")
    );
    // The stream id is not on the command line: it goes through a private FIFO (`-fpre`).
    assert!(
        spec.args.iter().all(|a| !a.contains("k-7Qx-secret")),
        "{:?}",
        spec.args
    );
    assert!(spec.args.iter().any(|a| a == "-fpre"), "{:?}", spec.args);
    // The key is handed over as a secret, so every log line of the child masks it.
    assert!(spec.secrets.iter().any(|k| k.expose() == "k-7Qx-secret"));
    app.stop().await;
}
