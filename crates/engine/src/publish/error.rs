//! Why a publish failed, in words an operator can act on ("the server refused the stream
//! key", "the certificate is not trusted"), sorted into kinds a UI can colour. A message never
//! holds the stream key: every text that may echo it (a server's description, an I/O error)
//! goes through [`crate::publish::PublishTarget::redact`] first.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishErrorKind {
    /// The address cannot be published to (bad scheme, no host, no stream key).
    InvalidTarget,
    /// Name resolution failed, or the connection was refused or could not be routed.
    Unreachable,
    /// The server did not answer in time (connect, handshake, publish, or a write that made
    /// no progress).
    Timeout,
    /// The TLS handshake failed: most often the server's certificate is not trusted.
    Tls,
    /// The server refused the application (`connect` rejected).
    ConnectRejected,
    /// The server refused to let us publish: wrong or expired stream key, stream in use.
    Refused,
    /// The connection broke while publishing.
    Disconnected,
    /// The server spoke something we do not understand.
    Protocol,
    /// A local failure (FFmpeg missing, pipe error).
    Local,
    /// The session had nothing to send for a while (the source is away).
    Idle,
}

/// A failed connect or publish, with its plain-words explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishError {
    pub kind: PublishErrorKind,
    pub message: String,
}

impl PublishError {
    pub fn new(kind: PublishErrorKind, message: impl Into<String>) -> Self {
        PublishError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PublishError {}

/// Describes a socket error during connect in words (the address and port are added by the
/// caller, never the key).
pub(crate) fn connect_error(e: &std::io::Error, what: &str) -> PublishError {
    use std::io::ErrorKind as K;
    let kind = PublishErrorKind::Unreachable;
    let msg = match e.kind() {
        K::ConnectionRefused => format!("{what} refused the connection (nothing listens there)"),
        K::TimedOut => {
            return PublishError::new(
                PublishErrorKind::Timeout,
                format!("{what} did not answer (connection timed out)"),
            )
        }
        K::NotFound => format!("{what}: the host name does not resolve"),
        _ => format!("{what} is unreachable: {e}"),
    };
    PublishError::new(kind, msg)
}
