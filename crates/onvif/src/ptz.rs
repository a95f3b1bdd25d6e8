//! The `Ptz` trait: what the appliance asks of a pan/tilt/zoom camera. The controller holds a
//! `dyn Ptz`, so tests and demo mode can drive it without a real camera.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::{OnvifError, Result};
use crate::types::{Capabilities, Preset, Profile, PtzRanges, PtzStatus, PtzVector};

/// A PTZ camera. Positions, translations and velocities are in the camera's ONVIF spaces (see
/// [`Ptz::ranges`]); speeds are 0..1 per axis group, `None` meaning the camera's default.
#[async_trait]
pub trait Ptz: Send + Sync {
    /// The service endpoints; `ptz` is `None` for a camera that cannot move.
    async fn capabilities(&self) -> Result<Capabilities>;

    /// The media profiles; PTZ commands address one by its token.
    async fn profiles(&self) -> Result<Vec<Profile>>;

    /// The profile to use when the user did not choose one: the first with a PTZ configuration.
    async fn default_profile(&self) -> Result<String> {
        self.profiles()
            .await?
            .into_iter()
            .find(|p| p.ptz.is_some())
            .map(|p| p.token)
            .ok_or_else(|| {
                OnvifError::NotPtzCapable("no media profile has a PTZ configuration".into())
            })
    }

    /// Whether the profile takes RelativeMove: its PTZ configuration names a relative
    /// pan/tilt translation space (cameras without one answer RelativeMove with a fault).
    async fn supports_relative(&self, profile: &str) -> Result<bool> {
        Ok(self
            .profiles()
            .await?
            .into_iter()
            .find(|p| p.token == profile)
            .and_then(|p| p.ptz)
            .is_some_and(|c| c.relative_pan_tilt_space.is_some()))
    }

    async fn presets(&self, profile: &str) -> Result<Vec<Preset>>;

    async fn goto_preset(&self, profile: &str, token: &str, speed: Option<PtzVector>)
        -> Result<()>;

    /// Stores the current position; with `token`, overwrites that preset. Returns the token.
    async fn set_preset(&self, profile: &str, name: &str, token: Option<&str>) -> Result<String>;

    async fn remove_preset(&self, profile: &str, token: &str) -> Result<()>;

    async fn absolute_move(
        &self,
        profile: &str,
        position: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()>;

    async fn relative_move(
        &self,
        profile: &str,
        translation: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()>;

    /// Moves at `velocity` (−1..1 per axis) until `stop` or until `timeout` elapses.
    async fn continuous_move(
        &self,
        profile: &str,
        velocity: PtzVector,
        timeout: Option<Duration>,
    ) -> Result<()>;

    async fn stop(&self, profile: &str) -> Result<()>;

    async fn status(&self, profile: &str) -> Result<PtzStatus>;

    /// The absolute position ranges of the profile (−1..1 pan/tilt, 0..1 zoom on the Sunba).
    async fn ranges(&self, profile: &str) -> Result<PtzRanges>;
}
