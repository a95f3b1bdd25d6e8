//! Extractors whose rejections are JSON errors, and the authentication middleware.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use vs_base::{Error, ErrorKind};

use super::body::{read_body, require_media, Media};
use super::error::ApiError;
use crate::services::auth::UserInfo;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "vs_session";

/// A JSON request body, read under the route's body limit: 415 unless the Content-Type is
/// `application/json`, 413 past the limit, 400 unless it parses and has the shape the OpenAPI
/// document gives `T` (an object wherever the document says object: see `shape`).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + utoipa::PartialSchema,
{
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        require_media(req.headers(), Media::Json).map_err(IntoResponse::into_response)?;
        let bytes = read_body(req).await?;
        Ok(ApiJson(
            parse_json::<T>(&bytes).map_err(IntoResponse::into_response)?,
        ))
    }
}

/// Parses a JSON body of type `T`, refusing what serde would take but the document does not
/// allow (an array where an object is expected), with 400 and the place in the message.
pub fn parse_json<T>(bytes: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + utoipa::PartialSchema,
{
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError(Error::new(
            ErrorKind::Validation,
            format!("the body is not valid JSON: {e}"),
        ))
    })?;
    super::shape::check(&value, &super::shape::schema_of::<T>()).map_err(|m| {
        ApiError(Error::new(
            ErrorKind::Validation,
            format!("the body has the wrong shape: {m}"),
        ))
    })?;
    // From the value (its strings moved, not copied: a sync is up to 48 MiB), with the path
    // of the field at fault in the message.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("the body has the wrong shape: {inner}")
        } else {
            format!("the body has the wrong shape: {path}: {inner}")
        };
        ApiError(Error::new(ErrorKind::Validation, message))
    })
}

/// `Path<T>` with JSON error bodies.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query<T>` with JSON error bodies.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated user, put in the request by `require_auth`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserInfo);

/// The session cookie of the request, when it came with one.
#[derive(Debug, Clone)]
pub struct SessionCookie(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| ApiError(Error::unauthenticated("log in first")))
    }
}

pub fn session_cookie(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Lets the request through only with a live session cookie or bearer token.
pub async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let user = if let Some(token) = bearer(headers) {
        state.auth.token_user(&token).await
    } else if let Some(cookie) = session_cookie(headers) {
        req.extensions_mut().insert(SessionCookie(cookie.clone()));
        state.auth.session_user(&cookie).await
    } else {
        Ok(None)
    };
    match user {
        Ok(Some(u)) => {
            req.extensions_mut().insert(CurrentUser(u));
            next.run(req).await
        }
        Ok(None) => ApiError(Error::unauthenticated(
            "log in first (session expired or missing), or send a valid API token",
        ))
        .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}
