//! Grafana's folder API writes: `POST /api/folders` (`{"uid"?, "title"}`), `PUT
//! /api/folders/{uid}` (`{"title"}`) and `DELETE /api/folders/{uid}` (with its dashboards).

use super::{bad, fail, int, message, obj, parse_body, reply, s, store_error, Fail, GrafanaState};
use ::dashboards::json::Value;
use ::dashboards::{Folder, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// A folder as Grafana's folder API answers it.
pub(super) fn folder_json(f: &Folder, can_delete: bool) -> Value {
    obj([
        ("id", int(f.id)),
        ("uid", s(f.uid.clone())),
        ("title", s(f.title.clone())),
        ("url", s(f.url())),
        ("hasAcl", Value::Bool(false)),
        ("canSave", Value::Bool(true)),
        ("canEdit", Value::Bool(true)),
        ("canAdmin", Value::Bool(true)),
        ("canDelete", Value::Bool(can_delete)),
        ("version", int(1)),
    ])
}

fn answer(r: Result<Result<Folder, StoreError>, tokio::task::JoinError>) -> Response {
    match r {
        Ok(Ok(f)) => reply(StatusCode::OK, &folder_json(&f, true)),
        Ok(Err(StoreError::NotFound)) => message(StatusCode::NOT_FOUND, "folder not found"),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(StoreError::Io(format!("folder change failed: {e}"))),
    }
}

fn title_of(req: &Value) -> Result<String, Fail> {
    match req.get("title") {
        Some(Value::String(t)) => Ok(t.clone()),
        _ => Err(bad("send {\"title\": \"...\"} (a string)")),
    }
}

/// `POST /api/folders`.
pub async fn create(State(st): State<Arc<GrafanaState>>, body: Bytes) -> Response {
    let req = match parse_body(&body) {
        Ok(v) => v,
        Err(f) => return fail(f),
    };
    let title = match title_of(&req) {
        Ok(t) => t,
        Err(f) => return fail(f),
    };
    let uid = req
        .get("uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(String::from);
    let store = st.store.clone();
    answer(tokio::task::spawn_blocking(move || store.create_folder(uid, &title)).await)
}

/// `PUT /api/folders/{uid}`.
pub async fn update(
    State(st): State<Arc<GrafanaState>>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_body(&body) {
        Ok(v) => v,
        Err(f) => return fail(f),
    };
    let title = match title_of(&req) {
        Ok(t) => t,
        Err(f) => return fail(f),
    };
    let store = st.store.clone();
    answer(tokio::task::spawn_blocking(move || store.rename_folder(&uid, &title)).await)
}

/// `DELETE /api/folders/{uid}`.
pub async fn delete(State(st): State<Arc<GrafanaState>>, Path(uid): Path<String>) -> Response {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.delete_folder(&uid)).await {
        Ok(Ok(f)) => reply(
            StatusCode::OK,
            &obj([
                ("id", int(f.id)),
                ("title", s(f.title.clone())),
                ("message", s("Folder deleted")),
            ]),
        ),
        other => answer(other),
    }
}
