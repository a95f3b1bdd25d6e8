//! The one explicit application state handed to every handler: the services and the metrics
//! handle. It dereferences to the services, so a handler writes `state.cameras.list()`.

use metrics_exporter_prometheus::PrometheusHandle;

use crate::services::Services;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub metrics: PrometheusHandle,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
