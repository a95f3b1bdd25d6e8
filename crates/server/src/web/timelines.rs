//! `/api/timelines`: CRUD, validation, cues, VistterStudio import/export, schedule, play.

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use vs_timeline::{CueList, Format, Report, Timeline};

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use super::Routes;
use crate::services::timelines::{
    ImportPlan, ImportResult, ImportWithChoices, PlayOrigin, PlayerStatus, ScheduleInput,
    TimelineView,
};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/timelines", get(list).post(create))
        .route("/api/timelines/validate", post(validate))
        .route("/api/timelines/import", post(import))
        .route("/api/timelines/import/plan", post(plan_import))
        .route("/api/timelines/{id}", get(read).put(update).delete(remove))
        .route("/api/timelines/{id}/cues", get(cues))
        .route("/api/timelines/{id}/export", get(export))
        .route(
            "/api/timelines/{id}/schedule",
            put(set_schedule).delete(clear_schedule),
        )
        .route("/api/timelines/{id}/start", post(start))
        .route("/api/timelines/{id}/stop", post(stop))
        .route("/api/timelines/{id}/jump", post(jump))
}

/// Every timeline, by name, with its schedule and current warnings.
#[utoipa::path(get, path = "/api/timelines", tag = "timelines", operation_id = "list_timelines",
    responses((status = 200, body = [TimelineView])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<TimelineView>>> {
    Ok(Json(state.timelines.list().await?))
}

/// Creates a timeline (the id is generated when absent). Refused with 422 and the path of the
/// first problem in `field` (`tracks[0].clips[2].end_ms`) unless valid.
#[utoipa::path(post, path = "/api/timelines", tag = "timelines", operation_id = "create_timeline", request_body = Timeline,
    responses((status = 201, body = TimelineView), (status = 409, body = ErrorBody, description = "A timeline has this id or name"),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<Timeline>,
) -> ApiResult<(StatusCode, Json<TimelineView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.timelines.create(input, Some(user.id)).await?),
    ))
}

/// Checks a timeline without saving it: every error and warning with its path.
#[utoipa::path(post, path = "/api/timelines/validate", tag = "timelines", operation_id = "validate_timeline", request_body = Timeline,
    responses((status = 200, body = Report, description = "The report, valid or not")))]
pub async fn validate(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<Timeline>,
) -> ApiResult<Json<Report>> {
    Ok(Json(state.timelines.validate(input).await?))
}

#[utoipa::path(get, path = "/api/timelines/{id}", tag = "timelines", operation_id = "get_timeline",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TimelineView>> {
    Ok(Json(state.timelines.get(&id).await?))
}

/// Replaces a timeline (its schedule stays). A playing timeline goes on with the new version.
#[utoipa::path(put, path = "/api/timelines/{id}", tag = "timelines", operation_id = "update_timeline", request_body = Timeline,
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another timeline has this name"), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<Timeline>,
) -> ApiResult<Json<TimelineView>> {
    Ok(Json(
        state.timelines.update(&id, input, Some(user.id)).await?,
    ))
}

/// Deletes a timeline that is not playing.
#[utoipa::path(delete, path = "/api/timelines/{id}", tag = "timelines", operation_id = "delete_timeline",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The timeline plays")))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.timelines.delete(&id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The compiled cue list: every program change with its time.
#[utoipa::path(get, path = "/api/timelines/{id}/cues", tag = "timelines", operation_id = "get_timeline_cues",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = CueList), (status = 404, body = ErrorBody)))]
pub async fn cues(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CueList>> {
    Ok(Json(state.timelines.cues(&id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// false: refuse (422, listing them) stream addresses no camera has, instead of adding
    /// cameras for them.
    #[serde(default)]
    pub create_cameras: Option<bool>,
}

/// Imports a VistterStudio segment file exactly as the studio writes it (flat or declared
/// shape), or `{segment, cameras}`: the file with a choice for each camera it refers to that
/// needs one (see `POST /api/timelines/import/plan`). Credentials in stream addresses are
/// sealed; cameras made for unknown addresses start disabled, so none is contacted until the
/// user enables it. All or nothing: one transaction.
#[utoipa::path(post, path = "/api/timelines/import", tag = "timelines", operation_id = "import_timeline", params(ImportQuery),
    request_body(content = ImportBody, description = "A VistterStudio segment file (a JSON object), or `{segment, cameras}`, sent as application/json"),
    responses((status = 201, body = ImportResult), (status = 400, body = ErrorBody, description = "Not JSON, not an object, or a bad query"),
        (status = 409, body = ErrorBody, description = "A timeline has this id or name, or a camera the name asked for a new one"),
        (status = 413, body = ErrorBody, description = "The file is over 1 MiB"),
        (status = 415, body = ErrorBody, description = "The Content-Type is not application/json"),
        (status = 422, body = ErrorBody, description = "Not a segment file; (with create_cameras=false) stream addresses no camera has; a camera reference without a choice, or a choice naming no reference or no camera")))]
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    let (doc, choices) = body.split()?;
    let result = state
        .timelines
        .import(
            doc,
            choices.as_deref(),
            q.create_cameras.unwrap_or(true),
            Some(user.id),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// What importing the file (with these choices) would do, without doing it: every camera it
/// refers to (addresses without credentials), what each becomes (a configured camera, or a new
/// disabled one), and the error the import would answer. Nothing is written and no camera is
/// contacted.
#[utoipa::path(post, path = "/api/timelines/import/plan", tag = "timelines", operation_id = "plan_timeline_import",
    request_body(content = ImportBody, description = "A VistterStudio segment file (a JSON object), or `{segment, cameras}`, sent as application/json"),
    responses((status = 200, body = ImportPlan, description = "The plan; `problem` says why the import would be refused"),
        (status = 400, body = ErrorBody, description = "Not JSON or not an object"),
        (status = 413, body = ErrorBody, description = "The file is over 1 MiB"),
        (status = 415, body = ErrorBody, description = "The Content-Type is not application/json"),
        (status = 422, body = ErrorBody, description = "Not a segment file, or a choice naming no reference or no camera")))]
pub async fn plan_import(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<Json<ImportPlan>> {
    let (doc, choices) = body.split()?;
    Ok(Json(
        state.timelines.plan_import(doc, choices.as_deref()).await?,
    ))
}

/// A segment file, whichever of the studio's shapes, or `{segment, cameras}` (an object with
/// exactly these two keys, which no segment file has): read whole, checked by the import.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = Object)]
pub struct ImportBody(Value);

impl ImportBody {
    fn split(
        self,
    ) -> Result<(Value, Option<Vec<crate::services::timelines::CameraChoice>>), vs_base::Error>
    {
        let is_wrapper = self.0.as_object().is_some_and(|o| {
            o.len() == 2 && o.contains_key("segment") && o.contains_key("cameras")
        });
        if !is_wrapper {
            return Ok((self.0, None));
        }
        let w: ImportWithChoices = serde_json::from_value(self.0).map_err(|e| {
            vs_base::Error::invalid("cameras", format!("is not a list of camera choices ({e})"))
        })?;
        Ok((w.segment, Some(w.cameras)))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Flat,
    Declared,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// flat (what the studio's editor writes) or declared (its schema's shape); by default the
    /// shape the timeline was imported from.
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

/// The timeline as a VistterStudio segment file, never with credentials.
#[utoipa::path(get, path = "/api/timelines/{id}/export", tag = "timelines", operation_id = "export_timeline",
    params(("id" = String, Path, description = "Timeline id"), ExportQuery),
    responses((status = 200, body = Object, description = "A VistterStudio segment file (as an attachment)",
            headers(("content-disposition" = String, description = "attachment; filename=\"….json\""))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "The timeline cannot be written in this shape")))]
pub async fn export(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let format = q.format.map(|f| match f {
        ExportFormat::Flat => Format::Flat,
        ExportFormat::Declared => Format::Declared,
    });
    let (filename, text) = state.timelines.export(&id, format).await?;
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// Runs the timeline on these days between these times (`end` before `start`: overnight;
/// equal: all day). 422 with `field` for a bad day, time or time zone.
#[utoipa::path(put, path = "/api/timelines/{id}/schedule", tag = "timelines", operation_id = "set_timeline_schedule",
    request_body = ScheduleInput, params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_schedule(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<Json<TimelineView>> {
    Ok(Json(
        state
            .timelines
            .set_schedule(&id, Some(&input), Some(user.id))
            .await?,
    ))
}

/// The timeline no longer runs by itself.
#[utoipa::path(delete, path = "/api/timelines/{id}/schedule", tag = "timelines", operation_id = "clear_timeline_schedule",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody)))]
pub async fn clear_schedule(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TimelineView>> {
    Ok(Json(
        state
            .timelines
            .set_schedule(&id, None, Some(user.id))
            .await?,
    ))
}

/// Plays the timeline through the program feed (503 `unavailable` while the appliance has no
/// program feed).
#[utoipa::path(post, path = "/api/timelines/{id}/start", tag = "timelines", operation_id = "start_timeline",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = PlayerStatus), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program feed cannot take the timeline now"),
        (status = 422, body = ErrorBody, description = "The timeline does not validate against what is configured now"),
        (status = 503, body = ErrorBody, description = "No program is configured to play through (the status shows `program_available: false`)")))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PlayerStatus>> {
    Ok(Json(
        state
            .timelines
            .start(&id, PlayOrigin::User, Some(user.id))
            .await?,
    ))
}

/// Stops the timeline if it is the one playing.
#[utoipa::path(post, path = "/api/timelines/{id}/stop", tag = "timelines", operation_id = "stop_timeline",
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = PlayerStatus), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another timeline, or none, plays")))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PlayerStatus>> {
    Ok(Json(state.timelines.stop_this(&id, Some(user.id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JumpInput {
    pub clip_id: String,
}

/// Moves the playing timeline to the start of a clip.
#[utoipa::path(post, path = "/api/timelines/{id}/jump", tag = "timelines", operation_id = "jump_timeline", request_body = JumpInput,
    params(("id" = String, Path, description = "Timeline id")),
    responses((status = 200, body = PlayerStatus), (status = 409, body = ErrorBody, description = "The timeline does not play"),
        (status = 422, body = ErrorBody, description = "The timeline has no such clip")))]
pub async fn jump(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<JumpInput>,
) -> ApiResult<Json<PlayerStatus>> {
    Ok(Json(
        state.timelines.jump_to_clip(&id, &input.clip_id).await?,
    ))
}
