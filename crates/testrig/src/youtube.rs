//! A fake YouTube on 127.0.0.1: a real HTTP server answering the documented request and response
//! shapes of Google's OAuth 2.0 device flow (`/device/code`, `/token`) and of the YouTube Data
//! API v3 calls the appliance makes (`liveBroadcasts` insert/list/bind/transition/delete,
//! `liveStreams` insert/list, `videos.update`, `thumbnails.set` on the upload base), with
//! scriptable failures: quota exhausted, a revoked refresh token (`invalid_grant`), a broadcast
//! stuck in `testing` for N transitions, access tokens that expire. Every request is recorded
//! so a test can assert what the appliance sent.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// What the token endpoint answers to one poll of the device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePoll {
    /// 428 `authorization_pending`: the user has not answered yet.
    Pending,
    /// 403 `slow_down`: polled too fast.
    SlowDown,
    /// 403 `access_denied`: the user refused.
    Denied,
    /// 400 `expired_token`: the code expired.
    Expired,
    /// 200: the tokens.
    Grant,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query, e.g. `/youtube/v3/liveBroadcasts/bind`.
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body's fields when it is a form (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// Says whether a stream name is receiving data (e.g. a publisher on the rig's nginx-rtmp).
pub type ActivityProbe = Box<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
struct Inner {
    activity: Option<ActivityProbe>,
    client_id: String,
    client_secret: String,
    /// What the next polls of a device code get, in order; then `Grant` once approved, else
    /// `Pending`.
    device_script: VecDeque<DevicePoll>,
    approved: bool,
    device_codes: HashMap<String, String>,
    interval_s: u64,
    access_ttl: Duration,
    access_tokens: HashMap<String, Instant>,
    refresh_tokens: Vec<String>,
    refresh_revoked: bool,
    quota_failures: u32,
    stuck_in_testing: u32,
    transition_live_calls: u32,
    broadcasts: Vec<Value>,
    streams: Vec<Value>,
    streams_active: bool,
    ingest_base: String,
    thumbnails: HashMap<String, (String, usize)>,
    requests: Vec<Recorded>,
    counter: u64,
}

/// The fake YouTube server. Dropping it stops the server.
pub struct FakeYoutube {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeYoutube {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<Inner>>;

impl FakeYoutube {
    /// A fake that knows one OAuth client; access tokens last an hour, polls every second.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<FakeYoutube> {
        let inner = Arc::new(Mutex::new(Inner {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            interval_s: 1,
            access_ttl: Duration::from_secs(3600),
            ingest_base: "rtmp://127.0.0.1:1/live2".into(),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = inner.clone();
        let app =
            axum::Router::new().fallback(move |m, u, h, b| handle(shared.clone(), m, u, h, b));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeYoutube { addr, inner, task })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Google's `https://oauth2.googleapis.com/device/code`.
    pub fn device_code_url(&self) -> String {
        format!("{}/device/code", self.base())
    }
    /// Google's `https://oauth2.googleapis.com/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base())
    }
    /// `https://www.googleapis.com/youtube/v3`.
    pub fn api_base(&self) -> String {
        format!("{}/youtube/v3", self.base())
    }
    /// `https://www.googleapis.com/upload/youtube/v3`.
    pub fn upload_base(&self) -> String {
        format!("{}/upload/youtube/v3", self.base())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap())
    }

    /// The answers to the next polls of a device code (then `Grant` if approved, else pending).
    pub fn script_device(&self, polls: impl IntoIterator<Item = DevicePoll>) {
        self.with(|i| i.device_script = polls.into_iter().collect());
    }
    /// The user entered the code and allowed access.
    pub fn approve(&self) {
        self.with(|i| i.approved = true);
    }
    /// The `interval` the device endpoint tells clients to poll at.
    pub fn set_interval(&self, s: u64) {
        self.with(|i| i.interval_s = s);
    }
    /// How long access tokens issued from now on last (`expires_in`, enforced).
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.with(|i| i.access_ttl = ttl);
    }
    /// Every access token issued so far stops working now (the Data API answers 401).
    pub fn expire_access_tokens(&self) {
        self.with(|i| {
            let past = Instant::now() - Duration::from_millis(1);
            i.access_tokens.values_mut().for_each(|t| *t = past);
        });
    }
    /// Every refresh token is refused from now on with `invalid_grant` (revoked by the user).
    pub fn revoke_refresh_tokens(&self) {
        self.with(|i| i.refresh_revoked = true);
    }
    /// The next `n` Data API calls fail with 403 `quotaExceeded`.
    pub fn fail_with_quota(&self, n: u32) {
        self.with(|i| i.quota_failures = n);
    }
    /// The next `n` transitions to `live` fail with 403 `invalidTransition`, the broadcast
    /// staying in `testing`.
    pub fn stick_in_testing(&self, n: u32) {
        self.with(|i| i.stuck_in_testing = n);
    }
    /// Whether YouTube "sees data" on every stream (`status.streamStatus` active).
    pub fn set_streams_active(&self, active: bool) {
        self.with(|i| i.streams_active = active);
    }
    /// A stream is also active while `probe(streamName)` says data arrives: drive YouTube's
    /// "stream active" by really publishing to the ingestion address.
    pub fn set_activity_probe(&self, probe: ActivityProbe) {
        self.with(|i| i.activity = Some(probe));
    }
    /// The RTMP address streams made from now on ingest at (`cdn.ingestionInfo.ingestionAddress`).
    pub fn set_ingest_base(&self, base: &str) {
        self.with(|i| i.ingest_base = base.into());
    }

    /// The channel's owner deletes a broadcast in YouTube Studio.
    pub fn delete_broadcast(&self, id: &str) {
        self.with(|i| i.broadcasts.retain(|b| b["id"] != id));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|i| i.requests.clone())
    }
    /// The requests to paths ending with `suffix`.
    pub fn requests_to(&self, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }
    pub fn broadcasts(&self) -> Vec<Value> {
        self.with(|i| i.broadcasts.clone())
    }
    pub fn streams(&self) -> Vec<Value> {
        self.with(|i| i.streams.clone())
    }
    /// Content type and size of the thumbnail set on a video.
    pub fn thumbnail(&self, video_id: &str) -> Option<(String, usize)> {
        self.with(|i| i.thumbnails.get(video_id).cloned())
    }
    /// Every access and refresh token issued so far (for "never stored in clear" checks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|i| {
            i.access_tokens
                .keys()
                .cloned()
                .chain(i.refresh_tokens.iter().cloned())
                .collect()
        })
    }
    pub fn transition_live_calls(&self) -> u32 {
        self.with(|i| i.transition_live_calls)
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Google's error shape of the Data API.
fn api_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let domain = if reason == "quotaExceeded" {
        "youtube.quota"
    } else {
        "youtube.liveBroadcast"
    };
    (
        status,
        Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }})),
    )
        .into_response()
}

async fn handle(
    inner: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let rec = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: query.clone(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let mut i = inner.lock().unwrap();
    i.requests.push(rec.clone());
    let path = uri.path();
    match (method.as_str(), path) {
        ("POST", "/device/code") => device_code(&mut i, &rec),
        ("POST", "/token") => token(&mut i, &rec),
        _ if path.starts_with("/youtube/v3/") || path.starts_with("/upload/youtube/v3/") => {
            let bearer = rec
                .authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or_default();
            match i.access_tokens.get(bearer) {
                Some(exp) if *exp > Instant::now() => {}
                _ => {
                    return api_error(
                        StatusCode::UNAUTHORIZED,
                        "authError",
                        "Request had invalid authentication credentials.",
                    )
                }
            }
            if i.quota_failures > 0 {
                i.quota_failures -= 1;
                return api_error(
                    StatusCode::FORBIDDEN,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your quota.",
                );
            }
            let api = path
                .trim_start_matches("/upload")
                .trim_start_matches("/youtube/v3");
            data_api(&mut i, method.as_str(), api, &rec)
        }
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn next_id(i: &mut Inner, prefix: &str) -> String {
    i.counter += 1;
    // Unpredictable enough that a token found in a file was copied from the fake.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{nanos:09}", i.counter)
}

fn device_code(i: &mut Inner, rec: &Recorded) -> Response {
    let form = rec.form();
    if form.get("client_id") != Some(&i.client_id) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if !form.get("scope").is_some_and(|s| s.contains("youtube")) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "Missing scope");
    }
    let device_code = next_id(i, "AH-1Ng");
    let user_code = format!("FAKE-{:04}", i.counter);
    i.device_codes
        .insert(device_code.clone(), user_code.clone());
    Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "expires_in": 1800,
        "interval": i.interval_s,
        "verification_url": "https://www.google.com/device",
    }))
    .into_response()
}

fn grant(i: &mut Inner, with_refresh: bool) -> Response {
    let access = next_id(i, "ya29.fake-access-");
    i.access_tokens
        .insert(access.clone(), Instant::now() + i.access_ttl);
    let mut body = json!({
        "access_token": access,
        "expires_in": i.access_ttl.as_secs(),
        "scope": "https://www.googleapis.com/auth/youtube",
        "token_type": "Bearer",
    });
    if with_refresh {
        let refresh = next_id(i, "1//fake-refresh-");
        i.refresh_tokens.push(refresh.clone());
        body["refresh_token"] = json!(refresh);
    }
    Json(body).into_response()
}

fn token(i: &mut Inner, rec: &Recorded) -> Response {
    let form = rec.form();
    if form.get("client_id") != Some(&i.client_id)
        || form.get("client_secret") != Some(&i.client_secret)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let known = form
                .get("device_code")
                .is_some_and(|c| i.device_codes.contains_key(c));
            if !known {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            }
            let next = i.device_script.pop_front().unwrap_or(if i.approved {
                DevicePoll::Grant
            } else {
                DevicePoll::Pending
            });
            match next {
                DevicePoll::Pending => oauth_error(
                    StatusCode::PRECONDITION_REQUIRED,
                    "authorization_pending",
                    "Precondition Required",
                ),
                DevicePoll::SlowDown => {
                    oauth_error(StatusCode::FORBIDDEN, "slow_down", "Forbidden")
                }
                DevicePoll::Denied => {
                    oauth_error(StatusCode::FORBIDDEN, "access_denied", "Forbidden")
                }
                DevicePoll::Expired => {
                    oauth_error(StatusCode::BAD_REQUEST, "expired_token", "Bad Request")
                }
                DevicePoll::Grant => {
                    if let Some(c) = form.get("device_code") {
                        i.device_codes.remove(c);
                    }
                    grant(i, true)
                }
            }
        }
        Some("refresh_token") => {
            let known = form
                .get("refresh_token")
                .is_some_and(|t| i.refresh_tokens.contains(t));
            if !known || i.refresh_revoked {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            grant(i, false)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

fn find<'a>(list: &'a mut [Value], id: &str) -> Option<&'a mut Value> {
    list.iter_mut().find(|v| v["id"] == id)
}

fn data_api(i: &mut Inner, method: &str, api: &str, rec: &Recorded) -> Response {
    let q = &rec.query;
    let id = q.get("id").cloned().unwrap_or_default();
    if api != "/thumbnails/set" && method != "DELETE" && q.get("part").is_none_or(|p| p.is_empty())
    {
        return api_error(
            StatusCode::BAD_REQUEST,
            "required",
            "Required parameter: part",
        );
    }
    let active = i.streams_active;
    let probe = i.activity.take();
    for s in i.streams.iter_mut() {
        let name = s["cdn"]["ingestionInfo"]["streamName"]
            .as_str()
            .unwrap_or_default();
        let on = active || probe.as_ref().is_some_and(|p| p(name));
        s["status"]["streamStatus"] = json!(if on { "active" } else { "ready" });
    }
    i.activity = probe;
    match (method, api) {
        ("POST", "/liveBroadcasts") => {
            let body = rec.json();
            let title = body["snippet"]["title"].as_str().unwrap_or_default();
            if title.is_empty() || body["snippet"]["scheduledStartTime"].is_null() {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalidValue",
                    "title and scheduledStartTime are required",
                );
            }
            if body["status"]["privacyStatus"].is_null() {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalidValue",
                    "privacyStatus is required",
                );
            }
            let id = next_id(i, "bc");
            let mut b = body.clone();
            b["kind"] = json!("youtube#liveBroadcast");
            b["id"] = json!(id);
            b["status"]["lifeCycleStatus"] = json!("created");
            b["status"]["recordingStatus"] = json!("notRecording");
            i.broadcasts.push(b.clone());
            Json(b).into_response()
        }
        ("GET", "/liveBroadcasts") => {
            let items: Vec<Value> = i
                .broadcasts
                .iter()
                .filter(|b| id.is_empty() || id.split(',').any(|x| b["id"] == x))
                .cloned()
                .collect();
            Json(json!({"kind": "youtube#liveBroadcastListResponse", "items": items}))
                .into_response()
        }
        ("DELETE", "/liveBroadcasts") => {
            let before = i.broadcasts.len();
            i.broadcasts.retain(|b| b["id"] != id.as_str());
            if i.broadcasts.len() == before {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "liveBroadcastNotFound",
                    "Broadcast not found",
                );
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/liveBroadcasts/bind") => {
            let stream = q.get("streamId").cloned().unwrap_or_default();
            if find(&mut i.streams, &stream).is_none() {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "liveStreamNotFound",
                    "Stream not found",
                );
            }
            let Some(b) = find(&mut i.broadcasts, &id) else {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "liveBroadcastNotFound",
                    "Broadcast not found",
                );
            };
            b["contentDetails"]["boundStreamId"] = json!(stream);
            b["status"]["lifeCycleStatus"] = json!("ready");
            Json(b.clone()).into_response()
        }
        ("POST", "/liveBroadcasts/transition") => {
            let to = q.get("broadcastStatus").cloned().unwrap_or_default();
            if to == "live" {
                i.transition_live_calls += 1;
            }
            let stuck = i.stuck_in_testing;
            let streams = i.streams.clone();
            let Some(b) = find(&mut i.broadcasts, &id) else {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "liveBroadcastNotFound",
                    "Broadcast not found",
                );
            };
            let now = b["status"]["lifeCycleStatus"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let bound = b["contentDetails"]["boundStreamId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let stream_active = streams
                .iter()
                .any(|s| s["id"] == bound.as_str() && s["status"]["streamStatus"] == "active");
            match (to.as_str(), now.as_str()) {
                ("live", "live") | ("complete", "complete") | ("testing", "testing") => api_error(
                    StatusCode::FORBIDDEN,
                    "redundantTransition",
                    "Redundant transition",
                ),
                ("live", "ready" | "testing") if !stream_active => api_error(
                    StatusCode::FORBIDDEN,
                    "errorStreamInactive",
                    "Stream is inactive",
                ),
                ("live", "ready" | "testing") if stuck > 0 => {
                    b["status"]["lifeCycleStatus"] = json!("testing");
                    i.stuck_in_testing -= 1;
                    api_error(
                        StatusCode::FORBIDDEN,
                        "invalidTransition",
                        "Invalid transition",
                    )
                }
                ("live", "ready" | "testing") | ("complete", "live" | "testing") => {
                    b["status"]["lifeCycleStatus"] = json!(to);
                    Json(b.clone()).into_response()
                }
                _ => api_error(
                    StatusCode::FORBIDDEN,
                    "invalidTransition",
                    "Invalid transition",
                ),
            }
        }
        ("POST", "/liveStreams") => {
            let body = rec.json();
            if body["snippet"]["title"].as_str().is_none_or(str::is_empty) {
                return api_error(StatusCode::BAD_REQUEST, "invalidValue", "title is required");
            }
            let id = next_id(i, "st");
            let name = next_id(i, "abcd-efgh-");
            let mut s = body.clone();
            s["kind"] = json!("youtube#liveStream");
            s["id"] = json!(id);
            s["cdn"]["ingestionInfo"] = json!({
                "streamName": name,
                "ingestionAddress": i.ingest_base,
                "backupIngestionAddress": i.ingest_base.replace("live2", "live2?backup=1"),
            });
            s["status"] = json!({"streamStatus": if active { "active" } else { "ready" },
                                 "healthStatus": {"status": "noData"}});
            i.streams.push(s.clone());
            Json(s).into_response()
        }
        ("GET", "/liveStreams") => {
            let items: Vec<Value> = i
                .streams
                .iter()
                .filter(|s| id.is_empty() || id.split(',').any(|x| s["id"] == x))
                .cloned()
                .collect();
            Json(json!({"kind": "youtube#liveStreamListResponse", "items": items})).into_response()
        }
        ("PUT", "/videos") => {
            let body = rec.json();
            let vid = body["id"].as_str().unwrap_or_default().to_string();
            let Some(b) = find(&mut i.broadcasts, &vid) else {
                return api_error(StatusCode::NOT_FOUND, "videoNotFound", "Video not found");
            };
            if body["snippet"]["title"].is_null() || body["snippet"]["categoryId"].is_null() {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalidValue",
                    "title and categoryId are required",
                );
            }
            b["snippet"]["categoryId"] = body["snippet"]["categoryId"].clone();
            Json(body).into_response()
        }
        ("POST", "/thumbnails/set") => {
            let vid = q.get("videoId").cloned().unwrap_or_default();
            if find(&mut i.broadcasts, &vid).is_none() {
                return api_error(StatusCode::NOT_FOUND, "videoNotFound", "Video not found");
            }
            let ct = rec.content_type.clone().unwrap_or_default();
            if !ct.starts_with("image/") || rec.body.is_empty() {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "mediaBodyRequired",
                    "An image is required",
                );
            }
            i.thumbnails.insert(vid, (ct, rec.body.len()));
            Json(json!({"kind": "youtube#thumbnailSetResponse", "items": [
                {"default": {"url": "https://i.ytimg.com/vi/x/default.jpg", "width": 120, "height": 90}}
            ]}))
            .into_response()
        }
        _ => api_error(StatusCode::NOT_FOUND, "notFound", "No such method"),
    }
}
