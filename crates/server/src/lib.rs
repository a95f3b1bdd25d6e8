//! VistterStream appliance: configuration, the services (one per domain: cameras, PTZ,
//! streams, programs, previews, timelines, assets, auth, status), the web/API layer and the
//! command line. `App::build` boots the whole appliance on a given listener so tests run the
//! real thing on port 0.

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
// The data directory's lock is a raw `flock` on an owned descriptor (its SAFETY comment is
// there); `nix::fcntl::Flock` covers the call and would let this allow go.
#[allow(unsafe_code)]
pub mod datadir;
pub mod demo;
pub mod orphans;
pub mod services;
pub mod state;
pub mod web;

pub use app::{App, AppDeps};
pub use config::Config;
