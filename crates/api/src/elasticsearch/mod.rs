//! The Elasticsearch-compatible HTTP surface: what `winston-elasticsearch` (and the official
//! `@elastic/elasticsearch` client under it) calls on start and while logging — `GET /`,
//! `_cluster/health`, `HEAD`/`PUT /_index_template/{name}`, `_template`, `_bulk` — plus
//! single-document indexing and reading (`GET`/`HEAD {index}/_doc/{id}`,
//! `{index}/_source/{id}`), `_search`, `_msearch` (Grafana's Elasticsearch data source),
//! `_count`, `_mapping` (inferred) and `_cat/indices`. Documents become log lines (see
//! `esdsl::document`); search scans the index's streams and evaluates the query DSL with
//! `esdsl`. Every response carries `X-Elastic-Product: Elasticsearch`, which the official
//! clients (8.x) require.

pub mod admin;
pub mod ingest;
pub mod search;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use esdsl::EsError;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest `_bulk` body (ES' default `http.max_content_length` is 100mb).
pub const MAX_BULK_BYTES: usize = 100 << 20;

/// Stored templates by kind (`index_template`, `template`, `component_template`, ...).
pub type Templates = BTreeMap<String, BTreeMap<String, Value>>;

/// State of the Elasticsearch API.
pub struct EsState {
    pub sink: Arc<dyn model::LogSink>,
    pub store: Arc<dyn model::LogQueryable>,
    /// Accepted templates and policies, persisted to `templates_path` when set.
    pub templates: Mutex<Templates>,
    pub templates_path: Option<PathBuf>,
}

impl EsState {
    /// Creates the state; templates are loaded from `templates_path` when it exists.
    pub fn new(
        sink: Arc<dyn model::LogSink>,
        store: Arc<dyn model::LogQueryable>,
        templates_path: Option<PathBuf>,
    ) -> Self {
        let templates = templates_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        EsState {
            sink,
            store,
            templates: Mutex::new(templates),
            templates_path,
        }
    }
}

/// An ES error as an HTTP response.
pub struct EsReply(pub EsError);

impl From<EsError> for EsReply {
    fn from(e: EsError) -> Self {
        EsReply(e)
    }
}

impl IntoResponse for EsReply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.0.to_json())).into_response()
    }
}

/// Tenant of a request: `X-Scope-OrgID` when sent, else Loki's single-tenant id.
pub fn tenant(headers: &HeaderMap) -> String {
    headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or(model::logs::DEFAULT_TENANT)
        .to_string()
}

async fn product_header(resp: Response) -> Response {
    let mut resp = resp;
    resp.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    resp
}

/// Routes of the Elasticsearch API (everything except `GET /`, see [`root_routes`]).
pub fn routes(state: Arc<EsState>) -> Router {
    Router::new()
        .route("/_cluster/health", get(admin::health))
        .route("/_cluster/health/{index}", get(admin::health))
        .route("/_cat/indices", get(admin::cat_indices))
        .route("/_cat/indices/{index}", get(admin::cat_indices))
        .route("/_cat/health", get(admin::cat_health))
        .route("/_index_template", get(admin::template_list_index))
        .route(
            "/_index_template/{name}",
            get(admin::template_get_index)
                .head(admin::template_head_index)
                .put(admin::template_put_index)
                .post(admin::template_put_index)
                .delete(admin::template_delete_index),
        )
        .route("/_template", get(admin::template_list_legacy))
        .route(
            "/_template/{name}",
            get(admin::template_get_legacy)
                .head(admin::template_head_legacy)
                .put(admin::template_put_legacy)
                .post(admin::template_put_legacy)
                .delete(admin::template_delete_legacy),
        )
        .route(
            "/_component_template/{name}",
            get(admin::template_get_component)
                .head(admin::template_head_component)
                .put(admin::template_put_component)
                .post(admin::template_put_component)
                .delete(admin::template_delete_component),
        )
        .route(
            "/_ilm/policy/{name}",
            put(admin::acknowledge).get(admin::ilm_get),
        )
        .route("/_data_stream/{name}", put(admin::acknowledge))
        .route("/_bulk", post(ingest::bulk).put(ingest::bulk))
        .route(
            "/{index}/_bulk",
            post(ingest::bulk_index).put(ingest::bulk_index),
        )
        .route("/{index}/_doc", post(ingest::doc_auto_id))
        .route(
            "/{index}/_doc/{id}",
            put(ingest::doc_with_id)
                .post(ingest::doc_with_id)
                .get(search::get_doc),
        )
        .route("/{index}/_source/{id}", get(search::get_source))
        .route(
            "/{index}/_create/{id}",
            put(ingest::create_with_id).post(ingest::create_with_id),
        )
        .route("/_search", get(search::search_all).post(search::search_all))
        .route(
            "/{index}/_search",
            get(search::search_index).post(search::search_index),
        )
        .route(
            "/_msearch",
            get(search::msearch_all).post(search::msearch_all),
        )
        .route(
            "/{index}/_msearch",
            get(search::msearch_index).post(search::msearch_index),
        )
        .route("/_mapping", get(search::mapping))
        .route("/{index}/_mapping", get(search::mapping))
        .route("/_count", get(search::count_all).post(search::count_all))
        .route(
            "/{index}/_count",
            get(search::count_index).post(search::count_index),
        )
        .route(
            "/{index}/_refresh",
            post(admin::refresh).get(admin::refresh),
        )
        .route("/_refresh", post(admin::refresh).get(admin::refresh))
        .layer(axum::middleware::map_response(product_header))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(DefaultBodyLimit::max(MAX_BULK_BYTES))
        .with_state(state)
}

/// `GET /` and `HEAD /` (cluster info), apart so the owner of `/` can choose to serve it.
pub fn root_routes() -> Router {
    Router::new()
        .route("/", get(admin::info).head(admin::info))
        .layer(axum::middleware::map_response(product_header))
}

#[cfg(test)]
mod tests;
