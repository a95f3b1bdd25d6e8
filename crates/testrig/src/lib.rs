//! Test rig: real components on 127.0.0.1 that stand in for the outside world in tests.
//!
//! - [`FakeCamera`]: an RTSP camera (GStreamer RTSP server, `testrig/fake_camera.py`) serving
//!   an H.264 test pattern with the camera's name and a running timecode burned in, optional
//!   AAC audio and optional RTSP authentication; it can be stopped and restarted on the same
//!   port to simulate an outage.
//! - [`RtmpServer`]: a fake YouTube ingest (nginx + `libnginx-mod-rtmp`, application `live2`)
//!   that records every publish session to its own FLV file and logs publish events.
//! - [`MqttBroker`]: a studio's MQTT broker (Mosquitto) with TLS from a CA made by the test,
//!   users, an ACL file and persistence; it can be restarted on the same port.
//! - [`probe`]: `ffprobe` helpers to check what arrived (codecs, size, audio, timestamps).
//! - [`FakeYoutube`]: the OAuth device flow and the YouTube Data API v3 calls of appliance-made
//!   broadcasts, over real HTTP, with scriptable errors; it records every request.
//! - [`procs`]: lists processes by command line, to assert that no orphan FFmpeg remains.
//!
//! Missing system tools are a test *failure* with a pointer to `scripts/install-deps.sh`,
//! never a silent skip: see [`require`].

mod camera;
mod child;
mod mqtt;
pub mod probe;
pub mod procs;
mod rtmp;
pub mod youtube;

pub use camera::{
    ms_between, read_time_bars, smpte_bar_luma, wall_clock_ms, AuthMethod, CameraOptions,
    FakeCamera,
};
pub use mqtt::{
    mqtt5_publish_and_subscribe, Mqtt5Probe, MqttBroker, MqttMessage, MqttOptions, StudioClient,
};
pub use probe::{
    frame_count, packet_count, packet_times, packet_times_live, probe_streams, Gap, Packet,
    PacketTimes, ProbedStream, StreamInfo, StreamKind,
};
pub use procs::{
    descendants_of, ffmpeg_processes, processes_with_marker, wait_no_processes_with_marker,
    ProcInfo,
};
pub use rtmp::{RtmpEvent, RtmpEventKind, RtmpOptions, RtmpServer};
pub use youtube::{DevicePoll, FakeYoutube};

use std::path::{Path, PathBuf};

/// The hint printed whenever something the rig needs is not installed.
pub const INSTALL_HINT: &str = "run `sudo scripts/install-deps.sh` from the repository root";

/// Root of the repository (the workspace), found from this crate's manifest directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testrig sits two levels below the repository root")
        .to_path_buf()
}

/// Directory holding the rig's non-Rust parts (`fake_camera.py`, the nginx template).
pub fn testrig_dir() -> PathBuf {
    repo_root().join("testrig")
}

/// Finds `tool` on `PATH` (plus `/usr/sbin` and `/sbin`, where nginx lives, which a non-root
/// `PATH` often lacks), or an absolute path that exists.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let candidate = Path::new(tool);
    if candidate.is_absolute() {
        return is_executable(candidate).then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Returns the path of `tool`, or FAILS the test (panics) saying how to install it.
///
/// The rig's tests must not pass by skipping: a machine without FFmpeg or nginx cannot tell
/// us anything about the streaming engine.
#[track_caller]
pub fn require(tool: &str) -> PathBuf {
    match find_tool(tool) {
        Some(p) => p,
        None => panic!("required tool `{tool}` is not installed (not on PATH): {INSTALL_HINT}"),
    }
}

/// [`require`] for several tools at once.
#[track_caller]
pub fn require_all(tools: &[&str]) {
    for t in tools {
        require(t);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
///
/// Racy by nature: prefer letting the component bind port 0 itself when it can (the fake
/// camera and the RTMP server do, or retry on a collision).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Waits until a TCP connection to `127.0.0.1:port` succeeds.
pub async fn wait_tcp(port: u16, timeout: std::time::Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!("127.0.0.1:{port} does not accept connections after {timeout:?}: {e}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// Whether a TCP connection to `127.0.0.1:port` is refused right now.
pub async fn tcp_refused(port: u16) -> bool {
    matches!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// Publishes `seconds` of a 640x360 30 fps test pattern (H.264) with a 440 Hz tone (AAC) to
/// `url` (e.g. [`RtmpServer::publish_url`]) in real time, like an encoder would; returns
/// ffmpeg's output once it exits. Fails when ffmpeg does.
pub async fn publish_test_pattern(url: &str, seconds: f64) -> anyhow::Result<std::process::Output> {
    use anyhow::Context;
    let ffmpeg = require("ffmpeg");
    let t = seconds.to_string();
    let mut cmd = tokio::process::Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=640x360:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &t, "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000"])
        .args(["-f", "flv", url])
        .kill_on_drop(true);
    child::die_with_parent(&mut cmd);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs_f64(seconds + 30.0),
        cmd.output(),
    )
    .await
    .context("ffmpeg publish timed out")?
    .context("run ffmpeg")?;
    if !out.status.success() {
        anyhow::bail!(
            "ffmpeg publish to {url} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "scripts/install-deps.sh")]
    fn a_missing_tool_fails_with_the_install_hint() {
        require("vs-no-such-tool-anywhere");
    }

    #[test]
    fn tools_are_found_outside_path_in_sbin() {
        assert!(require("ffmpeg").is_absolute());
        assert_eq!(find_tool("/definitely/not/here"), None);
        assert!(testrig_dir().join("fake_camera.py").is_file());
    }

    #[tokio::test]
    async fn a_free_port_refuses_connections() {
        assert!(tcp_refused(free_port()).await);
    }
}
