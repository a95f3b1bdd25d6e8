//! How FFmpeg reads a camera: the options that make it notice a dead connection instead of
//! waiting forever, per transport. Every input of the appliance (probe, snapshot, preview,
//! copy stream, program ingest) takes them from here.

use std::time::Duration;

use vs_base::Protocol;

/// How long a network read may block before FFmpeg gives up: a camera that stops sending must
/// end its process so that the supervisor can reconnect.
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

/// What kind of input a URL is, as far as timeouts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputTransport {
    /// RTSP(S): interleaved over TCP (UDP is lost behind NAT and on lossy Wi-Fi) with a socket
    /// timeout (`-timeout`; `-rw_timeout` is not honoured by the RTSP demuxer).
    Rtsp,
    /// Any other network URL (RTMP, SRT, HTTP): a read/write timeout.
    Network,
    /// A local file or device: nothing to time out.
    Local,
}

impl InputTransport {
    /// The transport of a camera protocol.
    pub fn of_protocol(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Rtsp | Protocol::Rtsps => InputTransport::Rtsp,
            _ => InputTransport::Network,
        }
    }

    /// The transport of a URL, from its scheme.
    pub fn of_url(url: &str) -> Self {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("rtsp" | "rtsps") => InputTransport::Rtsp,
            Some(_) => InputTransport::Network,
            None => InputTransport::Local,
        }
    }

    /// The input options (placed before `-i`) bounding a read to `timeout`.
    pub fn options(self, timeout: Duration) -> Vec<String> {
        let us = timeout.as_micros().to_string();
        match self {
            InputTransport::Rtsp => vec![
                "-rtsp_transport".into(),
                "tcp".into(),
                "-timeout".into(),
                us,
            ],
            InputTransport::Network => vec!["-rw_timeout".into(), us],
            InputTransport::Local => Vec::new(),
        }
    }
}

impl From<Protocol> for InputTransport {
    fn from(p: Protocol) -> Self {
        InputTransport::of_protocol(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_per_transport() {
        assert_eq!(
            InputTransport::of_protocol(Protocol::Rtsps)
                .options(NETWORK_TIMEOUT)
                .join(" "),
            "-rtsp_transport tcp -timeout 5000000"
        );
        assert_eq!(
            InputTransport::of_protocol(Protocol::Rtmp)
                .options(Duration::from_millis(1500))
                .join(" "),
            "-rw_timeout 1500000"
        );
        assert_eq!(InputTransport::of_url("RTSP://h/s"), InputTransport::Rtsp);
        assert_eq!(
            InputTransport::of_url("srt://h:9000"),
            InputTransport::Network
        );
        assert_eq!(
            InputTransport::of_url("/tmp/clip.mp4"),
            InputTransport::Local
        );
        assert!(InputTransport::Local.options(NETWORK_TIMEOUT).is_empty());
    }
}
