//! What VistterStudio talks to: the spec's `/overlays` sync (assets, overlays and segments
//! pushed with an API token) and the endpoints of a VistterStudio broadcast node
//! (`/api/segments`, `/api/stream/start/{segmentId}`, `/api/stream/stop`, `/api/stream/status`),
//! so a studio that drives a node can drive this appliance.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use super::Routes;
use crate::services::timelines::{StudioAck, StudioStatus, SyncInput, SyncResult};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        // Its body limit (48 MiB) is in `body::BODY_LIMITS`.
        .route("/api/overlays/sync", post(sync))
        .route("/api/segments", get(segments))
        .route("/api/segments/{id}", get(segment))
        .route("/api/stream/start/{segment_id}", post(start))
        .route("/api/stream/stop", post(stop))
        .route("/api/stream/status", get(status))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// false: a segment naming a stream address no camera has fails the sync (422) instead of
    /// adding a camera.
    #[serde(default)]
    pub create_cameras: Option<bool>,
}

/// VistterStudio pushes assets (base64, deduplicated by SHA-256), overlay definitions and
/// segments. Everything is stored in one transaction: on any error nothing is.
#[utoipa::path(post, path = "/api/overlays/sync", tag = "vistterstudio", operation_id = "studio_sync", params(SyncQuery),
    request_body = SyncInput,
    responses((status = 200, body = SyncResult), (status = 400, body = ErrorBody, description = "Not JSON, or not the shape of a sync"),
        (status = 409, body = ErrorBody, description = "A segment's id or name clashes with a stored one"),
        (status = 413, body = ErrorBody, description = "The body is over 48 MiB"),
        (status = 415, body = ErrorBody, description = "The Content-Type is not application/json"), (status = 422, body = ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<SyncQuery>,
    ApiJson(input): ApiJson<SyncInput>,
) -> ApiResult<Json<SyncResult>> {
    Ok(Json(
        state
            .timelines
            .sync(input, q.create_cameras.unwrap_or(true), Some(user.id))
            .await?,
    ))
}

/// Every timeline in the studio's flat segment shape, plus `filename` (as a node lists them).
#[utoipa::path(get, path = "/api/segments", tag = "vistterstudio", operation_id = "list_studio_segments",
    responses((status = 200, description = "[{id, filename, name, duration, created, updated, tracks, assets, apiConfigs}]", body = [Object])))]
pub async fn segments(State(state): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.timelines.studio_segments().await?))
}

/// One timeline as a flat segment, never with credentials.
#[utoipa::path(get, path = "/api/segments/{id}", tag = "vistterstudio", operation_id = "get_studio_segment",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = Object, description = "The segment file, flat shape"), (status = 404, body = ErrorBody)))]
pub async fn segment(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.timelines.studio_segment(&id).await?))
}

/// Plays a segment (a timeline) through the program feed, replacing what plays. 503
/// `unavailable` while the appliance has no program feed: it never claims to stream when it
/// does not.
#[utoipa::path(post, path = "/api/stream/start/{segment_id}", tag = "vistterstudio", operation_id = "studio_start_segment",
    params(("segment_id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = StudioAck), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program feed cannot take the timeline now"),
        (status = 422, body = ErrorBody, description = "The timeline does not validate against what is configured now"),
        (status = 503, body = ErrorBody, description = "No program is configured to play through (the status shows `program_available: false`)")))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(segment_id): ApiPath<String>,
) -> ApiResult<Json<StudioAck>> {
    Ok(Json(
        state
            .timelines
            .studio_start(&segment_id, Some(user.id))
            .await?,
    ))
}

/// Stops the playing timeline (answers success when nothing plays, as a node does).
#[utoipa::path(post, path = "/api/stream/stop", tag = "vistterstudio", operation_id = "studio_stop",
    responses((status = 200, body = StudioAck)))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<StudioAck>> {
    Ok(Json(state.timelines.studio_stop(Some(user.id)).await?))
}

/// `{isStreaming, currentSegment: {id, name, duration} | null}` as a node answers, followed by
/// the player's own fields.
#[utoipa::path(get, path = "/api/stream/status", tag = "vistterstudio", operation_id = "get_studio_status",
    responses((status = 200, body = StudioStatus)))]
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<StudioStatus>> {
    Ok(Json(state.timelines.studio_status().await?))
}
