//! The error delete API (admin API: 403 unless `web.enable_admin_api`), shaped like Loki's
//! `/loki/api/v1/delete` because Sentry has none: `POST|PUT /api/errors/v1/delete?start=&end=
//! [&project=][&issue=]` (204 with `X-Delete-Request-ID`; start/end as Loki's, RFC3339 or Unix
//! seconds; `issue` an issue id), `GET /api/errors/v1/delete` (the tenant's requests, oldest
//! first) and `DELETE /api/errors/v1/delete?request_id=[&force=true]` (cancel within
//! `errors.delete_request_cancel_period`). Per tenant (`X-Scope-OrgID` picks the tenant's error
//! store). Events are hidden at once and leave the log after the cancel period
//! ([`errors::deletes`]).

use crate::deletes::{added, bad, cancel_params, cancel_response, internal, listed, opt};
use crate::loki::delete::time_range;
use crate::sentry::{SentryState, TenantStore};
use axum::extract::Query;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use errors::deletes::DeleteRequest;
use serde_json::json;
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
    added(r, "error", "", internal)
}

fn request_json(r: &DeleteRequest) -> serde_json::Value {
    let fields = [("project", json!(r.project)), ("issue", json!(r.issue))];
    crate::deletes::request_json(r, (r.start_ms, r.end_ms), fields)
}

/// `GET /api/errors/v1/delete`: the tenant's requests (overlapping `start`..`end` when both
/// are given), oldest first.
async fn list(TenantStore(store): TenantStore, q: Params) -> Response {
    listed(
        store.deletes().list(),
        &q,
        |r| (r.start_ms, r.end_ms),
        request_json,
    )
}

/// `DELETE /api/errors/v1/delete?request_id=[&force=true]`.
async fn cancel(TenantStore(store): TenantStore, q: Params) -> Response {
    let (id, force) = cancel_params(&q);
    let r =
        tokio::task::spawn_blocking(move || store.cancel_delete(&id, force, model::time::now_ms()))
            .await;
    cancel_response(r)
}
