//! The fake RTSP camera is a real RTSP server: ffprobe sees what it was asked to serve, auth
//! is enforced, and it can go away and come back on the same port.

use std::time::{Duration, Instant};

use vs_testrig::{
    packet_times_live, probe_streams, require_all, tcp_refused, AuthMethod, CameraOptions,
    FakeCamera, StreamKind,
};

#[tokio::test]
async fn camera_with_audio_serves_h264_and_aac_at_the_requested_size() {
    require_all(&["ffprobe"]);
    let t = Instant::now();
    let cam = FakeCamera::start(
        CameraOptions::new("Dock")
            .size(320, 240)
            .fps(15)
            .audio(true),
    )
    .await
    .unwrap();
    let started = t.elapsed();
    eprintln!("camera started in {started:?} at {}", cam.url());
    assert!(
        started < Duration::from_secs(5),
        "camera start took {started:?}"
    );
    assert!(cam.url().starts_with("rtsp://127.0.0.1:"));
    assert_eq!(cam.url(), cam.url_with_credentials());

    let t = Instant::now();
    let info = probe_streams(cam.url()).await.unwrap();
    eprintln!("ffprobe took {:?}: {info:?}", t.elapsed());
    assert_eq!(info.video_codec(), Some("h264"));
    assert_eq!((info.width(), info.height()), (Some(320), Some(240)));
    assert_eq!(info.audio_codec(), Some("aac"));
    assert_eq!(info.codec_names(), ["h264", "aac"]);
}

#[tokio::test]
async fn camera_without_audio_has_only_video() {
    let cam = FakeCamera::start(CameraOptions::new("Quiet").size(320, 180).fps(10))
        .await
        .unwrap();
    let info = probe_streams(cam.url()).await.unwrap();
    assert_eq!(info.codec_names(), ["h264"]);
    assert!(!info.has_audio());
    assert_eq!(
        info.video().and_then(|v| v.frame_rate).map(f64::round),
        Some(10.0)
    );
}

#[tokio::test]
async fn wrong_password_is_a_401_and_the_right_one_works() {
    for method in [AuthMethod::Digest, AuthMethod::Basic] {
        let cam = FakeCamera::start(
            CameraOptions::new("Locked")
                .size(320, 180)
                .credentials("admin", "s3cret/:@")
                .auth(method),
        )
        .await
        .unwrap();
        assert!(!cam.url().contains("admin"));
        assert!(
            cam.url_with_credentials()
                .contains("admin:s3cret%2F%3A%40@"),
            "{}",
            cam.url_with_credentials()
        );

        let err = probe_streams(cam.url_with("admin", "wrong"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("401"), "{method:?}: {err}");
        let err = probe_streams(cam.url()).await.unwrap_err().to_string();
        assert!(err.contains("401"), "{method:?} without credentials: {err}");

        let info = probe_streams(cam.url_with_credentials()).await.unwrap();
        assert_eq!(info.video_codec(), Some("h264"), "{method:?}");
    }
}

#[tokio::test]
async fn stopped_camera_refuses_connections_and_restart_brings_it_back_on_the_same_port() {
    let mut cam = FakeCamera::start(CameraOptions::new("Flaky").size(320, 180).audio(true))
        .await
        .unwrap();
    let port = cam.port();
    probe_streams(cam.url()).await.unwrap();

    cam.stop().await.unwrap();
    assert!(!cam.is_running());
    assert!(tcp_refused(port).await);
    let err = probe_streams(cam.url()).await.unwrap_err().to_string();
    assert!(err.contains("Connection refused"), "{err}");

    let t = Instant::now();
    cam.restart().await.unwrap();
    eprintln!("camera restarted in {:?}", t.elapsed());
    assert_eq!(cam.port(), port);
    assert!(cam.is_running());
    let info = probe_streams(cam.url()).await.unwrap();
    assert_eq!(info.codec_names(), ["h264", "aac"]);
}

#[tokio::test]
async fn camera_survives_many_start_stop_cycles() {
    let mut cam = FakeCamera::start(CameraOptions::new("Cycle").size(160, 120))
        .await
        .unwrap();
    let pid = cam.pid().unwrap();
    let mut times = Vec::new();
    for _ in 0..8 {
        let t = Instant::now();
        cam.restart().await.unwrap();
        times.push(t.elapsed());
    }
    eprintln!("restart times: {times:?}");
    assert_ne!(cam.pid(), Some(pid));
    probe_streams(cam.url()).await.unwrap();
    let last = cam.pid().unwrap();
    drop(cam);
    // Drop kills the process group; the process must disappear, not linger.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{last}")).exists()
        && vs_testrig::procs::all_processes()
            .iter()
            .any(|p| p.pid == last && !p.is_zombie())
    {
        assert!(
            Instant::now() < deadline,
            "camera process {last} survived drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn live_camera_timestamps_are_monotonic_with_one_keyframe_per_second() {
    let cam = FakeCamera::start(
        CameraOptions::new("Clock")
            .size(320, 180)
            .fps(15)
            .audio(true),
    )
    .await
    .unwrap();
    let video = packet_times_live(&cam.url(), StreamKind::Video, 3.0)
        .await
        .unwrap();
    video.assert_monotonic();
    video.assert_max_gap(0.5);
    assert!(
        video.len() >= 30,
        "only {} video packets in 3 s",
        video.len()
    );
    let keys = video.keyframe_times();
    assert!(keys.len() >= 2, "key frames at {keys:?}");
    let audio = packet_times_live(&cam.url(), StreamKind::Audio, 2.0)
        .await
        .unwrap();
    audio.assert_monotonic();
}

#[tokio::test]
async fn replay_camera_loops_its_clip_in_real_time_from_a_key_frame() {
    // A 1 s clip (two GOPs of 7 frames at 10 fps: 1.4 s) read for 3 s crosses the loop twice.
    // With sound: GStreamer's RTSP server then seeks the media at PLAY, which the appsrc must
    // accept (it once answered 503).
    let cam = FakeCamera::start(
        CameraOptions::new("Replay")
            .size(320, 180)
            .fps(10)
            .gop(7)
            .audio(true)
            .replay(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    // Said on stderr before READY; its reader may lag the stdout one a little.
    for _ in 0..50 {
        if cam.stderr().contains("replay clip of 14 frames") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cam.stderr().contains("replay clip of 14 frames"),
        "{}",
        cam.stderr()
    );
    let info = probe_streams(cam.url()).await.unwrap();
    // The sound stays live beside the replayed picture.
    assert_eq!(info.codec_names(), ["h264", "aac"]);
    assert_eq!((info.width(), info.height()), (Some(320), Some(180)));
    let audio = packet_times_live(&cam.url(), StreamKind::Audio, 2.0)
        .await
        .unwrap();
    audio.assert_monotonic();
    assert!(audio.len() >= 50, "{} audio packets in 2 s", audio.len());
    // Every client starts on a key frame, and the clip's key frames come back every 7 frames.
    for _ in 0..2 {
        let video = packet_times_live(&cam.url(), StreamKind::Video, 3.0)
            .await
            .unwrap();
        video.assert_monotonic();
        video.assert_max_gap(0.3);
        assert!(
            (25..=35).contains(&video.len()),
            "{} video packets in 3 s at 10 fps",
            video.len()
        );
        let keys = video.keyframe_times();
        assert!(keys.len() >= 4, "key frames at {keys:?}");
        let first = video.times().first().copied().unwrap();
        assert!(
            (keys[0] - first).abs() < 1e-6,
            "first packet at {first}, first key frame at {}",
            keys[0]
        );
        for pair in keys.windows(2) {
            let gap = pair[1] - pair[0];
            assert!((gap - 0.7).abs() < 0.05, "key frames at {keys:?}");
        }
    }
}

#[tokio::test]
async fn two_cameras_run_side_by_side() {
    let (a, b) = tokio::join!(
        FakeCamera::start(CameraOptions::new("A").size(160, 120).path("/a")),
        FakeCamera::start(CameraOptions::new("B").size(320, 180).path("/stream/b")),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    assert!(b.url().ends_with("/stream/b"));
    let (ia, ib) = tokio::join!(probe_streams(a.url()), probe_streams(b.url()));
    assert_eq!(ia.unwrap().width(), Some(160));
    assert_eq!(ib.unwrap().width(), Some(320));
}

/// The value of an RTSP response's header `name`, trimmed.
fn rtsp_header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Sends one RTSP request on `stream` and reads its response (head and body); returns it.
async fn rtsp_request(
    stream: &mut tokio::net::TcpStream,
    request: &str,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let length = rtsp_header(&head, "Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(head + &String::from_utf8_lossy(&body))
}

#[tokio::test]
async fn a_replay_camera_sends_no_backlog_to_a_client_slow_to_play() {
    use tokio::io::AsyncReadExt;
    // Between DESCRIBE and PLAY the feeder goes on pushing the clip while nothing flows; what
    // waits must stay a few frames (a real camera sends what it sees from PLAY on), not a
    // burst of every frame since DESCRIBE. Measured: 15 frames in that second (4 waiting, 11
    // live); 41 when the appsrc queued without bound.
    let cam = FakeCamera::start(
        CameraOptions::new("Slow")
            .size(320, 180)
            .fps(10)
            .gop(7)
            .replay(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    let url = cam.url();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", cam.port()))
        .await
        .unwrap();
    let describe = rtsp_request(
        &mut s,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"),
    )
    .await
    .unwrap();
    assert!(describe.starts_with("RTSP/1.0 200"), "{describe}");
    let base = rtsp_header(&describe, "Content-Base")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{url}/"));
    let control = describe
        .lines()
        .filter_map(|l| l.strip_prefix("a=control:"))
        .find(|c| *c != "*")
        .unwrap_or_else(|| panic!("a stream control in the SDP: {describe}"));
    let setup = rtsp_request(
        &mut s,
        &format!(
            "SETUP {base}{control} RTSP/1.0\r\nCSeq: 2\r\n\
             Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
        ),
    )
    .await
    .unwrap();
    assert!(setup.starts_with("RTSP/1.0 200"), "{setup}");
    let session = rtsp_header(&setup, "Session")
        .and_then(|v| v.split(';').next())
        .expect("a session id")
        .to_string();
    // 3 s at 10 fps: 30 frames pushed before PLAY.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let play = rtsp_request(
        &mut s,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\nRange: npt=0-\r\n\r\n"),
    )
    .await
    .unwrap();
    assert!(play.starts_with("RTSP/1.0 200"), "{play}");
    // Frames (RTP packets with the marker bit) received in the first second after PLAY.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut frames = 0;
    loop {
        let mut hdr = [0u8; 4];
        match tokio::time::timeout_at(deadline, s.read_exact(&mut hdr)).await {
            Err(_) => break,
            Ok(r) => r.unwrap(),
        };
        assert_eq!(hdr[0], b'$', "interleaved data expected");
        let mut packet = vec![0u8; u16::from_be_bytes([hdr[2], hdr[3]]) as usize];
        s.read_exact(&mut packet).await.unwrap();
        if hdr[1] == 0 && packet.len() > 1 && packet[1] & 0x80 != 0 {
            frames += 1;
        }
    }
    eprintln!("{frames} frames in the first second after a PLAY 3 s after DESCRIBE");
    assert!(
        (5..=20).contains(&frames),
        "{frames} frames in the first second at 10 fps (a backlog from before PLAY?)"
    );
}
