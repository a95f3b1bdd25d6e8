//! `/api/programs`: the program feed — settings, start/stop, takes, overlays, live status —
//! and `/api/system/encoders`, the encoder probe.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, CurrentUser};
use super::Routes;
use crate::services::programs::{
    PrerollModeInput, ProgramInput, ProgramOverlay, ProgramView, TakeInput,
};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/programs", get(list).post(create))
        .route("/api/programs/{id}", get(read).put(update).delete(remove))
        .route("/api/programs/{id}/start", post(start))
        .route("/api/programs/{id}/stop", post(stop))
        .route("/api/programs/{id}/take", post(take))
        .route("/api/programs/{id}/slate", post(slate))
        .route("/api/programs/{id}/preroll", post(preroll))
        .route("/api/programs/{id}/preroll-mode", put(preroll_mode))
        .route("/api/programs/{id}/overlays", put(overlays))
        .route("/api/system/encoders", get(encoders))
}

/// Every program with its live status.
#[utoipa::path(get, path = "/api/programs", tag = "programs", operation_id = "list_programs",
    responses((status = 200, body = [ProgramView])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ProgramView>>> {
    Ok(Json(state.programs.list().await?))
}

/// Creates a program: size, frame rate, bitrate, encoder, slate text, destinations.
#[utoipa::path(post, path = "/api/programs", tag = "programs", operation_id = "create_program", request_body = ProgramInput,
    responses((status = 201, body = ProgramView), (status = 409, body = ErrorBody, description = "A program has this name"),
        (status = 422, body = ErrorBody)))]
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
#[utoipa::path(get, path = "/api/programs/{id}", tag = "programs", operation_id = "get_program",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.get(id).await?))
}

/// Changes a stopped program's settings.
#[utoipa::path(put, path = "/api/programs/{id}", tag = "programs", operation_id = "update_program", request_body = ProgramInput,
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program runs, or another program has this name"), (status = 422, body = ErrorBody)))]
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

/// Deletes a stopped program.
#[utoipa::path(delete, path = "/api/programs/{id}", tag = "programs", operation_id = "delete_program",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The program runs")))]
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
#[utoipa::path(post, path = "/api/programs/{id}/start", tag = "programs", operation_id = "start_program",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView, description = "Running (also when it already ran)"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Every destination of the program is disabled"),
        (status = 422, body = ErrorBody, description = "Stored settings the engine refuses"),
        (status = 503, body = ErrorBody, description = "No working H.264 encoder, or no font for a text overlay")))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.start(id, Some(user.id)).await?))
}

/// Stops the program (answers the same when it was not running).
#[utoipa::path(post, path = "/api/programs/{id}/stop", tag = "programs", operation_id = "stop_program",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(state.programs.stop(id, Some(user.id)).await?))
}

/// Switches what is on air, without restarting the encoder or the RTMP sessions.
#[utoipa::path(post, path = "/api/programs/{id}/take", tag = "programs", operation_id = "take_program_camera", request_body = TakeInput,
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program is not running, the camera is disabled, or the camera is not PTZ"),
        (status = 422, body = ErrorBody, description = "No such camera or preset, or the preset is another camera's"),
        (status = 502, body = ErrorBody, description = "The PTZ camera refused the move"),
        (status = 504, body = ErrorBody, description = "The PTZ camera did not answer or settle in time")))]
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
#[utoipa::path(post, path = "/api/programs/{id}/slate", tag = "programs", operation_id = "take_program_slate",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program is not running")))]
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
#[utoipa::path(post, path = "/api/programs/{id}/preroll", tag = "programs", operation_id = "preroll_program_camera",
    request_body = PrerollInput, params(("id" = i64, Path, description = "Program id")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "No such program or camera"),
        (status = 409, body = ErrorBody, description = "The program is not running, or the camera is disabled")))]
pub async fn preroll(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<PrerollInput>,
) -> ApiResult<StatusCode> {
    state.programs.preroll(id, p.camera_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Chooses between instant takes (pre-rolled cameras stay decoded) and economy (only the
/// on-air camera is decoded; takes start from the camera's cached keyframe); applied live when
/// the program runs.
#[utoipa::path(put, path = "/api/programs/{id}/preroll-mode", tag = "programs", operation_id = "set_program_preroll",
    request_body = PrerollModeInput, params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 400, body = ErrorBody, description = "Not instant or economy"),
        (status = 404, body = ErrorBody)))]
pub async fn preroll_mode(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<PrerollModeInput>,
) -> ApiResult<Json<ProgramView>> {
    Ok(Json(
        state
            .programs
            .set_preroll(id, p.preroll, Some(user.id))
            .await?,
    ))
}

/// Sets the program's overlays and which are visible; applied live without touching the encoder.
#[utoipa::path(put, path = "/api/programs/{id}/overlays", tag = "programs", operation_id = "set_program_overlays",
    request_body = [ProgramOverlay], params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, body = ProgramView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The program stopped while the overlays were applied"),
        (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "No font for a text overlay")))]
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
#[utoipa::path(get, path = "/api/system/encoders", tag = "programs", operation_id = "get_encoders",
    responses((status = 200, body = EncoderProbeView),
        (status = 503, body = ErrorBody, description = "FFmpeg cannot be run")))]
pub async fn encoders(State(state): State<AppState>) -> ApiResult<Json<EncoderProbeView>> {
    let probe = state.programs.encoder_probe().await?;
    Ok(Json(EncoderProbeView {
        selected: probe.selected,
        results: probe
            .results
            .iter()
            .map(|r| EncoderTrial {
                encoder: r.encoder.clone(),
                ok: r.ok,
                error: r.error.clone(),
                elapsed_ms: r.elapsed.as_millis() as u64,
            })
            .collect(),
        presets: state
            .programs
            .preset_probes()
            .into_iter()
            .map(|p| PresetProbeView {
                width: p.width,
                height: p.height,
                fps: p.fps,
                selected: p.selected,
                speed: p.speed,
                holds_real_time: p.holds_real_time,
                trials: p
                    .trials
                    .into_iter()
                    .map(|t| PresetTrialView {
                        preset: t.preset,
                        speed: t.speed,
                        error: t.error,
                        elapsed_ms: t.elapsed.as_millis() as u64,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// The result of the encoder probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct EncoderProbeView {
    /// The encoder `auto` uses: the first that worked; null when none did.
    pub selected: Option<String>,
    /// One entry per candidate, in the order tried.
    pub results: Vec<EncoderTrial>,
    /// The libx264 preset probes run so far (a program with preset `auto` runs one at its
    /// size and rate when it first starts), smallest size first.
    pub presets: Vec<PresetProbeView>,
}

/// Which libx264 preset holds real time at one size and rate on this appliance.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresetProbeView {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The slowest preset at 1.5× real time or more; `ultrafast` when none was.
    pub selected: String,
    /// `selected`'s measured speed (× real time).
    pub speed: Option<f64>,
    /// False when no preset reached 1.5× real time.
    pub holds_real_time: bool,
    /// Slowest first; the probe stops at the first preset that holds.
    pub trials: Vec<PresetTrialView>,
}

/// One preset's two-second trial encode.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresetTrialView {
    pub preset: String,
    /// × real time; null when the trial failed.
    pub speed: Option<f64>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// One candidate encoder's one-second test encode.
#[derive(Debug, Serialize, ToSchema)]
pub struct EncoderTrial {
    pub encoder: String,
    pub ok: bool,
    /// Why the test encode failed: the last lines FFmpeg printed, or the timeout.
    pub error: Option<String>,
    pub elapsed_ms: u64,
}
