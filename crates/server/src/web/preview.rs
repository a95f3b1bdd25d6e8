//! `/api/cameras/{id}/live` and `/api/programs/{id}/live`: the live preview WebSockets
//! (fragmented MP4 for Media Source Extensions), and their stats. Behind the same auth as every
//! API route (the upgrade request carries the session cookie or a bearer token).

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Json;

use super::error::{ApiResult, ErrorBody};
use super::extract::ApiPath;
use super::Routes;
use crate::services::previews::{PreviewStats, Viewer, ViewerMessage};
use crate::state::AppState;

/// A send that cannot complete in this time means the viewer stopped reading for good (its
/// TCP window has been full all along): the socket is closed. Shorter lags are handled by
/// skipping fragments, see `services::previews`.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

pub fn router() -> Routes {
    Routes::new()
        .route("/api/cameras/{id}/live", get(live))
        .route("/api/cameras/{id}/live/stats", get(stats))
        .route("/api/programs/{id}/live", get(program_live))
        .route("/api/programs/{id}/live/stats", get(program_stats))
}

/// Live preview of a camera over a WebSocket. Text messages are JSON:
/// `{"type":"init","mime":"video/mp4; codecs=\"avc1.42E01E\""}` before each init segment, and
/// `{"type":"status","status":"offline"|"online"}` when the camera is lost or returns. Binary
/// messages are MP4: the init segment (`ftyp`+`moov`), then `moof`+`mdat` fragments, starting
/// at a keyframe. After an outage a new `init` follows: the player re-initialises.
#[utoipa::path(get, path = "/api/cameras/{id}/live", tag = "cameras", operation_id = "camera_live_preview",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 101, description = "Switching to a WebSocket of fragmented MP4 (binary) and JSON status (text) messages"),
        (status = 400, body = ErrorBody, description = "Not a WebSocket handshake (`Connection: Upgrade`, `Upgrade: websocket`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`), or a bad id"),
        (status = 403, body = ErrorBody, description = "A handshake with the session cookie from a page that is not this appliance's (Origin)"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The camera is disabled")))]
async fn live(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let viewer = state.previews.join_camera(id).await?;
    Ok(ws.on_upgrade(move |socket| serve(socket, viewer)))
}

/// Viewers of a camera's preview and whether its remux runs.
#[utoipa::path(get, path = "/api/cameras/{id}/live/stats", tag = "cameras", operation_id = "get_camera_preview_stats",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = PreviewStats), (status = 404, body = ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PreviewStats>> {
    Ok(Json(state.previews.camera_stats(id).await?))
}

/// Live preview of a running program's output (what the destinations receive, overlays
/// included) over a WebSocket, with the camera previews' messages plus
/// `{"type":"ended","reason":"the program stopped"}` just before the socket closes when the
/// program stops. 409 when the program is not running.
#[utoipa::path(get, path = "/api/programs/{id}/live", tag = "programs", operation_id = "program_live_preview",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 101, description = "Switching to a WebSocket of fragmented MP4 (binary) and JSON status (text) messages"),
        (status = 400, body = ErrorBody, description = "Not a WebSocket handshake (`Connection: Upgrade`, `Upgrade: websocket`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`), or a bad id"),
        (status = 403, body = ErrorBody, description = "A handshake with the session cookie from a page that is not this appliance's (Origin)"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The program is not running")))]
async fn program_live(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let viewer = state.previews.join_program(id).await?;
    Ok(ws.on_upgrade(move |socket| serve(socket, viewer)))
}

/// Viewers of a program's preview and whether its remux runs.
#[utoipa::path(get, path = "/api/programs/{id}/live/stats", tag = "programs", operation_id = "get_program_preview_stats",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = PreviewStats), (status = 404, body = ErrorBody)))]
async fn program_stats(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PreviewStats>> {
    Ok(Json(state.previews.program_stats(id).await?))
}

async fn serve(mut socket: WebSocket, mut viewer: Viewer) {
    loop {
        tokio::select! {
            m = viewer.next() => {
                let Some(m) = m else {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                };
                let m = match m {
                    ViewerMessage::Text(t) => Message::Text(t.into()),
                    ViewerMessage::Binary(b) => Message::Binary(b),
                };
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(m)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
            // The client sends nothing we need; reading notices a close or a dead peer.
            r = socket.recv() => match r {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    if viewer.lagged > 0 {
        tracing::debug!(skipped = viewer.lagged, "preview viewer left after lagging");
    }
}
