//! PTZ over ONVIF end to end, against the simulated camera that speaks real SOAP 1.2 with HTTP
//! Digest like the Sunba whose captures are in shared/fixtures, and moves at a finite speed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_onvif::sim::{SimCamera, SimOptions};

async fn ptz_camera(app: &TestApp, sim: &SimCamera, password: &str) -> i64 {
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Sunba", "type": "PTZ", "protocol": "RTSP",
                   "address": "rtsp://127.0.0.1:1/stream",
                   "username": "admin", "password": password,
                   "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn preset_move_reports_only_once_the_camera_has_settled() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim, "admin123").await;
    let p: Value = app
        .post(
            &format!("/api/cameras/{cam}/presets"),
            json!({"name": "dock", "pan": 90, "tilt": 45, "zoom": 50}),
        )
        .await
        .json()
        .await
        .unwrap();
    let started = Instant::now();
    let r = app
        .post(&format!("/api/presets/{}/move", p["id"]), json!({}))
        .await;
    let took = started.elapsed();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    // 0.5 ONVIF units on each axis at 0.5 units/s: about a second of travel.
    assert!(
        took >= Duration::from_millis(900),
        "answered after {took:?}, before the camera arrived"
    );
    assert!(!sim.is_moving(), "the camera still moves");
    let pos = sim.position();
    assert!(
        (pos.pan - 0.5).abs() < 0.02
            && (pos.tilt - 0.5).abs() < 0.02
            && (pos.zoom - 0.5).abs() < 0.02,
        "{pos:?}"
    );
    assert!(report["elapsed_ms"].as_u64().unwrap() >= 900, "{report}");
    let state: Value = app
        .get(&format!("/api/cameras/{cam}/ptz"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["move_status"], "idle");
    assert!(
        (state["position"]["pan"].as_f64().unwrap() - 90.0).abs() < 2.0,
        "{state}"
    );

    // The camera's own presets come in with their tokens; moving to one uses GotoPreset.
    let imported: Value = app
        .post(&format!("/api/cameras/{cam}/presets/import"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        imported["imported"].as_array().unwrap().len(),
        1,
        "{imported}"
    );
    let token_preset = imported["imported"][0].clone();
    assert_eq!(token_preset["onvif_token"], "0");
    let again: Value = app
        .post(&format!("/api/cameras/{cam}/presets/import"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["skipped"].as_array().unwrap().len(), 1);
    let r = app
        .post(
            &format!("/api/cameras/{cam}/presets/{}/move", token_preset["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        sim.stats().actions.iter().any(|a| a == "GotoPreset"),
        "{:?}",
        sim.stats().actions
    );
    sim.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn pad_moves_and_stops_and_current_position_becomes_a_preset() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim, "admin123").await;
    let r = app
        .post(
            &format!("/api/cameras/{cam}/ptz/move"),
            json!({"pan": 1.0, "tilt": 0.0}),
        )
        .await;
    assert_eq!(r.status(), 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.is_moving());
    assert_eq!(
        app.post(&format!("/api/cameras/{cam}/ptz/stop"), json!({}))
            .await
            .status(),
        204
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sim.is_moving());
    let pan = sim.position().pan;
    assert!(pan > 0.05, "moved right: {pan}");

    let r = app
        .post(
            &format!("/api/cameras/{cam}/presets/capture"),
            json!({"name": "here"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert!(
        (p["pan"].as_f64().unwrap() - pan * 180.0).abs() < 1.0,
        "{p} vs {pan}"
    );
    assert!(p["onvif_token"].is_string(), "saved on the camera too: {p}");

    for (body, field) in [
        (json!({"pan": 2.0}), "pan"),
        (json!({"zoom": -1.5}), "zoom"),
        (json!({"pan": 0.5, "timeout_ms": 5}), "timeout_ms"),
    ] {
        let r = app
            .post(&format!("/api/cameras/{cam}/ptz/move"), body)
            .await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    sim.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn errors_a_user_can_act_on_and_clock_skew() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;

    // Wrong password: a device error that says so, quickly.
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let cam = ptz_camera(&app, &sim, "wrong").await;
    let t = Instant::now();
    let r = app.get(&format!("/api/cameras/{cam}/ptz")).await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("auth"),
        "{body}"
    );
    assert!(
        !body.to_string().contains("wrong"),
        "no password echoed: {body}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    sim.shutdown().await;

    // Not a PTZ camera.
    let r = app
        .post("/api/cameras", json!({"name": "Fixed", "type": "STATIC", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s"}))
        .await;
    let fixed = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let p: Value = app
        .post(
            &format!("/api/cameras/{fixed}/presets"),
            json!({"name": "a", "pan": 0, "tilt": 0, "zoom": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .post(&format!("/api/presets/{}/move", p["id"]), json!({}))
        .await;
    let body = assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("not a PTZ camera"));

    // Unreachable: an error within the timeout, never a hang.
    let port = vs_testrig::free_port();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Gone", "type": "PTZ", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s",
                   "onvif_host": "127.0.0.1", "onvif_port": port}),
        )
        .await;
    let gone = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let t = Instant::now();
    let r = app
        .post(&format!("/api/cameras/{gone}/ptz/stop"), json!({}))
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    assert!(t.elapsed() < Duration::from_secs(7));

    // A camera clock ten minutes off still authenticates.
    let sim = SimCamera::start(SimOptions {
        clock_skew: chrono::TimeDelta::minutes(10),
        ..Default::default()
    })
    .await
    .unwrap();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Skewed", "type": "PTZ", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s",
                   "username": "admin", "password": "admin123",
                   "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()}),
        )
        .await;
    let skewed = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/cameras/{skewed}/ptz")).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    sim.shutdown().await;
    app.stop().await;
}

/// A connector of the test's own, injected through `App::build_with`: it records the settings
/// each camera's client is made with and points the client at the simulator whatever host the
/// camera names.
struct RedirectConnector {
    to: std::net::SocketAddr,
    asked: std::sync::Mutex<Vec<(String, u16, String)>>,
}

impl vistterstream::services::ptz::PtzConnector for RedirectConnector {
    fn connect(
        &self,
        mut config: vs_onvif::OnvifConfig,
    ) -> vs_base::Result<std::sync::Arc<dyn vs_onvif::Ptz>> {
        self.asked.lock().unwrap().push((
            config.host.clone(),
            config.port,
            config.username.clone(),
        ));
        config.host = self.to.ip().to_string();
        config.port = self.to.port();
        Ok(std::sync::Arc::new(vs_onvif::OnvifClient::new(config)?))
    }
}

#[tokio::test]
async fn the_ptz_connector_comes_in_through_the_app_deps() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let connector = std::sync::Arc::new(RedirectConnector {
        to: sim.addr(),
        asked: Default::default(),
    });
    let deps = vistterstream::AppDeps {
        ptz: connector.clone(),
        ..vistterstream::AppDeps::real()
    };
    let app = TestApp::spawn_with_deps(|_| {}, deps).await;
    app.setup_admin().await;
    // A host that resolves nowhere: only the injected connector can reach the camera.
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Sunba", "type": "PTZ", "protocol": "RTSP",
                   "address": "rtsp://127.0.0.1:1/stream",
                   "username": "admin", "password": "admin123",
                   "onvif_host": "ptz.camera.invalid", "onvif_port": 8000}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let cam = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let p: Value = app
        .post(
            &format!("/api/cameras/{cam}/presets"),
            json!({"name": "dock", "pan": 90, "tilt": 45, "zoom": 50}),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .post(&format!("/api/presets/{}/move", p["id"]), json!({}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let pos = sim.position();
    assert!((pos.pan - 0.5).abs() < 0.02, "{pos:?}");
    assert_eq!(
        connector.asked.lock().unwrap().clone(),
        [("ptz.camera.invalid".to_string(), 8000, "admin".to_string())],
        "one client, made by the injected connector with the camera's settings"
    );
    sim.shutdown().await;
    app.stop().await;
}
