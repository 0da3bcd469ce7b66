//! Status and lifecycle endpoints: build info, config, flags, runtime info, TSDB stats,
//! health, readiness and reload (rules/alerts listings are in `rules_api.rs`).

use super::json::{success, ApiError, ErrorType};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// The Prometheus version whose API and PromQL semantics pharos follows. Grafana reads it to
/// decide which features to offer.
pub const PROMETHEUS_COMPAT_VERSION: &str = "3.0.0";

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo() -> Response {
    success(
        json!({
            "version": PROMETHEUS_COMPAT_VERSION,
            "revision": env!("CARGO_PKG_VERSION"),
            "branch": "pharos",
            "buildUser": "pharos",
            "buildDate": "",
            "goVersion": "rust",
            "application": "pharos",
            "pharosVersion": env!("CARGO_PKG_VERSION"),
        }),
        &[],
        &[],
    )
}

/// `GET /api/v1/status/config`: the loaded prometheus.yml after `${VAR}` expansion.
pub async fn config(State(state): State<Arc<AppState>>) -> Response {
    let cfg = state.config.read().clone();
    success(json!({ "yaml": cfg.prometheus_yaml }), &[], &[])
}

/// `GET /api/v1/status/flags`.
pub async fn flags(State(state): State<Arc<AppState>>) -> Response {
    let map: serde_json::Map<String, serde_json::Value> = state
        .flags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    success(serde_json::Value::Object(map), &[], &[])
}

/// `GET /api/v1/status/runtimeinfo`.
pub async fn runtimeinfo(State(state): State<Arc<AppState>>) -> Response {
    let start = chrono::DateTime::from_timestamp_millis(state.start_time_ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    success(
        json!({
            "startTime": start,
            "CWD": cwd,
            "reloadConfigSuccess": true,
            "lastConfigTime": start,
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": "",
        }),
        &[],
        &[],
    )
}

/// `GET /api/v1/status/tsdb`: head statistics and the series count per metric name (top 10).
pub async fn tsdb_status(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let st = state.clone();
    let names = tokio::task::spawn_blocking(move || {
        st.storage
            .label_values(model::METRIC_NAME, &[], i64::MIN / 2, i64::MAX / 2)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let mut counts = Vec::new();
    let mut total = 0usize;
    for name in names {
        let n = state
            .storage
            .series(
                &[model::LabelMatcher::equal(model::METRIC_NAME, name.clone())],
                i64::MIN / 2,
                i64::MAX / 2,
            )?
            .len();
        total += n;
        counts.push((name, n));
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(10);
    let by_name: Vec<_> = counts
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    Ok(success(
        json!({
            "headStats": {"numSeries": total, "chunkCount": 0, "minTime": 0, "maxTime": 0},
            "seriesCountByMetricName": by_name,
            "labelValueCountByLabelName": [],
            "memoryInBytesByLabelName": [],
            "seriesCountByLabelValuePair": [],
        }),
        &[],
        &[],
    ))
}

/// `GET /-/healthy`.
pub async fn healthy() -> Response {
    (StatusCode::OK, "pharos is Healthy.\n").into_response()
}

/// `GET /-/ready`.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "pharos is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

/// `POST|PUT /-/reload`: re-reads the config files; data is kept.
pub async fn reload(State(state): State<Arc<AppState>>) -> Response {
    match (state.reload)().await {
        Ok(()) => (StatusCode::OK, "").into_response(),
        Err(e) => ApiError {
            kind: ErrorType::Internal,
            message: format!("failed to reload config: {e}"),
        }
        .into_response(),
    }
}
