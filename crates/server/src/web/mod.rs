//! The web layer: authentication, validation of the request's shape, and JSON. No business
//! logic lives here; every handler calls the services. The route table is assembled here,
//! from one `router()` per resource.

pub mod auth;
pub mod cameras;
pub mod destinations;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod preview;
pub mod programs;
pub mod ptz;
pub mod status;
pub mod streams;
pub mod studio;
pub mod system;
pub mod timelines;
pub mod ui;

use axum::middleware;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
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
        .merge(studio::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            extract::require_auth,
        ));

    let public = Router::new()
        .merge(system::public_router())
        .merge(auth::public_router())
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi::ApiDoc::openapi()));

    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(ui::serve)
        .layer(RequestBodyLimitLayer::new(1024 * 1024))
        // Merged after the 1 MiB limit, which applies only to the routes merged before it.
        .merge(timelines::upload_router(state.clone()))
        .merge(studio::upload_router(state.clone()))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
