//! What a VistterStudio broadcast node answers (`/api/segments`, `/api/stream/*`), so a studio
//! that drives a node can drive this appliance.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_timeline::{ExportOptions, Format, PlayerStatus};

use super::playback::PlayOrigin;
use super::{catalog_of, dated, model_of, TimelineService};

/// `currentSegment` of a node's status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioSegmentRef {
    pub id: String,
    pub name: String,
    /// Seconds, as the studio counts.
    #[schema(value_type = f64)]
    pub duration: Value,
}

/// `GET /api/stream/status`: a node's fields, then the appliance's player status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioStatus {
    #[serde(rename = "isStreaming")]
    pub is_streaming: bool,
    #[serde(rename = "currentSegment")]
    pub current_segment: Option<StudioSegmentRef>,
    #[serde(flatten)]
    pub player: PlayerStatus,
}

/// What a node answers to start and stop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudioAck {
    pub success: bool,
    pub message: String,
    /// The segment's name (start only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub status: PlayerStatus,
}

fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

impl TimelineService {
    /// Every timeline as a node lists its segments: the studio's flat shape plus `filename`.
    pub async fn studio_segments(&self) -> Result<Vec<Value>> {
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let mut out = Vec::new();
        for row in self.db.list_timelines().await? {
            let timeline = dated(model_of(&row)?, &row);
            let options = ExportOptions {
                format: Some(Format::Flat),
                credentials: None,
            };
            match vs_timeline::export(&timeline, &catalog, &options) {
                Ok(Value::Object(doc)) => {
                    let mut seg = Map::new();
                    seg.insert("id".into(), row.id.clone().into());
                    seg.insert("filename".into(), format!("{}.json", row.id).into());
                    for (k, v) in doc {
                        seg.entry(k).or_insert(v);
                    }
                    out.push(Value::Object(seg));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(timeline = %row.id, error = %e, "timeline left out of the segment list");
                }
            }
        }
        Ok(out)
    }

    pub async fn studio_segment(&self, id: &str) -> Result<Value> {
        let (_, text) = self.export(id, Some(Format::Flat)).await?;
        serde_json::from_str(&text).map_err(Error::internal)
    }

    pub async fn studio_start(&self, id: &str, user_id: Option<i64>) -> Result<StudioAck> {
        let status = self.start(id, PlayOrigin::User, user_id).await?;
        Ok(StudioAck {
            success: true,
            message: "Streaming started".into(),
            segment: status.timeline_name.clone(),
            status,
        })
    }

    pub async fn studio_stop(&self, user_id: Option<i64>) -> Result<StudioAck> {
        let status = self.stop(user_id).await?;
        Ok(StudioAck {
            success: true,
            message: "Streaming stopped".into(),
            segment: None,
            status,
        })
    }

    pub async fn studio_status(&self) -> Result<StudioStatus> {
        let player = self.player_status().await?;
        let playing = player.state == "playing";
        Ok(StudioStatus {
            is_streaming: playing,
            current_segment: match (&player.timeline_id, &player.timeline_name) {
                (Some(id), Some(name)) if player.state != "stopped" => Some(StudioSegmentRef {
                    id: id.clone(),
                    name: name.clone(),
                    duration: seconds(player.duration_ms),
                }),
                _ => None,
            },
            player,
        })
    }
}
