//! Jaeger collector HTTP endpoint: `POST /api/traces` with a Thrift-binary `Batch`
//! (`application/x-thrift`, as jaeger-client and `@opentelemetry/exporter-jaeger` send it).
//! Answers 202 once the spans are in the WAL; bad bodies get 400 with the decoder's message.

use crate::trace_http::{content_type, read_body, Refusal, TracesState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn receive(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receive_inner(st, headers, body).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(Refusal(s, m)) => (s, format!("Unable to process request body: {m}\n")).into_response(),
    }
}

async fn receive_inner(
    st: Arc<TracesState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(), Refusal> {
    let ct = content_type(&headers);
    if !matches!(
        ct.as_str(),
        "application/x-thrift" | "application/vnd.apache.thrift.binary" | ""
    ) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("unsupported content type {ct:?}: the collector accepts application/x-thrift"),
        ));
    }
    let raw = read_body(&headers, &body, st.max_body_bytes)?;
    let store = st.store.clone();
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    tokio::task::spawn_blocking(move || {
        let mut spans = traces::jaeger_thrift::decode_batch(&raw)?;
        if let Some(t) = &tenant {
            crate::tenant_limits::admit_spans(t, raw.len(), &spans)?;
            traces::tenant::tag(&mut spans, t);
        }
        store.append(spans)
    })
    .await
    .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(())
}
