//! Whole request bodies read under a route's own limit, for the routes merged outside the
//! API-wide 1 MiB limit (asset uploads, VistterStudio syncs), with the 413 they answer past it.

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vs_base::Error;

use super::error::ApiError;
use crate::services::assets::MAX_ASSET_BYTES;

/// The error of a body over the limit: 413, in the API's JSON error shape.
pub fn too_large(size: Option<u64>) -> Response {
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

/// The body length the request declares, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads a whole request body, refusing with 413 past `limit` before holding more than that.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Response> {
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(declared));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(declared))
}
