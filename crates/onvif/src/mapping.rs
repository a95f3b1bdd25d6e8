//! Conversion between the appliance's preset units (pan ±180°, tilt ±90°, zoom 0–100 %) and
//! the camera's ONVIF position space.
//!
//! The appliance's units are a generic space scaled for people: pan/180 and tilt/90 give −1..1,
//! zoom/100 gives 0..1. That generic value is spread linearly over whatever range the camera
//! reports, so a preset means "the same fraction of the travel" on any camera. Nothing here
//! claims real degrees: ONVIF's generic space is not calibrated.

use serde::{Deserialize, Serialize};

use crate::error::{OnvifError, Result};
use crate::types::{AxisRange, PtzRanges, PtzVector};

pub const PAN_LIMIT_DEG: f64 = 180.0;
pub const TILT_LIMIT_DEG: f64 = 90.0;
pub const ZOOM_LIMIT_PCT: f64 = 100.0;

/// A position in the appliance's preset units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PresetPosition {
    /// −180..180
    pub pan: f64,
    /// −90..90
    pub tilt: f64,
    /// 0..100
    pub zoom: f64,
}

impl PresetPosition {
    pub const fn new(pan: f64, tilt: f64, zoom: f64) -> Self {
        PresetPosition { pan, tilt, zoom }
    }
}

/// Maps `g` in `from` linearly into `to`.
fn lerp(g: f64, from: (f64, f64), to: &AxisRange) -> f64 {
    let t = (g - from.0) / (from.1 - from.0);
    to.clamp(to.min + t * (to.max - to.min))
}

/// Maps `v` in `from` back into the generic `to` interval.
fn unlerp(v: f64, from: &AxisRange, to: (f64, f64)) -> f64 {
    let span = from.max - from.min;
    if span == 0.0 || !span.is_finite() {
        return (to.0 + to.1) / 2.0;
    }
    let t = ((from.clamp(v) - from.min) / span).clamp(0.0, 1.0);
    to.0 + t * (to.1 - to.0)
}

/// Appliance units → the camera's absolute position, clamped to the camera's ranges.
pub fn to_onvif(p: PresetPosition, ranges: &PtzRanges) -> Result<PtzVector> {
    if !(p.pan.is_finite() && p.tilt.is_finite() && p.zoom.is_finite()) {
        return Err(OnvifError::InvalidInput(
            "pan, tilt and zoom must be numbers".into(),
        ));
    }
    let pan = (p.pan / PAN_LIMIT_DEG).clamp(-1.0, 1.0);
    let tilt = (p.tilt / TILT_LIMIT_DEG).clamp(-1.0, 1.0);
    let zoom = (p.zoom / ZOOM_LIMIT_PCT).clamp(0.0, 1.0);
    Ok(PtzVector {
        pan: lerp(pan, (-1.0, 1.0), &ranges.pan),
        tilt: lerp(tilt, (-1.0, 1.0), &ranges.tilt),
        zoom: lerp(zoom, (0.0, 1.0), &ranges.zoom),
    })
}

/// The camera's position → appliance units, to save where the camera is as a preset.
pub fn from_onvif(v: PtzVector, ranges: &PtzRanges) -> PresetPosition {
    PresetPosition {
        pan: unlerp(v.pan, &ranges.pan, (-1.0, 1.0)) * PAN_LIMIT_DEG,
        tilt: unlerp(v.tilt, &ranges.tilt, (-1.0, 1.0)) * TILT_LIMIT_DEG,
        zoom: unlerp(v.zoom, &ranges.zoom, (0.0, 1.0)) * ZOOM_LIMIT_PCT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn generic_space_is_the_scaled_units() {
        let r = PtzRanges::generic();
        let v = to_onvif(PresetPosition::new(90.0, -45.0, 25.0), &r).unwrap();
        assert!(
            close(v.pan, 0.5) && close(v.tilt, -0.5) && close(v.zoom, 0.25),
            "{v:?}"
        );
        let back = from_onvif(v, &r);
        assert!(close(back.pan, 90.0) && close(back.tilt, -45.0) && close(back.zoom, 25.0));
    }

    #[test]
    fn other_ranges_are_spread_linearly_and_clamped() {
        let r = PtzRanges {
            pan: AxisRange::new(0.0, 360.0),
            tilt: AxisRange::new(-10.0, 80.0),
            zoom: AxisRange::new(1.0, 30.0),
            pan_tilt_space: None,
            zoom_space: None,
        };
        let v = to_onvif(PresetPosition::new(0.0, 90.0, 100.0), &r).unwrap();
        assert!(
            close(v.pan, 180.0) && close(v.tilt, 80.0) && close(v.zoom, 30.0),
            "{v:?}"
        );
        let v = to_onvif(PresetPosition::new(-500.0, -500.0, -5.0), &r).unwrap();
        assert!(
            close(v.pan, 0.0) && close(v.tilt, -10.0) && close(v.zoom, 1.0),
            "{v:?}"
        );
        let back = from_onvif(PtzVector::new(270.0, 35.0, 15.5), &r);
        assert!(close(back.pan, 90.0) && close(back.tilt, 0.0) && close(back.zoom, 50.0));
        // A position outside what the camera claims is clamped, not extrapolated.
        let back = from_onvif(PtzVector::new(999.0, -999.0, 0.0), &r);
        assert!(close(back.pan, 180.0) && close(back.tilt, -90.0) && close(back.zoom, 0.0));
    }

    #[test]
    fn nan_is_rejected_and_degenerate_ranges_do_not_divide_by_zero() {
        let r = PtzRanges::generic();
        assert!(to_onvif(PresetPosition::new(f64::NAN, 0.0, 0.0), &r).is_err());
        let flat = PtzRanges {
            zoom: AxisRange::new(1.0, 1.0),
            ..PtzRanges::generic()
        };
        assert!(close(
            from_onvif(PtzVector::new(0.0, 0.0, 1.0), &flat).zoom,
            50.0
        ));
        assert!(close(
            to_onvif(PresetPosition::new(0.0, 0.0, 70.0), &flat)
                .unwrap()
                .zoom,
            1.0
        ));
    }
}
