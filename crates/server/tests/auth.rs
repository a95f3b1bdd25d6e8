//! Auth routes end to end: first-run set-up, login, rate limit, logout, password change, tokens.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn everything_but_public_routes_requires_auth() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let anon = app.anonymous();
    assert_eq!(
        anon.get(app.url("/api/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        anon.get(app.url("/api/auth/state"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        anon.get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for (method, path) in [
        ("GET", "/api/cameras"),
        ("POST", "/api/cameras"),
        ("GET", "/api/cameras/1"),
        ("PUT", "/api/cameras/1"),
        ("DELETE", "/api/cameras/1"),
        ("GET", "/api/cameras/1/presets"),
        ("POST", "/api/cameras/1/presets"),
        ("GET", "/api/presets/1"),
        ("PUT", "/api/presets/1"),
        ("DELETE", "/api/presets/1"),
        ("POST", "/api/auth/password"),
        ("GET", "/api/auth/tokens"),
        ("POST", "/api/auth/tokens"),
        ("DELETE", "/api/auth/tokens/1"),
        ("GET", "/metrics"),
    ] {
        let r = anon
            .request(method.parse().unwrap(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated", None).await;
    }
    // A forged cookie or token is no better.
    let r = anon
        .get(app.url("/api/cameras"))
        .header("cookie", "vs_session=deadbeef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = anon
        .get(app.url("/api/cameras"))
        .bearer_auth("vst_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn first_run_setup_happens_once_and_validates() {
    let app = TestApp::spawn().await;
    let s: Value = app.get("/api/auth/state").await.json().await.unwrap();
    assert_eq!(s["setup_required"], true);
    assert!(s["user"].is_null());

    let r = app
        .post(
            "/api/auth/setup",
            json!({"username": "admin", "password": "short"}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("password"),
    )
    .await;
    let r = app
        .post(
            "/api/auth/setup",
            json!({"username": "bad name", "password": "longenough"}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("username"),
    )
    .await;
    let r = app
        .post("/api/auth/setup", json!({"username": "admin"}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;

    let r = app
        .post(
            "/api/auth/setup",
            json!({"username": ADMIN, "password": ADMIN_PW}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let s: Value = app.get("/api/auth/state").await.json().await.unwrap();
    assert_eq!(s["setup_required"], false);
    assert_eq!(s["user"]["username"], ADMIN);

    // No second admin through set-up, even from another client.
    let r = app
        .anonymous()
        .post(app.url("/api/auth/setup"))
        .json(&json!({"username": "mallory", "password": "longenough"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::CONFLICT, "conflict", None).await;
    // The password is stored as a bcrypt hash.
    let hash: String = sqlx_hash(&app).await;
    assert!(hash.starts_with("$2"), "{hash}");
    app.stop().await;
}

async fn sqlx_hash(app: &TestApp) -> String {
    let running = app.app.as_ref().unwrap();
    running
        .db
        .user_by_name(ADMIN)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

#[tokio::test]
async fn login_logout_and_rate_limit_per_user() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    // A second user, created from the command-line path.
    let running = app.app.as_ref().unwrap();
    running
        .services
        .auth
        .reset_password("bob", "bobs password")
        .await
        .unwrap();

    let c = app.anonymous();
    let login = |user: &'static str, pw: &'static str| {
        let c = c.clone();
        let url = app.url("/api/auth/login");
        async move {
            c.post(url)
                .json(&json!({"username": user, "password": pw}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = login("admin", "wrong password").await;
    let body = assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated", None).await;
    assert_eq!(body["message"], "wrong username or password");
    // Unknown user: the same answer, nothing to enumerate.
    let r = login("nobody", "wrong password").await;
    let body2 = assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated", None).await;
    assert_eq!(body, body2);

    for _ in 0..4 {
        assert_eq!(login("admin", "wrong password").await.status(), 401);
    }
    let r = login("admin", ADMIN_PW).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited", None).await;
    // Another user is not blocked.
    let r = login("bob", "bobs password").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(app.url("/api/cameras"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Logout ends the session server-side.
    let r = c.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        c.get(app.url("/api/cameras"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn change_password_ends_other_sessions() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let other = app.anonymous();
    let r = other
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = app
        .post(
            "/api/auth/password",
            json!({"current_password": "nope", "new_password": "new password 1"}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        Some("current_password"),
    )
    .await;
    let r = app
        .post(
            "/api/auth/password",
            json!({"current_password": ADMIN_PW, "new_password": "short"}),
        )
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("new_password"),
    )
    .await;

    let r = app
        .post(
            "/api/auth/password",
            json!({"current_password": ADMIN_PW, "new_password": "new password 1"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    // This session lives on; the other one is over.
    assert_eq!(app.get("/api/cameras").await.status(), 200);
    assert_eq!(
        other
            .get(app.url("/api/cameras"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = other
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = other
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": ADMIN, "password": "new password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app.post("/api/auth/tokens", json!({"name": ""})).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("name"),
    )
    .await;
    let r = app
        .post("/api/auth/tokens", json!({"name": "VistterStudio"}))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("vst_") && token.len() > 40);
    let r = app
        .post("/api/auth/tokens", json!({"name": "VistterStudio"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict", Some("name")).await;

    let list: Value = app.get("/api/auth/tokens").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none(), "token never listed: {list}");
    assert!(!list.to_string().contains(&token[10..]));

    let machine = app.anonymous();
    let r = machine
        .get(app.url("/api/cameras"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        app.delete(&format!("/api/auth/tokens/{id}")).await.status(),
        204
    );
    let r = machine
        .get(app.url("/api/cameras"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app.delete(&format!("/api/auth/tokens/{id}")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = app.delete("/api/auth/tokens/abc").await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation", None).await;
    app.stop().await;
}

#[tokio::test]
async fn data_directory_is_locked_against_a_second_process() {
    let app = TestApp::spawn().await;
    let config = vistterstream::Config::for_tests(app.dir.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = vistterstream::App::build(config, listener, Default::default())
        .await
        .err()
        .expect("second app on the same data dir must fail");
    assert!(err.message.contains("in use"), "{}", err.message);
    app.stop().await;
}
