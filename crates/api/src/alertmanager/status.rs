//! `GET /api/v2/status` and `GET /api/v2/receivers`.

use super::AmState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// The Alertmanager version whose API pharos follows.
pub const ALERTMANAGER_COMPAT_VERSION: &str = "0.27.0";

/// `GET /api/v2/status`: the configuration as written (environment references unexpanded, so
/// secrets are not echoed), version, start time and cluster status `disabled`.
pub async fn status(State(st): State<Arc<AmState>>) -> Response {
    let cfg = st.am.config();
    axum::Json(json!({
        "cluster": {"name": "", "peers": [], "status": "disabled"},
        "config": {"original": cfg.config.original},
        "uptime": model::alert::format_rfc3339_ms(st.am.start_ms()),
        "versionInfo": {
            "branch": "pharos",
            "buildDate": "",
            "buildUser": "pharos",
            "goVersion": "rust",
            "revision": env!("CARGO_PKG_VERSION"),
            "version": ALERTMANAGER_COMPAT_VERSION,
        },
    }))
    .into_response()
}

/// `GET /api/v2/receivers`.
pub async fn receivers(State(st): State<Arc<AmState>>) -> Response {
    let cfg = st.am.config();
    let list: Vec<_> = cfg
        .config
        .receivers
        .iter()
        .map(|r| json!({"name": r.name}))
        .collect();
    axum::Json(list).into_response()
}
