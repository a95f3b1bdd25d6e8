//! Camera and preset routes end to end: the spec's shapes, validation of every field, secrets
//! that never come back, conflicts, cascades, and nothing half-written after a refusal.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn spec_camera() -> Value {
    json!({"name":"Reolink Front","type":"PTZ","protocol":"RTSP","address":"rtsp://user:pass@192.168.1.50:554/stream1"})
}

#[tokio::test]
async fn spec_example_round_trips_without_secrets() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app.post("/api/cameras", spec_camera()).await;
    assert_eq!(r.status(), 201);
    let cam: Value = r.json().await.unwrap();
    assert_eq!(cam["name"], "Reolink Front");
    assert_eq!(cam["type"], "PTZ");
    assert_eq!(cam["protocol"], "RTSP");
    assert_eq!(cam["address"], "rtsp://192.168.1.50:554/stream1");
    assert_eq!(cam["username"], "user");
    assert_eq!(cam["has_password"], true);
    assert!(cam.get("password").is_none());
    let id = cam["id"].as_i64().unwrap();

    let list = app.get("/api/cameras").await.text().await.unwrap();
    assert!(!list.contains("pass\""), "{list}");
    assert!(!list.contains(":pass@"), "{list}");
    let one: Value = app
        .get(&format!("/api/cameras/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, cam);

    // The password is encrypted at rest and is the right one when opened.
    let running = app.app.as_ref().unwrap();
    let row = running.db.camera(id).await.unwrap();
    let sealed = row.password_enc.clone().unwrap();
    assert!(!sealed.contains("pass") || sealed.starts_with("v1:"));
    assert_eq!(
        running.services.cameras.connect_url(&row).unwrap(),
        "rtsp://user:pass@192.168.1.50:554/stream1"
    );
    // Update without a password keeps it; an empty one clears it.
    let r = app
        .put(
            &format!("/api/cameras/{id}"),
            json!({"name":"Front","type":"PTZ","protocol":"RTSP","address":"rtsp://192.168.1.50:554/stream2","username":"user","onvif_port":8899}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let cam: Value = r.json().await.unwrap();
    assert_eq!(cam["has_password"], true);
    assert_eq!(cam["onvif_port"], 8899);
    assert_eq!(cam["name"], "Front");
    let r = app
        .put(
            &format!("/api/cameras/{id}"),
            json!({"name":"Front","type":"PTZ","protocol":"RTSP","address":"rtsp://192.168.1.50:554/stream2","password":""}),
        )
        .await;
    let cam: Value = r.json().await.unwrap();
    assert_eq!(cam["has_password"], false);
    app.stop().await;
}

#[tokio::test]
async fn reolink_query_credentials_are_sealed_and_go_back_in_the_query() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let secret = "Rq7-query-secret";
    let r = app
        .post(
            "/api/cameras",
            json!({"name":"Reolink RTMP","type":"STATIC","protocol":"RTMP",
                   "address":format!("rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&password={secret}")}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let cam: Value = r.json().await.unwrap();
    assert_eq!(
        cam["address"],
        "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0"
    );
    assert_eq!(cam["username"], "admin");
    assert_eq!(cam["has_password"], true);
    let id = cam["id"].as_i64().unwrap();
    let list = app.get("/api/cameras").await.text().await.unwrap();
    assert!(!list.contains(secret), "{list}");

    // FFmpeg gets the login back in the query, where the camera reads it; an edit of the
    // (credential-free) address keeps it there.
    let running = app.app.as_ref().unwrap();
    let connect =
        |row: &vs_db::cameras::CameraRow| running.services.cameras.connect_url(row).unwrap();
    let expected = format!(
        "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&password={secret}"
    );
    assert_eq!(connect(&running.db.camera(id).await.unwrap()), expected);
    let r = app
        .put(
            &format!("/api/cameras/{id}"),
            json!({"name":"Reolink RTMP","type":"STATIC","protocol":"RTMP","username":"admin",
                   "address":"rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains(secret));
    assert_eq!(connect(&running.db.camera(id).await.unwrap()), expected);
    // Credentials given in the userinfo now: that is where they go.
    let r = app
        .put(
            &format!("/api/cameras/{id}"),
            json!({"name":"Reolink RTMP","type":"STATIC","protocol":"RTMP",
                   "address":format!("rtmp://admin:{secret}@192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0")}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        connect(&running.db.camera(id).await.unwrap()),
        format!("rtmp://admin:{secret}@192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0")
    );
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_not_in_the_database_file_in_clear() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let secret = "Zq9-unique-camera-secret";
    let r = app
        .post(
            "/api/cameras",
            json!({"name":"Dock","type":"STATIC","protocol":"RTSP","address":format!("rtsp://admin:{secret}@10.0.0.9/live")}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(!body.contains(secret));
    // Checkpoint the WAL so everything is in the main file, then look at raw bytes.
    let running = app.app.as_ref().unwrap();
    vs_db::sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(running.db.pool())
        .await
        .unwrap();
    for f in ["vistterstream.db", "vistterstream.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(f)) {
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(secret), "secret in clear in {f}");
        }
    }
    // The audit log got the redacted address only.
    let details: Vec<Option<String>> = vs_db::sqlx::query_scalar("SELECT detail FROM audit_log")
        .fetch_all(running.db.pool())
        .await
        .unwrap();
    assert!(details.iter().flatten().all(|d| !d.contains(secret)));
    app.stop().await;
}

#[tokio::test]
async fn every_bad_field_is_a_clear_error_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let base = spec_camera();
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("name", json!("")), "name"),
        (with("name", json!("x".repeat(65))), "name"),
        (with("type", json!("DOME")), "type"),
        (with("protocol", json!("HTTP")), "protocol"),
        (with("address", json!("")), "address"),
        (with("address", json!("192.168.1.50")), "address"),
        (with("address", json!("http://192.168.1.50/x")), "address"),
        (
            with("address", json!("rtmp://192.168.1.50/live")),
            "address",
        ),
        (with("onvif_port", json!(0)), "onvif_port"),
        (with("onvif_port", json!(65536)), "onvif_port"),
        (with("onvif_host", json!("http://cam/onvif")), "onvif_host"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/cameras", body.clone()).await;
        let e = assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
        assert!(!e.to_string().contains("pass@"), "no secret echoed: {e}");
    }
    // Wrong shapes: 400 with a message that names the problem.
    let r = app
        .post("/api/cameras", with("onvif_port", json!("eighty")))
        .await;
    let e = assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    assert!(e["message"].as_str().unwrap().contains("onvif_port"), "{e}");
    let r = app.post("/api/cameras", with("adress", json!("x"))).await;
    let e = assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    assert!(e["message"].as_str().unwrap().contains("adress"), "{e}");
    let r = app
        .client
        .post(app.url("/api/cameras"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    let r = app
        .client
        .post(app.url("/api/cameras"))
        .body(spec_camera().to_string())
        .send()
        .await
        .unwrap();
    // Not declared JSON: 415 (browsers send text/plain across sites without asking first).
    let e = assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("Content-Type"));

    let list: Value = app.get("/api/cameras").await.json().await.unwrap();
    assert_eq!(list, json!([]), "nothing half-written");
    app.stop().await;
}

#[tokio::test]
async fn not_found_and_conflicts() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    assert_error(
        app.get("/api/cameras/999").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/api/cameras/abc").await,
        StatusCode::BAD_REQUEST,
        "validation",
        None,
    )
    .await;
    assert_error(
        app.put("/api/cameras/999", spec_camera()).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.delete("/api/cameras/999").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;

    assert_eq!(app.post("/api/cameras", spec_camera()).await.status(), 201);
    let mut dup = spec_camera();
    dup["name"] = json!("REOLINK FRONT");
    assert_error(
        app.post("/api/cameras", dup).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("name"),
    )
    .await;

    let mut second = spec_camera();
    second["name"] = json!("Back");
    let b: Value = app
        .post("/api/cameras", second.clone())
        .await
        .json()
        .await
        .unwrap();
    second["name"] = json!("Reolink Front");
    let r = app.put(&format!("/api/cameras/{}", b["id"]), second).await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;
    let unchanged: Value = app
        .get(&format!("/api/cameras/{}", b["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["name"], "Back");

    // Unknown API routes are JSON 404s; other paths are the UI.
    assert_error(
        app.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let r = app.get("/cameras/1").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    app.stop().await;
}

#[tokio::test]
async fn presets_crud_validation_uniqueness_and_cascade() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam: Value = app
        .post("/api/cameras", spec_camera())
        .await
        .json()
        .await
        .unwrap();
    let cid = cam["id"].as_i64().unwrap();
    let path = format!("/api/cameras/{cid}/presets");

    let r = app
        .post(&path, json!({"name":"shot1","pan":0,"tilt":30,"zoom":2}))
        .await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["pan"].as_f64(), p["tilt"].as_f64(), p["zoom"].as_f64()),
        (Some(0.0), Some(30.0), Some(2.0))
    );
    assert_eq!(p["camera_id"], cid);
    let pid = p["id"].as_i64().unwrap();

    let r = app
        .post(&path, json!({"name":"Shot1","pan":1,"tilt":1,"zoom":1}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;
    for (body, field) in [
        (json!({"name":"","pan":0,"tilt":0,"zoom":0}), "name"),
        (json!({"name":"a","pan":181,"tilt":0,"zoom":0}), "pan"),
        (json!({"name":"a","pan":0,"tilt":-91,"zoom":0}), "tilt"),
        (json!({"name":"a","pan":0,"tilt":0,"zoom":101}), "zoom"),
        (json!({"name":"a","pan":0,"tilt":0,"zoom":-1}), "zoom"),
        (
            json!({"name":"a","pan":0,"tilt":0,"zoom":0,"settle_ms":-5}),
            "settle_ms",
        ),
    ] {
        assert_error(
            app.post(&path, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let r = app
        .post(&path, json!({"name":"a","pan":"left","tilt":0,"zoom":0}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    let r = app
        .post(
            "/api/cameras/999/presets",
            json!({"name":"a","pan":0,"tilt":0,"zoom":0}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    assert_error(
        app.get("/api/cameras/999/presets").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;

    let list: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let r = app
        .put(
            &format!("/api/presets/{pid}"),
            json!({"name":"wide","pan":-45.5,"tilt":10,"zoom":0,"settle_ms":1500}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["name"], "wide");
    assert_eq!(p["settle_ms"], 1500);
    let got: Value = app
        .get(&format!("/api/cameras/{cid}/presets/{pid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, p);
    assert_error(
        app.get(&format!("/api/cameras/{}/presets/{pid}", cid + 1))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;

    // A second preset, then the camera goes and takes its presets with it.
    let p2: Value = app
        .post(&path, json!({"name":"dock","pan":90,"tilt":-10,"zoom":50}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/presets/{pid}")).await.status(),
        204
    );
    assert_error(
        app.get(&format!("/api/presets/{pid}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/cameras/{cid}")).await.status(),
        204
    );
    assert_error(
        app.get(&format!("/api/presets/{}", p2["id"])).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_covers_the_routes() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/cameras",
        "/api/cameras/{id}",
        "/api/cameras/{id}/presets",
        "/api/presets/{id}",
        "/api/auth/login",
        "/api/auth/setup",
        "/api/auth/tokens",
        "/api/health",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(doc["components"]["schemas"]["CameraInput"].is_object());
    let r = app.get("/api/docs/").await;
    assert_eq!(r.status(), 200);
    app.stop().await;
}
