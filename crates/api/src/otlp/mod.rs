//! OTLP receivers: OTLP/HTTP `POST /v1/traces` (protobuf and JSON, gzip), the OTLP/gRPC
//! `TraceService/Export` service, and OTLP/HTTP metrics (`POST /v1/metrics`, routed with the
//! Prometheus API because it writes into the TSDB).

pub mod grpc;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod prom_names;

use crate::trace_http::TracesState;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

/// `POST /v1/traces`.
pub fn routes(state: Arc<TracesState>) -> Router {
    Router::new()
        .route("/v1/traces", post(http::export))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}
