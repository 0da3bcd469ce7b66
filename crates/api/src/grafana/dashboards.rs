//! `POST /api/dashboards/db`, `POST /api/dashboards/import`, `GET/DELETE
//! /api/dashboards/uid/{uid}`: request parsing (bare or API-wrapped dashboards), Grafana's
//! response shapes; the rules themselves are the store's.

use super::{bad, fail, int, obj, parse_body, reply, rfc3339, s, store_error, Fail, GrafanaState};
use ::dashboards::grafana::{apply_inputs, set_key, unwrap_dashboard, ImportInput};
use ::dashboards::json::Value;
use ::dashboards::{SaveRequest, Saved, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

const DASHBOARD_REQUIRED: &str =
    "dashboard is required: send {\"dashboard\": {...}, \"overwrite\": false}";

/// Splits a save/import body into the dashboard and the request object around it. A body
/// without `dashboard` that is itself a dashboard (has `title` or `panels`) is taken as one.
fn split_body(top: Value) -> Result<(Value, Value), Fail> {
    let Some(m) = top.as_object() else {
        return Err(bad("bad request data: the body must be a JSON object"));
    };
    match m.get("dashboard") {
        Some(Value::Object(_)) => {
            let d = m.get("dashboard").cloned().unwrap_or_default();
            Ok((unwrap_dashboard(d), top))
        }
        Some(Value::Null) | None if m.contains_key("title") || m.contains_key("panels") => {
            Ok((top.clone(), Value::Object(Default::default())))
        }
        Some(Value::Null) | None => Err(bad(DASHBOARD_REQUIRED)),
        Some(_) => Err(bad("bad request data: dashboard must be a JSON object")),
    }
}

/// The dashboard and request object of a save/import body.
fn read_body(body: &[u8]) -> Result<(Value, Value), Fail> {
    split_body(parse_body(body)?)
}

/// `folderUid`, or `folderId: 0` (the General folder); `None` when neither is given.
fn folder_of(req: &Value) -> Option<String> {
    match req.get("folderUid").and_then(Value::as_str) {
        Some(u) => Some(u.to_string()),
        None => req
            .get("folderId")
            .and_then(Value::as_i64)
            .filter(|id| *id == 0)
            .map(|_| String::new()),
    }
}

async fn run_save(st: &GrafanaState, req: SaveRequest) -> Result<Saved, StoreError> {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.save(req)).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Io(format!("save failed: {e}"))),
    }
}

/// `POST /api/dashboards/db`.
pub async fn save(State(st): State<Arc<GrafanaState>>, body: Bytes) -> Response {
    let (dashboard, req) = match read_body(&body) {
        Ok(x) => x,
        Err(f) => return fail(f),
    };
    let save = SaveRequest {
        dashboard,
        overwrite: req
            .get("overwrite")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        folder_uid: folder_of(&req),
        message: req
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        restored_from: 0,
    };
    match run_save(&st, save).await {
        Ok(saved) => reply(
            StatusCode::OK,
            &obj([
                ("id", int(saved.id)),
                ("uid", s(saved.uid)),
                ("url", s(saved.url)),
                ("status", s("success")),
                ("version", int(saved.version)),
                ("slug", s(saved.slug)),
                ("folderUid", s(saved.folder_uid)),
            ]),
        ),
        Err(e) => store_error(e),
    }
}

fn inputs_of(req: &Value) -> Vec<ImportInput> {
    let Some(list) = req.get("inputs").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|i| {
            let f = |k: &str| {
                i.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            ImportInput {
                name: f("name"),
                kind: f("type"),
                plugin_id: f("pluginId"),
                value: f("value"),
            }
        })
        .collect()
}

/// `POST /api/dashboards/import`: Grafana's import (inputs filled, `__inputs` dropped, saved
/// by uid), answered with Grafana's import response.
pub async fn import(State(st): State<Arc<GrafanaState>>, body: Bytes) -> Response {
    let (mut dashboard, req) = match read_body(&body) {
        Ok(x) => x,
        Err(f) => return fail(f),
    };
    let unresolved = apply_inputs(&mut dashboard, &inputs_of(&req));
    if !unresolved.is_empty() {
        tracing::info!(
            "dashboard import: inputs without a value, left as ${{NAME}}: {}",
            unresolved.join(", ")
        );
    }
    // An import never updates by numeric id (ids are per installation).
    if dashboard.get("id").is_some() {
        set_key(&mut dashboard, "id", Value::Null);
    }
    let revision = dashboard
        .get("revision")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let description = dashboard
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let save = SaveRequest {
        dashboard,
        overwrite: req
            .get("overwrite")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        folder_uid: folder_of(&req),
        message: String::new(),
        restored_from: 0,
    };
    let plugin_id = req
        .get("pluginId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let path = req
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match run_save(&st, save).await {
        Ok(saved) => {
            let folder_id = st
                .store
                .get(&saved.uid)
                .and_then(|v| v.folder)
                .map(|f| f.id)
                .unwrap_or(0);
            reply(
                StatusCode::OK,
                &obj([
                    ("uid", s(saved.uid)),
                    ("pluginId", s(plugin_id)),
                    ("title", s(saved.title)),
                    ("imported", Value::Bool(true)),
                    ("importedUri", s(format!("db/{}", saved.slug))),
                    ("importedUrl", s(saved.url)),
                    ("slug", s(saved.slug)),
                    ("dashboardId", int(saved.id)),
                    ("folderId", int(folder_id)),
                    ("folderUid", s(saved.folder_uid)),
                    ("importedRevision", int(revision)),
                    ("revision", int(revision)),
                    ("description", s(description)),
                    ("path", s(path)),
                    ("removed", Value::Bool(false)),
                ]),
            )
        }
        Err(e) => store_error(e),
    }
}

/// `GET /api/dashboards/uid/{uid}`: the dashboard and Grafana's `meta`.
pub async fn get_by_uid(State(st): State<Arc<GrafanaState>>, Path(uid): Path<String>) -> Response {
    let Some(v) = st.store.get(&uid) else {
        return store_error(StoreError::NotFound);
    };
    let e = &v.entry;
    let provisioned = e.is_provisioned();
    let writable = v.provisioned_writable.unwrap_or(true);
    let (folder_id, folder_uid, folder_title, folder_url) = match &v.folder {
        Some(f) => (f.id, f.uid.clone(), f.title.clone(), f.url()),
        None => (0, String::new(), "General".to_string(), String::new()),
    };
    let meta = obj([
        ("type", s("db")),
        ("canSave", Value::Bool(writable)),
        ("canEdit", Value::Bool(true)),
        ("canAdmin", Value::Bool(true)),
        ("canStar", Value::Bool(true)),
        ("isStarred", Value::Bool(st.store.is_starred(&e.uid))),
        ("canDelete", Value::Bool(!provisioned)),
        ("slug", s(e.slug())),
        ("url", s(e.url())),
        ("expires", s("0001-01-01T00:00:00Z")),
        ("created", s(rfc3339(e.created_ms))),
        ("updated", s(rfc3339(e.updated_ms))),
        ("updatedBy", s("Anonymous")),
        ("createdBy", s("Anonymous")),
        ("version", int(e.version)),
        ("hasAcl", Value::Bool(false)),
        ("isFolder", Value::Bool(false)),
        ("folderId", int(folder_id)),
        ("folderUid", s(folder_uid)),
        ("folderTitle", s(folder_title)),
        ("folderUrl", s(folder_url)),
        ("provisioned", Value::Bool(provisioned)),
        (
            "provisionedExternalId",
            s(v.provisioned_external_id.clone()),
        ),
        ("provisionedWritable", Value::Bool(provisioned && writable)),
    ]);
    reply(
        StatusCode::OK,
        &obj([("dashboard", v.dashboard.clone()), ("meta", meta)]),
    )
}

/// `DELETE /api/dashboards/uid/{uid}`.
pub async fn delete_by_uid(
    State(st): State<Arc<GrafanaState>>,
    Path(uid): Path<String>,
) -> Response {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.delete(&uid)).await {
        Ok(Ok(e)) => reply(
            StatusCode::OK,
            &obj([
                ("title", s(e.title())),
                ("message", s(format!("Dashboard {} deleted", e.title()))),
                ("id", int(e.id)),
                ("uid", s(e.uid.clone())),
            ]),
        ),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(StoreError::Io(format!("delete failed: {e}"))),
    }
}
