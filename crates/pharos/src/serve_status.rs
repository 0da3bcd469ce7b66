//! Wiring of pharos' own API for its web UI (`/api/pharos/v1/overview`, `/notifications`,
//! `/stores`): hands the stores, the scrape manager, the built-in Alertmanager and the data
//! directory to `api::pharos`.

use api::AppState;
use std::path::Path;
use std::sync::Arc;

/// The `/api/pharos/v1/*` routes.
pub fn routes(
    state: &AppState,
    logs: &crate::serve_logs::LogsWiring,
    traces: &crate::serve_traces::TracesRuntime,
    am: &alertmanager::Alertmanager,
    dashboards: Arc<dashboards::Store>,
    data_dir: &Path,
) -> axum::Router {
    api::pharos::routes(Arc::new(api::pharos::PharosState::new(
        state.tsdb.clone(),
        state.scrape.clone(),
        logs.store.clone(),
        traces.store.clone(),
        am.clone(),
        dashboards,
        data_dir.to_path_buf(),
        state.start_time_ms,
    )))
}
