//! Zipkin v2 API: `POST /api/v2/spans` (JSON) and the read endpoints `GET /api/v2/trace/{id}`,
//! `/api/v2/traces`, `/api/v2/services`, `/api/v2/spans?serviceName=`; and Tempo's
//! `GET /api/v2/traces/{id}` (`{"trace": <OTLP JSON>}`), the OTLP JSON export of a trace.

pub mod api;

use crate::trace_http::TracesState;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn routes(state: Arc<TracesState>) -> Router {
    Router::new()
        .route("/api/v2/spans", get(api::span_names).post(api::receive))
        .route("/api/v2/services", get(api::services))
        .route("/api/v2/trace/{id}", get(api::get_trace))
        .route("/api/v2/traces", get(api::find_traces))
        // Not Zipkin: Tempo's trace-by-id v2 (OTLP JSON), on the free path next to it.
        .route("/api/v2/traces/{id}", get(api::get_trace_otlp))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}
