//! `/api/auth`: first-run set-up, login/logout, password change and API tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use vs_base::ErrorKind;

use super::error::{ApiResult, ErrorBody};
use super::extract::{
    session_cookie, ApiJson, ApiPath, CurrentUser, SessionCookie, SESSION_COOKIE,
};
use super::Routes;
use crate::services::auth::{
    Credentials, NewSession, NewToken, PasswordChange, TokenInfo, UserInfo,
};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthState {
    /// True until the first admin is created.
    pub setup_required: bool,
    pub user: Option<UserInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub user: UserInfo,
}

pub fn public_router() -> Routes {
    Routes::new()
        .route("/api/auth/state", get(auth_state))
        .route("/api/auth/setup", post(setup))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
}

pub fn router() -> Routes {
    Routes::new()
        .route("/api/auth/password", post(change_password))
        .route("/api/auth/tokens", get(list_tokens).post(create_token))
        .route("/api/auth/tokens/{id}", delete(revoke_token))
}

fn cookie_header(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie characters are hex and ASCII")
}

fn logged_in(state: &AppState, s: NewSession, status: StatusCode) -> Response {
    let cookie = cookie_header(state, &s.cookie_value, state.config.session_ttl().as_secs());
    (
        status,
        [(SET_COOKIE, cookie)],
        Json(LoggedIn { user: s.user }),
    )
        .into_response()
}

/// Whether set-up is needed, and who is logged in (if anyone).
#[utoipa::path(get, path = "/api/auth/state", tag = "auth", operation_id = "get_auth_state", security(()),
    params(("vs_session" = Option<String>, Cookie, description = "The session cookie, when logged in")),
    responses((status = 200, body = AuthState)))]
async fn auth_state(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<AuthState>> {
    let user = match session_cookie(&headers) {
        Some(c) => state.auth.session_user(&c).await?,
        None => None,
    };
    Ok(Json(AuthState {
        setup_required: state.auth.setup_required().await?,
        user,
    }))
}

/// First-run set-up: creates the admin account and logs it in. Refused once a user exists.
#[utoipa::path(post, path = "/api/auth/setup", tag = "auth", operation_id = "setup", security(()),
    request_body = Credentials,
    responses((status = 201, body = LoggedIn, headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 409, body = ErrorBody, description = "A user exists already"),
        (status = 422, body = ErrorBody, description = "Username or password refused; `field` names which")))]
async fn setup(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let s = state.auth.setup(&c).await?;
    Ok(logged_in(&state, s, StatusCode::CREATED))
}

/// Logs in with username and password; sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", operation_id = "login", security(()),
    request_body = Credentials,
    responses((status = 200, body = LoggedIn, headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 401, body = ErrorBody, description = "Wrong username or password"),
        (status = 429, body = ErrorBody, description = "Too many failed logins for this username from this address",
            headers(("retry-after" = u64, description = "Seconds until the next try is accepted")))))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Response> {
    match state.auth.login(&c, addr.ip()).await {
        Ok(s) => Ok(logged_in(&state, s, StatusCode::OK)),
        Err(e) if e.kind == ErrorKind::RateLimited => {
            let key = (addr.ip(), c.username.trim().to_lowercase());
            let wait = state
                .auth
                .login_limiter
                .blocked(&key)
                .map(|d| d.as_secs().max(1))
                .unwrap_or(1);
            let mut resp = super::error::ApiError(e).into_response();
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(wait));
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", operation_id = "logout", security(()),
    params(("vs_session" = Option<String>, Cookie, description = "The session to end")),
    responses((status = 204, description = "Logged out (also when there was no session)",
        headers(("set-cookie" = String, description = "Clears the session cookie")))))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(c) = session_cookie(&headers) {
        state.auth.logout(&c).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cookie_header(&state, "", 0))],
    )
        .into_response())
}

/// Changes the password of the logged-in user; other sessions are ended.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", operation_id = "change_password",
    request_body = PasswordChange,
    responses((status = 204, description = "Changed; the user's other sessions are ended"),
        (status = 401, body = ErrorBody, description = "Not logged in, or the current password is wrong"),
        (status = 422, body = ErrorBody, description = "The new password is refused")))]
async fn change_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    cookie: Option<Extension<SessionCookie>>,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let keep = cookie.map(|Extension(SessionCookie(c))| c);
    state
        .auth
        .change_password(&user, &change, keep.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The live API tokens of the logged-in user (never the tokens themselves).
#[utoipa::path(get, path = "/api/auth/tokens", tag = "auth", operation_id = "list_tokens",
    responses((status = 200, body = [TokenInfo])))]
async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.auth.list_tokens(&user).await?))
}

/// Creates a bearer token for a machine client; the token is in this response only.
#[utoipa::path(post, path = "/api/auth/tokens", tag = "auth", operation_id = "create_token", request_body = NewToken,
    responses((status = 201, body = TokenInfo), (status = 409, body = ErrorBody, description = "A token has this name"),
        (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(req): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.auth.create_token(&user, &req).await?),
    ))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/api/auth/tokens/{id}", tag = "auth", operation_id = "revoke_token",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_token(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
