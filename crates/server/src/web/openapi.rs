//! The OpenAPI document, generated from the Rust types and handler annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    auth, cameras, destinations, error, preview, programs, ptz, status, streams, studio, system,
    timelines,
};
// The schema list below names the user type through this module path.
use crate::services as controller;

#[derive(OpenApi)]
#[openapi(
    info(title = "VistterStream API", description = "Local streaming appliance: cameras, PTZ presets, streams, programs and timelines."),
    paths(
        system::health, system::metrics,
        auth::auth_state, auth::setup, auth::login, auth::logout, auth::change_password,
        auth::list_tokens, auth::create_token, auth::revoke_token,
        cameras::list, cameras::create, cameras::read, cameras::update, cameras::remove,
        cameras::list_presets, cameras::create_preset,
        cameras::read_preset, cameras::update_preset, cameras::remove_preset,
        preview::live, preview::stats, preview::program_live, preview::program_stats,
        status::status, status::events, status::cameras_health, status::camera_health,
        status::test_camera, status::test_unsaved, status::snapshot,
        destinations::list, destinations::create, destinations::read, destinations::update, destinations::remove,
        ptz::move_preset, ptz::capture, ptz::import, ptz::state, ptz::start_move, ptz::stop,
        programs::list, programs::create, programs::read, programs::update, programs::remove,
        programs::start, programs::stop, programs::take, programs::slate, programs::preroll, programs::overlays, programs::encoders,
        streams::list, streams::create, streams::read, streams::update, streams::remove, streams::start, streams::stop,
        timelines::list, timelines::create, timelines::validate, timelines::read, timelines::update, timelines::remove, timelines::cues, timelines::import, timelines::export, timelines::set_schedule, timelines::clear_schedule, timelines::start, timelines::stop, timelines::jump,
        timelines::list_overlays, timelines::create_overlay, timelines::read_overlay, timelines::update_overlay, timelines::remove_overlay, timelines::list_assets, timelines::upload_asset, timelines::read_asset, timelines::remove_asset,
        studio::sync, studio::segments, studio::segment, studio::start, studio::stop, studio::status,
    ),
    components(schemas(error::ErrorBody, controller::auth::UserInfo)),
    modifiers(&Security),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "auth", description = "Set-up, login, sessions and API tokens"),
        (name = "cameras", description = "IP cameras"),
        (name = "presets", description = "PTZ presets of a camera"),
        (name = "destinations", description = "YouTube, Facebook, Twitch and custom RTMP(S)/SRT destinations"),
        (name = "streams", description = "Camera-to-destination streams (video copied, AAC always present)"),
        (name = "programs", description = "The program feed: one continuous output with live switching, slate and overlays"),
        (name = "ptz", description = "PTZ control over ONVIF"),
        (name = "system", description = "Health, status and metrics"),
        (name = "timelines", description = "Timelines: tracks of camera and overlay clips, VistterStudio import/export, schedule, playback"),
        (name = "overlays", description = "Overlays and the image assets they show"),
        (name = "vistterstudio", description = "VistterStudio sync and the endpoints of a broadcast node"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::extract::SESSION_COOKIE,
            ))),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
