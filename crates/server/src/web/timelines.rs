//! `/api/timelines` (CRUD, validation, cues, VistterStudio import/export, schedule, play),
//! `/api/overlays` and `/api/assets`. Asset uploads have a router of their own because they
//! need a larger body limit than the rest of the API.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use vs_base::{Error, ErrorKind};
use vs_timeline::{CueList, Format, Report, Timeline};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::services::assets::{Asset, AssetUpload, MAX_ASSET_BYTES};
use crate::services::overlays::{Overlay, OverlayInput};
use crate::services::timelines::{
    ImportResult, PlayOrigin, PlayerStatus, ScheduleInput, TimelineView,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/timelines", get(list).post(create))
        .route("/api/timelines/validate", post(validate))
        .route("/api/timelines/import", post(import))
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
        .route("/api/overlays", get(list_overlays).post(create_overlay))
        .route(
            "/api/overlays/{id}",
            get(read_overlay).put(update_overlay).delete(remove_overlay),
        )
}

/// Room for the multipart envelope around a maximal file.
const UPLOAD_LIMIT: usize = MAX_ASSET_BYTES + 64 * 1024;

/// `/api/assets`, with its own authentication layer: it is merged outside the API-wide body
/// limit, which would refuse any image over 1 MiB.
pub fn upload_router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/assets", get(list_assets).post(upload_asset))
        .route("/api/assets/{id}", get(read_asset).delete(remove_asset))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::extract::require_auth,
        ))
}

// ---------------------------------------------------------------------------------------------
// Timelines

/// Every timeline, by name, with its schedule and current warnings.
#[utoipa::path(get, path = "/api/timelines", tag = "timelines", responses((status = 200, body = [TimelineView])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<TimelineView>>> {
    Ok(Json(state.timelines.list().await?))
}

/// Creates a timeline (the id is generated when absent). Refused with 422 and the path of the
/// first problem in `field` (`tracks[0].clips[2].end_ms`) unless valid.
#[utoipa::path(post, path = "/api/timelines", tag = "timelines", request_body = Timeline,
    responses((status = 201, body = TimelineView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
#[utoipa::path(post, path = "/api/timelines/validate", tag = "timelines", request_body = Timeline,
    responses((status = 200, body = Report)))]
pub async fn validate(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<Timeline>,
) -> ApiResult<Json<Report>> {
    Ok(Json(state.timelines.validate(input).await?))
}

#[utoipa::path(get, path = "/api/timelines/{id}", tag = "timelines",
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TimelineView>> {
    Ok(Json(state.timelines.get(&id).await?))
}

/// Replaces a timeline (its schedule stays). A playing timeline goes on with the new version.
#[utoipa::path(put, path = "/api/timelines/{id}", tag = "timelines", request_body = Timeline,
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
#[utoipa::path(delete, path = "/api/timelines/{id}", tag = "timelines",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.timelines.delete(&id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The compiled cue list: every program change with its time.
#[utoipa::path(get, path = "/api/timelines/{id}/cues", tag = "timelines",
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
/// shape). Credentials in stream addresses are sealed; unknown addresses become new cameras.
#[utoipa::path(post, path = "/api/timelines/import", tag = "timelines", params(ImportQuery),
    request_body(content = Object, description = "a VistterStudio segment file"),
    responses((status = 201, body = ImportResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    // Any content type: the file is often sent as it lies on disk.
    let doc: Value = serde_json::from_slice(&body).map_err(|e| {
        Error::new(
            ErrorKind::Validation,
            format!("the file is not valid JSON ({e})"),
        )
    })?;
    let result = state
        .timelines
        .import(doc, q.create_cameras.unwrap_or(true), Some(user.id))
        .await?;
    Ok((StatusCode::CREATED, Json(result)))
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
#[utoipa::path(get, path = "/api/timelines/{id}/export", tag = "timelines", params(ExportQuery),
    responses((status = 200, description = "a VistterStudio segment file", content_type = "application/json"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
#[utoipa::path(put, path = "/api/timelines/{id}/schedule", tag = "timelines", request_body = ScheduleInput,
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
#[utoipa::path(delete, path = "/api/timelines/{id}/schedule", tag = "timelines",
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
#[utoipa::path(post, path = "/api/timelines/{id}/start", tag = "timelines",
    responses((status = 200, body = PlayerStatus), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
#[utoipa::path(post, path = "/api/timelines/{id}/stop", tag = "timelines",
    responses((status = 200, body = PlayerStatus), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
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
#[utoipa::path(post, path = "/api/timelines/{id}/jump", tag = "timelines", request_body = JumpInput,
    responses((status = 200, body = PlayerStatus), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn jump(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<JumpInput>,
) -> ApiResult<Json<PlayerStatus>> {
    Ok(Json(
        state.timelines.jump_to_clip(&id, &input.clip_id).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Overlays

#[utoipa::path(get, path = "/api/overlays", tag = "overlays", responses((status = 200, body = [Overlay])))]
pub async fn list_overlays(State(state): State<AppState>) -> ApiResult<Json<Vec<Overlay>>> {
    Ok(Json(state.overlays.list().await?))
}

#[utoipa::path(post, path = "/api/overlays", tag = "overlays", request_body = OverlayInput,
    responses((status = 201, body = Overlay), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/overlays/{id}", tag = "overlays",
    responses((status = 200, body = Overlay), (status = 404, body = ErrorBody)))]
pub async fn read_overlay(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Overlay>> {
    Ok(Json(state.overlays.get(id).await?))
}

#[utoipa::path(put, path = "/api/overlays/{id}", tag = "overlays", request_body = OverlayInput,
    responses((status = 200, body = Overlay), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
#[utoipa::path(delete, path = "/api/overlays/{id}", tag = "overlays",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_overlay(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.overlays.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Assets

#[utoipa::path(get, path = "/api/assets", tag = "overlays", responses((status = 200, body = [Asset])))]
pub async fn list_assets(State(state): State<AppState>) -> ApiResult<Json<Vec<Asset>>> {
    Ok(Json(state.assets.list().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The asset's name when the body is the raw file (a multipart upload carries its own).
    #[serde(default)]
    pub name: Option<String>,
}

/// The error of a body over the limit: 413, in the API's JSON error shape.
fn too_large(size: Option<u64>) -> Response {
    let size = size
        .map(|s| format!("{:.1} MiB", s as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "too large".into());
    let mut r = ApiError(Error::invalid(
        "file",
        format!(
            "the upload is {size}; assets may be at most {} MiB",
            MAX_ASSET_BYTES / (1024 * 1024)
        ),
    ))
    .into_response();
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// Reads a whole request body, refusing with 413 past `limit` before holding more than that.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, Response> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(declared));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(declared))
}

/// Uploads an image (PNG, JPEG or SVG, at most 10 MiB) as `multipart/form-data` (field
/// `file`, optional field `name`) or as the raw body with its Content-Type. The same bytes
/// uploaded again give the same asset (200 instead of 201).
#[utoipa::path(post, path = "/api/assets", tag = "overlays", params(UploadQuery),
    request_body(description = "the image, raw or as multipart field `file`",
        content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/svg+xml"), (Vec<u8> = "multipart/form-data"))),
    responses((status = 201, body = Asset), (status = 200, body = Asset, description = "these bytes were already stored"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upload_asset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<UploadQuery>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&parts.headers, body, UPLOAD_LIMIT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let upload = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        match upload_from_multipart(&content_type, &bytes) {
            Ok(mut u) => {
                if q.name.is_some() {
                    u.name = q.name;
                }
                u
            }
            Err(e) => return ApiError(e).into_response(),
        }
    } else {
        if bytes.len() > MAX_ASSET_BYTES {
            return too_large(Some(bytes.len() as u64));
        }
        AssetUpload {
            name: q.name,
            mime: Some(content_type).filter(|c| !c.is_empty()),
            bytes,
        }
    };
    match state.assets.upload(upload, Some(user.id)).await {
        Ok((asset, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(asset)).into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// Serves an asset's bytes with its type. SVG can hold scripts: the sandbox policy keeps one
/// opened from the appliance's own origin from running them with the user's session.
#[utoipa::path(get, path = "/api/assets/{id}", tag = "overlays",
    responses((status = 200, description = "the image",
            content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/svg+xml"))),
        (status = 304), (status = 404, body = ErrorBody)))]
pub async fn read_asset(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (asset, bytes) = state.assets.content(id).await?;
    let etag = format!("\"{}\"", asset.sha256);
    let common = [
        (ETAG, etag.clone()),
        // The content of an asset id never changes.
        (
            CACHE_CONTROL,
            "private, max-age=31536000, immutable".to_string(),
        ),
    ];
    if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [
            (CONTENT_TYPE, asset.mime),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Deletes an asset no overlay shows (409 naming the overlays otherwise).
#[utoipa::path(delete, path = "/api/assets/{id}", tag = "overlays",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_asset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.assets.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data, just enough for one file (RFC 7578)

struct Part {
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key=value` parameters of a header, values possibly quoted (a file name may hold `;`).
fn header_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .rsplit(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            val.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            (val, &q[end.min(q.len())..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, val));
        rest = next;
    }
    out
}

fn multipart_parts(content_type: &str, body: &Bytes) -> vs_base::Result<Vec<Part>> {
    let bad = |m: &str| {
        Error::new(
            ErrorKind::Validation,
            format!("malformed multipart body: {m}"),
        )
    };
    let boundary = header_params(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("the Content-Type has no boundary"))?;
    let delim = format!("--{boundary}").into_bytes();
    let close = [b"\r\n".as_slice(), &delim].concat();
    let b = body.as_ref();
    let mut pos = find(b, &delim, 0).ok_or_else(|| bad("no part"))? + delim.len();
    let mut parts = Vec::new();
    loop {
        if b[pos..].starts_with(b"--") {
            break;
        }
        pos += if b[pos..].starts_with(b"\r\n") { 2 } else { 0 };
        let head_end = find(b, b"\r\n\r\n", pos).ok_or_else(|| bad("a part has no headers"))?;
        let head = String::from_utf8_lossy(&b[pos..head_end]).into_owned();
        let data_start = head_end + 4;
        let data_end = find(b, &close, data_start).ok_or_else(|| bad("a part is not closed"))?;
        let mut part = Part {
            name: None,
            filename: None,
            content_type: None,
            data: body.slice(data_start..data_end),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for (pk, pv) in header_params(v) {
                        match pk.as_str() {
                            "name" => part.name = Some(pv),
                            "filename" => part.filename = Some(pv),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
        pos = data_end + close.len();
        if pos >= b.len() {
            break;
        }
    }
    Ok(parts)
}

/// The file of a multipart upload: the part named `file`, else the first part with a file
/// name; a text part named `name` renames it.
fn upload_from_multipart(content_type: &str, body: &Bytes) -> vs_base::Result<AssetUpload> {
    let parts = multipart_parts(content_type, body)?;
    let file = parts
        .iter()
        .find(|p| p.name.as_deref() == Some("file"))
        .or_else(|| parts.iter().find(|p| p.filename.is_some()))
        .ok_or_else(|| Error::invalid("file", "the form has no file part (name it 'file')"))?;
    if file.data.len() > MAX_ASSET_BYTES {
        return Err(Error::invalid(
            "file",
            format!(
                "assets may be at most {} MiB",
                MAX_ASSET_BYTES / (1024 * 1024)
            ),
        ));
    }
    let name = parts
        .iter()
        .find(|p| p.name.as_deref() == Some("name") && p.filename.is_none())
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| file.filename.clone());
    Ok(AssetUpload {
        name,
        mime: file.content_type.clone(),
        bytes: file.data.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_form_gives_its_file() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHarbour logo\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.png\"\r\n\
              Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n--XyZ not the end\r\n--XyZ--\r\n",
        );
        let u = upload_from_multipart("multipart/form-data; boundary=\"XyZ\"", &body).unwrap();
        assert_eq!(u.name.as_deref(), Some("Harbour logo"));
        assert_eq!(u.mime.as_deref(), Some("image/png"));
        assert_eq!(u.bytes.as_ref(), b"\x89PNG\r\n\x1a\n--XyZ not the end");
    }

    #[test]
    fn broken_forms_are_refused() {
        let body = Bytes::from_static(
            b"--a\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--a--",
        );
        assert_eq!(
            upload_from_multipart("multipart/form-data; boundary=a", &body)
                .unwrap_err()
                .field
                .as_deref(),
            Some("file")
        );
        assert!(upload_from_multipart("multipart/form-data", &body).is_err());
        assert!(upload_from_multipart("multipart/form-data; boundary=b", &body).is_err());
    }

    #[test]
    fn quoted_parameters() {
        assert_eq!(
            header_params(" form-data; name=\"file\"; filename=\"x \\\"y\\\".png\""),
            vec![
                ("name".to_string(), "file".to_string()),
                ("filename".to_string(), "x \"y\".png".to_string())
            ]
        );
    }
}
