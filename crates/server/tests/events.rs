//! The event stream pages live on (`/api/events`): `stream_status` and `program_status` carry
//! the stream or program exactly as its `GET` returns it, at every change and steadily while it
//! runs, with real FFmpeg, a real RTSP camera and a real RTMP ingest on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer};

/// A browser's view of `/api/events`: the events in order, parsed.
struct EventReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl EventReader {
    async fn open(app: &TestApp) -> EventReader {
        let r = app.client.get(app.url("/api/events")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        EventReader {
            body: Box::pin(r.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event (name, JSON data), skipping keep-alive comments.
    async fn next(&mut self, deadline: Instant) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = Some(n.trim().to_string());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                let Some(name) = name else { continue };
                return Some((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
            let chunk = tokio::time::timeout_at(deadline.into(), self.body.next())
                .await
                .ok()??
                .ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits for an event `kind` whose data matches `pred`; the others are skipped.
    async fn wait(&mut self, kind: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some((name, data)) = self.next(deadline).await {
            if name == kind && pred(&data) {
                return data;
            }
            if name == kind {
                seen.push(data);
            }
        }
        panic!("no matching {kind} event within {within:?}; seen: {seen:#?}");
    }

    /// How many `kind` events matching `pred` arrive during `window`.
    async fn count(
        &mut self,
        kind: &str,
        window: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> usize {
        let deadline = Instant::now() + window;
        let mut n = 0;
        while let Some((name, data)) = self.next(deadline).await {
            if name == kind && pred(&data) {
                n += 1;
            }
        }
        n
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object expected: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// The same fields, at the top and in the nested objects pages read, as `reference`.
fn assert_same_shape(event: &Value, reference: &Value, nested: &[&str]) {
    assert_eq!(keys(event), keys(reference), "{event}\n{reference}");
    for path in nested {
        let (e, r) = (
            event.pointer(path).unwrap(),
            reference.pointer(path).unwrap(),
        );
        assert_eq!(keys(e), keys(r), "{path}: {e}\n{r}");
    }
}

async fn id_of(r: reqwest::Response) -> i64 {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn stream_status_events_follow_a_stream() {
    let cam = FakeCamera::start(CameraOptions::new("Dock").size(320, 180).fps(25))
        .await
        .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let camera = id_of(
        app.post(
            "/api/cameras",
            json!({"name": "Dock", "type": "STATIC", "protocol": "RTSP", "address": cam.url()}),
        )
        .await,
    )
    .await;
    let dest = id_of(app.post("/api/destinations", json!({"name": "YT", "platform": "custom", "url": rtmp.base_url(), "stream_key": "ev-key-1"})).await).await;
    let mut events = EventReader::open(&app).await;

    let s = id_of(
        app.post(
            "/api/streams",
            json!({"name": "Dock out", "camera_id": camera, "destination_ids": [dest]}),
        )
        .await,
    )
    .await;
    let created = events
        .wait("stream_status", Duration::from_secs(5), |d| d["id"] == s)
        .await;
    assert_eq!(created["status"]["state"], "stopped", "{created}");

    let r = app
        .post(&format!("/api/streams/{s}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    // Pushed as soon as the copy runs, without anyone asking.
    let running = events
        .wait("stream_status", Duration::from_secs(20), |d| {
            d["id"] == s && d["status"]["state"] == "running"
        })
        .await;
    assert_eq!(running["desired_state"], "running");
    assert_eq!(running["status"]["outputs"][0]["destination_id"], dest);
    assert_eq!(running["status"]["outputs"][0]["state"], "running");
    assert!(
        !running.to_string().contains("ev-key-1"),
        "no stream key in an event"
    );
    let reference: Value = app
        .get(&format!("/api/streams/{s}"))
        .await
        .json()
        .await
        .unwrap();
    assert_same_shape(&running, &reference, &["/status", "/status/outputs/0"]);
    assert_eq!(running["name"], reference["name"]);
    assert_eq!(running["destination_ids"], reference["destination_ids"]);

    // While it runs, its counters keep coming (every 2 s) although nothing changes.
    let steady = events
        .count("stream_status", Duration::from_millis(4500), |d| {
            d["id"] == s && d["status"]["state"] == "running"
        })
        .await;
    assert!(
        steady >= 2,
        "{steady} periodic stream_status events in 4.5 s"
    );

    let r = app.post(&format!("/api/streams/{s}/stop"), json!({})).await;
    assert_eq!(r.status(), 200);
    let stopped = events
        .wait("stream_status", Duration::from_secs(10), |d| {
            d["id"] == s && d["status"]["state"] == "stopped"
        })
        .await;
    assert_eq!(stopped["desired_state"], "stopped");
    assert_eq!(stopped["status"]["outputs"], json!([]));
    // Nothing more about a stopped stream.
    let after = events
        .count("stream_status", Duration::from_millis(2500), |d| {
            d["id"] == s
        })
        .await;
    assert_eq!(after, 0, "events after the stop");

    let r = app.delete(&format!("/api/streams/{s}")).await;
    assert!(r.status().is_success());
    let gone = events
        .wait("stream_status", Duration::from_secs(5), |d| d["id"] == s)
        .await;
    assert_eq!(
        gone,
        json!({ "id": s }),
        "a deleted stream is a bare reference"
    );
    app.stop().await;
}

#[tokio::test]
async fn program_status_events_follow_takes_slate_overlays_and_stop() {
    let cam = FakeCamera::start(
        CameraOptions::new("Red")
            .size(320, 180)
            .fps(25)
            .pattern("red")
            .overlay(false),
    )
    .await
    .unwrap();
    let rtmp = RtmpServer::start().await.unwrap();
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let camera = id_of(
        app.post(
            "/api/cameras",
            json!({"name": "Red", "type": "STATIC", "protocol": "RTSP", "address": cam.url()}),
        )
        .await,
    )
    .await;
    let dest = id_of(app.post("/api/destinations", json!({"name": "YT", "platform": "custom", "url": rtmp.base_url(), "stream_key": "ev-key-2"})).await).await;
    let p = id_of(app.post("/api/programs", json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]})).await).await;
    let clock = id_of(app.post("/api/overlays", json!({"name": "Clock", "kind": "clock", "definition": {"x": 40, "y": 40, "font_size": 48, "color": "#ffffff"}})).await).await;
    let mut events = EventReader::open(&app).await;

    let r = app
        .post(&format!("/api/programs/{p}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let started = events
        .wait("program_status", Duration::from_secs(10), |d| {
            d["id"] == p && d["live"].is_object()
        })
        .await;
    assert_eq!(started["desired_state"], "running");
    events
        .wait("program_status", Duration::from_secs(20), |d| {
            d["id"] == p && d["live"]["outputs"][0]["state"] == "running"
        })
        .await;

    // A take is pushed at once (pending), then again when the camera's first frame is on air.
    let r = app
        .post(
            &format!("/api/programs/{p}/take"),
            json!({"camera_id": camera}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let pending = events
        .wait("program_status", Duration::from_secs(5), |d| {
            d["id"] == p
                && (d["live"]["pending_camera_id"] == camera
                    || d["live"]["on_air_camera_id"] == camera)
        })
        .await;
    assert_eq!(pending["live"]["pending_camera_id"], camera, "{pending}");
    let on_air = events
        .wait("program_status", Duration::from_secs(15), |d| {
            d["id"] == p
                && d["live"]["on_air_camera_id"] == camera
                && d["live"]["pending_camera_id"].is_null()
                && d["live"]["slate_active"] == false
        })
        .await;
    assert_eq!(on_air["on_air_camera_id"], camera);
    assert!(
        !on_air.to_string().contains("ev-key-2"),
        "no stream key in an event"
    );
    let reference: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_same_shape(
        &on_air,
        &reference,
        &["/live", "/live/outputs/0", "/live/ingests/0"],
    );

    // While it runs, its counters keep coming (every second) although nothing changes.
    let steady = events
        .count("program_status", Duration::from_millis(3500), |d| {
            d["id"] == p && d["live"]["on_air_camera_id"] == camera
        })
        .await;
    assert!(
        steady >= 2,
        "{steady} periodic program_status events in 3.5 s"
    );

    let r = app
        .put(
            &format!("/api/programs/{p}/overlays"),
            json!([{"overlay_id": clock, "visible": true}]),
        )
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    events
        .wait("program_status", Duration::from_secs(5), |d| {
            d["id"] == p && d["overlays"] == json!([{"overlay_id": clock, "visible": true}])
        })
        .await;

    let r = app
        .post(&format!("/api/programs/{p}/slate"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    events
        .wait("program_status", Duration::from_secs(5), |d| {
            d["id"] == p
                && d["live"]["on_air_camera_id"].is_null()
                && d["live"]["slate_active"] == true
        })
        .await;

    let r = app
        .post(&format!("/api/programs/{p}/stop"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let stopped = events
        .wait("program_status", Duration::from_secs(15), |d| {
            d["id"] == p && d["live"].is_null()
        })
        .await;
    assert_eq!(stopped["desired_state"], "stopped");
    let after = events
        .count("program_status", Duration::from_millis(2000), |d| {
            d["id"] == p
        })
        .await;
    assert_eq!(after, 0, "events after the stop");
    app.stop().await;
}
