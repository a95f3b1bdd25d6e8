//! `vistterstream-decoder` against real parts: the GStreamer fake camera through the camera
//! hub, compared with the FFmpeg decoder it replaces.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vs_base::{Secret, StreamUrl};
use vs_engine::hub::*;
use vs_engine::Deps;
use vs_testrig::{CameraOptions, FakeCamera};

const W: u32 = 320;
const H: u32 = 180;

fn worker() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vistterstream-decoder"))
}

async fn camera_session(cam: &FakeCamera) -> (CameraHub, CameraSession, CancellationToken) {
    let shutdown = CancellationToken::new();
    let hub = CameraHub::new(HubOptions::default(), Deps::real(), shutdown.clone());
    let o = cam.options();
    let url = StreamUrl::parse(&cam.url(), "url").expect("valid url");
    let cfg = SourceConfig::new(url.url).credentials(
        o.username.as_deref().unwrap_or(""),
        Secret::new(o.password.as_deref().unwrap_or("")),
    );
    tokio::time::timeout(Duration::from_secs(20), hub.configure(1, cfg))
        .await
        .expect("the hub takes the camera within 20 s")
        .unwrap();
    let session = hub.session(1).expect("session exists");
    assert!(
        session.wait_playing(Duration::from_secs(20)).await,
        "camera not playing: {:?}",
        session.stats()
    );
    (hub, session, shutdown)
}

/// The next `n` frames of `decoder` (live or not), within a deadline. With `copy`, each
/// picture is copied out and its slot given back at once (as the program does once a frame
/// is encoded); without, the frames keep their slots.
async fn frames(decoder: &mut HubDecoder, n: usize, copy: bool) -> Vec<DecodedFrame> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n {
        let f = tokio::time::timeout_at(deadline, decoder.next_frame())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} of {n} frames in time: {:?}",
                    out.len(),
                    decoder.status()
                )
            })
            .expect("decoder runs");
        if copy {
            out.push(DecodedFrame {
                data: bytes::Bytes::from(f.data.to_vec()),
                ..f
            });
        } else {
            out.push(f);
        }
    }
    out
}

/// Stops `decoder` within 15 s (its child's stop timeout is 5 s, the reaping of a killed one
/// another 5) or fails with what the supervisor and the processes were doing.
async fn stop_within(decoder: HubDecoder, what: &str) {
    let supervisor = decoder.process().clone();
    if tokio::time::timeout(Duration::from_secs(15), decoder.stop())
        .await
        .is_err()
    {
        let procs: Vec<String> = vs_testrig::descendants_of(std::process::id())
            .into_iter()
            .map(|p| {
                let wchan =
                    std::fs::read_to_string(format!("/proc/{}/wchan", p.pid)).unwrap_or_default();
                format!("{} {} {} wchan={wchan}", p.pid, p.state, p.comm)
            })
            .collect();
        panic!(
            "the {what} HubDecoder did not stop within 15 s: supervisor {:?}; processes {procs:?}",
            supervisor.status()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_decodes_what_ffmpeg_decodes_pixel_for_pixel() {
    vs_testrig::require_all(&["ffmpeg"]);
    let password = "decoderSecret-41c9";
    let cam = FakeCamera::start(
        CameraOptions::new("Dec")
            .size(640, 360)
            .fps(15)
            .credentials("admin", password),
    )
    .await
    .unwrap();
    let (_hub, session, shutdown) = camera_session(&cam).await;

    let mut with_ffmpeg = HubDecoder::start(
        session.clone(),
        DecoderOptions::new(W, H),
        Deps::real(),
        shutdown.clone(),
    );
    let mut opts = DecoderOptions::new(W, H);
    opts.worker = Some(worker());
    let mut with_worker = HubDecoder::start(session.clone(), opts, Deps::real(), shutdown.clone());

    let (theirs, ours) = tokio::join!(
        frames(&mut with_ffmpeg, 45, true),
        frames(&mut with_worker, 45, true)
    );
    assert!(ours
        .iter()
        .all(|f| f.data.len() == (W * H * 3 / 2) as usize));
    // The first picture is the cached keyframe, scaled from 640x360: the bars are there
    // (75 % white on the left, blue on the right).
    let (white, blue) = (
        vs_testrig::smpte_bar_luma(&ours[0].data, W as usize, H as usize, 0),
        vs_testrig::smpte_bar_luma(&ours[0].data, W as usize, H as usize, 6),
    );
    assert!(
        white > 150.0 && blue < 60.0,
        "bars: white {white}, blue {blue}"
    );
    assert_eq!(ours[0].index, 0);
    assert!(with_worker.status().caught_up, "{:?}", with_worker.status());

    // The same libav decoder and the same filters: every picture the two have in common is
    // the same to the byte. The camera's clock overlay changes every frame, so a match is
    // the same frame, not a look-alike.
    let same = ours
        .iter()
        .filter(|o| theirs.iter().any(|t| t.data == o.data))
        .count();
    eprintln!(
        "{same} of {} worker pictures are byte-identical to one of FFmpeg's",
        ours.len()
    );
    assert!(
        same >= 20,
        "only {same} of {} worker pictures are byte-identical to one of FFmpeg's",
        ours.len()
    );

    // No camera secret on the decoders' command lines or in their environments (the fake
    // camera, a process of this test too, is given it on its own).
    let me = std::process::id();
    let decoders: Vec<_> = vs_testrig::descendants_of(me)
        .into_iter()
        .filter(|p| p.comm == "vistterstream-d" || p.comm == "ffmpeg")
        .collect();
    assert!(
        decoders.iter().any(|p| p.comm == "vistterstream-d"),
        "the worker runs"
    );
    for p in decoders {
        for file in ["cmdline", "environ"] {
            if let Ok(raw) = std::fs::read(format!("/proc/{}/{file}", p.pid)) {
                assert!(
                    !raw.windows(password.len())
                        .any(|w| w == password.as_bytes()),
                    "{} ({}) has the camera password in its {file}",
                    p.pid,
                    p.comm
                );
            }
        }
    }
    stop_within(with_worker, "worker's").await;
    stop_within(with_ffmpeg, "FFmpeg").await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_held_by_the_appliance_stop_the_worker_and_given_back_restart_it() {
    vs_testrig::require_all(&["ffmpeg"]);
    let cam = FakeCamera::start(CameraOptions::new("Hold").size(W, H).fps(15))
        .await
        .unwrap();
    let (_hub, session, shutdown) = camera_session(&cam).await;
    let mut opts = DecoderOptions::new(W, H);
    opts.worker = Some(worker());
    // A queue of 1: the worker has 1 + 4 slots.
    opts.queue = 1;
    let mut decoder = HubDecoder::start(session.clone(), opts, Deps::real(), shutdown.clone());

    // Keep every picture: after five, every slot is ours and the worker waits.
    let held = frames(&mut decoder, 5, false).await;
    let more = tokio::time::timeout(Duration::from_secs(2), decoder.next_frame()).await;
    assert!(
        more.is_err(),
        "a sixth picture came while all five slots were held"
    );
    // Five pictures in order (a queue of one drops a picture the reader has not taken yet,
    // giving its slot back, so they need not be consecutive).
    let indices: Vec<u64> = held.iter().map(|f| f.index).collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
    let last = indices[4];
    drop(held);
    // Given back, the slots are filled again, and the pictures flow on.
    let next = frames(&mut decoder, 20, true).await;
    assert!(
        next.iter().all(|f| f.index > last),
        "indices go on after {last}"
    );
    // Two pictures kept while the worker goes on through the other three slots: they stay
    // what they were (the camera's clock overlay changes every frame, so a slot written over
    // would show).
    let kept = frames(&mut decoder, 2, false).await;
    let before: Vec<Vec<u8>> = kept.iter().map(|f| f.data.to_vec()).collect();
    let _ = frames(&mut decoder, 30, true).await;
    assert!(
        kept.iter().zip(&before).all(|(k, b)| k.data[..] == b[..]),
        "a kept picture was written over"
    );
    stop_within(decoder, "worker's").await;
    shutdown.cancel();
}

/// The appliance stops the worker with SIGINT. A parent that ignores SIGINT (a shell script's
/// `vistterstream &`, a test run in the background) passes that on through exec; the worker
/// must stop anyway, not wait for the SIGKILL at the end of the stop timeout (every stop took
/// 5 s that way). Here the worker starts with SIGINT ignored, waits for its camera's first
/// packets on stdin, and is sent SIGINT: it ends by that signal.
#[test]
#[allow(unsafe_code)]
fn sigint_stops_the_worker_even_when_its_parent_ignored_it() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    let null = std::fs::File::open("/dev/null").unwrap();
    let null_fd = null.as_raw_fd();
    let mut cmd = Command::new(worker());
    cmd.args(["320", "180", "6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec, only async-signal-safe calls (signal, dup2) on a
    // descriptor the parent keeps open until the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            if libc::dup2(null_fd, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("the worker starts");
    drop(null);
    // The hello comes before the worker reads its input: from then on it waits on stdin.
    let mut hello = [0u8; 32];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut hello)
        .expect("the hello");
    assert_eq!(&hello[..8], b"VSDW0001");
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the worker ignored SIGINT (its parent ignored it)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
}
