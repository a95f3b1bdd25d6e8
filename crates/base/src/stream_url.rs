//! Camera and destination addresses, checked when parsed. Credentials found inside an address
//! are split off so they can be sealed separately; the address kept and shown never has them.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{Error, Result, Secret};

/// The transport of a camera feed or a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Rtsp,
    Rtsps,
    Rtmp,
    Rtmps,
    Srt,
}

impl Protocol {
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Rtsp => "rtsp",
            Protocol::Rtsps => "rtsps",
            Protocol::Rtmp => "rtmp",
            Protocol::Rtmps => "rtmps",
            Protocol::Srt => "srt",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtsp => "RTSP",
            Protocol::Rtsps => "RTSPS",
            Protocol::Rtmp => "RTMP",
            Protocol::Rtmps => "RTMPS",
            Protocol::Srt => "SRT",
        }
    }

    pub fn from_scheme(scheme: &str) -> Option<Self> {
        Some(match scheme.to_ascii_lowercase().as_str() {
            "rtsp" => Protocol::Rtsp,
            "rtsps" => Protocol::Rtsps,
            "rtmp" => Protocol::Rtmp,
            "rtmps" => Protocol::Rtmps,
            "srt" => Protocol::Srt,
            _ => return None,
        })
    }

    /// Parses the user-facing name ("RTSP", "rtsp").
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_scheme(s.trim())
    }

    /// Whether `other` is the same family (RTSPS is a kind of RTSP, RTMPS of RTMP).
    pub fn same_family(self, other: Protocol) -> bool {
        use Protocol::*;
        matches!(
            (self, other),
            (Rtsp | Rtsps, Rtsp | Rtsps) | (Rtmp | Rtmps, Rtmp | Rtmps) | (Srt, Srt)
        )
    }

    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Rtsp => 554,
            Protocol::Rtsps => 322,
            Protocol::Rtmp => 1935,
            Protocol::Rtmps => 443,
            Protocol::Srt => 9000,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed stream address without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamUrl {
    url: Url,
    protocol: Protocol,
}

/// The result of parsing an address that may carry credentials.
#[derive(Debug, Clone)]
pub struct ParsedStreamUrl {
    pub url: StreamUrl,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

impl StreamUrl {
    /// Parses and checks an address; credentials inside it are returned separately.
    /// `field` names the request field in error messages.
    pub fn parse(input: &str, field: &str) -> Result<ParsedStreamUrl> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Error::invalid(
                field,
                "is required, e.g. rtsp://192.168.1.50:554/stream1",
            ));
        }
        if input.len() > 2048 {
            return Err(Error::invalid(field, "is longer than 2048 characters"));
        }
        let url = Url::parse(input).map_err(|e| {
            Error::invalid(
                field,
                format!("is not a valid URL ({e}); expected e.g. rtsp://192.168.1.50:554/stream1"),
            )
        })?;
        let protocol = Protocol::from_scheme(url.scheme()).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "has scheme '{}'; use rtsp://, rtsps://, rtmp://, rtmps:// or srt://",
                    url.scheme()
                ),
            )
        })?;
        match url.host_str() {
            Some(h) if !h.is_empty() => {}
            _ => {
                return Err(Error::invalid(
                    field,
                    "has no host; expected e.g. rtsp://192.168.1.50:554/stream1",
                ))
            }
        }
        let username = match url.username() {
            "" => None,
            u => Some(percent_decode(u)),
        };
        let password = url.password().map(|p| Secret::new(percent_decode(p)));
        let mut clean = url;
        // Cannot fail: the URL has a host.
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
        Ok(ParsedStreamUrl {
            url: StreamUrl {
                url: clean,
                protocol,
            },
            username,
            password,
        })
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.url
            .port()
            .unwrap_or_else(|| self.protocol.default_port())
    }

    /// The address without credentials: safe to show and to log.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed address, for the other address helpers of this crate.
    pub(crate) fn inner(&self) -> &Url {
        &self.url
    }

    /// The address with credentials inserted: only for handing to FFmpeg or a device.
    pub fn with_credentials(&self, username: Option<&str>, password: Option<&Secret>) -> String {
        let mut u = self.url.clone();
        if let Some(user) = username.filter(|u| !u.is_empty()) {
            let _ = u.set_username(user);
            if let Some(pw) = password.filter(|p| !p.is_empty()) {
                let _ = u.set_password(Some(pw.expose()));
            }
        }
        u.to_string()
    }
}

impl fmt::Display for StreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for StreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamUrl({})", self.url)
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes credentials from every URL-looking token of a free text (an FFmpeg log line, an
/// error message) so it is safe to log or show.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote; credentials end at the last
        // '@' inside it.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_query_passwords(&out)
}

/// Query parameters that carry a password (Reolink's RTMP: `...&user=U&password=P`),
/// lower case.
pub const PASSWORD_QUERY_PARAMS: &[&str] = &["password", "pass", "pwd", "passwd"];

/// Query parameters whose value is a secret of a publish address, besides the passwords:
/// SRT's `passphrase` and `streamid` (the stream key of an SRT ingest), and the usual names
/// of a key or token in a query. Lower case. `redact_text` masks them all.
pub const SECRET_QUERY_PARAMS: &[&str] = &["passphrase", "streamid", "key", "token", "secret"];

/// Replaces the value of every `?name=` / `&name=` password or secret parameter with `***`.
fn redact_query_passwords(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'?' || bytes[i] == b'&' {
            let after = &lower[i + 1..];
            if let Some(name) = PASSWORD_QUERY_PARAMS
                .iter()
                .chain(SECRET_QUERY_PARAMS)
                .find(|n| after.starts_with(*n) && after[n.len()..].starts_with('='))
            {
                let start = i + 1 + name.len() + 1;
                // '#' does not end the value: FFmpeg passes it through raw (SRT stream ids).
                let end = text[start..]
                    .find(|c: char| c == '&' || c.is_whitespace() || c == '"' || c == '\'')
                    .map_or(text.len(), |e| start + e);
                out.push_str(&text[copied..start]);
                out.push_str("***");
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off() {
        let p = StreamUrl::parse("rtsp://user:p%40ss@192.168.1.50:554/stream1", "address").unwrap();
        assert_eq!(p.url.as_str(), "rtsp://192.168.1.50:554/stream1");
        assert_eq!(p.username.as_deref(), Some("user"));
        assert_eq!(p.password.unwrap().expose(), "p@ss");
        assert_eq!(p.url.protocol(), Protocol::Rtsp);
        assert_eq!(p.url.port(), 554);
    }

    #[test]
    fn with_credentials_reinserts_and_escapes() {
        let p = StreamUrl::parse("rtsp://cam.local/live", "address").unwrap();
        let full = p
            .url
            .with_credentials(Some("admin"), Some(&Secret::new("a b@c")));
        assert_eq!(full, "rtsp://admin:a%20b%40c@cam.local/live");
        let back = StreamUrl::parse(&full, "address").unwrap();
        assert_eq!(back.password.unwrap().expose(), "a b@c");
    }

    #[test]
    fn rejects_bad_input_with_field_and_hint() {
        for bad in [
            "",
            "not a url",
            "http://x/y",
            "rtsp://",
            "file:///etc/passwd",
        ] {
            let e = StreamUrl::parse(bad, "address").unwrap_err();
            assert_eq!(e.field.as_deref(), Some("address"), "{bad}");
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn redact_text_hides_query_passwords() {
        let line = "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&Password=s3cr%26t: I/O error";
        assert_eq!(
            redact_text(line),
            // The value runs to the next separator: FFmpeg's ": " goes with it, the secret never stays.
            "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&Password=*** I/O error"
        );
        assert_eq!(
            redact_text("a?pwd=x&b=1 and ?passage=2"),
            "a?pwd=***&b=1 and ?passage=2"
        );
        assert_eq!(redact_text("é?pass=ü"), "é?pass=***");
    }

    #[test]
    fn redact_text_hides_publish_secrets_in_queries() {
        let line = "Connection to srt://10.0.0.9:9000?latency=200&streamid=#!::r=live/k9,m=publish&passphrase=abcdefghij failed";
        assert_eq!(
            redact_text(line),
            "Connection to srt://10.0.0.9:9000?latency=200&streamid=***&passphrase=*** failed"
        );
        assert_eq!(
            redact_text("rtmp://h/app?token=t0k3n&Key=k3y&x=1"),
            "rtmp://h/app?token=***&Key=***&x=1"
        );
        assert_eq!(
            redact_text("?keyframes=1&monkey=2"),
            "?keyframes=1&monkey=2"
        );
    }

    #[test]
    fn redact_text_hides_credentials() {
        let line = "Opening 'rtsp://admin:secret@10.0.0.2:554/s' failed; rtmp://a.rtmp.youtube.com/live2/KEY";
        let r = redact_text(line);
        assert!(!r.contains("secret"));
        assert!(!r.contains("admin:"));
        assert!(r.contains("rtsp://***@10.0.0.2:554/s"));
    }
}
