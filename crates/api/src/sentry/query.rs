//! The error query API for the UI, under `/api/pharos/v1/errors/`: projects (list, create),
//! issues (list with filters/sort/paging, one with tag breakdowns, status changes, bulk),
//! an issue's events, full events, and the events of a trace. Times in answers are RFC 3339.

use super::{SentryState, TenantStore};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use errors::{IssueQuery, Status};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes(state: Arc<SentryState>) -> Router {
    Router::new()
        .route(
            "/api/pharos/v1/errors/projects",
            get(projects).post(create_project),
        )
        .route(
            "/api/pharos/v1/errors/issues",
            get(list_issues).put(bulk_status),
        )
        .route(
            "/api/pharos/v1/errors/issues/{id}",
            get(issue).put(set_status),
        )
        .route(
            "/api/pharos/v1/errors/issues/{id}/events",
            get(issue_events),
        )
        .route(
            "/api/pharos/v1/errors/issues/{id}/events/latest",
            get(latest_event),
        )
        .route("/api/pharos/v1/errors/events", get(events_by_trace))
        .route("/api/pharos/v1/errors/events/{event_id}", get(event))
        .with_state(state)
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// `scheme://host` the client reached us at (for DSNs).
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost:9090");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}")
}

fn project_json(p: &errors::Project, headers: &HeaderMap) -> Value {
    let b = base(headers);
    let (scheme, host) = b.split_once("://").unwrap_or(("http", &b));
    json!({
        "id": p.id,
        "name": p.name,
        "allow_pii": p.allow_pii,
        "from_config": p.from_config,
        "keys": p.keys.iter().map(|k| json!({
            "public": k.public,
            "dsn": format!("{scheme}://{}@{host}/{}", k.public, p.id),
        })).collect::<Vec<_>>(),
    })
}

async fn projects(TenantStore(tstore): TenantStore, headers: HeaderMap) -> Response {
    let list: Vec<Value> = tstore
        .projects()
        .iter()
        .map(|p| project_json(p, &headers))
        .collect();
    Json(json!({ "projects": list })).into_response()
}

async fn create_project(
    TenantStore(tstore): TenantStore,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body must be JSON {{\"name\": ...}}: {e}"),
            )
        }
    };
    let Some(name) = v.get("name").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "missing \"name\"");
    };
    let store = tstore.clone();
    let name = name.to_string();
    match tokio::task::spawn_blocking(move || store.create_project(&name)).await {
        Ok(Ok(p)) => Json(project_json(&p, &headers)).into_response(),
        Ok(Err(r)) => error(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            r.detail,
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Unix seconds or RFC 3339.
fn parse_time(s: &str) -> Option<f64> {
    errors::event::parse_timestamp(&Value::from(s))
}

fn non_empty(m: &HashMap<String, String>, k: &str) -> Option<String> {
    m.get(k)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn number(
    m: &HashMap<String, String>,
    k: &str,
    default: usize,
    max: usize,
) -> Result<usize, Response> {
    match non_empty(m, k) {
        None => Ok(default),
        Some(s) => s.parse::<usize>().map(|n| n.min(max)).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("{k} must be a non-negative integer, got {s:?}"),
            )
        }),
    }
}

async fn list_issues(
    TenantStore(tstore): TenantStore,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let time = |k: &str| -> Result<Option<f64>, Response> {
        match non_empty(&q, k) {
            None => Ok(None),
            Some(s) => parse_time(&s).map(Some).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("{k} must be Unix seconds or RFC 3339, got {s:?}"),
                )
            }),
        }
    };
    let (start, end) = match (time("start"), time("end")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let status = non_empty(&q, "status");
    if let Some(s) = &status {
        if s != "all" && Status::parse(s).is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                format!("status must be unresolved, resolved, resolved_in_next_release, ignored or all, got {s:?}"),
            );
        }
    }
    let sort = non_empty(&q, "sort");
    if let Some(s) = &sort {
        if !["last_seen", "first_seen", "count", "users"].contains(&s.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("sort must be last_seen, first_seen, count or users, got {s:?}"),
            );
        }
    }
    let (limit, offset) = match (
        number(&q, "limit", 100, 1000),
        number(&q, "offset", 0, usize::MAX),
    ) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let query = IssueQuery {
        project: non_empty(&q, "project"),
        status,
        environment: non_empty(&q, "environment"),
        release: non_empty(&q, "release"),
        level: non_empty(&q, "level"),
        query: non_empty(&q, "query"),
        start,
        end,
        sort,
        limit,
        offset,
    };
    let (issues, total) = tstore.list_issues(&query);
    Json(json!({ "issues": issues, "total": total })).into_response()
}

async fn issue(TenantStore(tstore): TenantStore, Path(id): Path<String>) -> Response {
    match tstore.issue(&id) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("issue {id} not found")),
    }
}

#[derive(Deserialize)]
struct StatusBody {
    status: Option<String>,
    #[serde(default)]
    ids: Vec<Value>,
}

fn parse_status_body(body: &[u8]) -> Result<(Status, Vec<String>), Response> {
    let b: StatusBody = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("body must be JSON {{\"status\": ...}}: {e}"),
        )
    })?;
    let Some(s) = b.status else {
        return Err(error(StatusCode::BAD_REQUEST, "missing \"status\""));
    };
    let status = Status::parse(&s).ok_or_else(|| {
        error(StatusCode::BAD_REQUEST, format!("status must be unresolved, resolved, resolved_in_next_release or ignored, got {s:?}"))
    })?;
    let ids = b
        .ids
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok((status, ids))
}

async fn set_status(
    TenantStore(tstore): TenantStore,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (status, _) = match parse_status_body(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let store = tstore.clone();
    let id2 = id.clone();
    match tokio::task::spawn_blocking(move || store.set_status(&id2, status)).await {
        Ok(Ok(Some(v))) => Json(v).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("issue {id} not found")),
        Ok(Err(r)) => error(StatusCode::INTERNAL_SERVER_ERROR, r.detail),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn bulk_status(TenantStore(tstore): TenantStore, body: axum::body::Bytes) -> Response {
    let (status, ids) = match parse_status_body(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let store = tstore.clone();
    match tokio::task::spawn_blocking(move || store.set_status_many(&ids, status)).await {
        Ok(Ok(n)) => Json(json!({ "updated": n })).into_response(),
        Ok(Err(r)) => error(StatusCode::INTERNAL_SERVER_ERROR, r.detail),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn issue_events(
    TenantStore(tstore): TenantStore,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (limit, offset) = match (
        number(&q, "limit", 50, 1000),
        number(&q, "offset", 0, usize::MAX),
    ) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    match tstore.issue_events(&id, limit, offset) {
        Some((events, total)) => Json(json!({ "events": events, "total": total })).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("issue {id} not found")),
    }
}

async fn latest_event(TenantStore(tstore): TenantStore, Path(id): Path<String>) -> Response {
    match tstore.latest_event(&id) {
        Some(v) => Json(v).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("issue {id} not found or has no events"),
        ),
    }
}

async fn event(TenantStore(tstore): TenantStore, Path(id): Path<String>) -> Response {
    match tstore.event(&id) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("event {id} not found")),
    }
}

async fn events_by_trace(
    TenantStore(tstore): TenantStore,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(t) = non_empty(&q, "trace_id") else {
        return error(
            StatusCode::BAD_REQUEST,
            "trace_id (32 hex digits) is required",
        );
    };
    if t.len() != 32 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("trace_id must be 32 hex digits, got {t:?}"),
        );
    }
    Json(json!({ "events": tstore.events_by_trace(&t) })).into_response()
}
