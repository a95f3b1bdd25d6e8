//! `/api/cameras` and `/api/cameras/{id}/presets`, `/api/presets/{id}`, and the camera's hub
//! session (`/api/cameras/{id}/session`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use super::Routes;
use crate::services::cameras::{Camera, CameraInput};
use crate::services::hub::CameraSessionView;
use crate::services::presets::{DeletePresetQuery, Preset, PresetInput};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/cameras", get(list).post(create))
        .route("/api/cameras/{id}", get(read).put(update).delete(remove))
        .route("/api/cameras/{id}/session", get(session))
        .route(
            "/api/cameras/{id}/presets",
            get(list_presets).post(create_preset),
        )
        .route(
            "/api/cameras/{id}/presets/{preset_id}",
            get(read_camera_preset)
                .put(update_camera_preset)
                .delete(remove_camera_preset),
        )
        .route(
            "/api/presets/{id}",
            get(read_preset).put(update_preset).delete(remove_preset),
        )
}

/// Every camera, by name.
#[utoipa::path(get, path = "/api/cameras", tag = "cameras", operation_id = "list_cameras",
    responses((status = 200, body = [Camera])))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Camera>>> {
    Ok(Json(state.cameras.list().await?))
}

/// Adds a camera. Credentials inside the address are moved to the encrypted store.
#[utoipa::path(post, path = "/api/cameras", tag = "cameras", operation_id = "create_camera", request_body = CameraInput,
    responses((status = 201, body = Camera), (status = 409, body = ErrorBody, description = "A camera has this name"),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<CameraInput>,
) -> ApiResult<(StatusCode, Json<Camera>)> {
    let cam = state.cameras.create(&input, Some(user.id)).await?;
    Ok((StatusCode::CREATED, Json(cam)))
}

/// One camera (never its password).
#[utoipa::path(get, path = "/api/cameras/{id}", tag = "cameras", operation_id = "get_camera",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = Camera), (status = 404, body = ErrorBody)))]
async fn read(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Camera>> {
    Ok(Json(state.cameras.get(id).await?))
}

/// Replaces a camera's settings; an absent password keeps the stored one.
#[utoipa::path(put, path = "/api/cameras/{id}", tag = "cameras", operation_id = "update_camera", request_body = CameraInput,
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = Camera), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another camera has this name"), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CameraInput>,
) -> ApiResult<Json<Camera>> {
    Ok(Json(state.cameras.update(id, &input, Some(user.id)).await?))
}

/// Deletes a camera and its presets.
#[utoipa::path(delete, path = "/api/cameras/{id}", tag = "cameras", operation_id = "delete_camera",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A stream, program or timeline uses the camera")))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.cameras.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The camera's session: its one connection (state, uptime, bitrate, frame rate, keyframe
/// interval, packet loss, reconnects, last error) and who reads it. A disabled camera's is
/// `stopped`.
#[utoipa::path(get, path = "/api/cameras/{id}/session", tag = "cameras", operation_id = "get_camera_session",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = CameraSessionView), (status = 404, body = ErrorBody)))]
async fn session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CameraSessionView>> {
    Ok(Json(state.hub.view(id).await?))
}

/// The presets of a camera.
#[utoipa::path(get, path = "/api/cameras/{id}/presets", tag = "presets", operation_id = "list_camera_presets",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = [Preset]), (status = 404, body = ErrorBody)))]
async fn list_presets(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Preset>>> {
    Ok(Json(state.cameras.list_presets(id).await?))
}

/// Adds a preset to a camera; names are unique per camera.
#[utoipa::path(post, path = "/api/cameras/{id}/presets", tag = "presets", operation_id = "create_camera_preset",
    request_body = PresetInput, params(("id" = i64, Path, description = "Camera id")),
    responses((status = 201, body = Preset), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The camera has a preset of this name"), (status = 422, body = ErrorBody)))]
async fn create_preset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<PresetInput>,
) -> ApiResult<(StatusCode, Json<Preset>)> {
    let p = state
        .cameras
        .create_preset(id, &input, Some(user.id))
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// A preset must belong to the camera named in the path.
async fn owned_preset(state: &AppState, camera_id: i64, preset_id: i64) -> ApiResult<Preset> {
    let p = state.cameras.preset(preset_id).await?;
    if p.camera_id != camera_id {
        return Err(
            vs_base::Error::not_found(format!("preset {preset_id} of camera {camera_id}")).into(),
        );
    }
    Ok(p)
}

/// A preset of the camera named in the path.
#[utoipa::path(get, path = "/api/cameras/{id}/presets/{preset_id}", tag = "presets", operation_id = "get_camera_preset",
    params(("id" = i64, Path, description = "Camera id"), ("preset_id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = Preset), (status = 404, body = ErrorBody, description = "No such preset on this camera")))]
async fn read_camera_preset(
    State(state): State<AppState>,
    ApiPath((camera_id, preset_id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Preset>> {
    Ok(Json(owned_preset(&state, camera_id, preset_id).await?))
}

/// Replaces a preset of the camera named in the path.
#[utoipa::path(put, path = "/api/cameras/{id}/presets/{preset_id}", tag = "presets", operation_id = "update_camera_preset",
    request_body = PresetInput,
    params(("id" = i64, Path, description = "Camera id"), ("preset_id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = Preset), (status = 404, body = ErrorBody, description = "No such preset on this camera"),
        (status = 409, body = ErrorBody, description = "The camera has another preset of this name"), (status = 422, body = ErrorBody)))]
async fn update_camera_preset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((camera_id, preset_id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<PresetInput>,
) -> ApiResult<Json<Preset>> {
    owned_preset(&state, camera_id, preset_id).await?;
    Ok(Json(
        state
            .cameras
            .update_preset(preset_id, &input, Some(user.id))
            .await?,
    ))
}

/// Deletes a preset of the camera named in the path, and first its copy on the camera when it
/// has one.
#[utoipa::path(delete, path = "/api/cameras/{id}/presets/{preset_id}", tag = "presets", operation_id = "delete_camera_preset",
    params(("id" = i64, Path, description = "Camera id"), ("preset_id" = i64, Path, description = "Preset id"), DeletePresetQuery),
    responses((status = 204), (status = 404, body = ErrorBody, description = "No such preset on this camera"),
        (status = 502, body = ErrorBody, description = "The camera did not remove its copy; nothing was deleted (see force)"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time; nothing was deleted (see force)")))]
async fn remove_camera_preset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((camera_id, preset_id)): ApiPath<(i64, i64)>,
    ApiQuery(q): ApiQuery<DeletePresetQuery>,
) -> ApiResult<StatusCode> {
    owned_preset(&state, camera_id, preset_id).await?;
    state
        .cameras
        .delete_preset(preset_id, Some(user.id), q.force.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A preset, whichever camera it belongs to.
#[utoipa::path(get, path = "/api/presets/{id}", tag = "presets", operation_id = "get_preset",
    params(("id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = Preset), (status = 404, body = ErrorBody)))]
async fn read_preset(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Preset>> {
    Ok(Json(state.cameras.preset(id).await?))
}

/// Replaces a preset.
#[utoipa::path(put, path = "/api/presets/{id}", tag = "presets", operation_id = "update_preset", request_body = PresetInput,
    params(("id" = i64, Path, description = "Preset id")),
    responses((status = 200, body = Preset), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The camera has another preset of this name"), (status = 422, body = ErrorBody)))]
async fn update_preset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<PresetInput>,
) -> ApiResult<Json<Preset>> {
    Ok(Json(
        state
            .cameras
            .update_preset(id, &input, Some(user.id))
            .await?,
    ))
}

/// Deletes a preset, and first its copy on the camera when it has one.
#[utoipa::path(delete, path = "/api/presets/{id}", tag = "presets", operation_id = "delete_preset",
    params(("id" = i64, Path, description = "Preset id"), DeletePresetQuery),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "The camera did not remove its copy; nothing was deleted (see force)"),
        (status = 504, body = ErrorBody, description = "The camera did not answer in time; nothing was deleted (see force)")))]
async fn remove_preset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeletePresetQuery>,
) -> ApiResult<StatusCode> {
    state
        .cameras
        .delete_preset(id, Some(user.id), q.force.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
