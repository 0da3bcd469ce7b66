//! OTLP/HTTP log export (`POST /v1/logs`): protobuf or JSON bodies (gzip allowed), mapped to
//! log streams by `logs::otlp` and pushed into the log store of the Loki API's tenant.

use crate::loki::{storage_error, text, LokiState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::LogSink;
use std::sync::Arc;

pub async fn export(State(st): State<Arc<LokiState>>, headers: HeaderMap, body: Bytes) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = ct.starts_with("application/json");
    if !json && !ct.starts_with("application/x-protobuf") && !ct.starts_with("application/protobuf")
    {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {ct:?}: use application/x-protobuf or application/json"
            ),
        );
    }
    let now = logs::store::now_ns();
    let streams = crate::loki::push::decode_content_encoding(&headers, body).and_then(|raw| {
        if json {
            logs::otlp::decode_json(&raw, now)
        } else {
            logs::otlp::decode_protobuf(&raw, now)
        }
    });
    let streams = match streams {
        Ok(s) => s,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.push(&tenant, streams)).await {
        Ok(Ok(_)) => {
            if json {
                (StatusCode::OK, [("content-type", "application/json")], "{}").into_response()
            } else {
                (
                    StatusCode::OK,
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
                    .into_response()
            }
        }
        // A full disk: 503, which OTLP exporters retry (Loki push's 507 they drop).
        Ok(Err(e)) if e.disk_full().is_some() => crate::disk_full::text(
            StatusCode::SERVICE_UNAVAILABLE,
            e.disk_full().unwrap_or_default(),
        ),
        Ok(Err(e)) => storage_error(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
