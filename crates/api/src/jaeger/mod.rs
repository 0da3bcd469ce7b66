//! Jaeger surfaces: the collector (`POST /api/traces`, Thrift binary `Batch`) and the query
//! service's HTTP API (`/api/services`, `/api/operations`, `/api/traces`, `/api/dependencies`,
//! plus `/api/traces/{id}/logs` for trace → logs correlation) with Jaeger's JSON shapes, so
//! Jaeger UI and Grafana's Jaeger data source work unchanged.

pub mod collector;
pub mod query;

use crate::trace_http::TracesState;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn routes(state: Arc<TracesState>) -> Router {
    Router::new()
        .route("/api/services", get(query::services))
        .route(
            "/api/services/{service}/operations",
            get(query::service_operations),
        )
        .route("/api/operations", get(query::operations))
        .route(
            "/api/traces",
            get(query::find_traces).post(collector::receive),
        )
        .route("/api/traces/{id}", get(query::get_trace))
        .route("/api/traces/{id}/logs", get(query::trace_logs))
        .route("/api/dependencies", get(query::dependencies))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}
