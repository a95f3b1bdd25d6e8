//! `ffprobe` helpers: what a file or URL carries (codecs, size, audio) and its packet
//! timestamps (monotonic? largest gap?).

use std::ffi::OsStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::process::Command;

/// Longest a single ffprobe run may take (a live RTSP URL included).
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Video,
    Audio,
}

impl StreamKind {
    fn selector(self) -> &'static str {
        match self {
            StreamKind::Video => "v:0",
            StreamKind::Audio => "a:0",
        }
    }
}

/// One elementary stream as ffprobe describes it.
#[derive(Debug, Clone)]
pub struct ProbedStream {
    pub index: u32,
    /// `video`, `audio`, `data`, ...
    pub codec_type: String,
    /// `h264`, `aac`, ...
    pub codec_name: String,
    pub profile: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// From `avg_frame_rate`, else `r_frame_rate`.
    pub frame_rate: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

/// `ffprobe -show_streams -show_format` of a file or URL.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub streams: Vec<ProbedStream>,
    pub format_name: String,
    /// Container duration in seconds, when known (files).
    pub duration: Option<f64>,
}

impl StreamInfo {
    /// The first video stream.
    pub fn video(&self) -> Option<&ProbedStream> {
        self.streams.iter().find(|s| s.codec_type == "video")
    }

    /// The first audio stream.
    pub fn audio(&self) -> Option<&ProbedStream> {
        self.streams.iter().find(|s| s.codec_type == "audio")
    }

    /// Codec names in stream order, e.g. `["h264", "aac"]`.
    pub fn codec_names(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.codec_name.clone()).collect()
    }

    pub fn video_codec(&self) -> Option<&str> {
        self.video().map(|s| s.codec_name.as_str())
    }

    pub fn audio_codec(&self) -> Option<&str> {
        self.audio().map(|s| s.codec_name.as_str())
    }

    pub fn has_audio(&self) -> bool {
        self.audio().is_some()
    }

    pub fn width(&self) -> Option<u32> {
        self.video().and_then(|s| s.width)
    }

    pub fn height(&self) -> Option<u32> {
        self.video().and_then(|s| s.height)
    }
}

/// Runs ffprobe with `args` then `input`, returns its JSON. Fails with ffprobe's stderr (e.g.
/// "401 Unauthorized", "Connection refused").
async fn ffprobe_json(args: &[&str], input: &OsStr) -> Result<Value> {
    let ffprobe = crate::require("ffprobe");
    let mut cmd = Command::new(ffprobe);
    cmd.args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(input)
        .kill_on_drop(true);
    cmd.stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(PROBE_TIMEOUT, cmd.output())
        .await
        .with_context(|| {
            format!(
                "ffprobe {} timed out after {PROBE_TIMEOUT:?}",
                input.to_string_lossy()
            )
        })?
        .context("run ffprobe")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "ffprobe {} failed ({}): {}",
            input.to_string_lossy(),
            out.status,
            stderr.trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("ffprobe output is not JSON; stderr: {stderr}"))
}

fn num<T: std::str::FromStr>(v: &Value) -> Option<T> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn rate(v: &Value) -> Option<f64> {
    let s = v.as_str()?;
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

/// Codecs, size and audio of a file or URL (`rtsp://`, `rtmp://`, a path).
pub async fn probe_streams(input: impl AsRef<OsStr>) -> Result<StreamInfo> {
    let input = input.as_ref();
    // A live URL needs less than ffprobe's default 5 s of analysis: the cameras' SPS carry
    // the frame rate. Halves the time of a probe.
    let live = input.to_string_lossy().contains("://");
    let args: &[&str] = if live {
        &[
            "-analyzeduration",
            "1000000",
            "-show_streams",
            "-show_format",
        ]
    } else {
        &["-show_streams", "-show_format"]
    };
    let json = ffprobe_json(args, input).await?;
    let streams = json["streams"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|s| ProbedStream {
            index: num(&s["index"]).unwrap_or(0),
            codec_type: s["codec_type"].as_str().unwrap_or_default().to_owned(),
            codec_name: s["codec_name"].as_str().unwrap_or_default().to_owned(),
            profile: s["profile"].as_str().map(str::to_owned),
            width: num(&s["width"]),
            height: num(&s["height"]),
            frame_rate: rate(&s["avg_frame_rate"]).or_else(|| rate(&s["r_frame_rate"])),
            sample_rate: num(&s["sample_rate"]),
            channels: num(&s["channels"]),
        })
        .collect();
    Ok(StreamInfo {
        streams,
        format_name: json["format"]["format_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        duration: num(&json["format"]["duration"]),
    })
}

/// One packet's timing, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packet {
    pub pts: Option<f64>,
    pub dts: Option<f64>,
    pub duration: Option<f64>,
    pub keyframe: bool,
    pub size: u64,
}

impl Packet {
    /// Decode timestamp, or the presentation one when the container has no DTS.
    pub fn time(&self) -> Option<f64> {
        self.dts.or(self.pts)
    }
}

/// The largest distance between two consecutive packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// Time of the packet before the gap.
    pub after: f64,
    /// Seconds to the next packet.
    pub seconds: f64,
}

/// Packets of one stream, in file order.
#[derive(Debug, Clone)]
pub struct PacketTimes {
    pub kind: StreamKind,
    pub packets: Vec<Packet>,
}

impl PacketTimes {
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// [`Packet::time`] of every packet that has one.
    pub fn times(&self) -> Vec<f64> {
        self.packets.iter().filter_map(Packet::time).collect()
    }

    pub fn pts(&self) -> Vec<Option<f64>> {
        self.packets.iter().map(|p| p.pts).collect()
    }

    pub fn dts(&self) -> Vec<Option<f64>> {
        self.packets.iter().map(|p| p.dts).collect()
    }

    /// Times of the key frames.
    pub fn keyframe_times(&self) -> Vec<f64> {
        self.packets
            .iter()
            .filter(|p| p.keyframe)
            .filter_map(Packet::time)
            .collect()
    }

    /// Last time minus first time, in seconds.
    pub fn span(&self) -> f64 {
        let t = self.times();
        match (t.first(), t.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }

    /// `Ok` when every packet has a time and each is strictly greater than the previous one
    /// (what a muxer and YouTube require); otherwise says where it goes wrong.
    pub fn check_monotonic(&self) -> Result<()> {
        self.check(|prev, t| t > prev, "not strictly increasing")
    }

    /// Like [`Self::check_monotonic`] but allows equal consecutive times.
    pub fn check_non_decreasing(&self) -> Result<()> {
        self.check(|prev, t| t >= prev, "decreasing")
    }

    fn check(&self, ok: impl Fn(f64, f64) -> bool, what: &str) -> Result<()> {
        if self.packets.is_empty() {
            bail!("no {:?} packets", self.kind);
        }
        let mut prev: Option<f64> = None;
        for (i, p) in self.packets.iter().enumerate() {
            let Some(t) = p.time() else {
                bail!("{:?} packet #{i} has no timestamp", self.kind)
            };
            if let Some(prev) = prev {
                if !ok(prev, t) {
                    bail!(
                        "{:?} timestamps {what} at packet #{i}: {prev} then {t}",
                        self.kind
                    );
                }
            }
            prev = Some(t);
        }
        Ok(())
    }

    /// Panics (with the offending packet) unless [`Self::check_monotonic`] passes.
    #[track_caller]
    pub fn assert_monotonic(&self) {
        if let Err(e) = self.check_monotonic() {
            panic!("{e}");
        }
    }

    /// The largest distance between consecutive packet times (`None` with fewer than two).
    pub fn largest_gap(&self) -> Option<Gap> {
        self.times()
            .windows(2)
            .map(|w| Gap {
                after: w[0],
                seconds: w[1] - w[0],
            })
            .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }

    /// Panics unless no two consecutive packets are more than `max_seconds` apart.
    #[track_caller]
    pub fn assert_max_gap(&self, max_seconds: f64) {
        if let Some(g) = self.largest_gap() {
            assert!(
                g.seconds <= max_seconds,
                "{:?} gap of {:.3} s after t={:.3} (max {max_seconds} s)",
                self.kind,
                g.seconds,
                g.after
            );
        }
    }
}

async fn packets(
    input: &OsStr,
    kind: StreamKind,
    read_seconds: Option<f64>,
) -> Result<PacketTimes> {
    let interval = read_seconds.map(|s| format!("%+{s}"));
    let mut args = vec![
        "-select_streams",
        kind.selector(),
        "-show_entries",
        "packet=pts_time,dts_time,duration_time,flags,size",
    ];
    if let Some(i) = &interval {
        args.extend(["-read_intervals", i.as_str()]);
    }
    let json = ffprobe_json(&args, input).await?;
    let packets = json["packets"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| Packet {
            pts: num(&p["pts_time"]),
            dts: num(&p["dts_time"]),
            duration: num(&p["duration_time"]),
            keyframe: p["flags"].as_str().is_some_and(|f| f.contains('K')),
            size: num(&p["size"]).unwrap_or(0),
        })
        .collect();
    Ok(PacketTimes { kind, packets })
}

/// Timestamps of every packet of the first video or audio stream of a file.
pub async fn packet_times(input: impl AsRef<OsStr>, kind: StreamKind) -> Result<PacketTimes> {
    packets(input.as_ref(), kind, None).await
}

/// Timestamps of the packets of a live URL during about `seconds` of stream time.
///
/// Leading packets without a timestamp are dropped: FFmpeg's RTSP demuxer gives the very
/// first packet none (it has no timing reference yet), whatever the server sends.
pub async fn packet_times_live(url: &str, kind: StreamKind, seconds: f64) -> Result<PacketTimes> {
    let mut times = packets(OsStr::new(url), kind, Some(seconds)).await?;
    let untimed = times
        .packets
        .iter()
        .take_while(|p| p.time().is_none())
        .count();
    times.packets.drain(..untimed);
    Ok(times)
}

/// Number of decoded video frames (decodes the whole input: files only).
pub async fn frame_count(input: impl AsRef<OsStr>) -> Result<u64> {
    let json = ffprobe_json(
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ],
        input.as_ref(),
    )
    .await?;
    num(&json["streams"][0]["nb_read_frames"])
        .context("ffprobe gave no nb_read_frames (no video stream?)")
}

/// Number of packets of the first stream of `kind` (no decoding: fast).
pub async fn packet_count(input: impl AsRef<OsStr>, kind: StreamKind) -> Result<u64> {
    let json = ffprobe_json(
        &[
            "-count_packets",
            "-select_streams",
            kind.selector(),
            "-show_entries",
            "stream=nb_read_packets",
        ],
        input.as_ref(),
    )
    .await?;
    num(&json["streams"][0]["nb_read_packets"])
        .with_context(|| format!("ffprobe found no {kind:?} stream"))
}
