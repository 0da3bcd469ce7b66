//! The trace delete API (admin API: 403 unless `web.enable_admin_api`), shaped like Loki's
//! `/loki/api/v1/delete` because Tempo has none: `POST|PUT /api/traces/v1/delete?start=&end=
//! [&service=][&operation=][&tags=]` (204 with `X-Delete-Request-ID`; start/end as Loki's,
//! RFC3339 or Unix seconds; `tags` as Jaeger's search, a JSON object or logfmt),
//! `GET /api/traces/v1/delete` (the tenant's requests, oldest first) and
//! `DELETE /api/traces/v1/delete?request_id=[&force=true]` (cancel within
//! `traces.delete_request_cancel_period`). Per tenant (`X-Scope-OrgID`; without it the request
//! covers spans ingested without a tenant). Spans are hidden at once and leave the segments
//! after the cancel period ([`traces::deletes`]).

use crate::loki::delete::{cancel_response, parse_time, time_range};
use crate::loki::text;
use crate::trace_http::TracesState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
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

pub(crate) fn bad(msg: impl Into<String>) -> Response {
    text(StatusCode::BAD_REQUEST, msg.into())
}

fn now_ms() -> i64 {
    model::time::now_ms()
}

fn tenant(headers: &HeaderMap) -> String {
    crate::prometheus::tenant::tenant_of(headers).unwrap_or_default()
}

pub(crate) fn opt(q: &HashMap<String, String>, k: &str) -> Option<String> {
    q.get(k)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// `POST|PUT /api/traces/v1/delete`.
async fn add(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    let now = now_ms();
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
    match r {
        Ok(Ok(id)) => {
            tracing::info!(
                tenant = tenant(&headers),
                request_id = id,
                "trace delete request added"
            );
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = id.parse() {
                resp.headers_mut().insert("x-delete-request-id", v);
            }
            resp
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn request_json(r: &DeleteRequest) -> serde_json::Value {
    let secs = |ms: i64| serde_json::json!(ms as f64 / 1000.0);
    serde_json::json!({
        "request_id": r.request_id,
        "start_time": secs(r.start_ms),
        "end_time": secs(r.end_ms),
        "service": r.service,
        "operation": r.operation,
        "tags": r.tags.iter().cloned().collect::<HashMap<_, _>>(),
        "status": r.status,
        "created_at": secs(r.created_at_ms),
    })
}

/// `GET /api/traces/v1/delete`: the tenant's requests (overlapping `start`..`end` when both
/// are given), oldest first.
async fn list(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    let mut reqs = st.store.deletes().list(&tenant(&headers));
    if let (Some(s), Some(e)) = (q.get("start"), q.get("end")) {
        let now = now_ms();
        let (Ok(s), Ok(e)) = (parse_time(s, now), parse_time(e, now)) else {
            return bad("invalid start or end time: require unix seconds or RFC3339 format");
        };
        reqs.retain(|r| r.start_ms <= e && r.end_ms >= s);
    }
    axum::Json(reqs.iter().map(request_json).collect::<Vec<_>>()).into_response()
}

/// `DELETE /api/traces/v1/delete?request_id=[&force=true]`.
async fn cancel(State(st): State<Arc<TracesState>>, headers: HeaderMap, q: Params) -> Response {
    let t = tenant(&headers);
    let id = q.get("request_id").cloned().unwrap_or_default();
    let force = q.get("force").map(String::as_str) == Some("true");
    let store = st.store.clone();
    let r =
        tokio::task::spawn_blocking(move || store.deletes().cancel(&t, &id, force, now_ms())).await;
    cancel_response(r)
}
