//! The one place where an appliance error becomes an HTTP response: status from the kind, a
//! JSON `{error, message, field?}` body, internal detail logged and never sent.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind};

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: validation, unauthenticated, not_found, conflict, …
    pub error: String,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Wrapper so handlers can return `vs_base::Error` with `?`.
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub fn status_of(e: &Error) -> StatusCode {
    match e.kind {
        ErrorKind::Validation if e.field.is_some() => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::InvalidState => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Device => StatusCode::BAD_GATEWAY,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        if status.is_server_error() {
            // Sources are redacted at their origin; this is the only place they are logged.
            tracing::error!(kind = e.kind.code(), error = ?e, "request failed");
        } else {
            tracing::debug!(kind = e.kind.code(), message = %e.message, "request refused");
        }
        let body = ErrorBody {
            error: e.kind.code().to_string(),
            message: e.message,
            field: e.field,
        };
        (status, Json(body)).into_response()
    }
}

/// axum's own rejections (a WebSocket route called without the upgrade, a body that cannot be
/// read) answer in plain text; every API error is JSON, so they are rewritten here with their
/// status and headers (Allow, Retry-After) kept. (A 413 is JSON already: `body::limit_body`
/// answers it with the route's limit.)
pub async fn json_rejections(resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated.code(),
        StatusCode::FORBIDDEN => ErrorKind::Forbidden.code(),
        StatusCode::NOT_FOUND => ErrorKind::NotFound.code(),
        StatusCode::CONFLICT => ErrorKind::Conflict.code(),
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited.code(),
        _ => ErrorKind::Validation.code(),
    };
    let body = ErrorBody {
        error: code.to_string(),
        message: if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_string()
        } else {
            text
        },
        field: None,
    };
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let mut r = (status, Json(body)).into_response();
    for (k, v) in parts.headers.iter() {
        if !r.headers().contains_key(k) {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError(Error::new(
            ErrorKind::Validation,
            format!("bad path parameter: {}", clean(&r.body_text())),
        ))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError(Error::new(
            ErrorKind::Validation,
            format!("bad query parameter: {}", clean(&r.body_text())),
        ))
    }
}

/// Strips axum's generic prefixes so the serde detail (field, line, column) is what remains.
fn clean(text: &str) -> String {
    let t = text
        .trim_start_matches("Failed to deserialize query string: ")
        .trim_start_matches("Invalid URL: ");
    t.to_string()
}
