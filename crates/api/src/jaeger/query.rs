//! Jaeger query service HTTP API (`/api/*` as jaeger-query serves it to Jaeger UI and Grafana):
//! services, operations, trace search with Jaeger's parameters (`service`, `operation`, `tags`
//! as JSON or logfmt, repeated `tag=k:v`, `minDuration`/`maxDuration` as Go durations,
//! `start`/`end` in µs, `lookback`, `limit`, repeated `traceID`), a trace by id, dependencies,
//! and the logs of a trace. Errors use Jaeger's `{"errors":[{"code","msg"}]}` envelope.

use crate::prometheus::params::Params;
use crate::trace_http::TracesState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value as J};
use std::sync::Arc;
use traces::jaeger_json::{envelope, error, trace_json};
use traces::query::{parse_go_duration, parse_tags, TraceQuery};
use traces::TraceId;

fn bad(msg: impl AsRef<str>) -> Response {
    (StatusCode::BAD_REQUEST, Json(error(400, msg.as_ref()))).into_response()
}

fn not_found(msg: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(error(404, msg))).into_response()
}

fn now_us() -> u64 {
    (model::time::now_ms().max(0) as u64) * 1000
}

pub async fn services(State(st): State<Arc<TracesState>>) -> Response {
    let s = st.store.services();
    let n = s.len();
    Json(envelope(json!(s), n)).into_response()
}

pub async fn service_operations(
    State(st): State<Arc<TracesState>>,
    Path(service): Path<String>,
) -> Response {
    let mut names: Vec<String> = st
        .store
        .operations(&service)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.dedup();
    let n = names.len();
    Json(envelope(json!(names), n)).into_response()
}

pub async fn operations(State(st): State<Arc<TracesState>>, p: Params) -> Response {
    let Some(service) = p.get("service") else {
        return bad("parameter 'service' is required");
    };
    let kind = p.get("spanKind").unwrap_or("");
    let ops: Vec<J> = st
        .store
        .operations(service)
        .into_iter()
        .filter(|(_, k)| kind.is_empty() || k.jaeger_name() == kind)
        .map(|(n, k)| json!({"name": n, "spanKind": k.jaeger_name()}))
        .collect();
    let n = ops.len();
    Json(envelope(J::Array(ops), n)).into_response()
}

/// A parameter error: the message of a 400 answer.
type ParamResult<T> = Result<T, String>;

fn parse_u64(p: &Params, key: &str) -> ParamResult<Option<u64>> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("unable to parse param '{key}': {v:?} is not an integer")),
    }
}

/// Builds the search from Jaeger's parameters.
pub fn parse_query(p: &Params) -> ParamResult<TraceQuery> {
    let end_us = parse_u64(p, "end")?.unwrap_or_else(now_us);
    let lookback = p.get("lookback").filter(|l| *l != "custom");
    let start_us = match (parse_u64(p, "start")?, lookback) {
        (Some(s), _) => s,
        (None, Some(l)) => {
            let d = model::time::parse_duration_ms(l)
                .map_err(|e| format!("unable to parse param 'lookback': {e}"))?;
            end_us.saturating_sub(d.max(0) as u64 * 1000)
        }
        (None, None) => end_us.saturating_sub(2 * 24 * 3600 * 1_000_000),
    };
    let mut tags = Vec::new();
    for t in p.all("tags") {
        tags.extend(parse_tags(t)?);
    }
    for t in p.all("tag") {
        let (k, v) = t
            .split_once(':')
            .ok_or_else(|| format!("malformed 'tag' parameter {t:?}: expected key:value"))?;
        tags.push((k.to_string(), v.to_string()));
    }
    let dur = |key: &str| -> ParamResult<Option<u64>> {
        p.get(key)
            .map(|v| {
                parse_go_duration(v).map_err(|e| format!("unable to parse param '{key}': {e}"))
            })
            .transpose()
    };
    let min = dur("minDuration")?;
    let max = dur("maxDuration")?;
    if let (Some(a), Some(b)) = (min, max) {
        if b < a {
            return Err("'maxDuration' should be greater than 'minDuration'".into());
        }
    }
    if start_us > end_us {
        return Err("'start' should be before 'end'".into());
    }
    let limit = match parse_u64(p, "limit")? {
        Some(0) | None => 100,
        Some(n) => n.min(10_000) as usize,
    };
    Ok(TraceQuery {
        service: p.get("service").map(str::to_string),
        operation: p.get("operation").map(str::to_string),
        tags,
        min_duration_ns: min,
        max_duration_ns: max,
        start_ns: start_us.saturating_mul(1000),
        end_ns: end_us.saturating_mul(1000),
        limit,
    })
}

pub async fn find_traces(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    p: Params,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let ids = p.all("traceID");
    if !ids.is_empty() {
        let mut data = Vec::new();
        for id in ids {
            let Some(t) = TraceId::parse_hex(id) else {
                return bad(format!("malformed traceID {id:?}"));
            };
            if let Some(spans) = st
                .store
                .trace(&t)
                .filter(|s| traces::tenant::visible(s, tenant.as_deref()))
            {
                data.push(trace_json(&spans));
            }
        }
        let n = data.len();
        return Json(envelope(J::Array(data), n)).into_response();
    }
    if p.get("service").is_none() {
        return bad("parameter 'service' is required");
    }
    let q = match parse_query(&p) {
        Ok(q) => q,
        Err(m) => return bad(m),
    };
    let store = st.store.clone();
    let found = tokio::task::spawn_blocking(move || store.search(&q))
        .await
        .unwrap_or_default();
    let data: Vec<J> = found
        .iter()
        .filter(|t| traces::tenant::visible(t, tenant.as_deref()))
        .map(|t| trace_json(t))
        .collect();
    let n = data.len();
    Json(envelope(J::Array(data), n)).into_response()
}

pub async fn get_trace(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let Some(t) = TraceId::parse_hex(&id) else {
        return bad(format!(
            "malformed trace ID {id:?}: expected up to 32 hex digits"
        ));
    };
    match st
        .store
        .trace(&t)
        .filter(|s| traces::tenant::visible(s, tenant.as_deref()))
    {
        Some(spans) => Json(envelope(json!([trace_json(&spans)]), 1)).into_response(),
        None => not_found("trace not found"),
    }
}

pub async fn dependencies(State(st): State<Arc<TracesState>>, p: Params) -> Response {
    let end_ms = match parse_u64(&p, "endTs") {
        Ok(v) => v.unwrap_or_else(|| now_us() / 1000),
        Err(m) => return bad(m),
    };
    let lookback_ms = match parse_u64(&p, "lookback") {
        Ok(v) => v.unwrap_or(24 * 3600 * 1000),
        Err(m) => return bad(m),
    };
    let deps: Vec<J> = st
        .store
        .dependencies(
            end_ms.saturating_sub(lookback_ms).saturating_mul(1_000_000),
            end_ms.saturating_mul(1_000_000),
        )
        .into_iter()
        .map(|(p, c, n)| json!({"parent": p, "child": c, "callCount": n}))
        .collect();
    let n = deps.len();
    Json(envelope(J::Array(deps), n)).into_response()
}

/// Log lines carrying this trace's id (`trace_id`/`traceId`/`traceID` metadata or label),
/// from the log store, within the trace's time span ± 5 minutes.
pub async fn trace_logs(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let Some(t) = TraceId::parse_hex(&id) else {
        return bad(format!("malformed trace ID {id:?}"));
    };
    let Some(spans) = st
        .store
        .trace(&t)
        .filter(|s| traces::tenant::visible(s, tenant.as_deref()))
    else {
        return not_found("trace not found");
    };
    let Some(logs) = st.logs.clone() else {
        return Json(envelope(json!([]), 0)).into_response();
    };
    let margin = 300_000_000_000i64;
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0) as i64 - margin;
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0) as i64 + margin;
    let (hex, short) = (t.to_hex(), t.to_jaeger());
    let res = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let is_id = |v: &str| v.eq_ignore_ascii_case(&hex) || v.eq_ignore_ascii_case(&short);
        let is_key = |k: &str| matches!(k, "trace_id" | "traceId" | "traceID" | "trace.id");
        logs.scan(
            model::logs::DEFAULT_TENANT,
            &[],
            start,
            end,
            model::Direction::Forward,
            &mut |labels, e| {
                let hit = e.metadata.iter().any(|(k, v)| is_key(k) && is_id(v))
                    || labels.iter().any(|l| is_key(&l.name) && is_id(&l.value));
                if hit {
                    out.push(json!({
                        "timestamp": e.ts_ns.to_string(),
                        "line": e.line,
                        "labels": labels.iter().map(|l| (l.name.clone(), J::String(l.value.clone()))).collect::<serde_json::Map<_, _>>(),
                        "metadata": e.metadata.iter().map(|(k, v)| (k.clone(), J::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
                    }));
                }
                out.len() < 5000
            },
        )
        .map(|_| out)
    })
    .await;
    match res {
        Ok(Ok(lines)) => {
            let n = lines.len();
            Json(envelope(J::Array(lines), n)).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(error(500, &e.to_string())),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(error(500, &e.to_string())),
        )
            .into_response(),
    }
}
