//! Grafana's stars API for the one pharos user: `POST`/`DELETE
//! /api/user/stars/dashboard/uid/{uid}` and `GET /api/user/stars` (the starred uids).

use super::{message, reply, s, store_error, GrafanaState};
use ::dashboards::json::Value;
use ::dashboards::StoreError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

async fn set(st: Arc<GrafanaState>, uid: String, on: bool) -> Response {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.star(&uid, on)).await {
        Ok(Ok(())) => message(
            StatusCode::OK,
            if on {
                "Dashboard starred!"
            } else {
                "Dashboard unstarred"
            },
        ),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(StoreError::Io(format!("star failed: {e}"))),
    }
}

/// `POST /api/user/stars/dashboard/uid/{uid}`.
pub async fn star(State(st): State<Arc<GrafanaState>>, Path(uid): Path<String>) -> Response {
    set(st, uid, true).await
}

/// `DELETE /api/user/stars/dashboard/uid/{uid}`.
pub async fn unstar(State(st): State<Arc<GrafanaState>>, Path(uid): Path<String>) -> Response {
    set(st, uid, false).await
}

/// `GET /api/user/stars`: the starred dashboards' uids.
pub async fn list(State(st): State<Arc<GrafanaState>>) -> Response {
    reply(
        StatusCode::OK,
        &Value::Array(st.store.starred().into_iter().map(s).collect()),
    )
}
