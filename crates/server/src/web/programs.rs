//! `/api/programs`: the program feed — settings, start/stop, takes, overlays, live status —
//! and `/api/system/encoders`, the encoder probe.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use crate::services::programs::{ProgramInput, ProgramOverlay, ProgramView, TakeInput};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/programs", get(list).post(create))
        .route("/api/programs/{id}", get(read).put(update).delete(remove))
        .route("/api/programs/{id}/start", post(start))
        .route("/api/programs/{id}/stop", post(stop))
        .route("/api/programs/{id}/take", post(take))
        .route("/api/programs/{id}/slate", post(slate))
        .route("/api/programs/{id}/preroll", post(preroll))
        .route("/api/programs/{id}/overlays", put(overlays))
        .route("/api/system/encoders", get(encoders))
}

#[utoipa::path(get, path = "/api/programs", tag = "programs", responses((status = 200, body = [ProgramView])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ProgramView>>> {
    Ok(Json(state.programs.list().await?))
}

/// Creates a program: size, frame rate, bitrate, encoder, slate text, destinations.
#[utoipa::path(post, path = "/api/programs", tag = "programs", request_body = ProgramInput,
    responses((status = 201, body = ProgramView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<ProgramInput>,
) -> ApiResult<(StatusCode, Json<ProgramView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.programs.create(&input, Some(user.id)).await?),
    ))
}

/// A program with its live status while it runs.
#[utoipa::path(get, path = "/api/programs/{id}", tag = "programs",
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.get(id).await?))
}

/// Changes a stopped program's settings.
#[utoipa::path(put, path = "/api/programs/{id}", tag = "programs", request_body = ProgramInput,
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ProgramInput>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(
        state.programs.update(id, &input, Some(user.id)).await?,
    ))
}

#[utoipa::path(delete, path = "/api/programs/{id}", tag = "programs",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.programs.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the program: the encoder connects to every destination and shows the slate until a
/// camera is taken (or the camera that was on air before goes back on air).
#[utoipa::path(post, path = "/api/programs/{id}/start", tag = "programs",
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.start(id, Some(user.id)).await?))
}

#[utoipa::path(post, path = "/api/programs/{id}/stop", tag = "programs",
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.stop(id, Some(user.id)).await?))
}

/// Switches what is on air, without restarting the encoder or the RTMP sessions.
#[utoipa::path(post, path = "/api/programs/{id}/take", tag = "programs", request_body = TakeInput,
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn take(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(t): ApiJson<TakeInput>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.take(id, &t, Some(user.id)).await?))
}

/// Cuts to the slate (image and text of the program's settings) at the next frame, e.g. for a
/// break; the cameras stay decoded so the next take is at once.
#[utoipa::path(post, path = "/api/programs/{id}/slate", tag = "programs",
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn slate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.take_slate(id, Some(user.id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrerollInput {
    pub camera_id: i64,
}

/// Starts decoding a camera in the background so its next take is instant.
#[utoipa::path(post, path = "/api/programs/{id}/preroll", tag = "programs", request_body = PrerollInput,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn preroll(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<PrerollInput>,
) -> ApiResult<StatusCode> {
    state.programs.preroll(id, p.camera_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the program's overlays and which are visible; applied live without touching the encoder.
#[utoipa::path(put, path = "/api/programs/{id}/overlays", tag = "programs", request_body = [ProgramOverlay],
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn overlays(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(list): ApiJson<Vec<ProgramOverlay>>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(
        state
            .programs
            .set_program_overlays(id, list, Some(user.id))
            .await?,
    ))
}

/// Which H.264 encoders work on this machine (each tried with a one-second encode), and the
/// one `auto` picks.
#[utoipa::path(get, path = "/api/system/encoders", tag = "programs", responses((status = 200, description = "encoder probe")))]
pub async fn encoders(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let probe = state.programs.encoder_probe().await?;
    Ok(Json(serde_json::json!({
        "selected": probe.selected,
        "results": probe.results.iter().map(|r| serde_json::json!({
            "encoder": r.encoder, "ok": r.ok, "error": r.error, "elapsed_ms": r.elapsed.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })))
}
