//! The ONVIF client against the simulated Sunba camera over real HTTP on 127.0.0.1: every
//! operation, both authentication schemes, clock skew, dead cameras and settling.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use vs_base::Secret;
use vs_onvif::sim::{SimCamera, SimOptions, SimPreset};
use vs_onvif::soap::{self, Reply};
use vs_onvif::{
    auth, from_onvif, move_and_settle, to_onvif, MoveStatus, MoveTarget, OnvifClient, OnvifConfig,
    OnvifError, PresetPosition, Ptz, PtzVector, SettlePolicy, SettledBy,
};

async fn sim(opts: SimOptions) -> SimCamera {
    SimCamera::start(opts).await.unwrap()
}

fn client(cam: &SimCamera) -> OnvifClient {
    OnvifClient::new(cam.client_config()).unwrap()
}

fn close(a: PtzVector, b: PtzVector) -> bool {
    a.max_abs_diff(&b) < 1e-6
}

async fn wait_idle(c: &OnvifClient) {
    for _ in 0..100 {
        if c.status("000").await.unwrap().move_status() == MoveStatus::Idle {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the simulated camera never stopped");
}

#[tokio::test]
async fn discovery_profiles_and_ranges() {
    let cam = sim(SimOptions::default()).await;
    let c = client(&cam);
    let caps = c.capabilities().await.unwrap();
    assert_eq!(
        caps.ptz.as_deref(),
        Some(format!("http://{}/onvif/ptz_service", cam.addr()).as_str())
    );
    assert!(caps.media.unwrap().ends_with("/onvif/media_service"));

    let profiles = c.profiles().await.unwrap();
    let tokens: Vec<&str> = profiles.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["000", "001", "002"]);
    assert_eq!(c.default_profile().await.unwrap(), "000");

    let r = c.ranges("001").await.unwrap();
    assert_eq!(
        (r.pan.min, r.pan.max, r.zoom.min, r.zoom.max),
        (-1.0, 1.0, 0.0, 1.0)
    );
    assert!(matches!(
        c.ranges("999").await,
        Err(OnvifError::NotFound(_))
    ));

    // Discovery and the clock read happen once, then every call goes straight to the service.
    let actions = cam.stats().actions;
    assert_eq!(&actions[..2], ["GetSystemDateAndTime", "GetCapabilities"]);
    assert_eq!(
        actions.iter().filter(|a| *a == "GetCapabilities").count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "GetSystemDateAndTime")
            .count(),
        1
    );

    let chosen = OnvifClient::new(cam.client_config().with_profile("002")).unwrap();
    assert_eq!(chosen.default_profile().await.unwrap(), "002");
    let missing = OnvifClient::new(cam.client_config().with_profile("xyz")).unwrap();
    let e = missing.default_profile().await.unwrap_err();
    assert!(
        matches!(&e, OnvifError::NotFound(m) if m.contains("000, 001, 002")),
        "{e}"
    );

    cam.shutdown().await;
}

#[tokio::test]
async fn presets_set_goto_remove() {
    let cam = sim(SimOptions::default()).await;
    let c = client(&cam);
    let presets = c.presets("000").await.unwrap();
    assert_eq!(presets.len(), 1);
    assert_eq!(
        (presets[0].token.as_str(), presets[0].name.as_str()),
        ("0", "0")
    );

    c.absolute_move("000", PtzVector::new(0.2, -0.1, 0.1), None)
        .await
        .unwrap();
    wait_idle(&c).await;
    let token = c.set_preset("000", "Dock <east>", None).await.unwrap();
    assert_eq!(token, "1");
    let names: Vec<String> = c
        .presets("001")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["0", "Dock <east>"]);
    // Same name under another token is refused by the camera.
    let dup = c
        .set_preset("000", "Dock <east>", Some("0"))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), "device_fault", "{dup}");
    // Overwriting by token keeps the token.
    assert_eq!(c.set_preset("000", "Dock", Some("1")).await.unwrap(), "1");

    c.goto_preset("000", "0", Some(PtzVector::new(1.0, 1.0, 1.0)))
        .await
        .unwrap();
    wait_idle(&c).await;
    assert!(close(cam.position(), PtzVector::default()));
    c.goto_preset("000", "1", None).await.unwrap();
    wait_idle(&c).await;
    assert!(close(cam.position(), PtzVector::new(0.2, -0.1, 0.1)));

    c.remove_preset("000", "1").await.unwrap();
    assert_eq!(c.presets("000").await.unwrap().len(), 1);
    let e = c.remove_preset("000", "1").await.unwrap_err();
    assert!(matches!(e, OnvifError::NotFound(_)), "{e}");
    let e = c.goto_preset("000", "42", None).await.unwrap_err();
    assert!(matches!(e, OnvifError::NotFound(_)), "{e}");
    let e = c.presets("nope").await.unwrap_err();
    assert!(matches!(e, OnvifError::NotFound(_)), "{e}");
    let e = c.goto_preset("000", "", None).await.unwrap_err();
    assert!(matches!(e, OnvifError::InvalidInput(_)), "{e}");
    cam.shutdown().await;
}

#[tokio::test]
async fn moves_status_and_stop() {
    let cam = sim(SimOptions {
        speed: 1.0,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);

    c.absolute_move("000", PtzVector::new(0.3, 0.2, 0.4), None)
        .await
        .unwrap();
    let st = c.status("000").await.unwrap();
    assert_eq!(st.move_status(), MoveStatus::Moving);
    assert!(st.utc_time.is_some());
    wait_idle(&c).await;
    let st = c.status("000").await.unwrap();
    assert!(close(st.position.unwrap(), PtzVector::new(0.3, 0.2, 0.4)));
    assert_eq!((st.pan_tilt, st.zoom), (MoveStatus::Idle, MoveStatus::Idle));

    c.relative_move("000", PtzVector::new(-0.1, 0.1, -0.2), None)
        .await
        .unwrap();
    wait_idle(&c).await;
    assert!(close(cam.position(), PtzVector::new(0.2, 0.3, 0.2)));

    let e = c
        .absolute_move("000", PtzVector::new(2.0, 0.0, 0.0), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "device_fault", "{e}");
    let e = c
        .absolute_move("000", PtzVector::new(f64::NAN, 0.0, 0.0), None)
        .await
        .unwrap_err();
    assert!(matches!(e, OnvifError::InvalidInput(_)));

    let before = cam.position();
    c.continuous_move(
        "000",
        PtzVector::new(0.5, 0.0, 0.0),
        Some(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.status("000").await.unwrap().pan_tilt, MoveStatus::Moving);
    c.stop("000").await.unwrap();
    let stopped = cam.position();
    assert!(stopped.pan > before.pan + 0.1, "{before:?} -> {stopped:?}");
    assert_eq!(
        c.status("000").await.unwrap().move_status(),
        MoveStatus::Idle
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(close(cam.position(), stopped));

    // A continuous move ends by itself at its timeout.
    c.continuous_move(
        "000",
        PtzVector::new(0.0, -0.5, 0.0),
        Some(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cam.is_moving());
    cam.shutdown().await;
}

#[tokio::test]
async fn http_digest_alone_works_and_reuses_the_challenge() {
    let cam = sim(SimOptions::default()).await;
    let mut cfg = cam.client_config();
    cfg.ws_security = false;
    let c = OnvifClient::new(cfg).unwrap();
    for _ in 0..3 {
        c.presets("000").await.unwrap();
    }
    let s = cam.stats();
    assert_eq!(
        s.challenges, 1,
        "one challenge, then the nonce is reused with nc++"
    );
    assert_eq!(s.auth_faults, 0);
    cam.shutdown().await;
}

#[tokio::test]
async fn ws_security_alone_works() {
    let cam = sim(SimOptions {
        http_digest: false,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    c.presets("000").await.unwrap();
    c.status("000").await.unwrap();
    let s = cam.stats();
    assert_eq!((s.challenges, s.auth_faults), (0, 0));
    cam.shutdown().await;
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_quickly() {
    let cam = sim(SimOptions::default()).await;
    for ws_security in [true, false] {
        let mut cfg = cam
            .client_config()
            .with_credentials("admin", Secret::new("wrong"));
        cfg.ws_security = ws_security;
        let c = OnvifClient::new(cfg).unwrap();
        let t = Instant::now();
        let e = c.presets("000").await.unwrap_err();
        assert!(matches!(e, OnvifError::AuthFailed(_)), "{e}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        let base: vs_base::Error = e.into();
        assert_eq!(base.kind, vs_base::ErrorKind::Device);
    }
    let anonymous = OnvifClient::new(OnvifConfig::new("127.0.0.1", cam.addr().port())).unwrap();
    let e = anonymous.capabilities().await.unwrap_err();
    assert!(
        matches!(&e, OnvifError::AuthFailed(m) if m.contains("requires")),
        "{e}"
    );
    cam.shutdown().await;
}

#[tokio::test]
async fn camera_clock_ten_minutes_off_still_authenticates() {
    for skew in [TimeDelta::minutes(10), TimeDelta::minutes(-10)] {
        let cam = sim(SimOptions {
            clock_skew: skew,
            http_digest: false,
            ..SimOptions::default()
        })
        .await;

        // The camera really refuses a timestamp taken from our clock...
        let header = auth::ws_security_header("admin", "admin123", Utc::now());
        let envelope = soap::envelope(&vs_onvif::messages::get_presets("000"), Some(&header));
        let resp = reqwest::Client::new()
            .post(format!("http://{}/onvif/ptz_service", cam.addr()))
            .header("Content-Type", "application/soap+xml; charset=utf-8")
            .body(envelope)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let Reply::Fault(f) = soap::parse_reply(&resp.text().await.unwrap()).unwrap() else {
            panic!("expected a fault");
        };
        assert_eq!(f.subcodes, ["ter:NotAuthorized"]);

        // ...and the client, which measured the offset, gets in.
        let c = client(&cam);
        assert_eq!(c.presets("000").await.unwrap().len(), 1);
        let off = c.clock_offset() - skew;
        assert!(off.abs() <= TimeDelta::seconds(2), "offset off by {off}");
        cam.shutdown().await;
    }
}

#[tokio::test]
async fn clock_changed_after_discovery_is_re_read() {
    let cam = sim(SimOptions {
        http_digest: false,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    c.presets("000").await.unwrap();
    cam.set_clock_skew(TimeDelta::minutes(-30));
    c.presets("000").await.unwrap();
    assert!((c.clock_offset() + TimeDelta::minutes(30)).abs() <= TimeDelta::seconds(2));
    cam.shutdown().await;
}

#[tokio::test]
async fn unusable_xaddrs_are_rewritten_to_the_configured_address() {
    // 0.0.0.0 would reach nothing useful from another host; the client must not follow it.
    let cam = sim(SimOptions {
        advertised_host: Some("0.0.0.0:8899".into()),
        ..SimOptions::default()
    })
    .await;
    let mut cfg = cam.client_config();
    cfg.trust_xaddrs = true;
    let c = OnvifClient::new(cfg).unwrap();
    assert_eq!(
        c.capabilities().await.unwrap().ptz.unwrap(),
        format!("http://{}/onvif/ptz_service", cam.addr())
    );
    c.goto_preset("000", "0", None).await.unwrap();
    cam.shutdown().await;
}

#[tokio::test]
async fn a_fixed_camera_is_not_ptz_capable() {
    let cam = sim(SimOptions {
        ptz: false,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    assert!(!c.capabilities().await.unwrap().has_ptz());
    let e = c.goto_preset("000", "0", None).await.unwrap_err();
    assert!(matches!(e, OnvifError::NotPtzCapable(_)), "{e}");
    let e = c.default_profile().await.unwrap_err();
    assert!(matches!(e, OnvifError::NotPtzCapable(_)), "{e}");
    cam.shutdown().await;
}

#[tokio::test]
async fn unknown_action_is_a_soap_fault_classified_not_supported() {
    let cam = sim(SimOptions::default()).await;
    let header = auth::ws_security_header("admin", "admin123", Utc::now());
    let body = format!(
        r#"<tptz:GetCompatibleConfigurations xmlns:tptz="{}"><tptz:ProfileToken>000</tptz:ProfileToken></tptz:GetCompatibleConfigurations>"#,
        soap::PTZ_NS
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{}/onvif/ptz_service", cam.addr()))
        .header("Content-Type", "application/soap+xml; charset=utf-8")
        .body(soap::envelope(&body, Some(&header)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.headers()["server"], "gSOAP/2.8");
    let Reply::Fault(f) = soap::parse_reply(&resp.text().await.unwrap()).unwrap() else {
        panic!("expected a fault");
    };
    let e = vs_onvif::error::classify_fault("GetCompatibleConfigurations", f);
    assert!(matches!(e, OnvifError::NotSupported { .. }), "{e}");
    cam.shutdown().await;
}

#[tokio::test]
async fn closed_port_is_unreachable_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = OnvifClient::new(
        OnvifConfig::new("127.0.0.1", port).with_credentials("admin", Secret::new("x")),
    )
    .unwrap();
    let t = Instant::now();
    let e = c.goto_preset("000", "0", None).await.unwrap_err();
    assert!(matches!(e, OnvifError::Unreachable(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn silent_camera_times_out_within_the_deadline() {
    // Accepts connections and never answers, like a camera whose web server is wedged.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    let timeout = Duration::from_millis(1500);
    let c = OnvifClient::new(
        OnvifConfig::new("127.0.0.1", port)
            .with_credentials("admin", Secret::new("x"))
            .with_timeout(timeout),
    )
    .unwrap();
    let t = Instant::now();
    let e = c.status("000").await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, OnvifError::Timeout(_)), "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(1),
        "{took:?}"
    );
    let base: vs_base::Error = e.into();
    assert_eq!(base.kind, vs_base::ErrorKind::Timeout);
    hold.abort();
}

#[tokio::test]
async fn slow_camera_times_out_within_the_deadline() {
    let cam = sim(SimOptions {
        response_delay: Duration::from_secs(5),
        ..SimOptions::default()
    })
    .await;
    let timeout = Duration::from_millis(800);
    let c = OnvifClient::new(cam.client_config().with_timeout(timeout)).unwrap();
    let t = Instant::now();
    let e = c.capabilities().await.unwrap_err();
    assert!(matches!(e, OnvifError::Timeout(_)), "{e}");
    assert!(t.elapsed() < timeout + Duration::from_secs(1));
}

fn preset_at(token: &str, position: PtzVector) -> SimPreset {
    SimPreset {
        token: token.into(),
        name: format!("p{token}"),
        position,
    }
}

#[tokio::test]
async fn preset_move_settles_only_when_the_camera_has_arrived() {
    let target = PtzVector::new(0.6, -0.3, 0.2);
    let cam = sim(SimOptions {
        presets: vec![preset_at("0", PtzVector::default()), preset_at("5", target)],
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    c.capabilities().await.unwrap();

    let policy = SettlePolicy {
        poll_interval: Duration::from_millis(100),
        ..SettlePolicy::default()
    };
    // The Sunba does not report preset positions, so the status alone must tell.
    let goto = MoveTarget::Preset {
        token: "5".into(),
        position: None,
        speed: None,
    };
    let report = move_and_settle(&c, "000", &goto, &policy).await.unwrap();
    assert!(!cam.is_moving(), "reported settled while still moving");
    assert!(close(cam.position(), target), "{:?}", cam.position());
    assert_eq!(report.settled_by, SettledBy::Idle);
    assert!(close(report.position.unwrap(), target));
    // 0.6 units at 0.5 units/s: 1.2 s, plus a poll and the exchanges (slack for a busy CI).
    let expected = 1200;
    assert!(
        report.elapsed_ms >= expected && report.elapsed_ms < expected + 1000,
        "took {} ms",
        report.elapsed_ms
    );

    // With a known target, settling is decided by position too.
    let back = MoveTarget::Absolute {
        position: PtzVector::new(0.6, 0.0, 0.2),
        speed: None,
    };
    let report = move_and_settle(&c, "000", &back, &policy).await.unwrap();
    assert!(close(cam.position(), PtzVector::new(0.6, 0.0, 0.2)));
    assert!(
        report.elapsed_ms >= 600 && report.elapsed_ms < 1600,
        "took {} ms",
        report.elapsed_ms
    );
    cam.shutdown().await;
}

#[tokio::test]
async fn camera_that_never_reports_idle() {
    let cam = sim(SimOptions {
        report_move_status: false,
        presets: vec![preset_at("0", PtzVector::new(0.25, 0.0, 0.0))],
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    let policy = SettlePolicy {
        poll_interval: Duration::from_millis(100),
        settle_time: Some(Duration::from_millis(800)),
        ..SettlePolicy::default()
    };
    // Known target: arrival is seen in the position.
    let to = PtzVector::new(-0.25, 0.0, 0.0);
    let abs = MoveTarget::Absolute {
        position: to,
        speed: None,
    };
    let r = move_and_settle(&c, "000", &abs, &policy).await.unwrap();
    assert_eq!(r.settled_by, SettledBy::PositionReached);
    assert!(close(cam.position(), to));

    // Unknown target: the settle time, and only once the head has stopped.
    let goto = MoveTarget::Preset {
        token: "0".into(),
        position: None,
        speed: None,
    };
    let r = move_and_settle(&c, "000", &goto, &policy).await.unwrap();
    assert_eq!(r.settled_by, SettledBy::SettleTime);
    assert!(
        r.elapsed_ms >= 1000,
        "the move itself takes 1 s: {}",
        r.elapsed_ms
    );
    assert!(close(cam.position(), PtzVector::new(0.25, 0.0, 0.0)));
    cam.shutdown().await;
}

#[tokio::test]
async fn settling_gives_up_at_the_timeout() {
    let cam = sim(SimOptions {
        speed: 0.1,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    let policy = SettlePolicy {
        poll_interval: Duration::from_millis(100),
        timeout: Duration::from_millis(700),
        ..SettlePolicy::default()
    };
    let t = Instant::now();
    let e = move_and_settle(
        &c,
        "000",
        &MoveTarget::Absolute {
            position: PtzVector::new(1.0, 1.0, 1.0),
            speed: None,
        },
        &policy,
    )
    .await
    .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    assert!(
        matches!(&e, OnvifError::Timeout(m) if m.contains("did not settle") && m.contains("MOVING")),
        "{e}"
    );
    cam.shutdown().await;
}

#[tokio::test]
async fn appliance_units_round_trip_through_the_camera() {
    let cam = sim(SimOptions {
        speed: 2.0,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    let ranges = c.ranges("000").await.unwrap();
    let wanted = PresetPosition::new(-90.0, 45.0, 75.0);
    let v = to_onvif(wanted, &ranges).unwrap();
    assert!(close(v, PtzVector::new(-0.5, 0.5, 0.75)));
    move_and_settle(
        &c,
        "000",
        &MoveTarget::Absolute {
            position: v,
            speed: None,
        },
        &SettlePolicy::default(),
    )
    .await
    .unwrap();
    let here = from_onvif(c.status("000").await.unwrap().position.unwrap(), &ranges);
    assert!((here.pan - wanted.pan).abs() < 1e-3, "{here:?}");
    assert!((here.tilt - wanted.tilt).abs() < 1e-3, "{here:?}");
    assert!((here.zoom - wanted.zoom).abs() < 1e-3, "{here:?}");
    cam.shutdown().await;
}

#[tokio::test]
async fn trait_object_is_usable() {
    let cam = sim(SimOptions::default()).await;
    let ptz: std::sync::Arc<dyn Ptz> = std::sync::Arc::new(client(&cam));
    let profile = ptz.default_profile().await.unwrap();
    assert_eq!(profile, "000");
    let r = move_and_settle(
        &*ptz,
        &profile,
        &MoveTarget::Preset {
            token: "0".into(),
            position: Some(PtzVector::default()),
            speed: None,
        },
        &SettlePolicy::default(),
    )
    .await
    .unwrap();
    // Already there: settled on the first poll.
    assert_eq!(r.polls, 1);
    cam.shutdown().await;
}

#[tokio::test]
async fn a_camera_can_ignore_the_move_timeout() {
    // The mode the appliance's stop watchdog is tested against: like the third-party ONVIF
    // server that kept moving until told to stop.
    let cam = sim(SimOptions {
        honour_move_timeout: false,
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    c.continuous_move(
        "000",
        PtzVector::new(0.2, 0.0, 0.0),
        Some(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cam.is_moving(), "the timeout was ignored");
    c.stop("000").await.unwrap();
    assert!(!cam.is_moving());
    cam.shutdown().await;
}

/// A real HTTP server on 127.0.0.1 that is not ONVIF: it answers every request with a web page,
/// like a camera's web interface on its HTTP port.
async fn web_page_server(status: u16) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use axum::http::StatusCode;
    use axum::response::Html;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move {
        (
            StatusCode::from_u16(status).unwrap(),
            Html("<!DOCTYPE html>\n<html lang=en><head><title>IPCam</title></head><body>Login</body></html>"),
        )
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

#[tokio::test]
async fn a_port_that_does_not_speak_onvif_says_so() {
    for status in [200, 404] {
        let (addr, server) = web_page_server(status).await;
        let c = OnvifClient::new(
            OnvifConfig::new("127.0.0.1", addr.port()).with_credentials("admin", Secret::new("x")),
        )
        .unwrap();
        let e = c.presets("000").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the device at 127.0.0.1:{} answered, but not with ONVIF SOAP (HTTP {status}, \
                 text/html) — is this the ONVIF port? Common ONVIF ports are 8899, 80, 8000",
                addr.port()
            )
        );
        assert_eq!(e.code(), "protocol");
        let base: vs_base::Error = e.into();
        assert_eq!(base.kind, vs_base::ErrorKind::Device);
        server.abort();
    }

    // The camera's RTSP port given as its ONVIF port: an answer, but not even HTTP.
    let rtsp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = rtsp.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = rtsp.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n")
                .await;
        }
    });
    let c = OnvifClient::new(
        OnvifConfig::new("127.0.0.1", port).with_credentials("admin", Secret::new("x")),
    )
    .unwrap();
    let e = c.presets("000").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the device at 127.0.0.1:{port} answered, but not with ONVIF SOAP (not HTTP: invalid \
             HTTP version parsed) — is this the ONVIF port? Common ONVIF ports are 8899, 80, 8000"
        )
    );
    server.abort();
}

#[tokio::test]
async fn a_login_refused_without_a_challenge_says_what_happened() {
    // A WS-Security-only server answers a bad token with a bare 401: no challenge to list.
    let cam = sim(SimOptions {
        http_digest: false,
        bare_401: true,
        ..SimOptions::default()
    })
    .await;
    let c = OnvifClient::new(
        cam.client_config()
            .with_credentials("admin", Secret::new("wrong")),
    )
    .unwrap();
    let e = c.presets("000").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the camera rejected the ONVIF username or password (GetCapabilities: the WS-Security \
         login was refused with HTTP 401); check the camera's credentials and that its clock is \
         roughly right"
    );
    assert!(!e.to_string().contains("()"), "{e}");
    // The right password still gets in.
    assert_eq!(client(&cam).presets("000").await.unwrap().len(), 1);
    cam.shutdown().await;
}

#[tokio::test]
async fn relative_move_is_advertised_answered_clamped_and_settled() {
    let cam = sim(SimOptions {
        speed: 1.0,
        start_position: PtzVector::new(0.9, 0.0, 0.5),
        ..SimOptions::default()
    })
    .await;
    let c = client(&cam);
    // The captured profile names a relative translation space: the camera takes RelativeMove.
    let profiles = c.profiles().await.unwrap();
    let cfg = profiles[0].ptz.as_ref().unwrap();
    assert_eq!(
        cfg.relative_pan_tilt_space.as_deref(),
        Some("http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace")
    );
    assert!(c.supports_relative("000").await.unwrap());

    // Settles at the expected position, computed from where the head was.
    let before = c.status("000").await.unwrap().position.unwrap();
    let translation = PtzVector::new(-0.05, 0.02, 0.0);
    let expected = PtzVector::new(before.pan - 0.05, before.tilt + 0.02, before.zoom);
    let report = move_and_settle(
        &c,
        "000",
        &MoveTarget::Relative {
            translation,
            expected: Some(expected),
            speed: None,
        },
        &SettlePolicy::default(),
    )
    .await
    .unwrap();
    assert!(close(report.position.unwrap(), expected), "{report:?}");
    assert!(close(cam.position(), expected));
    assert_eq!(
        cam.stats()
            .actions
            .iter()
            .filter(|a| *a == "RelativeMove")
            .count(),
        1
    );

    // A real head stops at its end stop: a step past it ends there, not as a fault.
    c.relative_move("000", PtzVector::new(0.5, 0.0, 0.0), None)
        .await
        .unwrap();
    wait_idle(&c).await;
    assert!(close(
        cam.position(),
        PtzVector::new(1.0, expected.tilt, expected.zoom)
    ));

    // Beyond the translation space is refused, and nothing moves.
    let at = cam.position();
    let e = c
        .relative_move("000", PtzVector::new(1.5, 0.0, 0.0), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "device_fault", "{e}");
    assert!(e.to_string().contains("Invalid translation"), "{e}");
    assert!(close(cam.position(), at));
    assert!(!cam.is_moving());
    cam.shutdown().await;
}
