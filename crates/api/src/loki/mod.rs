//! Loki's HTTP API over the embedded log store: push (`push.rs`), queries, labels, series and
//! index stats (`query.rs`), live tailing over WebSocket (`tail.rs`), delete requests
//! (`delete.rs`), readiness and build info.
//! Tenants come from `X-Scope-OrgID` when `auth_enabled` is on, else everything is tenant `fake`.
//! Errors are plain text with Loki's status codes, as logcli and Grafana expect.

// Helpers return a finished error `Response` for early exit from handlers; its size is fine.
#![allow(clippy::result_large_err)]

pub mod delete;
pub mod push;
pub mod query;
pub mod tail;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use model::StorageError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// State of the Loki API.
pub struct LokiState {
    pub store: Arc<logs::LogStore>,
    /// Require `X-Scope-OrgID` (Loki's `auth_enabled`).
    pub auth_enabled: AtomicBool,
}

impl LokiState {
    pub fn new(store: Arc<logs::LogStore>, auth_enabled: bool) -> Arc<LokiState> {
        Arc::new(LokiState {
            store,
            auth_enabled: AtomicBool::new(auth_enabled),
        })
    }

    /// The request's tenant, or Loki's 401 when multi-tenancy is on and the header is missing.
    pub fn tenant(&self, headers: &HeaderMap) -> Result<String, Response> {
        if !self.auth_enabled.load(Ordering::Relaxed) {
            return Ok(model::logs::DEFAULT_TENANT.to_string());
        }
        match headers
            .get("x-scope-orgid")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        {
            Some(t) if !t.is_empty() => {
                if t.len() > 150 || t.contains(['/', '\\']) || t == "." || t == ".." {
                    return Err(text(
                        StatusCode::BAD_REQUEST,
                        format!("tenant ID '{t}' is invalid"),
                    ));
                }
                Ok(t.to_string())
            }
            _ => Err(text(StatusCode::UNAUTHORIZED, "no org id".to_string())),
        }
    }
}

/// A plain-text response, as Loki writes errors.
pub fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        msg + "\n",
    )
        .into_response()
}

pub fn storage_error(e: StorageError) -> Response {
    match e {
        StorageError::BadInput(m) => text(StatusCode::BAD_REQUEST, m),
        StorageError::Limit(m) => text(StatusCode::TOO_MANY_REQUESTS, m),
        // A full disk: 507, which promtail/Alloy retry as every 5xx (see `crate::disk_full`).
        StorageError::Io(m) if model::storage::is_disk_full(&m) => crate::disk_full::text(
            StatusCode::INSUFFICIENT_STORAGE,
            model::storage::disk_full_message(&m),
        ),
        StorageError::Io(m) => text(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// The Loki API routes (`/loki/api/v1/*`, `/ready`).
pub fn routes(state: Arc<LokiState>) -> Router {
    Router::new()
        .route("/loki/api/v1/push", post(push::push))
        .route("/api/prom/push", post(push::push))
        .route(
            "/loki/api/v1/query",
            get(query::instant).post(query::instant),
        )
        .route(
            "/loki/api/v1/query_range",
            get(query::range).post(query::range),
        )
        .route(
            "/loki/api/v1/labels",
            get(query::labels).post(query::labels),
        )
        .route("/loki/api/v1/label", get(query::labels))
        .route("/loki/api/v1/label/{name}/values", get(query::label_values))
        .route(
            "/loki/api/v1/series",
            get(query::series).post(query::series),
        )
        .route(
            "/loki/api/v1/index/stats",
            get(query::index_stats).post(query::index_stats),
        )
        .route(
            "/loki/api/v1/index/volume",
            get(query::volume).post(query::volume),
        )
        .route("/loki/api/v1/tail", get(tail::tail))
        .route(
            "/loki/api/v1/delete",
            post(delete::add)
                .put(delete::add)
                .get(delete::list)
                .delete(delete::cancel),
        )
        .route(
            "/loki/api/v1/cache/generation_numbers",
            get(delete::cache_generation),
        )
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .route("/ready", get(ready))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}

/// OTLP/HTTP logs (`POST /v1/logs`) into the same store and tenants.
pub fn otlp_routes(state: Arc<LokiState>) -> Router {
    Router::new()
        .route("/v1/logs", post(crate::otlp::logs::export))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}

async fn ready() -> Response {
    text(StatusCode::OK, "ready".into())
}

async fn buildinfo() -> Response {
    axum::Json(serde_json::json!({
        "version": "3.0.0",
        "revision": "pharos",
        "branch": "main",
        "buildUser": "pharos",
        "buildDate": "",
        "goVersion": "",
        "pharosVersion": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}
