//! `/api/destinations`: where streams and programs are sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::destinations::{Destination, DestinationInput, DestinationTest};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/destinations", get(list).post(create))
        .route(
            "/api/destinations/{id}",
            get(read).put(update).delete(remove),
        )
        .route("/api/destinations/{id}/test", post(test))
}

/// Every destination (never a stream key).
#[utoipa::path(get, path = "/api/destinations", tag = "destinations", operation_id = "list_destinations",
    responses((status = 200, body = [Destination])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Destination>>> {
    Ok(Json(state.destinations.list().await?))
}

/// Adds a destination. For YouTube, Facebook and Twitch only the stream key is needed.
#[utoipa::path(post, path = "/api/destinations", tag = "destinations", operation_id = "create_destination",
    request_body = DestinationInput,
    responses((status = 201, body = Destination), (status = 409, body = ErrorBody, description = "A destination has this name"),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<DestinationInput>,
) -> ApiResult<(StatusCode, Json<Destination>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.destinations.create(&input, Some(user.id)).await?),
    ))
}

/// One destination (never its stream key).
#[utoipa::path(get, path = "/api/destinations/{id}", tag = "destinations", operation_id = "get_destination",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = Destination), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Destination>> {
    Ok(Json(state.destinations.get(id).await?))
}

/// Replaces a destination; an absent stream_key keeps the stored one.
#[utoipa::path(put, path = "/api/destinations/{id}", tag = "destinations", operation_id = "update_destination",
    request_body = DestinationInput, params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = Destination), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another destination has this name"), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DestinationInput>,
) -> ApiResult<Json<Destination>> {
    Ok(Json(
        state.destinations.update(id, &input, Some(user.id)).await?,
    ))
}

/// Deletes a destination that no stream uses.
#[utoipa::path(delete, path = "/api/destinations/{id}", tag = "destinations", operation_id = "delete_destination",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A stream or program sends to it")))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.destinations.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tests a destination: connects, publishes about 3 s of a test pattern (colour bars and a
/// tone) in a session of its own, and says whether the server took it, or why not in plain
/// words (unreachable, TLS failure, wrong application, wrong stream key). A running program
/// or stream is not touched (the server may refuse the test while one publishes with the same
/// key: that is reported too).
#[utoipa::path(post, path = "/api/destinations/{id}/test", tag = "destinations", operation_id = "test_destination",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = DestinationTest, description = "The outcome: `ok` true, or false with the server's refusal in `kind` and `message`"),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The destination cannot be published to as stored (no stream key, not rtmp/rtmps/srt)")))]
pub async fn test(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DestinationTest>> {
    Ok(Json(
        state
            .destinations
            .test(id, &state.config.ffmpeg, Some(user.id))
            .await?,
    ))
}
