//! The program feed through the API, with real FFmpeg, real RTSP cameras, a real RTMP ingest and
//! the simulated ONVIF camera: takes without breaking the RTMP session, a preset move on air
//! that is never seen, overlays, and a timeline played end to end.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_onvif::sim::{SimCamera, SimOptions};
use vs_testrig::{CameraOptions, FakeCamera, RtmpServer, StreamKind};

async fn id_of(r: reqwest::Response) -> i64 {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body["id"].as_i64().unwrap()
}

/// Two fake cameras (red, and blue as a PTZ camera on the simulated ONVIF service with one
/// preset), a fake YouTube, and a stopped 320x180 program to it, in a fresh appliance.
struct Rig {
    red: FakeCamera,
    blue: FakeCamera,
    sim: SimCamera,
    rtmp: RtmpServer,
    app: TestApp,
    a: i64,
    b: i64,
    preset: i64,
    p: i64,
}

impl Rig {
    async fn start(stream_key: &str, preset: Value) -> Rig {
        let camera = |name: &'static str, pattern: &'static str| {
            FakeCamera::start(
                CameraOptions::new(name)
                    .size(320, 180)
                    .fps(25)
                    .pattern(pattern)
                    .overlay(false),
            )
        };
        let red = camera("Red", "red").await.unwrap();
        let blue = camera("Blue", "blue").await.unwrap();
        let sim = SimCamera::start(SimOptions::default()).await.unwrap();
        let rtmp = RtmpServer::start().await.unwrap();
        let app = TestApp::spawn().await;
        app.setup_admin().await;
        let a = id_of(
            app.post(
                "/api/cameras",
                json!({"name": "Red", "type": "STATIC", "protocol": "RTSP", "address": red.url()}),
            )
            .await,
        )
        .await;
        let b = id_of(app.post("/api/cameras", json!({"name": "Blue", "type": "PTZ", "protocol": "RTSP", "address": blue.url(),
            "username": "admin", "password": "admin123", "onvif_host": "127.0.0.1", "onvif_port": sim.addr().port()})).await).await;
        let preset = id_of(app.post(&format!("/api/cameras/{b}/presets"), preset).await).await;
        let dest = id_of(app.post("/api/destinations", json!({"name": "YT", "platform": "custom", "url": rtmp.base_url(), "stream_key": stream_key})).await).await;
        let p = id_of(app.post("/api/programs", json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]})).await).await;
        Rig {
            red,
            blue,
            sim,
            rtmp,
            app,
            a,
            b,
            preset,
            p,
        }
    }
}

#[tokio::test]
async fn program_settings_are_validated() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let dest = id_of(app.post("/api/destinations", json!({"name": "D", "platform": "custom", "url": "rtmp://127.0.0.1:1/live2", "stream_key": "k"})).await).await;
    for (body, field) in [
        (json!({"name": "", "destination_ids": [dest]}), "name"),
        (
            json!({"name": "P", "width": 1281, "destination_ids": [dest]}),
            "width",
        ),
        (
            json!({"name": "P", "height": 5000, "destination_ids": [dest]}),
            "height",
        ),
        (
            json!({"name": "P", "fps": 0, "destination_ids": [dest]}),
            "fps",
        ),
        (
            json!({"name": "P", "encoder": "h265_magic", "destination_ids": [dest]}),
            "encoder",
        ),
        (
            json!({"name": "P", "destination_ids": []}),
            "destination_ids",
        ),
        (
            json!({"name": "P", "destination_ids": [999]}),
            "destination_ids",
        ),
    ] {
        assert_error(
            app.post("/api/programs", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let p = id_of(
        app.post(
            "/api/programs",
            json!({"name": "Main", "destination_ids": [dest]}),
        )
        .await,
    )
    .await;
    let view: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            view["width"].as_i64(),
            view["height"].as_i64(),
            view["fps"].as_i64()
        ),
        (Some(1280), Some(720), Some(30))
    );
    assert!(view["live"].is_null());
    let r = app
        .post(&format!("/api/programs/{p}/take"), json!({"camera_id": 1}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_error(
        app.post(
            "/api/programs",
            json!({"name": "main", "destination_ids": [dest]}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("name"),
    )
    .await;
    let enc: Value = app.get("/api/system/encoders").await.json().await.unwrap();
    assert_eq!(enc["selected"], "libx264", "{enc}");
    app.stop().await;
}

#[tokio::test]
async fn takes_keep_one_session_and_a_preset_move_on_air_is_held() {
    let Rig {
        red: _red,
        blue: _blue,
        sim,
        rtmp,
        app,
        a,
        b,
        preset,
        p,
    } = Rig::start(
        "program1",
        json!({"name": "far", "pan": 90, "tilt": 0, "zoom": 0}),
    )
    .await;

    let r = app
        .post(&format!("/api/programs/{p}/slate"), json!({}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;
    let view: Value = app
        .post(&format!("/api/programs/{p}/start"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(view["live"].is_object(), "{view}");
    assert!(
        !view.to_string().contains("program1"),
        "stream key never shown"
    );
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["outputs"][0]["state"] == "running"
    })
    .await;

    // Takes back and forth: one RTMP session, never a restart of the encoder.
    for (i, cam) in [a, b, a, b, a, b].iter().enumerate() {
        let r = app
            .post(
                &format!("/api/programs/{p}/take"),
                json!({"camera_id": cam}),
            )
            .await;
        assert_eq!(r.status(), 200, "take {i}");
        wait_program(&app, p, Duration::from_secs(15), |v| {
            v["live"]["on_air_camera_id"] == *cam && v["live"]["slate_active"] == false
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    // The slate on demand (a break), then the same camera back: the session goes on.
    let r = app
        .post(&format!("/api/programs/{p}/slate"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    wait_program(&app, p, Duration::from_secs(5), |v| {
        v["live"]["slate_active"] == true && v["live"]["on_air_camera_id"].is_null()
    })
    .await;
    let r = app
        .post(&format!("/api/programs/{p}/take"), json!({"camera_id": b}))
        .await;
    assert_eq!(r.status(), 200);
    wait_program(&app, p, Duration::from_secs(5), |v| {
        v["live"]["on_air_camera_id"] == b && v["live"]["slate_active"] == false
    })
    .await;

    // A preset move of the on-air camera: the picture is held until the camera has settled.
    let started = Instant::now();
    let take = {
        let client = app.client.clone();
        let url = app.url(&format!("/api/programs/{p}/take"));
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"camera_id": b, "preset_id": preset}))
                .send()
                .await
                .unwrap()
        })
    };
    // Once the camera moves (after the ONVIF discovery), the picture must be held.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.is_moving() {
        assert!(Instant::now() < deadline, "the camera never moved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["live"]["held"], true, "held while the camera moves: {v}");
    let r = take.await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the take waited for the camera to settle"
    );
    assert!(!sim.is_moving());
    let v = wait_program(&app, p, Duration::from_secs(5), |v| {
        v["live"]["held"] == false
    })
    .await;
    assert_eq!(v["live"]["on_air_camera_id"], b);
    let live = &v["live"];
    assert!(live["fps_measured"].as_f64().unwrap() > 20.0, "{live}");
    assert_eq!(live["encoder"], "libx264");

    tokio::time::sleep(Duration::from_secs(1)).await;
    let v: Value = app
        .post(&format!("/api/programs/{p}/stop"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["live"].is_null());
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        rtmp.publish_count(),
        1,
        "one RTMP session for the whole program"
    );
    let rec = rtmp.recordings_for("program1");
    let info = vs_testrig::probe_streams(&rec[0]).await.unwrap();
    assert_eq!(
        (info.video_codec(), info.audio_codec()),
        (Some("h264"), Some("aac"))
    );
    assert_eq!((info.width(), info.height()), (Some(320), Some(180)));
    let video = vs_testrig::packet_times(&rec[0], StreamKind::Video)
        .await
        .unwrap();
    video.assert_monotonic();
    video.assert_max_gap(2.0 / 25.0 + 0.001);
    // The cameras really were on air: red and blue frames both arrived, blue last.
    let times = video.times();
    let (first, last) = (times[0], *times.last().unwrap());
    let (mut saw_red, mut saw_blue) = (false, false);
    let mut t = first + 0.25;
    while t < last {
        let (r, _, b) = mean_rgb(&rec[0], t).await;
        saw_red |= r > 150.0 && b < 80.0;
        saw_blue |= b > 150.0 && r < 80.0;
        t += 0.5;
    }
    assert!(saw_red && saw_blue, "red {saw_red}, blue {saw_blue}");
    let (r1, _, b1) = mean_rgb(&rec[0], last - 0.3).await;
    assert!(b1 > 150.0 && r1 < 80.0, "blue at the end: {r1} {b1}");
    sim.shutdown().await;
    app.stop().await;
}

/// The command line of the running program encoder (an FFmpeg with the program's audio on fd
/// 4) whose input is `size_rate` (`-s 320x180 -r 24`): the tests of this file run at once, each
/// program at its own size and rate.
fn encoder_cmdline(size_rate: &str) -> String {
    let found: Vec<String> = vs_testrig::ffmpeg_processes()
        .into_iter()
        .filter(|p| !p.is_zombie())
        .map(|p| p.cmdline.join(" "))
        .filter(|c| c.contains("-i pipe:4") && c.contains(&format!("{size_rate} ")))
        .collect();
    assert_eq!(found.len(), 1, "one program encoder: {found:#?}");
    found.into_iter().next().unwrap()
}

/// The x264 preset: refused unless `auto` or a preset (nothing stored), `auto` measured at the
/// program's own size when it starts and used on the encoder's command line, measured once
/// per size (a restart does not measure again), and a preset set by hand used as is.
#[tokio::test]
async fn the_x264_preset_is_measured_at_the_programs_size_and_used() {
    let Rig {
        red: _red,
        blue: _blue,
        sim,
        rtmp: _rtmp,
        app,
        a,
        p,
        ..
    } = Rig::start(
        "preset1",
        json!({"name": "far", "pan": 90, "tilt": 0, "zoom": 0}),
    )
    .await;
    let url = format!("/api/programs/{p}");
    // 24 fps: no other test of this file runs a program at this rate, so its encoder is found.
    let before: Value = app.get(&url).await.json().await.unwrap();
    let dest = before["destination_ids"][0].as_i64().unwrap();
    let r = app
        .put(
            &url,
            json!({"name": "Main", "width": 320, "height": 180, "fps": 24, "destination_ids": [dest]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let before: Value = r.json().await.unwrap();
    assert_eq!(before["encoder_preset"]["setting"], "auto", "{before}");
    assert!(before["encoder_preset"]["resolved"].is_null(), "{before}");
    assert!(before["encoder_preset"]["speed"].is_null(), "{before}");

    // Refused, with the allowed values named; nothing written.
    for bad in ["placebo", "veryfast -x264opts x", "", "AUTO"] {
        let body = assert_error(
            app.post(
                "/api/programs",
                json!({"name": "Other", "encoder_preset": bad, "destination_ids": [dest]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some("encoder_preset"),
        )
        .await;
        let msg = body["message"].as_str().unwrap();
        for allowed in [
            "auto",
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
        ] {
            assert!(msg.contains(allowed), "{msg}");
        }
        let r = app
            .put(
                &url,
                json!({"name": "Renamed", "width": 640, "height": 360, "fps": 25,
                       "encoder_preset": bad, "destination_ids": [dest]}),
            )
            .await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some("encoder_preset"),
        )
        .await;
    }
    let list: Value = app.get("/api/programs").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let after: Value = app.get(&url).await.json().await.unwrap();
    assert_eq!(
        (
            &after["name"],
            &after["width"],
            &after["encoder_preset"]["setting"]
        ),
        (&json!("Main"), &json!(320), &json!("auto")),
        "{after}"
    );

    // `auto`: measured at 320x180@24 when the program starts, and used.
    let view: Value = app
        .post(&format!("{url}/start"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let ep = &view["encoder_preset"];
    eprintln!("encoder_preset: {ep}");
    let resolved = ep["resolved"].as_str().unwrap_or_else(|| panic!("{view}"));
    assert!(
        ["veryfast", "superfast", "ultrafast"].contains(&resolved),
        "{ep}"
    );
    let speed = ep["speed"].as_f64().unwrap();
    assert!(speed > 0.0, "{ep}");
    assert_eq!(ep["holds_real_time"], speed >= 1.5, "{ep}");
    assert_eq!(ep["measured_at_size"], "320x180", "{ep}");
    assert_eq!(ep["measured_at_fps"], 24, "{ep}");
    assert_eq!(ep["encoder"], "libx264", "{ep}");
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["encoder_state"] == "running"
    })
    .await;
    let cmd = encoder_cmdline("-s 320x180 -r 24");
    assert!(
        cmd.contains(&format!(
            "-c:v libx264 -preset {resolved} -tune zerolatency"
        )),
        "{cmd}"
    );
    let r = app
        .post(&format!("{url}/take"), json!({"camera_id": a}))
        .await;
    assert_eq!(r.status(), 200);
    wait_program(&app, p, Duration::from_secs(15), |v| {
        v["live"]["on_air_camera_id"] == a && v["live"]["fps_measured"].as_f64() > Some(20.0)
    })
    .await;

    // The probe is reported, and a restart does not measure again.
    let enc: Value = app.get("/api/system/encoders").await.json().await.unwrap();
    let probes = enc["presets"].as_array().unwrap();
    assert_eq!(probes.len(), 1, "{enc}");
    assert_eq!(
        (&probes[0]["width"], &probes[0]["height"], &probes[0]["fps"]),
        (&json!(320), &json!(180), &json!(24))
    );
    assert_eq!(probes[0]["selected"], resolved, "{enc}");
    assert_eq!(probes[0]["trials"][0]["preset"], "veryfast", "{enc}");
    app.post(&format!("{url}/stop"), json!({})).await;
    let again: Value = app
        .post(&format!("{url}/start"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["encoder_preset"], *ep, "the same measurement");
    let enc2: Value = app.get("/api/system/encoders").await.json().await.unwrap();
    assert_eq!(enc2["presets"], enc["presets"], "not measured again");
    app.post(&format!("{url}/stop"), json!({})).await;

    // Set by hand: used as is, nothing measured; the last start's figures are forgotten.
    let r = app
        .put(
            &url,
            json!({"name": "Main", "width": 320, "height": 180, "fps": 24,
                   "encoder_preset": "faster", "destination_ids": [dest]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["encoder_preset"]["setting"], "faster", "{v}");
    assert!(v["encoder_preset"]["resolved"].is_null(), "{v}");
    // Absent on update: kept.
    let v: Value = app
        .put(
            &url,
            json!({"name": "Main", "width": 320, "height": 180, "fps": 24, "destination_ids": [dest]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["encoder_preset"]["setting"], "faster", "{v}");
    let v: Value = app
        .post(&format!("{url}/start"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["encoder_preset"]["resolved"], "faster", "{v}");
    assert!(v["encoder_preset"]["speed"].is_null(), "{v}");
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["encoder_state"] == "running"
    })
    .await;
    let cmd = encoder_cmdline("-s 320x180 -r 24");
    assert!(cmd.contains("-c:v libx264 -preset faster -tune"), "{cmd}");
    app.post(&format!("{url}/stop"), json!({})).await;
    sim.shutdown().await;
    app.stop().await;
}

/// The pre-roll choice: a value other than instant or economy is refused (400 naming both) on
/// create, update and the live switch, with nothing stored; it is kept across updates that do
/// not name it; switched to economy on a running program, the off-air camera stops being
/// decoded at once and takes (a preset move included) still reach air, the cost figures
/// filling in as they are measured.
#[tokio::test]
async fn the_preroll_choice_is_validated_stored_and_switched_live() {
    let Rig {
        red: _red,
        blue: _blue,
        sim,
        rtmp,
        app,
        a,
        b,
        preset,
        p,
    } = Rig::start(
        "prerollkey",
        json!({"name": "near", "pan": 20, "tilt": 0, "zoom": 0}),
    )
    .await;
    let view: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["preroll"], "instant", "instant unless asked: {view}");
    let dest = view["destination_ids"][0].as_i64().unwrap();
    let names = |body: &Value| {
        let m = body["message"].as_str().unwrap_or_default();
        m.contains("instant") && m.contains("economy")
    };

    let bad = app
        .post(
            "/api/programs",
            json!({"name": "Bad", "preroll": "fast", "destination_ids": [dest]}),
        )
        .await;
    let body = assert_error(bad, StatusCode::BAD_REQUEST, "validation", None).await;
    assert!(names(&body), "the allowed values are named: {body}");
    let list: Value = app.get("/api/programs").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing created: {list}");

    let input =
        json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]});
    let mut bad_input = input.clone();
    bad_input["preroll"] = json!("warp");
    let r = app.put(&format!("/api/programs/{p}"), bad_input).await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    assert!(names(&body), "{body}");
    for bad in [
        json!({"preroll": "cheap"}),
        json!({}),
        json!({"preroll": 1}),
    ] {
        let r = app
            .put(&format!("/api/programs/{p}/preroll-mode"), bad.clone())
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    }
    let after: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["preroll"], "instant");
    assert_eq!(after["updated_at"], view["updated_at"], "nothing written");
    let r = app
        .put(
            "/api/programs/999/preroll-mode",
            json!({"preroll": "economy"}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;

    // Stored with the settings, and kept by an update that does not name it.
    let mut eco = input.clone();
    eco["preroll"] = json!("economy");
    let v: Value = app
        .put(&format!("/api/programs/{p}"), eco)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["preroll"], "economy", "{v}");
    let v: Value = app
        .put(&format!("/api/programs/{p}"), input.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["preroll"], "economy", "kept: {v}");
    let r = app
        .put(
            &format!("/api/programs/{p}/preroll-mode"),
            json!({"preroll": "instant"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // Running, instant: a pre-rolled camera is decoded next to the one on air.
    let v: Value = app
        .post(&format!("/api/programs/{p}/start"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["live"]["preroll"]["mode"], "instant", "{v}");
    assert!(
        v["live"]["preroll"]["decoder_cpu_pct"].is_null(),
        "not measured yet: {v}"
    );
    let r = app
        .post(&format!("/api/programs/{p}/take"), json!({"camera_id": a}))
        .await;
    assert_eq!(r.status(), 200);
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["on_air_camera_id"] == a && v["live"]["slate_active"] == false
    })
    .await;
    let r = app
        .post(
            &format!("/api/programs/{p}/preroll"),
            json!({"camera_id": b}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let ingests = |v: &Value| -> Vec<i64> {
        v["live"]["ingests"]
            .as_array()
            .map(|l| l.iter().filter_map(|i| i["camera_id"].as_i64()).collect())
            .unwrap_or_default()
    };
    wait_program(&app, p, Duration::from_secs(10), |v| ingests(v).len() == 2).await;

    // Live to economy: the pre-rolled camera's decoder stops at once; stored too.
    let r = app
        .put(
            &format!("/api/programs/{p}/preroll-mode"),
            json!({"preroll": "economy"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v = wait_program(&app, p, Duration::from_secs(5), |v| ingests(v) == [a]).await;
    assert_eq!(
        (v["preroll"].as_str(), v["live"]["preroll"]["mode"].as_str()),
        (Some("economy"), Some("economy")),
        "{v}"
    );
    let r = app
        .post(
            &format!("/api/programs/{p}/preroll"),
            json!({"camera_id": b}),
        )
        .await;
    assert_eq!(r.status(), 204, "a pre-roll is accepted in economy");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ingests(&v), [a], "and decodes nothing: {v}");

    // A take with a preset move of the off-air camera, as a timeline makes it: the camera
    // moves, is taken from its cached keyframe, and the camera taken from stops being decoded.
    let before = sim.position();
    let r = app
        .post(
            &format!("/api/programs/{p}/take"),
            json!({"camera_id": b, "preset_id": preset}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_ne!(sim.position(), before, "moved to the preset");
    assert!(!sim.is_moving(), "and settled before the take");
    let v = wait_program(&app, p, Duration::from_secs(10), |v| {
        v["live"]["on_air_camera_id"] == b
            && v["live"]["slate_active"] == false
            && ingests(v) == [b]
    })
    .await;
    assert!(
        v["live"]["preroll"]["last_cached_take_ms"].is_number(),
        "{v}"
    );
    let v = wait_program(&app, p, Duration::from_secs(15), |v| {
        v["live"]["preroll"]["decoder_cpu_pct"].is_number()
    })
    .await;
    eprintln!("measured here: {}", v["live"]["preroll"]);

    let v: Value = app
        .post(&format!("/api/programs/{p}/stop"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["preroll"], "economy", "stored: {v}");
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(rtmp.publish_count(), 1);
    sim.shutdown().await;
    app.stop().await;
}

/// ffprobe runs against a camera (the health monitor's checks).
fn probes_of(cam: &FakeCamera) -> usize {
    vs_testrig::processes_with_marker(&format!(":{}/", cam.port()))
        .into_iter()
        .filter(|p| !p.is_zombie() && p.comm == "ffprobe")
        .count()
}

#[tokio::test]
async fn a_camera_the_program_decodes_is_not_probed_and_its_loss_is_still_seen() {
    let Rig {
        mut red,
        blue: _blue,
        sim: _sim,
        rtmp: _rtmp,
        app,
        a,
        p,
        ..
    } = Rig::start(
        "health1",
        json!({"name": "far", "pan": 90, "tilt": 0, "zoom": 0}),
    )
    .await;
    let health = format!("/api/cameras/{a}/health");
    let state = |v: &Value| v["state"].as_str().unwrap_or_default().to_string();
    // Probed once (1 s interval here), as every camera.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Value = app.get(&health).await.json().await.unwrap();
        if state(&h) == "online" {
            break;
        }
        assert!(Instant::now() < deadline, "never online: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = app
        .post(&format!("/api/programs/{p}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(&format!("/api/programs/{p}/take"), json!({"camera_id": a}))
        .await;
    assert_eq!(r.status(), 200);
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["on_air_camera_id"] == a && v["live"]["slate_active"] == false
    })
    .await;
    // Let a probe that was under way finish, then watch four rounds: no ffprobe on the
    // camera, and it stays online with fresh checks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before: Value = app.get(&health).await.json().await.unwrap();
    let mut probes = 0;
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(4) {
        probes = probes.max(probes_of(&red));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let after: Value = app.get(&health).await.json().await.unwrap();
    assert_eq!(
        probes, 0,
        "the program's decode stands for the health check"
    );
    assert_eq!(state(&after), "online", "{after}");
    assert_ne!(
        after["last_check"], before["last_check"],
        "checked all the same"
    );
    assert_eq!(after["codec"], "h264", "what the first probe found is kept");

    // The camera dies: its frames stop, the monitor probes again and sees it.
    red.stop().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Value = app.get(&health).await.json().await.unwrap();
        if state(&h) == "offline" {
            break;
        }
        assert!(Instant::now() < deadline, "loss not seen: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_timeline_plays_through_the_program_on_one_clock() {
    let Rig {
        red: _red,
        blue: _blue,
        sim,
        rtmp,
        app,
        a,
        b,
        preset,
        p,
    } = Rig::start(
        "timeline1",
        json!({"name": "far", "pan": 90, "tilt": 0, "zoom": 0, "settle_ms": 1500}),
    )
    .await;
    app.post(&format!("/api/programs/{p}/start"), json!({}))
        .await;
    wait_program(&app, p, Duration::from_secs(20), |v| {
        v["live"]["outputs"][0]["state"] == "running"
    })
    .await;

    // Three cues: red, blue at its preset (moved ahead of time while red is on air), red.
    let clip = |id: &str, s: i64, e: i64, cam: i64, preset: Option<i64>| {
        let mut source = json!({"type": "camera", "camera_id": cam});
        if let Some(p) = preset {
            source["preset_id"] = json!(p);
        }
        json!({"id": id, "start_ms": s, "end_ms": e, "source": source})
    };
    let t: Value = app
        .post(
            "/api/timelines",
            json!({"name": "Morning", "duration_ms": 12000, "playback": "once",
                   "tracks": [{"kind": "video", "name": "Cameras", "clips": [
                       clip("c1", 0, 4000, a, None), clip("c2", 4000, 8000, b, Some(preset)), clip("c3", 8000, 12000, a, None)]}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let tid = t["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/api/timelines/{tid}/start"), json!({}))
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let t0 = Instant::now();
    wait_program(&app, p, Duration::from_secs(5), |v| {
        v["live"]["on_air_camera_id"] == a
    })
    .await;
    let red_on_air = t0.elapsed().as_secs_f64();

    // The PTZ camera moved before its cue, while red was on air.
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(t0.elapsed())).await;
    let v: Value = app
        .get(&format!("/api/programs/{p}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["live"]["on_air_camera_id"], a);
    assert!(
        (sim.position().pan - 0.5).abs() < 0.05,
        "moved ahead of its cue: {:?}",
        sim.position()
    );
    wait_program(&app, p, Duration::from_secs(3), |v| {
        v["live"]["on_air_camera_id"] == b
    })
    .await;
    let at_b = t0.elapsed();
    assert!(
        at_b >= Duration::from_millis(3800) && at_b < Duration::from_millis(5500),
        "blue at {at_b:?}"
    );
    wait_program(&app, p, Duration::from_secs(6), |v| {
        v["live"]["on_air_camera_id"] == a
    })
    .await;
    let at_a = t0.elapsed();
    assert!(
        at_a >= Duration::from_millis(7800) && at_a < Duration::from_millis(9500),
        "red again at {at_a:?}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    app.post(&format!("/api/programs/{p}/stop"), json!({}))
        .await;
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        rtmp.publish_count(),
        1,
        "one RTMP session through the whole timeline"
    );
    // The received stream shows each camera at its time: the middle of each clip, allowing
    // for the recording's start being known within a second or so.
    let rec = rtmp.recordings_for("timeline1");
    let first = vs_testrig::packet_times(&rec[0], StreamKind::Video)
        .await
        .unwrap()
        .times()[0];
    // Each camera's colour is in the recording during its clip. The recording's origin is
    // found from the recording itself: the first red frame is when the API said red went on
    // air (within a poll interval).
    let last = vs_testrig::packet_times(&rec[0], StreamKind::Video)
        .await
        .unwrap()
        .times()
        .last()
        .copied()
        .unwrap();
    let is = |(r, b): (f64, f64), red: bool| {
        if red {
            r > 150.0 && b < 80.0
        } else {
            b > 150.0 && r < 80.0
        }
    };
    let mut t = first;
    let first_red = loop {
        let (r, _, b) = mean_rgb(&rec[0], t).await;
        if is((r, b), true) {
            break t;
        }
        t += 0.2;
        assert!(t < last, "no red frame in the recording");
    };
    let origin = first_red - red_on_air;
    for (from, to, red_expected) in [(4.6, 7.6, false), (8.6, 11.0, true)] {
        let mut seen = false;
        let mut t = origin + from;
        while t <= (origin + to).min(last - 0.1) && !seen {
            let (r, _, b) = mean_rgb(&rec[0], t).await;
            seen = is((r, b), red_expected);
            t += 0.5;
        }
        assert!(
            seen,
            "{} between {from}s and {to}s of the timeline",
            if red_expected { "red" } else { "blue" }
        );
    }
    sim.shutdown().await;
    app.stop().await;
}
