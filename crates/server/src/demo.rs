//! Demo mode: when no camera is configured, start simulated cameras (real RTSP servers from
//! the test rig, on 127.0.0.1) and add them, so a newcomer sees a working appliance without
//! hardware. On later starts the simulated cameras that are still configured are started again.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vs_base::Result;

use crate::services::cameras::{CameraInput, CameraService};
use crate::services::health::HealthService;
use crate::services::Infra;

const SETTING: &str = "demo_cameras";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DemoCamera {
    camera_id: i64,
    name: String,
    port: u16,
    pattern: String,
    audio: bool,
    /// The port of its simulated ONVIF PTZ service, for the PTZ demo camera.
    #[serde(default)]
    onvif_port: Option<u16>,
}

/// Length of the clip each simulated camera encodes at start and replays.
const DEMO_CLIP_SECONDS: u32 = 10;
/// How long the health check waits for the simulated cameras before it looks anyway.
const READY_WAIT: Duration = Duration::from_secs(60);

/// Credentials of the simulated ONVIF camera (those of the Sunba it imitates).
const SIM_USER: &str = "admin";
const SIM_PASSWORD: &str = "admin123";

/// Where the fake camera script is: the configured directory, `./testrig`, or the repository
/// the binary was built in.
fn find_script(configured: Option<&Path>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = configured {
        candidates.push(dir.to_path_buf());
    }
    candidates.push(PathBuf::from("testrig"));
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.ancestors().nth(3) {
            candidates.push(root.join("testrig"));
        }
    }
    candidates
        .into_iter()
        .map(|d| d.join("fake_camera.py"))
        .find(|p| p.is_file())
}

fn python() -> &'static str {
    // Debian's python3-gi is installed for the system interpreter, which may not be first on PATH.
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn free_port(preferred: u16) -> u16 {
    if std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return preferred;
    }
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(preferred)
}

/// Starts one simulated camera; the receiver says when it serves (or is dropped if it never
/// does). It encodes its clip first, a few seconds.
fn spawn_camera(
    script: &Path,
    cam: &DemoCamera,
) -> std::io::Result<(Child, tokio::sync::oneshot::Receiver<()>)> {
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .args(["--port", &cam.port.to_string(), "--path", "/live"])
        .args(["--name", &cam.name, "--pattern", &cam.pattern])
        .args(["--width", "1280", "--height", "720", "--fps", "25"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // A clip encoded once and served in a loop: a live-encoding fake camera takes a quarter of
    // a core (more on a Pi) from the program the demo is there to show. The sound stays live.
    cmd.args(["--replay", &DEMO_CLIP_SECONDS.to_string()]);
    if cam.audio {
        cmd.arg("--audio");
    }
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn()?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    if let Some(out) = child.stdout.take() {
        let mut lines = BufReader::new(out).lines();
        // Drains stdout to its end, so the child never blocks on a full pipe.
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            while let Ok(Some(l)) = lines.next_line().await {
                if l.to_ascii_lowercase().contains("ready") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let mut lines = BufReader::new(err).lines();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                tracing::debug!(target: "demo_camera", "{l}");
            }
        });
    }
    Ok((child, ready_rx))
}

/// Starts the demo, if asked and possible; the cameras stop with the appliance.
pub async fn start(
    infra: &Infra,
    cameras: &CameraService,
    health: &std::sync::Arc<HealthService>,
) -> Result<()> {
    let Some(script) = find_script(infra.config.testrig_dir.as_deref()) else {
        tracing::warn!("demo mode: testrig/fake_camera.py not found; no simulated cameras");
        return Ok(());
    };
    let mut demo: Vec<DemoCamera> = infra.db.setting(SETTING).await?.unwrap_or_default();
    let existing = infra.db.list_cameras().await?;
    demo.retain(|d| existing.iter().any(|c| c.id == d.camera_id));
    if existing.is_empty() {
        for (name, pattern, audio, port, ptz) in [
            ("Marina (simulated)", "smpte", true, 8554, false),
            ("Harbour gate (simulated)", "ball", false, 8555, false),
            ("Harbour PTZ (simulated)", "snow", false, 8556, true),
        ] {
            let port = free_port(port);
            let onvif_port = ptz.then(|| free_port(8899));
            let cam = cameras
                .create(
                    &CameraInput {
                        name: name.into(),
                        kind: if ptz { "PTZ" } else { "STATIC" }.into(),
                        protocol: "RTSP".into(),
                        address: format!("rtsp://127.0.0.1:{port}/live"),
                        username: ptz.then(|| SIM_USER.to_string()),
                        password: ptz.then(|| SIM_PASSWORD.to_string()),
                        onvif_host: ptz.then(|| "127.0.0.1".to_string()),
                        onvif_port: onvif_port.map(i64::from),
                        ..Default::default()
                    },
                    None,
                )
                .await?;
            demo.push(DemoCamera {
                camera_id: cam.id,
                name: name.trim_end_matches(" (simulated)").into(),
                port,
                pattern: pattern.into(),
                audio,
                onvif_port,
            });
        }
        tracing::info!("demo mode: added {} simulated cameras", demo.len());
    }
    infra.db.set_setting(SETTING, &demo).await?;
    if demo.is_empty() {
        return Ok(());
    }
    let mut sims = Vec::new();
    for port in demo.iter().filter_map(|d| d.onvif_port) {
        let opts = vs_onvif::sim::SimOptions {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            username: SIM_USER.into(),
            password: SIM_PASSWORD.into(),
            ..Default::default()
        };
        match vs_onvif::sim::SimCamera::start(opts).await {
            Ok(sim) => sims.push(sim),
            Err(e) => {
                tracing::warn!(port, error = %e, "demo mode: simulated ONVIF camera not started")
            }
        }
    }
    let mut children = Vec::new();
    let mut ready = Vec::new();
    for cam in &demo {
        match spawn_camera(&script, cam) {
            Ok((child, rx)) => {
                children.push(child);
                ready.push(rx);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "demo mode: cannot start a simulated camera (is GStreamer installed? run scripts/install-deps.sh run)"
            ),
        }
    }
    // The appliance serves meanwhile; the health check looks again as soon as every camera
    // serves (or after a bound, for a machine slow to encode the clips).
    let health = health.clone();
    infra.tasks.spawn(async move {
        let _ = tokio::time::timeout(READY_WAIT, futures::future::join_all(ready)).await;
        health.kick();
    });
    let shutdown = infra.shutdown.clone();
    infra.tasks.spawn(async move {
        shutdown.cancelled().await;
        for sim in sims {
            sim.shutdown().await;
        }
        for mut c in children {
            if let Some(pid) = c.id() {
                // The group we created for this child (it is not reaped yet, so the id is
                // still ours); gone already is fine.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if tokio::time::timeout(Duration::from_secs(3), c.wait())
                .await
                .is_err()
            {
                let _ = c.kill().await;
            }
        }
    });
    Ok(())
}
