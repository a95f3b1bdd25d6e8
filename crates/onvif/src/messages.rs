//! The ONVIF operations the appliance uses: request bodies to send and readers for the
//! answers, kept apart from HTTP so both can be checked against real captures.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::OnvifError;
use crate::soap::{DEVICE_NS, MEDIA2_NS, MEDIA_NS, PTZ_NS, SCHEMA_NS};
use crate::types::{
    AxisRange, MoveStatus, Preset, Profile, PtzConfiguration, PtzRanges, PtzStatus, PtzVector,
    VideoEncoder,
};
use crate::xml::{escape, Element};

/// Numbers as cameras expect them: plain decimals, no exponent, no `-0`.
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_string(),
        s => s.to_string(),
    }
}

/// xs:duration as `PT<seconds>S`.
pub fn fmt_duration(d: Duration) -> String {
    format!("PT{}S", fmt_num(d.as_secs_f64()))
}

/// Reads the xs:duration forms cameras use (`PT5S`, `PT1M30S`, `PT0.5S`, `P1DT2H`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut secs = 0.0f64;
    let mut num = String::new();
    for c in date.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'D' => {
                secs += num.parse::<f64>().ok()? * 86_400.0;
                num.clear();
            }
            // Years and months have no fixed length; no camera uses them for a PTZ timeout.
            _ => return None,
        }
    }
    for c in time.chars() {
        let mult = match c {
            '0'..='9' | '.' => {
                num.push(c);
                continue;
            }
            'H' => 3600.0,
            'M' => 60.0,
            'S' => 1.0,
            _ => return None,
        };
        secs += num.parse::<f64>().ok()? * mult;
        num.clear();
    }
    if !num.is_empty() || !secs.is_finite() {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// The SOAP 1.2 `action` URI for an operation, sent in the Content-Type.
pub fn action_uri(ns: &str, op: &str) -> String {
    format!("{ns}/{op}")
}

pub fn get_system_date_and_time() -> String {
    format!(r#"<tds:GetSystemDateAndTime xmlns:tds="{DEVICE_NS}"/>"#)
}

pub fn get_capabilities() -> String {
    format!(
        r#"<tds:GetCapabilities xmlns:tds="{DEVICE_NS}"><tds:Category>All</tds:Category></tds:GetCapabilities>"#
    )
}

pub fn get_services() -> String {
    format!(
        r#"<tds:GetServices xmlns:tds="{DEVICE_NS}"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"#
    )
}

pub fn get_profiles() -> String {
    format!(r#"<trt:GetProfiles xmlns:trt="{MEDIA_NS}"/>"#)
}

pub fn get_nodes() -> String {
    format!(r#"<tptz:GetNodes xmlns:tptz="{PTZ_NS}"/>"#)
}

fn ptz_op(op: &str, profile: &str, inner: &str) -> String {
    format!(
        r#"<tptz:{op} xmlns:tptz="{PTZ_NS}" xmlns:tt="{SCHEMA_NS}"><tptz:ProfileToken>{}</tptz:ProfileToken>{inner}</tptz:{op}>"#,
        escape(profile)
    )
}

fn vector(tag: &str, v: PtzVector) -> String {
    format!(
        r#"<tptz:{tag}><tt:PanTilt x="{}" y="{}"/><tt:Zoom x="{}"/></tptz:{tag}>"#,
        fmt_num(v.pan),
        fmt_num(v.tilt),
        fmt_num(v.zoom)
    )
}

fn speed(speed: Option<PtzVector>) -> String {
    speed.map(|s| vector("Speed", s)).unwrap_or_default()
}

pub fn get_presets(profile: &str) -> String {
    ptz_op("GetPresets", profile, "")
}

pub fn goto_preset(profile: &str, token: &str, s: Option<PtzVector>) -> String {
    let inner = format!(
        "<tptz:PresetToken>{}</tptz:PresetToken>{}",
        escape(token),
        speed(s)
    );
    ptz_op("GotoPreset", profile, &inner)
}

pub fn set_preset(profile: &str, name: &str, token: Option<&str>) -> String {
    let mut inner = format!("<tptz:PresetName>{}</tptz:PresetName>", escape(name));
    if let Some(t) = token {
        inner.push_str(&format!(
            "<tptz:PresetToken>{}</tptz:PresetToken>",
            escape(t)
        ));
    }
    ptz_op("SetPreset", profile, &inner)
}

pub fn remove_preset(profile: &str, token: &str) -> String {
    let inner = format!("<tptz:PresetToken>{}</tptz:PresetToken>", escape(token));
    ptz_op("RemovePreset", profile, &inner)
}

pub fn absolute_move(profile: &str, position: PtzVector, s: Option<PtzVector>) -> String {
    let inner = format!("{}{}", vector("Position", position), speed(s));
    ptz_op("AbsoluteMove", profile, &inner)
}

pub fn relative_move(profile: &str, translation: PtzVector, s: Option<PtzVector>) -> String {
    let inner = format!("{}{}", vector("Translation", translation), speed(s));
    ptz_op("RelativeMove", profile, &inner)
}

pub fn continuous_move(profile: &str, velocity: PtzVector, timeout: Option<Duration>) -> String {
    let mut inner = vector("Velocity", velocity);
    if let Some(t) = timeout {
        inner.push_str(&format!("<tptz:Timeout>{}</tptz:Timeout>", fmt_duration(t)));
    }
    ptz_op("ContinuousMove", profile, &inner)
}

pub fn stop(profile: &str) -> String {
    ptz_op(
        "Stop",
        profile,
        "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom>",
    )
}

pub fn get_status(profile: &str) -> String {
    ptz_op("GetStatus", profile, "")
}

fn expect<'a>(op: &'a Element, name: &str) -> Result<&'a Element, OnvifError> {
    if op.name == name {
        Ok(op)
    } else {
        Err(OnvifError::Protocol(format!(
            "expected {name}, got {}",
            op.name
        )))
    }
}

fn num(e: &Element, attr: &str) -> Option<f64> {
    e.attr(attr).and_then(|v| v.trim().parse::<f64>().ok())
}

fn child_num(e: &Element, name: &str) -> Option<f64> {
    e.child_text(name).and_then(|v| v.parse::<f64>().ok())
}

/// A PTZVector element (`PanTilt x y`, `Zoom x`); absent axes read as 0.
pub fn parse_vector(e: &Element) -> Option<PtzVector> {
    let pt = e.child("PanTilt");
    let z = e.child("Zoom");
    if pt.is_none() && z.is_none() {
        return None;
    }
    Some(PtzVector {
        pan: pt.and_then(|p| num(p, "x")).unwrap_or(0.0),
        tilt: pt.and_then(|p| num(p, "y")).unwrap_or(0.0),
        zoom: z.and_then(|z| num(z, "x")).unwrap_or(0.0),
    })
}

/// The camera's clock from GetSystemDateAndTimeResponse: UTC when given, else the local time
/// read as UTC (better than nothing for the timestamp window).
pub fn parse_system_date_and_time(op: &Element) -> Result<DateTime<Utc>, OnvifError> {
    let op = expect(op, "GetSystemDateAndTimeResponse")?;
    let sdt = op
        .child("SystemDateAndTime")
        .ok_or_else(|| OnvifError::Protocol("no SystemDateAndTime".into()))?;
    let dt = sdt
        .child("UTCDateTime")
        .or_else(|| sdt.child("LocalDateTime"))
        .ok_or_else(|| OnvifError::Protocol("no UTCDateTime or LocalDateTime".into()))?;
    let get = |path: &[&str]| -> Option<u32> { dt.path(path)?.text().parse().ok() };
    let date = NaiveDate::from_ymd_opt(
        get(&["Date", "Year"]).unwrap_or(0) as i32,
        get(&["Date", "Month"]).unwrap_or(0),
        get(&["Date", "Day"]).unwrap_or(0),
    )
    .and_then(|d| {
        d.and_hms_opt(
            get(&["Time", "Hour"]).unwrap_or(0),
            get(&["Time", "Minute"]).unwrap_or(0),
            get(&["Time", "Second"]).unwrap_or(0).min(59),
        )
    })
    .ok_or_else(|| OnvifError::Protocol("the camera reported an invalid date".into()))?;
    Ok(date.and_utc())
}

/// Service addresses as the camera reports them (before rewriting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAddrs {
    pub device: Option<String>,
    pub media: Option<String>,
    pub media2: Option<String>,
    pub ptz: Option<String>,
    pub imaging: Option<String>,
    pub events: Option<String>,
}

pub fn parse_capabilities(op: &Element) -> Result<ServiceAddrs, OnvifError> {
    let op = expect(op, "GetCapabilitiesResponse")?;
    let caps = op
        .child("Capabilities")
        .ok_or_else(|| OnvifError::Protocol("no Capabilities".into()))?;
    let xaddr = |name: &str| {
        caps.child(name)
            .and_then(|c| c.child_text("XAddr"))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(ServiceAddrs {
        device: xaddr("Device"),
        media: xaddr("Media"),
        media2: None,
        ptz: xaddr("PTZ"),
        imaging: xaddr("Imaging"),
        events: xaddr("Events"),
    })
}

pub fn parse_services(op: &Element) -> Result<ServiceAddrs, OnvifError> {
    let op = expect(op, "GetServicesResponse")?;
    let mut out = ServiceAddrs::default();
    for s in op.children_named("Service") {
        let (Some(ns), Some(x)) = (s.child_text("Namespace"), s.child_text("XAddr")) else {
            continue;
        };
        let slot = match ns {
            DEVICE_NS => &mut out.device,
            MEDIA_NS => &mut out.media,
            MEDIA2_NS => &mut out.media2,
            PTZ_NS => &mut out.ptz,
            "http://www.onvif.org/ver20/imaging/wsdl" => &mut out.imaging,
            "http://www.onvif.org/ver10/events/wsdl" => &mut out.events,
            _ => continue,
        };
        *slot = Some(x.to_string());
    }
    Ok(out)
}

fn range(e: &Element) -> Option<AxisRange> {
    Some(AxisRange::new(child_num(e, "Min")?, child_num(e, "Max")?))
}

/// PanTiltLimits + ZoomLimits of a PTZConfiguration, or a node's SupportedPTZSpaces.
fn ranges_from(pan_tilt: Option<&Element>, zoom: Option<&Element>) -> Option<PtzRanges> {
    if pan_tilt.is_none() && zoom.is_none() {
        return None;
    }
    let generic = PtzRanges::generic();
    let (pan, tilt, pt_space) = match pan_tilt {
        Some(r) => (
            r.child("XRange").and_then(range)?,
            r.child("YRange").and_then(range)?,
            r.child_text("URI").map(str::to_string),
        ),
        None => (generic.pan, generic.tilt, generic.pan_tilt_space.clone()),
    };
    let (zoom, z_space) = match zoom {
        Some(r) => (
            r.child("XRange").and_then(range)?,
            r.child_text("URI").map(str::to_string),
        ),
        None => (generic.zoom, generic.zoom_space.clone()),
    };
    Some(PtzRanges {
        pan,
        tilt,
        zoom,
        pan_tilt_space: pt_space,
        zoom_space: z_space,
    })
}

fn parse_ptz_configuration(c: &Element) -> PtzConfiguration {
    let default_speed = c.child("DefaultPTZSpeed").and_then(parse_vector);
    PtzConfiguration {
        token: c.attr("token").unwrap_or_default().to_string(),
        name: c.child_text("Name").unwrap_or_default().to_string(),
        node_token: c.child_text("NodeToken").map(str::to_string),
        default_speed,
        default_timeout: c.child_text("DefaultPTZTimeout").and_then(parse_duration),
        ranges: ranges_from(
            c.path(&["PanTiltLimits", "Range"]),
            c.path(&["ZoomLimits", "Range"]),
        ),
        relative_pan_tilt_space: c
            .child_text("DefaultRelativePanTiltTranslationSpace")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }
}

pub fn parse_profiles(op: &Element) -> Result<Vec<Profile>, OnvifError> {
    let op = expect(op, "GetProfilesResponse")?;
    Ok(op
        .children_named("Profiles")
        .map(|p| {
            let video = p.child("VideoEncoderConfiguration").map(|v| VideoEncoder {
                encoding: v.child_text("Encoding").unwrap_or_default().to_string(),
                width: v
                    .path(&["Resolution", "Width"])
                    .and_then(|w| w.text().parse().ok())
                    .unwrap_or(0),
                height: v
                    .path(&["Resolution", "Height"])
                    .and_then(|h| h.text().parse().ok())
                    .unwrap_or(0),
                frame_rate_limit: v
                    .path(&["RateControl", "FrameRateLimit"])
                    .and_then(|f| f.text().parse().ok()),
            });
            Profile {
                token: p.attr("token").unwrap_or_default().to_string(),
                name: p.child_text("Name").unwrap_or_default().to_string(),
                video,
                ptz: p.child("PTZConfiguration").map(parse_ptz_configuration),
            }
        })
        .collect())
}

pub fn parse_presets(op: &Element) -> Result<Vec<Preset>, OnvifError> {
    let op = expect(op, "GetPresetsResponse")?;
    Ok(op
        .children_named("Preset")
        .map(|p| Preset {
            token: p.attr("token").unwrap_or_default().to_string(),
            name: p.child_text("Name").unwrap_or_default().to_string(),
            position: p.child("PTZPosition").and_then(parse_vector),
        })
        .collect())
}

pub fn parse_set_preset(op: &Element) -> Result<String, OnvifError> {
    let op = expect(op, "SetPresetResponse")?;
    op.child_text("PresetToken")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| OnvifError::Protocol("SetPresetResponse without a PresetToken".into()))
}

pub fn parse_status(op: &Element) -> Result<PtzStatus, OnvifError> {
    let op = expect(op, "GetStatusResponse")?;
    let st = op
        .child("PTZStatus")
        .ok_or_else(|| OnvifError::Protocol("no PTZStatus".into()))?;
    let (pan_tilt, zoom) = match st.child("MoveStatus") {
        // Some firmwares send one word for the whole head instead of per-axis children.
        Some(ms) if ms.children.is_empty() => {
            let s = MoveStatus::parse(ms.text());
            (s, s)
        }
        Some(ms) => (
            ms.child_text("PanTilt")
                .map(MoveStatus::parse)
                .unwrap_or(MoveStatus::Unknown),
            ms.child_text("Zoom")
                .map(MoveStatus::parse)
                .unwrap_or(MoveStatus::Unknown),
        ),
        None => (MoveStatus::Unknown, MoveStatus::Unknown),
    };
    Ok(PtzStatus {
        position: st.child("Position").and_then(parse_vector),
        pan_tilt,
        zoom,
        utc_time: st
            .child_text("UtcTime")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        error: st
            .child_text("Error")
            .filter(|e| !e.is_empty())
            .map(str::to_string),
    })
}

/// GetNodes: each node's token and its absolute position spaces.
pub fn parse_nodes(op: &Element) -> Result<Vec<(String, PtzRanges)>, OnvifError> {
    let op = expect(op, "GetNodesResponse")?;
    Ok(op
        .children_named("PTZNode")
        .filter_map(|n| {
            let spaces = n.child("SupportedPTZSpaces")?;
            let r = ranges_from(
                spaces.child("AbsolutePanTiltPositionSpace"),
                spaces.child("AbsoluteZoomPositionSpace"),
            )?;
            Some((n.attr("token").unwrap_or_default().to_string(), r))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-1.0), "-1");
        assert_eq!(fmt_num(-0.0000001), "0");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(parse_duration("PT5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("P1DT1H"), Some(Duration::from_secs(90_000)));
        assert_eq!(parse_duration("5S"), None);
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "PT1.5S");
    }
}
