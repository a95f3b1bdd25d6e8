//! `/api/overlays`: what a timeline or a program can show over the picture (an image asset,
//! text, a clock, data fetched from a URL).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::overlays::{Overlay, OverlayInput};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/overlays", get(list_overlays).post(create_overlay))
        .route(
            "/api/overlays/{id}",
            get(read_overlay).put(update_overlay).delete(remove_overlay),
        )
}

/// Every overlay, by name.
#[utoipa::path(get, path = "/api/overlays", tag = "overlays", operation_id = "list_overlays",
    responses((status = 200, body = [Overlay])))]
pub async fn list_overlays(State(state): State<AppState>) -> ApiResult<Json<Vec<Overlay>>> {
    Ok(Json(state.overlays.list().await?))
}

/// Adds an overlay; its fields are checked per kind (422 naming the first bad one).
#[utoipa::path(post, path = "/api/overlays", tag = "overlays", operation_id = "create_overlay", request_body = OverlayInput,
    responses((status = 201, body = Overlay), (status = 409, body = ErrorBody, description = "An overlay has this name"),
        (status = 422, body = ErrorBody)))]
pub async fn create_overlay(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<OverlayInput>,
) -> ApiResult<(StatusCode, Json<Overlay>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.overlays.create(&input, Some(user.id)).await?),
    ))
}

#[utoipa::path(get, path = "/api/overlays/{id}", tag = "overlays", operation_id = "get_overlay",
    params(("id" = i64, Path, description = "Overlay id")),
    responses((status = 200, body = Overlay), (status = 404, body = ErrorBody)))]
pub async fn read_overlay(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Overlay>> {
    Ok(Json(state.overlays.get(id).await?))
}

/// Replaces an overlay; timelines and programs that show it take the change.
#[utoipa::path(put, path = "/api/overlays/{id}", tag = "overlays", operation_id = "update_overlay", request_body = OverlayInput,
    params(("id" = i64, Path, description = "Overlay id")),
    responses((status = 200, body = Overlay), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another overlay has this name"), (status = 422, body = ErrorBody)))]
pub async fn update_overlay(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<OverlayInput>,
) -> ApiResult<Json<Overlay>> {
    Ok(Json(
        state.overlays.update(id, &input, Some(user.id)).await?,
    ))
}

/// Deletes an overlay no timeline shows (409 naming the timelines otherwise).
#[utoipa::path(delete, path = "/api/overlays/{id}", tag = "overlays", operation_id = "delete_overlay",
    params(("id" = i64, Path, description = "Overlay id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A timeline shows the overlay")))]
pub async fn remove_overlay(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.overlays.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
