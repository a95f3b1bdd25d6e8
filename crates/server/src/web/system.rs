//! `/api/health` (no auth, for container health checks) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Routes;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

pub fn public_router() -> Routes {
    Routes::new().route("/api/health", get(health))
}

pub fn router() -> Routes {
    Routes::new().route("/metrics", get(metrics))
}

/// Liveness: answers as long as the server runs.
#[utoipa::path(get, path = "/api/health", tag = "system", operation_id = "get_health", security(()),
    responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "get_metrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.status.update_gauges();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
