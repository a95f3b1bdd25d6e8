//! Timelines of the appliance: the model, VistterStudio import/export, validation, the cue
//! compiler, the executor that fires cues from one monotonic clock, the player that runs one
//! timeline at a time through the program feed, and the weekly scheduler.
//! Pure logic: no database, no HTTP; cameras, the program feed and time come in as traits.

pub mod catalog;
pub mod credentials;
pub mod cue;
pub mod executor;
pub mod model;
pub mod player;
pub mod schedule;
pub mod validate;
pub mod vistter;

pub use catalog::{CameraInfo, Catalog, MemoryCatalog, OverlayInfo, PresetInfo};
pub use credentials::CredentialPlacement;
pub use cue::{compile, Action, CompileOptions, Cue, CueList, OverlayShow};
pub use executor::{
    Clock, Executor, ExecutorOptions, PlayState, Position, ProgramControl, TokioClock,
};
pub use model::{Clip, ClipSource, Playback, Timeline, Track, TrackKind};
pub use player::{ExecutorPlayer, FiredCue, PlayRequest, PlayerStatus, TimelinePlayer};
pub use schedule::{Schedule, Transition};
pub use validate::{validate, Issue, Report};
pub use vistter::{
    export, export_pretty, CameraCredentials, CredentialStore, ExportOptions, Format, Import,
    Missing, SourceRef, Unresolved,
};
