//! The container a destination receives, chosen from its URL in this one place: RTMP(S) carries
//! FLV; SRT (and UDP) carry MPEG-TS, the only container their receivers expect. Every copy
//! stream and every program egress writes through [`OutputFormat::for_url`].

/// The muxer of one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// FLV, for RTMP and RTMPS ingests (YouTube, Facebook, Twitch, nginx-rtmp).
    Flv,
    /// MPEG-TS, for SRT and UDP.
    MpegTs,
}

impl OutputFormat {
    /// The format a destination URL calls for; FLV for anything not known to want MPEG-TS,
    /// since RTMP is what streaming platforms ingest.
    pub fn for_url(url: &str) -> Self {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "srt" | "udp" => OutputFormat::MpegTs,
            _ => OutputFormat::Flv,
        }
    }

    /// FFmpeg's name of the muxer.
    pub fn muxer(self) -> &'static str {
        match self {
            OutputFormat::Flv => "flv",
            OutputFormat::MpegTs => "mpegts",
        }
    }

    /// The output options selecting the muxer (placed right before the output URL, with
    /// protocol options such as `-rw_timeout` between them if needed).
    pub fn args(self) -> Vec<String> {
        match self {
            // Live: the muxer must never seek back to patch the header.
            OutputFormat::Flv => ["-f", "flv", "-flvflags", "no_duration_filesize"]
                .map(String::from)
                .to_vec(),
            OutputFormat::MpegTs => ["-f", "mpegts"].map(String::from).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_scheme() {
        assert_eq!(
            OutputFormat::for_url("rtmp://a.rtmp.youtube.com/live2/k"),
            OutputFormat::Flv
        );
        assert_eq!(
            OutputFormat::for_url("rtmps://live-api-s.facebook.com:443/rtmp/k"),
            OutputFormat::Flv
        );
        assert_eq!(
            OutputFormat::for_url("srt://127.0.0.1:9000?streamid=x"),
            OutputFormat::MpegTs
        );
        assert_eq!(
            OutputFormat::for_url("SRT://127.0.0.1:9000"),
            OutputFormat::MpegTs
        );
        assert_eq!(
            OutputFormat::for_url("udp://239.0.0.1:1234"),
            OutputFormat::MpegTs
        );
        assert_eq!(
            OutputFormat::Flv.args().join(" "),
            "-f flv -flvflags no_duration_filesize"
        );
        assert_eq!(OutputFormat::MpegTs.args().join(" "), "-f mpegts");
        assert_eq!(OutputFormat::MpegTs.muxer(), "mpegts");
    }
}
