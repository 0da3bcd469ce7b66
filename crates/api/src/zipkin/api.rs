//! Zipkin v2 handlers. Ingest answers 202 like Zipkin; JSON only (protobuf bodies get 415
//! with a message). Queries take Zipkin's parameters (`serviceName`, `spanName`,
//! `annotationQuery` as `key=value and key`, `minDuration`/`maxDuration` in µs, `endTs`/`lookback`
//! in ms, `limit`).

use crate::prometheus::params::Params;
use crate::trace_http::{content_type, read_body, Refusal, TracesState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use traces::query::TraceQuery;
use traces::TraceId;

pub async fn receive(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = content_type(&headers);
    if ct.contains("protobuf") || ct.contains("thrift") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{ct} is not supported here; send Zipkin v2 JSON (application/json)\n"),
        )
            .into_response();
    }
    let raw = match read_body(&headers, &body, st.max_body_bytes) {
        Ok(r) => r,
        Err(Refusal(s, m)) => return (s, m).into_response(),
    };
    let store = st.store.clone();
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let res = tokio::task::spawn_blocking(move || {
        let mut spans = traces::zipkin::decode_json(&raw)?;
        if let Some(t) = &tenant {
            crate::tenant_limits::admit_spans(t, raw.len(), &spans)?;
            traces::tenant::tag(&mut spans, t);
        }
        store.append(spans)
    })
    .await;
    match res {
        Ok(Ok(_)) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) => {
            let Refusal(s, m) = e.into();
            (s, format!("{m}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn services(State(st): State<Arc<TracesState>>) -> Response {
    Json(st.store.services()).into_response()
}

pub async fn span_names(State(st): State<Arc<TracesState>>, p: Params) -> Response {
    let Some(svc) = p.get("serviceName") else {
        return (StatusCode::BAD_REQUEST, "serviceName is required\n").into_response();
    };
    let mut names: Vec<String> = st
        .store
        .operations(svc)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.dedup();
    Json(names).into_response()
}

pub async fn get_trace(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let Some(t) = TraceId::parse_hex(&id) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("{id} should be a 1 to 32 character hex string\n"),
        )
            .into_response();
    };
    match st
        .store
        .trace(&t)
        .filter(|s| traces::tenant::visible(s, tenant.as_deref()))
    {
        Some(spans) => {
            let owned: Vec<traces::Span> = spans.iter().map(|s| (**s).clone()).collect();
            Json(traces::zipkin::trace_json(&owned)).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("{id} not found\n")).into_response(),
    }
}

pub async fn find_traces(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    p: Params,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let num = |k: &str| -> Result<Option<u64>, String> {
        p.get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{k} must be an integer\n"))
            })
            .transpose()
    };
    let parsed = (|| {
        let end_ms = num("endTs")?.unwrap_or(model::time::now_ms().max(0) as u64);
        let lookback = num("lookback")?.unwrap_or(86_400_000);
        let mut tags = Vec::new();
        if let Some(a) = p.get("annotationQuery") {
            for part in a.split(" and ") {
                let part = part.trim();
                match part.split_once('=') {
                    Some((k, v)) => tags.push((k.to_string(), v.to_string())),
                    None if !part.is_empty() => tags.push(("event".to_string(), part.to_string())),
                    None => {}
                }
            }
        }
        Ok::<_, String>(TraceQuery {
            service: p.get("serviceName").map(str::to_string),
            operation: p
                .get("spanName")
                .filter(|s| *s != "all")
                .map(str::to_string),
            tags,
            min_duration_ns: num("minDuration")?.map(|us| us * 1000),
            max_duration_ns: num("maxDuration")?.map(|us| us * 1000),
            start_ns: end_ms.saturating_sub(lookback) * 1_000_000,
            end_ns: end_ms * 1_000_000,
            limit: num("limit")?.unwrap_or(10) as usize,
        })
    })();
    let q = match parsed {
        Ok(q) => q,
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    };
    let store = st.store.clone();
    let found = tokio::task::spawn_blocking(move || store.search(&q))
        .await
        .unwrap_or_default();
    let out: Vec<serde_json::Value> = found
        .iter()
        .filter(|t| traces::tenant::visible(t, tenant.as_deref()))
        .map(|t| {
            let owned: Vec<traces::Span> = t.iter().map(|s| (**s).clone()).collect();
            traces::zipkin::trace_json(&owned)
        })
        .collect();
    Json(out).into_response()
}

/// Tempo's `GET /api/v2/traces/{id}`: `{"trace": {"resourceSpans": [...]}}` in OTLP JSON.
pub async fn get_trace_otlp(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let Some(t) = TraceId::parse_hex(&id) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("invalid trace id {id:?}: expected up to 32 hex digits\n"),
        )
            .into_response();
    };
    match st
        .store
        .trace(&t)
        .filter(|s| traces::tenant::visible(s, tenant.as_deref()))
    {
        Some(spans) => {
            let owned: Vec<traces::Span> = spans.iter().map(|s| (**s).clone()).collect();
            Json(serde_json::json!({"trace": traces::otlp::to_json(&owned)})).into_response()
        }
        None => (StatusCode::NOT_FOUND, "trace not found\n").into_response(),
    }
}
