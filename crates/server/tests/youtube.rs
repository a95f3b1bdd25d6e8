//! YouTube broadcasts made by the appliance (issue 17), end to end against the test rig's fake
//! YouTube (a real HTTP server on 127.0.0.1 answering the documented shapes of Google's device
//! flow and of the Data API): sign-in with pending → slow_down → granted at the interval asked,
//! tokens sealed (never in the database file, a response or the log), a schedule window making
//! a fresh broadcast that is bound, given its category and thumbnail, taken live once YouTube
//! sees data (a refused transition retried), completed at the window's end, and a new one for
//! the next window; token refresh (expiry and 401), a revoked sign-in, the quota, bad input.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vs_testrig::{DevicePoll, FakeYoutube};

const CLIENT_ID: &str = "1234-fake.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-client-secret-42x";

// ---- The app's log, captured ------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,hyper=info,hyper_util=info,reqwest=info,h2=info",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber of this test binary");
        captured
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&capture_logs().0.lock().unwrap()).into_owned()
}

// ---- Helpers ----------------------------------------------------------------------------------

async fn app_for(fake: &FakeYoutube) -> TestApp {
    let app = app_in(fake, tempfile::tempdir().unwrap()).await;
    app.setup_admin().await;
    app
}

/// The appliance on `dir` (perhaps a previous run's), talking to the fake.
async fn app_in(fake: &FakeYoutube, dir: tempfile::TempDir) -> TestApp {
    capture_logs();
    let (device, token, api, upload) = (
        fake.device_code_url(),
        fake.token_url(),
        fake.api_base(),
        fake.upload_base(),
    );
    TestApp::spawn_in(
        dir,
        move |c| {
            c.youtube.device_url = device;
            c.youtube.token_url = token;
            c.youtube.api_base = api;
            c.youtube.upload_base = upload;
            c.youtube.tick_ms = 150;
            c.youtube.retry_ms = 200;
        },
        vistterstream::AppDeps::real(),
    )
    .await
}

async fn youtube_destination(app: &TestApp) -> i64 {
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "Channel", "platform": "youtube", "stream_key": "typed-key-1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Polls `GET path` until `done` holds for its JSON, or panics after `secs` seconds.
async fn wait_json(app: &TestApp, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v: Value = app.get(path).await.json().await.unwrap();
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{path} never got there: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs the destination in (the fake grants at the first poll) and waits for the link.
async fn sign_in(app: &TestApp, fake: &FakeYoutube, dest: i64) -> Value {
    fake.approve();
    let r = app
        .post(
            &format!("/api/destinations/{dest}/youtube/sign-in"),
            json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_json(app, &format!("/api/destinations/{dest}/youtube"), 20, |v| {
        v["state"] == "linked" && v["stream_bound"] == true
    })
    .await
}

fn png(len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31)));
    v
}

/// A camera on a closed loopback port, a timeline "show" using it; returns the timeline id.
/// A YouTube destination signed in against the fake, whose ingest is a real nginx-rtmp: the
/// fake's stream is active while nginx has a publisher on the stream's name, and, like
/// YouTube, the ingest takes only that name as key.
async fn signed_in_over_nginx() -> (
    Arc<vs_testrig::RtmpServer>,
    FakeYoutube,
    TestApp,
    i64,
    String,
) {
    use vs_testrig::{RtmpEventKind, RtmpServer};
    let rtmp = Arc::new(RtmpServer::start().await.unwrap());
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    fake.set_ingest_base(&rtmp.base_url());
    let seen = rtmp.clone();
    fake.set_activity_probe(Box::new(move |name| {
        let events = seen.events();
        let count = |kind: RtmpEventKind| {
            events
                .iter()
                .filter(|e| e.key == name && e.kind == kind && e.accepted)
                .count()
        };
        count(RtmpEventKind::Publish) > count(RtmpEventKind::PublishDone)
    }));
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let stream_name = fake.streams()[0]["cdn"]["ingestionInfo"]["streamName"]
        .as_str()
        .unwrap()
        .to_string();
    rtmp.set_allowed_keys(Some(vec![stream_name.clone()]));
    (rtmp, fake, app, dest, stream_name)
}

async fn show_timeline(app: &TestApp) -> String {
    show_timeline_of(app, "rtsp://127.0.0.1:9/none").await
}

/// A camera at `address`, a timeline "show" of one minute of it; returns the timeline id.
async fn show_timeline_of(app: &TestApp, address: &str) -> String {
    let r = app
        .post(
            "/api/cameras",
            json!({"name": "Pier", "type": "STATIC", "protocol": "RTSP", "address": address}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let cam: Value = r.json().await.unwrap();
    let r = app
        .post(
            "/api/timelines",
            json!({"id": "show", "name": "Show", "duration_ms": 60000, "tracks": [
                {"kind": "video", "name": "Cameras", "clips": [
                    {"id": "a", "start_ms": 0, "end_ms": 60000,
                     "source": {"type": "camera", "camera_id": cam["id"]}}]}]}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    "show".into()
}

async fn upload_png(app: &TestApp, bytes: &[u8]) -> i64 {
    let r = app
        .client
        .post(app.url("/api/assets?name=thumb.png"))
        .header("content-type", "image/png")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

const ALL_WEEK: &str = r#"{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "00:00", "end": "00:00", "tz": "UTC"}"#;

async fn open_window(app: &TestApp, timeline: &str) {
    let r = app
        .put(
            &format!("/api/timelines/{timeline}/schedule"),
            serde_json::from_str(ALL_WEEK).unwrap(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn close_window(app: &TestApp, timeline: &str) {
    let r = app
        .delete(&format!("/api/timelines/{timeline}/schedule"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

fn bearer_of(r: &vs_testrig::youtube::Recorded) -> String {
    r.authorization
        .clone()
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_string()
}

/// Every byte SQLite wrote: the database file and its WAL.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["vistterstream.db", "vistterstream.db-wal"] {
        if let Ok(b) = std::fs::read(app.dir.path().join(name)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---- Tests ------------------------------------------------------------------------------------

#[tokio::test]
async fn device_sign_in_honours_pending_and_slow_down_and_seals_every_token() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    fake.set_interval(1);
    fake.script_device([DevicePoll::Pending, DevicePoll::SlowDown, DevicePoll::Grant]);
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    let link_path = format!("/api/destinations/{dest}/youtube");

    let v: Value = app.get(&link_path).await.json().await.unwrap();
    assert_eq!(v["state"], "signed_out");

    let r = app
        .post(
            &format!("{link_path}/sign-in"),
            json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut responses = r.text().await.unwrap();
    let pending: Value = serde_json::from_str(&responses).unwrap();
    assert_eq!(pending["state"], "pending");
    assert!(pending["user_code"].as_str().unwrap().starts_with("FAKE-"));
    assert_eq!(pending["verification_url"], "https://www.google.com/device");
    assert_eq!(pending["client_id"], CLIENT_ID);
    assert_eq!(pending["has_client_secret"], true);

    let linked = wait_json(&app, &link_path, 30, |v| v["state"] == "linked").await;
    assert_eq!(linked["user_code"], Value::Null);

    // What was sent to the device and token endpoints, and when.
    let device = fake.requests_to("/device/code");
    assert_eq!(device.len(), 1);
    assert_eq!(device[0].form()["client_id"], CLIENT_ID);
    assert!(device[0].form()["scope"].contains("auth/youtube"));
    let polls: Vec<_> = fake
        .requests_to("/token")
        .into_iter()
        .filter(|r| r.form()["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code")
        .collect();
    assert_eq!(polls.len(), 3, "pending, slow_down, granted");
    for p in &polls {
        assert_eq!(p.form()["client_secret"], CLIENT_SECRET);
        assert!(!p.form()["device_code"].is_empty());
    }
    let gap1 = polls[1].at - polls[0].at;
    let gap2 = polls[2].at - polls[1].at;
    assert!(
        gap1 >= Duration::from_millis(950),
        "interval honoured: {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(5900),
        "slow_down adds 5 s to the interval: {gap2:?}"
    );

    // Signed in, the destination is bound to a reusable stream whose key it now publishes with.
    let linked = wait_json(&app, &link_path, 20, |v| v["stream_bound"] == true).await;
    assert_eq!(linked["message"], Value::Null);
    let streams = fake.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["contentDetails"]["isReusable"], true);
    let stream_name = streams[0]["cdn"]["ingestionInfo"]["streamName"]
        .as_str()
        .unwrap()
        .to_string();
    let d: Value = app
        .get(&format!("/api/destinations/{dest}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["url"], "rtmp://127.0.0.1:1/live2");
    assert_eq!(d["has_stream_key"], true);
    let running = app.app.as_ref().unwrap();
    let row = running.db.destination(dest).await.unwrap();
    let key = running
        .secrets
        .open(row.stream_key_enc.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        key.expose(),
        stream_name,
        "the key is YouTube's stream name"
    );

    responses.push_str(&app.get(&link_path).await.text().await.unwrap());
    responses.push_str(&app.get("/api/destinations").await.text().await.unwrap());
    responses.push_str(
        &app.get(&format!("/api/destinations/{dest}"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let device_code = polls[0].form()["device_code"].clone();
    let mut secrets = fake.issued_tokens();
    assert_eq!(secrets.len(), 2, "one access and one refresh token");
    secrets.push(CLIENT_SECRET.into());
    secrets.push(device_code);
    secrets.push(stream_name);
    let db = database_bytes(&app);
    assert!(contains(&db, CLIENT_ID), "the check reads the real file");
    let log = logged();
    for s in &secrets {
        assert!(
            !contains(&db, s),
            "the database file holds a secret in clear"
        );
        assert!(!responses.contains(s.as_str()), "a response shows a secret");
        assert!(!log.contains(s.as_str()), "the log shows a secret");
    }
    let audit: String = vs_db::sqlx::query_scalar(
        "SELECT COALESCE(GROUP_CONCAT(COALESCE(detail, '') || target, ' '), '') FROM audit_log",
    )
    .fetch_one(running.db.pool())
    .await
    .unwrap();
    assert!(!audit.contains(CLIENT_SECRET));

    // Signing out forgets the tokens.
    let r = app.delete(&link_path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "signed_out");
    let l = running.db.youtube_link(dest).await.unwrap().unwrap();
    assert!(l.access_token_enc.is_none() && l.refresh_token_enc.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_denied_or_expired_code_ends_the_sign_in_in_plain_words() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    fake.set_interval(1);
    fake.script_device([DevicePoll::Pending, DevicePoll::Denied]);
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    let link_path = format!("/api/destinations/{dest}/youtube");
    let body = json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
    assert_eq!(
        app.post(&format!("{link_path}/sign-in"), body)
            .await
            .status(),
        200
    );
    let v = wait_json(&app, &link_path, 20, |v| v["state"] == "signed_out").await;
    assert!(v["message"].as_str().unwrap().contains("refused"), "{v}");

    // Again, the stored secret is kept when only the client id is sent.
    fake.script_device([DevicePoll::Expired]);
    let body = json!({"client_id": CLIENT_ID});
    assert_eq!(
        app.post(&format!("{link_path}/sign-in"), body)
            .await
            .status(),
        200
    );
    let v = wait_json(&app, &link_path, 20, |v| v["state"] == "signed_out").await;
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn each_window_makes_a_fresh_broadcast_taken_live_after_refused_transitions_and_completed() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let thumb = png(2048);
    let asset = upload_png(&app, &thumb).await;
    let settings = format!("/api/destinations/{dest}/youtube/settings/{timeline}");
    let r = app
        .put(
            &settings,
            json!({"title": "Harbour live", "description": "The marina, all day",
                   "privacy": "public", "category_id": "19", "thumbnail_asset_id": asset}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["privacy"], "public");
    let listed: Value = app
        .get(&format!("/api/destinations/{dest}/youtube/settings"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    // No window yet: nothing is made.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(fake.broadcasts().is_empty());

    fake.stick_in_testing(2);
    open_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    let first = list[0].clone();
    let yt_id = first["broadcast_id"].as_str().unwrap().to_string();
    assert_eq!(
        first["watch_url"],
        format!("https://www.youtube.com/watch?v={yt_id}")
    );
    assert_eq!(first["title"], "Harbour live");

    // What the appliance sent: the broadcast, the bind, the category, the thumbnail.
    let tokens = fake.issued_tokens();
    let insert = fake
        .requests_to("/liveBroadcasts")
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("liveBroadcasts.insert");
    assert!(
        tokens.contains(&bearer_of(&insert)),
        "a token the fake issued"
    );
    assert!(insert.query["part"].contains("snippet"));
    let body = insert.json();
    assert_eq!(body["snippet"]["title"], "Harbour live");
    assert_eq!(body["snippet"]["description"], "The marina, all day");
    assert!(body["snippet"]["scheduledStartTime"].is_string());
    assert_eq!(body["status"]["privacyStatus"], "public");
    assert_eq!(body["contentDetails"]["enableAutoStart"], false);
    assert_eq!(body["contentDetails"]["enableAutoStop"], false);
    let stream_id = fake.streams()[0]["id"].as_str().unwrap().to_string();
    let bind = &fake.requests_to("/liveBroadcasts/bind")[0];
    assert_eq!(bind.query["id"], yt_id);
    assert_eq!(bind.query["streamId"], stream_id);
    let video = &fake.requests_to("/videos")[0];
    assert_eq!(video.method, "PUT");
    assert_eq!(video.json()["snippet"]["categoryId"], "19");
    let set = &fake.requests_to("/thumbnails/set")[0];
    assert!(set.path.starts_with("/upload/youtube/v3/"));
    assert_eq!(set.content_type.as_deref(), Some("image/png"));
    assert_eq!(set.body, thumb);
    assert_eq!(fake.thumbnail(&yt_id).unwrap().1, thumb.len());

    // YouTube sees no data yet: no transition is tried.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.transition_live_calls(), 0);
    assert_eq!(fake.streams().len(), 1, "the bound stream is reused");

    // Data arrives; the first two transitions are refused (stuck in testing), the third works.
    fake.set_streams_active(true);
    let list = wait_json(&app, &broadcasts, 30, |v| v[0]["state"] == "live").await;
    assert_eq!(list[0]["transition_failures"], 2);
    assert_eq!(list[0]["message"], Value::Null, "cleared once live");
    assert!(list[0]["live_at"].is_string());
    assert_eq!(fake.transition_live_calls(), 3);
    let transitions = fake.requests_to("/liveBroadcasts/transition");
    assert!(
        transitions[1].at - transitions[0].at >= Duration::from_millis(180),
        "backoff"
    );
    assert_eq!(fake.broadcasts()[0]["status"]["lifeCycleStatus"], "live");

    // The window closes: complete.
    close_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "complete").await;
    assert!(list[0]["ended_at"].is_string());
    assert_eq!(
        fake.broadcasts()[0]["status"]["lifeCycleStatus"],
        "complete"
    );

    // The next window: a new broadcast, never the complete one again.
    open_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 20, |v| {
        v.as_array().unwrap().len() == 2 && v[0]["state"] == "live"
    })
    .await;
    assert_ne!(list[0]["broadcast_id"], list[1]["broadcast_id"]);
    assert_eq!(list[1]["state"], "complete");
    let all = fake.broadcasts();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["status"]["lifeCycleStatus"], "complete");
    assert_eq!(all[1]["contentDetails"]["boundStreamId"], stream_id);
    close_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "complete").await;
    app.stop().await;
}

#[tokio::test]
async fn a_window_that_ends_before_data_arrives_deletes_its_unused_broadcast() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Short", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    close_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "cancelled").await;
    assert!(list[0]["message"]
        .as_str()
        .unwrap()
        .contains("before YouTube received"));
    assert!(fake.broadcasts().is_empty(), "deleted on YouTube");
    assert!(
        fake.requests_to("/thumbnails/set").is_empty(),
        "no thumbnail set"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_expired_or_refused_access_token_is_refreshed() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    // Tokens of 62 s: the appliance renews a token with less than a minute left.
    fake.set_access_ttl(Duration::from_secs(62));
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let first_token = bearer_of(&fake.requests_to("/liveStreams")[0]);
    fake.set_access_ttl(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Refresh", "privacy": "private"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    let refreshes: Vec<_> = fake
        .requests_to("/token")
        .into_iter()
        .filter(|r| r.form()["grant_type"] == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh for the expiring token");
    assert_eq!(refreshes[0].form()["client_secret"], CLIENT_SECRET);
    let insert = fake
        .requests_to("/liveBroadcasts")
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    let second_token = bearer_of(&insert);
    assert_ne!(second_token, first_token, "the refreshed token is used");
    assert!(insert.at > refreshes[0].at);

    // YouTube stops accepting the token early (401): refreshed once, the call made again.
    fake.expire_access_tokens();
    fake.set_streams_active(true);
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "live").await;
    let refreshes = fake
        .requests_to("/token")
        .into_iter()
        .filter(|r| r.form()["grant_type"] == "refresh_token")
        .count();
    assert_eq!(refreshes, 2);
    let transition = fake
        .requests_to("/liveBroadcasts/transition")
        .pop()
        .unwrap();
    let third = bearer_of(&transition);
    assert!(third != second_token && third != first_token);
    // Every refreshed token stays sealed.
    let db = database_bytes(&app);
    for t in fake.issued_tokens() {
        assert!(!contains(&db, &t));
        assert!(!logged().contains(&t));
    }
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_sign_in_asks_to_sign_in_again() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Revoked", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    fake.revoke_refresh_tokens();
    fake.expire_access_tokens();
    open_window(&app, &timeline).await;
    let link_path = format!("/api/destinations/{dest}/youtube");
    let v = wait_json(&app, &link_path, 20, |v| v["state"] == "needs_sign_in").await;
    assert!(
        v["message"].as_str().unwrap().contains("sign in again"),
        "{v}"
    );
    let l = app
        .app
        .as_ref()
        .unwrap()
        .db
        .youtube_link(dest)
        .await
        .unwrap()
        .unwrap();
    assert!(l.access_token_enc.is_none() && l.refresh_token_enc.is_none());
    // No broadcast was made on YouTube, and the window's row says why.
    assert!(fake.broadcasts().is_empty());
    let list = wait_json(
        &app,
        &format!("/api/destinations/{dest}/youtube/broadcasts"),
        20,
        |v| v[0]["message"].is_string(),
    )
    .await;
    assert!(
        list[0]["message"].as_str().unwrap().contains("sign"),
        "{list}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_exhausted_quota_is_said_plainly_and_retried() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Quota", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut events = app.app.as_ref().unwrap().services.events.subscribe();
    fake.fail_with_quota(2);
    open_window(&app, &timeline).await;
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    let list = wait_json(&app, &broadcasts, 20, |v| {
        v[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("quota"))
    })
    .await;
    assert_eq!(list[0]["state"], "creating");
    let link: Value = app
        .get(&format!("/api/destinations/{dest}/youtube"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        link["message"]
            .as_str()
            .is_some_and(|m| m.contains("quotaExceeded")),
        "the destination says it too: {link}"
    );
    // Retried after the quota came back.
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    let mut said = false;
    loop {
        match events.try_recv() {
            Ok(ev) => {
                said |= ev.kind == "youtube_broadcast"
                    && ev.data["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("quota"));
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert!(said, "an event told the quota");
    assert!(logged().contains("quotaExceeded"));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_4xx_and_nothing_stored() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    let sign = format!("/api/destinations/{dest}/youtube/sign-in");

    let r = app
        .post(&sign, json!({"client_id": " ", "client_secret": "x"}))
        .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("client_id"),
    )
    .await;
    let r = app.post(&sign, json!({"client_id": CLIENT_ID})).await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        Some("client_secret"),
    )
    .await;
    // Google does not know the client: 502, nothing kept.
    let r = app
        .post(
            &sign,
            json!({"client_id": "other.apps.googleusercontent.com", "client_secret": "s"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_GATEWAY, "device_error", None).await;
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("TV and Limited Input"));
    let v: Value = app
        .get(&format!("/api/destinations/{dest}/youtube"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["client_id"], Value::Null);
    let r = app
        .post(
            &sign,
            json!({"client_id": CLIENT_ID, "client_secret": "s", "extra": 1}),
        )
        .await;
    assert!(r.status().is_client_error());
    let r = app
        .post(
            "/api/destinations/999/youtube/sign-in",
            json!({"client_id": CLIENT_ID, "client_secret": "s"}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = app
        .post(
            "/api/destinations",
            json!({"name": "Own", "platform": "custom", "url": "rtmp://127.0.0.1:9/app", "stream_key": "k"}),
        )
        .await;
    let custom = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/destinations/{custom}/youtube/sign-in"),
            json!({"client_id": CLIENT_ID, "client_secret": "s"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "invalid_state", None).await;

    let timeline = show_timeline(&app).await;
    let settings = format!("/api/destinations/{dest}/youtube/settings/{timeline}");
    for (body, field) in [
        (json!({"title": "", "privacy": "public"}), "title"),
        (
            json!({"title": "x".repeat(101), "privacy": "public"}),
            "title",
        ),
        (json!({"title": "A <b>", "privacy": "public"}), "title"),
        (
            json!({"title": "T", "privacy": "public", "description": "y".repeat(5001)}),
            "description",
        ),
        (
            json!({"title": "T", "privacy": "public", "category_id": "music"}),
            "category_id",
        ),
        (
            json!({"title": "T", "privacy": "public", "thumbnail_asset_id": 999}),
            "thumbnail_asset_id",
        ),
    ] {
        let r = app.put(&settings, body).await;
        assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            Some(field),
        )
        .await;
    }
    let r = app
        .put(&settings, json!({"title": "T", "privacy": "secret"}))
        .await;
    assert!(r.status().is_client_error());
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/nope"),
            json!({"title": "T", "privacy": "public"}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = app.delete(&settings).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let listed: Value = app
        .get(&format!("/api/destinations/{dest}/youtube/settings"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let r = app.get("/api/destinations/999/youtube/broadcasts").await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    // Unauthenticated: refused like everything else.
    let r = app
        .anonymous()
        .get(app.url(&format!("/api/destinations/{dest}/youtube")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for path in [
        "/api/destinations/{id}/youtube",
        "/api/destinations/{id}/youtube/sign-in",
        "/api/destinations/{id}/youtube/settings",
        "/api/destinations/{id}/youtube/settings/{timeline_id}",
        "/api/destinations/{id}/youtube/broadcasts",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn youtube_sees_data_once_the_destination_really_publishes_to_the_bound_stream() {
    let (rtmp, fake, app, dest, stream_name) = signed_in_over_nginx().await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Really live", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.transition_live_calls(), 0, "no data, no transition");

    // Publish where the destination now sends: the appliance's own publish URL for it.
    let running = app.app.as_ref().unwrap();
    let row = running.db.destination(dest).await.unwrap();
    let (url, shown) = running.services.destinations.publish(&row).unwrap();
    assert_eq!(url, rtmp.publish_url(&stream_name));
    assert!(!shown.contains(&stream_name), "redacted for logs: {shown}");
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"])
        .args(["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30"])
        .args(["-c:a", "aac", "-t", "60", "-f", "flv"])
        .arg(&url)
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg");
    let list = wait_json(&app, &broadcasts, 40, |v| v[0]["state"] == "live").await;
    assert_eq!(list[0]["transition_failures"], 0);
    assert!(rtmp.publish_count() >= 1);
    assert_eq!(
        rtmp.rejected_count(),
        0,
        "the key YouTube gave was accepted"
    );
    let _ = ffmpeg.kill().await;
    close_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "complete").await;
    app.stop().await;
}

#[tokio::test]
async fn the_window_plays_the_program_to_youtube_and_the_broadcast_goes_live_on_its_video() {
    use vs_testrig::{CameraOptions, FakeCamera, RtmpEventKind};
    let camera = FakeCamera::start(
        CameraOptions::new("Pier")
            .size(320, 180)
            .fps(25)
            .pattern("ball")
            .overlay(false),
    )
    .await
    .unwrap();
    let (rtmp, fake, app, dest, _) = signed_in_over_nginx().await;
    // The program the timeline plays through sends to the YouTube destination.
    let r = app
        .post(
            "/api/programs",
            json!({"name": "Main", "width": 320, "height": 180, "fps": 25, "destination_ids": [dest]}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let timeline = show_timeline_of(&app, &camera.url()).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Marina", "privacy": "public"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The window opens: the scheduler plays the timeline (starting the program), the keeper
    // makes the broadcast; it goes live once YouTube's ingest receives the program.
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 90, |v| v[0]["state"] == "live").await;
    assert_eq!(list[0]["title"], "Marina");
    assert!(rtmp.publish_count() >= 1, "the program published");
    assert_eq!(rtmp.rejected_count(), 0, "with the key YouTube gave");
    let live = &fake.requests_to("/liveBroadcasts/transition")[0];
    assert_eq!(live.query["broadcastStatus"], "live");
    assert!(
        rtmp.events()
            .iter()
            .any(|e| e.kind == RtmpEventKind::Publish && e.at <= live.at),
        "live only after the ingest received data"
    );
    close_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 30, |v| v[0]["state"] == "complete").await;
    app.stop().await;
}

#[tokio::test]
async fn after_a_restart_the_open_window_keeps_its_broadcast_and_a_pending_sign_in_resumes() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Restart", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    let dir = app.stop_keep_dir().await;

    let app = app_in(&fake, dir).await;
    app.login_admin().await;
    fake.set_streams_active(true);
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "live").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the window's broadcast, not a new one"
    );
    assert_eq!(fake.broadcasts().len(), 1);

    // A sign-in left pending by a restart is polled again.
    let other = app
        .post(
            "/api/destinations",
            json!({"name": "Second", "platform": "youtube", "stream_key": "typed-key-2"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    fake.script_device([DevicePoll::Pending; 50]);
    let link = format!("/api/destinations/{other}/youtube");
    let r = app
        .post(
            &format!("{link}/sign-in"),
            json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let dir = app.stop_keep_dir().await;
    fake.script_device([]);
    let app = app_in(&fake, dir).await;
    app.login_admin().await;
    let v = wait_json(&app, &link, 20, |v| v["state"] == "linked").await;
    assert_eq!(v["message"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn a_broadcast_deleted_in_studio_is_given_up_and_the_window_gets_a_new_one() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Deleted", "privacy": "unlisted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    open_window(&app, &timeline).await;
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "waiting").await;
    fake.delete_broadcast(list[0]["broadcast_id"].as_str().unwrap());
    fake.set_streams_active(true);
    let list = wait_json(&app, &broadcasts, 20, |v| {
        v.as_array().unwrap().len() == 2 && v[0]["state"] == "live"
    })
    .await;
    assert_eq!(list[1]["state"], "failed");
    assert!(
        list[1]["message"]
            .as_str()
            .unwrap()
            .contains("gone from YouTube"),
        "{list}"
    );
    assert_eq!(fake.broadcasts().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_broadcast_whose_window_ended_while_the_appliance_was_off_is_completed_and_replaced() {
    let fake = FakeYoutube::start(CLIENT_ID, CLIENT_SECRET).await.unwrap();
    fake.set_streams_active(true);
    let app = app_for(&fake).await;
    let dest = youtube_destination(&app).await;
    sign_in(&app, &fake, dest).await;
    let timeline = show_timeline(&app).await;
    let r = app
        .put(
            &format!("/api/destinations/{dest}/youtube/settings/{timeline}"),
            json!({"title": "Daily", "privacy": "public"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A window open now, every day: from two minutes ago to two minutes ahead (UTC).
    let now = chrono::Utc::now();
    let end = (now + chrono::Duration::minutes(2))
        .format("%H:%M")
        .to_string();
    let start = (now - chrono::Duration::minutes(2))
        .format("%H:%M")
        .to_string();
    let r = app
        .put(
            &format!("/api/timelines/{timeline}/schedule"),
            json!({"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": start, "end": end, "tz": "UTC"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let broadcasts = format!("/api/destinations/{dest}/youtube/broadcasts");
    let list = wait_json(&app, &broadcasts, 20, |v| v[0]["state"] == "live").await;
    let window_end = chrono::DateTime::parse_from_rfc3339(list[0]["window_end"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(window_end > now && window_end <= now + chrono::Duration::minutes(3));
    let dir = app.stop_keep_dir().await;

    // As if the appliance had been off until the next day's window: its stored end is past.
    let db = vs_db::Db::open(&dir.path().join("vistterstream.db"))
        .await
        .unwrap();
    vs_db::sqlx::query("UPDATE youtube_broadcasts SET window_end = '2000-01-01T00:00:00Z'")
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    let app = app_in(&fake, dir).await;
    app.login_admin().await;
    let list = wait_json(&app, &broadcasts, 20, |v| {
        v.as_array().unwrap().len() == 2 && v[0]["state"] == "live"
    })
    .await;
    assert_eq!(list[1]["state"], "complete");
    let yt = fake.broadcasts();
    assert_eq!(yt[0]["status"]["lifeCycleStatus"], "complete");
    assert_eq!(yt[1]["status"]["lifeCycleStatus"], "live");
    app.stop().await;
}
