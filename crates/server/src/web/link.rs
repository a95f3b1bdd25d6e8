//! `/api/link`: the VistterStudio link's settings (never a password or a private key) and its
//! state: connected or not, why not, messages in and out, the queue.

use axum::extract::State;
use axum::routing::get;
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, CurrentUser};
use super::Routes;
use crate::services::link::{LinkInput, LinkStatus, LinkView};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/link", get(read).put(update))
        .route("/api/link/status", get(status))
}

/// The link's settings (secrets only as `has_password` / `has_client_key`) and its state.
#[utoipa::path(get, path = "/api/link", tag = "link", operation_id = "get_link",
    responses((status = 200, body = LinkView)))]
pub async fn read(State(state): State<AppState>) -> ApiResult<Json<LinkView>> {
    Ok(Json(state.link.get().await?))
}

/// Sets up the link, switches it on or off; it connects again at once with the new settings.
/// A new device id or broker empties the queue of messages and the command ids seen.
#[utoipa::path(put, path = "/api/link", tag = "link", operation_id = "update_link", request_body = LinkInput,
    responses((status = 200, body = LinkView),
        (status = 422, body = ErrorBody, description = "A field is wrong (`field` names it); nothing was stored")))]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<LinkInput>,
) -> ApiResult<Json<LinkView>> {
    Ok(Json(state.link.update(&input, Some(user.id)).await?))
}

/// The link's state: connected, connecting, disabled or error (with the last error), messages
/// in and out, the queue and what was dropped from it.
#[utoipa::path(get, path = "/api/link/status", tag = "link", operation_id = "get_link_status",
    responses((status = 200, body = LinkStatus)))]
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<LinkStatus>> {
    Ok(Json(state.link.status().await?))
}
