//! The FFmpeg command lines of a program: camera ingest (decode to raw frames at the program's
//! size and rate), the program encoder (raw frames + silent AAC in, MPEG-TS out) and egress
//! (MPEG-TS in, FLV to one destination, no re-encode).

use super::{ProgramConfig, SourceSpec};

/// How long a network read may block before FFmpeg gives up (microseconds): a camera that
/// stops sending must end its ingest so the supervisor can reconnect.
pub const NETWORK_TIMEOUT_US: u64 = 5_000_000;

/// Ingest: one camera decoded to `yuv420p` frames of exactly the program's size and rate on
/// stdout. The picture is letterboxed, never stretched, when the aspect ratios differ.
pub fn ingest_args(cfg: &ProgramConfig, src: &SourceSpec) -> Vec<String> {
    let (w, h, fps) = (cfg.width, cfg.height, cfg.fps);
    let mut a: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into()];
    a.extend(["-loglevel", "error"].map(String::from));
    // Decode what arrives now instead of buffering for smoothness, and probe half a second
    // instead of five: a cold take goes on air about a second sooner. FFmpeg still waits for
    // a key frame before it outputs anything, so no broken picture goes on air.
    a.extend(
        [
            "-fflags",
            "nobuffer",
            "-flags",
            "low_delay",
            "-analyzeduration",
            "500000",
        ]
        .map(String::from),
    );
    let timeout = NETWORK_TIMEOUT_US.to_string();
    if src.rtsp {
        a.extend(["-rtsp_transport", "tcp", "-timeout", &timeout].map(String::from));
    } else if src.url.contains("://") {
        a.extend(["-rw_timeout", &timeout].map(String::from));
    }
    a.extend(["-i".to_string(), src.url.clone()]);
    a.extend(["-map", "0:v:0", "-an", "-sn", "-dn"].map(String::from));
    a.extend([
        "-vf".into(),
        format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,\
             pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        ),
    ]);
    a.extend(
        [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            &format!("{w}x{h}"),
            "-r",
            &fps.to_string(),
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

/// The options specific to each H.264 encoder (those `probe_encoders` may select).
fn video_codec_args(encoder: &str) -> Vec<String> {
    let v: &[&str] = match encoder {
        "libx264" => &[
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-sc_threshold",
            "0",
        ],
        "h264_nvenc" => &["-preset", "p3", "-tune", "ll", "-zerolatency", "1"],
        "h264_qsv" => &["-preset", "veryfast"],
        "h264_videotoolbox" => &["-realtime", "1"],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// The program encoder: raw frames on stdin (video), silent stereo AAC (audio, always present
/// because YouTube drops video-only streams), H.264 at a fixed GOP of two seconds, MPEG-TS on
/// stdout for the fan-out.
pub fn encoder_args(cfg: &ProgramConfig) -> Vec<String> {
    let (w, h, fps) = (cfg.width, cfg.height, cfg.fps);
    let enc = cfg.encoder.as_str();
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    if enc.ends_with("_vaapi") {
        a.extend(["-vaapi_device", "/dev/dri/renderD128"].map(String::from));
    }
    a.extend(
        [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            &format!("{w}x{h}"),
            "-r",
            &fps.to_string(),
            // Frames arrive paced by the program clock; a short queue would only add
            // "thread message queue blocking" warnings when the encoder hiccups.
            "-thread_queue_size",
            "64",
            "-i",
            "pipe:0",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=48000:cl=stereo",
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
        ]
        .map(String::from),
    );
    if enc.ends_with("_vaapi") {
        a.extend(["-vf", "format=nv12,hwupload"].map(String::from));
    } else {
        a.extend(["-pix_fmt", "yuv420p"].map(String::from));
    }
    let kbps = cfg.video_bitrate_kbps;
    let gop = (2 * fps).to_string();
    a.extend(["-c:v".to_string(), enc.to_string()]);
    a.extend(video_codec_args(enc));
    a.extend(
        [
            "-b:v",
            &format!("{kbps}k"),
            "-maxrate",
            &format!("{kbps}k"),
            "-bufsize",
            &format!("{}k", 2 * kbps),
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            // No B-frames: no reordering delay and DTS = PTS, which the egress copies as is.
            "-bf",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            &format!("{}k", cfg.audio_bitrate_kbps),
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "mpegts",
            "-flush_packets",
            "1",
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

/// Egress: the encoder's MPEG-TS from stdin, copied (no re-encode) as FLV to one
/// destination. FFmpeg's copy starts at the first key frame, so a destination attached or
/// re-attached mid-stream starts cleanly.
pub fn egress_args(url: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    a.extend(
        [
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
            // Live: never seek back to patch the header.
            "-flvflags",
            "no_duration_filesize",
            "-rw_timeout",
            "10000000",
        ]
        .map(String::from),
    );
    a.push(url.to_string());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{OutputSpec, SlateSpec};

    fn cfg() -> ProgramConfig {
        let mut c = ProgramConfig::new("p", 1280, 720, 30);
        c.outputs
            .push(OutputSpec::new(1, "yt", "rtmp://127.0.0.1/live2/key"));
        c.slate = SlateSpec::default();
        c
    }

    #[test]
    fn ingest_decodes_to_raw_frames_of_the_program_size() {
        let src = SourceSpec::new(3, "Dock", "rtsp://u:p@127.0.0.1:8554/cam").rtsp(true);
        let a = ingest_args(&cfg(), &src).join(" ");
        assert!(
            a.contains("-rtsp_transport tcp -timeout 5000000 -i rtsp://u:p@127.0.0.1:8554/cam"),
            "{a}"
        );
        assert!(
            a.ends_with("-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 pipe:1"),
            "{a}"
        );
        assert!(a.contains("force_original_aspect_ratio=decrease"));
        let http = SourceSpec::new(4, "Web", "http://127.0.0.1/x.flv");
        let a = ingest_args(&cfg(), &http).join(" ");
        assert!(
            a.contains("-rw_timeout 5000000 -i http://127.0.0.1/x.flv"),
            "{a}"
        );
    }

    #[test]
    fn encoder_reads_raw_frames_and_adds_silence() {
        let a = encoder_args(&cfg()).join(" ");
        assert!(
            a.contains("-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30"),
            "{a}"
        );
        assert!(
            a.contains("-i pipe:0 -f lavfi -i anullsrc=r=48000:cl=stereo"),
            "{a}"
        );
        assert!(
            a.contains("-c:v libx264 -preset veryfast -tune zerolatency"),
            "{a}"
        );
        assert!(a.contains("-g 60"), "{a}");
        assert!(a.contains("-c:a aac -b:a 128k"), "{a}");
        assert!(a.ends_with("-f mpegts -flush_packets 1 pipe:1"), "{a}");
        let mut c = cfg();
        c.encoder = "h264_vaapi".into();
        let a = encoder_args(&c).join(" ");
        assert!(a.contains("-vaapi_device /dev/dri/renderD128"));
        assert!(a.contains("-vf format=nv12,hwupload -c:v h264_vaapi"));
    }

    #[test]
    fn egress_copies() {
        let a = egress_args("rtmp://x/live2/k").join(" ");
        assert!(
            a.contains("-f mpegts -i pipe:0 -map 0 -c copy -f flv"),
            "{a}"
        );
        assert!(a.ends_with("rtmp://x/live2/k"));
    }
}
