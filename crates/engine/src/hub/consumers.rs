//! What the rest of the appliance builds on a camera session:
//!
//! - [`feed_ts`]: a subscription written as MPEG-TS into an FFmpeg's stdin (a copy stream to
//!   destinations: `-f mpegts -i pipe:0 -c copy -f flv …`);
//! - [`HubDecoder`]: a decoder child fed from a subscription (cached keyframe first, then
//!   live), producing raw `yuv420p` frames of a given size, that says which frames are live —
//!   a program take commits on a live frame, not on the cached keyframe;
//! - [`snapshot_from_cache`]: a JPEG decoded from the keyframe cache by a one-shot FFmpeg,
//!   without touching the camera;
//! - [`Fmp4Preview`]: fragmented MP4 for a browser's Media Source Extensions, no FFmpeg.
//!
//! None of these children ever sees the camera's address or credentials: they read packets
//! on stdin.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vs_base::{Error, ErrorKind, Result};

use super::fanout::{End, Event, Subscription};
use super::mp4mux::Mp4Muxer;
use super::packet::{Packet, StreamInfo};
use super::session::CameraSession;
use super::stats::ConsumerKind;
use super::tsmux::TsMuxer;
use crate::spawner::{ProcessSpec, ProgressSource, Spawner, StdinMode, StdoutMode};
use crate::supervisor::{supervise, Deps, SupervisorConfig, SupervisorHandle};

/// Why [`feed_ts`] returned.
#[derive(Debug)]
pub enum FeedEnd {
    /// The subscription ended (source changed, session stopped).
    Ended(End),
    /// The reader went away (the FFmpeg exited) or the write failed.
    WriteFailed(std::io::Error),
}

/// Writes a subscription as MPEG-TS into `out`: the backlog (from the cached keyframe) at
/// once, then every live packet as it comes. Returns when either side ends.
pub async fn feed_ts<W: AsyncWrite + Unpin>(sub: Subscription, out: &mut W) -> FeedEnd {
    feed_ts_counting(sub, out, |_, _, _, _| {}).await
}

/// [`feed_ts`] calling `on_packet` with each packet (video and audio), when the session
/// received it, whether it came from the backlog, and its parameters, once it is written.
async fn feed_ts_counting<W: AsyncWrite + Unpin>(
    sub: Subscription,
    out: &mut W,
    mut on_packet: impl FnMut(&Packet, Instant, bool, &Arc<StreamInfo>),
) -> FeedEnd {
    let mut mux = TsMuxer::new(&sub.info);
    let mut buf = Vec::with_capacity(256 * 1024);
    mux.tables(&mut buf);
    for p in &sub.backlog {
        mux.write(p, &mut buf);
    }
    if let Err(e) = out.write_all(&buf).await {
        return FeedEnd::WriteFailed(e);
    }
    for (p, at) in sub.backlog.iter().zip(&sub.backlog_arrivals) {
        on_packet(p, *at, true, &sub.info);
    }
    let mut live = sub.live;
    loop {
        let ev = match live.recv().await {
            Ok(ev) => ev,
            Err(end) => {
                let _ = out.flush().await;
                return FeedEnd::Ended(end);
            }
        };
        buf.clear();
        match ev {
            Event::Info(info) => {
                mux.set_info(&info);
                continue;
            }
            Event::Packet(p) => {
                mux.write(&p, &mut buf);
                if let Err(e) = out.write_all(&buf).await {
                    return FeedEnd::WriteFailed(e);
                }
                let info = live.info().clone();
                on_packet(
                    &p,
                    live.arrival().unwrap_or_else(Instant::now),
                    false,
                    &info,
                );
            }
        }
    }
}

/// The bytes a browser preview receives.
#[derive(Debug, Clone)]
pub enum PreviewChunk {
    /// Start (again) with this init segment; `mime` goes to `addSourceBuffer`.
    Init { mime: String, data: Bytes },
    /// One `moof`+`mdat` fragment (one packet); `keyframe` when it holds a video keyframe,
    /// where a viewer that joins or lags can start.
    Media { data: Bytes, keyframe: bool },
}

/// A subscription as fragmented MP4: first an init segment, then one fragment per packet
/// (the backlog from the cached keyframe at once, then live). New parameters bring a new init
/// segment.
pub struct Fmp4Preview {
    mux: Mp4Muxer,
    backlog: VecDeque<Packet>,
    init_sent: bool,
    live: super::fanout::Receiver,
}

impl Fmp4Preview {
    pub fn new(sub: Subscription) -> Self {
        Fmp4Preview {
            mux: Mp4Muxer::new(&sub.info),
            backlog: sub.backlog.into(),
            init_sent: false,
            live: sub.live,
        }
    }

    /// The MIME type of the current init segment.
    pub fn mime(&self) -> String {
        self.mux.mime()
    }

    fn fragment(&mut self, p: &Packet) -> Option<PreviewChunk> {
        let mut out = Vec::new();
        self.mux.write(p, &mut out);
        (!out.is_empty()).then(|| PreviewChunk::Media {
            data: Bytes::from(out),
            keyframe: p.is_video_keyframe(),
        })
    }

    /// The next chunk; waits for live packets. Cancel-safe once the init and backlog are out.
    pub async fn next(&mut self) -> Result<PreviewChunk, End> {
        if !self.init_sent {
            self.init_sent = true;
            return Ok(PreviewChunk::Init {
                mime: self.mux.mime(),
                data: Bytes::from(self.mux.init_segment()),
            });
        }
        while let Some(p) = self.backlog.pop_front() {
            if let Some(chunk) = self.fragment(&p) {
                return Ok(chunk);
            }
        }
        loop {
            match self.live.recv().await? {
                Event::Info(info) => {
                    self.mux = Mp4Muxer::new(&info);
                    return Ok(PreviewChunk::Init {
                        mime: self.mux.mime(),
                        data: Bytes::from(self.mux.init_segment()),
                    });
                }
                Event::Packet(p) => {
                    if let Some(chunk) = self.fragment(&p) {
                        return Ok(chunk);
                    }
                }
            }
        }
    }
}

/// Reads `len` bytes or fails at end of stream.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(false);
        }
        filled += n;
    }
    Ok(true)
}

/// The FFmpeg arguments of a decoder reading MPEG-TS on stdin and writing `yuv420p` frames
/// of `width`x`height` (letterboxed, never stretched) on stdout, one per input frame.
pub fn decoder_args(width: u32, height: u32) -> Vec<String> {
    let (w, h) = (width, height);
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        // The cached keyframe and the packets after it arrive at once: the decoder catches up
        // to live faster than real time. No `-fflags nobuffer`: it drops the packets read
        // while probing, the cached keyframe among them, and the first picture then waits
        // for the camera's next keyframe (a whole GOP).
        "-flags",
        "low_delay",
        // Each PES is one access unit (the hub's muxer writes them so): without the parser,
        // which only ends a frame when it sees the next one start, a frame comes out as soon
        // as its packet is in, a frame interval sooner.
        "-fflags",
        "noparse",
        // The stream is ours and starts with PAT, PMT and a keyframe with SPS/PPS: no need
        // to wait for 5 s or 5 MB of it (a larger probe size waits for that many bytes of a
        // live stream before the first picture).
        "-probesize",
        "32",
        "-analyzeduration",
        "0",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
    ]
    .map(String::from)
    .to_vec();
    a.push(format!(
        "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    ));
    a.extend(
        [
            "-pix_fmt",
            "yuv420p",
            // One output frame per input frame: frame N on stdout is packet N on stdin.
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

/// How a [`HubDecoder`] runs.
#[derive(Debug, Clone)]
pub struct DecoderOptions {
    pub width: u32,
    pub height: u32,
    pub ffmpeg: PathBuf,
    /// The shared-memory decoder (`vistterstream-decoder`): it decodes as `ffmpeg` would
    /// with [`decoder_args`], but its pictures stay in memory it shares with the appliance
    /// instead of crossing a pipe ([`super::shared`]). `None`: FFmpeg through a pipe.
    pub worker: Option<PathBuf>,
    /// Counted as this kind of consumer of the session.
    pub kind: ConsumerKind,
    /// The subscription's lag bound (a decoder that falls this far behind skips ahead).
    pub max_delay: Duration,
    /// Frames buffered for the reader of [`HubDecoder::next_frame`]; older ones are dropped
    /// when it does not keep up (a program takes the newest frame anyway).
    pub queue: usize,
    /// Packets went in but no frame came out for this long: the decoder is stuck and is
    /// restarted. A decoder whose camera is silent (an outage) is idle, not stuck: it keeps
    /// its run and its subscription, and decodes again as soon as packets flow.
    pub stall_timeout: Duration,
    /// Where the audio packets fed to the decoder go as well (the decoder itself outputs
    /// video only): a program decodes and mixes camera audio from them.
    pub audio_tap: Option<AudioTap>,
}

/// An audio packet seen by a [`HubDecoder`]'s feed.
#[derive(Debug, Clone)]
pub struct TappedAudio {
    pub packet: Packet,
    pub info: Arc<StreamInfo>,
    /// When the session received it.
    pub arrival: Instant,
    /// It came from the subscription's backlog (the cached GOP), not live.
    pub backlog: bool,
}

/// The receiving end is read by whoever mixes the audio; packets sent while nobody reads
/// are dropped with the channel.
#[derive(Clone)]
pub struct AudioTap(pub tokio::sync::mpsc::UnboundedSender<TappedAudio>);

impl AudioTap {
    fn send(&self, packet: &Packet, info: &Arc<StreamInfo>, arrival: Instant, backlog: bool) {
        let _ = self.0.send(TappedAudio {
            packet: packet.clone(),
            info: info.clone(),
            arrival,
            backlog,
        });
    }
}

impl std::fmt::Debug for AudioTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioTap")
    }
}

impl DecoderOptions {
    pub fn new(width: u32, height: u32) -> Self {
        DecoderOptions {
            width,
            height,
            ffmpeg: "ffmpeg".into(),
            worker: None,
            kind: ConsumerKind::Program,
            max_delay: Duration::from_secs(1),
            queue: 4,
            stall_timeout: Duration::from_secs(10),
            audio_tap: None,
        }
    }
}

/// One decoded picture.
#[derive(Debug, Clone)]
pub struct DecodedFrame {
    /// `width * height * 3 / 2` bytes of `yuv420p`.
    pub data: Bytes,
    /// Counts the decoder's runs (a new run after the decoder or the source restarted).
    pub run: u64,
    /// Frame number within the run.
    pub index: u64,
    /// This frame comes from the newest packet the session had when the run subscribed, or a
    /// later one: the decoder has caught up with the cached backlog.
    pub live: bool,
    /// Video packets written to the decoder after this frame's packet, when it came out: 0 or
    /// 1 means the picture is current.
    pub behind: u64,
    /// When the session received this frame's packet (for a frame of the backlog, up to a
    /// GOP ago; after an outage, that long ago).
    pub arrival: Instant,
}

/// A decoder's progress, for takes and the status page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DecoderStatus {
    pub run: u64,
    /// The current run has produced a live frame.
    pub caught_up: bool,
    pub frames: u64,
    /// Video frames of the backlog the current run started from.
    pub backlog_frames: u64,
    /// From subscribing to the first live frame, for the current run.
    pub catch_up: Option<Duration>,
    /// From subscribing to the first frame out.
    pub first_frame: Option<Duration>,
    pub last_error: Option<String>,
}

/// The newest decoded frames, oldest dropped first when the reader is slow.
struct FrameQueue {
    frames: Mutex<VecDeque<DecodedFrame>>,
    capacity: usize,
    ready: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl FrameQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DecodedFrame>> {
        self.frames.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, frame: DecodedFrame) {
        {
            let mut q = self.lock();
            q.push_back(frame);
            while q.len() > self.capacity {
                q.pop_front();
            }
        }
        self.ready.notify_one();
    }

    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.ready.notify_one();
    }
}

/// The supervisor's own progress deadlines for a decoder: never (see `HubDecoder::start`).
const IDLE_IS_FINE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Packets a decoder may keep without a frame out while no more come.
const DECODER_HOLDS: usize = 4;

/// A camera decoded to raw frames from its hub session.
pub struct HubDecoder {
    frames: Arc<FrameQueue>,
    status: watch::Receiver<DecoderStatus>,
    handle: SupervisorHandle,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl HubDecoder {
    /// Starts decoding; frames come once the session has a keyframe.
    pub fn start(
        session: CameraSession,
        opts: DecoderOptions,
        deps: Deps,
        shutdown: CancellationToken,
    ) -> HubDecoder {
        let cancel = shutdown.child_token();
        let spec = Self::process_spec(&opts, session.camera_id());
        let config = SupervisorConfig {
            // The child has nothing to do while the camera is away (before its first keyframe,
            // during an outage): FFmpeg's own progress cannot tell idle from stuck, so the run
            // watches its input and output instead (`DecoderOptions::stall_timeout`).
            startup_timeout: IDLE_IS_FINE,
            stall_timeout: IDLE_IS_FINE,
            backoff: crate::backoff::BackoffPolicy {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
                ..crate::backoff::BackoffPolicy::default()
            },
            ..SupervisorConfig::default()
        };
        let mut sup = supervise(spec, config, deps, cancel.clone());
        let frames = Arc::new(FrameQueue {
            frames: Mutex::new(VecDeque::new()),
            capacity: opts.queue.max(1),
            ready: Notify::new(),
            closed: Default::default(),
        });
        let frames_tx = frames.clone();
        let (status_tx, status) = watch::channel(DecoderStatus::default());
        let handle = sup.handle.clone();
        let driver_cancel = cancel.clone();
        let task = tokio::spawn(async move {
            if sup.handle.start().await.is_err() {
                return;
            }
            let mut runs: Vec<tokio::task::JoinHandle<()>> = Vec::new();
            loop {
                let io = tokio::select! {
                    _ = driver_cancel.cancelled() => break,
                    io = sup.media.recv() => match io { Some(io) => io, None => break },
                };
                // The previous run's tasks end with its pipes; drop their handles.
                runs.retain(|t| !t.is_finished());
                let (Some(stdin), Some(stdout)) = (io.stdin, io.stdout) else {
                    continue;
                };
                let output = match (&opts.worker, io.extra_input, io.pid) {
                    (Some(_), Some(back), Some(pid)) => Output::Worker { stdout, back, pid },
                    (Some(_), _, _) => continue,
                    (None, _, _) => Output::Pipe(stdout),
                };
                runs.push(tokio::spawn(decoder_run(
                    session.clone(),
                    opts.clone(),
                    io.run,
                    stdin,
                    output,
                    frames_tx.clone(),
                    status_tx.clone(),
                    sup.handle.clone(),
                    driver_cancel.clone(),
                )));
            }
            for t in runs {
                t.abort();
            }
            let _ = sup.handle.stop().await;
            let _ = sup.task.await;
            frames_tx.close();
        });
        HubDecoder {
            frames,
            status,
            handle,
            cancel,
            task,
        }
    }

    /// The decoder child of camera `camera_id`: its command depends on `opts` alone (it reads
    /// the camera's packets on stdin), so a spawner may have started it ahead of time.
    pub fn process_spec(opts: &DecoderOptions, camera_id: i64) -> ProcessSpec {
        let name = format!("hub decoder camera {camera_id}");
        let spec = match &opts.worker {
            Some(worker) => {
                let mut spec = ProcessSpec::new(name, worker.clone())
                    .args([
                        opts.width.to_string(),
                        opts.height.to_string(),
                        worker_slots(opts).to_string(),
                    ])
                    .progress(ProgressSource::None);
                // Where the appliance gives the slots back.
                spec.extra_input = true;
                spec
            }
            None => ProcessSpec::new(name, opts.ffmpeg.clone())
                .args(decoder_args(opts.width, opts.height))
                .progress(ProgressSource::Fd3),
        };
        spec.stdin(StdinMode::Media).stdout(StdoutMode::Media)
    }

    /// The next decoded frame (`None` once stopped). A reader that does not keep up loses
    /// the oldest frames (at most `DecoderOptions::queue` wait), never blocks the decoder.
    pub async fn next_frame(&mut self) -> Option<DecodedFrame> {
        loop {
            if let Some(f) = self.frames.lock().pop_front() {
                return Some(f);
            }
            if self
                .frames
                .closed
                .load(std::sync::atomic::Ordering::Acquire)
            {
                return None;
            }
            self.frames.ready.notified().await;
        }
    }

    /// Drops every queued frame and returns the newest, if any.
    pub fn newest_frame(&mut self) -> Option<DecodedFrame> {
        let mut q = self.frames.lock();
        let newest = q.pop_back();
        q.clear();
        newest
    }

    pub fn status(&self) -> DecoderStatus {
        self.status.borrow().clone()
    }

    pub fn watch_status(&self) -> watch::Receiver<DecoderStatus> {
        self.status.clone()
    }

    /// The supervisor of the FFmpeg child (pid, restarts, last error).
    pub fn process(&self) -> &SupervisorHandle {
        &self.handle
    }

    /// Stops the child and the driver.
    pub async fn stop(self) {
        let _ = self.handle.stop().await;
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// The slots of a decode worker: the frames its reader may queue, plus the frame on air, the
/// ones in the encoder's pipe and one being written, so that a full queue (which drops its
/// oldest frame, giving its slot back) never leaves the worker waiting for a slot.
fn worker_slots(opts: &DecoderOptions) -> usize {
    opts.queue.max(1) + 4
}

/// Where a decoder run's pictures come from.
enum Output {
    /// FFmpeg's raw frames on its stdout.
    Pipe(crate::spawner::BoxRead),
    /// A decode worker's records on its stdout, its slots given back on `back`.
    Worker {
        stdout: crate::spawner::BoxRead,
        back: crate::spawner::BoxWrite,
        pid: u32,
    },
}

/// The pictures of a run, one at a time.
enum Pictures {
    Pipe {
        stdout: crate::spawner::BoxRead,
        frame_len: usize,
    },
    Worker(super::shared::SharedReader),
}

impl Pictures {
    /// Not cancel-safe: a picture read halfway is lost. Keep one future across select! rounds.
    async fn next(&mut self) -> std::io::Result<Option<Bytes>> {
        match self {
            Pictures::Pipe { stdout, frame_len } => {
                let mut buf = crate::framepool::PooledFrame::take(*frame_len);
                Ok(read_frame(stdout, buf.as_mut())
                    .await?
                    .then(|| buf.into_bytes()))
            }
            Pictures::Worker(reader) => reader.next().await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn decoder_run(
    session: CameraSession,
    opts: DecoderOptions,
    run: u64,
    mut stdin: crate::spawner::BoxWrite,
    output: Output,
    frames: Arc<FrameQueue>,
    status: watch::Sender<DecoderStatus>,
    handle: SupervisorHandle,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    // Waits as long as the camera is away, but not past this run's life.
    let mut process = handle.subscribe();
    let run_over = async move {
        let _ = process
            .wait_for(|st| st.run != run || !st.is_active())
            .await;
    };
    let sub = tokio::select! {
        _ = cancel.cancelled() => return,
        _ = run_over => return,
        s = session.subscribe_with(opts.kind, opts.max_delay, Duration::from_secs(3600)) => s,
    };
    let sub = match sub {
        Ok(s) => s,
        Err(e) => {
            status.send_modify(|s| s.last_error = Some(e.message.clone()));
            // Closing stdin ends the run; the supervisor starts another after its backoff.
            return;
        }
    };
    let backlog_frames = sub.backlog_video_frames() as u64;
    status.send_modify(|s| {
        *s = DecoderStatus {
            run,
            backlog_frames,
            last_error: s.last_error.clone(),
            ..DecoderStatus::default()
        }
    });
    // (written at, received by the session) of the video packets written and not decoded
    // yet, in order: frame N is packet N.
    let written: Arc<Mutex<VecDeque<(Instant, Instant)>>> = Arc::default();
    let total_written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (w, t) = (written.clone(), total_written.clone());
    let audio_tap = opts.audio_tap.clone();
    let writer = tokio::spawn(async move {
        let end = feed_ts_counting(sub, &mut stdin, move |p, arrival, backlog, info| {
            if !p.is_video() {
                if let Some(tap) = &audio_tap {
                    tap.send(p, info, arrival, backlog);
                }
                return;
            }
            w.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back((Instant::now(), arrival));
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .await;
        drop(stdin);
        end
    });

    let frame_len = (opts.width * opts.height * 3 / 2) as usize;
    let mut pictures = match output {
        Output::Pipe(stdout) => Pictures::Pipe { stdout, frame_len },
        Output::Worker { stdout, back, pid } => {
            match super::shared::SharedReader::start(stdout, back, pid, opts.width, opts.height)
                .await
            {
                Ok(reader) => Pictures::Worker(reader),
                Err(e) => {
                    status.send_modify(|s| {
                        s.last_error = Some(format!("decode worker: {e}"));
                    });
                    writer.abort();
                    let _ = handle.restart().await;
                    return;
                }
            }
        }
    };
    let mut index = 0u64;
    let mut watchdog = tokio::time::interval(Duration::from_millis(500));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // One read future across the watchdog's ticks: a read dropped halfway would lose the
        // alignment of the frames.
        let got = {
            let read = pictures.next();
            tokio::pin!(read);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break None,
                    r = &mut read => break Some(r),
                    _ = watchdog.tick() => {
                        // FFmpeg holds a packet or two until the next ones come (demuxer and
                        // decoder delay), which during an outage may be for minutes; more than
                        // that, waiting this long, is a stuck decoder.
                        let stuck = written
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(DECODER_HOLDS)
                            .is_some_and(|(at, _)| at.elapsed() >= opts.stall_timeout);
                        if stuck {
                            status.send_modify(|s| {
                                s.last_error = Some(format!(
                                    "stalled: packets in, no frame out for {}s",
                                    opts.stall_timeout.as_secs_f64()
                                ))
                            });
                            let _ = handle.restart().await;
                            break None;
                        }
                    }
                }
            }
        };
        let data = match got {
            Some(Ok(Some(data))) => data,
            _ => break,
        };
        let arrival = written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .map(|(_, arrival)| arrival)
            .unwrap_or_else(Instant::now);
        let behind = total_written
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(index + 1);
        let live = index + 1 >= backlog_frames;
        let elapsed = started.elapsed();
        status.send_modify(|s| {
            s.frames = index + 1;
            if s.first_frame.is_none() {
                s.first_frame = Some(elapsed);
            }
            if live && !s.caught_up {
                s.caught_up = true;
                s.catch_up = Some(elapsed);
            }
        });
        let frame = DecodedFrame {
            data,
            run,
            index,
            live,
            behind,
            arrival,
        };
        frames.push(frame);
        index += 1;
    }
    writer.abort();
    if let Ok(FeedEnd::Ended(end)) = writer.await {
        status.send_modify(|s| s.last_error = Some(format!("subscription ended: {end}")));
        if end == End::SourceChanged {
            // A new source: a new run (a new subscription) right away, not after a backoff.
            let _ = handle.restart().await;
        }
    }
}

/// How [`snapshot_from_cache`] decodes.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Output size; `None` keeps the camera's.
    pub size: Option<(u32, u32)>,
    /// Decode the whole cache and keep its newest picture instead of the cached keyframe (up
    /// to a GOP older).
    pub newest: bool,
    pub ffmpeg: PathBuf,
    pub timeout: Duration,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            size: None,
            newest: false,
            ffmpeg: "ffmpeg".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The FFmpeg arguments of a one-shot JPEG from MPEG-TS on stdin.
pub fn snapshot_args(size: Option<(u32, u32)>, select_index: Option<usize>) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-map",
        "0:v:0",
        "-an",
    ]
    .map(String::from)
    .to_vec();
    let mut filters = Vec::new();
    if let Some(n) = select_index.filter(|n| *n > 0) {
        filters.push(format!("select=eq(n\\,{n})"));
    }
    if let Some((w, h)) = size {
        filters.push(format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
        ));
    }
    if !filters.is_empty() {
        a.push("-vf".into());
        a.push(filters.join(","));
    }
    a.extend(
        [
            "-frames:v",
            "1",
            "-c:v",
            "mjpeg",
            "-q:v",
            "3",
            "-f",
            "image2pipe",
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

/// A JPEG of the camera from the session's keyframe cache (no camera connection): the cached
/// keyframe, or with `newest` the newest cached picture.
pub async fn snapshot_from_cache(
    session: &CameraSession,
    opts: &SnapshotOptions,
    spawner: &dyn Spawner,
) -> Result<Vec<u8>> {
    let _guard = session.consumer(ConsumerKind::Snapshot);
    let (info, packets) = session.cached().ok_or_else(|| {
        Error::new(
            ErrorKind::Unavailable,
            format!("camera {} has no picture yet", session.camera_id()),
        )
    })?;
    snapshot_of(&info, &packets, opts, spawner, session.camera_id()).await
}

async fn snapshot_of(
    info: &StreamInfo,
    packets: &[Packet],
    opts: &SnapshotOptions,
    spawner: &dyn Spawner,
    camera_id: i64,
) -> Result<Vec<u8>> {
    let video: Vec<&Packet> = packets.iter().filter(|p| p.is_video()).collect();
    let take = if opts.newest { video.len() } else { 1 };
    let mut mux = TsMuxer::new(info);
    let mut ts = Vec::new();
    mux.tables(&mut ts);
    for p in video.iter().take(take) {
        mux.write(p, &mut ts);
    }
    let select = opts.newest.then(|| take.saturating_sub(1));
    let spec = ProcessSpec::new(
        format!("hub snapshot camera {camera_id}"),
        opts.ffmpeg.clone(),
    )
    .args(snapshot_args(opts.size, select))
    .progress(ProgressSource::None)
    .stdin(StdinMode::Media)
    .stdout(StdoutMode::Media);
    let mut child = spawner
        .spawn(&spec)
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot start FFmpeg: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr;
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&ts).await;
        let _ = stdin.shutdown().await;
    });
    let work = async {
        let mut jpeg = Vec::new();
        stdout.read_to_end(&mut jpeg).await?;
        let exit = child.control.wait().await?;
        Ok::<_, std::io::Error>((jpeg, exit))
    };
    let result = tokio::time::timeout(opts.timeout, work).await;
    writer.abort();
    let (jpeg, exit) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let _ = child.control.kill();
            return Err(Error::internal(e));
        }
        Err(_) => {
            let _ = child.control.kill();
            let _ = child.control.wait().await;
            return Err(Error::timeout(
                "the snapshot decoder did not finish in time",
            ));
        }
    };
    if !exit.success() || !jpeg.starts_with(&[0xff, 0xd8]) {
        let mut lines = Vec::new();
        while let Ok(l) = stderr.try_recv() {
            lines.push(spec.redact(&l));
        }
        return Err(Error::new(
            ErrorKind::Internal,
            format!("snapshot decoder failed ({exit}): {}", lines.join(" | ")),
        ));
    }
    Ok(jpeg)
}
