//! `/api/streams`: camera-to-destination streams, their start/stop and live status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::streams::{Stream, StreamInput};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/streams", get(list).post(create))
        .route("/api/streams/{id}", get(read).put(update).delete(remove))
        .route("/api/streams/{id}/start", post(start))
        .route("/api/streams/{id}/stop", post(stop))
}

/// Every stream with its live status.
#[utoipa::path(get, path = "/api/streams", tag = "streams", operation_id = "list_streams",
    responses((status = 200, body = [Stream])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Stream>>> {
    Ok(Json(state.streams.list().await?))
}

/// Creates a stream from a camera (optionally at a preset) to one or more destinations.
#[utoipa::path(post, path = "/api/streams", tag = "streams", operation_id = "create_stream", request_body = StreamInput,
    responses((status = 201, body = Stream), (status = 409, body = ErrorBody, description = "A stream has this name"),
        (status = 422, body = ErrorBody, description = "A bad field, or a camera, preset or destination that does not exist")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<StreamInput>,
) -> ApiResult<(StatusCode, Json<Stream>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.streams.create(&input, Some(user.id)).await?),
    ))
}

/// A stream with its live status.
#[utoipa::path(get, path = "/api/streams/{id}", tag = "streams", operation_id = "get_stream",
    params(("id" = i64, Path, description = "Stream id")),
    responses((status = 200, body = Stream), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Stream>> {
    Ok(Json(state.streams.get(id).await?))
}

/// Changes a stopped stream.
#[utoipa::path(put, path = "/api/streams/{id}", tag = "streams", operation_id = "update_stream", request_body = StreamInput,
    params(("id" = i64, Path, description = "Stream id")),
    responses((status = 200, body = Stream), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The stream runs, or another stream has this name"),
        (status = 422, body = ErrorBody, description = "A bad field, or a camera, preset or destination that does not exist")))]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StreamInput>,
) -> ApiResult<Json<Stream>> {
    Ok(Json(state.streams.update(id, &input, Some(user.id)).await?))
}

/// Deletes a stopped stream.
#[utoipa::path(delete, path = "/api/streams/{id}", tag = "streams", operation_id = "delete_stream",
    params(("id" = i64, Path, description = "Stream id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The stream runs")))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.streams.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the stream (it then runs, and comes back after a restart, until stopped).
#[utoipa::path(post, path = "/api/streams/{id}/start", tag = "streams", operation_id = "start_stream",
    params(("id" = i64, Path, description = "Stream id")),
    responses((status = 200, body = Stream, description = "Running (also when it already ran)"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The camera or every destination of the stream is disabled")))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Stream>> {
    Ok(Json(state.streams.start(id, Some(user.id)).await?))
}

/// Stops the stream.
#[utoipa::path(post, path = "/api/streams/{id}/stop", tag = "streams", operation_id = "stop_stream",
    params(("id" = i64, Path, description = "Stream id")),
    responses((status = 200, body = Stream), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Stream>> {
    Ok(Json(state.streams.stop(id, Some(user.id)).await?))
}
