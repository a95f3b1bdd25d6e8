//! Foundations shared by every VistterStream crate: one error type, newtypes checked at
//! parse time, the at-rest encryption of secrets, the clock, and the characters names refuse.

pub mod clock;
pub mod error;
pub mod publish_url;
pub mod secret;
pub mod stream_url;
pub mod text;

pub use clock::{Clock, TokioClock};
pub use error::{Error, ErrorKind, Result};
pub use publish_url::{
    join_publish_url, publish_secrets, split_publish_url, SplitPublishUrl, UrlCredentials,
};
pub use secret::{Secret, SecretBox};
pub use stream_url::{Protocol, StreamUrl, PASSWORD_QUERY_PARAMS, SECRET_QUERY_PARAMS};
