//! Grafana's dashboard versions API: `GET /api/dashboards/uid/{uid}/versions` (newest first,
//! `limit`), `GET .../versions/{id}` (one version with the dashboard as `data`) and
//! `POST .../restore` (`{"version": N}` saves that version as the newest).

use super::{bad, fail, int, obj, parse_body, reply, rfc3339, s, store_error, GrafanaState};
use ::dashboards::json::Value;
use ::dashboards::versions::VersionMeta;
use ::dashboards::StoreError;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

fn version_json(uid: &str, dashboard_id: i64, m: &VersionMeta) -> Vec<(&'static str, Value)> {
    vec![
        ("id", int(m.version)),
        ("dashboardId", int(dashboard_id)),
        ("dashboardUid", s(uid)),
        ("parentVersion", int(m.parent_version)),
        ("restoredFrom", int(m.restored_from)),
        ("version", int(m.version)),
        ("created", s(rfc3339(m.created_ms))),
        ("createdBy", s("admin")),
        ("message", s(m.message.clone())),
    ]
}

fn object(pairs: Vec<(&'static str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn dashboard_id(st: &GrafanaState, uid: &str) -> i64 {
    st.store.get(uid).map(|v| v.entry.id).unwrap_or(0)
}

/// `GET /api/dashboards/uid/{uid}/versions`.
pub async fn list(
    State(st): State<Arc<GrafanaState>>,
    Path(uid): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return fail(bad("limit must be a positive integer")),
    };
    let store = st.store.clone();
    let u = uid.clone();
    let list = match tokio::task::spawn_blocking(move || store.versions(&u)).await {
        Ok(Some(l)) => l,
        Ok(None) => return store_error(StoreError::NotFound),
        Err(e) => return store_error(StoreError::Io(format!("versions failed: {e}"))),
    };
    let id = dashboard_id(&st, &uid);
    let versions: Vec<Value> = list
        .iter()
        .take(limit)
        .map(|m| object(version_json(&uid, id, m)))
        .collect();
    reply(
        StatusCode::OK,
        &obj([
            ("continueToken", s("")),
            ("versions", Value::Array(versions)),
        ]),
    )
}

/// `GET /api/dashboards/uid/{uid}/versions/{id}`.
pub async fn get_one(
    State(st): State<Arc<GrafanaState>>,
    Path((uid, id)): Path<(String, String)>,
) -> Response {
    let Ok(version) = id.parse::<i64>() else {
        return fail(bad(format!("version id must be an integer, got {id:?}")));
    };
    let store = st.store.clone();
    let u = uid.clone();
    match tokio::task::spawn_blocking(move || store.version(&u, version)).await {
        Ok(Some((m, dashboard))) => {
            let mut pairs = version_json(&uid, dashboard_id(&st, &uid), &m);
            pairs.push(("data", dashboard));
            reply(StatusCode::OK, &object(pairs))
        }
        Ok(None) => super::message(
            StatusCode::NOT_FOUND,
            format!("Dashboard version not found: {uid} has no version {version}"),
        ),
        Err(e) => store_error(StoreError::Io(format!("version failed: {e}"))),
    }
}

/// `POST /api/dashboards/uid/{uid}/restore` with `{"version": N}`.
pub async fn restore(
    State(st): State<Arc<GrafanaState>>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_body(&body) {
        Ok(v) => v,
        Err(f) => return fail(f),
    };
    let Some(version) = req
        .get("version")
        .and_then(Value::as_i64)
        .filter(|v| *v > 0)
    else {
        return fail(bad("send {\"version\": N} with the version to restore"));
    };
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.restore(&uid, version)).await {
        Ok(Ok(saved)) => reply(
            StatusCode::OK,
            &obj([
                ("id", int(saved.id)),
                ("slug", s(saved.slug)),
                ("status", s("success")),
                ("uid", s(saved.uid)),
                ("url", s(saved.url)),
                ("version", int(saved.version)),
            ]),
        ),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(StoreError::Io(format!("restore failed: {e}"))),
    }
}
