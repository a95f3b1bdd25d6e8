//! Demo mode: with no camera configured, simulated cameras (real RTSP servers and a simulated
//! ONVIF PTZ camera) are added and come online; on a restart they are started again.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn testrig() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testrig")
}

#[tokio::test]
async fn demo_cameras_come_online_and_the_ptz_one_moves() {
    let app = TestApp::spawn_with(|c| {
        c.demo = true;
        c.testrig_dir = Some(testrig());
    })
    .await;
    app.setup_admin().await;
    let cams: Value = app.get("/api/cameras").await.json().await.unwrap();
    let cams = cams.as_array().unwrap().clone();
    assert_eq!(cams.len(), 3, "{cams:?}");
    let start = Instant::now();
    loop {
        let h: Value = app.get("/api/cameras/health").await.json().await.unwrap();
        if h.as_array().unwrap().iter().all(|c| c["state"] == "online") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "demo cameras not online: {h}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ptz = cams
        .iter()
        .find(|c| c["type"] == "PTZ")
        .expect("a PTZ demo camera");
    let r = app.get(&format!("/api/cameras/{}/ptz", ptz["id"])).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    app.stop().await;
}
