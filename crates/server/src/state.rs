//! The one explicit application state handed to every handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::controller::Controller;

#[derive(Clone)]
pub struct AppState {
    pub ctl: Arc<Controller>,
    pub metrics: PrometheusHandle,
}
