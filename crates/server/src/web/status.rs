//! `/api/status`, `/api/cameras/health`, connection tests, snapshots, and `/api/events`: the
//! live event stream (Server-Sent Events) the dashboard listens to.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Json;
use futures::Stream;
use serde::Deserialize;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use utoipa::IntoParams;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::Binary;
use super::Routes;
use crate::services::cameras::CameraInput;
use crate::services::events::{JournalEntry, JournalFilter, JOURNAL_CAPACITY};
use crate::services::health::{CameraHealth, ConnectionTest};
use crate::services::status::SystemStatus;
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/status", get(status))
        .route("/api/events", get(events))
        .route("/api/events/recent", get(recent_events))
        .route("/api/cameras/health", get(cameras_health))
        .route("/api/cameras/test", post(test_unsaved))
        .route("/api/cameras/{id}/health", get(camera_health))
        .route("/api/cameras/{id}/test", post(test_camera))
        .route("/api/cameras/{id}/snapshot", get(snapshot))
}

/// CPU, memory, disk, temperature, uptime, versions and a camera health summary.
#[utoipa::path(get, path = "/api/status", tag = "system", operation_id = "get_status",
    responses((status = 200, body = SystemStatus)))]
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<SystemStatus>> {
    Ok(Json(state.status.system().await?))
}

/// Health of every camera.
#[utoipa::path(get, path = "/api/cameras/health", tag = "cameras", operation_id = "list_camera_health",
    responses((status = 200, body = [CameraHealth])))]
pub async fn cameras_health(State(state): State<AppState>) -> ApiResult<Json<Vec<CameraHealth>>> {
    Ok(Json(state.health.all().await?))
}

/// Health of one camera.
#[utoipa::path(get, path = "/api/cameras/{id}/health", tag = "cameras", operation_id = "get_camera_health",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = CameraHealth), (status = 404, body = ErrorBody)))]
pub async fn camera_health(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CameraHealth>> {
    Ok(Json(state.health.camera(id).await?))
}

/// Tests a saved camera now: reachable or not, codec, size, frame rate, audio.
#[utoipa::path(post, path = "/api/cameras/{id}/test", tag = "cameras", operation_id = "test_camera",
    params(("id" = i64, Path, description = "Camera id")),
    responses((status = 200, body = ConnectionTest, description = "The outcome, reachable or not"), (status = 404, body = ErrorBody)))]
pub async fn test_camera(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ConnectionTest>> {
    Ok(Json(state.health.test_camera(id).await?))
}

/// Tests camera settings before saving them.
#[utoipa::path(post, path = "/api/cameras/test", tag = "cameras", operation_id = "test_camera_settings", request_body = CameraInput,
    responses((status = 200, body = ConnectionTest, description = "The outcome, reachable or not"), (status = 422, body = ErrorBody)))]
pub async fn test_unsaved(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CameraInput>,
) -> ApiResult<Json<ConnectionTest>> {
    Ok(Json(state.health.test_unsaved(&input).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// Scale to this width in pixels (aspect ratio kept).
    #[param(minimum = 32, maximum = 3840)]
    pub width: Option<u32>,
}

/// A current JPEG of the camera (cached for a few seconds).
#[utoipa::path(get, path = "/api/cameras/{id}/snapshot", tag = "cameras", operation_id = "get_camera_snapshot",
    params(("id" = i64, Path, description = "Camera id"), SnapshotQuery),
    responses((status = 200, content_type = "image/jpeg", body = Binary, description = "JPEG image"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "Width out of range"),
        (status = 502, body = ErrorBody, description = "The camera gave no picture"),
        (status = 503, body = ErrorBody, description = "FFmpeg cannot be run"),
        (status = 504, body = ErrorBody, description = "The camera did not give a picture in time")))]
pub async fn snapshot(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> ApiResult<impl IntoResponse> {
    let jpeg = state.health.snapshot(id, q.width).await?;
    Ok((
        [(CONTENT_TYPE, "image/jpeg"), (CACHE_CONTROL, "no-store")],
        jpeg,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    /// At most this many entries, newest first (1–500, default 200).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// camera, program, stream, destination or user
    pub subject_type: Option<String>,
    /// The id of the camera, program, stream, destination or user.
    pub subject_id: Option<i64>,
    /// info, warning or error
    pub severity: Option<String>,
    /// Only entries with a larger `seq` (to catch up after a reconnect).
    pub after: Option<u64>,
}

const SUBJECT_TYPES: [&str; 5] = ["camera", "program", "stream", "destination", "user"];
const SEVERITIES: [&str; 3] = ["info", "warning", "error"];

/// The appliance's journal: camera offline/online with the reason, takes, the slate,
/// destination failures and reconnects, logins; newest first, kept in memory (the last 500
/// since the appliance started). New entries are also pushed as `journal` events.
#[utoipa::path(get, path = "/api/events/recent", tag = "system", operation_id = "list_recent_events",
    params(RecentQuery),
    responses((status = 200, body = [JournalEntry]),
        (status = 422, body = ErrorBody, description = "An unknown subject type or severity, or a limit out of range")))]
pub async fn recent_events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RecentQuery>,
) -> ApiResult<Json<Vec<JournalEntry>>> {
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit as usize > JOURNAL_CAPACITY {
        return Err(vs_base::Error::invalid("limit", "must be between 1 and 500").into());
    }
    if let Some(t) = q
        .subject_type
        .as_deref()
        .filter(|t| !SUBJECT_TYPES.contains(t))
    {
        return Err(vs_base::Error::invalid(
            "subject_type",
            format!("'{t}' is not one of camera, program, stream, destination, user"),
        )
        .into());
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !SEVERITIES.contains(s)) {
        return Err(vs_base::Error::invalid(
            "severity",
            format!("'{s}' is not one of info, warning, error"),
        )
        .into());
    }
    Ok(Json(state.events.recent(&JournalFilter {
        subject_type: q.subject_type,
        subject_id: q.subject_id,
        severity: q.severity,
        after: q.after,
        limit: limit as usize,
    })))
}

/// Live events: `camera_health` on every change, `camera_session` at every session state change
/// and every 2 s, `stream_status` and `program_status` on every change and periodically while
/// running, `status` every few seconds.
/// The stream does not end while the appliance runs; a slow reader gets `lagged` (the number of
/// events it missed) and should refetch what it shows.
#[utoipa::path(get, path = "/api/events", tag = "system", operation_id = "stream_events",
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "Server-Sent Events `camera_health`, `camera_changed`, `camera_session` (a CameraSessionView), `stream_status` (a Stream, or `{id}` when deleted), `program_status` (a Program, or `{id}` when deleted), `overlay_changed`, `timeline_changed`, `timeline_position`, `journal` (a JournalEntry, see /api/events/recent) and `status` with JSON data; `lagged` with a count")))]
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = BroadcastStream::new(state.events.subscribe()).filter_map(|e| match e {
        Ok(e) => Some(Event::default().event(e.kind).json_data(e.data).ok()?),
        // A browser too slow to keep up misses events; tell it to refetch.
        Err(BroadcastStreamRecvError::Lagged(n)) => {
            Some(Event::default().event("lagged").data(n.to_string()))
        }
    });
    let ticker =
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(Duration::from_secs(5)));
    let status_service = state.status.clone();
    let statuses = ticker.then(move |_| {
        let status = status_service.clone();
        async move {
            status
                .system()
                .await
                .ok()
                .and_then(|s| Event::default().event("status").json_data(s).ok())
        }
    });
    let statuses = statuses.filter_map(|e| e);
    let shutdown = state.shutdown.clone();
    let stream = futures::StreamExt::take_until(changes.merge(statuses).map(Ok), async move {
        shutdown.cancelled().await
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
