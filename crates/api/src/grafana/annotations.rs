//! Grafana's annotations HTTP API over the `dashboards::annotations` store: `POST
//! /api/annotations`, `GET /api/annotations?from&to&tags&dashboardUID&panelId&limit&type&matchAny`,
//! `PUT`/`PATCH`/`DELETE /api/annotations/{id}` and `GET /api/annotations/tags`, with Grafana's
//! JSON shapes, messages and status codes.

use super::{bad, fail, message, Fail, GrafanaState};
use ::dashboards::annotations::{AnnotationError, Change, Query as AnnQuery};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn json_reply(code: StatusCode, v: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn int_field(v: &Value, key: &str) -> Result<Option<i64>, Fail> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| bad(format!("{key} must be an integer"))),
        Some(_) => Err(bad(format!("{key} must be a number"))),
    }
}

/// The editable fields of a create/update body.
fn parse_change(body: &[u8]) -> Result<Change, Fail> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("bad request data: invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad("bad request data: send a JSON object"));
    }
    let text = match v.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("text must be a string")),
    };
    let tags = match v.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|t| t.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("tags must be a list of strings"))?,
        ),
        Some(_) => return Err(bad("tags must be a list of strings")),
    };
    let dashboard_uid = match v.get("dashboardUID") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("dashboardUID must be a string")),
    };
    Ok(Change {
        time: int_field(&v, "time")?,
        time_end: int_field(&v, "timeEnd")?,
        text,
        tags,
        dashboard_uid,
        dashboard_id: int_field(&v, "dashboardId")?,
        panel_id: int_field(&v, "panelId")?,
        data: v.get("data").cloned().filter(|d| !d.is_null()),
    })
}

fn ann_error(e: AnnotationError) -> Response {
    match e {
        AnnotationError::NotFound => message(StatusCode::NOT_FOUND, "Annotation not found"),
        AnnotationError::BadRequest(m) => message(StatusCode::BAD_REQUEST, m),
        AnnotationError::Io(m) => {
            tracing::error!("annotations: {m}");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to save annotation",
            )
        }
    }
}

fn parse_id(id: &str) -> Result<i64, Fail> {
    id.parse::<i64>()
        .map_err(|_| bad(format!("annotation id must be an integer, got {id:?}")))
}

/// `POST /api/annotations`: `{"message": "Annotation added", "id": N}`.
pub async fn create(State(st): State<Arc<GrafanaState>>, body: Bytes) -> Response {
    let mut c = match parse_change(&body) {
        Ok(c) => c,
        Err(f) => return fail(f),
    };
    // Grafana resolves the dashboard's numeric id from its uid.
    if let Some(uid) = c.dashboard_uid.as_deref().filter(|u| !u.is_empty()) {
        match st.store.get(uid) {
            Some(d) => c.dashboard_id = Some(d.entry.id),
            None => return message(StatusCode::BAD_REQUEST, "Dashboard not found"),
        }
    }
    let ann = st.annotations.clone();
    match tokio::task::spawn_blocking(move || ann.create(c, now_ms())).await {
        Ok(Ok(id)) => json_reply(
            StatusCode::OK,
            &json!({"message": "Annotation added", "id": id}),
        ),
        Ok(Err(e)) => ann_error(e),
        Err(e) => ann_error(AnnotationError::Io(e.to_string())),
    }
}

async fn change(st: Arc<GrafanaState>, id: String, body: Bytes, replace: bool) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(f) => return fail(f),
    };
    let c = match parse_change(&body) {
        Ok(c) => c,
        Err(f) => return fail(f),
    };
    let ann = st.annotations.clone();
    match tokio::task::spawn_blocking(move || ann.update(id, c, replace, now_ms())).await {
        Ok(Ok(())) => message(
            StatusCode::OK,
            if replace {
                "Annotation updated"
            } else {
                "Annotation patched"
            },
        ),
        Ok(Err(e)) => ann_error(e),
        Err(e) => ann_error(AnnotationError::Io(e.to_string())),
    }
}

/// `PUT /api/annotations/{id}`: replaces time, timeEnd, text and tags.
pub async fn update(
    State(st): State<Arc<GrafanaState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change(st, id, body, true).await
}

/// `PATCH /api/annotations/{id}`: changes only the fields given.
pub async fn patch(
    State(st): State<Arc<GrafanaState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change(st, id, body, false).await
}

/// `DELETE /api/annotations/{id}`.
pub async fn delete(State(st): State<Arc<GrafanaState>>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(f) => return fail(f),
    };
    let ann = st.annotations.clone();
    match tokio::task::spawn_blocking(move || ann.delete(id)).await {
        Ok(Ok(())) => message(StatusCode::OK, "Annotation deleted"),
        Ok(Err(e)) => ann_error(e),
        Err(e) => ann_error(AnnotationError::Io(e.to_string())),
    }
}

fn last<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn int_param(q: &[(String, String)], name: &str) -> Result<Option<i64>, Fail> {
    last(q, name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad(format!("{name} must be an integer, got {v:?}")))
        })
        .transpose()
}

fn parse_query(q: &[(String, String)]) -> Result<AnnQuery, Fail> {
    let kind = match last(q, "type") {
        None => None,
        Some(t @ ("alert" | "annotation")) => Some(t.to_string()),
        Some(t) => return Err(bad(format!("type must be alert or annotation, got {t:?}"))),
    };
    let limit = int_param(q, "limit")?;
    if limit.is_some_and(|l| l < 0) {
        return Err(bad("limit must not be negative"));
    }
    Ok(AnnQuery {
        from: int_param(q, "from")?,
        to: int_param(q, "to")?,
        dashboard_uid: last(q, "dashboardUID").map(String::from),
        dashboard_id: int_param(q, "dashboardId")?,
        panel_id: int_param(q, "panelId")?,
        alert_id: int_param(q, "alertId")?,
        tags: q
            .iter()
            .filter(|(k, _)| k == "tags")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        match_any: last(q, "matchAny") == Some("true"),
        kind,
        limit: limit.map(|l| l as usize),
    })
}

/// `GET /api/annotations`: a JSON array, newest first.
pub async fn find(
    State(st): State<Arc<GrafanaState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let query = match parse_query(&q) {
        Ok(q) => q,
        Err(f) => return fail(f),
    };
    let found = st.annotations.find(&query);
    match serde_json::to_value(&found) {
        Ok(v) => json_reply(StatusCode::OK, &v),
        Err(e) => ann_error(AnnotationError::Io(e.to_string())),
    }
}

/// `GET /api/annotations/tags?tag=&limit=`: `{"result": {"tags": [{"tag", "count"}]}}`.
pub async fn tags(
    State(st): State<Arc<GrafanaState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let limit = match int_param(&q, "limit") {
        Ok(l) => l.filter(|l| *l > 0).unwrap_or(100) as usize,
        Err(f) => return fail(f),
    };
    let tags: Vec<Value> = st
        .annotations
        .tags(last(&q, "tag").unwrap_or(""), limit)
        .into_iter()
        .map(|(tag, count)| json!({"tag": tag, "count": count}))
        .collect();
    json_reply(StatusCode::OK, &json!({"result": {"tags": tags}}))
}
