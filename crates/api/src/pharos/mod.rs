//! pharos' own API for its web UI, under `/api/pharos/v1/`: `overview` (ingest totals of every
//! signal, targets up/down, alerts, storage per store, build info, uptime — the UI turns the
//! totals into rates), `notifications` (the built-in Alertmanager's recent delivery attempts)
//! and `stores` (log and trace store statistics beside Prometheus' `/api/v1/status/tsdb`);
//! `incident` (one alert's context: its query, logs, traces, errors, targets, restarts).
//! The numbers are the stores' own counters, the same ones `/metrics` exports. Errors are
//! `{"error": "..."}` with a 4xx status.

pub mod incident;
mod overview;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Everything the pharos API reads.
pub struct PharosState {
    pub tsdb: Arc<tsdb::Tsdb>,
    pub scrape: Arc<scrape::ScrapeManager>,
    pub logs: Arc<logs::LogStore>,
    pub traces: Arc<traces::TraceStore>,
    pub alertmanager: alertmanager::Alertmanager,
    pub dashboards: Arc<dashboards::Store>,
    /// The data directory, whose subdirectories are measured for `storage`.
    pub data_dir: PathBuf,
    /// Process start, Unix ms.
    pub start_time_ms: i64,
    /// The last disk measurement (walking the data directory is not free).
    pub(crate) disk_cache: Mutex<Option<(Instant, overview::DiskUsage)>>,
}

impl PharosState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tsdb: Arc<tsdb::Tsdb>,
        scrape: Arc<scrape::ScrapeManager>,
        logs: Arc<logs::LogStore>,
        traces: Arc<traces::TraceStore>,
        alertmanager: alertmanager::Alertmanager,
        dashboards: Arc<dashboards::Store>,
        data_dir: PathBuf,
        start_time_ms: i64,
    ) -> PharosState {
        PharosState {
            tsdb,
            scrape,
            logs,
            traces,
            alertmanager,
            dashboards,
            data_dir,
            start_time_ms,
            disk_cache: Mutex::new(None),
        }
    }
}

/// The `/api/pharos/v1/*` routes.
pub fn routes(state: Arc<PharosState>) -> Router {
    Router::new()
        .route("/api/pharos/v1/overview", get(overview::overview))
        .route("/api/pharos/v1/notifications", get(overview::notifications))
        .route("/api/pharos/v1/stores", get(overview::stores))
        .with_state(state)
}

/// `{"error": msg}` with status 400.
pub(crate) fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": msg.into() })),
    )
        .into_response()
}
