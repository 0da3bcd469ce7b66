//! Grafana's HTTP API for dashboards (their versions and stars), folders, search, annotations, data sources and health
//! (`/api/dashboards/*`, `/api/annotations`, `/api/search`, `/api/folders`, `/api/datasources`, `/api/health`,
//! `/api/frontend/settings`), over the dashboard store of the `dashboards` crate, with Grafana's
//! JSON shapes and status codes so the UI, `grafana-backup`-style tools and scripts written
//! against Grafana work unchanged. Errors are `{"message": "..."}` (plus `status` on 412).

mod annotations;
mod dashboards;
mod datasources;
mod folders;
mod search;
mod stars;
mod versions;

pub use datasources::{builtin_datasources, Datasource, GRAFANA_COMPAT_VERSION};

use ::dashboards::json::{Map, Value};
use ::dashboards::StoreError;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// State of the Grafana API: the dashboard store.
pub struct GrafanaState {
    pub store: Arc<::dashboards::Store>,
    /// The built-in annotations (`/api/annotations`).
    pub annotations: Arc<::dashboards::annotations::Annotations>,
}

/// The Grafana API routes.
pub fn routes(state: Arc<GrafanaState>) -> Router {
    Router::new()
        .route("/api/dashboards/db", post(dashboards::save))
        .route("/api/dashboards/import", post(dashboards::import))
        .route(
            "/api/dashboards/uid/{uid}",
            get(dashboards::get_by_uid).delete(dashboards::delete_by_uid),
        )
        .route("/api/dashboards/uid/{uid}/versions", get(versions::list))
        .route(
            "/api/dashboards/uid/{uid}/versions/{id}",
            get(versions::get_one),
        )
        .route("/api/dashboards/uid/{uid}/restore", post(versions::restore))
        .route(
            "/api/user/stars/dashboard/uid/{uid}",
            post(stars::star).delete(stars::unstar),
        )
        .route("/api/user/stars", get(stars::list))
        .route("/api/dashboards/tags", get(search::tags))
        .route(
            "/api/annotations",
            get(annotations::find).post(annotations::create),
        )
        .route("/api/annotations/tags", get(annotations::tags))
        .route(
            "/api/annotations/{id}",
            axum::routing::put(annotations::update)
                .patch(annotations::patch)
                .delete(annotations::delete),
        )
        .route("/api/search", get(search::search))
        .route("/api/folders", get(search::folders).post(folders::create))
        .route(
            "/api/folders/{uid}",
            get(search::folder)
                .put(folders::update)
                .delete(folders::delete),
        )
        .route("/api/health", get(datasources::health))
        .route("/api/datasources", get(datasources::list))
        .route("/api/datasources/uid/{uid}", get(datasources::by_uid))
        .route("/api/datasources/name/{name}", get(datasources::by_name))
        .route("/api/datasources/{id}", get(datasources::by_id))
        .route(
            "/api/frontend/settings",
            get(datasources::frontend_settings),
        )
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}

/// An object value from `(key, value)` pairs, in that order.
pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k, v);
    }
    Value::Object(m)
}

pub(crate) fn int(n: i64) -> Value {
    Value::from_i64(n)
}

pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// A JSON response that keeps the value's key order.
pub(crate) fn reply(code: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"message": msg}` with `code`.
pub(crate) fn message(code: StatusCode, msg: impl Into<String>) -> Response {
    reply(code, &obj([("message", s(msg))]))
}

/// The response for a store error, with Grafana's status codes.
pub(crate) fn store_error(e: StoreError) -> Response {
    match &e {
        StoreError::VersionMismatch | StoreError::NameExists => reply(
            StatusCode::PRECONDITION_FAILED,
            &obj([
                ("message", s(e.message())),
                ("status", s(e.status().unwrap_or_default())),
            ]),
        ),
        StoreError::NotFound => message(StatusCode::NOT_FOUND, e.message()),
        StoreError::Conflict(m) => message(StatusCode::CONFLICT, m.clone()),
        StoreError::Io(m) => {
            tracing::error!("dashboard store: {m}");
            message(StatusCode::INTERNAL_SERVER_ERROR, e.message())
        }
        StoreError::BadRequest(_)
        | StoreError::TitleEmpty
        | StoreError::ProvisionedReadOnly
        | StoreError::CannotDeleteProvisioned => message(StatusCode::BAD_REQUEST, e.message()),
    }
}

/// A refused request: status and message, answered by [`fail`].
pub(crate) type Fail = (StatusCode, String);

/// The `{"message"}` response of a [`Fail`].
pub(crate) fn fail(f: Fail) -> Response {
    message(f.0, f.1)
}

/// A 400 [`Fail`].
pub(crate) fn bad(msg: impl Into<String>) -> Fail {
    (StatusCode::BAD_REQUEST, msg.into())
}

/// The request body as an order-keeping JSON value, or a 400 naming the parse error.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, Fail> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "bad request data: the body is empty, send a JSON object",
        ));
    }
    ::dashboards::json::parse(body)
        .map_err(|e| bad(format!("bad request data: invalid JSON at {e}")))
}

/// `http://<Host>` of the request, for absolute URLs Grafana's APIs report.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default()
}

/// RFC 3339 (seconds, UTC) of Unix milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}
