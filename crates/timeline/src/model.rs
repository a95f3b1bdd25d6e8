//! The appliance's own timeline: tracks of clips timed in milliseconds, where a video clip puts
//! a camera (optionally at a preset) on air and an overlay clip shows an overlay at a place of
//! the program. Unknown fields are kept in `extra` so a document written by a newer UI, or
//! imported from VistterStudio, survives a load/save cycle unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Width of the program in pixels; overlay positions are expressed in this reference frame
/// whatever the encoder's actual size, so a timeline does not change when the output does.
pub const PROGRAM_WIDTH: i32 = 1920;
/// Height of the reference program frame, see [`PROGRAM_WIDTH`].
pub const PROGRAM_HEIGHT: i32 = 1080;

/// A timeline: what the program shows, second by second, and whether it starts over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    /// A string because timelines imported from VistterStudio keep the segment id the studio
    /// uses to start them (`POST /api/stream/start/{segmentId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub duration_ms: i64,
    #[serde(default)]
    pub playback: Playback,
    /// The destinations the program runs to while this timeline plays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_ids: Vec<i64>,
    #[serde(default)]
    pub tracks: Vec<Track>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What happens at the end of the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Playback {
    /// Start over at 0; the default because an appliance streams around the clock.
    #[default]
    Loop,
    /// Stop at the end, leaving the last camera on air.
    Once,
}

/// A lane of clips of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Track {
    /// VistterStudio's track id (`track-1`); absent for tracks made on the appliance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub kind: TrackKind,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub clips: Vec<Clip>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The kinds of track. Only video and overlay tracks are played; audio and ad tracks exist
/// because VistterStudio's schema has them, and they are carried so an export gives them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Video,
    Overlay,
    Audio,
    Ad,
}

impl TrackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Overlay => "overlay",
            TrackKind::Audio => "audio",
            TrackKind::Ad => "ad",
        }
    }

    /// Whether the appliance plays clips of this kind.
    pub fn is_played(self) -> bool {
        matches!(self, TrackKind::Video | TrackKind::Overlay)
    }
}

/// One clip: `[start_ms, end_ms)` of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Clip {
    pub id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub source: ClipSource,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Clip {
    pub fn duration_ms(&self) -> i64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// What a clip shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClipSource {
    /// A camera on air, moved to `preset_id` first when given.
    Camera {
        camera_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preset_id: Option<i64>,
    },
    /// An overlay composited over the program; position and size in pixels of the 1920x1080
    /// reference frame, opacity from 0 (invisible) to 1.
    Overlay {
        overlay_id: i64,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        #[serde(default = "full_opacity")]
        opacity: f64,
    },
    /// A clip of an audio or ad track: not played, kept verbatim (in `extra`) for export.
    Passthrough,
}

fn full_opacity() -> f64 {
    1.0
}

impl Timeline {
    /// An empty looping timeline.
    pub fn new(name: impl Into<String>, duration_ms: i64) -> Self {
        Timeline {
            id: None,
            name: name.into(),
            duration_ms,
            playback: Playback::Loop,
            destination_ids: Vec::new(),
            tracks: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Finds a clip by id: (track index, clip index, clip).
    pub fn clip(&self, id: &str) -> Option<(usize, usize, &Clip)> {
        self.tracks.iter().enumerate().find_map(|(t, track)| {
            track
                .clips
                .iter()
                .enumerate()
                .find(|(_, c)| c.id == id)
                .map(|(c, clip)| (t, c, clip))
        })
    }
}

impl Track {
    pub fn new(kind: TrackKind, name: impl Into<String>) -> Self {
        Track {
            id: None,
            kind,
            name: name.into(),
            clips: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl Clip {
    pub fn camera(
        id: impl Into<String>,
        start_ms: i64,
        end_ms: i64,
        camera_id: i64,
        preset_id: Option<i64>,
    ) -> Self {
        Clip {
            id: id.into(),
            start_ms,
            end_ms,
            source: ClipSource::Camera {
                camera_id,
                preset_id,
            },
            extra: Map::new(),
        }
    }

    /// An overlay clip covering the rectangle `(x, y, width, height)` at full opacity.
    pub fn overlay(
        id: impl Into<String>,
        start_ms: i64,
        end_ms: i64,
        overlay_id: i64,
        (x, y, width, height): (i32, i32, i32, i32),
    ) -> Self {
        Clip {
            id: id.into(),
            start_ms,
            end_ms,
            source: ClipSource::Overlay {
                overlay_id,
                x,
                y,
                width,
                height,
                opacity: 1.0,
            },
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_round_trip_at_every_level() {
        let doc = json!({
            "id": "t1", "name": "Dock", "duration_ms": 60000, "playback": "once",
            "tracks": [{
                "kind": "overlay", "name": "logos", "color": "bg-blue-600",
                "clips": [{
                    "id": "c1", "start_ms": 0, "end_ms": 1000, "note": {"a": [1, 2]},
                    "source": {"type": "overlay", "overlay_id": 3, "x": 10, "y": 20,
                               "width": 300, "height": 100, "opacity": 0.5}
                }]
            }],
            "future_field": true
        });
        let t: Timeline = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(t.playback, Playback::Once);
        assert_eq!(t.extra["future_field"], json!(true));
        assert_eq!(t.tracks[0].extra["color"], json!("bg-blue-600"));
        assert_eq!(serde_json::to_value(&t).unwrap(), doc);
    }

    #[test]
    fn defaults_keep_documents_short() {
        let t: Timeline = serde_json::from_value(json!({
            "name": "x", "duration_ms": 1000,
            "tracks": [{"kind": "video", "clips": [
                {"id": "a", "start_ms": 0, "end_ms": 1000,
                 "source": {"type": "camera", "camera_id": 1}}]}]
        }))
        .unwrap();
        assert_eq!(t.playback, Playback::Loop);
        assert_eq!(
            t.tracks[0].clips[0].source,
            ClipSource::Camera {
                camera_id: 1,
                preset_id: None
            }
        );
        let back = serde_json::to_value(&t).unwrap();
        assert!(back.get("id").is_none());
        assert!(back["tracks"][0]["clips"][0]["source"]
            .get("preset_id")
            .is_none());
    }
}
