//! Program audio: `/api/audio/beds` (uploaded beds), `/api/cameras/{id}/audio` (how a camera
//! sounds in programs) and `/api/programs/{id}/audio` (a program's master gain and bed). Every
//! change applies to the running programs at once. The bed upload's body limit is in
//! `body::BODY_LIMITS`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::body::{media_type, read_body, UnsupportedMedia};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use super::openapi::Binary;
use super::Routes;
use crate::services::audio::{AudioBedView, CameraAudio, ProgramAudio};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/audio/beds", get(list_beds).post(upload_bed))
        .route("/api/audio/beds/{id}", delete(remove_bed))
        .route(
            "/api/cameras/{id}/audio",
            get(camera_audio).put(set_camera_audio),
        )
        .route(
            "/api/programs/{id}/audio",
            get(program_audio).put(set_program_audio),
        )
}

/// Every uploaded bed, by name.
#[utoipa::path(get, path = "/api/audio/beds", tag = "audio", operation_id = "list_audio_beds",
    responses((status = 200, body = [AudioBedView])))]
pub async fn list_beds(State(state): State<AppState>) -> ApiResult<Json<Vec<AudioBedView>>> {
    Ok(Json(state.audio.list_beds().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BedQuery {
    /// The bed's name (its file name).
    #[serde(default)]
    pub name: Option<String>,
}

/// Uploads an audio bed (WAV, MP3, FLAC, Ogg, M4A or AAC, at most 20 MiB; the first 120 s
/// play) as the raw body. It is checked by decoding it. The same bytes again give the same bed
/// (200 instead of 201).
#[utoipa::path(post, path = "/api/audio/beds", tag = "audio", operation_id = "upload_audio_bed", params(BedQuery),
    request_body(description = "The audio file, raw", content((Binary = "audio/mpeg"), (Binary = "audio/wav"), (Binary = "application/octet-stream"))),
    responses((status = 201, body = AudioBedView), (status = 200, body = AudioBedView, description = "These bytes were already stored"),
        (status = 413, body = ErrorBody, description = "Over 20 MiB"),
        (status = 415, body = ErrorBody, description = "The Content-Type is neither audio/* nor application/octet-stream"),
        (status = 422, body = ErrorBody, description = "Not an audio file the appliance plays")))]
pub async fn upload_bed(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<BedQuery>,
    request: Request,
) -> Response {
    let media = media_type(request.headers()).unwrap_or_default();
    // Both need a CORS preflight from another site, unlike the form types.
    if !(media.starts_with("audio/") || media == "application/octet-stream") {
        return UnsupportedMedia(format!(
            "this route reads an audio file as the raw body (Content-Type audio/… or \
             application/octet-stream); the request has {}",
            if media.is_empty() {
                "no Content-Type".to_string()
            } else {
                format!("Content-Type {media}")
            }
        ))
        .into_response();
    }
    let bytes = match read_body(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.audio.upload_bed(q.name, bytes, Some(user.id)).await {
        Ok((bed, true)) => (StatusCode::CREATED, Json(bed)).into_response(),
        Ok((bed, false)) => (StatusCode::OK, Json(bed)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// Deletes a bed no program uses.
#[utoipa::path(delete, path = "/api/audio/beds/{id}", tag = "audio", operation_id = "delete_audio_bed",
    params(("id" = i64, Path, description = "Bed id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "A program uses it")))]
pub async fn remove_bed(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.audio.delete_bed(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How a camera sounds in programs.
#[utoipa::path(get, path = "/api/cameras/{id}/audio", tag = "audio", operation_id = "get_camera_audio",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = CameraAudio), (status = 404, body = ErrorBody)))]
pub async fn camera_audio(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CameraAudio>> {
    Ok(Json(state.audio.camera_audio(id).await?))
}

/// Turns a camera's sound on or off in programs and sets its gain; live.
#[utoipa::path(put, path = "/api/cameras/{id}/audio", tag = "audio", operation_id = "set_camera_audio",
    request_body = CameraAudio, params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = CameraAudio), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_camera_audio(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CameraAudio>,
) -> ApiResult<Json<CameraAudio>> {
    Ok(Json(
        state
            .audio
            .set_camera_audio(id, input, Some(user.id))
            .await?,
    ))
}

/// A program's master gain and bed.
#[utoipa::path(get, path = "/api/programs/{id}/audio", tag = "audio", operation_id = "get_program_audio",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramAudio), (status = 404, body = ErrorBody)))]
pub async fn program_audio(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramAudio>> {
    Ok(Json(state.audio.program_audio(id).await?))
}

/// Sets a program's master gain and bed (its gain, under or instead of the cameras); live.
#[utoipa::path(put, path = "/api/programs/{id}/audio", tag = "audio", operation_id = "set_program_audio",
    request_body = ProgramAudio, params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramAudio), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_program_audio(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ProgramAudio>,
) -> ApiResult<Json<ProgramAudio>> {
    Ok(Json(
        state
            .audio
            .set_program_audio(id, input, Some(user.id))
            .await?,
    ))
}
