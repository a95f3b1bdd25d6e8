//! PTZ control of IP cameras over ONVIF, behind the `Ptz` trait the controller uses, plus a
//! simulated ONVIF PTZ camera for demo mode and tests.
//!
//! - [`Ptz`]: what the appliance asks of a PTZ camera; [`OnvifClient`] implements it.
//! - [`mapping`]: the appliance's preset units (degrees, percent) ↔ the camera's ONVIF space.
//! - [`move_and_settle`]: move, then wait until the camera has arrived.
//! - `sim::SimCamera` (feature `sim`): a loopback SOAP server that behaves like the captured
//!   Sunba camera.

pub mod auth;
pub mod client;
pub mod error;
pub mod mapping;
pub mod messages;
pub mod ptz;
pub mod settle;
#[cfg(feature = "sim")]
pub mod sim;
pub mod soap;
pub mod types;
pub mod xml;

pub use client::{OnvifClient, OnvifConfig};
pub use error::{OnvifError, Result, SoapFault};
pub use mapping::{from_onvif, to_onvif, PresetPosition};
pub use ptz::Ptz;
pub use settle::{move_and_settle, MoveTarget, SettlePolicy, SettleReport, SettledBy};
pub use types::{
    AxisRange, Capabilities, MoveStatus, Preset, Profile, PtzConfiguration, PtzRanges, PtzStatus,
    PtzVector, VideoEncoder,
};
