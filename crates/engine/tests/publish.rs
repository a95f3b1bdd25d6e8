//! The key-safe publisher end to end: real FFmpeg encoders as sources, real nginx-rtmp as the
//! receiver (recording what arrived, refusing wrong keys), a real TLS server in front of it
//! for RTMPS, a real SRT listener (FFmpeg) that requires a passphrase, a fake camera whose
//! pictures carry their capture time, and a slow receiver for the queue and drop rules.
//!
//! The tests share two CPU cores with their encoders, so they run one at a time (`serial()`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vs_base::StreamUrl;
use vs_engine::hub::{
    CameraHub, ConsumerKind, HubOptions, Packet, SourceConfig, StreamInfo, StreamKind as HubKind,
    VideoInfo,
};
use vs_engine::publish::*;
use vs_engine::{BackoffPolicy, Deps};
use vs_testrig::{
    ms_between, packet_times, probe_streams, read_time_bars, wall_clock_ms, CameraOptions,
    FakeCamera, RtmpOptions, RtmpServer, StreamKind,
};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "vs_engine=info".into()))
        .with_test_writer()
        .try_init();
}

/// A unique stream key per test, long enough that finding it anywhere means a leak.
fn key(tag: &str) -> String {
    format!(
        "key-{tag}-{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

/// A live encoder (test pattern and tone, real time) writing MPEG-TS to its stdout: what the
/// program encoder gives its destinations.
fn ts_encoder(seconds: u32, gop: u32, kbps: u32) -> Child {
    Command::new(vs_testrig::require("ffmpeg"))
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string(), "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            &gop.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            &format!("{kbps}k"),
        ])
        .args(["-c:a", "aac", "-b:a", "96k", "-ar", "48000"])
        .args(["-f", "mpegts", "-flush_packets", "1", "pipe:1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg encoder")
}

/// The encoder's TS in chunks of whole packets, as the program fan-out queues them.
fn ts_chunks(mut child: Child) -> tokio::sync::mpsc::Receiver<Bytes> {
    let (tx, rx) = tokio::sync::mpsc::channel(512);
    let mut out = child.stdout.take().unwrap();
    tokio::spawn(async move {
        let _child = child;
        let mut buf = vec![0u8; 188 * 64];
        let mut pending = Vec::new();
        while let Ok(n) = out.read(&mut buf).await {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let whole = pending.len() / 188 * 188;
            let chunk = Bytes::copy_from_slice(&pending[..whole]);
            pending.drain(..whole);
            if tx.try_send(chunk).is_err() && tx.is_closed() {
                break;
            }
        }
    });
    rx
}

fn target(rtmp: &RtmpServer, key: &str) -> PublishTarget {
    PublishTarget::parse(&rtmp.publish_url(key), true).unwrap()
}

fn config(name: &str) -> PublisherConfig {
    PublisherConfig {
        name: name.into(),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(300),
            max: Duration::from_secs(1),
            ..BackoffPolicy::default()
        },
        ..PublisherConfig::default()
    }
}

/// Every process's command line and environment that contains `needle` (this process
/// included: its environment and arguments must not hold it either).
fn processes_holding(needle: &str, except: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if except.contains(&pid) {
            continue;
        }
        for what in ["cmdline", "environ"] {
            if let Ok(raw) = std::fs::read(format!("/proc/{pid}/{what}")) {
                if raw.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(format!("pid {pid} {what}"));
                }
            }
        }
    }
    found
}

async fn wait_stats(
    rx: &mut tokio::sync::watch::Receiver<PublisherStats>,
    timeout: Duration,
    f: impl Fn(&PublisherStats) -> bool,
) -> PublisherStats {
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
            panic!("stats never matched: {:?}", rx.borrow());
        }
    }
}

/// The program's TS is published from this process: the recording has H.264 and AAC with
/// monotonic timestamps, and while it runs no process on the machine has the stream key on
/// its command line or in its environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_the_program_ts_with_the_key_in_memory_only() {
    let _serial = serial().await;
    init_tracing();
    let key = key("ts");
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec![key.clone()]),
        ..RtmpOptions::default()
    })
    .await
    .unwrap();
    let publisher = Publisher::start(target(&rtmp, &key), config("ts"), CancellationToken::new());
    let mut stats = publisher.stats();
    let feed = tokio::spawn(feed_ts(
        ts_chunks(ts_encoder(30, 50, 800)),
        publisher.input(),
    ));
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    wait_stats(&mut stats, Duration::from_secs(30), |s| s.sent_frames > 500).await;

    let leaks = processes_holding(&key, &[]);
    assert!(
        leaks.is_empty(),
        "the stream key is visible in /proc: {leaks:?}"
    );
    let ffmpegs = vs_testrig::ffmpeg_processes();
    assert!(!ffmpegs.is_empty(), "the encoder runs (the scan saw it)");

    let s = stats.borrow().clone();
    assert_eq!(s.state, PublisherState::Publishing, "{s:?}");
    assert_eq!(s.sessions, 1);
    assert!(s.send_bytes_per_sec > 50_000, "{s:?}");
    assert!(!s.congested, "{s:?}");
    publisher.stop().await;
    feed.abort();
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();

    let rec = rtmp.recordings_for(&key);
    assert_eq!(rec.len(), 1, "{rec:?}");
    let info = probe_streams(&rec[0]).await.unwrap();
    assert_eq!(info.video_codec(), Some("h264"), "{info:?}");
    assert_eq!(info.audio_codec(), Some("aac"), "{info:?}");
    assert_eq!((info.width(), info.height()), (Some(320), Some(180)));
    let video = packet_times(&rec[0], StreamKind::Video).await.unwrap();
    video.assert_monotonic();
    assert!(video.len() > 150, "{} video packets", video.len());
    assert!(
        video.keyframe_times().first().is_some_and(|t| *t < 0.1),
        "starts on a keyframe at 0"
    );
    let audio = packet_times(&rec[0], StreamKind::Audio).await.unwrap();
    audio.assert_monotonic();
    assert!(audio.len() > 200, "{} audio packets", audio.len());
}

/// A wrong key is refused in plain words, without the key; the right one publishes the test
/// pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_destination_reports_a_refused_key_in_words() {
    let _serial = serial().await;
    init_tracing();
    let good = key("good");
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec![good.clone()]),
        ..RtmpOptions::default()
    })
    .await
    .unwrap();
    let opts = TestPublishOptions {
        duration: Duration::from_secs(3),
        ffmpeg: vs_testrig::require("ffmpeg"),
        ..TestPublishOptions::default()
    };
    let wrong = key("wrong");
    let e = test_publish(&target(&rtmp, &wrong), &opts)
        .await
        .unwrap_err();
    assert_eq!(e.kind, PublishErrorKind::Refused, "{e:?}");
    assert!(e.message.contains("refused"), "{e}");
    assert!(
        !e.message.contains(&wrong),
        "the key is not in the error: {e}"
    );
    assert_eq!(rtmp.rejected_count(), 1);

    let report = test_publish(&target(&rtmp, &good), &opts).await.unwrap();
    assert!(report.frames_sent > 60, "{report:?}");
    assert!(report.published_ms >= 3000, "{report:?}");
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let rec = rtmp.recordings_for(&good);
    let info = probe_streams(&rec[0]).await.unwrap();
    assert_eq!(info.codec_names(), vec!["h264", "aac"], "{info:?}");

    // Nothing listens: unreachable, in words.
    let closed = vs_testrig::free_port();
    let t = PublishTarget::parse(&format!("rtmp://127.0.0.1:{closed}/live2/{good}"), true).unwrap();
    let e = test_publish(&t, &opts).await.unwrap_err();
    assert_eq!(e.kind, PublishErrorKind::Unreachable, "{e:?}");
    assert!(e.message.contains("refused the connection"), "{e}");
    // A wrong application.
    let t = PublishTarget::parse(
        &format!("rtmp://127.0.0.1:{}/nope/{good}", rtmp.port()),
        true,
    )
    .unwrap();
    let e = test_publish(&t, &opts).await.unwrap_err();
    assert!(
        matches!(
            e.kind,
            PublishErrorKind::ConnectRejected | PublishErrorKind::Refused
        ),
        "{e:?}"
    );
    assert!(!e.message.contains(&good), "{e}");
}

/// A TLS terminator in front of nginx: RTMPS with a self-signed certificate made by
/// `openssl` for this test.
struct TlsFront {
    port: u16,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_front(backend: u16) -> TlsFront {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = (dir.path().join("crt.pem"), dir.path().join("key.pem"));
    let out = Command::new(vs_testrig::require("openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&crt)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let pk = PrivateKeyDer::from_pem_file(&key).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, pk)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Ok(mut back) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut back).await;
            });
        }
    });
    TlsFront {
        port,
        task,
        _dir: dir,
    }
}

/// RTMPS verifies the server's certificate by default: a self-signed one fails with a TLS
/// error in words; with verification off for this destination it publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmps_verifies_the_certificate_unless_the_destination_says_not_to() {
    let _serial = serial().await;
    init_tracing();
    let key = key("tls");
    let rtmp = RtmpServer::start().await.unwrap();
    let front = tls_front(rtmp.port()).await;
    let url = format!("rtmps://127.0.0.1:{}/live2/{key}", front.port);
    let opts = TestPublishOptions {
        duration: Duration::from_secs(2),
        ffmpeg: vs_testrig::require("ffmpeg"),
        ..TestPublishOptions::default()
    };
    let e = test_publish(&PublishTarget::parse(&url, true).unwrap(), &opts)
        .await
        .unwrap_err();
    assert_eq!(e.kind, PublishErrorKind::Tls, "{e:?}");
    assert!(e.message.contains("certificate"), "{e}");
    assert!(!e.message.contains(&key), "{e}");
    assert_eq!(rtmp.publish_count(), 0);

    let report = test_publish(&PublishTarget::parse(&url, false).unwrap(), &opts)
        .await
        .unwrap();
    assert!(report.frames_sent > 30, "{report:?}");
    rtmp.wait_for_publish_done(1, Duration::from_secs(10))
        .await
        .unwrap();
    let rec = rtmp.recordings_for(&key);
    let info = probe_streams(&rec[0]).await.unwrap();
    assert_eq!(info.codec_names(), vec!["h264", "aac"], "{info:?}");
}

/// Watches a growing FLV recording: for each video frame (not the sequence header), when it
/// was seen on disk (wall clock, ms) and its timestamp.
#[derive(Default)]
struct Arrivals {
    by_file: std::collections::BTreeMap<PathBuf, Vec<(u32, u32)>>,
}

fn watch_recordings(
    rtmp_dir: PathBuf,
    key: String,
    stop: CancellationToken,
) -> Arc<Mutex<Arrivals>> {
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let out = arrivals.clone();
    tokio::spawn(async move {
        let mut offsets: std::collections::HashMap<PathBuf, u64> = Default::default();
        while !stop.is_cancelled() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&rtmp_dir)
                .map(|rd| rd.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.retain(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&key))
            });
            files.sort();
            for f in files {
                let Ok(data) = std::fs::read(&f) else {
                    continue;
                };
                let now = wall_clock_ms();
                let off = offsets.entry(f.clone()).or_insert(13);
                let mut pos = *off as usize;
                while pos + 11 <= data.len() {
                    let size = u32::from_be_bytes([0, data[pos + 1], data[pos + 2], data[pos + 3]])
                        as usize;
                    if pos + 11 + size + 4 > data.len() {
                        break;
                    }
                    let ts = u32::from_be_bytes([
                        data[pos + 7],
                        data[pos + 4],
                        data[pos + 5],
                        data[pos + 6],
                    ]);
                    if data[pos] == 9 && size > 2 && data[pos + 12] == 1 {
                        out.lock()
                            .unwrap()
                            .by_file
                            .entry(f.clone())
                            .or_default()
                            .push((now, ts));
                    }
                    pos += 11 + size + 4;
                }
                *off = pos as u64;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    arrivals
}

/// Capture time (ms, from the time bars) of every video frame of a recording, in order.
async fn capture_times(file: &Path, w: usize, h: usize) -> Vec<Option<u32>> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(w * h)
        .map(|f| read_time_bars(f, w, h))
        .collect()
}

/// A camera (through the hub, as a copy stream reads it) published to nginx; nginx goes away
/// for 12 s and comes back. The publisher reconnects by itself and the new session starts at
/// the newest keyframe: every frame the receiver gets is at most one GOP behind live (its
/// capture time against the receiver's clock), and soon after the start it is live; the
/// timestamps of the new session continue those of the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_12_s_outage_the_receiver_is_within_one_gop_of_live() {
    let _serial = serial().await;
    init_tracing();
    const GOP_MS: i64 = 2000;
    let (w, h, fps) = (320usize, 180usize, 25u32);
    let cam = FakeCamera::start(
        CameraOptions::new("Outage")
            .size(w as u32, h as u32)
            .fps(fps)
            .gop(2 * fps)
            .audio(false)
            .time_bars("grey")
            .overlay(false)
            .path("/outage"),
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
    let session = hub.session(1).unwrap();
    assert!(session.wait_playing(Duration::from_secs(20)).await);

    let key = key("outage");
    let mut rtmp = RtmpServer::start().await.unwrap();
    let stop_watch = CancellationToken::new();
    let arrivals = watch_recordings(rtmp.recordings_dir(), key.clone(), stop_watch.clone());
    let publisher = Publisher::start(
        target(&rtmp, &key),
        config("outage"),
        CancellationToken::new(),
    );
    let sub = session.subscribe(ConsumerKind::Copy).await.unwrap();
    let feed = tokio::spawn(feed_hub(sub, publisher.input(), true));
    rtmp.wait_for_publishes(1, Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;

    rtmp.stop().await.unwrap();
    let down_at = wall_clock_ms();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut stats = publisher.stats();
    let during = stats.borrow().clone();
    assert_ne!(during.state, PublisherState::Publishing, "{during:?}");
    assert!(
        during.queue_ms <= GOP_MS as u64 + 100,
        "at most one GOP waits: {during:?}"
    );
    assert!(during.last_error.is_some());
    // Whether nginx reported the first session's end while stopping is its business.
    let done_before = rtmp.publish_done_count();
    rtmp.restart().await.unwrap();
    let up_at = wall_clock_ms();
    rtmp.wait_for_publishes(2, Duration::from_secs(10))
        .await
        .unwrap();
    let s = wait_stats(&mut stats, Duration::from_secs(10), |s| s.sessions == 2).await;
    assert!(
        s.dropped_frames > 250,
        "the outage's frames were dropped, not queued: {s:?}"
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    publisher.stop().await;
    feed.abort();
    rtmp.wait_for_publish_done(done_before + 1, Duration::from_secs(10))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_watch.cancel();

    let rec = rtmp.recordings_for(&key);
    assert_eq!(rec.len(), 2, "{rec:?}");
    let by_file = arrivals.lock().unwrap().by_file.clone();
    // Lags (arrival at the receiver minus capture) of a session's frames, with the arrival
    // relative to the session's first frame.
    let mut lags = Vec::new();
    for file in &rec {
        let seen = by_file.get(file).cloned().unwrap_or_default();
        let captured = capture_times(file, w, h).await;
        assert!(
            seen.len() > 100,
            "{} frames seen arriving in {file:?}",
            seen.len()
        );
        assert_eq!(
            seen.len(),
            captured.len(),
            "every recorded frame was decoded"
        );
        let first = seen[0].0;
        lags.push(
            seen.iter()
                .zip(&captured)
                .map(|((arrived, _), cap)| {
                    let cap = cap.expect("time bars readable");
                    (ms_between(*arrived, first), ms_between(*arrived, cap), cap)
                })
                .collect::<Vec<_>>(),
        );
    }
    // The receiver's usual distance to the camera (camera, hub, publisher, nginx, disk):
    // the median lag of the first session once it runs.
    let mut steady: Vec<i64> = lags[0].iter().filter(|l| l.0 > 2000).map(|l| l.1).collect();
    steady.sort_unstable();
    let baseline = steady[steady.len() / 2];
    let after = &lags[1];
    let first_arrival = by_file[&rec[1]][0].0;
    assert!(
        ms_between(first_arrival, up_at) < 3000,
        "the publisher reconnected by itself soon after the server came back"
    );
    for (_, _, cap) in after {
        assert!(
            ms_between(*cap, down_at) > 0,
            "no frame captured before the outage reached the receiver: {cap} vs {down_at}"
        );
    }
    let worst = after.iter().map(|l| l.1).max().unwrap();
    let worst_late = after
        .iter()
        .filter(|l| l.0 > 2000)
        .map(|l| l.1)
        .max()
        .unwrap();
    eprintln!(
        "outage lag: baseline {baseline} ms; after the reconnect first frame {} ms, worst {worst} ms, \
         worst from 2 s on {worst_late} ms (GOP {GOP_MS} ms)",
        after[0].1
    );
    assert!(
        worst - baseline <= GOP_MS,
        "a received frame was {} ms behind live (GOP {GOP_MS} ms)",
        worst - baseline
    );
    assert!(
        worst_late - baseline <= 300,
        "2 s after the reconnect the receiver is live again: {worst_late} ms"
    );

    // Each session is a clean recording that starts on a keyframe. (nginx rebases every
    // recording to 0, so the continuity of our timestamps across the reconnect is not
    // visible here: `publish::mux`'s unit tests check it.)
    for file in &rec {
        // The camera has no audio: silent AAC made in process goes beside its video.
        let info = probe_streams(file).await.unwrap();
        assert_eq!(info.codec_names(), vec!["h264", "aac"], "{info:?}");
        let v = packet_times(file, StreamKind::Video).await.unwrap();
        v.assert_monotonic();
        assert!(
            v.keyframe_times().first().is_some_and(|t| *t < 0.1),
            "{file:?} starts on a keyframe"
        );
    }
    hub.shutdown().await;
}

/// A receiver that completes the RTMP publish and then reads slowly: `rate` bytes per second
/// through a small receive buffer. Returns the video frames it got (first byte of the FLV
/// body: 0x17 keyframe / 0x27 other; then our test frame number) as they arrive.
async fn slow_receiver(rate: usize) -> (u16, Arc<Mutex<Vec<(bool, u32)>>>) {
    use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
    use rml_rtmp::sessions::{
        ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
    };
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4).unwrap();
    let port = listener.local_addr().unwrap().port();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let out = frames.clone();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut hs = Handshake::new(PeerType::Server);
        let mut buf = vec![0u8; 4096];
        let rest = loop {
            let n = sock.read(&mut buf).await.unwrap();
            match hs.process_bytes(&buf[..n]).unwrap() {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    sock.write_all(&response_bytes).await.unwrap()
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    sock.write_all(&response_bytes).await.unwrap();
                    break remaining_bytes;
                }
            }
        };
        let (mut session, first) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        let mut pending: Vec<ServerSessionResult> = first;
        pending.extend(session.handle_input(&rest).unwrap());
        let started = Instant::now();
        let mut total = 0usize;
        loop {
            while let Some(r) = (!pending.is_empty()).then(|| pending.remove(0)) {
                match r {
                    ServerSessionResult::OutboundResponse(p) => {
                        sock.write_all(&p.bytes).await.unwrap()
                    }
                    ServerSessionResult::RaisedEvent(ev) => match ev {
                        ServerSessionEvent::ConnectionRequested { request_id, .. }
                        | ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                            pending.extend(session.accept_request(request_id).unwrap());
                        }
                        ServerSessionEvent::VideoDataReceived { data, .. }
                            if data.len() >= 13 && data[1] == 1 =>
                        {
                            // FLV video header (5 bytes), the NAL's length (4), our number.
                            let n = u32::from_be_bytes([data[9], data[10], data[11], data[12]]);
                            out.lock().unwrap().push((data[0] == 0x17, n));
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            // Read no faster than `rate`.
            let due = started + Duration::from_secs_f64(total as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            let Ok(n) = sock.read(&mut buf[..1024]).await else {
                return;
            };
            if n == 0 {
                return;
            }
            total += n;
            match session.handle_input(&buf[..n]) {
                Ok(r) => pending.extend(r),
                Err(_) => return,
            }
        }
    });
    (port, frames)
}

/// Synthetic frames (30 fps, 10 kB each = 2.4 Mb/s, a keyframe every 30): the frame number
/// in the first NAL's bytes so the receiver can tell what it got.
fn synthetic(n: u32, info: &Arc<StreamInfo>) -> MediaFrame {
    let mut data = vec![0u8; 10_000];
    data[..4].copy_from_slice(&(9_996u32).to_be_bytes());
    data[4..8].copy_from_slice(&n.to_be_bytes());
    MediaFrame {
        packet: Packet {
            stream: HubKind::Video,
            pts: i64::from(n) * 3000,
            dts: i64::from(n) * 3000,
            keyframe: n.is_multiple_of(30),
            data: Bytes::from(data),
        },
        info: info.clone(),
        arrival: Instant::now(),
    }
}

/// An uplink that takes 100 kB/s of a 300 kB/s stream: pushes never wait, the queue stays
/// within its bound, frames are dropped up to keyframes (the receiver only ever resumes on a
/// keyframe), and the destination is marked congested with the measured rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_uplink_drops_to_keyframes_and_is_marked_congested() {
    let _serial = serial().await;
    init_tracing();
    let (port, received) = slow_receiver(100_000).await;
    let t = PublishTarget::parse(&format!("rtmp://127.0.0.1:{port}/live2/slow-key"), true).unwrap();
    let mut cfg = config("slow");
    cfg.queue = QueueLimits {
        max_ms: 1000,
        max_bytes: 4 << 20,
    };
    cfg.connect.send_buffer = 16 * 1024;
    cfg.congestion = CongestionPolicy {
        after: Duration::from_secs(2),
        ..CongestionPolicy::default()
    };
    let publisher = Publisher::start(t, cfg, CancellationToken::new());
    let input = publisher.input();
    let mut stats = publisher.stats();
    let info = Arc::new(StreamInfo {
        video: VideoInfo::from_parameter_sets(
            Bytes::from_static(&[
                0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03,
                0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2e, 0x48,
            ]),
            Bytes::from_static(&[0x68, 0xcb, 0x83, 0xcb, 0x20]),
        )
        .unwrap(),
        audio: None,
    });
    let start = Instant::now();
    let mut worst_push = Duration::ZERO;
    let mut worst_queue = 0;
    let mut congested = None;
    for n in 0..(30 * 12) {
        tokio::time::sleep_until(start + Duration::from_millis(u64::from(n) * 1000 / 30)).await;
        let t = Instant::now();
        assert!(input.push(synthetic(n, &info)));
        worst_push = worst_push.max(t.elapsed());
        let s = stats.borrow().clone();
        worst_queue = worst_queue.max(s.queue_ms);
        if s.congested && congested.is_none() {
            congested = Some((start.elapsed(), s));
        }
    }
    let s = wait_stats(&mut stats, Duration::from_secs(3), |s| s.congested).await;
    publisher.stop().await;
    assert!(
        worst_push < Duration::from_millis(5),
        "a push waited {worst_push:?}"
    );
    assert!(
        worst_queue <= 1000,
        "the queue stayed within its bound: {worst_queue} ms"
    );
    assert!(s.dropped_frames > 100, "{s:?}");
    let (when, c) = congested.expect("marked congested while the stream ran");
    assert!(when < Duration::from_secs(8), "congested after {when:?}");
    let c = c.congestion.unwrap();
    eprintln!("congestion: {} after {when:?}", c.reason);
    assert!(
        (400_000..1_400_000).contains(&c.measured_bps),
        "the measured rate is the uplink's ~0.8 Mb/s: {c:?}"
    );
    assert!(c.input_bps > 2_000_000, "{c:?}");
    // The receiver got whole GOP starts: after any gap, the next frame is a keyframe.
    let got = received.lock().unwrap().clone();
    assert!(got.len() > 30, "{} frames received", got.len());
    assert!(got[0].0, "starts on a keyframe");
    for w in got.windows(2) {
        let ((_, a), (key, b)) = (w[0], w[1]);
        assert!(b > a, "frames in order: {a} then {b}");
        if b != a + 1 {
            assert!(
                key,
                "after a gap ({a} → {b}) the receiver resumes on a keyframe"
            );
        }
    }
    assert!(
        got.windows(2).any(|w| w[1].1 != w[0].1 + 1),
        "frames were skipped"
    );
}

/// SRT: the program's TS goes through an FFmpeg whose command line and environment hold
/// neither the passphrase nor the stream id, to a listener that requires the passphrase; a
/// wrong passphrase is reported in words without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_egress_keeps_its_passphrase_off_the_command_line() {
    let _serial = serial().await;
    init_tracing();
    let pass = format!("pass{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let sid = key("sid");
    let port = vs_testrig::free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got.ts");
    let mut listener = Command::new(vs_testrig::require("ffmpeg"))
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=listener&passphrase={pass}"
        ))
        .args(["-c", "copy", "-t", "6", "-f", "mpegts"])
        .arg(&out)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let listener_pid = listener.id().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = PublishTarget::parse(
        &format!("srt://127.0.0.1:{port}?latency=200000&streamid={sid}&passphrase={pass}"),
        true,
    )
    .unwrap();
    let egress = SrtEgress::start(
        &t,
        "srt test",
        &vs_testrig::require("ffmpeg"),
        ts_chunks(ts_encoder(20, 50, 600)),
        Deps::real(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for secret in [&pass, &sid] {
        let leaks = processes_holding(secret, &[listener_pid]);
        assert!(
            leaks.is_empty(),
            "an SRT secret is visible in /proc: {leaks:?}"
        );
    }
    let done = tokio::time::timeout(Duration::from_secs(20), listener.wait()).await;
    egress.stop().await;
    assert!(done.is_ok(), "the listener got its 6 s");
    let info = probe_streams(&out).await.unwrap();
    assert_eq!(info.codec_names(), vec!["h264", "aac"], "{info:?}");

    // A listener with another passphrase refuses the test destination.
    let port = vs_testrig::free_port();
    let _other = Command::new(vs_testrig::require("ffmpeg"))
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=listener&passphrase=another-one-123"
        ))
        .args(["-c", "copy", "-f", "null", "-"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t =
        PublishTarget::parse(&format!("srt://127.0.0.1:{port}?passphrase={pass}"), true).unwrap();
    let opts = TestPublishOptions {
        duration: Duration::from_secs(4),
        ffmpeg: vs_testrig::require("ffmpeg"),
        ..TestPublishOptions::default()
    };
    let e = test_publish(&t, &opts).await.unwrap_err();
    assert_eq!(e.kind, PublishErrorKind::Refused, "{e:?}");
    assert!(e.message.contains("passphrase"), "{e}");
    assert!(!e.message.contains(&pass), "{e}");
}

/// CPU of publishing 2.5 Mb/s from this process against an FFmpeg egress (`-c copy -f flv`)
/// of the same TS, both paced in real time for 20 s. Prints the figures. Run with
/// `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn cpu_of_publishing_against_ffmpeg_egress() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.ts");
    let st = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "20",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "2400k",
            "-maxrate",
            "2400k",
            "-bufsize",
            "2400k",
            "-g",
            "60",
        ])
        .args(["-c:a", "aac", "-b:a", "128k", "-f", "mpegts"])
        .arg(&file)
        .status()
        .await
        .unwrap();
    assert!(st.success());
    let data = Bytes::from(std::fs::read(&file).unwrap());
    let rate = data.len() as f64 / 20.0;
    eprintln!("input: {:.2} Mb/s", rate * 8.0 / 1e6);
    let rtmp = RtmpServer::start().await.unwrap();

    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
    let hz = 100.0;
    async fn paced(data: &Bytes, rate: f64, mut sink: impl FnMut(Bytes)) {
        let start = Instant::now();
        for (i, c) in data.chunks(188 * 70).enumerate() {
            let at = Duration::from_secs_f64((i * 188 * 70) as f64 / rate);
            tokio::time::sleep_until(start + at).await;
            sink(data.slice_ref(c));
        }
    }

    // This process publishing (demux, FLV, RTMP chunks, socket).
    let me = std::process::id();
    let publisher = Publisher::start(
        target(&rtmp, "cpu-a"),
        config("cpu"),
        CancellationToken::new(),
    );
    let input = publisher.input();
    let mut ts = TsFrames::new();
    let before = cpu_ticks(me);
    paced(&data, rate, |c| {
        for f in ts.push(&c, Instant::now()) {
            input.push(f);
        }
    })
    .await;
    let ours = (cpu_ticks(me) - before) as f64 / hz;
    publisher.stop().await;

    // An FFmpeg egress as today.
    let mut ff = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "flv",
        ])
        .arg(rtmp.publish_url("cpu-b"))
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = ff.id().unwrap();
    let mut stdin = ff.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            if stdin.write_all(&c).await.is_err() {
                break;
            }
        }
    });
    paced(&data, rate, |c| {
        let _ = tx.send(c);
    })
    .await;
    let theirs = cpu_ticks(pid) as f64 / hz;
    drop(tx);
    let _ = writer.await;
    let _ = ff.wait().await;
    eprintln!(
        "CPU for 20 s at {:.2} Mb/s: in-process publisher {ours:.2} s ({:.1} %), FFmpeg egress {theirs:.2} s ({:.1} %)",
        rate * 8.0 / 1e6,
        ours / 20.0 * 100.0,
        theirs / 20.0 * 100.0
    );
}
