//! Camera-to-destination copy streams: the camera's video is copied (no re-encode: near-zero
//! CPU on a Pi) and AAC audio is always present (the camera's, transcoded, or silence), because
//! YouTube drops video-only streams.
//!
//! The appliance feeds each copy from the camera's hub session ([`hub_copy_args`]: MPEG-TS on
//! stdin, so the child never sees the camera's address or login).

use super::output::OutputFormat;

/// How the output's AAC audio is made from what the camera has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPlan {
    /// The camera sends AAC: copied.
    CopyAac,
    /// The camera sends another codec: transcoded to AAC.
    Transcode,
    /// The camera has no audio (or could not be probed): silent AAC.
    Silence,
}

impl AudioPlan {
    /// The plan for a camera whose audio codec (as ffprobe names it) is `codec`, `None` when
    /// it has no audio.
    pub fn for_codec(codec: Option<&str>) -> Self {
        match codec {
            Some("aac") => AudioPlan::CopyAac,
            Some(_) => AudioPlan::Transcode,
            None => AudioPlan::Silence,
        }
    }

    /// The plan for the MPEG-TS a hub session writes ([`crate::hub::feed_ts`]): its AAC is
    /// copied; anything else is not in that stream (the TS muxer carries AAC only; G.711 has
    /// no MPEG-TS stream type FFmpeg reads), so silence is added.
    pub fn for_hub(info: &crate::hub::StreamInfo) -> Self {
        match &info.audio {
            Some(a) if a.is_aac() => AudioPlan::CopyAac,
            _ => AudioPlan::Silence,
        }
    }

    /// The API's word for it: "camera", "transcoded" or "silence".
    pub fn label(self) -> &'static str {
        match self {
            AudioPlan::CopyAac => "camera",
            AudioPlan::Transcode => "transcoded",
            AudioPlan::Silence => "silence",
        }
    }
}

/// The FFmpeg arguments of one copy fed by a camera's hub session: MPEG-TS on stdin (PAT,
/// PMT and a keyframe with SPS/PPS first, see [`crate::hub::feed_ts`]), video copied, AAC as
/// `audio` says, the container following the destination's URL.
pub fn hub_copy_args(audio: AudioPlan, output: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        // The stream starts with its tables and a keyframe, and the keyframe cache arrives at
        // once: a short probe finds everything without holding the first second back.
        "-probesize",
        "500000",
        "-analyzeduration",
        "500000",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
    ]
    .map(String::from)
    .to_vec();
    push_mapping(&mut a, audio);
    a.extend(OutputFormat::for_url(output).args());
    a.push(output.into());
    a
}

/// The stream mapping and codecs after the inputs: video copied, AAC as `audio` says (silence
/// from a second, `lavfi` input).
fn push_mapping(a: &mut Vec<String>, audio: AudioPlan) {
    if audio == AudioPlan::Silence {
        a.extend(["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"].map(String::from));
    }
    a.extend(["-map", "0:v:0"].map(String::from));
    match audio {
        AudioPlan::CopyAac => a.extend(["-map", "0:a:0", "-c:a", "copy"].map(String::from)),
        AudioPlan::Transcode => a.extend(
            [
                "-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ar", "44100",
            ]
            .map(String::from),
        ),
        AudioPlan::Silence => a.extend(
            ["-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-shortest"].map(String::from),
        ),
    }
    a.extend(["-c:v", "copy"].map(String::from));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_copy_reads_stdin_and_names_no_camera() {
        let s = hub_copy_args(AudioPlan::CopyAac, "rtmp://x/live2/k").join(" ");
        assert_eq!(
            s,
            "-hide_banner -loglevel warning -probesize 500000 -analyzeduration 500000 \
             -f mpegts -i pipe:0 -map 0:v:0 -map 0:a:0 -c:a copy -c:v copy \
             -f flv -flvflags no_duration_filesize rtmp://x/live2/k"
        );
        let s = hub_copy_args(AudioPlan::Silence, "srt://x:9000").join(" ");
        assert!(s.contains("-i pipe:0 -f lavfi -i anullsrc"), "{s}");
        assert!(s.contains("-map 1:a:0 -c:a aac"), "{s}");
        assert!(s.ends_with("-f mpegts srt://x:9000"), "{s}");
    }

    #[test]
    fn audio_plan_from_the_hub_stream() {
        use crate::hub::packet::{AudioCodec, AudioInfo};
        let mut info = crate::hub::tsmux::tests::test_info(true);
        assert_eq!(AudioPlan::for_hub(&info), AudioPlan::CopyAac);
        info.audio = Some(AudioInfo {
            codec: AudioCodec::Pcmu,
            sample_rate: 8000,
            channels: 1,
        });
        // Not carried by the hub's MPEG-TS: silence instead of a map that would fail.
        assert_eq!(AudioPlan::for_hub(&info), AudioPlan::Silence);
        info.audio = None;
        assert_eq!(AudioPlan::for_hub(&info), AudioPlan::Silence);
    }

    #[test]
    fn audio_plan_from_the_camera_codec() {
        assert_eq!(AudioPlan::for_codec(Some("aac")), AudioPlan::CopyAac);
        assert_eq!(
            AudioPlan::for_codec(Some("pcm_mulaw")),
            AudioPlan::Transcode
        );
        assert_eq!(AudioPlan::for_codec(None), AudioPlan::Silence);
        assert_eq!(AudioPlan::Transcode.label(), "transcoded");
    }
}
