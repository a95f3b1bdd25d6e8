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

/// The protocols an input read through an ffconcat list on stdin may use: the list itself
/// (pipe), and what camera addresses and local test files need.
const STDIN_INPUT_PROTOCOLS: &str =
    "pipe,file,tcp,tls,udp,rtmp,rtmps,rtmpt,srt,rtsp,rtsps,rtp,srtp,crypto,http,https";

/// An input whose address (which may carry the camera's credentials) reaches FFmpeg on its
/// stdin, never on its command line (`/proc/<pid>/cmdline` is readable by every local user):
/// FFmpeg reads an ffconcat list from `pipe:0` whose only entry is the address, with this
/// transport's timeout options as the entry's options.
#[derive(Debug, Clone)]
pub struct StdinInput {
    /// Placed where `-i URL` would be: the concat demuxer reading `pipe:0`.
    pub args: Vec<String>,
    /// Written to the child's stdin, then the pipe is closed.
    pub list: String,
}

impl StdinInput {
    pub fn new(url: &str, transport: InputTransport, timeout: Duration) -> Self {
        // Inside single quotes only the quote itself needs escaping ('\'' closes, escapes, reopens).
        let quoted = url.replace('\'', "'\\''");
        let mut list = format!("ffconcat version 1.0\nfile '{quoted}'\n");
        for pair in transport.options(timeout).chunks(2) {
            if let [name, value] = pair {
                list.push_str(&format!(
                    "option {} {value}\n",
                    name.trim_start_matches('-')
                ));
            }
        }
        let args = [
            "-protocol_whitelist",
            STDIN_INPUT_PROTOCOLS,
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            "pipe:0",
        ]
        .map(String::from)
        .to_vec();
        StdinInput { args, list }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_on_stdin_is_an_ffconcat_entry_with_the_transport_options() {
        let i = StdinInput::new(
            "rtsp://admin:it's@h/s",
            InputTransport::Rtsp,
            NETWORK_TIMEOUT,
        );
        assert_eq!(
            i.list,
            "ffconcat version 1.0\nfile 'rtsp://admin:it'\\''s@h/s'\n\
             option rtsp_transport tcp\noption timeout 5000000\n"
        );
        assert!(!i.args.join(" ").contains("admin"));
        assert!(i.args.join(" ").ends_with("-f concat -safe 0 -i pipe:0"));
    }

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
