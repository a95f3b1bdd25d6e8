//! The executor against a recording program and a virtual clock: cue timing over an hour of
//! loops with slow control calls and late timers, then play, stop, jumps and play-once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;
use vs_base::Result;
use vs_timeline::{
    compile, Clip, Clock, CompileOptions, CueList, Executor, ExecutorOptions, OverlayShow,
    PlayState, Playback, ProgramControl, Timeline, TokioClock, Track, TrackKind,
};

const FRAME: Duration = Duration::from_millis(33);

/// A small deterministic random source (xorshift), so failures replay.
struct Rng(Mutex<u64>);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(Mutex::new(seed))
    }
    fn below(&self, n: u64) -> u64 {
        let mut s = self.0.lock().unwrap();
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s % n
    }
}

/// A program that records when each call started and takes a random while to answer.
struct Recorder {
    clock: Arc<dyn Clock>,
    calls: Mutex<Vec<(Instant, String)>>,
    rng: Rng,
    max_latency_ms: u64,
    total_latency: Mutex<Duration>,
}

impl Recorder {
    fn new(clock: Arc<dyn Clock>, max_latency_ms: u64) -> Arc<Self> {
        Arc::new(Recorder {
            clock,
            calls: Mutex::new(Vec::new()),
            rng: Rng::new(0x5eed_1234_abcd),
            max_latency_ms,
            total_latency: Mutex::new(Duration::ZERO),
        })
    }

    async fn call(&self, what: String) -> Result<()> {
        self.calls.lock().unwrap().push((self.clock.now(), what));
        let lag = Duration::from_millis(self.rng.below(self.max_latency_ms + 1));
        *self.total_latency.lock().unwrap() += lag;
        tokio::time::sleep(lag).await;
        Ok(())
    }

    fn calls(&self) -> Vec<(Instant, String)> {
        self.calls.lock().unwrap().clone()
    }

    fn names_since(&self, from: usize) -> Vec<String> {
        self.calls()[from..].iter().map(|c| c.1.clone()).collect()
    }
}

#[async_trait]
impl ProgramControl for Recorder {
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()> {
        self.call(format!("take {camera_id} {preset_id:?}")).await
    }
    async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()> {
        self.call(format!("prepare {camera_id} {preset_id}")).await
    }
    async fn show_overlay(&self, o: &OverlayShow) -> Result<()> {
        self.call(format!("show {}", o.overlay_id)).await
    }
    async fn hide_overlay(&self, overlay_id: i64) -> Result<()> {
        self.call(format!("hide {overlay_id}")).await
    }
    async fn slate(&self) -> Result<()> {
        self.call("slate".into()).await
    }
}

/// A clock whose timers fire late by a random 0-20 ms, like a busy Raspberry Pi.
struct LateClock {
    inner: TokioClock,
    rng: Rng,
}

#[async_trait]
impl Clock for LateClock {
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn wall(&self) -> SystemTime {
        self.inner.wall()
    }
    async fn sleep_until(&self, deadline: Instant) {
        let late = Duration::from_millis(self.rng.below(21));
        self.inner.sleep_until(deadline + late).await
    }
}

/// One minute: Pier at Dock, Bridge, Pier at Beach (moved while Bridge is on air), and two
/// overlays. Every cue changes the program, so every cue makes exactly one call.
fn minute(playback: Playback) -> Timeline {
    let mut t = Timeline::new("Harbor minute", 60_000);
    t.playback = playback;
    let mut v = Track::new(TrackKind::Video, "Cameras");
    v.clips = vec![
        Clip::camera("a", 0, 20_000, 1, Some(10)),
        Clip::camera("b", 20_000, 40_000, 2, None),
        Clip::camera("c", 40_000, 60_000, 1, Some(11)),
    ];
    let mut o = Track::new(TrackKind::Overlay, "Overlays");
    o.clips = vec![
        Clip::overlay("x", 5_000, 15_000, 7, (1600, 40, 280, 90)),
        Clip::overlay("y", 30_000, 55_000, 8, (40, 900, 600, 140)),
    ];
    t.tracks = vec![v, o];
    t
}

fn cues(t: &Timeline) -> CueList {
    compile(t, &CompileOptions { lead_ms: 5_000 })
}

/// Plays an hour of the looping minute and returns (worst error, calls, accumulated latency).
async fn run_an_hour(clock: Arc<dyn Clock>) -> (Duration, usize, Duration) {
    let program = Recorder::new(clock.clone(), 50);
    let list = cues(&minute(Playback::Loop));
    assert_eq!(list.cues.len(), 8);
    let exec = Executor::spawn(
        list.clone(),
        clock.clone(),
        program.clone(),
        ExecutorOptions::default(),
    )
    .unwrap();
    let start = clock.now();
    exec.play().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600) - Duration::from_millis(1)).await;
    let position = exec.position();
    assert_eq!(position.state, PlayState::Playing);
    assert_eq!(position.loop_index, 59);
    exec.stop().await.unwrap();
    let position = exec.position();
    assert_eq!(
        (position.state, position.loop_index, position.position_ms),
        (PlayState::Stopped, 59, 59_999)
    );
    exec.shutdown().await;

    let calls = program.calls();
    let mut expected = Vec::new();
    for pass in 0..60u64 {
        for cue in &list.cues {
            expected.push(start + Duration::from_millis(pass * 60_000 + cue.at_ms as u64));
        }
    }
    assert_eq!(calls.len(), expected.len());
    let kinds = [
        "take 1 Some(10)",
        "show 7",
        "hide 7",
        "take 2 None",
        "show 8",
        "prepare 1 11",
        "take 1 Some(11)",
        "hide 8",
    ];
    let mut worst = Duration::ZERO;
    for (i, ((at, what), due)) in calls.iter().zip(&expected).enumerate() {
        assert_eq!(what, kinds[i % kinds.len()], "call {i}");
        let error = if at > due { *at - *due } else { *due - *at };
        assert!(
            error <= FRAME,
            "call {i} ({what}) fired {error:?} off schedule"
        );
        worst = worst.max(error);
    }
    let latency = *program.total_latency.lock().unwrap();
    (worst, calls.len(), latency)
}

#[tokio::test(start_paused = true)]
async fn an_hour_of_a_looping_minute_fires_every_cue_within_a_frame() {
    let (worst, calls, latency) = run_an_hour(Arc::new(TokioClock::new())).await;
    // 480 calls that took 0-50 ms each: a sleep-after-call executor would have drifted by
    // their sum by the end of the hour.
    assert_eq!(calls, 480);
    assert!(latency > Duration::from_secs(5), "{latency:?}");
    assert!(worst <= FRAME);
    println!("worst error {worst:?} over {calls} calls; control calls took {latency:?} in all");
}

#[tokio::test(start_paused = true)]
async fn late_timers_do_not_add_up() {
    let clock = Arc::new(LateClock {
        inner: TokioClock::new(),
        rng: Rng::new(42),
    });
    let (worst, calls, _) = run_an_hour(clock).await;
    assert_eq!(calls, 480);
    // Each wake-up is up to 20 ms late, but no later for the last pass than for the first.
    assert!(worst <= Duration::from_millis(20), "{worst:?}");
    println!("worst error with late timers {worst:?}");
}

#[tokio::test(start_paused = true)]
async fn play_jump_stop_and_play_once() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
    let program = Recorder::new(clock.clone(), 0);
    let exec = Executor::spawn(
        cues(&minute(Playback::Once)),
        clock.clone(),
        program.clone(),
        ExecutorOptions::default(),
    )
    .unwrap();
    let mut watch = exec.subscribe();
    assert_eq!(exec.position().state, PlayState::Stopped);

    exec.play().await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let p = exec.position();
    assert_eq!(p.state, PlayState::Playing);
    assert_eq!(p.on_air_clip.as_deref(), Some("a"));
    assert!((9_500..=10_000).contains(&p.position_ms), "{p:?}");
    assert_eq!(program.names_since(0), vec!["take 1 Some(10)", "show 7"]);

    // The position is pushed between cues too.
    let mut updates = 0;
    let until = clock.now() + Duration::from_secs(5);
    while clock.now() < until {
        watch.changed().await.unwrap();
        updates += 1;
    }
    assert!(updates >= 9, "{updates}");

    assert_eq!(program.names_since(2), vec!["hide 7"]);

    // Jump into Pier at Beach: the program is brought to what the timeline shows at 40 s,
    // camera at its preset and overlay y, and nothing else is sent.
    let before = program.calls().len();
    exec.jump_to_clip("c").await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(
        program.names_since(before),
        vec!["take 1 Some(11)", "show 8"]
    );
    let p = exec.position();
    assert_eq!(
        (p.position_ms, p.on_air_clip.as_deref()),
        (40_000, Some("c"))
    );

    // Back into the middle of Bridge: Pier is off air again and due to move for 40 s.
    let before = program.calls().len();
    exec.seek(36_000).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(
        program.names_since(before),
        vec!["take 2 None", "prepare 1 11"]
    );

    // Play-once ends at the end, leaving the last camera on air.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let p = exec.position();
    assert_eq!((p.state, p.position_ms), (PlayState::Finished, 60_000));
    assert_eq!(
        program.names_since(before + 2),
        vec!["take 1 Some(11)", "hide 8"]
    );

    // Playing again starts over; stopping takes the overlays down but not the camera.
    let before = program.calls().len();
    exec.play().await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    exec.stop().await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(
        program.names_since(before),
        vec!["take 1 Some(10)", "show 7", "hide 7"]
    );
    let p = exec.position();
    assert_eq!(p.state, PlayState::Stopped);
    assert!((5_500..=6_000).contains(&p.position_ms), "{p:?}");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        program.calls().len(),
        before + 3,
        "nothing fires while stopped"
    );

    // Bad requests name what is wrong.
    let e = exec.seek(61_000).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("position_ms"));
    let e = exec.jump_to_clip("nope").await.unwrap_err();
    assert_eq!(e.kind, vs_base::ErrorKind::NotFound);
    exec.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn loading_an_edited_timeline_keeps_the_position() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
    let program = Recorder::new(clock.clone(), 0);
    let mut t = minute(Playback::Loop);
    let exec = Executor::spawn(
        cues(&t),
        clock.clone(),
        program.clone(),
        ExecutorOptions::default(),
    )
    .unwrap();
    exec.play().await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    // The editor swaps overlay y for overlay 9 while Bridge is on air.
    t.tracks[1].clips[1] = Clip::overlay("y", 24_000, 55_000, 9, (40, 900, 600, 140));
    let before = program.calls().len();
    exec.load(cues(&t)).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(program.names_since(before), vec!["show 9"]);
    let p = exec.position();
    assert!((25_000..=25_100).contains(&p.position_ms), "{p:?}");
    assert_eq!(p.on_air_clip.as_deref(), Some("b"));
    exec.shutdown().await;
}

#[tokio::test]
async fn a_timeline_without_duration_is_refused() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
    let program = Recorder::new(clock.clone(), 0);
    let t = Timeline::new("empty", 0);
    let e = Executor::spawn(cues(&t), clock, program, ExecutorOptions::default())
        .err()
        .unwrap();
    assert_eq!(e.field.as_deref(), Some("duration"));
}
