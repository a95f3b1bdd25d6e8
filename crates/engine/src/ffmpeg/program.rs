//! The FFmpeg command lines of a program: the program encoder (raw frames + the program's
//! mixed PCM audio in, MPEG-TS out) and egress (MPEG-TS in, copied into the container its destination's URL calls
//! for). The cameras are decoded from their hub sessions
//! ([`decoder_args`](crate::hub::decoder_args)).

use std::time::Duration;

use super::encode::{device_args, frame_format_args, tuning_args_for, VAAPI_DEVICE};
use super::output::OutputFormat;
use crate::program::ProgramConfig;

/// Where the encoder reads the program's PCM audio ([`crate::spawner::EXTRA_INPUT_FD`]).
pub const AUDIO_INPUT: &str = "pipe:4";

/// How long an egress write may block before FFmpeg gives up on its destination.
pub const EGRESS_TIMEOUT: Duration = Duration::from_secs(10);

/// The program encoder: raw frames on stdin (video) and the program's audio mix as 48 kHz
/// stereo s16le on file descriptor 4 (one block per frame, written with it: both inputs count
/// time in samples and frames from zero, so they stay in step by construction), H.264 at a
/// fixed GOP of two seconds and AAC (always present because YouTube drops video-only streams),
/// MPEG-TS on stdout for the fan-out.
pub fn encoder_args(cfg: &ProgramConfig) -> Vec<String> {
    let (w, h, fps) = (cfg.width, cfg.height, cfg.fps);
    let enc = cfg.encoder.as_str();
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    a.extend(device_args(enc, VAAPI_DEVICE));
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
        ]
        .map(String::from),
    );
    if cfg.sound {
        a.extend(
            [
                // FFmpeg opens its inputs one after the other, reading each until its probe is
                // satisfied, while the writer puts one frame and its audio in turn: probing 5 s
                // of PCM (the default) while the video pipe is full would wait forever. The
                // format is given, so nothing needs probing.
                "-probesize",
                "32",
                "-analyzeduration",
                "0",
                "-f",
                "s16le",
                "-ar",
                "48000",
                "-ac",
                "2",
                "-thread_queue_size",
                "64",
                "-i",
                AUDIO_INPUT,
                "-map",
                "0:v:0",
                "-map",
                "1:a:0",
            ]
            .map(String::from),
        );
    } else {
        a.extend(["-map", "0:v:0", "-an"].map(String::from));
    }
    a.extend(frame_format_args(enc));
    let kbps = cfg.video_bitrate_kbps;
    let gop = (2 * fps).to_string();
    a.extend(["-c:v".to_string(), enc.to_string()]);
    a.extend(tuning_args_for(enc, &cfg.x264_preset));
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
        ]
        .map(String::from),
    );
    if cfg.sound {
        a.extend(
            [
                "-c:a",
                "aac",
                "-b:a",
                &format!("{}k", cfg.audio_bitrate_kbps),
                "-ar",
                "48000",
                "-ac",
                "2",
            ]
            .map(String::from),
        );
    }
    a.extend(["-f", "mpegts", "-flush_packets", "1", "pipe:1"].map(String::from));
    a
}

/// Egress: the encoder's MPEG-TS from stdin, copied (no re-encode) to one destination in the
/// container its URL calls for ([`OutputFormat::for_url`]: FLV for RTMP, MPEG-TS for SRT).
/// FFmpeg's copy starts at the first key frame, so a destination attached or re-attached
/// mid-stream starts cleanly.
pub fn egress_args(url: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    a.extend(["-f", "mpegts", "-i", "pipe:0", "-map", "0", "-c", "copy"].map(String::from));
    a.extend(OutputFormat::for_url(url).args());
    a.extend([
        "-rw_timeout".to_string(),
        EGRESS_TIMEOUT.as_micros().to_string(),
    ]);
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
    fn encoder_reads_raw_frames_and_pcm_audio() {
        let a = encoder_args(&cfg()).join(" ");
        assert!(
            a.contains("-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30"),
            "{a}"
        );
        assert!(
            a.contains(
                "-i pipe:0 -probesize 32 -analyzeduration 0 -f s16le -ar 48000 -ac 2 \
                 -thread_queue_size 64 -i pipe:4 \
                 -map 0:v:0 -map 1:a:0"
            ),
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

    /// Measuring what sound costs: no audio input, no AAC, video only.
    #[test]
    fn an_encoder_without_sound_has_no_audio_input() {
        let mut c = cfg();
        c.sound = false;
        let a = encoder_args(&c).join(" ");
        assert!(a.contains("-i pipe:0 -map 0:v:0 -an "), "{a}");
        assert!(!a.contains("pipe:4") && !a.contains("-c:a"), "{a}");
        assert!(a.ends_with("-f mpegts -flush_packets 1 pipe:1"), "{a}");
    }

    #[test]
    fn the_x264_preset_is_the_programs() {
        let mut c = cfg();
        c.x264_preset = "ultrafast".into();
        let a = encoder_args(&c).join(" ");
        assert!(
            a.contains("-c:v libx264 -preset ultrafast -tune zerolatency"),
            "{a}"
        );
        // A hardware encoder has no x264 preset to take.
        c.encoder = "h264_vaapi".into();
        assert!(!encoder_args(&c).join(" ").contains("ultrafast"));
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

    /// RTMP egress is byte for byte what it was; SRT gets MPEG-TS (it used to get FLV, which
    /// no SRT receiver reads).
    #[test]
    fn egress_container_follows_the_destination() {
        assert_eq!(
            egress_args("rtmp://x/live2/k").join(" "),
            "-hide_banner -nostdin -loglevel error -f mpegts -i pipe:0 -map 0 -c copy -f flv \
             -flvflags no_duration_filesize -rw_timeout 10000000 rtmp://x/live2/k"
        );
        assert_eq!(
            egress_args("srt://127.0.0.1:9000?streamid=k").join(" "),
            "-hide_banner -nostdin -loglevel error -f mpegts -i pipe:0 -map 0 -c copy \
             -f mpegts -rw_timeout 10000000 srt://127.0.0.1:9000?streamid=k"
        );
    }
}
