//! `GET /federate`, Prometheus' federation endpoint: for every series matching one of the
//! `match[]` selectors, its newest sample within the 5-minute lookback, in the text exposition
//! format with timestamps; series whose newest sample is a staleness marker are left out, and
//! `global.external_labels` are added where a series lacks the label (so a federating
//! Prometheus with `honor_labels: true` keeps them). And `POST /api/v1/read`, remote_read
//! (SAMPLES responses, see `forward::read`), so a Prometheus or Thanos can read pharos.

use api::prometheus::params::Params;
use api::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use model::Labels;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Prometheus' default lookback delta.
const LOOKBACK_MS: i64 = 5 * 60_000;

pub fn routes(state: &Arc<AppState>) -> Router {
    Router::new()
        .route("/federate", get(federate))
        .route("/api/v1/read", axum::routing::post(remote_read))
        .with_state(state.clone())
}

async fn federate(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Response {
    let mut sets = Vec::new();
    for m in params.all("match[]") {
        match promql::selector::parse_series_selector(m) {
            Ok(s) => sets.extend(s),
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad match[] {m:?}: {e}\n"))
                    .into_response()
            }
        }
    }
    if sets.is_empty() {
        return (StatusCode::BAD_REQUEST, "no match[] parameter provided\n").into_response();
    }
    let now = model::time::now_ms();
    let external = state
        .config
        .read()
        .prometheus
        .global
        .external_labels
        .clone();
    let mut latest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
    let storage = api::prometheus::tenant::storage(&state, &headers);
    for set in &sets {
        let series = match storage.select(set, now - LOOKBACK_MS, now) {
            Ok(s) => s,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        };
        for s in series {
            let Some(p) = s.samples.last() else { continue };
            if p.v.to_bits() == model::STALE_NAN_BITS {
                continue;
            }
            let mut labels = s.labels;
            if !external.is_empty() {
                let mut b = labels.builder();
                for (k, v) in &external {
                    if labels.get(k).is_none() {
                        b.set(k.clone(), v.clone());
                    }
                }
                labels = b.build();
            }
            latest.insert(labels, (p.t, p.v));
        }
    }
    // Grouped by metric name, each family once, as Prometheus writes it.
    let mut by_name: BTreeMap<String, Vec<(&Labels, i64, f64)>> = BTreeMap::new();
    for (l, (t, v)) in &latest {
        let name = l.metric_name().unwrap_or("").to_string();
        by_name.entry(name).or_default().push((l, *t, *v));
    }
    let mut out = String::new();
    for (name, rows) in by_name {
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (l, t, v) in rows {
            out.push_str(&name);
            let mut first = true;
            for lb in l.iter().filter(|lb| lb.name != "__name__") {
                out.push(if first { '{' } else { ',' });
                first = false;
                let value = lb
                    .value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(out, "{}=\"{value}\"", lb.name);
            }
            if !first {
                out.push('}');
            }
            let value = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
            } else {
                v.to_string()
            };
            let _ = writeln!(out, " {value} {t}");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

async fn remote_read(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let storage = api::prometheus::tenant::storage(&state, &headers);
    let result = tokio::task::spawn_blocking(move || forward::read::answer(&*storage, &body)).await;
    match result {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/x-protobuf"),
                (header::CONTENT_ENCODING, "snappy"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(forward::read::ReadError::BadRequest(m))) => {
            (StatusCode::BAD_REQUEST, format!("{m}\n")).into_response()
        }
        Ok(Err(forward::read::ReadError::Storage(m))) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{m}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
