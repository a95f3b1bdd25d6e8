//! Test harness: boots the real appliance on port 0 with a fresh data directory, and a client
//! that keeps cookies like a browser.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use vistterstream::{App, AppDeps, Config};

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub app: Option<App>,
    pub shutdown: CancellationToken,
}

pub const ADMIN: &str = "admin";
pub const ADMIN_PW: &str = "correct horse";

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_deps(tweak, AppDeps::real()).await
    }

    /// The appliance with what it acts on the world through replaced (a fake spawner, a PTZ
    /// connector of the test's own).
    pub async fn spawn_with_deps(tweak: impl FnOnce(&mut Config), deps: AppDeps) -> TestApp {
        Self::spawn_in(tempfile::tempdir().expect("temp dir"), tweak, deps).await
    }

    /// The appliance on a data directory that may hold a previous run's files (a restart).
    pub async fn spawn_in(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut Config),
        deps: AppDeps,
    ) -> TestApp {
        let mut config = Config::for_tests(dir.path().to_path_buf());
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let app = App::build_with(config, listener, shutdown.clone(), deps)
            .await
            .expect("app boots");
        let base = format!("http://{}", app.addr());
        TestApp {
            base,
            client: new_client(),
            dir,
            app: Some(app),
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client without the cookies of `self.client`.
    pub fn anonymous(&self) -> Client {
        new_client()
    }

    pub async fn setup_admin(&self) {
        let r = self
            .post(
                "/api/auth/setup",
                json!({"username": ADMIN, "password": ADMIN_PW}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    /// A new API token named `name` (for bearer and WebSocket clients), as shown once.
    pub async fn api_token(&self, name: &str) -> String {
        let r = self.post("/api/auth/tokens", json!({ "name": name })).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.client
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
    }

    /// Stops the appliance and hands its data directory back, to start it again.
    pub async fn stop_keep_dir(mut self) -> tempfile::TempDir {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    /// Logs in as the admin made by `setup_admin` (after a restart the session is gone only
    /// for a new client; this one logs in again anyway).
    pub async fn login_admin(&self) {
        let r = self
            .post(
                "/api/auth/login",
                json!({"username": ADMIN, "password": ADMIN_PW}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .no_proxy()
        .build()
        .unwrap()
}

/// Asserts the response is a JSON error with this status, code and (optionally) field, and
/// returns its body.
pub async fn assert_error(
    r: Response,
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) -> Value {
    assert_eq!(r.status(), status, "status");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "JSON error body"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message present: {body}"
    );
    if let Some(f) = field {
        assert_eq!(body["field"], f, "{body}");
    }
    body
}

/// Mean (R, G, B) of the frame at `at` seconds of a recording.
pub async fn mean_rgb(path: &std::path::Path, at: f64) -> (f64, f64, f64) {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{at}"), "-i"])
        .arg(path)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=32:18",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && out.stdout.len() == 32 * 18 * 3,
        "decode at {at}s"
    );
    let n = (out.stdout.len() / 3) as f64;
    let sum = out.stdout.chunks(3).fold((0.0, 0.0, 0.0), |(r, g, b), p| {
        (r + p[0] as f64, g + p[1] as f64, b + p[2] as f64)
    });
    (sum.0 / n, sum.1 / n, sum.2 / n)
}

/// Polls `GET /api/programs/{id}` until `pred` holds and returns that view; past `within`,
/// fails with the last view.
pub async fn wait_program(
    app: &TestApp,
    id: i64,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let p: Value = app
            .get(&format!("/api/programs/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if pred(&p) {
            return p;
        }
        assert!(
            start.elapsed() < within,
            "program never matched within {within:?}: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
