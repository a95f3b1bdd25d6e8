//! Program audio through the API: camera and program settings (validated, stored, applied
//! live), audio beds (uploaded raw, checked by decoding, deduplicated, refused while in use),
//! and a running program's meters, with a real camera tone, FFmpeg and nginx-rtmp.

mod common;

use std::time::Duration;

use common::{assert_error, wait_program, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer};

async fn id_of(r: reqwest::Response) -> i64 {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body["id"].as_i64().unwrap()
}

async fn upload(app: &TestApp, name: &str, mime: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/audio/beds?name={name}")))
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// One second of a 750 Hz sine as WAV.
async fn wav() -> Vec<u8> {
    let out = tokio::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=750:sample_rate=48000:duration=1",
            "-f",
            "wav",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn audio_settings_and_beds_are_validated_stored_and_deduplicated() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = id_of(
        app.post(
            "/api/cameras",
            json!({"name": "Dock", "type": "STATIC", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/dock"}),
        )
        .await,
    )
    .await;
    let r = app.get(&format!("/api/cameras/{cam}/audio")).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"enabled": true, "gain_db": 0.0})
    );
    let r = app
        .put(
            &format!("/api/cameras/{cam}/audio"),
            json!({"enabled": false, "gain_db": -6.04}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"enabled": false, "gain_db": -6.0})
    );
    let r = app
        .put(
            &format!("/api/cameras/{cam}/audio"),
            json!({"enabled": true, "gain_db": 30}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("gain_db"),
    )
    .await;
    let r = app.get(&format!("/api/cameras/{cam}/audio")).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"enabled": false, "gain_db": -6.0}),
        "nothing half-written"
    );
    let r = app
        .put(
            "/api/cameras/999/audio",
            json!({"enabled": true, "gain_db": 0}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let dest = id_of(app.post("/api/destinations", json!({"name": "D", "platform": "custom", "url": "rtmp://127.0.0.1:1/live2", "stream_key": "k"})).await).await;
    let p = id_of(
        app.post(
            "/api/programs",
            json!({"name": "Main", "destination_ids": [dest]}),
        )
        .await,
    )
    .await;
    let r = app.get(&format!("/api/programs/{p}/audio")).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"master_gain_db": 0.0, "bed_id": null, "bed_gain_db": -12.0, "bed_mode": "under"})
    );

    // Beds: raw audio, checked by decoding; the same bytes are the same bed.
    let bytes = wav().await;
    let r = upload(&app, "waves.wav", "audio/wav", bytes.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bed: Value = r.json().await.unwrap();
    assert_eq!(bed["name"], "waves.wav");
    assert_eq!(bed["seconds"], 1.0);
    let r = upload(&app, "again.wav", "audio/wav", bytes.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], bed["id"]);
    let r = upload(&app, "x.wav", "text/plain", bytes.clone()).await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
    let r = upload(&app, "noise.mp3", "audio/mpeg", vec![7u8; 4096]).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("file"),
    )
    .await;
    // A playlist naming another file is not followed.
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/hostname\n".to_vec();
    let r = upload(&app, "list.m3u8", "application/octet-stream", playlist).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("file"),
    )
    .await;
    let beds: Value = app.get("/api/audio/beds").await.json().await.unwrap();
    assert_eq!(beds.as_array().unwrap().len(), 1, "{beds}");

    let bed_id = bed["id"].as_i64().unwrap();
    let mix =
        json!({"master_gain_db": -3, "bed_id": bed_id, "bed_gain_db": -10, "bed_mode": "instead"});
    let r = app
        .put(&format!("/api/programs/{p}/audio"), mix.clone())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"master_gain_db": -3.0, "bed_id": bed_id, "bed_gain_db": -10.0, "bed_mode": "instead"})
    );
    let r = app
        .put(
            &format!("/api/programs/{p}/audio"),
            json!({"master_gain_db": 0, "bed_id": 999}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("bed_id"),
    )
    .await;
    let r = app.delete(&format!("/api/audio/beds/{bed_id}")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "a program uses it");
    let r = app
        .put(
            &format!("/api/programs/{p}/audio"),
            json!({"master_gain_db": 0, "bed_id": null}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.delete(&format!("/api/audio/beds/{bed_id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let beds: Value = app.get("/api/audio/beds").await.json().await.unwrap();
    assert_eq!(beds, json!([]));
    assert!(
        std::fs::read_dir(app.dir.path().join("audio"))
            .unwrap()
            .next()
            .is_none(),
        "the file went with it"
    );
    app.stop().await;
}

/// A running program meters its camera's tone (0.2 of full scale: about −14 dBFS) and follows
/// a camera gain change live, in the same RTMP session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_program_meters_its_sound_and_takes_gain_changes_live() {
    let cam = FakeCamera::start(
        CameraOptions::new("Tone")
            .size(320, 180)
            .fps(25)
            .pattern("red")
            .overlay(false)
            .audio_freq(600),
    )
    .await
    .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let c = id_of(
        app.post(
            "/api/cameras",
            json!({"name": "Tone", "type": "STATIC", "protocol": "RTSP", "address": cam.url()}),
        )
        .await,
    )
    .await;
    let dest = id_of(app.post("/api/destinations", json!({"name": "YT", "platform": "custom", "url": rtmp.base_url(), "stream_key": "audio-key-1"})).await).await;
    let p = id_of(app.post("/api/programs", json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]})).await).await;
    assert_eq!(
        app.post(&format!("/api/programs/{p}/start"), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let r = app
        .post(&format!("/api/programs/{p}/take"), json!({"camera_id": c}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let peak = |v: &Value| v["live"]["audio"]["program"]["peak_dbfs"].as_f64();
    let v = wait_program(&app, p, Duration::from_secs(30), |v| {
        peak(v).is_some_and(|d| (-17.0..=-11.0).contains(&d))
    })
    .await;
    let src = &v["live"]["audio"]["sources"][0];
    assert_eq!(src["id"], c);
    assert_eq!(src["has_audio"], true);
    assert_eq!(v["live"]["audio"]["on_air"], c);
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();

    let r = app
        .put(
            &format!("/api/cameras/{c}/audio"),
            json!({"enabled": true, "gain_db": -20}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = wait_program(&app, p, Duration::from_secs(10), |v| {
        peak(v).is_some_and(|d| (-37.0..=-31.0).contains(&d))
    })
    .await;
    assert_eq!(v["live"]["audio"]["sources"][0]["gain_db"], -20.0);
    assert!(
        v["live"]["audio"]["program"]["integrated_lufs"].is_number(),
        "{v}"
    );
    let r = app
        .put(
            &format!("/api/cameras/{c}/audio"),
            json!({"enabled": false, "gain_db": 0}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_program(&app, p, Duration::from_secs(10), |v| peak(v).is_none()).await;
    assert_eq!(rtmp.publish_count(), 1, "the encoder was never restarted");
    assert_eq!(
        app.post(&format!("/api/programs/{p}/stop"), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}
