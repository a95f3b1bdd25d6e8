//! The VistterStudio link over a real broker: Debian's Mosquitto on 127.0.0.1 with TLS from a
//! CA the test makes, passwords and an ACL, driven by a small studio client (vs-testrig).
//! Three appliances load and play a timeline on one broker and report back; the broker restarts
//! mid-timeline; a command delivered twice runs once (also across an appliance restart); a
//! thousand malformed payloads get refusing ACKs and nothing else; the broker refuses a device
//! that writes to another's command topic; the settings are checked, TLS verifies the broker,
//! and the last will marks a lost appliance offline. Every message seen is checked against the
//! JSON Schemas of docs/studio-link/.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use vs_testrig::{mqtt5_publish_and_subscribe, MqttBroker, MqttMessage, MqttOptions, StudioClient};
use vs_timeline::{OverlayShow, ProgramControl};

const STUDIO_PW: &str = "studio-secret-7";
const WAIT: Duration = Duration::from_secs(60);

fn device_pw(id: &str) -> String {
    format!("pw-{id}-Xy9")
}

/// Every device may read its own command topic and write its own four others (the ACL the
/// README recommends); the studio may do everything under `vistter/`.
fn broker_options(devices: &[&str]) -> MqttOptions {
    let mut users = vec![("studio".to_string(), STUDIO_PW.to_string())];
    users.extend(devices.iter().map(|d| (d.to_string(), device_pw(d))));
    MqttOptions {
        users,
        acl: "user studio\ntopic readwrite vistter/#\n\n\
              pattern read vistter/%u/cmd\n\
              pattern write vistter/%u/ack\n\
              pattern write vistter/%u/event\n\
              pattern write vistter/%u/metrics\n\
              pattern write vistter/%u/status\n"
            .into(),
        client_certificates: false,
    }
}

// ---------------------------------------------------------------------------------------------
// The contract's schemas.

struct Schemas {
    ack: jsonschema::Validator,
    progress: jsonschema::Validator,
    event: jsonschema::Validator,
    metrics: jsonschema::Validator,
    status: jsonschema::Validator,
    commands: jsonschema::Validator,
}

fn schemas() -> &'static Schemas {
    static S: std::sync::OnceLock<Schemas> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/studio-link");
        let load = |name: &str| -> &'static Value {
            let text = std::fs::read_to_string(dir.join(name)).expect("schema file");
            Box::leak(Box::new(serde_json::from_str(&text).expect("schema JSON")))
        };
        let names = [
            "envelope", "ack", "progress", "event", "metrics", "status", "commands",
        ];
        let mut registry = jsonschema::Registry::new();
        for n in names {
            let v = load(&format!("{n}.schema.json"));
            registry = registry
                .add(v["$id"].as_str().expect("$id"), v)
                .expect("schema registers");
        }
        let registry: &'static jsonschema::Registry<'static> =
            Box::leak(Box::new(registry.prepare().expect("registry")));
        let build = |n: &str| {
            jsonschema::options()
                .with_registry(registry)
                .should_validate_formats(true)
                .build(load(&format!("{n}.schema.json")))
                .unwrap_or_else(|e| panic!("{n}.schema.json compiles: {e}"))
        };
        Schemas {
            ack: build("ack"),
            progress: build("progress"),
            event: build("event"),
            metrics: build("metrics"),
            status: build("status"),
            commands: build("commands"),
        }
    })
}

fn assert_valid(v: &jsonschema::Validator, m: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(m)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} breaks its schema: {errors:?}\n{m}"
    );
}

/// Checks one message the studio received against the schema of its topic and type.
fn check_message(m: &MqttMessage) -> Value {
    let v = m.json();
    let leaf = m.topic.rsplit('/').next().unwrap_or_default();
    let s = schemas();
    match (leaf, v["type"].as_str()) {
        ("ack", Some("ACK")) => assert_valid(&s.ack, &v, "ACK"),
        ("ack", Some("PROGRESS")) => assert_valid(&s.progress, &v, "PROGRESS"),
        ("event", Some("EVENT")) => assert_valid(&s.event, &v, "EVENT"),
        ("metrics", Some("METRICS")) => assert_valid(&s.metrics, &v, "METRICS"),
        ("status", Some("STATUS")) => assert_valid(&s.status, &v, "STATUS"),
        ("cmd", _) => {}
        other => panic!("unexpected message {other:?} on {}: {v}", m.topic),
    }
    assert_eq!(
        m.topic.split('/').nth(1),
        v["device_id"].as_str(),
        "a device writes on its own topics only: {v}"
    );
    v
}

fn check_all(msgs: &[MqttMessage]) {
    for m in msgs {
        check_message(m);
    }
}

// ---------------------------------------------------------------------------------------------
// The studio's side.

fn new_id() -> String {
    let r: [u8; 8] = rand::random();
    format!("cmd-{}", hex::encode(r))
}

/// A command as the studio writes it; its clock is decades off (timestamps are information).
fn command_with_id(device: &str, id: &str, kind: &str, payload: Value) -> Vec<u8> {
    let v = json!({
        "schema_version": "1.0", "message_id": id, "correlation_id": null,
        "timestamp": "2001-02-03T04:05:06Z", "device_id": device, "type": kind,
        "payload": payload,
    });
    assert_valid(&schemas().commands, &v, kind);
    serde_json::to_vec(&v).unwrap()
}

async fn send(studio: &StudioClient, device: &str, kind: &str, payload: Value) -> String {
    let id = new_id();
    studio
        .publish(
            &format!("vistter/{device}/cmd"),
            command_with_id(device, &id, kind, payload),
        )
        .await
        .unwrap();
    id
}

/// The messages of `device` on its `leaf` topic, as JSON, in arrival order.
fn of(msgs: &[MqttMessage], device: &str, leaf: &str) -> Vec<Value> {
    let topic = format!("vistter/{device}/{leaf}");
    msgs.iter()
        .filter(|m| m.topic == topic)
        .map(|m| m.json())
        .collect()
}

fn acks_for(msgs: &[MqttMessage], device: &str, id: &str) -> Vec<Value> {
    of(msgs, device, "ack")
        .into_iter()
        .filter(|v| v["type"] == "ACK" && v["correlation_id"] == id)
        .collect()
}

async fn ack(studio: &StudioClient, device: &str, id: &str) -> Value {
    let msgs = studio
        .wait_until(&format!("the ACK of {id} from {device}"), WAIT, |m| {
            !acks_for(m, device, id).is_empty()
        })
        .await
        .unwrap();
    let a = acks_for(&msgs, device, id).remove(0);
    assert_valid(&schemas().ack, &a, "ACK");
    a
}

async fn accepted(studio: &StudioClient, device: &str, id: &str) -> Value {
    let a = ack(studio, device, id).await;
    assert_eq!(a["payload"]["status"], "accepted", "{a}");
    a
}

// ---------------------------------------------------------------------------------------------
// The appliance's side.

/// A program backend that records what the player asks of it (no FFmpeg: the link is what is
/// under test; tests/programs.rs plays real programs).
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
    async fn prepare(&self, _camera_id: i64, _preset_id: i64) -> vs_base::Result<()> {
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

struct Device {
    app: TestApp,
    id: String,
    program: Arc<FakeProgram>,
}

fn link_body(url: &str, broker: &MqttBroker, id: &str, metrics_s: i64) -> Value {
    json!({"enabled": true, "broker_url": url, "device_id": id, "username": id,
           "password": device_pw(id), "ca_cert_pem": broker.ca_pem(),
           "metrics_interval_s": metrics_s})
}

async fn set_link(app: &TestApp, body: Value) -> Value {
    let r = app.put("/api/link", body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn link_status(app: &TestApp) -> Value {
    let r = app.get("/api/link/status").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Waits until the link's status satisfies `done`.
async fn wait_link(app: &TestApp, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = link_status(app).await;
        if done(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the link never got {what}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connected(app: &TestApp, connections: u64) -> Value {
    wait_link(app, &format!("connection {connections}"), |s| {
        s["state"] == "connected" && s["connections"].as_u64() >= Some(connections)
    })
    .await
}

async fn spawn_app() -> (TestApp, Arc<FakeProgram>) {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let program = Arc::new(FakeProgram::default());
    app.app
        .as_ref()
        .unwrap()
        .services
        .timelines
        .set_program(program.clone());
    (app, program)
}

async fn appliance(broker: &MqttBroker, id: &str, metrics_s: i64) -> Device {
    let (app, program) = spawn_app().await;
    let view = set_link(&app, link_body(&broker.url(), broker, id, metrics_s)).await;
    assert_eq!(view["settings"]["has_password"], true);
    assert_eq!(
        view["settings"]["topics"]["cmd"],
        format!("vistter/{id}/cmd")
    );
    assert!(!view.to_string().contains(&device_pw(id)), "{view}");
    connected(&app, 1).await;
    Device {
        app,
        id: id.into(),
        program,
    }
}

async fn player(app: &TestApp) -> Value {
    app.get("/api/stream/status").await.json().await.unwrap()
}

/// A VistterStudio segment, as its editor exports it: camera clips of `clip_s` seconds on
/// addresses that nothing answers (new cameras, the password sealed), and the logo on top.
fn segment(id: &str, clips: usize, clip_s: u64, with_logo: bool) -> Value {
    let video: Vec<Value> = (0..clips)
        .map(|i| {
            json!({"id": format!("clip-{i}"), "startTime": i as u64 * clip_s,
                   "endTime": (i as u64 + 1) * clip_s,
                   "asset": {"type": "static", "path": format!("rtsp://viewer:Dock-pw-42@127.0.0.1:9/cam{}", i % 2)},
                   "position": {"x": 0, "y": 0, "width": 1920, "height": 1080}})
        })
        .collect();
    let mut tracks = vec![json!({"id": "track-1", "type": "video", "clips": video})];
    let mut assets = vec![];
    if with_logo {
        tracks.push(json!({"id": "track-2", "type": "overlay", "clips": [
            {"id": "logo-clip", "startTime": 0, "endTime": clips as u64 * clip_s,
             "asset": {"type": "static", "path": "asset-logo"},
             "position": {"x": 1600, "y": 40, "width": 280, "height": 120}}]}));
        assets.push(json!({"id": "asset-logo", "type": "image", "path": "/uploads/logo.png"}));
    }
    json!({"id": id, "name": format!("Segment {id}"), "duration": clips as u64 * clip_s,
           "created": "2025-09-18T12:43:07.507Z", "updated": "2025-09-18T12:43:07.507Z",
           "tracks": tracks, "assets": assets, "apiConfigs": []})
}

fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

/// The studio's asset server: plain HTTP on 127.0.0.1, serving `body` at `/logo.png`.
async fn asset_server(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/logo.png",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A TCP relay in front of the broker whose connections the test can cut without a goodbye,
/// as a venue's router does when its line drops.
struct Relay {
    port: u16,
    cut: Arc<Mutex<CancellationToken>>,
    open: Arc<AtomicBool>,
}

impl Relay {
    async fn start(to: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let open = Arc::new(AtomicBool::new(true));
        let (c, o) = (cut.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !o.load(Ordering::SeqCst) {
                    continue;
                }
                let token = c.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                    }
                });
            }
        });
        Relay { port, cut, open }
    }

    /// Drops every connection and refuses new ones until `resume`.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let mut t = self.cut.lock().unwrap();
        t.cancel();
        *t = CancellationToken::new();
    }

    fn resume(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn three_appliances_on_one_broker_load_a_timeline_play_it_and_report() {
    let ids = ["dock-a", "dock-b", "dock-c"];
    let broker = MqttBroker::start(broker_options(&ids)).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let logo = png(3, 40_000);
    let sha = hex::encode(Sha256::digest(&logo));
    let assets = asset_server(logo.clone()).await;
    let mut devices = Vec::new();
    for id in ids {
        devices.push(appliance(&broker, id, 1).await);
    }
    // Each says it is online (retained on its status topic).
    studio
        .wait_until("three devices online", WAIT, |m| {
            ids.iter().all(|d| {
                of(m, d, "status")
                    .iter()
                    .any(|s| s["payload"]["state"] == "online")
            })
        })
        .await
        .unwrap();

    // TIMELINE_LOAD on all three: the segment, and the logo fetched and checked by SHA-256.
    let manifest = json!([{"id": "asset-logo", "name": "logo.png", "mime": "image/png",
        "path": "/uploads/logo.png", "url": format!("{assets}/logo.png"),
        "sha256": sha, "size": logo.len()}]);
    let mut loads = Vec::new();
    for d in &devices {
        loads.push(
            send(
                &studio,
                &d.id,
                "TIMELINE_LOAD",
                json!({"segments": [segment("harbour", 4, 2, true)], "assets_manifest": manifest}),
            )
            .await,
        );
    }
    for (d, id) in devices.iter().zip(&loads) {
        let a = accepted(&studio, &d.id, id).await;
        assert_eq!(a["payload"]["command"], "TIMELINE_LOAD");
        let msgs = studio.messages();
        let progress: Vec<Value> = of(&msgs, &d.id, "ack")
            .into_iter()
            .filter(|v| v["type"] == "PROGRESS" && v["correlation_id"] == id.as_str())
            .collect();
        assert_eq!(progress[0]["payload"]["state"], "fetching_assets");
        assert_eq!(progress[0]["payload"]["percent_complete"], 100);
        assert!(
            progress[0]["seq"].as_i64() < a["seq"].as_i64(),
            "PROGRESS before the ACK"
        );
        let r = d.app.get("/api/timelines/harbour").await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // A manifest whose checksum does not match the file: refused, nothing stored.
    let bad = send(
        &studio,
        "dock-a",
        "TIMELINE_LOAD",
        json!({"segments": [segment("other", 2, 2, true)], "assets_manifest": [{
            "id": "asset-logo", "name": "logo.png", "url": format!("{assets}/logo.png"),
            "sha256": hex::encode(Sha256::digest(b"something else"))}]}),
    )
    .await;
    let a = ack(&studio, "dock-a", &bad).await;
    assert_eq!(a["payload"]["status"], "refused");
    assert_eq!(a["payload"]["error"]["field"], "assets_manifest[0].sha256");
    assert_eq!(
        devices[0].app.get("/api/timelines/other").await.status(),
        StatusCode::NOT_FOUND
    );

    // A refusal says what the REST call says.
    let sc = send(
        &studio,
        "dock-b",
        "STREAM_CONTROL",
        json!({"program_id": 999, "command": "start"}),
    )
    .await;
    let a = ack(&studio, "dock-b", &sc).await;
    let rest: Value = devices[1]
        .app
        .post("/api/programs/999/start", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["payload"]["status"], "refused");
    assert_eq!(a["payload"]["error"]["error"], rest["error"]);
    assert_eq!(a["payload"]["error"]["message"], rest["message"]);

    // The inventory: what the studio needs to drive it, never a secret.
    let inv = send(&studio, "dock-c", "DEVICE_CONFIG", json!({"action": "get"})).await;
    let a = accepted(&studio, "dock-c", &inv).await;
    assert_eq!(a["payload"]["result"]["timelines"][0]["id"], "harbour");
    assert_eq!(
        a["payload"]["result"]["cameras"].as_array().unwrap().len(),
        2
    );

    // TIMELINE_EXECUTE on all three: they play, report PROGRESS clip by clip, EVENT, METRICS.
    let mut starts = Vec::new();
    for d in &devices {
        starts.push(
            send(
                &studio,
                &d.id,
                "TIMELINE_EXECUTE",
                json!({"action": "start", "timeline_id": "harbour"}),
            )
            .await,
        );
    }
    for (d, id) in devices.iter().zip(&starts) {
        let a = accepted(&studio, &d.id, id).await;
        assert_eq!(a["payload"]["result"]["state"], "playing");
        let (dev, id) = (d.id.clone(), id.clone());
        let msgs = studio
            .wait_until(&format!("{dev} playing clip 2"), WAIT, |m| {
                let clips: Vec<Value> = of(m, &dev, "ack")
                    .into_iter()
                    .filter(|v| v["type"] == "PROGRESS" && v["correlation_id"] == id.as_str())
                    .map(|v| v["payload"]["detail"]["on_air_clip"].clone())
                    .collect();
                clips.contains(&json!("clip-1"))
                    && clips.contains(&json!("clip-2"))
                    && of(m, &dev, "event")
                        .iter()
                        .any(|e| e["payload"]["event_type"] == "timeline")
                    && of(m, &dev, "metrics")
                        .iter()
                        .any(|e| e["payload"]["timeline"]["state"] == "playing")
            })
            .await
            .unwrap();
        let event = of(&msgs, &d.id, "event")
            .into_iter()
            .find(|e| e["payload"]["event_type"] == "timeline")
            .unwrap();
        assert_eq!(event["payload"]["context"]["state"], "playing");
        assert_eq!(event["payload"]["context"]["timeline_id"], "harbour");
        assert!(d
            .program
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with("take ")));
        assert_eq!(player(&d.app).await["state"], "playing");
    }
    let msgs = studio.messages();
    check_all(&msgs);
    // No message of an appliance carries the camera password of the segment or a device's.
    for m in msgs.iter().filter(|m| !m.topic.ends_with("/cmd")) {
        let text = String::from_utf8_lossy(&m.payload);
        assert!(!text.contains("Dock-pw-42"), "{text}");
        assert!(!ids.iter().any(|d| text.contains(&device_pw(d))), "{text}");
    }
    for d in devices {
        d.app.stop().await;
    }
    // A clean stop says offline (retained).
    studio
        .wait_until("three devices offline", WAIT, |m| {
            ids.iter().all(|d| {
                of(m, d, "status")
                    .last()
                    .is_some_and(|s| s["payload"]["state"] == "offline")
            })
        })
        .await
        .unwrap();
    check_all(&studio.messages());
}

#[tokio::test]
async fn a_broker_restart_mid_timeline_keeps_it_playing_and_delivers_the_queue_in_order() {
    let mut broker = MqttBroker::start(broker_options(&["pier"])).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let d = appliance(&broker, "pier", 3600).await;
    let load = send(
        &studio,
        "pier",
        "TIMELINE_LOAD",
        json!({"segments": [segment("walk", 12, 1, false)]}),
    )
    .await;
    accepted(&studio, "pier", &load).await;
    let start = send(
        &studio,
        "pier",
        "TIMELINE_EXECUTE",
        json!({"action": "start", "timeline_id": "walk"}),
    )
    .await;
    accepted(&studio, "pier", &start).await;
    let progress_of = |m: &[MqttMessage]| -> Vec<Value> {
        of(m, "pier", "ack")
            .into_iter()
            .filter(|v| v["type"] == "PROGRESS" && v["correlation_id"] == start.as_str())
            .collect()
    };
    studio
        .wait_until("two PROGRESS", WAIT, |m| progress_of(m).len() >= 2)
        .await
        .unwrap();
    let before = player(&d.app).await;

    broker.stop().await.unwrap();
    wait_link(&d.app, "the loss of the broker", |s| {
        s["state"] != "connected"
    })
    .await;
    let seen_before = studio.messages().len();
    // The timeline plays on; what it says waits in the queue.
    let s = wait_link(&d.app, "three queued messages", |s| {
        s["queue_length"].as_u64() >= Some(3)
    })
    .await;
    assert_eq!(s["dropped"], 0);
    let during = player(&d.app).await;
    assert_eq!(during["state"], "playing");
    assert_ne!(during["on_air_clip"], before["on_air_clip"]);
    assert_eq!(
        studio.messages().len(),
        seen_before,
        "nothing passes without a broker"
    );

    broker.restart().await.unwrap();
    connected(&d.app, 2).await;
    let queued = s["queue_length"].as_u64().unwrap() as usize;
    let msgs = studio
        .wait_until("the queued messages", WAIT, |m| {
            m.len() >= seen_before + queued
        })
        .await
        .unwrap();
    wait_link(&d.app, "an empty queue", |s| s["queue_length"] == 0).await;
    let msgs = studio
        .wait_until("one more PROGRESS", WAIT, |m| {
            progress_of(m).len() > progress_of(&msgs).len() + 1
        })
        .await
        .unwrap();
    check_all(&msgs);
    // Every queued message of the device, first arrivals only: seq grows by one each time, and
    // the timeline's position only moves forward.
    let mut seqs = Vec::new();
    let mut positions = Vec::new();
    for m in msgs
        .iter()
        .filter(|m| m.topic != "vistter/pier/status" && m.topic != "vistter/pier/metrics")
    {
        let v = m.json();
        let Some(seq) = v["seq"].as_i64() else {
            continue;
        };
        if seqs.contains(&seq) {
            continue; // at least once: a redelivery after the reconnection
        }
        seqs.push(seq);
        if v["type"] == "PROGRESS" && v["correlation_id"] == start.as_str() {
            let d = &v["payload"]["detail"];
            positions.push(
                d["loop_index"].as_i64().unwrap() * d["duration_ms"].as_i64().unwrap()
                    + d["position_ms"].as_i64().unwrap(),
            );
        }
    }
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + seqs.len() as i64).collect::<Vec<_>>(),
        "in order, none missing"
    );
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
    let after = player(&d.app).await;
    assert_eq!(after["state"], "playing");
    assert_eq!(after["timeline_id"], "walk");
    d.app.stop().await;
}

#[tokio::test]
async fn a_command_delivered_twice_runs_once_even_after_a_restart() {
    let broker = MqttBroker::start(broker_options(&["quay"])).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let d = appliance(&broker, "quay", 3600).await;
    let load = send(
        &studio,
        "quay",
        "TIMELINE_LOAD",
        json!({"segments": [segment("show", 2, 30, false)]}),
    )
    .await;
    accepted(&studio, "quay", &load).await;

    let topic = "vistter/quay/cmd";
    let start_id = new_id();
    let start = command_with_id(
        "quay",
        &start_id,
        "TIMELINE_EXECUTE",
        json!({"action": "start", "timeline_id": "show"}),
    );
    let stop_id = new_id();
    let stop = command_with_id(
        "quay",
        &stop_id,
        "TIMELINE_EXECUTE",
        json!({"action": "stop", "timeline_id": "show"}),
    );
    studio.publish(topic, start.clone()).await.unwrap();
    studio.publish(topic, start.clone()).await.unwrap();
    // A stop run twice would be refused the second time (the timeline is not playing).
    studio.publish(topic, stop.clone()).await.unwrap();
    studio.publish(topic, stop.clone()).await.unwrap();
    let msgs = studio
        .wait_until("two ACKs of each", WAIT, |m| {
            acks_for(m, "quay", &start_id).len() == 2 && acks_for(m, "quay", &stop_id).len() == 2
        })
        .await
        .unwrap();
    for id in [&start_id, &stop_id] {
        let a = acks_for(&msgs, "quay", id);
        assert_eq!(a[0]["payload"]["status"], "accepted", "{}", a[0]);
        assert_eq!(a[0]["message_id"], a[1]["message_id"], "the same ACK again");
        assert_eq!(a[0]["payload"], a[1]["payload"]);
        assert!(a[0]["seq"].as_i64() < a[1]["seq"].as_i64());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let takes = |p: &FakeProgram| {
        p.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with("take "))
            .count()
    };
    assert_eq!(takes(&d.program), 1, "one start: one take");
    let timeline_events = |m: &[MqttMessage]| -> Vec<String> {
        of(m, "quay", "event")
            .iter()
            .filter(|e| e["payload"]["event_type"] == "timeline")
            .map(|e| {
                e["payload"]["context"]["state"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(timeline_events(&studio.messages()), ["playing", "stopped"]);

    // The ids seen are in SQLite: after a restart the stop is answered again, not run.
    let dir = d.app.stop_keep_dir().await;
    let app = TestApp::spawn_in(dir, |_| {}, vistterstream::AppDeps::real()).await;
    app.login_admin().await;
    let program = Arc::new(FakeProgram::default());
    app.app
        .as_ref()
        .unwrap()
        .services
        .timelines
        .set_program(program.clone());
    connected(&app, 1).await;
    studio.publish(topic, stop.clone()).await.unwrap();
    studio.publish(topic, start.clone()).await.unwrap();
    let msgs = studio
        .wait_until("the third ACKs", WAIT, |m| {
            acks_for(m, "quay", &stop_id).len() == 3 && acks_for(m, "quay", &start_id).len() == 3
        })
        .await
        .unwrap();
    assert_eq!(
        acks_for(&msgs, "quay", &stop_id)[2]["payload"],
        acks_for(&msgs, "quay", &stop_id)[0]["payload"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(takes(&program), 0, "the start was not run again");
    assert_eq!(player(&app).await["state"], "stopped");
    check_all(&studio.messages());
    app.stop().await;
}

/// The i-th malformed message: never a command the appliance can run. `Some(id)` when it has
/// a message id the ACK can answer.
fn malformed(i: usize, device: &str) -> (Vec<u8>, Option<String>) {
    let id = format!("bad-{i}");
    let env = |kind: &str, payload: Value| {
        json!({"schema_version": "1.0", "message_id": id, "correlation_id": null,
               "timestamp": "2001-02-03T04:05:06Z", "device_id": device, "type": kind,
               "payload": payload})
    };
    let bytes = |v: Value| serde_json::to_vec(&v).unwrap();
    if i % 250 == 249 {
        // Over the size limit, otherwise a fine command.
        let mut v = env("DEVICE_CONFIG", json!({"action": "get"}));
        v["padding"] = json!("x".repeat(300 * 1024));
        return (bytes(v), Some(id));
    }
    match i % 12 {
        0 => (
            (0..(i % 40 + 1))
                .map(|k| (k * 37 + i) as u8 | 0x80)
                .collect(),
            None,
        ),
        1 => (
            [&b"[1,2,3]"[..], b"42", b"null", b"\"text\"", b"", b"{"][i % 6].to_vec(),
            None,
        ),
        2 => {
            let mut v = env(
                "STREAM_CONTROL",
                json!({"program_id": 1, "command": "start"}),
            );
            v.as_object_mut().unwrap().remove("message_id");
            (bytes(v), None)
        }
        3 => {
            let mut v = env(
                "STREAM_CONTROL",
                json!({"program_id": 1, "command": "start"}),
            );
            v["schema_version"] = json!("2.0");
            (bytes(v), Some(id))
        }
        4 => {
            let mut v = env(
                "STREAM_CONTROL",
                json!({"program_id": 1, "command": "start"}),
            );
            v["device_id"] = json!("someone-else");
            (bytes(v), Some(id))
        }
        5 => (bytes(env("REBOOT", json!({}))), Some(id)),
        6 => (bytes(env("TIMELINE_EXECUTE", json!([1, 2]))), Some(id)),
        7 => (
            bytes(env(
                "STREAM_CONTROL",
                json!({"program_id": "one", "command": "start"}),
            )),
            Some(id),
        ),
        8 => (
            bytes(env("CAMERA_ACTION", json!({"action": "self_destruct"}))),
            Some(id),
        ),
        9 => {
            let mut v = env("DEVICE_CONFIG", json!({"action": "get"}));
            v["timestamp"] = json!("yesterday");
            (bytes(v), Some(id))
        }
        10 => (
            bytes(env(
                "TIMELINE_LOAD",
                json!({"segments": [{"id": "x", "tracks": "none"}], "unknown_field": 1}),
            )),
            Some(id),
        ),
        _ => {
            let mut b = bytes(env("DEVICE_CONFIG", json!({"action": "get"})));
            b.truncate(b.len() / 2);
            (b, None)
        }
    }
}

#[tokio::test]
async fn a_thousand_malformed_payloads_get_refusing_acks_and_nothing_else() {
    let broker = MqttBroker::start(broker_options(&["buoy"])).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let d = appliance(&broker, "buoy", 3600).await;
    studio
        .wait_until("online", WAIT, |m| !of(m, "buoy", "status").is_empty())
        .await
        .unwrap();
    let start = studio.messages().len();
    let mut with_id = Vec::new();
    let mut without_id = 0;
    for i in 0..1000 {
        let (payload, id) = malformed(i, "buoy");
        // Malformed means the contract's schema refuses it too (but for the size, and a device
        // id that is well formed but another's).
        let schema_can_tell = i % 250 != 249 && i % 12 != 4;
        if let Some(v) = serde_json::from_slice::<Value>(&payload)
            .ok()
            .filter(|_| schema_can_tell)
        {
            assert!(!schemas().commands.is_valid(&v), "{i}: {v}");
        }
        match id {
            Some(id) => with_id.push(id),
            None => without_id += 1,
        }
        studio.publish("vistter/buoy/cmd", payload).await.unwrap();
    }
    let count = |m: &[MqttMessage]| {
        let mut seqs: Vec<i64> = m[start..]
            .iter()
            .filter(|m| m.topic == "vistter/buoy/ack")
            .filter_map(|m| m.json()["seq"].as_i64())
            .collect();
        seqs.sort();
        seqs.dedup();
        seqs.len()
    };
    studio
        .wait_until("1000 ACKs", Duration::from_secs(120), |m| count(m) >= 1000)
        .await
        .unwrap();
    // Nothing more comes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let msgs = studio.messages();
    assert_eq!(count(&msgs), 1000);
    let mut by_id = std::collections::HashMap::new();
    let mut anonymous = 0;
    let mut seen_seq = std::collections::HashSet::new();
    for m in &msgs[start..] {
        if m.topic == "vistter/buoy/cmd" {
            continue;
        }
        assert_eq!(m.topic, "vistter/buoy/ack", "nothing but ACKs: {}", m.topic);
        let v = check_message(m);
        assert_eq!(v["type"], "ACK");
        assert_eq!(v["payload"]["status"], "refused", "{v}");
        assert_eq!(v["payload"]["result"], Value::Null);
        if !seen_seq.insert(v["seq"].as_i64().unwrap()) {
            continue;
        }
        match v["correlation_id"].as_str() {
            Some(id) => *by_id.entry(id.to_string()).or_insert(0) += 1,
            None => anonymous += 1,
        }
    }
    assert_eq!(anonymous, without_id);
    assert_eq!(by_id.len(), with_id.len());
    assert!(with_id.iter().all(|id| by_id[id] == 1));
    let s = link_status(&d.app).await;
    assert_eq!(s["state"], "connected");
    assert_eq!(s["connections"], 1, "never disconnected: {s}");
    assert_eq!(s["messages_in"], 1000);
    for path in ["/api/cameras", "/api/timelines", "/api/programs"] {
        let list: Value = d.app.get(path).await.json().await.unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(0), "{path}: {list}");
    }
    // And a good command after all that is served.
    let id = send(&studio, "buoy", "DEVICE_CONFIG", json!({"action": "get"})).await;
    accepted(&studio, "buoy", &id).await;
    d.app.stop().await;
}

#[tokio::test]
async fn the_broker_refuses_a_device_writing_to_another_devices_command_topic() {
    let broker = MqttBroker::start(broker_options(&["dock-a", "dock-b"]))
        .await
        .unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let a = appliance(&broker, "dock-a", 3600).await;
    let command = command_with_id(
        "dock-a",
        &new_id(),
        "DEVICE_CONFIG",
        json!({"action": "get"}),
    );
    // dock-b listens on dock-a's command topic while the studio sends dock-a a command.
    let studio_cmd = command_with_id(
        "dock-a",
        &new_id(),
        "DEVICE_CONFIG",
        json!({"action": "get"}),
    );
    let publisher = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        studio
            .publish("vistter/dock-a/cmd", studio_cmd.clone())
            .await
            .unwrap();
    };
    let b_pw = device_pw("dock-b");
    let (probe, ()) = tokio::join!(
        mqtt5_publish_and_subscribe(
            &broker,
            "dock-b",
            &b_pw,
            "vistter/dock-a/cmd",
            &command,
            Duration::from_secs(4),
        ),
        publisher
    );
    let probe = probe.unwrap();
    assert_eq!(
        probe.puback, "NotAuthorized",
        "the broker refuses the publish"
    );
    assert_eq!(probe.received, 0, "nor does dock-b read dock-a's commands");
    // dock-a got the studio's command, and only that one.
    let msgs = studio
        .wait_until("dock-a's ACK", WAIT, |m| !of(m, "dock-a", "ack").is_empty())
        .await
        .unwrap();
    assert_eq!(of(&msgs, "dock-a", "ack").len(), 1);
    assert_eq!(
        of(&msgs, "dock-a", "ack")[0]["payload"]["status"],
        "accepted"
    );
    assert_eq!(link_status(&a.app).await["messages_in"], 1);
    // The same device may write its own topics (the ACL is not simply closed).
    let own = schemas_event("dock-b");
    let probe = mqtt5_publish_and_subscribe(
        &broker,
        "dock-b",
        &device_pw("dock-b"),
        "vistter/dock-b/event",
        &serde_json::to_vec(&own).unwrap(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(probe.puback, "Success");
    let msgs = studio
        .wait_until("dock-b's own event", WAIT, |m| {
            !of(m, "dock-b", "event").is_empty()
        })
        .await
        .unwrap();
    // The refused command went nowhere: the studio saw only its own on dock-a's topic.
    assert_eq!(of(&msgs, "dock-a", "cmd").len(), 1);
    assert_eq!(of(&msgs, "dock-a", "ack").len(), 1);
    assert_eq!(link_status(&a.app).await["messages_in"], 1);
    check_all(&msgs);
    a.app.stop().await;
}

fn schemas_event(device: &str) -> Value {
    let v = json!({"schema_version": "1.0", "message_id": new_id(), "correlation_id": null,
                   "timestamp": "2001-02-03T04:05:06Z", "device_id": device, "seq": 1,
                   "type": "EVENT", "payload": {"event_type": "take", "severity": "info",
                               "context": {"program_id": 1, "camera_id": 2, "previous_camera_id": null}}});
    assert_valid(&schemas().event, &v, "EVENT");
    v
}

#[tokio::test]
async fn settings_are_checked_tls_verifies_the_broker_and_the_last_will_marks_a_lost_device_offline(
) {
    let broker = MqttBroker::start(broker_options(&["mole"])).await.unwrap();
    let relay = Relay::start(broker.port()).await;
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let (app, _program) = spawn_app().await;

    // Refusals name the field; nothing is stored.
    let url = format!("mqtts://127.0.0.1:{}", relay.port);
    for (patch, field) in [
        (json!({"broker_url": "http://127.0.0.1:1883"}), "broker_url"),
        (
            json!({"broker_url": "mqtts://user:pw@127.0.0.1"}),
            "broker_url",
        ),
        (json!({"device_id": "a/b"}), "device_id"),
        (json!({"device_id": "#"}), "device_id"),
        (json!({"ca_cert_pem": "not a certificate"}), "ca_cert_pem"),
        (json!({"metrics_interval_s": 0}), "metrics_interval_s"),
        (json!({"username": null}), "username"),
        (
            json!({"broker_url": "mqtt://broker.example.com"}),
            "broker_url",
        ),
        (
            json!({"client_cert_pem": broker.ca_pem(), "client_key_pem": ""}),
            "client_key_pem",
        ),
    ] {
        let mut body = link_body(&url, &broker, "mole", 3600);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.put("/api/link", body).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let view: Value = app.get("/api/link").await.json().await.unwrap();
    assert_eq!(view["settings"]["enabled"], false);
    assert_eq!(view["settings"]["broker_url"], "");
    assert_eq!(view["status"]["state"], "disabled");

    // Without the broker's CA the system's roots do not know it: TLS refuses, nothing is sent.
    let mut body = link_body(&url, &broker, "mole", 3600);
    body["ca_cert_pem"] = json!(null);
    set_link(&app, body).await;
    let s = wait_link(&app, "a TLS error", |s| s["state"] == "error").await;
    let err = s["last_error"].as_str().unwrap();
    assert!(err.starts_with("TLS") || err.contains("certificate"), "{s}");
    assert_eq!(s["connections"], 0);

    // With it, and the password kept from before (absent = unchanged).
    let mut body = link_body(&url, &broker, "mole", 3600);
    body.as_object_mut().unwrap().remove("password");
    let view = set_link(&app, body).await;
    assert_eq!(view["settings"]["has_password"], true);
    assert!(!view.to_string().contains(&device_pw("mole")));
    connected(&app, 1).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("vistterstream_link_up{device=\"mole\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("vistterstream_link_queue_length{device=\"mole\"}"));
    assert!(!metrics.contains(&device_pw("mole")));
    studio
        .wait_until("online", WAIT, |m| {
            of(m, "mole", "status")
                .last()
                .is_some_and(|s| s["payload"]["state"] == "online")
        })
        .await
        .unwrap();

    // The line drops without a goodbye: the broker publishes the retained last will.
    relay.cut();
    studio
        .wait_until("the last will", WAIT, |m| {
            of(m, "mole", "status")
                .last()
                .is_some_and(|s| s["payload"]["state"] == "offline")
        })
        .await
        .unwrap();
    wait_link(&app, "the loss", |s| s["state"] != "connected").await;
    // A studio that comes later learns it from the retained message.
    let late = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/mole/status"])
        .await
        .unwrap();
    let m = late
        .wait_until("the retained status", WAIT, |m| !m.is_empty())
        .await
        .unwrap();
    assert!(m[0].retain);
    assert_eq!(m[0].json()["payload"]["state"], "offline");
    check_message(&m[0]);
    drop(late);
    relay.resume();
    connected(&app, 2).await;
    studio
        .wait_until("online again", WAIT, |m| {
            of(m, "mole", "status")
                .last()
                .is_some_and(|s| s["payload"]["state"] == "online")
        })
        .await
        .unwrap();

    // Switched off: it says goodbye and stays off.
    let mut body = link_body(&url, &broker, "mole", 3600);
    body["enabled"] = json!(false);
    set_link(&app, body).await;
    wait_link(&app, "off", |s| s["state"] == "disabled").await;
    studio
        .wait_until("offline", WAIT, |m| {
            of(m, "mole", "status")
                .last()
                .is_some_and(|s| s["payload"]["state"] == "offline")
        })
        .await
        .unwrap();
    check_all(&studio.messages());
    app.stop().await;
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_counts_them_and_keeps_them_across_a_restart() {
    let mut broker = MqttBroker::start(broker_options(&["reef"])).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let d = appliance(&broker, "reef", 3600).await;
    let load = send(
        &studio,
        "reef",
        "TIMELINE_LOAD",
        json!({"segments": [segment("tide", 2, 30, false)]}),
    )
    .await;
    accepted(&studio, "reef", &load).await;
    // The segment's two cameras answer nothing: each goes offline once, before the count.
    studio
        .wait_until("two cameras offline", WAIT, |m| {
            of(m, "reef", "event")
                .iter()
                .filter(|e| e["payload"]["event_type"] == "camera_offline")
                .count()
                >= 2
        })
        .await
        .unwrap();
    wait_link(&d.app, "an empty queue", |s| s["queue_length"] == 0).await;
    broker.stop().await.unwrap();
    wait_link(&d.app, "the loss", |s| s["state"] != "connected").await;
    d.app.app.as_ref().unwrap().services.link.set_queue_limit(4);
    // Each start and stop through the REST API is a timeline EVENT: 10 of them, 4 kept.
    for _ in 0..5 {
        assert_eq!(
            d.app
                .post("/api/timelines/tide/start", json!({}))
                .await
                .status(),
            200
        );
        assert_eq!(
            d.app
                .post("/api/timelines/tide/stop", json!({}))
                .await
                .status(),
            200
        );
    }
    let s = wait_link(&d.app, "6 dropped", |s| s["dropped"] == 6).await;
    assert_eq!(s["queue_length"], 4);
    // The gauge follows the stored count once the enqueue that dropped has refreshed it: the
    // status (read from the database) can be a moment ahead of it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = d.app.get("/metrics").await.text().await.unwrap();
        if metrics.contains("vistterstream_link_dropped_messages{device=\"reef\"} 6") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The queue is on disk: a restart keeps it.
    let dir = d.app.stop_keep_dir().await;
    let app = TestApp::spawn_in(dir, |_| {}, vistterstream::AppDeps::real()).await;
    app.login_admin().await;
    let s = link_status(&app).await;
    // (Its cameras may already have gone offline again behind them.)
    assert!(s["queue_length"].as_u64() >= Some(4), "{s}");
    assert_eq!(s["dropped"], 6);
    let seen = studio.messages().len();
    broker.restart().await.unwrap();
    connected(&app, 1).await;
    let msgs = studio
        .wait_until("the 4 kept events", WAIT, |m| {
            of(&m[seen..], "reef", "event").len() >= 4
        })
        .await
        .unwrap();
    let events = of(&msgs[seen..], "reef", "event");
    let states: Vec<&str> = events[..4]
        .iter()
        .map(|e| {
            assert_eq!(e["payload"]["event_type"], "timeline", "{e}");
            e["payload"]["context"]["state"].as_str().unwrap()
        })
        .collect();
    // The newest four, oldest first: the last two starts and stops.
    assert_eq!(states, ["playing", "stopped", "playing", "stopped"]);
    let seqs: Vec<i64> = events[..4]
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    check_all(&msgs);
    app.stop().await;
}

#[tokio::test]
async fn a_client_certificate_logs_the_device_in_and_its_key_is_never_shown() {
    let mut opts = broker_options(&[]);
    opts.client_certificates = true;
    let broker = MqttBroker::start(opts).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    // The certificate's CN is the user name the ACL's patterns see.
    let (cert, key) = broker.client_certificate("jetty").await.unwrap();
    let (app, _program) = spawn_app().await;
    let body = json!({"enabled": true, "broker_url": broker.mtls_url().unwrap(),
                      "device_id": "jetty", "ca_cert_pem": broker.ca_pem(),
                      "client_cert_pem": cert, "client_key_pem": key, "metrics_interval_s": 3600});
    let view = set_link(&app, body).await;
    assert_eq!(view["settings"]["has_client_key"], true);
    assert_eq!(view["settings"]["has_password"], false);
    let key_body = key
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_string();
    assert!(!view.to_string().contains(&key_body));
    connected(&app, 1).await;
    let got: Value = app.get("/api/link").await.json().await.unwrap();
    assert!(!got.to_string().contains(&key_body), "{got}");
    let id = send(&studio, "jetty", "DEVICE_CONFIG", json!({"action": "get"})).await;
    accepted(&studio, "jetty", &id).await;
    // The key is sealed at rest like every secret.
    let mut files = 0;
    for name in ["vistterstream.db", "vistterstream.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(name)) {
            files += 1;
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&key_body),
                "{name}"
            );
        }
    }
    assert!(files > 0, "the database is where the test looks");
    check_all(&studio.messages());
    app.stop().await;
}

/// A command's type and payload.
type Command<'a> = (&'a str, Value);
/// A REST call's method, path and body.
type RestCall<'a> = (&'a str, String, Value);

/// Sends `kind`/`payload` over the link and makes the matching REST call; both must agree:
/// accepted when the API answers 2xx, else the same error code, message and field.
async fn same_as_rest(
    studio: &StudioClient,
    app: &TestApp,
    device: &str,
    (kind, payload): (&str, Value),
    (method, path, body): (&str, &str, Value),
) -> Value {
    // Written by hand: some of these values are out of the schema's range on purpose.
    let id = new_id();
    let bytes = serde_json::to_vec(&json!({
        "schema_version": "1.0", "message_id": id, "correlation_id": null,
        "timestamp": "2001-02-03T04:05:06Z", "device_id": device, "type": kind,
        "payload": payload,
    }))
    .unwrap();
    studio
        .publish(&format!("vistter/{device}/cmd"), bytes)
        .await
        .unwrap();
    let a = ack(studio, device, &id).await;
    let r = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let rest: Value = r.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        assert_eq!(a["payload"]["status"], "accepted", "{kind} vs {path}: {a}");
    } else {
        let e = &a["payload"]["error"];
        assert_eq!(
            a["payload"]["status"], "refused",
            "{kind} vs {path} ({status}): {a}"
        );
        assert_eq!(e["error"], rest["error"], "{kind} vs {path}");
        assert_eq!(e["message"], rest["message"], "{kind} vs {path}");
        assert_eq!(e.get("field"), rest.get("field"), "{kind} vs {path}");
    }
    a
}

#[tokio::test]
async fn every_command_is_checked_like_its_rest_call() {
    let broker = MqttBroker::start(broker_options(&["slip"])).await.unwrap();
    let studio = StudioClient::connect(&broker, "studio", STUDIO_PW, &["vistter/#"])
        .await
        .unwrap();
    let d = appliance(&broker, "slip", 3600).await;
    let app = &d.app;
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
    let program = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(
            "/api/overlays",
            json!({"name": "Banner", "kind": "text", "definition": {"text": "Welcome", "font_size": 36}}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let overlay = app
        .get("/api/overlays")
        .await
        .json::<Value>()
        .await
        .unwrap()[0]["id"]
        .as_i64()
        .unwrap();

    let pairs: Vec<(Command<'_>, RestCall<'_>)> = vec![
        (
            (
                "CAMERA_ACTION",
                json!({"action": "take", "program_id": 999, "camera_id": 1}),
            ),
            (
                "POST",
                "/api/programs/999/take".into(),
                json!({"camera_id": 1}),
            ),
        ),
        (
            (
                "CAMERA_ACTION",
                json!({"action": "take", "program_id": program, "camera_id": 424242}),
            ),
            (
                "POST",
                format!("/api/programs/{program}/take"),
                json!({"camera_id": 424242}),
            ),
        ),
        (
            (
                "CAMERA_ACTION",
                json!({"action": "preset_move", "preset_id": 999}),
            ),
            ("POST", "/api/presets/999/move".into(), json!({})),
        ),
        (
            (
                "OVERLAY_UPDATE",
                json!({"action": "set_program_overlays", "program_id": 999, "overlays": []}),
            ),
            ("PUT", "/api/programs/999/overlays".into(), json!([])),
        ),
        (
            (
                "OVERLAY_UPDATE",
                json!({"action": "update_overlay", "overlay_id": overlay,
                                       "overlay": {"name": "", "kind": "text", "definition": {"text": "x"}}}),
            ),
            (
                "PUT",
                format!("/api/overlays/{overlay}"),
                json!({"name": "", "kind": "text", "definition": {"text": "x"}}),
            ),
        ),
        (
            (
                "STREAM_CONTROL",
                json!({"program_id": program, "command": "slate"}),
            ),
            ("POST", format!("/api/programs/{program}/slate"), json!({})),
        ),
        (
            (
                "STREAM_CONTROL",
                json!({"program_id": 999, "command": "stop"}),
            ),
            ("POST", "/api/programs/999/stop".into(), json!({})),
        ),
        (
            (
                "TIMELINE_EXECUTE",
                json!({"action": "start", "timeline_id": "nope"}),
            ),
            ("POST", "/api/timelines/nope/start".into(), json!({})),
        ),
        (
            (
                "DEVICE_CONFIG",
                json!({"action": "set", "config_patch": {"metrics_interval_s": 0}}),
            ),
            ("PUT", "/api/link".into(), {
                let mut b = link_body(&broker.url(), &broker, "slip", 0);
                b.as_object_mut().unwrap().remove("password");
                b
            }),
        ),
    ];
    for (command, (method, path, body)) in pairs {
        same_as_rest(&studio, app, "slip", command, (method, &path, body)).await;
    }
    // And what the API accepts, the link does: the overlay renamed through the link.
    let id = send(
        &studio,
        "slip",
        "OVERLAY_UPDATE",
        json!({"action": "update_overlay", "overlay_id": overlay,
               "overlay": {"name": "Harbour banner", "kind": "text", "definition": {"text": "Hello"}}}),
    )
    .await;
    let a = accepted(&studio, "slip", &id).await;
    assert_eq!(a["payload"]["result"]["name"], "Harbour banner");
    let o: Value = app
        .get(&format!("/api/overlays/{overlay}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["name"], "Harbour banner");
    check_all(&studio.messages());
    d.app.stop().await;
}
