//! PTZ routes: move to a preset, the control pad, save the current position, import the
//! camera's own presets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::presets::Preset;
use crate::services::ptz::{
    CaptureInput, ImportReport, MoveReport, PtzState, PtzStep, PtzVelocity, StepReport,
};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/presets/{id}/move", post(move_preset))
        .route(
            "/api/cameras/{id}/presets/{preset_id}/move",
            post(move_camera_preset),
        )
        .route("/api/cameras/{id}/presets/capture", post(capture))
        .route("/api/cameras/{id}/presets/import", post(import))
        .route("/api/cameras/{id}/ptz", get(state))
        .route("/api/cameras/{id}/ptz/move", post(start_move))
        .route("/api/cameras/{id}/ptz/stop", post(stop))
        .route("/api/cameras/{id}/ptz/step", post(step))
}

/// Moves the camera to the preset; answers once the camera has settled.
#[utoipa::path(post, path = "/api/presets/{id}/move", tag = "ptz", operation_id = "move_to_preset",
    params(("id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = MoveReport), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The stored position cannot be sent to the camera"),
        (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn move_preset(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MoveReport>> {
    Ok(Json(state.ptz.move_to_preset(id).await?))
}

/// Moves the camera named in the path to one of its presets; answers once it has settled.
#[utoipa::path(post, path = "/api/cameras/{id}/presets/{preset_id}/move", tag = "ptz", operation_id = "move_to_camera_preset",
    params(("id" = i64, Path, description = "Camera id"), ("preset_id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = MoveReport), (status = 404, body = ErrorBody, description = "No such preset on this camera"),
        (status = 422, body = ErrorBody, description = "The stored position cannot be sent to the camera"),
        (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
async fn move_camera_preset(
    State(state): State<AppState>,
    ApiPath((camera_id, preset_id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<MoveReport>> {
    let p = state.cameras.preset(preset_id).await?;
    if p.camera_id != camera_id {
        return Err(
            vs_base::Error::not_found(format!("preset {preset_id} of camera {camera_id}")).into(),
        );
    }
    Ok(Json(state.ptz.move_to_preset(preset_id).await?))
}

/// Saves the camera's current position as a new preset.
#[utoipa::path(post, path = "/api/cameras/{id}/presets/capture", tag = "ptz", operation_id = "capture_preset",
    request_body = CaptureInput, params(("id" = i64, Path, description = "Camera id")),
    responses((status = 201, body = Preset), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera, or has a preset of this name"),
        (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn capture(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CaptureInput>,
) -> ApiResult<(StatusCode, Json<Preset>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.ptz.capture_preset(id, &input, Some(user.id)).await?),
    ))
}

/// Imports the presets stored in the camera.
#[utoipa::path(post, path = "/api/cameras/{id}/presets/import", tag = "ptz", operation_id = "import_camera_presets",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = ImportReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ImportReport>> {
    Ok(Json(state.ptz.import_presets(id, Some(user.id)).await?))
}

/// Where the camera points now, and whether it moves.
#[utoipa::path(get, path = "/api/cameras/{id}/ptz", tag = "ptz", operation_id = "get_ptz_state",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = PtzState), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn state(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PtzState>> {
    Ok(Json(state.ptz.status(id).await?))
}

/// Starts a continuous move (pad pressed); the camera stops by itself after `timeout_ms`.
#[utoipa::path(post, path = "/api/cameras/{id}/ptz/move", tag = "ptz", operation_id = "start_ptz_move",
    request_body = PtzVelocity, params(("id" = i64, Path, description = "Camera id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn start_move(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(v): ApiJson<PtzVelocity>,
) -> ApiResult<StatusCode> {
    state.ptz.start_move(id, &v).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops any movement (pad released).
#[utoipa::path(post, path = "/api/cameras/{id}/ptz/stop", tag = "ptz", operation_id = "stop_ptz",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn stop(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.ptz.stop(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves by a small step from where the camera is (degrees of pan and tilt, percent of zoom)
/// and answers once it has settled: a step button, or a click on the picture to centre there.
#[utoipa::path(post, path = "/api/cameras/{id}/ptz/step", tag = "ptz", operation_id = "step_ptz",
    request_body = PtzStep, params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = StepReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The camera is not a PTZ camera, or can neither move relatively nor tell its position"),
        (status = 502, body = ErrorBody, description = "The camera refused, or answered something unusable"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time")))]
pub async fn step(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(s): ApiJson<PtzStep>,
) -> ApiResult<Json<StepReport>> {
    Ok(Json(state.ptz.step(id, &s).await?))
}
