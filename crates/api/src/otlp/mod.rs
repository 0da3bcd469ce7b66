//! OTLP receivers: OTLP/HTTP `POST /v1/traces` (protobuf and JSON, gzip) and the OTLP/gRPC
//! `TraceService/Export` service.

pub mod grpc;
pub mod http;
pub mod logs;

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
