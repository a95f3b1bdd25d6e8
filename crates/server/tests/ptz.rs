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

/// The names of the presets the simulated camera holds, in order.
fn camera_presets(sim: &SimCamera) -> Vec<(String, String)> {
    sim.presets()
        .into_iter()
        .map(|p| (p.token, p.name))
        .collect()
}

fn set_preset_calls(sim: &SimCamera) -> usize {
    sim.stats()
        .actions
        .iter()
        .filter(|a| *a == "SetPreset")
        .count()
}

#[tokio::test]
async fn refused_captures_leave_no_preset_on_the_camera() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim, "admin123").await;
    let capture = format!("/api/cameras/{cam}/presets/capture");
    let manual = app
        .post(
            &format!("/api/cameras/{cam}/presets"),
            json!({"name": "Manual", "pan": 0, "tilt": 0, "zoom": 0}),
        )
        .await;
    assert_eq!(manual.status(), 201);
    let ok = app.post(&capture, json!({"name": "dock"})).await;
    assert_eq!(ok.status(), 201);
    let before = camera_presets(&sim);
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(set_preset_calls(&sim), 1);

    for (body, status, code, field) in [
        (
            json!({"name": "pier", "settle_ms": 999_999}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "settle_ms",
        ),
        (
            json!({"name": "pier", "settle_ms": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "settle_ms",
        ),
        (
            json!({"name": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "name",
        ),
        (
            json!({"name": "bell\u{7}"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "name",
        ),
        // Taken, whatever the case: the database would refuse it after the camera stored it.
        (
            json!({"name": "DOCK"}),
            StatusCode::CONFLICT,
            "conflict",
            "name",
        ),
        (
            json!({"name": "manual"}),
            StatusCode::CONFLICT,
            "conflict",
            "name",
        ),
    ] {
        let r = app.post(&capture, body.clone()).await;
        assert_error(r, status, code, Some(field)).await;
        assert_eq!(camera_presets(&sim), before, "after {body}");
    }
    assert_eq!(set_preset_calls(&sim), 1, "{:?}", sim.stats().actions);
    let listed: Value = app
        .get(&format!("/api/cameras/{cam}/presets"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    sim.shutdown().await;
    app.stop().await;
}

fn stop_calls(sim: &SimCamera) -> usize {
    sim.stats().actions.iter().filter(|a| *a == "Stop").count()
}

#[tokio::test]
async fn a_move_the_camera_does_not_end_is_stopped_by_the_appliance() {
    // Like the third-party ONVIF server that kept moving: the Timeout is ignored.
    let sim = SimCamera::start(SimOptions {
        honour_move_timeout: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim, "admin123").await;
    let pad = format!("/api/cameras/{cam}/ptz/move");
    let timeout = Duration::from_millis(800);
    let slow_right = json!({"pan": 0.2, "tilt": 0.0, "timeout_ms": 800});

    // Held: each refresh pushes the deadline back, so nothing stops the head meanwhile.
    let first = Instant::now();
    let mut last = first;
    for _ in 0..5 {
        assert_eq!(app.post(&pad, slow_right.clone()).await.status(), 204);
        last = Instant::now();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(stop_calls(&sim), 0, "stopped while held");
    assert!(sim.is_moving());

    // Released without a stop (a closed tab, a lost network): the appliance sends one.
    tokio::time::sleep_until((last + timeout + Duration::from_millis(500)).into()).await;
    assert_eq!(stop_calls(&sim), 1, "{:?}", sim.stats().actions);
    assert!(!sim.is_moving());
    let stopped = sim.position();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sim.position(), stopped, "the head still moves");
    // At 0.2 units/s from the first move to the deadline of the last (plus a little for the
    // exchanges), not further as a head left running would be.
    let held = (last - first + timeout).as_secs_f64();
    assert!(
        stopped.pan > 0.2 * held - 0.02 && stopped.pan < 0.2 * held + 0.06,
        "stopped at {stopped:?} after {held:.2} s"
    );

    // An explicit stop ends the watchdog: no second Stop later.
    assert_eq!(app.post(&pad, slow_right.clone()).await.status(), 204);
    let r = app
        .post(&format!("/api/cameras/{cam}/ptz/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(stop_calls(&sim), 2);
    tokio::time::sleep(timeout + Duration::from_millis(500)).await;
    assert_eq!(stop_calls(&sim), 2, "{:?}", sim.stats().actions);

    // A preset move right after the pad is not cut short by the pad's pending Stop.
    let p: Value = app
        .post(
            &format!("/api/cameras/{cam}/presets"),
            json!({"name": "left", "pan": -90, "tilt": 0, "zoom": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.post(&pad, slow_right).await.status(), 204);
    let r = app
        .post(&format!("/api/presets/{}/move", p["id"]), json!({}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let pos = sim.position();
    assert!((pos.pan + 0.5).abs() < 0.02, "{pos:?}");
    assert_eq!(stop_calls(&sim), 2, "{:?}", sim.stats().actions);
    sim.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_preset_removes_it_on_the_camera_or_says_why_not() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim, "admin123").await;
    let capture = |name: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    &format!("/api/cameras/{cam}/presets/capture"),
                    json!({ "name": name }),
                )
                .await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }
    };
    let tokens =
        |sim: &SimCamera| -> Vec<String> { sim.presets().into_iter().map(|p| p.token).collect() };

    // Both routes remove the camera's copy.
    let dock = capture("dock").await;
    let pier = capture("pier").await;
    let (t_dock, t_pier) = (
        dock["onvif_token"].as_str().unwrap().to_string(),
        pier["onvif_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(tokens(&sim), ["0", t_dock.as_str(), t_pier.as_str()]);
    let r = app.delete(&format!("/api/presets/{}", dock["id"])).await;
    assert_eq!(r.status(), 204);
    assert_eq!(tokens(&sim), ["0", t_pier.as_str()]);
    let r = app
        .delete(&format!("/api/cameras/{cam}/presets/{}", pier["id"]))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(tokens(&sim), ["0"]);

    // A token the camera already forgot does not stop the delete.
    let imported: Value = app
        .post(&format!("/api/cameras/{cam}/presets/import"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let zero = imported["imported"][0].clone();
    assert_eq!(zero["onvif_token"], "0");
    let direct = vs_onvif::OnvifClient::new(sim.client_config()).unwrap();
    vs_onvif::Ptz::remove_preset(&direct, "000", "0")
        .await
        .unwrap();
    let r = app.delete(&format!("/api/presets/{}", zero["id"])).await;
    assert_eq!(r.status(), 204);

    // The camera cannot be reached: the preset is kept, and the answer says why and what to do.
    let gate = capture("gate").await;
    sim.shutdown().await;
    let r = app.delete(&format!("/api/presets/{}", gate["id"])).await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "the preset 'gate' was not deleted, because the camera did not remove its copy \
             (token {}): cannot reach the camera: 127.0.0.1:",
            gate["onvif_token"].as_str().unwrap()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "Fix the camera's connection and delete it again, or delete with force=true to \
             remove it from the appliance only"
        ),
        "{msg}"
    );
    assert_eq!(
        app.get(&format!("/api/presets/{}", gate["id"]))
            .await
            .status(),
        200,
        "kept"
    );
    let r = app
        .delete(&format!("/api/presets/{}?force=true", gate["id"]))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.get(&format!("/api/presets/{}", gate["id"]))
            .await
            .status(),
        404
    );
    // A preset never saved on the camera needs no camera.
    let p: Value = app
        .post(
            &format!("/api/cameras/{cam}/presets"),
            json!({"name": "typed", "pan": 0, "tilt": 0, "zoom": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/presets/{}", p["id"]))
            .await
            .status(),
        204
    );
    app.stop().await;
}

/// A real HTTP server on 127.0.0.1 that is not ONVIF: every request gets a web page, as from a
/// camera's web interface.
async fn web_page_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|| async {
        axum::response::Html(
            "<!DOCTYPE html>\n<html lang=en><head><title>IPCam</title></head><body>Login</body></html>",
        )
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (port, task)
}

#[tokio::test]
async fn errors_name_what_to_fix() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;

    // The camera's web port given as its ONVIF port.
    let (port, web) = web_page_server().await;
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Web", "type": "PTZ", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s",
                   "username": "admin", "password": "admin123",
                   "onvif_host": "127.0.0.1", "onvif_port": port}),
        )
        .await;
    let cam = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/cameras/{cam}/ptz")).await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    assert_eq!(
        body["message"],
        format!(
            "the device at 127.0.0.1:{port} answered, but not with ONVIF SOAP (HTTP 200, \
             text/html) — is this the ONVIF port? Common ONVIF ports are 8899, 80, 8000"
        )
    );
    web.abort();

    // No ONVIF port set: port 80 is a guess, and the answer says which ports to set.
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Unset", "type": "PTZ", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s"}),
        )
        .await;
    let unset = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/cameras/{unset}/ptz/stop"), json!({}))
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().ends_with(
            ". No ONVIF port is set for camera 'Unset', so port 80 was tried; PTZ cameras \
             usually answer ONVIF on port 8899 or 80: set the camera's ONVIF port"
        ),
        "{body}"
    );

    // A login refused with a bare 401: no empty "()" where the challenge list was.
    let sim = SimCamera::start(SimOptions {
        http_digest: false,
        bare_401: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Bare", "type": "PTZ", "protocol": "RTSP", "address": "rtsp://127.0.0.1:1/s",
                   "username": "admin", "password": "wrong",
                   "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()}),
        )
        .await;
    let bare = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/cameras/{bare}/ptz")).await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    assert_eq!(
        body["message"],
        "the camera rejected the ONVIF username or password (GetCapabilities: the WS-Security \
         login was refused with HTTP 401); check the camera's credentials and that its clock is \
         roughly right"
    );
    sim.shutdown().await;
    app.stop().await;
}
