//! The web layer: authentication, validation of the request's shape, and JSON. No business
//! logic lives here; every handler calls the services. The route table is assembled here,
//! from one `router()` per resource.

pub mod assets;
pub mod audio;
pub mod auth;
pub mod body;
pub mod cameras;
pub mod csrf;
pub mod destinations;
pub mod error;
pub mod extract;
pub mod link;
pub mod openapi;
pub mod overlays;
pub mod preview;
pub mod programs;
pub mod ptz;
pub mod shape;
pub mod status;
pub mod streams;
pub mod studio;
pub mod system;
pub mod timelines;
pub mod ui;
pub mod youtube;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::MethodRouter;
use axum::Router;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// A resource's routes and the paths they were registered under. Every API route goes through
/// it, so the test in `openapi.rs` can hold the whole route table against the OpenAPI document.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &'static str, methods: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }
}

/// Routes that answer without a session or token.
fn public_routes() -> Routes {
    Routes::new()
        .merge(system::public_router())
        .merge(auth::public_router())
        .merge(openapi::router())
}

/// Routes behind authentication.
fn protected_routes() -> Routes {
    Routes::new()
        .merge(auth::router())
        .merge(cameras::router())
        .merge(preview::router())
        .merge(destinations::router())
        .merge(streams::router())
        .merge(programs::router())
        .merge(ptz::router())
        .merge(status::router())
        .merge(system::router())
        .merge(timelines::router())
        .merge(overlays::router())
        .merge(assets::router())
        .merge(audio::router())
        .merge(studio::router())
        .merge(youtube::router())
        .merge(link::router())
}

/// Every path the API serves, public or not (the Swagger UI pages under `/api/docs` and the
/// web UI's fallback aside).
pub fn api_paths() -> Vec<&'static str> {
    [public_routes(), protected_routes()]
        .into_iter()
        .flat_map(|r| r.paths)
        .collect()
}

pub fn router(state: AppState) -> Router {
    let auth = middleware::from_fn_with_state(state.clone(), extract::require_auth);
    let protected = protected_routes().router.route_layer(auth);
    let public = public_routes().router.merge(
        SwaggerUi::new("/api/docs").config(utoipa_swagger_ui::Config::from(openapi::DOCUMENT_PATH)),
    );

    // `Router::layer` wraps each route (and the fallback): the innermost layers below run once
    // the route is known, before authentication (`route_layer` above).
    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(ui::serve)
        // Every body limit is `body::BODY_LIMITS`, applied here; axum's own default is off.
        .layer(middleware::from_fn(body::limit_body))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::map_response(error::json_rejections))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::refuse_cross_origin,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
