//! Presets: named pan/tilt/zoom positions of a camera, checked against the appliance's units
//! (pan −180…180°, tilt −90…90°, zoom 0…100 % of the camera's range). Stored by the
//! `CameraService`, moved to and captured by the `PtzService`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vs_base::Result;
use vs_db::presets::{PresetRow, PresetWrite};

use super::validate;

/// The body of `POST /api/cameras/{id}/presets` and `PUT /api/presets/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetInput {
    #[schema(example = "shot1")]
    pub name: String,
    /// Degrees, −180 to 180.
    #[schema(example = 0.0)]
    pub pan: f64,
    /// Degrees, −90 to 90.
    #[schema(example = 30.0)]
    pub tilt: f64,
    /// Percent of the zoom range, 0 (wide) to 100.
    #[schema(example = 2.0)]
    pub zoom: f64,
    /// Milliseconds a move to this preset takes to settle, for cameras that never report idle.
    #[serde(default)]
    pub settle_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preset {
    pub id: i64,
    pub camera_id: i64,
    pub name: String,
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
    /// The camera-side preset token, when the preset exists on the camera itself.
    pub onvif_token: Option<String>,
    pub settle_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<PresetRow> for Preset {
    fn from(r: PresetRow) -> Self {
        Preset {
            id: r.id,
            camera_id: r.camera_id,
            name: r.name,
            pan: r.pan,
            tilt: r.tilt,
            zoom: r.zoom,
            onvif_token: r.onvif_token,
            settle_ms: r.settle_ms,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The query of `DELETE /api/presets/{id}` and `DELETE /api/cameras/{id}/presets/{preset_id}`.
///
/// A preset saved on the camera too (it has an `onvif_token`) is removed there first
/// (ONVIF RemovePreset), so the camera does not keep a copy that "Import presets" would bring
/// back. When the camera cannot be reached or refuses, nothing is deleted and the answer (502,
/// or 504 when it did not answer in time) says why; `force=true` then deletes the preset from
/// the appliance only. A camera that no longer knows the token, or says it cannot remove
/// presets at all, does not stop the delete.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeletePresetQuery {
    /// true: delete from the appliance even if the camera cannot remove its copy.
    #[serde(default)]
    pub force: Option<bool>,
}

/// The optional settle time of a preset, 0 to 120 000 ms.
pub fn settle_ms(value: Option<i64>) -> Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(ms) if (0..=120_000).contains(&ms) => Ok(Some(ms)),
        Some(_) => Err(vs_base::Error::invalid(
            "settle_ms",
            "must be between 0 and 120000 milliseconds",
        )),
    }
}

pub fn validate_preset(p: &PresetInput, onvif_token: Option<String>) -> Result<PresetWrite> {
    let settle_ms = settle_ms(p.settle_ms)?;
    Ok(PresetWrite {
        name: validate::name("name", &p.name, 64)?,
        pan: validate::range("pan", p.pan, -180.0, 180.0, " degrees")?,
        tilt: validate::range("tilt", p.tilt, -90.0, 90.0, " degrees")?,
        zoom: validate::range("zoom", p.zoom, 0.0, 100.0, " (percent of the zoom range)")?,
        onvif_token,
        settle_ms,
    })
}
