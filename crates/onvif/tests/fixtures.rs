//! The real Sunba camera's captured exchanges, read as they are from `shared/fixtures`, through
//! the same parsers and builders the client uses.

use std::path::PathBuf;
use std::time::Duration;

use vs_onvif::messages as msg;
use vs_onvif::soap::{self, Reply, PTZ_NS, SOAP12_NS};
use vs_onvif::xml::{self, Element};
use vs_onvif::{MoveStatus, PtzVector};

fn dir() -> PathBuf {
    // CI lays shared/ beside the repository clone, so the path is relative to the crate.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/onvif/sunba-ptz")
}

fn fixture(name: &str) -> String {
    let p = dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn reply(name: &str) -> Element {
    match soap::parse_reply(&fixture(name)).unwrap() {
        Reply::Ok(op) => op,
        Reply::Fault(f) => panic!("{name} is a fault: {f}"),
    }
}

#[test]
fn every_captured_response_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(op) = name.strip_suffix(".response.xml") else {
            continue;
        };
        let el = reply(&name);
        assert_eq!(el.name, format!("{op}Response"), "{name}");
        seen += 1;
    }
    assert!(seen >= 4, "found only {seen} captured responses");
}

#[test]
fn capabilities_give_the_service_addresses() {
    let a = msg::parse_capabilities(&reply("GetCapabilities.response.xml")).unwrap();
    assert_eq!(
        a.ptz.as_deref(),
        Some("http://192.168.12.59:8899/onvif/ptz_service")
    );
    assert_eq!(
        a.media.as_deref(),
        Some("http://192.168.12.59:8899/onvif/media_service")
    );
    assert_eq!(
        a.device.as_deref(),
        Some("http://192.168.12.59:8899/onvif/device_service")
    );
    assert_eq!(
        a.imaging.as_deref(),
        Some("http://192.168.12.59:8899/onvif/image_service")
    );
    assert_eq!(
        a.events.as_deref(),
        Some("http://192.168.12.59:8899/onvif/event_service")
    );
}

#[test]
fn profiles_have_tokens_encoders_and_ptz_limits() {
    let profiles = msg::parse_profiles(&reply("GetProfiles.response.xml")).unwrap();
    let tokens: Vec<&str> = profiles.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["000", "001", "002"]);
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["mainStream", "subStream", "snapStream"]);

    let video: Vec<(String, u32, u32, Option<u32>)> = profiles
        .iter()
        .map(|p| {
            let v = p.video.as_ref().unwrap();
            (v.encoding.clone(), v.width, v.height, v.frame_rate_limit)
        })
        .collect();
    assert_eq!(
        video,
        [
            ("H264".into(), 4096, 2160, Some(10)),
            ("H264".into(), 800, 448, Some(15)),
            ("JPEG".into(), 704, 480, Some(1)),
        ]
    );

    for p in &profiles {
        let ptz = p.ptz.as_ref().expect("every captured profile has PTZ");
        assert_eq!(ptz.token, "PTZConfigurationToken");
        assert_eq!(ptz.node_token.as_deref(), Some("NODE_000"));
        assert_eq!(ptz.default_speed, Some(PtzVector::new(0.5, 0.5, 0.5)));
        assert_eq!(ptz.default_timeout, Some(Duration::from_secs(5)));
        let r = ptz.ranges.as_ref().expect("limits are reported");
        assert_eq!((r.pan.min, r.pan.max), (-1.0, 1.0));
        assert_eq!((r.tilt.min, r.tilt.max), (-1.0, 1.0));
        assert_eq!((r.zoom.min, r.zoom.max), (0.0, 1.0));
        assert_eq!(
            r.pan_tilt_space.as_deref(),
            Some("http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace")
        );
        assert_eq!(
            r.zoom_space.as_deref(),
            Some("http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace")
        );
    }
}

#[test]
fn presets_have_no_positions_on_this_camera() {
    let presets = msg::parse_presets(&reply("GetPresets.response.xml")).unwrap();
    assert_eq!(presets.len(), 1);
    assert_eq!(presets[0].token, "0");
    assert_eq!(presets[0].name, "0");
    assert_eq!(presets[0].position, None);
}

#[test]
fn goto_preset_answer_is_empty() {
    let op = reply("GotoPreset.response.xml");
    assert_eq!(op.ns.as_deref(), Some(PTZ_NS));
    assert!(op.children.is_empty());
}

/// The parts of a request that matter to a camera: namespaces, local names, attributes, text.
fn essence(e: &Element) -> String {
    let mut s = format!("{{{}}}{}", e.ns.as_deref().unwrap_or(""), e.name);
    let mut attrs = e.attrs.clone();
    attrs.sort();
    for (k, v) in attrs {
        s.push_str(&format!(" {k}={v:?}"));
    }
    if !e.text().is_empty() {
        s.push_str(&format!(" text={:?}", e.text()));
    }
    s.push('[');
    for c in &e.children {
        s.push_str(&essence(c));
        s.push(',');
    }
    s.push(']');
    s
}

fn body_essence(envelope: &str) -> String {
    let root = xml::parse(envelope).unwrap();
    assert_eq!(root.name, "Envelope");
    assert_eq!(root.ns.as_deref(), Some(SOAP12_NS));
    essence(root.child("Body").unwrap().first_child().unwrap())
}

fn captured_request(name: &str) -> String {
    fixture(name)
        .replace("{{PROFILE_TOKEN}}", "000")
        .replace("{{PRESET_TOKEN}}", "0")
}

#[test]
fn built_requests_match_the_captured_ones() {
    let ours = [
        ("GotoPreset.request.xml", msg::goto_preset("000", "0", None)),
        ("GetPresets.request.xml", msg::get_presets("000")),
        ("GetProfiles.request.xml", msg::get_profiles()),
        ("GetCapabilities.request.xml", msg::get_capabilities()),
    ];
    for (name, body) in ours {
        let built = soap::envelope(&body, None);
        assert_eq!(
            body_essence(&built),
            body_essence(&captured_request(name)),
            "{name}"
        );
    }
    let goto = xml::parse(&soap::envelope(&msg::goto_preset("000", "0", None), None)).unwrap();
    let op = goto.child("Body").unwrap().first_child().unwrap();
    assert_eq!(op.ns.as_deref(), Some(PTZ_NS));
    assert_eq!(op.child_text("ProfileToken"), Some("000"));
    assert_eq!(op.child_text("PresetToken"), Some("0"));
}

#[test]
fn status_in_other_prefixes_and_shapes() {
    // No GetStatus was captured; these are the two shapes seen from other firmwares.
    let a = format!(
        r#"<env:Envelope xmlns:env="{SOAP12_NS}"><env:Body><ns2:GetStatusResponse xmlns:ns2="{PTZ_NS}" xmlns:ns1="http://www.onvif.org/ver10/schema"><ns2:PTZStatus><ns1:Position><ns1:PanTilt x="0.25" y="-0.5"/><ns1:Zoom x="0.1"/></ns1:Position><ns1:MoveStatus><ns1:PanTilt>MOVING</ns1:PanTilt><ns1:Zoom>IDLE</ns1:Zoom></ns1:MoveStatus><ns1:UtcTime>2026-01-02T03:04:05Z</ns1:UtcTime></ns2:PTZStatus></ns2:GetStatusResponse></env:Body></env:Envelope>"#
    );
    let Reply::Ok(op) = soap::parse_reply(&a).unwrap() else {
        panic!()
    };
    let st = msg::parse_status(&op).unwrap();
    assert_eq!(st.position, Some(PtzVector::new(0.25, -0.5, 0.1)));
    assert_eq!(st.move_status(), MoveStatus::Moving);
    assert_eq!(
        st.utc_time.unwrap().to_rfc3339(),
        "2026-01-02T03:04:05+00:00"
    );

    let b = format!(
        r#"<Envelope xmlns="{SOAP12_NS}"><Body><GetStatusResponse xmlns="{PTZ_NS}"><PTZStatus><Position><PanTilt x="1" y="0"/></Position><MoveStatus>IDLE</MoveStatus></PTZStatus></GetStatusResponse></Body></Envelope>"#
    );
    let Reply::Ok(op) = soap::parse_reply(&b).unwrap() else {
        panic!()
    };
    let st = msg::parse_status(&op).unwrap();
    assert_eq!(st.position, Some(PtzVector::new(1.0, 0.0, 0.0)));
    assert_eq!(st.move_status(), MoveStatus::Idle);
}
