//! The operator's console over the real appliance: the journal behind the Events page
//! (`GET /api/events/recent`: logins, a camera going offline with the reason, filters, bad
//! filters), and PTZ fine framing against the simulated ONVIF camera (a step by RelativeMove,
//! settled; imported presets with readable names).

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_onvif::sim::{SimCamera, SimOptions, SimPreset};
use vs_onvif::PtzVector;

async fn recent(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/events/recent{query}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Vec<Value>>().await.unwrap()
}

#[tokio::test]
async fn the_journal_keeps_logins_and_a_camera_going_offline_with_why() {
    let app = TestApp::spawn().await; // health interval: 1 s
    app.setup_admin().await;

    // A wrong password for a user that exists, and one with a name that is not a user (which
    // could be a password typed in the wrong field: it must not be written anywhere).
    let anon = app.anonymous();
    for (user, pw) in [(ADMIN, "not-the-password"), ("hunter2-secret", "x")] {
        let r = anon
            .post(app.url("/api/auth/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    app.login_admin().await;

    let users = recent(&app, "?subject_type=user").await;
    let actions: Vec<_> = users
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        ["login", "login_failed", "login_failed"],
        "{users:?}"
    );
    assert_eq!(users[0]["subject_name"], ADMIN);
    assert_eq!(users[0]["severity"], "info");
    assert_eq!(users[2]["subject_name"], ADMIN);
    assert!(users[1]["subject_name"].is_null(), "{}", users[1]);
    let all = app.get("/api/events/recent").await.text().await.unwrap();
    assert!(!all.contains("hunter2"), "{all}");

    // A camera nobody answers for: offline, with the reason, in the journal and pushed live.
    let events = app.client.get(app.url("/api/events")).send().await.unwrap();
    let mut body = events.bytes_stream();
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Gate", "type": "Static", "protocol": "RTSP",
                   "address": "rtsp://127.0.0.1:1/stream"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cam = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let offline = loop {
        let list = recent(&app, &format!("?subject_type=camera&subject_id={cam}")).await;
        if let Some(e) = list.iter().find(|e| e["action"] == "offline") {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no offline entry: {list:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(offline["severity"], "error");
    let msg = offline["message"].as_str().unwrap();
    assert!(msg.starts_with("offline: "), "{msg}");
    assert!(msg.len() > "offline: ".len(), "a reason: {msg}");
    let errors = recent(&app, "?severity=error&limit=1").await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["subject_id"], cam);
    // Filters combine: this camera's entries only, and newer than a sequence number.
    let after = recent(&app, &format!("?after={}", offline["seq"])).await;
    assert!(after
        .iter()
        .all(|e| e["seq"].as_u64() > offline["seq"].as_u64()));

    // The same entry reached the event stream as `journal`.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    use futures::StreamExt;
    while !(seen.contains("event: journal") && seen.contains("\"action\":\"offline\"")) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => panic!("no journal event on /api/events: {seen}"),
        }
    }

    // Bad filters are 422 with the field; a malformed one is 400.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?subject_type=planet", "subject_type"),
        ("?severity=fatal", "severity"),
    ] {
        let r = app.get(&format!("/api/events/recent{q}")).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let r = app.get("/api/events/recent?subject_id=abc").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Behind auth like everything else.
    let r = app
        .anonymous()
        .get(app.url("/api/events/recent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn ptz_camera(app: &TestApp, sim: &SimCamera) -> i64 {
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Sunba", "type": "PTZ", "protocol": "RTSP",
                   "address": "rtsp://127.0.0.1:1/stream",
                   "username": "admin", "password": "admin123",
                   "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_step_is_a_relative_move_that_answers_once_settled() {
    let sim = SimCamera::start(SimOptions {
        start_position: PtzVector::new(0.5, 0.0, 0.25),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim).await;

    let state: Value = app
        .get(&format!("/api/cameras/{cam}/ptz"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["relative"], true, "{state}");
    assert!(
        (state["position"]["pan"].as_f64().unwrap() - 90.0).abs() < 0.5,
        "{state}"
    );

    // 9° right and 4.5° down: 0.05 of the generic space on each axis.
    let r = app
        .post(
            &format!("/api/cameras/{cam}/ptz/step"),
            json!({"pan": 9.0, "tilt": -4.5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["method"], "relative", "{report}");
    assert!(!sim.is_moving(), "answered before the camera settled");
    let pos = sim.position();
    assert!(
        (pos.pan - 0.55).abs() < 0.002
            && (pos.tilt + 0.05).abs() < 0.002
            && (pos.zoom - 0.25).abs() < 1e-6,
        "{pos:?}"
    );
    assert!(
        (report["position"]["pan"].as_f64().unwrap() - 99.0).abs() < 0.5,
        "{report}"
    );
    assert!(sim.stats().actions.iter().any(|a| a == "RelativeMove"));
    assert!(!sim.stats().actions.iter().any(|a| a == "AbsoluteMove"));

    // Out of the units' range: 422 naming the field, nothing sent.
    let before = sim.stats().actions.len();
    let r = app
        .post(&format!("/api/cameras/{cam}/ptz/step"), json!({"pan": 200}))
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("pan"),
    )
    .await;
    let r = app
        .post(&format!("/api/cameras/{cam}/ptz/step"), json!({"roll": 1}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.stats().actions.len(), before);
    sim.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn imported_presets_without_a_real_name_get_a_readable_one() {
    let at = |token: &str, name: &str| SimPreset {
        token: token.into(),
        name: name.into(),
        position: PtzVector::default(),
    };
    let sim = SimCamera::start(SimOptions {
        // The captured camera names its preset by its token ("0"); others send nothing.
        presets: vec![at("0", "0"), at("3", ""), at("7", "  Dock  ")],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let cam = ptz_camera(&app, &sim).await;
    let r = app
        .post(&format!("/api/cameras/{cam}/presets/import"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    let names: Vec<_> = report["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Preset 0", "Preset 3", "Dock"], "{report}");
    sim.shutdown().await;
    app.stop().await;
}
