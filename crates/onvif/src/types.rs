//! The values exchanged with a PTZ camera, independent of how they are encoded on the wire.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Pan, tilt and zoom in the camera's ONVIF space (generic: pan/tilt −1..1, zoom 0..1).
/// Used for positions, translations, velocities and speeds alike.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PtzVector {
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
}

impl PtzVector {
    pub const fn new(pan: f64, tilt: f64, zoom: f64) -> Self {
        PtzVector { pan, tilt, zoom }
    }

    pub fn is_finite(&self) -> bool {
        self.pan.is_finite() && self.tilt.is_finite() && self.zoom.is_finite()
    }

    /// The largest per-axis difference; axes move independently, so this is what bounds the
    /// time a move takes.
    pub fn max_abs_diff(&self, other: &PtzVector) -> f64 {
        (self.pan - other.pan)
            .abs()
            .max((self.tilt - other.tilt).abs())
            .max((self.zoom - other.zoom).abs())
    }
}

/// A preset stored in the camera. The Sunba camera reports no position for its presets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub token: String,
    pub name: String,
    pub position: Option<PtzVector>,
}

/// One limit of an axis in the camera's space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AxisRange {
    pub min: f64,
    pub max: f64,
}

impl AxisRange {
    pub const fn new(min: f64, max: f64) -> Self {
        AxisRange { min, max }
    }
    pub fn clamp(&self, v: f64) -> f64 {
        let (lo, hi) = if self.min <= self.max {
            (self.min, self.max)
        } else {
            (self.max, self.min)
        };
        v.clamp(lo, hi)
    }
}

/// The position ranges the camera reports for a profile, with the space URIs they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtzRanges {
    pub pan: AxisRange,
    pub tilt: AxisRange,
    pub zoom: AxisRange,
    pub pan_tilt_space: Option<String>,
    pub zoom_space: Option<String>,
}

impl PtzRanges {
    /// ONVIF's generic position spaces, used when a camera reports no limits.
    pub fn generic() -> Self {
        PtzRanges {
            pan: AxisRange::new(-1.0, 1.0),
            tilt: AxisRange::new(-1.0, 1.0),
            zoom: AxisRange::new(0.0, 1.0),
            pan_tilt_space: Some(PAN_TILT_POSITION_GENERIC.into()),
            zoom_space: Some(ZOOM_POSITION_GENERIC.into()),
        }
    }

    pub fn clamp(&self, v: PtzVector) -> PtzVector {
        PtzVector {
            pan: self.pan.clamp(v.pan),
            tilt: self.tilt.clamp(v.tilt),
            zoom: self.zoom.clamp(v.zoom),
        }
    }
}

pub const PAN_TILT_POSITION_GENERIC: &str =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace";
pub const ZOOM_POSITION_GENERIC: &str =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace";

/// The PTZ part of a media profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtzConfiguration {
    pub token: String,
    pub name: String,
    pub node_token: Option<String>,
    pub default_speed: Option<PtzVector>,
    pub default_timeout: Option<Duration>,
    /// From PanTiltLimits/ZoomLimits; `None` when the camera reports none.
    pub ranges: Option<PtzRanges>,
    /// DefaultRelativePanTiltTranslationSpace: present when the camera takes RelativeMove.
    #[serde(default)]
    pub relative_pan_tilt_space: Option<String>,
}

/// The video encoder of a profile, enough to tell main and sub streams apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoEncoder {
    pub encoding: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate_limit: Option<u32>,
}

/// A media profile; PTZ commands are addressed to one by its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub token: String,
    pub name: String,
    pub video: Option<VideoEncoder>,
    pub ptz: Option<PtzConfiguration>,
}

/// The service endpoints the camera offers, after host rewriting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub device: String,
    pub media: Option<String>,
    pub ptz: Option<String>,
    pub imaging: Option<String>,
    pub events: Option<String>,
}

impl Capabilities {
    pub fn has_ptz(&self) -> bool {
        self.ptz.is_some()
    }
}

/// Whether an axis group is moving, as the camera reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveStatus {
    Idle,
    Moving,
    /// Reported as UNKNOWN, or not reported at all (some cameras never do).
    Unknown,
}

impl MoveStatus {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "IDLE" => MoveStatus::Idle,
            "MOVING" => MoveStatus::Moving,
            _ => MoveStatus::Unknown,
        }
    }

    pub fn as_onvif(self) -> &'static str {
        match self {
            MoveStatus::Idle => "IDLE",
            MoveStatus::Moving => "MOVING",
            MoveStatus::Unknown => "UNKNOWN",
        }
    }
}

/// GetStatus: where the camera is and whether it is still moving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtzStatus {
    /// Missing axes are reported as 0 (cameras without zoom omit it).
    pub position: Option<PtzVector>,
    pub pan_tilt: MoveStatus,
    pub zoom: MoveStatus,
    pub utc_time: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl PtzStatus {
    /// Both axis groups together: moving if either moves; idle if one says idle and the other
    /// does not contradict it (cameras without zoom report only PanTilt).
    pub fn move_status(&self) -> MoveStatus {
        use MoveStatus::*;
        match (self.pan_tilt, self.zoom) {
            (Moving, _) | (_, Moving) => Moving,
            (Idle, _) | (_, Idle) => Idle,
            _ => Unknown,
        }
    }
}
