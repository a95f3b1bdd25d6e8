//! Timelines, overlays, assets and VistterStudio end to end: every shared fixture imported and
//! exported back unchanged, each validation rule answered with its path, credentials sealed and
//! never shown, nothing half-written after a refusal, asset deduplication, the token-authenticated
//! sync, a broadcast node's endpoints, and a player that refuses to pretend without a program.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_timeline::{OverlayShow, ProgramControl};

const STREAM: &str = "rtmp://test.example.com/live/stream";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/vistterstudio")
}

fn fixtures() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("the shared fixtures are beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

fn segment_fixture() -> String {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == "segment_001.json")
        .expect("segment_001.json")
        .1
}

async fn import_text(app: &TestApp, path: &str, text: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(text.to_string())
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, path: &str) -> usize {
    let v: Value = app.get(path).await.json().await.unwrap();
    v.as_array().unwrap_or_else(|| panic!("{path}: {v}")).len()
}

/// Files stored under `<data_dir>/assets`, temporary ones included.
fn asset_files(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(app.dir.path().join("assets")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Bytes that pass for a PNG (the appliance checks the signature, not the pixels).
fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn create_camera(app: &TestApp, name: &str, address: &str) -> i64 {
    let protocol = address.split("://").next().unwrap().to_ascii_uppercase();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": name, "type": "PTZ", "protocol": protocol, "address": address}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn create_preset(app: &TestApp, camera: i64, name: &str, settle_ms: i64) -> i64 {
    let r = app
        .post(
            &format!("/api/cameras/{camera}/presets"),
            json!({"name": name, "pan": 10, "tilt": 0, "zoom": 0, "settle_ms": settle_ms}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn upload_png(app: &TestApp, bytes: &[u8]) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/assets?name=logo.png"))
        .header("content-type", "image/png")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn create_image_overlay(app: &TestApp, name: &str) -> i64 {
    let (_, asset) = upload_png(app, &png(7, 100)).await;
    let r = app
        .post(
            "/api/overlays",
            json!({"name": name, "kind": "image", "asset_id": asset["id"],
                   "definition": {"x": 20, "y": 20, "width": 300, "height": 100, "opacity": 0.9}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// A program backend that records what the player asks of it.
#[derive(Default)]
struct FakeProgram {
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl ProgramControl for FakeProgram {
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> vs_base::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("take {camera_id} {preset_id:?}"));
        Ok(())
    }
    async fn prepare(&self, camera_id: i64, preset_id: i64) -> vs_base::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("prepare {camera_id} {preset_id}"));
        Ok(())
    }
    async fn show_overlay(&self, o: &OverlayShow) -> vs_base::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("show {}", o.overlay_id));
        Ok(())
    }
    async fn hide_overlay(&self, id: i64) -> vs_base::Result<()> {
        self.calls.lock().unwrap().push(format!("hide {id}"));
        Ok(())
    }
    async fn slate(&self) -> vs_base::Result<()> {
        self.calls.lock().unwrap().push("slate".into());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_fixture_imports_and_exports_back_unchanged() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let mut imported = Vec::new();
    for (name, text) in fixtures() {
        let r = import_text(&app, "/api/timelines/import", &text).await;
        if name == "schema-timeline.json" {
            let body = assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
            assert!(
                body["message"].as_str().unwrap().contains("JSON Schema"),
                "{body}"
            );
            continue;
        }
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let out: Value = r.json().await.unwrap();
        let id = name.trim_end_matches(".json");
        assert_eq!(out["timeline"]["id"], id);
        assert_eq!(out["format"], "flat");
        // The first file brings the camera; every later one finds it by its address.
        let created = out["created_cameras"].as_array().unwrap();
        assert_eq!(
            created.len(),
            usize::from(imported.is_empty()),
            "{name}: {out}"
        );
        if let Some(c) = created.first() {
            assert_eq!(c["address"], STREAM);
            assert_eq!(c["name"], "test.example.com stream");
            assert_eq!(c["protocol"], "RTMP");
        }
        assert_eq!(
            out["timeline"]["tracks"][0]["clips"][0]["source"]["type"],
            "camera"
        );
        assert_eq!(out["timeline"]["warnings"], json!([]));

        let r = app.get(&format!("/api/timelines/{id}/export")).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("{id}.json")));
        let exported = r.text().await.unwrap();
        assert_eq!(exported.trim_end(), text.trim_end(), "{name}");
        let flat: Value = app
            .get(&format!("/api/timelines/{id}/export?format=flat"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(flat, serde_json::from_str::<Value>(&text).unwrap());

        // The declared shape comes back as well, and imports as the same timeline.
        let declared: Value = app
            .get(&format!("/api/timelines/{id}/export?format=declared"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(declared["metadata"]["id"], id);
        assert!(declared["version"].is_string());
        imported.push((id.to_string(), declared));

        let cues: Value = app
            .get(&format!("/api/timelines/{id}/cues"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(cues["cues"][0]["at_ms"], 0);
        assert_eq!(cues["cues"][0]["action"]["type"], "take");
        assert_eq!(cues["playback"], "loop");
    }
    assert_eq!(imported.len(), 4);
    assert_eq!(count(&app, "/api/timelines").await, 4);
    assert_eq!(count(&app, "/api/cameras").await, 1);

    // Importing the same segment again is a conflict on its id; nothing changes.
    let r = import_text(&app, "/api/timelines/import", &segment_fixture()).await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("id")).await;

    // The declared export, re-imported after deleting the original, is the same timeline.
    let (id, declared) = &imported[0];
    let before: Value = app
        .get(&format!("/api/timelines/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/timelines/{id}")).await.status(),
        204
    );
    let r = app.post("/api/timelines/import", declared.clone()).await;
    assert_eq!(r.status(), 201);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["format"], "declared");
    assert_eq!(out["timeline"]["tracks"], before["tracks"]);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_import_adds_no_camera() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    // The camera could be added, but the clip runs past the end: the whole import is refused,
    // and the camera it would have needed is not left behind.
    let doc = json!({
        "id": "late", "name": "Late", "duration": 30,
        "created": "2025-09-16T16:05:47.198Z", "updated": "2025-09-16T16:05:47.198Z",
        "tracks": [{"id": "track-1", "type": "video", "clips": [
            {"id": "clip-1", "startTime": 0, "endTime": 45,
             "asset": {"type": "static", "path": "rtsp://dock:pw@10.0.0.9:554/h264Preview_01_main"},
             "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}}
        ]}],
        "assets": []
    });
    let r = app.post("/api/timelines/import", doc).await;
    assert_eq!(r.status(), 422, "{}", r.text().await.unwrap());
    let cameras: Value = app.get("/api/cameras").await.json().await.unwrap();
    assert_eq!(cameras, json!([]), "no camera left behind");
    let timelines: Value = app.get("/api/timelines").await.json().await.unwrap();
    assert_eq!(timelines.as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn credentials_in_a_clip_url_are_sealed_in_a_new_camera_and_never_shown() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let secret = "Sea2025-unique-pw";
    let doc = json!({
        "id": "dock", "name": "Dock", "duration": 30,
        "created": "2025-09-16T16:05:47.198Z", "updated": "2025-09-16T16:05:47.198Z",
        "tracks": [{"id": "track-1", "type": "video", "clips": [
            {"id": "clip-1", "startTime": 0, "endTime": 15,
             "asset": {"type": "static", "path": format!("rtsp://dock:{secret}@10.0.0.9:554/h264Preview_01_main")},
             "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}},
            {"id": "clip-2", "startTime": 15, "endTime": 30,
             "asset": {"type": "static", "path": format!("rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0&user=Dock&password={secret}")},
             "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}}
        ]}],
        "assets": [],
        "apiConfigs": [{"id": "wx", "type": "weather", "endpoint": "https://wx.example/api", "apiKey": format!("K-{secret}"), "mapping": {}}]
    });
    let r = app.post("/api/timelines/import", doc).await;
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(!text.contains(secret), "{text}");
    let out: Value = serde_json::from_str(&text).unwrap();
    let created = out["created_cameras"].as_array().unwrap();
    assert_eq!(created.len(), 2, "{out}");
    assert_eq!(
        created[0]["address"],
        "rtsp://10.0.0.9:554/h264Preview_01_main"
    );
    assert_eq!(created[0]["username"], "dock");
    assert_eq!(created[0]["has_password"], true);
    assert_eq!(
        created[1]["address"],
        "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0"
    );
    assert_eq!(created[1]["username"], "Dock");
    let moved: Vec<&str> = out["credentials_moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        moved,
        [
            "apiConfigs[0].apiKey",
            "tracks[0].clips[0].asset.path",
            "tracks[0].clips[1].asset.path"
        ]
    );

    // Sealed at rest, and the right password when opened.
    let running = app.app.as_ref().unwrap();
    for c in created {
        let row = running.db.camera(c["id"].as_i64().unwrap()).await.unwrap();
        let sealed = row.password_enc.clone().unwrap();
        assert!(!sealed.contains(secret));
        assert_eq!(running.secrets.open(&sealed).unwrap().expose(), secret);
    }
    // FFmpeg connects with the login where each camera reads it: userinfo for RTSP, the
    // query for Reolink's RTMP.
    let rtmp = running
        .db
        .camera(created[1]["id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(
        running.services.cameras.connect_url(&rtmp).unwrap(),
        format!("rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0&user=Dock&password={secret}")
    );

    // No response shows it, nor does the database file.
    for path in [
        "/api/cameras",
        "/api/timelines",
        "/api/timelines/dock",
        "/api/timelines/dock/export",
        "/api/timelines/dock/export?format=declared",
        "/api/timelines/dock/cues",
        "/api/segments",
        "/api/segments/dock",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains(secret), "{path}: {body}");
    }
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                p.display()
            );
        }
    }
    // The export is the original minus the credentials.
    let exported: Value = app
        .get("/api/timelines/dock/export")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        exported["tracks"][0]["clips"][1]["asset"]["path"],
        "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0"
    );
    assert!(exported["apiConfigs"][0].get("apiKey").is_none());
    assert_eq!(
        exported["apiConfigs"][0]["endpoint"],
        "https://wx.example/api"
    );

    // A camera a timeline shows cannot be deleted from under it.
    let id = created[0]["id"].as_i64().unwrap();
    let r = app.delete(&format!("/api/cameras/{id}")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn without_create_cameras_an_import_lists_what_is_missing_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = import_text(
        &app,
        "/api/timelines/import?create_cameras=false",
        &segment_fixture(),
    )
    .await;
    let body = assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[0].clips[0].asset.path"),
    )
    .await;
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains(STREAM) && msg.contains("create_cameras"),
        "{msg}"
    );
    assert_eq!(count(&app, "/api/cameras").await, 0);
    assert_eq!(count(&app, "/api/timelines").await, 0);

    // With the camera configured, the same import needs nothing new.
    create_camera(&app, "Test stream", STREAM).await;
    let r = import_text(
        &app,
        "/api/timelines/import?create_cameras=false",
        &segment_fixture(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["created_cameras"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_refused_import_leaves_no_camera_behind() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    // The first clip's camera would be created; the second clip ends before it starts.
    let doc = json!({
        "id": "bad", "name": "Bad", "duration": 60,
        "tracks": [{"id": "track-1", "type": "video", "clips": [
            {"id": "a", "startTime": 0, "endTime": 30, "asset": {"type": "static", "path": "rtsp://u:p@cam.local/s"}},
            {"id": "b", "startTime": 50, "endTime": 40, "asset": {"type": "static", "path": "rtsp://cam.local/s"}}
        ]}]
    });
    let r = app.post("/api/timelines/import", doc).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[0].clips[1].endTime"),
    )
    .await;
    // An overlay the appliance does not know cannot be made up.
    let doc = json!({
        "id": "bad2", "name": "Bad 2", "duration": 60,
        "tracks": [
            {"id": "track-1", "type": "video", "clips": [
                {"id": "a", "startTime": 0, "endTime": 60, "asset": {"type": "static", "path": "rtsp://cam.local/s"}}]},
            {"id": "track-2", "type": "overlay", "clips": [
                {"id": "o", "startTime": 0, "endTime": 10, "asset": {"type": "static", "path": "asset-logo"}}]}
        ]
    });
    let r = app.post("/api/timelines/import", doc).await;
    let body = assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[1].clips[0].asset.path"),
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("asset-logo"));
    assert_eq!(count(&app, "/api/cameras").await, 0);
    assert_eq!(count(&app, "/api/timelines").await, 0);
    app.stop().await;
}

fn timeline(tracks: Value) -> Value {
    json!({"name": "Harbour", "duration_ms": 60000, "tracks": tracks})
}

fn video(clips: Value) -> Value {
    json!({"kind": "video", "name": "Cameras", "clips": clips})
}

fn cam_clip(id: &str, start: i64, end: i64, camera: i64, preset: Option<i64>) -> Value {
    let mut source = json!({"type": "camera", "camera_id": camera});
    if let Some(p) = preset {
        source["preset_id"] = json!(p);
    }
    json!({"id": id, "start_ms": start, "end_ms": end, "source": source})
}

#[tokio::test]
async fn each_validation_rule_answers_422_with_the_path() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let pier = create_camera(&app, "Pier", "rtsp://pier.local/s").await;
    let bridge = create_camera(&app, "Bridge", "rtsp://bridge.local/s").await;
    let east = create_preset(&app, pier, "East", 4000).await;
    let west_of_bridge = create_preset(&app, bridge, "West", 1000).await;
    let logo = create_image_overlay(&app, "Logo").await;
    let overlay_clip = |id: &str, overlay: i64| {
        json!({"id": id, "start_ms": 0, "end_ms": 1000,
               "source": {"type": "overlay", "overlay_id": overlay, "x": 0, "y": 0, "width": 200, "height": 100}})
    };

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"id": "bad id!", "name": "x", "duration_ms": 1000, "tracks": []}),
            "id",
        ),
        (
            json!({"name": " ", "duration_ms": 1000, "tracks": []}),
            "name",
        ),
        (
            json!({"name": "x", "duration_ms": 0, "tracks": []}),
            "duration_ms",
        ),
        (
            json!({"name": "x", "duration_ms": -5, "tracks": []}),
            "duration_ms",
        ),
        (
            timeline(json!([video(json!([cam_clip(
                "a", 5000, 1000, pier, None
            )]))])),
            "tracks[0].clips[0].end_ms",
        ),
        (
            timeline(json!([video(json!([cam_clip(
                "a", 1000, 1000, pier, None
            )]))])),
            "tracks[0].clips[0].end_ms",
        ),
        (
            timeline(json!([video(json!([cam_clip(
                "a", -1000, 1000, pier, None
            )]))])),
            "tracks[0].clips[0].start_ms",
        ),
        (
            timeline(json!([video(json!([
                cam_clip("a", 0, 30000, pier, None),
                cam_clip("b", 20000, 60000, bridge, None)
            ]))])),
            "tracks[0].clips[1].start_ms",
        ),
        (
            timeline(json!([video(json!([cam_clip("a", 0, 70000, pier, None)]))])),
            "tracks[0].clips[0].end_ms",
        ),
        (
            timeline(json!([video(json!([
                cam_clip("a", 0, 30000, pier, None),
                cam_clip("a", 30000, 60000, pier, None)
            ]))])),
            "tracks[0].clips[1].id",
        ),
        (
            timeline(json!([video(json!([cam_clip("a", 0, 60000, 9999, None)]))])),
            "tracks[0].clips[0].source.camera_id",
        ),
        (
            timeline(json!([video(json!([cam_clip(
                "a",
                0,
                60000,
                pier,
                Some(9999)
            )]))])),
            "tracks[0].clips[0].source.preset_id",
        ),
        (
            timeline(json!([video(json!([cam_clip(
                "a",
                0,
                60000,
                pier,
                Some(west_of_bridge)
            )]))])),
            "tracks[0].clips[0].source.preset_id",
        ),
        (
            timeline(json!([
                video(json!([cam_clip("a", 0, 60000, pier, None)])),
                {"kind": "overlay", "clips": [overlay_clip("o", 9999)]}
            ])),
            "tracks[1].clips[0].source.overlay_id",
        ),
        (
            timeline(json!([
                video(json!([cam_clip("a", 0, 60000, pier, None)])),
                {"kind": "overlay", "clips": [{"id": "o", "start_ms": 0, "end_ms": 1000,
                  "source": {"type": "overlay", "overlay_id": logo, "x": 0, "y": 0, "width": 200, "height": 100, "opacity": 2.0}}]}
            ])),
            "tracks[1].clips[0].source.opacity",
        ),
        (
            timeline(json!([
                video(json!([cam_clip("a", 0, 60000, pier, None)])),
                video(json!([cam_clip("b", 0, 60000, bridge, None)]))
            ])),
            "tracks[1]",
        ),
        (
            json!({"name": "x", "duration_ms": 1000, "destination_ids": [424242], "tracks": []}),
            "destination_ids[0]",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/api/timelines", body.clone()).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
        // The dry run reports the same problem.
        let report: Value = app
            .post("/api/timelines/validate", body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["errors"][0]["path"], field, "{report}");
    }
    assert_eq!(count(&app, "/api/timelines").await, 0);

    // Warnings do not block: a gap, and a preset held shorter than it takes to settle.
    let body = timeline(json!([video(json!([
        cam_clip("a", 0, 10000, pier, None),
        cam_clip("b", 10000, 20000, bridge, None),
        cam_clip("c", 20000, 23000, pier, Some(east)),
        cam_clip("d", 30000, 60000, bridge, None)
    ]))]));
    let r = app.post("/api/timelines", body).await;
    assert_eq!(r.status(), 201);
    let t: Value = r.json().await.unwrap();
    let warnings = t["warnings"].to_string();
    assert!(
        warnings.contains("\"tracks[0]\"") && warnings.contains("slate"),
        "{warnings}"
    );
    assert!(
        warnings.contains("\"tracks[0].clips[2]\"") && warnings.contains("settle"),
        "{warnings}"
    );
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);

    // The cue list moves the pier camera to its preset while the bridge is on air.
    let cues: Value = app
        .get(&format!("/api/timelines/{id}/cues"))
        .await
        .json()
        .await
        .unwrap();
    let prepare = cues["cues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"]["type"] == "prepare")
        .unwrap();
    assert_eq!(prepare["action"]["preset_id"], east);
    let at = prepare["at_ms"].as_i64().unwrap();
    assert!((10000..20000).contains(&at), "{prepare}");

    // Updates follow the same rules; a refused update changes nothing.
    let mut bad = t.clone();
    bad["tracks"][0]["clips"][3]["end_ms"] = json!(61000);
    let r = app.put(&format!("/api/timelines/{id}"), bad).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[0].clips[3].end_ms"),
    )
    .await;
    let mut renamed = t.clone();
    renamed["name"] = json!("Harbour loop");
    renamed["playback"] = json!("once");
    let r = app.put(&format!("/api/timelines/{id}"), renamed).await;
    assert_eq!(r.status(), 200);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["name"], "Harbour loop");
    assert_eq!(after["playback"], "once");
    assert_eq!(after["tracks"], t["tracks"]);
    // What the API added on read is not stored as an unknown field.
    let stored = app
        .app
        .as_ref()
        .unwrap()
        .db
        .timeline(&id)
        .await
        .unwrap()
        .model;
    assert!(
        !stored.contains("warnings") && !stored.contains("created_at"),
        "{stored}"
    );
    let mut other_id = after.clone();
    other_id["id"] = json!("another");
    let r = app.put(&format!("/api/timelines/{id}"), other_id).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("id"),
    )
    .await;
    // Names are unique.
    let r = app
        .post(
            "/api/timelines",
            json!({"name": "harbour LOOP", "duration_ms": 1000, "tracks": []}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;

    // The overlay is in use: it cannot be deleted, nor can its asset.
    let with_overlay = timeline(json!([
        video(json!([cam_clip("a", 0, 60000, pier, None)])),
        {"kind": "overlay", "clips": [overlay_clip("o", logo)]}
    ]));
    let mut with_overlay = with_overlay;
    with_overlay["name"] = json!("With logo");
    let r = app.post("/api/timelines", with_overlay).await;
    assert_eq!(r.status(), 201);
    let body = assert_error(
        app.delete(&format!("/api/overlays/{logo}")).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("With logo"),
        "{body}"
    );
    let overlay: Value = app
        .get(&format!("/api/overlays/{logo}"))
        .await
        .json()
        .await
        .unwrap();
    let asset = overlay["asset_id"].as_i64().unwrap();
    let body = assert_error(
        app.delete(&format!("/api/assets/{asset}")).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("Logo"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn studio_paths_name_the_element_of_the_file() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    create_camera(&app, "Test stream", STREAM).await;
    let mut doc: Value = serde_json::from_str(&segment_fixture()).unwrap();
    doc["tracks"][0]["clips"][0]["endTime"] = json!(90);
    let r = app.post("/api/timelines/import", doc).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[0].clips[0].endTime"),
    )
    .await;
    let mut doc: Value = serde_json::from_str(&segment_fixture()).unwrap();
    doc["tracks"][0]["type"] = json!("hologram");
    let r = app.post("/api/timelines/import", doc).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("tracks[0].type"),
    )
    .await;
    let r = import_text(&app, "/api/timelines/import", "{not json").await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    assert_eq!(count(&app, "/api/timelines").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_same_bytes_make_one_asset_stored_once() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    // Over the API-wide 1 MiB body limit, under the assets' 10 MiB.
    let bytes = png(1, 2 * 1024 * 1024);
    let (status, first) = upload_png(&app, &bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["mime"], "image/png");
    assert_eq!(first["size"], bytes.len());
    assert_eq!(first["name"], "logo.png");
    let sha = first["sha256"].as_str().unwrap().to_string();

    // The same bytes as a browser form: the same asset.
    let boundary = "----vsBoundary7MA4YWxk";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"other.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&bytes);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = app
        .client
        .post(app.url("/api/assets"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(asset_files(&app), vec![sha.clone()]);
    assert_eq!(count(&app, "/api/assets").await, 1);

    let id = first["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/assets/{id}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let r = app
        .client
        .get(app.url(&format!("/api/assets/{id}")))
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // What the bytes are decides; a wrong claim, another type or too much is refused.
    let (status, body) = {
        let r = app
            .client
            .post(app.url("/api/assets"))
            .header("content-type", "image/jpeg")
            .body(png(2, 10))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "file");
    let r = app
        .client
        .post(app.url("/api/assets"))
        .header("content-type", "image/gif")
        .body(b"GIF89a....".to_vec())
        .send()
        .await
        .unwrap();
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("file"),
    )
    .await;
    let r = app
        .client
        .post(app.url("/api/assets"))
        .header("content-type", "image/png")
        .body(png(3, 11 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "validation", Some("file")).await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#;
    let r = app
        .client
        .post(app.url("/api/assets?name=box.svg"))
        .header("content-type", "image/svg+xml")
        .body(svg.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let svg_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/assets/{svg_id}")).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert_eq!(asset_files(&app).len(), 2);

    // Unauthenticated uploads are refused like everything else.
    let r = app
        .anonymous()
        .post(app.url("/api/assets"))
        .header("content-type", "image/png")
        .body(png(4, 10))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated", None).await;

    // Deleting removes the file too.
    assert_eq!(
        app.delete(&format!("/api/assets/{svg_id}")).await.status(),
        204
    );
    assert_eq!(asset_files(&app), vec![sha]);
    app.stop().await;
}

#[tokio::test]
async fn overlays_are_checked_per_kind() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    for (body, field) in [
        (json!({"name": "L", "kind": "image"}), "asset_id"),
        (
            json!({"name": "L", "kind": "image", "asset_id": 77}),
            "asset_id",
        ),
        (json!({"name": "T", "kind": "text"}), "definition.text"),
        (json!({"name": "T", "kind": "ticker"}), "kind"),
        (
            json!({"name": "C", "kind": "clock", "definition": {"timezone": "Moon/Base"}}),
            "definition.timezone",
        ),
        (
            json!({"name": "W", "kind": "url_text", "definition": {"url": "ftp://x"}}),
            "definition.url",
        ),
        (
            json!({"name": "T", "kind": "text", "definition": {"text": "hi", "color": "blue"}}),
            "definition.color",
        ),
    ] {
        let r = app.post("/api/overlays", body).await;
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
            "/api/overlays",
            json!({"name": "Clock", "kind": "clock", "definition": {"x": 1700, "y": 40, "font_size": 48, "color": "#ffffff"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["kind"], "clock");
    assert_eq!(o["definition"]["clock_format"], "%H:%M");
    assert_eq!(o["definition"]["color"], "#FFFFFF");
    let id = o["id"].as_i64().unwrap();
    let r = app
        .put(
            &format!("/api/overlays/{id}"),
            json!({"name": "Weather", "kind": "url_text",
                   "definition": {"url": "https://wx.example/now.json", "json_pointer": "/temp", "refresh_s": 300}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["definition"]["refresh_s"], 300);
    let r = app
        .post(
            "/api/overlays",
            json!({"name": "weather", "kind": "text", "definition": {"text": "x"}}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;
    assert_eq!(
        app.delete(&format!("/api/overlays/{id}")).await.status(),
        204
    );
    assert_eq!(app.get(&format!("/api/overlays/{id}")).await.status(), 404);
    app.stop().await;
}

fn sync_body(logo: &[u8]) -> Value {
    json!({
        "assets": [{"id": "asset-logo", "name": "logo.png", "mime": "image/png",
                    "data_base64": b64(logo), "path": "/uploads/logo.png"}],
        "overlays": [{"id": "ov-banner", "name": "Banner", "kind": "text",
                      "definition": {"text": "Welcome to the marina", "font_size": 36}}],
        "timelines": [{
            "id": "harbour", "name": "Harbour", "duration": 60,
            "created": "2025-09-18T12:43:07.507Z", "updated": "2025-09-18T12:43:07.507Z",
            "tracks": [
                {"id": "track-1", "type": "video", "clips": [
                    {"id": "clip-1", "startTime": 0, "endTime": 60,
                     "asset": {"type": "static", "path": "rtsp://viewer:Dock-pw-42@10.1.1.5/live"},
                     "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}}]},
                {"id": "track-2", "type": "overlay", "clips": [
                    {"id": "clip-2", "startTime": 0, "endTime": 30,
                     "asset": {"type": "static", "path": "asset-logo"},
                     "position": {"x": 1600, "y": 40, "width": 280, "height": 120}},
                    {"id": "clip-3", "startTime": 30, "endTime": 60,
                     "asset": {"type": "static", "path": "ov-banner"},
                     "position": {"x": 0, "y": 960, "width": 1920, "height": 120}, "opacity": 0.8}]}
            ],
            "assets": [{"id": "asset-logo", "type": "image", "path": "/uploads/logo.png"}],
            "apiConfigs": []
        }]
    })
}

#[tokio::test]
async fn the_studio_syncs_with_its_api_token_all_or_nothing() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token = app.api_token("VistterStudio").await;
    let studio = app.anonymous();
    let logo = png(9, 3 * 1024 * 1024);

    let r = studio
        .post(app.url("/api/overlays/sync"))
        .json(&sync_body(&logo))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated", None).await;

    let sync = |body: Value| {
        studio
            .post(app.url("/api/overlays/sync"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let r = sync(sync_body(&logo)).await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("Dock-pw-42"), "{text}");
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["assets"][0]["ref"], "asset-logo");
    assert_eq!(out["assets"][0]["status"], "created");
    let asset_id = out["assets"][0]["id"].as_i64().unwrap();
    let statuses = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(statuses(&out, "overlays"), ["created", "created"]);
    // The logo had no overlay of its own: one was made that answers to the studio's id.
    assert_eq!(out["overlays"][1]["automatic"], true);
    assert_eq!(statuses(&out, "timelines"), ["created"]);
    assert_eq!(out["created_cameras"][0]["address"], "rtsp://10.1.1.5/live");
    assert_eq!(out["created_cameras"][0]["has_password"], true);

    let overlays: Value = app.get("/api/overlays").await.json().await.unwrap();
    let logo_overlay = overlays
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["asset_id"] == asset_id)
        .unwrap()
        .clone();
    assert_eq!(
        logo_overlay["studio_keys"],
        json!(["asset-logo", "/uploads/logo.png"])
    );
    let t: Value = app
        .get("/api/timelines/harbour")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["tracks"][1]["clips"][0]["source"]["overlay_id"],
        logo_overlay["id"]
    );
    assert_eq!(t["tracks"][1]["clips"][1]["source"]["opacity"], 0.8);
    assert_eq!(t["tracks"][1]["clips"][1]["source"]["y"], 960);
    // Back out as the studio sent it, minus the password.
    let exported: Value = app
        .get("/api/timelines/harbour/export")
        .await
        .json()
        .await
        .unwrap();
    let mut expected = sync_body(&logo)["timelines"][0].clone();
    expected["tracks"][0]["clips"][0]["asset"]["path"] = json!("rtsp://10.1.1.5/live");
    assert_eq!(exported, expected);

    // The same push again changes nothing and stores nothing twice.
    let out: Value = sync(sync_body(&logo)).await.unwrap().json().await.unwrap();
    assert_eq!(statuses(&out, "assets"), ["unchanged"]);
    assert_eq!(statuses(&out, "overlays"), ["unchanged"]);
    assert_eq!(statuses(&out, "timelines"), ["unchanged"]);
    assert_eq!(out["created_cameras"], json!([]));
    assert_eq!(asset_files(&app).len(), 1);
    assert_eq!(count(&app, "/api/cameras").await, 1);

    // An edit in the studio is an update.
    let mut edited = sync_body(&logo);
    edited["timelines"][0]["tracks"][1]["clips"][1]["opacity"] = json!(0.5);
    edited["overlays"][0]["definition"]["text"] = json!("Welcome aboard");
    let out: Value = sync(edited).await.unwrap().json().await.unwrap();
    assert_eq!(statuses(&out, "overlays"), ["updated"]);
    assert_eq!(statuses(&out, "timelines"), ["updated"]);

    // One bad element anywhere and nothing of the push is kept.
    let before = (
        count(&app, "/api/assets").await,
        count(&app, "/api/overlays").await,
        count(&app, "/api/timelines").await,
        count(&app, "/api/cameras").await,
    );
    let mut bad = sync_body(&png(10, 1000));
    bad["assets"][0]["id"] = json!("asset-new");
    bad["assets"][0]["path"] = json!("/uploads/new.png");
    bad["overlays"][0]["name"] = json!("Another banner");
    bad["overlays"][0]["id"] = json!("ov-other");
    bad["timelines"][0]["id"] = json!("second");
    bad["timelines"][0]["name"] = json!("Second");
    bad["timelines"][0]["tracks"][0]["clips"][0]["asset"]["path"] =
        json!("rtsp://u:p@10.9.9.9/new");
    bad["timelines"][0]["tracks"][1]["clips"][0]["asset"]["path"] = json!("asset-new");
    bad["timelines"][0]["tracks"][1]["clips"][1]["endTime"] = json!(75);
    let r = sync(bad).await.unwrap();
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("timelines[0].tracks[1].clips[1].endTime"),
    )
    .await;
    let after = (
        count(&app, "/api/assets").await,
        count(&app, "/api/overlays").await,
        count(&app, "/api/timelines").await,
        count(&app, "/api/cameras").await,
    );
    assert_eq!(before, after);
    assert_eq!(asset_files(&app).len(), 1, "{:?}", asset_files(&app));

    // Errors name the element of the push.
    let mut bad = sync_body(&logo);
    bad["assets"][0]["data_base64"] = json!("%%%");
    let r = sync(bad).await.unwrap();
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("assets[0].data_base64"),
    )
    .await;
    let mut bad = sync_body(&logo);
    bad["overlays"][0]["kind"] = json!("banner");
    let r = sync(bad).await.unwrap();
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("overlays[0].kind"),
    )
    .await;
    let r = sync(json!({"timelines": [{"$schema": "x", "type": "object", "properties": {}}]}))
        .await
        .unwrap();
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("timelines[0]"),
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_studio_drives_the_appliance_like_a_node_and_start_never_pretends() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = import_text(&app, "/api/timelines/import", &segment_fixture()).await;
    assert_eq!(r.status(), 201);
    let token = app.api_token("VistterStudio").await;
    let studio = app.anonymous();
    let get = |path: &str| studio.get(app.url(path)).bearer_auth(&token).send();
    let post = |path: &str| studio.post(app.url(path)).bearer_auth(&token).send();

    let segments: Value = get("/api/segments").await.unwrap().json().await.unwrap();
    let original: Value = serde_json::from_str(&segment_fixture()).unwrap();
    assert_eq!(segments.as_array().unwrap().len(), 1);
    let seg = &segments[0];
    assert_eq!(seg["id"], "segment_001");
    assert_eq!(seg["filename"], "segment_001.json");
    for key in [
        "name",
        "duration",
        "created",
        "updated",
        "tracks",
        "assets",
        "apiConfigs",
    ] {
        assert_eq!(seg[key], original[key], "{key}");
    }
    let one: Value = get("/api/segments/segment_001")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, original);

    let status: Value = get("/api/stream/status")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["isStreaming"], false);
    assert_eq!(status["currentSegment"], Value::Null);
    // No program is configured: nothing can play, and the status says so.
    assert_eq!(status["program_available"], false);
    assert_eq!(status["state"], "stopped");

    // No program configured: 503 as documented, and the status does not claim otherwise.
    let r = post("/api/stream/start/segment_001").await.unwrap();
    let body = assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no program is configured"),
        "{body}"
    );
    let r = app
        .post("/api/timelines/segment_001/start", json!({}))
        .await;
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
    let status: Value = get("/api/stream/status")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["isStreaming"], false);
    assert_eq!(status["program_available"], false);
    let r = post("/api/stream/start/nope").await.unwrap();
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = post("/api/stream/stop").await.unwrap();
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["success"], true);
    assert_eq!(ack["status"]["state"], "stopped");
    assert_eq!(ack["status"]["program_available"], false);

    // Once a program is configured, the status says a start can play.
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "Out", "platform": "custom", "url": "rtmp://127.0.0.1:9/live", "stream_key": "k"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let dest = r.json::<Value>().await.unwrap()["id"].clone();
    let r = app
        .post(
            "/api/programs",
            json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let status: Value = get("/api/stream/status")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["program_available"], true);
    assert_eq!(status["isStreaming"], false);

    // Every studio endpoint needs the token.
    for (method, path) in [
        ("GET", "/api/segments"),
        ("GET", "/api/stream/status"),
        ("POST", "/api/stream/start/segment_001"),
        ("POST", "/api/stream/stop"),
    ] {
        let r = studio
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn with_a_program_backend_the_player_plays_jumps_and_stops() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let pier = create_camera(&app, "Pier", "rtsp://pier.local/s").await;
    let bridge = create_camera(&app, "Bridge", "rtsp://bridge.local/s").await;
    let logo = create_image_overlay(&app, "Logo").await;
    let r = app
        .post(
            "/api/timelines",
            json!({"id": "show", "name": "Show", "duration_ms": 60000, "tracks": [
                video(json!([cam_clip("a", 0, 30000, pier, None), cam_clip("b", 30000, 60000, bridge, None)])),
                {"kind": "overlay", "clips": [{"id": "o", "start_ms": 0, "end_ms": 60000,
                  "source": {"type": "overlay", "overlay_id": logo, "x": 10, "y": 10, "width": 200, "height": 80}}]}
            ]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let running = app.app.as_ref().unwrap();
    let program = Arc::new(FakeProgram::default());
    running.services.timelines.set_program(program.clone());

    let r = app.post("/api/stream/start/show", json!({})).await;
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["success"], true);
    assert_eq!(ack["segment"], "Show");
    assert_eq!(ack["status"]["state"], "playing");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        program.calls.lock().unwrap().clone(),
        [format!("take {pier} None"), format!("show {logo}")]
    );
    let status: Value = app.get("/api/stream/status").await.json().await.unwrap();
    assert_eq!(status["isStreaming"], true);
    assert_eq!(status["currentSegment"]["id"], "show");
    assert_eq!(status["currentSegment"]["duration"], 60);
    assert_eq!(status["on_air_clip"], "a");
    assert_eq!(status["recent_cues"][0]["action"], "take");

    // A playing timeline cannot be deleted; it can be jumped in.
    let r = app.delete("/api/timelines/show").await;
    assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;
    let r = app
        .post("/api/timelines/show/jump", json!({"clip_id": "b"}))
        .await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(program
        .calls
        .lock()
        .unwrap()
        .contains(&format!("take {bridge} None")));
    let r = app
        .post("/api/timelines/show/jump", json!({"clip_id": "zz"}))
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("clip_id"),
    )
    .await;

    let r = app.post("/api/timelines/show/stop", json!({})).await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["state"], "stopped");
    let status: Value = app.get("/api/stream/status").await.json().await.unwrap();
    assert_eq!(status["isStreaming"], false);
    let r = app.post("/api/timelines/show/stop", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(app.delete("/api/timelines/show").await.status(), 204);
    app.stop().await;
}

#[tokio::test]
async fn schedules_are_checked_and_run_the_timeline() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = import_text(&app, "/api/timelines/import", &segment_fixture()).await;
    assert_eq!(r.status(), 201);
    let path = "/api/timelines/segment_001/schedule";
    for (body, field) in [
        (
            json!({"days": ["mon"], "start": "08:00", "end": "18:00", "tz": "Mars/Olympus"}),
            "tz",
        ),
        (
            json!({"days": ["mon"], "start": "8h", "end": "18:00", "tz": "UTC"}),
            "start",
        ),
        (
            json!({"days": ["mon"], "start": "08:00", "end": "24:30", "tz": "UTC"}),
            "end",
        ),
        (
            json!({"days": ["funday"], "start": "08:00", "end": "18:00", "tz": "UTC"}),
            "days[0]",
        ),
        (
            json!({"days": [], "start": "08:00", "end": "18:00", "tz": "UTC"}),
            "days",
        ),
    ] {
        let r = app.put(path, body).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let r = app
        .put(
            path,
            json!({"days": ["fri", "sat"], "start": "22:00", "end": "06:00", "tz": "Europe/Paris"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        t["schedule"],
        json!({"days": ["fri", "sat"], "start": "22:00", "end": "06:00", "tz": "Europe/Paris"})
    );
    // Without a time zone, the appliance's is used.
    let r = app
        .put(
            path,
            json!({"days": ["mon"], "start": "08:00", "end": "09:00"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["schedule"]["tz"].is_string());

    // Every day, all day: the appliance's own scheduler (one per appliance; a second one
    // here would race it for the wake-ups) starts it as soon as it looks.
    let running = app.app.as_ref().unwrap();
    let program = Arc::new(FakeProgram::default());
    running.services.timelines.set_program(program.clone());
    let all_week = json!({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                          "start": "00:00", "end": "00:00", "tz": "UTC"});
    assert_eq!(app.put(path, all_week).await.status(), 200);
    let mut playing = false;
    for _ in 0..50 {
        let s: Value = app.get("/api/stream/status").await.json().await.unwrap();
        if s["isStreaming"] == true {
            assert_eq!(s["currentSegment"]["id"], "segment_001");
            playing = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(playing, "the scheduler did not start the timeline");
    // Its schedule removed, the scheduler stops what it started.
    let r = app.delete(path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["schedule"], Value::Null);
    let mut stopped = false;
    for _ in 0..50 {
        let s: Value = app.get("/api/stream/status").await.json().await.unwrap();
        if s["isStreaming"] == false {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped, "the scheduler did not stop the timeline");
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_routes() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for path in [
        "/api/timelines",
        "/api/timelines/import",
        "/api/timelines/{id}/export",
        "/api/timelines/{id}/schedule",
        "/api/overlays",
        "/api/assets",
        "/api/overlays/sync",
        "/api/segments",
        "/api/stream/start/{segment_id}",
        "/api/stream/status",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    app.stop().await;
}
