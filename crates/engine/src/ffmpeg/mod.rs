//! Everything the appliance knows about FFmpeg's command line, in one place: how a camera is
//! read ([`input`]), which container a destination gets ([`output`]), the argument lists of
//! every kind of child (copy [`stream`]s, the [`program`] feed's ingest,
//! encoder and egress, [`encode`]r tests), the one-shot [`probe`]s, and the one bounded way to
//! [`run`] a short-lived child. Long-lived children are run by [`crate::supervise`].
//!
//! A new destination type is a new arm in [`OutputFormat::for_url`]; a new camera transport is
//! a new [`InputTransport`].

pub mod encode;
pub mod input;
pub mod output;
pub mod probe;
pub mod program;
pub mod run;
pub mod stream;

pub use input::{InputTransport, StdinInput, NETWORK_TIMEOUT};
pub use output::OutputFormat;
pub use probe::{
    classify, ffmpeg_version, probe, snapshot, ProbeError, ProbeErrorKind, StreamInfo,
};
pub use run::{run_bounded, run_bounded_with_input, RunError, RunOutput};
pub use stream::{hub_copy_args, AudioPlan};
