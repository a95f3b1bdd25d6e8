//! The simulator's answers compared byte for byte with the real camera's captures.

use std::path::PathBuf;

use super::*;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/onvif/sunba-ptz")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn shared(opts: SimOptions) -> Shared {
    Shared::new(opts, "http://192.168.12.59:8899".into())
}

async fn answer(shared: &Shared, request_fixture: &str) -> (StatusCode, String) {
    let req = fixture(request_fixture)
        .replace("{{PROFILE_TOKEN}}", "000")
        .replace("{{PRESET_TOKEN}}", "0");
    let env = xml::parse(&req).unwrap();
    let op = env.child("Body").unwrap().first_child().unwrap();
    let resp = dispatch(shared, &op.name.clone(), op);
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn answers_are_the_captured_bytes() {
    let s = shared(SimOptions::default());
    for op in ["GetCapabilities", "GetProfiles", "GetPresets", "GotoPreset"] {
        let (status, body) = answer(&s, &format!("{op}.request.xml")).await;
        assert_eq!(status, StatusCode::OK, "{op}");
        assert_eq!(body, fixture(&format!("{op}.response.xml")), "{op}");
    }
}

#[tokio::test]
async fn a_fixed_camera_has_no_ptz_anywhere() {
    let s = shared(SimOptions {
        ptz: false,
        ..SimOptions::default()
    });
    let (_, caps) = answer(&s, "GetCapabilities.request.xml").await;
    assert!(!caps.contains("ptz_service"));
    let (_, profiles) = answer(&s, "GetProfiles.request.xml").await;
    assert!(!profiles.contains("PTZConfiguration"));
    assert_eq!(profiles.matches("<trt:Profiles ").count(), 3);
    let (status, _) = answer(&s, "GotoPreset.request.xml").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn configuration_is_the_profiles_ptz_configuration() {
    let c = ptz_configuration();
    assert!(c.starts_with(r#"<tptz:PTZConfiguration token="PTZConfigurationToken""#));
    assert!(c.ends_with("</tptz:PTZConfiguration>"));
    assert!(xml::parse(&format!(
        r#"<r xmlns:tptz="urn:a" xmlns:tt="urn:b">{c}</r>"#
    ))
    .is_ok());
}

#[test]
fn motion_moves_at_the_configured_speed() {
    let t0 = Instant::now();
    let mut m = Motion {
        position: PtzVector::default(),
        target: Some(PtzVector::new(0.5, -0.25, 1.0)),
        rate: PtzVector::new(0.5, 0.5, 0.5),
        velocity: None,
        velocity_until: None,
        updated: t0,
    };
    m.advance(t0 + Duration::from_millis(500), 1.0);
    assert_eq!(m.position, PtzVector::new(0.25, -0.25, 0.25));
    assert!(m.pan_tilt_moving() && m.zoom_moving());
    m.advance(t0 + Duration::from_millis(1000), 1.0);
    assert_eq!(m.position, PtzVector::new(0.5, -0.25, 0.5));
    assert!(!m.pan_tilt_moving() && m.zoom_moving());
    m.advance(t0 + Duration::from_millis(5000), 1.0);
    assert_eq!(m.position, PtzVector::new(0.5, -0.25, 1.0));
    assert!(m.target.is_none());
}

fn op_of(body: &str) -> Element {
    match crate::soap::parse_reply(body).unwrap() {
        crate::soap::Reply::Ok(op) => op,
        crate::soap::Reply::Fault(f) => panic!("fault: {f}"),
    }
}

async fn call(shared: &Shared, op_xml: &str) -> String {
    let env = xml::parse(&crate::soap::envelope(op_xml, None)).unwrap();
    let op = env.child("Body").unwrap().first_child().unwrap();
    let resp = dispatch(shared, &op.name.clone(), op);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn nodes_services_and_clock_read_back_through_the_client_parsers() {
    use crate::messages as msg;
    let s = shared(SimOptions {
        clock_skew: TimeDelta::minutes(10),
        ..SimOptions::default()
    });
    let nodes = msg::parse_nodes(&op_of(&call(&s, &msg::get_nodes()).await)).unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].0, "NODE_000");
    assert_eq!(nodes[0].1, crate::types::PtzRanges::generic());

    let svc = msg::parse_services(&op_of(&call(&s, &msg::get_services()).await)).unwrap();
    assert_eq!(
        svc.ptz.as_deref(),
        Some("http://192.168.12.59:8899/onvif/ptz_service")
    );
    assert_eq!(
        svc.media.as_deref(),
        Some("http://192.168.12.59:8899/onvif/media_service")
    );

    let t =
        msg::parse_system_date_and_time(&op_of(&call(&s, &msg::get_system_date_and_time()).await))
            .unwrap();
    let off = t - Utc::now() - TimeDelta::minutes(10);
    assert!(off.abs() <= TimeDelta::seconds(2), "{off}");

    let cfg = call(
        &s,
        r#"<tptz:GetConfigurations xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl"/>"#,
    )
    .await;
    let op = op_of(&cfg);
    assert_eq!(
        op.child("PTZConfiguration").and_then(|c| c.attr("token")),
        Some("PTZConfigurationToken")
    );
}
