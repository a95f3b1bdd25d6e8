//! What a timeline refers to — cameras, presets, overlays — seen through a trait, so that
//! import, validation and export stay pure logic and tests need no database. The server
//! implements it over a snapshot of its tables (or fills a [`MemoryCatalog`]).

use vs_base::StreamUrl;

use crate::credentials::{same_address, split_credentials};

/// A configured camera. `address` never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    pub id: i64,
    pub name: String,
    pub address: String,
}

/// A preset of a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetInfo {
    pub id: i64,
    pub camera_id: i64,
    pub name: String,
    /// The camera-side ONVIF token, when the preset exists on the camera itself.
    pub token: Option<String>,
    /// How long the camera needs after a move before the picture is steady. The catalog gives
    /// the value the PTZ layer will actually wait (its default when the preset has none), so
    /// the timeline warns about exactly what will happen.
    pub settle_ms: i64,
}

/// An overlay the program can composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayInfo {
    pub id: i64,
    pub name: String,
    /// The VistterStudio references this overlay answers to (asset ids and paths it was
    /// synced from); the first one is written back on export.
    pub keys: Vec<String>,
}

/// Lookups a timeline needs. Synchronous on purpose: the server loads the few rows once
/// per import or validation, and the timeline logic then never waits on I/O.
pub trait Catalog {
    fn camera(&self, id: i64) -> Option<CameraInfo>;
    /// The camera whose address names the same stream (see [`same_address`]).
    fn find_camera_by_address(&self, url: &StreamUrl) -> Option<CameraInfo>;
    /// The camera with this name, compared without regard to case.
    fn find_camera_by_name(&self, name: &str) -> Option<CameraInfo>;
    fn preset(&self, id: i64) -> Option<PresetInfo>;
    /// A preset of `camera_id` by name (case-insensitive) or by ONVIF token.
    fn find_preset(&self, camera_id: i64, name_or_token: &str) -> Option<PresetInfo>;
    fn overlay(&self, id: i64) -> Option<OverlayInfo>;
    /// An overlay by one of its VistterStudio keys, its name, or its id written as a number.
    fn find_overlay(&self, key: &str) -> Option<OverlayInfo>;
}

/// A catalog held in memory: for tests, and for callers that load their rows up front.
#[derive(Debug, Clone, Default)]
pub struct MemoryCatalog {
    pub cameras: Vec<CameraInfo>,
    pub presets: Vec<PresetInfo>,
    pub overlays: Vec<OverlayInfo>,
}

impl MemoryCatalog {
    pub fn with_camera(mut self, id: i64, name: &str, address: &str) -> Self {
        self.cameras.push(CameraInfo {
            id,
            name: name.into(),
            address: address.into(),
        });
        self
    }

    pub fn with_preset(mut self, id: i64, camera_id: i64, name: &str, settle_ms: i64) -> Self {
        self.presets.push(PresetInfo {
            id,
            camera_id,
            name: name.into(),
            token: None,
            settle_ms,
        });
        self
    }

    pub fn with_overlay(mut self, id: i64, name: &str, keys: &[&str]) -> Self {
        self.overlays.push(OverlayInfo {
            id,
            name: name.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        });
        self
    }
}

impl Catalog for MemoryCatalog {
    fn camera(&self, id: i64) -> Option<CameraInfo> {
        self.cameras.iter().find(|c| c.id == id).cloned()
    }

    fn find_camera_by_address(&self, url: &StreamUrl) -> Option<CameraInfo> {
        self.cameras
            .iter()
            .find(|c| {
                split_credentials(&c.address, "address")
                    .map(|s| same_address(&s.url, url))
                    .unwrap_or(false)
            })
            .cloned()
    }

    fn find_camera_by_name(&self, name: &str) -> Option<CameraInfo> {
        let name = name.trim();
        self.cameras
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    fn preset(&self, id: i64) -> Option<PresetInfo> {
        self.presets.iter().find(|p| p.id == id).cloned()
    }

    fn find_preset(&self, camera_id: i64, name_or_token: &str) -> Option<PresetInfo> {
        let key = name_or_token.trim();
        let of_camera = || self.presets.iter().filter(|p| p.camera_id == camera_id);
        of_camera()
            .find(|p| p.name.eq_ignore_ascii_case(key))
            .or_else(|| of_camera().find(|p| p.token.as_deref() == Some(key)))
            .cloned()
    }

    fn overlay(&self, id: i64) -> Option<OverlayInfo> {
        self.overlays.iter().find(|o| o.id == id).cloned()
    }

    fn find_overlay(&self, key: &str) -> Option<OverlayInfo> {
        self.overlays
            .iter()
            .find(|o| o.keys.iter().any(|k| k == key))
            .or_else(|| {
                self.overlays
                    .iter()
                    .find(|o| o.name.eq_ignore_ascii_case(key.trim()))
            })
            .or_else(|| {
                let id: i64 = key.trim().parse().ok()?;
                self.overlays.iter().find(|o| o.id == id)
            })
            .cloned()
    }
}
