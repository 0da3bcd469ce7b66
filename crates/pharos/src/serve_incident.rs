//! Wiring of the incident page's API (`/api/pharos/v1/incident`): hands the TSDB, the rules,
//! the log, trace and error stores, the scrape targets and the built-in Alertmanager to
//! `api::pharos::incident`, with `incident:` of pharos.yml.

use api::AppState;
use std::sync::Arc;

/// The `/api/pharos/v1/incident` route.
pub fn routes(
    state: &AppState,
    cfg: &config::LoadedConfig,
    rules: Arc<alerting::RuleManager>,
    logs: Arc<logs::LogStore>,
    traces: Arc<traces::TraceStore>,
    errors: Arc<errors::ErrorStore>,
    am: &alertmanager::Alertmanager,
) -> axum::Router {
    api::pharos::incident::routes(Arc::new(api::pharos::incident::IncidentState {
        storage: state.storage.clone(),
        engine: state.engine.clone(),
        rules,
        logs,
        traces,
        errors,
        scrape: state.scrape.clone(),
        alertmanager: am.clone(),
        settings: parking_lot::RwLock::new(cfg.incident.clone()),
        start_time_ms: state.start_time_ms,
    }))
}
