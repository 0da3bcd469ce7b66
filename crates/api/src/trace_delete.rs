//! The trace delete API (admin API: 403 unless `web.enable_admin_api`), shaped like Loki's
//! `/loki/api/v1/delete` because Tempo has none: `POST|PUT /api/traces/v1/delete?start=&end=
//! [&service=][&operation=][&tags=]` (204 with `X-Delete-Request-ID`; start/end as Loki's,
//! RFC3339 or Unix seconds; `tags` as Jaeger's search, a JSON object or logfmt),
//! `GET /api/traces/v1/delete` (the tenant's requests, oldest first) and
//! `DELETE /api/traces/v1/delete?request_id=[&force=true]` (cancel within
//! `traces.delete_request_cancel_period`). Per tenant (`X-Scope-OrgID`; without it the request
//! covers spans ingested without a tenant). Spans are hidden at once and leave the segments
//! after the cancel period ([`traces::deletes`]).

use crate::deletes::{added, bad, cancel_params, cancel_response, internal, listed, opt};
use crate::loki::delete::time_range;
use crate::trace_http::TracesState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use traces::deletes::DeleteRequest;

type Params = Query<HashMap<String, String>>;

pub fn routes(state: Arc<TracesState>) -> Router {
    Router::new()
        .route(
            "/api/traces/v1/delete",
            post(add).put(add).get(list).delete(cancel),
        )
        .with_state(state)
}

fn tenant(headers: &HeaderMap) -> String {
    crate::prometheus::tenant::tenant_of(headers).unwrap_or_default()
}

/// `POST|PUT /api/traces/v1/delete`.
async fn add(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    let now = model::time::now_ms();
    let (start, end) = match time_range(&q, false, 0, now) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let tags = match traces::query::parse_tags(q.get("tags").map(String::as_str).unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return bad(e),
    };
    let (service, operation) = (opt(&q, "service"), opt(&q, "operation"));
    let t = tenant(&headers);
    let store = st.store.clone();
    let r = tokio::task::spawn_blocking(move || {
        store
            .deletes()
            .add(&t, start, end, service, operation, tags, now)
    })
    .await;
    added(r, "trace", &tenant(&headers), internal)
}

fn request_json(r: &DeleteRequest) -> serde_json::Value {
    let tags: HashMap<_, _> = r.tags.iter().cloned().collect();
    let fields = [
        ("service", json!(r.service)),
        ("operation", json!(r.operation)),
    ];
    let mut v = crate::deletes::request_json(r, (r.start_ms, r.end_ms), fields);
    v["tags"] = json!(tags);
    v
}

/// `GET /api/traces/v1/delete`: the tenant's requests (overlapping `start`..`end` when both
/// are given), oldest first.
async fn list(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    listed(
        st.store.deletes().list(&tenant(&headers)),
        &q,
        |r| (r.start_ms, r.end_ms),
        request_json,
    )
}

/// `DELETE /api/traces/v1/delete?request_id=[&force=true]`.
async fn cancel(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    let t = tenant(&headers);
    let (id, force) = cancel_params(&q);
    let store = st.store.clone();
    let r = tokio::task::spawn_blocking(move || {
        store
            .deletes()
            .cancel(&t, &id, force, model::time::now_ms())
    })
    .await;
    cancel_response(r)
}
