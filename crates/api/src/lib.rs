//! HTTP surfaces of pharos, mapped to the peers' paths: the Prometheus HTTP API (`/api/v1/*`),
//! the remote_write receiver, health/readiness, reload and self metrics. Handlers translate
//! HTTP to calls on the stores and engines; they hold no signal logic of their own.

pub mod alertmanager;
mod deletes;
pub mod disk_full;
pub mod elasticsearch;
pub mod error_delete;
#[cfg(test)]
mod fuzz_tests;
pub mod grafana;
pub mod jaeger;
pub mod loki;
pub mod otlp;
pub mod pharos;
pub mod prometheus;
pub mod selfmetrics;
pub mod sentry;
pub mod tenant_limits;
pub mod trace_delete;
pub mod trace_http;
pub mod ui;
pub mod zipkin;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use parking_lot::RwLock;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A reload request handler: re-reads the config files and applies them.
pub type ReloadFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Everything the HTTP handlers need, shared by all requests.
pub struct AppState {
    pub storage: Arc<dyn model::Queryable>,
    pub sink: Arc<dyn model::MetricSink>,
    pub tsdb: Arc<tsdb::Tsdb>,
    pub engine: promql::Engine,
    pub scrape: Arc<scrape::ScrapeManager>,
    pub config: RwLock<Arc<config::LoadedConfig>>,
    pub reload: ReloadFn,
    /// Process start, Unix ms.
    pub start_time_ms: i64,
    pub ready: AtomicBool,
    pub http_metrics: selfmetrics::HttpMetrics,
    /// Command-line flags, for `/api/v1/status/flags`.
    pub flags: Vec<(String, String)>,
}

impl AppState {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Largest accepted request body (compressed) for any endpoint.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Builds the router serving every HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    use prometheus::{metadata_api, query_api, remote_write, status};
    Router::new()
        .route(
            "/api/v1/query",
            get(query_api::instant).post(query_api::instant),
        )
        .route(
            "/api/v1/query_range",
            get(query_api::range).post(query_api::range),
        )
        .route(
            "/api/v1/series",
            get(metadata_api::series).post(metadata_api::series),
        )
        .route(
            "/api/v1/labels",
            get(metadata_api::labels).post(metadata_api::labels),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(metadata_api::label_values),
        )
        .route("/api/v1/metadata", get(metadata_api::metadata))
        .route("/api/v1/targets", get(metadata_api::targets))
        .route(
            "/api/v1/query_exemplars",
            get(metadata_api::exemplars).post(metadata_api::exemplars),
        )
        .route(
            "/api/v1/format_query",
            get(query_api::format_query).post(query_api::format_query),
        )
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/tsdb", get(status::tsdb_status))
        // 507 on a full disk, with `Retry-After` (see `disk_full`).
        .route(
            "/api/v1/write",
            post(remote_write::receive).layer(axum::middleware::map_response(
                disk_full::retry_after_on_507,
            )),
        )
        .route("/v1/metrics", post(otlp::metrics::export))
        .route("/api/v1/otlp/v1/metrics", post(otlp::metrics::export))
        .route("/-/healthy", get(status::healthy).head(status::healthy))
        .route("/-/ready", get(status::ready).head(status::ready))
        .route("/-/reload", post(status::reload).put(status::reload))
        .route("/metrics", get(selfmetrics::handler))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            selfmetrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
