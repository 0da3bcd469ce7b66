//! The error delete API (admin API: 403 unless `web.enable_admin_api`), shaped like Loki's
//! `/loki/api/v1/delete` because Sentry has none: `POST|PUT /api/errors/v1/delete?start=&end=
//! [&project=][&issue=]` (204 with `X-Delete-Request-ID`; start/end as Loki's, RFC3339 or Unix
//! seconds; `issue` an issue id), `GET /api/errors/v1/delete` (the tenant's requests, oldest
//! first) and `DELETE /api/errors/v1/delete?request_id=[&force=true]` (cancel within
//! `errors.delete_request_cancel_period`). Per tenant (`X-Scope-OrgID` picks the tenant's error
//! store). Events are hidden at once and leave the log after the cancel period
//! ([`errors::deletes`]).

use crate::loki::delete::{cancel_response, parse_time, time_range};
use crate::loki::text;
use crate::sentry::{SentryState, TenantStore};
use crate::trace_delete::{bad, opt};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use errors::deletes::DeleteRequest;
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

pub fn routes(state: Arc<SentryState>) -> Router {
    Router::new()
        .route(
            "/api/errors/v1/delete",
            post(add).put(add).get(list).delete(cancel),
        )
        .with_state(state)
}

/// `POST|PUT /api/errors/v1/delete`.
async fn add(TenantStore(store): TenantStore, q: Params) -> Response {
    let now = model::time::now_ms();
    let (start, end) = match time_range(&q, false, 0, now) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let issue = opt(&q, "issue");
    if issue.as_deref().is_some_and(|i| i.parse::<u64>().is_err()) {
        return bad("invalid issue: require an issue id (digits)");
    }
    let project = opt(&q, "project");
    let r = tokio::task::spawn_blocking(move || store.add_delete(start, end, project, issue, now))
        .await;
    match r {
        Ok(Ok(id)) => {
            tracing::info!(request_id = id, "error delete request added");
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
        "project": r.project,
        "issue": r.issue,
        "status": r.status,
        "created_at": secs(r.created_at_ms),
    })
}

/// `GET /api/errors/v1/delete`: the tenant's requests (overlapping `start`..`end` when both
/// are given), oldest first.
async fn list(TenantStore(store): TenantStore, q: Params) -> Response {
    let mut reqs = store.deletes().list();
    if let (Some(s), Some(e)) = (q.get("start"), q.get("end")) {
        let now = model::time::now_ms();
        let (Ok(s), Ok(e)) = (parse_time(s, now), parse_time(e, now)) else {
            return bad("invalid start or end time: require unix seconds or RFC3339 format");
        };
        reqs.retain(|r| r.start_ms <= e && r.end_ms >= s);
    }
    axum::Json(reqs.iter().map(request_json).collect::<Vec<_>>()).into_response()
}

/// `DELETE /api/errors/v1/delete?request_id=[&force=true]`.
async fn cancel(TenantStore(store): TenantStore, q: Params) -> Response {
    let id = q.get("request_id").cloned().unwrap_or_default();
    let force = q.get("force").map(String::as_str) == Some("true");
    let r =
        tokio::task::spawn_blocking(move || store.cancel_delete(&id, force, model::time::now_ms()))
            .await;
    cancel_response(r)
}
