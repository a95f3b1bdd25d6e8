//! Foundations shared by every VistterStream crate: one error type, newtypes checked at
//! parse time, and the at-rest encryption of secrets.

pub mod error;
pub mod secret;
pub mod stream_url;

pub use error::{Error, ErrorKind, Result};
pub use secret::{Secret, SecretBox};
pub use stream_url::{Protocol, StreamUrl, PASSWORD_QUERY_PARAMS};
