//! VistterStream appliance: configuration, the controller (cameras, presets, auth, runtime
//! state), the web/API layer and the command line. `App::build` boots the whole appliance on a
//! given listener so tests run the real thing on port 0.

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod controller;
pub mod datadir;
pub mod demo;
pub mod orphans;
pub mod state;
pub mod web;

pub use app::App;
pub use config::Config;
