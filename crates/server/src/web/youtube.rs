//! `/api/destinations/{id}/youtube…`: the Google sign-in of a YouTube destination, the
//! broadcast settings of its timelines' windows, and the broadcasts the appliance made. No
//! token or client secret is ever returned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::youtube::{
    Broadcast, BroadcastSettings, BroadcastSettingsInput, SignInInput, YoutubeLink,
};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/api/destinations/{id}/youtube",
            get(read_link).delete(sign_out),
        )
        .route("/api/destinations/{id}/youtube/sign-in", post(sign_in))
        .route(
            "/api/destinations/{id}/youtube/settings",
            get(list_settings),
        )
        .route(
            "/api/destinations/{id}/youtube/settings/{timeline_id}",
            put(put_settings).delete(remove_settings),
        )
        .route(
            "/api/destinations/{id}/youtube/broadcasts",
            get(list_broadcasts),
        )
}

/// The YouTube sign-in of a destination: its state, the code to enter while it is pending,
/// and the last problem in plain words.
#[utoipa::path(get, path = "/api/destinations/{id}/youtube", tag = "destinations", operation_id = "get_youtube_link",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = YoutubeLink), (status = 404, body = ErrorBody)))]
pub async fn read_link(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<YoutubeLink>> {
    Ok(Json(state.youtube.link(id).await?))
}

/// Starts a sign-in (OAuth 2.0 for limited-input devices): the answer holds the code to enter
/// at the verification URL; the appliance polls Google until the user has answered.
#[utoipa::path(post, path = "/api/destinations/{id}/youtube/sign-in", tag = "destinations", operation_id = "start_youtube_sign_in",
    request_body = SignInInput, params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = YoutubeLink, description = "Pending: show user_code and verification_url"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not a YouTube destination"),
        (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Google refused (an unknown OAuth client, say)"),
        (status = 504, body = ErrorBody, description = "Google could not be reached")))]
pub async fn sign_in(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SignInInput>,
) -> ApiResult<Json<YoutubeLink>> {
    Ok(Json(
        state
            .youtube
            .start_sign_in(id, &input, Some(user.id))
            .await?,
    ))
}

/// Signs the destination out of YouTube: every token is forgotten (the OAuth client is kept).
#[utoipa::path(delete, path = "/api/destinations/{id}/youtube", tag = "destinations", operation_id = "youtube_sign_out",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = YoutubeLink), (status = 404, body = ErrorBody)))]
pub async fn sign_out(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<YoutubeLink>> {
    Ok(Json(state.youtube.sign_out(id, Some(user.id)).await?))
}

/// The broadcast settings of each timeline whose windows make broadcasts on this destination.
#[utoipa::path(get, path = "/api/destinations/{id}/youtube/settings", tag = "destinations", operation_id = "list_youtube_settings",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = [BroadcastSettings]), (status = 404, body = ErrorBody)))]
pub async fn list_settings(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<BroadcastSettings>>> {
    Ok(Json(state.youtube.settings(id).await?))
}

/// Sets the title, description, privacy, category and thumbnail of the broadcasts made for a
/// timeline's schedule windows on this destination.
#[utoipa::path(put, path = "/api/destinations/{id}/youtube/settings/{timeline_id}", tag = "destinations", operation_id = "put_youtube_settings",
    request_body = BroadcastSettingsInput,
    params(("id" = i64, Path, description = "Destination id"), ("timeline_id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = BroadcastSettings), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not a YouTube destination"), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((id, timeline_id)): ApiPath<(i64, String)>,
    ApiJson(input): ApiJson<BroadcastSettingsInput>,
) -> ApiResult<Json<BroadcastSettings>> {
    Ok(Json(
        state
            .youtube
            .put_settings(id, &timeline_id, &input, Some(user.id))
            .await?,
    ))
}

/// Stops making broadcasts for a timeline's windows on this destination.
#[utoipa::path(delete, path = "/api/destinations/{id}/youtube/settings/{timeline_id}", tag = "destinations", operation_id = "delete_youtube_settings",
    params(("id" = i64, Path, description = "Destination id"), ("timeline_id" = String, Path, description = "Timeline id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((id, timeline_id)): ApiPath<(i64, String)>,
) -> ApiResult<StatusCode> {
    state
        .youtube
        .delete_settings(id, &timeline_id, Some(user.id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The broadcasts made for this destination, newest first, with their state and watch link.
#[utoipa::path(get, path = "/api/destinations/{id}/youtube/broadcasts", tag = "destinations", operation_id = "list_youtube_broadcasts",
    params(("id" = i64, Path, description = "Destination id")),
    responses((status = 200, body = [Broadcast]), (status = 404, body = ErrorBody)))]
pub async fn list_broadcasts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Broadcast>>> {
    Ok(Json(state.youtube.broadcasts(id).await?))
}
