//! `/api/assets`: the image files overlays show (PNG, JPEG, SVG), uploaded raw or as a browser
//! form, served with their type. The upload's body limit is in `body::BODY_LIMITS`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use vs_base::{Error, ErrorKind};

use super::body::{
    declared_length, limit_in, media_type, read_body, require_media, too_large, Media,
};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiPath, ApiQuery, CurrentUser};
use super::openapi::Binary;
use super::Routes;
use crate::services::assets::{Asset, AssetUpload, MAX_ASSET_BYTES};
use crate::state::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/api/assets", get(list_assets).post(upload_asset))
        .route("/api/assets/{id}", get(read_asset).delete(remove_asset))
}

/// Every asset, by name.
#[utoipa::path(get, path = "/api/assets", tag = "overlays", operation_id = "list_assets",
    responses((status = 200, body = [Asset])))]
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

/// A browser's upload form.
#[derive(ToSchema)]
#[allow(dead_code)] // Only its schema is used: the form is read part by part.
pub struct AssetForm {
    /// The image.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The asset's name (else the file's name).
    name: Option<String>,
}

/// Uploads an image (PNG, JPEG or SVG, at most 10 MiB) as `multipart/form-data` (field
/// `file`, optional field `name`) or as the raw body with its Content-Type. The same bytes
/// uploaded again give the same asset (200 instead of 201).
#[utoipa::path(post, path = "/api/assets", tag = "overlays", operation_id = "upload_asset", params(UploadQuery),
    request_body(description = "The image, raw with its type or as the form field `file`",
        content((Binary = "image/png"), (Binary = "image/jpeg"), (Binary = "image/svg+xml"),
            (AssetForm = "multipart/form-data"))),
    responses((status = 201, body = Asset), (status = 200, body = Asset, description = "These bytes were already stored"),
        (status = 400, body = ErrorBody, description = "A malformed multipart body, or a bad query"),
        (status = 413, body = ErrorBody, description = "The image is over 10 MiB (the body, form envelope included, over 10 MiB + 64 KiB)"),
        (status = 415, body = ErrorBody, description = "The Content-Type is neither multipart/form-data nor an image type"),
        (status = 422, body = ErrorBody, description = "Not a PNG, JPEG or SVG image, a type that is not the one claimed, or a form without a file")))]
pub async fn upload_asset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<UploadQuery>,
    request: Request,
) -> Response {
    if let Err(r) = require_media(request.headers(), Media::Upload) {
        return r.into_response();
    }
    let content_type = media_type(request.headers()).unwrap_or_default();
    let upload = if content_type == "multipart/form-data" {
        match upload_from_form(request).await {
            Ok(mut u) => {
                if q.name.is_some() {
                    u.name = q.name;
                }
                u
            }
            Err(r) => return r,
        }
    } else {
        let bytes = match read_body(request).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        if bytes.len() > MAX_ASSET_BYTES {
            return asset_too_large(bytes.len());
        }
        AssetUpload {
            name: q.name,
            mime: Some(content_type),
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

/// 413 for an image over the asset limit inside a body the route's limit let through.
fn asset_too_large(size: usize) -> Response {
    let mut r = ApiError(Error::invalid(
        "file",
        format!(
            "the image is {:.2} MiB; an asset may be at most {} MiB",
            size as f64 / (1024.0 * 1024.0),
            MAX_ASSET_BYTES / (1024 * 1024)
        ),
    ))
    .into_response();
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// One part of a form, read whole (the body limit bounds them all together).
struct Part {
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

fn malformed(detail: impl std::fmt::Display) -> Response {
    ApiError(Error::new(
        ErrorKind::Validation,
        format!("malformed multipart body: {detail}"),
    ))
    .into_response()
}

/// The file of a multipart upload: the part named `file`, else the first part with a file
/// name; a text part named `name` renames it.
async fn upload_from_form(request: Request) -> Result<AssetUpload, Response> {
    let limit = limit_in(&request);
    let declared = declared_length(request.headers());
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|r| malformed(r.body_text()))?;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(&limit, declared)
        } else {
            malformed(e.body_text())
        }
    };
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().map(str::to_string);
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = field.bytes().await.map_err(unreadable)?;
        parts.push(Part {
            name,
            filename,
            content_type,
            data,
        });
    }
    let invalid = |e: Error| ApiError(e).into_response();
    let file = parts
        .iter()
        .find(|p| p.name.as_deref() == Some("file"))
        .or_else(|| parts.iter().find(|p| p.filename.is_some()))
        .ok_or_else(|| {
            invalid(Error::invalid(
                "file",
                "the form has no file part (name it 'file')",
            ))
        })?;
    if file.data.len() > MAX_ASSET_BYTES {
        return Err(asset_too_large(file.data.len()));
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

/// Serves an asset's bytes with its type. SVG can hold scripts: the sandbox policy keeps one
/// opened from the appliance's own origin from running them with the user's session.
#[utoipa::path(get, path = "/api/assets/{id}", tag = "overlays", operation_id = "get_asset",
    params(("id" = i64, Path, description = "Asset id"),
        ("if-none-match" = Option<String>, Header, description = "The ETag of a copy the client has")),
    responses((status = 200, description = "The image",
            content((Binary = "image/png"), (Binary = "image/jpeg"), (Binary = "image/svg+xml")),
            headers(("etag" = String, description = "The quoted SHA-256 of the bytes"))),
        (status = 304, description = "The client's copy is current", headers(("etag" = String))),
        (status = 404, body = ErrorBody)))]
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
#[utoipa::path(delete, path = "/api/assets/{id}", tag = "overlays", operation_id = "delete_asset",
    params(("id" = i64, Path, description = "Asset id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "An overlay shows the asset")))]
pub async fn remove_asset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.assets.delete(id, Some(user.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde_json::Value;

    async fn form(content_type: &str, body: &'static [u8]) -> Result<AssetUpload, Response> {
        let request = Request::builder()
            .method("POST")
            .uri("/api/assets")
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        upload_from_form(request).await
    }

    async fn error_of(r: Response) -> (StatusCode, Value) {
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_browser_form_gives_its_file() {
        let u = form(
            "multipart/form-data; boundary=\"XyZ\"",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHarbour logo\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.png\"\r\n\
              Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n--XyZ not the end\r\n--XyZ--\r\n",
        )
        .await
        .map_err(|r| r.status())
        .unwrap();
        assert_eq!(u.name.as_deref(), Some("Harbour logo"));
        assert_eq!(u.mime.as_deref(), Some("image/png"));
        assert_eq!(u.bytes.as_ref(), b"\x89PNG\r\n\x1a\n--XyZ not the end");
    }

    #[tokio::test]
    async fn broken_forms_are_refused() {
        const BODY: &[u8] = b"--a\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--a--";
        let (status, e) = error_of(
            form("multipart/form-data; boundary=a", BODY)
                .await
                .err()
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["field"], "file");
        for content_type in ["multipart/form-data", "multipart/form-data; boundary=b"] {
            let (status, e) = error_of(form(content_type, BODY).await.err().unwrap()).await;
            assert!(status.is_client_error(), "{content_type}: {status}");
            assert_eq!(e["error"], "validation", "{content_type}");
        }
    }

    #[tokio::test]
    async fn quoted_parameters() {
        let u = form(
            "multipart/form-data; boundary=q",
            b"--q\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x \\\"y\\\".png\"\r\n\
              Content-Type: image/png\r\n\r\n\x89PNG\r\n--q--\r\n",
        )
        .await
        .map_err(|r| r.status())
        .unwrap();
        assert_eq!(u.name.as_deref(), Some("x \"y\".png"));
    }
}
