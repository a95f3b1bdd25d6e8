//! The fake YouTube ingest records each publish session to its own file, which ffprobe can
//! check; it refuses unknown stream keys when told to, and can go down and come back.

use std::time::{Duration, Instant};

use vs_testrig::{
    frame_count, packet_times, probe_streams, publish_test_pattern, require_all, tcp_refused,
    wait_no_processes_with_marker, RtmpEventKind, RtmpOptions, RtmpServer, StreamKind,
};

#[tokio::test]
async fn one_publish_session_gives_one_h264_aac_recording_with_monotonic_timestamps() {
    require_all(&["ffmpeg", "ffprobe", "nginx"]);
    let t = Instant::now();
    let rtmp = RtmpServer::start().await.unwrap();
    eprintln!(
        "nginx-rtmp started in {:?} on port {}",
        t.elapsed(),
        rtmp.port()
    );
    let url = rtmp.publish_url("test-key-1");
    assert_eq!(
        url,
        format!("rtmp://127.0.0.1:{}/live2/test-key-1", rtmp.port())
    );

    publish_test_pattern(&url, 3.0).await.unwrap();
    rtmp.wait_for_publish_done(1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(rtmp.publish_count(), 1);

    let files = rtmp.recordings();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(rtmp.recordings_for("test-key-1"), files);
    let info = probe_streams(&files[0]).await.unwrap();
    assert_eq!(info.codec_names(), ["h264", "aac"]);
    assert_eq!((info.width(), info.height()), (Some(640), Some(360)));

    let video = packet_times(&files[0], StreamKind::Video).await.unwrap();
    video.assert_monotonic();
    video.assert_max_gap(0.1);
    assert!(
        (2.5..=3.5).contains(&video.span()),
        "video spans {} s",
        video.span()
    );
    let audio = packet_times(&files[0], StreamKind::Audio).await.unwrap();
    audio.assert_monotonic();
    audio.assert_max_gap(0.1);
    let frames = frame_count(&files[0]).await.unwrap();
    assert!((80..=95).contains(&frames), "{frames} frames");

    let events = rtmp.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, RtmpEventKind::RecordDone { path } if *path == files[0])),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e.key == "test-key-1" && e.addr == "127.0.0.1"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_refused_stream_key_fails_the_publisher_and_records_nothing() {
    let rtmp = RtmpServer::start_with(RtmpOptions {
        allowed_keys: Some(vec!["good".into()]),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = publish_test_pattern(&rtmp.publish_url("bad"), 1.0)
        .await
        .unwrap_err();
    eprintln!("publisher with a refused key: {err:#}");
    assert_eq!(rtmp.rejected_count(), 1);
    assert_eq!(rtmp.publish_count(), 0);
    assert!(rtmp.recordings().is_empty(), "{:?}", rtmp.recordings());

    publish_test_pattern(&rtmp.publish_url("good"), 1.0)
        .await
        .unwrap();
    rtmp.wait_for_publish_done(1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(rtmp.recordings_for("good").len(), 1);
}

#[tokio::test]
async fn each_session_has_its_own_recording_and_the_server_survives_a_restart() {
    let mut rtmp = RtmpServer::start().await.unwrap();
    let port = rtmp.port();
    publish_test_pattern(&rtmp.publish_url("k"), 1.0)
        .await
        .unwrap();
    rtmp.wait_for_publish_done(1, Duration::from_secs(5))
        .await
        .unwrap();

    rtmp.stop().await.unwrap();
    assert!(tcp_refused(port).await);
    assert!(publish_test_pattern(&rtmp.publish_url("k"), 1.0)
        .await
        .is_err());

    let t = Instant::now();
    rtmp.restart().await.unwrap();
    eprintln!("nginx-rtmp restarted in {:?}", t.elapsed());
    assert_eq!(rtmp.port(), port);
    // Recording names carry the start second: make sure the second session starts in another.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    publish_test_pattern(&rtmp.publish_url("k"), 1.0)
        .await
        .unwrap();
    rtmp.wait_for_publish_done(2, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(rtmp.publish_count(), 2);
    let files = rtmp.recordings();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(
            probe_streams(f).await.unwrap().codec_names(),
            ["h264", "aac"]
        );
    }
}

#[tokio::test]
async fn a_finished_publisher_leaves_no_process_behind() {
    let rtmp = RtmpServer::start().await.unwrap();
    let marker = format!("orphan-check-{}", std::process::id());
    let url = rtmp.publish_url(&marker);
    let publisher = tokio::spawn(async move { publish_test_pattern(&url, 5.0).await });
    rtmp.wait_for_publishes(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(vs_testrig::processes_with_marker(&marker).len(), 1);
    assert!(vs_testrig::ffmpeg_processes()
        .iter()
        .any(|p| p.command().contains(&marker)));
    // Aborting the task drops the ffmpeg child (kill_on_drop).
    publisher.abort();
    let _ = publisher.await;
    wait_no_processes_with_marker(&marker, Duration::from_secs(5))
        .await
        .unwrap();
}
