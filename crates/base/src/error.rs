//! The one error type of the appliance. Every layer returns it; only the web layer maps its
//! kind to an HTTP status (in one place). The message is safe to show a user; the source is
//! internal detail that is logged, never sent.

use std::fmt;

/// What went wrong, in the terms a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or a field is invalid (400/422).
    Validation,
    /// No valid session or token (401).
    Unauthenticated,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// The resource does not exist (404).
    NotFound,
    /// The request conflicts with existing data, e.g. a duplicate name (409).
    Conflict,
    /// Too many attempts; try again later (429).
    RateLimited,
    /// A device (camera, destination) answered, but with an error (502).
    Device,
    /// A device did not answer in time (504).
    Timeout,
    /// The operation is not possible in the current state (409 as well, different code).
    InvalidState,
    /// A dependency of the appliance itself is missing or failing (503).
    Unavailable,
    /// A bug or an unexpected failure (500). The message sent is generic.
    Internal,
}

impl ErrorKind {
    /// The machine-readable code used in JSON error bodies.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Device => "device_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with a kind, a user-facing message, optionally the offending field, and an
/// internal source that is only ever logged.
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
    pub source: Option<anyhow::Error>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            field: None,
            source: None,
        }
    }

    /// A validation error about one field; the message says what to fix.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Validation,
            message: message.into(),
            field: Some(field.into()),
            source: None,
        }
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} was not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthenticated, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidState, message)
    }

    pub fn device(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Device, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, message)
    }

    /// An unexpected failure: the source is kept for the log, the client sees a generic text.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Error {
            kind: ErrorKind::Internal,
            message: "internal error; see the appliance log".into(),
            field: None,
            source: Some(source.into()),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(field) = &self.field {
            d.field("field", field);
        }
        if let Some(source) = &self.source {
            d.field("source", &format_args!("{source:#}"));
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}", field, self.message),
            None => f.write_str(&self.message),
        }?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal(e)
    }
}
