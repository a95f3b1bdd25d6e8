//! A poor uplink for real: the receiver (FFmpeg as an RTMP server for one session) runs in a
//! network namespace made by this test, reached over a veth pair with private 10.213.x.0/30
//! addresses (the traffic never leaves this machine), and `tc` shapes the appliance's side to
//! 1.5 Mb/s while a 2.5 Mb/s program publishes. The destination is marked `congested` within
//! 10 s with the rate the link really takes, the program steps its video bitrate down, and the
//! receiver stays live on the same session.
//!
//! Needs root (`ip netns`, `tc`) and iproute2; a sandbox that refuses them fails this test with
//! the command's own error.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vs_base::StreamUrl;
use vs_engine::hub::{CameraHub, HubOptions, SourceConfig};
use vs_engine::publish::PublisherState;
use vs_engine::*;
use vs_testrig::{packet_times, probe_streams, CameraOptions, FakeCamera, StreamKind};

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "vs_engine=info,retina=warn".into()),
        )
        .with_test_writer()
        .try_init();
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2 (`ip`) is installed: scripts/install-deps.sh test");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with one veth link to this one: `host` (here) and `peer` (there).
struct Netns {
    name: String,
    host_if: String,
    host: String,
    peer: String,
}

impl Netns {
    fn create() -> Self {
        let n: u32 = rand::random::<u32>() % 60 + 1;
        let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let ns = Netns {
            name: format!("vsup{tag}"),
            host_if: format!("vsh{tag}"),
            host: format!("10.213.{}.1", n * 4 % 250),
            peer: format!("10.213.{}.2", n * 4 % 250),
        };
        let peer_if = format!("vsn{tag}");
        ip(&["netns", "add", &ns.name]);
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &ns.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", ns.host),
            "dev",
            &ns.host_if,
        ]);
        ip(&["link", "set", &ns.host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut a = vec!["netns", "exec", &ns.name, "ip"];
            a.extend_from_slice(args);
            ip(&a);
        };
        inside(&["addr", "add", &format!("{}/30", ns.peer), "dev", &peer_if]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// Shapes what this side sends (the appliance's uplink) to `kbit` per second.
    fn shape(&self, kbit: u32) {
        let out = std::process::Command::new("tc")
            .args(["qdisc", "replace", "dev", &self.host_if, "root", "tbf"])
            .args([
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "16kb",
                "latency",
                "300ms",
            ])
            .output()
            .expect("tc (iproute2)");
        assert!(
            out.status.success(),
            "tc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

async fn wait_status(
    rx: &mut tokio::sync::watch::Receiver<ProgramStatus>,
    timeout: Duration,
    what: &str,
    f: impl Fn(&ProgramStatus) -> bool,
) -> ProgramStatus {
    let deadline = Instant::now() + timeout;
    loop {
        {
            let s = rx.borrow();
            if f(&s) {
                return s.clone();
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            let s = rx.borrow();
            panic!(
                "{what}: not within {timeout:?}; bitrate {} kb/s, outputs {:#?}",
                s.video_bitrate_kbps, s.outputs
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shaped_uplink_is_congested_within_10_s_and_the_step_down_keeps_the_receiver_live() {
    init_tracing();
    let ns = Netns::create();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.flv");
    let key = format!("uplink-{:08x}", rand::random::<u32>());
    // FFmpeg as the RTMP server, inside the namespace: one session, recorded as it arrives.
    let mut receiver = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
        ])
        .args(["-loglevel", "error", "-listen", "1", "-i"])
        .arg(format!("rtmp://{}:1935/live2/{key}", ns.peer))
        .args(["-c", "copy", "-f", "flv"])
        .arg(&file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;

    let (w, h, fps) = (640, 360, 25);
    let cam = FakeCamera::start(
        CameraOptions::new("Uplink")
            .size(w, h)
            .fps(fps)
            .gop(2 * fps)
            .time_bars("grey")
            .busy(true)
            .overlay(false)
            .path("/uplink"),
    )
    .await
    .unwrap();
    let hub = CameraHub::new(
        HubOptions::default(),
        Deps::real(),
        CancellationToken::new(),
    );
    let parsed = StreamUrl::parse(&cam.url(), "url").unwrap();
    hub.configure(1, SourceConfig::new(parsed.url))
        .await
        .unwrap();
    assert!(
        hub.session(1)
            .unwrap()
            .wait_playing(Duration::from_secs(20))
            .await
    );

    let mut cfg = ProgramConfig::new("uplink", w, h, fps);
    cfg.video_bitrate_kbps = 2400;
    cfg.adaptive_bitrate = true;
    cfg.outputs.push(OutputSpec::new(
        1,
        "shaped",
        format!("rtmp://{}:1935/live2/{key}", ns.peer),
    ));
    let p = Program::start(cfg, Deps::real(), CancellationToken::new())
        .await
        .unwrap();
    p.take(SourceSpec::hub(&hub, 1, "Uplink")).await.unwrap();
    let mut rx = p.subscribe();
    fn uplink(s: &ProgramStatus) -> Option<&vs_engine::publish::PublisherStats> {
        s.outputs.first().and_then(|o| o.publisher.as_ref())
    }
    let publishing =
        |s: &ProgramStatus| uplink(s).is_some_and(|u| u.state == PublisherState::Publishing);
    // Unshaped, the link takes the whole program.
    let s = wait_status(
        &mut rx,
        Duration::from_secs(30),
        "publishing at full rate",
        |s| {
            publishing(s)
                && !s.slate_active
                && s.outputs[0]
                    .publisher
                    .as_ref()
                    .is_some_and(|u| u.input_bytes_per_sec * 8 > 2_000_000)
        },
    )
    .await;
    let u = s.outputs[0].publisher.clone().unwrap();
    eprintln!(
        "unshaped: input {:.2} Mb/s, sent {:.2} Mb/s",
        u.input_bytes_per_sec as f64 * 8e-6,
        u.send_bytes_per_sec as f64 * 8e-6
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let u = p.status().outputs[0].publisher.clone().unwrap();
    assert!(!u.congested, "{u:?}");

    // 1.5 Mb/s for a 2.5 Mb/s program.
    ns.shape(1500);
    let shaped_at = Instant::now();
    let s = wait_status(&mut rx, Duration::from_secs(12), "congested", |s| {
        uplink(s).is_some_and(|u| u.congested)
    })
    .await;
    let detected = shaped_at.elapsed();
    let c = s.outputs[0]
        .publisher
        .as_ref()
        .unwrap()
        .congestion
        .clone()
        .unwrap();
    eprintln!(
        "congested after {detected:?}: {} (measured {} b/s)",
        c.reason, c.measured_bps
    );
    assert!(
        detected <= Duration::from_secs(10),
        "congested after {detected:?}"
    );
    // The shaped link's 1.5 Mb/s, give or take what the socket buffer and the shaper's burst
    // let through in a window: 1.7 Mb/s was measured once under a full `make test` (the
    // stream's own rate is above 2 Mb/s, checked below).
    assert!(
        (900_000..1_850_000).contains(&c.measured_bps),
        "the measured rate is the shaped link's: {c:?}"
    );
    assert!(c.input_bps > 2_000_000, "{c:?}");
    assert!(c.reason.contains("Mb/s"), "{c:?}");

    // The program steps its video bitrate down to what fits.
    let s = wait_status(&mut rx, Duration::from_secs(15), "stepped down", |s| {
        s.video_bitrate_kbps < 2400
    })
    .await;
    let stepped_at = Instant::now();
    eprintln!(
        "stepped down to {} kb/s after {:?}: {:?}",
        s.video_bitrate_kbps,
        shaped_at.elapsed(),
        s.bitrate_note
    );
    // 80 % of ~1.4 Mb/s, less the audio.
    assert!(
        s.video_bitrate_kbps <= vs_engine::program::fitting_video_kbps(1_600_000, 128),
        "{}",
        s.video_bitrate_kbps
    );
    assert!(
        s.bitrate_note
            .as_deref()
            .is_some_and(|n| n.contains("stepped down")),
        "{s:?}"
    );
    // The receiver is live again on the same session: nothing waits, nothing is dropped.
    let s = wait_status(&mut rx, Duration::from_secs(25), "live again", |s| {
        uplink(s).is_some_and(|u| {
            u.state == PublisherState::Publishing && !u.congested && u.queue_ms < 500
        })
    })
    .await;
    let u = s.outputs[0].publisher.clone().unwrap();
    eprintln!(
        "live again {:?} after the step: sent {:.2} Mb/s, queue {} ms, lag {} ms",
        stepped_at.elapsed(),
        u.send_bytes_per_sec as f64 * 8e-6,
        u.queue_ms,
        u.lag_ms
    );
    let dropped_then = u.dropped_frames;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let u = p.status().outputs[0].publisher.clone().unwrap();
    assert_eq!(u.sessions, 1, "one session throughout: {u:?}");
    assert_eq!(
        u.dropped_frames, dropped_then,
        "nothing dropped once stepped down: {u:?}"
    );
    assert!(u.queue_ms < 1000 && u.lag_ms < 1000, "{u:?}");
    p.stop().await;
    hub.shutdown().await;
    let done = tokio::time::timeout(Duration::from_secs(10), receiver.wait()).await;
    assert!(done.is_ok(), "the receiver finished its one session");

    // What arrived: one recording, video continuous to the end.
    let info = probe_streams(&file).await.unwrap();
    assert_eq!(info.codec_names(), vec!["h264", "aac"], "{info:?}");
    let video = packet_times(&file, StreamKind::Video).await.unwrap();
    video.assert_monotonic();
    let times = video.times();
    let end = *times.last().unwrap();
    let tail: Vec<f64> = times.iter().copied().filter(|t| *t > end - 6.0).collect();
    let worst = tail.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    eprintln!(
        "received {:.1} s of video; largest gap in the last 6 s {worst:.3} s",
        video.span()
    );
    assert!(
        worst < 0.5,
        "the receiver's last seconds are continuous: gap {worst}"
    );
}
